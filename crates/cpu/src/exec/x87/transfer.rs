//! x87 data transfer: FLD, FILD, FBLD and the load-constant instructions,
//! FST/FSTP, FIST/FISTP, FISTTP, FBSTP, FXCH and FCMOVcc.
//!
//! A push onto a full stack is a stack overflow (IE, SF, C1 = 1; masked:
//! the indefinite is pushed); a store from an empty ST(0) an underflow
//! (masked: the destination format's indefinite is stored). Stores check
//! their memory before the status word changes, so a fault leaves the FPU
//! as it was.

use super::{by_kind, kind};
use crate::bus::CpuBus;
use crate::cpuid::ecx1;
use crate::decode::{Handler, Op};
use crate::exec::H;
use crate::fault::{Fault, Res};
use crate::fpu::{flags_of, sw, FpuState};
use crate::state::CpuState;
use anyx86_softfloat::{Constant, Ctx, BCD_INDEFINITE, F80};
use iced_x86::Mnemonic as M;

pub(super) fn select<B: CpuBus>(m: M, k: u8) -> H<B> {
    Some(match m {
        M::Fld | M::Fild | M::Fbld => return by_kind!(k, fld, [], []),
        M::Fst | M::Fist => return by_kind!(k, fst, [], [, false, false]),
        M::Fstp | M::Fistp | M::Fbstp | M::Fstpnce => return by_kind!(k, fst, [], [, true, false]),
        M::Fisttp => return by_kind!(k, fst, [], [, true, true]),
        M::Fld1 => fldc::<B, 0>,
        M::Fldl2t => fldc::<B, 1>,
        M::Fldl2e => fldc::<B, 2>,
        M::Fldpi => fldc::<B, 3>,
        M::Fldlg2 => fldc::<B, 4>,
        M::Fldln2 => fldc::<B, 5>,
        M::Fldz => fldc::<B, 6>,
        M::Fxch => fxch::<B>,
        // The EFLAGS conditions in the Jcc numbering.
        M::Fcmovb => fcmov::<B, 0x2>,
        M::Fcmovnb => fcmov::<B, 0x3>,
        M::Fcmove => fcmov::<B, 0x4>,
        M::Fcmovne => fcmov::<B, 0x5>,
        M::Fcmovbe => fcmov::<B, 0x6>,
        M::Fcmovnbe => fcmov::<B, 0x7>,
        M::Fcmovu => fcmov::<B, 0xA>,
        M::Fcmovnu => fcmov::<B, 0xB>,
        _ => return None,
    })
}

/// FLD, FILD, FBLD: pushes ST(i) or a memory operand. FLD m80 and FLD
/// ST(i) copy the bits as they are (no exception even for an SNaN).
fn fld<B: CpuBus, const K: u8>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    s.x87_waiting(|s| {
        let mut ctx = s.fpu.ctx();
        // FLD ST(i) has one operand: ST(i) is operand 0.
        let v = s.x87_source::<B, K>(bus, op, &mut ctx, op.r0 & 7)?;
        let f = &mut s.fpu;
        if f.push_faults() {
            return Ok(());
        }
        match v {
            None => {
                if f.stack_fault(false) {
                    f.push(F80::INDEFINITE);
                }
            }
            Some(v) => {
                if f.commit(flags_of(&ctx), false) {
                    f.push(v);
                }
            }
        }
        Ok(())
    })
}

/// FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ.
fn fldc<B: CpuBus, const C: u8>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    let c = [
        Constant::One,
        Constant::Log2Ten,
        Constant::Log2E,
        Constant::Pi,
        Constant::Log10Two,
        Constant::LnTwo,
        Constant::Zero,
    ][usize::from(C)];
    s.x87_stack(op, |f| {
        if f.push_faults() {
            return;
        }
        let v = f.ctx().constant(c);
        f.push(v);
        f.set_c1(false);
    })
}

/// The indefinite of a destination format (the masked response to an
/// invalid operation or a stack underflow).
fn indefinite(k: u8) -> u128 {
    match k {
        kind::F32 => 0xFFC0_0000,
        kind::F64 => 0xFFF8_0000_0000_0000,
        kind::I16 => 0x8000,
        kind::I32 => 0x8000_0000,
        kind::I64 => 0x8000_0000_0000_0000,
        kind::BCD => bcd_bits(BCD_INDEFINITE),
        _ => F80::INDEFINITE.to_bits(),
    }
}

fn bcd_bits(b: [u8; 10]) -> u128 {
    let mut x = [0u8; 16];
    x[..10].copy_from_slice(&b);
    u128::from_le_bytes(x)
}

/// ST(0) converted to the memory format `k` (FISTTP truncates).
fn encode(ctx: &mut Ctx, k: u8, v: F80, truncate: bool) -> u128 {
    let int = |ctx: &mut Ctx, bits: u32| {
        let mask = u64::MAX >> (64 - bits);
        u128::from(ctx.to_int(v, bits, truncate) as u64 & mask)
    };
    match k {
        kind::F32 => u128::from(ctx.to_f32(v)),
        kind::F64 => u128::from(ctx.to_f64(v)),
        kind::I16 => int(ctx, 16),
        kind::I32 => int(ctx, 32),
        kind::I64 => int(ctx, 64),
        kind::BCD => bcd_bits(ctx.to_bcd(v)),
        _ => v.to_bits(),
    }
}

/// FST, FSTP, FIST, FISTP, FISTTP, FBSTP to memory or ST(i).
fn fst<B: CpuBus, const K: u8, const POP: bool, const TRUNC: bool>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    if TRUNC && s.cpuid_model.features_ecx & ecx1::SSE3 == 0 {
        return Err(Fault::UD);
    }
    s.x87_waiting(|s| {
        if K == kind::ST {
            s.x87_note(op);
            let f = &mut s.fpu;
            let v = if f.is_empty(0) {
                if !f.stack_fault(false) {
                    return Ok(());
                }
                F80::INDEFINITE
            } else {
                f.set_c1(false);
                f.st(0)
            };
            f.set_st(op.r0 & 7, v);
            if POP {
                f.pop();
            }
            return Ok(());
        }
        let off = s.ea(op);
        let seg = op.seg as usize;
        let (raw, ex, c1) = if s.fpu.is_empty(0) {
            (indefinite(K), sw::IE | sw::SF, false)
        } else {
            let mut ctx = s.fpu.ctx();
            let raw = encode(&mut ctx, K, s.fpu.st(0), TRUNC);
            (raw, flags_of(&ctx), ctx.c1)
        };
        // Unmasked, these leave memory and the stack alone (SDM Vol. 1 §4.9).
        let stored = !s.fpu.unmasked(ex, sw::IE | sw::OE | sw::UE);
        if stored {
            s.x87_write(bus, seg, off, K, raw)?;
        }
        s.x87_note_mem(op, off);
        let f = &mut s.fpu;
        f.raise(ex);
        f.set_c1(c1);
        if stored && POP {
            f.pop();
        }
        Ok(())
    })
}

/// FXCH: an empty operand is an underflow; masked, it reads as the
/// indefinite and the exchange happens (a real x87 agrees).
fn fxch<B: CpuBus>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    let i = op.r1 & 7;
    s.x87_stack(op, |f| {
        if (f.is_empty(0) || f.is_empty(i)) && !f.stack_fault(false) {
            return;
        }
        let get = |f: &FpuState, n| {
            if f.is_empty(n) {
                F80::INDEFINITE
            } else {
                f.st(n)
            }
        };
        let (a, b) = (get(f, 0), get(f, i));
        f.set_st(0, b);
        f.set_st(i, a);
        f.set_c1(false);
    })
}

/// FCMOVcc: ST(0) = ST(i) when the EFLAGS condition `CC` holds. An empty
/// operand is an underflow whose masked response writes the indefinite to
/// ST(0) whatever the condition (a real x87 agrees).
fn fcmov<B: CpuBus, const CC: u8>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    let take = s.cond(CC);
    s.x87_stack(op, |f| {
        if let Some((_, v)) = f.operands(op.r1 & 7, 0, false) {
            if take {
                f.set_st(0, v);
            }
        }
    })
}
