//! x87 transcendental instructions: FSIN, FCOS, FSINCOS, FPTAN, F2XM1
//! (on ST(0)), and FPATAN, FYL2X, FYL2XP1 (ST(1) op ST(0), then pop).
//!
//! The trigonometric ones leave ST(0) alone and set C2 when |ST(0)| ≥ 2^63
//! (software reduces the argument and retries), else clear it. FPTAN and
//! FSINCOS push a second result; their stack faults leave the indefinite
//! in both places (a real x87 agrees).

use crate::bus::CpuBus;
use crate::decode::Op;
use crate::exec::H;
use crate::fault::Res;
use crate::fpu::{flags_of, sw, FpuState};
use crate::state::CpuState;
use anyx86_softfloat::{Ctx, TrigResult, F80};
use iced_x86::Mnemonic as M;

/// The operations, as const parameters.
mod k {
    pub const SIN: u8 = 0;
    pub const COS: u8 = 1;
    pub const TAN: u8 = 2;
    pub const SINCOS: u8 = 3;
    pub const PATAN: u8 = 4;
    pub const YL2X: u8 = 5;
    pub const YL2XP1: u8 = 6;
}

pub(super) fn select<B: CpuBus>(m: M) -> H<B> {
    Some(match m {
        M::Fsin => unary::<B, { k::SIN }>,
        M::Fcos => unary::<B, { k::COS }>,
        M::F2xm1 => f2xm1::<B>,
        M::Fptan => two_results::<B, { k::TAN }>,
        M::Fsincos => two_results::<B, { k::SINCOS }>,
        M::Fpatan => binary_pop::<B, { k::PATAN }>,
        M::Fyl2x => binary_pop::<B, { k::YL2X }>,
        M::Fyl2xp1 => binary_pop::<B, { k::YL2XP1 }>,
        _ => return None,
    })
}

/// Stores a trigonometric result: ST(0) stays and C2 is set when the
/// operand was out of range. Returns the value when it is to be written.
fn trig<T>(f: &mut FpuState, ctx: &Ctx, r: TrigResult<T>) -> Option<T> {
    if r.condition_codes & sw::C2 != 0 {
        f.sw |= sw::C2;
        return None;
    }
    if !f.commit(flags_of(ctx), ctx.c1) {
        return None;
    }
    f.sw &= !sw::C2;
    Some(r.value)
}

/// FSIN, FCOS: ST(0) = f(ST(0)).
fn unary<B: CpuBus, const K: u8>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    s.x87_stack(op, |f| {
        let Some((a, _)) = f.operands(0, 0, false) else {
            return;
        };
        let mut ctx = f.ctx();
        let r = if K == k::SIN { ctx.sin(a) } else { ctx.cos(a) };
        if let Some(v) = trig(f, &ctx, r) {
            f.set_st(0, v);
        }
    })
}

/// F2XM1: ST(0) = 2^ST(0) − 1.
fn f2xm1<B: CpuBus>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    s.x87_stack(op, |f| f.apply(0, 0, false, |ctx, a, _| ctx.exp2m1(a)))
}

/// FPTAN (tan, then +1.0 pushed, or the NaN again) and FSINCOS (sin,
/// then cos pushed).
fn two_results<B: CpuBus, const K: u8>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    s.x87_stack(op, |f| {
        if f.replace_and_push_faults() {
            return;
        }
        let a = f.st(0);
        let mut ctx = f.ctx();
        let pair = if K == k::TAN {
            let r = ctx.tan(a);
            trig(f, &ctx, r).map(|t| (t, if t.is_nan() { t } else { F80::ONE }))
        } else {
            let r = ctx.sincos(a);
            trig(f, &ctx, r)
        };
        if let Some((first, pushed)) = pair {
            f.set_st(0, first);
            f.push(pushed);
        }
    })
}

/// FPATAN, FYL2X, FYL2XP1: ST(1) = f(ST(1), ST(0)), then pop.
fn binary_pop<B: CpuBus, const K: u8>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    s.x87_stack(op, |f| {
        f.apply(1, 1, true, |ctx, x, y| match K {
            k::PATAN => ctx.atan2(y, x),
            k::YL2X => ctx.yl2x(y, x),
            _ => ctx.yl2xp1(y, x),
        })
    })
}
