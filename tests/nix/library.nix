# One image per argument family of streamLayeredImage / buildLayeredImage, for
# tests/tests/library.rs (engines, archives) and tests/tests/library_errors.rs (eval-time
# and build-time errors). Every image has a name of its own under `stowage-lib/`, so the
# tests can load them concurrently without one tag replacing another.
#
#   nix-build tests/nix/library.nix -A derived --option sandbox true
{
  stowageBinary ? import ../../nix/static-binary.nix,
  busybox ? /usr/bin/busybox,
  system ? builtins.currentSystem,
}:
let
  support = import ../../nix/test-support.nix { inherit stowageBinary busybox system; };
  inherit (support) lib tools stowage;

  sh = "${tools}/bin/sh";

  # Small store paths (directories, as contents are) with a real reference among them:
  # leafB refers to leafA.
  leaf = name: text: derivation {
    name = "stowage-lib-${name}";
    inherit system text;
    builder = support.busybox;
    args = [ "sh" "-c" "${support.busybox} mkdir $out && echo \"$text\" > $out/${name}" ];
  };
  leafA = leaf "leaf-a" "leaf a";
  leafB = leaf "leaf-b" "leaf b, which refers to ${leafA}";
  leafC = leaf "leaf-c" "leaf c";
  leafD = leaf "leaf-d" "leaf d";

  # Reached only through the config's Cmd.
  cmdScript = builtins.toFile "stowage-lib-cmd.sh" ''
    ls /nix/store
    cat "$(cat /etc/written-ref)"
  '';
  # Reached only through a file that extraCommands writes.
  onlyWritten = builtins.toFile "stowage-lib-only-written" "reached through /etc/written-ref\n";

  # The fixture tree of tests/nix/images.nix, as a bare path (copied to the store).
  fixtureTree = ./fixture-tree;

  # The same arguments, once for streamLayeredImage and once for buildLayeredImage.
  passthruArgs = {
    name = "stowage-lib/Passthru";
    tag = "p1";
    contents = [ leafA ];
    passthru = {
      answer = 42;
      nested.flag = true;
    };
    meta = {
      description = "An image that carries passthru and meta";
      license = "MIT";
    };
  };

  # Two layers: one store layer (tools and leafC, which alone would make two) and the
  # customisation layer.
  base = lib.buildLayeredImage {
    name = "stowage-lib/base";
    tag = "v1";
    contents = [ tools leafC ];
    maxLayers = 2;
    config = {
      Env = [ "BASE_ONLY=from-base" "SHARED=from-base" ];
      WorkingDir = "/base-wd";
    };
    extraCommands = ''
      mkdir -p base-wd
      echo from-base > base-wd/marker
    '';
  };

  # includeNixDB, spelt as an argument and through buildLayeredImageWithNixDb.
  # Uncompressed: skopeo 1.9 reads no gzip docker-archive, and the test unpacks it.
  nixDbArgs = {
    tag = "v1";
    compressor = "none";
    contents = [ tools leafB ];
    config.Cmd = [ sh ];
  };

  # One image, for `times` (fixed created and mtime) and `now`.
  timed = name: created: mtime: lib.buildLayeredImage {
    name = "stowage-lib/${name}";
    tag = "v1";
    inherit created mtime;
    contents = [ tools ];
    extraCommands = "mkdir -p etc && echo made > etc/made";
  };
in
{
  # Exposed for the tests, which compare closures and listings with these paths.
  inherit tools leafA leafB leafC leafD cmdScript onlyWritten stowage;

  # ---------------------------------------------------------------- name and tag
  # Upper case and a registry prefix: the repo tag is lower-cased, the prefix kept, the
  # tag verbatim. Everything else is left at its default (compressor "gz", created,
  # mtime, owners).
  named = lib.buildLayeredImage {
    name = "Registry.Example.COM:5000/Stowage-Lib/Named";
    tag = "Tag-1.0";
    contents = [ tools ];
    config.Cmd = [ "${tools}/bin/true" ];
  };

  # tag = null: the tag is the hash part of the stream's output path.
  untagged = lib.buildLayeredImage {
    name = "Registry.Example.COM:5000/Stowage-Lib/Untagged";
    contents = [ tools ];
    config.Cmd = [ "${tools}/bin/true" ];
  };

  untaggedStream = lib.streamLayeredImage {
    name = "Stowage-Lib/Untagged-Stream";
    contents = [ leafA ];
  };

  # ---------------------------------------------------------------- fromImage, maxLayers
  inherit base;

  # On the layered image above: 2 base layers + 1 store layer + customisation = 4,
  # although leafA, leafB and leafD alone would make three store layers.
  derived = lib.buildLayeredImage {
    name = "stowage-lib/derived";
    tag = "v1";
    fromImage = base;
    maxLayers = 4;
    contents = [ leafA leafB leafD ];
    config = {
      Env = [ "SHARED=from-derived" "OWN=from-derived" ];
      Cmd = [ sh "-c" "env; pwd; cat /base-wd/marker" ];
    };
  };

  # ---------------------------------------------------------------- config
  # Cmd as a string; the other fields must reach the image unchanged.
  configured = lib.buildLayeredImage {
    name = "stowage-lib/configured";
    tag = "v1";
    contents = [ tools ];
    config = {
      Cmd = "${tools}/bin/pwd";
      WorkingDir = "/work-dir";
      User = "1234:5678";
      Env = [ "GREETING=hello world" ];
      ExposedPorts."8080/tcp" = { };
      Volumes."/data" = { };
      Healthcheck = {
        Test = [ "CMD" "${tools}/bin/true" ];
        Interval = 30000000000;
        Timeout = 5000000000;
        Retries = 3;
      };
      Labels."org.example.purpose" = "library tests";
      StopSignal = "SIGINT";
    };
    extraCommands = "mkdir -p configured-marker";
  };

  configEmpty = lib.buildLayeredImage {
    name = "stowage-lib/config-empty";
    tag = "v1";
    contents = [ tools ];
    config = { };
  };

  configNull = lib.buildLayeredImage {
    name = "stowage-lib/config-null";
    tag = "v1";
    contents = [ tools ];
    config = null;
  };

  # ---------------------------------------------------------------- architecture
  arm64 = lib.buildLayeredImage {
    name = "stowage-lib/arm64";
    tag = "v1";
    architecture = "arm64";
    contents = [ leafA ];
  };

  # ---------------------------------------------------------------- created, mtime
  times = timed "times" "2001-02-03T04:05:06Z" "2002-03-04T05:06:07Z";
  now = timed "now" "now" "now";

  # ---------------------------------------------------------------- uid, gid, uname, gname
  owners = lib.buildLayeredImage {
    name = "stowage-lib/owners";
    tag = "v1";
    uid = 1001;
    gid = 1002;
    uname = "alice";
    gname = "staff";
    contents = [ tools ];
  };

  # ---------------------------------------------------------------- maxLayers, layeringPipeline
  # Five store paths: tools, leafA, leafB (-> leafA), leafC, leafD.
  manyLayers = lib.buildLayeredImage {
    name = "stowage-lib/many-layers";
    tag = "v1";
    compressor = "none";
    contents = [ tools leafA leafB leafC leafD ];
  };

  fewLayers = lib.buildLayeredImage {
    name = "stowage-lib/few-layers";
    tag = "v1";
    compressor = "none";
    maxLayers = 3;
    contents = [ tools leafA leafB leafC leafD ];
  };

  # leafC on its own, everything else merged into one layer.
  pipeline = lib.buildLayeredImage {
    name = "stowage-lib/pipeline";
    tag = "v1";
    compressor = "none";
    contents = [ tools leafA leafB leafC leafD ];
    layeringPipeline = [
      [ "split_paths" [ leafC ] ]
      [ "over" "rest" [ "pipe" [ [ "popularity_contest" ] [ "limit_layers" 1 ] ] ] ]
    ];
  };

  # ---------------------------------------------------------------- contents, closure
  # Nothing in contents: the shell and the script come in through the Cmd, onlyWritten
  # through a file extraCommands writes.
  closure = lib.buildLayeredImage {
    name = "stowage-lib/closure";
    tag = "v1";
    config = {
      Cmd = [ sh cmdScript ];
      Env = [ "PATH=${tools}/bin" ];
    };
    extraCommands = ''
      mkdir -p etc
      echo ${onlyWritten} > etc/written-ref
    '';
  };

  # A bare path and a package, merged into the root (the first one wins).
  merged = lib.buildLayeredImage {
    name = "stowage-lib/merged";
    tag = "v1";
    contents = [ fixtureTree tools ];
  };

  # includeStorePaths = false: the store is bind-mounted at run time.
  noStore = lib.buildLayeredImage {
    name = "stowage-lib/no-store";
    tag = "v1";
    compressor = "none";
    includeStorePaths = false;
    contents = [ tools ];
    config.Cmd = [ "/bin/echo" "the store came from the host" ];
  };

  # ---------------------------------------------------------------- commands and perms
  fakeroot = lib.buildLayeredImage {
    name = "stowage-lib/fakeroot";
    tag = "v1";
    compressor = "none";
    contents = [ tools ];
    fakeRootCommands = ''
      mkdir -p data/sub
      echo owned > data/sub/file
      chown -R 12345:12345 data
      chgrp 54321 data/sub/file
    '';
  };

  # Absolute paths in fakeRootCommands are the image's: /etc/marker exists only there.
  fakechroot = lib.buildLayeredImage {
    name = "stowage-lib/fakechroot";
    tag = "v1";
    contents = [ tools ];
    enableFakechroot = true;
    extraCommands = "mkdir -p etc && echo in-the-image > etc/marker";
    fakeRootCommands = ''
      test "$(cat /etc/marker)" = in-the-image
      mkdir -p /data
      echo chrooted > /data/where
      chown 4242:4343 /data/where
    '';
  };

  perms = lib.buildLayeredImage {
    name = "stowage-lib/perms";
    tag = "v1";
    contents = [ tools ];
    extraCommands = ''
      mkdir -p srv/keys
      echo secret > srv/secret
      echo key > srv/keys/a.key
      echo readme > srv/keys/readme
    '';
    perms = [
      { path = "/srv/secret"; mode = "0600"; uid = 1000; gid = 1001; }
      { path = "/srv/keys"; regex = ".*\\.key"; mode = "0640"; gid = 2000; }
    ];
  };

  # ---------------------------------------------------------------- includeNixDB
  nixDb = lib.buildLayeredImage (nixDbArgs // {
    name = "stowage-lib/nix-db";
    includeNixDB = true;
  });

  nixDbWrapper = lib.buildLayeredImageWithNixDb (nixDbArgs // {
    name = "stowage-lib/nix-db-wrapper";
  });

  # ---------------------------------------------------------------- debug
  debug = lib.streamLayeredImage {
    name = "stowage-lib/debug";
    tag = "v1";
    debug = true;
    contents = [ tools leafA ];
  };

  quiet = lib.streamLayeredImage {
    name = "stowage-lib/quiet";
    tag = "v1";
    contents = [ tools leafA ];
  };

  # ---------------------------------------------------------------- passthru, meta
  passthruStream = lib.streamLayeredImage passthruArgs;
  passthruArchive = lib.buildLayeredImage passthruArgs;

  # ---------------------------------------------------------------- errors (library_errors.rs)
  errors = {
    # Would build an image with no command: refused with the field it meant.
    misspeltConfig = lib.buildLayeredImage {
      name = "stowage-lib/misspelt-config";
      config.Cmnd = [ "/bin/sh" ];
    };
    wrongConfigType = lib.streamLayeredImage {
      name = "stowage-lib/wrong-config-type";
      config.Env = "A=1";
    };
    misspeltBuildImageConfig = lib.buildImage {
      name = "stowage-lib/misspelt-build-image-config";
      config = { Entrypiont = [ "/bin/sh" ]; Labels.version = 2; };
    };
    # docker load would refuse the name long after the build.
    badRepoName = lib.buildLayeredImage {
      name = "stowage-lib/a..b";
    };
    maxLayersOne = lib.streamLayeredImage {
      name = "stowage-lib/max-layers-one";
      maxLayers = 1;
    };
    darwin =
      (import ../../nix/lib {
        inherit stowage tools;
        system = "aarch64-darwin";
      }).buildLayeredImage {
        name = "stowage-lib/darwin";
      };
    unknownCompressor = lib.buildLayeredImage {
      name = "stowage-lib/unknown-compressor";
      compressor = "bzip2";
    };
    nixArchitecture = lib.streamLayeredImage {
      name = "stowage-lib/nix-architecture";
      architecture = "x86_64";
    };
    unknownArgument = lib.streamLayeredImage {
      name = "stowage-lib/unknown-argument";
      foo = 1;
    };
    unknownArgumentArchive = lib.buildLayeredImage {
      name = "stowage-lib/unknown-argument";
      foo = 1;
    };
    badPermsMode = lib.buildLayeredImage {
      name = "stowage-lib/bad-perms-mode";
      contents = [ leafA ];
      perms = [ { path = "/"; mode = "rwx"; } ];
    };
    relativePermsPath = lib.buildLayeredImage {
      name = "stowage-lib/relative-perms-path";
      contents = [ leafA ];
      perms = [ { path = "srv"; mode = "0600"; } ];
    };
  };
}
