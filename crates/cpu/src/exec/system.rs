//! System instructions: flag control, HLT, port I/O and its permission
//! checks, CPUID, RDTSC, MSRs, descriptor-table registers, control and
//! debug registers, LAR/LSL/VERR/VERW/ARPL, INVLPG, SYSENTER/SYSEXIT.

use super::{is_mem, mn, H};
use crate::arch::{attr, cr0, cr4, dr6, dr7, efer, fl, reg, sreg, Mode, Segment, TableReg};
use crate::bus::{platform_msr, CpuBus};
use crate::decode::Op;
use crate::fault::{vector, Fault, Res};
use crate::segment::sel_err;
use crate::state::CpuState;
use iced_x86::{Code, Instruction, Mnemonic as M};

pub(super) fn select<B: CpuBus>(ins: &Instruction) -> H<B> {
    let m0 = ins.op_count() > 0 && is_mem(ins.op0_kind());
    Some(match mn(ins) {
        M::Clc => flagop::<B, 0>,
        M::Stc => flagop::<B, 1>,
        M::Cmc => flagop::<B, 2>,
        M::Cld => flagop::<B, 3>,
        M::Std => flagop::<B, 4>,
        M::Cli => cli::<B>,
        M::Sti => sti::<B>,
        M::Hlt => hlt::<B>,
        M::In => {
            if ins.op1_kind() == iced_x86::OpKind::Register {
                in_::<B, true>
            } else {
                in_::<B, false>
            }
        }
        M::Out => {
            if ins.op0_kind() == iced_x86::OpKind::Register {
                out::<B, true>
            } else {
                out::<B, false>
            }
        }
        M::Cpuid => cpuid::<B>,
        M::Rdtsc => rdtsc::<B>,
        M::Rdpmc => rdpmc::<B>,
        M::Rdmsr => rdmsr::<B>,
        M::Wrmsr => wrmsr::<B>,
        M::Lgdt => ldt_reg::<B, false>,
        M::Lidt => ldt_reg::<B, true>,
        M::Sgdt => sdt_reg::<B, false>,
        M::Sidt => sdt_reg::<B, true>,
        M::Lldt => lldt::<B>,
        M::Ltr => ltr::<B>,
        M::Sldt => {
            if m0 {
                store_sel::<B, 0, true>
            } else {
                store_sel::<B, 0, false>
            }
        }
        M::Str => {
            if m0 {
                store_sel::<B, 1, true>
            } else {
                store_sel::<B, 1, false>
            }
        }
        M::Smsw => {
            if m0 {
                store_sel::<B, 2, true>
            } else {
                store_sel::<B, 2, false>
            }
        }
        M::Lmsw => lmsw::<B>,
        M::Mov if ins.op0_register().is_cr() => mov_to_cr::<B>,
        M::Mov if ins.op1_register().is_cr() => mov_from_cr::<B>,
        M::Mov if ins.op0_register().is_dr() => mov_to_dr::<B>,
        M::Mov if ins.op1_register().is_dr() => mov_from_dr::<B>,
        M::Clts => clts::<B>,
        M::Invlpg => invlpg::<B>,
        M::Wbinvd | M::Invd => privileged_nop::<B>,
        M::Wait => wait::<B>,
        M::Ud0 | M::Ud1 | M::Ud2 => ud::<B>,
        M::Lar => lar_lsl::<B, false>,
        M::Lsl => lar_lsl::<B, true>,
        M::Verr => verrw::<B, false>,
        M::Verw => verrw::<B, true>,
        M::Arpl => arpl::<B>,
        M::Sysenter => sysenter::<B>,
        M::Sysexit => sysexit::<B>,
        _ => return None,
    })
}

fn ud<B: CpuBus>(_s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    Err(Fault::UD)
}

impl CpuState {
    /// #GP(0) unless at CPL 0 (real mode counts as CPL 0).
    pub(crate) fn require_cpl0(&self) -> Res<()> {
        if self.cpl != 0 {
            return Err(Fault::GP0);
        }
        Ok(())
    }

    /// #UD outside protected mode (LLDT, LAR, ...).
    fn require_protected(&self) -> Res<()> {
        if matches!(self.mode, Mode::Real | Mode::V86) {
            return Err(Fault::UD);
        }
        Ok(())
    }

    /// I/O permission check (SDM Vol. 1, 19.5): when CPL > IOPL or in V86
    /// mode, every bit of the port range in the TSS I/O bitmap must be 0.
    pub(crate) fn check_io<B: CpuBus>(&mut self, bus: &mut B, port: u16, size: u8) -> Res<()> {
        if self.mode == Mode::Real || (self.mode != Mode::V86 && self.cpl <= self.iopl()) {
            return Ok(());
        }
        let tss32 = self.tr.attr & attr::TYPE_MASK == 9 || self.tr.attr & attr::TYPE_MASK == 11;
        if !tss32 || self.tr.limit < 0x67 {
            return Err(Fault::GP0);
        }
        let base = self.read_sys(bus, self.tr.base + 0x66, 2)?;
        let off = base + u64::from(port / 8);
        if off + 1 > u64::from(self.tr.limit) {
            return Err(Fault::GP0);
        }
        let bits = self.read_sys(bus, self.tr.base + off, 2)?;
        let m = ((1u64 << size) - 1) << (port % 8);
        if bits & m != 0 {
            return Err(Fault::GP0);
        }
        Ok(())
    }
}

impl CpuState {
    /// Reads an I/O port (permission already checked). The read may have
    /// changed an interrupt line or asked the machine to stop: the trace
    /// ends after this instruction.
    pub(crate) fn port_read<B: CpuBus>(&mut self, bus: &mut B, port: u16, size: u8) -> u32 {
        let v = bus.io_in(port, size, self.icount);
        self.run.break_trace = true;
        v
    }

    /// Writes an I/O port (permission already checked). The write may
    /// have changed the A20 gate, an interrupt line, the memory map or
    /// asked the machine to stop.
    pub(crate) fn port_write<B: CpuBus>(&mut self, bus: &mut B, port: u16, size: u8, v: u32) {
        bus.io_out(port, size, v, self.icount);
        self.refresh_map(bus);
        self.drop_dma_code(bus);
        self.run.break_trace = true;
    }

    /// Code pages a device overwrote by DMA lose their decoded traces, as
    /// if the CPU had written them.
    fn drop_dma_code<B: CpuBus>(&mut self, bus: &mut B) {
        let mut pages = std::mem::take(&mut self.dma_pages);
        bus.take_dma_pages(&mut pages);
        for &p in &pages {
            self.note_page_rewritten(p);
        }
        pages.clear();
        self.dma_pages = pages;
    }

    /// Picks up a changed A20 gate or memory map: the TLB holds
    /// translations made with the old mask, and decoded code may come from
    /// memory that is now mapped elsewhere.
    pub(crate) fn refresh_map<B: CpuBus>(&mut self, bus: &mut B) {
        let a20 = bus.a20_mask();
        let gen = bus.map_generation();
        if a20 != self.a20_mask || gen != self.map_gen {
            if gen != self.map_gen {
                self.map_gen = gen;
                self.smc_pages.push(crate::state::FLUSH_ALL_CODE);
            }
            self.a20_mask = a20;
            self.tlb.flush_all();
        }
    }
}

fn flagop<B: CpuBus, const K: u8>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    match K {
        0..=2 => {
            let f = s.eflags() & fl::ARITH;
            let cf = match K {
                0 => false,
                1 => true,
                _ => f & fl::CF == 0,
            };
            s.set_arith((f & !fl::CF) | if cf { fl::CF } else { 0 });
        }
        3 => s.flags &= !fl::DF,
        _ => s.flags |= fl::DF,
    }
    Ok(())
}

/// May this code change IF? (SDM CLI/STI, no VME/PVI.)
fn if_allowed(s: &CpuState) -> Res<()> {
    match s.mode {
        Mode::Real => Ok(()),
        _ if s.cpl <= s.iopl() => Ok(()),
        _ => Err(Fault::GP0),
    }
}

fn cli<B: CpuBus>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    if_allowed(s)?;
    s.flags &= !fl::IF;
    Ok(())
}

fn sti<B: CpuBus>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    if_allowed(s)?;
    if s.flags & fl::IF == 0 {
        s.flags |= fl::IF;
        // Interrupts stay blocked until the next instruction has retired.
        s.inhibit_until = s.icount + 2;
        s.run.break_trace = true;
    }
    Ok(())
}

fn hlt<B: CpuBus>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    s.require_cpl0()?;
    s.halted = true;
    s.run.break_trace = true;
    Ok(())
}

fn in_<B: CpuBus, const DX: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let port = if DX {
        s.gpr[reg::DX] as u16
    } else {
        op.imm as u16
    };
    let sz = op.size;
    s.check_io(bus, port, sz)?;
    let v = s.port_read(bus, port, sz);
    s.set_reg(reg::AX as u8, sz, u64::from(v));
    Ok(())
}

fn out<B: CpuBus, const DX: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let port = if DX {
        s.gpr[reg::DX] as u16
    } else {
        op.imm as u16
    };
    let sz = op.size2;
    s.check_io(bus, port, sz)?;
    let v = s.reg(reg::AX as u8, sz) as u32;
    s.port_write(bus, port, sz, v);
    Ok(())
}

fn cpuid<B: CpuBus>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    let (a, b, c, d) = s
        .cpuid_model
        .query(s.gpr[reg::AX] as u32, s.gpr[reg::CX] as u32);
    s.set_reg(reg::AX as u8, 4, u64::from(a));
    s.set_reg(reg::BX as u8, 4, u64::from(b));
    s.set_reg(reg::CX as u8, 4, u64::from(c));
    s.set_reg(reg::DX as u8, 4, u64::from(d));
    Ok(())
}

fn rdtsc<B: CpuBus>(s: &mut CpuState, bus: &mut B, _op: &Op<B>) -> Res<()> {
    if s.cr4 & cr4::TSD != 0 && s.cpl != 0 {
        return Err(Fault::GP0);
    }
    let t = bus.tsc(s.icount).wrapping_add(s.msr.tsc_offset);
    s.set_reg(reg::AX as u8, 4, t & 0xFFFF_FFFF);
    s.set_reg(reg::DX as u8, 4, t >> 32);
    Ok(())
}

/// RDPMC (SDM Vol. 2; a P6 instruction): #GP(0) outside CPL 0 unless
/// CR4.PCE, and for a counter the model does not have. The AMD-vendored
/// models have the K7's four counters (PERFCTR0-3, 48 bits, read from
/// their MSRs); the Intel-vendored ones the P6's two, which read 0 (40
/// bits). No events are counted.
fn rdpmc<B: CpuBus>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    if s.cr4 & cr4::PCE == 0 && s.cpl != 0 {
        return Err(Fault::GP0);
    }
    let n = s.gpr[reg::CX] as u32;
    let v = if s.amd() {
        let i = usize::try_from(n)
            .ok()
            .filter(|&i| i < 4)
            .ok_or(Fault::GP0)?;
        s.msr.k7_perf[4 + i] & K7_PERFCTR_MASK
    } else if n < 2 {
        0
    } else {
        return Err(Fault::GP0);
    };
    s.set_reg(reg::AX as u8, 4, v & 0xFFFF_FFFF);
    s.set_reg(reg::DX as u8, 4, v >> 32);
    Ok(())
}

/// The K7's counters are 48 bits wide.
const K7_PERFCTR_MASK: u64 = (1 << 48) - 1;

impl CpuState {
    /// The model reports the AMD vendor string.
    pub(crate) fn amd(&self) -> bool {
        &self.cpuid_model.vendor == b"AuthenticAMD"
    }
}

/// A valid IA32_PAT value: every byte one of the memory types UC (0),
/// WC (1), WT (4), WP (5), WB (6) or UC- (7) (SDM Vol. 3, 13.12.2).
fn pat_valid(v: u64) -> bool {
    v.to_le_bytes().iter().all(|b| matches!(b, 0 | 1 | 4..=7))
}

/// MSR numbers (SDM Vol. 4).
mod msr {
    pub const TSC: u32 = 0x10;
    pub const PLATFORM_ID: u32 = 0x17;
    pub const BIOS_UPDT_TRIG: u32 = 0x79;
    pub const BIOS_SIGN_ID: u32 = 0x8B;
    pub const SYSENTER_CS: u32 = 0x174;
    pub const SYSENTER_ESP: u32 = 0x175;
    pub const SYSENTER_EIP: u32 = 0x176;
    pub const MCG_CAP: u32 = 0x179;
    pub const MCG_STATUS: u32 = 0x17A;
    pub const MISC_ENABLE: u32 = 0x1A0;
    pub const DEBUGCTL: u32 = 0x1D9;
    pub const PAT: u32 = 0x277;
    /// AMD K7 PERFEVTSEL0 (C001_0000) .. PERFCTR3 (C001_0007).
    pub const K7_PERF_FIRST: u32 = 0xC001_0000;
    pub const K7_PERF_LAST: u32 = 0xC001_0007;
    pub const EFER: u32 = 0xC000_0080;
    /// AMD K8 Interrupt Pending Message register (Linux reads it on family
    /// 0Fh model 40h+ parts for erratum 400; no SMI/C1E message is ever
    /// pending here).
    pub const K8_INT_PENDING_MSG: u32 = 0xC001_0055;
}

fn rdmsr<B: CpuBus>(s: &mut CpuState, bus: &mut B, _op: &Op<B>) -> Res<()> {
    s.require_cpl0()?;
    let v = match s.gpr[reg::CX] as u32 {
        msr::TSC => bus.tsc(s.icount).wrapping_add(s.msr.tsc_offset),
        msr::PLATFORM_ID | msr::BIOS_SIGN_ID | msr::MCG_CAP | msr::MCG_STATUS | msr::DEBUGCTL => 0,
        msr::SYSENTER_CS => s.msr.sysenter_cs,
        msr::SYSENTER_ESP => s.msr.sysenter_esp,
        msr::SYSENTER_EIP => s.msr.sysenter_eip,
        msr::MISC_ENABLE => s.msr.misc_enable | 1,
        msr::PAT => s.msr.pat,
        n @ msr::K7_PERF_FIRST..=msr::K7_PERF_LAST if s.amd() => {
            s.msr.k7_perf[(n - msr::K7_PERF_FIRST) as usize]
        }
        msr::EFER if s.cpuid_model.ext_edx != 0 => s.efer,
        msr::K8_INT_PENDING_MSG if &s.cpuid_model.vendor == b"AuthenticAMD" => 0,
        n => match s.long_msr(n) {
            Some(v) => v,
            None => match bus.rdmsr(n, s.icount) {
                // The deadline is kept in raw TSC units: add the offset.
                Some(v) if n == platform_msr::TSC_DEADLINE && v != 0 => {
                    v.wrapping_add(s.msr.tsc_offset)
                }
                Some(v) => v,
                None => return Err(Fault::GP0),
            },
        },
    };
    s.set_reg(reg::AX as u8, 4, v & 0xFFFF_FFFF);
    s.set_reg(reg::DX as u8, 4, v >> 32);
    Ok(())
}

fn wrmsr<B: CpuBus>(s: &mut CpuState, bus: &mut B, _op: &Op<B>) -> Res<()> {
    s.require_cpl0()?;
    let v = (s.reg(reg::DX as u8, 4) << 32) | s.reg(reg::AX as u8, 4);
    match s.gpr[reg::CX] as u32 {
        msr::TSC => s.msr.tsc_offset = v.wrapping_sub(bus.tsc(s.icount)),
        msr::BIOS_UPDT_TRIG | msr::BIOS_SIGN_ID | msr::MCG_STATUS | msr::DEBUGCTL => {}
        msr::SYSENTER_CS => s.msr.sysenter_cs = v & 0xFFFF,
        msr::SYSENTER_ESP => s.msr.sysenter_esp = v,
        msr::SYSENTER_EIP => s.msr.sysenter_eip = v,
        msr::MISC_ENABLE => s.msr.misc_enable = v,
        msr::PAT if pat_valid(v) => s.msr.pat = v,
        msr::PAT => return Err(Fault::GP0),
        n @ msr::K7_PERF_FIRST..=msr::K7_PERF_LAST if s.amd() => {
            let i = (n - msr::K7_PERF_FIRST) as usize;
            // Event selects keep their 32 defined bits; counters 48.
            s.msr.k7_perf[i] = v & if i < 4 { 0xFFFF_FFFF } else { K7_PERFCTR_MASK };
        }
        msr::EFER if s.cpuid_model.ext_edx != 0 => s.write_efer(v)?,
        n if s.long_msr(n).is_some() => s.write_long_msr(n, v)?,
        n => {
            let raw = if n == platform_msr::TSC_DEADLINE && v != 0 {
                v.wrapping_sub(s.msr.tsc_offset).max(1)
            } else {
                v
            };
            match bus.wrmsr(n, raw, s.icount) {
                Some(true) => {
                    // The APIC may now raise or drop an interrupt.
                    s.run.break_trace = true;
                }
                _ => return Err(Fault::GP0),
            }
        }
    }
    Ok(())
}

fn ldt_reg<B: CpuBus, const IDT: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    s.require_cpl0()?;
    let off = s.ea(op);
    let limit = s.read_mem::<B, 2>(bus, op.seg as usize, off)? as u16;
    let base_off = off.wrapping_add(2) & crate::flags::mask(op.asize);
    let base = if s.bitness == 64 {
        // 64-bit mode: an 8-byte base, which must be canonical.
        let b = s.read_mem::<B, 8>(bus, op.seg as usize, base_off)?;
        if !crate::mmu::canonical(b) {
            return Err(Fault::GP0);
        }
        b
    } else {
        let b = s.read_mem::<B, 4>(bus, op.seg as usize, base_off)?;
        if s.default_osize_of(op) == 2 {
            b & 0x00FF_FFFF
        } else {
            b
        }
    };
    let t = TableReg { base, limit };
    if IDT {
        s.idtr = t;
    } else {
        s.gdtr = t;
    }
    Ok(())
}

impl CpuState {
    /// The operand size of an instruction whose iced operands carry none
    /// (LGDT, LIDT): from the code, 16 when an o16 form.
    fn default_osize_of<B>(&self, op: &Op<B>) -> u8 {
        match op.code {
            Code::Lgdt_m1632_16 | Code::Lidt_m1632_16 => 2,
            _ => 4,
        }
    }
}

fn sdt_reg<B: CpuBus, const IDT: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let t = if IDT { s.idtr } else { s.gdtr };
    let off = s.ea(op);
    let seg = op.seg as usize;
    let base_off = off.wrapping_add(2) & crate::flags::mask(op.asize);
    if s.bitness == 64 {
        s.seg_lin(seg, off, 10, true)?;
        s.write_mem::<B, 2>(bus, seg, off, u64::from(t.limit))?;
        return s.write_mem::<B, 8>(bus, seg, base_off, t.base);
    }
    s.seg_lin(seg, off, 6, true)?;
    s.write_mem::<B, 2>(bus, seg, off, u64::from(t.limit))?;
    s.write_mem::<B, 4>(bus, seg, base_off, t.base & 0xFFFF_FFFF)
}

fn lldt<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    s.require_protected()?;
    s.require_cpl0()?;
    let sel = s.rd_rm(bus, op, op.r0 == crate::decode::NOREG, op.r0, 2)? as u16;
    if sel & 0xFFFC == 0 {
        s.ldtr = Segment {
            selector: sel,
            usable: false,
            ..Segment::default()
        };
        return Ok(());
    }
    if sel & 4 != 0 {
        return Err(Fault::gp(sel_err(sel)));
    }
    let raw = s.read_descriptor(bus, sel)?;
    let mut d = Segment::from_descriptor(sel, raw);
    if d.attr & attr::S != 0 || d.attr & attr::TYPE_MASK != 2 {
        return Err(Fault::gp(sel_err(sel)));
    }
    if s.long_mode() {
        d.base = s.long_system_base(bus, sel, d.base)?;
    }
    if d.attr & attr::P == 0 {
        return Err(Fault::with_error(vector::NP, sel_err(sel)));
    }
    s.ldtr = d;
    Ok(())
}

fn ltr<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    s.require_protected()?;
    s.require_cpl0()?;
    let sel = s.rd_rm(bus, op, op.r0 == crate::decode::NOREG, op.r0, 2)? as u16;
    if sel & 0xFFFC == 0 || sel & 4 != 0 {
        return Err(Fault::gp(sel_err(sel)));
    }
    let raw = s.read_descriptor(bus, sel)?;
    let mut d = Segment::from_descriptor(sel, raw);
    let ty = d.attr & attr::TYPE_MASK;
    // IA-32e mode has only the 64-bit TSS (type 9, 16 bytes).
    let ok = if s.long_mode() {
        ty == 9
    } else {
        ty == 1 || ty == 9
    };
    if d.attr & attr::S != 0 || !ok {
        return Err(Fault::gp(sel_err(sel)));
    }
    if s.long_mode() {
        d.base = s.long_system_base(bus, sel, d.base)?;
    }
    if d.attr & attr::P == 0 {
        return Err(Fault::with_error(vector::NP, sel_err(sel)));
    }
    let a = s.descriptor_addr(sel)?;
    s.write_sys(bus, a + 5, 1, (raw >> 40) | 2)?;
    s.tr = Segment {
        attr: d.attr | 2,
        ..d
    };
    Ok(())
}

impl CpuState {
    /// The full base of a 16-byte LDT or TSS descriptor in IA-32e mode:
    /// bits 63:32 from its upper half, whose type field must be 0 and
    /// whose base must be canonical (SDM LLDT, LTR).
    fn long_system_base<B: CpuBus>(&mut self, bus: &mut B, sel: u16, low: u64) -> Res<u64> {
        let (_, hi) = self.read_descriptor16(bus, sel)?;
        let base = (low & 0xFFFF_FFFF) | ((hi & 0xFFFF_FFFF) << 32);
        if (hi >> 40) & 0x1F != 0 || !crate::mmu::canonical(base) {
            return Err(Fault::gp(sel_err(sel)));
        }
        Ok(base)
    }
}

fn store_sel<B: CpuBus, const K: u8, const MEM: bool>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    if K < 2 {
        s.require_protected()?;
    }
    let v = match K {
        0 => u64::from(s.ldtr.selector),
        1 => u64::from(s.tr.selector),
        _ => s.cr0 & 0xFFFF_FFFF,
    };
    if MEM {
        let off = s.ea(op);
        s.write_mem::<B, 2>(bus, op.seg as usize, off, v)
    } else {
        let v = if K < 2 { v & 0xFFFF } else { v };
        s.set_reg(op.r0, op.size, v);
        Ok(())
    }
}

fn lmsw<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    s.require_cpl0()?;
    let v = s.rd_rm(bus, op, op.r0 == crate::decode::NOREG, op.r0, 2)?;
    // LMSW sets PE but never clears it; it loads MP, EM, TS.
    let keep_pe = s.cr0 & cr0::PE;
    let new = (s.cr0 & !0xE) | (v & 0xF) | keep_pe;
    s.write_cr0(new)
}

impl CpuState {
    /// Writes CR0 with its checks and side effects.
    pub fn write_cr0(&mut self, v: u64) -> Res<()> {
        if v >> 32 != 0 {
            // Only a 64-bit MOV can carry upper bits: they are reserved.
            return Err(Fault::GP0);
        }
        let v = v | cr0::ET;
        if v & cr0::PG != 0 && v & cr0::PE == 0 {
            return Err(Fault::GP0);
        }
        if v & cr0::NW != 0 && v & cr0::CD == 0 {
            return Err(Fault::GP0);
        }
        let old = self.cr0;
        // IA-32e mode activation and deactivation (SDM Vol. 3, 9.8.5).
        let pg_on = old & cr0::PG == 0 && v & cr0::PG != 0;
        let pg_off = old & cr0::PG != 0 && v & cr0::PG == 0;
        if pg_on && self.efer & efer::LME != 0 {
            if self.cr4 & cr4::PAE == 0 || self.seg[sreg::CS].attr & attr::L != 0 {
                return Err(Fault::GP0);
            }
            self.efer |= efer::LMA;
        }
        if pg_off && self.long_mode() {
            // Only from compatibility mode.
            if self.bitness == 64 {
                return Err(Fault::GP0);
            }
            self.efer &= !efer::LMA;
        }
        self.cr0 = v;
        self.cr0_changed(old ^ v);
        Ok(())
    }

    /// What a CR0 write must drop, by the bits it `changed` (SDM Vol. 3,
    /// 4.10.4.1 and 2.5):
    /// - PG, PE: every translation (clearing PG invalidates global entries
    ///   too) and the mode (decode size, IA-32e activation): flush all,
    ///   recompute the mode and leave the trace.
    /// - WP set: the write entries only WP = 0 allowed
    ///   ([`Tlb::write_protect`](crate::mmu::Tlb::write_protect)); WP
    ///   cleared: nothing.
    /// - CD, NW (no caches are modelled), TS, EM, MP, NE (checked by each
    ///   x87/SSE instruction as it runs), AM, ET: nothing.
    fn cr0_changed(&mut self, changed: u64) {
        if changed & (cr0::PG | cr0::PE) != 0 {
            self.tlb.flush_all();
            self.update_mode();
        } else if changed & self.cr0 & cr0::WP != 0 {
            self.tlb.write_protect();
        }
    }

    /// What a CR4 write must drop, by the bits it `changed` (SDM Vol. 3,
    /// 4.10.4.1): PGE (global entries), PAE and PSE (the paging structures'
    /// format) change translations: flush all (the TLB epoch also unlinks
    /// chained traces) and leave the trace. TSD, DE, MCE, PCE, OSFXSR and
    /// OSXMMEXCPT are checked by the instructions they affect as those
    /// run: nothing. (PCIDE, SMEP and SMAP, which would need flushes too,
    /// are not supported: setting them is #GP.)
    fn cr4_changed(&mut self, changed: u64) {
        if changed & (cr4::PGE | cr4::PAE | cr4::PSE) != 0 {
            self.tlb.flush_all();
            self.run.break_trace = true;
        }
    }
}

fn mov_to_cr<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    s.require_cpl0()?;
    if s.mode == Mode::V86 {
        return Err(Fault::GP0);
    }
    let v = s.reg(op.r1, op.size2);
    match op.r0 {
        0 => s.write_cr0(v)?,
        2 => s.cr2 = v,
        3 => {
            if s.long_mode() {
                // Bits 63:MAXPHYADDR are reserved.
                if v >> s.cpuid_model.phys_bits != 0 {
                    return Err(Fault::GP0);
                }
                s.cr3 = v;
            } else {
                s.cr3 = v & 0xFFFF_FFFF;
            }
            s.tlb.flush_non_global();
        }
        8 => {
            // CR8 is the task-priority register (64-bit mode only): the
            // local APIC's TPR[7:4], or stored when there is none.
            if v > 0xF {
                return Err(Fault::GP0);
            }
            if !bus.set_cr8(v) {
                s.cr8 = v;
            }
        }
        4 => {
            let supported = cr4::VME
                | cr4::PVI
                | cr4::TSD
                | cr4::DE
                | cr4::PSE
                | cr4::PAE
                | cr4::MCE
                | cr4::PGE
                | cr4::PCE;
            // OSFXSR exists when CPUID reports FXSAVE/FXRSTOR.
            let fxsr = s.cpuid_model.features_edx & crate::cpuid::edx1::FXSR != 0;
            let supported = supported | if fxsr { cr4::OSFXSR } else { 0 };
            // OSXMMEXCPT exists when CPUID reports SSE.
            let sse = s.cpuid_model.features_edx & crate::cpuid::edx1::SSE != 0;
            let supported = supported | if sse { cr4::OSXMMEXCPT } else { 0 };
            if v & !supported != 0 || v & (cr4::VME | cr4::PVI) != 0 {
                return Err(Fault::GP0);
            }
            if s.long_mode() && v & cr4::PAE == 0 {
                return Err(Fault::GP0);
            }
            let old = s.cr4;
            s.cr4 = v;
            s.cr4_changed(old ^ v);
        }
        _ => return Err(Fault::UD),
    }
    // CR3 changed translations and CR8 may have unmasked an interrupt:
    // leave the trace. CR0 and CR4 decide for themselves.
    if matches!(op.r0, 3 | 8) {
        s.run.break_trace = true;
    }
    Ok(())
}

fn mov_from_cr<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    s.require_cpl0()?;
    if s.mode == Mode::V86 {
        return Err(Fault::GP0);
    }
    let v = match op.r1 {
        0 => s.cr0,
        2 => s.cr2,
        3 => s.cr3,
        4 => s.cr4,
        8 => bus.cr8().unwrap_or(s.cr8),
        _ => return Err(Fault::UD),
    };
    s.set_reg(op.r0, op.size, v);
    Ok(())
}

/// The debug register MOV DR names, after the checks every MOV DR makes
/// (SDM Vol. 2, MOV—Move to/from Debug Registers): #UD for DR4/DR5 with
/// CR4.DE, then, with DR7.GD set, a #DB fault with DR6.BD set (GD is
/// cleared for the handler, so it can use the debug registers).
fn dr_index(s: &mut CpuState, n: u8) -> Res<usize> {
    let i = match n {
        0..=3 | 6 | 7 => n as usize,
        4 | 5 if s.cr4 & cr4::DE == 0 => n as usize + 2,
        _ => return Err(Fault::UD),
    };
    if s.dr[7] & dr7::GD != 0 {
        s.dr[6] |= dr6::BD;
        s.dr[7] &= !dr7::GD;
        return Err(Fault::new(vector::DB));
    }
    Ok(i)
}

fn mov_to_dr<B: CpuBus>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    s.require_cpl0()?;
    if s.mode == Mode::V86 {
        return Err(Fault::GP0);
    }
    let i = dr_index(s, op.r0)?;
    let v = s.reg(op.r1, op.size2);
    s.dr[i] = match i {
        6 => (v & 0xE00F) | 0xFFFF_0FF0,
        7 => (v & 0xFFFF_2BFF) | 0x400,
        _ => v,
    };
    if i != 6 {
        s.sync_guest_breakpoints();
    }
    s.run.break_trace = true;
    Ok(())
}

fn mov_from_dr<B: CpuBus>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    s.require_cpl0()?;
    if s.mode == Mode::V86 {
        return Err(Fault::GP0);
    }
    let i = dr_index(s, op.r1)?;
    s.set_reg(op.r0, op.size, s.dr[i]);
    Ok(())
}

fn clts<B: CpuBus>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    s.require_cpl0()?;
    s.cr0 &= !cr0::TS;
    Ok(())
}

fn invlpg<B: CpuBus>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    s.require_cpl0()?;
    let off = s.ea(op);
    let lin = s.wrap_lin(s.seg[op.seg as usize % 6].base.wrapping_add(off));
    s.tlb.flush_page(lin);
    s.run.break_trace = true;
    Ok(())
}

fn privileged_nop<B: CpuBus>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    s.require_cpl0()
}

/// WAIT/FWAIT (SDM Vol. 2): #NM when CR0.MP and CR0.TS are both set,
/// then a pending unmasked x87 exception is delivered (see `x87_wait`).
fn wait<B: CpuBus>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    s.x87_wait()
}

/// LAR and LSL (SDM Vol. 2): ZF = 1 and the result when the descriptor is
/// visible at CPL/RPL and of a type the instruction accepts.
fn lar_lsl<B: CpuBus, const LSL: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    s.require_protected()?;
    let sel = s.rd_rm(bus, op, op.r1 == crate::decode::NOREG, op.r1, 2)? as u16;
    let f = s.eflags() & fl::ARITH & !fl::ZF;
    let Some(raw) = visible_descriptor(s, bus, sel)? else {
        s.set_arith(f);
        return Ok(());
    };
    let d = Segment::from_descriptor(sel, raw);
    if d.attr & attr::S == 0 {
        let ty = d.attr & attr::TYPE_MASK;
        // IA-32e mode: only the LDT, 64-bit TSS and (LAR) 64-bit call
        // gate types are valid.
        let ok = match (LSL, s.long_mode()) {
            (true, false) => matches!(ty, 1 | 2 | 3 | 9 | 11),
            (false, false) => matches!(ty, 1 | 2 | 3 | 4 | 5 | 9 | 11 | 12),
            (true, true) => matches!(ty, 2 | 9 | 11),
            (false, true) => matches!(ty, 2 | 9 | 11 | 12),
        };
        if !ok {
            s.set_arith(f);
            return Ok(());
        }
    }
    let v = if LSL {
        u64::from(d.limit)
    } else {
        raw >> 32 & 0x00F0_FF00
    };
    s.set_reg(op.r0, op.size, v);
    s.set_arith(f | fl::ZF);
    Ok(())
}

/// The descriptor for `sel` if it lies in its table and passes the
/// privilege check of LAR/LSL/VERR/VERW (conforming code is always visible).
fn visible_descriptor<B: CpuBus>(s: &mut CpuState, bus: &mut B, sel: u16) -> Res<Option<u64>> {
    if sel & 0xFFFC == 0 || s.descriptor_addr(sel).is_err() {
        return Ok(None);
    }
    let raw = s.read_descriptor(bus, sel)?;
    let d = Segment::from_descriptor(sel, raw);
    let conforming_code = d.is_code() && d.attr & attr::DC != 0;
    let rpl = (sel & 3) as u8;
    if !conforming_code && (d.dpl() < s.cpl || d.dpl() < rpl) {
        return Ok(None);
    }
    Ok(Some(raw))
}

fn verrw<B: CpuBus, const W: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    s.require_protected()?;
    let sel = s.rd_rm(bus, op, op.r0 == crate::decode::NOREG, op.r0, 2)? as u16;
    let f = s.eflags() & fl::ARITH & !fl::ZF;
    let ok = match visible_descriptor(s, bus, sel)? {
        Some(raw) => {
            let d = Segment::from_descriptor(sel, raw);
            if W {
                d.writable()
            } else {
                d.readable()
            }
        }
        None => false,
    };
    s.set_arith(f | if ok { fl::ZF } else { 0 });
    Ok(())
}

fn arpl<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    s.require_protected()?;
    let mem = op.r0 == crate::decode::NOREG;
    let dst = s.rd_rm(bus, op, mem, op.r0, 2)?;
    let src = s.reg(op.r1, 2);
    let f = s.eflags() & fl::ARITH & !fl::ZF;
    if dst & 3 < src & 3 {
        s.wr_rm(bus, op, mem, op.r0, 2, (dst & !3) | (src & 3))?;
        s.set_arith(f | fl::ZF);
    } else {
        s.set_arith(f);
    }
    Ok(())
}

fn flat(selector: u16, code: bool, dpl: u16) -> Segment {
    let ty = if code {
        attr::CODE | attr::RW | attr::ACCESSED
    } else {
        attr::RW | attr::ACCESSED
    };
    let a = ty | attr::S | attr::P | attr::DB | attr::G | (dpl << attr::DPL_SHIFT);
    Segment::new(selector, 0, 0xFFFF_FFFF, a, true)
}

/// SYSENTER and SYSEXIT do not exist in IA-32e mode on AMD processors
/// (the only long-mode profile here, as QEMU does for non-Intel vendors).
fn sysenter_long_ud(s: &CpuState) -> Res<()> {
    if s.long_mode() {
        return Err(Fault::UD);
    }
    Ok(())
}

fn sysenter<B: CpuBus>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    sysenter_long_ud(s)?;
    let cs = s.msr.sysenter_cs as u16;
    if !s.protected() || cs & 0xFFFC == 0 {
        return Err(Fault::GP0);
    }
    s.flags &= !(fl::VM | fl::IF | fl::RF);
    s.seg[sreg::SS] = flat((cs & 0xFFFC) + 8, false, 0);
    s.set_cs(flat(cs & 0xFFFC, true, 0), 0);
    s.gpr[reg::SP] = s.msr.sysenter_esp & 0xFFFF_FFFF;
    s.next_rip = s.msr.sysenter_eip & 0xFFFF_FFFF;
    Ok(())
}

fn sysexit<B: CpuBus>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    sysenter_long_ud(s)?;
    let cs = s.msr.sysenter_cs as u16;
    if !s.protected() || s.cpl != 0 || s.mode == Mode::V86 || cs & 0xFFFC == 0 {
        return Err(Fault::GP0);
    }
    s.seg[sreg::SS] = flat((cs + 24) | 3, false, 3);
    s.set_cs(flat((cs + 16) | 3, true, 3), 3);
    s.gpr[reg::SP] = s.gpr[reg::CX] & 0xFFFF_FFFF;
    s.next_rip = s.gpr[reg::DX] & 0xFFFF_FFFF;
    Ok(())
}
