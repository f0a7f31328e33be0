//! Writing a [`RootIndex`] as a flat tarball: members named as nixpkgs' exportImage
//! names them (`./`, `./bin/`, `./bin/sh`), in the index's order, with the modes,
//! owners, times and symlink targets the layers gave, and each file's bytes copied from
//! the layer that last wrote it.

use std::io::{BufWriter, Write};
use std::path::Path;

use super::index::{Node, RootIndex};
use crate::error::{Error, Result};
use crate::image::blob::Blob;
use crate::image::output_file::OutputFile;
use crate::tar::copy::COPY_BUFFER;
use crate::tar::{self, Header, Kind};

/// Writes `index` (made from `layers`) to the file `output`, which appears whole or not
/// at all.
pub fn write_file(index: &RootIndex, layers: &[Blob], output: &Path) -> Result<()> {
    let target = output.display().to_string();
    let file = OutputFile::create(output).map_err(|e| Error::write(&target, e))?;
    let mut out = BufWriter::with_capacity(COPY_BUFFER, file.file());
    write_tar(index, layers, &mut out, &target)?;
    out.flush().map_err(|e| Error::write(&target, e))?;
    drop(out);
    // Read-only like every build result; independent of the umask.
    file.persist(0o444).map_err(|e| Error::write(&target, e))
}

/// Writes the tar of `index` to `out` (named `target` in errors), end blocks included.
pub(super) fn write_tar(
    index: &RootIndex,
    layers: &[Blob],
    out: &mut impl Write,
    target: &str,
) -> Result<()> {
    let mut header = Vec::new();
    let mut buffer = Vec::new();
    for (path, node) in index.iter() {
        let name = member_name(path);
        header.clear();
        tar::write_header(&header_of(&name, node), &mut header);
        out.write_all(&header)
            .map_err(|e| Error::write(target, e))?;
        if let Node::File(_, data) = node {
            data.write_to(layers, &mut buffer, out, target)?;
            out.write_all(tar::padding(data.size))
                .map_err(|e| Error::write(target, e))?;
        }
    }
    out.write_all(&tar::END_OF_ARCHIVE)
        .map_err(|e| Error::write(target, e))
}

/// The member name of `path`: `./` and the path; `.` for the root (written `./`, as
/// the encoder adds a directory's `/`).
fn member_name(path: &[u8]) -> Vec<u8> {
    if path.is_empty() {
        return b".".to_vec();
    }
    [b"./", path].concat()
}

/// The tar header of `node`, named `name`.
fn header_of<'a>(name: &'a [u8], node: &'a Node) -> Header<'a> {
    let (kind, size) = match node {
        Node::Dir(_) => (Kind::Directory, 0),
        Node::File(_, data) => (Kind::File, data.size),
        Node::Symlink(_, target) => (Kind::Symlink(target.clone()), 0),
    };
    let meta = node.meta();
    Header {
        name,
        kind,
        mode: meta.mode,
        size,
        owner: &meta.owner,
    }
}
