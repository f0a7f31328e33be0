//! The same inputs give the same bytes: whatever the time zone, umask or locale of the
//! caller, whether `nix-store --optimise` has hard-linked the store, and when Nix
//! rebuilds the image to check it.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::{
    command, nix_build, nix_build_command, nix_eval_json, run, sha256_file, stowage_binary,
    temp_dir,
};

/// Runs `stowage build <conf> -o <out>` through `sh -c` with the given umask and extra
/// environment, and returns the archive's SHA-256.
fn build_archive(conf: &Path, out: &Path, umask: &str, env: &[(&str, &str)]) -> String {
    let mut cmd = command(
        "sh",
        [
            "-c",
            &format!("umask {umask}; exec \"$0\" build \"$1\" -o \"$2\""),
        ],
    );
    cmd.arg(stowage_binary())
        .arg(conf)
        .arg(out)
        .envs(env.iter().copied());
    run(&mut cmd);
    sha256_file(out)
}

#[test]
fn archives_do_not_depend_on_the_environment_or_store_optimisation() {
    let dir = temp_dir();
    // hello: busybox-tools, whose bin/busybox has the same bytes as the imported busybox.
    // snapshot: a fixture tree holding two files with the same bytes.
    let images = [
        ("examples/hello.nix", "", "stream"),
        ("tests/nix/images.nix", "snapshot", "snapshot.stream"),
    ];
    let mut scripts = Vec::new();
    for (i, (file, image_attr, stream_attr)) in images.into_iter().enumerate() {
        let image = nix_build(file, image_attr, dir.path());
        let script = nix_build(file, stream_attr, dir.path());
        let nix_built = sha256_file(&image);
        let utc = build_archive(
            &script,
            &dir.path().join(format!("{i}-utc.tar")),
            "022",
            &[("TZ", "UTC"), ("LANG", "C"), ("LC_ALL", "C")],
        );
        let tokyo = build_archive(
            &script,
            &dir.path().join(format!("{i}-tokyo.tar")),
            "077",
            &[
                ("TZ", "Asia/Tokyo"),
                ("LANG", "de_DE.UTF-8"),
                ("LC_ALL", "de_DE.UTF-8"),
            ],
        );
        assert_eq!(
            utc, tokyo,
            "{file}: time zone, umask or locale changed the archive"
        );
        assert_eq!(
            utc, nix_built,
            "{file}: `stowage build` and the Nix build differ"
        );
        scripts.push((file, script, utc));
    }

    // Store optimisation hard-links files with the same bytes; the links must not show
    // up in the layers, as hard-link members or otherwise.
    run(command("nix-store", ["--optimise"]));
    let tree = nix_eval_json("(import ./tests/nix/images.nix { inherit stowageBinary; }).tree");
    let readme = Path::new(tree.as_str().expect("tree path")).join("share/doc/README");
    let links = std::fs::metadata(&readme)
        .expect("stat the fixture")
        .nlink();
    assert!(
        links > 1,
        "nix-store --optimise did not hard-link {}",
        readme.display()
    );

    for (i, (file, script, before)) in scripts.into_iter().enumerate() {
        let optimised = build_archive(
            &script,
            &dir.path().join(format!("{i}-optimised.tar")),
            "022",
            &[],
        );
        assert_eq!(
            before, optimised,
            "{file}: nix-store --optimise changed the archive"
        );
    }
}

#[test]
fn nix_build_check_rebuilds_the_same_bytes() {
    let dir = temp_dir();
    nix_build("examples/hello.nix", "", dir.path());
    nix_build("examples/hello.nix", "stream", dir.path());
    // --check builds the derivation again and fails if any output byte differs.
    run(nix_build_command(
        "examples/hello.nix",
        "",
        &["--check", "--no-out-link"],
    ));
    run(nix_build_command(
        "examples/hello.nix",
        "stream",
        &["--check", "--no-out-link"],
    ));
}
