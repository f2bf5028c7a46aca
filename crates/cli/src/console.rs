//! The serial console: the guest's COM1 in the user's terminal.
//!
//! On a terminal, standard input is put in raw mode (crossterm) so every
//! key reaches the guest, and restored on every exit path: normal return,
//! panic (a hook), and SIGTERM/SIGHUP (a flag the run loop polls, which
//! ends the run through the normal path). Like QEMU, Ctrl-A is an escape
//! prefix: `Ctrl-A x` quits, `Ctrl-A h` prints help, `Ctrl-A s` prints
//! statistics so far, `Ctrl-A Ctrl-A` sends one Ctrl-A to the guest.
//!
//! When standard input is not a terminal, its bytes are passed to the
//! guest as they come, so scripts can drive a guest.

use anyx86_machine::{Board, HostControl};
use std::io::{IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CTRL_A: u8 = 0x01;

/// Raw mode for as long as the guard lives.
struct RawMode;

impl RawMode {
    fn enable() -> Option<Self> {
        crossterm::terminal::enable_raw_mode().ok()?;
        // A panic anywhere must not leave the terminal raw.
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = crossterm::terminal::disable_raw_mode();
            prev(info);
        }));
        Some(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// Host side of the serial console.
pub struct Console {
    rx: Option<Receiver<Vec<u8>>>,
    pending: Vec<u8>,
    escape: bool,
    _raw: Option<RawMode>,
    term: Arc<AtomicBool>,
    start: Instant,
    /// Input bytes the guest's UART had no room for.
    pub dropped: u64,
    /// Other host inputs (`tcp:` serial ports): COM index and bytes.
    extra: Vec<crate::SerialInput>,
    /// With a display in the terminal, typed keys go to the PS/2
    /// keyboard (decoded here) instead of COM1.
    keyboard: Option<crate::display::keys::KeyDecoder>,
}

impl Console {
    /// Starts reading standard input when `interactive` (COM1 is on
    /// stdio); raw mode only on a terminal.
    pub fn new(interactive: bool) -> Self {
        let term = Arc::new(AtomicBool::new(false));
        #[cfg(unix)]
        for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
            let _ = signal_hook::flag::register(sig, Arc::clone(&term));
        }
        if !interactive {
            return Self {
                rx: None,
                pending: Vec::new(),
                escape: false,
                _raw: None,
                term,
                start: Instant::now(),
                dropped: 0,
                extra: Vec::new(),
                keyboard: None,
            };
        }
        let tty = std::io::stdin().is_terminal();
        let raw = if tty { RawMode::enable() } else { None };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            let mut stdin = std::io::stdin();
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Self {
            rx: Some(rx),
            pending: Vec::new(),
            escape: false,
            _raw: raw.filter(|_| tty),
            term,
            start: Instant::now(),
            dropped: 0,
            extra: Vec::new(),
            keyboard: None,
        }
    }

    /// Sends what the user types to the guest's PS/2 keyboard (the
    /// terminal display) instead of COM1.
    pub fn use_keyboard(&mut self) {
        self.keyboard = Some(Default::default());
    }

    /// Adds host inputs for other serial ports (`tcp:` connections).
    pub fn add_inputs(&mut self, inputs: Vec<crate::SerialInput>) {
        self.extra.extend(inputs);
    }

    /// Feeds whatever the `tcp:` connections received; bytes the UART
    /// cannot take are dropped and counted (a guest that never reads must
    /// not grow memory).
    fn feed_extra(&mut self, board: &mut Board) {
        for (port, rx) in &self.extra {
            while let Ok(bytes) = rx.try_recv() {
                let n = board.serial_input(*port, &bytes);
                self.dropped += (bytes.len() - n) as u64;
            }
        }
    }

    fn escapes_enabled(&self) -> bool {
        self._raw.is_some()
    }

    /// The run loop's host hook: feeds input, handles the escape keys,
    /// waits up to `idle` for input when the guest has nothing to do.
    pub fn hook(&mut self, board: &mut Board, icount: u64, idle: Option<Duration>) -> HostControl {
        if self.term.load(Ordering::Relaxed) {
            return HostControl::Quit;
        }
        if !self.extra.is_empty() {
            self.feed_extra(board);
        }
        let Some(rx) = &self.rx else {
            if let Some(d) = idle {
                std::thread::sleep(d);
            }
            return HostControl::Continue;
        };
        let got = match idle {
            Some(d) if self.pending.is_empty() => match rx.recv_timeout(d) {
                Ok(b) => Some(b),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    // End of input: nothing more will come; just wait.
                    self.rx = None;
                    std::thread::sleep(d);
                    None
                }
            },
            _ => match rx.try_recv() {
                Ok(b) => Some(b),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => {
                    self.rx = None;
                    None
                }
            },
        };
        if let Some(bytes) = got {
            for b in bytes {
                if let Some(c) = self.key(b, board, icount) {
                    return c;
                }
            }
        }
        if let Some(dec) = self.keyboard.as_mut() {
            let mut events = dec.feed(&self.pending);
            if self.pending.is_empty() {
                events.extend(dec.flush());
            }
            self.pending.clear();
            for (k, down) in events {
                board.key_event(k, down, icount);
            }
            return HostControl::Continue;
        }
        if !self.pending.is_empty() {
            let n = board.serial_input(0, &self.pending);
            self.pending.drain(..n);
            // A guest that never reads: keep at most 64 KiB waiting.
            if self.pending.len() > 64 << 10 {
                self.dropped += self.pending.len() as u64;
                self.pending.clear();
            }
        }
        HostControl::Continue
    }

    fn key(&mut self, b: u8, board: &mut Board, icount: u64) -> Option<HostControl> {
        if !self.escapes_enabled() {
            self.pending.push(b);
            return None;
        }
        if self.escape {
            self.escape = false;
            match b {
                b'x' | b'X' => {
                    eprint!("\r\nanyx86: terminated by Ctrl-A x\r\n");
                    return Some(HostControl::Quit);
                }
                b'h' | b'H' | b'?' => eprint!("{}", help()),
                b's' | b'S' => {
                    let secs = self.start.elapsed().as_secs_f64();
                    eprint!(
                        "\r\nanyx86: {icount} instructions in {secs:.1} s ({:.1} MIPS), COM1 sent {} bytes\r\n",
                        icount as f64 / secs.max(1e-9) / 1e6,
                        board.serial[0].count
                    );
                }
                CTRL_A => self.pending.push(CTRL_A),
                _ => {}
            }
            let _ = std::io::stderr().flush();
            return None;
        }
        if b == CTRL_A {
            self.escape = true;
        } else {
            self.pending.push(b);
        }
        None
    }
}

fn help() -> &'static str {
    "\r\nanyx86 console keys:\r\n  Ctrl-A x       quit\r\n  Ctrl-A s       statistics so far\r\n  Ctrl-A h       this help\r\n  Ctrl-A Ctrl-A  send Ctrl-A to the guest\r\n"
}
