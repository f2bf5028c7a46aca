//! `anyx86 lockstep`: anyx86 and `qemu-system-x86_64` stepped together
//! through QEMU's gdbstub (qemu-system-x86 is installed by
//! scripts/test.sh). Fixed seeds and small counts; the big runs are in
//! the README.

use crate::common::{anyx86, stdout, temp_dir};
use std::path::Path;

fn rom(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../test-roms")
        .join(name);
    p.to_str().expect("UTF-8 path").to_string()
}

/// A fixed-seed random stream agrees with QEMU after every instruction.
fn random_agrees(mode: &str) {
    let o = anyx86(&[
        "lockstep", "--random", "--mode", mode, "--count", "3000", "--seed", "11",
    ]);
    let out = stdout(&o);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("3000 random instructions"), "{out}");
    assert!(out.contains(", 0 divergences in "), "{out}");
}

#[test]
fn random_real_mode_agrees() {
    random_agrees("real");
}

#[test]
fn random_pm16_agrees() {
    random_agrees("pm16");
}

#[test]
fn random_pm32_agrees() {
    random_agrees("pm32");
}

#[test]
fn random_compat_agrees() {
    random_agrees("compat");
}

#[test]
fn random_long_mode_agrees() {
    random_agrees("long");
}

/// A whole test ROM runs in lockstep to its exit, with the same status on
/// both sides.
#[test]
fn pmode_entry_rom_agrees_to_its_exit() {
    let o = anyx86(&["lockstep", &rom("pmode-entry.bin")]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("pmode-entry: ok, exit status 1 on both"),
        "{out}"
    );
    assert!(
        out.trim_end()
            .ends_with("instructions compared, 0 divergences"),
        "{out}"
    );
}

/// The exceptions ROM's handler reads each fault frame's EFLAGS image,
/// where ours has RF set (SDM Vol. 3A 17.3.1.1) and QEMU's has not: the
/// committed `take` line excuses exactly that read, and the ROM agrees to
/// its exit. Without it, the read is reported with both values.
#[test]
fn fault_frame_rf_is_excused_where_the_rom_reads_it() {
    let o = anyx86(&["lockstep", &rom("exceptions.bin")]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("exceptions: ok, exit status 1 on both"),
        "{out}"
    );

    let committed = std::fs::read_to_string(rom("lockstep-exclusions.txt")).expect("exclusions");
    let dir = temp_dir("lockstep-no-take");
    let no_take = dir.join("no-take.txt");
    let kept: Vec<&str> = committed
        .lines()
        .filter(|l| !l.starts_with("take "))
        .collect();
    std::fs::write(&no_take, kept.join("\n")).expect("write");
    let o = anyx86(&[
        "lockstep",
        "--exclusions",
        no_take.to_str().expect("path"),
        &rom("exceptions.bin"),
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let rax = out
        .lines()
        .find(|l| l.starts_with("rax"))
        .unwrap_or_default();
    assert!(
        rax.contains("00000046") && rax.contains("00010046"),
        "{out}"
    );
}

/// A ROM that reads a timer is compared up to that read.
#[test]
fn comparison_stops_at_the_first_timer_read() {
    let o = anyx86(&["lockstep", &rom("pic-pit.bin")]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("ok up to read of timed port"), "{out}");
}

/// Without the exclusions QEMU's FCW at reset (037Fh, the SDM says 0040h)
/// is reported as a divergence: exit 1 with both values.
#[test]
fn divergence_is_reported_with_both_states() {
    let dir = temp_dir("lockstep-empty-exclusions");
    let empty = dir.join("none.txt");
    std::fs::write(&empty, "").expect("write");
    let o = anyx86(&[
        "lockstep",
        "--exclusions",
        empty.to_str().expect("path"),
        &rom("pmode-entry.bin"),
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("the states differ at reset"), "{out}");
    let fctrl = out
        .lines()
        .find(|l| l.starts_with("fctrl"))
        .unwrap_or_default();
    assert!(
        fctrl.contains("0000037f") && fctrl.contains("00000040"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("1 divergences"), "{out}");
}

/// A random stream that diverges (no exclusions: QEMU leaves the x87
/// exponent alone on MMX writes, among others) keeps a reproducer.
#[test]
fn random_divergence_keeps_a_reproducer() {
    let dir = temp_dir("lockstep-repro");
    let empty = dir.join("none.txt");
    std::fs::write(&empty, "").expect("write");
    let repro = dir.join("out");
    let o = anyx86(&[
        "lockstep",
        "--random",
        "--mode",
        "pm32",
        "--count",
        "3000",
        "--seed",
        "1",
        "--exclusions",
        empty.to_str().expect("path"),
        "--repro",
        repro.to_str().expect("path"),
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("divergence after instruction"), "{out}");
    let kept = std::fs::read_dir(&repro).expect("reproducer dir").count();
    assert_eq!(kept, 1, "{out}");
}
