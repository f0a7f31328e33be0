//! The platform an image declares, from the Nix system its contents are built for.
//!
//! Docker and OCI name architectures as Go does (`GOARCH`: `amd64`, `arm64`, …), with a
//! `variant` for 32-bit ARM; Nix names systems by CPU and kernel (`x86_64-linux`). This
//! is the table between the two. `nix/lib/platform.nix` holds the same table and the
//! same messages, so an image gets the same platform whichever side fills it in: change
//! both together.

/// What an image config says about the machine its binaries run on. `os` is not here:
/// it is always `linux`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    /// Go's `GOARCH`: `amd64`, `arm64`, `arm`, `386`, …
    pub architecture: &'static str,
    /// The ARM version for 32-bit ARM (`v5`, `v6`, `v7`); `None` everywhere else.
    pub variant: Option<&'static str>,
}

/// The CPU part of a Nix system, its `GOARCH` and variant. The rows follow nixpkgs'
/// `hostPlatform.go.GOARCH`, plus the ARM variant and the older x86 names.
///
/// Missing on purpose: CPUs Go has no port for (riscv32, 32-bit powerpc, s390, m68k,
/// microblaze, …), since there is no honest name to write, and wasm32, whose Nix systems
/// are `wasm32-wasi` rather than Linux. arm64 gets no variant: `v8` is its only one, and
/// Docker and containerd treat a missing variant as `v8` (nixpkgs writes none either).
const CPUS: &[(&str, &str, Option<&str>)] = &[
    ("x86_64", "amd64", None),
    ("i386", "386", None),
    ("i486", "386", None),
    ("i586", "386", None),
    ("i686", "386", None),
    ("aarch64", "arm64", None),
    ("armv5tel", "arm", Some("v5")),
    ("armv6l", "arm", Some("v6")),
    ("armv7l", "arm", Some("v7")),
    ("armv7a", "arm", Some("v7")),
    ("powerpc64le", "ppc64le", None),
    ("powerpc64", "ppc64", None),
    ("riscv64", "riscv64", None),
    ("s390x", "s390x", None),
    ("loongarch64", "loong64", None),
    ("mips", "mips", None),
    ("mipsel", "mipsle", None),
    ("mips64", "mips64", None),
    ("mips64el", "mips64le", None),
];

/// Every `GOARCH` Go has a port for (`go tool dist list`): what an explicit
/// `architecture` is checked against.
pub const KNOWN_ARCHITECTURES: &[&str] = &[
    "386", "amd64", "arm", "arm64", "loong64", "mips", "mipsle", "mips64", "mips64le", "ppc64",
    "ppc64le", "riscv64", "s390x", "wasm",
];

/// The platform of images whose contents are built for `nix_system` (`x86_64-linux`).
///
/// Refuses, with a message that names the fix: strings that are not `<cpu>-<kernel>`,
/// macOS systems (their binaries fail in a Linux container with "exec format error",
/// long after the image was built), other kernels, and CPUs Docker has no name for.
pub fn docker_platform(nix_system: &str) -> Result<Platform, String> {
    let quoted = serde_json::to_string(nix_system).expect("a string serialises");
    let fail = |message: String| Err(format!("stowage: architecture: {message}"));
    let Some((cpu, kernel)) = nix_system
        .split_once('-')
        .filter(|(cpu, kernel)| !cpu.is_empty() && !kernel.is_empty() && !kernel.contains('-'))
    else {
        return fail(format!(
            "{quoted} is not a Nix system (expected \"<cpu>-<kernel>\", such as \"x86_64-linux\"); \
             pass architecture = \"<GOARCH>\" explicitly"
        ));
    };
    if kernel == "darwin" {
        return fail(format!(
            "the Nix system {quoted} builds macOS binaries, which a Linux container cannot run \
             (they fail with \"exec format error\"); build them for Linux instead (\"{cpu}-linux\", \
             on a remote builder or with pkgsCross); if the contents already are Linux binaries, \
             pass architecture = \"<GOARCH>\" explicitly"
        ));
    }
    if kernel != "linux" {
        return fail(format!(
            "the Nix system {quoted} is not Linux, and containers run Linux binaries; build the \
             contents for Linux, and if they already are, pass architecture = \"<GOARCH>\" explicitly"
        ));
    }
    match CPUS.iter().find(|(name, _, _)| *name == cpu) {
        Some(&(_, architecture, variant)) => Ok(Platform {
            architecture,
            variant,
        }),
        None => fail(format!(
            "the Nix system {quoted} has no Docker architecture; pass architecture = \"<GOARCH>\" explicitly"
        )),
    }
}

/// Whether `nix_system` is a macOS one (`aarch64-darwin`).
pub fn is_darwin(nix_system: &str) -> bool {
    nix_system
        .strip_suffix("-darwin")
        .is_some_and(|cpu| !cpu.is_empty())
}

/// Whether `goarch` is an architecture Docker can match a host against. Catches the
/// common slip of writing the Nix or kernel name (`x86_64`, `aarch64`) where Docker
/// wants Go's (`amd64`, `arm64`).
pub fn is_known_architecture(goarch: &str) -> bool {
    KNOWN_ARCHITECTURES.contains(&goarch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written out again rather than read from `CPUS`, so that a wrong row fails.
    const EXPECTED: &[(&str, &str, Option<&str>)] = &[
        ("x86_64-linux", "amd64", None),
        ("i386-linux", "386", None),
        ("i486-linux", "386", None),
        ("i586-linux", "386", None),
        ("i686-linux", "386", None),
        ("aarch64-linux", "arm64", None),
        ("armv5tel-linux", "arm", Some("v5")),
        ("armv6l-linux", "arm", Some("v6")),
        ("armv7l-linux", "arm", Some("v7")),
        ("armv7a-linux", "arm", Some("v7")),
        ("powerpc64le-linux", "ppc64le", None),
        ("powerpc64-linux", "ppc64", None),
        ("riscv64-linux", "riscv64", None),
        ("s390x-linux", "s390x", None),
        ("loongarch64-linux", "loong64", None),
        ("mips-linux", "mips", None),
        ("mipsel-linux", "mipsle", None),
        ("mips64-linux", "mips64", None),
        ("mips64el-linux", "mips64le", None),
    ];

    #[test]
    fn every_row_of_the_table() {
        for &(system, architecture, variant) in EXPECTED {
            assert_eq!(
                docker_platform(system),
                Ok(Platform {
                    architecture,
                    variant
                }),
                "{system}"
            );
        }
        assert_eq!(EXPECTED.len(), CPUS.len(), "a row of CPUS has no test");
    }

    #[test]
    fn every_architecture_of_the_table_is_known() {
        for &(cpu, architecture, _) in CPUS {
            assert!(
                is_known_architecture(architecture),
                "{cpu} -> {architecture}"
            );
        }
    }

    #[test]
    fn unknown_cpus_name_the_system_and_the_fix() {
        for system in [
            "sparc64-linux",
            "riscv32-linux",
            "powerpc-linux",
            "s390-linux",
            "m68k-linux",
            "microblaze-linux",
        ] {
            assert_eq!(
                docker_platform(system).unwrap_err(),
                format!(
                    "stowage: architecture: the Nix system \"{system}\" has no Docker architecture; \
                     pass architecture = \"<GOARCH>\" explicitly"
                )
            );
        }
    }

    #[test]
    fn darwin_is_refused_with_the_reason() {
        for (system, linux) in [
            ("aarch64-darwin", "aarch64-linux"),
            ("x86_64-darwin", "x86_64-linux"),
        ] {
            let err = docker_platform(system).unwrap_err();
            assert!(err.starts_with("stowage: architecture: "), "{err}");
            assert!(
                err.contains(&format!("\"{system}\" builds macOS binaries")),
                "{err}"
            );
            assert!(err.contains("exec format error"), "{err}");
            assert!(err.contains(&format!("\"{linux}\"")), "{err}");
            assert!(err.contains("pass architecture = \"<GOARCH>\""), "{err}");
        }
    }

    #[test]
    fn other_kernels_and_non_systems_are_refused() {
        for system in [
            "x86_64-freebsd",
            "wasm32-wasi",
            "x86_64",
            "x86_64-unknown-linux-gnu",
            "-linux",
            "x86_64-",
            "",
        ] {
            let err = docker_platform(system).unwrap_err();
            assert!(
                err.starts_with("stowage: architecture: "),
                "{system}: {err}"
            );
            assert!(
                err.contains("pass architecture = \"<GOARCH>\" explicitly"),
                "{system}: {err}"
            );
        }
    }

    #[test]
    fn the_messages_match_the_nix_library() {
        // The same wording as nix/lib/platform.nix (tests/tests/nix_files.rs checks it
        // against Nix's output).
        assert_eq!(
            docker_platform("x86_64").unwrap_err(),
            "stowage: architecture: \"x86_64\" is not a Nix system (expected \"<cpu>-<kernel>\", \
             such as \"x86_64-linux\"); pass architecture = \"<GOARCH>\" explicitly"
        );
        assert_eq!(
            docker_platform("aarch64-darwin").unwrap_err(),
            "stowage: architecture: the Nix system \"aarch64-darwin\" builds macOS binaries, which \
             a Linux container cannot run (they fail with \"exec format error\"); build them for \
             Linux instead (\"aarch64-linux\", on a remote builder or with pkgsCross); if the \
             contents already are Linux binaries, pass architecture = \"<GOARCH>\" explicitly"
        );
        assert_eq!(
            docker_platform("x86_64-freebsd").unwrap_err(),
            "stowage: architecture: the Nix system \"x86_64-freebsd\" is not Linux, and containers \
             run Linux binaries; build the contents for Linux, and if they already are, pass \
             architecture = \"<GOARCH>\" explicitly"
        );
    }

    #[test]
    fn darwin_detection() {
        assert!(is_darwin("aarch64-darwin"));
        assert!(is_darwin("x86_64-darwin"));
        for system in ["x86_64-linux", "aarch64-linux", "darwin", "-darwin", ""] {
            assert!(!is_darwin(system), "{system}");
        }
    }

    #[test]
    fn known_architectures() {
        for goarch in KNOWN_ARCHITECTURES {
            assert!(is_known_architecture(goarch));
        }
        assert!(is_known_architecture("arm64"));
        for slip in [
            "x86_64", "aarch64", "arm64/v8", "armhf", "i686", "AMD64", "",
        ] {
            assert!(!is_known_architecture(slip), "{slip}");
        }
    }
}
