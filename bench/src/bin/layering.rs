//! `layering`: how fast stowage plans layers, and how much two releases of an image share.
//!
//! Planning times are measured on generated closures of 1k, 20k and 100k store paths
//! shaped like real ones (a few very popular low-level paths such as libc, sizes spread
//! over orders of magnitude). Reuse compares the plans of two versions of a 2,000-path
//! closure: one where the top-level application changed (a new release of your app), one
//! where a low-level leaf changed (a security fix in a library: every path that depends on
//! it gets a new store path too, as in Nix). A layer is shared when both images hold the
//! same set of store paths in it, which gives byte-identical layers.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;
use stowage::graph::{Graph, GraphEntry};
use stowage::layering::{plan_paths, Algorithm};

/// The layer budget for store paths: nixpkgs' default maxLayers (100) less the
/// customisation layer.
const BUDGET: usize = 99;

/// A small deterministic generator (xorshift64*), so every run plans the same graphs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A store path for node `i` of version `version`: the hash part changes with the version.
fn store_path(i: usize, version: u64) -> PathBuf {
    const ALPHABET: &[u8] = b"0123456789abcdfghijklmnpqrsvwxyz";
    let mut x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ version.wrapping_mul(0xd6e8_feb8_6659_fd93);
    let hash: String = (0..32)
        .map(|_| {
            x = x.rotate_left(5).wrapping_add(0x632b_e59b_d9b4_e019);
            ALPHABET[(x % 32) as usize] as char
        })
        .collect();
    PathBuf::from(format!("/nix/store/{hash}-pkg-{i}"))
}

/// A closure of `n` paths: node 0 is the application, higher indices are lower-level.
/// Each path refers to a few paths below it, preferring the lowest (most popular) ones.
fn closure(n: usize, seed: u64) -> Vec<(Vec<usize>, u64)> {
    let mut rng = Rng(seed | 1);
    (0..n)
        .map(|i| {
            let below = (n - i - 1) as u64;
            // About one path in seven has no dependencies (data, fonts, static tools).
            let count = rng.below(7).min(below);
            let refs: BTreeSet<usize> = (0..count)
                .map(|_| {
                    // Squaring a uniform draw favours the far end: the popular base paths.
                    let u = rng.below(1 << 16) as f64 / f64::from(1 << 16);
                    n - 1 - (u * u * below as f64) as usize
                })
                .collect();
            // Most paths 1 KiB to 1 MiB; one in forty is a big one (20 to 500 MiB), like a
            // compiler, a JDK or a Python.
            let size = if rng.below(40) == 0 {
                (20 + rng.below(480)) << 20
            } else {
                1024 << rng.below(11)
            };
            (refs.into_iter().collect(), size)
        })
        .collect()
}

/// The graph entries of `shape` where the nodes in `changed` have new store paths.
fn entries(shape: &[(Vec<usize>, u64)], changed: &HashSet<usize>) -> Vec<GraphEntry> {
    let path = |i: usize| store_path(i, u64::from(changed.contains(&i)));
    shape
        .iter()
        .enumerate()
        .map(|(i, (refs, size))| GraphEntry {
            path: path(i),
            references: refs.iter().map(|&r| path(r)).collect(),
            nar_size: Some(*size),
            nar_hash: None,
        })
        .collect()
}

/// Builds the graph and plans it; returns the layers as sets of store paths.
fn layers(entries: Vec<GraphEntry>, algorithm: &Algorithm) -> Vec<(BTreeSet<PathBuf>, u64)> {
    let graph = Graph::from_entries(entries, Path::new("/nix/store"), Path::new("bench"))
        .expect("a generated graph is valid");
    let all: BTreeSet<usize> = (0..graph.nodes().len()).collect();
    let planned = plan_paths(&graph, &all, algorithm, BUDGET).expect("planning succeeds");
    planned
        .iter()
        .map(|l| {
            (
                l.paths
                    .iter()
                    .map(|&p| graph.nodes()[p].path.as_path().to_owned())
                    .collect(),
                l.size(&graph),
            )
        })
        .collect()
}

/// One path per layer, unlimited: what the walking skeleton did.
fn per_path(entries: &[GraphEntry]) -> Vec<(BTreeSet<PathBuf>, u64)> {
    entries
        .iter()
        .map(|e| (BTreeSet::from([e.path.clone()]), e.nar_size.unwrap_or(0)))
        .collect()
}

/// Median of three timed runs of `f`, in seconds.
fn median_seconds(mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..3)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[1]
}

/// Every path that depends on `leaf`, and `leaf` itself: what a change to it rebuilds.
fn dependents(shape: &[(Vec<usize>, u64)], leaf: usize) -> HashSet<usize> {
    let mut changed = HashSet::from([leaf]);
    for i in (0..shape.len()).rev() {
        if shape[i].0.iter().any(|r| changed.contains(r)) {
            changed.insert(i);
        }
    }
    changed
}

/// Layers and bytes of `second` that `first` already has.
fn shared(
    first: &[(BTreeSet<PathBuf>, u64)],
    second: &[(BTreeSet<PathBuf>, u64)],
) -> (usize, u64, u64) {
    let known: HashSet<&BTreeSet<PathBuf>> = first.iter().map(|(paths, _)| paths).collect();
    let total: u64 = second.iter().map(|(_, size)| size).sum();
    let reused: Vec<&(BTreeSet<PathBuf>, u64)> = second
        .iter()
        .filter(|(paths, _)| known.contains(paths))
        .collect();
    (
        reused.len(),
        reused.iter().map(|(_, size)| size).sum(),
        total,
    )
}

fn main() {
    let popularity_pipeline = Algorithm::Pipeline(serde_json::json!([
        ["popularity_contest"],
        ["limit_layers", BUDGET]
    ]));
    println!("planning time (median of 3; graph construction included; budget {BUDGET} layers)");
    println!(
        "{:>8}  {:>10}  {:>12}  {:>12}",
        "paths", "auto", "popularity", "pipeline"
    );
    for n in [1_000, 20_000, 100_000] {
        let shape = closure(n, 42);
        let base = entries(&shape, &HashSet::new());
        let time = |algorithm: &Algorithm| median_seconds(|| drop(layers(base.clone(), algorithm)));
        println!(
            "{n:>8}  {:>9.3}s  {:>11.3}s  {:>11.3}s",
            time(&Algorithm::Auto),
            time(&Algorithm::Popularity),
            time(&popularity_pipeline)
        );
    }

    let n = 2_000;
    let shape = closure(n, 7);
    let v1 = entries(&shape, &HashSet::new());
    // A library without dependencies whose change rebuilds about 5% of the closure.
    let leaf = (0..n)
        .filter(|&i| shape[i].0.is_empty())
        .min_by_key(|&i| (dependents(&shape, i).len() as i64 - n as i64 / 20).abs())
        .expect("a closure has leaves");
    for (what, changed) in [
        ("the application (top) changed", HashSet::from([0])),
        ("a leaf library changed", dependents(&shape, leaf)),
    ] {
        let v2 = entries(&shape, &changed);
        println!(
            "\nreuse, {n}-path closure, {what} ({} of {n} store paths new):",
            changed.len()
        );
        println!(
            "{:>22}  {:>15}  {:>30}",
            "algorithm", "layers shared", "bytes shared"
        );
        let rows: Vec<(&str, Vec<_>, Vec<_>)> = vec![
            (
                "auto",
                layers(v1.clone(), &Algorithm::Auto),
                layers(v2.clone(), &Algorithm::Auto),
            ),
            (
                "popularity",
                layers(v1.clone(), &Algorithm::Popularity),
                layers(v2.clone(), &Algorithm::Popularity),
            ),
            ("one path per layer", per_path(&v1), per_path(&v2)),
        ];
        for (name, first, second) in rows {
            let (count, bytes, total) = shared(&first, &second);
            println!(
                "{name:>22}  {count:>6} of {:<6}  {:>8.1} MB of {:>8.1} MB ({:>5.1}%)",
                second.len(),
                bytes as f64 / 1e6,
                total as f64 / 1e6,
                100.0 * bytes as f64 / total.max(1) as f64
            );
        }
    }
}
