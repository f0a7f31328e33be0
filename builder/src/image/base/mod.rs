//! Reads a base image (`fromImage`) given as a docker-archive tarball: the output of
//! `docker save`, of nixpkgs' `dockerTools`, or of older tools that write the legacy
//! per-layer directory layout. The result is the base's config plus its layers as byte
//! ranges of the archive, so they can be copied into the new image without unpacking.
//!
//! The archive is untrusted input: member names that escape the root, duplicate names,
//! truncated data and malformed digests are refused with a one-line error naming the
//! member, never a panic.
//!
//! The reading is split by responsibility: `index` walks the tar headers and refuses
//! hostile or damaged archives, `manifest_style` reads new-style archives
//! (`manifest.json` plus a config), `legacy_style` reads the legacy per-layer
//! directories. This module holds what they share: opening the archive, reading members
//! and making layer blobs.
//!
//! [`read_base_image`] wants exactly one image and refuses an archive that holds more;
//! [`read_archive_images`] reads every image an archive holds (`docker save a b`, a
//! merged archive), each with its repo tags and config bytes, for `mergeImages`.

mod index;
mod legacy_style;
mod manifest_style;
pub mod select;
pub mod store_paths;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::image::blob::Blob;
use crate::tar::compression::Compression;
use crate::tar::copy::COPY_BUFFER;
use crate::tar::stream_bound::copy_tar_bounded;

use index::{index_members, normalize, Member};
use legacy_style::legacy_ids;
use manifest_style::MANIFEST;

/// JSON members (manifest, config, legacy layer json) are read into memory whole, so they
/// are capped; real ones are a few kilobytes.
const JSON_LIMIT: u64 = 64 << 20;

/// How many links a referenced member may go through before we give up. `docker save`
/// uses one hop (a duplicate layer is a symlink to the first copy); more means a cycle.
const MAX_LINK_HOPS: usize = 16;

/// A base image: its config and its layers, bottom first.
pub struct BaseImage {
    /// The whole image config JSON of the base (with `config`, `rootfs`, `history`, ...).
    pub config: serde_json::Value,
    /// The layers bottom → top, each a byte range of the (possibly decompressed) archive.
    pub layers: Vec<Blob>,
    /// The archive (or its decompressed copy) and decompressed copies of compressed
    /// layers. The temp files are unlinked at creation, so they exist only while a handle
    /// is open: holding them here keeps every copy alive for as long as the image is,
    /// whatever the caller does with individual blobs.
    _files: Vec<Arc<File>>,
}

/// One image of an archive that may hold several.
pub struct ArchiveImage {
    /// The names it is loaded under (`RepoTags` of its manifest entry; for a legacy
    /// archive, what `repositories` maps to its top layer). May be empty.
    pub repo_tags: Vec<String>,
    /// Its config exactly as the archive holds it, so its image ID stays the same. A
    /// legacy archive holds no config: there it is built from the top layer's `json`,
    /// with the diff_ids of its layers hashed.
    pub config_bytes: Vec<u8>,
    /// Its layers bottom → top, each with its diff_id as the digest to verify.
    pub layers: Vec<Blob>,
}

/// Every image of one archive, in the archive's order.
pub struct ArchiveImages {
    pub images: Vec<ArchiveImage>,
    /// How the archive is compressed as a whole, told from its first bytes.
    pub compression: Compression,
    /// Keeps the archive's (decompressed) copies alive, as in [`BaseImage`].
    _files: Vec<Arc<File>>,
}

impl BaseImage {
    /// A base image of `config` and `layers`, which point into `files`, read from
    /// `archive`. Its history may not describe more layers than it has: an image on it
    /// would be refused by `docker load`.
    pub(super) fn new(
        archive: &Path,
        config: Value,
        layers: Vec<Blob>,
        files: Vec<Arc<File>>,
    ) -> Result<BaseImage> {
        let described = config
            .get("history")
            .and_then(Value::as_array)
            .map_or(0, |h| {
                h.iter()
                    .filter(|e| e.get("empty_layer") != Some(&Value::Bool(true)))
                    .count()
            });
        if described > layers.len() {
            return Err(Error::base_image(
                archive,
                format!(
                    "its config's history describes {described} layers but the image has {}; docker load refuses an image built on it",
                    layers.len()
                ),
            ));
        }
        Ok(BaseImage {
            config,
            layers,
            _files: files,
        })
    }
}

impl ArchiveImages {
    /// The files the images' blobs point into, to keep them alive elsewhere.
    pub(super) fn files(&self) -> Vec<Arc<File>> {
        self._files.clone()
    }
}

/// Reads the docker-archive `archive` (plain, gzip- or zstd-compressed tar) and returns
/// the base image's config and layers without copying layer data into memory.
pub fn read_base_image(archive: &Path) -> Result<BaseImage> {
    let read = read_by_style(archive, Reader::new_style, Reader::legacy)?;
    let (config, layers) = read.value;
    BaseImage::new(archive, config, layers, read.files)
}

/// Reads every image of the docker-archive `archive` (plain, gzip or zstd), without
/// copying layer data into memory.
pub fn read_archive_images(archive: &Path) -> Result<ArchiveImages> {
    let read = read_by_style(archive, Reader::new_style_all, Reader::legacy_all)?;
    Ok(ArchiveImages {
        images: read.value,
        compression: read.compression,
        _files: read.files,
    })
}

/// What [`read_by_style`] read, with the files its blobs point into.
struct StyleRead<T> {
    value: T,
    compression: Compression,
    files: Vec<Arc<File>>,
}

/// Opens and indexes `archive`, then reads it with `new_style` when it has a
/// `manifest.json` and with `legacy` when it has legacy layer directories.
fn read_by_style<'a, T>(
    archive: &'a Path,
    new_style: impl FnOnce(&mut Reader<'a>) -> Result<T>,
    legacy: impl FnOnce(&mut Reader<'a>) -> Result<T>,
) -> Result<StyleRead<T>> {
    let (file, compression) = open_archive(archive)?;
    let file = Arc::new(file);
    let members = index_members(archive, &file)?;
    let mut reader = Reader {
        archive,
        file: Arc::clone(&file),
        members,
        decompressed: HashMap::new(),
        files: vec![file],
    };
    let value = if reader.members.contains_key(MANIFEST) {
        new_style(&mut reader)?
    } else if !legacy_ids(&reader.members).is_empty() {
        legacy(&mut reader)?
    } else {
        return Err(Error::base_image(
            archive,
            "is not a docker-archive: no manifest.json and no legacy layer directories",
        ));
    };
    Ok(StyleRead {
        value,
        compression,
        files: reader.files,
    })
}

/// Decompresses `input` into a fresh anonymous temp file (in `TMPDIR`), streaming so
/// that nothing larger than a buffer is held in memory, and stopping as soon as the
/// output runs past the tar it holds (a decompression bomb). Returns the file and its size.
fn decompress_to_temp(compression: Compression, input: impl Read) -> io::Result<(File, u64)> {
    let decoder = compression.decoder(input)?;
    let out = tempfile::tempfile()?;
    let mut writer = BufWriter::with_capacity(COPY_BUFFER, &out);
    let size = copy_tar_bounded(decoder, &mut writer)?;
    writer.flush()?;
    drop(writer);
    Ok((out, size))
}

/// Opens `archive`, decompressing it into a temp file first when the whole archive is
/// gzip or zstd, since indexing needs a seekable plain tar. Also says which it was.
fn open_archive(archive: &Path) -> Result<(File, Compression)> {
    let file = File::open(archive)
        .map_err(|e| Error::base_image(archive, format!("cannot open: {e}; check fromImage")))?;
    let size = file.metadata().map_err(|e| Error::read(archive, e))?.len();
    let magic = read_range(&file, 0, size.min(4)).map_err(|e| Error::read(archive, e))?;
    let compression = Compression::detect(&magic);
    if compression == Compression::None {
        return Ok((file, compression));
    }
    let input = range_reader(&file, 0, size).map_err(|e| Error::read(archive, e))?;
    let (temp, _) = decompress_to_temp(compression, input).map_err(|e| {
        let kind = compression.name();
        Error::base_image(
            archive,
            format!("decompressing the {kind} archive failed: {e}"),
        )
    })?;
    Ok((temp, compression))
}

/// A reader for `len` bytes of `file` starting at `offset`.
fn range_reader(file: &File, offset: u64, len: u64) -> io::Result<io::Take<&File>> {
    let mut handle = file;
    handle.seek(SeekFrom::Start(offset))?;
    Ok(handle.take(len))
}

/// Reads exactly `len` bytes of `file` at `offset` into memory (only for small things:
/// magic bytes and size-capped JSON members).
fn read_range(file: &File, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    range_reader(file, offset, len)?.read_to_end(&mut bytes)?;
    if bytes.len() as u64 != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the file ended early",
        ));
    }
    Ok(bytes)
}

/// The error for a problem with one member of `archive`.
fn member_error(archive: &Path, member: &str, message: impl std::fmt::Display) -> Error {
    Error::base_image(archive, format!("member {member}: {message}"))
}

/// True for a bare SHA-256 digest as the image spec writes it: 64 lower-case hex digits.
fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Reading state for one archive: the index plus the files that back the layers.
struct Reader<'a> {
    /// The archive as the user named it, for error messages and blob origins.
    archive: &'a Path,
    /// The plain tar (the archive itself or its decompressed copy).
    file: Arc<File>,
    /// The members by normalized name.
    members: HashMap<String, Member>,
    /// Layers already resolved, by data offset in `file`, so a layer listed twice (or
    /// reached through a link) is decompressed only once.
    decompressed: HashMap<u64, (Arc<File>, u64, u64)>,
    /// Every file the blobs point into, handed to [`BaseImage`].
    files: Vec<Arc<File>>,
}

impl Reader<'_> {
    /// The error for a problem with `member`.
    fn fail(&self, member: &str, message: impl std::fmt::Display) -> Error {
        member_error(self.archive, member, message)
    }

    /// The error for an I/O failure reading the (plain) archive.
    fn io_fail(&self, error: io::Error) -> Error {
        Error::read(self.archive, error)
    }

    /// Finds the data of the regular file `name`, following links inside the archive;
    /// `role` says why it is needed, for the error when it is missing or unusable.
    fn locate(&self, name: &str, role: &str) -> Result<(u64, u64)> {
        let start = normalize(name);
        let mut current = start.clone();
        for _ in 0..MAX_LINK_HOPS {
            let problem = match self.members.get(&current) {
                Some(Member::File { offset, size }) => return Ok((*offset, *size)),
                Some(Member::Link {
                    target: Some(target),
                }) => {
                    current = target.clone();
                    continue;
                }
                Some(Member::Link { target: None }) => {
                    "is a link that points outside the archive".to_owned()
                }
                Some(other) if current == start => {
                    format!("is {}, not a regular file", other.kind())
                }
                Some(other) => format!(
                    "is a link to {current}, which is {}, not a regular file",
                    other.kind()
                ),
                None if current == start => "missing from the archive".to_owned(),
                None => format!("is a link to {current}, which is missing from the archive"),
            };
            return Err(self.fail(name, format!("({role}) {problem}")));
        }
        Err(self.fail(
            name,
            format!("({role}) is a chain of more than {MAX_LINK_HOPS} links (a cycle?)"),
        ))
    }

    /// Reads the JSON member `name` into memory, refusing members over [`JSON_LIMIT`].
    fn json_bytes(&self, name: &str, role: &str) -> Result<Vec<u8>> {
        let (offset, size) = self.locate(name, role)?;
        if size > JSON_LIMIT {
            return Err(self.fail(
                name,
                format!("({role}) is {size} bytes; JSON members are capped at 64 MiB"),
            ));
        }
        read_range(&self.file, offset, size).map_err(|e| self.io_fail(e))
    }

    /// Parses the bytes of the JSON member `name`.
    fn parse_json(&self, name: &str, role: &str, bytes: &[u8]) -> Result<Value> {
        serde_json::from_slice(bytes)
            .map_err(|e| self.fail(name, format!("({role}) is not valid JSON: {e}")))
    }

    /// Reads and parses the JSON member `name`.
    fn read_json(&self, name: &str, role: &str) -> Result<Value> {
        let bytes = self.json_bytes(name, role)?;
        self.parse_json(name, role, &bytes)
    }

    /// Makes the blob for the layer member `name`: its byte range in the archive, or a
    /// decompressed copy when the member itself is gzip or zstd.
    fn layer(&mut self, name: &str, role: &str, expected: Option<String>) -> Result<Blob> {
        let (file, offset, size) = self.layer_data(name, role)?;
        Ok(Blob {
            file,
            offset,
            size,
            expected_sha256: expected,
            origin: format!("base image {}: member {name}", self.archive.display()),
        })
    }

    /// Finds the plain tar bytes of the layer member `name` as (file, offset, size),
    /// decompressing compressed members into a temp file once.
    fn layer_data(&mut self, name: &str, role: &str) -> Result<(Arc<File>, u64, u64)> {
        let (offset, size) = self.locate(name, role)?;
        if let Some(known) = self.decompressed.get(&offset) {
            return Ok(known.clone());
        }
        let magic = read_range(&self.file, offset, size.min(4)).map_err(|e| self.io_fail(e))?;
        let data = match Compression::detect(&magic) {
            Compression::None => (Arc::clone(&self.file), offset, size),
            compression => {
                let input = range_reader(&self.file, offset, size).map_err(|e| self.io_fail(e))?;
                let (temp, temp_size) = decompress_to_temp(compression, input).map_err(|e| {
                    let kind = compression.name();
                    self.fail(name, format!("decompressing the {kind} layer failed: {e}"))
                })?;
                let temp = Arc::new(temp);
                self.files.push(Arc::clone(&temp));
                (temp, 0, temp_size)
            }
        };
        self.decompressed.insert(offset, data.clone());
        Ok(data)
    }
}
