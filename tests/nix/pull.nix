# Images for tests/tests/pull.rs: two images to push to a local registry (the same
# contents declared for amd64 and arm64, for a multi-platform index), the pullImage of
# one, and images built on the pulled one.
#
#   nix-build tests/nix/pull.nix -A pulled --option sandbox true \
#     --argstr registry 127.0.0.1:5000 --argstr digest sha256:… --argstr hash sha256-…
{
  stowageBinary ? import ../../nix/static-binary.nix,
  busybox ? /usr/bin/busybox,
  system ? builtins.currentSystem,
  # Where and what to pull: the test's registry, the manifest's digest, the hash
  # `stowage prefetch` printed, the architecture to pick and the tag to give.
  registry ? "127.0.0.1:5000",
  repository ? "hello",
  digest ? "",
  hash ? "",
  arch ? "amd64",
  finalImageTag ? "latest",
}:
let
  support = import ../../nix/test-support.nix { inherit stowageBinary busybox system; };
  inherit (support) lib tools;

  # Uncompressed, since skopeo pushes it (skopeo 1.9 refuses a gzip docker-archive).
  pushed = architecture: lib.buildLayeredImage {
    name = "stowage-pull/hello";
    tag = architecture;
    inherit architecture;
    compressor = "none";
    contents = [ tools ];
    config.Cmd = [ "${tools}/bin/busybox" "echo" "hello from a pulled image" ];
  };

  # A file the images built on the pulled one add (through their Cmd's closure).
  note = builtins.toFile "note" "built on a pulled image\n";
in
rec {
  amd64 = pushed "amd64";
  arm64 = pushed "arm64";

  pulled = lib.pullImage {
    imageName = "${registry}/${repository}";
    imageDigest = digest;
    inherit hash arch finalImageTag;
    finalImageName = "stowage-pull/pulled";
  };

  # buildImage and buildLayeredImage with the pulled archive as fromImage; their Cmd
  # is the base's busybox, reading what they added.
  child = lib.buildImage {
    name = "stowage-pull/child";
    tag = finalImageTag;
    fromImage = pulled;
    config.Cmd = [ "${tools}/bin/busybox" "cat" note ];
  };
  layered = lib.buildLayeredImage {
    name = "stowage-pull/layered";
    tag = finalImageTag;
    fromImage = pulled;
    compressor = "none";
    config.Cmd = [ "${tools}/bin/busybox" "cat" note ];
  };
}
