# The stowage package as nixpkgs builds it: `pkgs.callPackage ./package.nix { }`
# (nix/overlay.nix does). The binary comes out static on Linux:
#
# - in pkgsStatic (musl), where everything is static already;
# - elsewhere on glibc, with `-C target-feature=+crt-static`: a static-pie against
#   glibc.static, built by the ordinary (cached) Rust toolchain instead of a musl one.
#
# Static is not what makes it work as a builder: a Nix-built binary finds its libraries
# through its store closure, which the sandbox has. Static keeps that closure small and
# makes `bin/stowage` usable outside Nix too (copied onto a CI runner, say). On macOS (for `stowage stream`/`build` by hand) it stays dynamic.
{
  lib,
  stdenv,
  rustPlatform,
  glibc,
}:
let
  root = ../.;
  cargoToml = builtins.fromTOML (builtins.readFile ../builder/Cargo.toml);

  # Only what cargo reads: the workspace manifest and lock, and every workspace member
  # (cargo loads each member's manifest and targets even to build `-p stowage`). Build
  # outputs and result links are left out, so neither they nor the docs, scripts and
  # Nix files change the source hash.
  members = (builtins.fromTOML (builtins.readFile ../Cargo.toml)).workspace.members;
  src = builtins.path {
    name = "stowage-source";
    path = root;
    filter =
      path: type:
      let
        relative = builtins.substring (builtins.stringLength (toString root) + 1) (builtins.stringLength path) path;
        top = builtins.head (builtins.split "/" relative);
        name = baseNameOf path;
      in
      # nix/lib/platforms.json and image-config-fields.json: tables compiled into the builder too.
      (builtins.elem relative [ "Cargo.toml" "Cargo.lock" "nix" "nix/lib" "nix/lib/platforms.json" "nix/lib/image-config-fields.json" ]
        || builtins.elem top members)
      && name != "target"
      && !(type == "symlink" && builtins.match "result.*" name != null);
  };

  # glibc links statically only on request; pkgsStatic and macOS need nothing here.
  staticGlibc = stdenv.hostPlatform.isLinux && stdenv.hostPlatform.isGnu && !stdenv.hostPlatform.isStatic;
  staticArgs = lib.optionalAttrs staticGlibc {
    buildInputs = [ glibc.static ];
    # buildRustPackage passes --target, so RUSTFLAGS reaches the target only: build
    # scripts and proc macros stay dynamic, as they must. A top-level attribute, not
    # env.RUSTFLAGS: it is the one buildRustPackage itself reads and extends.
    RUSTFLAGS = "-C target-feature=+crt-static";
  };
in
rustPlatform.buildRustPackage (
  {
    pname = "stowage";
    inherit (cargoToml.package) version;
    inherit src;

    # Every dependency is fetched by its checksum in Cargo.lock: no vendor hash to keep.
    cargoLock.lockFile = ../Cargo.lock;

    cargoBuildFlags = [ "-p" "stowage" ];
    # The library's and the binary's unit tests. builder/tests/ runs `sh` and
    # `nix-store --add`, which the build sandbox has not; the end-to-end crate (tests/)
    # needs nix-build and container engines.
    cargoTestFlags = [ "-p" "stowage" "--lib" "--bins" ];

    meta = {
      inherit (cargoToml.package) description;
      license = lib.licenses.mit;
      mainProgram = "stowage";
    };
  }
  // staticArgs
)
