//! The exact shape of an image, pinned by snapshots: manifest.json, the image config and
//! every layer member (name, mode, owner, size, mtime, kind). The image is made only of
//! files in tests/nix/, so the snapshots hold on any machine; a change in them is a
//! change in what users get, to review with `cargo insta review`.

mod common;

use common::{layer_listing, nix_build, temp_dir, DockerArchive, OciLayout};

#[test]
fn snapshot_image_shape() {
    let dir = temp_dir();
    let image = nix_build("tests/nix/images.nix", "snapshot", dir.path());
    let bytes = std::fs::read(&image).expect("read the image");
    let archive = DockerArchive::from_bytes(&bytes);

    // The builder must not leak into what it builds.
    let stowage = nix_build("nix/test-support.nix", "stowage", dir.path());
    let stowage_hash = &stowage.file_name().unwrap().to_string_lossy()[..32];
    assert!(
        !bytes.windows(32).any(|w| w == stowage_hash.as_bytes()),
        "the image mentions the stowage package {}",
        stowage.display()
    );

    insta::assert_json_snapshot!("members", archive.members);
    insta::assert_json_snapshot!("manifest", archive.manifest);
    insta::assert_json_snapshot!("config", archive.config);
    for (name, layer) in &archive.layers {
        insta::assert_snapshot!(name.replace('/', "_"), layer_listing(layer).join("\n"));
    }
}

/// The image above as an OCI layout: what `skopeo copy oci:` and a registry see. Layer
/// digests are of gzip blocks, so a change of the compressor (or its level) shows here.
#[test]
fn snapshot_oci_layout() {
    let layout = built_layout("snapshot-oci");
    let names: Vec<&String> = layout.files.keys().collect();
    insta::assert_json_snapshot!("oci_files", names);
    insta::assert_json_snapshot!("oci_index", layout.index());
    insta::assert_json_snapshot!("oci_manifest", layout.manifest());
    insta::assert_json_snapshot!("oci_config", layout.config());
}

/// An image index over that image for two architectures, as imageIndex's layout holds it.
#[test]
fn snapshot_image_index() {
    let layout = built_layout("snapshot-index");
    insta::assert_json_snapshot!("index_layout_index", layout.index());
    insta::assert_json_snapshot!("index_image_index", layout.manifest());
}

/// The OCI layout attribute `attr` of tests/nix/images.nix builds, read whole.
fn built_layout(attr: &str) -> OciLayout {
    let dir = temp_dir();
    OciLayout::open(&nix_build("tests/nix/images.nix", attr, dir.path()))
}
