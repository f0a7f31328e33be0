//! The customisation layer, built in the Nix sandbox without a VM, fakeroot or proot:
//! `contents` merged into a root tree (as symlinks into the store for the layered
//! functions, copied for buildImage's `copyToRoot`), the optional Nix database,
//! `extraCommands`, `fakeRootCommands` (ownership journaled, optionally in a chroot),
//! then `perms`. The layered functions pack it as `layer.tar` plus its `checksum`, the
//! form nixpkgs' conf expects; buildImage puts the tree straight into its layer.

mod chown_trap;
mod contents;
pub mod fakechroot;
pub mod fakeroot;
pub mod nix_db;
mod overlay;
pub mod perms;

use crate::customisation::chown_trap::ChownTrap;
use crate::customisation::fakechroot::Chroot;
use crate::customisation::fakeroot::Ownership;
use crate::customisation::perms::PermRule;
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::tar::copy::COPY_BUFFER;
use crate::tar::digest::HashingWriter;
use crate::tar::fs_layer::{Entry, FsLayer};
use crate::tar::Owner;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Everything the customisation layer is made from.
pub struct CustomisationSpec {
    /// Store paths (directories) merged into the root, as `merge` says.
    pub contents: Vec<PathBuf>,
    pub merge: Merge,
    pub extra_commands: String,
    pub fake_root_commands: String,
    pub enable_fakechroot: bool,
    /// The closure to register in `/nix/var/nix/db` (includeNixDB), if any.
    pub nix_db: Option<Graph>,
    pub perms: Vec<PermRule>,
    /// A package with `bin/sh` and the usual tools, for the commands.
    pub tools: Option<PathBuf>,
    pub store_dir: PathBuf,
    /// Seconds since the epoch for every member.
    pub mtime: u64,
    /// The user name exported as `USER` to the commands (seed: buildImageWithNixDb).
    pub user: String,
    /// buildImage's runAsRoot, run right after `contents` are merged.
    pub run_as_root: Option<RunAsRoot>,
}

pub use contents::Merge;

/// runAsRoot: a script run as root in the image, on an overlay whose lower directory is
/// the base image unpacked; what it changes is what the layer gets.
pub struct RunAsRoot {
    pub script: String,
    /// The base image's layers, unpacked.
    pub lower: PathBuf,
}

/// A prepared root tree and the owners fakeRootCommands gave its paths.
pub struct Tree {
    pub root: PathBuf,
    pub owners: BTreeMap<PathBuf, Ownership>,
}

/// Builds the tree in `work/root` and writes `out/layer.tar` and `out/checksum`.
pub fn build(spec: &CustomisationSpec, work: &Path, out: &Path) -> Result<()> {
    let tree = prepare(spec, work)?;
    pack(
        &tree_layer(spec, &tree, Owner::numeric_root(spec.mtime))?,
        out,
    )
}

/// Makes the root tree in `work/root`: contents merged, the Nix database, then the
/// commands, with fakeRootCommands' ownership journaled.
pub fn prepare(spec: &CustomisationSpec, work: &Path) -> Result<Tree> {
    let root = work.join("root");
    fs::create_dir_all(&root).map_err(|e| Error::input(&root, e.to_string()))?;
    for content in &spec.contents {
        contents::merge(content, &root, spec.merge)?;
    }
    let journal_path = work.join("ownership-journal");
    let journal = File::create(&journal_path).map_err(|e| Error::read(&journal_path, e))?;
    let stand_ins = || -> Result<FakeRoot> {
        Ok(FakeRoot {
            journal: &journal,
            shims: fakeroot::make_shims(&work.join("fakeroot-bin"))?,
        })
    };
    if let Some(run) = &spec.run_as_root {
        let stand_ins = stand_ins()?;
        let chroot = Chroot::overlay(
            &run.lower,
            &root,
            &work.join("overlay-work"),
            &work.join("merged"),
            &spec.store_dir,
            &[(stand_ins.shims.clone(), PathBuf::from(SHIMS_IN_CHROOT))],
        )?;
        let place = Place::Overlay(chroot);
        run_commands(
            spec,
            "runAsRoot",
            &run.script,
            &root,
            Some(&stand_ins),
            place,
        )?;
        overlay::whiteouts_to_files(&root)?;
    }
    if let Some(graph) = &spec.nix_db {
        register_closure(spec, graph, &root)?;
    }
    if !spec.extra_commands.trim().is_empty() {
        run_commands(
            spec,
            "extraCommands",
            &spec.extra_commands,
            &root,
            None,
            Place::Dir,
        )?;
    }
    if !spec.fake_root_commands.trim().is_empty() {
        let place = if spec.enable_fakechroot {
            Place::Tree
        } else {
            Place::Dir
        };
        let commands = &spec.fake_root_commands;
        run_commands(
            spec,
            "fakeRootCommands",
            commands,
            &root,
            Some(&stand_ins()?),
            place,
        )?;
    }
    let journal_bytes = fs::read(&journal_path).map_err(|e| Error::read(&journal_path, e))?;
    let owners =
        fakeroot::read_journal(&journal_bytes).map_err(|m| Error::input(&journal_path, m))?;
    if let Some(run) = &spec.run_as_root {
        // A chown of a base file the script did not otherwise change: the layer must
        // carry the file to carry its new owner.
        overlay::copy_up(owners.keys(), &run.lower, &root)?;
    }
    Ok(Tree { root, owners })
}

/// includeNixDB: the Nix database of the contents' closure, and GC roots for the contents
/// (as nixpkgs does), so `nix` in the container sees its store paths as valid.
fn register_closure(spec: &CustomisationSpec, graph: &Graph, root: &Path) -> Result<()> {
    let paths: BTreeSet<usize> = (0..graph.nodes().len()).collect();
    crate::customisation::nix_db::write_nix_db(root, graph, &paths)?;
    let gcroots = root.join("nix/var/nix/gcroots/docker");
    fs::create_dir_all(&gcroots).map_err(|e| Error::input(&gcroots, e.to_string()))?;
    for content in &spec.contents {
        let link = gcroots.join(content.file_name().unwrap_or(content.as_os_str()));
        if fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(content, &link)
                .map_err(|e| Error::input(&link, e.to_string()))?;
        }
    }
    Ok(())
}

/// What fakeRootCommands run with: the journal, and the directory of the `chown` and
/// `chgrp` stand-ins that write to it.
struct FakeRoot<'a> {
    journal: &'a File,
    shims: PathBuf,
}

/// Runs `command` while serving its chown calls into `journal`; its exit status.
fn run_trapped(
    command: &mut Command,
    trap: ChownTrap,
    journal: &File,
    image_root: &Path,
    what: &str,
) -> std::io::Result<std::process::ExitStatus> {
    let mut child = command.spawn()?;
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let server = scope.spawn(|| trap.serve(journal, image_root, &done));
        let status = child.wait();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        match server.join() {
            Ok(Ok(())) => status,
            Ok(Err(e)) => Err(std::io::Error::other(format!(
                "{what}: serving chown calls: {e}"
            ))),
            Err(_) => Err(std::io::Error::other(format!(
                "{what}: the chown server panicked"
            ))),
        }
    })
}

/// An error making the chown trap.
fn trap_error(what: &str, e: std::io::Error) -> Error {
    Error::input(
        Path::new(what),
        format!("cannot prepare to record chown calls: {e}"),
    )
}

/// Where user commands run.
enum Place {
    /// In the root tree, as the build user.
    Dir,
    /// Chrooted into the root tree (enableFakechroot).
    Tree,
    /// Chrooted into a prepared overlay of the base image (runAsRoot).
    Overlay(Chroot),
}

impl Place {
    /// What to do instead when the kernel refuses the namespaces a chroot needs.
    fn instead(&self) -> &'static str {
        match self {
            Place::Overlay(_) => {
                "use extraCommands, or buildLayeredImage's fakeRootCommands, instead of runAsRoot"
            }
            _ => "leave enableFakechroot off and use paths relative to the image root",
        }
    }
}

/// Where the stand-ins' directory is bound inside a chroot (removed again afterwards).
const SHIMS_IN_CHROOT: &str = ".stowage-fakeroot";

/// Runs user commands with the tools' shell in the root tree. With `fakeroot`, `chown`
/// and `chgrp` are stowage's stand-ins writing to its journal (and, with runAsRoot,
/// `chown(2)` from any program is trapped into it too); `place` says whether they are
/// chrooted, and into what.
fn run_commands(
    spec: &CustomisationSpec,
    what: &str,
    script: &str,
    root: &Path,
    fakeroot: Option<&FakeRoot>,
    place: Place,
) -> Result<()> {
    let (mut command, shell) = shell_command(spec, what, script, root, fakeroot, &place)?;
    let instead = place.instead();
    let overlay = matches!(place, Place::Overlay(_));
    let chroot = match place {
        Place::Dir => None,
        Place::Tree => {
            let extra_binds: Vec<(PathBuf, PathBuf)> = fakeroot
                .map(|f| (f.shims.clone(), PathBuf::from(SHIMS_IN_CHROOT)))
                .into_iter()
                .collect();
            Some(Chroot::prepare(root, &spec.store_dir, &extra_binds)?)
        }
        Place::Overlay(chroot) => Some(chroot),
    };
    match &chroot {
        Some(c) => c.apply(&mut command),
        None => {
            command.current_dir(root);
        }
    }
    let status = match (overlay, fakeroot, &chroot) {
        (true, Some(fakeroot), Some(c)) => {
            let trap = ChownTrap::new().map_err(|e| trap_error(what, e))?;
            // SAFETY: the closure only makes system calls on memory made before the
            // fork, and runs after the chroot's own (registered first).
            unsafe { command.pre_exec(trap.child_side()) };
            run_trapped(&mut command, trap, fakeroot.journal, &c.root(), what)
        }
        _ => command.status(),
    };
    let chroot_used = chroot.is_some();
    if let Some(c) = chroot {
        c.cleanup();
    }
    let status = status.map_err(|e| {
        let message = if chroot_used {
            fakechroot::explain_spawn_error(what, instead, &e)
        } else {
            format!("cannot run {}: {e}", shell.display())
        };
        Error::input(Path::new(what), message)
    })?;
    if !status.success() {
        return Err(Error::input(
            Path::new(what),
            format!("failed ({status}); see the build log above"),
        ));
    }
    Ok(())
}

/// The shell command running `script`, with a clean environment, `PATH` (the stand-ins'
/// directory first when there is a journal, the image's own bins last for runAsRoot)
/// and the journal's descriptor kept open for the stand-ins. Returns it and the shell.
fn shell_command(
    spec: &CustomisationSpec,
    what: &str,
    script: &str,
    root: &Path,
    fakeroot: Option<&FakeRoot>,
    place: &Place,
) -> Result<(Command, PathBuf)> {
    let tools = spec.tools.as_deref().ok_or_else(|| {
        Error::input(Path::new(what), "commands need the `tools` package (a shell and coreutils), which the library was not given")
    })?;
    let shell = tools.join("bin/sh");
    let mut command = Command::new(&shell);
    let chrooted = !matches!(place, Place::Dir);
    // The stand-ins' directory as the commands see it.
    let shim_dir = fakeroot.map(|f| match chrooted {
        true => Path::new("/").join(SHIMS_IN_CHROOT),
        false => f.shims.clone(),
    });
    let script = match &shim_dir {
        // Functions as well as PATH: a busybox shell runs its own applets before PATH.
        Some(dir) => {
            let shims: String = fakeroot::SHIMS
                .iter()
                .map(|shim| format!("{shim}() {{ '{}' \"$@\"; }}\n", dir.join(shim).display()))
                .collect();
            format!("{shims}{script}")
        }
        None => script.to_owned(),
    };
    command.arg("-e").arg("-c").arg(script);
    command.env_clear();
    command
        .env("HOME", "/homeless-shelter")
        .env("USER", &spec.user)
        .env("TZ", "UTC")
        .env("LC_ALL", "C");
    for var in [
        "TMPDIR",
        "TMP",
        "TEMP",
        "NIX_BUILD_TOP",
        "NIX_BUILD_CORES",
        "NIX_STORE",
    ] {
        if let Some(value) = std::env::var_os(var) {
            command.env(var, value);
        }
    }
    let mut path = std::ffi::OsString::new();
    if let (Some(fakeroot), Some(shim_dir)) = (fakeroot, &shim_dir) {
        path.push(shim_dir);
        path.push(":");
        let fd = fakeroot.journal.as_raw_fd();
        command.env(fakeroot::JOURNAL_FD_VAR, fd.to_string());
        command.env(
            fakeroot::ROOT_VAR,
            if chrooted { Path::new("/") } else { root },
        );
        // SAFETY: fcntl on a descriptor we own, between fork and exec.
        unsafe {
            command.pre_exec(move || match libc::fcntl(fd, libc::F_SETFD, 0) {
                -1 => Err(std::io::Error::last_os_error()),
                _ => Ok(()),
            });
        }
    }
    path.push(tools.join("bin"));
    if matches!(place, Place::Overlay(_)) {
        // runAsRoot: the image's own tools after ours, as nixpkgs' VM has them.
        path.push(":/bin:/usr/bin:/sbin:/usr/sbin");
    }
    command.env("PATH", path);
    Ok((command, shell))
}

/// Plans the layer of a prepared tree: every member owned by `base` unless the journal
/// or `perms` say otherwise.
pub fn tree_layer(spec: &CustomisationSpec, tree: &Tree, base: Owner) -> Result<FsLayer> {
    // The layer keeps its own copies: it adjusts members again when it is written.
    let owners = tree.owners.clone();
    let perms = spec.perms.clone();
    let layer_owner = base.clone();
    FsLayer::from_tree(&tree.root, layer_owner, move |entry: &mut Entry| {
        let name = Path::new(std::ffi::OsStr::from_bytes(&entry.name)).to_owned();
        if let Some(change) = owners.get(&name) {
            entry.override_owner(&base, |owner| {
                owner.uid = change.uid.unwrap_or(owner.uid);
                owner.gid = change.gid.unwrap_or(owner.gid);
            });
        }
        for rule in &perms {
            rule.apply(&name, entry, &base);
        }
    })
}

/// Writes `layer` as `out/layer.tar` and its SHA-256 as `out/checksum`.
fn pack(layer: &FsLayer, out: &Path) -> Result<()> {
    fs::create_dir_all(out).map_err(|e| Error::write(out.display().to_string(), e))?;
    let tar_path = out.join("layer.tar");
    let target = tar_path.display().to_string();
    let file = File::create(&tar_path).map_err(|e| Error::write(&target, e))?;
    let mut hashing = HashingWriter::new(BufWriter::with_capacity(COPY_BUFFER, file));
    layer.write_to(&mut hashing, &target)?;
    let (digest, mut writer) = hashing.finish();
    writer.flush().map_err(|e| Error::write(&target, e))?;
    fs::write(out.join("checksum"), digest.hex())
        .map_err(|e| Error::write(out.join("checksum").display().to_string(), e))
}
