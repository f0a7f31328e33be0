//! Talking to registries (the HTTP API v2 of the distribution spec): pulling images
//! into a docker-archive (pullImage's builder and `stowage prefetch`), and the verbs a
//! push needs.
//!
//! `reference` parses image references, `auth` finds credentials where docker and
//! podman keep them, `tls` makes the TLS settings (a `--cert-dir`), `client` speaks
//! HTTP with the registry's authentication, `manifest` reads manifests and indexes,
//! `pull` resolves an image and streams its blobs verified, `archive` writes them as a
//! docker-archive. Everything the registry sends is hostile until checked against a
//! digest.

pub mod archive;
pub mod auth;
pub mod client;
pub mod manifest;
pub mod pull;
pub mod push;
pub mod push_state;
pub mod reference;
mod tls;
