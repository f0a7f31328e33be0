//! Gzip on every core, as pigz does for nixpkgs: the stream is cut into fixed-size blocks,
//! each compressed as an independent gzip member on rayon's threads and written in order.
//! Concatenated members are one valid gzip file (RFC 1952), which `gzip -d`, Docker and
//! Go's reader decompress as a whole. The cut points depend only on the byte count, so
//! the output is the same whatever the number of threads.

use rayon::prelude::*;
use std::io::{self, Write};

/// Uncompressed bytes per gzip member: large enough that the dictionary restarting at
/// each member costs well under 1% of size, small enough to keep memory low.
const BLOCK: usize = 1 << 20;

/// A `Write` that gzips what it receives, several blocks at once.
pub struct ParallelGzip<W: Write> {
    out: W,
    level: flate2::Compression,
    /// Full blocks waiting to be compressed together, plus the block being filled (last).
    blocks: Vec<Vec<u8>>,
    /// How many full blocks to gather before compressing them in parallel.
    batch: usize,
    /// Whether a member went out already (an empty stream still needs one member).
    started: bool,
}

impl<W: Write> ParallelGzip<W> {
    /// Compresses into `out` at `level`.
    pub fn new(out: W, level: flate2::Compression) -> Self {
        let batch = 2 * rayon::current_num_threads().max(1);
        ParallelGzip {
            out,
            level,
            blocks: vec![Vec::with_capacity(BLOCK)],
            batch,
            started: false,
        }
    }

    /// Compresses what is left and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        let nothing_else = !self.started && self.blocks.len() == 1;
        if self.blocks.last().is_some_and(Vec::is_empty) && !nothing_else {
            self.blocks.pop();
        }
        self.compress_blocks()?;
        Ok(self.out)
    }

    /// Compresses the gathered blocks in parallel and writes the members in order.
    fn compress_blocks(&mut self) -> io::Result<()> {
        let level = self.level;
        let members: Vec<io::Result<Vec<u8>>> = self
            .blocks
            .par_iter()
            .map(|block| member(block, level))
            .collect();
        for compressed in members {
            self.out.write_all(&compressed?)?;
        }
        self.started |= !self.blocks.is_empty();
        self.blocks.clear();
        Ok(())
    }
}

/// One gzip member holding `block`. The header has no name and a zero mtime: the bytes
/// depend on the content only.
fn member(block: &[u8], level: flate2::Compression) -> io::Result<Vec<u8>> {
    let mut encoder = flate2::GzBuilder::new().write(Vec::with_capacity(block.len() / 2), level);
    encoder.write_all(block)?;
    encoder.finish()
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let current = self
            .blocks
            .last_mut()
            .expect("there is always a block being filled");
        let n = buf.len().min(BLOCK - current.len());
        current.extend_from_slice(&buf[..n]);
        if current.len() == BLOCK {
            if self.blocks.len() == self.batch {
                self.compress_blocks()?;
            }
            self.blocks.push(Vec::with_capacity(BLOCK));
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Bytes that compress somewhat, like real files.
    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i % 251) as u8 ^ (i / 4096) as u8)
            .collect()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut writer = ParallelGzip::new(Vec::new(), flate2::Compression::default());
        // Odd-sized writes, to cross block boundaries mid-write.
        for piece in data.chunks(333_333) {
            writer.write_all(piece).unwrap();
        }
        writer.finish().unwrap()
    }

    #[test]
    fn members_decompress_to_the_input() {
        for len in [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 7 * BLOCK + 12345] {
            let data = sample(len);
            let mut back = Vec::new();
            flate2::read::MultiGzDecoder::new(&gzip(&data)[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "{len} bytes");
        }
    }

    #[test]
    fn output_does_not_depend_on_the_thread_count() {
        let data = sample(5 * BLOCK + 99);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| gzip(&data));
        let three = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap()
            .install(|| gzip(&data));
        assert_eq!(one, three);
    }
}
