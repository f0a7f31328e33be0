//! Opening the files of a planned layer for reading without following symlinks: every
//! component below a trusted directory is opened with `O_NOFOLLOW`, relative to its
//! already opened parent. A file or directory replaced by a symlink after planning then
//! fails to open instead of pulling the symlink's target (outside the store, say) into
//! the image: the class of Docker's CVE-2018-15664.

use crate::sys::open_at;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// Opens files under one directory, remembering the last parent directory opened (the
/// members of a layer come sorted, so consecutive files mostly share it).
pub(crate) struct TreeReader {
    base: OwnedFd,
    /// The last parent directory opened, by its path relative to `base`.
    parent: Option<(PathBuf, OwnedFd)>,
}

impl TreeReader {
    /// Opens `base`, the directory trusted as it is (symlinks in its own path are
    /// followed: `/nix` may be one on some systems).
    pub(crate) fn open(base: &Path) -> io::Result<TreeReader> {
        let base = open_below(None, base.as_os_str(), libc::O_DIRECTORY)?;
        Ok(TreeReader { base, parent: None })
    }

    /// Opens the file at `relative` (under the base) for reading. Fails with `ELOOP` or
    /// `ENOTDIR` when the file or any directory on the way is a symlink, and never
    /// blocks on a FIFO put in a file's place.
    pub(crate) fn open_file(&mut self, relative: &Path) -> io::Result<File> {
        let (parent, name) = match (relative.parent(), relative.file_name()) {
            (Some(parent), Some(name)) => (parent, name),
            _ => return Err(io::Error::from_raw_os_error(libc::EINVAL)),
        };
        if self.parent.as_ref().is_none_or(|(path, _)| path != parent) {
            let fd = self.open_dir(parent)?;
            self.parent = Some((parent.to_owned(), fd));
        }
        let dir = self.parent.as_ref().map(|(_, fd)| fd);
        let fd = open_below(dir, name, libc::O_NONBLOCK | libc::O_NOCTTY)?;
        Ok(File::from(fd))
    }

    /// Opens the directory `relative` (under the base) one component at a time.
    fn open_dir(&self, relative: &Path) -> io::Result<OwnedFd> {
        let mut current: Option<OwnedFd> = None;
        for component in relative.components() {
            let Component::Normal(name) = component else {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            };
            let dir = current.as_ref().unwrap_or(&self.base);
            current = Some(open_below(Some(dir), name, libc::O_DIRECTORY)?);
        }
        match current {
            Some(fd) => Ok(fd),
            None => self.base.try_clone(),
        }
    }
}

/// `openat(dir, name, O_RDONLY | O_NOFOLLOW | flags)`; without `dir`, a plain `open`
/// that follows symlinks (for the trusted base only).
fn open_below(dir: Option<&OwnedFd>, name: &OsStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    let (dir_fd, follow) = match dir {
        Some(fd) => (fd.as_raw_fd(), libc::O_NOFOLLOW),
        None => (libc::AT_FDCWD, 0),
    };
    open_at(dir_fd, name, libc::O_RDONLY | follow | flags, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_below_the_base_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "secret").unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/f"), "ok").unwrap();
        symlink(outside.path().join("secret"), dir.path().join("d/link")).unwrap();
        symlink(outside.path(), dir.path().join("dirlink")).unwrap();

        let mut reader = TreeReader::open(dir.path()).unwrap();
        let mut text = String::new();
        reader
            .open_file(Path::new("d/f"))
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "ok");
        let err = reader.open_file(Path::new("d/link")).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP));
        let err = reader.open_file(Path::new("dirlink/secret")).unwrap_err();
        assert!(
            matches!(err.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)),
            "{err}"
        );
    }
}
