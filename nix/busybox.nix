# A shell and coreutils for builds that have no nixpkgs: Debian's static busybox,
# imported into the store, plus a `tools` package with every applet linked in bin/.
#
# In nixpkgs the same role is played by pkgs.busybox or stdenv's tools; this file is
# the stand-in the tests and examples use on machines without nixpkgs.
{ busybox ? /usr/bin/busybox, system ? builtins.currentSystem }:
let
  # busybox picks its applet from argv[0], so the file keeps its own name: import the
  # directory holding it, filtered down to that one file.
  dir = builtins.path {
    name = "busybox-static";
    path = dirOf busybox;
    filter = p: t: baseNameOf p == baseNameOf busybox;
  };
  bin = "${dir}/${baseNameOf busybox}";
in
{
  # The busybox executable itself, usable as a derivation builder.
  busybox = bin;

  # busybox with its applets as symlinks in bin/. The links are made by the copy in
  # $out (busybox links to the executable that runs --install), so the package's
  # closure is itself alone.
  tools = derivation {
    name = "busybox-tools";
    inherit system;
    builder = bin;
    args = [
      "sh"
      "-c"
      "${bin} mkdir -p $out/bin && ${bin} cp ${bin} $out/bin/busybox && $out/bin/busybox --install -s $out/bin"
    ];
  };
}
