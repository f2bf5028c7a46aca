//! A person at the serial console of the Linux guest (tmux): the busybox
//! shell takes typed commands, line editing works, Ctrl-C reaches the
//! guest's line editor, and `poweroff -f` ends the run.

#[allow(dead_code)]
mod guest;

use std::process::Command;
use std::time::{Duration, Instant};

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux")
        .args(args)
        .output()
        .expect("tmux is installed (apt-get install tmux)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn screen(session: &str) -> String {
    tmux(&["capture-pane", "-p", "-t", session])
}

/// Waits until `text` appears `count` times on the screen.
fn wait_for(session: &str, text: &str, count: usize, secs: u64) -> String {
    let start = Instant::now();
    loop {
        let s = screen(session);
        if s.matches(text).count() >= count {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {text:?} x{count}; screen:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Session(String);

impl Drop for Session {
    fn drop(&mut self) {
        tmux(&["kill-session", "-t", &self.0]);
    }
}

#[test]
fn the_shell_takes_commands_line_editing_and_ctrl_c() {
    let (kernel, initrd) = guest::guest("i386");
    let session = format!("anyx86-shell-{}", std::process::id());
    let cmd = format!(
        "{} run --kernel {} --initrd {} --append '{} shell=1' -m 256 --serial stdio; echo STATUS=$?; sleep 60",
        env!("CARGO_BIN_EXE_anyx86"),
        kernel.display(),
        initrd.display(),
        guest::APPEND
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "120",
        "-y",
        "40",
        &cmd,
    ]);
    let _guard = Session(session.clone());
    wait_for(&session, "/ # ", 1, 600);
    // A command and its output.
    tmux(&["send-keys", "-t", &session, "-l", "echo sum=$((6*7))"]);
    tmux(&["send-keys", "-t", &session, "Enter"]);
    wait_for(&session, "sum=42", 1, 60);
    // Line editing: backspace over a typo before Enter.
    tmux(&["send-keys", "-t", &session, "-l", "echo abcd"]);
    tmux(&["send-keys", "-t", &session, "BSpace"]);
    tmux(&["send-keys", "-t", &session, "-l", "e"]);
    tmux(&["send-keys", "-t", &session, "Enter"]);
    wait_for(&session, "\nabce", 1, 60);
    // Ctrl-C reaches the guest: busybox's line editor drops the line
    // being typed. (The shared guest's shell runs without a controlling
    // terminal, so the kernel turns Ctrl-C into no signal; the byte
    // itself is what the emulator must deliver.)
    tmux(&["send-keys", "-t", &session, "-l", "echo zzz"]);
    std::thread::sleep(Duration::from_millis(500));
    tmux(&["send-keys", "-t", &session, "C-c"]);
    std::thread::sleep(Duration::from_millis(500));
    tmux(&["send-keys", "-t", &session, "-l", "echo after=$((1+1))"]);
    tmux(&["send-keys", "-t", &session, "Enter"]);
    let s = wait_for(&session, "after=2", 1, 60);
    assert!(!s.contains("\nzzz"), "the line before Ctrl-C ran:\n{s}");
    assert!(
        !s.contains("zzzecho"),
        "Ctrl-C did not reach the line editor:\n{s}"
    );
    // poweroff -f halts the machine and ends the run with status 0.
    tmux(&["send-keys", "-t", &session, "-l", "poweroff -f"]);
    tmux(&["send-keys", "-t", &session, "Enter"]);
    let s = wait_for(&session, "STATUS=", 1, 120);
    assert!(s.contains("STATUS=0"), "{s}");
}
