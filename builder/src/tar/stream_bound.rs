//! How long a tar stream may be, told from the stream itself: each header states how many
//! data bytes follow it, and after the end-of-archive block only a record's padding may.
//!
//! A compressed base layer (or archive) states no size of its own: the manifest gives a
//! digest, not a length, and a gzip or zstd stream may expand a thousandfold or more. So
//! when one is decompressed, its output is walked as the tar it claims to be, and the
//! copy stops as soon as the output goes past what that tar allows: a small member that
//! expands to gigabytes of zeros is refused after a megabyte, not after the gigabytes are
//! written to learn that its digest is wrong.

use std::io::{self, Read, Write};

use tar::{EntryType, GnuExtSparseHeader, Header, PaxExtensions};

use super::{padded, BLOCK};

/// What may follow the end-of-archive block: its twin and the padding to a record (10 KiB
/// for GNU tar; 1 MiB allows blocking factors up to 2048).
pub const MAX_PADDING: u64 = 1 << 20;

/// The largest data of a metadata member (pax header, GNU long name): the `tar` crate
/// reads it into memory, and real ones hold a name or a few attributes.
pub const MAX_METADATA: u64 = 1 << 20;

/// Copies the tar stream `input` to `out` and returns how many bytes it copied, failing
/// as soon as `input` goes on past the tar it holds, or holds no tar at all. A stream that
/// ends early is copied as it is: only the length is judged here, the content is checked
/// by its digest.
pub fn copy_tar_bounded(input: impl Read, out: impl Write) -> io::Result<u64> {
    let mut tee = Tee {
        input,
        out,
        copied: 0,
    };
    // The size a pax header gives the next member (for files over 8 GiB).
    let mut pax_size = None;
    let mut block = [0u8; BLOCK as usize];
    while read_block(&mut tee, &mut block)? {
        if block.iter().all(|&b| b == 0) {
            return finish_padding(tee);
        }
        let at = tee.copied - BLOCK;
        let header = Header::from_byte_slice(&block);
        let stated = stated_size(header).ok_or_else(|| not_a_tar(at))?;
        skip_sparse_extensions(&mut tee, header)?;
        let kind = header.entry_type();
        if is_metadata(kind) {
            let data = read_metadata(&mut tee, kind, stated, at)?;
            if kind == EntryType::XHeader {
                pax_size = size_record(&data)?;
            }
        } else {
            skip(&mut tee, pax_size.take().unwrap_or(stated), at)?;
        }
    }
    Ok(tee.copied)
}

/// Copies what follows the end-of-archive block, up to [`MAX_PADDING`].
fn finish_padding<R: Read, W: Write>(mut tee: Tee<R, W>) -> io::Result<u64> {
    let end = tee.copied - BLOCK;
    let rest = io::copy(&mut (&mut tee).take(MAX_PADDING + 1), &mut io::sink())?;
    if rest > MAX_PADDING {
        return Err(io::Error::other(format!(
            "more than {} MiB follows the tar's end-of-archive block at byte {end}; \
             refusing a decompression bomb",
            MAX_PADDING >> 20
        )));
    }
    Ok(tee.copied)
}

/// Reads one block; false at the end of the stream (a whole block or nothing expected).
fn read_block(input: &mut impl Read, block: &mut [u8; BLOCK as usize]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < block.len() {
        match input.read(&mut block[filled..])? {
            0 => return Ok(false),
            n => filled += n,
        }
    }
    Ok(true)
}

/// The size of the data a header block states, or `None` when the block is no header
/// (its checksum is wrong or its size unreadable): bytes that merely look like a size
/// would allow any length.
fn stated_size(header: &Header) -> Option<u64> {
    let mut summed = header.clone();
    summed.set_cksum();
    let valid = header.cksum().ok()? == summed.cksum().ok()?;
    valid.then(|| header.entry_size().ok()).flatten()
}

/// Members whose data describes the next member rather than being a file.
fn is_metadata(kind: EntryType) -> bool {
    matches!(
        kind,
        EntryType::XHeader
            | EntryType::XGlobalHeader
            | EntryType::GNULongName
            | EntryType::GNULongLink
    )
}

/// Reads the data of a metadata member, refusing more than [`MAX_METADATA`].
fn read_metadata(
    input: &mut impl Read,
    kind: EntryType,
    size: u64,
    at: u64,
) -> io::Result<Vec<u8>> {
    if size > MAX_METADATA {
        return Err(io::Error::other(format!(
            "the {kind:?} member at byte {at} states {size} bytes of data; \
             such members are capped at {} MiB",
            MAX_METADATA >> 20
        )));
    }
    let mut data = Vec::new();
    input.take(padded(size)).read_to_end(&mut data)?;
    data.truncate(size as usize);
    Ok(data)
}

/// The `size` record of pax header data, if it has one.
fn size_record(data: &[u8]) -> io::Result<Option<u64>> {
    for record in PaxExtensions::new(data) {
        let record = record?;
        if record.key_bytes() == b"size" {
            let size = std::str::from_utf8(record.value_bytes())
                .ok()
                .and_then(|text| text.parse().ok());
            return size
                .map(Some)
                .ok_or_else(|| io::Error::other("a pax header's size record is not a number"));
        }
    }
    Ok(None)
}

/// Skips the extension blocks an old GNU sparse header is followed by.
fn skip_sparse_extensions(input: &mut impl Read, header: &Header) -> io::Result<()> {
    let mut extended = header.as_gnu().is_some_and(|gnu| gnu.is_extended());
    let mut extension = GnuExtSparseHeader::new();
    while extended && read_block(input, extension.as_mut_bytes())? {
        extended = extension.is_extended();
    }
    Ok(())
}

/// Reads over the data of the member at byte `at` and its padding to the block.
fn skip(input: &mut impl Read, size: u64, at: u64) -> io::Result<()> {
    let padded = size.checked_next_multiple_of(BLOCK).ok_or_else(|| {
        io::Error::other(format!(
            "the member at byte {at} states {size} bytes of data, which no file has"
        ))
    })?;
    io::copy(&mut input.take(padded), &mut io::sink())?;
    Ok(())
}

/// The error for a header block that is not one.
fn not_a_tar(at: u64) -> io::Error {
    io::Error::other(format!(
        "the output is not a tar: the block at byte {at} is not a header"
    ))
}

/// A reader that writes everything it reads to `out`, counting it.
struct Tee<R, W> {
    input: R,
    out: W,
    copied: u64,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.input.read(buf)?;
        self.out.write_all(&buf[..n])?;
        self.copied += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that only counts, standing in for the temp file.
    #[derive(Default)]
    struct Counter(u64);

    impl Write for Counter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A tar of one file, as a real layer has.
    fn one_file_tar(data: &[u8]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_cksum();
        tar.append_data(&mut header, "etc/file", data).unwrap();
        tar.into_inner().unwrap()
    }

    #[test]
    fn a_real_tar_is_copied_whole() {
        let tar = one_file_tar(&[7; 3000]);
        let mut out = Vec::new();
        assert_eq!(
            copy_tar_bounded(&tar[..], &mut out).unwrap(),
            tar.len() as u64
        );
        assert_eq!(out, tar);
    }

    #[test]
    fn endless_zeros_stop_a_megabyte_after_the_end_block() {
        let mut out = Counter::default();
        let err = copy_tar_bounded(io::repeat(0), &mut out).unwrap_err();
        assert_eq!(
            err.to_string(),
            "more than 1 MiB follows the tar's end-of-archive block at byte 0; \
             refusing a decompression bomb"
        );
        assert_eq!(out.0, BLOCK + MAX_PADDING + 1);
    }

    #[test]
    fn a_file_is_followed_to_its_stated_size_then_the_bound_holds() {
        let tar = one_file_tar(&[1; 600]);
        let end = tar.len() as u64 - 2 * BLOCK;
        let mut out = Counter::default();
        let bomb = (&tar[..end as usize]).chain(io::repeat(0));
        let err = copy_tar_bounded(bomb, &mut out).unwrap_err();
        assert!(
            err.to_string().contains(&format!("block at byte {end};")),
            "{err}"
        );
        assert_eq!(out.0, end + BLOCK + MAX_PADDING + 1);
    }

    #[test]
    fn a_huge_long_name_is_refused_before_it_is_read() {
        let mut header = Header::new_gnu();
        header.set_entry_type(EntryType::GNULongName);
        header.set_size(3 << 30);
        header.set_cksum();
        let bomb = (&header.as_bytes()[..]).chain(io::repeat(b'a'));
        let err = copy_tar_bounded(bomb, Counter::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the GNULongName member at byte 0 states 3221225472 bytes of data; \
             such members are capped at 1 MiB"
        );
    }

    #[test]
    fn a_pax_size_is_the_next_members_size() {
        let mut pax = tar::Builder::new(Vec::new());
        let records = b"13 size=1024\n";
        let mut header = Header::new_ustar();
        header.set_entry_type(EntryType::XHeader);
        header.set_size(records.len() as u64);
        header.set_cksum();
        pax.append_data(&mut header, "pax", &records[..]).unwrap();
        // The file's own header says 0, as a writer says when the size needs pax.
        let mut header = Header::new_ustar();
        header.set_size(0);
        header.set_cksum();
        pax.append_data(&mut header, "big", &[][..]).unwrap();
        let mut tar = pax.into_inner().unwrap();
        let end = tar.len() - 2 * BLOCK as usize;
        tar.splice(end..end, [5; 1024]);
        let mut out = Vec::new();
        copy_tar_bounded(&tar[..], &mut out).unwrap();
        assert_eq!(out, tar);
    }

    /// Found in review: the size field read as base-256 from any bytes with the top bit
    /// set, so 0xff repeated passed as a tar stating a 2^64-byte file.
    #[test]
    fn bytes_that_only_look_like_a_header_are_not_one() {
        let err = copy_tar_bounded(io::repeat(0xff), Counter::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the output is not a tar: the block at byte 0 is not a header"
        );
    }

    #[test]
    fn a_size_no_file_has_is_refused() {
        let mut header = Header::new_gnu();
        header.as_gnu_mut().unwrap().size = [0xff; 12];
        header.set_cksum();
        let err = copy_tar_bounded(&header.as_bytes()[..], Counter::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the member at byte 0 states 18446744073709551615 bytes of data, which no file has"
        );
    }

    #[test]
    fn garbage_is_not_a_tar() {
        let err = copy_tar_bounded(&[b'x'; 1024][..], Counter::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the output is not a tar: the block at byte 0 is not a header"
        );
    }
}
