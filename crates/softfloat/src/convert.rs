//! Conversions: FILD, FIST/FISTP, FISTTP (integers), FLD and FST/FSTP with
//! m32fp and m64fp operands (SDM Vol. 2 instruction pages; Vol. 1 §4.8.3.7
//! "Indefinite", §4.9.1.5, Table 4-3 for the integer indefinite).
//!
//! Loads are exact (an SNaN becomes a QNaN with IE; a denormal single or
//! double raises DE and is normalised). Stores round to the destination
//! format itself: precision control does not apply.

use crate::ctx::{Ctx, Exceptions, Rounding};
use crate::f80::{Class, Unpacked, F80, INT_BIT, QUIET_BIT};
use crate::round::{round, shr_jam, Format, Rounded};

/// An integer rounded from a finite value: magnitude and rounding facts.
pub(crate) struct IntRound {
    /// The rounded magnitude, or `None` if it is 2^64 or more.
    pub mag: Option<u64>,
    /// Bits were discarded.
    pub inexact: bool,
    /// The magnitude was rounded up.
    pub up: bool,
}

/// Rounds a finite nonzero value to an integer under `rc`.
pub(crate) fn round_int(rc: Rounding, u: Unpacked) -> IntRound {
    let e = u.exp - 16383;
    if e >= 64 {
        return IntRound {
            mag: None,
            inexact: false,
            up: false,
        };
    }
    // Integer part in bits 127-64, fraction below.
    let fixed = shr_jam(u128::from(u.sig) << 64, (63 - e).unsigned_abs());
    let (int, frac) = ((fixed >> 64) as u64, fixed as u64);
    let half = 1u64 << 63;
    let inexact = frac != 0;
    let up = match rc {
        Rounding::NearestEven => frac > half || (frac == half && int & 1 == 1),
        Rounding::Down => u.sign && inexact,
        Rounding::Up => !u.sign && inexact,
        Rounding::Zero => false,
    };
    let mag = if up { int.checked_add(1) } else { Some(int) };
    IntRound { mag, inexact, up }
}

impl Ctx {
    /// FILD: an integer (of any width up to 64 bits) to extended, exactly.
    pub fn from_i64(&mut self, v: i64) -> F80 {
        self.c1 = false;
        if v == 0 {
            return F80::ZERO;
        }
        let mag = v.unsigned_abs();
        let lz = mag.leading_zeros();
        F80::new(v < 0, (16383 + 63 - lz) as u16, mag << lz)
    }

    /// FIST/FISTP to an integer of `bits` (16, 32 or 64) under rounding
    /// control, or FISTTP with `truncate`. NaNs, infinities, unsupported
    /// encodings and out-of-range values raise IE and give the integer
    /// indefinite (the most negative value). Returns the integer
    /// sign-extended to 64 bits.
    pub fn to_int(&mut self, a: F80, bits: u32, truncate: bool) -> i64 {
        self.c1 = false;
        let indefinite = i64::MIN >> (64 - bits);
        match a.class() {
            Class::Zero => return 0,
            Class::Normal | Class::Denormal | Class::PseudoDenormal => {}
            _ => {
                self.raise(Exceptions::INVALID);
                return indefinite;
            }
        }
        // FIST raises no DE for a denormal source (a real x87 agrees).
        let rc = if truncate { Rounding::Zero } else { self.rc };
        let r = round_int(rc, Unpacked::from_f80(a));
        let limit = 1u64 << (bits - 1);
        match r.mag {
            Some(m) if m < limit || (a.sign && m == limit) => {
                if r.inexact {
                    self.raise(Exceptions::PRECISION);
                    self.c1 = r.up;
                }
                let m = m as i64;
                if a.sign {
                    m.wrapping_neg()
                } else {
                    m
                }
            }
            _ => {
                self.raise(Exceptions::INVALID);
                indefinite
            }
        }
    }

    /// FLD m32fp: a single-precision bit pattern to extended.
    pub fn from_f32(&mut self, bits: u32) -> F80 {
        self.load_float(u64::from(bits), 23, 8)
    }

    /// FLD m64fp: a double-precision bit pattern to extended.
    pub fn from_f64(&mut self, bits: u64) -> F80 {
        self.load_float(bits, 52, 11)
    }

    fn load_float(&mut self, bits: u64, frac_bits: u32, exp_bits: u32) -> F80 {
        self.c1 = false;
        let sign = (bits >> (frac_bits + exp_bits)) & 1 != 0;
        let exp_max = (1u64 << exp_bits) - 1;
        let bias = (exp_max >> 1) as i32;
        let e = (bits >> frac_bits) & exp_max;
        let frac = bits & ((1u64 << frac_bits) - 1);
        let top = frac << (63 - frac_bits); // fraction aligned below the integer bit
        if e == exp_max {
            let v = F80::new(sign, 0x7FFF, INT_BIT | top);
            if frac != 0 && top & QUIET_BIT == 0 {
                self.raise(Exceptions::INVALID);
                return v.quieted();
            }
            return v;
        }
        if e == 0 {
            if frac == 0 {
                return F80::zero(sign);
            }
            self.raise(Exceptions::DENORMAL);
            let lz = top.leading_zeros();
            return F80::new(sign, (16383 - bias + 1 - lz as i32) as u16, top << lz);
        }
        F80::new(sign, (e as i32 - bias + 16383) as u16, INT_BIT | top)
    }

    /// FST m32fp: rounds to single precision and returns the bit pattern.
    pub fn to_f32(&mut self, a: F80) -> u32 {
        self.store_float(a, Format::F32, 23, 8) as u32
    }

    /// FST m64fp: rounds to double precision and returns the bit pattern.
    pub fn to_f64(&mut self, a: F80) -> u64 {
        self.store_float(a, Format::F64, 52, 11)
    }

    fn store_float(&mut self, a: F80, fmt: Format, frac_bits: u32, exp_bits: u32) -> u64 {
        self.c1 = false;
        let sign_bit = u64::from(a.sign) << (frac_bits + exp_bits);
        let exp_max = (1u64 << exp_bits) - 1;
        let inf = sign_bit | exp_max << frac_bits;
        let quiet = 1u64 << (frac_bits - 1);
        match a.class() {
            Class::Zero => return sign_bit,
            Class::Infinity => return inf,
            Class::Unsupported => {
                self.raise(Exceptions::INVALID);
                return (1u64 << (frac_bits + exp_bits)) | inf | quiet;
            }
            Class::QuietNan | Class::SignalingNan => {
                if a.is_snan() {
                    self.raise(Exceptions::INVALID);
                }
                return inf | quiet | ((a.sig << 1) >> (64 - frac_bits));
            }
            _ => {}
        }
        // Like FIST, FST raises no DE for a denormal source.
        let u = Unpacked::from_f80(a);
        match round(self, a.sign, u.exp, u128::from(u.sig) << 64, fmt) {
            Rounded::Infinity => inf,
            Rounded::Finite { exp, sig } => {
                let bias = fmt.emax - 16383;
                let e = if sig & INT_BIT == 0 {
                    0
                } else {
                    (exp - 16383 + bias) as u64
                };
                let frac = (sig << 1) >> (64 - frac_bits);
                sign_bit | e << frac_bits | frac
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fild_is_exact() {
        let mut c = Ctx::default();
        assert_eq!(c.from_i64(-1), F80::ONE.neg());
        assert_eq!(c.from_i64(i64::MIN).to_bits(), 0xC03E_8000_0000_0000_0000);
    }

    #[test]
    fn fist_out_of_range_is_the_integer_indefinite() {
        let mut c = Ctx::default();
        assert_eq!(c.to_int(c_from(32768), 16, false), -32768);
        assert_eq!(c.flags, Exceptions::INVALID);
        let mut c = Ctx::default();
        assert_eq!(c.to_int(c_from(-32768), 16, false), -32768);
        assert!(c.flags.is_empty());
    }

    fn c_from(v: i64) -> F80 {
        Ctx::default().from_i64(v)
    }

    #[test]
    fn fisttp_truncates_whatever_the_rounding() {
        let mut c = Ctx {
            rc: Rounding::Up,
            ..Ctx::default()
        };
        let x = F80::from_bits(0x3FFF_C000_0000_0000_0000); // 1.5
        assert_eq!(c.to_int(x, 32, true), 1);
        assert_eq!(c.to_int(x, 32, false), 2);
        assert!(c.c1);
    }

    #[test]
    fn fld_m32_quiets_an_snan() {
        let mut c = Ctx::default();
        assert_eq!(
            c.from_f32(0x7F80_0001).to_bits(),
            0x7FFF_C000_0100_0000_0000
        );
        assert_eq!(c.flags, Exceptions::INVALID);
    }

    #[test]
    fn fst_m64_rounds_to_double_and_flags_inexact() {
        let mut c = Ctx::default();
        let third = F80::from_bits(0x3FFD_AAAA_AAAA_AAAA_AAAB);
        assert_eq!(c.to_f64(third), 0x3FD5_5555_5555_5555);
        assert_eq!(c.flags, Exceptions::PRECISION);
    }
}
