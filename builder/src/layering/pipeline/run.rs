//! Running a parsed pipeline: applying each [`Step`] to the value the previous one gave,
//! and recording why each path ends up where it does.

use super::{flatten_into, Direction, Op, Split, Step, Sub, Value};
use crate::graph::Graph;
use crate::layering::popularity;
use std::collections::{BTreeMap, BTreeSet};

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

/// A running pipeline: the graph, and why each path is where it is so far.
pub(super) struct Run<'g> {
    pub(super) graph: &'g Graph,
    /// The reason of the step that last placed each path, by node; empty while no step
    /// has (see [`Run::reason`]), which spares a default string for every path.
    pub(super) reasons: Vec<String>,
}

impl Run<'_> {
    /// Why path `v` is where it is so far.
    pub(super) fn reason(&self, v: usize) -> &str {
        match self.reasons[v].as_str() {
            "" => "pipeline: no step split it from the rest",
            reason => reason,
        }
    }

    /// Applies `step` to `value`.
    pub(super) fn apply(&mut self, step: &Step, value: Value) -> Result<Value, String> {
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
            self.reasons[v] = format!(
                "pipeline {at}: popularity rank {} of {total} (popularity {popularity})",
                i + 1
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
                    let before = self.reason(v);
                    let reason = format!("{before}; then pipeline {at}: merged into the last layer ({came} came in, {n} allowed)");
                    self.reasons[v] = reason;
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
        let mut part_of = vec![usize::MAX; self.graph.nodes().len()];
        let mut parts: Vec<Sub> = Vec::with_capacity(count);
        for (k, chunk) in sub.vertices.chunks(n).enumerate() {
            let why = format!(
                "pipeline {at}: part {} of {count} ({n} paths a part, in graph order)",
                k + 1
            );
            self.label(chunk, &why);
            for &v in chunk {
                part_of[v] = k;
            }
            parts.push(Sub {
                vertices: chunk.to_vec(),
                edges: Vec::new(),
            });
        }
        // One pass over the edges, each kept by the part holding both its ends: not one
        // pass per part, which is quadratic when the parts are small.
        for (a, b) in sub.edges {
            if part_of[a] == part_of[b] {
                parts[part_of[a]].edges.push((a, b));
            }
        }
        Value::List(parts.into_iter().map(Value::Graph).collect())
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
            self.reasons[v] = reason.to_owned();
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
