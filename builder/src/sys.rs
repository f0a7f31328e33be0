//! The thin wrappers every part that makes raw system calls needs: a result checked
//! against `errno`, a path as a C string, and `openat`. A leaf: it uses nothing of ours.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

/// `result`, or the error in `errno` when it is negative (the system-call convention).
pub(crate) fn check(result: libc::c_int) -> io::Result<libc::c_int> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

/// `name` as a C string; a NUL byte in it is `EINVAL`, as the kernel would say.
pub(crate) fn c_string(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `openat(dir, name, O_CLOEXEC | flags, mode)` (`dir` may be `AT_FDCWD`).
pub(crate) fn open_at(
    dir: RawFd,
    name: &OsStr,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> io::Result<OwnedFd> {
    let name = c_string(name)?;
    // SAFETY: plain system call on a NUL-terminated name; the result is checked.
    let fd = check(unsafe { libc::openat(dir, name.as_ptr(), libc::O_CLOEXEC | flags, mode) })?;
    // SAFETY: `fd` was just opened and belongs to nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Asks for a pipe buffer of `bytes` on `file` if it is a pipe. A larger buffer means
/// fewer wake-ups of the writer and the reader per megabyte (the default is 64 KiB).
/// Anything but a pipe, or a size over `/proc/sys/fs/pipe-max-size`, is left as it is:
/// this only changes how fast the bytes go.
pub(crate) fn widen_pipe(file: &std::fs::File, bytes: usize) {
    use std::os::fd::AsRawFd;
    let bytes = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: fcntl on a descriptor we own; failure changes nothing and is ignored.
    unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETPIPE_SZ, bytes) };
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`: a child's metadata looked up from its open
/// directory, which spares the kernel walking the whole path again for every file.
pub(crate) fn lstat_at(dir: &OwnedFd, name: &OsStr) -> io::Result<libc::stat> {
    use std::os::fd::AsRawFd;
    let name = c_string(name)?;
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `stat` is written by the kernel before it is read, which the result checks.
    check(unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            stat.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    // SAFETY: fstatat succeeded, so it filled `stat`.
    Ok(unsafe { stat.assume_init() })
}
