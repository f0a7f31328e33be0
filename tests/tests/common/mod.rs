//! Helpers of the end-to-end tests: building the repository's Nix expressions in the
//! sandbox with the static stowage binary, and driving container engines. Running
//! commands, finding the binary and reading docker-archives come from
//! stowage-test-support (test-support/), shared with the builder's integration tests,
//! and are re-exported here.
//!
//! Every external tool a test calls is required: a missing or failing `nix-build`,
//! `docker`, `podman`, `skopeo` or `umoci` fails the test with the command's output,
//! it never skips it.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

pub mod registry;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
pub use stowage_test_support::*;

/// A temporary directory for one test's results, removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("stowage-e2e-")
        .tempdir()
        .expect("create a temporary directory")
}

/// Binds the Nix files' `stowageBinary` argument to [`stowage_binary`].
fn pass_binary(cmd: &mut Command) -> &mut Command {
    cmd.arg("--argstr")
        .arg("stowageBinary")
        .arg(stowage_binary())
}

/// A `nix-build` of attribute `attr` (or the whole file when empty) of a Nix file of
/// the repository, in the sandbox, without substituters, with `extra` arguments. The
/// file's `stowageBinary` argument is [`stowage_binary`].
pub fn nix_build_command(file: &str, attr: &str, extra: &[&str]) -> Command {
    let mut cmd = nix_build_sandboxed(&repo_file(file));
    pass_binary(&mut cmd);
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
    nix_build_with_link(nix_build_command(file, attr, &[]), &link)
}

/// Builds attribute `attr` of the Nix file `file` (result link in `dir`) and reads the
/// archive, compressed or not.
pub fn build_archive(file: &str, attr: &str, dir: &Path) -> (PathBuf, DockerArchive) {
    let image = nix_build(file, attr, dir);
    let archive = DockerArchive::open_any(&image);
    (image, archive)
}

/// Evaluates `expr` (strictly, to JSON), in which `l` is the Nix file `file` of the
/// repository called with the suite's stowage binary.
pub fn eval_in(file: &str, expr: &str) -> Value {
    nix_eval_json(&format!(
        "let l = import ./{file} {{ inherit stowageBinary; }}; in {expr}"
    ))
}

/// Evaluates a Nix expression in the repository's root, where `stowageBinary` is bound
/// to [`stowage_binary`], and returns its JSON value.
pub fn nix_eval_json(expr: &str) -> Value {
    let mut cmd = command("nix-instantiate", ["--eval", "--strict", "--json"]);
    pass_binary(&mut cmd)
        .arg("--expr")
        .arg(format!("{{ stowageBinary }}: {expr}"))
        .current_dir(repo_root());
    serde_json::from_str(&run_stdout(cmd)).expect("nix-instantiate printed JSON")
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

/// One member of a layer tar per line, as the listing in snapshots shows it.
pub fn layer_listing(layer: &[u8]) -> Vec<String> {
    layer_listing_as(layer, ListingStyle::NameFirst)
}

/// `nix-instantiate` of attribute `attr` of a Nix file of the repository (with
/// `stowageBinary` as in [`nix_build_command`]): the command, for callers that expect
/// it to fail or want the `.drv` path.
pub fn nix_instantiate_command(file: &str, attr: &str) -> Command {
    let mut cmd = command("nix-instantiate", [repo_file(file)]);
    pass_binary(&mut cmd).args(["-A", attr]);
    cmd
}

/// The 32-character hash part of a store path (`/nix/store/<hash>-<name>`).
pub fn store_hash_part(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.chars().take(32).collect()
}

/// Unpacks an uncompressed docker-archive into `dir` as the containers/image tools do:
/// `skopeo copy` to an OCI layout, then `umoci unpack`. Returns the root filesystem.
pub fn oci_unpack(image: &Path, dir: &Path) -> PathBuf {
    let layout = dir.join("oci");
    run(command("skopeo", ["copy", "--quiet"])
        .arg(format!("docker-archive:{}", image.display()))
        .arg(format!("oci:{}:image", layout.display())));
    umoci_unpack(&layout, "image", &dir.join("bundle"))
}

/// `umoci unpack --rootless` of the image `reference` (NAME:TAG) of the OCI layout
/// directory `layout` into the bundle `bundle`. Returns the root filesystem.
pub fn umoci_unpack(layout: &Path, reference: &str, bundle: &Path) -> PathBuf {
    run(command("umoci", ["unpack", "--rootless", "--image"])
        .arg(format!("{}:{reference}", layout.display()))
        .arg(bundle));
    bundle.join("rootfs")
}

/// The closure of the busybox tools of nix/test-support.nix: what an image whose
/// contents are those tools holds in its store.
pub fn tools_closure() -> Vec<String> {
    closure(&[&tools_path()])
}

/// Asserts that the store of the root filesystem `rootfs` holds [`tools_closure`], file
/// by file, and nothing else.
pub fn assert_store_is_the_tools_closure(rootfs: &Path) {
    let expected = tools_closure();
    let names: Vec<String> = expected
        .iter()
        .map(|p| p.trim_start_matches("/nix/store/").to_owned())
        .collect();
    assert_eq!(entries(&rootfs.join("nix/store")), names);
    for path in &expected {
        compare_trees(Path::new(path), &rootfs.join(path.trim_start_matches('/')));
    }
}

/// The store path of the busybox tools of nix/test-support.nix.
pub fn tools_path() -> PathBuf {
    let tools =
        nix_eval_json("(import ./nix/test-support.nix { inherit stowageBinary; }).tools.outPath");
    PathBuf::from(tools.as_str().expect("tools path is a string"))
}

/// An OCI image layout, a directory or its tar (oci-archive), read whole: every file
/// by its name in the layout (`index.json`, `blobs/sha256/<hex>`, …).
pub struct OciLayout {
    pub files: std::collections::BTreeMap<String, Vec<u8>>,
}

impl OciLayout {
    /// Reads the layout at `path`.
    pub fn open(path: &Path) -> OciLayout {
        let mut files = std::collections::BTreeMap::new();
        if path.is_dir() {
            read_tree(path, path, &mut files);
        } else {
            let bytes =
                std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            // The directory members are left out, as a directory's listing has none.
            for (name, data) in tar_members(&bytes) {
                if !matches!(name.trim_end_matches('/'), "blobs" | "blobs/sha256") {
                    files.insert(name, data);
                }
            }
        }
        OciLayout { files }
    }

    /// `index.json`.
    pub fn index(&self) -> Value {
        self.json("index.json")
    }

    /// The JSON blob a descriptor (`{"digest": "sha256:…", …}`) names.
    pub fn blob(&self, descriptor: &Value) -> Value {
        let digest = descriptor["digest"]
            .as_str()
            .expect("a descriptor's digest");
        self.json(&format!("blobs/{}", digest.replace(':', "/")))
    }

    /// The manifest `index.json` names (its first entry).
    pub fn manifest(&self) -> Value {
        self.blob(&self.index()["manifests"][0])
    }

    /// The config of [`OciLayout::manifest`].
    pub fn config(&self) -> Value {
        self.blob(&self.manifest()["config"])
    }

    /// The digest of that config: the image ID engines give the image.
    pub fn image_id(&self) -> String {
        let id = &self.manifest()["config"]["digest"];
        id.as_str().expect("the config's digest").to_owned()
    }

    fn json(&self, name: &str) -> Value {
        let bytes = self
            .files
            .get(name)
            .unwrap_or_else(|| panic!("the layout has no {name}"));
        serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
    }
}

/// Reads the regular files under `dir` into `files`, named relative to `root`.
fn read_tree(root: &Path, dir: &Path, files: &mut std::collections::BTreeMap<String, Vec<u8>>) {
    for entry in entries(dir) {
        let path = dir.join(entry);
        if path.is_dir() {
            read_tree(root, &path, files);
        } else {
            let name = path.strip_prefix(root).expect("below the root");
            let bytes =
                std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            files.insert(name.to_string_lossy().into_owned(), bytes);
        }
    }
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
        let mut cmd = self.run_command(image_id, options, args);
        let mut out = output(&mut cmd);
        // Docker 20.10 under load sometimes loses the race between creating and starting
        // a container ("cannot start a container that has stopped", or "cannot start a
        // stopped process"): the engine refused to start it, so it is started again, up
        // to twice. Any other failure fails at once.
        for _ in 0..2 {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let lost_start_race = stderr.contains("cannot start a container that has stopped")
                || stderr.contains("cannot start a stopped process");
            if out.status.success() || !lost_start_race {
                break;
            }
            out = output(&mut cmd);
        }
        String::from_utf8(succeeded(&cmd, out).stdout).expect("the container printed UTF-8")
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

/// A container running in the background, removed (`rm -f`) when dropped, so a failing
/// assertion leaves none behind.
pub struct Container {
    engine: Engine,
    /// The engine's ID of the container.
    pub id: String,
}

impl Container {
    /// `exec` of `args` in the container: the command, not yet run.
    pub fn exec(&self, args: &[&str]) -> Command {
        let mut cmd = command(self.engine.program(), ["exec", self.id.as_str()]);
        cmd.args(args);
        cmd
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new(self.engine.program())
            .args(["rm", "-f", &self.id])
            .output();
    }
}

impl Engine {
    /// Starts a container of the image in the background (see [`Engine::run_command`]).
    pub fn start(self, image_id: &str, options: &[&str], args: &[&str]) -> Container {
        let options = [&["-d"], options].concat();
        let id = run_stdout(self.run_command(image_id, &options, args));
        Container {
            engine: self,
            id: id.trim().to_owned(),
        }
    }
}

/// `nix-store` of the host's Nix, on the store and database of an image's root
/// filesystem unpacked at `rootfs` (see [`oci_unpack`]): the command, for `args`.
pub fn nix_store_in(rootfs: &Path) -> Command {
    let mut cmd = command("nix-store", ["--store"]);
    cmd.arg(rootfs);
    cmd
}

/// The sorted names in a directory.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Asserts that `copy` is `original` again: the same kind of file, the same permission
/// bits, the same bytes or symlink target, and for directories the same entries.
pub fn compare_trees(original: &Path, copy: &Path) {
    let want = fs::symlink_metadata(original)
        .unwrap_or_else(|e| panic!("stat {}: {e}", original.display()));
    let got = fs::symlink_metadata(copy)
        .unwrap_or_else(|e| panic!("{} is missing from the rootfs: {e}", copy.display()));
    assert_eq!(
        want.file_type(),
        got.file_type(),
        "{}: kind of file differs",
        copy.display()
    );
    if want.file_type().is_symlink() {
        assert_eq!(
            fs::read_link(original).expect("read the original link"),
            fs::read_link(copy).expect("read the unpacked link"),
            "{}: symlink target differs",
            copy.display()
        );
        return;
    }
    assert_eq!(
        format!("{:o}", want.permissions().mode() & 0o7777),
        format!("{:o}", got.permissions().mode() & 0o7777),
        "{}: mode differs",
        copy.display()
    );
    if want.is_dir() {
        let names = entries(original);
        assert_eq!(names, entries(copy), "{}: entries differ", copy.display());
        for name in names {
            compare_trees(&original.join(&name), &copy.join(&name));
        }
    } else {
        assert!(
            fs::read(original).expect("read the original")
                == fs::read(copy).expect("read the copy"),
            "{}: contents differ",
            copy.display()
        );
    }
}
