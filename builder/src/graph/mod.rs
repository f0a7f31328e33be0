//! Closure graphs as `exportReferencesGraph` writes them, in both forms: the JSON array of
//! `__structuredAttrs` derivations (`{path, references, narSize, …}`) and the legacy text
//! file (`path`, `deriver`, reference count, references…, repeated).
//!
//! Nodes are kept sorted by path, so every algorithm that walks them in index order is
//! deterministic whatever order the input had.

pub mod legacy;
pub mod store_path;

use crate::error::{Error, Result};
use crate::graph::store_path::StorePath;
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// One entry of a JSON graph. Fields other than these (closureSize, deriver, …) are ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct GraphEntry {
    pub path: PathBuf,
    #[serde(default)]
    pub references: Vec<PathBuf>,
    /// The path's NAR size; the legacy text form has none (see [`Graph::fill_missing_sizes`]).
    #[serde(default, rename = "narSize")]
    pub nar_size: Option<u64>,
    /// The path's NAR hash as Nix prints it (`sha256:<nixbase32>`); only `includeNixDB`
    /// needs it, and the legacy text form has none.
    #[serde(default, rename = "narHash")]
    pub nar_hash: Option<String>,
}

/// A store path in the graph.
#[derive(Debug, Clone)]
pub struct Node {
    pub path: StorePath,
    /// Indices of the paths this one refers to, sorted, without itself.
    pub references: Vec<usize>,
    /// Indices of the paths that refer to this one, sorted, without itself.
    pub referrers: Vec<usize>,
    /// Bytes the path takes (NAR size); 0 when unknown.
    pub nar_size: u64,
    /// The NAR hash as the input gave it, if it did (see [`GraphEntry::nar_hash`]).
    pub nar_hash: Option<String>,
    /// Whether the path refers to itself. Kept apart from `references` (which graph
    /// algorithms walk) for the Nix database, which records self-references.
    pub refers_to_self: bool,
}

/// A closed, acyclic reference graph of store paths.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Sorted by path, which [`Graph::index_of`] searches.
    nodes: Vec<Node>,
}

impl Graph {
    /// Builds a graph from entries, merging repeated paths (several graphs of one
    /// derivation list shared paths once each). `source` names the input in errors.
    ///
    /// Paths are compared as [`Path`]s (component by component), so two spellings of one
    /// path are one node, spelt as its first entry spells it.
    pub fn from_entries(
        entries: Vec<GraphEntry>,
        store_dir: &Path,
        source: &Path,
    ) -> Result<Graph> {
        let bad = |message: String| Error::conf(source, message);
        let order = sorted_order(&entries, store_dir);
        let groups: Vec<&[usize]> = order
            .chunk_by(|&a, &b| entries[a].path == entries[b].path)
            .collect();
        let index: HashMap<&Path, usize> = groups
            .iter()
            .enumerate()
            .map(|(i, group)| (entries[group[0]].path.as_path(), i))
            .collect();
        let mut nodes = Vec::with_capacity(groups.len());
        // In path order, so the error reported is the first path's, as ever.
        for (i, group) in groups.iter().enumerate() {
            let path = &entries[group[0]].path;
            let store_path = StorePath::parse(path, store_dir)
                .map_err(|m| bad(format!("{}: {m}", path.display())))?;
            let mut references = resolve_references(&entries, group, &index).map_err(|missing| {
                bad(format!(
                    "{} refers to {}, which is not in the graph; pass the whole closure (exportReferencesGraph does)",
                    path.display(),
                    missing.display()
                ))
            })?;
            let refers_to_self = references.contains(&i);
            references.retain(|&r| r != i);
            let group_entries = || group.iter().map(|&e| &entries[e]);
            nodes.push(Node {
                path: store_path,
                references,
                referrers: Vec::new(),
                refers_to_self,
                nar_size: group_entries().find_map(|e| e.nar_size).unwrap_or(0),
                nar_hash: group_entries().find_map(|e| e.nar_hash.clone()),
            });
        }
        fill_referrers(&mut nodes);
        let graph = Graph { nodes };
        graph.check_acyclic().map_err(bad)?;
        Ok(graph)
    }

    /// Parses the JSON form: an array of entries.
    pub fn parse_json(text: &[u8], store_dir: &Path, source: &Path) -> Result<Graph> {
        let entries: Vec<GraphEntry> = serde_json::from_slice(text)
            .map_err(|e| Error::conf(source, format!("not a references graph: {e}")))?;
        Graph::from_entries(entries, store_dir, source)
    }

    /// Parses the legacy text form of `exportReferencesGraph`.
    pub fn parse_legacy(text: &str, store_dir: &Path, source: &Path) -> Result<Graph> {
        Graph::from_entries(
            legacy::parse_entries(text).map_err(|m| Error::conf(source, m))?,
            store_dir,
            source,
        )
    }

    /// All nodes, sorted by path.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The node of `path`, if it is in the graph.
    pub fn index_of(&self, path: &Path) -> Option<usize> {
        self.nodes
            .binary_search_by(|n| n.path.as_path().cmp(path))
            .ok()
    }

    /// The total NAR size of `paths`. Saturating: sizes only rank and describe layers,
    /// and only a made-up graph has sizes that add up past 2^64.
    pub fn size_of(&self, paths: impl IntoIterator<Item = usize>) -> u64 {
        paths
            .into_iter()
            .fold(0, |sum, p| sum.saturating_add(self.nodes[p].nar_size))
    }

    /// `roots` and everything they refer to, directly or not.
    pub fn closure(&self, roots: impl IntoIterator<Item = usize>) -> BTreeSet<usize> {
        self.reachable(roots, |n| &n.references)
    }

    /// `roots` and everything that refers to them, directly or not.
    pub fn referrer_closure(&self, roots: impl IntoIterator<Item = usize>) -> BTreeSet<usize> {
        self.reachable(roots, |n| &n.referrers)
    }

    /// Sizes the paths whose size the input did not give (the legacy text form) from the
    /// files on disk, so size-driven layering still works.
    pub fn fill_missing_sizes(&mut self) {
        for node in self.nodes.iter_mut().filter(|n| n.nar_size == 0) {
            node.nar_size = disk_size(node.path.as_path());
        }
    }

    /// Everything reachable from `roots` by following `edges`.
    fn reachable(
        &self,
        roots: impl IntoIterator<Item = usize>,
        edges: impl Fn(&Node) -> &Vec<usize>,
    ) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<usize> = roots.into_iter().collect();
        while let Some(i) = todo.pop() {
            if seen.insert(i) {
                todo.extend(
                    edges(&self.nodes[i])
                        .iter()
                        .copied()
                        .filter(|j| !seen.contains(j)),
                );
            }
        }
        seen
    }

    /// Store paths cannot refer to each other in a cycle (Nix refuses to build that), so a
    /// cycle means the graph was made up or corrupted.
    fn check_acyclic(&self) -> Result<(), String> {
        // Kahn's algorithm: whatever cannot be peeled off from the leaves lies on a cycle.
        let mut pending: Vec<usize> = self.nodes.iter().map(|n| n.references.len()).collect();
        let mut ready: Vec<usize> = (0..self.nodes.len()).filter(|&i| pending[i] == 0).collect();
        let mut done = 0;
        while let Some(i) = ready.pop() {
            done += 1;
            for &r in &self.nodes[i].referrers {
                pending[r] -= 1;
                if pending[r] == 0 {
                    ready.push(r);
                }
            }
        }
        if done == self.nodes.len() {
            return Ok(());
        }
        let on_cycle = (0..self.nodes.len())
            .find(|&i| pending[i] > 0)
            .map(|i| self.nodes[i].path.to_string());
        Err(format!(
            "the references form a cycle through {}; store paths cannot refer to each other in a cycle",
            on_cycle.unwrap_or_default()
        ))
    }
}

/// The entries' indices sorted by path, then input order: equal paths end up together,
/// led by the first entry, which gives the node its spelling.
fn sorted_order(entries: &[GraphEntry], store_dir: &Path) -> Vec<usize> {
    let bases: Option<Vec<&[u8]>> = entries
        .iter()
        .map(|e| base_name(&e.path, store_dir))
        .collect();
    let Some(bases) = bases else {
        // Some path is not plainly in the store (an error to come, or an odd spelling):
        // compare them as paths.
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_unstable_by(|&a, &b| entries[a].path.cmp(&entries[b].path).then(a.cmp(&b)));
        return order;
    };
    // Paths `<store_dir>/<base>` compare as their bases' bytes do. Comparing the bases'
    // first 16 bytes, packed beside each index, settles nearly every comparison without
    // reading the paths, which lie all over memory: that reading was most of the time.
    let prefix = |base: &[u8]| {
        let mut bytes = [0u8; 16];
        let n = base.len().min(16);
        bytes[..n].copy_from_slice(&base[..n]);
        u128::from_be_bytes(bytes)
    };
    let mut keyed: Vec<(u128, usize)> = bases.iter().map(|&b| prefix(b)).zip(0..).collect();
    keyed.sort_unstable_by(|&(pa, a), &(pb, b)| {
        pa.cmp(&pb)
            .then_with(|| bases[a].cmp(bases[b]))
            .then(a.cmp(&b))
    });
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// The base name of `path` if it is spelt `<store_dir>/<base>` with `base` a single
/// component: then its components are the store's and `base`, whatever `base` is.
fn base_name<'a>(path: &'a Path, store_dir: &Path) -> Option<&'a [u8]> {
    let base = path
        .as_os_str()
        .as_encoded_bytes()
        .strip_prefix(store_dir.as_os_str().as_encoded_bytes())?
        .strip_prefix(b"/")?;
    let single = !base.is_empty() && base != b"." && base != b".." && !base.contains(&b'/');
    single.then_some(base)
}

/// The nodes the entries of `group` refer to, sorted and without repeats; or, when some
/// are not in the graph, the first of those in path order (spelt as first given).
fn resolve_references<'a>(
    entries: &'a [GraphEntry],
    group: &[usize],
    index: &HashMap<&Path, usize>,
) -> Result<Vec<usize>, &'a PathBuf> {
    let references = || group.iter().flat_map(|&e| &entries[e].references);
    let mut resolved = Vec::with_capacity(group.iter().map(|&e| entries[e].references.len()).sum());
    for reference in references() {
        match index.get(reference.as_path()) {
            Some(&i) => resolved.push(i),
            None => {
                let missing = references().filter(|r| !index.contains_key(r.as_path()));
                // `min` keeps the first of equal paths.
                return Err(missing.min().unwrap_or(reference));
            }
        }
    }
    resolved.sort_unstable();
    resolved.dedup();
    Ok(resolved)
}

/// Fills each node's `referrers` from the others' `references`, sorted since nodes are
/// visited in order, and sized exactly.
fn fill_referrers(nodes: &mut [Node]) {
    let mut counts = vec![0usize; nodes.len()];
    for node in nodes.iter() {
        for &r in &node.references {
            counts[r] += 1;
        }
    }
    for (node, count) in nodes.iter_mut().zip(counts) {
        node.referrers = Vec::with_capacity(count);
    }
    for i in 0..nodes.len() {
        for k in 0..nodes[i].references.len() {
            let r = nodes[i].references[k];
            nodes[r].referrers.push(i);
        }
    }
}

/// The bytes of the regular files under `path` (an estimate of its NAR size); 0 if it
/// cannot be read.
fn disk_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| disk_size(&e.path()))
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORE: &str = "/nix/store";

    /// A store path for tests: `/nix/store/<32 × c>-<name>`.
    pub fn sp(c: char, name: &str) -> PathBuf {
        PathBuf::from(format!("{STORE}/{}-{name}", c.to_string().repeat(32)))
    }

    fn entry(path: &Path, refs: &[&PathBuf], size: u64) -> GraphEntry {
        GraphEntry {
            path: path.to_owned(),
            references: refs.iter().map(|r| (*r).clone()).collect(),
            nar_size: Some(size),
            nar_hash: None,
        }
    }

    fn graph(entries: Vec<GraphEntry>) -> Result<Graph> {
        Graph::from_entries(entries, Path::new(STORE), Path::new("graph"))
    }

    #[test]
    fn closure_follows_references_and_ignores_self_references() {
        let (a, b, c, d) = (
            sp('a', "app"),
            sp('b', "lib"),
            sp('c', "libc"),
            sp('d', "other"),
        );
        let g = graph(vec![
            entry(&a, &[&a, &b], 1),
            entry(&b, &[&c], 2),
            entry(&c, &[], 3),
            entry(&d, &[&c], 4),
        ])
        .unwrap();
        let ia = g.index_of(&a).unwrap();
        let names: Vec<&str> = g
            .closure([ia])
            .iter()
            .map(|&i| g.nodes()[i].path.name())
            .collect();
        assert_eq!(names, ["app", "lib", "libc"]);
        let ic = g.index_of(&c).unwrap();
        assert_eq!(g.referrer_closure([ic]).len(), 4);
        assert!(g.nodes()[ia].references.iter().all(|&r| r != ia));
    }

    #[test]
    fn spellings_of_one_path_are_one_node_spelt_as_first_given() {
        let (a, b) = (sp('a', "app"), sp('b', "lib"));
        let odd_b = PathBuf::from(format!("{STORE}//{}", b.file_name().unwrap().display()));
        // Plain spellings only (sorted by bytes), then an odd one (sorted as paths).
        for (first_b, other_b) in [(&b, &b), (&odd_b, &b)] {
            let g = graph(vec![
                entry(&a, &[other_b], 1),
                entry(first_b, &[], 2),
                entry(&b, &[&odd_b], 3),
            ])
            .unwrap();
            assert_eq!(g.nodes().len(), 2);
            assert_eq!(g.nodes()[1].path.as_path(), first_b.as_path());
            assert_eq!(g.nodes()[0].references, [1]);
            assert!(g.nodes()[1].refers_to_self);
            assert_eq!(g.nodes()[1].nar_size, 2);
        }
    }

    #[test]
    fn legacy_text_and_json_give_the_same_graph() {
        let (a, b) = (sp('a', "app"), sp('b', "lib"));
        let text = format!(
            "{}\n\n2\n{}\n{}\n{}\n/nix/store/x.drv\n0\n",
            a.display(),
            a.display(),
            b.display(),
            b.display()
        );
        let legacy = Graph::parse_legacy(&text, Path::new(STORE), Path::new("graph")).unwrap();
        let json = graph(vec![entry(&b, &[], 0), entry(&a, &[&b], 0)]).unwrap();
        let shape = |g: &Graph| {
            g.nodes()
                .iter()
                .map(|n| (n.path.to_string(), n.references.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(shape(&legacy), shape(&json));
    }

    #[test]
    fn bad_graphs_are_refused_with_the_path_named() {
        let (a, b, c) = (sp('a', "app"), sp('b', "lib"), sp('c', "libc"));
        let unknown = graph(vec![entry(&a, &[&b], 1)]).unwrap_err().to_string();
        assert_eq!(
            unknown,
            format!(
                "graph: {} refers to {}, which is not in the graph; pass the whole closure (exportReferencesGraph does)",
                a.display(),
                b.display()
            )
        );
        let cycle = graph(vec![
            entry(&a, &[&b], 1),
            entry(&b, &[&c], 1),
            entry(&c, &[&a], 1),
        ])
        .unwrap_err()
        .to_string();
        assert_eq!(
            cycle,
            format!("graph: the references form a cycle through {}; store paths cannot refer to each other in a cycle", a.display())
        );
        let malformed = Graph::parse_legacy(
            &format!("{}\n\nmany\n", a.display()),
            Path::new(STORE),
            Path::new("graph"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            malformed,
            format!(
                "graph: line 3: expected a reference count for {}",
                a.display()
            )
        );
        let not_store = graph(vec![entry(&PathBuf::from("/tmp/x"), &[], 1)])
            .unwrap_err()
            .to_string();
        assert_eq!(
            not_store,
            "graph: /tmp/x: not a store path: expected /nix/store/<hash>-<name>"
        );
    }
}
