# The stowage package made from a static binary built outside Nix:
#
#   RUSTFLAGS='-C target-feature=+crt-static' \
#     cargo build --release --target x86_64-unknown-linux-gnu -p stowage
#
# The Nix build sandbox has no /lib, so the builder must be static. This is the
# package the tests and examples use; nixpkgs builds stowage with its own toolchain.
{
  binary ? import ./static-binary.nix,
  busybox ? /usr/bin/busybox,
  system ? builtins.currentSystem,
}:
let
  bb = (import ./busybox.nix { inherit busybox system; }).busybox;
  # A string path (from --argstr) is imported just like a path value. builtins.path
  # would import a symlink as a symlink, dangling in the sandbox: refuse it here.
  kind =
    if builtins.pathExists binary then (builtins.readDir (dirOf binary)).${baseNameOf binary} else null;
  file =
    if kind == null then
      throw "stowage-static.nix: no stowage binary at ${toString binary}; build it with scripts/build-static"
    else if kind != "regular" then
      throw "stowage-static.nix: ${toString binary} is a ${kind}; pass the executable file itself"
    else
      builtins.path { name = "stowage-binary"; path = binary; };
in
derivation {
  name = "stowage";
  inherit system;
  builder = bb;
  # Only bin/stowage: the library's contract with any stowage package (the builder
  # makes its fakeRootCommands stand-ins itself).
  args = [
    "sh"
    "-c"
    ''
      ${bb} mkdir -p $out/bin
      ${bb} cp ${file} $out/bin/stowage
      ${bb} chmod 0555 $out/bin/stowage
    ''
  ];
}
