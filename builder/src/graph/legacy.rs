//! The legacy text form of `exportReferencesGraph` (derivations without
//! `__structuredAttrs`): for each path, its line, its deriver's line (may be empty), the
//! number of references, then one line per reference.

use super::GraphEntry;
use std::path::PathBuf;

/// The entries of a legacy `exportReferencesGraph` file: for each path, its line, its
/// deriver's line (may be empty), the number of references, then one line per reference.
pub fn parse_entries(text: &str) -> Result<Vec<GraphEntry>, String> {
    let mut lines = text.lines().enumerate();
    let mut entries = Vec::new();
    while let Some((path_line, path)) = lines.next() {
        if path.is_empty() {
            continue; // a trailing blank line
        }
        let malformed =
            |line: usize, what: &str| format!("line {}: expected {what} for {path}", line + 1);
        lines
            .next()
            .ok_or_else(|| malformed(path_line + 1, "a deriver line"))?;
        let (count_line, count) = lines
            .next()
            .ok_or_else(|| malformed(path_line + 2, "a reference count"))?;
        let count: usize = count
            .trim()
            .parse()
            .map_err(|_| malformed(count_line, "a reference count"))?;
        // Never sized from `count`: it comes from the input, and a file claiming 2^64
        // references must fail on its missing lines, not abort allocating them.
        let mut references = Vec::new();
        for k in 1..=count {
            let (_, reference) = lines
                .next()
                .ok_or_else(|| malformed(count_line + k, "a reference"))?;
            references.push(PathBuf::from(reference));
        }
        entries.push(GraphEntry {
            path: PathBuf::from(path),
            references,
            nar_size: None,
            nar_hash: None,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_reference_count_is_an_error_not_an_allocation() {
        // Found by fuzzing: the count used to size a Vec before any reference was read.
        let text = "/nix/store/00000000000000000000000000000000-a\n\n18446744073709551615\n";
        assert_eq!(
            parse_entries(text).unwrap_err(),
            "line 4: expected a reference for /nix/store/00000000000000000000000000000000-a"
        );
        let text = "/nix/store/00000000000000000000000000000000-a\n\n99999999999999999999999\n";
        assert_eq!(
            parse_entries(text).unwrap_err(),
            "line 3: expected a reference count for /nix/store/00000000000000000000000000000000-a"
        );
    }
}
