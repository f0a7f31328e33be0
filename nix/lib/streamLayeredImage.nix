# streamLayeredImage: a script that writes a docker-archive to stdout.
#
#   $(nix-build image.nix) | docker load
#
# The result is nixpkgs' conf.json behind a `#!…/stowage stream` line: running it makes
# stowage stream the image, so no layer is stored in the Nix store.
{ stowage, tools, system }:

{
  # Image name; a `registry/` prefix stays in the repo tag, derivations use its basename.
  name,
  # Image tag. null: the 32-character hash part of this derivation's output path, so the
  # tag changes whenever the image does (as in nixpkgs).
  tag ? null,
  # Store paths whose closures go into the image.
  contents ? [ ],
  # The image's runtime config (Cmd, Env, …); store paths it mentions are included.
  config ? { },
  # GOARCH of the image (written as given, even for contents of another architecture).
  architecture ? "amd64",
  # Creation time in the image config, and mtime of the files in the layers;
  # "now" is allowed and makes the image differ per build.
  created ? "1970-01-01T00:00:01Z",
  mtime ? "1970-01-01T00:00:01Z",
  # Owner written into the layer tar headers.
  uid ? 0,
  gid ? 0,
  uname ? "root",
  gname ? "root",
  # A docker-archive to put the new layers on top of.
  fromImage ? null,
}:
let
  strings = import ./strings.nix;
  baseName = baseNameOf name;
  imageName = strings.toLower name;
  config' = if config == null then { } else config;

  # The config as a store file: Nix scans it for references, which makes the closure
  # of the config part of the image without parsing anything at eval time.
  configFile = derivation {
    name = "${baseName}-config.json";
    inherit system;
    builder = "${stowage}/bin/stowage";
    args = [ "nix" "write-json" ];
    __structuredAttrs = true;
    value = config';
  };

  stream = derivation {
    name = "stream-${baseName}";
    inherit system;
    builder = "${stowage}/bin/stowage";
    args = [ "nix" "stream-script" ];
    __structuredAttrs = true;
    exportReferencesGraph.graph = contents ++ [ configFile ];
    # The config file is a vehicle for references, not part of the image.
    exclude = [ configFile ];
    stowage = "${stowage}/bin/stowage";
    conf = {
      inherit architecture created mtime uid gid uname gname;
      os = "linux";
      config = config';
      store_dir = builtins.storeDir;
      from_image = fromImage;
      customisation_layer = null;
      # Without a tag the builder completes the repo tag from its own output path.
      repo_tag = if tag == null then imageName else "${imageName}:${tag}";
    };
  };
in
stream // {
  inherit imageName;
  imageTag = if tag == null then strings.storeHashPart stream.outPath else tag;
}
