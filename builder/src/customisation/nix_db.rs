//! The Nix database of `includeNixDB`: a `nix/var/nix` tree whose SQLite database
//! registers the image's store paths as valid, so that `nix` run inside the container
//! sees them (and its garbage collector keeps them).
//!
//! nixpkgs makes this tree with `nix-store --load-db`, which needs Nix inside the build;
//! stowage writes the same database itself, from the closure graph. The tables and
//! columns are those of Nix's local store at schema version 10 (every Nix 2.x writes and
//! reads that version), so the database opens with the Nix of the container whatever its
//! version.
//!
//! The database is byte-for-byte reproducible: rows go in sorted by store path, the
//! registration time is a constant, no rollback journal or WAL file is left behind, and
//! `VACUUM` lays the pages out afresh from the rows alone.

use crate::error::{Error, Result};
use crate::graph::store_path::NIXBASE32;
use crate::graph::Graph;
use rusqlite::{params, Connection};
use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

/// The schema version Nix records in `db/schema`: 10 since Nix 2.0 (it was bumped for the
/// last time for `ca`), and Nix refuses a database whose version is newer than its own.
pub const NIX_SCHEMA_VERSION: u32 = 10;

/// The `registrationTime` of every path. Nix only shows it (`nix path-info --json`);
/// a constant keeps the database the same from one build to the next.
pub const REGISTRATION_TIME: i64 = 1;

/// Where Nix keeps its state, relative to the image's root.
const STATE_DIR: &str = "nix/var/nix";

/// What `includeNixDB` asks of the graph when a hash is missing.
const NEEDS_NAR_HASH: &str =
    "includeNixDB needs narHash for every path; use exportReferencesGraph with __structuredAttrs";

/// Nix's local-store tables at schema version 10, column for column and with the same
/// constraints, indices and trigger, since Nix's queries and its `on delete` behaviour
/// (garbage collection, `nix-store --delete`) rely on them. Nix never re-creates an
/// existing table, so whatever is declared here is what the container's Nix works with.
const SCHEMA: &str = "
create table ValidPaths (
    id               integer primary key autoincrement not null,
    path             text unique not null,
    hash             text not null, -- the NAR hash, as sha256:<base16>
    registrationTime integer not null,
    deriver          text,
    narSize          integer,
    ultimate         integer, -- null means false: built elsewhere, not trusted by itself
    sigs             text, -- space-separated
    ca               text -- a content-address assertion, if any
);

create table Refs (
    referrer  integer not null,
    reference integer not null,
    primary key (referrer, reference),
    foreign key (referrer) references ValidPaths(id) on delete cascade,
    foreign key (reference) references ValidPaths(id) on delete restrict
);

create index IndexReferrer on Refs(referrer);
create index IndexReference on Refs(reference);

-- Deleting a path that refers to itself would trip the `restrict` above on its own
-- self-reference row, so that row goes first.
create trigger DeleteSelfRefs before delete on ValidPaths
  begin
    delete from Refs where referrer = old.id and reference = old.id;
  end;

create table DerivationOutputs (
    drv  integer not null,
    id   text not null, -- the output's name, usually \"out\"
    path text not null,
    primary key (drv, id),
    foreign key (drv) references ValidPaths(id) on delete cascade
);

create index IndexDerivationOutputs on DerivationOutputs(path);
";

/// Writes a Nix store database for `paths` (node indices of `graph`, closed under
/// references) under `root`: `nix/var/nix/db/{db.sqlite,schema,big-lock}`, the empty
/// `profiles/` and `temproots/` Nix would create, and `gcroots/` with a `docker/` link to
/// each path nothing else in `paths` refers to (as nixpkgs links its `contents`), so
/// `nix-collect-garbage` in the container keeps the image's store. Every path must carry
/// its narHash. The same input gives the same bytes on every run.
pub fn write_nix_db(root: &Path, graph: &Graph, paths: &BTreeSet<usize>) -> Result<()> {
    let rows = registrations(graph, paths)?;
    let state = root.join(STATE_DIR);
    let db_dir = state.join("db");
    for dir in ["nix", "nix/var", STATE_DIR] {
        make_dir(&root.join(dir))?;
    }
    for dir in ["db", "profiles", "temproots", "gcroots", "gcroots/docker"] {
        make_dir(&state.join(dir))?;
    }
    // Nix links the profiles into the roots only when it creates gcroots/ itself, which it
    // will not do now that the directory exists; without the link, `nix-collect-garbage`
    // would delete what a profile in the container installed.
    replace_symlink(
        Path::new("/nix/var/nix/profiles"),
        &state.join("gcroots/profiles"),
    )?;
    for row in rows.iter().filter(|r| r.is_root) {
        let name = row.path.rsplit('/').next().unwrap_or(&row.path);
        replace_symlink(
            Path::new(&row.path),
            &state.join("gcroots/docker").join(name),
        )?;
    }
    write_database(&db_dir.join("db.sqlite"), &rows)?;
    write_file(
        &db_dir.join("schema"),
        NIX_SCHEMA_VERSION.to_string().as_bytes(),
        0o644,
    )?;
    // Nix opens the big lock before anything else and creates it if missing; shipping it
    // empty, with the mode Nix gives it, matches an image made by `nix-store --load-db`.
    write_file(&db_dir.join("big-lock"), b"", 0o600)
}

/// One row of `ValidPaths`, with the ids (1-based positions) of the paths it refers to.
#[derive(Debug)]
struct Registration {
    path: String,
    /// `sha256:<base16>`, the form Nix stores.
    hash: String,
    /// `None` when the graph did not know it; Nix reads NULL as "unknown". Signed, as
    /// SQLite's integers are.
    nar_size: Option<i64>,
    references: Vec<i64>,
    /// Nothing else among the registered paths refers to it.
    is_root: bool,
}

/// The rows to register, in path order (the order of node indices), with each reference
/// checked to be registered too: a dangling reference would break Nix's foreign keys.
fn registrations(graph: &Graph, paths: &BTreeSet<usize>) -> Result<Vec<Registration>> {
    let nodes = graph.nodes();
    // Ids follow the sorted order so that the rows, and so the pages, never depend on
    // anything but the set of paths.
    let ids: HashMap<usize, i64> = paths.iter().copied().zip(1..).collect();
    let mut rows = Vec::with_capacity(paths.len());
    for &i in paths {
        let node = nodes
            .get(i)
            .ok_or_else(|| Error::Internal(format!("path index {i} is not in the graph")))?;
        let store_path = node.path.as_path();
        let nar_hash = node
            .nar_hash
            .as_deref()
            .ok_or_else(|| Error::input(store_path, NEEDS_NAR_HASH))?;
        let hash = nar_hash_for_db(nar_hash)
            .map_err(|m| Error::input(store_path, format!("narHash \"{nar_hash}\": {m}")))?;
        let mut references = Vec::with_capacity(node.references.len() + 1);
        for &r in node
            .references
            .iter()
            .chain(node.refers_to_self.then_some(&i))
        {
            let &id = ids.get(&r).ok_or_else(|| {
                Error::Internal(format!(
                    "{} refers to {}, which the Nix database does not register",
                    store_path.display(),
                    nodes[r].path.as_path().display()
                ))
            })?;
            references.push(id);
        }
        let path = store_path
            .to_str()
            .ok_or_else(|| Error::input(store_path, "store path is not UTF-8"))?
            .to_owned();
        let nar_size =
            match node.nar_size {
                0 => None,
                size => Some(i64::try_from(size).map_err(|_| {
                    Error::input(store_path, format!("narSize {size} is too large"))
                })?),
            };
        rows.push(Registration {
            path,
            hash,
            nar_size,
            references,
            is_root: !node.referrers.iter().any(|r| ids.contains_key(r)),
        });
    }
    Ok(rows)
}

/// Writes the SQLite database to `target`, by way of a temporary file beside it so that
/// a failed run leaves no half-written database where Nix would look.
fn write_database(target: &Path, rows: &[Registration]) -> Result<()> {
    let temp = target.with_file_name("db.sqlite.stowage-tmp");
    let sql_error =
        |e: rusqlite::Error| Error::write(target.display().to_string(), io::Error::other(e));
    remove_if_present(&temp)?;
    let mut db = Connection::open(&temp).map_err(sql_error)?;
    // The page size and encoding are fixed rather than left to how SQLite was compiled;
    // DELETE journaling leaves no -wal/-shm file (Nix switches to WAL itself on first use);
    // nothing needs to survive a crash before the rename, so no fsync; VACUUM's scratch
    // copy stays in memory rather than in whatever TMPDIR the sandbox has.
    db.execute_batch(
        "pragma page_size = 4096;
         pragma encoding = 'UTF-8';
         pragma journal_mode = delete;
         pragma synchronous = off;
         pragma temp_store = memory;",
    )
    .map_err(sql_error)?;
    let tx = db.transaction().map_err(sql_error)?;
    tx.execute_batch(SCHEMA).map_err(sql_error)?;
    {
        let mut insert_path = tx
            .prepare(
                "insert into ValidPaths (id, path, hash, registrationTime, narSize) \
                 values (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(sql_error)?;
        let mut insert_ref = tx
            .prepare("insert into Refs (referrer, reference) values (?1, ?2)")
            .map_err(sql_error)?;
        for (id, row) in (1i64..).zip(rows) {
            insert_path
                .execute(params![
                    id,
                    row.path,
                    row.hash,
                    REGISTRATION_TIME,
                    row.nar_size
                ])
                .map_err(sql_error)?;
        }
        for (id, row) in (1i64..).zip(rows) {
            for &reference in &row.references {
                insert_ref
                    .execute(params![id, reference])
                    .map_err(sql_error)?;
            }
        }
    }
    tx.commit().map_err(sql_error)?;
    // Rebuilds every table and index in key order: the pages then hold the rows densely
    // and depend only on them, not on the order the indices saw their entries in.
    db.execute_batch("vacuum;").map_err(sql_error)?;
    db.close().map_err(|(_, e)| sql_error(e))?;
    fs::set_permissions(&temp, fs::Permissions::from_mode(0o644))
        .map_err(|e| Error::write(temp.display().to_string(), e))?;
    fs::rename(&temp, target).map_err(|e| Error::write(target.display().to_string(), e))
}

/// Creates `dir` (and its parents) with mode 0755 whatever the umask, so the tree is the
/// same on every machine.
fn make_dir(dir: &Path) -> Result<()> {
    let fail = |e| Error::write(dir.display().to_string(), e);
    fs::create_dir_all(dir).map_err(fail)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).map_err(fail)
}

/// Writes `bytes` to `path` with `mode`, whatever the umask.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let fail = |e| Error::write(path.display().to_string(), e);
    fs::write(path, bytes).map_err(fail)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(fail)
}

/// Makes `link` a symlink to `target`, replacing what a previous run left there.
fn replace_symlink(target: &Path, link: &Path) -> Result<()> {
    remove_if_present(link)?;
    symlink(target, link).map_err(|e| Error::write(link.display().to_string(), e))
}

/// Removes the file or symlink at `path`, if there is one.
fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(Error::write(path.display().to_string(), e))
        }
        _ => Ok(()),
    }
}

/// The bytes of a SHA-256 digest.
const SHA256_LEN: usize = 32;

/// Converts a NAR hash as graphs carry it into the form Nix stores in `ValidPaths.hash`,
/// `sha256:<base16>`. Accepted: `sha256:` followed by nixbase32 (exportReferencesGraph),
/// base16 or base64, and SRI `sha256-<base64>` (`nix path-info --json` of newer Nix).
pub fn nar_hash_for_db(hash: &str) -> Result<String, String> {
    let (algorithm, digest, sri) = match (hash.split_once(':'), hash.split_once('-')) {
        (Some((a, d)), _) => (a, d, false),
        (None, Some((a, d))) => (a, d, true),
        (None, None) => return Err("expected sha256:<hash> or sha256-<base64>".into()),
    };
    if algorithm != "sha256" {
        return Err(format!(
            "a NAR hash is SHA-256, not {algorithm} (expected sha256:<hash> or sha256-<base64>)"
        ));
    }
    let bytes = match digest.len() {
        64 if !sri => decode_base16(digest),
        52 if !sri => decode_nixbase32(digest, SHA256_LEN),
        44 => decode_base64(digest),
        _ => None,
    }
    .filter(|b| b.len() == SHA256_LEN)
    .ok_or_else(|| {
        "not a SHA-256 digest in base16 (64 characters), nixbase32 (52) or base64 (44)".to_owned()
    })?;
    Ok(format!("sha256:{}", hex::encode(bytes)))
}

/// Decodes Nix's base 32 into `len` bytes; `None` if `text` is not such an encoding.
///
/// Nix's base 32 is not RFC 4648: it reads the bytes as one little-endian number and
/// writes its 5-bit digits most significant first. So the last character holds bits 0–4
/// of byte 0, the one before it bits 5–9, and so on; the first character's spare high
/// bits must be zero.
pub fn decode_nixbase32(text: &str, len: usize) -> Option<Vec<u8>> {
    if text.len() != (len * 8).div_ceil(5) {
        return None;
    }
    let mut bytes = vec![0u8; len];
    for (n, c) in text.bytes().rev().enumerate() {
        let digit = NIXBASE32.iter().position(|&a| a == c)? as u16;
        let bit = n * 5;
        // The digit's 5 bits start `bit % 8` bits into byte `bit / 8` and may spill into
        // the next byte.
        let spread = digit << (bit % 8);
        bytes[bit / 8] |= spread as u8;
        let high = (spread >> 8) as u8;
        match bytes.get_mut(bit / 8 + 1) {
            Some(next) => *next |= high,
            None if high != 0 => return None,
            None => {}
        }
    }
    Some(bytes)
}

/// Decodes lower- or upper-case base 16.
fn decode_base16(text: &str) -> Option<Vec<u8>> {
    hex::decode(text).ok()
}

/// Decodes padded standard base 64 (RFC 4648 §4), as Nix prints it.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if text.len() % 4 != 0 {
        return None;
    }
    let body = text.trim_end_matches('=');
    // One character alone carries 6 bits, less than a byte: no encoder writes that.
    if text.len() - body.len() > 2 || body.len() % 4 == 1 {
        return None;
    }
    let mut bytes = Vec::with_capacity(body.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in body.bytes() {
        acc = (acc << 6) | ALPHABET.iter().position(|&a| a == c)? as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((acc >> bits) as u8);
        }
    }
    // Leftover bits must be the zero padding of the last group.
    (acc & ((1 << bits) - 1) == 0).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The libc of the bench closure: `nix-store -q --hash` printed the nixbase32 form,
    /// and Nix 2.8's db.sqlite holds the base16 one.
    const NIX32: &str = "0anwxy56akc1ph0w1fpw8p670y5xwwjpqz694b5byrbi2jfbl5ag";
    const BASE16: &str = "4f15ba9c147165bfca22c97c7c25e7bd7870cc45fcbac001bc814d658aefdc2a";

    #[test]
    fn nixbase32_decodes_as_nix_does() {
        let bytes = decode_nixbase32(NIX32, 32).unwrap();
        assert_eq!(hex::encode(bytes), BASE16);
        // A 20-byte (SHA-1 sized, as in store path hashes) all-zero and all-one value.
        assert_eq!(decode_nixbase32(&"0".repeat(32), 20), Some(vec![0; 20]));
        assert_eq!(decode_nixbase32(&"z".repeat(32), 20), Some(vec![0xff; 20]));
        // Bit 0 of byte 0 is the last character; byte 0's bit 5 is the one before it.
        let mut one = "0".repeat(52);
        one.replace_range(51.., "1");
        assert_eq!(decode_nixbase32(&one, 32).unwrap()[0], 1);
        one.replace_range(50.., "10");
        assert_eq!(decode_nixbase32(&one, 32).unwrap()[0], 0x20);
    }

    #[test]
    fn nixbase32_refuses_what_nix_refuses() {
        assert_eq!(decode_nixbase32(&NIX32[1..], 32), None, "too short");
        assert_eq!(decode_nixbase32(&NIX32.replace('0', "e"), 32), None, "no e");
        // 52 digits carry 260 bits: the first digit may only use the low 1 of its 5.
        assert_eq!(decode_nixbase32(&format!("2{}", &NIX32[1..]), 32), None);
        assert!(decode_nixbase32(&format!("1{}", &NIX32[1..]), 32).is_some());
    }

    #[test]
    fn every_form_of_a_nar_hash_gives_the_form_nix_stores() {
        let want = format!("sha256:{BASE16}");
        let base64 = "TxW6nBRxZb/KIsl8fCXnvXhwzEX8usABvIFNZYrv3Co=";
        for form in [
            format!("sha256:{NIX32}"),
            format!("sha256:{BASE16}"),
            format!("sha256:{}", BASE16.to_uppercase()),
            format!("sha256:{base64}"),
            format!("sha256-{base64}"),
        ] {
            assert_eq!(nar_hash_for_db(&form).as_ref(), Ok(&want), "{form}");
        }
        for bad in [
            NIX32.to_owned(),
            format!("sha1:{NIX32}"),
            format!("sha256-{NIX32}"),
            "sha256:abc".to_owned(),
            "sha256-TxW6nBRxZb/KIsl8fCXnvXhwzEX8usABvIFNZYrv3C!=".to_owned(),
        ] {
            assert!(nar_hash_for_db(&bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn base64_decodes_padding_and_refuses_stray_bits() {
        assert_eq!(decode_base64("TWFu"), Some(b"Man".to_vec()));
        assert_eq!(decode_base64("TWE="), Some(b"Ma".to_vec()));
        assert_eq!(decode_base64("TQ=="), Some(b"M".to_vec()));
        assert_eq!(decode_base64("TR=="), None);
        assert_eq!(decode_base64("T==="), None);
        assert_eq!(decode_base64("TWF"), None);
    }
}
