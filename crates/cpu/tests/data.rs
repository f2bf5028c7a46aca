//! Data movement in 64-bit mode (SDM Vol. 2, the instruction pages; Vol. 1,
//! 3.4.1.1 for how 8/16/32-bit destinations merge into 64-bit registers):
//! MOV and its extending forms, XCHG, CMOVcc, SETcc, PUSH/POP, BSWAP, the
//! bit tests, double shifts, CMPXCHG/XADD and the single string
//! instructions.

use crate::common::asm::{asm32, asm64};
use crate::common::long64::{r, run64, Exit, M, STACK};
use crate::common::prot32::M32;
use anyx86_cpu::arch::fl::{CF, ZF};
use anyx86_cpu::cpuid::CpuModel;

const DATA: u64 = 0x8000;

#[test]
fn mov_immediate_forms_and_merging() {
    // 8- and 16-bit writes keep the rest of the register; 32-bit writes
    // zero bits 63:32; MOV r64, imm64 and MOV r/m64, imm32 (sign-extended).
    let m = run64(&asm64(
        "mov rax, -1
         mov al, 0x12
         mov rbx, -1
         mov bx, 0x1234
         mov rcx, -1
         mov ecx, 0x12345678
         mov rdx, 0x123456789ABCDEF0
         mov rsi, -0x10
         mov r9, -1
         mov r9b, 0",
    ));
    assert_eq!(r(&m, 0), 0xFFFF_FFFF_FFFF_FF12);
    assert_eq!(r(&m, 3), 0xFFFF_FFFF_FFFF_1234);
    assert_eq!(r(&m, 1), 0x1234_5678);
    assert_eq!(r(&m, 2), 0x1234_5678_9ABC_DEF0);
    assert_eq!(r(&m, 6), (-0x10i64) as u64);
    assert_eq!(r(&m, 9), 0xFFFF_FFFF_FFFF_FF00);
}

#[test]
fn mov_memory_forms_and_moffs64() {
    // MOV with a moffs64 operand (A0-A3 with an 8-byte address) moves
    // between the accumulator and an absolute 64-bit address.
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov qword [rbx], -1
         mov dword [rbx], 0x11223344
         mov word [rbx+8], 0x5566
         mov byte [rbx+10], 0x77
         mov rdx, [rbx]
         mov ecx, [rbx+8]
         mov rax, 0xAABB
         mov [qword 0x8010], rax
         mov qword [rbx+0x18], -2
         mov al, [qword 0x8003]",
    ));
    assert_eq!(r(&m, 2), 0xFFFF_FFFF_1122_3344);
    assert_eq!(r(&m, 1), 0x77_5566);
    assert_eq!(r(&m, 0), 0xAA11);
    assert_eq!(m.peek64(DATA + 0x10), 0xAABB);
    assert_eq!(m.peek64(DATA + 0x18), (-2i64) as u64);
}

#[test]
fn movzx_movsx_movsxd() {
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov dword [rbx], 0x80F0FF85
         mov rax, -1
         movzx eax, byte [rbx]
         movsx rcx, byte [rbx]
         movzx rdx, word [rbx+2]
         movsx esi, word [rbx+2]
         movsxd rdi, dword [rbx]
         mov r8d, 0x7FFFFFFF
         movsxd r9, r8d
         mov r10, -1
         movsx r10w, byte [rbx+1]",
    ));
    assert_eq!(r(&m, 0), 0x85);
    assert_eq!(r(&m, 1), 0xFFFF_FFFF_FFFF_FF85);
    assert_eq!(r(&m, 2), 0x80F0);
    assert_eq!(r(&m, 6), 0xFFFF_80F0);
    assert_eq!(r(&m, 7), 0xFFFF_FFFF_80F0_FF85);
    assert_eq!(r(&m, 9), 0x7FFF_FFFF);
    assert_eq!(r(&m, 10), 0xFFFF_FFFF_FFFF_FFFF);
}

#[test]
fn cbw_cwde_cdqe_cwd_cdq_cqo() {
    let m = run64(&asm64(
        "mov rax, 0x1111111111111180
         cbw
         mov rbx, rax
         mov eax, 0x8000
         cwde
         mov rcx, rax
         mov eax, 0x80000000
         cdqe
         mov rsi, rax
         mov rdx, 0
         cqo",
    ));
    assert_eq!(r(&m, 3), 0x1111_1111_1111_FF80);
    assert_eq!(r(&m, 1), 0xFFFF_8000);
    assert_eq!(r(&m, 6), 0xFFFF_FFFF_8000_0000);
    assert_eq!(r(&m, 2), u64::MAX);
}

#[test]
fn xchg_register_and_memory() {
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov qword [rbx], 0x1111
         mov rax, 0x2222
         mov rcx, 0x3333
         xchg rax, rcx
         mov rdx, 0x4444
         xchg [rbx], rdx
         mov r8, 0x5555
         xchg r8b, [rbx+8]",
    ));
    assert_eq!((r(&m, 0), r(&m, 1)), (0x3333, 0x2222));
    assert_eq!(r(&m, 2), 0x1111);
    assert_eq!(m.peek64(DATA), 0x4444);
    assert_eq!(r(&m, 8), 0x5500);
    assert_eq!(m.peek(DATA + 8, 1), [0x55]);
}

#[test]
fn opcode_90_is_nop_but_xchg_eax_eax_zero_extends() {
    // 0x90 is NOP even in 64-bit mode (it does not zero RAX's upper half),
    // while XCHG EAX, EAX in its ModRM form (87 C0) writes EAX (SDM Vol. 2,
    // XCHG: "XCHG (E)AX, (E)AX (encoded instruction byte is 90H) is an
    // alias for NOP regardless of data size prefixes, including REX.W").
    let m = run64(&asm64(
        "mov rax, -1
         nop
         mov rbx, rax
         db 0x87, 0xC0",
    ));
    assert_eq!(r(&m, 3), u64::MAX);
    assert_eq!(r(&m, 0), 0xFFFF_FFFF);
}

#[test]
fn cmov_taken_and_not_taken() {
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov qword [rbx], 0x77
         mov rax, 1
         mov rcx, 2
         cmp rax, rcx
         cmovb rax, rcx
         mov rdx, 5
         cmova rdx, [rbx]
         cmovbe rsi, [rbx]",
    ));
    assert_eq!(r(&m, 0), 2);
    assert_eq!(r(&m, 2), 5);
    assert_eq!(r(&m, 6), 0x77);
}

#[test]
fn cmov_32_zero_extends_even_when_false() {
    // A 32-bit CMOVcc in 64-bit mode writes the destination whatever the
    // condition, so bits 63:32 are cleared even when no move happens (SDM
    // Vol. 2, CMOVcc: "the upper 32 bits of the destination are cleared").
    let m = run64(&asm64(
        "mov rax, -1
         mov ebx, 7
         xor ecx, ecx
         cmovnz eax, ebx
         mov rdx, -1
         cmovz edx, ebx",
    ));
    assert_eq!(r(&m, 0), 0xFFFF_FFFF);
    assert_eq!(r(&m, 2), 7);
}

#[test]
fn setcc_register_and_memory() {
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov dword [rbx], -1
         mov rax, -1
         mov ecx, 1
         cmp ecx, 2
         setl al
         setg byte [rbx]
         setb byte [rbx+1]
         mov rsi, -1
         setnz sil
         sete ah",
    ));
    assert_eq!(r(&m, 0), 0xFFFF_FFFF_FFFF_0001);
    assert_eq!(m.peek(DATA, 4), [0, 1, 0xFF, 0xFF]);
    assert_eq!(r(&m, 6), 0xFFFF_FFFF_FFFF_FF01);
}

#[test]
fn push_pop_sizes_and_sign_extension() {
    // PUSH imm8/imm32 sign-extend to 64 bits; 0x66 makes a 16-bit push
    // (RSP - 2); POP to memory; PUSH RSP pushes the value before the push.
    let m = run64(&asm64(
        "push byte -1
         push dword -2
         push word 0x1234
         mov rax, rsp
         pop cx
         pop rdx
         pop rsi
         push rsp
         pop rdi
         mov rbx, 0x8000
         push qword 0x55
         pop qword [rbx]
         push qword [rbx]
         pop r11",
    ));
    assert_eq!(r(&m, 0), STACK - 18);
    assert_eq!(r(&m, 1) & 0xFFFF, 0x1234);
    assert_eq!(r(&m, 2), (-2i64) as u64);
    assert_eq!(r(&m, 6), u64::MAX);
    assert_eq!(r(&m, 7), STACK);
    assert_eq!(m.peek64(DATA), 0x55);
    assert_eq!(r(&m, 11), 0x55);
    assert_eq!(r(&m, 4), STACK);
}

#[test]
fn pop_into_rsp_relative_memory_uses_incremented_rsp() {
    // "If the ESP register is used as a base register for addressing a
    // destination operand in memory, the POP instruction computes the
    // effective address of the operand after it increments the ESP
    // register" (SDM Vol. 2, POP).
    let m = run64(&asm64(
        "push qword 0x99
         push qword 0x11
         pop qword [rsp]
         pop rax",
    ));
    assert_eq!(r(&m, 0), 0x11);
}

#[test]
fn bswap_32_and_64() {
    let m = run64(&asm64(
        "mov rax, -1
         mov eax, 0x11223344
         bswap eax
         mov rdx, 0x0102030405060708
         bswap rdx
         mov r12, 0xAABBCCDD
         bswap r12d",
    ));
    assert_eq!(r(&m, 0), 0x4433_2211);
    assert_eq!(r(&m, 2), 0x0807_0605_0403_0201);
    assert_eq!(r(&m, 12), 0xDDCC_BBAA);
}

#[test]
fn bt_family_register_forms() {
    // With a register destination the bit offset is taken modulo the
    // operand size (SDM Vol. 2, BT).
    let m = run64(&asm64(
        "mov rax, 0x8000000000000001
         mov ecx, 63
         bt rax, rcx
         setc bl
         mov ecx, 64
         bts rax, rcx
         setc bh
         btr rax, 63
         mov edx, 0xF0
         btc edx, 36
         setc sil",
    ));
    assert_eq!(r(&m, 3) & 0xFFFF, 0x0101);
    assert_eq!(r(&m, 0), 1);
    assert_eq!(r(&m, 2), 0xE0);
    assert_eq!(r(&m, 6) & 0xFF, 1);
}

#[test]
fn bt_memory_bit_offset_reaches_beyond_the_operand() {
    // With a memory operand and a register offset, the offset addresses a
    // bit string of any length, negative offsets included (SDM Vol. 2, BT,
    // 3.1.1.11); with an immediate it is taken modulo the operand size.
    let m = run64(&asm64(
        "mov rbx, 0x8010
         mov rcx, 100
         bts qword [rbx], rcx
         setc al
         mov rcx, -1
         bts dword [rbx], ecx
         mov rdx, 131
         btc word [rbx], dx
         bts dword [rbx], 33
         bt qword [rbx], rcx
         setc ah",
    ));
    // Bit 100 is byte 12, bit 4.
    assert_eq!(m.peek(DATA + 0x10 + 12, 1), [0x10]);
    // Bit -1 is bit 7 of the byte before.
    assert_eq!(m.peek(DATA + 0x0F, 1), [0x80]);
    // Bit 131 (16-bit form) is byte 16, bit 3.
    assert_eq!(m.peek(DATA + 0x10 + 16, 1), [0x08]);
    // Immediate 33 on a dword is bit 1.
    assert_eq!(m.peek(DATA + 0x10, 1), [0x02]);
    assert_eq!(r(&m, 0) & 0xFFFF, 0x0100);
}

#[test]
fn btr_btc_memory_and_flags() {
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov qword [rbx], -1
         mov ecx, 40
         btr [rbx], ecx
         setc al
         btr [rbx], ecx
         setc ah",
    ));
    assert_eq!(m.peek64(DATA), !(1u64 << 40));
    assert_eq!(r(&m, 0) & 0xFFFF, 0x0001);
}

#[test]
fn shld_shrd() {
    let m = run64(&asm64(
        "mov eax, 0x12345678
         mov ebx, 0x9ABCDEF0
         shld eax, ebx, 8
         mov rdx, 0x1122334455667788
         mov rsi, 0xAABBCCDDEEFF0011
         mov cl, 16
         shrd rdx, rsi, cl
         mov rbx, 0x8000
         mov word [rbx], 0x8001
         mov di, 0xFFFF
         shrd word [rbx], di, 1",
    ));
    assert_eq!(r(&m, 0), 0x3456_789A);
    assert_eq!(r(&m, 2), 0x0011_1122_3344_5566);
    assert_eq!(m.peek_le(DATA, 2), 0xC000);
    // The bit shifted out last was bit 0 = 1.
    assert_eq!(m.cpu.s.eflags() & CF, CF);
}

#[test]
fn shld_by_zero_changes_nothing() {
    let m = run64(&asm64(
        "mov rax, 0x1122334455667788
         mov rbx, -1
         stc
         mov cl, 64
         shld rax, rbx, cl",
    ));
    assert_eq!(r(&m, 0), 0x1122_3344_5566_7788);
    assert_eq!(m.cpu.s.eflags() & CF, CF);
}

#[test]
fn cmpxchg_equal_and_not_equal() {
    // Equal: ZF = 1, the destination gets the source. Not equal: ZF = 0,
    // the accumulator gets the destination (SDM Vol. 2, CMPXCHG).
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov qword [rbx], 10
         mov rax, 10
         mov rcx, 20
         lock cmpxchg [rbx], rcx
         setz dl
         mov rax, 11
         cmpxchg [rbx], rcx
         setz dh
         mov rsi, 5
         mov rdi, 6
         mov al, 5
         cmpxchg sil, dil",
    ));
    assert_eq!(m.peek64(DATA), 20);
    assert_eq!(r(&m, 2) & 0xFFFF, 0x0001);
    assert_eq!(r(&m, 6), 6);
    assert_eq!(r(&m, 0) & 0xFF, 5);
    assert_eq!(m.cpu.s.eflags() & ZF, ZF);
}

#[test]
fn cmpxchg_not_equal_loads_the_accumulator() {
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov qword [rbx], 0x1234
         mov rax, 1
         mov rcx, 2
         cmpxchg [rbx], rcx",
    ));
    assert_eq!(r(&m, 0), 0x1234);
    assert_eq!(m.peek64(DATA), 0x1234);
    assert_eq!(m.cpu.s.eflags() & ZF, 0);
}

#[test]
fn cmpxchg8b_and_16b() {
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov rdi, rbx
         mov rax, 0x22222222_11111111
         mov [rdi], rax
         mov eax, 0x11111111
         mov edx, 0x22222222
         mov ebx, 0x44444444
         mov ecx, 0x33333333
         cmpxchg8b [rdi]
         setz r8b
         mov qword [rdi+16], 5
         mov qword [rdi+24], 6
         xor eax, eax
         xor edx, edx
         cmpxchg16b [rdi+16]",
    ));
    assert_eq!(m.peek64(DATA), 0x3333_3333_4444_4444);
    assert_eq!(r(&m, 8) & 0xFF, 1);
    // The 16-byte compare fails: RDX:RAX gets the memory.
    assert_eq!((r(&m, 0), r(&m, 2)), (5, 6));
    assert_eq!(m.cpu.s.eflags() & ZF, 0);
}

#[test]
fn cmpxchg16b_misaligned_faults() {
    // "the destination operand must be 16-byte aligned or a #GP is
    // generated" (SDM Vol. 2, CMPXCHG8B/CMPXCHG16B).
    let mut m = M::long_with(CpuModel::qemu64());
    assert_eq!(
        m.run(&asm64(
            "mov rdi, 0x8008
             cmpxchg16b [rdi]",
        )),
        Exit::Vector(13)
    );
}

#[test]
fn xadd_register_and_memory() {
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov dword [rbx], 0xFFFFFFFF
         mov ecx, 1
         lock xadd [rbx], ecx
         mov rax, 3
         mov rdx, 4
         xadd rax, rdx",
    ));
    assert_eq!(m.peek_le(DATA, 4), 0);
    assert_eq!(r(&m, 1), 0xFFFF_FFFF);
    assert_eq!((r(&m, 0), r(&m, 2)), (7, 3));
}

#[test]
fn string_ops_forward() {
    let m = run64(&asm64(
        "mov rsi, 0x8000
         mov rdi, 0x8100
         mov rax, 0x0807060504030201
         mov [rsi], rax
         movsb
         movsq
         mov rax, 0x1122334455667788
         stosd
         mov rsi, 0x8000
         lodsw
         mov rdi, 0x8000
         mov al, 1
         scasb
         setz cl
         mov rsi, 0x8001
         mov rdi, 0x8101
         cmpsb
         setz ch",
    ));
    assert_eq!(m.peek(0x8100, 1), [1]);
    // MOVSQ copied the qword at 0x8001 (bytes 2..8, then a zero).
    assert_eq!(m.peek_le(0x8101, 8), 0x0008_0706_0504_0302);
    assert_eq!(m.peek_le(0x8109, 4), 0x5566_7788);
    assert_eq!(r(&m, 0) & 0xFFFF, 0x0201);
    assert_eq!(r(&m, 1) & 0xFFFF, 0x0101);
    assert_eq!((r(&m, 6), r(&m, 7)), (0x8002, 0x8102));
}

#[test]
fn string_ops_backward_with_df() {
    // With DF = 1 the index registers step down by the element size.
    let m = run64(&asm64(
        "std
         mov rsi, 0x8008
         mov rdi, 0x8108
         mov qword [rsi], 0x1234
         movsq
         mov eax, 0xAB
         stosw
         cld",
    ));
    assert_eq!(m.peek64(0x8108), 0x1234);
    assert_eq!(m.peek_le(0x8100, 2), 0xAB);
    assert_eq!((r(&m, 6), r(&m, 7)), (0x8000, 0x80FE));
}

#[test]
fn prot32_push_pop_and_movs() {
    // In 32-bit code PUSH imm8 sign-extends to 32 bits and 0x66 gives a
    // 16-bit push; MOVSD steps ESI/EDI by 4.
    let mut m = M32::prot();
    assert_eq!(
        m.run(&asm32(
            "push byte -1
             push word 0x1234
             mov eax, esp
             pop bx
             pop ecx
             mov esi, 0x8000
             mov edi, 0x8100
             mov dword [esi], 0xCAFEBABE
             movsd",
        )),
        Exit::Done
    );
    assert_eq!(m.r(0) as u64, STACK - 6);
    assert_eq!(m.r(3) & 0xFFFF, 0x1234);
    assert_eq!(m.r(1), 0xFFFF_FFFF);
    assert_eq!(m.peek32(0x8100), 0xCAFE_BABE);
    assert_eq!((m.r(6), m.r(7)), (0x8004, 0x8104));
}

#[test]
fn cmpxchg_32_register_destination_in_64_bit_mode() {
    // On a mismatch the SDM's pseudocode writes DEST back, but for a
    // register destination hardware leaves it untouched, upper half
    // included (QEMU's gen_CMPXCHG follows the hardware and says so); the
    // accumulator gets the zero-extended old value. On a match the
    // destination is written (zero-extended) and the accumulator is not
    // written at all, so RAX keeps its upper half.
    let m = run64(&asm64(
        "mov rcx, -1
         xor eax, eax
         mov edx, 1
         cmpxchg ecx, edx
         mov rsi, rcx
         mov rdi, rax
         mov rax, 0xFFFFFFFF00000005
         mov rcx, 0xAAAAAAAA00000005
         mov edx, 7
         cmpxchg ecx, edx",
    ));
    assert_eq!(r(&m, 6), u64::MAX);
    assert_eq!(r(&m, 7), 0xFFFF_FFFF);
    assert_eq!(r(&m, 1), 7);
    assert_eq!(r(&m, 0), 0xFFFF_FFFF_0000_0005);
}

#[test]
fn xchg_and_xadd_32_zero_extend_both() {
    let m = run64(&asm64(
        "mov rax, -1
         mov rbx, 0x1111111122222222
         xchg eax, ebx
         mov rcx, -1
         mov rdx, -1
         xadd ecx, edx",
    ));
    assert_eq!((r(&m, 0), r(&m, 3)), (0x2222_2222, 0xFFFF_FFFF));
    assert_eq!((r(&m, 1), r(&m, 2)), (0xFFFF_FFFE, 0xFFFF_FFFF));
}

#[test]
fn pop_16_bit_register_in_64_bit_mode() {
    // 0x66 POP pops 2 bytes and writes only the low word.
    let m = run64(&asm64(
        "push qword 0x12345678
         mov rax, -1
         pop ax
         mov rbx, rsp
         pop cx
         pop dx
         pop si",
    ));
    assert_eq!(r(&m, 0), 0xFFFF_FFFF_FFFF_5678);
    assert_eq!(r(&m, 3), STACK - 6);
    assert_eq!(r(&m, 1) & 0xFFFF, 0x1234);
    assert_eq!(r(&m, 4), STACK);
}
