//! POPCNT and CMPXCHG16B in 64-bit mode on a flat bus, against values the
//! host CPU computed: `data/v2-cases.txt`, produced by `data/gen_v2.c`
//! (see `data/README.md`). Also their #UD and #GP rules.

use crate::common::long64::{Exit, CODE, M};
use anyx86_cpu::arch::{cr4, fl, reg};
use anyx86_cpu::cpuid::CpuModel;
use anyx86_cpu::FlagOp;

const DATA: u64 = 0x8000;
/// Leaf 1 ECX: CMPXCHG16B, POPCNT.
const CX16: u32 = 1 << 13;
const POPCNT: u32 = 1 << 23;
const ARITH: u64 = 0x8D5;

/// 64-bit mode on a qemu64 CPU whose leaf 1 ECX is `ecx`.
fn long(ecx: u32) -> M {
    let mut model = CpuModel::qemu64();
    model.features_ecx = ecx;
    M::long_with(model)
}

impl M {
    fn set_flags(&mut self, f: u64) {
        self.cpu.s.flags = (f as u32 & fl::ARITH) | fl::RESERVED1;
        self.cpu.s.lazy.op = FlagOp::None;
    }

    fn flags(&self) -> u64 {
        u64::from(self.cpu.s.eflags()) & ARITH
    }
}

fn cases(kind: &str) -> Vec<Vec<u64>> {
    let text = include_str!("data/v2-cases.txt");
    let v: Vec<Vec<u64>> = text
        .lines()
        .filter_map(|l| l.strip_prefix(kind))
        .map(|l| {
            l.split_whitespace()
                .map(|w| u64::from_str_radix(w, 16).expect("hex"))
                .collect()
        })
        .collect();
    assert!(v.len() >= 40, "{kind}: {} cases", v.len());
    v
}

#[test]
fn popcnt_matches_the_host_cpu() {
    let mut m = long(POPCNT);
    for c in cases("popcnt ") {
        let [size, src, dst, fin, out, fout] = c[..] else {
            panic!("bad line {c:x?}");
        };
        let (pre, rex): (&[u8], &[u8]) = match size {
            2 => (&[0x66, 0xF3], &[]),
            4 => (&[0xF3], &[]),
            _ => (&[0xF3], &[0x48]),
        };
        // popcnt ax/eax/rax, cx/ecx/rcx, then the same from [rbx].
        for modrm in [0xC1u8, 0x03] {
            let code: Vec<u8> = [pre, rex, &[0x0F, 0xB8, modrm]].concat();
            m.cpu.s.gpr[reg::AX] = dst;
            m.cpu.s.gpr[reg::CX] = src;
            m.cpu.s.gpr[reg::BX] = DATA;
            m.poke64(DATA, src);
            m.set_flags(fin);
            assert_eq!(m.run(&code), Exit::Done);
            let what = format!("popcnt size {size} src {src:#x} modrm {modrm:#x}");
            assert_eq!(m.cpu.s.gpr[reg::AX], out, "{what}");
            assert_eq!(m.flags(), fout, "{what} flags");
        }
    }
}

#[test]
fn cmpxchg16b_matches_the_host_cpu() {
    let mut m = long(CX16);
    let mut equal = 0;
    for c in cases("cx16 ") {
        let [lo, hi, rax, rdx, rbx, rcx, fin, lo2, hi2, rax2, rdx2, fout] = c[..] else {
            panic!("bad line {c:x?}");
        };
        // [lock] cmpxchg16b [rsi]
        for code in [
            &[0xF0u8, 0x48, 0x0F, 0xC7, 0x0E][..],
            &[0x48, 0x0F, 0xC7, 0x0E],
        ] {
            m.poke64(DATA, lo);
            m.poke64(DATA + 8, hi);
            let s = &mut m.cpu.s;
            s.gpr[reg::AX] = rax;
            s.gpr[reg::DX] = rdx;
            s.gpr[reg::BX] = rbx;
            s.gpr[reg::CX] = rcx;
            s.gpr[reg::SI] = DATA;
            m.set_flags(fin);
            assert_eq!(m.run(code), Exit::Done);
            let what = format!("cmpxchg16b {hi:x}:{lo:x} vs {rdx:x}:{rax:x}");
            assert_eq!((m.peek64(DATA), m.peek64(DATA + 8)), (lo2, hi2), "{what}");
            assert_eq!((m.cpu.s.gpr[reg::AX], m.cpu.s.gpr[reg::DX]), (rax2, rdx2));
            assert_eq!((m.cpu.s.gpr[reg::BX], m.cpu.s.gpr[reg::CX]), (rbx, rcx));
            assert_eq!(m.flags(), fout, "{what} flags");
        }
        equal += usize::from(fout & 0x40 != 0);
    }
    assert!(equal >= 5, "both outcomes are covered");
}

#[test]
fn cmpxchg16b_needs_16_byte_alignment_and_cx16() {
    // Misaligned by 8: #GP(0), nothing written, RDX:RAX kept.
    let mut m = long(CX16);
    m.poke64(DATA + 8, 5);
    m.cpu.s.gpr[reg::SI] = DATA + 8;
    m.cpu.s.gpr[reg::AX] = 1;
    assert_eq!(m.run(&[0xF0, 0x48, 0x0F, 0xC7, 0x0E]), Exit::Vector(13));
    assert_eq!(m.peek64(DATA + 8), 5);
    assert_eq!(m.cpu.s.gpr[reg::AX], 1);
    // Aligned, but the CPU model lacks CX16: #UD.
    let mut m = long(POPCNT);
    m.cpu.s.gpr[reg::SI] = DATA;
    assert_eq!(m.run(&[0x48, 0x0F, 0xC7, 0x0E]), Exit::Vector(6));
    // A register operand is #UD; without REX.W it is CMPXCHG8B.
    let mut m = long(CX16);
    assert_eq!(m.run(&[0x48, 0x0F, 0xC7, 0xC9]), Exit::Vector(6));
    m.poke64(DATA, 7);
    m.cpu.s.gpr[reg::SI] = DATA + 8; // 8-aligned is enough for it
    m.poke64(DATA + 8, 0x1_0000_0002);
    m.cpu.s.gpr[reg::AX] = 2;
    m.cpu.s.gpr[reg::DX] = 1;
    m.cpu.s.gpr[reg::BX] = 3;
    m.cpu.s.gpr[reg::CX] = 4;
    assert_eq!(m.run(&[0x0F, 0xC7, 0x0E]), Exit::Done);
    assert_eq!(m.peek64(DATA + 8), 0x4_0000_0003);
}

#[test]
fn popcnt_needs_its_cpuid_bit_and_rejects_lock() {
    let mut m = long(CX16);
    assert_eq!(m.run(&[0xF3, 0x0F, 0xB8, 0xC1]), Exit::Vector(6));
    let mut m = long(POPCNT);
    assert_eq!(m.run(&[0xF0, 0xF3, 0x0F, 0xB8, 0xC1]), Exit::Vector(6));
    m.cpu.s.gpr[reg::CX] = 0xF0F0;
    assert_eq!(m.run(&[0xF3, 0x0F, 0xB8, 0xC1]), Exit::Done);
    assert_eq!(m.cpu.s.gpr[reg::AX], 8);
}

/// Not v2 itself, but the same 64-bit harness: a CMP with a RIP-relative
/// operand fused with the Jcc after it still addresses relative to the
/// end of the CMP (the fused record's next RIP is past the Jcc).
#[test]
fn a_fused_rip_relative_cmp_addresses_from_its_own_end() {
    let mut m = long(0);
    m.poke(DATA, &[0x5A, 0x00, 0x00]);
    let disp = (DATA - (CODE + 7)) as u32;
    let mut code = vec![0x80, 0x3D];
    code.extend_from_slice(&disp.to_le_bytes());
    code.push(0x5A); // cmp byte [rip+disp], 0x5A
    code.extend_from_slice(&[0x75, 0x02]); // jne +2
    code.extend_from_slice(&[0xB0, 0x01]); // mov al, 1
    m.cpu.s.gpr[reg::AX] = 0;
    assert_eq!(m.run(&code), Exit::Done);
    assert_eq!(m.cpu.s.gpr[reg::AX], 1, "the CMP read DATA and found 0x5A");
}

/// SSE4.1/SSE4.2 forms that exist only in 64-bit mode: REX.W CRC32,
/// PEXTRQ/PINSRQ, the RAX/RDX lengths of PCMPESTRI64, XMM8-15.
#[test]
fn sse4_64_bit_forms() {
    let v2 = (1 << 0) | (1 << 9) | (1 << 19) | (1 << 20);
    let mut m = long(v2);
    let s = &mut m.cpu.s;
    s.cr4 |= cr4::OSFXSR;
    s.gpr[reg::AX] = 0xDEAD_BEEF_FFFF_FFFF;
    s.gpr[reg::CX] = u64::from_le_bytes(*b"12345678");
    s.gpr[reg::DX] = u64::from(b'9');
    // crc32 rax, rcx; crc32 eax, dl; not eax: CRC-32C("123456789").
    let code = [
        0xF2, 0x48, 0x0F, 0x38, 0xF1, 0xC1, 0xF2, 0x0F, 0x38, 0xF0, 0xC2, 0xF7, 0xD0,
    ];
    assert_eq!(m.run(&code), Exit::Done);
    assert_eq!(m.cpu.s.gpr[reg::AX], 0xE306_9283);
    // pextrq rax, xmm9, 1; pinsrq xmm10, rbx, 1; pshufb xmm9, xmm12.
    let s = &mut m.cpu.s;
    s.simd.xmm[9] = 0x0123_4567_89AB_CDEF_FEDC_BA98_7654_3210;
    s.simd.xmm[10] = 7;
    s.simd.xmm[12] =
        0x0F0E_0D0C_0B0A_0908_0706_0504_0302_0100 ^ 0x0F0F_0F0F_0F0F_0F0F_0F0F_0F0F_0F0F_0F0F;
    s.gpr[reg::BX] = 0x1122_3344_5566_7788;
    let code = [
        0x66, 0x4C, 0x0F, 0x3A, 0x16, 0xC8, 0x01, // pextrq rax, xmm9, 1
        0x66, 0x4C, 0x0F, 0x3A, 0x22, 0xD3, 0x01, // pinsrq xmm10, rbx, 1
        0x66, 0x45, 0x0F, 0x38, 0x00, 0xCC, // pshufb xmm9, xmm12 (reverse)
    ];
    assert_eq!(m.run(&code), Exit::Done);
    let s = &m.cpu.s;
    assert_eq!(s.gpr[reg::AX], 0x0123_4567_89AB_CDEF);
    assert_eq!(s.simd.xmm[10], 0x1122_3344_5566_7788_0000_0000_0000_0007);
    assert_eq!(s.simd.xmm[9], 0x1032_5476_98BA_DCFE_EFCD_AB89_6745_2301);
    // PCMPESTRI: lengths 2^32 are 0 in EAX/EDX but saturate to 16 from
    // RAX/RDX (REX.W): SF and ZF tell.
    for (code, sf_zf) in [
        ([0x66, 0x45, 0x0F, 0x3A, 0x61, 0xC1, 0x00], fl::SF | fl::ZF),
        ([0x66, 0x4D, 0x0F, 0x3A, 0x61, 0xC1, 0x00], 0),
    ] {
        m.cpu.s.gpr[reg::AX] = 1 << 32;
        m.cpu.s.gpr[reg::DX] = 1 << 32;
        assert_eq!(m.run(&code), Exit::Done);
        assert_eq!(m.flags() & u64::from(fl::SF | fl::ZF), u64::from(sf_zf));
    }
    // Without SSE4.2 reported, CRC32 is #UD.
    let mut m = long(v2 & !(1 << 20));
    assert_eq!(
        m.run(&[0xF2, 0x48, 0x0F, 0x38, 0xF1, 0xC1]),
        Exit::Vector(6)
    );
}
