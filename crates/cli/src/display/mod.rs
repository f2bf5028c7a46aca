//! Showing the guest's screen: `--display terminal` draws the VGA in the
//! user's terminal (text modes cell for cell, graphics as half blocks)
//! and turns the keys typed there into PS/2 key strokes; `--display
//! window` shows it in a native window ([`window`]) with the host's
//! keyboard and mouse as the PS/2 ones.
//!
//! The screen is drawn from the run loop's host hook at most 30 times a
//! second and only when the VGA's `generation` moved (or the terminal was
//! resized), so a guest that does not touch the screen costs nothing.

pub mod cp437;
pub mod keys;
pub mod terminal;
pub mod window;
pub mod window_keys;

use anyx86_machine::Board;
use std::io::Write;
use std::time::{Duration, Instant};
use terminal::{PixelView, TerminalScreen, TextView};

/// Most frames per second drawn.
const FRAME: Duration = Duration::from_millis(33);

/// The terminal display, for as long as it lives (the alternate screen is
/// left on drop).
pub struct TerminalDisplay {
    screen: TerminalScreen,
    drawn: Option<(u64, (usize, usize))>,
    last: Instant,
}

impl TerminalDisplay {
    /// Takes over the terminal (the alternate screen).
    pub fn new() -> Self {
        let mut out = std::io::stdout();
        let _ = crossterm::execute!(out, crossterm::terminal::EnterAlternateScreen);
        TerminalDisplay {
            screen: TerminalScreen::default(),
            drawn: None,
            last: Instant::now() - FRAME,
        }
    }

    /// Draws the screen if it changed and a frame's time has passed.
    pub fn refresh(&mut self, board: &Board) {
        if self.last.elapsed() < FRAME {
            return;
        }
        self.last = Instant::now();
        let Some(pc) = board.pc.as_deref() else {
            return;
        };
        let size = crossterm::terminal::size()
            .map(|(c, r)| (usize::from(c), usize::from(r)))
            .unwrap_or((80, 25));
        let key = (pc.vga.generation(), size);
        if self.drawn == Some(key) {
            return;
        }
        self.drawn = Some(key);
        let mut out = std::io::stdout().lock();
        let _ = match pc.vga.text_screen() {
            Some(t) => {
                let v = TextView {
                    cols: t.cols,
                    rows: t.rows,
                    cells: &t.cells,
                    cursor: t.cursor.map(|c| (c.row, c.col)),
                    palette: t.palette,
                    blink: t.blink_enabled,
                };
                self.screen.draw_text(&mut out, size, &v)
            }
            None => {
                let f = pc.vga.render(anyx86_devices::RenderOptions::default());
                let v = PixelView {
                    width: f.width,
                    height: f.height,
                    pixels: &f.pixels,
                };
                self.screen.draw_pixels(&mut out, size, &v).map(|_| ())
            }
        };
        let _ = out.flush();
    }
}

impl Drop for TerminalDisplay {
    fn drop(&mut self) {
        let mut out = std::io::stdout();
        let _ = crossterm::execute!(
            out,
            crossterm::style::ResetColor,
            crossterm::cursor::Show,
            crossterm::terminal::LeaveAlternateScreen
        );
    }
}
