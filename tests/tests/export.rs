//! exportImage (tests/nix/export.nix): an image built with the library, on a base
//! whose files its layer deletes with whiteouts, flattened into a root filesystem
//! tarball. Checked with `tar -tf` as nixpkgs' test does, against what Docker shows of
//! a container of the same image, by running the tarball imported as an image, and for
//! the same bytes on every build, from every argument spelling and from the CLI.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use common::{
    command, layer_entries, nix_build, nix_build_command, nix_instantiate_command, run,
    run_failing, run_stdout, sha256, sha256_file, stowage_binary, tar_members, temp_dir, Engine,
};

/// The Nix file of the images these tests build.
const EXPORT: &str = "tests/nix/export.nix";

/// The member names `tar -tf` lists for `tarball`.
fn tar_list(tarball: &Path) -> Vec<String> {
    let listing = run_stdout(command("tar", ["-tf"]).arg(tarball));
    listing.lines().map(str::to_owned).collect()
}

/// Each member of a root filesystem tarball by name (without `./` or a trailing `/`,
/// the root left out): its kind, mode, owner and size, and its content's digest or its
/// link target. Time stamps are left out: a container's differ.
fn tree(tarball: &[u8]) -> BTreeMap<String, String> {
    let contents: BTreeMap<String, Vec<u8>> = tar_members(tarball).into_iter().collect();
    layer_entries(tarball)
        .into_iter()
        .filter_map(|e| {
            let name = e.path.trim_start_matches("./").trim_end_matches('/');
            if name.is_empty() || name == "." {
                return None;
            }
            let what = match &e.link {
                Some(target) => format!("-> {target}"),
                None => sha256(&contents[&e.path]),
            };
            let line = format!(
                "{:?} {:o} {}:{} {} {what}",
                e.entry_type,
                e.mode & 0o7777, // Docker's writer adds the file type bits
                e.uid,
                e.gid,
                e.size
            );
            Some((name.to_owned(), line))
        })
        .collect()
}

/// What a container runtime adds to every container's root (besides `dev/…`).
const MADE_BY_THE_RUNTIME: [&str; 8] = [
    ".dockerenv",
    "dev",
    "proc",
    "sys",
    "etc/hostname",
    "etc/hosts",
    "etc/mtab",
    "etc/resolv.conf",
];

#[test]
fn the_exported_root_has_the_top_files_and_not_the_deleted_ones() {
    let dir = temp_dir();
    let root = nix_build(EXPORT, "exported", dir.path());
    let names = tar_list(&root);
    assert_eq!(names[0], "./", "the root comes first");
    assert!(names.iter().all(|n| n.starts_with("./")), "{names:?}");
    for present in [
        "./bin/sh",
        "./bin/busybox",
        "./etc/kept",
        "./etc/changed",
        "./opaque-dir/upper",
    ] {
        assert!(names.iter().any(|n| n == present), "{present} missing");
    }
    for absent in ["./etc/doomed", "./doomed-dir/", "./opaque-dir/lower"] {
        assert!(!names.iter().any(|n| n == absent), "{absent} survived");
    }
    assert!(
        !names.iter().any(|n| n.contains(".wh.")),
        "a whiteout was written"
    );
    let busybox = names
        .iter()
        .find(|n| n.starts_with("./nix/store/") && n.ends_with("-busybox-tools/bin/busybox"));
    assert!(busybox.is_some(), "the store paths are in the root");
    let files: BTreeMap<String, Vec<u8>> = tar_members(&std::fs::read(&root).unwrap())
        .into_iter()
        .collect();
    assert_eq!(files["./etc/changed"], b"after\n");

    // The base alone (a gzip archive) still has what the whiteouts deleted.
    let base = tar_list(&nix_build(EXPORT, "exportedBase", dir.path()));
    for below in [
        "./etc/doomed",
        "./doomed-dir/sub/file",
        "./opaque-dir/lower",
    ] {
        assert!(
            base.iter().any(|n| n == below),
            "{below} missing in the base"
        );
    }
}

#[test]
fn the_exported_root_is_what_docker_shows_of_a_container() {
    let dir = temp_dir();
    let image = nix_build(EXPORT, "top", dir.path());
    let root = nix_build(EXPORT, "exported", dir.path());
    Engine::Docker.load(&image);
    let created = run_stdout(command(
        "docker",
        ["create", "stowage-export/top:v1", "/bin/true"],
    ));
    let container = created.trim();
    let exported = run(command("docker", ["export", container])).stdout;
    run(command("docker", ["rm", container]));

    let mut docker = tree(&exported);
    docker.retain(|name, _| {
        !MADE_BY_THE_RUNTIME.contains(&name.as_str()) && !name.starts_with("dev/")
    });
    let ours = tree(&std::fs::read(&root).unwrap());
    let names: BTreeSet<&String> = ours.keys().chain(docker.keys()).collect();
    let differ: Vec<String> = names
        .into_iter()
        .filter(|name| ours.get(*name) != docker.get(*name))
        .map(|name| {
            format!(
                "{name}: ours {:?}, docker's {:?}",
                ours.get(name),
                docker.get(name)
            )
        })
        .collect();
    let first: Vec<_> = differ.iter().take(5).collect();
    assert!(
        differ.is_empty(),
        "{} members differ, first {first:#?}",
        differ.len()
    );
}

#[test]
fn the_exported_root_runs_when_imported_as_an_image() {
    let dir = temp_dir();
    let root = nix_build(EXPORT, "exported", dir.path());
    let imported = run_stdout(command("docker", ["import"]).arg(&root));
    let id = imported.trim();
    let script = "cat /etc/kept /etc/changed; ls /opaque-dir; test ! -e /etc/doomed";
    let out = Engine::Docker.run(id, &[], &["/bin/sh", "-c", script]);
    run(command("docker", ["rmi", id]));
    assert_eq!(out, "kept\nafter\nupper\n");
}

#[test]
fn every_build_and_every_argument_spelling_give_the_same_bytes() {
    let dir = temp_dir();
    let root = nix_build(EXPORT, "exported", dir.path());
    let file = root.file_name().unwrap().to_string_lossy().into_owned();
    assert!(file.ends_with("-top.tar"), "named after fromImage: {file}");
    // --check builds the derivation again and fails if any output byte differs.
    run(nix_build_command(
        EXPORT,
        "exported",
        &["--check", "--no-out-link"],
    ));

    let digest = sha256_file(&root);
    let named = nix_build(EXPORT, "exportedWithArguments", dir.path());
    assert!(named.to_string_lossy().ends_with("-top-root.tar"));
    assert_eq!(sha256_file(&named), digest);

    let image = nix_build(EXPORT, "top", dir.path());
    let from_string = nix_build(EXPORT, "exportedFromString", dir.path());
    let image_base = image.file_name().unwrap().to_string_lossy().into_owned();
    let expected = format!("-{image_base}");
    assert!(from_string.to_string_lossy().ends_with(&expected));
    assert_eq!(sha256_file(&from_string), digest);

    let cli = dir.path().join("cli-root.tar");
    run(Command::new(stowage_binary())
        .arg("export")
        .arg(&image)
        .arg("-o")
        .arg(&cli));
    assert_eq!(
        sha256_file(&cli),
        digest,
        "stowage export and the Nix build differ"
    );
}

#[test]
fn an_unknown_argument_is_an_error() {
    let stderr = run_failing(nix_instantiate_command(EXPORT, "errors.unknownArgument"));
    assert!(
        stderr.contains("called with unexpected argument 'foo'"),
        "{stderr}"
    );
}
