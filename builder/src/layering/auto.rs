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

use super::{referrers_first, Adjacency, PlannedLayer};
use crate::graph::Graph;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A layer's identity: the primary paths (node indices) that use its paths, ascending.
type Label = Vec<usize>;

/// Plans at most `budget` layers for `paths`, bottom layer first.
pub fn plan(graph: &Graph, paths: &BTreeSet<usize>, budget: usize) -> Vec<PlannedLayer> {
    let mut labels = Labels::new(graph.nodes().len(), paths);
    let mut walk = Walk::new(graph, paths);
    let mut primaries = Vec::new();
    let mut stopped_at = None;
    for candidate in by_size_descending(graph, paths) {
        let changes = relabel(&mut walk, &mut labels, &primaries, candidate);
        if !labels.apply_within(&changes, budget) {
            stopped_at = Some(candidate);
            break;
        }
        primaries.push(candidate);
    }
    let by_path: BTreeMap<usize, &Label> = paths.iter().map(|&p| (p, labels.of(p))).collect();
    layers(graph, &mut walk, &by_path, &primaries, stopped_at, budget)
}

/// Paths from largest to smallest; among equal sizes the lower store path comes first.
fn by_size_descending(graph: &Graph, paths: &BTreeSet<usize>) -> Vec<usize> {
    let mut order: Vec<usize> = paths.iter().copied().collect();
    order.sort_by_key(|&p| (std::cmp::Reverse(graph.nodes()[p].nar_size), p));
    order
}

/// Every path's label, as an index into a table of the distinct labels seen, and how
/// many paths carry each. Labels are few (at most one per layer of the budget, and each
/// candidate adds at most one per label), so relabelling works on label indices.
struct Labels {
    /// The label index of each graph node; only those of `paths` mean anything.
    of_node: Vec<usize>,
    table: Vec<Label>,
    index: HashMap<Label, usize>,
    /// How many paths carry each label of `table`.
    counts: Vec<usize>,
    /// How many labels some path carries: the layers the labels would make.
    in_use: usize,
}

impl Labels {
    /// Every path unlabelled (the empty label).
    fn new(nodes: usize, paths: &BTreeSet<usize>) -> Labels {
        let mut labels = Labels {
            of_node: vec![0; nodes],
            table: Vec::new(),
            index: HashMap::new(),
            counts: Vec::new(),
            in_use: 1,
        };
        labels.intern(Label::new());
        labels.counts[0] = paths.len();
        labels
    }

    /// The label of `path`.
    fn of(&self, path: usize) -> &Label {
        &self.table[self.of_node[path]]
    }

    /// The index of `label`, added to the table if new.
    fn intern(&mut self, label: Label) -> usize {
        if let Some(&i) = self.index.get(&label) {
            return i;
        }
        self.table.push(label.clone());
        self.counts.push(0);
        self.index.insert(label, self.table.len() - 1);
        self.table.len() - 1
    }

    /// Gives each path of `changes` its new label index unless that would make more
    /// than `budget` labels in use; says whether it did.
    fn apply_within(&mut self, changes: &[(usize, usize)], budget: usize) -> bool {
        let mut delta = vec![0isize; self.table.len()];
        for &(path, label) in changes {
            delta[self.of_node[path]] -= 1;
            delta[label] += 1;
        }
        let changed = || delta.iter().enumerate().filter(|(_, &d)| d != 0);
        let in_use = changed().fold(self.in_use, |in_use, (label, &d)| {
            let before = self.counts[label];
            let after = before
                .checked_add_signed(d)
                .expect("counts cover every path");
            in_use + usize::from(before == 0 && after > 0) - usize::from(before > 0 && after == 0)
        });
        if in_use > budget {
            return false;
        }
        for (label, &d) in changed() {
            self.counts[label] = self.counts[label].checked_add_signed(d).expect("counted");
        }
        self.in_use = in_use;
        for &(path, label) in changes {
            self.of_node[path] = label;
        }
        true
    }
}

/// Which way a walk follows references.
#[derive(Clone, Copy)]
enum Toward {
    /// To what a path refers to: its dependencies.
    Dependencies,
    /// To what refers to a path: its users.
    Users,
}

/// Closure walks over the whole graph (excluded nodes too, as [`Graph::closure`] walks
/// them), many per plan. Nodes are renumbered in topological order with their edges in
/// two flat arrays, so a walk reads memory mostly forward (a chain, in order) instead of
/// jumping between nodes sorted by store path. A node is marked when its mark equals the
/// walk's number, so no walk clears what the last one marked.
struct Walk {
    /// Each position's node index, and each node's position.
    node_at: Vec<usize>,
    position: Vec<usize>,
    /// Each position's references, then its referrers (as positions).
    down: Adjacency,
    up: Adjacency,
    in_paths: Vec<bool>,
    /// Each position's NAR size.
    sizes: Vec<u64>,
    marks: Vec<u32>,
    walks: u32,
}

impl Walk {
    fn new(graph: &Graph, paths: &BTreeSet<usize>) -> Walk {
        let nodes = graph.nodes();
        let node_at = referrers_first(
            nodes.len(),
            |v| nodes[v].referrers.len(),
            |v| &nodes[v].references,
        );
        let mut position = vec![0; node_at.len()];
        for (i, &node) in node_at.iter().enumerate() {
            position[node] = i;
        }
        let down = Adjacency::new(
            node_at
                .iter()
                .map(|&v| nodes[v].references.iter().map(|&w| position[w])),
        );
        let mut in_paths = vec![false; node_at.len()];
        for &p in paths {
            in_paths[position[p]] = true;
        }
        Walk {
            up: down.reversed(),
            down,
            marks: vec![0; node_at.len()],
            sizes: node_at.iter().map(|&v| nodes[v].nar_size).collect(),
            node_at,
            position,
            in_paths,
            walks: 0,
        }
    }

    /// The paths (node indices of members of `paths`) reachable from the nodes `starts`
    /// going `toward`, the starts included. Until the next walk, [`Walk::reached`]
    /// answers for every node it reached.
    fn reach(&mut self, starts: impl IntoIterator<Item = usize>, toward: Toward) -> Vec<usize> {
        let found = self.walk(starts, toward);
        found.into_iter().map(|v| self.node_at[v]).collect()
    }

    /// The total size of the paths `starts` and their dependencies.
    fn closure_size(&mut self, starts: impl IntoIterator<Item = usize>) -> u64 {
        let found = self.walk(starts, Toward::Dependencies);
        // Saturating: the sizes come from the graph, which may be made up.
        found
            .into_iter()
            .fold(0, |sum: u64, v| sum.saturating_add(self.sizes[v]))
    }

    /// The positions of the paths [`Walk::reach`] finds.
    fn walk(&mut self, starts: impl IntoIterator<Item = usize>, toward: Toward) -> Vec<usize> {
        self.walks += 1;
        let edges = match toward {
            Toward::Dependencies => &self.down,
            Toward::Users => &self.up,
        };
        let mut found = Vec::new();
        let mut todo: Vec<usize> = starts.into_iter().map(|v| self.position[v]).collect();
        while let Some(v) = todo.pop() {
            if self.marks[v] == self.walks {
                continue;
            }
            self.marks[v] = self.walks;
            if self.in_paths[v] {
                found.push(v);
            }
            todo.extend(
                edges
                    .of(v)
                    .iter()
                    .copied()
                    .filter(|&w| self.marks[w] != self.walks),
            );
        }
        found
    }

    /// Whether the last walk reached the node `v`.
    fn reached(&self, v: usize) -> bool {
        self.marks[self.position[v]] == self.walks
    }
}

/// The new label indices when `primary` becomes a layer identity: it gets a layer of
/// its own; each of its dependencies stops being attributed to primaries that use
/// `primary` (they get it through `primary` now) and joins `primary`'s label unless
/// another primary among `primary`'s dependencies already covers it. The new label
/// depends only on the old one, so it is worked out once per label.
fn relabel(
    walk: &mut Walk,
    labels: &mut Labels,
    primaries: &[usize],
    primary: usize,
) -> Vec<(usize, usize)> {
    // Labels hold nothing but primaries, so only the primaries among the users matter.
    walk.reach([primary], Toward::Users);
    let users: Vec<usize> = primaries
        .iter()
        .copied()
        .filter(|&q| walk.reached(q))
        .collect();
    let dependencies: Vec<usize> = walk
        .reach([primary], Toward::Dependencies)
        .into_iter()
        .filter(|&p| p != primary)
        .collect();
    let mut changes = vec![(primary, labels.intern(vec![primary]))];
    let mut new_index: Vec<Option<usize>> = vec![None; labels.table.len()];
    for dependency in dependencies {
        let old = labels.of_node[dependency];
        let new = match new_index[old] {
            Some(new) => new,
            None => {
                let mut label: Label = labels.table[old]
                    .iter()
                    .copied()
                    .filter(|q| !users.contains(q))
                    .collect();
                // The last walk went down from `primary`: it marked its dependencies.
                if !label.iter().any(|&q| walk.reached(q)) {
                    label.push(primary);
                    label.sort_unstable();
                }
                let new = labels.intern(label);
                new_index[old] = Some(new);
                new
            }
        };
        changes.push((dependency, new));
    }
    changes
}

/// Groups paths by label into layers ordered by the size of their closure (a layer comes
/// after the layers it depends on), ties by their paths.
fn layers(
    graph: &Graph,
    walk: &mut Walk,
    labels: &BTreeMap<usize, &Label>,
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
    for (&path, &label) in labels {
        groups.entry(label).or_default().push(path);
    }
    let mut layers: Vec<(u64, PlannedLayer)> = groups
        .into_iter()
        .map(|(label, members)| {
            let reasons = members
                .iter()
                .map(|&p| (p, reason(graph, p, label, &rank, &name, stopped_at, budget)))
                .collect();
            let closure_size = walk.closure_size(members.iter().copied());
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

/// The straightforward `auto`, as it was written first: whole label sets per path,
/// recounted for every candidate. Slow (each candidate walks and copies whole closures)
/// but plainly the definition; the property below holds [`plan`] to it.
#[cfg(test)]
mod oracle {
    use super::*;
    use crate::layering::test_graphs::numbered;
    use proptest::prelude::*;

    type Set = BTreeSet<usize>;

    fn plan_slowly(graph: &Graph, paths: &Set, budget: usize) -> Vec<PlannedLayer> {
        let mut labels: BTreeMap<usize, Set> = paths.iter().map(|&p| (p, Set::new())).collect();
        let mut label_counts: HashMap<Set, usize> = HashMap::from([(Set::new(), paths.len())]);
        let mut primaries = Vec::new();
        let mut stopped_at = None;
        for candidate in by_size_descending(graph, paths) {
            let within = |set: Set| -> Set {
                set.intersection(paths)
                    .copied()
                    .filter(|&p| p != candidate)
                    .collect()
            };
            let dependencies = within(graph.closure([candidate]));
            let users = within(graph.referrer_closure([candidate]));
            let mut changes = vec![(candidate, Set::from([candidate]))];
            for &dependency in &dependencies {
                let mut label: Set = labels[&dependency].difference(&users).copied().collect();
                if label.is_disjoint(&dependencies) {
                    label.insert(candidate);
                }
                changes.push((dependency, label));
            }
            let mut counts = label_counts.clone();
            for (path, label) in &changes {
                let old = &labels[path];
                if let Some(n) = counts.get_mut(old) {
                    *n -= 1;
                    if *n == 0 {
                        counts.remove(old);
                    }
                }
                *counts.entry(label.clone()).or_default() += 1;
            }
            if counts.len() > budget {
                stopped_at = Some(candidate);
                break;
            }
            label_counts = counts;
            labels.extend(changes);
            primaries.push(candidate);
        }
        let rank: HashMap<usize, usize> = primaries
            .iter()
            .enumerate()
            .map(|(i, &p)| (p, i + 1))
            .collect();
        let name = |p: usize| graph.nodes()[p].path.name().to_owned();
        let mut groups: BTreeMap<&Set, Vec<usize>> = BTreeMap::new();
        for (&path, label) in &labels {
            groups.entry(label).or_default().push(path);
        }
        let mut layers: Vec<(u64, PlannedLayer)> = groups
            .into_iter()
            .map(|(label, members)| {
                let label: Label = label.iter().copied().collect();
                let reasons = members
                    .iter()
                    .map(|&p| {
                        (
                            p,
                            reason(graph, p, &label, &rank, &name, stopped_at, budget),
                        )
                    })
                    .collect();
                let closure_size: u64 = graph
                    .closure(members.iter().copied())
                    .intersection(paths)
                    .map(|&p| graph.nodes()[p].nar_size)
                    .sum();
                let layer = PlannedLayer {
                    paths: members,
                    reasons,
                };
                (closure_size, layer)
            })
            .collect();
        layers.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.paths.cmp(&b.1.paths)));
        layers.into_iter().map(|(_, layer)| layer).collect()
    }

    /// A DAG of up to 90 nodes (each referring to up to 5 later ones), sizes with many
    /// ties and a few large paths, a budget, and which nodes to leave out (walks still go
    /// through them).
    fn case() -> impl Strategy<Value = (Vec<Vec<usize>>, Vec<u64>, usize, Vec<bool>)> {
        (1usize..90).prop_flat_map(|n| {
            let references = (0..n)
                .map(|i| {
                    prop::collection::vec(i + 1..n.max(i + 2), 0..6).prop_map(move |mut refs| {
                        refs.retain(|&r| r < n);
                        refs.sort_unstable();
                        refs.dedup();
                        refs
                    })
                })
                .collect::<Vec<_>>();
            let sizes = prop::collection::vec(prop_oneof![0u64..4, 100u64..104], n);
            let excluded = prop::collection::vec(prop::bool::weighted(0.15), n);
            (references, sizes, 1usize..30, excluded)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// Same layers, same order, same reasons.
        #[test]
        fn plan_is_the_straightforward_plan((references, sizes, budget, excluded) in case()) {
            let graph = numbered(&references, &sizes);
            let paths: Set = (0..references.len()).filter(|&i| !excluded[i]).collect();
            prop_assert_eq!(plan(&graph, &paths, budget), plan_slowly(&graph, &paths, budget));
        }
    }
}
