//! An image's root filesystem: its layers applied bottom to top, as a container of the
//! image would see it, written as one flat tarball (nixpkgs' `exportImage`, without
//! its VM: nothing is unpacked to disk).
//!
//! The layers are untrusted (a base image can come from anywhere), so the work is split
//! by what each step may believe:
//! - `layer` reads one layer tar into a list of changes, refusing names that leave the
//!   root, members that claim more bytes than the layer has, device nodes and fifos, and
//!   checking the layer's digest in the same pass;
//! - `index` applies each layer's changes to an index of path → node, honouring
//!   whiteouts (`.wh.<name>`) and opaque directories (`.wh..wh..opq`) as the OCI image
//!   spec and Docker do;
//! - `write` writes the index as a tar in one pass, sorted by name, copying each file's
//!   bytes straight from the layer it came from;
//! - `unpack` creates what the index holds in a directory (runAsRoot's lower directory).

mod index;
mod layer;
#[cfg(test)]
mod tests;
pub mod unpack;
mod write;

use crate::error::Result;
use crate::image::blob::Blob;

pub use index::RootIndex;
pub use write::write_file;

/// Applies `layers` (bottom first, as a base image lists them) one after the other and
/// returns the root filesystem they make.
pub fn flatten(layers: &[Blob]) -> Result<RootIndex> {
    let mut index = RootIndex::new();
    for (position, blob) in layers.iter().enumerate() {
        let layer = layer::LayerRef {
            blob,
            position,
            count: layers.len(),
        };
        let changes = layer::read_layer(&layer)?;
        index.apply(&layer, changes)?;
    }
    Ok(index)
}
