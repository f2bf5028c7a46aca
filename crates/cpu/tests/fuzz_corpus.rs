//! Replays every seed and finding in `fuzz/corpus/cpu_*` through the same
//! harness the cargo-fuzz targets call, on the stable toolchain.

use crate::corpus::{self, corpus};
use anyx86_cpu::fuzzing::{
    conform_vectors, run_cpu, run_cpu_digest, Mode, Outcome, BUDGET, OVERSHOOT,
};
use anyx86_cpu::RunExit;

/// Replays a corpus forwards and then backwards: each input ends within
/// its budget, and both runs of it agree on everything (exit, counts, a
/// digest of the registers and all of RAM), so the CPU and bus reused
/// between inputs carry nothing from one run into the next.
fn replay(target: &str, mode: Mode) {
    let files = corpus(target);
    let first: Vec<Outcome> = files.iter().map(|(_, d)| run_cpu_digest(mode, d)).collect();
    for ((path, data), out) in files.iter().zip(&first).rev() {
        assert!(out.work <= BUDGET + OVERSHOOT, "{}", path.display());
        assert_eq!(
            run_cpu_digest(mode, data),
            *out,
            "{} differs between two runs",
            path.display()
        );
    }
}

#[test]
fn cpu_real_corpus_replays() {
    replay("cpu_real", Mode::Real);
}

#[test]
fn cpu_pm16_corpus_replays() {
    replay("cpu_pm16", Mode::Pm16);
}

#[test]
fn cpu_pm32_corpus_replays() {
    replay("cpu_pm32", Mode::Pm32);
}

#[test]
fn cpu_long_corpus_replays() {
    replay("cpu_long", Mode::Long);
}

#[test]
fn cpu_compat_corpus_replays() {
    replay("cpu_compat", Mode::Compat);
}

/// A run that dirties RAM (REP STOSB over 64 KiB) and sets registers,
/// then a run of two instructions: the second must see a machine as
/// fresh as the first run saw, so its digest equals that of a run on
/// its own (before the CPU was reused, this held trivially; with the
/// reuse, a missing reset of RAM or state fails here).
#[test]
fn a_run_leaves_nothing_for_the_next() {
    let quiet = {
        let mut d = vec![0u8; 33];
        d.extend_from_slice(&[0x90]);
        d
    };
    let alone = run_cpu_digest(Mode::Real, &quiet);
    let mut noisy = vec![0u8; 33];
    // mov ax,0x5a5a; mov cx,0xf000; mov di,0x2000; rep stosw
    noisy.extend_from_slice(&[
        0xB8, 0x5A, 0x5A, 0xB9, 0x00, 0xF0, 0xBF, 0x00, 0x20, 0xF3, 0xAB,
    ]);
    let _ = run_cpu_digest(Mode::Long, &noisy);
    let _ = run_cpu_digest(Mode::Real, &noisy);
    assert_eq!(run_cpu_digest(Mode::Real, &quiet), alone);
}

/// In 64-bit mode #UD goes through an IST gate: the handler's HLT runs
/// on the IST stack, where the CPU pushed SS, RSP, RFLAGS, CS and RIP.
#[test]
fn long_mode_ud_switches_to_the_ist_stack() {
    use anyx86_cpu::fuzzing::{HANDLER, IST_STACK, STACK};
    let mut d = vec![0u8; 33];
    d.extend_from_slice(&[0x0F, 0x0B]); // ud2
    let out = run_cpu(Mode::Long, &d);
    assert_eq!(out.exit, RunExit::Halted);
    assert_eq!(out.rip, HANDLER + 1, "halted in the handler");
    assert_eq!(out.rsp, IST_STACK - 5 * 8, "five slots pushed on IST 1");
    // INT3 (#BP, no IST) stays on the current stack.
    let mut d = vec![0u8; 33];
    d.push(0xCC);
    let out = run_cpu(Mode::Long, &d);
    assert_eq!((out.rip, out.rsp), (HANDLER + 1, u64::from(STACK) - 5 * 8));
}

/// Each mode runs its code with the operand size of its code segment:
/// B8 is MOV eAX,imm16 in real and 16-bit protected mode (3 bytes), and
/// MOV EAX,imm32 in 32-bit, compatibility and 64-bit mode (5 bytes); the
/// HLT after it then retires as the second instruction either way.
#[test]
fn each_mode_decodes_with_its_operand_size() {
    for (mode, code) in [
        (Mode::Real, &[0xB8, 1, 0][..]),
        (Mode::Pm16, &[0xB8, 1, 0][..]),
        (Mode::Pm32, &[0xB8, 1, 0, 0, 0][..]),
        (Mode::Long, &[0xB8, 1, 0, 0, 0][..]),
        (Mode::Compat, &[0xB8, 1, 0, 0, 0][..]),
    ] {
        let mut d = vec![0u8; 33];
        d.extend_from_slice(code);
        let out = run_cpu(mode, &d);
        assert_eq!(out.exit, RunExit::Halted, "{mode:?}");
        assert_eq!(out.retired, 2, "{mode:?}");
        assert_eq!(out.rip, 0x1000 + code.len() as u64 + 1, "{mode:?}");
    }
}

/// A seed that adds two registers and halts ends at the HLT after the
/// code, with two instructions retired: the ADD and the HLT.
#[test]
fn harness_runs_code_from_the_input() {
    let mut data = vec![0u8; 33];
    data[0] = 5; // EAX
    data[4] = 7; // ECX
    data.extend_from_slice(&[0x66, 0x01, 0xC8]); // add eax, ecx (real mode)
    let out = run_cpu(Mode::Real, &data);
    assert_eq!(out.exit, anyx86_cpu::RunExit::Halted);
    assert_eq!(out.retired, 2);
}

#[test]
fn conform_vectors_corpus_replays() {
    corpus::replays_alike("conform_vectors", conform_vectors);
}

/// The hand-made vector files parse and their tests pass (INC AX, and
/// INT3 taking its exception), in both forms; a file that claims four
/// billion tests parses as the one chunk it has, without reserving
/// room for them.
#[test]
fn conform_vector_seeds_parse_and_pass() {
    let seed = |n: &str| corpus::seed("conform_vectors", n);
    assert_eq!(conform_vectors(&seed("moo-inc")), Ok((1, 1)));
    assert_eq!(conform_vectors(&seed("json-inc")), Ok((1, 1)));
    assert_eq!(conform_vectors(&seed("moo-count-lies")), Ok((0, 0)));
    assert!(conform_vectors(&seed("json-deep")).is_err());
}

/// Bits 5 and 6 of the flags byte set DF and OF (before, the byte was
/// masked with EFLAGS bit positions, so they could never be set): the
/// code halts at the first HLT unless the flag is set and jumps it.
#[test]
fn the_flags_byte_reaches_df_and_of() {
    // pushf; pop ax; test ax,0x400; jnz +1; hlt; nop (then the HLT after)
    let df = [0x9C, 0x58, 0xA9, 0x00, 0x04, 0x75, 0x01, 0xF4, 0x90];
    // jo +1; hlt; nop
    let of = [0x70, 0x01, 0xF4, 0x90];
    for (code, bit) in [(&df[..], 0x20u8), (&of[..], 0x40)] {
        for set in [false, true] {
            let mut d = vec![0u8; 33];
            d[32] = if set { bit } else { 0 };
            d.extend_from_slice(code);
            let out = run_cpu(Mode::Real, &d);
            let end = 0x1000 + code.len() as u64 + 1;
            let at_first_hlt = 0x1000 + code.len() as u64 - 1;
            assert_eq!(
                out.rip,
                if set { end } else { at_first_hlt },
                "bit {bit:#x} set {set}"
            );
        }
    }
}
