//! `stowage merge` and the Nix library's `mergeImages`: image archives read, checked
//! against each other and written as one docker-archive.

use crate::error::{Error, Result};
use crate::image::base::{read_archive_images, ArchiveImages};
use crate::image::merge::{self, MergeInput, MergePlan};
use crate::tar::compression::Compression;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Merges the archives `inputs`, in their order, into `output`, compressed as asked or
/// else as the last input is (as nixpkgs' `mergeImages` does).
pub fn merge(inputs: &[PathBuf], output: &Path, compression: Option<Compression>) -> Result<()> {
    if inputs.is_empty() {
        return Err(Error::input(
            output,
            "no image to merge: give at least one image archive",
        ));
    }
    let read = inputs
        .iter()
        .map(|path| read_input(path))
        .collect::<Result<Vec<_>>>()?;
    let last = read.last().map(|input| input.archive.compression);
    let compression = compression.or(last).unwrap_or(Compression::None);
    let plan = MergePlan::new(read)?;
    merge::write_file(&plan, output, compression)
}

/// Reads every image of the archive `path`, with errors that say it is an image to
/// merge (the reader's own say "base image").
fn read_input(path: &Path) -> Result<MergeInput> {
    refuse_stream_script(path)?;
    let archive: ArchiveImages = read_archive_images(path).map_err(|error| match error {
        Error::BaseImage { archive, message } => Error::MergeInput { archive, message },
        other => other,
    })?;
    Ok(MergeInput {
        path: path.to_owned(),
        archive,
    })
}

/// A streamLayeredImage result is a script that prints an archive, not one: say so
/// rather than fail on its first tar header.
fn refuse_stream_script(path: &Path) -> Result<()> {
    let mut start = [0u8; 2];
    let mut file = File::open(path).map_err(|e| Error::read(path, e))?;
    let read = file.read(&mut start).map_err(|e| Error::read(path, e))?;
    if start[..read] == *b"#!" {
        return Err(Error::merge_input(
            path,
            "is a script (a streamLayeredImage result), not an archive; merge \
             buildLayeredImage results, or run the script into a file and merge that",
        ));
    }
    Ok(())
}
