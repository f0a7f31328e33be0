//! `stowage layers`: shows how the store paths of a closure would be layered, and why,
//! without writing an image. What a user runs to understand and tune their layering.

use crate::commands::from_image::read_from_image;
use crate::commands::image;
use crate::conf::Conf;
use crate::error::{Error, Result};
use crate::graph::{legacy, Graph, GraphEntry};
use crate::image::base::select::ImageChoice;
use crate::layering::{self, AlgorithmName, FixedLayers, Plan, PlannedLayer, Settings};
use crate::units::human_bytes;
use serde::Deserialize;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// How the plan is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// What the user asked for; unset options fall back to the conf's settings (when a conf
/// is given), then to nixpkgs' defaults.
#[derive(Debug, Clone)]
pub struct LayersRequest {
    /// Graph files: exportReferencesGraph's JSON array or legacy text, an `.attrs.json`
    /// holding `graph`, or a conf with a `layering` section.
    pub graphs: Vec<PathBuf>,
    pub max_layers: Option<i64>,
    pub algorithm: Option<AlgorithmName>,
    /// A nixpkgs layeringPipeline as a JSON file (overrides `algorithm`).
    pub pipeline: Option<PathBuf>,
    pub store_dir: PathBuf,
    pub format: Format,
    /// Say why each path landed in its layer.
    pub explain: bool,
}

/// Plans the layers (or reads a planned conf's) and renders the report.
pub fn report(request: &LayersRequest) -> Result<String> {
    let inputs = request
        .graphs
        .iter()
        .map(|file| read_input(file))
        .collect::<Result<Vec<_>>>()?;
    let (graph, plan) = match inputs.as_slice() {
        [Input::Planned(conf, file)] => planned(request, conf, file)?,
        _ => new_plan(request, &inputs)?,
    };
    Ok(match request.format {
        Format::Text => render_text(&graph, &plan, request.explain),
        Format::Json => render_json(&graph, &plan, request.explain),
    })
}

/// Plans the store layers of the graphs (and conf) given.
fn new_plan(request: &LayersRequest, inputs: &[Input]) -> Result<(Graph, Plan)> {
    let source = request
        .graphs
        .first()
        .map_or(Path::new("graph"), PathBuf::as_path);
    if let Some(Input::Planned(_, file)) = inputs.iter().find(|i| matches!(i, Input::Planned(..))) {
        return Err(Error::conf(file, "already lists its store_layers (it is a stream script or a planned conf); pass it alone to see its layers"));
    }
    let conf = inputs.iter().rev().find_map(|i| match i {
        Input::Conf(conf, file) => Some((&**conf, file.as_path())),
        _ => None,
    });
    let entries: Vec<GraphEntry> = inputs
        .iter()
        .flat_map(|input| match input {
            Input::Graph(entries) => entries.clone(),
            Input::Conf(conf, _) => conf
                .layering
                .as_ref()
                .and_then(|l| l.graph.clone())
                .unwrap_or_default(),
            Input::Planned(..) => Vec::new(),
        })
        .collect();
    let mut graph = Graph::from_entries(entries, &request.store_dir, source)?;
    // Legacy text graphs carry no sizes; size-driven layering needs them.
    graph.fill_missing_sizes();
    let (settings, fixed) = settings(request, conf)?;
    let plan = layering::plan(&graph, &settings, fixed)
        .map_err(|m| Error::conf(source, format!("layering: {m}")))?;
    Ok((graph, plan))
}

/// The layers a planned conf (a stream script, or nixpkgs' conf.json) already lists, with
/// each path's size on disk: what streaming it will write.
fn planned(request: &LayersRequest, conf: &Conf, file: &Path) -> Result<(Graph, Plan)> {
    if request.max_layers.is_some() || request.algorithm.is_some() || request.pipeline.is_some() {
        return Err(Error::conf(file, "lists its store_layers already, so --max-layers, --algorithm and --pipeline cannot change them; pass the image's graph to plan anew"));
    }
    let store_dir = conf.store_dir.as_deref().unwrap_or(&request.store_dir);
    let entries = conf.store_layers.iter().flatten().map(|path| GraphEntry {
        path: path.clone(),
        references: Vec::new(),
        nar_size: None,
        nar_hash: None,
    });
    let mut graph = Graph::from_entries(entries.collect(), store_dir, file)?;
    graph.fill_missing_sizes();
    let layers = conf
        .store_layers
        .iter()
        .enumerate()
        .map(|(i, paths)| {
            let reason =
                format!("listed in store_layers[{i}] of the conf, as planned when it was made");
            let nodes = paths.iter().filter_map(|p| graph.index_of(p));
            PlannedLayer::uniform(nodes, &reason)
        })
        .collect();
    let fixed = conf_fixed_layers(conf)?;
    Ok((graph, Plan { layers, fixed }))
}

/// The layering settings, with options from the command line over those of a conf, and
/// the layers taken before store paths: a conf's, or nixpkgs' customisation layer alone.
fn settings(
    request: &LayersRequest,
    conf: Option<(&Conf, &Path)>,
) -> Result<(Settings, FixedLayers)> {
    let section = conf.and_then(|(c, _)| c.layering.as_ref());
    let pipeline = match &request.pipeline {
        Some(file) => Some(read_json(file)?),
        None => section.and_then(|s| s.pipeline.clone()),
    };
    let settings = Settings::new(
        request
            .algorithm
            .or(section.map(|s| s.algorithm))
            .unwrap_or_default(),
        pipeline,
        request
            .max_layers
            .or(section.map(|s| s.max_layers))
            .unwrap_or(100),
        section.map(|s| s.exclude.clone()).unwrap_or_default(),
    );
    let fixed = match conf {
        None => FixedLayers {
            base: 0,
            customisation: true,
        },
        Some((conf, _)) => conf_fixed_layers(conf)?,
    };
    Ok((settings, fixed))
}

/// The layers a conf takes besides its store layers, reading its base image.
fn conf_fixed_layers(conf: &Conf) -> Result<FixedLayers> {
    let base = conf
        .from_image
        .as_deref()
        .map(|p| read_from_image(p, &ImageChoice::default()))
        .transpose()?;
    Ok(image::fixed_layers(conf, base.as_ref()))
}

/// One `--graph` input.
enum Input {
    /// Graph entries (JSON array or legacy text, or an `.attrs.json` with a `graph`).
    Graph(Vec<GraphEntry>),
    /// A conf with a `layering` section, and its file.
    Conf(Box<Conf>, PathBuf),
    /// A conf that lists its `store_layers` (a stream script), and its file.
    Planned(Box<Conf>, PathBuf),
}

/// An `.attrs.json` of a derivation with `exportReferencesGraph.graph`.
#[derive(Deserialize)]
struct AttrsWithGraph {
    graph: Vec<GraphEntry>,
}

/// Reads a graph file in any of the forms `stowage layers` accepts.
fn read_input(file: &Path) -> Result<Input> {
    let bytes = crate::input::read_bounded(file).map_err(|e| Error::read(file, e))?;
    let body = crate::conf::skip_shebang(&bytes);
    let text = String::from_utf8_lossy(body);
    match text.trim_start().chars().next() {
        Some('[') => parse_json(file, body).map(Input::Graph),
        Some('{') => {
            let object: serde_json::Map<String, Value> = parse_json(file, body)?;
            let planned = object.contains_key("store_layers");
            if object.contains_key("layering") || planned {
                let conf: Conf = serde_json::from_value(Value::Object(object))
                    .map_err(|e| Error::conf(file, format!("not a valid conf: {e}")))?;
                let conf = Box::new(conf);
                Ok(if conf.layering.is_some() {
                    Input::Conf(conf, file.to_owned())
                } else {
                    Input::Planned(conf, file.to_owned())
                })
            } else if object.contains_key("graph") {
                serde_json::from_value::<AttrsWithGraph>(Value::Object(object))
                    .map(|a| Input::Graph(a.graph))
                    .map_err(|e| Error::conf(file, format!("field `graph`: {e}")))
            } else {
                Err(Error::conf(file, "holds neither a `graph`, a `layering` section nor `store_layers`; pass an exportReferencesGraph file, a conf or a stream script"))
            }
        }
        _ => legacy::parse_entries(&text)
            .map(Input::Graph)
            .map_err(|m| Error::conf(file, m)),
    }
}

/// Parses JSON, naming the file on error.
fn parse_json<T: serde::de::DeserializeOwned>(file: &Path, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::conf(file, format!("not valid JSON for a graph: {e}")))
}

/// Reads a JSON file (a pipeline).
fn read_json(file: &Path) -> Result<Value> {
    let bytes = crate::input::read_bounded(file).map_err(|e| Error::read(file, e))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::conf(file, format!("not valid JSON: {e}")))
}

/// The paths of a layer, largest first (ties by path).
fn largest_first(graph: &Graph, layer: &PlannedLayer) -> Vec<usize> {
    let mut paths = layer.paths.clone();
    paths.sort_by_key(|&p| (std::cmp::Reverse(graph.nodes()[p].nar_size), p));
    paths
}

/// A table: one block per layer, bottom first, with each path and (with `explain`) why.
pub fn render_text(graph: &Graph, plan: &Plan, explain: bool) -> String {
    let layers = &plan.layers;
    let mut out = String::new();
    let total: u64 = layers.iter().map(|l| l.size(graph)).sum();
    let paths: usize = layers.iter().map(|l| l.paths.len()).sum();
    for (i, layer) in layers.iter().enumerate() {
        let _ = writeln!(
            out,
            "layer {:>3}  {:>10}  {} path{}",
            i + 1,
            human_bytes(layer.size(graph)),
            layer.paths.len(),
            plural(layer.paths.len())
        );
        for p in largest_first(graph, layer) {
            let node = &graph.nodes()[p];
            let _ = writeln!(out, "    {:>10}  {}", human_bytes(node.nar_size), node.path);
            if explain {
                let _ = writeln!(
                    out,
                    "                {}",
                    layer.reasons.get(&p).map_or("", String::as_str)
                );
            }
        }
    }
    let fixed = plan.fixed.describe();
    let _ = writeln!(
        out,
        "{} store layer{}{}, {paths} path{}, {}",
        layers.len(),
        plural(layers.len()),
        if fixed.is_empty() {
            String::new()
        } else {
            format!(" ({fixed})")
        },
        plural(paths),
        human_bytes(total)
    );
    out
}

/// `{"layers": [{"paths": [...], "size": N, "reasons": {...}}]}`, bottom layer first.
fn render_json(graph: &Graph, plan: &Plan, explain: bool) -> String {
    let layers: Vec<Value> = plan
        .layers
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
