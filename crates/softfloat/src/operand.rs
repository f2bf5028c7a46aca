//! Operand screening shared by the arithmetic instructions: unsupported
//! encodings, NaN propagation and the denormal-operand exception (SDM Vol. 1
//! §4.8.3.5 "QNaN and SNaN operands" with Table 4-7 "Rules for handling
//! NaNs", §8.2.2 for the unsupported encodings, §8.7 exception priority:
//! invalid operand, then QNaN propagation, then #D, then the rest).

use crate::ctx::{Ctx, Exceptions};
use crate::f80::{Class, Unpacked, F80};

/// A supported non-NaN operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operand {
    /// A zero of this sign.
    Zero(bool),
    /// A finite nonzero value (normal, denormal or pseudo-denormal).
    Finite(Unpacked),
    /// An infinity of this sign.
    Inf(bool),
}

impl Operand {
    /// The operand's sign.
    pub fn sign(self) -> bool {
        match self {
            Operand::Zero(s) | Operand::Inf(s) => s,
            Operand::Finite(u) => u.sign,
        }
    }
}

/// The masked response to an invalid operation: IE and the real indefinite.
pub(crate) fn invalid(ctx: &mut Ctx) -> F80 {
    ctx.raise(Exceptions::INVALID);
    F80::INDEFINITE
}

/// The NaN result for one NaN operand: SNaNs are quieted with IE.
pub(crate) fn propagate1(ctx: &mut Ctx, a: F80) -> F80 {
    if a.is_snan() {
        ctx.raise(Exceptions::INVALID);
    }
    a.quieted()
}

/// The NaN result when at least one of two operands is a NaN (Table 4-7):
/// a QNaN beats an SNaN; between two NaNs of the same kind the larger
/// significand wins (the positive one on a tie).
pub(crate) fn propagate2(ctx: &mut Ctx, a: F80, b: F80) -> F80 {
    if a.is_snan() || b.is_snan() {
        ctx.raise(Exceptions::INVALID);
    }
    let pick = match (a.is_nan(), b.is_nan()) {
        (true, true) => {
            let (qa, qb) = (a.sig & crate::f80::QUIET_BIT, b.sig & crate::f80::QUIET_BIT);
            if qa != qb {
                if qa != 0 {
                    a
                } else {
                    b
                }
            } else if a.sig != b.sig {
                if a.sig > b.sig {
                    a
                } else {
                    b
                }
            } else if a.sign {
                b
            } else {
                a
            }
        }
        (true, false) => a,
        _ => b,
    };
    pick.quieted()
}

/// Classifies a supported non-NaN value.
pub(crate) fn operand(v: F80) -> Operand {
    match v.class() {
        Class::Zero => Operand::Zero(v.sign),
        Class::Infinity => Operand::Inf(v.sign),
        _ => Operand::Finite(Unpacked::from_f80(v)),
    }
}

/// Screens one operand: unsupported gives the indefinite with IE, a NaN
/// propagates. The caller raises DE ([`denormal`]) once it knows the
/// operation is not invalid or a division by zero, which take priority.
pub(crate) fn check1(ctx: &mut Ctx, a: F80) -> Result<Operand, F80> {
    match a.class() {
        Class::Unsupported => Err(invalid(ctx)),
        Class::QuietNan | Class::SignalingNan => Err(propagate1(ctx, a)),
        _ => Ok(operand(a)),
    }
}

/// Screens two operands the same way.
pub(crate) fn check2(ctx: &mut Ctx, a: F80, b: F80) -> Result<(Operand, Operand), F80> {
    if a.is_unsupported() || b.is_unsupported() {
        return Err(invalid(ctx));
    }
    if a.is_nan() || b.is_nan() {
        return Err(propagate2(ctx, a, b));
    }
    Ok((operand(a), operand(b)))
}

/// Raises DE if any operand is a denormal or pseudo-denormal.
pub(crate) fn denormal(ctx: &mut Ctx, ops: &[F80]) {
    if ops.iter().any(|v| v.is_denormal()) {
        ctx.raise(Exceptions::DENORMAL);
    }
}
