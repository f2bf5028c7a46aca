//! Drawing the standard VGA's screen ([`crate::vga::Vga`]), lazily, only
//! when the front end asks: pixels as QEMU's `screendump` shows them, and
//! the text cells for a terminal display.
//!
//! References: QEMU `hw/display/vga.c` (`vga_draw_text`,
//! `vga_draw_graphic`, `update_palette16/256`, `vga_get_resolution`) and
//! `vga-helpers.h` (the line drawers); IBM VGA technical reference for the
//! attribute controller's palette path.
//!
//! Sizes as QEMU gives them: mode 3 is 720x400 (80 columns of 9 dots, 25
//! rows of 16 lines), mode 13h 640x400 (320 pixels drawn twice, each line
//! twice), mode 12h 640x480; VBE modes their XRES x YRES.
//!
//! # Not implemented
//!
//! - Underline, horizontal panning (AR13), the overscan border, the
//!   screen-off bit of SR01, the PEL mask: QEMU draws none of them.
//! - The "CGA 160x100" height hack keeps QEMU's rule (CR06 == 100).

use anyx86_hw::VirtualTime;

use crate::vga::{
    mask16, vram_index, Vga, VBE_DISPI_INDEX_BPP, VBE_DISPI_INDEX_XRES, VBE_DISPI_INDEX_YRES,
    VGA_AR10_BLINK, VGA_AR10_LINE_GRAPHICS, VGA_AR10_P54S, VGA_AR_ENABLE_DISPLAY,
    VGA_ATC_COLOR_PAGE, VGA_ATC_MODE, VGA_ATC_PLANE_ENABLE, VGA_CRTC_CURSOR_END,
    VGA_CRTC_CURSOR_HI, VGA_CRTC_CURSOR_LO, VGA_CRTC_CURSOR_START, VGA_CRTC_H_DISP,
    VGA_CRTC_LINE_COMPARE, VGA_CRTC_MAX_SCAN, VGA_CRTC_MODE, VGA_CRTC_OFFSET, VGA_CRTC_OVERFLOW,
    VGA_CRTC_START_HI, VGA_CRTC_START_LO, VGA_CRTC_V_DISP_END, VGA_CRTC_V_TOTAL, VGA_GFX_MISC,
    VGA_GFX_MODE, VGA_GR06_GRAPHICS_MODE, VGA_SEQ_CHARACTER_MAP, VGA_SEQ_CLOCK_MODE,
    VGA_SR01_CHAR_CLK_8DOTS, VGA_SR01_DOT_CLOCK_DIV2, VRAM_SIZE,
};

/// Half-period of the text cursor: 16 frames at 60 Hz per state (QEMU's
/// `VGA_TEXT_CURSOR_PERIOD_MS / 2`).
pub const CURSOR_HALF_PERIOD_NS: u64 = 1_000_000_000 * 16 / 60;
/// Half-period of attribute blink: 32 frames at 60 Hz per state.
pub const BLINK_HALF_PERIOD_NS: u64 = 2 * CURSOR_HALF_PERIOD_NS;
/// QEMU's largest text screen (`CH_ATTR_SIZE`); larger draws nothing.
pub const MAX_TEXT_CELLS: usize = 160 * 100;
/// Largest frame drawn: a 4-bpp VBE mode filling VRAM; larger draws nothing.
pub const MAX_FRAME_PIXELS: usize = 2 * VRAM_SIZE;

/// A drawn screen: `width * height` pixels, 0x00RRGGBB, row by row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frame {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// The pixels.
    pub pixels: Vec<u32>,
}

impl Frame {
    fn new(width: usize, height: usize) -> Self {
        if width.saturating_mul(height) > MAX_FRAME_PIXELS {
            return Self::default();
        }
        Self {
            width,
            height,
            pixels: vec![0; width * height],
        }
    }

    /// The pixel at (`x`, `y`), `None` outside.
    pub fn pixel(&self, x: usize, y: usize) -> Option<u32> {
        (x < self.width).then(|| self.pixels.get(y * self.width + x).copied())?
    }

    fn put(&mut self, x: usize, y: usize, c: u32) {
        if x < self.width {
            if let Some(p) = self.pixels.get_mut(y * self.width + x) {
                *p = c;
            }
        }
    }
}

/// Time-dependent choices for drawing text modes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Draw the text cursor (when the CRTC has it on): the cursor's
    /// visible phase.
    pub cursor: bool,
    /// Attribute blink: `None` draws as QEMU (attribute bit 7 always
    /// selects a bright background); `Some(visible)` honours AR10's blink
    /// enable as hardware does (dark background, blinking characters
    /// hidden when `visible` is false).
    pub blink: Option<bool>,
}

impl RenderOptions {
    /// The phases hardware would show at virtual time `now`.
    pub fn at(now: VirtualTime) -> Self {
        Self {
            cursor: (now / CURSOR_HALF_PERIOD_NS) % 2 == 0,
            blink: Some((now / BLINK_HALF_PERIOD_NS) % 2 == 0),
        }
    }
}

/// The text cursor: cell and scan lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextCursor {
    /// Column.
    pub col: usize,
    /// Row.
    pub row: usize,
    /// First scan line (CR0A bits 0-4).
    pub start: u8,
    /// Last scan line (CR0B bits 0-4).
    pub end: u8,
}

/// The text screen as cells, for a terminal display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextScreen {
    /// Columns.
    pub cols: usize,
    /// Rows.
    pub rows: usize,
    /// `cols * rows` cells of (character, attribute), row by row.
    pub cells: Vec<(u8, u8)>,
    /// The cursor, when on and on the screen.
    pub cursor: Option<TextCursor>,
    /// AR10 blink enable: attribute bit 7 blinks instead of brightening.
    pub blink_enabled: bool,
    /// The 16 attribute colours as 0x00RRGGBB.
    pub palette: [u32; 16],
}

/// QEMU's 6-bit to 8-bit DAC expansion: the low bit is replicated into
/// the two new low bits.
pub fn c6_to_8(v: u8) -> u8 {
    let v = v & 0x3F;
    let b = v & 1;
    (v << 2) | (b << 1) | b
}

fn rgb(r: u8, g: u8, b: u8) -> u32 {
    u32::from(r) << 16 | u32::from(g) << 8 | u32::from(b)
}

/// Text geometry: columns, rows, character width and height.
struct TextGeometry {
    cols: usize,
    rows: usize,
    cw: usize,
    ch: usize,
}

impl Vga {
    fn cr(&self, i: usize) -> u8 {
        self.s.cr.get(i).copied().unwrap_or(0)
    }

    fn vram(&self, addr: usize) -> u8 {
        self.s.vram[addr & (VRAM_SIZE - 1)]
    }

    fn is_graphics(&self) -> bool {
        self.s.gr[VGA_GFX_MISC] & VGA_GR06_GRAPHICS_MODE != 0
    }

    fn blanked(&self) -> bool {
        self.s.ar_index & VGA_AR_ENABLE_DISPLAY == 0
    }

    /// Vertical display end + 1 (10 bits with CR07 bits 1 and 6).
    fn display_lines(&self) -> usize {
        let ov = self.cr(VGA_CRTC_OVERFLOW);
        usize::from(self.cr(VGA_CRTC_V_DISP_END))
            | usize::from(ov & 0x02) << 7
            | usize::from(ov & 0x40) << 3
    }

    /// (pitch in VRAM bytes, start in 4-byte units, line compare).
    fn offsets(&self) -> (usize, usize, usize) {
        if self.vbe_enabled() {
            let s = &self.s;
            return (s.vbe_line_offset as usize, s.vbe_start_addr as usize, 65535);
        }
        let start =
            usize::from(self.cr(VGA_CRTC_START_HI)) << 8 | usize::from(self.cr(VGA_CRTC_START_LO));
        let compare = usize::from(self.cr(VGA_CRTC_LINE_COMPARE))
            | usize::from(self.cr(VGA_CRTC_OVERFLOW) & 0x10) << 4
            | usize::from(self.cr(VGA_CRTC_MAX_SCAN) & 0x40) << 3;
        (usize::from(self.cr(VGA_CRTC_OFFSET)) << 3, start, compare)
    }

    fn text_geometry(&self) -> TextGeometry {
        let ch = usize::from(self.cr(VGA_CRTC_MAX_SCAN) & 0x1F) + 1;
        let clock = self.s.sr[VGA_SEQ_CLOCK_MODE];
        let cw = if clock & VGA_SR01_DOT_CLOCK_DIV2 != 0 {
            16
        } else if clock & VGA_SR01_CHAR_CLK_8DOTS != 0 {
            8
        } else {
            9
        };
        let rows = if self.cr(VGA_CRTC_V_TOTAL) == 100 {
            100
        } else {
            (self.display_lines() + 1) / ch
        };
        TextGeometry {
            cols: usize::from(self.cr(VGA_CRTC_H_DISP)) + 1,
            rows,
            cw,
            ch,
        }
    }

    /// The 16 attribute colours through the attribute palette, colour
    /// select and DAC (always 6-bit, as QEMU).
    fn palette16(&self) -> [u32; 16] {
        let ar = &self.s.ar;
        let mut out = [0; 16];
        for (i, c) in out.iter_mut().enumerate() {
            let v = if ar[VGA_ATC_MODE] & VGA_AR10_P54S != 0 {
                (ar[VGA_ATC_COLOR_PAGE] & 0xF) << 4 | (ar[i] & 0xF)
            } else {
                (ar[VGA_ATC_COLOR_PAGE] & 0xC) << 4 | (ar[i] & 0x3F)
            };
            *c = self.dac6(usize::from(v));
        }
        out
    }

    fn dac6(&self, i: usize) -> u32 {
        let p = &self.s.palette;
        rgb(
            c6_to_8(p[3 * i]),
            c6_to_8(p[3 * i + 1]),
            c6_to_8(p[3 * i + 2]),
        )
    }

    fn palette256(&self) -> Vec<u32> {
        let p = &self.s.palette;
        (0..256)
            .map(|i| {
                if self.s.dac_8bit {
                    rgb(p[3 * i], p[3 * i + 1], p[3 * i + 2])
                } else {
                    self.dac6(i)
                }
            })
            .collect()
    }

    /// The text screen, `None` in graphics modes or when larger than QEMU
    /// draws.
    pub fn text_screen(&self) -> Option<TextScreen> {
        if self.is_graphics() {
            return None;
        }
        let g = self.text_geometry();
        let mut cells = Vec::with_capacity(text_cells(&g)?);
        let mut cursor = None;
        self.for_each_text_cell(&g, |col, row, at, on_cursor| {
            cells.push((self.vram(at), self.vram(at + 1)));
            if on_cursor {
                cursor = self.cursor_shape().map(|(start, end)| TextCursor {
                    col,
                    row,
                    start,
                    end,
                });
            }
        });
        Some(TextScreen {
            cols: g.cols,
            rows: g.rows,
            cells,
            cursor,
            blink_enabled: self.s.ar[VGA_ATC_MODE] & VGA_AR10_BLINK != 0,
            palette: self.palette16(),
        })
    }

    /// VRAM byte address of the cursor cell.
    fn cursor_address(&self) -> usize {
        let loc = usize::from(self.cr(VGA_CRTC_CURSOR_HI)) << 8
            | usize::from(self.cr(VGA_CRTC_CURSOR_LO));
        (loc * 4) & (VRAM_SIZE - 1)
    }

    /// Cursor start and end lines, `None` when CR0A bit 5 turns it off.
    fn cursor_shape(&self) -> Option<(u8, u8)> {
        let start = self.cr(VGA_CRTC_CURSOR_START);
        (start & 0x20 == 0).then_some((start & 0x1F, self.cr(VGA_CRTC_CURSOR_END) & 0x1F))
    }

    /// Draws the screen as QEMU's `screendump` would (see the module doc),
    /// with the cursor and blink phases of `opts`.
    pub fn render(&self, opts: RenderOptions) -> Frame {
        if self.blanked() {
            let (w, h) = self.screen_size();
            return Frame::new(w, h);
        }
        if self.is_graphics() {
            self.draw_graphic()
        } else {
            self.draw_text(opts)
        }
    }

    /// The size the current mode draws at.
    fn screen_size(&self) -> (usize, usize) {
        if self.is_graphics() {
            let (w, h) = self.graphic_resolution();
            let shift = (self.s.gr[VGA_GFX_MODE] >> 5) & 3;
            let d2 = shift < 2 && self.s.sr[VGA_SEQ_CLOCK_MODE] & VGA_SR01_DOT_CLOCK_DIV2 != 0;
            (if d2 { w * 2 } else { w }, h)
        } else {
            let g = self.text_geometry();
            (g.cols * g.cw, g.rows * g.ch)
        }
    }

    fn graphic_resolution(&self) -> (usize, usize) {
        if self.vbe_enabled() {
            (
                usize::from(self.s.vbe_regs[usize::from(VBE_DISPI_INDEX_XRES)]),
                usize::from(self.s.vbe_regs[usize::from(VBE_DISPI_INDEX_YRES)]),
            )
        } else {
            (
                (usize::from(self.cr(VGA_CRTC_H_DISP)) + 1) * 8,
                self.display_lines() + 1,
            )
        }
    }

    fn draw_text(&self, opts: RenderOptions) -> Frame {
        let g = self.text_geometry();
        if text_cells(&g).is_none() {
            return Frame::default();
        }
        let mut frame = Frame::new(g.cols * g.cw, g.rows * g.ch);
        let palette = self.palette16();
        let map = self.s.sr[VGA_SEQ_CHARACTER_MAP];
        let fonts = [
            font_base(((map >> 4) & 1) | ((map << 1) & 6)),
            font_base(((map >> 5) & 1) | ((map >> 1) & 6)),
        ];
        self.for_each_text_cell(&g, |col, row, at, on_cursor| {
            let cell = Cell {
                x: col * g.cw,
                y: row * g.ch,
                ch: self.vram(at),
                attr: self.vram(at + 1),
            };
            let font = fonts[usize::from((cell.attr >> 3) & 1)];
            let cursor = opts.cursor && on_cursor;
            self.draw_cell(&mut frame, &g, &cell, font, &palette, opts.blink, cursor);
        });
        frame
    }

    /// Visits every cell of text screen `g` in display order with its
    /// column, row, VRAM byte address and whether the cursor address is
    /// on it. Rows start at the CRTC start address and step by the offset
    /// register; the line compare wraps them to address 0
    /// ([`next_text_row`]).
    fn for_each_text_cell(
        &self,
        g: &TextGeometry,
        mut visit: impl FnMut(usize, usize, usize, bool),
    ) {
        let (pitch, start, compare) = self.offsets();
        let cursor_addr = self.cursor_address();
        let mut offset = start * 4;
        let mut line = 0;
        for row in 0..g.rows {
            for col in 0..g.cols {
                let at = offset + col * 4;
                visit(col, row, at, at & (VRAM_SIZE - 1) == cursor_addr);
            }
            (offset, line) = next_text_row(offset, pitch, line, g.ch, compare);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn draw_cell(
        &self,
        frame: &mut Frame,
        g: &TextGeometry,
        cell: &Cell,
        font: usize,
        palette: &[u32; 16],
        blink: Option<bool>,
        cursor: bool,
    ) {
        let mut bg = palette[usize::from(cell.attr >> 4)];
        let mut fg = palette[usize::from(cell.attr & 0xF)];
        if let Some(visible) = blink {
            if self.s.ar[VGA_ATC_MODE] & VGA_AR10_BLINK != 0 {
                bg = palette[usize::from((cell.attr >> 4) & 7)];
                if cell.attr & 0x80 != 0 && !visible {
                    fg = bg;
                }
            }
        }
        let dup9 = (0xB0..=0xDF).contains(&cell.ch)
            && self.s.ar[VGA_ATC_MODE] & VGA_AR10_LINE_GRAPHICS != 0;
        let glyph = font + 32 * 4 * usize::from(cell.ch);
        for y in 0..g.ch {
            let bits = self.vram(glyph + 4 * y);
            draw_glyph_row(frame, cell.x, cell.y + y, g.cw, bits, dup9, fg, bg);
        }
        if let (true, Some((start, end))) = (cursor, self.cursor_shape()) {
            let (start, end) = (usize::from(start), usize::from(end).min(g.ch - 1));
            if end >= start && start < g.ch {
                for y in start..=end {
                    draw_glyph_row(frame, cell.x, cell.y + y, g.cw, 0xFF, true, fg, bg);
                }
            }
        }
    }

    fn draw_graphic(&self) -> Frame {
        let (width, height) = self.graphic_resolution();
        let (w, h) = self.screen_size();
        let mut frame = Frame::new(w, h);
        if frame.pixels.is_empty() {
            return frame;
        }
        let s = &self.s;
        let shift = (s.gr[VGA_GFX_MODE] >> 5) & 3;
        let d2 = s.sr[VGA_SEQ_CLOCK_MODE] & VGA_SR01_DOT_CLOCK_DIV2 != 0;
        let max_scan = self.cr(VGA_CRTC_MAX_SCAN);
        let double_scan = usize::from(max_scan >> 7);
        let multi_scan = if shift != 1 {
            ((usize::from(max_scan & 0x1F) + 1) << double_scan) - 1
        } else {
            double_scan
        };
        let bpp = if self.vbe_enabled() {
            s.vbe_regs[usize::from(VBE_DISPI_INDEX_BPP)]
        } else {
            0
        };
        let drawer = match shift {
            0 => Drawer::Planar4 { d2 },
            1 => Drawer::Cga2 { d2 },
            _ => match bpp {
                8 => Drawer::Indexed8 { d2: false },
                15 => Drawer::Rgb15,
                16 => Drawer::Rgb16,
                24 => Drawer::Rgb24,
                32 => Drawer::Rgb32,
                _ => Drawer::Indexed8 { d2: true },
            },
        };
        let pal16 = self.palette16();
        let pal256 = self.palette256();
        let plane_mask = mask16(s.ar[VGA_ATC_PLANE_ENABLE] & 0xF);
        let ctx = LineCtx {
            vga: self,
            pal16: &pal16,
            pal256: &pal256,
            plane_mask,
            width,
        };
        let (pitch, start, compare) = self.offsets();
        let crtc_mode = self.cr(VGA_CRTC_MODE);
        let mut addr1 = start * 4;
        let mut y1 = 0usize;
        let mut multi_run = multi_scan;
        for y in 0..height {
            let addr = cga_address(addr1, y1, crtc_mode);
            ctx.draw_line(&mut frame, y, addr, drawer);
            if multi_run == 0 {
                let mask = usize::from((crtc_mode & 3) ^ 3);
                if y1 & mask == mask {
                    addr1 = addr1.wrapping_add(pitch);
                }
                y1 += 1;
                multi_run = multi_scan;
            } else {
                multi_run -= 1;
            }
            if y == compare {
                addr1 = 0;
            }
        }
        frame
    }
}

/// One text cell to draw.
struct Cell {
    x: usize,
    y: usize,
    ch: u8,
    attr: u8,
}

/// The VRAM byte of the first font row of character 0 in font bank `bank`
/// (0-7), plane 2.
fn font_base(bank: u8) -> usize {
    usize::from(bank) * 8192 * 4 + 2
}

/// The number of cells of text screen `g`, `None` when it has at most one
/// cell or more than QEMU draws.
fn text_cells(g: &TextGeometry) -> Option<usize> {
    let n = g.cols.checked_mul(g.rows)?;
    (n > 1 && n <= MAX_TEXT_CELLS).then_some(n)
}

/// Advances a text row: next row's VRAM offset and scan line, wrapping to
/// 0 where the line compare falls inside the row.
fn next_text_row(
    offset: usize,
    pitch: usize,
    line: usize,
    ch: usize,
    compare: usize,
) -> (usize, usize) {
    let next = line + ch;
    if line < compare && next >= compare {
        (0, next)
    } else {
        (offset.wrapping_add(pitch), next)
    }
}

/// CGA-compatible addressing: CR17 bits 0 and 1 substitute scan line bits
/// for address bits (QEMU works on VRAM byte addresses).
fn cga_address(addr: usize, y1: usize, crtc_mode: u8) -> usize {
    let mut addr = addr;
    if crtc_mode & 1 == 0 {
        let shift = 14 + usize::from((crtc_mode >> 6) & 1);
        addr = (addr & !(1 << shift)) | ((y1 & 1) << shift);
    }
    if crtc_mode & 2 == 0 {
        addr = (addr & !0x8000) | ((y1 & 2) << 14);
    }
    addr
}

/// Draws one glyph row: 8 bits, a 9th column (copy of bit 0 when `dup9`,
/// else background) or every bit twice for 16-dot cells.
#[allow(clippy::too_many_arguments)]
fn draw_glyph_row(
    frame: &mut Frame,
    x: usize,
    y: usize,
    cw: usize,
    bits: u8,
    dup9: bool,
    fg: u32,
    bg: u32,
) {
    let colour = |on: bool| if on { fg } else { bg };
    for i in 0..8 {
        let c = colour(bits & (0x80 >> i) != 0);
        if cw == 16 {
            frame.put(x + 2 * i, y, c);
            frame.put(x + 2 * i + 1, y, c);
        } else {
            frame.put(x + i, y, c);
        }
    }
    if cw == 9 {
        frame.put(x + 8, y, colour(dup9 && bits & 1 != 0));
    }
}

/// How a graphics line is stored.
#[derive(Debug, Clone, Copy)]
enum Drawer {
    /// 16-colour planar, 8 pixels per 4 VRAM bytes.
    Planar4 { d2: bool },
    /// CGA 4-colour interleaved.
    Cga2 { d2: bool },
    /// 256-colour chain-4 (`d2`: each pixel twice, as mode 13h).
    Indexed8 { d2: bool },
    /// VBE 5-5-5.
    Rgb15,
    /// VBE 5-6-5.
    Rgb16,
    /// VBE B, G, R bytes.
    Rgb24,
    /// VBE B, G, R, X bytes.
    Rgb32,
}

/// What every line drawer needs.
struct LineCtx<'a> {
    vga: &'a Vga,
    pal16: &'a [u32; 16],
    pal256: &'a [u32],
    plane_mask: u32,
    width: usize,
}

impl LineCtx<'_> {
    fn byte(&self, addr: usize) -> u8 {
        self.vga.s.vram[vram_index(addr as u32)]
    }

    fn dword(&self, addr: usize) -> u32 {
        u32::from_le_bytes([
            self.byte(addr),
            self.byte(addr.wrapping_add(1)),
            self.byte(addr.wrapping_add(2)),
            self.byte(addr.wrapping_add(3)),
        ])
    }

    fn draw_line(&self, f: &mut Frame, y: usize, addr: usize, drawer: Drawer) {
        match drawer {
            Drawer::Planar4 { d2 } => self.planar4(f, y, addr, d2),
            Drawer::Cga2 { d2 } => self.cga2(f, y, addr, d2),
            Drawer::Indexed8 { d2: true } => {
                for x in 0..self.width / 2 {
                    let c = self.pal256[usize::from(self.byte(addr + x))];
                    f.put(2 * x, y, c);
                    f.put(2 * x + 1, y, c);
                }
            }
            Drawer::Indexed8 { d2: false } => {
                for x in 0..self.width {
                    f.put(x, y, self.pal256[usize::from(self.byte(addr + x))]);
                }
            }
            _ => self.direct(f, y, addr, drawer),
        }
    }

    fn put_scaled(f: &mut Frame, x: usize, y: usize, d2: bool, c: u32) {
        if d2 {
            f.put(2 * x, y, c);
            f.put(2 * x + 1, y, c);
        } else {
            f.put(x, y, c);
        }
    }

    fn planar4(&self, f: &mut Frame, y: usize, addr: usize, d2: bool) {
        for group in 0..self.width / 8 {
            let data = self.dword(addr + 4 * group) & self.plane_mask;
            for i in 0..8 {
                let bit = 7 - i;
                let v = (0..4).fold(0, |v, p| v | ((data >> (8 * p + bit)) & 1) << p);
                Self::put_scaled(f, group * 8 + i, y, d2, self.pal16[v as usize]);
            }
        }
    }

    fn cga2(&self, f: &mut Frame, y: usize, addr: usize, d2: bool) {
        for group in 0..self.width / 8 {
            let data = self.dword(addr + 4 * group) & self.plane_mask;
            let plane = |p: u32| (data >> (8 * p)) as u8;
            for half in 0..2u32 {
                let (lo, hi) = (plane(half), plane(half + 2));
                for i in 0..4 {
                    let sh = 6 - 2 * i;
                    let v = ((lo >> sh) & 3) | ((hi >> sh) & 3) << 2;
                    let x = group * 8 + half as usize * 4 + i;
                    Self::put_scaled(f, x, y, d2, self.pal16[usize::from(v)]);
                }
            }
        }
    }

    fn direct(&self, f: &mut Frame, y: usize, addr: usize, drawer: Drawer) {
        for x in 0..self.width {
            let c = match drawer {
                Drawer::Rgb15 => {
                    let v = u32::from(self.byte(addr + 2 * x))
                        | u32::from(self.byte(addr + 2 * x + 1)) << 8;
                    ((v >> 7) & 0xF8) << 16 | ((v >> 2) & 0xF8) << 8 | ((v << 3) & 0xF8)
                }
                Drawer::Rgb16 => {
                    let v = u32::from(self.byte(addr + 2 * x))
                        | u32::from(self.byte(addr + 2 * x + 1)) << 8;
                    ((v >> 8) & 0xF8) << 16 | ((v >> 3) & 0xFC) << 8 | ((v << 3) & 0xF8)
                }
                Drawer::Rgb24 => {
                    let a = addr + 3 * x;
                    rgb(self.byte(a + 2), self.byte(a + 1), self.byte(a))
                }
                _ => self.dword(addr + 4 * x) & 0x00FF_FFFF,
            };
            f.put(x, y, c);
        }
    }
}
