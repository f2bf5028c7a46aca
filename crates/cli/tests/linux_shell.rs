//! A person at the serial console of the Linux guest (tmux): the busybox
//! shell takes typed commands, line editing works, Ctrl-C reaches the
//! guest's line editor, and `poweroff -f` ends the run.

use crate::guest;

use crate::tmux::{tmux, wait_for_within, Session};
use std::time::Duration;

#[test]
fn the_shell_takes_commands_line_editing_and_ctrl_c() {
    let (kernel, initrd) = guest::guest("i386");
    let cmd = format!(
        "{} run --kernel {} --initrd {} --append '{} shell=1' -m 256 --serial stdio; echo STATUS=$?; sleep 60",
        env!("CARGO_BIN_EXE_anyx86"),
        kernel.display(),
        initrd.display(),
        guest::APPEND
    );
    let shell = Session::start("shell", 120, 40, &cmd);
    let session = shell.name();
    wait_for_within(session, "/ # ", 600);
    // A command and its output.
    shell.type_line("echo sum=$((6*7))");
    wait_for_within(session, "sum=42", 60);
    // Line editing: backspace over a typo before Enter.
    tmux(&["send-keys", "-t", session, "-l", "echo abcd"]);
    tmux(&["send-keys", "-t", session, "BSpace"]);
    shell.type_line("e");
    wait_for_within(session, "\nabce", 60);
    // Ctrl-C reaches the guest: busybox's line editor drops the line
    // being typed. (The shared guest's shell runs without a controlling
    // terminal, so the kernel turns Ctrl-C into no signal; the byte
    // itself is what the emulator must deliver.)
    tmux(&["send-keys", "-t", session, "-l", "echo zzz"]);
    std::thread::sleep(Duration::from_millis(500));
    tmux(&["send-keys", "-t", session, "C-c"]);
    std::thread::sleep(Duration::from_millis(500));
    shell.type_line("echo after=$((1+1))");
    let s = wait_for_within(session, "after=2", 60);
    assert!(!s.contains("\nzzz"), "the line before Ctrl-C ran:\n{s}");
    assert!(
        !s.contains("zzzecho"),
        "Ctrl-C did not reach the line editor:\n{s}"
    );
    // poweroff -f halts the machine and ends the run with status 0.
    shell.type_line("poweroff -f");
    let s = wait_for_within(session, "STATUS=", 120);
    assert!(s.contains("STATUS=0"), "{s}");
}
