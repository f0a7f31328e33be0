//! The conf file: the JSON that nixpkgs' `stream_layered_image.py` reads, accepted
//! unchanged so stowage can stand in for that script, plus our optional fields. The one
//! typed schema of it: read with serde, checked into an [`ImageSpec`] and layering
//! [`Settings`], and written back with serde (the stream script is a conf). A conf may
//! start with a `#!` line so that the file itself is executable
//! (`#!/nix/store/…/bin/stowage stream`).

pub mod attrs;

use crate::error::{Error, Result};
use crate::graph::{Graph, GraphEntry};
use crate::image::plan::{EnvMerge, ImageSpec};
use crate::image::platform;
use crate::image::repo_tag::RepoTag;
use crate::image::runtime_config;
use crate::image::timestamp::Timestamp;
use crate::layering::{AlgorithmName, Settings};
use crate::tar::{checked_id, Owner};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The conf as nixpkgs writes it, with our additions. Fields are declared in
/// alphabetical order: serialised, the conf has the same bytes as a sorted JSON map.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Conf {
    pub architecture: String,
    /// The image's runtime config (`Cmd`, `Env`, …); `null` and `{}` mean none.
    #[serde(default)]
    pub config: Option<Value>,
    pub created: String,
    /// nixpkgs always sets it; `null` (our addition) builds an image without one.
    #[serde(default)]
    pub customisation_layer: Option<PathBuf>,
    #[serde(default)]
    pub from_image: Option<PathBuf>,
    #[serde(default, deserialize_with = "lenient_int")]
    pub gid: Option<u64>,
    #[serde(default)]
    pub gname: Option<String>,
    /// Our addition: plan the store layers from a graph instead of listing them.
    /// Written back never: it is planned into `store_layers` first.
    #[serde(default, skip_serializing)]
    pub layering: Option<LayeringSection>,
    /// Older nixpkgs confs have no `mtime`; their script used `created` for it.
    #[serde(default)]
    pub mtime: Option<String>,
    #[serde(default)]
    pub os: Option<String>,
    #[serde(default)]
    pub repo_tag: Option<String>,
    #[serde(default)]
    pub store_dir: Option<PathBuf>,
    #[serde(default)]
    pub store_layers: Vec<Vec<PathBuf>>,
    #[serde(default, deserialize_with = "lenient_int")]
    pub uid: Option<u64>,
    #[serde(default)]
    pub uname: Option<String>,
    /// Our addition: the CPU variant (`v7` for armv7l), written only when set.
    #[serde(default)]
    pub variant: Option<String>,
}

/// The `layering` section (our addition): plan `store_layers` from a references graph.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayeringSection {
    /// The closure as `exportReferencesGraph` gives it (`[{path, references, narSize}]`).
    /// Our Nix library leaves it out of the conf and passes it beside it.
    #[serde(default)]
    pub graph: Option<Vec<GraphEntry>>,
    /// `auto` (default) or `popularity`; ignored when `pipeline` is set.
    #[serde(default)]
    pub algorithm: AlgorithmName,
    /// A nixpkgs `layeringPipeline`.
    #[serde(default)]
    pub pipeline: Option<Value>,
    /// The image's whole layer budget: base layers, store layers and the customisation
    /// layer together.
    #[serde(default = "default_max_layers")]
    pub max_layers: i64,
    /// Store paths to leave out (the image's own config file, for instance).
    #[serde(default)]
    pub exclude: Vec<PathBuf>,
}

fn default_max_layers() -> i64 {
    100
}

impl Default for LayeringSection {
    fn default() -> LayeringSection {
        LayeringSection {
            graph: None,
            algorithm: AlgorithmName::default(),
            pipeline: None,
            max_layers: default_max_layers(),
            exclude: Vec::new(),
        }
    }
}

impl LayeringSection {
    /// The layering settings this section asks for.
    pub fn settings(&self) -> Settings {
        Settings::new(
            self.algorithm,
            self.pipeline.clone(),
            self.max_layers,
            self.exclude.clone(),
        )
    }

    /// The graph to plan, with paths under `store_dir`; `file` names the conf in errors.
    pub fn graph(&self, store_dir: &Path, file: &Path) -> Result<Graph> {
        let entries = self.graph.clone().ok_or_else(|| {
            Error::conf(file, "field `layering`: missing field `graph` (the closure as exportReferencesGraph gives it)")
        })?;
        Graph::from_entries(entries, store_dir, file)
    }
}

impl Conf {
    /// Reads the conf at `file`.
    pub fn load(file: &Path) -> Result<Conf> {
        let bytes = crate::input::read_bounded(file).map_err(|e| Error::read(file, e))?;
        Conf::parse(&bytes, file)
    }

    /// Parses the bytes of the conf `file` (a `#!` line first is skipped).
    pub fn parse(bytes: &[u8], file: &Path) -> Result<Conf> {
        serde_json::from_slice(skip_shebang(bytes))
            .map_err(|e| Error::conf(file, format!("not a valid conf: {e}")))
    }

    /// The store directory, `/nix/store` unless the conf says otherwise.
    pub fn store_dir(&self, file: &Path) -> Result<PathBuf> {
        let store_dir = self
            .store_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/nix/store"));
        if !store_dir.is_absolute() {
            return Err(field_error(
                file,
                "store_dir",
                format!("\"{}\" must be an absolute path", store_dir.display()),
            ));
        }
        Ok(store_dir)
    }

    /// The conf's repo tag; `repo_tag_override` is the `-t` option, which wins over the
    /// conf's `repo_tag` as in nixpkgs' script.
    pub fn repo_tag(&self, file: &Path, repo_tag_override: Option<&str>) -> Result<RepoTag> {
        match repo_tag_override.or(self.repo_tag.as_deref()) {
            Some(text) => RepoTag::parse(text).map_err(|m| field_error(file, "repo_tag", m)),
            None => Err(field_error(
                file,
                "repo_tag",
                "missing: set it in the conf or pass -t NAME[:TAG]".into(),
            )),
        }
    }

    /// Checks every field that describes the image and applies nixpkgs' defaults.
    pub fn image_spec(&self, file: &Path, repo_tag_override: Option<&str>) -> Result<ImageSpec> {
        let bad = |field: &str, message: String| field_error(file, field, message);
        if let Some(os) = self.os.as_deref().filter(|os| *os != "linux") {
            return Err(bad(
                "os",
                format!("\"{os}\" is not supported; images are always \"linux\""),
            ));
        }
        let config = match &self.config {
            None | Some(Value::Null) => serde_json::Map::new(),
            Some(Value::Object(map)) => map.clone(),
            Some(other) => {
                return Err(bad(
                    "config",
                    format!("must be an object or null, not {other}"),
                ))
            }
        };
        runtime_config::check(&config).map_err(|m| bad("config", m))?;
        let created = Timestamp::parse(&self.created).map_err(|m| bad("created", m))?;
        let mtime = match &self.mtime {
            Some(text) => Timestamp::parse(text).map_err(|m| bad("mtime", m))?,
            None => created.clone(),
        };
        let repo_tag = self.repo_tag(file, repo_tag_override)?;
        if self.layering.is_some() && !self.store_layers.is_empty() {
            return Err(bad(
                "layering",
                "set either `store_layers` or `layering`, not both".into(),
            ));
        }
        platform::check_architecture(&self.architecture).map_err(|m| bad("architecture", m))?;
        Ok(ImageSpec {
            architecture: self.architecture.clone(),
            variant: self.variant.clone().filter(|v| !v.is_empty()),
            config,
            owner: Owner {
                uid: checked_id(self.uid.unwrap_or(0)).map_err(|m| bad("uid", m))?,
                gid: checked_id(self.gid.unwrap_or(0)).map_err(|m| bad("gid", m))?,
                uname: self.uname.clone().unwrap_or_else(|| "root".into()),
                gname: self.gname.clone().unwrap_or_else(|| "root".into()),
                mtime: mtime.unix_seconds(),
            },
            created,
            mtime,
            repo_tag,
            env: EnvMerge::ByName,
            repositories: false,
        })
    }
}

/// An error about one field of the conf `file`.
fn field_error(file: &Path, field: &str, message: String) -> Error {
    Error::conf(file, format!("field `{field}`: {message}"))
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

    fn parse(text: &str) -> Result<ImageSpec> {
        let conf: Conf = serde_json::from_str(text)
            .map_err(|e| Error::conf(Path::new("conf.json"), e.to_string()))?;
        conf.image_spec(Path::new("conf.json"), None)
    }

    #[test]
    fn reads_a_nixpkgs_conf() {
        let conf = parse(NIXPKGS_CONF).unwrap();
        assert_eq!(conf.repo_tag.to_string(), "hello:latest");
        assert_eq!(conf.owner.gid, 0);
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
            (r#""uid": 0"#, r#""uid": 9223372036854775808"#, "conf.json: field `uid`: 9223372036854775808 is not a Linux user or group id (0 to 4294967294)"),
            (r#""config": {"Cmd": ["/bin/sh"]}"#, r#""config": {"Cmnd": ["/bin/sh"]}"#, "conf.json: field `config`: config.Cmnd is not a field of an image config; did you mean Cmd? (an unknown field is ignored by every engine)"),
            (r#""created": "1970-01-01T00:00:01Z""#, r#""created": "2016-12-31T23:59:60Z""#, "conf.json: field `created`: \"2016-12-31T23:59:60Z\" is a leap second, which docker load refuses; use :59"),
            (r#""repo_tag": "hello:latest""#, r#""repo_tag": "Hello:latest""#, "conf.json: field `repo_tag`: name \"Hello\" must be lower-case (Docker refuses upper case); use \"hello\""),
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
