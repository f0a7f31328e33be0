//! `layering`: how fast stowage plans layers, in how much memory, and how much two
//! releases of an image share.
//!
//! Planning is measured against targets on generated closures shaped like real ones (a
//! few very popular low-level paths such as libc, sizes spread over orders of magnitude):
//! 100k paths with about 6 references each, under every algorithm; the same at 1M paths;
//! and a 100k-path chain, the worst shape for `auto`'s closure walks. Each case runs in a
//! child process (this program, called with `case …`), which builds the graph, plans it,
//! and reports the median planning time of its runs and its peak resident memory
//! (`VmHWM`: graph, planner and all, since the child does nothing else). Timings are medians of 5 runs (1 at 1M paths), elapsed
//! time and, steadier on a shared machine, the CPU time of the planning thread.
//!
//! Reuse compares the plans of two versions of a 2,000-path closure: one where the
//! top-level application changed (a new release of your app), one where a low-level leaf
//! changed (a security fix in a library: every path that depends on it gets a new store
//! path too, as in Nix). A layer is shared when both images hold the same set of store
//! paths in it, which gives byte-identical layers.

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write;
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
    // One allocation per path: at 1M paths the generation is part of the graph building
    // measured.
    let mut path = String::with_capacity(64);
    path.push_str("/nix/store/");
    path.extend((0..32).map(|_| {
        x = x.rotate_left(5).wrapping_add(0x632b_e59b_d9b4_e019);
        ALPHABET[(x % 32) as usize] as char
    }));
    write!(path, "-pkg-{i}").expect("writing to a String");
    PathBuf::from(path)
}

/// A closure of `n` paths: node 0 is the application, higher indices are lower-level.
/// Each path refers to up to `2 · mean_refs` paths below it (`mean_refs` on average),
/// preferring the lowest (most popular) ones.
fn closure(n: usize, seed: u64, mean_refs: u64) -> Vec<(Vec<usize>, u64)> {
    let mut rng = Rng(seed | 1);
    (0..n)
        .map(|i| {
            let below = (n - i - 1) as u64;
            // One path in 2·mean_refs + 1 has no dependencies (data, fonts, static tools).
            let count = rng.below(2 * mean_refs + 1).min(below);
            let refs: BTreeSet<usize> = (0..count)
                .map(|_| {
                    // Squaring a uniform draw favours the far end: the popular base paths.
                    let u = rng.below(1 << 16) as f64 / f64::from(1 << 16);
                    n - 1 - (u * u * below as f64) as usize
                })
                .collect();
            (refs.into_iter().collect(), size(&mut rng))
        })
        .collect()
}

/// A chain of `n` paths, each referring to the next.
fn chain(n: usize, seed: u64) -> Vec<(Vec<usize>, u64)> {
    let mut rng = Rng(seed | 1);
    (0..n)
        .map(|i| {
            let next = if i + 1 < n { vec![i + 1] } else { vec![] };
            (next, size(&mut rng))
        })
        .collect()
}

/// A path's size: most 1 KiB to 1 MiB; one in forty is a big one (20 to 500 MiB), like a
/// compiler, a JDK or a Python.
fn size(rng: &mut Rng) -> u64 {
    if rng.below(40) == 0 {
        (20 + rng.below(480)) << 20
    } else {
        1024 << rng.below(11)
    }
}

/// The graph entries of `shape` where the nodes in `changed` have new store paths.
fn entries(shape: &[(Vec<usize>, u64)], changed: &HashSet<usize>) -> Vec<GraphEntry> {
    // Each path made once and copied where referred to, as a parsed JSON graph holds it.
    let paths: Vec<PathBuf> = (0..shape.len())
        .map(|i| store_path(i, u64::from(changed.contains(&i))))
        .collect();
    shape
        .iter()
        .zip(&paths)
        .map(|((refs, size), path)| GraphEntry {
            path: path.clone(),
            references: refs.iter().map(|&r| paths[r].clone()).collect(),
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

/// Medians of `runs` timed runs of `f`: elapsed seconds, and seconds this thread spent
/// on a CPU (the steadier figure on a machine others are using too).
fn median_seconds(runs: usize, mut f: impl FnMut()) -> (f64, f64) {
    let (mut wall, mut cpu): (Vec<f64>, Vec<f64>) = (0..runs)
        .map(|_| {
            let (start, start_cpu) = (Instant::now(), cpu_seconds());
            f();
            (start.elapsed().as_secs_f64(), cpu_seconds() - start_cpu)
        })
        .unzip();
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    (wall[runs / 2], cpu[runs / 2])
}

/// This thread's time on a CPU so far, in seconds (the first field of its schedstat, in
/// nanoseconds).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").expect("Linux /proc");
    let nanos: u64 = stat
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a schedstat line");
    nanos as f64 / 1e9
}

/// The algorithms measured, by the name a child is given: the built-in ones, and the
/// pipelines of nixpkgs' docs shape (a popularity contest cut to the budget; a split of
/// the application's direct dependencies, ranked, the rest cut in chunks).
fn algorithm(name: &str, n: usize) -> Option<Algorithm> {
    let path = |i: usize| store_path(i, 0).display().to_string();
    Some(match name {
        "auto" => Algorithm::Auto,
        "popularity" => Algorithm::Popularity,
        "pipeline-popularity" => Algorithm::Pipeline(serde_json::json!([
            ["popularity_contest"],
            ["limit_layers", BUDGET]
        ])),
        "pipeline-split" => Algorithm::Pipeline(serde_json::json!([
            ["split_paths", [{"children_of": path(0)}]],
            ["over", "main", ["popularity_contest"]],
            ["over", "common", ["popularity_contest"]],
            ["over", "rest", ["split_every", n / 10 + 1]],
            ["flatten"],
            ["limit_layers", BUDGET]
        ])),
        _ => return None,
    })
}

/// The child's side: builds the `shape` graph of `n` paths, plans it with `name` (or
/// not, for `none`), and prints the median planning time, the graph's building time and
/// the peak resident memory in KiB.
fn run_case(shape_name: &str, n: usize, name: &str) {
    let shape = match shape_name {
        "random" => closure(n, 42, 6),
        "chain" => chain(n, 42),
        other => panic!("unknown shape {other}"),
    };
    let start = Instant::now();
    let graph = Graph::from_entries(
        entries(&shape, &HashSet::new()),
        Path::new("/nix/store"),
        Path::new("bench"),
    )
    .expect("a generated graph is valid");
    let build = start.elapsed().as_secs_f64();
    drop(shape);
    let all: BTreeSet<usize> = (0..graph.nodes().len()).collect();
    let (wall, cpu) = match name {
        "none" => (0.0, 0.0),
        _ => {
            let algorithm =
                algorithm(name, n).unwrap_or_else(|| panic!("unknown algorithm {name}"));
            let runs = if n <= 100_000 { 5 } else { 1 };
            median_seconds(runs, || {
                drop(plan_paths(&graph, &all, &algorithm, BUDGET).expect("planning succeeds"))
            })
        }
    };
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status");
    println!("{wall} {cpu} {build} {peak_kib}");
}

/// Runs one case in a child process; returns its planning time (elapsed and CPU
/// seconds), graph building seconds and peak MiB.
fn measure(shape: &str, n: usize, name: &str) -> (f64, f64, f64, f64) {
    let output = std::process::Command::new(std::env::current_exe().expect("own path"))
        .args(["case", shape, &n.to_string(), name])
        .output()
        .expect("the child runs");
    assert!(
        output.status.success(),
        "case {shape} {n} {name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("numbers");
    let numbers: Vec<f64> = text
        .split_whitespace()
        .map(|x| x.parse().expect("a number"))
        .collect();
    (numbers[0], numbers[1], numbers[2], numbers[3] / 1024.0)
}

/// `0.123 s < 1 s pass`, or the bare figure when there is no target.
fn against(value: f64, unit: &str, target: Option<f64>) -> String {
    match target {
        Some(t) => format!(
            "{value:>8.3} {unit} < {t} {unit} {}",
            if value < t { "pass" } else { "FAIL" }
        ),
        None => format!("{value:>8.3} {unit} (no target)"),
    }
}

/// The planning targets: each case's time and peak memory next to its target.
fn targets() {
    println!("planning against targets (budget {BUDGET} layers; time: median elapsed planning time, CPU time beside it, graph building apart; memory: peak RSS of a child that builds the graph and plans it)");
    let names = [
        "none",
        "auto",
        "popularity",
        "pipeline-popularity",
        "pipeline-split",
    ];
    let cases: Vec<(&str, usize, &str, bool)> = names
        .iter()
        .map(|&name| ("random", 100_000, name, true))
        // At 1M paths building the graph takes tens of seconds here: the built-ins only.
        .chain(
            names[..3]
                .iter()
                .map(|&name| ("random", 1_000_000, name, false)),
        )
        .chain([
            ("chain", 100_000, "none", true),
            ("chain", 100_000, "auto", true),
            ("chain", 100_000, "popularity", true),
        ])
        .collect();
    for (shape, n, name, with_targets) in cases {
        let (wall, cpu, build, peak) = measure(shape, n, name);
        let time_target = (with_targets && name != "none").then_some(1.0);
        let memory_target = with_targets.then_some(256.0);
        println!(
            "{:>7} {shape:<6} {name:<20} plan {} (CPU {cpu:.3} s)  peak {}  (graph built in {build:.2} s)",
            n,
            against(wall, "s", time_target),
            against(peak, "MiB", memory_target),
        );
    }
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [case, shape, n, name] = &args[..] {
        assert_eq!(case, "case", "usage: layering [case SHAPE N ALGORITHM]");
        run_case(shape, n.parse().expect("a path count"), name);
        return;
    }
    targets();

    let n = 2_000;
    let shape = closure(n, 7, 3);
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
