//! A CPU in 64-bit mode on a [`FlatBus`], for tests that run a few
//! instructions there: the first 16 MiB identity-mapped with 2 MiB pages,
//! a flat 64-bit code segment, and every exception vector v (0-31)
//! pointing at a HLT at [`STUBS`] + v, so a run ends either after the
//! code (`Exit::Done`) or in the handler of the vector it raised.

use super::FlatBus;
use anyx86_cpu::arch::{cr0, cr4, efer, reg, Segment, TableReg};
use anyx86_cpu::cpuid::CpuModel;
use anyx86_cpu::{Cpu, RunExit};

/// Where [`M::run`] puts the code.
pub const CODE: u64 = 0x1000;
/// One HLT per exception vector: vector v's handler is at STUBS + v.
pub const STUBS: u64 = 0x3000;
pub const GDT: u64 = 0x500;
pub const IDT: u64 = 0x600;
/// PML4, then the PDPT at +0x1000 and the page directory at +0x2000.
pub const PML4: u64 = 0x10000;
pub const CODE64: u64 = 0x00AF_9A00_0000_FFFF;
pub const DATA64: u64 = 0x00CF_9200_0000_FFFF;
/// RSP at the start of every run in 64-bit mode.
pub const STACK: u64 = 0x7000;

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    /// The HLT after the code.
    Done,
    /// The handler of this exception vector.
    Vector(u8),
}

/// The machine: a CPU and its flat RAM.
pub struct M {
    pub cpu: Cpu<FlatBus>,
    pub bus: FlatBus,
    /// The stack pointer every run starts with.
    pub stack: u64,
}

/// Runs `code` on a fresh 64-bit machine ([`M::long_with`] qemu64); the
/// run must end after the code, not in an exception handler.
pub fn run64(code: &[u8]) -> M {
    let mut m = M::long_with(CpuModel::qemu64());
    assert_eq!(m.run(code), Exit::Done);
    m
}

/// General register `i` of `m`, all 64 bits.
pub fn r(m: &M, i: usize) -> u64 {
    m.cpu.s.gpr[i]
}

/// Writes a GDT (null, `code` at selector 8, `data` at 0x10) and an IDT
/// of 32 interrupt gates of `gate` bytes each (8 in protected mode, 16 in
/// long mode), vector v's to a HLT at [`STUBS`] + v; loads GDTR and IDTR,
/// every segment register with `data` but CS with `code` (CPL 0), and RSP
/// with [`STACK`]. The caller sets the control registers and the mode.
pub fn flat_tables(cpu: &mut Cpu<FlatBus>, bus: &mut FlatBus, code: u64, data: u64, gate: u64) {
    fn poke64(bus: &mut FlatBus, a: u64, v: u64) {
        bus.ram[a as usize..a as usize + 8].copy_from_slice(&v.to_le_bytes());
    }
    poke64(bus, GDT + 8, code);
    poke64(bus, GDT + 16, data);
    for v in 0..32 {
        let off = STUBS + v;
        bus.ram[off as usize] = 0xF4;
        let lo = (off & 0xFFFF) | 8 << 16 | 0x8E00 << 32 | (off >> 16 & 0xFFFF) << 48;
        poke64(bus, IDT + gate * v, lo);
        if gate == 16 {
            poke64(bus, IDT + gate * v + 8, off >> 32);
        }
    }
    let s = &mut cpu.s;
    s.gdtr = TableReg {
        base: GDT,
        limit: 0x17,
    };
    s.idtr = TableReg {
        base: IDT,
        limit: (32 * gate - 1) as u16,
    };
    s.seg = [Segment::from_descriptor(0x10, data); 6];
    s.set_cs(Segment::from_descriptor(8, code), 0);
    s.gpr[reg::SP] = STACK;
}

impl M {
    /// A CPU of `model` at reset (real mode) on zeroed RAM.
    pub fn new(model: CpuModel) -> Self {
        Self {
            cpu: Cpu::new(model),
            bus: FlatBus::new(),
            stack: STACK,
        }
    }

    /// 64-bit mode, CPL 0, on a CPU of `model`.
    pub fn long_with(model: CpuModel) -> Self {
        let mut m = Self::new(model);
        m.poke64(PML4, (PML4 + 0x1000) | 3);
        m.poke64(PML4 + 0x1000, (PML4 + 0x2000) | 3);
        for i in 0..8 {
            m.poke64(PML4 + 0x2000 + 8 * i, (i << 21) | 0x83);
        }
        flat_tables(&mut m.cpu, &mut m.bus, CODE64, DATA64, 16);
        let s = &mut m.cpu.s;
        s.cr3 = PML4;
        s.cr4 = cr4::PAE;
        s.efer = efer::LME | efer::LMA;
        s.cr0 = cr0::PE | cr0::PG | cr0::ET | cr0::NE;
        s.update_mode();
        assert_eq!(s.bitness, 64);
        m
    }

    /// Runs `code` (then a HLT) from linear address `at`, stored at
    /// physical `at` mod 4 GiB, with RSP = `self.stack`.
    pub fn run_at(&mut self, at: u64, code: &[u8]) -> Exit {
        let end = at + code.len() as u64;
        let phys = at & 0xFFFF_FFFF;
        self.poke(phys, code);
        self.bus.ram[phys as usize + code.len()] = 0xF4;
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
            assert!((STUBS + 1..=STUBS + 32).contains(&rip), "rip {rip:#x}");
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

    /// `n` bytes of RAM at `a`.
    pub fn peek(&self, a: u64, n: usize) -> &[u8] {
        &self.bus.ram[a as usize..a as usize + n]
    }

    /// The little-endian value of the `n` (at most 8) bytes at `a`.
    pub fn peek_le(&self, a: u64, n: usize) -> u64 {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(self.peek(a, n));
        u64::from_le_bytes(b)
    }

    pub fn peek64(&self, a: u64) -> u64 {
        self.peek_le(a, 8)
    }

    pub fn peek128(&self, a: u64) -> u128 {
        u128::from_le_bytes(self.peek(a, 16).try_into().expect("16 bytes"))
    }
}
