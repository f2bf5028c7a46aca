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
