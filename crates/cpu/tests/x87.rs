//! The x87 FPU on a flat bus: tiny instruction sequences (bytes assembled
//! with nasm, the source in the comment beside them) run in 32-bit
//! protected mode or real mode, then the FPU state, memory and the
//! exception taken are checked.
//!
//! Expected bit patterns marked "real x87" were produced on an x86-64 host
//! by a throwaway C program with `long double` and inline assembly running
//! the same instructions.

use crate::common::long64::{CODE, STUBS};
use crate::common::{prot32, FlatBus};
use anyx86_cpu::arch::{attr, cr0, reg, sreg, Segment, TableReg};
use anyx86_cpu::cpuid::{edx1, CpuModel};
use anyx86_cpu::fpu::{cw, sw};
use anyx86_cpu::Cpu;
use anyx86_softfloat::F80;

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
enum Exit {
    /// The final HLT was reached.
    Done,
    /// An exception with this vector was delivered.
    Vector(u8),
    /// The CPU stopped elsewhere (frozen on FERR#) at this instruction.
    Frozen(u64),
}

struct M {
    cpu: Cpu<FlatBus>,
    bus: FlatBus,
}

impl M {
    fn new(model: CpuModel) -> Self {
        let mut m = Self {
            cpu: Cpu::new(model),
            bus: FlatBus::new(),
        };
        for v in 0..32 {
            m.bus.ram[(STUBS + v) as usize] = 0xF4;
        }
        m
    }

    /// Flat 32-bit protected mode, CPL 0, CR0.NE set, FPU after FNINIT.
    fn pm32() -> Self {
        Self::pm32_with(CpuModel::qemu32())
    }

    fn pm32_with(model: CpuModel) -> Self {
        let mut m = Self::new(model);
        prot32::enter(&mut m.cpu, &mut m.bus);
        m.cpu.s.fpu.init();
        m
    }

    /// Real mode with CS:IP = 0080:0800 (linear CODE), DS = ES = SS = 0,
    /// CR0.NE set, FPU after FNINIT.
    fn real() -> Self {
        let mut m = Self::new(CpuModel::qemu32());
        for v in 0..32u64 {
            m.poke(4 * v, &((STUBS + v) as u32).to_le_bytes());
        }
        let s = &mut m.cpu.s;
        let data = attr::P | attr::S | attr::RW | attr::ACCESSED;
        s.seg = [Segment::real(0, data); 6];
        s.seg[sreg::CS] = Segment::real(0x80, data | attr::CODE);
        s.idtr = TableReg {
            base: 0,
            limit: 0x3FF,
        };
        s.cr0 = cr0::ET | cr0::NE;
        s.gpr[reg::SP] = 0x7000;
        s.update_mode();
        s.fpu.init();
        m
    }

    /// Runs `code` (then a HLT) from linear address CODE.
    fn run(&mut self, code: &[u8]) -> Exit {
        let end = CODE + code.len() as u64;
        self.poke(CODE, code);
        self.bus.ram[end as usize] = 0xF4;
        self.cpu.flush_code_cache();
        let s = &mut self.cpu.s;
        s.rip = CODE - s.seg[sreg::CS].base;
        s.halted = false;
        prot32::run_sliced(&mut self.cpu, &mut self.bus);
        let lin = self.cpu.s.rip + self.cpu.s.seg[sreg::CS].base;
        if lin == end + 1 {
            Exit::Done
        } else if (STUBS + 1..=STUBS + 32).contains(&lin) {
            Exit::Vector((lin - STUBS - 1) as u8)
        } else {
            Exit::Frozen(lin)
        }
    }

    fn poke(&mut self, a: u64, b: &[u8]) {
        self.bus.ram[a as usize..a as usize + b.len()].copy_from_slice(b);
    }

    fn poke64(&mut self, a: u64, v: u64) {
        self.poke(a, &v.to_le_bytes());
    }

    fn peek(&self, a: u64, n: usize) -> &[u8] {
        &self.bus.ram[a as usize..a as usize + n]
    }

    fn peek16(&self, a: u64) -> u16 {
        u16::from_le_bytes([self.bus.ram[a as usize], self.bus.ram[a as usize + 1]])
    }

    fn peek32(&self, a: u64) -> u32 {
        let b = self.peek(a, 4);
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The instruction pointer an exception pushed (32-bit frame; `err`
    /// when the vector pushes an error code).
    fn fault_eip(&self, err: bool) -> u32 {
        self.peek32(self.cpu.s.gpr[reg::SP] + if err { 4 } else { 0 })
    }

    fn push(&mut self, v: f64) {
        self.cpu.s.fpu.push(F80::from_bits(x(v)));
    }

    /// ST(i) as bits.
    fn st(&self, i: u8) -> u128 {
        self.cpu.s.fpu.st(i).to_bits()
    }

    fn sw(&self) -> u16 {
        self.cpu.s.fpu.status()
    }

    fn top(&self) -> u8 {
        self.cpu.s.fpu.top
    }
}

/// The exact extended-precision bits of a normal or zero double.
fn x(v: f64) -> u128 {
    let b = v.to_bits();
    let sign = u128::from(b >> 63) << 79;
    if v == 0.0 {
        return sign;
    }
    let e = u128::from((b >> 52) & 0x7FF) + 16383 - 1023;
    sign | e << 64 | 1 << 63 | u128::from(b & ((1 << 52) - 1)) << 11
}

/// The real indefinite.
const INDEFINITE: u128 = 0xFFFF_C000_0000_0000_0000;
/// C3, C2, C1, C0.
const CC: u16 = sw::C3 | sw::C2 | sw::C1 | sw::C0;

// ---- the stack -------------------------------------------------------

#[test]
fn pushes_set_top_and_tags() {
    let mut m = M::pm32();
    // fld1; fldz; fldpi
    assert_eq!(m.run(&[0xD9, 0xE8, 0xD9, 0xEE, 0xD9, 0xEB]), Exit::Done);
    assert_eq!(m.top(), 5);
    assert_eq!(m.sw() & sw::TOP, 5 << 11);
    // R7 = 1.0 valid (00), R6 = 0 zero (01), R5 = pi valid (00), the
    // rest empty (11).
    assert_eq!(m.cpu.s.fpu.tag_word(), 0x13FF);
    assert_eq!(m.st(0), 0x4000_C90F_DAA2_2168_C235, "FLDPI, real x87");
    assert_eq!(m.st(1), 0);
    assert_eq!(m.st(2), x(1.0));
    // fstp st0; fincstp; fdecstp; ffree st1
    assert_eq!(
        m.run(&[0xDD, 0xD8, 0xD9, 0xF7, 0xD9, 0xF6, 0xDD, 0xC1]),
        Exit::Done
    );
    assert_eq!(m.top(), 6);
    assert_eq!(
        m.cpu.s.fpu.tag_word(),
        0xDFFF,
        "only R6 (0.0, tagged zero) left"
    );
}

#[test]
fn power_on_state_is_a_full_stack_of_zeros() {
    let m = M::new(CpuModel::qemu32());
    let f = &m.cpu.s.fpu;
    assert_eq!((f.cw, f.status(), f.tag_word()), (0x0040, 0, 0x5555));
}

#[test]
fn stack_overflow_masked_response() {
    let mut m = M::pm32();
    // fld1 x 8, then fldpi
    let mut code = [0xD9, 0xE8].repeat(8);
    code.extend_from_slice(&[0xD9, 0xEB]);
    assert_eq!(m.run(&code), Exit::Done);
    // Real x87: SW 3A41 (TOP 7, C1, SF, IE), ST(0) the indefinite.
    assert_eq!(m.sw(), 0x3A41);
    assert_eq!(m.st(0), INDEFINITE);
    assert_eq!(m.st(1), x(1.0));
}

#[test]
fn stack_overflow_unmasked_pushes_nothing() {
    let mut m = M::pm32();
    for _ in 0..8 {
        m.push(1.0);
    }
    m.cpu.s.fpu.set_control(cw::INIT & !cw::IM);
    // fldpi
    assert_eq!(m.run(&[0xD9, 0xEB]), Exit::Done);
    assert_eq!(m.top(), 0);
    assert_eq!(m.sw() & 0xFF, sw::ES | sw::SF | sw::IE);
    assert_ne!(m.sw() & sw::C1, 0);
}

#[test]
fn stack_underflow_masked_responses() {
    let mut m = M::pm32();
    // fcom st1 on an empty stack: unordered, IE and SF (real x87: 4541).
    assert_eq!(m.run(&[0xD8, 0xD1]), Exit::Done);
    assert_eq!(m.sw(), 0x4541);
    let mut m = M::pm32();
    // fld1; fadd st0,st1 with ST(1) empty: ST(0) = indefinite.
    assert_eq!(m.run(&[0xD9, 0xE8, 0xD8, 0xC1]), Exit::Done);
    assert_eq!((m.sw(), m.st(0)), (0x3841, INDEFINITE));
    let mut m = M::pm32();
    m.poke(0x8010, &[0xAA; 4]);
    // fstp dword [0x8010] from an empty stack: the single indefinite.
    assert_eq!(m.run(&[0xD9, 0x1D, 0x10, 0x80, 0, 0]), Exit::Done);
    assert_eq!(m.peek32(0x8010), 0xFFC0_0000);
    let mut m = M::pm32();
    // fistp word [0x8010] likewise: the integer indefinite, and the pop.
    assert_eq!(m.run(&[0xDF, 0x1D, 0x10, 0x80, 0, 0]), Exit::Done);
    assert_eq!(m.peek16(0x8010), 0x8000);
    assert_eq!(m.top(), 1);
}

#[test]
fn unmasked_underflow_changes_nothing_but_the_status() {
    let mut m = M::pm32();
    m.push(1.0);
    m.cpu.s.fpu.set_control(cw::INIT & !cw::IM);
    m.poke(0x8010, &[0xAA; 4]);
    // faddp st1,st0 (ST(1) empty); then fnstsw ax (no wait).
    assert_eq!(m.run(&[0xDE, 0xC1, 0xDF, 0xE0]), Exit::Done);
    assert_eq!((m.top(), m.st(0)), (7, x(1.0)));
    assert_eq!(m.cpu.s.gpr[0] as u16 & 0xFF, sw::ES | sw::SF | sw::IE);
}

// ---- arithmetic ------------------------------------------------------

/// Every arithmetic form with ST(0) = 2 and ST(1) = 8 (and 8 in memory as
/// m32fp at 8000h, m32int at 8004h, m16int at 8008h, m64fp at 8010h):
/// (bytes, source, ST(0), ST(1) or None after a pop).
const ARITH: &[(&[u8], &str, f64, Option<f64>)] = &[
    (&[0xD8, 0xC1], "fadd st0,st1", 10.0, Some(8.0)),
    (&[0xDC, 0xC1], "fadd st1,st0", 2.0, Some(10.0)),
    (&[0xDE, 0xC1], "faddp st1,st0", 10.0, None),
    (&[0xD8, 0xE1], "fsub st0,st1", -6.0, Some(8.0)),
    (&[0xD8, 0xE9], "fsubr st0,st1", 6.0, Some(8.0)),
    (&[0xDC, 0xE9], "fsub st1,st0", 2.0, Some(6.0)),
    (&[0xDC, 0xE1], "fsubr st1,st0", 2.0, Some(-6.0)),
    (&[0xDE, 0xE9], "fsubp st1,st0", 6.0, None),
    (&[0xDE, 0xE1], "fsubrp st1,st0", -6.0, None),
    (&[0xD8, 0xC9], "fmul st0,st1", 16.0, Some(8.0)),
    (&[0xDC, 0xC9], "fmul st1,st0", 2.0, Some(16.0)),
    (&[0xDE, 0xC9], "fmulp st1,st0", 16.0, None),
    (&[0xD8, 0xF1], "fdiv st0,st1", 0.25, Some(8.0)),
    (&[0xD8, 0xF9], "fdivr st0,st1", 4.0, Some(8.0)),
    (&[0xDC, 0xF9], "fdiv st1,st0", 2.0, Some(4.0)),
    (&[0xDC, 0xF1], "fdivr st1,st0", 2.0, Some(0.25)),
    (&[0xDE, 0xF9], "fdivp st1,st0", 4.0, None),
    (&[0xDE, 0xF1], "fdivrp st1,st0", 0.25, None),
    (
        &[0xD8, 0x05, 0x00, 0x80, 0, 0],
        "fadd dword [0x8000]",
        10.0,
        Some(8.0),
    ),
    (
        &[0xD8, 0x25, 0x00, 0x80, 0, 0],
        "fsub dword [0x8000]",
        -6.0,
        Some(8.0),
    ),
    (
        &[0xD8, 0x2D, 0x00, 0x80, 0, 0],
        "fsubr dword [0x8000]",
        6.0,
        Some(8.0),
    ),
    (
        &[0xD8, 0x0D, 0x00, 0x80, 0, 0],
        "fmul dword [0x8000]",
        16.0,
        Some(8.0),
    ),
    (
        &[0xD8, 0x35, 0x00, 0x80, 0, 0],
        "fdiv dword [0x8000]",
        0.25,
        Some(8.0),
    ),
    (
        &[0xD8, 0x3D, 0x00, 0x80, 0, 0],
        "fdivr dword [0x8000]",
        4.0,
        Some(8.0),
    ),
    (
        &[0xDC, 0x05, 0x10, 0x80, 0, 0],
        "fadd qword [0x8010]",
        10.0,
        Some(8.0),
    ),
    (
        &[0xDC, 0x25, 0x10, 0x80, 0, 0],
        "fsub qword [0x8010]",
        -6.0,
        Some(8.0),
    ),
    (
        &[0xDC, 0x2D, 0x10, 0x80, 0, 0],
        "fsubr qword [0x8010]",
        6.0,
        Some(8.0),
    ),
    (
        &[0xDC, 0x0D, 0x10, 0x80, 0, 0],
        "fmul qword [0x8010]",
        16.0,
        Some(8.0),
    ),
    (
        &[0xDC, 0x35, 0x10, 0x80, 0, 0],
        "fdiv qword [0x8010]",
        0.25,
        Some(8.0),
    ),
    (
        &[0xDC, 0x3D, 0x10, 0x80, 0, 0],
        "fdivr qword [0x8010]",
        4.0,
        Some(8.0),
    ),
    (
        &[0xDA, 0x05, 0x04, 0x80, 0, 0],
        "fiadd dword [0x8004]",
        10.0,
        Some(8.0),
    ),
    (
        &[0xDA, 0x25, 0x04, 0x80, 0, 0],
        "fisub dword [0x8004]",
        -6.0,
        Some(8.0),
    ),
    (
        &[0xDA, 0x2D, 0x04, 0x80, 0, 0],
        "fisubr dword [0x8004]",
        6.0,
        Some(8.0),
    ),
    (
        &[0xDA, 0x0D, 0x04, 0x80, 0, 0],
        "fimul dword [0x8004]",
        16.0,
        Some(8.0),
    ),
    (
        &[0xDA, 0x35, 0x04, 0x80, 0, 0],
        "fidiv dword [0x8004]",
        0.25,
        Some(8.0),
    ),
    (
        &[0xDA, 0x3D, 0x04, 0x80, 0, 0],
        "fidivr dword [0x8004]",
        4.0,
        Some(8.0),
    ),
    (
        &[0xDE, 0x05, 0x08, 0x80, 0, 0],
        "fiadd word [0x8008]",
        10.0,
        Some(8.0),
    ),
    (
        &[0xDE, 0x25, 0x08, 0x80, 0, 0],
        "fisub word [0x8008]",
        -6.0,
        Some(8.0),
    ),
    (
        &[0xDE, 0x2D, 0x08, 0x80, 0, 0],
        "fisubr word [0x8008]",
        6.0,
        Some(8.0),
    ),
    (
        &[0xDE, 0x0D, 0x08, 0x80, 0, 0],
        "fimul word [0x8008]",
        16.0,
        Some(8.0),
    ),
    (
        &[0xDE, 0x35, 0x08, 0x80, 0, 0],
        "fidiv word [0x8008]",
        0.25,
        Some(8.0),
    ),
    (
        &[0xDE, 0x3D, 0x08, 0x80, 0, 0],
        "fidivr word [0x8008]",
        4.0,
        Some(8.0),
    ),
];

#[test]
fn every_arithmetic_form() {
    for &(code, name, st0, st1) in ARITH {
        let mut m = M::pm32();
        m.poke(0x8000, &8.0f32.to_le_bytes());
        m.poke(0x8004, &8i32.to_le_bytes());
        m.poke(0x8008, &8i16.to_le_bytes());
        m.poke(0x8010, &8.0f64.to_le_bytes());
        m.push(8.0);
        m.push(2.0);
        assert_eq!(m.run(code), Exit::Done, "{name}");
        assert_eq!(m.st(0), x(st0), "{name}: ST(0)");
        match st1 {
            Some(v) => {
                assert_eq!(m.st(1), x(v), "{name}: ST(1)");
                assert_eq!(m.top(), 6, "{name}: no pop");
            }
            None => assert_eq!(m.top(), 7, "{name}: popped"),
        }
        assert_eq!(m.sw() & 0xFF, 0, "{name}: exact, no exception");
    }
}

#[test]
fn division_rounds_and_reports_c1() {
    let mut m = M::pm32();
    m.push(3.0);
    m.push(1.0);
    // fdiv st0,st1: 1/3 rounds up (C1) and is inexact (PE).
    assert_eq!(m.run(&[0xD8, 0xF1]), Exit::Done);
    assert_eq!(m.st(0), 0x3FFD_AAAA_AAAA_AAAA_AAAB);
    assert_eq!(m.sw() & (sw::C1 | sw::PE), sw::C1 | sw::PE);
}

#[test]
fn unary_functions() {
    let mut m = M::pm32();
    m.push(2.0);
    // fsqrt: real x87 3FFF_B504F333F9DE6484, PE, rounded down.
    assert_eq!(m.run(&[0xD9, 0xFA]), Exit::Done);
    assert_eq!(m.st(0), 0x3FFF_B504_F333_F9DE_6484);
    assert_eq!(m.sw() & (sw::C1 | 0xFF), sw::PE);
    let mut m = M::pm32();
    m.push(-2.5);
    // frndint: -2 (ties to even); fchs: 2; fabs of -0 later.
    assert_eq!(m.run(&[0xD9, 0xFC]), Exit::Done);
    assert_eq!(m.st(0), x(-2.0));
    assert_eq!(m.run(&[0xD9, 0xE0]), Exit::Done);
    assert_eq!(m.st(0), x(2.0));
    m.push(-0.0);
    assert_eq!(m.run(&[0xD9, 0xE1]), Exit::Done);
    assert_eq!(m.st(0), 0);
}

#[test]
fn fscale_and_fxtract() {
    let mut m = M::pm32();
    m.push(3.7);
    m.push(1.5);
    // fscale: 1.5 x 2^3 = 12 (real x87 4002_C000000000000000).
    assert_eq!(m.run(&[0xD9, 0xFD]), Exit::Done);
    assert_eq!(m.st(0), 0x4002_C000_0000_0000_0000);
    let mut m = M::pm32();
    m.push(10.0);
    // fxtract: ST(0) = 1.25, ST(1) = 3 (real x87).
    assert_eq!(m.run(&[0xD9, 0xF4]), Exit::Done);
    assert_eq!(m.st(0), 0x3FFF_A000_0000_0000_0000);
    assert_eq!(m.st(1), 0x4000_C000_0000_0000_0000);
    assert_eq!(m.top(), 6);
}

#[test]
fn fxtract_overflow_leaves_the_indefinite_twice() {
    let mut m = M::pm32();
    for _ in 0..8 {
        m.push(1.0);
    }
    // fxtract with a full stack: real x87 SW 3A41, ST(0) = ST(1) = indefinite.
    assert_eq!(m.run(&[0xD9, 0xF4]), Exit::Done);
    assert_eq!(m.sw(), 0x3A41);
    assert_eq!((m.st(0), m.st(1)), (INDEFINITE, INDEFINITE));
}

#[test]
fn fprem_partial_remainder_loop() {
    let mut m = M::pm32();
    m.push(7.0);
    // 1e30 as a long double.
    m.cpu.s.fpu.push(F80::from_bits(0x4062_C9F2_C9CD_0467_4EDF));
    // fprem; fnstsw ax. Real x87: a partial step (C2 = 1) to
    // 403D_8CE9DBE000000000, then the final remainder 3 with quotient
    // bits Q1 (C3) and Q0 (C1) set.
    assert_eq!(m.run(&[0xD9, 0xF8, 0xDF, 0xE0]), Exit::Done);
    assert_eq!(m.st(0), 0x403D_8CE9_DBE0_0000_0000);
    assert_eq!(m.cpu.s.gpr[0] as u16 & CC, sw::C2);
    assert_eq!(m.run(&[0xD9, 0xF8, 0xDF, 0xE0]), Exit::Done);
    assert_eq!(m.st(0), x(3.0));
    assert_eq!(m.cpu.s.gpr[0] as u16 & CC, sw::C3 | sw::C1);
    assert_eq!(m.st(1), x(7.0));
}

// ---- comparisons -------------------------------------------------------

/// Runs `code; fnstsw ax` with ST(0) = a, ST(1) = b, and returns C3-C0
/// and the exception flags.
fn compare(code: &[u8], a: F80, b: F80) -> (u16, u16, M) {
    let mut m = M::pm32();
    m.poke(0x8000, &8i32.to_le_bytes());
    m.cpu.s.fpu.push(b);
    m.cpu.s.fpu.push(a);
    let mut c = code.to_vec();
    c.extend_from_slice(&[0xDF, 0xE0]);
    assert_eq!(m.run(&c), Exit::Done);
    let ax = m.cpu.s.gpr[0] as u16;
    (ax & CC, ax & 0x7F, m)
}

fn f(v: f64) -> F80 {
    F80::from_bits(x(v))
}

#[test]
fn fcom_sets_c0_c2_c3() {
    let fcom = [0xD8, 0xD1]; // fcom st1
    assert_eq!(compare(&fcom, f(2.0), f(8.0)).0, sw::C0);
    assert_eq!(compare(&fcom, f(8.0), f(2.0)).0, 0);
    assert_eq!(compare(&fcom, f(8.0), f(8.0)).0, sw::C3);
    assert_eq!(compare(&fcom, F80::ZERO, f(-0.0)).0, sw::C3);
    let nan = F80::INDEFINITE;
    let (cc, ex, _) = compare(&fcom, f(1.0), nan);
    assert_eq!(
        (cc, ex),
        (sw::C3 | sw::C2 | sw::C0, sw::IE),
        "FCOM: a QNaN is invalid"
    );
    // fucom st1: a QNaN is not.
    let (cc, ex, _) = compare(&[0xDD, 0xE1], f(1.0), nan);
    assert_eq!((cc, ex), (sw::C3 | sw::C2 | sw::C0, 0));
}

#[test]
fn compare_pops_and_memory_forms() {
    // fcompp: compares with ST(1) and pops both.
    let (cc, _, m) = compare(&[0xDE, 0xD9], f(2.0), f(8.0));
    assert_eq!((cc, m.top()), (sw::C0, 0));
    // fucompp
    let (cc, _, m) = compare(&[0xDA, 0xE9], f(8.0), f(8.0));
    assert_eq!((cc, m.top()), (sw::C3, 0));
    // fcomp st1
    let (_, _, m) = compare(&[0xD8, 0xD9], f(8.0), f(8.0));
    assert_eq!(m.top(), 7);
    // ficom dword [0x8000] (8): 2 < 8.
    assert_eq!(
        compare(&[0xDA, 0x15, 0x00, 0x80, 0, 0], f(2.0), f(0.0)).0,
        sw::C0
    );
    // ftst: -1 < 0.
    assert_eq!(compare(&[0xD9, 0xE4], f(-1.0), f(0.0)).0, sw::C0);
}

#[test]
fn fcomi_sets_eflags() {
    let flags = |code: &[u8], a: f64, b: F80| {
        let mut m = M::pm32();
        m.cpu.s.fpu.push(b);
        m.push(a);
        // Start with every arithmetic flag set: OF, SF and AF must clear.
        m.cpu.s.set_arith(0x8D5);
        assert_eq!(m.run(code), Exit::Done);
        (m.cpu.s.eflags() & 0x8D5, m.top(), m.sw() & 0x7F)
    };
    const ZF: u32 = 0x40;
    const PF: u32 = 0x04;
    const CF: u32 = 0x01;
    // fcomi st1
    assert_eq!(flags(&[0xDB, 0xF1], 2.0, f(8.0)), (CF, 6, 0));
    assert_eq!(flags(&[0xDB, 0xF1], 8.0, f(2.0)), (0, 6, 0));
    assert_eq!(flags(&[0xDB, 0xF1], 8.0, f(8.0)), (ZF, 6, 0));
    assert_eq!(
        flags(&[0xDB, 0xF1], 8.0, F80::INDEFINITE),
        (ZF | PF | CF, 6, 1)
    );
    // fucomip st1: quiet, and pops.
    assert_eq!(
        flags(&[0xDF, 0xE9], 8.0, F80::INDEFINITE),
        (ZF | PF | CF, 7, 0)
    );
    // fcomip st1
    assert_eq!(flags(&[0xDF, 0xF1], 2.0, f(8.0)), (CF, 7, 0));
}

#[test]
fn fxam_classes() {
    let class = |v: F80| {
        let mut m = M::pm32();
        m.cpu.s.fpu.push(v);
        assert_eq!(m.run(&[0xD9, 0xE5]), Exit::Done); // fxam
        m.sw() & CC
    };
    assert_eq!(class(f(1.0)), sw::C2);
    assert_eq!(class(f(-0.0)), sw::C3 | sw::C1);
    assert_eq!(class(F80::new(false, 0, 1)), sw::C3 | sw::C2, "denormal");
    assert_eq!(class(F80::INFINITY), sw::C2 | sw::C0);
    assert_eq!(class(F80::INDEFINITE), sw::C1 | sw::C0, "NaN (negative)");
    assert_eq!(
        class(F80::new(false, 0x3FFF, 1 << 62)),
        0,
        "unnormal: unsupported"
    );
    // An empty register: C3 and C0, C1 the sign of the stale contents
    // (real x87: fld1; fchs; ffree st0; fxam gives 7B00).
    let mut m = M::pm32();
    // fld1; fchs; ffree st0; fxam
    assert_eq!(
        m.run(&[0xD9, 0xE8, 0xD9, 0xE0, 0xDD, 0xC0, 0xD9, 0xE5]),
        Exit::Done
    );
    assert_eq!(m.sw(), 0x7B00);
}

// ---- transfers -----------------------------------------------------------

#[test]
fn loads_and_stores_of_every_format() {
    let mut m = M::pm32();
    m.poke(0x8000, &(-1.5f32).to_le_bytes());
    // fld dword [0x8000]; fstp qword [0x8010]
    assert_eq!(
        m.run(&[0xD9, 0x05, 0, 0x80, 0, 0, 0xDD, 0x1D, 0x10, 0x80, 0, 0]),
        Exit::Done
    );
    assert_eq!(m.peek(0x8010, 8), (-1.5f64).to_le_bytes());
    m.poke(0x8000, &(-12345678901234i64).to_le_bytes());
    // fild qword [0x8000]; fistp qword [0x8010]
    assert_eq!(
        m.run(&[0xDF, 0x2D, 0, 0x80, 0, 0, 0xDF, 0x3D, 0x10, 0x80, 0, 0]),
        Exit::Done
    );
    assert_eq!(m.peek(0x8010, 8), (-12345678901234i64).to_le_bytes());
    // An SNaN in m80 loads and stores unchanged (no IE for FLD m80).
    let snan = F80::new(false, 0x7FFF, 1 << 63 | 5).to_le_bytes();
    m.poke(0x8000, &snan);
    // fld tword [0x8000]; fstp tword [0x8010]
    assert_eq!(
        m.run(&[0xDB, 0x2D, 0, 0x80, 0, 0, 0xDB, 0x3D, 0x10, 0x80, 0, 0]),
        Exit::Done
    );
    assert_eq!(m.peek(0x8010, 10), snan);
    assert_eq!(m.sw(), 0);
    m.poke(0x8000, &(-300i16).to_le_bytes());
    // fild word [0x8000]; fist word [0x8010] (no pop)
    assert_eq!(
        m.run(&[0xDF, 0x05, 0, 0x80, 0, 0, 0xDF, 0x15, 0x10, 0x80, 0, 0]),
        Exit::Done
    );
    assert_eq!(m.peek16(0x8010), (-300i16) as u16);
    assert_eq!((m.top(), m.st(0)), (7, x(-300.0)));
}

#[test]
fn fst_m32_rounds_with_c1() {
    let mut m = M::pm32();
    m.cpu.s.fpu.push(F80::from_bits(0x3FFD_AAAA_AAAA_AAAA_AAAB)); // 1/3
                                                                  // fst dword [0x8010]: real x87 3EAAAAAB, C1 and PE.
    assert_eq!(m.run(&[0xD9, 0x15, 0x10, 0x80, 0, 0]), Exit::Done);
    assert_eq!(m.peek32(0x8010), 0x3EAA_AAAB);
    assert_eq!(m.sw() & (sw::C1 | 0xFF), sw::C1 | sw::PE);
}

#[test]
fn fldcw_rounding_modes_drive_fist() {
    // (value, [RC 0..3 results]) from a real x87, with C1 ("rounded up
    // in magnitude").
    let cases: [(f64, [(i32, bool); 4]); 5] = [
        (2.5, [(2, false), (2, false), (3, true), (2, false)]),
        (-2.5, [(-2, false), (-3, true), (-2, false), (-2, false)]),
        (1.5, [(2, true), (1, false), (2, true), (1, false)]),
        (-1.5, [(-2, true), (-2, true), (-1, false), (-1, false)]),
        (2.75, [(3, true), (2, false), (3, true), (2, false)]),
    ];
    for (v, results) in cases {
        for (rc, (want, c1)) in results.into_iter().enumerate() {
            let mut m = M::pm32();
            m.poke(0x8000, &(cw::INIT | (rc as u16) << 10).to_le_bytes());
            m.push(v);
            // fldcw [0x8000]; fistp dword [0x8010]
            assert_eq!(
                m.run(&[0xD9, 0x2D, 0, 0x80, 0, 0, 0xDB, 0x1D, 0x10, 0x80, 0, 0]),
                Exit::Done
            );
            assert_eq!(m.peek32(0x8010) as i32, want, "{v} RC {rc}");
            assert_eq!(m.sw() & sw::C1 != 0, c1, "{v} RC {rc}: C1");
            assert_eq!(m.sw() & sw::PE, sw::PE);
        }
    }
}

#[test]
fn fbld_and_fbstp() {
    let mut m = M::pm32();
    m.push(-123456789.5);
    // fbstp [0x8010]: real x87 90 67 45 23 01 00 00 00 00 80 (ties to even).
    assert_eq!(m.run(&[0xDF, 0x35, 0x10, 0x80, 0, 0]), Exit::Done);
    assert_eq!(
        m.peek(0x8010, 10),
        [0x90, 0x67, 0x45, 0x23, 0x01, 0, 0, 0, 0, 0x80]
    );
    assert_eq!(m.top(), 0);
    m.poke(0x8000, &[0x21, 0x43, 0x65, 0x87, 0x09, 0, 0, 0, 0, 0]);
    // fbld [0x8000]
    assert_eq!(m.run(&[0xDF, 0x25, 0, 0x80, 0, 0]), Exit::Done);
    assert_eq!(m.st(0), x(987654321.0));
}

#[test]
fn fxch_and_fcmov() {
    let mut m = M::pm32();
    m.push(3.0);
    m.push(2.0);
    m.push(1.0);
    // fxch st2
    assert_eq!(m.run(&[0xD9, 0xCA]), Exit::Done);
    assert_eq!((m.st(0), m.st(2)), (x(3.0), x(1.0)));
    // stc; fcmovnb st0,st1 (not taken); fcmovb st0,st1 (taken)
    assert_eq!(m.run(&[0xF9, 0xDB, 0xC1]), Exit::Done);
    assert_eq!(m.st(0), x(3.0));
    assert_eq!(m.run(&[0xF9, 0xDA, 0xC1]), Exit::Done);
    assert_eq!(m.st(0), x(2.0));
    // fxch with an empty ST(2): real x87 swaps in the indefinite.
    let mut m = M::pm32();
    // fld1; fxch st2
    assert_eq!(m.run(&[0xD9, 0xE8, 0xD9, 0xCA]), Exit::Done);
    assert_eq!((m.st(0), m.st(2), m.sw()), (INDEFINITE, x(1.0), 0x3841));
}

#[test]
fn fisttp_is_ud_without_sse3() {
    let mut m = M::pm32();
    m.push(1.0);
    // fisttp dword [0x8010]
    assert_eq!(m.run(&[0xDB, 0x0D, 0x10, 0x80, 0, 0]), Exit::Vector(6));
}

#[test]
fn a_faulting_m80_store_changes_nothing() {
    let mut m = M::pm32();
    let ds = m.cpu.s.seg[sreg::DS];
    m.cpu.s.seg[sreg::DS] = Segment {
        limit: 0x8017,
        ..ds
    }
    .refresh();
    m.poke(0x8010, &[0xAA; 8]);
    m.push(1.0);
    // fstp tword [0x8010]: bytes 8010-8019 pass the limit.
    assert_eq!(m.run(&[0xDB, 0x3D, 0x10, 0x80, 0, 0]), Exit::Vector(13));
    assert_eq!(m.peek(0x8010, 8), [0xAA; 8]);
    assert_eq!((m.top(), m.sw()), (7, 7 << 11));
    assert_eq!(m.cpu.s.fpu.fop, 0, "the pointers are not updated either");
}

// ---- control and state ---------------------------------------------------

#[test]
fn fnstenv_layout_protected_32() {
    let mut m = M::pm32();
    m.poke(0x8000, &8.0f32.to_le_bytes());
    m.cpu.s.fpu.set_control(0x0372);
    // fld1; fld dword [0x8000]; fnstenv [0x8100]
    let code = [
        0xD9, 0xE8, 0xD9, 0x05, 0, 0x80, 0, 0, 0xD9, 0x35, 0, 0x81, 0, 0,
    ];
    assert_eq!(m.run(&code), Exit::Done);
    let d = |i: u64| m.peek32(0x8100 + 4 * i);
    // Reserved upper halves read FFFFh (real x87).
    assert_eq!(d(0), 0xFFFF_0372);
    assert_eq!(d(1), 0xFFFF_3000, "SW: TOP 6");
    assert_eq!(d(2), 0xFFFF_0FFF, "TW: R7, R6 valid");
    assert_eq!(d(3), CODE as u32 + 2, "FIP: the FLD m32");
    assert_eq!(d(4), 0x0105 << 16 | 8, "FOP D9 05, FCS 8");
    assert_eq!(d(5), 0x8000, "FDP");
    assert_eq!(d(6), 0xFFFF_0010, "FDS");
    assert_eq!(m.cpu.s.fpu.cw, 0x037F, "FNSTENV masks every exception");
}

#[test]
fn fnstenv_layouts_real_mode() {
    let mut m = M::real();
    m.cpu.s.seg[sreg::DS] = Segment::real(0x1000, m.cpu.s.seg[sreg::DS].attr);
    m.poke(0x18000, &8.0f32.to_le_bytes());
    // fld1; fld dword [0x8000]; fnstenv [0x8100]; o32 fnstenv [0x8200]
    let code = [
        0xD9, 0xE8, 0xD9, 0x06, 0, 0x80, 0xD9, 0x36, 0, 0x81, 0x66, 0xD9, 0x36, 0, 0x82,
    ];
    assert_eq!(m.run(&code), Exit::Done);
    // 16-bit: linear pointers, FOP and the pointers' bits 19-16 packed.
    let w = |a: u64| m.peek16(a);
    assert_eq!(
        [w(0x18100), w(0x18102), w(0x18104)],
        [0x037F, 0x3000, 0x0FFF]
    );
    assert_eq!(w(0x18106), 0x1002, "FIP 15-0 (linear 1002h)");
    assert_eq!(w(0x18108), 0x0106, "FIP 19-16 = 0, FOP D9 06");
    assert_eq!(w(0x1810A), 0x8000, "FDP 15-0 (linear 18000h)");
    assert_eq!(w(0x1810C), 0x1000, "FDP 19-16 = 1");
    // 32-bit real-mode layout.
    let d = |i: u64| m.peek32(0x18200 + 4 * i);
    assert_eq!(d(3), 0xFFFF_1002);
    assert_eq!(d(4), 0x0106);
    assert_eq!(d(5), 0xFFFF_8000);
    assert_eq!(d(6), 1 << 12);
}

/// A state worth saving: three values, flags, a custom control word.
fn busy_state(m: &mut M) {
    m.push(1.0);
    m.cpu.s.fpu.push(F80::INDEFINITE);
    m.push(-0.0);
    let f = &mut m.cpu.s.fpu;
    f.set_control(0x0A7F);
    f.raise(sw::PE | sw::UE);
    f.set_cc(sw::C3 | sw::C1);
}

fn round_trip(mut m: M, save: &[u8], restore: &[u8], image: usize) {
    busy_state(&mut m);
    let before = m.cpu.s.fpu.clone();
    assert_eq!(m.run(save), Exit::Done);
    let f = &m.cpu.s.fpu;
    assert_eq!(
        (f.cw, f.status(), f.tag_word()),
        (0x037F, 0, 0xFFFF),
        "FNSAVE initialises"
    );
    let env = image - 80;
    let w = if env == 28 { 4 } else { 2 };
    assert_eq!(m.peek16(0x8100), 0x0A7F);
    assert_eq!(m.peek16(0x8100 + w), before.status());
    assert_eq!(m.peek16(0x8100 + 2 * w), before.tag_word());
    assert_eq!(
        m.peek(0x8100 + env as u64, 10),
        F80::zero(true).to_le_bytes(),
        "ST(0) first"
    );
    assert_eq!(m.run(restore), Exit::Done);
    let after = &m.cpu.s.fpu;
    assert_eq!(
        (after.cw, after.status(), after.full, after.top),
        (before.cw, before.status(), before.full, before.top)
    );
    for i in 0..8 {
        assert_eq!(after.st(i), before.st(i));
    }
}

#[test]
fn fsave_frstor_round_trip_32_bit() {
    // fnsave [0x8100] / frstor [0x8100]
    let save = [0xDD, 0x35, 0, 0x81, 0, 0];
    let restore = [0xDD, 0x25, 0, 0x81, 0, 0];
    round_trip(M::pm32(), &save, &restore, 108);
    // The same in real mode with an operand-size prefix.
    round_trip(
        M::real(),
        &[0x66, 0xDD, 0x36, 0, 0x81],
        &[0x66, 0xDD, 0x26, 0, 0x81],
        108,
    );
}

#[test]
fn fsave_frstor_round_trip_16_bit() {
    // fnsave [0x8100] / frstor [0x8100] in real mode
    round_trip(
        M::real(),
        &[0xDD, 0x36, 0, 0x81],
        &[0xDD, 0x26, 0, 0x81],
        94,
    );
    // o16 fnsave / o16 frstor in 32-bit protected mode
    let save = [0x66, 0xDD, 0x35, 0, 0x81, 0, 0];
    let restore = [0x66, 0xDD, 0x25, 0, 0x81, 0, 0];
    round_trip(M::pm32(), &save, &restore, 94);
}

#[test]
fn fxsave_layout() {
    let mut m = M::pm32();
    m.poke(0x8200, &[0xAA; 512]);
    // fld1; fldpi; fxsave [0x8200]
    let code = [0xD9, 0xE8, 0xD9, 0xEB, 0x0F, 0xAE, 0x05, 0, 0x82, 0, 0];
    assert_eq!(m.run(&code), Exit::Done);
    let a = m.peek(0x8200, 512).to_vec();
    assert_eq!(
        &a[0..8],
        [0x7F, 0x03, 0x00, 0x30, 0xC0, 0x00, 0xEB, 0x01],
        "FCW FSW FTW FOP"
    );
    assert_eq!(m.peek32(0x8208), CODE as u32 + 2, "FIP");
    assert_eq!(&a[12..16], [8, 0, 0, 0], "FCS");
    assert_eq!(&a[24..32], [0xAA; 8], "no MXCSR with CR4.OSFXSR = 0");
    assert_eq!(
        &a[32..42],
        F80::from_bits(0x4000_C90F_DAA2_2168_C235).to_le_bytes()
    );
    assert_eq!(&a[42..48], [0; 6]);
    assert_eq!(&a[48..58], F80::ONE.to_le_bytes());
    assert!(
        a[160..].iter().all(|&b| b == 0xAA),
        "XMM and reserved bytes untouched"
    );
    // fxrstor [0x8200] after fninit brings it all back.
    assert_eq!(
        m.run(&[0xDB, 0xE3, 0x0F, 0xAE, 0x0D, 0, 0x82, 0, 0]),
        Exit::Done
    );
    assert_eq!((m.top(), m.st(1), m.cpu.s.fpu.full), (6, x(1.0), 0xC0));
}

#[test]
fn fxsave_alignment_and_cpuid() {
    let mut m = M::pm32();
    // fxsave [0x8208]: not 16-byte aligned.
    assert_eq!(
        m.run(&[0x0F, 0xAE, 0x05, 0x08, 0x82, 0, 0]),
        Exit::Vector(13)
    );
    let mut model = CpuModel::qemu32();
    model.features_edx &= !edx1::FXSR;
    let mut m = M::pm32_with(model);
    assert_eq!(m.run(&[0x0F, 0xAE, 0x05, 0, 0x82, 0, 0]), Exit::Vector(6));
}

// ---- #NM, #MF and FERR# -------------------------------------------------

#[test]
fn nm_with_ts_and_em() {
    let fld1 = [0xD9, 0xE8];
    let fwait = [0x9B];
    let fxsave = [0x0F, 0xAE, 0x05, 0, 0x82, 0, 0];
    let with = |bits: u64, code: &[u8]| {
        let mut m = M::pm32();
        m.cpu.s.cr0 |= bits;
        m.run(code)
    };
    assert_eq!(with(cr0::TS, &fld1), Exit::Vector(7));
    assert_eq!(
        with(cr0::TS, &fwait),
        Exit::Done,
        "WAIT ignores TS without MP"
    );
    assert_eq!(with(cr0::TS | cr0::MP, &fwait), Exit::Vector(7));
    assert_eq!(with(cr0::EM, &fld1), Exit::Vector(7));
    assert_eq!(
        with(cr0::EM | cr0::MP, &fwait),
        Exit::Done,
        "WAIT ignores EM"
    );
    assert_eq!(with(cr0::TS, &fxsave), Exit::Vector(7));
    assert_eq!(with(cr0::EM, &fxsave), Exit::Vector(7));
}

/// fldcw [0x8000] (ZM clear); fld1; fldz; fdivp st1,st0: an unmasked
/// zero divide, left pending.
fn divide_by_zero(m: &mut M) {
    m.poke(0x8000, &(cw::INIT & !cw::ZM).to_le_bytes());
    let code = [
        0xD9, 0x2D, 0, 0x80, 0, 0, 0xD9, 0xE8, 0xD9, 0xEE, 0xDE, 0xF9,
    ];
    assert_eq!(
        m.run(&code),
        Exit::Done,
        "the faulting instruction itself completes"
    );
    assert_eq!(m.sw() & 0xFF, sw::ES | sw::ZE);
    assert_eq!(m.sw() & sw::B, sw::B);
    // Unmasked: no result, no pop.
    assert_eq!((m.top(), m.st(0), m.st(1)), (6, 0, x(1.0)));
    assert_eq!(m.cpu.s.fpu.fip, CODE + 10, "FIP names the FDIVP");
}

#[test]
fn mf_on_the_next_waiting_instruction() {
    let mut m = M::pm32();
    divide_by_zero(&mut m);
    // fnstsw ax does not wait; fld1 does, and faults before executing.
    assert_eq!(m.run(&[0xDF, 0xE0, 0xD9, 0xE8]), Exit::Vector(16));
    assert_eq!(m.fault_eip(false), CODE as u32 + 2);
    assert_eq!(m.top(), 6);
    assert_eq!(m.cpu.s.gpr[0] as u16 & 0xFF, sw::ES | sw::ZE);
    // fwait faults too; fnclex clears it, after which fwait passes.
    assert_eq!(m.run(&[0x9B]), Exit::Vector(16));
    assert_eq!(m.run(&[0xDB, 0xE2, 0x9B, 0xD9, 0xE8]), Exit::Done);
    assert_eq!(m.top(), 5);
}

#[test]
fn mf_in_real_mode() {
    let mut m = M::real();
    m.poke(0x8000, &(cw::INIT & !cw::ZM).to_le_bytes());
    // fldcw [0x8000]; fld1; fldz; fdivp st1,st0; fwait
    let code = [
        0xD9, 0x2E, 0, 0x80, 0xD9, 0xE8, 0xD9, 0xEE, 0xDE, 0xF9, 0x9B,
    ];
    assert_eq!(m.run(&code), Exit::Vector(16));
}

#[test]
fn ferr_freezes_without_ne_until_ignne() {
    let mut m = M::pm32();
    m.cpu.s.cr0 &= !cr0::NE;
    divide_by_zero(&mut m);
    assert!(
        !m.cpu.s.fpu.ferr,
        "FERR# waits for the next waiting instruction"
    );
    // fwait: FERR# and a freeze on the FWAIT.
    assert_eq!(m.run(&[0x9B]), Exit::Frozen(CODE));
    assert!(m.cpu.s.fpu.ferr);
    // The machine asserts IGNNE# (a write to port F0h): the FWAIT goes on.
    m.cpu.s.fpu.ignne = true;
    assert_eq!(m.run(&[0x9B, 0xD9, 0xE8]), Exit::Done);
    // fnclex drops FERR# and IGNNE#.
    assert_eq!(m.run(&[0xDB, 0xE2]), Exit::Done);
    assert!(!m.cpu.s.fpu.ferr && !m.cpu.s.fpu.ignne);
}

#[test]
fn fldcw_can_make_an_exception_pending_and_fnstenv_cancels_it() {
    let mut m = M::pm32();
    m.cpu.s.fpu.raise(sw::PE);
    m.poke(0x8000, &(cw::INIT & !cw::PM).to_le_bytes());
    // fldcw [0x8000]; fld1 → #MF at the FLD1.
    assert_eq!(
        m.run(&[0xD9, 0x2D, 0, 0x80, 0, 0, 0xD9, 0xE8]),
        Exit::Vector(16)
    );
    assert_eq!(m.fault_eip(false), CODE as u32 + 6);
    // fnstenv [0x8100] masks everything: no longer pending (real x87).
    assert_eq!(m.run(&[0xD9, 0x35, 0, 0x81, 0, 0, 0xD9, 0xE8]), Exit::Done);
    assert_eq!(
        m.peek16(0x8104) & sw::ES,
        sw::ES,
        "the image still shows ES"
    );
}

// ---- transcendentals ------------------------------------------------------

#[test]
fn fptan_pushes_one() {
    let mut m = M::pm32();
    m.push(0.5);
    // fptan: real x87 ST(1) = tan 0.5 = 3FFE_8BDA7ADF9A3A5219, ST(0) = 1.0,
    // SW 3220 (C1, PE).
    assert_eq!(m.run(&[0xD9, 0xF2]), Exit::Done);
    assert_eq!((m.st(0), m.st(1)), (x(1.0), 0x3FFE_8BDA_7ADF_9A3A_5219));
    assert_eq!(m.sw(), 0x3220);
}

#[test]
fn fsincos_pushes_the_cosine() {
    let mut m = M::pm32();
    m.push(1.0);
    // fsincos: real x87 ST(0) = cos 1, ST(1) = sin 1, SW 3220.
    assert_eq!(m.run(&[0xD9, 0xFB]), Exit::Done);
    assert_eq!(m.st(0), 0x3FFE_8A51_407D_A834_5C92);
    assert_eq!(m.st(1), 0x3FFE_D76A_A478_4867_7021);
    assert_eq!(m.sw(), 0x3220);
    // Stack faults leave the indefinite twice (real x87: SW 3841).
    let mut m = M::pm32();
    assert_eq!(m.run(&[0xD9, 0xFB]), Exit::Done);
    assert_eq!((m.sw(), m.st(0), m.st(1)), (0x3841, INDEFINITE, INDEFINITE));
}

#[test]
fn fsin_out_of_range_sets_c2() {
    let mut m = M::pm32();
    m.push(2f64.powi(63));
    // fsin: real x87 leaves 2^63 and sets C2 (SW 3C00).
    assert_eq!(m.run(&[0xD9, 0xFE]), Exit::Done);
    assert_eq!((m.st(0), m.sw()), (0x403E_8000_0000_0000_0000, 0x3C00));
    m.cpu.s.fpu.set_st(0, F80::ONE);
    // fsin; fcos of sin 1. Real x87: sin 1 = 3FFE_D76AA47848677021.
    assert_eq!(m.run(&[0xD9, 0xFE]), Exit::Done);
    assert_eq!(m.st(0), 0x3FFE_D76A_A478_4867_7021);
    assert_eq!(m.sw() & sw::C2, 0, "C2 clear when in range");
}

#[test]
fn fpatan_fyl2x_fyl2xp1_f2xm1() {
    // (code, ST(0), ST(1), result, SW) from a real x87 (F2XM1 run there
    // with one value on the stack: its SW had TOP 7 and PE, 3820h).
    let cases: [(&[u8], f64, f64, u128, u16); 4] = [
        (&[0xD9, 0xF3], 1.0, 1.0, 0x3FFE_C90F_DAA2_2168_C235, 0x3A20), // fpatan: pi/4
        (&[0xD9, 0xF1], 8.0, 1.5, 0x4001_9000_0000_0000_0000, 0x3820), // fyl2x: 1.5 log2 8
        (&[0xD9, 0xF9], 0.25, 1.0, 0x3FFD_A4D3_C25E_68DC_57F2, 0x3820), // fyl2xp1: log2 1.25
        (&[0xD9, 0xF0], 0.5, 7.0, 0x3FFD_D413_CCCF_E779_9211, 0x3020), // f2xm1: 2^0.5 - 1
    ];
    for (code, st0, st1, want, status) in cases {
        let mut m = M::pm32();
        m.push(st1);
        m.push(st0);
        assert_eq!(m.run(code), Exit::Done);
        let pops = code[1] != 0xF0;
        assert_eq!(m.st(0), want, "{code:02X?}");
        assert_eq!(m.top(), if pops { 7 } else { 6 });
        assert_eq!(m.sw(), status, "{code:02X?}");
    }
}

// ---- aliases and leftovers ------------------------------------------------

#[test]
fn undocumented_aliases_and_287_leftovers() {
    let setup = || {
        let mut m = M::pm32();
        m.push(2.0);
        m.push(1.0);
        m
    };
    let mut m = setup();
    // DF D1: FSTP ST(1) alias.
    assert_eq!(m.run(&[0xDF, 0xD1]), Exit::Done);
    assert_eq!((m.top(), m.st(0)), (7, x(1.0)));
    let mut m = setup();
    // DD C9: FXCH ST(1) alias.
    assert_eq!(m.run(&[0xDD, 0xC9]), Exit::Done);
    assert_eq!((m.st(0), m.st(1)), (x(2.0), x(1.0)));
    let mut m = setup();
    // DC D1: FCOM ST(1) alias; DE D1: FCOMP ST(1) alias.
    assert_eq!(m.run(&[0xDC, 0xD1]), Exit::Done);
    assert_eq!(m.sw() & CC, sw::C0);
    assert_eq!(m.run(&[0xDE, 0xD1]), Exit::Done);
    assert_eq!(m.top(), 7);
    let mut m = setup();
    // DF C1: FFREEP ST(1): frees ST(1), then pops ST(0).
    assert_eq!(m.run(&[0xDF, 0xC1]), Exit::Done);
    assert_eq!((m.top(), m.cpu.s.fpu.tag_word()), (7, 0xFFFF));
    let mut m = setup();
    let before = m.cpu.s.fpu.clone();
    // fneni; fndisi; fnsetpm: no-ops since the 387, and not recorded.
    assert_eq!(m.run(&[0xDB, 0xE0, 0xDB, 0xE1, 0xDB, 0xE4]), Exit::Done);
    assert_eq!(m.cpu.s.fpu, before);
    // fnop is a non-control instruction: it is recorded.
    assert_eq!(m.run(&[0xD9, 0xD0]), Exit::Done);
    assert_eq!((m.cpu.s.fpu.fop, m.cpu.s.fpu.fip), (0x1D0, CODE));
}

/// What gcc emits for `n == (long long)n` on i686 (busybox awk decides
/// whether to print a number as an integer this way): truncate with FISTP
/// m64 under a patched control word, FILD it back, FUCOMIP against the
/// original. 12345678.0 is an integer, so ZF = 1 and PF = 0.
#[test]
fn integer_round_trip_through_fistp_m64_and_fucomip() {
    let mut m = M::pm32();
    m.poke64(0x8000, 12_345_678f64.to_bits());
    // fld qword [0x8000]; fnstcw [0x8020]; movzx eax, word [0x8020];
    // or ah, 0x0c; mov [0x8022], ax; fldcw [0x8022]; fistp qword [0x8010];
    // fldcw [0x8020]; fild qword [0x8010]; fld qword [0x8000];
    // fucomip st0, st1; fstp st0; setz bl; setp bh
    let code = [
        0xdd, 0x05, 0x00, 0x80, 0x00, 0x00, 0xd9, 0x3d, 0x20, 0x80, 0x00, 0x00, 0x0f, 0xb7, 0x05,
        0x20, 0x80, 0x00, 0x00, 0x80, 0xcc, 0x0c, 0x66, 0xa3, 0x22, 0x80, 0x00, 0x00, 0xd9, 0x2d,
        0x22, 0x80, 0x00, 0x00, 0xdf, 0x3d, 0x10, 0x80, 0x00, 0x00, 0xd9, 0x2d, 0x20, 0x80, 0x00,
        0x00, 0xdf, 0x2d, 0x10, 0x80, 0x00, 0x00, 0xdd, 0x05, 0x00, 0x80, 0x00, 0x00, 0xdf, 0xe9,
        0xdd, 0xd8, 0x0f, 0x94, 0xc3, 0x0f, 0x9a, 0xc7,
    ];
    assert_eq!(m.run(&code), Exit::Done);
    assert_eq!(m.peek(0x8010, 8), &12_345_678u64.to_le_bytes());
    let bx = m.cpu.s.gpr[reg::BX] & 0xFFFF;
    assert_eq!(bx, 0x0001, "ZF=1 (equal), PF=0 (ordered)");
}

/// The same with FISTP m32 / FILD m32 (`n == (long)n`).
#[test]
fn integer_round_trip_through_fistp_m32_and_fucomip() {
    let mut m = M::pm32();
    m.poke64(0x8000, 12_345_678f64.to_bits());
    let code = [
        0xdd, 0x05, 0x00, 0x80, 0x00, 0x00, 0xd9, 0x3d, 0x20, 0x80, 0x00, 0x00, 0x0f, 0xb7, 0x05,
        0x20, 0x80, 0x00, 0x00, 0x80, 0xcc, 0x0c, 0x66, 0xa3, 0x22, 0x80, 0x00, 0x00, 0xd9, 0x2d,
        0x22, 0x80, 0x00, 0x00, 0xdb, 0x1d, 0x10, 0x80, 0x00, 0x00, 0xd9, 0x2d, 0x20, 0x80, 0x00,
        0x00, 0xdb, 0x05, 0x10, 0x80, 0x00, 0x00, 0xdd, 0x05, 0x00, 0x80, 0x00, 0x00, 0xdf, 0xe9,
        0xdd, 0xd8, 0x0f, 0x94, 0xc3, 0x0f, 0x9a, 0xc7,
    ];
    assert_eq!(m.run(&code), Exit::Done);
    assert_eq!(m.peek(0x8010, 4), &12_345_678u32.to_le_bytes());
    let bx = m.cpu.s.gpr[reg::BX] & 0xFFFF;
    assert_eq!(bx, 0x0001, "ZF=1 (equal), PF=0 (ordered)");
}

/// busybox awk's `fmt_num` (`n == (long long)n`), as compiled in the
/// Debian i386 busybox: FLD ST(0), FISTP m64 under a truncating control
/// word, FILD m64, FUCOMP ST(1), FNSTSW AX, SAHF, then JP/JNE.
#[test]
fn busybox_awk_integer_test_sequence() {
    let mut m = M::pm32();
    m.poke64(0x8000, 12_345_678f64.to_bits());
    let code = [
        0xdd, 0x05, 0x00, 0x80, 0x00, 0x00, 0xd9, 0x3d, 0x20, 0x80, 0x00, 0x00, 0x0f, 0xb7, 0x05,
        0x20, 0x80, 0x00, 0x00, 0x80, 0xcc, 0x0c, 0x66, 0xa3, 0x22, 0x80, 0x00, 0x00, 0xd9, 0xc0,
        0xd9, 0x2d, 0x22, 0x80, 0x00, 0x00, 0xdf, 0x3d, 0x10, 0x80, 0x00, 0x00, 0xd9, 0x2d, 0x20,
        0x80, 0x00, 0x00, 0xdf, 0x2d, 0x10, 0x80, 0x00, 0x00, 0xdd, 0xe9, 0xdf, 0xe0, 0x9e, 0x0f,
        0x94, 0xc3, 0x0f, 0x9a, 0xc7, 0xdd, 0xd8,
    ];
    assert_eq!(m.run(&code), Exit::Done);
    assert_eq!(m.peek(0x8010, 8), &12_345_678u64.to_le_bytes());
    let bx = m.cpu.s.gpr[reg::BX] & 0xFFFF;
    assert_eq!(bx, 0x0001, "ZF=1 (equal), PF=0 (ordered)");
}
