//! The runtime config (`Cmd`, `Env`, …) checked before an image is written: a field of
//! the wrong type is refused by `docker load` (or worse, read as something else), and a
//! misspelt key (`Cmnd`) silently gives an image without a command. Both are caught here,
//! naming the key and what it should be.

use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The table of config fields, as compiled in: `nix/lib/image-config-fields.json`, which
/// the Nix library reads too, to catch the same mistakes at evaluation.
const TABLE: &str = include_str!("../../../nix/lib/image-config-fields.json");

/// What a field holds.
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Text,
    /// A list of strings, or one string (Docker's `StrSlice`).
    Command,
    List,
    Object,
    Number,
    Bool,
}

/// The part of the table the builder reads.
#[derive(Deserialize)]
struct Table {
    fields: BTreeMap<String, Kind>,
}

/// Every field of Docker's and OCI's container config, with its kind, by name.
fn fields() -> &'static BTreeMap<String, Kind> {
    static FIELDS: OnceLock<BTreeMap<String, Kind>> = OnceLock::new();
    FIELDS.get_or_init(|| {
        serde_json::from_str::<Table>(TABLE)
            .expect("nix/lib/image-config-fields.json is valid (a unit test reads it)")
            .fields
    })
}

/// Checks every field of `config`; `null` means unset and is always fine.
pub fn check(config: &Map<String, Value>) -> Result<(), String> {
    for (key, value) in config.iter().filter(|(_, v)| !v.is_null()) {
        let Some(&kind) = fields().get(key) else {
            return Err(unknown(key));
        };
        if !fits(kind, value) {
            return Err(format!(
                "config.{key} must be {}, not {value}",
                describe(kind)
            ));
        }
        if key == "Labels"
            && !value
                .as_object()
                .is_some_and(|m| m.values().all(Value::is_string))
        {
            return Err(format!("config.Labels values must be strings, not {value}"));
        }
    }
    Ok(())
}

/// Whether `value` is of `kind`.
fn fits(kind: Kind, value: &Value) -> bool {
    let strings = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
    match kind {
        Kind::Text => value.is_string(),
        Kind::Command => value.is_string() || strings(value),
        Kind::List => strings(value),
        Kind::Object => value.is_object(),
        Kind::Number => value.is_i64() || value.is_u64(),
        Kind::Bool => value.is_boolean(),
    }
}

/// How `kind` is spelt in messages.
fn describe(kind: Kind) -> &'static str {
    match kind {
        Kind::Text => "a string",
        Kind::Command => "a list of strings (or one string)",
        Kind::List => "a list of strings",
        Kind::Object => "an attribute set",
        Kind::Number => "an integer",
        Kind::Bool => "true or false",
    }
}

/// The message for an unknown key, with the known one it is closest to.
fn unknown(key: &str) -> String {
    let lower = key.to_ascii_lowercase();
    let length = lower.chars().count();
    let closest = fields()
        .keys()
        // Only a name within two of the key's length can be within two edits of it; the
        // rest are skipped, so a huge key never sizes a huge distance table.
        .filter(|name| name.len().abs_diff(length) <= 2)
        .map(|name| (distance(&lower, &name.to_ascii_lowercase()), name))
        .min();
    match closest {
        Some((d, name)) if d <= 2 => format!(
            "config.{key} is not a field of an image config; did you mean {name}? (an unknown field is ignored by every engine)"
        ),
        _ => format!(
            "config.{key} is not a field of an image config (an unknown field is ignored by every engine); the fields are {}",
            fields().keys().map(String::as_str).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The edit distance between `a` and `b`, counting a swap of neighbours as one.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_json(value: Value) -> Result<(), String> {
        check(value.as_object().unwrap())
    }

    #[test]
    fn wrong_types_and_misspelt_keys_are_named() {
        let cases = [
            (json!({"Env": "A=1"}), "config.Env must be a list of strings, not \"A=1\""),
            (json!({"Cmd": 1}), "config.Cmd must be a list of strings (or one string), not 1"),
            (json!({"ExposedPorts": ["80/tcp"]}), "config.ExposedPorts must be an attribute set, not [\"80/tcp\"]"),
            (json!({"Labels": ["a"]}), "config.Labels must be an attribute set, not [\"a\"]"),
            (json!({"Labels": {"a": 1}}), "config.Labels values must be strings, not {\"a\":1}"),
            (json!({"Cmnd": ["x"]}), "config.Cmnd is not a field of an image config; did you mean Cmd? (an unknown field is ignored by every engine)"),
            (json!({"Entrypiont": ["x"]}), "config.Entrypiont is not a field of an image config; did you mean Entrypoint? (an unknown field is ignored by every engine)"),
        ];
        for (config, message) in cases {
            assert_eq!(check_json(config).unwrap_err(), message);
        }
    }

    /// The suggestion's edit-distance table was sized by the key: a megabyte key in a
    /// conf made a table of a hundred megabytes per field.
    #[test]
    fn a_huge_key_is_named_without_a_suggestion() {
        let key = "K".repeat(1 << 20);
        let message = check_json(json!({ key: 1 })).unwrap_err();
        assert!(message.contains("(an unknown field is ignored by every engine); the fields are"));
    }

    #[test]
    fn what_nixpkgs_users_write_is_fine() {
        let config = json!({
            "Cmd": "/bin/sh", "Entrypoint": ["/bin/app"], "Env": ["A=1"], "User": "1000",
            "WorkingDir": "/srv", "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/data": {}},
            "Labels": {"a": "b"}, "StopSignal": "SIGINT", "Healthcheck": {"Test": ["CMD", "true"]},
            "OnBuild": null,
        });
        assert_eq!(check_json(config), Ok(()));
    }
}
