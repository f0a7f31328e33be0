//! Which store paths a base image already holds, read from its layers' member names
//! without extracting anything: buildImage leaves those out of its new layer, as
//! nixpkgs does, so a chain of images does not repeat its closure.

use crate::error::{Error, Result};
use crate::image::blob::Blob;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

/// What the base's layers hold under the store directory.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BaseStore {
    /// Whether some layer has the store directory itself (with its mode).
    pub has_store_dir: bool,
    /// The base names (`<hash>-<name>`) of the store paths found.
    pub paths: BTreeSet<OsString>,
}

/// Lists the store paths in `layers` (plain tar bytes, as the base reader gives them)
/// under `store_dir`. Member contents are skipped by seeking, so this reads headers only.
pub fn base_store(layers: &[Blob], store_dir: &Path) -> Result<BaseStore> {
    let store: Vec<_> = store_dir
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    let mut found = BaseStore::default();
    for blob in layers {
        let fail = |e: io::Error| {
            Error::input(
                Path::new(&blob.origin),
                format!("cannot list the layer's members: {e}"),
            )
        };
        let mut archive = tar::Archive::new(blob.reader());
        for entry in archive.entries_with_seek().map_err(fail)? {
            let entry = entry.map_err(fail)?;
            let name = entry.path_bytes();
            let parts: Vec<_> = Path::new(std::ffi::OsStr::from_bytes(&name))
                .components()
                .filter(|c| matches!(c, Component::Normal(_)))
                .collect();
            if parts.len() >= store.len() && parts[..store.len()] == store[..] {
                found.has_store_dir = true;
                if let Some(Component::Normal(path)) = parts.get(store.len()) {
                    found.paths.insert(path.to_os_string());
                }
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::blob::blob_of;

    /// A layer tar holding `names` (directories end with `/`), as a blob.
    fn layer(names: &[&str]) -> Blob {
        let mut builder = tar::Builder::new(Vec::new());
        for name in names {
            let mut header = tar::Header::new_gnu();
            let dir = name.ends_with('/');
            header.set_entry_type(if dir {
                tar::EntryType::Directory
            } else {
                tar::EntryType::Regular
            });
            header.set_size(if dir { 0 } else { 3 });
            header.set_cksum();
            let data: &[u8] = if dir { b"" } else { b"abc" };
            builder.append_data(&mut header, name, data).unwrap();
        }
        blob_of(&builder.into_inner().unwrap())
    }

    #[test]
    fn store_paths_are_found_in_every_layer_and_spelling() {
        let layers = [
            layer(&[
                "etc/",
                "etc/passwd",
                "./nix/",
                "./nix/store/",
                "./nix/store/aaa-one/bin/x",
            ]),
            layer(&["nix/store/bbb-two", "home/nix/store/ccc-not-a-store-path"]),
        ];
        let found = base_store(&layers, Path::new("/nix/store")).unwrap();
        assert!(found.has_store_dir);
        let names: Vec<_> = found
            .paths
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["aaa-one", "bbb-two"]);
        assert_eq!(
            base_store(&[layer(&["etc/"])], Path::new("/nix/store")).unwrap(),
            BaseStore::default()
        );
    }
}
