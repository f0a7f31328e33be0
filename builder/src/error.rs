//! The one error type of stowage. Every variant renders as a single line that names the
//! file, field or path at fault and, where there is one, what to do about it.

use std::io;
use std::path::{Path, PathBuf};

/// Everything that can stop an image build.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or inspecting an input file failed.
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },

    /// The conf (or `.attrs.json`) is malformed or holds a bad value.
    #[error("{}: {message}", file.display())]
    Conf { file: PathBuf, message: String },

    /// A store path or file that a layer should contain is unusable.
    #[error("{}: {message}", path.display())]
    Input { path: PathBuf, message: String },

    /// The base image (`from_image`) is malformed or hostile.
    #[error("base image {}: {message}", archive.display())]
    BaseImage { archive: PathBuf, message: String },

    /// An archive given to `merge` (`mergeImages`) is malformed, hostile, or at odds
    /// with another.
    #[error("image to merge {}: {message}", archive.display())]
    MergeInput { archive: PathBuf, message: String },

    /// Pulling from a registry failed, or the registry sent something we refuse.
    #[error("pulling {image}: {message}")]
    Registry { image: String, message: String },

    /// Pushing to a registry failed, or the registry answered something we refuse.
    #[error("pushing to {destination}: {message}")]
    Push {
        destination: String,
        message: String,
    },

    /// Options that cannot work together (a zstd layer in a Docker manifest, …).
    #[error("{0}")]
    Usage(String),

    /// A container engine could not be reached through its API socket, or refused what it
    /// was sent.
    #[error("container engine at {endpoint}: {message}")]
    Engine { endpoint: String, message: String },

    /// A bug in stowage: an invariant did not hold.
    #[error("internal error: {0}; please report this as a bug of stowage")]
    Internal(String),

    /// Writing the image failed. A broken pipe lands here and is treated as success by `main`.
    #[error("writing {target}: {source}")]
    Write { target: String, source: io::Error },
}

/// Shorthand for results that carry an [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O failure while reading `path`.
    pub fn read(path: &Path, source: io::Error) -> Self {
        Error::Read {
            path: path.to_owned(),
            source,
        }
    }

    /// A bad value in the conf file `file`.
    pub fn conf(file: &Path, message: impl Into<String>) -> Self {
        Error::Conf {
            file: file.to_owned(),
            message: message.into(),
        }
    }

    /// A problem with an input path that goes into a layer.
    pub fn input(path: &Path, message: impl Into<String>) -> Self {
        Error::Input {
            path: path.to_owned(),
            message: message.into(),
        }
    }

    /// A problem with the base image archive `archive`.
    pub fn base_image(archive: &Path, message: impl Into<String>) -> Self {
        Error::BaseImage {
            archive: archive.to_owned(),
            message: message.into(),
        }
    }

    /// A problem with the archive `archive` given to `merge`.
    pub fn merge_input(archive: &Path, message: impl Into<String>) -> Self {
        Error::MergeInput {
            archive: archive.to_owned(),
            message: message.into(),
        }
    }

    /// A problem with the container engine at `endpoint` (its socket, or the address
    /// that named it).
    pub fn engine(endpoint: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Engine {
            endpoint: endpoint.into(),
            message: message.into(),
        }
    }

    /// A failure writing to `target` (a file name, or "stdout").
    pub fn write(target: impl Into<String>, source: io::Error) -> Self {
        Error::Write {
            target: target.into(),
            source,
        }
    }

    /// The error as one printable line: newlines, escape sequences and other control
    /// characters from input (member names, conf values) are shown escaped, so that a
    /// hostile name can neither split the line nor drive the terminal.
    pub fn one_line(&self) -> String {
        escape_controls(&self.to_string())
    }

    /// True when the reader of our output went away (`stowage stream | head`): not an error
    /// worth reporting, since the reader chose to stop.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Write { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// `text` with every control character written as an escape (`\n`, `\x1b`).
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_onto_one_line() {
        let err = Error::input(Path::new("a\nb\x1b[31mc\u{9b}"), "bad\r\tthing");
        assert_eq!(err.one_line(), "a\\nb\\x{1b}[31mc\\x{9b}: bad\\r\\tthing");
    }
}
