//! buildImage and buildImageWithNixDb: every argument with an image of
//! tests/nix/build-image.nix whose result would differ if the argument were ignored, and
//! twins of nixpkgs' docker-tools subtests that use buildImage. Checked in the running
//! container (Docker, and podman with runc), in `image inspect`, and in the archive where
//! running cannot show it.

mod common;

use std::path::{Path, PathBuf};

use common::{
    build_archive, closure, eval_in, layer_listing, nix_instantiate_command, nix_store_in,
    oci_unpack, run_failing, run_stdout, store_hash_part, temp_dir, DockerArchive, Engine,
};
use serde_json::{json, Value};

/// The Nix file of the images these tests build.
const IMAGES: &str = "tests/nix/build-image.nix";

/// Builds attribute `attr` of tests/nix/build-image.nix (result link in `dir`).
fn build(attr: &str, dir: &Path) -> (PathBuf, DockerArchive) {
    build_archive(IMAGES, attr, dir)
}

/// Evaluates `expr`, in which `l` is tests/nix/build-image.nix.
fn eval(expr: &str) -> Value {
    eval_in(IMAGES, expr)
}

/// Loads `image` into `engine` and runs a container of it with `args`.
fn run_in(engine: Engine, image: &Path, archive: &DockerArchive, args: &[&str]) -> String {
    engine.load(image);
    engine.run(&archive.image_id(), &[], args)
}

/// The listing of the archive's top layer (`path mode uid:gid …`).
fn top_layer(archive: &DockerArchive) -> Vec<String> {
    let (_, layer) = archive.layers.last().expect("an image has a layer");
    layer_listing(layer)
}

/// The line of `listing` for the member `path`, if there is one.
fn line<'a>(listing: &'a [String], path: &str) -> Option<&'a String> {
    listing.iter().find(|l| l.split(' ').next() == Some(path))
}

/// Docker loads an arm64 image on this amd64 machine and says it is arm64 (not run:
/// there is no emulation here).
fn assert_loads_as_arm64(image: &Path, archive: &DockerArchive) {
    Engine::Docker.load(image);
    let inspect = Engine::Docker.inspect(&archive.image_id());
    assert_eq!(inspect["Architecture"], "arm64");
    assert_eq!(inspect["Os"], "linux");
}

#[test]
fn bash_runs_with_a_stable_date_and_its_tag() {
    let dir = temp_dir();
    let (image, archive) = build("bash", dir.path());
    assert!(image.to_string_lossy().ends_with("-bash.tar.gz"));
    assert_eq!(archive.repo_tag(), "stowage-bi/bash:latest");
    assert_eq!(archive.config["created"], "1970-01-01T00:00:01Z");
    for engine in [Engine::Docker, Engine::Podman] {
        let out = run_in(engine, &image, &archive, &[]);
        assert_eq!(out.trim(), "hello from buildImage", "{engine:?}");
    }
    // nixpkgs' subtest asks Docker.
    assert_eq!(
        Engine::Docker.inspect(&archive.image_id())["Created"],
        "1970-01-01T00:00:01Z"
    );
    // nixpkgs' members: no `./` prefix, and `repositories` for old loaders.
    let config = archive.config_name.clone();
    let mut top: Vec<&str> = archive
        .members
        .iter()
        .map(String::as_str)
        .filter(|m| !m.starts_with("layers/"))
        .collect();
    top.sort();
    assert_eq!(top, [config.as_str(), "manifest.json", "repositories"]);
}

#[test]
fn tag_null_is_the_hash_of_the_image_and_image_tag_says_so() {
    let dir = temp_dir();
    let (image, archive) = build("noTag", dir.path());
    let attrs = eval("{ inherit (l.noTag) imageName imageTag; }");
    let tag = store_hash_part(&image.to_string_lossy());
    assert_eq!(
        attrs,
        json!({ "imageName": "stowage-bi/no-tag", "imageTag": tag })
    );
    assert_eq!(archive.repo_tag(), format!("stowage-bi/no-tag:{tag}"));
    let loaded = Engine::Docker.load(&image);
    assert!(
        loaded.contains(&format!("stowage-bi/no-tag:{tag}")),
        "{loaded}"
    );
}

#[test]
fn every_compressor_loads_where_its_engine_takes_it() {
    let dir = temp_dir();
    for (attr, suffix, magic) in [
        ("uncompressed", ".tar", &b""[..]),
        ("zstd", ".tar.zst", &[0x28, 0xb5, 0x2f, 0xfd][..]),
        ("bash", ".tar.gz", &[0x1f, 0x8b][..]),
    ] {
        let (image, archive) = build(attr, dir.path());
        assert!(
            image.to_string_lossy().ends_with(suffix),
            "{}",
            image.display()
        );
        let bytes = std::fs::read(&image).expect("read the image");
        assert!(bytes.starts_with(magic), "{attr}");
        for engine in [Engine::Docker, Engine::Podman] {
            let out = run_in(engine, &image, &archive, &["/bin/sh", "-c", "echo ran"]);
            assert_eq!(out.trim(), "ran", "{attr} in {engine:?}");
        }
    }
}

#[test]
fn created_now_is_not_the_fixed_date() {
    let dir = temp_dir();
    let (image, archive) = build("unstableDate", dir.path());
    let created = archive.config["created"].as_str().expect("created");
    assert_ne!(created, "1970-01-01T00:00:01Z");
    assert!(created.starts_with("20"), "{created}");
    // nixpkgs' subtest asks Docker.
    Engine::Docker.load(&image);
    let inspected = Engine::Docker.inspect(&archive.image_id())["Created"].clone();
    assert!(
        !inspected
            .as_str()
            .expect("Created")
            .contains("1970-01-01T00:00:01Z"),
        "{inspected}"
    );
}

#[test]
fn env_is_the_parents_then_the_childs_and_the_rest_is_inherited() {
    let dir = temp_dir();
    let (image, archive) = build("child", dir.path());
    assert_eq!(
        archive.layers.len(),
        2,
        "the parent's layer and one new layer"
    );
    assert_eq!(
        archive.config["config"]["Env"],
        json!([
            "FROM_PARENT=true",
            "LAST_LAYER=parent",
            "FROM_CHILD=true",
            "LAST_LAYER=child"
        ])
    );
    assert_eq!(
        archive.config["config"]["Labels"],
        json!({ "from": "parent" })
    );
    for engine in [Engine::Docker, Engine::Podman] {
        let out = run_in(engine, &image, &archive, &[]);
        let lines: Vec<&str> = out.lines().collect();
        for expected in [
            "FROM_PARENT=true",
            "FROM_CHILD=true",
            "LAST_LAYER=child",
            "/parent-wd",
        ] {
            assert!(lines.contains(&expected), "{expected} in {engine:?}: {out}");
        }
        assert!(!lines.contains(&"LAST_LAYER=parent"), "{engine:?}: {out}");
    }
}

#[test]
fn layers_keep_their_order_under_the_new_one() {
    let dir = temp_dir();
    let (image, archive) = build("layersOrder", dir.path());
    assert_eq!(archive.layers.len(), 3);
    Engine::Docker.load(&image);
    for i in 1..=3 {
        let file = format!("/tmp/layer{i}");
        let out = Engine::Docker.run(&archive.image_id(), &[], &["/bin/cat", &file]);
        assert_eq!(out.trim(), format!("layer{i}"));
    }
}

#[test]
fn the_new_layer_holds_only_store_paths_the_base_lacks() {
    let dir = temp_dir();
    let (_, base) = build("uncompressed", dir.path());
    let tools = eval("l.tools.outPath");
    let tools = tools.as_str().expect("a path").trim_start_matches('/');
    // The base got tools' closure, after `nix` and `nix/store` as 0555 directories.
    let base_layer = top_layer(&base);
    assert!(line(&base_layer, "nix/").is_some_and(|l| l.starts_with("nix/ 555 0:0")));
    assert!(line(&base_layer, "nix/store/").is_some_and(|l| l.starts_with("nix/store/ 555 0:0")));
    assert!(line(&base_layer, &format!("{tools}/")).is_some());

    let (_, over) = build("overBash", dir.path());
    let listing = top_layer(&over);
    assert!(
        line(&listing, &format!("{tools}/")).is_none(),
        "tools is in the base"
    );
    assert!(
        line(&listing, "nix/store/").is_none(),
        "the base has the store"
    );
    let linked = eval("l.linked.outPath");
    let linked = linked.as_str().expect("a path").trim_start_matches('/');
    assert!(
        line(&listing, &format!("{linked}/")).is_some(),
        "{listing:#?}"
    );
}

#[test]
fn build_image_works_on_top_of_a_layered_image() {
    let dir = temp_dir();
    let (image, archive) = build("layeredOnTop", dir.path());
    let (_, layered) = build("layered", dir.path());
    assert_eq!(archive.layers.len(), layered.layers.len() + 1);
    for engine in [Engine::Docker, Engine::Podman] {
        let out = run_in(engine, &image, &archive, &[]);
        assert_eq!(out.trim(), "hello", "{engine:?}");
    }
}

#[test]
fn a_layered_image_works_on_top_of_a_build_image_result() {
    let dir = temp_dir();
    let (image, archive) = build("layeredOnBuildImage", dir.path());
    let (_, child) = build("child", dir.path());
    assert_eq!(&archive.layers[..2], &child.layers[..]);
    for engine in [Engine::Docker, Engine::Podman] {
        let out = run_in(engine, &image, &archive, &[]);
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            ["data", "child"],
            "{engine:?}"
        );
    }
}

#[test]
fn a_stream_script_is_a_base_image() {
    let dir = temp_dir();
    let (image, archive) = build("onStream", dir.path());
    let stream = eval("l.stream.outPath");
    let layered = common::DockerArchive::from_bytes(
        &common::run(std::process::Command::new(stream.as_str().expect("a path"))).stdout,
    );
    assert_eq!(archive.layers.len(), layered.layers.len() + 1);
    assert_eq!(archive.layers[0].1, layered.layers[0].1);
    for engine in [Engine::Docker, Engine::Podman] {
        assert_eq!(
            run_in(engine, &image, &archive, &[]).trim(),
            "data",
            "{engine:?}"
        );
    }
}

#[test]
fn from_image_name_and_tag_pick_one_image_of_several() {
    let dir = temp_dir();
    let (image, archive) = build("onChosen", dir.path());
    let (_, chosen) = build("uncompressed", dir.path());
    assert_eq!(archive.layers.len(), chosen.layers.len() + 1);
    assert_eq!(archive.layers[0].1, chosen.layers[0].1);
    assert_eq!(
        run_in(Engine::Docker, &image, &archive, &[]).trim(),
        "chosen"
    );

    let err = run_failing(common::nix_build_command(
        IMAGES,
        "onAmbiguous",
        &["--no-out-link"],
    ));
    assert!(
        err.contains("holds 2 images and fromImage needs exactly one; pick one with fromImageName and fromImageTag"),
        "{err}"
    );
}

#[test]
fn a_bare_path_lands_at_the_root_and_architecture_is_written_as_given() {
    let dir = temp_dir();
    let (image, archive) = build("withPath", dir.path());
    let out = run_in(
        Engine::Docker,
        &image,
        &archive,
        &["/bin/cat", "/share/doc/README"],
    );
    assert!(!out.is_empty());
    let (arm_image, arm) = build("withArchitecture", dir.path());
    assert_eq!(arm.config["architecture"], "arm64");
    assert!(line(&top_layer(&arm), "share/doc/README").is_some());
    assert_loads_as_arm64(&arm_image, &arm);
}

#[test]
fn uid_and_gid_own_copy_to_root_and_store_paths_stay_roots() {
    let dir = temp_dir();
    let (_, archive) = build("owned", dir.path());
    let listing = top_layer(&archive);
    let file = line(&listing, "share/data/file").expect("the file is copied");
    assert!(file.starts_with("share/data/file 444 1000:1001"), "{file}");
    let linked = eval("l.linked.outPath");
    let linked = linked.as_str().expect("a path").trim_start_matches('/');
    let store = line(&listing, &format!("{linked}/share/data/file")).expect("the store path");
    assert!(store.contains(" 0:0 "), "{store}");
}

#[test]
fn dirlinks_are_copied_as_directories_unless_kept() {
    let dir = temp_dir();
    let (_, copied) = build("owned", dir.path());
    let listing = top_layer(&copied);
    let link = line(&listing, "etc/data-link/").expect("a directory");
    assert!(link.ends_with(" dir"), "{link}");
    assert!(line(&listing, "etc/data-link/file").is_some());
    let relative = line(&listing, "share/data/relative").expect("the relative link");
    assert!(relative.ends_with("symlink -> file"), "{relative}");

    let (_, kept) = build("dirlinksKept", dir.path());
    let listing = top_layer(&kept);
    let link = line(&listing, "etc/data-link").expect("a symlink");
    assert!(link.ends_with("symlink -> ../share/data"), "{link}");
    assert!(line(&listing, "etc/data-link/file").is_none());

    let (_, deprecated) = build("deprecatedContents", dir.path());
    assert!(line(&top_layer(&deprecated), "etc/data-link/file").is_some());
}

#[test]
fn nix_db_registers_copy_to_root_closure() {
    let dir = temp_dir();
    let (image, archive) = build("nixDb", dir.path());
    let listing = top_layer(&archive);
    assert!(
        line(&listing, "nix/var/nix/db/db.sqlite").is_some(),
        "{listing:#?}"
    );
    let linked = eval("l.linked.outPath");
    let name = linked
        .as_str()
        .expect("a path")
        .rsplit('/')
        .next()
        .expect("a name");
    let root = format!("nix/var/nix/gcroots/docker/{name}");
    assert!(line(&listing, &root).is_some(), "{listing:#?}");
    // `nix` is written once, as the store part has it.
    assert_eq!(listing.iter().filter(|l| l.starts_with("nix/ ")).count(), 1);

    // nixpkgs' subtest runs `nix-store -qR` in the container; with no nix binary here,
    // the host's reads the image's database: it has copyToRoot's whole closure.
    let rootfs = oci_unpack(&image, dir.path());
    let tools = eval("l.tools.outPath");
    let roots = [&linked, &tools].map(|p| Path::new(p.as_str().expect("a path")));
    let registered = run_stdout(nix_store_in(&rootfs).arg("-qR").args(roots));
    let mut registered: Vec<&str> = registered.lines().collect();
    registered.sort();
    assert_eq!(registered, closure(&roots));
}

#[test]
fn override_attrs_rebuilds_with_the_new_base() {
    let dir = temp_dir();
    let (image, archive) = build("overridden", dir.path());
    let (_, base) = build("uncompressed", dir.path());
    assert_eq!(archive.layers.len(), base.layers.len() + 1);
    let out = run_in(
        Engine::Docker,
        &image,
        &archive,
        &["/bin/sh", "-c", "echo over"],
    );
    assert_eq!(out.trim(), "over");
}

#[test]
fn a_registry_prefix_stays_in_the_repository() {
    let dir = temp_dir();
    let (image, archive) = build("prefixed", dir.path());
    assert!(image.to_string_lossy().ends_with("-image.tar"));
    assert_eq!(
        archive.repo_tag(),
        "registry-1.docker.io/stowage-bi/image:latest"
    );
    let loaded = Engine::Docker.load(&image);
    assert!(
        loaded.contains("registry-1.docker.io/stowage-bi/image:latest"),
        "{loaded}"
    );
}

#[test]
fn run_as_root_changes_become_the_layer_with_whiteouts() {
    let dir = temp_dir();
    let (image, archive) = build("runAsRoot", dir.path());
    let listing = top_layer(&archive);
    for expected in [
        "runAsRoot 644 0:0",
        "extraCommands 644 0:0",
        "etc/motd 644 0:0",
        "etc/.wh.keep ",
        "data/old-dir/.wh..wh..opq ",
        "data/old-dir/new ",
        // chown in runAsRoot: recorded, and a base file chowned alone is carried up.
        "home/alice/ 755 1000:1000",
        "home/alice/file 644 1000:1000",
        "etc/untouched 644 4321:4321 : size=10",
        // chown(2) from a program (busybox's own chown, not the shell's stand-in).
        "etc/trapped 644 2000:3000",
        "home/bob/ 755 1500:1500",
        "home/bob/.config/ 755 1500:1500",
    ] {
        assert!(
            listing.iter().any(|l| l.starts_with(expected)),
            "{expected}: {listing:#?}"
        );
    }
    // Only what the script changed: not the base's unchanged files, no mount points.
    for absent in ["bin/", "dev/", "proc/", "sys/", "nix/", "data/old-dir/gone"] {
        assert!(line(&listing, absent).is_none(), "{absent}: {listing:#?}");
    }
    for engine in [Engine::Docker, Engine::Podman] {
        let out = run_in(engine, &image, &archive, &[]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[..3],
            ["(runAsRoot)", "(extraCommand)", "changed"],
            "{engine:?}: {out}"
        );
        assert!(!lines.contains(&"keep"), "{engine:?}: {out}");
        assert!(
            lines.contains(&"new") && !lines.contains(&"gone"),
            "{engine:?}: {out}"
        );
    }
}

#[test]
fn run_as_root_sees_the_base_layers_in_order() {
    let dir = temp_dir();
    let (image, archive) = build("unpackOrder", dir.path());
    assert_eq!(archive.layers.len(), 3);
    let out = run_in(
        Engine::Docker,
        &image,
        &archive,
        &["/bin/cat", "/layer-order"],
    );
    assert_eq!(out, "abc");
}

#[test]
fn a_base_listing_one_layer_twice_works_under_run_as_root() {
    let dir = temp_dir();
    let (image, archive) = build("repeatedLayer", dir.path());
    assert_eq!(archive.layers.len(), 3);
    assert_eq!(archive.layers[0].1, archive.layers[1].1);
    let out = run_in(
        Engine::Docker,
        &image,
        &archive,
        &["/bin/sh", "-c", "exit 0"],
    );
    assert_eq!(out, "");
}

#[test]
fn the_default_architecture_is_the_contents_systems() {
    let dir = temp_dir();
    let (image, archive) = build("cross", dir.path());
    assert_eq!(archive.config["architecture"], "arm64");
    assert_loads_as_arm64(&image, &archive);
    let (_, native) = build("uncompressed", dir.path());
    assert_eq!(native.config["architecture"], "amd64");
}

#[test]
fn bad_arguments_are_refused_at_evaluation() {
    for (attr, expected) in [
        (
            "bothContents",
            "give copyToRoot or its deprecated name contents, not both",
        ),
        ("unknownArgument", "copyToRoots"),
    ] {
        let err = run_failing(nix_instantiate_command(IMAGES, attr));
        assert!(err.contains(expected), "{attr}: {err}");
    }
}
