//! Ownership without root: `fakeRootCommands` run with `chown` and `chgrp` on their PATH
//! pointing at stowage, which records each change in a journal instead of making it (an
//! unprivileged build cannot give files away). The layer writer then applies the journal
//! to the tar headers, so `chown -R 1000:1000 data` gives files owned by 1000:1000 in the
//! image, with no fakeroot, proot or VM.
//!
//! The journal is a file descriptor inherited by the commands (it reaches them inside a
//! chroot too), named by `STOWAGE_FAKEROOT_JOURNAL`; `STOWAGE_FAKEROOT_ROOT` is the image
//! root as the commands see it (the tree's directory, or `/` inside the chroot).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

/// The variable naming the journal's file descriptor.
pub const JOURNAL_FD_VAR: &str = "STOWAGE_FAKEROOT_JOURNAL";
/// The variable naming the image root as the commands see it.
pub const ROOT_VAR: &str = "STOWAGE_FAKEROOT_ROOT";
/// The commands stowage stands in for, by the name it is called as.
pub const SHIMS: [&str; 2] = ["chown", "chgrp"];

/// An ownership change: a new uid and/or gid for one path of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ownership {
    pub uid: Option<u64>,
    pub gid: Option<u64>,
}

/// Makes `dir` hold `chown` and `chgrp` as links to this very executable, which acts as
/// the stand-in when called by those names. Made at run time, so any package with a
/// static `bin/stowage` works: nothing else of it is needed.
pub fn make_shims(dir: &Path) -> crate::error::Result<PathBuf> {
    let fail = |e: std::io::Error| {
        crate::error::Error::input(
            dir,
            format!("cannot make the chown and chgrp stand-ins: {e}"),
        )
    };
    let exe = std::env::current_exe().map_err(fail)?;
    fs::create_dir_all(dir).map_err(fail)?;
    for shim in SHIMS {
        let link = dir.join(shim);
        if fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(&exe, &link).map_err(fail)?;
        }
    }
    Ok(dir.to_owned())
}

/// Runs stowage as `chown` or `chgrp` (`argv0` is the name it was called by). Prints
/// errors like the real commands do and returns their exit status.
pub fn shim_main(argv0: &str, args: &[String]) -> ExitCode {
    match shim(argv0, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{argv0}: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Parses the command line and journals one change per affected path.
fn shim(argv0: &str, args: &[String]) -> Result<(), String> {
    let root = PathBuf::from(std::env::var_os(ROOT_VAR).ok_or_else(|| {
        format!("this {argv0} is stowage's stand-in and only works inside fakeRootCommands ({ROOT_VAR} is not set)")
    })?);
    let mut recursive = false;
    let mut operands = Vec::new();
    for arg in args {
        match arg.as_str() {
            "--recursive" => recursive = true,
            "--no-dereference" | "--dereference" | "--verbose" | "--changes" | "--silent"
            | "--quiet" => {}
            a if a.starts_with("--") => return Err(format!("unsupported option '{a}'")),
            a if a.starts_with('-') && a.len() > 1 => {
                for flag in a[1..].chars() {
                    match flag {
                        'R' => recursive = true,
                        'h' | 'H' | 'L' | 'P' | 'v' | 'c' | 'f' => {}
                        other => return Err(format!("unsupported option '-{other}'")),
                    }
                }
            }
            _ => operands.push(arg.as_str()),
        }
    }
    let (spec, files) = operands.split_first().ok_or("missing operand")?;
    if files.is_empty() {
        return Err(format!("missing operand after '{spec}'"));
    }
    let ownership = if argv0 == "chgrp" {
        Ownership {
            uid: None,
            gid: Some(resolve_id(&root, "group", spec)?),
        }
    } else {
        parse_owner_spec(&root, spec)?
    };
    let mut journal = journal_file()?;
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot find the working directory: {e}"))?;
    for file in files {
        let path = lexical_join(&cwd, Path::new(file));
        if fs::symlink_metadata(&path).is_err() {
            return Err(format!("cannot access '{file}': No such file or directory"));
        }
        for affected in affected_paths(&path, recursive) {
            let record = record(&image_path(&root, &affected), ownership);
            journal
                .write_all(&record)
                .map_err(|e| format!("cannot write the ownership journal: {e}"))?;
        }
    }
    Ok(())
}

/// `OWNER[:GROUP]`, `OWNER:` (the owner's login group), `:GROUP`, or the old `OWNER.GROUP`.
fn parse_owner_spec(root: &Path, spec: &str) -> Result<Ownership, String> {
    let (user, group) = match spec.split_once(':').or_else(|| spec.split_once('.')) {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let uid = (!user.is_empty())
        .then(|| resolve_id(root, "passwd", user))
        .transpose()?;
    let gid = match group {
        Some("") if !user.is_empty() => Some(login_group(root, user)?),
        Some("") | None => None,
        Some(g) => Some(resolve_id(root, "group", g)?),
    };
    Ok(Ownership { uid, gid })
}

/// A number, or a name looked up in the image's `/etc/passwd` or `/etc/group`.
fn resolve_id(root: &Path, database: &str, name: &str) -> Result<u64, String> {
    if let Ok(id) = name.parse() {
        return Ok(id);
    }
    database_field(root, database, name, 2).ok_or_else(|| {
        let what = if database == "group" { "group" } else { "user" };
        format!("invalid {what}: '{name}' (not a number, and not in the image's /etc/{database})")
    })
}

/// The login group of `user` (a name or a uid) from the image's `/etc/passwd`.
fn login_group(root: &Path, user: &str) -> Result<u64, String> {
    let passwd = fs::read_to_string(root.join("etc/passwd")).unwrap_or_default();
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&user) || fields.get(2) == Some(&user))
        .and_then(|fields| fields.get(3)?.parse().ok())
        .ok_or_else(|| format!("invalid spec: '{user}:' needs {user} in the image's /etc/passwd"))
}

/// Field `index` of the line for `name` in `root/etc/<database>`, as a number.
fn database_field(root: &Path, database: &str, name: &str, index: usize) -> Option<u64> {
    let file = fs::read_to_string(root.join("etc").join(database)).ok()?;
    file.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&name))
        .and_then(|fields| fields.get(index)?.parse().ok())
}

/// The inherited journal descriptor, wrapped without taking ownership (other shims of the
/// same build keep appending to it).
fn journal_file() -> Result<ManuallyDrop<File>, String> {
    let fd: i32 = std::env::var(JOURNAL_FD_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{JOURNAL_FD_VAR} does not name a file descriptor"))?;
    // SAFETY: stowage opened this descriptor for the commands and keeps it open while they
    // run; ManuallyDrop leaves it open for the next shim.
    Ok(ManuallyDrop::new(unsafe { File::from_raw_fd(fd) }))
}

/// `path`, and with `recursive` everything under it (symlinks are not followed).
fn affected_paths(path: &Path, recursive: bool) -> Vec<PathBuf> {
    let mut all = Vec::new();
    let mut pending = vec![path.to_owned()];
    while let Some(next) = pending.pop() {
        let is_dir = fs::symlink_metadata(&next).is_ok_and(|m| m.is_dir());
        if recursive && is_dir {
            if let Ok(children) = fs::read_dir(&next) {
                pending.extend(children.flatten().map(|c| c.path()));
            }
        }
        all.push(next);
    }
    all
}

/// `base/path` with `.` and `..` resolved on the names alone (as the image will see them,
/// not following symlinks that point into the host's store).
pub(crate) fn lexical_join(base: &Path, path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in base.join(path).components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The path inside the image: relative to the root as the commands see it. Absolute paths
/// outside the tree (there is nothing else in the sandbox) are taken as image paths, so
/// `chown 1000 /data` works with and without enableFakechroot.
pub(crate) fn image_path(root: &Path, path: &Path) -> PathBuf {
    match path.strip_prefix(root) {
        Ok(inside) => inside.to_owned(),
        Err(_) => path.strip_prefix("/").unwrap_or(path).to_owned(),
    }
}

/// One journal record: `uid:gid` (`-` for unchanged), NUL, the image path, NUL.
pub(crate) fn record(path: &Path, ownership: Ownership) -> Vec<u8> {
    let id = |v: Option<u64>| v.map_or("-".to_owned(), |n| n.to_string());
    let mut out = format!("{}:{}\0", id(ownership.uid), id(ownership.gid)).into_bytes();
    out.extend_from_slice(path.as_os_str().as_bytes());
    out.push(0);
    out
}

/// Reads a journal: the final ownership of every path it mentions, later changes winning
/// field by field (a `chgrp` after a `chown` keeps the uid).
pub fn read_journal(bytes: &[u8]) -> Result<BTreeMap<PathBuf, Ownership>, String> {
    let mut owners: BTreeMap<PathBuf, Ownership> = BTreeMap::new();
    let Some(body) = bytes.strip_suffix(&[0]) else {
        return if bytes.is_empty() {
            Ok(owners)
        } else {
            Err("the ownership journal ends in the middle of a record".into())
        };
    };
    let fields: Vec<&[u8]> = body.split(|&b| b == 0).collect();
    for record in fields.chunks(2) {
        let [ids, path] = record else {
            return Err("the ownership journal ends in the middle of a record".into());
        };
        let corrupt = || "the ownership journal is corrupt".to_owned();
        let ids = std::str::from_utf8(ids).map_err(|_| corrupt())?;
        let (uid, gid) = ids.split_once(':').ok_or_else(corrupt)?;
        let parse = |v: &str| {
            if v == "-" {
                Ok(None)
            } else {
                v.parse().map(Some).map_err(|_| corrupt())
            }
        };
        let entry = owners
            .entry(PathBuf::from(std::ffi::OsStr::from_bytes(path)))
            .or_default();
        entry.uid = parse(uid)?.or(entry.uid);
        entry.gid = parse(gid)?.or(entry.gid);
    }
    Ok(owners)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_records_read_back_with_later_changes_winning() {
        let mut journal = record(
            Path::new("data"),
            Ownership {
                uid: Some(1000),
                gid: Some(1000),
            },
        );
        journal.extend(record(
            Path::new("data"),
            Ownership {
                uid: None,
                gid: Some(5),
            },
        ));
        journal.extend(record(
            Path::new("etc/odd name"),
            Ownership {
                uid: Some(7),
                gid: None,
            },
        ));
        let owners = read_journal(&journal).unwrap();
        assert_eq!(
            owners[Path::new("data")],
            Ownership {
                uid: Some(1000),
                gid: Some(5)
            }
        );
        assert_eq!(
            owners[Path::new("etc/odd name")],
            Ownership {
                uid: Some(7),
                gid: None
            }
        );
        assert!(read_journal(b"1:2\0").is_err());
    }

    #[test]
    fn owner_specs_resolve_numbers_and_names() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir(root.path().join("etc")).unwrap();
        fs::write(
            root.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1000:100::/srv:/bin/sh\n",
        )
        .unwrap();
        fs::write(root.path().join("etc/group"), "root:x:0:\nusers:x:100:\n").unwrap();
        let r = root.path();
        let own = |uid, gid| Ownership { uid, gid };
        assert_eq!(
            parse_owner_spec(r, "12345:12345").unwrap(),
            own(Some(12345), Some(12345))
        );
        assert_eq!(parse_owner_spec(r, "app").unwrap(), own(Some(1000), None));
        assert_eq!(
            parse_owner_spec(r, "app:").unwrap(),
            own(Some(1000), Some(100))
        );
        assert_eq!(parse_owner_spec(r, ":users").unwrap(), own(None, Some(100)));
        assert_eq!(
            parse_owner_spec(r, "app.root").unwrap(),
            own(Some(1000), Some(0))
        );
        assert_eq!(
            parse_owner_spec(r, "nobody").unwrap_err(),
            "invalid user: 'nobody' (not a number, and not in the image's /etc/passwd)"
        );
    }

    #[test]
    fn paths_map_into_the_image() {
        let root = Path::new("/build/root");
        assert_eq!(
            image_path(root, Path::new("/build/root/data/x")),
            Path::new("data/x")
        );
        assert_eq!(image_path(root, Path::new("/data")), Path::new("data"));
        assert_eq!(
            image_path(Path::new("/"), Path::new("/data")),
            Path::new("data")
        );
        assert_eq!(
            lexical_join(Path::new("/build/root/a"), Path::new("../b/./c")),
            Path::new("/build/root/b/c")
        );
    }
}
