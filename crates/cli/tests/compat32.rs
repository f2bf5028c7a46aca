//! 32-bit programs under the 64-bit kernel (issue #18): the amd64 guest
//! with its busybox replaced by the i386 one. Every program of the guest's
//! /init (the shell, awk, seq, sort, sha256sum, gzip) is then a 32-bit
//! process in compatibility mode, taking its system calls, page faults and
//! timer interrupts through the 64-bit kernel's IDT. The workload must give
//! the same WORK-RESULT as everywhere else.
//!
//! The test initramfs is the amd64 one with a second archive appended that
//! holds the i386 `bin/busybox`: the kernel unpacks concatenated archives
//! in order, so the later file replaces the first.

use crate::guest;

use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `sh -c script`, returning its standard output.
fn sh(script: &str) -> Vec<u8> {
    let out = Command::new("sh")
        .args(["-c", script])
        .stderr(Stdio::inherit())
        .output()
        .expect("sh runs");
    assert!(out.status.success(), "{script}: {:?}", out.status);
    out.stdout
}

/// The amd64 initramfs with the i386 busybox in place of its own.
fn initrd_with_i386_busybox(dir: &Path) -> std::path::PathBuf {
    let (_, i386_initrd) = guest::guest("i386");
    let (_, amd64_initrd) = guest::guest("amd64");
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("bin")).expect("mkdir");
    let busybox = sh(&format!(
        "zcat '{}' | cpio -i --quiet --to-stdout bin/busybox",
        i386_initrd.display()
    ));
    // A 32-bit x86 ELF executable: ELFCLASS32, EM_386.
    assert_eq!(&busybox[..5], b"\x7fELF\x01", "the i386 busybox is ELF32");
    assert_eq!(u16::from_le_bytes([busybox[18], busybox[19]]), 3, "EM_386");
    let bin = root.join("bin/busybox");
    std::fs::write(&bin, &busybox).expect("write busybox");
    let out = dir.join("initrd-compat32.gz");
    std::fs::copy(&amd64_initrd, &out).expect("copy the amd64 initrd");
    sh(&format!(
        "cd '{}' && chmod 755 bin/busybox && echo bin/busybox \
         | cpio -o -H newc --owner=0:0 --quiet | gzip -9 >> '{}'",
        root.display(),
        out.display()
    ));
    out
}

#[test]
fn the_amd64_guest_runs_its_workload_with_a_32_bit_busybox() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("compat32");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let initrd = initrd_with_i386_busybox(&dir);
    let (kernel, _) = guest::guest("amd64");
    let out = guest::boot_command(&kernel, &initrd, "console=ttyS0,115200 panic=-1 work=1")
        .args(["--timeout", "900"])
        .output()
        .expect("run anyx86");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The 32-bit shell runs /init on the 64-bit kernel, and its 32-bit
    // tools compute what they do everywhere.
    guest::assert_guest_ran(&stdout, &stderr, &["x86_64 GNU/Linux"]);
    assert_eq!(out.status.code(), Some(0), "exit status; stderr:\n{stderr}");
}
