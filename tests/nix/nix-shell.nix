# Images of streamNixShellImage and buildNixShellImage for tests/tests/nix_shell.rs: twins
# of nixpkgs' docker-tools-nix-shell subtests (basic, hook, inputs, passAsFile, run,
# command, writable home, nonexistent home, build derivation). nixpkgs' stdenv, hello and
# mkShell are missing here: the busybox stand-ins of nix/test-support.nix play them.
#
#   nix-build tests/nix/nix-shell.nix -A basic --option sandbox true --option substituters ''
{
  stowageBinary ? import ../../nix/static-binary.nix,
  busybox ? /usr/bin/busybox,
  system ? builtins.currentSystem,
}:
let
  support = import ../../nix/test-support.nix { inherit stowageBinary busybox system; };
  inherit (support) lib;
  inherit (support.packages) hello mkShell;

  interactivity = ''
    case "$-" in
      *i*) echo This shell is interactive ;;
      *) echo This shell is not interactive ;;
    esac
  '';

  # $HOME is the build user's home, as `~user` resolves it through /etc/passwd.
  homeIsConsistent = ''[ "$HOME" = "$(eval "echo ~$(whoami)")" ] || { echo "HOME $HOME is not ~$(whoami)"; exit 1; }'';

  image = name: args: lib.streamNixShellImage ({ name = "stowage-nix-shell/${name}"; tag = "latest"; } // args);
in
{
  basic = image "basic" { drv = hello; };
  basicArchive = lib.buildNixShellImage { drv = hello; name = "stowage-nix-shell/basic-archive"; tag = "latest"; };
  hook = image "hook" {
    drv = mkShell { shellHook = ''
      echo "This is the shell hook!"
      exit
    ''; };
  };
  inputs = image "inputs" {
    drv = mkShell { nativeBuildInputs = [ hello ]; };
    command = "hello";
  };
  passAsFile = image "pass-as-file" {
    drv = mkShell { str = "this is a string"; passAsFile = [ "str" ]; };
    command = ''cat "$strPath"'';
  };
  run = image "run" { drv = mkShell { }; run = interactivity; };
  command = image "command" { drv = mkShell { }; command = interactivity; };
  writableHome = image "writable-home" {
    drv = mkShell { };
    run = ''
      ${homeIsConsistent}
      touch "$HOME/test" || exit 1
      echo home is writable
    '';
  };
  nonexistentHome = image "nonexistent-home" {
    drv = mkShell { };
    homeDirectory = "/homeless-shelter";
    run = ''
      ${homeIsConsistent}
      [ ! -e "$HOME" ] || { echo "$HOME exists"; exit 1; }
      echo home does not exist
    '';
  };
  buildDerivation = image "build-derivation" {
    drv = hello;
    run = ''
      buildDerivation && $out/bin/hello
    '';
  };
  # Mistakes named at evaluation.
  commandAndRun = image "command-and-run" { drv = hello; command = "a"; run = "b"; };
  structured = image "structured" { drv = mkShell { __structuredAttrs = true; }; };
}
