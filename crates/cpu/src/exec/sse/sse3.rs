//! SSE3 (SDM Vol. 2; CPUID leaf 1 ECX bit 0): the alternating and
//! horizontal adds and subtracts, the duplicating moves and LDDQU. FISTTP
//! lives with the x87 stores; MONITOR/MWAIT are not implemented (CPUID
//! leaf 1 ECX bit 3 stays clear, so they raise #UD).
//!
//! The floating-point operations round each element under MXCSR like the
//! SSE2 arithmetic and report exceptions by the same pre/post-computation
//! rule ([`super::fp`]).

use super::fp::{lane, set_lane, width, Lanes};
use super::{K, LO64};
use crate::fault::Res;
use crate::state::CpuState;
use anyx86_softfloat::ieee::{Format, F32, F64};

/// The data movement of SSE3.
pub(super) fn mov(m: K, s: u128) -> Option<u128> {
    let dup32 = |a: u32, b: u32| {
        let x = u128::from(lane(s, 32, a));
        let y = u128::from(lane(s, 32, b));
        x | x << 32 | y << 64 | y << 96
    };
    Some(match m {
        K::Lddqu => s,
        K::Movshdup => dup32(1, 3),
        K::Movsldup => dup32(0, 2),
        K::Movddup => (s & LO64) | (s & LO64) << 64,
        _ => return None,
    })
}

/// ADDSUBPS/PD, HADDPS/PD, HSUBPS/PD.
pub(super) fn fp(s: &mut CpuState, m: K, d: u128, src: u128) -> Option<Res<Option<u128>>> {
    let (f, kind): (Format, u8) = match m {
        K::Addsubps => (F32, 0),
        K::Addsubpd => (F64, 0),
        K::Haddps => (F32, 1),
        K::Haddpd => (F64, 1),
        K::Hsubps => (F32, 2),
        K::Hsubpd => (F64, 2),
        _ => return None,
    };
    let mut l = Lanes::new(s.simd.mxcsr);
    let w = width(f);
    let n = 128 / w;
    let mut r = 0u128;
    for i in 0..n {
        // Operands and operation of result element i.
        let (a, b, sub) = match kind {
            0 => (lane(d, w, i), lane(src, w, i), i % 2 == 0),
            _ => {
                let (v, j) = if i < n / 2 {
                    (d, 2 * i)
                } else {
                    (src, 2 * i - n)
                };
                (lane(v, w, j), lane(v, w, j + 1), kind == 2)
            }
        };
        let x = l.step(|e| e.add(f, a, b, sub));
        r = set_lane(r, w, i, x);
    }
    let flags = l.flags();
    Some(s.simd_fp_raise(flags).map(|()| Some(r)))
}
