//! Shared helpers for tests that boot the Debian guests built by
//! `../shared/guests/build.sh` (into `target/guests`, built when missing),
//! and [`build_shared`], which builds them and the other `../shared`
//! artefacts (the boot media, the bench ROM).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

static BUILD: Mutex<()> = Mutex::new(());

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the shared build script `../shared/{script}` with `args` and
/// OUT = `target/{out}` unless every one of `wanted` exists; one build at a
/// time within a test binary.
pub fn build_shared(script: &str, args: &[&str], out: &str, wanted: &[impl AsRef<Path>]) {
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if wanted.iter().all(|p| p.as_ref().exists()) {
        return;
    }
    let script = workspace().join("../shared").join(script);
    assert!(
        script.exists(),
        "{} is missing: the shared folder must sit beside the repository",
        script.display()
    );
    let st = Command::new("bash")
        .arg(&script)
        .args(args)
        .env("OUT", workspace().join("target").join(out))
        .status()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    assert!(st.success(), "{} failed", script.display());
}

/// `(vmlinuz, initrd.gz)` of the guest for `arch` ("i386" or "amd64").
pub fn guest(arch: &str) -> (PathBuf, PathBuf) {
    let dir = workspace().join("target/guests").join(arch);
    let (k, i) = (dir.join("vmlinuz"), dir.join("initrd.gz"));
    build_shared("guests/build.sh", &[], "guests", &[&k, &i]);
    (k, i)
}

/// `anyx86 run` booting `kernel` with `initrd` and the command line
/// `append`, on 256 MiB with COM1 on stdout, the virtual clock, and a
/// reset ending the run; the caller adds the rest.
pub fn boot_command(kernel: &Path, initrd: &Path, append: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_anyx86"));
    c.arg("run")
        .arg("--kernel")
        .arg(kernel)
        .arg("--initrd")
        .arg(initrd)
        .args(["--append", append, "-m", "256", "--serial", "stdio"])
        .args(["--no-reboot", "--clock", "virtual"]);
    c
}

/// The kernel command line the tests use (no APIC, ACPI or PCI exist).
pub const APPEND: &str = "console=ttyS0 panic=-1 noapic nolapic acpi=off";

/// The workload result every emulator gets (../shared/guests/README.md).
pub const WORK_RESULT: &str =
    "WORK-RESULT 00acf9e88afd045521e584695d56b344aa524005f26537b50dcfdff30371728b";

/// Panics unless `stdout`, a run's console output, shows the guest's run
/// in order: the kernel's banner, GUEST-READY, each of `between`, the
/// [`WORK_RESULT`] and GUEST-DONE; the message shows the console and the
/// run's `stderr`.
pub fn assert_guest_ran(stdout: &str, stderr: &str, between: &[&str]) {
    let mut wanted = vec!["Linux version 6.1", "GUEST-READY"];
    wanted.extend(between);
    wanted.extend([WORK_RESULT, "GUEST-DONE"]);
    let mut at = 0;
    for want in wanted {
        match stdout[at..].find(want) {
            Some(i) => at += i + want.len(),
            None => panic!(
                "{want:?} missing (or out of order) in the console output:\n{stdout}\n--- stderr:\n{stderr}"
            ),
        }
    }
}

/// The directory of the shared boot media (`cd.iso`, `disk.img`, ...),
/// built by `../shared/guests/images.sh` into `target/guests/images` when
/// missing.
pub fn media() -> PathBuf {
    guest("i386");
    let dir = workspace().join("target/guests/images");
    let wanted = [
        "cd.iso",
        "cd-amd64.iso",
        "disk.img",
        "disk-amd64.img",
        "MANIFEST",
    ]
    .map(|f| dir.join(f));
    build_shared("guests/images.sh", &[], "guests", &wanted);
    dir
}

/// The `MEDIA-CHECK` digest: sha256 of data.bin, from the media MANIFEST.
pub fn media_data_sha(dir: &Path) -> String {
    let manifest = std::fs::read_to_string(dir.join("MANIFEST")).expect("media MANIFEST");
    manifest
        .lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            match (w.next(), w.next()) {
                (Some(a), Some(b)) if b == "data.bin" && a.len() == 64 => Some(a.to_string()),
                (Some("data.bin"), Some(b)) if b.len() == 64 => Some(b.to_string()),
                _ => None,
            }
        })
        .expect("data.bin in the media MANIFEST")
}
