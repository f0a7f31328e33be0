# Images the end-to-end tests build besides those in examples/.
#
# `snapshot` is made only of files in this directory, so its bytes depend on nothing of
# the host (not even its busybox): its snapshot holds on every machine.
{
  stowageBinary ? import ../../nix/static-binary.nix,
  busybox ? /usr/bin/busybox,
}:
let
  inherit (import ../../nix/test-support.nix { inherit stowageBinary busybox; }) lib;

  # A content-addressed store path: regular files, an executable, a relative symlink,
  # an empty file, two files with the same bytes (which `nix-store --optimise` hard-links)
  # and a member name only PAX can carry.
  tree = builtins.path { name = "fixture-tree"; path = ./fixture-tree; };

  # A second store path that references the first, reached only through the config.
  launcher = builtins.toFile "launcher" ''
    #!/bin/sh
    exec ${tree}/bin/hello "$@"
  '';

  snapshotArgs = {
    name = "stowage-e2e/snapshot";
    tag = "v1";
    # The uncompressed archive, whose bytes the snapshot and the determinism tests read.
    compressor = "none";
    contents = [ tree ];
    config = {
      Cmd = [ launcher ];
      Env = [ "GREETING=hello" ];
      WorkingDir = "/";
    };
  };
in
{
  inherit tree;

  snapshot = lib.buildLayeredImage snapshotArgs;

  # The same image, compressed as a whole.
  snapshot-gz = lib.buildLayeredImage (snapshotArgs // { compressor = "gz"; });
  snapshot-zstd = lib.buildLayeredImage (snapshotArgs // { compressor = "zstd"; });

  # The same image as an OCI layout (gzip layers, the default), and an index of it for
  # two architectures: their index.json, manifests, configs and image index are pinned.
  snapshot-oci = lib.buildLayeredImage (snapshotArgs // { format = "oci"; compressor = "gz"; });
  snapshot-index = (lib.imageIndex {
    name = "stowage-e2e/snapshot-index";
    tag = "v1";
    images = map
      (architecture: lib.streamLayeredImage (builtins.removeAttrs snapshotArgs [ "compressor" ] // { inherit architecture; }))
      [ "amd64" "arm64" ];
  }).layout;

  # No tag: the tag is derived from the stream script's output path. Upper case in the
  # name is lowered for the image name; the registry prefix stays.
  untagged = lib.streamLayeredImage {
    name = "Registry.Example:5000/Team/Untagged";
    contents = [ tree ];
  };
}
