# The images of the VM test (docker-tools.nix): one per function of pkgs.dockerTools that
# stowage serves, built through the overlay from real nixpkgs packages (or, when this
# repository checks the test without nixpkgs, from the stand-ins of stand-in.nix). All
# uncompressed, which every engine loads; each prints "Hello, world!" when run.
{ pkgs }:
let
  inherit (pkgs) dockerTools hello;
  greets = {
    contents = [ hello ];
    config.Cmd = [ "${hello}/bin/hello" ];
  };
in
rec {
  layered = dockerTools.buildLayeredImage (greets // {
    name = "stowage-vm/layered";
    tag = "latest";
    compressor = "none";
  });

  streamed = dockerTools.streamLayeredImage (greets // {
    name = "stowage-vm/streamed";
    tag = "latest";
  });

  # The machine's own platform and another: an engine pulling it picks the first.
  index = dockerTools.imageIndex {
    name = "stowage-vm/index";
    tag = "latest";
    images = [
      streamed
      (dockerTools.streamLayeredImage (greets // {
        name = "stowage-vm/streamed";
        tag = "arm64";
        architecture = "arm64";
      }))
    ];
  };

  layeredWithNixDb = dockerTools.buildLayeredImageWithNixDb (greets // {
    name = "stowage-vm/layered-nix-db";
    tag = "latest";
    compressor = "none";
    contents = [ hello pkgs.coreutils ];
  });

  image = dockerTools.buildImage {
    name = "stowage-vm/image";
    tag = "latest";
    compressor = "none";
    copyToRoot = [ hello ];
    config.Cmd = [ "/bin/hello" ];
  };

  imageWithNixDb = dockerTools.buildImageWithNixDb {
    name = "stowage-vm/image-nix-db";
    tag = "latest";
    compressor = "none";
    copyToRoot = [ hello pkgs.coreutils ];
    config.Cmd = [ "/bin/hello" ];
  };

  # runAsRoot, which nixpkgs runs in a VM of its own and stowage without one, with
  # shadowSetup's files.
  runAsRoot = dockerTools.buildImage {
    name = "stowage-vm/run-as-root";
    tag = "latest";
    compressor = "none";
    fromImage = image;
    copyToRoot = [ pkgs.coreutils ];
    runAsRoot = ''
      ${dockerTools.shadowSetup}
      mkdir -p /data
      echo written as root > /data/proof
    '';
    config.Cmd = [ "cat" "/data/proof" "/etc/passwd" ];
  };

  exported = dockerTools.exportImage { fromImage = image; };

  merged = dockerTools.mergeImages [ layered image ];

  helpers = dockerTools.buildLayeredImage {
    name = "stowage-vm/helpers";
    tag = "latest";
    compressor = "none";
    contents = with dockerTools; [ binSh usrBinEnv caCertificates fakeNss pkgs.coreutils ];
    config.Cmd = [ "/bin/sh" "-c" "id -u nobody && test -r /etc/ssl/certs/ca-certificates.crt && /usr/bin/env true" ];
  };

  nixShell = dockerTools.streamNixShellImage {
    name = "stowage-vm/nix-shell";
    tag = "latest";
    drv = pkgs.mkShell { packages = [ hello ]; };
    run = "hello";
  };

  nixShellArchive = dockerTools.buildNixShellImage {
    name = "stowage-vm/nix-shell-archive";
    tag = "latest";
    compressor = "none";
    drv = hello;
    run = "buildDerivation && $out/bin/hello";
  };
}
