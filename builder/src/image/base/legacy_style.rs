//! Legacy docker-archives (before Docker Image Spec v1.2): one `<id>/` directory per
//! layer holding `json`, `VERSION` and `layer.tar`, chained by the `parent` ids in the
//! `json` files, with an optional `repositories` file naming the top layer. The image
//! config is rebuilt from the top layer's `json`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::{json, Map, Value};

use super::{Member, Reader};
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

impl Reader<'_> {
    /// Reads a legacy archive: `<id>/json` + `<id>/layer.tar` directories chained by
    /// `parent`, the top one named by `repositories` or found as the only non-parent.
    pub(super) fn legacy(&mut self) -> Result<(Value, Vec<Blob>)> {
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
