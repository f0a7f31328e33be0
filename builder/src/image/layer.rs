//! A layer of the image, whatever it is made of, and writing it with its diff_id computed
//! on the way.

use crate::error::{Error, Result};
use crate::image::blob::Blob;
use crate::tar::digest::{HashingWriter, Sha256Digest};
use crate::tar::fs_layer::FsLayer;
use std::io::Write;

/// What a layer's bytes come from.
#[derive(Debug, Clone)]
pub enum LayerSource {
    /// Files on disk (store paths, a root tree), archived by us: the parts' members
    /// one after another in one tar.
    Files(Vec<FsLayer>),
    /// Existing tar bytes copied unchanged (base image layers, the customisation layer).
    Blob(Blob),
}

/// One layer of the image being built.
#[derive(Debug, Clone)]
pub struct Layer {
    pub source: LayerSource,
    /// The `history` comment for this layer; `None` for base layers, whose history the
    /// base image's config already holds.
    pub comment: Option<String>,
}

impl Layer {
    /// The exact size of the layer's tar bytes, known before writing.
    pub fn size(&self) -> u64 {
        match &self.source {
            LayerSource::Files(parts) => {
                parts.iter().map(|p| p.members_size).sum::<u64>()
                    + crate::tar::END_OF_ARCHIVE.len() as u64
            }
            LayerSource::Blob(blob) => blob.size,
        }
    }

    /// Writes the layer's tar bytes to `out` and returns their SHA-256 (the diff_id).
    /// Blobs whose source states a digest are verified against it.
    pub fn write_to(&self, out: &mut impl Write, target: &str) -> Result<Sha256Digest> {
        let mut hashing = HashingWriter::new(out);
        match &self.source {
            LayerSource::Files(parts) => {
                for part in parts {
                    part.write_members_to(&mut hashing, target)?;
                }
                hashing
                    .write_all(&crate::tar::END_OF_ARCHIVE)
                    .map_err(|e| Error::write(target, e))?;
            }
            LayerSource::Blob(blob) => blob.write_to(&mut hashing, target)?,
        }
        if hashing.written() != self.size() {
            return Err(Error::Internal(format!(
                "layer planned as {} bytes came out as {}",
                self.size(),
                hashing.written()
            )));
        }
        let (digest, _) = hashing.finish();
        if let LayerSource::Blob(blob) = &self.source {
            blob.verify(&digest.hex())?;
        }
        Ok(digest)
    }
}
