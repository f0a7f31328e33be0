//! An image on its way somewhere other than a docker-archive (an OCI layout, a
//! registry): its layers, how its config comes about, its name and platform. Either a
//! planned image (a conf), whose config is made once its diff_ids are known, or one image
//! of an archive, whose config is kept byte for byte so that its image ID stays the same.

use crate::error::{Error, Result};
use crate::image::base::read_archive_images;
use crate::image::layer::{Layer, LayerSource};
use crate::image::plan::ImagePlan;
use crate::image::repo_tag::RepoTag;
use crate::tar::digest::Sha256Digest;
use serde_json::Value;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// Where an image's config comes from.
enum ConfigSource {
    /// Made from the plan once the diff_ids are known.
    Planned(Box<ImagePlan>),
    /// An archive's config, verbatim; it lists the diff_ids the layers must have.
    Verbatim(Vec<u8>),
}

/// The platform an image runs on, as an index entry names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

/// An image to publish: layers bottom first, config, name.
pub struct Publishable {
    pub layers: Vec<Layer>,
    config: ConfigSource,
    /// The name given with the image (a conf's repo tag, an archive's `RepoTags`), if any.
    pub repo_tag: Option<RepoTag>,
    pub platform: Platform,
    /// The files an archive's layers point into, kept open while the image lives.
    _files: Vec<Arc<File>>,
}

impl Publishable {
    /// The image a conf plans.
    pub fn planned(plan: ImagePlan) -> Publishable {
        let platform = Platform {
            os: "linux".to_owned(),
            architecture: plan.spec.architecture.clone(),
            variant: plan.spec.variant.clone(),
        };
        Publishable {
            layers: plan.layers.clone(),
            repo_tag: Some(plan.spec.repo_tag.clone()),
            platform,
            config: ConfigSource::Planned(Box::new(plan)),
            _files: Vec::new(),
        }
    }

    /// The one image of the docker-archive `archive` (plain, gzip or zstd).
    pub fn from_archive(archive: &Path) -> Result<Publishable> {
        let read = read_archive_images(archive)?;
        let files = read.files();
        let mut images = read.images;
        if images.len() != 1 {
            return Err(Error::input(
                archive,
                format!(
                    "holds {} images; publish an archive of one image (mergeImages' results are several)",
                    images.len()
                ),
            ));
        }
        let image = images.remove(0);
        let config: Value = serde_json::from_slice(&image.config_bytes)
            .map_err(|e| Error::input(archive, format!("its image config is not JSON: {e}")))?;
        let field = |name: &str| config.get(name).and_then(Value::as_str).map(str::to_owned);
        let platform = Platform {
            os: field("os").unwrap_or_else(|| "linux".to_owned()),
            architecture: field("architecture")
                .ok_or_else(|| Error::input(archive, "its image config names no architecture"))?,
            variant: field("variant"),
        };
        let repo_tag = image
            .repo_tags
            .first()
            .map(|t| RepoTag::parse(t).map_err(|m| Error::input(archive, m)))
            .transpose()?;
        Ok(Publishable {
            layers: image
                .layers
                .into_iter()
                .map(|blob| Layer {
                    source: LayerSource::Blob(blob),
                    comment: None,
                })
                .collect(),
            config: ConfigSource::Verbatim(image.config_bytes),
            repo_tag,
            platform,
            _files: files,
        })
    }

    /// The config's bytes, given the diff_ids the layers turned out to have. An archive's
    /// config must list exactly those.
    pub fn config_bytes(&self, diff_ids: &[Sha256Digest]) -> Result<Vec<u8>> {
        match &self.config {
            ConfigSource::Planned(plan) => Ok(plan.config_bytes(diff_ids)),
            ConfigSource::Verbatim(bytes) => {
                let listed = serde_json::from_slice::<Value>(bytes)
                    .ok()
                    .and_then(|c| c.pointer("/rootfs/diff_ids").cloned());
                let ours: Vec<String> = diff_ids.iter().map(Sha256Digest::prefixed).collect();
                if listed != Some(Value::from(ours)) {
                    return Err(Error::Internal(
                        "the archive's config lists other diff_ids than its layers have".into(),
                    ));
                }
                Ok(bytes.clone())
            }
        }
    }

    /// The tag the image carries: its own, or for an untagged planned image the one a
    /// docker-archive of it would get (derived from the config digest).
    pub fn default_tag(&self, config_digest: &Sha256Digest) -> String {
        match self.repo_tag.as_ref().and_then(|t| t.tag.clone()) {
            Some(tag) => tag,
            None => RepoTag::content_tag(config_digest),
        }
    }
}

impl std::fmt::Display for Platform {
    /// `os/architecture[/variant]`, as `docker --platform` takes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match &self.variant {
            Some(variant) => write!(f, "/{variant}"),
            None => Ok(()),
        }
    }
}

/// The positions of the first two of `platforms` that are the same, if any.
pub fn shared_platform(platforms: &[&Platform]) -> Option<(usize, usize)> {
    platforms.iter().enumerate().find_map(|(second, platform)| {
        platforms[..second]
            .iter()
            .position(|earlier| earlier == platform)
            .map(|first| (first, second))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: "linux".to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
        }
    }

    #[test]
    fn images_of_one_platform_are_found() {
        let amd64 = platform("amd64", None);
        let arm64 = platform("arm64", None);
        let again = platform("amd64", None);
        assert_eq!(shared_platform(&[&amd64, &arm64, &again]), Some((0, 2)));
        assert_eq!(shared_platform(&[&amd64, &arm64]), None);
        assert_eq!(shared_platform(&[]), None);
    }

    #[test]
    fn variants_tell_platforms_apart() {
        let v6 = platform("arm", Some("v6"));
        let v7 = platform("arm", Some("v7"));
        assert_eq!(shared_platform(&[&v6, &v7]), None);
        assert_eq!(v7.to_string(), "linux/arm/v7");
        assert_eq!(shared_platform(&[&v7, &v7.clone()]), Some((0, 1)));
    }
}
