//! Data movement: the full-register moves, the scalar and half moves that
//! merge into or zero the rest of the destination, MOVD/MOVQ in all their
//! forms and the non-temporal stores (plain stores here).
//!
//! The generic handler writes the value returned here to the destination:
//! a memory destination takes the low bytes of its size, a general
//! register the low 32 or 64 bits, an MMX register the low 64.

use super::{Cx, K, LO32, LO64};

/// The move of mnemonic `m`, or `None` when `m` is not one.
pub(super) fn op(m: K, d: u128, s: u128, cx: &Cx) -> Option<u128> {
    Some(match m {
        K::Movaps
        | K::Movups
        | K::Movapd
        | K::Movupd
        | K::Movdqa
        | K::Movdqu
        | K::Movntps
        | K::Movntpd
        | K::Movntdq
        | K::Movntq
        | K::Movnti => s,
        // Into an XMM register the rest is zeroed; out of one, only the
        // low bits are stored.
        K::Movd => s & LO32,
        K::Movq | K::Movq2dq | K::Movdq2q => s & LO64,
        // MOVSS/MOVSD: register to register merges; a load zeroes the
        // rest; a store stores the low element.
        K::Movss if !cx.smem && !cx.dmem => (d & !LO32) | (s & LO32),
        K::Movsd if !cx.smem && !cx.dmem => (d & !LO64) | (s & LO64),
        K::Movss => s & LO32,
        K::Movsd => s & LO64,
        K::Movlps | K::Movlpd if cx.dmem => s,
        K::Movlps | K::Movlpd => (d & !LO64) | (s & LO64),
        K::Movhps | K::Movhpd if cx.dmem => s >> 64,
        K::Movhps | K::Movhpd => (d & LO64) | s << 64,
        K::Movhlps => (d & !LO64) | s >> 64,
        K::Movlhps => (d & LO64) | s << 64,
        _ => return None,
    })
}
