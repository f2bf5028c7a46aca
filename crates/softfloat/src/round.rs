//! Rounding an exact (or sticky) intermediate result to a destination format
//! (SDM Vol. 1 §4.8.4 "Rounding", §4.9.1.4 "Numeric overflow", §4.9.1.5
//! "Numeric underflow", §8.1.3.3 C1 as the round-up indication).
//!
//! The x87 detects tininess *after* rounding: a result is tiny when, rounded
//! to the destination precision with an unbounded exponent, it is below the
//! smallest normal; with underflow masked UE is raised only when the tiny
//! result is also inexact (a real x87 agrees, see the vectors). The destination's
//! precision is counted from the significand's top bit of the *normal*
//! format, so a denormal result keeps fewer bits.

use crate::ctx::{Ctx, Exceptions, Rounding};
use crate::f80::{F80, INT_BIT};

/// Shifts right, OR-ing every bit shifted out into bit 0 (sticky).
pub(crate) fn shr_jam(x: u128, n: u32) -> u128 {
    match n {
        0 => x,
        1..=127 => (x >> n) | u128::from(x << (128 - n) != 0),
        _ => u128::from(x != 0),
    }
}

/// A destination format: significand bits and the biased (x87-bias)
/// exponents of its smallest and largest normal numbers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Format {
    pub prec: u32,
    pub emin: i32,
    pub emax: i32,
}

impl Format {
    /// The register format at a precision-control setting: the exponent
    /// range stays the 15-bit one.
    pub const fn ext(prec: u32) -> Format {
        Format {
            prec,
            emin: 1,
            emax: 0x7FFE,
        }
    }
    /// Single precision (FST m32).
    pub const F32: Format = Format {
        prec: 24,
        emin: 16383 - 126,
        emax: 16383 + 127,
    };
    /// Double precision (FST m64).
    pub const F64: Format = Format {
        prec: 53,
        emin: 16383 - 1022,
        emax: 16383 + 1023,
    };
}

/// A rounded finite result: value = `sig` × 2^(`exp` − 16383 − 63). A
/// denormal result has `exp == fmt.emin` and the integer bit clear; a zero
/// has `sig == 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rounded {
    /// A finite value.
    Finite { exp: i32, sig: u64 },
    /// Overflow to infinity.
    Infinity,
}

/// Rounds `sig` × 2^(`exp` − 16383 − 127) (any nonzero `sig`, low bits
/// sticky) to `fmt` under `ctx.rc`, raising PE/UE/OE and setting C1.
pub(crate) fn round(ctx: &mut Ctx, sign: bool, exp: i32, sig: u128, fmt: Format) -> Rounded {
    debug_assert!(sig != 0);
    let lz = sig.leading_zeros();
    let mut sig = sig << lz;
    let mut exp = exp - lz as i32;
    let tiny = exp < fmt.emin && !(exp == fmt.emin - 1 && carries_out(ctx.rc, sign, sig, fmt.prec));
    if exp < fmt.emin {
        sig = shr_jam(sig, (fmt.emin - exp).unsigned_abs());
        exp = fmt.emin;
    }
    let drop = 128 - fmt.prec;
    let rest = sig & ((1u128 << drop) - 1);
    let half = 1u128 << (drop - 1);
    let mut kept = sig >> drop;
    let inexact = rest != 0;
    let up = match ctx.rc {
        Rounding::NearestEven => rest > half || (rest == half && kept & 1 == 1),
        Rounding::Down => sign && inexact,
        Rounding::Up => !sign && inexact,
        Rounding::Zero => false,
    };
    if up {
        kept += 1;
        if kept >> fmt.prec != 0 {
            kept >>= 1;
            exp += 1;
        }
    }
    if exp > fmt.emax {
        return overflow(ctx, sign, fmt);
    }
    ctx.c1 = up;
    if inexact {
        ctx.raise(Exceptions::PRECISION);
        if tiny {
            ctx.raise(Exceptions::UNDERFLOW);
        }
    }
    Rounded::Finite {
        exp,
        sig: (kept << (64 - fmt.prec)) as u64,
    }
}

/// True if rounding the normalised `sig` to `prec` bits carries into a new
/// top bit: the result, with an unbounded exponent, reaches the next binade
/// (used for tininess detected after rounding).
fn carries_out(rc: Rounding, sign: bool, sig: u128, prec: u32) -> bool {
    let drop = 128 - prec;
    let kept = sig >> drop;
    if kept != (1u128 << prec) - 1 {
        return false;
    }
    let rest = sig & ((1u128 << drop) - 1);
    match rc {
        Rounding::NearestEven => rest >= 1u128 << (drop - 1),
        Rounding::Down => sign && rest != 0,
        Rounding::Up => !sign && rest != 0,
        Rounding::Zero => false,
    }
}

/// The masked overflow response (SDM Vol. 1 Table 4-10): infinity when the
/// rounding direction leads away from zero, else the largest finite value.
fn overflow(ctx: &mut Ctx, sign: bool, fmt: Format) -> Rounded {
    ctx.raise(Exceptions::OVERFLOW | Exceptions::PRECISION);
    let to_inf = match ctx.rc {
        Rounding::NearestEven => true,
        Rounding::Down => sign,
        Rounding::Up => !sign,
        Rounding::Zero => false,
    };
    ctx.c1 = to_inf;
    if to_inf {
        Rounded::Infinity
    } else {
        Rounded::Finite {
            exp: fmt.emax,
            sig: !0u64 << (64 - fmt.prec),
        }
    }
}

/// Rounds to the register format at precision `prec` and packs it.
pub(crate) fn round_pack(ctx: &mut Ctx, sign: bool, exp: i32, sig: u128, prec: u32) -> F80 {
    if sig == 0 {
        ctx.c1 = false;
        return F80::zero(sign);
    }
    match round(ctx, sign, exp, sig, Format::ext(prec)) {
        Rounded::Infinity => F80::infinity(sign),
        Rounded::Finite { exp, sig } => {
            let exp = if sig & INT_BIT == 0 { 0 } else { exp as u16 };
            F80::new(sign, exp, sig)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctx::Precision;

    #[test]
    fn shr_jam_keeps_a_sticky_bit() {
        assert_eq!(shr_jam(0b1001, 3), 0b1);
        assert_eq!(shr_jam(0b1000, 3), 0b1);
        assert_eq!(shr_jam(0b1100, 2), 0b11);
        assert_eq!(shr_jam(5, 200), 1);
        assert_eq!(shr_jam(0, 200), 0);
    }

    #[test]
    fn ties_go_to_even() {
        let mut ctx = Ctx {
            pc: Precision::Extended,
            ..Ctx::default()
        };
        // 1 + half an ulp: a tie, rounds down to the even 1.0.
        let sig = (1u128 << 127) | (1u128 << 63);
        let r = round_pack(&mut ctx, false, 0x3FFF, sig, 64);
        assert_eq!(r, F80::ONE);
        assert!(ctx.flags.contains(Exceptions::PRECISION));
        assert!(!ctx.c1);
    }
}
