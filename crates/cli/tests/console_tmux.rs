//! The serial console in a real terminal (tmux): typed keys reach the
//! guest, its output shows, `Ctrl-A x` ends the run, and the terminal is
//! left sane (canonical mode and echo back on).

use crate::tmux::{tmux, wait_for, Session};
use std::path::Path;
use std::time::{Duration, Instant};

#[test]
fn typing_reaches_the_guest_and_ctrl_a_x_restores_the_terminal() {
    let rom =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-roms/interactive/serial-echo.bin");
    let stty = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-stty.txt");
    let _ = std::fs::remove_file(&stty);
    let cmd = format!(
        "{} run --bios {} -m 1 --debugcon null; echo STATUS=$?; stty -a > {}; sleep 60",
        env!("CARGO_BIN_EXE_anyx86"),
        rom.display(),
        stty.display()
    );
    let guard = Session::start("console", 100, 30, &cmd);
    let session = guard.name().to_string();
    wait_for(&session, "ECHO READY");
    tmux(&["send-keys", "-t", &session, "-l", "abc"]);
    wait_for(&session, "ABC");
    tmux(&["send-keys", "-t", &session, "C-a", "h"]);
    wait_for(&session, "Ctrl-A x       quit");
    tmux(&["send-keys", "-t", &session, "C-a", "x"]);
    let screen = wait_for(&session, "STATUS=");
    assert!(screen.contains("terminated by Ctrl-A x"), "{screen}");
    assert!(screen.contains("STATUS=0"), "{screen}");
    let start = Instant::now();
    while !stty.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "stty did not run"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let modes = std::fs::read_to_string(&stty).expect("stty output");
    let words: Vec<&str> = modes.split_whitespace().collect();
    assert!(
        words.contains(&"icanon"),
        "canonical mode restored: {modes}"
    );
    assert!(words.contains(&"echo"), "echo restored: {modes}");
}

#[test]
fn ctrl_a_v_saves_the_machine_and_loadvm_continues_it() {
    let rom =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-roms/interactive/serial-echo.bin");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ctrl-a-v");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let cmd = format!(
        "cd {} && {} run --bios {} -m 1 --debugcon null; echo STATUS=$?; sleep 60",
        dir.display(),
        env!("CARGO_BIN_EXE_anyx86"),
        rom.display(),
    );
    let guard = Session::start("savevm", 100, 30, &cmd);
    let session = guard.name().to_string();
    wait_for(&session, "ECHO READY");
    tmux(&["send-keys", "-t", &session, "-l", "ab"]);
    wait_for(&session, "AB");
    tmux(&["send-keys", "-t", &session, "C-a", "v"]);
    wait_for(&session, "machine saved to anyx86-vm-1.snap");
    tmux(&["send-keys", "-t", &session, "C-a", "x"]);
    wait_for(&session, "STATUS=0");
    // The saved machine goes on from where it was: it echoes and exits.
    let mut run = std::process::Command::new(env!("CARGO_BIN_EXE_anyx86"))
        .args(["run", "--bios"])
        .arg(&rom)
        .args(["-m", "1", "--debugcon", "null", "--loadvm"])
        .arg(dir.join("anyx86-vm-1.snap"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("anyx86 runs");
    std::io::Write::write_all(&mut run.stdin.take().expect("stdin"), b"cQ").expect("input");
    let out = run.wait_with_output().expect("anyx86 ends");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with('C'),
        "only the new echo, nothing replayed: {text}"
    );
}
