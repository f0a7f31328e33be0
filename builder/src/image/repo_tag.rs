//! Image names and tags (`registry.example:5000/team/app:1.0`).

use crate::tar::digest::Sha256Digest;
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

    /// The tag of an image whose name gives none: the first 32 hex digits of its config
    /// digest, stable for the same content and different for different content.
    pub fn content_tag(config_digest: &Sha256Digest) -> String {
        config_digest.hex()[..32].to_owned()
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
        let lower = name.to_ascii_lowercase();
        if lower != name && check_name(&lower).is_ok() {
            return Err(format!(
                "name \"{name}\" must be lower-case (Docker refuses upper case); use \"{lower}\""
            ));
        }
        return Err(format!(
            "name \"{name}\" must be lower-case letters, digits and . _ - / : (Docker refuses others)"
        ));
    }
    if name.len() > MAX_NAME {
        return Err(format!(
            "name \"{name}\" is {} characters long; Docker takes at most {MAX_NAME}",
            name.len()
        ));
    }
    let (registry, path) = split_registry(name);
    if let Some(registry) = registry {
        check_registry(name, registry)?;
    }
    for component in path.split('/') {
        check_component(name, component)?;
    }
    Ok(())
}

/// The longest repository name Docker accepts.
const MAX_NAME: usize = 255;

/// Splits off a registry host: the first component when more follow and it looks like
/// a host (a `.` or a `:port`, or `localhost`), as Docker decides it.
fn split_registry(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

/// A registry is `host[:port]`, the host dot-separated labels of letters, digits and
/// inner `-`, the port digits.
fn check_registry(name: &str, registry: &str) -> Result<(), String> {
    let (host, port) = match registry.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    };
    let label = |l: &str| {
        !l.is_empty()
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if host.split('.').all(label) && port_ok {
        Ok(())
    } else {
        Err(format!(
            "name \"{name}\": registry \"{registry}\" is not host[:port] (labels of letters, digits and inner '-', separated by '.'; the port digits)"
        ))
    }
}

/// A path component is runs of lower-case letters and digits joined by one `.`, one or
/// two `_`, or any number of `-`; no `:` (a tag goes after the last component only).
fn check_component(name: &str, component: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "name \"{name}\": component \"{component}\" {why} (Docker refuses it)"
        ))
    };
    if component.is_empty() {
        return bad("is empty: no '//' and no '/' at either end");
    }
    if component.contains(':') {
        return bad("holds a ':'; only a registry's port or the tag may follow one");
    }
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !component.starts_with(alnum) || !component.ends_with(alnum) {
        return bad("must start and end with a letter or digit");
    }
    let mut separator = String::new();
    for c in component.chars() {
        if alnum(c) {
            if !matches!(separator.as_str(), "" | "." | "_" | "__")
                && !separator.chars().all(|s| s == '-')
            {
                return bad("joins letters and digits with something other than one '.', one or two '_', or '-'s");
            }
            separator.clear();
        } else {
            separator.push(c);
        }
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
    fn refuses_the_names_docker_load_refuses() {
        let long = format!("{}:1", "a".repeat(256));
        for bad in [
            "a..b",
            "a//b",
            "-a",
            "abc.",
            "a___b",
            "a:b/c:d:e",
            "a_-b",
            "a/b/",
            "reg.example:80a/app",
            "-reg.example/app",
            long.as_str(),
        ] {
            assert!(RepoTag::parse(bad).is_err(), "{bad} was accepted");
        }
        for good in [
            "a__b",
            "a-b---c",
            "a.b",
            "a_b",
            "localhost/app",
            "localhost:5000/app:1",
            "registry.example.com:5000/stowage-lib/named:Tag-1.0",
            "Registry.Example.COM/app".to_lowercase().as_str(),
        ] {
            assert!(RepoTag::parse(good).is_ok(), "{good} was refused");
        }
        assert_eq!(
            RepoTag::parse("a__b/c..d").unwrap_err(),
            "name \"a__b/c..d\": component \"c..d\" joins letters and digits with something other than one '.', one or two '_', or '-'s (Docker refuses it)"
        );
    }

    #[test]
    fn refuses_what_docker_refuses() {
        assert_eq!(
            RepoTag::parse("Team/Hello:1").unwrap_err(),
            "name \"Team/Hello\" must be lower-case (Docker refuses upper case); use \"team/hello\""
        );
        assert_eq!(
            RepoTag::parse("Hello!:1").unwrap_err(),
            "name \"Hello!\" must be lower-case letters, digits and . _ - / : (Docker refuses others)"
        );
        assert!(RepoTag::parse("hello:").is_err());
        assert!(RepoTag::parse("hello:-x").is_err());
        assert!(RepoTag::parse("/hello").is_err());
        assert!(RepoTag::parse("hello world").is_err());
    }
}
