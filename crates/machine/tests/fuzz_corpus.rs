//! Replays every seed and finding in `fuzz/corpus/devices` through the
//! harness the cargo-fuzz target calls, on the stable toolchain.

use anyx86_machine::fuzzing::run_devices;
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

/// Every stream plays to its end without breaking an invariant, and
/// twice gives the same trace (a fresh board each time).
#[test]
fn devices_corpus_replays() {
    for (path, data) in corpus("devices") {
        let a = run_devices(&data);
        assert_eq!(run_devices(&data), a, "{}", path.display());
    }
}

fn seed(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus/devices")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The seeds reach the devices they name: the PIT's periodic interrupt
/// is acknowledged as vector 8 (IRQ 0 through the 8259 at its power-on
/// base 8), twice; the RTC's as IRQ 8 (vector 0x70).
#[test]
fn timer_seeds_deliver_their_interrupts() {
    assert_eq!(run_devices(&seed("pit-periodic")).vectors, [8, 8]);
    assert_eq!(run_devices(&seed("rtc-periodic")).vectors, [0x70]);
}
