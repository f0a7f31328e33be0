//! Every parser of untrusted input, fed arbitrary and mangled input: it may refuse, with
//! a one-line error, but never panic, hang or write outside its root. Property tests,
//! beside the coverage-guided fuzzer (`fuzz.rs`, `scripts/fuzz`): they run in every test
//! run, and check what a fuzzer cannot see (nothing written outside the root, tags that
//! round-trip); each case set is small enough to take seconds.

use crate::engine::load::{read_answer, Refusal};
use crate::engine::socket::{read_response, ChunkedWriter};
use crate::error::Error;
use crate::graph::{legacy, Graph};
use crate::image::base::read_base_image;
use crate::image::blob::blob_of;
use crate::image::repo_tag::RepoTag;
use crate::image::rootfs::{self, unpack::unpack};
use crate::image::timestamp::Timestamp;
use crate::registry::auth;
use crate::registry::manifest::{self, Manifest, Platform};
use crate::registry::reference::Reference;
use crate::tar::digest::Sha256Digest;
use proptest::prelude::*;
use std::io::{Read, Write};
use std::path::Path;

/// A small valid docker-archive (one layer holding one file), to mangle.
fn valid_archive() -> Vec<u8> {
    let mut layer = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(5);
    header.set_mode(0o644);
    header.set_cksum();
    layer
        .append_data(&mut header, "etc/file", &b"hello"[..])
        .unwrap();
    let layer = layer.into_inner().unwrap();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [Sha256Digest::of(&layer).prefixed()]},
    }))
    .unwrap();
    let config_name = format!("{}.json", Sha256Digest::of(&config).hex());
    let manifest = serde_json::to_vec(&serde_json::json!([
        {"Config": config_name, "RepoTags": ["a:b"], "Layers": ["l/layer.tar"]}
    ]))
    .unwrap();
    let mut archive = tar::Builder::new(Vec::new());
    for (name, bytes) in [
        ("l/layer.tar", &layer),
        (config_name.as_str(), &config),
        ("manifest.json", &manifest),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive.append_data(&mut header, name, &bytes[..]).unwrap();
    }
    archive.into_inner().unwrap()
}

/// `bytes` with the byte at each of `flips` (positions taken modulo the length) changed.
fn mangle(mut bytes: Vec<u8>, flips: &[(usize, u8)]) -> Vec<u8> {
    let len = bytes.len();
    for &(at, value) in flips {
        bytes[at % len] ^= value | 1;
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn graph_readers_never_panic(text in ".{0,400}", bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = legacy::parse_entries(&text);
        let _ = Graph::parse_legacy(&text, Path::new("/nix/store"), Path::new("graph"));
        let _ = Graph::parse_json(&bytes, Path::new("/nix/store"), Path::new("graph"));
    }

    /// The shape of the legacy form with any count: no count from input sizes anything.
    #[test]
    fn legacy_counts_are_never_trusted(count in any::<u64>(), refs in 0usize..4) {
        let path = "/nix/store/00000000000000000000000000000000-a";
        let text = format!("{path}\n\n{count}\n{}", format!("{path}\n").repeat(refs));
        let _ = legacy::parse_entries(&text);
    }

    #[test]
    fn names_and_dates_never_panic_and_tags_round_trip(text in ".{0,300}") {
        if let Ok(tag) = RepoTag::parse(&text) {
            prop_assert_eq!(RepoTag::parse(&tag.to_string()), Ok(tag));
        }
        let _ = Timestamp::parse(&text);
    }

    /// What a user or a registry sends for a pull: references, and manifests or indexes
    /// mangled byte by byte; each is parsed and an index resolved, or refused.
    #[test]
    fn references_and_manifests_never_panic(
        text in ".{0,300}",
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
    ) {
        let _ = Reference::parse(&text);
        let _ = manifest::parse(text.as_bytes(), None);
        let digest = format!("sha256:{}", "a".repeat(64));
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"m","digest":"{digest}","size":1,"platform":{{"os":"linux","architecture":"amd64"}}}}],"config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{digest}","size":1}},"layers":[]}}"#
        );
        let bytes = mangle(index.into_bytes(), &flips);
        if let Ok(Manifest::Index(entries)) = manifest::parse(&bytes, None) {
            let wanted = Platform { os: "linux".into(), architecture: "amd64".into(), variant: None };
            let _ = manifest::select(&entries, &wanted);
        }
    }

    /// What an engine answers `stowage load`, mangled byte by byte and cut anywhere:
    /// read or refused, and the refusal is one line.
    #[test]
    fn engine_answers_are_read_or_refused_in_one_line(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let valid = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
            25\r\n{\"stream\":\"Loaded image: a:latest\\n\"}\r\n0\r\n\r\n";
        let mut mangled = mangle(valid.to_vec(), &flips);
        mangled.truncate(cut % (mangled.len() + 1));
        for answer in [&bytes, &mangled] {
            if let Err(Refusal::Refused(m) | Refusal::Unreadable(m)) = read_answer(&answer[..]) {
                prop_assert_eq!(Error::engine("/s", m).one_line().lines().count(), 1);
            }
        }
    }

    /// An auth file mangled byte by byte: read for a registry, or refused without the
    /// password in the message.
    #[test]
    fn a_mangled_auth_file_is_read_or_refused_without_its_secret(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
    ) {
        // "alice:s3cr3t-pw" in base64, and a password in the clear.
        let file = r#"{"auths":{"r.io":{"auth":"YWxpY2U6czNjcjN0LXB3"},"https://index.docker.io/v1/":{"username":"u","password":"s3cr3t-pw"}},"credHelpers":{"x.io":"pass"}}"#;
        let bytes = mangle(file.as_bytes().to_vec(), &flips);
        for registry in ["r.io", "docker.io", "x.io"] {
            if let Err(e) = auth::entry_for(&bytes, Path::new("auth.json"), registry) {
                prop_assert!(!e.contains("s3cr3t"), "{}", e);
            }
        }
    }

    /// A chunked body reads back as it was written, however the writes fell.
    #[test]
    fn a_chunked_body_reads_back_whole(
        pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
    ) {
        let mut body = ChunkedWriter::new(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec());
        for piece in &pieces {
            body.write_all(piece).unwrap();
        }
        let response = body.finish().unwrap();
        let mut read = Vec::new();
        read_response(&response[..]).unwrap().body.read_to_end(&mut read).unwrap();
        prop_assert_eq!(read, pieces.concat());
    }

    #[test]
    fn a_mangled_base_archive_is_read_or_refused_in_one_line(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = mangle(valid_archive(), &flips);
        bytes.truncate(cut % (bytes.len() + 1));
        let path = dir.path().join("base.tar");
        std::fs::write(&path, &bytes).unwrap();
        if let Err(e) = read_base_image(&path) {
            prop_assert_eq!(e.one_line().lines().count(), 1);
        }
    }

    #[test]
    fn a_mangled_layer_unpacks_only_inside_its_root(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
    ) {
        let mut layer = tar::Builder::new(Vec::new());
        for (name, data) in [("a/b/c", &b"one"[..]), ("a/d", &b"two"[..])] {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            layer.append_data(&mut header, name, data).unwrap();
        }
        let bytes = mangle(layer.into_inner().unwrap(), &flips);
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let layers = [blob_of(&bytes)];
        if let Ok(index) = rootfs::flatten(&layers) {
            let _ = unpack(&index, &layers, &root);
        }
        let outside: Vec<_> = std::fs::read_dir(outer.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        prop_assert_eq!(outside, vec![std::ffi::OsString::from("root")]);
    }
}
