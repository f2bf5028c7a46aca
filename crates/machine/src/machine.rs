//! The machine: CPU + board, reset, and the run loop.

use crate::board::{Board, Output, Sink, StopReason};
use crate::clock::{Clock, ClockMode};
use crate::disk::{open_image, MediaHealth, MediaKind};
use crate::firmware::{BootOrder, SEABIOS};
use crate::journal::Site;
use crate::pc::MachineKind;
use anyx86_cpu::arch::fl;
use anyx86_cpu::arch::sreg;
use anyx86_cpu::cpuid::CpuModel;
use anyx86_cpu::debug::InsnCheck;
use anyx86_cpu::{Cpu, RunExit};
use anyx86_devices::cmos::{REG_EQUIPMENT, REG_FLOPPY_TYPES};
use anyx86_mem::{GuestRam, MemError, PhysMemory, Rom};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Exit status of a run that ended in a triple fault with `--no-reboot`.
/// The exit device only produces odd statuses (`(V << 1) | 1`), and 2 is
/// reserved for bad input, so 4 cannot be confused with either.
pub const EXIT_TRIPLE_FAULT: i32 = 4;
/// Exit status when `--max-instructions` ran out.
pub const EXIT_INSN_LIMIT: i32 = 6;
/// Exit status when the guest made no progress (one vector delivered
/// [`anyx86_cpu::NO_PROGRESS_DELIVERIES`] times in a row with
/// no instruction retired) with `--no-reboot`. Even, like 4 and 6.
pub const EXIT_NO_PROGRESS: i32 = 8;
/// Exit status when a disk, CD or floppy image file failed under the
/// running guest (it shrank, or was deleted or replaced while written).
pub const EXIT_MEDIA: i32 = 10;
/// Exit status when a replay diverged from its journal.
pub const EXIT_REPLAY_DIVERGED: i32 = 12;

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
    /// A file given where a regular file is required is something else
    /// (a directory, a FIFO, a device): opening or reading it could block
    /// or never end.
    #[error("{what} {path} is not a regular file")]
    NotAFile {
        /// "ROM", "kernel" or "initrd".
        what: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// The ROM file is larger than the ROM window: refused before reading.
    #[error("ROM {path} is {len} bytes, more than the {max} bytes a ROM may have")]
    RomTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// A kernel or initrd file could not be read.
    #[error("cannot read {what} {path}: {source}")]
    FileRead {
        /// "kernel" or "initrd".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The kernel image is malformed or does not fit.
    #[error("{0}")]
    Boot(#[from] anyx86_boot::BootError),
    /// A disk, CD or floppy image cannot be used.
    #[error("{0}")]
    Image(#[from] crate::disk::ImageError),
    /// Two drives given for one IDE position.
    #[error("--hdc and --cdrom both name the secondary master drive")]
    DriveConflict,
    /// The floppy controller cannot use the image.
    #[error("image {path}: {why}")]
    Floppy {
        /// The file.
        path: PathBuf,
        /// What the controller said.
        why: anyx86_devices::fdc::FdcError,
    },
    /// QEMU's test device sits on the full PC.
    #[error("--device pc-testdev needs --machine pc")]
    TestdevNeedsPc,
    /// Drives need the full PC's IDE controller.
    #[error("disk and CD-ROM drives need --machine pc")]
    DrivesNeedPc,
    /// A Linux kernel takes one initrd.
    #[error("a Linux kernel takes one initrd, {0} were given")]
    TooManyInitrds(usize),
}

/// How to build a machine.
pub struct MachineConfig {
    /// RAM in MiB.
    pub ram_mib: u64,
    /// Firmware image from a file (`--bios`).
    pub bios: Option<PathBuf>,
    /// Without `bios`, start in the embedded SeaBIOS (the default when no
    /// kernel is booted directly).
    pub builtin_bios: bool,
    /// No one sees the screen: the firmware mirrors it on COM1 (SeaBIOS's
    /// serial console, as with `qemu -nographic`). When false, a directly
    /// booted Linux kernel is told the VGA shows 80x25 text (its `tty0`).
    pub serial_console: bool,
    /// Where the firmware's log (port 0x402) goes, if anywhere.
    pub firmware_log: Option<Sink>,
    /// The order the BIOS tries boot devices in.
    pub boot_order: BootOrder,
    /// Disk, CD and floppy images.
    pub drives: Drives,
    /// Debug console output.
    pub debugcon: Option<Sink>,
    /// COM1-COM4 outputs.
    pub serial: [Option<Sink>; 4],
    /// On a triple fault or reset request, stop instead of resetting.
    pub no_reboot: bool,
    /// Virtual or realtime clock.
    pub clock: ClockMode,
    /// Instructions per virtual second.
    pub ips: u64,
    /// RTC time at power-on, in Unix seconds.
    pub rtc_base: i64,
    /// The CPU model (CPUID identity and features).
    pub cpu: CpuModel,
    /// The full PC (default) or the ISA machine.
    pub kind: MachineKind,
    /// Add QEMU's `pc-testdev` (`--device pc-testdev`; full PC only).
    pub pc_testdev: bool,
}

impl MachineConfig {
    /// A configuration with `ram_mib` of RAM and everything else at its
    /// default (no outputs, virtual clock at 1000 MIPS).
    pub fn new(ram_mib: u64) -> Self {
        Self {
            ram_mib,
            bios: None,
            builtin_bios: false,
            serial_console: true,
            firmware_log: None,
            boot_order: BootOrder::default(),
            drives: Drives::default(),
            debugcon: None,
            serial: [None, None, None, None],
            no_reboot: false,
            clock: ClockMode::Virtual,
            ips: DEFAULT_IPS,
            rtc_base: 0,
            cpu: CpuModel::qemu32(),
            kind: MachineKind::Pc,
            pc_testdev: false,
        }
    }
}

/// The user's media, by QEMU's names.
#[derive(Debug, Clone, Default)]
pub struct Drives {
    /// `--hda` .. `--hdd`: IDE primary master/slave, secondary master/slave.
    pub hd: [Option<PathBuf>; 4],
    /// `--cdrom`: an ATAPI drive at the secondary master, as QEMU puts it.
    pub cdrom: Option<PathBuf>,
    /// `--fda`, `--fdb`.
    pub fd: [Option<PathBuf>; 2],
    /// `--snapshot`: writes stay in memory.
    pub snapshot: bool,
}

impl Drives {
    fn any_ide(&self) -> bool {
        self.hd.iter().any(Option::is_some) || self.cdrom.is_some()
    }
}

/// Default instructions per virtual second.
pub const DEFAULT_IPS: u64 = 1_000_000_000;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// The guest wrote `value` to the exit device.
    Exit(u32),
    /// A triple fault with `--no-reboot`; the register dump.
    TripleFault(String),
    /// A reset request with `--no-reboot`.
    Reset,
    /// A replay reached the end of its journal: where the recording
    /// ended.
    ReplayEnd,
    /// A replay found the machine elsewhere than its journal says (a
    /// device or the CPU behaved otherwise than when recorded, or the
    /// journal is damaged past its start); why.
    ReplayDiverged(String),
    /// The CPU halted and nothing can wake it.
    Halted(String),
    /// The instruction limit was reached.
    InstructionLimit,
    /// The host asked to stop (Ctrl-A x).
    HostQuit,
    /// The guest powered the machine off (ACPI S5).
    PowerOff,
    /// The debugger's check stopped the run (breakpoint or watchpoint).
    Breakpoint,
    /// With `--no-reboot`: the guest made no progress (an exception
    /// storm); the diagnostic with the vector and CS:RIP, and the dump.
    NoProgress(String),
    /// An image file failed under the guest (see [`Machine::media`]).
    MediaError,
}

impl RunOutcome {
    /// The process exit status for this outcome.
    pub fn exit_status(&self) -> i32 {
        match self {
            RunOutcome::Exit(v) => ((v << 1) | 1) as i32 & 0xFF,
            RunOutcome::TripleFault(_) => EXIT_TRIPLE_FAULT,
            RunOutcome::Reset
            | RunOutcome::Halted(_)
            | RunOutcome::HostQuit
            | RunOutcome::PowerOff
            | RunOutcome::Breakpoint
            | RunOutcome::ReplayEnd => 0,
            RunOutcome::ReplayDiverged(_) => EXIT_REPLAY_DIVERGED,
            RunOutcome::InstructionLimit => EXIT_INSN_LIMIT,
            RunOutcome::NoProgress(_) => EXIT_NO_PROGRESS,
            RunOutcome::MediaError => EXIT_MEDIA,
        }
    }
}

/// What the host hook tells the run loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostControl {
    /// Keep running.
    Continue,
    /// Stop the run.
    Quit,
}

/// Called at every slice boundary and while the guest idles: the host
/// feeds input (`Board::serial_input`) and may stop the run. `idle` is the
/// longest the hook may block waiting for input, when the guest has
/// nothing to do until then. The second argument is the number of
/// instructions retired so far.
pub type HostHook<'a> = &'a mut dyn FnMut(&mut Board, u64, Option<Duration>) -> HostControl;

/// Checks that `path` is a regular file (a FIFO with no writer would
/// block `open`, a device or directory never reads as an image) and
/// returns its size.
pub fn regular_file_len(path: &std::path::Path, what: &'static str) -> Result<u64, MachineError> {
    let meta = std::fs::metadata(path).map_err(|source| MachineError::FileRead {
        what,
        path: path.to_owned(),
        source,
    })?;
    if !meta.is_file() {
        return Err(MachineError::NotAFile {
            what,
            path: path.to_owned(),
        });
    }
    Ok(meta.len())
}

/// Reads a `--bios` file: a regular file no larger than a ROM may be,
/// checked before reading it (`/dev/zero` would read forever).
fn read_rom(p: &std::path::Path) -> Result<Vec<u8>, MachineError> {
    let len = regular_file_len(p, "ROM")?;
    if len > anyx86_mem::ROM_MAX as u64 {
        return Err(MachineError::RomTooLarge {
            path: p.to_owned(),
            len,
            max: anyx86_mem::ROM_MAX,
        });
    }
    let read_err = |source| MachineError::RomRead {
        path: p.to_owned(),
        source,
    };
    let f = std::fs::File::open(p).map_err(read_err)?;
    // The file may grow meanwhile: never read past the limit.
    let mut data = Vec::with_capacity(len as usize);
    std::io::Read::read_to_end(
        &mut std::io::Read::take(f, anyx86_mem::ROM_MAX as u64 + 1),
        &mut data,
    )
    .map_err(read_err)?;
    Ok(data)
}

/// A file's content, for identity lines: its size and CRC-32.
pub(crate) fn content_id(data: &[u8]) -> String {
    format!(
        "{} bytes, crc {:08x}",
        data.len(),
        anyx86_hw::wire::crc32(data)
    )
}

/// A PC: one CPU and its board.
pub struct Machine {
    /// The CPU.
    pub cpu: Cpu<Board>,
    /// Memory and devices.
    pub board: Board,
    no_reboot: bool,
    pub(crate) rtc_base: i64,
    /// The direct-boot plan, re-applied on reset (no firmware to run).
    pub(crate) boot_plan: Option<anyx86_boot::BootPlan>,
    /// Someone looks at the screen (not `serial_console`): a directly
    /// booted Linux kernel is told about the VGA text screen.
    pub(crate) screen_shown: bool,
    /// Last FERR# level forwarded to IRQ13.
    pub(crate) ferr_seen: bool,
    /// Wall time spent in [`Machine::run`].
    pub wall: std::time::Duration,
    /// Things the user should be told before the run (e.g. an implicit
    /// `--snapshot`).
    pub notes: Vec<String>,
    /// Times the guest made no progress and was reset (without
    /// `--no-reboot`), and the last such diagnostic.
    pub no_progress: Option<(u64, String)>,
    /// Problems with the image files, found while running or when they
    /// are closed (dropping the machine): the caller reports them.
    pub media: Rc<MediaHealth>,
    /// What the command line built that a snapshot does not hold (see
    /// [`crate::snapshot`]), one line each: a snapshot loads only into a
    /// machine with the same lines.
    identity: Vec<String>,
    /// The journal being recorded or replayed (see [`crate::journal`]).
    pub(crate) journal: Option<Box<crate::journal::Journal>>,
    /// Checkpoints for going back (see [`crate::timetravel`]).
    pub(crate) time_travel: Option<Box<crate::timetravel::TimeTravel>>,
}

/// Most instructions per run-loop slice (host responsiveness, and how
/// often realtime mode checks its lag: about 1 ms at 250 guest MIPS).
const SLICE: u64 = 1 << 18;
/// Realtime mode lets virtual time lag the host by this much before it
/// jumps forward. Kept below a timer tick (4 ms at HZ=250): a jump then
/// passes at most one periodic timer deadline, so no tick is lost, and a
/// guest busy-waiting on its TSC waits about as long as on the host clock
/// rather than for the instructions the wait would take at `--ips`.
const MAX_LAG: Duration = Duration::from_millis(2);

impl Machine {
    /// Builds a machine.
    pub fn new(cfg: MachineConfig) -> Result<Self, MachineError> {
        let config_lines = vec![
            format!("ram {} MiB", cfg.ram_mib),
            format!("machine {}", cfg.kind.name()),
            format!("ips {}", cfg.ips),
            format!("pc-testdev {}", cfg.pc_testdev),
        ];
        let ram = GuestRam::with_mib(cfg.ram_mib)?;
        let rom = match &cfg.bios {
            Some(p) => Some(Rom::new(read_rom(p)?)?),
            None if cfg.builtin_bios => Some(Rom::new(SEABIOS.to_vec())?),
            None => None,
        };
        let firmware = rom.is_some();
        let mem = PhysMemory::new(ram, rom);
        let [s0, s1, s2, s3] = cfg.serial;
        let serial = [s0, s1, s2, s3].map(|s| Output::new(s, false));
        let clock = Clock::new(cfg.clock, cfg.ips);
        let board = Board::new(
            mem,
            clock,
            Output::new(cfg.debugcon, true),
            serial,
            cfg.rtc_base,
            cfg.kind,
        );
        // The full PC's CPU has a local APIC, and CPUID says so.
        let model = match cfg.kind {
            MachineKind::Pc => cfg.cpu.clone().with_apic(),
            MachineKind::Isa => cfg.cpu.clone(),
        };
        let mut m = Self {
            cpu: Cpu::new(model),
            board,
            no_reboot: cfg.no_reboot,
            rtc_base: cfg.rtc_base,
            boot_plan: None,
            screen_shown: !cfg.serial_console,
            ferr_seen: false,
            wall: Default::default(),
            notes: Vec::new(),
            no_progress: None,
            media: Rc::default(),
            identity: Vec::new(),
            journal: None,
            time_travel: None,
        };
        m.identity = config_lines;
        m.identify(firmware);
        m.board.firmware_log = cfg.firmware_log.map(|s| Output::new(Some(s), true));
        if cfg.pc_testdev {
            let pc = m
                .board
                .pc
                .as_deref_mut()
                .ok_or(MachineError::TestdevNeedsPc)?;
            pc.testdev = Some(Box::default());
        }
        m.attach_drives(&cfg.drives)?;
        m.setup_firmware_config();
        if firmware {
            m.setup_firmware_boot(&cfg.boot_order, cfg.serial_console);
        }
        Ok(m)
    }

    /// The identity lines of the CPU and the ROM.
    fn identify(&mut self, firmware: bool) {
        let c = &self.cpu.model;
        let vendor = String::from_utf8_lossy(&c.vendor).into_owned();
        let model = format!("{:?}", self.cpu.model);
        let lines = [
            format!(
                "cpu {vendor} family {} model {} stepping {} (model crc {:08x})",
                c.family,
                c.model,
                c.stepping,
                anyx86_hw::wire::crc32(model.as_bytes())
            ),
            match self.board.mem.rom().filter(|_| firmware) {
                Some(r) => format!("rom {}", content_id(r.as_slice())),
                None => "no rom".into(),
            },
        ];
        self.identity.extend(lines);
    }

    /// Adds a line to the machine's identity (see [`crate::snapshot`]).
    pub(crate) fn add_identity(&mut self, line: String) {
        self.identity.push(line);
    }

    /// The machine's identity, one line per part.
    pub(crate) fn identity(&self) -> String {
        self.identity.join("\n")
    }

    /// Opens the images and puts them in the drives.
    fn attach_drives(&mut self, d: &Drives) -> Result<(), MachineError> {
        if d.hd[2].is_some() && d.cdrom.is_some() {
            return Err(MachineError::DriveConflict);
        }
        if d.any_ide() && self.board.pc.is_none() {
            return Err(MachineError::DrivesNeedPc);
        }
        let mut opened = Vec::new();
        for (i, p) in d.hd.iter().enumerate() {
            if let Some(p) = p {
                opened.push((
                    i,
                    MediaKind::HardDisk,
                    open_image(p, MediaKind::HardDisk, d.snapshot, &self.media)?,
                ));
            }
        }
        if let Some(p) = &d.cdrom {
            opened.push((
                2,
                MediaKind::Cdrom,
                open_image(p, MediaKind::Cdrom, d.snapshot, &self.media)?,
            ));
        }
        self.attach_floppies(d)?;
        let Some(pc) = self.board.pc.as_deref_mut() else {
            return Ok(());
        };
        for (pos, kind, img) in opened {
            if let Some(n) = img.note {
                self.notes.push(n);
            }
            let line = format!("ide {pos} {kind:?} {} bytes", img.backend.len());
            self.identity.push(line);
            let (ch, unit) = (pos / 2, pos % 2);
            match kind {
                MediaKind::Cdrom => pc.ide.attach_cdrom(ch, unit, Some(img.backend)),
                _ => pc.ide.attach_disk(ch, unit, img.backend),
            }
        }
        Ok(())
    }

    /// Floppy images in drives A and B, and the CMOS bytes the BIOS reads
    /// about them (drive types, the equipment byte).
    fn attach_floppies(&mut self, d: &Drives) -> Result<(), MachineError> {
        let mut count = 0u8;
        for (drive, p) in d.fd.iter().enumerate() {
            let Some(p) = p else { continue };
            let img = open_image(p, MediaKind::Floppy, d.snapshot, &self.media)?;
            let line = format!("floppy {drive} {} bytes", img.backend.len());
            self.identity.push(line);
            self.board
                .fdc
                .attach(drive, img.backend)
                .map_err(|why| MachineError::Floppy {
                    path: p.clone(),
                    why,
                })?;
            count += 1;
        }
        let types = self.board.fdc.cmos_drive_type(0) << 4 | self.board.fdc.cmos_drive_type(1);
        self.board.set_cmos_config(REG_FLOPPY_TYPES, types);
        // Bit 0: floppy drives present; bits 7-6: their number - 1; bit 1:
        // the coprocessor (always there); bits 5-4 = 0: EGA/VGA.
        let equipment = match count {
            0 => 0x02,
            n => 0x03 | (n - 1) << 6,
        };
        self.board.set_cmos_config(REG_EQUIPMENT, equipment);
        Ok(())
    }

    /// Instructions retired so far.
    pub fn instructions(&self) -> u64 {
        self.cpu.s.icount
    }

    /// Resets CPU and board (RAM and virtual time are kept, as on a PC).
    pub fn reset(&mut self) {
        self.init_cpu();
        self.board.reset(self.rtc_base);
        if let Some(plan) = self.boot_plan.take() {
            self.setup_direct_platform();
            self.apply_plan(&plan);
            self.boot_plan = Some(plan);
        }
    }

    /// INIT (from the local APIC): the CPU goes to its reset state, the
    /// board and memory do not (SDM 9.1, a single processor).
    fn init_cpu(&mut self) {
        // Both counts go on: time derives from the first, and an
        // instruction limit counts both (a guest that storms again after
        // every reset must still reach it).
        let (icount, extra) = (self.cpu.s.icount, self.cpu.s.extra_work);
        self.cpu.reset();
        (self.cpu.s.icount, self.cpu.s.extra_work) = (icount, extra);
    }

    /// Runs until the guest exits, stops, or `max` instructions retired.
    pub fn run(&mut self, max: Option<u64>) -> RunOutcome {
        self.run_with(max, &mut |_, _, idle| {
            if let Some(d) = idle {
                std::thread::sleep(d);
            }
            HostControl::Continue
        })
    }

    /// [`Machine::run`] with a host hook for input and quitting.
    pub fn run_with(&mut self, max: Option<u64>, hook: HostHook<'_>) -> RunOutcome {
        let start = Instant::now();
        let out = self.run_inner(max, hook, None);
        self.board.flush();
        self.wall += start.elapsed();
        out
    }

    /// [`Machine::run_with`] with the debugger's `check` before every
    /// instruction ([`Cpu::run_checked`]): ends with
    /// [`RunOutcome::Breakpoint`] when it or a watchpoint stops the CPU.
    pub fn run_checked(
        &mut self,
        max: Option<u64>,
        hook: HostHook<'_>,
        check: InsnCheck<'_, Board>,
    ) -> RunOutcome {
        let start = Instant::now();
        let out = self.run_inner(max, hook, Some(check));
        self.board.flush();
        self.wall += start.elapsed();
        out
    }

    /// Executes one instruction (debugger single-step), firing due timer
    /// events first; external interrupts are taken only when `irqs`. A
    /// halted CPU waits for its next event (and its interrupt). Returns an
    /// outcome when the run ended.
    pub fn step(&mut self, irqs: bool) -> Option<RunOutcome> {
        let irqs = if self.replaying() {
            if let Some(out) = self.replay_site(Site::Entry) {
                return Some(out);
            }
            !self.replay_no_irq_step()
        } else {
            self.journal_flush(Site::Entry);
            if !irqs {
                self.journal_no_irq_step();
            }
            irqs
        };
        self.step_as_recorded(irqs)
    }

    /// [`Machine::step`] once the journal had its say.
    fn step_as_recorded(&mut self, irqs: bool) -> Option<RunOutcome> {
        let now = self.board.clock.now(self.cpu.s.icount);
        self.board.fire_due(now);
        if self.replaying() {
            // What the loop's top took here when this was recorded.
            if let Some(out) = self.replay_site(Site::Top) {
                return Some(out);
            }
        }
        let exit = if irqs || self.cpu.s.halted {
            self.cpu.step(&mut self.board)
        } else {
            self.cpu.step_no_irq(&mut self.board)
        };
        let out = match exit {
            RunExit::Halted => {
                let mut hook = |_: &mut Board, _: u64, _: Option<Duration>| HostControl::Continue;
                self.idle(&mut hook)
            }
            RunExit::TripleFault(f) if self.no_reboot => Some(RunOutcome::TripleFault(
                self.dump(&format!("triple fault (last exception {f:?})")),
            )),
            RunExit::TripleFault(_) => {
                self.reset();
                None
            }
            RunExit::NoProgress(v) => self.no_progress(v),
            _ => None,
        };
        self.board.flush();
        out.or_else(|| match self.board.take_stop() {
            Some(StopReason::Exit(v)) => Some(RunOutcome::Exit(v)),
            Some(StopReason::Reset) if self.no_reboot => Some(RunOutcome::Reset),
            Some(StopReason::Reset) => {
                self.reset();
                None
            }
            Some(StopReason::PowerOff) => Some(RunOutcome::PowerOff),
            Some(StopReason::Init) => {
                self.init_cpu();
                None
            }
            None => None,
        })
    }

    fn run_inner(
        &mut self,
        max: Option<u64>,
        hook: HostHook<'_>,
        mut check: Option<InsnCheck<'_, Board>>,
    ) -> RunOutcome {
        if !self.replaying() {
            // Input taken and changes made while the machine stood.
            self.journal_flush(Site::Entry);
        }
        loop {
            // Time travel goes live again at the end of its history.
            let replay = self.replaying();
            if replay {
                // A recorded step must not take the run past its limit.
                if max.is_some_and(|m| self.cpu.s.work() >= m) {
                    return RunOutcome::InstructionLimit;
                }
                if let Some(out) = self.replay_site(Site::Entry) {
                    return out;
                }
                // A watchpoint hit by the last replayed step stops a
                // checked run here, where the CPU's own loop would.
                if check.is_some() && self.cpu.s.watch.hit.is_some() {
                    return RunOutcome::Breakpoint;
                }
                if self.replay_step_due() {
                    // A checked run sees the recorded step's instruction
                    // too (a debugger's breakpoint there).
                    if let Some(c) = check.as_mut() {
                        if self.cpu.check_here(&mut self.board, &mut **c) {
                            return RunOutcome::Breakpoint;
                        }
                    }
                    self.replay_no_irq_step();
                    if let Some(out) = self.step_as_recorded(false) {
                        return out;
                    }
                    continue;
                }
            }
            let icount = self.cpu.s.icount;
            let now = self.board.clock.now(icount);
            self.board.fire_due(now);
            let skipped = self.board.clock.skipped_ns();
            let sleep = self.board.clock.pace(icount, MAX_LAG);
            self.journal_clock(skipped);
            let control = hook(&mut self.board, self.cpu.s.icount, sleep);
            if replay {
                if let Some(out) = self.replay_site(Site::Top) {
                    return out;
                }
            } else {
                self.journal_flush(Site::Top);
            }
            if control == HostControl::Quit {
                return RunOutcome::HostQuit;
            }
            if let Some(path) = self.board.save_request.take() {
                let r = self.save_snapshot(&path).map(|()| path);
                self.board.saved = Some(r.map_err(|e| e.to_string()));
            }
            if replay && self.replay_again_here(Site::Top) {
                continue;
            }
            self.checkpoint_if_due();
            // The limit counts all the CPU's work (`CpuState::work`) and
            // idle wake-ups, so storms and idle loops end too.
            let left = max.map_or(u64::MAX, |m| m.saturating_sub(self.cpu.s.work()));
            if left == 0 {
                return RunOutcome::InstructionLimit;
            }
            let until_event = self
                .board
                .next_deadline()
                .map_or(SLICE, |t| self.board.clock.insns_until(icount, t));
            let until_input = if replay {
                self.replay_budget().unwrap_or(u64::MAX)
            } else {
                u64::MAX
            };
            let budget = left.min(SLICE).min(until_event).min(until_input);
            let exit = match check.as_mut() {
                None => self.cpu.run(&mut self.board, budget),
                Some(c) => self.cpu.run_checked(&mut self.board, budget, &mut **c),
            };
            self.sync_ferr();
            if self.media.failed() {
                return RunOutcome::MediaError;
            }
            if exit == RunExit::Halted && !self.cpu.s.halted {
                // The FPU error path just released a frozen instruction.
                continue;
            }
            match exit {
                RunExit::Budget => {}
                RunExit::Breakpoint => return RunOutcome::Breakpoint,
                RunExit::Stopped => match self.board.take_stop() {
                    Some(StopReason::Exit(v)) => return RunOutcome::Exit(v),
                    Some(StopReason::Reset) if self.no_reboot => return RunOutcome::Reset,
                    Some(StopReason::Reset) => self.reset(),
                    Some(StopReason::PowerOff) => return RunOutcome::PowerOff,
                    Some(StopReason::Init) => self.init_cpu(),
                    None => {}
                },
                RunExit::Halted => {
                    if let Some(out) = self.idle(hook) {
                        return out;
                    }
                }
                RunExit::NoProgress(v) => {
                    if let Some(out) = self.no_progress(v) {
                        return out;
                    }
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

    /// The guest is stuck in a storm of vector `v`: with `--no-reboot`
    /// the run ends, otherwise the machine resets (as on a triple fault)
    /// and the diagnostic is kept in `no_progress`.
    fn no_progress(&mut self, v: u8) -> Option<RunOutcome> {
        let s = &self.cpu.s;
        let line = format!(
            "no progress: {} deliveries in a row with no instruction retired, the last of vector {v:#04x} at {:04X}:{:08X}",
            anyx86_cpu::NO_PROGRESS_DELIVERIES,
            s.seg[sreg::CS].selector,
            s.rip
        );
        if self.no_reboot {
            return Some(RunOutcome::NoProgress(self.dump(&line)));
        }
        let n = self.no_progress.as_ref().map_or(0, |(n, _)| *n);
        self.no_progress = Some((n + 1, line));
        self.reset();
        None
    }

    /// The legacy x87 error path (CR0.NE = 0): FERR# drives IRQ13; a write
    /// to port 0xF0 lowers it and asserts IGNNE#, which releases an
    /// instruction frozen on the pending error.
    fn sync_ferr(&mut self) {
        let ferr = self.cpu.s.fpu.ferr;
        if ferr != self.ferr_seen {
            self.board.set_ferr(ferr);
            self.ferr_seen = ferr;
        }
        if self.board.take_fpu_error_clear() {
            self.board.set_ferr(false);
            if ferr {
                self.cpu.s.fpu.ignne = true;
                self.cpu.s.halted = false;
            }
        }
    }

    /// The CPU is halted: skip (virtual) or wait (realtime) until the next
    /// deadline. Returns an outcome when nothing can ever wake it.
    ///
    /// Each call is one unit of work toward the instruction limit: a guest
    /// halted with its only timer masked (or never acknowledged) wakes at
    /// every deadline and sleeps again, retiring nothing; counting the
    /// wake-ups ends such a run deterministically (the same count under
    /// `--clock virtual`), while idle time itself never uses the limit up.
    fn idle(&mut self, hook: HostHook<'_>) -> Option<RunOutcome> {
        self.cpu.s.extra_work = self.cpu.s.extra_work.wrapping_add(1);
        if self.cpu.s.flags & fl::IF == 0 {
            // No NMI source exists: this halt is final (poweroff -f).
            return Some(RunOutcome::Halted(self.halt_line()));
        }
        if self.replay_realtime() {
            // The recording's host decided how long this wait was.
            if hook(&mut self.board, self.cpu.s.icount, None) == HostControl::Quit {
                return Some(RunOutcome::HostQuit);
            }
            return self.replay_site(Site::Idle);
        }
        let skipped = self.board.clock.skipped_ns();
        let out = self.idle_wait(hook);
        if self.replaying() {
            return out.or_else(|| self.replay_site(Site::Idle));
        }
        self.journal_clock(skipped);
        self.journal_flush(Site::Idle);
        out
    }

    /// [`Machine::idle`]'s wait for the next deadline.
    fn idle_wait(&mut self, hook: HostHook<'_>) -> Option<RunOutcome> {
        let icount = self.cpu.s.icount;
        match self.board.next_deadline() {
            Some(t) => {
                if self.board.clock.mode == ClockMode::Realtime {
                    let now = self.board.clock.now(icount);
                    let host = self.board.clock.host_ns();
                    let target = t.saturating_sub(now) + now;
                    if target > host {
                        let wait = Duration::from_nanos(target - host);
                        if hook(&mut self.board, self.cpu.s.icount, Some(wait)) == HostControl::Quit
                        {
                            return Some(RunOutcome::HostQuit);
                        }
                        // Input may have arrived before the deadline.
                        let now_host = self.board.clock.host_ns().max(now);
                        self.board.clock.skip_to(icount, now_host.min(t));
                        return None;
                    }
                }
                self.board.clock.skip_to(icount, t);
                None
            }
            None if self.board.clock.mode == ClockMode::Realtime => {
                // Only host input can wake the guest.
                if hook(
                    &mut self.board,
                    self.cpu.s.icount,
                    Some(Duration::from_millis(50)),
                ) == HostControl::Quit
                {
                    return Some(RunOutcome::HostQuit);
                }
                let host = self.board.clock.host_ns();
                self.board.clock.skip_to(icount, host);
                None
            }
            None => Some(RunOutcome::Halted(self.halt_line())),
        }
    }

    fn halt_line(&self) -> String {
        let s = &self.cpu.s;
        format!(
            "CPU halted with interrupts {} at {:04X}:{:08X}",
            if s.flags & anyx86_cpu::arch::fl::IF != 0 {
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
        if s.extra_work != 0 {
            out += &format!(
                "\nwork counted toward the limit: {} (also deliveries, REP iterations, idle wake-ups)",
                s.work()
            );
        }
        out
    }
}
