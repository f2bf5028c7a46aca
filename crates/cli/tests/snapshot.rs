//! Machine snapshots: a run split in two at a snapshot (`--max-instructions
//! N --savevm FILE`, then `--loadvm FILE`) prints exactly what the run that
//! was never interrupted prints, and ends in the same machine state: the
//! snapshots both write when they end (`--savevm`) are the same bytes.
//! Snapshot files that are damaged, from another format version, or from
//! another machine are refused with exit status 2 and a one-line reason.
//!
//! The Linux tests boot the shared Debian guests on the full PC with a
//! fixed `--rtc-base` (the default is the host's clock, an input that
//! differs between runs). Run in release mode: each boot is 7 to 9
//! billion instructions.

use crate::common;
use crate::guest;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where the bench ROM's split happens: inside its first round.
const BENCH_SPLIT: &str = "40000000";
/// Where a Linux boot's split happens: the kernel has printed its first
/// lines (the i386 one after 2.4 billion instructions, the amd64 one
/// after 4.6 billion) and is initialising drivers.
const I386_SPLIT: &str = "3000000000";
const AMD64_SPLIT: &str = "6000000000";

fn bench_rom(name: &str) -> PathBuf {
    let rom = guest::workspace().join("target/bench-1").join(name);
    guest::build_shared("bench/build.sh", &["1"], "bench-1", &[&rom]);
    rom
}

/// `anyx86 run --bios ROM` with the test-ROM options and `mib` of RAM on
/// the virtual clock (the bench ROM reads the TSC) and a fixed RTC time
/// (the default, the host's time, differs between runs and is saved).
fn rom_command_m(rom: &Path, mib: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_anyx86"));
    c.args(["run", "--bios"]).arg(rom);
    c.args(["--clock", "virtual", "--rtc-base", "1700000000", "-m", mib]);
    c.args(["--debugcon", "stdio"]);
    c.args(["--serial", "null", "--no-reboot"]);
    c
}

fn rom_command(rom: &Path) -> Command {
    rom_command_m(rom, "32")
}

fn linux_command(arch: &str) -> Command {
    let (kernel, initrd) = guest::guest(arch);
    let mut c = guest::boot_command(&kernel, &initrd, "console=ttyS0,115200 panic=-1 work=1");
    c.args(["--rtc-base", "1700000000"]);
    c
}

fn run(mut c: Command, extra: &[&str]) -> Output {
    c.args(extra).output().expect("run anyx86")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// Runs `make()` whole and split at instruction `at`, and compares.
/// Returns the whole run's output.
fn split_run_matches_whole(name: &str, make: impl Fn() -> Command, at: &str) -> Output {
    let dir = common::temp_dir(name);
    let snap = |n: &str| dir.join(n).to_string_lossy().into_owned();
    let (whole_end, mid, split_end) = (
        snap("whole-end.snap"),
        snap("mid.snap"),
        snap("split-end.snap"),
    );

    let whole = run(make(), &["--savevm", &whole_end]);
    let first = run(make(), &["--max-instructions", at, "--savevm", &mid]);
    assert_eq!(
        first.status.code(),
        Some(6),
        "the first half ends at its limit"
    );
    let second = run(make(), &["--loadvm", &mid, "--savevm", &split_end]);

    let mut joined = first.stdout.clone();
    joined.extend_from_slice(&second.stdout);
    assert!(
        !first.stdout.is_empty() && !second.stdout.is_empty(),
        "both halves print"
    );
    assert_eq!(
        String::from_utf8_lossy(&joined),
        String::from_utf8_lossy(&whole.stdout),
        "the halves' output differs from the whole run's"
    );
    assert_eq!(
        second.status.code(),
        whole.status.code(),
        "{}",
        common::stdout(&second)
    );
    assert!(
        read(Path::new(&split_end)) == read(Path::new(&whole_end)),
        "the machine state at the end differs"
    );
    whole
}

#[test]
fn bench_rom_split_at_a_snapshot_ends_like_the_whole_run() {
    for name in ["bench.rom", "bench-paging.rom"] {
        let rom = bench_rom(name);
        let whole = split_run_matches_whole(name, || rom_command(&rom), BENCH_SPLIT);
        assert!(common::stdout(&whole).contains("RESULT OK"));
        assert_eq!(whole.status.code(), Some(1));
    }
}

#[test]
fn debian_i386_split_at_a_snapshot_mid_boot_ends_like_the_whole_boot() {
    let whole = split_run_matches_whole("i386", || linux_command("i386"), I386_SPLIT);
    let out = common::stdout(&whole);
    assert!(
        out.contains("GUEST-DONE") && out.contains("reboot: Power down"),
        "{out}"
    );
    assert_eq!(whole.status.code(), Some(0));
}

#[test]
fn debian_amd64_split_at_a_snapshot_mid_boot_ends_like_the_whole_boot() {
    let whole = split_run_matches_whole("amd64", || linux_command("amd64"), AMD64_SPLIT);
    let out = common::stdout(&whole);
    assert!(
        out.contains("GUEST-DONE") && out.contains("reboot: Power down"),
        "{out}"
    );
    assert_eq!(whole.status.code(), Some(0));
}

/// A snapshot of the flat bench ROM early in its run, and its bytes.
fn bench_snapshot(dir: &Path) -> (PathBuf, Vec<u8>) {
    let rom = bench_rom("bench.rom");
    let p = dir.join("early.snap");
    let o = run(
        rom_command(&rom),
        &[
            "--max-instructions",
            "1000000",
            "--savevm",
            &p.to_string_lossy(),
        ],
    );
    assert_eq!(o.status.code(), Some(6));
    let bytes = read(&p);
    (p, bytes)
}

/// Loads `bytes` as a snapshot into the bench ROM's machine (plus
/// `extra` options) and returns the exit status and stderr.
fn load(dir: &Path, bytes: &[u8], extra: &[&str]) -> (Option<i32>, String) {
    load_m(dir, bytes, "32", extra)
}

/// [`load`] with `mib` of RAM.
fn load_m(dir: &Path, bytes: &[u8], mib: &str, extra: &[&str]) -> (Option<i32>, String) {
    let p = dir.join("edited.snap");
    std::fs::write(&p, bytes).expect("write snapshot");
    let mut c = rom_command_m(&bench_rom("bench.rom"), mib);
    c.args(["--loadvm", &p.to_string_lossy()]).args(extra);
    let o = c.output().expect("run anyx86");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn bad_snapshot_files_are_refused_with_status_2() {
    let dir = common::temp_dir("bad-snapshots");
    let (_, good) = bench_snapshot(&dir);
    // The file as saved loads and the ROM finishes.
    let (status, err) = load(&dir, &good, &[]);
    assert_eq!(status, Some(1), "{err}");

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "is not an anyx86 snapshot"),
        (
            "other file",
            b"MZ\x90\x00 a DOS program".to_vec(),
            "is not an anyx86 snapshot",
        ),
        ("truncated", good[..good.len() / 2].to_vec(), "is damaged"),
        (
            "no end section",
            good[..good.len() - 16].to_vec(),
            "is damaged: the file ends early",
        ),
        (
            "version",
            {
                let mut b = good.clone();
                b[8] = 99;
                b
            },
            "has format version 99",
        ),
        (
            "a flipped bit in the CPU state",
            {
                // Past the header and the MACH section: inside CPU0.
                let mach_len = u64::from_le_bytes(good[16..24].try_into().unwrap()) as usize;
                let mut b = good.clone();
                b[12 + 12 + mach_len + 4 + 12 + 5] ^= 0x10;
                b
            },
            "section CPU0 fails its checksum",
        ),
        (
            "a flipped bit in RAM",
            {
                let mut b = good.clone();
                let at = b.len() - 16 - 100;
                b[at] ^= 1;
                b
            },
            "section RAM0 fails its checksum",
        ),
    ];
    for (what, bytes, expect) in cases {
        let (status, err) = load(&dir, &bytes, &[]);
        assert_eq!(status, Some(2), "{what}: {err}");
        assert!(err.contains(expect), "{what}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{what}: one line: {err}");
    }
}

#[test]
fn a_snapshot_loads_only_into_the_machine_it_came_from() {
    let dir = common::temp_dir("foreign-snapshot");
    let (_, good) = bench_snapshot(&dir);
    let (status, err) = load_m(&dir, &good, "64", &[]);
    assert_eq!(status, Some(2), "{err}");
    assert!(
        err.contains(
            "was saved on another machine: it has ram 32 MiB, this command line gives ram 64 MiB"
        ),
        "{err}"
    );
    let (status, err) = load(&dir, &good, &["--machine", "isa"]);
    assert_eq!(status, Some(2), "{err}");
    assert!(
        err.contains("it has machine pc, this command line gives machine isa"),
        "{err}"
    );
}

#[test]
fn a_directory_or_missing_file_is_not_a_snapshot() {
    let dir = common::temp_dir("not-a-snapshot-file");
    let rom = bench_rom("bench.rom");
    for p in [dir.clone(), dir.join("missing.snap")] {
        let o = run(rom_command(&rom), &["--loadvm", &p.to_string_lossy()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("snapshot"), "{err}");
    }
}
