//! `anyx86`: the command line.
#![forbid(unsafe_code)]

mod args;
mod conform;
mod console;
mod debugging;
mod display;
mod lockstep;
mod tui;
mod tui_draw;

use anyx86_cpu::cpuid::CpuModel;
use anyx86_machine::{
    BootOrder, ClockMode, Drives, KernelBoot, Machine, MachineConfig, MachineKind, RunOutcome, Sink,
};
use args::{Cli, ClockArg, Command, DebugArgs, RunArgs, Stream};
use clap::Parser;
use std::process::ExitCode;

/// Exit status for bad input (flags, files).
const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(a) if a.display == "window" => {
            // The window's event loop takes this thread (macOS wants it on
            // the main one); the machine runs on another.
            let scale = a.window_scale;
            match display::window::run(scale, move |link| run(&a, None, Some(link))) {
                Ok(code) => ExitCode::from(code),
                Err(e) => {
                    eprintln!("anyx86: {e}");
                    ExitCode::from(EXIT_BAD_INPUT)
                }
            }
        }
        Command::Run(a) => match run(&a, None, None) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                eprintln!("anyx86: {e}");
                ExitCode::from(EXIT_BAD_INPUT)
            }
        },
        Command::Debug(d) => match run(&d.run, Some(&d), None) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                eprintln!("anyx86: {e}");
                ExitCode::from(EXIT_BAD_INPUT)
            }
        },
        Command::Conform(c) => match conform::conform(&c) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                eprintln!("anyx86: {e}");
                ExitCode::from(EXIT_BAD_INPUT)
            }
        },
        Command::Lockstep(l) => match lockstep::lockstep(&l) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                eprintln!("anyx86: {e}");
                ExitCode::from(EXIT_BAD_INPUT)
            }
        },
    }
}

/// Host input for a COM port (0 = COM1) from a `tcp:` connection.
pub type SerialInput = (usize, std::sync::mpsc::Receiver<Vec<u8>>);

fn open_stream(s: &Stream) -> Result<Option<Sink>, String> {
    open_serial(s, 0, &mut Vec::new())
}

/// Opens an output stream; a `tcp:` stream also yields the bytes it
/// receives, for COM port `port`, into `inputs`.
fn open_serial(
    s: &Stream,
    port: usize,
    inputs: &mut Vec<SerialInput>,
) -> Result<Option<Sink>, String> {
    Ok(match s {
        Stream::Stdio => Some(Box::new(std::io::stdout()) as Sink),
        Stream::Null => None,
        Stream::File(p) => {
            let f = std::fs::File::create(p)
                .map_err(|e| format!("cannot create {}: {e}", p.display()))?;
            Some(Box::new(std::io::BufWriter::new(f)) as Sink)
        }
        Stream::Tcp(addr) => {
            let conn = std::net::TcpStream::connect(addr)
                .map_err(|e| format!("cannot connect to tcp:{addr}: {e}"))?;
            let _ = conn.set_nodelay(true);
            let mut reader = conn.try_clone().map_err(|e| format!("tcp:{addr}: {e}"))?;
            // Bounded: a peer flooding a guest that does not read waits
            // in its socket (see `console`).
            let (tx, rx) = std::sync::mpsc::sync_channel(console::INPUT_CHUNKS);
            std::thread::spawn(move || {
                let mut buf = [0u8; 512];
                while let Ok(n) = std::io::Read::read(&mut reader, &mut buf) {
                    if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            });
            inputs.push((port, rx));
            Some(Box::new(conn) as Sink)
        }
    })
}

/// Refuses `--bios`, `--kernel` and `--initrd` files that are not regular
/// files before anything opens them (a FIFO with no writer blocks `open`,
/// `/dev/zero` never ends).
fn check_input_files(a: &RunArgs) -> Result<(), String> {
    let bios = a.bios.iter().map(|p| (p, "ROM"));
    let kernel = a.kernel.iter().map(|p| (p, "kernel"));
    let initrd = a.initrd.iter().map(|p| (p, "initrd"));
    for (p, what) in bios.chain(kernel).chain(initrd) {
        anyx86_machine::regular_file_len(p, what).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn run(
    a: &RunArgs,
    debug: Option<&DebugArgs>,
    window: Option<display::window::WindowLink>,
) -> Result<u8, String> {
    console::stop::install(a.timeout.map(std::time::Duration::from_secs_f64));
    check_input_files(a)?;
    let replay = match &a.replay {
        Some(p) => Some(anyx86_machine::ReplayLog::open(p).map_err(|e| e.to_string())?),
        None => None,
    };
    if let (Some(log), Some(base)) = (&replay, a.rtc_base) {
        if log.rtc_base() != base {
            return Err(format!(
                "--rtc-base {base} differs from the recording's {}",
                log.rtc_base()
            ));
        }
    }
    let journal = a.record.is_some() || replay.is_some();
    let rtc_base = replay
        .as_ref()
        .map(|l| l.rtc_base())
        .or(a.rtc_base)
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
    let mut inputs = Vec::new();
    let cfg = MachineConfig {
        ram_mib: a.memory,
        bios: a.bios.clone(),
        builtin_bios: a.kernel.is_none(),
        serial_console: a.display == "none",
        firmware_log: match &a.firmware_log {
            Some(s) => open_stream(s)?,
            None => None,
        },
        drives: Drives {
            hd: [a.hda.clone(), a.hdb.clone(), a.hdc.clone(), a.hdd.clone()],
            cdrom: a.cdrom.clone(),
            fd: [a.fda.clone(), a.fdb.clone()],
            // A recording's disks must read the same when it is
            // replayed: their writes stay in memory.
            snapshot: a.snapshot || journal,
        },
        boot_order: match &a.boot {
            Some(o) => BootOrder::parse(o).map_err(|e| e.to_string())?,
            None => BootOrder::default(),
        },
        debugcon: open_stream(&a.debugcon)?,
        serial: [
            // The terminal display owns the terminal: COM1 on stdio
            // would scribble over it.
            if a.display == "terminal" && a.serial == args::Stream::Stdio {
                None
            } else {
                open_serial(&a.serial, 0, &mut inputs)?
            },
            open_serial(&a.serial2, 1, &mut inputs)?,
            open_serial(&a.serial3, 2, &mut inputs)?,
            open_serial(&a.serial4, 3, &mut inputs)?,
        ],
        no_reboot: a.no_reboot,
        clock: match a.clock {
            ClockArg::Realtime => ClockMode::Realtime,
            ClockArg::Virtual => ClockMode::Virtual,
        },
        ips: a.ips,
        rtc_base,
        cpu: {
            let name = match (a.cpu.as_str(), &a.kernel) {
                ("auto", Some(k)) if anyx86_machine::kernel_is_64bit(k) => "qemu64",
                ("auto", None) if a.bios.is_none() => "qemu64",
                ("auto", _) => "qemu32",
                (n, _) => n,
            };
            CpuModel::by_name(name).ok_or_else(|| format!("unknown CPU model {name}"))?
        },
        kind: MachineKind::by_name(&a.machine)
            .ok_or_else(|| format!("unknown machine {}", a.machine))?,
        pc_testdev: a.devices.iter().any(|d| d == "pc-testdev"),
    };
    let mut m = Machine::new(cfg).map_err(|e| e.to_string())?;
    for n in &m.notes {
        eprintln!("anyx86: {n}");
    }
    if let Some(kernel) = &a.kernel {
        let k = KernelBoot {
            kernel: kernel.clone(),
            initrd: a.initrd.clone(),
            append: a.append.clone(),
        };
        m.boot_kernel(&k).map_err(|e| e.to_string())?;
    }
    if let Some(p) = &a.loadvm {
        m.load_snapshot(p).map_err(|e| e.to_string())?;
    }
    if let Some(p) = &a.record {
        m.start_record(p).map_err(|e| e.to_string())?;
    }
    if let Some(log) = replay {
        if log.cut_short() {
            eprintln!("anyx86: the journal has no end marker (its recorder was killed): replaying up to its last whole block");
        }
        m.start_replay(log).map_err(|e| e.to_string())?;
    }
    if a.time_travel {
        m.enable_time_travel(a.checkpoint_interval, a.time_travel_budget << 20)?;
    }
    let outcome = match debug {
        Some(d) => debugging::debug(&mut m, a, d, inputs)?,
        None => debugging::run_machine(&mut m, a, inputs, window)?,
    };
    if let Some(p) = &a.screenshot {
        if let Err(e) = m.screendump(p) {
            eprintln!("anyx86: {e}");
        }
    }
    match &outcome {
        RunOutcome::TripleFault(dump) => eprintln!("anyx86: {dump}"),
        RunOutcome::Halted(line) => eprintln!("anyx86: {line}"),
        RunOutcome::Reset => eprintln!("anyx86: guest requested a reset (--no-reboot)"),
        RunOutcome::InstructionLimit => {
            eprintln!("anyx86: {}", m.dump("instruction limit reached"))
        }
        RunOutcome::NoProgress(dump) => eprintln!("anyx86: {dump}"),
        RunOutcome::ReplayEnd => eprintln!(
            "anyx86: replay finished where the recording ended ({} instructions)",
            m.instructions()
        ),
        RunOutcome::ReplayDiverged(why) => eprintln!("anyx86: replay diverged: {why}"),
        // The image's problems are told below, once it is closed.
        RunOutcome::MediaError
        | RunOutcome::HostQuit
        | RunOutcome::Exit(_)
        | RunOutcome::Breakpoint
        | RunOutcome::PowerOff => {}
    }
    if let Some((n, line)) = &m.no_progress {
        eprintln!("anyx86: {line}; reset ({n} time(s) in this run)");
    }
    if a.stats {
        print_stats(&m);
        if let Some(tt) = m.time_travel() {
            eprintln!(
                "stats: time travel: {} checkpoints taken in {:.3} s, {} kept, {:.1} MiB of a {} MiB budget",
                tt.taken,
                tt.cost.as_secs_f64(),
                tt.points().len(),
                tt.bytes() as f64 / (1 << 20) as f64,
                tt.budget() >> 20
            );
        }
    }
    let recorded = m.finish_journal().map_err(|e| eprintln!("anyx86: {e}"));
    let saved = match &a.savevm {
        Some(p) => m.save_snapshot(p).map_err(|e| eprintln!("anyx86: {e}")),
        None => Ok(()),
    };
    // Dropping the machine flushes and syncs the disk images (and saves
    // one whose file was deleted or replaced meanwhile).
    let media = std::rc::Rc::clone(&m.media);
    drop(m);
    for p in media.take() {
        eprintln!("anyx86: {p}");
    }
    match (&outcome, console::stop::requested()) {
        (RunOutcome::HostQuit, Some(stop)) => {
            eprintln!("anyx86: {}", stop_line(stop));
            Ok(stop.exit_status())
        }
        _ if media.failed() => Ok(anyx86_machine::EXIT_MEDIA as u8),
        _ if saved.is_err() || recorded.is_err() => Ok(EXIT_BAD_INPUT),
        _ => Ok(outcome.exit_status() as u8),
    }
}

fn stop_line(stop: console::stop::Stop) -> String {
    match stop {
        console::stop::Stop::Signal(n) => format!("terminated by signal {n}"),
        console::stop::Stop::Timeout => "--timeout expired".into(),
    }
}

fn print_stats(m: &Machine) {
    let n = m.instructions();
    let secs = m.wall.as_secs_f64();
    let mips = if secs > 0.0 {
        n as f64 / secs / 1e6
    } else {
        0.0
    };
    eprintln!("stats: instructions {n}");
    eprintln!("stats: wall time {secs:.3} s");
    eprintln!("stats: MIPS {mips:.1}");
    // The hit rate is over trace transitions, each of which finds its
    // trace by a link, the jump cache or a full lookup: the share whose
    // trace was already decoded.
    let (_, misses) = m.cpu.cache_stats();
    let st = &m.cpu.s.stats;
    let transitions = st.chained + st.unchained;
    if transitions > 0 {
        let found = transitions.saturating_sub(misses);
        eprintln!(
            "stats: trace cache hit rate {:.2}% ({} traces built)",
            100.0 * found as f64 / transitions as f64,
            misses
        );
    }
    if transitions > 0 {
        eprintln!(
            "stats: trace chain rate {:.2}% ({} of {} trace transitions followed a link or the jump cache)",
            100.0 * st.chained as f64 / transitions as f64,
            st.chained,
            transitions
        );
        print_cpl_chain_rates(st);
    }
    let walks = m.cpu.s.tlb.misses;
    if st.mem_refs > 0 {
        eprintln!(
            "stats: data TLB hit rate {:.3}% ({} page walks for {} memory references)",
            100.0 * (1.0 - (walks as f64 / st.mem_refs as f64).min(1.0)),
            walks,
            st.mem_refs
        );
    }
    if let Some((insns, host_ns)) = m.board.first_serial_byte {
        eprintln!(
            "stats: first COM1 byte after {insns} instructions, {:.3} s",
            host_ns as f64 / 1e9
        );
    }
    eprintln!("stats: end after {n} instructions, {secs:.3} s");
    if let Some(p) = m.board.post_code {
        eprintln!("stats: last POST code {p:02X}");
    }
    for (code, count) in &m.cpu.s.stats.unimplemented {
        eprintln!(
            "stats: unimplemented instruction {:?} x{count}",
            iced_code_name(*code)
        );
    }
    for (port, count) in &m.board.unclaimed {
        eprintln!("stats: unclaimed port {port:#06x} x{count}");
    }
}

/// The trace chain rate split in two: transitions into a trace that runs
/// at another CPL than the one before it (user/kernel round trips), and
/// the rest.
fn print_cpl_chain_rates(st: &anyx86_cpu::Stats) {
    let cross = st.cpl_changes;
    let cross_chained = cross.saturating_sub(st.cpl_changes_unchained);
    let rest = (st.chained + st.unchained).saturating_sub(cross);
    let rest_chained = st.chained.saturating_sub(cross_chained);
    for (label, chained, all, what) in [
        (
            "across CPL changes",
            cross_chained,
            cross,
            "transitions that changed the CPL",
        ),
        ("within a CPL", rest_chained, rest, "other transitions"),
    ] {
        let pct = if all > 0 {
            format!("{:.2}%", 100.0 * chained as f64 / all as f64)
        } else {
            "n/a".into()
        };
        eprintln!(
            "stats: trace chain rate {label} {pct} ({chained} of {all} {what} followed a link)"
        );
    }
}

fn iced_code_name(code: u16) -> String {
    anyx86_cpu::code_name(code)
}
