//! Effective-address shapes (SDM Vol. 2, 2.1.5 Tables 2-1 to 2-3 for 16-
//! and 32-bit addressing, 2.2.1 for 64-bit: REX, RIP-relative, and the
//! special encodings): each test loads through one shape from a block of
//! memory where every qword holds a tag and its own address, so the value
//! read tells the address the CPU formed. LEA checks the same arithmetic
//! without a memory access.

use crate::common::asm::{asm32, asm64};
use crate::common::long64::{r, Exit, CODE, M, STACK};
use crate::common::prot32::M32;
use anyx86_cpu::arch::{sreg, Segment};
use anyx86_cpu::cpuid::CpuModel;

/// The tagged block: qword at address a (8-aligned) holds TAG | a.
const DATA: u64 = 0x8000;
const TAG: u64 = 0x5A00_0000_0000_0000;

fn long() -> M {
    let mut m = M::long_with(CpuModel::qemu64());
    for a in (DATA..DATA + 0x2000).step_by(8) {
        m.poke64(a, TAG | a);
    }
    m
}

fn run64(code: &[u8]) -> M {
    let mut m = long();
    assert_eq!(m.run(code), Exit::Done);
    m
}

fn prot() -> M32 {
    let mut m = M32::prot();
    for a in (DATA..DATA + 0x2000).step_by(8) {
        m.poke64(a, TAG | a);
    }
    m
}

fn run32(code: &[u8]) -> M32 {
    let mut m = prot();
    assert_eq!(m.run(code), Exit::Done);
    m
}

#[test]
fn base_and_displacements() {
    let m = run64(&asm64(
        "mov rbx, 0x8100
         mov rax, [rbx]
         mov rcx, [rbx+0x10]
         mov rdx, [rbx-8]
         mov rsi, [rbx+0x1000]
         mov rbp, 0x9100
         mov rdi, [rbp-0x1000]",
    ));
    assert_eq!(r(&m, 0), TAG | 0x8100);
    assert_eq!(r(&m, 1), TAG | 0x8110);
    assert_eq!(r(&m, 2), TAG | 0x80F8);
    assert_eq!(r(&m, 6), TAG | 0x9100);
    assert_eq!(r(&m, 7), TAG | 0x8100);
}

#[test]
fn base_index_scale_disp() {
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov rcx, 3
         mov rax, [rbx+rcx*8]
         mov rdx, [rbx+rcx*8+0x20]
         mov rsi, [rbx+rcx*4+0x104]
         mov rdi, [rbx+rcx*2+0x1002]
         mov r8, [rbx+rcx+0x15]",
    ));
    assert_eq!(r(&m, 0), TAG | 0x8018);
    assert_eq!(r(&m, 2), TAG | 0x8038);
    assert_eq!(r(&m, 6), TAG | 0x8110);
    assert_eq!(r(&m, 7), TAG | 0x9008);
    assert_eq!(r(&m, 8), TAG | 0x8018);
}

#[test]
fn negative_index_wraps_in_64_bits() {
    let m = run64(&asm64(
        "mov rbx, 0x8100
         mov rcx, -2
         mov rax, [rbx+rcx*8]
         lea rdx, [rcx*4]",
    ));
    assert_eq!(r(&m, 0), TAG | 0x80F0);
    assert_eq!(r(&m, 2), (-8i64) as u64);
}

#[test]
fn index_scale_without_base() {
    // SIB base 101 with mod 00: no base, a disp32 (Table 2-3 note).
    let m = run64(&asm64(
        "mov rcx, 4
         mov rax, [rcx*8+0x8000]
         mov rdx, [abs 0x8040]",
    ));
    assert_eq!(r(&m, 0), TAG | 0x8020);
    assert_eq!(r(&m, 2), TAG | 0x8040);
}

#[test]
fn sib_base_101_with_rex_b_is_still_no_base() {
    // REX.B does not make SIB base 101 (mod 00) mean R13: the address is
    // the disp32 alone (SDM Vol. 2, 2.2.1.2, Table 2-5). mov rax, [0x8000]
    // encoded as REX.WB 8B /0 with SIB 0x25; R13 holds a decoy.
    let m = run64(&asm64(
        "mov r13, 0x100
         db 0x49, 0x8B, 0x04, 0x25, 0x00, 0x80, 0x00, 0x00",
    ));
    assert_eq!(r(&m, 0), TAG | 0x8000);
}

#[test]
fn sib_index_100_means_no_index() {
    // SIB index 100 without REX.X is "none", whatever the scale: mov rax,
    // [rbx] encoded with SIB 0xE3 (scale 8, index 100, base RBX).
    let m = run64(&asm64(
        "mov rbx, 0x8008
         mov rsp, 0x7000
         db 0x48, 0x8B, 0x04, 0xE3",
    ));
    assert_eq!(r(&m, 0), TAG | 0x8008);
}

#[test]
fn r12_as_index_is_an_index() {
    // With REX.X, index 1100 is R12, a real index.
    let m = run64(&asm64(
        "mov rbx, 0x8000
         mov r12, 0x30
         mov rax, [rbx+r12]
         mov rdx, [rbx+r12*2+8]",
    ));
    assert_eq!(r(&m, 0), TAG | 0x8030);
    assert_eq!(r(&m, 2), TAG | 0x8068);
}

#[test]
fn rsp_r12_bases_need_sib_rbp_r13_bases_need_disp() {
    // r/m 100 means SIB (so [RSP] and [R12] go through one); r/m 101 with
    // mod 00 means disp32/RIP (so [RBP] and [R13] are [reg+disp8 0]).
    let m = run64(&asm64(
        "mov r12, 0x8010
         mov r13, 0x8018
         mov rbp, 0x8020
         mov rax, [r12]
         mov rcx, [r13]
         mov rdx, [rbp]
         push qword 0x1234
         mov rsi, [rsp]
         mov rdi, [rsp+r12*1-0x8010]
         pop rbx",
    ));
    assert_eq!(r(&m, 0), TAG | 0x8010);
    assert_eq!(r(&m, 1), TAG | 0x8018);
    assert_eq!(r(&m, 2), TAG | 0x8020);
    assert_eq!(r(&m, 6), 0x1234);
    assert_eq!(r(&m, 7), 0x1234);
    assert_eq!(r(&m, 4), STACK);
}

#[test]
fn rip_relative_is_from_the_next_instruction() {
    // RIP-relative addresses count from the end of the instruction,
    // immediate included (SDM Vol. 2, 2.2.1.6).
    let m = run64(&asm64(
        "mov rax, [rel data]
         cmp dword [rel data], 0x11223344
         sete bl
         add qword [rel data], 1
         mov rcx, [rel data]
         jmp done
         data: dq 0x11223344
         done:",
    ));
    assert_eq!(r(&m, 0), 0x1122_3344);
    assert_eq!(r(&m, 3) & 0xFF, 1);
    assert_eq!(r(&m, 1), 0x1122_3345);
}

#[test]
fn lea_rip_relative() {
    let m = run64(&asm64(
        "lea rax, [rel $]
         lea rbx, [rel $+0x100]",
    ));
    assert_eq!(r(&m, 0), CODE);
    assert_eq!(r(&m, 3), CODE + 7 + 0x100);
}

#[test]
fn addr32_wraps_at_4_gib() {
    // With the 0x67 prefix the address is computed in 32 bits and
    // zero-extended (SDM Vol. 1, 3.3.7): 0xFFFFFFF0 + 0x8010 wraps to 0x8000.
    let m = run64(&asm64(
        "mov rbx, 0xFFFFFFF0
         mov rcx, 0x8010
         mov rax, [ebx+ecx]
         lea rdx, [ebx+ecx]
         mov rsi, -1
         lea rdi, [esi+1]",
    ));
    assert_eq!(r(&m, 0), TAG | 0x8000);
    assert_eq!(r(&m, 2), 0x8000);
    assert_eq!(r(&m, 7), 0);
}

#[test]
fn addr32_ignores_upper_register_bits() {
    let m = run64(&asm64(
        "mov rbx, 0x1234567800008008
         mov rax, [ebx]",
    ));
    assert_eq!(r(&m, 0), TAG | 0x8008);
}

#[test]
fn lea_operand_size_truncates() {
    // LEA with a 16- or 32-bit destination keeps the low bits of the
    // address (SDM Vol. 2, LEA Table 3-53).
    let m = run64(&asm64(
        "mov rbx, 0x123456789
         mov rax, -1
         lea eax, [rbx+rbx*2]
         mov rcx, -1
         lea cx, [rbx+7]",
    ));
    assert_eq!(r(&m, 0), 0x369D_0369B & 0xFFFF_FFFF);
    assert_eq!(r(&m, 1), 0xFFFF_FFFF_FFFF_6790);
}

#[test]
fn fs_gs_bases_apply_in_64_bit_mode() {
    // In 64-bit mode the FS and GS bases are added; DS/ES/SS bases are not
    // (SDM Vol. 3A, 3.4.4).
    let code: &[u8] = &asm64(
        "mov rbx, 0x100
         mov rax, [fs:rbx]
         mov rcx, [gs:rbx+8]
         db 0x3E ; DS override
         mov rdx, [rbx+0x8000]",
    );
    let mut m = long();
    m.cpu.s.seg[sreg::FS].base = 0x8000;
    m.cpu.s.seg[sreg::GS].base = 0x9000;
    m.cpu.s.seg[sreg::DS].base = 0x10_0000;
    assert_eq!(m.run(code), Exit::Done);
    assert_eq!(r(&m, 0), TAG | 0x8100);
    assert_eq!(r(&m, 1), TAG | 0x9108);
    assert_eq!(r(&m, 2), TAG | 0x8100);
}

#[test]
fn prot32_shapes() {
    let m = run32(&asm32(
        "mov ebx, 0x8000
         mov ecx, 2
         mov eax, [ebx]
         mov edx, [ebx+ecx*4+0x10]
         mov esi, [ecx*8+0x8100]
         mov edi, [0x8200]
         mov ebp, 0x8300
         mov ebp, [ebp]",
    ));
    assert_eq!(m.r(0), 0x8000);
    assert_eq!(m.r(2), 0x8018);
    assert_eq!(m.r(6), 0x8110);
    assert_eq!(m.r(7), 0x8200);
    assert_eq!(m.r(5), 0x8300);
}

#[test]
fn prot32_address_wraps_at_4_gib() {
    let m = run32(&asm32(
        "mov ebx, 0x8010
         db 0x8B, 0x83, 0xF0, 0xFF, 0xFF, 0xFF ; mov eax, [ebx+disp32 0xFFFFFFF0]
         mov ecx, 0xFFFFFF00
         mov edx, [ebx+ecx+0x1F0]",
    ));
    assert_eq!(m.r(0), 0x8000);
    assert_eq!(m.r(2), 0x8100);
}

#[test]
fn prot32_esp_base() {
    let m = run32(&asm32(
        "push dword 0xCAFE
         mov eax, [esp]
         mov ecx, 4
         mov edx, [esp+ecx-4]
         pop ebx",
    ));
    assert_eq!(m.r(0), 0xCAFE);
    assert_eq!(m.r(2), 0xCAFE);
    assert_eq!(m.r(4) as u64, STACK);
}

#[test]
fn prot32_addr16_wraps_at_64_kib() {
    // The 0x67 prefix selects 16-bit addressing (Table 2-1): BX+SI+disp
    // wraps at 64 KiB.
    let m = run32(&asm32(
        "mov ebx, 0x1234FFF0
         mov esi, 0x8010
         mov eax, [bx+si]
         mov edx, [bx+si+0x108]
         mov ebp, 0x8200
         mov edi, 0x10
         mov ecx, [bp+di]",
    ));
    assert_eq!(m.r(0), 0x8000);
    assert_eq!(m.r(2), 0x8108);
    assert_eq!(m.r(1), 0x8210);
}

/// Addresses with no base register (an absolute `[disp32]` and a table
/// `[index*scale+disp32]`) in loads, stores, read-modify-writes and a
/// compare fused with its branch, run often enough to be linked and
/// looped: the segment base is added, the index arithmetic wraps at
/// 4 GiB, and the DS limit still applies (SDM Vol. 2, 2.1.5 Table 2-3;
/// Vol. 3A, 5.3).
#[test]
fn prot32_absolute_and_table_addresses() {
    let based = |base: u64, limit: u64| {
        let mut m = prot();
        // Data, read/write, present, DPL 0, D/B = 1, G = 0.
        let d = 0x0040_9200_0000_0000
            | (limit & 0xFFFF)
            | ((limit >> 16) << 48)
            | ((base & 0xFF_FFFF) << 16)
            | ((base >> 24) << 56);
        m.cpu.s.seg[sreg::DS] = Segment::from_descriptor(0x10, d);
        m.cpu.s.update_mode();
        m
    };
    let code = asm32(
        "mov ecx, 0x80000008
         mov esi, 16
       again:
         mov eax, [0x8000]
         mov ebx, [ecx*2+0x8100]
         mov [0x8400], eax
         mov [ecx*4+0x8480], ebx
         add [0x8408], esi
         cmp dword [0x8408], 0x8488
         jne next
         inc edi
       next:
         dec esi
         jnz again",
    );
    let mut m = based(0, 0xF_FFFF);
    m.cpu.s.gpr[7] = 0;
    assert_eq!(m.run(&code), Exit::Done);
    assert_eq!(m.r(0), 0x8000);
    assert_eq!(m.r(3), 0x8110, "ECX*2 wraps to 0x10");
    assert_eq!(m.peek32(0x8400), 0x8000);
    assert_eq!(m.peek32(0x84A0), 0x8110, "ECX*4 wraps to 0x20");
    // 0x8408 starts at 0x8408 and gains 16 + 15 + ... + 1 = 136 = 0x88.
    assert_eq!(m.peek32(0x8408), 0x8408 + 136);
    assert_eq!(m.r(7), 0, "0x8488 was passed over, never hit");
    // With DS based at 0x100, the same offsets land 0x100 higher.
    let mut m = based(0x100, 0xF_FFFF);
    assert_eq!(m.run(&code), Exit::Done);
    assert_eq!(m.r(0), 0x8100);
    assert_eq!(m.r(3), 0x8210);
    assert_eq!(m.peek32(0x8500), 0x8100);
    // A table entry past the DS limit: #GP(0), on the first iteration.
    let mut m = based(0, 0x810F);
    assert_eq!(m.run(&code), Exit::Vector(13));
    assert_eq!(m.r(3), 0, "the load past the limit did not retire");
}

/// The error code the exception pushed (the frame's first slot).
fn error_code(m: &M) -> u64 {
    m.peek64(r(m, 4))
}

#[test]
fn non_canonical_address_faults_gp_or_ss() {
    // In 64-bit mode a non-canonical data address is #GP(0), or #SS(0)
    // when the reference is through SS (RSP or RBP as base) (SDM Vol. 3A,
    // 3.3.7.1 and the instruction pages' 64-bit mode exceptions).
    let mut m = long();
    assert_eq!(
        m.run(&asm64(
            "mov rbx, 0x0000800000000000
             mov rax, [rbx]",
        )),
        Exit::Vector(13)
    );
    assert_eq!(error_code(&m), 0);
    let mut m = long();
    assert_eq!(
        m.run(&asm64(
            "mov rbp, 0x0000800000000000
             mov rax, [rbp]",
        )),
        Exit::Vector(12)
    );
    assert_eq!(error_code(&m), 0);
}

#[test]
fn lock_prefix_on_a_register_destination_is_ud() {
    // LOCK is #UD unless the instruction is a lockable one with a memory
    // destination (SDM Vol. 2, LOCK).
    let mut m = long();
    assert_eq!(
        m.run(&asm64(
            "db 0xF0 ; lock
         add eax, ebx",
        )),
        Exit::Vector(6)
    );
    let mut m = long();
    assert_eq!(
        m.run(&asm64(
            "db 0xF0 ; lock
             mov [0x8000], eax",
        )),
        Exit::Vector(6)
    );
}

/// Protected mode with DS limited to 0xFFF bytes (expand-up, byte
/// granular) and SS to 0x7FFF.
fn prot_limited() -> M32 {
    let mut m = prot();
    // Data, read/write, present, DPL 0, D/B = 1, G = 0.
    m.cpu.s.seg[sreg::DS] = Segment::from_descriptor(0x10, 0x0040_9200_0000_0FFF);
    m.cpu.s.seg[sreg::SS] = Segment::from_descriptor(0x10, 0x0040_9200_0000_7FFF);
    m.cpu.s.update_mode();
    m
}

#[test]
fn prot32_segment_limit_checks() {
    // Each byte of an access must lie within the limit: a dword at 0xFFE
    // ends past 0xFFF: #GP(0); via SS (EBP base) past its limit: #SS(0)
    // (SDM Vol. 3A, 5.3).
    let mut m = prot_limited();
    assert_eq!(m.run(&asm32("mov eax, [0xFFC]")), Exit::Done);
    let mut m = prot_limited();
    assert_eq!(m.run(&asm32("mov eax, [0xFFE]")), Exit::Vector(13));
    assert_eq!(m.peek32(u64::from(m.r(4))), 0);
    let mut m = prot_limited();
    assert_eq!(
        m.run(&asm32(
            "mov ebp, 0x7FFE
             mov eax, [ebp]",
        )),
        Exit::Vector(12)
    );
    let mut m = prot_limited();
    assert_eq!(
        m.run(&asm32(
            "mov ebx, 0x7FFE
             mov eax, [ss:ebx-2]",
        )),
        Exit::Done
    );
}

/// Protected mode with a 32-bit code segment limited to `limit`
/// (execute/read, present, DPL 0, byte granular), EAX 0.
fn limited(limit: u64) -> M32 {
    let mut m = M32::prot();
    m.cpu.s.seg[sreg::CS] = Segment::from_descriptor(0x08, 0x0040_9A00_0000_0000 | limit);
    m.cpu.s.update_mode();
    m.cpu.s.gpr[0] = 0;
    m
}

/// Code running straight on into the CS limit: each instruction must fit
/// within it, so the first one past it raises #GP(0) with its own address
/// stacked, after the ones before it retired; a run whose last byte is at
/// the limit completes (SDM Vol. 3A, 5.3).
#[test]
fn prot32_code_running_into_the_cs_limit_faults_at_the_first_instruction_past_it() {
    // inc eax x4 at 1000-1003, then the HLT at 1004.
    let code = [0x40; 4];
    let mut m = limited(CODE + 4);
    assert_eq!(m.run(&code), Exit::Done);
    assert_eq!(m.r(0), 4);
    // inc eax x8 at 1000-1007 with the limit at 1003: four retire.
    let mut m = limited(CODE + 3);
    assert_eq!(m.run(&[0x40; 8]), Exit::Vector(13));
    assert_eq!(m.r(0), 4);
    let sp = u64::from(m.r(4));
    assert_eq!(m.peek32(sp), 0, "error code");
    assert_eq!(u64::from(m.peek32(sp + 4)), CODE + 4, "stacked EIP");
}

/// A direct JMP to a target past the CS limit raises #GP(0) at the JMP,
/// even where the trace would go through it to the target in the same
/// page; within the limit the jump is taken (SDM Vol. 2, JMP).
#[test]
fn prot32_jmp_past_the_cs_limit_faults_at_the_jmp() {
    // 1000: inc eax / jmp 1007 / 4 x nop / 1007: inc eax / 1008: HLT.
    let code = [0x40, 0xEB, 0x04, 0x90, 0x90, 0x90, 0x90, 0x40];
    let mut m = limited(CODE + 8);
    assert_eq!(m.run(&code), Exit::Done);
    assert_eq!(m.r(0), 2);
    let mut m = limited(CODE + 5);
    assert_eq!(m.run(&code), Exit::Vector(13));
    assert_eq!(m.r(0), 1, "the INC before the JMP retired");
    let sp = u64::from(m.r(4));
    assert_eq!(m.peek32(sp), 0, "error code");
    assert_eq!(
        u64::from(m.peek32(sp + 4)),
        CODE + 1,
        "stacked EIP: the JMP"
    );
}
