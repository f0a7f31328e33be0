//! Helpers shared by the builder's integration tests (`builder/tests`) and the
//! end-to-end suite (`tests/`): running commands that must succeed or fail, `nix-build`
//! in the sandbox, where the static stowage binary is, reading docker-archives and
//! their layers, and making tar archives by hand (hostile ones too).
//!
//! Every external tool a test calls is required: a missing or failing one fails the test
//! with the command's output, it never skips it.

mod archive;
mod command;
mod nix;
mod repo;
mod tar_out;

pub use archive::{
    archive_bytes, layer_entries, layer_listing_as, layer_member_names, sha256, sha256_file,
    tar_members, DockerArchive, LayerEntry, ListingStyle,
};
pub use command::{command, describe, output, run, run_failing, run_stdout, succeeded};
pub use nix::{nix_build_sandboxed, nix_build_with_link, NIX_OPTIONS};
pub use repo::{package_tree, repo_file, repo_root, stowage_binary, STATIC_BINARY};
pub use tar_out::TarOut;
