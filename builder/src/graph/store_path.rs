//! Store paths: `<store_dir>/<32 nixbase32 characters>-<name>`, checked the way Nix
//! checks them, so a typo or a path outside the store is caught before any layer is made.

use std::fmt;
use std::path::{Path, PathBuf};

/// The 32 characters of Nix's base-32 alphabet (no e, o, u, t).
pub(crate) const NIXBASE32: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";
/// Length of the hash part of a store path's base name.
const HASH_LEN: usize = 32;
/// Longest name Nix accepts after the hash and dash.
const MAX_NAME_LEN: usize = 211;

/// A validated store path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StorePath(PathBuf);

impl StorePath {
    /// Checks that `path` is `<store_dir>/<hash>-<name>` with a valid hash and name.
    pub fn parse(path: &Path, store_dir: &Path) -> Result<StorePath, String> {
        let base = path
            .strip_prefix(store_dir)
            .ok()
            .filter(|rest| rest.components().count() == 1)
            .and_then(|rest| rest.to_str())
            .ok_or_else(|| {
                format!(
                    "not a store path: expected {}/<hash>-<name>",
                    store_dir.display()
                )
            })?;
        let (hash, name) = base
            .split_at_checked(HASH_LEN)
            .filter(|(_, rest)| rest.starts_with('-'))
            .map(|(hash, rest)| (hash, &rest[1..]))
            .ok_or_else(|| {
                format!("not a store path: \"{base}\" is not <32-character hash>-<name>")
            })?;
        if let Some(bad) = hash.bytes().find(|b| !NIXBASE32.contains(b)) {
            return Err(format!(
                "not a store path: '{}' cannot appear in a store path hash (nixbase32: {})",
                bad as char,
                String::from_utf8_lossy(NIXBASE32)
            ));
        }
        check_name(name)?;
        Ok(StorePath(path.to_owned()))
    }

    /// The full path.
    pub fn as_path(&self) -> &Path {
        &self.0
    }

    /// The 32-character hash part, e.g. to derive a tag.
    pub fn hash_part(&self) -> &str {
        let base = self.base_name();
        &base[..HASH_LEN]
    }

    /// The name after the hash (`hello-2.12`).
    pub fn name(&self) -> &str {
        &self.base_name()[HASH_LEN + 1..]
    }

    fn base_name(&self) -> &str {
        // Validated in `parse`: one UTF-8 component.
        self.0
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
    }
}

impl fmt::Display for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.display().fmt(f)
    }
}

/// Nix's rule for names: 1 to 211 of `[A-Za-z0-9+-._?=]`, not starting with a dot.
fn check_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "+-._?=".contains(c);
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(format!(
            "not a store path: the name must have 1 to {MAX_NAME_LEN} characters"
        ));
    }
    if name.starts_with('.') {
        return Err(format!(
            "not a store path: the name \"{name}\" starts with a dot"
        ));
    }
    match name.chars().find(|&c| !allowed(c)) {
        Some(bad) => Err(format!(
            "not a store path: '{bad}' is not allowed in a store path name"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORE: &str = "/nix/store";

    fn parse(p: &str) -> Result<StorePath, String> {
        StorePath::parse(Path::new(p), Path::new(STORE))
    }

    #[test]
    fn accepts_real_store_paths() {
        let p = parse("/nix/store/r9zgkzc5zab416qddj283jlsvp18ydzr-busybox-static").unwrap();
        assert_eq!(p.hash_part(), "r9zgkzc5zab416qddj283jlsvp18ydzr");
        assert_eq!(p.name(), "busybox-static");
        assert!(parse("/nix/store/00000000000000000000000000000000-a+b_c?d=e.1").is_ok());
        let other = StorePath::parse(
            Path::new("/gnu/store/00000000000000000000000000000000-x"),
            Path::new("/gnu/store"),
        );
        assert!(other.is_ok());
    }

    #[test]
    fn refuses_what_nix_refuses() {
        let cases = [
            ("/etc/passwd", "not a store path: expected /nix/store/<hash>-<name>"),
            ("/nix/store/abc-x", "not a store path: \"abc-x\" is not <32-character hash>-<name>"),
            ("/nix/store/r9zgkzc5zab416qddj283jlsvp18ydzr-a/bin", "not a store path: expected /nix/store/<hash>-<name>"),
            (
                "/nix/store/e9zgkzc5zab416qddj283jlsvp18ydzr-a",
                "not a store path: 'e' cannot appear in a store path hash (nixbase32: 0123456789abcdfghijklmnpqrsvwxyz)",
            ),
            ("/nix/store/r9zgkzc5zab416qddj283jlsvp18ydzr-.a", "not a store path: the name \".a\" starts with a dot"),
            ("/nix/store/r9zgkzc5zab416qddj283jlsvp18ydzr-a b", "not a store path: ' ' is not allowed in a store path name"),
            ("/nix/store/r9zgkzc5zab416qddj283jlsvp18ydzr-", "not a store path: the name must have 1 to 211 characters"),
        ];
        for (path, message) in cases {
            assert_eq!(parse(path).unwrap_err(), message, "{path}");
        }
    }
}
