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

/// The directory of the shared boot media (`cd.iso`, `disk.img`, ...),
/// built by `../shared/guests/images.sh` into `target/guests/images` when
/// missing.
pub fn media() -> PathBuf {
    guest("i386");
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let out = workspace().join("target/guests");
    let dir = out.join("images");
    let wanted = [
        "cd.iso",
        "cd-amd64.iso",
        "disk.img",
        "disk-amd64.img",
        "MANIFEST",
    ];
    if !wanted.iter().all(|f| dir.join(f).exists()) {
        let script = workspace().join("../shared/guests/images.sh");
        let st = Command::new("bash")
            .arg(&script)
            .env("OUT", &out)
            .status()
            .expect("run images.sh");
        assert!(st.success(), "building the boot media failed");
    }
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
