# bench/closure.nix: the closure bench/run measures stowage on. It needs no nixpkgs and
# no network: every store path is a copy of a host directory that every Debian 12 machine
# of this project's kind has, built in the sandbox with Debian's static busybox as the
# only tool.
#
#   nix-build bench/closure.nix --argstr scale small -A top \
#     --option sandbox true --option substituters ''
#
# Each package records the store paths of its dependencies in nix-support/refs, so Nix
# finds them when it scans the output: the references are real, and
# exportReferencesGraph (or nix-store -qR) sees a real graph, with shared dependencies
# and paths reached along more than one route, as in a nixpkgs closure.
#
# Scales, as measured on a machine of this kind (they follow the host directories):
#   small   6 store paths, 0.11 GB, 26k files
#   large  10 store paths, 3.2 GB, 83k files
{
  busybox ? /usr/bin/busybox,
  scale ? "small",
  system ? builtins.currentSystem,
}:
let
  # The repo's own import of the static busybox (the one the tests use), rather than a
  # second copy of how to keep its file name.
  bb = (import ../nix/busybox.nix { inherit busybox system; }).busybox;

  # The first of several host directories that exists: machines of this kind differ a
  # little. Failing here names what is missing, where builtins.path would only say that
  # one path does not exist.
  pick =
    what: candidates:
    let
      found = builtins.filter builtins.pathExists candidates;
    in
    if found == [ ] then
      throw "bench/closure.nix: no ${what} on this host (looked for ${toString candidates})"
    else
      builtins.head found;

  # A host directory imported into the store. The filter keeps what a store path can
  # hold (directories, regular files, symlinks; not sockets or fifos) and leaves out the
  # subdirectories listed in `skip`, which another package already holds: a closure
  # holds each file once, and the bench should not hash the same bytes twice.
  source =
    name: path: skip:
    builtins.path {
      name = "${name}-source";
      inherit path;
      filter = p: t: t != "unknown" && !(builtins.elem p (map toString skip));
    };

  # A package: a copy of `path` (less `skip`) that refers to the packages in `deps`.
  # The builder calls every applet through busybox itself, so the sandbox holds busybox,
  # the source and the dependencies, and no tools package has to be built first.
  pkg =
    {
      name,
      path,
      deps ? [ ],
      skip ? [ ],
    }:
    derivation {
      inherit name system;
      builder = bb;
      src = source name path skip;
      refs = deps;
      # The graph is the one written here: an output that picked up any other reference
      # (busybox, say) fails to build instead of quietly changing what the bench measures.
      allowedReferences = deps;
      args = [
        "sh"
        "-ec"
        ''
          ${bb} mkdir -p $out/nix-support
          ${bb} cp -RP $src/. $out/
          for r in $refs; do echo $r; done >$out/nix-support/refs
        ''
      ];
    };

  # rustup's toolchains are the one big tree every machine of this kind has. Take stable
  # by name: it is the one rustup installs by default, so the large closure is the same
  # size everywhere, where "the first directory" would pick nightly on a machine that has
  # it and stable on one that does not. GCC's tree stands in on a machine without rustup.
  rustToolchain = pick "Rust toolchain" [
    /root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu
    /usr/lib/gcc
  ];
  multiarch = /usr/lib/x86_64-linux-gnu;

  small = rec {
    perl-base = pkg {
      name = "perl-base";
      path = multiarch + "/perl-base";
    };
    tzdata = pkg {
      name = "tzdata";
      path = /usr/share/zoneinfo;
    };
    python = pkg {
      name = "python3-stdlib";
      path = pick "Python standard library" [
        /usr/lib/python3.11
        /usr/lib/python3.12
        /usr/lib/python3.13
      ];
      deps = [ tzdata ];
    };
    perl = pkg {
      name = "perl-modules";
      path = /usr/share/perl;
      deps = [ perl-base ];
    };
    man = pkg {
      name = "man-pages";
      path = /usr/share/man;
    };
    app = pkg {
      name = "app";
      path = /usr/share/bash-completion;
      deps = [
        python
        perl
        man
        perl-base
      ];
    };
  };

  large = small // rec {
    # The shared libraries; perl-base lives under the same directory but is its own
    # package above.
    libs = pkg {
      name = "gnu-libs";
      path = multiarch;
      skip = [ (multiarch + "/perl-base") ];
      deps = [ small.perl-base ];
    };
    jdk = pkg {
      name = "jdk";
      path = /usr/lib/jvm;
      deps = [
        libs
        small.tzdata
      ];
    };
    locale = pkg {
      name = "locale";
      path = /usr/share/locale;
    };
    rust = pkg {
      name = "rust-toolchain";
      path = rustToolchain;
      deps = [ libs ];
    };
    app = pkg {
      name = "app";
      path = /usr/share/bash-completion;
      deps = [
        small.python
        small.perl
        small.man
        jdk
        rust
        locale
        libs
      ];
    };
  };

  packages =
    if scale == "small" then
      small
    else if scale == "large" then
      large
    else
      throw "bench/closure.nix: scale must be \"small\" or \"large\", not \"${scale}\"";
in
# top: the package whose closure is the benchmark.
packages // { top = packages.app; }
