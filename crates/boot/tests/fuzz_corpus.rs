//! Replays every seed and finding in `fuzz/corpus/boot_image` through the
//! harness the cargo-fuzz target calls, on the stable toolchain.

use anyx86_boot::fuzzing::boot_image;
#[allow(dead_code)]
#[path = "../../cpu/tests/common/corpus.rs"]
mod corpus;

fn seeds() -> Vec<(std::path::PathBuf, Vec<u8>)> {
    corpus::corpus("boot_image")
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
