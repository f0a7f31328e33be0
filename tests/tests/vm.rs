//! tests/vm: the NixOS VM test of stowage's dockerTools, which needs nixpkgs and KVM,
//! checked here without either. tests/vm/stand-in.nix evaluates it with a stand-in
//! `runNixOSTest` and builds every image it names; tests/vm/driver.py then runs its test
//! script against this machine's Docker engine and podman, each playing a node.

mod common;

use common::{command, nix_build, repo_file, run_stdout, temp_dir};

#[test]
fn the_vm_test_script_passes_against_this_machines_engines() {
    let dir = temp_dir();
    let script = nix_build("tests/vm/stand-in.nix", "", dir.path());
    let out = run_stdout(command("python3", [repo_file("tests/vm/driver.py")]).arg(&script));
    // One subtest per function and engine, and the driver's last word.
    let subtests = out.lines().filter(|l| l.starts_with("subtest: ")).count();
    assert_eq!(subtests, 24, "{out}");
    assert!(out.ends_with("all subtests passed\n"), "{out}");
}

/// The functions the VM test leaves to other suites: pullImage needs a registry and a
/// hash pinned against it, which a VM test without network cannot have; tests/tests/pull.rs
/// pulls from a registry it starts on 127.0.0.1.
const NOT_IN_THE_VM: [&str; 1] = ["pullImage"];

/// Every other function and helper stowage serves has a subtest in the VM test.
#[test]
fn the_vm_test_covers_every_function() {
    let script = std::fs::read_to_string(repo_file("tests/vm/docker-tools.nix"))
        .expect("read tests/vm/docker-tools.nix");
    let names = run_stdout(
        command(
            "nix-instantiate",
            [
                "--eval",
                "--json",
                "-E",
                "builtins.attrNames (import ./nix/lib { stowage = \"/s\"; tools = \"/t\"; })",
            ],
        )
        .current_dir(common::repo_root()),
    );
    let names: Vec<String> = serde_json::from_str(&names).expect("a JSON list");
    let titles: Vec<&str> = script.lines().filter(|l| l.contains("subtest(")).collect();
    for name in names
        .into_iter()
        .filter(|n| !NOT_IN_THE_VM.contains(&n.as_str()))
    {
        let named = |title: &&str| {
            title
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|word| word == name)
        };
        assert!(
            titles.iter().any(named),
            "tests/vm/docker-tools.nix has no subtest for {name}"
        );
    }
}
