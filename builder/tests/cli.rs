//! The `stowage` binary end to end on real store paths, without a container engine: the
//! output format (snapshots), byte-for-byte determinism, base images, and every error.

mod common;

use common::*;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// A two-store-layer image with a customisation layer: the conf and the archive's bytes.
fn fixture_image(dir: &Path) -> (std::path::PathBuf, Vec<u8>) {
    let (app, lib) = fixture_store_paths();
    let custom = customisation_layer(dir);
    let conf = write_conf(
        dir,
        json!({"store_layers": [[lib], [app]], "customisation_layer": custom}),
    );
    let out = dir.join("image.tar");
    run(stowage().arg("build").arg(&conf).arg("-o").arg(&out));
    (conf, fs::read(&out).unwrap())
}

#[test]
fn archive_format_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let (_conf, bytes) = fixture_image(dir.path());
    let image = DockerArchive::from_bytes(&bytes);
    insta::assert_snapshot!("member_order", image.members.join("\n"));
    insta::assert_json_snapshot!("manifest", image.manifest);
    insta::assert_json_snapshot!("config", image.config);
    for (i, (_, layer)) in image.layers.iter().enumerate() {
        insta::assert_snapshot!(format!("layer_{i}_listing"), listing(layer).join("\n"));
    }
}

#[test]
fn stream_and_build_give_the_same_bytes_and_compression_wraps_them() {
    let dir = tempfile::tempdir().unwrap();
    let (conf, built) = fixture_image(dir.path());
    let streamed = run(stowage().arg("stream").arg(&conf)).stdout;
    assert_eq!(Sha256::digest(&streamed), Sha256::digest(&built));

    let gz = dir.path().join("image.tar.gz");
    run(stowage()
        .arg("build")
        .arg(&conf)
        .arg("-o")
        .arg(&gz)
        .args(["--compress", "gzip"]));
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&fs::read(&gz).unwrap()[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, built);

    let zst = dir.path().join("image.tar.zst");
    run(stowage()
        .arg("build")
        .arg(&conf)
        .arg("-o")
        .arg(&zst)
        .args(["--compress", "zstd"]));
    assert_eq!(
        zstd::decode_all(&fs::read(&zst).unwrap()[..]).unwrap(),
        built
    );
    assert_eq!(
        fs::metadata(&zst).unwrap().permissions().mode() & 0o777,
        0o444
    );
}

#[test]
fn output_does_not_depend_on_tz_umask_or_locale() {
    let dir = tempfile::tempdir().unwrap();
    let (conf, reference) = fixture_image(dir.path());
    for (tz, umask, lang) in [
        ("UTC", "022", "C"),
        ("Asia/Tokyo", "077", "de_DE.UTF-8"),
        ("America/New_York", "000", "tr_TR.UTF-8"),
    ] {
        let out = dir.path().join(format!("again-{umask}.tar"));
        let script = format!("umask {umask}; exec \"$0\" build \"$1\" -o \"$2\"");
        run(std::process::Command::new("sh")
            .args(["-c", &script, env!("CARGO_BIN_EXE_stowage")])
            .arg(&conf)
            .arg(&out)
            .env("TZ", tz)
            .env("LANG", lang)
            .env("LC_ALL", lang));
        assert_eq!(
            Sha256::digest(fs::read(&out).unwrap()),
            Sha256::digest(&reference),
            "TZ={tz} umask {umask} LANG={lang}"
        );
    }
}

#[test]
fn a_tagless_repo_tag_gets_a_tag_from_the_content() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _lib) = fixture_store_paths();
    let conf = write_conf(
        dir.path(),
        json!({"store_layers": [[app]], "repo_tag": "registry.example:5000/team/app"}),
    );
    let image = DockerArchive::from_bytes(&run(stowage().arg("stream").arg(&conf)).stdout);
    let config_name = image.manifest[0]["Config"].as_str().unwrap();
    let expected = format!("registry.example:5000/team/app:{}", &config_name[..32]);
    assert_eq!(image.manifest[0]["RepoTags"], json!([expected]));

    let overridden = DockerArchive::from_bytes(
        &run(stowage().arg("stream").arg(&conf).args(["-t", "other:v1"])).stdout,
    );
    assert_eq!(overridden.manifest[0]["RepoTags"], json!(["other:v1"]));
    let long_flag = DockerArchive::from_bytes(
        &run(stowage()
            .arg("stream")
            .arg(&conf)
            .args(["--repo_tag", "other:v2"]))
        .stdout,
    );
    assert_eq!(long_flag.manifest[0]["RepoTags"], json!(["other:v2"]));
}

#[test]
fn an_executable_conf_streams_the_image() {
    let dir = tempfile::tempdir().unwrap();
    let (conf, built) = fixture_image(dir.path());
    let script = dir.path().join("stream-image");
    let body = fs::read(&conf).unwrap();
    let mut text = format!("#!{} stream\n", env!("CARGO_BIN_EXE_stowage")).into_bytes();
    text.extend_from_slice(&body);
    fs::write(&script, text).unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let streamed = run(&mut std::process::Command::new(&script)).stdout;
    assert_eq!(Sha256::digest(&streamed), Sha256::digest(&built));
    let retagged = run(std::process::Command::new(&script).args(["-t", "renamed:1"])).stdout;
    assert_eq!(
        DockerArchive::from_bytes(&retagged).manifest[0]["RepoTags"],
        json!(["renamed:1"])
    );
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let (conf, _) = fixture_image(dir.path());
    let mut child = stowage()
        .arg("stream")
        .arg(&conf)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit status {:?}", out.status);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn a_base_image_contributes_its_layers_and_config_first() {
    let dir = tempfile::tempdir().unwrap();
    let (app, lib) = fixture_store_paths();
    let base_dir = dir.path().join("base");
    fs::create_dir(&base_dir).unwrap();
    let base_conf = write_conf(
        &base_dir,
        json!({"store_layers": [[lib]], "config": {"Env": ["PATH=/bin", "LANG=C"], "WorkingDir": "/srv", "Cmd": ["/base"]}}),
    );
    let base = dir.path().join("base.tar.gz");
    run(stowage()
        .arg("build")
        .arg(&base_conf)
        .arg("-o")
        .arg(&base)
        .args(["--compress", "gzip"]));
    let base_image = DockerArchive::open_any(&base);

    let conf = write_conf(
        dir.path(),
        json!({"store_layers": [[app]], "from_image": base, "config": {"Env": ["LANG=de_DE.UTF-8"], "Cmd": ["/app"]}}),
    );
    let image = DockerArchive::from_bytes(&run(stowage().arg("stream").arg(&conf)).stdout);
    let diff_ids = image.config["rootfs"]["diff_ids"].as_array().unwrap();
    assert_eq!(diff_ids.len(), 2);
    assert_eq!(diff_ids[0], base_image.config["rootfs"]["diff_ids"][0]);
    assert_eq!(image.layers[0].1, base_image.layers[0].1);
    assert_eq!(
        image.config["config"]["Env"],
        json!(["PATH=/bin", "LANG=de_DE.UTF-8"])
    );
    assert_eq!(image.config["config"]["WorkingDir"], json!("/srv"));
    assert_eq!(image.config["config"]["Cmd"], json!(["/app"]));
    assert_eq!(image.config["history"].as_array().unwrap().len(), 2);
}

/// Writes `conf` (a JSON conf file) again behind a `#!` line: a stream script.
fn as_stream_script(conf: &Path) -> PathBuf {
    let script = conf.with_extension("stream");
    let mut text =
        b"#!/nix/store/00000000000000000000000000000000-stowage/bin/stowage stream\n".to_vec();
    text.extend(fs::read(conf).unwrap());
    fs::write(&script, text).unwrap();
    script
}

#[test]
fn a_stream_script_is_a_base_image_as_its_archive_would_be() {
    let dir = tempfile::tempdir().unwrap();
    let (app, lib) = fixture_store_paths();
    let base_dir = dir.path().join("base");
    fs::create_dir(&base_dir).unwrap();
    let base_conf = write_conf(&base_dir, json!({"store_layers": [[lib]]}));
    let base_archive =
        DockerArchive::from_bytes(&run(stowage().arg("stream").arg(&base_conf)).stdout);

    let script = as_stream_script(&base_conf);
    let conf = write_conf(
        dir.path(),
        json!({"store_layers": [[app]], "from_image": script}),
    );
    let image = DockerArchive::from_bytes(&run(stowage().arg("stream").arg(&conf)).stdout);
    assert_eq!(image.layers.len(), 2);
    assert_eq!(image.layers[0].1, base_archive.layers[0].1);
}

#[test]
fn an_error_is_one_line_whatever_the_input_holds() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write_conf(dir.path(), json!({"repo_tag": "evil\n\u{1b}[2Jname:1"}));
    let err = error_of(stowage().arg("stream").arg(&conf));
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert!(err.contains("evil\\n\\x{1b}[2Jname"), "{err:?}");

    // A text file given as fromImage, or as a stream script: named, never echoed.
    let text = dir.path().join("passwd");
    for body in [
        "root:x:0:0:root:/root:/bin/sh\nsecret:line\n",
        "#!/bin/stowage stream\nsecret:line\n",
    ] {
        fs::write(&text, body).unwrap();
        let conf = write_conf(dir.path(), json!({"from_image": text}));
        let err = error_of(stowage().arg("stream").arg(&conf));
        assert_eq!(err.lines().count(), 1, "{err:?}");
        assert!(
            err.contains(text.to_str().unwrap()) && !err.contains("secret"),
            "{err:?}"
        );
    }
}

#[test]
fn a_fifo_or_an_endless_file_is_refused_not_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("base.fifo");
    let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    let conf = write_conf(dir.path(), json!({"from_image": fifo}));
    let err = error_of(stowage().arg("stream").arg(&conf));
    assert!(err.ends_with("is not a regular file (a pipe or a device?); fromImage must be an image archive or a stream script in a file"), "{err}");
    // A conf, graph or pipeline that is a device or a FIFO: one line naming it.
    let conf = write_conf(dir.path(), json!({"layering": {"graph": []}}));
    let cases = [
        vec!["stream", "/dev/zero"],
        vec!["layers", "--graph", "/dev/zero"],
        vec!["layers", "--graph", fifo.to_str().unwrap()],
        vec![
            "layers",
            "--graph",
            conf.to_str().unwrap(),
            "--pipeline",
            "/dev/zero",
        ],
    ];
    for args in cases {
        let err = error_of(stowage().args(&args));
        let file = if args.contains(&"/dev/zero") {
            "/dev/zero"
        } else {
            fifo.to_str().unwrap()
        };
        assert_eq!(
            err,
            format!("stowage: {file}: is not a regular file (a pipe or a device?)"),
            "{args:?}"
        );
    }
}

#[test]
fn a_stream_script_that_is_its_own_base_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("self.stream");
    let conf = write_conf(dir.path(), json!({"from_image": script}));
    fs::rename(as_stream_script(&conf), &script).unwrap();
    let err = error_of(stowage().arg("stream").arg(&script));
    assert!(
        err.contains(
            "is a stream script whose bases nest deeper than 64; does it name itself as fromImage?"
        ),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn errors_name_what_is_wrong_and_leave_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _lib) = fixture_store_paths();
    let out = dir.path().join("out.tar");
    let build = |conf: &Path| {
        let mut cmd = stowage();
        cmd.arg("build").arg(conf).arg("-o").arg(&out);
        cmd
    };

    let bad_json = dir.path().join("bad.json");
    fs::write(&bad_json, "{ not json").unwrap();
    assert_eq!(
        error_of(&mut build(&bad_json)),
        format!(
            "stowage: {}: not a valid conf: key must be a string at line 1 column 3",
            bad_json.display()
        )
    );

    let missing = app.with_file_name("00000000000000000000000000000000-missing");
    let conf = write_conf(dir.path(), json!({"store_layers": [[missing]]}));
    assert_eq!(
        error_of(&mut build(&conf)),
        format!(
            "stowage: {}: store path does not exist; is it in the closure the conf was made from?",
            missing.display()
        )
    );

    let conf = write_conf(dir.path(), json!({"store_layers": [["/etc"]]}));
    assert_eq!(
        error_of(&mut build(&conf)),
        "stowage: /etc: not a store path: expected /nix/store/<hash>-<name>"
    );

    let custom = customisation_layer(dir.path());
    fs::write(custom.join("checksum"), "0".repeat(64)).unwrap();
    let conf = write_conf(
        dir.path(),
        json!({"store_layers": [[app]], "customisation_layer": custom}),
    );
    let err = error_of(&mut build(&conf));
    let prefix = format!(
        "stowage: customisation layer {}: content has sha256 ",
        custom.join("layer.tar").display()
    );
    assert!(err.starts_with(&prefix), "{err}");
    assert!(err.ends_with(&format!(
        "but sha256 {} was declared; the archive is corrupt or was tampered with",
        "0".repeat(64)
    )));

    let conf = write_conf(
        dir.path(),
        json!({"from_image": dir.path().join("nope.tar")}),
    );
    assert_eq!(
        error_of(&mut build(&conf)),
        format!(
            "stowage: base image {}: cannot open: No such file or directory (os error 2); check fromImage",
            dir.path().join("nope.tar").display()
        )
    );

    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".stowage-") || n == "out.tar")
        .collect();
    assert!(
        leftovers.is_empty(),
        "partial output left behind: {leftovers:?}"
    );
}

#[test]
fn a_truncated_base_layer_is_refused_naming_the_member() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, lib) = fixture_store_paths();
    let base_conf = write_conf(dir.path(), json!({"store_layers": [[lib]]}));
    let base = dir.path().join("base.tar");
    run(stowage().arg("build").arg(&base_conf).arg("-o").arg(&base));
    // Flip one byte inside the layer: the diff_id no longer matches.
    let mut bytes = fs::read(&base).unwrap();
    bytes[512 + 2000] ^= 0xff;
    let tampered = dir.path().join("tampered.tar");
    fs::write(&tampered, &bytes).unwrap();
    let conf = write_conf(dir.path(), json!({"from_image": tampered}));
    let err = error_of(
        stowage()
            .arg("build")
            .arg(&conf)
            .arg("-o")
            .arg(dir.path().join("out.tar")),
    );
    let prefix = format!(
        "stowage: base image {}: member layers/000.tar: content has sha256 ",
        tampered.display()
    );
    assert!(err.starts_with(&prefix), "{err}");
}

/// An image whose build takes minutes: its customisation layer is 8 GiB of zeros (a
/// sparse file, so it costs no disk), gzipped (so the output stays small). The conf and
/// layer live in `dir`; the output goes alone into `dir/out`.
fn slow_build(dir: &Path) -> (std::process::Command, std::path::PathBuf) {
    let layer_dir = dir.join("customisation");
    fs::create_dir(&layer_dir).unwrap();
    fs::File::create(layer_dir.join("layer.tar"))
        .unwrap()
        .set_len(8 << 30)
        .unwrap();
    // `head -c 8G /dev/zero | sha256sum`
    fs::write(
        layer_dir.join("checksum"),
        "ebfb4ef19ae410f190327b5ebd312711263bc7579970e87d9c1e2d84e06b3c25",
    )
    .unwrap();
    let conf = write_conf(dir, json!({"customisation_layer": layer_dir}));
    let out_dir = dir.join("out");
    fs::create_dir(&out_dir).unwrap();
    let mut cmd = stowage();
    cmd.arg("build")
        .arg(&conf)
        .arg("-o")
        .arg(out_dir.join("image.tar.gz"))
        .args(["--compress", "gzip"])
        .stderr(Stdio::null());
    (cmd, out_dir.canonicalize().unwrap())
}

/// A child process killed when the test ends, pass or fail.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `child` has a file in `dir` open with some bytes written: the image being
/// built. Polls, failing after a minute or if the build ends first.
fn wait_for_partial_output(child: &mut Running, dir: &Path) {
    let fds = format!("/proc/{}/fd", child.0.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!("the build ended ({status}) before it could be interrupted");
        }
        let partial = fs::read_dir(&fds).into_iter().flatten().any(|fd| {
            let fd = fd.unwrap().path();
            fs::read_link(&fd).is_ok_and(|target| target.starts_with(dir))
                && fs::metadata(&fd).is_ok_and(|m| m.len() > 0)
        });
        if partial {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no partial output in {} after a minute",
            dir.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Interrupts a build with `signal` once it has written part of the image, and checks
/// that it died of the signal and left nothing in the output's directory.
fn interrupted_build_leaves_nothing(signal: libc::c_int) {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let (mut cmd, out_dir) = slow_build(dir.path());
    let mut child = Running(cmd.spawn().unwrap());
    wait_for_partial_output(&mut child, &out_dir);
    // SAFETY: signalling our own child, which has not been waited for.
    assert_eq!(
        unsafe { libc::kill(child.0.id() as libc::pid_t, signal) },
        0
    );
    let status = child.0.wait().unwrap();
    assert_eq!(status.signal(), Some(signal), "{status}");
    let left: Vec<_> = fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_build_killed_midway_leaves_nothing() {
    interrupted_build_leaves_nothing(libc::SIGKILL);
}

#[test]
fn a_build_terminated_midway_leaves_nothing() {
    interrupted_build_leaves_nothing(libc::SIGTERM);
}
