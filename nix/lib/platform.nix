# The platform an image declares, from the Nix system its contents are built for:
# Docker and OCI name architectures as Go does (GOARCH), plus a `variant` for 32-bit ARM.
#
#   (import ./platform.nix).dockerPlatform "armv7l-linux"
#   => { architecture = "arm"; variant = "v7"; os = "linux"; }
#
# builtins only (no nixpkgs lib): the library is evaluated on machines without nixpkgs.
# The table itself is platforms.json, which the builder reads too.
let
  # The one table of the platform, shared with the builder (builder/src/image/platform.rs
  # reads the same file), so both sides always agree:
  #   cpus: the CPU part of a Nix system ("x86_64" of "x86_64-linux") -> GOARCH and, for
  #     32-bit ARM, the variant (the ARM version, which images for different versions are
  #     told apart by in a multi-platform index). The rows follow nixpkgs'
  #     `hostPlatform.go.GOARCH`, plus the variant and i386-i586. A CPU that Go has no
  #     port for (riscv32, 32-bit powerpc, s390, m68k, microblaze, …) is missing on
  #     purpose: there is no honest name to write, so the caller has to say one. aarch64
  #     has no variant: "v8" is the only arm64 variant, and Docker and containerd treat a
  #     missing one as v8 (nixpkgs writes none either). No wasm32: Nix's wasm systems are
  #     "wasm32-wasi", not Linux, and images of them have no agreed `os`.
  #   knownArchitectures: every GOARCH that Go has a port for (`go tool dist list`), what
  #     an explicit `architecture` is checked against. Catches the common slip of writing
  #     the Nix or kernel name ("x86_64", "aarch64") where Docker wants Go's.
  inherit (builtins.fromJSON (builtins.readFile ./platforms.json)) cpus knownArchitectures;

  # A Nix system is "<cpu>-<kernel>"; null for anything else.
  split = system:
    let m = builtins.match "([^-]+)-([^-]+)" system;
    in if m == null then null else { cpu = builtins.elemAt m 0; kernel = builtins.elemAt m 1; };

  isDarwin = system: builtins.match ".+-darwin" system != null;

  fail = message: throw "stowage: architecture: ${message}";

  dockerPlatform = system:
    let
      parts = split system;
      quoted = builtins.toJSON system;
      row = cpus.${parts.cpu} or null;
      linux = builtins.toJSON "${parts.cpu}-linux";
    in
    if !(builtins.isString system) then
      fail "expected a Nix system string such as \"x86_64-linux\", got ${builtins.typeOf system}"
    else if parts == null then
      fail "${quoted} is not a Nix system (expected \"<cpu>-<kernel>\", such as \"x86_64-linux\"); pass architecture = \"<GOARCH>\" explicitly"
    # The seed's reasoning: an image of macOS binaries builds fine and then fails in the
    # container with "exec format error". Refuse it here, where the cause is visible.
    else if parts.kernel == "darwin" then
      fail "the Nix system ${quoted} builds macOS binaries, which a Linux container cannot run (they fail with \"exec format error\"), and passing architecture does not change what the contents are built for; take the image function from a Linux package set instead (nixpkgs for ${linux} built on a Linux remote builder, or pkgsCross; with nix/lib directly, hostSystem = ${linux})"
    else if parts.kernel != "linux" then
      fail "the Nix system ${quoted} is not Linux, and containers run Linux binaries; build the contents for Linux, and if they already are, pass architecture = \"<GOARCH>\" explicitly"
    else if row == null then
      fail "the Nix system ${quoted} has no Docker architecture; pass architecture = \"<GOARCH>\" explicitly"
    else
      { inherit (row) architecture; variant = row.variant or null; os = "linux"; };
  # Whether an explicit `architecture` is a GOARCH that Docker can match a host against.
  isKnownArchitecture = architecture: builtins.elem architecture knownArchitectures;
in
{
  inherit dockerPlatform isDarwin isKnownArchitecture knownArchitectures;

  # The system an image function builds on, once the contents' system is known not to
  # be macOS: an image of macOS binaries builds and then fails with "exec format error",
  # so Darwin is refused even when `architecture` is given (the contents are still
  # macOS binaries).
  checkedSystem = { system, hostSystem }:
    if isDarwin hostSystem then builtins.seq (dockerPlatform hostSystem) system else system;

  # The image's { architecture; variant; }: from `hostSystem`, or an explicit
  # `architecture`, written as given but only if Docker knows the name.
  imagePlatform = { name, architecture, hostSystem }:
    if architecture == null then
      dockerPlatform hostSystem
    else if isKnownArchitecture architecture then
      { inherit architecture; variant = null; }
    else
      throw "stowage: ${name}: architecture ${builtins.toJSON architecture} is not a Docker (GOARCH) architecture; use one of ${builtins.concatStringsSep ", " knownArchitectures} (x86_64 is \"amd64\", aarch64 is \"arm64\")";
}
