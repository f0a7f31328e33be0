//! The image config (`<sha256>.json`) and `manifest.json` of a docker-archive, and how a
//! base image's config is inherited.
//!
//! JSON objects are written with sorted keys (serde_json's default map), so the bytes, and
//! with them the image ID, depend only on the content.

use crate::image::plan::{EnvMerge, ImageSpec};
use crate::tar::digest::Sha256Digest;
use serde_json::{json, Map, Value};

/// Config fields whose values are maps that Docker accumulates from base to derived image
/// (a Dockerfile's `LABEL`, `EXPOSE` and `VOLUME` add to what the base set).
const ACCUMULATED_MAPS: [&str; 3] = ["Labels", "ExposedPorts", "Volumes"];

/// The image config JSON for `conf`'s image.
///
/// `base` is the base image's whole config; `own_comments` has one history comment per
/// layer this image adds; `diff_ids` covers every layer, base layers first.
pub fn image_config(
    spec: &ImageSpec,
    base: Option<&Value>,
    own_comments: &[String],
    diff_ids: &[Sha256Digest],
) -> Value {
    let base_layer_count = diff_ids.len() - own_comments.len();
    let inherited = base
        .and_then(|b| b.get("config"))
        .and_then(Value::as_object);
    let mut config = json!({
        "architecture": spec.architecture,
        "os": "linux",
        "created": spec.created.rfc3339(),
        "config": merge_config(inherited, &spec.config, spec.env),
        "rootfs": {
            "type": "layers",
            "diff_ids": diff_ids.iter().map(Sha256Digest::prefixed).collect::<Vec<_>>(),
        },
        "history": history(spec, base, base_layer_count, own_comments),
    });
    if let Some(variant) = &spec.variant {
        config["variant"] = Value::String(variant.clone());
    }
    config
}

/// The `manifest.json` of a docker-archive holding one image.
pub fn manifest(config_member: &str, repo_tag: &str, layer_members: &[String]) -> Value {
    json!([{ "Config": config_member, "RepoTags": [repo_tag], "Layers": layer_members }])
}

/// Our runtime config on top of the base's, with Docker's semantics: fields we set
/// replace the base's, except `Env` (merged as `env` says) and the maps in
/// [`ACCUMULATED_MAPS`] (merged by key, ours winning). Setting `Entrypoint` without
/// `Cmd` drops the base's `Cmd`, as a Dockerfile's `ENTRYPOINT` does.
pub fn merge_config(
    base: Option<&Map<String, Value>>,
    ours: &Map<String, Value>,
    env: EnvMerge,
) -> Map<String, Value> {
    let mut merged = base.cloned().unwrap_or_default();
    merged.retain(|_, v| !v.is_null());
    let sets = |key: &str| ours.get(key).is_some_and(|v| !v.is_null());
    if sets("Entrypoint") && !sets("Cmd") {
        merged.remove("Cmd");
    }
    for (key, value) in ours.iter().filter(|(_, v)| !v.is_null()) {
        let combined = match (key.as_str(), merged.get(key), value) {
            ("Env", Some(Value::Array(base_env)), Value::Array(own_env)) => match env {
                EnvMerge::ByName => Value::Array(merge_env(base_env, own_env)),
                EnvMerge::Append => Value::Array([base_env.clone(), own_env.clone()].concat()),
            },
            (k, Some(Value::Object(base_map)), Value::Object(own_map))
                if ACCUMULATED_MAPS.contains(&k) =>
            {
                let mut map = base_map.clone();
                map.extend(own_map.clone());
                Value::Object(map)
            }
            _ => value.clone(),
        };
        merged.insert(key.clone(), combined);
    }
    merged
}

/// `NAME=value` lists merged by name: each name keeps its first position and its last
/// value, so ours override the base's without reordering the rest.
fn merge_env(base: &[Value], ours: &[Value]) -> Vec<Value> {
    let mut merged: Vec<Value> = Vec::new();
    for entry in base.iter().chain(ours) {
        let name = env_name(entry);
        match merged
            .iter_mut()
            .find(|existing| name.is_some() && env_name(existing) == name)
        {
            Some(existing) => *existing = entry.clone(),
            None => merged.push(entry.clone()),
        }
    }
    merged
}

/// The variable name of an `Env` entry (`PATH` of `PATH=/bin`).
fn env_name(entry: &Value) -> Option<&str> {
    entry
        .as_str()
        .map(|s| s.split_once('=').map_or(s, |(name, _)| name))
}

/// The base's history (padded so that every base layer has an entry: legacy archives
/// have none) followed by one entry per layer of ours.
fn history(
    spec: &ImageSpec,
    base: Option<&Value>,
    base_layer_count: usize,
    own_comments: &[String],
) -> Vec<Value> {
    let mut entries: Vec<Value> = base
        .and_then(|b| b.get("history"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let described = entries
        .iter()
        .filter(|e| e.get("empty_layer") != Some(&Value::Bool(true)))
        .count();
    let base_created = base
        .and_then(|b| b.get("created"))
        .cloned()
        .unwrap_or(Value::Null);
    for _ in described..base_layer_count {
        entries.push(json!({ "created": base_created, "comment": "layer of the base image" }));
    }
    let created = spec.created.rfc3339();
    entries.extend(
        own_comments
            .iter()
            .map(|comment| json!({ "created": created, "comment": comment })),
    );
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn env_merges_by_name_and_ours_wins() {
        let base = map(json!({"Env": ["PATH=/bin", "LANG=C", "TZ=UTC"], "Cmd": ["sh"]}));
        let ours = map(json!({"Env": ["LANG=de_DE.UTF-8", "APP=1"]}));
        let merged = merge_config(Some(&base), &ours, EnvMerge::ByName);
        assert_eq!(
            merged["Env"],
            json!(["PATH=/bin", "LANG=de_DE.UTF-8", "TZ=UTC", "APP=1"])
        );
        assert_eq!(merged["Cmd"], json!(["sh"]));
    }

    #[test]
    fn unset_fields_are_inherited_and_set_ones_replace() {
        let base = map(json!({
            "WorkingDir": "/srv", "User": "app", "StopSignal": "SIGINT",
            "Labels": {"a": "1", "b": "1"}, "ExposedPorts": {"80/tcp": {}},
            "Entrypoint": ["/base"], "Cmd": ["--help"],
        }));
        let ours = map(
            json!({"User": "root", "Labels": {"b": "2"}, "Volumes": {"/data": {}}, "Cmd": null}),
        );
        let merged = merge_config(Some(&base), &ours, EnvMerge::ByName);
        assert_eq!(
            Value::Object(merged),
            json!({
                "WorkingDir": "/srv", "User": "root", "StopSignal": "SIGINT",
                "Labels": {"a": "1", "b": "2"}, "ExposedPorts": {"80/tcp": {}},
                "Volumes": {"/data": {}}, "Entrypoint": ["/base"], "Cmd": ["--help"],
            })
        );
    }

    #[test]
    fn a_new_entrypoint_drops_the_base_cmd() {
        let base = map(json!({"Entrypoint": ["/base"], "Cmd": ["--help"]}));
        let merged = merge_config(
            Some(&base),
            &map(json!({"Entrypoint": ["/mine"]})),
            EnvMerge::ByName,
        );
        assert_eq!(Value::Object(merged), json!({"Entrypoint": ["/mine"]}));
        let both = merge_config(
            Some(&base),
            &map(json!({"Entrypoint": ["/mine"], "Cmd": ["x"]})),
            EnvMerge::ByName,
        );
        assert_eq!(both["Cmd"], json!(["x"]));
    }

    #[test]
    fn build_image_appends_env_keeping_duplicates() {
        let base = map(json!({"Env": ["PATH=/bin", "LAST=parent"]}));
        let ours = map(json!({"Env": ["LAST=child"]}));
        let merged = merge_config(Some(&base), &ours, EnvMerge::Append);
        assert_eq!(
            merged["Env"],
            json!(["PATH=/bin", "LAST=parent", "LAST=child"])
        );
    }
}
