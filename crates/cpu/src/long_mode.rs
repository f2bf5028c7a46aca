//! IA-32e (long) mode: EFER and the long-mode MSRs, 16-byte system
//! descriptors, the 64-bit TSS, interrupt delivery through 16-byte IDT
//! gates, IRET and far transfers in long mode (SDM Vol. 3, 2.2.1, 5.8.3.1,
//! 6.14, 7.7, 9.8.5).

use crate::arch::{attr, efer, fl, reg, sreg, Segment};
use crate::bus::CpuBus;
use crate::cpuid::edx81;
use crate::fault::{vector, Fault, Res};
use crate::interrupt::{Delivery, Source};
use crate::mmu::{canonical, Access};
use crate::segment::{sel_err, CsRule};
use crate::state::CpuState;

/// Long-mode MSR numbers (SDM Vol. 4, table 2-2).
pub mod msr {
    /// SYSCALL target CS/SS (bits 47:32) and SYSRET base (bits 63:48).
    pub const STAR: u32 = 0xC000_0081;
    /// SYSCALL target RIP from 64-bit mode.
    pub const LSTAR: u32 = 0xC000_0082;
    /// SYSCALL target RIP from compatibility mode.
    pub const CSTAR: u32 = 0xC000_0083;
    /// RFLAGS bits SYSCALL clears.
    pub const SFMASK: u32 = 0xC000_0084;
    /// FS.base.
    pub const FS_BASE: u32 = 0xC000_0100;
    /// GS.base.
    pub const GS_BASE: u32 = 0xC000_0101;
    /// The value SWAPGS exchanges with GS.base.
    pub const KERNEL_GS_BASE: u32 = 0xC000_0102;
    /// TSC_AUX (RDTSCP's ECX).
    pub const TSC_AUX: u32 = 0xC000_0103;
}

/// Attributes of a 64-bit code segment: L=1, D=0 (SDM Vol. 3, 5.2.1).
pub fn is_code64(s: &Segment) -> bool {
    s.attr & (attr::L | attr::DB) == attr::L
}

/// A null SS as long mode loads it on inter-privilege transfers to 64-bit
/// code: selector = RPL, unusable outside 64-bit mode.
pub fn null_ss(rpl: u8) -> Segment {
    Segment {
        selector: u16::from(rpl),
        attr: u16::from(rpl) << attr::DPL_SHIFT,
        usable: false,
        ..Segment::default()
    }
}

impl CpuState {
    /// WRMSR to EFER: SCE, LME and NXE when CPUID reports them; LMA is
    /// read-only; LME cannot change while paging is on (SDM Vol. 3, 9.8.5).
    pub fn write_efer(&mut self, v: u64) -> Res<()> {
        let m = &self.cpuid_model;
        let mut allowed = 0;
        if m.ext_edx & edx81::NX != 0 {
            allowed |= efer::NXE;
        }
        if m.ext_edx & edx81::SYSCALL != 0 {
            allowed |= efer::SCE;
        }
        if m.ext_edx & edx81::LM != 0 {
            allowed |= efer::LME | efer::LMA;
        }
        if v & !allowed != 0 {
            return Err(Fault::GP0);
        }
        if self.paging() && (v ^ self.efer) & efer::LME != 0 {
            return Err(Fault::GP0);
        }
        self.efer = (self.efer & efer::LMA) | (v & allowed & !efer::LMA);
        self.tlb.flush_all();
        self.run.break_trace = true;
        Ok(())
    }

    /// RDMSR of the long-mode MSRs this model has.
    pub fn long_msr(&self, n: u32) -> Option<u64> {
        let m = &self.cpuid_model;
        let lm = m.ext_edx & edx81::LM != 0;
        let syscall = m.ext_edx & edx81::SYSCALL != 0;
        Some(match n {
            msr::STAR if syscall => self.msr.star,
            msr::LSTAR if lm => self.msr.lstar,
            msr::CSTAR if lm => self.msr.cstar,
            msr::SFMASK if lm => self.msr.sfmask,
            msr::FS_BASE if lm => self.seg[sreg::FS].base,
            msr::GS_BASE if lm => self.seg[sreg::GS].base,
            msr::KERNEL_GS_BASE if lm => self.msr.kernel_gs_base,
            msr::TSC_AUX if m.ext_edx & edx81::RDTSCP != 0 => self.msr.tsc_aux,
            _ => return None,
        })
    }

    /// WRMSR of the long-mode MSRs: addresses must be canonical.
    pub fn write_long_msr(&mut self, n: u32, v: u64) -> Res<()> {
        if self.long_msr(n).is_none() {
            return Err(Fault::GP0);
        }
        let addr = matches!(
            n,
            msr::LSTAR | msr::CSTAR | msr::FS_BASE | msr::GS_BASE | msr::KERNEL_GS_BASE
        );
        if addr && !canonical(v) {
            return Err(Fault::GP0);
        }
        match n {
            msr::STAR => self.msr.star = v,
            msr::LSTAR => self.msr.lstar = v,
            msr::CSTAR => self.msr.cstar = v,
            msr::SFMASK => self.msr.sfmask = v & 0xFFFF_FFFF,
            msr::FS_BASE => self.seg[sreg::FS].base = v,
            msr::GS_BASE => self.seg[sreg::GS].base = v,
            msr::KERNEL_GS_BASE => self.msr.kernel_gs_base = v,
            _ => self.msr.tsc_aux = v & 0xFFFF_FFFF,
        }
        Ok(())
    }

    /// Reads a 16-byte system descriptor (LDT, TSS, call gate in long
    /// mode): #GP(selector) when it does not fit in its table.
    pub fn read_descriptor16<B: CpuBus>(&mut self, bus: &mut B, sel: u16) -> Res<(u64, u64)> {
        let a = self.descriptor_addr(sel)?;
        let (limit, _) = self.table_of(sel);
        if u64::from(sel & 0xFFF8) + 15 > limit {
            return Err(Fault::gp(sel_err(sel)));
        }
        let lo = self.read_sys(bus, a, 8)?;
        let hi = self.read_sys(bus, a + 8, 8)?;
        Ok((lo, hi))
    }

    fn table_of(&self, sel: u16) -> (u64, u64) {
        if sel & 4 != 0 {
            (u64::from(self.ldtr.limit), self.ldtr.base)
        } else {
            (u64::from(self.gdtr.limit), self.gdtr.base)
        }
    }

    /// The stack pointer for `cpl` (IST index `ist` = 0) or IST `ist` from
    /// the 64-bit TSS: RSPn at 4 + 8n, ISTn at 0x24 + 8(n - 1).
    pub fn tss64_stack<B: CpuBus>(&mut self, bus: &mut B, cpl: u8, ist: u8, ext: u32) -> Res<u64> {
        let off = if ist != 0 {
            0x1C + 8 * u64::from(ist)
        } else {
            4 + 8 * u64::from(cpl)
        };
        if off + 7 > u64::from(self.tr.limit) {
            return Err(Fault::with_error(
                vector::TS,
                sel_err(self.tr.selector) + ext,
            ));
        }
        self.read_sys(bus, self.tr.base + off, 8)
    }

    /// Writes `vals` as 8-byte slots below `rsp` (the first value at the
    /// highest address) with the privilege of `cpl`, after checking that
    /// the whole range is canonical (#SS(`ss_err`) otherwise). Nothing is
    /// written unless every page is writable. Returns the new RSP.
    pub fn push_frame64<B: CpuBus>(
        &mut self,
        bus: &mut B,
        rsp: u64,
        vals: &[u64],
        cpl: u8,
        ss_err: u32,
    ) -> Res<u64> {
        let n = vals.len() as u64 * 8;
        let bottom = rsp.wrapping_sub(n);
        if !canonical(bottom) || !canonical(rsp.wrapping_sub(1)) {
            return Err(Fault::with_error(vector::SS, ss_err));
        }
        // The frame goes to a 64-bit address even when the interrupted
        // code ran in compatibility mode (whose `write_lin` would wrap it
        // at 4 GiB): translate each page first, then write, so that
        // nothing is written unless every page is writable.
        let user = cpl == 3;
        let mut pages = [(u64::MAX, 0u64); 2];
        let mut k = 0;
        for a in [bottom, rsp.wrapping_sub(1)] {
            let page = a & !0xFFF;
            if k == 0 || pages[0].0 != page {
                pages[k] = (page, self.translate_as(bus, page, Access::Write, user)?);
                k += 1;
            }
        }
        for (i, v) in vals.iter().enumerate() {
            let a = rsp.wrapping_sub(8 * (i as u64 + 1));
            for j in 0..8u64 {
                let b = a.wrapping_add(j);
                let (_, base) = pages[usize::from(pages[0].0 != b & !0xFFF)];
                self.phys_write(bus, base | (b & 0xFFF), 1, v >> (8 * j));
            }
        }
        Ok(bottom)
    }

    /// Interrupt and exception delivery in IA-32e mode (SDM Vol. 3, 6.14):
    /// 16-byte gates, 64-bit code only, SS:RSP always pushed, RSP aligned
    /// to 16, IST stacks.
    pub(crate) fn deliver_long<B: CpuBus>(&mut self, bus: &mut B, d: Delivery) -> Res<()> {
        let Delivery { v, error, ret, src } = d;
        let ext = u32::from(src == Source::External);
        let (lo, hi) = self.idt_gate(bus, v, src, true)?;
        let gtype = ((lo >> 40) & 0x1F) as u8;
        let trap = gtype & 1 != 0;
        let sel = (lo >> 16) as u16;
        let ist = ((lo >> 32) & 7) as u8;
        let target = (lo & 0xFFFF) | (((lo >> 48) & 0xFFFF) << 16) | ((hi & 0xFFFF_FFFF) << 32);
        let rule = CsRule::Gate {
            jmp: false,
            long: true,
        };
        let (cs, raw) = self.far_code_segment(bus, sel, rule, ext)?;
        if !canonical(target) {
            return Err(Fault::gp(ext));
        }
        let new_cpl = if cs.attr & attr::DC != 0 {
            self.cpl
        } else {
            cs.dpl()
        };
        let inner = new_cpl < self.cpl;
        let rsp = if ist != 0 || inner {
            self.tss64_stack(bus, new_cpl, ist, ext)?
        } else {
            self.gpr[reg::SP]
        } & !0xF;
        let mut frame = [
            u64::from(self.seg[sreg::SS].selector),
            self.gpr[reg::SP],
            u64::from(self.eflags()),
            u64::from(self.seg[sreg::CS].selector),
            ret,
            0,
        ];
        let n = if let Some(e) = error {
            frame[5] = u64::from(e);
            6
        } else {
            5
        };
        let new_rsp = self.push_frame64(bus, rsp, &frame[..n], new_cpl, ext)?;
        self.set_accessed(bus, sel, raw)?;
        if inner {
            self.seg[sreg::SS] = null_ss(new_cpl);
            self.stack32 = false;
        }
        self.gpr[reg::SP] = new_rsp;
        self.flags &= !(fl::TF | fl::NT | fl::RF | fl::VM);
        if !trap {
            self.flags &= !fl::IF;
        }
        let cs = cs.accessed((sel & 0xFFFC) | u16::from(new_cpl));
        self.set_cs(cs, new_cpl);
        self.next_rip = target;
        self.rip = target;
        Ok(())
    }

    /// The SS for a return to privilege `rpl` in long mode: a null
    /// selector is allowed when returning to 64-bit code below ring 3
    /// (SDM IRET, RET); otherwise the protected-mode checks, with #GP for
    /// what would be #TS on the way in.
    pub fn return_stack_long<B: CpuBus>(
        &mut self,
        bus: &mut B,
        ss_sel: u16,
        rpl: u8,
        to64: bool,
    ) -> Res<Segment> {
        if ss_sel & 0xFFFC == 0 {
            if to64 && rpl != 3 && (ss_sel & 3) as u8 == rpl {
                return Ok(null_ss(rpl));
            }
            return Err(Fault::GP0);
        }
        self.load_stack_for(bus, ss_sel, rpl, 0).map_err(|f| {
            if f.vector() == vector::TS {
                Fault::gp(sel_err(ss_sel))
            } else {
                f
            }
        })
    }

    /// IRET from 64-bit mode (SDM IRET, "IA-32e-MODE"): pops RIP, CS,
    /// RFLAGS, RSP and SS (slots of `size` bytes) and returns to 64-bit or
    /// compatibility code at the same or an outer privilege level.
    pub(crate) fn iret_long<B: CpuBus>(&mut self, bus: &mut B, size: u8) -> Res<()> {
        if self.flags & fl::NT != 0 {
            return Err(Fault::GP0);
        }
        let n = u64::from(size);
        let rsp = self.gpr[reg::SP];
        let mut slot = [0u64; 5];
        for (i, v) in slot.iter_mut().enumerate() {
            let a = rsp.wrapping_add(i as u64 * n);
            *v = self.read_sz(bus, sreg::SS, a, size)?;
        }
        let [ip, cs_sel, f, new_sp, ss_sel] = slot;
        let (sel, ss_sel) = (cs_sel as u16, ss_sel as u16);
        let rpl = (sel & 3) as u8;
        let (cs, raw) = self.far_code_segment(bus, sel, CsRule::Return, 0)?;
        let to64 = is_code64(&cs);
        let ss = self.return_stack_long(bus, ss_sel, rpl, to64)?;
        let ip = if to64 {
            if !canonical(ip) {
                return Err(Fault::GP0);
            }
            ip
        } else {
            let ip = ip & 0xFFFF_FFFF;
            if ip > u64::from(cs.limit) {
                return Err(Fault::GP0);
            }
            ip
        };
        self.set_accessed(bus, sel, raw)?;
        let old_cpl = self.cpl;
        // Flags are written with the old CPL's privileges.
        self.write_flags_iret(f as u32, size.min(4));
        let c = cs.accessed(sel);
        self.seg[sreg::SS] = ss;
        self.set_cs(c, rpl);
        self.gpr[reg::SP] = match size {
            8 => new_sp,
            4 => new_sp & 0xFFFF_FFFF,
            _ => (self.gpr[reg::SP] & !0xFFFF) | (new_sp & 0xFFFF),
        };
        if rpl > old_cpl {
            self.null_invalid_data_segments();
        }
        self.next_rip = ip;
        Ok(())
    }

    /// CALL or JMP through a 16-byte call gate in long mode (SDM Vol. 3,
    /// 5.8.3.1, 5.8.5): 64-bit targets only, no parameter copy, a null SS
    /// and the TSS RSP on a privilege change, 8-byte pushes.
    pub(crate) fn call_gate_long<B: CpuBus>(
        &mut self,
        bus: &mut B,
        gsel: u16,
        call: bool,
    ) -> Res<()> {
        let gerr = Fault::gp(sel_err(gsel));
        let (lo, hi) = self.read_descriptor16(bus, gsel)?;
        if (lo >> 40) & 0x1F != 0xC || (hi >> 40) & 0x1F != 0 {
            return Err(gerr);
        }
        let gdpl = ((lo >> 45) & 3) as u8;
        let rpl = (gsel & 3) as u8;
        if gdpl < self.cpl || gdpl < rpl {
            return Err(gerr);
        }
        if lo & (1 << 47) == 0 {
            return Err(Fault::with_error(vector::NP, sel_err(gsel)));
        }
        let sel = (lo >> 16) as u16;
        let target = (lo & 0xFFFF) | (((lo >> 48) & 0xFFFF) << 16) | ((hi & 0xFFFF_FFFF) << 32);
        let rule = CsRule::Gate {
            jmp: !call,
            long: true,
        };
        let (cs, raw) = self.far_code_segment(bus, sel, rule, 0)?;
        let conforming = cs.attr & attr::DC != 0;
        if !canonical(target) {
            return Err(Fault::GP0);
        }
        let new_cpl = if conforming { self.cpl } else { cs.dpl() };
        let old_cs = u64::from(self.seg[sreg::CS].selector);
        let ret = self.next_rip;
        if call && new_cpl < self.cpl {
            let rsp = self.tss64_stack(bus, new_cpl, 0, 0)?;
            let old_ss = u64::from(self.seg[sreg::SS].selector);
            let frame = [old_ss, self.gpr[reg::SP], old_cs, ret];
            let new_rsp = self.push_frame64(bus, rsp, &frame, new_cpl, 0)?;
            self.seg[sreg::SS] = null_ss(new_cpl);
            self.stack32 = false;
            self.gpr[reg::SP] = new_rsp;
        } else if call {
            let rsp = self.gpr[reg::SP];
            let new_rsp = self.push_frame64(bus, rsp, &[old_cs, ret], self.cpl, 0)?;
            self.gpr[reg::SP] = new_rsp;
        }
        self.set_accessed(bus, sel, raw)?;
        let c = cs.accessed((sel & 0xFFFC) | u16::from(new_cpl));
        self.set_cs(c, new_cpl);
        self.next_rip = target;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::{cr0, cr4};
    use crate::cpuid::CpuModel;

    fn pm(model: CpuModel) -> CpuState {
        let mut s = CpuState::new(model);
        s.cr0 |= cr0::PE;
        let mut cs = s.seg[sreg::CS];
        cs.attr |= attr::DB;
        s.set_cs(cs, 0);
        s
    }

    #[test]
    fn efer_bits_follow_cpuid() {
        let mut s = pm(CpuModel::qemu32());
        assert_eq!(s.write_efer(efer::LME), Err(Fault::GP0), "no LM on qemu32");
        assert_eq!(s.write_efer(efer::SCE), Err(Fault::GP0), "no SYSCALL");
        assert_eq!(s.write_efer(efer::NXE), Ok(()));
        let mut s = pm(CpuModel::qemu64());
        assert_eq!(s.write_efer(efer::SCE | efer::LME | efer::NXE), Ok(()));
        assert_eq!(s.efer, efer::SCE | efer::LME | efer::NXE);
        // LMA is read-only: writing it is ignored, reserved bits #GP.
        assert_eq!(s.write_efer(efer::LME | efer::LMA), Ok(()));
        assert_eq!(s.efer, efer::LME);
        assert_eq!(s.write_efer(1 << 9), Err(Fault::GP0));
    }

    /// SDM 9.8.5: LME + PAE, then PG activates IA-32e mode; PG without
    /// PAE, LME changes while paging, PAE cleared, or PG cleared in 64-bit
    /// code are #GP(0).
    #[test]
    fn activation_order() {
        let mut s = pm(CpuModel::qemu64());
        s.write_efer(efer::LME).unwrap();
        assert_eq!(s.write_cr0(s.cr0 | cr0::PG), Err(Fault::GP0));
        assert_eq!(s.cr0 & cr0::PG, 0);
        s.cr4 |= cr4::PAE;
        s.write_cr0(s.cr0 | cr0::PG).unwrap();
        assert!(s.long_mode());
        assert_eq!(s.mode, crate::arch::Mode::Long);
        assert_eq!(s.bitness, 32, "compatibility mode until CS.L = 1");
        assert_eq!(s.write_efer(0), Err(Fault::GP0));
        assert_eq!(s.write_cr0(s.cr0 | (1 << 32)), Err(Fault::GP0));
        // 64-bit code may not turn paging off.
        let mut cs = s.seg[sreg::CS];
        cs.attr = (cs.attr & !attr::DB) | attr::L;
        s.set_cs(cs, 0);
        assert_eq!(s.bitness, 64);
        assert_eq!(s.write_cr0(s.cr0 & !cr0::PG), Err(Fault::GP0));
        assert!(s.long_mode());
        // From compatibility mode it leaves IA-32e mode.
        cs.attr = (cs.attr & !attr::L) | attr::DB;
        s.set_cs(cs, 0);
        s.write_cr0(s.cr0 & !cr0::PG).unwrap();
        assert!(!s.long_mode());
        assert_eq!(s.efer, efer::LME);
    }

    #[test]
    fn long_msrs() {
        let mut s = pm(CpuModel::qemu64());
        s.write_long_msr(msr::GS_BASE, 0xFFFF_8000_0000_1000)
            .unwrap();
        assert_eq!(s.seg[sreg::GS].base, 0xFFFF_8000_0000_1000);
        assert_eq!(s.long_msr(msr::GS_BASE), Some(0xFFFF_8000_0000_1000));
        assert_eq!(
            s.write_long_msr(msr::LSTAR, 0x0000_8000_0000_0000),
            Err(Fault::GP0)
        );
        // qemu64 does not report RDTSCP: no TSC_AUX either.
        assert_eq!(s.long_msr(msr::TSC_AUX), None);
        let mut m = CpuModel::qemu64();
        m.ext_edx |= edx81::RDTSCP;
        let mut s = pm(m);
        s.write_long_msr(msr::TSC_AUX, 0x1_0000_0007).unwrap();
        assert_eq!(s.long_msr(msr::TSC_AUX), Some(7));
        assert_eq!(pm(CpuModel::qemu32()).long_msr(msr::LSTAR), None);
    }
}
