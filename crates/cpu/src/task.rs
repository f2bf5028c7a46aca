//! Hardware task switching (SDM Vol. 3, 7.3).

use crate::arch::{attr, cr0, fl, sreg, Mode, Segment};
use crate::bus::CpuBus;
use crate::fault::{vector, Fault, Res};
use crate::segment::sel_err;
use crate::state::CpuState;

/// What started a task switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwitchKind {
    /// JMP to a TSS or task gate.
    Jmp,
    /// CALL to a TSS or task gate.
    Call,
    /// IRET with NT set.
    Iret,
    /// An interrupt or exception through a task gate.
    Interrupt,
}

const BUSY: u64 = 2 << 40;

impl CpuState {
    /// Switches to the task whose TSS selector is `sel`. `ret` is the EIP
    /// saved in the old task; `error` is pushed on the new task's stack.
    pub fn task_switch<B: CpuBus>(
        &mut self,
        bus: &mut B,
        sel: u16,
        kind: SwitchKind,
        ret: u64,
        error: Option<u32>,
    ) -> Res<()> {
        let ts = |s: u16| Fault::with_error(vector::TS, sel_err(s));
        if sel & 4 != 0 {
            return Err(if kind == SwitchKind::Iret {
                ts(sel)
            } else {
                Fault::gp(sel_err(sel))
            });
        }
        let raw = self.read_descriptor(bus, sel)?;
        let new = Segment::from_descriptor(sel, raw);
        let ty = new.attr & attr::TYPE_MASK;
        let busy_wanted = kind == SwitchKind::Iret;
        let ok_type = if busy_wanted {
            ty == 3 || ty == 11
        } else {
            ty == 1 || ty == 9
        };
        if new.attr & attr::S != 0 || !ok_type {
            return Err(if busy_wanted {
                ts(sel)
            } else {
                Fault::gp(sel_err(sel))
            });
        }
        if new.attr & attr::P == 0 {
            return Err(Fault::with_error(vector::NP, sel_err(sel)));
        }
        let new32 = ty & 8 != 0;
        if new.limit < if new32 { 0x67 } else { 0x2B } {
            return Err(ts(sel));
        }
        // Save the outgoing task.
        let old_sel = self.tr.selector;
        let old_base = self.tr.base;
        let old32 = self.tr.attr & 8 != 0;
        let mut flags_image = self.eflags();
        if kind == SwitchKind::Iret {
            flags_image &= !fl::NT;
        }
        if old32 {
            self.write_sys(bus, old_base + 0x20, 4, ret)?;
            self.write_sys(bus, old_base + 0x24, 4, u64::from(flags_image))?;
            for r in 0..8 {
                self.write_sys(bus, old_base + 0x28 + r * 4, 4, self.gpr[r as usize])?;
            }
            for s in 0..6 {
                self.write_sys(
                    bus,
                    old_base + 0x48 + s * 4,
                    2,
                    u64::from(self.seg[s as usize].selector),
                )?;
            }
        } else {
            self.write_sys(bus, old_base + 0x0E, 2, ret)?;
            self.write_sys(bus, old_base + 0x10, 2, u64::from(flags_image))?;
            for r in 0..8 {
                self.write_sys(bus, old_base + 0x12 + r * 2, 2, self.gpr[r as usize])?;
            }
            for (k, s) in [sreg::ES, sreg::CS, sreg::SS, sreg::DS].iter().enumerate() {
                self.write_sys(
                    bus,
                    old_base + 0x22 + k as u64 * 2,
                    2,
                    u64::from(self.seg[*s].selector),
                )?;
            }
        }
        if matches!(kind, SwitchKind::Jmp | SwitchKind::Iret) {
            let old_raw = self.read_descriptor(bus, old_sel)?;
            let a = self.descriptor_addr(old_sel)?;
            self.write_sys(bus, a, 8, old_raw & !BUSY)?;
        }
        let b = new.base;
        if matches!(kind, SwitchKind::Call | SwitchKind::Interrupt) {
            self.write_sys(bus, b, 2, u64::from(old_sel))?;
        }
        if kind != SwitchKind::Iret {
            let a = self.descriptor_addr(sel)?;
            self.write_sys(bus, a, 8, raw | BUSY)?;
        }
        // Read the incoming task's state.
        let (eip, eflags, gprs, sels, ldt, cr3) = if new32 {
            let mut g = [0u64; 8];
            for (r, v) in g.iter_mut().enumerate() {
                *v = self.read_sys(bus, b + 0x28 + r as u64 * 4, 4)?;
            }
            let mut s = [0u16; 6];
            for (i, v) in s.iter_mut().enumerate() {
                *v = self.read_sys(bus, b + 0x48 + i as u64 * 4, 2)? as u16;
            }
            (
                self.read_sys(bus, b + 0x20, 4)?,
                self.read_sys(bus, b + 0x24, 4)? as u32,
                g,
                s,
                self.read_sys(bus, b + 0x60, 2)? as u16,
                Some(self.read_sys(bus, b + 0x1C, 4)?),
            )
        } else {
            // A 16-bit TSS holds the low halves only. What the upper
            // halves become is undocumented; we set them to FFFFh as QEMU
            // (`switch_tss_ra`) and Bochs (`task_switch`) both do, so that
            // runs compare equal against them in lockstep and the choice
            // does not depend on whatever the old task left (issue #18,
            // item 12).
            let mut g = [0u64; 8];
            for (r, v) in g.iter_mut().enumerate() {
                *v = self.read_sys(bus, b + 0x12 + r as u64 * 2, 2)? | 0xFFFF_0000;
            }
            let mut s = [0u16; 6];
            for (k, i) in [sreg::ES, sreg::CS, sreg::SS, sreg::DS].iter().enumerate() {
                s[*i] = self.read_sys(bus, b + 0x22 + k as u64 * 2, 2)? as u16;
            }
            (
                self.read_sys(bus, b + 0x0E, 2)?,
                self.read_sys(bus, b + 0x10, 2)? as u32 | (self.eflags() & 0xFFFF_0000 & !fl::VM),
                g,
                s,
                self.read_sys(bus, b + 0x2A, 2)? as u16,
                None,
            )
        };
        // Commit: from here on, faults belong to the new task.
        self.tr = Segment {
            attr: new.attr | 2,
            ..new
        };
        self.cr0 |= cr0::TS;
        if let (Some(cr3), true) = (cr3, self.paging()) {
            self.cr3 = cr3 & 0xFFFF_FFFF;
            self.tlb.flush_non_global();
        }
        let mut eflags = eflags;
        if matches!(kind, SwitchKind::Call | SwitchKind::Interrupt) {
            eflags |= fl::NT;
        }
        self.flags = (eflags & fl::SUPPORTED) | fl::RESERVED1;
        self.lazy.op = crate::flags::FlagOp::None;
        self.gpr[..8].copy_from_slice(&gprs);
        self.next_rip = eip;
        self.rip = eip;
        // Selectors first, so a fault below still shows the new task's ones.
        for (i, s) in sels.iter().enumerate() {
            self.seg[i].selector = *s;
        }
        self.load_ldt_task(bus, ldt)?;
        if self.flags & fl::VM != 0 {
            self.cr0 |= cr0::PE;
            for (i, s) in sels.iter().enumerate() {
                let dpl3 = attr::P | attr::S | attr::RW | attr::ACCESSED | (3 << attr::DPL_SHIFT);
                self.seg[i] = Segment::real(
                    *s,
                    if i == sreg::CS {
                        dpl3 | attr::CODE
                    } else {
                        dpl3
                    },
                );
            }
            self.cpl = 3;
            self.update_mode();
        } else {
            let cs_sel = sels[sreg::CS];
            let cpl = (cs_sel & 3) as u8;
            self.cpl = cpl;
            self.mode = Mode::Protected;
            let cs = self.task_code_segment(bus, cs_sel)?;
            self.set_cs(cs, cpl);
            let ss_sel = sels[sreg::SS];
            let ss = self.load_stack_for(bus, ss_sel, cpl, 0)?;
            self.seg[sreg::SS] = ss;
            self.stack32 = ss.big();
            for i in [sreg::ES, sreg::DS, sreg::FS, sreg::GS] {
                self.load_seg(bus, i, sels[i])
                    .map_err(|f| match f.vector() {
                        vector::GP => ts(sels[i]),
                        _ => f,
                    })?;
            }
        }
        self.run.break_trace = true;
        if let Some(e) = error {
            let size = if new32 { 4 } else { 2 };
            self.push(bus, size, u64::from(e))?;
        }
        Ok(())
    }

    fn load_ldt_task<B: CpuBus>(&mut self, bus: &mut B, ldt: u16) -> Res<()> {
        if ldt & 0xFFFC == 0 {
            self.ldtr = Segment {
                selector: ldt,
                usable: false,
                ..Segment::default()
            };
            return Ok(());
        }
        let ts = Fault::with_error(vector::TS, sel_err(ldt));
        if ldt & 4 != 0 {
            return Err(ts);
        }
        let raw = self.read_descriptor(bus, ldt).map_err(|_| ts)?;
        let d = Segment::from_descriptor(ldt, raw);
        if d.attr & attr::S != 0 || d.attr & attr::TYPE_MASK != 2 {
            return Err(ts);
        }
        if d.attr & attr::P == 0 {
            return Err(ts);
        }
        self.ldtr = d;
        Ok(())
    }

    fn task_code_segment<B: CpuBus>(&mut self, bus: &mut B, sel: u16) -> Res<Segment> {
        let ts = Fault::with_error(vector::TS, sel_err(sel));
        if sel & 0xFFFC == 0 {
            return Err(ts);
        }
        let raw = self.read_descriptor(bus, sel).map_err(|_| ts)?;
        let cs = Segment::from_descriptor(sel, raw);
        let rpl = (sel & 3) as u8;
        let conforming = cs.attr & attr::DC != 0;
        if !cs.is_code() || (conforming && cs.dpl() > rpl) || (!conforming && cs.dpl() != rpl) {
            return Err(ts);
        }
        if cs.attr & attr::P == 0 {
            return Err(Fault::with_error(vector::NP, sel_err(sel)));
        }
        self.set_accessed(bus, sel, raw)?;
        Ok(cs.accessed(cs.selector))
    }
}
