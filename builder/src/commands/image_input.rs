//! The images that `push`, `index` and OCI output take: a stream script or conf (planned
//! and written as they are published), a docker-archive (its config kept verbatim), or
//! an index file naming images of several platforms (the library's `imageIndex`):
//!
//! ```json
//! {"stowageIndex": 1, "name": "app", "tag": "1.0", "images": ["/nix/store/…-stream-app", …]}
//! ```

use crate::commands::image::plan_from_conf;
use crate::error::{Error, Result};
use crate::image::publishable::{shared_platform, Platform, Publishable};
use crate::image::repo_tag::RepoTag;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The images an IMAGE argument names: one, or an index file's several.
pub struct Images {
    pub images: Vec<Publishable>,
    /// An index's NAME:TAG, which names it as a whole; `None` for one image.
    pub index_name: Option<String>,
}

/// Opens the image or index file at `path`.
pub fn open_images(path: &Path, repo_tag: Option<&str>) -> Result<Images> {
    match read_index_file(path)? {
        Some(index) => {
            let tag = index.tag.as_deref().unwrap_or("latest");
            let reference = format!("{}:{tag}", index.name);
            RepoTag::parse(&reference)
                .map_err(|m| Error::input(path, format!("name and tag: {m}")))?;
            open_index(&index.images, Some(&reference))
        }
        None => Ok(Images {
            images: vec![open_image(path, repo_tag)?],
            index_name: None,
        }),
    }
}

/// Opens the images of an index named `reference` (NAME[:TAG], TAG `latest` when it
/// gives none; by default the first image's NAME:TAG). One image per platform, since a
/// client picks an index's image by platform and would never see a second one.
pub fn open_index(paths: &[PathBuf], reference: Option<&str>) -> Result<Images> {
    let images = paths
        .iter()
        .map(|image| open_image(image, None))
        .collect::<Result<Vec<_>>>()?;
    let platforms: Vec<&Platform> = images.iter().map(|image| &image.platform).collect();
    if let Some((first, second)) = shared_platform(&platforms) {
        return Err(Error::input(
            &paths[second],
            format!(
                "is for {} as {} is; an index holds one image per platform: give each image another architecture (or variant)",
                platforms[second],
                paths[first].display()
            ),
        ));
    }
    let index_name = match reference {
        Some(text) => RepoTag::parse(text)
            .map_err(|m| Error::Usage(format!("the index's NAME:TAG: {m}")))?
            .with_default_tag("latest"),
        None => default_reference(&images, paths)?,
    };
    Ok(Images {
        images,
        index_name: Some(index_name),
    })
}

/// The NAME:TAG of the first of `images` (at `paths`), which names an index by default.
fn default_reference(images: &[Publishable], paths: &[PathBuf]) -> Result<String> {
    let tagged = images
        .first()
        .and_then(|image| image.repo_tag.as_ref())
        .filter(|repo_tag| repo_tag.tag.is_some());
    match (tagged, paths.first()) {
        (Some(repo_tag), _) => Ok(repo_tag.to_string()),
        (None, Some(path)) => Err(Error::input(
            path,
            "has no NAME:TAG to name the index by; give the index one (-t NAME:TAG)",
        )),
        (None, None) => Err(Error::Usage(
            "an image index needs at least one image".into(),
        )),
    }
}

/// An index file: images of several platforms under one name.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IndexFile {
    /// The format's version; 1.
    stowage_index: u32,
    name: String,
    tag: Option<String>,
    images: Vec<PathBuf>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A conf of no layers for `architecture`, named `repo_tag`, at `dir/name`.
    fn conf(dir: &Path, name: &str, architecture: &str, repo_tag: &str) -> PathBuf {
        let path = dir.join(name);
        let conf = json!({
            "architecture": architecture,
            "config": {},
            "created": "1970-01-01T00:00:01Z",
            "store_layers": [],
            "customisation_layer": null,
            "repo_tag": repo_tag,
        });
        std::fs::write(&path, conf.to_string()).unwrap();
        path
    }

    fn error(result: Result<Images>) -> String {
        match result {
            Ok(_) => panic!("opened"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn an_index_is_named_by_its_first_image_unless_told() {
        let dir = tempfile::tempdir().unwrap();
        let images = [
            conf(dir.path(), "a", "amd64", "app:1.0"),
            conf(dir.path(), "b", "arm64", "app:other"),
        ];
        let opened = open_index(&images, None).unwrap();
        assert_eq!(opened.index_name.as_deref(), Some("app:1.0"));
        let opened = open_index(&images, Some("registry:5000/app")).unwrap();
        assert_eq!(
            opened.index_name.as_deref(),
            Some("registry:5000/app:latest")
        );
        assert!(error(open_index(&images, Some("App"))).contains("NAME:TAG"));
    }

    #[test]
    fn two_images_of_one_platform_are_refused_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        let images = [
            conf(dir.path(), "a", "amd64", "app:1"),
            conf(dir.path(), "b", "arm64", "app:1"),
            conf(dir.path(), "c", "amd64", "app:1"),
        ];
        let message = error(open_index(&images, None));
        for part in ["/c", "linux/amd64", "/a", "one image per platform"] {
            assert!(message.contains(part), "{message}");
        }
    }

    #[test]
    fn index_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let image = conf(dir.path(), "a", "amd64", "app:1");
        let index = dir.path().join("index.json");
        let cases = [
            (
                json!({"stowageIndex": 1, "name": "app", "images": []}),
                "naming no images",
            ),
            (
                json!({"stowageIndex": 2, "name": "app", "images": [image]}),
                "version 2",
            ),
            (
                json!({"stowageIndex": 1, "name": "App!", "images": [image]}),
                "name and tag",
            ),
            (
                json!({"stowageIndex": 1, "name": "app", "images": [image], "x": 1}),
                "valid index file",
            ),
        ];
        for (content, expected) in cases {
            std::fs::write(&index, content.to_string()).unwrap();
            let message = error(open_images(&index, None));
            assert!(message.contains(expected), "{content}: {message}");
            assert!(message.contains("index.json"), "{message}");
        }
        std::fs::write(
            &index,
            json!({"stowageIndex": 1, "name": "app", "images": [image]}).to_string(),
        )
        .unwrap();
        let opened = open_images(&index, None).unwrap();
        assert_eq!(opened.index_name.as_deref(), Some("app:latest"));
        assert_eq!(opened.images.len(), 1);
    }
}
