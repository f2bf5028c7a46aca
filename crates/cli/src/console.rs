//! The serial console: the guest's COM1 in the user's terminal.
//!
//! On a terminal, standard input is put in raw mode (crossterm) so every
//! key reaches the guest, and restored on every exit path: normal return,
//! panic (a hook), and SIGINT/SIGTERM/SIGHUP or `--timeout` (see
//! [`stop`]). Like QEMU, Ctrl-A is an escape
//! prefix: `Ctrl-A x` quits, `Ctrl-A h` prints help, `Ctrl-A s` prints
//! statistics so far, `Ctrl-A p` writes the screen to a PNG file
//! (`anyx86-screen-N.png`), `Ctrl-A v` saves the machine
//! (`anyx86-vm-N.snap`, for `--loadvm`), `Ctrl-A Ctrl-A` sends one Ctrl-A
//! to the guest.
//!
//! When standard input is not a terminal, its bytes are passed to the
//! guest as they come, so scripts can drive a guest.
//!
//! Host input is bounded: the reader threads hand chunks over through
//! small bounded channels and are only drained while the guest's UART
//! takes the bytes, so a flood (a pipe, a `tcp:` peer) waits in the
//! kernel's socket or pipe buffer (back-pressure), not in our memory.

use anyx86_machine::{Board, HostControl};
use std::io::{IsTerminal, Read, Write};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

const CTRL_A: u8 = 0x01;

/// Chunks a host input channel holds before its reader thread blocks.
pub const INPUT_CHUNKS: usize = 16;
/// Bytes of non-terminal input kept waiting for the guest's UART; past
/// this the console stops reading (back-pressure).
const PENDING_MAX: usize = 4 << 10;
/// Bytes typed on a terminal kept waiting for the guest: a terminal is
/// always read (for Ctrl-A x), so beyond this a paste is dropped.
const TYPED_MAX: usize = 64 << 10;

/// Ending a run from outside: SIGINT, SIGTERM, SIGHUP and `--timeout`.
///
/// The first signal (or the timeout) records why and the run loop's host
/// hook sees it at its next slice boundary (bounded: the CPU returns after
/// at most a slice of work, storms and idle loops included), ends the run
/// through the normal path (terminal restored, outputs flushed, images
/// synced when the machine is dropped) and the process exits with
/// 128 + the signal number, or [`EXIT_TIMEOUT`]. Where no hook runs (the
/// GDB stub waiting for a connection or a packet, the debugger's full
/// screen waiting for a key) a watchdog ends the process after
/// [`GRACE`]: raw mode restored, nothing of the guest's disks lost (writes
/// reach the file as the guest makes them; only the final `sync_data` is
/// skipped). A second signal forces the exit at once.
pub mod stop {
    use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
    use std::time::Duration;

    /// Exit status of a run ended by `--timeout` (as timeout(1)); even,
    /// so never an exit-device status.
    pub const EXIT_TIMEOUT: u8 = 124;
    /// How long the run loop has to notice a stop before the watchdog
    /// ends the process.
    pub const GRACE: Duration = Duration::from_millis(500);
    /// How long the normal exit path may take (flushing outputs, syncing
    /// images) once it started, before the watchdog ends the process.
    const FINISH_GRACE: Duration = Duration::from_secs(20);
    /// `REASON` value for the timeout (signals store their number).
    const TIMEOUT: i32 = -1;

    static REASON: AtomicI32 = AtomicI32::new(0);
    static FINISHING: AtomicBool = AtomicBool::new(false);

    /// Why the host stopped the run.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Stop {
        /// This signal arrived.
        Signal(i32),
        /// `--timeout` expired.
        Timeout,
    }

    impl Stop {
        /// The conventional exit status: 128 + signal, or [`EXIT_TIMEOUT`].
        pub fn exit_status(self) -> u8 {
            match self {
                Stop::Signal(n) => (128 + n).clamp(0, 255) as u8,
                Stop::Timeout => EXIT_TIMEOUT,
            }
        }

        fn describe(self) -> String {
            match self {
                Stop::Signal(n) => format!("terminated by signal {n}"),
                Stop::Timeout => "--timeout expired".into(),
            }
        }
    }

    /// The stop asked for, if any.
    pub fn requested() -> Option<Stop> {
        match REASON.load(Ordering::Relaxed) {
            0 => None,
            TIMEOUT => Some(Stop::Timeout),
            n => Some(Stop::Signal(n)),
        }
    }

    /// The run loop saw the stop and is ending the run the normal way.
    pub fn finishing() {
        FINISHING.store(true, Ordering::Relaxed);
    }

    /// Catches SIGINT, SIGTERM and SIGHUP, and arms the timeout.
    pub fn install(timeout: Option<Duration>) {
        #[cfg(unix)]
        {
            use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
            if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
            {
                std::thread::spawn(move || {
                    for sig in signals.forever() {
                        if !request(sig) {
                            force(Stop::Signal(sig));
                        }
                    }
                });
            }
        }
        if let Some(t) = timeout {
            std::thread::spawn(move || {
                std::thread::sleep(t);
                request(TIMEOUT);
            });
        }
    }

    /// Records the first stop and starts its watchdog; false when a stop
    /// was already requested.
    fn request(code: i32) -> bool {
        if REASON
            .compare_exchange(0, code, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        std::thread::spawn(|| {
            std::thread::sleep(GRACE);
            if FINISHING.load(Ordering::Relaxed) {
                std::thread::sleep(FINISH_GRACE);
            }
            if let Some(why) = requested() {
                force(why);
            }
        });
        true
    }

    /// Ends the process now, with the terminal restored.
    fn force(why: Stop) -> ! {
        if crossterm::terminal::is_raw_mode_enabled().unwrap_or(false) {
            let _ = crossterm::execute!(
                std::io::stdout(),
                crossterm::terminal::LeaveAlternateScreen,
                crossterm::cursor::Show
            );
            let _ = crossterm::terminal::disable_raw_mode();
        }
        eprintln!("\r\nanyx86: {} (forced exit)\r", why.describe());
        std::process::exit(i32::from(why.exit_status()));
    }
}

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
    start: Instant,
    /// Input bytes the guest's UART had no room for.
    pub dropped: u64,
    /// Other host inputs (`tcp:` serial ports): COM index, bytes, and the
    /// bytes received but not yet taken by the guest.
    extra: Vec<(usize, Receiver<Vec<u8>>, Vec<u8>)>,
    /// With a display in the terminal, typed keys go to the PS/2
    /// keyboard (decoded here) instead of COM1.
    keyboard: Option<crate::display::keys::KeyDecoder>,
    /// Decoded key strokes the keyboard had no room for yet.
    keys: std::collections::VecDeque<(anyx86_devices::KeyCode, bool)>,
}

impl Console {
    /// Starts reading standard input when `interactive` (COM1 is on
    /// stdio); raw mode only on a terminal.
    pub fn new(interactive: bool) -> Self {
        if !interactive {
            return Self {
                rx: None,
                pending: Vec::new(),
                escape: false,
                _raw: None,
                start: Instant::now(),
                dropped: 0,
                extra: Vec::new(),
                keyboard: None,
                keys: Default::default(),
            };
        }
        let tty = std::io::stdin().is_terminal();
        let raw = if tty { RawMode::enable() } else { None };
        let (tx, rx) = mpsc::sync_channel(INPUT_CHUNKS);
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
            start: Instant::now(),
            dropped: 0,
            extra: Vec::new(),
            keyboard: None,
            keys: Default::default(),
        }
    }

    /// Sends what the user types to the guest's PS/2 keyboard (the
    /// terminal display) instead of COM1.
    pub fn use_keyboard(&mut self) {
        self.keyboard = Some(Default::default());
    }

    /// Adds host inputs for other serial ports (`tcp:` connections).
    pub fn add_inputs(&mut self, inputs: Vec<crate::SerialInput>) {
        self.extra
            .extend(inputs.into_iter().map(|(p, rx)| (p, rx, Vec::new())));
    }

    /// Feeds what the `tcp:` connections received, as fast as the UART
    /// takes it: a chunk is received only when the previous one is gone,
    /// so a guest that never reads leaves the flood in the peer's socket.
    fn feed_extra(&mut self, board: &mut Board) {
        for (port, rx, held) in &mut self.extra {
            loop {
                if held.is_empty() {
                    match rx.try_recv() {
                        Ok(bytes) => *held = bytes,
                        Err(_) => break,
                    }
                }
                let n = board.serial_input(*port, held);
                held.drain(..n);
                if !held.is_empty() {
                    break;
                }
            }
        }
    }

    fn escapes_enabled(&self) -> bool {
        self._raw.is_some()
    }

    /// The run loop's host hook: feeds input, handles the escape keys,
    /// waits up to `idle` for input when the guest has nothing to do.
    pub fn hook(&mut self, board: &mut Board, icount: u64, idle: Option<Duration>) -> HostControl {
        if stop::requested().is_some() {
            stop::finishing();
            return HostControl::Quit;
        }
        if board.saved.is_some() {
            Self::report_save(board);
        }
        if !self.extra.is_empty() {
            self.feed_extra(board);
        }
        let full = !self.escapes_enabled() && self.pending.len() >= PENDING_MAX;
        let Some(rx) = self.rx.as_ref().filter(|_| !full) else {
            self.feed_pending(board);
            self.feed_keys(board, icount);
            if let Some(d) = idle {
                nap(d);
            }
            return HostControl::Continue;
        };
        let got = match idle {
            // In short waits, so a stop is seen soon; the machine's idle
            // loop comes back when the guest still sleeps.
            Some(d) if self.pending.is_empty() => match rx.recv_timeout(d.min(NAP_STEP)) {
                Ok(b) => Some(b),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    // End of input: nothing more will come; just wait.
                    self.rx = None;
                    nap(d);
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
            self.keys.extend(events);
            self.feed_keys(board, icount);
            return HostControl::Continue;
        }
        self.feed_pending(board);
        HostControl::Continue
    }

    /// Gives the PS/2 keyboard the typed keys it has room for, in order:
    /// its queue holds 16 bytes, a paste is far longer.
    fn feed_keys(&mut self, board: &mut Board, icount: u64) {
        while let Some(&(k, down)) = self.keys.front() {
            if !board.key_event(k, down, icount) {
                break;
            }
            self.keys.pop_front();
        }
        // As for COM1: keep at most this much of a paste the guest never
        // reads.
        if self.keys.len() > TYPED_MAX {
            self.dropped += self.keys.len() as u64;
            self.keys.clear();
        }
    }

    /// Ctrl-A p: writes the screen to the next free
    /// `anyx86-screen-N.png` in the current directory and says where.
    fn screendump(&mut self, board: &Board) {
        let path = (1..10_000)
            .map(|n| std::path::PathBuf::from(format!("anyx86-screen-{n}.png")))
            .find(|p| !p.exists());
        match path.map(|p| (board.screendump(&p), p)) {
            Some((Ok(()), p)) => eprint!("\r\nanyx86: screen written to {}\r\n", p.display()),
            Some((Err(e), _)) => eprint!("\r\nanyx86: {e}\r\n"),
            None => eprint!("\r\nanyx86: no free anyx86-screen-N.png name here\r\n"),
        }
    }

    /// Ctrl-A v: asks the run loop to save the machine to the next free
    /// `anyx86-vm-N.snap` in the current directory (it can only be saved
    /// there, where the CPU stands between instructions); the next hook
    /// call says how it went.
    fn savevm(board: &mut Board) {
        let path = (1..10_000)
            .map(|n| std::path::PathBuf::from(format!("anyx86-vm-{n}.snap")))
            .find(|p| !p.exists());
        match path {
            Some(p) => board.save_request = Some(p),
            None => eprint!("\r\nanyx86: no free anyx86-vm-N.snap name here\r\n"),
        }
    }

    /// Tells the result of a Ctrl-A v save.
    fn report_save(board: &mut Board) {
        match board.saved.take() {
            Some(Ok(p)) => eprint!(
                "\r\nanyx86: machine saved to {} (--loadvm continues from it)\r\n",
                p.display()
            ),
            Some(Err(e)) => eprint!("\r\nanyx86: {e}\r\n"),
            None => return,
        }
        let _ = std::io::stderr().flush();
    }

    /// Gives COM1 what it takes of the waiting input.
    fn feed_pending(&mut self, board: &mut Board) {
        if self.pending.is_empty() {
            return;
        }
        let n = board.serial_input(0, &self.pending);
        self.pending.drain(..n);
        // Typed keys are read whatever the guest does (Ctrl-A x must
        // work): keep at most this much of a paste the guest never reads.
        if self.pending.len() > TYPED_MAX {
            self.dropped += self.pending.len() as u64;
            self.pending.clear();
        }
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
                b'p' | b'P' => self.screendump(board),
                b'v' | b'V' => Self::savevm(board),
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

/// The longest the console blocks before looking at [`stop`] again.
const NAP_STEP: Duration = Duration::from_millis(20);

/// Sleeps up to `d`, waking early when a stop is requested (so an idle
/// guest under a realtime clock ends within a fraction of a second).
pub fn nap(d: Duration) {
    let end = Instant::now() + d;
    loop {
        let now = Instant::now();
        if now >= end || stop::requested().is_some() {
            return;
        }
        std::thread::sleep((end - now).min(NAP_STEP));
    }
}

fn help() -> &'static str {
    "\r\nanyx86 console keys:\r\n  Ctrl-A x       quit\r\n  Ctrl-A s       statistics so far\r\n  Ctrl-A p       write the screen to anyx86-screen-N.png\r\n  Ctrl-A v       save the machine to anyx86-vm-N.snap\r\n  Ctrl-A h       this help\r\n  Ctrl-A Ctrl-A  send Ctrl-A to the guest\r\n"
}
