//! Legacy docker-archives (before Docker Image Spec v1.2): one `<id>/` directory per
//! layer holding `json`, `VERSION` and `layer.tar`, chained by the `parent` ids in the
//! `json` files, with an optional `repositories` file naming the top layer. The image
//! config is rebuilt from the top layer's `json`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::{json, Map, Value};

use super::{ArchiveImage, Member, Reader};
use crate::error::{Error, Result};
use crate::image::blob::Blob;

/// The legacy file mapping `{"name": {"tag": "<top layer id>"}}`.
const REPOSITORIES: &str = "repositories";

/// The ids of legacy layer directories: every `<id>/json` member.
pub(super) fn legacy_ids(members: &HashMap<String, Member>) -> BTreeSet<String> {
    members
        .keys()
        .filter_map(|name| match name.split_once('/') {
            Some((id, "json")) => Some(id.to_owned()),
            _ => None,
        })
        .collect()
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

/// The legacy layers of an archive: each id's `json`, and its parent id.
struct LegacyLayers {
    jsons: BTreeMap<String, Value>,
    parents: BTreeMap<String, Option<String>>,
}

impl Reader<'_> {
    /// Reads a legacy archive: `<id>/json` + `<id>/layer.tar` directories chained by
    /// `parent`, the top one named by `repositories` or found as the only non-parent.
    pub(super) fn legacy(&mut self) -> Result<(Value, Vec<Blob>)> {
        let legacy = self.legacy_layers()?;
        let top = match self.top_from_repositories()? {
            Some(top) => top,
            None => self.unique_top(&legacy.parents)?,
        };
        let layers = self.legacy_chain(&top, &legacy.parents)?;
        Ok((legacy_config(&legacy.jsons[&top]), layers))
    }

    /// Reads every image of a legacy archive: one per top layer `repositories` names,
    /// with the names it gives it, or else one per layer that is nobody's parent. Each
    /// layer is hashed, since its diff_id is stated nowhere and the config needs it.
    pub(super) fn legacy_all(&mut self) -> Result<Vec<ArchiveImage>> {
        let legacy = self.legacy_layers()?;
        let tops = match self.tags_from_repositories()? {
            Some(tops) => tops,
            None => self
                .tops(&legacy.parents)?
                .into_iter()
                .map(|top| (top.to_owned(), Vec::new()))
                .collect(),
        };
        // By origin (which names the member): a layer several images share is hashed once.
        let mut digests: HashMap<String, String> = HashMap::new();
        tops.into_iter()
            .map(|(top, repo_tags)| {
                let mut layers = self.legacy_chain(&top, &legacy.parents)?;
                let mut diff_ids = Vec::with_capacity(layers.len());
                for layer in &mut layers {
                    let digest = match digests.get(&layer.origin) {
                        Some(known) => known.clone(),
                        None => layer.digest()?.hex(),
                    };
                    digests.insert(layer.origin.clone(), digest.clone());
                    diff_ids.push(json!(format!("sha256:{digest}")));
                    layer.expected_sha256 = Some(digest);
                }
                let mut config = legacy_config(&legacy.jsons[&top]);
                config["rootfs"]["diff_ids"] = Value::Array(diff_ids);
                let config_bytes =
                    serde_json::to_vec(&config).expect("a JSON value always serialises");
                Ok(ArchiveImage {
                    repo_tags,
                    config_bytes,
                    layers,
                })
            })
            .collect()
    }

    /// Reads every legacy layer's `json` and finds its parent.
    fn legacy_layers(&self) -> Result<LegacyLayers> {
        let mut jsons = BTreeMap::new();
        for id in legacy_ids(&self.members) {
            let role = format!("json of legacy layer {id}");
            let json = self.read_json(&format!("{id}/json"), &role)?;
            jsons.insert(id, json);
        }
        let parents = self.legacy_parents(&jsons)?;
        Ok(LegacyLayers { jsons, parents })
    }

    /// The layers of the image whose top layer is `top`, bottom first.
    fn legacy_chain(
        &mut self,
        top: &str,
        parents: &BTreeMap<String, Option<String>>,
    ) -> Result<Vec<Blob>> {
        if !parents.contains_key(top) {
            return Err(self.fail(
                REPOSITORIES,
                format!("names top layer {top} but the archive has no member {top}/json"),
            ));
        }
        let chain = self.chain_down(top, parents)?;
        chain
            .iter()
            .rev()
            .map(|id| {
                let role = format!("data of legacy layer {id}");
                self.layer(&format!("{id}/layer.tar"), &role, None)
            })
            .collect()
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
        let ids: Vec<String> = self
            .tags_from_repositories()?
            .unwrap_or_default()
            .into_keys()
            .collect();
        if ids.len() > 1 {
            let list = ids.join(", ");
            return Err(self.fail(
                REPOSITORIES,
                format!("names several images ({list}); fromImage needs a single-image archive"),
            ));
        }
        Ok(ids.into_iter().next())
    }

    /// The top layer ids the legacy `repositories` file names, each with its
    /// `name:tag`s (sorted); `None` without the file or when it names none.
    fn tags_from_repositories(&self) -> Result<Option<BTreeMap<String, Vec<String>>>> {
        if !self.members.contains_key(REPOSITORIES) {
            return Ok(None);
        }
        let repositories = self.read_json(REPOSITORIES, "legacy repositories file")?;
        let invalid = || self.fail(REPOSITORIES, "is not a JSON object of {name: {tag: id}}");
        let mut tops: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, tags) in repositories.as_object().ok_or_else(invalid)? {
            for (tag, id) in tags.as_object().ok_or_else(invalid)? {
                let id = id.as_str().ok_or_else(invalid)?.to_owned();
                tops.entry(id).or_default().push(format!("{name}:{tag}"));
            }
        }
        Ok((!tops.is_empty()).then_some(tops))
    }

    /// Without `repositories`, the top layer is the one no other layer names as parent;
    /// it must be unique, or the archive holds several images (or a parent cycle).
    fn unique_top(&self, parents: &BTreeMap<String, Option<String>>) -> Result<String> {
        match self.tops(parents)?.as_slice() {
            [top] => Ok((*top).to_owned()),
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

    /// The layers no other layer names as parent: the top of each image. None at all
    /// means the parents form a cycle.
    fn tops<'p>(&self, parents: &'p BTreeMap<String, Option<String>>) -> Result<Vec<&'p str>> {
        let named: HashSet<&str> = parents.values().flatten().map(String::as_str).collect();
        let tops: Vec<&str> = parents
            .keys()
            .map(String::as_str)
            .filter(|id| !named.contains(id))
            .collect();
        if tops.is_empty() {
            return Err(Error::base_image(
                self.archive,
                "no legacy layer is the top one: every layer is another's parent (a parent cycle)",
            ));
        }
        Ok(tops)
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
