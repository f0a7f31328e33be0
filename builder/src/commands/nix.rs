//! `stowage nix …`: stowage as the builder of the derivations our Nix library makes. Each
//! reads the derivation's `.attrs.json` (`__structuredAttrs = true`, schemas in
//! [`crate::conf::attrs`]) and writes `outputs.out`; no shell is involved.

use crate::commands::{build_image, export, image, layers, merge, pull, write_tree};
use crate::conf::attrs::{
    attrs_file, read_attrs, ArchiveAttrs, CustomisationAttrs, ExportImageAttrs, MergeImagesAttrs,
    PullImageAttrs, StreamScriptAttrs, WriteJsonAttrs,
};
use crate::customisation::perms::PermRule;
use crate::customisation::{CustomisationSpec, Merge};
use crate::error::{Error, Result};
use crate::graph::store_path::StorePath;
use crate::graph::Graph;
use crate::image::base::select::ImageChoice;
use crate::image::timestamp::Timestamp;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The derivations `stowage nix` builds.
#[derive(Debug, Clone, Copy)]
pub enum NixCommand {
    WriteJson,
    WriteTree,
    StreamScript,
    Archive,
    CustomisationLayer,
    BuildImage,
    ExportImage,
    MergeImages,
    PullImage,
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
        NixCommand::WriteTree => write_tree::write_tree(&attrs_file, read_attrs(&attrs_file)?),
        NixCommand::StreamScript => stream_script(&attrs_file, read_attrs(&attrs_file)?),
        NixCommand::CustomisationLayer => {
            customisation_layer(&attrs_file, read_attrs(&attrs_file)?)
        }
        NixCommand::BuildImage => build_image::build_image(
            &attrs_file,
            read_attrs(&attrs_file)?,
            &store_dir(),
            &build_dir()?,
        ),
        NixCommand::Archive => {
            let attrs: ArchiveAttrs = read_attrs(&attrs_file)?;
            image::build(
                &attrs.stream_script,
                None,
                &attrs.outputs.out,
                attrs.format,
                Some(attrs.compressor),
            )
        }
        NixCommand::ExportImage => {
            let attrs: ExportImageAttrs = read_attrs(&attrs_file)?;
            let choice = ImageChoice {
                name: attrs.from_image_name,
                tag: attrs.from_image_tag,
            };
            export::export(&attrs.from_image, &choice, &attrs.outputs.out)
        }
        NixCommand::MergeImages => {
            let attrs: MergeImagesAttrs = read_attrs(&attrs_file)?;
            merge::merge(&attrs.images, &attrs.outputs.out, None)
        }
        NixCommand::PullImage => {
            let attrs: PullImageAttrs = read_attrs(&attrs_file)?;
            let image = format!("{}@{}", attrs.image_name, attrs.image_digest);
            let request = pull::PullRequest::new(&pull::PullArgs {
                image: &image,
                os: &attrs.os,
                arch: Some(&attrs.arch),
                variant: attrs.variant.as_deref(),
                tls_verify: attrs.tls_verify,
                cert_dir: None,
                auth: None,
                final_name: Some(&attrs.final_image_name),
                final_tag: Some(&attrs.final_image_tag),
            })?;
            pull::pull(&request, &attrs.outputs.out)
        }
    }
}

/// Writes the executable conf with its store layers planned from the graph. The conf is
/// validated here, so a bad tag, date or maxLayers fails the Nix build rather than the
/// later `docker load`.
fn stream_script(attrs_file: &Path, attrs: StreamScriptAttrs) -> Result<()> {
    let mut conf = attrs.conf;
    let section = conf.layering.get_or_insert_with(Default::default);
    section.graph = Some(attrs.graph);
    section.exclude = attrs.exclude;
    let spec = conf.image_spec(attrs_file, None)?;
    let mut resolved = image::resolve(conf, attrs_file)?;
    if let (true, Some((graph, plan))) = (attrs.debug, &resolved.planned) {
        eprint!("{}", layers::render_text(graph, plan, true));
    }
    let conf = &mut resolved.conf;
    conf.layering = None;
    conf.store_layers = resolved.store.layers;
    if spec.repo_tag.tag.is_none() {
        // nixpkgs' rule for `tag = null`: the hash part of this output's store path, which
        // the Nix library can also compute and expose as `imageTag`.
        let out = StorePath::parse(&attrs.outputs.out, &resolved.store.store_dir)
            .map_err(|m| Error::conf(attrs_file, format!("outputs.out: {m}")))?;
        conf.repo_tag = Some(spec.repo_tag.with_default_tag(out.hash_part()));
    }
    let mut script = format!("#!{} stream\n", attrs.stowage.display()).into_bytes();
    serde_json::to_writer_pretty(&mut script, &conf).expect("a conf always serialises");
    script.push(b'\n');
    write_output(&attrs.outputs.out, &script, 0o555)
}

/// Builds the customisation layer in the build directory.
fn customisation_layer(attrs_file: &Path, attrs: CustomisationAttrs) -> Result<()> {
    let bad = |m: String| Error::conf(attrs_file, m);
    let store_dir = store_dir();
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
        merge: Merge::Symlinks,
        extra_commands: attrs.extra_commands,
        fake_root_commands: attrs.fake_root_commands,
        enable_fakechroot: attrs.enable_fakechroot,
        nix_db,
        perms,
        tools: attrs.tools,
        store_dir,
        mtime: mtime.unix_seconds(),
        user: attrs.uname,
        run_as_root: None,
    };
    crate::customisation::build(&spec, &build_dir()?, &attrs.outputs.out)
}

/// The Nix store the build runs with (`NIX_STORE`, as Nix sets it in the sandbox).
fn store_dir() -> PathBuf {
    std::env::var_os("NIX_STORE").map_or_else(|| PathBuf::from("/nix/store"), PathBuf::from)
}

/// The build directory, which is the working directory of a Nix builder.
fn build_dir() -> Result<PathBuf> {
    std::env::current_dir().map_err(|e| Error::read(Path::new("."), e))
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
