# Images for tests/tests/load.rs (`stowage load` and the `.load` passthru), each under a
# name of its own so that tests running at once never load over each other's tags.
{
  stowageBinary ? import ../../nix/static-binary.nix,
  busybox ? /usr/bin/busybox,
}:
let
  inherit (import ../../nix/test-support.nix { inherit stowageBinary busybox; }) lib tools;
  # Busybox, and a Cmd that says which image it is.
  says = name: words: {
    inherit name;
    tag = "v1";
    contents = [ tools ];
    config.Cmd = [ "${tools}/bin/busybox" "echo" words ];
  };
in
{
  stream = lib.streamLayeredImage (says "stowage-e2e/load-stream" "loaded from a stream script");
  # nixpkgs' default compressor, gz: Docker takes it, podman would not.
  layered-gz = lib.buildLayeredImage (says "stowage-e2e/load-layered" "loaded from a gzip archive");
  build-image = lib.buildImage {
    name = "stowage-e2e/load-build-image";
    tag = "v1";
    copyToRoot = tools;
    config.Cmd = [ "/bin/echo" "loaded from a buildImage archive" ];
  };
  podman-stream = lib.streamLayeredImage (says "stowage-e2e/load-podman-stream" "podman loaded a stream script");
  # zstd: podman takes it, Docker would not; stowage sends it decompressed either way.
  podman-zstd = lib.buildLayeredImage (says "stowage-e2e/load-podman-zstd" "podman loaded a zstd archive" // {
    compressor = "zstd";
  });
  passthru = lib.streamLayeredImage (says "stowage-e2e/load-passthru" "loaded by the load passthru");
}
