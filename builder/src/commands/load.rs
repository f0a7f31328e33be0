//! `stowage load`: an image streamed into a container engine (Docker, or podman's
//! service) through its API socket, with no archive written anywhere. A stream script or
//! conf is planned and its archive written straight into the request; a docker-archive
//! file (buildLayeredImage, buildImage; plain, gzip or zstd) is sent decompressed, since
//! Docker refuses zstd and podman gzip but both take a plain archive.

use crate::commands::image::plan_from_conf;
use crate::engine::endpoint::{self, EngineChoice};
use crate::engine::load;
use crate::engine::progress::{Counted, Progress};
use crate::error::{Error, Result};
use crate::image::archive;
use crate::image::plan::ImagePlan;
use crate::input::open_regular;
use crate::tar::compression::Compression;
use crate::tar::copy::COPY_BUFFER;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::Path;

/// What `stowage load` was asked to do.
pub struct LoadRequest<'a> {
    /// A stream script, a conf, or a docker-archive file.
    pub image: &'a Path,
    /// The `-t` override of a stream script's or conf's repo tag.
    pub repo_tag: Option<&'a str>,
    pub engine: EngineChoice,
}

/// What IMAGE holds.
enum Source {
    /// An image planned from a conf, written as it is sent.
    Planned(Box<ImagePlan>),
    /// A docker-archive file of `size` bytes, decompressed as it is sent.
    Archive {
        file: File,
        compression: Compression,
        size: u64,
    },
}

/// Loads the image and returns the engine's lines naming what it loaded
/// (`Loaded image: name:tag`).
pub fn load(request: &LoadRequest) -> Result<Vec<String>> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let is_root = unsafe { libc::geteuid() } == 0;
    let socket = endpoint::socket_path(&request.engine, |name| std::env::var_os(name), is_root)?;
    let source = open_source(request.image, request.repo_tag)?;
    load::load(&socket, |out, target| {
        send(source, out, target, request.image)
    })
}

/// Tells a conf (a stream script starts with `#!`, a conf.json with `{`) from an archive
/// by the first bytes of `image`, and plans the conf.
fn open_source(image: &Path, repo_tag: Option<&str>) -> Result<Source> {
    let failed = |e| Error::read(image, e);
    let mut file = open_regular(image).map_err(failed)?;
    let mut magic = Vec::with_capacity(4);
    (&mut file)
        .take(4)
        .read_to_end(&mut magic)
        .map_err(failed)?;
    if magic.starts_with(b"#!") || magic.starts_with(b"{") {
        return Ok(Source::Planned(Box::new(plan_from_conf(image, repo_tag)?)));
    }
    if repo_tag.is_some() {
        return Err(Error::input(
            image,
            "is an image archive, whose tags are in its manifest.json; -t/--repo-tag \
             applies to a stream script or conf",
        ));
    }
    file.rewind().map_err(failed)?;
    let size = file.metadata().map_err(failed)?.len();
    Ok(Source::Archive {
        file,
        compression: Compression::detect(&magic),
        size,
    })
}

/// Writes the uncompressed archive of `source` to `out` (named `target` in errors),
/// showing progress on a terminal: of the archive for a plan, of the file's bytes read
/// for an archive file (a compressed one states no uncompressed size).
fn send(source: Source, out: &mut dyn Write, target: &str, image: &Path) -> Result<()> {
    match source {
        Source::Planned(plan) => {
            let mut progress = Progress::on_terminal(archive::archive_size(&plan));
            let mut counted = Counted {
                inner: out,
                progress: &mut progress,
            };
            archive::stream(&plan, &mut counted, target)?;
            progress.finish();
        }
        Source::Archive {
            file,
            compression,
            size,
        } => {
            let mut progress = Progress::on_terminal(size);
            let counted = Counted {
                inner: file,
                progress: &mut progress,
            };
            let decoded = compression
                .decoder(counted)
                .map_err(|e| Error::read(image, e))?;
            copy(decoded, out, image, target)?;
            progress.finish();
        }
    }
    Ok(())
}

/// Copies all of `input` (read from `image`) to `out` (named `target`), telling a
/// failure to read from a failure to send.
fn copy(mut input: impl Read, out: &mut dyn Write, image: &Path, target: &str) -> Result<()> {
    let mut buffer = vec![0; COPY_BUFFER];
    loop {
        let n = match input.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::read(image, e)),
        };
        out.write_all(&buffer[..n])
            .map_err(|e| Error::write(target, e))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_planned_size_is_the_size_of_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let path = store.join("00000000000000000000000000000000-a");
        std::fs::create_dir_all(path.join("bin")).unwrap();
        std::fs::write(path.join("bin/x"), "hello").unwrap();
        let conf = dir.path().join("conf.json");
        for repo_tag in ["a:b", "registry.example.com/a"] {
            let json = serde_json::json!({
                "architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/x"]},
                "created": "1970-01-01T00:00:01Z", "mtime": "1970-01-01T00:00:01Z",
                "uid": 0, "gid": 0, "uname": "root", "gname": "root",
                "store_dir": store, "from_image": null, "store_layers": [[path]],
                "customisation_layer": null, "repo_tag": repo_tag,
            });
            std::fs::write(&conf, json.to_string()).unwrap();
            let plan = plan_from_conf(&conf, None).unwrap();
            let mut archive = Vec::new();
            archive::stream(&plan, &mut archive, "memory").unwrap();
            assert_eq!(
                archive::archive_size(&plan),
                archive.len() as u64,
                "{repo_tag}"
            );
        }
    }
}
