//! Guest faults as values.
//!
//! Inside the CPU every instruction returns `Result<(), Fault>`; a fault is
//! delivered in exactly one place, the run loop, and the instruction pointer
//! is committed only when an instruction retires.

use core::num::NonZeroU64;

/// Exception vectors (Intel SDM Vol. 3, Table 6-1).
pub mod vector {
    /// Divide error.
    pub const DE: u8 = 0;
    /// Debug.
    pub const DB: u8 = 1;
    /// Non-maskable interrupt.
    pub const NMI: u8 = 2;
    /// Breakpoint (INT3).
    pub const BP: u8 = 3;
    /// Overflow (INTO).
    pub const OF: u8 = 4;
    /// BOUND range exceeded.
    pub const BR: u8 = 5;
    /// Invalid opcode.
    pub const UD: u8 = 6;
    /// Device not available.
    pub const NM: u8 = 7;
    /// Double fault.
    pub const DF: u8 = 8;
    /// Invalid TSS.
    pub const TS: u8 = 10;
    /// Segment not present.
    pub const NP: u8 = 11;
    /// Stack-segment fault.
    pub const SS: u8 = 12;
    /// General protection.
    pub const GP: u8 = 13;
    /// Page fault.
    pub const PF: u8 = 14;
    /// x87 floating-point error.
    pub const MF: u8 = 16;
    /// Alignment check.
    pub const AC: u8 = 17;
    /// Machine check.
    pub const MC: u8 = 18;
    /// SIMD floating-point exception.
    pub const XM: u8 = 19;
}

/// An exception raised by an instruction: a vector and, for the vectors
/// that have one, an error code.
///
/// Packed into one non-zero `u64` so that `Result<(), Fault>`, which every
/// instruction handler returns, travels in a register.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fault(NonZeroU64);

const MARK: u64 = 1 << 9;
const HAS_ERROR: u64 = 1 << 8;

impl core::fmt::Debug for Fault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.error() {
            Some(e) => write!(f, "Fault(vector {}, error {:#x})", self.vector(), e),
            None => write!(f, "Fault(vector {})", self.vector()),
        }
    }
}

impl Fault {
    /// A fault without an error code.
    pub const fn new(vector: u8) -> Self {
        match NonZeroU64::new(vector as u64 | MARK) {
            Some(v) => Self(v),
            None => unreachable!(),
        }
    }

    /// A fault with an error code.
    pub const fn with_error(vector: u8, error: u32) -> Self {
        match NonZeroU64::new(vector as u64 | MARK | HAS_ERROR | ((error as u64) << 32)) {
            Some(v) => Self(v),
            None => unreachable!(),
        }
    }

    /// The vector.
    pub const fn vector(&self) -> u8 {
        self.0.get() as u8
    }

    /// The error code, if the exception pushes one.
    pub const fn error(&self) -> Option<u32> {
        if self.0.get() & HAS_ERROR != 0 {
            Some((self.0.get() >> 32) as u32)
        } else {
            None
        }
    }

    /// `#UD`.
    pub const UD: Fault = Fault::new(vector::UD);
    /// `#DE`.
    pub const DE: Fault = Fault::new(vector::DE);
    /// `#GP(0)`.
    pub const GP0: Fault = Fault::with_error(vector::GP, 0);
    /// `#SS(0)`.
    pub const SS0: Fault = Fault::with_error(vector::SS, 0);

    /// `#GP` with a selector error code.
    pub const fn gp(error: u32) -> Self {
        Self::with_error(vector::GP, error)
    }

    /// The exception class used by the double-fault rules (SDM Table 6-5).
    pub fn class(&self) -> FaultClass {
        match self.vector() {
            vector::DE | vector::TS | vector::NP | vector::SS | vector::GP => {
                FaultClass::Contributory
            }
            vector::PF => FaultClass::PageFault,
            vector::DF => FaultClass::DoubleFault,
            _ => FaultClass::Benign,
        }
    }
}

/// Exception classes for the double-fault rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultClass {
    /// Never escalates.
    Benign,
    /// #DE, #TS, #NP, #SS, #GP.
    Contributory,
    /// #PF.
    PageFault,
    /// #DF itself: a further fault is a triple fault.
    DoubleFault,
}

/// Result of guest-visible operations.
pub type Res<T> = Result<T, Fault>;
