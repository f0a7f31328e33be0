//! Pulling an image from a registry into a docker-archive: pullImage's builder
//! (`stowage nix pull-image`) and `stowage prefetch`, which pulls the same bytes only to
//! hash them and prints the pullImage call that pins them.

use crate::error::{Error, Result};
use crate::image::output_file::OutputFile;
use crate::image::platform::{check_architecture, host_cpu};
use crate::image::repo_tag::RepoTag;
use crate::registry::archive::write_archive;
pub use crate::registry::auth::AuthArgs;
use crate::registry::auth::{self, Login};
use crate::registry::client::Access;
use crate::registry::manifest::Platform;
use crate::registry::pull::{Puller, Resolved};
use crate::registry::reference::Reference;
use crate::tar::digest::HashingWriter;
use base64::Engine as _;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// What to pull and how to name it.
pub struct PullRequest {
    pub reference: Reference,
    pub platform: Platform,
    pub access: Access,
    /// `finalImageName:finalImageTag`, checked.
    pub repo_tag: String,
}

/// pullImage's arguments and `stowage prefetch`'s, before they are checked.
pub struct PullArgs<'a> {
    /// `[REGISTRY/]REPOSITORY[:TAG][@DIGEST]`.
    pub image: &'a str,
    pub os: &'a str,
    /// The GOARCH; `None` for the machine's own.
    pub arch: Option<&'a str>,
    pub variant: Option<&'a str>,
    pub tls_verify: bool,
    /// containers-tools' certificate directory (`--cert-dir`).
    pub cert_dir: Option<PathBuf>,
    /// Where to find credentials; `None`: none at all, as pullImage in the sandbox.
    pub auth: Option<AuthArgs>,
    /// The name and tag the archive gives the image; `None`: the reference's name, and
    /// its tag or `latest`.
    pub final_name: Option<&'a str>,
    pub final_tag: Option<&'a str>,
}

impl PullRequest {
    /// Checks the arguments: a parseable reference, a GOARCH, a valid final name.
    pub fn new(args: &PullArgs<'_>) -> Result<PullRequest> {
        let bad = |message: String| Error::Registry {
            image: args.image.to_owned(),
            message,
        };
        let reference = Reference::parse(args.image).map_err(bad)?;
        let (architecture, host_variant) = match args.arch {
            Some(arch) => (arch.to_owned(), None),
            None => {
                let cpu = host_cpu().ok_or_else(|| {
                    bad("this machine's architecture has no single GOARCH name; pass one".into())
                })?;
                (cpu.architecture.clone(), cpu.variant.clone())
            }
        };
        check_architecture(&architecture).map_err(|m| bad(format!("arch: {m}")))?;
        let name = args
            .final_name
            .map_or_else(|| reference.short_name(), str::to_owned);
        let tag = args
            .final_tag
            .or(reference.tag.as_deref())
            .unwrap_or("latest");
        let repo_tag = RepoTag::parse(&format!("{name}:{tag}"))
            .map_err(|m| bad(format!("final image name and tag: {m}")))?;
        let login = match &args.auth {
            Some(auth_args) => auth::login(auth_args, &reference.registry).map_err(bad)?,
            None => Login::Anonymous,
        };
        Ok(PullRequest {
            platform: Platform {
                os: args.os.to_owned(),
                architecture,
                variant: args.variant.map(str::to_owned).or(host_variant),
            },
            access: Access {
                tls_verify: args.tls_verify,
                cert_dir: args.cert_dir.clone(),
                login,
            },
            repo_tag: repo_tag.to_string(),
            reference,
        })
    }

    /// Resolves the image and writes it through `out` as a docker-archive.
    fn pull_into(&self, out: &mut impl Write, target: &str) -> Result<Resolved> {
        let mut puller = Puller::new(&self.reference, self.access.clone())?;
        let resolved = puller.resolve(&self.platform)?;
        write_archive(&resolved, &self.repo_tag, out, target, |d, w| {
            puller.copy_blob(d, w)
        })?;
        Ok(resolved)
    }
}

/// Pulls the image into the file `out` (whole or absent, read-only).
pub fn pull(request: &PullRequest, out: &Path) -> Result<()> {
    let target = out.display().to_string();
    let output = OutputFile::create(out).map_err(|e| Error::write(&target, e))?;
    request.pull_into(&mut BufWriter::new(output.file()), &target)?;
    output.persist(0o444).map_err(|e| Error::write(&target, e))
}

/// Pulls the image only to hash the archive it makes (no file is needed: Nix's flat
/// hash is the SHA-256 of the bytes), and returns the pullImage call that pins it.
pub fn prefetch(request: &PullRequest, args: &PullArgs<'_>) -> Result<String> {
    let mut hashing = HashingWriter::new(io::sink());
    let resolved = request.pull_into(&mut hashing, "the archive's hash")?;
    let hash = base64::engine::general_purpose::STANDARD.encode(hashing.finish().0 .0);
    let (final_name, final_tag) = request
        .repo_tag
        .rsplit_once(':')
        .expect("a checked repo tag has a tag");
    let mut lines = vec![
        ("imageName", request.reference.short_name()),
        ("imageDigest", resolved.digest.to_string()),
        ("hash", format!("sha256-{hash}")),
        ("finalImageName", final_name.to_owned()),
        ("finalImageTag", final_tag.to_owned()),
    ];
    // What changes the bytes besides the above, only when it was asked for: the
    // defaults are pullImage's too.
    if args.os != "linux" {
        lines.push(("os", args.os.to_owned()));
    }
    if let Some(arch) = args.arch {
        lines.push(("arch", arch.to_owned()));
    }
    if let Some(variant) = args.variant {
        lines.push(("variant", variant.to_owned()));
    }
    let mut text = String::from("pullImage {\n");
    for (key, value) in lines {
        text.push_str(&format!("  {key} = {};\n", nix_string(&value)));
    }
    if !args.tls_verify {
        text.push_str("  tlsVerify = false;\n");
    }
    text.push_str("}\n");
    Ok(text)
}

/// `text` as a Nix string literal (JSON's escapes, plus `$` so `${` is not spliced).
fn nix_string(text: &str) -> String {
    serde_json::to_string(text)
        .expect("a string always serialises")
        .replace('$', "\\$")
}
