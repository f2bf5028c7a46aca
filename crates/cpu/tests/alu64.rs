//! Integer ALU instructions in 64-bit mode (SDM Vol. 2, the instruction
//! pages; flags per Vol. 1, 3.4.3 and Appendix A): results and the flags
//! each defines, at 8/16/32/64 bits, register and memory forms. Each test
//! runs real instruction bytes (nasm source in the comment above them,
//! filled by `common/asm_fill.py`) on a flat 64-bit machine. Where a test
//! reads the flags in the middle of its code it does so with
//! `pushfq; pop r15`.

#[allow(dead_code)]
mod common;

use anyx86_cpu::arch::fl::{AF, ARITH, CF, OF, PF, SF, ZF};
use anyx86_cpu::cpuid::CpuModel;
use common::long64::{r, run64, Exit, CODE, M, STACK};

/// Scratch data the memory forms address through RBX.
const DATA: u64 = 0x8000;

/// The six arithmetic flags now.
fn fl(m: &M) -> u32 {
    m.cpu.s.eflags() & ARITH
}

/// The arithmetic flags saved in R15 by `pushfq; pop r15`.
fn fl15(m: &M) -> u32 {
    m.cpu.s.gpr[15] as u32 & ARITH
}

const RAX: usize = 0;
const RCX: usize = 1;
const RDX: usize = 2;
const RBX: usize = 3;
const RSI: usize = 6;
const RDI: usize = 7;

#[test]
fn add_64_carry_out_sets_cf_zf_af_pf() {
    // bits 64
    //   mov rax, -1
    //   add rax, 1
    let m = run64(&[
        0x48, 0xC7, 0xC0, 0xFF, 0xFF, 0xFF, 0xFF, 0x48, 0x83, 0xC0, 0x01,
    ]);
    assert_eq!(r(&m, RAX), 0);
    assert_eq!(fl(&m), CF | PF | AF | ZF);
}

#[test]
fn add_32_overflow_and_upper_half_zeroed() {
    // A 32-bit destination zero-extends into the full register (SDM Vol. 1,
    // 3.4.1.1); 0x7FFFFFFF + 1 overflows into the sign bit.
    // bits 64
    //   mov rax, 0x123456787FFFFFFF
    //   add eax, 1
    let m = run64(&[
        0x48, 0xB8, 0xFF, 0xFF, 0xFF, 0x7F, 0x78, 0x56, 0x34, 0x12, 0x83, 0xC0, 0x01,
    ]);
    assert_eq!(r(&m, RAX), 0x8000_0000);
    assert_eq!(fl(&m), OF | SF | AF | PF);
}

#[test]
fn adc_and_sbb_consume_carry() {
    // bits 64
    //   stc
    //   mov rax, 5
    //   adc rax, 0
    //   mov rcx, -1
    //   mov ecx, 0
    //   stc
    //   sbb ecx, 0
    let m = run64(&[
        0xF9, 0xB8, 0x05, 0x00, 0x00, 0x00, 0x48, 0x83, 0xD0, 0x00, 0x48, 0xC7, 0xC1, 0xFF, 0xFF,
        0xFF, 0xFF, 0xB9, 0x00, 0x00, 0x00, 0x00, 0xF9, 0x83, 0xD9, 0x00,
    ]);
    assert_eq!(r(&m, RAX), 6);
    assert_eq!(r(&m, RCX), 0xFFFF_FFFF);
    assert_eq!(fl(&m), CF | SF | AF | PF);
}

#[test]
fn adc_64_carry_chain_through_memory() {
    // A 128-bit add: low halves with ADD, high halves with ADC from memory.
    // bits 64
    //   mov rbx, 0x8000
    //   mov qword [rbx], -1
    //   mov qword [rbx+8], 1
    //   add qword [rbx], 1
    //   adc qword [rbx+8], 0
    let m = run64(&[
        0xBB, 0x00, 0x80, 0x00, 0x00, 0x48, 0xC7, 0x03, 0xFF, 0xFF, 0xFF, 0xFF, 0x48, 0xC7, 0x43,
        0x08, 0x01, 0x00, 0x00, 0x00, 0x48, 0x83, 0x03, 0x01, 0x48, 0x83, 0x53, 0x08, 0x00,
    ]);
    assert_eq!(m.peek64(DATA), 0);
    assert_eq!(m.peek64(DATA + 8), 2);
    assert_eq!(fl(&m) & (CF | ZF), 0);
}

#[test]
fn sub_8_signed_overflow_keeps_upper_bytes() {
    // bits 64
    //   mov rax, 0x1111111111111180
    //   sub al, 1
    let m = run64(&[
        0x48, 0xB8, 0x80, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x2C, 0x01,
    ]);
    assert_eq!(r(&m, RAX), 0x1111_1111_1111_117F);
    assert_eq!(fl(&m), OF | AF);
}

#[test]
fn sub_16_borrow() {
    // bits 64
    //   mov rdx, 0x5555555555550001
    //   sub dx, 2
    let m = run64(&[
        0x48, 0xBA, 0x01, 0x00, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x66, 0x83, 0xEA, 0x02,
    ]);
    assert_eq!(r(&m, RDX), 0x5555_5555_5555_FFFF);
    assert_eq!(fl(&m), CF | SF | AF | PF);
}

#[test]
fn imm32_and_imm8_sign_extend_to_64() {
    // In 64-bit mode an imm32 (or imm8) operand of a 64-bit operation is
    // sign-extended to 64 bits (SDM Vol. 2, 2.2.1.5).
    // bits 64
    //   xor eax, eax
    //   add rax, -0x80000000
    //   mov rcx, -1
    //   and rcx, 0x7FFFFFFF
    //   mov rdx, 0
    //   sub rdx, byte 1
    //   mov rsi, -2
    //   xor ebx, ebx
    //   or rbx, 0x40000000
    let m = run64(&[
        0x31, 0xC0, 0x48, 0x05, 0x00, 0x00, 0x00, 0x80, 0x48, 0xC7, 0xC1, 0xFF, 0xFF, 0xFF, 0xFF,
        0x48, 0x81, 0xE1, 0xFF, 0xFF, 0xFF, 0x7F, 0xBA, 0x00, 0x00, 0x00, 0x00, 0x48, 0x83, 0xEA,
        0x01, 0x48, 0xC7, 0xC6, 0xFE, 0xFF, 0xFF, 0xFF, 0x31, 0xDB, 0x48, 0x81, 0xCB, 0x00, 0x00,
        0x00, 0x40,
    ]);
    assert_eq!(r(&m, RAX), 0xFFFF_FFFF_8000_0000);
    assert_eq!(r(&m, RCX), 0x7FFF_FFFF);
    assert_eq!(r(&m, RDX), u64::MAX);
    assert_eq!(r(&m, RSI), 0xFFFF_FFFF_FFFF_FFFE);
    assert_eq!(r(&m, RBX), 0x4000_0000);
}

#[test]
fn logic_ops_clear_cf_and_of() {
    // AND/OR/XOR/TEST clear CF and OF, set SF/ZF/PF by the result; AF is
    // undefined (SDM Vol. 2, AND).
    // bits 64
    //   mov rax, -1
    //   stc
    //   and eax, 0xF0
    //   pushfq
    //   pop r15
    //   mov rcx, 0x8000000000000000
    //   stc
    //   or rcx, 1
    let m = run64(&[
        0x48, 0xC7, 0xC0, 0xFF, 0xFF, 0xFF, 0xFF, 0xF9, 0x25, 0xF0, 0x00, 0x00, 0x00, 0x9C, 0x41,
        0x5F, 0x48, 0xB9, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0xF9, 0x48, 0x83, 0xC9,
        0x01,
    ]);
    assert_eq!(r(&m, RAX), 0xF0);
    assert_eq!(fl15(&m) & !AF, PF);
    assert_eq!(r(&m, RCX), 0x8000_0000_0000_0001);
    assert_eq!(fl(&m) & !AF, SF);
}

#[test]
fn xor_self_zeroes_and_test_does_not_write() {
    // bits 64
    //   mov r8, -1
    //   xor r8d, r8d
    //   pushfq
    //   pop r15
    //   mov eax, 0x80
    //   test al, al
    let m = run64(&[
        0x49, 0xC7, 0xC0, 0xFF, 0xFF, 0xFF, 0xFF, 0x45, 0x31, 0xC0, 0x9C, 0x41, 0x5F, 0xB8, 0x80,
        0x00, 0x00, 0x00, 0x84, 0xC0,
    ]);
    assert_eq!(r(&m, 8), 0);
    assert_eq!(fl15(&m) & !AF, ZF | PF);
    assert_eq!(r(&m, RAX), 0x80);
    assert_eq!(fl(&m) & !AF, SF);
}

#[test]
fn cmp_sets_flags_without_writing() {
    // CMP is SUB without the store: 1 - 2 borrows and is negative.
    // bits 64
    //   mov rbx, 0x8000
    //   mov dword [rbx], 1
    //   mov eax, 2
    //   cmp [rbx], eax
    let m = run64(&[
        0xBB, 0x00, 0x80, 0x00, 0x00, 0xC7, 0x03, 0x01, 0x00, 0x00, 0x00, 0xB8, 0x02, 0x00, 0x00,
        0x00, 0x39, 0x03,
    ]);
    assert_eq!(m.peek_le(DATA, 4), 1);
    assert_eq!(r(&m, RAX), 2);
    assert_eq!(fl(&m), CF | SF | AF | PF);
}

#[test]
fn high_byte_registers_vs_rex() {
    // Without REX, byte registers 4-7 are AH, CH, DH, BH; with any REX
    // prefix they are SPL, BPL, SIL, DIL (SDM Vol. 1, 3.7.2.1).
    // bits 64
    //   mov rcx, 0x1122
    //   mov rbp, 0x3344
    //   xor ebx, ebx
    //   xor edx, edx
    //   mov bl, ch
    //   mov dl, bpl
    //   xor eax, eax
    //   mov ah, 0xAA
    //   mov rdi, 0x7700
    //   mov dil, 0x55
    let m = run64(&[
        0xB9, 0x22, 0x11, 0x00, 0x00, 0xBD, 0x44, 0x33, 0x00, 0x00, 0x31, 0xDB, 0x31, 0xD2, 0x88,
        0xEB, 0x40, 0x88, 0xEA, 0x31, 0xC0, 0xB4, 0xAA, 0xBF, 0x00, 0x77, 0x00, 0x00, 0x40, 0xB7,
        0x55,
    ]);
    assert_eq!(r(&m, RBX), 0x11);
    assert_eq!(r(&m, RDX), 0x44);
    assert_eq!(r(&m, RAX), 0xAA00);
    assert_eq!(r(&m, RDI), 0x7755);
}

#[test]
fn inc_dec_leave_cf() {
    // INC and DEC set OF, SF, ZF, AF, PF but leave CF (SDM Vol. 2, INC).
    // bits 64
    //   stc
    //   mov eax, -1
    //   inc eax
    //   pushfq
    //   pop r15
    //   clc
    //   mov bl, 0x80
    //   dec bl
    let m = run64(&[
        0xF9, 0xB8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC0, 0x9C, 0x41, 0x5F, 0xF8, 0xB3, 0x80, 0xFE,
        0xCB,
    ]);
    assert_eq!(r(&m, RAX), 0);
    assert_eq!(fl15(&m), CF | ZF | AF | PF);
    assert_eq!(r(&m, RBX) & 0xFF, 0x7F);
    assert_eq!(fl(&m), OF | AF);
}

#[test]
fn inc_memory_and_r8_to_r15() {
    // bits 64
    //   mov rbx, 0x8000
    //   mov byte [rbx+16], 0xFF
    //   inc byte [rbx+16]
    //   mov r12, 0x7FFFFFFFFFFFFFFF
    //   inc r12
    let m = run64(&[
        0xBB, 0x00, 0x80, 0x00, 0x00, 0xC6, 0x43, 0x10, 0xFF, 0xFE, 0x43, 0x10, 0x49, 0xBC, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x49, 0xFF, 0xC4,
    ]);
    assert_eq!(m.peek(DATA + 16, 1), [0]);
    assert_eq!(r(&m, 12), 1 << 63);
    assert_eq!(fl(&m), OF | SF | AF | PF);
}

#[test]
fn neg_flags() {
    // NEG: CF = (source != 0); OF when negating the most negative value.
    // bits 64
    //   mov rax, 1
    //   neg rax
    //   pushfq
    //   pop r15
    //   mov rbx, 0
    //   neg rbx
    //   pushfq
    //   pop r14
    //   mov rcx, 0x8000000000000000
    //   neg rcx
    let m = run64(&[
        0xB8, 0x01, 0x00, 0x00, 0x00, 0x48, 0xF7, 0xD8, 0x9C, 0x41, 0x5F, 0xBB, 0x00, 0x00, 0x00,
        0x00, 0x48, 0xF7, 0xDB, 0x9C, 0x41, 0x5E, 0x48, 0xB9, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x80, 0x48, 0xF7, 0xD9,
    ]);
    assert_eq!(r(&m, RAX), u64::MAX);
    assert_eq!(fl15(&m), CF | SF | AF | PF);
    assert_eq!(r(&m, RBX), 0);
    assert_eq!(r(&m, 14) as u32 & ARITH, ZF | PF);
    assert_eq!(r(&m, RCX), 1 << 63);
    assert_eq!(fl(&m), CF | OF | SF | PF);
}

#[test]
fn neg_word_in_memory() {
    // bits 64
    //   mov rbx, 0x8000
    //   mov word [rbx], 5
    //   neg word [rbx]
    let m = run64(&[
        0xBB, 0x00, 0x80, 0x00, 0x00, 0x66, 0xC7, 0x03, 0x05, 0x00, 0x66, 0xF7, 0x1B,
    ]);
    assert_eq!(m.peek_le(DATA, 2), 0xFFFB);
    assert_eq!(fl(&m), CF | SF | AF);
}

#[test]
fn not_changes_no_flags() {
    // bits 64
    //   mov rbx, 0x8000
    //   mov dword [rbx], 0x0F0F0F0F
    //   mov rax, 0xFF
    //   stc
    //   not rax
    //   not dword [rbx]
    let m = run64(&[
        0xBB, 0x00, 0x80, 0x00, 0x00, 0xC7, 0x03, 0x0F, 0x0F, 0x0F, 0x0F, 0xB8, 0xFF, 0x00, 0x00,
        0x00, 0xF9, 0x48, 0xF7, 0xD0, 0xF7, 0x13,
    ]);
    assert_eq!(r(&m, RAX), 0xFFFF_FFFF_FFFF_FF00);
    assert_eq!(m.peek_le(DATA, 4), 0xF0F0_F0F0);
    assert_eq!(fl(&m) & CF, CF);
}

#[test]
fn shift_count_masked_to_6_or_5_bits() {
    // The count is masked to 6 bits with REX.W, else to 5 (SDM Vol. 2,
    // SAL/SAR/SHL/SHR).
    // bits 64
    //   mov cl, 65
    //   mov eax, 1
    //   shl rax, cl
    //   mov ebx, 1
    //   shl ebx, cl
    //   mov cl, 33
    //   mov edx, 1
    //   shl rdx, cl
    //   mov esi, 1
    //   shl esi, cl
    let m = run64(&[
        0xB1, 0x41, 0xB8, 0x01, 0x00, 0x00, 0x00, 0x48, 0xD3, 0xE0, 0xBB, 0x01, 0x00, 0x00, 0x00,
        0xD3, 0xE3, 0xB1, 0x21, 0xBA, 0x01, 0x00, 0x00, 0x00, 0x48, 0xD3, 0xE2, 0xBE, 0x01, 0x00,
        0x00, 0x00, 0xD3, 0xE6,
    ]);
    assert_eq!(r(&m, RAX), 2);
    assert_eq!(r(&m, RBX), 2);
    assert_eq!(r(&m, RDX), 1 << 33);
    assert_eq!(r(&m, RSI), 2);
}

#[test]
fn shift_by_zero_leaves_flags() {
    // "If the count is 0, the flags are not affected" (SDM Vol. 2, SAL).
    // CL = 32 masks to 0 for a 32-bit shift; CMP 0, 1 set CF SF AF PF.
    // bits 64
    //   mov ebx, 5
    //   mov cl, 32
    //   xor eax, eax
    //   cmp eax, 1
    //   shl ebx, cl
    //   sar ebx, cl
    //   rol ebx, cl
    //   rcr ebx, cl
    let m = run64(&[
        0xBB, 0x05, 0x00, 0x00, 0x00, 0xB1, 0x20, 0x31, 0xC0, 0x83, 0xF8, 0x01, 0xD3, 0xE3, 0xD3,
        0xFB, 0xD3, 0xC3, 0xD3, 0xDB,
    ]);
    assert_eq!(r(&m, RBX), 5);
    assert_eq!(fl(&m), CF | SF | AF | PF);
}

#[test]
fn shl_and_shr_by_one_set_cf_and_of() {
    // For 1-bit shifts OF = MSB(result) XOR CF for SHL, and the original
    // MSB for SHR.
    // bits 64
    //   mov al, 0xC0
    //   shl al, 1
    //   pushfq
    //   pop r15
    //   mov bl, 0x40
    //   shl bl, 1
    //   pushfq
    //   pop r14
    //   mov cl, 0x81
    //   shr cl, 1
    let m = run64(&[
        0xB0, 0xC0, 0xD0, 0xE0, 0x9C, 0x41, 0x5F, 0xB3, 0x40, 0xD0, 0xE3, 0x9C, 0x41, 0x5E, 0xB1,
        0x81, 0xD0, 0xE9,
    ]);
    assert_eq!(r(&m, RAX) & 0xFF, 0x80);
    assert_eq!(fl15(&m) & !AF, CF | SF);
    assert_eq!(r(&m, RBX) & 0xFF, 0x80);
    assert_eq!(r(&m, 14) as u32 & ARITH & !AF, OF | SF);
    assert_eq!(r(&m, RCX) & 0xFF, 0x40);
    assert_eq!(fl(&m) & !AF, CF | OF);
}

#[test]
fn sar_keeps_sign() {
    // bits 64
    //   mov rax, -5
    //   sar rax, 1
    //   pushfq
    //   pop r15
    //   mov edx, 0x80000000
    //   mov cl, 31
    //   sar edx, cl
    let m = run64(&[
        0x48, 0xC7, 0xC0, 0xFB, 0xFF, 0xFF, 0xFF, 0x48, 0xD1, 0xF8, 0x9C, 0x41, 0x5F, 0xBA, 0x00,
        0x00, 0x00, 0x80, 0xB1, 0x1F, 0xD3, 0xFA,
    ]);
    assert_eq!(r(&m, RAX), (-3i64) as u64);
    assert_eq!(fl15(&m) & (CF | OF | SF), CF | SF);
    assert_eq!(r(&m, RDX), 0xFFFF_FFFF);
}

#[test]
fn shift_memory_operand() {
    // bits 64
    //   mov rbx, 0x8000
    //   mov dword [rbx], 0x10000001
    //   shl dword [rbx], 4
    //   mov qword [rbx+8], 0x100
    //   shr qword [rbx+8], 9
    let m = run64(&[
        0xBB, 0x00, 0x80, 0x00, 0x00, 0xC7, 0x03, 0x01, 0x00, 0x00, 0x10, 0xC1, 0x23, 0x04, 0x48,
        0xC7, 0x43, 0x08, 0x00, 0x01, 0x00, 0x00, 0x48, 0xC1, 0x6B, 0x08, 0x09,
    ]);
    assert_eq!(m.peek_le(DATA, 4), 0x10);
    assert_eq!(m.peek64(DATA + 8), 0);
    // SHR 0x100 by 9: the last bit shifted out is bit 8 = 1.
    assert_eq!(fl(&m) & (CF | ZF), CF | ZF);
}

#[test]
fn rol_ror_flags() {
    // ROL: CF = LSB of the result, OF (count 1) = MSB XOR CF. ROR: CF = MSB
    // of the result, OF = the XOR of its two top bits.
    // bits 64
    //   mov al, 0x81
    //   rol al, 1
    //   pushfq
    //   pop r15
    //   mov bl, 0x01
    //   ror bl, 1
    //   mov rdx, 0x8000000000000001
    //   rol rdx, 4
    let m = run64(&[
        0xB0, 0x81, 0xD0, 0xC0, 0x9C, 0x41, 0x5F, 0xB3, 0x01, 0xD0, 0xCB, 0x48, 0xBA, 0x01, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x48, 0xC1, 0xC2, 0x04,
    ]);
    assert_eq!(r(&m, RAX) & 0xFF, 0x03);
    assert_eq!(fl15(&m) & (CF | OF), CF | OF);
    assert_eq!(r(&m, RBX) & 0xFF, 0x80);
    assert_eq!(r(&m, RDX), 0x18);
    // ROL by 4: CF = LSB of the result = 0.
    assert_eq!(fl(&m) & CF, 0);
}

#[test]
fn rcl_rcr_rotate_through_carry() {
    // bits 64
    //   stc
    //   mov al, 0x80
    //   rcl al, 1
    //   pushfq
    //   pop r15
    //   clc
    //   mov bl, 0x01
    //   rcr bl, 1
    let m = run64(&[
        0xF9, 0xB0, 0x80, 0xD0, 0xD0, 0x9C, 0x41, 0x5F, 0xF8, 0xB3, 0x01, 0xD0, 0xDB,
    ]);
    assert_eq!(r(&m, RAX) & 0xFF, 0x01);
    assert_eq!(fl15(&m) & CF, CF);
    assert_eq!(r(&m, RBX) & 0xFF, 0);
    assert_eq!(fl(&m) & CF, CF);
}

#[test]
fn rcl_8_and_16_count_is_modulo_9_and_17() {
    // RCL/RCR of 8 (16) bits rotate 9 (17) bits: the masked count is taken
    // modulo 9 (17), so 9 (17) is the identity (SDM Vol. 2, RCL).
    // bits 64
    //   clc
    //   mov dl, 0x5A
    //   mov cl, 9
    //   rcl dl, cl
    //   mov si, 0x1234
    //   mov cl, 17
    //   rcl si, cl
    //   mov di, 0x8000
    //   mov cl, 18
    //   rcl di, cl
    let m = run64(&[
        0xF8, 0xB2, 0x5A, 0xB1, 0x09, 0xD2, 0xD2, 0x66, 0xBE, 0x34, 0x12, 0xB1, 0x11, 0x66, 0xD3,
        0xD6, 0x66, 0xBF, 0x00, 0x80, 0xB1, 0x12, 0x66, 0xD3, 0xD7,
    ]);
    assert_eq!(r(&m, RDX) & 0xFF, 0x5A);
    assert_eq!(r(&m, RSI) & 0xFFFF, 0x1234);
    // 18 mod 17 = 1: bit 15 goes to CF, CF (0) to bit 0.
    assert_eq!(r(&m, RDI) & 0xFFFF, 0);
    assert_eq!(fl(&m) & CF, CF);
}

#[test]
fn mul_64_full_product() {
    // bits 64
    //   mov rax, 0x100000000
    //   mov rbx, 0x100000003
    //   mul rbx
    let m = run64(&[
        0x48, 0xB8, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x48, 0xBB, 0x03, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x48, 0xF7, 0xE3,
    ]);
    assert_eq!(r(&m, RAX), 0x3_0000_0000);
    assert_eq!(r(&m, RDX), 1);
    assert_eq!(fl(&m) & (CF | OF), CF | OF);
}

#[test]
fn mul_small_product_clears_cf_of() {
    // bits 64
    //   mov rdx, -1
    //   mov rax, 3
    //   mov rcx, 5
    //   stc
    //   mul rcx
    let m = run64(&[
        0x48, 0xC7, 0xC2, 0xFF, 0xFF, 0xFF, 0xFF, 0xB8, 0x03, 0x00, 0x00, 0x00, 0xB9, 0x05, 0x00,
        0x00, 0x00, 0xF9, 0x48, 0xF7, 0xE1,
    ]);
    assert_eq!((r(&m, RAX), r(&m, RDX)), (15, 0));
    assert_eq!(fl(&m) & (CF | OF), 0);
}

#[test]
fn mul_8_writes_ax_only() {
    // bits 64
    //   mov rax, 0x1111111111111110
    //   mov bl, 0x10
    //   mul bl
    let m = run64(&[
        0x48, 0xB8, 0x10, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0xB3, 0x10, 0xF6, 0xE3,
    ]);
    assert_eq!(r(&m, RAX), 0x1111_1111_1111_0100);
    assert_eq!(fl(&m) & (CF | OF), CF | OF);
}

#[test]
fn mul_32_zeroes_upper_halves() {
    // bits 64
    //   mov rax, -1
    //   mov rdx, -1
    //   mov ecx, 2
    //   mul ecx
    let m = run64(&[
        0x48, 0xC7, 0xC0, 0xFF, 0xFF, 0xFF, 0xFF, 0x48, 0xC7, 0xC2, 0xFF, 0xFF, 0xFF, 0xFF, 0xB9,
        0x02, 0x00, 0x00, 0x00, 0xF7, 0xE1,
    ]);
    assert_eq!(r(&m, RAX), 0xFFFF_FFFE);
    assert_eq!(r(&m, RDX), 1);
}

#[test]
fn mul_memory_operand() {
    // bits 64
    //   mov rbx, 0x8000
    //   mov qword [rbx], 7
    //   mov rax, 6
    //   mul qword [rbx]
    let m = run64(&[
        0xBB, 0x00, 0x80, 0x00, 0x00, 0x48, 0xC7, 0x03, 0x07, 0x00, 0x00, 0x00, 0xB8, 0x06, 0x00,
        0x00, 0x00, 0x48, 0xF7, 0x23,
    ]);
    assert_eq!((r(&m, RAX), r(&m, RDX)), (42, 0));
}

#[test]
fn imul_one_operand_signed() {
    // bits 64
    //   mov rax, -2
    //   mov rbx, 3
    //   imul rbx
    let m = run64(&[
        0x48, 0xC7, 0xC0, 0xFE, 0xFF, 0xFF, 0xFF, 0xBB, 0x03, 0x00, 0x00, 0x00, 0x48, 0xF7, 0xEB,
    ]);
    assert_eq!(r(&m, RAX), (-6i64) as u64);
    assert_eq!(r(&m, RDX), u64::MAX);
    // RDX:RAX is the sign extension of RAX: no overflow.
    assert_eq!(fl(&m) & (CF | OF), 0);
}

#[test]
fn imul_two_operand_overflow() {
    // bits 64
    //   mov rcx, 0x4000000000000000
    //   mov rdx, 2
    //   imul rcx, rdx
    let m = run64(&[
        0x48, 0xB9, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0xBA, 0x02, 0x00, 0x00, 0x00,
        0x48, 0x0F, 0xAF, 0xCA,
    ]);
    assert_eq!(r(&m, RCX), 1 << 63);
    assert_eq!(fl(&m) & (CF | OF), CF | OF);
}

#[test]
fn imul_three_operand_forms() {
    // bits 64
    //   mov ebx, 7
    //   mov rax, -1
    //   imul eax, ebx, -3
    //   pushfq
    //   pop r15
    //   mov rdi, 0x8000
    //   mov qword [rdi], 0x10000
    //   imul rsi, [rdi], 0x10000
    //   mov rdx, 0x1111111111110000
    //   mov cx, 0x100
    //   imul dx, cx, 0x100
    let m = run64(&[
        0xBB, 0x07, 0x00, 0x00, 0x00, 0x48, 0xC7, 0xC0, 0xFF, 0xFF, 0xFF, 0xFF, 0x6B, 0xC3, 0xFD,
        0x9C, 0x41, 0x5F, 0xBF, 0x00, 0x80, 0x00, 0x00, 0x48, 0xC7, 0x07, 0x00, 0x00, 0x01, 0x00,
        0x48, 0x69, 0x37, 0x00, 0x00, 0x01, 0x00, 0x48, 0xBA, 0x00, 0x00, 0x11, 0x11, 0x11, 0x11,
        0x11, 0x11, 0x66, 0xB9, 0x00, 0x01, 0x66, 0x69, 0xD1, 0x00, 0x01,
    ]);
    assert_eq!(r(&m, RAX), 0xFFFF_FFEB);
    assert_eq!(fl15(&m) & (CF | OF), 0);
    assert_eq!(r(&m, RSI), 0x1_0000_0000);
    // 0x100 * 0x100 truncated to 16 bits is 0: overflow, upper bits kept.
    assert_eq!(r(&m, RDX), 0x1111_1111_1111_0000);
    assert_eq!(fl(&m) & (CF | OF), CF | OF);
}

#[test]
fn div_64_and_8() {
    // bits 64
    //   mov rdx, 1
    //   xor eax, eax
    //   mov rbx, 2
    //   div rbx
    //   mov rsi, rax
    //   mov rdi, rdx
    //   mov rax, 0x1111111111110107
    //   mov cl, 0x10
    //   div cl
    let m = run64(&[
        0xBA, 0x01, 0x00, 0x00, 0x00, 0x31, 0xC0, 0xBB, 0x02, 0x00, 0x00, 0x00, 0x48, 0xF7, 0xF3,
        0x48, 0x89, 0xC6, 0x48, 0x89, 0xD7, 0x48, 0xB8, 0x07, 0x01, 0x11, 0x11, 0x11, 0x11, 0x11,
        0x11, 0xB1, 0x10, 0xF6, 0xF1,
    ]);
    assert_eq!(r(&m, RSI), 1 << 63);
    assert_eq!(r(&m, RDI), 0);
    // 0x107 / 0x10 = 0x10 remainder 7: AL = quotient, AH = remainder.
    assert_eq!(r(&m, RAX), 0x1111_1111_1111_0710);
}

#[test]
fn idiv_remainder_takes_dividend_sign() {
    // bits 64
    //   mov rax, -7
    //   cqo
    //   mov rcx, 2
    //   idiv rcx
    //   mov rsi, rax
    //   mov rdi, rdx
    //   mov rax, -1
    //   mov eax, 7
    //   cdq
    //   mov ecx, -2
    //   idiv ecx
    let m = run64(&[
        0x48, 0xC7, 0xC0, 0xF9, 0xFF, 0xFF, 0xFF, 0x48, 0x99, 0xB9, 0x02, 0x00, 0x00, 0x00, 0x48,
        0xF7, 0xF9, 0x48, 0x89, 0xC6, 0x48, 0x89, 0xD7, 0x48, 0xC7, 0xC0, 0xFF, 0xFF, 0xFF, 0xFF,
        0xB8, 0x07, 0x00, 0x00, 0x00, 0x99, 0xB9, 0xFE, 0xFF, 0xFF, 0xFF, 0xF7, 0xF9,
    ]);
    assert_eq!(r(&m, RSI), (-3i64) as u64);
    assert_eq!(r(&m, RDI), u64::MAX);
    assert_eq!(r(&m, RAX), 0xFFFF_FFFD);
    assert_eq!(r(&m, RDX), 1);
}

/// Runs `code`, expects #DE (vector 0) raised by the instruction at
/// CODE + `at`, with RAX still `rax`: a fault leaves the state as before
/// the instruction and pushes its address (SDM Vol. 3A, 6.15).
fn expect_de(code: &[u8], at: u64, rax: u64) {
    let mut m = M::long_with(CpuModel::qemu64());
    assert_eq!(m.run(code), Exit::Vector(0));
    let rsp = r(&m, 4);
    assert_eq!(rsp, STACK - 40, "no error code for #DE");
    assert_eq!(m.peek64(rsp), CODE + at);
    assert_eq!(r(&m, RAX), rax);
}

#[test]
fn div_by_zero_faults() {
    // bits 64
    //   mov eax, 9
    //   xor ebx, ebx
    //   div rbx
    expect_de(
        &[0xB8, 0x09, 0x00, 0x00, 0x00, 0x31, 0xDB, 0x48, 0xF7, 0xF3],
        7,
        9,
    );
}

#[test]
fn div_quotient_too_large_faults() {
    // RDX >= divisor: the quotient does not fit in 64 bits.
    // bits 64
    //   xor eax, eax
    //   mov edx, 2
    //   mov ebx, 2
    //   div rbx
    expect_de(
        &[
            0x31, 0xC0, 0xBA, 0x02, 0x00, 0x00, 0x00, 0xBB, 0x02, 0x00, 0x00, 0x00, 0x48, 0xF7,
            0xF3,
        ],
        12,
        0,
    );
}

#[test]
fn idiv_most_negative_by_minus_one_faults() {
    // -128 / -1 = 128 does not fit in AL; nor does INT64_MIN / -1.
    // bits 64
    //   mov ax, -128
    //   mov bl, -1
    //   idiv bl
    expect_de(&[0x66, 0xB8, 0x80, 0xFF, 0xB3, 0xFF, 0xF6, 0xFB], 6, 0xFF80);
    // bits 64
    //   mov rax, 0x8000000000000000
    //   cqo
    //   mov rbx, -1
    //   idiv rbx
    expect_de(
        &[
            0x48, 0xB8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x48, 0x99, 0x48, 0xC7,
            0xC3, 0xFF, 0xFF, 0xFF, 0xFF, 0x48, 0xF7, 0xFB,
        ],
        19,
        1 << 63,
    );
}

#[test]
fn idiv_8_memory_operand() {
    // bits 64
    //   mov rbx, 0x8000
    //   mov byte [rbx], -3
    //   mov ax, 100
    //   idiv byte [rbx]
    let m = run64(&[
        0xBB, 0x00, 0x80, 0x00, 0x00, 0xC6, 0x03, 0xFD, 0x66, 0xB8, 0x64, 0x00, 0xF6, 0x3B,
    ]);
    // 100 / -3 = -33 remainder 1.
    assert_eq!(r(&m, RAX) & 0xFFFF, 0x01DF);
}

#[test]
fn alu_memory_destinations() {
    // bits 64
    //   mov rbx, 0x8000
    //   mov dword [rbx], 0xFFFFFFFF
    //   mov eax, 2
    //   add [rbx], eax
    //   mov qword [rbx+8], 0
    //   sub qword [rbx+8], 1
    //   mov word [rbx+16], 0xF0F0
    //   xor word [rbx+16], 0xFFFF
    //   mov byte [rbx+18], 0x0F
    //   or byte [rbx+18], 0xF0
    //   mov dword [rbx+20], 3
    //   stc
    //   sbb dword [rbx+20], 1
    let m = run64(&[
        0xBB, 0x00, 0x80, 0x00, 0x00, 0xC7, 0x03, 0xFF, 0xFF, 0xFF, 0xFF, 0xB8, 0x02, 0x00, 0x00,
        0x00, 0x01, 0x03, 0x48, 0xC7, 0x43, 0x08, 0x00, 0x00, 0x00, 0x00, 0x48, 0x83, 0x6B, 0x08,
        0x01, 0x66, 0xC7, 0x43, 0x10, 0xF0, 0xF0, 0x66, 0x83, 0x73, 0x10, 0xFF, 0xC6, 0x43, 0x12,
        0x0F, 0x80, 0x4B, 0x12, 0xF0, 0xC7, 0x43, 0x14, 0x03, 0x00, 0x00, 0x00, 0xF9, 0x83, 0x5B,
        0x14, 0x01,
    ]);
    assert_eq!(m.peek_le(DATA, 4), 1);
    assert_eq!(m.peek64(DATA + 8), u64::MAX);
    assert_eq!(m.peek_le(DATA + 16, 2), 0x0F0F);
    assert_eq!(m.peek(DATA + 18, 1), [0xFF]);
    assert_eq!(m.peek_le(DATA + 20, 4), 1);
    assert_eq!(fl(&m), 0);
}
