# dockerTools' helpers, with nixpkgs' names and contents: small packages for an image's
# contents (binSh, usrBinEnv, caCertificates, fakeNss) and shadowSetup, the snippet for
# runAsRoot. Each is a directory written by `stowage nix write-tree`: no shell runs.
#
# The packages they point into come from the library's `packages` argument (the overlay
# passes nixpkgs'; the tests pass stand-ins); a helper whose package is missing says
# which one when it is used, and the others still work.
{ stowage, system, packages }:
let
  stowageDerivation = import ./stowageDerivation.nix { inherit stowage; };

  # packages.<name>, or an error naming the helper and the missing argument.
  need = helper: name: what:
    packages.${name} or (throw "stowage: dockerTools.${helper} needs ${what}: pass packages.${name} to nix/lib (the overlay passes nixpkgs' ${name})");

  tree = name: attrs: stowageDerivation ({ inherit name system; command = "write-tree"; } // attrs);

  # nixpkgs' fakeNss: root and nobody, with the extra lines between them; overridable
  # as nixpkgs' package is (`fakeNss.override { extraPasswdLines = [ … ]; }`).
  fakeNssWith = args:
    let
      lines = builtins.concatStringsSep "";
      extra = list: lines (map (line: line + "\n") list);
      drv = tree "fake-nss" {
        files = {
          "etc/passwd" = "root:x:0:0:root user:/var/empty:/bin/sh\n${extra (args.extraPasswdLines or [ ])}nobody:x:65534:65534:nobody:/var/empty:/bin/sh\n";
          "etc/group" = "root:x:0:\n${extra (args.extraGroupLines or [ ])}nobody:x:65534:\n";
          "etc/nsswitch.conf" = "hosts: files dns\n";
        };
        directories = [ "var/empty" ];
      };
    in
    drv // {
      override = change: fakeNssWith (args // (if builtins.isFunction change then change args else change));
    };

  shell = need "binSh" "bashInteractive" "a shell";
in
{
  # /bin/sh, as bash.
  binSh = tree "bin-sh" { symlinks."bin/sh" = "${shell}/bin/bash"; };

  # /usr/bin/env, from coreutils: for scripts that start with #!/usr/bin/env.
  usrBinEnv = tree "usr-bin-env" {
    symlinks."usr/bin/env" = "${need "usrBinEnv" "coreutils" "coreutils"}/bin/env";
  };

  # The CA bundle where each family of distributions looks for it.
  caCertificates =
    let bundle = "${need "caCertificates" "cacert" "a CA bundle"}/etc/ssl/certs/ca-bundle.crt";
    in tree "ca-certificates" {
      symlinks = {
        "etc/ssl/certs/ca-bundle.crt" = bundle; # NixOS before 2017
        "etc/ssl/certs/ca-certificates.crt" = bundle; # NixOS, Debian, Ubuntu, Arch, Gentoo
        "etc/pki/tls/certs/ca-bundle.crt" = bundle; # Fedora, CentOS
      };
    };

  fakeNss = fakeNssWith { };

  # For runAsRoot: the files useradd and groupadd expect (only where missing), and shadow
  # on PATH.
  shadowSetup = ''
    export PATH=${need "shadowSetup" "shadow" "shadow (useradd, groupadd)"}/bin:$PATH
    mkdir -p /etc/pam.d
    if [ ! -f /etc/passwd ]; then
      echo "root:x:0:0::/root:/bin/sh" > /etc/passwd
      echo "root:!x:::::::" > /etc/shadow
    fi
    if [ ! -f /etc/group ]; then
      echo "root:x:0:" > /etc/group
      echo "root:x::" > /etc/gshadow
    fi
    if [ ! -f /etc/pam.d/other ]; then
      printf '%s\n' "account sufficient pam_unix.so" "auth sufficient pam_rootok.so" "password requisite pam_unix.so nullok yescrypt" "session required pam_unix.so" > /etc/pam.d/other
    fi
    if [ ! -f /etc/login.defs ]; then
      touch /etc/login.defs
    fi
  '';
}
