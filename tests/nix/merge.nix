# Images for tests/tests/merge.rs: mergeImages of archives built with the library.
#
#   nix-build tests/nix/merge.nix -A forDocker --option sandbox true
#
# `gz`, `none` and `zstd` are one compressor each (`none` also has owners set by
# fakeRootCommands, which a merge must keep), `onBase` is built on `gz`'s layers,
# `untagged` has the hash tag and `redis` is nixpkgs' redis example played by busybox
# (buildImage with runAsRoot on a base). Each prints its own line. `forDocker` ends with a gzip
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

  # nixpkgs' redis: buildImage on a base, its runAsRoot writing into a directory of the
  # base, its config with a volume and a health check. Its archive has a `repositories`
  # file, which the layered ones have not.
  redis = lib.buildImage {
    name = "stowage-merge/redis";
    tag = "v1";
    fromImage = gz;
    runAsRoot = ''
      mkdir -p /data
      echo merged-redis > /etc/which
      printf '#!/bin/sh\necho PONG\n' > /bin/healthcheck
      chmod +x /bin/healthcheck
    '';
    config = {
      Cmd = [ "/bin/sh" "-c" "cat /etc/which" ];
      WorkingDir = "/data";
      Volumes."/data" = { };
      Healthcheck = {
        Test = [ "CMD-SHELL" "/bin/healthcheck" ];
        Interval = 30000000000;
        Timeout = 10000000000;
        Retries = 3;
      };
    };
  };

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
  inherit gz none zstd untagged onBase redis;

  forDocker = lib.mergeImages [ zstd none redis gz untagged onBase ];
  forPodman = lib.mergeImages [ gz onBase redis none untagged zstd ];

  snapshot = lib.mergeImages [ snapA snapB snapC ];

  # Evaluation errors (tests/tests/merge.rs).
  errors = {
    empty = lib.mergeImages [ ];
    notAList = lib.mergeImages gz;
    streamScript = lib.mergeImages [ gz (lib.streamLayeredImage { name = "stowage-merge/stream"; }) ];
  };
}
