# stowage as a flake.
#
#   nix build .#image && docker load < result       # the hello image
#   nix build .#stowage                             # the static binary
#   inputs.stowage.overlays.default                 # pkgs.dockerTools, built by stowage
#
# Design: everything here goes through the overlay (nix/overlay.nix), applied with
# `legacyPackages.<system>.extend`; nothing else is taken from nixpkgs. What the flake
# needs from nixpkgs is therefore exactly what the overlay, nix/package.nix and the
# hello image use: callPackage, lib, stdenv, buildPackages, rustPlatform, glibc, buildEnv
# with bash and the GNU utilities, runCommand, busybox, dockerTools and extend.
#
# That small surface is what lets the flake be built offline: tests/tests/flake.rs
# overrides the nixpkgs input with a generated stand-in flake that provides just those
# names, with stowage from a locally built static binary and Debian's static busybox
# for the shell and tools:
#
#   nix build path:<copy of the repo>#image --override-input nixpkgs path:<stand-in> …
#
# Keep that list in step with the stand-in when the overlay starts using more of nixpkgs.
{
  description = "nixpkgs' dockerTools, rebuilt as a Nix library and one static Rust binary";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      # Images hold Linux binaries and the builder runs in a Linux sandbox.
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems =
        f:
        builtins.listToAttrs (
          map (system: {
            name = system;
            value = f system;
          }) systems
        );
      pkgsFor = system: nixpkgs.legacyPackages.${system}.extend self.overlays.default;
    in
    {
      overlays.default = import ./nix/overlay.nix;

      # nixpkgs' dockerTools with stowage's functions in place, per system:
      #   stowage.lib.x86_64-linux.buildLayeredImage { … }
      lib = forAllSystems (system: (pkgsFor system).dockerTools);

      packages = forAllSystems (
        system:
        let
          pkgs = pkgsFor system;
        in
        {
          default = pkgs.stowage;
          inherit (pkgs) stowage;

          # The smallest useful image: busybox, and a Cmd that greets (as examples/hello.nix,
          # with busybox from nixpkgs).
          image = pkgs.dockerTools.buildLayeredImage {
            name = "hello";
            tag = "latest";
            contents = [ pkgs.busybox ];
            config.Cmd = [
              "${pkgs.busybox}/bin/busybox"
              "echo"
              "Hello from a stowage image"
            ];
          };
        }
      );

      checks = forAllSystems (
        system:
        let
          pkgs = pkgsFor system;
          packages = self.packages.${system};
        in
        {
          inherit (packages) stowage image;

          # The binary runs, and says its version.
          stowage-version = pkgs.runCommand "stowage-version" { } ''
            ${packages.stowage}/bin/stowage --version > $out
          '';

          # nix/lib/platform.nix against its table (the file throws on a failing row, so
          # this fails at evaluation, naming the row).
          platform =
            assert import ./tests/nix/platform-tests.nix;
            pkgs.runCommand "stowage-platform-tests" { } "echo ok > $out";
        }
        # The NixOS VM test (docker and podman nodes, one subtest per function), with a
        # real nixpkgs only: the offline stand-in has no testers, and this repository's
        # CI runs the same test script through tests/vm/stand-in.nix instead.
        // (if pkgs ? testers then {
          vm-docker-tools = import ./tests/vm/docker-tools.nix { inherit pkgs; };
        } else { })
      );
    };
}
