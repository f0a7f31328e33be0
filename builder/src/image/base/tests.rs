//! Tests of reading base images: both archive styles, compressed archives and layers,
//! and the refusal of hostile, ambiguous or damaged archives.

use super::index::join_link;
use super::*;
use crate::tar::digest::Sha256Digest;
use serde_json::json;
use std::path::PathBuf;
use stowage_test_support::TarOut;

/// A small but real layer tar holding one file whose content is `text` repeated.
pub(crate) fn layer(text: &str, repeat: usize) -> Vec<u8> {
    TarOut::new()
        .file(&format!("etc/{text}"), text.repeat(repeat).as_bytes())
        .finish()
}

/// An image config whose diff_ids are `diff_ids` (written as given).
fn config_json(diff_ids: &[String]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "test"}],
    }))
    .unwrap()
}

/// The `sha256:` diff_ids of `layers`.
fn diff_ids_of(layers: &[Vec<u8>]) -> Vec<String> {
    layers
        .iter()
        .map(|l| format!("sha256:{}", Sha256Digest::of(l).hex()))
        .collect()
}

/// A one-image manifest.json.
fn manifest_json(config: &str, layers: &[String]) -> Vec<u8> {
    serde_json::to_vec(&json!([{
        "Config": config,
        "RepoTags": ["base:latest"],
        "Layers": layers,
    }]))
    .unwrap()
}

/// The layer member names `layers/<i>.tar`.
fn layer_names(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("layers/{i}.tar")).collect()
}

/// A `docker save`-style archive of `layers`, with a content-addressed config.
fn docker_save(layers: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
    let config = config_json(&diff_ids_of(layers));
    let config_name = format!("{}.json", Sha256Digest::of(&config).hex());
    let names = layer_names(layers.len());
    let mut out = TarOut::new().dir("layers/");
    for (name, data) in names.iter().zip(layers) {
        out = out.file(name, data);
    }
    let bytes = out
        .file(&config_name, &config)
        .file("manifest.json", &manifest_json(&config_name, &names))
        .finish();
    (bytes, config)
}

/// Writes `bytes` as `name` in `dir` and returns the path.
pub(crate) fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The error text of reading `path`, which must fail.
fn error_of(path: &Path) -> String {
    match read_base_image(path) {
        Ok(_) => panic!("{} was accepted", path.display()),
        Err(e) => e.to_string(),
    }
}

/// The bytes a blob's range covers.
pub(crate) fn blob_bytes(blob: &Blob) -> Vec<u8> {
    read_range(&blob.file, blob.offset, blob.size).unwrap()
}

/// Gzip-compresses `bytes`.
pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Asserts `image` holds exactly `layers` (bytes, order, digests, origins).
fn assert_layers(image: &BaseImage, path: &Path, layers: &[Vec<u8>], names: &[String]) {
    assert_eq!(image.layers.len(), layers.len());
    for ((blob, data), name) in image.layers.iter().zip(layers).zip(names) {
        assert_eq!(blob_bytes(blob), *data);
        assert_eq!(
            blob.expected_sha256.as_deref(),
            Some(&*Sha256Digest::of(data).hex())
        );
        assert_eq!(
            blob.origin,
            format!("base image {}: member {name}", path.display())
        );
    }
}

/// A plain docker-save archive yields its config and layer ranges, bottom first.
#[test]
fn new_style_plain() {
    let dir = tempfile::tempdir().unwrap();
    let layers = vec![layer("bottom", 300), layer("top", 2000)];
    let (bytes, config) = docker_save(&layers);
    let path = write(&dir, "base.tar", &bytes);
    let image = read_base_image(&path).unwrap();
    assert_eq!(
        image.config,
        serde_json::from_slice::<Value>(&config).unwrap()
    );
    assert_layers(&image, &path, &layers, &layer_names(2));
}

/// A gzip-compressed archive is decompressed once and indexed the same way.
#[test]
fn new_style_gzip_archive() {
    let dir = tempfile::tempdir().unwrap();
    let layers = vec![layer("a", 10), layer("b", 5000)];
    let (bytes, _) = docker_save(&layers);
    let path = write(&dir, "base.tar.gz", &gzip(&bytes));
    let image = read_base_image(&path).unwrap();
    assert_layers(&image, &path, &layers, &layer_names(2));
}

/// A zstd-compressed archive is decompressed once and indexed the same way.
#[test]
fn new_style_zstd_archive() {
    let dir = tempfile::tempdir().unwrap();
    let layers = vec![layer("z", 700)];
    let (bytes, _) = docker_save(&layers);
    let compressed = zstd::stream::encode_all(&bytes[..], 3).unwrap();
    let path = write(&dir, "base.tar.zst", &compressed);
    let image = read_base_image(&path).unwrap();
    assert_layers(&image, &path, &layers, &layer_names(1));
}

/// A gzip layer member becomes a decompressed copy; its diff_id covers the plain bytes.
#[test]
fn gzip_layer_member_is_decompressed() {
    let dir = tempfile::tempdir().unwrap();
    let plain = vec![layer("gz", 4000), layer("raw", 3)];
    let config = config_json(&diff_ids_of(&plain));
    let names = layer_names(2);
    let bytes = TarOut::new()
        .file(&names[0], &gzip(&plain[0]))
        .file(&names[1], &plain[1])
        .file("config.json", &config)
        .file("manifest.json", &manifest_json("config.json", &names))
        .finish();
    let path = write(&dir, "base.tar", &bytes);
    let image = read_base_image(&path).unwrap();
    assert_layers(&image, &path, &plain, &names);
    assert_eq!(image.layers[0].offset, 0);
}

/// A layer member that is a symlink to another layer member resolves to that member.
#[test]
fn docker_save_symlinked_duplicate_layer() {
    // docker save writes a layer that occurs twice once, and a symlink for the repeat.
    let dir = tempfile::tempdir().unwrap();
    let data = layer("same", 50);
    let layers = vec![data.clone(), data.clone()];
    let config = config_json(&diff_ids_of(&layers));
    let names = vec!["aaa/layer.tar".to_owned(), "bbb/layer.tar".to_owned()];
    let bytes = TarOut::new()
        .dir("aaa/")
        .file("aaa/layer.tar", &data)
        .dir("bbb/")
        .symlink("bbb/layer.tar", "../aaa/layer.tar")
        .file("config.json", &config)
        .file("manifest.json", &manifest_json("config.json", &names))
        .finish();
    let path = write(&dir, "base.tar", &bytes);
    let image = read_base_image(&path).unwrap();
    assert_layers(&image, &path, &layers, &names);
}

/// Docker 25+ `docker save`: an OCI layout (`index.json`, `oci-layout`, `blobs/sha256/…`)
/// whose `manifest.json` names the blobs as members.
#[test]
fn docker_25_oci_layout_archive() {
    let dir = tempfile::tempdir().unwrap();
    let layers = vec![layer("oci-bottom", 40), layer("oci-top", 90)];
    let config = config_json(&diff_ids_of(&layers));
    let blob = |bytes: &[u8]| format!("blobs/sha256/{}", Sha256Digest::of(bytes).hex());
    let names: Vec<String> = layers.iter().map(|l| blob(l)).collect();
    let mut archive = TarOut::new()
        .file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)
        .file("index.json", br#"{"schemaVersion":2,"manifests":[]}"#)
        .dir("blobs/")
        .dir("blobs/sha256/");
    for (name, data) in names.iter().zip(&layers) {
        archive = archive.file(name, data);
    }
    let bytes = archive
        .file(&blob(&config), &config)
        .file("manifest.json", &manifest_json(&blob(&config), &names))
        .finish();
    let path = write(&dir, "base.tar", &bytes);
    let image = read_base_image(&path).unwrap();
    assert_layers(&image, &path, &layers, &names);
}

/// A config whose history describes more layers than the image has is refused: an image
/// built on it would not load.
#[test]
fn history_longer_than_the_layers_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let layers = vec![layer("only", 10)];
    let mut config: Value = serde_json::from_slice(&config_json(&diff_ids_of(&layers))).unwrap();
    config["history"] =
        json!([{"created_by": "a"}, {"created_by": "b"}, {"created_by": "c", "empty_layer": true}]);
    let config = serde_json::to_vec(&config).unwrap();
    let config_name = format!("{}.json", Sha256Digest::of(&config).hex());
    let names = layer_names(1);
    let bytes = TarOut::new()
        .file(&names[0], &layers[0])
        .file(&config_name, &config)
        .file("manifest.json", &manifest_json(&config_name, &names))
        .finish();
    let path = write(&dir, "base.tar", &bytes);
    assert_eq!(
        error_of(&path),
        format!(
            "base image {}: its config's history describes 2 layers but the image has 1; docker load refuses an image built on it",
            path.display()
        )
    );
}

/// A legacy layer json with an optional parent.
fn legacy_json(id: &str, parent: Option<&str>) -> Vec<u8> {
    let mut json = json!({
        "id": id,
        "created": "2020-01-01T00:00:00Z",
        "architecture": "arm64",
        "os": "linux",
        "container_config": {"Cmd": ["/bin/sh"]},
        "config": {"Cmd": [format!("/bin/{id}")]},
    });
    if let Some(parent) = parent {
        json["parent"] = json!(parent);
    }
    serde_json::to_vec(&json).unwrap()
}

/// A legacy archive with layers `bottom` (parent of) `top`; members listed top first
/// so that order on disk cannot be mistaken for layer order.
pub(crate) fn legacy_archive(bottom: &[u8], top: &[u8], repositories: Option<&str>) -> Vec<u8> {
    let mut out = TarOut::new()
        .dir("top/")
        .file("top/VERSION", b"1.0")
        .file("top/json", &legacy_json("top", Some("bottom")))
        .file("top/layer.tar", top)
        .dir("bottom/")
        .file("bottom/VERSION", b"1.0")
        .file("bottom/json", &legacy_json("bottom", None))
        .file("bottom/layer.tar", bottom);
    if let Some(repositories) = repositories {
        out = out.file("repositories", repositories.as_bytes());
    }
    out.finish()
}

/// Legacy layers come out bottom first, with or without `repositories`, and get a built config.
#[test]
fn legacy_two_layers_bottom_first() {
    let dir = tempfile::tempdir().unwrap();
    let (bottom, top) = (layer("bottom", 100), layer("top", 100));
    for repositories in [Some(r#"{"base": {"latest": "top"}}"#), None] {
        let path = write(
            &dir,
            "legacy.tar",
            &legacy_archive(&bottom, &top, repositories),
        );
        let image = read_base_image(&path).unwrap();
        assert_eq!(image.layers.len(), 2);
        assert_eq!(blob_bytes(&image.layers[0]), bottom);
        assert_eq!(blob_bytes(&image.layers[1]), top);
        assert!(image.layers.iter().all(|l| l.expected_sha256.is_none()));
        assert_eq!(
            image.layers[0].origin,
            format!("base image {}: member bottom/layer.tar", path.display())
        );
        assert_eq!(
            image.config,
            json!({
                "architecture": "arm64",
                "os": "linux",
                "created": "2020-01-01T00:00:00Z",
                "config": {"Cmd": ["/bin/top"]},
                "rootfs": {"type": "layers", "diff_ids": []},
                "history": [],
            })
        );
    }
}

/// A legacy `repositories` naming several top layers is refused.
#[test]
fn legacy_several_images_in_repositories() {
    let dir = tempfile::tempdir().unwrap();
    let repositories = r#"{"a": {"latest": "top"}, "b": {"old": "bottom"}}"#;
    let bytes = legacy_archive(b"x", b"y", Some(repositories));
    let path = write(&dir, "legacy.tar", &bytes);
    assert_eq!(
        error_of(&path),
        format!(
            "base image {}: member repositories: names several images (bottom, top); \
             fromImage needs a single-image archive",
            path.display()
        )
    );
}

/// Without `repositories`, two layers that are nobody's parent are refused.
#[test]
fn legacy_two_tops_without_repositories() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = TarOut::new()
        .file("a/json", &legacy_json("a", None))
        .file("a/layer.tar", b"a")
        .file("b/json", &legacy_json("b", None))
        .file("b/layer.tar", b"b")
        .finish();
    let path = write(&dir, "legacy.tar", &bytes);
    assert_eq!(
        error_of(&path),
        format!(
            "base image {}: 2 legacy layers are nobody's parent (a, b), so the archive \
             holds several images; fromImage needs a single-image archive",
            path.display()
        )
    );
}

/// Names longer than a tar header holds (GNU long names) are indexed correctly.
#[test]
fn long_member_names() {
    // Names over 100 bytes need a GNU long-name (or PAX) header before the member.
    let dir = tempfile::tempdir().unwrap();
    let layers = [layer("long", 900)];
    let config = config_json(&diff_ids_of(&layers));
    let names = vec![format!("{}/layer.tar", "d".repeat(150))];
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in [
        (names[0].as_str(), &layers[0][..]),
        ("config.json", &config[..]),
        ("manifest.json", &manifest_json("config.json", &names)[..]),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        builder.append_data(&mut header, name, data).unwrap();
    }
    let path = write(&dir, "base.tar", &builder.into_inner().unwrap());
    let image = read_base_image(&path).unwrap();
    assert_layers(&image, &path, &layers, &names);
}

/// A cycle of `parent` links is an error, not an endless loop.
#[test]
fn legacy_parent_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = TarOut::new()
        .file("a/json", &legacy_json("a", Some("b")))
        .file("a/layer.tar", b"a")
        .file("b/json", &legacy_json("b", Some("a")))
        .file("b/layer.tar", b"b")
        .file("repositories", br#"{"r": {"t": "a"}}"#)
        .finish();
    let path = write(&dir, "legacy.tar", &bytes);
    assert_eq!(
        error_of(&path),
        format!(
            "base image {}: member a/json: parent links form a cycle through this layer",
            path.display()
        )
    );
}

/// A `parent` without its `<id>/json` is an error naming the child.
#[test]
fn legacy_missing_parent() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = TarOut::new()
        .file("a/json", &legacy_json("a", Some("gone")))
        .file("a/layer.tar", b"a")
        .finish();
    let path = write(&dir, "legacy.tar", &bytes);
    assert_eq!(
        error_of(&path),
        format!(
            "base image {}: member a/json: names parent gone but the archive has no \
             member gone/json",
            path.display()
        )
    );
}

/// A member name with `..` is refused as hostile.
#[test]
fn dotdot_member_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = TarOut::new().file("../evil", b"x").finish();
    let path = write(&dir, "base.tar", &bytes);
    assert_eq!(
        error_of(&path),
        format!(
            "base image {}: member ../evil: name escapes the archive root \
             (contains '..'); refusing hostile archive",
            path.display()
        )
    );
}

/// An absolute member name is refused as hostile.
#[test]
fn absolute_member_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = TarOut::new().file("/etc/passwd", b"x").finish();
    let path = write(&dir, "base.tar", &bytes);
    assert_eq!(
        error_of(&path),
        format!(
            "base image {}: member /etc/passwd: absolute name; refusing hostile archive",
            path.display()
        )
    );
}

/// Two members that normalize to the same name are refused.
#[test]
fn duplicate_member_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = TarOut::new()
        .file("manifest.json", b"[]")
        .file("./manifest.json", b"[]")
        .finish();
    let path = write(&dir, "base.tar", &bytes);
    assert_eq!(
        error_of(&path),
        format!(
            "base image {}: member manifest.json: appears more than once in the \
             archive; refusing ambiguous archive",
            path.display()
        )
    );
}

/// A layer listed in the manifest but absent is an error naming it.
#[test]
fn missing_layer() {
    let dir = tempfile::tempdir().unwrap();
    let layers = vec![layer("a", 1)];
    let config = config_json(&diff_ids_of(&layers));
    let names = vec!["layers/0.tar".to_owned()];
    let bytes = TarOut::new()
        .file("config.json", &config)
        .file("manifest.json", &manifest_json("config.json", &names))
        .finish();
    let path = write(&dir, "base.tar", &bytes);
    assert_eq!(
        error_of(&path),
        format!(
            "base image {}: member layers/0.tar: (layer listed in manifest.json) \
             missing from the archive",
            path.display()
        )
    );
}

/// A layer listed in the manifest that is a directory is an error.
#[test]
fn layer_that_is_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_json(&diff_ids_of(&[layer("a", 1)]));
    let names = vec!["layers".to_owned()];
    let bytes = TarOut::new()
        .dir("layers/")
        .file("config.json", &config)
        .file("manifest.json", &manifest_json("config.json", &names))
        .finish();
    let path = write(&dir, "base.tar", &bytes);
    assert_eq!(
        error_of(&path),
        format!(
            "base image {}: member layers: (layer listed in manifest.json) is a \
             directory, not a regular file",
            path.display()
        )
    );
}

/// diff_ids and manifest Layers of different lengths are refused.
#[test]
fn diff_ids_length_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let layers = [layer("a", 1), layer("b", 1)];
    let config = config_json(&diff_ids_of(&layers[..1]));
    let names = layer_names(2);
    let bytes = TarOut::new()
        .file(&names[0], &layers[0])
        .file(&names[1], &layers[1])
        .file("config.json", &config)
        .file("manifest.json", &manifest_json("config.json", &names))
        .finish();
    let path = write(&dir, "base.tar", &bytes);
    assert_eq!(
        error_of(&path),
        format!(
            "base image {}: member config.json: rootfs.diff_ids lists 1 layers but \
             manifest.json lists 2",
            path.display()
        )
    );
}

/// A diff_id that is not `sha256:<64 hex>` is refused.
#[test]
fn diff_id_bad_format() {
    let dir = tempfile::tempdir().unwrap();
    let layers = [layer("a", 1)];
    let config = config_json(&["sha256:ABC".to_owned()]);
    let names = layer_names(1);
    let bytes = TarOut::new()
        .file(&names[0], &layers[0])
        .file("config.json", &config)
        .file("manifest.json", &manifest_json("config.json", &names))
        .finish();
    let path = write(&dir, "base.tar", &bytes);
    assert_eq!(
        error_of(&path),
        format!(
            "base image {}: member config.json: rootfs.diff_ids[0] is \"sha256:ABC\", \
             not sha256:<64 lowercase hex>",
            path.display()
        )
    );
}

/// An archive cut inside a layer's data is an error naming that layer.
#[test]
fn truncated_in_a_layer() {
    let dir = tempfile::tempdir().unwrap();
    let layers = vec![layer("a", 100), layer("big", 20_000)];
    let (bytes, _) = docker_save(&layers);
    let path = write(&dir, "base.tar", &bytes);
    let blob = read_base_image(&path).unwrap().layers[1].clone();
    let cut = blob.offset + blob.size / 2;
    let path = write(&dir, "cut.tar", &bytes[..cut as usize]);
    assert_eq!(
        error_of(&path),
        format!(
            "base image {}: member layers/1.tar: data runs past the end of the file \
             ({} bytes at offset {}, file has {cut}); the archive is truncated",
            path.display(),
            blob.size,
            blob.offset
        )
    );
}

/// An archive cut inside a tar header is an error, not a panic.
#[test]
fn truncated_in_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, _) = docker_save(&[layer("a", 1)]);
    let path = write(&dir, "cut.tar", &bytes[..100]);
    assert_eq!(
        error_of(&path),
        format!(
            "base image {}: reading the tar headers failed, the archive is truncated \
             or corrupt: failed to read entire block",
            path.display()
        )
    );
}

/// A cut gzip archive fails while decompressing.
#[test]
fn truncated_gzip_archive() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, _) = docker_save(&[layer("a", 5000)]);
    let compressed = gzip(&bytes);
    let path = write(&dir, "cut.tar.gz", &compressed[..compressed.len() / 2]);
    let expected = format!(
        "base image {}: decompressing the gzip archive failed: ",
        path.display()
    );
    assert!(error_of(&path).starts_with(&expected));
}

/// A decompression bomb: 3 GiB of zeros, `compress`ed a MiB at a time and the pieces
/// joined (both formats read joined streams as one), so it is quick to make.
fn bomb(compress: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    compress(&vec![0; 1 << 20]).repeat(3 << 10)
}

/// The zstd form of `bytes`.
fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(bytes, 1).unwrap()
}

/// What every bomb is refused with: its zeros are an end-of-archive block at byte 0.
const BOMB_REFUSED: &str = "more than 1 MiB follows the tar's end-of-archive block at byte 0; \
                            refusing a decompression bomb";

/// A small zstd layer member that expands to 3 GiB is refused after a megabyte.
#[test]
fn a_zstd_layer_bomb_is_refused_early() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = bomb(zstd);
    assert!(bomb.len() < 1 << 20, "the bomb is small on disk");
    let names = layer_names(1);
    let config = config_json(&diff_ids_of(&[layer("a", 1)]));
    let bytes = TarOut::new()
        .file(&names[0], &bomb)
        .file("config.json", &config)
        .file("manifest.json", &manifest_json("config.json", &names))
        .finish();
    let path = write(&dir, "base.tar", &bytes);
    assert_eq!(
        error_of(&path),
        format!(
            "base image {}: member layers/0.tar: decompressing the zstd layer failed: {BOMB_REFUSED}",
            path.display()
        )
    );
}

/// A small gzip archive that expands to 3 GiB is refused after a megabyte.
#[test]
fn a_gzip_archive_bomb_is_refused_early() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "base.tar.gz", &bomb(gzip));
    assert_eq!(
        error_of(&path),
        format!(
            "base image {}: decompressing the gzip archive failed: {BOMB_REFUSED}",
            path.display()
        )
    );
}

/// Refusing a bomb decompresses only a megabyte of its 3 GiB, not all of it.
#[test]
fn a_bomb_is_decompressed_only_until_refused() {
    for (compression, bomb) in [
        (Compression::Zstd, bomb(zstd)),
        (Compression::Gzip, bomb(gzip)),
    ] {
        let mut written = Vec::new();
        let decoder = compression.decoder(&bomb[..]).unwrap();
        let err = copy_tar_bounded(decoder, &mut written).unwrap_err();
        assert_eq!(err.to_string(), BOMB_REFUSED);
        assert_eq!(written.len() as u64, 512 + (1 << 20) + 1);
    }
}

/// A manifest with two images is refused.
#[test]
fn manifest_with_two_images() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = br#"[{"Config": "a.json", "Layers": []}, {"Config": "b.json", "Layers": []}]"#;
    let bytes = TarOut::new().file("manifest.json", manifest).finish();
    let path = write(&dir, "base.tar", &bytes);
    assert_eq!(
        error_of(&path),
        format!(
            "base image {}: member manifest.json: the archive holds 2 images and \
             fromImage needs exactly one; pick one with fromImageName and fromImageTag, or save a single image",
            path.display()
        )
    );
}

/// A tar with neither manifest.json nor legacy directories is refused.
#[test]
fn not_a_docker_archive() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = TarOut::new().dir("etc/").file("etc/hosts", b"x").finish();
    let path = write(&dir, "base.tar", &bytes);
    assert_eq!(
        error_of(&path),
        format!(
            "base image {}: is not a docker-archive: no manifest.json and no legacy \
             layer directories",
            path.display()
        )
    );
}

/// A `<hex>.json` config whose content has another digest is refused.
#[test]
fn config_digest_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let layers = vec![layer("a", 1)];
    let config = config_json(&diff_ids_of(&layers));
    let stated = "0".repeat(64);
    let config_name = format!("{stated}.json");
    let names = layer_names(1);
    let bytes = TarOut::new()
        .file(&names[0], &layers[0])
        .file(&config_name, &config)
        .file("manifest.json", &manifest_json(&config_name, &names))
        .finish();
    let path = write(&dir, "base.tar", &bytes);
    assert_eq!(
        error_of(&path),
        format!(
            "base image {}: member {config_name}: content has sha256 {} but the name \
             says {stated}; the archive is corrupt",
            path.display(),
            Sha256Digest::of(&config).hex()
        )
    );
}

/// Link targets resolve lexically and never climb above the root.
#[test]
fn link_resolution_stays_inside_the_archive() {
    assert_eq!(join_link("a/b", "../c/d"), Some("a/c/d".to_owned()));
    assert_eq!(join_link("a", "../../etc"), None);
    assert_eq!(join_link("a", "/etc/passwd"), None);
    assert_eq!(normalize("./a//b/"), "a/b");
}
