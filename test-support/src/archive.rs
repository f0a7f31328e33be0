//! Reading docker-archives and their layer tars.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::command::{command, run};

/// Hex SHA-256 of bytes.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Hex SHA-256 of a file's bytes.
pub fn sha256_file(path: &Path) -> String {
    sha256(&read(path))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The members of a tar, in order: each name with its bytes.
pub fn tar_members(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .expect("a tar")
        .map(|entry| {
            let mut entry = entry.expect("read a tar member");
            let name = entry
                .path()
                .expect("member name")
                .to_string_lossy()
                .into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).expect("read member data");
            (name, data)
        })
        .collect()
}

/// The bytes of a docker-archive file, decompressed when the whole file is gzip or zstd
/// (`compressor = "gz"` or `"zstd"`, `--compress`), by the system's `gzip` or `zstd`.
pub fn archive_bytes(path: &Path) -> Vec<u8> {
    let bytes = read(path);
    let tool = if bytes.starts_with(&[0x1f, 0x8b]) {
        "gzip"
    } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        "zstd"
    } else {
        return bytes;
    };
    run(command(tool, ["-dc"]).arg(path)).stdout
}

/// A docker-archive read into memory: its member names in order, `manifest.json`, the
/// image config and each layer's tar bytes.
pub struct DockerArchive {
    /// Member names in the order they appear in the archive.
    pub members: Vec<String>,
    /// The parsed `manifest.json`.
    pub manifest: Value,
    /// The member name of the config (`<sha256>.json`).
    pub config_name: String,
    /// The config's raw bytes (its SHA-256 is the image ID).
    pub config_bytes: Vec<u8>,
    /// The parsed image config.
    pub config: Value,
    /// Layer tars in manifest order, with their member names.
    pub layers: Vec<(String, Vec<u8>)>,
}

impl DockerArchive {
    /// Reads an uncompressed docker-archive from a file.
    pub fn open(path: &Path) -> DockerArchive {
        DockerArchive::from_bytes(&read(path))
    }

    /// Reads a docker-archive that may be compressed as a whole (see [`archive_bytes`]).
    pub fn open_any(path: &Path) -> DockerArchive {
        DockerArchive::from_bytes(&archive_bytes(path))
    }

    /// Reads an uncompressed docker-archive from bytes.
    pub fn from_bytes(bytes: &[u8]) -> DockerArchive {
        let all = tar_members(bytes);
        let members = all.iter().map(|(name, _)| name.clone()).collect();
        let contents: BTreeMap<String, Vec<u8>> = all.into_iter().collect();
        let member = |name: &str, what: &str| {
            contents
                .get(name)
                .unwrap_or_else(|| panic!("the archive lacks the {what} {name}"))
                .clone()
        };
        let manifest: Value = serde_json::from_slice(&member("manifest.json", "manifest"))
            .expect("manifest.json is JSON");
        let image = &manifest.as_array().expect("manifest.json is an array")[0];
        let config_name = image["Config"]
            .as_str()
            .expect("manifest Config")
            .to_owned();
        let config_bytes = member(&config_name, "config");
        let config = serde_json::from_slice(&config_bytes).expect("the config is JSON");
        let layers = image["Layers"]
            .as_array()
            .expect("manifest Layers")
            .iter()
            .map(|l| {
                let name = l.as_str().expect("layer name").to_owned();
                let data = member(&name, "layer");
                (name, data)
            })
            .collect();
        DockerArchive {
            members,
            manifest,
            config_name,
            config_bytes,
            config,
            layers,
        }
    }

    /// The image ID as Docker reports it: `sha256:` and the config's digest.
    pub fn image_id(&self) -> String {
        format!("sha256:{}", sha256(&self.config_bytes))
    }

    /// The archive's single repo tag.
    pub fn repo_tag(&self) -> String {
        let tags = self.manifest[0]["RepoTags"]
            .as_array()
            .expect("manifest RepoTags");
        assert_eq!(tags.len(), 1, "one repo tag expected: {tags:?}");
        tags[0].as_str().expect("repo tag").to_owned()
    }

    /// The image config's `rootfs.diff_ids`, bottom layer first.
    pub fn diff_ids(&self) -> Vec<String> {
        self.config["rootfs"]["diff_ids"]
            .as_array()
            .expect("rootfs.diff_ids")
            .iter()
            .map(|d| d.as_str().expect("a diff_id is a string").to_owned())
            .collect()
    }

    /// The store paths (`/nix/store/<hash>-<name>`) whose top entry layer `index` holds,
    /// sorted.
    pub fn layer_store_paths(&self, index: usize) -> Vec<String> {
        let mut paths: Vec<String> = layer_member_names(&self.layers[index].1)
            .into_iter()
            .filter_map(|name| {
                let rest = name.strip_prefix("nix/store/")?;
                (!rest.is_empty() && !rest.contains('/')).then(|| format!("/{name}"))
            })
            .collect();
        paths.sort();
        paths
    }

    /// Every store path of every layer, sorted and without duplicates.
    pub fn store_paths(&self) -> Vec<String> {
        let mut all: Vec<String> = (0..self.layers.len())
            .flat_map(|i| self.layer_store_paths(i))
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

/// One member of a layer tar, as its header describes it.
pub struct LayerEntry {
    /// The member name as the tar holds it (directories end in `/`).
    pub path: String,
    pub entry_type: tar::EntryType,
    /// The target of a symlink or hard link.
    pub link: Option<String>,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// The owner's names, empty when the header has none.
    pub username: String,
    pub groupname: String,
    pub size: u64,
    pub mtime: u64,
}

/// How [`LayerEntry::line`] shows a member; each suite's snapshots keep their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListingStyle {
    /// `ls -l` style: type letter, mode, owner, size, name, link target
    /// (`- 0555 0:0 root:root     21 nix/store/…/bin/hello`). Only directories, regular
    /// files and symlinks are expected.
    TypeFirst,
    /// Name first, with the mtime and the kind in words
    /// (`nix/ 755 0:0 root:root size=0 mtime=1 dir`).
    NameFirst,
}

impl LayerEntry {
    /// The member as one line of a listing.
    pub fn line(&self, style: ListingStyle) -> String {
        let (path, mode, size) = (&self.path, self.mode, self.size);
        let owner = format!(
            "{}:{} {}:{}",
            self.uid, self.gid, self.username, self.groupname
        );
        let link = || self.link.as_deref().expect("a link has a target");
        match style {
            ListingStyle::TypeFirst => {
                let kind = match self.entry_type {
                    tar::EntryType::Directory => 'd',
                    tar::EntryType::Symlink => 'l',
                    tar::EntryType::Regular => '-',
                    other => panic!("unexpected member type {other:?}"),
                };
                let link = self
                    .link
                    .as_ref()
                    .map(|l| format!(" -> {l}"))
                    .unwrap_or_default();
                format!("{kind} {mode:04o} {owner} {size:>6} {path}{link}")
            }
            ListingStyle::NameFirst => {
                let kind = match self.entry_type {
                    tar::EntryType::Regular => "file".to_owned(),
                    tar::EntryType::Directory => "dir".to_owned(),
                    tar::EntryType::Symlink => format!("symlink -> {}", link()),
                    tar::EntryType::Link => format!("hardlink -> {}", link()),
                    other => format!("{other:?}"),
                };
                let mtime = self.mtime;
                format!("{path} {mode:o} {owner} size={size} mtime={mtime} {kind}")
            }
        }
    }
}

/// The members of a layer tar, in order.
pub fn layer_entries(layer: &[u8]) -> Vec<LayerEntry> {
    let mut archive = tar::Archive::new(layer);
    archive
        .entries()
        .expect("a layer is a tar")
        .map(|entry| {
            let entry = entry.expect("read a layer member");
            let header = entry.header();
            let name = |n: Option<&str>| n.unwrap_or("").to_owned();
            LayerEntry {
                path: entry.path().expect("member name").display().to_string(),
                entry_type: header.entry_type(),
                link: entry
                    .link_name()
                    .expect("link name")
                    .map(|l| l.display().to_string()),
                mode: header.mode().expect("mode"),
                uid: header.uid().expect("uid"),
                gid: header.gid().expect("gid"),
                username: name(header.username().ok().flatten()),
                groupname: name(header.groupname().ok().flatten()),
                size: entry.size(),
                mtime: header.mtime().expect("mtime"),
            }
        })
        .collect()
}

/// One line per member of a layer tar, in the given style.
pub fn layer_listing_as(layer: &[u8], style: ListingStyle) -> Vec<String> {
    layer_entries(layer).iter().map(|e| e.line(style)).collect()
}

/// The member names of a layer tar, in order, without a trailing `/`.
pub fn layer_member_names(layer: &[u8]) -> Vec<String> {
    layer_entries(layer)
        .into_iter()
        .map(|e| e.path.trim_end_matches('/').to_owned())
        .collect()
}
