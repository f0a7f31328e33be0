//! stowage: builds reproducible container images from Nix store paths, in one pass over
//! the bytes, inside the Nix build sandbox.
//!
//! The data path: a [`conf::Conf`] is planned into an [`image::ImagePlan`] (sizes known
//! from metadata), which [`archive`] writes as a docker-archive while hashing.

pub mod archive;
pub mod base_image;
pub mod blob;
pub mod cli;
pub mod conf;
pub mod customisation;
pub mod digest;
pub mod error;
pub mod fakechroot;
pub mod fakeroot;
pub mod fs_layer;
pub mod graph;
pub mod image;
pub mod image_config;
pub mod layer;
pub mod layering;
pub mod layers_report;
pub mod nix_builder;
pub mod nix_db;
pub mod parallel_gzip;
pub mod perms;
pub mod platform;
pub mod repo_tag;
pub mod store_path;
pub mod tar;
pub mod timestamp;
