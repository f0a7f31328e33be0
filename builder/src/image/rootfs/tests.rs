//! Flattening hand-made layers: whiteouts and opaque directories, replacement rules,
//! metadata kept from the headers, hard links, and the refusal of hostile layers.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use stowage_test_support::{layer_listing_as, tar_members, ListingStyle, TarOut};
use tar::EntryType;

use super::*;
use crate::tar::digest::Sha256Digest;

/// The layers as blobs of one file, each after some bytes of another, so that offsets
/// are exercised; each declares its true digest.
fn blobs(layers: &[Vec<u8>]) -> Vec<Blob> {
    let mut file = tempfile::tempfile().unwrap();
    let mut offset = 0u64;
    let mut ranges = Vec::new();
    for layer in layers {
        file.write_all(b"garbage between layers").unwrap();
        offset += 22;
        file.write_all(layer).unwrap();
        ranges.push((offset, layer.len() as u64, Sha256Digest::of(layer).hex()));
        offset += layer.len() as u64;
    }
    let file = Arc::new(file);
    ranges
        .into_iter()
        .enumerate()
        .map(|(i, (offset, size, digest))| Blob {
            file: Arc::clone(&file),
            offset,
            size,
            expected_sha256: Some(digest),
            origin: format!("base image test.tar: member layers/{i}.tar"),
        })
        .collect()
}

/// The root tarball that `layers` make.
fn export(layers: &[Vec<u8>]) -> Vec<u8> {
    let blobs = blobs(layers);
    let root = flatten(&blobs).unwrap();
    let mut out = Vec::new();
    write::write_tar(&root, &blobs, &mut out, "test").unwrap();
    out
}

/// The result's member names, in order.
fn names(layers: &[Vec<u8>]) -> Vec<String> {
    tar_members(&export(layers))
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// The content of the member `name` of the result.
fn content(layers: &[Vec<u8>], name: &str) -> Vec<u8> {
    let members = tar_members(&export(layers));
    let found = members.into_iter().find(|(n, _)| n == name);
    found.unwrap_or_else(|| panic!("no member {name}")).1
}

/// The error flattening `layers` gives, which must fail.
fn error_of(layers: &[Vec<u8>]) -> String {
    match flatten(&blobs(layers)) {
        Ok(_) => panic!("the layers were accepted"),
        Err(e) => e.to_string(),
    }
}

/// A layer with `etc/` holding `hosts` and `passwd`, and `srv/data/` holding `file`.
fn lower() -> Vec<u8> {
    TarOut::new()
        .dir("./")
        .dir("./etc/")
        .file("./etc/hosts", b"127.0.0.1 localhost\n")
        .file("./etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
        .dir("./srv/")
        .dir("./srv/data/")
        .file("./srv/data/file", b"lower data\n")
        .finish()
}

#[test]
fn a_whiteout_deletes_a_file_and_a_directory_of_lower_layers() {
    let upper = TarOut::new()
        .file("etc/.wh.passwd", b"")
        .file(".wh.srv", b"")
        .finish();
    assert_eq!(
        names(&[lower(), upper]),
        ["./", "./etc/", "./etc/hosts"],
        "passwd, srv and everything below srv are gone; no .wh. member is written"
    );
}

#[test]
fn a_whiteout_hides_lower_layers_only_not_its_own() {
    let upper = TarOut::new()
        .file("etc/passwd", b"upper\n")
        .file("etc/.wh.passwd", b"")
        .finish();
    assert_eq!(content(&[lower(), upper], "./etc/passwd"), b"upper\n");
}

#[test]
fn an_opaque_directory_loses_its_lower_contents_and_keeps_its_own() {
    let upper = TarOut::new()
        .dir("srv/")
        .file("srv/.wh..wh..opq", b"")
        .file("srv/new", b"upper\n")
        .finish();
    assert_eq!(
        names(&[lower(), upper]),
        [
            "./",
            "./etc/",
            "./etc/hosts",
            "./etc/passwd",
            "./srv/",
            "./srv/new"
        ]
    );
}

#[test]
fn an_opaque_root_keeps_only_the_layers_own_entries() {
    let upper = TarOut::new()
        .file(".wh..wh..opq", b"")
        .file("only", b"x")
        .finish();
    assert_eq!(names(&[lower(), upper]), ["./", "./only"]);
}

#[test]
fn aufs_bookkeeping_is_not_content() {
    let layer = TarOut::new()
        .dir(".wh..wh.plnk/")
        .file(".wh..wh.plnk/123.456", b"x")
        .file("kept", b"")
        .finish();
    assert_eq!(names(&[layer]), ["./", "./kept"]);
}

#[test]
fn a_file_replaces_a_directory_and_everything_below_it() {
    let upper = TarOut::new().file("srv", b"now a file\n").finish();
    let result = names(&[lower(), upper.clone()]);
    assert!(result.contains(&"./srv".to_owned()), "{result:?}");
    assert!(
        !result.iter().any(|n| n.starts_with("./srv/")),
        "{result:?}"
    );
    assert_eq!(content(&[lower(), upper], "./srv"), b"now a file\n");
}

#[test]
fn a_directory_over_a_directory_keeps_the_lower_contents_and_takes_the_new_mode() {
    let mut header = TarOut::header("srv/", EntryType::Directory, 0);
    header.set_mode(0o700);
    let upper = TarOut::new().append(header, &[]).finish();
    let listing = layer_listing_as(&export(&[lower(), upper]), ListingStyle::NameFirst);
    assert!(listing.contains(&"./srv/ 700 0:0 : size=0 mtime=0 dir".to_owned()));
    assert!(listing.iter().any(|l| l.starts_with("./srv/data/file ")));
}

#[test]
fn later_entries_of_one_name_win_and_the_latest_layer_wins() {
    let first = TarOut::new().file("a", b"1").file("a", b"2").finish();
    let second = TarOut::new().file("b", b"3").finish();
    let third = TarOut::new().file("b", b"4").finish();
    let layers = [first, second, third];
    assert_eq!(content(&layers, "./a"), b"2");
    assert_eq!(content(&layers, "./b"), b"4");
}

#[test]
fn missing_parents_are_made_and_the_root_is_always_first() {
    let layer = TarOut::new().file("z/y/x", b"deep").file("a", b"").finish();
    let listing = layer_listing_as(&export(&[layer]), ListingStyle::NameFirst);
    assert_eq!(
        listing,
        [
            "./ 755 0:0 : size=0 mtime=0 dir",
            "./a 644 0:0 : size=0 mtime=0 file",
            "./z/ 755 0:0 : size=0 mtime=0 dir",
            "./z/y/ 755 0:0 : size=0 mtime=0 dir",
            "./z/y/x 644 0:0 : size=4 mtime=0 file",
        ]
    );
}

#[test]
fn modes_owners_times_and_symlinks_come_from_the_headers() {
    let mut file = TarOut::header("bin/tool", EntryType::Regular, 3);
    file.set_mode(0o4755);
    file.set_uid(1000);
    file.set_gid(100);
    file.set_username("alice").unwrap();
    file.set_groupname("users").unwrap();
    file.set_mtime(1_700_000_000);
    let mut link = TarOut::header("bin/sh", EntryType::Symlink, 0);
    link.set_link_name_literal("../nix/store/x-busybox/bin/busybox")
        .unwrap();
    link.set_mode(0o777);
    let layer = TarOut::new()
        .append(file, b"elf")
        .append(link, &[])
        .pax(&[
            ("mtime", "1234.75"),
            ("uname", "a-very-long-user-name-from-pax"),
        ])
        .file("late", b"")
        .pax(&[("mtime", "-5")])
        .file("early", b"")
        .finish();
    insta::assert_snapshot!(layer_listing_as(&export(&[layer]), ListingStyle::NameFirst).join("\n"));
}

#[test]
fn the_root_entry_of_the_top_layer_describes_the_root() {
    let mut root = TarOut::header("./", EntryType::Directory, 0);
    root.set_mode(0o700);
    root.set_mtime(42);
    let upper = TarOut::new().append(root, &[]).finish();
    let listing = layer_listing_as(&export(&[lower(), upper]), ListingStyle::NameFirst);
    assert_eq!(listing[0], "./ 700 0:0 : size=0 mtime=42 dir");
}

#[test]
fn hard_links_become_files_with_their_targets_bytes() {
    let lower_layer = TarOut::new().file("usr/bin/gzip", b"gzip!").finish();
    let upper = TarOut::new()
        .file("usr/bin/own", b"own")
        .hard_link("usr/bin/gunzip", "usr/bin/gzip")
        .hard_link("./usr/bin/own-too", "./usr/bin/own")
        .finish();
    let layers = [lower_layer, upper];
    assert_eq!(content(&layers, "./usr/bin/gunzip"), b"gzip!");
    assert_eq!(content(&layers, "./usr/bin/own-too"), b"own");
    let listing = layer_listing_as(&export(&layers), ListingStyle::NameFirst);
    assert!(
        !listing.iter().any(|l| l.contains("hardlink")),
        "{listing:?}"
    );
}

#[test]
fn a_hard_link_to_nothing_or_to_a_directory_is_refused() {
    let dangling = TarOut::new().hard_link("a", "missing").finish();
    assert_eq!(
        error_of(&[dangling]),
        "base image test.tar: member layers/0.tar, layer 1 of 1: entry a: is a hard link \
         to missing, which no layer up to this one holds"
    );
    let to_dir = TarOut::new().dir("d/").hard_link("a", "d").finish();
    assert!(error_of(&[to_dir]).ends_with("entry a: is a hard link to d, a directory"));
}

#[test]
fn dot_dot_and_absolute_names_are_refused_naming_layer_and_entry() {
    let escape = TarOut::new().file("./etc/../../x", b"").finish();
    assert_eq!(
        error_of(&[lower(), escape]),
        "base image test.tar: member layers/1.tar, layer 2 of 2: entry ./etc/../../x: \
         climbs out of the root with '..'; refusing hostile layer"
    );
    let absolute = TarOut::new().file("/etc/shadow", b"").finish();
    assert!(error_of(&[absolute])
        .ends_with("entry /etc/shadow: is an absolute name; refusing hostile layer"));
    let link_escape = TarOut::new().hard_link("a", "../etc/shadow").finish();
    assert!(error_of(&[link_escape])
        .contains("entry a: is a hard link whose target climbs out of the root"));
}

#[test]
fn a_member_claiming_more_bytes_than_the_layer_has_is_refused() {
    let layer = TarOut::new().file("big", &[7; 100]).finish();
    // Claim a terabyte in the header (the checksum is made to match).
    let mut header = TarOut::header("big", EntryType::Regular, 1 << 40);
    header.set_cksum();
    let mut bytes = layer;
    bytes[..512].copy_from_slice(header.as_bytes());
    let error = error_of(&[bytes.clone()]);
    assert_eq!(
        error,
        format!(
            "base image test.tar: member layers/0.tar, layer 1 of 1: entry big: claims \
             1099511627776 bytes at offset 512, but the layer has {} bytes; refusing \
             truncated or hostile layer",
            bytes.len()
        )
    );
}

#[test]
fn devices_fifos_and_sparse_files_are_refused() {
    for (kind, says) in [
        (EntryType::Char, "is a device node"),
        (EntryType::Block, "is a device node"),
        (EntryType::Fifo, "is a fifo"),
        (EntryType::GNUSparse, "is a sparse file"),
    ] {
        let mut header = TarOut::header("dev/thing", kind, 0);
        header.as_gnu_mut().unwrap().set_real_size(0);
        let layer = TarOut::new().append(header, &[]).finish();
        let error = error_of(&[layer]);
        assert!(
            error.contains(&format!("entry dev/thing: {says}")),
            "{error}"
        );
    }
}

#[test]
fn writing_below_a_symlink_is_refused() {
    let lower_layer = TarOut::new().symlink("etc", "/host/etc").finish();
    let upper = TarOut::new().file("etc/passwd", b"x").finish();
    assert!(error_of(&[lower_layer, upper]).ends_with(
        "entry etc/passwd: lies below etc, which is a symlink here; refusing to write through it"
    ));
}

#[test]
fn whiteouts_that_name_nothing_and_a_root_that_is_a_file_are_refused() {
    let nothing = TarOut::new().file("etc/.wh.", b"").finish();
    assert!(error_of(&[nothing]).contains("is a whiteout that names nothing"));
    let root_file = TarOut::new().file("./", b"").finish();
    assert!(error_of(&[root_file]).contains("makes the root a file; it must be a directory"));
}

#[test]
fn a_layer_that_does_not_match_its_digest_is_refused() {
    let mut blobs = blobs(&[lower()]);
    blobs[0].expected_sha256 = Some("0".repeat(64));
    let error = flatten(&blobs).unwrap_err().to_string();
    assert!(
        error.starts_with("base image test.tar: member layers/0.tar: content has sha256"),
        "{error}"
    );
}

#[test]
fn a_truncated_layer_is_refused() {
    let bytes = lower();
    let cut = bytes[..700].to_vec();
    let mut blobs = blobs(&[cut]);
    blobs[0].expected_sha256 = None;
    let error = flatten(&blobs).unwrap_err().to_string();
    assert!(error.contains("layer 1 of 1: "), "{error}");
}

#[test]
fn no_layers_make_an_empty_root() {
    assert_eq!(names(&[]), ["./"]);
}

/// Flattens `layers` and unpacks the result into a fresh directory below a fresh parent;
/// returns both, and the owners.
fn unpacked(layers: &[Vec<u8>]) -> (tempfile::TempDir, std::path::PathBuf, unpack::Owners) {
    let blobs = blobs(layers);
    let index = flatten(&blobs).unwrap();
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let owners = unpack::unpack(&index, &blobs, &root).unwrap();
    (outer, root, owners)
}

#[test]
fn unpacking_writes_what_the_layers_make_with_their_owners_and_nothing_outside() {
    let whiteouts = TarOut::new()
        .file("etc/.wh.hosts", b"")
        .dir("srv/data/")
        .file("srv/data/.wh..wh..opq", b"")
        .file("srv/data/new", b"new")
        .hard_link("srv/again", "etc/passwd")
        .symlink("srv/link", "../etc/passwd")
        .finish();
    let (outer, root, owners) = unpacked(&[lower(), whiteouts]);
    assert_eq!(
        std::fs::read_to_string(root.join("etc/passwd")).unwrap(),
        "root:x:0:0::/root:/bin/sh\n"
    );
    assert!(!root.join("etc/hosts").exists(), "whited out");
    assert!(
        !root.join("srv/data/file").exists(),
        "hidden by the opaque marker"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("srv/data/new")).unwrap(),
        "new"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("srv/again")).unwrap(),
        "root:x:0:0::/root:/bin/sh\n"
    );
    assert_eq!(
        std::fs::read_link(root.join("srv/link")).unwrap(),
        Path::new("../etc/passwd")
    );
    assert!(owners.contains_key(Path::new("etc/passwd")));
    assert!(!owners.contains_key(Path::new("etc/hosts")));
    let beside: Vec<_> = std::fs::read_dir(outer.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(beside, [std::ffi::OsString::from("root")]);
}

/// nixpkgs' repeated-layers test: a base listing one layer twice unpacks cleanly.
#[test]
fn a_layer_listed_twice_unpacks() {
    let layer = TarOut::new()
        .dir("bin/")
        .file("bin/sh", b"sh")
        .hard_link("bin/ash", "bin/sh")
        .finish();
    let (_outer, root, _) = unpacked(&[layer.clone(), layer]);
    assert_eq!(std::fs::read_to_string(root.join("bin/ash")).unwrap(), "sh");
}
