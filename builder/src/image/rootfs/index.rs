//! The root filesystem as an index: each path (normalized, relative to the root, the
//! root itself empty) to what is there and, for files, which layer holds the bytes.
//! Layers are applied to it in order, so that after the last one it holds exactly what
//! a container of the image sees; nothing is read or written but the index.
//!
//! The rules are the OCI image spec's and Docker's: a layer's whiteouts apply to the
//! layers below it only (so they are applied before its other entries); an entry
//! replaces what is at its path, and everything below it unless both are directories;
//! a missing parent directory is made (mode 0755, root, time 0), and an entry below a
//! symlink or a file is refused rather than written through it.

use std::collections::BTreeMap;

use super::layer::{Change, LayerRef};
use crate::error::{Error, Result};
use crate::image::blob::Blob;
use crate::tar::Owner;

/// Permission bits and owner of a member, as its layer's header gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// `mode & 0o7777`.
    pub mode: u32,
    pub owner: Owner,
}

impl Meta {
    /// A directory that no layer describes but one needs as a parent (or the root, when
    /// no layer has a `./` entry): what Docker makes for a missing parent, at time 0.
    fn implied_dir() -> Meta {
        Meta {
            mode: 0o755,
            owner: Owner::numeric_root(0),
        }
    }
}

/// Where a file's bytes are: `size` bytes at `offset` of the blob of layer `layer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Data {
    /// The layer's position, bottom first, from 0.
    pub layer: usize,
    pub offset: u64,
    pub size: u64,
}

impl Data {
    /// Copies the file's bytes from its layer among `layers` (those the index was made
    /// from) to `out`, named `target` in errors.
    pub fn write_to(
        &self,
        layers: &[Blob],
        buffer: &mut Vec<u8>,
        out: &mut impl std::io::Write,
        target: &str,
    ) -> Result<()> {
        let blob = layers.get(self.layer).ok_or_else(|| {
            Error::Internal(format!(
                "a file of layer {} of {}",
                self.layer,
                layers.len()
            ))
        })?;
        blob.write_range_to(self.offset, self.size, buffer, out, target)
    }
}

/// What is at a path of the root filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir(Meta),
    File(Meta, Data),
    /// A symlink and its target, verbatim.
    Symlink(Meta, Vec<u8>),
}

impl Node {
    /// The node's mode and owner.
    pub fn meta(&self) -> &Meta {
        match self {
            Node::Dir(meta) | Node::File(meta, _) | Node::Symlink(meta, _) => meta,
        }
    }

    /// What the node is, for error messages.
    fn describe(&self) -> &'static str {
        match self {
            Node::Dir(_) => "a directory",
            Node::File(..) => "a file",
            Node::Symlink(..) => "a symlink",
        }
    }
}

/// The root filesystem that the layers applied so far make, sorted by path bytes (so a
/// directory always comes before what it holds).
#[derive(Debug)]
pub struct RootIndex {
    nodes: BTreeMap<Vec<u8>, Node>,
}

impl Default for RootIndex {
    fn default() -> Self {
        RootIndex::new()
    }
}

impl RootIndex {
    /// An empty root directory.
    pub fn new() -> RootIndex {
        RootIndex {
            nodes: BTreeMap::from([(Vec::new(), Node::Dir(Meta::implied_dir()))]),
        }
    }

    /// Every path (the root first, as the empty path) with what is there, sorted.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Node)> {
        self.nodes
            .iter()
            .map(|(path, node)| (path.as_slice(), node))
    }

    /// Applies one layer's changes: its whiteouts first (they hide lower layers only),
    /// then its entries in the layer's order, so that of two entries with one name the
    /// later wins, as when a tar is unpacked.
    pub(super) fn apply(&mut self, layer: &LayerRef, changes: Vec<Change>) -> Result<()> {
        for change in &changes {
            match change {
                Change::Whiteout(path) => self.remove_tree(path),
                Change::Opaque(dir) => self.remove_children(dir),
                Change::Put(..) | Change::HardLink { .. } => {}
            }
        }
        for change in changes {
            let (path, node) = match change {
                Change::Put(path, node) => (path, Ok(node)),
                Change::HardLink { path, target } => {
                    let node = self.linked(&target);
                    (path, node)
                }
                Change::Whiteout(_) | Change::Opaque(_) => continue,
            };
            node.and_then(|node| self.put(&path, node))
                .map_err(|message| layer.fail(&path, message))?;
        }
        Ok(())
    }

    /// Puts `node` at `path`, replacing what was there.
    fn put(&mut self, path: &[u8], node: Node) -> Result<(), String> {
        if path.is_empty() && !matches!(node, Node::Dir(_)) {
            return Err(format!(
                "makes the root {}; it must be a directory",
                node.describe()
            ));
        }
        self.make_parents(path)?;
        let both_dirs = matches!(
            (self.nodes.get(path), &node),
            (Some(Node::Dir(_)), Node::Dir(_))
        );
        if !both_dirs {
            self.remove_tree(path);
        }
        self.nodes.insert(path.to_vec(), node);
        Ok(())
    }

    /// Makes the missing parent directories of `path`; refuses a parent that is not a
    /// directory, since writing through a symlink could land anywhere.
    fn make_parents(&mut self, path: &[u8]) -> Result<(), String> {
        let slashes = path.iter().enumerate().filter(|(_, &b)| b == b'/');
        for (end, _) in slashes {
            let parent = &path[..end];
            match self.nodes.get(parent) {
                Some(Node::Dir(_)) => {}
                Some(other) => {
                    return Err(format!(
                        "lies below {}, which is {} here; refusing to write through it",
                        String::from_utf8_lossy(parent),
                        other.describe()
                    ))
                }
                None => {
                    self.nodes
                        .insert(parent.to_vec(), Node::Dir(Meta::implied_dir()));
                }
            }
        }
        Ok(())
    }

    /// What a hard link to `target` is: the same file (or symlink) as `target` is now.
    /// It becomes a member of its own in the result, as GNU tar's `--hard-dereference`
    /// writes it.
    fn linked(&self, target: &[u8]) -> Result<Node, String> {
        let name = String::from_utf8_lossy(target);
        match self.nodes.get(target) {
            Some(Node::Dir(_)) => Err(format!("is a hard link to {name}, a directory")),
            Some(node) => Ok(node.clone()),
            None => Err(format!(
                "is a hard link to {name}, which no layer up to this one holds"
            )),
        }
    }

    /// Removes `path` and everything below it (the root itself stays).
    fn remove_tree(&mut self, path: &[u8]) {
        if !path.is_empty() {
            self.nodes.remove(path);
        }
        self.remove_children(path);
    }

    /// Removes everything below the directory `dir`, keeping `dir` itself. The paths
    /// below `a` are those from `a/` up to, not including, `a0` (`'0'` follows `'/'`).
    fn remove_children(&mut self, dir: &[u8]) {
        if dir.is_empty() {
            self.nodes.retain(|path, _| path.is_empty());
            return;
        }
        let bound = |last: u8| [dir, &[last]].concat();
        let mut below = self.nodes.split_off(bound(b'/').as_slice());
        let mut after = below.split_off(bound(b'/' + 1).as_slice());
        self.nodes.append(&mut after);
    }
}
