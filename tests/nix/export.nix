# Images for tests/tests/export.rs: exportImage over a chain of two layered images,
# the top one deleting files of the base with whiteouts (made by extraCommands, which
# writes `.wh.` files into its layer like any other).
#
#   nix-build tests/nix/export.nix -A exported --option sandbox true
{
  stowageBinary ? import ../../nix/static-binary.nix,
  busybox ? /usr/bin/busybox,
  system ? builtins.currentSystem,
}:
let
  support = import ../../nix/test-support.nix { inherit stowageBinary busybox system; };
  inherit (support) lib tools;

  # busybox in /bin, and files that the top image keeps, changes or deletes.
  base = lib.buildLayeredImage {
    name = "stowage-export/base";
    tag = "v1";
    contents = [ tools ];
    extraCommands = ''
      mkdir -p etc doomed-dir/sub opaque-dir
      echo kept > etc/kept
      echo before > etc/changed
      echo doomed > etc/doomed
      echo below > doomed-dir/sub/file
      echo lower > opaque-dir/lower
    '';
  };

  # One layer on the base: whiteouts delete /etc/doomed and /doomed-dir, the opaque
  # marker hides the base's /opaque-dir/lower, and two files are new or changed.
  top = lib.buildLayeredImage {
    name = "stowage-export/top";
    tag = "v1";
    fromImage = base;
    compressor = "none";
    extraCommands = ''
      mkdir -p etc opaque-dir
      touch etc/.wh.doomed .wh.doomed-dir opaque-dir/.wh..wh..opq
      echo after > etc/changed
      echo upper > opaque-dir/upper
    '';
  };
in
{
  inherit base top;

  exported = lib.exportImage { fromImage = top; };

  # Every argument of nixpkgs' exportImage: the same bytes under another name.
  exportedWithArguments = lib.exportImage {
    fromImage = top;
    fromImageName = "stowage-export/top";
    fromImageTag = "v1";
    diskSize = 2048;
    name = "top-root.tar";
  };

  # fromImage as a string, not a derivation: named after the path's base name.
  exportedFromString = lib.exportImage { fromImage = "${top}"; };

  # A gzip-compressed image (buildLayeredImage's default) exports to the same tree.
  exportedBase = lib.exportImage { fromImage = base; };

  errors.unknownArgument = lib.exportImage {
    fromImage = top;
    foo = 1;
  };
}
