//! `nix-build` as the tests run it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::command::run_stdout;

/// The options every `nix-build` of the tests runs with: builds happen in the sandbox,
/// where the builder sees only its inputs, and nothing comes from a binary cache.
pub const NIX_OPTIONS: [&str; 6] = [
    "--option",
    "sandbox",
    "true",
    "--option",
    "substituters",
    "",
];

/// A `nix-build` of `file` with [`NIX_OPTIONS`], for the caller to add to.
pub fn nix_build_sandboxed(file: &Path) -> Command {
    let mut cmd = Command::new("nix-build");
    cmd.arg(file).args(NIX_OPTIONS);
    cmd
}

/// Runs a `nix-build` command with its result link at `link` and returns the store path
/// it built. The link keeps the result alive against garbage collection for as long as
/// it exists.
pub fn nix_build_with_link(mut cmd: Command, link: &Path) -> PathBuf {
    let out = run_stdout(cmd.arg("--out-link").arg(link));
    let path = PathBuf::from(out.trim());
    assert!(
        path.starts_with("/nix/store"),
        "nix-build printed {out:?}, not a store path"
    );
    path
}
