//! Stack pushes and pops through SS with the current stack size.

use crate::bus::CpuBus;
use crate::core::CpuState;
use crate::fault::Res;
use crate::state::{reg, sreg};

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

    /// Reads the stack `depth` bytes above the stack pointer without popping.
    pub fn peek_stack<B: CpuBus>(&mut self, bus: &mut B, depth: u64, size: u8) -> Res<u64> {
        let sp = self.sp().wrapping_add(depth) & self.stack_mask();
        self.read_sz(bus, sreg::SS, sp, size)
    }
}
