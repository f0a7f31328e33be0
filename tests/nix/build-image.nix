# Images of buildImage and buildImageWithNixDb for tests/tests/build_image.rs: one per
# argument, and twins of nixpkgs' docker-tools subtests that use buildImage (stable and
# unstable date, imageTag, compressors, layers order, environment variables, image with
# path, architecture, on top of layered, nix store initialized, prefixed name, repeated
# overrideAttrs). Every image has a name of its own under `stowage-bi/`, so the tests can
# load them concurrently.
#
#   nix-build tests/nix/build-image.nix -A child --option sandbox true
{
  stowageBinary ? import ../../nix/static-binary.nix,
  busybox ? /usr/bin/busybox,
  system ? builtins.currentSystem,
}:
let
  support = import ../../nix/test-support.nix { inherit stowageBinary busybox system; };
  inherit (support) lib tools;

  # A package with a file, a relative symlink and a symlink to a directory.
  linked = derivation {
    name = "stowage-bi-linked";
    inherit system;
    builder = support.busybox;
    args = [
      "sh"
      "-c"
      ''
        bb=${support.busybox}
        $bb mkdir -p $out/share/data $out/etc
        echo data > $out/share/data/file
        $bb ln -s ../share/data $out/etc/data-link
        $bb ln -s file $out/share/data/relative
      ''
    ];
  };

  # nixpkgs' layersOrder: three images, each overwriting files of the one below.
  layer = n: from: lib.buildImage {
    name = "stowage-bi/l${toString n}";
    tag = "latest";
    fromImage = from;
    copyToRoot = if n == 3 then tools else null;
    compressor = "none";
    extraCommands = ''
      mkdir -p tmp
      ${builtins.concatStringsSep "\n" (map (i: "echo layer${toString n} > tmp/layer${toString i}") (builtins.genList (i: i + n) (4 - n)))}
    '';
  };
  l1 = layer 1 null;
  l2 = layer 2 l1;
in
rec {
  inherit tools linked;

  # nixpkgs' `bash`: copyToRoot, tag, default created.
  bash = lib.buildImage {
    name = "stowage-bi/bash";
    tag = "latest";
    copyToRoot = tools;
    config.Cmd = [ "/bin/sh" "-c" "echo hello from buildImage" ];
  };

  # tag = null: the hash part of the image's own output path.
  noTag = lib.buildImage {
    name = "Stowage-BI/No-Tag";
    copyToRoot = tools;
    compressor = "none";
  };

  uncompressed = lib.buildImage {
    name = "stowage-bi/uncompressed";
    tag = "latest";
    compressor = "none";
    copyToRoot = tools;
  };

  zstd = lib.buildImage {
    name = "stowage-bi/zstd";
    tag = "latest";
    compressor = "zstd";
    copyToRoot = tools;
  };

  unstableDate = lib.buildImage {
    name = "stowage-bi/unstable-date";
    tag = "latest";
    created = "now";
    compressor = "none";
  };

  # nixpkgs' environmentVariables: Env is the parent's followed by the child's.
  parent = lib.buildImage {
    name = "stowage-bi/parent";
    tag = "latest";
    compressor = "none";
    config = {
      Env = [ "FROM_PARENT=true" "LAST_LAYER=parent" ];
      WorkingDir = "/parent-wd";
      Labels.from = "parent";
    };
  };
  child = lib.buildImage {
    name = "stowage-bi/child";
    tag = "latest";
    fromImage = parent;
    copyToRoot = tools;
    compressor = "none";
    config = {
      Env = [ "FROM_CHILD=true" "LAST_LAYER=child" ];
      Cmd = [ "/bin/sh" "-c" "env; pwd" ];
    };
  };

  layersOrder = layer 3 l2;

  # The closure of copyToRoot (tools) is in the base already: the new layer has no
  # store paths, and no nix/store entries either.
  overBash = lib.buildImage {
    name = "stowage-bi/over-bash";
    tag = "latest";
    fromImage = uncompressed;
    copyToRoot = linked;
    compressor = "none";
  };

  # nixpkgs' layered-on-top: buildImage over a gzipped buildLayeredImage.
  layered = lib.buildLayeredImage {
    name = "stowage-bi/layered";
    tag = "latest";
    contents = [ tools ];
  };
  layeredOnTop = lib.buildImage {
    name = "stowage-bi/layered-on-top";
    tag = "latest";
    fromImage = layered;
    extraCommands = ''
      mkdir ./example-output
      chmod 777 ./example-output
    '';
    config = {
      Env = [ "PATH=${tools}/bin/" ];
      WorkingDir = "/example-output";
      Cmd = [ "${tools}/bin/sh" "-c" "echo hello > foo; cat foo" ];
    };
  };

  # A streamLayeredImage result as fromImage: streamed, as `$script | docker load` would.
  stream = lib.streamLayeredImage {
    name = "stowage-bi/stream";
    tag = "latest";
    contents = [ tools ];
  };
  onStream = lib.buildImage {
    name = "stowage-bi/on-stream";
    tag = "latest";
    fromImage = stream;
    copyToRoot = linked;
    compressor = "none";
    config.Cmd = [ "/bin/cat" "/share/data/file" ];
  };

  # A base archive of two images: fromImageName and fromImageTag pick one; without them
  # the build fails naming both.
  twoImages = lib.mergeImages [ parent uncompressed ];
  onChosen = lib.buildImage {
    name = "stowage-bi/on-chosen";
    tag = "latest";
    fromImage = twoImages;
    fromImageName = "stowage-bi/uncompressed";
    fromImageTag = "latest";
    compressor = "none";
    config.Cmd = [ "/bin/sh" "-c" "echo chosen" ];
  };
  onAmbiguous = lib.buildImage {
    name = "stowage-bi/on-ambiguous";
    tag = "latest";
    fromImage = twoImages;
    compressor = "none";
  };

  # nixpkgs' repeated-layers test: a hand-made base whose manifest lists its one layer
  # twice (and its config the diff_id twice), under runAsRoot.
  repeatedLayerBase = derivation {
    name = "stowage-bi-repeated-layer.tar";
    inherit system;
    builder = support.busybox;
    args = [
      "sh"
      "-c"
      ''
        set -e
        bb=${support.busybox}
        $bb mkdir work && cd work
        $bb tar -xf ${uncompressed}
        old=$($bb sed 's/.*"Config":"\([0-9a-f]*\).json".*/\1/' manifest.json)
        $bb sed 's/"diff_ids":\["\([^"]*\)"\]/"diff_ids":["\1","\1"]/' $old.json > config
        new=$($bb sha256sum config | $bb cut -d' ' -f1)
        $bb mv config $new.json && $bb rm $old.json
        echo '[{"Config":"'$new'.json","Layers":["layers/000.tar","layers/000.tar"],"RepoTags":["stowage-bi/repeated:latest"]}]' > manifest.json
        $bb tar -cf $out manifest.json $new.json layers
      ''
    ];
  };
  repeatedLayer = lib.buildImage {
    name = "stowage-bi/repeated-layer-test";
    tag = "latest";
    fromImage = repeatedLayerBase;
    copyToRoot = linked;
    compressor = "none";
    runAsRoot = "echo runAsRoot ran";
  };

  # nixpkgs' cross test: the default architecture is the contents' system's (here a
  # stand-in aarch64 host; the image is not run, as nixpkgs does not run it either).
  cross = (import ../../nix/lib {
    inherit (support) stowage tools;
    inherit system;
    hostSystem = "aarch64-linux";
  }).buildImage {
    name = "stowage-bi/hello-cross";
    tag = "latest";
    copyToRoot = linked;
    compressor = "none";
  };

  # The other way round: a layered image on a buildImage result.
  layeredOnBuildImage = lib.buildLayeredImage {
    name = "stowage-bi/layered-on-build-image";
    tag = "latest";
    fromImage = child;
    contents = [ linked ];
    compressor = "none";
    config.Cmd = [ "/bin/sh" "-c" "cat /share/data/file; echo $LAST_LAYER" ];
  };

  # nixpkgs' build-image-with-path and -architecture: a bare path in copyToRoot, and an
  # explicit architecture written as given.
  withPath = lib.buildImage {
    name = "stowage-bi/with-path";
    tag = "latest";
    copyToRoot = [ tools ./fixture-tree ];
    compressor = "none";
  };
  withArchitecture = lib.buildImage {
    name = "stowage-bi/with-architecture";
    tag = "latest";
    architecture = "arm64";
    copyToRoot = [ tools ./fixture-tree ];
    compressor = "none";
  };

  # Owners and dirlinks: uid/gid on copyToRoot's files (store paths stay root's); a
  # symlink to a directory copied as the directory, or kept with keepContentsDirlinks.
  owned = lib.buildImage {
    name = "stowage-bi/owned";
    tag = "latest";
    uid = 1000;
    gid = 1001;
    copyToRoot = linked;
    compressor = "none";
  };
  dirlinksKept = lib.buildImage {
    name = "stowage-bi/dirlinks-kept";
    tag = "latest";
    keepContentsDirlinks = true;
    copyToRoot = linked;
    compressor = "none";
  };

  # The deprecated name of copyToRoot.
  deprecatedContents = lib.buildImage {
    name = "stowage-bi/deprecated-contents";
    tag = "latest";
    contents = linked;
    compressor = "none";
  };

  # nixpkgs' `nix`: buildImageWithNixDb registers copyToRoot's closure.
  nixDb = lib.buildImageWithNixDb {
    name = "stowage-bi/nix-db";
    tag = "latest";
    copyToRoot = [ tools linked ];
    compressor = "none";
  };

  # nixpkgs' repeated-layers test builds its image this way: overrideAttrs must rebuild
  # with the new fromImage.
  overridden = (lib.buildImage {
    name = "stowage-bi/overridden";
    tag = "latest";
    compressor = "none";
  }).overrideAttrs (_: { fromImage = uncompressed; });

  # nixpkgs' prefixedImage: a registry prefix stays in the repository.
  prefixed = lib.buildImage {
    name = "registry-1.docker.io/stowage-bi/image";
    tag = "latest";
    compressor = "none";
    config.Cmd = [ "${tools}/bin/true" ];
  };

  # runAsRoot on a base: adds a file, changes one of the base's, deletes one, replaces
  # a directory, and the hostile text of nixpkgs' #34779 runs as written. extraCommands
  # run after it, in the layer.
  runAsRootBase = lib.buildImage {
    name = "stowage-bi/run-as-root-base";
    tag = "latest";
    copyToRoot = tools;
    compressor = "none";
    extraCommands = ''
      mkdir -p etc data/old-dir
      echo base > etc/motd
      echo keep > etc/keep
      echo untouched > etc/untouched
      echo gone > data/old-dir/gone
      echo 'root:x:0:0:root:/root:/bin/sh' > etc/passwd
      echo 'root:x:0:' > etc/group
    '';
  };
  runAsRoot = lib.buildImage {
    name = "stowage-bi/run-as-root";
    tag = "latest";
    fromImage = runAsRootBase;
    compressor = "none";
    runAsRoot = ''
      #!${tools}/bin/sh
      set -e
      echo '(runAsRoot)' > /runAsRoot
      echo changed > /etc/motd
      rm /etc/keep
      rm -r /data/old-dir
      mkdir /data/old-dir
      echo new > /data/old-dir/new
      test "$(id -u)" = 0
      mkdir -p /home/alice
      echo hi > /home/alice/file
      chown -R 1000:1000 /home/alice
      chown 4321:4321 /etc/untouched
      # chown(2) from programs, not the shell's stand-ins: recorded all the same.
      echo trapped > /etc/trapped
      ${tools}/bin/busybox chown 2000:3000 /etc/trapped
      mkdir -p /home/bob/.config
      ${tools}/bin/busybox chown -R 1500:1500 /home/bob
    '';
    extraCommands = "echo '(extraCommand)' > extraCommands";
    config.Cmd = [ "/bin/sh" "-c" "cat /runAsRoot /extraCommands /etc/motd; ls /etc /data/old-dir; stat -c '%u:%g %n' /etc/trapped /home/bob" ];
  };

  # nixpkgs' layersUnpackOrder: each runAsRoot sees the layers below in order.
  unpackOrder = builtins.foldl' (from: letter: lib.buildImage {
    name = "stowage-bi/unpack-order-${letter}";
    tag = "latest";
    fromImage = from;
    copyToRoot = tools;
    compressor = "none";
    runAsRoot = ''
      printf ${letter} >> /layer-order
    '';
  }) null [ "a" "b" "c" ];

  # Errors at evaluation.
  bothContents = lib.buildImage {
    name = "stowage-bi/both-contents";
    contents = linked;
    copyToRoot = linked;
  };
  unknownArgument = lib.buildImage {
    name = "stowage-bi/unknown";
    copyToRoots = linked;
  };
}
