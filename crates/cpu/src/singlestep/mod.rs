//! SingleStepTests-style per-instruction test vectors, run against our
//! CPU on a flat bus: the shared engine of `anyx86 conform` and the CPU
//! crate's `tests/singlestep.rs`.
//!
//! Each test loads `INIT`, executes one instruction, then the `HLT` that
//! follows it on the real chip (the generator injects that `HLT` at the
//! target of a jump or an interrupt, so it is not always in `INIT`'s RAM:
//! the runner retires it by advancing IP), and compares registers, FLAGS
//! and every `FINA` memory byte. FLAGS bits the Intel SDM calls undefined
//! for the instruction are not compared, in the register nor in a FLAGS
//! image an exception pushed; a file's own `RMSK`/`RM32` masks are applied
//! too. Where the tested chip differs from our Pentium Pro class CPU by
//! design, an exclusion list says so, with reasons (see [`Exclusions`];
//! the 80286 list is [`EXCLUSIONS_80286`]).
//!
//! Both register layouts run in real mode: the 16-bit `REGS` file of the
//! 8088/8086/80286 and the 386's `RG32` file (CR0, CR3, DR6 and DR7
//! loaded as given). Protected-mode vectors (CR0.PE set) are reported as
//! failures: descriptor tables are not part of the format.
//!
//! Not implemented: cycle counts and bus traces (`CYCL`, `QUEU`) are
//! ignored; the prefetch queue is not modelled.

pub mod bus;
pub mod json;
pub mod moo;

pub use bus::FlatBus;
pub use moo::{parse, Layout, MooFile, MooTest, Regs, Regs32, State, REG32_NAMES, REG_NAMES};

use crate::arch::{attr, sreg};
use crate::cpuid::CpuModel;
use crate::flags::FlagOp;
use crate::{Cpu, RunExit, Segment};
use iced_x86::{Decoder, DecoderOptions, Instruction, InstructionInfoFactory, Register};
use moo::{r, r32};
use std::collections::HashSet;

/// The exclusions for the SingleStepTests 80286 real-mode set (CPU ID
/// `C286`), with their reasons.
pub const EXCLUSIONS_80286: &str = include_str!("exclusions-80286.txt");

/// The exclusions that apply by default to a file of CPU ID `cpu`.
pub fn default_exclusions(cpu: &str) -> &'static str {
    match cpu {
        "C286" | "286" => EXCLUSIONS_80286,
        _ => "",
    }
}

/// Reads a vector file's (decompressed) bytes: MOO or the JSON form.
pub fn parse_any(data: &[u8]) -> Result<MooFile, String> {
    if moo::is_moo(data) {
        moo::parse(data)
    } else if json::is_json(data) {
        json::parse(data)
    } else {
        Err("neither a MOO nor a JSON test file".into())
    }
}

// FLAGS bits.
const CF: u16 = 1 << 0;
const PF: u16 = 1 << 2;
const AF: u16 = 1 << 4;
const ZF: u16 = 1 << 6;
const SF: u16 = 1 << 7;
const OF: u16 = 1 << 11;
const ARITH: u16 = CF | PF | AF | ZF | SF | OF;
/// Bits a real-mode 286 can hold: the arithmetic flags, TF, IF, DF and
/// the reserved bit 1 that reads as one. IOPL and NT cannot be set in
/// real mode; bits 3, 5 and 15 always read zero.
const REAL_MODE_FLAGS: u16 = 0x0FD5;

/// What an exclusion line does to the tests it selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Not run.
    Skip,
    /// Run, but these FLAGS bits are not compared.
    MaskFlags(u16),
}

/// One line of an exclusion file.
#[derive(Debug, Clone)]
struct Exclusion {
    /// The line, without its reason.
    text: String,
    /// A file stem, or `*` for every file.
    file: String,
    /// Selects tests by index range, or by a named [`Rule`].
    select: Select,
    action: Action,
}

#[derive(Debug, Clone, Copy)]
enum Select {
    Range(u32, u32),
    Rule(Rule),
}

/// Classes of tests where the 286 and a P6 differ by design, recognised
/// from the test's bytes and initial state (never from our result).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// LOCK on an instruction a P6 cannot lock.
    Lock,
    /// Instructions over the 286's 10-byte limit.
    Long,
    /// String instructions that overran a segment.
    StringOverrun,
    /// An SS-relative access overran offset FFFFh.
    SsOverrun,
    /// MOV to or from FS or GS.
    FsGs,
    /// The 286 raised interrupt N (`int=N`).
    Int(u8),
}

impl Rule {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "lock" => Self::Lock,
            "long" => Self::Long,
            "string-overrun" => Self::StringOverrun,
            "ss-overrun" => Self::SsOverrun,
            "fs-gs" => Self::FsGs,
            _ => Self::Int(s.strip_prefix("int=")?.parse().ok()?),
        })
    }
}

/// Exclusions as data: lines `FILE [INDEX | FIRST-LAST | RULE]
/// [flags=HEX]  # reason` (see `exclusions-80286.txt` for the format and
/// the rules), and how often each line applied.
#[derive(Debug, Clone, Default)]
pub struct Exclusions {
    lines: Vec<Exclusion>,
    hits: Vec<u64>,
}

impl Exclusions {
    /// Parses an exclusion file; every line must give a reason.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut ex = Self::default();
        ex.add(text)?;
        Ok(ex)
    }

    /// Adds the lines of another exclusion file.
    pub fn add(&mut self, text: &str) -> Result<(), String> {
        for (n, line) in text.lines().enumerate() {
            if let Some(e) = parse_line(line).map_err(|e| format!("line {}: {e}", n + 1))? {
                self.lines.push(e);
                self.hits.push(0);
            }
        }
        Ok(())
    }

    /// Each line (without its reason) and the tests it applied to so far.
    pub fn hits(&self) -> impl Iterator<Item = (&str, u64)> {
        self.lines
            .iter()
            .map(|e| e.text.as_str())
            .zip(self.hits.iter().copied())
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// True when there are no lines.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// Parses one exclusion line; `None` for blank and comment lines.
fn parse_line(line: &str) -> Result<Option<Exclusion>, String> {
    let body = line.split('#').next().unwrap_or("").trim();
    if body.is_empty() {
        return Ok(None);
    }
    if !line.contains('#') {
        return Err("no reason given (`# reason`)".into());
    }
    let mut w = body.split_whitespace();
    let file = w.next().unwrap_or_default().to_string();
    let mut select = Select::Range(0, u32::MAX);
    let mut action = Action::Skip;
    for word in w {
        if let Some(m) = word.strip_prefix("flags=") {
            let m = u16::from_str_radix(m, 16).map_err(|_| format!("bad mask {word}"))?;
            action = Action::MaskFlags(m);
        } else if let Some(r) = Rule::parse(word) {
            select = Select::Rule(r);
        } else {
            let (a, b) = word.split_once('-').unwrap_or((word, word));
            let num = |s: &str| s.parse::<u32>().map_err(|_| format!("bad word {word}"));
            select = Select::Range(num(a)?, num(b)?);
        }
    }
    Ok(Some(Exclusion {
        text: body.to_string(),
        file,
        select,
        action,
    }))
}

/// The exclusions that apply to test `t` of file `stem`: whether to skip
/// it, and the FLAGS bits not to compare. Counts the hits of each line.
fn excluded(ex: &mut Exclusions, stem: &str, t: &MooTest) -> (bool, u16) {
    let mut mask = 0;
    let Exclusions { lines, hits } = ex;
    for (i, e) in lines.iter().enumerate() {
        if e.file != "*" && e.file != stem {
            continue;
        }
        let hit = match e.select {
            Select::Range(a, b) => (a..=b).contains(&t.index),
            Select::Rule(r) => rule_matches(r, stem, t),
        };
        if !hit {
            continue;
        }
        hits[i] += 1;
        match e.action {
            Action::Skip => return (true, 0),
            Action::MaskFlags(m) => mask |= m,
        }
    }
    (false, mask)
}

/// The instruction under test as iced decodes it (the bytes without the
/// terminating HLT), with or without iced's validity checks (which
/// reject LOCK on instructions that cannot be locked).
fn decode(t: &MooTest, options: u32) -> Instruction {
    let n = t.bytes.len().saturating_sub(1);
    let ip = u64::from(t.init.regs.v[r::IP]);
    Decoder::with_ip(16, &t.bytes[..n], ip, options).decode()
}

fn rule_matches(rule: Rule, stem: &str, t: &MooTest) -> bool {
    let gp = t.excp.is_some_and(|e| e.vector == 13);
    match rule {
        // SDM Vol. 2, LOCK: #UD unless the instruction is one of the
        // lockable read-modify-write forms with a memory destination.
        Rule::Lock => {
            let unchecked = decode(t, DecoderOptions::NO_INVALID_CHECK);
            decode(t, DecoderOptions::NONE).is_invalid()
                && !unchecked.is_invalid()
                && unchecked.has_lock_prefix()
        }
        Rule::Long => gp && t.bytes.len().saturating_sub(1) > 10,
        Rule::StringOverrun => {
            let (op, _) = opcode_of(stem);
            gp && matches!(op, 0x6C..=0x6F | 0xA4..=0xA7 | 0xAA..=0xAF)
        }
        Rule::SsOverrun => gp && ss_overrun(t),
        Rule::FsGs => {
            let ins = decode(t, DecoderOptions::NONE);
            (0..ins.op_count()).any(|i| matches!(ins.op_register(i), Register::FS | Register::GS))
        }
        Rule::Int(v) => t.excp.is_some_and(|e| e.vector == v),
    }
}

/// True when one of the instruction's SS-relative accesses (explicit, or
/// the implicit stack accesses) extends past offset FFFFh.
fn ss_overrun(t: &MooTest) -> bool {
    let ins = decode(t, DecoderOptions::NONE);
    let g = &t.init.regs.v;
    let reg = |rg: Register, _: usize, _: usize| -> Option<u64> {
        let v = match rg {
            Register::AX => g[r::AX],
            Register::BX => g[r::BX],
            Register::CX => g[r::CX],
            Register::DX => g[r::DX],
            Register::SP => g[r::SP],
            Register::BP => g[r::BP],
            Register::SI => g[r::SI],
            Register::DI => g[r::DI],
            // Offsets, not linear addresses: segment bases are zero.
            _ => 0,
        };
        Some(u64::from(v))
    };
    let mut f = InstructionInfoFactory::new();
    f.info(&ins).used_memory().iter().any(|m| {
        let size = m.memory_size().size() as u64;
        m.segment() == Register::SS
            && m.virtual_address(0, reg)
                .is_some_and(|off| off + size.max(1) - 1 > 0xFFFF)
    })
}

/// Hashes of tests the suite's author withdrew, from the text of a
/// `revocation_list.txt`.
pub fn parse_revocations(text: &str) -> HashSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The opcode and ModRM reg extension of a file stem such as `F6.4`.
fn opcode_of(stem: &str) -> (u8, Option<u8>) {
    let (op, ext) = stem.split_once('.').unwrap_or((stem, ""));
    let op = u8::from_str_radix(op, 16).unwrap_or(0);
    (op, ext.parse().ok())
}

/// FLAGS bits the Intel SDM (Vol. 2, each instruction's "Flags Affected")
/// leaves undefined after this test's instruction.
fn undefined_flags(op: u8, ext: Option<u8>, t: &MooTest) -> u16 {
    match (op, ext.unwrap_or(0)) {
        // AND, OR, XOR, TEST: "The state of the AF flag is undefined."
        (0x08..=0x0D | 0x20..=0x25 | 0x30..=0x35 | 0x84 | 0x85 | 0xA8 | 0xA9, _) => AF,
        (0x80..=0x83, 1 | 4 | 6) | (0xF6 | 0xF7, 0 | 1) => AF,
        // MUL, IMUL: "The SF, ZF, AF, and PF flags are undefined."
        (0xF6 | 0xF7, 4 | 5) | (0x69 | 0x6B, _) => SF | ZF | AF | PF,
        // DIV, IDIV: "The CF, OF, SF, ZF, AF, and PF flags are undefined."
        (0xF6 | 0xF7, 6 | 7) => ARITH,
        // DAA, DAS: "The OF flag is undefined."
        (0x27 | 0x2F, _) => OF,
        // AAA, AAS: "The OF, SF, ZF, and PF flags are undefined."
        (0x37 | 0x3F, _) => OF | SF | ZF | PF,
        // AAM, AAD: "The OF, AF, and CF flags are undefined."
        (0xD4 | 0xD5, _) => OF | AF | CF,
        (0xC0 | 0xC1 | 0xD0..=0xD3, reg) => shift_undefined(op, reg, t),
        _ => 0,
    }
}

/// Undefined flags of the shift and rotate group (SDM Vol. 2, RCL/RCR/
/// ROL/ROR and SAL/SAR/SHL/SHR "Flags Affected"). The 286 masks the count
/// to five bits, as the SDM describes for later CPUs; a masked count of 0
/// affects no flags.
fn shift_undefined(op: u8, reg: u8, t: &MooTest) -> u16 {
    let count = match op {
        0xD0 | 0xD1 => 1,
        0xD2 | 0xD3 => t.init.regs.v[r::CX] & 0xFF,
        // The immediate is the last byte before the terminating HLT.
        _ => u16::from(t.bytes.len().checked_sub(2).map_or(0, |i| t.bytes[i])),
    } & 0x1F;
    let width = if op & 1 == 0 { 8 } else { 16 };
    if count == 0 {
        return 0;
    }
    // OF is defined only for 1-bit shifts and rotates.
    let mut u = if count == 1 { 0 } else { OF };
    if reg >= 4 {
        // "For a non-zero count, the AF flag is undefined."
        u |= AF;
        // "CF ... is undefined for SHL and SHR instructions where the
        // count is greater than or equal to the size of the destination."
        if reg != 7 && count >= width {
            u |= CF;
        }
    }
    u
}

/// The RAM index of physical address `a` (the address lines wrap).
fn at(bus: &FlatBus, a: u32) -> usize {
    a as usize & (bus.ram.len() - 1)
}

/// Loads `INIT` into the CPU and the bus.
fn load(cpu: &mut Cpu<FlatBus>, bus: &mut FlatBus, t: &MooTest) -> Result<(), String> {
    for &(a, v) in &t.init.ram {
        let i = at(bus, a);
        bus.ram[i] = v;
    }
    invalidate_code(cpu, &t.init.ram);
    let g = &t.init.regs.v;
    let s = &mut cpu.s;
    s.gpr = [0; 16];
    let order = [r::AX, r::CX, r::DX, r::BX, r::SP, r::BP, r::SI, r::DI];
    for (i, &n) in order.iter().enumerate() {
        s.gpr[i] = u64::from(g[n]);
    }
    // The descriptor caches as a real-mode segment load leaves them
    // (as after RESET, `CpuState::new`).
    let data = attr::P | attr::S | attr::RW | attr::ACCESSED;
    let code = data | attr::CODE;
    s.seg = [Segment::real(0, data); 6];
    s.seg[sreg::ES] = Segment::real(g[r::ES], data);
    s.seg[sreg::CS] = Segment::real(g[r::CS], code);
    s.seg[sreg::SS] = Segment::real(g[r::SS], data);
    s.seg[sreg::DS] = Segment::real(g[r::DS], data);
    s.rip = u64::from(g[r::IP]);
    s.next_rip = s.rip;
    s.flags = u32::from(g[r::FLAGS] & REAL_MODE_FLAGS) | 2;
    s.lazy.op = FlagOp::None;
    s.halted = false;
    s.delivering = None;
    s.inhibit_until = 0;
    // The 286 ran without a coprocessor; ours starts each test from FNINIT
    // (every x87 exception masked) so no test leaves one pending for the
    // next.
    s.fpu.init();
    match &t.init.regs32 {
        Some(g) => load32(s, g)?,
        None => s.update_mode(),
    }
    Ok(())
}

/// CR0.PE.
const CR0_PE: u32 = 1 << 0;
/// CR0.ET: hard-wired to one from the 486 on.
const CR0_ET: u64 = 1 << 4;
/// EFLAGS bits a real-mode 386 program can hold: the FLAGS bits with
/// IOPL and NT, and RF (bit 16). VM (bit 17) cannot be set by the
/// vectors' real-mode IRET/POPF; bits 3, 5 and 15 read zero.
const REAL_MODE_EFLAGS32: u32 = 0x0001_7FD5;

/// Loads the 386's 32-bit file over the 16-bit one `load` set up.
fn load32(s: &mut crate::CpuState, g: &Regs32) -> Result<(), String> {
    let v = &g.v;
    if v[r32::CR0] & CR0_PE != 0 {
        return Err(" protected-mode vector (CR0.PE=1) not supported".into());
    }
    let order = [
        r32::EAX,
        r32::ECX,
        r32::EDX,
        r32::EBX,
        r32::ESP,
        r32::EBP,
        r32::ESI,
        r32::EDI,
    ];
    for (i, &n) in order.iter().enumerate() {
        s.gpr[i] = u64::from(v[n]);
    }
    let data = attr::P | attr::S | attr::RW | attr::ACCESSED;
    s.seg[sreg::FS] = Segment::real(v[r32::FS] as u16, data);
    s.seg[sreg::GS] = Segment::real(v[r32::GS] as u16, data);
    s.rip = u64::from(v[r32::EIP]);
    s.next_rip = s.rip;
    s.flags = (v[r32::EFLAGS] & REAL_MODE_EFLAGS32) | 2;
    s.cr0 = u64::from(v[r32::CR0]) | CR0_ET;
    s.cr3 = u64::from(v[r32::CR3]);
    s.dr[6] = u64::from(v[r32::DR6]);
    s.dr[7] = u64::from(v[r32::DR7]);
    s.update_mode();
    Ok(())
}

/// Our value of MOO `RG32` register `n`.
fn ours32(cpu: &Cpu<FlatBus>, n: usize) -> u32 {
    let s = &cpu.s;
    let seg = |i: usize| u64::from(s.seg[i].selector);
    let v = match n {
        r32::CR0 => s.cr0 & !CR0_ET,
        r32::CR3 => s.cr3,
        r32::EAX => s.gpr[0],
        r32::EBX => s.gpr[3],
        r32::ECX => s.gpr[1],
        r32::EDX => s.gpr[2],
        r32::ESI => s.gpr[6],
        r32::EDI => s.gpr[7],
        r32::EBP => s.gpr[5],
        r32::ESP => s.gpr[4],
        r32::CS => seg(sreg::CS),
        r32::DS => seg(sreg::DS),
        r32::ES => seg(sreg::ES),
        r32::FS => seg(sreg::FS),
        r32::GS => seg(sreg::GS),
        r32::SS => seg(sreg::SS),
        r32::EIP => s.rip,
        r32::EFLAGS => u64::from(s.eflags()),
        r32::DR6 => s.dr[6],
        _ => s.dr[7],
    };
    v as u32
}

/// Appends each 32-bit register that differs from FINA: EFLAGS under
/// `mask` (the low 16 bits; the upper ones always compared), every
/// register under the file's or test's `RM32` masks. CR0.ET is not
/// compared (fixed on our CPU, a 386EX has no coprocessor interface).
fn diff_regs32(cpu: &Cpu<FlatBus>, t: &MooTest, rm: Option<&Regs32>, mask: u16, diff: &mut String) {
    let (Some(init), fina) = (&t.init.regs32, t.fina.regs32.as_ref()) else {
        return;
    };
    for (n, name) in REG32_NAMES.iter().enumerate() {
        let mut m = match n {
            r32::EFLAGS => 0xFFFF_0000 | u32::from(mask),
            r32::CS..=r32::SS if n >= r32::CS => 0xFFFF,
            _ => u32::MAX,
        };
        if let Some(v) = rm.and_then(|rm| rm.get(n)) {
            m &= v;
        }
        let want = fina.and_then(|f| f.get(n)).unwrap_or(init.v[n]);
        let want = if n == r32::EFLAGS {
            want & REAL_MODE_EFLAGS32 | 2
        } else {
            want
        };
        let got = ours32(cpu, n);
        if (want ^ got) & m != 0 {
            *diff += &format!(" {name}: want {want:08X} got {got:08X}");
        }
    }
}

/// Tells the CPU that the host rewrote memory that may hold decoded code,
/// the way its own stores report self-modifying code.
fn invalidate_code(cpu: &mut Cpu<FlatBus>, ram: &[(u32, u8)]) {
    let s = &mut cpu.s;
    for &(a, _) in ram {
        if s.code.unmark_page(u64::from(a)) {
            s.smc_pages.push(u64::from(a) & !0xFFF);
        }
    }
}

/// Our value of MOO register `n`.
fn ours(cpu: &Cpu<FlatBus>, n: usize) -> u16 {
    let s = &cpu.s;
    let v = match n {
        r::AX => s.gpr[0],
        r::BX => s.gpr[3],
        r::CX => s.gpr[1],
        r::DX => s.gpr[2],
        r::CS => u64::from(s.seg[sreg::CS].selector),
        r::SS => u64::from(s.seg[sreg::SS].selector),
        r::DS => u64::from(s.seg[sreg::DS].selector),
        r::ES => u64::from(s.seg[sreg::ES].selector),
        r::SP => s.gpr[4],
        r::BP => s.gpr[5],
        r::SI => s.gpr[6],
        r::DI => s.gpr[7],
        r::IP => s.rip,
        _ => u64::from(s.eflags()),
    };
    v as u16
}

/// Executes the instruction under test, then the HLT that follows it.
fn execute(cpu: &mut Cpu<FlatBus>, bus: &mut FlatBus) -> Result<(), String> {
    if let RunExit::TripleFault(f) = cpu.step(bus) {
        return Err(format!(" triple fault ({f:?})"));
    }
    if !cpu.s.halted {
        // The HLT after the instruction, or the one the generator injects
        // at the target of a jump or interrupt (not in INIT's RAM).
        cpu.s.rip = (cpu.s.rip + 1) & 0xFFFF;
        cpu.s.halted = true;
    }
    Ok(())
}

/// Appends each register that differs from FINA (FLAGS under `mask`,
/// every register under the file's or test's `RMSK` masks).
fn diff_regs(cpu: &Cpu<FlatBus>, t: &MooTest, rm: Option<&Regs>, mask: u16, diff: &mut String) {
    for (n, name) in REG_NAMES.iter().enumerate() {
        let init = t.init.regs.v[n];
        let (init, mut m) = if n == r::FLAGS {
            (init & 0x0FFF, mask)
        } else {
            (init, 0xFFFF)
        };
        if let Some(v) = rm.and_then(|rm| rm.get(n)) {
            m &= v;
        }
        let want = t.fina.regs.get(n).unwrap_or(init);
        let got = ours(cpu, n);
        if (want ^ got) & m != 0 {
            *diff += &format!(" {name}: want {want:04X} got {got:04X}");
            if n == r::FLAGS {
                *diff += &format!(" (differ {:04X})", (want ^ got) & m);
            }
        }
    }
}

/// The physical address of the FLAGS image an exception pushed: above the
/// pushed CS and IP, at SS:SP+4 after the delivery. (EXCP's own address
/// of it is rounded down to even when SP is odd, so it is not used.)
fn flags_image(t: &MooTest) -> Option<u32> {
    t.excp?;
    let reg = |n: usize| t.fina.regs.get(n).unwrap_or(t.init.regs.v[n]);
    Some((u32::from(reg(r::SS)) << 4) + u32::from(reg(r::SP).wrapping_add(4)))
}

/// Appends each FINA memory byte that differs; the FLAGS image of an
/// exception is compared under `mask`.
fn diff_ram(bus: &FlatBus, t: &MooTest, mask: u16, diff: &mut String) {
    let image = flags_image(t);
    for &(a, want) in &t.fina.ram {
        let m = match image {
            Some(f) if a == f => mask as u8,
            Some(f) if a == f + 1 => (mask >> 8) as u8,
            _ => 0xFF,
        };
        let got = bus.ram[at(bus, a)];
        if (want ^ got) & m != 0 {
            *diff += &format!(" [{a:06X}]: want {want:02X} got {got:02X}");
        }
    }
}

/// Runs one test; `Err` lists every difference. `mask` selects the FLAGS
/// bits compared; `file` gives the file-level register masks.
fn run_test(
    cpu: &mut Cpu<FlatBus>,
    bus: &mut FlatBus,
    file: &MooFile,
    t: &MooTest,
    mask: u16,
) -> Result<(), String> {
    let mut diff = String::new();
    match load(cpu, bus, t).and_then(|()| execute(cpu, bus)) {
        Ok(()) if t.layout() == Layout::Regs32 => {
            let rm = t.fina.rm32.as_ref().or(file.rm32.as_ref());
            diff_regs32(cpu, t, rm, mask, &mut diff);
            diff_ram(bus, t, mask, &mut diff);
        }
        Ok(()) => {
            let rm = t.fina.rmsk.as_ref().or(file.rmsk.as_ref());
            diff_regs(cpu, t, rm, mask, &mut diff);
            diff_ram(bus, t, mask, &mut diff);
        }
        Err(e) => diff = e,
    }
    // Back to all zeroes: every byte the test may have changed is in
    // INIT or FINA (a stray write is caught per file, see `stray_write`).
    for &(a, _) in t.init.ram.iter().chain(&t.fina.ram) {
        let i = at(bus, a);
        bus.ram[i] = 0;
    }
    if diff.is_empty() {
        Ok(())
    } else {
        Err(diff)
    }
}

/// A byte left non-zero after a file's tests: our CPU wrote where the 286
/// did not (FINA lists every byte the 286 changed). Clears RAM.
fn stray_write(bus: &mut FlatBus) -> Option<usize> {
    // OR-folding a page vectorises; a search for the first byte does not.
    let page = bus
        .ram
        .chunks(4096)
        .position(|c| c.iter().fold(0, |a, &b| a | b) != 0)?;
    let at = page * 4096 + bus.ram[page * 4096..].iter().position(|&b| b != 0)?;
    bus.ram.fill(0);
    Some(at)
}

/// Everything a run shares across files: the CPU, the bus, the
/// exclusions and the revoked tests.
pub struct Runner {
    cpu: Cpu<FlatBus>,
    bus: FlatBus,
    /// The exclusions applied, with their hit counts.
    pub exclusions: Exclusions,
    /// Hashes of withdrawn tests (not run, counted as excluded).
    pub revoked: HashSet<String>,
    /// Failures listed per file.
    pub show: usize,
    /// Compare the flags the SDM leaves undefined too.
    pub strict: bool,
}

/// Counts for one file or the whole run, and the first failures.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    /// Tests that matched.
    pub passed: u64,
    /// Tests that did not (and stray writes).
    pub failed: u64,
    /// Tests an exclusion or the revocation list skipped.
    pub excluded: u64,
    /// One line per listed failure (at most `Runner::show`).
    pub failures: Vec<String>,
}

impl Runner {
    /// A runner over `bus` (its size sets the address lines) applying
    /// `exclusions`; a `qemu32` CPU.
    pub fn new(bus: FlatBus, exclusions: Exclusions) -> Self {
        Self {
            cpu: Cpu::new(CpuModel::qemu32()),
            bus,
            exclusions,
            revoked: HashSet::new(),
            show: 3,
            strict: false,
        }
    }

    /// A bus sized for the chip of CPU ID `cpu`: 26 address lines for the
    /// 386EX, 24 for the others (the 8088's 20 lines wrap inside that).
    pub fn bus_for(cpu: &str) -> FlatBus {
        if cpu.starts_with("386") {
            FlatBus::with_size(bus::MEM_SIZE_386EX)
        } else {
            FlatBus::new()
        }
    }

    /// Runs one file's tests; `stem` is the file name without its
    /// extensions (`F6.4`), which exclusions and the undefined-flag table
    /// key on.
    pub fn run_file(&mut self, stem: &str, file: &MooFile) -> FileReport {
        let (op, ext) = opcode_of(stem);
        let mut n = FileReport::default();
        for t in &file.tests {
            let (skip, mask) = excluded(&mut self.exclusions, stem, t);
            if skip || self.revoked.contains(&t.hash_hex()) {
                n.excluded += 1;
                continue;
            }
            // The SDM table is keyed by one-byte opcodes of the 16-bit
            // sets; 386 files carry their own masks (RM32).
            let undefined = if self.strict || t.layout() == Layout::Regs32 {
                0
            } else {
                undefined_flags(op, ext, t)
            };
            let compared = !(undefined | mask);
            match run_test(&mut self.cpu, &mut self.bus, file, t, compared) {
                Ok(()) => n.passed += 1,
                Err(d) => {
                    n.failed += 1;
                    if n.failures.len() < self.show {
                        n.failures.push(describe(t, &d));
                    }
                }
            }
        }
        if let Some(a) = stray_write(&mut self.bus) {
            n.failed += 1;
            n.failures.push(format!(
                "memory at {a:06X} written outside every test's FINA"
            ));
        }
        n
    }
}

/// One failure line: the test, its bytes, the exception it took, the diff.
fn describe(t: &MooTest, diff: &str) -> String {
    let bytes: Vec<String> = t.bytes.iter().map(|x| format!("{x:02X}")).collect();
    let e = t.excp.map_or(String::new(), |e| {
        format!(" INT {} (FLAGS at {:06X})", e.vector, e.flags_addr)
    });
    format!("#{} {} [{}]{e}:{diff}", t.index, t.name, bytes.join(" "))
}
