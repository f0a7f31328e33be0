//! `enableFakechroot` without fakechroot or proot: the commands run in a new user and mount
//! namespace, chrooted into the image tree, with the store, `/dev` and `/proc` bound in.
//! Absolute paths then mean paths of the image. The Nix sandbox allows this on the
//! machines we target (unprivileged user namespaces); where the kernel refuses, the build
//! stops with an error saying so.
//!
//! Only our own uid is mapped (to 0), so commands see themselves as root but cannot give
//! files away: ownership goes through the fakeroot journal as without the chroot.

use crate::error::{Error, Result};
use crate::sys::{c_string, check};
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A prepared chroot: the mount points it made in the tree (removed again afterwards) and
/// everything the child needs, allocated before the fork.
pub struct Chroot {
    root: CString,
    /// For runAsRoot: the overlay (its mount options) mounted at `root` first.
    overlay: Option<CString>,
    /// (source, mount point inside the tree, required): a missing optional one is skipped.
    binds: Vec<(CString, CString, bool)>,
    created: Vec<PathBuf>,
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
}

impl Chroot {
    /// Prepares a chroot into `root` with `store_dir`, `/dev` and `/proc` bound in, and
    /// each `(directory, place)` of `extra` bound at `place` (relative to `root`).
    pub fn prepare(root: &Path, store_dir: &Path, extra: &[(PathBuf, PathBuf)]) -> Result<Chroot> {
        let mut created = Vec::new();
        let mounts = mounts(store_dir, &[], extra);
        let binds = bind_mounts(&mounts, root, root, &mut created)?;
        Chroot::new(root, None, binds, created)
    }

    /// Prepares a chroot into an overlay of `upper` (where changes go, with whiteouts for
    /// deletions) on `lower`, mounted at `merged`, with `store_dir`, `/dev`, `/proc`,
    /// `/sys` and `extra` bound in: runAsRoot's. The mount points are made in `lower`,
    /// so that the changes in `upper` are the commands' only.
    pub fn overlay(
        lower: &Path,
        upper: &Path,
        work: &Path,
        merged: &Path,
        store_dir: &Path,
        extra: &[(PathBuf, PathBuf)],
    ) -> Result<Chroot> {
        let mut created = Vec::new();
        let mounts = mounts(store_dir, &[Path::new("/sys")], extra);
        let binds = bind_mounts(&mounts, lower, merged, &mut created)?;
        for dir in [work, merged] {
            std::fs::create_dir_all(dir).map_err(|e| Error::input(dir, e.to_string()))?;
        }
        let options = format!(
            "lowerdir={},upperdir={},workdir={},userxattr",
            lower.display(),
            upper.display(),
            work.display()
        );
        let options =
            CString::new(options).map_err(|_| Error::input(lower, "contains a NUL byte"))?;
        Chroot::new(merged, Some(options), binds, created)
    }

    /// A chroot into `root` with the given mounts, for our own uid mapped to root.
    fn new(
        root: &Path,
        overlay: Option<CString>,
        binds: Vec<(CString, CString, bool)>,
        created: Vec<PathBuf>,
    ) -> Result<Chroot> {
        // SAFETY: getuid/getgid cannot fail and touch no memory.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        Ok(Chroot {
            root: c_path(root)?,
            overlay,
            binds,
            created,
            uid_map: format!("0 {uid} 1\n").into_bytes(),
            gid_map: format!("0 {gid} 1\n").into_bytes(),
        })
    }

    /// The directory the commands see as `/`, as we see it.
    pub fn root(&self) -> PathBuf {
        PathBuf::from(std::ffi::OsStr::from_bytes(self.root.as_bytes()))
    }

    /// Makes `command` enter the chroot between fork and exec.
    pub fn apply(&self, command: &mut Command) {
        let root = self.root.clone();
        let overlay = self.overlay.clone();
        let binds = self.binds.clone();
        let (uid_map, gid_map) = (self.uid_map.clone(), self.gid_map.clone());
        // SAFETY: the closure only makes system calls on memory allocated before the fork,
        // which is what `pre_exec` allows.
        unsafe {
            command.pre_exec(move || enter(&root, overlay.as_ref(), &binds, &uid_map, &gid_map));
        }
    }

    /// Removes the mount points this chroot created, deepest first, if they are empty
    /// (a command may have put files there; those stay, and go into the layer).
    pub fn cleanup(self) {
        for dir in self.created.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// What a chroot binds: (source, place inside the chroot, required). The store must be
/// there; `/dev`, `/proc` and `optional` are bound where the sandbox has them; `extra`
/// directories are required.
fn mounts(
    store_dir: &Path,
    optional: &[&Path],
    extra: &[(PathBuf, PathBuf)],
) -> Vec<(PathBuf, PathBuf, bool)> {
    let standard = [Path::new("/dev"), Path::new("/proc")]
        .into_iter()
        .chain(optional.iter().copied());
    std::iter::once((store_dir.to_owned(), store_dir.to_owned(), true))
        .chain(standard.map(|p| (p.to_owned(), p.to_owned(), false)))
        .chain(
            extra
                .iter()
                .map(|(source, place)| (source.clone(), place.clone(), true)),
        )
        .collect()
}

/// The bind mounts of `mounts`, made with their mount points under `points` (the tree,
/// or an overlay's lower directory) and their targets under `target`. Made directories
/// are added to `created`.
fn bind_mounts(
    mounts: &[(PathBuf, PathBuf, bool)],
    points: &Path,
    target: &Path,
    created: &mut Vec<PathBuf>,
) -> Result<Vec<(CString, CString, bool)>> {
    mounts
        .iter()
        .map(|(source, place, required)| {
            let place = place.strip_prefix("/").unwrap_or(place);
            make_mount_point(&points.join(place), created)?;
            Ok((c_path(source)?, c_path(&target.join(place))?, *required))
        })
        .collect()
}

/// The child's side: new namespaces, uid 0 mapped to ours, binds, chroot.
fn enter(
    root: &CString,
    overlay: Option<&CString>,
    binds: &[(CString, CString, bool)],
    uid_map: &[u8],
    gid_map: &[u8],
) -> io::Result<()> {
    // SAFETY: plain system calls on valid, NUL-terminated buffers.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS))?;
        write_proc(c"/proc/self/setgroups", b"deny")?;
        write_proc(c"/proc/self/uid_map", uid_map)?;
        write_proc(c"/proc/self/gid_map", gid_map)?;
        check(libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ))?;
        if let Some(options) = overlay {
            check(libc::mount(
                c"overlay".as_ptr(),
                root.as_ptr(),
                c"overlay".as_ptr(),
                0,
                options.as_ptr().cast(),
            ))?;
        }
        for (source, target, required) in binds {
            let result = libc::mount(
                source.as_ptr(),
                target.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            );
            if *required {
                check(result)?;
            }
        }
        check(libc::chroot(root.as_ptr()))?;
        check(libc::chdir(c"/".as_ptr()))?;
    }
    Ok(())
}

/// Writes `bytes` to a `/proc/self` control file.
///
/// # Safety
/// Only system calls; `path` is NUL-terminated.
unsafe fn write_proc(path: &std::ffi::CStr, bytes: &[u8]) -> io::Result<()> {
    let fd = check(libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC))?;
    let written = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
    libc::close(fd);
    if written < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Creates `dir` (and missing parents) as a mount point, recording what it created.
fn make_mount_point(dir: &Path, created: &mut Vec<PathBuf>) -> Result<()> {
    let missing: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|a| !a.exists())
        .map(Path::to_owned)
        .collect();
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::input(
            dir,
            format!("cannot create a mount point for the chroot: {e}"),
        )
    })?;
    if !dir.is_dir() || std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Error::input(
            dir,
            "must be a directory for the chroot to mount the store there",
        ));
    }
    created.extend(missing.into_iter().rev());
    Ok(())
}

/// A path as a C string.
fn c_path(path: &Path) -> Result<CString> {
    c_string(path.as_os_str()).map_err(|_| Error::input(path, "contains a NUL byte"))
}

/// The message for a kernel that refuses the namespaces: `what` could not start, and
/// `instead` is what to do.
pub fn explain_spawn_error(what: &str, instead: &str, error: &io::Error) -> String {
    format!(
        "{what} could not enter a user and mount namespace chroot ({error}); this kernel or sandbox forbids unprivileged user namespaces or mounts in them: {instead}"
    )
}
