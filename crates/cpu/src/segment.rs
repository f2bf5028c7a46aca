//! Segment register loads and descriptor tables (SDM Vol. 3, chapter 5).

use crate::arch::{attr, sreg, Mode, Segment};
use crate::bus::CpuBus;
use crate::fault::{vector, Fault, Res};
use crate::state::CpuState;

/// Error code for a selector: index and TI bits, RPL cleared.
#[inline]
pub fn sel_err(sel: u16) -> u32 {
    u32::from(sel & 0xFFFC)
}

/// The privilege rule the code segment of a far transfer must meet (SDM
/// Vol. 3, 5.8; Bochs calls the one check `check_cs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CsRule {
    /// A direct far JMP or CALL: a conforming segment needs DPL <= CPL,
    /// any other RPL <= CPL and DPL = CPL (5.8.4).
    Direct,
    /// Through a call, interrupt or trap gate: DPL <= CPL, and a JMP
    /// (`jmp`) to a non-conforming segment DPL = CPL (5.8.6, 6.12.1); an
    /// IA-32e gate (`long`) reaches 64-bit code only (5.8.3.1, 6.14.1).
    Gate { jmp: bool, long: bool },
    /// A far RET or IRET to the selector's RPL: RPL >= CPL; a conforming
    /// segment needs DPL <= RPL, any other DPL = RPL (5.8.6, IRET).
    Return,
}

impl CpuState {
    /// Reads the code segment `sel` a far transfer goes to and checks it
    /// as every far transfer does: a null selector is #GP(`ext`); the
    /// descriptor must be a code segment that `rule` allows, and in
    /// IA-32e mode not one with L = 1 and D = 1 (#GP(selector)); it must
    /// be present (#NP(selector)). `ext` is the EXT bit of those error
    /// codes (1 while delivering an external interrupt). Returns the
    /// segment and the raw descriptor (for `set_accessed`).
    pub(crate) fn far_code_segment<B: CpuBus>(
        &mut self,
        bus: &mut B,
        sel: u16,
        rule: CsRule,
        ext: u32,
    ) -> Res<(Segment, u64)> {
        if sel & 0xFFFC == 0 {
            return Err(Fault::gp(ext));
        }
        let gp = Fault::gp(sel_err(sel) + ext);
        // (Outside the table: #GP(selector), with EXT; a page fault on
        // the table stays a page fault.)
        let raw = self.read_descriptor(bus, sel).map_err(|f| {
            if f.vector() == vector::GP {
                gp
            } else {
                f
            }
        })?;
        let cs = Segment::from_descriptor(sel, raw);
        self.check_code_segment(&cs, rule, ext)?;
        Ok((cs, raw))
    }

    /// The checks of [`CpuState::far_code_segment`] on a descriptor
    /// already read (`cs.selector` is the selector it was read for).
    pub(crate) fn check_code_segment(&self, cs: &Segment, rule: CsRule, ext: u32) -> Res<()> {
        let sel = cs.selector;
        let rpl = (sel & 3) as u8;
        let (dpl, cpl) = (cs.dpl(), self.cpl);
        let conforming = cs.attr & attr::DC != 0;
        let allowed = match rule {
            CsRule::Direct if conforming => dpl <= cpl,
            CsRule::Direct => rpl <= cpl && dpl == cpl,
            CsRule::Gate { jmp, long } => {
                dpl <= cpl
                    && !(jmp && !conforming && dpl != cpl)
                    && (!long || crate::long_mode::is_code64(cs))
            }
            CsRule::Return if conforming => rpl >= cpl && dpl <= rpl,
            CsRule::Return => rpl >= cpl && dpl == rpl,
        };
        let l_and_d = cs.attr & (attr::L | attr::DB) == attr::L | attr::DB;
        if !cs.is_code() || !allowed || (self.long_mode() && l_and_d) {
            return Err(Fault::gp(sel_err(sel) + ext));
        }
        if cs.attr & attr::P == 0 {
            return Err(Fault::with_error(vector::NP, sel_err(sel) + ext));
        }
        Ok(())
    }

    /// Linear address of the descriptor for `sel` in the GDT or LDT, or
    /// #GP(selector) when it lies outside the table.
    pub fn descriptor_addr(&self, sel: u16) -> Res<u64> {
        let (base, limit) = if sel & 4 != 0 {
            if !self.ldtr.usable {
                return Err(Fault::gp(sel_err(sel)));
            }
            (self.ldtr.base, u64::from(self.ldtr.limit))
        } else {
            (self.gdtr.base, u64::from(self.gdtr.limit))
        };
        let off = u64::from(sel & 0xFFF8);
        if off + 7 > limit {
            return Err(Fault::gp(sel_err(sel)));
        }
        Ok(base + off)
    }

    /// Reads the 8-byte descriptor for `sel`.
    pub fn read_descriptor<B: CpuBus>(&mut self, bus: &mut B, sel: u16) -> Res<u64> {
        let a = self.descriptor_addr(sel)?;
        self.read_sys(bus, a, 8)
    }

    /// Sets the accessed bit of the descriptor for `sel` if it is clear.
    pub fn set_accessed<B: CpuBus>(&mut self, bus: &mut B, sel: u16, raw: u64) -> Res<()> {
        if raw & (1 << 40) == 0 {
            let a = self.descriptor_addr(sel)?;
            self.write_sys(bus, a + 5, 1, (raw >> 40) | 1)?;
        }
        Ok(())
    }

    /// Loads a data segment register (or SS) from `sel` with the checks of
    /// MOV/POP Sreg (SDM Vol. 2, MOV).
    pub fn load_seg<B: CpuBus>(&mut self, bus: &mut B, i: usize, sel: u16) -> Res<()> {
        match self.mode {
            Mode::Real => {
                let s = &mut self.seg[i];
                s.selector = sel;
                s.base = u64::from(sel) << 4;
                s.usable = true;
            }
            Mode::V86 => {
                let dpl3 = attr::P | attr::S | attr::RW | attr::ACCESSED | (3 << attr::DPL_SHIFT);
                self.seg[i] = Segment::real(
                    sel,
                    if i == sreg::CS {
                        dpl3 | attr::CODE
                    } else {
                        dpl3
                    },
                );
            }
            _ => self.load_seg_protected(bus, i, sel)?,
        }
        if i == sreg::SS {
            self.stack32 = self.seg[sreg::SS].big() && self.mode != Mode::V86;
        }
        Ok(())
    }

    fn load_seg_protected<B: CpuBus>(&mut self, bus: &mut B, i: usize, sel: u16) -> Res<()> {
        let rpl = (sel & 3) as u8;
        if sel & 0xFFFC == 0 {
            if i == sreg::SS && !(self.bitness == 64 && rpl == self.cpl && self.cpl != 3) {
                return Err(Fault::GP0);
            }
            self.seg[i] = Segment {
                selector: sel,
                usable: false,
                ..Segment::default()
            };
            return Ok(());
        }
        let raw = self.read_descriptor(bus, sel)?;
        let d = Segment::from_descriptor(sel, raw);
        let gp = Fault::gp(sel_err(sel));
        if d.attr & attr::S == 0 {
            return Err(gp);
        }
        let dpl = d.dpl();
        if i == sreg::SS {
            if rpl != self.cpl || dpl != self.cpl || !d.writable() {
                return Err(gp);
            }
            if d.attr & attr::P == 0 {
                return Err(Fault::with_error(vector::SS, sel_err(sel)));
            }
        } else {
            if d.is_code() && d.attr & attr::RW == 0 {
                return Err(gp);
            }
            let conforming_code = d.is_code() && d.attr & attr::DC != 0;
            if !conforming_code && (rpl > dpl || self.cpl > dpl) {
                return Err(gp);
            }
            if d.attr & attr::P == 0 {
                return Err(Fault::with_error(vector::NP, sel_err(sel)));
            }
        }
        self.set_accessed(bus, sel, raw)?;
        self.seg[i] = Segment {
            attr: d.attr | attr::ACCESSED,
            ..d
        };
        Ok(())
    }

    /// Installs a new CS cache and CPL, and recomputes the mode.
    pub fn set_cs(&mut self, cs: Segment, cpl: u8) {
        self.seg[sreg::CS] = cs;
        self.cpl = cpl;
        self.update_mode();
    }

    /// After a privilege change, data segments the new CPL may not use
    /// become null (SDM Vol. 3, 5.8.6 / RET and IRET).
    pub fn null_invalid_data_segments(&mut self) {
        for i in [sreg::ES, sreg::DS, sreg::FS, sreg::GS] {
            let s = self.seg[i];
            let conforming_code = s.is_code() && s.attr & attr::DC != 0;
            if s.usable && !conforming_code && s.dpl() < self.cpl {
                // In IA-32e mode the hidden base survives (FS and GS bases
                // stay in use by 64-bit code, as hardware keeps them).
                let base = if self.long_mode() { s.base } else { 0 };
                self.seg[i] = Segment {
                    selector: 0,
                    usable: false,
                    base,
                    ..Segment::default()
                };
            }
        }
    }
}
