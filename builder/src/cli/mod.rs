//! The command line: clap's types for every subcommand, turned into calls of
//! [`crate::commands`]. The only place that knows clap.

use crate::commands::layers::{self, Format, LayersRequest};
use crate::commands::{export, image, index, load, merge, nix, pull, push};
use crate::engine::endpoint::EngineChoice;
use crate::error::{escape_controls, Error, Result};
use crate::image::base::select::ImageChoice;
use crate::image::descriptor::ManifestFormat;
use crate::image::oci::LayoutKind;
use crate::image::output_format::OutputFormat;
use crate::image::publish::PublishFormat;
use crate::layering::AlgorithmName;
use crate::registry::auth::AuthArgs;
use crate::registry::push::DEFAULT_CHUNK;
use crate::tar::compression::Compression;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::PathBuf;

/// Builds reproducible container images from Nix store paths, in one pass.
#[derive(Debug, Parser)]
#[command(name = "stowage", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The image's name, given on the command line.
#[derive(Debug, Args)]
pub struct RepoTagArg {
    /// Override the image's NAME[:TAG] (without a tag, one is derived from the content).
    #[arg(
        short = 't',
        long = "repo_tag",
        visible_alias = "repo-tag",
        value_name = "NAME[:TAG]"
    )]
    pub repo_tag: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the image as a docker-archive to stdout (`stowage stream conf.json | docker load`).
    ///
    /// CONF is the conf.json that nixpkgs' stream_layered_image.py reads (a
    /// streamLayeredImage result is one, with a `#!` line: running it streams the image).
    Stream {
        /// The conf file.
        conf: PathBuf,
        #[command(flatten)]
        tag: RepoTagArg,
    },
    /// Write the image to a file: a docker-archive (`docker load -i FILE`) or an OCI layout.
    ///
    /// A docker-archive is byte-identical to `stream` unless compressed. An OCI layout
    /// (`oci-dir`: a directory for umoci and `skopeo copy oci:FILE:NAME:TAG`;
    /// `oci-archive`: its tar, for `podman load`) may also be made from an image archive,
    /// or from an index file (the library's imageIndex) as one image index. Nothing is
    /// left at FILE on error.
    Build {
        /// The conf file (for OCI output, also a docker-archive or an index file).
        conf: PathBuf,
        /// Where to write the image.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// What to write.
        #[arg(long, default_value = "docker-archive", value_parser = output_format_parser())]
        format: OutputFormat,
        /// A docker-archive's compression as a whole [default: none] (docker load takes
        /// gzip; podman load also zstd); an OCI layout's per layer [default: gzip].
        #[arg(long, value_parser = compression_parser())]
        compress: Option<Compression>,
        #[command(flatten)]
        tag: RepoTagArg,
    },
    /// Write images of several platforms behind one OCI image index, as an OCI layout
    /// (a multi-arch image: `skopeo copy --all oci:FILE:NAME:TAG docker://…`).
    ///
    /// Each IMAGE is a stream script, a conf or an image archive; no two may be for the
    /// same platform (os/architecture/variant). Nothing is left at FILE on error.
    Index {
        /// Where to write the layout.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// What to write.
        #[arg(long, default_value = "oci-dir", value_parser = layout_parser())]
        format: LayoutKind,
        /// The layers' compression.
        #[arg(long, default_value = "gzip", value_parser = compression_parser())]
        compress: Compression,
        /// The index's NAME[:TAG] in index.json [default: the first IMAGE's; TAG: latest]
        #[arg(
            short = 't',
            long = "repo_tag",
            visible_alias = "repo-tag",
            value_name = "NAME[:TAG]"
        )]
        repo_tag: Option<String>,
        /// The images, one per platform.
        #[arg(value_name = "IMAGE", required = true)]
        images: Vec<PathBuf>,
    },
    /// Write an image's root filesystem, its layers applied, as one tarball (`./bin/sh`, …).
    ///
    /// IMAGE is a docker-archive (`docker save`, stowage, nixpkgs; plain, gzip or zstd).
    /// Whiteouts are honoured; device nodes are refused. Nothing is left at FILE on error.
    Export {
        /// The image archive.
        image: PathBuf,
        /// Where to write the root filesystem tarball.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Merge image archives into one docker-archive, from which one `docker load` loads
    /// every image under every tag (nixpkgs' mergeImages).
    ///
    /// Each ARCHIVE may be stowage's, nixpkgs', or `docker save`'s (of one image or
    /// several), plain, gzip or zstd. Shared layers are written once. Nothing is left at
    /// FILE on error.
    Merge {
        /// Where to write the merged archive.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Compress the whole archive [default: as the last ARCHIVE is]
        #[arg(long, value_parser = compression_parser())]
        compress: Option<Compression>,
        /// The archives to merge, in order.
        #[arg(value_name = "ARCHIVE", required = true)]
        inputs: Vec<PathBuf>,
    },
    /// Load an image into a container engine through its API socket, with no archive
    /// written anywhere; print the engine's `Loaded image: NAME:TAG` lines.
    ///
    /// IMAGE is a stream script or conf (streamLayeredImage: its archive is written
    /// straight into the request) or a docker-archive (buildLayeredImage, buildImage;
    /// plain, gzip or zstd: sent decompressed, which every engine takes). The engine is
    /// Docker's ($DOCKER_HOST, else /var/run/docker.sock) unless --podman or --host.
    Load(LoadArgs),
    /// Show how a closure's store paths would be layered, and why, without building.
    Layers(LayersArgs),
    /// Resolve an image in a registry and print the pullImage call that pins it (its
    /// digest and the hash of the archive pullImage makes), as nix-prefetch-docker does.
    ///
    /// The image is pulled once to hash the archive; nothing is written.
    Prefetch(PrefetchArgs),
    /// Push an image to a registry, uploading only the layers it lacks.
    ///
    /// IMAGE is a stream script or conf, an image archive, or an index file (the
    /// library's imageIndex: images of several platforms, pushed behind one index).
    /// Layers written before are known by their store paths, so after a one-path change
    /// only the changed layers are read and sent. Prints NAME:TAG@DIGEST.
    Push(PushCli),
    /// Run as the builder of a Nix derivation (used by stowage's Nix library).
    #[command(subcommand)]
    Nix(NixArgs),
}

/// `stowage load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The stream script, conf or docker-archive.
    pub image: PathBuf,
    /// Load into podman's service: $CONTAINER_HOST, else the rootless socket in
    /// $XDG_RUNTIME_DIR/podman, else /run/podman/podman.sock (start it with `podman
    /// system service`).
    #[arg(long, conflicts_with = "host")]
    pub podman: bool,
    /// The engine's API socket, as unix:///PATH.
    #[arg(long, value_name = "unix:///PATH")]
    pub host: Option<String>,
    #[command(flatten)]
    pub tag: RepoTagArg,
}

/// `stowage layers`.
#[derive(Debug, Clone, Args)]
pub struct LayersArgs {
    /// A references graph: exportReferencesGraph's JSON array or legacy text, an
    /// `.attrs.json` holding `graph`, or a conf with a `layering` section. Repeatable.
    #[arg(long = "graph", value_name = "FILE", required = true, num_args = 1..)]
    pub graphs: Vec<PathBuf>,
    /// The image's maxLayers (base layers and the customisation layer count too) [default: 100]
    #[arg(long)]
    pub max_layers: Option<i64>,
    /// The layering algorithm [default: auto]
    #[arg(
        long,
        value_parser = PossibleValuesParser::new(AlgorithmName::NAMES)
            .map(|name: String| AlgorithmName::parse(&name).expect("one of the names"))
    )]
    pub algorithm: Option<AlgorithmName>,
    /// A nixpkgs layeringPipeline as a JSON file (overrides --algorithm).
    #[arg(long, value_name = "FILE")]
    pub pipeline: Option<PathBuf>,
    /// The Nix store directory the graph's paths live in.
    #[arg(long, default_value = "/nix/store")]
    pub store_dir: PathBuf,
    #[arg(long, value_parser = ["text", "json"], default_value = "text")]
    pub format: String,
    /// Say why each path landed in its layer.
    #[arg(long)]
    pub explain: bool,
}

/// `stowage prefetch`.
#[derive(Debug, Clone, Args)]
pub struct PrefetchArgs {
    /// The image: [REGISTRY/]REPOSITORY[:TAG|@DIGEST] (Docker Hub when no registry).
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// The OS of the image to pick from a multi-platform image.
    #[arg(long, default_value = "linux")]
    pub os: String,
    /// The architecture (GOARCH: amd64, arm64, …) to pick [default: this machine's]
    #[arg(long)]
    pub arch: Option<String>,
    /// The architecture variant to pick (v7 for 32-bit ARM, …).
    #[arg(long)]
    pub variant: Option<String>,
    /// Allow plain HTTP and unverified certificates (pullImage's tlsVerify = false).
    #[arg(long)]
    pub registry_insecure: bool,
    #[command(flatten)]
    pub access: AccessArgs,
    /// The name the archive gives the image [default: the image's]
    #[arg(long)]
    pub final_image_name: Option<String>,
    /// The tag the archive gives the image [default: the image's tag, or latest]
    #[arg(long)]
    pub final_image_tag: Option<String>,
}

/// How to reach a registry: TLS and credentials (`push`, `prefetch`).
#[derive(Debug, Clone, Args)]
pub struct AccessArgs {
    /// Verify the registry's certificate; false also allows plain HTTP, as skopeo's
    /// --tls-verify=false.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub tls_verify: bool,
    /// A directory of certificates as containers-tools read one: *.crt CA certificates
    /// trusted besides the usual ones, a NAME.cert with its NAME.key as client certificate.
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// An auth file (podman login's auth.json, Docker's config.json) searched before
    /// $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
    /// ~/.config/containers/auth.json and ~/.docker/config.json.
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    /// The registry's credentials, instead of any auth file.
    #[arg(long, value_name = "USER:PASSWORD")]
    pub creds: Option<String>,
}

/// `stowage push`.
#[derive(Debug, Clone, Args)]
pub struct PushCli {
    /// The image: a stream script, a conf, an image archive or an index file.
    #[arg(value_name = "IMAGE")]
    pub image: PathBuf,
    /// docker://[REGISTRY/]NAME[:TAG] (without a tag: the image's own).
    #[arg(value_name = "DESTINATION")]
    pub destination: String,
    /// The manifest's media types: Docker's (what docker push sends) or OCI's.
    #[arg(long, value_parser = ["docker", "oci"], default_value = "docker")]
    pub format: String,
    /// How layers are compressed (zstd needs --format oci).
    #[arg(long, default_value = "gzip", value_parser = compression_parser())]
    pub compress: Compression,
    #[command(flatten)]
    pub access: AccessArgs,
    /// Write the pushed manifest's digest to FILE.
    #[arg(long, value_name = "FILE")]
    pub digestfile: Option<PathBuf>,
    /// Upload blobs larger than this in chunks of this many bytes (a push interrupted
    /// between chunks resumes after the last; docker-registry drops an upload cut off in
    /// the middle of a chunk) [default: 32 MiB]
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub chunk_size: Option<u64>,
    /// No progress on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `stowage nix …`: one builder per kind of derivation of the Nix library.
#[derive(Debug, Subcommand)]
pub enum NixArgs {
    /// Write the JSON of the attribute `value` to $out (makes a config's references visible
    /// to exportReferencesGraph).
    WriteJson,
    /// Write the directory of `files`, `executables`, `symlinks` and `directories` to $out (the helpers
    /// binSh, usrBinEnv, caCertificates, fakeNss).
    WriteTree,
    /// Write an executable conf to $out: `#!<stowage> stream` and the conf JSON, with the
    /// store layers planned from `graph` (less `exclude`) per `conf.layering`.
    StreamScript,
    /// Write the docker-archive of the conf `streamScript` to $out, compressed per `compressor`.
    Archive,
    /// Write the customisation layer (`layer.tar` and `checksum`) to $out: `contents`
    /// merged into a root, `extraCommands`, `fakeRootCommands`, `perms`, includeNixDB.
    CustomisationLayer,
    /// Write buildImage's docker-archive to $out: the base's layers and one new layer of
    /// `copyToRoot`, `extraCommands` and the store paths the base lacks.
    BuildImage,
    /// Write the root filesystem of the image `fromImage` to $out as one tarball.
    ExportImage,
    /// Write the archives `images` merged into one to $out, compressed as the last one.
    MergeImages,
    /// Pull `imageName@imageDigest` for `os`/`arch` from its registry into $out as a
    /// docker-archive tagged `finalImageName:finalImageTag` (pullImage).
    PullImage,
}

/// Parses `--compress`: one of [`Compression::NAMES`].
fn compression_parser() -> impl TypedValueParser<Value = Compression> {
    PossibleValuesParser::new(Compression::NAMES)
        .map(|name: String| Compression::parse(&name).expect("one of the names"))
}

/// Parses `--format` of `stowage build`: one of [`OutputFormat::NAMES`].
fn output_format_parser() -> impl TypedValueParser<Value = OutputFormat> {
    PossibleValuesParser::new(OutputFormat::NAMES)
        .map(|name: String| OutputFormat::parse(&name).expect("one of the names"))
}

/// Parses `--format` of `stowage index`: the OCI layouts of [`OutputFormat::NAMES`].
fn layout_parser() -> impl TypedValueParser<Value = LayoutKind> {
    PossibleValuesParser::new(["oci-dir", "oci-archive"]).map(|name: String| {
        OutputFormat::parse(&name)
            .and_then(OutputFormat::layout)
            .expect("one of the layouts")
    })
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Stream { conf, tag } => {
            image::stream(&conf, tag.repo_tag.as_deref(), &mut stdout_file()?)
        }
        Command::Build {
            conf,
            output,
            format,
            compress,
            tag,
        } => image::build(&conf, tag.repo_tag.as_deref(), &output, format, compress),
        Command::Index {
            output,
            format,
            compress,
            repo_tag,
            images,
        } => index::index(&images, repo_tag.as_deref(), &output, format, compress),
        Command::Export { image, output } => {
            export::export(&image, &ImageChoice::default(), &output)
        }
        Command::Merge {
            output,
            compress,
            inputs,
        } => merge::merge(&inputs, &output, compress),
        Command::Load(args) => {
            let engine = match (args.podman, args.host) {
                (_, Some(address)) => EngineChoice::Host(address),
                (true, None) => EngineChoice::Podman,
                (false, None) => EngineChoice::Docker,
            };
            let loaded = load::load(&load::LoadRequest {
                image: &args.image,
                repo_tag: args.tag.repo_tag.as_deref(),
                engine,
            })?;
            let lines: String = loaded
                .iter()
                .map(|line| escape_controls(line) + "\n")
                .collect();
            stdout_file()?
                .write_all(lines.as_bytes())
                .map_err(|e| Error::write("stdout", e))
        }
        Command::Layers(args) => {
            let report = layers::report(&args.into())?;
            let mut out = stdout_file()?;
            out.write_all(report.as_bytes())
                .map_err(|e| Error::write("stdout", e))
        }
        Command::Prefetch(args) => {
            let args = pull::PullArgs {
                image: &args.image,
                os: &args.os,
                arch: args.arch.as_deref(),
                variant: args.variant.as_deref(),
                tls_verify: args.access.tls_verify && !args.registry_insecure,
                cert_dir: args.access.cert_dir,
                auth: Some(pull::AuthArgs {
                    authfile: args.access.authfile,
                    creds: args.access.creds,
                }),
                final_name: args.final_image_name.as_deref(),
                final_tag: args.final_image_tag.as_deref(),
            };
            let expression = pull::prefetch(&pull::PullRequest::new(&args)?, &args)?;
            stdout_file()?
                .write_all(expression.as_bytes())
                .map_err(|e| Error::write("stdout", e))
        }
        Command::Push(args) => {
            let line = push::run(&push::PushArgs {
                image: &args.image,
                destination: &args.destination,
                format: PublishFormat {
                    manifest: if args.format == "oci" {
                        ManifestFormat::Oci
                    } else {
                        ManifestFormat::Docker
                    },
                    compression: args.compress,
                },
                tls_verify: args.access.tls_verify,
                cert_dir: args.access.cert_dir,
                auth: AuthArgs {
                    authfile: args.access.authfile,
                    creds: args.access.creds,
                },
                digest_file: args.digestfile,
                chunk_size: args.chunk_size.unwrap_or(DEFAULT_CHUNK),
                quiet: args.quiet,
            })?;
            stdout_file()?
                .write_all(line.as_bytes())
                .map_err(|e| Error::write("stdout", e))
        }
        Command::Nix(command) => nix::run(match command {
            NixArgs::WriteJson => nix::NixCommand::WriteJson,
            NixArgs::WriteTree => nix::NixCommand::WriteTree,
            NixArgs::StreamScript => nix::NixCommand::StreamScript,
            NixArgs::Archive => nix::NixCommand::Archive,
            NixArgs::CustomisationLayer => nix::NixCommand::CustomisationLayer,
            NixArgs::BuildImage => nix::NixCommand::BuildImage,
            NixArgs::ExportImage => nix::NixCommand::ExportImage,
            NixArgs::MergeImages => nix::NixCommand::MergeImages,
            NixArgs::PullImage => nix::NixCommand::PullImage,
        }),
    }
}

impl From<LayersArgs> for LayersRequest {
    fn from(args: LayersArgs) -> LayersRequest {
        LayersRequest {
            graphs: args.graphs,
            max_layers: args.max_layers,
            algorithm: args.algorithm,
            pipeline: args.pipeline,
            store_dir: args.store_dir,
            format: if args.format == "json" {
                Format::Json
            } else {
                Format::Text
            },
            explain: args.explain,
        }
    }
}

/// Stdout as a plain file: Rust's `Stdout` is line-buffered, which would scan every
/// layer byte for newlines.
fn stdout_file() -> Result<File> {
    let fd = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| Error::write("stdout", e))?;
    Ok(File::from(fd))
}
