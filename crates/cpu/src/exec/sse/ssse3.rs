//! SSSE3 (SDM Vol. 2; CPUID leaf 1 ECX bit 9): byte shuffle, horizontal
//! adds and subtracts, multiply-adds, sign and absolute value, PALIGNR;
//! each in an MMX (64-bit) and an XMM form. Pure functions of the operand
//! values and the immediate.

use super::int::{lane, mask, sat_s, slane, smap2};
use super::{Cx, K};

/// Horizontal operation on `w`-bit lanes: the first half of the result
/// comes from pairs of `d`'s lanes, the second from `s`'s.
fn horiz(d: u128, s: u128, w: u32, n: u32, f: impl Fn(i64, i64) -> i64) -> u128 {
    let per = n / w;
    let half = per / 2;
    let mut r = 0u128;
    for i in 0..per {
        let (v, j) = if i < half { (d, i) } else { (s, i - half) };
        let x = f(slane(v, w, 2 * j), slane(v, w, 2 * j + 1));
        r |= u128::from(x as u64 & mask(w)) << (w * i);
    }
    r
}

/// The SSSE3 operation `m`, or `None` when `m` is not one.
pub(super) fn op(m: K, d: u128, s: u128, cx: &Cx) -> Option<u128> {
    let n = if cx.wide { 128 } else { 64 };
    let sign = |w: u32| {
        smap2(d, s, w, n, |a, b| match b.signum() {
            -1 => a.wrapping_neg(),
            0 => 0,
            _ => a,
        })
    };
    Some(match m {
        K::Pshufb => {
            let mut r = 0u128;
            for i in 0..n / 8 {
                let c = lane(s, 8, i);
                if c & 0x80 == 0 {
                    let j = (c as u32) & (n / 8 - 1);
                    r |= u128::from(lane(d, 8, j)) << (8 * i);
                }
            }
            r
        }
        K::Phaddw => horiz(d, s, 16, n, |a, b| a + b),
        K::Phaddd => horiz(d, s, 32, n, |a, b| a + b),
        K::Phaddsw => horiz(d, s, 16, n, |a, b| sat_s(a + b, 16)),
        K::Phsubw => horiz(d, s, 16, n, |a, b| a - b),
        K::Phsubd => horiz(d, s, 32, n, |a, b| a - b),
        K::Phsubsw => horiz(d, s, 16, n, |a, b| sat_s(a - b, 16)),
        K::Pmaddubsw => {
            let mut r = 0u128;
            for i in 0..n / 16 {
                let p = |k: u32| lane(d, 8, k) as i64 * slane(s, 8, k);
                let x = sat_s(p(2 * i) + p(2 * i + 1), 16);
                r |= u128::from(x as u64 & 0xFFFF) << (16 * i);
            }
            r
        }
        K::Pmulhrsw => smap2(d, s, 16, n, |a, b| (((a * b) >> 14) + 1) >> 1),
        K::Psignb => sign(8),
        K::Psignw => sign(16),
        K::Psignd => sign(32),
        K::Pabsb => smap2(0, s, 8, n, |_, b| b.abs()),
        K::Pabsw => smap2(0, s, 16, n, |_, b| b.abs()),
        K::Pabsd => smap2(0, s, 32, n, |_, b| b.abs()),
        K::Palignr => {
            // (d:s) >> 8 * imm, the low n bits.
            let bytes = n / 8;
            let sh = u32::from(cx.imm);
            let mut r = 0u128;
            for i in 0..bytes {
                let k = i + sh;
                let b = if k < bytes {
                    lane(s, 8, k)
                } else if k < 2 * bytes {
                    lane(d, 8, k - bytes)
                } else {
                    0
                };
                r |= u128::from(b) << (8 * i);
            }
            r
        }
        _ => return None,
    })
}
