//! Command-line flags.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::str::FromStr;

/// anyx86: a portable x86 PC emulator.
#[derive(Debug, Parser)]
#[command(name = "anyx86", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Boot a machine.
    Run(RunArgs),
}

/// Flags of `anyx86 run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Firmware ROM image (a multiple of 64 KiB, at most 16 MiB).
    #[arg(long, value_name = "FILE", required_unless_present = "kernel")]
    pub bios: Option<PathBuf>,
    /// Boot a kernel directly: a Linux bzImage (boot protocol 2.06+) or a
    /// Multiboot v1 kernel.
    #[arg(long, value_name = "FILE")]
    pub kernel: Option<PathBuf>,
    /// Initial ramdisk for Linux, or comma-separated Multiboot modules.
    #[arg(
        long,
        value_name = "FILE[,FILE...]",
        value_delimiter = ',',
        requires = "kernel"
    )]
    pub initrd: Vec<PathBuf>,
    /// Kernel command line.
    #[arg(long, value_name = "CMDLINE", default_value = "", requires = "kernel")]
    pub append: String,
    /// Guest RAM in MiB.
    #[arg(short = 'm', long = "memory", value_name = "MiB", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=3584))]
    pub memory: u64,
    /// Where port 0xE9 output goes: stdio, null or file:PATH.
    #[arg(long, value_name = "DEST", default_value = "stdio")]
    pub debugcon: Stream,
    /// Where COM1 goes: stdio, null or file:PATH.
    #[arg(long, value_name = "DEST", default_value = "stdio")]
    pub serial: Stream,
    /// Where COM2 goes.
    #[arg(long, value_name = "DEST", default_value = "null")]
    pub serial2: Stream,
    /// Where COM3 goes.
    #[arg(long, value_name = "DEST", default_value = "null")]
    pub serial3: Stream,
    /// Where COM4 goes.
    #[arg(long, value_name = "DEST", default_value = "null")]
    pub serial4: Stream,
    /// Clock: `realtime` (paced to the host) or `virtual` (reproducible,
    /// derived from instructions).
    #[arg(long, value_enum, default_value_t = ClockArg::Realtime)]
    pub clock: ClockArg,
    /// Instructions per second of virtual time.
    #[arg(long, value_name = "N", default_value_t = 1_000_000_000,
          value_parser = clap::value_parser!(u64).range(1_000..))]
    pub ips: u64,
    /// RTC time at power-on, in Unix seconds (default: the host's time).
    #[arg(long, value_name = "SECONDS")]
    pub rtc_base: Option<i64>,
    /// Stop instead of resetting on a triple fault or reset request.
    #[arg(long)]
    pub no_reboot: bool,
    /// Stop after this many instructions (exit status 6).
    #[arg(long, value_name = "N")]
    pub max_instructions: Option<u64>,
    /// Write the register state before every instruction to FILE
    /// (slow: one instruction at a time).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Print instructions retired, wall time and MIPS at the end.
    #[arg(long)]
    pub stats: bool,
}

/// Clock modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClockArg {
    /// Paced to the host clock.
    Realtime,
    /// Derived from retired instructions: reproducible.
    Virtual,
}

/// An output destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdio,
    /// Discarded.
    Null,
    /// A file.
    File(PathBuf),
}

impl FromStr for Stream {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stdio" => Ok(Stream::Stdio),
            "null" => Ok(Stream::Null),
            _ => match s.strip_prefix("file:") {
                Some(p) if !p.is_empty() => Ok(Stream::File(PathBuf::from(p))),
                _ => Err(format!("'{s}' is not stdio, null or file:PATH")),
            },
        }
    }
}
