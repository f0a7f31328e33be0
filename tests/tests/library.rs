//! Every argument of streamLayeredImage and buildLayeredImage (and
//! buildLayeredImageWithNixDb), each with an image of tests/nix/library.nix whose result
//! would differ if the argument were ignored. Checked in the running container (Docker,
//! and podman with runc) where possible, in `image inspect`, and in the archive where
//! running cannot show it. The examples static-service, fakeroot and registry-name are
//! built and run here too.
//!
//! Images are run by ID and have names of their own, so the tests can run in parallel.
//! A missing or failing engine, nix-build, skopeo or umoci fails the test.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{
    build_archive, closure, command, eval_in, layer_listing, nix_build, nix_build_command,
    nix_eval_json, nix_instantiate_command, oci_unpack, read_stream_conf, repo_file, run,
    run_failing, run_stdout, store_hash_part, stream_into, temp_dir, DockerArchive, Engine,
};
use serde_json::{json, Value};

/// The Nix file of the images these tests build.
const LIBRARY: &str = "tests/nix/library.nix";

/// Builds attribute `attr` of tests/nix/library.nix (result link in `dir`) and reads the
/// archive, compressed or not.
fn build(attr: &str, dir: &Path) -> (PathBuf, DockerArchive) {
    build_archive(LIBRARY, attr, dir)
}

/// Evaluates `expr` (strictly, to JSON), in which `l` is tests/nix/library.nix.
fn eval(expr: &str) -> Value {
    eval_in(LIBRARY, expr)
}

/// The output path of attribute `attr` of tests/nix/library.nix, evaluated only.
fn out_path(attr: &str) -> String {
    eval(&format!("l.{attr}.outPath"))
        .as_str()
        .expect("an outPath is a string")
        .to_owned()
}

/// Sorted copies of strings.
fn sorted(items: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = items.iter().map(|s| (*s).to_owned()).collect();
    all.sort();
    all
}

/// Loads `image` into `engine` and returns its ID (the config's digest).
fn load(engine: Engine, image: &Path, archive: &DockerArchive) -> String {
    engine.load(image);
    archive.image_id()
}

/// A `/bin/sh -c script` command line for a container of an image with busybox in /bin.
fn sh(script: &str) -> [&str; 3] {
    ["/bin/sh", "-c", script]
}

// ------------------------------------------------------------------------ name, tag

#[test]
fn name_is_lower_cased_with_its_registry_and_the_tag_is_kept() {
    let dir = temp_dir();
    let (image, archive) = build("named", dir.path());
    let file = image.file_name().expect("a store path").to_string_lossy();
    // The derivation is named after baseNameOf name; compressor defaults to "gz".
    assert!(file.ends_with("-Named.tar.gz"), "{file}");
    let bytes = std::fs::read(&image).expect("read the image");
    assert!(bytes.starts_with(&[0x1f, 0x8b]), "{file} is not gzip");

    let repo_tag = "registry.example.com:5000/stowage-lib/named:Tag-1.0";
    assert_eq!(archive.repo_tag(), repo_tag);
    let attrs = eval("{ inherit (l.named) imageName imageTag; }");
    assert_eq!(
        attrs,
        json!({
            "imageName": "registry.example.com:5000/stowage-lib/named",
            "imageTag": "Tag-1.0",
        })
    );

    let loaded = Engine::Docker.load(&image);
    assert!(
        loaded.contains(&format!("Loaded image: {repo_tag}")),
        "docker load printed {loaded:?}"
    );
    let id = run_stdout(command(
        "docker",
        ["image", "inspect", "--format", "{{.Id}}", repo_tag],
    ));
    assert_eq!(id.trim(), archive.image_id());
}

#[test]
fn tag_null_is_the_hash_of_the_stream_and_image_tag_says_so() {
    let dir = temp_dir();
    let (image, archive) = build("untagged", dir.path());
    let attrs =
        eval("{ inherit (l.untagged) imageName imageTag; stream = l.untagged.stream.outPath; }");
    let tag = attrs["imageTag"].as_str().expect("imageTag is a string");
    let stream = attrs["stream"].as_str().expect("stream path");
    assert_eq!(tag.len(), 32, "{tag}");
    assert_eq!(tag, store_hash_part(stream));
    let repo_tag = format!("registry.example.com:5000/stowage-lib/untagged:{tag}");
    assert_eq!(archive.repo_tag(), repo_tag);
    let loaded = Engine::Docker.load(&image);
    assert!(
        loaded.contains(&format!("Loaded image: {repo_tag}")),
        "docker load printed {loaded:?}"
    );

    // streamLayeredImage: the tag is the hash of the script itself.
    let script = nix_build(LIBRARY, "untaggedStream", dir.path());
    let script_name = script.to_string_lossy().into_owned();
    assert!(
        script_name.ends_with("-stream-Untagged-Stream"),
        "{script_name}"
    );
    let tag = eval("l.untaggedStream.imageTag");
    let tag = tag.as_str().expect("imageTag is a string");
    assert_eq!(tag, store_hash_part(&script_name));
    let repo_tag = format!("stowage-lib/untagged-stream:{tag}");
    assert_eq!(read_stream_conf(&script)["repo_tag"], repo_tag.as_str());
    let loaded = stream_into(&script, Engine::Podman);
    assert!(loaded.contains(&repo_tag), "podman load printed {loaded:?}");
}

#[test]
fn defaults_are_nixpkgs_times_owners_and_platform() {
    let dir = temp_dir();
    let (image, archive) = build("named", dir.path());
    assert_eq!(archive.config["created"], "1970-01-01T00:00:01Z");
    assert_eq!(archive.config["architecture"], "amd64");
    assert_eq!(archive.config["os"], "linux");
    let store_layer = layer_listing(&archive.layers[0].1);
    assert_eq!(
        store_layer[..2],
        [
            "nix/ 755 0:0 root:root size=0 mtime=1 dir",
            "nix/store/ 755 0:0 root:root size=0 mtime=1 dir",
        ]
    );

    let tools = out_path("tools");
    let id = load(Engine::Docker, &image, &archive);
    let out = Engine::Docker.run(
        &id,
        &[],
        &sh(&format!(
            "stat -c '%Y %u:%g %n' /nix /nix/store {tools} {tools}/bin/busybox"
        )),
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "1 0:0 /nix".to_owned(),
            "1 0:0 /nix/store".to_owned(),
            format!("1 0:0 {tools}"),
            format!("1 0:0 {tools}/bin/busybox"),
        ]
    );
}

// ------------------------------------------------------------------------ fromImage, maxLayers

#[test]
fn from_image_keeps_the_base_layers_env_and_working_dir_within_max_layers() {
    let dir = temp_dir();
    let tools = out_path("tools");
    let (leaf_a, leaf_b, leaf_c, leaf_d) = (
        out_path("leafA"),
        out_path("leafB"),
        out_path("leafC"),
        out_path("leafD"),
    );

    // maxLayers = 2 works: one store layer holding both paths, and the customisation layer.
    let (_, base) = build("base", dir.path());
    assert_eq!(base.layers.len(), 2);
    assert_eq!(base.layer_store_paths(0), sorted(&[&tools, &leaf_c]));

    // A 2-layer base and maxLayers = 4: exactly four layers, the base's two first.
    let (image, derived) = build("derived", dir.path());
    assert_eq!(derived.layers.len(), 4);
    assert_eq!(derived.diff_ids()[..2], base.diff_ids()[..]);
    assert_eq!(
        derived.layer_store_paths(2),
        sorted(&[&tools, &leaf_a, &leaf_b, &leaf_d])
    );
    assert_eq!(
        derived.config["config"]["Env"],
        json!([
            "BASE_ONLY=from-base",
            "SHARED=from-derived",
            "OWN=from-derived"
        ])
    );
    assert_eq!(derived.config["config"]["WorkingDir"], "/base-wd");

    for engine in [Engine::Docker, Engine::Podman] {
        let id = load(engine, &image, &derived);
        let out = engine.run(&id, &[], &[]);
        let lines: Vec<&str> = out.lines().collect();
        for wanted in [
            "BASE_ONLY=from-base",
            "SHARED=from-derived",
            "OWN=from-derived",
            "/base-wd",
            "from-base",
        ] {
            assert!(
                lines.contains(&wanted),
                "{engine:?}: no {wanted:?} in {out}"
            );
        }
        assert!(
            !lines.contains(&"SHARED=from-base"),
            "{engine:?}: the base's SHARED survived: {out}"
        );
    }
    let inspect = Engine::Docker.inspect(&derived.image_id());
    assert_eq!(
        inspect["RootFS"]["Layers"]
            .as_array()
            .expect("RootFS.Layers")
            .len(),
        4
    );
}

#[test]
fn the_same_store_paths_give_the_same_layer_in_different_images() {
    let dir = temp_dir();
    let tools = out_path("tools");
    let (_, named) = build("named", dir.path());
    let (_, configured) = build("configured", dir.path());
    let (_, few) = build("fewLayers", dir.path());
    assert_eq!(named.layer_store_paths(0), [tools.as_str()]);
    assert_eq!(configured.layer_store_paths(0), [tools.as_str()]);
    assert_eq!(named.diff_ids()[0], configured.diff_ids()[0]);
    assert!(
        few.diff_ids().contains(&named.diff_ids()[0]),
        "the busybox-tools layer of `named` is not in `fewLayers`: {:?}",
        few.diff_ids()
    );
    // The customisation layers do differ (configured made a directory).
    assert_ne!(named.diff_ids()[1], configured.diff_ids()[1]);
}

#[test]
fn max_layers_bounds_the_layer_count() {
    let dir = temp_dir();
    let (many_image, many) = build("manyLayers", dir.path());
    let (few_image, few) = build("fewLayers", dir.path());
    // compressor = "none": a plain .tar.
    assert!(many_image.to_string_lossy().ends_with("-many-layers.tar"));
    assert!(few_image.to_string_lossy().ends_with("-few-layers.tar"));
    let paths = sorted(&[
        &out_path("tools"),
        &out_path("leafA"),
        &out_path("leafB"),
        &out_path("leafC"),
        &out_path("leafD"),
    ]);
    // The default (100): one layer per store path, plus customisation.
    assert_eq!(many.layers.len(), 6);
    assert_eq!(few.layers.len(), 3);
    assert_eq!(many.store_paths(), paths);
    assert_eq!(few.store_paths(), paths);
}

// ------------------------------------------------------------------------ config

#[test]
fn config_passes_through_unchanged_and_cmd_may_be_a_string() {
    let dir = temp_dir();
    let tools = out_path("tools");
    let (image, archive) = build("configured", dir.path());
    let healthcheck = json!({
        "Test": ["CMD", format!("{tools}/bin/true")],
        "Interval": 30_000_000_000_u64,
        "Timeout": 5_000_000_000_u64,
        "Retries": 3,
    });
    assert_eq!(
        archive.config["config"],
        json!({
            "Cmd": format!("{tools}/bin/pwd"),
            "WorkingDir": "/work-dir",
            "User": "1234:5678",
            "Env": ["GREETING=hello world"],
            "ExposedPorts": {"8080/tcp": {}},
            "Volumes": {"/data": {}},
            "Healthcheck": healthcheck,
            "Labels": {"org.example.purpose": "library tests"},
            "StopSignal": "SIGINT",
        })
    );

    let id = load(Engine::Docker, &image, &archive);
    let config = &Engine::Docker.inspect(&id)["Config"];
    // Docker reads a string Cmd as a one-word command.
    assert_eq!(config["Cmd"], json!([format!("{tools}/bin/pwd")]));
    assert_eq!(config["WorkingDir"], "/work-dir");
    assert_eq!(config["User"], "1234:5678");
    assert_eq!(config["ExposedPorts"], json!({"8080/tcp": {}}));
    assert_eq!(config["Volumes"], json!({"/data": {}}));
    assert_eq!(config["Healthcheck"], healthcheck);
    assert_eq!(
        config["Labels"],
        json!({"org.example.purpose": "library tests"})
    );
    assert_eq!(config["StopSignal"], "SIGINT");

    assert_eq!(Engine::Docker.run(&id, &[], &[]).trim_end(), "/work-dir");
    let out = Engine::Docker.run(&id, &[], &sh("id -u; id -g; echo \"$GREETING\""));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["1234", "5678", "hello world"]
    );
}

#[test]
fn empty_and_null_config_both_load_and_run() {
    let dir = temp_dir();
    for attr in ["configEmpty", "configNull"] {
        let (image, archive) = build(attr, dir.path());
        assert_eq!(archive.config["config"], json!({}), "{attr}");
        let id = load(Engine::Docker, &image, &archive);
        assert_eq!(Engine::Docker.inspect(&id)["Config"]["Cmd"], Value::Null);
        let out = Engine::Docker.run(&id, &[], &["/bin/echo", attr]);
        assert_eq!(out.trim_end(), attr);
    }
}

// ------------------------------------------------------------------------ architecture

#[test]
fn an_explicit_architecture_is_written_as_given() {
    let dir = temp_dir();
    let (image, archive) = build("arm64", dir.path());
    assert_eq!(archive.config["architecture"], "arm64");
    assert_eq!(archive.config["os"], "linux");
    assert!(
        archive.config.get("variant").is_none(),
        "arm64 has no variant: {}",
        archive.config
    );
    // An arm64 image on this amd64 machine: inspected, not run.
    let id = load(Engine::Docker, &image, &archive);
    let inspect = Engine::Docker.inspect(&id);
    assert_eq!(inspect["Architecture"], "arm64");
    assert_eq!(inspect["Os"], "linux");
}

// ------------------------------------------------------------------------ created, mtime

#[test]
fn explicit_created_and_mtime_are_visible() {
    let dir = temp_dir();
    let tools = out_path("tools");
    let (image, archive) = build("times", dir.path());
    let id = load(Engine::Docker, &image, &archive);
    assert_eq!(
        Engine::Docker.inspect(&id)["Created"],
        "2001-02-03T04:05:06Z"
    );
    // 2002-03-04T05:06:07Z, on store files and on files of the customisation layer. (Not
    // /etc itself: the engine adds /etc/hosts and friends to it in the container.)
    let out = Engine::Docker.run(
        &id,
        &[],
        &sh(&format!(
            "stat -c %Y /nix /nix/store {tools} {tools}/bin/busybox /bin /etc/made"
        )),
    );
    assert_eq!(out.lines().collect::<Vec<_>>(), ["1015218367"; 6]);
    for (name, layer) in &archive.layers {
        for line in layer_listing(layer) {
            assert!(line.contains(" mtime=1015218367 "), "{name}: {line}");
        }
    }

    // The same inputs give the same archive again.
    run(nix_build_command(
        LIBRARY,
        "times",
        &["--check", "--no-out-link"],
    ));
}

#[test]
fn created_and_mtime_now_are_the_build_time() {
    let dir = temp_dir();
    let (image, archive) = build("now", dir.path());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let created = archive.config["created"]
        .as_str()
        .expect("created is a string");
    let year: u64 = created[..4].parse().expect("created starts with a year");
    assert!((2024..=2200).contains(&year), "created = {created}");

    let id = load(Engine::Docker, &image, &archive);
    let out = Engine::Docker.run(&id, &[], &sh("stat -c %Y /etc/made /nix/store"));
    for line in out.lines() {
        let mtime: u64 = line.parse().expect("stat printed seconds");
        // After 2024-01-01, and not in the future.
        assert!(
            (1_704_067_200..=now + 60).contains(&mtime),
            "mtime {mtime} is not the build time (now: {now})"
        );
    }

    // "now" is read when the archive is written: building it again gives other bytes.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let stderr = run_failing(nix_build_command(
        LIBRARY,
        "now",
        &["--check", "--no-out-link"],
    ));
    assert!(
        stderr.contains("may not be deterministic"),
        "nix-build --check said {stderr}"
    );
}

// ------------------------------------------------------------------------ uid, gid, uname, gname

#[test]
fn uid_gid_uname_and_gname_own_the_store_layers() {
    let dir = temp_dir();
    let tools = out_path("tools");
    let (image, archive) = build("owners", dir.path());
    let store_layer = layer_listing(&archive.layers[0].1);
    assert_eq!(
        store_layer[..2],
        [
            "nix/ 755 1001:1002 alice:staff size=0 mtime=1 dir",
            "nix/store/ 755 1001:1002 alice:staff size=0 mtime=1 dir",
        ]
    );
    for line in &store_layer {
        assert!(line.contains(" 1001:1002 alice:staff "), "{line}");
    }
    // The customisation layer is root's, as in nixpkgs.
    for line in layer_listing(&archive.layers[1].1) {
        assert!(line.contains(" 0:0 "), "{line}");
    }

    let id = load(Engine::Docker, &image, &archive);
    let out = Engine::Docker.run(
        &id,
        &[],
        &sh(&format!(
            "stat -c '%u:%g %n' /nix /nix/store {tools} {tools}/bin/busybox /bin"
        )),
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "1001:1002 /nix".to_owned(),
            "1001:1002 /nix/store".to_owned(),
            format!("1001:1002 {tools}"),
            format!("1001:1002 {tools}/bin/busybox"),
            "0:0 /bin".to_owned(),
        ]
    );
}

// ------------------------------------------------------------------------ layeringPipeline

#[test]
fn layering_pipeline_decides_the_layers() {
    let dir = temp_dir();
    let (_, archive) = build("pipeline", dir.path());
    let leaf_c = out_path("leafC");
    // split_paths [leafC], then the rest in one layer (limit_layers 1); auto layering
    // would give five store layers.
    assert_eq!(archive.layers.len(), 3);
    assert_eq!(archive.layer_store_paths(0), [leaf_c]);
    assert_eq!(
        archive.layer_store_paths(1),
        sorted(&[
            &out_path("tools"),
            &out_path("leafA"),
            &out_path("leafB"),
            &out_path("leafD"),
        ])
    );
    assert!(archive.layer_store_paths(2).is_empty());
}

// ------------------------------------------------------------------------ contents, closure

#[test]
fn the_closure_has_the_cmd_and_written_paths_but_not_the_conf_or_layer() {
    let dir = temp_dir();
    let (image, archive) = build("closure", dir.path());
    let paths = eval("{ tools = l.tools.outPath; cmd = l.cmdScript; written = l.onlyWritten; }");
    let path = |key: &str| PathBuf::from(paths[key].as_str().expect("a store path"));
    let expected = closure(&[&path("tools"), &path("cmd"), &path("written")]);
    assert_eq!(expected.len(), 3, "{expected:?}");
    assert_eq!(archive.store_paths(), expected);
    for member in &archive.members {
        assert!(
            !member.contains("-config.json") && !member.contains("customisation-layer"),
            "{member}"
        );
    }

    // Running it: the Cmd's shell and script, and the written path, are all there.
    let id = load(Engine::Docker, &image, &archive);
    let out = Engine::Docker.run(&id, &[], &[]);
    let names: Vec<String> = expected
        .iter()
        .map(|p| p.trim_start_matches("/nix/store/").to_owned())
        .collect();
    let mut lines: Vec<String> = out.lines().map(str::to_owned).collect();
    assert_eq!(
        lines.pop().as_deref(),
        Some("reached through /etc/written-ref")
    );
    assert_eq!(lines, names, "ls /nix/store in the container");
}

#[test]
fn contents_are_merged_into_the_root_as_store_symlinks() {
    let dir = temp_dir();
    let tools = out_path("tools");
    let (image, archive) = build("merged", dir.path());
    let tree = archive
        .store_paths()
        .into_iter()
        .find(|p| p.ends_with("-fixture-tree"))
        .expect("the bare path ./fixture-tree is in the store layers");
    let id = load(Engine::Docker, &image, &archive);
    let out = Engine::Docker.run(
        &id,
        &[],
        &sh("for link in /share/doc/README /lib/readme-link /bin/hello /bin/sh; do readlink $link; done; \
             cat /share/doc/README; /bin/hello"),
    );
    let readme = std::fs::read_to_string(repo_file("tests/nix/fixture-tree/share/doc/README"))
        .expect("read the fixture README");
    let expected = format!(
        "{tree}/share/doc/README\n{tree}/lib/readme-link\n{tree}/bin/hello\n{tools}/bin/sh\n{readme}hello from the fixture tree\n"
    );
    assert_eq!(out, expected);
}

#[test]
fn include_store_paths_false_leaves_the_store_to_the_host() {
    let dir = temp_dir();
    let (image, archive) = build("noStore", dir.path());
    assert_eq!(archive.layers.len(), 1, "only the customisation layer");
    for (name, layer) in &archive.layers {
        for member in common::layer_member_names(layer) {
            assert!(
                member != "nix" && !member.starts_with("nix/"),
                "{name} holds {member}"
            );
        }
    }
    let conf = read_stream_conf(&nix_build(LIBRARY, "noStore.stream", dir.path()));
    assert_eq!(conf["store_layers"], json!([]));
    // The store comes from the host, as with includeStorePaths = false in nixpkgs.
    let id = load(Engine::Docker, &image, &archive);
    let out = Engine::Docker.run(&id, &["-v", "/nix/store:/nix/store:ro"], &[]);
    assert_eq!(out.trim_end(), "the store came from the host");
}

// ------------------------------------------------------------------------ commands, perms

#[test]
fn fake_root_commands_give_files_numeric_owners() {
    let dir = temp_dir();
    let (image, archive) = build("fakeroot", dir.path());
    let custom = layer_listing(&archive.layers[1].1);
    for (name, owner) in [
        ("data/ ", "12345:12345 :"),
        ("data/sub/ ", "12345:12345 :"),
        ("data/sub/file ", "12345:54321 :"),
    ] {
        let line = custom
            .iter()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {custom:#?}"));
        assert!(line.contains(&format!(" {owner} ")), "{line}");
    }
    for engine in [Engine::Docker, Engine::Podman] {
        let id = load(engine, &image, &archive);
        let out = engine.run(
            &id,
            &[],
            &sh("stat -c '%u:%g %n' /data /data/sub /data/sub/file; cat /data/sub/file"),
        );
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            [
                "12345:12345 /data",
                "12345:12345 /data/sub",
                "12345:54321 /data/sub/file",
                "owned"
            ],
            "{engine:?}"
        );
    }
}

#[test]
fn enable_fakechroot_makes_absolute_paths_the_images() {
    let dir = temp_dir();
    // The build itself checks that /etc/marker (written by extraCommands) is visible.
    let (image, archive) = build("fakechroot", dir.path());
    let id = load(Engine::Podman, &image, &archive);
    let out = Engine::Podman.run(
        &id,
        &[],
        &sh("cat /data/where; stat -c '%u:%g' /data/where"),
    );
    assert_eq!(out.lines().collect::<Vec<_>>(), ["chrooted", "4242:4343"]);
}

#[test]
fn perms_set_modes_and_owners() {
    let dir = temp_dir();
    let (image, archive) = build("perms", dir.path());
    let id = load(Engine::Podman, &image, &archive);
    let out = Engine::Podman.run(
        &id,
        &[],
        &sh("stat -c '%a %u:%g %n' /srv/secret /srv/keys/a.key /srv/keys/readme"),
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "600 1000:1001 /srv/secret",
            "640 0:2000 /srv/keys/a.key",
            "644 0:0 /srv/keys/readme",
        ]
    );
}

// ------------------------------------------------------------------------ includeNixDB

/// What Nix has registered about `paths` in `store` (a store URI), as
/// `nix path-info --json` shows it: path, NAR hash and size, references.
fn path_info(store: &str, paths: &[String]) -> Vec<Value> {
    let out = run_stdout(
        command(
            "nix",
            [
                "path-info",
                "--extra-experimental-features",
                "nix-command",
                "--json",
                "--store",
                store,
            ],
        )
        .args(paths),
    );
    let all: Value = serde_json::from_str(&out).expect("nix path-info prints JSON");
    all.as_array()
        .expect("path-info gives a list")
        .iter()
        .map(|info| {
            json!({
                "path": info["path"],
                "narHash": info["narHash"],
                "narSize": info["narSize"],
                "references": info["references"],
            })
        })
        .collect()
}

/// The same infos without each path's reference to itself.
fn without_self_references(infos: &[Value]) -> Vec<Value> {
    infos
        .iter()
        .map(|info| {
            let mut info = info.clone();
            let path = info["path"].clone();
            info["references"]
                .as_array_mut()
                .expect("references")
                .retain(|r| *r != path);
            info
        })
        .collect()
}

/// An image with includeNixDB unpacked: the host's and the image's `nix path-info` of
/// the closure of its contents (tools and leafB), and the root filesystem.
struct UnpackedNixDb {
    _dir: tempfile::TempDir,
    rootfs: PathBuf,
    store: String,
    expected: Vec<String>,
    roots: [PathBuf; 2],
}

fn unpack_nix_db_image(attr: &str) -> UnpackedNixDb {
    let dir = temp_dir();
    let image = nix_build(LIBRARY, attr, dir.path());
    let rootfs = oci_unpack(&image, dir.path());
    assert!(
        rootfs.join("nix/var/nix/db/db.sqlite").is_file(),
        "{attr}: no Nix database in the image"
    );
    let roots = [
        PathBuf::from(out_path("tools")),
        PathBuf::from(out_path("leafB")),
    ];
    let expected = closure(&[&roots[0], &roots[1]]);
    let store = format!("local?root={}", rootfs.display());
    UnpackedNixDb {
        _dir: dir,
        rootfs,
        store,
        expected,
        roots,
    }
}

/// Checks, with the host's Nix, that the image's database registers exactly the closure
/// of the contents, with the host store's NAR hashes, sizes and references (but for
/// self-references: see nix_db_keeps_self_references), that the files in the image have
/// those hashes, and that the contents are GC roots.
fn assert_nix_db_registers_the_closure(attr: &str) {
    let db = unpack_nix_db_image(attr);
    let all = run_stdout(command(
        "nix",
        [
            "path-info",
            "--extra-experimental-features",
            "nix-command",
            "--all",
            "--store",
            &db.store,
        ],
    ));
    let mut registered: Vec<String> = all.lines().map(str::to_owned).collect();
    registered.sort();
    assert_eq!(registered, db.expected, "{attr}: registered paths");
    assert_eq!(
        without_self_references(&path_info(&db.store, &db.expected)),
        without_self_references(&path_info("auto", &db.expected)),
        "{attr}: the image's database and the host's disagree"
    );

    // Every registered path's files hash to the registered NAR hash.
    let output =
        run(command("nix-store", ["--verify", "--check-contents", "--store"]).arg(&db.rootfs));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("was modified"), "{attr}: {stderr}");

    for root in &db.roots {
        let link = db
            .rootfs
            .join("nix/var/nix/gcroots/docker")
            .join(root.file_name().expect("store path name"));
        assert_eq!(
            std::fs::read_link(&link).unwrap_or_else(|e| panic!("{}: {e}", link.display())),
            *root
        );
    }
}

#[test]
fn include_nix_db_registers_the_contents_closure() {
    assert_nix_db_registers_the_closure("nixDb");
}

#[test]
fn build_layered_image_with_nix_db_registers_the_contents_closure() {
    assert_nix_db_registers_the_closure("nixDbWrapper");
}

/// busybox-tools refers to itself (its bin/ links point at its own bin/busybox); Nix
/// records that reference, and nixpkgs' `nix-store --load-db` of the closure's
/// registration keeps it, so `nix-store -q --references` in the container lists it.
#[test]
fn nix_db_keeps_self_references() {
    let db = unpack_nix_db_image("nixDb");
    let host = path_info("auto", &db.expected);
    assert!(
        host.iter().any(|info| info["references"]
            .as_array()
            .expect("references")
            .contains(&info["path"])),
        "no path of the closure refers to itself: {host:?}"
    );
    assert_eq!(path_info(&db.store, &db.expected), host);
}

// ------------------------------------------------------------------------ debug

/// The build log of attribute `attr`'s derivation ("" if Nix kept none).
fn build_log(attr: &str) -> String {
    let drv = run_stdout(nix_instantiate_command(LIBRARY, attr));
    let output = command("nix-store", ["--read-log", drv.trim()])
        .output()
        .expect("run nix-store --read-log");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn debug_prints_the_layer_plan_in_the_build_log() {
    let dir = temp_dir();
    let tools = out_path("tools");
    nix_build(LIBRARY, "debug", dir.path());
    nix_build(LIBRARY, "quiet", dir.path());
    let log = build_log("debug");
    assert!(
        log.contains("own layer: the 1st largest path") && log.contains(&tools),
        "the debug image's build log lacks the layer plan:\n{log}"
    );
    let quiet = build_log("quiet");
    assert!(
        !quiet.contains("own layer"),
        "without debug the log has the plan:\n{quiet}"
    );
}

// ------------------------------------------------------------------------ passthru, meta

#[test]
fn passthru_and_meta_reach_both_results() {
    let attrs = eval(
        r#"let s = l.passthruStream; a = l.passthruArchive; in {
          stream = {
            inherit (s) answer nested isExe imageName imageTag;
            inherit (s.meta) description license mainProgram;
            path = s.outPath;
            conf = s.conf.outPath;
          };
          archive = {
            inherit (a) answer nested imageName imageTag;
            inherit (a.meta) description license;
            stream = a.stream.outPath;
            streamScript = a.streamScript.outPath;
          };
        }"#,
    );
    let stream_path = attrs["stream"]["path"].clone();
    assert!(stream_path.is_string(), "{attrs}");
    assert_eq!(
        attrs["stream"],
        json!({
            "answer": 42,
            "nested": {"flag": true},
            "isExe": true,
            "imageName": "stowage-lib/passthru",
            "imageTag": "p1",
            "description": "An image that carries passthru and meta",
            "license": "MIT",
            "mainProgram": "stream-Passthru",
            "path": stream_path,
            // The stream script is the conf itself.
            "conf": stream_path,
        })
    );
    // buildLayeredImage's stream is streamLayeredImage of the same arguments.
    assert_eq!(
        attrs["archive"],
        json!({
            "answer": 42,
            "nested": {"flag": true},
            "imageName": "stowage-lib/passthru",
            "imageTag": "p1",
            "description": "An image that carries passthru and meta",
            "license": "MIT",
            "stream": stream_path,
            "streamScript": stream_path,
        })
    );

    let dir = temp_dir();
    let conf = read_stream_conf(&nix_build(LIBRARY, "passthruStream.conf", dir.path()));
    assert_eq!(conf["repo_tag"], "stowage-lib/passthru:p1");
}

// ------------------------------------------------------------------------ examples

/// Removes a container when dropped, so a failing assertion leaves none running.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

#[test]
fn static_service_example_serves_its_page_as_its_user() {
    let dir = temp_dir();
    let image = nix_build("examples/static-service.nix", "", dir.path());
    let archive = DockerArchive::open_any(&image);
    assert_eq!(archive.repo_tag(), "static-service:1.0");
    let cmd = archive.config["config"]["Cmd"][0]
        .as_str()
        .expect("Cmd[0]")
        .to_owned();
    let busybox_bin = cmd.trim_end_matches("/httpd");

    let id = load(Engine::Docker, &image, &archive);
    let config = &Engine::Docker.inspect(&id)["Config"];
    assert_eq!(config["User"], "1000:1000");
    assert_eq!(config["WorkingDir"], "/srv");
    assert_eq!(config["ExposedPorts"], json!({"8080/tcp": {}}));
    assert_eq!(
        config["Labels"]["org.opencontainers.image.title"],
        "static-service"
    );

    let started = run_stdout(command(
        "docker",
        ["run", "-d", "--rm", "--network=none", id.as_str()],
    ));
    let container = Container(started.trim().to_owned());
    let exec = |args: &[&str]| {
        let mut cmd = command("docker", ["exec", container.0.as_str()]);
        cmd.args(args);
        cmd
    };
    let wget = format!("{busybox_bin}/wget");
    // httpd may need a moment to listen.
    let mut page = None;
    for _ in 0..50 {
        let output = exec(&[&wget, "-qO-", "http://127.0.0.1:8080/"])
            .output()
            .expect("run docker exec");
        if output.status.success() {
            page = Some(String::from_utf8_lossy(&output.stdout).into_owned());
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let page = page.expect("httpd never answered on port 8080");
    assert!(
        page.contains("Served by busybox httpd from a stowage image."),
        "{page}"
    );
    let who = run_stdout(exec(&[
        &format!("{busybox_bin}/sh"),
        "-c",
        "id -u; id -g; pwd; stat -c '%u:%g %n' /srv/www /srv/www/index.html",
    ]));
    assert_eq!(
        who.lines().collect::<Vec<_>>(),
        [
            "1000",
            "1000",
            "/srv",
            "1000:1000 /srv/www",
            "1000:1000 /srv/www/index.html"
        ]
    );
}

#[test]
fn fakeroot_example_runs_as_its_user_with_its_owners_and_modes() {
    let dir = temp_dir();
    // The package the example builds with holds a static bin/stowage and nothing else:
    // the chown and chgrp stand-ins are the builder's own business.
    let package = nix_build("nix/test-support.nix", "stowage", dir.path());
    assert_eq!(common::package_tree(&package), ["bin", "bin/stowage"]);
    let image = nix_build("examples/fakeroot.nix", "", dir.path());
    let archive = DockerArchive::open_any(&image);
    for engine in [Engine::Docker, Engine::Podman] {
        let id = load(engine, &image, &archive);
        let out = engine.run(&id, &[], &[]);
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            [
                "uid=12345(app) gid=12345(app) groups=12345(app)",
                "app:app 755 /data",
                "app:app 644 /data/greeting",
                "app:app 600 /data/secret",
                "for app only",
            ],
            "{engine:?}"
        );
    }
}

#[test]
fn registry_name_example_is_tagged_by_its_store_path() {
    let dir = temp_dir();
    let image = nix_build("examples/registry-name.nix", "", dir.path());
    let archive = DockerArchive::open_any(&image);
    let tag =
        nix_eval_json("(import ./examples/registry-name.nix { inherit stowageBinary; }).imageTag");
    let stream = nix_eval_json(
        "(import ./examples/registry-name.nix { inherit stowageBinary; }).stream.outPath",
    );
    let tag = tag.as_str().expect("imageTag is a string");
    assert_eq!(tag, store_hash_part(stream.as_str().expect("stream path")));
    let repo_tag = format!("registry.example.com/team/app:{tag}");
    assert_eq!(archive.repo_tag(), repo_tag);
    let loaded = Engine::Docker.load(&image);
    assert!(
        loaded.contains(&format!("Loaded image: {repo_tag}")),
        "docker load printed {loaded:?}"
    );
    let out = run_stdout(command(
        "docker",
        ["run", "--rm", "--network=none", repo_tag.as_str()],
    ));
    assert_eq!(out.trim_end(), "app, from registry.example.com/team");
}
