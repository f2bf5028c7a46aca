//! Helpers of the cli tests that run the `anyx86` binary to its end.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The options a test ROM runs with after `run --bios ROM`: 32 MiB, its
/// debug console (port 0xE9, where it reports) on stdout, COM1 discarded,
/// and a triple fault ending the run.
pub const ROM_ARGS: [&str; 7] = [
    "-m",
    "32",
    "--debugcon",
    "stdio",
    "--serial",
    "null",
    "--no-reboot",
];

/// Runs `anyx86 ARGS` to its end.
pub fn anyx86(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_anyx86"))
        .args(args)
        .output()
        .expect("run anyx86")
}

/// A run's standard output.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A fresh, empty directory `name` in cargo's scratch directory.
pub fn temp_dir(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).expect("temp dir");
    p
}
