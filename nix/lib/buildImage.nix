# buildImage: a docker-archive of one new layer on top of a base image's layers.
#
#   docker load -i $(nix-build image.nix)
#
# Takes nixpkgs' buildImage arguments with the same defaults. The new layer holds
# `copyToRoot` copied into the root (a symlink to a directory becomes the directory
# unless `keepContentsDirlinks`), what `extraCommands` make there, owned by uid:gid,
# and the store paths of their closure (and of `config`) that the base image lacks.
# With runAsRoot, the layer is what the script changed, owned by root. Built by stowage in
# the sandbox: no VM, tar, jq or rsync.
{ stowage, tools, system, hostSystem }:

{
  # Image name; a `registry/` prefix stays in the repo tag, derivations use its basename.
  name,
  # Image tag. null: the 32-character hash part of this image's own output path.
  tag ? null,
  # A docker-archive whose layers go below ours (and whose config ours is merged into).
  fromImage ? null,
  # Which image of a multi-image fromImage archive, by repository name and tag; null
  # leaves it open (an archive of several images then needs them).
  fromImageName ? null,
  fromImageTag ? null,
  # Directories (packages, buildEnvs, bare paths) copied into the image root.
  copyToRoot ? null,
  # Deprecated name of copyToRoot, as in nixpkgs.
  contents ? null,
  # Keep symlinks to directories as symlinks instead of copying what they point to.
  keepContentsDirlinks ? false,
  # The image's runtime config (Cmd, Env, …); store paths it mentions are included.
  # Env comes after the base image's (duplicates kept, as nixpkgs does).
  config ? null,
  # GOARCH of the image; null: from the system the contents are built for.
  architecture ? null,
  # Creation time in the image config; "now" is allowed and makes each build differ.
  created ? "1970-01-01T00:00:01Z",
  # Owner of the files of copyToRoot and extraCommands (store paths are root's).
  uid ? 0,
  gid ? 0,
  # Shell commands run in the layer's root directory (as the build user).
  extraCommands ? "",
  # Shell commands run as root in the image, on the base's layers (nixpkgs runs them in
  # a VM; stowage in a user namespace, chrooted into an overlay). What they change is
  # the new layer, deletions included.
  runAsRoot ? null,
  # Sizes of nixpkgs' VM: accepted, nothing to size without one.
  diskSize ? 1024,
  buildVMMemorySize ? 512,
  # Register copyToRoot's closure in /nix/var/nix/db, for `nix` inside the container.
  includeNixDB ? false,
  # Compression of the whole archive: "none" (.tar), "gz" (.tar.gz) or "zstd" (.tar.zst);
  # of each layer for the OCI formats.
  compressor ? "gz",
  # "docker" (a docker-archive), "oci" (an OCI layout directory) or "oci-archive" (its tar).
  format ? "docker",
  meta ? { },
  passthru ? { },
}:
let
  strings = import ./strings.nix;
  checks = import ./checks.nix;
  platform = import ./platform.nix;
  stowageDerivation = import ./stowageDerivation.nix { inherit stowage; };
  runner = import ./runner.nix { inherit stowage tools system; };
  baseName = baseNameOf name;
  checkedSystem = platform.checkedSystem { inherit system hostSystem; };
  imagePlatform = platform.imagePlatform { inherit name architecture hostSystem; };

  rootContents =
    if contents != null && copyToRoot != null then
      throw "stowage: ${name}: give copyToRoot or its deprecated name contents, not both"
    else if contents != null then
      builtins.trace "warning: in docker image ${name}: the contents parameter is deprecated; use copyToRoot (with buildEnv or similar to put packages in /bin)" contents
    else
      copyToRoot;
  rootList =
    if rootContents == null then [ ] else if builtins.isList rootContents then rootContents else [ rootContents ];

  checkedConfig = checks.config name config;

  # The config as a store file: Nix scans it for references, which puts the closure of
  # the config into the image without parsing anything at eval time.
  configFile = stowageDerivation {
    name = "${baseName}-config.json";
    system = checkedSystem;
    command = "write-json";
    value = checkedConfig;
  };

  output = import ./format.nix name format compressor;

  drvAttrs = {
    name = "${baseName}${output.suffix}";
    system = checkedSystem;
    command = "build-image";
    imageName = strings.toLower name;
    imageTag = tag;
    fromImage = checks.archive name "fromImage" fromImage;
    inherit fromImageName fromImageTag keepContentsDirlinks created uid gid extraCommands compressor;
    config = checkedConfig;
    inherit (imagePlatform) architecture;
    variant = imagePlatform.variant or null;
    copyToRoot = rootList;
    tools = "${tools}";
    inherit runAsRoot;
    exportReferencesGraph = {
      graph = rootList ++ [ configFile ];
    } // (if includeNixDB then { nixDbGraph = rootList; } else { });
    # A vehicle for references, not part of the image (as in nixpkgs).
    exclude = [ configFile ];
  } // output.attrs;

  # The result, with `overrideAttrs` re-running the build with changed attributes (as
  # nixpkgs' own tests do with `fromImage`).
  mkImage = attrs:
    let
      image = stowageDerivation attrs;
    in
    # `load`: see runner.nix.
    image // runner { name = baseName; inherit image; } // passthru // {
      imageName = attrs.imageName;
      imageFormat = format;
      imageTag = if attrs.imageTag == null then strings.storeHashPart image.outPath else attrs.imageTag;
      inherit meta;
      overrideAttrs = f: mkImage (attrs // (if builtins.isFunction f then f attrs else f));
    };
in
mkImage drvAttrs
