//! Threaded dispatch against one record at a time (issue #21), on random
//! instruction streams in every CPU mode: each stream runs through the
//! fuzzing harness twice, threaded as usual and with `Cpu::unthreaded`
//! (every record returns to the run loop, which keeps RIP and the
//! instruction count exact), and the outcomes must agree: exit, counts,
//! RIP, RSP and a digest of the registers, flags, SSE state and all of
//! RAM. A threaded handler that reads the stale RIP or instruction count
//! inside a chain, or drops a branch target, shows here. The test ROMs
//! get the same comparison on the full machine
//! (`crates/machine/tests/threading.rs`).

use anyx86_cpu::fuzzing::{run_cpu_digest, run_cpu_digest_unthreaded, Mode, Rng};
use std::path::PathBuf;

/// Streams per mode.
const STREAMS: usize = 700;

/// A ModRM byte with a register operand (mod 3).
fn rr(r: &mut Rng) -> u8 {
    0xC0 | r.byte() & 0x3F
}

/// A ModRM byte with a memory operand through a register (mod 0, no SIB
/// or displacement forms: rm 4 and 5 are avoided). The flat bus wraps
/// any address into its RAM.
fn rm(r: &mut Rng) -> u8 {
    let base = [0u8, 1, 2, 3, 6, 7][r.below(6) as usize];
    (r.byte() & 0x38) | base
}

/// One instruction from the families the interpreter threads (ALU,
/// INC/DEC/NOT/NEG, shifts, MOV, LEA, PUSH/POP, Jcc over the next bytes,
/// CMP/TEST + Jcc pairs), with random registers and immediates. The
/// same bytes decode in every mode (operand sizes follow the mode).
fn instruction(r: &mut Rng, out: &mut Vec<u8>) {
    let alu = [0x01u8, 0x09, 0x11, 0x19, 0x21, 0x29, 0x31, 0x39, 0x85, 0x89];
    match r.below(14) {
        0 => out.extend([alu[r.below(10) as usize], rr(r)]),
        1 => out.extend([alu[r.below(10) as usize] + 2, rm(r)]),
        2 => out.extend([alu[r.below(10) as usize], rm(r)]),
        // INC, DEC (FF /0, /1), NOT, NEG (F7 /2, /3), register or memory.
        3 => out.extend([0xFF, 0xC0 | (r.byte() & 0x0F)]),
        4 => out.extend([0xF7, 0xD0 | (r.byte() & 0x0F)]),
        5 => out.extend([0xFF, rm(r) & 0xCF]),
        // Shifts and rotates by 1 and by an immediate.
        6 => out.extend([0xD1, rr(r)]),
        7 => out.extend([0xC1, rr(r), r.byte() & 0x3F]),
        // MOV r, imm8 (B0+r) and ALU r/m, imm8 (83 /n).
        8 => out.extend([0xB0 | (r.byte() & 7), r.byte()]),
        9 => out.extend([0x83, rr(r), r.byte()]),
        // LEA r, [r + r*s + disp8].
        10 => out.extend([0x8D, 0x44 | (r.byte() & 0x38), r.byte(), r.byte()]),
        // PUSH r / POP r: balanced, so the stack stays where it was.
        11 => {
            let reg = [0u8, 1, 2, 3, 5, 6, 7][r.below(7) as usize];
            out.extend([0x50 | reg, 0x58 | ((reg + 1) & 7)]);
        }
        // Jcc over 0-3 following bytes (a side exit inside the trace).
        12 => out.extend([0x70 | (r.byte() & 0x0F), r.below(4) as u8]),
        // CMP r, r + Jcc (a fused pair), jumping over the next 2 bytes.
        _ => out.extend([0x39, rr(r), 0x70 | (r.byte() & 0x0F), 2]),
    }
}

/// A harness input: registers (kept small and even, so memory operands
/// stay in the low RAM and stacks are aligned), flags, then code.
fn stream(r: &mut Rng) -> Vec<u8> {
    let mut data = Vec::with_capacity(33 + 200);
    for reg in 0..8 {
        let v = if reg == 4 {
            0 // ESP: the harness's stack
        } else {
            (r.below(0x8_0000) as u32) & !1
        };
        data.extend(v.to_le_bytes());
    }
    data.push(r.byte());
    let n = 10 + r.below(50);
    for _ in 0..n {
        instruction(r, &mut data);
    }
    data
}

fn compare(mode: Mode, what: &str, data: &[u8]) {
    let threaded = run_cpu_digest(mode, data);
    let alone = run_cpu_digest_unthreaded(mode, data);
    assert_eq!(
        threaded, alone,
        "{mode:?} {what}: threaded vs one record at a time (input {data:02x?})"
    );
}

fn random_streams(mode: Mode, seed: u64) {
    let mut r = Rng(seed);
    for i in 0..STREAMS {
        compare(mode, &format!("stream {i}"), &stream(&mut r));
    }
}

/// Every committed corpus input of the mode, as the fuzzer keeps them.
fn corpus(target: &str, mode: Mode) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    for e in std::fs::read_dir(&dir).expect("corpus") {
        let p = e.expect("entry").path();
        compare(
            mode,
            &p.display().to_string(),
            &std::fs::read(&p).expect("read"),
        );
    }
}

#[test]
fn real_mode_streams_agree_threaded_and_alone() {
    random_streams(Mode::Real, 1);
    corpus("cpu_real", Mode::Real);
}

#[test]
fn pm16_streams_agree_threaded_and_alone() {
    random_streams(Mode::Pm16, 2);
    corpus("cpu_pm16", Mode::Pm16);
}

#[test]
fn pm32_streams_agree_threaded_and_alone() {
    random_streams(Mode::Pm32, 3);
    corpus("cpu_pm32", Mode::Pm32);
}

#[test]
fn long_mode_streams_agree_threaded_and_alone() {
    random_streams(Mode::Long, 4);
    corpus("cpu_long", Mode::Long);
}

#[test]
fn compat_mode_streams_agree_threaded_and_alone() {
    random_streams(Mode::Compat, 5);
    corpus("cpu_compat", Mode::Compat);
}
