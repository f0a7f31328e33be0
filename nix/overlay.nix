# The nixpkgs overlay: `pkgs.stowage`, and `pkgs.dockerTools` with stowage's functions in
# place of nixpkgs' own, so existing `pkgs.dockerTools.buildLayeredImage { … }` calls
# build with stowage unchanged.
#
#   import <nixpkgs> { overlays = [ (import ./nix/overlay.nix) ]; }
#
# The library's seam (nix/lib/default.nix) is three arguments; this file is where
# nixpkgs fills them in, and nix/test-support.nix is where the tests do instead:
#   stowage  the package built by ./package.nix;
#   tools    a shell (bin/sh) and the usual utilities, for the functions that run user
#            commands in the build;
#   system   the system the image derivations are built on.
# Both packages run inside those builds, so they come from buildPackages: on a native
# build that is the same package set, and cross builds (pkgsCross.….dockerTools) get
# builders that run on the build machine.
final: prev:
let
  build = final.buildPackages;
  stowageLib = import ./lib {
    inherit (build) stowage;
    # bash provides bin/sh as well as bin/bash.
    tools = build.buildEnv {
      name = "stowage-tools";
      paths = [
        build.bash
        build.coreutils
        build.findutils
        build.gnugrep
        build.gnused
        build.gnutar
        build.gzip
      ];
    };
    system = final.stdenv.buildPlatform.system;
    # The default architecture is that of the machine the contents are built for.
    hostSystem = final.stdenv.hostPlatform.system;
    # What the helpers (binSh, usrBinEnv, caCertificates, shadowSetup) point into: they
    # go into images, so they are packages of the machine the image is for.
    packages = { inherit (final) bashInteractive coreutils cacert shadow; };
  };
in
{
  stowage = final.callPackage ./package.nix { };

  # nixpkgs' dockerTools keeps what stowage does not provide (the example images, the VM
  # machinery, …; README.md lists them); the functions and helpers stowage has replace
  # nixpkgs' of the same name. pullImage too: stowage's writes other bytes than skopeo,
  # so a `hash` pinned for nixpkgs' fails (Nix prints the new one); nixpkgs' stays as
  # skopeoPullImage for pins that cannot move yet.
  dockerTools = prev.dockerTools // stowageLib // {
    skopeoPullImage = prev.dockerTools.pullImage;
  };
}
