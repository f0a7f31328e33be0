//! Pushing images to a registry (HTTP API v2), sending only what it lacks.
//!
//! Every layer's digests are known before the first upload: from the layer digest cache
//! when the layer was written before (a layer of store paths is known by their names,
//! see `image::layer_cache`), else by compressing it once into an unnamed temporary file
//! (in parallel), from which it is uploaded if needed. Then, one layer at a time: a HEAD
//! says whether the repository has the blob; if not, a repository of the same registry
//! that got it from an earlier push mounts it (no bytes sent); else it is uploaded, in
//! one request when small, in chunks when large, resuming a session an earlier push left
//! unfinished. The config follows, then the manifest by digest, then the tag: the tag
//! appears only when everything it names is there.

use crate::error::{Error, Result};
use crate::image::descriptor::{Descriptor, LayerDigests};
use crate::image::layer::Layer;
use crate::image::layer_cache::LayerCache;
use crate::image::publish::{publish_image, publish_index, BlobStore, PublishFormat, Published};
use crate::image::publishable::Publishable;
use crate::registry::client::{repository_scope, Progress, Registry, UploadStart, UploadUrl};
use crate::registry::push_state::PushState;
use crate::registry::reference::Digest;
use crate::tar::compression::Compression;
use crate::tar::digest::Sha256Digest;
use crate::units::human_bytes;
use rayon::prelude::*;
use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

/// The default of [`Destination::chunk_size`].
pub const DEFAULT_CHUNK: u64 = 32 << 20;

/// Where to push: a registry's repository and the tag to set.
pub struct Destination {
    /// For messages: `docker://host/repository[:tag]` as given.
    pub name: String,
    pub repository: String,
    /// The tag; `None`: the image's own (`latest` for an index).
    pub tag: Option<String>,
    /// Blobs up to this size go in one request; larger ones in chunks of this size, so
    /// an upload interrupted between chunks resumes after the last (and a proxy
    /// limiting request bodies can be met). One cut off mid-chunk resumes only where
    /// the registry can say what it holds: docker-registry (distribution) keeps the
    /// partial chunk, then refuses the session, whose signed state names the offset
    /// before it (tests/tests/push.rs shows both).
    pub chunk_size: u64,
}

/// What a push did, for the summary line.
#[derive(Debug, Default, Clone, Copy)]
pub struct PushReport {
    pub present: usize,
    pub mounted: usize,
    pub uploaded: usize,
    /// Bytes of blobs sent (layers and config), not counting what a resumed upload had.
    pub bytes_sent: u64,
}

/// Pushes `images` (one, or several behind an index) to `destination`; returns the
/// reference it was tagged as, the pushed manifest's digest and what was done.
pub fn push(
    api: &mut Registry,
    images: &[Publishable],
    index: bool,
    destination: &Destination,
    format: PublishFormat,
    state: &PushState,
    progress: &mut dyn FnMut(&str),
) -> Result<(String, Sha256Digest, PushReport)> {
    let store = RegistryStore {
        api: RefCell::new(api),
        destination,
        cache: LayerCache::open(),
        state,
        report: Cell::new(PushReport::default()),
        progress: RefCell::new(progress),
        manifests: RefCell::new(Vec::new()),
    };
    let (top, tag) = if index {
        let published: Vec<Published> = images
            .iter()
            .map(|image| publish_image(&store, image, format))
            .collect::<Result<_>>()?;
        let index = publish_index(&store, &published, format.manifest)?;
        let tag = destination
            .tag
            .clone()
            .unwrap_or_else(|| "latest".to_owned());
        (index, tag)
    } else {
        let published = publish_image(&store, &images[0], format)?;
        let tag = destination.tag.clone().unwrap_or(published.tag);
        (published.manifest, tag)
    };
    store.tag(&top, &tag)?;
    let reference = format!("{}:{tag}", destination.repository);
    Ok((reference, top.digest, store.report.get()))
}

/// A registry repository as a [`BlobStore`].
struct RegistryStore<'a> {
    api: RefCell<&'a mut Registry>,
    destination: &'a Destination,
    cache: LayerCache,
    state: &'a PushState,
    report: Cell<PushReport>,
    progress: RefCell<&'a mut dyn FnMut(&str)>,
    /// The manifests stored so far, by digest: the one tagged last is among them.
    manifests: RefCell<Vec<(Sha256Digest, Vec<u8>)>>,
}

/// A layer's blob compressed into an unnamed temporary file, ready to upload.
struct Spilled {
    file: File,
    digests: LayerDigests,
}

impl RegistryStore<'_> {
    fn error(&self, message: impl Into<String>) -> Error {
        Error::Push {
            destination: self.destination.name.clone(),
            message: message.into(),
        }
    }

    fn say(&self, line: &str) {
        (self.progress.borrow_mut())(line);
    }

    fn count(&self, change: impl FnOnce(&mut PushReport)) {
        let mut report = self.report.get();
        change(&mut report);
        self.report.set(report);
    }

    /// Whether the repository has the blob `digest` already, or got it by a mount from
    /// a repository of the same registry that an earlier push put it in. Says so on
    /// `label`'s line.
    fn present_or_mounted(&self, label: &str, digest: &Sha256Digest, size: u64) -> Result<bool> {
        let repository = &self.destination.repository;
        let short = &digest.hex()[..12];
        let digest_ref = registry_digest(digest);
        let exists = self
            .api
            .borrow_mut()
            .blob_size(repository, &digest_ref)
            .map_err(|m| self.error(m))?
            .is_some();
        if exists {
            self.say(&format!(
                "{label} {short}: already present ({})",
                human_bytes(size)
            ));
            self.count(|r| r.present += 1);
            self.state.set_holder(digest, repository);
            return Ok(true);
        }
        let Some(from) = self.state.holder(digest).filter(|f| f != repository) else {
            return Ok(false);
        };
        // Mounting needs `pull` on the repository mounted from, too. A session opened
        // instead of a mount is left to expire (the upload that follows opens or resumes
        // its own), and a failed mount (the holder is gone) only means an upload.
        let scopes = [
            repository_scope(repository, "pull,push"),
            repository_scope(&from, "pull"),
        ];
        let mut api = self.api.borrow_mut();
        let mounted = api
            .authorize(&scopes)
            .and_then(|()| api.start_upload(repository, Some((&digest_ref, &from))));
        drop(api);
        if mounted != Ok(UploadStart::Mounted) {
            return Ok(false);
        }
        self.say(&format!(
            "{label} {short}: mounted from {from} ({})",
            human_bytes(size)
        ));
        self.count(|r| r.mounted += 1);
        self.state.set_holder(digest, repository);
        Ok(true)
    }

    /// Makes sure the repository has the blob `digest` of `size` bytes, uploading it
    /// from `source` unless it is present or can be mounted.
    fn ensure_blob(
        &self,
        label: &str,
        digest: &Sha256Digest,
        size: u64,
        source: &mut dyn ReadAt,
    ) -> Result<()> {
        if self.present_or_mounted(label, digest, size)? {
            return Ok(());
        }
        self.send(label, digest, size, source)
    }

    /// Uploads a blob the repository was found to lack, and says so.
    fn send(
        &self,
        label: &str,
        digest: &Sha256Digest,
        size: u64,
        source: &mut dyn ReadAt,
    ) -> Result<()> {
        let sent = self.upload(label, digest, size, source)?;
        self.say(&format!(
            "{label} {}: uploaded {}",
            &digest.hex()[..12],
            human_bytes(sent)
        ));
        self.count(|r| {
            r.uploaded += 1;
            r.bytes_sent += sent;
        });
        self.state.set_holder(digest, &self.destination.repository);
        Ok(())
    }

    /// Uploads the blob, monolithic when small, else in chunks from where an earlier
    /// session stopped; returns the bytes sent.
    fn upload(
        &self,
        label: &str,
        digest: &Sha256Digest,
        size: u64,
        source: &mut dyn ReadAt,
    ) -> Result<u64> {
        let repository = &self.destination.repository;
        let mut api = self.api.borrow_mut();
        let fail = |m: String| {
            self.error(format!(
                "{label} {}: {}; pushing again resumes or redoes this upload",
                digest.prefixed(),
                without_queries(&m)
            ))
        };
        let read_error = |e: std::io::Error| fail(format!("reading the blob: {e}"));
        let digest_ref = registry_digest(digest);
        let chunk_size = self.destination.chunk_size;
        let resumed = match size > chunk_size {
            true => self.resumable(&mut api, digest),
            false => None,
        };
        let (mut url, mut offset) = match resumed {
            Some(progress) => (progress.url, progress.received),
            None => (new_session(&mut api, repository).map_err(fail)?, 0),
        };
        if size <= chunk_size {
            let mut body = source.read_from(0).map_err(read_error)?;
            api.finish_upload(&url, &digest_ref, Some((&mut body, size)))
                .map_err(fail)?;
            return Ok(size);
        }
        let start = offset;
        while offset < size {
            self.state
                .set_upload(repository, digest, Some(url.as_str()));
            let len = chunk_size.min(size - offset);
            let mut chunk = source.read_from(offset).map_err(read_error)?.take(len);
            let progress = api
                .upload_chunk(&url, offset, len, &mut chunk)
                .map_err(fail)?;
            if progress.received != offset + len {
                return Err(fail(format!(
                    "the registry holds {} bytes after a chunk ending at {}",
                    progress.received,
                    offset + len
                )));
            }
            (url, offset) = (progress.url, progress.received);
            self.say(&format!(
                "\r{label} {}: uploading {} of {}",
                &digest.hex()[..12],
                human_bytes(offset),
                human_bytes(size)
            ));
        }
        api.finish_upload(&url, &digest_ref, None).map_err(fail)?;
        self.state.set_upload(repository, digest, None);
        Ok(size - start)
    }

    /// An unfinished session of an earlier push for this blob, and how much it holds.
    fn resumable(&self, api: &mut Registry, digest: &Sha256Digest) -> Option<Progress> {
        let recorded = self.state.upload(&self.destination.repository, digest)?;
        let url = api.upload_url(&recorded).ok()?;
        api.upload_status(&url).ok().flatten()
    }

    /// Stores the manifest `top` (stored by digest already) under `tag`.
    fn tag(&self, top: &Descriptor, tag: &str) -> Result<()> {
        let bytes = self
            .manifests
            .borrow()
            .iter()
            .find(|(digest, _)| digest == &top.digest)
            .map(|(_, bytes)| bytes.clone())
            .ok_or_else(|| Error::Internal("tagging a manifest that was not stored".into()))?;
        self.api
            .borrow_mut()
            .put_manifest(&self.destination.repository, tag, &top.media_type, &bytes)
            .map(|_| ())
            .map_err(|m| self.error(format!("tagging the manifest as {tag}: {m}")))
    }
}

/// Compresses `layer` into a temporary file, recording its digests in the cache.
fn spill(cache: &LayerCache, layer: &Layer, compression: Compression) -> Result<Spilled> {
    let target = "a temporary file for a layer to push";
    let file = tempfile::tempfile().map_err(|e| Error::write(target, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, &file);
    let digests = crate::image::descriptor::write_layer_blob(layer, compression, &mut out, target)?;
    out.flush().map_err(|e| Error::write(target, e))?;
    drop(out);
    cache.remember(layer, compression, &digests);
    Ok(Spilled { file, digests })
}

/// `message` with the query of every URL in it left out: an upload URL's query is the
/// registry's long signed state, of no use to a reader.
fn without_queries(message: &str) -> String {
    message
        .split(' ')
        .map(|word| match word.find("://").and(word.find('?')) {
            Some(query) => format!("{}?…", &word[..query]),
            None => word.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Opens an upload session in `repository`.
fn new_session(api: &mut Registry, repository: &str) -> Result<UploadUrl, String> {
    match api.start_upload(repository, None)? {
        UploadStart::Session(url) => Ok(url),
        UploadStart::Mounted => Err("the registry mounted a blob it was not asked to".into()),
    }
}

/// Our digest as the registry client names digests.
fn registry_digest(digest: &Sha256Digest) -> Digest {
    Digest::parse(&digest.prefixed()).expect("a SHA-256 digest is always valid")
}

/// A blob's bytes, readable from any offset (a spilled layer, a config in memory).
trait ReadAt {
    fn read_from(&mut self, offset: u64) -> std::io::Result<Box<dyn Read + '_>>;
}

impl ReadAt for File {
    fn read_from(&mut self, offset: u64) -> std::io::Result<Box<dyn Read + '_>> {
        self.seek(SeekFrom::Start(offset))?;
        Ok(Box::new(&*self))
    }
}

impl ReadAt for Vec<u8> {
    fn read_from(&mut self, offset: u64) -> std::io::Result<Box<dyn Read + '_>> {
        let start = (offset as usize).min(self.len());
        Ok(Box::new(&self[start..]))
    }
}

impl BlobStore for RegistryStore<'_> {
    fn put_layers(&self, layers: &[Layer], compression: Compression) -> Result<Vec<LayerDigests>> {
        // Every digest known before the first upload: cached, or by compressing now.
        let known: Vec<Option<LayerDigests>> = layers
            .iter()
            .map(|layer| self.cache.known(layer, compression))
            .collect();
        let cache = &self.cache;
        let spilled: Vec<Option<Spilled>> = layers
            .par_iter()
            .zip(&known)
            .map(|(layer, known)| match known {
                Some(_) => Ok(None),
                None => spill(cache, layer, compression).map(Some),
            })
            .collect::<Result<_>>()?;
        let count = layers.len();
        let mut digests = Vec::with_capacity(count);
        for (index, (layer, (known, spilled))) in layers
            .iter()
            .zip(known.into_iter().zip(spilled))
            .enumerate()
        {
            let label = format!("layer {}/{count}", index + 1);
            let stored = match &known {
                Some(k) => self.present_or_mounted(&label, &k.blob, k.blob_size)?,
                None => false,
            };
            let digests_of_layer = match (known.filter(|_| stored), spilled) {
                (Some(known), _) => known,
                // Not known, or known but missing in the registry: written now (with the
                // digest it really has, should the cached one be stale).
                (None, spilled) => {
                    let mut spill = match spilled {
                        Some(spill) => spill,
                        None => spill(&self.cache, layer, compression)?,
                    };
                    let blob = spill.digests;
                    // A cached digest the registry was just asked about is not asked
                    // about again; a stale one (the bytes came out otherwise) is.
                    if known.is_some_and(|k| k.blob == blob.blob) {
                        self.send(&label, &blob.blob, blob.blob_size, &mut spill.file)?;
                    } else {
                        self.ensure_blob(&label, &blob.blob, blob.blob_size, &mut spill.file)?;
                    }
                    blob
                }
            };
            digests.push(digests_of_layer);
        }
        Ok(digests)
    }

    fn put_blob(&self, descriptor: &Descriptor, bytes: &[u8]) -> Result<()> {
        self.ensure_blob(
            "config",
            &descriptor.digest,
            descriptor.size,
            &mut bytes.to_vec(),
        )
    }

    fn put_manifest(&self, descriptor: &Descriptor, bytes: &[u8]) -> Result<()> {
        self.manifests
            .borrow_mut()
            .push((descriptor.digest, bytes.to_vec()));
        self.api
            .borrow_mut()
            .put_manifest(
                &self.destination.repository,
                &descriptor.digest.prefixed(),
                &descriptor.media_type,
                bytes,
            )
            .map(|_| ())
            .map_err(|m| self.error(format!("storing the manifest: {m}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_urls_lose_their_signed_state_in_messages() {
        assert_eq!(
            without_queries("PATCH http://r:5000/v2/a/blobs/uploads/u?_state=abc: reset"),
            "PATCH http://r:5000/v2/a/blobs/uploads/u?… reset"
        );
        assert_eq!(without_queries("what? no URL"), "what? no URL");
    }
}
