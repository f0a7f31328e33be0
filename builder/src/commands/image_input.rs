//! The images that `push`, `index` and OCI output take: a stream script or conf (planned
//! and written as they are published) or a docker-archive (its config kept verbatim).

use crate::commands::image::plan_from_conf;
use crate::error::{Error, Result};
use crate::image::publishable::Publishable;
use std::io::Read;
use std::path::Path;

/// Opens the image at `path`: a conf when it starts with `#!` or `{`, else an archive.
/// `repo_tag` overrides a conf's NAME[:TAG].
pub fn open_image(path: &Path, repo_tag: Option<&str>) -> Result<Publishable> {
    if is_conf(path)? {
        return Ok(Publishable::planned(plan_from_conf(path, repo_tag)?));
    }
    if repo_tag.is_some() {
        return Err(Error::input(
            path,
            "is an image archive, whose name is its own; --repo-tag applies to stream scripts and confs",
        ));
    }
    Publishable::from_archive(path)
}

/// Whether `path` holds a conf (a stream script starts with `#!`, a bare conf with `{`;
/// archives start with a member name or compression magic).
fn is_conf(path: &Path) -> Result<bool> {
    let file = crate::input::open_regular(path).map_err(|e| {
        Error::input(
            path,
            format!("cannot open: {e}; give a stream script, a conf or an image archive"),
        )
    })?;
    let mut start = Vec::with_capacity(2);
    file.take(2)
        .read_to_end(&mut start)
        .map_err(|e| Error::read(path, e))?;
    Ok(start.starts_with(b"#!") || start.starts_with(b"{"))
}
