//! x87 arithmetic: FADD/FSUB/FSUBR/FMUL/FDIV/FDIVR in every form, the
//! comparisons (FCOM, FUCOM, FICOM, FCOMI, FUCOMI, FTST), FXAM, the
//! one-operand functions on ST(0), FSCALE, FPREM/FPREM1, FXTRACT, and the
//! stack-management instructions (FINCSTP, FDECSTP, FFREE, FFREEP, FNOP).
//!
//! An empty source register is a stack underflow (IE and SF, C1 = 0); its
//! masked response writes the real indefinite where the result would go
//! (a real x87 agrees for every form here).

use super::{by_kind, kind};
use crate::arch::fl;
use crate::bus::CpuBus;
use crate::decode::{Handler, Op, NOREG};
use crate::exec::H;
use crate::fault::Res;
use crate::fpu::{flags_of, sw};
use crate::state::CpuState;
use anyx86_softfloat::{examine, Ctx, Ordering, F80};
use iced_x86::{Code, Mnemonic as M};

/// The six arithmetic operations, as `result = f(dest, src)`.
mod op {
    pub const ADD: u8 = 0;
    pub const MUL: u8 = 1;
    pub const SUB: u8 = 2;
    /// src − dest.
    pub const SUBR: u8 = 3;
    pub const DIV: u8 = 4;
    /// src / dest.
    pub const DIVR: u8 = 5;
}

/// One-operand functions of ST(0).
mod un {
    pub const CHS: u8 = 0;
    pub const ABS: u8 = 1;
    pub const SQRT: u8 = 2;
    pub const RNDINT: u8 = 3;
}

pub(super) fn select<B: CpuBus>(m: M, code: Code, k: u8) -> H<B> {
    let pop = matches!(
        m,
        M::Faddp | M::Fmulp | M::Fsubp | M::Fsubrp | M::Fdivp | M::Fdivrp
    );
    let op = match m {
        M::Fadd | M::Faddp | M::Fiadd => Some(op::ADD),
        M::Fmul | M::Fmulp | M::Fimul => Some(op::MUL),
        M::Fsub | M::Fsubp | M::Fisub => Some(op::SUB),
        M::Fsubr | M::Fsubrp | M::Fisubr => Some(op::SUBR),
        M::Fdiv | M::Fdivp | M::Fidiv => Some(op::DIV),
        M::Fdivr | M::Fdivrp | M::Fidivr => Some(op::DIVR),
        _ => None,
    };
    if let Some(op) = op {
        return arith_for::<B>(op, k, to_sti(code), pop);
    }
    Some(match m {
        M::Fcom | M::Ficom => return by_kind!(k, fcom, [], [, false, 0, false]),
        M::Fcomp | M::Ficomp => return by_kind!(k, fcom, [], [, false, 1, false]),
        M::Fucom => fcom::<B, { kind::ST }, true, 0, false>,
        M::Fucomp => fcom::<B, { kind::ST }, true, 1, false>,
        M::Fcompp => fcom::<B, { kind::ST }, false, 2, false>,
        M::Fucompp => fcom::<B, { kind::ST }, true, 2, false>,
        M::Fcomi => fcom::<B, { kind::ST }, false, 0, true>,
        M::Fcomip => fcom::<B, { kind::ST }, false, 1, true>,
        M::Fucomi => fcom::<B, { kind::ST }, true, 0, true>,
        M::Fucomip => fcom::<B, { kind::ST }, true, 1, true>,
        M::Ftst => fcom::<B, { kind::ZERO }, false, 0, false>,
        M::Fxam => fxam::<B>,
        M::Fchs => unary::<B, { un::CHS }>,
        M::Fabs => unary::<B, { un::ABS }>,
        M::Fsqrt => unary::<B, { un::SQRT }>,
        M::Frndint => unary::<B, { un::RNDINT }>,
        M::Fscale => fscale::<B>,
        M::Fprem => fprem::<B, false>,
        M::Fprem1 => fprem::<B, true>,
        M::Fxtract => fxtract::<B>,
        M::Fincstp => fincstp::<B, 1>,
        M::Fdecstp => fincstp::<B, 7>,
        M::Ffree => ffree::<B, false>,
        M::Ffreep => ffree::<B, true>,
        M::Fnop => fnop::<B>,
        _ => return None,
    })
}

/// The register forms whose destination is ST(i) (opcodes DC and DE).
fn to_sti(code: Code) -> bool {
    use Code as C;
    matches!(
        code,
        C::Fadd_sti_st0
            | C::Fmul_sti_st0
            | C::Fsub_sti_st0
            | C::Fsubr_sti_st0
            | C::Fdiv_sti_st0
            | C::Fdivr_sti_st0
            | C::Faddp_sti_st0
            | C::Fmulp_sti_st0
            | C::Fsubp_sti_st0
            | C::Fsubrp_sti_st0
            | C::Fdivp_sti_st0
            | C::Fdivrp_sti_st0
    )
}

fn arith_for<B: CpuBus>(op: u8, k: u8, to_sti: bool, pop: bool) -> H<B> {
    match op {
        op::ADD => arith_forms::<B, { op::ADD }>(k, to_sti, pop),
        op::MUL => arith_forms::<B, { op::MUL }>(k, to_sti, pop),
        op::SUB => arith_forms::<B, { op::SUB }>(k, to_sti, pop),
        op::SUBR => arith_forms::<B, { op::SUBR }>(k, to_sti, pop),
        op::DIV => arith_forms::<B, { op::DIV }>(k, to_sti, pop),
        _ => arith_forms::<B, { op::DIVR }>(k, to_sti, pop),
    }
}

fn arith_forms<B: CpuBus, const OP: u8>(k: u8, to_sti: bool, pop: bool) -> H<B> {
    match (k, to_sti, pop) {
        (kind::ST, false, _) => Some(arith::<B, OP, { kind::ST }, false, false>),
        (kind::ST, true, false) => Some(arith::<B, OP, { kind::ST }, true, false>),
        (kind::ST, true, true) => Some(arith::<B, OP, { kind::ST }, true, true>),
        _ => by_kind!(k, arith, [OP,], [, false, false]),
    }
}

/// Converts a memory operand of kind `k` (read as `raw`) to extended.
fn convert(ctx: &mut Ctx, k: u8, raw: u128) -> F80 {
    match k {
        kind::F32 => ctx.from_f32(raw as u32),
        kind::F64 => ctx.from_f64(raw as u64),
        kind::I16 => ctx.from_i64(i64::from(raw as u16 as i16)),
        kind::I32 => ctx.from_i64(i64::from(raw as u32 as i32)),
        kind::I64 => ctx.from_i64(raw as u64 as i64),
        kind::BCD => {
            let mut b = [0u8; 10];
            b.copy_from_slice(&raw.to_le_bytes()[..10]);
            ctx.from_bcd(b)
        }
        kind::ZERO => F80::ZERO,
        _ => F80::from_bits(raw),
    }
}

impl CpuState {
    /// The source operand of a load or a two-operand instruction:
    /// ST(`i`) for register forms (None when empty), else the memory
    /// operand converted to extended. Records the instruction pointers.
    pub(super) fn x87_source<B: CpuBus, const K: u8>(
        &mut self,
        bus: &mut B,
        op: &Op<B>,
        ctx: &mut Ctx,
        i: u8,
    ) -> Res<Option<F80>> {
        match K {
            kind::ST => {
                self.x87_note(op);
                Ok((!self.fpu.is_empty(i)).then(|| self.fpu.st(i)))
            }
            kind::ZERO => {
                self.x87_note(op);
                Ok(Some(F80::ZERO))
            }
            _ => {
                let off = self.ea(op);
                let raw = self.x87_read(bus, op.seg as usize, off, K)?;
                self.x87_note_mem(op, off);
                Ok(Some(convert(ctx, K, raw)))
            }
        }
    }
}

/// FADD, FSUB, FSUBR, FMUL, FDIV, FDIVR and their P and integer forms:
/// `dest = OP(dest, src)`; dest is ST(0), or ST(i) when `TO_STI`.
fn arith<B: CpuBus, const OP: u8, const K: u8, const TO_STI: bool, const POP: bool>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    s.x87_waiting(|s| {
        let (d, src) = if TO_STI {
            (op.r0 & 7, 0)
        } else {
            (0, op.r1 & 7)
        };
        let mut ctx = s.fpu.ctx();
        let b = s.x87_source::<B, K>(bus, op, &mut ctx, src)?;
        let f = &mut s.fpu;
        let (Some(b), false) = (b, f.is_empty(d)) else {
            f.underflow(d, POP);
            return Ok(());
        };
        let a = f.st(d);
        let r = match OP {
            op::ADD => ctx.add(a, b),
            op::MUL => ctx.mul(a, b),
            op::SUB => ctx.sub(a, b),
            op::SUBR => ctx.sub(b, a),
            op::DIV => ctx.div(a, b),
            _ => ctx.div(b, a),
        };
        f.store(&ctx, d, r, POP);
        Ok(())
    })
}

/// The comparisons: ST(0) against a register (ST(1) when the instruction
/// names none), memory or +0.0 (FTST). C3 C2 C0, or ZF PF CF for
/// FCOMI/FUCOMI (which clear OF, SF and AF); `QUIET` is FUCOM's "QNaN
/// is not invalid"; `POPS` pops after.
fn fcom<B: CpuBus, const K: u8, const QUIET: bool, const POPS: u8, const EFL: bool>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    s.x87_waiting(|s| {
        let src = if op.r1 == NOREG { 1 } else { op.r1 & 7 };
        let mut ctx = s.fpu.ctx();
        let b = s.x87_source::<B, K>(bus, op, &mut ctx, src)?;
        let f = &mut s.fpu;
        let ord = match (b, f.is_empty(0)) {
            (Some(b), false) => {
                let ord = ctx.compare(f.st(0), b, QUIET);
                if !f.commit(flags_of(&ctx), false) {
                    return Ok(());
                }
                ord
            }
            _ => {
                if !f.stack_fault(false) {
                    return Ok(());
                }
                Ordering::Unordered
            }
        };
        let cc = ord.condition_codes();
        if EFL {
            let bit = |c: u16, f: u32| if cc & c != 0 { f } else { 0 };
            s.set_arith(bit(sw::C3, fl::ZF) | bit(sw::C2, fl::PF) | bit(sw::C0, fl::CF));
        } else {
            s.fpu.set_cc(cc | (s.fpu.sw & sw::C1));
        }
        for _ in 0..POPS {
            s.fpu.pop();
        }
        Ok(())
    })
}

/// FXAM: the class of ST(0) in C3 C2 C0 and its sign in C1; an empty
/// register reads as "empty" (C3 and C0) with the sign of its stale
/// contents (a real x87 agrees).
fn fxam<B: CpuBus>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    s.x87_stack(op, |f| {
        let v = f.st(0);
        let cc = if f.is_empty(0) {
            sw::C3 | sw::C0 | if v.sign { sw::C1 } else { 0 }
        } else {
            examine(v)
        };
        f.set_cc(cc);
    })
}

/// FCHS, FABS, FSQRT, FRNDINT on ST(0).
fn unary<B: CpuBus, const U: u8>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    s.x87_stack(op, |f| {
        f.apply(0, 0, false, |ctx, a, _| match U {
            un::CHS => a.neg(),
            un::ABS => a.abs(),
            un::SQRT => ctx.sqrt(a),
            _ => ctx.round_to_int(a),
        })
    })
}

/// FSCALE: ST(0) × 2^trunc(ST(1)).
fn fscale<B: CpuBus>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    s.x87_stack(op, |f| f.apply(1, 0, false, |ctx, a, b| ctx.scale(a, b)))
}

/// FPREM and FPREM1: the partial remainder of ST(0) by ST(1); C2 set
/// means "not finished, run again", else C0 C3 C1 hold the low quotient
/// bits.
fn fprem<B: CpuBus, const IEEE: bool>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    s.x87_stack(op, |f| {
        let Some((a, b)) = f.operands(1, 0, false) else {
            return;
        };
        let mut ctx = f.ctx();
        let r = if IEEE {
            ctx.prem1(a, b)
        } else {
            ctx.prem(a, b)
        };
        if f.commit(flags_of(&ctx), false) {
            f.set_st(0, r.value);
            f.set_cc(r.condition_codes);
        }
    })
}

/// FXTRACT: ST(0) becomes its exponent, then its significand is pushed.
/// Underflow or overflow (masked) leave the indefinite in both.
fn fxtract<B: CpuBus>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    s.x87_stack(op, |f| {
        if f.replace_and_push_faults() {
            return;
        }
        let mut ctx = f.ctx();
        let (sig, exp) = ctx.extract(f.st(0));
        if f.commit(flags_of(&ctx), false) {
            f.set_st(0, exp);
            f.push(sig);
        }
    })
}

/// FINCSTP (`D` = 1) and FDECSTP (`D` = 7): TOP moves, tags stay.
fn fincstp<B: CpuBus, const D: u8>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    s.x87_stack(op, |f| {
        f.top = (f.top + D) & 7;
        f.set_c1(false);
    })
}

/// FFREE ST(i) tags it empty; FFREEP (undocumented, DF C0+i) pops after.
fn ffree<B: CpuBus, const POP: bool>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    s.x87_stack(op, |f| {
        f.free(op.r0 & 7);
        if POP {
            f.pop();
        }
    })
}

/// FNOP: a waiting instruction that does nothing else.
fn fnop<B: CpuBus>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    s.x87_stack(op, |_| {})
}
