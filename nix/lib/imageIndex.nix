# imageIndex: images of several platforms under one name (a multi-arch image).
#
#   skopeo copy --all oci:$(nix-build index.nix -A layout):app:1.0 docker://…
#
# The result is an index file, a small JSON naming the images by store path (they are
# referenced, not copied):
#   {"stowageIndex":1,"name":"app","tag":"1.0","images":["/nix/store/…",…]}
# which `stowage build --format oci-dir` (and `stowage push`) read. `layout` is that
# built: an OCI layout directory whose index.json names one image index, each image
# under its platform. The images are stream scripts (streamLayeredImage, cheapest: their
# layers are written only into the layout) or docker-archives (buildLayeredImage,
# buildImage, pullImage), one per platform (os/architecture/variant; the builder
# refuses two of one platform, which a client could never pick).
{ stowage, tools, system, ... }:

{
  # The index's name, lower-cased as the images' are.
  name,
  # Its tag; null: "latest".
  tag ? null,
  images,
  # How the layout's layers are compressed: "gz", "zstd" or "none".
  compressor ? "gz",
}:
let
  strings = import ./strings.nix;
  checks = import ./checks.nix;
  stowageDerivation = import ./stowageDerivation.nix { inherit stowage; };
  baseName = baseNameOf name;
  imageName = strings.toLower name;
  checked =
    if !(builtins.isList images) then
      throw "stowage: imageIndex ${name}: images must be a list of images, not a ${builtins.typeOf images}"
    else if images == [ ] then
      throw "stowage: imageIndex ${name}: images is empty; give one image per platform"
    else
      builtins.genList (i: "${checks.archive "imageIndex ${name}" "images[${toString i}]" (builtins.elemAt images i)}") (builtins.length images);

  indexFile = stowageDerivation {
    name = "${baseName}-index.json";
    inherit system;
    command = "write-json";
    value = {
      stowageIndex = 1;
      name = imageName;
      inherit tag;
      images = checked;
    };
  };

  output = import ./format.nix name "oci" compressor;
  layout = stowageDerivation ({
    name = "${baseName}${output.suffix}";
    inherit system compressor;
    command = "archive";
    image = indexFile;
  } // output.attrs);
in
# `push`: the images and the index (or manifest list, with --format docker) to a
# registry; see runner.nix.
indexFile
// import ./runner.nix { inherit stowage tools system; } {
  name = baseName;
  image = null;
  pushable = indexFile;
}
// {
  inherit imageName layout;
  imageTag = if tag == null then "latest" else tag;
}
