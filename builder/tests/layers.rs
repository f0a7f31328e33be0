//! `stowage layers` on real `exportReferencesGraph` output (fixtures made from the bench
//! closure, in both forms) and on bad graphs.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;

fn layers(args: &[&str]) -> String {
    String::from_utf8(run(stowage().arg("layers").args(args)).stdout).unwrap()
}

#[test]
fn the_large_closure_plan_reads_well() {
    let graph = fixture("bench-large.graph.json");
    let graph = graph.to_str().unwrap();
    insta::assert_snapshot!(
        "large_auto_explain",
        layers(&["--graph", graph, "--explain"])
    );
    insta::assert_snapshot!(
        "large_auto_budget_5",
        layers(&["--graph", graph, "--max-layers", "5", "--explain"])
    );
    insta::assert_snapshot!(
        "large_popularity_budget_5",
        layers(&[
            "--graph",
            graph,
            "--max-layers",
            "5",
            "--algorithm",
            "popularity",
            "--explain"
        ])
    );
}

#[test]
fn json_output_lists_paths_and_sizes_bottom_first() {
    let graph = fixture("bench-small.graph.json");
    let out: Value = serde_json::from_str(&layers(&[
        "--graph",
        graph.to_str().unwrap(),
        "--format",
        "json",
        "--max-layers",
        "3",
    ]))
    .unwrap();
    let layers = out["layers"].as_array().unwrap();
    assert_eq!(
        layers.len(),
        2,
        "maxLayers 3 leaves 2 store layers beside the customisation layer"
    );
    let all: Vec<&str> = layers
        .iter()
        .flat_map(|l| l["paths"].as_array().unwrap())
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(all.len(), 6);
    let sizes: u64 = layers.iter().map(|l| l["size"].as_u64().unwrap()).sum();
    let graph: Value = serde_json::from_slice(&fs::read(&graph).unwrap()).unwrap();
    let nar_total: u64 = graph
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["narSize"].as_u64().unwrap())
        .sum();
    assert_eq!(sizes, nar_total);
}

#[test]
fn legacy_and_json_graphs_hold_the_same_closure() {
    let plan = |file: &str| -> Vec<Vec<String>> {
        let out: Value = serde_json::from_str(&layers(&[
            "--graph",
            fixture(file).to_str().unwrap(),
            "--format",
            "json",
            "--max-layers",
            "100",
        ]))
        .unwrap();
        let mut paths: Vec<Vec<String>> = out["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                l["paths"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_str().unwrap().to_owned())
                    .collect()
            })
            .collect();
        paths.sort();
        paths
    };
    // With a layer to spare for every path, sizes do not matter: one path per layer.
    assert_eq!(
        plan("bench-small.graph.txt"),
        plan("bench-small.graph.json")
    );
}

#[test]
fn a_conf_with_layering_is_planned_when_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let (app, lib) = fixture_store_paths();
    let graph = json!([
        {"path": app, "references": [lib], "narSize": 100},
        {"path": lib, "references": [], "narSize": 3000},
    ]);
    let conf = write_conf(
        dir.path(),
        json!({"layering": {"graph": graph, "max_layers": 3}}),
    );
    let image = DockerArchive::from_bytes(&run(stowage().arg("stream").arg(&conf)).stdout);
    assert_eq!(image.layers.len(), 2);
    assert_eq!(
        image.config["history"][0]["comment"],
        json!(format!("store paths: ['{}']", lib.display()))
    );
    let plan = layers(&["--graph", conf.to_str().unwrap(), "--format", "json"]);
    let plan: Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(plan["layers"][0]["paths"], json!([lib]));
}

#[test]
fn bad_layering_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (app, lib) = fixture_store_paths();
    let graph = json!([{"path": app, "references": [lib], "narSize": 1}, {"path": lib, "references": [], "narSize": 1}]);
    for (max_layers, message) in [
        (
            1,
            "maxLayers must be greater than 1 (current value: 1)".to_owned(),
        ),
        (
            -3,
            "maxLayers must be greater than 1 (current value: -3)".to_owned(),
        ),
    ] {
        let conf = write_conf(
            dir.path(),
            json!({"layering": {"graph": graph, "max_layers": max_layers}}),
        );
        let err = error_of(stowage().arg("stream").arg(&conf));
        assert_eq!(
            err,
            format!("stowage: {}: layering: {message}", conf.display())
        );
    }
    let custom = customisation_layer(dir.path());
    let conf = write_conf(
        dir.path(),
        json!({"layering": {"graph": graph, "max_layers": 1 + 1}, "customisation_layer": custom}),
    );
    let base = dir.path().join("base.tar");
    run(stowage().arg("build").arg(&conf).arg("-o").arg(&base));
    let on_base = write_conf(
        dir.path(),
        json!({"layering": {"graph": graph, "max_layers": 2}, "customisation_layer": custom, "from_image": base}),
    );
    assert_eq!(
        error_of(stowage().arg("stream").arg(&on_base)),
        format!(
            "stowage: {}: layering: maxLayers is 2 but the base image and the customisation layer already take 3 layers; at least one is needed for the store paths: raise maxLayers",
            on_base.display()
        )
    );

    let cyclic = dir.path().join("cyclic.json");
    fs::write(
        &cyclic,
        json!([{"path": app, "references": [lib]}, {"path": lib, "references": [app]}]).to_string(),
    )
    .unwrap();
    assert_eq!(
        error_of(stowage().args(["layers", "--graph"]).arg(&cyclic)),
        format!(
            "stowage: {}: the references form a cycle through {}; store paths cannot refer to each other in a cycle",
            cyclic.display(),
            lib.display()
        )
    );
    let truncated = dir.path().join("truncated.txt");
    fs::write(
        &truncated,
        format!("{}\n\n3\n{}\n", app.display(), lib.display()),
    )
    .unwrap();
    assert_eq!(
        error_of(stowage().args(["layers", "--graph"]).arg(&truncated)),
        format!(
            "stowage: {}: line 5: expected a reference for {}",
            truncated.display(),
            app.display()
        )
    );
}
