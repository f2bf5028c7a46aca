//! Boots Debian's stock i386 (686 flavour) and amd64 kernels with the
//! shared busybox initramfs and checks, in order: the kernel banner,
//! GUEST-READY, the expected WORK-RESULT, GUEST-DONE, and exit status 0.
//! On the full PC (the default machine) the guest boots with QEMU's
//! command line and powers off through ACPI S5; with `noapic nolapic
//! acpi=off`, or on `--machine isa`, `poweroff -f` halts with interrupts
//! off, which ends the run. The amd64 kernel runs in long mode on the
//! `qemu64` CPU, which `--cpu auto` picks for a 64-bit bzImage.
//!
//! Run in release mode (`cargo test --release`): each boot is 7 to 8
//! billion instructions.

use crate::guest;

/// The kernel command line of the full PC: QEMU's, nothing switched off.
const PC_APPEND: &str = "console=ttyS0,115200 panic=-1 work=1";

#[test]
fn debian_i386_boots_on_the_full_pc_and_powers_off_through_acpi() {
    let (stdout, _) = boot("i386", PC_APPEND, &[], End::PowerOff);
    check_full_pc(&stdout);
}

#[test]
fn debian_amd64_boots_on_the_full_pc_and_powers_off_through_acpi() {
    let (stdout, _) = boot("amd64", PC_APPEND, &[], End::PowerOff);
    check_full_pc(&stdout);
    assert!(!stdout.contains("unchecked MSR access"), "{stdout}");
}

#[test]
fn debian_i386_boots_with_apic_and_acpi_off_and_halts() {
    let (stdout, _) = boot("i386", guest::APPEND, &[], End::Halt);
    // The i8042 probe found the auxiliary port: its loopback interrupt
    // (IRQ12, through the slave PIC) arrived within the kernel's 250 ms.
    assert!(stdout.contains("serio: i8042 AUX port"), "{stdout}");
    assert!(stdout.contains("ACPI no"), "{stdout}");
}

#[test]
fn debian_amd64_boots_in_long_mode_on_the_isa_machine() {
    let (stdout, _) = boot("amd64", guest::APPEND, &["--machine", "isa"], End::Halt);
    // The 64-bit kernel ran on a long-mode CPU with SSE2 (busybox and
    // its libc use SSE2), and no MSR access went unanswered.
    assert!(
        stdout.contains("x86/fpu: x87 FPU will use FXSAVE"),
        "{stdout}"
    );
    assert!(!stdout.contains("unchecked MSR access"), "{stdout}");
    assert!(stdout.contains("PCI none"), "{stdout}");
}

#[test]
fn reboot_on_the_full_pc_ends_the_run_under_no_reboot() {
    let append = format!("{PC_APPEND} halt=reboot");
    let (stdout, stderr) = boot("i386", &append, &[], End::Reset);
    assert!(stdout.contains("reboot: Restarting system"), "{stdout}");
    assert!(stderr.contains("guest requested a reset"), "{stderr}");
}

/// What the shared guest reports on the full PC: ACPI, a PCI bus, a
/// hardware clocksource, interrupts through the I/O APIC and the local
/// APIC timer.
fn check_full_pc(stdout: &str) {
    let line = |key: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no {key} line in:\n{stdout}"))
            .to_string()
    };
    assert_eq!(line("ACPI "), "ACPI yes");
    let pci: u32 = line("PCI ")
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("PCI <n> devices");
    assert!(pci >= 3, "{pci} PCI devices");
    let cs = line("CLOCKSOURCE ");
    assert!(cs == "CLOCKSOURCE tsc" || cs == "CLOCKSOURCE hpet", "{cs}");
    assert_eq!(line("IRQCHIPS "), "IRQCHIPS IO-APIC ");
    let irqs = line("INTERRUPTS ");
    assert!(
        irqs.contains(" 4:ttyS0:") || irqs.contains("INTERRUPTS 4:ttyS0:"),
        "{irqs}"
    );
    assert!(irqs.contains("LOC:interrupts:"), "{irqs}");
    assert!(stdout.contains("reboot: Power down"), "{stdout}");
    for bad in [
        "IO-APIC + timer doesn't work",
        "APIC error",
        "ACPI Error",
        "ACPI BIOS Error",
    ] {
        assert!(!stdout.contains(bad), "{bad:?} in:\n{stdout}");
    }
}

/// How the guest's run must end.
#[derive(PartialEq)]
enum End {
    /// `poweroff -f` through ACPI S5.
    PowerOff,
    /// `poweroff -f` without ACPI: a halt with interrupts off.
    Halt,
    /// `reboot -f` under `--no-reboot`.
    Reset,
}

/// Boots the shared guest for `arch`; returns its console output and
/// stderr.
fn boot(arch: &str, append: &str, extra: &[&str], end: End) -> (String, String) {
    let (kernel, initrd) = guest::guest(arch);
    let out = guest::boot_command(&kernel, &initrd, append)
        .arg("--stats")
        .args(extra)
        .output()
        .expect("run anyx86");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    guest::assert_guest_ran(&stdout, &stderr, &[]);
    assert_eq!(
        stderr.contains("CPU halted with interrupts disabled"),
        end == End::Halt,
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "exit status; stderr:\n{stderr}");
    (stdout.into_owned(), stderr.into_owned())
}
