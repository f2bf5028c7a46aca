//! Exception and interrupt delivery (SDM Vol. 3, chapter 6).

use crate::bus::CpuBus;
use crate::core::CpuState;
use crate::fault::{vector, Fault, FaultClass, Res};
use crate::segment::sel_err;
use crate::state::{attr, fl, reg, sreg, Mode, Segment};

/// What caused an interrupt delivery; it decides privilege checks and the
/// EXT bit of error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// INT n, INT3, INTO: the gate DPL is checked against CPL.
    Software,
    /// INT1 (ICEBP): no DPL check, not an external event.
    Icebp,
    /// An exception raised by an instruction.
    Exception,
    /// An external interrupt (PIC) or NMI: error codes get EXT.
    External,
}

/// The CPU stopped because exception delivery itself failed past a double
/// fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TripleFault {
    /// The fault that could not be delivered.
    pub last: Fault,
}

impl CpuState {
    /// Raises `f` for the current instruction (its address is `rip`),
    /// applying the double-fault rules. Returns `Err` on a triple fault.
    pub fn raise<B: CpuBus>(&mut self, bus: &mut B, f: Fault) -> Result<(), TripleFault> {
        let mut f = f;
        loop {
            if let Some(prev) = self.delivering {
                let cls = f.class();
                if prev == FaultClass::DoubleFault {
                    self.delivering = None;
                    return Err(TripleFault { last: f });
                }
                let escalate = match prev {
                    FaultClass::Contributory => cls == FaultClass::Contributory,
                    FaultClass::PageFault => {
                        cls == FaultClass::Contributory || cls == FaultClass::PageFault
                    }
                    _ => false,
                };
                if escalate {
                    f = Fault::with_error(vector::DF, 0);
                }
            }
            self.delivering = Some(f.class());
            self.stats.exceptions += 1;
            self.halted = false;
            let ret = self.rip;
            match self.deliver(bus, f.vector(), f.error(), ret, Source::Exception) {
                Ok(()) => {
                    self.delivering = None;
                    return Ok(());
                }
                Err(next) => f = next,
            }
        }
    }

    /// Delivers interrupt `v`, returning to `ret` (the faulting instruction
    /// for faults, the next one for traps and software interrupts).
    pub fn deliver<B: CpuBus>(
        &mut self,
        bus: &mut B,
        v: u8,
        error: Option<u32>,
        ret: u64,
        src: Source,
    ) -> Res<()> {
        self.flush_flags();
        self.break_trace = true;
        match self.mode {
            Mode::Real => self.deliver_real(bus, v, ret),
            Mode::Long => self.deliver_long(bus, v, error, ret, src),
            _ => self.deliver_protected(bus, v, error, ret, src),
        }
    }

    fn deliver_real<B: CpuBus>(&mut self, bus: &mut B, v: u8, ret: u64) -> Res<()> {
        let off = u64::from(v) * 4;
        if off + 3 > u64::from(self.idtr.limit) {
            return Err(Fault::gp(u32::from(v) * 8 + 2));
        }
        let ent = self.read_sys(bus, self.idtr.base + off, 4)?;
        let fl_image = self.eflags();
        let cs = self.seg[sreg::CS].selector;
        self.push(bus, 2, u64::from(fl_image))?;
        self.push(bus, 2, u64::from(cs))?;
        self.push(bus, 2, ret)?;
        self.flags &= !(fl::IF | fl::TF | fl::AC | fl::RF);
        let sel = (ent >> 16) as u16;
        let s = &mut self.seg[sreg::CS];
        s.selector = sel;
        s.base = u64::from(sel) << 4;
        self.next_rip = ent & 0xFFFF;
        self.rip = self.next_rip;
        Ok(())
    }

    fn deliver_protected<B: CpuBus>(
        &mut self,
        bus: &mut B,
        v: u8,
        error: Option<u32>,
        ret: u64,
        src: Source,
    ) -> Res<()> {
        let ext = u32::from(src == Source::External);
        let idt_err = u32::from(v) * 8 + 2 + ext;
        let off = u64::from(v) * 8;
        if off + 7 > u64::from(self.idtr.limit) {
            return Err(Fault::gp(idt_err));
        }
        let gate = self.read_sys(bus, self.idtr.base + off, 8)?;
        let gtype = ((gate >> 40) & 0x1F) as u8;
        let gdpl = ((gate >> 45) & 3) as u8;
        if !matches!(gtype, 5 | 6 | 7 | 0xE | 0xF) {
            return Err(Fault::gp(idt_err));
        }
        if src == Source::Software && gdpl < self.cpl {
            return Err(Fault::gp(idt_err));
        }
        if gate & (1 << 47) == 0 {
            return Err(Fault::with_error(vector::NP, idt_err));
        }
        if gtype == 5 {
            let tss_sel = (gate >> 16) as u16;
            return self.task_switch(bus, tss_sel, crate::task::SwitchKind::Interrupt, ret, error);
        }
        let gate32 = gtype & 8 != 0;
        let trap = gtype & 1 != 0;
        let sel = (gate >> 16) as u16;
        let target = (gate & 0xFFFF)
            | if gate32 {
                ((gate >> 48) & 0xFFFF) << 16
            } else {
                0
            };
        if sel & 0xFFFC == 0 {
            return Err(Fault::gp(ext));
        }
        let raw = self
            .read_descriptor(bus, sel)
            .map_err(|_| Fault::gp(sel_err(sel) + ext))?;
        let cs = Segment::from_descriptor(sel, raw);
        let dpl = cs.dpl();
        if !cs.is_code() || dpl > self.cpl {
            return Err(Fault::gp(sel_err(sel) + ext));
        }
        if cs.attr & attr::P == 0 {
            return Err(Fault::with_error(vector::NP, sel_err(sel) + ext));
        }
        let conforming = cs.attr & attr::DC != 0;
        let was_v86 = self.mode == Mode::V86;
        let fl_image = self.eflags();
        let psize: u8 = if gate32 { 4 } else { 2 };
        let new_cpl = if conforming { self.cpl } else { dpl };
        if was_v86 && new_cpl != 0 {
            return Err(Fault::gp(sel_err(sel) + ext));
        }
        if new_cpl < self.cpl {
            // Inter-privilege: switch to the inner stack from the TSS.
            let (ss_sel, esp) = self.tss_stack(bus, new_cpl, ext)?;
            let ss = self.load_stack_for(bus, ss_sel, new_cpl, ext)?;
            let old_ss = self.seg[sreg::SS];
            let old_sp = self.gpr[reg::SP];
            let old_cpl = self.cpl;
            let old_segs = self.seg;
            self.seg[sreg::SS] = ss;
            self.stack32 = ss.big();
            self.gpr[reg::SP] = esp;
            self.cpl = new_cpl;
            self.tlb.user = new_cpl == 3;
            let r = (|| {
                if was_v86 {
                    for i in [sreg::GS, sreg::FS, sreg::DS, sreg::ES] {
                        self.push(bus, psize, u64::from(old_segs[i].selector))?;
                    }
                }
                self.push(bus, psize, u64::from(old_ss.selector))?;
                self.push(bus, psize, old_sp)?;
                self.push(bus, psize, u64::from(fl_image))?;
                self.push(bus, psize, u64::from(old_segs[sreg::CS].selector))?;
                self.push(bus, psize, ret)?;
                if let Some(e) = error {
                    self.push(bus, psize, u64::from(e))?;
                }
                Ok(())
            })();
            if let Err(f) = r {
                self.seg[sreg::SS] = old_ss;
                self.stack32 = old_ss.big();
                self.gpr[reg::SP] = old_sp;
                self.cpl = old_cpl;
                self.tlb.user = old_cpl == 3;
                return Err(f);
            }
            if was_v86 {
                for i in [sreg::ES, sreg::DS, sreg::FS, sreg::GS] {
                    self.seg[i] = Segment {
                        selector: 0,
                        usable: false,
                        ..Segment::default()
                    };
                }
            }
        } else {
            if was_v86 {
                return Err(Fault::gp(sel_err(sel) + ext));
            }
            let sp0 = self.gpr[reg::SP];
            let r = (|| {
                self.push(bus, psize, u64::from(fl_image))?;
                self.push(bus, psize, u64::from(self.seg[sreg::CS].selector))?;
                self.push(bus, psize, ret)?;
                if let Some(e) = error {
                    self.push(bus, psize, u64::from(e))?;
                }
                Ok(())
            })();
            if let Err(f) = r {
                self.gpr[reg::SP] = sp0;
                return Err(f);
            }
        }
        self.set_accessed(bus, sel, raw)?;
        let cs = cs.accessed((sel & 0xFFFC) | u16::from(new_cpl));
        self.flags &= !(fl::TF | fl::NT | fl::RF | fl::VM);
        if !trap {
            self.flags &= !fl::IF;
        }
        self.set_cs(cs, new_cpl);
        self.next_rip = if gate32 { target } else { target & 0xFFFF };
        self.rip = self.next_rip;
        Ok(())
    }

    /// Reads the inner stack pointer for `cpl` from the current TSS.
    pub fn tss_stack<B: CpuBus>(&mut self, bus: &mut B, cpl: u8, ext: u32) -> Res<(u16, u64)> {
        let tss32 = self.tr.attr & 8 != 0;
        let (off, n) = if tss32 {
            (4 + u64::from(cpl) * 8, 4u8)
        } else {
            (2 + u64::from(cpl) * 4, 2u8)
        };
        if off + u64::from(n) * 2 - 1 > u64::from(self.tr.limit) {
            return Err(Fault::with_error(
                vector::TS,
                sel_err(self.tr.selector) + ext,
            ));
        }
        let sp = self.read_sys(bus, self.tr.base + off, n)?;
        let ss = self.read_sys(bus, self.tr.base + off + u64::from(n), 2)? as u16;
        Ok((ss, sp))
    }

    /// Loads the descriptor of an inner stack with the #TS checks of an
    /// inter-privilege transfer.
    pub fn load_stack_for<B: CpuBus>(
        &mut self,
        bus: &mut B,
        ss_sel: u16,
        cpl: u8,
        ext: u32,
    ) -> Res<Segment> {
        let ts = Fault::with_error(vector::TS, sel_err(ss_sel) + ext);
        if ss_sel & 0xFFFC == 0 || (ss_sel & 3) as u8 != cpl {
            return Err(ts);
        }
        let raw = self.read_descriptor(bus, ss_sel).map_err(|_| ts)?;
        let ss = Segment::from_descriptor(ss_sel, raw);
        if ss.dpl() != cpl || !ss.writable() {
            return Err(ts);
        }
        if ss.attr & attr::P == 0 {
            return Err(Fault::with_error(vector::SS, sel_err(ss_sel) + ext));
        }
        self.set_accessed(bus, ss_sel, raw)?;
        Ok(Segment {
            attr: ss.attr | attr::ACCESSED,
            ..ss
        })
    }
}
