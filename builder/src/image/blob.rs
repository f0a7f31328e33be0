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
        let mut buffer = Vec::new();
        let read = |buf: &mut [u8], done: u64| self.file.read_at(buf, self.offset + done);
        copy_exact(self.size, &mut buffer, read, out).map_err(|e| match e {
            CopyError::Read(e) => self.error(format!("cannot read: {e}")),
            CopyError::Short(done) => self.error(format!(
                "truncated: expected {} bytes, found {done}",
                self.size
            )),
            CopyError::Write(e) => Error::write(target, e),
        })
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
