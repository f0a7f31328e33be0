//! Mistakes in the arguments of the library's functions stop the evaluation (or, for
//! what only the builder can check, the build) with a message that names the image,
//! the argument and the fix. The images are the `errors` attributes of
//! tests/nix/library.nix.

mod common;

use common::{nix_build_command, nix_instantiate_command, run_failing};

const LIBRARY: &str = "tests/nix/library.nix";

/// The stderr of instantiating `errors.<attr>`, which must fail.
fn eval_error(attr: &str) -> String {
    run_failing(nix_instantiate_command(LIBRARY, &format!("errors.{attr}")))
}

/// The stderr of building `errors.<attr>`, which must fail.
fn build_error(attr: &str) -> String {
    run_failing(nix_build_command(
        LIBRARY,
        &format!("errors.{attr}"),
        &["--no-out-link"],
    ))
}

/// Asserts that `stderr` contains every one of `parts`.
fn assert_mentions(stderr: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            stderr.contains(part),
            "expected {part:?} in the error output:\n{stderr}"
        );
    }
}

#[test]
fn max_layers_of_one_is_refused_as_in_nixpkgs() {
    assert_mentions(
        &eval_error("maxLayersOne"),
        &[
            "error: stowage: stowage-lib/max-layers-one: the maxLayers argument of \
           dockerTools.buildLayeredImage function must be greater than 1 (current value: 1)",
        ],
    );
}

#[test]
fn a_darwin_system_is_refused_before_it_builds_macos_binaries_into_an_image() {
    let stderr = eval_error("darwin");
    assert_mentions(
        &stderr,
        &[
            "\"aarch64-darwin\" builds macOS binaries, which",
            "\"exec format error\"",
        ],
    );
}

#[test]
fn an_unknown_compressor_is_named_with_the_choices() {
    assert_mentions(
        &eval_error("unknownCompressor"),
        &[
            "error: stowage: stowage-lib/unknown-compressor: compressor \"bzip2\" is unknown; \
           use \"none\", \"gz\" or \"zstd\"",
        ],
    );
}

#[test]
fn a_nix_cpu_name_as_architecture_is_refused_with_the_go_name() {
    assert_mentions(
        &eval_error("nixArchitecture"),
        &[
            "error: stowage: stowage-lib/nix-architecture: architecture \"x86_64\" is not a \
             Docker (GOARCH) architecture; use one of 386, amd64, arm, arm64,",
            "(x86_64 is \"amd64\", aarch64 is \"arm64\")",
        ],
    );
}

#[test]
fn an_unknown_argument_is_refused_by_both_functions() {
    for attr in ["unknownArgument", "unknownArgumentArchive"] {
        assert_mentions(
            &eval_error(attr),
            &[
                "streamLayeredImage.nix",
                "called with unexpected argument 'foo'",
            ],
        );
    }
}

#[test]
fn bad_perms_are_named_by_rule_and_field() {
    let stderr = build_error("badPermsMode");
    assert_mentions(
        &stderr,
        &[
            "perms[0].mode: \"rwx\" is not an octal mode such as \"0644\"",
            "bad-perms-mode-customisation-layer.drv' failed",
        ],
    );
    assert_mentions(
        &eval_error("relativePermsPath"),
        &["error: stowage: stowage-lib/relative-perms-path: perms[0].path: \"srv\" must be an absolute image path such as \"/data\""],
    );
}

/// A misspelt key or a field of the wrong type in `config` stops the evaluation, in
/// every function that takes a config, naming the field and what it should be.
#[test]
fn config_mistakes_are_named_at_evaluation() {
    assert_mentions(
        &eval_error("misspeltConfig"),
        &["error: stowage: stowage-lib/misspelt-config: config.Cmnd is not a field of an image config; did you mean Cmd? (an unknown field is ignored by every engine)"],
    );
    assert_mentions(
        &eval_error("wrongConfigType"),
        &["error: stowage: stowage-lib/wrong-config-type: config.Env must be a list of strings, not \"A=1\""],
    );
    assert_mentions(
        &eval_error("misspeltBuildImageConfig"),
        &["error: stowage: stowage-lib/misspelt-build-image-config: config.Entrypiont is not a field of an image config; did you mean Entrypoint?"],
    );
}

#[test]
fn what_docker_load_would_refuse_fails_the_build_naming_it() {
    assert_mentions(
        &build_error("badRepoName"),
        &["component \"a..b\" joins letters and digits with something other than one '.', one or two '_', or '-'s"],
    );
}
