# Everything the examples and the end-to-end tests need on a machine without nixpkgs:
# the stowage package from a locally built static binary, busybox as the tools, and the
# stowage library instantiated with both.
#
#   let s = import ./nix/test-support.nix { }; in s.lib.buildLayeredImage { … }
{
  stowageBinary ? import ./static-binary.nix,
  busybox ? /usr/bin/busybox,
  system ? builtins.currentSystem,
}:
let
  bb = import ./busybox.nix { inherit busybox system; };
  stowage = import ./stowage-static.nix { binary = stowageBinary; inherit busybox system; };
  tools = bb.tools;
in
{
  inherit stowage tools;
  busybox = bb.busybox;
  lib = import ./lib { inherit stowage tools system; };
}
