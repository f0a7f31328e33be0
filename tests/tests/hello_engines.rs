//! examples/hello.nix built by Nix in the sandbox, loaded and run by real engines:
//! Docker and podman (with runc). A missing or failing engine fails the test.

mod common;

use common::{command, nix_build, run_stdout, stream_into, temp_dir, DockerArchive, Engine};

const GREETING: &str = "Hello from a stowage image";

#[test]
fn docker_loads_and_runs_the_hello_image() {
    let dir = temp_dir();
    let image = nix_build("examples/hello.nix", "", dir.path());
    let archive = DockerArchive::open(&image);

    let loaded = run_stdout(command("docker", ["load", "-i"]).arg(&image));
    assert!(
        loaded.contains("Loaded image: hello:latest"),
        "docker load printed {loaded:?}"
    );
    // Run by ID: other tests may load into the same tag concurrently.
    let id = archive.image_id();
    let output = run_stdout(command(
        "docker",
        ["run", "--rm", "--network=none", id.as_str()],
    ));
    assert_eq!(output.trim_end(), GREETING);
}

#[test]
fn podman_loads_and_runs_the_hello_image() {
    let dir = temp_dir();
    let image = nix_build("examples/hello.nix", "", dir.path());
    let archive = DockerArchive::open(&image);

    let loaded = run_stdout(command("podman", ["load", "-i"]).arg(&image));
    assert!(
        loaded.contains("hello:latest"),
        "podman load printed {loaded:?}"
    );
    let id = archive.image_id();
    // crun and podman's default ulimits fail on machines of this kind; runc works.
    let output = run_stdout(command(
        "podman",
        [
            "--runtime",
            "runc",
            "run",
            "--rm",
            "--network=none",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
            id.trim_start_matches("sha256:"),
        ],
    ));
    assert_eq!(output.trim_end(), GREETING);
}

#[test]
fn the_stream_script_loads_the_same_image_as_the_archive() {
    let dir = temp_dir();
    let image = nix_build("examples/hello.nix", "", dir.path());
    let script = nix_build("examples/hello.nix", "stream", dir.path());

    // `$script | docker load`, with both ends checked.
    let loaded = stream_into(&script, Engine::Docker);
    assert!(
        loaded.contains("Loaded image: hello:latest"),
        "docker load printed {loaded:?}"
    );

    let archive = DockerArchive::open(&image);
    let id = run_stdout(command(
        "docker",
        ["image", "inspect", "--format", "{{.Id}}", "hello:latest"],
    ));
    assert_eq!(id.trim(), archive.image_id());
}
