# The stowage library: every public function, each in its own file named after it.
#
# The seam to the outside world is these arguments and nothing else:
#   stowage  the stowage package (bin/stowage must be a static executable: it runs as
#            the builder in the Nix sandbox, which has no /lib)
#   tools    a package with a shell and coreutils in bin/, for the functions that run
#            user commands (extraCommands, fakeRootCommands)
#   system      the Nix system the image derivations are built on
#   hostSystem  the Nix system the image's contents are for, which gives the default
#               architecture (differs from `system` when cross-compiling)
#   packages    what the helpers point into, by nixpkgs name: bashInteractive (binSh),
#               coreutils (usrBinEnv), cacert (caCertificates), shadow (shadowSetup);
#               a helper whose package is missing says so when it is used
{ stowage, tools, system ? builtins.currentSystem, hostSystem ? system, packages ? { } }:
let
  callLib = file: extra: import file ({ inherit stowage tools system; } // extra);
  lib = {
    streamLayeredImage = callLib ./streamLayeredImage.nix { inherit hostSystem; };
    buildLayeredImage = callLib ./buildLayeredImage.nix { inherit (lib) streamLayeredImage; };
    # As nixpkgs: buildLayeredImage with the contents registered in the image's Nix database.
    buildLayeredImageWithNixDb = args: lib.buildLayeredImage (args // { includeNixDB = true; });
    buildImage = callLib ./buildImage.nix { inherit hostSystem; };
    # As nixpkgs: buildImage with copyToRoot registered in the image's Nix database.
    buildImageWithNixDb = args: lib.buildImage (args // { includeNixDB = true; });
    exportImage = callLib ./exportImage.nix { };
    mergeImages = callLib ./mergeImages.nix { };
    imageIndex = callLib ./imageIndex.nix { };
    pullImage = import ./pullImage.nix { inherit stowage tools system hostSystem; };
    # nix-shell in a container: the layered image nixShellImage.nix describes, streamed
    # or as an archive (gzip unless `compressor` says otherwise, as in nixpkgs; an OCI
    # layout with `format`, as buildLayeredImage's).
    streamNixShellImage = args: lib.streamLayeredImage (nixShellImage args);
    buildNixShellImage = args:
      lib.buildLayeredImage (nixShellImage (builtins.removeAttrs args [ "compressor" "format" ]) // {
        compressor = args.compressor or "gz";
        format = args.format or "docker";
      });
  } // helpers;
  helpers = import ./helpers.nix { inherit stowage system packages; };
  nixShellImage = import ./nixShellImage.nix { inherit stowage system helpers packages; };
in
lib
