//! examples/hello.nix built by Nix in the sandbox, loaded and run by real engines:
//! Docker and podman (with runc). A missing or failing engine fails the test.

mod common;

use common::{command, nix_build, run_stdout, stream_into, temp_dir, DockerArchive, Engine};

const GREETING: &str = "Hello from a stowage image";

/// Loads examples/hello.nix into `engine`, which prints `loaded_says`, and runs it.
fn loads_and_runs_the_hello_image(engine: Engine, loaded_says: &str) {
    let dir = temp_dir();
    let image = nix_build("examples/hello.nix", "", dir.path());
    let archive = DockerArchive::open(&image);

    let loaded = engine.load(&image);
    assert!(
        loaded.contains(loaded_says),
        "{} load printed {loaded:?}",
        engine.program()
    );
    // Run by ID: other tests may load into the same tag concurrently.
    let output = engine.run(&archive.image_id(), &[], &[]);
    assert_eq!(output.trim_end(), GREETING);
}

#[test]
fn docker_loads_and_runs_the_hello_image() {
    loads_and_runs_the_hello_image(Engine::Docker, "Loaded image: hello:latest");
}

#[test]
fn podman_loads_and_runs_the_hello_image() {
    loads_and_runs_the_hello_image(Engine::Podman, "hello:latest");
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
