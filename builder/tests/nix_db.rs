//! `includeNixDB`: the database stowage writes is read back by the machine's own Nix
//! (Debian's), through a chroot store (`local?root=…`), which reads path information
//! from the database alone, so the store paths' files need not be copied.

mod common;

use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use stowage::graph::Graph;
use stowage::nix_db::{nar_hash_for_db, write_nix_db};

/// Three paths built in the sandbox with the static busybox: `top` refers to `app`,
/// `app` refers to `lib` and to itself (as real packages often do), `lib` to nothing.
const EXPRESSION: &str = r#"
let
  system = builtins.currentSystem;
  bbDir = builtins.path {
    name = "stowage-nixdb-busybox";
    path = /usr/bin;
    filter = p: t: baseNameOf p == "busybox";
  };
  bb = "${bbDir}/busybox";
  make = name: script: derivation {
    inherit name system;
    builder = bb;
    args = [ "sh" "-c" "${bb} mkdir $out && ${script}" ];
  };
  lib = make "stowage-nixdb-lib" "echo lib > $out/data";
  app = make "stowage-nixdb-app" "echo ${lib} $out > $out/refs";
in make "stowage-nixdb-top" "echo ${app} > $out/refs"
"#;

/// Builds [`EXPRESSION`] with its result link in `dir` and returns `top`.
fn build_fixture(dir: &Path) -> PathBuf {
    let file = dir.join("fixture.nix");
    fs::write(&file, EXPRESSION).unwrap();
    nix_build_with_link(nix_build_sandboxed(&file), &dir.join("result"))
}

/// `nix` with the flags Nix 2.8 needs for the new CLI.
fn nix() -> Command {
    let mut cmd = Command::new("nix");
    cmd.args(["--extra-experimental-features", "nix-command"]);
    cmd
}

/// The store URL of the chroot store at `root`.
fn chroot_store(root: &Path) -> String {
    format!("local?root={}", root.display())
}

/// What Nix knows of a path: narHash (as Nix stores it), narSize and references.
type PathInfo = (String, u64, BTreeSet<String>);

/// One entry of `nix path-info --json` or of exportReferencesGraph (the same fields):
/// its path and what it says of it.
fn path_info(entry: &Value) -> (String, PathInfo) {
    let path = entry["path"].as_str().unwrap().to_owned();
    let hash = nar_hash_for_db(entry["narHash"].as_str().unwrap()).unwrap();
    let refs = entry["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect();
    (path, (hash, entry["narSize"].as_u64().unwrap(), refs))
}

/// `nix path-info --json` of `args` in `store` (a URL, or "" for the machine's store),
/// by path (self-references included, as Nix lists them).
fn path_infos(store: &str, args: &[&str]) -> BTreeMap<String, PathInfo> {
    let mut cmd = nix();
    cmd.args(["path-info", "--json"]);
    if !store.is_empty() {
        cmd.args(["--store", store]);
    }
    let out = run(cmd.args(args));
    let infos: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    infos.iter().map(path_info).collect()
}

/// A graph of tests/fixtures in exportReferencesGraph's JSON form: its bytes and the
/// graph they parse to.
fn json_fixture(name: &str) -> (Vec<u8>, Graph) {
    let path = fixture(name);
    let text = fs::read(&path).unwrap();
    let graph = Graph::parse_json(&text, Path::new("/nix/store"), &path).unwrap();
    (text, graph)
}

/// The whole graph, as the indices `write_nix_db` takes.
fn everything(graph: &Graph) -> BTreeSet<usize> {
    (0..graph.nodes().len()).collect()
}

#[test]
fn nix_reads_back_every_path_with_its_hash_size_and_references() {
    let work = tempfile::tempdir().unwrap();
    let top = build_fixture(work.path());
    let top = top.to_str().unwrap();
    // The machine's Nix describes the closure; its JSON is a references graph whose
    // narHash is in SRI form.
    let machine = path_infos("", &["-r", top]);
    assert_eq!(machine.len(), 3, "top, app and lib: {machine:?}");
    let app = machine
        .keys()
        .find(|p| p.ends_with("-stowage-nixdb-app"))
        .unwrap();
    assert!(machine[app].2.contains(app), "app refers to itself");
    let json = run(nix().args(["path-info", "--json", "-r", top])).stdout;
    let graph = Graph::parse_json(&json, Path::new("/nix/store"), Path::new("graph")).unwrap();

    let root = work.path().join("image");
    write_nix_db(&root, &graph, &everything(&graph)).unwrap();
    let store = chroot_store(&root);
    let image = path_infos(&store, &["--all"]);
    // Self-references included: Nix registers them, and so do we.
    assert_eq!(image, machine);
    // The same answer through the old CLI, path by path.
    for (path, (_, _, refs)) in &image {
        let out =
            run(Command::new("nix-store").args(["--store", &store, "-q", "--references", path]));
        let listed: BTreeSet<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(&listed, refs, "references of {path}");
    }
}

#[test]
fn the_tree_is_what_nix_expects_and_keeps_the_image_alive() {
    let work = tempfile::tempdir().unwrap();
    let top = build_fixture(work.path());
    let json = run(nix().args(["path-info", "--json", "-r"]).arg(&top)).stdout;
    let graph = Graph::parse_json(&json, Path::new("/nix/store"), Path::new("graph")).unwrap();
    let root = work.path().join("image");
    write_nix_db(&root, &graph, &everything(&graph)).unwrap();

    let state = root.join("nix/var/nix");
    assert_eq!(fs::read(state.join("db/schema")).unwrap(), b"10");
    let db_files: BTreeSet<String> = fs::read_dir(state.join("db"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        db_files,
        BTreeSet::from(["big-lock", "db.sqlite", "schema"].map(String::from)),
        "no journal, WAL or temporary file is left"
    );
    // Only top is a root: everything else is reachable from it.
    let name = top.file_name().unwrap();
    assert_eq!(
        fs::read_link(state.join("gcroots/docker").join(name)).unwrap(),
        top
    );
    assert_eq!(
        fs::read_dir(state.join("gcroots/docker")).unwrap().count(),
        1
    );
    assert_eq!(
        fs::read_link(state.join("gcroots/profiles")).unwrap(),
        Path::new("/nix/var/nix/profiles")
    );
    assert!(state.join("profiles").is_dir() && state.join("temproots").is_dir());

    // The collector of the image's Nix finds nothing dead: the roots hold the closure.
    // It only considers what is in the store directory, so the paths are put there (empty:
    // the collector looks at names, not contents), as the image's layers would.
    for node in graph.nodes() {
        let relative = node.path.as_path().strip_prefix("/").unwrap();
        fs::create_dir_all(root.join(relative)).unwrap();
    }
    let store = chroot_store(&root);
    let dead = || {
        let out = run(Command::new("nix-store").args(["--store", &store, "--gc", "--print-dead"]));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(dead(), "");
    // And Nix can go on registering paths in the database it was given.
    let extra = work.path().join("stowage-nixdb-extra");
    fs::write(&extra, "more\n").unwrap();
    let added = run(Command::new("nix-store")
        .args(["--store", &store, "--add"])
        .arg(&extra));
    let added = String::from_utf8(added.stdout).unwrap();
    let all = path_infos(&store, &["--all"]);
    assert_eq!(all.len(), graph.nodes().len() + 1);
    assert!(all.contains_key(added.trim()), "{added} in {all:?}");
    // Without the image's roots, the whole image would be garbage: the links do the work.
    fs::remove_file(state.join("gcroots/docker").join(name)).unwrap();
    let dead: BTreeSet<String> = dead().lines().map(str::to_owned).collect();
    let image: BTreeSet<String> = graph.nodes().iter().map(|n| n.path.to_string()).collect();
    assert!(dead.is_superset(&image), "{dead:?} should hold {image:?}");
}

#[test]
fn exportreferencesgraph_hashes_in_nixbase32_are_stored_as_nix_stores_them() {
    // The bench fixture is exportReferencesGraph output (narHash "sha256:<nixbase32>");
    // its paths need not exist here, since Nix reads their information from the database.
    let (text, graph) = json_fixture("bench-small.graph.json");
    let entries: Vec<Value> = serde_json::from_slice(&text).unwrap();
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("image");
    write_nix_db(&root, &graph, &everything(&graph)).unwrap();
    let image = path_infos(&chroot_store(&root), &["--all"]);
    let expected: BTreeMap<_, _> = entries
        .iter()
        .map(|e| {
            let (path, (hash, size, mut refs)) = path_info(e);
            refs.remove(&path);
            (path, (hash, size, refs))
        })
        .collect();
    assert_eq!(image, expected);
    // One known pair, checked by hand against Nix 2.8's own database: libc's narHash.
    let libc = "/nix/store/flbhr76mnl9rwwyar1x25qrxj6yq653y-libc";
    assert_eq!(
        image[libc].0,
        "sha256:4f15ba9c147165bfca22c97c7c25e7bd7870cc45fcbac001bc814d658aefdc2a"
    );
}

#[test]
fn the_database_is_the_same_bytes_on_every_run() {
    let (_, graph) = json_fixture("bench-large.graph.json");
    let work = tempfile::tempdir().unwrap();
    let write = |name: &str| {
        let root = work.path().join(name);
        write_nix_db(&root, &graph, &everything(&graph)).unwrap();
        fs::read(root.join("nix/var/nix/db/db.sqlite")).unwrap()
    };
    let first = write("one");
    assert_eq!(first, write("two"));
    // Writing again over a previous run replaces it with the same bytes.
    assert_eq!(first, write("one"));
    // A subset: the closure of one path, whose database differs but is as stable.
    let some = graph.closure([graph.nodes().len() / 2]);
    let root = work.path().join("subset");
    write_nix_db(&root, &graph, &some).unwrap();
    let subset = fs::read(root.join("nix/var/nix/db/db.sqlite")).unwrap();
    assert_ne!(subset, first);
    write_nix_db(&root, &graph, &some).unwrap();
    assert_eq!(
        fs::read(root.join("nix/var/nix/db/db.sqlite")).unwrap(),
        subset
    );
}

#[test]
fn a_path_without_nar_hash_is_named() {
    // The legacy text form carries no hashes.
    let fixture = fixture("bench-small.graph.txt");
    let text = fs::read_to_string(&fixture).unwrap();
    let graph = Graph::parse_legacy(&text, Path::new("/nix/store"), &fixture).unwrap();
    let work = tempfile::tempdir().unwrap();
    let err = write_nix_db(work.path(), &graph, &everything(&graph))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "{}: includeNixDB needs narHash for every path; use exportReferencesGraph with __structuredAttrs",
            graph.nodes()[0].path
        )
    );
}
