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
use std::io::Write;
use std::os::unix::fs::FileExt;

/// Size of the buffer blob bytes are copied through.
const COPY_BUFFER: usize = 1 << 20;

impl Blob {
    /// Copies the blob's bytes to `out` (named `target` in errors). A source shorter than
    /// `size` (a truncated archive) is an error naming the blob.
    pub fn write_to(&self, out: &mut impl Write, target: &str) -> Result<()> {
        let mut buffer = vec![0u8; COPY_BUFFER.min(self.size as usize).max(1)];
        let mut done = 0u64;
        while done < self.size {
            let want = (self.size - done).min(buffer.len() as u64) as usize;
            let n = self
                .file
                .read_at(&mut buffer[..want], self.offset + done)
                .map_err(|e| self.error(format!("cannot read: {e}")))?;
            if n == 0 {
                return Err(self.error(format!(
                    "truncated: expected {} bytes, found {done}",
                    self.size
                )));
            }
            out.write_all(&buffer[..n])
                .map_err(|e| Error::write(target, e))?;
            done += n as u64;
        }
        Ok(())
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
