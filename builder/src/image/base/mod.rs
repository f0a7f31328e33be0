//! Reads a base image (`fromImage`) given as a docker-archive tarball: the output of
//! `docker save`, of nixpkgs' `dockerTools`, or of older tools that write the legacy
//! per-layer directory layout. The result is the base's config plus its layers as byte
//! ranges of the archive, so they can be copied into the new image without unpacking.
//!
//! The archive is untrusted input: member names that escape the root, duplicate names,
//! truncated data and malformed digests are refused with a one-line error naming the
//! member, never a panic.

use std::collections::hash_map::Entry as MapEntry;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tar::EntryType;

use crate::error::{Error, Result};
use crate::image::blob::Blob;
use crate::tar::compression::Compression;

/// JSON members (manifest, config, legacy layer json) are read into memory whole, so they
/// are capped; real ones are a few kilobytes.
const JSON_LIMIT: u64 = 64 << 20;

/// How many links a referenced member may go through before we give up. `docker save`
/// uses one hop (a duplicate layer is a symlink to the first copy); more means a cycle.
const MAX_LINK_HOPS: usize = 16;

/// The member that marks a new-style (Docker Image Spec v1.2) archive.
const MANIFEST: &str = "manifest.json";

/// The legacy file mapping `{"name": {"tag": "<top layer id>"}}`.
const REPOSITORIES: &str = "repositories";

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

/// Reads the docker-archive `archive` (plain, gzip- or zstd-compressed tar) and returns
/// the base image's config and layers without copying layer data into memory.
pub fn read_base_image(archive: &Path) -> Result<BaseImage> {
    let file = Arc::new(open_archive(archive)?);
    let members = index_members(archive, &file)?;
    let mut reader = Reader {
        archive,
        file: Arc::clone(&file),
        members,
        decompressed: HashMap::new(),
        files: vec![file],
    };
    let (config, layers) = if reader.members.contains_key(MANIFEST) {
        reader.new_style()?
    } else if !legacy_ids(&reader.members).is_empty() {
        reader.legacy()?
    } else {
        return Err(Error::base_image(
            archive,
            "is not a docker-archive: no manifest.json and no legacy layer directories",
        ));
    };
    Ok(BaseImage {
        config,
        layers,
        _files: reader.files,
    })
}

/// Decompresses `input` into a fresh anonymous temp file (in `TMPDIR`), streaming so
/// that nothing larger than a buffer is held in memory. Returns the file and its size.
fn decompress_to_temp(compression: Compression, input: impl Read) -> io::Result<(File, u64)> {
    let mut decoder = compression.decoder(input)?;
    let out = tempfile::tempfile()?;
    let mut writer = BufWriter::with_capacity(1 << 20, &out);
    let size = io::copy(&mut decoder, &mut writer)?;
    writer.flush()?;
    drop(writer);
    Ok((out, size))
}

/// Opens `archive`, decompressing it into a temp file first when the whole archive is
/// gzip or zstd, since indexing needs a seekable plain tar.
fn open_archive(archive: &Path) -> Result<File> {
    let file = File::open(archive)
        .map_err(|e| Error::base_image(archive, format!("cannot open: {e}; check fromImage")))?;
    let size = file.metadata().map_err(|e| Error::read(archive, e))?.len();
    let magic = read_range(&file, 0, size.min(4)).map_err(|e| Error::read(archive, e))?;
    let compression = Compression::detect(&magic);
    if compression == Compression::None {
        return Ok(file);
    }
    let input = range_reader(&file, 0, size).map_err(|e| Error::read(archive, e))?;
    let (temp, _) = decompress_to_temp(compression, input).map_err(|e| {
        let kind = compression.name();
        Error::base_image(
            archive,
            format!("decompressing the {kind} archive failed: {e}"),
        )
    })?;
    Ok(temp)
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

/// What a member of the archive is, as far as reading the image needs to know.
enum Member {
    /// A regular file whose data is `size` bytes at `offset` of the (plain) archive.
    File { offset: u64, size: u64 },
    /// A symlink or hard link to another member, by its normalized name; `None` when the
    /// target lies outside the archive.
    Link { target: Option<String> },
    /// A directory (ignored unless something references it).
    Dir,
    /// A device, fifo, sparse file or other member we cannot use as data.
    Special,
}

impl Member {
    /// Describes a member that is not a regular file, for "is not a regular file" errors.
    fn kind(&self) -> &'static str {
        match self {
            Member::File { .. } => "a regular file",
            Member::Link { .. } => "a link",
            Member::Dir => "a directory",
            Member::Special => "a special file (device, fifo or sparse file)",
        }
    }
}

/// The error for a problem with one member of `archive`.
fn member_error(archive: &Path, member: &str, message: impl std::fmt::Display) -> Error {
    Error::base_image(archive, format!("member {member}: {message}"))
}

/// The error for a tar header the `tar` crate could not read.
fn corrupt_error(archive: &Path, error: io::Error) -> Error {
    Error::base_image(
        archive,
        format!("reading the tar headers failed, the archive is truncated or corrupt: {error}"),
    )
}

/// Walks the tar headers of `file` (seeking over member data rather than reading it) and
/// indexes the members by normalized name, refusing hostile or damaged archives.
fn index_members(archive: &Path, file: &File) -> Result<HashMap<String, Member>> {
    let len = file.metadata().map_err(|e| Error::read(archive, e))?.len();
    let mut handle = file;
    handle
        .seek(SeekFrom::Start(0))
        .map_err(|e| Error::read(archive, e))?;
    let mut tar = tar::Archive::new(handle);
    let entries = tar
        .entries_with_seek()
        .map_err(|e| corrupt_error(archive, e))?;
    let mut members = HashMap::new();
    for entry in entries {
        let entry = entry.map_err(|e| corrupt_error(archive, e))?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = checked_name(archive, &raw)?;
        if name.is_empty() {
            // The archive root itself (`./`), which some tools list.
            continue;
        }
        let member = classify(archive, &raw, &name, &entry, len)?;
        insert_member(archive, &mut members, name, member)?;
    }
    Ok(members)
}

/// Refuses absolute names and names with a `..` component (they could only be meant to
/// trick a reader), and returns the normalized name.
fn checked_name(archive: &Path, raw: &str) -> Result<String> {
    if raw.starts_with('/') {
        return Err(member_error(
            archive,
            raw,
            "absolute name; refusing hostile archive",
        ));
    }
    if raw.split('/').any(|component| component == "..") {
        return Err(member_error(
            archive,
            raw,
            "name escapes the archive root (contains '..'); refusing hostile archive",
        ));
    }
    Ok(normalize(raw))
}

/// Normalizes a member name so that `./a//b/` and `a/b` are the same member: drops empty
/// and `.` components (which covers a leading `./` and a directory's trailing `/`).
fn normalize(name: &str) -> String {
    name.split('/')
        .filter(|component| !component.is_empty() && *component != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// Turns one tar entry into a [`Member`], refusing regular files whose data runs past the
/// end of the archive (a truncated download would otherwise surface much later).
fn classify<R: Read>(
    archive: &Path,
    raw: &str,
    name: &str,
    entry: &tar::Entry<'_, R>,
    archive_len: u64,
) -> Result<Member> {
    match entry.header().entry_type() {
        EntryType::Regular | EntryType::Continuous => {
            let (offset, size) = (entry.raw_file_position(), entry.size());
            match offset.checked_add(size) {
                Some(end) if end <= archive_len => Ok(Member::File { offset, size }),
                _ => Err(member_error(
                    archive,
                    raw,
                    format!(
                        "data runs past the end of the file ({size} bytes at offset {offset}, \
                         file has {archive_len}); the archive is truncated"
                    ),
                )),
            }
        }
        // A symlink target is relative to the link's directory, a hard link's to the root.
        EntryType::Symlink => Ok(Member::Link {
            target: link_target(entry, parent_dir(name)),
        }),
        EntryType::Link => Ok(Member::Link {
            target: link_target(entry, ""),
        }),
        EntryType::Directory => Ok(Member::Dir),
        _ => Ok(Member::Special),
    }
}

/// The directory part of a normalized member name (`""` at the root).
fn parent_dir(name: &str) -> &str {
    name.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// The normalized name a link entry points at, resolved against `base_dir`; `None` when
/// it is absolute or climbs above the archive root.
fn link_target<R: Read>(entry: &tar::Entry<'_, R>, base_dir: &str) -> Option<String> {
    let target = String::from_utf8_lossy(&entry.link_name_bytes()?).into_owned();
    join_link(base_dir, &target)
}

/// Resolves the link text `target` lexically against `base_dir`, staying inside the
/// archive: there is no file system here, only member names.
fn join_link(base_dir: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = base_dir.split('/').filter(|c| !c.is_empty()).collect();
    for component in target.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

/// Adds a member to the index, refusing a second member of the same name: which of the
/// two a reader sees differs between tools, so such an archive is ambiguous. Repeated
/// directory entries are harmless and allowed.
fn insert_member(
    archive: &Path,
    members: &mut HashMap<String, Member>,
    name: String,
    member: Member,
) -> Result<()> {
    match members.entry(name) {
        MapEntry::Vacant(slot) => {
            slot.insert(member);
            Ok(())
        }
        MapEntry::Occupied(slot) => match (slot.get(), &member) {
            (Member::Dir, Member::Dir) => Ok(()),
            _ => Err(member_error(
                archive,
                slot.key(),
                "appears more than once in the archive; refusing ambiguous archive",
            )),
        },
    }
}

/// The ids of legacy layer directories: every `<id>/json` member.
fn legacy_ids(members: &HashMap<String, Member>) -> BTreeSet<String> {
    members
        .keys()
        .filter_map(|name| match name.split_once('/') {
            Some((id, "json")) => Some(id.to_owned()),
            _ => None,
        })
        .collect()
}

/// True for a bare SHA-256 digest as the image spec writes it: 64 lower-case hex digits.
fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The SHA-256 of `bytes` as lower-case hex.
fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The digest a config member's name states, when it is content-addressed: `<hex>.json`
/// (docker save before 25, nixpkgs) or `blobs/sha256/<hex>` (OCI-layout docker save).
fn stated_digest(name: &str) -> Option<&str> {
    let file_name = name.rsplit('/').next()?;
    let hex = file_name
        .strip_suffix(".json")
        .or_else(|| name.strip_prefix("blobs/sha256/"))?;
    is_sha256_hex(hex).then_some(hex)
}

/// Builds a proper image config from a legacy top layer's `json`, which mixes layer and
/// image fields. `rootfs.diff_ids` stays empty: the caller fills it after hashing layers.
fn legacy_config(top: &Value) -> Value {
    let mut config = Map::new();
    let runtime = top
        .get("config")
        .filter(|value| !value.is_null())
        .or_else(|| top.get("container_config"));
    if let Some(runtime) = runtime {
        config.insert("config".into(), runtime.clone());
    }
    for key in ["architecture", "os", "created"] {
        if let Some(value) = top.get(key) {
            config.insert(key.into(), value.clone());
        }
    }
    config.insert("rootfs".into(), json!({"type": "layers", "diff_ids": []}));
    config.insert("history".into(), json!([]));
    Value::Object(config)
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

    /// Reads a new-style archive: `manifest.json` → config and layers with diff_ids.
    fn new_style(&mut self) -> Result<(Value, Vec<Blob>)> {
        let manifest = self.read_json(MANIFEST, "image manifest")?;
        let image = self.single_image(&manifest)?;
        let config_name = self.manifest_config(image)?;
        let layer_names = self.manifest_layers(image)?;
        let role = "Config named in manifest.json";
        let config_bytes = self.json_bytes(&config_name, role)?;
        self.check_config_digest(&config_name, &config_bytes)?;
        let config = self.parse_json(&config_name, role, &config_bytes)?;
        let diff_ids = self.diff_ids(&config_name, &config, layer_names.len())?;
        let layers = layer_names
            .iter()
            .zip(diff_ids)
            .map(|(name, diff_id)| self.layer(name, "layer listed in manifest.json", Some(diff_id)))
            .collect::<Result<Vec<_>>>()?;
        Ok((config, layers))
    }

    /// The one image entry of `manifest.json`; a multi-image archive is refused because
    /// which image was meant would be a guess.
    fn single_image<'v>(&self, manifest: &'v Value) -> Result<&'v Value> {
        let images = manifest
            .as_array()
            .ok_or_else(|| self.fail(MANIFEST, "is not a JSON array of images"))?;
        match images.as_slice() {
            [image] => Ok(image),
            [] => Err(self.fail(MANIFEST, "lists no image")),
            _ => Err(self.fail(
                MANIFEST,
                format!(
                    "the archive holds {} images and fromImage needs exactly one; \
                     save a single image",
                    images.len()
                ),
            )),
        }
    }

    /// The `Config` member name of a manifest entry.
    fn manifest_config(&self, image: &Value) -> Result<String> {
        image
            .get("Config")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| self.fail(MANIFEST, "the image entry has no Config member name"))
    }

    /// The `Layers` member names of a manifest entry, bottom first.
    fn manifest_layers(&self, image: &Value) -> Result<Vec<String>> {
        let invalid = || {
            self.fail(
                MANIFEST,
                "the image entry has no Layers list of member names",
            )
        };
        let list = image
            .get("Layers")
            .and_then(Value::as_array)
            .ok_or_else(invalid)?;
        list.iter()
            .map(|name| name.as_str().map(str::to_owned).ok_or_else(invalid))
            .collect()
    }

    /// Checks a content-addressed config member against the digest in its name, since a
    /// mismatch means the archive was damaged or tampered with.
    fn check_config_digest(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let Some(stated) = stated_digest(name) else {
            return Ok(());
        };
        let actual = sha256_hex(bytes);
        if actual == stated {
            return Ok(());
        }
        Err(self.fail(
            name,
            format!(
                "content has sha256 {actual} but the name says {stated}; the archive is corrupt"
            ),
        ))
    }

    /// The config's `rootfs.diff_ids` as bare hex digests, one per manifest layer.
    fn diff_ids(&self, config_name: &str, config: &Value, layers: usize) -> Result<Vec<String>> {
        let list = config
            .pointer("/rootfs/diff_ids")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                self.fail(config_name, "the image config has no rootfs.diff_ids list")
            })?;
        if list.len() != layers {
            return Err(self.fail(
                config_name,
                format!(
                    "rootfs.diff_ids lists {} layers but manifest.json lists {layers}",
                    list.len()
                ),
            ));
        }
        list.iter()
            .enumerate()
            .map(|(i, diff_id)| self.diff_id_hex(config_name, i, diff_id))
            .collect()
    }

    /// Checks one diff_id is `sha256:<64 lower-case hex>` and returns the hex part.
    fn diff_id_hex(&self, config_name: &str, index: usize, diff_id: &Value) -> Result<String> {
        match diff_id.as_str().and_then(|d| d.strip_prefix("sha256:")) {
            Some(hex) if is_sha256_hex(hex) => Ok(hex.to_owned()),
            _ => Err(self.fail(
                config_name,
                format!("rootfs.diff_ids[{index}] is {diff_id}, not sha256:<64 lowercase hex>"),
            )),
        }
    }

    /// Reads a legacy archive: `<id>/json` + `<id>/layer.tar` directories chained by
    /// `parent`, the top one named by `repositories` or found as the only non-parent.
    fn legacy(&mut self) -> Result<(Value, Vec<Blob>)> {
        let mut jsons = BTreeMap::new();
        for id in legacy_ids(&self.members) {
            let role = format!("json of legacy layer {id}");
            let json = self.read_json(&format!("{id}/json"), &role)?;
            jsons.insert(id, json);
        }
        let parents = self.legacy_parents(&jsons)?;
        let top = match self.top_from_repositories()? {
            Some(top) => top,
            None => self.unique_top(&parents)?,
        };
        if !parents.contains_key(&top) {
            return Err(self.fail(
                REPOSITORIES,
                format!("names top layer {top} but the archive has no member {top}/json"),
            ));
        }
        let chain = self.chain_down(&top, &parents)?;
        let layers = chain
            .iter()
            .rev()
            .map(|id| {
                let role = format!("data of legacy layer {id}");
                self.layer(&format!("{id}/layer.tar"), &role, None)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((legacy_config(&jsons[&top]), layers))
    }

    /// Each legacy layer's `parent` id (`None` for the bottom layer).
    fn legacy_parents(
        &self,
        jsons: &BTreeMap<String, Value>,
    ) -> Result<BTreeMap<String, Option<String>>> {
        jsons
            .iter()
            .map(|(id, json)| {
                let member = format!("{id}/json");
                if !json.is_object() {
                    return Err(self.fail(&member, "is not a JSON object"));
                }
                let parent = match json.get("parent") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(p)) if p.is_empty() => None,
                    Some(Value::String(p)) => Some(p.clone()),
                    Some(_) => return Err(self.fail(&member, "parent is not a string")),
                };
                Ok((id.clone(), parent))
            })
            .collect()
    }

    /// The top layer id named by the legacy `repositories` file, if there is one that
    /// names any; several distinct ids mean several images.
    fn top_from_repositories(&self) -> Result<Option<String>> {
        if !self.members.contains_key(REPOSITORIES) {
            return Ok(None);
        }
        let repositories = self.read_json(REPOSITORIES, "legacy repositories file")?;
        let invalid = || self.fail(REPOSITORIES, "is not a JSON object of {name: {tag: id}}");
        let mut ids = BTreeSet::new();
        for tags in repositories.as_object().ok_or_else(invalid)?.values() {
            for id in tags.as_object().ok_or_else(invalid)?.values() {
                ids.insert(id.as_str().ok_or_else(invalid)?.to_owned());
            }
        }
        if ids.len() > 1 {
            let list = ids.into_iter().collect::<Vec<_>>().join(", ");
            return Err(self.fail(
                REPOSITORIES,
                format!("names several images ({list}); fromImage needs a single-image archive"),
            ));
        }
        Ok(ids.into_iter().next())
    }

    /// Without `repositories`, the top layer is the one no other layer names as parent;
    /// it must be unique, or the archive holds several images (or a parent cycle).
    fn unique_top(&self, parents: &BTreeMap<String, Option<String>>) -> Result<String> {
        let named: HashSet<&str> = parents.values().flatten().map(String::as_str).collect();
        let tops: Vec<&str> = parents
            .keys()
            .map(String::as_str)
            .filter(|id| !named.contains(id))
            .collect();
        match tops.as_slice() {
            [top] => Ok((*top).to_owned()),
            [] => Err(Error::base_image(
                self.archive,
                "no legacy layer is the top one: every layer is another's parent (a parent cycle)",
            )),
            many => Err(Error::base_image(
                self.archive,
                format!(
                    "{} legacy layers are nobody's parent ({}), so the archive holds several \
                     images; fromImage needs a single-image archive",
                    many.len(),
                    many.join(", ")
                ),
            )),
        }
    }

    /// Follows `parent` links from `top` down to the bottom layer; returns top first.
    fn chain_down(
        &self,
        top: &str,
        parents: &BTreeMap<String, Option<String>>,
    ) -> Result<Vec<String>> {
        let mut chain = Vec::new();
        let mut seen = HashSet::new();
        let mut id = top.to_owned();
        loop {
            if !seen.insert(id.clone()) {
                return Err(self.fail(
                    &format!("{id}/json"),
                    "parent links form a cycle through this layer",
                ));
            }
            let parent = parents.get(&id).cloned().flatten();
            chain.push(id);
            let Some(parent) = parent else {
                return Ok(chain);
            };
            if !parents.contains_key(&parent) {
                let child = chain.last().map_or("", String::as_str);
                return Err(self.fail(
                    &format!("{child}/json"),
                    format!("names parent {parent} but the archive has no member {parent}/json"),
                ));
            }
            id = parent;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// Builds test archives member by member, writing names straight into the header so
    /// that hostile names the `tar` builder would refuse can be written too.
    struct TarOut(tar::Builder<Vec<u8>>);

    impl TarOut {
        /// An empty archive.
        fn new() -> Self {
            TarOut(tar::Builder::new(Vec::new()))
        }

        /// A header of `kind` named exactly `name` (no validation).
        fn header(name: &str, kind: EntryType, size: usize) -> tar::Header {
            let mut header = tar::Header::new_gnu();
            header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            header.set_entry_type(kind);
            header.set_mode(0o644);
            header.set_size(size as u64);
            header
        }

        /// Adds a regular file.
        fn file(mut self, name: &str, data: &[u8]) -> Self {
            let mut header = Self::header(name, EntryType::Regular, data.len());
            header.set_cksum();
            self.0.append(&header, data).unwrap();
            self
        }

        /// Adds a symlink with the literal target `target`.
        fn symlink(mut self, name: &str, target: &str) -> Self {
            let mut header = Self::header(name, EntryType::Symlink, 0);
            header.set_link_name_literal(target).unwrap();
            header.set_cksum();
            self.0.append(&header, io::empty()).unwrap();
            self
        }

        /// Adds a directory.
        fn dir(mut self, name: &str) -> Self {
            let mut header = Self::header(name, EntryType::Directory, 0);
            header.set_cksum();
            self.0.append(&header, io::empty()).unwrap();
            self
        }

        /// The finished archive bytes.
        fn finish(self) -> Vec<u8> {
            self.0.into_inner().unwrap()
        }
    }

    /// A small but real layer tar holding one file whose content is `text` repeated.
    fn layer(text: &str, repeat: usize) -> Vec<u8> {
        TarOut::new()
            .file(&format!("etc/{text}"), text.repeat(repeat).as_bytes())
            .finish()
    }

    /// An image config whose diff_ids are `diff_ids` (written as given).
    fn config_json(diff_ids: &[String]) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": "test"}],
        }))
        .unwrap()
    }

    /// The `sha256:` diff_ids of `layers`.
    fn diff_ids_of(layers: &[Vec<u8>]) -> Vec<String> {
        layers
            .iter()
            .map(|l| format!("sha256:{}", sha256_hex(l)))
            .collect()
    }

    /// A one-image manifest.json.
    fn manifest_json(config: &str, layers: &[String]) -> Vec<u8> {
        serde_json::to_vec(&json!([{
            "Config": config,
            "RepoTags": ["base:latest"],
            "Layers": layers,
        }]))
        .unwrap()
    }

    /// The layer member names `layers/<i>.tar`.
    fn layer_names(count: usize) -> Vec<String> {
        (0..count).map(|i| format!("layers/{i}.tar")).collect()
    }

    /// A `docker save`-style archive of `layers`, with a content-addressed config.
    fn docker_save(layers: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
        let config = config_json(&diff_ids_of(layers));
        let config_name = format!("{}.json", sha256_hex(&config));
        let names = layer_names(layers.len());
        let mut out = TarOut::new().dir("layers/");
        for (name, data) in names.iter().zip(layers) {
            out = out.file(name, data);
        }
        let bytes = out
            .file(&config_name, &config)
            .file("manifest.json", &manifest_json(&config_name, &names))
            .finish();
        (bytes, config)
    }

    /// Writes `bytes` as `name` in `dir` and returns the path.
    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// The error text of reading `path`, which must fail.
    fn error_of(path: &Path) -> String {
        match read_base_image(path) {
            Ok(_) => panic!("{} was accepted", path.display()),
            Err(e) => e.to_string(),
        }
    }

    /// The bytes a blob's range covers.
    fn blob_bytes(blob: &Blob) -> Vec<u8> {
        read_range(&blob.file, blob.offset, blob.size).unwrap()
    }

    /// Gzip-compresses `bytes`.
    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// Asserts `image` holds exactly `layers` (bytes, order, digests, origins).
    fn assert_layers(image: &BaseImage, path: &Path, layers: &[Vec<u8>], names: &[String]) {
        assert_eq!(image.layers.len(), layers.len());
        for ((blob, data), name) in image.layers.iter().zip(layers).zip(names) {
            assert_eq!(blob_bytes(blob), *data);
            assert_eq!(blob.expected_sha256.as_deref(), Some(&*sha256_hex(data)));
            assert_eq!(
                blob.origin,
                format!("base image {}: member {name}", path.display())
            );
        }
    }

    /// A plain docker-save archive yields its config and layer ranges, bottom first.
    #[test]
    fn new_style_plain() {
        let dir = tempfile::tempdir().unwrap();
        let layers = vec![layer("bottom", 300), layer("top", 2000)];
        let (bytes, config) = docker_save(&layers);
        let path = write(&dir, "base.tar", &bytes);
        let image = read_base_image(&path).unwrap();
        assert_eq!(
            image.config,
            serde_json::from_slice::<Value>(&config).unwrap()
        );
        assert_layers(&image, &path, &layers, &layer_names(2));
    }

    /// A gzip-compressed archive is decompressed once and indexed the same way.
    #[test]
    fn new_style_gzip_archive() {
        let dir = tempfile::tempdir().unwrap();
        let layers = vec![layer("a", 10), layer("b", 5000)];
        let (bytes, _) = docker_save(&layers);
        let path = write(&dir, "base.tar.gz", &gzip(&bytes));
        let image = read_base_image(&path).unwrap();
        assert_layers(&image, &path, &layers, &layer_names(2));
    }

    /// A zstd-compressed archive is decompressed once and indexed the same way.
    #[test]
    fn new_style_zstd_archive() {
        let dir = tempfile::tempdir().unwrap();
        let layers = vec![layer("z", 700)];
        let (bytes, _) = docker_save(&layers);
        let compressed = zstd::stream::encode_all(&bytes[..], 3).unwrap();
        let path = write(&dir, "base.tar.zst", &compressed);
        let image = read_base_image(&path).unwrap();
        assert_layers(&image, &path, &layers, &layer_names(1));
    }

    /// A gzip layer member becomes a decompressed copy; its diff_id covers the plain bytes.
    #[test]
    fn gzip_layer_member_is_decompressed() {
        let dir = tempfile::tempdir().unwrap();
        let plain = vec![layer("gz", 4000), layer("raw", 3)];
        let config = config_json(&diff_ids_of(&plain));
        let names = layer_names(2);
        let bytes = TarOut::new()
            .file(&names[0], &gzip(&plain[0]))
            .file(&names[1], &plain[1])
            .file("config.json", &config)
            .file("manifest.json", &manifest_json("config.json", &names))
            .finish();
        let path = write(&dir, "base.tar", &bytes);
        let image = read_base_image(&path).unwrap();
        assert_layers(&image, &path, &plain, &names);
        assert_eq!(image.layers[0].offset, 0);
    }

    /// A layer member that is a symlink to another layer member resolves to that member.
    #[test]
    fn docker_save_symlinked_duplicate_layer() {
        // docker save writes a layer that occurs twice once, and a symlink for the repeat.
        let dir = tempfile::tempdir().unwrap();
        let data = layer("same", 50);
        let layers = vec![data.clone(), data.clone()];
        let config = config_json(&diff_ids_of(&layers));
        let names = vec!["aaa/layer.tar".to_owned(), "bbb/layer.tar".to_owned()];
        let bytes = TarOut::new()
            .dir("aaa/")
            .file("aaa/layer.tar", &data)
            .dir("bbb/")
            .symlink("bbb/layer.tar", "../aaa/layer.tar")
            .file("config.json", &config)
            .file("manifest.json", &manifest_json("config.json", &names))
            .finish();
        let path = write(&dir, "base.tar", &bytes);
        let image = read_base_image(&path).unwrap();
        assert_layers(&image, &path, &layers, &names);
    }

    /// A legacy layer json with an optional parent.
    fn legacy_json(id: &str, parent: Option<&str>) -> Vec<u8> {
        let mut json = json!({
            "id": id,
            "created": "2020-01-01T00:00:00Z",
            "architecture": "arm64",
            "os": "linux",
            "container_config": {"Cmd": ["/bin/sh"]},
            "config": {"Cmd": [format!("/bin/{id}")]},
        });
        if let Some(parent) = parent {
            json["parent"] = json!(parent);
        }
        serde_json::to_vec(&json).unwrap()
    }

    /// A legacy archive with layers `bottom` (parent of) `top`; members listed top first
    /// so that order on disk cannot be mistaken for layer order.
    fn legacy_archive(bottom: &[u8], top: &[u8], repositories: Option<&str>) -> Vec<u8> {
        let mut out = TarOut::new()
            .dir("top/")
            .file("top/VERSION", b"1.0")
            .file("top/json", &legacy_json("top", Some("bottom")))
            .file("top/layer.tar", top)
            .dir("bottom/")
            .file("bottom/VERSION", b"1.0")
            .file("bottom/json", &legacy_json("bottom", None))
            .file("bottom/layer.tar", bottom);
        if let Some(repositories) = repositories {
            out = out.file("repositories", repositories.as_bytes());
        }
        out.finish()
    }

    /// Legacy layers come out bottom first, with or without `repositories`, and get a built config.
    #[test]
    fn legacy_two_layers_bottom_first() {
        let dir = tempfile::tempdir().unwrap();
        let (bottom, top) = (layer("bottom", 100), layer("top", 100));
        for repositories in [Some(r#"{"base": {"latest": "top"}}"#), None] {
            let path = write(
                &dir,
                "legacy.tar",
                &legacy_archive(&bottom, &top, repositories),
            );
            let image = read_base_image(&path).unwrap();
            assert_eq!(image.layers.len(), 2);
            assert_eq!(blob_bytes(&image.layers[0]), bottom);
            assert_eq!(blob_bytes(&image.layers[1]), top);
            assert!(image.layers.iter().all(|l| l.expected_sha256.is_none()));
            assert_eq!(
                image.layers[0].origin,
                format!("base image {}: member bottom/layer.tar", path.display())
            );
            assert_eq!(
                image.config,
                json!({
                    "architecture": "arm64",
                    "os": "linux",
                    "created": "2020-01-01T00:00:00Z",
                    "config": {"Cmd": ["/bin/top"]},
                    "rootfs": {"type": "layers", "diff_ids": []},
                    "history": [],
                })
            );
        }
    }

    /// A legacy `repositories` naming several top layers is refused.
    #[test]
    fn legacy_several_images_in_repositories() {
        let dir = tempfile::tempdir().unwrap();
        let repositories = r#"{"a": {"latest": "top"}, "b": {"old": "bottom"}}"#;
        let bytes = legacy_archive(b"x", b"y", Some(repositories));
        let path = write(&dir, "legacy.tar", &bytes);
        assert_eq!(
            error_of(&path),
            format!(
                "base image {}: member repositories: names several images (bottom, top); \
                 fromImage needs a single-image archive",
                path.display()
            )
        );
    }

    /// Without `repositories`, two layers that are nobody's parent are refused.
    #[test]
    fn legacy_two_tops_without_repositories() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = TarOut::new()
            .file("a/json", &legacy_json("a", None))
            .file("a/layer.tar", b"a")
            .file("b/json", &legacy_json("b", None))
            .file("b/layer.tar", b"b")
            .finish();
        let path = write(&dir, "legacy.tar", &bytes);
        assert_eq!(
            error_of(&path),
            format!(
                "base image {}: 2 legacy layers are nobody's parent (a, b), so the archive \
                 holds several images; fromImage needs a single-image archive",
                path.display()
            )
        );
    }

    /// Names longer than a tar header holds (GNU long names) are indexed correctly.
    #[test]
    fn long_member_names() {
        // Names over 100 bytes need a GNU long-name (or PAX) header before the member.
        let dir = tempfile::tempdir().unwrap();
        let layers = [layer("long", 900)];
        let config = config_json(&diff_ids_of(&layers));
        let names = vec![format!("{}/layer.tar", "d".repeat(150))];
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data) in [
            (names[0].as_str(), &layers[0][..]),
            ("config.json", &config[..]),
            ("manifest.json", &manifest_json("config.json", &names)[..]),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            builder.append_data(&mut header, name, data).unwrap();
        }
        let path = write(&dir, "base.tar", &builder.into_inner().unwrap());
        let image = read_base_image(&path).unwrap();
        assert_layers(&image, &path, &layers, &names);
    }

    /// A cycle of `parent` links is an error, not an endless loop.
    #[test]
    fn legacy_parent_cycle() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = TarOut::new()
            .file("a/json", &legacy_json("a", Some("b")))
            .file("a/layer.tar", b"a")
            .file("b/json", &legacy_json("b", Some("a")))
            .file("b/layer.tar", b"b")
            .file("repositories", br#"{"r": {"t": "a"}}"#)
            .finish();
        let path = write(&dir, "legacy.tar", &bytes);
        assert_eq!(
            error_of(&path),
            format!(
                "base image {}: member a/json: parent links form a cycle through this layer",
                path.display()
            )
        );
    }

    /// A `parent` without its `<id>/json` is an error naming the child.
    #[test]
    fn legacy_missing_parent() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = TarOut::new()
            .file("a/json", &legacy_json("a", Some("gone")))
            .file("a/layer.tar", b"a")
            .finish();
        let path = write(&dir, "legacy.tar", &bytes);
        assert_eq!(
            error_of(&path),
            format!(
                "base image {}: member a/json: names parent gone but the archive has no \
                 member gone/json",
                path.display()
            )
        );
    }

    /// A member name with `..` is refused as hostile.
    #[test]
    fn dotdot_member_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = TarOut::new().file("../evil", b"x").finish();
        let path = write(&dir, "base.tar", &bytes);
        assert_eq!(
            error_of(&path),
            format!(
                "base image {}: member ../evil: name escapes the archive root \
                 (contains '..'); refusing hostile archive",
                path.display()
            )
        );
    }

    /// An absolute member name is refused as hostile.
    #[test]
    fn absolute_member_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = TarOut::new().file("/etc/passwd", b"x").finish();
        let path = write(&dir, "base.tar", &bytes);
        assert_eq!(
            error_of(&path),
            format!(
                "base image {}: member /etc/passwd: absolute name; refusing hostile archive",
                path.display()
            )
        );
    }

    /// Two members that normalize to the same name are refused.
    #[test]
    fn duplicate_member_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = TarOut::new()
            .file("manifest.json", b"[]")
            .file("./manifest.json", b"[]")
            .finish();
        let path = write(&dir, "base.tar", &bytes);
        assert_eq!(
            error_of(&path),
            format!(
                "base image {}: member manifest.json: appears more than once in the \
                 archive; refusing ambiguous archive",
                path.display()
            )
        );
    }

    /// A layer listed in the manifest but absent is an error naming it.
    #[test]
    fn missing_layer() {
        let dir = tempfile::tempdir().unwrap();
        let layers = vec![layer("a", 1)];
        let config = config_json(&diff_ids_of(&layers));
        let names = vec!["layers/0.tar".to_owned()];
        let bytes = TarOut::new()
            .file("config.json", &config)
            .file("manifest.json", &manifest_json("config.json", &names))
            .finish();
        let path = write(&dir, "base.tar", &bytes);
        assert_eq!(
            error_of(&path),
            format!(
                "base image {}: member layers/0.tar: (layer listed in manifest.json) \
                 missing from the archive",
                path.display()
            )
        );
    }

    /// A layer listed in the manifest that is a directory is an error.
    #[test]
    fn layer_that_is_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_json(&diff_ids_of(&[layer("a", 1)]));
        let names = vec!["layers".to_owned()];
        let bytes = TarOut::new()
            .dir("layers/")
            .file("config.json", &config)
            .file("manifest.json", &manifest_json("config.json", &names))
            .finish();
        let path = write(&dir, "base.tar", &bytes);
        assert_eq!(
            error_of(&path),
            format!(
                "base image {}: member layers: (layer listed in manifest.json) is a \
                 directory, not a regular file",
                path.display()
            )
        );
    }

    /// diff_ids and manifest Layers of different lengths are refused.
    #[test]
    fn diff_ids_length_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let layers = [layer("a", 1), layer("b", 1)];
        let config = config_json(&diff_ids_of(&layers[..1]));
        let names = layer_names(2);
        let bytes = TarOut::new()
            .file(&names[0], &layers[0])
            .file(&names[1], &layers[1])
            .file("config.json", &config)
            .file("manifest.json", &manifest_json("config.json", &names))
            .finish();
        let path = write(&dir, "base.tar", &bytes);
        assert_eq!(
            error_of(&path),
            format!(
                "base image {}: member config.json: rootfs.diff_ids lists 1 layers but \
                 manifest.json lists 2",
                path.display()
            )
        );
    }

    /// A diff_id that is not `sha256:<64 hex>` is refused.
    #[test]
    fn diff_id_bad_format() {
        let dir = tempfile::tempdir().unwrap();
        let layers = [layer("a", 1)];
        let config = config_json(&["sha256:ABC".to_owned()]);
        let names = layer_names(1);
        let bytes = TarOut::new()
            .file(&names[0], &layers[0])
            .file("config.json", &config)
            .file("manifest.json", &manifest_json("config.json", &names))
            .finish();
        let path = write(&dir, "base.tar", &bytes);
        assert_eq!(
            error_of(&path),
            format!(
                "base image {}: member config.json: rootfs.diff_ids[0] is \"sha256:ABC\", \
                 not sha256:<64 lowercase hex>",
                path.display()
            )
        );
    }

    /// An archive cut inside a layer's data is an error naming that layer.
    #[test]
    fn truncated_in_a_layer() {
        let dir = tempfile::tempdir().unwrap();
        let layers = vec![layer("a", 100), layer("big", 20_000)];
        let (bytes, _) = docker_save(&layers);
        let path = write(&dir, "base.tar", &bytes);
        let blob = read_base_image(&path).unwrap().layers[1].clone();
        let cut = blob.offset + blob.size / 2;
        let path = write(&dir, "cut.tar", &bytes[..cut as usize]);
        assert_eq!(
            error_of(&path),
            format!(
                "base image {}: member layers/1.tar: data runs past the end of the file \
                 ({} bytes at offset {}, file has {cut}); the archive is truncated",
                path.display(),
                blob.size,
                blob.offset
            )
        );
    }

    /// An archive cut inside a tar header is an error, not a panic.
    #[test]
    fn truncated_in_a_header() {
        let dir = tempfile::tempdir().unwrap();
        let (bytes, _) = docker_save(&[layer("a", 1)]);
        let path = write(&dir, "cut.tar", &bytes[..100]);
        assert_eq!(
            error_of(&path),
            format!(
                "base image {}: reading the tar headers failed, the archive is truncated \
                 or corrupt: failed to read entire block",
                path.display()
            )
        );
    }

    /// A cut gzip archive fails while decompressing.
    #[test]
    fn truncated_gzip_archive() {
        let dir = tempfile::tempdir().unwrap();
        let (bytes, _) = docker_save(&[layer("a", 5000)]);
        let compressed = gzip(&bytes);
        let path = write(&dir, "cut.tar.gz", &compressed[..compressed.len() / 2]);
        let expected = format!(
            "base image {}: decompressing the gzip archive failed: ",
            path.display()
        );
        assert!(error_of(&path).starts_with(&expected));
    }

    /// A manifest with two images is refused.
    #[test]
    fn manifest_with_two_images() {
        let dir = tempfile::tempdir().unwrap();
        let manifest =
            br#"[{"Config": "a.json", "Layers": []}, {"Config": "b.json", "Layers": []}]"#;
        let bytes = TarOut::new().file("manifest.json", manifest).finish();
        let path = write(&dir, "base.tar", &bytes);
        assert_eq!(
            error_of(&path),
            format!(
                "base image {}: member manifest.json: the archive holds 2 images and \
                 fromImage needs exactly one; save a single image",
                path.display()
            )
        );
    }

    /// A tar with neither manifest.json nor legacy directories is refused.
    #[test]
    fn not_a_docker_archive() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = TarOut::new().dir("etc/").file("etc/hosts", b"x").finish();
        let path = write(&dir, "base.tar", &bytes);
        assert_eq!(
            error_of(&path),
            format!(
                "base image {}: is not a docker-archive: no manifest.json and no legacy \
                 layer directories",
                path.display()
            )
        );
    }

    /// A `<hex>.json` config whose content has another digest is refused.
    #[test]
    fn config_digest_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let layers = vec![layer("a", 1)];
        let config = config_json(&diff_ids_of(&layers));
        let stated = "0".repeat(64);
        let config_name = format!("{stated}.json");
        let names = layer_names(1);
        let bytes = TarOut::new()
            .file(&names[0], &layers[0])
            .file(&config_name, &config)
            .file("manifest.json", &manifest_json(&config_name, &names))
            .finish();
        let path = write(&dir, "base.tar", &bytes);
        assert_eq!(
            error_of(&path),
            format!(
                "base image {}: member {config_name}: content has sha256 {} but the name \
                 says {stated}; the archive is corrupt",
                path.display(),
                sha256_hex(&config)
            )
        );
    }

    /// Link targets resolve lexically and never climb above the root.
    #[test]
    fn link_resolution_stays_inside_the_archive() {
        assert_eq!(join_link("a/b", "../c/d"), Some("a/c/d".to_owned()));
        assert_eq!(join_link("a", "../../etc"), None);
        assert_eq!(join_link("a", "/etc/passwd"), None);
        assert_eq!(normalize("./a//b/"), "a/b");
    }
}
