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
use std::process::{Command, Output, Stdio};

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

/// The bytes of a docker-archive file, decompressed when the whole file is gzip or zstd
/// (`compressor = "gz"` or `"zstd"`), by the system's `gzip` or `zstd`.
pub fn archive_bytes(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let tool = if bytes.starts_with(&[0x1f, 0x8b]) {
        "gzip"
    } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        "zstd"
    } else {
        return bytes;
    };
    run(command(tool, ["-dc"]).arg(path)).stdout
}

impl DockerArchive {
    /// Reads a docker-archive that may be compressed as a whole (see [`archive_bytes`]).
    pub fn open_any(path: &Path) -> DockerArchive {
        DockerArchive::from_bytes(&archive_bytes(path))
    }

    /// The image config's `rootfs.diff_ids`, bottom layer first.
    pub fn diff_ids(&self) -> Vec<String> {
        self.config["rootfs"]["diff_ids"]
            .as_array()
            .expect("rootfs.diff_ids")
            .iter()
            .map(|d| d.as_str().expect("a diff_id is a string").to_owned())
            .collect()
    }

    /// The store paths (`/nix/store/<hash>-<name>`) whose top entry layer `index` holds,
    /// sorted.
    pub fn layer_store_paths(&self, index: usize) -> Vec<String> {
        let mut paths: Vec<String> = layer_member_names(&self.layers[index].1)
            .into_iter()
            .filter_map(|name| {
                let rest = name.strip_prefix("nix/store/")?;
                (!rest.is_empty() && !rest.contains('/')).then(|| format!("/{name}"))
            })
            .collect();
        paths.sort();
        paths
    }

    /// Every store path of every layer, sorted and without duplicates.
    pub fn store_paths(&self) -> Vec<String> {
        let mut all: Vec<String> = (0..self.layers.len())
            .flat_map(|i| self.layer_store_paths(i))
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

/// The member names of a layer tar, in order, without a trailing `/`.
pub fn layer_member_names(layer: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(layer);
    archive
        .entries()
        .expect("a layer is a tar")
        .map(|entry| {
            let entry = entry.expect("read a layer member");
            let name = entry.path().expect("member name").display().to_string();
            name.trim_end_matches('/').to_owned()
        })
        .collect()
}

/// Runs a command that must fail and returns its stderr; panics, with its output, if it
/// succeeds.
pub fn run_failing(mut cmd: impl BorrowMut<Command>) -> String {
    let cmd = cmd.borrow_mut();
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", describe(cmd)));
    if output.status.success() {
        panic!(
            "`{}` succeeded but was expected to fail\n--- stdout\n{}\n--- stderr\n{}",
            describe(cmd),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `nix-instantiate` of attribute `attr` of a Nix file of the repository (with
/// `stowageBinary` as in [`nix_build_command`]): the command, for callers that expect
/// it to fail or want the `.drv` path.
pub fn nix_instantiate_command(file: &str, attr: &str) -> Command {
    let mut cmd = Command::new("nix-instantiate");
    cmd.arg(repo_file(file))
        .arg("--argstr")
        .arg("stowageBinary")
        .arg(stowage_binary())
        .args(["-A", attr]);
    cmd
}

/// The 32-character hash part of a store path (`/nix/store/<hash>-<name>`).
pub fn store_hash_part(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.chars().take(32).collect()
}

/// A container engine as the tests drive it: Docker, or podman with runc (crun and
/// podman's default ulimits fail on machines of this kind). A missing engine fails the
/// test that needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Docker,
    Podman,
}

impl Engine {
    /// The engine's executable.
    pub fn program(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
        }
    }

    /// Loads an archive file and returns what the engine printed. Docker 20.10 refuses
    /// zstd archives and podman 4.3 gzip ones (`invalid tar header`): those are
    /// decompressed here and fed to the engine's stdin. (tests/tests/compression.rs checks
    /// what each engine takes as it is.)
    pub fn load(self, archive: &Path) -> String {
        let bytes =
            std::fs::read(archive).unwrap_or_else(|e| panic!("read {}: {e}", archive.display()));
        let refused: &[u8] = match self {
            Engine::Docker => &[0x28, 0xb5, 0x2f, 0xfd],
            Engine::Podman => &[0x1f, 0x8b],
        };
        if !bytes.starts_with(refused) {
            return run_stdout(command(self.program(), ["load", "-i"]).arg(archive));
        }
        self.load_bytes(&archive_bytes(archive))
    }

    /// Loads an uncompressed archive given as bytes, through `load`'s stdin.
    pub fn load_bytes(self, archive: &[u8]) -> String {
        use std::io::Write;
        let mut cmd = command(self.program(), ["load"]);
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", describe(&cmd)));
        let mut stdin = child.stdin.take().expect("piped stdin");
        std::thread::scope(|scope| {
            // Written from another thread, so a full stdout pipe cannot stall the writer.
            scope.spawn(move || stdin.write_all(archive));
            let output = child.wait_with_output().expect("wait for load");
            if !output.status.success() {
                panic!(
                    "`{} load` failed ({})\n--- stdout\n{}\n--- stderr\n{}",
                    self.program(),
                    output.status,
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            String::from_utf8(output.stdout).expect("load printed UTF-8")
        })
    }

    /// How this engine names an image by its ID (`sha256:<hex>`): other tests may load
    /// other images under the same tag concurrently, an ID is unambiguous.
    pub fn image_ref(self, image_id: &str) -> String {
        match self {
            Engine::Docker => image_id.to_owned(),
            Engine::Podman => image_id.trim_start_matches("sha256:").to_owned(),
        }
    }

    /// `run --rm --network=none` with the engine's required options, then `options`,
    /// the image and `args` (the command, if any): the command, not yet run.
    pub fn run_command(self, image_id: &str, options: &[&str], args: &[&str]) -> Command {
        let mut cmd = Command::new(self.program());
        if self == Engine::Podman {
            cmd.args(["--runtime", "runc"]);
        }
        cmd.args(["run", "--rm", "--network=none"]);
        if self == Engine::Podman {
            cmd.args([
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=1024:1024",
            ]);
        }
        cmd.args(options).arg(self.image_ref(image_id)).args(args);
        cmd
    }

    /// Runs a container of the image (see [`Engine::run_command`]) that must succeed, and
    /// returns its stdout.
    pub fn run(self, image_id: &str, options: &[&str], args: &[&str]) -> String {
        run_stdout(self.run_command(image_id, options, args))
    }

    /// `image inspect` of an image, as JSON (the engine's single object).
    pub fn inspect(self, image_id: &str) -> Value {
        let out =
            run_stdout(command(self.program(), ["image", "inspect"]).arg(self.image_ref(image_id)));
        let all: Value = serde_json::from_str(&out).expect("image inspect prints JSON");
        all[0].clone()
    }
}

/// Runs a stream script and pipes what it prints into `engine load`; returns the
/// engine's output. Both ends must succeed.
pub fn stream_into(script: &Path, engine: Engine) -> String {
    let mut stream = Command::new(script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run the stream script {}: {e}", script.display()));
    let stdout = stream.stdout.take().expect("piped stdout");
    let loaded = run(command(engine.program(), ["load"]).stdin(stdout));
    let streamed = stream
        .wait_with_output()
        .expect("wait for the stream script");
    assert!(
        streamed.status.success(),
        "{} failed ({}): {}",
        script.display(),
        streamed.status,
        String::from_utf8_lossy(&streamed.stderr)
    );
    String::from_utf8_lossy(&loaded.stdout).into_owned()
}
