//! `stowage nix build-image`: nixpkgs' buildImage without its VM, tar, jq or rsync. The
//! image is the base's layers, unchanged, and one new layer: `copyToRoot` copied into a
//! root tree, what runAsRoot changed (run as root in a user namespace, chrooted into an
//! overlay of the base's layers unpacked, deletions recorded as whiteouts), the Nix
//! database with includeNixDB, then `extraCommands`; owned by `uid`:`gid` (by root with
//! runAsRoot, as in nixpkgs), followed by the store paths of the closure the base lacks.

use crate::commands::from_image::read_from_image;
use crate::commands::image::write_plan;
use crate::conf::attrs::BuildImageAttrs;
use crate::customisation::fakeroot::Ownership;
use crate::customisation::{self, CustomisationSpec, Merge, RunAsRoot};
use crate::error::{Error, Result};
use crate::graph::store_path::StorePath;
use crate::graph::Graph;
use crate::image::base::select::ImageChoice;
use crate::image::base::store_paths::{base_store, BaseStore};
use crate::image::base::BaseImage;
use crate::image::layer::{Layer, LayerSource};
use crate::image::plan::{EnvMerge, ImagePlan, ImageSpec};
use crate::image::platform;
use crate::image::repo_tag::RepoTag;
use crate::image::rootfs::{
    self,
    unpack::{unpack, Owners},
};
use crate::image::runtime_config;
use crate::image::timestamp::Timestamp;
use crate::tar::fs_layer::FsLayer;
use crate::tar::{checked_id, Owner};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The time stamp of every member of the new layer and of the archive (nixpkgs uses a
/// fixed one too; `created` only goes into the config).
const MTIME: &str = "1970-01-01T00:00:01Z";

/// Builds the image that `attrs` describe into `outputs.out`. `store_dir` is the Nix
/// store; `work` the build directory.
pub fn build_image(
    attrs_file: &Path,
    attrs: BuildImageAttrs,
    store_dir: &Path,
    work: &Path,
) -> Result<()> {
    let spec = image_spec(attrs_file, &attrs, store_dir)?;
    let choice = ImageChoice {
        name: attrs.from_image_name.clone(),
        tag: attrs.from_image_tag.clone(),
    };
    let base = attrs
        .from_image
        .as_deref()
        .map(|p| read_from_image(p, &choice))
        .transpose()?;
    let in_base = match &base {
        Some(base) => base_store(&base.layers, store_dir)?,
        None => BaseStore::default(),
    };
    let tree_part = root_tree(&attrs, base.as_ref(), store_dir, work, &spec.owner)?;
    let store_part = store_part(attrs_file, &attrs, store_dir, &in_base, spec.owner.mtime)?;
    let layer = new_layer(tree_part, store_part)?;
    let plan = ImagePlan::new(spec, base, vec![layer]);
    write_plan(plan, &attrs.outputs.out, attrs.format, attrs.compressor)
}

/// What the image says about itself: buildImage's name and tag rules, `Env` appended to
/// the base's, and a `repositories` member.
fn image_spec(attrs_file: &Path, attrs: &BuildImageAttrs, store_dir: &Path) -> Result<ImageSpec> {
    let bad = |field: &str, m: String| Error::conf(attrs_file, format!("{field}: {m}"));
    platform::check_architecture(&attrs.architecture).map_err(|m| bad("architecture", m))?;
    let tag = match &attrs.image_tag {
        Some(tag) => tag.clone(),
        None => StorePath::parse(&attrs.outputs.out, store_dir)
            .map_err(|m| bad("outputs.out", m))?
            .hash_part()
            .to_owned(),
    };
    let repo_tag = RepoTag::parse(&format!("{}:{tag}", attrs.image_name))
        .map_err(|m| bad("name and tag", m))?;
    let config = match &attrs.config {
        serde_json::Value::Null => serde_json::Map::new(),
        serde_json::Value::Object(map) => map.clone(),
        other => {
            return Err(bad(
                "config",
                format!("must be an attribute set or null, not {other}"),
            ))
        }
    };
    runtime_config::check(&config).map_err(|m| bad("config", m))?;
    checked_id(attrs.uid).map_err(|m| bad("uid", m))?;
    checked_id(attrs.gid).map_err(|m| bad("gid", m))?;
    let mtime = Timestamp::parse(MTIME).map_err(|m| bad("mtime", m))?;
    Ok(ImageSpec {
        architecture: attrs.architecture.clone(),
        variant: attrs.variant.clone().filter(|v| !v.is_empty()),
        created: Timestamp::parse(&attrs.created).map_err(|m| bad("created", m))?,
        owner: Owner {
            uid: attrs.uid,
            gid: attrs.gid,
            uname: String::new(),
            gname: String::new(),
            mtime: mtime.unix_seconds(),
        },
        mtime,
        config,
        repo_tag,
        env: EnvMerge::Append,
        repositories: true,
    })
}

/// `copyToRoot` copied into `work/root`, runAsRoot's changes, the Nix database,
/// `extraCommands`; planned as members owned by `uid`:`gid`, or with runAsRoot (as in
/// nixpkgs) by root, files it changed keeping the base's owners.
fn root_tree(
    attrs: &BuildImageAttrs,
    base: Option<&BaseImage>,
    store_dir: &Path,
    work: &Path,
    owner: &Owner,
) -> Result<FsLayer> {
    let nix_db = attrs
        .nix_db_graph
        .clone()
        .map(|entries| Graph::from_entries(entries, store_dir, Path::new("nixDbGraph")))
        .transpose()?;
    let (run_as_root, base_owners) = match &attrs.run_as_root {
        Some(script) => {
            let lower = work.join("lower");
            std::fs::create_dir_all(&lower).map_err(|e| Error::input(&lower, e.to_string()))?;
            let owners = match base {
                Some(base) => unpack(&rootfs::flatten(&base.layers)?, &base.layers, &lower)?,
                None => Owners::new(),
            };
            let run = RunAsRoot {
                script: script.clone(),
                lower,
            };
            (Some(run), owners)
        }
        None => (None, Owners::new()),
    };
    let owner = match run_as_root {
        Some(_) => Owner {
            uid: 0,
            gid: 0,
            ..owner.clone()
        },
        None => owner.clone(),
    };
    let spec = CustomisationSpec {
        contents: attrs.copy_to_root.clone(),
        merge: Merge::Copy {
            keep_dirlinks: attrs.keep_contents_dirlinks,
        },
        extra_commands: attrs.extra_commands.clone(),
        fake_root_commands: String::new(),
        enable_fakechroot: false,
        nix_db,
        perms: Vec::new(),
        tools: attrs.tools.clone(),
        store_dir: store_dir.to_owned(),
        mtime: owner.mtime,
        user: "root".into(),
        run_as_root,
    };
    let mut tree = customisation::prepare(&spec, work)?;
    for (path, (uid, gid)) in base_owners {
        if std::fs::symlink_metadata(tree.root.join(&path)).is_ok() {
            tree.owners.entry(path).or_insert(Ownership {
                uid: Some(uid),
                gid: Some(gid),
            });
        }
    }
    customisation::tree_layer(&spec, &tree, owner)
}

/// The closure's store paths that the base lacks, owned by root, after `nix` and
/// `nix/store` as 0555 directories when there are any and the base has no store.
fn store_part(
    attrs_file: &Path,
    attrs: &BuildImageAttrs,
    store_dir: &Path,
    in_base: &BaseStore,
    mtime: u64,
) -> Result<FsLayer> {
    let graph = Graph::from_entries(attrs.graph.clone(), store_dir, attrs_file)?;
    let excluded: BTreeSet<&Path> = attrs.exclude.iter().map(PathBuf::as_path).collect();
    let paths: Vec<PathBuf> = graph
        .nodes()
        .iter()
        .map(|n| n.path.as_path())
        .filter(|p| !excluded.contains(p))
        .filter(|p| {
            p.file_name()
                .is_none_or(|name| !in_base.paths.contains(name))
        })
        .map(Path::to_owned)
        .collect();
    let dir_mode = (!paths.is_empty() && !in_base.has_store_dir).then_some(0o555);
    let root = Owner {
        uid: 0,
        gid: 0,
        uname: "root".into(),
        gname: "root".into(),
        mtime,
    };
    FsLayer::from_store_paths(&paths, store_dir, dir_mode, root)
}

/// The one new layer: the root tree, then the store paths. A directory both have (`nix`
/// when includeNixDB wrote `nix/var`) is written once, as the store part has it.
fn new_layer(mut tree: FsLayer, store: FsLayer) -> Result<Layer> {
    let in_store = store.clone();
    tree.drop_members(move |name| in_store.has_member(name))?;
    Ok(Layer {
        source: LayerSource::Files(vec![tree, store]),
        comment: Some("buildImage: copyToRoot, extraCommands and their store paths".into()),
    })
}
