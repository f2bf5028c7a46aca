//! Packed integer operations (MMX, the SSE additions to MMX, SSE2) and
//! the bitwise, shuffle and unpack operations on packed floats: pure
//! functions of the two operand values and the immediate.
//!
//! A value is a `u128` (an MMX operand in the low 64 bits); lane i of
//! width w bits is `v >> (w * i)`.

use super::{Cx, K, LO64};

#[inline(always)]
pub(super) fn mask(w: u32) -> u64 {
    if w == 64 {
        u64::MAX
    } else {
        (1 << w) - 1
    }
}

/// Lane `i` of width `w`, zero-extended.
#[inline(always)]
pub(super) fn lane(v: u128, w: u32, i: u32) -> u64 {
    (v >> (w * i)) as u64 & mask(w)
}

/// Lane `i` of width `w`, sign-extended.
#[inline(always)]
pub(super) fn slane(v: u128, w: u32, i: u32) -> i64 {
    let sh = 64 - w;
    ((lane(v, w, i) << sh) as i64) >> sh
}

/// Applies `f` to each pair of `w`-bit lanes of the low `n` bits.
#[inline(always)]
pub(super) fn map2(a: u128, b: u128, w: u32, n: u32, f: impl Fn(u64, u64) -> u64) -> u128 {
    let mut r = 0u128;
    for i in 0..n / w {
        r |= u128::from(f(lane(a, w, i), lane(b, w, i)) & mask(w)) << (w * i);
    }
    r
}

/// Like [`map2`] with the lanes sign-extended.
#[inline(always)]
pub(super) fn smap2(a: u128, b: u128, w: u32, n: u32, f: impl Fn(i64, i64) -> i64) -> u128 {
    let mut r = 0u128;
    for i in 0..n / w {
        r |= u128::from(f(slane(a, w, i), slane(b, w, i)) as u64 & mask(w)) << (w * i);
    }
    r
}

/// Saturates to a signed `w`-bit value.
#[inline(always)]
pub(super) fn sat_s(v: i64, w: u32) -> i64 {
    let hi = (1i64 << (w - 1)) - 1;
    v.clamp(-hi - 1, hi)
}

/// Saturates to an unsigned `w`-bit value.
#[inline(always)]
pub(super) fn sat_u(v: i64, w: u32) -> i64 {
    v.clamp(0, (1i64 << w) - 1)
}

/// All ones when true.
#[inline(always)]
pub(super) fn ones(c: bool) -> u64 {
    if c {
        u64::MAX
    } else {
        0
    }
}

/// Interleaves the low (`high` false) or high halves of the `n`-bit
/// operands, lanes of `w` bits, `a`'s lane first.
fn unpack(a: u128, b: u128, w: u32, n: u32, high: bool) -> u128 {
    let half = n / w / 2;
    let base = if high { half } else { 0 };
    let mut r = 0u128;
    for i in 0..half {
        r |= u128::from(lane(a, w, base + i)) << (w * 2 * i);
        r |= u128::from(lane(b, w, base + i)) << (w * (2 * i + 1));
    }
    r
}

/// Packs the `w`-bit lanes of `a` then `b` into `w/2`-bit lanes with
/// signed (or, `unsigned`, unsigned) saturation.
pub(super) fn pack(a: u128, b: u128, w: u32, n: u32, unsigned: bool) -> u128 {
    let per = n / w;
    let h = w / 2;
    let mut r = 0u128;
    for i in 0..2 * per {
        let v = if i < per {
            slane(a, w, i)
        } else {
            slane(b, w, i - per)
        };
        let v = if unsigned { sat_u(v, h) } else { sat_s(v, h) };
        r |= u128::from(v as u64 & mask(h)) << (h * i);
    }
    r
}

/// Shifts each `w`-bit lane by `count`: left, right logical or right
/// arithmetic (`kind` 0, 1, 2). Counts past the width clear the lane (or
/// fill it with the sign).
fn shift(a: u128, count: u64, w: u32, n: u32, kind: u8) -> u128 {
    let c = count.min(u64::from(w)) as u32;
    match kind {
        0 => map2(a, 0, w, n, |x, _| if c >= w { 0 } else { x << c }),
        1 => map2(a, 0, w, n, |x, _| if c >= w { 0 } else { x >> c }),
        _ => smap2(a, 0, w, n, |x, _| x >> c.min(w - 1)),
    }
}

/// PSHUFD-style selection of 32-bit lanes (or 16-bit lanes of one
/// quadword for PSHUFW/PSHUFLW/PSHUFHW) by the 2-bit fields of `imm`.
fn shuf(v: u128, w: u32, count: u32, base: u32, imm: u8) -> u128 {
    let mut r = 0u128;
    for i in 0..count {
        let sel = u32::from(imm >> (2 * i)) & 3;
        r |= u128::from(lane(v, w, base + sel)) << (w * (base + i));
    }
    r
}

/// The sign bits of the `w`-bit lanes, gathered into an integer.
fn movmsk(v: u128, w: u32, n: u32) -> u128 {
    (0..n / w).fold(0, |r, i| r | ((v >> (w * i + w - 1)) & 1) << i)
}

/// The integer operation of mnemonic `m`, or `None` when `m` is not one.
pub(super) fn op(m: K, d: u128, s: u128, cx: &Cx) -> Option<u128> {
    let n = if cx.wide { 128 } else { 64 };
    let imm = cx.imm;
    Some(match m {
        K::Paddb => map2(d, s, 8, n, u64::wrapping_add),
        K::Paddw => map2(d, s, 16, n, u64::wrapping_add),
        K::Paddd => map2(d, s, 32, n, u64::wrapping_add),
        K::Paddq => map2(d, s, 64, n, u64::wrapping_add),
        K::Psubb => map2(d, s, 8, n, u64::wrapping_sub),
        K::Psubw => map2(d, s, 16, n, u64::wrapping_sub),
        K::Psubd => map2(d, s, 32, n, u64::wrapping_sub),
        K::Psubq => map2(d, s, 64, n, u64::wrapping_sub),
        K::Paddsb => smap2(d, s, 8, n, |x, y| sat_s(x + y, 8)),
        K::Paddsw => smap2(d, s, 16, n, |x, y| sat_s(x + y, 16)),
        K::Psubsb => smap2(d, s, 8, n, |x, y| sat_s(x - y, 8)),
        K::Psubsw => smap2(d, s, 16, n, |x, y| sat_s(x - y, 16)),
        K::Paddusb => map2(d, s, 8, n, |x, y| (x + y).min(0xFF)),
        K::Paddusw => map2(d, s, 16, n, |x, y| (x + y).min(0xFFFF)),
        K::Psubusb | K::Psubusw => map2(d, s, if m == K::Psubusb { 8 } else { 16 }, n, |x, y| {
            x.saturating_sub(y)
        }),
        K::Pcmpeqb => map2(d, s, 8, n, |x, y| ones(x == y)),
        K::Pcmpeqw => map2(d, s, 16, n, |x, y| ones(x == y)),
        K::Pcmpeqd => map2(d, s, 32, n, |x, y| ones(x == y)),
        K::Pcmpgtb => smap2(d, s, 8, n, |x, y| ones(x > y) as i64),
        K::Pcmpgtw => smap2(d, s, 16, n, |x, y| ones(x > y) as i64),
        K::Pcmpgtd => smap2(d, s, 32, n, |x, y| ones(x > y) as i64),
        K::Pand | K::Andps | K::Andpd => d & s,
        K::Pandn | K::Andnps | K::Andnpd => !d & s & mask128(n),
        K::Por | K::Orps | K::Orpd => d | s,
        K::Pxor | K::Xorps | K::Xorpd => d ^ s,
        K::Pmullw => smap2(d, s, 16, n, |x, y| x * y),
        K::Pmulhw => smap2(d, s, 16, n, |x, y| (x * y) >> 16),
        K::Pmulhuw => map2(d, s, 16, n, |x, y| (x * y) >> 16),
        K::Pmuludq => map2(d, s, 64, n, |x, y| (x & 0xFFFF_FFFF) * (y & 0xFFFF_FFFF)),
        K::Pmaddwd => map2(d, s, 32, n, |x, y| {
            let p = |i: u32| i64::from(x as u32 as i32 >> (16 * i) << 16 >> 16);
            let q = |i: u32| i64::from(y as u32 as i32 >> (16 * i) << 16 >> 16);
            (p(0) * q(0) + p(1) * q(1)) as u64
        }),
        K::Psadbw => map2(d, s, 64, n, |x, y| {
            (0..8).fold(0, |acc, i| {
                let a = (x >> (8 * i)) & 0xFF;
                let b = (y >> (8 * i)) & 0xFF;
                acc + a.abs_diff(b)
            })
        }),
        K::Pavgb => map2(d, s, 8, n, |x, y| (x + y + 1) >> 1),
        K::Pavgw => map2(d, s, 16, n, |x, y| (x + y + 1) >> 1),
        K::Pminub => map2(d, s, 8, n, u64::min),
        K::Pmaxub => map2(d, s, 8, n, u64::max),
        K::Pminsw => smap2(d, s, 16, n, i64::min),
        K::Pmaxsw => smap2(d, s, 16, n, i64::max),
        K::Packsswb => pack(d, s, 16, n, false),
        K::Packssdw => pack(d, s, 32, n, false),
        K::Packuswb => pack(d, s, 16, n, true),
        K::Punpcklbw => unpack(d, s, 8, n, false),
        K::Punpcklwd => unpack(d, s, 16, n, false),
        K::Punpckldq | K::Unpcklps => unpack(d, s, 32, n, false),
        K::Punpcklqdq | K::Unpcklpd => unpack(d, s, 64, n, false),
        K::Punpckhbw => unpack(d, s, 8, n, true),
        K::Punpckhwd => unpack(d, s, 16, n, true),
        K::Punpckhdq | K::Unpckhps => unpack(d, s, 32, n, true),
        K::Punpckhqdq | K::Unpckhpd => unpack(d, s, 64, n, true),
        K::Psllw => shift(d, count(s), 16, n, 0),
        K::Pslld => shift(d, count(s), 32, n, 0),
        K::Psllq => shift(d, count(s), 64, n, 0),
        K::Psrlw => shift(d, count(s), 16, n, 1),
        K::Psrld => shift(d, count(s), 32, n, 1),
        K::Psrlq => shift(d, count(s), 64, n, 1),
        K::Psraw => shift(d, count(s), 16, n, 2),
        K::Psrad => shift(d, count(s), 32, n, 2),
        K::Pslldq => {
            if imm > 15 {
                0
            } else {
                d << (8 * u32::from(imm))
            }
        }
        K::Psrldq => {
            if imm > 15 {
                0
            } else {
                d >> (8 * u32::from(imm))
            }
        }
        K::Pshufd => shuf(s, 32, 4, 0, imm),
        K::Pshufw => shuf(s, 16, 4, 0, imm),
        K::Pshuflw => (s & !LO64) | shuf(s, 16, 4, 0, imm),
        K::Pshufhw => (s & LO64) | shuf(s, 16, 4, 4, imm),
        K::Shufps => {
            let lo = shuf(d, 32, 2, 0, imm) & LO64;
            let hi = shuf(s, 32, 4, 0, imm) & !LO64;
            lo | hi
        }
        K::Shufpd => {
            let lo = u128::from(lane(d, 64, u32::from(imm & 1)));
            let hi = u128::from(lane(s, 64, u32::from(imm >> 1 & 1)));
            lo | hi << 64
        }
        K::Pmovmskb => movmsk(s, 8, n),
        K::Movmskps => movmsk(s, 32, 128),
        K::Movmskpd => movmsk(s, 64, 128),
        K::Pextrw => {
            let sel = if cx.wide { imm & 7 } else { imm & 3 };
            u128::from(lane(s, 16, u32::from(sel)))
        }
        K::Pinsrw => {
            let sel = u32::from(if cx.wide { imm & 7 } else { imm & 3 });
            let w = u128::from(lane(s, 16, 0));
            (d & !(0xFFFF << (16 * sel))) | w << (16 * sel)
        }
        _ => return None,
    })
}

/// A shift count operand: its low 64 bits.
#[inline(always)]
fn count(s: u128) -> u64 {
    s as u64
}

#[inline(always)]
fn mask128(n: u32) -> u128 {
    if n == 128 {
        u128::MAX
    } else {
        LO64
    }
}
