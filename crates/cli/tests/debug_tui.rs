//! The full-screen debugger in a real terminal (tmux): step, set a
//! breakpoint, continue to it (F5), run to the end, quit; and Ctrl-C
//! breaking into a guest that never stops.

use crate::tmux::{tmux, wait_for, Session};
use std::path::Path;
use std::time::Duration;

fn open(name: &str, rom: &str) -> Session {
    let rom = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../test-roms/interactive")
        .join(rom);
    let cmd = format!(
        "{} debug --bios {} -m 1 --debugcon null; echo STATUS=$?; sleep 60",
        env!("CARGO_BIN_EXE_anyx86"),
        rom.display()
    );
    let s = Session::start(name, 110, 34, &cmd);
    wait_for(s.name(), "-- Disassembly (Intel)");
    s
}

#[test]
fn tui_steps_sets_a_breakpoint_and_continues() {
    let s = open("tui", "gdb-target.bin");
    // At the reset vector: the far jump to F000:0000.
    let screen = wait_for(&s.0, ">f000:0000fff0 ea0000");
    assert!(screen.contains("-- Registers"), "{screen}");
    assert!(screen.contains("-- Serial (COM1)"), "{screen}");
    // F11 steps into the far jump.
    tmux(&["send-keys", "-t", &s.0, "F11"]);
    wait_for(&s.0, ">f000:00000000 fa");
    s.type_line("lb 0xf0140");
    wait_for(&s.0, "breakpoint 1 at linear 0xf0140");
    tmux(&["send-keys", "-t", &s.0, "F5"]);
    let screen = wait_for(&s.0, "stopped: breakpoint 1 (linear 0xf0140)");
    assert!(
        screen.contains("B>0008:000f0140 b878563412       mov     eax,12345678h"),
        "{screen}"
    );
    assert!(screen.contains("DEBUG TARGET READY"), "{screen}");
    s.type_line("s");
    wait_for(&s.0, ">0008:000f0145 bb01000000");
    wait_for(&s.0, "eax=12345678");
    // The step changed EAX: it is shown bold (and red), EBX is not.
    let colours = tmux(&["capture-pane", "-p", "-e", "-t", &s.0]);
    assert!(colours.contains("eax=\u{1b}[1m"), "{colours}");
    assert!(!colours.contains("ebx=\u{1b}[1m"), "{colours}");
    s.type_line("c");
    wait_for(&s.0, "the machine stopped: guest exit code 0x0");
    s.type_line("q");
    let screen = wait_for(&s.0, "STATUS=");
    assert!(screen.contains("STATUS=1"), "{screen}");
}

#[test]
fn ctrl_c_breaks_into_a_running_guest() {
    let s = open("tui-ctrl-c", "serial-echo.bin");
    s.type_line("c");
    wait_for(&s.0, "running (Ctrl-C breaks in)");
    std::thread::sleep(Duration::from_millis(300));
    tmux(&["send-keys", "-t", &s.0, "C-c"]);
    wait_for(&s.0, "interrupted");
    wait_for(&s.0, "ECHO READY");
    s.type_line("q");
    let screen = wait_for(&s.0, "STATUS=");
    assert!(screen.contains("STATUS=0"), "{screen}");
}
