//! The machine: CPU + board, reset, and the run loop.

use crate::board::{Board, Output, Sink, StopReason};
use anyx86_cpu::cpuid::CpuModel;
use anyx86_cpu::state::sreg;
use anyx86_cpu::CpuBus;
use anyx86_cpu::{Cpu, RunExit};
use anyx86_mem::{GuestRam, MemError, PhysMemory, Rom};
use std::path::PathBuf;
use std::time::Instant;

/// Exit status of a run that ended in a triple fault with `--no-reboot`.
/// The exit device only produces odd statuses (`(V << 1) | 1`), and 2 is
/// reserved for bad input, so 4 cannot be confused with either.
pub const EXIT_TRIPLE_FAULT: i32 = 4;
/// Exit status when `--max-instructions` ran out.
pub const EXIT_INSN_LIMIT: i32 = 6;

/// Errors building a machine.
#[derive(Debug, thiserror::Error)]
pub enum MachineError {
    /// The ROM file could not be read.
    #[error("cannot read ROM {path}: {source}")]
    RomRead {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The ROM or RAM is malformed or out of range.
    #[error("{0}")]
    Mem(#[from] MemError),
}

/// How to build a machine.
pub struct MachineConfig {
    /// RAM in MiB.
    pub ram_mib: u64,
    /// Firmware image.
    pub bios: Option<PathBuf>,
    /// Debug console output.
    pub debugcon: Option<Sink>,
    /// COM1 output.
    pub serial: Option<Sink>,
    /// On a triple fault or reset request, stop instead of resetting.
    pub no_reboot: bool,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// The guest wrote `value` to the exit device.
    Exit(u32),
    /// A triple fault with `--no-reboot`; the register dump.
    TripleFault(String),
    /// A reset request with `--no-reboot`.
    Reset,
    /// The CPU halted with interrupts disabled: nothing can wake it.
    Halted(String),
    /// The instruction limit was reached.
    InstructionLimit,
}

impl RunOutcome {
    /// The process exit status for this outcome.
    pub fn exit_status(&self) -> i32 {
        match self {
            RunOutcome::Exit(v) => ((v << 1) | 1) as i32 & 0xFF,
            RunOutcome::TripleFault(_) => EXIT_TRIPLE_FAULT,
            RunOutcome::Reset | RunOutcome::Halted(_) => 0,
            RunOutcome::InstructionLimit => EXIT_INSN_LIMIT,
        }
    }
}

/// A PC: one CPU and its board.
pub struct Machine {
    /// The CPU.
    pub cpu: Cpu<Board>,
    /// Memory and devices.
    pub board: Board,
    no_reboot: bool,
    /// Wall time spent in [`Machine::run`].
    pub wall: std::time::Duration,
}

/// Instructions per run-loop slice when no device deadline is nearer.
const SLICE: u64 = 1 << 20;

impl Machine {
    /// Builds a machine.
    pub fn new(cfg: MachineConfig) -> Result<Self, MachineError> {
        let ram = GuestRam::with_mib(cfg.ram_mib)?;
        let rom = match &cfg.bios {
            Some(p) => {
                let data = std::fs::read(p).map_err(|source| MachineError::RomRead {
                    path: p.clone(),
                    source,
                })?;
                Some(Rom::new(data)?)
            }
            None => None,
        };
        let mem = PhysMemory::new(ram, rom);
        let board = Board::new(
            mem,
            Output::new(cfg.debugcon, true),
            Output::new(cfg.serial, false),
        );
        Ok(Self {
            cpu: Cpu::new(CpuModel::qemu32()),
            board,
            no_reboot: cfg.no_reboot,
            wall: Default::default(),
        })
    }

    /// Instructions retired so far.
    pub fn instructions(&self) -> u64 {
        self.cpu.s.icount
    }

    /// Resets CPU and board (RAM is kept, as on a PC).
    pub fn reset(&mut self) {
        let icount = self.cpu.s.icount;
        self.cpu.reset();
        self.cpu.s.icount = icount;
        self.board.reset();
    }

    /// Runs until the guest exits, stops, or `max` instructions retired.
    pub fn run(&mut self, max: Option<u64>) -> RunOutcome {
        let start = Instant::now();
        let out = self.run_inner(max);
        self.board.flush();
        self.wall += start.elapsed();
        out
    }

    fn run_inner(&mut self, max: Option<u64>) -> RunOutcome {
        loop {
            let left = max.map_or(u64::MAX, |m| m.saturating_sub(self.cpu.s.icount));
            if left == 0 {
                return RunOutcome::InstructionLimit;
            }
            match self.cpu.run(&mut self.board, left.min(SLICE)) {
                RunExit::Budget | RunExit::Breakpoint => {}
                RunExit::Stopped => match self.board.take_stop() {
                    Some(StopReason::Exit(v)) => return RunOutcome::Exit(v),
                    Some(StopReason::Reset) if self.no_reboot => return RunOutcome::Reset,
                    Some(StopReason::Reset) => self.reset(),
                    None => {}
                },
                RunExit::Halted => {
                    if self.cpu.s.flags & anyx86_cpu::state::fl::IF == 0 {
                        return RunOutcome::Halted(self.halt_line());
                    }
                    // No device can raise an interrupt yet: an idle wait
                    // would last forever.
                    return RunOutcome::Halted(self.halt_line());
                }
                RunExit::TripleFault(f) => {
                    if self.no_reboot {
                        return RunOutcome::TripleFault(
                            self.dump(&format!("triple fault (last exception {:?})", f)),
                        );
                    }
                    self.reset();
                }
            }
        }
    }

    /// Runs one instruction at a time, writing the register state before
    /// each one to `out` (a debugging aid: compare with another
    /// emulator's log).
    pub fn run_traced(&mut self, max: Option<u64>, out: &mut dyn std::io::Write) -> RunOutcome {
        let start = Instant::now();
        let r = loop {
            if max.is_some_and(|m| self.cpu.s.icount >= m) {
                break RunOutcome::InstructionLimit;
            }
            let s = &self.cpu.s;
            let g = |i: usize| s.gpr[i] as u32;
            let _ = writeln!(
                out,
                "EIP={:08x} EAX={:08x} EBX={:08x} ECX={:08x} EDX={:08x} ESI={:08x} EDI={:08x} EBP={:08x} ESP={:08x} EFL={:08x}",
                s.rip as u32, g(0), g(3), g(1), g(2), g(6), g(7), g(5), g(4), s.eflags()
            );
            match self.cpu.step(&mut self.board) {
                RunExit::Stopped => match self.board.take_stop() {
                    Some(StopReason::Exit(v)) => break RunOutcome::Exit(v),
                    Some(StopReason::Reset) => break RunOutcome::Reset,
                    None => {}
                },
                RunExit::Halted => break RunOutcome::Halted(self.halt_line()),
                RunExit::TripleFault(f) => {
                    break RunOutcome::TripleFault(self.dump(&format!("triple fault {f:?}")))
                }
                _ => {}
            }
            if self.board.stop_requested() {
                match self.board.take_stop() {
                    Some(StopReason::Exit(v)) => break RunOutcome::Exit(v),
                    _ => break RunOutcome::Reset,
                }
            }
        };
        self.board.flush();
        self.wall += start.elapsed();
        r
    }

    fn halt_line(&self) -> String {
        let s = &self.cpu.s;
        format!(
            "CPU halted with interrupts {} at {:04X}:{:08X}",
            if s.flags & anyx86_cpu::state::fl::IF != 0 {
                "enabled and none pending"
            } else {
                "disabled"
            },
            s.seg[sreg::CS].selector,
            s.rip
        )
    }

    /// A register dump for diagnostics.
    pub fn dump(&self, why: &str) -> String {
        let s = &self.cpu.s;
        let names = ["EAX", "ECX", "EDX", "EBX", "ESP", "EBP", "ESI", "EDI"];
        let mut out = format!("{why}\n");
        for (i, n) in names.iter().enumerate() {
            out += &format!(
                "{n}={:08X}{}",
                s.gpr[i] as u32,
                if i % 4 == 3 { "\n" } else { " " }
            );
        }
        out += &format!(
            "EIP={:08X} EFLAGS={:08X} CPL={} mode={:?}\n",
            s.rip as u32,
            s.eflags(),
            s.cpl,
            s.mode
        );
        let snames = ["ES", "CS", "SS", "DS", "FS", "GS"];
        for (i, n) in snames.iter().enumerate() {
            let g = &s.seg[i];
            out += &format!(
                "{n}={:04X} base={:08X} limit={:08X} attr={:04X}\n",
                g.selector, g.base, g.limit, g.attr
            );
        }
        out += &format!(
            "CR0={:08X} CR2={:08X} CR3={:08X} CR4={:08X} GDT={:08X}/{:04X} IDT={:08X}/{:04X}\n",
            s.cr0, s.cr2, s.cr3, s.cr4, s.gdtr.base, s.gdtr.limit, s.idtr.base, s.idtr.limit
        );
        if let Some(p) = self.board.post_code {
            out += &format!("POST code {p:02X}\n");
        }
        out += &format!("instructions retired: {}", s.icount);
        out
    }
}
