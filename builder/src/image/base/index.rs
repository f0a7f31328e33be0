//! The index of a docker-archive's members, built from the tar headers alone: each
//! member classified (file, link, directory, special) under its normalized name. This is
//! where the archive is treated as untrusted: names that escape the root, duplicate
//! names and data running past the end of the file are refused here.

use std::collections::hash_map::Entry as MapEntry;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use tar::EntryType;

use super::member_error;
use crate::error::{Error, Result};

/// What a member of the archive is, as far as reading the image needs to know.
pub(super) enum Member {
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
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Member::File { .. } => "a regular file",
            Member::Link { .. } => "a link",
            Member::Dir => "a directory",
            Member::Special => "a special file (device, fifo or sparse file)",
        }
    }
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
pub(super) fn index_members(archive: &Path, file: &File) -> Result<HashMap<String, Member>> {
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
pub(super) fn normalize(name: &str) -> String {
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
pub(super) fn join_link(base_dir: &str, target: &str) -> Option<String> {
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
