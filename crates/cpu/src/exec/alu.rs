//! Integer arithmetic and logic: ALU ops, INC/DEC/NEG/NOT, shifts and
//! rotates, multiply and divide, BCD, bit tests and scans, SHLD/SHRD,
//! XADD, CMPXCHG, CMPXCHG8B, BSWAP.

use super::{
    by_ea, ea, form, hot, is_mem, mn, next, next_fast, next_if, plain, restart_ea, sync_count,
    Pick, H,
};
use crate::arch::{fl, reg};
use crate::bus::CpuBus;
use crate::decode::{Handler, Op};
use crate::fault::{Fault, Res};
use crate::flags::{bit, mask, szp, FlagOp, Lazy};
use crate::mmu::{ram_rd, ram_wr};
use crate::state::CpuState;
use iced_x86::{Instruction, Mnemonic as M};

const ADD: u8 = 0;
const OR: u8 = 1;
const ADC: u8 = 2;
const SBB: u8 = 3;
const AND: u8 = 4;
const SUB: u8 = 5;
const XOR: u8 = 6;
const CMP: u8 = 7;
const TEST: u8 = 8;

pub(super) fn select<B: CpuBus>(ins: &Instruction) -> Option<Pick<B>> {
    threaded::<B>(ins)
        .map(hot)
        .or_else(|| returning::<B>(ins).map(plain))
}

/// The threaded handlers of this family (see [`Pick`]).
fn threaded<B: CpuBus>(ins: &Instruction) -> H<B> {
    let m0 = ins.op_count() > 0 && is_mem(ins.op0_kind());
    Some(match mn(ins) {
        M::Add => return alu_sel::<B, ADD>(ins),
        M::Or => return alu_sel::<B, OR>(ins),
        M::Adc => return alu_sel::<B, ADC>(ins),
        M::Sbb => return alu_sel::<B, SBB>(ins),
        M::And => return alu_sel::<B, AND>(ins),
        M::Sub => return alu_sel::<B, SUB>(ins),
        M::Xor => return alu_sel::<B, XOR>(ins),
        M::Cmp => return alu_sel::<B, CMP>(ins),
        M::Test => return alu_sel::<B, TEST>(ins),
        M::Inc if m0 => incdec::<B, true, true>,
        M::Inc => incdec_r_sel::<B, true>(ins),
        M::Dec if m0 => incdec::<B, false, true>,
        M::Dec => incdec_r_sel::<B, false>(ins),
        M::Neg if m0 => neg::<B, true>,
        M::Neg => neg::<B, false>,
        M::Not if m0 => not::<B, true>,
        M::Not => not::<B, false>,
        M::Rol => shift_sel::<B, 0>(ins, m0),
        M::Ror => shift_sel::<B, 1>(ins, m0),
        M::Rcl => shift_sel::<B, 2>(ins, m0),
        M::Rcr => shift_sel::<B, 3>(ins, m0),
        M::Shl | M::Sal => shift_sel::<B, 4>(ins, m0),
        M::Shr => shift_sel::<B, 5>(ins, m0),
        M::Sar => shift_sel::<B, 7>(ins, m0),
        M::Mul => return mul_sel::<B, false>(ins, m0),
        M::Imul if ins.op_count() == 1 => return mul_sel::<B, true>(ins, m0),
        M::Imul if ins.op_count() > 1 => {
            let m1 = is_mem(ins.op1_kind());
            let three = ins.op_count() == 3;
            match ins.op0_register().size() {
                2 => imul3_sel::<B, 2>(three, m1),
                4 => imul3_sel::<B, 4>(three, m1),
                _ => imul3_sel::<B, 8>(three, m1),
            }
        }
        _ => return None,
    })
}

/// The handlers of this family that return to the run loop.
fn returning<B: CpuBus>(ins: &Instruction) -> H<B> {
    let m0 = ins.op_count() > 0 && is_mem(ins.op0_kind());
    match mn(ins) {
        M::Shld => Some(if m0 {
            shxd::<B, true, true>
        } else {
            shxd::<B, true, false>
        }),
        M::Shrd => Some(if m0 {
            shxd::<B, false, true>
        } else {
            shxd::<B, false, false>
        }),
        M::Div => Some(if m0 {
            div::<B, false, true>
        } else {
            div::<B, false, false>
        }),
        M::Idiv => Some(if m0 {
            div::<B, true, true>
        } else {
            div::<B, true, false>
        }),
        M::Daa => Some(daa::<B>),
        M::Das => Some(das::<B>),
        M::Aaa => Some(aaa::<B, true>),
        M::Aas => Some(aaa::<B, false>),
        M::Aam => Some(aam::<B>),
        M::Aad => Some(aad::<B>),
        M::Bt => Some(bt_sel::<B, 0>(ins)),
        M::Bts => Some(bt_sel::<B, 1>(ins)),
        M::Btr => Some(bt_sel::<B, 2>(ins)),
        M::Btc => Some(bt_sel::<B, 3>(ins)),
        M::Bsf => Some(if is_mem(ins.op1_kind()) {
            bsx::<B, false, true>
        } else {
            bsx::<B, false, false>
        }),
        M::Bsr => Some(if is_mem(ins.op1_kind()) {
            bsx::<B, true, true>
        } else {
            bsx::<B, true, false>
        }),
        M::Xadd => Some(if m0 {
            xadd::<B, true>
        } else {
            xadd::<B, false>
        }),
        M::Cmpxchg => Some(if m0 {
            cmpxchg::<B, true>
        } else {
            cmpxchg::<B, false>
        }),
        M::Cmpxchg8b => Some(cmpxchg8b::<B>),
        M::Bswap => Some(bswap::<B>),
        _ => None,
    }
}

/// Computes an ALU operation; returns the result and its lazy flags.
#[inline(always)]
fn calc<const K: u8>(s: &CpuState, a: u64, b: u64, size: u8) -> (u64, Lazy) {
    let (op, r, cin) = match K {
        ADD => (FlagOp::Add, a.wrapping_add(b), false),
        ADC => {
            let c = s.cf();
            (FlagOp::Adc, a.wrapping_add(b).wrapping_add(u64::from(c)), c)
        }
        SUB | CMP => (FlagOp::Sub, a.wrapping_sub(b), false),
        SBB => {
            let c = s.cf();
            (FlagOp::Sbb, a.wrapping_sub(b).wrapping_sub(u64::from(c)), c)
        }
        OR => (FlagOp::Logic, a | b, false),
        AND | TEST => (FlagOp::Logic, a & b, false),
        _ => (FlagOp::Logic, a ^ b, false),
    };
    (
        r,
        Lazy {
            op,
            size,
            a,
            b,
            res: r,
            carry_in: cin,
        },
    )
}

/// Picks `alu::<B, K, FORM, SIZE>`: the operand form and size are fixed at
/// decode time, so the handler has no run-time dispatch on either.
fn alu_sel<B: CpuBus, const K: u8>(ins: &Instruction) -> H<B> {
    let size = match ins.op0_kind() {
        iced_x86::OpKind::Register => ins.op0_register().size() as u8,
        _ => ins.memory_size().size() as u8,
    };
    match size {
        1 => alu_form::<B, K, 1>(ins),
        2 => alu_form::<B, K, 2>(ins),
        4 => alu_form::<B, K, 4>(ins),
        _ => alu_form::<B, K, 8>(ins),
    }
}

/// Picks the form, and for memory forms the address shape.
fn alu_form<B: CpuBus, const K: u8, const Z: u8>(ins: &Instruction) -> H<B> {
    use form::*;
    Some(match super::form_of(ins) {
        RR => alu::<B, K, Z, RR, { ea::GEN }>,
        RI => alu::<B, K, Z, RI, { ea::GEN }>,
        RM => by_ea!(ins, alu, K, Z, RM),
        MR => by_ea!(ins, alu, K, Z, MR),
        _ => by_ea!(ins, alu, K, Z, MI),
    })
}

fn alu<B: CpuBus, const K: u8, const Z: u8, const F: u8, const EA: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    if alu_fast::<B, K, Z, F, EA>(s, bus, op) {
        return next_fast(s, bus, op);
    }
    alu_slow::<B, K, Z, F, EA>(s, bus, op)
}

/// The ALU instruction when its memory operand (if any) is not on the
/// fast path: starts over, with every check.
#[inline(never)]
fn alu_slow<B: CpuBus, const K: u8, const Z: u8, const F: u8, const EA: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    sync_count(s, op);
    alu_do::<B, K, Z, F, EA>(s, bus, op)?;
    next(s, bus, op)
}

/// The ALU operation on the fast path ([`CpuState::fast_ram_off`]):
/// true when done, false with nothing changed when the memory operand
/// needs the slow path ([`alu_do`]). It calls nothing, so a handler
/// built on it saves no registers.
#[inline(always)]
fn alu_fast<B: CpuBus, const K: u8, const Z: u8, const F: u8, const EA: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> bool {
    let writes = K != CMP && K != TEST;
    match F {
        form::RR | form::RI | form::RM => {
            let b = match F {
                form::RR => s.reg(op.r1, Z),
                form::RI => op.imm,
                _ => {
                    let off = s.ea_k::<B, EA>(op);
                    match s.read_fast::<B, EA>(bus, op.seg as usize, off, Z) {
                        Some(v) => v,
                        None => return false,
                    }
                }
            };
            let a = s.reg(op.r0, Z);
            let (r, lz) = calc::<K>(s, a, b, Z);
            if writes {
                s.set_reg(op.r0, Z, r);
            }
            s.lazy = lz;
        }
        _ => {
            let b = if F == form::MR {
                s.reg(op.r1, Z)
            } else {
                op.imm
            };
            let off = s.ea_k::<B, EA>(op);
            let o = if writes {
                s.fast_rmw_off_sz::<EA>(op.seg as usize, off, Z)
            } else {
                s.fast_ram_off_sz::<EA, false>(op.seg as usize, off, Z)
            };
            let Some(o) = o else {
                return false;
            };
            let Some(a) = ram_rd(bus, o, Z) else {
                return false;
            };
            let (r, lz) = calc::<K>(s, a, b, Z);
            if writes && !ram_wr(bus, o, Z, r) {
                return false;
            }
            s.lazy = lz;
        }
    }
    true
}

/// The ALU operation itself (also the first half of a fused pair).
#[inline(always)]
fn alu_do<B: CpuBus, const K: u8, const Z: u8, const F: u8, const EA: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    let sz = Z;
    let writes = K != CMP && K != TEST;
    let b = match F {
        form::RR | form::MR => s.reg(op.r1, sz),
        form::RM => {
            let off = s.ea_k::<B, EA>(op);
            s.read_sz_k::<B, EA>(bus, op.seg as usize, off, sz)?
        }
        _ => op.imm,
    };
    if F == form::MR || F == form::MI {
        let off = s.ea_k::<B, EA>(op);
        let lin = s.seg_lin_k::<EA>(op.seg as usize, off, u64::from(sz), writes)?;
        let a = s.read_lin_sz(bus, lin, sz)?;
        let (r, lz) = calc::<K>(s, a, b, sz);
        if writes {
            s.write_lin_sz(bus, lin, sz, r)?;
        }
        s.lazy = lz;
    } else {
        let a = s.reg(op.r0, sz);
        let (r, lz) = calc::<K>(s, a, b, sz);
        if writes {
            s.set_reg(op.r0, sz, r);
        }
        s.lazy = lz;
    }
    Ok(())
}

/// Read-modify-write of operand 0 (register `r0` or memory). `f`
/// computes the result and sets the flags; if the memory write then
/// faults, the flags are put back so the instruction leaves no trace.
#[inline(always)]
fn rmw<B: CpuBus, const MEM: bool>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
    f: impl FnOnce(&mut CpuState, u64) -> u64,
) -> Res<()> {
    let sz = op.size;
    if MEM {
        // The exact count for a device, and the position for a fault.
        sync_count(s, op);
        let off = s.ea(op);
        let lin = s.seg_lin(op.seg as usize, off, u64::from(sz), true)?;
        let a = s.read_lin_sz(bus, lin, sz)?;
        let saved = (s.flags, s.lazy);
        let r = f(s, a);
        if let Err(e) = s.write_lin_sz(bus, lin, sz, r) {
            (s.flags, s.lazy) = saved;
            return Err(e);
        }
    } else {
        let a = s.reg(op.r0, sz);
        let r = f(s, a);
        s.set_reg(op.r0, sz, r);
    }
    Ok(())
}

/// [`rmw`] and then the next record, for threaded handlers: a memory
/// operand on the fast path ([`CpuState::fast_rmw_off_sz`]) makes no call,
/// anything else starts over in [`rmw_slow_next`]. `f` may run twice (the
/// fast path puts the flags back before giving up), so it must be `Copy`.
#[inline(always)]
fn rmw_next<B: CpuBus, const MEM: bool>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
    f: impl Fn(&mut CpuState, u64) -> u64 + Copy,
) -> Res<()> {
    let sz = op.size;
    if !MEM {
        let a = s.reg(op.r0, sz);
        let r = f(s, a);
        s.set_reg(op.r0, sz, r);
        return next_fast(s, bus, op);
    }
    let off = s.ea(op);
    if let Some(o) = s.fast_rmw_off_sz::<{ ea::GEN }>(op.seg as usize, off, sz) {
        if let Some(a) = ram_rd(bus, o, sz) {
            let saved = (s.flags, s.lazy);
            let r = f(s, a);
            if ram_wr(bus, o, sz, r) {
                return next_fast(s, bus, op);
            }
            (s.flags, s.lazy) = saved;
        }
    }
    rmw_slow_next::<B, MEM>(s, bus, op, f)
}

#[inline(never)]
fn rmw_slow_next<B: CpuBus, const MEM: bool>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
    f: impl Fn(&mut CpuState, u64) -> u64 + Copy,
) -> Res<()> {
    sync_count(s, op);
    rmw::<B, MEM>(s, bus, op, f)?;
    next(s, bus, op)
}

fn incdec<B: CpuBus, const INC: bool, const MEM: bool>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    let sz = op.size;
    rmw_next::<B, MEM>(s, bus, op, move |s, a| inc_dec_value::<INC>(s, a, sz))
}

/// `a` plus or minus one, its flags pending (CF kept: INC and DEC do not
/// change it).
#[inline(always)]
fn inc_dec_value<const INC: bool>(s: &mut CpuState, a: u64, size: u8) -> u64 {
    let c = s.cf();
    let r = if INC {
        a.wrapping_add(1)
    } else {
        a.wrapping_sub(1)
    };
    s.lazy = Lazy {
        op: if INC { FlagOp::Inc } else { FlagOp::Dec },
        size,
        a,
        b: 1,
        res: r,
        carry_in: c,
    };
    r
}

/// Picks `incdec_r::<B, INC, SIZE>` for a register operand.
fn incdec_r_sel<B: CpuBus, const INC: bool>(ins: &Instruction) -> Handler<B> {
    match ins.op0_register().size() {
        1 => incdec_r::<B, INC, 1>,
        2 => incdec_r::<B, INC, 2>,
        4 => incdec_r::<B, INC, 4>,
        _ => incdec_r::<B, INC, 8>,
    }
}

/// INC/DEC of a register, its size fixed: the loop counters of compiled
/// code.
fn incdec_r<B: CpuBus, const INC: bool, const SIZE: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    let a = s.reg(op.r0, SIZE);
    let r = inc_dec_value::<INC>(s, a, SIZE);
    s.set_reg(op.r0, SIZE, r);
    next_fast(s, bus, op)
}

fn neg<B: CpuBus, const MEM: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let sz = op.size;
    rmw_next::<B, MEM>(s, bus, op, move |s, a| {
        let r = 0u64.wrapping_sub(a);
        s.set_lazy(FlagOp::Sub, sz, 0, a, r);
        r
    })
}

fn not<B: CpuBus, const MEM: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    rmw_next::<B, MEM>(s, bus, op, |_, a| !a)
}

// ---- shifts and rotates ------------------------------------------------

/// Picks `shift::<B, K, MEM, SIZE>`: kind, operand form and size fixed at
/// decode time, so `shift_value` or `shift_calc` folds to the one
/// operation.
fn shift_sel<B: CpuBus, const K: u8>(ins: &Instruction, mem: bool) -> Handler<B> {
    let size = if mem {
        ins.memory_size().size()
    } else {
        ins.op0_register().size()
    };
    match (mem, size) {
        (true, 1) => shift::<B, K, true, 1>,
        (true, 2) => shift::<B, K, true, 2>,
        (true, 4) => shift::<B, K, true, 4>,
        (true, _) => shift::<B, K, true, 8>,
        (false, 1) => shift::<B, K, false, 1>,
        (false, 2) => shift::<B, K, false, 2>,
        (false, 4) => shift::<B, K, false, 4>,
        (false, _) => shift::<B, K, false, 8>,
    }
}

/// SHL/SAL (`k` 4 or 6), SHR (5) or SAR (7) of the `size`-byte `a` by
/// `cnt` (masked to 5 or 6 bits, not 0): the pending-flags operation and
/// the result ([`FlagOp::Shl`] and its siblings derive the flags).
#[inline(always)]
fn shift_value(k: u8, a: u64, cnt: u32, size: u8) -> (FlagOp, u64) {
    let bits = 8 * u32::from(size);
    let m = mask(size);
    let a = a & m;
    match k {
        5 => (FlagOp::Shr, a >> cnt),
        7 => {
            let sa = ((a << (64 - bits)) as i64) >> (64 - bits);
            (FlagOp::Sar, (sa >> cnt) as u64 & m)
        }
        _ => (FlagOp::Shl, (a << cnt) & m),
    }
}

/// Computes a rotate (`k` 0-3: ROL, ROR, RCL, RCR) of `a` by `cnt`
/// (already masked to 5 or 6 bits). Returns the result and the new
/// arithmetic flags, or `None` when the count leaves everything unchanged.
#[inline(always)]
pub(crate) fn shift_calc(k: u8, a: u64, cnt: u32, size: u8, flags: u32) -> Option<(u64, u32)> {
    let bits = 8 * u32::from(size);
    let m = mask(size);
    let a = a & m;
    let cf_in = flags & fl::CF != 0;
    let msb = |v: u64| (v >> (bits - 1)) & 1 != 0;
    let keep = flags & fl::ARITH;
    if cnt == 0 {
        return None;
    }
    let (r, cf, of) = match k {
        0 => {
            // ROL
            let c = cnt % bits;
            let r = if c == 0 {
                a
            } else {
                ((a << c) | (a >> (bits - c))) & m
            };
            let cf = r & 1 != 0;
            (r, cf, msb(r) != cf)
        }
        1 => {
            // ROR
            let c = cnt % bits;
            let r = if c == 0 {
                a
            } else {
                ((a >> c) | (a << (bits - c))) & m
            };
            (r, msb(r), msb(r) != ((r >> (bits - 2)) & 1 != 0))
        }
        _ => {
            // RCL / RCR through CF: a (bits+1)-bit rotate.
            let c = if size < 4 { cnt % (bits + 1) } else { cnt };
            if c == 0 {
                return Some((a, keep));
            }
            let wide = (u128::from(cf_in) << bits) | u128::from(a);
            let n = bits + 1;
            let rot = if k == 2 {
                ((wide << c) | (wide >> (n - c))) & ((1u128 << n) - 1)
            } else {
                ((wide >> c) | (wide << (n - c))) & ((1u128 << n) - 1)
            };
            let r = (rot as u64) & m;
            let cf = (rot >> bits) & 1 != 0;
            let of = if k == 2 {
                msb(r) != cf
            } else {
                msb(r) != ((r >> (bits - 2)) & 1 != 0)
            };
            (r, cf, of)
        }
    };
    let f = (keep & !(fl::CF | fl::OF)) | bit(cf, fl::CF) | bit(of, fl::OF);
    Some((r, f))
}

fn shift<B: CpuBus, const K: u8, const MEM: bool, const Z: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    let sz = Z;
    let raw = if op.r1 != crate::decode::NOREG {
        s.gpr[reg::CX] & 0xFF
    } else {
        op.imm & 0xFF
    };
    let cnt = (raw & if sz == 8 { 0x3F } else { 0x1F }) as u32;
    if cnt == 0 {
        // No flags change, no write; a memory operand is still checked.
        if MEM {
            return shift_zero_mem(s, bus, op, sz);
        }
        // A 32-bit register is still written: in 64-bit mode its upper
        // half is cleared, as for every 32-bit destination (SDM Vol. 1,
        // 3.4.1.1), whatever the count.
        if sz == 4 {
            let v = s.reg(op.r0, 4);
            s.set_reg(op.r0, 4, v);
        }
        return next_fast(s, bus, op);
    }
    if K >= 4 {
        // SHL/SHR/SAR with a non-zero count replace all six flags, which
        // stay pending: the next flag-setting instruction usually
        // overwrites them unread.
        return rmw_next::<B, MEM>(s, bus, op, move |s, a| {
            let (kind, r) = shift_value(K, a, cnt, sz);
            s.set_lazy(kind, sz, a, u64::from(cnt), r);
            r
        });
    }
    rmw_next::<B, MEM>(s, bus, op, move |s, a| {
        match shift_calc(K, a, cnt, sz, s.eflags()) {
            Some((r, f)) => {
                s.set_arith(f);
                r
            }
            None => a,
        }
    })
}

/// A shift of memory by a masked count of 0: the operand is still checked
/// as a write.
#[inline(never)]
fn shift_zero_mem<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>, sz: u8) -> Res<()> {
    sync_count(s, op);
    let off = s.ea(op);
    let lin = s.seg_lin(op.seg as usize, off, u64::from(sz), true)?;
    s.read_lin_sz(bus, lin, sz)?;
    next(s, bus, op)
}

fn shxd<B: CpuBus, const LEFT: bool, const MEM: bool>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    let sz = op.size;
    // A third register operand (CL) is flagged in `aux` by the decoder.
    let raw = if op.aux & 0x80 != 0 {
        s.gpr[reg::CX] & 0xFF
    } else {
        op.imm
    };
    let cnt = (raw & if sz == 8 { 0x3F } else { 0x1F }) as u32;
    if cnt == 0 {
        // As for the other shifts: a 32-bit register destination is
        // zero-extended even when nothing else changes.
        if !MEM && sz == 4 {
            let v = s.reg(op.r0, 4);
            s.set_reg(op.r0, 4, v);
        }
        return Ok(());
    }
    let src = s.reg(op.r1, sz);
    rmw::<B, MEM>(s, bus, op, |s, a| {
        let (r, cf, of) = shxd_calc(LEFT, a, src, cnt, sz);
        s.set_arith(szp(r, sz) | bit(cf, fl::CF) | bit(of, fl::OF));
        r
    })
}

/// SHLD/SHRD of `a` with bits from `src`, count 1..=31 (63). For 16-bit
/// operands and counts above 16 the result is architecturally undefined;
/// this follows what Intel P6-class parts (and Bochs) produce.
fn shxd_calc(left: bool, a: u64, src: u64, cnt: u32, sz: u8) -> (u64, bool, bool) {
    let m = mask(sz);
    let (a, src) = (a & m, src & m);
    if sz == 2 {
        if left {
            let t = (a << 16) | src;
            let mut r = t << cnt;
            if cnt > 16 {
                r |= a << (cnt - 16);
            }
            let r16 = (r >> 16) & 0xFFFF;
            let cf = (t >> (32 - cnt)) & 1 != 0;
            (r16, cf, cf != (r16 >> 15 != 0))
        } else {
            let t = (src << 16) | a;
            let mut r = t >> cnt;
            if cnt > 16 {
                r |= a << (32 - cnt);
            }
            let r16 = r & 0xFFFF;
            let cf = (t >> (cnt - 1)) & 1 != 0;
            (r16, cf, ((r16 << 1) ^ r16) >> 15 & 1 != 0)
        }
    } else {
        let bits = 8 * u32::from(sz);
        let msb = |v: u64| (v >> (bits - 1)) & 1 != 0;
        if left {
            let r = ((a << cnt) | (src >> (bits - cnt))) & m;
            let cf = (a >> (bits - cnt)) & 1 != 0;
            (r, cf, cf != msb(r))
        } else {
            let r = ((a >> cnt) | (src << (bits - cnt))) & m;
            let cf = (a >> (cnt - 1)) & 1 != 0;
            (r, cf, msb(r) != msb(r << 1))
        }
    }
}

// ---- multiply and divide -------------------------------------------------

/// Picks the one-operand MUL/IMUL handler: the operand size fixed at
/// decode time, and for a memory operand its address shape.
fn mul_sel<B: CpuBus, const SIGNED: bool>(ins: &Instruction, mem: bool) -> H<B> {
    let size = if mem {
        ins.memory_size().size()
    } else {
        ins.op0_register().size()
    };
    match size {
        1 => mul_form::<B, SIGNED, 1>(ins, mem),
        2 => mul_form::<B, SIGNED, 2>(ins, mem),
        4 => mul_form::<B, SIGNED, 4>(ins, mem),
        _ => mul_form::<B, SIGNED, 8>(ins, mem),
    }
}

fn mul_form<B: CpuBus, const SIGNED: bool, const Z: u8>(ins: &Instruction, mem: bool) -> H<B> {
    Some(if mem {
        by_ea!(ins, mul_m, SIGNED, Z)
    } else {
        mul_r::<B, SIGNED, Z>
    })
}

/// MUL/IMUL r: (E/R)DX:(E/R)AX (AX for bytes) = (E/R)AX * r.
fn mul_r<B: CpuBus, const SIGNED: bool, const Z: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    let b = s.reg(op.r0, Z);
    mul_do::<SIGNED>(s, b, Z);
    next_fast(s, bus, op)
}

/// MUL/IMUL m, on the memory fast path ([`CpuState::read_fast`]).
fn mul_m<B: CpuBus, const SIGNED: bool, const Z: u8, const EA: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    let off = s.ea_k::<B, EA>(op);
    match s.read_fast::<B, EA>(bus, op.seg as usize, off, Z) {
        Some(b) => {
            mul_do::<SIGNED>(s, b, Z);
            next_fast(s, bus, op)
        }
        None => mul_m_slow::<B, SIGNED, Z, EA>(s, bus, op),
    }
}

/// [`mul_m`] when its operand is not on the fast path: starts over, with
/// every check.
#[inline(never)]
fn mul_m_slow<B: CpuBus, const SIGNED: bool, const Z: u8, const EA: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    let off = restart_ea::<B, EA>(s, op);
    let b = s.read_sz_k::<B, EA>(bus, op.seg as usize, off, Z)?;
    mul_do::<SIGNED>(s, b, Z);
    next(s, bus, op)
}

/// The product of (E/R)AX and `b`, `sz` bytes each, into (E/R)DX:(E/R)AX
/// (AX for bytes), with CF = OF = "the high half is significant".
#[inline(always)]
fn mul_do<const SIGNED: bool>(s: &mut CpuState, b: u64, sz: u8) {
    let a = s.reg(reg::AX as u8, sz);
    let bits = 8 * u32::from(sz);
    let (lo, hi, overflow) = if SIGNED {
        let sx = |v: u64| ((v << (64 - bits)) as i64 >> (64 - bits)) as i128;
        let p = sx(a) * sx(b);
        let lo = (p as u128 as u64) & mask(sz);
        let hi = ((p >> bits) as u128 as u64) & mask(sz);
        (lo, hi, p != sx(lo))
    } else {
        let p = u128::from(a) * u128::from(b);
        let lo = (p as u64) & mask(sz);
        let hi = ((p >> bits) as u64) & mask(sz);
        (lo, hi, hi != 0)
    };
    if sz == 1 {
        s.set_reg(reg::AX as u8, 2, lo | (hi << 8));
    } else {
        s.set_reg(reg::AX as u8, sz, lo);
        s.set_reg(reg::DX as u8, sz, hi);
    }
    // SF, ZF, AF, PF are undefined; set them from the low half as Intel's
    // recent cores do.
    let f = (szp(lo, sz) & !fl::ZF) | if overflow { fl::CF | fl::OF } else { 0 };
    s.set_arith(f);
}

fn imul3_sel<B: CpuBus, const Z: u8>(three: bool, mem: bool) -> Handler<B> {
    match (three, mem) {
        (true, true) => imul3::<B, true, true, Z>,
        (true, false) => imul3::<B, true, false, Z>,
        (false, true) => imul3::<B, false, true, Z>,
        (false, false) => imul3::<B, false, false, Z>,
    }
}

/// IMUL r, r/m and IMUL r, r/m, imm: the operand size `Z` fixed at
/// decode time.
fn imul3<B: CpuBus, const THREE: bool, const MEM: bool, const Z: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    let sz = Z;
    let bits = 8 * u32::from(sz);
    let a = s.rd_rm(bus, op, MEM, op.r1, sz)?;
    let b = if THREE { op.imm } else { s.reg(op.r0, sz) };
    let sx = |v: u64| (v << (64 - bits)) as i64 >> (64 - bits);
    let (lo, overflow) = if sz == 8 {
        let p = i128::from(sx(a)) * i128::from(sx(b));
        (p as u64, p != i128::from(p as u64 as i64))
    } else {
        // Both factors fit in 32 bits: the product fits in 64.
        let p = sx(a) * sx(b);
        ((p as u64) & mask(sz), p != sx(p as u64 & mask(sz)))
    };
    s.set_reg(op.r0, sz, lo);
    // The flags stay pending (see `FlagOp::Imul`: SF and PF from the low
    // half, ZF = AF = 0, CF = OF = overflow).
    s.set_lazy(FlagOp::Imul, sz, u64::from(overflow), 0, lo | 0x100);
    // A memory factor may have been read from a device (`rd_rm`).
    next_if(s, bus, op, !MEM)
}

fn div<B: CpuBus, const SIGNED: bool, const MEM: bool>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    let sz = op.size;
    let bits = 8 * u32::from(sz);
    let d = s.rd_rm(bus, op, MEM, op.r0, sz)?;
    if d & mask(sz) == 0 {
        return Err(Fault::DE);
    }
    let (lo, hi) = if sz == 1 {
        let ax = s.reg(reg::AX as u8, 2);
        (ax & 0xFF, ax >> 8)
    } else {
        (s.reg(reg::AX as u8, sz), s.reg(reg::DX as u8, sz))
    };
    let dividend = (u128::from(hi) << bits) | u128::from(lo);
    let (q, r) = if SIGNED {
        let n = 2 * bits;
        let sdividend = ((dividend << (128 - n)) as i128) >> (128 - n);
        let sd = ((d << (64 - bits)) as i64 >> (64 - bits)) as i128;
        let q = sdividend.checked_div(sd).ok_or(Fault::DE)?;
        let r = sdividend.checked_rem(sd).ok_or(Fault::DE)?;
        let min = -(1i128 << (bits - 1));
        let max = (1i128 << (bits - 1)) - 1;
        if q < min || q > max {
            return Err(Fault::DE);
        }
        (q as u128 as u64 & mask(sz), r as u128 as u64 & mask(sz))
    } else {
        let q = dividend / u128::from(d);
        if q > u128::from(mask(sz)) {
            return Err(Fault::DE);
        }
        (q as u64, (dividend % u128::from(d)) as u64)
    };
    if sz == 1 {
        s.set_reg(reg::AX as u8, 2, q | (r << 8));
    } else {
        s.set_reg(reg::AX as u8, sz, q);
        s.set_reg(reg::DX as u8, sz, r);
    }
    Ok(())
}

// ---- BCD -------------------------------------------------------------------

fn daa<B: CpuBus>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    let old_al = s.reg(0, 1);
    let old_cf = s.cf();
    let mut al = old_al;
    let mut cf = false;
    let af = if (al & 0xF) > 9 || s.af() {
        al = al.wrapping_add(6) & 0xFF;
        cf = old_cf || old_al > 0xFF - 6;
        true
    } else {
        false
    };
    if old_al > 0x99 || old_cf {
        al = al.wrapping_add(0x60) & 0xFF;
        cf = true;
    }
    s.set_reg(0, 1, al);
    // OF is undefined: set as the addition of 6/0x60 would (as hardware).
    let of = (old_al & 0x80 == 0) && (al & 0x80 != 0);
    s.set_arith(szp(al, 1) | bit(cf, fl::CF) | bit(af, fl::AF) | bit(of, fl::OF));
    Ok(())
}

fn das<B: CpuBus>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    let old_al = s.reg(0, 1);
    let old_cf = s.cf();
    let mut al = old_al;
    let mut cf = false;
    let af = if (al & 0xF) > 9 || s.af() {
        al = al.wrapping_sub(6) & 0xFF;
        cf = old_cf || old_al < 6;
        true
    } else {
        false
    };
    if old_al > 0x99 || old_cf {
        al = al.wrapping_sub(0x60) & 0xFF;
        cf = true;
    }
    s.set_reg(0, 1, al);
    let of = (old_al & 0x80 != 0) && (al & 0x80 == 0);
    s.set_arith(szp(al, 1) | bit(cf, fl::CF) | bit(af, fl::AF) | bit(of, fl::OF));
    Ok(())
}

fn aaa<B: CpuBus, const ADD_: bool>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    let ax = s.reg(0, 2);
    let al = ax & 0xFF;
    let (nax, adj) = if (al & 0xF) > 9 || s.af() {
        let n = if ADD_ {
            ax.wrapping_add(0x106)
        } else {
            ax.wrapping_sub(6).wrapping_sub(0x100)
        };
        (n, true)
    } else {
        (ax, false)
    };
    let nax = (nax & 0xFF00) | (nax & 0x0F);
    s.set_reg(0, 2, nax);
    // SF, ZF, PF, OF undefined: computed from the adjusted AL before masking
    // is what the 286-to-P6 line does; keep them from the masked AL.
    let f = szp(nax & 0xFF, 1) | if adj { fl::AF | fl::CF } else { 0 };
    s.set_arith(f);
    Ok(())
}

fn aam<B: CpuBus>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    let base = op.imm & 0xFF;
    if base == 0 {
        return Err(Fault::DE);
    }
    let al = s.reg(0, 1);
    let r = ((al / base) << 8) | (al % base);
    s.set_reg(0, 2, r);
    s.set_arith(szp(r & 0xFF, 1));
    Ok(())
}

fn aad<B: CpuBus>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    let base = op.imm & 0xFF;
    let ax = s.reg(0, 2);
    let (al, ah) = (ax & 0xFF, ax >> 8);
    let prod = (ah * base) & 0xFF;
    let r = (al + prod) & 0xFF;
    s.set_reg(0, 2, r);
    // Flags as the 8-bit addition AL + AH*imm (undefined ones included).
    let lz = Lazy {
        op: FlagOp::Add,
        size: 1,
        a: al,
        b: prod,
        res: al + prod,
        carry_in: false,
    };
    s.set_arith(lz.bits());
    Ok(())
}

// ---- bit operations ---------------------------------------------------------

fn bt_sel<B: CpuBus, const K: u8>(ins: &Instruction) -> Handler<B> {
    let m0 = is_mem(ins.op0_kind());
    let imm = !matches!(ins.op1_kind(), iced_x86::OpKind::Register);
    match (m0, imm) {
        (false, false) => bt::<B, K, false, false>,
        (false, true) => bt::<B, K, false, true>,
        (true, false) => bt::<B, K, true, false>,
        (true, true) => bt::<B, K, true, true>,
    }
}

fn bt<B: CpuBus, const K: u8, const MEM: bool, const IMM: bool>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    let sz = op.size;
    let bits = 8 * u64::from(sz);
    let src = if IMM { op.imm & 0xFF } else { s.reg(op.r1, sz) };
    let (lin, bit) = if MEM {
        // A register bit offset is signed and may address far from the
        // operand (SDM BT: "bit string").
        let off = s.ea(op);
        let (delta, bit) = if IMM {
            (0i64, src % bits)
        } else {
            let sbits = ((src << (64 - bits)) as i64) >> (64 - bits);
            (
                sbits.div_euclid(bits as i64) * i64::from(sz),
                sbits.rem_euclid(bits as i64) as u64,
            )
        };
        let off = off.wrapping_add(delta as u64) & mask(op.asize);
        (s.seg_lin(op.seg as usize, off, u64::from(sz), K != 0)?, bit)
    } else {
        (0, src % bits)
    };
    let v = if MEM {
        s.read_lin_sz(bus, lin, sz)?
    } else {
        s.reg(op.r0, sz)
    };
    let cf = (v >> bit) & 1 != 0;
    let nv = match K {
        1 => v | (1 << bit),
        2 => v & !(1 << bit),
        3 => v ^ (1 << bit),
        _ => v,
    };
    if K != 0 {
        if MEM {
            s.write_lin_sz(bus, lin, sz, nv)?;
        } else {
            s.set_reg(op.r0, sz, nv);
        }
    }
    let f = s.eflags() & fl::ARITH & !fl::CF;
    s.set_arith(f | crate::flags::bit(cf, fl::CF));
    Ok(())
}

fn bsx<B: CpuBus, const REV: bool, const MEM: bool>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    let sz = op.size;
    let v = s.rd_rm(bus, op, MEM, op.r1, sz)? & mask(sz);
    if v == 0 {
        // Destination unchanged (as all Intel and AMD parts do); ZF = 1.
        let f = s.eflags() & fl::ARITH;
        s.set_arith((f & !(fl::ZF)) | fl::ZF);
        return Ok(());
    }
    let r = if REV {
        63 - u64::from(v.leading_zeros())
    } else {
        u64::from(v.trailing_zeros())
    };
    s.set_reg(op.r0, sz, r);
    let f = s.eflags() & fl::ARITH & !fl::ZF;
    s.set_arith(f);
    Ok(())
}

fn xadd<B: CpuBus, const MEM: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let sz = op.size;
    let src = s.reg(op.r1, sz);
    let mut old = 0;
    rmw::<B, MEM>(s, bus, op, |s, a| {
        old = a;
        let r = a.wrapping_add(src);
        s.set_lazy(FlagOp::Add, sz, a, src, r);
        r
    })?;
    s.set_reg(op.r1, sz, old);
    if !MEM {
        // XADD r, r with the same register: the sum wins.
        if op.r0 == op.r1 {
            s.set_reg(op.r0, sz, old.wrapping_add(src));
        }
    }
    Ok(())
}

fn cmpxchg<B: CpuBus, const MEM: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let sz = op.size;
    let acc = s.reg(reg::AX as u8, sz);
    let src = s.reg(op.r1, sz);
    let (lin, dst) = if MEM {
        let off = s.ea(op);
        let lin = s.seg_lin(op.seg as usize, off, u64::from(sz), true)?;
        (lin, s.read_lin_sz(bus, lin, sz)?)
    } else {
        (0, s.reg(op.r0, sz))
    };
    let equal = (acc & mask(sz)) == (dst & mask(sz));
    // A memory destination is always written (with itself on mismatch:
    // the locked cycle). A register destination is written only on a
    // match: on a mismatch a 32-bit one keeps its upper half in 64-bit
    // mode, as on hardware (only EAX is loaded, and zero-extended).
    let nv = if equal { src } else { dst };
    if MEM {
        s.write_lin_sz(bus, lin, sz, nv)?;
    } else if equal {
        s.set_reg(op.r0, sz, nv);
    }
    if !equal {
        s.set_reg(reg::AX as u8, sz, dst);
    }
    s.set_lazy(FlagOp::Sub, sz, acc, dst, acc.wrapping_sub(dst));
    Ok(())
}

fn cmpxchg8b<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let off = s.ea(op);
    let lin = s.seg_lin(op.seg as usize, off, 8, true)?;
    let v = s.read_lin::<B, 8>(bus, lin)?;
    let edx_eax = (s.reg(reg::DX as u8, 4) << 32) | s.reg(reg::AX as u8, 4);
    let f = s.eflags() & fl::ARITH & !fl::ZF;
    if v == edx_eax {
        let n = (s.reg(reg::CX as u8, 4) << 32) | s.reg(reg::BX as u8, 4);
        s.write_lin::<B, 8>(bus, lin, n)?;
        s.set_arith(f | fl::ZF);
    } else {
        s.write_lin::<B, 8>(bus, lin, v)?;
        s.set_reg(reg::AX as u8, 4, v & 0xFFFF_FFFF);
        s.set_reg(reg::DX as u8, 4, v >> 32);
        s.set_arith(f);
    }
    Ok(())
}

fn bswap<B: CpuBus>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    match op.size {
        4 => {
            let v = s.reg(op.r0, 4) as u32;
            s.set_reg(op.r0, 4, u64::from(v.swap_bytes()));
        }
        8 => {
            let v = s.reg(op.r0, 8);
            s.set_reg(op.r0, 8, v.swap_bytes());
        }
        // BSWAP r16 is undefined; real CPUs zero the register's low word.
        _ => s.set_reg(op.r0, 2, 0),
    }
    Ok(())
}

// ---- CMP/TEST fused with the Jcc after it ---------------------------------

/// The fused handler for a CMP/TEST (`ins`) followed by a Jcc with
/// condition `cc`, when the pair is one of the common shapes (8/32/64-bit
/// operands; register, immediate or memory forms; the conditions such a
/// pair decides). `None`: the two stay separate records.
pub(crate) fn fused_sel<B: CpuBus>(ins: &Instruction, cc: u8) -> H<B> {
    let k = match mn(ins) {
        M::Cmp => CMP,
        M::Test => TEST,
        _ => return None,
    };
    if ins.has_lock_prefix() {
        return None;
    }
    let size = match ins.op0_kind() {
        iced_x86::OpKind::Register => ins.op0_register().size() as u8,
        _ => ins.memory_size().size() as u8,
    };
    let f = super::form_of(ins);
    // `fused::<B, K, SIZE, FORM, CC>` for the listed conditions.
    macro_rules! ccs {
        ($k:ident, $z:literal, $f:ident, [$($c:literal)*]) => {
            match cc {
                $($c => fused::<B, $k, $z, { form::$f }, $c> as Handler<B>,)*
                _ => return None,
            }
        };
    }
    // ... for sizes 1, 4 and 8 and the listed forms.
    macro_rules! forms {
        ($k:ident: $($f:ident)*; $ccs:tt) => {
            match (size, f) {
                $(
                    (1, form::$f) => ccs!($k, 1, $f, $ccs),
                    (4, form::$f) => ccs!($k, 4, $f, $ccs),
                    (8, form::$f) => ccs!($k, 8, $f, $ccs),
                )*
                _ => return None,
            }
        };
    }
    // The conditions each decides: CMP the unsigned and signed orders and
    // equality (B AE E NE BE A, L GE LE G), TEST equality, sign and LE/G.
    Some(if k == CMP {
        forms!(CMP: RR RI RM MI; [2 3 4 5 6 7 12 13 14 15])
    } else {
        forms!(TEST: RR RI MI; [4 5 8 9 14 15])
    })
}

/// CMP/TEST and the Jcc after it, as one record (`n` = 2; the Jcc in
/// `jrel` and `jsize`). A taken branch leaves the trace by a side exit,
/// like a lone Jcc inside a trace.
fn fused<B: CpuBus, const K: u8, const Z: u8, const F: u8, const CC: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    if !alu_fast::<B, K, Z, F, { ea::GEN }>(s, bus, op) {
        return fused_slow::<B, K, Z, F, CC>(s, bus, op);
    }
    fused_jcc::<B, CC, true>(s, bus, op)
}

/// A fused pair whose CMP/TEST's memory operand is not on the fast path.
#[inline(never)]
fn fused_slow<B: CpuBus, const K: u8, const Z: u8, const F: u8, const CC: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    sync_count(s, op);
    alu_do::<B, K, Z, F, { ea::GEN }>(s, bus, op)?;
    fused_jcc::<B, CC, false>(s, bus, op)
}

/// The Jcc half of a fused pair; `FAST` after the CMP/TEST's fast path
/// (see [`next_fast`]). Off it, the CMP/TEST's read may have asked to
/// leave the trace (a device read): a taken branch then neither lands in
/// the trace nor hops on, but leaves the run loop after the side exit,
/// as a near transfer does (`control::leave`).
#[inline(always)]
fn fused_jcc<B: CpuBus, const CC: u8, const FAST: bool>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    if s.cond(CC) {
        if (FAST || !s.run.break_trace) && super::can_land(s, op) {
            return super::land(s, bus, op);
        }
        let rel = i64::from(op.jrel) as u64;
        let t = s.next_ip(op).wrapping_add(rel) & super::control::tmask(op.jsize);
        if let Err(f) = s.near_jump(op, t) {
            // The CMP/TEST retired; the fault belongs to the Jcc (the run
            // loop moves RIP and the count past the CMP/TEST).
            s.run.fused_fault = true;
            return Err(f);
        }
        if !FAST {
            s.run.leave_loop = s.run.break_trace;
        }
        return super::side_exit(s, bus, op);
    }
    next_if(s, bus, op, FAST)
}
