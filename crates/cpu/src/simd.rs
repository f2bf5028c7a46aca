//! The SIMD state (Intel SDM Vol. 1 chapters 9-11): the eight MMX
//! registers, which alias the significands of the x87 data registers, the
//! sixteen XMM registers and MXCSR.
//!
//! XMM registers are kept as `u128` values: lane i of width w is bits
//! `w*i .. w*(i+1)`, the same numbering as memory order, so nothing here
//! depends on the host's byte order. XMM8-15 exist for long mode.

use crate::state::CpuState;
use anyx86_softfloat::F80;

/// MXCSR bits (SDM Vol. 1 §10.2.3).
pub mod mxcsr {
    /// The exception flags IE, DE, ZE, OE, UE and PE: the soft-float's
    /// `ieee` module reports them in these positions.
    pub use anyx86_softfloat::ieee::flag::{DE, IE, OE, PE, UE, ZE};
    /// The six exception flags.
    pub const FLAGS: u32 = 0x3F;
    /// Denormals are zeros.
    pub const DAZ: u32 = 1 << 6;
    /// The exception masks start here (IM at bit 7 ... PM at bit 12).
    pub const MASK_SHIFT: u32 = 7;
    /// Underflow mask.
    pub const UM: u32 = 1 << 11;
    /// Rounding control, bits 14-13.
    pub const RC_SHIFT: u32 = 13;
    /// Flush to zero.
    pub const FZ: u32 = 1 << 15;
    /// After RESET: every exception masked, round to nearest.
    pub const RESET: u32 = 0x1F80;
    /// The writable bits, as FXSAVE reports in MXCSR_MASK: DAZ is
    /// supported (as on QEMU and every CPU since the later Pentium 4s;
    /// 0xFFBF would mean it is not).
    pub const MASK: u32 = 0xFFFF;
}

/// The SIMD registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimdState {
    /// XMM0-XMM15.
    pub xmm: [u128; 16],
    /// MXCSR.
    pub mxcsr: u32,
}

impl Default for SimdState {
    fn default() -> Self {
        Self::reset()
    }
}

impl SimdState {
    /// The state after RESET: registers zero, MXCSR 1F80h.
    pub fn reset() -> Self {
        Self {
            xmm: [0; 16],
            mxcsr: mxcsr::RESET,
        }
    }
}

/// The exponent and sign bits of an x87 register written by an MMX
/// instruction: all ones (SDM Vol. 1 §9.5.2).
const MMX_EXP: u16 = 0x7FFF;

impl CpuState {
    /// XMM register `r` (0-15).
    #[inline(always)]
    pub fn xmm(&self, r: u8) -> u128 {
        self.simd.xmm[usize::from(r & 15)]
    }

    /// Writes XMM register `r`.
    #[inline(always)]
    pub fn set_xmm(&mut self, r: u8, v: u128) {
        self.simd.xmm[usize::from(r & 15)] = v;
    }

    /// MMX register `r` (0-7): the significand of x87 register R`r`.
    #[inline(always)]
    pub fn mm(&self, r: u8) -> u64 {
        self.fpu.regs[usize::from(r & 7)].sig
    }

    /// Writes MMX register `r`: the significand, with the sign and
    /// exponent bits set to ones.
    #[inline(always)]
    pub fn set_mm(&mut self, r: u8, v: u64) {
        self.fpu.regs[usize::from(r & 7)] = F80 {
            sign: true,
            exp: MMX_EXP,
            sig: v,
        };
    }

    /// The x87-to-MMX transition every MMX instruction but EMMS makes:
    /// TOP = 0 and every register tagged valid.
    #[inline(always)]
    pub fn mmx_transition(&mut self) {
        self.fpu.top = 0;
        self.fpu.full = 0xFF;
    }
}
