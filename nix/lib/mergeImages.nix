# mergeImages: several image archives in one docker-archive, from which one
# `docker load` loads every image under every one of its tags.
#
#   docker load -i $(nix-build merged.nix)
#
# As nixpkgs: takes a list of image archives (buildLayeredImage results, nixpkgs'
# buildImage and buildLayeredImage results, `docker save` files; plain, gzip or zstd,
# told apart by content) and names the result merge-docker-images, compressed as the
# last input is. stowage reads the inputs in place: layers two images share are written
# once, configs and layers byte for byte (image IDs and owners unchanged).
{ stowage, tools, system }:

images:
let
  stowageDerivation = import ./stowageDerivation.nix { inherit stowage; };
  checks = import ./checks.nix;
  # A stream script prints an archive but is none; say so before building.
  checked = map (
    image:
    if image.isExe or false then
      throw "stowage: mergeImages: ${image.imageName or image.name or "an image"} is a streamLayeredImage script, not an archive; merge buildLayeredImage results"
    else
      checks.archive "mergeImages" (image.imageName or image.name or "an image") image
  ) images;
in
if !builtins.isList images then
  throw "stowage: mergeImages takes a list of image archives, got a ${builtins.typeOf images}"
else if images == [ ] then
  throw "stowage: mergeImages: the list of images is empty; give at least one image archive"
else
  let
    merged = stowageDerivation {
      name = "merge-docker-images";
      inherit system;
      command = "merge-images";
      images = checked;
    };
  in
  # `load` (every image of the archive): see runner.nix. No `push`: a registry
  # reference names one image.
  merged // import ./runner.nix { inherit stowage tools system; } {
    name = "merge-docker-images";
    image = merged;
    pushable = null;
  }
