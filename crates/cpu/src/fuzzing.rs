//! Fuzzing harnesses: the functions the cargo-fuzz targets in `fuzz/` call,
//! and that the stable-toolchain corpus replay test calls with the same
//! bytes, so a finding reproduces under `cargo test` without nightly.
//!
//! An input is a CPU state followed by instruction bytes:
//!
//! | bytes   | meaning                                              |
//! |---------|------------------------------------------------------|
//! | 0..32   | EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI (LE u32)      |
//! | 32      | arithmetic flags and DF (masked to [`FLAGS_MASK`])   |
//! | 33..    | code, at most [`MAX_CODE`] bytes, then a HLT         |
//!
//! Missing bytes read as zero. The code runs from [`CODE`] on a flat RAM
//! bus with every interrupt vector pointing at a HLT at [`HANDLER`], so a
//! run ends at a HLT, in a triple fault, or at the instruction budget.
#![doc(hidden)]

use crate::cpuid::CpuModel;
use crate::singlestep::FlatBus;
use crate::state::{cr0, fl, reg, sreg, Segment, TableReg};
use crate::{Cpu, RunExit};

/// Where the instruction bytes go.
pub const CODE: u64 = 0x1000;
/// The HLT every interrupt vector points at.
pub const HANDLER: u64 = 0x400;
/// The flat GDT (protected mode): null, 32-bit code at 8, data at 0x10.
pub const GDT: u64 = 0x500;
/// The IVT (real mode) is at 0; the IDT (protected mode) is here.
pub const IDT: u64 = 0x800;
/// The stack pointer when the input's ESP is zero.
pub const STACK: u32 = 0x8000;
/// RAM on the bus: 1 MiB keeps one execution cheap; addresses wrap.
pub const RAM_BYTES: usize = 1 << 20;
/// Instruction bytes used from one input.
pub const MAX_CODE: usize = 512;
/// The instruction budget of one run (REP iterations count one each).
/// Small, so one execution is cheap; loops still end at it.
pub const BUDGET: u64 = 4_000;
/// The REP fast path's slice (`exec::string::REP_SLICE`): the budget is
/// checked between slices.
pub const REP_SLICE: u64 = 1024;
/// What a run may do past its budget, as docs/reliability.md states it:
/// `Cpu::run` checks the budget between traces, so the last trace may
/// overshoot by its own length, and a REP by one slice.
pub const OVERSHOOT: u64 = crate::decode::MAX_TRACE as u64 + REP_SLICE;
/// CF, PF, AF, ZF, SF, DF, OF: the flags an input may set.
pub const FLAGS_MASK: u32 = 0xCD5;

const STATE_BYTES: usize = 33;
const HLT: u8 = 0xF4;
const CODE32: u64 = 0x00CF_9A00_0000_FFFF;
const DATA32: u64 = 0x00CF_9200_0000_FFFF;
/// A present, DPL 0, 32-bit interrupt gate (type 0xE).
const INT_GATE32: u64 = 0x8E00;

/// The CPU mode an input starts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Real mode, CS = 0.
    Real,
    /// 32-bit protected mode, flat segments, CPL 0, paging off.
    Pm32,
}

/// What one run did, for invariant checks and for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Why the run stopped.
    pub exit: RunExit,
    /// Instructions retired.
    pub retired: u64,
    /// Work done: instructions retired plus deliveries and REP iterations
    /// that retired nothing (what an instruction limit counts).
    pub work: u64,
}

fn word(data: &[u8], i: usize) -> u32 {
    let mut b = [0u8; 4];
    for (k, slot) in b.iter_mut().enumerate() {
        *slot = data.get(i * 4 + k).copied().unwrap_or(0);
    }
    u32::from_le_bytes(b)
}

fn poke64(bus: &mut FlatBus, at: u64, v: u64) {
    let at = at as usize;
    bus.ram[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn setup_real(cpu: &mut Cpu<FlatBus>, bus: &mut FlatBus) {
    // IVT entry v = offset:segment, all to 0000:HANDLER.
    for v in 0..256u64 {
        let at = (v * 4) as usize;
        bus.ram[at..at + 2].copy_from_slice(&(HANDLER as u16).to_le_bytes());
        bus.ram[at + 2..at + 4].copy_from_slice(&[0, 0]);
    }
    let s = &mut cpu.s;
    let data = s.seg[sreg::DS];
    for i in [sreg::ES, sreg::SS, sreg::DS, sreg::FS, sreg::GS] {
        s.seg[i] = Segment::real(0, data.attr);
    }
    let code = s.seg[sreg::CS];
    s.set_cs(Segment::real(0, code.attr), 0);
}

fn setup_pm32(cpu: &mut Cpu<FlatBus>, bus: &mut FlatBus) {
    poke64(bus, GDT + 8, CODE32);
    poke64(bus, GDT + 16, DATA32);
    for v in 0..256u64 {
        let gate = (HANDLER & 0xFFFF) | 8 << 16 | INT_GATE32 << 32 | (HANDLER >> 16 & 0xFFFF) << 48;
        poke64(bus, IDT + 8 * v, gate);
    }
    let s = &mut cpu.s;
    s.gdtr = TableReg {
        base: GDT,
        limit: 0x17,
    };
    s.idtr = TableReg {
        base: IDT,
        limit: 256 * 8 - 1,
    };
    s.cr0 |= cr0::PE;
    s.seg = [Segment::from_descriptor(0x10, DATA32); 6];
    s.set_cs(Segment::from_descriptor(8, CODE32), 0);
}

/// Runs one input in `mode` and checks the run's invariants: it ends
/// within [`BUDGET`] + [`OVERSHOOT`] of work and the instruction count
/// never goes back. Panics (the fuzzer's finding) if an invariant breaks.
pub fn run_cpu(mode: Mode, data: &[u8]) -> Outcome {
    let mut bus = FlatBus::with_size(RAM_BYTES);
    let mut cpu = Cpu::new(CpuModel::qemu64());
    bus.ram[HANDLER as usize] = HLT;
    match mode {
        Mode::Real => setup_real(&mut cpu, &mut bus),
        Mode::Pm32 => setup_pm32(&mut cpu, &mut bus),
    }
    let code = data.get(STATE_BYTES..).unwrap_or(&[]);
    let code = &code[..code.len().min(MAX_CODE)];
    let at = CODE as usize;
    bus.ram[at..at + code.len()].copy_from_slice(code);
    bus.ram[at + code.len()] = HLT;
    let s = &mut cpu.s;
    for r in 0..8 {
        s.gpr[r] = u64::from(word(data, r));
    }
    if s.gpr[reg::SP] == 0 {
        s.gpr[reg::SP] = u64::from(STACK);
    }
    let flags = u32::from(data.get(STATE_BYTES - 1).copied().unwrap_or(0));
    s.flags = (flags & FLAGS_MASK) | fl::RESERVED1;
    s.rip = CODE;
    cpu.flush_code_cache();
    let (before, work_before) = (cpu.s.icount, cpu.s.work());
    let exit = cpu.run(&mut bus, BUDGET);
    let (after, work_after) = (cpu.s.icount, cpu.s.work());
    assert!(
        after >= before,
        "instruction count went back: {before} -> {after}"
    );
    assert!(
        work_after >= work_before,
        "work went back: {work_before} -> {work_after}"
    );
    let (retired, work) = (after - before, work_after - work_before);
    assert!(
        work <= BUDGET + OVERSHOOT,
        "{work} work done with a budget of {BUDGET} ({exit:?})"
    );
    Outcome {
        exit,
        retired,
        work,
    }
}
