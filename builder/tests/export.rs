//! `stowage export`: an image archive (any compression) flattened into the tarball of
//! its root filesystem, whiteouts of an upper image applied, the same bytes every time,
//! and hostile or missing input refused with one line and no output left behind.

mod common;

use common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Builds the image of `layers` (JSON conf fields) in `dir/name`, compressed as asked,
/// and returns the archive's path.
fn build(dir: &Path, name: &str, layers: serde_json::Value, compress: &str) -> PathBuf {
    let work = dir.join(name);
    fs::create_dir_all(&work).unwrap();
    let conf = write_conf(&work, layers);
    let out = work.join("image.tar");
    run(stowage()
        .arg("build")
        .arg(&conf)
        .arg("-o")
        .arg(&out)
        .args(["--compress", compress]));
    out
}

/// Two images: `base` with two store layers and `/etc/motd`, and `top` on it, whose
/// layer deletes `/etc/motd` and the app's `share/doc` with whiteouts and adds a file.
fn base_and_top(dir: &Path, compress: &str) -> (PathBuf, PathBuf, PathBuf) {
    let (app, lib) = fixture_store_paths();
    let custom = customisation_layer(dir);
    let base = build(
        dir,
        "base",
        json!({"store_layers": [[lib], [app.clone()]], "customisation_layer": custom}),
        compress,
    );
    let app_rel = app.strip_prefix("/").unwrap().to_str().unwrap().to_owned();
    let whiteouts = TarOut::new()
        .file("etc/.wh.motd", b"")
        .file(&format!("{app_rel}/share/.wh.doc"), b"")
        .file("etc/issue", b"on top\n")
        .finish();
    let top_layer = customisation_layer_of(dir, "whiteouts", &whiteouts);
    let top = build(
        dir,
        "top",
        json!({"from_image": base, "customisation_layer": top_layer}),
        compress,
    );
    (base, top, app)
}

/// Runs `stowage export image -o out` and returns the result's bytes.
fn export(image: &Path, out: &Path) -> Vec<u8> {
    run(stowage().arg("export").arg(image).arg("-o").arg(out));
    fs::read(out).unwrap()
}

#[test]
fn whiteouts_of_the_top_image_delete_files_of_the_base() {
    let dir = tempfile::tempdir().unwrap();
    let (base, top, app) = base_and_top(dir.path(), "none");
    let names =
        |bytes: &[u8]| -> Vec<String> { tar_members(bytes).into_iter().map(|(n, _)| n).collect() };
    let app = app.display();
    let below = names(&export(&base, &dir.path().join("base-root.tar")));
    assert!(below.contains(&"./etc/motd".to_owned()), "{below:?}");
    assert!(
        below.contains(&format!(".{app}/share/doc/README")),
        "{below:?}"
    );

    let root = export(&top, &dir.path().join("root.tar"));
    let above = names(&root);
    assert_eq!(above[0], "./");
    assert!(above.iter().all(|n| n.starts_with("./")), "{above:?}");
    assert!(above.contains(&"./etc/issue".to_owned()), "{above:?}");
    assert!(above.contains(&format!(".{app}/bin/hello")), "{above:?}");
    for gone in ["./etc/motd".to_owned(), format!(".{app}/share/doc/")] {
        assert!(!above.contains(&gone), "{gone} survived: {above:?}");
    }
    assert!(!above.iter().any(|n| n.contains(".wh.")), "{above:?}");
    let mut sorted = above.clone();
    sorted.sort();
    assert_eq!(above, sorted, "members are sorted by name");
}

#[test]
fn any_compression_gives_the_same_read_only_bytes_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let (_, plain, _) = base_and_top(&dir.path().join("plain"), "none");
    let (_, gzip, _) = base_and_top(&dir.path().join("gzip"), "gzip");
    let (_, zstd, _) = base_and_top(&dir.path().join("zstd"), "zstd");
    let first = export(&plain, &dir.path().join("1.tar"));
    let again = export(&plain, &dir.path().join("2.tar"));
    assert_eq!(sha256(&first), sha256(&again));
    assert_eq!(
        sha256(&first),
        sha256(&export(&gzip, &dir.path().join("gz.tar")))
    );
    assert_eq!(
        sha256(&first),
        sha256(&export(&zstd, &dir.path().join("zst.tar")))
    );
    let mode = fs::metadata(dir.path().join("1.tar"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o444);
}

#[test]
fn a_hostile_layer_is_refused_in_one_line_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let evil = TarOut::new().file("etc/../../escape", b"x").finish();
    let layer = customisation_layer_of(dir.path(), "evil", &evil);
    let image = build(
        dir.path(),
        "evil-image",
        json!({"customisation_layer": layer}),
        "none",
    );
    let out = dir.path().join("root.tar");
    let error = error_of(stowage().arg("export").arg(&image).arg("-o").arg(&out));
    assert_eq!(
        error,
        format!(
            "stowage: base image {}: member layers/000.tar, layer 1 of 1: entry \
             etc/../../escape: climbs out of the root with '..'; refusing hostile layer",
            image.display()
        )
    );
    assert!(!out.exists());
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.to_string_lossy().starts_with(".stowage-")),
        "{names:?}"
    );
}

#[test]
fn a_missing_image_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.tar");
    let error = error_of(
        stowage()
            .arg("export")
            .arg(&missing)
            .arg("-o")
            .arg(dir.path().join("root.tar")),
    );
    assert!(
        error.starts_with(&format!(
            "stowage: base image {}: cannot open",
            missing.display()
        )),
        "{error}"
    );
}
