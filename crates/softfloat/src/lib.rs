//! Bit-exact x87 80-bit extended-precision soft float.
//!
//! Pure, portable integer arithmetic: no host floating point computes any
//! result. The behaviour follows the Intel SDM, Vol. 1 chapter 4 (data
//! types, NaNs, rounding, exceptions) and chapter 8 ("Programming with the
//! x87 FPU"), and the Vol. 2 pages of each instruction (FADD, FSUB, FMUL,
//! FDIV, FSQRT, FPREM, FPREM1, FRNDINT, FSCALE, FXTRACT, FCOM/FUCOM, FTST,
//! FXAM, FILD, FIST/FISTP, FISTTP, FLD/FST m32/m64, FBLD, FBSTP, FLD1 and
//! the other constants, FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X,
//! FYL2XP1); where the SDM leaves a choice open, it matches a real x87, as
//! recorded by the test vectors (see `tools/README.md`).
//!
//! Every operation is a method of [`Ctx`], which carries rounding control,
//! precision control, the sticky exception flags and the C1 round-up bit.
//! Results are the *masked* responses; an FPU with an unmasked exception
//! checks `ctx.flags` against its mask and discards or adjusts the result.
//! The register stack, tags and the status word are the caller's.
//!
//! | instruction | method |
//! | --- | --- |
//! | FADD, FSUB(R), FMUL, FDIV(R), FSQRT (and FIxxx via `from_i64`) | [`Ctx::add`], [`Ctx::sub`], [`Ctx::mul`], [`Ctx::div`], [`Ctx::sqrt`] |
//! | FPREM, FPREM1 | [`Ctx::prem`], [`Ctx::prem1`] → [`Remainder`] (value, C0-C3) |
//! | FRNDINT, FSCALE, FXTRACT | [`Ctx::round_to_int`], [`Ctx::scale`], [`Ctx::extract`] |
//! | FCOM(I), FUCOM(I), FTST, FXAM | [`Ctx::compare`], [`Ctx::test`] → [`Ordering`]; [`examine`] |
//! | FILD, FIST(P), FISTTP | [`Ctx::from_i64`], [`Ctx::to_int`] |
//! | FLD/FST m32fp, m64fp | [`Ctx::from_f32`], [`Ctx::to_f32`], [`Ctx::from_f64`], [`Ctx::to_f64`] |
//! | FBLD, FBSTP | [`Ctx::from_bcd`], [`Ctx::to_bcd`] |
//! | FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ | [`Ctx::constant`] with [`Constant`] |
//! | FSIN, FCOS, FSINCOS, FPTAN | [`Ctx::sin`], [`Ctx::cos`], [`Ctx::sincos`], [`Ctx::tan`] → [`TrigResult`] (C2) |
//! | FPATAN, F2XM1, FYL2X, FYL2XP1 | [`Ctx::atan2`], [`Ctx::exp2m1`], [`Ctx::yl2x`], [`Ctx::yl2xp1`] |
//! | FLD/FSTP m80, FCHS, FABS | [`F80::from_le_bytes`], [`F80::to_le_bytes`], [`F80::neg`], [`F80::abs`] |
//!
//! Not modelled here: unmasked-exception responses (for #O/#U with a
//! register destination the x87 stores the result with its exponent
//! bias-adjusted by ∓24576; nothing is stored for #I, #Z, #D), stack
//! faults, and the FPU's tag word and registers.
//!
//! ```
//! use anyx86_softfloat::{Ctx, F80};
//! let mut ctx = Ctx::from_control_word(0x037F);
//! let two = ctx.add(F80::ONE, F80::ONE);
//! let three = ctx.add(two, F80::ONE);
//! let third = ctx.div(F80::ONE, three);
//! assert_eq!(third.to_bits(), 0x3FFD_AAAA_AAAA_AAAA_AAAB);
//! assert!(ctx.c1); // rounded up
//! ```
#![forbid(unsafe_code)]

mod arith;
mod bcd;
mod compare;
mod convert;
mod ctx;
mod f80;
pub mod ieee;
mod misc;
mod operand;
mod rem;
mod round;
mod trans;
mod xf;

pub use bcd::BCD_INDEFINITE;
pub use compare::{examine, Ordering, SW_C0, SW_C1, SW_C2, SW_C3};
pub use ctx::{Ctx, Exceptions, Precision, Rounding};
pub use f80::{Class, BIAS, EXP_MAX, F80, INT_BIT, QUIET_BIT};
pub use misc::Constant;
pub use rem::Remainder;
pub use trans::TrigResult;
