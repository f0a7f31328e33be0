//! `stowage load`: images streamed into the running engines through their API sockets,
//! with no archive written: a stream script, a gzip buildLayeredImage archive and a
//! buildImage archive into Docker; a stream script and a zstd archive into a podman
//! service the test starts; the `.load` passthru built by nix-build and run; and the
//! errors a user meets (no engine at the socket, an archive the engine refuses), each
//! one line. A missing or failing engine fails the test, it never skips it.

mod common;

use common::{
    command, eval_in, nix_build, run_failing, run_stdout, stowage_binary, temp_dir, Engine,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The Nix file of the images loaded here.
const IMAGES: &str = "tests/nix/load.nix";

/// `stowage load IMAGE` followed by `args`: the command, not yet run.
fn stowage_load(image: &Path, args: &[&str]) -> Command {
    let mut cmd = command(stowage_binary().to_str().expect("a UTF-8 path"), ["load"]);
    cmd.arg(image).args(args);
    cmd
}

/// A tag loaded into an engine, removed from it when dropped (also when the test fails).
struct Tagged {
    engine: Engine,
    tag: &'static str,
}

impl Drop for Tagged {
    fn drop(&mut self) {
        let _ = Command::new(self.engine.program())
            .args(["rmi", self.tag])
            .output();
    }
}

/// Builds `attr` of the images, loads it with `stowage load` and `args` into `engine`,
/// which must report `tag` loaded (`Loaded image: …`, as the engine names it:
/// podman puts `localhost/` before a name without a registry), and runs it, which must
/// print `says`.
fn loads_and_runs(attr: &str, args: &[&str], engine: Engine, tag: &'static str, says: &str) {
    let dir = temp_dir();
    let image = nix_build(IMAGES, attr, dir.path());
    let _tagged = Tagged { engine, tag };
    let loaded = run_stdout(stowage_load(&image, args));
    let named = match engine {
        Engine::Docker => tag.to_owned(),
        Engine::Podman => format!("localhost/{tag}"),
    };
    assert_eq!(loaded, format!("Loaded image: {named}\n"));
    assert_eq!(engine.run(tag, &[], &[]).trim_end(), says);
}

#[test]
fn a_stream_script_loads_into_docker_and_runs() {
    loads_and_runs(
        "stream",
        &[],
        Engine::Docker,
        "stowage-e2e/load-stream:v1",
        "loaded from a stream script",
    );
}

#[test]
fn a_stream_script_loads_under_the_tag_given_with_t() {
    loads_and_runs(
        "stream",
        &["-t", "stowage-e2e/load-retagged:t1"],
        Engine::Docker,
        "stowage-e2e/load-retagged:t1",
        "loaded from a stream script",
    );
}

#[test]
fn a_gzip_layered_archive_loads_into_docker_and_runs() {
    loads_and_runs(
        "layered-gz",
        &[],
        Engine::Docker,
        "stowage-e2e/load-layered:v1",
        "loaded from a gzip archive",
    );
}

#[test]
fn a_build_image_archive_loads_into_docker_and_runs() {
    loads_and_runs(
        "build-image",
        &[],
        Engine::Docker,
        "stowage-e2e/load-build-image:v1",
        "loaded from a buildImage archive",
    );
}

/// A `podman system service` on a socket of its own, stopped when dropped; it also
/// stops by itself 120 s after its last request.
struct PodmanService {
    child: Child,
    socket: PathBuf,
}

impl PodmanService {
    /// Starts the service on `dir/podman.sock` and waits (at most 30 s) for the socket.
    fn start(dir: &Path) -> PodmanService {
        let socket = dir.join("podman.sock");
        // Its chatter (what each load copies) goes to a log, shown if it fails to start.
        let log = dir.join("podman-service.log");
        let output = std::fs::File::create(&log).expect("create the service's log");
        let child = Command::new("podman")
            .args(["system", "service", "--time=120"])
            .arg(format!("unix://{}", socket.display()))
            .stdout(output.try_clone().expect("the log twice"))
            .stderr(output)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `podman system service`: {e}"));
        let service = PodmanService { child, socket };
        let started = Instant::now();
        while !service.socket.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "podman system service made no socket at {} in 30 s; its log:\n{}",
                service.socket.display(),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        service
    }

    /// The service's address, as `--host` and `CONTAINER_HOST` take it.
    fn address(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

impl Drop for PodmanService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn podman_loads_through_its_service_socket() {
    let dir = temp_dir();
    let service = PodmanService::start(dir.path());
    loads_and_runs(
        "podman-stream",
        &["--host", &service.address()],
        Engine::Podman,
        "stowage-e2e/load-podman-stream:v1",
        "podman loaded a stream script",
    );

    // --podman finds the service through CONTAINER_HOST, as podman's own client does;
    // the zstd archive goes over decompressed.
    let image = nix_build(IMAGES, "podman-zstd", dir.path());
    assert!(image.to_string_lossy().ends_with(".tar.zst"));
    let tag = "stowage-e2e/load-podman-zstd:v1";
    let _tagged = Tagged {
        engine: Engine::Podman,
        tag,
    };
    let mut load = stowage_load(&image, &["--podman"]);
    load.env("CONTAINER_HOST", service.address());
    assert_eq!(run_stdout(load), format!("Loaded image: localhost/{tag}\n"));
    let says = Engine::Podman.run(tag, &[], &[]);
    assert_eq!(says.trim_end(), "podman loaded a zstd archive");
}

#[test]
fn the_load_passthru_built_by_nix_loads_the_image() {
    let dir = temp_dir();
    let loader = nix_build(IMAGES, "passthru.load", dir.path());
    let program = eval_in(IMAGES, "l.passthru.load.meta.mainProgram");
    let program = program.as_str().expect("mainProgram is a string");
    assert_eq!(program, "load-load-passthru");
    // A stream script's loader holds no archive: the image is written as it is sent.
    let closure = run_stdout(command("nix-store", ["--query", "--requisites"]).arg(&loader));
    assert!(
        !closure.lines().any(|p| p.contains(".tar")),
        "the loader's closure holds an archive:\n{closure}"
    );

    let tag = "stowage-e2e/load-passthru:v1";
    let _tagged = Tagged {
        engine: Engine::Docker,
        tag,
    };
    let loaded = run_stdout(Command::new(loader.join("bin").join(program)));
    assert_eq!(loaded, format!("Loaded image: {tag}\n"));
    let says = Engine::Docker.run(tag, &[], &[]);
    assert_eq!(says.trim_end(), "loaded by the load passthru");
}

#[test]
fn every_image_function_gives_a_load_passthru() {
    let programs = eval_in(
        "nix/test-support.nix",
        r#"let
          image = { name = "p/q"; tag = "t"; };
          built = l.lib.buildLayeredImage image;
        in map (i: i.load.meta.mainProgram) [
          (l.lib.streamLayeredImage image)
          built
          built.stream
          (l.lib.buildLayeredImageWithNixDb image)
          (l.lib.buildImage image)
          (l.lib.buildImageWithNixDb image)
          (l.lib.streamNixShellImage { drv = l.packages.hello; name = "p/q"; })
          (l.lib.buildNixShellImage { drv = l.packages.hello; name = "p/q"; })
          (l.lib.mergeImages [ built ])
          (l.lib.pullImage { imageName = "nixos/nix"; imageDigest = "sha256:0"; hash = ""; finalImageName = "r/q"; })
        ]"#,
    );
    let mut expected = vec!["load-q"; 8];
    expected.extend(["load-merge-docker-images", "load-q"]);
    assert_eq!(programs, serde_json::json!(expected));
}

#[test]
fn a_missing_socket_is_one_error_that_says_what_to_do() {
    let dir = temp_dir();
    let image = nix_build(IMAGES, "stream", dir.path());
    let socket = dir.path().join("no-engine.sock");
    let address = format!("unix://{}", socket.display());
    let stderr = run_failing(stowage_load(&image, &["--host", &address]));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "stowage: container engine at {}: no such socket; is the engine running?",
            socket.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("`podman system service`"), "{stderr}");
}

#[test]
fn a_garbage_archive_is_the_engines_refusal_in_one_line() {
    let dir = temp_dir();
    // Bytes that are no tar, more than a socket buffer holds: the engine may stop
    // reading before the end, and its verdict must still be what is reported.
    let garbage = dir.path().join("garbage.tar");
    std::fs::write(&garbage, b"not an image archive\n".repeat(200_000)).unwrap();
    let stderr = run_failing(stowage_load(&garbage, &[]));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(
            "stowage: container engine at /var/run/docker.sock: it refused the image: "
        ),
        "{stderr}"
    );
}
