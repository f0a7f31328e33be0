//! dockerTools' helpers (binSh, usrBinEnv, caCertificates, fakeNss, shadowSetup) with
//! nixpkgs' contents, checked from inside running containers; images in
//! tests/nix/helpers.nix.

mod common;

use common::{build_archive, nix_instantiate_command, run_failing, temp_dir, Engine};

const IMAGES: &str = "tests/nix/helpers.nix";

/// Builds `attr`, loads it into `engine` and returns what its command prints.
fn run_image(attr: &str, engine: Engine, args: &[&str]) -> String {
    let dir = temp_dir();
    let (image, archive) = build_archive(IMAGES, attr, dir.path());
    engine.load(&image);
    engine.run(&archive.image_id(), &[], args)
}

#[test]
fn content_helpers_work_inside_the_container() {
    for engine in [Engine::Docker, Engine::Podman] {
        let out = run_image("helpers", engine, &[]);
        assert_eq!(
            out,
            "65534\n1000\nenv works\n\
             stowage test stand-i\nstowage test stand-i\nstowage test stand-i\n\
             var/empty is a directory\n",
            "{engine:?}"
        );
    }
}

/// nixpkgs' `image-with-certs`: the three bundle paths are readable.
#[test]
fn image_with_certs_has_the_bundle_at_every_path() {
    for path in [
        "/etc/ssl/certs/ca-bundle.crt",
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ] {
        run_image("imageWithCerts", Engine::Docker, &["test", "-r", path]);
    }
}

#[test]
fn shadow_setup_prepares_what_useradd_needs() {
    let out = run_image("shadow", Engine::Docker, &[]);
    assert_eq!(
        out,
        "root:x:0:0::/root:/bin/sh\nroot:x:0:\nok\n\
         /etc/gshadow\n/etc/login.defs\n/etc/pam.d/other\n/etc/shadow\n"
    );
}

#[test]
fn a_helper_without_its_package_names_the_argument() {
    let err = run_failing(nix_instantiate_command(IMAGES, "withoutPackages"));
    assert!(
        err.contains("stowage: dockerTools.binSh needs a shell: pass packages.bashInteractive to nix/lib (the overlay passes nixpkgs' bashInteractive)"),
        "{err}"
    );
}
