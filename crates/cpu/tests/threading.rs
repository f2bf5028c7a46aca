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

use anyx86_cpu::fuzzing::{
    run_cpu_digest, run_cpu_digest_stepped, run_cpu_digest_unthreaded, Mode, Rng,
};
use anyx86_cpu::RunExit;
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
    let mut data = state(r);
    let n = 10 + r.below(50);
    for _ in 0..n {
        instruction(r, &mut data);
    }
    data
}

/// The registers and flags of a harness input (see [`stream`]).
fn state(r: &mut Rng) -> Vec<u8> {
    let mut data = Vec::with_capacity(33 + 300);
    for reg in 0..8 {
        let v = if reg == 4 {
            0 // ESP: the harness's stack
        } else {
            (r.below(0x8_0000) as u32) & !1
        };
        data.extend(v.to_le_bytes());
    }
    data.push(r.byte());
    data
}

/// A harness input whose code is blocks run in a shuffled order, each
/// ending in a direct JMP or CALL to the next one to run (rel8 when the
/// target is in reach, rel16 or rel32 as the mode's operand size
/// otherwise), the last in HLT: forward and backward transfers within
/// one page, which traces go through. A block entered by a CALL first
/// pops the return address into a register, so the pushed value reaches
/// the digest and the stack stays where it was.
fn jumping_stream(r: &mut Rng, mode: Mode) -> Vec<u8> {
    let rel = match mode {
        Mode::Real | Mode::Pm16 => 2,
        _ => 4,
    };
    let n = 2 + r.below(7) as usize;
    // The order the blocks run in: block 0 first.
    let mut order: Vec<usize> = (0..n).collect();
    for i in (2..n).rev() {
        order.swap(i, 1 + r.below(i as u64) as usize);
    }
    let calls: Vec<bool> = (0..n).map(|_| r.below(2) == 0).collect();
    let mut blocks = vec![Vec::new(); n];
    for (k, &b) in order.iter().enumerate() {
        let body = &mut blocks[b];
        if k > 0 && calls[k - 1] {
            let reg = [0u8, 1, 2, 3, 5, 6, 7][r.below(7) as usize];
            body.push(0x58 | reg);
        }
        for _ in 0..r.below(6) {
            instruction(r, body);
        }
        // A Jcc at the end of the body may skip up to three bytes.
        body.extend([0x90; 3]);
    }
    // Each block ends in room for its transfer: opcode and offset.
    let mut at = Vec::with_capacity(n);
    let mut pos = 0;
    for b in &blocks {
        at.push(pos);
        pos += b.len() + 1 + rel;
    }
    for (k, &b) in order.iter().enumerate() {
        let here = at[b] + blocks[b].len();
        let Some(&next) = order.get(k + 1) else {
            blocks[b].extend(vec![0xF4; 1 + rel]);
            continue;
        };
        let d = at[next] as i64 - here as i64;
        let short = d - 2;
        if !calls[k] && (-128..128).contains(&short) && r.below(2) == 0 {
            blocks[b].extend([0xEB, short as i8 as u8]);
            blocks[b].extend(vec![0x90; rel - 1]);
        } else {
            let off = d - 1 - rel as i64;
            blocks[b].push(if calls[k] { 0xE8 } else { 0xE9 });
            blocks[b].extend(&off.to_le_bytes()[..rel]);
        }
    }
    let mut data = state(r);
    blocks.iter().for_each(|b| data.extend(b));
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

/// Traces that go through direct JMPs and CALLs (forward and backward,
/// within a page) against one instruction at a time, where every
/// transfer is the whole instruction: the same registers, flags, RAM
/// (the pushed return addresses), RIP and counts, in every mode.
#[test]
fn traces_through_direct_jumps_agree_with_single_steps() {
    for (seed, mode) in [
        (11, Mode::Real),
        (12, Mode::Pm16),
        (13, Mode::Pm32),
        (14, Mode::Long),
        (15, Mode::Compat),
    ] {
        let mut r = Rng(seed);
        let mut ended = 0;
        for i in 0..STREAMS {
            let data = jumping_stream(&mut r, mode);
            let stepped = run_cpu_digest_stepped(mode, &data);
            // Compared when it ends by itself (a HLT, or a fault's
            // handler), so both runs stop at the same instruction; code
            // that rewrote itself into a loop ends at the budget instead.
            if stepped.exit != RunExit::Budget {
                ended += 1;
                let threaded = run_cpu_digest(mode, &data);
                assert_eq!(
                    threaded, stepped,
                    "{mode:?} stream {i}: threaded vs stepped (input {data:02x?})"
                );
            }
            compare(mode, &format!("jumping stream {i}"), &data);
        }
        assert!(ended > STREAMS * 9 / 10, "{mode:?}: {ended} streams ended");
    }
}
