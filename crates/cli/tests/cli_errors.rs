//! Bad input gives a one-line error and exit status 2, never a panic; a
//! triple fault with --no-reboot stops with a register dump and status 4.

use crate::common::anyx86;
use std::process::Output;

fn assert_bad_input(out: &Output, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{what}: status; stderr: {err}");
    assert!(!err.contains("panicked"), "{what}: panicked: {err}");
    assert!(!err.trim().is_empty(), "{what}: no message");
}

fn temp_file(name: &str, data: &[u8]) -> std::path::PathBuf {
    let p = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&p, data).expect("write temp file");
    p
}

#[test]
fn missing_rom_is_an_error() {
    let out = anyx86(&["run", "--bios", "/nonexistent/rom.bin"]);
    assert_bad_input(&out, "missing file");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read ROM"));
}

#[test]
fn rom_of_wrong_size_is_an_error() {
    let p = temp_file("short.rom", &[0x90; 1000]);
    let out = anyx86(&["run", "--bios", p.to_str().unwrap()]);
    assert_bad_input(&out, "short ROM");
    assert!(String::from_utf8_lossy(&out.stderr).contains("multiple of 64 KiB"));
}

#[test]
fn oversized_rom_is_an_error() {
    let p = temp_file("huge.rom", &vec![0xFF; (16 << 20) + (64 << 10)]);
    let out = anyx86(&["run", "--bios", p.to_str().unwrap()]);
    assert_bad_input(&out, "17 MiB ROM");
}

#[test]
fn bad_flags_are_errors() {
    assert_bad_input(&anyx86(&["run", "--bogus"]), "unknown flag");
    assert_bad_input(&anyx86(&["run", "--bios", "x", "-m", "0"]), "zero RAM");
    assert_bad_input(
        &anyx86(&["run", "--bios", "x", "--serial", "nowhere"]),
        "bad --serial",
    );
    assert_bad_input(
        &anyx86(&["run", "--bios", "x", "--max-instructions", "lots"]),
        "bad number",
    );
}

/// A 64 KiB ROM whose reset vector loads an IDT with limit 0 and executes
/// UD2: #UD cannot be delivered (#GP), nor can #GP (#DF), nor #DF: a
/// triple fault.
fn triple_fault_rom() -> Vec<u8> {
    let mut rom = vec![0xFFu8; 64 << 10];
    let code: [u8; 15] = [
        0xFA, // cli
        0x2E, 0x0F, 0x01, 0x1E, 0xF9, 0xFF, // lidt cs:[0xFFF9]
        0x0F, 0x0B, // ud2
        0, 0, 0, 0, 0, 0, // at 0xFFF9: limit 0, base 0
    ];
    let at = rom.len() - 16;
    rom[at..at + 15].copy_from_slice(&code);
    rom
}

#[test]
fn triple_fault_stops_with_a_dump_and_status_4() {
    let p = temp_file("triple.rom", &triple_fault_rom());
    let out = anyx86(&[
        "run",
        "--bios",
        p.to_str().unwrap(),
        "--no-reboot",
        "-m",
        "1",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("triple fault"), "{err}");
    assert!(
        err.contains("EIP=0000FFF7"),
        "the dump names the faulting UD2: {err}"
    );
}

#[test]
fn instruction_limit_stops_with_status_6() {
    // The same ROM without --no-reboot resets forever; the limit ends it.
    let p = temp_file("loop.rom", &triple_fault_rom());
    let out = anyx86(&[
        "run",
        "--bios",
        p.to_str().unwrap(),
        "--max-instructions",
        "1000",
        "-m",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(6));
}

#[test]
fn pc_testdev_needs_the_full_pc_and_unknown_devices_are_refused() {
    let rom = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-roms/testdev.bin");
    let rom = rom.to_str().expect("path");
    let out = anyx86(&[
        "run",
        "--bios",
        rom,
        "--machine",
        "isa",
        "--device",
        "pc-testdev",
    ]);
    assert_bad_input(&out, "pc-testdev on the ISA machine");
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --machine pc"));
    let out = anyx86(&["run", "--bios", rom, "--device", "e1000"]);
    assert_bad_input(&out, "unknown device");
}
