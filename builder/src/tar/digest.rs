//! SHA-256 computed on the way through: every layer byte is hashed as it is written, so
//! the diff_id is known the moment the layer ends and no byte is read twice.

use sha2::{Digest as _, Sha256};
use std::io::{self, Read, Write};

/// A SHA-256 digest, rendered as lower-case hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// The digest of `bytes` in one go (configs and manifests, which are small).
    pub fn of(bytes: &[u8]) -> Self {
        Sha256Digest(Sha256::digest(bytes).into())
    }

    /// Lower-case hex, as in `<hex>.json` and after `sha256:`.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The `sha256:<hex>` form used in diff_ids and descriptors.
    pub fn prefixed(&self) -> String {
        format!("sha256:{}", self.hex())
    }
}

/// A writer that hashes and counts everything passed to the inner writer.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`; nothing has been hashed yet.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            written: 0,
        }
    }

    /// How many bytes went through so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The digest of everything written, and the inner writer back.
    pub fn finish(self) -> (Sha256Digest, W) {
        (Sha256Digest(self.hasher.finalize().into()), self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes everything read through it: how a layer is checked against its
/// diff_id in the same pass that parses it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`; nothing has been hashed yet.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// Reads what is left (so the digest covers the whole input) and returns the digest.
    pub fn finish(mut self) -> io::Result<Sha256Digest> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(Sha256Digest(self.hasher.finalize().into()))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_what_passes_through() {
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"ab").unwrap();
        w.write_all(b"c").unwrap();
        let (digest, inner) = w.finish();
        assert_eq!(inner, b"abc");
        assert_eq!(digest, Sha256Digest::of(b"abc"));
        assert_eq!(
            digest.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn reading_hashes_the_part_read_and_finish_the_rest() {
        let mut r = HashingReader::new(&b"abc"[..]);
        let mut first = [0u8; 1];
        r.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"a");
        assert_eq!(r.finish().unwrap(), Sha256Digest::of(b"abc"));
    }
}
