//! Unpacking a base image's layers onto disk, bottom first, for runAsRoot to run on.
//! The layers are hostile until checked: names with `..` or a leading `/`, members that
//! go through a symlink, device nodes and links out of the tree are refused with one line
//! naming the layer and member. Every path is created relative to an opened parent
//! directory with `O_NOFOLLOW`, so nothing is ever written outside the root.
//!
//! Whiteouts are applied as Docker does: `.wh.<name>` removes `<name>` from the layers
//! below, `.wh..wh..opq` empties its directory of what the layers below put there.

use crate::error::{Error, Result};
use crate::image::blob::Blob;
use std::collections::{BTreeMap, HashSet};
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// The prefix of a whiteout member's name.
const WHITEOUT: &str = ".wh.";
/// The name of an opaque-directory marker.
const OPAQUE: &str = ".wh..wh..opq";

/// The owners the layers gave each path (the files on disk are all ours): what a file
/// copied up and changed by runAsRoot keeps.
pub type Owners = BTreeMap<PathBuf, (u64, u64)>;

/// Unpacks `layers` into the empty directory `root` and returns the owners of what is
/// there.
pub fn extract_layers(layers: &[Blob], root: &Path) -> Result<Owners> {
    let mut owners = Owners::new();
    let mut dir_modes: BTreeMap<PathBuf, u32> = BTreeMap::new();
    let tree = Tree::open(root)?;
    for blob in layers {
        let fail = |member: &str, message: String| {
            Error::input(
                Path::new(&blob.origin),
                format!("member {member:?}: {message}"),
            )
        };
        let io_fail = |e: io::Error| {
            Error::input(
                Path::new(&blob.origin),
                format!("cannot read the layer: {e}"),
            )
        };
        let mut written: HashSet<PathBuf> = HashSet::new();
        let mut archive = tar::Archive::new(blob.reader());
        for entry in archive.entries().map_err(io_fail)? {
            let mut entry = entry.map_err(io_fail)?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let path = checked_path(&raw).map_err(|m| fail(&raw, m))?;
            let Some(name) = path.file_name().map(OsStr::to_owned) else {
                continue; // the root itself (`./`)
            };
            let parent = path.parent().unwrap_or(Path::new("")).to_owned();
            if name == OPAQUE {
                tree.clear_dir(&parent, &written)
                    .map_err(|e| fail(&raw, e.to_string()))?;
                continue;
            }
            if let Some(hidden) = name.to_str().and_then(|n| n.strip_prefix(WHITEOUT)) {
                let hidden = parent.join(hidden);
                tree.remove(&hidden)
                    .map_err(|e| fail(&raw, e.to_string()))?;
                owners.retain(|p, _| !p.starts_with(&hidden));
                continue;
            }
            let header = entry.header();
            let mode = header.mode().map_err(|e| fail(&raw, e.to_string()))? & 0o7777;
            let owner = (
                header.uid().map_err(|e| fail(&raw, e.to_string()))?,
                header.gid().map_err(|e| fail(&raw, e.to_string()))?,
            );
            let kind = header.entry_type();
            match kind {
                tar::EntryType::Directory => {
                    tree.make_dir(&path).map_err(|e| fail(&raw, e.to_string()))?;
                    dir_modes.insert(path.clone(), mode);
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let mut file = tree.create_file(&path).map_err(|e| fail(&raw, e.to_string()))?;
                    io::copy(&mut entry, &mut file).map_err(|e| fail(&raw, e.to_string()))?;
                    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))
                        .map_err(|e| fail(&raw, e.to_string()))?;
                }
                tar::EntryType::Symlink => {
                    let target = entry
                        .link_name_bytes()
                        .ok_or_else(|| fail(&raw, "is a symlink without a target".into()))?;
                    tree.symlink(&target, &path).map_err(|e| fail(&raw, e.to_string()))?;
                }
                tar::EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .ok_or_else(|| fail(&raw, "is a hard link without a target".into()))?;
                    let target = checked_path(&String::from_utf8_lossy(&target))
                        .map_err(|m| fail(&raw, format!("links to {m}")))?;
                    tree.hard_link(&target, &path).map_err(|e| fail(&raw, e.to_string()))?;
                }
                tar::EntryType::XHeader | tar::EntryType::XGlobalHeader | tar::EntryType::GNULongName | tar::EntryType::GNULongLink => continue,
                other => {
                    return Err(fail(
                        &raw,
                        format!("is a {other:?} entry (a device node or FIFO); a base image for runAsRoot may hold files, directories and links only"),
                    ))
                }
            }
            owners.insert(path.clone(), owner);
            written.insert(path);
        }
    }
    // Last, so that read-only directories could be filled first.
    for (dir, mode) in dir_modes.iter().rev() {
        tree.chmod_dir(dir, *mode).ok();
    }
    Ok(owners)
}

/// A member name as a relative path of normal components; `./` prefixes are fine,
/// `..` and absolute names are not.
fn checked_path(raw: &str) -> std::result::Result<PathBuf, String> {
    let mut path = PathBuf::new();
    for component in Path::new(raw).components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("has a `..` component".into()),
            Component::RootDir | Component::Prefix(_) => return Err("is an absolute name".into()),
        }
    }
    Ok(path)
}

/// The root being filled, opened once; every operation goes through it.
struct Tree {
    root: PathBuf,
    fd: OwnedFd,
}

impl Tree {
    /// Opens the directory `root`.
    fn open(root: &Path) -> Result<Tree> {
        let fd = open_at(libc::AT_FDCWD, root.as_os_str(), libc::O_DIRECTORY)
            .map_err(|e| Error::input(root, format!("cannot open: {e}")))?;
        Ok(Tree {
            root: root.to_owned(),
            fd,
        })
    }

    /// The directory `dir` (relative), made with its parents where missing; never through
    /// a symlink.
    fn dir(&self, dir: &Path) -> io::Result<OwnedFd> {
        self.walk(dir, true)
    }

    /// The existing directory `dir`, opened without following symlinks.
    fn existing_dir(&self, dir: &Path) -> io::Result<OwnedFd> {
        self.walk(dir, false)
    }

    /// Opens `dir` one component at a time with `O_NOFOLLOW`, making missing ones when
    /// `create`. A component that is a symlink or a file is refused by name.
    fn walk(&self, dir: &Path, create: bool) -> io::Result<OwnedFd> {
        let mut current = self.fd.try_clone()?;
        for part in dir.components() {
            let name = part.as_os_str();
            let flags = libc::O_DIRECTORY | libc::O_NOFOLLOW;
            current = match open_at(current.as_raw_fd(), name, flags) {
                Ok(fd) => fd,
                Err(e) if create && e.raw_os_error() == Some(libc::ENOENT) => {
                    mkdir_at(&current, name)?;
                    open_at(current.as_raw_fd(), name, flags)?
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) => {
                    return Err(io::Error::other(format!(
                        "goes through {}, which is not a directory (a symlink?); refusing to write through it",
                        Path::new(name).display()
                    )))
                }
                Err(e) => return Err(e),
            };
        }
        Ok(current)
    }

    /// The parent directory of `path`, and its last component.
    fn parent<'p>(&self, path: &'p Path) -> io::Result<(OwnedFd, &'p OsStr)> {
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        Ok((self.dir(path.parent().unwrap_or(Path::new("")))?, name))
    }

    /// A directory at `path`, replacing anything else there.
    fn make_dir(&self, path: &Path) -> io::Result<()> {
        let (parent, name) = self.parent(path)?;
        match open_at(
            parent.as_raw_fd(),
            name,
            libc::O_DIRECTORY | libc::O_NOFOLLOW,
        ) {
            Ok(_) => Ok(()),
            Err(_) => {
                self.remove(path)?;
                mkdir_at(&parent, name)
            }
        }
    }

    /// A new, empty, writable file at `path`, replacing what is there.
    fn create_file(&self, path: &Path) -> io::Result<File> {
        self.remove(path)?;
        let (parent, name) = self.parent(path)?;
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;
        Ok(File::from(open_at_mode(
            parent.as_raw_fd(),
            name,
            flags,
            0o600,
        )?))
    }

    /// A symlink at `path` to `target` (never followed by us), replacing what is there.
    fn symlink(&self, target: &[u8], path: &Path) -> io::Result<()> {
        self.remove(path)?;
        let (parent, name) = self.parent(path)?;
        let target =
            CString::new(target).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let name = c_name(name)?;
        // SAFETY: plain system call on NUL-terminated strings; the result is checked.
        check(unsafe { libc::symlinkat(target.as_ptr(), parent.as_raw_fd(), name.as_ptr()) })
    }

    /// A hard link at `path` to the file `target` of the tree, replacing what is there.
    fn hard_link(&self, target: &Path, path: &Path) -> io::Result<()> {
        self.remove(path)?;
        let (from_dir, from_name) = self.parent(target)?;
        let (to_dir, to_name) = self.parent(path)?;
        let (from_name, to_name) = (c_name(from_name)?, c_name(to_name)?);
        // SAFETY: plain system call on NUL-terminated names; flags 0 does not follow a
        // symlink at `target`, and the parents were opened without following any.
        check(unsafe {
            libc::linkat(
                from_dir.as_raw_fd(),
                from_name.as_ptr(),
                to_dir.as_raw_fd(),
                to_name.as_ptr(),
                0,
            )
        })
    }

    /// Removes whatever is at `path` (a whole directory tree too); nothing there is fine.
    fn remove(&self, path: &Path) -> io::Result<()> {
        // Checks that no parent is a symlink before touching anything by its full name.
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() {
                match self.existing_dir(parent) {
                    Ok(_) => {}
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
        }
        let full = self.root.join(path);
        match std::fs::symlink_metadata(&full) {
            Ok(meta) if meta.is_dir() => {
                make_writable_tree(&full)?;
                std::fs::remove_dir_all(&full)
            }
            Ok(_) => std::fs::remove_file(&full),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Empties the directory `dir` of everything not in `keep` (what this layer wrote).
    fn clear_dir(&self, dir: &Path, keep: &HashSet<PathBuf>) -> io::Result<()> {
        if self.existing_dir(dir).is_err() {
            return Ok(());
        }
        for child in std::fs::read_dir(self.root.join(dir))? {
            let relative = dir.join(child?.file_name());
            if !keep.contains(&relative) {
                self.remove(&relative)?;
            }
        }
        Ok(())
    }

    /// Gives the directory `dir` its mode from the layer.
    fn chmod_dir(&self, dir: &Path, mode: u32) -> io::Result<()> {
        let fd = self.existing_dir(dir)?;
        // SAFETY: plain system call on an open descriptor.
        check(unsafe { libc::fchmod(fd.as_raw_fd(), mode) })
    }
}

/// Makes every directory under `dir` writable, so that `remove_dir_all` can empty it.
fn make_writable_tree(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    for child in std::fs::read_dir(dir)? {
        let child = child?;
        if child.file_type()?.is_dir() {
            make_writable_tree(&child.path())?;
        }
    }
    Ok(())
}

/// `name` as a C string.
fn c_name(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Turns a -1 result into the error in `errno`.
fn check(result: libc::c_int) -> io::Result<()> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `mkdirat(dir, name, 0755)`.
fn mkdir_at(dir: &OwnedFd, name: &OsStr) -> io::Result<()> {
    let name = c_name(name)?;
    // SAFETY: plain system call on a NUL-terminated name; the result is checked.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755) })
}

/// `openat(dir, name, O_RDONLY | O_CLOEXEC | flags)`.
fn open_at(dir: libc::c_int, name: &OsStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    open_at_mode(dir, name, libc::O_RDONLY | flags, 0)
}

/// `openat(dir, name, O_CLOEXEC | flags, mode)`.
fn open_at_mode(
    dir: libc::c_int,
    name: &OsStr,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> io::Result<OwnedFd> {
    let name = c_name(name)?;
    // SAFETY: plain system call on a NUL-terminated name; the result is checked.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), libc::O_CLOEXEC | flags, mode) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and belongs to nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::blob::blob_of;
    use tar::{EntryType, Header};

    /// One member of a test layer: name, kind, and contents or link target.
    type Member<'a> = (&'a str, EntryType, &'a str);

    /// A layer tar of `members`, as a blob.
    fn layer(members: &[Member]) -> Blob {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, kind, data) in members {
            let mut header = Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_mode(if *kind == EntryType::Directory {
                0o755
            } else {
                0o644
            });
            header.set_uid(1000);
            header.set_gid(100);
            match kind {
                EntryType::Symlink | EntryType::Link => {
                    header.set_size(0);
                    builder.append_link(&mut header, name, data).unwrap();
                }
                _ => {
                    header.set_size(data.len() as u64);
                    header.set_cksum();
                    // Raw names: tar::Builder would refuse `..` before our reader can.
                    header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
                    header.set_cksum();
                    builder.append(&header, data.as_bytes()).unwrap();
                }
            }
        }
        blob_of(&builder.into_inner().unwrap())
    }

    use EntryType::{Directory as D, Link as H, Regular as F, Symlink as L};

    #[test]
    fn layers_apply_in_order_with_whiteouts_and_opaque_directories() {
        let root = tempfile::tempdir().unwrap();
        let lower = layer(&[
            ("./etc/", D, ""),
            ("./etc/passwd", F, "root\n"),
            ("./etc/motd", F, "hello\n"),
            ("./data/", D, ""),
            ("./data/old", F, "old"),
            ("./bin/", D, ""),
            ("./bin/sh", F, "sh"),
            ("./bin/ash", H, "bin/sh"),
            ("./bin/link", L, "sh"),
        ]);
        let upper = layer(&[
            ("etc/.wh.motd", F, ""),
            ("data/", D, ""),
            ("data/new", F, "new"),
            ("data/.wh..wh..opq", F, ""),
        ]);
        let owners = extract_layers(&[lower, upper], root.path()).unwrap();
        let r = root.path();
        assert_eq!(
            std::fs::read_to_string(r.join("etc/passwd")).unwrap(),
            "root\n"
        );
        assert!(!r.join("etc/motd").exists(), "whited out");
        assert!(!r.join("data/old").exists(), "hidden by the opaque marker");
        assert_eq!(std::fs::read_to_string(r.join("data/new")).unwrap(), "new");
        assert_eq!(
            std::fs::read_link(r.join("bin/link")).unwrap(),
            Path::new("sh")
        );
        assert_eq!(std::fs::read_to_string(r.join("bin/ash")).unwrap(), "sh");
        assert_eq!(owners.get(Path::new("etc/passwd")), Some(&(1000, 100)));
        assert!(!owners.contains_key(Path::new("etc/motd")));
    }

    /// nixpkgs' repeated-layers test: a base listing one layer twice unpacks cleanly.
    #[test]
    fn a_layer_listed_twice_unpacks_twice_without_error() {
        let root = tempfile::tempdir().unwrap();
        let members: &[Member] = &[
            ("bin/", D, ""),
            ("bin/sh", F, "sh"),
            ("bin/ash", H, "bin/sh"),
        ];
        extract_layers(&[layer(members), layer(members)], root.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.path().join("bin/ash")).unwrap(),
            "sh"
        );
    }

    #[test]
    fn hostile_members_are_refused_and_nothing_lands_outside() {
        let outside = tempfile::tempdir().unwrap();
        let cases: [(&[Member], &str); 4] = [
            (&[("../escape", F, "x")], "has a `..` component"),
            (&[("/etc/escape", F, "x")], "is an absolute name"),
            (
                &[
                    ("evil", L, outside.path().to_str().unwrap()),
                    ("evil/escape", F, "x"),
                ],
                "goes through evil, which is not a directory (a symlink?)",
            ),
            (
                &[("dev/", D, ""), ("dev/null", EntryType::Char, "")],
                "a device node or FIFO",
            ),
        ];
        for (members, expected) in cases {
            let root = tempfile::tempdir().unwrap();
            let err = extract_layers(&[layer(members)], root.path())
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("test layer: member "), "{err}");
            assert!(err.contains(expected), "{expected}: {err}");
            assert!(!outside.path().join("escape").exists());
        }
    }
}
