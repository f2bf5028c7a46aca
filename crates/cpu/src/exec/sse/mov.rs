//! Data movement: the full-register moves, the scalar and half moves that
//! merge into or zero the rest of the destination, MOVD/MOVQ in all their
//! forms and the non-temporal stores (plain stores here).
//!
//! The generic handler writes the value returned here to the destination:
//! a memory destination takes the low bytes of its size, a general
//! register the low 32 or 64 bits, an MMX register the low 64.

use super::{Cx, LO32, LO64};
use iced_x86::Mnemonic as M;

/// The move of mnemonic `m`, or `None` when `m` is not one.
pub(super) fn op(m: M, d: u128, s: u128, cx: &Cx) -> Option<u128> {
    Some(match m {
        M::Movaps
        | M::Movups
        | M::Movapd
        | M::Movupd
        | M::Movdqa
        | M::Movdqu
        | M::Movntps
        | M::Movntpd
        | M::Movntdq
        | M::Movntq
        | M::Movnti => s,
        // Into an XMM register the rest is zeroed; out of one, only the
        // low bits are stored.
        M::Movd => s & LO32,
        M::Movq | M::Movq2dq | M::Movdq2q => s & LO64,
        // MOVSS/MOVSD: register to register merges; a load zeroes the
        // rest; a store stores the low element.
        M::Movss if !cx.smem && !cx.dmem => (d & !LO32) | (s & LO32),
        M::Movsd if !cx.smem && !cx.dmem => (d & !LO64) | (s & LO64),
        M::Movss => s & LO32,
        M::Movsd => s & LO64,
        M::Movlps | M::Movlpd if cx.dmem => s,
        M::Movlps | M::Movlpd => (d & !LO64) | (s & LO64),
        M::Movhps | M::Movhpd if cx.dmem => s >> 64,
        M::Movhps | M::Movhpd => (d & LO64) | s << 64,
        M::Movhlps => (d & !LO64) | s >> 64,
        M::Movlhps => (d & LO64) | s << 64,
        _ => return None,
    })
}
