//! `stowage layers`: shows how the store paths of a closure would be layered, and why,
//! without writing an image. What a user runs to understand and tune their layering.

use crate::error::{Error, Result};
use crate::graph::{Graph, GraphEntry};
use crate::layering::{AlgorithmName, LayeringConf, PlannedLayer};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// How the plan is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// What the user asked for on the command line; unset options fall back to the conf's
/// settings (when a conf is given), then to nixpkgs' defaults.
#[derive(Debug, Clone, clap::Args)]
pub struct LayersRequest {
    /// A references graph: exportReferencesGraph's JSON array or legacy text, an
    /// `.attrs.json` holding `graph`, or a conf with a `layering` section. Repeatable.
    #[arg(long = "graph", value_name = "FILE", required = true, num_args = 1..)]
    pub graphs: Vec<PathBuf>,
    /// The image's maxLayers (base layers and the customisation layer count too) [default: 100]
    #[arg(long)]
    pub max_layers: Option<i64>,
    /// The layering algorithm [default: auto]
    #[arg(long, value_enum)]
    pub algorithm: Option<AlgorithmName>,
    /// A nixpkgs layeringPipeline as a JSON file (overrides --algorithm).
    #[arg(long, value_name = "FILE")]
    pub pipeline: Option<PathBuf>,
    /// The Nix store directory the graph's paths live in.
    #[arg(long, default_value = "/nix/store")]
    pub store_dir: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Say why each path landed in its layer.
    #[arg(long)]
    pub explain: bool,
}

/// Plans the layers and renders the report.
pub fn report(request: &LayersRequest) -> Result<String> {
    let (settings, fixed_layers) = settings(request)?;
    let source = request
        .graphs
        .first()
        .map_or(Path::new("graph"), PathBuf::as_path);
    let mut graph = Graph::from_entries(settings.graph.clone(), &request.store_dir, source)?;
    // Legacy text graphs carry no sizes; size-driven layering needs them.
    graph.fill_missing_sizes();
    let layers = settings.plan_graph(&graph, fixed_layers, source)?;
    Ok(match request.format {
        Format::Text => render_text(&graph, &layers, request.explain),
        Format::Json => render_json(&graph, &layers, request.explain),
    })
}

/// The layering settings: the graphs merged, with options from the command line over
/// those of a conf. Also how many layers are taken before store paths (the
/// customisation layer, and a conf's base image).
fn settings(request: &LayersRequest) -> Result<(LayeringConf, usize)> {
    let mut entries = Vec::new();
    let mut from_conf: Option<LayeringConf> = None;
    let mut fixed_layers = 1;
    for file in &request.graphs {
        match read_input(file, &request.store_dir)? {
            Input::Graph(mut more) => entries.append(&mut more),
            Input::Conf(layering, base_layers) => {
                entries.extend(layering.graph.iter().cloned());
                fixed_layers = 1 + base_layers;
                from_conf = Some(layering);
            }
        }
    }
    let pipeline = match &request.pipeline {
        Some(file) => Some(read_json(file)?),
        None => from_conf.as_ref().and_then(|c| c.pipeline.clone()),
    };
    let settings = LayeringConf {
        graph: entries,
        algorithm: request
            .algorithm
            .or(from_conf.as_ref().map(|c| c.algorithm))
            .unwrap_or_default(),
        pipeline,
        max_layers: request
            .max_layers
            .or(from_conf.as_ref().map(|c| c.max_layers))
            .unwrap_or(100),
        exclude: from_conf.map(|c| c.exclude).unwrap_or_default(),
    };
    Ok((settings, fixed_layers))
}

/// One `--graph` input.
enum Input {
    /// Graph entries (JSON array or legacy text, or an `.attrs.json` with a `graph`).
    Graph(Vec<GraphEntry>),
    /// A conf with a `layering` section, and the number of its base image's layers.
    Conf(LayeringConf, usize),
}

/// Reads a graph file in any of the forms `stowage layers` accepts.
fn read_input(file: &Path, store_dir: &Path) -> Result<Input> {
    let bytes = std::fs::read(file).map_err(|e| Error::read(file, e))?;
    let body = crate::conf::skip_shebang(&bytes);
    let text = String::from_utf8_lossy(body);
    match text.trim_start().chars().next() {
        Some('[') => parse_json(file, body).map(Input::Graph),
        Some('{') => {
            let mut object: serde_json::Map<String, Value> = parse_json(file, body)?;
            if let Some(layering) = object.remove("layering") {
                let layering: LayeringConf = serde_json::from_value(layering)
                    .map_err(|e| Error::conf(file, format!("field `layering`: {e}")))?;
                let base_layers = match object.get("from_image").and_then(Value::as_str) {
                    Some(base) => crate::base_image::read_base_image(Path::new(base))?
                        .layers
                        .len(),
                    None => 0,
                };
                Ok(Input::Conf(layering, base_layers))
            } else if let Some(graph) = object.remove("graph") {
                serde_json::from_value(graph)
                    .map(Input::Graph)
                    .map_err(|e| Error::conf(file, format!("field `graph`: {e}")))
            } else {
                Err(Error::conf(file, "holds neither a `graph` nor a `layering` section; pass an exportReferencesGraph file or a conf with `layering`"))
            }
        }
        _ => Ok(Input::Graph(
            Graph::parse_legacy(&text, store_dir, file)?.to_entries(),
        )),
    }
}

/// Parses JSON, naming the file on error.
fn parse_json<T: serde::de::DeserializeOwned>(file: &Path, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::conf(file, format!("not valid JSON for a graph: {e}")))
}

/// Reads a JSON file (a pipeline).
fn read_json(file: &Path) -> Result<Value> {
    let bytes = std::fs::read(file).map_err(|e| Error::read(file, e))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::conf(file, format!("not valid JSON: {e}")))
}

/// The paths of a layer, largest first (ties by path).
fn largest_first(graph: &Graph, layer: &PlannedLayer) -> Vec<usize> {
    let mut paths = layer.paths.clone();
    paths.sort_by_key(|&p| (std::cmp::Reverse(graph.nodes()[p].nar_size), p));
    paths
}

/// A table: one block per layer, bottom first, with each path and (with `explain`) why.
pub fn render_text(graph: &Graph, layers: &[PlannedLayer], explain: bool) -> String {
    let mut out = String::new();
    let total: u64 = layers.iter().map(|l| l.size(graph)).sum();
    let paths: usize = layers.iter().map(|l| l.paths.len()).sum();
    for (i, layer) in layers.iter().enumerate() {
        let _ = writeln!(
            out,
            "layer {:>3}  {:>10}  {} path{}",
            i + 1,
            human(layer.size(graph)),
            layer.paths.len(),
            plural(layer.paths.len())
        );
        for p in largest_first(graph, layer) {
            let node = &graph.nodes()[p];
            let _ = writeln!(out, "    {:>10}  {}", human(node.nar_size), node.path);
            if explain {
                let _ = writeln!(
                    out,
                    "                {}",
                    layer.reasons.get(&p).map_or("", String::as_str)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "{} store layer{} (+1 customisation layer), {paths} paths, {}",
        layers.len(),
        plural(layers.len()),
        human(total)
    );
    out
}

/// `{"layers": [{"paths": [...], "size": N, "reasons": {...}}]}`, bottom layer first.
fn render_json(graph: &Graph, layers: &[PlannedLayer], explain: bool) -> String {
    let layers: Vec<Value> = layers
        .iter()
        .map(|layer| {
            let order = largest_first(graph, layer);
            let mut entry = json!({
                "paths": order.iter().map(|&p| graph.nodes()[p].path.to_string()).collect::<Vec<_>>(),
                "size": layer.size(graph),
            });
            if explain {
                entry["reasons"] = order
                    .iter()
                    .map(|&p| (graph.nodes()[p].path.to_string(), Value::from(layer.reasons.get(&p).cloned().unwrap_or_default())))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
            }
            entry
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&json!({ "layers": layers }))
        .expect("a JSON value always serialises");
    text.push('\n');
    text
}

/// `s` for counts other than one.
fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Bytes in binary units with one decimal (`1.5 GiB`).
fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
