//! The stowage command line as a user meets it outside Nix, and the tags the Nix
//! library promises.

mod common;

use std::process::{Command, Stdio};

use common::{
    command, nix_build, nix_eval_json, run, run_failing, run_stdout, stowage_binary, temp_dir,
    DockerArchive,
};

#[test]
fn a_closed_pipe_ends_stream_quietly() {
    let dir = temp_dir();
    let script = nix_build("examples/hello.nix", "stream", dir.path());

    // `stowage stream conf | head -c 10`: head leaves after 10 bytes of a multi-megabyte
    // archive, and stowage must take the broken pipe as the end, not as an error.
    let mut stowage = Command::new(stowage_binary())
        .arg("stream")
        .arg(&script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start stowage stream");
    let pipe = stowage.stdout.take().expect("piped stdout");
    let head = command("head", ["-c", "10"])
        .stdin(pipe)
        .output()
        .expect("run head");
    let stowage = stowage.wait_with_output().expect("wait for stowage");
    assert_eq!(head.stdout.len(), 10);
    assert!(
        stowage.status.success(),
        "stowage stream | head -c 10 exited with {}",
        stowage.status
    );
    assert_eq!(
        String::from_utf8_lossy(&stowage.stderr),
        "",
        "stderr must be empty"
    );
}

#[test]
fn repo_tag_flag_overrides_the_conf() {
    let dir = temp_dir();
    let script = nix_build("examples/hello.nix", "stream", dir.path());
    let out = dir.path().join("retagged.tar");
    run_stdout(
        Command::new(stowage_binary())
            .arg("build")
            .arg(&script)
            .arg("-o")
            .arg(&out)
            .args(["-t", "stowage-e2e/retagged:v2"]),
    );
    assert_eq!(
        DockerArchive::open(&out).repo_tag(),
        "stowage-e2e/retagged:v2"
    );
}

#[test]
fn an_untagged_image_is_tagged_with_its_stream_hash() {
    let dir = temp_dir();
    let script = nix_build("tests/nix/images.nix", "untagged", dir.path());
    let attrs = nix_eval_json(
        "let i = (import ./tests/nix/images.nix { inherit stowageBinary; }).untagged; in { inherit (i) imageName imageTag; }",
    );
    let name = attrs["imageName"].as_str().expect("imageName");
    let tag = attrs["imageTag"].as_str().expect("imageTag");
    assert_eq!(name, "registry.example:5000/team/untagged");
    assert_eq!(tag, &script.file_name().unwrap().to_string_lossy()[..32]);
    assert!(script.to_string_lossy().ends_with("-stream-Untagged"));

    let archive = DockerArchive::from_bytes(&run(&mut Command::new(&script)).stdout);
    assert_eq!(archive.repo_tag(), format!("{name}:{tag}"));
}

/// `stowage layers` on a stream script shows the layers it will write: the same store
/// paths, layer by layer, as the archive it streams.
#[test]
fn layers_shows_the_plan_of_a_stream_script() {
    let dir = temp_dir();
    let script = nix_build("examples/hello.nix", "stream", dir.path());
    let report = run_stdout(
        Command::new(stowage_binary())
            .args(["layers", "--format", "json", "--graph"])
            .arg(&script),
    );
    let report: serde_json::Value = serde_json::from_str(&report).expect("JSON report");
    let planned: Vec<Vec<String>> = report["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|layer| serde_json::from_value(layer["paths"].clone()).expect("paths"))
        .collect();
    assert!(!planned.is_empty(), "no layers in {report}");
    let image = DockerArchive::from_bytes(&run(Command::new(&script)).stdout);
    for (i, paths) in planned.iter().enumerate() {
        let mut paths = paths.clone();
        paths.sort();
        assert_eq!(paths, image.layer_store_paths(i), "layer {}", i + 1);
    }
    let err = run_failing(
        Command::new(stowage_binary())
            .args(["layers", "--max-layers", "3", "--graph"])
            .arg(&script),
    );
    assert!(
        err.contains("lists its store_layers already, so --max-layers"),
        "{err}"
    );
}
