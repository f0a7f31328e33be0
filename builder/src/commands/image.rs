//! `stowage stream` and `stowage build`, and the Nix library's archive: a conf read,
//! its store layers planned, and the image written.

use crate::commands::from_image::read_from_image;
use crate::commands::image_input::{open_images, Images};
use crate::conf::Conf;
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::image::archive;
use crate::image::base::select::ImageChoice;
use crate::image::base::BaseImage;
use crate::image::oci::{self, LayoutContent, LayoutKind};
use crate::image::output_format::OutputFormat;
use crate::image::plan::{self, ImagePlan, StoreLayers};
use crate::image::publishable::Publishable;
use crate::layering::{self, FixedLayers, Plan};
use crate::sys;
use crate::tar::compression::Compression;
use crate::tar::copy::COPY_BUFFER;
use std::fs::File;
use std::path::Path;

/// A conf with everything it refers to read: its base image and, when it has a
/// `layering` section, its store layers planned.
pub struct ResolvedConf {
    pub conf: Conf,
    pub base: Option<BaseImage>,
    pub store: StoreLayers,
    /// The graph and plan the store layers came from, for reports.
    pub planned: Option<(Graph, Plan)>,
}

/// Reads the base image and plans the store layers of `conf` (read from `file`, which
/// errors name).
pub fn resolve(conf: Conf, file: &Path) -> Result<ResolvedConf> {
    let store_dir = conf.store_dir(file)?;
    let base = conf
        .from_image
        .as_deref()
        .map(|p| read_from_image(p, &ImageChoice::default()))
        .transpose()?;
    let mut store = StoreLayers {
        store_dir,
        layers: conf.store_layers.clone(),
    };
    let planned = match &conf.layering {
        None => None,
        Some(section) => {
            let graph = section.graph(&store.store_dir, file)?;
            let fixed = fixed_layers(&conf, base.as_ref());
            let plan = layering::plan(&graph, &section.settings(), fixed)
                .map_err(|m| Error::conf(file, format!("layering: {m}")))?;
            store.layers = plan.store_layers(&graph);
            Some((graph, plan))
        }
    };
    Ok(ResolvedConf {
        conf,
        base,
        store,
        planned,
    })
}

/// The layers `conf` takes besides its store layers: its base image's (`base`, read from
/// `from_image`) and its customisation layer, if it has one.
pub fn fixed_layers(conf: &Conf, base: Option<&BaseImage>) -> FixedLayers {
    FixedLayers {
        base: base.map_or(0, |b| b.layers.len()),
        customisation: conf.customisation_layer.is_some(),
    }
}

/// Plans the image that the conf at `file` describes; `repo_tag` is the `-t` override.
pub fn plan_from_conf(file: &Path, repo_tag: Option<&str>) -> Result<ImagePlan> {
    let conf = Conf::load(file)?;
    let spec = conf.image_spec(file, repo_tag)?;
    let resolved = resolve(conf, file)?;
    let mut own = plan::store_layers(&resolved.store, &spec.owner)?;
    if let Some(dir) = &resolved.conf.customisation_layer {
        own.push(plan::customisation_layer(dir)?);
    }
    Ok(ImagePlan::new(spec, resolved.base, own))
}

/// `stowage stream`: the archive to `out` (stdout), uncompressed.
pub fn stream(conf: &Path, repo_tag: Option<&str>, out: &mut File) -> Result<()> {
    sys::widen_pipe(out, COPY_BUFFER);
    archive::stream(&plan_from_conf(conf, repo_tag)?, out, "stdout")
}

/// `stowage build`: the image into `output`, whole or not at all. A docker-archive is
/// compressed as a whole; an OCI layout's layers one by one, and its image may also be
/// an archive or an index file. `compression` `None` is the format's default.
pub fn build(
    conf: &Path,
    repo_tag: Option<&str>,
    output: &Path,
    format: OutputFormat,
    compression: Option<Compression>,
) -> Result<()> {
    let compression = compression.unwrap_or(format.default_compression());
    match format.layout() {
        None => write_plan(plan_from_conf(conf, repo_tag)?, output, format, compression),
        Some(layout) => write_images(&open_images(conf, repo_tag)?, output, layout, compression),
    }
}

/// Writes `opened` as an OCI layout: one image, or an index over several.
pub fn write_images(
    opened: &Images,
    output: &Path,
    layout: LayoutKind,
    compression: Compression,
) -> Result<()> {
    let content = match &opened.index_name {
        Some(reference) => LayoutContent::Index {
            images: &opened.images,
            reference: reference.clone(),
        },
        None => LayoutContent::Image {
            image: &opened.images[0],
            tag: None,
        },
    };
    oci::write_layout(content, compression, output, layout)
}

/// Writes the planned image `plan` into `output` as `format` (buildImage's and the
/// layered functions' one image).
pub fn write_plan(
    plan: ImagePlan,
    output: &Path,
    format: OutputFormat,
    compression: Compression,
) -> Result<()> {
    match format.layout() {
        None => archive::write_file(&plan, output, compression),
        Some(layout) => {
            let image = Publishable::planned(plan);
            let content = LayoutContent::Image {
                image: &image,
                tag: None,
            };
            oci::write_layout(content, compression, output, layout)
        }
    }
}
