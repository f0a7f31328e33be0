//! Reading an input file whole (a conf, `.attrs.json`, a graph, a pipeline), with a
//! bound: a file is never trusted to be small, and `/dev/zero` given as a conf must fail
//! with a message, not take all memory. Pipes are fine (`stowage stream <(…)`).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// The largest input read whole: far above the graph of a million store paths.
pub const MAX_INPUT: u64 = 512 << 20;

/// The bytes of `file`, or an error when it cannot be read or holds more than
/// [`MAX_INPUT`] bytes.
pub fn read_bounded(file: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(file)?
        .take(MAX_INPUT + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(io::Error::other(format!(
            "holds more than {} MiB; is it the right file?",
            MAX_INPUT >> 20
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_input_is_an_error_not_all_memory() {
        let err = read_bounded(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "holds more than 512 MiB; is it the right file?"
        );
        assert!(read_bounded(Path::new("/dev/null")).unwrap().is_empty());
    }
}
