//! Layer planning: which store paths share a layer. Every algorithm is deterministic
//! (ties are broken by store path) and records why each path landed where it did, for
//! `stowage layers --explain`.

pub mod auto;
pub mod pipeline;
pub mod popularity;
#[cfg(test)]
mod test_graphs;

use crate::graph::Graph;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// The vertices `0..count` of an acyclic graph in an order where every vertex comes
/// after all its referrers (Kahn's algorithm from the roots), given each vertex's number
/// of referrers and its references: the order route counts and walks down the graph
/// need. `Graph` refuses cycles, and the subgraphs planners carve out only lose edges.
pub(crate) fn referrers_first<'a>(
    count: usize,
    referrer_count: impl Fn(usize) -> usize,
    references: impl Fn(usize) -> &'a [usize],
) -> Vec<usize> {
    let mut pending: Vec<usize> = (0..count).map(&referrer_count).collect();
    let mut ready: Vec<usize> = (0..count).filter(|&v| pending[v] == 0).collect();
    let mut order = Vec::with_capacity(count);
    while let Some(v) = ready.pop() {
        order.push(v);
        for &r in references(v) {
            pending[r] -= 1;
            if pending[r] == 0 {
                ready.push(r);
            }
        }
    }
    order
}

/// Lists of vertices, one per vertex `0..count()`, in one array: what the planners walk
/// instead of a `Vec` per vertex, so that walks over many vertices read memory forward.
pub(crate) struct Adjacency {
    /// Vertex `v`'s list is `items[starts[v]..starts[v + 1]]`.
    starts: Vec<usize>,
    items: Vec<usize>,
}

impl Adjacency {
    /// One list per item of `lists`.
    pub(crate) fn new<L: IntoIterator<Item = usize>>(
        lists: impl IntoIterator<Item = L>,
    ) -> Adjacency {
        let mut starts = vec![0];
        let mut items = Vec::new();
        for list in lists {
            items.extend(list);
            starts.push(items.len());
        }
        Adjacency { starts, items }
    }

    /// How many vertices there are.
    pub(crate) fn count(&self) -> usize {
        self.starts.len() - 1
    }

    /// Vertex `v`'s list.
    pub(crate) fn of(&self, v: usize) -> &[usize] {
        &self.items[self.starts[v]..self.starts[v + 1]]
    }

    /// The lists the other way round: `w` in `v`'s list puts `v` in `w`'s, in ascending
    /// order of `v`.
    pub(crate) fn reversed(&self) -> Adjacency {
        let mut starts = vec![0; self.count() + 2];
        for &w in &self.items {
            starts[w + 2] += 1;
        }
        for v in 2..starts.len() {
            starts[v] += starts[v - 1];
        }
        // starts[w + 1] is now where w's list begins; it counts up as w's list fills.
        let mut items = vec![0; self.items.len()];
        for v in 0..self.count() {
            for &w in self.of(v) {
                items[starts[w + 1]] = v;
                starts[w + 1] += 1;
            }
        }
        starts.pop();
        Adjacency { starts, items }
    }
}

/// One planned layer: graph node indices and the reason each is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedLayer {
    /// Node indices of the paths in this layer, in ascending index (path) order.
    pub paths: Vec<usize>,
    /// Why each path is in this layer, by node index.
    pub reasons: BTreeMap<usize, String>,
}

impl PlannedLayer {
    /// A layer of `paths`, each with the same reason.
    pub fn uniform(paths: impl IntoIterator<Item = usize>, reason: &str) -> PlannedLayer {
        let reasons: BTreeMap<usize, String> =
            paths.into_iter().map(|p| (p, reason.to_owned())).collect();
        PlannedLayer {
            paths: reasons.keys().copied().collect(),
            reasons,
        }
    }

    /// Total NAR size of the layer's paths.
    pub fn size(&self, graph: &Graph) -> u64 {
        graph.size_of(self.paths.iter().copied())
    }
}

/// How store paths are grouped into layers.
#[derive(Debug, Clone, PartialEq)]
pub enum Algorithm {
    /// nixpkgs' current default: large paths get layers of their own, with the
    /// dependencies only they use (`auto-layer`).
    Auto,
    /// nixpkgs' classic referencesByPopularity: the most referenced paths get their own
    /// layers, the rest share the last one.
    Popularity,
    /// nixpkgs' `layeringPipeline` JSON.
    Pipeline(serde_json::Value),
}

/// Plans the layers for `paths` (node indices of `graph`) within `budget` layers,
/// bottom layer first. Every path lands in exactly one layer, except those a pipeline's
/// `remove_paths` step leaves out on purpose (what a base image already ships); no layer
/// is empty.
pub fn plan_paths(
    graph: &Graph,
    paths: &BTreeSet<usize>,
    algorithm: &Algorithm,
    budget: usize,
) -> Result<Vec<PlannedLayer>, String> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    if budget == 0 {
        return Err("no layer is left for the store paths: the base image and the customisation layer use the whole maxLayers budget; raise maxLayers".into());
    }
    let layers = match algorithm {
        Algorithm::Auto => auto::plan(graph, paths, budget),
        Algorithm::Popularity => popularity::plan(graph, paths, budget),
        Algorithm::Pipeline(pipeline) => pipeline::plan(graph, paths, pipeline)?,
    };
    Ok(fit_budget(
        layers.into_iter().filter(|l| !l.paths.is_empty()).collect(),
        budget,
    ))
}

/// Folds the top layers into the last one allowed when an algorithm (a user's pipeline)
/// made more layers than the budget allows.
fn fit_budget(mut layers: Vec<PlannedLayer>, budget: usize) -> Vec<PlannedLayer> {
    if layers.len() <= budget {
        return layers;
    }
    let made = layers.len();
    let excess = layers.split_off(budget);
    let last = layers.last_mut().expect("budget is at least 1");
    for layer in excess {
        for (path, reason) in layer.reasons {
            last.reasons.insert(
                path,
                format!(
                    "{reason}; folded into the last layer: {made} layers made, {budget} allowed"
                ),
            );
        }
    }
    last.paths = last.reasons.keys().copied().collect();
    layers
}

/// The built-in algorithms by name, as confs and the command line spell them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlgorithmName {
    #[default]
    Auto,
    Popularity,
}

impl AlgorithmName {
    /// Every name, for the command line's help.
    pub const NAMES: [&'static str; 2] = ["auto", "popularity"];

    /// The algorithm named `name`, if it is one of [`AlgorithmName::NAMES`].
    pub fn parse(name: &str) -> Option<AlgorithmName> {
        match name {
            "auto" => Some(AlgorithmName::Auto),
            "popularity" => Some(AlgorithmName::Popularity),
            _ => None,
        }
    }
}

/// How a closure is to be layered, whoever asked (a conf, `.attrs.json`, the command
/// line).
#[derive(Debug, Clone)]
pub struct Settings {
    pub algorithm: Algorithm,
    /// The image's whole layer budget: base layers, store layers and the customisation
    /// layer together (nixpkgs' `maxLayers`).
    pub max_layers: i64,
    /// Store paths to leave out (the image's own config file, for instance).
    pub exclude: Vec<PathBuf>,
}

impl Settings {
    /// Settings from a name and an optional pipeline, which wins over the name.
    pub fn new(
        name: AlgorithmName,
        pipeline: Option<serde_json::Value>,
        max_layers: i64,
        exclude: Vec<PathBuf>,
    ) -> Settings {
        let algorithm = match (pipeline, name) {
            (Some(pipeline), _) => Algorithm::Pipeline(pipeline),
            (None, AlgorithmName::Auto) => Algorithm::Auto,
            (None, AlgorithmName::Popularity) => Algorithm::Popularity,
        };
        Settings {
            algorithm,
            max_layers,
            exclude,
        }
    }

    /// How many layers are left for store paths once `fixed_layers` are counted.
    fn budget(&self, fixed_layers: usize) -> Result<usize, String> {
        if self.max_layers <= 1 {
            return Err(format!(
                "maxLayers must be greater than 1 (current value: {})",
                self.max_layers
            ));
        }
        let budget = usize::try_from(self.max_layers)
            .unwrap_or(usize::MAX)
            .saturating_sub(fixed_layers);
        if budget == 0 {
            return Err(format!(
                "maxLayers is {} but the base image and the customisation layer already take {fixed_layers} layers; at least one is needed for the store paths: raise maxLayers",
                self.max_layers
            ));
        }
        Ok(budget)
    }
}

/// The layers an image takes besides its store layers: the base image's, and the
/// customisation layer when there is one. The one place they are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedLayers {
    pub base: usize,
    pub customisation: bool,
}

impl FixedLayers {
    /// How many layers of the budget they take.
    pub fn count(self) -> usize {
        self.base + usize::from(self.customisation)
    }

    /// `+2 base layers, +1 customisation layer`, for reports; empty when there are none.
    pub fn describe(self) -> String {
        let mut parts = Vec::new();
        if self.base > 0 {
            let s = if self.base == 1 { "" } else { "s" };
            parts.push(format!("+{} base layer{s}", self.base));
        }
        if self.customisation {
            parts.push("+1 customisation layer".to_owned());
        }
        parts.join(", ")
    }
}

/// The store layers of an image, bottom first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub layers: Vec<PlannedLayer>,
    /// The layers the budget counted besides these.
    pub fixed: FixedLayers,
}

impl Plan {
    /// The store paths of each layer, as a conf's `store_layers` lists them.
    pub fn store_layers(&self, graph: &Graph) -> Vec<Vec<PathBuf>> {
        self.layers
            .iter()
            .map(|l| {
                l.paths
                    .iter()
                    .map(|&p| graph.nodes()[p].path.as_path().to_owned())
                    .collect()
            })
            .collect()
    }
}

/// Plans the store layers of `graph`: its paths less `settings.exclude`, within the
/// budget `settings.max_layers` leaves after the `fixed` layers.
pub fn plan(graph: &Graph, settings: &Settings, fixed: FixedLayers) -> Result<Plan, String> {
    let budget = settings.budget(fixed.count())?;
    let excluded: BTreeSet<usize> = settings
        .exclude
        .iter()
        .filter_map(|p| graph.index_of(p))
        .collect();
    let paths: BTreeSet<usize> = (0..graph.nodes().len())
        .filter(|i| !excluded.contains(i))
        .collect();
    let layers = plan_paths(graph, &paths, &settings.algorithm, budget)?;
    Ok(Plan { layers, fixed })
}
