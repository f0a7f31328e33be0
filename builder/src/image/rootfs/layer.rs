//! Reading one layer tar, untrusted, into the changes it makes to the root filesystem.
//!
//! What is refused, each with one line naming the layer and the entry: names that are
//! absolute or climb out of the root with `..` (after `./` and empty components are
//! dropped), members whose data would run past the end of the layer (a size is a claim,
//! not a fact), device nodes and fifos (a root tarball that makes devices when unpacked
//! as root is a hazard, and container runtimes provide `/dev` themselves), sparse files,
//! and whiteouts that name nothing. Extended attributes are dropped, as GNU tar does by
//! default in nixpkgs' exportImage.

use std::io::Read;

use tar::EntryType;

use super::index::{Data, Meta, Node};
use crate::error::{Error, Result};
use crate::image::blob::Blob;
use crate::tar::digest::HashingReader;
use crate::tar::Owner;

/// The prefix that makes an entry a whiteout.
const WHITEOUT: &[u8] = b".wh.";
/// The entry that makes its directory opaque.
const OPAQUE: &[u8] = b".wh..wh..opq";
/// The prefix of aufs' own bookkeeping entries at a layer's root.
const AUFS_META: &[u8] = b".wh..wh.";

/// One layer of an image, for reading and for error messages.
pub(super) struct LayerRef<'a> {
    pub blob: &'a Blob,
    /// Where the layer is among the image's layers, bottom first, from 0.
    pub position: usize,
    /// How many layers the image has.
    pub count: usize,
}

impl LayerRef<'_> {
    /// The error for a problem with the entry `entry` (a name as the layer gives it).
    pub fn fail(&self, entry: &[u8], message: impl std::fmt::Display) -> Error {
        self.error(format!(
            "entry {}: {message}",
            String::from_utf8_lossy(entry)
        ))
    }

    /// The error for a problem with the layer as a whole.
    fn error(&self, message: String) -> Error {
        Error::Input {
            path: format!(
                "{}, layer {} of {}",
                self.blob.origin,
                self.position + 1,
                self.count
            )
            .into(),
            message,
        }
    }

    /// The error for a layer the `tar` crate could not read.
    fn corrupt(&self, error: std::io::Error) -> Error {
        self.error(format!(
            "reading the layer tar failed, it is truncated or corrupt: {error}"
        ))
    }
}

/// What one entry of a layer does to the root filesystem below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Change {
    /// `.wh.<name>`: the path and everything below it go (from lower layers only).
    Whiteout(Vec<u8>),
    /// `.wh..wh..opq`: the lower layers' contents of this directory go.
    Opaque(Vec<u8>),
    /// A directory, file or symlink at the path.
    Put(Vec<u8>, Node),
    /// A hard link at `path` to the member `target`, resolved when it is applied.
    HardLink { path: Vec<u8>, target: Vec<u8> },
}

/// Reads the layer's entries into changes, in the layer's order, and checks the layer
/// against its digest (when its image states one) in the same pass.
pub(super) fn read_layer(layer: &LayerRef) -> Result<Vec<Change>> {
    let mut reader = HashingReader::new(layer.blob.reader());
    let mut changes = Vec::new();
    {
        let mut archive = tar::Archive::new(&mut reader);
        let entries = archive.entries().map_err(|e| layer.corrupt(e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| layer.corrupt(e))?;
            let raw = entry.path_bytes().into_owned();
            let change = change_of(layer, &mut entry).map_err(|m| layer.fail(&raw, m))?;
            changes.extend(change);
        }
    }
    let digest = reader.finish().map_err(|e| layer.corrupt(e))?;
    layer.blob.verify(&digest.hex())?;
    Ok(changes)
}

/// The change one entry makes, `None` for entries that carry nothing (PAX global
/// headers, aufs bookkeeping), or why the entry is refused.
fn change_of<R: Read>(
    layer: &LayerRef,
    entry: &mut tar::Entry<'_, R>,
) -> Result<Option<Change>, String> {
    let kind = entry.header().entry_type();
    refuse_kind(kind)?;
    let (offset, size) = (entry.raw_file_position(), entry.size());
    if offset
        .checked_add(size)
        .is_none_or(|end| end > layer.blob.size)
    {
        return Err(format!(
            "claims {size} bytes at offset {offset}, but the layer has {} bytes; \
             refusing truncated or hostile layer",
            layer.blob.size
        ));
    }
    if kind == EntryType::XGlobalHeader {
        return Ok(None); // archive-wide PAX defaults, which layer writers do not use
    }
    let path = normalize(&entry.path_bytes())?;
    if is_aufs_meta(&path) {
        return Ok(None);
    }
    if let Some(change) = whiteout(&path)? {
        return Ok(Some(change));
    }
    let meta = meta_of(entry)?;
    let node = match kind {
        EntryType::Directory => Node::Dir(meta),
        EntryType::Symlink => Node::Symlink(meta, link_name(entry)?),
        EntryType::Link => {
            let target = normalize(&link_name(entry)?)
                .map_err(|m| format!("is a hard link whose target {m}"))?;
            return Ok(Some(Change::HardLink { path, target }));
        }
        _ => {
            let data = Data {
                layer: layer.position,
                offset,
                size,
            };
            Node::File(meta, data)
        }
    };
    Ok(Some(Change::Put(path, node)))
}

/// Refuses the entry types a root filesystem tarball is not made of.
fn refuse_kind(kind: EntryType) -> Result<(), String> {
    match kind {
        EntryType::Regular
        | EntryType::Continuous
        | EntryType::Directory
        | EntryType::Symlink
        | EntryType::Link
        | EntryType::XGlobalHeader => Ok(()),
        EntryType::Char | EntryType::Block => Err("is a device node; stowage exports \
             files, directories and links only (container runtimes provide /dev)"
            .into()),
        EntryType::Fifo => {
            Err("is a fifo; stowage exports files, directories and links only".into())
        }
        EntryType::GNUSparse => Err("is a sparse file, which stowage does not read".into()),
        other => Err(format!(
            "has tar entry type {:?}, which a layer does not hold",
            char::from(other.as_byte())
        )),
    }
}

/// The normalized form of a member name or hard-link target: relative to the root,
/// without empty or `.` components (`./a//b/` is `a/b`; the root itself is empty).
/// Absolute names and `..` components are refused: they can only be meant to write
/// outside the root.
pub(super) fn normalize(raw: &[u8]) -> Result<Vec<u8>, String> {
    if raw.starts_with(b"/") {
        return Err("is an absolute name; refusing hostile layer".into());
    }
    let mut path = Vec::with_capacity(raw.len());
    for component in raw.split(|&b| b == b'/') {
        match component {
            b"" | b"." => {}
            b".." => return Err("climbs out of the root with '..'; refusing hostile layer".into()),
            name => {
                if !path.is_empty() {
                    path.push(b'/');
                }
                path.extend_from_slice(name);
            }
        }
    }
    Ok(path)
}

/// The directory part and the last component of a normalized path.
fn split_parent(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(slash) => (&path[..slash], &path[slash + 1..]),
        None => (&path[..0], path),
    }
}

/// True for aufs' own bookkeeping at the layer's root (`.wh..wh.plnk/…`,
/// `.wh..wh.aufs`), which is not content: Docker skips it too.
fn is_aufs_meta(path: &[u8]) -> bool {
    path.starts_with(AUFS_META) && path != OPAQUE
}

/// The whiteout change `path` stands for, or `None` when it is an ordinary name.
fn whiteout(path: &[u8]) -> Result<Option<Change>, String> {
    let (parent, name) = split_parent(path);
    if name == OPAQUE {
        return Ok(Some(Change::Opaque(parent.to_vec())));
    }
    let Some(deleted) = name.strip_prefix(WHITEOUT) else {
        return Ok(None);
    };
    if matches!(deleted, b"" | b"." | b"..") {
        return Err("is a whiteout that names nothing; refusing hostile layer".into());
    }
    let mut target = parent.to_vec();
    if !target.is_empty() {
        target.push(b'/');
    }
    target.extend_from_slice(deleted);
    Ok(Some(Change::Whiteout(target)))
}

/// The target of a symlink or hard link, verbatim.
fn link_name<R: Read>(entry: &tar::Entry<'_, R>) -> Result<Vec<u8>, String> {
    match entry.link_name_bytes() {
        Some(target) => Ok(target.into_owned()),
        None => Err("is a link without a target".into()),
    }
}

/// The mode and owner the entry's header gives, with what its PAX records override
/// (the `tar` crate applies `size`, `uid` and `gid` itself; names and time are ours).
fn meta_of<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Meta, String> {
    let header = entry.header();
    let field = |name: &str, e: std::io::Error| format!("has an unreadable {name}: {e}");
    let lossy =
        |bytes: Option<&[u8]>| String::from_utf8_lossy(bytes.unwrap_or_default()).into_owned();
    let mode = header.mode().map_err(|e| field("mode", e))? & 0o7777;
    let mut owner = Owner {
        uid: header.uid().map_err(|e| field("uid", e))?,
        gid: header.gid().map_err(|e| field("gid", e))?,
        uname: lossy(header.username_bytes()),
        gname: lossy(header.groupname_bytes()),
        mtime: header.mtime().map_err(|e| field("mtime", e))?,
    };
    let records = entry.pax_extensions().map_err(|e| field("PAX header", e))?;
    for record in records.into_iter().flatten() {
        let record = record.map_err(|e| field("PAX record", e))?;
        let value = record.value_bytes();
        match record.key_bytes() {
            b"uname" => owner.uname = lossy(Some(value)),
            b"gname" => owner.gname = lossy(Some(value)),
            b"mtime" => owner.mtime = pax_seconds(value)?,
            key if key.starts_with(b"GNU.sparse.") => {
                return Err("is a sparse file, which stowage does not read".into())
            }
            _ => {}
        }
    }
    Ok(Meta { mode, owner })
}

/// The whole seconds of a PAX time (`1700000000.25`); times before 1970 become 0, as
/// the header encoder writes them.
fn pax_seconds(value: &[u8]) -> Result<u64, String> {
    let text = std::str::from_utf8(value).unwrap_or("");
    let whole = text.split('.').next().unwrap_or("");
    let digits = whole.strip_prefix('-').unwrap_or(whole);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("has a PAX mtime {text:?} that is not a number"));
    }
    if whole.starts_with('-') {
        return Ok(0);
    }
    digits
        .parse()
        .map_err(|_| format!("has a PAX mtime {text:?} out of range"))
}
