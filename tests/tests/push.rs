//! `stowage push` against real registries (Debian's `docker-registry`, see
//! common/registry.rs), checked with the clients people pull with: a layered image into
//! a private registry (htpasswd and TLS) pulled back by skopeo and run by Docker; only
//! the changed layers sent after a one-path change, and blobs mounted into a second
//! repository; an upload cut off between chunks resumed from where the registry
//! stopped, and one cut off mid-chunk completed by the next push;
//! credentials refused or missing and malformed destinations, each one line; OCI with
//! zstd run by podman; Docker pulling what stowage pushed; an index of two platforms;
//! the `.push` passthru; archives of buildLayeredImage and buildImage keeping their
//! config. A missing or failing tool or engine fails the test, it never skips it.
//!
//! Each test starts its own registry and gives stowage a cache directory of its own
//! (the layer digest cache and the push state live there), and removes the images it
//! puts into an engine.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::registry::{Registry, RegistryOptions};
use common::{
    command, nix_build, run, run_failing, run_stdout, stowage_binary, temp_dir, DockerArchive,
    Engine,
};
use serde_json::Value;

/// The Nix file of the images pushed here.
const IMAGES: &str = "tests/nix/push.nix";

const USER: &str = "pusher";
const PASSWORD: &str = "push it";

/// What the images of the fixture print when run.
const HELLO_SAYS: &str = "pushed by stowage";

/// The size of the fixture's incompressible file (`noise` in tests/nix/push.nix).
const NOISE: u64 = 4 << 20;

/// A test's working directory: stowage's cache, an empty HOME (so no credentials come
/// from the machine's auth files), result links and pulled archives.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        let work = Work { dir: temp_dir() };
        std::fs::create_dir_all(work.home()).expect("create HOME");
        work
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn home(&self) -> PathBuf {
        self.path().join("home")
    }

    /// Builds `attr` of the fixture; returns its store path.
    fn build(&self, attr: &str) -> PathBuf {
        nix_build(IMAGES, attr, self.path())
    }

    /// `stowage push IMAGE DESTINATION args`, with this test's cache and HOME and none
    /// of the variables that point at auth files: the command, not yet run.
    fn push(&self, image: &Path, destination: &str, args: &[&str]) -> Command {
        let mut cmd = command(stowage_binary().to_str().expect("a UTF-8 path"), ["push"]);
        cmd.arg(image).arg(destination).args(args);
        self.isolate(&mut cmd);
        cmd
    }

    /// Gives `cmd` this test's stowage cache and HOME, and no auth file variables.
    fn isolate(&self, cmd: &mut Command) {
        cmd.env("STOWAGE_CACHE_DIR", self.path().join("cache"))
            .env("HOME", self.home());
        for name in [
            "REGISTRY_AUTH_FILE",
            "XDG_RUNTIME_DIR",
            "XDG_CONFIG_HOME",
            "XDG_CACHE_HOME",
            "DOCKER_CONFIG",
        ] {
            cmd.env_remove(name);
        }
    }
}

/// What a successful push said: stdout's `NAME:TAG@DIGEST` split, and stderr.
struct Pushed {
    reference: String,
    digest: String,
    stderr: String,
}

impl Pushed {
    /// The summary's count of `what` (`already present`, `mounted`, `uploaded`) and
    /// of all blobs.
    fn count(&self, what: &str) -> usize {
        let summary = self.summary();
        let (_, counts) = summary.split_once(": ").expect("a summary");
        counts
            .split(&[',', ';'][..])
            .find_map(|part| part.trim().strip_suffix(what))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no count of {what:?} in {summary:?}"))
    }

    fn blobs(&self) -> usize {
        let summary = self.summary();
        summary
            .split_once(" blobs: ")
            .and_then(|(n, _)| n.parse().ok())
            .unwrap_or_else(|| panic!("no blob count in {summary:?}"))
    }

    /// The last line of stderr: `N blobs: P already present, M mounted, U uploaded; B
    /// bytes sent`.
    fn summary(&self) -> String {
        let line = self.stderr.lines().last().unwrap_or_default();
        assert!(
            line.contains(" blobs: "),
            "no summary last:\n{}",
            self.stderr
        );
        line.to_owned()
    }
}

/// Runs a push that must succeed.
fn pushed(cmd: Command) -> Pushed {
    let out = run(cmd);
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 stdout");
    let line = stdout.trim_end();
    assert!(!line.contains('\n'), "one line on stdout: {stdout:?}");
    let (reference, digest) = line
        .split_once('@')
        .unwrap_or_else(|| panic!("not NAME:TAG@DIGEST: {line:?}"));
    assert!(digest.starts_with("sha256:"), "{line}");
    Pushed {
        reference: reference.to_owned(),
        digest: digest.to_owned(),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    }
}

/// The one line of a failing command's stderr.
fn one_line(mut cmd: Command) -> String {
    let err = run_failing(&mut cmd);
    let line = err.trim().to_owned();
    assert!(!line.contains('\n'), "more than one line: {err}");
    line
}

/// skopeo's options reaching `registry` (its CA and credentials, or no TLS), with
/// `prefix` (`--src-` for copy, `--` for inspect).
fn skopeo_access(registry: &Registry, prefix: &str) -> Vec<String> {
    let mut args = match registry.cert_dir() {
        Some(dir) => vec![format!("{prefix}cert-dir={}", dir.display())],
        None => vec![format!("{prefix}tls-verify=false")],
    };
    if let Some(creds) = registry.creds() {
        args.push(format!("{prefix}creds={creds}"));
    }
    args
}

/// `skopeo inspect args docker://HOST/reference` as JSON.
fn inspect(registry: &Registry, reference: &str, args: &[&str]) -> Value {
    let mut cmd = command("skopeo", ["inspect"]);
    cmd.args(skopeo_access(registry, "--"))
        .args(args)
        .arg(format!("docker://{}/{reference}", registry.host));
    serde_json::from_str(&run_stdout(cmd)).expect("skopeo inspect prints JSON")
}

/// The manifest (or index) as the registry serves it.
fn raw_manifest(registry: &Registry, reference: &str) -> Value {
    inspect(registry, reference, &["--raw"])
}

/// `skopeo copy` of `docker://HOST/reference` to `destination`.
fn copy_from(registry: &Registry, reference: &str, destination: &str) {
    let mut cmd = command("skopeo", ["copy", "--quiet"]);
    cmd.args(skopeo_access(registry, "--src-"))
        .arg(format!("docker://{}/{reference}", registry.host))
        .arg(destination);
    run(cmd);
}

/// The sizes of a manifest's layers, by digest.
fn layer_sizes(manifest: &Value) -> Vec<(String, u64)> {
    manifest["layers"]
        .as_array()
        .expect("a manifest's layers")
        .iter()
        .map(|l| {
            (
                l["digest"].as_str().expect("a digest").to_owned(),
                l["size"].as_u64().expect("a size"),
            )
        })
        .collect()
}

/// An image in an engine under `name`, removed from it when dropped (also when the
/// test fails).
struct InEngine {
    engine: Engine,
    name: String,
}

impl InEngine {
    /// Pulls `reference` (of a plain-HTTP registry on 127.0.0.1, which Docker trusts and
    /// podman is told to) into `engine`.
    fn pull(engine: Engine, reference: &str) -> InEngine {
        let pulled = InEngine {
            engine,
            name: reference.to_owned(),
        };
        let mut cmd = command(engine.program(), ["pull", "--quiet"]);
        if engine == Engine::Podman {
            cmd.arg("--tls-verify=false");
        }
        run(cmd.arg(reference));
        pulled
    }
}

/// `HOST/stowage-push/NAME-PID:v1`: a reference of `registry` that engines can hold
/// while other runs of this test do too.
fn engine_reference(registry: &Registry, name: &str) -> String {
    format!(
        "{}/stowage-push/{name}-{}:v1",
        registry.host,
        std::process::id()
    )
}

impl Drop for InEngine {
    fn drop(&mut self) {
        let _ = Command::new(self.engine.program())
            .args(["rmi", "-f", &self.name])
            .output();
    }
}

#[test]
fn a_layered_image_goes_to_a_private_registry_and_comes_back_runnable() {
    let work = Work::new();
    let registry = Registry::start_with(RegistryOptions::private(USER, PASSWORD));
    let cert_dir = registry.cert_dir().expect("a TLS registry");
    let image = work.build("stream");
    let digest_file = work.path().join("digest");
    let destination = format!("docker://{}/private/hello:v1", registry.host);
    let creds = registry.creds().expect("credentials");
    let mut args = vec!["--creds", &creds, "--cert-dir"];
    args.push(cert_dir.to_str().expect("a UTF-8 path"));
    args.extend(["--digestfile", digest_file.to_str().expect("a UTF-8 path")]);
    let out = pushed(work.push(&image, &destination, &args));
    assert_eq!(out.reference, format!("{}/private/hello:v1", registry.host));
    assert_eq!(
        std::fs::read_to_string(&digest_file).expect("the digest file"),
        out.digest
    );
    assert_eq!(out.count("uploaded"), out.blobs(), "{}", out.stderr);
    let inspected = inspect(&registry, "private/hello:v1", &[]);
    assert_eq!(inspected["Digest"], out.digest.as_str());

    // Back through skopeo into Docker, which runs it.
    let name = format!("stowage-push/private-{}", std::process::id());
    let archive = work.path().join("pulled.tar");
    copy_from(
        &registry,
        "private/hello:v1",
        &format!("docker-archive:{}:{name}:v1", archive.display()),
    );
    let _loaded = InEngine {
        engine: Engine::Docker,
        name: format!("{name}:v1"),
    };
    Engine::Docker.load(&archive);
    let said = Engine::Docker.run(&format!("{name}:v1"), &[], &[]);
    assert_eq!(said.trim_end(), HELLO_SAYS);
}

#[test]
fn after_a_one_path_change_only_the_changed_layers_are_sent_and_a_second_repository_mounts_all() {
    let work = Work::new();
    let registry = Registry::start();
    let (a, b) = (work.build("changed-a"), work.build("changed-b"));
    let to = |repository: &str| format!("docker://{}/{repository}:v1", registry.host);

    let first = pushed(work.push(&a, &to("changed"), &[]));
    let first_bytes = registry.uploaded_bytes();
    assert_eq!(first.count("uploaded"), first.blobs(), "{}", first.stderr);

    registry.reset_count();
    let second = pushed(work.push(&b, &to("changed"), &[]));
    let second_bytes = registry.uploaded_bytes();
    // What B has that A lacks: its changed layers and its config.
    let (manifest_a, manifest_b) = (
        raw_manifest(&registry, &format!("changed@{}", first.digest)),
        raw_manifest(&registry, &format!("changed@{}", second.digest)),
    );
    let in_a = layer_sizes(&manifest_a);
    let changed: Vec<(String, u64)> = layer_sizes(&manifest_b)
        .into_iter()
        .filter(|layer| !in_a.contains(layer))
        .collect();
    assert!(
        !changed.is_empty() && changed.len() < in_a.len(),
        "{changed:?} of {in_a:?}"
    );
    let changed_bytes: u64 = changed.iter().map(|(_, size)| size).sum::<u64>()
        + manifest_b["config"]["size"]
            .as_u64()
            .expect("a config size");
    eprintln!(
        "first push: {first_bytes} bytes; second: {second_bytes} bytes for {changed_bytes} bytes changed"
    );
    assert!(
        second_bytes < first_bytes / 10,
        "{second_bytes} bytes sent after a one-path change, {first_bytes} for the first push"
    );
    // Blobs plus the requests' lines and headers (a few hundred bytes each).
    assert!(
        second_bytes < changed_bytes + 16 * 1024,
        "{second_bytes} bytes sent for {changed_bytes} bytes of changed blobs"
    );
    assert_eq!(
        second.count("uploaded"),
        changed.len() + 1,
        "{}",
        second.stderr
    );
    assert_eq!(
        second.count("already present"),
        in_a.len() - changed.len(),
        "{}",
        second.stderr
    );
    assert_eq!(second.count("mounted"), 0, "{}", second.stderr);

    // A into another repository of the same registry: every blob mounted, none sent.
    registry.reset_count();
    let copy = pushed(work.push(&a, &to("changed-copy"), &[]));
    let copy_bytes = registry.uploaded_bytes();
    assert_eq!(copy.digest, first.digest);
    assert_eq!(copy.count("mounted"), copy.blobs(), "{}", copy.stderr);
    assert!(
        copy.stderr.contains("mounted from changed"),
        "{}",
        copy.stderr
    );
    assert!(
        copy.summary().ends_with("; 0 bytes sent"),
        "{}",
        copy.stderr
    );
    assert!(
        copy_bytes < 16 * 1024,
        "{copy_bytes} bytes sent to mount every blob"
    );
    assert_eq!(
        inspect(&registry, "changed-copy:v1", &[])["Digest"],
        first.digest.as_str()
    );
}

/// The big image's push: uncompressed (the bytes sent are the layer's), in 1 MiB chunks.
const CHUNKED: [&str; 4] = ["--compress", "none", "--chunk-size", "1048576"];

/// A push of the big image that a cut of the connection stopped, and the push after it.
struct Interrupted {
    registry: Registry,
    /// The push after the cut.
    again: Pushed,
    /// The bytes it sent.
    sent: u64,
    /// Holds the cache both pushes shared.
    _work: Work,
}

/// Pushes the big image to a new registry that `cut` told where to cut the connection:
/// the push must fail with one line naming the layer. Then pushes it again, uncut, which
/// must succeed, and copies the result with skopeo, which verifies every blob against
/// its digest.
fn interrupted_push(cut: impl FnOnce(&Registry)) -> Interrupted {
    let work = Work::new();
    let registry = Registry::start();
    let image = work.build("big");
    let destination = format!("docker://{}/big:v1", registry.host);
    cut(&registry);
    let err = one_line(work.push(&image, &destination, &CHUNKED));
    let layer = format!("stowage: pushing to {destination}: layer 1/2 sha256:");
    assert!(err.starts_with(&layer), "{err}");

    registry.cut_after(None);
    registry.reset_count();
    let again = pushed(work.push(&image, &destination, &CHUNKED));
    let sent = registry.uploaded_bytes();
    eprintln!(
        "the push after the cut sent {sent} bytes:\n{}",
        again.stderr
    );
    let layout = work.path().join("oci");
    copy_from(
        &registry,
        "big:v1",
        &format!("oci:{}:big", layout.display()),
    );
    let manifest = raw_manifest(&registry, "big:v1");
    assert!(
        layer_sizes(&manifest).iter().any(|(_, size)| *size > NOISE),
        "{manifest}"
    );
    Interrupted {
        registry,
        again,
        sent,
        _work: work,
    }
}

/// The summary's count of bytes sent.
fn bytes_sent(out: &Pushed) -> u64 {
    let summary = out.summary();
    summary
        .strip_suffix(" bytes sent")
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no bytes sent in {summary:?}"))
}

#[test]
fn an_upload_cut_off_between_chunks_resumes_from_the_registrys_range() {
    // The network fails at about 60% of the 4 MiB layer, after the chunk under way
    // (the third) reached the registry whole.
    let Interrupted { again, sent, .. } =
        interrupted_push(|registry| registry.cut_between_requests_after(Some(NOISE * 6 / 10)));
    // The fourth chunk, the small layer, the config and the requests.
    assert!(
        sent < NOISE / 2,
        "{sent} bytes sent to finish a {NOISE}-byte layer of which 3 MiB had arrived\n{}",
        again.stderr
    );
    assert!(
        again.stderr.contains(": uploaded 1.0 MiB\n"),
        "{}",
        again.stderr
    );
    assert!(bytes_sent(&again) < NOISE / 2, "{}", again.stderr);
}

#[test]
fn an_upload_cut_off_mid_chunk_is_one_error_line_and_the_next_push_completes_it() {
    // The connection dies in the middle of the third chunk: docker-registry keeps the
    // part of it that arrived, while the session's state (signed by the registry, in
    // the upload URL stowage kept) names the offset before that chunk. Asked for the
    // session's status, it finds the two differ and cancels the session; the next push
    // starts the layer again. (A registry keeping whole chunks only would resume.)
    let Interrupted {
        registry, again, ..
    } = interrupted_push(|registry| registry.cut_after(Some(NOISE * 6 / 10)));
    assert_eq!(again.count("uploaded"), again.blobs(), "{}", again.stderr);
    // stowage asked to resume the session (distribution spells it so).
    let log = std::fs::read_to_string(registry.log_file()).expect("the registry's log");
    assert!(
        log.contains("upload resumed at wrong offest"),
        "stowage did not try to resume the upload; the registry's log:\n{log}"
    );
}

#[test]
fn refused_or_missing_credentials_and_bad_destinations_are_one_clear_line() {
    let work = Work::new();
    let registry = Registry::start_with(RegistryOptions::private(USER, PASSWORD));
    let cert_dir = registry.cert_dir().expect("a TLS registry");
    let cert_dir = cert_dir.to_str().expect("a UTF-8 path");
    let image = work.build("stream");
    let destination = format!("docker://{}/private/refused:v1", registry.host);

    let wrong = format!("{USER}:not the password");
    let err = one_line(work.push(
        &image,
        &destination,
        &["--creds", &wrong, "--cert-dir", cert_dir],
    ));
    assert!(
        err.contains(&format!(
            "registry {} refused the credentials of user \"{USER}\" (from --creds)",
            registry.host
        )),
        "{err}"
    );
    assert!(!err.contains("not the password"), "{err}");

    let err = one_line(work.push(&image, &destination, &["--cert-dir", cert_dir]));
    let home = work.home();
    assert!(
        err.contains(&format!(
            "registry {} wants credentials, and stowage found none for it (looked in {}/.config/containers/auth.json, {}/.docker/config.json): give them with --authfile FILE or --creds USER:PASSWORD",
            registry.host,
            home.display(),
            home.display()
        )),
        "{err}"
    );

    // Destinations: a transport other than docker://, and a digest.
    registry.reset_count();
    let plain = format!("{}/private/refused:v1", registry.host);
    let err = one_line(work.push(&image, &plain, &[]));
    assert!(
        err.contains("the destination must be docker://[REGISTRY/]NAME[:TAG]"),
        "{err}"
    );
    let by_digest = format!(
        "docker://{}/private/refused@sha256:{}",
        registry.host,
        "0".repeat(64)
    );
    let err = one_line(work.push(&image, &by_digest, &[]));
    assert!(err.contains("names a tag, not a digest"), "{err}");
    assert_eq!(
        registry.uploaded_bytes(),
        0,
        "a bad destination reached the registry"
    );
}

#[test]
fn oci_with_zstd_is_pushed_and_podman_runs_it_and_docker_format_refuses_zstd() {
    let work = Work::new();
    let registry = Registry::start();
    let image = work.build("stream");
    let reference = engine_reference(&registry, "zstd");
    let out = pushed(work.push(
        &image,
        &format!("docker://{reference}"),
        &["--format", "oci", "--compress", "zstd"],
    ));
    let path = reference.split_once('/').expect("HOST/NAME").1;
    let manifest = raw_manifest(&registry, path);
    assert_eq!(
        manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json",
        "{manifest}"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    for layer in manifest["layers"].as_array().expect("layers") {
        assert_eq!(
            layer["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd",
            "{manifest}"
        );
    }
    assert_eq!(inspect(&registry, path, &[])["Digest"], out.digest.as_str());

    let _pulled = InEngine::pull(Engine::Podman, &reference);
    let said = Engine::Podman.run(&reference, &[], &[]);
    assert_eq!(said.trim_end(), HELLO_SAYS);

    // Docker's manifest has no zstd layers: refused before the image (missing here) is
    // read or the registry (nothing listens there) is reached.
    let missing = work.path().join("no-such-image");
    let err = one_line(work.push(
        &missing,
        "docker://127.0.0.1:1/refused:v1",
        &["--format", "docker", "--compress", "zstd"],
    ));
    assert!(err.contains("zstd"), "{err}");
    assert!(!err.contains("no-such-image"), "{err}");
}

#[test]
fn docker_pulls_and_runs_what_stowage_pushed() {
    let work = Work::new();
    let registry = Registry::start();
    let image = work.build("stream");
    let reference = engine_reference(&registry, "docker");
    let out = pushed(work.push(&image, &format!("docker://{reference}"), &[]));
    let _pulled = InEngine::pull(Engine::Docker, &reference);
    let digests = run_stdout(
        command(
            "docker",
            ["image", "inspect", "--format", "{{json .RepoDigests}}"],
        )
        .arg(&reference),
    );
    assert!(digests.contains(&out.digest), "{digests}");
    let said = Engine::Docker.run(&reference, &[], &[]);
    assert_eq!(said.trim_end(), HELLO_SAYS);
}

#[test]
fn an_index_of_two_platforms_is_pushed_as_an_index_or_a_manifest_list() {
    let work = Work::new();
    let registry = Registry::start();
    let (amd64, arm64) = (work.build("amd64"), work.build("arm64"));
    let index = work.path().join("index.json");
    let json = serde_json::json!({
        "stowageIndex": 1,
        "name": "multi",
        "tag": "v1",
        "images": [amd64, arm64],
    });
    std::fs::write(&index, json.to_string()).expect("write the index file");

    for (format, repository, media_type) in [
        (
            "oci",
            "multi-oci",
            "application/vnd.oci.image.index.v1+json",
        ),
        (
            "docker",
            "multi-docker",
            "application/vnd.docker.distribution.manifest.list.v2+json",
        ),
    ] {
        // Without a tag, the index file's.
        let destination = format!("docker://{}/{repository}", registry.host);
        let out = pushed(work.push(&index, &destination, &["--format", format]));
        assert_eq!(
            out.reference,
            format!("{}/{repository}:v1", registry.host),
            "{format}"
        );
        let top = raw_manifest(&registry, &format!("{repository}:v1"));
        assert_eq!(top["mediaType"], media_type, "{top}");
        let mut platforms: Vec<String> = top["manifests"]
            .as_array()
            .expect("an index's manifests")
            .iter()
            .map(|m| format!("{}/{}", m["platform"]["os"], m["platform"]["architecture"]))
            .collect();
        platforms.sort();
        assert_eq!(
            platforms,
            [r#""linux"/"amd64""#, r#""linux"/"arm64""#],
            "{top}"
        );
        let arm = inspect(
            &registry,
            &format!("{repository}:v1"),
            &["--override-arch", "arm64"],
        );
        assert_eq!(arm["Architecture"], "arm64", "{format}: {arm}");
        let amd = inspect(
            &registry,
            &format!("{repository}:v1"),
            &["--override-arch", "amd64"],
        );
        assert_eq!(amd["Architecture"], "amd64", "{format}: {amd}");
    }
}

#[test]
fn the_push_passthru_pushes_the_image() {
    let work = Work::new();
    let registry = Registry::start();
    let pusher = work.build("stream.push");
    let program = pusher.join("bin/push-hello");
    let mut cmd = Command::new(&program);
    work.isolate(&mut cmd);
    cmd.arg(format!("docker://{}/passthru:v1", registry.host));
    let out = pushed(cmd);
    assert_eq!(out.reference, format!("{}/passthru:v1", registry.host));
    assert_eq!(
        inspect(&registry, "passthru:v1", &[])["Digest"],
        out.digest.as_str()
    );
}

#[test]
fn archives_of_build_layered_image_and_build_image_keep_their_config() {
    let work = Work::new();
    let registry = Registry::start();
    for attr in ["layered-gz", "build-image"] {
        let image = work.build(attr);
        let archive = DockerArchive::open_any(&image);
        let destination = format!("docker://{}/{attr}:v1", registry.host);
        let out = pushed(work.push(&image, &destination, &[]));
        let manifest = raw_manifest(&registry, &format!("{attr}:v1"));
        assert_eq!(
            manifest["config"]["digest"].as_str(),
            Some(archive.image_id().as_str()),
            "{attr}: {manifest}"
        );
        assert_eq!(
            manifest["layers"].as_array().map(Vec::len),
            Some(archive.layers.len()),
            "{attr}"
        );
        assert_eq!(out.count("uploaded"), out.blobs(), "{attr}");

        // Docker pulls it under the same image ID as the archive's.
        let reference = format!("{}/{attr}:v1", registry.host);
        let _pulled = InEngine::pull(Engine::Docker, &reference);
        assert_eq!(
            Engine::Docker.inspect(&reference)["Id"],
            archive.image_id().as_str(),
            "{attr}"
        );
    }
}
