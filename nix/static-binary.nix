# Where scripts/build-static leaves the static stowage binary: the default
# `stowageBinary` of the examples, the end-to-end tests' Nix files and
# nix/test-support.nix. Pass `--argstr stowageBinary "$(scripts/build-static)"` when it
# is elsewhere (under $CARGO_TARGET_DIR, say). test-support/src/repo.rs keeps this in
# step with the script.
../target/x86_64-unknown-linux-gnu/release/stowage
