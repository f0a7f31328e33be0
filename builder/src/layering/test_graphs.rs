//! Hand-made graphs for the layering algorithms' tests, and a rendering of plans that
//! reads well in assertions and snapshots.

use super::PlannedLayer;
use crate::graph::{Graph, GraphEntry};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// `/nix/store/<32 × hash>-<name>`; `hash` must be a nixbase32 character.
pub fn store_path(hash: char, name: &str) -> PathBuf {
    PathBuf::from(format!("/nix/store/{}-{name}", hash.to_string().repeat(32)))
}

/// A graph from `(hash char, name, size, references by hash char)`.
pub fn graph(spec: &[(char, &str, u64, &str)]) -> Graph {
    let by_char: HashMap<char, PathBuf> = spec
        .iter()
        .map(|(c, n, _, _)| (*c, store_path(*c, n)))
        .collect();
    let entries = spec
        .iter()
        .map(|(c, _, size, refs)| GraphEntry {
            path: by_char[c].clone(),
            references: refs.chars().map(|r| by_char[&r].clone()).collect(),
            nar_size: Some(*size),
            nar_hash: None,
        })
        .collect();
    Graph::from_entries(entries, Path::new("/nix/store"), Path::new("graph")).unwrap()
}

/// Every node of `g`.
pub fn all(g: &Graph) -> BTreeSet<usize> {
    (0..g.nodes().len()).collect()
}

/// One line per layer, bottom first: the names of its paths.
pub fn render(g: &Graph, layers: &[PlannedLayer]) -> String {
    layers
        .iter()
        .map(|l| {
            l.paths
                .iter()
                .map(|&p| g.nodes()[p].path.name())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A graph where node `i` (of `references.len()`) refers to `references[i]` and has size
/// `sizes[i]`. Store paths are scrambled so that their order differs from `i`'s.
pub fn numbered(references: &[Vec<usize>], sizes: &[u64]) -> Graph {
    const NIXBASE32: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";
    let path = |i: usize| {
        let mut n = (i * 7919 + 13) % (1 << 20);
        let hash: String = (0..32)
            .map(|_| {
                let c = NIXBASE32[n % 32] as char;
                n /= 32;
                c
            })
            .collect();
        PathBuf::from(format!("/nix/store/{hash}-p{}", i % 5))
    };
    let entries = references
        .iter()
        .zip(sizes)
        .enumerate()
        .map(|(i, (refs, &size))| GraphEntry {
            path: path(i),
            references: refs.iter().map(|&r| path(r)).collect(),
            nar_size: Some(size),
            nar_hash: None,
        })
        .collect();
    Graph::from_entries(entries, Path::new("/nix/store"), Path::new("graph")).unwrap()
}
