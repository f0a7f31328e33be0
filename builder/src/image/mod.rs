//! Images: what an image holds (its description and planned layers), its config and
//! manifest, the docker-archive writer and the file it fills, the base-image reader, and
//! the root filesystem a base image's layers make (`rootfs`, for exportImage).
//! and the merging of image archives.
//! Receives resolved layers; never sees a conf, a graph or a layering algorithm.

pub mod archive;
pub mod base;
pub mod blob;
pub mod config;
pub mod descriptor;
pub mod layer;
pub mod layer_cache;
pub mod merge;
pub mod oci;
pub mod output_file;
pub mod output_format;
pub mod plan;
pub mod platform;
pub mod publish;
pub mod publishable;
pub mod repo_tag;
pub mod rootfs;
pub mod runtime_config;
pub mod timestamp;
