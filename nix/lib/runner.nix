# Internal: the commands every image of the library carries as attributes, each a
# small executable that runs `stowage <subcommand> <image> "$@"` on the image:
#
#   $(nix-build -A image.load)/bin/load-hello          # into Docker
#   $(nix-build -A image.load)/bin/load-hello --podman  # into podman's service
#   nix run .#image.load
#
# One mechanism for every stowage subcommand that takes an image as its first argument:
# `load` and `push`; another is one more line in the set at the end, and every image
# function gets it. The executable is a two-line script for the shell of `tools`
# (the library's argument), written by `stowage nix write-tree`, so building it runs no
# shell; its closure is stowage, that shell and the image. `meta.mainProgram` names it,
# so `nix run` finds it.
{ stowage, tools, system }:

{
  # The image's base name (`hello` for `registry.example.com/team/hello`): the
  # executable is `bin/<subcommand>-<name>`.
  name,
  # The derivation the subcommand reads: a stream script or an image archive. null: no
  # `load` (an index file: an engine loads one platform's image, not an index).
  image,
  # What `push` reads, when it is not `image`: buildLayeredImage pushes its stream
  # script, whose store layers are known by their paths (an archive is read whole).
  # null: no `push` (an archive of several images: mergeImages).
  pushable ? image,
}:
let
  stowageDerivation = import ./stowageDerivation.nix { inherit stowage; };
  runner = subcommand: image:
    let
      program = "${subcommand}-${name}";
    in
    stowageDerivation {
      name = program;
      inherit system;
      command = "write-tree";
      # Store paths hold no single quote, so quoting them keeps a `?` or `=` in a name
      # from meaning anything to the shell.
      executables."bin/${program}" = ''
        #!${tools}/bin/sh
        exec '${stowage}/bin/stowage' ${subcommand} '${image}' "$@"
      '';
    } // {
      meta.mainProgram = program;
    };
in
(if image == null then { } else {
  # Loads the image into a container engine, streamed through its API socket with no
  # archive written (`stowage load`; arguments: --podman, --host unix:///PATH, -t).
  load = runner "load" image;
})
// (if pushable == null then { } else {
  # Pushes the image to a registry, sending only the layers it lacks (`stowage push`;
  # arguments: docker://REGISTRY/NAME[:TAG], --creds, --authfile, --cert-dir, …):
  #   nix run .#image.push -- docker://registry.example.com/app:1.0
  push = runner "push" pushable;
})
