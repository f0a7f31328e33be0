//! nixpkgs' classic `referencesByPopularity` layering: the store paths most depended on
//! get layers of their own at the bottom of the image, the rest share the top layer.
//!
//! Why: a path that many others need (glibc, openssl, …) changes rarely and appears in
//! many images, so giving it a layer of its own lets registries and hosts share it.
//!
//! # Popularity
//!
//! nixpkgs (`closure-graph.py`, and `popularity_contest.py` of flattenReferencesGraph)
//! unfolds the graph into a forest: every root (a path nothing refers to) becomes a
//! tree, and a path reached by several routes appears once per route. A path's
//! popularity is the number of tree nodes whose subtree holds an occurrence of it,
//! itself included. With `R(w)` the number of routes from any root to `w` (1 for a
//! root), that is `popularity(u) = Σ R(w)` over `u` and every path that depends on `u`,
//! directly or not. We compute it that way instead of materialising the trees, which
//! can be exponentially large. Popularities grow fast on deep graphs; they are counted
//! in 128 bits (saturating) and reported clamped to `u64::MAX`.
//!
//! # Ties
//!
//! Equal popularities are ordered as nixpkgs' `order_by_popularity` orders them: by its
//! `package_name` key, the path with everything up to the first `-` moved to the end
//! (`hello-2.12-/nix/store/<hash>`), ascending. So ties go by name, then by hash, and the
//! order never depends on the order of the input graph.
//!
//! # Orientation
//!
//! The most popular path is the bottom layer. nixpkgs' `mkManyPureLayers` numbered the
//! layers from the top of the popularity list (`head -n $((maxLayers - 1)) | cat -n`),
//! and `stream_layered_image.py` takes `store_layers` "in ascending order", lowest layer
//! first, right above the base image's layers.

mod count;

use super::{referrers_first, Adjacency, PlannedLayer};
use crate::graph::store_path::StorePath;
use crate::graph::Graph;
use std::collections::{BTreeMap, BTreeSet};

/// Paths (node indices from `paths`) ordered most popular first, with their popularity.
///
/// Only the references between members of `paths` count, as if the graph held nothing
/// else (nixpkgs drops `exclude_paths` from the graph before the contest the same way).
pub fn popularity_order(graph: &Graph, paths: &BTreeSet<usize>) -> Vec<(usize, u64)> {
    let references: BTreeMap<usize, Vec<usize>> = paths
        .iter()
        .map(|&p| {
            let within = graph.nodes()[p]
                .references
                .iter()
                .copied()
                .filter(|r| paths.contains(r));
            (p, within.collect())
        })
        .collect();
    ranked(graph, &references)
        .into_iter()
        .map(|(p, popularity)| (p, clamp(popularity)))
        .collect()
}

/// The classic algorithm within `budget` layers (budget >= 1): bottom layer first.
///
/// The `budget - 1` most popular paths get a layer each and everything else shares the
/// last one; when the paths fit, each gets its own layer.
pub fn plan(graph: &Graph, paths: &BTreeSet<usize>, budget: usize) -> Vec<PlannedLayer> {
    let budget = budget.max(1);
    let order = popularity_order(graph, paths);
    let total = order.len();
    let own = if total <= budget { total } else { budget - 1 };
    let mut layers: Vec<PlannedLayer> = order[..own]
        .iter()
        .enumerate()
        .map(|(i, &(path, popularity))| {
            let reason = format!(
                "own layer: popularity rank {} of {total} (popularity {popularity})",
                i + 1
            );
            PlannedLayer::uniform([path], &reason)
        })
        .collect();
    if own < total {
        let reasons: BTreeMap<usize, String> = order[own..]
            .iter()
            .enumerate()
            .map(|(i, &(path, popularity))| {
                (path, folded_reason(own + i + 1, total, popularity, budget))
            })
            .collect();
        layers.push(PlannedLayer {
            paths: reasons.keys().copied().collect(),
            reasons,
        });
    }
    layers
}

/// Why the path of popularity rank `rank` shares the last layer.
fn folded_reason(rank: usize, total: usize, popularity: u64, budget: usize) -> String {
    if budget == 1 {
        format!("folded into the only layer: popularity rank {rank} of {total} (popularity {popularity}); a budget of 1 layer leaves no room for layers of their own")
    } else {
        format!(
            "folded into the last layer: popularity rank {rank} of {total} (popularity {popularity}) is beyond the budget of {budget} layers (ranks 1 to {} get their own)",
            budget - 1
        )
    }
}

/// The popularity contest over any acyclic graph whose vertices are the keys of
/// `references` (node indices of `graph`) and whose edges are the listed references
/// (among the keys): the vertices most popular first, ties by nixpkgs' `package_name`.
/// The pipeline runs this on the subgraphs it carves out, whose edges may be fewer than
/// the graph's.
pub(crate) fn ranked(
    graph: &Graph,
    references: &BTreeMap<usize, Vec<usize>>,
) -> Vec<(usize, u128)> {
    let vertices: Vec<usize> = references.keys().copied().collect();
    let n = vertices.len();
    // Each graph node's vertex number, if it is a vertex.
    let mut local = vec![usize::MAX; graph.nodes().len()];
    for (i, &v) in vertices.iter().enumerate() {
        local[v] = i;
    }
    let refs = Adjacency::new(vertices.iter().map(|v| {
        let mut targets: Vec<usize> = references[v]
            .iter()
            .filter(|&r| r != v)
            .map(|&r| local[r])
            .filter(|&r| r != usize::MAX)
            .collect();
        targets.sort_unstable();
        targets.dedup();
        targets
    }));
    let popularity = in_topological_order(&refs);
    let mut result: Vec<(usize, u128, String)> = (0..n)
        .map(|v| {
            (
                vertices[v],
                popularity[v],
                package_name(&graph.nodes()[vertices[v]].path),
            )
        })
        .collect();
    result.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.2.cmp(&b.2)));
    result
        .into_iter()
        .map(|(v, popularity, _)| (v, popularity))
        .collect()
}

/// The popularity of each vertex of `refs`, counted by [`count::popularities`] over the
/// vertices renumbered so that referrers come first.
fn in_topological_order(refs: &Adjacency) -> Vec<u128> {
    let referrers = refs.reversed();
    let order = referrers_first(refs.count(), |v| referrers.of(v).len(), |v| refs.of(v));
    let mut position = vec![0; order.len()];
    for (i, &v) in order.iter().enumerate() {
        position[v] = i;
    }
    let sorted = Adjacency::new(
        order
            .iter()
            .map(|&v| refs.of(v).iter().map(|&w| position[w])),
    );
    let by_position = count::popularities(&sorted, &sorted.reversed());
    (0..order.len()).map(|v| by_position[position[v]]).collect()
}

/// nixpkgs' `package_name` sort key: the path with everything before its first `-`
/// (the store directory and hash) moved to the end, so equally popular paths sort by
/// name, then hash.
fn package_name(path: &StorePath) -> String {
    let text = path.as_path().to_string_lossy();
    match text.split_once('-') {
        Some((start, rest)) => format!("{rest}-{start}"),
        None => text.into_owned(),
    }
}

/// A popularity as reported: beyond `u64::MAX` it only means "at least that".
fn clamp(popularity: u128) -> u64 {
    u64::try_from(popularity).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::GraphEntry;
    use crate::layering::test_graphs::{all, graph, render, store_path as sp};
    use std::path::{Path, PathBuf};

    /// `name popularity` lines, most popular first.
    fn render_order(g: &Graph, order: &[(usize, u64)]) -> String {
        order
            .iter()
            .map(|&(p, n)| format!("{} {n}", g.nodes()[p].path.name()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The example drawn at the top of nixpkgs' closure-graph.py: A→B→C→D→F, C→E→F,
    /// B→E, A→G (E, F and G have hash characters f, g and h: nixbase32 has no 'e').
    fn nixpkgs_example() -> Graph {
        graph(&[
            ('a', "A", 1, "bh"),
            ('b', "B", 1, "cf"),
            ('c', "C", 1, "df"),
            ('d', "D", 1, "g"),
            ('f', "E", 1, "g"),
            ('g', "F", 1, ""),
            ('h', "G", 1, ""),
        ])
    }

    /// The worked example in nixpkgs' closure-graph.py comments.
    #[test]
    fn popularity_matches_the_nixpkgs_example() {
        let g = nixpkgs_example();
        // nixpkgs: F 9, E 5, D 4, C 3, B 2, G 2, A 1; B before G by name.
        insta::assert_snapshot!(render_order(&g, &popularity_order(&g, &all(&g))), @r"
        F 9
        E 5
        D 4
        C 3
        B 2
        G 2
        A 1
        ");
    }

    /// nixpkgs' `TestGraphPopularityContest` counts.
    #[test]
    fn popularity_matches_the_nixpkgs_unit_test() {
        // graph_popularity_contest's test: foo→bar→baz→tux, foo→baz.
        let g = graph(&[
            ('f', "foo", 1, "bz"),
            ('b', "bar", 1, "z"),
            ('z', "baz", 1, "x"),
            ('x', "tux", 1, ""),
        ]);
        let order = popularity_order(&g, &all(&g));
        assert_eq!(render_order(&g, &order), "tux 6\nbaz 4\nbar 2\nfoo 1");
    }

    /// Equal popularities: by name, then hash, independent of input order.
    #[test]
    fn ties_go_by_name_then_hash_whatever_the_input_order() {
        // Four roots of equal popularity, two of them named alike: name first, then hash.
        let spec = [
            ('z', "same", 1, ""),
            ('a', "same", 1, ""),
            ('0', "zlib", 9, ""),
            ('9', "bash", 3, ""),
        ];
        let g = graph(&spec);
        let order = popularity_order(&g, &all(&g));
        let paths: Vec<String> = order
            .iter()
            .map(|&(p, _)| g.nodes()[p].path.to_string())
            .collect();
        assert_eq!(
            paths,
            [
                sp('9', "bash"),
                sp('a', "same"),
                sp('z', "same"),
                sp('0', "zlib")
            ]
            .map(|p| p.display().to_string())
        );
        let mut reversed = spec;
        reversed.reverse();
        let g2 = graph(&reversed);
        let paths2: Vec<String> = popularity_order(&g2, &all(&g2))
            .iter()
            .map(|&(p, _)| g2.nodes()[p].path.to_string())
            .collect();
        assert_eq!(paths, paths2);
    }

    /// The tie-break key is nixpkgs' `package_name`, edge cases included.
    #[test]
    fn package_name_moves_the_store_prefix_to_the_end_like_nixpkgs() {
        let path = StorePath::parse(&sp('a', "hello-2.12"), Path::new("/nix/store")).unwrap();
        assert_eq!(
            package_name(&path),
            format!("hello-2.12-/nix/store/{}", "a".repeat(32))
        );
        // "foo+x" < "foo" under this key ('+' sorts before '-'), as in nixpkgs.
        let plus = StorePath::parse(&sp('b', "foo+x"), Path::new("/nix/store")).unwrap();
        let bare = StorePath::parse(&sp('a', "foo"), Path::new("/nix/store")).unwrap();
        assert!(package_name(&plus) < package_name(&bare));
    }

    /// app → {python, openssl}; python → {openssl, glibc}; openssl → glibc; two tools
    /// tied with a shared lib; docs alone.
    fn closure() -> Graph {
        graph(&[
            ('a', "app", 10, "pn"),
            ('p', "python", 500, "ng"),
            ('n', "openssl", 50, "g"),
            ('g', "glibc", 30, ""),
            ('x', "tool-x", 5, "l"),
            ('y', "tool-y", 5, "l"),
            ('l', "libtool", 5, "g"),
            ('d', "docs", 1, ""),
        ])
    }

    /// With room enough, one layer per path, most popular at the bottom.
    #[test]
    fn every_path_its_own_layer_when_the_budget_allows() {
        let g = closure();
        insta::assert_snapshot!(render_order(&g, &popularity_order(&g, &all(&g))), @r"
        glibc 13
        libtool 4
        openssl 4
        python 2
        app 1
        docs 1
        tool-x 1
        tool-y 1
        ");
        insta::assert_snapshot!(render(&g, &plan(&g, &all(&g), 100)), @r"
        glibc
        libtool
        openssl
        python
        app
        docs
        tool-x
        tool-y
        ");
    }

    /// Over budget, the least popular share the top layer.
    #[test]
    fn the_least_popular_fold_into_the_last_layer() {
        let g = closure();
        insta::assert_snapshot!(render(&g, &plan(&g, &all(&g), 4)), @r"
        glibc
        libtool
        openssl
        app docs python tool-x tool-y
        ");
        insta::assert_snapshot!(render(&g, &plan(&g, &all(&g), 1)), @"app docs glibc libtool openssl python tool-x tool-y");
        // Exactly as many paths as layers: no folding.
        assert_eq!(plan(&g, &all(&g), 8).len(), 8);
        assert_eq!(plan(&g, &all(&g), 7).len(), 7);
    }

    /// Reasons give the rank, the popularity and the budget.
    #[test]
    fn reasons_give_rank_and_budget() {
        let g = closure();
        let layers = plan(&g, &all(&g), 3);
        let reasons: Vec<String> = layers
            .iter()
            .flat_map(|l| l.paths.iter().map(|p| l.reasons[p].clone()))
            .collect();
        insta::assert_snapshot!(reasons.join("\n"), @r"
        own layer: popularity rank 1 of 8 (popularity 13)
        own layer: popularity rank 2 of 8 (popularity 4)
        folded into the last layer: popularity rank 5 of 8 (popularity 1) is beyond the budget of 3 layers (ranks 1 to 2 get their own)
        folded into the last layer: popularity rank 6 of 8 (popularity 1) is beyond the budget of 3 layers (ranks 1 to 2 get their own)
        folded into the last layer: popularity rank 3 of 8 (popularity 4) is beyond the budget of 3 layers (ranks 1 to 2 get their own)
        folded into the last layer: popularity rank 4 of 8 (popularity 2) is beyond the budget of 3 layers (ranks 1 to 2 get their own)
        folded into the last layer: popularity rank 7 of 8 (popularity 1) is beyond the budget of 3 layers (ranks 1 to 2 get their own)
        folded into the last layer: popularity rank 8 of 8 (popularity 1) is beyond the budget of 3 layers (ranks 1 to 2 get their own)
        ");
        let only = plan(&g, &all(&g), 1);
        assert!(only[0]
            .reasons
            .values()
            .all(|r| r.starts_with("folded into the only layer: popularity rank ")));
    }

    /// Excluded paths take their references with them.
    #[test]
    fn only_references_within_the_paths_count() {
        // Leaving glibc out (the base image has it) makes openssl a leaf.
        let g = closure();
        let glibc = g.index_of(&sp('g', "glibc")).unwrap();
        let paths: BTreeSet<usize> = all(&g).into_iter().filter(|&p| p != glibc).collect();
        let order = popularity_order(&g, &paths);
        assert_eq!(order.len(), 7);
        assert_eq!(render_order(&g, &order[..2]), "libtool 4\nopenssl 4");
        assert!(plan(&g, &BTreeSet::new(), 5).is_empty());
    }

    /// Exponentially many routes saturate rather than overflow.
    #[test]
    fn deep_graphs_saturate_instead_of_overflowing() {
        // A ladder of 140 rungs doubles the routes at each rung: 2^140 routes to the bottom.
        let hashes: Vec<String> = (0..280).map(|i| format!("{i:0>32}")).collect();
        let path = |i: usize| PathBuf::from(format!("/nix/store/{}-n{i}", hashes[i]));
        let entries: Vec<GraphEntry> = (0..280)
            .map(|i| {
                let rung = i / 2;
                let references = if rung + 1 < 140 {
                    vec![path(2 * rung + 2), path(2 * rung + 3)]
                } else {
                    vec![]
                };
                GraphEntry {
                    path: path(i),
                    references,
                    nar_size: Some(1),
                    nar_hash: None,
                }
            })
            .collect();
        let g = Graph::from_entries(entries, Path::new("/nix/store"), Path::new("graph")).unwrap();
        let order = popularity_order(&g, &all(&g));
        assert_eq!(order[0].1, u64::MAX);
        assert_eq!(order.len(), 280);
    }
}
