//! Test code from its assembly source: `asm64("mov rax, 1\n add rax, rbx")`
//! assembles the lines with nasm (`-f bin`, warnings as errors) and returns
//! the bytes, so a test's source and the bytes it runs cannot drift apart.
//! nasm is one of the packages `scripts/test.sh` installs.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Assembles `src` (one instruction or directive a line) as `bits` code.
/// Panics, naming the source, when nasm is missing or rejects it.
pub fn asm(bits: u32, src: &str) -> Vec<u8> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let stem = format!(
        "anyx86-asm-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let dir = std::env::temp_dir();
    let (input, output): (PathBuf, PathBuf) = (
        dir.join(format!("{stem}.asm")),
        dir.join(format!("{stem}.bin")),
    );
    std::fs::write(&input, format!("bits {bits}\n{src}\n")).expect("write the nasm source");
    let run = Command::new("nasm")
        .args(["-Werror", "-f", "bin", "-o"])
        .arg(&output)
        .arg(&input)
        .output();
    let _ = std::fs::remove_file(&input);
    let run = run.unwrap_or_else(|e| {
        panic!("cannot run nasm ({e}): install it (scripts/test.sh does) to run the CPU tests")
    });
    let bytes = std::fs::read(&output);
    let _ = std::fs::remove_file(&output);
    assert!(
        run.status.success(),
        "nasm rejected:\n{src}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    bytes.expect("read nasm's output")
}

/// 64-bit code.
pub fn asm64(src: &str) -> Vec<u8> {
    asm(64, src)
}

/// 32-bit code.
pub fn asm32(src: &str) -> Vec<u8> {
    asm(32, src)
}

/// 16-bit code.
pub fn asm16(src: &str) -> Vec<u8> {
    asm(16, src)
}
