//! `stowage index`: images of several platforms (one per platform) behind one OCI image
//! index, written as an OCI layout whose `index.json` names the index. What the
//! library's `imageIndex` layout is, given the images on the command line instead of
//! in an index file.

use crate::commands::image::write_images;
use crate::commands::image_input::open_index;
use crate::error::Result;
use crate::image::oci::LayoutKind;
use crate::tar::compression::Compression;
use std::path::{Path, PathBuf};

/// Writes the index of `images` (stream scripts, confs or image archives) named
/// `reference` (NAME[:TAG]; by default the first image's) into `output`.
pub fn index(
    images: &[PathBuf],
    reference: Option<&str>,
    output: &Path,
    layout: LayoutKind,
    compression: Compression,
) -> Result<()> {
    write_images(&open_index(images, reference)?, output, layout, compression)
}
