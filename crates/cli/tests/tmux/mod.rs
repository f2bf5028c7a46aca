//! Driving the emulator in a real terminal: tmux sessions for the
//! terminal tests (console, debugger TUI, Linux shell).

use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `tmux ARGS`, returning its standard output.
pub fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux")
        .args(args)
        .output()
        .expect("tmux is installed (apt-get install tmux)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The visible screen of `session`.
pub fn screen(session: &str) -> String {
    tmux(&["capture-pane", "-p", "-t", session])
}

/// Waits up to `secs` seconds until `text` is on the screen; returns it.
pub fn wait_for_within(session: &str, text: &str, secs: u64) -> String {
    let start = Instant::now();
    loop {
        let s = screen(session);
        if s.contains(text) {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {text:?}; screen:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits up to 20 s until `text` is on the screen.
pub fn wait_for(session: &str, text: &str) -> String {
    wait_for_within(session, text, 20)
}

/// A detached session running `cmd` in a `cols` x `rows` terminal, killed
/// when dropped.
pub struct Session(pub String);

impl Session {
    /// Starts `cmd` in a new session named `name`-PID.
    pub fn start(name: &str, cols: u16, rows: u16, cmd: &str) -> Self {
        let session = format!("anyx86-{name}-{}", std::process::id());
        let (c, r) = (cols.to_string(), rows.to_string());
        tmux(&["new-session", "-d", "-s", &session, "-x", &c, "-y", &r, cmd]);
        Session(session)
    }

    /// The session name, for `-t`.
    pub fn name(&self) -> &str {
        &self.0
    }

    /// Types `text`, then Enter.
    pub fn type_line(&self, text: &str) {
        tmux(&["send-keys", "-t", &self.0, "-l", text]);
        tmux(&["send-keys", "-t", &self.0, "Enter"]);
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        tmux(&["kill-session", "-t", &self.0]);
    }
}
