//! The rounding environment and the exception flags (SDM Vol. 1 §8.1.3
//! "x87 FPU status register", §8.1.5 "x87 FPU control word", §4.8.4
//! "Rounding", §8.4 "x87 FPU floating-point exception handling").

/// Rounding control (RC, control word bits 11-10; SDM Vol. 1 Table 4-8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Rounding {
    /// RC = 00: round to nearest, ties to even (the default).
    #[default]
    NearestEven,
    /// RC = 01: round down, toward −∞.
    Down,
    /// RC = 10: round up, toward +∞.
    Up,
    /// RC = 11: round toward zero (truncate).
    Zero,
}

impl Rounding {
    /// Decodes the RC field of an x87 control word.
    pub const fn from_control_word(cw: u16) -> Rounding {
        match (cw >> 10) & 3 {
            0 => Rounding::NearestEven,
            1 => Rounding::Down,
            2 => Rounding::Up,
            _ => Rounding::Zero,
        }
    }
}

/// Precision control (PC, control word bits 9-8; SDM Vol. 1 §8.1.5.2).
///
/// It narrows the significand of FADD, FSUB, FMUL, FDIV, FSQRT (and their
/// integer and reversed forms) only; the exponent keeps its 15-bit range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    /// PC = 00: 24-bit significand.
    Single,
    /// PC = 10: 53-bit significand.
    Double,
    /// PC = 11 (and the reserved 01): 64-bit significand, the default.
    #[default]
    Extended,
}

impl Precision {
    /// Decodes the PC field of an x87 control word (the reserved encoding 01
    /// is taken as extended).
    pub const fn from_control_word(cw: u16) -> Precision {
        match (cw >> 8) & 3 {
            0 => Precision::Single,
            2 => Precision::Double,
            _ => Precision::Extended,
        }
    }

    /// Significand bits kept.
    pub const fn bits(self) -> u32 {
        match self {
            Precision::Single => 24,
            Precision::Double => 53,
            Precision::Extended => 64,
        }
    }
}

/// The six x87 exception flags, in their status-word bit positions (bits
/// 5-0: PE UE OE ZE DE IE). Sticky: operations only ever set them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Exceptions(pub u8);

impl Exceptions {
    /// No exception.
    pub const NONE: Exceptions = Exceptions(0);
    /// IE, invalid operation (bit 0).
    pub const INVALID: Exceptions = Exceptions(1 << 0);
    /// DE, denormal operand (bit 1).
    pub const DENORMAL: Exceptions = Exceptions(1 << 1);
    /// ZE, zero divide (bit 2).
    pub const ZERO_DIVIDE: Exceptions = Exceptions(1 << 2);
    /// OE, numeric overflow (bit 3).
    pub const OVERFLOW: Exceptions = Exceptions(1 << 3);
    /// UE, numeric underflow (bit 4).
    pub const UNDERFLOW: Exceptions = Exceptions(1 << 4);
    /// PE, inexact result / precision (bit 5).
    pub const PRECISION: Exceptions = Exceptions(1 << 5);

    /// The flags as status-word bits 5-0.
    pub const fn bits(self) -> u8 {
        self.0
    }
    /// True if every flag of `other` is set here.
    pub const fn contains(self, other: Exceptions) -> bool {
        self.0 & other.0 == other.0
    }
    /// True if no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl core::ops::BitOr for Exceptions {
    type Output = Exceptions;
    fn bitor(self, rhs: Exceptions) -> Exceptions {
        Exceptions(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for Exceptions {
    fn bitor_assign(&mut self, rhs: Exceptions) {
        self.0 |= rhs.0;
    }
}

/// The environment of one or more operations: rounding and precision
/// control in, exception flags and the C1 round-up indication out.
///
/// Every operation ORs what it raises into `flags` (the caller clears them,
/// like FCLEX) and rewrites `c1` when the instruction defines C1 as "rounded
/// up" (it is cleared when the result was not rounded up). The masked
/// response is always produced; an FPU with an unmasked exception discards or
/// adjusts it (SDM Vol. 1 §8.5), which is the caller's business.
/// The x87 has no flush-to-zero or denormals-are-zero modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Ctx {
    /// Rounding control.
    pub rc: Rounding,
    /// Precision control.
    pub pc: Precision,
    /// Accumulated exception flags.
    pub flags: Exceptions,
    /// C1 after the last operation that defines it: the result was rounded
    /// up (its magnitude increased) by the inexact rounding.
    pub c1: bool,
}

impl Ctx {
    /// A context with the rounding and precision of an x87 control word and
    /// no flags.
    pub const fn from_control_word(cw: u16) -> Ctx {
        Ctx {
            rc: Rounding::from_control_word(cw),
            pc: Precision::from_control_word(cw),
            flags: Exceptions::NONE,
            c1: false,
        }
    }

    /// Sets exception flags.
    pub(crate) fn raise(&mut self, e: Exceptions) {
        self.flags |= e;
    }
}
