//! `stowage nix …`: stowage as the builder of the derivations our Nix library makes. Each
//! reads the derivation's `.attrs.json` (`__structuredAttrs = true`) and writes
//! `outputs.out`; no shell is involved.

use crate::archive::{self, Compression};
use crate::base_image::read_base_image;
use crate::conf::{Conf, RawConf};
use crate::customisation::CustomisationSpec;
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::image::ImagePlan;
use crate::perms::{PermRule, RawPermRule};
use crate::store_path::StorePath;
use crate::timestamp::Timestamp;
use clap::Subcommand;
use serde::Deserialize;
use serde_json::Value;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum NixCommand {
    /// Write the JSON of the attribute `value` to $out (makes a config's references visible
    /// to exportReferencesGraph).
    WriteJson,
    /// Write an executable conf to $out: `#!<stowage> stream` and the conf JSON, with the
    /// store layers planned from `graph` (less `exclude`) per `conf.layering`.
    StreamScript,
    /// Write the docker-archive of the conf `streamScript` to $out, compressed per `compressor`.
    Archive,
    /// Write the customisation layer (`layer.tar` and `checksum`) to $out: `contents`
    /// merged into a root, `extraCommands`, `fakeRootCommands`, `perms`, includeNixDB.
    CustomisationLayer,
}

/// The attributes common to every derivation: where to write.
#[derive(Debug, Deserialize)]
struct Outputs {
    out: PathBuf,
}

#[derive(Debug, Deserialize)]
struct WriteJsonAttrs {
    outputs: Outputs,
    value: Value,
}

#[derive(Debug, Deserialize)]
struct StreamScriptAttrs {
    outputs: Outputs,
    conf: serde_json::Map<String, Value>,
    /// The `exportReferencesGraph` result, passed on to the planner as it is.
    graph: Value,
    #[serde(default)]
    exclude: Vec<PathBuf>,
    stowage: PathBuf,
    /// Print the layer plan with reasons in the build log.
    #[serde(default)]
    debug: bool,
}

#[derive(Debug, Deserialize)]
struct ArchiveAttrs {
    outputs: Outputs,
    #[serde(rename = "streamScript")]
    stream_script: PathBuf,
    #[serde(default = "no_compressor")]
    compressor: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CustomisationAttrs {
    outputs: Outputs,
    #[serde(default)]
    contents: Vec<PathBuf>,
    #[serde(default)]
    extra_commands: String,
    #[serde(default)]
    fake_root_commands: String,
    #[serde(default)]
    enable_fakechroot: bool,
    /// The contents' closure (`exportReferencesGraph.nixDbGraph`), when includeNixDB.
    #[serde(default)]
    nix_db_graph: Option<Vec<crate::graph::GraphEntry>>,
    #[serde(default)]
    perms: Vec<RawPermRule>,
    #[serde(default)]
    tools: Option<PathBuf>,
    /// The stowage package, whose `libexec/stowage/fakeroot` holds the chown stand-ins.
    stowage_package: PathBuf,
    #[serde(default = "default_time")]
    mtime: String,
    #[serde(default = "default_user")]
    uname: String,
}

fn default_time() -> String {
    "1970-01-01T00:00:01Z".into()
}

fn default_user() -> String {
    "root".into()
}

fn no_compressor() -> String {
    "none".into()
}

/// Runs one Nix builder command.
pub fn run(command: NixCommand) -> Result<()> {
    let attrs_file = attrs_file();
    match command {
        NixCommand::WriteJson => {
            let attrs: WriteJsonAttrs = read_attrs(&attrs_file)?;
            let json = serde_json::to_vec(&attrs.value).expect("a JSON value always serialises");
            write_output(&attrs.outputs.out, &json, 0o444)
        }
        NixCommand::StreamScript => stream_script(&attrs_file, read_attrs(&attrs_file)?),
        NixCommand::CustomisationLayer => {
            customisation_layer(&attrs_file, read_attrs(&attrs_file)?)
        }
        NixCommand::Archive => {
            let attrs: ArchiveAttrs = read_attrs(&attrs_file)?;
            let compression = match attrs.compressor.as_str() {
                "none" => Compression::None,
                "gz" => Compression::Gzip,
                "zstd" => Compression::Zstd,
                other => {
                    return Err(Error::conf(
                        &attrs_file,
                        format!(
                            "compressor \"{other}\" is unknown; use \"none\", \"gz\" or \"zstd\""
                        ),
                    ))
                }
            };
            let plan = ImagePlan::from_conf(Conf::load(&attrs.stream_script, None)?)?;
            archive::write_file(&plan, &attrs.outputs.out, compression)
        }
    }
}

/// Writes the executable conf with its store layers planned from the graph. The conf is
/// validated here, so a bad tag, date or maxLayers fails the Nix build rather than the
/// later `docker load`.
fn stream_script(attrs_file: &Path, attrs: StreamScriptAttrs) -> Result<()> {
    let mut conf = attrs.conf;
    let mut layering = match conf.remove("layering") {
        Some(Value::Object(settings)) => settings,
        _ => serde_json::Map::new(),
    };
    layering.insert("graph".into(), attrs.graph);
    layering.insert(
        "exclude".into(),
        serde_json::to_value(&attrs.exclude).expect("paths serialise"),
    );
    conf.insert("layering".into(), Value::Object(layering));
    let raw: RawConf = serde_json::from_value(Value::Object(conf.clone()))
        .map_err(|e| Error::conf(attrs_file, format!("attribute `conf`: {e}")))?;
    let mut parsed = Conf::from_raw(attrs_file, raw, None)?;
    let base_layers = match &parsed.from_image {
        Some(base) => read_base_image(base)?.layers.len(),
        None => 0,
    };
    let plan = parsed.resolve_layering(base_layers)?;
    if let (true, Some((graph, layers))) = (attrs.debug, &plan) {
        eprint!("{}", crate::layers_report::render_text(graph, layers, true));
    }
    conf.remove("layering");
    if parsed.repo_tag.tag.is_none() {
        // nixpkgs' rule for `tag = null`: the hash part of this output's store path, which
        // the Nix library can also compute and expose as `imageTag`.
        let out = StorePath::parse(&attrs.outputs.out, &parsed.store_dir)
            .map_err(|m| Error::conf(attrs_file, format!("outputs.out: {m}")))?;
        let tagged = parsed.repo_tag.with_default_tag(out.hash_part());
        conf.insert("repo_tag".into(), Value::String(tagged));
    }
    conf.insert(
        "store_layers".into(),
        serde_json::to_value(&parsed.store_layers).expect("paths serialise"),
    );

    let mut script = format!("#!{} stream\n", attrs.stowage.display()).into_bytes();
    serde_json::to_writer_pretty(&mut script, &conf).expect("a JSON value always serialises");
    script.push(b'\n');
    write_output(&attrs.outputs.out, &script, 0o555)
}

/// Builds the customisation layer in the build directory.
fn customisation_layer(attrs_file: &Path, attrs: CustomisationAttrs) -> Result<()> {
    let bad = |m: String| Error::conf(attrs_file, m);
    let store_dir =
        std::env::var_os("NIX_STORE").map_or_else(|| PathBuf::from("/nix/store"), PathBuf::from);
    let perms = attrs
        .perms
        .into_iter()
        .enumerate()
        .map(|(i, raw)| PermRule::new(raw, i))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    let nix_db = attrs
        .nix_db_graph
        .map(|entries| Graph::from_entries(entries, &store_dir, attrs_file))
        .transpose()?;
    let mtime = Timestamp::parse(&attrs.mtime).map_err(|m| bad(format!("mtime: {m}")))?;
    let spec = CustomisationSpec {
        contents: attrs.contents,
        extra_commands: attrs.extra_commands,
        fake_root_commands: attrs.fake_root_commands,
        enable_fakechroot: attrs.enable_fakechroot,
        nix_db,
        perms,
        tools: attrs.tools,
        shim_dir: attrs.stowage_package.join("libexec/stowage/fakeroot"),
        store_dir,
        mtime: mtime.unix_seconds(),
        user: attrs.uname,
    };
    let work = std::env::current_dir().map_err(|e| Error::read(Path::new("."), e))?;
    crate::customisation::build(&spec, &work, &attrs.outputs.out)
}

/// Where Nix put `.attrs.json`. Nix 2.8 sets `NIX_ATTRS_JSON_FILE` to the path outside the
/// sandbox, so fall back to the build directory, which is the working directory.
fn attrs_file() -> PathBuf {
    std::env::var_os("NIX_ATTRS_JSON_FILE")
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(".attrs.json"))
}

/// Reads and decodes `.attrs.json`.
fn read_attrs<T: for<'de> Deserialize<'de>>(file: &Path) -> Result<T> {
    let bytes = std::fs::read(file).map_err(|e| Error::read(file, e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::conf(file, format!("unexpected derivation attributes: {e}")))
}

/// Writes a small output file with the given mode.
fn write_output(out: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let target = out.display().to_string();
    let mut file = std::fs::File::create(out).map_err(|e| Error::write(&target, e))?;
    file.write_all(bytes)
        .map_err(|e| Error::write(&target, e))?;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::write(&target, e))
}
