//! The `perms` argument: modes and owners for paths of the customisation layer, declared
//! instead of scripted (`[{ path = "/data"; regex = ".*\\.key"; mode = "0600"; uid = 1000; }]`).

use crate::tar::fs_layer::Entry;
use crate::tar::{checked_id, Owner};
use serde::Deserialize;
use std::path::Path;

/// One rule as written in Nix.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPermRule {
    /// The image path the rule covers, with everything under it (`/` for all).
    pub path: String,
    /// Only paths (absolute image paths) matching this regular expression.
    #[serde(default)]
    pub regex: Option<String>,
    /// Octal permission bits, as a string (`"0644"`) or a number (`420`).
    #[serde(default)]
    pub mode: Option<serde_json::Value>,
    #[serde(default)]
    pub uid: Option<u64>,
    #[serde(default)]
    pub gid: Option<u64>,
    #[serde(default)]
    pub uname: Option<String>,
    #[serde(default)]
    pub gname: Option<String>,
}

/// A checked rule, ready to apply.
#[derive(Debug, Clone)]
pub struct PermRule {
    path: String,
    regex: Option<regex::Regex>,
    mode: Option<u32>,
    uid: Option<u64>,
    gid: Option<u64>,
    uname: Option<String>,
    gname: Option<String>,
}

impl PermRule {
    /// Checks a rule; `index` numbers it in error messages.
    pub fn new(raw: RawPermRule, index: usize) -> Result<PermRule, String> {
        let bad = |field: &str, message: String| format!("perms[{index}].{field}: {message}");
        if !raw.path.starts_with('/') {
            return Err(bad(
                "path",
                format!(
                    "\"{}\" must be an absolute image path such as \"/data\"",
                    raw.path
                ),
            ));
        }
        let regex = raw
            .regex
            .map(|r| {
                regex::Regex::new(&format!("^(?:{r})$")).map_err(|e| bad("regex", e.to_string()))
            })
            .transpose()?;
        let mode = raw
            .mode
            .map(|m| parse_mode(&m).map_err(|e| bad("mode", e)))
            .transpose()?;
        Ok(PermRule {
            path: raw.path.trim_end_matches('/').to_owned(),
            regex,
            mode,
            uid: raw
                .uid
                .map(checked_id)
                .transpose()
                .map_err(|m| bad("uid", m))?,
            gid: raw
                .gid
                .map(checked_id)
                .transpose()
                .map_err(|m| bad("gid", m))?,
            uname: raw.uname,
            gname: raw.gname,
        })
    }

    /// Applies the rule to `entry` (named `name`, relative to the image root) if it
    /// covers it. `base` is the layer's default owner.
    pub fn apply(&self, name: &Path, entry: &mut Entry, base: &Owner) {
        let image_path = Path::new("/").join(name);
        let covered = image_path.starts_with(if self.path.is_empty() {
            "/"
        } else {
            &self.path
        });
        let matches = self
            .regex
            .as_ref()
            .is_none_or(|r| r.is_match(&image_path.to_string_lossy()));
        if !covered || !matches {
            return;
        }
        if let Some(mode) = self.mode {
            entry.mode = mode;
        }
        if self.uid.is_some() || self.gid.is_some() || self.uname.is_some() || self.gname.is_some()
        {
            entry.override_owner(base, |owner| {
                owner.uid = self.uid.unwrap_or(owner.uid);
                owner.gid = self.gid.unwrap_or(owner.gid);
                owner.uname = self.uname.clone().unwrap_or(owner.uname.clone());
                owner.gname = self.gname.clone().unwrap_or(owner.gname.clone());
            });
        }
    }
}

/// `"0644"`, `"644"` or `420`: permission bits up to 0o7777.
fn parse_mode(value: &serde_json::Value) -> Result<u32, String> {
    let mode = match value {
        serde_json::Value::String(text) => u32::from_str_radix(text, 8)
            .map_err(|_| format!("\"{text}\" is not an octal mode such as \"0644\""))?,
        serde_json::Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("{n} is not a mode"))?,
        other => {
            return Err(format!(
                "{other} is not a mode; write it as a string such as \"0644\""
            ))
        }
    };
    if mode > 0o7777 {
        return Err(format!("{mode:o} has bits beyond 7777"));
    }
    Ok(mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tar::Kind;
    use serde_json::json;

    fn rule(v: serde_json::Value) -> Result<PermRule, String> {
        PermRule::new(serde_json::from_value(v).unwrap(), 0)
    }

    fn file_entry() -> Entry {
        Entry {
            name: b"data/secret.key".to_vec(),
            kind: Kind::File,
            mode: 0o644,
            size: 1,
            owner: None,
            identity: (0, 0),
        }
    }

    fn base() -> Owner {
        Owner::numeric_root(1)
    }

    #[test]
    fn rules_set_modes_and_owners_of_covered_paths() {
        let r = rule(json!({"path": "/data", "regex": ".*\\.key", "mode": "0600", "uid": 1000, "gname": "app"})).unwrap();
        let mut entry = file_entry();
        r.apply(Path::new("data/secret.key"), &mut entry, &base());
        assert_eq!(entry.mode, 0o600);
        let owner = entry.owner.unwrap();
        assert_eq!(
            (owner.uid, owner.gid, owner.gname.as_str()),
            (1000, 0, "app")
        );

        let mut other = file_entry();
        r.apply(Path::new("data/readme"), &mut other, &base());
        r.apply(Path::new("database/x.key"), &mut other, &base());
        assert_eq!((other.mode, other.owner), (0o644, None));
    }

    #[test]
    fn bad_rules_name_the_field() {
        assert_eq!(
            rule(json!({"path": "data"})).unwrap_err(),
            "perms[0].path: \"data\" must be an absolute image path such as \"/data\""
        );
        assert_eq!(
            rule(json!({"path": "/", "mode": "rw-r--r--"})).unwrap_err(),
            "perms[0].mode: \"rw-r--r--\" is not an octal mode such as \"0644\""
        );
        assert!(rule(json!({"path": "/", "regex": "("}))
            .unwrap_err()
            .starts_with("perms[0].regex: "));
        assert_eq!(
            rule(json!({"path": "/", "mode": "17777"})).unwrap_err(),
            "perms[0].mode: 17777 has bits beyond 7777"
        );
    }
}
