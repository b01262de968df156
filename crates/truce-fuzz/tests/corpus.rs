//! Replays the committed fuzz inputs as an ordinary test (issue 16): every file of
//! `fuzz/seeds/TARGET/` (the real fixtures), `fuzz/corpus/TARGET/` (what the fuzzer found that
//! adds coverage) and `fuzz/regressions/TARGET/` (findings) through its target's body, the same
//! function the libFuzzer binary of `fuzz/` calls. A target whose seeds or corpus directory is
//! missing or empty fails: the replay never passes by finding nothing to replay.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The most one input may take here (a release build). libFuzzer's own limit in
/// `fuzz/run.sh` is the hang detector; this one catches a corpus input turned slow.
const MAX_INPUT: Duration = Duration::from_secs(2);

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `dir`, sorted; none if it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

fn replay(name: &str, run: fn(&[u8]), inputs: &[PathBuf]) {
    for path in inputs {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let started = Instant::now();
        run(&data);
        let took = started.elapsed();
        assert!(
            took < MAX_INPUT,
            "{name}: {} ({} bytes) took {took:?}",
            path.display(),
            data.len()
        );
    }
}

#[test]
fn every_target_replays_its_corpus() {
    let mut replayed = Vec::new();
    for &(name, run) in truce_fuzz::TARGETS {
        let mut counts = Vec::new();
        for sub in ["seeds", "corpus", "regressions"] {
            let inputs = files(&fuzz_dir().join(sub).join(name));
            assert!(
                sub == "regressions" || !inputs.is_empty(),
                "fuzz/{sub}/{name}/ is missing or empty (docs/fuzzing.md says how it is made)"
            );
            replay(name, run, &inputs);
            counts.push(inputs.len().to_string());
        }
        replayed.push(format!("{name}: {}", counts.join("+")));
    }
    eprintln!("replayed {}", replayed.join(", "));
}

/// Every directory of `fuzz/seeds/`, `fuzz/corpus/` and `fuzz/regressions/` is a target's: a renamed
/// target would otherwise leave its corpus unreplayed.
#[test]
fn every_corpus_directory_is_a_target() {
    for sub in ["seeds", "corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join(sub)) else {
            continue;
        };
        for e in entries {
            let name = e.expect("a directory entry").file_name();
            let name = name.to_string_lossy();
            assert!(
                truce_fuzz::target(&name).is_some(),
                "fuzz/{sub}/{name}/ names no target of truce_fuzz::TARGETS"
            );
        }
    }
}
