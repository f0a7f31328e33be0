//! Helpers shared by the end-to-end tests: locating the static stowage binary, running
//! commands that must succeed, building Nix expressions in the sandbox, and reading
//! docker-archives.
//!
//! Every external tool a test calls is required: a missing or failing `nix-build`,
//! `docker`, `podman`, `skopeo` or `umoci` fails the test with the command's output,
//! it never skips it.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::borrow::BorrowMut;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The options every `nix-build` of the suite runs with: builds happen in the sandbox,
/// where the builder sees only its inputs, and nothing comes from a binary cache.
pub const NIX_OPTIONS: [&str; 6] = [
    "--option",
    "sandbox",
    "true",
    "--option",
    "substituters",
    "",
];

/// The repository's root directory (the parent of this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the e2e crate lives inside the repository")
        .to_path_buf()
}

/// The static stowage binary that the Nix expressions import: in cargo's target
/// directory (`CARGO_TARGET_DIR` when set, as `scripts/build-static` leaves it). The
/// suite does not build it (cargo would contend with itself for the target directory):
/// `scripts/test` does.
pub fn stowage_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| repo_root().join(dir))
        .unwrap_or_else(|| repo_root().join("target"));
    let path = target.join("x86_64-unknown-linux-gnu/release/stowage");
    // Nix would import a symlink as a symlink: hand it the file itself.
    std::fs::canonicalize(&path).unwrap_or_else(|e| {
        panic!(
            "the static stowage binary is missing at {}: {e}\n\
             build it with scripts/build-static (or run the suite with scripts/test)",
            path.display()
        )
    })
}

/// A file of the repository, by its path relative to the root.
pub fn repo_file(relative: &str) -> PathBuf {
    repo_root().join(relative)
}

/// Shows a command the way a shell user would type it, for failure messages.
fn describe(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}

/// Runs a command to completion and returns its output; panics with the command line,
/// exit status, stdout and stderr when it cannot start or does not succeed.
pub fn run(mut cmd: impl BorrowMut<Command>) -> Output {
    let cmd = cmd.borrow_mut();
    // `output()` gives the child an empty stdin unless the caller set one.
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", describe(cmd)));
    if !output.status.success() {
        panic!(
            "`{}` failed ({})\n--- stdout\n{}\n--- stderr\n{}",
            describe(cmd),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

/// Runs a command that must succeed and returns its stdout as text.
pub fn run_stdout(cmd: impl BorrowMut<Command>) -> String {
    String::from_utf8(run(cmd).stdout).expect("command printed UTF-8")
}

/// A `Command` for `program` with `args`.
pub fn command<I, S>(program: &str, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(program);
    cmd.args(args);
    cmd
}

/// A temporary directory for one test's results, removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("stowage-e2e-")
        .tempdir()
        .expect("create a temporary directory")
}

/// A `nix-build` of attribute `attr` (or the whole file when empty) of a Nix file of
/// the repository, in the sandbox, without substituters, with `extra` arguments. The
/// file's `stowageBinary` argument is [`stowage_binary`].
pub fn nix_build_command(file: &str, attr: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new("nix-build");
    cmd.arg(repo_file(file))
        .args(NIX_OPTIONS)
        .arg("--argstr")
        .arg("stowageBinary")
        .arg(stowage_binary());
    if !attr.is_empty() {
        cmd.args(["-A", attr]);
    }
    cmd.args(extra);
    cmd
}

/// Builds `attr` of `file` (see [`nix_build_command`]) with its result link in `dir`,
/// and returns the store path it built. The link keeps the result alive against
/// garbage collection for as long as the test runs.
pub fn nix_build(file: &str, attr: &str, dir: &Path) -> PathBuf {
    let link = dir.join(if attr.is_empty() { "result" } else { attr });
    let out = run_stdout(
        nix_build_command(file, attr, &[])
            .arg("--out-link")
            .arg(&link),
    );
    let path = PathBuf::from(out.trim());
    assert!(
        path.starts_with("/nix/store"),
        "nix-build printed {out:?}, not a store path"
    );
    path
}

/// Evaluates a Nix expression in the repository's root, where `stowageBinary` is bound
/// to [`stowage_binary`], and returns its JSON value.
pub fn nix_eval_json(expr: &str) -> Value {
    let out = run_stdout(
        command("nix-instantiate", ["--eval", "--strict", "--json"])
            .arg("--argstr")
            .arg("stowageBinary")
            .arg(stowage_binary())
            .arg("--expr")
            .arg(format!("{{ stowageBinary }}: {expr}"))
            .current_dir(repo_root()),
    );
    serde_json::from_str(&out).expect("nix-instantiate printed JSON")
}

/// The closure of `paths` in the Nix store: every path they reference, transitively,
/// themselves included, sorted.
pub fn closure(paths: &[&Path]) -> Vec<String> {
    let out = run_stdout(command("nix-store", ["--query", "--requisites"]).args(paths));
    let mut all: Vec<String> = out.lines().map(str::to_owned).collect();
    all.sort();
    all.dedup();
    all
}

/// Hex SHA-256 of a file's bytes.
pub fn sha256_file(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    hex::encode(Sha256::digest(&bytes))
}

/// Hex SHA-256 of bytes.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A stream script as nixpkgs' conf.json: the JSON after the `#!` line.
pub fn read_stream_conf(script: &Path) -> Value {
    let text = std::fs::read_to_string(script)
        .unwrap_or_else(|e| panic!("read {}: {e}", script.display()));
    let json = match text.strip_prefix("#!") {
        Some(rest) => rest.split_once('\n').map_or("", |(_, json)| json),
        None => &text,
    };
    serde_json::from_str(json).unwrap_or_else(|e| {
        panic!(
            "{} is not a conf.json after its #! line: {e}",
            script.display()
        )
    })
}

/// A docker-archive read into memory: its member names in order, `manifest.json`, the
/// image config and each layer's tar bytes.
pub struct DockerArchive {
    /// Member names in the order they appear in the archive.
    pub members: Vec<String>,
    /// The parsed `manifest.json`.
    pub manifest: Value,
    /// The member name of the config (`<sha256>.json`).
    pub config_name: String,
    /// The config's raw bytes (its SHA-256 is the image ID).
    pub config_bytes: Vec<u8>,
    /// The parsed image config.
    pub config: Value,
    /// Layer tars in manifest order, with their member names.
    pub layers: Vec<(String, Vec<u8>)>,
}

impl DockerArchive {
    /// Reads an uncompressed docker-archive from a file.
    pub fn open(path: &Path) -> DockerArchive {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        DockerArchive::from_bytes(&bytes)
    }

    /// Reads an uncompressed docker-archive from bytes.
    pub fn from_bytes(bytes: &[u8]) -> DockerArchive {
        let mut members = Vec::new();
        let mut contents = BTreeMap::new();
        let mut archive = tar::Archive::new(bytes);
        for entry in archive.entries().expect("a docker-archive is a tar") {
            let mut entry = entry.expect("read an archive member");
            let name = entry
                .path()
                .expect("member name")
                .to_string_lossy()
                .into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).expect("read member data");
            members.push(name.clone());
            contents.insert(name, data);
        }
        let manifest: Value = serde_json::from_slice(
            contents
                .get("manifest.json")
                .expect("the archive has a manifest.json"),
        )
        .expect("manifest.json is JSON");
        let image = &manifest.as_array().expect("manifest.json is an array")[0];
        let config_name = image["Config"]
            .as_str()
            .expect("manifest Config")
            .to_owned();
        let config_bytes = contents
            .get(&config_name)
            .unwrap_or_else(|| panic!("the archive lacks the config {config_name}"))
            .clone();
        let config = serde_json::from_slice(&config_bytes).expect("the config is JSON");
        let layers = image["Layers"]
            .as_array()
            .expect("manifest Layers")
            .iter()
            .map(|l| {
                let name = l.as_str().expect("layer name").to_owned();
                let data = contents
                    .get(&name)
                    .unwrap_or_else(|| panic!("the archive lacks the layer {name}"))
                    .clone();
                (name, data)
            })
            .collect();
        DockerArchive {
            members,
            manifest,
            config_name,
            config_bytes,
            config,
            layers,
        }
    }

    /// The image ID as Docker reports it: `sha256:` and the config's digest.
    pub fn image_id(&self) -> String {
        format!("sha256:{}", sha256(&self.config_bytes))
    }

    /// The archive's single repo tag.
    pub fn repo_tag(&self) -> String {
        let tags = self.manifest[0]["RepoTags"]
            .as_array()
            .expect("manifest RepoTags");
        assert_eq!(tags.len(), 1, "one repo tag expected: {tags:?}");
        tags[0].as_str().expect("repo tag").to_owned()
    }
}

/// One member of a layer tar, as the listing in snapshots shows it.
pub fn layer_listing(layer: &[u8]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut archive = tar::Archive::new(layer);
    for entry in archive.entries().expect("a layer is a tar") {
        let entry = entry.expect("read a layer member");
        let header = entry.header();
        let kind = match header.entry_type() {
            tar::EntryType::Regular => "file".to_owned(),
            tar::EntryType::Directory => "dir".to_owned(),
            tar::EntryType::Symlink => format!(
                "symlink -> {}",
                entry
                    .link_name()
                    .expect("link name")
                    .expect("symlink has a target")
                    .display()
            ),
            tar::EntryType::Link => format!(
                "hardlink -> {}",
                entry
                    .link_name()
                    .expect("link name")
                    .expect("link target")
                    .display()
            ),
            other => format!("{other:?}"),
        };
        lines.push(format!(
            "{} {:o} {}:{} {}:{} size={} mtime={} {}",
            entry.path().expect("member name").display(),
            header.mode().expect("mode"),
            header.uid().expect("uid"),
            header.gid().expect("gid"),
            header.username().ok().flatten().unwrap_or(""),
            header.groupname().ok().flatten().unwrap_or(""),
            entry.size(),
            header.mtime().expect("mtime"),
            kind
        ));
    }
    lines
}
