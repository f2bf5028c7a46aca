//! FPREM and FPREM1, the partial remainders (SDM Vol. 2 "FPREM—Partial
//! Remainder", "FPREM1—Partial Remainder"; Vol. 1 §8.1.3.1 Table 8-6).
//!
//! With D the difference of the (normalised) exponents, D < 64 gives the
//! final remainder, C2 = 0 and the three low quotient bits in C0 (Q2), C3
//! (Q1) and C1 (Q0). Otherwise one partial reduction removes N = 32 +
//! (D mod 32) exponent bits (the SDM only says "between 32 and 63"; this is
//! what a real x87 does, see the vectors), sets C2 = 1 so software loops,
//! and leaves C0, C1 and C3 clear.
//! The result is always exact.

use crate::compare::{SW_C0, SW_C1, SW_C2, SW_C3};
use crate::ctx::Ctx;
use crate::f80::{Unpacked, F80};
use crate::operand::{check2, denormal, invalid, Operand};
use crate::round::round_pack;

/// A remainder and the condition codes (C0, C1, C2, C3 in status-word
/// positions) the instruction leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Remainder {
    /// The new ST(0).
    pub value: F80,
    /// C0, C1, C2 and C3; bits of the quotient and the "incomplete" flag.
    pub condition_codes: u16,
}

impl Ctx {
    /// FPREM: the remainder of `a` (ST(0)) by `b` (ST(1)) with the quotient
    /// truncated toward zero (the 8087's remainder).
    pub fn prem(&mut self, a: F80, b: F80) -> Remainder {
        self.remainder(a, b, false)
    }

    /// FPREM1: the IEEE remainder, with the quotient rounded to nearest even.
    pub fn prem1(&mut self, a: F80, b: F80) -> Remainder {
        self.remainder(a, b, true)
    }

    fn remainder(&mut self, a: F80, b: F80, nearest: bool) -> Remainder {
        self.c1 = false;
        let done = |value| Remainder {
            value,
            condition_codes: 0,
        };
        let (x, y) = match check2(self, a, b) {
            Ok(ops) => ops,
            Err(nan) => return done(nan),
        };
        match (x, y) {
            (Operand::Inf(_), _) | (_, Operand::Zero(_)) => done(invalid(self)),
            (Operand::Zero(_), _) => {
                denormal(self, &[a, b]);
                done(a)
            }
            (Operand::Finite(u), Operand::Inf(_)) => {
                // The dividend comes back in canonical form: a
                // pseudo-denormal gets exponent 1.
                denormal(self, &[a, b]);
                done(round_pack(self, u.sign, u.exp + 64, u128::from(u.sig), 64))
            }
            (Operand::Finite(u), Operand::Finite(v)) => {
                denormal(self, &[a, b]);
                self.finite_remainder(u, v, nearest)
            }
        }
    }

    fn finite_remainder(&mut self, u: Unpacked, v: Unpacked, nearest: bool) -> Remainder {
        let d = u.exp - v.exp;
        let (shift, partial) = if d >= 64 {
            (d - (32 + d % 32), true)
        } else {
            (0, false)
        };
        let v_exp = v.exp + shift;
        let d = d - shift;
        if d < -1 || (d == -1 && !nearest) {
            let value = round_pack(self, u.sign, u.exp + 64, u128::from(u.sig), 64);
            return Remainder {
                value,
                condition_codes: 0,
            };
        }
        // Both scaled by 2 so that D = −1 (possible for FPREM1) fits too.
        let num = u128::from(u.sig) << (d + 1);
        let den = u128::from(v.sig) << 1;
        let (mut q, mut r) = (num / den, num % den);
        let mut sign = u.sign;
        if nearest && !partial && (2 * r > den || (2 * r == den && q & 1 == 1)) {
            q += 1;
            r = den - r;
            sign = !sign;
        }
        let value = if r == 0 {
            F80::zero(u.sign)
        } else {
            round_pack(self, sign, v_exp + 63, r, 64)
        };
        // A partial reduction reports C2 only, no quotient bits.
        let mut cc = if partial { SW_C2 } else { 0 };
        for (bit, code) in [(4, SW_C0), (2, SW_C3), (1, SW_C1)] {
            if q & bit != 0 && !partial {
                cc |= code;
            }
        }
        self.c1 = false;
        Remainder {
            value,
            condition_codes: cc,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctx::Exceptions;

    fn f(bits: u128) -> F80 {
        F80::from_bits(bits)
    }

    #[test]
    fn seven_rem_two_is_one_with_quotient_three() {
        let mut c = Ctx::default();
        let r = c.prem(f(0x4001_E000_0000_0000_0000), f(0x4000_8000_0000_0000_0000));
        assert_eq!(r.value, F80::ONE);
        assert_eq!(
            r.condition_codes,
            SW_C3 | SW_C1,
            "Q = 3: Q1 in C3, Q0 in C1"
        );
    }

    #[test]
    fn prem1_rounds_the_quotient_to_nearest() {
        let mut c = Ctx::default();
        // 7 rem1 2: 7/2 = 3.5 ties to 4, remainder -1.
        let r = c.prem1(f(0x4001_E000_0000_0000_0000), f(0x4000_8000_0000_0000_0000));
        assert_eq!(r.value, F80::ONE.neg());
        assert_eq!(r.condition_codes, SW_C0, "Q = 4: Q2 in C0");
    }

    #[test]
    fn huge_exponent_difference_is_partial() {
        let mut c = Ctx::default();
        let r = c.prem(f(0x4100_C000_0000_0000_0001), F80::ONE);
        assert_ne!(r.condition_codes & SW_C2, 0);
    }

    #[test]
    fn division_by_zero_is_invalid() {
        let mut c = Ctx::default();
        assert_eq!(c.prem(F80::ONE, F80::ZERO).value, F80::INDEFINITE);
        assert_eq!(c.flags, Exceptions::INVALID);
    }
}
