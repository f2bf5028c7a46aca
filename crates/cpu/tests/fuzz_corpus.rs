//! Replays every seed and finding in `fuzz/corpus/cpu_*` through the same
//! harness the cargo-fuzz targets call, on the stable toolchain.

use anyx86_cpu::fuzzing::{run_cpu, Mode, BUDGET, OVERSHOOT};
use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} has no seeds", dir.display());
    files
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).expect("read seed");
            (p, b)
        })
        .collect()
}

#[test]
fn cpu_real_corpus_replays() {
    for (path, data) in corpus("cpu_real") {
        let out = run_cpu(Mode::Real, &data);
        assert!(out.work <= BUDGET + OVERSHOOT, "{}", path.display());
    }
}

#[test]
fn cpu_pm32_corpus_replays() {
    for (path, data) in corpus("cpu_pm32") {
        let out = run_cpu(Mode::Pm32, &data);
        assert!(out.work <= BUDGET + OVERSHOOT, "{}", path.display());
    }
}

/// A seed that adds two registers and halts ends at the HLT after the
/// code, with two instructions retired: the ADD and the HLT.
#[test]
fn harness_runs_code_from_the_input() {
    let mut data = vec![0u8; 33];
    data[0] = 5; // EAX
    data[4] = 7; // ECX
    data.extend_from_slice(&[0x66, 0x01, 0xC8]); // add eax, ecx (real mode)
    let out = run_cpu(Mode::Real, &data);
    assert_eq!(out.exit, anyx86_cpu::RunExit::Halted);
    assert_eq!(out.retired, 2);
}
