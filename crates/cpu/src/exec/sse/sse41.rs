//! SSE4.1 (SDM Vol. 2; CPUID leaf 1 ECX bit 19): blends, dot products,
//! element insert/extract, MPSADBW, the new packed integer compares,
//! min/max, multiplies and extensions, PHMINPOSUW, PTEST, ROUND* and
//! MOVNTDQA (an aligned load here).

use super::fp::{lane as flane, set_lane, width, Lanes};
use super::int::{lane, map2, ones, pack, slane, smap2};
use super::{Cx, K};
use crate::arch::fl;
use crate::fault::Res;
use crate::state::CpuState;
use anyx86_softfloat::ieee::{flag, rc, Env, Format, F32, F64};

/// Selects `w`-bit lanes of `s` where bit i of `sel` is set, else `d`'s.
fn blend(d: u128, s: u128, w: u32, sel: u32) -> u128 {
    let mut r = d;
    for i in 0..128 / w {
        if sel >> i & 1 != 0 {
            let m = (u128::MAX >> (128 - w)) << (w * i);
            r = (r & !m) | (s & m);
        }
    }
    r
}

/// The sign bits of the `w`-bit lanes of `v` as a bit mask.
fn signs(v: u128, w: u32) -> u32 {
    (0..128 / w).fold(0, |a, i| a | ((v >> (w * i + w - 1)) as u32 & 1) << i)
}

/// Sign- or zero-extends the low lanes of `s` from `from` to `to` bits.
fn extend(s: u128, from: u32, to: u32, signed: bool) -> u128 {
    let mut r = 0u128;
    for i in 0..128 / to {
        let v = if signed {
            slane(s, from, i) as u64
        } else {
            lane(s, from, i)
        };
        let m = if to == 64 { u64::MAX } else { (1 << to) - 1 };
        r |= u128::from(v & m) << (to * i);
    }
    r
}

/// The integer operations of SSE4.1, or `None`.
pub(super) fn int(m: K, d: u128, s: u128, cx: &Cx, xmm0: u128) -> Option<u128> {
    let imm = cx.imm;
    let ins = |w: u32| {
        let i = u32::from(imm) & (128 / w - 1);
        let m = (u128::MAX >> (128 - w)) << (w * i);
        (d & !m) | (s << (w * i) & m)
    };
    let ext = |w: u32| u128::from(lane(s, w, u32::from(imm) & (128 / w - 1)));
    Some(match m {
        K::Pblendw => blend(d, s, 16, u32::from(imm)),
        K::Blendps => blend(d, s, 32, u32::from(imm) & 15),
        K::Blendpd => blend(d, s, 64, u32::from(imm) & 3),
        K::Blendvps => blend(d, s, 32, signs(xmm0, 32)),
        K::Blendvpd => blend(d, s, 64, signs(xmm0, 64)),
        K::Pblendvb => blend(d, s, 8, signs(xmm0, 8)),
        K::Extractps | K::Pextrd => ext(32),
        K::Pextrb => ext(8),
        K::Pextrq => ext(64),
        K::Pinsrb => ins(8),
        K::Pinsrd => ins(32),
        K::Pinsrq => ins(64),
        K::Insertps => {
            let v = if cx.smem {
                s & 0xFFFF_FFFF
            } else {
                u128::from(lane(s, 32, u32::from(imm >> 6)))
            };
            let i = u32::from(imm >> 4 & 3);
            let r = (d & !(0xFFFF_FFFF << (32 * i))) | v << (32 * i);
            blend(r, 0, 32, u32::from(imm) & 15)
        }
        K::Mpsadbw => {
            let so = u32::from(imm & 3) * 4;
            let dof = u32::from(imm >> 2 & 1) * 4;
            let mut r = 0u128;
            for i in 0..8 {
                let sum: u64 = (0..4)
                    .map(|j| lane(d, 8, dof + i + j).abs_diff(lane(s, 8, so + j)))
                    .sum();
                r |= u128::from(sum) << (16 * i);
            }
            r
        }
        K::Packusdw => pack(d, s, 32, 128, true),
        K::Pcmpeqq => map2(d, s, 64, 128, |a, b| ones(a == b)),
        K::Pmaxsb => smap2(d, s, 8, 128, i64::max),
        K::Pmaxsd => smap2(d, s, 32, 128, i64::max),
        K::Pmaxuw => map2(d, s, 16, 128, u64::max),
        K::Pmaxud => map2(d, s, 32, 128, u64::max),
        K::Pminsb => smap2(d, s, 8, 128, i64::min),
        K::Pminsd => smap2(d, s, 32, 128, i64::min),
        K::Pminuw => map2(d, s, 16, 128, u64::min),
        K::Pminud => map2(d, s, 32, 128, u64::min),
        K::Pmuldq => {
            let p = |i| u128::from((slane(d, 32, i) * slane(s, 32, i)) as u64);
            p(0) | p(2) << 64
        }
        K::Pmulld => smap2(d, s, 32, 128, |a, b| a.wrapping_mul(b)),
        K::Phminposuw => {
            let (v, i) = (0..8).map(|i| (lane(s, 16, i), i)).min().unwrap_or((0, 0));
            u128::from(v) | u128::from(i) << 16
        }
        K::Pmovsxbw => extend(s, 8, 16, true),
        K::Pmovsxbd => extend(s, 8, 32, true),
        K::Pmovsxbq => extend(s, 8, 64, true),
        K::Pmovsxwd => extend(s, 16, 32, true),
        K::Pmovsxwq => extend(s, 16, 64, true),
        K::Pmovsxdq => extend(s, 32, 64, true),
        K::Pmovzxbw => extend(s, 8, 16, false),
        K::Pmovzxbd => extend(s, 8, 32, false),
        K::Pmovzxbq => extend(s, 8, 64, false),
        K::Pmovzxwd => extend(s, 16, 32, false),
        K::Pmovzxwq => extend(s, 16, 64, false),
        K::Pmovzxdq => extend(s, 32, 64, false),
        K::Movntdqa => s,
        _ => return None,
    })
}

/// PTEST: ZF = (d AND s) = 0, CF = (s AND NOT d) = 0, the other
/// arithmetic flags cleared.
pub(super) fn ptest(s: &mut CpuState, d: u128, src: u128) {
    let mut f = 0;
    if d & src == 0 {
        f |= fl::ZF;
    }
    if src & !d == 0 {
        f |= fl::CF;
    }
    s.set_arith(f);
}

/// Rounds `x` to an integral value of format `f` in rounding mode `mode`:
/// an SNaN raises IE (and is quieted), an inexact result PE.
fn round_int(e: &mut Env, f: Format, x: u64, mode: u8) -> u64 {
    let (fb, eb) = if f == F32 { (23u32, 8u32) } else { (52, 11) };
    let w = fb + eb + 1;
    let sign = x >> (w - 1) & 1;
    let signbit = sign << (w - 1);
    let exp = (x >> fb) & ((1 << eb) - 1);
    let bias = (1u64 << (eb - 1)) - 1;
    if f.is_nan(x) {
        if f.is_snan(x) {
            e.flags |= flag::IE;
        }
        return f.quiet(x);
    }
    let x = if e.daz && f.is_denormal(x) {
        signbit
    } else {
        x
    };
    let mag = x & !signbit;
    if mag == 0 || exp >= bias + u64::from(fb) {
        return x;
    }
    let up = |frac_gt_half: bool, frac_eq_half: bool, odd: bool| match mode {
        rc::NEAREST => frac_gt_half || frac_eq_half && odd,
        rc::DOWN => sign != 0,
        rc::UP => sign == 0,
        _ => false,
    };
    e.flags |= flag::PE;
    if exp < bias {
        // |x| < 1: 0 or 1.
        let gt = exp == bias - 1 && mag & ((1 << fb) - 1) != 0;
        let eq = exp == bias - 1 && mag & ((1 << fb) - 1) == 0;
        let one = bias << fb;
        return signbit | if up(gt, eq, false) { one } else { 0 };
    }
    let shift = (bias + u64::from(fb) - exp) as u32;
    let sig = (mag & ((1 << fb) - 1)) | 1 << fb;
    let frac = sig & ((1 << shift) - 1);
    if frac == 0 {
        e.flags &= !flag::PE;
        return x;
    }
    let half = 1u64 << (shift - 1);
    let mut ip = sig >> shift;
    if up(frac > half, frac == half, ip & 1 != 0) {
        ip += 1;
    }
    signbit | (((exp - 1) << fb) + (ip << shift))
}

/// ROUND*, DPPS/DPPD: the floating point of SSE4.1.
pub(super) fn fp(s: &mut CpuState, m: K, d: u128, src: u128, cx: &Cx) -> Option<Res<Option<u128>>> {
    let imm = cx.imm;
    let mut l = Lanes::new(s.simd.mxcsr);
    let r = match m {
        K::Roundps | K::Roundpd | K::Roundss | K::Roundsd => {
            let (f, n) = match m {
                K::Roundps => (F32, 4),
                K::Roundpd => (F64, 2),
                K::Roundss => (F32, 1),
                _ => (F64, 1),
            };
            let mode = if imm & 4 != 0 { l.env.rc } else { imm & 3 };
            let quiet = imm & 8 != 0;
            l.run(f, n, d, src, |e, _, b| {
                let r = round_int(e, f, b, mode);
                if quiet {
                    e.flags &= !flag::PE;
                }
                r
            })
        }
        K::Dpps | K::Dppd => {
            let f = if m == K::Dpps { F32 } else { F64 };
            let w = width(f);
            let n = 128 / w;
            let step = |l: &mut Lanes, op: u8, a: u64, b: u64| {
                l.step(|e| {
                    if op == 0 {
                        e.mul(f, a, b)
                    } else {
                        e.add(f, a, b, false)
                    }
                })
            };
            let mut t = [0u64; 4];
            for (i, ti) in t.iter_mut().enumerate().take(n as usize) {
                let i = i as u32;
                if imm >> (4 + i) & 1 != 0 {
                    *ti = step(&mut l, 0, flane(d, w, i), flane(src, w, i));
                }
            }
            let sum = if n == 4 {
                let t2 = step(&mut l, 1, t[0], t[1]);
                let t3 = step(&mut l, 1, t[2], t[3]);
                step(&mut l, 1, t2, t3)
            } else {
                step(&mut l, 1, t[0], t[1])
            };
            let mut r = 0u128;
            for i in 0..n {
                if imm >> i & 1 != 0 {
                    r = set_lane(r, w, i, sum);
                }
            }
            r
        }
        _ => return None,
    };
    let flags = l.flags();
    Some(s.simd_fp_raise(flags).map(|()| Some(r)))
}
