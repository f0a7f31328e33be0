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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::manifest::{ImageManifest, Layer};
    use crate::registry::reference::Digest;

    fn descriptor(fill: char, size: u64) -> Descriptor {
        Descriptor {
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            digest: Digest::parse(&format!("sha256:{}", fill.to_string().repeat(64))).unwrap(),
            size,
            platform: None,
        }
    }

    /// An image whose bottom layer is listed twice, as an empty layer can be.
    fn image() -> Resolved {
        let layer = |fill, size| Layer {
            descriptor: descriptor(fill, size),
            suffix: "tar.gz",
        };
        Resolved {
            digest: Digest::of(b"manifest"),
            manifest: ImageManifest {
                config: descriptor('c', 2),
                layers: vec![layer('e', 3), layer('a', 700), layer('e', 3)],
            },
            config: b"{}".to_vec(),
        }
    }

    /// The archive of [`image`], each blob's bytes its digest's first letter repeated.
    fn archive() -> Vec<u8> {
        let mut out = Vec::new();
        write_archive(&image(), "a/b:c", &mut out, "test", |d, w| {
            let fill = d.digest.hex().as_bytes()[0];
            w.write_all(&vec![fill; d.size as usize])
                .map_err(|e| Error::write("test", e))
        })
        .unwrap();
        out
    }

    #[test]
    fn members_are_sorted_digests_and_a_repeated_layer_is_stored_once() {
        let bytes = archive();
        let mut members = Vec::new();
        for entry in ::tar::Archive::new(&bytes[..]).entries().unwrap() {
            let mut entry = entry.unwrap();
            let mut content = String::new();
            std::io::Read::read_to_string(&mut entry, &mut content).unwrap();
            members.push((entry.path().unwrap().display().to_string(), content));
        }
        let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
        let (a, c, e) = ("a".repeat(64), "c".repeat(64), "e".repeat(64));
        let (a_name, e_name) = (format!("{a}.tar.gz"), format!("{e}.tar.gz"));
        assert_eq!(
            names,
            [
                a_name.as_str(),
                &format!("{c}.json"),
                &e_name,
                "manifest.json"
            ]
        );
        let manifest: serde_json::Value = serde_json::from_str(&members[3].1).unwrap();
        assert_eq!(
            manifest,
            serde_json::json!([{
                "Config": format!("{c}.json"),
                "RepoTags": ["a/b:c"],
                "Layers": [&e_name, &a_name, &e_name],
            }])
        );
        assert_eq!(bytes, archive(), "the same image gives the same bytes");
    }

    #[test]
    fn a_failing_blob_fails_the_archive() {
        let failed = write_archive(&image(), "a/b:c", &mut Vec::new(), "test", |d, _| {
            Err(Error::Registry {
                image: "x".into(),
                message: format!("blob {} refused", d.digest),
            })
        });
        assert!(failed.unwrap_err().one_line().contains("refused"));
    }
}
