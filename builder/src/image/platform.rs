//! Which architectures an image may declare. Docker and OCI name them as Go does
//! (`GOARCH`: `amd64`, `arm64`, …). The table is `nix/lib/platforms.json`, which the Nix
//! library reads too (it maps Nix systems to these names); the builder only needs the
//! names, to check an `architecture` that a conf gives.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The platform table, as compiled in.
const TABLE: &str = include_str!("../../../nix/lib/platforms.json");

/// The part of the table the builder reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Table {
    known_architectures: Vec<String>,
    cpus: BTreeMap<String, Cpu>,
}

/// A row of `cpus`: the GOARCH and variant of a Nix system's CPU part.
#[derive(Deserialize)]
pub struct Cpu {
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

fn table() -> &'static Table {
    static TABLE_PARSED: OnceLock<Table> = OnceLock::new();
    TABLE_PARSED.get_or_init(|| {
        serde_json::from_str::<Table>(TABLE)
            .expect("nix/lib/platforms.json is valid (a unit test reads it)")
    })
}

/// Every `GOARCH` Go has a port for, in the table's order.
pub fn known_architectures() -> &'static [String] {
    &table().known_architectures
}

/// The GOARCH of the machine stowage runs on, from the CPU it was compiled for (Rust
/// names it as Nix does for the 64-bit CPUs); `None` where the name is ambiguous
/// (Rust's `arm` is any 32-bit ARM), so the caller has to be told.
pub fn host_cpu() -> Option<&'static Cpu> {
    table().cpus.get(std::env::consts::ARCH)
}

/// Checks that `goarch` is an architecture Docker can match a host against. Catches the
/// common slip of writing the Nix or kernel name (`x86_64`, `aarch64`) where Docker
/// wants Go's (`amd64`, `arm64`).
pub fn check_architecture(goarch: &str) -> Result<(), String> {
    let known = known_architectures();
    if known.iter().any(|k| k == goarch) {
        return Ok(());
    }
    Err(format!(
        "\"{goarch}\" is not a Docker (GOARCH) architecture; use one of {} (x86_64 is \"amd64\", aarch64 is \"arm64\")",
        known.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_go_architectures() {
        let known = known_architectures();
        for goarch in [
            "amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64",
        ] {
            assert!(known.iter().any(|k| k == goarch), "{goarch}");
        }
        assert!(check_architecture("amd64").is_ok());
        assert!(check_architecture("x86_64").is_err());
        #[cfg(target_arch = "x86_64")]
        assert_eq!(host_cpu().map(|c| c.architecture.as_str()), Some("amd64"));
    }
}
