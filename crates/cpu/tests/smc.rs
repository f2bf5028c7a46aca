//! Self-modifying code (issue #20): a store into decoded bytes is seen by
//! the next execution of them (SDM Vol. 3, 11.6), and a store beside code
//! on the same page leaves the decoded code alone (it used to drop and
//! rebuild every trace of the page on each store: 1-2 MIPS).

use crate::common::long64::{Exit, CODE, M};
use anyx86_cpu::arch::reg;
use anyx86_cpu::cpuid::CpuModel;
use anyx86_cpu::RunExit;

fn long() -> M {
    M::long_with(CpuModel::qemu64())
}

#[test]
fn a_loop_storing_beside_its_code_keeps_its_traces() {
    let mut m = long();
    // mov ecx,1000 / l: inc dword [rip+0xF5] (0x1100) / dec ecx / jnz l
    // (the trace goes on decoding past the HLT after the loop, into the
    // zero bytes there: 0x1100 is beyond what it decodes)
    let code = [
        0xB9, 0xE8, 0x03, 0x00, 0x00, //
        0xFF, 0x05, 0xF5, 0x00, 0x00, 0x00, //
        0xFF, 0xC9, //
        0x75, 0xF6,
    ];
    assert_eq!(m.run(&code), Exit::Done);
    assert_eq!(m.peek_le(CODE + 0x100, 4), 1000, "every store landed");
    let built = m.cpu.s.stats.traces_built;
    assert!(built < 10, "{built} traces built for a 1000-iteration loop");
}

#[test]
fn a_loop_rewriting_its_own_immediate_sees_each_new_value() {
    let mut m = long();
    // mov ecx,100 / xor eax,eax / l: add eax,0x101 (imm at 0x1008)
    // inc dword [rip-10] (the immediate) / dec ecx / jnz l
    let code = [
        0xB9, 0x64, 0x00, 0x00, 0x00, //
        0x31, 0xC0, //
        0x05, 0x01, 0x01, 0x00, 0x00, //
        0xFF, 0x05, 0xF6, 0xFF, 0xFF, 0xFF, //
        0xFF, 0xC9, //
        0x75, 0xF1,
    ];
    assert_eq!(m.run(&code), Exit::Done);
    // Sum of 0x101 + k for k = 0..99.
    assert_eq!(m.cpu.s.gpr[reg::AX], 100 * 0x101 + 4950);
    assert_eq!(m.peek_le(CODE + 8, 4), 0x101 + 100);
}

#[test]
fn a_store_into_the_second_page_of_a_straddling_jump_retargets_it() {
    let mut m = long();
    // 1FFD: jmp 0x2100 (E9 FE 00 00 00): its displacement's third byte is
    // at 0x2000, the first byte of the next page.
    m.poke(0x1FFD, &[0xE9, 0xFE, 0x00, 0x00, 0x00]);
    // 2100: inc eax / mov byte [rip-0x109], 1 (0x2000: the jump now goes
    // to 0x12100) / jmp 0x1FFD
    m.poke(
        0x2100,
        &[
            0xFF, 0xC0, //
            0xC6, 0x05, 0xF7, 0xFE, 0xFF, 0xFF, 0x01, //
            0xE9, 0xEF, 0xFE, 0xFF, 0xFF,
        ],
    );
    // 12100: add eax,100 / hlt
    m.poke(0x12100, &[0x05, 0x64, 0x00, 0x00, 0x00, 0xF4]);
    m.cpu.flush_code_cache();
    m.cpu.s.rip = 0x1FFD;
    assert_eq!(m.cpu.run(&mut m.bus, 100_000), RunExit::Halted);
    assert_eq!(m.cpu.s.rip, 0x12106);
    assert_eq!(m.cpu.s.gpr[reg::AX], 101, "the old target ran once");
}

#[test]
fn a_call_whose_push_rewrites_its_target_runs_the_new_bytes() {
    let mut m = long();
    // 2000: call 2005 (the return address is 2005 too)
    // 2005: mov eax,1 / nop / nop / 200C: add al,al / hlt
    // With RSP = 200D the push stores 05 20 00 00 00 00 00 00 at 2005:
    // 2005: add eax,0x20 / add [rax],al / 200C: add al,al / hlt
    m.poke(
        0x2000,
        &[
            0xE8, 0x00, 0x00, 0x00, 0x00, //
            0xB8, 0x01, 0x00, 0x00, 0x00, //
            0x90, 0x90, 0x00, 0xC0, 0xF4,
        ],
    );
    m.cpu.flush_code_cache();
    let run = |m: &mut M, rsp: u64| {
        m.cpu.s.rip = 0x2000;
        m.cpu.s.halted = false;
        m.cpu.s.gpr[reg::AX] = 0;
        m.cpu.s.gpr[reg::SP] = rsp;
        assert_eq!(m.cpu.run(&mut m.bus, 1000), RunExit::Halted);
        assert_eq!(m.cpu.s.rip, 0x200F);
        m.cpu.s.gpr[reg::AX]
    };
    // First with the stack elsewhere: the CALL's trace and the target's
    // are decoded and linked.
    assert_eq!(run(&mut m, 0x7000), 2);
    // Then the push lands on the target's decoded bytes: the CALL leaves
    // for them only after the written code is dropped.
    assert_eq!(run(&mut m, 0x200D), 0x40, "the target's old bytes ran");
    assert_eq!(m.peek_le(0x2005, 8), 0x2005);
}
