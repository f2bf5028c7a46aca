//! Replays every seed and finding in `fuzz/corpus/devices` through the
//! harness the cargo-fuzz target calls, on the stable toolchain.

use anyx86_machine::fuzzing::{
    run_devices, run_disk_image, run_snapshot_file, snapshot_seeds, ImageOutcome, SnapshotOutcome,
};
#[path = "../../cpu/tests/common/corpus.rs"]
mod corpus;

/// Every stream plays to its end without breaking an invariant, and
/// twice gives the same trace (a fresh board each time).
#[test]
fn devices_corpus_replays() {
    corpus::replays_alike("devices", run_devices);
}

fn seed(name: &str) -> Vec<u8> {
    corpus::seed("devices", name)
}

/// The seeds reach the devices they name: the PIT's periodic interrupt
/// is acknowledged as vector 8 (IRQ 0 through the 8259 at its power-on
/// base 8), twice; the RTC's as IRQ 8 (vector 0x70).
#[test]
fn timer_seeds_deliver_their_interrupts() {
    assert_eq!(run_devices(&seed("pit-periodic")).vectors, [8, 8]);
    assert_eq!(run_devices(&seed("rtc-periodic")).vectors, [0x70]);
}

/// The DMA seeds reach their engines: fw_cfg DMA, the IDE bus master
/// and the floppy through the 8237 each write guest RAM; the fw_cfg
/// request pointing past the end of RAM writes only its descriptor's
/// control word back (one page).
#[test]
fn dma_seeds_write_guest_ram() {
    for name in ["fw-cfg-dma", "ide-dma-read", "fdc-dma-read"] {
        assert!(run_devices(&seed(name)).dma_pages > 0, "{name}");
    }
    assert_eq!(run_devices(&seed("fw-cfg-dma-outside-ram")).dma_pages, 1);
}

#[test]
fn disk_image_corpus_replays() {
    corpus::replays_alike("disk_image", run_disk_image);
}

/// Images the drives take report their exact size (IDENTIFY, READ
/// CAPACITY, the floppy format); the others get a one-line reason.
#[test]
fn disk_image_seeds_attach_or_are_refused() {
    let image = |name: &str| run_disk_image(&corpus::seed("disk_image", name));
    let kib = |n: u64| ImageOutcome::Attached(n * 1024);
    assert_eq!(image("hd-64k"), kib(64));
    assert_eq!(image("cd-one-block"), kib(2));
    assert_eq!(image("floppy-1440"), kib(1440));
    for (name, why) in [
        ("hd-empty", "is empty"),
        ("hd-odd-size", "not a multiple of 512"),
    ] {
        match image(name) {
            ImageOutcome::Refused(m) => assert!(m.contains(why), "{name}: {m}"),
            o => panic!("{name}: {o:?}"),
        }
    }
    assert!(matches!(
        image("floppy-odd"),
        ImageOutcome::NoFloppyFormat(_)
    ));
}

#[test]
fn snapshot_file_corpus_replays() {
    corpus::replays_alike("snapshot_file", run_snapshot_file);
}

/// The seeds are snapshots of this version's format: they load, and the
/// PIT seed's machine goes on taking timer interrupts. After a change to
/// the format, rewrite them with
/// `cargo test -p anyx86-machine --test fuzz_corpus -- --ignored write_snapshot_seeds`.
#[test]
fn snapshot_seeds_load_and_run() {
    for (name, _) in snapshot_seeds() {
        let outcome = run_snapshot_file(&corpus::seed("snapshot_file", name));
        assert!(
            matches!(outcome, SnapshotOutcome::Loaded { .. }),
            "seed {name}: {outcome:?} (rewrite the seeds?)"
        );
    }
    // CX counts timer interrupts, BX loop turns (16-bit, it wraps): both
    // go on after a load, on both machines.
    for (name, mut m) in [
        ("pit-loop", anyx86_machine::fuzzing::board()),
        ("isa-pit-loop", anyx86_machine::fuzzing::isa_board()),
    ] {
        let seed = corpus::seed("snapshot_file", name);
        m.load_snapshot_bytes(std::path::Path::new(name), &seed[1..])
            .expect("the seed loads");
        let (cx, bx) = (m.cpu.s.gpr[1], m.cpu.s.gpr[3]);
        assert!(cx > 0, "{name}: no timer interrupt before the snapshot");
        m.run(Some(m.cpu.s.work() + 100_000));
        let g = &m.cpu.s.gpr;
        assert!(g[1] > cx && g[3] != bx, "{name}: {g:x?}");
    }
}

#[test]
#[ignore = "writes fuzz/corpus/snapshot_file"]
fn write_snapshot_seeds() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/snapshot_file");
    std::fs::create_dir_all(&dir).expect("corpus dir");
    for (name, bytes) in snapshot_seeds() {
        std::fs::write(dir.join(name), bytes).expect("write seed");
    }
}
