//! `anyx86 lockstep`: differential testing against QEMU (issue #18).
//!
//! The same guest runs on anyx86 and on `qemu-system-x86_64 -accel tcg`
//! (through its gdbstub); both are stepped one instruction at a time and
//! their registers compared after each (general, RIP, EFLAGS less the flags
//! the instruction leaves undefined, selectors and bases, CR0/2/3/4/8,
//! EFER, x87, XMM, MXCSR). The first divergence ends the run with the
//! instruction and both states (exit status 1).
//!
//! - `anyx86 lockstep ROM|DIR...`: test ROMs (a directory: every `*.bin`
//!   in it less those in `lockstep-exclusions.txt` beside them), each
//!   compared from reset to its exit, or up to the first instruction whose
//!   result depends on time (a timer or interrupt-controller read, RDTSC,
//!   HLT waiting for an interrupt): QEMU's stub holds interrupts and timers
//!   off while stepping, so nothing after that point is comparable.
//! - `anyx86 lockstep --random --mode MODE --count N --seed S`: random
//!   instruction streams ([`random`]).

mod compare;
mod gdbclient;
mod pair;
mod qemu;
mod random;

use anyx86_cpu::cpuid::CpuModel;
use anyx86_machine::{Machine, MachineConfig, MachineKind};
use clap::{Args, ValueEnum};
use iced_x86::{Mnemonic, OpKind};
use pair::{End, Pair};
use qemu::{Qemu, QemuSetup};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// RAM of both machines, in MiB (QEMU's default).
const RAM_MIB: u64 = 128;

/// Flags of `anyx86 lockstep`.
#[derive(Debug, Args)]
pub struct LockstepArgs {
    /// Test ROMs, or directories of them.
    #[arg(value_name = "ROM")]
    pub paths: Vec<PathBuf>,
    /// Run random instruction streams instead of ROMs.
    #[arg(long)]
    pub random: bool,
    /// CPU mode of the random streams.
    #[arg(long, value_enum, default_value_t = Mode::Pm32)]
    pub mode: Mode,
    /// Random instructions to compare.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub count: u64,
    /// Seed of the random streams.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Where a divergent random stream is kept as a minimised reproducer.
    #[arg(long, value_name = "DIR", default_value = "lockstep-repro")]
    pub repro: PathBuf,
    /// CPU model of both sides: qemu32 (QEMU `qemu32,+nx`) or qemu64;
    /// `auto` reads the ROM's `; anyx86-flags:` line.
    #[arg(long, default_value = "auto")]
    pub cpu: String,
    /// Instructions compared per ROM at most.
    #[arg(long, value_name = "N", default_value_t = 20_000_000)]
    pub max_instructions: u64,
    /// The QEMU binary.
    #[arg(long, value_name = "PATH", default_value = "qemu-system-x86_64")]
    pub qemu: String,
    /// ROMs not to run (`NAME  # reason` lines); by default
    /// `lockstep-exclusions.txt` in a ROM directory.
    #[arg(long, value_name = "FILE")]
    pub exclusions: Option<PathBuf>,
    /// Do not compare the x87 registers.
    #[arg(long)]
    pub no_fpu: bool,
}

/// CPU modes of the random streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Real-address mode, 16-bit code.
    Real,
    /// Protected mode, 16-bit code segment.
    Pm16,
    /// Protected mode, 32-bit code segment.
    Pm32,
    /// IA-32e compatibility mode (32-bit code).
    Compat,
    /// 64-bit mode.
    Long,
}

/// Runs `anyx86 lockstep`; returns the exit status (0: no divergence,
/// 1: a divergence, 2: bad input).
pub fn lockstep(a: &LockstepArgs) -> Result<u8, String> {
    if a.random {
        return random::run(a);
    }
    if a.paths.is_empty() {
        return Err("lockstep: give ROMs, a ROM directory, or --random".into());
    }
    let mut roms = Vec::new();
    for p in &a.paths {
        roms.extend(list_roms(p, a.exclusions.as_deref())?);
    }
    let (mut total, mut failed) = (0u64, 0u32);
    for rom in roms {
        match rom {
            Listed::Run(path) => {
                let (n, ok) = run_rom(a, &path)?;
                total += n;
                failed += u32::from(!ok);
            }
            Listed::Excluded(name, why) => println!("{name}: excluded ({why})"),
        }
    }
    println!("{total} instructions compared, {failed} divergences");
    Ok(u8::from(failed > 0))
}

/// A ROM found on the command line.
enum Listed {
    Run(PathBuf),
    Excluded(String, String),
}

/// The exclusions that apply to ROMs in directory `dir`: `--exclusions`,
/// else the directory's file, else the committed `test-roms` list built
/// in (its `reset` lines apply to every guest, random streams too).
fn exclusions_for(dir: &Path, excl: Option<&Path>) -> Exclusions {
    let path = excl.map_or_else(|| dir.join(EXCLUSIONS), Path::to_path_buf);
    std::fs::read_to_string(path)
        .map(|t| parse_exclusions(&t))
        .unwrap_or_else(|_| parse_exclusions(BUILTIN_EXCLUSIONS))
}

/// `test-roms/lockstep-exclusions.txt` as committed.
const BUILTIN_EXCLUSIONS: &str = include_str!("../../../../test-roms/lockstep-exclusions.txt");

/// The exclusions file of a ROM directory.
pub(crate) const EXCLUSIONS: &str = "lockstep-exclusions.txt";

/// The ROMs of a path: itself, or a directory's `*.bin` less its
/// exclusions.
fn list_roms(p: &Path, excl: Option<&Path>) -> Result<Vec<Listed>, String> {
    if !p.is_dir() {
        return Ok(vec![Listed::Run(p.to_path_buf())]);
    }
    let excluded = exclusions_for(p, excl).roms;
    let rd = std::fs::read_dir(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    let mut bins: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|f| f.extension().is_some_and(|x| x == "bin"))
        .collect();
    bins.sort();
    Ok(bins
        .into_iter()
        .map(|b| {
            let name = b
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            match excluded.iter().find(|(n, _)| *n == name) {
                Some((_, why)) => Listed::Excluded(name, why.clone()),
                None => Listed::Run(b),
            }
        })
        .collect())
}

/// The exclusions file: ROMs not run and registers QEMU sets wrongly at
/// reset, each with its reason.
#[derive(Debug, Default)]
pub(crate) struct Exclusions {
    /// `rom NAME  # reason`: ROMs not run.
    pub roms: Vec<(String, String)>,
    /// `reset REGISTER  # reason`: not compared until the two agree.
    pub reset: Vec<(String, String)>,
    /// `insn MNEMONIC  # reason`: implementation-specific results; not
    /// generated, and QEMU's results taken after one in a ROM.
    pub insns: Vec<(String, String)>,
    /// `low REGISTER BYTES  # reason`: only the low bytes compared.
    pub low: Vec<(String, usize, String)>,
    /// `mask REGISTER HEX  # reason`: these bits never compared.
    pub masks: Vec<(String, u64, String)>,
    /// `gen OPTION  # reason`: generator options (`align-m128`).
    pub gen: Vec<(String, String)>,
    /// `nan REGISTER  # reason`: NaN payloads not compared.
    pub nan: Vec<(String, String)>,
    /// `stop ROM ADDRESS  # reason`: the comparison of ROM ends before
    /// the instruction at this linear address.
    pub stops: Vec<(String, u64, String)>,
    /// `take ROM ADDRESS  # reason`: after the instruction at this linear
    /// address, our general registers take QEMU's values.
    pub takes: Vec<(String, u64, String)>,
}

/// Parses `KIND NAME  # reason` lines (blank lines and whole-line comments
/// skipped; an unknown kind is ignored).
fn parse_exclusions(text: &str) -> Exclusions {
    let mut e = Exclusions::default();
    for l in text.lines().map(str::trim) {
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let (what, why) = l.split_once('#').unwrap_or((l, ""));
        let mut w = what.split_whitespace();
        let (Some(kind), Some(name)) = (w.next(), w.next()) else {
            continue;
        };
        let entry = (name.to_string(), why.trim().to_string());
        match kind {
            "rom" => e.roms.push(entry),
            "reset" => e.reset.push(entry),
            "insn" => e.insns.push(entry),
            "gen" => e.gen.push(entry),
            "nan" => e.nan.push(entry),
            "stop" | "take" => {
                let hex = w.next().map(|h| h.trim_start_matches("0x"));
                if let Some(a) = hex.and_then(|h| u64::from_str_radix(h, 16).ok()) {
                    let list = if kind == "stop" {
                        &mut e.stops
                    } else {
                        &mut e.takes
                    };
                    list.push((entry.0, a, entry.1));
                }
            }
            "low" => {
                if let Some(n) = w.next().and_then(|n| n.parse().ok()) {
                    e.low.push((entry.0, n, entry.1));
                }
            }
            "mask" => {
                let hex = w.next().map(|h| h.trim_start_matches("0x"));
                if let Some(m) = hex.and_then(|h| u64::from_str_radix(h, 16).ok()) {
                    e.masks.push((entry.0, m, entry.1));
                }
            }
            _ => {}
        }
    }
    e
}

/// The flags on a `; KEY: FLAGS` line of the ROM's assembly source.
fn source_flags(rom: &Path, key: &str) -> Vec<String> {
    let src = std::fs::read_to_string(rom.with_extension("asm")).unwrap_or_default();
    src.lines()
        .filter_map(|l| l.strip_prefix(&format!("; {key}:")))
        .flat_map(|f| f.split_whitespace().map(String::from).collect::<Vec<_>>())
        .collect()
}

/// The value after `flag` in a flag list.
fn flag_value(flags: &[String], flag: &str) -> Option<String> {
    flags
        .iter()
        .position(|f| f == flag)
        .and_then(|i| flags.get(i + 1).cloned())
}

/// Both machines for one ROM: our CPU model and machine, QEMU's.
pub(crate) struct Setup {
    pub(crate) cpu: String,
    pub(crate) kind: MachineKind,
    /// Both machines get QEMU's `pc-testdev`.
    pub(crate) testdev: bool,
}

fn rom_setup(a: &LockstepArgs, rom: &Path) -> Setup {
    let ours = source_flags(rom, "anyx86-flags");
    let cpu = match a.cpu.as_str() {
        "auto" => flag_value(&ours, "--cpu").unwrap_or_else(|| "qemu32".into()),
        c => c.to_string(),
    };
    let kind = match flag_value(&ours, "--machine").as_deref() {
        Some("isa") => MachineKind::Isa,
        _ => MachineKind::Pc,
    };
    let testdev = flag_value(&ours, "--device").as_deref() == Some("pc-testdev");
    Setup { cpu, kind, testdev }
}

/// Starts both machines on a firmware image.
pub(crate) fn start_pair(a: &LockstepArgs, bios: &Path, s: &Setup) -> Result<Pair, String> {
    let model = CpuModel::by_name(&s.cpu).ok_or_else(|| format!("unknown CPU model {}", s.cpu))?;
    let mut cfg = MachineConfig::new(RAM_MIB);
    cfg.bios = Some(bios.to_path_buf());
    cfg.cpu = model;
    cfg.kind = s.kind;
    cfg.no_reboot = true;
    cfg.pc_testdev = s.testdev;
    let m = Machine::new(cfg).map_err(|e| e.to_string())?;
    // Our qemu32 is QEMU's qemu32 with NX (the paging ROM uses it); the
    // ISA machine has no local APIC.
    let qcpu = match (s.cpu.as_str(), s.kind) {
        ("qemu32", MachineKind::Isa) => "qemu32,+nx,-apic",
        ("qemu32", _) => "qemu32,+nx",
        // Our qemu64 has x86-64-v2 and no MONITOR (see its CPUID model).
        ("qemu64", _) => "qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt,-monitor",
        (c, _) => c,
    };
    let q = Qemu::start(&QemuSetup {
        binary: &a.qemu,
        bios: Some(bios),
        kernel: None,
        cpu: qcpu,
        machine: match s.kind {
            MachineKind::Isa => "isapc",
            MachineKind::Pc => "pc",
        },
        ram_mib: RAM_MIB,
        testdev: s.testdev,
    })?;
    let mut p = Pair::new(m, q);
    p.cmp.fpu = !a.no_fpu;
    let dir = bios.parent().unwrap_or(Path::new("."));
    let e = exclusions_for(dir, a.exclusions.as_deref());
    p.cmp.excused = e.reset.into_iter().map(|(n, _)| n).collect();
    p.cmp.low = e.low.into_iter().map(|(n, b, _)| (n, b)).collect();
    p.cmp.masks = e.masks.into_iter().map(|(n, m, _)| (n, m)).collect();
    p.sync_insns = e.insns.into_iter().map(|(n, _)| n.to_lowercase()).collect();
    p.gen_options = e.gen.into_iter().map(|(n, _)| n).collect();
    p.cmp.nan = e.nan.into_iter().map(|(n, _)| n).collect();
    Ok(p)
}

/// Runs one ROM in lockstep; returns the instructions compared and
/// whether they agreed.
fn run_rom(a: &LockstepArgs, rom: &Path) -> Result<(u64, bool), String> {
    let name = rom
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut p = start_pair(a, rom, &rom_setup(a, rom))?;
    let dir = rom.parent().unwrap_or(Path::new("."));
    let e = exclusions_for(dir, a.exclusions.as_deref());
    p.sync_at = e
        .takes
        .iter()
        .filter(|(n, _, _)| *n == name)
        .map(|(_, at, _)| *at)
        .collect();
    let stops: Vec<(u64, String)> = e
        .stops
        .into_iter()
        .filter(|(n, _, _)| *n == name)
        .map(|(_, at, why)| (at, why))
        .collect();
    let stop = |line: &anyx86_debugger::disasm::Line, p: &Pair| {
        stops
            .iter()
            .find(|(at, _)| *at == line.lin)
            .map(|(at, why)| format!("the excluded instruction at {at:#x} ({why})"))
            .or_else(|| timed_stop(line, p))
    };
    let start = Instant::now();
    let mut end = p.check_now("the states differ at reset")?;
    while end.is_none() {
        if p.compared >= a.max_instructions {
            end = Some(End::Limit);
            break;
        }
        end = p.step(&stop)?;
    }
    let secs = start.elapsed().as_secs_f64();
    let rate = p.compared as f64 / secs.max(1e-9);
    let n = p.compared;
    let summary = format!("{n} instructions compared in {secs:.1} s ({rate:.0}/s)");
    Ok(match end {
        Some(End::Diverged(r)) => {
            println!("{name}: DIVERGED after {summary}\n{r}");
            (n, false)
        }
        Some(End::Exited(s)) => {
            println!("{name}: ok, exit status {s} on both; {summary}");
            (n, true)
        }
        Some(End::Timed(why)) => {
            println!("{name}: ok up to {why}; {summary}");
            (n, true)
        }
        Some(End::Limit) | None => {
            println!("{name}: ok up to the instruction limit; {summary}");
            (n, true)
        }
    })
}

/// EFLAGS.VM.
const VM: u32 = 1 << 17;

/// I/O ports whose reads depend on time or on interrupts QEMU's stub holds
/// off: the PIT and port 61h, the 8259A IRR/ISR, the RTC, the UARTs (line
/// and interrupt status follow transmit timing), the ACPI PM timer.
const TIMED_PORTS: &[(u16, u16)] = &[
    (0x20, 0x20),
    (0x40, 0x43),
    (0x61, 0x61),
    (0x70, 0x71),
    (0xA0, 0xA0),
    (0x2F8, 0x2FF),
    (0x3F8, 0x3FF),
    (0x600, 0x63F),
];

/// Where to stop comparing a ROM: before an instruction whose result
/// depends on time or interrupts.
fn timed_stop(line: &anyx86_debugger::disasm::Line, p: &Pair) -> Option<String> {
    let ins = &line.ins;
    let at = format!("{} at {:#x}", line.text.trim(), line.lin);
    match ins.mnemonic() {
        Mnemonic::Rdtsc | Mnemonic::Rdtscp | Mnemonic::Rdpmc => Some(format!("time read {at}")),
        // At CPL 0 outside V86 mode HLT waits for an interrupt; elsewhere
        // it raises #GP, which is compared.
        Mnemonic::Hlt if p.m.cpu.s.cpl == 0 && p.m.cpu.s.eflags() & VM == 0 => {
            Some(format!("HLT (waits for an interrupt) {at}"))
        }
        Mnemonic::In | Mnemonic::Insb | Mnemonic::Insw | Mnemonic::Insd => {
            let port = match ins.op1_kind() {
                OpKind::Immediate8 => u16::from(ins.immediate8()),
                _ => p.m.cpu.s.gpr[2] as u16,
            };
            TIMED_PORTS
                .iter()
                .any(|(lo, hi)| (*lo..=*hi).contains(&port))
                .then(|| format!("read of timed port {port:#x} {at}"))
        }
        _ => None,
    }
}

/// Creates a ROM path for the random streams' images.
pub(crate) fn temp_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("anyx86-lockstep-{}-{tag}.bin", std::process::id()))
}
