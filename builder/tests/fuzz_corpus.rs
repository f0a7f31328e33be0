//! Replays the fuzz regression corpus (`builder/fuzz-corpus/<target>/`) through every
//! fuzz target in each test run: the seeds the fuzzer starts from, and every input that
//! once found a bug, must all be read or refused without a panic.

use std::path::Path;

#[test]
fn the_fuzz_corpus_replays_clean() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-corpus");
    for (name, target) in stowage::fuzz::TARGETS {
        let mut inputs: Vec<_> = std::fs::read_dir(corpus.join(name))
            .unwrap_or_else(|e| panic!("the corpus of {name}: {e}"))
            .map(|entry| entry.unwrap().path())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "the corpus of {name} is empty");
        for input in inputs {
            // Printed before the run, so a panic is shown with the input that caused it.
            eprintln!("{name}: {}", input.display());
            target(&std::fs::read(&input).unwrap());
        }
    }
}
