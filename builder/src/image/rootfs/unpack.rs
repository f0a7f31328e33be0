//! Writing a [`RootIndex`] into a directory: the base image unpacked for runAsRoot to
//! run on. The index has already applied the layers untrusted (names that leave the
//! root, entries below a symlink, device nodes refused; whiteouts honoured), so this
//! only creates what it holds; still, every path is made relative to an opened parent
//! with `O_NOFOLLOW`, so that nothing can be written outside `root` whatever the index.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::index::{Node, RootIndex};
use crate::error::{Error, Result};
use crate::image::blob::Blob;
use crate::sys::{c_string, check, open_at};

/// The owners the layers gave each path (the files on disk are all ours): what a file
/// copied up and changed by runAsRoot keeps.
pub type Owners = BTreeMap<PathBuf, (u64, u64)>;

/// Creates what `index` (made from `layers`) holds in the empty directory `root`, and
/// returns the owners of what is there.
pub fn unpack(index: &RootIndex, layers: &[Blob], root: &Path) -> Result<Owners> {
    let tree = Tree::open(root)?;
    let mut owners = Owners::new();
    let mut dir_modes = Vec::new();
    let mut buffer = Vec::new();
    for (raw, node) in index.iter().filter(|(path, _)| !path.is_empty()) {
        let path = Path::new(OsStr::from_bytes(raw));
        let fail =
            |e: io::Error| Error::input(&root.join(path), format!("unpacking the base image: {e}"));
        let (parent, name) = tree.parent(path).map_err(fail)?;
        match node {
            Node::Dir(meta) => {
                mkdir_at(&parent, name).map_err(fail)?;
                dir_modes.push((path, meta.mode));
            }
            Node::File(meta, data) => {
                let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;
                let mut file =
                    File::from(open_at(parent.as_raw_fd(), name, flags, 0o600).map_err(fail)?);
                let target = root.join(path).display().to_string();
                data.write_to(layers, &mut buffer, &mut file, &target)?;
                file.set_permissions(std::fs::Permissions::from_mode(meta.mode))
                    .map_err(fail)?;
            }
            Node::Symlink(_, target) => symlink_at(target, &parent, name).map_err(fail)?,
        }
        let owner = &node.meta().owner;
        owners.insert(path.to_owned(), (owner.uid, owner.gid));
    }
    // Last, deepest first, so that read-only directories could be filled first.
    for (dir, mode) in dir_modes.iter().rev() {
        let fd = tree
            .dir(dir)
            .map_err(|e| Error::input(&root.join(dir), e.to_string()))?;
        // SAFETY: plain system call on an open descriptor.
        check(unsafe { libc::fchmod(fd.as_raw_fd(), *mode) })
            .map(drop)
            .map_err(|e| Error::input(&root.join(dir), e.to_string()))?;
    }
    Ok(owners)
}

/// The directory being filled, opened once; every path is opened below it.
struct Tree {
    fd: OwnedFd,
}

impl Tree {
    /// Opens the directory `root`.
    fn open(root: &Path) -> Result<Tree> {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY;
        let fd = open_at(libc::AT_FDCWD, root.as_os_str(), flags, 0)
            .map_err(|e| Error::input(root, format!("cannot open: {e}")))?;
        Ok(Tree { fd })
    }

    /// The existing directory `dir`, opened one component at a time without following
    /// a symlink.
    fn dir(&self, dir: &Path) -> io::Result<OwnedFd> {
        let mut current = self.fd.try_clone()?;
        for part in dir.components() {
            let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
            current = open_at(current.as_raw_fd(), part.as_os_str(), flags, 0).map_err(|e| {
                match e.raw_os_error() {
                    Some(libc::ELOOP | libc::ENOTDIR) => io::Error::other(format!(
                        "goes through {}, which is not a directory (a symlink?); refusing to write through it",
                        Path::new(part.as_os_str()).display()
                    )),
                    _ => e,
                }
            })?;
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
}

/// `mkdirat(dir, name, 0755)`.
fn mkdir_at(dir: &OwnedFd, name: &OsStr) -> io::Result<()> {
    let name = c_string(name)?;
    // SAFETY: plain system call on a NUL-terminated name; the result is checked.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755) }).map(drop)
}

/// `symlinkat(target, dir, name)`: the target is written, never followed.
fn symlink_at(target: &[u8], dir: &OwnedFd, name: &OsStr) -> io::Result<()> {
    let target = CString::new(target).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let name = c_string(name)?;
    // SAFETY: plain system call on NUL-terminated strings; the result is checked.
    check(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) }).map(drop)
}
