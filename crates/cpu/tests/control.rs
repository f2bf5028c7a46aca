//! Control transfer in 64- and 32-bit mode (SDM Vol. 2: Jcc, JMP, CALL,
//! RET, LOOPcc, JrCXZ; Vol. 1, 6.3 for near and far calls): taken and not
//! taken, direct, through registers and memory, near and far, and loops
//! long enough that the interpreter's traces exit on their side branches
//! many times and must land on the right target each time.

use crate::common::asm::{asm32, asm64};
use crate::common::long64::{r, run64, Exit, CODE, M, STACK};
use crate::common::prot32::{run32, M32};
use anyx86_cpu::arch::fl::{CF, OF, PF, SF, ZF};
use anyx86_cpu::cpuid::CpuModel;

/// Whether condition `cc` (the low nibble of the Jcc opcode) holds for
/// `flags`, as SDM Vol. 1, Appendix B, Table B-1 defines it.
fn cond(cc: u8, flags: u32) -> bool {
    let f = |b: u32| flags & b != 0;
    let base = match cc >> 1 {
        0 => f(OF),
        1 => f(CF),
        2 => f(ZF),
        3 => f(CF) || f(ZF),
        4 => f(SF),
        5 => f(PF),
        6 => f(SF) != f(OF),
        _ => f(ZF) || f(SF) != f(OF),
    };
    base != (cc & 1 != 0)
}

/// `xor eax, eax; push imm32 flags; popfq; Jcc +2; jmp +2; mov al, 1`:
/// AL is 1 iff the branch was taken. `near` uses the 0F 8x rel32 form.
fn jcc_probe(cc: u8, flags: u32, near: bool) -> Vec<u8> {
    let mut c = vec![0x31, 0xC0, 0x68];
    c.extend_from_slice(&flags.to_le_bytes());
    c.push(0x9D);
    if near {
        c.extend_from_slice(&[0x0F, 0x80 | cc, 2, 0, 0, 0]);
    } else {
        c.extend_from_slice(&[0x70 | cc, 2]);
    }
    c.extend_from_slice(&[0xEB, 0x02, 0xB0, 0x01]);
    c
}

#[test]
fn jcc_all_conditions_all_flag_combinations() {
    let mut m = M::long_with(CpuModel::qemu64());
    for bits in 0..32u32 {
        let flags = [CF, PF, ZF, SF, OF]
            .iter()
            .enumerate()
            .filter(|(i, _)| bits >> i & 1 != 0)
            .fold(0x2, |a, (_, f)| a | f);
        for cc in 0..16 {
            for near in [false, true] {
                assert_eq!(m.run(&jcc_probe(cc, flags, near)), Exit::Done);
                let taken = m.cpu.s.gpr[0] & 0xFF == 1;
                assert_eq!(
                    taken,
                    cond(cc, flags),
                    "cc {cc:x} flags {flags:#x} near {near}"
                );
            }
        }
    }
}

#[test]
fn jcc_all_conditions_in_32_bit_mode() {
    let mut m = M32::prot();
    for flags in [0x2, 0x2 | CF | ZF, 0x2 | SF, 0x2 | OF | PF, 0x2 | SF | OF] {
        for cc in 0..16 {
            assert_eq!(m.run(&jcc_probe(cc, flags, true)), Exit::Done);
            assert_eq!(m.r(0) & 0xFF == 1, cond(cc, flags), "cc {cc:x}");
        }
    }
}

#[test]
fn jmp_rel8_rel32_backward_and_forward() {
    let m = run64(&asm64(
        "xor eax, eax
         jmp near fwd
         back: add eax, 2
         jmp short done
         fwd: add eax, 1
         jmp back
         done:",
    ));
    assert_eq!(r(&m, 0), 3);
}

#[test]
fn call_ret_near_pushes_return_address() {
    let m = run64(&asm64(
        "call f
         jmp done
         f: mov rax, [rsp]
         mov rbx, rsp
         ret
         done:",
    ));
    assert_eq!(r(&m, 0), CODE + 5);
    assert_eq!(r(&m, 3), STACK - 8);
    assert_eq!(r(&m, 4), STACK);
}

/// Pushes two arguments, calls a function that adds them (`a`, through
/// `sp`, `w`-byte stack slots) and returns with `ret imm16` past them.
fn ret_imm_program(a: &str, sp: &str, w: u32) -> String {
    format!(
        "push 0x11\npush 0x22\ncall f\njmp done\nf: mov {a}, [{sp}+{w}]\n\
         add {a}, [{sp}+{}]\nret {}\ndone:",
        2 * w,
        2 * w
    )
}

#[test]
fn ret_imm16_releases_arguments_in_64_and_32_bit_mode() {
    let m = run64(&asm64(&ret_imm_program("rax", "rsp", 8)));
    assert_eq!(r(&m, 0), 0x33);
    assert_eq!(r(&m, 4), STACK);
    let m = run32(&asm32(&ret_imm_program("eax", "esp", 4)));
    assert_eq!(m.r(0), 0x33);
    assert_eq!(u64::from(m.r(4)), STACK);
}

#[test]
fn indirect_call_and_jmp_through_register_and_memory() {
    let m = run64(&asm64(
        "org 0x1000
         xor ebx, ebx
         lea rax, [rel f]
         call rax
         call [rel p1]
         mov rcx, p2
         jmp [rcx]
         f: add ebx, 1
         ret
         p1: dq f
         p2: dq g
         g: lea rdx, [rel done]
         jmp rdx
         ud2
         done:",
    ));
    assert_eq!(r(&m, 3), 2);
    assert_eq!(r(&m, 4), STACK);
}

#[test]
fn loop_uses_rcx_and_addr32_uses_ecx() {
    // LOOP counts RCX in 64-bit mode, ECX with the 0x67 prefix (SDM Vol. 2,
    // LOOP/LOOPcc).
    let m = run64(&asm64(
        "xor eax, eax
         mov ecx, 5
         l1: add eax, 2
         loop l1
         mov rcx, 0x100000002
         xor edx, edx
         l2: inc edx
         a32 loop l2",
    ));
    assert_eq!(r(&m, 0), 10);
    // ECX counted 2 down to 0; the upper half was not a second counter. The
    // decrement writes ECX, which like any 32-bit register write zeroes
    // bits 63:32 (QEMU's gen_op_add_reg_im does the same).
    assert_eq!(r(&m, 2), 2);
    assert_eq!(r(&m, 1), 0);
}

#[test]
fn loope_loopne_stop_on_zf() {
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov dword [rbx], 0x01010100
         mov ecx, 4
         mov rsi, rbx
         l1: cmp byte [rsi], 0
         lea rsi, [rsi+1]
         loope l1
         mov rdi, rcx
         mov ecx, 4
         mov rsi, rbx
         l2: cmp byte [rsi+1], 0
         lea rsi, [rsi+1]
         loopne l2",
    ));
    // LOOPE stops after the second byte (not zero): 2 iterations.
    assert_eq!(r(&m, 7), 2);
    // LOOPNE runs while bytes 1..3 are non-zero, until RCX reaches 0.
    assert_eq!(r(&m, 1), 0);
}

#[test]
fn jrcxz_and_jecxz() {
    let m = run64(&asm64(
        "xor eax, eax
         mov rcx, 0x100000000
         jrcxz t1
         or eax, 1
         t1: jecxz t2
         or eax, 2
         t2:",
    ));
    // RCX != 0: JRCXZ falls through; ECX = 0: JECXZ is taken.
    assert_eq!(r(&m, 0), 1);
}

#[test]
fn far_call_and_retfq_with_rex_w() {
    // With REX.W, CALL m16:64 pushes CS and RIP as 8 bytes each, and RETFQ
    // pops them (SDM Vol. 2, CALL, 64-bit mode).
    let m = run64(&asm64(
        "org 0x1000
         call far qword [rel fp]
         jmp done
         f: mov rax, [rsp]
         mov rbx, [rsp+8]
         mov rdx, rsp
         o64 retf
         fp: dq f
         dw 8
         done:",
    ));
    assert_eq!(r(&m, 0), CODE + 7);
    assert_eq!(r(&m, 3), 8);
    assert_eq!(r(&m, 2), STACK - 16);
    assert_eq!(r(&m, 4), STACK);
}

#[test]
fn far_jmp_through_memory_in_64_bit_mode() {
    let m = run64(&asm64(
        "org 0x1000
         jmp far dword [rel fp]
         ud2
         t: mov eax, 7
         jmp done
         fp: dd t
         dw 8
         done:",
    ));
    assert_eq!(r(&m, 0), 7);
    assert_eq!(m.cpu.s.seg[anyx86_cpu::arch::sreg::CS].selector, 8);
}

#[test]
fn prot32_far_call_jmp_ret() {
    // In 32-bit code a far CALL pushes CS (zero-extended to 4 bytes) and
    // EIP; RETF pops both; direct far JMP reloads CS:EIP.
    let code: &[u8] = &asm32(
        "org 0x1000
         jmp 0x08:start
         start: call 0x08:f
         jmp done
         f: mov eax, [esp]
         mov ebx, [esp+4]
         mov edx, esp
         retf
         done:",
    );
    let mut m = M32::prot();
    // Garbage where the CS slot's upper half goes: the push must zero it.
    m.poke(STACK - 8, &[0xFF; 8]);
    assert_eq!(m.run(code), Exit::Done);
    assert_eq!(m.r(0) as u64, CODE + 14);
    assert_eq!(m.r(3), 8);
    assert_eq!(m.r(2) as u64, STACK - 8);
    assert_eq!(m.r(4) as u64, STACK);
}

#[test]
fn prot32_call_ret_and_indirect() {
    let mut m = M32::prot();
    assert_eq!(
        m.run(&asm32(
            "org 0x1000
             xor ebx, ebx
             call f
             mov eax, f
             call eax
             call [p1]
             jmp [p2]
             f: inc ebx
             ret
             p1: dd f
             p2: dd done
             done:",
        )),
        Exit::Done
    );
    assert_eq!(m.r(3), 3);
    assert_eq!(m.r(4) as u64, STACK);
}

#[test]
fn counted_loop_side_exits() {
    // A loop whose back edge is a Jcc taken 99 times and not taken once,
    // run twice so the second run goes through the cached traces.
    let code: &[u8] = &asm64(
        "xor eax, eax
         mov ecx, 100
         l: add eax, ecx
         dec ecx
         jnz l",
    );
    let mut m = M::long_with(CpuModel::qemu64());
    for _ in 0..2 {
        assert_eq!(m.run(code), Exit::Done);
        assert_eq!(r(&m, 0), 5050);
        assert_eq!(r(&m, 1), 0);
    }
}

#[test]
fn alternating_branch_inside_loop() {
    // The inner Jcc alternates every iteration, so each trace exit takes
    // the other side from the last; nested loops count the total.
    let code: &[u8] = &asm64(
        "xor ebx, ebx
         xor edx, edx
         xor edi, edi
         mov esi, 3
         outer: mov ecx, 101
         l: test ecx, 1
         jz even
         add ebx, 1
         jmp next
         even: add edx, 1
         cmp ecx, 50
         jne next
         add edi, 100
         next: dec ecx
         jnz l
         dec esi
         jnz outer",
    );
    let mut m = M::long_with(CpuModel::qemu64());
    for _ in 0..2 {
        assert_eq!(m.run(code), Exit::Done);
        assert_eq!(r(&m, 3), 3 * 51);
        assert_eq!(r(&m, 2), 3 * 50);
        assert_eq!(r(&m, 7), 300);
    }
}

#[test]
fn loop_with_cmp_jcc_fusion_pairs() {
    // CMP/TEST followed by each signed and unsigned Jcc as loop exits.
    let m = run64(&asm64(
        "xor eax, eax
         mov rcx, -5
         l1: inc eax
         inc rcx
         cmp rcx, 5
         jl l1
         mov edx, 0
         l2: add edx, 3
         cmp edx, 30
         jb l2
         mov esi, 10
         l3: sub esi, 1
         test esi, esi
         jg l3",
    ));
    assert_eq!(r(&m, 0), 10);
    assert_eq!(r(&m, 2), 30);
    assert_eq!(r(&m, 6), 0);
}

#[test]
fn flags_survive_a_trace_exit() {
    // CF set by a CMP before a taken branch is consumed by ADC after it,
    // and INC (which keeps CF) sits between: the lazy flags must survive
    // the side exit and the partial update (SDM Vol. 2, INC: CF is not
    // affected).
    let code: &[u8] = &asm64(
        "xor ebx, ebx
         mov ecx, 10
         l: mov eax, ecx
         cmp eax, 5
         jae skip
         inc edx
         skip: inc esi
         adc ebx, 0
         dec ecx
         jnz l",
    );
    let mut m = M::long_with(CpuModel::qemu64());
    for _ in 0..2 {
        m.cpu.s.gpr[2] = 0;
        m.cpu.s.gpr[6] = 0;
        assert_eq!(m.run(code), Exit::Done);
        // CF (ECX < 5) for ECX = 1..4: four times.
        assert_eq!(r(&m, 3), 4);
        assert_eq!((r(&m, 2), r(&m, 6)), (4, 10));
    }
}

#[test]
fn cmp_memory_jcc_pairs() {
    // CMP with a memory operand followed by a Jcc, in a loop over an
    // array: count the elements below 100, signed and unsigned.
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov dword [rbx], 5
         mov dword [rbx+4], -5
         mov dword [rbx+8], 200
         mov dword [rbx+12], 99
         xor ecx, ecx
         xor eax, eax
         xor edx, edx
         l: cmp dword [rbx+rcx*4], 100
         jge s1
         inc eax
         s1: cmp dword [rbx+rcx*4], 100
         jae s2
         inc edx
         s2: inc ecx
         cmp ecx, 4
         jne l",
    ));
    assert_eq!(r(&m, 0), 3);
    assert_eq!(r(&m, 2), 2);
}

#[test]
fn call_ret_recursion() {
    // A recursive factorial through CALL/RET: 10! on the stack.
    let m = run64(&asm64(
        "mov edi, 10
         call fact
         jmp done
         fact: cmp edi, 1
         ja rec
         mov eax, 1
         ret
         rec: push rdi
         dec edi
         call fact
         pop rdi
         imul eax, edi
         ret
         done:",
    ));
    assert_eq!(r(&m, 0), 3_628_800);
    assert_eq!(r(&m, 4), STACK);
}

#[test]
fn jmp_to_non_canonical_address_faults_at_the_jump() {
    // A near branch to a non-canonical target raises #GP(0) with RIP still
    // at the branch (SDM Vol. 2, JMP: "If target offset in destination
    // operand is non-canonical, #GP(0)").
    let mut m = M::long_with(CpuModel::qemu64());
    assert_eq!(
        m.run(&asm64(
            "mov rax, 0x0000800000000000
             jmp rax",
        )),
        Exit::Vector(13)
    );
    let rsp = r(&m, 4);
    assert_eq!(m.peek64(rsp), 0);
    assert_eq!(m.peek64(rsp + 8), CODE + 10);
}

#[test]
fn loop_body_longer_than_a_trace() {
    // A loop body of 80 ADDs (more than one trace holds, MAX_TRACE = 64)
    // with a conditional exit in the middle: the trace boundary falls
    // inside the body and every iteration must continue where it stopped.
    let code: &[u8] = &asm64(
        "xor eax, eax
         xor edx, edx
         mov ecx, 50
         l:
         %rep 40
         add eax, 1
         %endrep
         cmp ecx, 7
         jne mid
         add edx, 1000
         mid:
         %rep 40
         add eax, 2
         %endrep
         dec ecx
         jnz l",
    );
    let mut m = M::long_with(CpuModel::qemu64());
    for _ in 0..2 {
        assert_eq!(m.run(code), Exit::Done);
        assert_eq!(r(&m, 0), 50 * 120);
        assert_eq!(r(&m, 2), 1000);
    }
}

#[test]
fn prot32_retf_imm16() {
    // RETF n pops EIP and CS, then releases n bytes of arguments.
    let mut m = M32::prot();
    assert_eq!(
        m.run(&asm32(
            "org 0x1000
             push 0xAA
             push 0xBB
             call 0x08:f
             jmp done
             f: mov eax, [esp+8]
             retf 8
             done:",
        )),
        Exit::Done
    );
    assert_eq!(m.r(0), 0xBB);
    assert_eq!(u64::from(m.r(4)), STACK);
}
