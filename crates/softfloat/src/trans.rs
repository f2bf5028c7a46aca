//! The transcendental instructions: FSIN, FCOS, FSINCOS, FPTAN, FPATAN,
//! F2XM1, FYL2X, FYL2XP1 (SDM Vol. 2 instruction pages; Vol. 1 §8.3.10
//! "Transcendental instruction accuracy" and the FSIN page's note on π).
//!
//! The x87 reduces trigonometric arguments with a 66-bit approximation of π
//! (π66 = ⌊π·2^64⌋/2^64) rather than π itself: FSIN(x) is sin of x − k·π66/2
//! moved to quadrant k. These functions reduce exactly that way, with
//! integer arithmetic, and evaluate the kernels with 128-bit internal
//! precision, so results are the correctly rounded value of the x87's own
//! model; a real x87 is within about one ulp of it (the vectors measure how
//! close). Operands of magnitude 2^63 or more leave C2 set and the operand
//! unchanged. F2XM1 outside [−1, +1], where the SDM leaves the result
//! undefined, returns the operand (as the recorded x87 does).

use crate::compare::SW_C2;
use crate::ctx::{Ctx, Exceptions};
use crate::f80::{Unpacked, F80};
use crate::operand::{check1, check2, denormal, invalid, Operand};
use crate::round::round_pack;
use crate::xf::Xf;

/// ⌊π·2^64⌋: π66/2 scaled by 2^65.
const PI66_SCALED: u128 = 0x3_243F_6A88_85A3_08D3;

/// The result of FSIN, FCOS, FPTAN or FSINCOS: the values written and C2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrigResult<T> {
    /// The result (for FSINCOS, `(sin, cos)`; for FPTAN, the tangent, and
    /// the caller pushes +1.0 unless C2 is set).
    pub value: T,
    /// C2 as a status-word bit: set when |operand| ≥ 2^63, in which case
    /// nothing was computed and the operand stays (`value` holds it).
    pub condition_codes: u16,
}

/// What a trigonometric instruction does with its operand before the
/// kernel: a finished result, or a reduced finite argument.
enum TrigIn {
    Done(F80),
    TooLarge,
    Zero,
    Finite(Unpacked),
}

impl Ctx {
    fn trig_in(&mut self, a: F80) -> TrigIn {
        self.c1 = false;
        match check1(self, a) {
            Err(nan) => TrigIn::Done(nan),
            Ok(Operand::Inf(_)) => TrigIn::Done(invalid(self)),
            Ok(Operand::Zero(_)) => TrigIn::Zero,
            Ok(Operand::Finite(u)) if u.exp >= 16383 + 63 => TrigIn::TooLarge,
            Ok(Operand::Finite(u)) => {
                denormal(self, &[a]);
                TrigIn::Finite(u)
            }
        }
    }

    /// FSIN.
    pub fn sin(&mut self, a: F80) -> TrigResult<F80> {
        let v = match self.trig_in(a) {
            TrigIn::Done(v) => v,
            TrigIn::TooLarge => return incomplete(a),
            TrigIn::Zero => a,
            TrigIn::Finite(u) => sin_cos(u).0.to_f80(self),
        };
        complete(v)
    }

    /// FCOS.
    pub fn cos(&mut self, a: F80) -> TrigResult<F80> {
        let v = match self.trig_in(a) {
            TrigIn::Done(v) => v,
            TrigIn::TooLarge => return incomplete(a),
            TrigIn::Zero => F80::ONE,
            TrigIn::Finite(u) => sin_cos(u).1.to_f80(self),
        };
        complete(v)
    }

    /// FSINCOS: `(sin a, cos a)`; the caller stores the sine in ST(0)'s
    /// place and pushes the cosine.
    pub fn sincos(&mut self, a: F80) -> TrigResult<(F80, F80)> {
        let v = match self.trig_in(a) {
            TrigIn::Done(v) => (v, v),
            TrigIn::TooLarge => {
                return TrigResult {
                    value: (a, a),
                    condition_codes: SW_C2,
                }
            }
            TrigIn::Zero => (a, F80::ONE),
            TrigIn::Finite(u) => {
                let (s, c) = sin_cos(u);
                // C1 reports the sine's rounding, as on the recorded x87.
                let cos = c.to_f80(self);
                let sin = s.to_f80(self);
                (sin, cos)
            }
        };
        TrigResult {
            value: v,
            condition_codes: 0,
        }
    }

    /// FPTAN: tan `a`; the caller replaces ST(0) with it and pushes +1.0,
    /// or pushes the same NaN again when the result is a NaN (a NaN or
    /// invalid operand), as the x87 does.
    pub fn tan(&mut self, a: F80) -> TrigResult<F80> {
        let v = match self.trig_in(a) {
            TrigIn::Done(v) => v,
            TrigIn::TooLarge => return incomplete(a),
            TrigIn::Zero => a,
            TrigIn::Finite(u) => {
                let (s, c) = sin_cos(u);
                s.div(c).to_f80(self)
            }
        };
        complete(v)
    }

    /// FPATAN: the angle of the point (`x`, `y`), i.e. arctan(y/x) in the
    /// right quadrant, with ST(0) = `x` and ST(1) = `y`.
    pub fn atan2(&mut self, y: F80, x: F80) -> F80 {
        self.c1 = false;
        let (oy, ox) = match check2(self, y, x) {
            Ok(ops) => ops,
            Err(nan) => return nan,
        };
        denormal(self, &[x, y]);
        let pi = Xf::PI;
        let angle = match (oy, ox) {
            (Operand::Zero(_), Operand::Zero(sx) | Operand::Inf(sx)) => {
                if sx {
                    pi
                } else {
                    return F80::zero(y.sign);
                }
            }
            (Operand::Zero(_), Operand::Finite(u)) => {
                if u.sign {
                    pi
                } else {
                    return F80::zero(y.sign);
                }
            }
            (Operand::Inf(_), Operand::Inf(sx)) => {
                if sx {
                    pi.mul(Xf::from_int(false, 3, -2))
                } else {
                    pi.scale(-2)
                }
            }
            (Operand::Inf(_), _) | (Operand::Finite(_), Operand::Zero(_)) => pi.scale(-1),
            (Operand::Finite(_), Operand::Inf(sx)) => {
                if sx {
                    pi
                } else {
                    return F80::zero(y.sign);
                }
            }
            (Operand::Finite(u), Operand::Finite(v)) => {
                atan2_xf(Xf::from_unpacked(u).abs(), Xf::from_unpacked(v))
            }
        };
        let angle = if y.sign { angle.neg() } else { angle };
        angle.to_f80(self)
    }

    /// F2XM1: 2^`a` − 1, for −1 ≤ `a` ≤ +1.
    pub fn exp2m1(&mut self, a: F80) -> F80 {
        self.c1 = false;
        match check1(self, a) {
            Err(nan) => nan,
            Ok(Operand::Zero(_)) => a,
            Ok(Operand::Inf(true)) => F80::ONE.neg(),
            Ok(Operand::Inf(false)) => a,
            Ok(Operand::Finite(u)) => {
                denormal(self, &[a]);
                if u.exp >= 16383 {
                    // ±1 give the exact 1 and −½, still flagged inexact (and
                    // +1 as rounded up); beyond, the SDM leaves the result
                    // undefined and this x87 returns the operand.
                    self.raise(Exceptions::PRECISION);
                    if is_one(u) {
                        self.c1 = !u.sign;
                        return if u.sign {
                            F80::new(true, 16382, 1 << 63)
                        } else {
                            F80::ONE
                        };
                    }
                    return a;
                }
                expm1(Xf::from_unpacked(u).mul(Xf::LN2)).to_f80(self)
            }
        }
    }

    /// FYL2X: `y` × log2(`x`), with ST(0) = `x`, ST(1) = `y`.
    pub fn yl2x(&mut self, y: F80, x: F80) -> F80 {
        self.c1 = false;
        let (oy, ox) = match check2(self, y, x) {
            Ok(ops) => ops,
            Err(nan) => return nan,
        };
        if ox.sign() && !matches!(ox, Operand::Zero(_)) {
            return invalid(self);
        }
        match (oy, ox) {
            (Operand::Zero(_), Operand::Zero(_)) => invalid(self),
            (Operand::Inf(_), Operand::Finite(u)) if is_one(u) => invalid(self),
            (Operand::Zero(_), Operand::Inf(_)) => invalid(self),
            (Operand::Inf(s), Operand::Zero(_)) => F80::infinity(!s),
            (_, Operand::Zero(_)) => {
                self.raise(Exceptions::ZERO_DIVIDE);
                F80::infinity(!y.sign)
            }
            (_, Operand::Inf(_)) => {
                denormal(self, &[y]);
                F80::infinity(y.sign)
            }
            (Operand::Inf(s), Operand::Finite(u)) => {
                denormal(self, &[x]);
                F80::infinity(s ^ (u.exp < 16383))
            }
            (Operand::Zero(s), Operand::Finite(u)) => {
                denormal(self, &[x]);
                F80::zero(s ^ (u.exp < 16383))
            }
            (Operand::Finite(v), Operand::Finite(u)) => {
                denormal(self, &[x, y]);
                self.yl2x_finite(v, Xf::from_unpacked(u))
            }
        }
    }

    fn yl2x_finite(&mut self, y: Unpacked, x: Xf) -> F80 {
        let e = x.exp;
        if x.sig == 1 << 127 {
            // A power of two: y × e is exact before rounding. The x87 still
            // reports it inexact (and tiny results as underflows), except
            // for the exact zero of log2(1).
            if e == 0 {
                return F80::zero(y.sign);
            }
            let p = u128::from(y.sig) * u128::from(e.unsigned_abs());
            let r = round_pack(self, y.sign ^ (e < 0), y.exp + 64, p, 64);
            self.raise(Exceptions::PRECISION);
            if r.exp == 0 {
                self.raise(Exceptions::UNDERFLOW);
            }
            return r;
        }
        let m = Xf { exp: 0, ..x };
        let log = log2_split(m, e);
        Xf::from_unpacked(y).mul(log).to_f80(self)
    }

    /// FYL2XP1: `y` × log2(`x` + 1), with ST(0) = `x`, ST(1) = `y`, for
    /// |x| < 1 − √2/2.
    pub fn yl2xp1(&mut self, y: F80, x: F80) -> F80 {
        self.c1 = false;
        let (oy, ox) = match check2(self, y, x) {
            Ok(ops) => ops,
            Err(nan) => return nan,
        };
        match (oy, ox) {
            (Operand::Inf(_), Operand::Zero(_)) | (Operand::Zero(_), Operand::Inf(_)) => {
                invalid(self)
            }
            (_, Operand::Inf(true)) => invalid(self),
            (_, Operand::Zero(sx)) => {
                denormal(self, &[y]);
                F80::zero(y.sign ^ sx)
            }
            (_, Operand::Inf(false)) | (Operand::Inf(_), _) => {
                denormal(self, &[x, y]);
                F80::infinity(y.sign ^ x.sign)
            }
            (Operand::Zero(s), _) => {
                denormal(self, &[x]);
                F80::zero(s ^ x.sign)
            }
            (Operand::Finite(v), Operand::Finite(u)) => {
                denormal(self, &[x, y]);
                let xf = Xf::from_unpacked(u);
                if u.exp >= 16382 - 1 {
                    // |x| ≥ ¼, near or outside the documented domain.
                    return self.yl2xp1_wide(x, v, xf);
                }
                let s = xf.div(Xf::from_int(false, 2, 0).add(xf));
                let log = atanh_series(s).scale(1).mul(Xf::LOG2E);
                Xf::from_unpacked(v).mul(log).to_f80(self)
            }
        }
    }
}

impl Ctx {
    /// FYL2XP1 for |x| ≥ ¼ (the SDM's domain ends at 1 − √2/2 ≈ 0.29):
    /// x ≤ −1 gives x back flagged inexact, as this x87 does; otherwise
    /// y × log2(1 + x) with 1 + x formed in the 128-bit arithmetic.
    fn yl2xp1_wide(&mut self, x: F80, y: Unpacked, xf: Xf) -> F80 {
        let z = Xf::ONE.add(xf);
        if z.sign || z.is_zero() {
            self.raise(Exceptions::PRECISION);
            return x;
        }
        self.yl2x_finite(y, z)
    }
}

fn complete(v: F80) -> TrigResult<F80> {
    TrigResult {
        value: v,
        condition_codes: 0,
    }
}

fn incomplete(a: F80) -> TrigResult<F80> {
    TrigResult {
        value: a,
        condition_codes: SW_C2,
    }
}

fn is_one(u: Unpacked) -> bool {
    u.exp == 16383 && u.sig == 1 << 63
}

/// (sin x, cos x) of a finite x with |x| < 2^63, reduced by π66/2.
fn sin_cos(u: Unpacked) -> (Xf, Xf) {
    let e = u.exp - 16383;
    let (k, r) = if e < -1 {
        (0, Xf::from_unpacked(Unpacked { sign: false, ..u }))
    } else {
        // |x|·2^65 as an integer, reduced modulo π66/2·2^65 to nearest.
        let n = u128::from(u.sig) << (e + 2);
        let (mut k, mut r) = (n / PI66_SCALED, n % PI66_SCALED);
        let mut neg = false;
        if 2 * r > PI66_SCALED {
            k += 1;
            r = PI66_SCALED - r;
            neg = true;
        }
        (k, Xf::from_int(neg, r, -65))
    };
    let (s, c) = (sin_series(r), cos_series(r));
    let (s, c) = match k % 4 {
        0 => (s, c),
        1 => (c, s.neg()),
        2 => (s.neg(), c.neg()),
        _ => (c.neg(), s),
    };
    (if u.sign { s.neg() } else { s }, c)
}

/// Σ (−1)^n r^(2n+1)/(2n+1)! for |r| ≤ π/4.
fn sin_series(r: Xf) -> Xf {
    let r2 = r.mul(r);
    let (mut term, mut sum) = (r, r);
    for n in 1..40u64 {
        term = term.mul(r2).div_small((2 * n) * (2 * n + 1)).neg();
        if term.is_zero() || term.exp < sum.exp - 130 {
            break;
        }
        sum = sum.add(term);
    }
    sum
}

/// Σ (−1)^n r^(2n)/(2n)! for |r| ≤ π/4.
fn cos_series(r: Xf) -> Xf {
    let r2 = r.mul(r);
    let (mut term, mut sum) = (Xf::ONE, Xf::ONE);
    for n in 1..40u64 {
        term = term.mul(r2).div_small((2 * n - 1) * (2 * n)).neg();
        if term.is_zero() || term.exp < sum.exp - 130 {
            break;
        }
        sum = sum.add(term);
    }
    sum
}

/// arctan of a non-negative z by three argument halvings
/// (atan z = 2 atan(z / (1 + √(1 + z²)))) and the Taylor series.
fn atan_xf(z: Xf) -> Xf {
    let mut z = z;
    for _ in 0..3 {
        z = z.div(Xf::ONE.add(Xf::ONE.add(z.mul(z)).sqrt()));
    }
    let z2 = z.mul(z);
    let (mut pow, mut sum) = (z, z);
    for n in 1..60u64 {
        pow = pow.mul(z2).neg();
        let term = pow.div_small(2 * n + 1);
        if term.is_zero() || term.exp < sum.exp - 130 {
            break;
        }
        sum = sum.add(term);
    }
    sum.scale(3)
}

/// The angle of (x, |y|) for finite nonzero operands, in [0, π].
fn atan2_xf(ay: Xf, x: Xf) -> Xf {
    let ax = x.abs();
    let t = if (ay.exp, ay.sig) <= (ax.exp, ax.sig) {
        atan_xf(ay.div(ax))
    } else {
        Xf::PI.scale(-1).sub(atan_xf(ax.div(ay)))
    };
    if x.sign {
        Xf::PI.sub(t)
    } else {
        t
    }
}

/// e^t − 1 by its Taylor series, |t| ≤ ln 2.
fn expm1(t: Xf) -> Xf {
    let (mut term, mut sum) = (t, t);
    for n in 2..60u64 {
        term = term.mul(t).div_small(n);
        if term.is_zero() || term.exp < sum.exp - 130 {
            break;
        }
        sum = sum.add(term);
    }
    sum
}

/// atanh s = Σ s^(2n+1)/(2n+1), |s| ≤ 0.18.
fn atanh_series(s: Xf) -> Xf {
    let s2 = s.mul(s);
    let (mut pow, mut sum) = (s, s);
    for n in 1..80u64 {
        pow = pow.mul(s2);
        let term = pow.div_small(2 * n + 1);
        if term.is_zero() || term.exp < sum.exp - 130 {
            break;
        }
        sum = sum.add(term);
    }
    sum
}

/// log2(m·2^e) for m in [1, 2): m is moved into [√½, √2) first so that
/// ln m = 2 atanh((m − 1)/(m + 1)) converges fast and keeps its relative
/// accuracy near 1.
fn log2_split(m: Xf, e: i32) -> Xf {
    // √2 ≈ 1.0110101000001001111…b
    let sqrt2_top: u128 = 0xB504_F333_F9DE_6484_597D_89B3_754A_BE9F;
    let (m, e) = if m.sig > sqrt2_top {
        (m.scale(-1), e + 1)
    } else {
        (m, e)
    };
    let s = m.sub(Xf::ONE).div(m.add(Xf::ONE));
    let frac = atanh_series(s).scale(1).mul(Xf::LOG2E);
    Xf::from_int(e < 0, u128::from(e.unsigned_abs()), 0).add(frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(bits: u128) -> F80 {
        F80::from_bits(bits)
    }

    #[test]
    fn sin_of_pi_is_the_pi66_residue() {
        // π66 differs from π: FSIN(FLDPI) is not 0 but ≈ π − π66_rounded.
        let mut c = Ctx::default();
        let r = c.sin(f(0x4000_C90F_DAA2_2168_C235));
        assert_eq!(r.condition_codes, 0);
        assert!(
            r.value.sign,
            "FLDPI rounds above π66, so the sine is negative"
        );
        assert!(r.value.exp < 16383 - 60);
    }

    #[test]
    fn huge_arguments_set_c2_and_stay() {
        let mut c = Ctx::default();
        let x = f(0x403E_8000_0000_0000_0000); // 2^63
        assert_eq!(
            c.cos(x),
            TrigResult {
                value: x,
                condition_codes: SW_C2
            }
        );
        assert!(c.flags.is_empty());
    }

    #[test]
    fn fyl2x_of_a_power_of_two_is_exact_but_flagged_inexact() {
        let mut c = Ctx {
            rc: crate::Rounding::Up,
            ..Ctx::default()
        };
        let eight = f(0x4002_8000_0000_0000_0000);
        let three = f(0x4000_C000_0000_0000_0000);
        assert_eq!(c.yl2x(F80::ONE, eight), three);
        assert_eq!(c.flags, Exceptions::PRECISION);
        assert!(!c.c1);
        // log2(1) is an exact zero, with no flag.
        let mut c = Ctx::default();
        assert_eq!(c.yl2x(three, F80::ONE), F80::ZERO);
        assert!(c.flags.is_empty());
    }

    #[test]
    fn f2xm1_of_one_half() {
        let mut c = Ctx::default();
        // √2 − 1 = 0.41421356237309504880…
        let r = c.exp2m1(f(0x3FFE_8000_0000_0000_0000));
        assert_eq!(r.to_bits(), 0x3FFD_D413_CCCF_E779_9211);
    }

    #[test]
    fn atan2_of_one_one_is_quarter_pi() {
        let mut c = Ctx::default();
        assert_eq!(
            c.atan2(F80::ONE, F80::ONE).to_bits(),
            0x3FFE_C90F_DAA2_2168_C235
        );
    }
}
