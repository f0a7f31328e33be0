//! Image names and tags (`registry.example:5000/team/app:1.0`).

use std::fmt;

/// A repository name with an optional tag. Without a tag, the image's tag is derived from
/// its content when the manifest is written (see [`RepoTag::with_default_tag`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoTag {
    pub name: String,
    pub tag: Option<String>,
}

impl RepoTag {
    /// Splits `name[:tag]`; a colon before the last `/` belongs to a registry port.
    pub fn parse(text: &str) -> Result<RepoTag, String> {
        let last_slash = text.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match text[last_slash..].rfind(':') {
            Some(i) => (&text[..last_slash + i], Some(&text[last_slash + i + 1..])),
            None => (text, None),
        };
        check_name(name)?;
        if let Some(tag) = tag {
            check_tag(tag)?;
        }
        Ok(RepoTag {
            name: name.to_owned(),
            tag: tag.map(str::to_owned),
        })
    }

    /// The full reference, using `default_tag` when none was given.
    pub fn with_default_tag(&self, default_tag: &str) -> String {
        format!(
            "{}:{}",
            self.name,
            self.tag.as_deref().unwrap_or(default_tag)
        )
    }
}

impl fmt::Display for RepoTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tag {
            Some(tag) => write!(f, "{}:{tag}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Docker refuses upper-case and most punctuation in repository names; say so now rather
/// than at `docker load`.
fn check_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c);
    if name.is_empty() || name.starts_with('/') || name.ends_with('/') {
        return Err(format!(
            "name \"{name}\" is empty or starts or ends with '/'"
        ));
    }
    if !name.chars().all(allowed) {
        return Err(format!(
            "name \"{name}\" must be lower-case letters, digits and . _ - / : (Docker refuses others)"
        ));
    }
    Ok(())
}

/// A tag is 1 to 128 of `[A-Za-z0-9_.-]`, not starting with `.` or `-`.
fn check_tag(tag: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
    let valid = !tag.is_empty()
        && tag.len() <= 128
        && tag.chars().all(allowed)
        && !tag.starts_with(['.', '-']);
    if valid {
        Ok(())
    } else {
        Err(format!(
            "tag \"{tag}\" must be 1 to 128 of A-Z a-z 0-9 _ . - and not start with . or -"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_name_and_tag() {
        let cases = [
            ("hello:latest", "hello", Some("latest")),
            ("hello", "hello", None),
            (
                "registry.example:5000/team/app",
                "registry.example:5000/team/app",
                None,
            ),
            (
                "registry.example:5000/team/app:1.0",
                "registry.example:5000/team/app",
                Some("1.0"),
            ),
        ];
        for (text, name, tag) in cases {
            let parsed = RepoTag::parse(text).unwrap();
            assert_eq!(
                (parsed.name.as_str(), parsed.tag.as_deref()),
                (name, tag),
                "{text}"
            );
            assert_eq!(parsed.to_string(), text);
        }
        assert_eq!(RepoTag::parse("a").unwrap().with_default_tag("x"), "a:x");
    }

    #[test]
    fn refuses_what_docker_refuses() {
        assert!(RepoTag::parse("Hello:1").is_err());
        assert!(RepoTag::parse("hello:").is_err());
        assert!(RepoTag::parse("hello:-x").is_err());
        assert!(RepoTag::parse("/hello").is_err());
        assert!(RepoTag::parse("hello world").is_err());
    }
}
