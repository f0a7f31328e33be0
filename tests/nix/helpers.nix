# Images with dockerTools' helpers for tests/tests/helpers.rs: binSh, usrBinEnv,
# caCertificates, fakeNss (with nixpkgs' override) and shadowSetup, each pointing into
# the stand-in packages of nix/test-support.nix. Every image has a name of its own
# under `stowage-helpers/`.
#
#   nix-build tests/nix/helpers.nix -A helpers --option sandbox true --option substituters ''
{
  stowageBinary ? import ../../nix/static-binary.nix,
  busybox ? /usr/bin/busybox,
  system ? builtins.currentSystem,
}:
let
  support = import ../../nix/test-support.nix { inherit stowageBinary busybox system; };
  inherit (support) lib tools stowage;
  bb = "${tools}/bin/busybox";
in
{
  # Every content helper in one image; the command checks them from inside.
  helpers = lib.buildLayeredImage {
    name = "stowage-helpers/helpers";
    tag = "latest";
    compressor = "none";
    contents = [
      lib.binSh
      lib.usrBinEnv
      lib.caCertificates
      (lib.fakeNss.override { extraPasswdLines = [ "alice:x:1000:1000:alice:/home/alice:/bin/sh" ]; extraGroupLines = [ "alice:x:1000:" ]; })
    ];
    config.Cmd = [ "/bin/sh" "-c" ''
      ${bb} id -u nobody
      ${bb} id -g alice
      /usr/bin/env ${bb} echo env works
      for f in /etc/ssl/certs/ca-bundle.crt /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
        ${bb} head -c 20 $f; echo
      done
      ${bb} test -d /var/empty && echo var/empty is a directory
    '' ];
  };

  # nixpkgs' image-with-certs: caCertificates through buildImage's copyToRoot.
  imageWithCerts = lib.buildImage {
    name = "stowage-helpers/image-with-certs";
    tag = "latest";
    copyToRoot = [ tools lib.caCertificates ];
    config = { };
  };

  # shadowSetup in runAsRoot: the files useradd expects exist afterwards, and shadow's
  # bin/ is on PATH while it runs.
  shadow = lib.buildImage {
    name = "stowage-helpers/shadow";
    tag = "latest";
    copyToRoot = [ tools ];
    runAsRoot = ''
      ${lib.shadowSetup}
      case "$PATH" in ${tools}/bin:*) echo ok > /etc/shadow-path ;; esac
    '';
    config.Cmd = [ "/bin/sh" "-c" "cat /etc/passwd /etc/group /etc/shadow-path; ls /etc/shadow /etc/gshadow /etc/pam.d/other /etc/login.defs" ];
  };

  # A library without `packages`: the helpers that need one say which.
  withoutPackages = (import ../../nix/lib { inherit stowage tools system; }).binSh;
}
