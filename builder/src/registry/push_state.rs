//! What a push remembers for the next one, beside the layer digest cache: which
//! repository of a registry holds a blob (so another repository can mount it instead of
//! uploading it again), and the upload session of a blob whose upload was cut off (so
//! the next push resumes where the registry stopped receiving).
//!
//! Entries are small files named by a hash of what they are about, written atomically;
//! what is read back is checked (a repository name, an upload URL on the same registry)
//! by those who use it, and a missing or unusable entry only costs a fresh upload.

use crate::image::layer_cache::{cache_root, read_entry, write_atomically};
use crate::tar::digest::Sha256Digest;
use std::path::PathBuf;

/// Entries are a repository name or an upload URL.
const ENTRY_LIMIT: u64 = 8192;

/// The push state of one registry.
pub struct PushState {
    /// `None` when there is no cache directory: nothing is remembered.
    dir: Option<PathBuf>,
    host: String,
}

impl PushState {
    /// The state kept for the registry at `host`.
    pub fn open(host: &str) -> PushState {
        PushState {
            dir: cache_root().map(|root| root.join("push")),
            host: host.to_owned(),
        }
    }

    /// A repository of this registry that held `digest` when last pushed there.
    pub fn holder(&self, digest: &Sha256Digest) -> Option<String> {
        self.read(&self.key("holder", &digest.hex()))
    }

    /// Records that `repository` holds `digest`.
    pub fn set_holder(&self, digest: &Sha256Digest, repository: &str) {
        self.write(&self.key("holder", &digest.hex()), repository);
    }

    /// The upload session left unfinished for `digest` into `repository`.
    pub fn upload(&self, repository: &str, digest: &Sha256Digest) -> Option<String> {
        self.read(&self.upload_key(repository, digest))
    }

    /// Records (or, with `None`, forgets) the upload session of `digest`.
    pub fn set_upload(&self, repository: &str, digest: &Sha256Digest, location: Option<&str>) {
        let key = self.upload_key(repository, digest);
        match location {
            Some(location) => self.write(&key, location),
            None => {
                if let Some(dir) = &self.dir {
                    let _ = std::fs::remove_file(dir.join(key));
                }
            }
        }
    }

    fn upload_key(&self, repository: &str, digest: &Sha256Digest) -> String {
        self.key("upload", &format!("{repository}\n{}", digest.hex()))
    }

    /// The file name of an entry about `what` on this registry.
    fn key(&self, kind: &str, what: &str) -> String {
        let hash = Sha256Digest::of(format!("{}\n{what}", self.host).as_bytes());
        format!("{kind}/{}", hash.hex())
    }

    fn read(&self, key: &str) -> Option<String> {
        let bytes = read_entry(&self.dir.as_ref()?.join(key), ENTRY_LIMIT)?;
        String::from_utf8(bytes)
            .ok()
            .filter(|t| !t.is_empty() && !t.contains(char::is_control))
    }

    fn write(&self, key: &str, value: &str) {
        if let Some(dir) = &self.dir {
            let _ = write_atomically(&dir.join(key), value.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(dir: &std::path::Path, host: &str) -> PushState {
        PushState {
            dir: Some(dir.to_owned()),
            host: host.to_owned(),
        }
    }

    #[test]
    fn holders_and_uploads_are_kept_per_registry() {
        let dir = tempfile::tempdir().unwrap();
        let (one, other) = (state(dir.path(), "a:5000"), state(dir.path(), "b:5000"));
        let digest = Sha256Digest::of(b"blob");
        one.set_holder(&digest, "team/app");
        assert_eq!(one.holder(&digest).as_deref(), Some("team/app"));
        assert_eq!(
            other.holder(&digest),
            None,
            "another registry holds nothing"
        );
        one.set_upload(
            "team/app",
            &digest,
            Some("http://a:5000/v2/team/app/blobs/uploads/x"),
        );
        assert!(one.upload("team/app", &digest).is_some());
        assert_eq!(one.upload("team/other", &digest), None);
        one.set_upload("team/app", &digest, None);
        assert_eq!(one.upload("team/app", &digest), None);
    }

    #[test]
    fn entries_with_control_characters_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path(), "a:5000");
        let digest = Sha256Digest::of(b"blob");
        state.set_holder(&digest, "evil\nrepo");
        assert_eq!(state.holder(&digest), None);
    }
}
