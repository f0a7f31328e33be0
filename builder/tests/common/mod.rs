//! Helpers of the builder's integration tests: real store paths (added with
//! `nix-store --add`, so they are the same on every machine) and confs. Running
//! commands and reading the archives the binary writes come from stowage-test-support
//! (test-support/), shared with the end-to-end suite, and are re-exported here.

#![allow(dead_code)] // each test binary uses its own subset

use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
pub use stowage_test_support::*;

/// The stowage binary under test.
pub fn stowage() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stowage"))
}

/// A file of tests/fixtures.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The one line of error text a failing stowage run printed.
pub fn error_of(cmd: &mut Command) -> String {
    let stderr = run_failing(cmd);
    assert_eq!(stderr.lines().count(), 1, "errors are one line: {stderr}");
    stderr.trim_end().to_owned()
}

/// Adds a directory to the Nix store; the store path depends only on its name and content.
pub fn add_to_store(dir: &Path) -> PathBuf {
    PathBuf::from(run_stdout(command("nix-store", ["--add"]).arg(dir)).trim())
}

/// Two real store paths with files, directories, a long name and symlinks:
/// `stowage-fixture-app` and `stowage-fixture-lib`.
pub fn fixture_store_paths() -> (PathBuf, PathBuf) {
    let work = tempfile::tempdir().unwrap();
    let lib = work.path().join("stowage-fixture-lib");
    fs::create_dir_all(lib.join("lib")).unwrap();
    fs::write(lib.join("lib/libfixture.so"), vec![7u8; 3000]).unwrap();
    fs::write(lib.join("lib/empty"), b"").unwrap();
    let long = format!("lib/{}.conf", "a-rather-long-file-name".repeat(6));
    fs::write(lib.join(long), b"long name\n").unwrap();
    let app = work.path().join("stowage-fixture-app");
    fs::create_dir_all(app.join("bin")).unwrap();
    fs::create_dir_all(app.join("share/doc")).unwrap();
    fs::write(app.join("bin/hello"), b"#!/bin/sh\necho hello\n").unwrap();
    fs::set_permissions(app.join("bin/hello"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(app.join("share/doc/README"), b"fixture\n").unwrap();
    symlink("../bin/hello", app.join("share/hello-link")).unwrap();
    (add_to_store(&app), add_to_store(&lib))
}

/// A nixpkgs-style conf with the given layers, written to `dir/conf.json`.
pub fn write_conf(dir: &Path, extra: Value) -> PathBuf {
    let mut conf = json!({
        "architecture": "amd64",
        "config": {"Cmd": ["/bin/hello"], "Env": ["PATH=/bin"]},
        "os": "linux",
        "created": "1970-01-01T00:00:01Z",
        "mtime": "1970-01-01T00:00:01Z",
        "uid": 0, "gid": 0, "uname": "root", "gname": "root",
        "store_dir": "/nix/store",
        "from_image": null,
        "store_layers": [],
        "customisation_layer": null,
        "repo_tag": "fixture:latest",
    });
    for (k, v) in extra.as_object().unwrap() {
        conf[k] = v.clone();
    }
    let path = dir.join("conf.json");
    fs::write(&path, serde_json::to_vec_pretty(&conf).unwrap()).unwrap();
    path
}

/// A customisation layer directory (`layer.tar` + `checksum`) holding one file.
pub fn customisation_layer(dir: &Path) -> PathBuf {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_path("etc/motd").unwrap();
    header.set_size(6);
    header.set_mode(0o644);
    header.set_mtime(1);
    header.set_uid(0);
    header.set_gid(0);
    header.set_cksum();
    builder.append(&header, &b"hello\n"[..]).unwrap();
    customisation_layer_of(dir, "customisation", &builder.into_inner().unwrap())
}

/// A customisation layer directory `dir/name` (`layer.tar` + `checksum`) holding the
/// layer tar `bytes`.
pub fn customisation_layer_of(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let layer_dir = dir.join(name);
    fs::create_dir_all(&layer_dir).unwrap();
    fs::write(layer_dir.join("layer.tar"), bytes).unwrap();
    fs::write(layer_dir.join("checksum"), sha256(bytes)).unwrap();
    layer_dir
}

/// One line per member of a layer tar: type, mode, owner, size, name, link target.
pub fn listing(layer: &[u8]) -> Vec<String> {
    layer_listing_as(layer, ListingStyle::TypeFirst)
}
