//! Image references as `docker pull` reads them: `[REGISTRY/]REPOSITORY[:TAG][@DIGEST]`,
//! with Docker Hub's defaults (`docker.io`, the `library/` prefix for one-word names, and
//! `registry-1.docker.io` as the host its API answers on).

use std::fmt;

/// The registry a reference names when its first component is not a host.
const DOCKER_HUB: &str = "docker.io";

/// A content digest, `sha256:<64 lower-case hex>`: the only algorithm registries use in
/// practice, and the only one whose hex stowage puts into member names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// Parses `sha256:<hex>`, refusing other algorithms and anything but 64 lower-case
    /// hex digits (the hex becomes a file name, so it must be exactly that).
    pub fn parse(text: &str) -> Result<Digest, String> {
        match text.strip_prefix("sha256:") {
            Some(hex) if is_sha256_hex(hex) => Ok(Digest {
                hex: hex.to_owned(),
            }),
            _ => Err(format!(
                "digest {text:?} is not sha256:<64 lower-case hex digits>"
            )),
        }
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest {
            hex: crate::tar::digest::Sha256Digest::of(bytes).hex(),
        }
    }

    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The registry as named (`docker.io`, `127.0.0.1:5000`, `ghcr.io`).
    pub registry: String,
    /// The repository inside it (`library/nginx`, `team/app`).
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses `[REGISTRY/]REPOSITORY[:TAG][@DIGEST]`. The first component is a registry
    /// when it has a `.` or a `:` or is `localhost`, as Docker decides.
    pub fn parse(text: &str) -> Result<Reference, String> {
        let bad = |why: &str| format!("image reference {text:?}: {why}");
        let (name_tag, digest) = match text.rsplit_once('@') {
            Some((name, digest)) => (name, Some(Digest::parse(digest).map_err(|e| bad(&e))?)),
            None => (text, None),
        };
        let (name, tag) = split_tag(name_tag);
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if is_registry(first) => (first, rest.to_owned()),
            _ => (DOCKER_HUB, name.to_owned()),
        };
        let registry = if registry == "index.docker.io" {
            DOCKER_HUB
        } else {
            registry
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        check_repository(&repository).map_err(|e| bad(&e))?;
        if let Some(tag) = tag {
            check_tag(tag).map_err(|e| bad(&e))?;
        }
        if registry.is_empty() || !registry.bytes().all(is_host_byte) {
            return Err(bad("the registry is not a host name with an optional port"));
        }
        Ok(Reference {
            registry: registry.to_owned(),
            repository,
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// The host (and port) the registry's API answers on.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }

    /// What to ask the registry for: the digest when there is one, else the tag, else
    /// `latest`.
    pub fn manifest_key(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => "latest".to_owned(),
        }
    }

    /// The name without tag or digest as a user writes it: Docker Hub's
    /// `library/` and `docker.io/` left out (`nginx`, `team/app`, `ghcr.io/x/y`).
    pub fn short_name(&self) -> String {
        if self.registry != DOCKER_HUB {
            return format!("{}/{}", self.registry, self.repository);
        }
        let repository = &self.repository;
        repository
            .strip_prefix("library/")
            .unwrap_or(repository)
            .to_owned()
    }
}

/// Splits `name[:tag]`; a `:` before the last `/` belongs to a registry's port.
fn split_tag(text: &str) -> (&str, Option<&str>) {
    let last_slash = text.rfind('/').map_or(0, |i| i + 1);
    match text[last_slash..].rfind(':') {
        Some(i) => (&text[..last_slash + i], Some(&text[last_slash + i + 1..])),
        None => (text, None),
    }
}

fn is_registry(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
}

/// Repository components are lower-case alphanumerics joined by `.`, `_` or `-`, as
/// the distribution spec says; that also keeps them safe inside a URL path.
fn check_repository(repository: &str) -> Result<(), String> {
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
            && c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
    };
    if repository.split('/').all(component_ok) {
        Ok(())
    } else {
        Err(format!(
            "repository {repository:?} is not lower-case components of [a-z0-9._-] separated by '/'"
        ))
    }
}

/// Tags are up to 128 of `[A-Za-z0-9_.-]`, not starting with `.` or `-`.
fn check_tag(tag: &str) -> Result<(), String> {
    let ok = (1..=128).contains(&tag.len())
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !tag.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(format!("tag {tag:?} is not 1 to 128 of [A-Za-z0-9_.-]"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn docker_hub_defaults() {
        let r = Reference::parse("nginx").unwrap();
        assert_eq!(r.registry, "docker.io");
        assert_eq!(r.repository, "library/nginx");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.manifest_key(), "latest");
        assert_eq!(r.short_name(), "nginx");
        let r = Reference::parse("nixos/nix:2.3").unwrap();
        assert_eq!(
            (r.repository.as_str(), r.tag.as_deref()),
            ("nixos/nix", Some("2.3"))
        );
    }

    #[test]
    fn registry_with_port_tag_and_digest() {
        let r = Reference::parse(&format!("127.0.0.1:5000/team/app:v1@sha256:{HEX}")).unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "team/app");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.manifest_key(), format!("sha256:{HEX}"));
        assert_eq!(r.short_name(), "127.0.0.1:5000/team/app");
        let r = Reference::parse("localhost/app").unwrap();
        assert_eq!((r.registry.as_str(), r.tag), ("localhost", None));
    }

    #[test]
    fn hostile_or_malformed_references_are_refused() {
        for text in [
            "",
            "Upper/case",
            "a/../b",
            "app:",
            "app:-x",
            "app@sha256:short",
            "app@md5:0123",
            &format!("app@sha256:{}", HEX.to_uppercase()),
            "host.io/a%2fb",
            "host.io/a?x",
        ] {
            assert!(Reference::parse(text).is_err(), "{text:?} was accepted");
        }
    }
}
