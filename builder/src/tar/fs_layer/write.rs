//! The writing pass of a planned layer, on two threads: a reader walks the tree again and
//! fills blocks with the layer's bytes (headers, file contents, padding) while the
//! caller's thread writes and hashes the blocks before them, in order. Reading the next
//! files then overlaps hashing the current ones, and at most [`AHEAD`] blocks are in
//! flight.

use super::record::{changed, outgrown, resized, RecordReader};
use super::{Entry, FsLayer};
use crate::error::{Error, Result};
use crate::tar::tree_reader::TreeReader;
use crate::tar::{self, Kind};
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

/// How many filled blocks may wait for the writer: the read-ahead window is
/// `AHEAD * BLOCK_SIZE`.
const AHEAD: usize = 8;

/// The size of a block. Every layer allocates its window anew, and the kernel zeroes
/// each fresh page: with 1 MiB blocks that zeroing took 6% of streaming the small bench
/// closure (112 MB in six layers). A quarter of that is still large enough that
/// handing blocks between the threads costs nothing measurable.
const BLOCK_SIZE: usize = 256 << 10;

/// A block of layer bytes: the buffer (always [`BLOCK_SIZE`] long) and how much of it is
/// filled.
type Block = (Vec<u8>, usize);

/// Writes `layer`'s members to `out` (see [`FsLayer::write_members_to`]).
pub(super) fn write_members(layer: &FsLayer, out: &mut impl Write, target: &str) -> Result<()> {
    let (full_tx, full_rx) = mpsc::sync_channel(AHEAD);
    let (spare_tx, spare_rx) = mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut filler = Filler::new(layer, full_tx, spare_rx);
            if let Err(error) = filler.run() {
                // The writer may have stopped first, with an error of its own.
                let _ = filler.full.send(Err(error));
            }
        });
        drain(full_rx, spare_tx, out, target)
    })
}

/// The writer's side: every block to `out` in order, each buffer handed back for reuse.
fn drain(
    blocks: Receiver<Result<Block>>,
    spare: Sender<Vec<u8>>,
    out: &mut impl Write,
    target: &str,
) -> Result<()> {
    for block in blocks {
        let (buffer, filled) = block?;
        out.write_all(&buffer[..filled])
            .map_err(|e| Error::write(target, e))?;
        // The reader may be done and gone.
        let _ = spare.send(buffer);
    }
    Ok(())
}

/// The reader's side: walks the layer and turns its members into blocks.
struct Filler<'a> {
    layer: &'a FsLayer,
    full: SyncSender<Result<Block>>,
    spare: Receiver<Vec<u8>>,
    block: Block,
    /// Bytes of the layer put into blocks so far.
    written: u64,
    record: RecordReader<'a>,
    /// Opened on the first file.
    reader: Option<TreeReader>,
    /// Room for one member's header(s), reused.
    header: Vec<u8>,
}

impl<'a> Filler<'a> {
    /// A filler of `layer`'s blocks, sending them to `full` and taking buffers back from
    /// `spare`.
    fn new(layer: &'a FsLayer, full: SyncSender<Result<Block>>, spare: Receiver<Vec<u8>>) -> Self {
        Filler {
            layer,
            full,
            spare,
            block: (vec![0; BLOCK_SIZE], 0),
            written: 0,
            record: layer.record.reader(),
            reader: None,
            header: Vec::with_capacity(tar::BLOCK as usize * 2),
        }
    }

    /// Puts every member into blocks and sends the last one; checks that the walk found
    /// the members planned, and exactly as many bytes of them.
    fn run(&mut self) -> Result<()> {
        let layer = self.layer;
        layer.visit(&mut |entry, path| self.member(&entry, path))?;
        self.record.finish(&layer.trusted)?;
        if self.written != layer.members_size {
            return Err(resized(&layer.trusted, layer.members_size, self.written));
        }
        self.send()
    }

    /// Puts one member (found at `path`) into blocks: its header(s), and a file's
    /// contents and padding.
    fn member(&mut self, entry: &Entry, path: &Path) -> Result<()> {
        self.record.check(entry, path)?;
        let size = self.layer.member_size(entry);
        if self.written + size > self.layer.members_size {
            // A symlink's target is not in the record: its new one may be longer.
            return Err(outgrown(path));
        }
        let mut header = std::mem::take(&mut self.header);
        header.clear();
        tar::write_header(&self.layer.header(entry), &mut header);
        let put = self.put(&header);
        self.header = header;
        put?;
        if entry.kind == Kind::File {
            let file = self.open(path, entry)?;
            self.copy(file, path, entry.size)?;
            self.put(tar::padding(entry.size))?;
        }
        Ok(())
    }

    /// Opens the regular file at `path` for `entry` and checks it is the file listed: no
    /// symlink on the way below the trusted directory, same device, inode and size.
    fn open(&mut self, path: &Path, entry: &Entry) -> Result<File> {
        let trusted = &self.layer.trusted;
        let relative = path.strip_prefix(trusted).map_err(|_| {
            Error::Internal(format!(
                "{} is outside the layer's directory {}",
                path.display(),
                trusted.display()
            ))
        })?;
        let reader = match &mut self.reader {
            Some(reader) => reader,
            None => self
                .reader
                .insert(TreeReader::open(trusted).map_err(|e| Error::read(trusted, e))?),
        };
        let file = reader
            .open_file(relative)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP | libc::ENOTDIR | libc::ENOENT | libc::ENXIO) => {
                    changed(path, entry.size)
                }
                _ => Error::read(path, e),
            })?;
        let meta = file.metadata().map_err(|e| Error::read(path, e))?;
        if !meta.is_file() || (meta.dev(), meta.ino()) != entry.identity || meta.len() != entry.size
        {
            return Err(changed(path, entry.size));
        }
        Ok(file)
    }

    /// Reads exactly `size` bytes of `file` (at `path`) into blocks. A file that is
    /// shorter or longer changed after it was listed, which is an error.
    fn copy(&mut self, mut file: File, path: &Path, size: u64) -> Result<()> {
        let mut left = size;
        while left > 0 {
            let (buffer, filled) = &mut self.block;
            let room = (buffer.len() - *filled).min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = file
                .read(&mut buffer[*filled..*filled + room])
                .map_err(|e| Error::read(path, e))?;
            if n == 0 {
                return Err(changed(path, size));
            }
            *filled += n;
            left -= n as u64;
            self.written += n as u64;
            self.send_if_full()?;
        }
        let mut probe = [0u8; 1];
        if file.read(&mut probe).map_err(|e| Error::read(path, e))? != 0 {
            return Err(changed(path, size));
        }
        Ok(())
    }

    /// Appends `bytes` to the blocks.
    fn put(&mut self, mut bytes: &[u8]) -> Result<()> {
        while !bytes.is_empty() {
            let (buffer, filled) = &mut self.block;
            let n = bytes.len().min(buffer.len() - *filled);
            buffer[*filled..*filled + n].copy_from_slice(&bytes[..n]);
            *filled += n;
            bytes = &bytes[n..];
            self.written += n as u64;
            self.send_if_full()?;
        }
        Ok(())
    }

    /// Sends the current block once it is full.
    fn send_if_full(&mut self) -> Result<()> {
        if self.block.1 == self.block.0.len() {
            self.send()?;
        }
        Ok(())
    }

    /// Sends the current block to the writer and starts another, in a buffer the writer
    /// handed back when there is one.
    fn send(&mut self) -> Result<()> {
        let buffer = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| vec![0; BLOCK_SIZE]);
        let block = std::mem::replace(&mut self.block, (buffer, 0));
        self.full
            .send(Ok(block))
            // The writer stopped on an error of its own, which is the one reported.
            .map_err(|_| Error::Internal("the layer's writer stopped".into()))
    }
}
