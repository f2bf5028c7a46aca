//! FRNDINT, FSCALE, FXTRACT and the load-constant instructions (SDM Vol. 2
//! "FRNDINT—Round to Integer", "FSCALE—Scale", "FXTRACT—Extract Exponent
//! and Significand", "FLD1/FLDL2T/FLDL2E/FLDPI/FLDLG2/FLDLN2/FLDZ—Load
//! Constant"; Vol. 1 §8.3.8 "Load constant instructions").
//! Precision control does not apply to any of them.

use crate::convert::round_int;
use crate::ctx::{Ctx, Exceptions, Rounding};
use crate::f80::{Unpacked, F80};
use crate::operand::{check1, check2, denormal, invalid, Operand};
use crate::round::round_pack;

/// The constants of the load-constant instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Constant {
    /// FLD1: +1.0.
    One,
    /// FLDL2T: log2(10).
    Log2Ten,
    /// FLDL2E: log2(e).
    Log2E,
    /// FLDPI: π.
    Pi,
    /// FLDLG2: log10(2).
    Log10Two,
    /// FLDLN2: ln(2).
    LnTwo,
    /// FLDZ: +0.0.
    Zero,
}

impl Constant {
    /// The exponent and the 96 most significant bits of the constant, or
    /// `None` for zero. The SDM describes a 66-bit internal form, whose
    /// rounding to nearest would tie for log10(2); the x87 the vectors
    /// come from rounds that one up, as the exact value does, so the
    /// constants are kept with more bits and rounded correctly.
    const fn internal(self) -> Option<(u16, u128)> {
        match self {
            Constant::One => Some((0x3FFF, 1 << 95)),
            Constant::Log2Ten => Some((0x4000, 0xD49A_784B_CD1B_8AFE_492B_F6FF)),
            Constant::Log2E => Some((0x3FFF, 0xB8AA_3B29_5C17_F0BB_BE87_FED0)),
            Constant::Pi => Some((0x4000, 0xC90F_DAA2_2168_C234_C4C6_628B)),
            Constant::Log10Two => Some((0x3FFD, 0x9A20_9A84_FBCF_F798_8F89_59AC)),
            Constant::LnTwo => Some((0x3FFE, 0xB172_17F7_D1CF_79AB_C9E3_B398)),
            Constant::Zero => None,
        }
    }
}

impl Ctx {
    /// FLD1, FLDL2T, …: the constant rounded under rounding control (not
    /// precision control). Raises no exception, not even PE.
    pub fn constant(&mut self, c: Constant) -> F80 {
        self.c1 = false;
        let Some((exp, bits)) = c.internal() else {
            return F80::ZERO;
        };
        let mut scratch = Ctx {
            rc: self.rc,
            ..Ctx::default()
        };
        round_pack(&mut scratch, false, i32::from(exp), bits << 32, 64)
    }

    /// FRNDINT: `a` rounded to an integral value under rounding control.
    pub fn round_to_int(&mut self, a: F80) -> F80 {
        self.c1 = false;
        let u = match check1(self, a) {
            Ok(Operand::Finite(u)) => u,
            Ok(_) => return a,
            Err(nan) => return nan,
        };
        denormal(self, &[a]);
        if u.exp >= 16383 + 63 {
            return a;
        }
        let r = round_int(self.rc, u);
        let mag = r.mag.unwrap_or(0);
        if r.inexact {
            self.raise(Exceptions::PRECISION);
            self.c1 = r.up;
        }
        if mag == 0 {
            return F80::zero(a.sign);
        }
        let lz = mag.leading_zeros();
        F80::new(a.sign, (16383 + 63 - lz) as u16, mag << lz)
    }

    /// FSCALE: `a` × 2^trunc(`b`), rounded like an arithmetic result.
    pub fn scale(&mut self, a: F80, b: F80) -> F80 {
        self.c1 = false;
        let (x, y) = match check2(self, a, b) {
            Ok(ops) => ops,
            Err(nan) => return nan,
        };
        match (x, y) {
            (Operand::Zero(_), Operand::Inf(false)) | (Operand::Inf(_), Operand::Inf(true)) => {
                invalid(self)
            }
            (_, Operand::Inf(negative)) => {
                denormal(self, &[a]);
                if negative {
                    F80::zero(a.sign)
                } else {
                    F80::infinity(a.sign)
                }
            }
            (Operand::Zero(_), _) | (Operand::Inf(_), _) => {
                denormal(self, &[b]);
                a
            }
            (Operand::Finite(u), y) => {
                denormal(self, &[a, b]);
                let n = match y {
                    Operand::Finite(v) => trunc_clamped(v),
                    _ => 0,
                };
                round_pack(self, u.sign, u.exp + n + 64, u128::from(u.sig), 64)
            }
        }
    }

    /// FXTRACT: (significand, exponent) of `a`; the significand (the new
    /// ST(0)) has `a`'s sign and a biased exponent of 16383, the exponent
    /// (the new ST(1)) is the unbiased exponent as a value. Zero raises ZE
    /// and gives exponent −∞.
    pub fn extract(&mut self, a: F80) -> (F80, F80) {
        self.c1 = false;
        match check1(self, a) {
            Err(nan) => (nan, nan),
            Ok(Operand::Zero(s)) => {
                self.raise(Exceptions::ZERO_DIVIDE);
                (F80::zero(s), F80::infinity(true))
            }
            Ok(Operand::Inf(s)) => (F80::infinity(s), F80::INFINITY),
            Ok(Operand::Finite(u)) => {
                denormal(self, &[a]);
                let exp = self.from_i64(i64::from(u.exp - 16383));
                (F80::new(u.sign, 16383, u.sig), exp)
            }
        }
    }
}

/// trunc(`v`) as a shift count, clamped to a range beyond any exponent so
/// that overflow and underflow still come out right.
fn trunc_clamped(v: Unpacked) -> i32 {
    const LIMIT: i64 = 1 << 20;
    let r = round_int(Rounding::Zero, v);
    let mag = r.mag.map_or(LIMIT, |m| (m.min(LIMIT as u64)) as i64);
    (if v.sign { -mag } else { mag }) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(bits: u128) -> F80 {
        F80::from_bits(bits)
    }

    #[test]
    fn fldpi_rounds_the_66_bit_pi_per_rounding_control() {
        let mut c = Ctx::default();
        assert_eq!(
            c.constant(Constant::Pi).to_bits(),
            0x4000_C90F_DAA2_2168_C235
        );
        c.rc = Rounding::Zero;
        assert_eq!(
            c.constant(Constant::Pi).to_bits(),
            0x4000_C90F_DAA2_2168_C234
        );
        assert!(c.flags.is_empty(), "no PE from a constant");
    }

    #[test]
    fn frndint_ties_to_even() {
        let mut c = Ctx::default();
        let two_and_half = f(0x4000_A000_0000_0000_0000);
        assert_eq!(
            c.round_to_int(two_and_half).to_bits(),
            0x4000_8000_0000_0000_0000
        );
        assert_eq!(c.flags, Exceptions::PRECISION);
    }

    #[test]
    fn fscale_by_minus_infinity_of_infinity_is_invalid() {
        let mut c = Ctx::default();
        assert_eq!(c.scale(F80::INFINITY, F80::infinity(true)), F80::INDEFINITE);
        assert_eq!(
            c.scale(F80::ONE, f(0x4000_C000_0000_0000_0000)).to_bits(),
            0x4002_8000_0000_0000_0000
        );
    }

    #[test]
    fn fxtract_of_zero_divides_by_zero() {
        let mut c = Ctx::default();
        assert_eq!(c.extract(F80::ZERO), (F80::ZERO, F80::infinity(true)));
        assert_eq!(c.flags, Exceptions::ZERO_DIVIDE);
        let (sig, exp) = c.extract(f(0x4002_A000_0000_0000_0000)); // 10
        assert_eq!(sig.to_bits(), 0x3FFF_A000_0000_0000_0000);
        assert_eq!(exp.to_bits(), 0x4000_C000_0000_0000_0000); // 3
    }
}
