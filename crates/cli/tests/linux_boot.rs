//! Boots Debian's stock i386 (686 flavour) and amd64 kernels with the
//! shared busybox initramfs and checks, in order: the kernel banner,
//! GUEST-READY, the expected WORK-RESULT, GUEST-DONE, and exit status 0
//! after `poweroff -f` (a halt with interrupts off ends the run). The
//! amd64 kernel runs in long mode on the `qemu64` CPU, which `--cpu auto`
//! picks for a 64-bit bzImage.
//!
//! Run in release mode (`cargo test --release`): each boot is 7 to 8
//! billion instructions.

#[allow(dead_code)]
mod guest;

use std::process::Command;

#[test]
fn debian_i386_boots_runs_the_workload_and_powers_off() {
    let stdout = boot("i386", "Linux version 6.1");
    // The i8042 probe found the auxiliary port: its loopback interrupt
    // (IRQ12, through the slave PIC) arrived within the kernel's 250 ms.
    assert!(stdout.contains("serio: i8042 AUX port"), "{stdout}");
}

#[test]
fn debian_amd64_boots_in_long_mode_runs_the_workload_and_powers_off() {
    let stdout = boot("amd64", "Linux version 6.1");
    // The 64-bit kernel ran on a long-mode CPU with SSE2 (busybox and
    // its libc use SSE2), and no MSR access went unanswered.
    assert!(
        stdout.contains("x86/fpu: x87 FPU will use FXSAVE"),
        "{stdout}"
    );
    assert!(!stdout.contains("unchecked MSR access"), "{stdout}");
}

/// Boots the shared guest for `arch`; returns its console output.
fn boot(arch: &str, banner: &str) -> String {
    let (kernel, initrd) = guest::guest(arch);
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
    for want in [banner, "GUEST-READY", guest::WORK_RESULT, "GUEST-DONE"] {
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
    stdout.into_owned()
}
