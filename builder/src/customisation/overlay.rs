//! Turning an overlay's upper directory into layer contents: the kernel records a
//! deletion as a 0/0 character device and a directory that replaced one below as a
//! directory with the `user.overlay.opaque` attribute; image layers say the same with
//! `.wh.<name>` and `.wh..wh..opq` files (Docker's whiteouts).

use crate::error::{Error, Result};
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The attribute an overlay mounted with `userxattr` marks opaque directories with.
const OPAQUE_XATTR: &std::ffi::CStr = c"user.overlay.opaque";

/// Rewrites the whiteouts under `upper` as whiteout files, in place.
pub fn whiteouts_to_files(upper: &Path) -> Result<()> {
    let fail = |path: &Path, e: std::io::Error| {
        Error::input(path, format!("reading runAsRoot's changes: {e}"))
    };
    if is_opaque(upper) {
        fs::write(upper.join(".wh..wh..opq"), b"").map_err(|e| fail(upper, e))?;
    }
    for child in fs::read_dir(upper).map_err(|e| fail(upper, e))? {
        let child = child.map_err(|e| fail(upper, e))?;
        let path = child.path();
        let meta = fs::symlink_metadata(&path).map_err(|e| fail(&path, e))?;
        if meta.file_type().is_char_device() && meta.rdev() == 0 {
            fs::remove_file(&path).map_err(|e| fail(&path, e))?;
            let mut name = std::ffi::OsString::from(".wh.");
            name.push(child.file_name());
            fs::write(upper.join(name), b"").map_err(|e| fail(&path, e))?;
        } else if meta.is_dir() {
            whiteouts_to_files(&path)?;
        }
    }
    Ok(())
}

/// Whether the directory `dir` carries the overlay's opaque mark.
fn is_opaque(dir: &Path) -> bool {
    let Ok(path) = CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    let mut value = [0u8; 1];
    // SAFETY: plain system call with a NUL-terminated path and a buffer of its length.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            OPAQUE_XATTR.as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    n == 1 && value[0] == b'y'
}

/// Copies each of `paths` (relative) that is in `lower` but not in `upper` into `upper`,
/// as the overlay would have on a change: the file itself, or an empty directory of the
/// same mode (its contents stay below). Parents come along as directories.
pub fn copy_up<'a>(
    paths: impl Iterator<Item = &'a PathBuf>,
    lower: &Path,
    upper: &Path,
) -> Result<()> {
    for path in paths {
        let (from, to) = (lower.join(path), upper.join(path));
        if fs::symlink_metadata(&to).is_ok() {
            continue;
        }
        let Ok(meta) = fs::symlink_metadata(&from) else {
            continue; // neither here nor below: the journal names what the commands did
        };
        let fail = |e: std::io::Error| Error::input(&to, format!("copying up for a chown: {e}"));
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).map_err(fail)?;
        }
        if meta.is_dir() {
            fs::create_dir(&to).map_err(fail)?;
            fs::set_permissions(&to, meta.permissions()).map_err(fail)?;
        } else if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&from).map_err(fail)?, &to).map_err(fail)?;
        } else {
            fs::copy(&from, &to).map_err(fail)?;
        }
    }
    Ok(())
}
