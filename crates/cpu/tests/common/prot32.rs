//! A CPU in 32-bit protected mode on a [`FlatBus`], the twin of
//! [`super::long64`]: flat 4 GiB code and data segments (base 0, G=1, D=1),
//! CPL 0, and every exception vector v (0-31) a 32-bit interrupt gate to a
//! HLT at [`STUBS`] + v. Paging is off unless asked for; [`M32::paged`]
//! turns on 32-bit paging (SDM Vol. 3A, 4.3) with the first 4 MiB in 4 KiB
//! pages through one page table (so a test can change single PTEs) and
//! 4-16 MiB in 4 MiB pages (CR4.PSE).

use super::long64::{Exit, CODE, GDT, IDT, STACK, STUBS};
use super::FlatBus;
use anyx86_cpu::cpuid::CpuModel;
use anyx86_cpu::state::{cr0, cr4, reg, Segment, TableReg};
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

/// The machine: a CPU and its flat RAM.
pub struct M32 {
    pub cpu: Cpu<FlatBus>,
    pub bus: FlatBus,
    /// The stack pointer every run starts with.
    pub stack: u64,
}

impl M32 {
    /// 32-bit protected mode without paging, on qemu64.
    pub fn prot() -> Self {
        let mut m = Self {
            cpu: Cpu::new(CpuModel::qemu64()),
            bus: FlatBus::new(),
            stack: STACK,
        };
        m.poke64(GDT + 8, CODE32);
        m.poke64(GDT + 16, DATA32);
        for v in 0..32u64 {
            let off = STUBS + v;
            m.bus.ram[off as usize] = 0xF4;
            let gate = (off & 0xFFFF) | 8 << 16 | 0x8E00 << 32 | (off >> 16 & 0xFFFF) << 48;
            m.poke64(IDT + 8 * v, gate);
        }
        let s = &mut m.cpu.s;
        s.gdtr = TableReg {
            base: GDT,
            limit: 0x17,
        };
        s.idtr = TableReg {
            base: IDT,
            limit: 32 * 8 - 1,
        };
        s.cr0 = cr0::PE | cr0::ET | cr0::NE;
        s.seg = [Segment::from_descriptor(0x10, DATA32); 6];
        s.set_cs(Segment::from_descriptor(8, CODE32), 0);
        s.gpr[reg::SP] = STACK;
        s.update_mode();
        assert_eq!(s.bitness, 32);
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

    /// Runs `code` (then a HLT) from `at`, with ESP = `self.stack`.
    pub fn run_at(&mut self, at: u64, code: &[u8]) -> Exit {
        let end = at + code.len() as u64;
        self.poke(at, code);
        self.bus.ram[at as usize + code.len()] = 0xF4;
        self.cpu.flush_code_cache();
        self.cpu.s.gpr[reg::SP] = self.stack;
        self.cpu.s.rip = at;
        self.cpu.s.halted = false;
        match self.cpu.run(&mut self.bus, 1_000_000) {
            RunExit::Halted => {}
            e => panic!("{e:?}"),
        }
        let rip = self.cpu.s.rip;
        if rip == end + 1 {
            Exit::Done
        } else {
            assert!((STUBS + 1..=STUBS + 32).contains(&rip), "eip {rip:#x}");
            Exit::Vector((rip - STUBS - 1) as u8)
        }
    }

    /// Runs `code` (then a HLT) from [`CODE`].
    pub fn run(&mut self, code: &[u8]) -> Exit {
        self.run_at(CODE, code)
    }

    pub fn poke(&mut self, a: u64, b: &[u8]) {
        self.bus.ram[a as usize..a as usize + b.len()].copy_from_slice(b);
    }

    pub fn poke64(&mut self, a: u64, v: u64) {
        self.poke(a, &v.to_le_bytes());
    }

    pub fn poke32(&mut self, a: u64, v: u32) {
        self.poke(a, &v.to_le_bytes());
    }

    pub fn peek(&self, a: u64, n: usize) -> &[u8] {
        &self.bus.ram[a as usize..a as usize + n]
    }

    /// The little-endian value of the `n` (at most 8) bytes at `a`.
    pub fn peek_le(&self, a: u64, n: usize) -> u64 {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(self.peek(a, n));
        u64::from_le_bytes(b)
    }

    pub fn peek32(&self, a: u64) -> u32 {
        self.peek_le(a, 4) as u32
    }

    /// General register `r` (low 32 bits).
    pub fn r(&self, r: usize) -> u32 {
        self.cpu.s.gpr[r] as u32
    }
}
