//! Integer instructions of x86-64-v2 that have CPUID bits of their own
//! (SDM Vol. 2): POPCNT (leaf 1 ECX bit 23) and CMPXCHG16B (leaf 1 ECX
//! bit 13, CX16). Each raises #UD unless the CPU model reports it.

use super::{is_mem, mn, H};
use crate::arch::{fl, reg};
use crate::bus::CpuBus;
use crate::decode::Op;
use crate::fault::{Fault, Res};
use crate::state::CpuState;
use iced_x86::{Instruction, Mnemonic as M};

/// CPUID leaf 1 ECX: CMPXCHG16B.
pub(crate) const CPUID_CX16: u32 = 1 << 13;
/// CPUID leaf 1 ECX: POPCNT.
pub(crate) const CPUID_POPCNT: u32 = 1 << 23;

pub(super) fn select<B: CpuBus>(ins: &Instruction) -> H<B> {
    Some(match mn(ins) {
        M::Popcnt if is_mem(ins.op1_kind()) => popcnt::<B, true>,
        M::Popcnt => popcnt::<B, false>,
        M::Cmpxchg16b => cmpxchg16b::<B>,
        _ => return None,
    })
}

/// POPCNT r, r/m (16/32/64-bit): the number of set bits. ZF = 1 for a
/// zero source; CF, OF, SF, AF and PF are cleared.
fn popcnt<B: CpuBus, const MEM: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    if s.cpuid_model.features_ecx & CPUID_POPCNT == 0 {
        return Err(Fault::UD);
    }
    let v = s.rd_rm(bus, op, MEM, op.r1, op.size)?;
    s.set_reg(op.r0, op.size, u64::from(v.count_ones()));
    s.set_arith(if v == 0 { fl::ZF } else { 0 });
    Ok(())
}

/// CMPXCHG16B m128 (REX.W 0F C7 /1, 64-bit mode): compares RDX:RAX with
/// the 16 bytes at m128; equal: ZF = 1 and m128 = RCX:RBX; not equal:
/// ZF = 0 and RDX:RAX = m128, which is written back unchanged. Other
/// flags are kept. #GP(0) unless the operand is 16-byte aligned. LOCK is
/// allowed (one CPU: every access here is atomic anyway).
fn cmpxchg16b<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    if s.cpuid_model.features_ecx & CPUID_CX16 == 0 {
        return Err(Fault::UD);
    }
    let off = s.ea(op);
    let lin = s.seg_lin(op.seg as usize, off, 16, true)?;
    if lin & 15 != 0 {
        return Err(Fault::GP0);
    }
    // An aligned 16-byte operand lies in one page: once both reads pass,
    // the first write faults only if the second would too.
    let lo = s.read_lin::<B, 8>(bus, lin)?;
    let hi = s.read_lin::<B, 8>(bus, lin + 8)?;
    let f = s.eflags() & fl::ARITH & !fl::ZF;
    let (eq, new_lo, new_hi) = if lo == s.gpr[reg::AX] && hi == s.gpr[reg::DX] {
        (true, s.gpr[reg::BX], s.gpr[reg::CX])
    } else {
        (false, lo, hi)
    };
    s.write_lin::<B, 8>(bus, lin, new_lo)?;
    s.write_lin::<B, 8>(bus, lin + 8, new_hi)?;
    if eq {
        s.set_arith(f | fl::ZF);
    } else {
        s.gpr[reg::AX] = lo;
        s.gpr[reg::DX] = hi;
        s.set_arith(f);
    }
    Ok(())
}
