//! The guest's screen in a native window (`--display window`): winit
//! opens the window and reads the keyboard and mouse, softbuffer puts the
//! VGA's pixels in it.
//!
//! Two threads, because macOS (AppKit) wants its event loop on the main
//! thread while our run loop must not wait on the window:
//!
//! - the main thread runs winit's event loop ([`App`]): it shows the
//!   latest frame, sized to the guest's mode times `--window-scale`
//!   (nearest-neighbour stretched if the window manager gives another
//!   size), and turns host key, button, motion and wheel events into
//!   [`Input`]s;
//! - a spawned thread builds and runs the machine; its host hook drives a
//!   [`WindowLink`], which renders a frame when the VGA's `generation`
//!   moved (at most 60 times a second), leaves it in a one-frame mailbox
//!   and wakes the event loop, then feeds the queued input to the PS/2
//!   keyboard and mouse.
//!
//! Closing the window ends the run as `Ctrl-A x` does. A guest halted for
//! good (interrupts off) leaves its last picture up, as QEMU's window
//! does, until the window is closed or a signal or `--timeout` ends the
//! process.
//!
//! Not implemented: pointer grab (the guest's pointer follows host
//! motion inside the window, so the two drift apart), HiDPI scaling (the
//! window is sized in physical pixels), the text cursor's shape beyond
//! what the VGA draws.

use super::window_keys::pc_key;
use crate::console;
use anyx86_devices::{Frame, KeyCode, RenderOptions};
use anyx86_machine::{Board, HostControl, RunOutcome};
use softbuffer::{Context, Surface};
use std::num::NonZeroU32;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use winit::application::ApplicationHandler;
use winit::dpi::{PhysicalPosition, PhysicalSize};
use winit::event::{ElementState, MouseButton, MouseScrollDelta, WindowEvent};
use winit::event_loop::{ActiveEventLoop, ControlFlow, EventLoop, EventLoopProxy};
use winit::keyboard::PhysicalKey;
use winit::window::{Window, WindowId};

/// Shortest time between two frames (60 per second).
const FRAME: Duration = Duration::from_micros(16_667);
/// Input events queued for the machine thread; past this (a machine
/// thread that stopped taking input) new events are dropped.
const INPUT_QUEUE: usize = 1024;
/// How often a lingering window looks for a signal or `--timeout`.
const STOP_POLL: Duration = Duration::from_millis(50);
/// Host wheel pixels per wheel click, for touchpads that scroll by pixels.
const WHEEL_PIXELS: f64 = 40.0;
/// Largest `--window-scale`.
pub const MAX_SCALE: u32 = 8;
/// Window size before the guest's first frame (mode 3's).
const FIRST_SIZE: (u32, u32) = (720, 400);
/// Smallest window: a VGA nobody programmed yet draws a frame of a few
/// pixels, too small to find or click; such a frame is stretched.
const MIN_SIZE: (u32, u32) = (320, 200);
/// Largest window side asked for: a guest's huge VBE mode times the scale
/// must not make the host allocate gigabytes of window buffer.
const MAX_SIDE: u32 = 8192;
/// PS/2 mouse button bits (`Board::mouse_event`).
const BUTTON_LEFT: u8 = 1 << 0;
const BUTTON_RIGHT: u8 = 1 << 1;
const BUTTON_MIDDLE: u8 = 1 << 2;

/// Host input for the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A key pressed (`true`, again while held: typematic) or released.
    Key(KeyCode, bool),
    /// Mouse motion (`dx` right, `dy` down), wheel clicks toward the user
    /// and the buttons now held.
    Mouse {
        /// Right.
        dx: i32,
        /// Down.
        dy: i32,
        /// Wheel clicks toward the user.
        dz: i32,
        /// Bit 0 left, 1 right, 2 middle.
        buttons: u8,
    },
}

/// What the machine thread tells the event loop.
#[derive(Debug)]
pub enum UserEvent {
    /// A new frame waits in the mailbox.
    Frame,
    /// The guest halted for good: keep its last picture up.
    Halted,
    /// The run is over, with this exit status (or a startup error).
    Finished(Result<u8, String>),
}

/// The machine thread's end of the window.
pub struct WindowLink {
    mailbox: Arc<Mutex<Option<Frame>>>,
    proxy: EventLoopProxy<UserEvent>,
    input: Receiver<Input>,
    closed: Arc<AtomicBool>,
    /// VGA generation and cursor phase of the last frame sent.
    shown: Option<(u64, RenderOptions)>,
    last: Instant,
    /// Inputs received and not yet taken by the guest, in order.
    pending: std::collections::VecDeque<Input>,
}

impl WindowLink {
    /// The run loop's host hook: sends a new frame when the screen changed
    /// and a frame's time passed, waits up to `idle` (at most a frame) for
    /// input, feeds the input to the guest. `Quit` once the window closed.
    pub fn poll(&mut self, board: &mut Board, icount: u64, idle: Option<Duration>) -> HostControl {
        self.refresh(board, icount, false);
        if let Some(d) = idle.filter(|_| self.pending.is_empty()) {
            match self.input.recv_timeout(d.min(FRAME)) {
                Ok(i) => self.pending.push_back(i),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => self.closed.store(true, Ordering::Relaxed),
            }
        }
        while let Ok(i) = self.input.try_recv() {
            self.pending.push_back(i);
        }
        // In order, as far as the keyboard has room (its queue holds 16
        // bytes; a fast typist or a held key outruns a slow guest).
        while let Some(&i) = self.pending.front() {
            if !apply(board, icount, i) {
                break;
            }
            self.pending.pop_front();
        }
        if self.pending.len() > PENDING_MAX {
            // A guest that never reads its keyboard.
            self.pending.clear();
        }
        if self.closed.load(Ordering::Relaxed) {
            eprintln!("anyx86: the window was closed");
            return HostControl::Quit;
        }
        HostControl::Continue
    }

    /// The run ended: shows the last picture, and keeps it up when the
    /// guest halted for good.
    pub fn finish(&mut self, board: &Board, icount: u64, outcome: &RunOutcome) {
        self.refresh(board, icount, true);
        if matches!(outcome, RunOutcome::Halted(_)) {
            let _ = self.proxy.send_event(UserEvent::Halted);
        }
    }

    /// Renders and sends a frame if the picture changed (and, unless
    /// `now`, a frame's time passed since the last one).
    fn refresh(&mut self, board: &Board, icount: u64, now: bool) {
        if !now && self.last.elapsed() < FRAME {
            return;
        }
        let Some(pc) = board.pc.as_deref() else {
            return;
        };
        // The cursor blinks at the VGA's rate; attribute blink is drawn as
        // QEMU draws it (bright backgrounds), so a still screen matches
        // `screendump`.
        let opts = RenderOptions {
            cursor: RenderOptions::at(board.clock.now(icount)).cursor,
            blink: None,
        };
        let key = (pc.vga.generation(), opts);
        if self.shown == Some(key) {
            return;
        }
        self.shown = Some(key);
        self.last = Instant::now();
        let frame = pc.vga.render(opts);
        if let Ok(mut slot) = self.mailbox.lock() {
            *slot = Some(frame);
        }
        if self.proxy.send_event(UserEvent::Frame).is_err() {
            // The event loop is gone: nobody can see the guest any more.
            self.closed.store(true, Ordering::Relaxed);
        }
    }
}

/// Gives one input to the guest; false when the keyboard has no room for
/// a key yet (offer it again later).
fn apply(board: &mut Board, icount: u64, i: Input) -> bool {
    match i {
        Input::Key(k, down) => board.key_event(k, down, icount),
        Input::Mouse {
            dx,
            dy,
            dz,
            buttons,
        } => {
            board.mouse_event(dx, dy, dz, buttons, icount);
            true
        }
    }
}

/// Inputs held for a guest that does not read its keyboard, at most.
const PENDING_MAX: usize = 4096;

/// Opens the event loop on this (the main) thread, runs `machine` on
/// another with a [`WindowLink`], and shows its screen until the run is
/// over. Returns the run's exit status; `Err` for a startup error (no
/// display server, bad flags).
pub fn run<F>(scale: u32, machine: F) -> Result<u8, String>
where
    F: FnOnce(WindowLink) -> Result<u8, String> + Send + 'static,
{
    let event_loop = EventLoop::<UserEvent>::with_user_event()
        .build()
        .map_err(|e| no_display(&e.to_string()))?;
    let mailbox = Arc::new(Mutex::new(None));
    let closed = Arc::new(AtomicBool::new(false));
    let (tx, rx) = sync_channel(INPUT_QUEUE);
    let link = WindowLink {
        mailbox: mailbox.clone(),
        proxy: event_loop.create_proxy(),
        input: rx,
        closed: closed.clone(),
        shown: None,
        last: Instant::now(),
        pending: Default::default(),
    };
    let done = event_loop.create_proxy();
    let worker = std::thread::Builder::new()
        .name("machine".into())
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| machine(link)))
                .unwrap_or_else(|_| Err("the machine thread panicked".into()));
            let _ = done.send_event(UserEvent::Finished(r));
        })
        .map_err(|e| format!("cannot start the machine thread: {e}"))?;
    let mut app = App::new(scale.clamp(1, MAX_SCALE), mailbox, tx, closed);
    event_loop
        .run_app(&mut app)
        .map_err(|e| no_display(&e.to_string()))?;
    let result = app.result.take();
    if result.is_some() {
        // The thread has returned: this does not wait.
        let _ = worker.join();
    }
    result.unwrap_or_else(|| {
        Err(app
            .error
            .take()
            .unwrap_or_else(|| "the window closed".into()))
    })
}

/// The error line when no window can be opened.
fn no_display(why: &str) -> String {
    let unset = |v: &str| std::env::var_os(v).map_or(true, |s| s.is_empty());
    if cfg!(all(unix, not(target_os = "macos"))) && unset("DISPLAY") && unset("WAYLAND_DISPLAY") {
        return "--display window: no display server (DISPLAY and WAYLAND_DISPLAY are unset)"
            .into();
    }
    // winit's OS errors read "os error at FILE:LINE: WHY": keep the why.
    let why = why
        .strip_prefix("os error at ")
        .and_then(|r| r.split_once(": "))
        .map_or(why, |(_, m)| m);
    format!("--display window: cannot open a window: {why}")
}

/// The window and what it shows.
struct Shown {
    window: Rc<Window>,
    surface: Surface<Rc<Window>, Rc<Window>>,
}

/// Where the host pointer was, and the motion not yet sent (fractions of
/// a guest pixel).
#[derive(Default)]
struct Pointer {
    at: Option<PhysicalPosition<f64>>,
    rest: (f64, f64),
    wheel: f64,
    buttons: u8,
}

/// The event loop's state (main thread).
struct App {
    scale: u32,
    mailbox: Arc<Mutex<Option<Frame>>>,
    input: SyncSender<Input>,
    closed: Arc<AtomicBool>,
    shown: Option<Shown>,
    /// The picture in the window.
    frame: Frame,
    pointer: Pointer,
    /// Keys held down, released when the window loses the focus (the
    /// guest would otherwise see them stuck).
    held: Vec<KeyCode>,
    /// The guest halted for good: the window stays until closed.
    halted: bool,
    /// The run's result, once the machine thread finished.
    result: Option<Result<u8, String>>,
    /// Why the window could not be opened.
    error: Option<String>,
}

impl App {
    fn new(
        scale: u32,
        mailbox: Arc<Mutex<Option<Frame>>>,
        input: SyncSender<Input>,
        closed: Arc<AtomicBool>,
    ) -> Self {
        App {
            scale,
            mailbox,
            input,
            closed,
            shown: None,
            frame: Frame::default(),
            pointer: Pointer::default(),
            held: Vec::new(),
            halted: false,
            result: None,
            error: None,
        }
    }

    fn open(&mut self, el: &ActiveEventLoop) -> Result<(), String> {
        let (w, h) = FIRST_SIZE;
        let attrs = Window::default_attributes()
            .with_title("anyx86")
            .with_inner_size(PhysicalSize::new(w * self.scale, h * self.scale));
        let window = Rc::new(el.create_window(attrs).map_err(|e| e.to_string())?);
        let context = Context::new(window.clone()).map_err(|e| e.to_string())?;
        let surface = Surface::new(&context, window.clone()).map_err(|e| e.to_string())?;
        self.shown = Some(Shown { window, surface });
        Ok(())
    }

    /// Takes the newest frame from the mailbox; resizes the window when
    /// the guest's mode changed size.
    fn take_frame(&mut self) {
        let Some(f) = self.mailbox.lock().ok().and_then(|mut s| s.take()) else {
            return;
        };
        let resized = (f.width, f.height) != (self.frame.width, self.frame.height);
        self.frame = f;
        let Some(s) = &self.shown else {
            return;
        };
        if resized && self.frame.width > 0 && self.frame.height > 0 {
            let (w, h) = window_size(self.frame.width, self.frame.height, self.scale);
            let _ = s.window.request_inner_size(PhysicalSize::new(w, h));
        }
        s.window.request_redraw();
    }

    /// Draws the frame over the whole window, nearest-neighbour scaled.
    fn draw(&mut self) {
        let Some(s) = self.shown.as_mut() else {
            return;
        };
        let size = s.window.inner_size();
        let (Some(w), Some(h)) = (NonZeroU32::new(size.width), NonZeroU32::new(size.height)) else {
            return;
        };
        if s.surface.resize(w, h).is_err() {
            return;
        }
        let Ok(mut buf) = s.surface.buffer_mut() else {
            return;
        };
        scale_into(
            &self.frame,
            &mut buf,
            size.width as usize,
            size.height as usize,
        );
        let _ = buf.present();
    }

    fn send(&mut self, i: Input) {
        if let Err(TrySendError::Disconnected(_)) = self.input.try_send(i) {
            self.closed.store(true, Ordering::Relaxed);
        }
    }

    fn key(&mut self, code: PhysicalKey, state: ElementState) {
        let PhysicalKey::Code(c) = code else {
            return;
        };
        let Some(k) = pc_key(c) else {
            return;
        };
        let down = state == ElementState::Pressed;
        self.held.retain(|&h| h != k);
        if down {
            self.held.push(k);
        }
        self.send(Input::Key(k, down));
    }

    fn release_all(&mut self) {
        for k in std::mem::take(&mut self.held) {
            self.send(Input::Key(k, false));
        }
        if self.pointer.buttons != 0 {
            self.pointer.buttons = 0;
            self.mouse(0, 0, 0);
        }
    }

    fn mouse(&mut self, dx: i32, dy: i32, dz: i32) {
        let buttons = self.pointer.buttons;
        self.send(Input::Mouse {
            dx,
            dy,
            dz,
            buttons,
        });
    }

    /// Host pointer motion in guest pixels (host pixels over the scale).
    /// Positions outside the window (X11 reports one on focus-in wherever
    /// the pointer is) only forget where the pointer was, so entering the
    /// window does not jump the guest's pointer.
    fn moved(&mut self, to: PhysicalPosition<f64>) {
        let inside = self.shown.as_ref().is_some_and(|s| {
            let size = s.window.inner_size();
            (0.0..f64::from(size.width)).contains(&to.x)
                && (0.0..f64::from(size.height)).contains(&to.y)
        });
        let p = &mut self.pointer;
        if !inside {
            p.at = None;
            return;
        }
        let Some(from) = p.at.replace(to) else {
            return;
        };
        let s = f64::from(self.scale);
        p.rest.0 += (to.x - from.x) / s;
        p.rest.1 += (to.y - from.y) / s;
        let (dx, dy) = (p.rest.0.trunc(), p.rest.1.trunc());
        p.rest = (p.rest.0 - dx, p.rest.1 - dy);
        if dx != 0.0 || dy != 0.0 {
            self.mouse(dx as i32, dy as i32, 0);
        }
    }

    fn button(&mut self, b: MouseButton, state: ElementState) {
        let bit = match b {
            MouseButton::Left => BUTTON_LEFT,
            MouseButton::Right => BUTTON_RIGHT,
            MouseButton::Middle => BUTTON_MIDDLE,
            _ => return,
        };
        match state {
            ElementState::Pressed => self.pointer.buttons |= bit,
            ElementState::Released => self.pointer.buttons &= !bit,
        }
        self.mouse(0, 0, 0);
    }

    /// Wheel: winit's positive y scrolls away from the user; PS/2's
    /// positive Z is toward the user.
    fn wheel(&mut self, delta: MouseScrollDelta) {
        let clicks = match delta {
            MouseScrollDelta::LineDelta(_, y) => f64::from(y),
            MouseScrollDelta::PixelDelta(p) => p.y / WHEEL_PIXELS,
        };
        self.pointer.wheel -= clicks;
        let dz = self.pointer.wheel.trunc();
        self.pointer.wheel -= dz;
        if dz != 0.0 {
            self.mouse(0, 0, dz as i32);
        }
    }

    fn close(&mut self, el: &ActiveEventLoop) {
        self.closed.store(true, Ordering::Relaxed);
        // Gone (or going) at once: a destroyed X11 window must not be
        // asked for its size again (winit panics on the X error).
        self.shown = None;
        if self.result.is_some() {
            el.exit();
        }
        // Otherwise the machine thread sees `closed` at its next hook and
        // finishes: `Finished` ends the loop.
    }
}

/// The window size for a `width x height` frame: the frame times
/// `scale`, or the largest scale that keeps both sides within
/// [`MAX_SIDE`] (at least 1, a larger frame is shrunk to fit), and never
/// below [`MIN_SIZE`].
fn window_size(width: usize, height: usize, scale: u32) -> (u32, u32) {
    let side = |v: usize| u32::try_from(v).unwrap_or(u32::MAX).max(1);
    let (w, h) = (side(width), side(height));
    let fits = (MAX_SIDE / w.max(h)).clamp(1, scale.max(1));
    let w = w.saturating_mul(fits).min(MAX_SIDE).max(MIN_SIZE.0);
    let h = h.saturating_mul(fits).min(MAX_SIDE).max(MIN_SIZE.1);
    (w, h)
}

/// Fills `out` (`w * h`, 0x00RRGGBB as softbuffer takes it, the same as
/// our frames) with `f` stretched to fit, nearest neighbour; black
/// without a frame.
fn scale_into(f: &Frame, out: &mut [u32], w: usize, h: usize) {
    if f.width == 0 || f.height == 0 || f.pixels.len() < f.width * f.height {
        out.fill(0);
        return;
    }
    let cols: Vec<usize> = (0..w).map(|x| x * f.width / w).collect();
    for (y, row) in out.chunks_exact_mut(w).take(h).enumerate() {
        let src = &f.pixels[(y * f.height / h) * f.width..][..f.width];
        for (o, &c) in row.iter_mut().zip(&cols) {
            *o = src[c];
        }
    }
}

impl ApplicationHandler<UserEvent> for App {
    fn resumed(&mut self, el: &ActiveEventLoop) {
        if self.shown.is_some() {
            return;
        }
        if let Err(e) = self.open(el) {
            self.error = Some(no_display(&e));
            self.closed.store(true, Ordering::Relaxed);
            el.exit();
        }
    }

    fn user_event(&mut self, el: &ActiveEventLoop, ev: UserEvent) {
        match ev {
            UserEvent::Frame => self.take_frame(),
            UserEvent::Halted => {
                self.take_frame();
                self.halted = true;
            }
            UserEvent::Finished(r) => {
                let keep = self.halted && r.is_ok() && !self.closed.load(Ordering::Relaxed);
                self.result = Some(r);
                if keep {
                    eprintln!(
                        "anyx86: the window keeps the guest's last picture; close it to exit"
                    );
                } else {
                    el.exit();
                }
            }
        }
    }

    fn window_event(&mut self, el: &ActiveEventLoop, _: WindowId, ev: WindowEvent) {
        match ev {
            WindowEvent::CloseRequested | WindowEvent::Destroyed => self.close(el),
            WindowEvent::RedrawRequested => self.draw(),
            WindowEvent::Resized(_) => {
                if let Some(s) = &self.shown {
                    s.window.request_redraw();
                }
            }
            WindowEvent::Focused(false) => self.release_all(),
            WindowEvent::KeyboardInput { event, .. } => self.key(event.physical_key, event.state),
            WindowEvent::CursorMoved { position, .. } => self.moved(position),
            WindowEvent::CursorLeft { .. } => self.pointer.at = None,
            WindowEvent::MouseInput { state, button, .. } => self.button(button, state),
            WindowEvent::MouseWheel { delta, .. } => self.wheel(delta),
            _ => {}
        }
    }

    fn about_to_wait(&mut self, el: &ActiveEventLoop) {
        if self.result.is_none() {
            el.set_control_flow(ControlFlow::Wait);
            return;
        }
        // Lingering on a halted guest's picture: a signal or `--timeout`
        // still ends the process, with its exit status.
        if let Some(stop) = console::stop::requested() {
            console::stop::finishing();
            eprintln!("anyx86: {}", crate::stop_line(stop));
            self.result = Some(Ok(stop.exit_status()));
            el.exit();
            return;
        }
        el.set_control_flow(ControlFlow::WaitUntil(Instant::now() + STOP_POLL));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(width: usize, height: usize) -> Frame {
        Frame {
            width,
            height,
            pixels: (0..width * height).map(|i| i as u32).collect(),
        }
    }

    #[test]
    fn scale_one_copies_the_frame() {
        let f = frame(3, 2);
        let mut out = vec![u32::MAX; 6];
        scale_into(&f, &mut out, 3, 2);
        assert_eq!(out, f.pixels);
    }

    #[test]
    fn scale_two_doubles_every_pixel() {
        let f = frame(2, 1);
        let mut out = vec![u32::MAX; 8];
        scale_into(&f, &mut out, 4, 2);
        assert_eq!(out, [0, 0, 1, 1, 0, 0, 1, 1]);
    }

    #[test]
    fn window_size_is_the_frame_times_the_scale_within_bounds() {
        assert_eq!(window_size(640, 400, 1), (640, 400));
        assert_eq!(window_size(640, 480, 2), (1280, 960));
        // An unprogrammed VGA's sliver of a frame: the smallest window.
        assert_eq!(window_size(9, 1, 1), MIN_SIZE);
        // A huge VBE mode: the scale drops to what fits, then the frame
        // itself is shrunk.
        assert_eq!(window_size(2560, 1600, 8), (7680, 4800));
        assert_eq!(window_size(16000, 12000, 2), (MAX_SIDE, MAX_SIDE));
    }

    #[test]
    fn no_frame_is_black() {
        let mut out = vec![u32::MAX; 4];
        scale_into(&Frame::default(), &mut out, 2, 2);
        assert_eq!(out, [0; 4]);
    }
}
