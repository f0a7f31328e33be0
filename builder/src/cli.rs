//! The command line: what each subcommand takes, and running it.

use crate::archive::{self, Compression};
use crate::conf::Conf;
use crate::error::{Error, Result};
use crate::image::ImagePlan;
use crate::layers_report::{self, LayersRequest};
use crate::nix_builder;
use clap::{Parser, Subcommand};
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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the image as a docker-archive to stdout (`stowage stream conf.json | docker load`).
    ///
    /// CONF is the conf.json that nixpkgs' stream_layered_image.py reads (a
    /// streamLayeredImage result is one, with a `#!` line: running it streams the image).
    Stream {
        /// The conf file.
        conf: PathBuf,
        /// Override the image's NAME[:TAG] (without a tag, one is derived from the content).
        #[arg(
            short = 't',
            long = "repo_tag",
            visible_alias = "repo-tag",
            value_name = "NAME[:TAG]"
        )]
        repo_tag: Option<String>,
    },
    /// Write the image as a docker-archive to a file (`docker load -i FILE`).
    ///
    /// Byte-identical to `stream` unless compressed. Nothing is left at FILE on error.
    Build {
        /// The conf file.
        conf: PathBuf,
        /// Where to write the archive.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Compress the whole archive (docker load accepts gzip; podman load also zstd).
        #[arg(long, value_enum, default_value = "none")]
        compress: Compression,
        /// Override the image's NAME[:TAG] (without a tag, one is derived from the content).
        #[arg(
            short = 't',
            long = "repo_tag",
            visible_alias = "repo-tag",
            value_name = "NAME[:TAG]"
        )]
        repo_tag: Option<String>,
    },
    /// Show how a closure's store paths would be layered, and why, without building.
    Layers(LayersRequest),
    /// Run as the builder of a Nix derivation (used by stowage's Nix library).
    #[command(subcommand)]
    Nix(nix_builder::NixCommand),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Stream { conf, repo_tag } => {
            let plan = ImagePlan::from_conf(Conf::load(&conf, repo_tag.as_deref())?)?;
            archive::stream(&plan, &mut stdout_file()?, "stdout")
        }
        Command::Build {
            conf,
            output,
            compress,
            repo_tag,
        } => {
            let plan = ImagePlan::from_conf(Conf::load(&conf, repo_tag.as_deref())?)?;
            archive::write_file(&plan, &output, compress)
        }
        Command::Layers(request) => {
            let report = layers_report::report(&request)?;
            let mut out = stdout_file()?;
            out.write_all(report.as_bytes())
                .map_err(|e| Error::write("stdout", e))
        }
        Command::Nix(command) => nix_builder::run(command),
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
