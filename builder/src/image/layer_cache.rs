//! The digests of layers already written, kept on disk so that a push after a one-path
//! change reads only the changed layers.
//!
//! Why a cache and not digests computed at build time: a layer of store paths is fully
//! decided by the paths' names and the writer's settings (see `FsLayer::identity`), but
//! its digest is known only by reading every byte. A derivation recording digests would
//! re-read the whole closure whenever any path changed (and compress it, for pushes);
//! nix2container avoids that with one derivation per layer, which needs the layer plan
//! at evaluation time. Keyed by identity, the cache gives the same result as those
//! per-layer derivations: unchanged layers are known by name, only new ones are read.
//!
//! Two kinds of entries, one small JSON file each:
//! - `layers/<sha256 of the identity>`: the diff_id and tar size of a layer of files;
//! - `blobs/<gzip|zstd>/<diff_id hex>`: the digest and size of that tar compressed.
//!
//! A layer given as a blob with a stated digest (the customisation layer, an archive's
//! layers) needs no `layers/` entry: its diff_id is stated. Entries are written
//! atomically and validated when read; an entry that is wrong can only make stowage
//! skip a blob the registry already holds under the cached digest, whose content is then
//! a build of the same store paths. A cache that cannot be used costs speed, never
//! correctness: every failure to read or write it is ignored.
//!
//! The cache lives in `$STOWAGE_CACHE_DIR`, else `$XDG_CACHE_HOME/stowage`, else
//! `~/.cache/stowage`, under a directory per stowage version (the writer's bytes may
//! differ between versions).

use crate::image::descriptor::LayerDigests;
use crate::image::layer::{Layer, LayerSource};
use crate::tar::compression::Compression;
use crate::tar::digest::Sha256Digest;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Entries are a few dozen bytes; anything longer is not ours.
const ENTRY_LIMIT: u64 = 4096;

/// The on-disk cache of layer digests (or none, when no directory is usable).
#[derive(Debug, Clone)]
pub struct LayerCache {
    dir: Option<PathBuf>,
}

/// A digest and size, as an entry stores it.
#[derive(Serialize, Deserialize)]
struct Entry {
    digest: String,
    size: u64,
}

impl LayerCache {
    /// The user's cache (see the module documentation).
    pub fn open() -> LayerCache {
        LayerCache {
            dir: cache_root().map(|root| root.join(concat!("layers-", env!("CARGO_PKG_VERSION")))),
        }
    }

    /// A cache kept in `dir`.
    #[cfg(test)]
    pub fn at(dir: &Path) -> LayerCache {
        LayerCache {
            dir: Some(dir.to_owned()),
        }
    }

    /// The layer's digests as a registry would name its blob compressed as
    /// `compression`, if they are known without reading it.
    pub fn known(&self, layer: &Layer, compression: Compression) -> Option<LayerDigests> {
        let (diff_id, tar_size) = self.tar_digest(layer)?;
        let (blob, blob_size) = match compression {
            Compression::None => (diff_id, tar_size),
            _ => self.read(&blob_key(&diff_id, compression)?)?,
        };
        Some(LayerDigests {
            diff_id,
            tar_size,
            blob,
            blob_size,
        })
    }

    /// Records the digests of `layer` just written compressed as `compression`.
    pub fn remember(&self, layer: &Layer, compression: Compression, digests: &LayerDigests) {
        if let Some(key) = identity_key(layer) {
            self.write(&key, &digests.diff_id, digests.tar_size);
        }
        if let Some(key) = blob_key(&digests.diff_id, compression) {
            self.write(&key, &digests.blob, digests.blob_size);
        }
    }

    /// The diff_id and size of `layer`'s tar, if stated or cached.
    fn tar_digest(&self, layer: &Layer) -> Option<(Sha256Digest, u64)> {
        let (digest, size) = match &layer.source {
            LayerSource::Blob(blob) => (parse_hex(blob.expected_sha256.as_deref()?)?, blob.size),
            LayerSource::Files(_) => self.read(&identity_key(layer)?)?,
        };
        // A cached size other than the planned one means the entry is not this layer's.
        (size == layer.size()).then_some((digest, size))
    }

    fn read(&self, key: &str) -> Option<(Sha256Digest, u64)> {
        let bytes = read_entry(&self.dir.as_ref()?.join(key), ENTRY_LIMIT)?;
        let entry: Entry = serde_json::from_slice(&bytes).ok()?;
        Some((
            parse_hex(entry.digest.strip_prefix("sha256:")?)?,
            entry.size,
        ))
    }

    /// Writes one entry atomically (a reader sees the old entry, the new one, or none).
    fn write(&self, key: &str, digest: &Sha256Digest, size: u64) {
        let Some(path) = self.dir.as_ref().map(|d| d.join(key)) else {
            return;
        };
        let entry = Entry {
            digest: digest.prefixed(),
            size,
        };
        let _ = write_atomically(&path, &serde_json::to_vec(&entry).unwrap_or_default());
    }
}

/// Where stowage keeps what it remembers between runs, if anywhere.
pub fn cache_root() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("STOWAGE_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("stowage")))
        .or_else(|| var("HOME").map(|d| d.join(".cache/stowage")))
        .filter(|d| d.is_absolute())
}

/// The bytes of the small entry file `path`, if it is a regular file (at most `limit`
/// bytes are read: a longer one is cut, and then not valid).
pub fn read_entry(path: &Path, limit: u64) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    crate::input::open_regular(path)
        .ok()?
        .take(limit)
        .read_to_end(&mut bytes)
        .ok()?;
    Some(bytes)
}

/// Writes `bytes` to `path` through a temporary file beside it, creating directories.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(bytes)?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The key of a layer of files whose bytes its identity decides.
fn identity_key(layer: &Layer) -> Option<String> {
    let LayerSource::Files(parts) = &layer.source else {
        return None;
    };
    let identities: Vec<String> = parts.iter().map(|p| p.identity()).collect::<Option<_>>()?;
    Some(format!(
        "layers/{}",
        Sha256Digest::of(identities.join("\n").as_bytes()).hex()
    ))
}

/// The key of a tar's compressed digest.
fn blob_key(diff_id: &Sha256Digest, compression: Compression) -> Option<String> {
    (compression != Compression::None)
        .then(|| format!("blobs/{}/{}", compression.name(), diff_id.hex()))
}

/// A digest from 64 hex digits.
fn parse_hex(hex: &str) -> Option<Sha256Digest> {
    let bytes = hex::decode(hex).ok()?;
    Some(Sha256Digest(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::blob::blob_of;
    use crate::image::descriptor::write_layer_blob;
    use crate::tar::fs_layer::FsLayer;
    use crate::tar::Owner;

    fn store_layer(store: &Path, name: &str) -> Layer {
        let path = store.join(name);
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(path.join("file"), name).unwrap();
        let layer =
            FsLayer::from_store_paths(&[path], store, Some(0o755), Owner::numeric_root(1)).unwrap();
        Layer {
            source: LayerSource::Files(vec![layer]),
            comment: None,
        }
    }

    #[test]
    fn a_layer_of_store_paths_is_known_by_name_once_written() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::at(&dir.path().join("cache"));
        let store = dir.path().join("store");
        let layer = store_layer(&store, "0123456789abcdfghijklmnpqrsvwxyz-a");
        assert_eq!(cache.known(&layer, Compression::Gzip), None);
        let digests = write_layer_blob(&layer, Compression::Gzip, std::io::sink(), "t").unwrap();
        cache.remember(&layer, Compression::Gzip, &digests);
        assert_eq!(cache.known(&layer, Compression::Gzip), Some(digests));
        assert_eq!(
            cache.known(&layer, Compression::Zstd),
            None,
            "zstd not written yet"
        );
        let other = store_layer(&store, "0123456789abcdfghijklmnpqrsvwxyz-b");
        assert_eq!(cache.known(&other, Compression::Gzip), None);
    }

    #[test]
    fn a_blob_with_a_stated_digest_needs_only_its_compressed_entry() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::at(dir.path());
        let mut blob = blob_of(b"tar bytes");
        blob.expected_sha256 = Some(Sha256Digest::of(b"tar bytes").hex());
        let layer = Layer {
            source: LayerSource::Blob(blob),
            comment: None,
        };
        let plain = cache.known(&layer, Compression::None).unwrap();
        assert_eq!(plain.blob, Sha256Digest::of(b"tar bytes"));
        assert_eq!(cache.known(&layer, Compression::Zstd), None);
    }

    #[test]
    fn entries_that_are_not_ours_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::at(dir.path());
        let diff_id = Sha256Digest::of(b"x");
        let key = blob_key(&diff_id, Compression::Gzip).unwrap();
        for junk in [
            &b"{}"[..],
            b"not json",
            br#"{"digest":"sha256:zz","size":1}"#,
        ] {
            write_atomically(&dir.path().join(&key), junk).unwrap();
            assert_eq!(cache.read(&key), None);
        }
    }
}
