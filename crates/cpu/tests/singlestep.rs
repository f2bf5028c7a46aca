//! Hardware-captured 80286 real-mode vectors (SingleStepTests/80286, see
//! `shared/conformance/README.md`) run against our CPU on a flat bus.
//!
//! Each test loads `INIT`, executes one instruction, then the `HLT` that
//! follows it on the real chip (the generator injects that `HLT` at the
//! target of a jump or an interrupt, so it is not always in `INIT`'s RAM:
//! the runner retires it by advancing IP), and compares registers, FLAGS
//! and every `FINA` memory byte. FLAGS bits the Intel SDM calls undefined
//! for the instruction are not compared, in the register nor in a FLAGS
//! image an exception pushed. Where the 286 differs from our Pentium Pro
//! class CPU by design, `singlestep-exclusions.txt` says so, with reasons.

#[allow(dead_code)]
mod common;

use anyx86_cpu::cpuid::CpuModel;
use anyx86_cpu::flags::FlagOp;
use anyx86_cpu::state::{attr, sreg};
use anyx86_cpu::{Cpu, RunExit, Segment};
use common::{parse, r, FlatBus, MooTest, REG_NAMES};
use iced_x86::{Decoder, DecoderOptions, Instruction, InstructionInfoFactory, Register};
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

const DATA_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/80286-real"
);
const EXCLUSIONS: &str = include_str!("singlestep-exclusions.txt");
/// Failures listed per opcode file (`SINGLESTEP_SHOW` overrides).
const SHOW_FAILURES: usize = 3;

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

/// One line of the exclusion file.
struct Exclusion {
    /// The line, without its reason.
    text: String,
    /// A file stem, or `*` for every file.
    file: String,
    /// Selects tests by index range, or by a named [`Rule`].
    select: Select,
    action: Action,
}

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

/// Parses `FILE [INDEX | FIRST-LAST | RULE] [flags=HEX]  # reason` lines.
fn exclusions() -> Vec<Exclusion> {
    let mut v = Vec::new();
    for (n, line) in EXCLUSIONS.lines().enumerate() {
        let n = n + 1;
        let body = line.split('#').next().unwrap_or("").trim();
        if body.is_empty() {
            continue;
        }
        assert!(line.contains('#'), "exclusion line {n} has no reason");
        let mut w = body.split_whitespace();
        let file = w.next().unwrap_or_default().to_string();
        let mut select = Select::Range(0, u32::MAX);
        let mut action = Action::Skip;
        for word in w {
            if let Some(m) = word.strip_prefix("flags=") {
                let m = u16::from_str_radix(m, 16);
                action = Action::MaskFlags(m.unwrap_or_else(|_| panic!("line {n}: bad mask")));
            } else if let Some(r) = Rule::parse(word) {
                select = Select::Rule(r);
            } else {
                let (a, b) = word.split_once('-').unwrap_or((word, word));
                let num = |s: &str| {
                    s.parse::<u32>()
                        .unwrap_or_else(|_| panic!("exclusion line {n}: bad word {word}"))
                };
                select = Select::Range(num(a), num(b));
            }
        }
        v.push(Exclusion {
            text: body.to_string(),
            file,
            select,
            action,
        });
    }
    v
}

/// The exclusions that apply to test `t` of file `stem`: whether to skip
/// it, and the FLAGS bits not to compare. Counts the hits of each line.
fn excluded(ex: &[Exclusion], hits: &mut [u64], stem: &str, t: &MooTest) -> (bool, u16) {
    let mut mask = 0;
    for (i, e) in ex.iter().enumerate() {
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

/// Hashes of tests the suite's author withdrew.
fn revoked(dir: &Path) -> HashSet<String> {
    std::fs::read_to_string(dir.join("revocation_list.txt"))
        .unwrap_or_default()
        .lines()
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

/// Loads `INIT` into the CPU and the bus.
fn load(cpu: &mut Cpu<FlatBus>, bus: &mut FlatBus, t: &MooTest) {
    for &(a, v) in &t.init.ram {
        bus.ram[a as usize] = v;
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
    s.update_mode();
}

/// Tells the CPU that the host rewrote memory that may hold decoded code,
/// the way its own stores report self-modifying code.
fn invalidate_code(cpu: &mut Cpu<FlatBus>, ram: &[(u32, u8)]) {
    let s = &mut cpu.s;
    for &(a, _) in ram {
        let page = (a >> 12) as usize;
        if let Some(w) = s.code_pages.get_mut(page / 64) {
            if *w & (1 << (page % 64)) != 0 {
                *w &= !(1 << (page % 64));
                s.smc_pages.push(u64::from(a) & !0xFFF);
            }
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

/// Appends each register that differs from FINA (FLAGS under `mask`).
fn diff_regs(cpu: &Cpu<FlatBus>, t: &MooTest, mask: u16, diff: &mut String) {
    for (n, name) in REG_NAMES.iter().enumerate() {
        let init = t.init.regs.v[n];
        let (init, m) = if n == r::FLAGS {
            (init & 0x0FFF, mask)
        } else {
            (init, 0xFFFF)
        };
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
        let got = bus.ram[a as usize];
        if (want ^ got) & m != 0 {
            *diff += &format!(" [{a:06X}]: want {want:02X} got {got:02X}");
        }
    }
}

/// Runs one test; `Err` lists every difference. `mask` selects the FLAGS
/// bits compared.
fn run_test(
    cpu: &mut Cpu<FlatBus>,
    bus: &mut FlatBus,
    t: &MooTest,
    mask: u16,
) -> Result<(), String> {
    load(cpu, bus, t);
    let mut diff = String::new();
    match execute(cpu, bus) {
        Ok(()) => {
            diff_regs(cpu, t, mask, &mut diff);
            diff_ram(bus, t, mask, &mut diff);
        }
        Err(e) => diff = e,
    }
    // Back to all zeroes: every byte the test may have changed is in
    // INIT or FINA (a stray write is caught per file, see `stray_write`).
    for &(a, _) in t.init.ram.iter().chain(&t.fina.ram) {
        bus.ram[a as usize] = 0;
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

fn read_gz(path: &Path) -> Vec<u8> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(f)
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    out
}

fn data_files(dir: &Path) -> Vec<PathBuf> {
    assert!(
        dir.is_dir(),
        "SingleStepTests 80286 vectors not found at {} (see shared/conformance/README.md)",
        dir.display()
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".MOO.gz"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .MOO.gz files in {}", dir.display());
    files
}

/// Everything a run shares across files.
struct Runner {
    cpu: Cpu<FlatBus>,
    bus: FlatBus,
    ex: Vec<Exclusion>,
    /// Tests each exclusion line applied to.
    ex_hits: Vec<u64>,
    revoked: HashSet<String>,
    /// Failures listed per file.
    show: usize,
    /// Compare the flags the SDM leaves undefined too.
    strict: bool,
}

/// Counts for one file or the whole run.
#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
    skipped: u64,
}

impl Runner {
    /// Runs one file's tests; returns the counts and the failure listing.
    fn run_file(&mut self, stem: &str, tests: &[MooTest]) -> (Tally, String) {
        let (op, ext) = opcode_of(stem);
        let mut n = Tally::default();
        let mut report = String::new();
        for t in tests {
            let (skip, mask) = excluded(&self.ex, &mut self.ex_hits, stem, t);
            if skip || self.revoked.contains(&t.hash_hex()) {
                n.skipped += 1;
                continue;
            }
            let undefined = if self.strict {
                0
            } else {
                undefined_flags(op, ext, t)
            };
            let compared = !(undefined | mask);
            match run_test(&mut self.cpu, &mut self.bus, t, compared) {
                Ok(()) => n.passed += 1,
                Err(d) => {
                    n.failed += 1;
                    if n.failed as usize <= self.show {
                        report += &describe(t, &d);
                    }
                }
            }
        }
        if let Some(a) = stray_write(&mut self.bus) {
            n.failed += 1;
            report += &format!("    memory at {a:06X} written outside every test's FINA\n");
        }
        (n, report)
    }
}

/// One failure line: the test, its bytes, the exception it took, the diff.
fn describe(t: &MooTest, diff: &str) -> String {
    let bytes: Vec<String> = t.bytes.iter().map(|x| format!("{x:02X}")).collect();
    let e = t.excp.map_or(String::new(), |e| {
        format!(" INT {} (FLAGS at {:06X})", e.vector, e.flags_addr)
    });
    format!(
        "    #{} {} [{}]{e}:{diff}\n",
        t.index,
        t.name,
        bytes.join(" ")
    )
}

#[test]
fn singlestep_80286_real_mode() {
    let start = std::time::Instant::now();
    let dir = Path::new(DATA_DIR);
    let files = data_files(dir);
    let ex = exclusions();
    // Debugging aids: SINGLESTEP_SHOW=n failures listed per file,
    // SINGLESTEP_ONLY=F6.6,F7.6 runs only those files, SINGLESTEP_STRICT=1
    // compares undefined flags too (how closely we match the 286 there).
    let show = std::env::var("SINGLESTEP_SHOW")
        .ok()
        .and_then(|v| v.parse().ok());
    let only = std::env::var("SINGLESTEP_ONLY").ok();
    let only: Option<Vec<&str>> = only.as_deref().map(|o| o.split(',').collect());
    let mut run = Runner {
        cpu: Cpu::new(CpuModel::qemu32()),
        bus: FlatBus::new(),
        ex_hits: vec![0; ex.len()],
        ex,
        revoked: revoked(dir),
        show: show.unwrap_or(SHOW_FAILURES),
        strict: std::env::var_os("SINGLESTEP_STRICT").is_some(),
    };
    let mut total = Tally::default();
    let mut failing = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let stem = name.trim_end_matches(".MOO.gz");
        if only.as_ref().is_some_and(|o| !o.contains(&stem)) {
            continue;
        }
        let file = parse(&read_gz(path)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (n, report) = run.run_file(stem, &file.tests);
        let note = if n.skipped > 0 {
            format!(" ({} excluded)", n.skipped)
        } else {
            String::new()
        };
        let ran = n.passed + n.failed;
        println!("{stem:<5} {:<8} {}/{ran}{note}", file.mnemonic, n.passed);
        print!("{report}");
        if n.failed > 0 {
            failing.push(format!("{stem}:{}", n.failed));
        }
        total.passed += n.passed;
        total.failed += n.failed;
        total.skipped += n.skipped;
    }
    for (e, hits) in run.ex.iter().zip(&run.ex_hits) {
        println!("exclusion applied to {hits:>5}: {}", e.text);
    }
    println!("{} excluded", total.skipped);
    println!("{} passed, {} failed", total.passed, total.failed);
    println!("time: {:.1?}", start.elapsed());
    assert_eq!(
        total.failed,
        0,
        "failing opcode files: {}",
        failing.join(" ")
    );
}
