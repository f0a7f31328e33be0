//! The repository's Nix files: every one parses, the pure-Nix assertions of
//! nix/lib/platform.nix hold, and the library and the builder read one platform table.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{command, repo_file, repo_root, run_failing, run_stdout, stowage_binary, temp_dir};

/// Every `.nix` file under `dir`, skipping `.git/`, cargo's `target/` and symlinks
/// (`result` links lead into the store).
fn nix_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.expect("read a directory entry");
        let path = entry.path();
        let kind = entry.file_type().expect("file type");
        let name = entry.file_name();
        if kind.is_dir() && name != ".git" && name != "target" {
            nix_files(&path, found);
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "nix") {
            found.push(path);
        }
    }
}

#[test]
fn every_nix_file_parses() {
    let root = repo_root();
    let mut files = Vec::new();
    nix_files(&root, &mut files);
    files.sort();
    assert!(
        files.contains(&root.join("flake.nix")),
        "the walk found no flake.nix: {files:?}"
    );
    let failures: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let output = Command::new("nix-instantiate")
                .arg("--parse")
                .arg(file)
                .output()
                .expect("run nix-instantiate");
            (!output.status.success()).then(|| {
                format!(
                    "{}:\n{}",
                    file.strip_prefix(&root).unwrap_or(file).display(),
                    String::from_utf8_lossy(&output.stderr).trim()
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} Nix files do not parse:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn platform_tests_hold() {
    let out = run_stdout(
        command("nix-instantiate", ["--eval", "--strict"])
            .arg(repo_file("tests/nix/platform-tests.nix")),
    );
    assert_eq!(out.trim(), "true");
}

/// The message `dockerPlatform` throws for `system`.
fn platform_error(system: &str) -> String {
    let output = command(
        "nix-instantiate",
        [
            "--eval",
            "--strict",
            "--expr",
            &format!("(import ./nix/lib/platform.nix).dockerPlatform {system:?}"),
        ],
    )
    .current_dir(repo_root())
    .output()
    .expect("run nix-instantiate");
    assert!(!output.status.success(), "{system} was accepted");
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr
        .lines()
        .find_map(|line| line.strip_prefix("error: "))
        .unwrap_or_else(|| panic!("no error line in {stderr}"))
        .to_owned()
}

#[test]
fn platform_errors_read_as_in_the_builder() {
    assert_eq!(
        platform_error("sparc64-linux"),
        "stowage: architecture: the Nix system \"sparc64-linux\" has no Docker architecture; \
         pass architecture = \"<GOARCH>\" explicitly"
    );
    assert_eq!(
        platform_error("x86_64"),
        "stowage: architecture: \"x86_64\" is not a Nix system (expected \"<cpu>-<kernel>\", \
         such as \"x86_64-linux\"); pass architecture = \"<GOARCH>\" explicitly"
    );
    assert_eq!(
        platform_error("x86_64-freebsd"),
        "stowage: architecture: the Nix system \"x86_64-freebsd\" is not Linux, and containers \
         run Linux binaries; build the contents for Linux, and if they already are, pass \
         architecture = \"<GOARCH>\" explicitly"
    );
    assert_eq!(
        platform_error("aarch64-darwin"),
        "stowage: architecture: the Nix system \"aarch64-darwin\" builds macOS binaries, which \
         a Linux container cannot run (they fail with \"exec format error\"), and passing \
         architecture does not change what the contents are built for; take the image \
         function from a Linux package set instead (nixpkgs for \"aarch64-linux\" built on a \
         Linux remote builder, or pkgsCross; with nix/lib directly, hostSystem = \
         \"aarch64-linux\")"
    );
}

/// The architectures the library accepts (read by Nix from nix/lib/platforms.json) are
/// the ones the builder accepts (compiled in from the same file): the error the builder
/// gives for a bad `architecture` lists exactly Nix's `knownArchitectures`.
#[test]
fn the_library_and_the_builder_accept_the_same_architectures() {
    let nix = run_stdout(
        command(
            "nix-instantiate",
            [
                "--eval",
                "--strict",
                "--json",
                "--expr",
                "(import ./nix/lib/platform.nix).knownArchitectures",
            ],
        )
        .current_dir(repo_root()),
    );
    let nix: Vec<String> = serde_json::from_str(&nix).expect("a JSON list");
    assert!(nix.contains(&"amd64".to_owned()), "{nix:?}");

    let dir = temp_dir();
    let conf = dir.path().join("conf.json");
    let text = r#"{"architecture": "x86_64", "created": "1970-01-01T00:00:01Z",
        "repo_tag": "a:b", "customisation_layer": null}"#;
    std::fs::write(&conf, text).expect("write the conf");
    let err = run_failing(command(
        stowage_binary().to_str().expect("a UTF-8 path"),
        ["build", conf.to_str().unwrap(), "-o", "/dev/null"],
    ));
    let listed = err
        .split_once("use one of ")
        .and_then(|(_, rest)| rest.split_once(" ("))
        .map(|(list, _)| list.split(", ").map(str::to_owned).collect::<Vec<_>>())
        .unwrap_or_else(|| panic!("no list of architectures in {err:?}"));
    assert_eq!(listed, nix);
}
