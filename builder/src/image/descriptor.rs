//! What registries and OCI layouts name blobs by: content descriptors (media type,
//! digest, size), the media types of both manifest formats, and a layer written as the
//! blob they store, compressed or not, with both its digests computed on the way.

use crate::error::{Error, Result};
use crate::image::layer::Layer;
use crate::tar::compression::Compression;
use crate::tar::digest::{HashingWriter, Sha256Digest};
use crate::tar::parallel_compress::{Codec, ParallelCompress};
use serde_json::{json, Value};
use std::io::Write;

/// Which family of media types a manifest uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestFormat {
    /// Docker's image manifest v2 schema 2 (what `docker push` sends; Docker 20.10 pulls
    /// it, gzip layers only).
    Docker,
    /// The OCI image manifest (any layer compression).
    Oci,
}

impl ManifestFormat {
    pub fn manifest_media_type(self) -> &'static str {
        match self {
            ManifestFormat::Docker => "application/vnd.docker.distribution.manifest.v2+json",
            ManifestFormat::Oci => "application/vnd.oci.image.manifest.v1+json",
        }
    }

    pub fn index_media_type(self) -> &'static str {
        match self {
            ManifestFormat::Docker => "application/vnd.docker.distribution.manifest.list.v2+json",
            ManifestFormat::Oci => "application/vnd.oci.image.index.v1+json",
        }
    }

    pub fn config_media_type(self) -> &'static str {
        match self {
            ManifestFormat::Docker => "application/vnd.docker.container.image.v1+json",
            ManifestFormat::Oci => "application/vnd.oci.image.config.v1+json",
        }
    }

    /// The media type of a layer compressed as `compression`. Docker's schema has no
    /// zstd layer type: asking for one is an error saying to use OCI.
    pub fn layer_media_type(self, compression: Compression) -> Result<&'static str> {
        Ok(match (self, compression) {
            (ManifestFormat::Docker, Compression::None) => {
                "application/vnd.docker.image.rootfs.diff.tar"
            }
            (ManifestFormat::Docker, Compression::Gzip) => {
                "application/vnd.docker.image.rootfs.diff.tar.gzip"
            }
            (ManifestFormat::Docker, Compression::Zstd) => {
                return Err(Error::Usage(
                    "zstd layers need OCI media types: use --format oci (Docker's manifest has no zstd layer type)".into(),
                ))
            }
            (ManifestFormat::Oci, Compression::None) => "application/vnd.oci.image.layer.v1.tar",
            (ManifestFormat::Oci, Compression::Gzip) => {
                "application/vnd.oci.image.layer.v1.tar+gzip"
            }
            (ManifestFormat::Oci, Compression::Zstd) => {
                "application/vnd.oci.image.layer.v1.tar+zstd"
            }
        })
    }
}

/// A blob as a manifest or index names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Sha256Digest,
    pub size: u64,
}

impl Descriptor {
    /// The descriptor of the small JSON blob `bytes`.
    pub fn of_bytes(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_owned(),
            digest: Sha256Digest::of(bytes),
            size: bytes.len() as u64,
        }
    }

    /// The descriptor as JSON (`mediaType`, `digest`, `size`).
    pub fn to_json(&self) -> Value {
        json!({
            "mediaType": self.media_type,
            "digest": self.digest.prefixed(),
            "size": self.size,
        })
    }
}

/// A layer as a registry stores it: the digest and size of its (compressed) blob, and
/// the digest and size of the tar inside (its diff_id, which the config lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerDigests {
    pub diff_id: Sha256Digest,
    pub tar_size: u64,
    pub blob: Sha256Digest,
    pub blob_size: u64,
}

/// The manifest of an image whose config blob is `config` and whose layers are
/// `layers`, bottom first.
pub fn image_manifest(format: ManifestFormat, config: &Descriptor, layers: &[Descriptor]) -> Value {
    json!({
        "schemaVersion": 2,
        "mediaType": format.manifest_media_type(),
        "config": config.to_json(),
        "layers": layers.iter().map(Descriptor::to_json).collect::<Vec<_>>(),
    })
}

/// Writes `layer` to `out` as the blob a registry stores, compressed as `compression`
/// (in blocks, so the bytes are the same whatever the number of cores), and returns
/// both its digests. `target` names `out` in errors.
pub fn write_layer_blob(
    layer: &Layer,
    compression: Compression,
    out: impl Write,
    target: &str,
) -> Result<LayerDigests> {
    let codec = match compression {
        Compression::None => None,
        Compression::Gzip => Some(Codec::gzip()),
        Compression::Zstd => Some(Codec::zstd()),
    };
    let mut blob = HashingWriter::new(out);
    let diff_id = match codec {
        None => layer.write_to(&mut blob, target)?,
        Some(codec) => {
            let mut encoder = ParallelCompress::new(&mut blob, codec);
            let diff_id = layer.write_to(&mut encoder, target)?;
            encoder.finish().map_err(|e| Error::write(target, e))?;
            diff_id
        }
    };
    blob.flush().map_err(|e| Error::write(target, e))?;
    let blob_size = blob.written();
    let (blob_digest, _) = blob.finish();
    Ok(LayerDigests {
        diff_id,
        tar_size: layer.size(),
        blob: blob_digest,
        blob_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::blob::blob_of;
    use crate::image::layer::LayerSource;
    use std::io::Read;

    fn layer(bytes: &[u8]) -> Layer {
        Layer {
            source: LayerSource::Blob(blob_of(bytes)),
            comment: None,
        }
    }

    #[test]
    fn a_compressed_blob_names_both_digests() {
        let tar = vec![7u8; 3 << 20];
        for compression in [Compression::Gzip, Compression::Zstd] {
            let mut out = Vec::new();
            let digests = write_layer_blob(&layer(&tar), compression, &mut out, "test").unwrap();
            assert_eq!(digests.diff_id, Sha256Digest::of(&tar));
            assert_eq!(digests.tar_size, tar.len() as u64);
            assert_eq!(digests.blob, Sha256Digest::of(&out));
            assert_eq!(digests.blob_size, out.len() as u64);
            let mut back = Vec::new();
            compression
                .decoder(&out[..])
                .unwrap()
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, tar);
        }
    }

    #[test]
    fn an_uncompressed_blob_is_the_tar() {
        let mut out = Vec::new();
        let digests = write_layer_blob(&layer(b"abc"), Compression::None, &mut out, "t").unwrap();
        assert_eq!(out, b"abc");
        assert_eq!(digests.blob, digests.diff_id);
    }

    #[test]
    fn docker_manifests_refuse_zstd_layers() {
        let err = ManifestFormat::Docker
            .layer_media_type(Compression::Zstd)
            .unwrap_err();
        assert!(err.to_string().contains("--format oci"), "{err}");
    }
}
