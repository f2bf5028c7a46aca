//! Replays every seed and finding in `fuzz/corpus/boot_image` through the
//! harness the cargo-fuzz target calls, on the stable toolchain.

use anyx86_boot::fuzzing::boot_image;
use std::path::PathBuf;

fn seeds() -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/boot_image");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).expect("read seed");
            (p, b)
        })
        .collect()
}

#[test]
fn boot_image_corpus_replays() {
    let seeds = seeds();
    assert!(seeds.len() >= 10, "the corpus lost its seeds");
    for (path, data) in seeds {
        eprintln!("{}: {}", path.display(), boot_image(&data).is_some());
    }
}

/// The well-formed synthetic images load; the broken ones are refused.
#[test]
fn seeds_load_or_fail_as_named() {
    for (path, data) in seeds() {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let loaded = boot_image(&data).is_some();
        if name == "multiboot-aout" || name == "multiboot-elf" {
            assert!(loaded, "{name} should load");
        }
        if name.contains("truncated") || name == "empty" {
            assert!(!loaded, "{name} should be refused");
        }
    }
}
