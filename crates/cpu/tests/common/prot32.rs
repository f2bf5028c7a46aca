//! A CPU in 32-bit protected mode on a [`FlatBus`], the twin of
//! [`super::long64`]: flat 4 GiB code and data segments (base 0, G=1, D=1),
//! CPL 0, and every exception vector v (0-31) a 32-bit interrupt gate to a
//! HLT at [`STUBS`] + v. Paging is off unless asked for; [`M32::paged`]
//! turns on 32-bit paging (SDM Vol. 3A, 4.3) with the first 4 MiB in 4 KiB
//! pages through one page table (so a test can change single PTEs) and
//! 4-16 MiB in 4 MiB pages (CR4.PSE). [`M32`] is the machine of
//! [`super::long64`] (its runs, pokes and peeks), started in this mode.

use super::long64::{flat_tables, Exit, M};
use super::FlatBus;
use anyx86_cpu::arch::{cr0, cr4};
use anyx86_cpu::cpuid::CpuModel;
use anyx86_cpu::{Cpu, RunExit};

/// 32-bit code, base 0, limit 4 GiB, execute/read, DPL 0.
pub const CODE32: u64 = 0x00CF_9A00_0000_FFFF;
/// 32-bit data, base 0, limit 4 GiB, read/write, DPL 0.
pub const DATA32: u64 = 0x00CF_9200_0000_FFFF;
/// The page directory of [`M32::paged`].
pub const PD: u64 = 0x20000;
/// The page table mapping linear 0-4 MiB.
pub const PT: u64 = 0x21000;
/// Present, writable, user (PDE/PTE bits 0-2, SDM Vol. 3A, Table 4-5/4-6).
pub const PRW: u32 = 0x7;
/// Page-size bit of a PDE: a 4 MiB page.
pub const PS: u32 = 0x80;

/// The machine, in 32-bit protected mode.
pub type M32 = M;

/// Puts `cpu` in flat 32-bit protected mode on `bus`: the tables of
/// [`flat_tables`], CPL 0, paging off, ESP = [`super::long64::STACK`].
pub fn enter(cpu: &mut Cpu<FlatBus>, bus: &mut FlatBus) {
    flat_tables(cpu, bus, CODE32, DATA32, 8);
    let s = &mut cpu.s;
    s.cr0 = cr0::PE | cr0::ET | cr0::NE;
    s.update_mode();
    assert_eq!(s.bitness, 32);
}

/// Runs `code` on a fresh [`M32::prot`] machine; the run must end after
/// the code, not in an exception handler.
pub fn run32(code: &[u8]) -> M32 {
    let mut m = M32::prot();
    assert_eq!(m.run(code), Exit::Done);
    m
}

/// Runs `cpu` in slices of 1000 instructions until it halts, at most 100
/// slices (a slice that ends any other way starts the next one, so a CPU
/// that never halts stops after the last); a triple fault panics.
pub fn run_sliced(cpu: &mut Cpu<FlatBus>, bus: &mut FlatBus) {
    for _ in 0..100 {
        match cpu.run(bus, 1000) {
            RunExit::Halted => break,
            RunExit::TripleFault(f) => panic!("triple fault {f:?}"),
            _ => {}
        }
    }
}

impl M {
    /// 32-bit protected mode without paging, on qemu64.
    pub fn prot() -> Self {
        Self::prot_with(CpuModel::qemu64())
    }

    /// 32-bit protected mode without paging, on a CPU of `model`.
    pub fn prot_with(model: CpuModel) -> Self {
        let mut m = Self::new(model);
        enter(&mut m.cpu, &mut m.bus);
        m
    }

    /// 32-bit protected mode with 32-bit paging: 0-4 MiB identity-mapped
    /// by the PTEs at [`PT`] (present, writable, user), 4-16 MiB by 4 MiB
    /// pages; CR0.WP clear.
    pub fn paged() -> Self {
        let mut m = Self::prot();
        m.poke32(PD, PT as u32 | PRW);
        for i in 1..4u32 {
            m.poke32(PD + 4 * u64::from(i), i << 22 | PS | PRW);
        }
        for i in 0..1024u32 {
            m.poke32(PT + 4 * u64::from(i), i << 12 | PRW);
        }
        let s = &mut m.cpu.s;
        s.cr3 = PD;
        s.cr4 |= cr4::PSE;
        s.cr0 |= cr0::PG;
        s.update_mode();
        m.cpu.flush_code_cache();
        m
    }

    /// The PTE of linear page `lin` (below 4 MiB) in [`PT`].
    pub fn pte(&self, lin: u64) -> u32 {
        self.peek_le(PT + 4 * (lin >> 12), 4) as u32
    }

    /// Sets the PTE of linear page `lin` (below 4 MiB).
    pub fn set_pte(&mut self, lin: u64, v: u32) {
        self.poke32(PT + 4 * (lin >> 12), v);
    }

    pub fn poke32(&mut self, a: u64, v: u32) {
        self.poke(a, &v.to_le_bytes());
    }

    pub fn peek32(&self, a: u64) -> u32 {
        self.peek_le(a, 4) as u32
    }

    /// General register `r` (low 32 bits).
    pub fn r(&self, r: usize) -> u32 {
        self.cpu.s.gpr[r] as u32
    }
}
