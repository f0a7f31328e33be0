//! OCI output end to end: the library's `format = "oci"` (buildLayeredImage and
//! buildImage) and `"oci-archive"`, `stowage build --format`, `stowage index` and
//! imageIndex, read by umoci, skopeo and podman. The images are tests/nix/oci.nix.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{
    assert_store_is_the_tools_closure, command, compare_trees, entries, nix_build,
    nix_build_command, nix_instantiate_command, run, run_failing, run_stdout, stowage_binary,
    temp_dir, tools_path, umoci_unpack, Engine, OciLayout,
};
use serde_json::Value;

const IMAGES: &str = "tests/nix/oci.nix";

/// The NAME:TAG of the `layered` image (and of its stream script).
const LAYERED: &str = "stowage-e2e/oci-layered:v1";

/// The static stowage binary with `args`: the command, not yet run.
fn stowage<const N: usize>(args: [&str; N]) -> Command {
    let mut cmd = Command::new(stowage_binary());
    cmd.args(args);
    cmd
}

/// `stowage build IMAGE --format FORMAT -o OUT`, run with the environment `env`.
fn stowage_build(image: &Path, format: &str, out: &Path, env: &[(&str, &str)]) {
    let mut cmd = stowage(["build", "--format", format, "-o"]);
    run(cmd.arg(out).arg(image).envs(env.iter().copied()));
}

/// `skopeo inspect` (with `extra` options) of the image `reference` of a layout
/// directory, as JSON.
fn skopeo_inspect(layout: &Path, reference: &str, extra: &[&str]) -> Value {
    let out = run_stdout(
        command("skopeo", ["inspect"])
            .args(extra)
            .arg(format!("oci:{}:{reference}", layout.display())),
    );
    serde_json::from_str(&out).expect("skopeo inspect prints JSON")
}

#[test]
fn a_layered_oci_layout_unpacks_to_the_closure_and_skopeo_reads_its_config() {
    let dir = temp_dir();
    let layout = nix_build(IMAGES, "layered", dir.path());
    assert!(layout.join("oci-layout").is_file() && layout.join("index.json").is_file());

    let rootfs = umoci_unpack(&layout, LAYERED, &dir.path().join("bundle"));
    assert_eq!(entries(&rootfs), ["bin", "nix"]);
    assert_store_is_the_tools_closure(&rootfs);

    let inspect = skopeo_inspect(&layout, LAYERED, &["--config"]);
    assert_eq!(inspect["architecture"], "amd64");
    assert_eq!(inspect["os"], "linux");
    let env = inspect["config"]["Env"].as_array().expect("Env");
    assert!(env.contains(&Value::from("GREETING=oci")), "{inspect}");
    let cmd = inspect["config"]["Cmd"].to_string();
    assert!(cmd.contains("Hello from an OCI layout"), "{cmd}");

    let manifest = OciLayout::open(&layout).manifest();
    for layer in manifest["layers"].as_array().expect("layers") {
        assert_eq!(
            layer["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
    }
}

#[test]
fn a_build_image_oci_layout_unpacks_to_copy_to_root_and_the_closure() {
    let dir = temp_dir();
    let layout = nix_build(IMAGES, "built", dir.path());
    let rootfs = umoci_unpack(
        &layout,
        "stowage-e2e/oci-built:v1",
        &dir.path().join("bundle"),
    );
    assert_eq!(entries(&rootfs), ["bin", "nix"]);
    compare_trees(&tools_path().join("bin"), &rootfs.join("bin"));
    assert_store_is_the_tools_closure(&rootfs);
    let inspect = skopeo_inspect(&layout, "stowage-e2e/oci-built:v1", &[]);
    assert_eq!(inspect["Architecture"], "amd64");
}

#[test]
fn an_oci_archive_from_stowage_build_loads_and_runs_in_podman() {
    let dir = temp_dir();
    let stream = nix_build(IMAGES, "stream", dir.path());
    let archive = dir.path().join("image.oci.tar");
    stowage_build(&stream, "oci-archive", &archive, &[]);
    let loaded = Engine::Podman.load(&archive);
    assert!(loaded.contains(LAYERED), "podman load printed {loaded:?}");
    let id = OciLayout::open(&archive).image_id();
    let output = Engine::Podman.run(&id, &[], &[]);
    assert_eq!(output.trim(), "Hello from an OCI layout");
}

#[test]
fn zstd_layers_load_and_run_in_podman() {
    let dir = temp_dir();
    let archive = nix_build(IMAGES, "layered-zstd", dir.path());
    let layout = OciLayout::open(&archive);
    for layer in layout.manifest()["layers"].as_array().expect("layers") {
        assert_eq!(
            layer["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );
    }
    let loaded = Engine::Podman.load(&archive);
    assert!(
        loaded.contains("stowage-e2e/oci-zstd:v1"),
        "podman load printed {loaded:?}"
    );
    let output = Engine::Podman.run(&layout.image_id(), &[], &[]);
    assert_eq!(output.trim(), "Hello from an OCI layout");
}

#[test]
fn layouts_are_byte_identical_across_builds_and_core_counts() {
    let dir = temp_dir();
    let from_nix = OciLayout::open(&nix_build(IMAGES, "layered", dir.path()));
    let stream = nix_build(IMAGES, "stream", dir.path());
    let layouts: Vec<OciLayout> = [("a", None), ("b", None), ("one-core", Some("1"))]
        .iter()
        .map(|(name, threads)| {
            let out = dir.path().join(name);
            let env: Vec<(&str, &str)> = threads
                .map(|t| ("RAYON_NUM_THREADS", t))
                .into_iter()
                .collect();
            stowage_build(&stream, "oci-dir", &out, &env);
            OciLayout::open(&out)
        })
        .collect();
    assert!(from_nix.files.len() > 3, "{:?}", from_nix.files.keys());
    for layout in &layouts {
        let names: Vec<_> = layout.files.keys().collect();
        assert_eq!(names, from_nix.files.keys().collect::<Vec<_>>());
        for (name, bytes) in &layout.files {
            assert!(bytes == &from_nix.files[name], "{name} differs");
        }
    }
}

#[test]
fn a_nix_shell_image_can_be_an_oci_archive() {
    let dir = temp_dir();
    let archive = nix_build(IMAGES, "nix-shell", dir.path());
    let inspect = run_stdout(
        command("skopeo", ["inspect", "--config"])
            .arg(format!("oci-archive:{}", archive.display())),
    );
    let config: Value = serde_json::from_str(&inspect).expect("skopeo inspect prints JSON");
    assert_eq!(config["config"]["User"], "1000:1000", "{config}");
    let layout = OciLayout::open(&archive);
    let name = &layout.index()["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"];
    assert_eq!(name, "stowage-e2e/oci-nix-shell:v1");
}

/// The platforms an image index names, as `os/architecture`.
fn platforms(index: &Value) -> BTreeSet<String> {
    index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .map(|m| {
            format!("{}/{}", m["platform"]["os"], m["platform"]["architecture"]).replace('"', "")
        })
        .collect()
}

#[test]
fn an_image_index_names_both_platforms_and_skopeo_copies_all_of_it() {
    let dir = temp_dir();
    let index_file = nix_build(IMAGES, "index", dir.path());
    let file: Value =
        serde_json::from_slice(&std::fs::read(&index_file).expect("read the index file"))
            .expect("the index file is JSON");
    assert_eq!(file["stowageIndex"], 1);
    assert_eq!(file["images"].as_array().expect("images").len(), 2);

    let layout = nix_build(IMAGES, "index.layout", dir.path());
    let reference = "stowage-e2e/oci-multi:v1";
    let raw = skopeo_inspect(&layout, reference, &["--raw"]);
    assert_eq!(raw["mediaType"], "application/vnd.oci.image.index.v1+json");
    let both: BTreeSet<String> = ["linux/amd64", "linux/arm64"].map(String::from).into();
    assert_eq!(platforms(&raw), both);

    let copy = dir.path().join("copy");
    run(command("skopeo", ["copy", "--quiet", "--all"])
        .arg(format!("oci:{}:{reference}", layout.display()))
        .arg(format!("oci:{}:copied", copy.display())));
    let copied = skopeo_inspect(&copy, "copied", &["--raw"]);
    assert_eq!(platforms(&copied), both);
    let arm = skopeo_inspect(&copy, "copied", &["--override-arch", "arm64"]);
    assert_eq!(arm["Architecture"], "arm64");

    // stowage index on the same images writes the same layout under another name.
    let images: Vec<PathBuf> = file["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|p| PathBuf::from(p.as_str().expect("a path")))
        .collect();
    let out = dir.path().join("cli.oci.tar");
    let mut cmd = stowage([
        "index",
        "--format",
        "oci-archive",
        "-t",
        "cli/multi:2",
        "-o",
    ]);
    run(cmd.arg(&out).args(&images));
    let cli = OciLayout::open(&out);
    assert_eq!(
        cli.index()["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "cli/multi:2"
    );
    assert_eq!(platforms(&cli.manifest()), both);
    assert_eq!(
        cli.manifest(),
        OciLayout::open(&layout).manifest(),
        "the same image index"
    );
}

#[test]
fn an_index_of_two_images_of_one_platform_is_refused() {
    let stderr = run_failing(nix_build_command(
        IMAGES,
        "errors.samePlatform",
        &["--no-out-link"],
    ));
    assert!(stderr.contains("is for linux/amd64 as"), "{stderr}");
    assert!(stderr.contains("one image per platform"), "{stderr}");

    let dir = temp_dir();
    let stream = nix_build(IMAGES, "stream", dir.path());
    let mut cmd = stowage(["index", "-o"]);
    let stderr = run_failing(cmd.arg(dir.path().join("out")).arg(&stream).arg(&stream));
    assert!(stderr.contains("one image per platform"), "{stderr}");
    assert!(!dir.path().join("out").exists(), "nothing is left on error");
}

#[test]
fn mistakes_in_format_and_image_index_stop_the_evaluation() {
    let cases = [
        (
            "unknownFormat",
            "the format argument \"docker-archive\" is unknown; use \"docker\"",
        ),
        (
            "unknownImageFormat",
            "bad: the format argument \"oci-dir\" is unknown",
        ),
        ("noImages", "imageIndex empty: images is empty"),
        (
            "layoutInIndex",
            "images[0] is an OCI layout (format = \"oci\")",
        ),
        ("layoutAsBase", "child: fromImage is an OCI layout"),
    ];
    for (attr, expected) in cases {
        let stderr = run_failing(nix_instantiate_command(IMAGES, &format!("errors.{attr}")));
        assert!(stderr.contains(expected), "{attr}: {stderr}");
    }
}
