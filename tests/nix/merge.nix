# Images for tests/tests/merge.rs: mergeImages of archives built with the library.
#
#   nix-build tests/nix/merge.nix -A forDocker --option sandbox true
#
# `gz`, `none` and `zstd` are one compressor each (`none` also has owners set by
# fakeRootCommands, which a merge must keep), `onBase` is built on `gz`'s layers and
# `untagged` has the hash tag. Each prints its own line. `forDocker` ends with a gzip
# input, so it is gzip (Docker 20.10 loads it); `forPodman` ends with a zstd one (podman
# loads it). `snapshot` merges images made only of files in this directory, so its
# manifest is the same on every machine.
{
  stowageBinary ? import ../../nix/static-binary.nix,
  busybox ? /usr/bin/busybox,
  system ? builtins.currentSystem,
}:
let
  support = import ../../nix/test-support.nix { inherit stowageBinary busybox system; };
  inherit (support) lib tools;

  # An image with busybox that prints `which`; `args` adds to or overrides the rest.
  printing = which: args: lib.buildLayeredImage ({
    name = "stowage-merge/${which}";
    tag = "v1";
    contents = [ tools ];
    extraCommands = "mkdir -p etc && echo merged-${which} > etc/which";
    config.Cmd = [ "${tools}/bin/sh" "-c" "cat /etc/which" ];
  } // args);

  gz = printing "gz" { compressor = "gz"; };
  none = printing "none" {
    compressor = "none";
    fakeRootCommands = ''
      mkdir -p home/alice
      chown 1000:1000 home/alice
    '';
  };
  zstd = printing "zstd" { compressor = "zstd"; };
  untagged = printing "untagged" { tag = null; compressor = "none"; };
  # gz's two layers below its own customisation layer.
  onBase = printing "on-base" { fromImage = gz; contents = [ ]; };

  # Made of tests/nix/fixture-tree alone.
  tree = builtins.path { name = "fixture-tree"; path = ./fixture-tree; };
  fixed = which: args: lib.buildLayeredImage ({
    name = "stowage-merge/snapshot-${which}";
    tag = "v1";
    contents = [ tree ];
  } // args);
  snapA = fixed "a" { compressor = "gz"; };
  snapB = fixed "b" {
    fromImage = snapA;
    contents = [ ];
    compressor = "none";
    extraCommands = "mkdir -p etc && echo b > etc/b";
  };
  snapC = fixed "c" {
    compressor = "zstd";
    extraCommands = "mkdir -p etc && echo c > etc/c";
  };
in
{
  inherit gz none zstd untagged onBase;

  forDocker = lib.mergeImages [ zstd none gz untagged onBase ];
  forPodman = lib.mergeImages [ gz onBase none untagged zstd ];

  snapshot = lib.mergeImages [ snapA snapB snapC ];

  # Evaluation errors (tests/tests/merge.rs).
  errors = {
    empty = lib.mergeImages [ ];
    notAList = lib.mergeImages gz;
    streamScript = lib.mergeImages [ gz (lib.streamLayeredImage { name = "stowage-merge/stream"; }) ];
  };
}
