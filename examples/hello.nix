# The smallest useful image: busybox, and a Cmd that greets.
#
#   nix-build examples/hello.nix --option sandbox true --option substituters ''
#   docker load -i result && docker run --rm --network=none hello:latest
#
# Needs the static stowage binary (scripts/try-hello builds it).
{
  stowageBinary ? import ../nix/static-binary.nix,
  busybox ? /usr/bin/busybox,
}:
let
  inherit (import ../nix/test-support.nix { inherit stowageBinary busybox; }) lib tools;
in
lib.buildLayeredImage {
  name = "hello";
  tag = "latest";
  # An uncompressed .tar (nixpkgs' default is "gz"): the tests compare its bytes with
  # what `stowage build` writes from the same conf.
  compressor = "none";
  contents = [ tools ];
  config.Cmd = [ "${tools}/bin/busybox" "echo" "Hello from a stowage image" ];
}
