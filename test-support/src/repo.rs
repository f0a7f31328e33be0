//! The repository's layout: its root, and where the static stowage binary is built.

use std::path::{Path, PathBuf};

/// Where `scripts/build-static` leaves the static stowage binary, under cargo's target
/// directory. `nix/static-binary.nix` gives the Nix files the same path; a test below
/// keeps the three in step.
pub const STATIC_BINARY: &str = "x86_64-unknown-linux-gnu/release/stowage";

/// The repository's root directory (the parent of this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the test-support crate lives inside the repository")
        .to_path_buf()
}

/// A file of the repository, by its path relative to the root.
pub fn repo_file(relative: &str) -> PathBuf {
    repo_root().join(relative)
}

/// The static stowage binary that the Nix expressions import: [`STATIC_BINARY`] in
/// cargo's target directory (`CARGO_TARGET_DIR` when set, as `scripts/build-static`
/// leaves it). The tests do not build it (cargo would contend with itself for the target
/// directory): `scripts/test` does.
pub fn stowage_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| repo_root().join(dir))
        .unwrap_or_else(|| repo_root().join("target"));
    let path = target.join(STATIC_BINARY);
    // Nix would import a symlink as a symlink: hand it the file itself.
    std::fs::canonicalize(&path).unwrap_or_else(|e| {
        panic!(
            "the static stowage binary is missing at {}: {e}\n\
             build it with scripts/build-static (or run the suite with scripts/test)",
            path.display()
        )
    })
}

/// Every path under `dir` (a package in the store), relative and sorted, without
/// following symlinks: what a test compares against a package's expected layout.
pub fn package_tree(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let entry = entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&entry.path(), &format!("{name}/"), out);
            }
            out.push(name);
        }
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out);
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The script that builds the binary and the Nix file that imports it name the same
    /// path as [`STATIC_BINARY`].
    #[test]
    fn the_static_binary_path_is_the_same_everywhere() {
        for (file, spelling) in [
            ("scripts/build-static", format!("/{STATIC_BINARY}\"")),
            (
                "nix/static-binary.nix",
                format!("../target/{STATIC_BINARY}"),
            ),
        ] {
            let text = std::fs::read_to_string(repo_file(file))
                .unwrap_or_else(|e| panic!("read {file}: {e}"));
            assert!(text.contains(&spelling), "{file} does not say {spelling}");
        }
    }
}
