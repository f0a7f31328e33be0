//! The `.attrs.json` of the derivations our Nix library makes (`__structuredAttrs`), one
//! schema per `stowage nix` command: the whole contract between `nix/lib` and the
//! builder, besides the conf itself.

use crate::conf::Conf;
use crate::customisation::perms::RawPermRule;
use crate::error::{Error, Result};
use crate::graph::GraphEntry;
use crate::image::output_format::OutputFormat;
use crate::tar::compression::Compression;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The attributes common to every derivation: where to write.
#[derive(Debug, Deserialize)]
pub struct Outputs {
    pub out: PathBuf,
}

/// `stowage nix write-json`.
#[derive(Debug, Deserialize)]
pub struct WriteJsonAttrs {
    pub outputs: Outputs,
    pub value: Value,
}

/// `stowage nix write-tree`: a small directory of text files, scripts, symlinks and empty
/// directories (dockerTools' helpers such as `fakeNss` and `binSh`). Paths are relative
/// to `$out`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteTreeAttrs {
    pub outputs: Outputs,
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Text files made executable (scripts).
    #[serde(default)]
    pub executables: BTreeMap<String, String>,
    #[serde(default)]
    pub symlinks: BTreeMap<String, String>,
    #[serde(default)]
    pub directories: Vec<String>,
}

/// `stowage nix stream-script`.
#[derive(Debug, Deserialize)]
pub struct StreamScriptAttrs {
    pub outputs: Outputs,
    /// The conf, with a `layering` section that has no graph yet.
    pub conf: Conf,
    /// The `exportReferencesGraph` result, the closure to layer.
    pub graph: Vec<GraphEntry>,
    #[serde(default)]
    pub exclude: Vec<PathBuf>,
    /// The stowage executable, for the script's `#!` line.
    pub stowage: PathBuf,
    /// Print the layer plan with reasons in the build log.
    #[serde(default)]
    pub debug: bool,
}

/// `stowage nix archive`: what `stowage build` does, for buildLayeredImage (a stream
/// script) and imageIndex's layout (an index file, given as `image`).
#[derive(Debug, Deserialize)]
pub struct ArchiveAttrs {
    pub outputs: Outputs,
    #[serde(rename = "streamScript", alias = "image")]
    pub stream_script: PathBuf,
    /// A docker-archive's compression as a whole, an OCI layout's per layer.
    #[serde(default = "no_compression")]
    pub compressor: Compression,
    /// Absent (a docker-archive) unless the library's `format` says otherwise, so the
    /// derivations of docker-archives stay what they were.
    #[serde(default = "docker_archive")]
    pub format: OutputFormat,
}

/// `stowage nix export-image`.
#[derive(Debug, Deserialize)]
pub struct ExportImageAttrs {
    pub outputs: Outputs,
    /// The image archive to flatten.
    #[serde(rename = "fromImage")]
    pub from_image: PathBuf,
    /// Which image of a multi-image archive, by repository name and tag.
    #[serde(default, rename = "fromImageName")]
    pub from_image_name: Option<String>,
    #[serde(default, rename = "fromImageTag")]
    pub from_image_tag: Option<String>,
}

/// `stowage nix merge-images`.
#[derive(Debug, Deserialize)]
pub struct MergeImagesAttrs {
    pub outputs: Outputs,
    /// The image archives to merge, in order.
    pub images: Vec<PathBuf>,
}

/// `stowage nix pull-image`: pullImage's fixed-output derivation.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullImageAttrs {
    pub outputs: Outputs,
    /// `[REGISTRY/]REPOSITORY`, without tag or digest.
    pub image_name: String,
    /// `sha256:<hex>`: the manifest (or index) to pull.
    pub image_digest: String,
    pub os: String,
    pub arch: String,
    #[serde(default)]
    pub variant: Option<String>,
    pub tls_verify: bool,
    pub final_image_name: String,
    pub final_image_tag: String,
}

/// `stowage nix customisation-layer`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomisationAttrs {
    pub outputs: Outputs,
    #[serde(default)]
    pub contents: Vec<PathBuf>,
    #[serde(default)]
    pub extra_commands: String,
    #[serde(default)]
    pub fake_root_commands: String,
    #[serde(default)]
    pub enable_fakechroot: bool,
    /// The contents' closure (`exportReferencesGraph.nixDbGraph`), when includeNixDB.
    #[serde(default)]
    pub nix_db_graph: Option<Vec<GraphEntry>>,
    #[serde(default)]
    pub perms: Vec<RawPermRule>,
    #[serde(default)]
    pub tools: Option<PathBuf>,
    #[serde(default = "default_time")]
    pub mtime: String,
    #[serde(default = "default_user")]
    pub uname: String,
}

fn default_time() -> String {
    "1970-01-01T00:00:01Z".into()
}

fn default_user() -> String {
    "root".into()
}

fn no_compression() -> Compression {
    Compression::None
}

fn docker_archive() -> OutputFormat {
    OutputFormat::DockerArchive
}

/// Where Nix put `.attrs.json`. Nix 2.8 sets `NIX_ATTRS_JSON_FILE` to the path outside the
/// sandbox, so fall back to the build directory, which is the working directory.
pub fn attrs_file() -> PathBuf {
    std::env::var_os("NIX_ATTRS_JSON_FILE")
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(".attrs.json"))
}

/// Reads and decodes `.attrs.json`.
pub fn read_attrs<T: DeserializeOwned>(file: &Path) -> Result<T> {
    let bytes = crate::input::read_bounded(file).map_err(|e| Error::read(file, e))?;
    parse_attrs(&bytes, file)
}

/// Decodes the bytes of the `.attrs.json` `file`.
pub fn parse_attrs<T: DeserializeOwned>(bytes: &[u8], file: &Path) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::conf(file, format!("unexpected derivation attributes: {e}")))
}

/// `stowage nix build-image`: buildImage's one derivation.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildImageAttrs {
    pub outputs: Outputs,
    /// The repository name (lower-cased by the library).
    pub image_name: String,
    /// `null`: the hash part of this output's store path, as nixpkgs.
    #[serde(default)]
    pub image_tag: Option<String>,
    #[serde(default)]
    pub from_image: Option<PathBuf>,
    /// Which image of a multi-image `fromImage`, by repository name and tag.
    #[serde(default)]
    pub from_image_name: Option<String>,
    #[serde(default)]
    pub from_image_tag: Option<String>,
    /// Directories merged into the root by copying (`copyToRoot`, or `contents`).
    #[serde(default)]
    pub copy_to_root: Vec<PathBuf>,
    #[serde(default)]
    pub keep_contents_dirlinks: bool,
    /// The runtime config; `null` for none.
    #[serde(default)]
    pub config: Value,
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
    pub created: String,
    /// Owner of the files of `copyToRoot` and `extraCommands` in the layer.
    #[serde(default)]
    pub uid: u64,
    #[serde(default)]
    pub gid: u64,
    #[serde(default)]
    pub extra_commands: String,
    /// Shell commands run as root in the image (on the base's layers, unpacked).
    #[serde(default)]
    pub run_as_root: Option<String>,
    #[serde(default)]
    pub tools: Option<PathBuf>,
    /// The closure of `copyToRoot` and of the config file (`exportReferencesGraph`).
    pub graph: Vec<GraphEntry>,
    /// Store paths of the graph that are not part of the image (the config file).
    #[serde(default)]
    pub exclude: Vec<PathBuf>,
    /// The closure to register in the image's Nix database (includeNixDB).
    #[serde(default)]
    pub nix_db_graph: Option<Vec<GraphEntry>>,
    /// A docker-archive's compression as a whole, an OCI layout's per layer.
    #[serde(default = "no_compression")]
    pub compressor: Compression,
    /// Absent for a docker-archive (see [`ArchiveAttrs::format`]).
    #[serde(default = "docker_archive")]
    pub format: OutputFormat,
}
