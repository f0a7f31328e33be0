//! mergeImages, with the images of tests/nix/merge.nix: archives built with the library
//! (one per compressor, one on another's layers, one with the hash tag, one with owners
//! from fakeRootCommands, one made by buildImage with runAsRoot) merged into one that a
//! single `docker load` or `podman load` loads with every tag, each image running as
//! before. Also `stowage merge` of a
//! `docker save` of several images, the evaluation errors, and the merged manifest
//! pinned by a snapshot.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{
    archive_bytes, command, nix_build, nix_instantiate_command, run, run_failing, stowage_binary,
    tar_members, temp_dir, DockerArchive, Engine,
};
use serde_json::Value;

/// The Nix file of the images these tests build.
const MERGE: &str = "tests/nix/merge.nix";

/// The images both merges hold, by attribute, each with the line it prints.
const IMAGES: [(&str, &str); 6] = [
    ("gz", "merged-gz"),
    ("none", "merged-none"),
    ("zstd", "merged-zstd"),
    ("untagged", "merged-untagged"),
    ("onBase", "merged-on-base"),
    ("redis", "merged-redis"),
];

const GZIP: &[u8] = &[0x1f, 0x8b];
const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// The members of an archive file (decompressed first if need be), by name.
fn members(archive: &Path) -> Vec<(String, Vec<u8>)> {
    tar_members(&archive_bytes(archive))
}

/// The member `name` of `members`, parsed as JSON.
fn json_member(members: &[(String, Vec<u8>)], name: &str) -> Value {
    let (_, bytes) = members
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no member {name}"));
    serde_json::from_slice(bytes).expect("a JSON member")
}

/// Asserts that the file at `path` starts with `magic` (its compression).
fn assert_compressed(path: &Path, magic: &[u8]) {
    let bytes = std::fs::read(path).expect("read the merged archive");
    assert!(
        bytes.starts_with(magic),
        "{} starts with {:02x?}, not {magic:02x?}",
        path.display(),
        &bytes[..4.min(bytes.len())]
    );
}

/// Asserts that `merged` holds each of `inputs`' configs byte for byte (so image IDs
/// are unchanged) and each distinct layer exactly once.
fn assert_holds_each_once(merged: &Path, inputs: &[&DockerArchive]) {
    let members = members(merged);
    let mut diff_ids = BTreeSet::new();
    for input in inputs {
        let config = members
            .iter()
            .find(|(name, _)| *name == format!("{}.json", &input.image_id()[7..]))
            .unwrap_or_else(|| panic!("no config of {}", input.repo_tag()));
        assert_eq!(config.1, input.config_bytes, "{}", input.repo_tag());
        diff_ids.extend(input.diff_ids());
    }
    let layers: Vec<&str> = members
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| name.ends_with("/layer.tar"))
        .collect();
    let expected: Vec<String> = diff_ids
        .iter()
        .map(|d| format!("{}/layer.tar", &d[7..]))
        .collect();
    let mut sorted = layers.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "one member per distinct layer");
}

/// Asserts that `engine` loaded each of `images` under its tag: the tag names the
/// image's ID, and a container of it prints `says`.
fn assert_each_runs(engine: Engine, loaded: &str, images: &[(DockerArchive, &str)]) {
    for (image, says) in images {
        let tag = image.repo_tag();
        assert!(
            loaded.contains(&tag),
            "{engine:?} loaded no {tag}: {loaded}"
        );
        let id = engine.inspect(&tag)["Id"].as_str().unwrap_or("").to_owned();
        assert_eq!(
            id.trim_start_matches("sha256:"),
            &image.image_id()[7..],
            "{engine:?}: {tag}"
        );
        assert_eq!(engine.run(&image.image_id(), &[], &[]), format!("{says}\n"));
    }
}

/// Builds the input images of `names` with their result links in `dir`.
fn inputs(
    names: &[(&str, &'static str)],
    dir: &Path,
) -> Vec<(PathBuf, DockerArchive, &'static str)> {
    names
        .iter()
        .map(|(attr, says)| {
            let path = nix_build(MERGE, attr, dir);
            let archive = DockerArchive::open_any(&path);
            (path, archive, *says)
        })
        .collect()
}

/// Builds the merge `attr`, checks its compression (`magic`) and contents against
/// [`IMAGES`], loads it as it is into `engine` and runs every image; the owners
/// fakeRootCommands gave `none` survive.
fn merged_loads_and_runs(attr: &str, magic: &[u8], engine: Engine) {
    let dir = temp_dir();
    let merged = nix_build(MERGE, attr, dir.path());
    assert!(
        merged.to_string_lossy().ends_with("-merge-docker-images"),
        "{}",
        merged.display()
    );
    assert_compressed(&merged, magic);
    let images: Vec<(DockerArchive, &str)> = inputs(&IMAGES, dir.path())
        .into_iter()
        .map(|(_, archive, says)| (archive, says))
        .collect();
    let archives: Vec<&DockerArchive> = images.iter().map(|(a, _)| a).collect();
    assert_holds_each_once(&merged, &archives);

    let loaded = engine.load(&merged);
    assert_each_runs(engine, &loaded, &images);
    let none = &images[1].0;
    let owner = engine.run(
        &none.image_id(),
        &[],
        &["/bin/sh", "-c", "stat -c %u:%g /home/alice"],
    );
    assert_eq!(owner, "1000:1000\n");
}

#[test]
fn docker_loads_every_image_of_a_merge_ending_in_gzip_and_each_runs() {
    merged_loads_and_runs("forDocker", GZIP, Engine::Docker);
}

#[test]
fn podman_loads_every_image_of_a_merge_ending_in_zstd_and_each_runs() {
    merged_loads_and_runs("forPodman", ZSTD, Engine::Podman);
}

/// `docker save` of two images (one archive, two manifest entries, Docker's own layer
/// names) merged with a zstd archive of ours by `stowage merge`: compressed like the
/// last input, and podman loads all three.
#[test]
fn stowage_merge_takes_a_docker_save_of_several_images() {
    let dir = temp_dir();
    let built = inputs(&IMAGES[..3], dir.path());
    for (path, _, _) in &built[..2] {
        Engine::Docker.load(path);
    }
    let saved = dir.path().join("saved.tar");
    run(command("docker", ["save", "-o"])
        .arg(&saved)
        .args(built[..2].iter().map(|(_, archive, _)| archive.repo_tag())));
    let merged = dir.path().join("merged");
    let stowage = stowage_binary();
    run(
        command(stowage.to_str().expect("a UTF-8 path"), ["merge", "-o"])
            .arg(&merged)
            .arg(&saved)
            .arg(&built[2].0),
    );
    assert_compressed(&merged, ZSTD);

    let images: Vec<(DockerArchive, &str)> = built
        .into_iter()
        .map(|(_, archive, says)| (archive, says))
        .collect();
    let archives: Vec<&DockerArchive> = images.iter().map(|(a, _)| a).collect();
    assert_holds_each_once(&merged, &archives);
    let loaded = Engine::Podman.load(&merged);
    assert_each_runs(Engine::Podman, &loaded, &images);
}

#[test]
fn evaluation_refuses_an_empty_list_a_non_list_and_a_stream_script() {
    for (attr, message) in [
        (
            "errors.empty",
            "error: stowage: mergeImages: the list of images is empty; give at least one image archive",
        ),
        (
            "errors.notAList",
            "error: stowage: mergeImages takes a list of image archives, got a set",
        ),
        (
            "errors.streamScript",
            "error: stowage: mergeImages: stowage-merge/stream is a streamLayeredImage script, \
             not an archive; merge buildLayeredImage results",
        ),
    ] {
        let stderr = run_failing(nix_instantiate_command(MERGE, attr));
        assert!(stderr.contains(message), "{attr}: {stderr}");
    }
}

/// The merge of images made only of files in tests/nix (so the same on every machine):
/// member order and names, manifest.json and repositories.
#[test]
fn snapshot_of_the_merged_archive() {
    let dir = temp_dir();
    let merged = nix_build(MERGE, "snapshot", dir.path());
    assert_compressed(&merged, ZSTD);
    let members = members(&merged);
    let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
    insta::assert_json_snapshot!("merged_members", names);
    insta::assert_json_snapshot!("merged_manifest", json_member(&members, "manifest.json"));
    insta::assert_json_snapshot!("merged_repositories", json_member(&members, "repositories"));
}
