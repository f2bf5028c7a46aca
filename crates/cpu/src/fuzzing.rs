//! Fuzzing harnesses: the functions the cargo-fuzz targets in `fuzz/` call,
//! and that the stable-toolchain corpus replay test calls with the same
//! bytes, so a finding reproduces under `cargo test` without nightly.
//!
//! An input is a CPU state followed by instruction bytes:
//!
//! | bytes   | meaning                                              |
//! |---------|------------------------------------------------------|
//! | 0..32   | EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI (LE u32)      |
//! | 32      | bits 0-6: CF PF AF ZF SF DF OF ([`FLAGS_MASK`])      |
//! | 33..    | code, at most [`MAX_CODE`] bytes, then a HLT         |
//!
//! Missing bytes read as zero. The code runs from [`CODE`] on a flat RAM
//! bus with every interrupt vector pointing at a HLT at [`HANDLER`], so a
//! run ends at a HLT, in a triple fault, or at the instruction budget.
//!
//! RAM outside the tables and the code holds HLTs ([`FILL`]): a wild
//! jump ends the run at once instead of sliding through zero bytes
//! (`add [bx+si],al`) until the budget, which cost a full decode per
//! instruction and made most executions the same boring one.
//!
//! One CPU and one bus are kept per thread and reset before every input
//! (RAM refilled, every CPU register and the decoded-code cache and TLB
//! dropped), so a run is a pure function of its input: building a new
//! CPU (its 256 KiB trace-cache index, its TLBs) and a 1 MiB bus cost
//! about 90 us per input, more than most runs take.
#![doc(hidden)]

use crate::arch::{cr0, cr4, efer, fl, pte, reg, sreg, Segment, TableReg};
use crate::cpuid::CpuModel;
use crate::singlestep::FlatBus;
use crate::{Cpu, RunExit};
use std::cell::RefCell;

/// Where the instruction bytes go.
pub const CODE: u64 = 0x1000;
/// The HLT every interrupt vector points at.
pub const HANDLER: u64 = 0x400;
/// The flat GDT: see [`SEL_CODE32`] and the other selectors.
pub const GDT: u64 = 0x500;
/// The IVT (real mode) is at 0; the IDT (protected mode) is here.
pub const IDT: u64 = 0x800;
/// The 256 16-byte gates of the long-mode IDT (past the code).
pub const IDT64: u64 = 0x2000;
/// The 64-bit TSS (long and compatibility mode), for the IST stack.
pub const TSS64: u64 = 0x3000;
/// The stack the IST gates switch to.
pub const IST_STACK: u64 = 0x9000;
/// Long mode's PML4; the PDPT follows at +0x1000 and the page directory
/// (2 MiB pages identity-mapping the first GiB) at +0x2000.
pub const PML4: u64 = 0x10000;
/// The stack pointer when the input's ESP is zero.
pub const STACK: u32 = 0x8000;
/// RAM on the bus: 1 MiB keeps one execution cheap; addresses wrap.
pub const RAM_BYTES: usize = 1 << 20;
/// What RAM holds where nothing was put: HLT, so a wild jump ends a run.
pub const FILL: u8 = HLT;
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
/// The EFLAGS bit each bit 0-6 of the input's flags byte sets: CF, PF,
/// AF, ZF, SF, DF, OF. (The byte was masked with [`FLAGS_MASK`], which
/// left DF and OF, bits 10 and 11, out of reach.)
const FLAG_BITS: [u32; 7] = [fl::CF, fl::PF, fl::AF, fl::ZF, fl::SF, fl::DF, fl::OF];

/// GDT selectors: 32-bit code and data, 16-bit code and data, 64-bit
/// code, and the 64-bit TSS (two slots).
pub const SEL_CODE32: u16 = 0x08;
/// Flat 32-bit data.
pub const SEL_DATA32: u16 = 0x10;
/// 16-bit code, base 0, limit 64 KiB.
pub const SEL_CODE16: u16 = 0x18;
/// 16-bit data, base 0, limit 64 KiB.
pub const SEL_DATA16: u16 = 0x20;
/// 64-bit code (L = 1).
pub const SEL_CODE64: u16 = 0x28;
/// The 64-bit TSS (a 16-byte descriptor).
pub const SEL_TSS64: u16 = 0x30;
/// The long-mode vectors whose gates switch to IST 1: #UD, which random
/// code raises often, and #DF.
pub const IST_VECTORS: [u8; 2] = [6, 8];

const STATE_BYTES: usize = 33;
const HLT: u8 = 0xF4;

/// A slot of the flat GDT: its selector and the descriptor it holds.
#[derive(Debug, Clone, Copy)]
struct Slot {
    sel: u16,
    desc: u64,
}

impl Slot {
    const fn new(sel: u16, desc: u64) -> Self {
        Self { sel, desc }
    }

    /// The segment a load of the slot's selector gives.
    fn segment(self) -> Segment {
        Segment::from_descriptor(self.sel, self.desc)
    }
}

/// The flat segments: 4 GiB 32-bit code and data, 64 KiB 16-bit code
/// and data, 64-bit code.
const CODE32: Slot = Slot::new(SEL_CODE32, 0x00CF_9A00_0000_FFFF);
const DATA32: Slot = Slot::new(SEL_DATA32, 0x00CF_9200_0000_FFFF);
const CODE16: Slot = Slot::new(SEL_CODE16, 0x0000_9A00_0000_FFFF);
const DATA16: Slot = Slot::new(SEL_DATA16, 0x0000_9200_0000_FFFF);
const CODE64: Slot = Slot::new(SEL_CODE64, 0x00AF_9A00_0000_FFFF);

/// The CPU mode an input starts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Real mode, CS = 0.
    Real,
    /// 16-bit protected mode: 16-bit code and data segments, 286 gates.
    Pm16,
    /// 32-bit protected mode, flat segments, CPL 0, paging off.
    Pm32,
    /// 64-bit mode: paging on (the first GiB identity-mapped with 2 MiB
    /// pages), flat 64-bit code, an IST gate for [`IST_VECTORS`].
    Long,
    /// Compatibility mode: long mode as [`Mode::Long`] with a 32-bit code
    /// segment.
    Compat,
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
    /// RIP at the end.
    pub rip: u64,
    /// RSP at the end.
    pub rsp: u64,
    /// A digest of the final registers and RAM ([`run_cpu_digest`] only;
    /// zero from [`run_cpu`]): two runs of one input must agree on it.
    pub digest: u64,
}

/// One thread's CPU and bus, reused across inputs.
struct Rig {
    cpu: Cpu<FlatBus>,
    bus: FlatBus,
}

thread_local! {
    static RIG: RefCell<Rig> = RefCell::new(Rig {
        cpu: Cpu::new(CpuModel::qemu64()),
        bus: FlatBus::with_size(RAM_BYTES),
    });
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

/// Gate type bytes (P = 1, DPL 0): 286 interrupt gate, 386/64-bit
/// interrupt gate (SDM Vol. 3, 6.11 and 6.14.1).
const INT_GATE16: u64 = 0x86;
const INT_GATE32: u64 = 0x8E;
/// A present, busy 64-bit TSS descriptor's type byte (SDM Vol. 3, 8.2.3).
const TSS64_BUSY: u64 = 0x8B;

/// An 8-byte interrupt gate (16- or 32-bit) to `sel`:`off`.
fn gate(off: u64, sel: u16, kind: u64) -> u64 {
    (off & 0xFFFF) | u64::from(sel) << 16 | kind << 40 | (off >> 16 & 0xFFFF) << 48
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

/// The GDT every protected mode shares, and GDTR.
fn setup_gdt(cpu: &mut Cpu<FlatBus>, bus: &mut FlatBus) {
    let tss = TSS64;
    let tss_lo = 0x67 | (tss & 0xFF_FFFF) << 16 | TSS64_BUSY << 40 | (tss >> 24 & 0xFF) << 56;
    let slots = [
        CODE32,
        DATA32,
        CODE16,
        DATA16,
        CODE64,
        Slot::new(SEL_TSS64, tss_lo),
        Slot::new(SEL_TSS64 + 8, tss >> 32),
    ];
    for slot in slots {
        poke64(bus, GDT + u64::from(slot.sel), slot.desc);
    }
    cpu.s.gdtr = TableReg {
        base: GDT,
        limit: SEL_TSS64 + 15,
    };
    cpu.s.cr0 |= cr0::PE;
}

/// Protected mode in the `code` and `data` segments, with 8-byte gates
/// of `kind` to `code`:[`HANDLER`].
fn setup_pm(cpu: &mut Cpu<FlatBus>, bus: &mut FlatBus, (code, data): (Slot, Slot), kind: u64) {
    setup_gdt(cpu, bus);
    for v in 0..256u64 {
        poke64(bus, IDT + 8 * v, gate(HANDLER, code.sel, kind));
    }
    let s = &mut cpu.s;
    s.idtr = TableReg {
        base: IDT,
        limit: 256 * 8 - 1,
    };
    s.seg = [data.segment(); 6];
    s.set_cs(code.segment(), 0);
}

/// Long mode (IA-32e, SDM Vol. 3, 10.8.5): 4-level paging identity-maps
/// the first GiB, 16-byte gates lead to the HLT in 64-bit code, and
/// [`IST_VECTORS`] switch to [`IST_STACK`] through the TSS. `compat`
/// runs the code in a 32-bit segment (compatibility mode).
fn setup_long(cpu: &mut Cpu<FlatBus>, bus: &mut FlatBus, compat: bool) {
    setup_gdt(cpu, bus);
    poke64(bus, PML4, (PML4 + 0x1000) | pte::P | pte::RW);
    poke64(bus, PML4 + 0x1000, (PML4 + 0x2000) | pte::P | pte::RW);
    for i in 0..512 {
        poke64(
            bus,
            PML4 + 0x2000 + 8 * i,
            (i << 21) | pte::PS | pte::P | pte::RW,
        );
    }
    for v in 0..256u64 {
        let ist = u64::from(IST_VECTORS.contains(&(v as u8)));
        let lo = gate(HANDLER, SEL_CODE64, INT_GATE32) | ist << 32;
        poke64(bus, IDT64 + 16 * v, lo);
        poke64(bus, IDT64 + 16 * v + 8, HANDLER >> 32);
    }
    // IST1 is at offset 0x24 of the 64-bit TSS (SDM Vol. 3, Figure 8-11).
    poke64(bus, TSS64 + 0x24, IST_STACK);
    let s = &mut cpu.s;
    s.idtr = TableReg {
        base: IDT64,
        limit: 256 * 16 - 1,
    };
    s.tr = Segment::from_descriptor(SEL_TSS64, bus_desc(bus, SEL_TSS64));
    s.cr3 = PML4;
    s.cr4 = cr4::PAE;
    s.efer = efer::LME | efer::LMA;
    s.cr0 = cr0::PE | cr0::PG | cr0::ET | cr0::NE;
    s.seg = [DATA32.segment(); 6];
    s.set_cs(if compat { CODE32 } else { CODE64 }.segment(), 0);
}

fn bus_desc(bus: &FlatBus, sel: u16) -> u64 {
    let at = (GDT + u64::from(sel)) as usize;
    let mut b = [0u8; 8];
    b.copy_from_slice(&bus.ram[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Puts the rig back in a known state and loads `data` in `mode`.
fn load(rig: &mut Rig, mode: Mode, data: &[u8]) {
    let Rig { cpu, bus } = rig;
    bus.ram.fill(FILL);
    bus.icount = 0;
    cpu.reset();
    match mode {
        Mode::Real => setup_real(cpu, bus),
        Mode::Pm16 => setup_pm(cpu, bus, (CODE16, DATA16), INT_GATE16),
        Mode::Pm32 => setup_pm(cpu, bus, (CODE32, DATA32), INT_GATE32),
        Mode::Long => setup_long(cpu, bus, false),
        Mode::Compat => setup_long(cpu, bus, true),
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
    let byte = data.get(STATE_BYTES - 1).copied().unwrap_or(0);
    s.flags = FLAG_BITS
        .iter()
        .enumerate()
        .filter(|(i, _)| byte >> i & 1 != 0)
        .fold(fl::RESERVED1, |f, (_, &bit)| f | bit);
    s.rip = CODE;
    cpu.flush_code_cache();
}

/// FNV-1a over the registers a run changes and all of RAM.
fn digest(cpu: &Cpu<FlatBus>, bus: &FlatBus) -> u64 {
    let s = &cpu.s;
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    let mut mix = |v: u64| {
        h ^= v;
        h = h.wrapping_mul(0x100_0000_01B3);
    };
    s.gpr.iter().for_each(|&r| mix(r));
    [
        s.rip,
        u64::from(s.eflags()),
        s.cr0,
        s.cr3,
        s.cr4,
        s.efer,
        s.icount,
    ]
    .into_iter()
    .for_each(&mut mix);
    s.seg
        .iter()
        .for_each(|g| mix(u64::from(g.selector) ^ g.base << 16));
    s.simd.xmm.iter().for_each(|&x| {
        mix(x as u64);
        mix((x >> 64) as u64);
    });
    mix(u64::from(s.simd.mxcsr));
    bus.ram.chunks_exact(8).for_each(|c| {
        mix(u64::from_le_bytes([
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
        ]))
    });
    h
}

/// Runs one input in `mode` and checks the run's invariants: it ends
/// within [`BUDGET`] + [`OVERSHOOT`] of work and the instruction count
/// never goes back. Panics (the fuzzer's finding) if an invariant breaks.
pub fn run_cpu(mode: Mode, data: &[u8]) -> Outcome {
    run(mode, data, false, Dispatch::Threaded)
}

/// [`run_cpu`], with [`Outcome::digest`] filled in (for the replay test
/// that checks a run is a pure function of its input).
pub fn run_cpu_digest(mode: Mode, data: &[u8]) -> Outcome {
    run(mode, data, true, Dispatch::Threaded)
}

/// [`run_cpu_digest`] with every record run by itself
/// ([`Cpu::unthreaded`]): the differential test of threaded dispatch
/// compares the two on the same input.
pub fn run_cpu_digest_unthreaded(mode: Mode, data: &[u8]) -> Outcome {
    run(mode, data, true, Dispatch::Unthreaded)
}

/// [`run_cpu_digest`] one instruction at a time ([`Cpu::step`], as the
/// debugger steps): no traces, so no record depends on another. The
/// differential test of traces that go through direct jumps compares it
/// with [`run_cpu_digest`] on inputs that halt within the budget.
pub fn run_cpu_digest_stepped(mode: Mode, data: &[u8]) -> Outcome {
    run(mode, data, true, Dispatch::Stepped)
}

/// How [`run`] executes an input.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dispatch {
    /// [`Cpu::run`], traces threaded.
    Threaded,
    /// [`Cpu::run`] with [`Cpu::unthreaded`].
    Unthreaded,
    /// [`Cpu::step`] until the CPU halts or the budget is spent.
    Stepped,
}

fn run(mode: Mode, data: &[u8], want_digest: bool, how: Dispatch) -> Outcome {
    RIG.with(|rig| {
        let mut rig = rig.borrow_mut();
        // Before `load`, which drops all decoded code.
        rig.cpu.unthreaded = how == Dispatch::Unthreaded;
        load(&mut rig, mode, data);
        let Rig { cpu, bus } = &mut *rig;
        let (before, work_before) = (cpu.s.icount, cpu.s.work());
        let exit = if how == Dispatch::Stepped {
            loop {
                let exit = cpu.step(bus);
                if exit != RunExit::Budget || cpu.s.work() - work_before >= BUDGET {
                    break exit;
                }
            }
        } else {
            cpu.run(bus, BUDGET)
        };
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
            rip: cpu.s.rip,
            rsp: cpu.s.gpr[reg::SP],
            digest: if want_digest { digest(cpu, bus) } else { 0 },
        }
    })
}

/// Tests of one vector file run by [`conform_vectors`] at most.
pub const MAX_VECTOR_TESTS: usize = 16;

/// A SingleStepTests vector file (MOO or JSON, decompressed) through the
/// parser `anyx86 conform` uses, then its first [`MAX_VECTOR_TESTS`]
/// tests through the runner. Invariants: no panic; a parsed file holds
/// no more tests than its bytes can describe. Returns the parsed test
/// count and how many passed, or the parser's refusal.
pub fn conform_vectors(data: &[u8]) -> Result<(usize, u64), String> {
    use crate::singlestep::{parse_any, Exclusions, Runner};
    let mut file = parse_any(data)?;
    let n = file.tests.len();
    assert!(
        n <= data.len(),
        "{n} tests parsed from {} bytes",
        data.len()
    );
    file.tests.truncate(MAX_VECTOR_TESTS);
    let exclusions = Exclusions::parse(crate::singlestep::default_exclusions(&file.cpu))?;
    let mut runner = Runner::new(Runner::bus_for(&file.cpu), exclusions);
    let report = runner.run_file("fuzz", &file);
    Ok((n, report.passed))
}

/// xorshift64* (Vigna, "An experimental exploration of Marsaglia's
/// xorshift generators"): small, seedable and the same stream on every
/// host, so a failure names a reproducible stream. The random-stream
/// tests and `anyx86 lockstep --random` draw from it. The state must not
/// be zero; [`Rng::seeded`] takes any seed.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// A generator for any `seed` (0 included): the seed is spread over
    /// the state and made odd.
    pub fn seeded(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// One random byte (the low bits of the next value).
    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }

    /// `n` random bytes, one value each.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }
}
