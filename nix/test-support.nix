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
  stowageDerivation = import ./lib/stowageDerivation.nix { inherit stowage; };
  # Stand-ins for the nixpkgs packages the helpers point into: busybox's shell as bash,
  # busybox as coreutils and shadow (shadowSetup only needs it on PATH), and a CA bundle
  # that says what it is.
  packages = {
    # bash's `--rcfile FILE` becomes busybox's interactive shell reading FILE first.
    bashInteractive = stowageDerivation {
      name = "bash-stand-in";
      inherit system;
      command = "write-tree";
      executables."bin/bash" = ''
        #!${tools}/bin/sh
        if [ "$1" = --rcfile ]; then
          rc=$2
          shift 2
          ENV=$rc exec ${tools}/bin/sh -i "$@"
        fi
        exec ${tools}/bin/sh "$@"
      '';
    };
    coreutils = tools;
    shadow = tools;
    cacert = stowageDerivation {
      name = "cacert-stand-in";
      inherit system;
      command = "write-tree";
      files."etc/ssl/certs/ca-bundle.crt" = "stowage test stand-in: not a real CA bundle\n";
    };
  };
in
{
  inherit stowage tools packages;
  busybox = bb.busybox;
  lib = import ./lib { inherit stowage tools system packages; };
}
