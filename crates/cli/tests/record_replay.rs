//! Record and replay (`--record`, `--replay`): a session's inputs, taken
//! under the realtime clock, rerun to the same output and the same final
//! machine, byte for byte; a debugger's changes are inputs too; bad
//! journals and other machines are refused.

use crate::guest;

use crate::tmux::{tmux, wait_for_within, Session};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn tmp(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_file(&p);
    p
}

fn rom(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../test-roms/interactive")
        .join(name)
}

fn anyx86() -> Command {
    Command::new(env!("CARGO_BIN_EXE_anyx86"))
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `anyx86 run --bios serial-echo.bin` on 1 MiB under the realtime clock.
fn echo_rom() -> Command {
    let mut c = anyx86();
    c.args(["run", "--bios"]).arg(rom("serial-echo.bin")).args([
        "-m",
        "1",
        "--debugcon",
        "null",
        "--clock",
        "realtime",
    ]);
    c
}

#[test]
fn typed_serial_input_replays_to_the_same_output_and_machine() {
    let (rr, snap1, snap2, out2) = (
        tmp("echo.rr"),
        tmp("echo-rec.snap"),
        tmp("echo-rep.snap"),
        tmp("echo-rep.out"),
    );
    // Typed in three bursts, while the guest polls its UART: where each
    // byte lands in the instruction stream is the host's doing.
    let mut rec = echo_rom()
        .arg("--record")
        .arg(&rr)
        .arg("--savevm")
        .arg(&snap1)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("anyx86 runs");
    let mut input = rec.stdin.take().expect("stdin");
    for burst in ["ab", "cd", "efQ"] {
        std::thread::sleep(Duration::from_millis(300));
        input.write_all(burst.as_bytes()).expect("typing");
        input.flush().expect("typing");
    }
    let rec = rec.wait_with_output().expect("anyx86 ends");
    let recorded = String::from_utf8_lossy(&rec.stdout).into_owned();
    assert_eq!(rec.status.code(), Some(1), "the guest's exit:\n{recorded}");
    assert!(recorded.contains("ABCDEF"), "{recorded}");

    // The replay takes nothing from its own standard input.
    let rep = echo_rom()
        .arg("--replay")
        .arg(&rr)
        .arg("--savevm")
        .arg(&snap2)
        .arg("--serial")
        .arg(format!("file:{}", out2.display()))
        .stdin(Stdio::piped())
        .output()
        .expect("anyx86 runs");
    let err = String::from_utf8_lossy(&rep.stderr);
    assert_eq!(rep.status.code(), Some(1), "{err}");
    assert_eq!(String::from_utf8_lossy(&read(&out2)), recorded);
    assert!(read(&snap1) == read(&snap2), "the final machines differ");
}

#[test]
fn a_debuggers_writes_are_replayed_without_the_debugger() {
    let (rr, cmds) = (tmp("debug.rr"), tmp("debug-record.cmds"));
    // The fixture exits with the byte at 0x2100, zero unless a debugger
    // writes it: the write is the only way to status 11.
    std::fs::write(
        &cmds,
        "lb 0xf0140\nc\nset mem 0x2100 5\ns\ns\nset reg ebx 0x40\nc\nq\n",
    )
    .expect("write commands");
    let target = |mode: &str| {
        let mut c = anyx86();
        c.args([mode, "--bios"]).arg(rom("gdb-target.bin")).args([
            "-m",
            "1",
            "--debugcon",
            "null",
            "--serial",
            "null",
        ]);
        c
    };
    let rec = target("debug")
        .arg("--batch")
        .arg(&cmds)
        .arg("--record")
        .arg(&rr)
        .output()
        .expect("anyx86 runs");
    let text = String::from_utf8_lossy(&rec.stdout);
    assert!(text.contains("guest exit code 0x5"), "{text}");
    assert_eq!(rec.status.code(), Some(11), "{text}");
    let plain = target("run").output().expect("anyx86 runs");
    assert_eq!(plain.status.code(), Some(1), "without the debugger's write");
    let rep = target("run")
        .arg("--replay")
        .arg(&rr)
        .output()
        .expect("anyx86 runs");
    let err = String::from_utf8_lossy(&rep.stderr);
    assert_eq!(rep.status.code(), Some(11), "{err}");
}

#[test]
fn bad_journals_and_other_machines_are_refused() {
    let rr = tmp("refused.rr");
    let rec = echo_rom()
        .arg("--record")
        .arg(&rr)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().expect("stdin").write_all(b"xQ")?;
            c.wait()
        })
        .expect("anyx86 runs");
    assert_eq!(rec.code(), Some(1));
    let refused = |journal: &Path, extra: &[&str], says: &str| {
        let out = echo_rom()
            .arg("--replay")
            .arg(journal)
            .args(extra)
            .stdout(Stdio::null())
            .output()
            .expect("anyx86 runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "expected {says:?} in: {err}");
    };
    refused(&rom("serial-echo.bin"), &[], "is not an anyx86 journal");
    refused(&rr, &["--ips", "500000000"], "recorded on another machine");
    let good = read(&rr);
    let damaged = tmp("damaged.rr");
    let mut bytes = good.clone();
    let at = bytes.len() - 30;
    bytes[at] ^= 0x40;
    std::fs::write(&damaged, &bytes).expect("write");
    refused(&damaged, &[], "is damaged");
    let mut version = good.clone();
    version[8] = 99;
    std::fs::write(&damaged, &version).expect("write");
    refused(&damaged, &[], "format version 99");
    // Cut short (the recorder was killed): replayed up to the last whole
    // block, here none, and said so.
    std::fs::write(&damaged, &good[..good.len() - 20]).expect("write");
    let out = echo_rom()
        .arg("--replay")
        .arg(&damaged)
        .stdout(Stdio::null())
        .output()
        .expect("anyx86 runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("no end marker"), "{err}");
    assert!(
        err.contains("replay finished where the recording ended"),
        "{err}"
    );
    // Nowhere to record.
    let out = echo_rom()
        .args(["--record", "/"])
        .stdin(Stdio::null())
        .output()
        .expect("anyx86 runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("journal /"));
}

#[test]
fn a_linux_shell_session_recorded_in_realtime_replays_byte_for_byte() {
    let (kernel, initrd) = guest::guest("i386");
    let (rr, out1, out2, snap1, snap2, status) = (
        tmp("shell.rr"),
        tmp("shell-rec.out"),
        tmp("shell-rep.out"),
        tmp("shell-rec.snap"),
        tmp("shell-rep.snap"),
        tmp("shell-rec.status"),
    );
    let machine = format!(
        "--kernel {} --initrd {} --append '{} shell=1' -m 256",
        kernel.display(),
        initrd.display(),
        guest::APPEND
    );
    let bin = env!("CARGO_BIN_EXE_anyx86");
    let cmd = format!(
        "{{ {bin} run {machine} --clock realtime --record {} --savevm {}; echo $? > {}; }} | tee {}; sleep 60",
        rr.display(),
        snap1.display(),
        status.display(),
        out1.display()
    );
    let shell = Session::start("record", 120, 40, &cmd);
    let session = shell.name();
    wait_for_within(session, "/ # ", 600);
    shell.type_line("echo sum=$((6*7))");
    wait_for_within(session, "sum=42", 60);
    // Time is an input: the replay must see the same clock readings.
    shell.type_line("cat /proc/uptime; echo up-done");
    wait_for_within(session, "\nup-done", 60);
    std::thread::sleep(Duration::from_millis(700));
    shell.type_line("ls /; echo ls-done");
    wait_for_within(session, "\nls-done", 60);
    std::thread::sleep(Duration::from_millis(300));
    tmux(&["send-keys", "-t", session, "C-a", "x"]);
    let start = std::time::Instant::now();
    while read_opt(&status).is_none() {
        assert!(start.elapsed() < Duration::from_secs(120), "no exit status");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(read_opt(&status).as_deref(), Some("0\n"));

    let rep = Command::new(bin)
        .arg("run")
        .args([
            "--kernel",
            &kernel.to_string_lossy(),
            "--initrd",
            &initrd.to_string_lossy(),
            "--append",
            &format!("{} shell=1", guest::APPEND),
            "-m",
            "256",
        ])
        .arg("--replay")
        .arg(&rr)
        .arg("--savevm")
        .arg(&snap2)
        .arg("--serial")
        .arg(format!("file:{}", out2.display()))
        .stdin(Stdio::null())
        .output()
        .expect("anyx86 runs");
    let err = String::from_utf8_lossy(&rep.stderr);
    assert_eq!(rep.status.code(), Some(0), "{err}");
    assert!(
        err.contains("replay finished where the recording ended"),
        "{err}"
    );
    let (recorded, replayed) = (read(&out1), read(&out2));
    let text = String::from_utf8_lossy(&recorded);
    assert!(
        text.contains("sum=42") && text.contains("up-done"),
        "{text}"
    );
    assert!(
        recorded == replayed,
        "the replay's output differs:\n{text}\n---\n{}",
        String::from_utf8_lossy(&replayed)
    );
    assert!(read(&snap1) == read(&snap2), "the final machines differ");
}

fn read_opt(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok().filter(|s| !s.is_empty())
}

#[test]
fn a_recording_that_ends_in_the_time_travel_past_replays_to_the_live_end() {
    let (rr, cmds) = (tmp("travel.rr"), tmp("travel-record.cmds"));
    // Back one step with time travel, then quit there: the journal holds
    // the history to where the live machine stood (instruction 330), and
    // the replayed memory write does not cut that history short.
    std::fs::write(&cmds, "lb 0xf0180\nc\nset mem 0x2100 5\ns\ns\nrsi\nr\nq\n")
        .expect("write commands");
    let target = |mode: &str| {
        let mut c = anyx86();
        c.args([mode, "--bios"])
            .arg(rom("gdb-target.bin"))
            .args(["-m", "1", "--debugcon", "null", "--serial", "null"])
            .args(["--clock", "virtual"]);
        c
    };
    let rec = target("debug")
        .args(["--time-travel", "--batch"])
        .arg(&cmds)
        .arg("--record")
        .arg(&rr)
        .output()
        .expect("anyx86 runs");
    let text = String::from_utf8_lossy(&rec.stdout);
    assert!(text.contains("icount=329"), "one step back:\n{text}");
    assert_eq!(rec.status.code(), Some(0), "{text}");
    let rep = target("run")
        .arg("--replay")
        .arg(&rr)
        .output()
        .expect("anyx86 runs");
    let err = String::from_utf8_lossy(&rep.stderr);
    assert_eq!(rep.status.code(), Some(0), "{err}");
    assert!(
        err.contains("replay finished where the recording ended (330 instructions)"),
        "{err}"
    );
}
