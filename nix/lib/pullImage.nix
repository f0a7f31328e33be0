# pullImage: an image from a registry as a docker-archive, pinned by the digest of its
# manifest and the hash of the archive (a fixed-output derivation, so it may reach the
# network).
#
#   lib.pullImage {
#     imageName = "nixos/nix";
#     imageDigest = "sha256:…";
#     hash = "sha256-…";        # `stowage prefetch nixos/nix:2.3` prints the whole call
#   }
#
# Takes nixpkgs' arguments (unknown ones are an error), plus `variant` for the ARM
# variant of a multi-platform image. stowage is the builder: it speaks the registry API
# itself (anonymous token authentication, manifest lists and OCI indexes resolved by
# os/arch/variant), verifies every blob against its digest, and writes the layers as
# served (gzip stays gzip) into an archive tagged finalImageName:finalImageTag, the same
# bytes for the same image. The result works as fromImage.
{ stowage, tools, system, hostSystem }:
let
  platform = import ./platform.nix;
  # nixpkgs' rule: the derivation name may hold neither `/` nor `:`.
  fixName = builtins.replaceStrings [ "/" ":" ] [ "-" "-" ];
  # The architecture of the contents' system, as Docker names it (looked at only when
  # `arch` is not given).
  host = platform.dockerPlatform hostSystem;
in
{
  # [REGISTRY/]REPOSITORY, without tag or digest (Docker Hub when there is no registry).
  imageName,
  # sha256:<hex> of the manifest, or of the index for a multi-platform image.
  imageDigest,
  # The archive's hash: SRI `hash`, or nixpkgs' older `sha256`.
  sha256 ? "",
  hash ? "",
  os ? "linux",
  # GOARCH of the image to pick from an index; the contents' system's by default.
  arch ? host.architecture,
  # ARM variant to pick (v6, v7); by default the contents' system's when `arch` is too.
  variant ? null,
  # false: plain HTTP and unverified certificates allowed (a test registry).
  tlsVerify ? true,
  finalImageName ? imageName,
  finalImageTag ? "latest",
  name ? fixName "docker-image-${finalImageName}-${finalImageTag}.tar",
}@args:
let
  chosenVariant = if variant == null && !(args ? arch) then host.variant else variant;
  image = import ./stowageDerivation.nix { inherit stowage; } {
    inherit name system imageName imageDigest os arch tlsVerify finalImageName finalImageTag;
    variant = chosenVariant;
    command = "pull-image";
    outputHashMode = "flat";
    outputHashAlgo = "sha256";
    outputHash = if hash != "" then hash else sha256;
    # A proxy the user's environment names is how the registry is reached.
    impureEnvVars = [ "http_proxy" "https_proxy" "all_proxy" "no_proxy" "HTTP_PROXY" "HTTPS_PROXY" "ALL_PROXY" "NO_PROXY" ];
  };
in
if hash != "" && sha256 != "" then
  throw "stowage: pullImage ${imageName}: give hash or sha256, not both"
else
  # `load`: see runner.nix.
  image // import ./runner.nix { inherit stowage tools system; } {
    name = fixName (baseNameOf finalImageName);
    inherit image;
  } // {
    imageName = finalImageName;
    imageTag = finalImageTag;
    inherit imageDigest;
  }
