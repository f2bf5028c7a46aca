//! The PIIX south bridge functions of QEMU's `pc` machine: the Intel
//! 82371SB (PIIX3) PCI-to-ISA bridge at 00:01.0 with its reset control
//! register (port 0xCF9), and the configuration space of the Intel 82371AB
//! (PIIX4) power-management function at 00:01.3.
//!
//! Reference: Intel 82371FB/82371SB (PIIX/PIIX3) datasheet, section 2.2
//! (PCI-to-ISA bridge configuration registers: `PIRQRC[A:D]` at 0x60-0x63,
//! TOM at 0x69) and section 2.1 (reset control register RC at 0xCF9);
//! Intel 82371AB (PIIX4) datasheet, section 3.5 (power management
//! configuration registers: PMBA 0x40, DEVACTB 0x58, PMREGMISC 0x80,
//! SMBBA 0x90, SMBHSTCFG 0xD2); QEMU `hw/isa/piix.c` (reset values, RCR
//! behaviour) and `hw/acpi/piix4.c` (PM function reset, DEVACTB APMC_EN
//! preset when SMM is off); SeaBIOS `src/fw/pciinit.c` (`piix_isa_bridge_setup`,
//! `piix4_pm_setup`) and `src/fw/smm.c` (skips SMM setup when APMC_EN is set).
//!
//! # Wiring
//!
//! - Configuration cycles for 00:01.0 go to [`Piix3Isa::config_read`] /
//!   [`Piix3Isa::config_write`]; the machine routes PCI INTx# of slot
//!   devices to PIRQA-D (the usual `(slot + pin - 1) & 3` swizzle) and
//!   reads [`Piix3Isa::pirq_route`] to find the ISA IRQ (re-read after
//!   every write to 00:01.0: the routing is live).
//! - Byte accesses to port 0xCF9 go to [`Piix3Isa::rcr_read`] /
//!   [`Piix3Isa::rcr_write`]; when `rcr_write` returns true the machine
//!   resets (a full system reset: QEMU treats soft and hard alike).
//! - Configuration cycles for 00:01.3 go to [`Piix4Pm::config_read`] /
//!   [`Piix4Pm::config_write`]; after each write, when
//!   [`Piix4Pm::take_pm_base_changed`] is true, the machine moves the 64
//!   ports of the `AcpiPm` block to [`Piix4Pm::pm_io_base`] (or unmaps
//!   them when it is `None`). The SCI of the PM block is IRQ 9 (QEMU).
//!
//! # Not implemented
//!
//! - Everything the PIIX3 registers other than PIRQRC control (ISA clock
//!   divisors, X-bus chip selects, motherboard IRQ/DMA routing, the SMI
//!   logic, the I/O APIC chip select): stored with QEMU's reset values and
//!   otherwise ignored.
//! - SMM and SMI#: we run no SMM code. DEVACTB's APMC_EN (0x5B bit 1) is
//!   set at reset as QEMU does without SMM, which tells SeaBIOS to skip its
//!   SMM relocation; writes to port 0xB2 raise no SMI.
//! - The SMBus controller: SMBBA and SMBHSTCFG are stored only.
//! - The PIIX4 device activity/resource registers (0x44-0x7F) are stored
//!   only.

use anyx86_hw::{AccessSize, Snapshot, SnapshotError};

use crate::pci::{
    ConfigSpace, PciFunction, PCI_COMMAND, PCI_HEADER_TYPE_MULTI_FUNCTION, PCI_STATUS,
    PCI_STATUS_DEVSEL_MEDIUM,
};

/// Intel's PCI vendor ID.
pub const INTEL_VENDOR_ID: u16 = 0x8086;
/// 82371SB PIIX3 function 0 (PCI-to-ISA bridge) device ID.
pub const PIIX3_ISA_DEVICE_ID: u16 = 0x7000;
/// Class code: ISA bridge (base 0x06, sub-class 0x01).
pub const PIIX3_ISA_CLASS: u32 = 0x06_0100;
/// 82371AB PIIX4 function 3 (power management) device ID.
pub const PIIX4_PM_DEVICE_ID: u16 = 0x7113;
/// Revision of QEMU's PIIX4 PM function.
pub const PIIX4_PM_REVISION: u8 = 0x03;
/// Class code: other bridge (base 0x06, sub-class 0x80).
pub const PIIX4_PM_CLASS: u32 = 0x06_8000;

/// `PIRQRC[A]`: PIRQA# route control; PIRQB-D follow at 0x61-0x63.
pub const PIIX_PIRQRC: u8 = 0x60;
/// Number of PIRQ lines.
pub const PIIX_NUM_PIRQS: usize = 4;
/// PIRQRC bit 7: routing disabled (the reset state).
pub const PIRQRC_IRQEN_DISABLE: u8 = 0x80;
/// PIRQRC bits 3:0: the ISA IRQ the PIRQ drives.
pub const PIRQRC_IRQ_MASK: u8 = 0x0F;
/// ISA IRQs a PIRQ may be routed to: 3-7, 9-12, 14, 15 (0-2, 8 and 13 are
/// reserved).
const PIRQ_VALID_IRQS: u16 = 0b1101_1110_1111_1000;
/// Top of memory register (QEMU/datasheet reset 0x02).
pub const PIIX_TOM: u8 = 0x69;

/// Registers QEMU's PIIX3 resets to non-zero values or a guest may program;
/// each is stored only: (register, reset value).
const PIIX3_STORED_REGS: [(u8, u8); 20] = [
    (0x4C, 0x4D), // IORT: ISA I/O recovery timer
    (0x4E, 0x03), // XBCS: X-bus chip select, low byte
    (0x4F, 0x00), // XBCS high byte
    (PIIX_TOM, 0x02),
    (0x6A, 0x00), // MSTAT: miscellaneous status
    (0x6B, 0x00),
    (0x70, 0x80), // MBIRQ0: motherboard IRQ route, disabled
    (0x76, 0x0C), // MBDMA0
    (0x77, 0x0C), // MBDMA1
    (0x78, 0x02), // PCSC: programmable chip select
    (0x79, 0x00),
    (0x80, 0x00), // APICBASE: I/O APIC chip select
    (0x82, 0x00), // DLC: deterministic latency control
    (0xA0, 0x08), // SMICNTL
    (0xA2, 0x00), // SMIEN
    (0xA3, 0x00),
    (0xA8, 0x0F), // FTMR: fast off timer
    (0xAA, 0x00), // SMIREQ
    (0xAB, 0x00),
    (0xAC, 0x00), // CTLTMR
];

/// Reset control register (I/O port 0xCF9) bit 1: SRST, the next reset is
/// a system (hard) reset.
pub const RCR_SYS_RST: u8 = 0x02;
/// Reset control register bit 2: RCPU, writing 1 resets.
pub const RCR_RST_CPU: u8 = 0x04;

/// Plain-data state of the PIIX3 ISA bridge function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piix3IsaState {
    /// The 256 configuration bytes.
    pub config: Vec<u8>,
    /// The reset control register (only SRST is kept).
    pub rcr: u8,
}
anyx86_hw::wire_struct!(Piix3IsaState { config, rcr });

impl Default for Piix3IsaState {
    fn default() -> Self {
        Piix3Isa::new().save()
    }
}

/// The PIIX3 PCI-to-ISA bridge, 00:01.0, and its reset control register.
#[derive(Debug, Clone)]
pub struct Piix3Isa {
    config: ConfigSpace,
    rcr: u8,
}

impl Default for Piix3Isa {
    fn default() -> Self {
        Self::new()
    }
}

impl Piix3Isa {
    /// The bridge at power-on: every PIRQ unrouted.
    pub fn new() -> Self {
        let mut config = ConfigSpace::new(
            INTEL_VENDOR_ID,
            PIIX3_ISA_DEVICE_ID,
            0,
            PIIX3_ISA_CLASS,
            PCI_HEADER_TYPE_MULTI_FUNCTION,
        );
        // Datasheet/QEMU: I/O, memory and bus master on; medium DEVSEL.
        config.set_u16(PCI_COMMAND, 0x0007);
        config.set_u16(PCI_STATUS, PCI_STATUS_DEVSEL_MEDIUM);
        for i in 0..PIIX_NUM_PIRQS as u8 {
            config.set_u8(PIIX_PIRQRC + i, PIRQRC_IRQEN_DISABLE);
            config.set_writable(
                PIIX_PIRQRC + i,
                u32::from(PIRQRC_IRQEN_DISABLE | PIRQRC_IRQ_MASK),
                1,
            );
        }
        for (reg, value) in PIIX3_STORED_REGS {
            config.set_u8(reg, value);
            config.set_writable(reg, 0xFF, 1);
        }
        Self { config, rcr: 0 }
    }

    /// The ISA IRQ PIRQ `pirq` (0 = PIRQA# .. 3 = PIRQD#) drives, or `None`
    /// when its routing is disabled, it names a reserved IRQ, or `pirq` is
    /// out of range.
    pub fn pirq_route(&self, pirq: usize) -> Option<u8> {
        if pirq >= PIIX_NUM_PIRQS {
            return None;
        }
        let v = self.config.bytes()[usize::from(PIIX_PIRQRC) + pirq];
        let irq = v & PIRQRC_IRQ_MASK;
        let valid = v & PIRQRC_IRQEN_DISABLE == 0 && PIRQ_VALID_IRQS & (1 << irq) != 0;
        valid.then_some(irq)
    }

    /// A read of port 0xCF9.
    pub fn rcr_read(&self) -> u8 {
        self.rcr
    }

    /// A write of port 0xCF9; returns true when it requests a reset (RCPU
    /// written as 1). As QEMU, only SRST is stored, so RCPU always reads 0
    /// and every write with it set is the 0-to-1 transition the datasheet
    /// resets on.
    pub fn rcr_write(&mut self, v: u8) -> bool {
        if v & RCR_RST_CPU != 0 {
            return true;
        }
        self.rcr = v & RCR_SYS_RST;
        false
    }
}

impl PciFunction for Piix3Isa {
    fn config(&self) -> &ConfigSpace {
        &self.config
    }

    fn config_write(&mut self, reg: u8, size: AccessSize, value: u32) {
        self.config.write(reg, size, value);
    }
}

impl Snapshot for Piix3Isa {
    type State = Piix3IsaState;

    fn save(&self) -> Piix3IsaState {
        Piix3IsaState {
            config: self.config.bytes().to_vec(),
            rcr: self.rcr,
        }
    }

    fn restore(&mut self, state: &Piix3IsaState) -> Result<(), SnapshotError> {
        if state.rcr & !RCR_SYS_RST != 0 {
            return Err(SnapshotError::Invalid {
                field: "rcr",
                why: "only SRST is kept",
            });
        }
        self.config.restore_bytes(&state.config)?;
        self.rcr = state.rcr;
        Ok(())
    }
}

/// PMBA: power-management I/O base (bits 15:6; bit 0 reads 1 = I/O space).
pub const PIIX4_PMBA: u8 = 0x40;
/// PMBA bits holding the base of the 64-byte PM I/O block.
pub const PMBA_BASE_MASK: u32 = 0xFFC0;
/// PMBA/SMBBA bit 0: resource type indicator, I/O space (read-only 1).
pub const BA_RTE_IO: u32 = 0x01;
/// First device-specific register stored as-is (CNTA) ...
const PIIX4_STORED_START: u8 = 0x44;
/// ... through the last byte of the device resource registers.
const PIIX4_STORED_END: u8 = 0x7F;
/// DEVACTB: device activity B (32 bits).
pub const PIIX4_DEVACTB: u8 = 0x58;
/// DEVACTB byte 3 (0x5B) bit 1: APMC_EN, writes to port 0xB2 raise SMI#.
pub const DEVACTB_APMC_EN: u8 = 0x02;
/// PMREGMISC: bit 0 enables the PM I/O space at PMBA.
pub const PIIX4_PMREGMISC: u8 = 0x80;
/// PMREGMISC bit 0: PMIOSE, PM I/O space enable.
pub const PMREGMISC_PMIOSE: u8 = 0x01;
/// SMBBA: SMBus I/O base (bits 15:4; bit 0 reads 1).
pub const PIIX4_SMBBA: u8 = 0x90;
/// SMBHSTCFG: SMBus host configuration (bit 0 enable, bits 3:1 IRQ).
pub const PIIX4_SMBHSTCFG: u8 = 0xD2;

/// Plain-data state of the PIIX4 PM function's configuration space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piix4PmState {
    /// The 256 configuration bytes.
    pub config: Vec<u8>,
    /// The PM I/O decode changed and the machine has not remapped yet.
    pub pm_base_changed: bool,
}
anyx86_hw::wire_struct!(Piix4PmState {
    config,
    pm_base_changed
});

impl Default for Piix4PmState {
    fn default() -> Self {
        Piix4Pm::new().save()
    }
}

/// The PIIX4 power-management function, 00:01.3 (configuration space;
/// its I/O block is `AcpiPm`).
#[derive(Debug, Clone)]
pub struct Piix4Pm {
    config: ConfigSpace,
    pm_base_changed: bool,
}

impl Default for Piix4Pm {
    fn default() -> Self {
        Self::new()
    }
}

impl Piix4Pm {
    /// The function at power-on: PM I/O space disabled, APMC_EN set.
    pub fn new() -> Self {
        let mut config = ConfigSpace::new(
            INTEL_VENDOR_ID,
            PIIX4_PM_DEVICE_ID,
            PIIX4_PM_REVISION,
            PIIX4_PM_CLASS,
            0,
        );
        config.set_interrupt_pin(1);
        config.set_u32(PIIX4_PMBA, BA_RTE_IO);
        config.set_writable(PIIX4_PMBA, PMBA_BASE_MASK, 4);
        for reg in PIIX4_STORED_START..=PIIX4_STORED_END {
            config.set_writable(reg, 0xFF, 1);
        }
        config.set_u8(PIIX4_DEVACTB + 3, DEVACTB_APMC_EN);
        config.set_writable(PIIX4_PMREGMISC, u32::from(PMREGMISC_PMIOSE), 1);
        config.set_u32(PIIX4_SMBBA, BA_RTE_IO);
        config.set_writable(PIIX4_SMBBA, 0xFFF0, 4);
        config.set_writable(PIIX4_SMBHSTCFG, 0x0F, 1);
        Self {
            config,
            pm_base_changed: false,
        }
    }

    /// The base port of the 64-byte PM I/O block, when PMREGMISC enables it
    /// and PMBA is not 0.
    pub fn pm_io_base(&self) -> Option<u16> {
        let b = self.config.bytes();
        let enabled = b[usize::from(PIIX4_PMREGMISC)] & PMREGMISC_PMIOSE != 0;
        let base = (self.config.read(PIIX4_PMBA, 4) & PMBA_BASE_MASK) as u16;
        (enabled && base != 0).then_some(base)
    }

    /// Returns whether a write changed [`Piix4Pm::pm_io_base`] since the
    /// last call, and clears the flag.
    pub fn take_pm_base_changed(&mut self) -> bool {
        std::mem::take(&mut self.pm_base_changed)
    }
}

impl PciFunction for Piix4Pm {
    fn config(&self) -> &ConfigSpace {
        &self.config
    }

    /// A change of the PM I/O base is noted for
    /// [`Piix4Pm::take_pm_base_changed`].
    fn config_write(&mut self, reg: u8, size: AccessSize, value: u32) {
        let before = self.pm_io_base();
        self.config.write(reg, size, value);
        if self.pm_io_base() != before {
            self.pm_base_changed = true;
        }
    }
}

impl Snapshot for Piix4Pm {
    type State = Piix4PmState;

    fn save(&self) -> Piix4PmState {
        Piix4PmState {
            config: self.config.bytes().to_vec(),
            pm_base_changed: self.pm_base_changed,
        }
    }

    fn restore(&mut self, state: &Piix4PmState) -> Result<(), SnapshotError> {
        self.config.restore_bytes(&state.config)?;
        self.pm_base_changed = state.pm_base_changed;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::test_util::{XorShift, SIZES};

    #[test]
    fn piix3_ids_and_multifunction_header() {
        let isa = Piix3Isa::new();
        assert_eq!(isa.config_read(0x00, 4), 0x7000_8086);
        assert_eq!(isa.config_read(0x08, 4) >> 8, 0x06_0100);
        assert_eq!(isa.config_read(0x0E, 1), 0x80);
    }

    #[test]
    fn pirqs_reset_unrouted() {
        let isa = Piix3Isa::new();
        assert_eq!(isa.config_read(PIIX_PIRQRC, 4), 0x8080_8080);
        assert!((0..4).all(|p| isa.pirq_route(p).is_none()));
    }

    #[test]
    fn pirq_routing_follows_pirqrc() {
        let mut isa = Piix3Isa::new();
        // SeaBIOS routes PIRQA-D to IRQ 10, 10, 11, 11.
        isa.config_write(PIIX_PIRQRC, 4, 0x0B0B_0A0A);
        assert_eq!(isa.pirq_route(0), Some(10));
        assert_eq!(isa.pirq_route(3), Some(11));
        assert_eq!(isa.pirq_route(4), None);
        isa.config_write(PIIX_PIRQRC + 1, 1, 0x8A);
        assert_eq!(isa.pirq_route(1), None, "IRQEN# disables");
    }

    #[test]
    fn pirq_reserved_irqs_are_not_routed() {
        let mut isa = Piix3Isa::new();
        for irq in [0u8, 1, 2, 8, 13] {
            isa.config_write(PIIX_PIRQRC, 1, u32::from(irq));
            assert_eq!(isa.pirq_route(0), None, "IRQ {irq} is reserved");
        }
        // Bits 6:4 are reserved and read 0.
        isa.config_write(PIIX_PIRQRC, 1, 0x75);
        assert_eq!(isa.config_read(PIIX_PIRQRC, 1), 0x05);
    }

    #[test]
    fn piix3_qemu_reset_values() {
        let isa = Piix3Isa::new();
        assert_eq!(isa.config_read(0x04, 4), 0x0200_0007);
        assert_eq!(isa.config_read(0x4C, 1), 0x4D);
        assert_eq!(isa.config_read(PIIX_TOM, 1), 0x02);
        assert_eq!(isa.config_read(0xA0, 1), 0x08);
    }

    #[test]
    fn rcr_requests_reset_on_rst_cpu() {
        let mut isa = Piix3Isa::new();
        // Linux reboot=pci: write SRST, then SRST | RCPU.
        assert!(!isa.rcr_write(RCR_SYS_RST));
        assert_eq!(isa.rcr_read(), RCR_SYS_RST);
        assert!(isa.rcr_write(RCR_SYS_RST | RCR_RST_CPU));
        assert_eq!(isa.rcr_read(), RCR_SYS_RST, "RCPU is not stored");
        assert!(!isa.rcr_write(0xF9), "other bits without RCPU: no reset");
        assert_eq!(isa.rcr_read(), 0);
    }

    #[test]
    fn piix3_snapshot_roundtrip() {
        let mut isa = Piix3Isa::new();
        isa.config_write(PIIX_PIRQRC, 4, 0x0B0B_0A0A);
        isa.rcr_write(RCR_SYS_RST);
        anyx86_hw::assert_snapshot_roundtrip(&isa, &mut Piix3Isa::new());
        let bad = Piix3IsaState {
            rcr: 0x04,
            ..Piix3IsaState::default()
        };
        assert!(Piix3Isa::new().restore(&bad).is_err());
    }

    #[test]
    fn piix4_pm_ids_and_pin() {
        let pm = Piix4Pm::new();
        assert_eq!(pm.config_read(0x00, 4), 0x7113_8086);
        assert_eq!(pm.config_read(0x08, 4), 0x0680_0003);
        assert_eq!(pm.config_read(0x3D, 1), 1, "INTA#");
    }

    #[test]
    fn devactb_apmc_en_preset() {
        // SeaBIOS smm_setup skips SMM init when 0x5B bit 1 is set.
        let pm = Piix4Pm::new();
        assert_eq!(pm.config_read(0x5B, 1), 0x02);
        assert_eq!(pm.config_read(PIIX4_DEVACTB, 4), 0x0200_0000);
    }

    #[test]
    fn pmba_mask_and_io_indicator() {
        let mut pm = Piix4Pm::new();
        assert_eq!(pm.config_read(PIIX4_PMBA, 4), 0x1);
        pm.config_write(PIIX4_PMBA, 4, 0xFFFF_FFFF);
        assert_eq!(pm.config_read(PIIX4_PMBA, 4), 0xFFC1);
    }

    #[test]
    fn pm_io_base_needs_pmregmisc() {
        let mut pm = Piix4Pm::new();
        // SeaBIOS piix4_pm_setup: PMBA = 0x600 | 1, then PMREGMISC = 1.
        pm.config_write(PIIX4_PMBA, 4, 0x601);
        assert_eq!(pm.pm_io_base(), None);
        assert!(!pm.take_pm_base_changed());
        pm.config_write(PIIX4_PMREGMISC, 1, 0x01);
        assert_eq!(pm.pm_io_base(), Some(0x600));
        assert!(pm.take_pm_base_changed());
        assert!(!pm.take_pm_base_changed());
        pm.config_write(PIIX4_PMBA, 2, 0xB001);
        assert_eq!(pm.pm_io_base(), Some(0xB000));
        assert!(pm.take_pm_base_changed());
    }

    #[test]
    fn smbus_registers_are_stored() {
        let mut pm = Piix4Pm::new();
        pm.config_write(PIIX4_SMBBA, 4, 0x0701);
        pm.config_write(PIIX4_SMBHSTCFG, 1, 0x09);
        assert_eq!(pm.config_read(PIIX4_SMBBA, 4), 0x0701);
        assert_eq!(pm.config_read(PIIX4_SMBHSTCFG, 1), 0x09);
    }

    #[test]
    fn piix4_snapshot_roundtrip() {
        let mut pm = Piix4Pm::new();
        pm.config_write(PIIX4_PMBA, 4, 0x601);
        pm.config_write(PIIX4_PMREGMISC, 1, 1);
        anyx86_hw::assert_snapshot_roundtrip(&pm, &mut Piix4Pm::new());
    }

    #[test]
    fn hammer_every_register() {
        let mut isa = Piix3Isa::new();
        let mut pm = Piix4Pm::new();
        let mut rng = XorShift(0xDEAD_BEEF_0BAD_F00D);
        for reg in 0..=255u8 {
            for &size in &SIZES {
                let v = rng.next() as u32;
                isa.config_write(reg, size, v);
                pm.config_write(reg, size, v.rotate_left(7));
                isa.config_read(reg, size);
                pm.config_read(reg, size);
                isa.rcr_write(v as u8);
            }
        }
        for p in 0..8 {
            let _ = isa.pirq_route(p);
        }
        let _ = pm.pm_io_base();
        assert!(Piix4Pm::new().restore(&pm.save()).is_ok());
        assert!(Piix3Isa::new().restore(&isa.save()).is_ok());
    }
}
