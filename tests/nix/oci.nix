# Images of tests/tests/oci.rs: the library's `format` argument (OCI layouts from
# buildLayeredImage and buildImage), and imageIndex. Each name is its own, so tests
# running at once never load two images under one tag.
{
  stowageBinary ? import ../../nix/static-binary.nix,
  busybox ? /usr/bin/busybox,
}:
let
  inherit (import ../../nix/test-support.nix { inherit stowageBinary busybox; }) lib tools packages;

  layeredArgs = {
    name = "stowage-e2e/oci-layered";
    tag = "v1";
    contents = [ tools ];
    config.Cmd = [ "${tools}/bin/busybox" "echo" "Hello from an OCI layout" ];
    config.Env = [ "GREETING=oci" ];
  };

  # The same contents for another architecture (GOARCH; the binaries stay the host's,
  # which is enough to inspect an index).
  platformImage = architecture: lib.streamLayeredImage (layeredArgs // {
    name = "stowage-e2e/oci-${architecture}";
    inherit architecture;
  });
in
{
  # An OCI layout directory, layers gzip (the default compressor).
  layered = lib.buildLayeredImage (layeredArgs // { format = "oci"; });
  # Its stream script: `stowage build --format` on it writes the same layout.
  stream = lib.streamLayeredImage layeredArgs;
  # The layout as one tar with zstd layers, for podman load.
  layered-zstd = lib.buildLayeredImage (layeredArgs // {
    name = "stowage-e2e/oci-zstd";
    format = "oci-archive";
    compressor = "zstd";
  });

  built = lib.buildImage {
    name = "stowage-e2e/oci-built";
    tag = "v1";
    copyToRoot = tools;
    config.Cmd = [ "/bin/busybox" "echo" "Hello from buildImage" ];
    format = "oci";
  };

  # nix-shell in a container, as an OCI archive.
  nix-shell = lib.buildNixShellImage {
    drv = packages.hello;
    name = "stowage-e2e/oci-nix-shell";
    tag = "v1";
    format = "oci-archive";
  };

  index = lib.imageIndex {
    name = "stowage-e2e/oci-multi";
    tag = "v1";
    images = [ (platformImage "amd64") (platformImage "arm64") ];
  };

  errors = {
    unknownFormat = lib.buildLayeredImage (layeredArgs // { format = "docker-archive"; });
    unknownImageFormat = lib.buildImage { name = "bad"; format = "oci-dir"; };
    samePlatform = (lib.imageIndex {
      name = "stowage-e2e/oci-same";
      images = [ (platformImage "amd64") (lib.streamLayeredImage (layeredArgs // { architecture = "amd64"; })) ];
    }).layout;
    noImages = lib.imageIndex { name = "empty"; images = [ ]; };
    layoutInIndex = lib.imageIndex {
      name = "layouts";
      images = [ (lib.buildLayeredImage (layeredArgs // { format = "oci"; })) ];
    };
    layoutAsBase = lib.buildImage {
      name = "child";
      fromImage = lib.buildLayeredImage (layeredArgs // { format = "oci"; });
    };
  };
}
