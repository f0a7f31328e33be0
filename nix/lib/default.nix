# The stowage library: every public function, each in its own file named after it.
#
# The seam to the outside world is these arguments and nothing else:
#   stowage  the stowage package (bin/stowage must be a static executable: it runs as
#            the builder in the Nix sandbox, which has no /lib)
#   tools    a package with a shell and coreutils in bin/, for the functions that run
#            user commands (none yet)
#   system   the Nix system the image derivations are built on
{ stowage, tools, system ? builtins.currentSystem }:
let
  callLib = file: extra: import file ({ inherit stowage tools system; } // extra);
  lib = {
    streamLayeredImage = callLib ./streamLayeredImage.nix { };
    buildLayeredImage = callLib ./buildLayeredImage.nix { inherit (lib) streamLayeredImage; };
  };
in
lib
