//! `stowage nix write-tree`: a small directory of text files, scripts, symlinks and empty
//! directories, for dockerTools' helpers (`binSh`, `usrBinEnv`, `caCertificates`,
//! `fakeNss`), so they need no shell in the build either.

use crate::conf::attrs::WriteTreeAttrs;
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// What one path of the tree is.
enum Node<'a> {
    /// A text file and its mode.
    File(&'a str, u32),
    Symlink(&'a str),
    Directory,
}

/// Writes the tree of `attrs` into `outputs.out`; `attrs_file` names the input in errors.
pub fn write_tree(attrs_file: &Path, attrs: WriteTreeAttrs) -> Result<()> {
    let nodes = checked_nodes(attrs_file, &attrs)?;
    let out = &attrs.outputs.out;
    let written = |e| Error::write(out.display().to_string(), e);
    fs::create_dir_all(out).map_err(written)?;
    for (path, node) in &nodes {
        let target = out.join(path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(written)?;
        }
        match node {
            Node::File(text, mode) => {
                fs::write(&target, text).map_err(written)?;
                fs::set_permissions(&target, fs::Permissions::from_mode(*mode)).map_err(written)?;
            }
            Node::Symlink(to) => std::os::unix::fs::symlink(to, &target).map_err(written)?,
            Node::Directory => fs::create_dir_all(&target).map_err(written)?,
        }
    }
    Ok(())
}

/// Every path of the tree, checked: relative, without `.` or `..`, given once, and not
/// below a file or a symlink of the same tree.
fn checked_nodes<'a>(
    attrs_file: &Path,
    attrs: &'a WriteTreeAttrs,
) -> Result<BTreeMap<PathBuf, Node<'a>>> {
    let bad = |field: &str, path: &str, why: &str| {
        Error::conf(attrs_file, format!("{field}.{path:?}: {why}"))
    };
    let given = attrs
        .files
        .iter()
        .map(|(p, t)| ("files", p, Node::File(t, 0o444)))
        .chain(
            attrs
                .executables
                .iter()
                .map(|(p, t)| ("executables", p, Node::File(t, 0o555))),
        )
        .chain(
            attrs
                .symlinks
                .iter()
                .map(|(p, t)| ("symlinks", p, Node::Symlink(t))),
        )
        .chain(
            attrs
                .directories
                .iter()
                .map(|p| ("directories", p, Node::Directory)),
        );
    let mut nodes = BTreeMap::new();
    for (field, path, node) in given {
        let relative = Path::new(path);
        if path.is_empty()
            || !relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(bad(
                field,
                path,
                "must be a relative path without `.` or `..`, such as \"etc/passwd\"",
            ));
        }
        if nodes.insert(relative.to_owned(), (field, node)).is_some() {
            return Err(bad(field, path, "is given twice"));
        }
    }
    for (path, (field, _)) in &nodes {
        let below_leaf = path
            .ancestors()
            .skip(1)
            .any(|a| matches!(nodes.get(a), Some((_, Node::File(..) | Node::Symlink(_)))));
        if below_leaf {
            let text = path.display().to_string();
            return Err(bad(
                field,
                &text,
                "lies below a file or symlink of the same tree",
            ));
        }
    }
    Ok(nodes
        .into_iter()
        .map(|(path, (_, node))| (path, node))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf::attrs::Outputs;

    fn attrs(
        out: &Path,
        files: &[(&str, &str)],
        symlinks: &[(&str, &str)],
        dirs: &[&str],
    ) -> WriteTreeAttrs {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        WriteTreeAttrs {
            outputs: Outputs {
                out: out.to_owned(),
            },
            files: map(files),
            executables: BTreeMap::new(),
            symlinks: map(symlinks),
            directories: dirs.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn writes_files_symlinks_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let tree = attrs(
            &out,
            &[("etc/passwd", "root:x:0:0::/:/bin/sh\n")],
            &[("bin/sh", "/nix/store/x-bash/bin/bash")],
            &["var/empty"],
        );
        let mut tree = tree;
        tree.executables
            .insert("bin/hi".into(), "#!/bin/sh\necho hi\n".into());
        write_tree(Path::new(".attrs.json"), tree).unwrap();
        let mode = |p: &str| fs::metadata(out.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode("etc/passwd"), mode("bin/hi")), (0o444, 0o555));
        assert_eq!(
            fs::read_to_string(out.join("etc/passwd")).unwrap(),
            "root:x:0:0::/:/bin/sh\n"
        );
        assert_eq!(
            fs::read_link(out.join("bin/sh")).unwrap(),
            Path::new("/nix/store/x-bash/bin/bash")
        );
        assert!(out.join("var/empty").is_dir());
    }

    #[test]
    fn escaping_or_clashing_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let cases = [
            (
                attrs(&out, &[("../x", "")], &[], &[]),
                r#".attrs.json: files."../x": must be a relative path without `.` or `..`, such as "etc/passwd""#,
            ),
            (
                attrs(&out, &[], &[("/bin/sh", "x")], &[]),
                r#".attrs.json: symlinks."/bin/sh": must be a relative path without `.` or `..`, such as "etc/passwd""#,
            ),
            (
                attrs(&out, &[("etc", "")], &[], &["etc"]),
                r#".attrs.json: directories."etc": is given twice"#,
            ),
            (
                attrs(&out, &[("etc/passwd", "")], &[("etc", "/x")], &[]),
                r#".attrs.json: files."etc/passwd": lies below a file or symlink of the same tree"#,
            ),
            (
                attrs(&out, &[("etc", "")], &[], &["etc/ssl"]),
                r#".attrs.json: directories."etc/ssl": lies below a file or symlink of the same tree"#,
            ),
        ];
        for (tree, message) in cases {
            assert_eq!(
                write_tree(Path::new(".attrs.json"), tree)
                    .unwrap_err()
                    .to_string(),
                message
            );
        }
        assert!(!out.exists(), "nothing is written when the tree is refused");
    }
}
