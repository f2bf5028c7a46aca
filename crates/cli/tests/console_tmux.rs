//! The serial console in a real terminal (tmux): typed keys reach the
//! guest, its output shows, `Ctrl-A x` ends the run, and the terminal is
//! left sane (canonical mode and echo back on).

#[allow(dead_code)]
mod tmux;

use std::path::Path;
use std::time::{Duration, Instant};
use tmux::{tmux, wait_for, Session};

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
