//! Stack pushes and pops through SS with the current stack size.

use crate::arch::{reg, sreg, Segment};
use crate::bus::CpuBus;
use crate::fault::Res;
use crate::state::CpuState;

/// An interrupt frame being assembled, slot by slot in push order: at most
/// ten (GS, FS, DS, ES, SS, ESP, EFLAGS, CS, EIP and an error code, from
/// V86 mode), so delivery allocates nothing.
#[derive(Default)]
pub(crate) struct Frame {
    slots: [u64; 10],
    len: usize,
}

impl Frame {
    /// Appends `vals`.
    pub(crate) fn put(&mut self, vals: impl IntoIterator<Item = u64>) {
        for v in vals {
            self.slots[self.len] = v;
            self.len += 1;
        }
    }

    /// The slots so far.
    pub(crate) fn slots(&self) -> &[u64] {
        &self.slots[..self.len]
    }
}

impl CpuState {
    /// The stack pointer, masked to the stack size.
    #[inline(always)]
    pub fn sp(&self) -> u64 {
        self.gpr[reg::SP] & self.stack_mask()
    }

    /// Sets the stack pointer, keeping the bits above the stack size.
    #[inline(always)]
    pub fn set_sp(&mut self, v: u64) {
        let m = self.stack_mask();
        self.gpr[reg::SP] = (self.gpr[reg::SP] & !m) | (v & m);
    }

    /// Pushes `size` bytes.
    #[inline(always)]
    pub fn push<B: CpuBus>(&mut self, bus: &mut B, size: u8, v: u64) -> Res<()> {
        let sp = self.sp().wrapping_sub(u64::from(size)) & self.stack_mask();
        self.write_sz(bus, sreg::SS, sp, size, v)?;
        self.set_sp(sp);
        Ok(())
    }

    /// Pops `size` bytes.
    #[inline(always)]
    pub fn pop<B: CpuBus>(&mut self, bus: &mut B, size: u8) -> Res<u64> {
        let sp = self.sp();
        let v = self.read_sz(bus, sreg::SS, sp, size)?;
        self.set_sp(sp.wrapping_add(u64::from(size)));
        Ok(v)
    }

    /// Pushes `vals` in order, `size` bytes each, as one frame: if a push
    /// faults the stack pointer is as it was (the instruction did not
    /// happen).
    pub(crate) fn push_all<B: CpuBus>(&mut self, bus: &mut B, size: u8, vals: &[u64]) -> Res<()> {
        let sp0 = self.gpr[reg::SP];
        for &v in vals {
            if let Err(f) = self.push(bus, size, v) {
                self.gpr[reg::SP] = sp0;
                return Err(f);
            }
        }
        Ok(())
    }

    /// Switches to the stack `ss:sp` of privilege level `cpl` (a gate to
    /// an inner level) and pushes `vals` there ([`CpuState::push_all`]);
    /// if a push faults, the old stack and privilege level come back.
    pub(crate) fn push_on_stack<B: CpuBus>(
        &mut self,
        bus: &mut B,
        (ss, sp, cpl): (Segment, u64, u8),
        size: u8,
        vals: &[u64],
    ) -> Res<()> {
        let saved = (
            self.seg[sreg::SS],
            self.gpr[reg::SP],
            self.cpl,
            self.stack32,
        );
        self.seg[sreg::SS] = ss;
        self.stack32 = ss.big();
        self.gpr[reg::SP] = sp;
        self.cpl = cpl;
        self.tlb.user = cpl == 3;
        if let Err(f) = self.push_all(bus, size, vals) {
            (
                self.seg[sreg::SS],
                self.gpr[reg::SP],
                self.cpl,
                self.stack32,
            ) = saved;
            self.tlb.user = self.cpl == 3;
            return Err(f);
        }
        Ok(())
    }

    /// Reads the stack `depth` bytes above the stack pointer without popping.
    pub fn peek_stack<B: CpuBus>(&mut self, bus: &mut B, depth: u64, size: u8) -> Res<u64> {
        let sp = self.sp().wrapping_add(depth) & self.stack_mask();
        self.read_sz(bus, sreg::SS, sp, size)
    }
}
