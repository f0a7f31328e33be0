# Images for tests/tests/compat.rs: twins of nixpkgs' docker-tools subtests
# (nixos/tests/docker-tools.nix, docker-tools-nix-shell.nix, docker-tools-overlay.nix,
# docker-tools-cross.nix) that no other suite has yet. tests/compat/README.md maps every
# subtest to its twin. nixpkgs' hello, bash, nix, nginx and NixOS are missing here, so
# busybox stand-ins play them (each says so below). Every image has a name of its own
# under `stowage-compat/`, so the tests can load them concurrently.
#
#   nix-build tests/nix/compat.nix -A layeredImage --option sandbox true --option substituters ''
{
  stowageBinary ? import ../../nix/static-binary.nix,
  busybox ? /usr/bin/busybox,
  system ? builtins.currentSystem,
  # For 11: a docker-archive written by skopeo, as pullImage writes what it pulls (the
  # test makes it from pulledBase, since no registry outside can be reached).
  pulled ? null,
}:
let
  support = import ../../nix/test-support.nix { inherit stowageBinary busybox system; };
  inherit (support) lib tools;
  sh = "${tools}/bin/sh";

  # A package made by a shell script that writes $out, with busybox's applets on PATH.
  package = name: script: derivation {
    inherit name system;
    builder = support.busybox;
    PATH = "${tools}/bin";
    args = [ "sh" "-ec" script ];
  };

  # An executable shell script at $out/bin/<name>.
  scriptBin = name: text: package name ''
    mkdir -p $out/bin
    cat > $out/bin/${name} <<'SCRIPT'
    #!${sh}
    ${text}
    SCRIPT
    chmod +x $out/bin/${name}
  '';

  # nixpkgs' buildEnv, as the examples use it: the top-level directories of
  # `pathsToLink` of each path, their entries symlinked (the first path wins).
  buildEnv = { name, paths, pathsToLink ? [ "/bin" ] }: package name ''
    for p in ${toString paths}; do
      for d in ${toString pathsToLink}; do
        [ -d "$p$d" ] || continue
        mkdir -p "$out$d"
        for entry in "$p$d"/*; do
          [ -e "$out$d/''${entry##*/}" ] || ln -s "$entry" "$out$d/"
        done
      done
    done
  '';

  # Stand-ins for nixpkgs' packages: hello and bash from nix/test-support.nix; nix has
  # nixpkgs' relative link bin/nix-daemon -> nix.
  hello = support.packages.hello;
  bash = support.packages.bashInteractive;
  nix = package "nix-stand-in" ''
    mkdir -p $out/bin
    printf '#!${sh}\necho "nix (Nix) stand-in"\n' > $out/bin/nix
    chmod +x $out/bin/nix
    ln -s nix $out/bin/nix-daemon
  '';

  nixImageRoot = buildEnv { name = "image-root"; paths = [ tools nix bash ]; };

  # ------------------------------------------------------------ includeStorePaths (1.x)
  helloOnRootArgs = {
    tag = "latest";
    contents = [ (buildEnv { name = "hello-root"; paths = [ hello ]; }) ];
    config.Cmd = [ "hello" ];
  };

  # ------------------------------------------------------------ layered images (15–18)
  layeredImage = lib.buildLayeredImage {
    name = "stowage-compat/layered-image";
    tag = "latest";
    extraCommands = ''echo "(extraCommand)" > extraCommands'';
    config.Cmd = [ "${hello}/bin/hello" ];
    contents = [ hello bash tools ];
  };

  # ------------------------------------------------------------ environment (23, 24)
  envParent = lib.buildImage {
    name = "stowage-compat/env-parent";
    tag = "latest";
    config.Env = [ "FROM_PARENT=true" "LAST_LAYER=parent" ];
  };

  # ------------------------------------------------------------ maxLayers (25, 27)
  twoLayered = lib.buildLayeredImage {
    name = "stowage-compat/two-layered-image";
    tag = "latest";
    config.Cmd = [ "${hello}/bin/hello" ];
    contents = [ bash hello ];
    maxLayers = 2;
  };

  # ------------------------------------------------------------ nixpkgs as a package set
  # A package set of nixpkgs' shape, just big enough for nix/overlay.nix, so images are
  # built as a nixpkgs user builds them: pkgs.dockerTools.<function>. `hostSystem` is
  # the system the contents are for: another one than `system` is a cross package set
  # (pkgsCross.aarch64-multiplatform), whose buildPackages are the native set. The
  # prebuilt stowage is given by a later overlay, as the flake test's stand-in nixpkgs
  # would build it from package.nix.
  withOverlay = hostSystem:
    let
      prev = {
        stdenv = {
          buildPlatform.system = system;
          hostPlatform.system = hostSystem;
        };
        buildPackages = if hostSystem == system then final else withOverlay system;
        inherit buildEnv bash hello;
        bashInteractive = bash;
        coreutils = tools;
        findutils = tools;
        gnugrep = tools;
        gnused = tools;
        gnutar = tools;
        gzip = tools;
        shadow = tools;
        cacert = support.packages.cacert;
        # nixpkgs' dockerTools before the overlay; what stowage replaces is never used.
        dockerTools.pullImage = _: throw "nixpkgs' pullImage needs the network";
      };
      final = prev // import ../../nix/overlay.nix final prev // { inherit (support) stowage; };
    in
    final;
  pkgs = withOverlay system;
  crossPkgs = withOverlay "aarch64-linux";
in
{
  inherit tools hello bash nix;

  # 1.1: hello on the root, found on the engine's default PATH.
  helloOnRoot = lib.streamLayeredImage (helloOnRootArgs // {
    name = "stowage-compat/hello-on-root";
  });
  # 1.2, 1.4, 1.6: the same without the store: /bin/hello dangles.
  helloOnRootNoStore = lib.streamLayeredImage (helloOnRootArgs // {
    name = "stowage-compat/hello-on-root-no-store";
    includeStorePaths = false;
  });
  # 1.3, 1.5, 1.7: the same under enableFakechroot, which binds the store in while the
  # fakeRootCommands run: it must not end up in the layer. nixpkgs gives no commands and
  # still enters the chroot; stowage enters it only to run some, so one runs there,
  # seeing the bound store.
  helloOnRootNoStoreFakechroot = lib.streamLayeredImage (helloOnRootArgs // {
    name = "stowage-compat/hello-on-root-no-store-fakechroot";
    includeStorePaths = false;
    enableFakechroot = true;
    fakeRootCommands = "test -x ${hello}/bin/hello";
  });

  # 6: /etc/passwd from the contents names user 999; the store must be 0755 for them.
  layeredWithUser = lib.buildLayeredImage {
    name = "stowage-compat/bash-layered-with-user";
    tag = "latest";
    contents = [
      bash
      tools
      (package "etc-files" ''
        mkdir -p $out/etc
        echo 'root:!x:::::::' > $out/etc/shadow
        echo 'somebody:!:::::::' >> $out/etc/shadow
        echo 'root:x:0:0::/root:${bash}/bin/bash' > $out/etc/passwd
        echo 'somebody:x:999:999::/home/somebody:' >> $out/etc/passwd
        echo 'root:x:0:' > $out/etc/group
        echo 'somebody:x:999:' >> $out/etc/group
        echo 'root:x::' > $out/etc/gshadow
        echo 'somebody:x::' >> $out/etc/gshadow
      '')
    ];
  };

  # 7, N1 (and 5's image in nixpkgs): buildImageWithNixDb with the nix stand-in.
  # Uncompressed, so skopeo and umoci can unpack it for the host's Nix to read its
  # database.
  nixImage = lib.buildImageWithNixDb {
    name = "stowage-compat/nix";
    tag = "latest";
    compressor = "none";
    copyToRoot = nixImageRoot;
    config.Env = [ "NIX_PAGER=cat" "USER=nobody" ];
  };
  # Its copyToRoot, a GC root in its database.
  inherit nixImageRoot;
  # 8: the same, layered.
  nixLayered = lib.buildLayeredImageWithNixDb {
    name = "stowage-compat/nix-layered";
    tag = "latest";
    compressor = "none";
    contents = [ tools nix bash ];
    config.Env = [ "NIX_PAGER=cat" "USER=nobody" ];
  };
  # N11: streamLayeredImage with includeNixDB.
  nixLayeredStream = lib.streamLayeredImage {
    name = "stowage-compat/nix-layered-stream";
    tag = "latest";
    contents = [ nix bash tools ];
    includeNixDB = true;
    config.Env = [ "NIX_PAGER=cat" ];
  };

  # 10: nixpkgs' nginx example, with busybox httpd as the web server: fakeNss names
  # nobody, whom httpd becomes after binding port 80.
  httpd = lib.buildLayeredImage {
    name = "stowage-compat/httpd-container";
    tag = "latest";
    contents = [ lib.fakeNss tools ];
    extraCommands = "mkdir -p tmp var/log/httpd";
    config = {
      Cmd = [
        "${tools}/bin/httpd" "-f" "-p" "80" "-u" "nobody:nobody" "-h"
        (package "web-root" "mkdir $out && echo '<h1>Hello from busybox httpd</h1>' > $out/index.html")
      ];
      ExposedPorts."80/tcp" = { };
    };
  };

  # 11: the base of onTopOfPulledImage, before skopeo rewrites it.
  pulledBase = lib.buildLayeredImage {
    name = "stowage-compat/pulled-base";
    tag = "latest";
    compressor = "none";
    contents = [ tools ];
  };
  # 11: buildImage on the "pulled" archive; the camel-case name is lower-cased.
  onTopOfPulledImage = lib.buildImage {
    name = "stowage-compat/onTopOfPulledImage";
    tag = "latest";
    fromImage = pulled;
    copyToRoot = buildEnv { name = "image-root"; paths = [ hello ]; };
  };

  # 12: nixpkgs #34779. Both scripts write relative paths (their working directory is
  # the image root), and the parentheses break naive quoting. The name is lower-cased.
  runAsRootExtraCommands = lib.buildImage {
    name = "stowage-compat/runAsRootExtraCommands";
    tag = "latest";
    copyToRoot = buildEnv { name = "image-root"; paths = [ tools ]; };
    runAsRoot = ''echo "(runAsRoot)" > runAsRoot'';
    extraCommands = ''echo "(extraCommand)" > extraCommands'';
  };

  # 14: created = "now", mtime left at its default.
  unstableDateLayered = lib.buildLayeredImage {
    name = "stowage-compat/unstable-date-layered";
    tag = "latest";
    contents = [ tools ];
    created = "now";
  };

  # 15, and the base of 17 and 18.
  inherit layeredImage;

  # 17: a layered image on the gzipped layered image, in a world-writable WorkingDir.
  layeredOnTopLayered = lib.buildLayeredImage {
    name = "stowage-compat/layered-on-top-layered";
    tag = "latest";
    fromImage = layeredImage;
    extraCommands = ''
      mkdir ./example-output
      chmod 777 ./example-output
    '';
    config = {
      Env = [ "PATH=${tools}/bin/" ];
      WorkingDir = "/example-output";
      Cmd = [ "${bash}/bin/bash" "-c" "echo hello > foo; cat foo" ];
    };
  };

  # 18: no contents: hello's closure comes in through the Cmd alone, and its layer is
  # the one layeredImage has.
  anotherLayeredImage = lib.buildLayeredImage {
    name = "stowage-compat/another-layered-image";
    tag = "latest";
    config.Cmd = [ "${hello}/bin/hello" ];
  };

  # 23, 24: a layered child of a buildImage parent: Env de-duplicated, last wins.
  envLayered = lib.buildLayeredImage {
    name = "stowage-compat/env-child";
    tag = "latest";
    fromImage = envParent;
    contents = [ tools ];
    config.Env = [ "FROM_CHILD=true" "LAST_LAYER=child" ];
  };

  # 25, and the base of 27.
  inherit twoLayered;
  # 26: everything in one bulk store layer.
  bulkLayer = lib.buildLayeredImage {
    name = "stowage-compat/bulk-layer";
    tag = "latest";
    contents = [ tools hello ];
    maxLayers = 2;
  };
  # 27: 2 base layers + 1 store layer + customisation = maxLayers.
  layeredBulkLayer = lib.buildLayeredImage {
    name = "stowage-compat/layered-bulk-layer";
    tag = "latest";
    fromImage = twoLayered;
    contents = [ tools hello ];
    maxLayers = 4;
  };

  # 28: no contents; extraCommands copy busybox (its applets link to the busybox of its
  # own store path, as pkgsStatic.busybox's files refer to theirs) and run hello, which
  # is needed at build time only.
  noStorePaths = lib.buildLayeredImage {
    name = "stowage-compat/no-store-paths";
    tag = "latest";
    extraCommands = ''
      cp -r ${tools}/* .
      ${hello}/bin/hello
    '';
  };

  # 29: a store path that is a file (not a directory), read by a script on PATH, with
  # the nix stand-in and its database.
  filesInStore = lib.buildLayeredImageWithNixDb {
    name = "stowage-compat/file-in-store";
    tag = "latest";
    compressor = "none";
    contents = [
      tools
      nix
      (scriptBin "myscript" "cat ${builtins.toFile "somefile" "some data"}")
    ];
    config = {
      Cmd = [ "myscript" ];
      Env = [ "USER=root" ];
    };
  };

  # 31: a store path that is itself a symlink (to a directory).
  layeredStoreSymlink =
    let
      target = package "target" ''mkdir -p $out/dir && echo "Content doesn't matter." > $out/dir/target'';
      symlink = package "symlink" "ln -s ${target} $out";
    in
    lib.buildLayeredImage {
      name = "stowage-compat/layeredstoresymlink";
      tag = "latest";
      contents = [ bash tools symlink ];
    } // { inherit symlink; };

  # 34, 38: fakeRootCommands with relative paths: an owner, and a store path that only
  # a symlink they make refers to.
  withFakeRootCommands =
    let uniqueHello = scriptBin "layeredImageWithFakeRootCommands-hello" ''echo "Hello, world!"'';
    in lib.buildLayeredImage {
      name = "stowage-compat/layered-image-with-fake-root-commands";
      tag = "latest";
      contents = [ tools ];
      fakeRootCommands = ''
        mkdir -p ./home/alice
        chown 1000 ./home/alice
        ln -s ${uniqueHello} ./hello
      '';
    };

  # 41: absolute paths under enableFakechroot; hello comes in through the symlink alone.
  imageViaFakeChroot = lib.streamLayeredImage {
    name = "stowage-compat/image-via-fake-chroot";
    tag = "latest";
    config.Cmd = [ "hello" ];
    enableFakechroot = true;
    fakeRootCommands = ''
      mkdir /bin
      ln -s ${hello}/bin/hello /bin/hello
    '';
  };

  # 44: the stand-in for NixOS's etc activation, run under enableFakechroot as nixpkgs
  # does: /etc/static links to the etc tree in the store and /etc/some-config-file
  # through it, as NixOS lays out /etc. Cmd is a single string.
  etc =
    let
      etcTree = package "etc" ''
        mkdir $out
        printf '127.0.0.1 localhost\n::1 localhost\n' > $out/some-config-file
      '';
      activate = scriptBin "etc-activation" ''
        ln -s ${etcTree} /etc/static
        ln -s /etc/static/some-config-file /etc/some-config-file
      '';
    in
    lib.streamLayeredImage {
      name = "stowage-compat/etc";
      tag = "latest";
      enableFakechroot = true;
      fakeRootCommands = ''
        mkdir -p /etc
        ${activate}/bin/etc-activation
      '';
      config.Cmd = "${scriptBin "cat-config" "${tools}/bin/cat /etc/some-config-file"}/bin/cat-config";
    };

  # 46: chown under enableFakechroot persists.
  chownTest = lib.streamLayeredImage {
    name = "stowage-compat/chown-test";
    tag = "latest";
    enableFakechroot = true;
    fakeRootCommands = ''
      touch /testfile
      chown 12345:12345 /testfile
    '';
    config.Cmd = [ "${tools}/bin/stat" "-c" "%u:%g" "/testfile" ];
  };

  # 47: store layers owned by user 1000. nixpkgs' image has no /etc/passwd, so its
  # User would not resolve; fakeNss with the user lets it run, to check the intent.
  nonRoot = lib.streamLayeredImage {
    name = "stowage-compat/non-root-test";
    tag = "latest";
    uid = 1000;
    gid = 1000;
    uname = "user";
    gname = "user";
    contents = [
      (lib.fakeNss.override {
        extraPasswdLines = [ "user:x:1000:1000:user:/var/empty:/bin/sh" ];
        extraGroupLines = [ "user:x:1000:" ];
      })
    ];
    config = {
      User = "user";
      Cmd = [ "${tools}/bin/stat" "-c" "%u:%g" "${tools}/bin/busybox" ];
    };
  };

  # docker-tools-overlay.nix: nixpkgs' bash example, through the overlay.
  overlayBash = pkgs.dockerTools.buildImage {
    name = "stowage-compat/overlay-bash";
    tag = "latest";
    compressor = "none";
    copyToRoot = pkgs.buildEnv {
      name = "image-root";
      paths = [ pkgs.bash ];
      pathsToLink = [ "/bin" ];
    };
  };

  # docker-tools-cross.nix (and 30): images for aarch64 built here, through the overlay
  # applied to a cross package set. Inspected, never run.
  crossBuildImage = crossPkgs.dockerTools.buildImage {
    name = "stowage-compat/hello1";
    tag = "latest";
    copyToRoot = crossPkgs.buildEnv {
      name = "image-root";
      paths = [ crossPkgs.hello ];
      pathsToLink = [ "/bin" ];
    };
  };
  crossLayered = crossPkgs.dockerTools.buildLayeredImage {
    name = "stowage-compat/hello2";
    tag = "latest";
    contents = crossPkgs.hello;
  };
}
