//! nix/overlay.nix serves every name of nixpkgs' `dockerTools` from stowage, except the
//! ones README.md lists under "What the overlay leaves to nixpkgs", each with its reason.
//! The overlay is applied to a package set whose `dockerTools` has a marker for every
//! nixpkgs name, so what is still nixpkgs' is told apart from what is ours.

mod common;

use common::{command, repo_file, run_stdout};
use serde_json::Value;

/// The attributes of `pkgs.dockerTools` in nixpkgs (pkgs/build-support/docker/default.nix,
/// 2023 to 2025): functions, helpers, and nixpkgs' own fixtures.
const NIXPKGS_NAMES: &[&str] = &[
    "binSh",
    "buildImage",
    "buildImageWithNixDb",
    "buildLayeredImage",
    "buildLayeredImageWithNixDb",
    "buildNixShellImage",
    "caCertificates",
    "examples",
    "exportImage",
    "fakeNss",
    "mergeDrvs",
    "mergeImages",
    "mkPureLayer",
    "mkRootLayer",
    "pullImage",
    "runWithOverlay",
    "shadowSetup",
    "shellScript",
    "streamLayeredImage",
    "streamNixShellImage",
    "tarsum",
    "tests",
    "usrBinEnv",
];

/// What the overlay deliberately leaves to nixpkgs (README.md says why).
const LEFT_TO_NIXPKGS: &[&str] = &[
    "examples",
    "mergeDrvs",
    "mkPureLayer",
    "mkRootLayer",
    "runWithOverlay",
    "shellScript",
    "tarsum",
    "tests",
];

/// For each nixpkgs name, whether the overlaid `dockerTools` still has nixpkgs' value.
fn still_nixpkgs() -> Value {
    let names: Vec<String> = NIXPKGS_NAMES.iter().map(|n| format!("\"{n}\"")).collect();
    let expr = format!(
        r#"
        let
          names = [ {names} ];
          marker = name: "nixpkgs' dockerTools.${{name}}";
          prev = {{
            dockerTools = builtins.listToAttrs (map (name: {{ inherit name; value = marker name; }}) names);
          }};
          platform = {{ system = builtins.currentSystem; }};
          final = prev // overlay final prev // {{
            buildPackages = final;
            stdenv = {{ buildPlatform = platform; hostPlatform = platform; }};
            stowage = "/stowage-stand-in";
            buildEnv = {{ name, paths }}: "/tools-stand-in";
            bashInteractive = "/bash-stand-in";
            coreutils = "/coreutils-stand-in";
            cacert = "/cacert-stand-in";
            shadow = "/shadow-stand-in";
          }};
          overlay = import {overlay};
        in
        builtins.listToAttrs (map (name: {{
          inherit name;
          value = final.dockerTools.${{name}} == marker name;
        }}) names)
        "#,
        names = names.join(" "),
        overlay = repo_file("nix/overlay.nix").display(),
    );
    let out = run_stdout(command(
        "nix-instantiate",
        ["--eval", "--strict", "--json", "-E", &expr],
    ));
    serde_json::from_str(&out).expect("nix-instantiate --json prints JSON")
}

#[test]
fn every_nixpkgs_name_is_ours_unless_left_on_purpose() {
    let still = still_nixpkgs();
    let left: Vec<&str> = NIXPKGS_NAMES
        .iter()
        .copied()
        .filter(|name| still[*name] == Value::Bool(true))
        .collect();
    assert_eq!(left, LEFT_TO_NIXPKGS, "names still served by nixpkgs");
}

#[test]
fn the_readme_says_why_each_name_is_left_to_nixpkgs() {
    let readme = std::fs::read_to_string(repo_file("README.md")).expect("read README.md");
    let section = readme
        .split("### What the overlay leaves to nixpkgs")
        .nth(1)
        .expect("README.md has a section \"What the overlay leaves to nixpkgs\"");
    let section = section.split("\n#").next().unwrap_or(section);
    for name in LEFT_TO_NIXPKGS {
        assert!(
            section.contains(&format!("`{name}`")),
            "README.md does not say why `{name}` is left to nixpkgs"
        );
    }
}
