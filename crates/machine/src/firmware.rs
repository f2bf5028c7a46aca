//! The firmware the `pc` machine ships with, and what the machine tells it.
//!
//! SeaBIOS (`firmware/seabios/`, provenance in its README) is embedded in
//! the executable: with neither `--kernel` nor `--bios`, the machine starts
//! in it. It learns the board from fw_cfg and PCI as on QEMU's `pc`; this
//! module adds what is specific to a firmware boot: the boot order in CMOS
//! (QEMU's encoding) and the serial console.

use crate::machine::Machine;
use anyx86_devices::cmos::{REG_BOOT_DEVICES, REG_BOOT_FLAG1};
use std::fmt;

/// SeaBIOS 1.16.2 from Debian's `seabios` 1.16.2-1 (`bios-256k.bin`).
pub static SEABIOS: &[u8] = include_bytes!("../../../firmware/seabios/bios-256k.bin");

/// SeaBIOS 1.16.2's VGA BIOS for QEMU's standard VGA (Debian's
/// `vgabios-stdvga.bin`), behind the VGA's expansion-ROM BAR.
pub static VGABIOS: &[u8] = include_bytes!("../../../firmware/seabios/vgabios-stdvga.bin");

/// Bytes in an 8x16 font of 256 glyphs.
const FONT_8X16_LEN: usize = 256 * 16;

/// The first two glyphs of the VGA BIOS's 8x16 font: the blank glyph 0 and
/// glyph 1, the white smiley of code page 437, row by row.
const FONT_8X16_HEAD: [u8; 32] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
    0x00, 0x00, 0x7E, 0x81, 0xA5, 0x81, 0x81, 0xBD, 0x99, 0x81, 0x81, 0x7E, 0x00, 0x00, 0x00, 0x00,
];

/// Glyph 0x41 ('A') of the same font, to confirm a match.
const FONT_8X16_A: [u8; 16] = [
    0x00, 0x00, 0x10, 0x38, 0x6C, 0xC6, 0xC6, 0xFE, 0xC6, 0xC6, 0xC6, 0xC6, 0x00, 0x00, 0x00, 0x00,
];

/// The 8x16 text font of the embedded VGA BIOS (the one int 10h loads into
/// plane 2 for mode 3), for a direct kernel boot, which runs no VGA BIOS.
/// Found by its first glyphs rather than by offset, so a different build of
/// the ROM still works; `None` if the ROM has no such font.
pub(crate) fn vga_font_8x16() -> Option<&'static [u8; FONT_8X16_LEN]> {
    let start = VGABIOS
        .windows(FONT_8X16_HEAD.len())
        .position(|w| w == FONT_8X16_HEAD)?;
    let font: &[u8; FONT_8X16_LEN] = VGABIOS.get(start..start + FONT_8X16_LEN)?.try_into().ok()?;
    (font[0x41 * 16..0x42 * 16] == FONT_8X16_A).then_some(font)
}

/// The COM1 port SeaBIOS's serial console uses (`etc/sercon-port`).
const SERCON_PORT: u16 = 0x3F8;

/// A boot device class, as QEMU's `-boot` letters and CMOS codes name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootDevice {
    /// `a` (or `b`): the floppy drive.
    Floppy,
    /// `c`: the first hard disk.
    HardDisk,
    /// `d`: the CD-ROM drive.
    Cdrom,
    /// `n`: the network (no NIC yet: the BIOS skips it).
    Network,
}

impl BootDevice {
    /// QEMU's CMOS code for the device.
    fn cmos_code(self) -> u8 {
        match self {
            BootDevice::Floppy => 1,
            BootDevice::HardDisk => 2,
            BootDevice::Cdrom => 3,
            BootDevice::Network => 4,
        }
    }
}

/// The order the BIOS tries boot devices in (at most three, as in CMOS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootOrder(Vec<BootDevice>);

/// A `--boot` value that is not a boot order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadBootOrder(String);

impl fmt::Display for BadBootOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad boot order {:?}: use up to three of a (floppy), c (disk), d (CD-ROM), n (network), e.g. \"dc\"",
            self.0
        )
    }
}

impl std::error::Error for BadBootOrder {}

impl Default for BootOrder {
    /// QEMU's default, `cad`: hard disk, floppy, CD-ROM. The BIOS skips
    /// classes with no device, so a lone CD still boots.
    fn default() -> Self {
        BootOrder(vec![
            BootDevice::HardDisk,
            BootDevice::Floppy,
            BootDevice::Cdrom,
        ])
    }
}

impl BootOrder {
    /// Parses QEMU's `-boot` syntax: `dc`, or `order=dc`.
    pub fn parse(s: &str) -> Result<Self, BadBootOrder> {
        let letters = s.strip_prefix("order=").unwrap_or(s);
        let bad = || BadBootOrder(s.to_owned());
        if letters.is_empty() || letters.len() > 3 {
            return Err(bad());
        }
        let mut v = Vec::new();
        for c in letters.chars() {
            let d = match c {
                'a' | 'b' => BootDevice::Floppy,
                'c' => BootDevice::HardDisk,
                'd' => BootDevice::Cdrom,
                'n' => BootDevice::Network,
                _ => return Err(bad()),
            };
            if v.contains(&d) {
                return Err(bad());
            }
            v.push(d);
        }
        Ok(BootOrder(v))
    }

    /// The devices, first to try first.
    pub fn devices(&self) -> &[BootDevice] {
        &self.0
    }

    /// CMOS 0x3D (first and second device) and 0x38 bits 7-4 (third; bit 0
    /// clear: the floppy boot sector's signature is checked).
    fn cmos(&self) -> (u8, u8) {
        let code = |i: usize| self.0.get(i).map_or(0, |d| d.cmos_code());
        (code(1) << 4 | code(0), code(2) << 4)
    }
}

impl Machine {
    /// Tells the firmware the boot order and, when nobody sees the screen,
    /// turns on its serial console (its screen goes to COM1 too, as with
    /// QEMU's `-nographic`).
    pub(crate) fn setup_firmware_boot(&mut self, order: &BootOrder, serial_console: bool) {
        let (devices, flag1) = order.cmos();
        self.board.set_cmos_config(REG_BOOT_DEVICES, devices);
        self.board.set_cmos_config(REG_BOOT_FLAG1, flag1);
        if let (true, Some(pc)) = (serial_console, self.board.pc.as_deref_mut()) {
            // Distinct short name: adding cannot fail.
            let _ = pc
                .fw_cfg
                .add_file("etc/sercon-port", SERCON_PORT.to_le_bytes().to_vec());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_bios_is_seabios_1_16_2() {
        assert_eq!(SEABIOS.len(), 256 << 10);
        let version = b"1.16.2-debian-1.16.2-1";
        assert!(SEABIOS.windows(version.len()).any(|w| w == version));
        // The reset vector is a far jump (EA) in the last 16 bytes.
        assert_eq!(SEABIOS[SEABIOS.len() - 16], 0xEA);
    }

    #[test]
    fn the_vga_bios_font_is_found_whole() {
        let font = vga_font_8x16().expect("the VGA BIOS carries its 8x16 font");
        // Glyph 0xDB of code page 437 is the full block, 0x20 the blank.
        assert!(font[0xDB * 16..0xDC * 16].iter().all(|&r| r == 0xFF));
        assert!(font[0x20 * 16..0x21 * 16].iter().all(|&r| r == 0));
        // 'x': rows 5-10 hold the cross, nothing above the x-height.
        let x = &font[usize::from(b'x') * 16..usize::from(b'x') * 16 + 16];
        assert_eq!(&x[..5], &[0; 5]);
        assert_ne!(x[5], 0);
    }

    #[test]
    fn boot_orders_parse_as_qemu_spells_them() {
        use BootDevice::*;
        assert_eq!(BootOrder::parse("d").unwrap().devices(), [Cdrom]);
        assert_eq!(
            BootOrder::parse("order=dca").unwrap().devices(),
            [Cdrom, HardDisk, Floppy]
        );
        for bad in ["", "x", "dd", "abcd", "order=", "C"] {
            assert!(BootOrder::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn boot_order_goes_to_cmos_as_qemu_encodes_it() {
        // QEMU's default "cad": 0x3D = a<<4 | c = 0x12, 0x38 = d<<4 = 0x30.
        assert_eq!(BootOrder::default().cmos(), (0x12, 0x30));
        assert_eq!(BootOrder::parse("d").unwrap().cmos(), (0x03, 0x00));
    }
}
