//! What an image is written as: a docker-archive (`docker load`) or an OCI layout, a
//! directory or its tar. Named alike on the command line (`--format`) and in the Nix
//! library's `.attrs.json` (`format`).

use crate::image::oci::LayoutKind;
use crate::tar::compression::Compression;

/// What `stowage build` (and the Nix library's `format`) writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum OutputFormat {
    DockerArchive,
    OciArchive,
    OciDir,
}

impl OutputFormat {
    /// The names the command line and `.attrs.json` use.
    pub const NAMES: [&'static str; 3] = ["docker-archive", "oci-archive", "oci-dir"];

    /// The format called `name`, one of [`OutputFormat::NAMES`].
    pub fn parse(name: &str) -> Option<OutputFormat> {
        match name {
            "docker-archive" => Some(OutputFormat::DockerArchive),
            "oci-archive" => Some(OutputFormat::OciArchive),
            "oci-dir" => Some(OutputFormat::OciDir),
            _ => None,
        }
    }

    /// The kind of OCI layout, or `None` for a docker-archive.
    pub fn layout(self) -> Option<LayoutKind> {
        match self {
            OutputFormat::DockerArchive => None,
            OutputFormat::OciArchive => Some(LayoutKind::Archive),
            OutputFormat::OciDir => Some(LayoutKind::Dir),
        }
    }

    /// A docker-archive is compressed as a whole, so uncompressed by default (`docker
    /// load` and `podman load` differ in what they take); an OCI layout's layers are
    /// compressed one by one, gzip by default as registries serve them.
    pub fn default_compression(self) -> Compression {
        match self {
            OutputFormat::DockerArchive => Compression::None,
            _ => Compression::Gzip,
        }
    }
}

impl TryFrom<String> for OutputFormat {
    type Error = String;

    fn try_from(name: String) -> Result<OutputFormat, String> {
        OutputFormat::parse(&name).ok_or_else(|| {
            format!(
                "format \"{name}\" is unknown; use one of {}",
                OutputFormat::NAMES.join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_and_others_are_named_in_the_error() {
        for name in OutputFormat::NAMES {
            assert!(OutputFormat::parse(name).is_some(), "{name}");
        }
        let message = OutputFormat::try_from("oci".to_owned()).unwrap_err();
        assert!(
            message.contains("\"oci\"") && message.contains("oci-dir"),
            "{message}"
        );
    }
}
