//! Shared helpers for tests that boot the Debian guests built by
//! `../shared/guests/build.sh` (into `target/guests`, built when missing).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

static BUILD: Mutex<()> = Mutex::new(());

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `(vmlinuz, initrd.gz)` of the guest for `arch` ("i386" or "amd64").
pub fn guest(arch: &str) -> (PathBuf, PathBuf) {
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let out = workspace().join("target/guests");
    let dir = out.join(arch);
    let (k, i) = (dir.join("vmlinuz"), dir.join("initrd.gz"));
    if !k.exists() || !i.exists() {
        let script = workspace().join("../shared/guests/build.sh");
        assert!(
            script.exists(),
            "{} is missing: the shared folder must sit beside the repository",
            script.display()
        );
        let st = Command::new("bash")
            .arg(&script)
            .env("OUT", &out)
            .status()
            .expect("run build.sh");
        assert!(st.success(), "building the guests failed");
    }
    (k, i)
}

/// The kernel command line the tests use (no APIC, ACPI or PCI exist).
pub const APPEND: &str = "console=ttyS0 panic=-1 noapic nolapic acpi=off";

/// The workload result every emulator gets (../shared/guests/README.md).
pub const WORK_RESULT: &str =
    "WORK-RESULT 00acf9e88afd045521e584695d56b344aa524005f26537b50dcfdff30371728b";
