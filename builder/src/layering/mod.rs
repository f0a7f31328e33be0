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
use std::path::Path;

/// One planned layer: graph node indices and the reason each is there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
        self.paths.iter().map(|&p| graph.nodes()[p].nar_size).sum()
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
pub fn plan(
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

/// The layering part of a conf (our addition to nixpkgs' format): plan `store_layers`
/// from a references graph instead of listing them.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayeringConf {
    /// The closure as `exportReferencesGraph` gives it (`[{path, references, narSize}]`).
    pub graph: Vec<crate::graph::GraphEntry>,
    /// `auto` (default) or `popularity`; ignored when `pipeline` is set.
    #[serde(default)]
    pub algorithm: AlgorithmName,
    /// A nixpkgs `layeringPipeline`.
    #[serde(default)]
    pub pipeline: Option<serde_json::Value>,
    /// The image's whole layer budget: base layers, store layers and the customisation
    /// layer together.
    #[serde(default = "default_max_layers")]
    pub max_layers: i64,
    /// Store paths to leave out (the image's own config file, for instance).
    #[serde(default)]
    pub exclude: Vec<std::path::PathBuf>,
}

/// The built-in algorithms by name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AlgorithmName {
    #[default]
    Auto,
    Popularity,
}

fn default_max_layers() -> i64 {
    100
}

impl LayeringConf {
    /// The algorithm this conf asks for.
    pub fn algorithm(&self) -> Algorithm {
        match (&self.pipeline, self.algorithm) {
            (Some(pipeline), _) => Algorithm::Pipeline(pipeline.clone()),
            (None, AlgorithmName::Auto) => Algorithm::Auto,
            (None, AlgorithmName::Popularity) => Algorithm::Popularity,
        }
    }

    /// How many layers are left for store paths once `fixed_layers` (base image layers
    /// and the customisation layer) are counted.
    pub fn budget(&self, fixed_layers: usize) -> Result<usize, String> {
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

    /// Plans the store layers: the graph's paths less `exclude`, within the budget left
    /// after `fixed_layers`. `source` names the conf in errors.
    pub fn plan(
        &self,
        store_dir: &Path,
        fixed_layers: usize,
        source: &Path,
    ) -> crate::error::Result<(Graph, Vec<PlannedLayer>)> {
        let graph = Graph::from_entries(self.graph.clone(), store_dir, source)?;
        let layers = self.plan_graph(&graph, fixed_layers, source)?;
        Ok((graph, layers))
    }

    /// Plans the store layers of an already built `graph` (see [`LayeringConf::plan`]).
    pub fn plan_graph(
        &self,
        graph: &Graph,
        fixed_layers: usize,
        source: &Path,
    ) -> crate::error::Result<Vec<PlannedLayer>> {
        let bad = |m: String| crate::error::Error::conf(source, format!("layering: {m}"));
        let budget = self.budget(fixed_layers).map_err(bad)?;
        let excluded: BTreeSet<usize> = self
            .exclude
            .iter()
            .filter_map(|p| graph.index_of(p))
            .collect();
        let paths: BTreeSet<usize> = (0..graph.nodes().len())
            .filter(|i| !excluded.contains(i))
            .collect();
        plan(graph, &paths, &self.algorithm(), budget).map_err(bad)
    }
}

/// The store paths of planned layers, as `store_layers` lists them.
pub fn store_layers(graph: &Graph, layers: &[PlannedLayer]) -> Vec<Vec<std::path::PathBuf>> {
    layers
        .iter()
        .map(|l| {
            l.paths
                .iter()
                .map(|&p| graph.nodes()[p].path.as_path().to_owned())
                .collect()
        })
        .collect()
}
