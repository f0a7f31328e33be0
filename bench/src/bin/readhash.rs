//! `readhash`: the physical baseline of the stowage benchmark.
//!
//! Whatever stowage does, it has to read every byte of the closure once and SHA-256 it
//! (the layer digests). This program does exactly that and nothing else, so its throughput
//! is the bound that `bench/run` compares stowage against:
//!
//! * `--threads 1`: one thread and one running hasher over all bytes in sorted path order,
//!   like a single-pass tar writer that digests while it writes (the single-core bound for
//!   `stowage stream`, whose output is one sequential stream).
//! * `--threads N` (N > 1): a pool of N threads that walks the tree and hashes files
//!   independently (the all-cores bound for `stowage build`, which may write layers in
//!   parallel).
//!
//! It prints `files=<n> bytes=<n> seconds=<f>` on stdout.

use std::cmp::Reverse;
use std::ffi::OsStr;
use std::fs::{self, DirEntry, File};
use std::hint::black_box;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use clap::Parser;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// Read size per `read(2)`: large enough that syscall overhead is noise next to hashing.
const BUF_SIZE: usize = 1 << 20;

/// Reads and SHA-256-hashes every regular file under the given paths, once.
#[derive(Parser, Debug)]
#[command(name = "readhash", version)]
struct Args {
    /// Threads: 1 hashes everything as one stream; more hash files independently.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    threads: u16,

    /// Also write every byte read to FILE (created anew), as one file holding all the
    /// contents: the baseline for `stowage build`, which has to write its output too.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Read the paths to walk from FILE, one per line, instead of the command line.
    #[arg(long, value_name = "FILE", conflicts_with = "paths")]
    list: Option<PathBuf>,

    /// Files or directories to walk. Directories are walked recursively; symlinks are not
    /// followed and anything that is not a regular file is skipped.
    #[arg(value_name = "PATH", required_unless_present = "list")]
    paths: Vec<PathBuf>,
}

/// A regular file found by the walk, with the size `lstat` gave for it.
struct FileEntry {
    path: PathBuf,
    size: u64,
}

/// Runs the program and turns an error into one line on stderr and a failing exit code.
fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("readhash: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Walks the roots, hashes what it found and prints the totals.
fn run(args: Args) -> io::Result<()> {
    let roots = match &args.list {
        Some(list) => read_list(list)?,
        None => args.paths,
    };
    // The clock covers the walk too: stowage has to stat every file as well, so the
    // baseline should not get that part for free.
    let output = args
        .output
        .as_deref()
        .map(|path| File::create(path).map_err(|e| with_path(e, path)))
        .transpose()?;
    let start = Instant::now();
    let (count, bytes) = if args.threads == 1 {
        let files = collect_files(&roots)?;
        (files.len(), hash_sequential(&files, output.as_ref())?)
    } else {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(usize::from(args.threads))
            .build()
            .map_err(io::Error::other)?;
        let files = pool.install(|| collect_files_parallel(&roots))?;
        (files.len(), hash_parallel(files, &pool, output.as_ref())?)
    };
    let seconds = start.elapsed().as_secs_f64();
    println!("files={count} bytes={bytes} seconds={seconds:.3}");
    Ok(())
}

/// Reads a list of paths, one per line; empty lines are ignored. Lines are taken as raw
/// bytes because store paths are not required to be UTF-8.
fn read_list(list: &Path) -> io::Result<Vec<PathBuf>> {
    let data = fs::read(list).map_err(|e| with_path(e, list))?;
    Ok(data
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| PathBuf::from(OsStr::from_bytes(line)))
        .collect())
}

/// What the walk found at one path; symlinks and special files count as `Other`.
enum Found {
    Dir(PathBuf),
    File(FileEntry),
    Other,
}

/// Classifies a root given on the command line without following a symlink, so a store
/// path that is itself a symlink is skipped (stowage stores it as a link, not content).
fn inspect_root(root: &Path) -> io::Result<Found> {
    let meta = fs::symlink_metadata(root).map_err(|e| with_path(e, root))?;
    Ok(if meta.is_dir() {
        Found::Dir(root.to_path_buf())
    } else if meta.is_file() {
        Found::File(FileEntry {
            path: root.to_path_buf(),
            size: meta.len(),
        })
    } else {
        Found::Other
    })
}

/// Classifies a directory entry. DirEntry::file_type comes from the directory listing and
/// does not follow symlinks, so links to directories are never descended into.
fn inspect_entry(entry: &DirEntry) -> io::Result<Found> {
    let path = entry.path();
    let kind = entry.file_type().map_err(|e| with_path(e, &path))?;
    Ok(if kind.is_dir() {
        Found::Dir(path)
    } else if kind.is_file() {
        let size = entry.metadata().map_err(|e| with_path(e, &path))?.len();
        Found::File(FileEntry { path, size })
    } else {
        Found::Other
    })
}

/// Lists a directory, sorted by name.
fn read_dir_sorted(dir: &Path) -> io::Result<Vec<DirEntry>> {
    let mut entries = fs::read_dir(dir)
        .and_then(|entries| entries.collect::<io::Result<Vec<_>>>())
        .map_err(|e| with_path(e, dir))?;
    // Sorting names per directory is cheap; sorting whole paths at the end costs a
    // component-wise comparison per pair and showed up in profiles of the baseline.
    // The cached key allocates each name once rather than twice per comparison.
    entries.sort_by_cached_key(|entry| entry.file_name());
    Ok(entries)
}

/// Finds every regular file under `roots`, in the order a tar writer emits them: roots in
/// the order given, each directory's entries sorted by name, depth first.
fn collect_files(roots: &[PathBuf]) -> io::Result<Vec<FileEntry>> {
    let mut files = Vec::new();
    for root in roots {
        match inspect_root(root)? {
            Found::Dir(dir) => walk_dir(&dir, &mut files)?,
            Found::File(file) => files.push(file),
            Found::Other => {}
        }
    }
    Ok(files)
}

/// Appends the regular files under `dir` to `files`, in sorted order, depth first.
fn walk_dir(dir: &Path, files: &mut Vec<FileEntry>) -> io::Result<()> {
    for entry in read_dir_sorted(dir)? {
        match inspect_entry(&entry)? {
            Found::Dir(sub) => walk_dir(&sub, files)?,
            Found::File(file) => files.push(file),
            Found::Other => {}
        }
    }
    Ok(())
}

/// Finds every regular file under `roots` like [`collect_files`], but walks directories in
/// parallel on the current rayon pool and returns the files in no particular order. The
/// all-cores baseline should not be held back by a single-threaded walk: 98k stats took
/// about a fifth of its time.
fn collect_files_parallel(roots: &[PathBuf]) -> io::Result<Vec<FileEntry>> {
    roots
        .par_iter()
        .map(|root| match inspect_root(root)? {
            Found::Dir(dir) => walk_dir_parallel(&dir),
            Found::File(file) => Ok(vec![file]),
            Found::Other => Ok(Vec::new()),
        })
        .try_reduce(Vec::new, concat)
}

/// Returns the regular files under `dir`, walking its subdirectories in parallel.
fn walk_dir_parallel(dir: &Path) -> io::Result<Vec<FileEntry>> {
    let mut files = Vec::new();
    let mut subdirs = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| with_path(e, dir))? {
        let entry = entry.map_err(|e| with_path(e, dir))?;
        match inspect_entry(&entry)? {
            Found::Dir(sub) => subdirs.push(sub),
            Found::File(file) => files.push(file),
            Found::Other => {}
        }
    }
    let nested = subdirs
        .par_iter()
        .map(|sub| walk_dir_parallel(sub))
        .try_reduce(Vec::new, concat)?;
    concat(files, nested)
}

/// Joins two lists of files; the reducer of the parallel walk.
fn concat(mut a: Vec<FileEntry>, mut b: Vec<FileEntry>) -> io::Result<Vec<FileEntry>> {
    a.append(&mut b);
    Ok(a)
}

/// Hashes all files as one stream, in the walk's sorted order, on the calling thread, and
/// returns the number of bytes read.
fn hash_sequential(files: &[FileEntry], output: Option<&File>) -> io::Result<u64> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF_SIZE];
    let mut total = 0;
    for file in files {
        total += hash_file(
            &file.path,
            &mut hasher,
            &mut buf,
            output.map(|o| (o, total)),
        )?;
    }
    // Keep the digest observable so the optimiser cannot drop any of the work.
    black_box(hasher.finalize());
    Ok(total)
}

/// Hashes each file independently on every thread of `pool`, and returns the number of
/// bytes read.
fn hash_parallel(
    mut files: Vec<FileEntry>,
    pool: &rayon::ThreadPool,
    output: Option<&File>,
) -> io::Result<u64> {
    // Largest files first, handed out one at a time from a shared counter: greedy
    // scheduling keeps every thread busy until the end, so the baseline is the best all
    // cores can do. (A par_iter over this list splits it into a few chunks up front, and
    // the thread holding the chunk of big files ran alone for most of the time.)
    files.sort_unstable_by_key(|f| Reverse(f.size));
    // Where each file goes in the output, from the sizes the walk saw (as stowage places
    // its layers).
    let offsets: Vec<u64> = files
        .iter()
        .scan(0, |end, f| {
            let start = *end;
            *end += f.size;
            Some(start)
        })
        .collect();
    let next = AtomicUsize::new(0);
    let per_thread = pool.broadcast(|_| -> io::Result<u64> {
        let mut buf = vec![0u8; BUF_SIZE];
        let mut total = 0;
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(file) = files.get(index) else { break };
            let mut hasher = Sha256::new();
            total += hash_file(
                &file.path,
                &mut hasher,
                &mut buf,
                output.map(|o| (o, offsets[index])),
            )?;
            black_box(hasher.finalize());
        }
        Ok(total)
    });
    per_thread.into_iter().sum()
}

/// Feeds one file into `hasher` through `buf`, reading it exactly once, and returns the
/// number of bytes read (which may differ from the size seen by the walk if the file
/// changed; the bytes actually hashed are what counts). With `output`, the bytes are also
/// written to that file from the given offset on.
fn hash_file(
    path: &Path,
    hasher: &mut Sha256,
    buf: &mut [u8],
    output: Option<(&File, u64)>,
) -> io::Result<u64> {
    let mut file = File::open(path).map_err(|e| with_path(e, path))?;
    let mut total = 0u64;
    loop {
        match file.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                hasher.update(&buf[..n]);
                if let Some((out, offset)) = output {
                    out.write_all_at(&buf[..n], offset + total)?;
                }
                total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(with_path(e, path)),
        }
    }
}

/// Prefixes an I/O error with the path it concerns, keeping its kind.
fn with_path(err: io::Error, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}
