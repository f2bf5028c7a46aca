//! The built-in debugger's full-screen user interface (crossterm), in the
//! spirit of Bochs's debugger: panes for disassembly, registers, stack,
//! memory and the guest's serial output, and a command line with
//! history. F5 continues, F10 steps over, F11 steps in; Ctrl-C breaks
//! into a running guest; an empty line repeats the last command.

use crate::args::{RunArgs, Stream};
use crate::tui_draw::{draw, ViewState};
use anyx86_debugger::Session;
use anyx86_machine::{Board, HostControl, Machine, Output, RunOutcome};
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::{execute, terminal};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Most bytes of guest output kept for the serial pane.
const SERIAL_KEEP: usize = 64 << 10;
/// Most commands kept in the history.
const HISTORY: usize = 500;

/// A sink that keeps the guest's output for the serial pane.
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
            if v.len() > SERIAL_KEEP {
                let cut = v.len() - SERIAL_KEEP / 2;
                v.drain(..cut);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Raw mode and the alternate screen for as long as it lives.
struct Screen;

impl Screen {
    fn enter() -> Result<Self, String> {
        terminal::enable_raw_mode().map_err(|e| format!("no terminal: {e} (try --batch)"))?;
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = execute!(std::io::stdout(), terminal::LeaveAlternateScreen);
            let _ = terminal::disable_raw_mode();
            prev(info);
        }));
        let _ = execute!(std::io::stdout(), terminal::EnterAlternateScreen);
        Ok(Screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = execute!(std::io::stdout(), terminal::LeaveAlternateScreen);
        let _ = terminal::disable_raw_mode();
    }
}

/// The command line and its history.
#[derive(Default)]
struct Line {
    history: Vec<String>,
    pos: usize,
}

impl Line {
    fn push(&mut self, cmd: &str) {
        if self.history.last().map(String::as_str) != Some(cmd) {
            self.history.push(cmd.to_string());
            if self.history.len() > HISTORY {
                self.history.remove(0);
            }
        }
        self.pos = self.history.len();
    }

    fn up(&mut self) -> Option<String> {
        self.pos = self.pos.checked_sub(1)?;
        self.history.get(self.pos).cloned()
    }

    fn down(&mut self) -> String {
        self.pos = (self.pos + 1).min(self.history.len());
        self.history.get(self.pos).cloned().unwrap_or_default()
    }
}

/// Runs the full-screen debugger until the user quits.
pub fn run(m: &mut Machine, sess: &mut Session, a: &RunArgs) -> Result<RunOutcome, String> {
    let serial = Arc::new(Mutex::new(Vec::new()));
    if a.serial == Stream::Stdio {
        m.board.serial[0] = Output::new(Some(Box::new(Capture(Arc::clone(&serial)))), false);
    }
    if a.debugcon == Stream::Stdio {
        m.board.debugcon = Output::new(Some(Box::new(Capture(Arc::clone(&serial)))), true);
    }
    let _screen = Screen::enter()?;
    let mut v = ViewState {
        prev: None,
        mem_addr: 0,
        output: vec!["anyx86 debugger: type help; F5 continue, F10 step over, F11 step in".into()],
        input: String::new(),
        status: "stopped".into(),
    };
    let mut line = Line::default();
    let mut out = std::io::stdout();
    loop {
        let bytes = serial.lock().map(|b| b.clone()).unwrap_or_default();
        draw(&mut out, m, sess, &v, &bytes).map_err(|e| e.to_string())?;
        let ev = event::read().map_err(|e| e.to_string())?;
        let Event::Key(k) = ev else {
            continue;
        };
        if k.kind == KeyEventKind::Release {
            continue;
        }
        let cmd = match key(k, &mut v, &mut line) {
            Some(c) => c,
            None => continue,
        };
        if exec(m, sess, &mut v, &cmd, &mut out) {
            break;
        }
    }
    Ok(sess.ended.clone().unwrap_or(RunOutcome::HostQuit))
}

/// Applies a key to the command line; returns a command to run.
fn key(k: KeyEvent, v: &mut ViewState, line: &mut Line) -> Option<String> {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    match k.code {
        KeyCode::F(5) => Some("c".into()),
        KeyCode::F(10) => Some("n".into()),
        KeyCode::F(11) => Some("s".into()),
        KeyCode::Char('c') if ctrl => {
            v.input.clear();
            None
        }
        KeyCode::Enter => {
            let cmd = if v.input.trim().is_empty() {
                line.history.last().cloned().unwrap_or_default()
            } else {
                std::mem::take(&mut v.input)
            };
            v.input.clear();
            line.push(&cmd);
            Some(cmd)
        }
        KeyCode::Up => {
            if let Some(c) = line.up() {
                v.input = c;
            }
            None
        }
        KeyCode::Down => {
            v.input = line.down();
            None
        }
        KeyCode::Backspace => {
            v.input.pop();
            None
        }
        KeyCode::Char(c) if !ctrl && v.input.len() < 4096 => {
            v.input.push(c);
            None
        }
        _ => None,
    }
}

/// Runs one command; true to quit.
fn exec(
    m: &mut Machine,
    sess: &mut Session,
    v: &mut ViewState,
    cmd: &str,
    out: &mut impl Write,
) -> bool {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    if let ["mem" | "m", a] | ["x", .., a] = words.as_slice() {
        if let Ok(addr) = sess.addr(m, a) {
            v.mem_addr = addr;
        }
        if words[0] == "mem" || words[0] == "m" {
            return false;
        }
    }
    if words.first() == Some(&"help") {
        v.output = format!(
            "{}\nmem ADDR           show ADDR in the memory pane\nF5 continue  F10 step over  F11 step in  Ctrl-C break  Up/Down history",
            anyx86_debugger::session::HELP
        )
        .lines()
        .map(String::from)
        .collect();
        return false;
    }
    v.prev = Some(m.cpu.s.clone());
    v.status = "running (Ctrl-C breaks in)".into();
    let serial = Vec::new();
    let _ = draw(out, m, sess, v, &serial);
    let mut hook = |b: &mut Board, _: u64, idle: Option<Duration>| poll_keys(b, idle);
    let r = sess.exec(m, cmd, Some(&mut hook));
    m.board.flush();
    v.status = match &sess.ended {
        Some(_) => "the machine has stopped (q quits)".into(),
        None => "stopped".into(),
    };
    v.output = std::iter::once(format!("(anyx86) {cmd}"))
        .chain(r.text.lines().map(String::from))
        .collect();
    r.quit
}

/// The host hook while the guest runs: Ctrl-C breaks in, other keys go to
/// the guest's COM1.
fn poll_keys(b: &mut Board, idle: Option<Duration>) -> HostControl {
    let wait = idle.map_or(Duration::ZERO, |d| d.min(Duration::from_millis(20)));
    while event::poll(wait).unwrap_or(false) {
        let Ok(Event::Key(k)) = event::read() else {
            continue;
        };
        if k.kind == KeyEventKind::Release {
            continue;
        }
        match k.code {
            KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                return HostControl::Quit
            }
            KeyCode::Char(c) if c.is_ascii() => {
                b.serial_input(0, &[c as u8]);
            }
            KeyCode::Enter => {
                b.serial_input(0, b"\r");
            }
            _ => {}
        }
        if wait.is_zero() {
            break;
        }
    }
    HostControl::Continue
}
