//! `stowage push IMAGE docker://REGISTRY/NAME[:TAG]`: an image (a stream script or conf,
//! an archive, or an index file of several platforms) into a registry, sending only the
//! blobs it lacks (see `registry::push`). Progress goes to stderr (redrawn on a
//! terminal, one line per blob otherwise); stdout gets `NAME:TAG@DIGEST`.

use crate::commands::image_input::open_images;
use crate::error::{Error, Result};
use crate::image::descriptor::ManifestFormat;
use crate::image::publish::PublishFormat;
use crate::registry::auth::{self, AuthArgs};
use crate::registry::client::{repository_scope, Access, Registry};
use crate::registry::push::{push, Destination, PushReport};

use crate::registry::push_state::PushState;
use crate::registry::reference::Reference;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// `stowage push`'s arguments.
pub struct PushArgs<'a> {
    pub image: &'a Path,
    /// `docker://[REGISTRY/]NAME[:TAG]`.
    pub destination: &'a str,
    pub format: PublishFormat,
    /// Verify the registry's certificate (false also allows plain HTTP).
    pub tls_verify: bool,
    pub cert_dir: Option<PathBuf>,
    pub auth: AuthArgs,
    /// Where to write the pushed manifest's digest (as skopeo's `--digestfile`).
    pub digest_file: Option<PathBuf>,
    /// See [`Destination::chunk_size`].
    pub chunk_size: u64,
    pub quiet: bool,
}

/// Pushes the image; returns the line for stdout.
pub fn run(args: &PushArgs<'_>) -> Result<String> {
    let bad = |message: String| Error::Push {
        destination: args.destination.to_owned(),
        message,
    };
    let reference = parse_destination(args.destination).map_err(bad)?;
    check_format(args.format).map_err(bad)?;
    let opened = open_images(args.image, None)?;
    let host = reference.api_host().to_owned();
    let destination = Destination {
        name: args.destination.to_owned(),
        repository: reference.repository.clone(),
        tag: destination_tag(&reference, opened.index_name.as_deref()),
        chunk_size: args.chunk_size,
    };
    let state = PushState::open(&host);
    let mut api = connect(args, &reference).map_err(bad)?;
    let mut printer = Printer::new(args.quiet);
    let (pushed, digest, report) = push(
        &mut api,
        &opened.images,
        opened.index_name.is_some(),
        &destination,
        args.format,
        &state,
        &mut |line| printer.line(line),
    )?;
    printer.summary(&report);
    if let Some(file) = &args.digest_file {
        std::fs::write(file, digest.prefixed())
            .map_err(|e| Error::write(file.display().to_string(), e))?;
    }
    Ok(format!(
        "{}/{pushed}@{}\n",
        reference.registry,
        digest.prefixed()
    ))
}

/// A client of the destination's registry, authorized to push to its repository.
fn connect(args: &PushArgs<'_>, reference: &Reference) -> Result<Registry, String> {
    let access = Access {
        tls_verify: args.tls_verify,
        cert_dir: args.cert_dir.clone(),
        login: auth::login(&args.auth, &reference.registry)?,
    };
    let mut api = Registry::new(reference.api_host(), access)?;
    api.authorize(&[repository_scope(&reference.repository, "pull,push")])?;
    Ok(api)
}

/// The reference of `docker://REFERENCE`; a digest cannot be pushed to.
fn parse_destination(destination: &str) -> Result<Reference, String> {
    let text = destination.strip_prefix("docker://").ok_or_else(|| {
        "the destination must be docker://[REGISTRY/]NAME[:TAG] (the only transport stowage pushes to)"
            .to_owned()
    })?;
    let reference = Reference::parse(text)?;
    if reference.digest.is_some() {
        return Err(
            "a destination names a tag, not a digest (the digest follows from the content)".into(),
        );
    }
    Ok(reference)
}

/// The tag to set: the destination's, else an index file's own (`NAME:TAG`), as an
/// image's own is its tag; `None` leaves it to the image.
fn destination_tag(reference: &Reference, index_name: Option<&str>) -> Option<String> {
    reference.tag.clone().or_else(|| {
        index_name
            .and_then(|name| name.rsplit_once(':'))
            .map(|(_, tag)| tag.to_owned())
    })
}

/// Docker's manifest has no zstd layers; say so before anything is read.
fn check_format(format: PublishFormat) -> Result<(), String> {
    ManifestFormat::layer_media_type(format.manifest, format.compression)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Progress on stderr: lines starting with `\r` redraw the current line on a terminal
/// and are left out elsewhere, so logs get one line per blob.
struct Printer {
    terminal: bool,
    quiet: bool,
}

impl Printer {
    fn new(quiet: bool) -> Printer {
        Printer {
            terminal: std::io::stderr().is_terminal(),
            quiet,
        }
    }

    fn line(&mut self, line: &str) {
        if self.quiet {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = match (line.strip_prefix('\r'), self.terminal) {
            (Some(redraw), true) => write!(err, "\r{redraw}\x1b[K"),
            (Some(_), false) => Ok(()),
            (None, true) => writeln!(err, "\r{line}\x1b[K"),
            (None, false) => writeln!(err, "{line}"),
        };
    }

    fn summary(&mut self, report: &PushReport) {
        self.line(&format!(
            "{} blobs: {} already present, {} mounted, {} uploaded; {} bytes sent",
            report.present + report.mounted + report.uploaded,
            report.present,
            report.mounted,
            report.uploaded,
            report.bytes_sent
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(destination: &str, index_name: Option<&str>) -> Option<String> {
        destination_tag(&parse_destination(destination).unwrap(), index_name)
    }

    #[test]
    fn an_index_is_tagged_as_its_file_says_unless_the_destination_says_otherwise() {
        let index = Some("127.0.0.1:5000/multi:v1");
        assert_eq!(
            tag("docker://127.0.0.1:5000/multi", index).as_deref(),
            Some("v1")
        );
        assert_eq!(
            tag("docker://127.0.0.1:5000/multi:v2", index).as_deref(),
            Some("v2")
        );
        assert_eq!(tag("docker://127.0.0.1:5000/one", None), None);
        assert_eq!(
            tag("docker://127.0.0.1:5000/one:v3", None).as_deref(),
            Some("v3")
        );
    }
}
