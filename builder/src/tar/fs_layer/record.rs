//! What the planning pass remembers of a layer's members, so that the writing pass can
//! tell which one changed in between: per member, in archive order, its kind, its content
//! size and one byte of its name's hash. That is two to four bytes a member (a few MiB
//! for a million files), where keeping the members themselves took hundreds of bytes each.

use crate::error::{Error, Result};
use crate::tar::fs_layer::Entry;
use crate::tar::Kind;
use std::path::Path;

/// The members of a layer as planned, packed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Record(Vec<u8>);

impl Record {
    /// Appends `entry`: its kind and size as one LEB128 number, then its name's hash byte.
    pub(super) fn push(&mut self, entry: &Entry) {
        let mut value = (entry.size << 2) | kind_tag(&entry.kind);
        while value >= 0x80 {
            self.0.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
        self.0.push(name_hash(&entry.name));
    }

    /// Appends the members of `other`, which come after this one's.
    pub(super) fn append(&mut self, mut other: Record) {
        self.0.append(&mut other.0);
    }

    /// A reader from the first member on.
    pub(super) fn reader(&self) -> RecordReader<'_> {
        RecordReader(&self.0)
    }
}

/// Reads a [`Record`] back while the layer is written, one member at a time.
pub(super) struct RecordReader<'a>(&'a [u8]);

impl RecordReader<'_> {
    /// Checks that `entry` (found at `path`) is the next member planned: the same name
    /// (as far as one byte of hash tells), kind and size.
    pub(super) fn check(&mut self, entry: &Entry, path: &Path) -> Result<()> {
        let Some((value, hash)) = self.next() else {
            return Err(listing_changed(path));
        };
        if hash != name_hash(&entry.name) {
            return Err(listing_changed(path));
        }
        if value != (entry.size << 2) | kind_tag(&entry.kind) {
            return Err(changed_from(path, &planned(value)));
        }
        Ok(())
    }

    /// Checks that no planned member is left once the walk has ended; `root` is what the
    /// layer holds, named in the error.
    pub(super) fn finish(&self, root: &Path) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::input(
                root,
                format!("changed while being read (planned members are gone){DO_NOT_CHANGE}"),
            ))
        }
    }

    /// The next member's packed kind and size, and its name's hash byte.
    fn next(&mut self) -> Option<(u64, u8)> {
        let mut value = 0u64;
        for (i, &byte) in self.0.iter().enumerate() {
            let shift = 7 * i as u32;
            if shift >= 64 {
                return None; // not a record this module wrote
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                let hash = *self.0.get(i + 1)?;
                self.0 = &self.0[i + 2..];
                return Some((value, hash));
            }
        }
        None
    }
}

/// What every error about a change ends with.
const DO_NOT_CHANGE: &str = "; store paths must not change during a build";

/// The error for a file that is not what was planned: its size, type or identity
/// changed after planning (the layer's size would be wrong, or its bytes foreign).
pub(super) fn changed(path: &Path, size: u64) -> Error {
    changed_from(path, &format!("{size} bytes"))
}

/// The error for a member whose header no longer fits the plan (a symlink given a
/// longer target), found when the layer would outgrow its planned size.
pub(super) fn outgrown(path: &Path) -> Error {
    changed_from(path, "a smaller layer")
}

/// The error for a layer whose members came to `found` bytes instead of the `planned`
/// ones, at the end; `root` is what the layer holds.
pub(super) fn resized(root: &Path, planned: u64, found: u64) -> Error {
    changed_from(root, &format!("{planned} bytes of members, found {found}"))
}

/// The error for `path`, which changed from what was `planned`.
fn changed_from(path: &Path, planned: &str) -> Error {
    Error::input(
        path,
        format!("changed while being read (planned {planned}){DO_NOT_CHANGE}"),
    )
}

/// What a packed kind and size describes, for an error.
fn planned(value: u64) -> String {
    match value & 3 {
        0 => format!("{} bytes", value >> 2),
        1 => "a directory".to_owned(),
        _ => "a symlink".to_owned(),
    }
}

/// The error for a member that was not planned, or one planned that is gone: the
/// directory holding `path` was listed differently by the two passes.
fn listing_changed(path: &Path) -> Error {
    let dir = path.parent().unwrap_or(path);
    Error::input(
        dir,
        format!("changed while being read (its entries differ from the plan){DO_NOT_CHANGE}"),
    )
}

/// The two bits that tell the kinds apart.
fn kind_tag(kind: &Kind) -> u64 {
    match kind {
        Kind::File => 0,
        Kind::Directory => 1,
        Kind::Symlink(_) => 2,
    }
}

/// One byte of FNV-1a over the name: enough to notice, in most cases, that the walk is
/// no longer at the member planned.
fn name_hash(name: &[u8]) -> u8 {
    let hash = name.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (hash ^ (hash >> 32) ^ (hash >> 16) ^ (hash >> 8)) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, kind: Kind, size: u64) -> Entry {
        Entry {
            name: name.as_bytes().to_vec(),
            kind,
            mode: 0o644,
            size,
            owner: None,
            identity: (0, 0),
        }
    }

    #[test]
    fn members_read_back_as_written() {
        let members = [
            entry("a", Kind::Directory, 0),
            entry("a/big", Kind::File, u64::MAX >> 2),
            entry("a/link", Kind::Symlink(b"big".to_vec()), 0),
        ];
        let mut record = Record::default();
        members.iter().for_each(|m| record.push(m));
        let mut reader = record.reader();
        for m in &members {
            reader.check(m, Path::new("/x")).unwrap();
        }
        reader.finish(Path::new("/x")).unwrap();
    }

    #[test]
    fn a_change_names_the_member_or_its_directory() {
        let mut record = Record::default();
        record.push(&entry("d/f", Kind::File, 7));
        let check = |e: &Entry| record.reader().check(e, Path::new("/s/d/f")).unwrap_err();
        assert_eq!(
            check(&entry("d/f", Kind::File, 8)).to_string(),
            "/s/d/f: changed while being read (planned 7 bytes); store paths must not change during a build"
        );
        assert!(check(&entry("d/f", Kind::Directory, 0))
            .to_string()
            .starts_with("/s/d/f: changed while being read (planned 7 bytes)"));
        let mut dir = Record::default();
        dir.push(&entry("d", Kind::Directory, 0));
        let err = dir.reader().check(
            &entry("d", Kind::Symlink(b"x".to_vec()), 0),
            Path::new("/s/d"),
        );
        assert!(err
            .unwrap_err()
            .to_string()
            .starts_with("/s/d: changed while being read (planned a directory)"));
        let other = (0..)
            .map(|i| format!("d/g{i}"))
            .find(|n| name_hash(n.as_bytes()) != name_hash(b"d/f"));
        assert_eq!(
            check(&entry(&other.unwrap(), Kind::File, 7)).to_string(),
            "/s/d: changed while being read (its entries differ from the plan); store paths must not change during a build"
        );
        let mut reader = record.reader();
        assert!(reader
            .check(&entry("d/f", Kind::File, 7), Path::new("/s/d/f"))
            .is_ok());
        assert!(reader
            .check(&entry("d/g", Kind::File, 7), Path::new("/s/d/g"))
            .is_err());
        assert!(record.reader().finish(Path::new("/s")).is_err());
    }
}
