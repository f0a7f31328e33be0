//! The conf file: the JSON that nixpkgs' `stream_layered_image.py` reads, accepted
//! unchanged so stowage can stand in for that script. A conf may start with a `#!` line so
//! that the file itself is executable (`#!/nix/store/…/bin/stowage stream`).

use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::layering::{store_layers, LayeringConf, PlannedLayer};
use crate::repo_tag::RepoTag;
use crate::timestamp::Timestamp;
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The conf as written by nixpkgs (and by our Nix library, which adds optional fields).
#[derive(Debug, Clone, Deserialize)]
pub struct RawConf {
    pub architecture: String,
    /// Our addition: the CPU variant (`v7` for armv7l), written only when set.
    #[serde(default)]
    pub variant: Option<String>,
    /// The image's runtime config (`Cmd`, `Env`, …); `null` and `{}` mean none.
    #[serde(default)]
    pub config: Option<Value>,
    #[serde(default)]
    pub os: Option<String>,
    pub created: String,
    /// Older nixpkgs confs have no `mtime`; their script used `created` for it.
    #[serde(default)]
    pub mtime: Option<String>,
    #[serde(default, deserialize_with = "lenient_int")]
    pub uid: Option<u64>,
    #[serde(default, deserialize_with = "lenient_int")]
    pub gid: Option<u64>,
    #[serde(default)]
    pub uname: Option<String>,
    #[serde(default)]
    pub gname: Option<String>,
    #[serde(default)]
    pub store_dir: Option<PathBuf>,
    #[serde(default)]
    pub from_image: Option<PathBuf>,
    #[serde(default)]
    pub store_layers: Vec<Vec<PathBuf>>,
    /// Our addition: plan the store layers from a graph instead of listing them.
    #[serde(default)]
    pub layering: Option<LayeringConf>,
    /// nixpkgs always sets it; `null` (our addition) builds an image without one.
    #[serde(default)]
    pub customisation_layer: Option<PathBuf>,
    #[serde(default)]
    pub repo_tag: Option<String>,
}

/// A validated conf, with defaults applied and times resolved.
#[derive(Debug, Clone)]
pub struct Conf {
    /// The file the conf was read from, for error messages.
    pub file: PathBuf,
    pub architecture: String,
    pub variant: Option<String>,
    /// Always a JSON object (possibly empty).
    pub config: serde_json::Map<String, Value>,
    pub created: Timestamp,
    pub mtime: Timestamp,
    pub uid: u64,
    pub gid: u64,
    pub uname: String,
    pub gname: String,
    pub store_dir: PathBuf,
    pub from_image: Option<PathBuf>,
    pub store_layers: Vec<Vec<PathBuf>>,
    pub layering: Option<LayeringConf>,
    pub customisation_layer: Option<PathBuf>,
    pub repo_tag: RepoTag,
}

impl Conf {
    /// Reads and validates the conf at `file`. `repo_tag_override` is the `-t` option,
    /// which wins over the conf's `repo_tag` as in nixpkgs' script.
    pub fn load(file: &Path, repo_tag_override: Option<&str>) -> Result<Conf> {
        let bytes = std::fs::read(file).map_err(|e| Error::read(file, e))?;
        let raw: RawConf = serde_json::from_slice(skip_shebang(&bytes))
            .map_err(|e| Error::conf(file, format!("not a valid conf: {e}")))?;
        Conf::from_raw(file, raw, repo_tag_override)
    }

    /// Applies defaults and checks every field of `raw`.
    pub fn from_raw(file: &Path, raw: RawConf, repo_tag_override: Option<&str>) -> Result<Conf> {
        let bad =
            |field: &str, message: String| Error::conf(file, format!("field `{field}`: {message}"));
        if let Some(os) = raw.os.as_deref().filter(|os| *os != "linux") {
            return Err(bad(
                "os",
                format!("\"{os}\" is not supported; images are always \"linux\""),
            ));
        }
        let config = match raw.config {
            None | Some(Value::Null) => serde_json::Map::new(),
            Some(Value::Object(map)) => map,
            Some(other) => {
                return Err(bad(
                    "config",
                    format!("must be an object or null, not {other}"),
                ))
            }
        };
        let created = Timestamp::parse(&raw.created).map_err(|m| bad("created", m))?;
        let mtime = match &raw.mtime {
            Some(text) => Timestamp::parse(text).map_err(|m| bad("mtime", m))?,
            None => created.clone(),
        };
        let store_dir = raw.store_dir.unwrap_or_else(|| PathBuf::from("/nix/store"));
        if !store_dir.is_absolute() {
            return Err(bad(
                "store_dir",
                format!("\"{}\" must be an absolute path", store_dir.display()),
            ));
        }
        let repo_tag = match repo_tag_override.or(raw.repo_tag.as_deref()) {
            Some(text) => RepoTag::parse(text).map_err(|m| bad("repo_tag", m))?,
            None => {
                return Err(bad(
                    "repo_tag",
                    "missing: set it in the conf or pass -t NAME[:TAG]".into(),
                ))
            }
        };
        if raw.layering.is_some() && !raw.store_layers.is_empty() {
            return Err(bad(
                "layering",
                "set either `store_layers` or `layering`, not both".into(),
            ));
        }
        if !crate::platform::is_known_architecture(&raw.architecture) {
            return Err(bad(
                "architecture",
                format!(
                    "\"{}\" is not a Docker (GOARCH) architecture; use one of {} (x86_64 is \"amd64\", aarch64 is \"arm64\")",
                    raw.architecture,
                    crate::platform::KNOWN_ARCHITECTURES.join(", ")
                ),
            ));
        }
        Ok(Conf {
            file: file.to_owned(),
            architecture: raw.architecture,
            variant: raw.variant.filter(|v| !v.is_empty()),
            config,
            created,
            mtime,
            uid: raw.uid.unwrap_or(0),
            gid: raw.gid.unwrap_or(0),
            uname: raw.uname.unwrap_or_else(|| "root".into()),
            gname: raw.gname.unwrap_or_else(|| "root".into()),
            store_dir,
            from_image: raw.from_image,
            store_layers: raw.store_layers,
            layering: raw.layering,
            customisation_layer: raw.customisation_layer,
            repo_tag,
        })
    }
}

impl Conf {
    /// Replaces `layering` (a graph and an algorithm) by the `store_layers` it plans,
    /// counting `base_layers` and the customisation layer against maxLayers. Returns the
    /// plan, for callers that report it.
    pub fn resolve_layering(
        &mut self,
        base_layers: usize,
    ) -> Result<Option<(Graph, Vec<PlannedLayer>)>> {
        let Some(layering) = self.layering.take() else {
            return Ok(None);
        };
        let fixed = base_layers + usize::from(self.customisation_layer.is_some());
        let (graph, planned) = layering.plan(&self.store_dir, fixed, &self.file)?;
        self.store_layers = store_layers(&graph, &planned);
        Ok(Some((graph, planned)))
    }
}

/// The JSON part of a conf: everything after a first line starting with `#!`.
pub fn skip_shebang(bytes: &[u8]) -> &[u8] {
    if bytes.starts_with(b"#!") {
        match bytes.iter().position(|&b| b == b'\n') {
            Some(newline) => &bytes[newline + 1..],
            None => &[],
        }
    } else {
        bytes
    }
}

/// Accepts `0` and `"0"` alike: nixpkgs' script calls `int()` on uid and gid.
fn lenient_int<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrText {
        Int(u64),
        Text(String),
    }
    match Option::<IntOrText>::deserialize(de)? {
        None => Ok(None),
        Some(IntOrText::Int(n)) => Ok(Some(n)),
        Some(IntOrText::Text(t)) => t.trim().parse().map(Some).map_err(|_| {
            serde::de::Error::custom(format!("\"{t}\" is not a non-negative integer"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NIXPKGS_CONF: &str = r#"{
        "architecture": "amd64", "config": {"Cmd": ["/bin/sh"]}, "os": "linux",
        "created": "1970-01-01T00:00:01Z", "mtime": "1970-01-01T00:00:01Z",
        "uid": 0, "gid": "0", "uname": "root", "gname": "root",
        "store_dir": "/nix/store", "from_image": null,
        "store_layers": [["/nix/store/00000000000000000000000000000000-a"]],
        "customisation_layer": "/nix/store/11111111111111111111111111111111-c",
        "repo_tag": "hello:latest"
    }"#;

    fn parse(text: &str) -> Result<Conf> {
        let raw: RawConf = serde_json::from_str(text)
            .map_err(|e| Error::conf(Path::new("conf.json"), e.to_string()))?;
        Conf::from_raw(Path::new("conf.json"), raw, None)
    }

    #[test]
    fn reads_a_nixpkgs_conf() {
        let conf = parse(NIXPKGS_CONF).unwrap();
        assert_eq!(conf.repo_tag.to_string(), "hello:latest");
        assert_eq!(conf.gid, 0);
        assert_eq!(conf.mtime.unix_seconds(), 1);
        assert_eq!(conf.config["Cmd"], serde_json::json!(["/bin/sh"]));
    }

    #[test]
    fn the_shebang_line_is_skipped() {
        let text = format!("#!/nix/store/x-stowage/bin/stowage stream\n{NIXPKGS_CONF}");
        assert_eq!(skip_shebang(text.as_bytes()), NIXPKGS_CONF.as_bytes());
        assert_eq!(skip_shebang(b"{}"), b"{}");
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            (r#""architecture": "amd64""#, r#""architecture": "x86_64""#, "conf.json: field `architecture`: \"x86_64\" is not a Docker (GOARCH) architecture; use one of 386, amd64, arm, arm64, loong64, mips, mipsle, mips64, mips64le, ppc64, ppc64le, riscv64, s390x, wasm (x86_64 is \"amd64\", aarch64 is \"arm64\")"),
            (r#""os": "linux""#, r#""os": "darwin""#, "conf.json: field `os`: \"darwin\" is not supported; images are always \"linux\""),
            (r#""config": {"Cmd": ["/bin/sh"]}"#, r#""config": [1]"#, "conf.json: field `config`: must be an object or null, not [1]"),
            (r#""mtime": "1970-01-01T00:00:01Z""#, r#""mtime": "yesterday""#, "conf.json: field `mtime`: \"yesterday\" is not a date; use ISO 8601 (e.g. 1970-01-01T00:00:01Z) or \"now\""),
            (r#""repo_tag": "hello:latest""#, r#""repo_tag": "Hello:latest""#, "conf.json: field `repo_tag`: name \"Hello\" must be lower-case letters, digits and . _ - / : (Docker refuses others)"),
        ];
        for (from, to, message) in cases {
            let text = NIXPKGS_CONF.replace(from, to);
            assert_eq!(parse(&text).unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn a_missing_field_is_named() {
        let text = NIXPKGS_CONF.replace(r#""architecture": "amd64","#, "");
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.starts_with("conf.json: missing field `architecture`"),
            "{err}"
        );
    }
}
