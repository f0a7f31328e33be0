//! The OCI image layout writer (image-spec `image-layout.md`): `oci-layout`, `index.json`
//! and `blobs/sha256/<hex>`, as a directory (`oci-dir`, what umoci and `skopeo oci:`
//! read) or as a tar of that directory (`oci-archive`, what `podman load` and
//! `skopeo oci-archive:` read).
//!
//! Blob names are digests, known only once a layer is compressed, so the layers are
//! written (in parallel, each compressed in blocks: the bytes do not depend on the number
//! of cores) into a temporary directory beside the output, which is then renamed into
//! place or packed into the archive with sorted names, fixed times and owners. Either way
//! the output appears whole or not at all.

use crate::error::{Error, Result};
use crate::image::archive::{file_member_header, push_member};
use crate::image::descriptor::{Descriptor, LayerDigests, ManifestFormat};
use crate::image::layer::Layer;
use crate::image::output_file::OutputFile;
use crate::image::publish::{
    json_bytes, publish_image, publish_index, BlobStore, PublishFormat, Published,
};
use crate::image::publishable::Publishable;
use crate::tar::compression::Compression;
use crate::tar::{self, Header, Kind, Owner};
use rayon::prelude::*;
use serde_json::json;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The time stamp of an oci-archive's members (nixpkgs' default mtime).
const ARCHIVE_MTIME: u64 = 1;

/// The annotation that names an image of a layout (`skopeo copy oci:DIR:NAME`).
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The two kinds of layout output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutKind {
    Dir,
    Archive,
}

/// What a layout holds.
pub enum LayoutContent<'a> {
    /// One image, under its NAME:TAG (`tag` overrides its own tag).
    Image {
        image: &'a Publishable,
        tag: Option<&'a str>,
    },
    /// Images of several platforms behind one image index, under `reference` (NAME:TAG).
    Index {
        images: &'a [Publishable],
        reference: String,
    },
}

/// Writes `content` as an OCI layout at `output`, layers compressed as `compression`.
pub fn write_layout(
    content: LayoutContent<'_>,
    compression: Compression,
    output: &Path,
    kind: LayoutKind,
) -> Result<()> {
    let target = output.display().to_string();
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let work = tempfile::Builder::new()
        .prefix(".stowage-oci-")
        .tempdir_in(parent)
        .map_err(|e| Error::write(&target, e))?;
    let store = LayoutBlobs::create(work.path(), &target)?;
    let format = PublishFormat {
        manifest: ManifestFormat::Oci,
        compression,
    };
    let (top, name) = match content {
        LayoutContent::Image { image, tag } => {
            let published = publish_image(&store, image, format)?;
            let tag = tag.map_or(published.tag, str::to_owned);
            // The full NAME:TAG, as skopeo writes it: podman loads the image under it.
            let name = match &image.repo_tag {
                Some(repo_tag) => format!("{}:{tag}", repo_tag.name),
                None => tag,
            };
            (published.manifest, name)
        }
        LayoutContent::Index { images, reference } => {
            let published: Vec<Published> = images
                .iter()
                .map(|image| publish_image(&store, image, format))
                .collect::<Result<_>>()?;
            (
                publish_index(&store, &published, ManifestFormat::Oci)?,
                reference,
            )
        }
    };
    store.finish(&top, &name)?;
    match kind {
        LayoutKind::Dir => {
            let kept = work.keep();
            std::fs::rename(&kept, output).map_err(|e| {
                let _ = std::fs::remove_dir_all(&kept);
                Error::write(&target, e)
            })
        }
        LayoutKind::Archive => pack(work.path(), output, &target),
    }
}

/// The blob directory of a layout being written.
struct LayoutBlobs {
    root: PathBuf,
    blobs: PathBuf,
    target: String,
}

impl LayoutBlobs {
    fn create(root: &Path, target: &str) -> Result<LayoutBlobs> {
        let blobs = root.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).map_err(|e| Error::write(target, e))?;
        Ok(LayoutBlobs {
            root: root.to_owned(),
            blobs,
            target: target.to_owned(),
        })
    }

    /// Compresses one layer into a temporary file, then names it by its digest.
    fn put_layer(&self, layer: &Layer, compression: Compression) -> Result<LayerDigests> {
        let temp = tempfile::NamedTempFile::new_in(&self.blobs)
            .map_err(|e| Error::write(&self.target, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, temp.as_file());
        let digests =
            crate::image::descriptor::write_layer_blob(layer, compression, &mut out, &self.target)?;
        out.flush().map_err(|e| Error::write(&self.target, e))?;
        drop(out);
        temp.persist(self.blobs.join(digests.blob.hex()))
            .map_err(|e| Error::write(&self.target, e.error))?;
        Ok(digests)
    }

    fn write(&self, name: &Path, bytes: &[u8]) -> Result<()> {
        std::fs::write(name, bytes).map_err(|e| Error::write(&self.target, e))
    }

    /// Writes `oci-layout` and `index.json`, which names `top` as `name`.
    fn finish(&self, top: &Descriptor, name: &str) -> Result<()> {
        let mut entry = top.to_json();
        entry["annotations"] = json!({ REF_NAME: name });
        let index = json!({
            "schemaVersion": 2,
            "mediaType": ManifestFormat::Oci.index_media_type(),
            "manifests": [entry],
        });
        self.write(&self.root.join("index.json"), &json_bytes(&index))?;
        self.write(
            &self.root.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
    }
}

impl BlobStore for LayoutBlobs {
    fn put_layers(&self, layers: &[Layer], compression: Compression) -> Result<Vec<LayerDigests>> {
        layers
            .par_iter()
            .map(|layer| self.put_layer(layer, compression))
            .collect()
    }

    fn put_blob(&self, descriptor: &Descriptor, bytes: &[u8]) -> Result<()> {
        self.write(&self.blobs.join(descriptor.digest.hex()), bytes)
    }

    fn put_manifest(&self, descriptor: &Descriptor, bytes: &[u8]) -> Result<()> {
        self.put_blob(descriptor, bytes)
    }
}

/// Packs the layout directory `dir` into the tar `output`, members sorted by name.
fn pack(dir: &Path, output: &Path, target: &str) -> Result<()> {
    let mut blobs: Vec<String> = std::fs::read_dir(dir.join("blobs/sha256"))
        .map_err(|e| Error::read(dir, e))?
        .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<_>>()
        .map_err(|e| Error::read(dir, e))?;
    blobs.sort();
    let file = OutputFile::create(output).map_err(|e| Error::write(target, e))?;
    let mut out = BufWriter::new(file.file());
    let mut small = Vec::new();
    for name in ["blobs/", "blobs/sha256/"] {
        directory_member(&mut small, name);
    }
    out.write_all(&small).map_err(|e| Error::write(target, e))?;
    for blob in &blobs {
        let path = dir.join("blobs/sha256").join(blob);
        let mut source = File::open(&path).map_err(|e| Error::read(&path, e))?;
        let size = source.metadata().map_err(|e| Error::read(&path, e))?.len();
        let header = file_member_header(&format!("blobs/sha256/{blob}"), size, ARCHIVE_MTIME);
        out.write_all(&header)
            .map_err(|e| Error::write(target, e))?;
        let copied = std::io::copy(&mut source, &mut out).map_err(|e| Error::write(target, e))?;
        if copied != size {
            return Err(Error::input(&path, "changed size while being packed"));
        }
        out.write_all(tar::padding(size))
            .map_err(|e| Error::write(target, e))?;
    }
    let mut trailer = Vec::new();
    for name in ["index.json", "oci-layout"] {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).map_err(|e| Error::read(&path, e))?;
        push_member(&mut trailer, name, &bytes, ARCHIVE_MTIME);
    }
    trailer.extend_from_slice(&tar::END_OF_ARCHIVE);
    out.write_all(&trailer)
        .map_err(|e| Error::write(target, e))?;
    out.flush().map_err(|e| Error::write(target, e))?;
    drop(out);
    file.persist(0o444).map_err(|e| Error::write(target, e))
}

/// Appends a directory member `name` (with its trailing `/`) to `out`.
fn directory_member(out: &mut Vec<u8>, name: &str) {
    tar::write_header(
        &Header {
            name: name.trim_end_matches('/').as_bytes(),
            kind: Kind::Directory,
            mode: 0o755,
            size: 0,
            owner: &Owner::numeric_root(ARCHIVE_MTIME),
        },
        out,
    );
}
