//! `fromImage` as the front ends take it: a docker-archive of any style the base reader
//! knows (of several images, the one `fromImageName` and `fromImageTag` pick), or a
//! streamLayeredImage result (a conf behind a `#!` line), which is streamed
//! into a temporary file first, as `$script | docker load` would read it.

use crate::commands::image::plan_from_conf;
use crate::error::{Error, Result};
use crate::image::archive;
use crate::image::base::select::{read_chosen_image, ImageChoice};
use crate::image::base::{read_base_image, BaseImage};
use std::cell::Cell;
use std::io::Read;
use std::path::Path;

/// How many stream scripts may stand on each other: a conf naming itself as its base
/// must fail, not recurse until the stack runs out.
const MAX_DEPTH: usize = 64;

thread_local! {
    /// How many stream scripts are being read as bases on this thread right now.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Reads the base image at `path`; of an archive of several images, the one `choice`
/// names (a stream script has one image, so the choice does not apply).
pub fn read_from_image(path: &Path, choice: &ImageChoice) -> Result<BaseImage> {
    if !is_stream_script(path)? {
        return match choice.is_open() {
            true => read_base_image(path),
            false => read_chosen_image(path, choice),
        };
    }
    let depth = DEPTH.get();
    if depth >= MAX_DEPTH {
        return Err(Error::base_image(
            path,
            format!("is a stream script whose bases nest deeper than {MAX_DEPTH}; does it name itself as fromImage?"),
        ));
    }
    DEPTH.set(depth + 1);
    let result = stream_to_base(path);
    DEPTH.set(depth);
    result
}

/// Whether `path` starts with `#!` (a stream script; archives start with a member name
/// or compression magic).
fn is_stream_script(path: &Path) -> Result<bool> {
    // An archive is read with seeks anyway, so only a regular file will do.
    let file = crate::input::open_regular(path).map_err(|e| {
        let message = if e.kind() == std::io::ErrorKind::InvalidInput {
            format!("{e}; fromImage must be an image archive or a stream script in a file")
        } else {
            format!("cannot open: {e}; check fromImage")
        };
        Error::base_image(path, message)
    })?;
    let mut start = [0u8; 2];
    let n = file
        .take(2)
        .read(&mut start)
        .map_err(|e| Error::read(path, e))?;
    Ok(n == 2 && &start == b"#!")
}

/// Streams the image of the conf `script` into an anonymous temporary file and reads
/// that as the base (its handles keep the file alive).
fn stream_to_base(script: &Path) -> Result<BaseImage> {
    let plan = plan_from_conf(script, None)?;
    let temp = tempfile::NamedTempFile::new()
        .map_err(|e| Error::write("a temporary file for the base image", e))?;
    let mut file = temp.as_file();
    archive::stream(&plan, &mut file, "a temporary file for the base image")?;
    read_base_image(temp.path())
}
