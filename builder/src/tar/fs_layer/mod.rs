//! Layers made of files on disk (store paths, or the tree of the customisation layer),
//! in two passes over the tree: planning sums the members' sizes from metadata (so the
//! layer's size is known before any content is read), writing walks the tree again in the
//! same order and reads every file once.
//!
//! The output depends only on the files' contents: members are sorted by name bytes, time
//! stamps and owners are given, and hard links (which `nix-store --optimise` creates
//! between identical files) are written as ordinary files.
//!
//! Memory does not grow with the number of files: the walk holds the listings of the
//! directories it is in (see [`order`]), and between the passes only a few bytes per
//! member are kept (see [`record`]), with which writing names a file that changed.

mod order;
mod record;
mod write;

use crate::error::{Error, Result};
use crate::graph::store_path::StorePath;
use crate::sys;
use crate::tar::{self, Header, Kind, Owner};
use order::{archive_order, Child, Step};
use rayon::prelude::*;
use record::Record;
use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One member of a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Member name: the path relative to the layer's root.
    pub name: Vec<u8>,
    pub kind: Kind,
    pub mode: u32,
    /// Content size of regular files, 0 otherwise.
    pub size: u64,
    /// An owner other than the layer's (set by fakeRootCommands or `perms`).
    pub owner: Option<Box<Owner>>,
    /// Device and inode of a regular file when listed: what is opened for reading must
    /// be that same file.
    pub identity: (u64, u64),
}

impl Entry {
    /// Gives the entry its own owner, starting from the one it has (or the layer's
    /// `base`), changed by `change`: how fakeRootCommands' journal and `perms` both set
    /// owners.
    pub fn override_owner(&mut self, base: &Owner, change: impl FnOnce(&mut Owner)) {
        let mut owner = self
            .owner
            .as_deref()
            .cloned()
            .unwrap_or_else(|| base.clone());
        change(&mut owner);
        self.owner = Some(Box::new(owner));
    }
}

/// A planned layer of files: where its members are, and its exact tar size.
#[derive(Debug, Clone)]
pub struct FsLayer {
    /// What the layer holds, for the image history: store paths, or the tree's root.
    pub paths: Vec<PathBuf>,
    /// The directory member names are relative to (`/` for store paths).
    pub root: PathBuf,
    /// The directory whose own path is trusted when reading (the store directory, or the
    /// tree's root); below it no symlink is followed. The walk starts there.
    pub trusted: PathBuf,
    top: Top,
    pub owner: Owner,
    adjust: Option<Adjust>,
    /// The size of the layer's members in the tar (headers and padded contents), without
    /// the end-of-archive blocks: layers can be written one after another into one tar.
    pub members_size: u64,
    /// The members as planned, for the writing pass to check against.
    record: Arc<Record>,
}

/// Which children of the trusted directory the layer holds.
#[derive(Debug, Clone)]
enum Top {
    /// The store paths of `paths`; with a mode, the store directory and its parents come
    /// first as directories of that mode.
    StorePaths { dir_mode: Option<u32> },
    /// All of them.
    Tree,
}

/// Changes a member before it is sized and written (its mode, its owner), or leaves it
/// out by returning false. Called in both passes, on several threads.
#[derive(Clone)]
struct Adjust(Arc<dyn Fn(&mut Entry) -> bool + Send + Sync>);

impl fmt::Debug for Adjust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Adjust")
    }
}

/// What planning adds up: the members' tar size and their record.
#[derive(Default)]
struct Tally {
    size: u64,
    record: Record,
}

impl Tally {
    /// Appends `other`, whose members come after these.
    fn join(mut self, other: Tally) -> Tally {
        self.size += other.size;
        self.record.append(other.record);
        self
    }
}

impl FsLayer {
    /// Plans a layer holding `paths`, which must be direct children of `store_dir`.
    /// With `dir_mode`, the store directory and its parents come first as directories of
    /// that mode (0755 as Docker's own tools write them; buildImage's are 0555).
    pub fn from_store_paths(
        paths: &[PathBuf],
        store_dir: &Path,
        dir_mode: Option<u32>,
        owner: Owner,
    ) -> Result<FsLayer> {
        // Nothing outside the store, and no nested paths (which would put the same files
        // in two layers).
        for path in paths {
            StorePath::parse(path, store_dir).map_err(|m| Error::input(path, m))?;
        }
        FsLayer {
            paths: paths.to_vec(),
            root: PathBuf::from("/"),
            trusted: store_dir.to_owned(),
            top: Top::StorePaths { dir_mode },
            owner,
            adjust: None,
            members_size: 0,
            record: Arc::default(),
        }
        .planned()
    }

    /// What alone decides the layer's bytes, when that is names and settings: store paths
    /// (whose contents do not change while they are valid) archived as planned, with
    /// nothing adjusted by hand. `None` for trees and adjusted layers, which must be read.
    /// Digests cached under it are found again without reading a byte.
    pub fn identity(&self) -> Option<String> {
        let Top::StorePaths { dir_mode } = self.top else {
            return None;
        };
        if self.adjust.is_some() {
            return None;
        }
        // Debug renders any path without loss (not every path is UTF-8).
        Some(format!(
            "store {:?} paths {:?} dir_mode {dir_mode:?} owner {:?} size {}",
            self.trusted, self.paths, self.owner, self.members_size
        ))
    }

    /// Plans a layer of everything under `root` (not `root` itself), named relative to it.
    /// `adjust` may change each entry's mode or owner before the size is computed; it is
    /// called again when the layer is written.
    pub fn from_tree(
        root: &Path,
        owner: Owner,
        adjust: impl Fn(&mut Entry) + Send + Sync + 'static,
    ) -> Result<FsLayer> {
        let adjust = Adjust(Arc::new(move |entry: &mut Entry| {
            adjust(entry);
            true
        }));
        FsLayer {
            paths: vec![root.to_owned()],
            root: root.to_owned(),
            trusted: root.to_owned(),
            top: Top::Tree,
            owner,
            adjust: Some(adjust),
            members_size: 0,
            record: Arc::default(),
        }
        .planned()
    }

    /// Leaves out the members whose name `drop` picks (ones another part of the same
    /// layer writes), and plans the layer again.
    pub fn drop_members(
        &mut self,
        drop: impl Fn(&[u8]) -> bool + Send + Sync + 'static,
    ) -> Result<()> {
        let before = self.adjust.take();
        self.adjust = Some(Adjust(Arc::new(move |entry: &mut Entry| {
            before.as_ref().is_none_or(|keep| (keep.0)(entry)) && !drop(&entry.name)
        })));
        *self = self.clone().planned()?;
        Ok(())
    }

    /// Whether the layer holds a member named `name`, as the files are now. Symlinks in
    /// the layer hold nothing below them, as in the walk.
    pub fn has_member(&self, name: &[u8]) -> bool {
        if self.prefix().iter().any(|e| e.name == name) {
            return true;
        }
        let path = self.root.join(OsStr::from_bytes(name));
        let is_dir = |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
        !name.is_empty()
            && fs::symlink_metadata(&path).is_ok()
            && self.paths.iter().any(|top| {
                path.starts_with(top)
                    && path
                        .ancestors()
                        .skip(1)
                        .take_while(|a| a.starts_with(top))
                        .all(is_dir)
            })
    }

    /// Writes the layer as a tar of its own to `out` (see [`FsLayer::write_members_to`]).
    pub fn write_to(&self, out: &mut impl Write, target: &str) -> Result<()> {
        self.write_members_to(out, target)?;
        out.write_all(&tar::END_OF_ARCHIVE)
            .map_err(|e| Error::write(target, e))
    }

    /// Writes the layer's members to `out`, reading every file once, without the
    /// end-of-archive blocks. `target` names `out` in error messages. Fails, naming the
    /// file, if a file is not the one planned.
    pub fn write_members_to(&self, out: &mut impl Write, target: &str) -> Result<()> {
        write::write_members(self, out, target)
    }

    /// The layer with its size and record computed: the planning pass. Directories are
    /// walked on rayon's threads: one store path can hold tens of thousands of files (a
    /// toolchain), and stat-ing them one by one leaves the other cores idle.
    fn planned(self) -> Result<FsLayer> {
        let mut tally = Tally::default();
        for entry in self.prefix() {
            self.add(&mut tally, &entry);
        }
        let tally = tally.join(self.tally(&self.trusted, self.top_steps()?)?);
        Ok(FsLayer {
            members_size: tally.size,
            record: Arc::new(tally.record),
            ..self
        })
    }

    /// The members of `steps` (of the directory `dir`) and everything below them.
    fn tally(&self, dir: &Path, steps: Vec<Step>) -> Result<Tally> {
        let fd = open_dir(dir)?;
        steps
            .into_par_iter()
            .map(|step| {
                let path = dir.join(step.name());
                let mut tally = Tally::default();
                if step.below {
                    tally = self.tally(&path, self.steps_below(&path)?)?;
                } else if let Some(entry) = self.member(&fd, &path, step.name())? {
                    self.add(&mut tally, &entry);
                }
                Ok(tally)
            })
            .try_reduce(Tally::default, |a, b| Ok(a.join(b)))
    }

    /// Counts `entry` into `tally`.
    fn add(&self, tally: &mut Tally, entry: &Entry) {
        tally.size += self.member_size(entry);
        tally.record.push(entry);
    }

    /// Calls `visit` with every member in archive order, and the path it was found at:
    /// the walk of the writing pass.
    fn visit(&self, visit: &mut dyn FnMut(Entry, &Path) -> Result<()>) -> Result<()> {
        for entry in self.prefix() {
            let path = self.root.join(OsStr::from_bytes(&entry.name));
            visit(entry, &path)?;
        }
        self.visit_steps(&self.trusted, self.top_steps()?, visit)
    }

    /// [`FsLayer::visit`] for `steps` of the directory `dir`.
    fn visit_steps(
        &self,
        dir: &Path,
        steps: Vec<Step>,
        visit: &mut dyn FnMut(Entry, &Path) -> Result<()>,
    ) -> Result<()> {
        let fd = open_dir(dir)?;
        for step in steps {
            let path = dir.join(step.name());
            if step.below {
                self.visit_steps(&path, self.steps_below(&path)?, visit)?;
            } else if let Some(entry) = self.member(&fd, &path, step.name())? {
                visit(entry, &path)?;
            }
        }
        Ok(())
    }

    /// The first steps of the walk, from the trusted directory.
    fn top_steps(&self) -> Result<Vec<Step>> {
        let children = match self.top {
            Top::StorePaths { .. } => self
                .paths
                .iter()
                .map(|path| {
                    let meta =
                        fs::symlink_metadata(path).map_err(|e| missing_store_path(path, e))?;
                    Ok(Child {
                        name: path.file_name().unwrap_or_default().to_owned(),
                        is_dir: meta.is_dir(),
                    })
                })
                .collect::<Result<_>>()?,
            Top::Tree => order::list(&self.trusted).map_err(|e| Error::read(&self.trusted, e))?,
        };
        Ok(archive_order(children))
    }

    /// The steps of the walk below the directory `dir`.
    fn steps_below(&self, dir: &Path) -> Result<Vec<Step>> {
        let children = order::list(dir).map_err(|e| gone_or_read(dir, e))?;
        Ok(archive_order(children))
    }

    /// The member for the file, directory or symlink at `path`, which is `name` in the
    /// open directory `dir`, as adjusted; `None` if the adjustment leaves it out.
    fn member(&self, dir: &OwnedFd, path: &Path, name: &OsStr) -> Result<Option<Entry>> {
        let stat = sys::lstat_at(dir, name).map_err(|e| gone_or_read(path, e))?;
        let mut entry = entry_for(&self.root, path, &stat)?;
        let keep = self
            .adjust
            .as_ref()
            .is_none_or(|adjust| (adjust.0)(&mut entry));
        Ok(keep.then_some(entry))
    }

    /// The members that come before the walk: the store directory and its parents
    /// (`nix`, `nix/store`), when asked for.
    fn prefix(&self) -> Vec<Entry> {
        let Top::StorePaths {
            dir_mode: Some(mode),
        } = self.top
        else {
            return Vec::new();
        };
        let mut entries: Vec<Entry> = self
            .trusted
            .ancestors()
            .filter(|a| a.parent().is_some())
            .map(|a| Entry {
                name: relative_name(&self.root, a),
                kind: Kind::Directory,
                mode,
                size: 0,
                owner: None,
                identity: (0, 0),
            })
            .collect();
        entries.reverse();
        entries
    }

    /// The tar header of one entry, with its own owner or the layer's.
    fn header<'a>(&'a self, entry: &'a Entry) -> Header<'a> {
        Header {
            name: &entry.name,
            kind: entry.kind.clone(),
            mode: entry.mode,
            size: entry.size,
            owner: entry.owner.as_deref().unwrap_or(&self.owner),
        }
    }

    /// The bytes one entry takes in the tar: its header(s) and padded content.
    fn member_size(&self, entry: &Entry) -> u64 {
        let content = if entry.kind == Kind::File {
            tar::padded(entry.size)
        } else {
            0
        };
        tar::header_len(&self.header(entry)) + content
    }
}

/// The member name of `path`: its bytes relative to `root` (empty for `root` itself).
fn relative_name(root: &Path, path: &Path) -> Vec<u8> {
    path.strip_prefix(root)
        .unwrap_or(path)
        .as_os_str()
        .as_bytes()
        .to_vec()
}

/// The error for a store path that cannot be looked at.
fn missing_store_path(path: &Path, error: io::Error) -> Error {
    if error.kind() == io::ErrorKind::NotFound {
        Error::input(
            path,
            "store path does not exist; is it in the closure the conf was made from?",
        )
    } else {
        Error::read(path, error)
    }
}

/// The error for a file or directory the walk listed that then could not be looked at:
/// gone (or replaced) in between, or unreadable.
fn gone_or_read(path: &Path, error: io::Error) -> Error {
    match error.raw_os_error() {
        Some(libc::ENOENT | libc::ENOTDIR) => Error::input(
            path,
            "disappeared while being read; store paths must not change during a build",
        ),
        _ => Error::read(path, error),
    }
}

/// The directory `dir`, opened for looking up its children.
fn open_dir(dir: &Path) -> Result<OwnedFd> {
    sys::open_at(libc::AT_FDCWD, dir.as_os_str(), libc::O_DIRECTORY, 0)
        .map_err(|e| gone_or_read(dir, e))
}

/// The layer entry for one filesystem object, described by `stat`.
fn entry_for(root: &Path, path: &Path, stat: &libc::stat) -> Result<Entry> {
    let (kind, size) = match stat.st_mode & libc::S_IFMT {
        libc::S_IFREG => (Kind::File, u64::try_from(stat.st_size).unwrap_or(0)),
        libc::S_IFDIR => (Kind::Directory, 0),
        libc::S_IFLNK => {
            let target = fs::read_link(path).map_err(|e| gone_or_read(path, e))?;
            (Kind::Symlink(target.into_os_string().into_vec()), 0)
        }
        other => {
            let what = match other {
                libc::S_IFSOCK => "a socket",
                libc::S_IFIFO => "a named pipe",
                _ => "a device node",
            };
            return Err(Error::input(
                path,
                format!("is {what}; a layer can only hold files, directories and symlinks"),
            ));
        }
    };
    Ok(Entry {
        name: relative_name(root, path),
        kind,
        mode: stat.st_mode & 0o7777,
        size,
        owner: None,
        identity: (stat.st_dev, stat.st_ino),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn owner() -> Owner {
        Owner::root_for_tests()
    }

    /// A fake store under a temp dir with one path holding a file, a dir and a symlink.
    fn fake_store() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let p = store.join("00000000000000000000000000000000-pkg");
        fs::create_dir_all(p.join("bin")).unwrap();
        fs::write(p.join("bin/tool"), b"#!tool\n").unwrap();
        fs::set_permissions(p.join("bin/tool"), fs::Permissions::from_mode(0o555)).unwrap();
        symlink("bin/tool", p.join("link")).unwrap();
        (dir, store, p)
    }

    /// Writes `layer` and returns its bytes, checking they are as long as planned.
    fn written(layer: &FsLayer) -> Vec<u8> {
        let mut out = Vec::new();
        layer.write_to(&mut out, "test").unwrap();
        assert_eq!(out.len() as u64, layer.members_size + 1024);
        out
    }

    /// The member names of a tar, in order.
    fn names(tar_bytes: &[u8]) -> Vec<String> {
        let mut archive = ::tar::Archive::new(tar_bytes);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
                name.trim_end_matches('/').to_owned()
            })
            .collect()
    }

    #[test]
    fn plan_sorts_members_and_predicts_the_size() {
        let (_dir, store, p) = fake_store();
        let layer = FsLayer::from_store_paths(&[p], &store, Some(0o755), owner()).unwrap();
        let names = names(&written(&layer));
        let prefix = relative_name(Path::new("/"), &store);
        let prefix = String::from_utf8_lossy(&prefix);
        assert!(names
            .windows(2)
            .skip(prefix.matches('/').count() + 1)
            .all(|w| w[0] < w[1]));
        assert!(names.ends_with(&[
            format!("{prefix}/00000000000000000000000000000000-pkg"),
            format!("{prefix}/00000000000000000000000000000000-pkg/bin"),
            format!("{prefix}/00000000000000000000000000000000-pkg/bin/tool"),
            format!("{prefix}/00000000000000000000000000000000-pkg/link"),
        ]));
    }

    /// Names a walk in directory order would get wrong: `-` and `.` sort before `/`,
    /// `0` and bytes above 0x7f after it.
    #[test]
    fn members_come_in_the_order_of_their_whole_names() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in ["a", "a/b", "a/b-", "a.b", "a-", "a0", "z", "\u{e9}"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        for f in [
            "a-c", "a/b/c", "a/b.c", "a/b-/d", "a/b0", "a.b/c", "z/a-", "\u{e9}/x",
        ] {
            fs::write(root.join(f), f).unwrap();
        }
        let layer = FsLayer::from_tree(root, owner(), |_| {}).unwrap();
        let walked = names(&written(&layer));
        let mut sorted = walked.clone();
        sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        assert_eq!(walked, sorted);
        assert_eq!(walked.len(), 16);
    }

    #[test]
    fn store_paths_listed_twice_are_written_once() {
        let (_dir, store, p) = fake_store();
        let once =
            FsLayer::from_store_paths(std::slice::from_ref(&p), &store, None, owner()).unwrap();
        let twice = FsLayer::from_store_paths(&[p.clone(), p], &store, None, owner()).unwrap();
        assert_eq!(written(&once), written(&twice));
    }

    #[test]
    fn hard_links_are_written_as_plain_files() {
        let (_dir, store, p) = fake_store();
        let before =
            FsLayer::from_store_paths(std::slice::from_ref(&p), &store, Some(0o755), owner())
                .unwrap();
        let a = written(&before);
        fs::hard_link(p.join("bin/tool"), store.join("elsewhere")).unwrap();
        let after = FsLayer::from_store_paths(&[p], &store, Some(0o755), owner()).unwrap();
        assert_eq!(a, written(&after));
    }

    #[test]
    fn adjusted_and_dropped_members_are_planned_and_written_alike() {
        let (_dir, _store, p) = fake_store();
        let mut layer = FsLayer::from_tree(&p, owner(), |entry| {
            if entry.name == b"bin/tool" {
                entry.mode = 0o700;
                entry.override_owner(&Owner::root_for_tests(), |o| o.uid = 4242);
            }
        })
        .unwrap();
        let bytes = written(&layer);
        let mut archive = ::tar::Archive::new(&bytes[..]);
        let tool = archive
            .entries()
            .unwrap()
            .map(Result::unwrap)
            .find(|e| &*e.path_bytes() == b"bin/tool")
            .unwrap();
        assert_eq!(tool.header().mode().unwrap(), 0o700);
        assert_eq!(tool.header().uid().unwrap(), 4242);
        layer.drop_members(|name| name == b"link").unwrap();
        assert_eq!(names(&written(&layer)), ["bin", "bin/tool"]);
    }

    #[test]
    fn has_member_follows_no_symlink() {
        let (_dir, store, p) = fake_store();
        let layer =
            FsLayer::from_store_paths(std::slice::from_ref(&p), &store, Some(0o755), owner())
                .unwrap();
        let name = |rest: &str| {
            let mut name = relative_name(Path::new("/"), &p);
            name.extend_from_slice(rest.as_bytes());
            name
        };
        assert!(layer.has_member(&relative_name(Path::new("/"), &store)));
        assert!(layer.has_member(&name("")));
        assert!(layer.has_member(&name("/bin/tool")));
        assert!(layer.has_member(&name("/link")));
        assert!(!layer.has_member(&name("/nothing")));
        fs::create_dir(p.join("d")).unwrap();
        symlink(p.join("d"), p.join("dirlink")).unwrap();
        fs::write(p.join("d/f"), "").unwrap();
        assert!(!layer.has_member(&name("/dirlink/f")));
        assert!(layer.has_member(&name("/d/f")));
    }

    #[test]
    fn a_path_outside_the_store_is_refused() {
        let (_dir, store, _p) = fake_store();
        let err = FsLayer::from_store_paths(&[PathBuf::from("/etc")], &store, Some(0o755), owner())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "/etc: not a store path: expected {}/<hash>-<name>",
                store.display()
            )
        );
        let nested = store.join("00000000000000000000000000000000-pkg/bin");
        assert!(FsLayer::from_store_paths(&[nested], &store, Some(0o755), owner()).is_err());
    }

    #[test]
    fn a_missing_store_path_is_named() {
        let (_dir, store, _p) = fake_store();
        let missing = store.join("11111111111111111111111111111111-gone");
        let err =
            FsLayer::from_store_paths(std::slice::from_ref(&missing), &store, Some(0o755), owner())
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: store path does not exist; is it in the closure the conf was made from?",
                missing.display()
            )
        );
    }

    #[test]
    fn a_file_that_grows_after_planning_is_an_error() {
        let (_dir, store, p) = fake_store();
        let layer =
            FsLayer::from_store_paths(std::slice::from_ref(&p), &store, Some(0o755), owner())
                .unwrap();
        fs::set_permissions(p.join("bin/tool"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(p.join("bin/tool"), b"#!tool, now longer\n").unwrap();
        let err = layer.write_to(&mut Vec::new(), "test").unwrap_err();
        assert!(err.to_string().ends_with("bin/tool: changed while being read (planned 7 bytes); store paths must not change during a build"), "{err}");
    }

    /// Changes between the passes that keep every file's size: the writing pass names
    /// the file, or the directory whose entries changed.
    #[test]
    fn members_added_removed_or_retargeted_after_planning_are_errors() {
        type Change = fn(&Path);
        let changes: [(&str, Change); 4] = [
            ("/bin: changed while being read (its entries differ", |p| {
                fs::write(p.join("bin/new"), "").unwrap()
            }),
            // Noticed at the next member, in the directory above.
            ("-pkg: changed while being read (its entries differ", |p| {
                fs::remove_file(p.join("bin/tool")).unwrap()
            }),
            // Noticed at the end.
            (
                "store: changed while being read (planned members are gone)",
                |p| fs::remove_file(p.join("link")).unwrap(),
            ),
            (
                "/link: changed while being read (planned a smaller layer)",
                |p| {
                    fs::remove_file(p.join("link")).unwrap();
                    symlink("a".repeat(200), p.join("link")).unwrap();
                },
            ),
        ];
        for (expected, change) in changes {
            let (_dir, store, p) = fake_store();
            let layer =
                FsLayer::from_store_paths(std::slice::from_ref(&p), &store, None, owner()).unwrap();
            change(&p);
            let err = layer
                .write_to(&mut Vec::new(), "test")
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }

    /// Replacing a planned file, or a directory above it, by a symlink of the same size
    /// must not put the symlink's target into the layer (CVE-2018-15664's class). The
    /// error names what was replaced.
    #[test]
    fn a_file_or_directory_swapped_for_a_symlink_is_an_error() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("tool"), b"SECRET\n").unwrap(); // 7 bytes, as planned
        type Swap = fn(&Path, &Path);
        let swaps: [(&str, Swap); 2] = [
            ("bin/tool", |p, outside| {
                fs::remove_file(p.join("bin/tool")).unwrap();
                symlink(outside.join("tool"), p.join("bin/tool")).unwrap();
            }),
            ("bin", |p, outside| {
                fs::remove_dir_all(p.join("bin")).unwrap();
                symlink(outside, p.join("bin")).unwrap();
            }),
        ];
        for (what, swap) in swaps {
            let (_dir, store, p) = fake_store();
            let layer =
                FsLayer::from_store_paths(std::slice::from_ref(&p), &store, Some(0o755), owner())
                    .unwrap();
            swap(&p, outside.path());
            let mut out = Vec::new();
            let err = layer.write_to(&mut out, "test").unwrap_err().to_string();
            assert!(
                err.contains(&format!("-pkg/{what}: changed while being read")),
                "{what}: {err}"
            );
            assert!(!out.windows(6).any(|w| w == b"SECRET"), "{what}");
        }
    }
}
