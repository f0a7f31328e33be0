//! `stowage export` and the Nix library's exportImage: an image archive flattened into
//! the tarball of its root filesystem.

use crate::commands::from_image::read_from_image;
use crate::error::Result;
use crate::image::base::select::ImageChoice;
use crate::image::rootfs;
use std::path::Path;

/// Reads the docker-archive `image` (any style and compression the base-image reader
/// takes; of several images, the one `choice` names), applies its layers and writes the
/// root filesystem to the file `output`.
pub fn export(image: &Path, choice: &ImageChoice, output: &Path) -> Result<()> {
    let base = read_from_image(image, choice)?;
    let root = rootfs::flatten(&base.layers)?;
    rootfs::write_file(&root, &base.layers, output)
}
