//! SSE and SSE2 floating point: arithmetic, MIN/MAX, square root, the
//! reciprocal estimates, comparisons into a mask or into EFLAGS, and
//! conversions. The arithmetic is the soft-float crate's `ieee` module
//! under MXCSR's rounding, DAZ and FZ controls.
//!
//! Exceptions (SDM Vol. 1 §11.5.2): the flags of every element are
//! gathered; if any element raised an unmasked invalid, denormal or
//! divide-by-zero exception, only those "pre-computation" flags are
//! reported. Any unmasked flag leaves the destination unchanged and
//! raises #XM (or #UD with CR4.OSXMMEXCPT = 0).

use super::{Cx, K, LO32, LO64};
use crate::arch::fl;
use crate::fault::Res;
use crate::simd::mxcsr;
use crate::state::CpuState;
use anyx86_softfloat::ieee::{flag, Env, Format, F32, F64};
use core::cmp::Ordering;

pub(super) const PRE: u32 = flag::IE | flag::DE | flag::ZE;

/// Lane width in bits of a format.
pub(super) fn width(f: Format) -> u32 {
    if f == F32 {
        32
    } else {
        64
    }
}

pub(super) fn lane(v: u128, w: u32, i: u32) -> u64 {
    let x = (v >> (w * i)) as u64;
    if w == 32 {
        x & 0xFFFF_FFFF
    } else {
        x
    }
}

pub(super) fn set_lane(v: u128, w: u32, i: u32, x: u64) -> u128 {
    let m = if w == 32 { LO32 } else { LO64 };
    (v & !(m << (w * i))) | (u128::from(x) & m) << (w * i)
}

/// The lane operations of one instruction under MXCSR: each element is
/// computed from the same environment with its flags clear, and the
/// flags of all are gathered by the pre/post-computation rule.
pub(super) struct Lanes {
    pub(super) env: Env,
    masks: u32,
    pre: u32,
    all: u32,
}

impl Lanes {
    /// Under MXCSR `csr`: its rounding, DAZ and FZ controls and its masks.
    pub(super) fn new(csr: u32) -> Self {
        Self {
            env: Env::from_mxcsr(csr),
            masks: (csr >> mxcsr::MASK_SHIFT) & mxcsr::FLAGS,
            pre: 0,
            all: 0,
        }
    }

    /// One element: `f` on a copy of the environment with its flags
    /// clear; the flags it raised are gathered.
    pub(super) fn step(&mut self, f: impl FnOnce(&mut Env) -> u64) -> u64 {
        let mut e = self.env;
        e.flags = 0;
        let x = f(&mut e);
        self.add(e.flags);
        x
    }

    /// Applies `f` to the first `n` lane pairs (lanes of `f`'s format); the
    /// other lanes come from `d`.
    pub(super) fn run(
        &mut self,
        fmt: Format,
        n: u32,
        d: u128,
        s: u128,
        mut f: impl FnMut(&mut Env, u64, u64) -> u64,
    ) -> u128 {
        let w = width(fmt);
        let mut r = d;
        for i in 0..n {
            let x = self.step(|e| f(e, lane(d, w, i), lane(s, w, i)));
            r = set_lane(r, w, i, x);
        }
        r
    }

    /// Gathers one element's flags.
    pub(super) fn add(&mut self, flags: u32) {
        self.pre |= flags & PRE;
        self.all |= flags;
    }

    pub(super) fn flags(&self) -> u32 {
        if self.pre & !self.masks != 0 {
            self.pre
        } else {
            self.all
        }
    }
}

/// CMPPS predicate `p` (0-7) applied to an ordering.
fn predicate(p: u8, o: Option<Ordering>) -> bool {
    match (p & 7, o) {
        (0, Some(Ordering::Equal)) => true,
        (1, Some(Ordering::Less)) => true,
        (2, Some(Ordering::Less | Ordering::Equal)) => true,
        (3, None) => true,
        (4, o) => o != Some(Ordering::Equal),
        (5, o) => o != Some(Ordering::Less),
        (6, o) => !matches!(o, Some(Ordering::Less | Ordering::Equal)),
        (7, Some(_)) => true,
        _ => false,
    }
}

/// The predicates that signal on a QNaN (LT, LE, NLT, NLE).
fn signaling(p: u8) -> bool {
    matches!(p & 7, 1 | 2 | 5 | 6)
}

/// RCPSS/RSQRTSS: an estimate with a relative error below 1.5 × 2^-12,
/// here the correctly rounded value with the low 11 fraction bits cleared.
/// Denormal inputs count as zeros, tiny results flush to zero; no flags.
fn estimate(x: u64, rsqrt: bool) -> u64 {
    let f = F32;
    let sign = x & 0x8000_0000;
    if f.is_nan(x) {
        return f.quiet(x);
    }
    let x = if f.is_denormal(x) { sign } else { x };
    let mag = x & 0x7FFF_FFFF;
    if mag == 0 {
        return sign | 0x7F80_0000;
    }
    if rsqrt && sign != 0 {
        return f.default_nan();
    }
    if mag == 0x7F80_0000 {
        return sign;
    }
    let mut e = Env::from_mxcsr(mxcsr::RESET);
    let wide = e.convert(F32, F64, x);
    let den = if rsqrt { e.sqrt(F64, wide) } else { wide };
    let v = e.div(F64, 0x3FF0_0000_0000_0000, den);
    let r = e.convert(F64, F32, v);
    if f.is_denormal(r) {
        sign
    } else {
        r & !0x7FF
    }
}

/// The floating-point operation `m`.
pub(super) fn op(s: &mut CpuState, m: K, d: u128, src: u128, cx: &Cx) -> Res<Option<u128>> {
    let mut l = Lanes::new(s.simd.mxcsr);
    let (ps, ss, pd, sd) = ((F32, 4), (F32, 1), (F64, 2), (F64, 1));
    let arith = |m: K| match m {
        K::Addps | K::Addss | K::Addpd | K::Addsd => 0,
        K::Subps | K::Subss | K::Subpd | K::Subsd => 1,
        K::Mulps | K::Mulss | K::Mulpd | K::Mulsd => 2,
        K::Divps | K::Divss | K::Divpd | K::Divsd => 3,
        K::Minps | K::Minss | K::Minpd | K::Minsd => 4,
        _ => 5,
    };
    let shape = |m: K| match m {
        K::Addps | K::Subps | K::Mulps | K::Divps | K::Minps | K::Maxps | K::Sqrtps => ps,
        K::Addss | K::Subss | K::Mulss | K::Divss | K::Minss | K::Maxss | K::Sqrtss => ss,
        K::Addpd | K::Subpd | K::Mulpd | K::Divpd | K::Minpd | K::Maxpd | K::Sqrtpd => pd,
        _ => sd,
    };
    let r = match m {
        K::Addps
        | K::Addss
        | K::Addpd
        | K::Addsd
        | K::Subps
        | K::Subss
        | K::Subpd
        | K::Subsd
        | K::Mulps
        | K::Mulss
        | K::Mulpd
        | K::Mulsd
        | K::Divps
        | K::Divss
        | K::Divpd
        | K::Divsd
        | K::Minps
        | K::Minss
        | K::Minpd
        | K::Minsd
        | K::Maxps
        | K::Maxss
        | K::Maxpd
        | K::Maxsd => {
            let (f, n) = shape(m);
            let k = arith(m);
            l.run(f, n, d, src, |e, a, b| match k {
                0 => e.add(f, a, b, false),
                1 => e.add(f, a, b, true),
                2 => e.mul(f, a, b),
                3 => e.div(f, a, b),
                4 => e.min_max(f, a, b, false),
                _ => e.min_max(f, a, b, true),
            })
        }
        K::Sqrtps | K::Sqrtss | K::Sqrtpd | K::Sqrtsd => {
            let (f, n) = shape(m);
            l.run(f, n, d, src, |e, _, b| e.sqrt(f, b))
        }
        K::Rcpps | K::Rsqrtps => {
            let rs = m == K::Rsqrtps;
            l.run(F32, 4, d, src, |_, _, b| estimate(b, rs))
        }
        K::Rcpss | K::Rsqrtss => {
            let rs = m == K::Rsqrtss;
            l.run(F32, 1, d, src, |_, _, b| estimate(b, rs))
        }
        K::Cmpps | K::Cmpss | K::Cmppd | K::Cmpsd => {
            let (f, n) = match m {
                K::Cmpps => ps,
                K::Cmpss => ss,
                K::Cmppd => pd,
                _ => sd,
            };
            let p = cx.imm;
            let ones = if f == F32 { 0xFFFF_FFFF } else { u64::MAX };
            l.run(f, n, d, src, |e, a, b| {
                if predicate(p, e.compare(f, a, b, signaling(p))) {
                    ones
                } else {
                    0
                }
            })
        }
        K::Comiss | K::Ucomiss | K::Comisd | K::Ucomisd => {
            let f = if matches!(m, K::Comiss | K::Ucomiss) {
                F32
            } else {
                F64
            };
            let w = width(f);
            let signal = matches!(m, K::Comiss | K::Comisd);
            let o = l.env.compare(f, lane(d, w, 0), lane(src, w, 0), signal);
            let flags = l.env.flags;
            s.simd_fp_raise(flags)?;
            s.set_arith(match o {
                None => fl::ZF | fl::PF | fl::CF,
                Some(Ordering::Greater) => 0,
                Some(Ordering::Less) => fl::CF,
                Some(Ordering::Equal) => fl::ZF,
            });
            return Ok(None);
        }
        // int → float
        K::Cvtpi2ps => l.run(F32, 2, d, src, |e, _, b| {
            e.from_int(F32, i64::from(b as i32))
        }),
        K::Cvtdq2ps => l.run(F32, 4, d, src, |e, _, b| {
            e.from_int(F32, i64::from(b as i32))
        }),
        K::Cvtsi2ss | K::Cvtsi2sd => {
            let f = if m == K::Cvtsi2ss { F32 } else { F64 };
            let v = if cx.size == 8 {
                src as u64 as i64
            } else {
                i64::from(src as u32 as i32)
            };
            let x = l.env.from_int(f, v);
            l.add(l.env.flags);
            set_lane(d, width(f), 0, x)
        }
        K::Cvtpi2pd | K::Cvtdq2pd => {
            let lo = l.env.from_int(F64, i64::from(src as u32 as i32));
            let hi = l.env.from_int(F64, i64::from((src >> 32) as u32 as i32));
            u128::from(lo) | u128::from(hi) << 64
        }
        // float → int
        K::Cvtps2pi | K::Cvttps2pi | K::Cvtps2dq | K::Cvttps2dq => {
            let t = matches!(m, K::Cvttps2pi | K::Cvttps2dq);
            let n = if matches!(m, K::Cvtps2dq | K::Cvttps2dq) {
                4
            } else {
                2
            };
            let r = l.run(F32, n, 0, src, |e, _, b| e.to_int(F32, b, 32, t));
            if n == 2 {
                r & LO64
            } else {
                r
            }
        }
        K::Cvtpd2pi | K::Cvttpd2pi | K::Cvtpd2dq | K::Cvttpd2dq => {
            let t = matches!(m, K::Cvttpd2pi | K::Cvttpd2dq);
            let r = l.run(F64, 2, 0, src, |e, _, b| e.to_int(F64, b, 32, t));
            (r & 0xFFFF_FFFF) | (r >> 64 & 0xFFFF_FFFF) << 32
        }
        K::Cvtss2si | K::Cvttss2si | K::Cvtsd2si | K::Cvttsd2si => {
            let f = if matches!(m, K::Cvtss2si | K::Cvttss2si) {
                F32
            } else {
                F64
            };
            let t = matches!(m, K::Cvttss2si | K::Cvttsd2si);
            let bits = if cx.size == 8 { 64 } else { 32 };
            let v = l.env.to_int(f, lane(src, width(f), 0), bits, t);
            l.add(l.env.flags);
            u128::from(v)
        }
        // float → float
        K::Cvtps2pd => {
            let mut out = 0u128;
            for i in 0..2 {
                let x = l.step(|e| e.convert(F32, F64, lane(src, 32, i)));
                out = set_lane(out, 64, i, x);
            }
            out
        }
        K::Cvtpd2ps => {
            let r = l.run(F64, 2, 0, src, |e, _, b| e.convert(F64, F32, b));
            (r & LO32) | (r >> 64 & LO32) << 32
        }
        K::Cvtss2sd => {
            let x = l.env.convert(F32, F64, lane(src, 32, 0));
            l.add(l.env.flags);
            set_lane(d, 64, 0, x)
        }
        K::Cvtsd2ss => {
            let x = l.env.convert(F64, F32, lane(src, 64, 0));
            l.add(l.env.flags);
            set_lane(d, 32, 0, x)
        }
        _ => return Err(crate::fault::Fault::UD),
    };
    let flags = l.flags();
    s.simd_fp_raise(flags)?;
    Ok(Some(r))
}
