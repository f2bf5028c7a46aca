//! Replays every seed and finding in `fuzz/corpus/devices` through the
//! harness the cargo-fuzz target calls, on the stable toolchain.

use anyx86_machine::fuzzing::{run_devices, run_disk_image, ImageOutcome};
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
