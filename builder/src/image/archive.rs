//! The docker-archive writer (Docker Image Specification v1.2, as `docker load` reads it).
//!
//! Layout: every layer as `layers/NNN.tar`, bottom first, then the config as
//! `<sha256>.json`, then `manifest.json`. Layer members are named by position, not digest,
//! so each header can be written before its layer is hashed: the archive is produced in one
//! pass. `docker load`, `podman load` and skopeo read the manifest wherever it is.
//!
//! [`stream`] writes sequentially (stdout, compressors); [`write_file`] writes layers
//! concurrently at offsets known from their planned sizes. Both give the same bytes.

use crate::error::{Error, Result};
use crate::image::config::manifest;
use crate::image::output_file::OutputFile;
use crate::image::plan::ImagePlan;
use crate::image::repo_tag::RepoTag;
use crate::tar::compression::Compression;
use crate::tar::digest::Sha256Digest;
use crate::tar::parallel_compress::{Codec, ParallelCompress};
use crate::tar::{self, Header, Kind, Owner};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The buffer of the writers below, which batches the small writes (outer headers,
/// padding). It is smaller than the blocks a layer of files comes in and the chunks blobs
/// are copied in, so those go straight through instead of being copied once more.
const SMALL_WRITES: usize = 64 << 10;

/// The name of layer `index` inside the archive.
pub fn layer_member(index: usize) -> String {
    format!("layers/{index:03}.tar")
}

/// Writes the whole archive to `out` in order. `target` names `out` in errors.
pub fn stream(plan: &ImagePlan, out: &mut impl Write, target: &str) -> Result<()> {
    let mut out = BufWriter::with_capacity(SMALL_WRITES, out);
    let mut diff_ids = Vec::with_capacity(plan.layers.len());
    for (index, layer) in plan.layers.iter().enumerate() {
        out.write_all(&member_header(plan, &layer_member(index), layer.size()))
            .map_err(|e| Error::write(target, e))?;
        diff_ids.push(layer.write_to(&mut out, target)?);
        out.write_all(tar::padding(layer.size()))
            .map_err(|e| Error::write(target, e))?;
    }
    out.write_all(&trailer(plan, &diff_ids))
        .map_err(|e| Error::write(target, e))?;
    out.flush().map_err(|e| Error::write(target, e))
}

/// Writes the archive to `path`, compressed as asked. Nothing appears at `path` until the
/// archive is complete, and an error or a kill leaves no partial file (see [`OutputFile`]).
pub fn write_file(plan: &ImagePlan, path: &Path, compression: Compression) -> Result<()> {
    write_output(
        path,
        compression,
        |file, target| write_parallel(plan, file, target),
        |mut out, target| stream(plan, &mut out, target),
    )
}

/// Makes the file `path` (see [`OutputFile`]) holding an archive compressed as asked:
/// `plain` puts the uncompressed archive straight into the file (free to write at
/// offsets), `streamed` writes it in order into the compressor. Both name the file
/// `target` in errors.
pub fn write_output(
    path: &Path,
    compression: Compression,
    plain: impl FnOnce(&File, &str) -> Result<()>,
    streamed: impl FnOnce(&mut dyn Write, &str) -> Result<()>,
) -> Result<()> {
    let target = path.display().to_string();
    let output = OutputFile::create(path).map_err(|e| Error::write(&target, e))?;
    match compression {
        Compression::None => plain(output.file(), &target)?,
        Compression::Gzip => {
            let mut encoder = ParallelCompress::new(output.file(), Codec::gzip());
            streamed(&mut encoder, &target)?;
            encoder.finish().map_err(|e| Error::write(&target, e))?;
        }
        Compression::Zstd => {
            let mut encoder =
                zstd::Encoder::new(output.file(), 0).map_err(|e| Error::write(&target, e))?;
            streamed(&mut encoder, &target)?;
            encoder.finish().map_err(|e| Error::write(&target, e))?;
        }
    }
    // Read-only like every build result; independent of the umask.
    output.persist(0o444).map_err(|e| Error::write(&target, e))
}

/// The uncompressed archive written by several threads at once: every layer's offset
/// follows from the planned sizes, so each worker writes its own region. Workers take the
/// largest remaining layer first, which keeps the cores busy until the end.
fn write_parallel(plan: &ImagePlan, file: &File, target: &str) -> Result<()> {
    let offsets = layer_offsets(plan);
    let mut order: Vec<usize> = (0..plan.layers.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(plan.layers[i].size()));
    let next = AtomicUsize::new(0);
    let results: Vec<OnceLock<Result<Sha256Digest>>> =
        plan.layers.iter().map(|_| OnceLock::new()).collect();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(order.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(&index) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let result = write_layer_at(plan, index, offsets[index], file, target);
                    if result.is_err() {
                        next.store(order.len(), Ordering::Relaxed); // stop the others early
                    }
                    let _ = results[index].set(result);
                }
            });
        }
    });
    // Report the lowest failing layer, so the error does not depend on timing.
    let mut diff_ids = Vec::with_capacity(results.len());
    let mut unwritten = false;
    for outcome in results.into_iter().map(OnceLock::into_inner) {
        match outcome {
            Some(result) => diff_ids.push(result?),
            None => unwritten = true,
        }
    }
    if unwritten {
        return Err(Error::Internal("a layer was not written".into()));
    }
    let end = offsets.last().map_or(0, |&o| {
        o + tar::padded(plan.layers.last().map_or(0, |l| l.size()))
    });
    file.write_all_at(&trailer(plan, &diff_ids), end)
        .map_err(|e| Error::write(target, e))
}

/// Writes layer `index` (its member header, bytes and padding) at `offset` of `file`.
fn write_layer_at(
    plan: &ImagePlan,
    index: usize,
    offset: u64,
    file: &File,
    target: &str,
) -> Result<Sha256Digest> {
    let layer = &plan.layers[index];
    let header = member_header(plan, &layer_member(index), layer.size());
    file.write_all_at(&header, offset - header.len() as u64)
        .map_err(|e| Error::write(target, e))?;
    let mut out = BufWriter::with_capacity(SMALL_WRITES, OffsetWriter { file, offset });
    let digest = layer.write_to(&mut out, target)?;
    out.write_all(tar::padding(layer.size()))
        .map_err(|e| Error::write(target, e))?;
    out.flush().map_err(|e| Error::write(target, e))?;
    Ok(digest)
}

/// The size of `plan`'s uncompressed archive, known before any layer is read (for
/// progress reports): digests are of fixed length, so a trailer made with placeholder
/// diff_ids is as long as the real one.
pub fn archive_size(plan: &ImagePlan) -> u64 {
    let layers: u64 = plan
        .layers
        .iter()
        .enumerate()
        .map(|(index, layer)| {
            member_header(plan, &layer_member(index), layer.size()).len() as u64
                + tar::padded(layer.size())
        })
        .sum();
    let placeholders = vec![Sha256Digest([0; 32]); plan.layers.len()];
    layers + trailer(plan, &placeholders).len() as u64
}

/// Where each layer's bytes start in the archive (just after its member header).
fn layer_offsets(plan: &ImagePlan) -> Vec<u64> {
    let mut position = 0u64;
    plan.layers
        .iter()
        .enumerate()
        .map(|(index, layer)| {
            position += member_header(plan, &layer_member(index), layer.size()).len() as u64;
            let start = position;
            position += tar::padded(layer.size());
            start
        })
        .collect()
}

/// The outer tar header of a member of `plan`'s archive, with the image's mtime.
fn member_header(plan: &ImagePlan, name: &str, size: u64) -> Vec<u8> {
    file_member_header(name, size, plan.spec.mtime.unix_seconds())
}

/// The outer tar header of an archive member: a plain file of `size` bytes owned by
/// root (numerically, as `docker save` writes), modified at `mtime`.
pub fn file_member_header(name: &str, size: u64, mtime: u64) -> Vec<u8> {
    let owner = Owner::numeric_root(mtime);
    let mut out = Vec::with_capacity(tar::BLOCK as usize);
    tar::write_header(
        &Header {
            name: name.as_bytes(),
            kind: Kind::File,
            mode: 0o644,
            size,
            owner: &owner,
        },
        &mut out,
    );
    out
}

/// Everything after the layers: the config member, `manifest.json`, `repositories` when
/// the image wants one (`{name: {tag: top layer}}`, what loaders before manifest.json
/// read), and the end blocks.
/// The tag, when the image's repo tag has none, is [`RepoTag::content_tag`].
fn trailer(plan: &ImagePlan, diff_ids: &[Sha256Digest]) -> Vec<u8> {
    let config_bytes = plan.config_bytes(diff_ids);
    let config_digest = Sha256Digest::of(&config_bytes);
    let config_member = format!("{}.json", config_digest.hex());
    let default_tag = &RepoTag::content_tag(&config_digest);
    let repo_tag = plan.spec.repo_tag.with_default_tag(default_tag);
    let layers: Vec<String> = (0..plan.layers.len()).map(layer_member).collect();
    let manifest_bytes = serde_json::to_vec(&manifest(&config_member, &repo_tag, &layers))
        .expect("a JSON value always serialises");
    let mut members = vec![
        (config_member, config_bytes),
        ("manifest.json".to_owned(), manifest_bytes),
    ];
    if plan.spec.repositories {
        let top = diff_ids.last().map(Sha256Digest::hex).unwrap_or_default();
        let tag = plan.spec.repo_tag.tag.as_deref().unwrap_or(default_tag);
        let repositories = serde_json::json!({ &plan.spec.repo_tag.name: { tag: top } });
        let bytes = serde_json::to_vec(&repositories).expect("a JSON value always serialises");
        members.push(("repositories".to_owned(), bytes));
    }

    let mtime = plan.spec.mtime.unix_seconds();
    let mut out = Vec::new();
    for (name, bytes) in &members {
        push_member(&mut out, name, bytes, mtime);
    }
    out.extend_from_slice(&tar::END_OF_ARCHIVE);
    out
}

/// Appends the small member `name` (header, `bytes`, padding) to `out`: the JSON members
/// an archive ends with.
pub fn push_member(out: &mut Vec<u8>, name: &str, bytes: &[u8], mtime: u64) {
    out.extend_from_slice(&file_member_header(name, bytes.len() as u64, mtime));
    out.extend_from_slice(bytes);
    out.extend_from_slice(tar::padding(bytes.len() as u64));
}

/// A `Write` that puts consecutive bytes at increasing offsets of a shared file, so
/// several of them can fill different regions of one file at once.
struct OffsetWriter<'a> {
    file: &'a File,
    offset: u64,
}

impl Write for OffsetWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write_at(buf, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
