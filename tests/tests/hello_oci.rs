//! examples/hello.nix as the containers/image tools see it: `skopeo inspect` reads the
//! archive, `skopeo copy` turns it into an OCI layout, and `umoci unpack` extracts the
//! root filesystem, which must hold the image's store closure exactly, file by file.

mod common;

use std::collections::BTreeSet;

use common::{
    assert_store_is_the_tools_closure, command, entries, nix_build, oci_unpack, read_stream_conf,
    run_stdout, temp_dir, tools_closure,
};
use serde_json::Value;

#[test]
fn skopeo_inspects_the_hello_archive() {
    let dir = temp_dir();
    let image = nix_build("examples/hello.nix", "", dir.path());
    let script = nix_build("examples/hello.nix", "stream", dir.path());

    let inspect = run_stdout(
        command("skopeo", ["inspect"]).arg(format!("docker-archive:{}", image.display())),
    );
    let inspect: Value = serde_json::from_str(&inspect).expect("skopeo inspect prints JSON");
    assert_eq!(inspect["Architecture"], "amd64");
    assert_eq!(inspect["Os"], "linux");

    let conf = read_stream_conf(&script);
    let store_layers = conf["store_layers"].as_array().expect("store_layers");
    let layers = inspect["Layers"].as_array().expect("skopeo lists Layers");
    assert_eq!(
        layers.len(),
        store_layers.len() + 1,
        "one layer per store layer, and the customisation layer"
    );

    let in_layers: BTreeSet<String> = store_layers
        .iter()
        .flat_map(|layer| layer.as_array().expect("a store layer is a list"))
        .map(|p| p.as_str().expect("store path").to_owned())
        .collect();
    let expected: BTreeSet<String> = tools_closure().into_iter().collect();
    assert_eq!(in_layers, expected, "the layers hold exactly the closure");
}

#[test]
fn umoci_unpacks_the_store_closure_file_by_file() {
    let dir = temp_dir();
    let image = nix_build("examples/hello.nix", "", dir.path());
    let rootfs = oci_unpack(&image, dir.path());
    assert_eq!(
        entries(&rootfs),
        vec!["bin".to_owned(), "nix".to_owned()],
        "the root holds the contents' bin/ (symlinks into the store) and nix/"
    );
    let busybox = std::fs::read_link(rootfs.join("bin/busybox")).expect("bin/busybox is a symlink");
    assert!(
        busybox.starts_with("/nix/store/") && busybox.ends_with("bin/busybox"),
        "contents are merged into the root as symlinks into the store: {}",
        busybox.display()
    );
    assert_store_is_the_tools_closure(&rootfs);
}
