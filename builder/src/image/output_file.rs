//! The file `stowage build -o FILE` writes: it appears at `FILE` complete or not at all,
//! and an interrupted build leaves no partial image beside it.
//!
//! The bytes go to an unnamed temporary file (`O_TMPFILE`) in `FILE`'s directory, which
//! the kernel frees however the process ends, even on SIGKILL. Only when the image is
//! complete is it linked in under a fresh temporary name and renamed over `FILE`, so an
//! existing `FILE` is replaced atomically.
//!
//! Where the filesystem or kernel lacks `O_TMPFILE`, or `/proc` is not mounted (the link
//! goes through `/proc/self/fd`), the bytes go to a named `.stowage-XXXXXX` file instead,
//! removed on error, on SIGINT and on SIGTERM. Only SIGKILL can leave it behind.

use crate::sys::{c_string, check, open_at};
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

/// Prefix of the temporary names in the output's directory.
const PREFIX: &str = ".stowage-";

/// A file being written that becomes `path` on [`OutputFile::persist`]. Dropped without
/// that, it leaves nothing behind.
pub struct OutputFile {
    path: PathBuf,
    temp: Temp,
}

enum Temp {
    /// An `O_TMPFILE`: no name until it is complete.
    Unnamed(File),
    /// The fallback: a named file, removed on SIGINT/SIGTERM while the guard lives. The
    /// file is declared first so that it is removed before the guard goes.
    Named(NamedTempFile, signal::RemoveOnSignal),
}

impl OutputFile {
    /// Starts writing `path`: an unnamed file in its directory where the system allows it,
    /// otherwise a named temporary file there.
    pub fn create(path: &Path) -> io::Result<Self> {
        match Self::unnamed(path)? {
            Some(output) => Ok(output),
            None => Self::named(path),
        }
    }

    /// The file to write the bytes to.
    pub fn file(&self) -> &File {
        match &self.temp {
            Temp::Unnamed(file) => file,
            Temp::Named(temp, _) => temp.as_file(),
        }
    }

    /// Gives the complete file `mode` (whatever the umask) and puts it at `path`,
    /// replacing what was there.
    pub fn persist(self, mode: u32) -> io::Result<()> {
        let permissions = std::fs::Permissions::from_mode(mode);
        match self.temp {
            Temp::Unnamed(file) => {
                file.set_permissions(permissions)?;
                let linked = tempfile::Builder::new()
                    .prefix(PREFIX)
                    .make_in(directory(&self.path), |name| link(&file, name))?;
                // A signal that kills us between the link above and the rename below
                // leaves the complete image under its `.stowage-` name. The window is two
                // consecutive system calls wide; nothing shorter is possible, since a
                // file can be renamed over another but not linked over it.
                linked.persist(&self.path).map_err(|e| e.error)?;
            }
            Temp::Named(temp, guard) => {
                temp.as_file().set_permissions(permissions)?;
                temp.persist(&self.path).map_err(|e| e.error)?;
                drop(guard); // only once the name has gone
            }
        }
        Ok(())
    }

    /// An `O_TMPFILE` in `path`'s directory, or `None` where the filesystem, the kernel or
    /// a missing `/proc` rules that out.
    fn unnamed(path: &Path) -> io::Result<Option<Self>> {
        let flags = libc::O_TMPFILE | libc::O_RDWR;
        let fd = match open_at(libc::AT_FDCWD, directory(path).as_os_str(), flags, 0o600) {
            Ok(fd) => fd,
            // Kernels without O_TMPFILE see a directory opened for writing (EISDIR) or
            // an unknown flag; filesystems without it say EOPNOTSUPP.
            Err(error) => {
                return match error.raw_os_error() {
                    Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL | libc::ENOENT) => Ok(None),
                    _ => Err(error),
                }
            }
        };
        let file = File::from(fd);
        if std::fs::symlink_metadata(proc_fd(&file)).is_err() {
            return Ok(None); // no /proc: it could never be linked in
        }
        Ok(Some(OutputFile {
            path: path.to_owned(),
            temp: Temp::Unnamed(file),
        }))
    }

    /// A named temporary file in `path`'s directory, removed on SIGINT and SIGTERM.
    fn named(path: &Path) -> io::Result<Self> {
        let temp = tempfile::Builder::new()
            .prefix(PREFIX)
            .tempfile_in(directory(path))?;
        let guard = signal::RemoveOnSignal::new(&c_path(temp.path())?);
        Ok(OutputFile {
            path: path.to_owned(),
            temp: Temp::Named(temp, guard),
        })
    }
}

/// The directory `path` is in.
fn directory(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

fn c_path(path: &Path) -> io::Result<CString> {
    c_string(path.as_os_str())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// The name of `file` under `/proc/self/fd`.
fn proc_fd(file: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// Gives the unnamed `file` the name `name`. Through `/proc/self/fd` with
/// `AT_SYMLINK_FOLLOW` rather than `AT_EMPTY_PATH`, which needs CAP_DAC_READ_SEARCH.
fn link(file: &File, name: &Path) -> io::Result<()> {
    let from = c_path(&proc_fd(file))?;
    let to = c_path(name)?;
    // SAFETY: both are valid C strings.
    let result = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    check(result).map(drop)
}

/// Removing one registered file when SIGINT or SIGTERM arrives, then dying of the signal
/// as if there were no handler.
mod signal {
    use std::ffi::{c_char, c_int, CString};
    use std::ptr;
    use std::sync::atomic::{AtomicPtr, Ordering};
    use std::sync::Once;

    /// The file to remove, as a C string the handler can use without allocating. Null
    /// when there is none. Whoever swaps it out (the handler, or the guard) owns it.
    static REGISTERED: AtomicPtr<c_char> = AtomicPtr::new(ptr::null_mut());

    static INSTALL: Once = Once::new();

    /// While it lives, SIGINT and SIGTERM remove the registered file before killing the
    /// process. One file at a time: a second guard while one lives registers nothing.
    pub struct RemoveOnSignal(*mut c_char);

    impl RemoveOnSignal {
        pub fn new(path: &CString) -> Self {
            INSTALL.call_once(install);
            let raw = path.clone().into_raw();
            match REGISTERED.compare_exchange(
                ptr::null_mut(),
                raw,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => RemoveOnSignal(raw),
                Err(_) => {
                    // SAFETY: `raw` came from `into_raw` above and was not shared.
                    drop(unsafe { CString::from_raw(raw) });
                    RemoveOnSignal(ptr::null_mut())
                }
            }
        }
    }

    impl Drop for RemoveOnSignal {
        fn drop(&mut self) {
            let ours = self.0;
            if !ours.is_null()
                && REGISTERED
                    .compare_exchange(ours, ptr::null_mut(), Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                // SAFETY: taken back from `REGISTERED`, so the handler cannot see it.
                drop(unsafe { CString::from_raw(ours) });
            }
        }
    }

    /// Handles SIGINT and SIGTERM, except where they are ignored (a background job of a
    /// non-interactive shell ignores SIGINT): those stay ignored.
    fn install() {
        for signal in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: plain sigaction calls on zero-initialised structs; the handler only
            // makes async-signal-safe calls.
            unsafe {
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(signal, ptr::null(), &mut old) != 0
                    || old.sa_sigaction == libc::SIG_IGN
                {
                    continue;
                }
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = handle as extern "C" fn(c_int) as libc::sighandler_t;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, ptr::null_mut());
            }
        }
    }

    /// Removes the registered file, then lets the signal take its default course, so the
    /// exit status still says "killed by signal".
    extern "C" fn handle(signal: c_int) {
        let path = REGISTERED.swap(ptr::null_mut(), Ordering::SeqCst);
        // SAFETY: unlink, signal and raise are async-signal-safe; `path` (leaked, since
        // the process is about to end) is a valid C string nobody else will free.
        unsafe {
            if !path.is_null() {
                libc::unlink(path);
            }
            libc::signal(signal, libc::SIG_DFL);
            // Blocked while this handler runs; delivered, with the default action, as it
            // returns.
            libc::raise(signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::c_int;
    use std::io::Write;
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};

    /// The names in `dir`.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Writes `bytes` through `output` and persists it read-only.
    fn write_and_persist(output: OutputFile, bytes: &[u8]) {
        output.file().write_all(bytes).unwrap();
        output.persist(0o444).unwrap();
    }

    fn check_persist_replaces_and_drop_leaves_nothing(
        create: fn(&Path) -> OutputFile,
        visible_while_written: bool,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image.tar");

        let output = create(&path);
        output.file().write_all(b"partial").unwrap();
        assert_eq!(names(dir.path()).len(), usize::from(visible_while_written));
        drop(output);
        assert_eq!(names(dir.path()), Vec::<String>::new());

        write_and_persist(create(&path), b"first");
        write_and_persist(create(&path), b"second");
        assert_eq!(names(dir.path()), ["image.tar"]);
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o444);
    }

    #[test]
    fn an_unnamed_file_is_invisible_until_persisted() {
        check_persist_replaces_and_drop_leaves_nothing(
            |path| {
                OutputFile::unnamed(path)
                    .unwrap()
                    .expect("the test's temporary directory supports O_TMPFILE")
            },
            false,
        );
    }

    #[test]
    fn a_named_file_is_removed_when_dropped() {
        check_persist_replaces_and_drop_leaves_nothing(
            |path| OutputFile::named(path).unwrap(),
            true,
        );
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let error = OutputFile::create(&dir.path().join("nope/image.tar"))
            .err()
            .unwrap();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }

    /// Set in the child process [`named_file_child`] runs in: the output directory and
    /// what to do there.
    const CHILD_DIR: &str = "STOWAGE_OUTPUT_FILE_TEST_DIR";
    const CHILD_SIGNAL: &str = "STOWAGE_OUTPUT_FILE_TEST_SIGNAL";
    const CHILD_IGNORE: &str = "STOWAGE_OUTPUT_FILE_TEST_IGNORE";

    /// Runs [`named_file_child`] in a fresh process of this test binary.
    fn run_child(dir: &Path, signal: c_int, ignore: bool) -> std::process::ExitStatus {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args(["--exact", "image::output_file::tests::named_file_child"])
            .args(["--ignored", "--test-threads=1"])
            .env(CHILD_DIR, dir)
            .env(CHILD_SIGNAL, signal.to_string())
            .stdout(Stdio::null());
        if ignore {
            command.env(CHILD_IGNORE, "1");
        }
        command.status().unwrap()
    }

    /// In a child process: starts a named output file, writes to it and raises a signal.
    #[test]
    #[ignore = "run in a child process by the tests below"]
    fn named_file_child() {
        let (Some(dir), Some(signal)) = (
            std::env::var_os(CHILD_DIR),
            std::env::var(CHILD_SIGNAL).ok(),
        ) else {
            return;
        };
        let signal: c_int = signal.parse().unwrap();
        if std::env::var_os(CHILD_IGNORE).is_some() {
            // SAFETY: setting a disposition, as a shell does for a background job.
            unsafe { libc::signal(signal, libc::SIG_IGN) };
        }
        let output = OutputFile::named(&Path::new(&dir).join("image.tar")).unwrap();
        output.file().write_all(b"partial").unwrap();
        assert_eq!(names(Path::new(&dir)).len(), 1);
        // SAFETY: raising a signal; delivered to this thread before `raise` returns.
        unsafe { libc::raise(signal) };
        assert!(
            std::env::var_os(CHILD_IGNORE).is_some(),
            "survived signal {signal}"
        );
        std::mem::forget(output); // leave the file for the parent to see
    }

    #[test]
    fn sigint_and_sigterm_remove_a_named_file_and_still_kill() {
        for signal in [libc::SIGINT, libc::SIGTERM] {
            let dir = tempfile::tempdir().unwrap();
            let status = run_child(dir.path(), signal, false);
            assert_eq!(status.signal(), Some(signal), "{status:?}");
            assert_eq!(names(dir.path()), Vec::<String>::new());
        }
    }

    #[test]
    fn an_ignored_signal_stays_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let status = run_child(dir.path(), libc::SIGINT, true);
        assert!(status.success(), "{status:?}");
        assert_eq!(names(dir.path()).len(), 1);
    }
}
