# An image named for a registry, tagged by its inputs: with `tag = null` the tag is the
# hash part of the image's stream script, so different contents get a different tag,
# and the same contents the same one on every machine.
#
#   nix-build examples/registry-name.nix --option sandbox true --option substituters ''
#   docker load -i result     # Loaded image: registry.example.com/team/app:<hash>
#   nix-instantiate --eval examples/registry-name.nix -A imageTag    # "<hash>"
#   docker run --rm --network=none registry.example.com/team/app:<hash>
#
# Needs the static stowage binary (scripts/build-static builds it).
{
  stowageBinary ? import ../nix/static-binary.nix,
  busybox ? /usr/bin/busybox,
}:
let
  inherit (import ../nix/test-support.nix { inherit stowageBinary busybox; }) lib tools;
in
lib.buildLayeredImage {
  name = "registry.example.com/team/app";
  tag = null;
  contents = [ tools ];
  config.Cmd = [ "${tools}/bin/echo" "app, from registry.example.com/team" ];
}
