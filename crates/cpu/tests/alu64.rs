//! Integer ALU instructions in 64-bit mode (SDM Vol. 2, the instruction
//! pages; flags per Vol. 1, 3.4.3 and Appendix A): results and the flags
//! each defines, at 8/16/32/64 bits, register and memory forms. Each test
//! runs real instruction bytes (assembled from the nasm source it holds)
//! on a flat 64-bit machine. Where a test reads the flags in the middle of
//! its code it does so with `pushfq; pop r15`.

use crate::common::asm::asm64;
use crate::common::long64::{r, run64, Exit, CODE, M, STACK};
use anyx86_cpu::arch::fl::{AF, ARITH, CF, OF, PF, SF, ZF};
use anyx86_cpu::arch::reg::{AX, BX, CX, DI, DX, SI};
use anyx86_cpu::cpuid::CpuModel;

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

#[test]
fn add_64_carry_out_sets_cf_zf_af_pf() {
    let m = run64(&asm64(
        "mov rax, -1
         add rax, 1",
    ));
    assert_eq!(r(&m, AX), 0);
    assert_eq!(fl(&m), CF | PF | AF | ZF);
}

#[test]
fn add_32_overflow_and_upper_half_zeroed() {
    // A 32-bit destination zero-extends into the full register (SDM Vol. 1,
    // 3.4.1.1); 0x7FFFFFFF + 1 overflows into the sign bit.
    let m = run64(&asm64(
        "mov rax, 0x123456787FFFFFFF
         add eax, 1",
    ));
    assert_eq!(r(&m, AX), 0x8000_0000);
    assert_eq!(fl(&m), OF | SF | AF | PF);
}

#[test]
fn adc_and_sbb_consume_carry() {
    let m = run64(&asm64(
        "stc
         mov rax, 5
         adc rax, 0
         mov rcx, -1
         mov ecx, 0
         stc
         sbb ecx, 0",
    ));
    assert_eq!(r(&m, AX), 6);
    assert_eq!(r(&m, CX), 0xFFFF_FFFF);
    assert_eq!(fl(&m), CF | SF | AF | PF);
}

#[test]
fn adc_64_carry_chain_through_memory() {
    // A 128-bit add: low halves with ADD, high halves with ADC from memory.
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov qword [rbx], -1
         mov qword [rbx+8], 1
         add qword [rbx], 1
         adc qword [rbx+8], 0",
    ));
    assert_eq!(m.peek64(DATA), 0);
    assert_eq!(m.peek64(DATA + 8), 2);
    assert_eq!(fl(&m) & (CF | ZF), 0);
}

#[test]
fn sub_8_signed_overflow_keeps_upper_bytes() {
    let m = run64(&asm64(
        "mov rax, 0x1111111111111180
         sub al, 1",
    ));
    assert_eq!(r(&m, AX), 0x1111_1111_1111_117F);
    assert_eq!(fl(&m), OF | AF);
}

#[test]
fn sub_16_borrow() {
    let m = run64(&asm64(
        "mov rdx, 0x5555555555550001
         sub dx, 2",
    ));
    assert_eq!(r(&m, DX), 0x5555_5555_5555_FFFF);
    assert_eq!(fl(&m), CF | SF | AF | PF);
}

#[test]
fn imm32_and_imm8_sign_extend_to_64() {
    // In 64-bit mode an imm32 (or imm8) operand of a 64-bit operation is
    // sign-extended to 64 bits (SDM Vol. 2, 2.2.1.5).
    let m = run64(&asm64(
        "xor eax, eax
         add rax, -0x80000000
         mov rcx, -1
         and rcx, 0x7FFFFFFF
         mov rdx, 0
         sub rdx, byte 1
         mov rsi, -2
         xor ebx, ebx
         or rbx, 0x40000000",
    ));
    assert_eq!(r(&m, AX), 0xFFFF_FFFF_8000_0000);
    assert_eq!(r(&m, CX), 0x7FFF_FFFF);
    assert_eq!(r(&m, DX), u64::MAX);
    assert_eq!(r(&m, SI), 0xFFFF_FFFF_FFFF_FFFE);
    assert_eq!(r(&m, BX), 0x4000_0000);
}

#[test]
fn logic_ops_clear_cf_and_of() {
    // AND/OR/XOR/TEST clear CF and OF, set SF/ZF/PF by the result; AF is
    // undefined (SDM Vol. 2, AND).
    let m = run64(&asm64(
        "mov rax, -1
         stc
         and eax, 0xF0
         pushfq
         pop r15
         mov rcx, 0x8000000000000000
         stc
         or rcx, 1",
    ));
    assert_eq!(r(&m, AX), 0xF0);
    assert_eq!(fl15(&m) & !AF, PF);
    assert_eq!(r(&m, CX), 0x8000_0000_0000_0001);
    assert_eq!(fl(&m) & !AF, SF);
}

#[test]
fn xor_self_zeroes_and_test_does_not_write() {
    let m = run64(&asm64(
        "mov r8, -1
         xor r8d, r8d
         pushfq
         pop r15
         mov eax, 0x80
         test al, al",
    ));
    assert_eq!(r(&m, 8), 0);
    assert_eq!(fl15(&m) & !AF, ZF | PF);
    assert_eq!(r(&m, AX), 0x80);
    assert_eq!(fl(&m) & !AF, SF);
}

#[test]
fn cmp_sets_flags_without_writing() {
    // CMP is SUB without the store: 1 - 2 borrows and is negative.
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov dword [rbx], 1
         mov eax, 2
         cmp [rbx], eax",
    ));
    assert_eq!(m.peek_le(DATA, 4), 1);
    assert_eq!(r(&m, AX), 2);
    assert_eq!(fl(&m), CF | SF | AF | PF);
}

#[test]
fn high_byte_registers_vs_rex() {
    // Without REX, byte registers 4-7 are AH, CH, DH, BH; with any REX
    // prefix they are SPL, BPL, SIL, DIL (SDM Vol. 1, 3.7.2.1).
    let m = run64(&asm64(
        "mov rcx, 0x1122
         mov rbp, 0x3344
         xor ebx, ebx
         xor edx, edx
         mov bl, ch
         mov dl, bpl
         xor eax, eax
         mov ah, 0xAA
         mov rdi, 0x7700
         mov dil, 0x55",
    ));
    assert_eq!(r(&m, BX), 0x11);
    assert_eq!(r(&m, DX), 0x44);
    assert_eq!(r(&m, AX), 0xAA00);
    assert_eq!(r(&m, DI), 0x7755);
}

#[test]
fn inc_dec_leave_cf() {
    // INC and DEC set OF, SF, ZF, AF, PF but leave CF (SDM Vol. 2, INC).
    let m = run64(&asm64(
        "stc
         mov eax, -1
         inc eax
         pushfq
         pop r15
         clc
         mov bl, 0x80
         dec bl",
    ));
    assert_eq!(r(&m, AX), 0);
    assert_eq!(fl15(&m), CF | ZF | AF | PF);
    assert_eq!(r(&m, BX) & 0xFF, 0x7F);
    assert_eq!(fl(&m), OF | AF);
}

#[test]
fn inc_memory_and_r8_to_r15() {
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov byte [rbx+16], 0xFF
         inc byte [rbx+16]
         mov r12, 0x7FFFFFFFFFFFFFFF
         inc r12",
    ));
    assert_eq!(m.peek(DATA + 16, 1), [0]);
    assert_eq!(r(&m, 12), 1 << 63);
    assert_eq!(fl(&m), OF | SF | AF | PF);
}

#[test]
fn neg_flags() {
    // NEG: CF = (source != 0); OF when negating the most negative value.
    let m = run64(&asm64(
        "mov rax, 1
         neg rax
         pushfq
         pop r15
         mov rbx, 0
         neg rbx
         pushfq
         pop r14
         mov rcx, 0x8000000000000000
         neg rcx",
    ));
    assert_eq!(r(&m, AX), u64::MAX);
    assert_eq!(fl15(&m), CF | SF | AF | PF);
    assert_eq!(r(&m, BX), 0);
    assert_eq!(r(&m, 14) as u32 & ARITH, ZF | PF);
    assert_eq!(r(&m, CX), 1 << 63);
    assert_eq!(fl(&m), CF | OF | SF | PF);
}

#[test]
fn neg_word_in_memory() {
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov word [rbx], 5
         neg word [rbx]",
    ));
    assert_eq!(m.peek_le(DATA, 2), 0xFFFB);
    assert_eq!(fl(&m), CF | SF | AF);
}

#[test]
fn not_changes_no_flags() {
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov dword [rbx], 0x0F0F0F0F
         mov rax, 0xFF
         stc
         not rax
         not dword [rbx]",
    ));
    assert_eq!(r(&m, AX), 0xFFFF_FFFF_FFFF_FF00);
    assert_eq!(m.peek_le(DATA, 4), 0xF0F0_F0F0);
    assert_eq!(fl(&m) & CF, CF);
}

#[test]
fn shift_count_masked_to_6_or_5_bits() {
    // The count is masked to 6 bits with REX.W, else to 5 (SDM Vol. 2,
    // SAL/SAR/SHL/SHR).
    let m = run64(&asm64(
        "mov cl, 65
         mov eax, 1
         shl rax, cl
         mov ebx, 1
         shl ebx, cl
         mov cl, 33
         mov edx, 1
         shl rdx, cl
         mov esi, 1
         shl esi, cl",
    ));
    assert_eq!(r(&m, AX), 2);
    assert_eq!(r(&m, BX), 2);
    assert_eq!(r(&m, DX), 1 << 33);
    assert_eq!(r(&m, SI), 2);
}

#[test]
fn shift_by_zero_leaves_flags() {
    // "If the count is 0, the flags are not affected" (SDM Vol. 2, SAL).
    // CL = 32 masks to 0 for a 32-bit shift; CMP 0, 1 set CF SF AF PF.
    let m = run64(&asm64(
        "mov ebx, 5
         mov cl, 32
         xor eax, eax
         cmp eax, 1
         shl ebx, cl
         sar ebx, cl
         rol ebx, cl
         rcr ebx, cl",
    ));
    assert_eq!(r(&m, BX), 5);
    assert_eq!(fl(&m), CF | SF | AF | PF);
}

#[test]
fn shl_and_shr_by_one_set_cf_and_of() {
    // For 1-bit shifts OF = MSB(result) XOR CF for SHL, and the original
    // MSB for SHR.
    let m = run64(&asm64(
        "mov al, 0xC0
         shl al, 1
         pushfq
         pop r15
         mov bl, 0x40
         shl bl, 1
         pushfq
         pop r14
         mov cl, 0x81
         shr cl, 1",
    ));
    assert_eq!(r(&m, AX) & 0xFF, 0x80);
    assert_eq!(fl15(&m) & !AF, CF | SF);
    assert_eq!(r(&m, BX) & 0xFF, 0x80);
    assert_eq!(r(&m, 14) as u32 & ARITH & !AF, OF | SF);
    assert_eq!(r(&m, CX) & 0xFF, 0x40);
    assert_eq!(fl(&m) & !AF, CF | OF);
}

#[test]
fn sar_keeps_sign() {
    let m = run64(&asm64(
        "mov rax, -5
         sar rax, 1
         pushfq
         pop r15
         mov edx, 0x80000000
         mov cl, 31
         sar edx, cl",
    ));
    assert_eq!(r(&m, AX), (-3i64) as u64);
    assert_eq!(fl15(&m) & (CF | OF | SF), CF | SF);
    assert_eq!(r(&m, DX), 0xFFFF_FFFF);
}

#[test]
fn shift_memory_operand() {
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov dword [rbx], 0x10000001
         shl dword [rbx], 4
         mov qword [rbx+8], 0x100
         shr qword [rbx+8], 9",
    ));
    assert_eq!(m.peek_le(DATA, 4), 0x10);
    assert_eq!(m.peek64(DATA + 8), 0);
    // SHR 0x100 by 9: the last bit shifted out is bit 8 = 1.
    assert_eq!(fl(&m) & (CF | ZF), CF | ZF);
}

#[test]
fn rol_ror_flags() {
    // ROL: CF = LSB of the result, OF (count 1) = MSB XOR CF. ROR: CF = MSB
    // of the result, OF = the XOR of its two top bits.
    let m = run64(&asm64(
        "mov al, 0x81
         rol al, 1
         pushfq
         pop r15
         mov bl, 0x01
         ror bl, 1
         mov rdx, 0x8000000000000001
         rol rdx, 4",
    ));
    assert_eq!(r(&m, AX) & 0xFF, 0x03);
    assert_eq!(fl15(&m) & (CF | OF), CF | OF);
    assert_eq!(r(&m, BX) & 0xFF, 0x80);
    assert_eq!(r(&m, DX), 0x18);
    // ROL by 4: CF = LSB of the result = 0.
    assert_eq!(fl(&m) & CF, 0);
}

#[test]
fn rcl_rcr_rotate_through_carry() {
    let m = run64(&asm64(
        "stc
         mov al, 0x80
         rcl al, 1
         pushfq
         pop r15
         clc
         mov bl, 0x01
         rcr bl, 1",
    ));
    assert_eq!(r(&m, AX) & 0xFF, 0x01);
    assert_eq!(fl15(&m) & CF, CF);
    assert_eq!(r(&m, BX) & 0xFF, 0);
    assert_eq!(fl(&m) & CF, CF);
}

#[test]
fn rcl_8_and_16_count_is_modulo_9_and_17() {
    // RCL/RCR of 8 (16) bits rotate 9 (17) bits: the masked count is taken
    // modulo 9 (17), so 9 (17) is the identity (SDM Vol. 2, RCL).
    let m = run64(&asm64(
        "clc
         mov dl, 0x5A
         mov cl, 9
         rcl dl, cl
         mov si, 0x1234
         mov cl, 17
         rcl si, cl
         mov di, 0x8000
         mov cl, 18
         rcl di, cl",
    ));
    assert_eq!(r(&m, DX) & 0xFF, 0x5A);
    assert_eq!(r(&m, SI) & 0xFFFF, 0x1234);
    // 18 mod 17 = 1: bit 15 goes to CF, CF (0) to bit 0.
    assert_eq!(r(&m, DI) & 0xFFFF, 0);
    assert_eq!(fl(&m) & CF, CF);
}

#[test]
fn mul_64_full_product() {
    let m = run64(&asm64(
        "mov rax, 0x100000000
         mov rbx, 0x100000003
         mul rbx",
    ));
    assert_eq!(r(&m, AX), 0x3_0000_0000);
    assert_eq!(r(&m, DX), 1);
    assert_eq!(fl(&m) & (CF | OF), CF | OF);
}

#[test]
fn mul_small_product_clears_cf_of() {
    let m = run64(&asm64(
        "mov rdx, -1
         mov rax, 3
         mov rcx, 5
         stc
         mul rcx",
    ));
    assert_eq!((r(&m, AX), r(&m, DX)), (15, 0));
    assert_eq!(fl(&m) & (CF | OF), 0);
}

#[test]
fn mul_8_writes_ax_only() {
    let m = run64(&asm64(
        "mov rax, 0x1111111111111110
         mov bl, 0x10
         mul bl",
    ));
    assert_eq!(r(&m, AX), 0x1111_1111_1111_0100);
    assert_eq!(fl(&m) & (CF | OF), CF | OF);
}

#[test]
fn mul_32_zeroes_upper_halves() {
    let m = run64(&asm64(
        "mov rax, -1
         mov rdx, -1
         mov ecx, 2
         mul ecx",
    ));
    assert_eq!(r(&m, AX), 0xFFFF_FFFE);
    assert_eq!(r(&m, DX), 1);
}

#[test]
fn mul_memory_operand() {
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov qword [rbx], 7
         mov rax, 6
         mul qword [rbx]",
    ));
    assert_eq!((r(&m, AX), r(&m, DX)), (42, 0));
}

#[test]
fn imul_one_operand_signed() {
    let m = run64(&asm64(
        "mov rax, -2
         mov rbx, 3
         imul rbx",
    ));
    assert_eq!(r(&m, AX), (-6i64) as u64);
    assert_eq!(r(&m, DX), u64::MAX);
    // RDX:RAX is the sign extension of RAX: no overflow.
    assert_eq!(fl(&m) & (CF | OF), 0);
}

#[test]
fn imul_two_operand_overflow() {
    let m = run64(&asm64(
        "mov rcx, 0x4000000000000000
         mov rdx, 2
         imul rcx, rdx",
    ));
    assert_eq!(r(&m, CX), 1 << 63);
    assert_eq!(fl(&m) & (CF | OF), CF | OF);
}

#[test]
fn imul_three_operand_forms() {
    let m = run64(&asm64(
        "mov ebx, 7
         mov rax, -1
         imul eax, ebx, -3
         pushfq
         pop r15
         mov rdi, 0x8000
         mov qword [rdi], 0x10000
         imul rsi, [rdi], 0x10000
         mov rdx, 0x1111111111110000
         mov cx, 0x100
         imul dx, cx, 0x100",
    ));
    assert_eq!(r(&m, AX), 0xFFFF_FFEB);
    assert_eq!(fl15(&m) & (CF | OF), 0);
    assert_eq!(r(&m, SI), 0x1_0000_0000);
    // 0x100 * 0x100 truncated to 16 bits is 0: overflow, upper bits kept.
    assert_eq!(r(&m, DX), 0x1111_1111_1111_0000);
    assert_eq!(fl(&m) & (CF | OF), CF | OF);
}

#[test]
fn imul_flags_read_while_pending() {
    // IMUL r, r/m leaves its flags pending; what reads them (SETcc, a
    // Jcc, PUSHF) sees SF and PF of the low half, ZF = AF = 0 and CF = OF
    // = overflow, as on Intel's recent cores.
    let m = run64(&asm64(
        "mov ebx, 0x10000
         imul ebx, ebx
         setz al
         setp ah
         seto cl
         setc ch
         sets dl
         pushfq
         pop r15
         jz imul_bad
         mov rsi, -3
         imul rsi, rsi, 5
         sets bl
         setp bh
         pushfq
         pop rdi
         jmp imul_end
         imul_bad: mov eax, 0xBAD
         imul_end:",
    ));
    // The low half is 0 (0x1_0000_0000 in 32 bits), yet ZF is 0.
    assert_eq!(r(&m, AX) & 0xFFFF, 0x0100, "setz, setp");
    assert_eq!(r(&m, CX) & 0xFFFF, 0x0101, "seto, setc");
    assert_eq!(r(&m, DX) & 0xFF, 0, "sets");
    assert_eq!(r(&m, 15) as u32 & ARITH, CF | OF | PF);
    // -15: SF set, 0xF1 has five bits set (PF 0), no overflow.
    assert_eq!(r(&m, SI), (-15i64) as u64);
    assert_eq!(r(&m, BX) & 0xFFFF, 0x0001, "sets, setp");
    assert_eq!(r(&m, DI) as u32 & ARITH, SF);
}

#[test]
fn div_64_and_8() {
    let m = run64(&asm64(
        "mov rdx, 1
         xor eax, eax
         mov rbx, 2
         div rbx
         mov rsi, rax
         mov rdi, rdx
         mov rax, 0x1111111111110107
         mov cl, 0x10
         div cl",
    ));
    assert_eq!(r(&m, SI), 1 << 63);
    assert_eq!(r(&m, DI), 0);
    // 0x107 / 0x10 = 0x10 remainder 7: AL = quotient, AH = remainder.
    assert_eq!(r(&m, AX), 0x1111_1111_1111_0710);
}

#[test]
fn idiv_remainder_takes_dividend_sign() {
    let m = run64(&asm64(
        "mov rax, -7
         cqo
         mov rcx, 2
         idiv rcx
         mov rsi, rax
         mov rdi, rdx
         mov rax, -1
         mov eax, 7
         cdq
         mov ecx, -2
         idiv ecx",
    ));
    assert_eq!(r(&m, SI), (-3i64) as u64);
    assert_eq!(r(&m, DI), u64::MAX);
    assert_eq!(r(&m, AX), 0xFFFF_FFFD);
    assert_eq!(r(&m, DX), 1);
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
    assert_eq!(r(&m, AX), rax);
}

#[test]
fn div_by_zero_faults() {
    expect_de(
        &asm64(
            "mov eax, 9
             xor ebx, ebx
             div rbx",
        ),
        7,
        9,
    );
}

#[test]
fn div_quotient_too_large_faults() {
    // RDX >= divisor: the quotient does not fit in 64 bits.
    expect_de(
        &asm64(
            "xor eax, eax
             mov edx, 2
             mov ebx, 2
             div rbx",
        ),
        12,
        0,
    );
}

#[test]
fn idiv_most_negative_by_minus_one_faults() {
    // -128 / -1 = 128 does not fit in AL; nor does INT64_MIN / -1.
    expect_de(
        &asm64(
            "mov ax, -128
         mov bl, -1
         idiv bl",
        ),
        6,
        0xFF80,
    );
    expect_de(
        &asm64(
            "mov rax, 0x8000000000000000
             cqo
             mov rbx, -1
             idiv rbx",
        ),
        19,
        1 << 63,
    );
}

#[test]
fn idiv_8_memory_operand() {
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov byte [rbx], -3
         mov ax, 100
         idiv byte [rbx]",
    ));
    // 100 / -3 = -33 remainder 1.
    assert_eq!(r(&m, AX) & 0xFFFF, 0x01DF);
}

#[test]
fn alu_memory_destinations() {
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov dword [rbx], 0xFFFFFFFF
         mov eax, 2
         add [rbx], eax
         mov qword [rbx+8], 0
         sub qword [rbx+8], 1
         mov word [rbx+16], 0xF0F0
         xor word [rbx+16], 0xFFFF
         mov byte [rbx+18], 0x0F
         or byte [rbx+18], 0xF0
         mov dword [rbx+20], 3
         stc
         sbb dword [rbx+20], 1",
    ));
    assert_eq!(m.peek_le(DATA, 4), 1);
    assert_eq!(m.peek64(DATA + 8), u64::MAX);
    assert_eq!(m.peek_le(DATA + 16, 2), 0x0F0F);
    assert_eq!(m.peek(DATA + 18, 1), [0xFF]);
    assert_eq!(m.peek_le(DATA + 20, 4), 1);
    assert_eq!(fl(&m), 0);
}
