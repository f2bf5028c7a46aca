//! The shared benchmark ROM (../shared/bench) runs to its known checksum,
//! flat and with paging, and exits through port 0xF4 with status 1.
//!
//! The `--stats` tests are here too: the bench ROM's rates, and the chain
//! rate across privilege changes on the `privilege` test ROM.
//!
//! The ROMs are built with one round into `target/bench-1` by the shared
//! build script when they are not there yet.

use crate::common;
use crate::guest;

use std::path::PathBuf;
use std::process::Command;

fn bench_rom(name: &str) -> PathBuf {
    let rom = guest::workspace().join("target/bench-1").join(name);
    guest::build_shared("bench/build.sh", &["1"], "bench-1", &[&rom]);
    rom
}

fn run_bench(name: &str) {
    let rom = bench_rom(name);
    let out = Command::new(env!("CARGO_BIN_EXE_anyx86"))
        .args(["run", "--bios"])
        .arg(&rom)
        .args(common::ROM_ARGS)
        .output()
        .expect("run anyx86");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("CHECKSUM 0x8fac3338"),
        "wrong checksum:\n{stdout}"
    );
    assert!(stdout.contains("RESULT OK"), "self-test failed:\n{stdout}");
    assert!(!stdout.contains("SELFTEST FAIL"), "{stdout}");
    assert_eq!(out.status.code(), Some(1), "exit status (V = 0 gives 1)");
}

#[test]
fn bench_rom_flat_one_round() {
    run_bench("bench.rom");
}

#[test]
fn bench_rom_paging_one_round() {
    run_bench("bench-paging.rom");
}

/// The percentage in a `--stats` line such as
/// `stats: trace chain rate 91.85% (...)`.
fn stat_percent(stderr: &str, label: &str) -> f64 {
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&format!("stats: {label} ")))
        .unwrap_or_else(|| panic!("no '{label}' line in:\n{stderr}"));
    let pct = line[format!("stats: {label} ").len()..]
        .split('%')
        .next()
        .expect("a percentage");
    pct.parse()
        .unwrap_or_else(|_| panic!("bad number in {line}"))
}

#[test]
fn stats_report_speed_cache_chain_and_tlb_rates() {
    let rom = bench_rom("bench-paging.rom");
    let out = Command::new(env!("CARGO_BIN_EXE_anyx86"))
        .args(["run", "--bios"])
        .arg(&rom)
        .args(["-m", "32", "--serial", "null", "--no-reboot"])
        .args(["--clock", "virtual", "--stats"])
        .output()
        .expect("run anyx86");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("stats: MIPS "), "{stderr}");
    // The workload is a loop nest over a few pages: almost every lookup
    // hits and almost every trace transition follows a chain link.
    let cache = stat_percent(&stderr, "trace cache hit rate");
    let chain = stat_percent(&stderr, "trace chain rate");
    let tlb = stat_percent(&stderr, "data TLB hit rate");
    assert!(cache > 99.0 && cache <= 100.0, "cache {cache}");
    assert!(chain > 50.0 && chain <= 100.0, "chain {chain}");
    // ... but the first visit of each trace needed a full lookup.
    let (chained, all) = stat_counts(&stderr, "trace chain rate");
    assert!(chained < all, "{stderr}");
    assert!(tlb > 99.0 && tlb < 100.0, "tlb {tlb}");
    // The bench runs at CPL 0 from start to end.
    let (_, cross) = stat_counts(&stderr, "trace chain rate across CPL changes");
    assert_eq!(cross, 0, "{stderr}");
}

/// The two counts of a `--stats` line such as
/// `stats: trace chain rate within a CPL 46.87% (6402 of 13658 other ...)`.
fn stat_counts(stderr: &str, label: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&format!("stats: {label} ")))
        .unwrap_or_else(|| panic!("no '{label}' line in:\n{stderr}"));
    let inner = line
        .split_once('(')
        .and_then(|(_, r)| r.split_once(" of "))
        .unwrap_or_else(|| panic!("no counts in {line}"));
    let num = |w: &str| -> u64 {
        w.split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("bad count in {line}"))
    };
    (num(inner.0), num(inner.1))
}

/// The `privilege` test ROM goes from ring 0 to rings 1-3 and back about
/// thirty times (IRET, INT n through a DPL 3 gate, call gates, far RET,
/// faults from ring 3): `--stats` splits the chain rate in two, and the
/// two parts add up to the whole.
#[test]
fn stats_report_the_chain_rate_across_cpl_changes_apart() {
    let rom = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../test-roms/privilege.bin"
    ));
    let out = Command::new(env!("CARGO_BIN_EXE_anyx86"))
        .args(["run", "--bios"])
        .arg(&rom)
        .args(common::ROM_ARGS)
        .args(["--clock", "virtual", "--stats"])
        .output()
        .expect("run anyx86");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (all_chained, all) = stat_counts(&stderr, "trace chain rate");
    let (cross_chained, cross) = stat_counts(&stderr, "trace chain rate across CPL changes");
    let (rest_chained, rest) = stat_counts(&stderr, "trace chain rate within a CPL");
    assert!(
        (20..1000).contains(&cross),
        "CPL changes {cross}:\n{stderr}"
    );
    assert!(cross_chained <= cross && rest_chained <= rest, "{stderr}");
    assert_eq!(cross + rest, all, "{stderr}");
    assert_eq!(cross_chained + rest_chained, all_chained, "{stderr}");
}
