//! `enableFakechroot` without fakechroot or proot: the commands run in a new user and mount
//! namespace, chrooted into the image tree, with the store, `/dev` and `/proc` bound in.
//! Absolute paths then mean paths of the image. The Nix sandbox allows this on the
//! machines we target (unprivileged user namespaces); where the kernel refuses, the build
//! stops with an error saying so.
//!
//! Only our own uid is mapped (to 0), so commands see themselves as root but cannot give
//! files away: ownership goes through the fakeroot journal as without the chroot.

use crate::error::{Error, Result};
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
        let mut binds = Vec::new();
        let relative = |p: &Path| p.strip_prefix("/").unwrap_or(p).to_owned();
        let standard = [
            (store_dir, true),
            (Path::new("/dev"), false),
            (Path::new("/proc"), false),
        ]
        .map(|(source, required)| (source.to_owned(), relative(source), required));
        let extra = extra
            .iter()
            .map(|(source, place)| (source.clone(), relative(place), true));
        for (source, place, required) in standard.into_iter().chain(extra) {
            let target = root.join(place);
            make_mount_point(&target, &mut created)?;
            binds.push((c_path(&source)?, c_path(&target)?, required));
        }
        // SAFETY: getuid/getgid cannot fail and touch no memory.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        Ok(Chroot {
            root: c_path(root)?,
            binds,
            created,
            uid_map: format!("0 {uid} 1\n").into_bytes(),
            gid_map: format!("0 {gid} 1\n").into_bytes(),
        })
    }

    /// Makes `command` enter the chroot between fork and exec.
    pub fn apply(&self, command: &mut Command) {
        let root = self.root.clone();
        let binds = self.binds.clone();
        let (uid_map, gid_map) = (self.uid_map.clone(), self.gid_map.clone());
        // SAFETY: the closure only makes system calls on memory allocated before the fork,
        // which is what `pre_exec` allows.
        unsafe {
            command.pre_exec(move || enter(&root, &binds, &uid_map, &gid_map));
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

/// The child's side: new namespaces, uid 0 mapped to ours, binds, chroot.
fn enter(
    root: &CString,
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

/// A C return value as a `Result`.
fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
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
            format!("cannot create a mount point for enableFakechroot: {e}"),
        )
    })?;
    if !dir.is_dir() || std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Error::input(
            dir,
            "must be a directory for enableFakechroot to mount the store there",
        ));
    }
    created.extend(missing.into_iter().rev());
    Ok(())
}

/// A path as a C string.
fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::input(path, "contains a NUL byte"))
}

/// The message for a kernel that refuses the namespaces.
pub fn explain_spawn_error(error: &io::Error) -> String {
    format!(
        "enableFakechroot could not enter a user and mount namespace chroot ({error}); this kernel or sandbox forbids unprivileged user namespaces: leave enableFakechroot off and use paths relative to the image root"
    )
}
