//! The front ends: each parses its inputs (a conf, `.attrs.json`, graph files), plans the
//! store layers with [`crate::layering`] and hands the result to [`crate::image`].

pub mod build_image;
pub mod export;
pub mod from_image;
pub mod image;
pub mod image_input;
pub mod index;
pub mod layers;
pub mod load;
pub mod merge;
pub mod nix;
pub mod pull;
pub mod push;
pub mod write_tree;
