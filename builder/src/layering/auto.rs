//! The `auto` layering, after nixpkgs' auto-layer: the largest store paths become the
//! identities of their own layers, taking along the dependencies that only they use;
//! dependencies shared by several large paths get one layer per set of sharers.
//!
//! Why: most closures have a few large paths and many small ones. Giving each large path
//! a layer of its own lets different images (and releases) share those bytes, while the
//! small, frequently changing paths end up in small layers.
//!
//! Each path is labelled with the set of "primary" (large) paths whose layer it belongs
//! to; paths with the same label share a layer. Primaries are taken largest first (ties:
//! lower store path first) until one more would exceed the budget.

use super::PlannedLayer;
use crate::graph::Graph;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A layer's identity: the primary paths (node indices) that use its paths.
type Label = BTreeSet<usize>;

/// Plans at most `budget` layers for `paths`, bottom layer first.
pub fn plan(graph: &Graph, paths: &BTreeSet<usize>, budget: usize) -> Vec<PlannedLayer> {
    let mut labels: BTreeMap<usize, Label> = paths.iter().map(|&p| (p, Label::new())).collect();
    let mut label_counts: HashMap<Label, usize> = HashMap::from([(Label::new(), paths.len())]);
    let mut primaries = Vec::new();
    let mut stopped_at = None;
    for candidate in by_size_descending(graph, paths) {
        let changes = relabel(graph, paths, &labels, candidate);
        let counts = recount(&label_counts, &labels, &changes);
        if counts.len() > budget {
            stopped_at = Some(candidate);
            break;
        }
        label_counts = counts;
        labels.extend(changes);
        primaries.push(candidate);
    }
    layers(graph, paths, &labels, &primaries, stopped_at, budget)
}

/// Paths from largest to smallest; among equal sizes the lower store path comes first.
fn by_size_descending(graph: &Graph, paths: &BTreeSet<usize>) -> Vec<usize> {
    let mut order: Vec<usize> = paths.iter().copied().collect();
    order.sort_by_key(|&p| (std::cmp::Reverse(graph.nodes()[p].nar_size), p));
    order
}

/// The new labels when `primary` becomes a layer identity: it gets a layer of its own;
/// each of its dependencies stops being attributed to primaries that use `primary` (they
/// get it through `primary` now) and joins `primary`'s label unless another primary
/// among `primary`'s dependencies already covers it.
fn relabel(
    graph: &Graph,
    paths: &BTreeSet<usize>,
    labels: &BTreeMap<usize, Label>,
    primary: usize,
) -> Vec<(usize, Label)> {
    let within = |set: BTreeSet<usize>| -> BTreeSet<usize> {
        set.intersection(paths)
            .copied()
            .filter(|&p| p != primary)
            .collect()
    };
    let dependencies = within(graph.closure([primary]));
    let users = within(graph.referrer_closure([primary]));
    let mut changes = vec![(primary, Label::from([primary]))];
    for &dependency in &dependencies {
        let mut label: Label = labels[&dependency].difference(&users).copied().collect();
        if label.is_disjoint(&dependencies) {
            label.insert(primary);
        }
        changes.push((dependency, label));
    }
    changes
}

/// How many paths carry each label after applying `changes`.
fn recount(
    counts: &HashMap<Label, usize>,
    labels: &BTreeMap<usize, Label>,
    changes: &[(usize, Label)],
) -> HashMap<Label, usize> {
    let mut counts = counts.clone();
    for (path, label) in changes {
        let old = &labels[path];
        if let Some(n) = counts.get_mut(old) {
            *n -= 1;
            if *n == 0 {
                counts.remove(old);
            }
        }
        *counts.entry(label.clone()).or_default() += 1;
    }
    counts
}

/// Groups paths by label into layers ordered by the size of their closure (a layer comes
/// after the layers it depends on), ties by their paths.
fn layers(
    graph: &Graph,
    paths: &BTreeSet<usize>,
    labels: &BTreeMap<usize, Label>,
    primaries: &[usize],
    stopped_at: Option<usize>,
    budget: usize,
) -> Vec<PlannedLayer> {
    let rank: HashMap<usize, usize> = primaries
        .iter()
        .enumerate()
        .map(|(i, &p)| (p, i + 1))
        .collect();
    let name = |p: usize| graph.nodes()[p].path.name().to_owned();
    let mut groups: BTreeMap<&Label, Vec<usize>> = BTreeMap::new();
    for (&path, label) in labels {
        groups.entry(label).or_default().push(path);
    }
    let mut layers: Vec<(u64, PlannedLayer)> = groups
        .into_iter()
        .map(|(label, members)| {
            let reasons = members
                .iter()
                .map(|&p| (p, reason(graph, p, label, &rank, &name, stopped_at, budget)))
                .collect();
            let closure = graph.closure(members.iter().copied());
            let closure_size = graph.size_of(closure.intersection(paths).copied());
            (
                closure_size,
                PlannedLayer {
                    paths: members,
                    reasons,
                },
            )
        })
        .collect();
    layers.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.paths.cmp(&b.1.paths)));
    layers.into_iter().map(|(_, layer)| layer).collect()
}

/// Why `path` carries `label`, in words.
fn reason(
    graph: &Graph,
    path: usize,
    label: &Label,
    rank: &HashMap<usize, usize>,
    name: &dyn Fn(usize) -> String,
    stopped_at: Option<usize>,
    budget: usize,
) -> String {
    let size = graph.nodes()[path].nar_size;
    if let Some(r) = rank
        .get(&path)
        .filter(|_| label.len() == 1 && label.contains(&path))
    {
        return format!("own layer: the {} largest path ({size} bytes)", ordinal(*r));
    }
    if label.is_empty() {
        let why = match stopped_at {
            Some(next) => format!(
                "the budget of {budget} layers was reached before {} got a layer",
                name(next)
            ),
            None => "no large path depends on it".to_owned(),
        };
        return format!("remainder layer: {why}");
    }
    let users: Vec<String> = label.iter().map(|&p| name(p)).collect();
    if users.len() == 1 {
        format!("dependency used only through {}", users[0])
    } else {
        format!("dependency shared by {}", users.join(", "))
    }
}

/// `1st`, `2nd`, `3rd`, `4th`, … `11th`, `12th`, `13th`, `21st`.
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layering::test_graphs::{all, graph, render};

    /// app uses jdk and python; both use libc; jdk alone uses zlib; docs stands alone.
    fn closure() -> Graph {
        graph(&[
            ('a', "app", 10, "jpd"),
            ('j', "jdk", 1000, "lz"),
            ('p', "python", 500, "l"),
            ('l', "libc", 50, ""),
            ('z', "zlib", 5, ""),
            ('d', "docs", 1, ""),
        ])
    }

    #[test]
    fn large_paths_take_their_private_dependencies() {
        let g = closure();
        let plan = plan(&g, &all(&g), 100);
        assert_eq!(render(&g, &plan), "docs\nzlib\nlibc\npython\njdk\napp");
        let g2 = closure();
        let tight = super::plan(&g2, &all(&g2), 3);
        assert_eq!(render(&g2, &tight), "jdk libc zlib\napp docs python");
    }

    #[test]
    fn reasons_say_why() {
        let g = closure();
        let plan = plan(&g, &all(&g), 3);
        let reasons: Vec<String> = plan
            .iter()
            .flat_map(|l| l.reasons.values().cloned())
            .collect();
        assert_eq!(
            reasons,
            [
                "own layer: the 1st largest path (1000 bytes)",
                "dependency used only through jdk",
                "dependency used only through jdk",
                "remainder layer: the budget of 3 layers was reached before python got a layer",
                "remainder layer: the budget of 3 layers was reached before python got a layer",
                "remainder layer: the budget of 3 layers was reached before python got a layer",
            ]
        );
    }

    #[test]
    fn ties_are_broken_by_store_path() {
        let g = graph(&[('a', "a", 7, ""), ('b', "b", 7, ""), ('c', "c", 7, "")]);
        assert_eq!(render(&g, &plan(&g, &all(&g), 2)), "a\nb c");
    }

    /// Found by the graph_json fuzz target on boundary sizes: summing the sizes of a
    /// layer's closure overflowed.
    #[test]
    fn sizes_past_two_to_the_64_saturate() {
        let g = graph(&[
            ('a', "a", u64::MAX, "bc"),
            ('b', "b", u64::MAX, ""),
            ('c', "c", u64::MAX, ""),
        ]);
        let plan = plan(&g, &all(&g), 100);
        // Every closure's size saturates alike, so the store paths break the tie.
        assert_eq!(render(&g, &plan), "a\nb\nc");
        assert_eq!(plan[0].size(&g), u64::MAX);
    }

    #[test]
    fn ordinals_read_well() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111]
            .iter()
            .map(|&n| ordinal(n))
            .collect();
        assert_eq!(
            got,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st",
                "111th"
            ]
        );
    }
}
