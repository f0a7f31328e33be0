//! Layers made of store paths: plan the members from file metadata (so the layer's size is
//! known before any content is read), then write them in one pass.
//!
//! The output depends only on the store paths' contents: members are sorted by name bytes,
//! time stamps and owners come from the conf, and hard links (which `nix-store --optimise`
//! creates between identical files) are written as ordinary files.

use crate::error::{Error, Result};
use crate::tar::{self, Header, Kind, Owner};
use rayon::prelude::*;
use std::ffi::OsStr;
use std::fs::{self, File, Metadata};
use std::io::{Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

/// Size of the buffer file contents are copied through.
const COPY_BUFFER: usize = 1 << 20;

/// One member of a store layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Member name: the absolute path without its leading `/`.
    pub name: Vec<u8>,
    pub kind: Kind,
    pub mode: u32,
    /// Content size of regular files, 0 otherwise.
    pub size: u64,
}

/// A planned layer of store paths: its members in archive order and its exact tar size.
#[derive(Debug, Clone)]
pub struct StoreLayer {
    /// The store paths the layer holds, as given.
    pub paths: Vec<PathBuf>,
    pub entries: Vec<Entry>,
    pub owner: Owner,
    /// The size of the layer tar, end-of-archive blocks included.
    pub size: u64,
}

impl StoreLayer {
    /// Plans a layer holding `paths`, which must be direct children of `store_dir`.
    /// The store directory and its parents come first as 0755 directories, as Docker's
    /// own tools write them.
    pub fn plan(paths: &[PathBuf], store_dir: &Path, owner: Owner) -> Result<StoreLayer> {
        for path in paths {
            check_store_path(path, store_dir)?;
        }
        let walked: Vec<Vec<Entry>> = paths.par_iter().map(|p| walk(p)).collect::<Result<_>>()?;
        let mut entries: Vec<Entry> = walked.into_iter().flatten().collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        entries.dedup_by(|a, b| a.name == b.name);
        let mut all = store_dir_entries(store_dir);
        all.extend(entries);
        let size = layer_size(&all, &owner);
        Ok(StoreLayer {
            paths: paths.to_vec(),
            entries: all,
            owner,
            size,
        })
    }

    /// Writes the layer tar to `out`, reading every file once. `target` names `out` in
    /// error messages. Fails, naming the file, if a file's size differs from the plan.
    pub fn write_to(&self, out: &mut impl Write, target: &str) -> Result<()> {
        let mut headers = Vec::with_capacity(tar::BLOCK as usize * 2);
        let mut buffer = vec![0u8; COPY_BUFFER];
        for entry in &self.entries {
            headers.clear();
            tar::write_header(&self.header(entry), &mut headers);
            out.write_all(&headers)
                .map_err(|e| Error::write(target, e))?;
            if entry.kind == Kind::File {
                let source = Path::new(OsStr::from_bytes(&entry.name));
                let source = Path::new("/").join(source);
                copy_file(&source, entry.size, out, target, &mut buffer)?;
                out.write_all(tar::padding(entry.size))
                    .map_err(|e| Error::write(target, e))?;
            }
        }
        out.write_all(&tar::END_OF_ARCHIVE)
            .map_err(|e| Error::write(target, e))
    }

    /// The tar header of one entry with the layer's owner and time stamp.
    fn header<'a>(&'a self, entry: &'a Entry) -> Header<'a> {
        Header {
            name: &entry.name,
            kind: entry.kind.clone(),
            mode: entry.mode,
            size: entry.size,
            owner: &self.owner,
        }
    }
}

/// The exact byte size of a layer tar holding `entries`.
fn layer_size(entries: &[Entry], owner: &Owner) -> u64 {
    let members: u64 = entries
        .iter()
        .map(|e| {
            let header = Header {
                name: &e.name,
                kind: e.kind.clone(),
                mode: e.mode,
                size: e.size,
                owner,
            };
            let content = if e.kind == Kind::File {
                tar::padded(e.size)
            } else {
                0
            };
            tar::header_len(&header) + content
        })
        .sum();
    members + tar::END_OF_ARCHIVE.len() as u64
}

/// Refuses anything that is not `<store_dir>/<name>`: a layer must not reach outside the
/// store, and nested paths would put the same files in two layers.
fn check_store_path(path: &Path, store_dir: &Path) -> Result<()> {
    let inside = path.strip_prefix(store_dir).ok().filter(|rest| {
        matches!(
            rest.components().collect::<Vec<_>>()[..],
            [Component::Normal(_)]
        )
    });
    if !path.is_absolute() || inside.is_none() {
        return Err(Error::input(
            path,
            format!(
                "not a store path: expected {}/<hash>-<name>",
                store_dir.display()
            ),
        ));
    }
    Ok(())
}

/// The store directory and each of its parents, as 0755 directories (`nix`, `nix/store`).
fn store_dir_entries(store_dir: &Path) -> Vec<Entry> {
    let mut entries: Vec<Entry> = store_dir
        .ancestors()
        .filter(|a| a.parent().is_some())
        .map(|a| Entry {
            name: relative_name(a),
            kind: Kind::Directory,
            mode: 0o755,
            size: 0,
        })
        .collect();
    entries.reverse();
    entries
}

/// The member name of an absolute path: its bytes without the leading `/`.
fn relative_name(path: &Path) -> Vec<u8> {
    path.as_os_str()
        .as_bytes()
        .strip_prefix(b"/")
        .unwrap_or(path.as_os_str().as_bytes())
        .to_vec()
}

/// Every file, directory and symlink under `root` (itself included), unsorted. Symlinks
/// are not followed: a store path that is a symlink stays one.
fn walk(root: &Path) -> Result<Vec<Entry>> {
    let meta = fs::symlink_metadata(root).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::input(
                root,
                "store path does not exist; is it in the closure the conf was made from?",
            )
        } else {
            Error::read(root, e)
        }
    })?;
    let mut entries = Vec::new();
    let mut pending = vec![(root.to_path_buf(), meta)];
    while let Some((path, meta)) = pending.pop() {
        if meta.is_dir() {
            for child in fs::read_dir(&path).map_err(|e| Error::read(&path, e))? {
                let child = child.map_err(|e| Error::read(&path, e))?.path();
                let child_meta =
                    fs::symlink_metadata(&child).map_err(|e| Error::read(&child, e))?;
                pending.push((child, child_meta));
            }
        }
        entries.push(entry_for(&path, &meta)?);
    }
    Ok(entries)
}

/// The layer entry for one filesystem object.
fn entry_for(path: &Path, meta: &Metadata) -> Result<Entry> {
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
        name: relative_name(path),
        kind,
        mode: meta.mode() & 0o7777,
        size,
    })
}

/// Copies exactly `size` bytes of `source` to `out`. A file that is shorter or longer than
/// planned changed after planning; the layer's size would be wrong, so that is an error.
fn copy_file(
    source: &Path,
    size: u64,
    out: &mut impl Write,
    target: &str,
    buffer: &mut [u8],
) -> Result<()> {
    let mut file = File::open(source).map_err(|e| Error::read(source, e))?;
    let changed = || {
        Error::input(source, format!("changed while being read (planned {size} bytes); store paths must not change during a build"))
    };
    let mut remaining = size;
    while remaining > 0 {
        let want = remaining.min(buffer.len() as u64) as usize;
        let n = file
            .read(&mut buffer[..want])
            .map_err(|e| Error::read(source, e))?;
        if n == 0 {
            return Err(changed());
        }
        out.write_all(&buffer[..n])
            .map_err(|e| Error::write(target, e))?;
        remaining -= n as u64;
    }
    let mut probe = [0u8; 1];
    if file.read(&mut probe).map_err(|e| Error::read(source, e))? != 0 {
        return Err(changed());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn owner() -> Owner {
        Owner {
            uid: 0,
            gid: 0,
            uname: "root".into(),
            gname: "root".into(),
            mtime: 1,
        }
    }

    /// A fake store under a temp dir with one path holding a file, a dir and a symlink.
    fn fake_store() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let p = store.join("aaaa-pkg");
        fs::create_dir_all(p.join("bin")).unwrap();
        fs::write(p.join("bin/tool"), b"#!tool\n").unwrap();
        fs::set_permissions(p.join("bin/tool"), fs::Permissions::from_mode(0o555)).unwrap();
        symlink("bin/tool", p.join("link")).unwrap();
        (dir, store, p)
    }

    #[test]
    fn plan_sorts_members_and_predicts_the_size() {
        let (_dir, store, p) = fake_store();
        let layer = StoreLayer::plan(&[p], &store, owner()).unwrap();
        let names: Vec<String> = layer
            .entries
            .iter()
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect();
        let prefix = relative_name(&store);
        let prefix = String::from_utf8_lossy(&prefix);
        assert!(names
            .windows(2)
            .skip(prefix.matches('/').count() + 1)
            .all(|w| w[0] < w[1]));
        assert!(names.ends_with(&[
            format!("{prefix}/aaaa-pkg"),
            format!("{prefix}/aaaa-pkg/bin"),
            format!("{prefix}/aaaa-pkg/bin/tool"),
            format!("{prefix}/aaaa-pkg/link"),
        ]));
        let mut out = Vec::new();
        layer.write_to(&mut out, "test").unwrap();
        assert_eq!(out.len() as u64, layer.size);
    }

    #[test]
    fn hard_links_are_written_as_plain_files() {
        let (_dir, store, p) = fake_store();
        let before = StoreLayer::plan(std::slice::from_ref(&p), &store, owner()).unwrap();
        let mut a = Vec::new();
        before.write_to(&mut a, "test").unwrap();
        fs::hard_link(p.join("bin/tool"), store.join("elsewhere")).unwrap();
        let after = StoreLayer::plan(&[p], &store, owner()).unwrap();
        let mut b = Vec::new();
        after.write_to(&mut b, "test").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn a_path_outside_the_store_is_refused() {
        let (_dir, store, _p) = fake_store();
        let err = StoreLayer::plan(&[PathBuf::from("/etc")], &store, owner()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "/etc: not a store path: expected {}/<hash>-<name>",
                store.display()
            )
        );
        let nested = store.join("aaaa-pkg/bin");
        assert!(StoreLayer::plan(&[nested], &store, owner()).is_err());
    }

    #[test]
    fn a_missing_store_path_is_named() {
        let (_dir, store, _p) = fake_store();
        let missing = store.join("bbbb-gone");
        let err = StoreLayer::plan(std::slice::from_ref(&missing), &store, owner()).unwrap_err();
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
        let layer = StoreLayer::plan(std::slice::from_ref(&p), &store, owner()).unwrap();
        fs::set_permissions(p.join("bin/tool"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(p.join("bin/tool"), b"#!tool, now longer\n").unwrap();
        let err = layer.write_to(&mut Vec::new(), "test").unwrap_err();
        assert!(err.to_string().ends_with("bin/tool: changed while being read (planned 7 bytes); store paths must not change during a build"), "{err}");
    }
}
