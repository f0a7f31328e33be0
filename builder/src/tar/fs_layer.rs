//! Layers made of files on disk (store paths, or the tree of the customisation layer):
//! plan the members from file metadata (so the layer's size is known before any content is
//! read), then write them in one pass.
//!
//! The output depends only on the files' contents: members are sorted by name bytes, time
//! stamps and owners are given, and hard links (which `nix-store --optimise` creates
//! between identical files) are written as ordinary files.

use crate::error::{Error, Result};
use crate::graph::store_path::StorePath;
use crate::tar::copy::{copy_exact, CopyError};
use crate::tar::tree_reader::TreeReader;
use crate::tar::{self, Header, Kind, Owner};
use rayon::prelude::*;
use std::ffi::OsStr;
use std::fs::{self, File, Metadata};
use std::io::{Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// One member of a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Member name: the path relative to the layer's root.
    pub name: Vec<u8>,
    pub kind: Kind,
    pub mode: u32,
    /// Content size of regular files, 0 otherwise.
    pub size: u64,
    /// An owner other than the layer's (set by fakeRootCommands or `perms`).
    pub owner: Option<Box<Owner>>,
    /// Device and inode of a regular file when planned: what is opened for reading must
    /// be that same file.
    pub identity: (u64, u64),
}

impl Entry {
    /// Gives the entry its own owner, starting from the one it has (or the layer's
    /// `base`), changed by `change`: how fakeRootCommands' journal and `perms` both set
    /// owners.
    pub fn override_owner(&mut self, base: &Owner, change: impl FnOnce(&mut Owner)) {
        let mut owner = self
            .owner
            .as_deref()
            .cloned()
            .unwrap_or_else(|| base.clone());
        change(&mut owner);
        self.owner = Some(Box::new(owner));
    }
}

/// A planned layer of files: its members in archive order and its exact tar size.
#[derive(Debug, Clone)]
pub struct FsLayer {
    /// What the layer holds, for the image history: store paths, or the tree's root.
    pub paths: Vec<PathBuf>,
    /// The directory member names are relative to (`/` for store paths).
    pub root: PathBuf,
    /// The directory whose own path is trusted when reading (the store directory, or the
    /// tree's root); below it no symlink is followed.
    pub trusted: PathBuf,
    pub entries: Vec<Entry>,
    pub owner: Owner,
    /// The size of the layer's members in the tar (headers and padded contents), without
    /// the end-of-archive blocks: layers can be written one after another into one tar.
    pub members_size: u64,
}

impl FsLayer {
    /// Plans a layer holding `paths`, which must be direct children of `store_dir`.
    /// With `dir_mode`, the store directory and its parents come first as directories of
    /// that mode (0755 as Docker's own tools write them; buildImage's are 0555).
    pub fn from_store_paths(
        paths: &[PathBuf],
        store_dir: &Path,
        dir_mode: Option<u32>,
        owner: Owner,
    ) -> Result<FsLayer> {
        // Nothing outside the store, and no nested paths (which would put the same files
        // in two layers).
        for path in paths {
            StorePath::parse(path, store_dir).map_err(|m| Error::input(path, m))?;
        }
        let root = Path::new("/");
        let walked: Vec<Vec<Entry>> = paths
            .par_iter()
            .map(|p| walk(root, p))
            .collect::<Result<_>>()?;
        let mut entries: Vec<Entry> = walked.into_iter().flatten().collect();
        sort_members(&mut entries);
        let mut all = dir_mode.map_or_else(Vec::new, |mode| store_dir_entries(store_dir, mode));
        all.extend(entries);
        let layer = FsLayer::new(paths.to_vec(), root.to_owned(), all, owner);
        Ok(FsLayer {
            trusted: store_dir.to_owned(),
            ..layer
        })
    }

    /// Plans a layer of everything under `root` (not `root` itself), named relative to it.
    /// `adjust` may change each entry's mode or owner before the size is computed.
    pub fn from_tree(root: &Path, owner: Owner, adjust: impl FnMut(&mut Entry)) -> Result<FsLayer> {
        let mut entries = walk(root, root)?;
        entries.retain(|e| !e.name.is_empty());
        entries.iter_mut().for_each(adjust);
        sort_members(&mut entries);
        Ok(FsLayer::new(
            vec![root.to_owned()],
            root.to_owned(),
            entries,
            owner,
        ))
    }

    /// Leaves out the members whose name `drop` picks (ones another part of the same
    /// layer writes).
    pub fn drop_members(&mut self, drop: impl Fn(&[u8]) -> bool) {
        self.entries.retain(|e| !drop(&e.name));
        let size = self.entries.iter().map(|e| self.member_size(e)).sum();
        self.members_size = size;
    }

    /// A layer of `entries` (already in archive order) with its size computed.
    fn new(paths: Vec<PathBuf>, root: PathBuf, entries: Vec<Entry>, owner: Owner) -> FsLayer {
        let mut layer = FsLayer {
            paths,
            trusted: root.clone(),
            root,
            entries,
            owner,
            members_size: 0,
        };
        layer.members_size = layer.entries.iter().map(|e| layer.member_size(e)).sum();
        layer
    }

    /// Writes the layer as a tar of its own to `out` (see [`FsLayer::write_members_to`]).
    pub fn write_to(&self, out: &mut impl Write, target: &str) -> Result<()> {
        self.write_members_to(out, target)?;
        out.write_all(&tar::END_OF_ARCHIVE)
            .map_err(|e| Error::write(target, e))
    }

    /// Writes the layer's members to `out`, reading every file once, without the
    /// end-of-archive blocks. `target` names `out` in error messages. Fails, naming the
    /// file, if a file is not the one planned.
    pub fn write_members_to(&self, out: &mut impl Write, target: &str) -> Result<()> {
        let mut headers = Vec::with_capacity(tar::BLOCK as usize * 2);
        let mut buffer = Vec::new();
        let mut reader = None;
        for entry in &self.entries {
            headers.clear();
            tar::write_header(&self.header(entry), &mut headers);
            out.write_all(&headers)
                .map_err(|e| Error::write(target, e))?;
            if entry.kind == Kind::File {
                let source = self.root.join(OsStr::from_bytes(&entry.name));
                let reader = match &mut reader {
                    Some(reader) => reader,
                    None => reader.insert(
                        TreeReader::open(&self.trusted)
                            .map_err(|e| Error::read(&self.trusted, e))?,
                    ),
                };
                let file = self.open_planned(reader, &source, entry)?;
                copy_file(file, &source, entry.size, out, target, &mut buffer)?;
                out.write_all(tar::padding(entry.size))
                    .map_err(|e| Error::write(target, e))?;
            }
        }
        Ok(())
    }

    /// Opens the regular file `source` of `entry` and checks it is the file planned: no
    /// symlink on the way below the trusted directory, same device, inode and size.
    fn open_planned(&self, reader: &mut TreeReader, source: &Path, entry: &Entry) -> Result<File> {
        let relative = source.strip_prefix(&self.trusted).map_err(|_| {
            Error::Internal(format!(
                "{} is outside the layer's directory {}",
                source.display(),
                self.trusted.display()
            ))
        })?;
        let file = reader
            .open_file(relative)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP | libc::ENOTDIR | libc::ENOENT | libc::ENXIO) => {
                    changed(source, entry.size)
                }
                _ => Error::read(source, e),
            })?;
        let meta = file.metadata().map_err(|e| Error::read(source, e))?;
        if !meta.is_file() || (meta.dev(), meta.ino()) != entry.identity || meta.len() != entry.size
        {
            return Err(changed(source, entry.size));
        }
        Ok(file)
    }

    /// The tar header of one entry, with its own owner or the layer's.
    fn header<'a>(&'a self, entry: &'a Entry) -> Header<'a> {
        Header {
            name: &entry.name,
            kind: entry.kind.clone(),
            mode: entry.mode,
            size: entry.size,
            owner: entry.owner.as_deref().unwrap_or(&self.owner),
        }
    }

    /// The bytes one entry takes in the tar: its header(s) and padded content.
    fn member_size(&self, entry: &Entry) -> u64 {
        let content = if entry.kind == Kind::File {
            tar::padded(entry.size)
        } else {
            0
        };
        tar::header_len(&self.header(entry)) + content
    }
}

/// Archive order: by name bytes, so a directory precedes its contents. A path listed twice
/// (the same store path in one layer) appears once.
fn sort_members(entries: &mut Vec<Entry>) {
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries.dedup_by(|a, b| a.name == b.name);
}

/// The store directory and each of its parents (`nix`, `nix/store`), as directories of
/// `mode`.
fn store_dir_entries(store_dir: &Path, mode: u32) -> Vec<Entry> {
    let mut entries: Vec<Entry> = store_dir
        .ancestors()
        .filter(|a| a.parent().is_some())
        .map(|a| Entry {
            name: relative_name(Path::new("/"), a),
            kind: Kind::Directory,
            mode,
            size: 0,
            owner: None,
            identity: (0, 0),
        })
        .collect();
    entries.reverse();
    entries
}

/// The member name of `path`: its bytes relative to `root` (empty for `root` itself).
fn relative_name(root: &Path, path: &Path) -> Vec<u8> {
    path.strip_prefix(root)
        .unwrap_or(path)
        .as_os_str()
        .as_bytes()
        .to_vec()
}

/// Every file, directory and symlink under `start` (itself included), named relative to
/// `root`, unsorted. Symlinks are not followed: a store path that is a symlink stays one.
fn walk(root: &Path, start: &Path) -> Result<Vec<Entry>> {
    let meta = fs::symlink_metadata(start).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::input(
                start,
                "store path does not exist; is it in the closure the conf was made from?",
            )
        } else {
            Error::read(start, e)
        }
    })?;
    walk_from(root, start.to_path_buf(), meta)
}

/// `path` (described by `meta`) and everything under it. Subdirectories are walked on
/// rayon's threads: one store path can hold tens of thousands of files (a toolchain), and
/// stat-ing them one by one leaves the other cores idle.
fn walk_from(root: &Path, path: PathBuf, meta: Metadata) -> Result<Vec<Entry>> {
    let mut entries = vec![entry_for(root, &path, &meta)?];
    if meta.is_dir() {
        let children = fs::read_dir(&path)
            .map_err(|e| Error::read(&path, e))?
            .map(|child| {
                let child = child.map_err(|e| Error::read(&path, e))?.path();
                let child_meta =
                    fs::symlink_metadata(&child).map_err(|e| Error::read(&child, e))?;
                Ok((child, child_meta))
            })
            .collect::<Result<Vec<_>>>()?;
        let nested: Vec<Vec<Entry>> = children
            .into_par_iter()
            .map(|(child, child_meta)| walk_from(root, child, child_meta))
            .collect::<Result<_>>()?;
        entries.extend(nested.into_iter().flatten());
    }
    Ok(entries)
}

/// The layer entry for one filesystem object.
fn entry_for(root: &Path, path: &Path, meta: &Metadata) -> Result<Entry> {
    let file_type = meta.file_type();
    let (kind, size) = if file_type.is_file() {
        (Kind::File, meta.len())
    } else if file_type.is_dir() {
        (Kind::Directory, 0)
    } else if file_type.is_symlink() {
        let target = fs::read_link(path).map_err(|e| Error::read(path, e))?;
        (Kind::Symlink(target.into_os_string().into_vec()), 0)
    } else {
        let what = if file_type.is_socket() {
            "a socket"
        } else if file_type.is_fifo() {
            "a named pipe"
        } else {
            "a device node"
        };
        return Err(Error::input(
            path,
            format!("is {what}; a layer can only hold files, directories and symlinks"),
        ));
    };
    Ok(Entry {
        name: relative_name(root, path),
        kind,
        mode: meta.mode() & 0o7777,
        size,
        owner: None,
        identity: (meta.dev(), meta.ino()),
    })
}

/// The error for a file that is not what was planned: its size, type or identity
/// changed after planning (the layer's size would be wrong, or its bytes foreign).
fn changed(source: &Path, size: u64) -> Error {
    Error::input(
        source,
        format!("changed while being read (planned {size} bytes); store paths must not change during a build"),
    )
}

/// Copies exactly `size` bytes of `file` (at `source`) to `out`. A file that is shorter
/// or longer than planned changed after planning, which is an error.
fn copy_file(
    mut file: File,
    source: &Path,
    size: u64,
    out: &mut impl Write,
    target: &str,
    buffer: &mut Vec<u8>,
) -> Result<()> {
    copy_exact(size, buffer, |buf, _| file.read(buf), out).map_err(|e| match e {
        CopyError::Read(e) => Error::read(source, e),
        CopyError::Short(_) => changed(source, size),
        CopyError::Write(e) => Error::write(target, e),
    })?;
    let mut probe = [0u8; 1];
    if file.read(&mut probe).map_err(|e| Error::read(source, e))? != 0 {
        return Err(changed(source, size));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn owner() -> Owner {
        Owner::root_for_tests()
    }

    /// A fake store under a temp dir with one path holding a file, a dir and a symlink.
    fn fake_store() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let p = store.join("00000000000000000000000000000000-pkg");
        fs::create_dir_all(p.join("bin")).unwrap();
        fs::write(p.join("bin/tool"), b"#!tool\n").unwrap();
        fs::set_permissions(p.join("bin/tool"), fs::Permissions::from_mode(0o555)).unwrap();
        symlink("bin/tool", p.join("link")).unwrap();
        (dir, store, p)
    }

    #[test]
    fn plan_sorts_members_and_predicts_the_size() {
        let (_dir, store, p) = fake_store();
        let layer = FsLayer::from_store_paths(&[p], &store, Some(0o755), owner()).unwrap();
        let names: Vec<String> = layer
            .entries
            .iter()
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect();
        let prefix = relative_name(Path::new("/"), &store);
        let prefix = String::from_utf8_lossy(&prefix);
        assert!(names
            .windows(2)
            .skip(prefix.matches('/').count() + 1)
            .all(|w| w[0] < w[1]));
        assert!(names.ends_with(&[
            format!("{prefix}/00000000000000000000000000000000-pkg"),
            format!("{prefix}/00000000000000000000000000000000-pkg/bin"),
            format!("{prefix}/00000000000000000000000000000000-pkg/bin/tool"),
            format!("{prefix}/00000000000000000000000000000000-pkg/link"),
        ]));
        let mut out = Vec::new();
        layer.write_to(&mut out, "test").unwrap();
        assert_eq!(out.len() as u64, layer.members_size + 1024);
    }

    #[test]
    fn hard_links_are_written_as_plain_files() {
        let (_dir, store, p) = fake_store();
        let before =
            FsLayer::from_store_paths(std::slice::from_ref(&p), &store, Some(0o755), owner())
                .unwrap();
        let mut a = Vec::new();
        before.write_to(&mut a, "test").unwrap();
        fs::hard_link(p.join("bin/tool"), store.join("elsewhere")).unwrap();
        let after = FsLayer::from_store_paths(&[p], &store, Some(0o755), owner()).unwrap();
        let mut b = Vec::new();
        after.write_to(&mut b, "test").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn a_path_outside_the_store_is_refused() {
        let (_dir, store, _p) = fake_store();
        let err = FsLayer::from_store_paths(&[PathBuf::from("/etc")], &store, Some(0o755), owner())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "/etc: not a store path: expected {}/<hash>-<name>",
                store.display()
            )
        );
        let nested = store.join("00000000000000000000000000000000-pkg/bin");
        assert!(FsLayer::from_store_paths(&[nested], &store, Some(0o755), owner()).is_err());
    }

    #[test]
    fn a_missing_store_path_is_named() {
        let (_dir, store, _p) = fake_store();
        let missing = store.join("11111111111111111111111111111111-gone");
        let err =
            FsLayer::from_store_paths(std::slice::from_ref(&missing), &store, Some(0o755), owner())
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: store path does not exist; is it in the closure the conf was made from?",
                missing.display()
            )
        );
    }

    #[test]
    fn a_file_that_grows_after_planning_is_an_error() {
        let (_dir, store, p) = fake_store();
        let layer =
            FsLayer::from_store_paths(std::slice::from_ref(&p), &store, Some(0o755), owner())
                .unwrap();
        fs::set_permissions(p.join("bin/tool"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(p.join("bin/tool"), b"#!tool, now longer\n").unwrap();
        let err = layer.write_to(&mut Vec::new(), "test").unwrap_err();
        assert!(err.to_string().ends_with("bin/tool: changed while being read (planned 7 bytes); store paths must not change during a build"), "{err}");
    }

    /// Replacing a planned file, or a directory above it, by a symlink of the same size
    /// must not put the symlink's target into the layer (CVE-2018-15664's class).
    #[test]
    fn a_file_or_directory_swapped_for_a_symlink_is_an_error() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("tool"), b"SECRET\n").unwrap(); // 7 bytes, as planned
        type Swap = fn(&Path, &Path);
        let swaps: [(&str, Swap); 2] = [
            ("file", |p, outside| {
                fs::remove_file(p.join("bin/tool")).unwrap();
                symlink(outside.join("tool"), p.join("bin/tool")).unwrap();
            }),
            ("directory", |p, outside| {
                fs::remove_dir_all(p.join("bin")).unwrap();
                symlink(outside, p.join("bin")).unwrap();
            }),
        ];
        for (what, swap) in swaps {
            let (_dir, store, p) = fake_store();
            let layer =
                FsLayer::from_store_paths(std::slice::from_ref(&p), &store, Some(0o755), owner())
                    .unwrap();
            swap(&p, outside.path());
            let mut out = Vec::new();
            let err = layer.write_to(&mut out, "test").unwrap_err().to_string();
            assert!(
                err.contains("bin/tool: changed while being read"),
                "{what}: {err}"
            );
            assert!(!out.windows(6).any(|w| w == b"SECRET"), "{what}");
        }
    }
}
