# streamLayeredImage: a script that writes a docker-archive to stdout.
#
#   $(nix-build image.nix) | docker load
#
# The result is nixpkgs' conf.json behind a `#!…/stowage stream` line: running it makes
# stowage stream the image, so no layer is stored in the Nix store. Takes every argument
# of nixpkgs' streamLayeredImage, with the same defaults, plus `perms`.
{ stowage, tools, system, hostSystem }:


{
  # Image name; a `registry/` prefix stays in the repo tag, derivations use its basename.
  name,
  # Image tag. null: the 32-character hash part of this derivation's output path, so the
  # tag changes whenever the image does (as in nixpkgs).
  tag ? null,
  # A docker-archive (or a stowage/nixpkgs image) whose layers go below ours.
  fromImage ? null,
  # Store paths merged into the image root as symlinks; their closures go into the image.
  contents ? [ ],
  # The image's runtime config (Cmd, Env, …); store paths it mentions are included.
  config ? { },
  # GOARCH of the image; null: from `system` (written as given, even for other contents).
  architecture ? null,
  # Creation time in the image config; "now" is allowed and makes each build differ.
  created ? "1970-01-01T00:00:01Z",
  # Modification time of every file in the layers.
  mtime ? "1970-01-01T00:00:01Z",
  # Owner written into the store layers' tar headers.
  uid ? 0,
  gid ? 0,
  uname ? "root",
  gname ? "root",
  # The image's whole layer budget: base layers, store layers and the customisation layer.
  maxLayers ? 100,
  # Shell commands run in the image root before packing (as the build user).
  extraCommands ? "",
  # Shell commands whose chown/chgrp take effect in the image (no root needed).
  fakeRootCommands ? "",
  # Run fakeRootCommands chrooted into the image root, so absolute paths are image paths.
  enableFakechroot ? false,
  # false: no store paths in the image (e.g. they are bind-mounted at run time).
  includeStorePaths ? true,
  # Register the contents' closure in /nix/var/nix/db, for `nix` inside the container.
  includeNixDB ? false,
  # nixpkgs' layering pipeline (a list, or a JSON file); null: the `auto` algorithm.
  layeringPipeline ? null,
  # Modes and owners without commands: [ { path; regex?; mode?; uid?; gid?; uname?; gname?; } ].
  perms ? [ ],
  # Attributes added to the result.
  passthru ? { },
  meta ? { },
  # Print the layer plan, with the reason for each path, in the build log.
  debug ? false,
}:
let
  strings = import ./strings.nix;
  checks = import ./checks.nix;
  platform = import ./platform.nix;
  stowageBin = "${stowage}/bin/stowage";
  stowageDerivation = import ./stowageDerivation.nix { inherit stowage; };
  runner = import ./runner.nix { inherit stowage tools system; };
  baseName = baseNameOf name;
  imageName = strings.toLower name;
  config' = checks.config name (if config == null then { } else config);
  contentsList = if builtins.isList contents then contents else [ contents ];

  checkedSystem = platform.checkedSystem { inherit system hostSystem; };
  imagePlatform = platform.imagePlatform { inherit name architecture hostSystem; };

  checkedMaxLayers =
    if layeringPipeline == null && maxLayers <= 1 then
      throw "stowage: ${name}: the maxLayers argument of dockerTools.buildLayeredImage function must be greater than 1 (current value: ${toString maxLayers})"
    else
      maxLayers;

  # The config as a store file: Nix scans it for references, which makes the closure
  # of the config part of the image without parsing anything at eval time.
  configFile = stowageDerivation {
    name = "${baseName}-config.json";
    system = checkedSystem;
    command = "write-json";
    value = config';
  };

  # layer.tar + checksum, as nixpkgs' conf expects. Its references (contents, and store
  # paths that extraCommands or fakeRootCommands wrote into files) join the closure.
  customisationLayer = stowageDerivation {
    name = "${baseName}-customisation-layer";
    system = checkedSystem;
    command = "customisation-layer";
    contents = contentsList;
    inherit extraCommands fakeRootCommands enableFakechroot mtime uname;
    perms = checks.perms name perms;
    tools = "${tools}";
    exportReferencesGraph = if includeNixDB then { nixDbGraph = contentsList; } else { };
  };

  stream = stowageDerivation {
    name = "stream-${baseName}";
    system = checkedSystem;
    command = "stream-script";
    exportReferencesGraph.graph = if includeStorePaths then [ configFile customisationLayer ] else [ ];
    # Vehicles for references, not part of the image (as in nixpkgs).
    exclude = [ configFile customisationLayer ];
    stowage = stowageBin;
    inherit debug;
    conf = {
      inherit (imagePlatform) architecture;
      variant = imagePlatform.variant or null;
      inherit created mtime uid gid uname gname;
      os = "linux";
      config = config';
      store_dir = builtins.storeDir;
      from_image = checks.archive name "fromImage" fromImage;
      customisation_layer = customisationLayer;
      # Without a tag the builder completes the repo tag from its own output path.
      repo_tag = if tag == null then imageName else "${imageName}:${tag}";
      layering = {
        algorithm = "auto";
        pipeline = layeringPipeline;
        max_layers = checkedMaxLayers;
      };
    };
  };
in
# `load`: see runner.nix.
stream // runner { name = baseName; image = stream; } // passthru // {
  inherit imageName;
  imageTag = if tag == null then strings.storeHashPart stream.outPath else tag;
  # The stream script is the conf itself, behind its #! line.
  conf = stream;
  isExe = true;
  meta = meta // { mainProgram = "stream-${baseName}"; };
}
