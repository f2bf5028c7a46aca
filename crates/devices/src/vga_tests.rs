//! Tests of the standard VGA, driven through its registers as a VGA BIOS
//! or a driver would.

use super::*;
use crate::vga_render::{c6_to_8, RenderOptions};

fn out(v: &mut Vga, port: u16, val: u8) {
    v.io_write(port, 1, u32::from(val), 0);
}

fn inb(v: &mut Vga, port: u16) -> u8 {
    v.io_read(port, 1, 0) as u8
}

fn seq(v: &mut Vga, i: u8, val: u8) {
    out(v, VGA_SEQ_I, i);
    out(v, VGA_SEQ_D, val);
}

fn gfx(v: &mut Vga, i: u8, val: u8) {
    out(v, VGA_GFX_I, i);
    out(v, VGA_GFX_D, val);
}

fn crtc(v: &mut Vga, i: u8, val: u8) {
    out(v, VGA_CRT_IC, i);
    out(v, VGA_CRT_DC, val);
}

/// Writes attribute register `i`, leaving the display enabled (index bit 5).
fn attr(v: &mut Vga, i: u8, val: u8) {
    inb(v, VGA_IS1_RC);
    out(v, VGA_ATT_W, i | VGA_AR_ENABLE_DISPLAY);
    out(v, VGA_ATT_W, val);
}

fn dispi(v: &mut Vga, index: u16, val: u16) {
    v.io_write(VBE_DISPI_IOPORT_INDEX, 2, u32::from(index), 0);
    v.io_write(VBE_DISPI_IOPORT_DATA, 2, u32::from(val), 0);
}

fn dispi_get(v: &mut Vga, index: u16) -> u16 {
    v.io_write(VBE_DISPI_IOPORT_INDEX, 2, u32::from(index), 0);
    v.io_read(VBE_DISPI_IOPORT_DATA, 2, 0) as u16
}

fn dac(v: &mut Vga, i: u8, rgb: [u8; 3]) {
    out(v, VGA_PEL_IW, i);
    for c in rgb {
        out(v, VGA_PEL_D, c);
    }
}

/// Colour decode, so the CRTC answers at 0x3D4/5.
fn colour_vga() -> Vga {
    let mut v = Vga::new(Vec::new());
    out(&mut v, VGA_MIS_W, 0x67);
    v
}

/// Mode 12h-like planar memory access: no chain-4, no odd/even, A0000.
fn planar_vga() -> Vga {
    let mut v = colour_vga();
    seq(&mut v, 4, 0x06);
    seq(&mut v, 2, 0x0F);
    gfx(&mut v, 5, 0x00);
    gfx(&mut v, 6, 0x05);
    v
}

/// The four plane bytes at planar address `a` (QEMU's interleaved layout).
fn planes(v: &Vga, a: u64) -> [u8; 4] {
    v.lfb_read(4 * a, 4).to_le_bytes()
}

#[test]
fn pci_header_ids() {
    let v = Vga::new(Vec::new());
    assert_eq!(v.config_read(0x00, 4), 0x1111_1234);
    // Class 03/00/00, revision 2.
    assert_eq!(v.config_read(0x08, 4), 0x0300_0002);
    assert_eq!(v.config_read(0x2C, 4), 0x1100_1AF4);
}

#[test]
fn bar_sizing() {
    let mut v = Vga::new(Vec::new());
    v.config_write(0x10, 4, u32::MAX);
    // 16 MiB, prefetchable 32-bit memory.
    assert_eq!(v.config_read(0x10, 4), 0xFF00_0008);
    v.config_write(0x18, 4, u32::MAX);
    assert_eq!(v.config_read(0x18, 4), 0xFFFF_F000);
    assert_eq!(v.config_read(0x30, 4), 0, "no ROM, no ROM BAR");
}

#[test]
fn rom_bar_sizing_and_reads() {
    // SeaBIOS's vgabios-stdvga.bin is 39936 bytes: a 64 KiB ROM BAR.
    let mut rom = vec![0u8; 39936];
    rom[..3].copy_from_slice(&[0x55, 0xAA, 78]);
    let mut v = Vga::new(rom);
    v.config_write(0x30, 4, u32::MAX);
    assert_eq!(v.config_read(0x30, 4), 0xFFFF_0001);
    v.config_write(0x30, 4, 0xFEB0_0001);
    assert_eq!(v.rom_base(), None, "memory decode still off");
    v.config_write(0x04, 2, 0x0002);
    assert_eq!(v.rom_base(), Some(0xFEB0_0000));
    assert_eq!(v.rom_read(0, 4), 0x004E_AA55);
    assert_eq!(v.rom_read(0xFFFF, 1), 0, "padding up to the BAR size");
    assert_eq!(v.rom_read(0x10000, 1), 0xFF);
}

#[test]
fn lfb_base_follows_bar0() {
    let mut v = Vga::new(Vec::new());
    v.config_write(0x10, 4, 0xFD00_0000);
    assert_eq!(v.lfb_base(), None);
    v.config_write(0x04, 2, 0x0002);
    assert_eq!(v.lfb_base(), Some(0xFD00_0000));
}

#[test]
fn dispi_id_and_memory_size() {
    let mut v = Vga::new(Vec::new());
    assert_eq!(dispi_get(&mut v, VBE_DISPI_INDEX_ID), 0xB0C5);
    dispi(&mut v, VBE_DISPI_INDEX_ID, VBE_DISPI_ID0);
    assert_eq!(dispi_get(&mut v, VBE_DISPI_INDEX_ID), 0xB0C0);
    dispi(&mut v, VBE_DISPI_INDEX_ID, 0x1234);
    assert_eq!(
        dispi_get(&mut v, VBE_DISPI_INDEX_ID),
        0xB0C0,
        "bad IDs ignored"
    );
    // 16 MiB in 64 KiB units.
    assert_eq!(dispi_get(&mut v, VBE_DISPI_INDEX_VIDEO_MEMORY_64K), 256);
}

#[test]
fn getcaps_reads_maxima() {
    let mut v = Vga::new(Vec::new());
    dispi(&mut v, VBE_DISPI_INDEX_XRES, 640);
    dispi(&mut v, VBE_DISPI_INDEX_ENABLE, VBE_DISPI_GETCAPS);
    assert_eq!(dispi_get(&mut v, VBE_DISPI_INDEX_XRES), 16000);
    assert_eq!(dispi_get(&mut v, VBE_DISPI_INDEX_YRES), 12000);
    assert_eq!(dispi_get(&mut v, VBE_DISPI_INDEX_BPP), 32);
    dispi(&mut v, VBE_DISPI_INDEX_ENABLE, 0);
    assert_eq!(dispi_get(&mut v, VBE_DISPI_INDEX_XRES), 640);
}

fn vbe_mode(v: &mut Vga, x: u16, y: u16, bpp: u16) {
    dispi(v, VBE_DISPI_INDEX_XRES, x);
    dispi(v, VBE_DISPI_INDEX_YRES, y);
    dispi(v, VBE_DISPI_INDEX_BPP, bpp);
    dispi(
        v,
        VBE_DISPI_INDEX_ENABLE,
        VBE_DISPI_ENABLED | VBE_DISPI_LFB_ENABLED,
    );
    attr(v, 0x10, 0x01);
}

#[test]
fn vbe_1024x768x32_renders_lfb_pixels() {
    let mut v = colour_vga();
    vbe_mode(&mut v, 1024, 768, 32);
    assert_eq!(dispi_get(&mut v, VBE_DISPI_INDEX_VIRT_WIDTH), 1024);
    // Pixel (20, 10): 4 bytes per pixel, 4096 per line; B, G, R, X.
    v.lfb_write(10 * 4096 + 20 * 4, 4, 0xFF12_3456);
    let f = v.render(RenderOptions::default());
    assert_eq!((f.width, f.height), (1024, 768));
    assert_eq!(f.pixel(20, 10), Some(0x0012_3456));
    assert_eq!(f.pixel(21, 10), Some(0));
}

#[test]
fn vbe_16bpp_expands_565() {
    let mut v = colour_vga();
    vbe_mode(&mut v, 640, 480, 16);
    v.lfb_write(0, 2, 0xFFFF);
    // 5-6-5 shifted left, low bits zero (as QEMU).
    assert_eq!(
        v.render(RenderOptions::default()).pixel(0, 0),
        Some(0x00F8_FCF8)
    );
}

#[test]
fn vbe_enable_clamps_to_vram() {
    let mut v = colour_vga();
    vbe_mode(&mut v, 16000, 12000, 32);
    // 64000 bytes per line: 262 lines fit in 16 MiB.
    assert_eq!(dispi_get(&mut v, VBE_DISPI_INDEX_YRES), 262);
    assert_eq!(dispi_get(&mut v, VBE_DISPI_INDEX_VIRT_HEIGHT), 262);
}

#[test]
fn vbe_virtual_width_and_offsets_move_the_display() {
    let mut v = colour_vga();
    vbe_mode(&mut v, 640, 480, 8);
    dispi(&mut v, VBE_DISPI_INDEX_VIRT_WIDTH, 1024);
    dispi(&mut v, VBE_DISPI_INDEX_Y_OFFSET, 2);
    dac(&mut v, 1, [63, 63, 63]);
    // Virtual line 2 is displayed line 0.
    v.lfb_write(2 * 1024 + 4, 1, 1);
    let f = v.render(RenderOptions::default());
    assert_eq!(f.pixel(4, 0), Some(0x00FF_FFFF));
}

#[test]
fn banked_window_reaches_vram_above_64k() {
    let mut v = colour_vga();
    vbe_mode(&mut v, 640, 480, 8);
    dispi(&mut v, VBE_DISPI_INDEX_BANK, 1);
    v.mem_write(0x10, 1, 0xAB);
    assert_eq!(v.lfb_read(0x1_0010, 1), 0xAB);
    assert_eq!(v.mem_read(0x10, 1), 0xAB);
    assert_eq!(v.mem_read(0x1_0000, 1), 0xFF, "bank window is 64 KiB");
}

fn mode13(v: &mut Vga) {
    seq(v, 1, 0x01);
    seq(v, 2, 0x0F);
    seq(v, 4, 0x0E);
    gfx(v, 5, 0x40);
    gfx(v, 6, 0x05);
    for (i, val) in [
        (0x01, 0x4F),
        (0x07, 0x1F),
        (0x09, 0x41),
        (0x12, 0x8F),
        (0x13, 0x28),
    ] {
        crtc(v, i, val);
    }
    crtc(v, 0x17, 0xA3);
    attr(v, 0x10, 0x41);
}

#[test]
fn mode13_chain4_pixels_are_doubled() {
    let mut v = colour_vga();
    mode13(&mut v);
    dac(&mut v, 4, [63, 0, 0]);
    // Pixel (1, 1) of 320x200.
    v.mem_write(321, 1, 4);
    assert_eq!(v.lfb_read(321, 1), 4, "chain-4 bytes are linear in VRAM");
    let f = v.render(RenderOptions::default());
    assert_eq!((f.width, f.height), (640, 400));
    for (x, y) in [(2, 2), (3, 2), (2, 3), (3, 3)] {
        assert_eq!(f.pixel(x, y), Some(0x00FF_0000), "({x}, {y})");
    }
    assert_eq!(f.pixel(1, 1), Some(0));
}

#[test]
fn write_mode0_set_reset() {
    let mut v = planar_vga();
    gfx(&mut v, 1, 0x0F); // set/reset on every plane
    gfx(&mut v, 0, 0x05); // planes 0 and 2 set
    gfx(&mut v, 8, 0xFF);
    v.mem_write(0, 1, 0x12);
    assert_eq!(planes(&v, 0), [0xFF, 0x00, 0xFF, 0x00]);
}

#[test]
fn write_mode0_bit_mask_keeps_latched_bits() {
    let mut v = planar_vga();
    gfx(&mut v, 8, 0xFF);
    v.mem_write(0, 1, 0xFF);
    v.mem_read(0, 1); // load the latches
    gfx(&mut v, 8, 0x0F);
    v.mem_write(0, 1, 0x00);
    assert_eq!(planes(&v, 0), [0xF0; 4]);
}

#[test]
fn write_mode0_rotate_and_xor() {
    let mut v = planar_vga();
    gfx(&mut v, 8, 0xFF);
    v.mem_write(0, 1, 0x0F);
    v.mem_read(0, 1);
    gfx(&mut v, 3, (3 << 3) | 4); // XOR with the latches, rotate right 4
    v.mem_write(0, 1, 0xFF);
    assert_eq!(planes(&v, 0), [0xF0; 4]);
}

#[test]
fn write_mode1_copies_latches() {
    let mut v = planar_vga();
    v.lfb_write(0, 4, 0x1234_5678);
    v.mem_read(0, 1);
    gfx(&mut v, 5, 0x01);
    v.mem_write(1, 1, 0);
    assert_eq!(planes(&v, 1), [0x78, 0x56, 0x34, 0x12]);
}

#[test]
fn write_mode2_colour_with_bit_mask() {
    let mut v = planar_vga();
    gfx(&mut v, 5, 0x02);
    gfx(&mut v, 8, 0x80);
    v.mem_write(0, 1, 0x0A); // colour 10: planes 1 and 3
    assert_eq!(planes(&v, 0), [0x00, 0x80, 0x00, 0x80]);
}

#[test]
fn write_mode3_masks_set_reset_with_data() {
    let mut v = planar_vga();
    gfx(&mut v, 5, 0x03);
    gfx(&mut v, 0, 0x03);
    gfx(&mut v, 8, 0xF0);
    v.mem_write(0, 1, 0x81);
    // Bit mask 0xF0 & data 0x81 = 0x80, colour 3.
    assert_eq!(planes(&v, 0), [0x80, 0x80, 0x00, 0x00]);
}

#[test]
fn map_mask_limits_planes() {
    let mut v = planar_vga();
    gfx(&mut v, 8, 0xFF);
    seq(&mut v, 2, 0x04);
    v.mem_write(0, 1, 0x5A);
    assert_eq!(planes(&v, 0), [0, 0, 0x5A, 0]);
}

#[test]
fn read_mode0_selects_plane() {
    let mut v = planar_vga();
    v.lfb_write(0, 4, 0x4433_2211);
    gfx(&mut v, 4, 2);
    assert_eq!(v.mem_read(0, 1), 0x33);
}

#[test]
fn read_mode1_colour_compare() {
    let mut v = planar_vga();
    v.lfb_write(0, 4, 0x00AA_CCF0);
    gfx(&mut v, 5, 0x08);
    gfx(&mut v, 2, 0x07); // colour 7: planes 0-2 set, 3 clear
    gfx(&mut v, 7, 0x0F);
    assert_eq!(v.mem_read(0, 1), 0x80);
    gfx(&mut v, 7, 0x00); // every plane "don't care"
    assert_eq!(v.mem_read(0, 1), 0xFF);
}

#[test]
fn odd_even_text_window_interleaves_planes() {
    let mut v = colour_vga();
    gfx(&mut v, 5, 0x10);
    gfx(&mut v, 6, 0x0E);
    seq(&mut v, 2, 0x03);
    v.mem_write(0x18000, 2, 0x1F41); // 'A' on blue at B800:0000
    assert_eq!(planes(&v, 0), [0x41, 0x1F, 0, 0]);
    assert_eq!(v.mem_read(0x18001, 1), 0x1F);
    assert_eq!(v.mem_read(0x0, 1), 0xFF, "A0000 not mapped with map 3");
}

#[test]
fn attribute_flip_flop() {
    let mut v = colour_vga();
    inb(&mut v, VGA_IS1_RC);
    out(&mut v, VGA_ATT_W, 0x30); // index 0x10, display on
    assert_eq!(inb(&mut v, VGA_ATT_W), 0, "data phase reads 0");
    out(&mut v, VGA_ATT_W, 0x0C);
    assert_eq!(inb(&mut v, VGA_ATT_W), 0x30, "index phase reads the index");
    assert_eq!(inb(&mut v, VGA_ATT_R), 0x0C);
    out(&mut v, VGA_ATT_W, 0x21); // index 1: flip-flop now at data
    inb(&mut v, VGA_IS1_RC); // reset to index
    out(&mut v, VGA_ATT_W, 0x22);
    assert_eq!(inb(&mut v, VGA_ATT_W), 0, "0x22 went in as an index");
    out(&mut v, VGA_ATT_W, 0x3F);
    inb(&mut v, VGA_IS1_RC);
    out(&mut v, VGA_ATT_W, 0x22);
    assert_eq!(inb(&mut v, VGA_ATT_R), 0x3F);
}

#[test]
fn dac_read_write_sequencing() {
    let mut v = colour_vga();
    dac(&mut v, 5, [10, 20, 30]);
    assert_eq!(inb(&mut v, VGA_PEL_IW), 6, "write index advanced");
    assert_eq!(inb(&mut v, VGA_PEL_IR), 0, "DAC state after a write index");
    out(&mut v, VGA_PEL_IR, 5);
    assert_eq!(inb(&mut v, VGA_PEL_IR), 3);
    let got: Vec<u8> = (0..3).map(|_| inb(&mut v, VGA_PEL_D)).collect();
    assert_eq!(got, [10, 20, 30]);
    // The read index advanced to entry 6 (still black).
    assert_eq!(inb(&mut v, VGA_PEL_D), 0);
}

#[test]
fn dac_partial_write_does_not_commit() {
    let mut v = colour_vga();
    out(&mut v, VGA_PEL_IW, 1);
    out(&mut v, VGA_PEL_D, 63);
    out(&mut v, VGA_PEL_D, 63);
    out(&mut v, VGA_PEL_IR, 1);
    assert_eq!(inb(&mut v, VGA_PEL_D), 0);
}

#[test]
fn six_bit_colours_expand_as_qemu() {
    assert_eq!(c6_to_8(0x3F), 0xFF);
    assert_eq!(c6_to_8(0x2A), 0xA8);
    assert_eq!(c6_to_8(0x15), 0x57);
    assert_eq!(c6_to_8(0x00), 0x00);
}

#[test]
fn crtc_protect_bit() {
    let mut v = colour_vga();
    crtc(&mut v, 0x01, 0x4F);
    crtc(&mut v, 0x11, 0x80);
    crtc(&mut v, 0x01, 0x27);
    crtc(&mut v, 0x07, 0xFF);
    out(&mut v, VGA_CRT_IC, 0x01);
    assert_eq!(inb(&mut v, VGA_CRT_DC), 0x4F);
    out(&mut v, VGA_CRT_IC, 0x07);
    assert_eq!(
        inb(&mut v, VGA_CRT_DC),
        0x10,
        "line compare bit 8 stays writable"
    );
}

#[test]
fn io_address_select_hides_the_other_crtc() {
    let mut v = Vga::new(Vec::new());
    out(&mut v, VGA_CRT_IM, 0x0E);
    assert_eq!(inb(&mut v, VGA_CRT_IM), 0x0E, "mono decode at power-on");
    assert_eq!(inb(&mut v, VGA_CRT_IC), 0xFF);
    out(&mut v, VGA_MIS_W, 0x67);
    assert_eq!(inb(&mut v, VGA_MIS_R), 0x67);
    assert_eq!(inb(&mut v, VGA_CRT_IM), 0xFF);
}

/// An 8x16 font where every glyph's rows are all 0x01 (only the 8th dot
/// lit), so the 9th column shows whether it is duplicated.
fn right_column_font() -> [u8; 4096] {
    [0x01; 4096]
}

#[test]
fn text_mode_3_renders_720x400_with_line_graphics() {
    let mut v = colour_vga();
    v.set_text_mode_3(&right_column_font());
    // Cells 0 and 1: 'A' and box-drawing 0xC4, grey on black.
    v.mem_write(0x18000, 4, 0x07C4_0741);
    let f = v.render(RenderOptions::default());
    assert_eq!((f.width, f.height), (720, 400));
    let grey = 0x00A8_A8A8;
    assert_eq!(f.pixel(7, 0), Some(grey));
    assert_eq!(f.pixel(8, 0), Some(0), "9th dot blank for letters");
    assert_eq!(f.pixel(9 + 7, 5), Some(grey));
    assert_eq!(f.pixel(9 + 8, 5), Some(grey), "9th dot repeats for 0xC4");
}

#[test]
fn text_cursor_drawn_only_when_asked() {
    let mut v = colour_vga();
    v.set_text_mode_3(&[0; 4096]);
    // Cursor at cell 1, lines 13-14 (mode 3 default shape).
    crtc(&mut v, 0x0F, 1);
    let on = v.render(RenderOptions {
        cursor: true,
        blink: None,
    });
    assert_eq!(on.pixel(9, 13), Some(0x00A8_A8A8));
    assert_eq!(on.pixel(9, 12), Some(0));
    let off = v.render(RenderOptions::default());
    assert_eq!(off.pixel(9, 13), Some(0));
}

#[test]
fn text_blink_hides_blinking_characters_in_the_off_phase() {
    let mut v = colour_vga();
    v.set_text_mode_3(&[0xFF; 4096]);
    v.mem_write(0x18000, 2, 0x8F41); // blinking bright white 'A'
    let visible = v.render(RenderOptions {
        cursor: false,
        blink: Some(true),
    });
    assert_eq!(visible.pixel(0, 0), Some(0x00FF_FFFF));
    let hidden = v.render(RenderOptions {
        cursor: false,
        blink: Some(false),
    });
    assert_eq!(hidden.pixel(0, 0), Some(0));
    // As QEMU: bit 7 is a bright (dark grey) background, no blinking.
    let qemu = v.render(RenderOptions::default());
    assert_eq!(qemu.pixel(0, 0), Some(0x00FF_FFFF));
}

#[test]
fn text_screen_reports_cells_and_cursor() {
    let mut v = colour_vga();
    v.set_text_mode_3(&[0; 4096]);
    v.mem_write(0x18000 + 2 * 81, 2, 0x1E48); // 'H' at row 1, column 1
    crtc(&mut v, 0x0F, 81);
    let t = v.text_screen().expect("text mode");
    assert_eq!((t.cols, t.rows), (80, 25));
    assert_eq!(t.cells[81], (b'H', 0x1E));
    assert_eq!(t.cells[0], (b' ', 0x07));
    let c = t.cursor.expect("cursor on");
    assert_eq!((c.col, c.row, c.start, c.end), (1, 1, 13, 14));
    crtc(&mut v, 0x0A, 0x20);
    assert_eq!(v.text_screen().and_then(|t| t.cursor), None);
}

#[test]
fn text_screen_is_none_in_graphics() {
    let mut v = colour_vga();
    mode13(&mut v);
    assert!(v.text_screen().is_none());
}

#[test]
fn planar_16_colour_renders_through_the_attribute_palette() {
    let mut v = planar_vga();
    for (i, val) in [
        (0x01, 0x4F),
        (0x07, 0x3E),
        (0x09, 0x40),
        (0x12, 0xDF),
        (0x13, 0x28),
    ] {
        crtc(&mut v, i, val);
    }
    crtc(&mut v, 0x17, 0xE3);
    attr(&mut v, 0x10, 0x01);
    attr(&mut v, 0x12, 0x0F);
    attr(&mut v, 0x05, 0x3F); // colour 5 -> DAC 63
    dac(&mut v, 63, [63, 0, 63]);
    // Leftmost pixel of line 1 (80 bytes per line) in colour 5.
    v.lfb_write(4 * 80, 4, 0x0080_0080); // bit 7 of planes 0 and 2
    let f = v.render(RenderOptions::default());
    assert_eq!((f.width, f.height), (640, 480));
    assert_eq!(f.pixel(0, 1), Some(0x00FF_00FF));
    assert_eq!(f.pixel(1, 1), Some(0));
}

#[test]
fn blanked_screen_is_black() {
    let mut v = colour_vga();
    v.set_text_mode_3(&[0xFF; 4096]);
    inb(&mut v, VGA_IS1_RC);
    out(&mut v, VGA_ATT_W, 0x00); // palette address source off
    let f = v.render(RenderOptions::default());
    assert_eq!((f.width, f.height), (720, 400));
    assert!(f.pixels.iter().all(|p| *p == 0));
}

#[test]
fn input_status_1_follows_virtual_time() {
    let mut v = colour_vga();
    let read = |v: &mut Vga, now| v.io_read(VGA_IS1_RC, 1, now) as u8 & 0x09;
    assert_eq!(read(&mut v, 0), 0, "top left: displaying");
    assert_eq!(
        read(&mut v, LINE_ACTIVE_NS + 1),
        ST01_DISP_ENABLE,
        "h-blank"
    );
    let retrace = 412 * LINE_NS + 1;
    assert_eq!(read(&mut v, retrace), ST01_DISP_ENABLE | ST01_V_RETRACE);
    assert_eq!(
        read(&mut v, FRAME_NS + retrace),
        ST01_DISP_ENABLE | ST01_V_RETRACE
    );
    assert_eq!(read(&mut v, FRAME_NS), 0, "next frame");
}

#[test]
fn generation_moves_on_writes_not_reads() {
    let mut v = colour_vga();
    let g = v.generation();
    v.mem_read(0, 1);
    v.lfb_read(0, 4);
    v.io_read(VGA_PEL_D, 1, 0);
    v.render(RenderOptions::default());
    assert_eq!(v.generation(), g);
    v.lfb_write(0, 1, 1);
    let g2 = v.generation();
    assert_ne!(g2, g);
    v.mem_write(0, 1, 1);
    assert_ne!(v.generation(), g2);
    let g3 = v.generation();
    dac(&mut v, 0, [1, 2, 3]);
    assert_ne!(v.generation(), g3);
}

#[test]
fn mmio_bar_reaches_ports_and_dispi() {
    let mut v = colour_vga();
    // 0x3C8 at 0x408: DAC write index.
    v.mmio_write(0x408, 1, 7, 0);
    assert_eq!(inb(&mut v, VGA_PEL_IW), 7);
    // DISPI ID at 0x500, video memory at 0x500 + 2 * 0xA.
    assert_eq!(v.mmio_read(0x500, 2, 0), 0xB0C5);
    assert_eq!(v.mmio_read(0x514, 2, 0), 256);
    v.mmio_write(0x502, 2, 800, 0);
    assert_eq!(dispi_get(&mut v, VBE_DISPI_INDEX_XRES), 800);
    assert_eq!(v.mmio_read(0x604, 4, 0), PCI_VGA_QEXT_LITTLE_ENDIAN);
}

#[test]
fn lfb_past_vram_reads_ones_and_drops_writes() {
    let mut v = colour_vga();
    assert_eq!(v.lfb_read(VRAM_SIZE as u64 - 2, 4), 0xFFFF_0000);
    v.lfb_write(VRAM_SIZE as u64, 4, 0);
    v.lfb_write(u64::MAX, 4, 0);
    assert_eq!(v.lfb_read(u64::MAX - 1, 2), 0xFFFF);
}

#[test]
fn snapshot_roundtrip() {
    let mut v = colour_vga();
    v.set_text_mode_3(&right_column_font());
    vbe_mode(&mut v, 800, 600, 16);
    out(&mut v, VGA_PEL_IW, 9);
    out(&mut v, VGA_PEL_D, 1); // a half-written DAC entry
    v.config_write(0x10, 4, 0xFD00_0000);
    let mut fresh = Vga::new(Vec::new());
    anyx86_hw::assert_snapshot_roundtrip(&v, &mut fresh);
    assert_eq!(
        fresh.render(RenderOptions::default()),
        v.render(RenderOptions::default())
    );
}

#[test]
fn restore_rejects_short_vram() {
    let mut v = Vga::new(Vec::new());
    let mut state = v.save();
    state.vram.truncate(100);
    assert!(v.restore(&state).is_err());
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn hammer_never_panics() {
    let mut v = Vga::new(vec![0x55; 1000]);
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let sizes = [0u8, 1, 2, 3, 4, 8];
    for i in 0..40_000u64 {
        let r = rng.next();
        let size = sizes[(r >> 8) as usize % sizes.len()];
        let val = (r >> 32) as u32;
        let now = rng.next() % (4 * FRAME_NS);
        match r % 9 {
            0 | 1 => {
                let port = 0x3B0 + (r >> 16) as u16 % 0x30;
                v.io_write(port, size, val, now);
                v.io_read(port, size, now);
            }
            2 => {
                let index = (r >> 16) as u16 % 16;
                let value = match (r >> 20) % 4 {
                    0 => 0,
                    1 => 0xFFFF,
                    _ => val as u16,
                };
                dispi(&mut v, index, value);
                v.io_read(0x1CE + (r >> 24) as u16 % 4, size, now);
            }
            3 | 4 => {
                let off = val % 0x2_0100;
                v.mem_write(off, size, val);
                v.mem_read(off, size);
            }
            5 => {
                let off = rng.next() % (2 * VRAM_SIZE as u64);
                v.lfb_write(off, size, val);
                v.lfb_read(off, size);
            }
            6 => {
                let off = rng.next() % 0x1100;
                v.mmio_write(off, size, val, now);
                v.mmio_read(off, size, now);
            }
            7 => {
                v.config_write((r >> 16) as u8, size, val);
                v.rom_read(rng.next() % 0x2_0000, size);
            }
            _ => {
                let _ = v.text_screen();
            }
        }
        if i % 2000 == 0 {
            let f = v.render(RenderOptions::at(now));
            assert_eq!(f.pixels.len(), f.width * f.height);
        }
    }
}
