//! The guest's screen drawn in the user's terminal (`--display terminal`).
//!
//! Text modes are drawn cell for cell: CP437 mapped to Unicode, the 16
//! attribute colours as true colour from the VGA's palette, the hardware
//! cursor as the terminal's cursor. Only cells that changed since the last
//! frame are written. Graphics modes are scaled into the terminal with
//! half-block characters (`▀`, foreground = upper pixel, background =
//! lower pixel), or replaced by a one-line notice when the terminal is too
//! small to show anything useful.

use super::cp437;
use crossterm::style::{Color, Print, SetBackgroundColor, SetForegroundColor};
use crossterm::{cursor, queue};
use std::io::{self, Write};

/// A text screen as the VGA shows it.
pub struct TextView<'a> {
    /// Columns.
    pub cols: usize,
    /// Rows.
    pub rows: usize,
    /// `cols * rows` cells of (CP437 character, attribute).
    pub cells: &'a [(u8, u8)],
    /// The cursor's (row, column), when it is shown.
    pub cursor: Option<(usize, usize)>,
    /// RGB (0x00RRGGBB) of the 16 attribute colours.
    pub palette: [u32; 16],
    /// Attribute bit 7 blinks (shown as a dark background) rather than
    /// brightening the background.
    pub blink: bool,
}

/// A graphics frame: `width * height` pixels, 0x00RRGGBB.
pub struct PixelView<'a> {
    /// Pixels per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// The pixels.
    pub pixels: &'a [u32],
}

/// What is on the terminal now, to draw only the difference.
#[derive(Default)]
pub struct TerminalScreen {
    /// Terminal size the last frame was drawn for.
    size: (usize, usize),
    /// Last drawn cells: (character, foreground, background).
    drawn: Vec<(char, u32, u32)>,
}

fn rgb(c: u32) -> Color {
    Color::Rgb {
        r: (c >> 16) as u8,
        g: (c >> 8) as u8,
        b: c as u8,
    }
}

impl TerminalScreen {
    /// Draws a frame of `want` (character, fg, bg) cells, `cols` wide,
    /// writing only the cells that differ from the last frame.
    fn draw_cells(
        &mut self,
        out: &mut impl Write,
        term: (usize, usize),
        cols: usize,
        want: &[(char, u32, u32)],
    ) -> io::Result<()> {
        if self.size != term || self.drawn.len() != want.len() {
            self.size = term;
            self.drawn = vec![('\0', u32::MAX, u32::MAX); want.len()];
            queue!(
                out,
                SetBackgroundColor(Color::Black),
                crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
            )?;
        }
        let (mut fg, mut bg) = (u32::MAX, u32::MAX);
        let mut at = None;
        for (i, &cell) in want.iter().enumerate() {
            if self.drawn[i] == cell {
                continue;
            }
            self.drawn[i] = cell;
            let (row, col) = (i / cols, i % cols);
            if at != Some((row, col)) {
                queue!(out, cursor::MoveTo(col as u16, row as u16))?;
            }
            if cell.1 != fg {
                fg = cell.1;
                queue!(out, SetForegroundColor(rgb(fg)))?;
            }
            if cell.2 != bg {
                bg = cell.2;
                queue!(out, SetBackgroundColor(rgb(bg)))?;
            }
            queue!(out, Print(cell.0))?;
            at = Some((row, col + 1));
        }
        Ok(())
    }

    /// Draws a text screen into a terminal of `term` (columns, rows):
    /// cropped to the terminal, blink shown as a bright background off.
    pub fn draw_text(
        &mut self,
        out: &mut impl Write,
        term: (usize, usize),
        v: &TextView,
    ) -> io::Result<()> {
        let cols = v.cols.min(term.0);
        let rows = v.rows.min(term.1);
        let mut want = Vec::with_capacity(cols * rows);
        for r in 0..rows {
            for c in 0..cols {
                let (ch, attr) = v.cells.get(r * v.cols + c).copied().unwrap_or((b' ', 7));
                let fg = v.palette[usize::from(attr & 0x0F)];
                let bg_mask = if v.blink { 0x07 } else { 0x0F };
                let bg = v.palette[usize::from((attr >> 4) & bg_mask)];
                want.push((cp437::to_char(ch), fg, bg));
            }
        }
        self.draw_cells(out, term, cols, &want)?;
        match v.cursor {
            Some((r, c)) if r < rows && c < cols => {
                queue!(out, cursor::MoveTo(c as u16, r as u16), cursor::Show)?
            }
            _ => queue!(out, cursor::Hide)?,
        }
        out.flush()
    }

    /// Draws a graphics frame scaled into the terminal with half blocks,
    /// keeping the aspect ratio (a terminal cell is about twice as tall as
    /// wide, so one cell shows two pixel rows). Returns false (drawing a
    /// notice instead) when the terminal is smaller than 20x5.
    pub fn draw_pixels(
        &mut self,
        out: &mut impl Write,
        term: (usize, usize),
        v: &PixelView,
    ) -> io::Result<bool> {
        if term.0 < 20 || term.1 < 5 || v.width == 0 || v.height == 0 {
            let notice = format!(
                "{}x{} graphics: the terminal is too small",
                v.width, v.height
            );
            let want: Vec<_> = notice
                .chars()
                .chain(std::iter::repeat(' '))
                .take(term.0.max(1))
                .map(|c| (c, 0x00AA_AAAA, 0))
                .collect();
            let cols = want.len();
            self.draw_cells(out, term, cols, &want)?;
            out.flush()?;
            return Ok(false);
        }
        // Pixels per cell column: the smallest whole-or-fractional scale
        // that fits both dimensions.
        let sx = v.width as f64 / term.0 as f64;
        let sy = v.height as f64 / (2 * term.1) as f64;
        let s = sx.max(sy).max(1.0 / 8.0);
        let cols = ((v.width as f64 / s) as usize).clamp(1, term.0);
        let rows = ((v.height as f64 / (2.0 * s)) as usize).clamp(1, term.1);
        let px = |x: usize, y: usize| -> u32 {
            let xi = ((x as f64 * s) as usize).min(v.width - 1);
            let yi = ((y as f64 * s) as usize).min(v.height - 1);
            v.pixels.get(yi * v.width + xi).copied().unwrap_or(0)
        };
        let mut want = Vec::with_capacity(cols * rows);
        for r in 0..rows {
            for c in 0..cols {
                want.push(('\u{2580}', px(c, 2 * r), px(c, 2 * r + 1)));
            }
        }
        self.draw_cells(out, term, cols, &want)?;
        queue!(out, cursor::Hide)?;
        out.flush()?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CGA: [u32; 16] = [
        0x000000, 0x0000AA, 0x00AA00, 0x00AAAA, 0xAA0000, 0xAA00AA, 0xAA5500, 0xAAAAAA, 0x555555,
        0x5555FF, 0x55FF55, 0x55FFFF, 0xFF5555, 0xFF55FF, 0xFFFF55, 0xFFFFFF,
    ];

    fn text(cells: &[(u8, u8)], cols: usize, rows: usize) -> TextView<'_> {
        TextView {
            cols,
            rows,
            cells,
            cursor: Some((0, 1)),
            palette: CGA,
            blink: true,
        }
    }

    #[test]
    fn text_is_drawn_in_cp437_with_colours_and_then_only_changes() {
        let mut s = TerminalScreen::default();
        let mut cells = vec![(b' ', 0x07); 4];
        cells[0] = (0xC9, 0x1F); // ╔, white on blue
        let mut out = Vec::new();
        s.draw_text(&mut out, (80, 25), &text(&cells, 2, 2))
            .unwrap();
        let first = String::from_utf8_lossy(&out).to_string();
        assert!(first.contains('\u{2554}'), "{first:?}");
        assert!(
            first.contains("38;2;255;255;255"),
            "white foreground: {first:?}"
        );
        assert!(first.contains("48;2;0;0;170"), "blue background: {first:?}");
        // The same screen again: only the cursor moves, no characters.
        out.clear();
        s.draw_text(&mut out, (80, 25), &text(&cells, 2, 2))
            .unwrap();
        let again = String::from_utf8_lossy(&out).to_string();
        assert!(!again.contains('\u{2554}'), "{again:?}");
        // One cell changes: just that one is written.
        cells[3] = (b'A', 0x07);
        out.clear();
        s.draw_text(&mut out, (80, 25), &text(&cells, 2, 2))
            .unwrap();
        let third = String::from_utf8_lossy(&out).to_string();
        assert!(
            third.contains('A') && !third.contains('\u{2554}'),
            "{third:?}"
        );
    }

    #[test]
    fn graphics_become_half_blocks_or_a_notice() {
        let pixels = vec![0x00FF_0000u32; 320 * 200];
        let v = PixelView {
            width: 320,
            height: 200,
            pixels: &pixels,
        };
        let mut s = TerminalScreen::default();
        let mut out = Vec::new();
        assert!(s.draw_pixels(&mut out, (80, 25), &v).unwrap());
        let drawn = String::from_utf8_lossy(&out).to_string();
        assert!(drawn.contains('\u{2580}') && drawn.contains("38;2;255;0;0"));
        out.clear();
        assert!(!s.draw_pixels(&mut out, (60, 3), &v).unwrap());
        assert!(String::from_utf8_lossy(&out).contains("too small"));
    }
}
