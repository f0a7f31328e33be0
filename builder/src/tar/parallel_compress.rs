//! Gzip or zstd on every core, as pigz does for nixpkgs: the stream is cut into
//! fixed-size blocks, each compressed as an independent gzip member or zstd frame on
//! rayon's threads and written in order. Concatenated members are one valid gzip file
//! (RFC 1952) and concatenated frames one valid zstd stream (RFC 8878), which `gzip -d`,
//! `zstd -d`, Docker, podman and Go's readers decompress as a whole. The cut points depend
//! only on the byte count and each block is compressed on one thread, so the output is
//! the same whatever the number of cores: layer digests are the same on every machine.

use rayon::prelude::*;
use std::io::{self, Write};

/// Uncompressed bytes per member or frame: large enough that the dictionary restarting at
/// each member costs well under 1% of size, small enough to keep memory low.
const BLOCK: usize = 1 << 20;

/// A compressor of independent blocks, at a fixed level.
#[derive(Debug, Clone, Copy)]
pub enum Codec {
    Gzip(flate2::Compression),
    /// A zstd level (1–19).
    Zstd(i32),
}

impl Codec {
    /// Gzip at zlib's default level, as pigz and nixpkgs write.
    pub fn gzip() -> Codec {
        Codec::Gzip(flate2::Compression::default())
    }

    /// Zstd at its default level.
    pub fn zstd() -> Codec {
        Codec::Zstd(zstd::DEFAULT_COMPRESSION_LEVEL)
    }

    /// One gzip member or zstd frame holding `block`. Gzip headers have no name and a
    /// zero mtime: the bytes depend on the content only.
    fn compress(self, block: &[u8]) -> io::Result<Vec<u8>> {
        match self {
            Codec::Gzip(level) => {
                let mut encoder =
                    flate2::GzBuilder::new().write(Vec::with_capacity(block.len() / 2), level);
                encoder.write_all(block)?;
                encoder.finish()
            }
            Codec::Zstd(level) => zstd::bulk::compress(block, level),
        }
    }
}

/// A `Write` that compresses what it receives, several blocks at once.
pub struct ParallelCompress<W: Write> {
    out: W,
    codec: Codec,
    /// Full blocks waiting to be compressed together, plus the block being filled (last).
    blocks: Vec<Vec<u8>>,
    /// How many full blocks to gather before compressing them in parallel.
    batch: usize,
    /// Whether a member went out already (an empty stream still needs one member).
    started: bool,
}

impl<W: Write> ParallelCompress<W> {
    /// Compresses into `out` with `codec`.
    pub fn new(out: W, codec: Codec) -> Self {
        let batch = 2 * rayon::current_num_threads().max(1);
        ParallelCompress {
            out,
            codec,
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
        let codec = self.codec;
        let members: Vec<io::Result<Vec<u8>>> = self
            .blocks
            .par_iter()
            .map(|block| codec.compress(block))
            .collect();
        for compressed in members {
            self.out.write_all(&compressed?)?;
        }
        self.started |= !self.blocks.is_empty();
        self.blocks.clear();
        Ok(())
    }
}

impl<W: Write> Write for ParallelCompress<W> {
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
    use crate::tar::compression::Compression;
    use std::io::Read;

    /// Bytes that compress somewhat, like real files.
    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i % 251) as u8 ^ (i / 4096) as u8)
            .collect()
    }

    fn compress(codec: Codec, data: &[u8]) -> Vec<u8> {
        let mut writer = ParallelCompress::new(Vec::new(), codec);
        // Odd-sized writes, to cross block boundaries mid-write.
        for piece in data.chunks(333_333) {
            writer.write_all(piece).unwrap();
        }
        writer.finish().unwrap()
    }

    /// Each codec with the whole-stream decoder that reads it.
    fn codecs() -> [(Codec, Compression); 2] {
        [
            (Codec::gzip(), Compression::Gzip),
            (Codec::zstd(), Compression::Zstd),
        ]
    }

    #[test]
    fn blocks_decompress_to_the_input() {
        for (codec, compression) in codecs() {
            for len in [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 7 * BLOCK + 12345] {
                let data = sample(len);
                let compressed = compress(codec, &data);
                let mut back = Vec::new();
                compression
                    .decoder(&compressed[..])
                    .unwrap()
                    .read_to_end(&mut back)
                    .unwrap();
                assert_eq!(back, data, "{codec:?}, {len} bytes");
            }
        }
    }

    #[test]
    fn output_does_not_depend_on_the_thread_count() {
        let data = sample(5 * BLOCK + 99);
        for (codec, _) in codecs() {
            let on = |threads| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| compress(codec, &data))
            };
            assert_eq!(on(1), on(3), "{codec:?}");
        }
    }
}
