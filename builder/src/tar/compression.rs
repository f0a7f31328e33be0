//! The whole-stream compressions stowage writes (`--compress`, the Nix library's
//! `compressor`) and reads (compressed base images and their layers).

use std::io::Read;

/// A whole-stream compression, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// The names the command line offers.
    pub const NAMES: [&'static str; 3] = ["none", "gzip", "zstd"];

    /// The compression called `name`: one of [`Compression::NAMES`], or `gz` as
    /// nixpkgs' `compressor` spells gzip.
    pub fn parse(name: &str) -> Option<Compression> {
        match name {
            "none" => Some(Compression::None),
            "gzip" | "gz" => Some(Compression::Gzip),
            "zstd" => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// Recognises the format from the first (up to four) bytes of a stream: `None` for
    /// data that is not compressed (a tar starts with a member name, never these bytes).
    pub fn detect(magic: &[u8]) -> Compression {
        if magic.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// The format's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// A reader of the uncompressed bytes of `input`.
    pub fn decoder<'a>(self, input: impl Read + 'a) -> std::io::Result<Box<dyn Read + 'a>> {
        Ok(match self {
            Compression::None => Box::new(input),
            // Multi-member: parallel compressors (pigz, ours) write several gzip members.
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(input)?),
        })
    }
}

impl TryFrom<String> for Compression {
    type Error = String;

    fn try_from(name: String) -> Result<Compression, String> {
        Compression::parse(&name).ok_or_else(|| {
            format!("compressor \"{name}\" is unknown; use \"none\", \"gz\" or \"zstd\"")
        })
    }
}
