//! Boots Debian's stock i386 kernel (686 flavour) with the shared busybox
//! initramfs and checks, in order: the kernel banner, GUEST-READY, the
//! expected WORK-RESULT, GUEST-DONE, and exit status 0 after `poweroff -f`
//! (a halt with interrupts off ends the run).
//!
//! Run in release mode (`cargo test --release`): the boot is about 8
//! billion instructions.

#[allow(dead_code)]
mod guest;

use std::process::Command;

#[test]
fn debian_i386_boots_runs_the_workload_and_powers_off() {
    let (kernel, initrd) = guest::guest("i386");
    let out = Command::new(env!("CARGO_BIN_EXE_anyx86"))
        .arg("run")
        .arg("--kernel")
        .arg(&kernel)
        .arg("--initrd")
        .arg(&initrd)
        .args([
            "--append",
            guest::APPEND,
            "-m",
            "256",
            "--serial",
            "stdio",
            "--no-reboot",
        ])
        .args(["--clock", "virtual", "--stats"])
        .output()
        .expect("run anyx86");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut at = 0;
    for want in [
        "Linux version 6.1",
        "GUEST-READY",
        guest::WORK_RESULT,
        "GUEST-DONE",
    ] {
        match stdout[at..].find(want) {
            Some(i) => at += i + want.len(),
            None => panic!("{want:?} missing (or out of order) in the console output:\n{stdout}\n--- stderr:\n{stderr}"),
        }
    }
    assert!(
        stderr.contains("CPU halted with interrupts disabled"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "exit status; stderr:\n{stderr}");
}
