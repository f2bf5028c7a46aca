//! FBLD and FBSTP, the 80-bit packed BCD integer (SDM Vol. 1 §4.7 "BCD and
//! packed BCD integers", Figure 4-9; Vol. 2 "FBLD—Load Binary Coded
//! Decimal", "FBSTP—Store BCD Integer and Pop").
//!
//! Bytes 0-8 hold 18 digits, two per byte, least significant first; bit 7
//! of byte 9 is the sign. A nibble above 9 is undefined on load; here it is
//! taken at face value.

use crate::convert::round_int;
use crate::ctx::{Ctx, Exceptions};
use crate::f80::{Class, Unpacked, F80};

/// The packed BCD indefinite stored on an invalid FBSTP: bytes 9-7 are FF FF
/// C0, the rest zero.
pub const BCD_INDEFINITE: [u8; 10] = [0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF];

/// 10^18: the first magnitude that does not fit in 18 digits.
const LIMIT: u64 = 1_000_000_000_000_000_000;

impl Ctx {
    /// FBLD: packed BCD to extended, exactly (−0 stays −0).
    pub fn from_bcd(&mut self, bcd: [u8; 10]) -> F80 {
        let mag = bcd[..9].iter().rev().fold(0u64, |acc, &b| {
            acc * 100 + u64::from(b >> 4) * 10 + u64::from(b & 0xF)
        });
        let v = self.from_i64(mag as i64);
        F80 {
            sign: bcd[9] & 0x80 != 0,
            ..v
        }
    }

    /// FBSTP: `a` rounded to an integer under rounding control and packed;
    /// a NaN, an infinity, an unsupported encoding or a magnitude of 10^18
    /// or more raise IE and store the BCD indefinite.
    pub fn to_bcd(&mut self, a: F80) -> [u8; 10] {
        self.c1 = false;
        let mag = match a.class() {
            Class::Zero => 0,
            Class::Normal | Class::Denormal | Class::PseudoDenormal => {
                let r = round_int(self.rc, Unpacked::from_f80(a));
                match r.mag {
                    Some(m) if m < LIMIT => {
                        if r.inexact {
                            self.raise(Exceptions::PRECISION);
                            self.c1 = r.up;
                        }
                        m
                    }
                    _ => return self.bcd_invalid(),
                }
            }
            _ => return self.bcd_invalid(),
        };
        let mut out = [0u8; 10];
        let mut m = mag;
        for byte in out.iter_mut().take(9) {
            *byte = ((m % 10) as u8) | (((m / 10 % 10) as u8) << 4);
            m /= 100;
        }
        out[9] = if a.sign { 0x80 } else { 0 };
        out
    }

    fn bcd_invalid(&mut self) -> [u8; 10] {
        self.raise(Exceptions::INVALID);
        BCD_INDEFINITE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcd_round_trips_the_largest_value() {
        let mut c = Ctx::default();
        let mut nines = [0x99u8; 10];
        nines[9] = 0x80;
        let v = c.from_bcd(nines);
        assert_eq!(c.to_bcd(v), nines);
        assert!(c.flags.is_empty());
    }

    #[test]
    fn ten_to_the_eighteen_is_invalid() {
        let mut c = Ctx::default();
        let v = c.from_i64(LIMIT as i64);
        assert_eq!(c.to_bcd(v), BCD_INDEFINITE);
        assert_eq!(c.flags, Exceptions::INVALID);
    }
}
