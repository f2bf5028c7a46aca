//! The 80-bit double extended-precision format (Intel SDM Vol. 1 §4.2.2,
//! §4.8.3 "Real numbers and floating-point formats", §8.2.2 "Unsupported
//! double extended-precision floating-point encodings and pseudo-denormals").
//!
//! Layout: bit 79 sign, bits 78-64 biased exponent (bias 16383), bits 63-0
//! the significand with an *explicit* integer bit (bit 63). The integer bit
//! makes some encodings redundant or meaningless; the 387 and later treat
//! unnormals, pseudo-NaNs and pseudo-infinities as invalid operands, and
//! accept pseudo-denormals (exponent 0, integer bit 1) as denormals.

/// Exponent bias of the double extended-precision format.
pub const BIAS: i32 = 16383;
/// The all-ones exponent of infinities and NaNs.
pub const EXP_MAX: u16 = 0x7FFF;
/// The integer bit (J) of the significand.
pub const INT_BIT: u64 = 1 << 63;
/// The quiet bit of a NaN's significand (bit 62).
pub const QUIET_BIT: u64 = 1 << 62;

/// An x87 80-bit double extended-precision value, unpacked into its fields.
///
/// Any bit pattern is representable, including the encodings the FPU
/// rejects; see [`Class`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct F80 {
    /// Sign bit (bit 79): `true` for negative.
    pub sign: bool,
    /// Biased exponent (bits 78-64); only the low 15 bits are meaningful.
    pub exp: u16,
    /// Significand (bits 63-0), integer bit included.
    pub sig: u64,
}

/// The class of an 80-bit encoding, as the 387 and later see it (SDM Vol. 1
/// Table 8-3 for the encodings, §8.2.2 for the unsupported ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// Exponent 0, significand 0.
    Zero,
    /// Exponent 0, integer bit 0, significand nonzero.
    Denormal,
    /// Exponent 0, integer bit 1: accepted as a denormal operand.
    PseudoDenormal,
    /// Exponent 1..=0x7FFE with the integer bit set.
    Normal,
    /// Exponent 0x7FFF, significand exactly the integer bit.
    Infinity,
    /// Exponent 0x7FFF, integer and quiet bits set.
    QuietNan,
    /// Exponent 0x7FFF, integer bit set, quiet bit clear, fraction nonzero.
    SignalingNan,
    /// An unnormal, pseudo-NaN or pseudo-infinity: exponent nonzero, integer
    /// bit 0. An invalid operand (#IA) for every arithmetic instruction.
    Unsupported,
}

impl F80 {
    /// +0.0.
    pub const ZERO: F80 = F80::new(false, 0, 0);
    /// +1.0.
    pub const ONE: F80 = F80::new(false, 0x3FFF, INT_BIT);
    /// +infinity.
    pub const INFINITY: F80 = F80::new(false, EXP_MAX, INT_BIT);
    /// The "real indefinite" QNaN (negative, fraction .1000…): the masked
    /// response to an invalid operation (SDM Vol. 1 §4.8.3.7, Table 4-3).
    pub const INDEFINITE: F80 = F80::new(true, EXP_MAX, INT_BIT | QUIET_BIT);

    /// Builds a value from its fields.
    pub const fn new(sign: bool, exp: u16, sig: u64) -> F80 {
        F80 {
            sign,
            exp: exp & EXP_MAX,
            sig,
        }
    }

    /// Decodes the low 80 bits of `bits` (the memory image, little endian,
    /// read as an integer).
    pub const fn from_bits(bits: u128) -> F80 {
        F80 {
            sign: (bits >> 79) & 1 != 0,
            exp: ((bits >> 64) as u16) & EXP_MAX,
            sig: bits as u64,
        }
    }

    /// Encodes the value as an 80-bit integer (bit 79 is the sign).
    pub const fn to_bits(self) -> u128 {
        ((self.sign as u128) << 79) | (((self.exp & EXP_MAX) as u128) << 64) | self.sig as u128
    }

    /// Decodes the 10-byte memory image.
    pub fn from_le_bytes(bytes: [u8; 10]) -> F80 {
        let mut b = [0u8; 16];
        b[..10].copy_from_slice(&bytes);
        F80::from_bits(u128::from_le_bytes(b))
    }

    /// The 10-byte memory image.
    pub fn to_le_bytes(self) -> [u8; 10] {
        let b = self.to_bits().to_le_bytes();
        let mut out = [0u8; 10];
        out.copy_from_slice(&b[..10]);
        out
    }

    /// Classifies the encoding.
    pub const fn class(self) -> Class {
        let int = self.sig & INT_BIT != 0;
        match (self.exp, int) {
            (0, _) if self.sig == 0 => Class::Zero,
            (0, false) => Class::Denormal,
            (0, true) => Class::PseudoDenormal,
            (_, false) => Class::Unsupported,
            (EXP_MAX, true) if self.sig << 1 == 0 => Class::Infinity,
            (EXP_MAX, true) if self.sig & QUIET_BIT != 0 => Class::QuietNan,
            (EXP_MAX, true) => Class::SignalingNan,
            _ => Class::Normal,
        }
    }

    /// True for either zero.
    pub const fn is_zero(self) -> bool {
        self.exp == 0 && self.sig == 0
    }
    /// True for a denormal or pseudo-denormal: raises #D as an operand.
    pub const fn is_denormal(self) -> bool {
        self.exp == 0 && self.sig != 0
    }
    /// True for a quiet or signalling NaN (not a pseudo-NaN).
    pub const fn is_nan(self) -> bool {
        matches!(self.class(), Class::QuietNan | Class::SignalingNan)
    }
    /// True for a signalling NaN.
    pub const fn is_snan(self) -> bool {
        matches!(self.class(), Class::SignalingNan)
    }
    /// True for either infinity.
    pub const fn is_infinity(self) -> bool {
        matches!(self.class(), Class::Infinity)
    }
    /// True for an unnormal, pseudo-NaN or pseudo-infinity.
    pub const fn is_unsupported(self) -> bool {
        matches!(self.class(), Class::Unsupported)
    }

    /// The value with its sign flipped (FCHS).
    pub const fn neg(self) -> F80 {
        F80 {
            sign: !self.sign,
            ..self
        }
    }
    /// The value with its sign cleared (FABS).
    pub const fn abs(self) -> F80 {
        F80 {
            sign: false,
            ..self
        }
    }
    /// A zero of the given sign.
    pub const fn zero(sign: bool) -> F80 {
        F80::new(sign, 0, 0)
    }
    /// An infinity of the given sign.
    pub const fn infinity(sign: bool) -> F80 {
        F80::new(sign, EXP_MAX, INT_BIT)
    }
    /// The NaN with its quiet bit set (SNaN to QNaN conversion).
    pub const fn quieted(self) -> F80 {
        F80 {
            sig: self.sig | QUIET_BIT,
            ..self
        }
    }
}

impl From<u128> for F80 {
    fn from(bits: u128) -> F80 {
        F80::from_bits(bits)
    }
}

impl From<F80> for u128 {
    fn from(v: F80) -> u128 {
        v.to_bits()
    }
}

/// A finite nonzero value with a normalised significand, its exponent
/// unbounded: value = `sig` × 2^(`exp` − 16383 − 63).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Unpacked {
    pub sign: bool,
    pub exp: i32,
    pub sig: u64,
}

impl Unpacked {
    /// Normalises a finite nonzero supported value (normal, denormal or
    /// pseudo-denormal); a pseudo-denormal's exponent counts as 1.
    pub fn from_f80(v: F80) -> Unpacked {
        let mut exp = i32::from(v.exp).max(1);
        let shift = v.sig.leading_zeros();
        exp -= shift as i32;
        Unpacked {
            sign: v.sign,
            exp,
            sig: v.sig << shift,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_encoding_family() {
        assert_eq!(F80::ZERO.class(), Class::Zero);
        assert_eq!(F80::new(true, 0, 1).class(), Class::Denormal);
        assert_eq!(F80::new(false, 0, INT_BIT).class(), Class::PseudoDenormal);
        assert_eq!(F80::ONE.class(), Class::Normal);
        assert_eq!(F80::INFINITY.class(), Class::Infinity);
        assert_eq!(F80::INDEFINITE.class(), Class::QuietNan);
        assert_eq!(
            F80::new(false, EXP_MAX, INT_BIT | 1).class(),
            Class::SignalingNan
        );
        // Pseudo-infinity, pseudo-NaN, unnormal: integer bit clear.
        assert_eq!(F80::new(false, EXP_MAX, 0).class(), Class::Unsupported);
        assert_eq!(
            F80::new(false, EXP_MAX, QUIET_BIT).class(),
            Class::Unsupported
        );
        assert_eq!(
            F80::new(false, 0x3FFF, QUIET_BIT).class(),
            Class::Unsupported
        );
    }

    #[test]
    fn bits_round_trip() {
        let bits = 0xFFFF_C000_0000_0000_0000u128;
        assert_eq!(F80::from_bits(bits), F80::INDEFINITE);
        assert_eq!(F80::INDEFINITE.to_bits(), bits);
        let v = F80::from_bits(0x4000_C90F_DAA2_2168_C235);
        assert_eq!(F80::from_le_bytes(v.to_le_bytes()), v);
    }

    #[test]
    fn pseudo_denormal_unpacks_with_exponent_one() {
        let u = Unpacked::from_f80(F80::new(false, 0, INT_BIT));
        assert_eq!((u.exp, u.sig), (1, INT_BIT));
        let d = Unpacked::from_f80(F80::new(false, 0, 1));
        assert_eq!((d.exp, d.sig), (1 - 63, INT_BIT));
    }
}
