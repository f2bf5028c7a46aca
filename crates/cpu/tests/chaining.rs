//! Trace chain links across CS loads (issue #19). A link holds under the
//! code context it was made in (CS base and limit, bitness, CPL, mode),
//! not only until the next CS load: links survive far transfers and
//! round trips between privilege levels, and the same RIP reached under
//! another CS base never follows a link made under the first.

use crate::common::asm::asm16;
use crate::common::long64::M;
use anyx86_cpu::arch::{reg, sreg, Segment};
use anyx86_cpu::cpuid::CpuModel;
use anyx86_cpu::RunExit;

/// Real mode, CS = 0, at `rip`.
fn real_mode_at(m: &mut M, rip: u64) {
    let s = &mut m.cpu.s;
    s.seg[sreg::CS] = Segment::real(0, s.seg[sreg::CS].attr);
    s.update_mode();
    s.rip = rip;
}

#[test]
fn one_rip_under_two_cs_bases_runs_each_segments_code_and_chains() {
    let mut m = M::new(CpuModel::qemu64());
    // 0100:0000 (linear 1000) counts in AX, 0200:0000 (linear 2000) in
    // BX; both go back to 0000:3000, which flips the far pointer at 4000
    // between the two segments and jumps through it. The trace at 3000
    // thus leaves for RIP 0 under two CS bases, alternately.
    m.poke(0x1000, &asm16("inc ax\njmp 0:0x3000"));
    m.poke(0x2000, &asm16("inc bx\njmp 0:0x3000"));
    let dispatch = "org 0x3000\n dec cx\n jz done\n xor word [0x4002], 0x0300\n \
                    jmp far [0x4000]\n done: hlt";
    m.poke(0x3000, &asm16(dispatch));
    m.poke(0x4000, &[0x00, 0x00, 0x00, 0x01]);
    real_mode_at(&mut m, 0x3000);
    m.cpu.s.gpr[reg::CX] = 1001;
    assert_eq!(m.cpu.run(&mut m.bus, 1_000_000), RunExit::Halted);
    assert_eq!(m.cpu.s.gpr[reg::AX], 500, "runs of segment 0100");
    assert_eq!(m.cpu.s.gpr[reg::BX], 500, "runs of segment 0200");
    // 2000 far jumps, each a CS load: all but the first few follow a
    // link (before links outlived CS loads, none did).
    let st = &m.cpu.s.stats;
    assert!(
        st.chained > 1990,
        "chained {} unchained {}",
        st.chained,
        st.unchained
    );
}

/// A trace that jumps back to itself is followed from its own handler
/// (a hop, no return to the run loop) once it is linked, yet a run still
/// stops at its budget, within one trace of it, and every instruction is
/// counted once.
#[test]
fn hops_stop_at_the_budget_and_count_every_instruction() {
    let mut m = M::new(CpuModel::qemu64());
    // 1000: inc ax / jmp 1000
    m.poke(0x1000, &[0x40, 0xEB, 0xFD]);
    real_mode_at(&mut m, 0x1000);
    m.cpu.s.gpr[reg::AX] = 0;
    let start = m.cpu.s.icount;
    let mut want = start;
    for budget in [1u64, 2, 3, 100, 1001, 5000] {
        let before = m.cpu.s.icount;
        assert_eq!(m.cpu.run(&mut m.bus, budget), RunExit::Budget);
        let ran = m.cpu.s.icount - before;
        assert!(
            (budget..=budget + 1).contains(&ran),
            "budget {budget}: ran {ran} instructions"
        );
        want += ran;
        let incs = m.cpu.s.gpr[reg::AX] & 0xFFFF;
        let done = m.cpu.s.icount - start;
        assert_eq!(incs, done.div_ceil(2), "after {done} instructions");
        let rip = m.cpu.s.rip;
        assert_eq!(rip, if done % 2 == 0 { 0x1000 } else { 0x1001 });
    }
    assert_eq!(m.cpu.s.icount, want);
    assert!(m.cpu.s.stats.chained > 3000, "the loop chained (hopped)");
}

/// An indirect jump with more targets than a trace keeps links for (an
/// interpreter's switch: eight cases taken in turn) is still followed
/// without a cache lookup once each target has been seen: the jump cache
/// answers what the trace's own links miss.
#[test]
fn a_switch_with_eight_cases_goes_on_without_cache_lookups() {
    let mut m = M::new(CpuModel::qemu64());
    let mut src = String::from(
        "org 0x1000
         top: mov bx, si
         and bx, 7
         shl bx, 1
         inc si
         dec cx
         jz done
         jmp [bx+table]
         done: hlt\n",
    );
    for k in 0..8 {
        src += &format!("case{k}: add ax, {}\n jmp top\n", k + 1);
    }
    src += "table: dw case0, case1, case2, case3, case4, case5, case6, case7\n";
    m.poke(0x1000, &asm16(&src));
    real_mode_at(&mut m, 0x1000);
    m.cpu.s.gpr[reg::AX] = 0;
    m.cpu.s.gpr[reg::SI] = 0;
    m.cpu.s.gpr[reg::CX] = 801;
    assert_eq!(m.cpu.run(&mut m.bus, 1_000_000), RunExit::Halted);
    assert_eq!(m.cpu.s.gpr[reg::AX], 100 * 36, "each case ran 100 times");
    // 800 transitions, each into a case: a case's trace goes through its
    // JMP back to the top and on to the next indirect jump. The first
    // visit of each trace needs a lookup, nothing after it.
    let st = &m.cpu.s.stats;
    assert!(
        st.chained > 780 && st.unchained < 20,
        "chained {} unchained {}",
        st.chained,
        st.unchained
    );
}

/// Blocks laid out out of order and joined by direct JMPs and a CALL in
/// one page run as one trace: a loop iteration is one trace transition,
/// not four, and the CALL still pushes its return address.
#[test]
fn blocks_joined_by_direct_jumps_run_as_one_trace() {
    let mut m = M::new(CpuModel::qemu64());
    let src = "org 0x1000
               top: inc ax
               jmp a
               b: add bx, ax
               call c
               a: xor cx, bx
               jmp b
               c: pop dx
               cmp ax, 1000
               jne top
               hlt\n";
    m.poke(0x1000, &asm16(src));
    real_mode_at(&mut m, 0x1000);
    for r in [reg::AX, reg::BX, reg::CX, reg::DX] {
        m.cpu.s.gpr[r] = 0;
    }
    m.cpu.s.gpr[reg::SP] = 0x8000;
    assert_eq!(m.cpu.run(&mut m.bus, 1_000_000), RunExit::Halted);
    let s = &m.cpu.s;
    assert_eq!(s.gpr[reg::AX], 1000);
    assert_eq!(
        s.gpr[reg::BX],
        (1000 * 1001 / 2) & 0xFFFF,
        "add bx, ax ran each time"
    );
    assert_eq!(s.gpr[reg::DX], 0x1008, "the CALL's return address");
    assert_eq!(s.gpr[reg::SP], 0x8000, "each push popped");
    assert_eq!(s.icount, 1000 * 9 + 1);
    let transitions = s.stats.chained + s.stats.unchained;
    assert!(
        (999..1010).contains(&transitions),
        "{transitions} trace transitions for 1000 iterations"
    );
}

/// A taken forward branch to an instruction later in its own trace (an
/// `if` without `else`) goes on there without leaving the trace: the loop
/// below is one trace transition per iteration whichever way its branch
/// goes, and the skipped instruction neither runs nor counts.
#[test]
fn a_forward_branch_within_a_trace_stays_in_it() {
    let mut m = M::new(CpuModel::qemu64());
    let src = "org 0x1000
               top: cmp byte [si], 0
               je skip
               inc dx
               skip: inc si
               dec cx
               jnz top
               hlt\n";
    m.poke(0x1000, &asm16(src));
    // 1000 bytes at 4000: every third one non-zero.
    let data: Vec<u8> = (0..1000).map(|i| u8::from(i % 3 == 0)).collect();
    m.poke(0x4000, &data);
    real_mode_at(&mut m, 0x1000);
    m.cpu.s.gpr[reg::SI] = 0x4000;
    m.cpu.s.gpr[reg::CX] = 1000;
    m.cpu.s.gpr[reg::DX] = 0;
    let start = m.cpu.s.icount;
    assert_eq!(m.cpu.run(&mut m.bus, 1_000_000), RunExit::Halted);
    let s = &m.cpu.s;
    assert_eq!(s.gpr[reg::DX], 334, "one INC per non-zero byte");
    assert_eq!(s.gpr[reg::SI], 0x4000 + 1000);
    // cmp, je, inc si, dec cx, jnz; inc dx on 334 of them; the HLT.
    assert_eq!(s.icount - start, 1000 * 5 + 334 + 1);
    let transitions = s.stats.chained + s.stats.unchained;
    assert!(
        transitions < 1010,
        "{transitions} trace transitions for 1000 iterations"
    );
}
