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
  # Stand-ins for nixpkgs packages: those the helpers point into (busybox's shell as
  # bash, busybox as coreutils and shadow, which shadowSetup only needs on PATH, and a
  # CA bundle that says what it is), and a stdenv, hello and mkShell for the nix-shell
  # images and the VM test.
  packages = {
    # bash's `--rcfile FILE` becomes busybox's interactive shell reading FILE first;
    # `--version` says what it is.
    bashInteractive = stowageDerivation {
      name = "bash-stand-in";
      inherit system;
      command = "write-tree";
      executables."bin/bash" = ''
        #!${tools}/bin/sh
        if [ "$1" = --version ]; then
          echo "GNU bash, version 5 (stowage test stand-in: busybox sh)"
          exit
        fi
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

    # stdenv: a setup that puts the build inputs on PATH and defines runHook, which is
    # what nix-shell images need of it.
    stdenv = derivation {
      name = "stdenv-stand-in";
      inherit system;
      builder = bb.busybox;
      args = [ "sh" "-c" ''
        ${bb.busybox} mkdir -p $out
        ${bb.busybox} cat > $out/setup <<'SETUP'
        PATH=${tools}/bin
        for input in $nativeBuildInputs $buildInputs; do PATH=$input/bin:$PATH; done
        export PATH
        runHook() { eval "hook=\''${$1-}"; eval "$hook"; }
        SETUP
      '' ];
    };

    # hello: bin/hello prints "Hello, world!", built by a busybox script.
    hello = derivation {
      name = "hello";
      inherit system;
      inherit (packages) stdenv;
      builder = bb.busybox;
      args = [ "sh" "-c" ''
        ${bb.busybox} mkdir -p $out/bin
        printf '#!%s sh\necho "Hello, world!"\n' ${bb.busybox} > $out/bin/hello
        ${bb.busybox} chmod +x $out/bin/hello
      '' ];
    };

    # mkShell: a derivation that is only ever entered, never built; `packages` are its
    # nativeBuildInputs, as in nixpkgs.
    mkShell = attrs: derivation (builtins.removeAttrs attrs [ "packages" ] // {
      name = attrs.name or "nix-shell";
      inherit system;
      inherit (packages) stdenv;
      builder = bb.busybox;
      args = [ "sh" "-c" "echo this derivation is for nix-shell only; exit 1" ];
      nativeBuildInputs = (attrs.nativeBuildInputs or [ ]) ++ (attrs.packages or [ ]);
    });
  };
in
{
  inherit stowage tools packages;
  busybox = bb.busybox;
  lib = import ./lib { inherit stowage tools system packages; };
}
