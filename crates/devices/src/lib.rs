//! The PC chips of anyx86, one file per chip, each a pure register state
//! machine.
//!
//! | Module        | Chip                                          | Ports                             |
//! |---------------|-----------------------------------------------|-----------------------------------|
//! | [`pic8259`]   | two cascaded 8259A PICs + PIIX ELCR           | 0x20-0x21, 0xA0-0xA1, 0x4D0-0x4D1 |
//! | [`pit8254`]   | 8254 PIT + system control port B              | 0x40-0x43, 0x61                   |
//! | [`uart16550`] | 16550A UART, one per COM port                 | 8 registers (COM1: 0x3F8-0x3FF)   |
//! | [`cmos`]      | MC146818 RTC + 128 bytes of CMOS RAM          | 0x70-0x71                         |
//! | [`i8042`]     | 8042 keyboard controller (owns the PS/2 pair) | 0x60, 0x64; IRQ 1, IRQ 12         |
//! | [`ps2`]       | PS/2 keyboard and mouse (used by `i8042`)     | -                                 |
//! | [`port92`]    | system control port A                         | 0x92                              |
//! | [`lapic`]     | local APIC (xAPIC), one CPU                   | MMIO 0xFEE00000, 4 KiB            |
//! | [`ioapic`]    | 82093AA I/O APIC, 24 pins                     | MMIO 0xFEC00000                   |
//! | [`hpet`]      | HPET timer block, 3 timers at 100 MHz         | MMIO 0xFED00000-0xFED003FF        |
//! | [`fw_cfg`]    | QEMU firmware configuration + DMA             | 0x510-0x51B                       |
//! | [`pci`]       | PCI config mechanism #1, type-0 header        | 0xCF8-0xCFF                       |
//! | [`i440fx`]    | 82441FX host bridge, PCI 00:00.0 (PAM, SMRAM) | PCI configuration only            |
//! | [`piix`]      | PIIX3 ISA bridge 00:01.0, PIIX4 PM 00:01.3    | PCI configuration; RCR 0xCF9      |
//! | [`acpi_pm`]   | PIIX4 PM I/O block (PM1, PM timer, GPE0), APM | 64 ports at PMBA; 0xB2-0xB3       |
//! | [`ide`]       | PIIX3 IDE 00:01.1: ATA disks, bus-master DMA  | 0x1F0-0x1F7, 0x3F6, 0x170-0x177, 0x376, 16 at BMIBA |
//! | [`atapi`]     | ATAPI CD-ROM packet commands (used by `ide`)  | -                                 |
//! | [`dma8237`]   | two 8237A DMA controllers + page registers    | 0x00-0x0F, 0xC0-0xDF, 0x80-0x8F   |
//! | [`fdc`]       | 82077AA floppy controller (PC/AT mode)        | 0x3F0-0x3F5, 0x3F7; IRQ 6, DMA 2  |
//! | [`vga`]       | QEMU standard VGA 00:02.0 + Bochs VBE (DISPI) | 0x3B0-0x3DF, 0x1CE-0x1D0, 0xA0000-0xBFFFF, BAR0 LFB, BAR2 |
//! | [`vga_render`]| drawing the VGA's screen, text cells          | -                                 |
//!
//! Devices never see the CPU, the scheduler or each other. Each takes the
//! virtual time of the access (`now`, nanoseconds since power-on) where its
//! registers depend on time, reports its interrupt output as a level, and
//! tells the machine its next deadline when it has one. The machine owns the
//! wiring: which port range maps to which device, which IRQ line each output
//! drives, when to call `update` at a deadline. Each module's doc shows the
//! wiring it expects.
//!
//! Every device has a plain-data `State` (all fields public, `Default` is the
//! power-on state) and implements [`anyx86_hw::Snapshot`]; `restore`
//! validates the sizes and ranges a device relies on and fires no side
//! effects.
//!
//! Accesses wider than one byte to these byte-wide chips are split into byte
//! accesses at consecutive ports, lowest port first, as the ISA bus does; an
//! access size other than 1, 2 or 4 reads as all-ones and is ignored on
//! write.
#![forbid(unsafe_code)]

pub mod acpi_pm;
pub mod atapi;
pub mod cmos;
pub mod dma8237;
pub mod fdc;
pub mod fw_cfg;
pub mod hpet;
pub mod i440fx;
pub mod i8042;
pub mod ide;
pub mod ioapic;
pub mod lapic;
pub mod pc_testdev;
pub mod pci;
pub mod pic8259;
pub mod piix;
pub mod pit8254;
pub mod port92;
pub mod ps2;
pub mod uart16550;
pub mod vga;
pub mod vga_render;

pub use acpi_pm::{AcpiPm, AcpiPmState};
pub use cmos::{Cmos, CmosState};
pub use dma8237::{Dma8237, Dma8237State, DmaTransfer};
pub use fdc::{Fdc, FdcError, FdcState, FloppyFormat};
pub use fw_cfg::{FwCfg, FwCfgError, FwCfgState};
pub use hpet::{Hpet, HpetRoute, HpetState};
pub use i440fx::{I440fx, I440fxState, Pam};
pub use i8042::{I8042State, I8042};
pub use ide::{Ide, IdeChannelState, IdeDriveKind, IdeDriveState, IdePhase, IdeState};
pub use ioapic::{IoApic, IoApicState};
pub use lapic::{ApicMessage, DeliveryMode, Lapic, LapicState};
pub use pc_testdev::{PcTestdev, PcTestdevState};
pub use pci::{absent_read, BarKind, ConfigSpace, PciAddress, PciFunction, PciHost, PciHostState};
pub use pic8259::{PicPair, PicState};
pub use piix::{Piix3Isa, Piix3IsaState, Piix4Pm, Piix4PmState};
pub use pit8254::{Pit, PitState};
pub use port92::{Port92, Port92State};
pub use ps2::{KeyCode, Ps2Keyboard, Ps2KeyboardState, Ps2Mouse, Ps2MouseState};
pub use uart16550::{Uart, UartState};
pub use vga::{Vga, VgaState};
pub use vga_render::{Frame, RenderOptions, TextCursor, TextScreen};

use anyx86_hw::AccessSize;

/// Performs a read of `size` bytes as byte reads at `offset`, `offset + 1`,
/// ... and assembles them little-endian. Bad sizes read as all-ones.
pub(crate) fn read_bytes(offset: u16, size: AccessSize, mut read: impl FnMut(u16) -> u8) -> u32 {
    match size {
        1 | 2 | 4 => (0..u16::from(size)).fold(0u32, |acc, i| {
            acc | u32::from(read(offset.wrapping_add(i))) << (8 * u32::from(i))
        }),
        _ => u32::MAX,
    }
}

/// Performs a write of the low `size` bytes of `value` as byte writes at
/// `offset`, `offset + 1`, ... Bad sizes are ignored.
pub(crate) fn write_bytes(
    offset: u16,
    size: AccessSize,
    value: u32,
    mut write: impl FnMut(u16, u8),
) {
    if matches!(size, 1 | 2 | 4) {
        for i in 0..u16::from(size) {
            write(offset.wrapping_add(i), (value >> (8 * u32::from(i))) as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_reads_are_split_little_endian() {
        // Each byte register returns its own offset + 0x10.
        let v = read_bytes(2, 4, |o| o as u8 + 0x10);
        assert_eq!(v, 0x1514_1312);
    }

    #[test]
    fn bad_sizes_read_all_ones_and_ignore_writes() {
        assert_eq!(read_bytes(0, 3, |_| 0), u32::MAX);
        let mut touched = false;
        write_bytes(0, 0, 0x55, |_, _| touched = true);
        assert!(!touched);
    }
}
