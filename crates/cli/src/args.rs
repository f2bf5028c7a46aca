//! Command-line flags.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::str::FromStr;

/// The exit statuses, shown by `--help` (the README has the same table).
const EXIT_STATUSES: &str = "Exit statuses of run and debug:
  (V << 1) | 1  the guest wrote V to the exit device (port 0xF4)
  0             guest powered off, halted for good, reset with --no-reboot, or quit
  2             bad input (flags, files, malformed images)
  4             triple fault with --no-reboot
  6             --max-instructions ran out
  8             no progress (an exception storm) with --no-reboot
  124           --timeout expired
  128 + N       ended by signal N (SIGHUP 129, SIGINT 130, SIGTERM 143)";

/// anyx86: a portable x86 PC emulator.
#[derive(Debug, Parser)]
#[command(name = "anyx86", version, about, after_help = EXIT_STATUSES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Boot a machine.
    #[command(after_help = EXIT_STATUSES)]
    Run(RunArgs),
    /// Boot a machine in the built-in debugger (full-screen, or --batch).
    #[command(after_help = EXIT_STATUSES)]
    Debug(DebugArgs),
    /// Run conformance tests: SingleStepTests vectors, test-ROM
    /// directories, multiboot kernels.
    Conform(crate::conform::ConformArgs),
    /// Differential testing: step a guest on anyx86 and on QEMU (through
    /// its gdbstub) and compare them after every instruction.
    Lockstep(crate::lockstep::LockstepArgs),
}

/// Flags of `anyx86 debug`: those of `run`, and a command file.
#[derive(Debug, Args)]
pub struct DebugArgs {
    /// The machine.
    #[command(flatten)]
    pub run: RunArgs,
    /// Run the debugger commands in FILE (`-` for standard input) and
    /// print their results, without a terminal user interface.
    #[arg(long, value_name = "FILE")]
    pub batch: Option<PathBuf>,
}

/// Flags of `anyx86 run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Firmware ROM image (a multiple of 64 KiB, at most 16 MiB) instead
    /// of the built-in SeaBIOS.
    #[arg(long, value_name = "FILE", conflicts_with = "kernel")]
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
    /// CPU model: what CPUID reports. `qemu64` has long mode; `auto`
    /// picks `qemu64` for a 64-bit `--kernel` and for the built-in BIOS
    /// (whatever the disk holds), `qemu32` for a 32-bit kernel and for
    /// `--bios`.
    #[arg(long, value_name = "MODEL", default_value = "auto",
          value_parser = ["auto", "qemu32", "qemu64"])]
    pub cpu: String,
    /// Machine: `pc` (default; QEMU's `pc`: i440FX/PIIX, local APIC and
    /// I/O APIC, HPET, ACPI, fw_cfg) or `isa` (QEMU's `isapc`: 8259, 8254,
    /// RTC, UARTs and i8042 only).
    #[arg(long = "machine", short = 'M', value_name = "MACHINE", default_value = "pc",
          value_parser = ["pc", "isa", "isapc"])]
    pub machine: String,
    /// Guest RAM in MiB.
    #[arg(short = 'm', long = "memory", value_name = "MiB", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=3584))]
    pub memory: u64,
    /// Where port 0xE9 output goes: stdio, null or file:PATH.
    #[arg(long, value_name = "DEST", default_value = "stdio")]
    pub debugcon: Stream,
    /// Where COM1 goes: stdio, null, file:PATH or tcp:HOST:PORT.
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
    /// Stop after this many instructions (exit status 6). Exception and
    /// interrupt deliveries, REP iterations and idle wake-ups count as one
    /// each; a guest stuck in an exception storm is reported and, with
    /// --no-reboot, ends with exit status 8.
    #[arg(long, value_name = "N")]
    pub max_instructions: Option<u64>,
    /// Stop after this many seconds of wall-clock time (exit status 124).
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout)]
    pub timeout: Option<f64>,
    /// Write one line per retired instruction to FILE: address, bytes,
    /// disassembly, changed registers.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Trace only linear addresses in START-END (hex with 0x).
    #[arg(long, value_name = "START-END", requires = "trace")]
    pub trace_range: Option<String>,
    /// Trace only in this CPU mode: real, protected, paging, v86, long.
    #[arg(long, value_name = "MODE", requires = "trace")]
    pub trace_mode: Option<String>,
    /// Trace only after this many instructions.
    #[arg(long, value_name = "N", requires = "trace")]
    pub trace_after: Option<u64>,
    /// Start a GDB remote stub on HOST:PORT (loopback only, unless
    /// --gdb-allow-remote).
    #[arg(long, value_name = "HOST:PORT")]
    pub gdb: Option<String>,
    /// With --gdb: stop before the first instruction until GDB attaches.
    #[arg(long, requires = "gdb")]
    pub gdb_wait: bool,
    /// With --gdb: allow a non-loopback listening address.
    #[arg(long, requires = "gdb")]
    pub gdb_allow_remote: bool,
    /// Print instructions retired, wall time and MIPS at the end.
    #[arg(long)]
    pub stats: bool,
    /// Boot order for the BIOS, as QEMU's `-boot`: up to three of `a`
    /// (floppy), `c` (hard disk), `d` (CD-ROM), `n` (network); default `cad`.
    #[arg(long, value_name = "ORDER", conflicts_with = "kernel")]
    pub boot: Option<String>,
    /// Hard disk image (raw) on the IDE primary master, as QEMU's `-hda`.
    #[arg(long, value_name = "FILE", conflicts_with = "kernel")]
    pub hda: Option<PathBuf>,
    /// Hard disk image on the IDE primary slave.
    #[arg(long, value_name = "FILE", conflicts_with = "kernel")]
    pub hdb: Option<PathBuf>,
    /// Hard disk image on the IDE secondary master.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["kernel", "cdrom"])]
    pub hdc: Option<PathBuf>,
    /// Hard disk image on the IDE secondary slave.
    #[arg(long, value_name = "FILE", conflicts_with = "kernel")]
    pub hdd: Option<PathBuf>,
    /// CD-ROM image (ISO) in an ATAPI drive on the IDE secondary master.
    #[arg(long, value_name = "FILE", conflicts_with = "kernel")]
    pub cdrom: Option<PathBuf>,
    /// Floppy image (720 KB, 1.2 MB, 1.44 MB or 2.88 MB) in drive A.
    #[arg(long, value_name = "FILE", conflicts_with = "kernel")]
    pub fda: Option<PathBuf>,
    /// Floppy image in drive B.
    #[arg(long, value_name = "FILE", conflicts_with = "kernel")]
    pub fdb: Option<PathBuf>,
    /// Keep every write to the disk and floppy images in memory: the files
    /// do not change (QEMU's `-snapshot`).
    #[arg(long)]
    pub snapshot: bool,
    /// Where the screen goes: `none`; `terminal` (the VGA drawn in this
    /// terminal, typed keys to the PS/2 keyboard; COM1 then needs another
    /// --serial destination); or `window` (a native window, X11 or Wayland
    /// or macOS, with the host's keyboard and mouse as the PS/2 ones;
    /// closing it quits). Default: none.
    #[arg(long, value_name = "DISPLAY", default_value = "none",
          value_parser = ["none", "terminal", "window"])]
    pub display: String,
    /// With --display window: guest pixels per host pixel, each way.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=crate::display::window::MAX_SCALE as i64))]
    pub window_scale: u32,
    /// Add a device by QEMU's name: `pc-testdev` (QEMU's test device, for
    /// test kernels written for QEMU: ports 0xE0-0xEB, IRQ-line ports
    /// 0x2000-0x2017, 64 KiB of memory at 0xFF000000).
    #[arg(long = "device", value_name = "NAME", value_parser = ["pc-testdev"])]
    pub devices: Vec<String>,
    /// Write the screen to FILE (PNG) when the run ends.
    #[arg(long, value_name = "FILE.png")]
    pub screenshot: Option<PathBuf>,
    /// Start from the machine saved in FILE (by --savevm or the
    /// debugger's savevm) instead of power-on. The rest of the command
    /// line must build the same machine: RAM, machine, CPU, firmware,
    /// kernel and drives.
    #[arg(long, value_name = "FILE")]
    pub loadvm: Option<PathBuf>,
    /// Save the whole machine to FILE when the run ends, however it ends
    /// (--max-instructions, the guest, Ctrl-A x, a signal, the debugger's
    /// quit); --loadvm continues from there.
    #[arg(long, value_name = "FILE")]
    pub savevm: Option<PathBuf>,
    /// Record every input the run takes (serial and keyboard input, the
    /// realtime clock's decisions, a debugger's changes) in FILE, with
    /// the instruction where it was taken; --replay reruns the session
    /// exactly. Disk writes stay in memory, as with --snapshot.
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    pub record: Option<PathBuf>,
    /// Rerun the session recorded in FILE, with the recording's command
    /// line: the same inputs at the same instructions, whatever the
    /// host's speed, with no input taken from the user. Ends where the
    /// recording ended.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Keep checkpoints and the history in memory so that the debuggers
    /// can run backwards (reverse-stepi, reverse-continue, reverse
    /// watchpoints). Needs --clock virtual, or --replay.
    #[arg(long)]
    pub time_travel: bool,
    /// Instructions between time-travel checkpoints.
    #[arg(long, value_name = "N", default_value_t = anyx86_machine::timetravel::DEFAULT_INTERVAL,
          value_parser = clap::value_parser!(u64).range(1_000..))]
    pub checkpoint_interval: u64,
    /// Memory the time-travel checkpoints may use, in MiB (older
    /// checkpoints are thinned out beyond it; at least twice the RAM).
    #[arg(long, value_name = "MiB", default_value_t = anyx86_machine::timetravel::DEFAULT_BUDGET >> 20,
          value_parser = clap::value_parser!(u64).range(1..=1 << 24))]
    pub time_travel_budget: u64,
    /// Where the firmware's own log (SeaBIOS's debug port 0x402) goes:
    /// stdio, null or file:PATH (default: nowhere, and SeaBIOS stays quiet).
    #[arg(long, value_name = "DEST")]
    pub firmware_log: Option<Stream>,
}

/// A `--timeout`: positive seconds, at most a year.
fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if t > 0.0 && t <= 365.0 * 86400.0 => Ok(t),
        _ => Err(format!(
            "'{s}' is not a number of seconds (0 < SECONDS <= 31536000)"
        )),
    }
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
    /// A TCP connection to HOST:PORT (as QEMU's `tcp:` client): guest
    /// output is sent to it, bytes received go to the guest.
    Tcp(String),
}

impl FromStr for Stream {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stdio" => Ok(Stream::Stdio),
            "null" => Ok(Stream::Null),
            _ => match (s.strip_prefix("file:"), s.strip_prefix("tcp:")) {
                (Some(p), _) if !p.is_empty() => Ok(Stream::File(PathBuf::from(p))),
                (_, Some(a))
                    if a.rsplit_once(':')
                        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()) =>
                {
                    Ok(Stream::Tcp(a.to_string()))
                }
                _ => Err(format!(
                    "'{s}' is not stdio, null, file:PATH or tcp:HOST:PORT"
                )),
            },
        }
    }
}
