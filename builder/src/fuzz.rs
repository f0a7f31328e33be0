//! Fuzz targets: each feeds one reader of untrusted input arbitrary bytes, and goes on
//! through what the builder does next with what was read, so a panic, hang or huge
//! allocation anywhere on that path is found. A target may only refuse the input with an
//! error (which `Error::one_line` prints as one line whatever it holds).
//!
//! The targets are run two ways: by the coverage-guided fuzzer (`fuzz/`, driven by
//! `scripts/fuzz`), and over the regression corpus (`builder/fuzz-corpus/<target>/`) by
//! `builder/tests/fuzz_corpus.rs` in every test run. They read no file the input names
//! (a pipeline given as a file name is skipped): a fuzzer would find `/dev/zero`.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::conf::attrs::{self, parse_attrs};
use crate::conf::Conf;
use crate::graph::{legacy, Graph};
use crate::image::base::{read_archive_images, read_base_image};
use crate::image::rootfs;
use crate::layering::{self, pipeline, AlgorithmName, FixedLayers, Settings};
use crate::registry::auth;

/// A fuzz target: takes any bytes, and panics only on a bug.
pub type Target = fn(&[u8]);

/// Every target by name: the name is its corpus directory and its `fuzz/` binary.
pub const TARGETS: [(&str, Target); 8] = [
    ("conf", conf),
    ("attrs", attrs),
    ("graph_json", graph_json),
    ("graph_legacy", graph_legacy),
    ("pipeline", pipeline),
    ("base_image", base_image),
    ("engine_answer", engine_answer),
    ("auth_file", auth_file),
];

/// The name every target gives its input in errors.
const INPUT: &str = "input";

/// A conf: parsed, checked into an image spec, and its `layering` section planned.
pub fn conf(data: &[u8]) {
    let file = Path::new(INPUT);
    let Ok(conf) = Conf::parse(data, file) else {
        return;
    };
    let _ = conf.image_spec(file, None);
    let (Some(section), Ok(store_dir)) = (&conf.layering, conf.store_dir(file)) else {
        return;
    };
    if let Ok(graph) = section.graph(&store_dir, file) {
        plan(&graph, &section.settings());
    }
}

/// `.attrs.json`, read as every derivation's schema.
pub fn attrs(data: &[u8]) {
    let file = Path::new(INPUT);
    let _ = parse_attrs::<attrs::WriteJsonAttrs>(data, file);
    let _ = parse_attrs::<attrs::StreamScriptAttrs>(data, file);
    let _ = parse_attrs::<attrs::ArchiveAttrs>(data, file);
    let _ = parse_attrs::<attrs::ExportImageAttrs>(data, file);
    let _ = parse_attrs::<attrs::MergeImagesAttrs>(data, file);
    let _ = parse_attrs::<attrs::CustomisationAttrs>(data, file);
    let _ = parse_attrs::<attrs::BuildImageAttrs>(data, file);
}

/// The JSON `exportReferencesGraph`, planned with both algorithms.
pub fn graph_json(data: &[u8]) {
    if let Ok(graph) = Graph::parse_json(data, store(), Path::new(INPUT)) {
        plan_both(&graph);
    }
}

/// The legacy text `exportReferencesGraph`, planned with both algorithms.
pub fn graph_legacy(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(graph) = Graph::parse_legacy(&text, store(), Path::new(INPUT)) {
        plan_both(&graph);
    }
    // The entry reader alone, since the graph refuses most of what it reads.
    let _ = legacy::parse_entries(&text);
}

/// A `layeringPipeline`, run over a small fixed closure.
pub fn pipeline(data: &[u8]) {
    let Ok(pipeline) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if pipeline.is_string() {
        return;
    }
    let graph = pipeline_graph();
    let paths: BTreeSet<usize> = (0..graph.nodes().len()).collect();
    let _ = pipeline::plan(&graph, &paths, &pipeline);
}

/// A base image archive (`fromImage`), read both ways, and its layers' root filesystem.
pub fn base_image(data: &[u8]) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let archive = dir.path().join("base.tar");
    std::fs::write(&archive, data).expect("write the archive");
    if let Ok(image) = read_base_image(&archive) {
        let _ = rootfs::flatten(&image.layers);
    }
    let _ = read_archive_images(&archive);
}

/// A container engine's answer to `stowage load`: the HTTP response and its stream of
/// JSON messages.
pub fn engine_answer(data: &[u8]) {
    let _ = crate::engine::load::read_answer(data);
}

/// The store directory of every target's graphs.
fn store() -> &'static Path {
    Path::new("/nix/store")
}

/// Plans `graph` with the default settings of both algorithms.
fn plan_both(graph: &Graph) {
    for algorithm in [AlgorithmName::Auto, AlgorithmName::Popularity] {
        plan(graph, &Settings::new(algorithm, None, 100, Vec::new()));
    }
}

/// Plans `graph` with `settings` below a base image's layers, unless the plan would read
/// a pipeline file.
fn plan(graph: &Graph, settings: &Settings) {
    if matches!(
        &settings.algorithm,
        layering::Algorithm::Pipeline(Value::String(_))
    ) {
        return;
    }
    let fixed = FixedLayers {
        base: 1,
        customisation: true,
    };
    let _ = layering::plan(graph, settings, fixed);
}

/// The closure pipelines run over: six paths (`a`, `b`, `c`, `d`, `f`, `g`: `e` is no
/// nixbase32 digit), each referring to those after it, so every step has something to
/// split.
fn pipeline_graph() -> Graph {
    let names: Vec<String> = "abcdfg"
        .chars()
        .map(|c| format!("/nix/store/{}-{c}", c.to_string().repeat(32)))
        .collect();
    let entries = names
        .iter()
        .enumerate()
        .map(|(i, path)| crate::graph::GraphEntry {
            path: path.into(),
            references: names[i + 1..].iter().map(Into::into).collect(),
            nar_size: Some(1000 * (i as u64 + 1)),
            nar_hash: None,
        })
        .collect();
    Graph::from_entries(entries, store(), Path::new(INPUT)).expect("a valid graph")
}

/// An auth file (podman's auth.json, Docker's config.json), searched for a registry
/// under each name form and for Docker Hub.
pub fn auth_file(data: &[u8]) {
    for registry in ["r.io", "docker.io", "127.0.0.1:5000"] {
        if let Ok(Some(credentials)) = auth::entry_for(data, Path::new(INPUT), registry) {
            let _ = credentials.basic_header();
        }
    }
}
