//! streamNixShellImage and buildNixShellImage: twins of nixpkgs' docker-tools-nix-shell
//! subtests, with the busybox stand-ins of tests/nix/nix-shell.nix for stdenv, hello and
//! mkShell. Each image is streamed into the engine and run as the subtest runs it.

mod common;

use common::{
    build_archive, nix_build, nix_instantiate_command, run_failing, stream_into, temp_dir, Engine,
};

const IMAGES: &str = "tests/nix/nix-shell.nix";

/// Streams `attr` into `engine` and runs it with `args` (none: its Cmd); the container
/// must exit 0. Returns what it printed.
fn run_shell_image(attr: &str, engine: Engine, args: &[&str]) -> String {
    let dir = temp_dir();
    let script = nix_build(IMAGES, attr, dir.path());
    let loaded = stream_into(&script, engine);
    let name = loaded
        .lines()
        .find_map(|l| l.strip_prefix("Loaded image: "))
        .unwrap_or_else(|| panic!("no image named in {loaded:?}"))
        .trim();
    engine.run(name, &[], args)
}

fn assert_prints(attr: &str, args: &[&str], expected: &str) {
    for engine in [Engine::Docker, Engine::Podman] {
        let out = run_shell_image(attr, engine, args);
        assert!(out.contains(expected), "{attr} in {engine:?}: {out:?}");
    }
}

/// N2: the derivation builds inside the container and its result runs.
#[test]
fn a_basic_derivation_builds_inside() {
    let out = run_shell_image(
        "basic",
        Engine::Docker,
        &["bash", "-c", "buildDerivation && $out/bin/hello"],
    );
    assert_eq!(out, "Hello, world!\n");
}

/// buildNixShellImage: the same image as a gzip archive in the store.
#[test]
fn build_nix_shell_image_is_a_gzip_archive_of_it() {
    let dir = temp_dir();
    let (image, archive) = build_archive(IMAGES, "basicArchive", dir.path());
    assert!(
        image.to_string_lossy().ends_with("-basic-archive.tar.gz"),
        "{}",
        image.display()
    );
    Engine::Docker.load(&image);
    let out = Engine::Docker.run(
        &archive.image_id(),
        &[],
        &["bash", "-c", "buildDerivation && $out/bin/hello"],
    );
    assert_eq!(out, "Hello, world!\n");
    assert_eq!(archive.config["config"]["User"], "1000:1000");
    assert_eq!(archive.config["config"]["WorkingDir"], "/build");
}

/// N3: the shell hook runs.
#[test]
fn the_shell_hook_runs() {
    assert_prints("hook", &[], "This is the shell hook!");
}

/// N4: stdenv's setup is sourced, so the build inputs are on PATH.
#[test]
fn build_inputs_are_on_path() {
    assert_prints("inputs", &[], "Hello, world!");
}

/// N5: passAsFile attributes are files named by `<attr>Path`.
#[test]
fn pass_as_file_works() {
    assert_prints("passAsFile", &[], "this is a string");
}

/// N6 and N7: `run` is non-interactive, `command` interactive.
#[test]
fn run_is_not_interactive_and_command_is() {
    assert_prints("run", &[], "This shell is not interactive");
    assert_prints("command", &[], "This shell is interactive");
}

/// N8 and N9: $HOME is the build user's home, writable by default, and may not exist.
#[test]
fn the_home_directory_is_writable_or_absent() {
    assert_prints("writableHome", &[], "home is writable");
    assert_prints("nonexistentHome", &[], "home does not exist");
}

/// N10: `buildDerivation` from a `run` script.
#[test]
fn derivations_build_from_run() {
    assert_prints("buildDerivation", &[], "Hello, world!");
}

#[test]
fn mistakes_are_named_at_evaluation() {
    let err = run_failing(nix_instantiate_command(IMAGES, "commandAndRun"));
    assert!(
        err.contains("stowage: streamNixShellImage: give command or run, not both"),
        "{err}"
    );
    let err = run_failing(nix_instantiate_command(IMAGES, "structured"));
    assert!(
        err.contains(
            "stowage: streamNixShellImage: the derivation nix-shell uses __structuredAttrs"
        ),
        "{err}"
    );
}
