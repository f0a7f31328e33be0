//! stowage: builds reproducible container images from Nix store paths, in one pass over
//! the bytes, inside the Nix build sandbox.
//!
//! Data flows one way: inputs ([`conf`], [`graph`]) → layer plan ([`layering`]) →
//! image ([`image`]) → tar bytes ([`tar`]). ARCHITECTURE.md at the repository's root is
//! the map.

pub mod cli;
pub mod commands;
pub mod conf;
pub mod customisation;
pub mod error;
pub mod graph;
pub mod image;
pub mod layering;
pub mod tar;
