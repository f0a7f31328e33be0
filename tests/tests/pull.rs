//! pullImage and `stowage prefetch` against a real registry (Debian's
//! `docker-registry`) on 127.0.0.1, filled with images we build and push with skopeo:
//! pull by digest through Nix in the sandbox and run the result, a multi-platform
//! index resolved by arch, a wrong hash refused by Nix, a corrupt blob refused by
//! stowage, the pulled archive as fromImage, and a registry demanding a bearer token.
//!
//! Each test starts its own registry (blobs are shared between a registry's
//! repositories, so corrupting one must not touch another test's), killed when the
//! test ends and after ten minutes in any case.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::registry::{field, http_get, prefetch_command, tiny_image, Registry};
use common::{
    command, nix_build, nix_build_command, nix_build_with_link, run_failing, run_stdout, temp_dir,
    DockerArchive, Engine,
};

const IMAGES: &str = "tests/nix/pull.nix";

/// A tag unique to this run, so Nix pulls for real instead of finding the fixed
/// output of an earlier run in the store.
fn run_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_nanos();
    format!("run-{}-{nanos}", std::process::id())
}

/// Builds the `pushed` image for `arch` and pushes it as `hello:<arch>`.
fn push_hello(registry: &Registry, arch: &str, dir: &Path) -> String {
    let image = nix_build(IMAGES, arch, dir);
    registry.push(&image, "hello", arch, dir)
}

/// The arguments that point tests/nix/pull.nix at `registry`, `digest` and `hash`.
fn pull_args<'a>(
    registry: &'a Registry,
    digest: &'a str,
    hash: &'a str,
    tag: &'a str,
) -> Vec<&'a str> {
    vec![
        "--argstr",
        "registry",
        &registry.host,
        "--argstr",
        "digest",
        digest,
        "--argstr",
        "hash",
        hash,
        "--argstr",
        "finalImageTag",
        tag,
    ]
}

#[test]
fn prefetch_pins_what_nix_pulls_and_the_pulled_image_runs_and_is_a_base() {
    let dir = temp_dir();
    let registry = Registry::start();
    let digest = push_hello(&registry, "amd64", dir.path());
    let tag = run_tag();
    let image = format!("{}/hello@{digest}", registry.host);
    let started = Instant::now();
    let expression = run_stdout(prefetch_command(&[
        &image,
        "--final-image-name",
        "stowage-pull/pulled",
        "--final-image-tag",
        &tag,
    ]));
    eprintln!("prefetch took {:?}", started.elapsed());
    assert!(expression.starts_with("pullImage {\n"), "{expression}");
    assert_eq!(field(&expression, "imageDigest"), digest);
    assert_eq!(
        field(&expression, "imageName"),
        format!("{}/hello", registry.host)
    );
    let hash = field(&expression, "hash");
    assert!(hash.starts_with("sha256-"), "{hash}");

    // Nix accepts that hash: the fixed-output derivation reaches 127.0.0.1 from the
    // sandbox, and stowage writes the same bytes there.
    let args = pull_args(&registry, &digest, &hash, &tag);
    let started = Instant::now();
    let pulled = nix_build_with_link(
        nix_build_command(IMAGES, "pulled", &args),
        &dir.path().join("pulled"),
    );
    eprintln!("pullImage took {:?}", started.elapsed());
    let archive = DockerArchive::open(&pulled);
    assert_eq!(archive.repo_tag(), format!("stowage-pull/pulled:{tag}"));
    assert_eq!(archive.config["architecture"], "amd64");
    assert!(
        archive
            .layers
            .iter()
            .all(|(name, _)| name.ends_with(".tar.gz")),
        "{:?}",
        archive.members
    );
    let out = Engine::Docker.run(&loaded(&pulled, &archive), &[], &[]);
    assert_eq!(out.trim(), "hello from a pulled image");

    // As fromImage of buildImage and buildLayeredImage: the base's busybox reads the file
    // the new image adds.
    for attr in ["child", "layered"] {
        let image = nix_build_with_link(
            nix_build_command(IMAGES, attr, &args),
            &dir.path().join(attr),
        );
        let archive = DockerArchive::open_any(&image);
        let out = Engine::Docker.run(&loaded(&image, &archive), &[], &[]);
        assert_eq!(out.trim(), "built on a pulled image", "{attr}");
    }
}

/// Loads `image` into Docker; returns its ID.
fn loaded(image: &Path, archive: &DockerArchive) -> String {
    Engine::Docker.load(image);
    archive.image_id()
}

#[test]
fn an_oci_image_is_pulled_as_served() {
    let dir = temp_dir();
    let registry = Registry::start();
    let image = nix_build(IMAGES, "amd64", dir.path());
    let digest = registry.push_oci(&image, "hello", "oci", dir.path());
    let tag = run_tag();
    let reference = format!("{}/hello@{digest}", registry.host);
    let expression = run_stdout(prefetch_command(&[
        &reference,
        "--final-image-name",
        "stowage-pull/pulled",
        "--final-image-tag",
        &tag,
    ]));
    let hash = field(&expression, "hash");
    let args = pull_args(&registry, &digest, &hash, &tag);
    let pulled = nix_build_with_link(
        nix_build_command(IMAGES, "pulled", &args),
        &dir.path().join("pulled"),
    );
    let archive = DockerArchive::open(&pulled);
    assert!(archive
        .layers
        .iter()
        .all(|(name, _)| name.ends_with(".tar.gz")));
    let out = Engine::Docker.run(&loaded(&pulled, &archive), &[], &[]);
    assert_eq!(out.trim(), "hello from a pulled image");
}

#[test]
fn a_wrong_hash_is_refused_by_nix() {
    let dir = temp_dir();
    let registry = Registry::start();
    let digest = push_hello(&registry, "amd64", dir.path());
    let tag = run_tag();
    let wrong = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let args = pull_args(&registry, &digest, wrong, &tag);
    let err = run_failing(nix_build_command(IMAGES, "pulled", &args));
    assert!(err.contains("hash mismatch"), "{err}");
}

#[test]
fn a_multi_platform_index_is_resolved_by_arch() {
    let dir = temp_dir();
    let registry = Registry::start();
    let amd64 = push_hello(&registry, "amd64", dir.path());
    let arm64 = push_hello(&registry, "arm64", dir.path());
    let entry = |digest: &str, arch: &str| {
        let bytes = run_stdout(
            registry
                .curl(&format!("hello/manifests/{digest}"))
                .arg("-H")
                .arg("Accept: application/vnd.docker.distribution.manifest.v2+json"),
        );
        format!(
            r#"{{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"{digest}","size":{},"platform":{{"os":"linux","architecture":"{arch}"}}}}"#,
            bytes.len()
        )
    };
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{},{}]}}"#,
        entry(&amd64, "amd64"),
        entry(&arm64, "arm64")
    );
    let list = "application/vnd.docker.distribution.manifest.list.v2+json";
    let index_digest = registry.put_manifest("hello", "multi", list, &index);

    // By tag, for each arch: the index's digest pins both, the hashes differ.
    let reference = format!("{}/hello:multi", registry.host);
    let tag = run_tag();
    let prefetch = |arch: &str| {
        run_stdout(prefetch_command(&[
            &reference,
            "--arch",
            arch,
            "--final-image-name",
            "stowage-pull/pulled",
            "--final-image-tag",
            &tag,
        ]))
    };
    let (for_amd64, for_arm64) = (prefetch("amd64"), prefetch("arm64"));
    assert_eq!(field(&for_amd64, "imageDigest"), index_digest);
    assert_eq!(field(&for_arm64, "imageDigest"), index_digest);
    assert_eq!(field(&for_arm64, "arch"), "arm64");
    assert_ne!(field(&for_amd64, "hash"), field(&for_arm64, "hash"));

    let hash = field(&for_arm64, "hash");
    let mut args = pull_args(&registry, &index_digest, &hash, &tag);
    args.extend(["--argstr", "arch", "arm64"]);
    let pulled = nix_build_with_link(
        nix_build_command(IMAGES, "pulled", &args),
        &dir.path().join("pulled"),
    );
    assert_eq!(DockerArchive::open(&pulled).config["architecture"], "arm64");

    let err = run_failing(prefetch_command(&[&reference, "--arch", "s390x"]));
    assert!(
        err.contains("no manifest for linux/s390x; it offers linux/amd64, linux/arm64"),
        "{err}"
    );
}

#[test]
fn a_blob_whose_bytes_do_not_match_its_digest_is_refused() {
    let dir = temp_dir();
    let registry = Registry::start();
    let digest = push_hello(&registry, "amd64", dir.path());
    let manifest: serde_json::Value = serde_json::from_str(&run_stdout(
        command("skopeo", ["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{}/hello@{digest}", registry.host)),
    ))
    .expect("the manifest is JSON");
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .expect("a layer digest")
        .to_owned();
    // Same length, one byte changed: only the digest can tell.
    let file = registry.blob_file(&layer);
    let mut bytes = std::fs::read(&file).expect("read the blob");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&file, bytes).expect("corrupt the blob");

    let err = run_failing(prefetch_command(&[&format!(
        "{}/hello@{digest}",
        registry.host
    )]));
    let line = err.trim();
    assert!(!line.contains('\n'), "{err}");
    assert!(
        line.contains(&format!(
            "blob {layer}: the registry sent bytes with digest sha256:"
        )),
        "{err}"
    );
}

/// A registry that demands a bearer token: every `/v2/` request without
/// `Authorization: Bearer good-token` gets a 401 challenge whose realm is its own
/// `/token`, which hands that token out for the right service and scope. Requests with
/// the token are passed on to `upstream`. It serves until asked for `/quit`, and
/// returns the request targets it saw.
fn token_proxy(upstream: String) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake registry");
    let host = listener.local_addr().expect("its address").to_string();
    let own = host.clone();
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let request = read_request(&mut stream);
            let Some(target) = request
                .first()
                .and_then(|l| l.split(' ').nth(1))
                .map(str::to_owned)
            else {
                continue; // a TLS handshake, which this plain HTTP server drops
            };
            seen.push(target.clone());
            let authorized = request
                .iter()
                .any(|h| h.eq_ignore_ascii_case("authorization: bearer good-token"));
            if target == "/quit" {
                break;
            } else if target == "/token?service=fake-registry&scope=repository%3Ahello%3Apull" {
                respond(&mut stream, "200 OK", &[], br#"{"token":"good-token"}"#);
            } else if target.starts_with("/v2/") && !authorized {
                let challenge = format!(
                    "WWW-Authenticate: Bearer realm=\"http://{own}/token\",service=\"fake-registry\",scope=\"repository:hello:pull\""
                );
                respond(&mut stream, "401 Unauthorized", &[&challenge], b"{}");
            } else if target.starts_with("/v2/") {
                forward(&mut stream, &upstream, &request);
            } else {
                respond(&mut stream, "404 Not Found", &[], b"");
            }
        }
        seen
    });
    (host, handle)
}

/// The request line and headers of an HTTP request; none for a TLS handshake (its
/// first byte is 0x16), which has no lines to wait for.
fn read_request(stream: &mut TcpStream) -> Vec<String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a timeout");
    let mut reader = BufReader::new(stream);
    let mut lines = Vec::new();
    if reader.fill_buf().map_or(true, |b| b.first() == Some(&0x16)) {
        return lines;
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            return lines;
        }
        lines.push(line.trim().to_owned());
    }
}

/// Writes a whole response and closes the connection.
fn respond(stream: &mut TcpStream, status: &str, headers: &[&str], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

/// Replays the request (line, Accept header) to `upstream` and copies the response back.
fn forward(stream: &mut TcpStream, upstream: &str, request: &[String]) {
    let mut up = TcpStream::connect(upstream).expect("connect to the registry");
    let accept = request
        .iter()
        .find(|h| h.to_ascii_lowercase().starts_with("accept:"));
    let line = request[0].replace("HTTP/1.1", "HTTP/1.0");
    let mut head = format!("{line}\r\nHost: {upstream}\r\n");
    if let Some(accept) = accept {
        head.push_str(&format!("{accept}\r\n"));
    }
    head.push_str("\r\n");
    up.write_all(head.as_bytes()).expect("send to the registry");
    let mut response = Vec::new();
    up.read_to_end(&mut response)
        .expect("read the registry's answer");
    let _ = stream.write_all(&response);
}

#[test]
fn a_registry_demanding_a_bearer_token_gets_one_anonymously() {
    let dir = temp_dir();
    let registry = Registry::start();
    // Only prefetched, never run: an image made without Nix will do.
    let image = tiny_image(dir.path(), b"hello behind a token\n");
    let digest = registry.push(&image, "hello", "v1", dir.path());
    let (host, proxy) = token_proxy(registry.host.clone());
    let prefetch = |host: &str| {
        let image = format!("{host}/hello@{digest}");
        run_stdout(prefetch_command(&[
            &image,
            "--final-image-name",
            "stowage-pull/pulled",
        ]))
    };
    let (direct, via_token) = (prefetch(&registry.host), prefetch(&host));
    http_get(&host, "/quit");
    assert_eq!(field(&direct, "hash"), field(&via_token, "hash"));
    let seen = proxy.join().expect("the fake registry ran");
    assert!(seen.iter().any(|t| t.starts_with("/token?")), "{seen:?}");
}
