//! QEMU's standard VGA (`-device VGA`, "stdvga"): an IBM VGA register set
//! plus the Bochs VBE "DISPI" extension and a linear framebuffer, as a PCI
//! display function 1234:1111.
//!
//! References: IBM VGA XGA Technical Reference Manual (sequencer, CRT
//! controller, graphics controller, attribute controller, DAC and their
//! memory access modes); FreeVGA; QEMU `hw/display/vga.c`, `vga_int.h`,
//! `vga-pci.c`, `vga-helpers.h` and `docs/specs/standard-vga.txt` for the
//! behaviour SeaBIOS's `vgabios-stdvga.bin` probes and for what QEMU's
//! `screendump` shows; SeaBIOS `vgasrc/bochsvga.c` and `vgasrc/stdvga*.c`
//! for how the option ROM drives it. Drawing lives in [`crate::vga_render`].
//!
//! # Memory layout
//!
//! 16 MiB of VRAM, laid out as QEMU does: the four VGA planes are
//! interleaved byte by byte, plane `p` of planar address `a` at VRAM byte
//! `4 * a + p`. Chain-4 accesses therefore address VRAM bytes directly
//! (mode 13h pixels are linear), odd/even accesses at offset `o` land at
//! byte `(o & !1) << 1 | plane`, and the VBE linear framebuffer is VRAM
//! itself.
//!
//! # Wiring
//!
//! - PCI 00:02.0: [`Vga::config_read`] / [`Vga::config_write`].
//! - Ports 0x3B0-0x3DF and 0x1CE-0x1D0: [`Vga::io_read`] / [`Vga::io_write`]
//!   (wider accesses to the VGA ports are split into bytes, lowest port
//!   first; 0x1CE is the DISPI index, 0x1CF and 0x1D0 its data, 16 bits).
//! - Physical 0xA0000-0xBFFFF: [`Vga::mem_read`] / [`Vga::mem_write`] with
//!   the offset from 0xA0000 (never mapped directly: every access goes
//!   through the graphics controller).
//! - BAR0 at [`Vga::lfb_base`]: [`Vga::lfb_read`] / [`Vga::lfb_write`]
//!   (plain memory; the machine may cache the base until the next config
//!   write).
//! - BAR2 at [`Vga::mmio_base`] (4 KiB): [`Vga::mmio_read`] /
//!   [`Vga::mmio_write`]: VGA ports 0x3C0-0x3DF at 0x400, DISPI registers
//!   at 0x500, QEMU's extended registers at 0x600.
//! - Expansion ROM at [`Vga::rom_base`]: [`Vga::rom_read`].
//! - The front end calls [`Vga::generation`] and, when it moved,
//!   [`Vga::render`] or [`Vga::text_screen`]. No interrupt, no deadline:
//!   the retrace bits of input status 1 are computed from `now` on read.
//!
//! # Not implemented
//!
//! - The EDID blob at BAR2 0x000-0x3FF reads 0; big-endian framebuffer
//!   mode (the QEMU byte-order register reads little-endian and ignores
//!   writes).
//! - The PEL mask (0x3C6) is stored and read back but, as in QEMU, does
//!   not affect the colours drawn.
//! - Light pen, feature connector, CRTC timing beyond what display size,
//!   start address, line compare and scan doubling need; the retrace
//!   timing is a fixed 70 Hz, 449-line frame whatever the CRTC says.
//! - Text blink and cursor phases are chosen by the caller of `render`
//!   ([`crate::vga_render::RenderOptions`]), not by a device timer.

use anyx86_hw::{AccessSize, Snapshot, SnapshotError, VirtualTime};

use crate::pci::{BarKind, ConfigSpace, PciFunction};
use crate::{read_bytes, write_bytes};

/// QEMU's (Bochs's) PCI vendor ID for the standard VGA.
pub const VGA_VENDOR_ID: u16 = 0x1234;
/// Device ID of the standard VGA.
pub const VGA_DEVICE_ID: u16 = 0x1111;
/// Revision ID QEMU reports.
pub const VGA_REVISION: u8 = 2;
/// Class code: display controller, VGA compatible, VGA programming interface.
pub const VGA_CLASS: u32 = 0x03_00_00;
/// Subsystem vendor ID QEMU reports (Red Hat / virtio).
pub const VGA_SUBSYSTEM_VENDOR_ID: u16 = 0x1af4;
/// Subsystem ID QEMU reports ("QEMU").
pub const VGA_SUBSYSTEM_ID: u16 = 0x1100;

/// Size of the video memory (QEMU's default `vgamem_mb=16`).
pub const VRAM_SIZE: usize = 16 << 20;
/// Size of the BAR2 MMIO window.
pub const MMIO_SIZE: u64 = 0x1000;
/// The linear framebuffer BAR.
pub const BAR_LFB: usize = 0;
/// The MMIO ("qext"/DISPI) BAR.
pub const BAR_MMIO: usize = 2;

/// Attribute controller address/data write port (flip-flop).
pub const VGA_ATT_W: u16 = 0x3C0;
/// Attribute controller data read port.
pub const VGA_ATT_R: u16 = 0x3C1;
/// Miscellaneous output write / input status 0 read.
pub const VGA_MIS_W: u16 = 0x3C2;
/// Sequencer index.
pub const VGA_SEQ_I: u16 = 0x3C4;
/// Sequencer data.
pub const VGA_SEQ_D: u16 = 0x3C5;
/// DAC PEL mask.
pub const VGA_PEL_MSK: u16 = 0x3C6;
/// DAC read index (write) / DAC state (read).
pub const VGA_PEL_IR: u16 = 0x3C7;
/// DAC write index.
pub const VGA_PEL_IW: u16 = 0x3C8;
/// DAC data: three 6-bit components per entry.
pub const VGA_PEL_D: u16 = 0x3C9;
/// Feature control read.
pub const VGA_FTC_R: u16 = 0x3CA;
/// Miscellaneous output read.
pub const VGA_MIS_R: u16 = 0x3CC;
/// Graphics controller index.
pub const VGA_GFX_I: u16 = 0x3CE;
/// Graphics controller data.
pub const VGA_GFX_D: u16 = 0x3CF;
/// CRTC index, monochrome decode.
pub const VGA_CRT_IM: u16 = 0x3B4;
/// CRTC data, monochrome decode.
pub const VGA_CRT_DM: u16 = 0x3B5;
/// Input status 1 (read) / feature control (write), monochrome decode.
pub const VGA_IS1_RM: u16 = 0x3BA;
/// CRTC index, colour decode.
pub const VGA_CRT_IC: u16 = 0x3D4;
/// CRTC data, colour decode.
pub const VGA_CRT_DC: u16 = 0x3D5;
/// Input status 1 (read) / feature control (write), colour decode.
pub const VGA_IS1_RC: u16 = 0x3DA;

/// Misc output bit 0: I/O address select (1 = colour, CRTC at 0x3Dx).
pub const VGA_MIS_COLOR: u8 = 0x01;
/// Input status 1 bit 0: display disabled (horizontal or vertical blank).
pub const ST01_DISP_ENABLE: u8 = 0x01;
/// Input status 1 bit 3: vertical retrace in progress.
pub const ST01_V_RETRACE: u8 = 0x08;

/// SR01 clocking mode.
pub const VGA_SEQ_CLOCK_MODE: usize = 0x01;
/// SR01 bit 0: 8-dot character clock (else 9).
pub const VGA_SR01_CHAR_CLK_8DOTS: u8 = 0x01;
/// SR01 bit 3: dot clock divided by 2 (pixel doubling).
pub const VGA_SR01_DOT_CLOCK_DIV2: u8 = 0x08;
/// SR02 map mask (plane write enable).
pub const VGA_SEQ_PLANE_WRITE: usize = 0x02;
/// SR03 character map select.
pub const VGA_SEQ_CHARACTER_MAP: usize = 0x03;
/// SR04 memory mode.
pub const VGA_SEQ_MEMORY_MODE: usize = 0x04;
/// SR04 bit 3: chain 4.
pub const VGA_SR04_CHN_4M: u8 = 0x08;
/// Bits that exist in each sequencer register (QEMU `sr_mask`).
const SR_MASK: [u8; 8] = [0x03, 0x3d, 0x0f, 0x3f, 0x0e, 0x00, 0x00, 0xff];

/// GR00 set/reset value.
pub const VGA_GFX_SR_VALUE: usize = 0x00;
/// GR01 enable set/reset.
pub const VGA_GFX_SR_ENABLE: usize = 0x01;
/// GR02 colour compare.
pub const VGA_GFX_COMPARE_VALUE: usize = 0x02;
/// GR03 data rotate (bits 0-2) and function select (bits 3-4).
pub const VGA_GFX_DATA_ROTATE: usize = 0x03;
/// GR04 read map select.
pub const VGA_GFX_PLANE_READ: usize = 0x04;
/// GR05 graphics mode: write mode (0-1), read mode (3), odd/even (4),
/// shift control (5-6).
pub const VGA_GFX_MODE: usize = 0x05;
/// GR05 bit 3: read mode 1 (colour compare).
pub const VGA_GR05_READ_MODE1: u8 = 0x08;
/// GR05 bit 4: host odd/even addressing.
pub const VGA_GR05_HOST_ODD_EVEN: u8 = 0x10;
/// GR06 miscellaneous: graphics mode (0), memory map select (2-3).
pub const VGA_GFX_MISC: usize = 0x06;
/// GR06 bit 0: graphics (not alphanumeric) mode.
pub const VGA_GR06_GRAPHICS_MODE: u8 = 0x01;
/// GR07 colour don't care.
pub const VGA_GFX_COMPARE_MASK: usize = 0x07;
/// GR08 bit mask.
pub const VGA_GFX_BIT_MASK: usize = 0x08;
/// Bits that exist in each graphics controller register (QEMU `gr_mask`).
const GR_MASK: [u8; 16] = [
    0x0f, 0x0f, 0x0f, 0x1f, 0x03, 0x7b, 0x0f, 0x0f, 0xff, 0, 0, 0, 0, 0, 0, 0,
];

/// Number of attribute controller registers.
pub const VGA_ATT_C: usize = 0x15;
/// AR10 attribute mode control.
pub const VGA_ATC_MODE: usize = 0x10;
/// AR10 bit 2: line graphics enable (9th column copies the 8th).
pub const VGA_AR10_LINE_GRAPHICS: u8 = 0x04;
/// AR10 bit 3: blink enable (attribute bit 7 blinks instead of intensity).
pub const VGA_AR10_BLINK: u8 = 0x08;
/// AR10 bit 7: palette bits 5-4 come from AR14.
pub const VGA_AR10_P54S: u8 = 0x80;
/// AR11 overscan colour.
pub const VGA_ATC_OVERSCAN: usize = 0x11;
/// AR12 colour plane enable.
pub const VGA_ATC_PLANE_ENABLE: usize = 0x12;
/// AR13 horizontal PEL panning.
pub const VGA_ATC_PEL: usize = 0x13;
/// AR14 colour select.
pub const VGA_ATC_COLOR_PAGE: usize = 0x14;
/// Attribute address bit 5: palette address source (0 blanks the screen).
pub const VGA_AR_ENABLE_DISPLAY: u8 = 0x20;

/// CR01 horizontal display end.
pub const VGA_CRTC_H_DISP: usize = 0x01;
/// CR06 vertical total.
pub const VGA_CRTC_V_TOTAL: usize = 0x06;
/// CR07 overflow.
pub const VGA_CRTC_OVERFLOW: usize = 0x07;
/// CR09 maximum scan line (bits 0-4), line compare bit 9 (6), double scan (7).
pub const VGA_CRTC_MAX_SCAN: usize = 0x09;
/// CR0A cursor start (bit 5: cursor off).
pub const VGA_CRTC_CURSOR_START: usize = 0x0A;
/// CR0B cursor end.
pub const VGA_CRTC_CURSOR_END: usize = 0x0B;
/// CR0C start address high.
pub const VGA_CRTC_START_HI: usize = 0x0C;
/// CR0D start address low.
pub const VGA_CRTC_START_LO: usize = 0x0D;
/// CR0E cursor location high.
pub const VGA_CRTC_CURSOR_HI: usize = 0x0E;
/// CR0F cursor location low.
pub const VGA_CRTC_CURSOR_LO: usize = 0x0F;
/// CR11 vertical retrace end; bit 7 protects CR00-CR07.
pub const VGA_CRTC_V_SYNC_END: usize = 0x11;
/// CR11 bit 7: CR00-CR07 write protect.
pub const VGA_CR11_LOCK_CR0_CR7: u8 = 0x80;
/// CR12 vertical display end.
pub const VGA_CRTC_V_DISP_END: usize = 0x12;
/// CR13 offset (line pitch in units of 8 VRAM bytes).
pub const VGA_CRTC_OFFSET: usize = 0x13;
/// CR17 CRTC mode control.
pub const VGA_CRTC_MODE: usize = 0x17;
/// CR18 line compare.
pub const VGA_CRTC_LINE_COMPARE: usize = 0x18;
/// Number of CRTC registers stored (QEMU keeps 256, the index is 8 bits).
pub const VGA_CRTC_REGS: usize = 256;

/// DISPI index port.
pub const VBE_DISPI_IOPORT_INDEX: u16 = 0x1CE;
/// DISPI data port.
pub const VBE_DISPI_IOPORT_DATA: u16 = 0x1CF;
/// DISPI data port alias QEMU also decodes on x86.
pub const VBE_DISPI_IOPORT_DATA_ALT: u16 = 0x1D0;
/// DISPI register: interface ID.
pub const VBE_DISPI_INDEX_ID: u16 = 0x0;
/// DISPI register: horizontal resolution.
pub const VBE_DISPI_INDEX_XRES: u16 = 0x1;
/// DISPI register: vertical resolution.
pub const VBE_DISPI_INDEX_YRES: u16 = 0x2;
/// DISPI register: bits per pixel.
pub const VBE_DISPI_INDEX_BPP: u16 = 0x3;
/// DISPI register: enable and flags.
pub const VBE_DISPI_INDEX_ENABLE: u16 = 0x4;
/// DISPI register: 64 KiB bank at 0xA0000.
pub const VBE_DISPI_INDEX_BANK: u16 = 0x5;
/// DISPI register: virtual (line) width in pixels.
pub const VBE_DISPI_INDEX_VIRT_WIDTH: u16 = 0x6;
/// DISPI register: virtual height (read-only, derived).
pub const VBE_DISPI_INDEX_VIRT_HEIGHT: u16 = 0x7;
/// DISPI register: display X offset.
pub const VBE_DISPI_INDEX_X_OFFSET: u16 = 0x8;
/// DISPI register: display Y offset.
pub const VBE_DISPI_INDEX_Y_OFFSET: u16 = 0x9;
/// DISPI register: video memory size in 64 KiB units (read-only).
pub const VBE_DISPI_INDEX_VIDEO_MEMORY_64K: u16 = 0xA;
/// Number of stored DISPI registers.
pub const VBE_DISPI_INDEX_NB: usize = 0xA;
/// Oldest DISPI interface ID.
pub const VBE_DISPI_ID0: u16 = 0xB0C0;
/// Newest DISPI interface ID (what QEMU reports).
pub const VBE_DISPI_ID5: u16 = 0xB0C5;
/// ENABLE bit 0: VBE mode on.
pub const VBE_DISPI_ENABLED: u16 = 0x01;
/// ENABLE bit 1: XRES/YRES/BPP read back their maxima.
pub const VBE_DISPI_GETCAPS: u16 = 0x02;
/// ENABLE bit 5: 8-bit DAC.
pub const VBE_DISPI_8BIT_DAC: u16 = 0x20;
/// ENABLE bit 6: linear framebuffer on (informational).
pub const VBE_DISPI_LFB_ENABLED: u16 = 0x40;
/// ENABLE bit 7: do not clear VRAM on enable.
pub const VBE_DISPI_NOCLEARMEM: u16 = 0x80;
/// Largest horizontal resolution (QEMU `VBE_DISPI_MAX_XRES`).
pub const VBE_DISPI_MAX_XRES: u16 = 16000;
/// Largest vertical resolution (QEMU `VBE_DISPI_MAX_YRES`).
pub const VBE_DISPI_MAX_YRES: u16 = 12000;
/// Largest depth.
pub const VBE_DISPI_MAX_BPP: u16 = 32;

/// BAR2 offset of the VGA ports 0x3C0-0x3DF.
pub const PCI_VGA_IOPORT_OFFSET: u64 = 0x400;
/// BAR2 offset of the DISPI registers (16 bits each, index * 2).
pub const PCI_VGA_BOCHS_OFFSET: u64 = 0x500;
/// BAR2 offset of QEMU's extended registers.
pub const PCI_VGA_QEXT_OFFSET: u64 = 0x600;
/// QEMU extended register block size, the value of its first register.
pub const PCI_VGA_QEXT_SIZE: u32 = 8;
/// QEMU extended register 1 value: framebuffer is little-endian.
pub const PCI_VGA_QEXT_LITTLE_ENDIAN: u32 = 0x1e1e_1e1e;

/// One 70 Hz frame of the 400-line VGA timing, in nanoseconds.
pub const FRAME_NS: u64 = 1_000_000_000 / 70;
/// One scan line: 449 lines per frame.
pub const LINE_NS: u64 = FRAME_NS / 449;
/// Active (displayed) part of a line: 640 of 800 dots.
pub const LINE_ACTIVE_NS: u64 = LINE_NS * 640 / 800;
/// First line of vertical retrace (after 400 displayed lines and the
/// bottom border), and its length in lines.
const VRETRACE_START_LINE: u64 = 412;
const VRETRACE_LINES: u64 = 2;
/// Displayed lines per frame.
const DISPLAY_LINES: u64 = 400;

/// Plain-data state of the standard VGA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VgaState {
    /// The 256 bytes of PCI configuration space.
    pub config: Vec<u8>,
    /// Video memory, [`VRAM_SIZE`] bytes.
    pub vram: Vec<u8>,
    /// The four plane latches (plane `p` in byte `p`).
    pub latch: u32,
    /// Miscellaneous output register.
    pub misc_output: u8,
    /// Feature control register.
    pub feature_control: u8,
    /// Last value of input status 1 (retrace bits recomputed on read).
    pub st01: u8,
    /// Sequencer index.
    pub sr_index: u8,
    /// Sequencer registers.
    pub sr: [u8; 8],
    /// Graphics controller index.
    pub gr_index: u8,
    /// Graphics controller registers.
    pub gr: [u8; 16],
    /// Attribute controller index (bit 5: palette address source).
    pub ar_index: u8,
    /// Attribute controller registers.
    pub ar: [u8; VGA_ATT_C],
    /// Attribute flip-flop: false = next 0x3C0 write is an index.
    pub ar_flip_flop: bool,
    /// CRTC index.
    pub cr_index: u8,
    /// CRTC registers, [`VGA_CRTC_REGS`] bytes.
    pub cr: Vec<u8>,
    /// PEL mask (stored only).
    pub pel_mask: u8,
    /// DAC state as read at 0x3C7: 0 after a write index, 3 after a read index.
    pub dac_state: u8,
    /// Component (0-2) of the current DAC entry.
    pub dac_sub_index: u8,
    /// DAC read index.
    pub dac_read_index: u8,
    /// DAC write index.
    pub dac_write_index: u8,
    /// Components written so far for the entry at the write index.
    pub dac_cache: [u8; 3],
    /// 256 DAC entries of three components, 768 bytes.
    pub palette: Vec<u8>,
    /// DAC components are 8 bits wide (VBE 8-bit DAC).
    pub dac_8bit: bool,
    /// DISPI index.
    pub vbe_index: u16,
    /// DISPI registers.
    pub vbe_regs: [u16; VBE_DISPI_INDEX_NB],
    /// VBE display start in 4-byte units.
    pub vbe_start_addr: u32,
    /// VBE line pitch in bytes.
    pub vbe_line_offset: u32,
    /// VRAM offset of the 64 KiB bank window.
    pub bank_offset: u32,
}
anyx86_hw::wire_struct!(VgaState {
    config,
    vram,
    latch,
    misc_output,
    feature_control,
    st01,
    sr_index,
    sr,
    gr_index,
    gr,
    ar_index,
    ar,
    ar_flip_flop,
    cr_index,
    cr,
    pel_mask,
    dac_state,
    dac_sub_index,
    dac_read_index,
    dac_write_index,
    dac_cache,
    palette,
    dac_8bit,
    vbe_index,
    vbe_regs,
    vbe_start_addr,
    vbe_line_offset,
    bank_offset
});

impl Default for VgaState {
    fn default() -> Self {
        let mut vbe_regs = [0; VBE_DISPI_INDEX_NB];
        vbe_regs[usize::from(VBE_DISPI_INDEX_ID)] = VBE_DISPI_ID5;
        Self {
            config: power_on_config(0).bytes().to_vec(),
            vram: vec![0; VRAM_SIZE],
            latch: 0,
            misc_output: 0,
            feature_control: 0,
            st01: 0,
            sr_index: 0,
            sr: [0; 8],
            gr_index: 0,
            gr: [0; 16],
            ar_index: 0,
            ar: [0; VGA_ATT_C],
            ar_flip_flop: false,
            cr_index: 0,
            cr: vec![0; VGA_CRTC_REGS],
            pel_mask: 0xFF,
            dac_state: 0,
            dac_sub_index: 0,
            dac_read_index: 0,
            dac_write_index: 0,
            dac_cache: [0; 3],
            palette: vec![0; 768],
            dac_8bit: false,
            vbe_index: 0,
            vbe_regs,
            vbe_start_addr: 0,
            vbe_line_offset: 0,
            bank_offset: 0,
        }
    }
}

/// The configuration header of the standard VGA with a ROM BAR for
/// `rom_len` bytes (none when 0).
fn power_on_config(rom_len: usize) -> ConfigSpace {
    let mut config = ConfigSpace::new(VGA_VENDOR_ID, VGA_DEVICE_ID, VGA_REVISION, VGA_CLASS, 0);
    config.set_subsystem(VGA_SUBSYSTEM_VENDOR_ID, VGA_SUBSYSTEM_ID);
    config.set_bar(BAR_LFB, BarKind::Mem32Prefetch, VRAM_SIZE as u64);
    config.set_bar(BAR_MMIO, BarKind::Mem32, MMIO_SIZE);
    config.set_rom_bar(u32::try_from(rom_len).unwrap_or(u32::MAX));
    config
}

/// The standard VGA.
#[derive(Debug, Clone)]
pub struct Vga {
    pub(crate) s: VgaState,
    config: ConfigSpace,
    rom: Vec<u8>,
    generation: u64,
}

impl Vga {
    /// The VGA at power-on, with `option_rom` behind its expansion ROM BAR
    /// (no ROM BAR when empty).
    pub fn new(option_rom: Vec<u8>) -> Self {
        Self {
            s: VgaState::default(),
            config: power_on_config(option_rom.len()),
            rom: option_rom,
            generation: 0,
        }
    }

    /// Base of the linear framebuffer (BAR0) while memory decode is on.
    pub fn lfb_base(&self) -> Option<u64> {
        self.config.bar(BAR_LFB)
    }

    /// Base of the 4 KiB MMIO window (BAR2) while memory decode is on.
    pub fn mmio_base(&self) -> Option<u64> {
        self.config.bar(BAR_MMIO)
    }

    /// Base of the expansion ROM while it is enabled.
    pub fn rom_base(&self) -> Option<u64> {
        self.config.rom_bar()
    }

    /// Reads `size` bytes of the option ROM at `offset` from the ROM BAR;
    /// the padding up to the BAR size reads 0, beyond it and bad sizes
    /// read all-ones.
    pub fn rom_read(&self, offset: u64, size: AccessSize) -> u32 {
        let bar_size = if self.rom.is_empty() {
            0
        } else {
            self.rom.len().max(0x800).next_power_of_two() as u64
        };
        read_wide(size, |i| {
            let at = offset.checked_add(i)?;
            (at < bar_size)
                .then(|| usize::try_from(at).ok().and_then(|a| self.rom.get(a)))
                .map(|b| b.copied().unwrap_or(0))
        })
    }

    /// A counter that changes whenever something visible may have changed
    /// (a VRAM write, a register or DAC write, a restore). Reads never move it.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    fn touch(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    /// An I/O read at `port` (0x3B0-0x3DF byte registers, 0x1CE-0x1D0
    /// DISPI); other ports and bad sizes read all-ones.
    pub fn io_read(&mut self, port: u16, size: AccessSize, now: VirtualTime) -> u32 {
        match port {
            VBE_DISPI_IOPORT_INDEX..=VBE_DISPI_IOPORT_DATA_ALT => self.dispi_port_read(port, size),
            0x3B0..=0x3DF => read_bytes(port, size, |p| self.vga_port_read(p, now)),
            _ => all_ones(size),
        }
    }

    /// An I/O write at `port`; other ports and bad sizes are ignored.
    pub fn io_write(&mut self, port: u16, size: AccessSize, value: u32, now: VirtualTime) {
        let _ = now;
        match port {
            VBE_DISPI_IOPORT_INDEX..=VBE_DISPI_IOPORT_DATA_ALT => {
                self.dispi_port_write(port, size, value)
            }
            0x3B0..=0x3DF => write_bytes(port, size, value, |p, v| self.vga_port_write(p, v)),
            _ => return,
        }
        self.touch();
    }

    fn dispi_port_read(&mut self, port: u16, size: AccessSize) -> u32 {
        let v = match (port, size) {
            (VBE_DISPI_IOPORT_INDEX, 4) => {
                u32::from(self.s.vbe_index) | u32::from(self.dispi_read()) << 16
            }
            (VBE_DISPI_IOPORT_INDEX, 1 | 2) => u32::from(self.s.vbe_index),
            (_, 1 | 2 | 4) => u32::from(self.dispi_read()),
            _ => return all_ones(size),
        };
        v & size_mask(size)
    }

    fn dispi_port_write(&mut self, port: u16, size: AccessSize, value: u32) {
        match (port, size) {
            (VBE_DISPI_IOPORT_INDEX, 4) => {
                self.s.vbe_index = value as u16;
                self.dispi_write((value >> 16) as u16);
            }
            (VBE_DISPI_IOPORT_INDEX, 1 | 2) => self.s.vbe_index = value as u16,
            (_, 1 | 2 | 4) => self.dispi_write(value as u16),
            _ => {}
        }
    }

    /// Is `port` decoded under the current I/O address select? QEMU drops
    /// the monochrome block in colour mode and vice versa.
    fn port_decoded(&self, port: u16) -> bool {
        if self.s.misc_output & VGA_MIS_COLOR != 0 {
            !(0x3B0..=0x3BF).contains(&port)
        } else {
            !(0x3D0..=0x3DF).contains(&port)
        }
    }

    fn vga_port_read(&mut self, port: u16, now: VirtualTime) -> u8 {
        if !self.port_decoded(port) {
            return 0xFF;
        }
        let s = &mut self.s;
        match port {
            VGA_ATT_W => {
                if s.ar_flip_flop {
                    0
                } else {
                    s.ar_index
                }
            }
            VGA_ATT_R => {
                s.ar.get(usize::from(s.ar_index & 0x1F))
                    .copied()
                    .unwrap_or(0)
            }
            VGA_MIS_W => 0,
            VGA_SEQ_I => s.sr_index,
            VGA_SEQ_D => s.sr[usize::from(s.sr_index & 7)],
            VGA_PEL_MSK => s.pel_mask,
            VGA_PEL_IR => s.dac_state,
            VGA_PEL_IW => s.dac_write_index,
            VGA_PEL_D => self.dac_data_read(),
            VGA_FTC_R => s.feature_control,
            VGA_MIS_R => s.misc_output,
            VGA_GFX_I => s.gr_index,
            VGA_GFX_D => s.gr[usize::from(s.gr_index & 0xF)],
            VGA_CRT_IM | VGA_CRT_IC => s.cr_index,
            VGA_CRT_DM | VGA_CRT_DC => s.cr[usize::from(s.cr_index)],
            VGA_IS1_RM | VGA_IS1_RC => {
                s.st01 = input_status_1(s.st01, now);
                s.ar_flip_flop = false;
                s.st01
            }
            _ => 0,
        }
    }

    fn dac_data_read(&mut self) -> u8 {
        let s = &mut self.s;
        let at = usize::from(s.dac_read_index) * 3 + usize::from(s.dac_sub_index);
        let v = s.palette.get(at).copied().unwrap_or(0);
        s.dac_sub_index += 1;
        if s.dac_sub_index >= 3 {
            s.dac_sub_index = 0;
            s.dac_read_index = s.dac_read_index.wrapping_add(1);
        }
        v
    }

    fn vga_port_write(&mut self, port: u16, v: u8) {
        if !self.port_decoded(port) {
            return;
        }
        let s = &mut self.s;
        match port {
            VGA_ATT_W => self.attribute_write(v),
            VGA_MIS_W => s.misc_output = v & !0x10,
            VGA_SEQ_I => s.sr_index = v & 7,
            VGA_SEQ_D => {
                let i = usize::from(s.sr_index & 7);
                s.sr[i] = v & SR_MASK[i];
            }
            VGA_PEL_MSK => s.pel_mask = v,
            VGA_PEL_IR => {
                s.dac_read_index = v;
                s.dac_sub_index = 0;
                s.dac_state = 3;
            }
            VGA_PEL_IW => {
                s.dac_write_index = v;
                s.dac_sub_index = 0;
                s.dac_state = 0;
            }
            VGA_PEL_D => self.dac_data_write(v),
            VGA_GFX_I => s.gr_index = v & 0x0F,
            VGA_GFX_D => {
                let i = usize::from(s.gr_index & 0xF);
                s.gr[i] = v & GR_MASK[i];
            }
            VGA_CRT_IM | VGA_CRT_IC => s.cr_index = v,
            VGA_CRT_DM | VGA_CRT_DC => self.crtc_write(v),
            VGA_IS1_RM | VGA_IS1_RC => s.feature_control = v & 0x10,
            _ => {}
        }
    }

    /// 0x3C0: index on the first write, data on the second.
    fn attribute_write(&mut self, v: u8) {
        let s = &mut self.s;
        if !s.ar_flip_flop {
            s.ar_index = v & 0x3F;
        } else {
            let i = usize::from(s.ar_index & 0x1F);
            let stored = match i {
                0x00..=0x0F => v & 0x3F,
                VGA_ATC_MODE => v & !0x10,
                VGA_ATC_OVERSCAN => v,
                VGA_ATC_PLANE_ENABLE => v & !0xC0,
                VGA_ATC_PEL | VGA_ATC_COLOR_PAGE => v & !0xF0,
                _ => 0,
            };
            if let Some(r) = s.ar.get_mut(i) {
                *r = stored;
            }
        }
        s.ar_flip_flop = !s.ar_flip_flop;
    }

    /// 0x3C9 write: the third component commits the entry.
    fn dac_data_write(&mut self, v: u8) {
        let s = &mut self.s;
        let sub = usize::from(s.dac_sub_index % 3);
        s.dac_cache[sub] = v;
        s.dac_sub_index = s.dac_sub_index % 3 + 1;
        if s.dac_sub_index == 3 {
            let at = usize::from(s.dac_write_index) * 3;
            if let Some(entry) = s.palette.get_mut(at..at + 3) {
                entry.copy_from_slice(&s.dac_cache);
            }
            s.dac_sub_index = 0;
            s.dac_write_index = s.dac_write_index.wrapping_add(1);
        }
    }

    /// CRTC data write honouring the CR00-CR07 protect bit (CR07 bit 4,
    /// line compare bit 8, stays writable).
    fn crtc_write(&mut self, v: u8) {
        let s = &mut self.s;
        let i = usize::from(s.cr_index);
        if s.cr[VGA_CRTC_V_SYNC_END] & VGA_CR11_LOCK_CR0_CR7 != 0 && i <= VGA_CRTC_OVERFLOW {
            if i == VGA_CRTC_OVERFLOW {
                s.cr[i] = (s.cr[i] & !0x10) | (v & 0x10);
            }
            return;
        }
        s.cr[i] = v;
    }

    // ---- Bochs VBE DISPI ----

    fn vbe_reg(&self, i: u16) -> u16 {
        self.s.vbe_regs.get(usize::from(i)).copied().unwrap_or(0)
    }

    fn set_vbe_reg(&mut self, i: u16, v: u16) {
        if let Some(r) = self.s.vbe_regs.get_mut(usize::from(i)) {
            *r = v;
        }
    }

    /// VBE is on.
    pub fn vbe_enabled(&self) -> bool {
        self.vbe_reg(VBE_DISPI_INDEX_ENABLE) & VBE_DISPI_ENABLED != 0
    }

    /// Reads the DISPI register selected by the index.
    fn dispi_read(&self) -> u16 {
        let i = self.s.vbe_index;
        if usize::from(i) < VBE_DISPI_INDEX_NB {
            let caps = self.vbe_reg(VBE_DISPI_INDEX_ENABLE) & VBE_DISPI_GETCAPS != 0;
            match i {
                VBE_DISPI_INDEX_XRES if caps => VBE_DISPI_MAX_XRES,
                VBE_DISPI_INDEX_YRES if caps => VBE_DISPI_MAX_YRES,
                VBE_DISPI_INDEX_BPP if caps => VBE_DISPI_MAX_BPP,
                _ => self.vbe_reg(i),
            }
        } else if i == VBE_DISPI_INDEX_VIDEO_MEMORY_64K {
            (VRAM_SIZE >> 16) as u16
        } else {
            0
        }
    }

    /// Writes the DISPI register selected by the index.
    fn dispi_write(&mut self, v: u16) {
        let i = self.s.vbe_index;
        match i {
            VBE_DISPI_INDEX_ID if (VBE_DISPI_ID0..=VBE_DISPI_ID5).contains(&v) => {
                self.set_vbe_reg(i, v);
            }
            VBE_DISPI_INDEX_XRES
            | VBE_DISPI_INDEX_YRES
            | VBE_DISPI_INDEX_BPP
            | VBE_DISPI_INDEX_VIRT_WIDTH
            | VBE_DISPI_INDEX_X_OFFSET
            | VBE_DISPI_INDEX_Y_OFFSET => {
                self.set_vbe_reg(i, v);
                self.vbe_fixup_regs();
            }
            VBE_DISPI_INDEX_BANK => self.vbe_set_bank(v),
            VBE_DISPI_INDEX_ENABLE => self.vbe_set_enable(v),
            _ => {}
        }
    }

    fn vbe_set_bank(&mut self, v: u16) {
        let bank_mask = ((VRAM_SIZE >> 16) - 1) as u16;
        let v = if self.vbe_reg(VBE_DISPI_INDEX_BPP) == 4 {
            v & (bank_mask >> 2)
        } else {
            v & bank_mask
        };
        self.set_vbe_reg(VBE_DISPI_INDEX_BANK, v);
        self.s.bank_offset = u32::from(v) << 16;
    }

    /// ENABLE write. Turning VBE on validates the mode, clears the visible
    /// VRAM unless NOCLEARMEM, and programs the VGA registers for a
    /// graphics mode with the mode's width, height and pitch (as QEMU).
    fn vbe_set_enable(&mut self, v: u16) {
        if v & VBE_DISPI_ENABLED != 0 && !self.vbe_enabled() {
            for i in [
                VBE_DISPI_INDEX_VIRT_WIDTH,
                VBE_DISPI_INDEX_X_OFFSET,
                VBE_DISPI_INDEX_Y_OFFSET,
            ] {
                self.set_vbe_reg(i, 0);
            }
            let en = self.vbe_reg(VBE_DISPI_INDEX_ENABLE) | VBE_DISPI_ENABLED;
            self.set_vbe_reg(VBE_DISPI_INDEX_ENABLE, en);
            self.vbe_fixup_regs();
            if v & VBE_DISPI_NOCLEARMEM == 0 {
                let len = usize::from(self.vbe_reg(VBE_DISPI_INDEX_YRES))
                    .saturating_mul(self.s.vbe_line_offset as usize)
                    .min(VRAM_SIZE);
                self.s.vram[..len].fill(0);
            }
            self.vbe_program_vga();
        } else {
            self.s.bank_offset = 0;
        }
        self.s.dac_8bit = v & VBE_DISPI_8BIT_DAC != 0;
        self.set_vbe_reg(VBE_DISPI_INDEX_ENABLE, v);
    }

    /// The VGA side of a VBE mode: graphics, memory map 1 (A0000, 64 KiB),
    /// no CGA addressing, width/height/pitch in the CRTC, chain-4 256
    /// colour (or planar for 4 bpp), no scan doubling.
    fn vbe_program_vga(&mut self) {
        let xres = self.vbe_reg(VBE_DISPI_INDEX_XRES);
        let h = self.vbe_reg(VBE_DISPI_INDEX_YRES).wrapping_sub(1);
        let four_bpp = self.vbe_reg(VBE_DISPI_INDEX_BPP) == 4;
        let s = &mut self.s;
        s.gr[VGA_GFX_MISC] = (s.gr[VGA_GFX_MISC] & !0x0C) | 0x04 | VGA_GR06_GRAPHICS_MODE;
        s.cr[VGA_CRTC_MODE] |= 3;
        s.cr[VGA_CRTC_OFFSET] = (s.vbe_line_offset >> 3) as u8;
        s.cr[VGA_CRTC_H_DISP] = ((xres >> 3).wrapping_sub(1)) as u8;
        s.cr[VGA_CRTC_V_DISP_END] = h as u8;
        s.cr[VGA_CRTC_OVERFLOW] =
            (s.cr[VGA_CRTC_OVERFLOW] & !0x42) | ((h >> 7) & 0x02) as u8 | ((h >> 3) & 0x40) as u8;
        s.cr[VGA_CRTC_LINE_COMPARE] = 0xFF;
        s.cr[VGA_CRTC_OVERFLOW] |= 0x10;
        s.cr[VGA_CRTC_MAX_SCAN] |= 0x40;
        let shift_control = if four_bpp {
            s.sr[VGA_SEQ_CLOCK_MODE] &= !VGA_SR01_DOT_CLOCK_DIV2;
            0
        } else {
            s.sr[VGA_SEQ_MEMORY_MODE] |= VGA_SR04_CHN_4M;
            s.sr[VGA_SEQ_PLANE_WRITE] |= 0x0F;
            2
        };
        s.gr[VGA_GFX_MODE] = (s.gr[VGA_GFX_MODE] & !0x60) | (shift_control << 5);
        s.cr[VGA_CRTC_MAX_SCAN] &= !0x9F;
    }

    /// Clamps the VBE registers to a mode that fits in VRAM, as QEMU's
    /// `vbe_fixup_regs`, and derives pitch, virtual height and start.
    fn vbe_fixup_regs(&mut self) {
        if !self.vbe_enabled() {
            return;
        }
        let r = &mut self.s.vbe_regs;
        let bits: u32 = match r[3] {
            4 | 8 | 16 | 24 | 32 => u32::from(r[3]),
            15 => 16,
            _ => {
                r[3] = 8;
                8
            }
        };
        let (xres, vw, yres, xo, yo) = (1, 6, 2, 8, 9);
        r[xres] &= !7;
        if r[xres] == 0 {
            r[xres] = 8;
        }
        r[xres] = r[xres].min(VBE_DISPI_MAX_XRES);
        r[vw] &= !7;
        r[vw] = r[vw].min(VBE_DISPI_MAX_XRES).max(r[xres]);
        let line = u32::from(r[vw]) * bits / 8;
        let maxy = VRAM_SIZE as u32 / line;
        r[yres] = r[yres].clamp(1, VBE_DISPI_MAX_YRES);
        if u32::from(r[yres]) > maxy {
            r[yres] = maxy as u16;
        }
        r[xo] = r[xo].min(VBE_DISPI_MAX_XRES);
        r[yo] = r[yo].min(VBE_DISPI_MAX_YRES);
        let size = VRAM_SIZE as u32;
        let visible = u32::from(r[yres]) * line;
        let mut offset = u32::from(r[xo]) * bits / 8 + u32::from(r[yo]) * line;
        if offset + visible > size {
            r[yo] = 0;
            offset = u32::from(r[xo]) * bits / 8;
            if offset + visible > size {
                r[xo] = 0;
                offset = 0;
            }
        }
        r[7] = maxy as u16;
        self.s.vbe_line_offset = line;
        self.s.vbe_start_addr = offset / 4;
    }

    // ---- legacy memory window ----

    /// Translates an offset in the 0xA0000-0xBFFFF window through the
    /// memory map select (GR06 bits 2-3); `None` outside the mapped range.
    fn window_address(&self, offset: u32) -> Option<u32> {
        let addr = offset & 0x1FFFF;
        match (self.s.gr[VGA_GFX_MISC] >> 2) & 3 {
            0 => Some(addr),
            1 => (addr < 0x10000).then(|| addr.wrapping_add(self.s.bank_offset)),
            2 => addr.checked_sub(0x10000).filter(|a| *a < 0x8000),
            _ => addr.checked_sub(0x18000).filter(|a| *a < 0x8000),
        }
    }

    /// Reads `size` bytes at `offset` from 0xA0000 (below 0x20000), byte
    /// by byte as the VGA decodes them.
    pub fn mem_read(&mut self, offset: u32, size: AccessSize) -> u32 {
        read_wide(size, |i| {
            Some(self.mem_read_byte(offset.wrapping_add(i as u32)))
        })
    }

    /// Writes `size` bytes at `offset` from 0xA0000, byte by byte.
    pub fn mem_write(&mut self, offset: u32, size: AccessSize, value: u32) {
        if !matches!(size, 1 | 2 | 4) {
            return;
        }
        for i in 0..u32::from(size) {
            self.mem_write_byte(offset.wrapping_add(i), (value >> (8 * i)) as u8);
        }
        self.touch();
    }

    fn mem_read_byte(&mut self, offset: u32) -> u8 {
        let Some(addr) = self.window_address(offset) else {
            return 0xFF;
        };
        let s = &mut self.s;
        if s.sr[VGA_SEQ_MEMORY_MODE] & VGA_SR04_CHN_4M != 0 {
            s.vram[vram_index(addr)]
        } else if s.gr[VGA_GFX_MODE] & VGA_GR05_HOST_ODD_EVEN != 0 {
            let plane = (s.gr[VGA_GFX_PLANE_READ] & 2) as u32 | (addr & 1);
            s.vram[vram_index(((addr & !1) << 1) | plane)]
        } else {
            let base = planar_base(addr);
            s.latch = u32::from_le_bytes([
                s.vram[base],
                s.vram[base + 1],
                s.vram[base + 2],
                s.vram[base + 3],
            ]);
            if s.gr[VGA_GFX_MODE] & VGA_GR05_READ_MODE1 == 0 {
                (s.latch >> (8 * u32::from(s.gr[VGA_GFX_PLANE_READ] & 3))) as u8
            } else {
                let diff = (s.latch ^ mask16(s.gr[VGA_GFX_COMPARE_VALUE]))
                    & mask16(s.gr[VGA_GFX_COMPARE_MASK]);
                !(diff | diff >> 8 | diff >> 16 | diff >> 24) as u8
            }
        }
    }

    fn mem_write_byte(&mut self, offset: u32, val: u8) {
        let Some(addr) = self.window_address(offset) else {
            return;
        };
        let s = &mut self.s;
        let map_mask = s.sr[VGA_SEQ_PLANE_WRITE];
        if s.sr[VGA_SEQ_MEMORY_MODE] & VGA_SR04_CHN_4M != 0 {
            if map_mask & (1 << (addr & 3)) != 0 {
                s.vram[vram_index(addr)] = val;
            }
        } else if s.gr[VGA_GFX_MODE] & VGA_GR05_HOST_ODD_EVEN != 0 {
            let plane = (s.gr[VGA_GFX_PLANE_READ] & 2) as u32 | (addr & 1);
            if map_mask & (1 << plane) != 0 {
                s.vram[vram_index(((addr & !1) << 1) | plane)] = val;
            }
        } else {
            let value = planar_write_value(&s.gr, s.latch, val);
            let write_mask = mask16(map_mask);
            let base = planar_base(addr);
            for p in 0..4 {
                if write_mask & (0xFF << (8 * p)) != 0 {
                    s.vram[base + p] = (value >> (8 * p)) as u8;
                }
            }
        }
    }

    // ---- linear framebuffer and BAR2 ----

    /// Reads `size` bytes of VRAM at `offset` from BAR0; past VRAM reads
    /// all-ones.
    pub fn lfb_read(&self, offset: u64, size: AccessSize) -> u32 {
        read_wide(size, |i| {
            let at = usize::try_from(offset.checked_add(i)?).ok()?;
            self.s.vram.get(at).copied()
        })
    }

    /// Writes `size` bytes of VRAM at `offset` from BAR0; bytes past VRAM
    /// are dropped.
    pub fn lfb_write(&mut self, offset: u64, size: AccessSize, value: u32) {
        if !matches!(size, 1 | 2 | 4) {
            return;
        }
        for i in 0..u64::from(size) {
            let at = offset.checked_add(i).and_then(|a| usize::try_from(a).ok());
            if let Some(b) = at.and_then(|a| self.s.vram.get_mut(a)) {
                *b = (value >> (8 * i)) as u8;
            }
        }
        self.touch();
    }

    /// A read of the BAR2 MMIO window at `offset`.
    pub fn mmio_read(&mut self, offset: u64, size: AccessSize, now: VirtualTime) -> u32 {
        match offset {
            0x400..=0x41F => {
                let port = VGA_ATT_W + (offset - PCI_VGA_IOPORT_OFFSET) as u16;
                read_bytes(port, size, |p| {
                    if p <= 0x3DF {
                        self.vga_port_read(p, now)
                    } else {
                        0xFF
                    }
                })
            }
            0x500..=0x515 => {
                self.s.vbe_index = ((offset - PCI_VGA_BOCHS_OFFSET) / 2) as u16;
                let v = u32::from(self.dispi_read());
                if matches!(size, 1 | 2 | 4) {
                    (v >> (8 * (offset & 1))) & size_mask(size)
                } else {
                    all_ones(size)
                }
            }
            0x600 => PCI_VGA_QEXT_SIZE & size_mask(size),
            0x604 => PCI_VGA_QEXT_LITTLE_ENDIAN & size_mask(size),
            0..=0x3FF if matches!(size, 1 | 2 | 4) => 0,
            _ => all_ones(size),
        }
    }

    /// A write to the BAR2 MMIO window at `offset`.
    pub fn mmio_write(&mut self, offset: u64, size: AccessSize, value: u32, now: VirtualTime) {
        let _ = now;
        match offset {
            0x400..=0x41F => {
                let port = VGA_ATT_W + (offset - PCI_VGA_IOPORT_OFFSET) as u16;
                write_bytes(port, size, value, |p, v| {
                    if p <= 0x3DF {
                        self.vga_port_write(p, v)
                    }
                });
            }
            0x500..=0x515 if size == 2 && offset & 1 == 0 => {
                self.s.vbe_index = ((offset - PCI_VGA_BOCHS_OFFSET) / 2) as u16;
                self.dispi_write(value as u16);
            }
            _ => return,
        }
        self.touch();
    }

    // ---- direct programming ----

    /// Programs mode 3 (80x25 colour text, 9-dot 8x16 font, 720x400) as the
    /// VGA BIOS's int 10h AX=0003h does: registers, the 64-entry EGA
    /// palette in the DAC, `font_8x16` (256 glyphs of 16 rows) in plane 2
    /// and a screen of blank grey-on-black cells. For a direct kernel boot
    /// without an option ROM.
    pub fn set_text_mode_3(&mut self, font_8x16: &[u8; 4096]) {
        let s = &mut self.s;
        s.misc_output = 0x67;
        s.sr[..5].copy_from_slice(&MODE3_SEQ);
        s.cr[..MODE3_CRTC.len()].copy_from_slice(&MODE3_CRTC);
        s.ar.copy_from_slice(&MODE3_ATTR);
        s.gr[..MODE3_GFX.len()].copy_from_slice(&MODE3_GFX);
        s.ar_index = VGA_AR_ENABLE_DISPLAY;
        s.ar_flip_flop = false;
        s.palette.fill(0);
        for i in 0..64 {
            let c = |lo: u8, hi: u8| 0x2A * ((i >> lo) & 1) + 0x15 * ((i >> hi) & 1);
            s.palette[3 * usize::from(i)..3 * usize::from(i) + 3].copy_from_slice(&[
                c(2, 5),
                c(1, 4),
                c(0, 3),
            ]);
        }
        for (i, row) in font_8x16.chunks_exact(16).enumerate() {
            for (y, b) in row.iter().enumerate() {
                s.vram[(i * 32 + y) * 4 + 2] = *b;
            }
        }
        for cell in 0..0x4000 {
            s.vram[cell * 4] = b' ';
            s.vram[cell * 4 + 1] = 0x07;
        }
        self.touch();
    }
}

/// Sequencer registers 0-4 of mode 3.
const MODE3_SEQ: [u8; 5] = [0x03, 0x00, 0x03, 0x00, 0x02];
/// CRTC registers 0x00-0x18 of mode 3 (cursor on lines 13-14).
const MODE3_CRTC: [u8; 25] = [
    0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E, 0x00, 0x00, 0x00, 0x00,
    0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF,
];
/// Attribute controller registers of mode 3 (EGA palette, line graphics on,
/// blink on).
const MODE3_ATTR: [u8; VGA_ATT_C] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F,
    0x0C, 0x00, 0x0F, 0x08, 0x00,
];
/// Graphics controller registers of mode 3 (odd/even, B8000, text).
const MODE3_GFX: [u8; 9] = [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x00, 0xFF];

/// The 32-bit latch-wide value a planar write stores before the map mask:
/// write modes 0-3 with rotate, set/reset, function and bit mask.
fn planar_write_value(gr: &[u8; 16], latch: u32, val: u8) -> u32 {
    let rotate = u32::from(gr[VGA_GFX_DATA_ROTATE] & 7);
    let (value, bit_mask) = match gr[VGA_GFX_MODE] & 3 {
        0 => {
            let v = u32::from(val.rotate_right(rotate)) * 0x0101_0101;
            let set = mask16(gr[VGA_GFX_SR_ENABLE]);
            (
                (v & !set) | (mask16(gr[VGA_GFX_SR_VALUE]) & set),
                gr[VGA_GFX_BIT_MASK],
            )
        }
        1 => return latch,
        2 => (mask16(val), gr[VGA_GFX_BIT_MASK]),
        _ => (
            mask16(gr[VGA_GFX_SR_VALUE]),
            gr[VGA_GFX_BIT_MASK] & val.rotate_right(rotate),
        ),
    };
    let value = match gr[VGA_GFX_DATA_ROTATE] >> 3 {
        1 => value & latch,
        2 => value | latch,
        3 => value ^ latch,
        _ => value,
    };
    let bit_mask = u32::from(bit_mask) * 0x0101_0101;
    (value & bit_mask) | (latch & !bit_mask)
}

/// Expands the low 4 bits of `v` to a byte mask per plane.
pub(crate) fn mask16(v: u8) -> u32 {
    (0..4).fold(0, |m, p| {
        if v & (1 << p) != 0 {
            m | 0xFF << (8 * p)
        } else {
            m
        }
    })
}

/// The VRAM index of byte address `addr`, wrapped into VRAM.
pub(crate) fn vram_index(addr: u32) -> usize {
    addr as usize & (VRAM_SIZE - 1)
}

/// The VRAM index of plane 0 at planar address `addr`, wrapped into VRAM.
fn planar_base(addr: u32) -> usize {
    (addr as usize & (VRAM_SIZE / 4 - 1)) * 4
}

/// Input status 1 at `now`: vertical retrace for two lines of each 70 Hz
/// frame; "display disabled" during vertical blanking and the horizontal
/// blank of each line. The other bits keep their last value.
fn input_status_1(last: u8, now: VirtualTime) -> u8 {
    let in_frame = now % FRAME_NS;
    let line = in_frame / LINE_NS;
    let mut v = last & !(ST01_V_RETRACE | ST01_DISP_ENABLE);
    if (VRETRACE_START_LINE..VRETRACE_START_LINE + VRETRACE_LINES).contains(&line) {
        v |= ST01_V_RETRACE;
    }
    if line >= DISPLAY_LINES || in_frame % LINE_NS >= LINE_ACTIVE_NS {
        v |= ST01_DISP_ENABLE;
    }
    v
}

fn size_mask(size: AccessSize) -> u32 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => u32::MAX,
    }
}

fn all_ones(size: AccessSize) -> u32 {
    size_mask(size)
}

/// Assembles `size` bytes little-endian from `byte(i)`; a `None` byte reads
/// 0xFF; bad sizes read all-ones.
fn read_wide(size: AccessSize, mut byte: impl FnMut(u64) -> Option<u8>) -> u32 {
    if !matches!(size, 1 | 2 | 4) {
        return u32::MAX;
    }
    (0..u64::from(size)).fold(0, |acc, i| {
        acc | u32::from(byte(i).unwrap_or(0xFF)) << (8 * i)
    })
}

impl PciFunction for Vga {
    fn config(&self) -> &ConfigSpace {
        &self.config
    }

    fn config_write(&mut self, reg: u8, size: AccessSize, value: u32) {
        self.config.write(reg, size, value);
    }
}

impl Snapshot for Vga {
    type State = VgaState;

    fn save(&self) -> VgaState {
        let mut s = self.s.clone();
        s.config = self.config.bytes().to_vec();
        s
    }

    /// The state's encoding without cloning the 16 MiB of video memory
    /// (checkpoints take it often): the state with an empty video memory,
    /// whose length word is then replaced by the memory's. `config` and
    /// `vram` are the first two fields of the encoding; a test checks the
    /// bytes against `save().put()`.
    #[allow(clippy::clone_on_copy)]
    fn save_into(&self, out: &mut Vec<u8>) {
        let s = &self.s;
        let light = VgaState {
            config: self.config.bytes().to_vec(),
            vram: Vec::new(),
            latch: s.latch.clone(),
            misc_output: s.misc_output.clone(),
            feature_control: s.feature_control.clone(),
            st01: s.st01.clone(),
            sr_index: s.sr_index.clone(),
            sr: s.sr.clone(),
            gr_index: s.gr_index.clone(),
            gr: s.gr.clone(),
            ar_index: s.ar_index.clone(),
            ar: s.ar.clone(),
            ar_flip_flop: s.ar_flip_flop.clone(),
            cr_index: s.cr_index.clone(),
            cr: s.cr.clone(),
            pel_mask: s.pel_mask.clone(),
            dac_state: s.dac_state.clone(),
            dac_sub_index: s.dac_sub_index.clone(),
            dac_read_index: s.dac_read_index.clone(),
            dac_write_index: s.dac_write_index.clone(),
            dac_cache: s.dac_cache.clone(),
            palette: s.palette.clone(),
            dac_8bit: s.dac_8bit.clone(),
            vbe_index: s.vbe_index.clone(),
            vbe_regs: s.vbe_regs.clone(),
            vbe_start_addr: s.vbe_start_addr.clone(),
            vbe_line_offset: s.vbe_line_offset.clone(),
            bank_offset: s.bank_offset.clone(),
        };
        let start = out.len();
        anyx86_hw::wire::Wire::put(&light, out);
        let at = start + 4 + light.config.len();
        let tail = out.split_off(at + 4);
        out.truncate(at);
        anyx86_hw::wire::Wire::put(&s.vram, out);
        out.extend_from_slice(&tail);
    }

    fn restore(&mut self, state: &VgaState) -> Result<(), SnapshotError> {
        let bad = |field, why| Err(SnapshotError::Invalid { field, why });
        if state.vram.len() != VRAM_SIZE {
            return bad("vram", "video memory is not 16 MiB");
        }
        if state.cr.len() != VGA_CRTC_REGS {
            return bad("cr", "CRTC registers are not 256 bytes");
        }
        if state.palette.len() != 768 {
            return bad("palette", "DAC is not 768 bytes");
        }
        if state.dac_sub_index > 2 || state.sr_index > 7 || state.gr_index > 15 {
            return bad("index", "an index is out of range");
        }
        let mut config = self.config.clone();
        config.restore_bytes(&state.config)?;
        self.config = config;
        self.s = state.clone();
        self.touch();
        Ok(())
    }
}

#[cfg(test)]
#[path = "vga_tests.rs"]
mod tests;
