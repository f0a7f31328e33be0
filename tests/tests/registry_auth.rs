//! `stowage prefetch` against a private registry: Debian's `docker-registry` with
//! htpasswd users and TLS under a CA of the test's own (see common/registry.rs), filled
//! by skopeo with an image made without Nix. Credentials come from the places docker
//! and podman keep them; wrong or missing ones, and an untrusted certificate, are each
//! one clear line.

mod common;

use std::borrow::BorrowMut;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::registry::{field, prefetch_command, tiny_image, Registry, RegistryOptions};
use common::{run_failing, run_stdout, temp_dir};

const USER: &str = "alice";
const PASSWORD: &str = "open sesame";

/// `stowage prefetch IMAGE args` with an environment where the only credentials are
/// those the test names: HOME is `home` (empty unless the test fills it), and none of
/// the variables that point at auth files is set.
fn isolated_prefetch(image: &str, args: &[&str], home: &Path) -> Command {
    let mut cmd = prefetch_command(&[image]);
    cmd.args(args).env("HOME", home);
    for name in [
        "REGISTRY_AUTH_FILE",
        "XDG_RUNTIME_DIR",
        "XDG_CONFIG_HOME",
        "DOCKER_CONFIG",
    ] {
        cmd.env_remove(name);
    }
    cmd
}

/// A private registry holding the tiny image as `hello:v1`, and what the tests use of
/// it.
struct Private {
    registry: Registry,
    /// The image by digest.
    reference: String,
    digest: String,
    cert_dir: String,
    /// An empty HOME in the test's directory.
    home: PathBuf,
}

fn private_registry_with_image(dir: &Path) -> Private {
    let registry = Registry::start_with(RegistryOptions::private(USER, PASSWORD));
    let image = tiny_image(dir, b"hello from a private registry\n");
    let digest = registry.push(&image, "hello", "v1", dir);
    let cert_dir = registry.cert_dir().expect("a TLS registry");
    Private {
        reference: format!("{}/hello@{digest}", registry.host),
        digest,
        cert_dir: cert_dir.to_str().expect("a UTF-8 path").to_owned(),
        home: empty_home(dir),
        registry,
    }
}

/// An empty directory for HOME in `dir`.
fn empty_home(dir: &Path) -> PathBuf {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).expect("create HOME");
    home
}

/// The one line of a failing command's stderr.
fn one_line(mut cmd: impl BorrowMut<Command>) -> String {
    let err = run_failing(cmd.borrow_mut());
    let line = err.trim().to_owned();
    assert!(!line.contains('\n'), "more than one line: {err}");
    line
}

#[test]
fn credentials_from_each_source_reach_a_private_registry_over_tls() {
    let dir = temp_dir();
    let Private {
        registry,
        reference,
        digest,
        cert_dir,
        home,
    } = private_registry_with_image(dir.path());
    let cert_dir = cert_dir.as_str();
    let auth_file = registry.auth_file(dir.path(), USER, PASSWORD);

    // $REGISTRY_AUTH_FILE, as podman and skopeo read it.
    let mut cmd = isolated_prefetch(&reference, &["--cert-dir", cert_dir], &home);
    let by_env = run_stdout(cmd.env("REGISTRY_AUTH_FILE", &auth_file));
    assert_eq!(field(&by_env, "imageDigest"), digest);

    // --authfile, --creds, and Docker's config.json under HOME: the same image.
    let auth_file = auth_file.to_str().expect("a UTF-8 path");
    let creds = format!("{USER}:{PASSWORD}");
    for args in [
        vec!["--cert-dir", cert_dir, "--authfile", auth_file],
        vec!["--cert-dir", cert_dir, "--creds", &creds],
    ] {
        let out = run_stdout(isolated_prefetch(&reference, &args, &home));
        assert_eq!(field(&out, "hash"), field(&by_env, "hash"), "{args:?}");
    }
    std::fs::create_dir_all(home.join(".docker")).expect("create ~/.docker");
    std::fs::copy(auth_file, home.join(".docker/config.json")).expect("copy the auth file");
    let by_docker_config = run_stdout(isolated_prefetch(
        &reference,
        &["--cert-dir", cert_dir],
        &home,
    ));
    assert_eq!(field(&by_docker_config, "hash"), field(&by_env, "hash"));
}

#[test]
fn wrong_or_missing_credentials_are_one_clear_error() {
    let dir = temp_dir();
    let Private {
        registry,
        reference,
        cert_dir,
        home,
        ..
    } = private_registry_with_image(dir.path());
    let cert_dir = cert_dir.as_str();

    let wrong = registry.auth_file(dir.path(), USER, "not the password");
    let mut cmd = isolated_prefetch(&reference, &["--cert-dir", cert_dir], &home);
    let err = one_line(cmd.env("REGISTRY_AUTH_FILE", &wrong));
    let expected = format!(
        "registry {} refused the credentials of user \"alice\" (from {})",
        registry.host,
        wrong.display()
    );
    assert!(err.contains(&expected), "{err}");
    assert!(err.contains("check them or log in again"), "{err}");
    assert!(!err.contains("not the password"), "{err}");

    let err = one_line(isolated_prefetch(
        &reference,
        &["--cert-dir", cert_dir],
        &home,
    ));
    let expected = format!(
        "registry {} wants credentials, and stowage found none for it (looked in {}/.config/containers/auth.json, {}/.docker/config.json): give them with --authfile FILE or --creds USER:PASSWORD",
        registry.host,
        home.display(),
        home.display()
    );
    assert!(err.contains(&expected), "{err}");
}

#[test]
fn an_untrusted_certificate_says_how_to_trust_it() {
    let dir = temp_dir();
    // Bound, not `..`: the rest of the struct would be dropped, the registry with it.
    let Private {
        registry: _registry,
        reference,
        digest,
        home,
        ..
    } = private_registry_with_image(dir.path());
    let creds = format!("{USER}:{PASSWORD}");

    // A loopback registry may speak plain HTTP, but this one speaks TLS: no fallback.
    let err = one_line(isolated_prefetch(&reference, &["--creds", &creds], &home));
    assert!(err.contains("invalid peer certificate"), "{err}");
    assert!(
        err.contains("with --cert-dir DIR, or skip verification with --tls-verify=false"),
        "{err}"
    );

    let insecure = run_stdout(isolated_prefetch(
        &reference,
        &["--creds", &creds, "--tls-verify=false"],
        &home,
    ));
    assert_eq!(field(&insecure, "imageDigest"), digest);
    assert!(insecure.contains("tlsVerify = false;"), "{insecure}");
}

#[test]
fn the_fixture_counts_the_bytes_clients_send() {
    let dir = temp_dir();
    let registry = Registry::start_with(RegistryOptions::private(USER, PASSWORD));
    // Pseudo-random bytes (xorshift) do not compress: skopeo's gzip leaves the layer
    // as large on the wire as on disk.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let content: Vec<u8> = (0..1 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    let image = tiny_image(dir.path(), &content);
    registry.reset_count();
    registry.push(&image, "big", "v1", dir.path());
    let pushed = registry.uploaded_bytes();
    assert!(pushed > 1 << 20, "{pushed} bytes counted for a 1 MiB layer");

    // A second push of the same image sends no layer again.
    registry.reset_count();
    registry.push(&image, "big", "v2", dir.path());
    let again = registry.uploaded_bytes();
    assert!(
        again < 256 << 10,
        "{again} bytes counted for a push of nothing new"
    );
}

#[test]
fn the_client_certificate_of_the_cert_dir_is_sent() {
    let dir = temp_dir();
    let registry = Registry::start_with(RegistryOptions {
        client_certificates: true,
        ..RegistryOptions::default()
    });
    let image = tiny_image(dir.path(), b"hello to a client certificate\n");
    let digest = registry.push(&image, "hello", "v1", dir.path());
    let reference = format!("{}/hello@{digest}", registry.host);
    let cert_dir = registry.cert_dir().expect("a TLS registry");
    let home = empty_home(dir.path());
    let prefetch = |cert_dir: &Path| {
        let cert_dir = cert_dir.to_str().expect("a UTF-8 path");
        isolated_prefetch(&reference, &["--cert-dir", cert_dir], &home)
    };
    let out = run_stdout(prefetch(&cert_dir));
    assert_eq!(field(&out, "imageDigest"), digest);

    // The CA alone: the registry ends the handshake.
    let ca_only = dir.path().join("ca-only");
    std::fs::create_dir_all(&ca_only).expect("create a cert dir");
    std::fs::copy(cert_dir.join("ca.crt"), ca_only.join("ca.crt")).expect("copy the CA");
    let err = one_line(prefetch(&ca_only));
    assert!(
        err.contains(&format!("GET https://{}/v2/", registry.host)),
        "{err}"
    );

    // A certificate without its key is the cert dir's fault, said before connecting.
    std::fs::copy(cert_dir.join("client.cert"), ca_only.join("client.cert"))
        .expect("copy the client certificate");
    let err = one_line(prefetch(&ca_only));
    assert!(
        err.ends_with(&format!(
            "--cert-dir {}: a client certificate is one NAME.cert with its NAME.key, and there are 1 .cert and 0 .key files",
            ca_only.display()
        )),
        "{err}"
    );
}
