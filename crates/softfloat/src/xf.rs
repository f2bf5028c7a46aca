//! A 128-bit-significand binary float for the transcendentals' internal
//! arithmetic. Truncating, not IEEE: each operation loses at most a couple
//! of units in the 127th bit, far below the 64 bits the results keep.

use crate::ctx::Ctx;
use crate::f80::{Unpacked, F80};
use crate::round::round_pack;

/// value = `sig` × 2^(`exp` − 127); `sig` has bit 127 set, or is 0 for zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Xf {
    pub sign: bool,
    pub exp: i32,
    pub sig: u128,
}

const LOW: u128 = u64::MAX as u128;

impl Xf {
    pub const ZERO: Xf = Xf {
        sign: false,
        exp: 0,
        sig: 0,
    };
    pub const ONE: Xf = Xf {
        sign: false,
        exp: 0,
        sig: 1 << 127,
    };
    /// π to 128 bits.
    pub const PI: Xf = Xf {
        sign: false,
        exp: 1,
        sig: 0xC90F_DAA2_2168_C234_C4C6_628B_80DC_1CD1,
    };
    /// ln 2 to 128 bits.
    pub const LN2: Xf = Xf {
        sign: false,
        exp: -1,
        sig: 0xB172_17F7_D1CF_79AB_C9E3_B398_03F2_F6AF,
    };
    /// log2(e) to 128 bits.
    pub const LOG2E: Xf = Xf {
        sign: false,
        exp: 0,
        sig: 0xB8AA_3B29_5C17_F0BB_BE87_FED0_691D_3E88,
    };

    /// `m` × 2^`e`, normalised.
    pub fn from_int(sign: bool, m: u128, e: i32) -> Xf {
        if m == 0 {
            return Xf::ZERO;
        }
        let lz = m.leading_zeros();
        Xf {
            sign,
            exp: e + 127 - lz as i32,
            sig: m << lz,
        }
    }

    /// A finite nonzero extended value.
    pub fn from_unpacked(u: Unpacked) -> Xf {
        Xf {
            sign: u.sign,
            exp: u.exp - 16383,
            sig: u128::from(u.sig) << 64,
        }
    }

    pub fn is_zero(self) -> bool {
        self.sig == 0
    }

    pub fn neg(self) -> Xf {
        Xf {
            sign: !self.sign,
            ..self
        }
    }

    pub fn abs(self) -> Xf {
        Xf {
            sign: false,
            ..self
        }
    }

    /// × 2^`n`.
    pub fn scale(self, n: i32) -> Xf {
        if self.is_zero() {
            self
        } else {
            Xf {
                exp: self.exp + n,
                ..self
            }
        }
    }

    pub fn add(self, o: Xf) -> Xf {
        if self.is_zero() {
            return o;
        }
        if o.is_zero() {
            return self;
        }
        let (x, y) = if (self.exp, self.sig) >= (o.exp, o.sig) {
            (self, o)
        } else {
            (o, self)
        };
        let d = (x.exp - y.exp).unsigned_abs();
        if d >= 127 {
            return x;
        }
        let (xs, ys) = (x.sig >> 1, (y.sig >> 1) >> d);
        let s = if x.sign == y.sign { xs + ys } else { xs - ys };
        Xf::from_int(x.sign, s, x.exp - 126)
    }

    pub fn sub(self, o: Xf) -> Xf {
        self.add(o.neg())
    }

    pub fn mul(self, o: Xf) -> Xf {
        if self.is_zero() || o.is_zero() {
            return Xf::ZERO;
        }
        let (a1, a0, b1, b0) = (self.sig >> 64, self.sig & LOW, o.sig >> 64, o.sig & LOW);
        let (hh, hl, lh, ll) = (a1 * b1, a1 * b0, a0 * b1, a0 * b0);
        let mid = (hl & LOW) + (lh & LOW) + (ll >> 64);
        let hi = hh + (hl >> 64) + (lh >> 64) + (mid >> 64);
        let sign = self.sign ^ o.sign;
        let exp = self.exp + o.exp;
        if hi >> 127 != 0 {
            Xf {
                sign,
                exp: exp + 1,
                sig: hi,
            }
        } else {
            Xf {
                sign,
                exp,
                sig: (hi << 1) | ((mid & LOW) >> 63),
            }
        }
    }

    /// Division by long division, 128 quotient bits.
    pub fn div(self, o: Xf) -> Xf {
        debug_assert!(!o.is_zero());
        if self.is_zero() {
            return Xf::ZERO;
        }
        let b = o.sig;
        let mut r = self.sig;
        let mut exp = self.exp - o.exp;
        let mut carry = false;
        if r < b {
            exp -= 1;
            carry = r >> 127 != 0;
            r <<= 1;
        }
        let mut q = 0u128;
        for i in 0..128 {
            if carry || r >= b {
                r = r.wrapping_sub(b);
                q |= 1 << (127 - i);
            }
            carry = r >> 127 != 0;
            r <<= 1;
        }
        Xf {
            sign: self.sign ^ o.sign,
            exp,
            sig: q,
        }
    }

    /// Division by a small positive integer.
    pub fn div_small(self, d: u64) -> Xf {
        let d = u128::from(d);
        let (q_hi, r) = (self.sig / d, self.sig % d);
        let q_lo = (r << 64) / d;
        // The 192-bit quotient q_hi:q_lo, scaled by 2^-64.
        let lz = q_hi.leading_zeros();
        let top = if lz == 0 {
            q_hi
        } else {
            (q_hi << lz) | (q_lo >> (64 - lz.min(64)))
        };
        Xf {
            sign: self.sign,
            exp: self.exp - lz as i32,
            sig: top,
        }
    }

    /// Square root of a non-negative value (Newton from a 64-bit seed).
    pub fn sqrt(self) -> Xf {
        if self.is_zero() {
            return self;
        }
        let f = self.exp - 127;
        let (n, half) = if f % 2 == 0 {
            (self.sig, f / 2)
        } else {
            (self.sig >> 1, (f + 1) / 2)
        };
        let mut y = Xf::from_int(false, u128::from(isqrt(n)), half);
        for _ in 0..2 {
            y = y.add(self.div(y)).scale(-1);
        }
        y
    }

    /// Rounds to the register format (64 bits) under `ctx`; the result is
    /// taken as inexact (a sticky bit below the 128 kept).
    pub fn to_f80(self, ctx: &mut Ctx) -> F80 {
        if self.is_zero() {
            return F80::zero(self.sign);
        }
        round_pack(ctx, self.sign, self.exp + 16383, self.sig | 1, 64)
    }
}

/// floor(√n) for a 128-bit n.
fn isqrt(n: u128) -> u64 {
    let (mut rem, mut root) = (0u128, 0u128);
    for i in 0..64 {
        rem = (rem << 2) | ((n >> (126 - 2 * i)) & 3);
        let trial = (root << 2) | 1;
        root <<= 1;
        if rem >= trial {
            rem -= trial;
            root |= 1;
        }
    }
    root as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Xf, b: Xf) -> bool {
        let d = a.sub(b);
        d.is_zero() || d.exp < a.exp - 120
    }

    #[test]
    fn arithmetic_is_accurate_to_about_120_bits() {
        let three = Xf::from_int(false, 3, 0);
        let third = Xf::ONE.div(three);
        assert!(close(third.mul(three), Xf::ONE));
        assert!(close(Xf::ONE.div_small(3), third));
        let two = Xf::from_int(false, 2, 0);
        let r = two.sqrt();
        assert!(close(r.mul(r), two));
        assert_eq!(three.sub(three), Xf::ZERO);
    }
}
