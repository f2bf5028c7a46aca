//! Exception and interrupt delivery (SDM Vol. 3, chapter 6).

use crate::arch::{attr, fl, reg, sreg, Mode, Segment};
use crate::bus::CpuBus;
use crate::fault::{vector, Fault, FaultClass, Res};
use crate::segment::{sel_err, CsRule};
use crate::stack::Frame;
use crate::state::CpuState;

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

/// An interrupt or exception on its way to its handler: the vector, its
/// error code, where the handler returns to, and what caused it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Delivery {
    pub v: u8,
    pub error: Option<u32>,
    pub ret: u64,
    pub src: Source,
}

/// Deliveries in a row, with no instruction retired between them, after
/// which the guest is said to make no progress. A working guest never
/// comes near: every handler retires at least one instruction before the
/// same vector can come again (an external interrupt stays in service
/// until its EOI, a fault handler runs), and nesting is bounded by the
/// vectors there are.
pub const NO_PROGRESS_DELIVERIES: u32 = 4096;

/// Watches deliveries for a guest stuck in an exception storm: a handler
/// whose first instruction faults again (an IVT entry pointing at UD2, an
/// IST gate whose stack re-faults) retires nothing, forever.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// The vector delivered last.
    pub vector: u8,
    /// `icount` at that delivery.
    pub icount: u64,
    /// Deliveries in a row at that `icount`.
    pub repeats: u32,
    /// Set to the vector when `repeats` reached
    /// [`NO_PROGRESS_DELIVERIES`]; the run loop takes it and returns
    /// `RunExit::NoProgress`.
    pub stuck: Option<u8>,
}

/// The CPU stopped because exception delivery itself failed past a double
/// fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TripleFault {
    /// The fault that could not be delivered.
    pub last: Fault,
}

impl CpuState {
    /// Counts one delivery of vector `v` toward the instruction limit and
    /// watches for a storm of it.
    pub(crate) fn count_delivery(&mut self, v: u8) {
        self.extra_work = self.extra_work.wrapping_add(1);
        let p = &mut self.progress;
        // Any vectors: a fault during delivery cycles through several
        // (#UD, #NP, #DF, #UD, ...) and is just as stuck.
        p.vector = v;
        if p.repeats > 0 && p.icount == self.icount {
            p.repeats += 1;
            if p.repeats >= NO_PROGRESS_DELIVERIES {
                p.stuck = Some(v);
                p.repeats = 0;
            }
        } else {
            p.icount = self.icount;
            p.repeats = 1;
        }
    }

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
            self.count_delivery(f.vector());
            self.halted = false;
            // Every exception raised here but #DF is a fault: its frame
            // holds RF = 1, so the instruction it restarts is not stopped
            // again by its own instruction breakpoint (SDM Vol. 3,
            // 17.3.1.1; a #DB for DR7.GD too, where QEMU pushes 0). #DF is
            // an abort: RF as the instruction left it, 0 (QEMU agrees).
            // The delivery clears RF for the handler.
            if f.vector() == vector::DF {
                self.flags &= !fl::RF;
            } else {
                self.flags |= fl::RF;
            }
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
        self.run.break_trace = true;
        // A delivery ends any MOV SS shadow.
        self.mov_ss_shadow = false;
        match self.mode {
            Mode::Real => self.deliver_real(bus, v, ret),
            Mode::Long => self.deliver_long(bus, Delivery { v, error, ret, src }),
            _ => self.deliver_protected(bus, Delivery { v, error, ret, src }),
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

    /// Reads the IDT gate of vector `v` and checks it as every delivery
    /// does (SDM Vol. 3, 6.12.1.1, 6.14.1): within the IDT, of a type the
    /// mode allows (task, interrupt and trap gates; IA-32e mode, `long`,
    /// has 16-byte 64-bit interrupt and trap gates only), with DPL >= CPL
    /// for a software INT, and present. Each failure reports the IDT
    /// entry (`v * 8 + 2 + EXT`). Returns the gate's first 8 bytes and,
    /// in IA-32e mode, its second 8.
    pub(crate) fn idt_gate<B: CpuBus>(
        &mut self,
        bus: &mut B,
        v: u8,
        src: Source,
        long: bool,
    ) -> Res<(u64, u64)> {
        let ext = u32::from(src == Source::External);
        let idt_err = u32::from(v) * 8 + 2 + ext;
        let size = if long { 16 } else { 8 };
        let off = u64::from(v) * size;
        if off + size - 1 > u64::from(self.idtr.limit) {
            return Err(Fault::gp(idt_err));
        }
        let lo = self.read_sys(bus, self.idtr.base + off, 8)?;
        let hi = if long {
            self.read_sys(bus, self.idtr.base + off + 8, 8)?
        } else {
            0
        };
        let gtype = ((lo >> 40) & 0x1F) as u8;
        let gdpl = ((lo >> 45) & 3) as u8;
        let allowed = if long {
            matches!(gtype, 0xE | 0xF)
        } else {
            matches!(gtype, 5 | 6 | 7 | 0xE | 0xF)
        };
        if !allowed || (src == Source::Software && gdpl < self.cpl) {
            return Err(Fault::gp(idt_err));
        }
        if lo & (1 << 47) == 0 {
            return Err(Fault::with_error(vector::NP, idt_err));
        }
        Ok((lo, hi))
    }

    fn deliver_protected<B: CpuBus>(&mut self, bus: &mut B, d: Delivery) -> Res<()> {
        let Delivery { v, error, ret, src } = d;
        let ext = u32::from(src == Source::External);
        let (gate, _) = self.idt_gate(bus, v, src, false)?;
        let gtype = ((gate >> 40) & 0x1F) as u8;
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
        let rule = CsRule::Gate {
            jmp: false,
            long: false,
        };
        let (cs, raw) = self.far_code_segment(bus, sel, rule, ext)?;
        let dpl = cs.dpl();
        let conforming = cs.attr & attr::DC != 0;
        let was_v86 = self.mode == Mode::V86;
        let fl_image = self.eflags();
        let psize: u8 = if gate32 { 4 } else { 2 };
        let new_cpl = if conforming { self.cpl } else { dpl };
        if was_v86 && new_cpl != 0 {
            return Err(Fault::gp(sel_err(sel) + ext));
        }
        // The frame: EFLAGS, CS, EIP and the error code, after the old
        // SS:ESP on a privilege change, after GS, FS, DS and ES from V86.
        let inner = new_cpl < self.cpl;
        let sel_of = |i: usize| u64::from(self.seg[i].selector);
        let mut frame = Frame::default();
        if inner && was_v86 {
            frame.put([sreg::GS, sreg::FS, sreg::DS, sreg::ES].map(sel_of));
        }
        if inner {
            frame.put([sel_of(sreg::SS), self.gpr[reg::SP]]);
        }
        frame.put([u64::from(fl_image), sel_of(sreg::CS), ret]);
        frame.put(error.map(u64::from));
        if inner {
            // Inter-privilege: switch to the inner stack from the TSS.
            let (ss_sel, esp) = self.tss_stack(bus, new_cpl, ext)?;
            let ss = self.load_stack_for(bus, ss_sel, new_cpl, ext)?;
            self.push_on_stack(bus, (ss, esp, new_cpl), psize, frame.slots())?;
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
            self.push_all(bus, psize, frame.slots())?;
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

#[cfg(test)]
mod limit_tests {
    use crate::singlestep::FlatBus;
    use crate::{Cpu, RunExit};

    const UD2: [u8; 2] = [0x0F, 0x0B];

    /// A real-mode CPU at 0000:0100 running `code`, with the #UD vector
    /// (IVT entry 6, at 0x18) pointing at a UD2 at 0000:0200: a handler
    /// whose first instruction faults again.
    fn ud2_storm(code: &[u8]) -> (Cpu<FlatBus>, FlatBus) {
        let (cpu, mut bus) = crate::debug::tests::cpu_with(code);
        bus.ram[0x200..0x202].copy_from_slice(&UD2);
        bus.ram[0x18..0x1C].copy_from_slice(&[0x00, 0x02, 0x00, 0x00]);
        (cpu, bus)
    }

    #[test]
    fn an_exception_storm_uses_up_the_budget() {
        let (mut cpu, mut bus) = ud2_storm(&UD2);
        // Fewer than NO_PROGRESS_DELIVERIES: the budget ends it first.
        assert_eq!(cpu.run(&mut bus, 1000), RunExit::Budget);
        assert_eq!(cpu.s.icount, 0, "nothing retired");
        assert_eq!(cpu.s.work(), 1000, "one unit per delivery");
    }

    #[test]
    fn an_exception_storm_is_reported_as_no_progress() {
        let (mut cpu, mut bus) = ud2_storm(&UD2);
        assert_eq!(cpu.run(&mut bus, u64::MAX), RunExit::NoProgress(6));
        assert_eq!(cpu.s.work(), u64::from(super::NO_PROGRESS_DELIVERIES));
        assert_eq!(cpu.s.rip, 0x200, "CS:IP is the faulting handler");
    }

    #[test]
    fn a_storm_counts_the_same_every_time() {
        let runs: Vec<_> = (0..2)
            .map(|_| {
                let (mut cpu, mut bus) = ud2_storm(&UD2);
                cpu.run(&mut bus, 2500);
                (cpu.s.icount, cpu.s.extra_work, cpu.s.gpr[4])
            })
            .collect();
        assert_eq!(runs[0], runs[1]);
    }

    #[test]
    fn retired_instructions_between_faults_are_progress() {
        // The handler retires a NOP before faulting again: slow, but
        // progress; only the budget ends it.
        let (mut cpu, mut bus) = ud2_storm(&UD2);
        bus.ram[0x200..0x203].copy_from_slice(&[0x90, 0x0F, 0x0B]);
        assert_eq!(cpu.run(&mut bus, 20_000), RunExit::Budget);
        assert!(cpu.s.icount >= 9_000);
    }

    #[test]
    fn each_rep_iteration_counts_toward_the_budget() {
        // mov cx, 0xFFFF ; mov di, 0x4000 ; rep insb ; hlt
        let code = [0xB9, 0xFF, 0xFF, 0xBF, 0x00, 0x40, 0xF3, 0x6C, 0xF4];
        let (mut cpu, mut bus) = ud2_storm(&code);
        assert_eq!(cpu.run(&mut bus, 5000), RunExit::Budget);
        // At most one REP slice (1024 iterations) past the budget.
        assert!(
            bus.io_reads >= 5000 - 2 && bus.io_reads <= 5000 + 1024,
            "{}",
            bus.io_reads
        );
        assert_eq!(cpu.s.work(), bus.io_reads + 2, "the two MOVs and each read");
    }

    #[test]
    fn a_finished_rep_counts_each_iteration_once() {
        // mov cx, 3000 ; mov di, 0x4000 ; rep insb ; hlt
        let code = [0xB9, 0xB8, 0x0B, 0xBF, 0x00, 0x40, 0xF3, 0x6C, 0xF4];
        let (mut cpu, mut bus) = ud2_storm(&code);
        assert_eq!(cpu.run(&mut bus, 1_000_000), RunExit::Halted);
        assert_eq!(bus.io_reads, 3000);
        // mov, mov, 3000 iterations, hlt.
        assert_eq!(cpu.s.work(), 3003);
    }
}
