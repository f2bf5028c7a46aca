//! Integer instructions in 32-bit protected mode (flat segments, CPL 0),
//! where the default operand size is 32 and 0x66 selects 16: results and
//! the flags the SDM (Vol. 2, the instruction pages) defines for them,
//! plus the stack-frame and miscellaneous instructions (ENTER/LEAVE,
//! LAHF/SAHF, XLAT, BSF/BSR, POPCNT) in both modes.

use crate::common::asm::{asm32, asm64};
use crate::common::long64::{Exit, M, STACK};
use crate::common::prot32::{run32, M32};
use anyx86_cpu::arch::fl::{AF, ARITH, CF, OF, PF, SF, ZF};
use anyx86_cpu::cpuid::CpuModel;

fn fl(m: &M32) -> u32 {
    m.cpu.s.eflags() & ARITH
}

/// The arithmetic flags saved in EDI by `pushfd; pop edi`.
fn fl_edi(m: &M32) -> u32 {
    m.r(7) & ARITH
}

#[test]
fn add_adc_32_carry_chain_and_carry_in() {
    // A 64-bit add from two 32-bit halves.
    let m = run32(&asm32(
        "mov eax, 0xFFFFFFFF
         mov edx, 0x7FFFFFFF
         add eax, 1
         adc edx, 0",
    ));
    assert_eq!((m.r(0), m.r(2)), (0, 0x8000_0000));
    // 0x7FFFFFFF + 0 + CF overflows into the sign.
    assert_eq!(fl(&m), OF | SF | AF | PF);

    // 0xFFFFFFFF + 0 + 1 carries out and is zero.
    let m = run32(&asm32(
        "mov eax, 0xFFFFFFFF
         stc
         adc eax, 0",
    ));
    assert_eq!(m.r(0), 0);
    assert_eq!(fl(&m), CF | ZF | AF | PF);
}

#[test]
fn sbb_8_borrow_in_and_out() {
    let m = run32(&asm32(
        "mov al, 0
         stc
         sbb al, 0
         pushfd
         pop edi
         mov bl, 0x80
         clc
         sbb bl, 0x7F",
    ));
    assert_eq!(m.r(0) & 0xFF, 0xFF);
    assert_eq!(fl_edi(&m), CF | SF | AF | PF);
    // 0x80 - 0x7F = 1: signed -128 - 127 overflows.
    assert_eq!(m.r(3) & 0xFF, 1);
    assert_eq!(fl(&m), OF | AF);
}

#[test]
fn operand_size_prefix_16_bit_ops_keep_upper_half() {
    let m = run32(&asm32(
        "mov eax, 0x1234FFFF
         add ax, 1
         pushfd
         pop edi
         mov ebx, 0xABCD0000
         dec bx",
    ));
    assert_eq!(m.r(0), 0x1234_0000);
    assert_eq!(fl_edi(&m), CF | ZF | AF | PF);
    assert_eq!(m.r(3), 0xABCD_FFFF);
    assert_eq!(fl(&m) & !CF, SF | AF | PF);
}

#[test]
fn mul_16_writes_dx_ax() {
    let m = run32(&asm32(
        "mov eax, 0x11118000
         mov edx, 0x22220000
         mov cx, 4
         mul cx",
    ));
    assert_eq!(m.r(0), 0x1111_0000);
    assert_eq!(m.r(2), 0x2222_0002);
    assert_eq!(fl(&m) & (CF | OF), CF | OF);
}

#[test]
fn imul_8_one_operand() {
    // AX = AL * r/m8, signed; CF = OF = 1 when AH is not the sign
    // extension of AL.
    let m = run32(&asm32(
        "mov al, -16
         mov bl, 8
         imul bl
         pushfd
         pop edi
         mov ecx, eax
         mov al, -16
         mov bl, 9
         imul bl",
    ));
    assert_eq!(m.r(1) & 0xFFFF, (-128i16) as u16 as u32);
    assert_eq!(fl_edi(&m) & (CF | OF), 0);
    assert_eq!(m.r(0) & 0xFFFF, (-144i16) as u16 as u32);
    assert_eq!(fl(&m) & (CF | OF), CF | OF);
}

#[test]
fn div_16_and_32() {
    let m = run32(&asm32(
        "mov dx, 1
         mov ax, 0
         mov cx, 3
         div cx
         mov esi, eax
         mov edi, edx
         mov edx, 5
         mov eax, 7
         mov ecx, 0x10
         div ecx",
    ));
    // 0x10000 / 3 = 0x5555 remainder 1.
    assert_eq!((m.r(6) & 0xFFFF, m.r(7) & 0xFFFF), (0x5555, 1));
    // 0x5_00000007 / 0x10 = 0x50000000 remainder 7.
    assert_eq!((m.r(0), m.r(2)), (0x5000_0000, 7));
}

#[test]
fn div_faults_in_32_bit_mode() {
    // #DE pushes EIP of the DIV, no error code (SDM Vol. 3A, 6.15).
    let mut m = M32::prot();
    assert_eq!(
        m.run(&asm32(
            "mov edx, 1
             mov eax, 0
             mov ecx, 1
             div ecx",
        )),
        Exit::Vector(0)
    );
    let esp = u64::from(m.r(4));
    assert_eq!(esp, STACK - 12);
    assert_eq!(m.peek32(esp), 0x1000 + 15);
}

#[test]
fn shifts_16_and_rotates_with_masked_count() {
    let m = run32(&asm32(
        "mov ax, 0x8001
         mov cl, 16
         rol ax, cl
         pushfd
         pop edi
         mov bx, 0x00FF
         shl bx, 12
         mov dl, 0x81
         mov cl, 8
         ror dl, cl",
    ));
    // ROL by 16 of a 16-bit value: unchanged, CF = its bit 0.
    assert_eq!(m.r(0) & 0xFFFF, 0x8001);
    assert_eq!(fl_edi(&m) & CF, CF);
    assert_eq!(m.r(3) & 0xFFFF, 0xF000);
    // ROR by 8 of a byte: unchanged, CF = its bit 7.
    assert_eq!(m.r(2) & 0xFF, 0x81);
    assert_eq!(fl(&m) & CF, CF);
}

#[test]
fn sar_by_one_clears_of_and_rcr_sets_of() {
    // SAR by 1 clears OF; RCR by 1 sets OF to MSB XOR CF before (SDM
    // Vol. 2, RCL/RCR/ROL/ROR: OF for RCR is computed before the rotate).
    let m = run32(&asm32(
        "mov eax, 0x80000001
         sar eax, 1
         pushfd
         pop edi
         stc
         mov ebx, 1
         rcr ebx, 1",
    ));
    assert_eq!(m.r(0), 0xC000_0000);
    assert_eq!(fl_edi(&m) & (CF | OF), CF);
    assert_eq!(m.r(3), 0x8000_0000);
    assert_eq!(fl(&m) & (CF | OF), CF | OF);
}

#[test]
fn bt_word_memory_negative_offset() {
    // BTC word [ebx], dx with DX = -1: bit -1 of the string, i.e. bit 7 of
    // the byte below EBX (SDM Vol. 2, BT: the offset is signed).
    let m = run32(&asm32(
        "mov ebx, 0x8010
         mov dx, -1
         btc word [ebx], dx
         setc al
         bt word [ebx], dx
         setc ah",
    ));
    assert_eq!(m.peek(0x800F, 1), [0x80]);
    assert_eq!(m.r(0) & 0xFFFF, 0x0100);
}

#[test]
fn enter_leave_32() {
    // ENTER 16, 0 pushes EBP, sets EBP to the new ESP, and reserves 16
    // bytes; LEAVE undoes it (SDM Vol. 2, ENTER).
    let m = run32(&asm32(
        "mov ebp, 0xBBBB
         enter 16, 0
         mov eax, ebp
         mov ebx, esp
         mov ecx, [ebp]
         leave",
    ));
    assert_eq!(u64::from(m.r(0)), STACK - 4);
    assert_eq!(u64::from(m.r(3)), STACK - 20);
    assert_eq!(m.r(1), 0xBBBB);
    assert_eq!(m.r(5), 0xBBBB);
    assert_eq!(u64::from(m.r(4)), STACK);
}

#[test]
fn enter_with_nesting_level_copies_frame_pointers() {
    // ENTER 8, 2: push EBP; copy one frame pointer from the old frame
    // (at EBP - 4); push the new frame pointer; then reserve 8 bytes.
    let m = run32(&asm32(
        "mov dword [0x6000-4], 0x1111
         mov ebp, 0x6000
         enter 8, 2
         mov eax, ebp
         mov ebx, esp
         mov ecx, [esp+8]
         mov edx, [esp+12]
         mov esi, [esp+16]",
    ));
    let frame = STACK - 4;
    assert_eq!(u64::from(m.r(0)), frame);
    assert_eq!(u64::from(m.r(3)), frame - 8 - 8);
    assert_eq!(u64::from(m.r(1)), frame);
    assert_eq!(m.r(2), 0x1111);
    assert_eq!(m.r(6), 0x6000);
}

#[test]
fn enter_leave_64() {
    // In 64-bit mode ENTER pushes RBP as 8 bytes.
    let mut m = M::long_with(CpuModel::qemu64());
    assert_eq!(
        m.run(&asm64(
            "mov rbp, 0x123456789
             enter 0x20, 0
             mov rax, rbp
             mov rbx, rsp
             leave",
        )),
        Exit::Done
    );
    let g = m.cpu.s.gpr;
    assert_eq!((g[0], g[3]), (STACK - 8, STACK - 8 - 0x20));
    assert_eq!((g[5], g[4]), (0x1_2345_6789, STACK));
}

#[test]
fn lahf_sahf() {
    // SAHF loads SF ZF AF PF CF from AH; LAHF stores them (bit 1 set).
    let m = run32(&asm32(
        "mov ah, 0xD5
         sahf
         pushfd
         pop edi
         xor eax, eax
         stc
         lahf",
    ));
    assert_eq!(fl_edi(&m), SF | ZF | AF | PF | CF);
    // XOR left ZF PF; STC added CF.
    assert_eq!(m.r(0) >> 8 & 0xFF, 0x47);
}

#[test]
fn xlat_indexes_by_al() {
    let m = run32(&asm32(
        "mov ebx, 0x8000
         mov byte [ebx+0x85], 0x3C
         mov eax, 0x11111185
         xlatb",
    ));
    assert_eq!(m.r(0), 0x1111_113C);
}

#[test]
fn bsf_bsr_popcnt() {
    let m = run32(&asm32(
        "mov eax, 0x00F00100
         bsf ebx, eax
         bsr ecx, eax
         popcnt edx, eax
         pushfd
         pop edi
         xor esi, esi
         popcnt esi, esi",
    ));
    assert_eq!((m.r(3), m.r(1), m.r(2)), (8, 23, 5));
    assert_eq!(fl_edi(&m), 0);
    // POPCNT of 0: ZF set, the other flags clear.
    assert_eq!(fl(&m), ZF);
}

#[test]
fn bsf_of_zero_sets_zf() {
    let m = run32(&asm32(
        "xor eax, eax
         mov ebx, 5
         bsf ebx, eax",
    ));
    assert_eq!(fl(&m) & ZF, ZF);
}

#[test]
fn cmpxchg_32_in_64_bit_mode_zero_extends_rax_on_failure() {
    // On a mismatch the accumulator is loaded with the 32-bit destination,
    // a 32-bit register write that clears RAX[63:32].
    let mut m = M::long_with(CpuModel::qemu64());
    assert_eq!(
        m.run(&asm64(
            "mov rbx, 0x8000
             mov dword [rbx], 9
             mov rax, -1
             mov ecx, 3
             cmpxchg [rbx], ecx",
        )),
        Exit::Done
    );
    assert_eq!(m.cpu.s.gpr[0], 9);
    assert_eq!(m.peek_le(0x8000, 4), 9);
}

#[test]
fn pushad_popad_in_32_bit_mode() {
    let m = run32(&asm32(
        "mov eax, 0x33
         xor ebx, ebx
         pushad
         mov ebx, [esp+28]
         mov [0x8000], ebx
         popad",
    ));
    assert_eq!(m.r(0), 0x33);
    // PUSHAD stores EAX first, at the highest address; POPAD restored EBX.
    assert_eq!(m.peek32(0x8000), 0x33);
    assert_eq!(m.r(3), 0);
    assert_eq!(u64::from(m.r(4)), STACK);
}

/// INC and DEC of 8-bit (low and high), 16- and 32-bit registers: the
/// result wraps within the operand, the rest of the register is kept,
/// OF/SF/ZF/AF/PF follow the result and CF is the one before (SDM Vol. 2,
/// INC, DEC), whichever operation left it.
#[test]
fn inc_dec_register_sizes_keep_cf_and_the_rest_of_the_register() {
    let m = run32(&asm32(
        "mov eax, 0x1234FF7F
         mov ecx, 0xAAAA0000
         mov edx, 0x55550001
         mov ebx, 0xFFFFFFFF
         stc
         inc al
         pushfd
         pop esi
         clc
         inc ah
         pushfd
         pop edi
         sub ecx, 1
         dec cx
         inc dx
         dec dh
         inc ebx
         pushfd
         pop ebp",
    ));
    assert_eq!(m.r(0), 0x1234_0080, "AL 7F -> 80, AH FF -> 00");
    assert_eq!(
        m.r(6) & ARITH,
        CF | OF | SF | AF,
        "inc al: 7F + 1, CF kept set"
    );
    assert_eq!(
        m.r(7) & ARITH,
        ZF | PF | AF,
        "inc ah: FF + 1, CF kept clear"
    );
    assert_eq!(
        m.r(1),
        0xAAA9_FFFE,
        "SUB borrowed nothing; DEC CX wraps in 16 bits"
    );
    assert_eq!(m.r(2), 0x5555_FF02, "INC DX, then DEC DH from 00 to FF");
    assert_eq!(m.r(3), 0);
    // INC EBX: FFFFFFFF + 1 = 0 with ZF, and the CF of SUB ECX, 1
    // (AAAA0000 - 1: no borrow) survives three INC/DECs.
    assert_eq!(m.r(5) & ARITH, ZF | AF | PF);
    let m = run32(&asm32(
        "xor ecx, ecx
         sub ecx, 1
         dec ecx
         inc cl
         pushfd
         pop edi",
    ));
    assert_eq!(m.r(1), 0xFFFF_FFFF);
    assert_eq!(m.r(7) & ARITH, CF | SF | PF, "0 - 1 borrowed: CF kept");
}
