//! A deterministic tar header writer: ustar headers, with PAX extended headers only where a
//! field does not fit. Every header is a pure function of its [`Header`], so the size of a
//! whole layer is known before any file is read (what makes one pass possible).

/// The tar block size: headers are one block, contents are padded to whole blocks.
pub const BLOCK: u64 = 512;

/// The two zero blocks that end an archive.
pub const END_OF_ARCHIVE: [u8; 1024] = [0; 1024];

/// Longest name (and link target) that fits the ustar header field itself.
const NAME_FIELD: usize = 100;
/// Longest user/group name that fits its ustar field.
const OWNER_NAME_FIELD: usize = 32;
/// Largest value an 11-digit octal field (size, mtime) holds.
const MAX_OCTAL_11: u64 = 0o77_777_777_777;
/// Largest value a 7-digit octal field (uid, gid) holds.
const MAX_OCTAL_7: u64 = 0o7_777_777;
/// The name of PAX extended header members. Readers ignore it; it only has to be fixed.
const PAX_HEADER_NAME: &[u8] = b"././@PaxHeader";

/// What kind of member a header describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A regular file of `size` bytes.
    File,
    /// A directory; its name is written with a trailing `/`.
    Directory,
    /// A symbolic link to the given target (bytes, verbatim).
    Symlink(Vec<u8>),
}

/// Ownership and time stamps shared by every member of a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub uid: u64,
    pub gid: u64,
    pub uname: String,
    pub gname: String,
    /// Seconds since the epoch; before 1970 is clamped to 0 (tar readers disagree on negatives).
    pub mtime: u64,
}

/// The largest user or group id Linux has (`(uid_t)-1` means "no id"); what a
/// runtime can give a file. Larger ones go into a tar header but fail the container.
pub const MAX_ID: u64 = u32::MAX as u64 - 1;

/// `id` if it is a Linux user or group id, else a message saying what is allowed.
pub fn checked_id(id: u64) -> Result<u64, String> {
    if id <= MAX_ID {
        Ok(id)
    } else {
        Err(format!(
            "{id} is not a Linux user or group id (0 to {MAX_ID})"
        ))
    }
}

impl Owner {
    /// uid and gid 0 with no names, as `tar --numeric-owner` writes: the owner of archive
    /// members that no conf gives one to (outer members, the customisation layer).
    pub fn numeric_root(mtime: u64) -> Owner {
        Owner {
            uid: 0,
            gid: 0,
            uname: String::new(),
            gname: String::new(),
            mtime,
        }
    }

    /// root:root with names, at mtime 1: what tests of layers use.
    #[cfg(test)]
    pub fn root_for_tests() -> Owner {
        Owner {
            uname: "root".into(),
            gname: "root".into(),
            ..Owner::numeric_root(1)
        }
    }
}

/// One tar member's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    /// The member name as raw bytes, relative (no leading `/`), without a trailing `/`.
    pub name: &'a [u8],
    pub kind: Kind,
    /// Permission bits (and setuid/setgid/sticky): `mode & 0o7777`.
    pub mode: u32,
    /// Content size; only meaningful for [`Kind::File`].
    pub size: u64,
    pub owner: &'a Owner,
}

/// Rounds `n` up to a whole number of blocks.
pub fn padded(n: u64) -> u64 {
    n.div_ceil(BLOCK) * BLOCK
}

/// The zero bytes that pad content of `len` bytes to a block boundary.
pub fn padding(len: u64) -> &'static [u8] {
    static ZEROS: [u8; BLOCK as usize] = [0; BLOCK as usize];
    &ZEROS[..(padded(len) - len) as usize]
}

/// Serialises `header` (PAX extended header first when needed) and appends it to `out`.
/// Returns the number of bytes appended; contents and their padding are the caller's.
pub fn write_header(header: &Header<'_>, out: &mut Vec<u8>) -> usize {
    let start = out.len();
    let name = member_name(header);
    let pax = pax_records(header, &name);
    if !pax.is_empty() {
        let pax_owner = Owner::numeric_root(header.owner.mtime.min(MAX_OCTAL_11));
        let pax_header = Header {
            name: PAX_HEADER_NAME,
            kind: Kind::File,
            mode: 0o644,
            size: pax.len() as u64,
            owner: &pax_owner,
        };
        out.extend_from_slice(&ustar_block(&pax_header, PAX_HEADER_NAME, b'x'));
        out.extend_from_slice(&pax);
        out.extend_from_slice(padding(pax.len() as u64));
    }
    let type_flag = match header.kind {
        Kind::File => b'0',
        Kind::Directory => b'5',
        Kind::Symlink(_) => b'2',
    };
    out.extend_from_slice(&ustar_block(header, &name, type_flag));
    out.len() - start
}

/// The size in bytes that [`write_header`] would append for `header`.
pub fn header_len(header: &Header<'_>) -> u64 {
    let name = member_name(header);
    let pax = pax_records(header, &name);
    let pax_len = if pax.is_empty() {
        0
    } else {
        BLOCK + padded(pax.len() as u64)
    };
    pax_len + BLOCK
}

/// The name as written: directories carry a trailing `/` (as GNU tar and Python write them).
fn member_name(header: &Header<'_>) -> Vec<u8> {
    let mut name = header.name.to_vec();
    if header.kind == Kind::Directory {
        name.push(b'/');
    }
    name
}

/// The PAX records for every field that does not fit its ustar field, or nothing.
fn pax_records(header: &Header<'_>, name: &[u8]) -> Vec<u8> {
    let mut records = Vec::new();
    if name.len() > NAME_FIELD {
        pax_record(&mut records, "path", name);
    }
    if let Kind::Symlink(target) = &header.kind {
        if target.len() > NAME_FIELD {
            pax_record(&mut records, "linkpath", target);
        }
    }
    if header.size > MAX_OCTAL_11 {
        pax_record(&mut records, "size", header.size.to_string().as_bytes());
    }
    if header.owner.mtime > MAX_OCTAL_11 {
        pax_record(
            &mut records,
            "mtime",
            header.owner.mtime.to_string().as_bytes(),
        );
    }
    for (key, id) in [("uid", header.owner.uid), ("gid", header.owner.gid)] {
        if id > MAX_OCTAL_7 {
            pax_record(&mut records, key, id.to_string().as_bytes());
        }
    }
    for (key, owner_name) in [
        ("uname", &header.owner.uname),
        ("gname", &header.owner.gname),
    ] {
        if owner_name.len() > OWNER_NAME_FIELD {
            pax_record(&mut records, key, owner_name.as_bytes());
        }
    }
    records
}

/// Appends one `"<len> <key>=<value>\n"` record, where `<len>` counts the whole record
/// including its own digits.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let body = key.len() + value.len() + 3; // space, '=', newline
    let mut len = body + body.to_string().len();
    if len.to_string().len() != body.to_string().len() {
        len += 1; // adding the digits made the number one digit longer
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// One 512-byte ustar header block. Fields too large for ustar are truncated or clamped
/// here; the PAX header written before it carries their real values.
fn ustar_block(header: &Header<'_>, name: &[u8], type_flag: u8) -> [u8; BLOCK as usize] {
    let mut block = [0u8; BLOCK as usize];
    let size = if header.kind == Kind::File {
        header.size
    } else {
        0
    };
    put_bytes(&mut block[0..100], name);
    put_octal(&mut block[100..108], u64::from(header.mode & 0o7777));
    put_octal(&mut block[108..116], header.owner.uid.min(MAX_OCTAL_7));
    put_octal(&mut block[116..124], header.owner.gid.min(MAX_OCTAL_7));
    put_octal(&mut block[124..136], size.min(MAX_OCTAL_11));
    put_octal(&mut block[136..148], header.owner.mtime.min(MAX_OCTAL_11));
    block[156] = type_flag;
    if let Kind::Symlink(target) = &header.kind {
        put_bytes(&mut block[157..257], target);
    }
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
    put_bytes(&mut block[265..297], header.owner.uname.as_bytes());
    put_bytes(&mut block[297..329], header.owner.gname.as_bytes());
    put_octal(&mut block[329..337], 0);
    put_octal(&mut block[337..345], 0);
    // The checksum is computed with its own field filled with spaces.
    block[148..156].copy_from_slice(b"        ");
    let sum: u64 = block.iter().map(|&b| u64::from(b)).sum();
    put_octal(&mut block[148..155], sum);
    block[155] = b' ';
    block
}

/// Copies as much of `value` as fits; the rest is left NUL (the field's terminator).
fn put_bytes(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

/// Writes `value` as zero-padded octal digits filling all but the last byte, which stays NUL.
fn put_octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Owner {
        Owner::root_for_tests()
    }

    /// Reads back what we wrote with the `tar` crate, an independent implementation.
    fn read_back(bytes: &[u8]) -> Vec<(String, u64, u32, Option<String>)> {
        let mut archive = ::tar::Archive::new(bytes);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let link = e
                    .link_name()
                    .unwrap()
                    .map(|l| l.to_string_lossy().into_owned());
                let path = e.path().unwrap().to_string_lossy().into_owned();
                (path, e.size(), e.header().mode().unwrap(), link)
            })
            .collect()
    }

    fn archive_of(headers: &[Header<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        for h in headers {
            let n = write_header(h, &mut out);
            assert_eq!(
                n as u64,
                header_len(h),
                "header_len must predict write_header"
            );
            if h.kind == Kind::File {
                out.extend(std::iter::repeat_n(b'x', h.size as usize));
                out.extend_from_slice(padding(h.size));
            }
        }
        out.extend_from_slice(&END_OF_ARCHIVE);
        out
    }

    #[test]
    fn short_names_use_plain_ustar() {
        let o = owner();
        let h = Header {
            name: b"nix/store",
            kind: Kind::Directory,
            mode: 0o755,
            size: 0,
            owner: &o,
        };
        let mut out = Vec::new();
        assert_eq!(write_header(&h, &mut out), 512);
        assert_eq!(&out[..10], b"nix/store/");
        assert_eq!(
            read_back(&archive_of(&[h])),
            vec![("nix/store/".into(), 0, 0o755, None)]
        );
    }

    #[test]
    fn long_names_and_link_targets_get_pax_records() {
        let o = owner();
        let long = format!("nix/store/{}", "a".repeat(150));
        let target = "t".repeat(120);
        let headers = [
            Header {
                name: long.as_bytes(),
                kind: Kind::File,
                mode: 0o444,
                size: 3,
                owner: &o,
            },
            Header {
                name: b"link",
                kind: Kind::Symlink(target.clone().into_bytes()),
                mode: 0o777,
                size: 0,
                owner: &o,
            },
        ];
        let got = read_back(&archive_of(&headers));
        assert_eq!(got[0], (long, 3, 0o444, None));
        assert_eq!(got[1], ("link".into(), 0, 0o777, Some(target)));
    }

    #[test]
    fn pax_record_length_counts_its_own_digits() {
        for value_len in [0, 1, 88, 89, 90, 91, 92, 93, 989, 990, 991, 992, 993, 994] {
            let mut rec = Vec::new();
            pax_record(&mut rec, "path", &vec![b'a'; value_len]);
            let text = String::from_utf8(rec.clone()).unwrap();
            let declared: usize = text.split(' ').next().unwrap().parse().unwrap();
            assert_eq!(declared, rec.len(), "record for value of {value_len} bytes");
        }
    }

    #[test]
    fn big_ids_and_long_owner_names_survive() {
        let o = Owner {
            uid: 5_000_000,
            gid: 7,
            uname: "u".repeat(40),
            gname: "g".into(),
            mtime: 1,
        };
        let h = Header {
            name: b"f",
            kind: Kind::File,
            mode: 0o644,
            size: 0,
            owner: &o,
        };
        let bytes = archive_of(&[h]);
        let mut archive = ::tar::Archive::new(&bytes[..]);
        let mut entries = archive.entries().unwrap();
        let mut e = entries.next().unwrap().unwrap();
        let pax: Vec<_> = e
            .pax_extensions()
            .unwrap()
            .unwrap()
            .map(|x| {
                let x = x.unwrap();
                (x.key().unwrap().to_owned(), x.value().unwrap().to_owned())
            })
            .collect();
        assert_eq!(
            pax,
            vec![
                ("uid".into(), "5000000".into()),
                ("uname".into(), "u".repeat(40))
            ]
        );
    }

    #[test]
    fn padding_fills_to_the_block() {
        assert_eq!(padding(0).len(), 0);
        assert_eq!(padding(1).len(), 511);
        assert_eq!(padding(512).len(), 0);
        assert_eq!(padded(513), 1024);
    }
}
