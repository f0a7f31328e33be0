//! Several image archives merged into one docker-archive (nixpkgs' `mergeImages`), so
//! that one `docker load` loads every image under every one of its tags.
//!
//! The inputs are read by [`crate::image::base::read_archive_images`], whatever wrote
//! them. The merged archive holds, in this order:
//!
//! - every distinct layer once, as `<diff_id>/layer.tar`, in the order the inputs first
//!   use them: a layer several images share (a common base) is written once. The bytes
//!   are copied unchanged and checked against the diff_id on the way; a layer member
//!   that was itself compressed is written decompressed, which is what its diff_id is
//!   the digest of;
//! - every distinct config as `<sha256>.json`, its bytes unchanged, so each image keeps
//!   its ID;
//! - `manifest.json`: the inputs' entries concatenated in input order, an exact repeat
//!   written once;
//! - `repositories`: `{name: {tag: <top layer's diff_id>}}` for every repo tag, as
//!   nixpkgs' `buildImage` writes it, for loaders that read it.
//!
//! Owners and times of the members are fixed, so the same inputs give the same bytes. A
//! repo tag two inputs give to different images is refused: one of them would be loaded
//! untagged, depending on the order.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::image::archive::{file_member_header, push_member, write_output};
use crate::image::base::{ArchiveImage, ArchiveImages};
use crate::image::blob::Blob;
use crate::image::layer::{Layer, LayerSource};
use crate::image::repo_tag::RepoTag;
use crate::tar;
use crate::tar::compression::Compression;
use crate::tar::copy::COPY_BUFFER;
use crate::tar::digest::Sha256Digest;

/// The modification time of every member: the library's default `mtime`
/// (1970-01-01T00:00:01Z), so that merging is reproducible.
const MEMBER_MTIME: u64 = 1;

/// One archive to merge: where it was read from (errors name it) and its images.
pub struct MergeInput {
    pub path: PathBuf,
    pub archive: ArchiveImages,
}

/// The merged archive, planned: every member's name and where its bytes come from.
pub struct MergePlan {
    /// The distinct layers, each under its member name, in first-use order.
    layers: Vec<(String, Layer)>,
    /// The distinct configs: member name and bytes.
    configs: Vec<(String, Vec<u8>)>,
    /// The entries of `manifest.json`.
    manifest: Vec<Value>,
    /// `repositories`: name → tag → top layer id.
    repositories: BTreeMap<String, BTreeMap<String, String>>,
    /// The inputs, whose temporary (decompressed) files the layers point into.
    _inputs: Vec<MergeInput>,
}

impl MergePlan {
    /// Plans the merge of `inputs` in their order, refusing a repo tag that two of them
    /// (or two images of one) give to different images.
    pub fn new(inputs: Vec<MergeInput>) -> Result<MergePlan> {
        let mut merger = Merger::default();
        for (index, input) in inputs.iter().enumerate() {
            for image in &input.archive.images {
                merger.add(&inputs, index, image)?;
            }
        }
        Ok(MergePlan {
            layers: merger.layers,
            configs: merger.configs,
            manifest: merger.manifest,
            repositories: merger.repositories,
            _inputs: inputs,
        })
    }

    /// Everything after the layers: configs, `manifest.json`, `repositories` and the
    /// end-of-archive blocks.
    fn trailer(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, bytes) in &self.configs {
            push_member(&mut out, name, bytes, MEMBER_MTIME);
        }
        let manifest = serde_json::to_vec(&self.manifest).expect("JSON always serialises");
        push_member(&mut out, "manifest.json", &manifest, MEMBER_MTIME);
        let repositories = serde_json::to_vec(&self.repositories).expect("JSON always serialises");
        push_member(&mut out, "repositories", &repositories, MEMBER_MTIME);
        out.extend_from_slice(&tar::END_OF_ARCHIVE);
        out
    }
}

/// Writes the merged archive to `path`, compressed as asked, whole or not at all.
pub fn write_file(plan: &MergePlan, path: &Path, compression: Compression) -> Result<()> {
    write_output(
        path,
        compression,
        |mut file, target| stream(plan, &mut file, target),
        |mut out, target| stream(plan, &mut out, target),
    )
}

/// Writes the merged archive to `out` in order. `target` names `out` in errors.
fn stream(plan: &MergePlan, out: &mut impl Write, target: &str) -> Result<()> {
    let failed = |e| Error::write(target, e);
    let mut out = BufWriter::with_capacity(COPY_BUFFER, out);
    for (name, layer) in &plan.layers {
        out.write_all(&file_member_header(name, layer.size(), MEMBER_MTIME))
            .map_err(failed)?;
        layer.write_to(&mut out, target)?;
        out.write_all(tar::padding(layer.size())).map_err(failed)?;
    }
    out.write_all(&plan.trailer()).map_err(failed)?;
    out.flush().map_err(failed)
}

/// The merge so far: what is written already, and which image each repo tag names.
#[derive(Default)]
struct Merger {
    layers: Vec<(String, Layer)>,
    configs: Vec<(String, Vec<u8>)>,
    manifest: Vec<Value>,
    repositories: BTreeMap<String, BTreeMap<String, String>>,
    /// Member names already planned (layers and configs).
    members: HashSet<String>,
    /// Manifest entries already written, as (config digest, repo tags).
    entries: HashSet<(String, Vec<String>)>,
    /// For each repo tag, the config digest of its image and the input that gave it.
    claims: HashMap<String, (String, usize)>,
}

impl Merger {
    /// Adds `image` of input `input`: its layers and config (unless already there), its
    /// manifest entry and its repo tags.
    fn add(&mut self, inputs: &[MergeInput], input: usize, image: &ArchiveImage) -> Result<()> {
        let config_hex = Sha256Digest::of(&image.config_bytes).hex();
        let tags = self.claim_tags(inputs, input, &config_hex, &image.repo_tags)?;
        let layer_names = image
            .layers
            .iter()
            .map(|blob| self.add_layer(&inputs[input].path, blob))
            .collect::<Result<Vec<_>>>()?;
        let config_name = format!("{config_hex}.json");
        if self.members.insert(config_name.clone()) {
            self.configs
                .push((config_name.clone(), image.config_bytes.clone()));
        }
        if let Some(top) = layer_names.last() {
            let top_id = top.trim_end_matches("/layer.tar");
            for (name, tag) in tags {
                self.repositories
                    .entry(name)
                    .or_default()
                    .insert(tag, top_id.to_owned());
            }
        }
        if self.entries.insert((config_hex, image.repo_tags.clone())) {
            self.manifest.push(json!({
                "Config": config_name,
                "RepoTags": image.repo_tags,
                "Layers": layer_names,
            }));
        }
        Ok(())
    }

    /// Plans the layer `blob` as `<diff_id>/layer.tar` unless a layer with that diff_id
    /// is planned already, and returns its member name.
    fn add_layer(&mut self, input: &Path, blob: &Blob) -> Result<String> {
        let diff_id = blob.expected_sha256.as_deref().ok_or_else(|| {
            Error::Internal(format!("{}: a layer to merge has no diff_id", blob.origin))
        })?;
        let name = format!("{diff_id}/layer.tar");
        if self.members.insert(name.clone()) {
            let blob = Blob {
                origin: format!("image to merge {}: layer sha256:{diff_id}", input.display()),
                ..blob.clone()
            };
            let layer = Layer {
                source: LayerSource::Blob(blob),
                comment: None,
            };
            self.layers.push((name.clone(), layer));
        }
        Ok(name)
    }

    /// Records that the repo tags `tags` of input `input` name the image with config
    /// digest `config_hex`, refusing a tag another image already has. Returns each tag
    /// split into name and tag, for `repositories`.
    fn claim_tags(
        &mut self,
        inputs: &[MergeInput],
        input: usize,
        config_hex: &str,
        tags: &[String],
    ) -> Result<Vec<(String, String)>> {
        let path = &inputs[input].path;
        tags.iter()
            .map(|text| {
                let (name, tag) = split_repo_tag(text)
                    .map_err(|m| Error::merge_input(path, format!("repo tag {text:?}: {m}")))?;
                match self.claims.get(text) {
                    Some((other, _)) if other == config_hex => {}
                    Some((other, first)) => {
                        return Err(Error::merge_input(
                            path,
                            format!(
                                "repo tag {text} names image sha256:{config_hex} here but \
                                 image sha256:{other} in {}; one load cannot give a tag to \
                                 two images: retag one of them",
                                inputs[*first].path.display()
                            ),
                        ))
                    }
                    None => {
                        self.claims
                            .insert(text.clone(), (config_hex.to_owned(), input));
                    }
                }
                Ok((name, tag))
            })
            .collect()
    }
}

/// Splits a repo tag as `docker save` writes it (`name:tag`, the name lower-case) into
/// its name and tag.
fn split_repo_tag(text: &str) -> Result<(String, String), String> {
    let parsed = RepoTag::parse(text)?;
    let tag = parsed
        .tag
        .ok_or_else(|| "has no tag; docker-archives name images NAME:TAG".to_owned())?;
    Ok((parsed.name, tag))
}
