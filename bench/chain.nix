# bench/chain.nix: a chain of buildImage images, each `fromImage` the one before with one
# small change, over a base that holds the bench closure. What bench/chain times: a step
# must not cost more the deeper it is (no base layer is re-extracted).
#
#   nix-instantiate bench/chain.nix --argstr seed "$RANDOM" --arg depth 10
#
# evaluates to the list of the chain's images, the base first; bench/chain realises
# their derivations one after another, so that evaluation (which imports the closure's
# host directories) happens once and is not timed.
{
  # Makes every run build afresh (the chain is otherwise in the store already).
  seed ? "0",
  # How many steps stand on the base.
  depth ? 10,
  scale ? "small",
  stowageBinary ? import ../nix/static-binary.nix,
  busybox ? /usr/bin/busybox,
  system ? builtins.currentSystem,
}:
let
  inherit (import ../nix/test-support.nix { inherit stowageBinary busybox system; }) lib;
  closure = (import ./closure.nix { inherit busybox scale system; }).top;
  image = n:
    lib.buildImage {
      name = "chain-${toString n}";
      tag = "latest";
      compressor = "none";
      fromImage = if n == 0 then null else image (n - 1);
      # The base holds the closure through its config; each step adds one file.
      config = if n == 0 then { Env = [ "APP=${closure}" ]; } else null;
      extraCommands = "mkdir -p chain && echo '${seed} ${toString n}' > chain/step-${toString n}";
    };
in
builtins.genList image (depth + 1)
