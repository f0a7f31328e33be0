//! Archive order, one directory at a time. Members are sorted by the bytes of their whole
//! names, which is not the order of a depth-first walk: `a-c` sorts between `a` and `a/b`
//! because `-` < `/`. Sorting each directory's children is enough if every subdirectory
//! appears twice: its own member at its name, and everything below it at its name plus
//! `/`. No child's name holds a `/`, so no sibling falls inside that subtree's range of
//! names, and the subtree can be walked in place.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

/// A child of a directory, as its listing describes it.
pub(super) struct Child {
    pub(super) name: OsString,
    /// Whether the listing says it is a directory (symlinks not followed).
    pub(super) is_dir: bool,
}

/// One step of a directory's walk: a child's own member, or the members below a child
/// directory.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Step {
    /// The child's name, followed by `/` for the members below it: the sort key.
    key: Vec<u8>,
    pub(super) below: bool,
}

impl Step {
    /// The child's name.
    pub(super) fn name(&self) -> &OsStr {
        let len = self.key.len() - usize::from(self.below);
        OsStr::from_bytes(&self.key[..len])
    }
}

/// The steps that walk `children` in archive order. A child listed twice (a store path
/// given twice) is walked once.
pub(super) fn archive_order(children: Vec<Child>) -> Vec<Step> {
    let mut steps = Vec::with_capacity(children.len());
    for child in children {
        let key = child.name.into_vec();
        if child.is_dir {
            let mut below = Vec::with_capacity(key.len() + 1);
            below.extend_from_slice(&key);
            below.push(b'/');
            steps.push(Step {
                key: below,
                below: true,
            });
        }
        steps.push(Step { key, below: false });
    }
    steps.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    steps.dedup();
    steps
}

/// The children of the directory `dir`, unsorted. Only names and kinds are kept: a
/// directory's listing is all the walk holds of it.
pub(super) fn list(dir: &Path) -> io::Result<Vec<Child>> {
    fs::read_dir(dir)?
        .map(|child| {
            let child = child?;
            Ok(Child {
                is_dir: child.file_type()?.is_dir(),
                name: child.file_name(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// The full member names the steps of `tree` give, walking subtrees in place.
    fn walk(tree: &Node, prefix: &[u8], out: &mut Vec<Vec<u8>>) {
        let Node::Dir(children) = tree else { return };
        let listed = children
            .iter()
            .map(|(name, node)| Child {
                name: OsString::from_vec(name.clone()),
                is_dir: matches!(node, Node::Dir(_)),
            })
            .collect();
        for step in archive_order(listed) {
            let name = step.name().as_bytes();
            let mut full = prefix.to_vec();
            if !full.is_empty() {
                full.push(b'/');
            }
            full.extend_from_slice(name);
            if step.below {
                walk(&children[&name.to_vec()], &full, out);
            } else {
                out.push(full);
            }
        }
    }

    /// Every member name of `tree`, collected in any order.
    fn names(tree: &Node, prefix: &[u8], out: &mut BTreeSet<Vec<u8>>) {
        let Node::Dir(children) = tree else { return };
        for (name, node) in children {
            let mut full = prefix.to_vec();
            if !full.is_empty() {
                full.push(b'/');
            }
            full.extend_from_slice(name);
            out.insert(full.clone());
            names(node, &full, out);
        }
    }

    #[derive(Debug, Clone)]
    enum Node {
        File,
        Dir(std::collections::BTreeMap<Vec<u8>, Node>),
    }

    /// Trees whose names mix bytes just below and above `/` (`-`, `.`, `0`) with `a`, so
    /// that names like `a`, `a-`, `a.b`, `a0` collide with `a/…` in every way.
    fn tree() -> impl Strategy<Value = Node> {
        let name = proptest::collection::vec(
            prop_oneof![Just(b'a'), Just(b'-'), Just(b'.'), Just(b'0'), Just(0x80u8)],
            1..4,
        );
        let leaf = Just(Node::File);
        leaf.prop_recursive(5, 200, 6, move |inner| {
            proptest::collection::btree_map(name.clone(), inner, 0..6).prop_map(Node::Dir)
        })
        .prop_map(|node| match node {
            Node::File => Node::Dir(Default::default()),
            dir => dir,
        })
    }

    proptest! {
        #[test]
        fn walking_in_place_gives_the_order_of_sorted_names(tree in tree()) {
            let mut walked = Vec::new();
            walk(&tree, b"", &mut walked);
            let mut all = BTreeSet::new();
            names(&tree, b"", &mut all);
            let sorted: Vec<Vec<u8>> = all.into_iter().collect();
            prop_assert_eq!(walked, sorted);
        }
    }

    #[test]
    fn a_directory_and_its_contents_surround_the_names_that_sort_between() {
        let children = ["a", "a-c", "a.d", "b"]
            .iter()
            .map(|name| Child {
                name: (*name).into(),
                is_dir: *name == "a",
            })
            .collect();
        let order: Vec<(String, bool)> = archive_order(children)
            .iter()
            .map(|s| (s.name().to_string_lossy().into_owned(), s.below))
            .collect();
        let expected = [
            ("a", false),
            ("a-c", false),
            ("a.d", false),
            ("a", true),
            ("b", false),
        ];
        let expected: Vec<(String, bool)> =
            expected.iter().map(|(n, b)| (n.to_string(), *b)).collect();
        assert_eq!(order, expected);
    }
}
