//! MMX/SSE/SSE2 on a flat bus: the host-generated vectors (see
//! `tests/sse/README.md`) run one instruction each through the CPU in
//! 32-bit protected mode and must match bit for bit; then the
//! operating-system side (CR0/CR4 controls, #NM, #XM vs #UD, alignment,
//! FXSAVE/FXRSTOR, MMX/x87 aliasing).

use crate::common::long64::{Exit, CODE, STUBS};
use crate::common::{prot32, FlatBus};
use anyx86_cpu::arch::{cr0, cr4, reg};
use anyx86_cpu::cpuid::{ecx1, edx1, CpuModel};
use anyx86_cpu::Cpu;
use std::io::Read;

struct M {
    cpu: Cpu<FlatBus>,
    bus: FlatBus,
    code: Vec<u8>,
}

fn sse_model() -> CpuModel {
    let mut m = CpuModel::qemu32();
    m.features_edx |= edx1::MMX | edx1::SSE | edx1::SSE2;
    m.features_ecx |= ecx1::SSE3 | ecx1::SSSE3 | ecx1::SSE41 | ecx1::SSE42;
    m
}

impl M {
    /// Flat 32-bit protected mode, CPL 0, CR0.NE, CR4.OSFXSR and
    /// OSXMMEXCPT set, FPU after FNINIT.
    fn pm32() -> Self {
        let mut m = Self {
            cpu: Cpu::new(sse_model()),
            bus: FlatBus::new(),
            code: Vec::new(),
        };
        prot32::enter(&mut m.cpu, &mut m.bus);
        let s = &mut m.cpu.s;
        s.cr4 = cr4::OSFXSR | cr4::OSXMMEXCPT;
        s.fpu.init();
        m
    }

    fn poke(&mut self, a: u64, b: &[u8]) {
        self.bus.ram[a as usize..a as usize + b.len()].copy_from_slice(b);
    }

    fn peek(&self, a: u64, n: usize) -> &[u8] {
        &self.bus.ram[a as usize..a as usize + n]
    }

    /// Runs `code` (then a HLT) from CODE.
    fn run(&mut self, code: &[u8]) -> Exit {
        if self.code != code {
            self.poke(CODE, code);
            self.bus.ram[CODE as usize + code.len()] = 0xF4;
            self.cpu.flush_code_cache();
            self.code = code.to_vec();
        }
        let end = CODE + code.len() as u64;
        let s = &mut self.cpu.s;
        s.gpr[reg::SP] = 0x7000;
        s.rip = CODE;
        s.halted = false;
        prot32::run_sliced(&mut self.cpu, &mut self.bus);
        let lin = self.cpu.s.rip;
        if lin == end + 1 {
            Exit::Done
        } else if (STUBS + 1..=STUBS + 32).contains(&lin) {
            Exit::Vector((lin - STUBS - 1) as u8)
        } else {
            panic!("stopped at {lin:#x}")
        }
    }
}

fn hex(s: &str) -> u128 {
    u128::from_str_radix(s, 16).expect("hex field")
}

fn bytes(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex byte"))
        .collect()
}

/// Replays a vector file; returns the number of vectors.
fn replay(gz: &[u8], fields: usize) -> usize {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut raw)
        .expect("gzip");
    let text = String::from_utf8(raw).expect("utf-8");
    let mut m = M::pm32();
    let mut failures = 0usize;
    let mut per_insn: std::collections::BTreeMap<String, usize> = Default::default();
    let mut n = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), fields, "{line}");
        let code = bytes(f[0]);
        let (mx, a, b, eax, fmask) = (hex(f[1]), hex(f[2]), hex(f[3]), hex(f[4]), hex(f[5]));
        let want = (
            hex(f[6]),
            hex(f[7]) as u64,
            hex(f[8]) as u64,
            hex(f[9]) as u32,
        );
        let want_flags = hex(f[10]) as u32 & fmask as u32;
        let want_exit = if fields == 12 && f[11] == "1" {
            Exit::Vector(19)
        } else {
            Exit::Done
        };
        let s = &mut m.cpu.s;
        s.simd.xmm[0] = a;
        s.simd.xmm[1] = b;
        s.set_mm(0, a as u64);
        s.set_mm(1, b as u64);
        s.simd.mxcsr = mx as u32;
        s.gpr[reg::AX] = eax as u64;
        let exit = m.run(&code);
        let s = &m.cpu.s;
        let got = (s.simd.xmm[0], s.mm(0), s.gpr[reg::AX], s.simd.mxcsr);
        let got_flags = s.eflags() & fmask as u32;
        n += 1;
        if exit != want_exit || got != want || got_flags != want_flags {
            failures += 1;
            let c = per_insn.entry(f[0].to_string()).or_default();
            *c += 1;
            if *c <= 3 {
                eprintln!(
                    "{}: mxcsr {mx:x} a {a:032x} b {b:032x} eax {eax:x}\n  want xmm0 {:032x} mm0 {:x} eax {:x} mxcsr {:x} fl {want_flags:x} {want_exit:?}\n  got  xmm0 {:032x} mm0 {:x} eax {:x} mxcsr {:x} fl {got_flags:x} {exit:?}",
                    f[0], want.0, want.1, want.2, want.3, got.0, got.1, got.2, got.3
                );
            }
        }
    }
    for (k, v) in &per_insn {
        eprintln!("{k}: {v} failures");
    }
    assert_eq!(failures, 0, "{failures} of {n} vectors differ");
    n
}

#[test]
fn host_vectors() {
    let n = replay(include_bytes!("sse/vectors.txt.gz"), 11);
    assert!(n > 190_000, "only {n} vectors");
}

/// Exceptions unmasked: the instruction must fault (#XM) exactly when the
/// host's did, leave the destination alone and record the same flags.
#[test]
fn host_unmasked_vectors() {
    let n = replay(include_bytes!("sse/unmasked.txt.gz"), 12);
    assert!(n > 40_000, "only {n} vectors");
}

/// SSE3, SSSE3, SSE4.1 and SSE4.2 (`gen_v2.py`), exceptions masked.
#[test]
fn host_v2_vectors() {
    let n = replay(include_bytes!("sse/v2.txt.gz"), 11);
    assert!(n > 150_000, "only {n} vectors");
}

/// SSE3 and SSE4.1 floating point with exceptions unmasked.
#[test]
fn host_v2_unmasked_vectors() {
    let n = replay(include_bytes!("sse/v2_unmasked.txt.gz"), 12);
    assert!(n > 9_000, "only {n} vectors");
}

// ---- the operating-system side ----------------------------------------

const MOVAPS_RR: [u8; 3] = [0x0F, 0x28, 0xC1]; // movaps xmm0, xmm1
const PADDB_MM: [u8; 3] = [0x0F, 0xFC, 0xC1]; // paddb mm0, mm1

#[test]
fn cr0_and_cr4_controls() {
    let with = |cr0_set: u64, cr4_clear: u64, code: &[u8]| {
        let mut m = M::pm32();
        m.cpu.s.cr0 |= cr0_set;
        m.cpu.s.cr4 &= !cr4_clear;
        m.run(code)
    };
    assert_eq!(with(0, 0, &MOVAPS_RR), Exit::Done);
    assert_eq!(with(0, cr4::OSFXSR, &MOVAPS_RR), Exit::Vector(6));
    assert_eq!(with(cr0::EM, 0, &MOVAPS_RR), Exit::Vector(6));
    assert_eq!(with(cr0::TS, 0, &MOVAPS_RR), Exit::Vector(7));
    assert_eq!(with(cr0::TS | cr0::EM, 0, &MOVAPS_RR), Exit::Vector(6));
    // MMX needs no OSFXSR; EM is #UD, TS #NM.
    assert_eq!(with(0, cr4::OSFXSR, &PADDB_MM), Exit::Done);
    assert_eq!(with(cr0::EM, 0, &PADDB_MM), Exit::Vector(6));
    assert_eq!(with(cr0::TS, 0, &PADDB_MM), Exit::Vector(7));
    // Without the CPUID bits the instructions do not exist.
    let mut m = M::pm32();
    m.cpu.s.cpuid_model.features_edx &= !(edx1::SSE | edx1::SSE2 | edx1::MMX);
    assert_eq!(m.run(&MOVAPS_RR), Exit::Vector(6));
    assert_eq!(m.run(&PADDB_MM), Exit::Vector(6));
}

#[test]
fn alignment_of_16_byte_operands() {
    let mut m = M::pm32();
    m.poke(0x8200, &(0..32).collect::<Vec<u8>>());
    // movaps xmm0, [0x8208]
    assert_eq!(
        m.run(&[0x0F, 0x28, 0x05, 0x08, 0x82, 0, 0]),
        Exit::Vector(13)
    );
    // addps xmm0, [0x8208]
    assert_eq!(
        m.run(&[0x0F, 0x58, 0x05, 0x08, 0x82, 0, 0]),
        Exit::Vector(13)
    );
    // movdqa [0x8208], xmm0
    assert_eq!(
        m.run(&[0x66, 0x0F, 0x7F, 0x05, 0x08, 0x82, 0, 0]),
        Exit::Vector(13)
    );
    // movups xmm0, [0x8208]
    assert_eq!(m.run(&[0x0F, 0x10, 0x05, 0x08, 0x82, 0, 0]), Exit::Done);
    let want: Vec<u8> = (8..24).collect();
    assert_eq!(m.cpu.s.simd.xmm[0].to_le_bytes().to_vec(), want);
    // addss xmm0, [0x8201]: scalar operands need no alignment.
    assert_eq!(
        m.run(&[0xF3, 0x0F, 0x58, 0x05, 0x01, 0x82, 0, 0]),
        Exit::Done
    );
    // pxor mm0, [0x8101]: nor do MMX ones.
    assert_eq!(m.run(&[0x0F, 0xEF, 0x05, 0x01, 0x81, 0, 0]), Exit::Done);
}

#[test]
fn unmasked_exception_is_xm_or_ud() {
    for (osxmmexcpt, vector) in [(true, 19), (false, 6)] {
        let mut m = M::pm32();
        if !osxmmexcpt {
            m.cpu.s.cr4 &= !cr4::OSXMMEXCPT;
        }
        let one = 0x3F80_0000u128;
        m.cpu.s.simd.xmm[0] = one * 0x0000_0001_0000_0001_0000_0001_0000_0001;
        m.cpu.s.simd.xmm[1] = one; // lanes 1-3 divide by zero
        m.cpu.s.simd.mxcsr = 0x1F80 & !(1 << 9); // ZM clear
        assert_eq!(m.run(&[0x0F, 0x5E, 0xC1]), Exit::Vector(vector));
        assert_eq!(m.cpu.s.simd.xmm[0] & 0xFFFF_FFFF, one, "destination kept");
        assert_eq!(m.cpu.s.simd.xmm[0] >> 96, one);
        assert_eq!(m.cpu.s.simd.mxcsr, 0x1D84, "ZE recorded");
        // Masked: the result is stored.
        m.cpu.s.simd.mxcsr = 0x1F80;
        assert_eq!(m.run(&[0x0F, 0x5E, 0xC1]), Exit::Done);
        assert_eq!(m.cpu.s.simd.xmm[0] >> 96, 0x7F80_0000);
    }
}

#[test]
fn ldmxcsr_and_stmxcsr() {
    let mut m = M::pm32();
    m.poke(0x8100, &0xFFFFu32.to_le_bytes());
    // ldmxcsr [0x8100]; stmxcsr [0x8104]
    let code = [
        0x0F, 0xAE, 0x15, 0x00, 0x81, 0, 0, 0x0F, 0xAE, 0x1D, 0x04, 0x81, 0, 0,
    ];
    assert_eq!(m.run(&code), Exit::Done);
    assert_eq!(m.peek(0x8104, 4), 0xFFFFu32.to_le_bytes());
    m.poke(0x8100, &0x1_1F80u32.to_le_bytes());
    assert_eq!(m.run(&code), Exit::Vector(13), "reserved bit 16");
    assert_eq!(m.cpu.s.simd.mxcsr, 0xFFFF);
}

#[test]
fn fxsave_and_fxrstor_with_xmm() {
    let mut m = M::pm32();
    m.poke(0x8200, &[0xAA; 512]);
    for i in 0..16 {
        m.cpu.s.simd.xmm[i] = 0x0101_0101_0101_0101_0101_0101_0101_0101 * (i as u128 + 1);
    }
    m.cpu.s.simd.mxcsr = 0x9FC3;
    assert_eq!(m.run(&[0x0F, 0xAE, 0x05, 0x00, 0x82, 0, 0]), Exit::Done);
    assert_eq!(m.peek(0x8218, 8), [0xC3, 0x9F, 0, 0, 0xFF, 0xFF, 0, 0]);
    for i in 0..8 {
        let at = 0x8200 + 160 + 16 * i;
        assert_eq!(m.peek(at, 16), [i as u8 + 1; 16], "XMM{i}");
    }
    assert!(m.peek(0x8200 + 288, 224).iter().all(|&b| b == 0xAA));
    // Clobber, then restore.
    m.cpu.s.simd.xmm = [0; 16];
    m.cpu.s.simd.mxcsr = 0x1F80;
    assert_eq!(m.run(&[0x0F, 0xAE, 0x0D, 0x00, 0x82, 0, 0]), Exit::Done);
    assert_eq!(m.cpu.s.simd.mxcsr, 0x9FC3);
    assert_eq!(
        m.cpu.s.simd.xmm[7],
        0x0808_0808_0808_0808_0808_0808_0808_0808
    );
    assert_eq!(m.cpu.s.simd.xmm[8], 0, "XMM8-15 only in 64-bit mode");
    // A reserved MXCSR bit in the image: #GP(0), nothing loaded.
    m.poke(0x8218, &0x2_0000u32.to_le_bytes());
    m.cpu.s.simd.mxcsr = 0x1F80;
    assert_eq!(
        m.run(&[0x0F, 0xAE, 0x0D, 0x00, 0x82, 0, 0]),
        Exit::Vector(13)
    );
    assert_eq!(m.cpu.s.simd.mxcsr, 0x1F80);
}

#[test]
fn mmx_aliases_the_x87_registers() {
    let mut m = M::pm32();
    m.poke(0x8100, &0x1122_3344_5566_7788u64.to_le_bytes());
    // fld1 (TOP = 7, R7 = 1.0); movq mm0, [0x8100]
    assert_eq!(
        m.run(&[0xD9, 0xE8, 0x0F, 0x6F, 0x05, 0x00, 0x81, 0, 0]),
        Exit::Done
    );
    let f = &m.cpu.s.fpu;
    assert_eq!((f.top, f.full), (0, 0xFF), "TOP 0, all tags valid");
    assert_eq!(f.regs[0].to_bits(), 0xFFFF_1122_3344_5566_7788);
    assert_eq!(f.regs[7].to_bits(), 0x3FFF_8000_0000_0000_0000, "1.0 kept");
    // movd eax, mm7: the significand of 1.0.
    assert_eq!(m.run(&[0x0F, 0x7E, 0xF8]), Exit::Done);
    assert_eq!(m.cpu.s.gpr[reg::AX], 0);
    // emms: every tag empty.
    assert_eq!(m.run(&[0x0F, 0x77]), Exit::Done);
    assert_eq!(m.cpu.s.fpu.full, 0);
    // A pending unmasked x87 exception: #MF before the MMX instruction.
    m.cpu.s.fpu.set_control(0x037E); // IM clear
    m.cpu.s.fpu.raise(1); // IE
    assert_eq!(m.run(&PADDB_MM), Exit::Vector(16));
    // SSE instructions without MMX operands do not care.
    assert_eq!(m.run(&MOVAPS_RR), Exit::Done);
}

#[test]
fn partial_moves_and_maskmovdqu() {
    let mut m = M::pm32();
    m.poke(
        0x8100,
        &0x1122_3344_5566_7788_99AA_BBCC_DDEE_FF00u128.to_le_bytes(),
    );
    m.cpu.s.simd.xmm[0] = u128::MAX;
    // movlps xmm0, [0x8100]: low half loaded, high half kept.
    assert_eq!(m.run(&[0x0F, 0x12, 0x05, 0x00, 0x81, 0, 0]), Exit::Done);
    assert_eq!(
        m.cpu.s.simd.xmm[0],
        0xFFFF_FFFF_FFFF_FFFF_99AA_BBCC_DDEE_FF00
    );
    // movhps [0x8108], xmm1
    m.cpu.s.simd.xmm[1] = 0xCAFE_0000_0000_BABE_0000_0000_0000_0000;
    assert_eq!(m.run(&[0x0F, 0x17, 0x0D, 0x08, 0x81, 0, 0]), Exit::Done);
    assert_eq!(m.peek(0x8108, 8), 0xCAFE_0000_0000_BABEu64.to_le_bytes());
    // pinsrw xmm0, [0x8101], 3
    assert_eq!(
        m.run(&[0x66, 0x0F, 0xC4, 0x05, 0x01, 0x81, 0, 0, 3]),
        Exit::Done
    );
    assert_eq!((m.cpu.s.simd.xmm[0] >> 48) as u16, 0xEEFF);
    // maskmovdqu xmm0, xmm1 at DS:EDI: bytes whose mask byte has bit 7.
    m.poke(0x8300, &[0; 16]);
    m.cpu.s.gpr[reg::DI] = 0x8300;
    m.cpu.s.simd.xmm[0] = 0x0F0E_0D0C_0B0A_0908_0706_0504_0302_0100;
    m.cpu.s.simd.xmm[1] = 0x8000_0000_0000_0000_0000_0000_0000_FF7F;
    assert_eq!(m.run(&[0x66, 0x0F, 0xF7, 0xC1]), Exit::Done);
    let mut want = [0u8; 16];
    want[1] = 1;
    want[15] = 15;
    assert_eq!(m.peek(0x8300, 16), want);
}

#[test]
fn reciprocal_estimates_within_the_bound() {
    let mut m = M::pm32();
    let vals: [f32; 8] = [1.0, 3.0, 0.1, 7.5e-30, 1.7e30, 123.456, 0.999, 2.5e-38];
    for rsqrt in [false, true] {
        for v in vals {
            m.cpu.s.simd.xmm[1] = u128::from(v.to_bits());
            let code = if rsqrt {
                [0x0F, 0x52, 0xC1]
            } else {
                [0x0F, 0x53, 0xC1]
            };
            assert_eq!(m.run(&code), Exit::Done);
            let got = f64::from(f32::from_bits(m.cpu.s.simd.xmm[0] as u32));
            let exact = if rsqrt {
                1.0 / f64::from(v).sqrt()
            } else {
                1.0 / f64::from(v)
            };
            let err = ((got - exact) / exact).abs();
            assert!(err <= 1.5 / 4096.0, "{v}: {got} vs {exact}");
        }
    }
    // Specials: 1/±0 = ±∞, 1/∞ = 0, rsqrt of a negative is the default NaN.
    for (x, rc, rs) in [
        (0x8000_0000u32, 0xFF80_0000u32, 0xFF80_0000u32),
        (0x7F80_0000, 0, 0),
        (0xBF80_0000, 0xBF80_0000, 0xFFC0_0000),
    ] {
        m.cpu.s.simd.xmm[1] = u128::from(x);
        assert_eq!(m.run(&[0x0F, 0x53, 0xC1]), Exit::Done);
        assert_eq!(m.cpu.s.simd.xmm[0] as u32 & 0xFFFF_F000, rc);
        assert_eq!(m.run(&[0x0F, 0x52, 0xC1]), Exit::Done);
        assert_eq!(m.cpu.s.simd.xmm[0] as u32, rs);
    }
}

#[test]
fn fences_and_non_temporal_stores() {
    let mut m = M::pm32();
    for code in [
        &[0x0F, 0xAE, 0xF8][..],
        &[0x0F, 0xAE, 0xE8],
        &[0x0F, 0xAE, 0xF0],
        &[0x66, 0x0F, 0xE7, 0x05, 0x00, 0x81, 0x00, 0x00],
        &[0x0F, 0xC3, 0x05, 0x00, 0x81, 0x00, 0x00],
    ] {
        assert_eq!(m.run(code), Exit::Done, "{code:02x?}");
    }
}

#[test]
fn conversions_with_memory_operands() {
    let mut m = M::pm32();
    m.poke(0x8100, &(-2.5f32).to_bits().to_le_bytes());
    m.poke(0x8108, &1e10f64.to_bits().to_le_bytes());
    // cvtss2si eax, [0x8100]: round to nearest even.
    assert_eq!(
        m.run(&[0xF3, 0x0F, 0x2D, 0x05, 0x00, 0x81, 0, 0]),
        Exit::Done
    );
    assert_eq!(m.cpu.s.gpr[reg::AX], (-2i32) as u32 as u64);
    // cvttsd2si eax, [0x8108]: out of range, the integer indefinite.
    assert_eq!(
        m.run(&[0xF2, 0x0F, 0x2C, 0x05, 0x08, 0x81, 0, 0]),
        Exit::Done
    );
    assert_eq!(m.cpu.s.gpr[reg::AX], 0x8000_0000);
    assert_eq!(m.cpu.s.simd.mxcsr & 0x3F, 0x21, "IE (PE from the first)");
    // cvtsi2ss xmm0, [0x8100]: an integer operand.
    m.poke(0x8100, &7i32.to_le_bytes());
    assert_eq!(
        m.run(&[0xF3, 0x0F, 0x2A, 0x05, 0x00, 0x81, 0, 0]),
        Exit::Done
    );
    assert_eq!(m.cpu.s.simd.xmm[0] as u32, 7f32.to_bits());
}

#[test]
fn loads_zero_and_stores_write_only_their_size() {
    let mut m = M::pm32();
    m.poke(0x8100, &0x8877_6655_4433_2211u64.to_le_bytes());
    let ones = u128::MAX;
    for (code, want) in [
        // movss xmm0, [0x8100]
        (
            &[0xF3, 0x0F, 0x10, 0x05, 0x00, 0x81, 0, 0][..],
            0x4433_2211u128,
        ),
        // movsd xmm0, [0x8100]
        (
            &[0xF2, 0x0F, 0x10, 0x05, 0x00, 0x81, 0, 0],
            0x8877_6655_4433_2211,
        ),
        // movq xmm0, [0x8100]
        (
            &[0xF3, 0x0F, 0x7E, 0x05, 0x00, 0x81, 0, 0],
            0x8877_6655_4433_2211,
        ),
        // movd xmm0, [0x8100]
        (&[0x66, 0x0F, 0x6E, 0x05, 0x00, 0x81, 0, 0], 0x4433_2211),
    ] {
        m.cpu.s.simd.xmm[0] = ones;
        assert_eq!(m.run(code), Exit::Done);
        assert_eq!(m.cpu.s.simd.xmm[0], want, "{code:02x?}");
    }
    m.cpu.s.simd.xmm[1] = 0x1111_2222_3333_4444_5555_6666_7777_8888;
    for (code, n) in [
        // movss [0x8200], xmm1
        (&[0xF3, 0x0F, 0x11, 0x0D, 0x00, 0x82, 0, 0][..], 4),
        // movq [0x8200], xmm1
        (&[0x66, 0x0F, 0xD6, 0x0D, 0x00, 0x82, 0, 0], 8),
    ] {
        m.poke(0x8200, &[0xEE; 16]);
        assert_eq!(m.run(code), Exit::Done);
        let mut want = [0xEE; 16];
        want[..n].copy_from_slice(&0x5555_6666_7777_8888u64.to_le_bytes()[..n]);
        assert_eq!(m.peek(0x8200, 16), want, "{code:02x?}");
    }
}

#[test]
fn page_crossing_store_faults_before_writing() {
    let mut m = M::pm32();
    // Identity-map the first 4 MiB with 4 KiB pages, except 9000h.
    const PD: u64 = 0x10000;
    const PT: u64 = 0x11000;
    m.poke(PD, &(PT as u32 | 3).to_le_bytes());
    for i in 0..1024u64 {
        let pte = if i == 9 { 0 } else { (i << 12) as u32 | 3 };
        m.poke(PT + 4 * i, &pte.to_le_bytes());
    }
    let s = &mut m.cpu.s;
    s.cr3 = PD;
    s.cr0 |= cr0::PG;
    s.tlb.flush_all();
    s.update_mode();
    m.poke(0x8FF0, &[0xEE; 16]);
    m.cpu.s.simd.xmm[1] = u128::MAX;
    // movdqu [0x8ff8], xmm1: the second half is on the missing page.
    assert_eq!(
        m.run(&[0xF3, 0x0F, 0x7F, 0x0D, 0xF8, 0x8F, 0, 0]),
        Exit::Vector(14)
    );
    assert_eq!(m.cpu.s.cr2, 0x9000);
    assert_eq!(m.peek(0x8FF0, 16), [0xEE; 16], "nothing written");
}

// ---- SSE3 and later: the operating-system side and memory forms -------

const PSHUFB_XMM: [u8; 5] = [0x66, 0x0F, 0x38, 0x00, 0xC1]; // pshufb xmm0, xmm1
const PSHUFB_MM: [u8; 4] = [0x0F, 0x38, 0x00, 0xC1]; // pshufb mm0, mm1

/// `prefix opcode.. modrm(disp32 [0x8208 + adj]) imm..`.
fn mem_form(ins: &[u8], modrm: u8, at: u32, imm: &[u8]) -> Vec<u8> {
    let mut v = ins.to_vec();
    v.push(modrm);
    v.extend_from_slice(&at.to_le_bytes());
    v.extend_from_slice(imm);
    v
}

#[test]
fn v2_cpuid_bits_gate_each_extension() {
    // (code, CPUID leaf 1 ECX bit that must be reported)
    let cases: [(&[u8], u32); 6] = [
        (&[0x66, 0x0F, 0xD0, 0xC1], ecx1::SSE3),        // addsubpd
        (&[0xF2, 0x0F, 0x12, 0xC1], ecx1::SSE3),        // movddup
        (&PSHUFB_XMM, ecx1::SSSE3),                     // pshufb xmm
        (&PSHUFB_MM, ecx1::SSSE3),                      // pshufb mm
        (&[0x66, 0x0F, 0x38, 0x17, 0xC1], ecx1::SSE41), // ptest
        (&[0x66, 0x0F, 0x38, 0x37, 0xC1], ecx1::SSE42), // pcmpgtq
    ];
    for (code, bit) in cases {
        let mut m = M::pm32();
        assert_eq!(m.run(code), Exit::Done, "{code:x?}");
        m.cpu.s.cpuid_model.features_ecx &= !bit;
        assert_eq!(m.run(code), Exit::Vector(6), "{code:x?} without its bit");
    }
    // CRC32 eax, ecx needs SSE4.2 only (no SIMD state).
    let crc = [0xF2, 0x0F, 0x38, 0xF1, 0xC1];
    let mut m = M::pm32();
    m.cpu.s.cr0 |= cr0::TS | cr0::EM;
    m.cpu.s.cr4 &= !cr4::OSFXSR;
    assert_eq!(m.run(&crc), Exit::Done);
    m.cpu.s.cpuid_model.features_ecx &= !ecx1::SSE42;
    assert_eq!(m.run(&crc), Exit::Vector(6));
    // MONITOR is not reported and not implemented.
    let mut m = M::pm32();
    assert_eq!(m.run(&[0x0F, 0x01, 0xC8]), Exit::Vector(6));
}

#[test]
fn v2_cr0_and_cr4_controls() {
    let with = |cr0_set: u64, cr4_clear: u64, code: &[u8]| {
        let mut m = M::pm32();
        m.cpu.s.cr0 |= cr0_set;
        m.cpu.s.cr4 &= !cr4_clear;
        m.run(code)
    };
    assert_eq!(with(0, cr4::OSFXSR, &PSHUFB_XMM), Exit::Vector(6));
    assert_eq!(with(cr0::EM, 0, &PSHUFB_XMM), Exit::Vector(6));
    assert_eq!(with(cr0::TS, 0, &PSHUFB_XMM), Exit::Vector(7));
    // The MMX form, like MMX: no OSFXSR needed.
    assert_eq!(with(0, cr4::OSFXSR, &PSHUFB_MM), Exit::Done);
    assert_eq!(with(cr0::EM, 0, &PSHUFB_MM), Exit::Vector(6));
    assert_eq!(with(cr0::TS, 0, &PSHUFB_MM), Exit::Vector(7));
}

#[test]
fn v2_alignment_of_memory_operands() {
    let mut m = M::pm32();
    m.poke(0x8200, &(0..32).collect::<Vec<u8>>());
    let mis = 0x8208;
    let want: u128 = u128::from_le_bytes((8..24).collect::<Vec<u8>>().try_into().unwrap());
    // Aligned-only: PSHUFB, PTEST, MOVNTDQA, ROUNDPS, HADDPS.
    for op in [
        &[0x66, 0x0F, 0x38, 0x00][..],
        &[0x66, 0x0F, 0x38, 0x17],
        &[0x66, 0x0F, 0x38, 0x2A],
        &[0xF2, 0x0F, 0x7C],
    ] {
        assert_eq!(
            m.run(&mem_form(op, 0x05, mis, &[])),
            Exit::Vector(13),
            "{op:x?}"
        );
    }
    assert_eq!(
        m.run(&mem_form(&[0x66, 0x0F, 0x3A, 0x08], 0x05, mis, &[0])),
        Exit::Vector(13)
    );
    // MOVNTDQA aligned loads.
    assert_eq!(
        m.run(&mem_form(&[0x66, 0x0F, 0x38, 0x2A], 0x05, 0x8210, &[])),
        Exit::Done
    );
    assert_eq!(
        m.cpu.s.simd.xmm[0],
        want + 0x0808_0808_0808_0808_0808_0808_0808_0808
    );
    // LDDQU and the string compares take unaligned operands.
    assert_eq!(
        m.run(&mem_form(&[0xF2, 0x0F, 0xF0], 0x05, mis, &[])),
        Exit::Done
    );
    assert_eq!(m.cpu.s.simd.xmm[0], want);
    m.cpu.s.simd.xmm[0] = 0x0C0B; // "\x0b\x0c": found at index 3 of [mis]
    assert_eq!(
        m.run(&mem_form(&[0x66, 0x0F, 0x3A, 0x63], 0x05, mis, &[0x0C])),
        Exit::Done
    ); // pcmpistri xmm0, [mis], equal ordered
    assert_eq!(m.cpu.s.gpr[reg::CX], 3);
    // Narrow operands: no alignment (PMOVZXBW m64, MOVDDUP m64).
    assert_eq!(
        m.run(&mem_form(&[0x66, 0x0F, 0x38, 0x30], 0x05, 0x8201, &[])),
        Exit::Done
    );
    assert_eq!(
        m.cpu.s.simd.xmm[0],
        0x0008_0007_0006_0005_0004_0003_0002_0001
    );
    assert_eq!(
        m.run(&mem_form(&[0xF2, 0x0F, 0x12], 0x05, 0x8201, &[])),
        Exit::Done
    );
    assert_eq!(
        m.cpu.s.simd.xmm[0],
        0x0807_0605_0403_0201_0807_0605_0403_0201
    );
}

#[test]
fn v2_memory_forms() {
    let mut m = M::pm32();
    m.poke(0x8300, &0x4040_0000u32.to_le_bytes()); // 3.0f
    m.cpu.s.simd.xmm[0] = 0x1111_1111_2222_2222_3333_3333_4444_4444;
    // insertps xmm0, [0x8300], 0b11_10_0001: the memory dword (count_s
    // ignored) into lane 2, lane 0 zeroed.
    assert_eq!(
        m.run(&mem_form(&[0x66, 0x0F, 0x3A, 0x21], 0x05, 0x8300, &[0xE1])),
        Exit::Done
    );
    assert_eq!(
        m.cpu.s.simd.xmm[0],
        0x1111_1111_4040_0000_3333_3333_0000_0000
    );
    // pextrb [0x8310], xmm0, 13; pinsrb xmm1, [0x8310], 2.
    m.poke(0x8310, &[0xEE, 0xEE]);
    assert_eq!(
        m.run(&mem_form(&[0x66, 0x0F, 0x3A, 0x14], 0x05, 0x8310, &[13])),
        Exit::Done
    );
    assert_eq!(m.peek(0x8310, 2), [0x11, 0xEE]);
    m.cpu.s.simd.xmm[1] = 0;
    assert_eq!(
        m.run(&mem_form(&[0x66, 0x0F, 0x3A, 0x20], 0x0D, 0x8310, &[2])),
        Exit::Done
    );
    assert_eq!(m.cpu.s.simd.xmm[1], 0x11_0000);
    // extractps [0x8320], xmm0, 2
    assert_eq!(
        m.run(&mem_form(&[0x66, 0x0F, 0x3A, 0x17], 0x05, 0x8320, &[2])),
        Exit::Done
    );
    assert_eq!(m.peek(0x8320, 4), 0x4040_0000u32.to_le_bytes());
}

/// CRC32 with byte and dword memory sources gives the standard CRC-32C
/// check value of "123456789" (initial value and final XOR all ones).
#[test]
fn crc32_check_value() {
    let mut m = M::pm32();
    m.poke(0x8400, b"123456789");
    let mut code = vec![0xB8, 0xFF, 0xFF, 0xFF, 0xFF]; // mov eax, -1
    code.extend(mem_form(&[0xF2, 0x0F, 0x38, 0xF1], 0x05, 0x8400, &[]));
    code.extend(mem_form(&[0x66, 0xF2, 0x0F, 0x38, 0xF1], 0x05, 0x8404, &[]));
    code.extend(mem_form(&[0xF2, 0x0F, 0x38, 0xF0], 0x05, 0x8406, &[]));
    code.extend(mem_form(&[0xF2, 0x0F, 0x38, 0xF0], 0x05, 0x8407, &[]));
    code.extend(mem_form(&[0xF2, 0x0F, 0x38, 0xF0], 0x05, 0x8408, &[]));
    code.extend([0xF7, 0xD0]); // not eax
    assert_eq!(m.run(&code), Exit::Done);
    assert_eq!(m.cpu.s.gpr[reg::AX], 0xE306_9283);
}
