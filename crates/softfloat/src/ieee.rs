//! IEEE 754 binary32 and binary64 arithmetic as the SSE/SSE2 unit performs
//! it (Intel SDM Vol. 1 §4.8, §4.9, §10.2.3 and §11.5): the four rounding
//! modes of MXCSR.RC, denormals-are-zeros (DAZ) on inputs, flush-to-zero
//! (FZ) on tiny results while underflow is masked, the six exception
//! flags, and the SSE NaN rules (an SNaN operand is quieted, the first
//! NaN operand wins, an invalid operation yields the default NaN, the
//! negative quiet NaN with only the quiet bit set).
//!
//! Values are raw bit patterns in a `u64` (binary32 in the low 32 bits);
//! every result is computed exactly with integers and then rounded once,
//! so nothing depends on the host's floating point. Tininess is detected
//! after rounding, as x86 does.
//!
//! An operation returns the *masked* response and records the flags it
//! raised in [`Env::flags`]; the caller decides from MXCSR's masks
//! whether to store it or to raise #XM. With overflow or underflow
//! unmasked, PE is set only when the result rounded with an unbounded
//! exponent is inexact (as a real CPU does) and the value returned is
//! meaningless (the CPU stores nothing).

/// Exception flags, in MXCSR positions.
pub mod flag {
    /// Invalid operation.
    pub const IE: u32 = 1 << 0;
    /// Denormal operand.
    pub const DE: u32 = 1 << 1;
    /// Divide by zero.
    pub const ZE: u32 = 1 << 2;
    /// Overflow.
    pub const OE: u32 = 1 << 3;
    /// Underflow.
    pub const UE: u32 = 1 << 4;
    /// Precision (inexact).
    pub const PE: u32 = 1 << 5;
}
use flag::*;

/// A binary interchange format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    /// Exponent field width.
    pub exp_bits: u32,
    /// Fraction field width (precision minus one).
    pub frac_bits: u32,
}

/// binary32 (single precision).
pub const F32: Format = Format {
    exp_bits: 8,
    frac_bits: 23,
};
/// binary64 (double precision).
pub const F64: Format = Format {
    exp_bits: 11,
    frac_bits: 52,
};

impl Format {
    fn bias(self) -> i32 {
        (1 << (self.exp_bits - 1)) - 1
    }
    fn exp_all(self) -> u64 {
        ((1u64 << self.exp_bits) - 1) << self.frac_bits
    }
    /// The sign bit.
    pub fn sign_bit(self) -> u64 {
        1 << (self.exp_bits + self.frac_bits)
    }
    fn frac_mask(self) -> u64 {
        (1 << self.frac_bits) - 1
    }
    fn quiet_bit(self) -> u64 {
        1 << (self.frac_bits - 1)
    }
    /// The default NaN (the "QNaN floating-point indefinite").
    pub fn default_nan(self) -> u64 {
        self.sign_bit() | self.exp_all() | self.quiet_bit()
    }
    /// True for a NaN.
    pub fn is_nan(self, x: u64) -> bool {
        x & self.exp_all() == self.exp_all() && x & self.frac_mask() != 0
    }
    /// True for a signaling NaN.
    pub fn is_snan(self, x: u64) -> bool {
        self.is_nan(x) && x & self.quiet_bit() == 0
    }
    fn is_inf(self, x: u64) -> bool {
        x & !self.sign_bit() == self.exp_all()
    }
    fn is_zero(self, x: u64) -> bool {
        x & !self.sign_bit() == 0
    }
    /// True for a denormal (subnormal) encoding.
    pub fn is_denormal(self, x: u64) -> bool {
        x & self.exp_all() == 0 && x & self.frac_mask() != 0
    }
    fn sign(self, x: u64) -> bool {
        x & self.sign_bit() != 0
    }
    fn zero(self, sign: bool) -> u64 {
        if sign {
            self.sign_bit()
        } else {
            0
        }
    }
    fn inf(self, sign: bool) -> u64 {
        self.zero(sign) | self.exp_all()
    }
    fn max_finite(self, sign: bool) -> u64 {
        self.zero(sign) | (self.exp_all() - (1 << self.frac_bits)) | self.frac_mask()
    }
    /// The smallest exponent of a finite value's integer significand:
    /// a finite value is `sig × 2^exp` with `exp >= min_exp`.
    fn min_exp(self) -> i32 {
        1 - self.bias() - self.frac_bits as i32
    }
    /// Unpacks a finite value into sign, exponent and integer significand
    /// (`sig × 2^exp`; `sig` is 0 for a zero).
    fn unpack(self, x: u64) -> (bool, i32, u64) {
        let e = ((x & self.exp_all()) >> self.frac_bits) as i32;
        let m = x & self.frac_mask();
        if e == 0 {
            (self.sign(x), self.min_exp(), m)
        } else {
            (
                self.sign(x),
                self.min_exp() + e - 1,
                m | 1 << self.frac_bits,
            )
        }
    }
    /// The NaN `x` made quiet.
    pub fn quiet(self, x: u64) -> u64 {
        x | self.quiet_bit()
    }
}

/// Rounding control (MXCSR.RC encoding).
pub mod rc {
    /// To nearest, ties to even.
    pub const NEAREST: u8 = 0;
    /// Toward −∞.
    pub const DOWN: u8 = 1;
    /// Toward +∞.
    pub const UP: u8 = 2;
    /// Toward zero.
    pub const ZERO: u8 = 3;
}

/// The environment of an operation: MXCSR's controls and the flags raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Env {
    /// Rounding control.
    pub rc: u8,
    /// Denormals are zeros.
    pub daz: bool,
    /// Flush to zero.
    pub ftz: bool,
    /// Underflow is masked.
    pub um: bool,
    /// Overflow is masked.
    pub om: bool,
    /// Exceptions raised (sticky).
    pub flags: u32,
}

impl Env {
    /// The environment of MXCSR value `m`, with no flags raised.
    pub fn from_mxcsr(m: u32) -> Self {
        Self {
            rc: ((m >> 13) & 3) as u8,
            daz: m & (1 << 6) != 0,
            ftz: m & (1 << 15) != 0,
            um: m & (1 << 11) != 0,
            om: m & (1 << 10) != 0,
            flags: 0,
        }
    }

    /// A denormal input: zero (with its sign) under DAZ, else DE.
    fn input(&mut self, f: Format, x: u64) -> u64 {
        if f.is_denormal(x) {
            if self.daz {
                return x & f.sign_bit();
            }
            self.flags |= DE;
        }
        x
    }

    /// The NaN result of a two-operand operation with a NaN operand: the
    /// first NaN, quieted; IE for a signaling one.
    fn nan2(&mut self, f: Format, a: u64, b: u64) -> u64 {
        if f.is_snan(a) || f.is_snan(b) {
            self.flags |= IE;
        }
        if f.is_nan(a) {
            f.quiet(a)
        } else {
            f.quiet(b)
        }
    }

    fn invalid(&mut self, f: Format) -> u64 {
        self.flags |= IE;
        f.default_nan()
    }

    /// Rounds `sig × 2^exp` (`sig` not zero) to format `f`.
    pub fn round_pack(&mut self, f: Format, sign: bool, exp: i32, sig: u128) -> u64 {
        let p = f.frac_bits as i32 + 1;
        let msb = 127 - sig.leading_zeros() as i32;
        // Round to p bits with an unbounded exponent, to find tininess.
        let (mut q, inexact) = round_bits(sig, msb + 1 - p, sign, self.rc);
        let mut e = exp + msb + 1 - p; // exponent of q's last bit
        if q >> p != 0 {
            q >>= 1;
            e += 1;
        }
        let emin = f.min_exp();
        if e >= emin {
            // Normal (or overflowing).
            let biased = e - emin + 1;
            if biased >= (1 << f.exp_bits) - 1 {
                // Unmasked, nothing is stored and PE tells whether the
                // result with an unbounded exponent is inexact.
                self.flags |= if self.om || inexact { OE | PE } else { OE };
                let to_inf = match self.rc {
                    rc::NEAREST => true,
                    rc::UP => !sign,
                    rc::DOWN => sign,
                    _ => false,
                };
                return if to_inf {
                    f.inf(sign)
                } else {
                    f.max_finite(sign)
                };
            }
            if inexact {
                self.flags |= PE;
            }
            return f.zero(sign) | (biased as u64) << f.frac_bits | (q as u64 & f.frac_mask());
        }
        // Tiny.
        if !self.um {
            // Unmasked: UE, and PE as for overflow.
            self.flags |= if inexact { UE | PE } else { UE };
            return f.zero(sign);
        }
        if self.ftz {
            self.flags |= UE | PE;
            return f.zero(sign);
        }
        let (q, inexact) = round_bits(sig, emin - exp, sign, self.rc);
        if inexact {
            self.flags |= PE | UE;
        }
        f.zero(sign) | q as u64
    }

    /// `a + b` (or `a - b` when `sub`).
    pub fn add(&mut self, f: Format, a: u64, b: u64, sub: bool) -> u64 {
        if f.is_nan(a) || f.is_nan(b) {
            return self.nan2(f, a, b);
        }
        let a = self.input(f, a);
        let b = self.input(f, b) ^ if sub { f.sign_bit() } else { 0 };
        let (ia, ib) = (f.is_inf(a), f.is_inf(b));
        if ia || ib {
            if ia && ib && f.sign(a) != f.sign(b) {
                return self.invalid(f);
            }
            return if ia { a } else { b };
        }
        let (sa, ea, ma) = f.unpack(a);
        let (sb, eb, mb) = f.unpack(b);
        if ma == 0 && mb == 0 {
            let sign = if sa == sb { sa } else { self.rc == rc::DOWN };
            return f.zero(sign);
        }
        // Order by exponent; the other operand is then the smaller one.
        let ((sa, ea, ma), (sb, eb, mb)) = if ea >= eb {
            ((sa, ea, ma), (sb, eb, mb))
        } else {
            ((sb, eb, mb), (sa, ea, ma))
        };
        let d = ea - eb;
        let (x, y, e) = if d <= 64 {
            (u128::from(ma) << d, u128::from(mb), eb)
        } else {
            // Far below the rounding point: only its presence matters.
            (u128::from(ma) << 64, u128::from(mb != 0), ea - 64)
        };
        let (sign, sum) = if sa == sb {
            (sa, x + y)
        } else if x >= y {
            (sa, x - y)
        } else {
            (sb, y - x)
        };
        if sum == 0 {
            return f.zero(self.rc == rc::DOWN);
        }
        self.round_pack(f, sign, e, sum)
    }

    /// `a × b`.
    pub fn mul(&mut self, f: Format, a: u64, b: u64) -> u64 {
        if f.is_nan(a) || f.is_nan(b) {
            return self.nan2(f, a, b);
        }
        let a = self.input(f, a);
        let b = self.input(f, b);
        let sign = f.sign(a) != f.sign(b);
        if f.is_inf(a) || f.is_inf(b) {
            if f.is_zero(a) || f.is_zero(b) {
                return self.invalid(f);
            }
            return f.inf(sign);
        }
        let (_, ea, ma) = f.unpack(a);
        let (_, eb, mb) = f.unpack(b);
        if ma == 0 || mb == 0 {
            return f.zero(sign);
        }
        self.round_pack(f, sign, ea + eb, u128::from(ma) * u128::from(mb))
    }

    /// `a ÷ b`. A finite non-zero dividend over zero is ZE alone (no DE
    /// for a denormal dividend).
    pub fn div(&mut self, f: Format, a: u64, b: u64) -> u64 {
        if f.is_nan(a) || f.is_nan(b) {
            return self.nan2(f, a, b);
        }
        let b = self.input(f, b);
        let sign = f.sign(a) != f.sign(b);
        if f.is_zero(b) && !f.is_inf(a) {
            if f.is_zero(a) || self.daz && f.is_denormal(a) {
                return self.invalid(f);
            }
            self.flags |= ZE;
            return f.inf(sign);
        }
        let a = self.input(f, a);
        match (f.is_inf(a), f.is_inf(b)) {
            (true, true) => return self.invalid(f),
            (true, false) => return f.inf(sign),
            (false, true) => return f.zero(sign),
            _ => {}
        }
        let (_, ea, ma) = f.unpack(a);
        let (_, eb, mb) = f.unpack(b);
        if ma == 0 {
            return f.zero(sign);
        }
        let (la, lb) = (ma.leading_zeros(), mb.leading_zeros());
        let (na, nb) = (ma << la, mb << lb);
        let num = u128::from(na) << 64;
        let den = u128::from(nb);
        let mut q = num / den;
        if num % den != 0 {
            q |= 1;
        }
        let e = (ea - la as i32) - (eb - lb as i32) - 64;
        self.round_pack(f, sign, e, q)
    }

    /// `√a`. A negative denormal is IE alone (no DE) unless DAZ makes it
    /// −0.
    pub fn sqrt(&mut self, f: Format, a: u64) -> u64 {
        if f.is_nan(a) {
            return self.nan2(f, a, a);
        }
        if f.sign(a) && f.is_denormal(a) && !self.daz {
            return self.invalid(f);
        }
        let a = self.input(f, a);
        if f.is_zero(a) {
            return a;
        }
        if f.sign(a) {
            return self.invalid(f);
        }
        if f.is_inf(a) {
            return a;
        }
        let (_, e, m) = f.unpack(a);
        // Significand with its top bit at 62, exponent made even.
        let l = m.leading_zeros() as i32 - 1;
        let mut n = u128::from(m << l);
        let mut e = e - l;
        let k = if e & 1 != 0 { 65 } else { 64 };
        n <<= k;
        e -= k;
        let (mut r, rem) = isqrt(n);
        if rem != 0 {
            r |= 1;
        }
        self.round_pack(f, false, e / 2, r)
    }

    /// Converts `x` from format `from` to format `to` (CVTSS2SD,
    /// CVTSD2SS and their packed forms).
    pub fn convert(&mut self, from: Format, to: Format, x: u64) -> u64 {
        let sign = from.sign(x);
        if from.is_nan(x) {
            if from.is_snan(x) {
                self.flags |= IE;
            }
            let frac = x & from.frac_mask();
            let frac = if to.frac_bits >= from.frac_bits {
                frac << (to.frac_bits - from.frac_bits)
            } else {
                frac >> (from.frac_bits - to.frac_bits)
            };
            return to.quiet(to.inf(sign) | frac);
        }
        let x = self.input(from, x);
        if from.is_inf(x) {
            return to.inf(sign);
        }
        let (_, e, m) = from.unpack(x);
        if m == 0 {
            return to.zero(sign);
        }
        self.round_pack(to, sign, e, u128::from(m))
    }

    /// Converts a signed integer (CVTSI2SS and friends).
    pub fn from_int(&mut self, f: Format, v: i64) -> u64 {
        if v == 0 {
            return 0;
        }
        self.round_pack(f, v < 0, 0, u128::from(v.unsigned_abs()))
    }

    /// Converts to a signed integer of `bits` bits (32 or 64), rounding
    /// by RC or, `truncate`, toward zero. NaNs and out-of-range values
    /// give the integer indefinite (only the sign bit set) and IE.
    pub fn to_int(&mut self, f: Format, x: u64, bits: u32, truncate: bool) -> u64 {
        let indefinite = 1u64 << (bits - 1);
        if f.is_nan(x) || f.is_inf(x) {
            self.flags |= IE;
            return indefinite;
        }
        let x = if self.daz && f.is_denormal(x) {
            x & f.sign_bit()
        } else {
            x
        };
        let (sign, e, m) = f.unpack(x);
        if m == 0 {
            return 0;
        }
        let mode = if truncate { rc::ZERO } else { self.rc };
        let (mag, inexact) = if e >= 0 {
            if e > 64 {
                self.flags |= IE;
                return indefinite;
            }
            (u128::from(m) << e, false)
        } else {
            round_bits(u128::from(m), -e, sign, mode)
        };
        let limit = if sign {
            u128::from(indefinite)
        } else {
            u128::from(indefinite) - 1
        };
        if mag > limit {
            self.flags |= IE;
            return indefinite;
        }
        if inexact {
            self.flags |= PE;
        }
        let v = mag as u64;
        let v = if sign { v.wrapping_neg() } else { v };
        if bits == 64 {
            v
        } else {
            v & 0xFFFF_FFFF
        }
    }

    /// Compares `a` with `b`: `None` when unordered. IE for an SNaN, or
    /// for any NaN when `signal` (the ordered comparisons).
    pub fn compare(
        &mut self,
        f: Format,
        a: u64,
        b: u64,
        signal: bool,
    ) -> Option<core::cmp::Ordering> {
        if f.is_nan(a) || f.is_nan(b) {
            if signal || f.is_snan(a) || f.is_snan(b) {
                self.flags |= IE;
            }
            return None;
        }
        let a = self.input(f, a);
        let b = self.input(f, b);
        Some(key(f, a).cmp(&key(f, b)))
    }

    /// MINSS/MAXSS and the packed forms: the second operand when either is
    /// a NaN (IE) or both are zeros, else the smaller (larger) one. DAZ
    /// applies to the operand returned.
    pub fn min_max(&mut self, f: Format, a: u64, b: u64, max: bool) -> u64 {
        if f.is_nan(a) || f.is_nan(b) {
            self.flags |= IE;
            return if self.daz && f.is_denormal(b) {
                b & f.sign_bit()
            } else {
                b
            };
        }
        let a = self.input(f, a);
        let b = self.input(f, b);
        let (ka, kb) = (key(f, a), key(f, b));
        let first = if max { ka > kb } else { ka < kb };
        if first {
            a
        } else {
            b
        }
    }
}

/// An integer that orders finite values and infinities like the values
/// (both zeros equal).
fn key(f: Format, x: u64) -> i128 {
    let mag = i128::from(x & !f.sign_bit());
    if f.sign(x) {
        -mag
    } else {
        mag
    }
}

/// Drops the low `d` bits of `sig`, rounding in mode `mode` for a value of
/// sign `sign`. Returns the rounded value and whether it is inexact.
fn round_bits(sig: u128, d: i32, sign: bool, mode: u8) -> (u128, bool) {
    if d <= 0 {
        return (sig << (-d).min(127), false);
    }
    let (sig, d) = if d > 120 {
        // Shrink, keeping a sticky bit: sig < 2^128 stays below half.
        let sh = (d - 120) as u32;
        let v = if sh >= 128 { 0 } else { sig >> sh };
        let lost = if sh >= 128 {
            sig
        } else {
            sig & ((1u128 << sh) - 1)
        };
        (v | u128::from(lost != 0), 120)
    } else {
        (sig, d)
    };
    let q = sig >> d;
    let rem = sig & ((1u128 << d) - 1);
    let half = 1u128 << (d - 1);
    let up = match mode {
        rc::NEAREST => rem > half || (rem == half && q & 1 != 0),
        rc::UP => rem != 0 && !sign,
        rc::DOWN => rem != 0 && sign,
        _ => false,
    };
    (q + u128::from(up), rem != 0)
}

/// Integer square root: `(r, n - r²)` with `r = ⌊√n⌋`.
fn isqrt(n: u128) -> (u128, u128) {
    let mut rem = n;
    let mut root = 0u128;
    let mut bit = 1u128 << 126;
    while bit > rem {
        bit >>= 2;
    }
    while bit != 0 {
        if rem >= root + bit {
            rem -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    (root, rem)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env::from_mxcsr(0x1F80)
    }

    #[test]
    fn basic_f32() {
        let mut e = env();
        let one = 0x3F80_0000;
        let two = e.add(F32, one, one, false);
        assert_eq!(two, 0x4000_0000);
        let third = e.div(F32, one, 0x4040_0000);
        assert_eq!(third, 0x3EAA_AAAB);
        assert_eq!(e.flags, PE);
        assert_eq!(e.sqrt(F64, 0x4010_0000_0000_0000), 0x4000_0000_0000_0000);
    }

    #[test]
    fn nan_rules() {
        let mut e = env();
        assert_eq!(e.add(F32, 0x7F80_0001, 0x7FC0_0002, false), 0x7FC0_0001);
        assert_eq!(e.flags, IE);
        let mut e = env();
        assert_eq!(e.mul(F32, 0x7F80_0000, 0), 0xFFC0_0000);
        assert_eq!(e.to_int(F32, 0x7F80_0000, 32, false), 0x8000_0000);
    }
}
