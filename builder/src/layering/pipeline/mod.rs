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

use super::popularity;
use super::PlannedLayer;
use crate::graph::Graph;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The operators nixpkgs' `pipe.py` knows, sorted, for error messages.
const OPERATORS: [&str; 12] = [
    "flatten",
    "limit_layers",
    "map",
    "over",
    "pipe",
    "popularity_contest",
    "remove_paths",
    "reverse",
    "split_every",
    "split_paths",
    "subcomponent_in",
    "subcomponent_out",
];

/// The parts `split_paths` and `subcomponent_*` name, in the order nixpkgs lists them.
const PARTS: [&str; 3] = ["main", "common", "rest"];

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
        reasons: start
            .vertices
            .iter()
            .map(|&v| (v, "pipeline: no step split it from the rest".to_owned()))
            .collect(),
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
                .map(|&v| (v, run.reasons[&v].clone()))
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
    let text =
        std::fs::read(file).map_err(|e| format!("the pipeline file {}: {e}", file.display()))?;
    serde_json::from_slice(&text)
        .map_err(|e| format!("the pipeline file {}: not JSON: {e}", file.display()))
}

/// The graph of `paths` and the references among them, vertices by ascending NAR size
/// then store path (see the module docs on order).
fn initial(graph: &Graph, paths: &BTreeSet<usize>) -> Sub {
    let mut vertices: Vec<usize> = paths.iter().copied().collect();
    vertices.sort_by_key(|&p| (graph.nodes()[p].nar_size, p));
    let edges = paths
        .iter()
        .flat_map(|&p| {
            graph.nodes()[p]
                .references
                .iter()
                .filter(|r| paths.contains(r))
                .map(move |&r| (p, r))
        })
        .collect();
    Sub { vertices, edges }
}

// ---------------------------------------------------------------------------------------
// Parsing: the whole pipeline is checked before it runs, so a mistake in a branch that
// this closure never reaches is still reported.

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

/// Where a step sits: the steps around it and, within a list of steps, its number.
struct Place<'a> {
    /// `""` at the top, else the enclosing steps ending in `" > "`.
    parent: &'a str,
    /// 1-based position in a list of steps; `None` for the function of `over`/`map`.
    index: Option<usize>,
}

impl Place<'_> {
    /// The step's location once its operator is known.
    fn at(&self, op: &str) -> String {
        match self.index {
            Some(i) => format!("{}step {i} ({op})", self.parent),
            None => format!("{}{op}", self.parent),
        }
    }

    /// The step's location before its operator is known.
    fn here(&self) -> String {
        match self.index {
            Some(i) => format!("{}step {i}", self.parent),
            None => self.parent.trim_end_matches(" > ").to_owned(),
        }
    }
}

/// Parses a JSON array of steps; `parent` prefixes their locations.
fn parse_steps(graph: &Graph, json: &Json, parent: &str) -> Result<Vec<Step>, String> {
    let Json::Array(items) = json else {
        return Err(format!(
            "{}: expects a list of steps, got {}",
            parent.trim_end_matches(" > "),
            show(json)
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            parse_step(
                graph,
                item,
                &Place {
                    parent,
                    index: Some(i + 1),
                },
            )
        })
        .collect()
}

/// Parses one `["op", args…]` step.
fn parse_step(graph: &Graph, json: &Json, place: &Place) -> Result<Step, String> {
    let here = place.here();
    let Json::Array(items) = json else {
        return Err(format!(
            "{here}: expected a step [\"operator\", arguments…], got {}",
            show(json)
        ));
    };
    let Some(first) = items.first() else {
        return Err(format!(
            "{here}: empty step; expected [\"operator\", arguments…]"
        ));
    };
    let Json::String(name) = first else {
        return Err(format!(
            "{here}: the operator must be a string, got {}",
            show(first)
        ));
    };
    let Some(&name) = OPERATORS.iter().find(|&&known| known == name) else {
        return Err(format!(
            "{here}: unknown operator {}; known: {}",
            show(first),
            OPERATORS.join(", ")
        ));
    };
    let at = place.at(name);
    let args = &items[1..];
    let arity = |n: usize, usage: &str| -> Result<(), String> {
        if args.len() == n {
            return Ok(());
        }
        let plural = if n == 1 { "" } else { "s" };
        Err(format!(
            "{at}: expects {n} argument{plural}, got {}; write {usage}",
            args.len()
        ))
    };
    let op = match name {
        "popularity_contest" => {
            arity(0, "[\"popularity_contest\"]")?;
            Op::PopularityContest
        }
        "reverse" => {
            arity(0, "[\"reverse\"]")?;
            Op::Reverse
        }
        "flatten" => {
            arity(0, "[\"flatten\"]")?;
            Op::Flatten
        }
        "limit_layers" => {
            arity(1, "[\"limit_layers\", <positive integer>]")?;
            Op::LimitLayers(positive(&args[0], &at)?)
        }
        "split_every" => {
            arity(1, "[\"split_every\", <positive integer>]")?;
            Op::SplitEvery(positive(&args[0], &at)?)
        }
        "split_paths" => {
            arity(
                1,
                "[\"split_paths\", [<store path or {\"children_of\": store paths}>, …]]",
            )?;
            let Json::Array(specs) = &args[0] else {
                return Err(format!(
                    "{at}: expects a list of store paths, got {}",
                    show(&args[0])
                ));
            };
            Op::SplitPaths(
                specs
                    .iter()
                    .map(|spec| split_spec(graph, spec, &at))
                    .collect::<Result<_, _>>()?,
            )
        }
        "subcomponent_in" | "subcomponent_out" => {
            arity(1, &format!("[\"{name}\", [<store path>, …]]"))?;
            let Json::Array(list) = &args[0] else {
                return Err(format!(
                    "{at}: expects a list of store paths, got {}",
                    show(&args[0])
                ));
            };
            let direction = if name == "subcomponent_in" {
                Direction::In
            } else {
                Direction::Out
            };
            Op::Subcomponent(
                direction,
                list.iter()
                    .map(|p| known_path(graph, p, &at))
                    .collect::<Result<_, _>>()?,
            )
        }
        "remove_paths" => {
            arity(1, "[\"remove_paths\", <store path or [store paths]>]")?;
            Op::RemovePaths(removable(graph, &args[0], &at)?)
        }
        "over" => {
            arity(2, "[\"over\", \"main\" | \"common\" | \"rest\", <step>]")?;
            let part = match &args[0] {
                Json::String(s) => PARTS.iter().find(|&&p| p == s).copied(),
                _ => None,
            };
            let Some(part) = part else {
                return Err(format!(
                    "{at}: unknown part {}; split_paths gives main, common and rest, subcomponent_in/out give main and rest",
                    show(&args[0])
                ));
            };
            let parent = format!("{at} > ");
            Op::Over(
                part,
                Box::new(parse_step(
                    graph,
                    &args[1],
                    &Place {
                        parent: &parent,
                        index: None,
                    },
                )?),
            )
        }
        "map" => {
            arity(1, "[\"map\", <step>]")?;
            let parent = format!("{at} > ");
            Op::Map(Box::new(parse_step(
                graph,
                &args[0],
                &Place {
                    parent: &parent,
                    index: None,
                },
            )?))
        }
        "pipe" => {
            arity(1, "[\"pipe\", [<step>, …]]")?;
            Op::Pipe(parse_steps(graph, &args[0], &format!("{at} > "))?)
        }
        _ => unreachable!("every name in OPERATORS is handled"),
    };
    Ok(Step { op, at })
}

/// A count argument: nixpkgs asserts `limit_layers`' is above 0, and `split_every` by 0
/// never ends.
fn positive(json: &Json, at: &str) -> Result<usize, String> {
    json.as_u64()
        .filter(|&n| n > 0)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("{at}: expects a positive integer, got {}", show(json)))
}

/// A `split_paths` argument.
fn split_spec(graph: &Graph, json: &Json, at: &str) -> Result<Split, String> {
    match json {
        Json::Object(map) => {
            if let Some(key) = map.keys().find(|k| *k != "children_of") {
                return Err(format!(
                    "{at}: unexpected key {} in a split path; the only key is \"children_of\"",
                    show(&Json::String(key.clone()))
                ));
            }
            let Some(of) = map.get("children_of") else {
                return Err(format!("{at}: an object split path needs \"children_of\""));
            };
            let parents = match of {
                Json::Array(list) => list
                    .iter()
                    .map(|p| known_path(graph, p, at))
                    .collect::<Result<_, _>>()?,
                single => vec![known_path(graph, single, at)?],
            };
            Ok(Split::ChildrenOf(parents))
        }
        other => Ok(Split::Path(known_path(graph, other, at)?)),
    }
}

/// A store path argument that must be in the closure graph.
fn known_path(graph: &Graph, json: &Json, at: &str) -> Result<usize, String> {
    let Json::String(path) = json else {
        return Err(format!(
            "{at}: expects store paths (strings), got {}",
            show(json)
        ));
    };
    graph
        .index_of(Path::new(path))
        .ok_or_else(|| format!("{at}: {path} is not in the closure graph"))
}

/// `remove_paths`' argument: one path or a list; paths outside the graph are skipped.
fn removable(graph: &Graph, json: &Json, at: &str) -> Result<Vec<usize>, String> {
    let list = match json {
        Json::Array(list) => list.as_slice(),
        single => std::slice::from_ref(single),
    };
    let mut found = Vec::new();
    for item in list {
        let Json::String(path) = item else {
            return Err(format!(
                "{at}: expects store paths (strings), got {}",
                show(item)
            ));
        };
        found.extend(graph.index_of(Path::new(path)));
    }
    Ok(found)
}

/// A JSON value for a message, cut short if long.
fn show(json: &Json) -> String {
    let text = json.to_string();
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

// ---------------------------------------------------------------------------------------
// Running.

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

/// Everything reachable from `starts` along `adjacent`, the starts included.
fn reach(
    starts: impl IntoIterator<Item = usize>,
    adjacent: &BTreeMap<usize, Vec<usize>>,
) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<usize> = starts.into_iter().collect();
    while let Some(v) = todo.pop() {
        if seen.insert(v) {
            todo.extend(
                adjacent
                    .get(&v)
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|w| !seen.contains(w)),
            );
        }
    }
    seen
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

/// A running pipeline: the graph, and why each path is where it is so far.
struct Run<'g> {
    graph: &'g Graph,
    /// The reason of the step that last placed each path.
    reasons: BTreeMap<usize, String>,
}

impl Run<'_> {
    /// Applies `step` to `value`.
    fn apply(&mut self, step: &Step, value: Value) -> Result<Value, String> {
        let at = step.at.as_str();
        match &step.op {
            Op::PopularityContest => Ok(self.popularity_contest(at, graph_of(value, at)?)),
            Op::LimitLayers(n) => self.limit_layers(at, *n, list_of(value, at)?),
            Op::SplitEvery(n) => Ok(self.split_every(at, *n, graph_of(value, at)?)),
            Op::SplitPaths(specs) => Ok(self.split_paths(at, specs, graph_of(value, at)?)),
            Op::Subcomponent(direction, paths) => {
                Ok(self.subcomponent(at, *direction, paths, graph_of(value, at)?))
            }
            Op::RemovePaths(paths) => {
                let sub = graph_of(value, at)?;
                let drop: BTreeSet<usize> = paths.iter().copied().collect();
                let keep: BTreeSet<usize> = sub
                    .vertices
                    .iter()
                    .copied()
                    .filter(|v| !drop.contains(v))
                    .collect();
                Ok(Value::Graph(sub.induced(&keep)))
            }
            Op::Reverse => {
                let mut items = list_of(value, at)?;
                items.reverse();
                Ok(Value::List(items))
            }
            Op::Flatten => {
                let mut graphs = Vec::new();
                flatten_into(value, &mut graphs);
                Ok(Value::List(graphs.into_iter().map(Value::Graph).collect()))
            }
            Op::Map(function) => {
                let items = list_of(value, at)?;
                Ok(Value::List(
                    items
                        .into_iter()
                        .map(|item| self.apply(function, item))
                        .collect::<Result<_, _>>()?,
                ))
            }
            Op::Over(part, function) => {
                let Value::Parts(parts) = value else {
                    return Err(format!(
                        "{at}: expects the parts split_paths or subcomponent_in/out give, got {}",
                        value.describe()
                    ));
                };
                // A part split_paths left out (it was empty) stays out; see the module docs.
                parts
                    .into_iter()
                    .map(|(name, v)| {
                        Ok((
                            name,
                            if name == *part {
                                self.apply(function, v)?
                            } else {
                                v
                            },
                        ))
                    })
                    .collect::<Result<_, String>>()
                    .map(Value::Parts)
            }
            Op::Pipe(steps) => steps.iter().try_fold(value, |v, s| self.apply(s, v)),
        }
    }

    /// One single-path graph per path, most popular first.
    fn popularity_contest(&mut self, at: &str, sub: Sub) -> Value {
        let ranked = popularity::ranked(self.graph, &sub.adjacency(true));
        let total = ranked.len();
        let mut layers = Vec::with_capacity(total);
        for (i, (v, popularity)) in ranked.into_iter().enumerate() {
            let popularity = u64::try_from(popularity).unwrap_or(u64::MAX);
            self.reasons.insert(
                v,
                format!(
                    "pipeline {at}: popularity rank {} of {total} (popularity {popularity})",
                    i + 1
                ),
            );
            layers.push(Value::Graph(Sub {
                vertices: vec![v],
                edges: Vec::new(),
            }));
        }
        Value::List(layers)
    }

    /// The first `n - 1` items, then the others merged. As in nixpkgs the merged graph is
    /// always there, empty when there were fewer than `n` items.
    fn limit_layers(&mut self, at: &str, n: usize, mut items: Vec<Value>) -> Result<Value, String> {
        let came = items.len();
        let rest = items.split_off((n - 1).min(came));
        // Only paths that end up sharing a layer with another graph's are "merged".
        let merging = rest
            .iter()
            .filter(|v| matches!(v, Value::Graph(g) if !g.vertices.is_empty()))
            .count();
        let mut merged = Sub::default();
        for (k, item) in rest.into_iter().enumerate() {
            let Value::Graph(g) = item else {
                return Err(format!(
                    "{at}: item {} is {}; only graphs can be merged into the last layer: flatten first",
                    n + k,
                    item.describe()
                ));
            };
            if merging > 1 {
                for &v in &g.vertices {
                    let before = &self.reasons[&v];
                    let reason = format!("{before}; then pipeline {at}: merged into the last layer ({came} came in, {n} allowed)");
                    self.reasons.insert(v, reason);
                }
            }
            merged.vertices.extend(g.vertices);
            merged.edges.extend(g.edges);
        }
        items.push(Value::Graph(merged));
        Ok(Value::List(items))
    }

    /// Graphs of `n` paths each, in graph order.
    fn split_every(&mut self, at: &str, n: usize, sub: Sub) -> Value {
        let count = sub.vertices.len().div_ceil(n);
        let parts = sub
            .vertices
            .chunks(n)
            .enumerate()
            .map(|(k, chunk)| {
                for &v in chunk {
                    self.reasons.insert(
                        v,
                        format!(
                            "pipeline {at}: part {} of {count} ({n} paths a part, in graph order)",
                            k + 1
                        ),
                    );
                }
                Value::Graph(sub.induced(&chunk.iter().copied().collect()))
            })
            .collect();
        Value::List(parts)
    }

    /// nixpkgs' `split_paths`: `main` holds the split paths and the dependencies only they
    /// use, `common` their dependencies the rest uses too, `rest` the others. References
    /// pointing at the split paths are dropped from all three.
    fn split_paths(&mut self, at: &str, specs: &[Split], sub: Sub) -> Value {
        let members: BTreeSet<usize> = sub.vertices.iter().copied().collect();
        let references = sub.adjacency(true);
        let mut split = BTreeSet::new();
        for spec in specs {
            match spec {
                Split::Path(p) if members.contains(p) => {
                    split.insert(*p);
                }
                Split::Path(_) => {}
                Split::ChildrenOf(parents) => {
                    for p in parents.iter().filter(|p| members.contains(p)) {
                        split.extend(references[p].iter().copied());
                    }
                }
            }
        }
        if split.is_empty() {
            self.label(
                &sub.vertices,
                &format!("pipeline {at}: rest (none of the paths to split off is here)"),
            );
            return Value::Parts(vec![("rest", Value::Graph(sub))]);
        }
        let referrers = sub.adjacency(false);
        let roots: Vec<usize> = sub
            .vertices
            .iter()
            .copied()
            .filter(|v| referrers[v].is_empty())
            .collect();
        if let [root] = roots[..] {
            if split.contains(&root) {
                // nixpkgs' shortcut: a split path is the only root, so it takes everything.
                self.label(
                    &sub.vertices,
                    &format!("pipeline {at}: main (its only root is a path to split off)"),
                );
                return Value::Parts(vec![("main", Value::Graph(sub))]);
            }
        }
        let split_off = reach(split.iter().copied(), &references);
        let cut = Sub {
            vertices: sub.vertices,
            edges: sub
                .edges
                .into_iter()
                .filter(|(_, to)| !split.contains(to))
                .collect(),
        };
        let from_roots = reach(
            roots.into_iter().filter(|r| !split.contains(r)),
            &cut.adjacency(true),
        );
        let common: BTreeSet<usize> = split_off.intersection(&from_roots).copied().collect();
        let main: BTreeSet<usize> = split_off.difference(&common).copied().collect();
        let rest: BTreeSet<usize> = from_roots.difference(&common).copied().collect();
        let mut parts = Vec::new();
        for (name, set, why) in [
            (
                "main",
                main,
                "a path to split off, or a dependency only they use",
            ),
            (
                "common",
                common,
                "a dependency of the split paths that the rest uses too",
            ),
            ("rest", rest, "the split paths do not depend on it"),
        ] {
            if !set.is_empty() {
                let part = cut.induced(&set);
                self.label(&part.vertices, &format!("pipeline {at}: {name} ({why})"));
                parts.push((name, Value::Graph(part)));
            }
        }
        Value::Parts(parts)
    }

    /// nixpkgs' `subcomponent_in`/`_out`: `main` holds the given paths and what depends on
    /// them / what they depend on, `rest` the others; both are kept even when empty.
    fn subcomponent(&mut self, at: &str, direction: Direction, paths: &[usize], sub: Sub) -> Value {
        let members: BTreeSet<usize> = sub.vertices.iter().copied().collect();
        let starts = paths.iter().copied().filter(|p| members.contains(p));
        let main = reach(starts, &sub.adjacency(direction == Direction::Out));
        let rest: BTreeSet<usize> = members.difference(&main).copied().collect();
        let (main_why, rest_why) = match direction {
            Direction::Out => (
                "one of the given paths or a dependency of one",
                "none of the given paths depends on it",
            ),
            Direction::In => (
                "one of the given paths or depends on one",
                "does not depend on the given paths",
            ),
        };
        let (main, rest) = (sub.induced(&main), sub.induced(&rest));
        self.label(&main.vertices, &format!("pipeline {at}: main ({main_why})"));
        self.label(&rest.vertices, &format!("pipeline {at}: rest ({rest_why})"));
        Value::Parts(vec![
            ("main", Value::Graph(main)),
            ("rest", Value::Graph(rest)),
        ])
    }

    /// Gives `vertices` the same reason.
    fn label(&mut self, vertices: &[usize], reason: &str) {
        for &v in vertices {
            self.reasons.insert(v, reason.to_owned());
        }
    }
}

/// The graph a step needs, or an error saying what it got instead.
fn graph_of(value: Value, at: &str) -> Result<Sub, String> {
    match value {
        Value::Graph(g) => Ok(g),
        Value::List(_) => Err(format!(
            "{at}: expects a graph, got {}; apply it to each item with [\"map\", …]",
            value.describe()
        )),
        Value::Parts(_) => Err(format!(
            "{at}: expects a graph, got {}; apply it to one part with [\"over\", part, …]",
            value.describe()
        )),
    }
}

/// The list a step needs, or an error saying what it got instead.
fn list_of(value: Value, at: &str) -> Result<Vec<Value>, String> {
    match value {
        Value::List(items) => Ok(items),
        Value::Graph(_) => Err(format!(
            "{at}: expects a list, got {}; split it first (popularity_contest, split_every)",
            value.describe()
        )),
        Value::Parts(_) => Err(format!(
            "{at}: expects a list, got {}; flatten it first",
            value.describe()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layering::test_graphs::{all, graph, render, store_path};
    use serde_json::json;

    /// A test store path as a JSON-ready string (see [`store_path`]).
    fn sp(hash: char, name: &str) -> String {
        store_path(hash, name).display().to_string()
    }

    /// Plans `pipeline` over the whole of `g` and renders it.
    fn run(g: &Graph, pipeline: Json) -> String {
        render(g, &plan(g, &all(g), &pipeline).unwrap())
    }

    /// The error `pipeline` gives over `g`.
    fn error(g: &Graph, pipeline: Json) -> String {
        plan(g, &all(g), &pipeline).unwrap_err()
    }

    /// nixpkgs' pipe_test graph: Root1→A, A→B, A→C, B→D, B→E, E→F, B→G, Root2→B,
    /// Root3→C (E, F and G have hash characters f, g and h: there is no 'e' in nixbase32).
    fn nixpkgs_pipe_graph() -> Graph {
        graph(&[
            ('1', "Root1", 7, "a"),
            ('2', "Root2", 8, "b"),
            ('3', "Root3", 9, "c"),
            ('a', "A", 0, "bc"),
            ('b', "B", 1, "dfh"),
            ('c', "C", 2, ""),
            ('d', "D", 3, ""),
            ('f', "E", 4, "g"),
            ('g', "F", 5, ""),
            ('h', "G", 6, ""),
        ])
    }

    /// nixpkgs' pipe_test `test_1`: split, subcomponent, popularity, flatten, map, limit.
    #[test]
    fn nixpkgs_pipe_test_1() {
        let g = nixpkgs_pipe_graph();
        let pipeline = json!([
            ["split_paths", [sp('b', "B")]],
            [
                "over",
                "main",
                [
                    "pipe",
                    [
                        ["subcomponent_in", [sp('b', "B")]],
                        ["over", "rest", ["popularity_contest"]]
                    ]
                ]
            ],
            ["flatten"],
            ["map", ["remove_paths", sp('3', "Root3")]],
            ["limit_layers", 5]
        ]);
        // nixpkgs expects [B], [F], [D], [E], [Root1 A C Root2 G].
        insta::assert_snapshot!(run(&g, pipeline), @r"
        B
        F
        D
        E
        Root1 Root2 A C G
        ");
    }

    /// nixpkgs' pipe_test `test_2`: the popularity contest, limited and reversed.
    #[test]
    fn nixpkgs_pipe_test_2() {
        // Root1→A→B, Root2 alone.
        let g = graph(&[
            ('1', "Root1", 1, "a"),
            ('2', "Root2", 1, ""),
            ('a', "A", 1, "b"),
            ('b', "B", 1, ""),
        ]);
        insta::assert_snapshot!(run(&g, json!([["popularity_contest"]])), @r"
        B
        A
        Root1
        Root2
        ");
        insta::assert_snapshot!(run(&g, json!([["popularity_contest"], ["limit_layers", 3]])), @r"
        B
        A
        Root1 Root2
        ");
        insta::assert_snapshot!(run(&g, json!([["popularity_contest"], ["reverse"], ["limit_layers", 3]])), @r"
        Root2
        Root1
        A B
        ");
    }

    /// nixpkgs' flatten_references_graph_test, with and without an excluded path.
    #[test]
    fn nixpkgs_flatten_references_graph_test() {
        // A→C, B→C, B→D; sizes 2, 4, 6, 8.
        let g = graph(&[
            ('a', "A", 2, "c"),
            ('b', "B", 4, "cd"),
            ('c', "C", 6, ""),
            ('d', "D", 8, ""),
        ]);
        insta::assert_snapshot!(run(&g, json!([["split_paths", [sp('b', "B")]]])), @r"
        B D
        C
        A
        ");
        let pipeline = json!([
            ["split_paths", [sp('b', "B")]],
            ["over", "main", ["subcomponent_in", [sp('b', "B")]]]
        ]);
        insta::assert_snapshot!(run(&g, pipeline), @r"
        B
        D
        C
        A
        ");
        // With A excluded, B is the only root: main takes everything.
        let without_a: BTreeSet<usize> = all(&g)
            .into_iter()
            .filter(|&p| g.nodes()[p].path.name() != "A")
            .collect();
        let layers = plan(&g, &without_a, &json!([["split_paths", [sp('b', "B")]]])).unwrap();
        insta::assert_snapshot!(render(&g, &layers), @"B C D");
    }

    /// nixpkgs' split_paths_test graph: Root1→A, A→B, A→D, D→E, B→D, B→F, Root2→B,
    /// Root3→C, X alone.
    fn split_test_graph() -> Graph {
        graph(&[
            ('1', "Root1", 1, "a"),
            ('2', "Root2", 1, "b"),
            ('3', "Root3", 1, "c"),
            ('a', "A", 1, "bd"),
            ('b', "B", 1, "dg"),
            ('c', "C", 1, ""),
            ('d', "D", 1, "f"),
            ('f', "E", 1, ""),
            ('g', "F", 1, ""),
            ('x', "X", 1, ""),
        ])
    }

    /// nixpkgs' split_paths_test cases, plus `children_of`.
    #[test]
    fn split_paths_like_nixpkgs() {
        let g = split_test_graph();
        // main [B F], common [D E], rest [Root1 A Root2 Root3 C X].
        insta::assert_snapshot!(run(&g, json!([["split_paths", [sp('b', "B")]]])), @r"
        B F
        D E
        Root1 Root2 Root3 A C X
        ");
        insta::assert_snapshot!(run(&g, json!([["split_paths", [sp('b', "B"), sp('3', "Root3")]]])), @r"
        Root3 B C F
        D E
        Root1 Root2 A X
        ");
        // No common part: main [D E], rest the others.
        insta::assert_snapshot!(run(&g, json!([["split_paths", [sp('d', "D")]]])), @r"
        D E
        Root1 Root2 Root3 A B C F X
        ");
        // children_of B: D and F are split off with E, which only D uses; B stays in rest.
        insta::assert_snapshot!(run(&g, json!([["split_paths", [{"children_of": sp('b', "B")}]]])), @r"
        D E F
        Root1 Root2 Root3 A B C X
        ");
    }

    /// References to split paths are cut, so later steps see the split paths as roots.
    #[test]
    fn split_paths_drops_references_to_split_paths() {
        // A→B, both split off: B becomes a root of main, so the popularity contest over
        // main ranks them alike (nixpkgs deletes the edges pointing at split paths).
        let g = graph(&[('r', "R", 1, "a"), ('a', "A", 1, "b"), ('b', "B", 1, "")]);
        let pipeline = json!([
            ["split_paths", [sp('a', "A"), sp('b', "B")]],
            ["over", "main", ["popularity_contest"]]
        ]);
        let layers = plan(&g, &all(&g), &pipeline).unwrap();
        insta::assert_snapshot!(render(&g, &layers), @r"
        A
        B
        R
        ");
        let reasons: Vec<&String> = layers.iter().flat_map(|l| l.reasons.values()).collect();
        insta::assert_snapshot!(reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>().join("\n"), @r"
        pipeline step 2 (over) > popularity_contest: popularity rank 1 of 2 (popularity 1)
        pipeline step 2 (over) > popularity_contest: popularity rank 2 of 2 (popularity 1)
        pipeline step 1 (split_paths): rest (the split paths do not depend on it)
        ");
    }

    /// nixpkgs' subcomponent_test cases, plus a path outside `paths`.
    #[test]
    fn subcomponents_like_nixpkgs() {
        // subcomponent_test graph: Root1→A, A→B, A→C, B→D, B→E, Root2→B, Root3→C, X.
        let g = graph(&[
            ('1', "Root1", 1, "a"),
            ('2', "Root2", 1, "b"),
            ('3', "Root3", 1, "c"),
            ('a', "A", 1, "bc"),
            ('b', "B", 1, "df"),
            ('c', "C", 1, ""),
            ('d', "D", 1, ""),
            ('f', "E", 1, ""),
            ('x', "X", 1, ""),
        ]);
        insta::assert_snapshot!(run(&g, json!([["subcomponent_out", [sp('b', "B")]]])), @r"
        B D E
        Root1 Root2 Root3 A C X
        ");
        insta::assert_snapshot!(run(&g, json!([["subcomponent_out", [sp('b', "B"), sp('3', "Root3")]]])), @r"
        Root3 B C D E
        Root1 Root2 A X
        ");
        insta::assert_snapshot!(run(&g, json!([["subcomponent_in", [sp('b', "B")]]])), @r"
        Root1 Root2 A B
        Root3 C D E X
        ");
        insta::assert_snapshot!(run(&g, json!([["subcomponent_in", [sp('b', "B"), sp('3', "Root3")]]])), @r"
        Root1 Root2 Root3 A B
        C D E X
        ");
        // An excluded path is ignored, like any path not in this part of the graph.
        let b = g.index_of(Path::new(&sp('b', "B"))).unwrap();
        let without_b: BTreeSet<usize> = all(&g).into_iter().filter(|&p| p != b).collect();
        let layers = plan(
            &g,
            &without_b,
            &json!([["subcomponent_out", [sp('b', "B")]]]),
        )
        .unwrap();
        insta::assert_snapshot!(render(&g, &layers), @"Root1 Root2 Root3 A C D E X");
    }

    /// A closure with ties: three tools of equal popularity and size.
    fn tools() -> Graph {
        graph(&[
            ('a', "app", 40, "xyzl"),
            ('x', "tool", 5, "l"),
            ('y', "tool", 5, "l"),
            ('z', "awk", 5, "l"),
            ('l', "libc", 30, ""),
            ('d', "docs", 1, ""),
        ])
    }

    /// Ties in the popularity contest go by name, then hash.
    #[test]
    fn popularity_contest_with_ties() {
        let g = tools();
        insta::assert_snapshot!(run(&g, json!([["popularity_contest"], ["limit_layers", 3]])), @r"
        libc
        awk
        app docs tool tool
        ");
        // The two tools differ by hash only: hash decides.
        let layers = plan(&g, &all(&g), &json!([["popularity_contest"]])).unwrap();
        let order: Vec<String> = layers
            .iter()
            .map(|l| g.nodes()[l.paths[0]].path.to_string())
            .collect();
        assert_eq!(
            order[1..4],
            [sp('z', "awk"), sp('x', "tool"), sp('y', "tool")]
        );
    }

    /// `split_every` cuts the graph order: NAR size, then store path.
    #[test]
    fn split_every_goes_by_size_then_path() {
        let g = tools();
        // Graph order: docs (1), tool x, tool y, awk (5, by path), libc (30), app (40).
        // Each line lists a layer's paths by store path (the tools' hashes x, y; awk's z).
        insta::assert_snapshot!(run(&g, json!([["split_every", 2]])), @r"
        docs tool
        tool awk
        app libc
        ");
        insta::assert_snapshot!(run(&g, json!([["split_every", 4]])), @r"
        docs tool tool awk
        app libc
        ");
    }

    /// The structural operators combined.
    #[test]
    fn map_over_pipe_reverse_flatten() {
        let g = tools();
        let pipeline = json!([
            ["subcomponent_out", [sp('x', "tool")]],
            [
                "over",
                "rest",
                [
                    "pipe",
                    [
                        ["split_every", 2],
                        ["map", ["popularity_contest"]],
                        ["flatten"],
                        ["reverse"]
                    ]
                ]
            ],
            ["over", "main", ["popularity_contest"]],
            ["flatten"],
            ["limit_layers", 4]
        ]);
        // main: tool x and libc by popularity; rest in pairs by graph order (docs,
        // tool y / awk, app), each pair ranked, all reversed, then limited to 4.
        insta::assert_snapshot!(run(&g, pipeline), @r"
        libc
        tool
        app
        docs tool awk
        ");
    }

    /// Removed paths are in no layer; unknown ones are skipped.
    #[test]
    fn remove_paths_leaves_paths_out() {
        let g = tools();
        let pipeline = json!([
            [
                "remove_paths",
                [
                    sp('l', "libc"),
                    "/nix/store/00000000000000000000000000000000-elsewhere"
                ]
            ],
            ["popularity_contest"]
        ]);
        insta::assert_snapshot!(run(&g, pipeline), @r"
        awk
        tool
        tool
        app
        docs
        ");
        insta::assert_snapshot!(run(&g, json!([["remove_paths", sp('d', "docs")]])), @"app libc tool tool awk");
    }

    /// `over` a part split_paths left out leaves the parts as they are.
    #[test]
    fn over_a_missing_part_changes_nothing() {
        let g = tools();
        // Splitting app off takes everything but docs, so there is no common part.
        let pipeline = json!([
            ["split_paths", [sp('a', "app")]],
            ["over", "common", ["popularity_contest"]]
        ]);
        insta::assert_snapshot!(run(&g, pipeline), @r"
        app libc tool tool awk
        docs
        ");
    }

    /// `limit_layers` merges the tail, and says so in the reasons.
    #[test]
    fn limit_layers_always_adds_the_merged_layer() {
        let g = tools();
        // Fewer items than allowed: nothing merged; the empty merged graph is dropped.
        let layers = plan(
            &g,
            &all(&g),
            &json!([["split_every", 3], ["limit_layers", 5]]),
        )
        .unwrap();
        assert_eq!(layers.len(), 2);
        let merged = plan(
            &g,
            &all(&g),
            &json!([["popularity_contest"], ["limit_layers", 2]]),
        )
        .unwrap();
        let reason = &merged[1].reasons[&g.index_of(Path::new(&sp('d', "docs"))).unwrap()];
        assert_eq!(
            reason,
            "pipeline step 1 (popularity_contest): popularity rank 6 of 6 (popularity 1); then pipeline step 2 (limit_layers): merged into the last layer (6 came in, 2 allowed)"
        );
    }

    /// Each path's reason names the step that placed it.
    #[test]
    fn reasons_name_the_step() {
        let g = tools();
        let pipeline = json!([
            ["subcomponent_in", [sp('x', "tool")]],
            [
                "over",
                "rest",
                ["pipe", [["popularity_contest"], ["limit_layers", 2]]]
            ]
        ]);
        let layers = plan(&g, &all(&g), &pipeline).unwrap();
        let lines: Vec<String> = layers
            .iter()
            .flat_map(|l| {
                l.paths
                    .iter()
                    .map(|p| format!("{}: {}", g.nodes()[*p].path.name(), l.reasons[p]))
            })
            .collect();
        insta::assert_snapshot!(lines.join("\n"), @r"
        app: pipeline step 1 (subcomponent_in): main (one of the given paths or depends on one)
        tool: pipeline step 1 (subcomponent_in): main (one of the given paths or depends on one)
        libc: pipeline step 2 (over) > pipe > step 1 (popularity_contest): popularity rank 1 of 4 (popularity 4)
        docs: pipeline step 2 (over) > pipe > step 1 (popularity_contest): popularity rank 3 of 4 (popularity 1); then pipeline step 2 (over) > pipe > step 2 (limit_layers): merged into the last layer (4 came in, 2 allowed)
        tool: pipeline step 2 (over) > pipe > step 1 (popularity_contest): popularity rank 4 of 4 (popularity 1); then pipeline step 2 (over) > pipe > step 2 (limit_layers): merged into the last layer (4 came in, 2 allowed)
        awk: pipeline step 2 (over) > pipe > step 1 (popularity_contest): popularity rank 2 of 4 (popularity 1); then pipeline step 2 (over) > pipe > step 2 (limit_layers): merged into the last layer (4 came in, 2 allowed)
        ");
        let untouched = plan(&g, &all(&g), &json!([])).unwrap();
        assert_eq!(untouched.len(), 1);
        assert!(untouched[0]
            .reasons
            .values()
            .all(|r| r == "pipeline: no step split it from the rest"));
    }

    /// Every mistake is reported on one line naming the step.
    #[test]
    fn errors_name_the_step() {
        let g = tools();
        let known = OPERATORS.join(", ");
        let cases = [
            (json!({"steps": []}), "the pipeline must be a JSON array of steps, like [[\"popularity_contest\"], [\"limit_layers\", 100]]; got {\"steps\":[]}".to_owned()),
            (json!([["popularity_contest"], ["limit_layers", "x"]]), "step 2 (limit_layers): expects a positive integer, got \"x\"".to_owned()),
            (json!([["limit_layers", 0]]), "step 1 (limit_layers): expects a positive integer, got 0".to_owned()),
            (json!([["split_every", 2.5]]), "step 1 (split_every): expects a positive integer, got 2.5".to_owned()),
            (json!([["foo"]]), format!("step 1: unknown operator \"foo\"; known: {known}")),
            (json!([["limit_layers"]]), "step 1 (limit_layers): expects 1 argument, got 0; write [\"limit_layers\", <positive integer>]".to_owned()),
            (json!([["popularity_contest", 3]]), "step 1 (popularity_contest): expects 0 arguments, got 1; write [\"popularity_contest\"]".to_owned()),
            (json!([[]]), "step 1: empty step; expected [\"operator\", arguments…]".to_owned()),
            (json!(["popularity_contest"]), "step 1: expected a step [\"operator\", arguments…], got \"popularity_contest\"".to_owned()),
            (json!([[7]]), "step 1: the operator must be a string, got 7".to_owned()),
            (
                json!([["split_paths", ["/nix/store/00000000000000000000000000000000-nope"]]]),
                "step 1 (split_paths): /nix/store/00000000000000000000000000000000-nope is not in the closure graph".to_owned(),
            ),
            (
                json!([["subcomponent_out", [sp('a', "app"), "/nix/store/00000000000000000000000000000000-nope"]]]),
                "step 1 (subcomponent_out): /nix/store/00000000000000000000000000000000-nope is not in the closure graph".to_owned(),
            ),
            (json!([["subcomponent_in", sp('a', "app")]]), format!("step 1 (subcomponent_in): expects a list of store paths, got \"{}\"", sp('a', "app"))),
            (json!([["split_paths", [{"parents_of": sp('a', "app")}]]]), "step 1 (split_paths): unexpected key \"parents_of\" in a split path; the only key is \"children_of\"".to_owned()),
            (json!([["remove_paths", [1]]]), "step 1 (remove_paths): expects store paths (strings), got 1".to_owned()),
            (
                json!([["split_paths", []], ["over", "mian", ["popularity_contest"]]]),
                "step 2 (over): unknown part \"mian\"; split_paths gives main, common and rest, subcomponent_in/out give main and rest".to_owned(),
            ),
            (
                json!([["subcomponent_out", []], ["over", "rest", ["pipe", [["popularity_contest"], ["limit_layers", -1]]]]]),
                "step 2 (over) > pipe > step 2 (limit_layers): expects a positive integer, got -1".to_owned(),
            ),
            (json!([["map", ["bar"]]]), format!("step 1 (map): unknown operator \"bar\"; known: {known}")),
            (json!([["pipe", {}]]), "step 1 (pipe): expects a list of steps, got {}".to_owned()),
            // Wrong kinds of values, found while running.
            (json!([["popularity_contest"], ["popularity_contest"]]), "step 2 (popularity_contest): expects a graph, got a list of 6 items; apply it to each item with [\"map\", …]".to_owned()),
            (json!([["limit_layers", 3]]), "step 1 (limit_layers): expects a list, got a graph of 6 paths; split it first (popularity_contest, split_every)".to_owned()),
            (json!([["subcomponent_out", []], ["reverse"]]), "step 2 (reverse): expects a list, got split parts (main, rest); flatten it first".to_owned()),
            (json!([["over", "main", ["popularity_contest"]]]), "step 1 (over): expects the parts split_paths or subcomponent_in/out give, got a graph of 6 paths".to_owned()),
            (
                json!([["subcomponent_out", []], ["map", ["reverse"]]]),
                "step 2 (map): expects a list, got split parts (main, rest); flatten it first".to_owned(),
            ),
            (
                json!([["split_every", 2], ["map", ["subcomponent_out", []]], ["limit_layers", 1]]),
                "step 3 (limit_layers): item 1 is split parts (main, rest); only graphs can be merged into the last layer: flatten first".to_owned(),
            ),
        ];
        for (pipeline, message) in cases {
            assert_eq!(error(&g, pipeline.clone()), message, "{pipeline}");
        }
    }

    /// A string pipeline is read from the file it names.
    #[test]
    fn a_string_names_a_pipeline_file() {
        let g = tools();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pipeline.json");
        std::fs::write(&file, r#"[["popularity_contest"],["limit_layers",2]]"#).unwrap();
        let layers = plan(&g, &all(&g), &json!(file.to_str().unwrap())).unwrap();
        assert_eq!(render(&g, &layers), "libc\napp docs tool tool awk");
        let missing = plan(
            &g,
            &all(&g),
            &json!(dir.path().join("none.json").to_str().unwrap()),
        )
        .unwrap_err();
        assert!(missing.starts_with("the pipeline file "), "{missing}");
    }
}
