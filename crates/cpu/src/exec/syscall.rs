//! Instructions of IA-32e mode: SYSCALL/SYSRET, SWAPGS, RDTSCP (SDM Vol. 2;
//! AMD64 APM Vol. 3 for the AMD-specific legacy-mode SYSCALL forms).

use super::{mn, H};
use crate::arch::{attr, cr0, cr4, efer, fl, reg, sreg, Segment};
use crate::bus::CpuBus;
use crate::cpuid::edx81;
use crate::decode::Op;
use crate::fault::{Fault, Res};
use crate::state::CpuState;
use iced_x86::{Code, Instruction, Mnemonic as M};

pub(super) fn select<B: CpuBus>(ins: &Instruction) -> H<B> {
    Some(match mn(ins) {
        M::Syscall => syscall::<B>,
        M::Sysret | M::Sysretq => sysret::<B>,
        M::Swapgs => swapgs::<B>,
        M::Rdtscp => rdtscp::<B>,
        _ => return None,
    })
}

/// A flat 4 GiB segment as SYSCALL/SYSRET load them: the descriptor
/// tables are not read.
fn flat(selector: u16, code: bool, long: bool, dpl: u16) -> Segment {
    let ty = if code {
        attr::CODE | attr::RW | attr::ACCESSED
    } else {
        attr::RW | attr::ACCESSED
    };
    let size = if long { attr::L } else { attr::DB };
    let a = ty | attr::S | attr::P | attr::G | size | (dpl << attr::DPL_SHIFT);
    Segment::new(selector, 0, 0xFFFF_FFFF, a, true)
}

/// SYSCALL: CS = STAR[47:32], SS = CS + 8, both flat at CPL 0. In IA-32e
/// mode RCX = return RIP, R11 = RFLAGS, RFLAGS &= ~SFMASK, RIP = LSTAR
/// (64-bit caller) or CSTAR (compatibility mode); in legacy mode (AMD)
/// ECX = return EIP, IF/RF/VM cleared, EIP = STAR[31:0].
fn syscall<B: CpuBus>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    if s.efer & efer::SCE == 0 {
        return Err(Fault::UD);
    }
    if s.cr0 & cr0::PE == 0 {
        // Real mode: the selectors could not be loaded (#GP as QEMU).
        return Err(Fault::GP0);
    }
    let sel = ((s.msr.star >> 32) & 0xFFFC) as u16;
    let ret = s.next_rip;
    s.run.break_trace = true;
    s.step_on_new_tf = true;
    if s.long_mode() {
        let from64 = s.bitness == 64;
        s.gpr[reg::CX] = ret;
        s.gpr[11] = u64::from(s.eflags() & !fl::RF);
        let keep = !(s.msr.sfmask as u32) & !fl::RF;
        s.flags = (s.eflags() & keep) | fl::RESERVED1;
        s.lazy.op = crate::flags::FlagOp::None;
        s.seg[sreg::SS] = flat(sel.wrapping_add(8), false, false, 0);
        s.stack32 = true;
        s.set_cs(flat(sel, true, true, 0), 0);
        s.next_rip = if from64 { s.msr.lstar } else { s.msr.cstar };
    } else {
        s.gpr[reg::CX] = ret & 0xFFFF_FFFF;
        s.flags &= !(fl::IF | fl::RF | fl::VM);
        s.seg[sreg::SS] = flat(sel.wrapping_add(8), false, false, 0);
        s.stack32 = true;
        s.set_cs(flat(sel, true, false, 0), 0);
        s.next_rip = s.msr.star & 0xFFFF_FFFF;
    }
    Ok(())
}

/// SYSRET: back to CPL 3. With REX.W, CS = STAR[63:48] + 16 (64-bit code)
/// and RIP = RCX, which must be canonical (#GP(0) at CPL 0, as Intel
/// processors do); otherwise CS = STAR[63:48] (32-bit code) and RIP = ECX.
/// SS = STAR[63:48] + 8. In IA-32e mode RFLAGS = R11 without RF and VM; in
/// legacy mode (AMD) only IF is set.
fn sysret<B: CpuBus>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    if s.efer & efer::SCE == 0 {
        return Err(Fault::UD);
    }
    if s.cr0 & cr0::PE == 0 || s.cpl != 0 {
        return Err(Fault::GP0);
    }
    let base = ((s.msr.star >> 48) & 0xFFFF) as u16;
    let q = op.code == Code::Sysretq;
    if q && !crate::mmu::canonical(s.gpr[reg::CX]) {
        return Err(Fault::GP0);
    }
    s.run.break_trace = true;
    s.step_on_new_tf = true;
    if s.long_mode() {
        let f = (s.gpr[11] as u32) & 0x3C_7FD7;
        s.flags = f | fl::RESERVED1;
        s.lazy.op = crate::flags::FlagOp::None;
    } else {
        s.flags |= fl::IF;
    }
    let (cs_sel, long) = if q {
        (base.wrapping_add(16) | 3, true)
    } else {
        (base | 3, false)
    };
    s.seg[sreg::SS] = flat(base.wrapping_add(8) | 3, false, false, 3);
    s.stack32 = true;
    s.set_cs(flat(cs_sel, true, long, 3), 3);
    s.next_rip = if q {
        s.gpr[reg::CX]
    } else {
        s.gpr[reg::CX] & 0xFFFF_FFFF
    };
    Ok(())
}

/// SWAPGS: exchanges GS.base with KERNEL_GS_BASE (64-bit mode, CPL 0).
fn swapgs<B: CpuBus>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    if s.bitness != 64 {
        return Err(Fault::UD);
    }
    s.require_cpl0()?;
    core::mem::swap(&mut s.seg[sreg::GS].base, &mut s.msr.kernel_gs_base);
    Ok(())
}

/// RDTSCP: RDTSC plus ECX = TSC_AUX; #UD unless CPUID reports it.
fn rdtscp<B: CpuBus>(s: &mut CpuState, bus: &mut B, _op: &Op<B>) -> Res<()> {
    if s.cpuid_model.ext_edx & edx81::RDTSCP == 0 {
        return Err(Fault::UD);
    }
    if s.cr4 & cr4::TSD != 0 && s.cpl != 0 {
        return Err(Fault::GP0);
    }
    let t = bus.tsc(s.icount).wrapping_add(s.msr.tsc_offset);
    s.set_reg(reg::AX as u8, 4, t & 0xFFFF_FFFF);
    s.set_reg(reg::DX as u8, 4, t >> 32);
    s.set_reg(reg::CX as u8, 4, s.msr.tsc_aux);
    Ok(())
}
