//! nixpkgs' `layeringPipeline`: a JSON list of steps (`["op", args…]`) that carve the
//! closure graph into layers, as flattenReferencesGraph runs them. Users write these to
//! control layering precisely, so the JSON and its results follow nixpkgs.
//!
//! A pipeline starts from the graph of the paths to layer. Each step takes a value and
//! gives one; values are graphs (a set of paths with the references among them), lists
//! of values, or the named parts (`main`, `common`, `rest`) that `split_paths` and
//! `subcomponent_in`/`subcomponent_out` give. At the end every graph in the value,
//! depth first, is a layer, bottom first; empty ones are dropped.
//!
//! | step | takes | gives |
//! |---|---|---|
//! | `["popularity_contest"]` | graph | one graph per path, most popular first (see [`super::popularity`]) |
//! | `["limit_layers", n]` | list | the first `n - 1` items, then the rest merged into one graph |
//! | `["split_every", n]` | graph | graphs of `n` paths each, in graph order |
//! | `["split_paths", [p…]]` | graph | `main`: the paths (or `{"children_of": p}`) and what only they use; `common`: their dependencies the rest uses too; `rest` |
//! | `["subcomponent_out", [p…]]` | graph | `main`: the paths and their dependencies; `rest` |
//! | `["subcomponent_in", [p…]]` | graph | `main`: the paths and what depends on them; `rest` |
//! | `["over", part, step]` | parts | the parts with `step` applied to `part` |
//! | `["map", step]` | list | `step` applied to each item |
//! | `["pipe", [step…]]` | any | the steps applied in turn |
//! | `["remove_paths", p or [p…]]` | graph | the graph without those paths |
//! | `["reverse"]` | list | the list reversed |
//! | `["flatten"]` | list or parts | the graphs in it, depth first |
//!
//! # Order
//!
//! nixpkgs' graph (igraph) keeps its vertices sorted by NAR size, the input order
//! breaking ties; steps keep that order, merges put the earlier graph's vertices first.
//! Only `split_every` depends on it. Our initial order is ascending NAR size, then
//! ascending store path (the order `exportReferencesGraph` lists them in), which makes
//! the result independent of the order of the input. Popularity ties are broken as in
//! nixpkgs: by name, then hash.
//!
//! # Where we differ from nixpkgs
//!
//! - Store paths given to `split_paths`, `children_of` and `subcomponent_*` must be in
//!   the closure graph: nixpkgs ignores unknown paths, which hides typos. Paths in the
//!   graph but not in this part of it (already split off, or excluded) are ignored, as
//!   in nixpkgs. `remove_paths` ignores unknown paths, since it is commonly given a whole
//!   base image's closure.
//! - `["over", "rest", …]` when that part came out empty (so `split_paths` left it out)
//!   leaves the parts unchanged; nixpkgs stops with a `KeyError`. A part name other
//!   than `main`, `common` or `rest` is an error.
//! - Steps given the wrong kind of value (a graph where a list is needed, …) stop with
//!   an error naming the step; nixpkgs fails with a Python error or, for strings given
//!   where lists of paths are expected, silently matches nothing.
//! - A pipeline ending with a bare graph makes that graph one layer.
//!
//! Paths removed by `remove_paths` are in no layer, as in nixpkgs: the point is to leave
//! out what a base image already holds.

// The whole pipeline is parsed (`parse`) before any of it runs (`run`); this module holds
// what both sides share: the parsed steps and the values that flow between them.
mod parse;
mod run;
#[cfg(test)]
mod tests;

use super::PlannedLayer;
use crate::graph::Graph;
use parse::parse_steps;
use run::Run;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Runs the pipeline over the graph restricted to `paths`; returns layers bottom first.
///
/// `pipeline` is the JSON array nixpkgs' `layeringPipeline` takes, or (as nixpkgs also
/// accepts) a string naming a file that holds it.
pub fn plan(
    graph: &Graph,
    paths: &BTreeSet<usize>,
    pipeline: &Json,
) -> Result<Vec<PlannedLayer>, String> {
    let loaded;
    let pipeline = match pipeline {
        Json::String(file) => {
            loaded = load(Path::new(file))?;
            &loaded
        }
        other => other,
    };
    let Json::Array(_) = pipeline else {
        return Err(format!(
            "the pipeline must be a JSON array of steps, like [[\"popularity_contest\"], [\"limit_layers\", 100]]; got {}",
            show(pipeline)
        ));
    };
    let steps = parse_steps(graph, pipeline, "")?;
    let start = initial(graph, paths);
    let mut run = Run {
        graph,
        reasons: vec![String::new(); graph.nodes().len()],
    };
    let mut value = Value::Graph(start);
    for step in &steps {
        value = run.apply(step, value)?;
    }
    let mut graphs = Vec::new();
    flatten_into(value, &mut graphs);
    Ok(graphs
        .into_iter()
        .filter(|g| !g.vertices.is_empty())
        .map(|g| {
            let reasons: BTreeMap<usize, String> = g
                .vertices
                .iter()
                .map(|&v| (v, run.reason(v).to_owned()))
                .collect();
            PlannedLayer {
                paths: reasons.keys().copied().collect(),
                reasons,
            }
        })
        .collect())
}

/// Reads a pipeline from a JSON file (nixpkgs' `layeringPipeline` may be a path to one).
fn load(file: &Path) -> Result<Json, String> {
    let text = crate::input::read_bounded(file)
        .map_err(|e| format!("the pipeline file {}: {e}", file.display()))?;
    serde_json::from_slice(&text)
        .map_err(|e| format!("the pipeline file {}: not JSON: {e}", file.display()))
}

/// The graph of `paths` and the references among them, vertices by ascending NAR size
/// then store path (see the module docs on order).
fn initial(graph: &Graph, paths: &BTreeSet<usize>) -> Sub {
    let mut vertices: Vec<usize> = paths.iter().copied().collect();
    vertices.sort_by_key(|&p| (graph.nodes()[p].nar_size, p));
    // A flag per node rather than a lookup in `paths` for each of the graph's references.
    let mut member = vec![false; graph.nodes().len()];
    for &p in paths {
        member[p] = true;
    }
    let edges = paths
        .iter()
        .flat_map(|&p| {
            graph.nodes()[p]
                .references
                .iter()
                .filter(|&&r| member[r])
                .map(move |&r| (p, r))
        })
        .collect();
    Sub { vertices, edges }
}

/// A parsed step, with where it is in the pipeline for messages and reasons.
#[derive(Debug)]
struct Step {
    op: Op,
    /// `step 2 (over) > pipe > step 1 (limit_layers)`.
    at: String,
}

/// The operators and their arguments, store paths resolved to node indices.
#[derive(Debug)]
enum Op {
    PopularityContest,
    LimitLayers(usize),
    SplitEvery(usize),
    SplitPaths(Vec<Split>),
    Subcomponent(Direction, Vec<usize>),
    Over(&'static str, Box<Step>),
    Map(Box<Step>),
    Pipe(Vec<Step>),
    RemovePaths(Vec<usize>),
    Reverse,
    Flatten,
}

/// One `split_paths` argument: a path, or `{"children_of": path or [paths]}`.
#[derive(Debug)]
enum Split {
    Path(usize),
    ChildrenOf(Vec<usize>),
}

/// Which way `subcomponent_*` follows references.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// The paths and everything that depends on them (`subcomponent_in`).
    In,
    /// The paths and everything they depend on (`subcomponent_out`).
    Out,
}

/// A JSON value for a message, cut short if long.
fn show(json: &Json) -> String {
    let text = json.to_string();
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// A subgraph: some paths in their pipeline order, and the references among them that
/// the steps kept (`split_paths` drops those pointing at the split paths).
#[derive(Debug, Clone, Default)]
struct Sub {
    vertices: Vec<usize>,
    /// `(referrer, reference)`, both in `vertices`.
    edges: Vec<(usize, usize)>,
}

impl Sub {
    /// The part of this graph on `keep`, in this graph's order.
    fn induced(&self, keep: &BTreeSet<usize>) -> Sub {
        Sub {
            vertices: self
                .vertices
                .iter()
                .copied()
                .filter(|v| keep.contains(v))
                .collect(),
            edges: self
                .edges
                .iter()
                .copied()
                .filter(|(a, b)| keep.contains(a) && keep.contains(b))
                .collect(),
        }
    }

    /// Each vertex's references (`forward`) or referrers within this graph.
    fn adjacency(&self, forward: bool) -> BTreeMap<usize, Vec<usize>> {
        let mut adjacent: BTreeMap<usize, Vec<usize>> =
            self.vertices.iter().map(|&v| (v, Vec::new())).collect();
        for &(a, b) in &self.edges {
            let (from, to) = if forward { (a, b) } else { (b, a) };
            adjacent.entry(from).or_default().push(to);
        }
        adjacent
    }
}

/// What flows between steps.
#[derive(Debug)]
enum Value {
    Graph(Sub),
    List(Vec<Value>),
    /// Named parts, in nixpkgs' order (main, common, rest).
    Parts(Vec<(&'static str, Value)>),
}

impl Value {
    /// The value in words, for messages.
    fn describe(&self) -> String {
        match self {
            Value::Graph(g) => format!(
                "a graph of {} path{}",
                g.vertices.len(),
                if g.vertices.len() == 1 { "" } else { "s" }
            ),
            Value::List(items) => format!(
                "a list of {} item{}",
                items.len(),
                if items.len() == 1 { "" } else { "s" }
            ),
            Value::Parts(parts) => format!(
                "split parts ({})",
                parts.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

/// The graphs in `value`, depth first, as nixpkgs' `flatten` walks lists and dicts.
fn flatten_into(value: Value, out: &mut Vec<Sub>) {
    match value {
        Value::Graph(g) => out.push(g),
        Value::List(items) => items.into_iter().for_each(|v| flatten_into(v, out)),
        Value::Parts(parts) => parts.into_iter().for_each(|(_, v)| flatten_into(v, out)),
    }
}
