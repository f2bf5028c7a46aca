//! The execute loop on small real-mode programs built here: instructions
//! per second of the interpreter with a warm trace cache and TLB.
//!
//! `cargo bench -p anyx86-benches`. Guest-level figures (MIPS on the
//! shared bench ROM, Linux boot times) come from `anyx86 run --stats` and
//! `../shared/bench/run-anchors.sh`.

use anyx86_machine::{Machine, MachineConfig};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::path::PathBuf;

/// A 64 KiB ROM whose reset vector jumps to `code` at F000:0000.
fn rom_with(code: &[u8]) -> PathBuf {
    let mut rom = vec![0xF4u8; 64 << 10];
    rom[..code.len()].copy_from_slice(code);
    let reset = rom.len() - 16;
    rom[reset..reset + 5].copy_from_slice(&[0xEA, 0x00, 0x00, 0x00, 0xF0]); // jmp F000:0000
    let dir = std::env::temp_dir().join(format!("anyx86-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("rom-{}.bin", code.len()));
    std::fs::write(&path, rom).expect("write ROM");
    path
}

fn machine(code: &[u8]) -> Machine {
    let mut cfg = MachineConfig::new(16);
    cfg.bios = Some(rom_with(code));
    Machine::new(cfg).expect("machine")
}

const STEPS: u64 = 1_000_000;

fn bench(c: &mut Criterion, name: &str, code: &[u8]) {
    let mut m = machine(code);
    // Warm the trace cache and the TLB; the program loops forever, so the
    // run must end on the instruction limit.
    let out = m.run(Some(STEPS));
    assert_eq!(
        out,
        anyx86_machine::RunOutcome::InstructionLimit,
        "{name}: the loop stopped"
    );
    let mut g = c.benchmark_group("execute");
    g.throughput(Throughput::Elements(STEPS));
    g.bench_function(name, |b| {
        b.iter(|| {
            let n = m.instructions();
            m.run(Some(n + STEPS))
        })
    });
    g.finish();
}

fn alu_loop(c: &mut Criterion) {
    // top: add ax, bx / xor dx, ax / inc bx / shl si, 1 / dec cx / jnz top / jmp top
    let code = [
        0x01, 0xD8, 0x31, 0xC2, 0x43, 0xD1, 0xE6, 0x49, 0x75, 0xF6, 0xEB, 0xF4,
    ];
    bench(c, "real-mode ALU loop", &code);
}

fn memory_loop(c: &mut Criterion) {
    // xor ax, ax / mov ds, ax / top: mov [bx], ax / add ax, [bx+2] /
    // add bx, 4 / and bx, 0x3ffc / jmp top
    let code = [
        0x31, 0xC0, 0x8E, 0xD8, 0x89, 0x07, 0x03, 0x47, 0x02, 0x83, 0xC3, 0x04, 0x81, 0xE3, 0xFC,
        0x3F, 0xEB, 0xF2,
    ];
    bench(c, "real-mode load/store loop", &code);
}

// criterion_group! generates an undocumented public function.
#[allow(missing_docs)]
mod group {
    use super::*;
    criterion_group!(benches, alu_loop, memory_loop);
}
use group::benches;
criterion_main!(benches);
