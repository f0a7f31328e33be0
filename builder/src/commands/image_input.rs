//! The images that `push`, `index` and OCI output take: a stream script or conf (planned
//! and written as they are published), a docker-archive (its config kept verbatim), or
//! an index file naming images of several platforms (the library's `imageIndex`):
//!
//! ```json
//! {"stowageIndex": 1, "name": "app", "tag": "1.0", "images": ["/nix/store/…-stream-app", …]}
//! ```

use crate::commands::image::plan_from_conf;
use crate::error::{Error, Result};
use crate::image::publishable::Publishable;
use std::io::Read;
use std::path::Path;

/// The images an IMAGE argument names: one, or an index file's several.
pub struct Images {
    pub images: Vec<Publishable>,
    /// An index file's NAME:TAG (TAG `latest` when it gives none), which names the
    /// index as a whole.
    pub index_name: Option<String>,
}

/// Opens the image or index file at `path`.
pub fn open_images(path: &Path, repo_tag: Option<&str>) -> Result<Images> {
    if let Some(index) = read_index_file(path)? {
        let images = index
            .images
            .iter()
            .map(|image| open_image(image, None))
            .collect::<Result<Vec<_>>>()?;
        return Ok(Images {
            images,
            index_name: Some(format!(
                "{}:{}",
                index.name,
                index.tag.as_deref().unwrap_or("latest")
            )),
        });
    }
    Ok(Images {
        images: vec![open_image(path, repo_tag)?],
        index_name: None,
    })
}

/// An index file: images of several platforms under one name.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IndexFile {
    /// The format's version; 1.
    stowage_index: u32,
    name: String,
    tag: Option<String>,
    images: Vec<std::path::PathBuf>,
}

/// Reads `path` as an index file, if it is one (a JSON object with `stowageIndex`).
fn read_index_file(path: &Path) -> Result<Option<IndexFile>> {
    if !starts_with(path, b"{")? {
        return Ok(None);
    }
    let bytes = crate::input::read_bounded(path).map_err(|e| Error::read(path, e))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::input(path, format!("is not JSON: {e}")))?;
    if value.get("stowageIndex").is_none() {
        return Ok(None);
    }
    let index: IndexFile = serde_json::from_value(value)
        .map_err(|e| Error::input(path, format!("is not a valid index file: {e}")))?;
    if index.stowage_index != 1 {
        return Err(Error::input(
            path,
            format!(
                "is an index file of version {}; this stowage reads version 1",
                index.stowage_index
            ),
        ));
    }
    if index.images.is_empty() {
        return Err(Error::input(path, "is an index file naming no images"));
    }
    Ok(Some(index))
}

/// Opens the image at `path`: a conf when it starts with `#!` or `{`, else an archive.
/// `repo_tag` overrides a conf's NAME[:TAG].
pub fn open_image(path: &Path, repo_tag: Option<&str>) -> Result<Publishable> {
    if starts_with(path, b"#!")? || starts_with(path, b"{")? {
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

/// Whether the file `path` starts with `magic` (a stream script starts with `#!`, a bare
/// conf or an index file with `{`; archives with a member name or compression magic).
fn starts_with(path: &Path, magic: &[u8]) -> Result<bool> {
    let file = crate::input::open_regular(path).map_err(|e| {
        Error::input(
            path,
            format!(
                "cannot open: {e}; give a stream script, a conf, an index file or an image archive"
            ),
        )
    })?;
    let mut start = Vec::with_capacity(magic.len());
    file.take(magic.len() as u64)
        .read_to_end(&mut start)
        .map_err(|e| Error::read(path, e))?;
    Ok(start == magic)
}
