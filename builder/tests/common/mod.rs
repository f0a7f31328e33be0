//! Shared helpers of the builder's integration tests: real store paths (added with
//! `nix-store --add`, so they are the same on every machine), confs, and a reader for the
//! archives the binary writes.

#![allow(dead_code)] // each test binary uses its own subset

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The stowage binary under test.
pub fn stowage() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stowage"))
}

/// Runs a command and returns its output, whatever the exit status.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Runs a command that must succeed.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The one line of error text a failing stowage run printed.
pub fn error_of(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(!out.status.success(), "{cmd:?} should have failed");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "errors are one line: {stderr}");
    stderr.trim_end().to_owned()
}

/// Adds a directory to the Nix store; the store path depends only on its name and content.
pub fn add_to_store(dir: &Path) -> PathBuf {
    let out = run_ok(Command::new("nix-store").arg("--add").arg(dir));
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
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
    use sha2::Digest;
    let layer_dir = dir.join("customisation");
    fs::create_dir_all(&layer_dir).unwrap();
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
    let bytes = builder.into_inner().unwrap();
    fs::write(layer_dir.join("layer.tar"), &bytes).unwrap();
    fs::write(
        layer_dir.join("checksum"),
        hex::encode(sha2::Sha256::digest(&bytes)),
    )
    .unwrap();
    layer_dir
}

/// The members of a tar, by name, with their bytes.
pub fn members(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, data)
        })
        .collect()
}

/// A docker-archive read back: its manifest, its config and its layers' bytes in order.
pub struct ReadImage {
    pub manifest: Value,
    pub config: Value,
    pub layers: Vec<Vec<u8>>,
    /// The top-level member names in archive order.
    pub member_order: Vec<String>,
}

/// Reads a docker-archive written by stowage.
pub fn read_image(bytes: &[u8]) -> ReadImage {
    let mut archive = tar::Archive::new(bytes);
    let member_order = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    let all = members(bytes);
    let manifest: Value = serde_json::from_slice(&all["manifest.json"]).unwrap();
    let config: Value =
        serde_json::from_slice(&all[manifest[0]["Config"].as_str().unwrap()]).unwrap();
    let layers = manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| all[l.as_str().unwrap()].clone())
        .collect();
    ReadImage {
        manifest,
        config,
        layers,
        member_order,
    }
}

/// One line per member of a layer tar: type, mode, owner, size, name, link target.
pub fn listing(layer: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(layer);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            let kind = match h.entry_type() {
                tar::EntryType::Directory => 'd',
                tar::EntryType::Symlink => 'l',
                tar::EntryType::Regular => '-',
                other => panic!("unexpected member type {other:?}"),
            };
            let link = e
                .link_name()
                .unwrap()
                .map(|l| format!(" -> {}", l.display()))
                .unwrap_or_default();
            format!(
                "{kind} {:04o} {}:{} {}:{} {:>6} {}{link}",
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.username().unwrap().unwrap_or(""),
                h.groupname().unwrap().unwrap_or(""),
                e.size(),
                e.path().unwrap().display(),
            )
        })
        .collect()
}
