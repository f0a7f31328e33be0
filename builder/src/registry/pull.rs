//! Pulling one image: the manifest named by tag or digest, resolved through an index to
//! the wanted platform, its config, and its blobs streamed out verified.
//!
//! Nothing the registry says is trusted: every manifest and blob is checked against the
//! digest and size that named it (the reference's digest for the first manifest), sizes
//! bound what is read, and a blob's bytes are hashed as they are written, so a wrong byte
//! fails the pull before the output is kept.

use super::client::{Access, Registry};
use super::manifest::{self, Descriptor, ImageManifest, Manifest, Platform};
use super::reference::{Digest, Reference};
use crate::error::{Error, Result};
use crate::tar::copy::{copy_exact, CopyError};
use crate::tar::digest::HashingWriter;
use std::io::{Read, Write};
use ureq::http::Response;
use ureq::Body;

/// An image resolved to one platform, its blobs not yet fetched.
pub struct Resolved {
    /// The digest of the manifest the reference names: the index's for a multi-platform
    /// image. Pinning it pins the image for every platform.
    pub digest: Digest,
    pub manifest: ImageManifest,
    /// The config, fetched and verified.
    pub config: Vec<u8>,
}

/// A pull in progress from one repository.
pub struct Puller {
    registry: Registry,
    reference: Reference,
    /// The reference as given, for error messages.
    image: String,
}

impl Puller {
    /// Prepares to pull `reference` with `access`; nothing is sent yet.
    pub fn new(reference: &Reference, access: Access) -> Result<Puller> {
        let image = format!(
            "{}/{}@{}",
            reference.registry,
            reference.repository,
            reference.manifest_key()
        );
        let registry =
            Registry::new(reference.api_host(), access).map_err(|message| Error::Registry {
                image: image.clone(),
                message,
            })?;
        Ok(Puller {
            registry,
            reference: reference.clone(),
            image,
        })
    }

    /// The error for a failed pull, naming the image.
    fn fail(&self, message: impl Into<String>) -> Error {
        Error::Registry {
            image: self.image.clone(),
            message: message.into(),
        }
    }

    /// Fetches the manifest for `platform`, through the index when there is one, and the
    /// image's config.
    pub fn resolve(&mut self, platform: &Platform) -> Result<Resolved> {
        let key = self.reference.manifest_key();
        let expected = self.reference.digest.clone();
        let (digest, top) = self.manifest(&key, expected.as_ref(), None)?;
        let manifest = match top {
            Manifest::Image(image) => image,
            Manifest::Index(entries) => {
                let entry = manifest::select(&entries, platform).map_err(|m| self.fail(m))?;
                if !manifest::is_image_manifest_type(&entry.media_type) {
                    return Err(self.fail(format!(
                        "the index entry for the platform is {:?}, not an image manifest",
                        entry.media_type
                    )));
                }
                let entry = entry.clone();
                match self.manifest(
                    &entry.digest.to_string(),
                    Some(&entry.digest),
                    Some(entry.size),
                )? {
                    (_, Manifest::Image(image)) => image,
                    (_, Manifest::Index(_)) => {
                        return Err(self.fail("the index points at another index"))
                    }
                }
            }
        };
        let config = self.config(&manifest)?;
        Ok(Resolved {
            digest,
            manifest,
            config,
        })
    }

    /// GETs a manifest by tag or digest, checks it against `expected` (digest and size)
    /// and parses it. Returns its own digest too.
    fn manifest(
        &mut self,
        key: &str,
        expected: Option<&Digest>,
        size: Option<u64>,
    ) -> Result<(Digest, Manifest)> {
        let what = format!("manifest {key}");
        let limit = size
            .unwrap_or(manifest::MANIFEST_LIMIT)
            .min(manifest::MANIFEST_LIMIT);
        let repository = &self.reference.repository;
        let fetched = self
            .registry
            .get_manifest(repository, key, manifest::ACCEPT, limit)
            .map_err(|m| self.fail(m))?
            .ok_or_else(|| self.fail(format!("{what}: not found in the registry")))?;
        let bytes = fetched.bytes;
        let digest = Digest::of(&bytes);
        if expected.is_some_and(|e| *e != digest) || size.is_some_and(|s| s != bytes.len() as u64) {
            return Err(self.fail(format!(
                "{what}: the registry sent {} bytes with digest {digest}; refusing them",
                bytes.len()
            )));
        }
        let parsed = manifest::parse(&bytes, fetched.media_type.as_deref())
            .map_err(|m| self.fail(format!("{what}: {m}")))?;
        Ok((digest, parsed))
    }

    /// Fetches the config, bounded and verified, and checks it describes as many layers
    /// as the manifest lists (`docker load` refuses it otherwise).
    fn config(&mut self, manifest: &ImageManifest) -> Result<Vec<u8>> {
        let descriptor = &manifest.config;
        if descriptor.size > manifest::CONFIG_LIMIT {
            return Err(self.fail(format!(
                "config {}: {} bytes declared, over the limit of {}",
                descriptor.digest,
                descriptor.size,
                manifest::CONFIG_LIMIT
            )));
        }
        let mut bytes = Vec::new();
        self.copy_blob(descriptor, &mut bytes)?;
        let config: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| self.fail(format!("config {}: not JSON: {e}", descriptor.digest)))?;
        let diff_ids = config
            .pointer("/rootfs/diff_ids")
            .and_then(|d| d.as_array())
            .map_or(0, Vec::len);
        if diff_ids != manifest.layers.len() {
            return Err(self.fail(format!(
                "config {} lists {diff_ids} layers but the manifest {}",
                descriptor.digest,
                manifest.layers.len()
            )));
        }
        Ok(bytes)
    }

    /// Streams the blob `descriptor` names into `out`, hashing on the way: exactly
    /// `size` bytes with the stated digest, or an error naming the blob.
    pub fn copy_blob(&mut self, descriptor: &Descriptor, out: &mut dyn Write) -> Result<()> {
        let blob = &descriptor.digest;
        let what = format!("blob {blob}");
        let mut response = self.get(&format!("blobs/{blob}"), "*/*", &what)?;
        let size = descriptor.size;
        let mut reader = response.body_mut().as_reader();
        let mut hashing = HashingWriter::new(out);
        let read = |buf: &mut [u8], _done: u64| reader.read(buf);
        copy_exact(size, &mut Vec::new(), read, &mut hashing).map_err(|e| match e {
            CopyError::Read(e) => self.fail(format!("{what}: reading: {e}")),
            CopyError::Short(done) => self.fail(format!(
                "{what}: the registry sent {done} bytes, the manifest says {size}"
            )),
            CopyError::Write(e) => Error::write(format!("{what}'s copy"), e),
        })?;
        if !matches!(reader.read(&mut [0u8; 1]), Ok(0)) {
            return Err(self.fail(format!(
                "{what}: the registry sent more than the {size} bytes the manifest says"
            )));
        }
        let actual = hashing.finish().0.hex();
        if actual != blob.hex() {
            return Err(self.fail(format!(
                "{what}: the registry sent bytes with digest sha256:{actual}; refusing them"
            )));
        }
        Ok(())
    }

    /// GETs `/v2/<repository>/<path>` and insists on 200.
    fn get(&mut self, path: &str, accept: &str, what: &str) -> Result<Response<Body>> {
        let path = format!("{}/{path}", self.reference.repository);
        let response = self
            .registry
            .get(&path, accept)
            .map_err(|m| self.fail(format!("{what}: {m}")))?;
        match response.status().as_u16() {
            200 => Ok(response),
            404 => Err(self.fail(format!("{what}: not found in the registry"))),
            status => Err(self.fail(format!("{what}: the registry answered HTTP {status}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::net::TcpListener;

    /// A plain-HTTP server on 127.0.0.1 answering every request with `body`; a TLS
    /// handshake (first byte 0x16) is dropped, so the client falls back to HTTP. It
    /// serves `connections` connections, then stops.
    fn serve(body: &'static [u8], connections: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(connections) {
                let mut stream = std::io::BufReader::new(stream.unwrap());
                if stream.fill_buf().map_or(true, |b| b.first() == Some(&0x16)) {
                    continue;
                }
                let mut line = String::new();
                while stream.read_line(&mut line).unwrap_or(0) > 2 {
                    line.clear();
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let stream = stream.get_mut();
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body);
            }
        });
        host
    }

    /// Copies a blob declared as the 5 bytes `hello` from a server sending `body`.
    fn copy(body: &'static [u8]) -> Result<Vec<u8>> {
        let host = serve(body, 2);
        let reference = Reference::parse(&format!("{host}/x:y")).unwrap();
        let descriptor = Descriptor {
            media_type: "application/octet-stream".into(),
            digest: Digest::of(b"hello"),
            size: 5,
            platform: None,
        };
        let mut out = Vec::new();
        let access = Access {
            tls_verify: true,
            cert_dir: None,
            login: crate::registry::auth::Login::Anonymous,
        };
        Puller::new(&reference, access)?.copy_blob(&descriptor, &mut out)?;
        Ok(out)
    }

    #[test]
    fn a_blob_must_have_its_declared_size_and_digest() {
        assert_eq!(copy(b"hello").unwrap(), b"hello");
        let fail = |body| copy(body).unwrap_err().one_line();
        let short = fail(b"hell");
        assert!(
            short.contains("the registry sent 4 bytes, the manifest says 5"),
            "{short}"
        );
        let long = fail(b"hello!");
        assert!(long.contains("sent more than the 5 bytes"), "{long}");
        let wrong = fail(b"jello");
        assert!(
            wrong.contains("the registry sent bytes with digest sha256:"),
            "{wrong}"
        );
        assert!(wrong.starts_with("pulling 127.0.0.1:"), "{wrong}");
    }
}
