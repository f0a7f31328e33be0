//! stowage: builds reproducible container images from Nix store paths, in one pass over
//! the bytes, inside the Nix build sandbox.
//!
//! Data flows one way: inputs ([`conf`], [`graph`]) → layer plan ([`layering`]) →
//! image ([`image`]) → tar bytes ([`tar`]). ARCHITECTURE.md at the repository's root is
//! the map.

// The crate's API is what the executable, the tests and the bench use; everything else
// is crate-private, so unused code shows up as a warning.
pub mod cli;
mod commands;
mod conf;
mod customisation;
mod engine;
pub mod error;
pub mod fuzz;
pub mod graph;
mod image;
mod input;
pub mod layering;
mod registry;
mod sys;
mod tar;
mod units;

#[cfg(test)]
mod robustness_tests;

pub use customisation::{fakeroot, nix_db};
