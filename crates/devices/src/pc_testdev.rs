//! QEMU's `pc-testdev`: the ISA test device that kvm-unit-tests and other
//! test kernels written for QEMU (`-device pc-testdev`) drive.
//!
//! It is not hardware: its "datasheet" is QEMU's `hw/misc/pc-testdev.c`.
//! What a test kernel can see of it (the machine's `layout.rs` has the
//! addresses; the methods here take offsets):
//!
//! - ports 0xE0-0xE3: a 32-bit scratch register, read and written at any
//!   width at an aligned offset (byte `n` of the register is port
//!   0xE0 + n). QEMU's memory core refuses an access not aligned to its
//!   size (a word at 0xE1, a dword at 0xE2): it reads 0 and a write is
//!   dropped; QEMU 7.2 shows exactly that;
//! - ports 0xE4-0xE7: "flush page": a dword write names a guest page whose
//!   host mapping QEMU re-protects (for KVM's dirty-page tests). An
//!   interpreter has no host mapping to flush, so the write is accepted
//!   and has no effect a guest can observe. Reads give 0;
//! - ports 0xE8-0xEB: the same scratch register again, accessed one byte
//!   at a time (a word or dword access there composes the bytes, which is
//!   what the first window gives as well);
//! - ports 0x2000-0x2017: one port per ISA interrupt line 0-23; a byte
//!   written there drives the line high (non-zero) or low (zero). The
//!   machine wires the line to the 8259 pair and the I/O APIC pin;
//! - memory 0xFF000000-0xFF00FFFF: 64 KiB of device RAM, little-endian,
//!   read and written at any width.
//!
//! # Differences from QEMU
//!
//! - QEMU's memory window writes the value with `memcpy`, then stores its
//!   low byte again at the same place: the same result, kept.
//! - QEMU accepts only byte writes to the IRQ ports (`valid` sizes 1); a
//!   wider write there is dropped here, as QEMU's memory core does.
//! - QEMU 7.2 aborts (an assertion in `isa_get_irq`) when a guest writes
//!   an IRQ port for lines 16-23; here those lines drive I/O APIC pins
//!   16-23, which is what the device did before the ISA bus limited it.

use anyx86_hw::{Snapshot, SnapshotError};

/// Interrupt lines the IRQ ports drive (ISA lines 0-23).
pub const TESTDEV_LINES: u16 = 24;
/// Bytes in the memory window.
pub const TESTDEV_IOMEM_LEN: u64 = 0x1_0000;

/// Plain-data state of the test device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcTestdevState {
    /// The scratch register behind ports 0xE0-0xE3 and 0xE8-0xEB.
    pub data: u32,
    /// The memory window's contents.
    pub iomem: Vec<u8>,
    /// Lines 0-23 as last driven through the IRQ ports (bit n = line n).
    pub lines: u32,
}
anyx86_hw::wire_struct!(PcTestdevState { data, iomem, lines });

impl Default for PcTestdevState {
    fn default() -> Self {
        Self {
            data: 0,
            iomem: vec![0; TESTDEV_IOMEM_LEN as usize],
            lines: 0,
        }
    }
}

/// QEMU's ISA test device.
#[derive(Debug, Clone, Default)]
pub struct PcTestdev {
    state: PcTestdevState,
}

/// A bit mask of `size` bytes (1-4).
fn ones(size: u8) -> u32 {
    u32::MAX >> (32 - 8 * u32::from(size.clamp(1, 4)))
}

/// True when an access of `size` bytes at `off` is aligned to its size.
fn aligned(off: u16, size: u8) -> bool {
    off & (u16::from(size.clamp(1, 4)) - 1) == 0
}

impl PcTestdev {
    /// The device at power-on: register and memory zero, lines low.
    pub fn new() -> Self {
        Self::default()
    }

    /// A port read at offset `off` from the first port (0xE0) (0-11).
    pub fn port_read(&self, off: u16, size: u8) -> u32 {
        if !aligned(off, size) {
            return 0;
        }
        match off {
            0..=3 | 8..=11 => {
                let shift = 8 * u32::from(off & 3);
                // Bytes past the register's end read as zero (QEMU's
                // shifted mask drops them).
                (u64::from(self.state.data) >> shift) as u32 & ones(size)
            }
            _ => 0,
        }
    }

    /// A port write at offset `off` from the first port (0xE0) (0-11).
    pub fn port_write(&mut self, off: u16, size: u8, v: u32) {
        if !aligned(off, size) {
            return;
        }
        if let 0..=3 | 8..=11 = off {
            let shift = 8 * u32::from(off & 3);
            let mask = (u64::from(ones(size)) << shift) as u32;
            let value = (u64::from(v & ones(size)) << shift) as u32;
            self.state.data = (self.state.data & !mask) | value;
        }
        // 4..=7: the flush-page register; nothing to flush here.
    }

    /// A write to IRQ port `line` (0-23): returns the line and its new
    /// level for the machine to drive, or `None` for a write it drops.
    pub fn irq_write(&mut self, line: u16, size: u8, v: u32) -> Option<(u8, bool)> {
        if line >= TESTDEV_LINES || size != 1 {
            return None;
        }
        let level = v & 0xFF != 0;
        let bit = 1u32 << line;
        self.state.lines = if level {
            self.state.lines | bit
        } else {
            self.state.lines & !bit
        };
        Some((line as u8, level))
    }

    /// A read of the memory window at `off`, `size` bytes (1-8),
    /// little-endian; bytes past the window's end read as zero.
    pub fn mem_read(&self, off: u32, size: u8) -> u64 {
        (0..u32::from(size.min(8))).fold(0, |acc, i| {
            let b = self
                .state
                .iomem
                .get(off.wrapping_add(i) as usize)
                .copied()
                .unwrap_or(0);
            acc | u64::from(b) << (8 * i)
        })
    }

    /// A write to the memory window at `off`, `size` bytes (1-8),
    /// little-endian; bytes past the window's end are dropped.
    pub fn mem_write(&mut self, off: u32, size: u8, v: u64) {
        for i in 0..u32::from(size.min(8)) {
            if let Some(b) = self.state.iomem.get_mut(off.wrapping_add(i) as usize) {
                *b = (v >> (8 * i)) as u8;
            }
        }
    }
}

impl Snapshot for PcTestdev {
    type State = PcTestdevState;

    fn save(&self) -> PcTestdevState {
        self.state.clone()
    }

    fn restore(&mut self, state: &PcTestdevState) -> Result<(), SnapshotError> {
        if state.iomem.len() != TESTDEV_IOMEM_LEN as usize {
            return Err(SnapshotError::Invalid {
                field: "iomem",
                why: "the memory window is 64 KiB",
            });
        }
        if state.lines >> TESTDEV_LINES != 0 {
            return Err(SnapshotError::Invalid {
                field: "lines",
                why: "there are 24 lines",
            });
        }
        self.state = state.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scratch_register_is_one_dword_behind_both_windows() {
        let mut d = PcTestdev::new();
        d.port_write(0, 4, 0x1234_5678);
        assert_eq!(d.port_read(0, 4), 0x1234_5678);
        assert_eq!(d.port_read(1, 1), 0x56);
        assert_eq!(d.port_read(2, 2), 0x1234);
        assert_eq!(d.port_read(3, 4), 0, "unaligned: refused, reads 0");
        // The byte window (0xE8) sees the same register.
        assert_eq!(d.port_read(8, 4), 0x1234_5678);
        d.port_write(10, 1, 0xAB);
        assert_eq!(d.port_read(0, 4), 0x12AB_5678);
        d.port_write(2, 2, 0xFFFF_CDEF);
        assert_eq!(d.port_read(0, 4), 0xCDEF_5678, "only the access's bytes");
        d.port_write(1, 2, 0x1111);
        assert_eq!(d.port_read(0, 4), 0xCDEF_5678, "unaligned: dropped");
    }

    #[test]
    fn flush_is_accepted_and_changes_nothing() {
        let mut d = PcTestdev::new();
        d.port_write(0, 4, 7);
        d.port_write(4, 4, 0x1000);
        assert_eq!(d.port_read(0, 4), 7);
        assert_eq!(d.port_read(4, 4), 0);
    }

    #[test]
    fn irq_ports_drive_lines_with_byte_writes_only() {
        let mut d = PcTestdev::new();
        assert_eq!(d.irq_write(10, 1, 1), Some((10, true)));
        assert_eq!(d.irq_write(23, 1, 0x100), Some((23, false)), "low byte");
        assert_eq!(d.irq_write(10, 2, 0), None);
        assert_eq!(d.irq_write(24, 1, 1), None);
        assert_eq!(d.save().lines, 1 << 10);
    }

    #[test]
    fn memory_window_is_little_endian_and_bounded() {
        let mut d = PcTestdev::new();
        d.mem_write(0x10, 8, 0x0807_0605_0403_0201);
        assert_eq!(d.mem_read(0x10, 1), 1);
        assert_eq!(d.mem_read(0x13, 2), 0x0504);
        assert_eq!(d.mem_read(0x10, 8), 0x0807_0605_0403_0201);
        d.mem_write(0xFFFE, 4, 0xAABB_CCDD);
        assert_eq!(d.mem_read(0xFFFE, 4), 0xCCDD, "past the end: dropped, 0");
        let mut e = PcTestdev::new();
        e.restore(&d.save()).expect("restore");
        assert_eq!(e.mem_read(0x10, 8), 0x0807_0605_0403_0201);
        let bad = PcTestdevState {
            iomem: vec![0; 3],
            ..PcTestdevState::default()
        };
        assert!(e.restore(&bad).is_err());
    }
}
