//! `compressor` compresses the whole archive: the name gets `.tar.gz` or `.tar.zst`, the
//! decompressed bytes are the uncompressed image's, and the engines load it (Docker 20.10
//! refuses zstd archives, so podman loads that one).

mod common;

use common::{command, nix_build, run, run_stdout, temp_dir, Engine};

/// Builds the snapshot image of tests/nix/images.nix compressed (attribute `attr`):
/// its name ends in `suffix`, `tool -dc` gives the uncompressed image's bytes, and
/// `engine` loads the compressed file as it is, printing `loaded_says`.
fn compressed_snapshot(attr: &str, suffix: &str, tool: &str, engine: Engine, loaded_says: &str) {
    let dir = temp_dir();
    let plain = nix_build("tests/nix/images.nix", "snapshot", dir.path());
    let compressed = nix_build("tests/nix/images.nix", attr, dir.path());
    assert!(
        compressed.to_string_lossy().ends_with(suffix),
        "{}",
        compressed.display()
    );
    assert!(
        run(command(tool, ["-dc"]).arg(&compressed)).stdout
            == std::fs::read(&plain).expect("read the plain archive"),
        "{tool} -dc {} differs from {}",
        compressed.display(),
        plain.display()
    );
    let loaded = run_stdout(command(engine.program(), ["load", "-i"]).arg(&compressed));
    assert!(
        loaded.contains(loaded_says),
        "{} load printed {loaded:?}",
        engine.program()
    );
}

#[test]
fn gzip_archive_is_the_tar_compressed_and_docker_loads_it() {
    compressed_snapshot(
        "snapshot-gz",
        "-snapshot.tar.gz",
        "gzip",
        Engine::Docker,
        "Loaded image: stowage-e2e/snapshot:v1",
    );
}

#[test]
fn zstd_archive_is_the_tar_compressed_and_podman_loads_it() {
    compressed_snapshot(
        "snapshot-zstd",
        "-snapshot.tar.zst",
        "zstd",
        Engine::Podman,
        "stowage-e2e/snapshot:v1",
    );
}
