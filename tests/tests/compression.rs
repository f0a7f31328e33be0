//! `compressor` compresses the whole archive: the name gets `.tar.gz` or `.tar.zst`, the
//! decompressed bytes are the uncompressed image's, and the engines load it (Docker 20.10
//! refuses zstd archives, so podman loads that one).

mod common;

use std::path::Path;

use common::{command, nix_build, run, run_stdout, temp_dir};

/// The bytes `tool -dc file` decompresses.
fn decompress(tool: &str, file: &Path) -> Vec<u8> {
    run(command(tool, ["-dc"]).arg(file)).stdout
}

#[test]
fn gzip_archive_is_the_tar_compressed_and_docker_loads_it() {
    let dir = temp_dir();
    let plain = nix_build("tests/nix/images.nix", "snapshot", dir.path());
    let gz = nix_build("tests/nix/images.nix", "snapshot-gz", dir.path());
    assert!(
        gz.to_string_lossy().ends_with("-snapshot.tar.gz"),
        "{}",
        gz.display()
    );
    assert!(
        decompress("gzip", &gz) == std::fs::read(&plain).expect("read the plain archive"),
        "gzip -dc {} differs from {}",
        gz.display(),
        plain.display()
    );
    let loaded = run_stdout(command("docker", ["load", "-i"]).arg(&gz));
    assert!(
        loaded.contains("Loaded image: stowage-e2e/snapshot:v1"),
        "docker load printed {loaded:?}"
    );
}

#[test]
fn zstd_archive_is_the_tar_compressed_and_podman_loads_it() {
    let dir = temp_dir();
    let plain = nix_build("tests/nix/images.nix", "snapshot", dir.path());
    let zst = nix_build("tests/nix/images.nix", "snapshot-zstd", dir.path());
    assert!(
        zst.to_string_lossy().ends_with("-snapshot.tar.zst"),
        "{}",
        zst.display()
    );
    assert!(
        decompress("zstd", &zst) == std::fs::read(&plain).expect("read the plain archive"),
        "zstd -dc {} differs from {}",
        zst.display(),
        plain.display()
    );
    let loaded = run_stdout(command("podman", ["load", "-i"]).arg(&zst));
    assert!(
        loaded.contains("stowage-e2e/snapshot:v1"),
        "podman load printed {loaded:?}"
    );
}
