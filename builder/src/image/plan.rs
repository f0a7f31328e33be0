//! An image to write: its description and its layers bottom → top, each with a size
//! known before writing. Built from resolved inputs: the front ends have already read
//! the conf and planned the store layers.

use crate::error::{Error, Result};
use crate::image::base::BaseImage;
use crate::image::blob::Blob;
use crate::image::config::image_config;
use crate::image::layer::{Layer, LayerSource};
use crate::image::repo_tag::RepoTag;
use crate::image::timestamp::Timestamp;
use crate::tar::digest::Sha256Digest;
use crate::tar::fs_layer::FsLayer;
use crate::tar::Owner;
use rayon::prelude::*;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the image says about itself, apart from its layers.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// GOARCH name, checked by the front end.
    pub architecture: String,
    pub variant: Option<String>,
    pub created: Timestamp,
    /// The time stamp of the archive's own members (layer files take theirs from
    /// `owner`).
    pub mtime: Timestamp,
    /// The runtime config (`Cmd`, `Env`, …); an empty map for none.
    pub config: serde_json::Map<String, serde_json::Value>,
    pub repo_tag: RepoTag,
    /// Owner and time stamp of the store layers' members.
    pub owner: Owner,
    /// How `config.Env` is combined with the base image's.
    pub env: EnvMerge,
    /// Whether the archive carries a `repositories` member (buildImage's archives do).
    pub repositories: bool,
}

/// How an image's `Env` is combined with its base image's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvMerge {
    /// One entry per name, ours winning (the layered functions).
    ByName,
    /// The base's entries, then ours, duplicates kept (buildImage; Docker resolves them
    /// with the last one winning).
    Append,
}

/// The store layers to write: lists of store paths, bottom first.
#[derive(Debug, Clone)]
pub struct StoreLayers {
    pub store_dir: PathBuf,
    pub layers: Vec<Vec<PathBuf>>,
}

/// Everything needed to write the image, planned but not yet read.
pub struct ImagePlan {
    pub spec: ImageSpec,
    /// Base layers first, then store layers, then the customisation layer.
    pub layers: Vec<Layer>,
    /// The base image, kept whole: its config is inherited and its temporary files (for
    /// compressed archives) must outlive the writing of its layers.
    pub base: Option<BaseImage>,
}

impl ImagePlan {
    /// The image of `base`'s layers (if any) with `own` on top.
    pub fn new(spec: ImageSpec, base: Option<BaseImage>, own: Vec<Layer>) -> ImagePlan {
        let mut layers: Vec<Layer> = base
            .iter()
            .flat_map(|b| b.layers.iter().cloned())
            .map(|blob| Layer {
                source: LayerSource::Blob(blob),
                comment: None,
            })
            .collect();
        layers.extend(own);
        ImagePlan { spec, layers, base }
    }

    /// The base image's whole config, when there is a base.
    pub fn base_config(&self) -> Option<&serde_json::Value> {
        self.base.as_ref().map(|b| &b.config)
    }

    /// The image config's bytes, once the layers' diff_ids are known.
    pub fn config_bytes(&self, diff_ids: &[Sha256Digest]) -> Vec<u8> {
        let config = image_config(
            &self.spec,
            self.base_config(),
            &self.own_comments(),
            diff_ids,
        );
        serde_json::to_vec(&config).expect("a JSON value always serialises")
    }

    /// The history comments of the layers this image adds (all but the base's).
    pub fn own_comments(&self) -> Vec<String> {
        self.layers
            .iter()
            .filter_map(|l| l.comment.clone())
            .collect()
    }
}

/// One layer per list of store paths (walked in parallel; nothing is read yet), with
/// the store directory's entries 0755 and `owner` on every member.
pub fn store_layers(store: &StoreLayers, owner: &Owner) -> Result<Vec<Layer>> {
    let planned: Vec<FsLayer> = store
        .layers
        .par_iter()
        .map(|paths| FsLayer::from_store_paths(paths, &store.store_dir, Some(0o755), owner.clone()))
        .collect::<Result<_>>()?;
    Ok(planned
        .into_iter()
        .map(|layer| Layer {
            comment: Some(store_paths_comment(&layer.paths)),
            source: LayerSource::Files(vec![layer]),
        })
        .collect())
}

/// The customisation layer: a directory holding `layer.tar` and `checksum` (its SHA-256
/// in hex), which is checked while the layer streams.
pub fn customisation_layer(dir: &Path) -> Result<Layer> {
    Ok(Layer {
        source: LayerSource::Blob(customisation_layer_blob(dir)?),
        comment: Some("customisation layer".to_owned()),
    })
}

/// The history comment nixpkgs writes for a layer of store paths.
fn store_paths_comment(paths: &[PathBuf]) -> String {
    let quoted: Vec<String> = paths.iter().map(|p| format!("'{}'", p.display())).collect();
    format!("store paths: [{}]", quoted.join(", "))
}

/// The blob of a customisation layer directory (see [`customisation_layer`]).
fn customisation_layer_blob(dir: &Path) -> Result<Blob> {
    let checksum_file = dir.join("checksum");
    let checksum =
        std::fs::read_to_string(&checksum_file).map_err(|e| Error::read(&checksum_file, e))?;
    let checksum = checksum.trim().to_ascii_lowercase();
    if checksum.len() != 64 || !checksum.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::input(
            &checksum_file,
            "must hold the SHA-256 of layer.tar as 64 hex digits",
        ));
    }
    let tar_file = dir.join("layer.tar");
    let file = File::open(&tar_file).map_err(|e| Error::read(&tar_file, e))?;
    let size = file
        .metadata()
        .map_err(|e| Error::read(&tar_file, e))?
        .len();
    Ok(Blob {
        file: Arc::new(file),
        offset: 0,
        size,
        expected_sha256: Some(checksum),
        origin: format!("customisation layer {}", tar_file.display()),
    })
}
