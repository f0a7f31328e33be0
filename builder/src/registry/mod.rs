//! Pulling images from a registry (the HTTP API v2 of the distribution spec) into a
//! docker-archive: pullImage's builder and `stowage prefetch`.
//!
//! `reference` parses image references, `client` speaks HTTP with token
//! authentication, `manifest` reads manifests and indexes, `pull` resolves an image and
//! streams its blobs verified, `archive` writes them as a docker-archive. Everything the
//! registry sends is hostile until checked against a digest.

pub mod archive;
mod client;
pub mod manifest;
pub mod pull;
pub mod push;
pub mod push_state;
pub mod reference;
