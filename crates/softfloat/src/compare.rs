//! FCOM/FCOMP/FCOMPP/FICOM/FCOMI, FUCOM/FUCOMI, FTST and FXAM (SDM Vol. 2
//! instruction pages; Vol. 1 §8.1.3.1 Table 8-6 for the condition codes).

use crate::ctx::{Ctx, Exceptions};
use crate::f80::{Class, Unpacked, F80};
use crate::operand::denormal;

/// Status-word condition code C0 (bit 8).
pub const SW_C0: u16 = 1 << 8;
/// Status-word condition code C1 (bit 9).
pub const SW_C1: u16 = 1 << 9;
/// Status-word condition code C2 (bit 10).
pub const SW_C2: u16 = 1 << 10;
/// Status-word condition code C3 (bit 14).
pub const SW_C3: u16 = 1 << 14;

/// The outcome of a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ordering {
    /// ST(0) > source: C3 C2 C0 = 000 (FCOMI: ZF PF CF = 000).
    Greater,
    /// ST(0) < source: C0 = 1 (FCOMI: CF = 1).
    Less,
    /// Equal (±0 compare equal): C3 = 1 (FCOMI: ZF = 1).
    Equal,
    /// A NaN or unsupported operand: C3 C2 C0 = 111 (FCOMI: ZF PF CF = 111).
    Unordered,
}

impl Ordering {
    /// The C3, C2 and C0 bits this outcome sets, in status-word positions.
    /// FCOMI/FUCOMI put the same pattern in ZF, PF and CF.
    pub const fn condition_codes(self) -> u16 {
        match self {
            Ordering::Greater => 0,
            Ordering::Less => SW_C0,
            Ordering::Equal => SW_C3,
            Ordering::Unordered => SW_C3 | SW_C2 | SW_C0,
        }
    }
}

impl Ctx {
    /// FCOM (`quiet = false`) or FUCOM (`quiet = true`): compares `a`
    /// (ST(0)) with `b`. An unsupported operand, an SNaN, or (for FCOM) any
    /// NaN raises IE; a denormal of an ordered comparison raises DE.
    pub fn compare(&mut self, a: F80, b: F80, quiet: bool) -> Ordering {
        self.c1 = false;
        if a.is_unsupported() || b.is_unsupported() {
            self.raise(Exceptions::INVALID);
            return Ordering::Unordered;
        }
        if a.is_nan() || b.is_nan() {
            if !quiet || a.is_snan() || b.is_snan() {
                self.raise(Exceptions::INVALID);
            }
            return Ordering::Unordered;
        }
        denormal(self, &[a, b]);
        compare_values(a, b)
    }

    /// FTST: compares `a` with +0.0 (an ordered comparison).
    pub fn test(&mut self, a: F80) -> Ordering {
        self.compare(a, F80::ZERO, false)
    }
}

/// Orders two supported non-NaN values.
fn compare_values(a: F80, b: F80) -> Ordering {
    let key = |v: F80| -> (i8, i32, u64) {
        match v.class() {
            Class::Zero => (0, 0, 0),
            Class::Infinity => (if v.sign { -2 } else { 2 }, 0, 0),
            _ => {
                let u = Unpacked::from_f80(v);
                if v.sign {
                    (-1, -u.exp, !u.sig)
                } else {
                    (1, u.exp, u.sig)
                }
            }
        }
    };
    match key(a).cmp(&key(b)) {
        core::cmp::Ordering::Less => Ordering::Less,
        core::cmp::Ordering::Equal => Ordering::Equal,
        core::cmp::Ordering::Greater => Ordering::Greater,
    }
}

/// FXAM: the C3, C2, C1 and C0 bits that classify `a` (C1 is the sign), in
/// status-word positions. An empty register (C3 C2 C0 = 101) is the
/// caller's, as the tag word is.
pub fn examine(a: F80) -> u16 {
    let class = match a.class() {
        Class::Unsupported => 0,
        Class::QuietNan | Class::SignalingNan => SW_C0,
        Class::Normal => SW_C2,
        Class::Infinity => SW_C2 | SW_C0,
        Class::Zero => SW_C3,
        Class::Denormal | Class::PseudoDenormal => SW_C3 | SW_C2,
    };
    class | if a.sign { SW_C1 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_of_both_signs_are_equal() {
        let mut c = Ctx::default();
        assert_eq!(
            c.compare(F80::ZERO, F80::zero(true), false),
            Ordering::Equal
        );
    }

    #[test]
    fn fucom_is_quiet_on_qnan_fcom_is_not() {
        let mut c = Ctx::default();
        assert_eq!(
            c.compare(F80::INDEFINITE, F80::ONE, true),
            Ordering::Unordered
        );
        assert!(c.flags.is_empty());
        assert_eq!(
            c.compare(F80::INDEFINITE, F80::ONE, false),
            Ordering::Unordered
        );
        assert_eq!(c.flags, Exceptions::INVALID);
    }

    #[test]
    fn negative_values_order_by_magnitude_reversed() {
        let mut c = Ctx::default();
        let two = F80::from_bits(0x4000_8000_0000_0000_0000);
        assert_eq!(c.compare(two.neg(), F80::ONE.neg(), false), Ordering::Less);
        assert_eq!(
            c.compare(F80::infinity(true), two.neg(), false),
            Ordering::Less
        );
    }

    #[test]
    fn fxam_classes() {
        assert_eq!(examine(F80::ONE.neg()), SW_C2 | SW_C1);
        assert_eq!(examine(F80::new(false, 0, 1)), SW_C3 | SW_C2);
        assert_eq!(examine(F80::new(false, 0x3FFF, 1)), 0);
    }
}
