//! Merging `contents` into the image root, in the two ways nixpkgs does it: the layered
//! functions join them as symlinks into the store (symlinkJoin), buildImage copies them
//! (`rsync -a --copy-dirlinks`, or `--keep-dirlinks` with `keepContentsDirlinks`).

use crate::error::{Error, Result};
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

/// How `contents` go into the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Directories become real directories, everything else a symlink into the store;
    /// the first content wins.
    Symlinks,
    /// Files and symlinks are copied, later contents replacing earlier ones. A symlink
    /// to a directory is copied as the directory it points to, unless `keep_dirlinks`.
    Copy { keep_dirlinks: bool },
}

/// How deep symlinked directories may nest when followed: a deeper tree is a cycle.
const MAX_DEPTH: usize = 256;

/// Merges the directory `source` into `root`.
pub fn merge(source: &Path, root: &Path, merge: Merge) -> Result<()> {
    let meta = fs::metadata(source).map_err(|e| Error::read(source, e))?;
    if !meta.is_dir() {
        return Err(Error::input(
            source,
            "is a file, and `contents`/`copyToRoot` are directories merged into the image root; put the file in a directory (e.g. with extraCommands) or reference it from `config`",
        ));
    }
    match merge {
        Merge::Symlinks => link_tree(source, root, Path::new("")),
        Merge::Copy { keep_dirlinks } => {
            copy_dir(source, root, keep_dirlinks, 0)?;
            // As nixpkgs' `chmod ug+w layer`: extraCommands may write at the top.
            let mode = fs::metadata(root)
                .map_err(|e| Error::read(root, e))?
                .permissions()
                .mode();
            fs::set_permissions(root, fs::Permissions::from_mode(mode | 0o220))
                .map_err(|e| Error::input(root, e.to_string()))
        }
    }
}

/// Merges `source` into `root/relative` like nixpkgs' symlinkJoin: directories become
/// real directories, everything else a symlink to the store; what is already there wins.
fn link_tree(source: &Path, root: &Path, relative: &Path) -> Result<()> {
    // `join("")` would add a trailing slash, which fails on a file before we can say so.
    let top = relative.as_os_str().is_empty();
    let from = if top {
        source.to_owned()
    } else {
        source.join(relative)
    };
    let to = root.join(relative);
    let meta = fs::metadata(&from).map_err(|e| Error::read(&from, e))?;
    if meta.is_dir() {
        if top || !to.exists() {
            fs::create_dir_all(&to).map_err(|e| Error::input(&to, e.to_string()))?;
        } else if !to.is_dir() {
            return Ok(()); // an earlier content placed a file here: first one wins
        }
        let mut children: Vec<PathBuf> = fs::read_dir(&from)
            .map_err(|e| Error::read(&from, e))?
            .map(|c| {
                c.map(|c| relative.join(c.file_name()))
                    .map_err(|e| Error::read(&from, e))
            })
            .collect::<Result<_>>()?;
        children.sort();
        for child in children {
            link_tree(source, root, &child)?;
        }
    } else if fs::symlink_metadata(&to).is_err() {
        std::os::unix::fs::symlink(&from, &to).map_err(|e| Error::input(&to, e.to_string()))?;
    }
    Ok(())
}

/// Copies the children of the directory `from` into the directory `to` like `rsync -a`,
/// then gives `to` the mode of `from`.
fn copy_dir(from: &Path, to: &Path, keep_dirlinks: bool, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::input(
            from,
            "nests deeper than 256 directories; a symlink probably points at a directory above it",
        ));
    }
    let mode = fs::metadata(from)
        .map_err(|e| Error::read(from, e))?
        .permissions()
        .mode();
    // Writable while we fill it; the source's mode is restored afterwards.
    fs::create_dir_all(to).map_err(|e| Error::input(to, e.to_string()))?;
    fs::set_permissions(to, fs::Permissions::from_mode(0o755))
        .map_err(|e| Error::input(to, e.to_string()))?;
    let mut children: Vec<PathBuf> = fs::read_dir(from)
        .map_err(|e| Error::read(from, e))?
        .map(|c| c.map(|c| c.path()).map_err(|e| Error::read(from, e)))
        .collect::<Result<_>>()?;
    children.sort();
    for child in children {
        let target = to.join(child.file_name().unwrap_or_default());
        copy_entry(&child, &target, keep_dirlinks, depth)?;
    }
    fs::set_permissions(to, fs::Permissions::from_mode(mode & 0o7777))
        .map_err(|e| Error::input(to, e.to_string()))
}

/// Copies one file, symlink or directory `from` to `to`, replacing what is there unless
/// that is a directory (merged into) or a directory would replace a file (an error, as
/// rsync's).
fn copy_entry(from: &Path, to: &Path, keep_dirlinks: bool, depth: usize) -> Result<()> {
    let meta = fs::symlink_metadata(from).map_err(|e| Error::read(from, e))?;
    let follow = meta.file_type().is_symlink() && !keep_dirlinks && from.is_dir();
    let existing = fs::symlink_metadata(to).ok();
    if meta.is_dir() || follow {
        if existing.as_ref().is_some_and(|e| !e.is_dir()) {
            return Err(Error::input(
                to,
                format!(
                    "{} is a directory but an earlier copyToRoot item put a file here",
                    from.display()
                ),
            ));
        }
        return copy_dir(from, to, keep_dirlinks, depth + 1);
    }
    if existing.as_ref().is_some_and(|e| e.is_dir()) {
        return Err(Error::input(
            to,
            format!(
                "{} is not a directory but an earlier copyToRoot item put a directory here",
                from.display()
            ),
        ));
    }
    if existing.is_some() {
        fs::remove_file(to).map_err(|e| Error::input(to, e.to_string()))?;
    }
    if meta.file_type().is_symlink() {
        let target = fs::read_link(from).map_err(|e| Error::read(from, e))?;
        symlink(&target, to).map_err(|e| Error::input(to, e.to_string()))
    } else if meta.is_file() {
        fs::copy(from, to)
            .map_err(|e| Error::input(to, format!("copying {}: {e}", from.display())))?;
        fs::set_permissions(
            to,
            fs::Permissions::from_mode(meta.permissions().mode() & 0o7777),
        )
        .map_err(|e| Error::input(to, e.to_string()))
    } else {
        Err(Error::input(
            from,
            "is not a file, directory or symlink; copyToRoot cannot hold it",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two packages with a clashing `bin/tool`, and `bin/only-b` in the second.
    fn two_packages(dir: &Path) -> (PathBuf, PathBuf) {
        let (a, b) = (dir.join("a"), dir.join("b"));
        for (pkg, text) in [(&a, "from a"), (&b, "from b")] {
            fs::create_dir_all(pkg.join("bin")).unwrap();
            fs::write(pkg.join("bin/tool"), text).unwrap();
        }
        fs::write(b.join("bin/only-b"), "b").unwrap();
        (a, b)
    }

    #[test]
    fn contents_merge_as_symlinks_with_the_first_one_winning() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = two_packages(dir.path());
        let root = dir.path().join("root");
        for pkg in [&a, &b] {
            merge(pkg, &root, Merge::Symlinks).unwrap();
        }
        assert!(
            fs::symlink_metadata(root.join("bin")).unwrap().is_dir(),
            "directories are real"
        );
        assert_eq!(
            fs::read_link(root.join("bin/tool")).unwrap(),
            a.join("bin/tool")
        );
        assert_eq!(
            fs::read_link(root.join("bin/only-b")).unwrap(),
            b.join("bin/only-b")
        );
    }

    #[test]
    fn copy_to_root_copies_with_the_last_one_winning_and_follows_dirlinks() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = two_packages(dir.path());
        symlink(a.join("bin"), b.join("linked-bin")).unwrap();
        symlink("tool", b.join("bin/relative")).unwrap();
        fs::set_permissions(b.join("bin"), fs::Permissions::from_mode(0o555)).unwrap();
        let root = dir.path().join("root");
        for pkg in [&a, &b] {
            merge(
                pkg,
                &root,
                Merge::Copy {
                    keep_dirlinks: false,
                },
            )
            .unwrap();
        }
        assert_eq!(fs::read_to_string(root.join("bin/tool")).unwrap(), "from b");
        assert!(fs::symlink_metadata(root.join("bin/tool"))
            .unwrap()
            .is_file());
        assert_eq!(
            fs::read_link(root.join("bin/relative")).unwrap(),
            Path::new("tool")
        );
        let linked = fs::symlink_metadata(root.join("linked-bin")).unwrap();
        assert!(
            linked.is_dir(),
            "a symlink to a directory becomes the directory"
        );
        assert_eq!(linked.permissions().mode() & 0o777, 0o755);
        assert_eq!(
            fs::metadata(root.join("bin")).unwrap().permissions().mode() & 0o777,
            0o555
        );

        let kept = dir.path().join("kept");
        merge(
            &b,
            &kept,
            Merge::Copy {
                keep_dirlinks: true,
            },
        )
        .unwrap();
        assert_eq!(
            fs::read_link(kept.join("linked-bin")).unwrap(),
            a.join("bin")
        );
    }

    #[test]
    fn a_file_in_contents_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        fs::write(&file, "x").unwrap();
        for how in [
            Merge::Symlinks,
            Merge::Copy {
                keep_dirlinks: false,
            },
        ] {
            let err = merge(&file, &dir.path().join("root"), how).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("{}: is a file, and `contents`/`copyToRoot` are directories merged into the image root; put the file in a directory (e.g. with extraCommands) or reference it from `config`", file.display())
            );
        }
    }
}
