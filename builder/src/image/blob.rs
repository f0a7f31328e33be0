//! Layers that already exist as tar bytes somewhere on disk: a base image's layer inside
//! its archive, or the customisation layer's `layer.tar`. They are copied unchanged (so
//! their diff_id stays the same) and their digest is checked while they stream.

use std::fs::File;
use std::sync::Arc;

/// A byte range of an open file that becomes one layer of the image, unchanged.
#[derive(Debug, Clone)]
pub struct Blob {
    /// The file holding the bytes (shared: several layers of one base archive).
    pub file: Arc<File>,
    /// Where the layer's bytes start in `file`.
    pub offset: u64,
    /// How many bytes the layer has.
    pub size: u64,
    /// The SHA-256 (lower-case hex, no `sha256:` prefix) the bytes must have, when the
    /// source states one. Checked while copying.
    pub expected_sha256: Option<String>,
    /// Says where the bytes come from, for error messages and the image history, e.g.
    /// `base image /nix/store/…-base.tar: member layers/000.tar`.
    pub origin: String,
}

use crate::error::{Error, Result};
use crate::tar::copy::{copy_exact, CopyError};
use crate::tar::digest::{HashingWriter, Sha256Digest};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;

impl Blob {
    /// Copies the blob's bytes to `out` (named `target` in errors). A source shorter than
    /// `size` (a truncated archive) is an error naming the blob.
    pub fn write_to(&self, out: &mut impl Write, target: &str) -> Result<()> {
        self.write_range_to(0, self.size, &mut Vec::new(), out, target)
    }

    /// Copies the `len` bytes at `start` of the blob to `out` (named `target` in errors),
    /// through `buffer`: one file's data out of a layer, when an image is flattened.
    pub fn write_range_to(
        &self,
        start: u64,
        len: u64,
        buffer: &mut Vec<u8>,
        out: &mut impl Write,
        target: &str,
    ) -> Result<()> {
        if start.checked_add(len).is_none_or(|end| end > self.size) {
            return Err(Error::Internal(format!(
                "{}: range of {len} bytes at {start} lies outside the blob of {} bytes",
                self.origin, self.size
            )));
        }
        let read = |buf: &mut [u8], done: u64| self.file.read_at(buf, self.offset + start + done);
        copy_exact(len, buffer, read, out).map_err(|e| match e {
            CopyError::Read(e) => self.error(format!("cannot read: {e}")),
            CopyError::Short(done) => self.error(format!(
                "truncated: expected {len} bytes at offset {start}, found {done}"
            )),
            CopyError::Write(e) => Error::write(target, e),
        })
    }

    /// A reader of the blob's bytes from the start, reading at positions so that blobs
    /// sharing one file never disturb each other.
    pub fn reader(&self) -> BlobReader<'_> {
        BlobReader {
            blob: self,
            done: 0,
        }
    }

    /// Reads the blob once to hash it: for sources that state no digest (legacy
    /// layers) when the digest must be known before the bytes are written.
    pub fn digest(&self) -> Result<Sha256Digest> {
        let mut hashing = HashingWriter::new(io::sink());
        self.write_to(&mut hashing, "a hash")?;
        Ok(hashing.finish().0)
    }

    /// Checks the digest computed while copying against the one the source states.
    pub fn verify(&self, actual_hex: &str) -> Result<()> {
        match &self.expected_sha256 {
            Some(expected) if expected != actual_hex => Err(self.error(format!(
                "content has sha256 {actual_hex} but sha256 {expected} was declared; the archive is corrupt or was tampered with"
            ))),
            _ => Ok(()),
        }
    }

    /// An error about this blob, prefixed with where it comes from.
    fn error(&self, message: String) -> Error {
        Error::Input {
            path: self.origin.clone().into(),
            message,
        }
    }
}

/// Reads a [`Blob`]'s bytes in order; see [`Blob::reader`].
pub struct BlobReader<'a> {
    blob: &'a Blob,
    /// How many bytes were read so far.
    done: u64,
}

impl std::io::Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.blob.size.saturating_sub(self.done);
        let want = (buf.len() as u64).min(left) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self
            .blob
            .file
            .read_at(&mut buf[..want], self.blob.offset + self.done)?;
        self.done += n as u64;
        Ok(n)
    }
}

impl std::io::Seek for BlobReader<'_> {
    /// Seeking lets tar skip member contents when only headers are wanted.
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            std::io::SeekFrom::Start(n) => Some(n),
            std::io::SeekFrom::Current(d) => self.done.checked_add_signed(d),
            std::io::SeekFrom::End(d) => self.blob.size.checked_add_signed(d),
        };
        self.done = target.ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        Ok(self.done)
    }
}

/// A blob of `bytes` in an anonymous temporary file, for tests of what reads blobs.
#[cfg(test)]
pub(crate) fn blob_of(bytes: &[u8]) -> Blob {
    let file = tempfile::tempfile().expect("a temporary file");
    file.write_all_at(bytes, 0).expect("write the blob");
    Blob {
        file: Arc::new(file),
        offset: 0,
        size: bytes.len() as u64,
        expected_sha256: None,
        origin: "test layer".into(),
    }
}
