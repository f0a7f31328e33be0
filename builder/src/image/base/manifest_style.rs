//! New-style docker-archives (Docker Image Spec v1.2, written by `docker save` and
//! nixpkgs' `dockerTools`): `manifest.json` names the image config and the layer
//! members, and the config's `rootfs.diff_ids` give each layer's expected digest.

use serde_json::Value;

use super::{is_sha256_hex, ArchiveImage, Reader};
use crate::error::Result;
use crate::image::blob::Blob;
use crate::tar::digest::Sha256Digest;

/// The member that marks a new-style (Docker Image Spec v1.2) archive.
pub(super) const MANIFEST: &str = "manifest.json";

/// The digest a config member's name states, when it is content-addressed: `<hex>.json`
/// (docker save before 25, nixpkgs) or `blobs/sha256/<hex>` (OCI-layout docker save).
fn stated_digest(name: &str) -> Option<&str> {
    let file_name = name.rsplit('/').next()?;
    let hex = file_name
        .strip_suffix(".json")
        .or_else(|| name.strip_prefix("blobs/sha256/"))?;
    is_sha256_hex(hex).then_some(hex)
}

/// One image of `manifest.json`, read: its config (bytes and parsed) and its layers.
struct ManifestImage {
    config_bytes: Vec<u8>,
    config: Value,
    layers: Vec<Blob>,
}

impl Reader<'_> {
    /// Reads a new-style archive: `manifest.json` → config and layers with diff_ids.
    pub(super) fn new_style(&mut self) -> Result<(Value, Vec<Blob>)> {
        let manifest = self.read_json(MANIFEST, "image manifest")?;
        let image = self.single_image(&manifest)?;
        let read = self.manifest_image(image)?;
        Ok((read.config, read.layers))
    }

    /// Reads every image of a new-style archive, in `manifest.json`'s order, each with
    /// its `RepoTags`.
    pub(super) fn new_style_all(&mut self) -> Result<Vec<ArchiveImage>> {
        let manifest = self.read_json(MANIFEST, "image manifest")?;
        let entries = self.manifest_entries(&manifest)?;
        entries
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                let repo_tags = self.repo_tags(index, entry)?;
                let read = self.manifest_image(entry)?;
                Ok(ArchiveImage {
                    repo_tags,
                    config_bytes: read.config_bytes,
                    layers: read.layers,
                })
            })
            .collect()
    }

    /// Reads the config and layers one entry of `manifest.json` names.
    fn manifest_image(&mut self, image: &Value) -> Result<ManifestImage> {
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
        Ok(ManifestImage {
            config_bytes,
            config,
            layers,
        })
    }

    /// The image entries of `manifest.json`: a JSON array with at least one.
    fn manifest_entries<'v>(&self, manifest: &'v Value) -> Result<&'v [Value]> {
        let images = manifest
            .as_array()
            .ok_or_else(|| self.fail(MANIFEST, "is not a JSON array of images"))?;
        if images.is_empty() {
            return Err(self.fail(MANIFEST, "lists no image"));
        }
        Ok(images)
    }

    /// The `RepoTags` of entry `index` of `manifest.json`: absent or null (`docker save`
    /// of an image by ID) is none.
    fn repo_tags(&self, index: usize, image: &Value) -> Result<Vec<String>> {
        let invalid = || {
            self.fail(
                MANIFEST,
                format!("image entry {index}: RepoTags is not a list of NAME:TAG strings"),
            )
        };
        match image.get("RepoTags") {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(tags)) => tags
                .iter()
                .map(|tag| tag.as_str().map(str::to_owned).ok_or_else(invalid))
                .collect(),
            Some(_) => Err(invalid()),
        }
    }

    /// The one image entry of `manifest.json`; a multi-image archive is refused because
    /// which image was meant would be a guess.
    fn single_image<'v>(&self, manifest: &'v Value) -> Result<&'v Value> {
        let images = self.manifest_entries(manifest)?;
        match images {
            [image] => Ok(image),
            _ => Err(self.fail(
                MANIFEST,
                format!(
                    "the archive holds {} images and fromImage needs exactly one; \
                     pick one with fromImageName and fromImageTag, or save a single image",
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
        let actual = Sha256Digest::of(bytes).hex();
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
}
