//! FADD, FSUB, FMUL, FDIV, FSQRT (SDM Vol. 2 instruction pages; Vol. 1
//! §8.1.5.2 precision control applies to exactly these).
//!
//! Each computes the exact result, or enough of it with a sticky bit, and
//! rounds once to the precision-control width with the 15-bit exponent range.

use crate::ctx::{Ctx, Exceptions, Rounding};
use crate::f80::{Unpacked, F80};
use crate::operand::{check1, check2, denormal, invalid, Operand};
use crate::round::{round_pack, shr_jam};

impl Ctx {
    /// FADD: `a + b`.
    pub fn add(&mut self, a: F80, b: F80) -> F80 {
        self.add_signed(a, b, false)
    }

    /// FSUB: `a - b` (FSUBR is `sub(b, a)`).
    pub fn sub(&mut self, a: F80, b: F80) -> F80 {
        self.add_signed(a, b, true)
    }

    fn add_signed(&mut self, a: F80, b: F80, negate_b: bool) -> F80 {
        self.c1 = false;
        let (x, y) = match check2(self, a, b) {
            Ok(ops) => ops,
            Err(nan) => return nan,
        };
        denormal(self, &[a, b]);
        let y = match y {
            Operand::Zero(s) => Operand::Zero(s ^ negate_b),
            Operand::Inf(s) => Operand::Inf(s ^ negate_b),
            Operand::Finite(u) => Operand::Finite(Unpacked {
                sign: u.sign ^ negate_b,
                ..u
            }),
        };
        let prec = self.pc.bits();
        match (x, y) {
            (Operand::Inf(s), Operand::Inf(t)) if s != t => invalid(self),
            (Operand::Inf(s), _) | (_, Operand::Inf(s)) => F80::infinity(s),
            (Operand::Zero(s), Operand::Zero(t)) => F80::zero(self.exact_zero_sign(s, t)),
            (Operand::Zero(_), Operand::Finite(u)) | (Operand::Finite(u), Operand::Zero(_)) => {
                round_pack(self, u.sign, u.exp, u128::from(u.sig) << 64, prec)
            }
            (Operand::Finite(u), Operand::Finite(v)) => self.add_finite(u, v, prec),
        }
    }

    /// The sign of an exact zero sum (SDM Vol. 1 Table 4-9 note): the common
    /// sign of the operands, else −0 only when rounding down.
    fn exact_zero_sign(&self, s: bool, t: bool) -> bool {
        if s == t {
            s
        } else {
            self.rc == Rounding::Down
        }
    }

    fn add_finite(&mut self, a: Unpacked, b: Unpacked, prec: u32) -> F80 {
        let (x, y) = if (a.exp, a.sig) >= (b.exp, b.sig) {
            (a, b)
        } else {
            (b, a)
        };
        // The integer bit at bit 126 leaves room for a carry; 63 guard bits
        // below the significand make the rounding exact.
        let xs = u128::from(x.sig) << 63;
        let ys = shr_jam(u128::from(y.sig) << 63, (x.exp - y.exp).unsigned_abs());
        let sum = if x.sign == y.sign { xs + ys } else { xs - ys };
        if sum == 0 {
            return F80::zero(self.rc == Rounding::Down);
        }
        round_pack(self, x.sign, x.exp + 1, sum, prec)
    }

    /// FMUL: `a × b`.
    pub fn mul(&mut self, a: F80, b: F80) -> F80 {
        self.c1 = false;
        let (x, y) = match check2(self, a, b) {
            Ok(ops) => ops,
            Err(nan) => return nan,
        };
        denormal(self, &[a, b]);
        let sign = x.sign() ^ y.sign();
        match (x, y) {
            (Operand::Inf(_), Operand::Zero(_)) | (Operand::Zero(_), Operand::Inf(_)) => {
                invalid(self)
            }
            (Operand::Inf(_), _) | (_, Operand::Inf(_)) => F80::infinity(sign),
            (Operand::Zero(_), _) | (_, Operand::Zero(_)) => F80::zero(sign),
            (Operand::Finite(u), Operand::Finite(v)) => {
                let p = u128::from(u.sig) * u128::from(v.sig);
                // p carries two integer bits (bits 127-126): value is
                // p × 2^(ea + eb − 2·16383 − 126).
                round_pack(self, sign, u.exp + v.exp - 16383 + 1, p, self.pc.bits())
            }
        }
    }

    /// FDIV: `a / b` (FDIVR is `div(b, a)`).
    pub fn div(&mut self, a: F80, b: F80) -> F80 {
        self.c1 = false;
        let (x, y) = match check2(self, a, b) {
            Ok(ops) => ops,
            Err(nan) => return nan,
        };
        let sign = x.sign() ^ y.sign();
        match (x, y) {
            (Operand::Inf(_), Operand::Inf(_)) | (Operand::Zero(_), Operand::Zero(_)) => {
                invalid(self)
            }
            (Operand::Finite(_), Operand::Zero(_)) => {
                self.raise(Exceptions::ZERO_DIVIDE);
                F80::infinity(sign)
            }
            (Operand::Inf(_), _) => {
                denormal(self, &[b]);
                F80::infinity(sign)
            }
            (Operand::Zero(_), _) | (_, Operand::Inf(_)) => {
                denormal(self, &[a, b]);
                F80::zero(sign)
            }
            (Operand::Finite(u), Operand::Finite(v)) => {
                denormal(self, &[a, b]);
                let (q, exp) = div_sig(u, v);
                round_pack(self, sign, exp, q, self.pc.bits())
            }
        }
    }

    /// FSQRT: `√a`; √−0 is −0, any other negative operand is invalid.
    pub fn sqrt(&mut self, a: F80) -> F80 {
        self.c1 = false;
        match check1(self, a) {
            Err(nan) => nan,
            Ok(Operand::Zero(s)) => F80::zero(s),
            Ok(Operand::Inf(false)) => F80::INFINITY,
            Ok(Operand::Inf(true)) => invalid(self),
            Ok(Operand::Finite(u)) if u.sign => invalid(self),
            Ok(Operand::Finite(u)) => {
                denormal(self, &[a]);
                let (root, exp) = sqrt_sig(u);
                round_pack(self, false, exp, root, self.pc.bits())
            }
        }
    }
}

/// The quotient of two normalised significands to 128 bits with a sticky
/// bit, and its exponent in the [`round_pack`] convention (bit 127 scale).
pub(crate) fn div_sig(u: Unpacked, v: Unpacked) -> (u128, i32) {
    let (num, exp) = if u.sig >= v.sig {
        (u128::from(u.sig) << 63, u.exp - v.exp + 16383)
    } else {
        (u128::from(u.sig) << 64, u.exp - v.exp + 16383 - 1)
    };
    let d = u128::from(v.sig);
    let (q1, r1) = (num / d, num % d);
    let (q2, r2) = ((r1 << 64) / d, (r1 << 64) % d);
    ((q1 << 64) | q2 | u128::from(r2 != 0), exp)
}

/// The square root of a positive normalised value: a 66-bit root computed
/// digit by digit with a sticky bit, in the [`round_pack`] convention.
pub(crate) fn sqrt_sig(u: Unpacked) -> (u128, i32) {
    let e = u.exp - 16383;
    // Make the radicand's binary point fall at an even bit position.
    let (n, exp) = if (e - 63) % 2 == 0 {
        (u128::from(u.sig) << 64, 16383 + 31 + (e - 63) / 2)
    } else {
        (u128::from(u.sig) << 63, 16383 + e.div_euclid(2))
    };
    let (mut rem, mut root) = (0u128, 0u128);
    for i in 0..66 {
        let pair = if i < 64 { (n >> (126 - 2 * i)) & 3 } else { 0 };
        rem = (rem << 2) | pair;
        let trial = (root << 2) | 1;
        root <<= 1;
        if rem >= trial {
            rem -= trial;
            root |= 1;
        }
    }
    ((root << 62) | u128::from(rem != 0), exp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctx::Precision;

    fn f(bits: u128) -> F80 {
        F80::from_bits(bits)
    }

    #[test]
    fn one_plus_one_is_two() {
        let mut c = Ctx::default();
        assert_eq!(
            c.add(F80::ONE, F80::ONE).to_bits(),
            0x4000_8000_0000_0000_0000
        );
        assert!(c.flags.is_empty());
    }

    #[test]
    fn x_minus_x_is_minus_zero_only_when_rounding_down() {
        let mut c = Ctx::default();
        assert_eq!(c.sub(F80::ONE, F80::ONE), F80::ZERO);
        c.rc = Rounding::Down;
        assert_eq!(c.sub(F80::ONE, F80::ONE), F80::zero(true));
    }

    #[test]
    fn infinity_minus_infinity_is_the_indefinite() {
        let mut c = Ctx::default();
        assert_eq!(c.sub(F80::INFINITY, F80::INFINITY), F80::INDEFINITE);
        assert_eq!(c.flags, Exceptions::INVALID);
    }

    #[test]
    fn division_by_zero_raises_ze() {
        let mut c = Ctx::default();
        assert_eq!(c.div(F80::ONE.neg(), F80::ZERO), F80::infinity(true));
        assert_eq!(c.flags, Exceptions::ZERO_DIVIDE);
    }

    #[test]
    fn one_third_rounds_by_precision_control() {
        let three = f(0x4000_C000_0000_0000_0000);
        let mut c = Ctx {
            pc: Precision::Single,
            ..Ctx::default()
        };
        assert_eq!(c.div(F80::ONE, three).to_bits(), 0x3FFD_AAAA_AB00_0000_0000);
        assert!(c.c1, "rounded up");
        let mut c = Ctx::default();
        assert_eq!(c.div(F80::ONE, three).to_bits(), 0x3FFD_AAAA_AAAA_AAAA_AAAB);
    }

    #[test]
    fn sqrt_of_four_is_two_and_of_minus_one_invalid() {
        let mut c = Ctx::default();
        assert_eq!(
            c.sqrt(f(0x4001_8000_0000_0000_0000)).to_bits(),
            0x4000_8000_0000_0000_0000
        );
        assert!(c.flags.is_empty());
        assert_eq!(c.sqrt(F80::ONE.neg()), F80::INDEFINITE);
        assert_eq!(c.sqrt(F80::zero(true)), F80::zero(true));
    }
}
