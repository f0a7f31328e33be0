//! Manifests as registries serve them: Docker's schema 2 manifest and manifest list, and
//! their OCI twins (image manifest and index). An index is resolved to one image by
//! platform; an image manifest names its config and layers by descriptor.
//!
//! Parsed from bounded bytes; every digest is checked to be `sha256:<hex>` and every
//! media type known before anything is fetched by it.

use super::reference::Digest;
use serde::Deserialize;

/// How large a manifest or index may be: the distribution spec lets registries refuse
/// more than 4 MiB, and real ones are a few kilobytes.
pub const MANIFEST_LIMIT: u64 = 4 << 20;

/// How large an image config may be: a few kilobytes usually, more with long histories.
pub const CONFIG_LIMIT: u64 = 16 << 20;

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// The `Accept` header of a manifest request: every kind we read, so a registry never
/// converts to (or falls back on) schema 1.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// Config media types of container images (anything else is an artifact: a Helm chart,
/// a signature, …).
const CONFIG_TYPES: [&str; 2] = [
    "application/vnd.docker.container.image.v1+json",
    "application/vnd.oci.image.config.v1+json",
];

/// A platform as indexes describe it and as pulling asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// True when an image for `self` serves `wanted`: same OS and architecture, and the
    /// same variant when one is wanted.
    fn serves(&self, wanted: &Platform) -> bool {
        self.os == wanted.os
            && self.architecture == wanted.architecture
            && wanted
                .variant
                .as_ref()
                .is_none_or(|v| self.variant.as_ref() == Some(v))
    }

    fn describe(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

/// A blob or manifest named by content: what to fetch, how many bytes it must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    pub platform: Option<Platform>,
}

/// An image manifest: its config and layers, bottom first.
#[derive(Debug)]
pub struct ImageManifest {
    pub config: Descriptor,
    pub layers: Vec<Layer>,
}

/// A layer of an image manifest, of a media type we can store.
#[derive(Debug)]
pub struct Layer {
    pub descriptor: Descriptor,
    /// Its file-name suffix in the archive: `tar`, `tar.gz` or `tar.zst`.
    pub suffix: &'static str,
}

/// What a manifest request returned.
#[derive(Debug)]
pub enum Manifest {
    /// A manifest list or OCI index: one manifest per platform.
    Index(Vec<Descriptor>),
    Image(ImageManifest),
}

/// The JSON of any of the four kinds, before it is told which it is.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: Option<u64>,
    media_type: Option<String>,
    manifests: Option<Vec<RawDescriptor>>,
    config: Option<RawDescriptor>,
    layers: Option<Vec<RawDescriptor>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    platform: Option<Platform>,
}

impl RawDescriptor {
    fn check(self, role: &str) -> Result<Descriptor, String> {
        let digest = Digest::parse(&self.digest).map_err(|e| format!("{role}: {e}"))?;
        Ok(Descriptor {
            media_type: self.media_type,
            digest,
            size: self.size,
            platform: self.platform,
        })
    }
}

/// Parses a manifest of any kind we read. `content_type` is the response's, which names
/// the kind when the body does not (OCI makes `mediaType` optional).
pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Manifest, String> {
    let raw: RawManifest =
        serde_json::from_slice(bytes).map_err(|e| format!("the manifest is not valid: {e}"))?;
    if raw.schema_version != Some(2) {
        return Err(format!(
            "manifest schema version {:?} is not 2 (schema 1 is long deprecated and not supported)",
            raw.schema_version
        ));
    }
    let media_type = raw
        .media_type
        .as_deref()
        .or(content_type.map(|t| t.split(';').next().unwrap_or("").trim()))
        .unwrap_or("");
    let is_index = match media_type {
        DOCKER_LIST | OCI_INDEX => true,
        DOCKER_MANIFEST | OCI_MANIFEST => false,
        // An OCI registry may serve either as application/json: tell them by shape.
        _ if raw.manifests.is_some() => true,
        _ if raw.layers.is_some() => false,
        other => return Err(format!("unsupported manifest media type {other:?}")),
    };
    if is_index {
        return raw
            .manifests
            .ok_or("the index lists no manifests")?
            .into_iter()
            .map(|d| d.check("an index entry"))
            .collect::<Result<_, _>>()
            .map(Manifest::Index);
    }
    let config = raw
        .config
        .ok_or("the manifest names no config")?
        .check("the config")?;
    if !CONFIG_TYPES.contains(&config.media_type.as_str()) {
        return Err(format!(
            "the manifest's config has media type {:?}: it is not a container image",
            config.media_type
        ));
    }
    let layers = raw
        .layers
        .ok_or("the manifest lists no layers")?
        .into_iter()
        .map(|d| {
            let descriptor = d.check("a layer")?;
            let suffix = layer_suffix(&descriptor)?;
            Ok(Layer { descriptor, suffix })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Manifest::Image(ImageManifest { config, layers }))
}

/// The entry of an index for `wanted`: the first that serves it, in the index's order
/// (what Docker and skopeo pick too).
pub fn select<'a>(entries: &'a [Descriptor], wanted: &Platform) -> Result<&'a Descriptor, String> {
    entries
        .iter()
        .find(|d| d.platform.as_ref().is_some_and(|p| p.serves(wanted)))
        .ok_or_else(|| {
            let offered: Vec<String> = entries
                .iter()
                .filter_map(|d| d.platform.as_ref().map(Platform::describe))
                .collect();
            format!(
                "the image has no manifest for {}; it offers {}",
                wanted.describe(),
                if offered.is_empty() {
                    "no platform".into()
                } else {
                    offered.join(", ")
                }
            )
        })
}

/// True when `media_type` names a manifest (what an index entry must point at).
pub fn is_image_manifest_type(media_type: &str) -> bool {
    media_type == DOCKER_MANIFEST || media_type == OCI_MANIFEST
}

/// The file-name suffix of a layer in the archive, by its media type: the layer is
/// stored as served, so the name says how it is compressed. Foreign and unknown layers
/// are refused: their bytes would not be what `docker load` expects.
fn layer_suffix(layer: &Descriptor) -> Result<&'static str, String> {
    match layer.media_type.as_str() {
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
        | "application/vnd.oci.image.layer.v1.tar+gzip" => Ok("tar.gz"),
        "application/vnd.oci.image.layer.v1.tar" => Ok("tar"),
        "application/vnd.oci.image.layer.v1.tar+zstd" => Ok("tar.zst"),
        other => Err(format!(
            "layer {} has media type {other:?}, which is not a Linux layer stowage can store",
            layer.digest
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn index_json() -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[
              {{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":10,"platform":{{"os":"linux","architecture":"arm","variant":"v6"}}}},
              {{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":10,"platform":{{"os":"linux","architecture":"arm","variant":"v7"}}}},
              {{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":10,"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#,
            digest('a'),
            digest('b'),
            digest('c')
        )
    }

    fn platform(arch: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: "linux".into(),
            architecture: arch.into(),
            variant: variant.map(Into::into),
        }
    }

    #[test]
    fn an_index_is_resolved_by_platform() {
        let Manifest::Index(entries) = parse(index_json().as_bytes(), None).unwrap() else {
            panic!("not an index")
        };
        let pick = |arch, variant| {
            select(&entries, &platform(arch, variant)).map(|d| d.digest.to_string())
        };
        assert_eq!(pick("amd64", None).unwrap(), digest('c'));
        assert_eq!(pick("arm", Some("v7")).unwrap(), digest('b'));
        assert_eq!(pick("arm", None).unwrap(), digest('a'));
        let err = pick("arm64", None).unwrap_err();
        assert!(
            err.contains("linux/arm/v6, linux/arm/v7, linux/amd64"),
            "{err}"
        );
    }

    #[test]
    fn an_image_manifest_without_media_type_is_told_by_content_type() {
        let json = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{}","digest":"{}","size":5}},
                "layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":7}}]}}"#,
            CONFIG_TYPES[1],
            digest('d'),
            digest('e')
        );
        let Manifest::Image(image) = parse(json.as_bytes(), Some(OCI_MANIFEST)).unwrap() else {
            panic!("not an image")
        };
        assert_eq!(image.config.size, 5);
        assert_eq!(image.layers[0].suffix, "tar.gz");
    }

    #[test]
    fn hostile_manifests_are_refused() {
        let bad_digest = index_json().replace(&digest('a'), "sha256:../../etc/passwd");
        let schema1 = r#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#.to_owned();
        let artifact = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"{}","size":5}},"layers":[]}}"#,
            digest('d')
        );
        let negative = index_json().replacen("\"size\":10", "\"size\":-1", 1);
        for json in [bad_digest, schema1, artifact, negative, "[]".into()] {
            assert!(parse(json.as_bytes(), None).is_err(), "{json} was accepted");
        }
    }
}
