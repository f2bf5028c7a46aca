//! Intel 82441FX PCI and Memory Controller (PMC), the host bridge of the
//! i440FX chipset and of QEMU's `pc` machine, at PCI 00:00.0.
//!
//! Reference: Intel 82441FX PCI and Memory Controller (PMC) datasheet,
//! section 3.2 (configuration registers): PAM0-PAM6 (0x59-0x5F, the
//! programmable attribute maps of the BIOS and expansion ROM areas) and
//! SMRAM (0x72, the SMRAM control register); QEMU `hw/pci-host/i440fx.c`
//! (IDs, subsystem 1AF4:1100 that SeaBIOS's `qemu_detect` checks).
//!
//! # Wiring
//!
//! The machine dispatches configuration cycles for 00:00.0 to
//! [`I440fx::config_read`] / [`I440fx::config_write`]. After each write it
//! checks [`I440fx::take_pam_changed`]; when true it remaps the 0xC0000-
//! 0xFFFFF area from [`I440fx::pam`] (segment per [`I440fx::pam_segment_of`])
//! and flushes the CPU's TLB and decoded-code cache. Each PAM field says
//! where reads and writes of its segment go: to DRAM when the bit is set,
//! otherwise to the ROM / PCI side (the BIOS ROM image for 0xE0000-0xFFFFF,
//! option ROMs or nothing below).
//!
//! # Not implemented
//!
//! - SMM: we run no SMM code, so SMRAM (0xA0000-0xBFFFF as SMRAM) is never
//!   opened for the CPU; the SMRAM register's D_OPEN, D_CLS, D_LCK and
//!   G_SMRAME bits are stored with the datasheet's lock rules and have no
//!   effect on the memory map. The machine keeps 0xA0000-0xBFFFF as VGA.
//! - DRAM configuration (DRB row boundaries, DRAM timing), the PCI arbiter
//!   and error reporting registers: they read 0 and ignore writes.

use anyx86_hw::{AccessSize, Snapshot, SnapshotError};

use crate::pci::{ConfigSpace, PciFunction, PCI_STATUS_DEVSEL_MEDIUM, PCI_STATUS_FAST_BACK};

/// Intel's PCI vendor ID.
pub const I440FX_VENDOR_ID: u16 = 0x8086;
/// 82441FX device ID.
pub const I440FX_DEVICE_ID: u16 = 0x1237;
/// Revision ID QEMU reports.
pub const I440FX_REVISION: u8 = 0x02;
/// Class code: host bridge (base 0x06, sub-class 0x00).
pub const I440FX_CLASS: u32 = 0x06_0000;
/// Subsystem vendor ID of QEMU's i440FX (Red Hat / virtio vendor).
pub const I440FX_SUBSYSTEM_VENDOR: u16 = 0x1AF4;
/// Subsystem ID of QEMU's i440FX; SeaBIOS checks it to detect QEMU.
pub const I440FX_SUBSYSTEM_ID: u16 = 0x1100;

/// PAM0: bits 5:4 control 0xF0000-0xFFFFF (bits 3:0 reserved).
pub const I440FX_PAM0: u8 = 0x59;
/// PAM1..PAM6 follow PAM0, each with two fields: bits 1:0 for the lower
/// 16 KiB segment and bits 5:4 for the upper one.
pub const I440FX_PAM1: u8 = 0x5A;
/// Number of PAM registers (PAM0-PAM6).
pub const I440FX_PAM_REGS: u8 = 7;
/// PAM field bit 0 (RE): reads of the segment go to DRAM.
pub const PAM_RE: u8 = 0x01;
/// PAM field bit 1 (WE): writes to the segment go to DRAM.
pub const PAM_WE: u8 = 0x02;
/// Number of PAM segments: the 64 KiB BIOS area and twelve 16 KiB ones.
pub const PAM_SEGMENTS: usize = 13;

/// SMRAM control register.
pub const I440FX_SMRAM: u8 = 0x72;
/// SMRAM bit 6 D_OPEN: SMRAM visible outside SMM.
pub const SMRAM_D_OPEN: u8 = 0x40;
/// SMRAM bit 5 D_CLS: data accesses in SMM go to the PCI side (VGA).
pub const SMRAM_D_CLS: u8 = 0x20;
/// SMRAM bit 4 D_LCK: locks D_OPEN at 0 and D_LCK/G_SMRAME until reset.
pub const SMRAM_D_LCK: u8 = 0x10;
/// SMRAM bit 3 G_SMRAME: SMRAM enable.
pub const SMRAM_G_SMRAME: u8 = 0x08;
/// SMRAM bits 2:0 C_BASE_SEG: fixed at 010 (0xA0000-0xBFFFF).
pub const SMRAM_C_BASE_SEG: u8 = 0x02;

/// Base of the 64 KiB BIOS segment controlled by PAM0.
const BIOS_SEGMENT_BASE: u64 = 0xF_0000;
/// Base of the first 16 KiB expansion segment (PAM1 low field).
const EXPANSION_BASE: u64 = 0xC_0000;
/// Size of an expansion-area PAM segment.
const EXPANSION_SEGMENT: u64 = 0x4000;
/// The end of the PAM-controlled area.
const PAM_AREA_END: u64 = 0x10_0000;

/// Where the reads and writes of one PAM segment go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pam {
    /// Reads hit DRAM (else the ROM / PCI side).
    pub read_ram: bool,
    /// Writes hit DRAM (else the ROM / PCI side, where ROM ignores them).
    pub write_ram: bool,
}

/// Plain-data state of the host bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I440fxState {
    /// The 256 configuration bytes.
    pub config: Vec<u8>,
    /// A PAM field changed and the machine has not remapped yet.
    pub pam_changed: bool,
}
anyx86_hw::wire_struct!(I440fxState {
    config,
    pam_changed
});

impl Default for I440fxState {
    fn default() -> Self {
        I440fx::new().save()
    }
}

/// The 82441FX host bridge at 00:00.0.
#[derive(Debug, Clone)]
pub struct I440fx {
    config: ConfigSpace,
    pam_changed: bool,
}

impl Default for I440fx {
    fn default() -> Self {
        Self::new()
    }
}

impl I440fx {
    /// The bridge at power-on: every PAM segment routed to ROM/PCI, SMRAM
    /// closed (0x02).
    pub fn new() -> Self {
        let mut config = ConfigSpace::new(
            I440FX_VENDOR_ID,
            I440FX_DEVICE_ID,
            I440FX_REVISION,
            I440FX_CLASS,
            0,
        );
        config.set_subsystem(I440FX_SUBSYSTEM_VENDOR, I440FX_SUBSYSTEM_ID);
        // Datasheet reset values: memory access and bus master enabled.
        config.set_u16(crate::pci::PCI_COMMAND, 0x0006);
        config.set_u16(
            crate::pci::PCI_STATUS,
            PCI_STATUS_DEVSEL_MEDIUM | PCI_STATUS_FAST_BACK,
        );
        config.set_writable(I440FX_PAM0, 0x30, 1);
        for reg in I440FX_PAM1..I440FX_PAM0 + I440FX_PAM_REGS {
            config.set_writable(reg, 0x33, 1);
        }
        config.set_u8(I440FX_SMRAM, SMRAM_C_BASE_SEG);
        config.set_writable(
            I440FX_SMRAM,
            u32::from(SMRAM_D_OPEN | SMRAM_D_CLS | SMRAM_D_LCK | SMRAM_G_SMRAME),
            1,
        );
        Self {
            config,
            pam_changed: false,
        }
    }

    /// D_LCK rules: once locked, D_LCK and G_SMRAME keep their values and
    /// D_OPEN reads 0; setting D_LCK clears D_OPEN. D_CLS stays writable.
    fn apply_smram_lock(&mut self, before: u8) {
        let mut v = self.smram();
        if before & SMRAM_D_LCK != 0 {
            let locked = SMRAM_D_LCK | SMRAM_G_SMRAME;
            v = (v & !locked) | (before & locked);
        }
        if v & SMRAM_D_LCK != 0 {
            v &= !SMRAM_D_OPEN;
        }
        self.config.poke_u8(I440FX_SMRAM, v);
    }

    /// The SMRAM control register.
    pub fn smram(&self) -> u8 {
        self.config.bytes()[usize::from(I440FX_SMRAM)]
    }

    fn pam_bytes(&self) -> [u8; I440FX_PAM_REGS as usize] {
        let b = self.config.bytes();
        let start = usize::from(I440FX_PAM0);
        core::array::from_fn(|i| b[start + i])
    }

    /// The routing of PAM segment `segment`: 0 = 0xF0000-0xFFFFF, 1..=12 =
    /// 16 KiB segments from 0xC0000. Out-of-range segments route to
    /// ROM/PCI.
    pub fn pam(&self, segment: usize) -> Pam {
        let field = match segment {
            0 => self.pam_bytes()[0] >> 4,
            1..=12 => {
                let byte = self.pam_bytes()[1 + (segment - 1) / 2];
                if segment % 2 == 1 {
                    byte
                } else {
                    byte >> 4
                }
            }
            _ => 0,
        };
        Pam {
            read_ram: field & PAM_RE != 0,
            write_ram: field & PAM_WE != 0,
        }
    }

    /// The PAM segment holding physical address `paddr`, if any.
    pub fn pam_segment_of(paddr: u64) -> Option<usize> {
        match paddr {
            BIOS_SEGMENT_BASE..PAM_AREA_END => Some(0),
            EXPANSION_BASE..BIOS_SEGMENT_BASE => {
                Some(1 + ((paddr - EXPANSION_BASE) / EXPANSION_SEGMENT) as usize)
            }
            _ => None,
        }
    }

    /// The physical range `(base, len)` of PAM segment `segment`.
    pub fn pam_segment_range(segment: usize) -> Option<(u64, u64)> {
        match segment {
            0 => Some((BIOS_SEGMENT_BASE, PAM_AREA_END - BIOS_SEGMENT_BASE)),
            1..=12 => Some((
                EXPANSION_BASE + (segment as u64 - 1) * EXPANSION_SEGMENT,
                EXPANSION_SEGMENT,
            )),
            _ => None,
        }
    }

    /// Returns whether a write changed any PAM field since the last call,
    /// and clears the flag.
    pub fn take_pam_changed(&mut self) -> bool {
        std::mem::take(&mut self.pam_changed)
    }
}

impl PciFunction for I440fx {
    fn config(&self) -> &ConfigSpace {
        &self.config
    }

    /// PAM changes are noted for [`I440fx::take_pam_changed`]; the SMRAM
    /// register keeps its lock rules.
    fn config_write(&mut self, reg: u8, size: AccessSize, value: u32) {
        let pam_before = self.pam_bytes();
        let smram_before = self.smram();
        self.config.write(reg, size, value);
        self.apply_smram_lock(smram_before);
        if self.pam_bytes() != pam_before {
            self.pam_changed = true;
        }
    }
}

impl Snapshot for I440fx {
    type State = I440fxState;

    fn save(&self) -> I440fxState {
        I440fxState {
            config: self.config.bytes().to_vec(),
            pam_changed: self.pam_changed,
        }
    }

    fn restore(&mut self, state: &I440fxState) -> Result<(), SnapshotError> {
        self.config.restore_bytes(&state.config)?;
        self.pam_changed = state.pam_changed;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::test_util::{XorShift, SIZES};

    #[test]
    fn ids_and_subsystem_match_qemu() {
        let hb = I440fx::new();
        assert_eq!(hb.config_read(0x00, 4), 0x1237_8086);
        assert_eq!(hb.config_read(0x08, 4), 0x0600_0002);
        // SeaBIOS qemu_detect: subsystem 1AF4:1100.
        assert_eq!(hb.config_read(0x2C, 4), 0x1100_1AF4);
    }

    #[test]
    fn ids_are_read_only() {
        let mut hb = I440fx::new();
        hb.config_write(0x00, 4, 0);
        hb.config_write(0x2C, 4, 0);
        assert_eq!(hb.config_read(0x00, 4), 0x1237_8086);
        assert_eq!(hb.config_read(0x2C, 4), 0x1100_1AF4);
    }

    #[test]
    fn pam_powers_on_routed_to_rom() {
        let hb = I440fx::new();
        for seg in 0..PAM_SEGMENTS {
            assert_eq!(
                hb.pam(seg),
                Pam {
                    read_ram: false,
                    write_ram: false
                }
            );
        }
    }

    #[test]
    fn pam_field_decode_for_every_segment() {
        let mut hb = I440fx::new();
        for seg in 0..PAM_SEGMENTS {
            for field in 0..4u8 {
                // Segment 0 is PAM0 bits 5:4; segment n (odd) the low field
                // of PAM((n+1)/2), segment n (even) its high field.
                let (reg, shift) = match seg {
                    0 => (I440FX_PAM0, 4),
                    _ => (
                        I440FX_PAM1 + ((seg - 1) / 2) as u8,
                        if seg % 2 == 1 { 0 } else { 4 },
                    ),
                };
                hb.config_write(reg, 1, u32::from(field << shift));
                let want = Pam {
                    read_ram: field & 1 != 0,
                    write_ram: field & 2 != 0,
                };
                assert_eq!(hb.pam(seg), want, "segment {seg} field {field}");
                hb.config_write(reg, 1, 0);
            }
        }
    }

    #[test]
    fn pam_reserved_bits_read_zero() {
        let mut hb = I440fx::new();
        hb.config_write(I440FX_PAM0, 1, 0xFF);
        hb.config_write(I440FX_PAM1, 1, 0xFF);
        assert_eq!(hb.config_read(I440FX_PAM0, 2), 0x3330);
    }

    #[test]
    fn pam_segment_of_addresses() {
        assert_eq!(I440fx::pam_segment_of(0xBFFFF), None);
        assert_eq!(I440fx::pam_segment_of(0xC0000), Some(1));
        assert_eq!(I440fx::pam_segment_of(0xC4000), Some(2));
        assert_eq!(I440fx::pam_segment_of(0xEFFFF), Some(12));
        assert_eq!(I440fx::pam_segment_of(0xF0000), Some(0));
        assert_eq!(I440fx::pam_segment_of(0xFFFFF), Some(0));
        assert_eq!(I440fx::pam_segment_of(0x100000), None);
        for seg in 0..PAM_SEGMENTS {
            let (base, len) = I440fx::pam_segment_range(seg).expect("segment");
            assert_eq!(I440fx::pam_segment_of(base), Some(seg));
            assert_eq!(I440fx::pam_segment_of(base + len - 1), Some(seg));
        }
    }

    #[test]
    fn take_pam_changed_once_per_change() {
        let mut hb = I440fx::new();
        // SeaBIOS make_bios_writable: PAM0 = 0x30 (read/write DRAM).
        hb.config_write(I440FX_PAM0, 1, 0x30);
        assert!(hb.take_pam_changed());
        assert!(!hb.take_pam_changed());
        hb.config_write(I440FX_PAM0, 1, 0x30);
        assert!(!hb.take_pam_changed(), "same value is no change");
        hb.config_write(I440FX_SMRAM, 1, 0x0A);
        assert!(!hb.take_pam_changed());
    }

    #[test]
    fn smram_resets_to_0x02_with_fixed_base_segment() {
        let mut hb = I440fx::new();
        assert_eq!(hb.smram(), 0x02);
        hb.config_write(I440FX_SMRAM, 1, 0x00);
        assert_eq!(hb.smram(), 0x02, "C_BASE_SEG is read-only");
        hb.config_write(I440FX_SMRAM, 1, u32::from(SMRAM_D_OPEN | SMRAM_G_SMRAME));
        assert_eq!(hb.smram(), 0x4A);
    }

    #[test]
    fn smram_d_lck_locks_d_open() {
        let mut hb = I440fx::new();
        hb.config_write(I440FX_SMRAM, 1, u32::from(SMRAM_D_OPEN | SMRAM_G_SMRAME));
        // Setting D_LCK clears D_OPEN.
        hb.config_write(
            I440FX_SMRAM,
            1,
            u32::from(SMRAM_D_OPEN | SMRAM_D_LCK | SMRAM_G_SMRAME),
        );
        assert_eq!(hb.smram(), 0x1A);
        // D_OPEN cannot be set again, D_LCK and G_SMRAME cannot be cleared;
        // D_CLS still can change.
        hb.config_write(I440FX_SMRAM, 1, u32::from(SMRAM_D_OPEN | SMRAM_D_CLS));
        assert_eq!(hb.smram(), 0x3A);
    }

    #[test]
    fn unmodelled_registers_read_zero() {
        let mut hb = I440fx::new();
        hb.config_write(0x60, 4, 0xFFFF_FFFF);
        assert_eq!(hb.config_read(0x60, 4), 0);
    }

    #[test]
    fn snapshot_roundtrip() {
        let mut hb = I440fx::new();
        hb.config_write(I440FX_PAM0, 4, 0x3311_1130);
        hb.config_write(I440FX_SMRAM, 1, 0x18);
        anyx86_hw::assert_snapshot_roundtrip(&hb, &mut I440fx::new());
        assert_eq!(I440fxState::default(), I440fx::new().save());
    }

    #[test]
    fn hammer_every_register() {
        let mut hb = I440fx::new();
        let mut rng = XorShift(0x1234_5678_9ABC_DEF1);
        for reg in 0..=255u8 {
            for &size in &SIZES {
                let v = rng.next() as u32;
                hb.config_write(reg, size, v);
                hb.config_read(reg, size);
            }
        }
        for seg in 0..20 {
            let _ = hb.pam(seg);
        }
        let state = hb.save();
        assert!(I440fx::new().restore(&state).is_ok());
    }
}
