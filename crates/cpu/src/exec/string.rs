//! String instructions with REP/REPE/REPNE: MOVS, STOS, LODS, CMPS, SCAS,
//! INS, OUTS.
//!
//! A REP instruction runs at most [`REP_SLICE`] iterations per execution
//! and then re-executes itself, so interrupts and device deadlines are seen
//! during long copies. ECX/ESI/EDI are updated every iteration, so a fault
//! leaves them at the completed iterations and the instruction resumes
//! where it stopped.

use super::{mn, H};
use crate::bus::CpuBus;
use crate::core::CpuState;
use crate::decode::{Handler, Op};
use crate::fault::Res;
use crate::flags::{mask, FlagOp};
use crate::state::{reg, sreg};
use iced_x86::{Instruction, Mnemonic as M};

/// Iterations of a REP instruction per execution.
const REP_SLICE: u64 = 1024;

const MOVS: u8 = 0;
const STOS: u8 = 1;
const LODS: u8 = 2;
const CMPS: u8 = 3;
const SCAS: u8 = 4;
const INS: u8 = 5;
const OUTS: u8 = 6;

pub(super) fn select<B: CpuBus>(ins: &Instruction) -> H<B> {
    let k = match mn(ins) {
        M::Movsb | M::Movsw | M::Movsd | M::Movsq if ins.op_count() == 2 && !is_sse(ins) => MOVS,
        M::Stosb | M::Stosw | M::Stosd | M::Stosq => STOS,
        M::Lodsb | M::Lodsw | M::Lodsd | M::Lodsq => LODS,
        M::Cmpsb | M::Cmpsw | M::Cmpsd | M::Cmpsq if !is_sse(ins) => CMPS,
        M::Scasb | M::Scasw | M::Scasd | M::Scasq => SCAS,
        M::Insb | M::Insw | M::Insd => INS,
        M::Outsb | M::Outsw | M::Outsd => OUTS,
        _ => return None,
    };
    let rep = if ins.has_repne_prefix() {
        2
    } else if ins.has_rep_prefix() || ins.has_repe_prefix() {
        1
    } else {
        0
    };
    Some(pick::<B>(k, rep))
}

fn is_sse(ins: &Instruction) -> bool {
    ins.op_count() > 0
        && ins.op0_kind() == iced_x86::OpKind::Register
        && ins.op0_register().is_xmm()
}

fn pick<B: CpuBus>(k: u8, rep: u8) -> Handler<B> {
    macro_rules! reps {
        ($k:expr) => {
            match rep {
                0 => string::<B, $k, 0>,
                1 => string::<B, $k, 1>,
                _ => string::<B, $k, 2>,
            }
        };
    }
    match k {
        MOVS => reps!(MOVS),
        STOS => reps!(STOS),
        LODS => reps!(LODS),
        CMPS => reps!(CMPS),
        SCAS => reps!(SCAS),
        INS => reps!(INS),
        _ => reps!(OUTS),
    }
}

fn string<B: CpuBus, const K: u8, const REP: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    // The element size: the memory operand's, or for INS/OUTS the port's.
    let sz = if K == OUTS { op.size2 } else { op.size };
    let am = mask(op.asize);
    let step = if s.df() {
        0u64.wrapping_sub(u64::from(sz))
    } else {
        u64::from(sz)
    };
    let src_seg = op.seg as usize;
    if K == INS || K == OUTS {
        let port = s.gpr[reg::DX] as u16;
        s.check_io(bus, port, sz)?;
    }
    let mut done = 0u64;
    loop {
        if REP != 0 {
            if s.gpr[reg::CX] & am == 0 {
                return Ok(());
            }
            if done == REP_SLICE {
                // Re-execute this instruction to continue.
                s.next_rip = s.rip;
                s.break_trace = true;
                return Ok(());
            }
        }
        let si = s.gpr[reg::SI] & am;
        let di = s.gpr[reg::DI] & am;
        let mut stop = false;
        // Data references of this element, for the `--stats` TLB rate.
        s.stats.mem_refs += if K == MOVS || K == CMPS { 2 } else { 1 };
        match K {
            MOVS => {
                let v = s.read_sz(bus, src_seg, si, sz)?;
                s.write_sz(bus, sreg::ES, di, sz, v)?;
                s.set_reg(reg::SI as u8, op.asize, si.wrapping_add(step));
                s.set_reg(reg::DI as u8, op.asize, di.wrapping_add(step));
            }
            STOS => {
                let v = s.reg(reg::AX as u8, sz);
                s.write_sz(bus, sreg::ES, di, sz, v)?;
                s.set_reg(reg::DI as u8, op.asize, di.wrapping_add(step));
            }
            LODS => {
                let v = s.read_sz(bus, src_seg, si, sz)?;
                s.set_reg(reg::AX as u8, sz, v);
                s.set_reg(reg::SI as u8, op.asize, si.wrapping_add(step));
            }
            CMPS => {
                let a = s.read_sz(bus, src_seg, si, sz)?;
                let b = s.read_sz(bus, sreg::ES, di, sz)?;
                s.set_lazy(FlagOp::Sub, sz, a, b, a.wrapping_sub(b));
                s.set_reg(reg::SI as u8, op.asize, si.wrapping_add(step));
                s.set_reg(reg::DI as u8, op.asize, di.wrapping_add(step));
                stop = (REP == 1 && !s.zf()) || (REP == 2 && s.zf());
            }
            SCAS => {
                let a = s.reg(reg::AX as u8, sz);
                let b = s.read_sz(bus, sreg::ES, di, sz)?;
                s.set_lazy(FlagOp::Sub, sz, a, b, a.wrapping_sub(b));
                s.set_reg(reg::DI as u8, op.asize, di.wrapping_add(step));
                stop = (REP == 1 && !s.zf()) || (REP == 2 && s.zf());
            }
            INS => {
                let port = s.gpr[reg::DX] as u16;
                // The destination is checked before the port is read.
                let lin = s.seg_lin(sreg::ES, di, u64::from(sz), true)?;
                s.probe_write(bus, lin, u64::from(sz))?;
                let v = u64::from(bus.io_in(port, sz, s.icount));
                s.write_lin_sz(bus, lin, sz, v)?;
                s.set_reg(reg::DI as u8, op.asize, di.wrapping_add(step));
            }
            _ => {
                let port = s.gpr[reg::DX] as u16;
                let v = s.read_sz(bus, src_seg, si, sz)?;
                bus.io_out(port, sz, v as u32, s.icount);
                s.set_reg(reg::SI as u8, op.asize, si.wrapping_add(step));
                s.break_trace = true;
            }
        }
        if REP == 0 {
            return Ok(());
        }
        let c = (s.gpr[reg::CX] & am).wrapping_sub(1);
        s.set_reg(reg::CX as u8, op.asize, c);
        done += 1;
        if stop {
            return Ok(());
        }
    }
}
