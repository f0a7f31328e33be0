# exportImage: an image's root filesystem as one flat tarball (not a docker-archive):
# its layers applied bottom to top, whiteouts honoured, members named as nixpkgs names
# them (`./`, `./bin/`, `./bin/sh`).
#
#   tar -tf $(nix-build export.nix)
#
# Takes nixpkgs' arguments (unknown ones are an error). stowage reads the archive and
# writes the tarball itself, in the sandbox: no VM, no disk image, nothing unpacked.
# Members are sorted by name and keep the modes, owners, times and symlink targets of
# the layers; hard links become files; device nodes and fifos are refused.
{ stowage, tools, system }:

{
  # The image: a docker-archive from the store (buildLayeredImage, `docker save`
  # output, pullImage, …; plain, gzip or zstd, new or legacy style) or a path to one.
  fromImage,
  # Which image of a multi-image fromImage archive, by repository name and tag; null
  # leaves it open (an archive of several images then needs them).
  fromImageName ? null,
  fromImageTag ? null,
  # Accepted as in nixpkgs, where it sized the VM's disk; there is nothing to size here.
  diskSize ? 1024,
  # The derivation's name: fromImage's, as in nixpkgs (so `hello.tar.gz` for a
  # compressed image, although the tarball is plain), or a path's base name.
  name ? fromImage.name or (builtins.unsafeDiscardStringContext (baseNameOf (toString fromImage))),
}:
import ./stowageDerivation.nix { inherit stowage; } {
  inherit name system fromImageName fromImageTag;
  fromImage = (import ./checks.nix).archive "exportImage ${name}" "fromImage" fromImage;
  command = "export-image";
}
