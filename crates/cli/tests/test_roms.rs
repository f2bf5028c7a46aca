//! Conformance test ROMs (see `test-roms/README.md`).
//!
//! Each ROM in `test-roms/` is a flat 64 KiB BIOS image that prints its results
//! on the debug console (port 0xE9) and exits through isa-debug-exit (port
//! 0xF4).  This harness runs every ROM on the `anyx86` binary and compares what
//! it prints, byte for byte, and its exit status with the output recorded from
//! QEMU in `test-roms/expected/NAME.txt` and `NAME.status`.
//!
//! A ROM that needs more than the common command line says so in its
//! source: a `; anyx86-flags: ...` line lists extra arguments for `anyx86
//! run` (the device ROMs: `--clock virtual`, `--rtc-base`), next to the
//! `; qemu-flags: ...` line that `test-roms/run-qemu.sh` passes to QEMU.

use crate::common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Kill the emulator if a ROM has not finished after this long.
const TIMEOUT: Duration = Duration::from_secs(60);

fn rom_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../test-roms/"))
}

/// What one run of the emulator produced.
struct Outcome {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// Exit code, or `None` if killed by a signal or by the timeout.
    code: Option<i32>,
    timed_out: bool,
}

fn read_all(mut r: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        // A read error just truncates the captured output; the comparison
        // against the expected output reports it.
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// The words after `key` on the line of the ROM source that starts with it
/// (`; qemu-flags:` or `; anyx86-flags:`); empty when there is none.
fn rom_flags(name: &str, key: &str) -> Vec<String> {
    let src = std::fs::read_to_string(rom_dir().join(format!("{name}.asm")))
        .unwrap_or_else(|e| panic!("reading {name}.asm: {e}"));
    src.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|rest| rest.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

const QEMU_FLAGS: &str = "; qemu-flags:";
const ANYX86_FLAGS: &str = "; anyx86-flags:";

fn run_emulator(bios: &Path, extra: &[String]) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_anyx86"))
        .arg("run")
        .arg("--bios")
        .arg(bios)
        .args(common::ROM_ARGS)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("failed to start the anyx86 binary");
    let stdout = read_all(child.stdout.take().expect("piped stdout"));
    let stderr = read_all(child.stderr.take().expect("piped stderr"));

    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for anyx86") {
            break status;
        }
        if start.elapsed() > TIMEOUT {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("waiting for killed anyx86");
        }
        thread::sleep(Duration::from_millis(20));
    };
    Outcome {
        stdout: stdout.recv().unwrap_or_default(),
        stderr: stderr.recv().unwrap_or_default(),
        code: status.code(),
        timed_out,
    }
}

/// Describe the first line where `actual` differs from `expected`, with a
/// little context, in unified-diff style.
fn first_difference(expected: &str, actual: &str) -> String {
    let exp: Vec<&str> = expected.split_inclusive('\n').collect();
    let act: Vec<&str> = actual.split_inclusive('\n').collect();
    let first = exp
        .iter()
        .zip(act.iter())
        .position(|(e, a)| e != a)
        .unwrap_or_else(|| exp.len().min(act.len()));
    let from = first.saturating_sub(3);
    let mut out = format!(
        "--- expected\n+++ actual\n@@ first difference at line {} @@\n",
        first + 1
    );
    for line in &exp[from..first] {
        out.push(' ');
        out.push_str(line.trim_end_matches('\n'));
        out.push('\n');
    }
    for line in exp.iter().skip(first).take(3) {
        out.push('-');
        out.push_str(line.trim_end_matches('\n'));
        out.push('\n');
    }
    for line in act.iter().skip(first).take(3) {
        out.push('+');
        out.push_str(line.trim_end_matches('\n'));
        out.push('\n');
    }
    if first >= exp.len() {
        out.push_str("(expected output ends here)\n");
    }
    if first >= act.len() {
        out.push_str("(actual output ends here)\n");
    }
    out
}

fn check_rom(name: &str) {
    let dir = rom_dir();
    let bios = dir.join(format!("{name}.bin"));
    let expected_txt = std::fs::read(dir.join(format!("expected/{name}.txt")))
        .unwrap_or_else(|e| panic!("reading expected/{name}.txt: {e}"));
    let expected_status: i32 = std::fs::read_to_string(dir.join(format!("expected/{name}.status")))
        .unwrap_or_else(|e| panic!("reading expected/{name}.status: {e}"))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("parsing expected/{name}.status: {e}"));

    let out = run_emulator(&bios, &rom_flags(name, ANYX86_FLAGS));
    let expected = String::from_utf8_lossy(&expected_txt);
    let actual = String::from_utf8_lossy(&out.stdout);

    let mut problems = Vec::new();
    if out.timed_out {
        problems.push(format!("timed out after {} s (killed)", TIMEOUT.as_secs()));
    }
    if out.stdout != expected_txt {
        problems.push(format!(
            "output differs:\n{}",
            first_difference(&expected, &actual)
        ));
    }
    if out.code != Some(expected_status) {
        problems.push(format!(
            "exit status {:?}, expected {expected_status}",
            out.code
        ));
    }
    if !problems.is_empty() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "test ROM {name}: {}\n--- emulator stderr (last lines) ---\n{}",
            problems.join("\n"),
            tail.join("\n")
        );
    }
}

/// One `#[test]` per ROM, named after it.
macro_rules! rom_tests {
    ($($test:ident => $rom:literal,)*) => {
        /// Every ROM this harness runs, in the order of the table.
        const ROMS: &[&str] = &[$($rom),*];
        $(
            #[test]
            fn $test() {
                check_rom($rom);
            }
        )*
    };
}

rom_tests! {
    realmode_alu => "realmode-alu",
    string_ops => "string-ops",
    pmode_entry => "pmode-entry",
    paging => "paging",
    smc => "smc",
    sse => "sse",
    exceptions => "exceptions",
    privilege => "privilege",
    debug => "debug",
    v86 => "v86",
    taskswitch => "taskswitch",
    pic_pit => "pic-pit",
    uart_loopback => "uart-loopback",
    rtc => "rtc",
    longmode => "longmode",
    lapic_timer => "lapic-timer",
    ioapic => "ioapic",
    hpet => "hpet",
    testdev => "testdev",
}

/// The table above and the ROM sources in `test-roms/` must list the same
/// ROMs, and each must have its binary and expected output checked in.
#[test]
fn rom_table_matches_sources() {
    let dir = rom_dir();
    let mut sources: Vec<String> = std::fs::read_dir(&dir)
        .expect("reading test-roms/")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_suffix(".asm").map(str::to_owned)
        })
        .collect();
    sources.sort();
    let mut table: Vec<String> = ROMS.iter().map(|s| (*s).to_owned()).collect();
    table.sort();
    assert_eq!(sources, table, "test-roms/*.asm and the ROM table differ");
    for rom in ROMS {
        for file in [
            format!("{rom}.bin"),
            format!("expected/{rom}.txt"),
            format!("expected/{rom}.status"),
        ] {
            assert!(dir.join(&file).is_file(), "missing test-roms/{file}");
        }
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// Unix seconds of QEMU's `-rtc base=YYYY-MM-DDTHH:MM:SS` value.
fn qemu_rtc_base(flag: &str) -> Option<i64> {
    let v = flag.split(',').find_map(|p| p.strip_prefix("base="))?;
    let n: Vec<i64> = v
        .split(['-', 'T', ':'])
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let [y, mo, d, h, mi, s] = n[..] else {
        return None;
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

/// A ROM that runs QEMU with an instruction-counted clock or a fixed RTC
/// time must run anyx86 the same way: `-icount` goes with `--clock
/// virtual`, and `-rtc base=` with `--rtc-base` at the same instant.
#[test]
fn qemu_and_anyx86_flags_agree() {
    for rom in ROMS {
        let qemu = rom_flags(rom, QEMU_FLAGS);
        let anyx86 = rom_flags(rom, ANYX86_FLAGS);
        let after = |flags: &[String], key: &str| {
            flags.windows(2).find(|w| w[0] == key).map(|w| w[1].clone())
        };
        if qemu.iter().any(|f| f == "-icount") {
            assert_eq!(
                after(&anyx86, "--clock").as_deref(),
                Some("virtual"),
                "{rom}: QEMU runs with -icount, anyx86 needs --clock virtual"
            );
        }
        assert_eq!(
            after(&qemu, "-device").as_deref() == Some("pc-testdev"),
            after(&anyx86, "--device").as_deref() == Some("pc-testdev"),
            "{rom}: QEMU's -device pc-testdev goes with --device pc-testdev"
        );
        let qemu_base = after(&qemu, "-rtc").and_then(|r| qemu_rtc_base(&r));
        let anyx86_base = after(&anyx86, "--rtc-base").and_then(|b| b.parse::<i64>().ok());
        assert_eq!(
            qemu_base, anyx86_base,
            "{rom}: -rtc base= and --rtc-base must name the same time"
        );
    }
}
