//! The compatibility suite: twins of nixpkgs' docker-tools subtests that no other suite
//! holds, one test per subtest, named after it, with the images of tests/nix/compat.nix.
//! tests/compat/README.md maps every upstream subtest (docker-tools.nix, -nix-shell,
//! -overlay and -cross) to its twin here or elsewhere; the last test checks that table.
//!
//! Each test asserts what the upstream subtest asserts, in Docker and, where it runs a
//! container, in podman (with runc) too. Stream scripts are piped into `load` as
//! upstream pipes them; images are run by ID, so concurrent tests cannot clash.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{
    command, eval_in, layer_listing, nix_build, nix_build_command, nix_build_with_link,
    nix_store_in, oci_unpack, output, repo_file, run, run_stdout, stream_into, tar_members,
    temp_dir, DockerArchive, Engine,
};
use serde_json::{json, Value};

/// The Nix file of the images these tests build.
const IMAGES: &str = "tests/nix/compat.nix";

/// Both engines, for the subtests that run containers.
const ENGINES: [Engine; 2] = [Engine::Docker, Engine::Podman];

/// nixpkgs' default creation time, which `created = "now"` must not give.
const STABLE_DATE: &str = "1970-01-01T00:00:01Z";

/// An image of tests/nix/compat.nix, built: an archive, or a stream script.
struct Built {
    /// The directory holding the result link (and anything else the test writes).
    dir: tempfile::TempDir,
    /// The archive or the stream script.
    path: PathBuf,
    /// The image, as the archive holds it or the script streams it.
    archive: DockerArchive,
}

impl Built {
    /// Builds attribute `attr`.
    fn new(attr: &str) -> Built {
        let dir = temp_dir();
        let path = nix_build(IMAGES, attr, dir.path());
        Built::read(dir, path)
    }

    /// The built image `path`, its result link in `dir`.
    fn read(dir: tempfile::TempDir, path: PathBuf) -> Built {
        let archive = if is_stream_script(&path) {
            DockerArchive::from_bytes(&run(Command::new(&path)).stdout)
        } else {
            DockerArchive::open_any(&path)
        };
        Built { dir, path, archive }
    }

    /// Loads the image into `engine` as upstream does (a stream script piped into
    /// `load`) and returns its ID.
    fn load(&self, engine: Engine) -> String {
        if is_stream_script(&self.path) {
            stream_into(&self.path, engine);
        } else {
            engine.load(&self.path);
        }
        self.archive.image_id()
    }

    /// Loads the image into `engine` and runs a container of it that must succeed.
    fn run(&self, engine: Engine, options: &[&str], args: &[&str]) -> String {
        let id = self.load(engine);
        engine.run(&id, options, args)
    }

    /// The image as an uncompressed archive file, for the tools that read only those.
    fn uncompressed(&self) -> PathBuf {
        if !is_stream_script(&self.path) {
            return self.path.clone();
        }
        let file = self.dir.path().join("streamed.tar");
        std::fs::write(&file, run(Command::new(&self.path)).stdout).expect("write the stream");
        file
    }
}

/// Whether `path` is a stream script (`#!…/stowage stream`) rather than an archive.
fn is_stream_script(path: &Path) -> bool {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .starts_with(b"#!")
}

/// The output path of attribute `attr` of tests/nix/compat.nix, evaluated only.
fn out_path(attr: &str) -> String {
    eval_in(IMAGES, &format!("l.{attr}.outPath"))
        .as_str()
        .expect("an outPath is a string")
        .to_owned()
}

/// Builds `attr` and, in each engine, runs it with `options` and `args` and asserts
/// that it printed `expected` exactly.
fn assert_prints(attr: &str, options: &[&str], args: &[&str], expected: &str) {
    let image = Built::new(attr);
    for engine in ENGINES {
        let out = image.run(engine, options, args);
        assert_eq!(out, expected, "{attr} in {engine:?}");
    }
}

/// The set of diff_ids Docker reports for a loaded image (upstream's `set_of_layers`).
fn set_of_layers(image_id: &str) -> BTreeSet<String> {
    Engine::Docker.inspect(image_id)["RootFS"]["Layers"]
        .as_array()
        .expect("RootFS.Layers")
        .iter()
        .map(|l| l.as_str().expect("a diff_id").to_owned())
        .collect()
}

// ------------------------------------------------------------------ 1 includeStorePath

/// 1.1 `assumption`: hello on the root runs, found on the engine's default PATH.
#[test]
fn include_store_path_assumption() {
    assert_prints("helloOnRoot", &[], &[], "Hello, world!\n");
}

/// Without the store /bin/hello dangles: the container fails and greets nobody.
fn assert_breaks_without_the_store(attr: &str) {
    let image = Built::new(attr);
    for engine in ENGINES {
        let id = image.load(engine);
        let out = output(engine.run_command(&id, &[], &[]));
        assert!(!out.status.success(), "{attr} ran in {engine:?}");
        let stdout = String::from_utf8_lossy(&out.stdout).to_lowercase();
        assert!(!stdout.contains("hello"), "{attr} in {engine:?}: {stdout}");
    }
}

/// 1.2 `includeStorePath = false; breaks example`
#[test]
fn include_store_path_false_breaks_example() {
    assert_breaks_without_the_store("helloOnRootNoStore");
}

/// 1.3 `includeStorePath = false; breaks example (fakechroot)`
#[test]
fn include_store_path_false_breaks_example_fakechroot() {
    assert_breaks_without_the_store("helloOnRootNoStoreFakechroot");
}

/// The flattened root filesystem of a container of the image (upstream: `crane export`
/// of the image) has no entry under, or being, `nix/store/`.
fn assert_zero_store_paths(attr: &str) {
    let image = Built::new(attr);
    let id = image.load(Engine::Docker);
    let created = run_stdout(command("docker", ["create", id.as_str()]));
    let container = created.trim();
    let exported = output(command("docker", ["export", container]));
    run(command("docker", ["rm", container]));
    assert!(
        exported.status.success(),
        "docker export {container} failed"
    );
    let names: Vec<String> = tar_members(&exported.stdout)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert!(names.iter().any(|n| n.starts_with("bin/")), "{names:?}");
    for name in &names {
        assert!(!format!("{name}/").contains("nix/store/"), "{attr}: {name}");
    }
}

/// 1.4 `Ensure ZERO paths are added to the store`
#[test]
fn ensure_zero_paths_are_added_to_the_store() {
    assert_zero_store_paths("helloOnRootNoStore");
}

/// 1.5 `Ensure ZERO paths are added to the store (fakechroot)`
#[test]
fn ensure_zero_paths_are_added_to_the_store_fakechroot() {
    assert_zero_store_paths("helloOnRootNoStoreFakechroot");
}

/// With the host's store mounted, the root's links into it resolve again.
fn assert_works_with_mounted_store(attr: &str) {
    assert_prints(
        attr,
        &["--volume", "/nix/store:/nix/store:ro"],
        &[],
        "Hello, world!\n",
    );
}

/// 1.6 `includeStorePath = false; works with mounted store`
#[test]
fn include_store_path_false_works_with_mounted_store() {
    assert_works_with_mounted_store("helloOnRootNoStore");
}

/// 1.7 `includeStorePath = false; works with mounted store (fakechroot)`
#[test]
fn include_store_path_false_works_with_mounted_store_fakechroot() {
    assert_works_with_mounted_store("helloOnRootNoStoreFakechroot");
}

// ------------------------------------------------------------------ users and the store

/// 6 `Ensure (layered) nix store has correct permissions and that the container starts
/// when its process does not have uid 0`: `somebody` resolves through the contents'
/// /etc/passwd, and /nix and /nix/store are 0755.
#[test]
fn layered_nix_store_has_correct_permissions_for_a_non_root_uid() {
    let bash = format!("{}/bin/bash", out_path("bash"));
    assert_prints(
        "layeredWithUser",
        &["-u", "somebody"],
        &[&bash, "-c", "stat -c %a /nix /nix/store; id -u"],
        "755\n755\n999\n",
    );
}

/// The relative link bin/nix-daemon -> nix of the nix stand-in, read in the image.
fn assert_nix_symlinks_intact(attr: &str) {
    let bash = format!("{}/bin/bash", out_path("bash"));
    let daemon = format!("{}/bin/nix-daemon", out_path("nix"));
    assert_prints(
        attr,
        &[],
        &[&bash, "-c", &format!("readlink {daemon}")],
        "nix\n",
    );
}

/// 7 `The nix binary symlinks are intact` (the nix stand-in has nixpkgs' link).
#[test]
fn the_nix_binary_symlinks_are_intact() {
    assert_nix_symlinks_intact("nixImage");
}

/// 8 `The nix binary symlinks are intact when the image is layered`
#[test]
fn the_nix_binary_symlinks_are_intact_when_the_image_is_layered() {
    assert_nix_symlinks_intact("nixLayered");
}

// ------------------------------------------------------------------ services

/// 10 `runAsRoot and entry point work`: nixpkgs' nginx example with busybox httpd as
/// the server. The Cmd serves port 80 (ExposedPorts says so) as `nobody`, whom only
/// fakeNss names. Upstream publishes the port and curls it; the tests' containers have
/// no network, so the page is fetched from inside the container.
#[test]
fn run_as_root_and_entry_point_work() {
    let image = Built::new("httpd");
    let tools = out_path("tools");
    for engine in ENGINES {
        let id = image.load(engine);
        assert_eq!(
            engine.inspect(&id)["Config"]["ExposedPorts"],
            json!({ "80/tcp": {} }),
            "{engine:?}"
        );
        let container = engine.start(&id, &[], &[]);
        let mut page = None;
        // httpd may need a moment to listen on a loaded machine: up to 30 s.
        for _ in 0..300 {
            let fetched = output(container.exec(&["wget", "-qO-", "http://127.0.0.1:80/"]));
            if fetched.status.success() {
                page = Some(String::from_utf8_lossy(&fetched.stdout).into_owned());
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let page = page.unwrap_or_else(|| panic!("{engine:?}: httpd never answered"));
        assert_eq!(page, "<h1>Hello from busybox httpd</h1>\n", "{engine:?}");
        let who = run_stdout(container.exec(&["ps", "-o", "user,args"]));
        assert!(
            who.lines()
                .any(|l| l.starts_with("nobody") && l.contains(&format!("{tools}/bin/httpd"))),
            "{engine:?}: httpd is not nobody's: {who}"
        );
    }
}

/// 11 `A pulled image can be used as base image`: the base is a docker-archive written
/// by skopeo, as pullImage writes what it pulls (from an image built here: no registry
/// outside can be reached), and the camel-case name is lower-cased.
#[test]
fn a_pulled_image_can_be_used_as_base_image() {
    let base = Built::new("pulledBase");
    let pulled = base.dir.path().join("pulled.tar");
    run(command("skopeo", ["copy", "--quiet"])
        .arg(format!("docker-archive:{}", base.path.display()))
        .arg(format!(
            "docker-archive:{}:stowage-compat/pulled:2.2.1",
            pulled.display()
        )));
    let written = DockerArchive::open(&pulled);
    // skopeo names it in full, as pullImage's archives are named.
    assert_eq!(written.repo_tag(), "docker.io/stowage-compat/pulled:2.2.1");
    assert_ne!(written.members, base.archive.members, "skopeo rewrote it");

    let dir = temp_dir();
    let mut build = nix_build_command(IMAGES, "onTopOfPulledImage", &["--arg", "pulled"]);
    build.arg(&pulled);
    let path = nix_build_with_link(build, &dir.path().join("result"));
    let image = Built::read(dir, path);
    assert_eq!(
        image.archive.repo_tag(),
        "stowage-compat/ontopofpulledimage:latest"
    );
    // The base's layers come first, unchanged, under one new layer.
    let base_layers = written.diff_ids();
    assert_eq!(
        image.archive.diff_ids()[..base_layers.len()],
        base_layers[..]
    );
    assert_eq!(image.archive.layers.len(), base_layers.len() + 1);
    for engine in ENGINES {
        assert_eq!(
            image.run(engine, &[], &["hello"]),
            "Hello, world!\n",
            "{engine:?}"
        );
    }
}

/// 12 `Regression test for issue #34779`: runAsRoot and extraCommands both write their
/// hostile text to relative paths, which land in the image root; the camel-case name
/// is lower-cased.
#[test]
fn regression_test_for_issue_34779() {
    let image = Built::new("runAsRootExtraCommands");
    assert_eq!(
        image.archive.repo_tag(),
        "stowage-compat/runasrootextracommands:latest"
    );
    for engine in ENGINES {
        let id = image.load(engine);
        for (file, text) in [
            ("extraCommands", "(extraCommand)\n"),
            ("runAsRoot", "(runAsRoot)\n"),
        ] {
            assert_eq!(engine.run(&id, &[], &["cat", file]), text, "{engine:?}");
        }
    }
}

/// 14 `Ensure Layered Docker images can use an unstable date`
#[test]
fn layered_docker_images_can_use_an_unstable_date() {
    let image = Built::new("unstableDateLayered");
    let id = image.load(Engine::Docker);
    let created = Engine::Docker.inspect(&id)["Created"].clone();
    assert!(
        !created.as_str().expect("Created").contains(STABLE_DATE),
        "{created}"
    );
}

// ------------------------------------------------------------------ layered images

/// 15 `Ensure Layered Docker images work`: the Cmd (hello) runs, and extraCommands'
/// file is in the root.
#[test]
fn layered_docker_images_work() {
    let image = Built::new("layeredImage");
    for engine in ENGINES {
        assert_eq!(image.run(engine, &[], &[]), "Hello, world!\n", "{engine:?}");
        assert_eq!(
            image.run(engine, &[], &["cat", "extraCommands"]),
            "(extraCommand)\n",
            "{engine:?}"
        );
    }
}

/// 17 `Ensure layered images built on top of layered Docker images work`: the
/// world-writable WorkingDir made by extraCommands is writable, the base intact.
#[test]
fn layered_images_built_on_top_of_layered_images_work() {
    assert_prints("layeredOnTopLayered", &[], &[], "hello\n");
}

/// 18 `Ensure layers are shared between images`: the same store paths give the same
/// layer (diff_id) in another image, here one whose only contents come from its Cmd.
#[test]
fn layers_are_shared_between_images() {
    let first = Built::new("layeredImage").load(Engine::Docker);
    let second = Built::new("anotherLayeredImage").load(Engine::Docker);
    let shared: Vec<String> = set_of_layers(&first)
        .intersection(&set_of_layers(&second))
        .cloned()
        .collect();
    assert!(!shared.is_empty(), "no layer is shared");
}

/// 23 `Ensure environment variables of layered images are correctly inherited`
#[test]
fn environment_variables_of_layered_images_are_inherited() {
    let image = Built::new("envLayered");
    for engine in ENGINES {
        let out = image.run(engine, &[], &["env"]);
        let lines: Vec<&str> = out.lines().collect();
        for expected in ["FROM_PARENT=true", "FROM_CHILD=true", "LAST_LAYER=child"] {
            assert!(lines.contains(&expected), "{expected} in {engine:?}: {out}");
        }
    }
}

/// 24 `Ensure inherited environment variables of layered images are correctly
/// resolved`: read with GNU tar straight from the (gzip) archive, as upstream does, so
/// the members are named `manifest.json` and `<sha256>.json` with no `./`; exactly one
/// LAST_LAYER is left.
#[test]
fn inherited_environment_variables_of_layered_images_are_resolved() {
    let image = Built::new("envLayered");
    let extract = |member: &str| {
        let mut cmd = command("tar", ["-xOf"]);
        cmd.arg(&image.path).arg(member);
        run_stdout(cmd)
    };
    let manifest: Value = serde_json::from_str(&extract("manifest.json")).expect("JSON");
    let config_name = manifest[0]["Config"].as_str().expect("Config");
    let config: Value = serde_json::from_str(&extract(config_name)).expect("JSON");
    let last: Vec<&Value> = config["config"]["Env"]
        .as_array()
        .expect("Env")
        .iter()
        .filter(|e| e.as_str().is_some_and(|e| e.starts_with("LAST_LAYER")))
        .collect();
    assert_eq!(last, [&json!("LAST_LAYER=child")]);
}

/// 25 `Ensure image with only 2 layers can be loaded`: one store layer and the
/// customisation layer.
#[test]
fn image_with_only_2_layers_can_be_loaded() {
    let image = Built::new("twoLayered");
    assert_eq!(image.archive.layers.len(), 2);
    let id = image.load(Engine::Docker);
    assert_eq!(set_of_layers(&id).len(), 2);
}

/// 26 `Ensure the bulk layer doesn't miss store paths (regression test for #78744)`
#[test]
fn the_bulk_layer_does_not_miss_store_paths() {
    assert_prints("bulkLayer", &[], &["ls", "/bin/hello"], "/bin/hello\n");
}

/// 27 `Ensure the bulk layer with a base image respects the number of maxLayers`: two
/// base layers, one store layer, the customisation layer.
#[test]
fn the_bulk_layer_with_a_base_image_respects_max_layers() {
    let image = Built::new("layeredBulkLayer");
    for engine in ENGINES {
        let out = image.run(engine, &[], &["ls", "/bin/hello"]);
        assert_eq!(out, "/bin/hello\n", "{engine:?}");
    }
    assert_eq!(set_of_layers(&image.archive.image_id()).len(), 4);
}

/// 28 `Ensure only minimal paths are added to the store`: /nix/store holds busybox's
/// path alone, not hello (run at build time only), the customisation layer or the conf.
#[test]
fn only_minimal_paths_are_added_to_the_store() {
    let image = Built::new("noStorePaths");
    let tools = out_path("tools");
    let name = tools.trim_start_matches("/nix/store/");
    for engine in ENGINES {
        let root = image.run(engine, &[], &["ls", "/"]);
        assert!(root.lines().any(|l| l == "bin"), "{engine:?}: {root}");
        let store = image.run(engine, &[], &["ls", "/nix/store"]);
        assert_eq!(store, format!("{name}\n"), "{engine:?}");
    }
}

/// 29 `Ensure buildLayeredImage does not change store path contents.`: the host's Nix
/// checks every path registered in the image's database against the files (upstream
/// runs the image's nix-store, which the stand-in is not); the Cmd reads a store path
/// that is a file.
#[test]
fn build_layered_image_does_not_change_store_path_contents() {
    let image = Built::new("filesInStore");
    for engine in ENGINES {
        let out = image.run(engine, &[], &[]);
        assert!(out.contains("some data"), "{engine:?}: {out}");
    }
    let rootfs = oci_unpack(&image.uncompressed(), image.dir.path());
    let verified = run(nix_store_in(&rootfs).args(["--verify", "--check-contents"]));
    let stderr = String::from_utf8_lossy(&verified.stderr);
    assert!(!stderr.contains("was modified"), "{stderr}");
}

/// 31 `buildLayeredImage doesn't dereference /nix/store symlink layers`
#[test]
fn store_symlink_layers_are_not_dereferenced() {
    let symlink = out_path("layeredStoreSymlink.symlink");
    let bash = format!("{}/bin/bash", out_path("bash"));
    let test = format!("test -L {symlink} && echo is a symlink");
    assert_prints(
        "layeredStoreSymlink",
        &[],
        &[&bash, "-c", &test],
        "is a symlink\n",
    );
}

/// 34 `buildLayeredImage supports running chown with fakeRootCommands`: `chown 1000` of
/// a relative path, persisted as a numeric owner.
#[test]
fn build_layered_image_supports_chown_in_fake_root_commands() {
    assert_prints(
        "withFakeRootCommands",
        &[],
        &["sh", "-c", "stat -c %u /home/alice"],
        "1000\n",
    );
}

/// 38 `The image contains store paths referenced by the fakeRootCommands output`
#[test]
fn the_image_contains_store_paths_referenced_by_fake_root_commands() {
    assert_prints(
        "withFakeRootCommands",
        &[],
        &["/hello/bin/layeredImageWithFakeRootCommands-hello"],
        "Hello, world!\n",
    );
}

/// 41 `layered image fakeRootCommands with fakechroot works`: absolute paths land in the
/// image root, and hello comes in through the symlink made there.
#[test]
fn layered_image_fake_root_commands_with_fakechroot_works() {
    assert_prints("imageViaFakeChroot", &[], &[], "Hello, world!\n");
}

/// 44 `etc`: a stand-in for NixOS's etc activation (the /etc/static layout) runs under
/// enableFakechroot; the Cmd, a single string, prints the file it made. Docker only, as
/// upstream: podman 4.3 refuses to load a config whose Cmd is a string (nixpkgs' image
/// too), as the OCI image spec wants a list.
#[test]
fn etc() {
    let image = Built::new("etc");
    let cmd = &image.archive.config["config"]["Cmd"];
    assert!(
        cmd.as_str().is_some_and(|c| c.ends_with("/bin/cat-config")),
        "{cmd}"
    );
    let out = image.run(Engine::Docker, &[], &[]);
    assert_eq!(out, "127.0.0.1 localhost\n::1 localhost\n");
}

/// 46 `streamLayeredImage: chown is persistent in fakeRootCommands`
#[test]
fn chown_is_persistent_in_fake_root_commands() {
    assert_prints("chownTest", &[], &[], "12345:12345\n");
}

/// 47 `streamLayeredImage: with non-root user`: upstream only loads the image; its
/// intent is checked too: the store layers are 1000:1000's and `User` resolves.
#[test]
fn stream_layered_image_with_non_root_user() {
    let image = Built::new("nonRoot");
    for engine in ENGINES {
        assert_eq!(image.run(engine, &[], &[]), "1000:1000\n", "{engine:?}");
        let id = format!("{}/bin/id", out_path("tools"));
        let uid = image.run(engine, &[], &[&id, "-u"]);
        assert_eq!(uid, "1000\n", "{engine:?}");
    }
}

// ------------------------------------------------------------------ Nix database

/// Loads the image into Docker, resolves /bin/bash in a container, as the image's
/// nix-store would, and asks the host's Nix, pointed at the image's store and database,
/// for its references: they must be registered, and be the host's. Each of `roots` must
/// be a GC root under nix/var/nix/gcroots/docker.
fn assert_has_a_nix_database(image: &Built, roots: &[String]) {
    let id = image.load(Engine::Docker);
    let bash = Engine::Docker.run(&id, &[], &["readlink", "-f", "/bin/bash"]);
    let bash = bash.trim();
    assert!(bash.starts_with("/nix/store/"), "{bash}");
    let rootfs = oci_unpack(&image.uncompressed(), image.dir.path());
    let sorted = |out: String| {
        let mut lines: Vec<String> = out.lines().map(str::to_owned).collect();
        lines.sort();
        lines
    };
    let registered = sorted(run_stdout(nix_store_in(&rootfs).args([
        "-q",
        "--references",
        bash,
    ])));
    let host = sorted(run_stdout(command(
        "nix-store",
        ["-q", "--references", bash],
    )));
    assert_eq!(registered, host);
    for root in roots {
        let name = root.trim_start_matches("/nix/store/");
        let link = rootfs.join("nix/var/nix/gcroots/docker").join(name);
        let target = std::fs::read_link(&link).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(target, PathBuf::from(root));
    }
}

/// N1 `buildImageWithNixDB: Has a nix database` (no nix binary here: the host's
/// nix-store reads the image's database).
#[test]
fn build_image_with_nix_db_has_a_nix_database() {
    let roots = [out_path("nixImageRoot")];
    assert_has_a_nix_database(&Built::new("nixImage"), &roots);
}

/// N11 `streamLayeredImage: with nix db` (checked as N1 is).
#[test]
fn stream_layered_image_with_nix_db() {
    let roots = [out_path("nix"), out_path("bash"), out_path("tools")];
    assert_has_a_nix_database(&Built::new("nixLayeredStream"), &roots);
}

// ------------------------------------------------------------------ overlay and cross

/// docker-tools-overlay.nix: nixpkgs' bash example built through nix/overlay.nix runs,
/// also as a uid with no passwd entry, which needs /nix and /nix/store readable and
/// traversable by others (buildImage writes them 0555). Docker here stores layers with
/// fuse-overlayfs, not upstream's overlay2; podman with its own overlay driver.
#[test]
fn docker_tools_overlay() {
    let image = Built::new("overlayBash");
    let (_, top) = image.archive.layers.last().expect("a layer");
    let listing = layer_listing(top);
    for dir in ["nix/ ", "nix/store/ "] {
        let line = listing.iter().find(|l| l.starts_with(dir));
        assert!(
            line.is_some_and(|l| l.starts_with(&format!("{dir}555 0:0"))),
            "{dir}: {listing:#?}"
        );
    }
    for engine in ENGINES {
        for options in [&[][..], &["-u", "1000:1000"][..]] {
            let out = image.run(engine, options, &["bash", "--version"]);
            assert!(out.starts_with("GNU bash"), "{engine:?} {options:?}: {out}");
        }
    }
}

/// An image built for aarch64 through the overlay on a cross package set: its config
/// says arm64, and Docker loads it as such. Not run: there is no emulation here.
fn assert_cross_image(attr: &str) {
    let image = Built::new(attr);
    assert_eq!(image.archive.config["architecture"], "arm64");
    let id = image.load(Engine::Docker);
    let inspect = Engine::Docker.inspect(&id);
    assert_eq!(inspect["Architecture"], "arm64");
    assert_eq!(inspect["Os"], "linux");
}

/// C1 `Ensure cross compiled buildImage image can run.` (inspected, not run)
#[test]
fn cross_compiled_build_image_image() {
    assert_cross_image("crossBuildImage");
}

/// C2 `Ensure cross compiled buildLayeredImage image can run.` (inspected, not run)
#[test]
fn cross_compiled_build_layered_image_image() {
    assert_cross_image("crossLayered");
}

// ------------------------------------------------------------------ the table

/// Every subtest of the catalogue: docker-tools.nix (1.1–1.7, 2–47),
/// docker-tools-nix-shell.nix (N1–N11), docker-tools-overlay.nix (O) and
/// docker-tools-cross.nix (C1, C2).
fn catalogue() -> Vec<String> {
    let mut all: Vec<String> = (1..=7).map(|i| format!("1.{i}")).collect();
    all.extend((2..=47).map(|i| i.to_string()));
    all.extend((1..=11).map(|i| format!("N{i}")));
    all.extend(["O", "C1", "C2"].map(str::to_owned));
    all
}

/// tests/compat/README.md has one row per subtest of the catalogue, and every
/// `file::function` it names is a function of tests/tests/<file>.rs; every twin in
/// this file has a row.
#[test]
fn the_compatibility_table_is_complete_and_true() {
    let table = std::fs::read_to_string(repo_file("tests/compat/README.md"))
        .expect("read tests/compat/README.md");
    let mut seen = Vec::new();
    for row in table.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = row
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        let Some(id) = cells.get(1).and_then(|c| c.split_whitespace().next()) else {
            continue;
        };
        if !catalogue().iter().any(|c| c == id) {
            continue; // the header, or its rule
        }
        seen.push(id.to_owned());
        let tests: Vec<&str> = row
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|span| span.contains(".rs::"))
            .collect();
        // Even the network-only subtests (pulling from Docker Hub) have a twin: pulling
        // from a registry the test starts on 127.0.0.1.
        let status = cells.last().copied().unwrap_or_default();
        assert!(status.starts_with("passes"), "{id} does not pass: {row}");
        assert!(!tests.is_empty(), "{id} names no test: {row}");
        for test in tests {
            let (file, function) = test.split_once(".rs::").expect("file.rs::function");
            let source = std::fs::read_to_string(repo_file(&format!("tests/tests/{file}.rs")))
                .unwrap_or_else(|e| panic!("{id}: {test}: {e}"));
            assert!(
                source.contains(&format!("fn {function}(")),
                "{id}: tests/tests/{file}.rs has no fn {function}"
            );
        }
    }
    let missing: Vec<String> = catalogue()
        .into_iter()
        .filter(|id| !seen.contains(id))
        .collect();
    assert!(missing.is_empty(), "no row for {missing:?}");
    assert_eq!(
        seen,
        catalogue(),
        "rows repeated or out of the catalogue's order"
    );

    // And every twin here is in the table.
    let source = std::fs::read_to_string(repo_file("tests/tests/compat.rs")).expect("read");
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        if line != "#[test]" {
            continue;
        }
        let next = lines.next().unwrap_or_default();
        let name = next
            .trim_start_matches("fn ")
            .split('(')
            .next()
            .unwrap_or_default();
        if name != "the_compatibility_table_is_complete_and_true" {
            assert!(
                table.contains(&format!("`compat.rs::{name}`")),
                "compat.rs::{name} is in no row"
            );
        }
    }
}
