//! The pulled image as a docker-archive: the config as `<hex>.json`, each distinct layer
//! as `<hex>.tar`, `.tar.gz` or `.tar.zst` (as served, by its media type), then
//! `manifest.json` tagging it. Every name is a digest stowage checked, never a path the
//! registry chose; members are sorted by name with fixed owners and times (hex names
//! sort before `manifest.json`), so the same image gives the same bytes.
//!
//! The archive is written in one pass: a layer's size comes from its descriptor, so its
//! header goes out before its bytes arrive, and the bytes are verified as they stream.

use super::manifest::Descriptor;
use super::pull::Resolved;
use crate::error::{Error, Result};
use crate::image::archive::{file_member_header, push_member};
use crate::image::config::manifest;
use crate::tar;
use std::collections::BTreeMap;
use std::io::Write;

/// The time every member carries: the 1970-01-01T00:00:01Z stowage's images default to.
const MTIME: u64 = 1;

/// Where a member's bytes come from.
enum Source<'a> {
    Bytes(&'a [u8]),
    Blob(&'a Descriptor),
}

/// Writes `image`, tagged `repo_tag`, to `out` (named `target` in errors); `copy_blob`
/// streams one blob's verified bytes into a writer.
pub fn write_archive(
    image: &Resolved,
    repo_tag: &str,
    out: &mut impl Write,
    target: &str,
    mut copy_blob: impl FnMut(&Descriptor, &mut dyn Write) -> Result<()>,
) -> Result<()> {
    let config_name = format!("{}.json", image.manifest.config.digest.hex());
    let mut members = BTreeMap::from([(config_name.clone(), Source::Bytes(&image.config))]);
    let mut layer_names = Vec::new();
    for layer in &image.manifest.layers {
        let name = format!("{}.{}", layer.descriptor.digest.hex(), layer.suffix);
        // A layer listed twice (an empty layer, say) is stored once and named twice.
        members.insert(name.clone(), Source::Blob(&layer.descriptor));
        layer_names.push(name);
    }
    let write = |out: &mut dyn Write, bytes: &[u8]| {
        out.write_all(bytes).map_err(|e| Error::write(target, e))
    };
    for (name, source) in &members {
        match source {
            Source::Bytes(bytes) => {
                let mut member = Vec::new();
                push_member(&mut member, name, bytes, MTIME);
                write(out, &member)?;
            }
            Source::Blob(descriptor) => {
                write(out, &file_member_header(name, descriptor.size, MTIME))?;
                copy_blob(descriptor, out)?;
                write(out, tar::padding(descriptor.size))?;
            }
        }
    }
    let manifest_json = serde_json::to_vec(&manifest(&config_name, repo_tag, &layer_names))
        .expect("a JSON value always serialises");
    let mut trailer = Vec::new();
    push_member(&mut trailer, "manifest.json", &manifest_json, MTIME);
    trailer.extend_from_slice(&tar::END_OF_ARCHIVE);
    write(out, &trailer)?;
    out.flush().map_err(|e| Error::write(target, e))
}
