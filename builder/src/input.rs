//! Opening and reading input files with bounds: an input (a conf, `.attrs.json`, a
//! graph, a pipeline, a base image) must be a regular file, because a FIFO would make us
//! wait for a writer forever and a device such as `/dev/zero` never ends; and a file
//! read whole is never trusted to be small.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The largest input read whole: far above the graph of a million store paths.
pub const MAX_INPUT: u64 = 512 << 20;

/// What [`open_regular`] says of anything but a regular file.
pub const NOT_REGULAR: &str = "is not a regular file (a pipe or a device?)";

/// Opens `file` for reading if it is a regular file; anything else is an
/// [`io::ErrorKind::InvalidInput`] error saying [`NOT_REGULAR`]. The file is opened
/// without blocking, so a FIFO is refused instead of waited on.
pub fn open_regular(file: &Path) -> io::Result<File> {
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(file)?;
    if !opened.metadata()?.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, NOT_REGULAR));
    }
    Ok(opened)
}

/// The bytes of the regular file `file`, or an error when it cannot be read or holds
/// more than [`MAX_INPUT`] bytes.
pub fn read_bounded(file: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open_regular(file)?
        .take(MAX_INPUT + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(io::Error::other(format!(
            "holds more than {} MiB; is it the right file?",
            MAX_INPUT >> 20
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_or_a_fifo_is_refused_not_read() {
        for device in ["/dev/zero", "/dev/null"] {
            let err = read_bounded(Path::new(device)).unwrap_err();
            assert_eq!(err.to_string(), NOT_REGULAR);
        }
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("conf.fifo");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        assert_eq!(read_bounded(&fifo).unwrap_err().to_string(), NOT_REGULAR);
    }

    #[test]
    fn a_file_past_the_bound_is_an_error_not_all_memory() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.json");
        // Sparse: the bound is checked on what is read, not on what the disk holds.
        File::create(&big).unwrap().set_len(MAX_INPUT + 1).unwrap();
        assert_eq!(
            read_bounded(&big).unwrap_err().to_string(),
            "holds more than 512 MiB; is it the right file?"
        );
    }
}
