//! Tar bytes: the deterministic header encoder, layers made of file trees, the hashing
//! writer that computes digests on the way through, and parallel gzip. Knows nothing of
//! images, confs or Nix.

pub mod compression;
pub(crate) mod copy;
pub mod digest;
pub mod fs_layer;
mod header;
pub mod parallel_compress;
pub mod stream_bound;
mod tree_reader;

pub use header::*;
