//! Publishing an image as blobs and manifests, wherever they go: an OCI layout on disk
//! or a registry. The destination implements [`BlobStore`]; the order is the same for
//! all: the layers (the destination decides what it already has), then the config made
//! from their diff_ids, then the manifest, so nothing refers to a blob not yet stored.

use crate::error::Result;
use crate::image::descriptor::{image_manifest, Descriptor, LayerDigests, ManifestFormat};
use crate::image::layer::Layer;
use crate::image::publishable::{Platform, Publishable};
use crate::tar::compression::Compression;
use serde_json::{json, Value};

/// Where blobs and manifests are stored.
pub trait BlobStore {
    /// Stores the blobs of `layers` compressed as `compression` (or finds them stored
    /// already) and returns their digests, bottom first.
    fn put_layers(&self, layers: &[Layer], compression: Compression) -> Result<Vec<LayerDigests>>;

    /// Stores a small blob (a config).
    fn put_blob(&self, descriptor: &Descriptor, bytes: &[u8]) -> Result<()>;

    /// Stores a manifest or index under its digest.
    fn put_manifest(&self, descriptor: &Descriptor, bytes: &[u8]) -> Result<()>;
}

/// How to publish: the manifest's media types and the layers' compression.
#[derive(Debug, Clone, Copy)]
pub struct PublishFormat {
    pub manifest: ManifestFormat,
    pub compression: Compression,
}

/// A manifest stored, with what an index says about it.
#[derive(Debug, Clone)]
pub struct Published {
    pub manifest: Descriptor,
    pub platform: Platform,
    /// The tag the image carries (see [`Publishable::default_tag`]).
    pub tag: String,
}

/// Stores `image` in `store`: layers, config, manifest.
pub fn publish_image(
    store: &impl BlobStore,
    image: &Publishable,
    format: PublishFormat,
) -> Result<Published> {
    let layer_type = format.manifest.layer_media_type(format.compression)?;
    let layers = store.put_layers(&image.layers, format.compression)?;
    let diff_ids: Vec<_> = layers.iter().map(|l| l.diff_id).collect();
    let config_bytes = image.config_bytes(&diff_ids)?;
    let config = Descriptor::of_bytes(format.manifest.config_media_type(), &config_bytes);
    store.put_blob(&config, &config_bytes)?;
    let layer_descriptors: Vec<Descriptor> = layers
        .iter()
        .map(|l| Descriptor {
            media_type: layer_type.to_owned(),
            digest: l.blob,
            size: l.blob_size,
        })
        .collect();
    let manifest = json_bytes(&image_manifest(
        format.manifest,
        &config,
        &layer_descriptors,
    ));
    let descriptor = Descriptor::of_bytes(format.manifest.manifest_media_type(), &manifest);
    store.put_manifest(&descriptor, &manifest)?;
    Ok(Published {
        manifest: descriptor,
        platform: image.platform.clone(),
        tag: image.default_tag(&config.digest),
    })
}

/// Stores the index (OCI) or manifest list (Docker) of `images`, each named with its
/// platform, and returns its descriptor.
pub fn publish_index(
    store: &impl BlobStore,
    images: &[Published],
    format: ManifestFormat,
) -> Result<Descriptor> {
    let manifests: Vec<Value> = images
        .iter()
        .map(|image| {
            let mut entry = image.manifest.to_json();
            entry["platform"] = platform_json(&image.platform);
            entry
        })
        .collect();
    let index = json_bytes(&json!({
        "schemaVersion": 2,
        "mediaType": format.index_media_type(),
        "manifests": manifests,
    }));
    let descriptor = Descriptor::of_bytes(format.index_media_type(), &index);
    store.put_manifest(&descriptor, &index)?;
    Ok(descriptor)
}

/// A platform as an index entry states it.
fn platform_json(platform: &Platform) -> Value {
    let mut value = json!({ "os": platform.os, "architecture": platform.architecture });
    if let Some(variant) = &platform.variant {
        value["variant"] = Value::from(variant.as_str());
    }
    value
}

/// JSON with sorted keys and no spaces: the same bytes for the same content.
pub fn json_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("a JSON value always serialises")
}
