//! Every magic address, port and IRQ number of the board, in one place.

/// I/O ports.
pub mod port {
    /// 8259A master PIC (command, data).
    pub const PIC_MASTER: u16 = 0x20;
    /// 8254 PIT channels 0-2 and the mode register.
    pub const PIT: u16 = 0x40;
    /// i8042 keyboard controller data port.
    pub const I8042_DATA: u16 = 0x60;
    /// System control port B (PIT channel 2 gate, speaker, refresh).
    pub const PORT61: u16 = 0x61;
    /// i8042 status / command port.
    pub const I8042_CMD: u16 = 0x64;
    /// CMOS/RTC index (bit 7: NMI mask).
    pub const CMOS_INDEX: u16 = 0x70;
    /// CMOS/RTC data.
    pub const CMOS_DATA: u16 = 0x71;
    /// POST code port.
    pub const POST: u16 = 0x80;
    /// System control port A (fast A20, fast reset).
    pub const PORT92: u16 = 0x92;
    /// 8259A slave PIC.
    pub const PIC_SLAVE: u16 = 0xA0;
    /// Bochs/QEMU debug console.
    pub const DEBUGCON: u16 = 0xE9;
    /// Primary IDE channel's command block (8 ports).
    pub const IDE0: u16 = 0x1F0;
    /// Primary IDE channel's control block (alternate status / device
    /// control).
    pub const IDE0_CTL: u16 = 0x3F6;
    /// Secondary IDE channel's command block.
    pub const IDE1: u16 = 0x170;
    /// Secondary IDE channel's control block.
    pub const IDE1_CTL: u16 = 0x376;
    /// Ports in an IDE command block.
    pub const IDE_LEN: u16 = 8;
    /// Ports of the IDE bus-master block (BAR4).
    pub const IDE_BM_LEN: u16 = 16;
    /// The floppy controller, 0x3F0-0x3F7 (0x3F6 belongs to IDE).
    pub const FDC: u16 = 0x3F0;
    /// Ports from [`FDC`] the floppy controller decodes.
    pub const FDC_LEN: u16 = 8;
    /// The VGA's registers, 0x3B0-0x3DF.
    pub const VGA: u16 = 0x3B0;
    /// Ports from [`VGA`] the VGA decodes.
    pub const VGA_LEN: u16 = 0x30;
    /// The Bochs VBE (DISPI) index and data ports, 0x1CE-0x1D0.
    pub const VBE_DISPI: u16 = 0x1CE;
    /// SeaBIOS's debug log port (QEMU `-debugcon` at `iobase=0x402`).
    pub const FIRMWARE_LOG: u16 = 0x402;
    /// QEMU isa-debug-exit (`iobase=0xf4,iosize=0x04`).
    pub const EXIT: u16 = 0xF4;
    /// Bytes covered by the exit device.
    pub const EXIT_LEN: u16 = 4;
    /// COM1.
    pub const COM1: u16 = 0x3F8;
    /// COM2.
    pub const COM2: u16 = 0x2F8;
    /// COM3.
    pub const COM3: u16 = 0x3E8;
    /// COM4.
    pub const COM4: u16 = 0x2E8;
    /// Registers of one 16550.
    pub const UART_LEN: u16 = 8;
    /// ELCR (edge/level control), master and slave.
    pub const ELCR: u16 = 0x4D0;
    /// Coprocessor error latch: a write clears IRQ13 (FERR#).
    pub const FPU_ERROR: u16 = 0xF0;
    /// Bochs's shutdown port (writes of "Shutdown" are ignored here).
    pub const BOCHS_SHUTDOWN: u16 = 0x8900;
    /// APM control port (the FADT's SMI_CMD: ACPI enable/disable).
    pub const APM_CNT: u16 = 0xB2;
    /// APM status port.
    pub const APM_STS: u16 = 0xB3;
    /// PCI CONFIG_ADDRESS (mechanism #1, 32-bit accesses only).
    pub const PCI_ADDRESS: u16 = 0xCF8;
    /// The PIIX3 reset control register (byte accesses; it overlaps
    /// CONFIG_ADDRESS, which takes only dwords).
    pub const RESET_CONTROL: u16 = 0xCF9;
    /// PCI CONFIG_DATA, 0xCFC-0xCFF.
    pub const PCI_DATA: u16 = 0xCFC;
    /// QEMU's fw_cfg: selector 0x510, data 0x511, DMA address 0x514-0x51B.
    pub const FW_CFG: u16 = 0x510;
    /// Ports covered by fw_cfg.
    pub const FW_CFG_LEN: u16 = 12;
    /// Where the machine (or SeaBIOS, with QEMU's table loader) puts the
    /// PIIX4 PM block; the FADT says the same.
    pub const PM_BASE: u16 = 0x600;
    /// Size of the PM block.
    pub const PM_LEN: u16 = 64;
    /// QEMU's `pc-testdev`: scratch register (0xE0-0xE3), flush-page
    /// register (0xE4-0xE7), byte-wise scratch register (0xE8-0xEB; 0xE9
    /// stays the debug console's, as in QEMU with `-debugcon`).
    pub const TESTDEV: u16 = 0xE0;
    /// Ports from [`TESTDEV`] the test device decodes.
    pub const TESTDEV_LEN: u16 = 12;
    /// The test device's IRQ-line ports, one per ISA line 0-23.
    pub const TESTDEV_IRQ: u16 = 0x2000;
}

/// Memory-mapped devices of the full PC.
pub mod mmio {
    /// The local APIC's default base (IA32_APIC_BASE moves it).
    pub const LAPIC: u64 = 0xFEE0_0000;
    /// Size of the local APIC page.
    pub const LAPIC_LEN: u64 = 0x1000;
    /// The I/O APIC.
    pub const IOAPIC: u64 = 0xFEC0_0000;
    /// Size of the I/O APIC window.
    pub const IOAPIC_LEN: u64 = 0x1000;
    /// The HPET.
    pub const HPET: u64 = 0xFED0_0000;
    /// Size of the HPET block.
    pub const HPET_LEN: u64 = 0x400;
    /// The VGA's legacy memory window.
    pub const VGA_WINDOW: u64 = 0xA_0000;
    /// Its size (0xA0000-0xBFFFF).
    pub const VGA_WINDOW_LEN: u64 = 0x2_0000;
    /// The VGA framebuffer BAR's size (16 MiB of VRAM, as QEMU).
    pub const VGA_LFB_LEN: u64 = 0x100_0000;
    /// The VGA register BAR's size.
    pub const VGA_MMIO_LEN: u64 = 0x1000;
    /// The VGA expansion-ROM BAR's size (the 39 KiB VGA BIOS rounded up).
    pub const VGA_ROM_LEN: u64 = 0x1_0000;
    /// QEMU's `pc-testdev` memory window (64 KiB, when the device is
    /// added).
    pub const TESTDEV: u64 = 0xFF00_0000;
}

/// PCI device numbers on bus 0 (QEMU's `pc` layout).
pub mod pci {
    /// i440FX host bridge (00:00.0).
    pub const HOST: u8 = 0;
    /// PIIX3: ISA bridge (function 0), IDE (1), PIIX4 PM (3).
    pub const PIIX: u8 = 1;
    /// The IDE function of the PIIX3.
    pub const IDE_FUNC: u8 = 1;
    /// QEMU's standard VGA (00:02.0).
    pub const VGA: u8 = 2;
    /// ISA IRQs the PCI interrupt links PIRQA-D are routed to, as SeaBIOS
    /// programs them on QEMU (the machine does it for a direct boot).
    pub const PIRQ_IRQS: [u8; 4] = [10, 10, 11, 11];
}

/// ISA interrupt lines.
pub mod irq {
    /// PIT channel 0.
    pub const PIT: u8 = 0;
    /// Keyboard.
    pub const KEYBOARD: u8 = 1;
    /// COM2 and COM4.
    pub const COM2_4: u8 = 3;
    /// COM1 and COM3.
    pub const COM1_3: u8 = 4;
    /// RTC.
    pub const RTC: u8 = 8;
    /// PS/2 auxiliary device (mouse port of the i8042).
    pub const MOUSE: u8 = 12;
    /// x87 FPU error (FERR#).
    pub const FPU: u8 = 13;
    /// ACPI SCI (PIIX4 PM), level-triggered.
    pub const SCI: u8 = 9;
    /// Floppy controller.
    pub const FDC: u8 = 6;
    /// Primary IDE channel.
    pub const IDE0: u8 = 14;
    /// Secondary IDE channel.
    pub const IDE1: u8 = 15;

    /// The I/O APIC pin of ISA IRQ `irq`: identity, except the timer on
    /// pin 2 (QEMU's wiring, and the MADT's interrupt source override).
    pub const fn ioapic_pin(irq: u8) -> u8 {
        if irq == PIT {
            2
        } else {
            irq
        }
    }
}

/// Physical memory.
pub mod mem {
    /// End of conventional memory reported to guests (640 KiB).
    pub const LOW_RAM_END: u64 = 0xA_0000;
    /// Start of extended memory.
    pub const HIGH_RAM_START: u64 = 0x10_0000;
    /// Extended BIOS data area (the top 1 KiB of conventional memory),
    /// reserved in the E820 map as PC firmware would.
    pub const EBDA_START: u64 = 0x9_FC00;
    /// The system BIOS area below 1 MiB.
    pub const BIOS_AREA_START: u64 = 0xF_0000;
}

/// Address of the physical page holding `a`.
pub const fn page_of(a: u64) -> u64 {
    a & !0xFFF
}
