# buildLayeredImage: a docker-archive (or an OCI layout) in the Nix store.
#
#   docker load -i $(nix-build image.nix)
#
# Takes every argument of streamLayeredImage (unknown ones are an error there), plus
# `compressor` and `format`; the archive is what the stream script prints, written by
# stowage into $out in one pass (layers in parallel when uncompressed).
{ stowage, tools, system, streamLayeredImage }:

{
  name,
  # Compression of the whole archive: "none" (.tar), "gz" (.tar.gz, nixpkgs' default)
  # or "zstd" (.tar.zst; podman loads it, Docker 20.10 does not).
  compressor ? "gz",
  # "docker" (a docker-archive), "oci" (an OCI layout directory, each layer compressed
  # per `compressor`) or "oci-archive" (that layout as one tar, for `podman load`).
  format ? "docker",
  ...
}@args:
let
  output = import ./format.nix name format compressor;
  stream = streamLayeredImage (builtins.removeAttrs args [ "compressor" "format" ]);
  image = import ./stowageDerivation.nix { inherit stowage; } ({
    name = "${baseNameOf name}${output.suffix}";
    inherit system compressor;
    command = "archive";
    streamScript = stream;
  } // output.attrs);
in
# `load` and `push`: see runner.nix (`stream.load` loads without building the archive;
# `push` reads the stream script, so unchanged layers are known by their store paths).
image
// import ./runner.nix { inherit stowage tools system; } {
  name = baseNameOf name;
  inherit image;
  pushable = stream;
}
// (args.passthru or { }) // {
  inherit (stream) imageName imageTag;
  imageFormat = format;
  inherit stream;
  streamScript = stream;
  meta = args.meta or { };
}
