//! Hand-made tar archives for tests: docker-archives, and the layers inside them.

use tar::EntryType;

/// Builds test archives member by member, writing names straight into the header so
/// that hostile names the `tar` builder would refuse (`../evil`, `/etc/passwd`) can be
/// written too. Every member is mode 0644 (directories and links too), owned by 0:0,
/// at mtime 0, unless [`TarOut::append`] is given a header made otherwise.
pub struct TarOut(tar::Builder<Vec<u8>>);

impl Default for TarOut {
    fn default() -> Self {
        TarOut::new()
    }
}

impl TarOut {
    /// An empty archive.
    pub fn new() -> Self {
        TarOut(tar::Builder::new(Vec::new()))
    }

    /// A GNU header of `kind` named exactly `name` (no validation, at most 100 bytes),
    /// claiming `size` bytes of data; callers may change it before [`TarOut::append`].
    pub fn header(name: &str, kind: EntryType, size: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_entry_type(kind);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(size);
        header
    }

    /// Adds `header` (its checksum set here) followed by `data`.
    pub fn append(mut self, mut header: tar::Header, data: &[u8]) -> Self {
        header.set_cksum();
        self.0.append(&header, data).expect("append to a Vec");
        self
    }

    /// Adds a regular file.
    pub fn file(self, name: &str, data: &[u8]) -> Self {
        let header = Self::header(name, EntryType::Regular, data.len() as u64);
        self.append(header, data)
    }

    /// Adds a directory.
    pub fn dir(self, name: &str) -> Self {
        self.append(Self::header(name, EntryType::Directory, 0), &[])
    }

    /// Adds a symlink with the literal target `target`.
    pub fn symlink(self, name: &str, target: &str) -> Self {
        self.link(name, EntryType::Symlink, target)
    }

    /// Adds a hard link to the member `target` (a name from the archive's root).
    pub fn hard_link(self, name: &str, target: &str) -> Self {
        self.link(name, EntryType::Link, target)
    }

    /// Adds a link member of `kind` whose link name is `target`, written as given.
    fn link(self, name: &str, kind: EntryType, target: &str) -> Self {
        let mut header = Self::header(name, kind, 0);
        header
            .set_link_name_literal(target)
            .expect("a link target of at most 100 bytes");
        self.append(header, &[])
    }

    /// Adds a PAX extended header holding `records` (`key`, `value`), which describe the
    /// member added next.
    pub fn pax(self, records: &[(&str, &str)]) -> Self {
        let mut data = Vec::new();
        for (key, value) in records {
            let body = format!(" {key}={value}\n");
            // The length counts the record whole, its own digits included.
            let mut len = body.len() + 1;
            while len.to_string().len() + body.len() != len {
                len = len.to_string().len() + body.len();
            }
            data.extend_from_slice(format!("{len}{body}").as_bytes());
        }
        let header = Self::header("PaxHeader", EntryType::XHeader, data.len() as u64);
        self.append(header, &data)
    }

    /// The finished archive bytes, end-of-archive blocks included.
    pub fn finish(self) -> Vec<u8> {
        self.0.into_inner().expect("finish a Vec")
    }
}
