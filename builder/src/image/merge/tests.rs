//! Tests of merging archives: reading every image of an archive (new-style and legacy),
//! shared layers written once, repo-tag conflicts, compression told by content, and the
//! exact shape of the merged archive.

use super::*;
use crate::commands::merge::merge;
use crate::image::base::tests::{blob_bytes, gzip, layer, legacy_archive, write};
use crate::image::base::{read_archive_images, read_base_image};
use std::io::Read;
use stowage_test_support::tar_members;
use stowage_test_support::TarOut;

/// An image of a test archive: its repo tags, its layers, and a word that makes its
/// config its own.
#[derive(Clone, Copy)]
struct TestImage<'a> {
    tags: &'a [&'a str],
    layers: &'a [&'a [u8]],
    cmd: &'a str,
}

/// The config of `image`: its diff_ids and its `cmd`.
fn config_of(image: &TestImage<'_>) -> Vec<u8> {
    let diff_ids: Vec<String> = image
        .layers
        .iter()
        .map(|l| Sha256Digest::of(l).prefixed())
        .collect();
    serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": [image.cmd]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap()
}

/// A `docker save`-style archive of `images` (each config once): every distinct layer
/// once, as `<n>/layer.tar`, configs as `<sha256>.json`, one manifest entry per image.
fn saved(images: &[TestImage<'_>]) -> Vec<u8> {
    let mut out = TarOut::new();
    let mut written: Vec<&[u8]> = Vec::new();
    let mut entries = Vec::new();
    for image in images {
        let mut names = Vec::new();
        for &data in image.layers {
            let index = match written.iter().position(|known| *known == data) {
                Some(index) => index,
                None => {
                    out = out.file(&format!("{}/layer.tar", written.len()), data);
                    written.push(data);
                    written.len() - 1
                }
            };
            names.push(format!("{index}/layer.tar"));
        }
        let config = config_of(image);
        let config_name = format!("{}.json", Sha256Digest::of(&config).hex());
        out = out.file(&config_name, &config);
        entries.push(json!({"Config": config_name, "RepoTags": image.tags, "Layers": names}));
    }
    out.file("manifest.json", &serde_json::to_vec(&entries).unwrap())
        .finish()
}

/// A `docker save`-style archive of one image, tagged `tag`, of the layer `data`.
fn one_image(tag: &str, cmd: &str, data: &[u8]) -> Vec<u8> {
    saved(&[TestImage {
        tags: &[tag],
        layers: &[data],
        cmd,
    }])
}

/// Merges `inputs` into `out.tar` in `dir` with the command's defaults and returns the
/// output's bytes.
fn merged(dir: &tempfile::TempDir, inputs: &[PathBuf]) -> Vec<u8> {
    let output = dir.path().join("out.tar");
    merge(inputs, &output, None).unwrap();
    std::fs::read(&output).unwrap()
}

/// The error of merging `inputs`, which must fail.
fn merge_error(dir: &tempfile::TempDir, inputs: &[PathBuf]) -> String {
    match merge(inputs, &dir.path().join("out.tar"), None) {
        Ok(()) => panic!("the merge of {inputs:?} succeeded"),
        Err(e) => e.to_string(),
    }
}

/// The member of a tar called `name`.
fn member(members: &[(String, Vec<u8>)], name: &str) -> Vec<u8> {
    let found = members.iter().find(|(n, _)| n == name);
    found
        .unwrap_or_else(|| panic!("no member {name}"))
        .1
        .clone()
}

/// The JSON member `name` of a tar.
fn json_member(members: &[(String, Vec<u8>)], name: &str) -> Value {
    serde_json::from_slice(&member(members, name)).unwrap()
}

/// `<hex of data>/layer.tar`.
fn layer_member(data: &[u8]) -> String {
    format!("{}/layer.tar", Sha256Digest::of(data).hex())
}

#[test]
fn a_layer_two_images_share_is_written_once_and_configs_stay_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    let (base, app, tool) = (layer("base", 300), layer("app", 100), layer("tool", 50));
    let first = TestImage {
        tags: &["app:1", "app:latest"],
        layers: &[&base, &app],
        cmd: "app",
    };
    let second = TestImage {
        tags: &["registry.example:5000/team/tool:2"],
        layers: &[&base, &tool],
        cmd: "tool",
    };
    let inputs = [
        write(&dir, "first.tar", &saved(&[first])),
        write(&dir, "second.tar", &saved(&[second])),
    ];
    let members = tar_members(&merged(&dir, &inputs));
    let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
    let configs = [config_of(&first), config_of(&second)];
    let config_names: Vec<String> = configs
        .iter()
        .map(|c| format!("{}.json", Sha256Digest::of(c).hex()))
        .collect();
    assert_eq!(
        names,
        [
            layer_member(&base).as_str(),
            &layer_member(&app),
            &layer_member(&tool),
            &config_names[0],
            &config_names[1],
            "manifest.json",
            "repositories",
        ]
    );
    assert_eq!(member(&members, &layer_member(&base)), base);
    assert_eq!(member(&members, &config_names[0]), configs[0]);
    assert_eq!(member(&members, &config_names[1]), configs[1]);
    assert_eq!(
        json_member(&members, "manifest.json"),
        json!([
            {"Config": config_names[0], "RepoTags": ["app:1", "app:latest"],
             "Layers": [layer_member(&base), layer_member(&app)]},
            {"Config": config_names[1], "RepoTags": ["registry.example:5000/team/tool:2"],
             "Layers": [layer_member(&base), layer_member(&tool)]},
        ])
    );
    let top = |data: &[u8]| Sha256Digest::of(data).hex();
    assert_eq!(
        json_member(&members, "repositories"),
        json!({
            "app": {"1": top(&app), "latest": top(&app)},
            "registry.example:5000/team/tool": {"2": top(&tool)},
        })
    );
}

/// The merged archive is an archive of several images: reading it back gives each
/// image with its tags, config bytes and layers, and `fromImage` still refuses it.
#[test]
fn every_image_of_a_multi_image_archive_is_read_and_from_image_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let (base, app) = (layer("base", 300), layer("app", 100));
    let images = [
        TestImage {
            tags: &["app:1"],
            layers: &[&base, &app],
            cmd: "app",
        },
        TestImage {
            tags: &[],
            layers: &[&base],
            cmd: "base",
        },
    ];
    let input = write(&dir, "saved.tar", &saved(&images));
    let output = dir.path().join("out.tar");
    merge(std::slice::from_ref(&input), &output, None).unwrap();
    for path in [&input, &output] {
        let read = read_archive_images(path).unwrap();
        assert_eq!(read.images.len(), 2);
        for (got, wanted) in read.images.iter().zip(&images) {
            assert_eq!(got.repo_tags, wanted.tags);
            assert_eq!(got.config_bytes, config_of(wanted));
            let layers: Vec<Vec<u8>> = got.layers.iter().map(blob_bytes).collect();
            assert_eq!(layers, wanted.layers);
        }
        let refused = read_base_image(path).err().unwrap().to_string();
        assert!(refused.contains("the archive holds 2 images"), "{refused}");
    }
}

/// A legacy archive holds one image per top layer `repositories` names, each with
/// its names, its layers bottom first and a config whose diff_ids are hashed.
#[test]
fn every_image_of_a_legacy_archive_is_read_with_hashed_diff_ids() {
    let dir = tempfile::tempdir().unwrap();
    let (bottom, top) = (layer("bottom", 100), layer("top", 100));
    let repositories = r#"{"a": {"latest": "top"}, "b": {"old": "bottom", "v1": "bottom"}}"#;
    let bytes = legacy_archive(&bottom, &top, Some(repositories));
    let path = write(&dir, "legacy.tar", &bytes);
    let images = read_archive_images(&path).unwrap().images;
    let tags: Vec<&[String]> = images.iter().map(|i| &i.repo_tags[..]).collect();
    assert_eq!(tags, [&["b:old", "b:v1"][..], &["a:latest"]]);
    let (only_bottom, both) = (&images[0], &images[1]);
    assert_eq!(blob_bytes(&only_bottom.layers[0]), bottom);
    let layers: Vec<Vec<u8>> = both.layers.iter().map(blob_bytes).collect();
    assert_eq!(layers, [bottom.clone(), top.clone()]);
    let config: Value = serde_json::from_slice(&both.config_bytes).unwrap();
    let digests = [Sha256Digest::of(&bottom), Sha256Digest::of(&top)];
    assert_eq!(
        config["rootfs"]["diff_ids"],
        json!([digests[0].prefixed(), digests[1].prefixed()])
    );
    assert_eq!(config["config"]["Cmd"], json!(["/bin/top"]));
    let expected: Vec<Option<String>> = digests.iter().map(|d| Some(d.hex())).collect();
    let stated: Vec<Option<String>> = both
        .layers
        .iter()
        .map(|l| l.expected_sha256.clone())
        .collect();
    assert_eq!(stated, expected);
}

#[test]
fn a_repo_tag_given_to_two_images_is_refused_naming_both_archives() {
    let dir = tempfile::tempdir().unwrap();
    let data = layer("x", 10);
    let layers: &[&[u8]] = &[&data];
    let image = |cmd| TestImage {
        tags: &["app:1"],
        layers,
        cmd,
    };
    let (one, two) = (image("one"), image("two"));
    let inputs = [
        write(&dir, "one.tar", &saved(&[one])),
        write(&dir, "two.tar", &saved(&[two])),
    ];
    let ids =
        [config_of(&image("one")), config_of(&image("two"))].map(|c| Sha256Digest::of(&c).hex());
    assert_eq!(
        merge_error(&dir, &inputs),
        format!(
            "image to merge {}: repo tag app:1 names image sha256:{} here but image \
             sha256:{} in {}; one load cannot give a tag to two images: retag one of them",
            inputs[1].display(),
            ids[1],
            ids[0],
            inputs[0].display()
        )
    );
    assert!(!dir.path().join("out.tar").exists());
}

#[test]
fn the_same_image_given_twice_is_one_entry() {
    let dir = tempfile::tempdir().unwrap();
    let data = layer("x", 10);
    let image = TestImage {
        tags: &["app:1"],
        layers: &[&data],
        cmd: "app",
    };
    let input = write(&dir, "one.tar", &saved(&[image]));
    let once = merged(&dir, std::slice::from_ref(&input));
    let twice = merged(&dir, &[input.clone(), input]);
    assert_eq!(once, twice);
    let manifest = json_member(&tar_members(&twice), "manifest.json");
    assert_eq!(manifest.as_array().unwrap().len(), 1);
}

/// Each input is read whatever its name says; the output is compressed as the last
/// input is, unless asked otherwise.
#[test]
fn compression_is_told_by_content_and_the_output_follows_the_last_input() {
    let dir = tempfile::tempdir().unwrap();
    let data = layer("x", 10);
    let archive = |tag| one_image(tag, tag, &data);
    let plain = write(&dir, "plain.tar.gz", &archive("plain:1"));
    let zstd = write(
        &dir,
        "zstd.tar",
        &zstd::encode_all(&archive("zstd:1")[..], 0).unwrap(),
    );
    let gzip = write(&dir, "gzip.tar.zst", &gzip(&archive("gzip:1")));
    let output = dir.path().join("out");
    let cases = [
        (vec![&plain, &zstd, &gzip], None, Compression::Gzip),
        (vec![&gzip, &plain], None, Compression::None),
        (vec![&gzip, &zstd], None, Compression::Zstd),
        (
            vec![&gzip, &zstd],
            Some(Compression::None),
            Compression::None,
        ),
    ];
    for (inputs, asked, expected) in cases {
        let inputs: Vec<PathBuf> = inputs.into_iter().cloned().collect();
        merge(&inputs, &output, asked).unwrap();
        let bytes = std::fs::read(&output).unwrap();
        assert_eq!(Compression::detect(&bytes[..4]), expected, "{inputs:?}");
        let mut plain_bytes = Vec::new();
        expected
            .decoder(&bytes[..])
            .unwrap()
            .read_to_end(&mut plain_bytes)
            .unwrap();
        let manifest = json_member(&tar_members(&plain_bytes), "manifest.json");
        assert_eq!(manifest.as_array().unwrap().len(), inputs.len());
    }
}

/// The same inputs give the same bytes; the shape of the result is pinned.
#[test]
fn merging_is_deterministic_and_its_shape_is_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let (base, app) = (layer("base", 3), layer("app", 2));
    let legacy = legacy_archive(&base, &app, Some(r#"{"legacy": {"v1": "top"}}"#));
    let inputs = [
        write(
            &dir,
            "saved.tar",
            &saved(&[TestImage {
                tags: &["saved:1"],
                layers: &[&base],
                cmd: "saved",
            }]),
        ),
        write(&dir, "legacy.tar", &legacy),
    ];
    let bytes = merged(&dir, &inputs);
    assert_eq!(bytes, merged(&dir, &inputs));
    let members = tar_members(&bytes);
    let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
    insta::assert_json_snapshot!("members", names);
    insta::assert_json_snapshot!("manifest", json_member(&members, "manifest.json"));
    insta::assert_json_snapshot!("repositories", json_member(&members, "repositories"));
}

/// A layer whose bytes are not what its config says fails the merge, naming the
/// archive and the layer, and leaves no output.
#[test]
fn a_layer_that_is_not_its_diff_id_fails_the_merge() {
    let dir = tempfile::tempdir().unwrap();
    let (claimed, actual) = (layer("claimed", 10), layer("actual", 10));
    let config = config_of(&TestImage {
        tags: &[],
        layers: &[&claimed],
        cmd: "x",
    });
    let config_name = format!("{}.json", Sha256Digest::of(&config).hex());
    let manifest = json!([{"Config": config_name, "RepoTags": ["x:1"], "Layers": ["0/layer.tar"]}]);
    let bytes = TarOut::new()
        .file("0/layer.tar", &actual)
        .file(&config_name, &config)
        .file("manifest.json", &serde_json::to_vec(&manifest).unwrap())
        .finish();
    let input = write(&dir, "damaged.tar", &bytes);
    let error = merge_error(&dir, std::slice::from_ref(&input));
    let expected = format!(
        "image to merge {}: layer sha256:{}: content has sha256 {}",
        input.display(),
        Sha256Digest::of(&claimed).hex(),
        Sha256Digest::of(&actual).hex()
    );
    assert!(error.starts_with(&expected), "{error}");
    assert!(!dir.path().join("out.tar").exists());
}

#[test]
fn hostile_scripts_and_bad_tags_are_refused_as_images_to_merge() {
    let dir = tempfile::tempdir().unwrap();
    let data = layer("x", 10);
    let tagged = |tag| one_image(tag, "x", &data);
    let cases = [
        (
            TarOut::new().file("../evil", b"x").finish(),
            "member ../evil: name escapes the archive root",
        ),
        (
            b"#!/nix/store/x-stowage/bin/stowage stream\n{}".to_vec(),
            "is a script (a streamLayeredImage result), not an archive",
        ),
        (
            tagged("App:1"),
            "repo tag \"App:1\": name \"App\" must be lower-case",
        ),
        (tagged("app"), "repo tag \"app\": has no tag"),
    ];
    for (bytes, message) in cases {
        let input = write(&dir, "input.tar", &bytes);
        let error = merge_error(&dir, std::slice::from_ref(&input));
        let expected = format!("image to merge {}: {message}", input.display());
        assert!(error.starts_with(&expected), "{error}");
    }
}
