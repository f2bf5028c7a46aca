//! The x87 FPU instructions (Intel SDM Vol. 1 chapter 8, Vol. 2 instruction
//! pages): the one place that maps iced's x87 instructions to handlers,
//! the checks every one of them makes first, and their memory operands.
//!
//! Every ESC instruction raises #NM when CR0.EM or CR0.TS is set (SDM
//! Vol. 3 Table 2-2); a *waiting* one (all but FNINIT, FNCLEX, FNSTSW,
//! FNSTCW, FNSTENV, FNSAVE and FXSAVE/FXRSTOR) then delivers a pending
//! unmasked exception (see [`crate::fpu`]). Non-control instructions record
//! FCS:FIP, FOP and, with a memory operand, FDS:FDP.
//!
//! The arithmetic itself is the soft-float crate's; handlers apply the
//! stack rules, the masked and unmasked responses and the condition codes.
//! FISTTP (SSE3) raises #UD unless CPUID reports SSE3, FXSAVE/FXRSTOR
//! unless it reports FXSR.

mod arith;
mod env;
mod trans;
mod transfer;

use super::{is_mem, H};
use crate::arch::{cr0, sreg};
use crate::bus::CpuBus;
use crate::decode::Op;
use crate::fault::{vector, Fault, Res};
use crate::fpu::FpuState;
use crate::state::CpuState;
use iced_x86::{Instruction, MemorySize};

/// Operand kinds: an x87 register or one of the memory formats.
pub(super) mod kind {
    /// ST(i).
    pub const ST: u8 = 0;
    /// m32fp.
    pub const F32: u8 = 1;
    /// m64fp.
    pub const F64: u8 = 2;
    /// m80fp.
    pub const F80: u8 = 3;
    /// m16int.
    pub const I16: u8 = 4;
    /// m32int.
    pub const I32: u8 = 5;
    /// m64int.
    pub const I64: u8 = 6;
    /// m80bcd.
    pub const BCD: u8 = 7;
    /// The constant +0.0 (FTST).
    pub const ZERO: u8 = 8;

    /// Size in memory, in bytes.
    pub const fn size(k: u8) -> u64 {
        match k {
            F32 | I32 => 4,
            F64 | I64 => 8,
            F80 | BCD => 10,
            I16 => 2,
            _ => 0,
        }
    }
}

fn mem_kind(ins: &Instruction) -> u8 {
    match ins.memory_size() {
        MemorySize::Float32 => kind::F32,
        MemorySize::Float64 => kind::F64,
        MemorySize::Float80 => kind::F80,
        MemorySize::Int16 => kind::I16,
        MemorySize::Int32 => kind::I32,
        MemorySize::Int64 => kind::I64,
        MemorySize::Bcd => kind::BCD,
        // Environments and save areas: their handlers know their layout.
        _ => kind::ST,
    }
}

/// Picks the handler of an x87 instruction (and of FXSAVE/FXRSTOR).
pub(super) fn select<B: CpuBus>(ins: &Instruction) -> H<B> {
    let n = ins.op_count();
    let mem = (n > 0 && is_mem(ins.op0_kind())) || (n > 1 && is_mem(ins.op1_kind()));
    let k = if mem { mem_kind(ins) } else { kind::ST };
    let m = ins.mnemonic();
    arith::select::<B>(m, ins.code(), k)
        .or_else(|| transfer::select::<B>(m, k))
        .or_else(|| trans::select::<B>(m))
        .or_else(|| env::select::<B>(m, ins.code(), mem))
}

/// Matches a runtime operand kind to a handler instantiated for it.
macro_rules! by_kind {
    ($k:expr, $f:ident, [$($pre:tt)*], [$($post:tt)*]) => {{
        use $crate::exec::x87::kind as k;
        match $k {
            k::F32 => Some($f::<B, $($pre)* { k::F32 } $($post)*> as Handler<B>),
            k::F64 => Some($f::<B, $($pre)* { k::F64 } $($post)*>),
            k::F80 => Some($f::<B, $($pre)* { k::F80 } $($post)*>),
            k::I16 => Some($f::<B, $($pre)* { k::I16 } $($post)*>),
            k::I32 => Some($f::<B, $($pre)* { k::I32 } $($post)*>),
            k::I64 => Some($f::<B, $($pre)* { k::I64 } $($post)*>),
            k::BCD => Some($f::<B, $($pre)* { k::BCD } $($post)*>),
            _ => Some($f::<B, $($pre)* { k::ST } $($post)*>),
        }
    }};
}
pub(crate) use by_kind;

impl CpuState {
    /// The checks every x87 instruction makes first: #NM when CR0.EM or
    /// CR0.TS is set, then, for a waiting instruction, a pending unmasked
    /// exception. Returns false when the instruction must not execute (it
    /// froze on FERR#).
    #[inline(always)]
    pub(crate) fn x87_enter(&mut self, wait: bool) -> Res<bool> {
        if self.cr0 & (cr0::EM | cr0::TS) != 0 {
            return Err(Fault::new(vector::NM));
        }
        if wait && self.fpu.pending() != 0 {
            return self.x87_error();
        }
        Ok(true)
    }

    /// A waiting instruction on the register stack alone: the checks of
    /// [`CpuState::x87_enter`], FCS:FIP and FOP recorded, then `body`
    /// (unless the instruction froze).
    pub(crate) fn x87_stack<B>(&mut self, op: &Op<B>, body: impl FnOnce(&mut FpuState)) -> Res<()> {
        self.x87_waiting(|s| {
            s.x87_note(op);
            body(&mut s.fpu);
            Ok(())
        })
    }

    /// A waiting instruction: the checks of [`CpuState::x87_enter`], then
    /// `body` (unless the instruction froze).
    #[inline(always)]
    pub(crate) fn x87_waiting(&mut self, body: impl FnOnce(&mut Self) -> Res<()>) -> Res<()> {
        if self.x87_enter(true)? {
            body(self)
        } else {
            Ok(())
        }
    }

    /// WAIT/FWAIT: #NM only when CR0.MP and CR0.TS are both set (EM does
    /// not matter), then a pending exception is delivered.
    pub(crate) fn x87_wait(&mut self) -> Res<()> {
        if self.cr0 & (cr0::MP | cr0::TS) == cr0::MP | cr0::TS {
            return Err(Fault::new(vector::NM));
        }
        if self.fpu.pending() != 0 {
            self.x87_error()?;
        }
        Ok(())
    }

    /// A waiting instruction met a pending exception (SDM Vol. 1 §8.7,
    /// Appendix D). With CR0.NE it is #MF, a fault on this instruction.
    /// Without, this instruction asserts FERR# and freezes until an
    /// interrupt (IRQ13 on a PC) unless IGNNE# is asserted; the frozen
    /// instruction runs again when the interrupt returns.
    #[cold]
    fn x87_error(&mut self) -> Res<bool> {
        if self.cr0 & cr0::NE != 0 {
            return Err(Fault::new(vector::MF));
        }
        if self.fpu.ignne {
            return Ok(true);
        }
        self.fpu.ferr = true;
        self.halted = true;
        self.next_rip = self.rip;
        self.run.break_trace = true;
        Ok(false)
    }

    /// Records this instruction as the last non-control one (FCS:FIP and
    /// FOP, which decode left in `fop`).
    #[inline]
    pub(crate) fn x87_note<B>(&mut self, op: &Op<B>) {
        let f = &mut self.fpu;
        f.fip = self.rip;
        f.fcs = self.seg[sreg::CS].selector;
        f.fop = op.fop;
    }

    /// [`CpuState::x87_note`] and the memory operand at `off` (FDS:FDP).
    #[inline]
    pub(crate) fn x87_note_mem<B>(&mut self, op: &Op<B>, off: u64) {
        self.x87_note(op);
        self.fpu.fdp = off;
        self.fpu.fds = self.seg[op.seg as usize % 6].selector;
    }

    /// Reads an operand of kind `k` at `s:off`: integers and m32/m64 in
    /// the low bits, m80 and BCD as their 80-bit image.
    pub(crate) fn x87_read<B: CpuBus>(
        &mut self,
        bus: &mut B,
        s: usize,
        off: u64,
        k: u8,
    ) -> Res<u128> {
        let n = kind::size(k);
        let lin = self.seg_lin(s, off, n, false)?;
        Ok(match n {
            2 => u128::from(self.read_lin::<B, 2>(bus, lin)?),
            4 => u128::from(self.read_lin::<B, 4>(bus, lin)?),
            8 => u128::from(self.read_lin::<B, 8>(bus, lin)?),
            _ => {
                let lo = self.read_lin::<B, 8>(bus, lin)?;
                let hi = self.read_lin::<B, 2>(bus, self.wrap_lin(lin + 8))?;
                u128::from(lo) | u128::from(hi) << 64
            }
        })
    }

    /// Writes an operand of kind `k`; a 10-byte store is checked whole
    /// before anything is written.
    pub(crate) fn x87_write<B: CpuBus>(
        &mut self,
        bus: &mut B,
        s: usize,
        off: u64,
        k: u8,
        v: u128,
    ) -> Res<()> {
        let n = kind::size(k);
        let lin = self.seg_lin(s, off, n, true)?;
        match n {
            2 => self.write_lin::<B, 2>(bus, lin, v as u64),
            4 => self.write_lin::<B, 4>(bus, lin, v as u64),
            8 => self.write_lin::<B, 8>(bus, lin, v as u64),
            _ => {
                self.probe_write(bus, lin, 10)?;
                self.write_lin::<B, 8>(bus, lin, v as u64)?;
                self.write_lin::<B, 2>(bus, self.wrap_lin(lin + 8), (v >> 64) as u64)
            }
        }
    }

    /// Reads `buf.len()` bytes at `s:off` (environments, save areas).
    pub(crate) fn x87_read_area<B: CpuBus>(
        &mut self,
        bus: &mut B,
        s: usize,
        off: u64,
        buf: &mut [u8],
    ) -> Res<()> {
        let lin = self.seg_lin(s, off, buf.len() as u64, false)?;
        for (i, chunk) in buf.chunks_mut(8).enumerate() {
            let a = self.wrap_lin(lin + 8 * i as u64);
            let v = match chunk.len() {
                8 => self.read_lin::<B, 8>(bus, a)?,
                4 => self.read_lin::<B, 4>(bus, a)?,
                // 6 bytes (the tail of a 14- or 94-byte area).
                _ => {
                    let lo = self.read_lin::<B, 4>(bus, a)?;
                    lo | self.read_lin::<B, 2>(bus, self.wrap_lin(a + 4))? << 32
                }
            };
            chunk.copy_from_slice(&v.to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }

    /// Writes `buf` at `s:off`, after checking the whole area is writable
    /// so that a fault leaves memory untouched.
    pub(crate) fn x87_write_area<B: CpuBus>(
        &mut self,
        bus: &mut B,
        s: usize,
        off: u64,
        buf: &[u8],
    ) -> Res<()> {
        let lin = self.seg_lin(s, off, buf.len() as u64, true)?;
        self.probe_write(bus, lin, buf.len() as u64)?;
        for (i, chunk) in buf.chunks(8).enumerate() {
            let a = self.wrap_lin(lin + 8 * i as u64);
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            let v = u64::from_le_bytes(b);
            match chunk.len() {
                8 => self.write_lin::<B, 8>(bus, a, v)?,
                4 => self.write_lin::<B, 4>(bus, a, v)?,
                _ => {
                    self.write_lin::<B, 4>(bus, a, v)?;
                    self.write_lin::<B, 2>(bus, self.wrap_lin(a + 4), v >> 32)?;
                }
            }
        }
        Ok(())
    }
}
