//! Copying a known number of bytes through one buffer: how file contents and blobs go
//! into a layer. The size is the planned one, so a source that ends early is reported,
//! never padded over.

use std::io::{self, Write};

/// Size of the buffer bytes are copied through, and of the writers that batch them.
pub(crate) const COPY_BUFFER: usize = 1 << 20;

/// Why [`copy_exact`] stopped.
pub(crate) enum CopyError {
    /// Reading failed.
    Read(io::Error),
    /// The source ended after this many bytes.
    Short(u64),
    /// Writing failed.
    Write(io::Error),
}

/// Copies exactly `size` bytes to `out`; `read(buffer, done)` fills `buffer` with the
/// bytes from offset `done` and returns how many it gave (0 at the end). `buffer` is
/// reused between calls to spare an allocation per file.
pub(crate) fn copy_exact(
    size: u64,
    buffer: &mut Vec<u8>,
    mut read: impl FnMut(&mut [u8], u64) -> io::Result<usize>,
    out: &mut impl Write,
) -> Result<(), CopyError> {
    buffer.resize(COPY_BUFFER, 0);
    let mut done = 0u64;
    while done < size {
        let want = (size - done).min(buffer.len() as u64) as usize;
        let n = read(&mut buffer[..want], done).map_err(CopyError::Read)?;
        if n == 0 {
            return Err(CopyError::Short(done));
        }
        out.write_all(&buffer[..n]).map_err(CopyError::Write)?;
        done += n as u64;
    }
    Ok(())
}
