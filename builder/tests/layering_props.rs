//! Properties every layering algorithm must have, on random closure graphs: each path in
//! exactly one layer, no more layers than the budget, no empty layer, and the same plan
//! whatever order the graph was given in and however often it is planned. Plus the
//! popularity count checked against nixpkgs' definition, computed the slow way.

use proptest::prelude::*;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use stowage::graph::{Graph, GraphEntry};
use stowage::layering::popularity::popularity_order;
use stowage::layering::{plan_paths, Algorithm, PlannedLayer};

/// Names with repeats and dashes, so equal popularities and sizes meet equal names.
const NAMES: [&str; 6] = ["lib", "app", "lib", "glibc-2.40", "a", "lib-x"];
/// Nix's base-32 alphabet.
const NIXBASE32: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// A random closure: node `i` refers only to nodes below `i`, so it is acyclic.
#[derive(Debug, Clone)]
struct Dag {
    /// `(name index, NAR size, references)` per node.
    nodes: Vec<(usize, u64, Vec<usize>)>,
}

impl Dag {
    /// Node `i`'s store path. The hash scrambles `i` so that path order differs from
    /// node order (7919 is odd, so hashes stay distinct).
    fn path(&self, i: usize) -> PathBuf {
        let mut n = (i * 7919 + 13) % (1 << 20);
        let mut hash = [b'0'; 32];
        for slot in hash.iter_mut().rev() {
            *slot = NIXBASE32[n % 32];
            n /= 32;
        }
        let name = NAMES[self.nodes[i].0];
        PathBuf::from(format!(
            "/nix/store/{}-{name}",
            std::str::from_utf8(&hash).unwrap()
        ))
    }

    /// The `exportReferencesGraph` entries, in `order`.
    fn entries(&self, order: &[usize]) -> Vec<GraphEntry> {
        order
            .iter()
            .map(|&i| GraphEntry {
                path: self.path(i),
                references: self.nodes[i].2.iter().map(|&r| self.path(r)).collect(),
                nar_size: Some(self.nodes[i].1),
                nar_hash: None,
            })
            .collect()
    }
}

/// DAGs of 1 to 59 nodes with sizes from 0 to 3 (to provoke ties).
fn dag() -> impl Strategy<Value = Dag> {
    (1usize..60).prop_flat_map(|n| {
        let nodes: Vec<_> = (0..n)
            .map(|i| {
                let references =
                    prop::collection::vec(0..i.max(1), 0..5).prop_map(move |mut refs| {
                        refs.retain(|&r| r < i);
                        refs.sort_unstable();
                        refs.dedup();
                        refs
                    });
                (0..NAMES.len(), 0u64..4, references)
            })
            .collect();
        nodes.prop_map(|nodes| Dag { nodes })
    })
}

/// A DAG, a shuffled entry order, a budget, and which nodes to exclude.
fn case() -> impl Strategy<Value = (Dag, Vec<usize>, usize, Vec<bool>)> {
    dag().prop_flat_map(|d| {
        let n = d.nodes.len();
        let order = Just((0..n).collect::<Vec<usize>>()).prop_shuffle();
        let excluded = prop::collection::vec(prop::bool::weighted(0.15), n);
        (Just(d), order, 1usize..20, excluded)
    })
}

/// The algorithms under test; pipelines depend on the budget and on paths of the DAG.
fn algorithms(d: &Dag, budget: usize) -> Vec<Algorithm> {
    let some = |k: usize| d.path(k % d.nodes.len()).display().to_string();
    vec![
        Algorithm::Auto,
        Algorithm::Popularity,
        Algorithm::Pipeline(json!([["popularity_contest"], ["limit_layers", budget]])),
        Algorithm::Pipeline(json!([
            ["split_paths", [some(7), {"children_of": some(3)}]],
            ["over", "main", ["popularity_contest"]],
            ["over", "common", ["split_every", 2]],
            ["over", "rest", ["pipe", [["subcomponent_in", [some(1)]], ["over", "rest", ["popularity_contest"]], ["flatten"], ["reverse"]]]],
            ["flatten"],
            ["map", ["pipe", []]],
            ["limit_layers", budget + 1]
        ])),
    ]
}

/// A plan by store path: each layer's paths with their reasons, bottom first.
fn by_path(graph: &Graph, layers: &[PlannedLayer]) -> Vec<Vec<(PathBuf, String)>> {
    layers
        .iter()
        .map(|l| {
            l.paths
                .iter()
                .map(|&p| {
                    (
                        graph.nodes()[p].path.as_path().to_owned(),
                        l.reasons[&p].clone(),
                    )
                })
                .collect()
        })
        .collect()
}

/// Builds the graph from entries in `order` and the node indices of the non-excluded paths.
fn build(d: &Dag, order: &[usize], excluded: &[bool]) -> (Graph, BTreeSet<usize>) {
    let graph = Graph::from_entries(
        d.entries(order),
        Path::new("/nix/store"),
        Path::new("graph"),
    )
    .unwrap();
    let paths = (0..d.nodes.len())
        .filter(|&i| !excluded[i])
        .map(|i| graph.index_of(&d.path(i)).unwrap())
        .collect();
    (graph, paths)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Auto, popularity and two pipelines: partition, budget, determinism, order independence.
    #[test]
    fn plans_partition_fit_and_are_deterministic((d, order, budget, excluded) in case()) {
        let identity: Vec<usize> = (0..d.nodes.len()).collect();
        let (graph, paths) = build(&d, &identity, &excluded);
        let (shuffled, shuffled_paths) = build(&d, &order, &excluded);
        for algorithm in algorithms(&d, budget) {
            let layers = plan_paths(&graph, &paths, &algorithm, budget).unwrap();
            // Every path in exactly one layer, each with a reason; nothing else.
            let mut seen = BTreeSet::new();
            for layer in &layers {
                prop_assert!(!layer.paths.is_empty(), "{algorithm:?}: empty layer");
                prop_assert!(layer.paths.windows(2).all(|w| w[0] < w[1]), "{algorithm:?}: paths not ascending");
                prop_assert_eq!(layer.reasons.keys().copied().collect::<Vec<_>>(), layer.paths.clone());
                for &p in &layer.paths {
                    prop_assert!(seen.insert(p), "{:?}: {} in two layers", algorithm, graph.nodes()[p].path);
                }
            }
            prop_assert_eq!(&seen, &paths, "{:?}: not every path placed", algorithm);
            prop_assert!(layers.len() <= budget, "{algorithm:?}: {} layers for a budget of {budget}", layers.len());
            // The same again, and the same from a shuffled graph.
            let again = plan_paths(&graph, &paths, &algorithm, budget).unwrap();
            prop_assert_eq!(&again, &layers);
            let from_shuffled = plan_paths(&shuffled, &shuffled_paths, &algorithm, budget).unwrap();
            prop_assert_eq!(by_path(&shuffled, &from_shuffled), by_path(&graph, &layers), "{:?}", algorithm);
        }
    }

    /// `popularity_order` agrees with nixpkgs' recursive counting, ties included.
    #[test]
    fn popularity_counts_as_nixpkgs_defines_it(d in dag()) {
        let identity: Vec<usize> = (0..d.nodes.len()).collect();
        let graph = Graph::from_entries(d.entries(&identity), Path::new("/nix/store"), Path::new("graph")).unwrap();
        let all: BTreeSet<usize> = (0..graph.nodes().len()).collect();
        let got: Vec<(PathBuf, u64)> = popularity_order(&graph, &all)
            .into_iter()
            .map(|(p, n)| (graph.nodes()[p].path.as_path().to_owned(), n))
            .collect();
        prop_assert_eq!(got, nixpkgs_order(&d));
    }
}

/// nixpkgs' popularity contest done the way closure-graph.py does it: each node's
/// counter is built from its children's (a child counts 1, each path under it one more
/// than under the child), the roots' counters are summed the same way, and the result
/// is sorted most popular first, ties by `package_name`.
fn nixpkgs_order(d: &Dag) -> Vec<(PathBuf, u64)> {
    let n = d.nodes.len();
    let referred: BTreeSet<usize> = d
        .nodes
        .iter()
        .flat_map(|(_, _, refs)| refs.iter().copied())
        .collect();
    let mut counters: Vec<Option<BTreeMap<usize, u128>>> = vec![None; n];
    // Children have lower indices, so going up fills every child's counter first.
    for v in 0..n {
        counters[v] = Some(contest(&d.nodes[v].2, &counters));
    }
    let roots: Vec<usize> = (0..n).filter(|v| !referred.contains(v)).collect();
    let popularity = contest(&roots, &counters);
    let key = |v: usize| {
        let text = d.path(v).display().to_string();
        let (start, rest) = text.split_once('-').unwrap();
        format!("{rest}-{start}")
    };
    let mut order: Vec<(u128, String, usize)> = popularity
        .into_iter()
        .map(|(v, count)| (count, key(v), v))
        .collect();
    order.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    order
        .into_iter()
        .map(|(count, _, v)| (d.path(v), u64::try_from(count).unwrap_or(u64::MAX)))
        .collect()
}

/// The counter of a node with `children` (or of the forest of `children` as roots).
fn contest(
    children: &[usize],
    counters: &[Option<BTreeMap<usize, u128>>],
) -> BTreeMap<usize, u128> {
    let mut counts: BTreeMap<usize, u128> = BTreeMap::new();
    for &child in children {
        *counts.entry(child).or_default() += 1;
        for (&below, &count) in counters[child].as_ref().expect("children come first") {
            let slot = counts.entry(below).or_default();
            *slot = slot.saturating_add(count.saturating_add(1));
        }
    }
    counts
}
