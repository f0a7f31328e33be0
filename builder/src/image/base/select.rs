//! `fromImageName` and `fromImageTag`: which image of an archive that holds several is
//! the base. An archive of one image needs no choice; otherwise the choice must match
//! exactly one image's repo tags, and an error lists what there is to choose from.

use super::{read_archive_images, ArchiveImage, BaseImage};
use crate::error::{Error, Result};
use crate::image::repo_tag::RepoTag;
use std::path::Path;

/// A choice of image by repository name and tag; either may be left open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageChoice {
    pub name: Option<String>,
    pub tag: Option<String>,
}

impl ImageChoice {
    /// Whether no choice was made.
    pub fn is_open(&self) -> bool {
        self.name.is_none() && self.tag.is_none()
    }

    /// Whether the image tagged `repo_tag` (`name:tag`) is a match.
    fn matches(&self, repo_tag: &str) -> bool {
        let Ok(parsed) = RepoTag::parse(repo_tag) else {
            return false;
        };
        self.name.as_ref().is_none_or(|n| *n == parsed.name)
            && self
                .tag
                .as_ref()
                .is_none_or(|t| Some(t) == parsed.tag.as_ref())
    }
}

/// Reads the image of `archive` that `choice` names.
pub fn read_chosen_image(archive: &Path, choice: &ImageChoice) -> Result<BaseImage> {
    let all = read_archive_images(archive)?;
    let fits: Vec<usize> = all
        .images
        .iter()
        .enumerate()
        .filter(|(_, image)| {
            all.images.len() == 1 && choice.is_open()
                || image.repo_tags.iter().any(|t| choice.matches(t))
        })
        .map(|(i, _)| i)
        .collect();
    let [index] = fits[..] else {
        return Err(Error::base_image(
            archive,
            no_single_fit(&all.images, choice, fits.len()),
        ));
    };
    let image = &all.images[index];
    let config = serde_json::from_slice(&image.config_bytes).map_err(|e| {
        Error::base_image(
            archive,
            format!("the chosen image's config is not JSON: {e}"),
        )
    })?;
    BaseImage::new(archive, config, image.layers.clone(), all.files())
}

/// Why no single image fits: the choice and what the archive offers.
fn no_single_fit(images: &[ArchiveImage], choice: &ImageChoice, fitting: usize) -> String {
    let offered: Vec<String> = images
        .iter()
        .map(|i| match i.repo_tags.as_slice() {
            [] => "an untagged image".to_owned(),
            tags => tags.join(" "),
        })
        .collect();
    let asked = match (&choice.name, &choice.tag) {
        (None, None) => "no fromImageName or fromImageTag".to_owned(),
        (name, tag) => format!(
            "fromImageName {} and fromImageTag {}",
            name.as_deref().unwrap_or("(any)"),
            tag.as_deref().unwrap_or("(any)")
        ),
    };
    let how_many = if fitting == 0 {
        "none"
    } else {
        "more than one"
    };
    format!(
        "holds {} images ({}); {asked} fit {how_many}: set fromImageName and fromImageTag to one of them",
        images.len(),
        offered.join(", ")
    )
}
