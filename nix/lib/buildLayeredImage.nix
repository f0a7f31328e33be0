# buildLayeredImage: a docker-archive in the Nix store.
#
#   docker load -i $(nix-build image.nix)
#
# Takes every argument of streamLayeredImage, plus `compressor`; the archive is what the
# stream script would print, written by stowage into $out.
{ stowage, tools, system, streamLayeredImage }:

{
  name,
  # Compression of the whole archive: "none" (.tar), "gz" (.tar.gz) or "zstd" (.tar.zst).
  compressor ? "none",
  ...
}@args:
let
  extensions = {
    none = ".tar";
    gz = ".tar.gz";
    zstd = ".tar.zst";
  };
  extension =
    extensions.${compressor}
      or (throw "buildLayeredImage: compressor must be one of none, gz, zstd (got ${builtins.toJSON compressor})");
  stream = streamLayeredImage (builtins.removeAttrs args [ "compressor" ]);
  image = derivation {
    name = "${baseNameOf name}${extension}";
    inherit system compressor;
    builder = "${stowage}/bin/stowage";
    args = [ "nix" "archive" ];
    __structuredAttrs = true;
    streamScript = stream;
  };
in
image // {
  inherit (stream) imageName imageTag;
  inherit stream;
}
