# The VM test evaluated without nixpkgs, as CI does it here: a stand-in `pkgs` with
# stowage's dockerTools and the busybox stand-ins of nix/test-support.nix, whose
# `testers.runNixOSTest` checks the test's shape and gives a derivation that depends on
# every image the test script names (through the script's string context), so building
# it builds them all. Its output is the test script, which tests/tests/vm.rs parses as
# Python.
#
#   nix-build tests/vm/stand-in.nix --option sandbox true --option substituters ''
{
  stowageBinary ? import ../../nix/static-binary.nix,
  busybox ? /usr/bin/busybox,
  system ? builtins.currentSystem,
}:
let
  support = import ../../nix/test-support.nix { inherit stowageBinary busybox system; };
  fail = message: throw "tests/vm: ${message}";

  runNixOSTest = test:
    let
      nodes = test.nodes or (fail "the test has no nodes");
      enabled = node: engine: nodes.${node}.virtualisation.${engine}.enable or false;
    in
    if !(builtins.isString (test.name or null)) then fail "the test has no name"
    else if !(enabled "docker" "docker") then fail "node docker does not enable virtualisation.docker"
    else if !(enabled "podman" "podman") then fail "node podman does not enable virtualisation.podman"
    else derivation {
      name = "vm-test-${test.name}";
      inherit system;
      builder = support.busybox;
      inherit (test) testScript;
      passAsFile = [ "testScript" ];
      args = [ "sh" "-c" "${support.busybox} cp \"$testScriptPath\" \"$out\"" ];
    };

  pkgs = support.packages // {
    dockerTools = support.lib;
    busybox = support.tools;
    testers = { inherit runNixOSTest; };
  };
in
import ./docker-tools.nix { inherit pkgs; }
