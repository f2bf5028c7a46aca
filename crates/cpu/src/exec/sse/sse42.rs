//! SSE4.2 (SDM Vol. 2; CPUID leaf 1 ECX bit 20): the packed string
//! compares PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM, PCMPGTQ and CRC32.
//! POPCNT has its own CPUID bit and lives in `exec::v2`.

use super::int::{ones, slane, smap2};
use super::K;
use crate::arch::{fl, reg};
use crate::bus::CpuBus;
use crate::cpuid::ecx1;
use crate::decode::Op;
use crate::fault::{Fault, Res};
use crate::state::CpuState;

/// PCMPGTQ.
pub(super) fn int(m: K, d: u128, s: u128) -> Option<u128> {
    match m {
        K::Pcmpgtq => Some(smap2(d, s, 64, 128, |a, b| ones(a > b) as i64)),
        _ => None,
    }
}

/// Element `i` of a string operand: bytes or words, signed or not.
fn elem(v: u128, words: bool, signed: bool, i: u32) -> i64 {
    let w = if words { 16 } else { 8 };
    if signed {
        slane(v, w, i)
    } else {
        (v >> (w * i)) as i64 & ((1 << w) - 1)
    }
}

/// The length of a string operand of `n` elements ending at its first
/// zero element (implicit length).
fn implicit_len(v: u128, words: bool, n: u32) -> u32 {
    (0..n).find(|&i| elem(v, words, false, i) == 0).unwrap_or(n)
}

/// An explicit length: the absolute value, saturated to `n`.
fn explicit_len(v: u64, wide: bool, n: u32) -> u32 {
    let a = if wide {
        (v as i64).unsigned_abs()
    } else {
        u64::from((v as u32 as i32).unsigned_abs())
    };
    a.min(u64::from(n)) as u32
}

/// The comparison core of the four string instructions (SDM Vol. 2
/// §4.1): IntRes2 of operand `a` (length `la`) and `b` (length `lb`).
fn compare(a: u128, b: u128, la: u32, lb: u32, imm: u8) -> u32 {
    let words = imm & 1 != 0;
    let signed = imm & 2 != 0;
    let n = if words { 8 } else { 16 };
    let ea = |i| elem(a, words, signed, i);
    let eb = |j| elem(b, words, signed, j);
    let mut res1 = 0u32;
    for j in 0..n {
        let bit = match imm >> 2 & 3 {
            // Equal any: b[j] is one of a's valid elements.
            0 => j < lb && (0..la).any(|i| ea(i) == eb(j)),
            // Ranges: a holds (low, high) pairs.
            1 => {
                j < lb
                    && (0..n / 2).any(|k| {
                        let (lo, hi) = (2 * k, 2 * k + 1);
                        hi < la && eb(j) >= ea(lo) && eb(j) <= ea(hi)
                    })
            }
            // Equal each: both invalid compares equal.
            2 => match (j < la, j < lb) {
                (true, true) => ea(j) == eb(j),
                (false, false) => true,
                _ => false,
            },
            // Equal ordered: a (the needle) found at b[j].
            _ => (0..n - j).all(|k| match (k < la, j + k < lb) {
                (false, _) => true,
                (true, false) => false,
                (true, true) => ea(k) == eb(j + k),
            }),
        };
        res1 |= u32::from(bit) << j;
    }
    let all = (1u32 << n) - 1;
    let valid_b = (1u32 << lb) - 1;
    match imm >> 4 & 3 {
        1 => !res1 & all,
        3 => (res1 ^ valid_b) & all,
        _ => res1,
    }
}

/// PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM xmm1, xmm2/m128, imm8: the
/// index goes to ECX, the mask to XMM0; CF = result not zero, ZF/SF =
/// the length of b/a is below the element count, OF = result bit 0, AF
/// and PF cleared.
pub(super) fn pcmpstr(s: &mut CpuState, m: K, a: u128, b: u128, imm: u8) -> Option<()> {
    let words = imm & 1 != 0;
    let n = if words { 8 } else { 16 };
    let (la, lb) = match m {
        K::Pcmpestri | K::Pcmpestrm | K::Pcmpestri64 | K::Pcmpestrm64 => {
            let wide = matches!(m, K::Pcmpestri64 | K::Pcmpestrm64);
            (
                explicit_len(s.gpr[reg::AX], wide, n),
                explicit_len(s.gpr[reg::DX], wide, n),
            )
        }
        K::Pcmpistri | K::Pcmpistrm => (implicit_len(a, words, n), implicit_len(b, words, n)),
        _ => return None,
    };
    let r = compare(a, b, la, lb, imm);
    if matches!(m, K::Pcmpestrm | K::Pcmpestrm64 | K::Pcmpistrm) {
        let v = if imm & 0x40 != 0 {
            let w = if words { 16 } else { 8 };
            (0..n).fold(0u128, |v, i| {
                if r >> i & 1 != 0 {
                    v | (u128::MAX >> (128 - w)) << (w * i)
                } else {
                    v
                }
            })
        } else {
            u128::from(r)
        };
        s.set_xmm(0, v);
    } else {
        let idx = if r == 0 {
            n
        } else if imm & 0x40 != 0 {
            31 - r.leading_zeros()
        } else {
            r.trailing_zeros()
        };
        s.set_reg(reg::CX as u8, 4, u64::from(idx));
    }
    let mut f = 0;
    if r != 0 {
        f |= fl::CF;
    }
    if lb < n {
        f |= fl::ZF;
    }
    if la < n {
        f |= fl::SF;
    }
    if r & 1 != 0 {
        f |= fl::OF;
    }
    s.set_arith(f);
    Some(())
}

/// CRC-32C (the Castagnoli polynomial, bit-reflected: 82F63B78h) of the
/// `n` low bytes of `v`, least significant first, from `crc`.
pub(crate) fn crc32c(mut crc: u32, v: u64, n: u8) -> u32 {
    for i in 0..n {
        crc ^= (v >> (8 * i)) as u32 & 0xFF;
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0x82F6_3B78 & (crc & 1).wrapping_neg());
        }
    }
    crc
}

/// CRC32 r32/r64, r/m8/16/32/64 (F2 0F 38 F0/F1): accumulates the source
/// into the CRC in the destination's low 32 bits; the result is
/// zero-extended. #UD unless CPUID reports SSE4.2.
pub(super) fn crc32<B: CpuBus, const MEM: bool>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    if s.cpuid_model.features_ecx & ecx1::SSE42 == 0 {
        return Err(Fault::UD);
    }
    let v = s.rd_rm(bus, op, MEM, op.r1, op.size2)?;
    let crc = s.reg(op.r0, 4) as u32;
    s.set_reg(op.r0, op.size, u64::from(crc32c(crc, v, op.size2)));
    Ok(())
}
