//! The Intel 82371AB (PIIX4) power-management I/O block: the ACPI fixed
//! hardware registers (PM1 event and control, the PM timer) and the
//! general-purpose event block, plus the APM control/status ports 0xB2/0xB3
//! as QEMU implements them.
//!
//! Reference: ACPI Specification 6.5, section 4.8.3 (fixed hardware
//! registers: PM1 status/enable/control bits, the 3.579545 MHz PM timer
//! and TMR_STS set on every change of its bit 23 (24-bit timer), SLP_TYP /
//! SLP_EN), section 4.8.4.1 (GPE blocks, RW1C status); Intel 82371AB
//! (PIIX4) datasheet, section 7.2 (power management I/O registers: PMSTS
//! 0x00, PMEN 0x02, PMCNTRL 0x04, PMTMR 0x08, GPSTS 0x0C, GPEN 0x0E); QEMU
//! `hw/acpi/core.c` (PM1 and timer behaviour, soft power-off on SLP_TYP 0)
//! and `hw/acpi/piix4.c` (APM ACPI_ENABLE 0xF1 / ACPI_DISABLE 0xF0 toggle
//! SCI_EN).
//!
//! # Wiring
//!
//! - The 64 ports at `Piix4Pm::pm_io_base` go to [`AcpiPm::read`] /
//!   [`AcpiPm::write`] with the offset from the base.
//! - Port 0xB2 goes to [`AcpiPm::apm_write`] / [`AcpiPm::apm_read`], port
//!   0xB3 to [`AcpiPm::apm_status_read`] / [`AcpiPm::apm_status_write`];
//!   they decode regardless of the PM I/O enable, as on QEMU.
//! - [`AcpiPm::sci_level`] drives the SCI, IRQ 9 (level, active high into
//!   the PIC with ELCR bit 9 set, and I/O APIC pin 9), as QEMU's
//!   `pc` machine wires it. After each access the machine forwards it, and
//!   keeps one event at [`AcpiPm::next_deadline`]; when it fires it calls
//!   [`AcpiPm::update`] and forwards the SCI again.
//! - After each write the machine checks [`AcpiPm::take_sleep`]: `Some(t)`
//!   means the guest wrote SLP_EN with SLP_TYP `t`. QEMU's PIIX4 DSDT
//!   defines `\_S5 = 0` (soft off), `\_S3 = 1`, `\_S4 = 2`; the machine
//!   powers off on 0 and treats the others as it chooses (QEMU: S4 is also
//!   a power off).
//!
//! # Not implemented
//!
//! - Sleep states are not entered here (no S3 resume, so WAK_STS is only
//!   RW1C storage); GBL_RLS / BIOS_RLS, bus-master and RTC status are never
//!   set by us.
//! - SCI_EN is not consulted: as in QEMU, the SCI follows the status and
//!   enable bits whether ACPI mode is on or not (no SMI# is generated).
//! - The PIIX4 registers above 0x0F (PCNTRL, GLBSTS, DEVSTS, GLBEN,
//!   GLBCTL, DEVCTL, GPIREG, GPOREG) read 0 and ignore writes; QEMU's GPE
//!   hot-plug block at 0xAFE0 is not part of this device.

use anyx86_hw::{AccessSize, Snapshot, SnapshotError, VirtualTime, NS_PER_SEC};

use crate::{read_bytes, write_bytes};

/// Size of the PM I/O block in ports.
pub const ACPI_PM_IO_LEN: u16 = 64;

/// PM1_STS (PIIX4 PMSTS), 16 bits, RW1C.
pub const PM1_STS: u16 = 0x00;
/// PM1_EN (PIIX4 PMEN), 16 bits.
pub const PM1_EN: u16 = 0x02;
/// PM1_CNT (PIIX4 PMCNTRL), 16 bits.
pub const PM1_CNT: u16 = 0x04;
/// PM_TMR (PIIX4 PMTMR), 32 bits, read-only, 24 bits valid.
pub const PM_TMR: u16 = 0x08;
/// GPE0_STS (PIIX4 GPSTS), 16 bits, RW1C.
pub const GPE0_STS: u16 = 0x0C;
/// GPE0_EN (PIIX4 GPEN), 16 bits.
pub const GPE0_EN: u16 = 0x0E;
/// First of the PIIX4 registers that read 0 here.
const PIIX4_MISC_START: u16 = 0x10;

/// PM1 status/enable bit 0: PM timer carry (bit 23 of the timer changed).
pub const PM1_TMR: u16 = 1 << 0;
/// PM1 status bit 4: bus master status.
pub const PM1_BM_STS: u16 = 1 << 4;
/// PM1 status/enable bit 5: global (BIOS_RLS) event.
pub const PM1_GBL: u16 = 1 << 5;
/// PM1 status/enable bit 8: power button.
pub const PM1_PWRBTN: u16 = 1 << 8;
/// PM1 status/enable bit 10: RTC alarm.
pub const PM1_RTC: u16 = 1 << 10;
/// PM1 status bit 15: wake status.
pub const PM1_WAK_STS: u16 = 1 << 15;
/// PM1_STS bits that exist (all RW1C).
const PM1_STS_RW1C: u16 = PM1_TMR | PM1_BM_STS | PM1_GBL | PM1_PWRBTN | PM1_RTC | PM1_WAK_STS;
/// PM1_EN bits that exist; each enables the SCI for its status bit.
const PM1_EN_MASK: u16 = PM1_TMR | PM1_GBL | PM1_PWRBTN | PM1_RTC;

/// PM1_CNT bit 0: SCI_EN, ACPI mode (events raise SCI, not SMI).
pub const PM1_CNT_SCI_EN: u16 = 1 << 0;
/// PM1_CNT bit 1: BM_RLD, bus master requests wake from C3.
pub const PM1_CNT_BM_RLD: u16 = 1 << 1;
/// PM1_CNT bits 12:10: SLP_TYP, the sleep type SLP_EN enters.
pub const PM1_CNT_SLP_TYP_MASK: u16 = 0x7 << 10;
/// PM1_CNT SLP_TYP field position.
const PM1_CNT_SLP_TYP_SHIFT: u16 = 10;
/// PM1_CNT bit 13: SLP_EN, write-only, enters the sleep state.
pub const PM1_CNT_SLP_EN: u16 = 1 << 13;
/// PM1_CNT bits stored (GBL_RLS and SLP_EN are write-only and read 0).
const PM1_CNT_MASK: u16 = PM1_CNT_SCI_EN | PM1_CNT_BM_RLD | PM1_CNT_SLP_TYP_MASK;

/// The PM timer runs at the ACPI-defined 3.579545 MHz.
pub const PM_TIMER_HZ: u64 = 3_579_545;
/// The timer is 24 bits wide.
const PM_TIMER_MASK: u64 = 0xFF_FFFF;
/// TMR_STS sets each time bit 23 changes: every 2^23 ticks.
const PM_TIMER_STS_SHIFT: u32 = 23;

/// APM command (port 0xB2): switch to ACPI mode (QEMU FADT ACPI_ENABLE).
pub const APM_ACPI_ENABLE: u8 = 0xF1;
/// APM command (port 0xB2): leave ACPI mode (QEMU FADT ACPI_DISABLE).
pub const APM_ACPI_DISABLE: u8 = 0xF0;

/// Plain-data state of the PM I/O block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcpiPmState {
    /// PM1_STS.
    pub pm1_sts: u16,
    /// PM1_EN.
    pub pm1_en: u16,
    /// PM1_CNT (stored bits only).
    pub pm1_cnt: u16,
    /// GPE0_STS.
    pub gpe0_sts: u16,
    /// GPE0_EN.
    pub gpe0_en: u16,
    /// Last value written to the APM control port 0xB2.
    pub apm_cnt: u8,
    /// The APM status port 0xB3.
    pub apm_sts: u8,
    /// The PM timer's tick count shifted right by 23 at the last sync: the
    /// number of bit-23 changes already folded into TMR_STS.
    pub tmr_period: u64,
    /// SLP_TYP of a SLP_EN write the machine has not taken yet.
    pub sleep: Option<u8>,
}
anyx86_hw::wire_struct!(AcpiPmState {
    pm1_sts,
    pm1_en,
    pm1_cnt,
    gpe0_sts,
    gpe0_en,
    apm_cnt,
    apm_sts,
    tmr_period,
    sleep
});

/// The PIIX4 PM I/O block and the APM ports.
#[derive(Debug, Clone, Default)]
pub struct AcpiPm {
    state: AcpiPmState,
}

/// PM timer ticks elapsed at virtual time `now`.
fn timer_ticks(now: VirtualTime) -> u64 {
    ((u128::from(now) * u128::from(PM_TIMER_HZ)) / u128::from(NS_PER_SEC)) as u64
}

/// The first virtual time at which `ticks` ticks have elapsed.
fn ticks_to_ns_ceil(ticks: u64) -> VirtualTime {
    let ns = (u128::from(ticks) * u128::from(NS_PER_SEC)).div_ceil(u128::from(PM_TIMER_HZ));
    u64::try_from(ns).unwrap_or(u64::MAX)
}

/// Replaces the bits of `reg` in byte `byte` (0 = low) that `mask` allows
/// with those of `v`.
fn merge_byte(reg: u16, byte: u16, v: u8, mask: u16) -> u16 {
    let m = mask & (0xFF << (8 * byte));
    (reg & !m) | ((u16::from(v) << (8 * byte)) & m)
}

/// Clears the bits of `reg` in byte `byte` written as 1 that `mask` allows.
fn clear_byte(reg: u16, byte: u16, v: u8, mask: u16) -> u16 {
    reg & !((u16::from(v) << (8 * byte)) & mask)
}

impl AcpiPm {
    /// The block at power-on: timer at 0, all events disabled, legacy mode.
    pub fn new() -> Self {
        Self::default()
    }

    /// Latches TMR_STS if bit 23 of the timer changed since the last sync.
    fn sync(&mut self, now: VirtualTime) {
        let period = timer_ticks(now) >> PM_TIMER_STS_SHIFT;
        if period > self.state.tmr_period {
            self.state.pm1_sts |= PM1_TMR;
            self.state.tmr_period = period;
        }
    }

    /// Reads `size` bytes at `offset` in the block.
    pub fn read(&mut self, offset: u16, size: AccessSize, now: VirtualTime) -> u32 {
        self.sync(now);
        let timer = (timer_ticks(now) & PM_TIMER_MASK) as u32;
        read_bytes(offset, size, |o| self.read_byte(o, timer))
    }

    fn read_byte(&self, o: u16, timer: u32) -> u8 {
        let s = &self.state;
        let word = |w: u16| (w >> (8 * (o & 1))) as u8;
        match o {
            0..=1 => word(s.pm1_sts),
            2..=3 => word(s.pm1_en),
            4..=5 => word(s.pm1_cnt),
            8..=11 => (timer >> (8 * (o - PM_TMR))) as u8,
            0x0C..=0x0D => word(s.gpe0_sts),
            0x0E..=0x0F => word(s.gpe0_en),
            6..=7 | PIIX4_MISC_START..ACPI_PM_IO_LEN => 0,
            _ => 0xFF,
        }
    }

    /// Writes the low `size` bytes of `value` at `offset` in the block.
    pub fn write(&mut self, offset: u16, size: AccessSize, value: u32, now: VirtualTime) {
        self.sync(now);
        write_bytes(offset, size, value, |o, v| self.write_byte(o, v));
    }

    fn write_byte(&mut self, o: u16, v: u8) {
        let s = &mut self.state;
        let byte = o & 1;
        match o {
            0..=1 => s.pm1_sts = clear_byte(s.pm1_sts, byte, v, PM1_STS_RW1C),
            2..=3 => s.pm1_en = merge_byte(s.pm1_en, byte, v, PM1_EN_MASK),
            4..=5 => self.write_pm1_cnt(byte, v),
            0x0C..=0x0D => s.gpe0_sts = clear_byte(s.gpe0_sts, byte, v, 0xFFFF),
            0x0E..=0x0F => s.gpe0_en = merge_byte(s.gpe0_en, byte, v, 0xFFFF),
            _ => {}
        }
    }

    fn write_pm1_cnt(&mut self, byte: u16, v: u8) {
        let s = &mut self.state;
        s.pm1_cnt = merge_byte(s.pm1_cnt, byte, v, PM1_CNT_MASK);
        if (u16::from(v) << (8 * byte)) & PM1_CNT_SLP_EN != 0 {
            let typ = (s.pm1_cnt & PM1_CNT_SLP_TYP_MASK) >> PM1_CNT_SLP_TYP_SHIFT;
            s.sleep = Some(typ as u8);
        }
    }

    /// The SCI output: a PM1 status bit whose enable is set, or a GPE0
    /// status bit whose enable is set. Level-triggered.
    pub fn sci_level(&self) -> bool {
        let s = &self.state;
        s.pm1_sts & s.pm1_en & PM1_EN_MASK != 0 || s.gpe0_sts & s.gpe0_en != 0
    }

    /// The next time TMR_STS sets, while TMR_EN is on and TMR_STS is clear
    /// (otherwise the timer cannot change the SCI: `None`).
    pub fn next_deadline(&self, _now: VirtualTime) -> Option<VirtualTime> {
        let s = &self.state;
        if s.pm1_en & PM1_TMR == 0 || s.pm1_sts & PM1_TMR != 0 {
            return None;
        }
        let next = s
            .tmr_period
            .checked_add(1)?
            .checked_mul(1 << PM_TIMER_STS_SHIFT)?;
        Some(ticks_to_ns_ceil(next))
    }

    /// Brings the timer status up to `now` (call at the deadline).
    pub fn update(&mut self, now: VirtualTime) {
        self.sync(now);
    }

    /// The SLP_TYP of a write that set SLP_EN since the last call, taken
    /// once.
    pub fn take_sleep(&mut self) -> Option<u8> {
        self.state.sleep.take()
    }

    /// A press of the power button: sets PWRBTN_STS (an SCI if PWRBTN_EN).
    pub fn press_power_button(&mut self) {
        self.state.pm1_sts |= PM1_PWRBTN;
    }

    /// A write of the APM control port 0xB2: ACPI_ENABLE sets SCI_EN and
    /// ACPI_DISABLE clears it, as QEMU's PIIX4 does (the job of an SMI
    /// handler on real hardware); other commands are only stored.
    pub fn apm_write(&mut self, v: u8) {
        let s = &mut self.state;
        s.apm_cnt = v;
        match v {
            APM_ACPI_ENABLE => s.pm1_cnt |= PM1_CNT_SCI_EN,
            APM_ACPI_DISABLE => s.pm1_cnt &= !PM1_CNT_SCI_EN,
            _ => {}
        }
    }

    /// A read of port 0xB2: the last command written.
    pub fn apm_read(&self) -> u8 {
        self.state.apm_cnt
    }

    /// A read of the APM status port 0xB3.
    pub fn apm_status_read(&self) -> u8 {
        self.state.apm_sts
    }

    /// A write of the APM status port 0xB3 (a scratch byte).
    pub fn apm_status_write(&mut self, v: u8) {
        self.state.apm_sts = v;
    }
}

impl Snapshot for AcpiPm {
    type State = AcpiPmState;

    fn save(&self) -> AcpiPmState {
        self.state.clone()
    }

    fn restore(&mut self, state: &AcpiPmState) -> Result<(), SnapshotError> {
        let invalid = |field, why| Err(SnapshotError::Invalid { field, why });
        if state.pm1_sts & !PM1_STS_RW1C != 0 {
            return invalid("pm1_sts", "reserved bits set");
        }
        if state.pm1_en & !PM1_EN_MASK != 0 {
            return invalid("pm1_en", "reserved bits set");
        }
        if state.pm1_cnt & !PM1_CNT_MASK != 0 {
            return invalid("pm1_cnt", "write-only or reserved bits set");
        }
        if state.sleep.is_some_and(|t| t > 7) {
            return invalid("sleep", "SLP_TYP is 3 bits");
        }
        self.state = state.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::test_util::{XorShift, SIZES};

    /// Virtual time of `ticks` PM timer ticks.
    fn at_ticks(ticks: u64) -> VirtualTime {
        ticks_to_ns_ceil(ticks)
    }

    #[test]
    fn timer_counts_at_3_579545_mhz() {
        let mut pm = AcpiPm::new();
        assert_eq!(pm.read(PM_TMR, 4, 0), 0);
        // One second of virtual time is 3,579,545 ticks.
        assert_eq!(pm.read(PM_TMR, 4, NS_PER_SEC), 3_579_545);
        // 1 ms: 3579.545 ticks, rounded down.
        assert_eq!(pm.read(PM_TMR, 4, 1_000_000), 3579);
    }

    #[test]
    fn timer_wraps_at_24_bits() {
        let mut pm = AcpiPm::new();
        let wrap = 1u64 << 24;
        assert_eq!(pm.read(PM_TMR, 4, at_ticks(wrap - 1)), 0xFF_FFFF);
        assert_eq!(pm.read(PM_TMR, 4, at_ticks(wrap)), 0);
        assert_eq!(pm.read(PM_TMR, 4, at_ticks(3 * wrap + 5)), 5);
        // Byte reads see the same value; byte 3 is always 0.
        assert_eq!(pm.read(PM_TMR + 2, 1, at_ticks(0x12_3456)), 0x12);
        assert_eq!(pm.read(PM_TMR + 3, 1, at_ticks(wrap - 1)), 0);
    }

    #[test]
    fn tmr_sts_sets_when_bit_23_changes() {
        let mut pm = AcpiPm::new();
        let half = 1u64 << 23;
        assert_eq!(pm.read(PM1_STS, 2, at_ticks(half - 1)), 0);
        assert_eq!(pm.read(PM1_STS, 2, at_ticks(half)), u32::from(PM1_TMR));
        pm.write(PM1_STS, 2, u32::from(PM1_TMR), at_ticks(half));
        assert_eq!(pm.read(PM1_STS, 2, at_ticks(2 * half - 1)), 0);
        assert_eq!(pm.read(PM1_STS, 2, at_ticks(2 * half)), u32::from(PM1_TMR));
    }

    #[test]
    fn tmr_deadline_and_sci_with_tmr_en() {
        let mut pm = AcpiPm::new();
        assert_eq!(pm.next_deadline(0), None, "TMR_EN off");
        pm.write(PM1_EN, 2, u32::from(PM1_TMR), 0);
        let due = pm.next_deadline(0).expect("TMR_EN on");
        assert_eq!(due, at_ticks(1 << 23));
        pm.update(due - 1);
        assert!(!pm.sci_level());
        pm.update(due);
        assert!(pm.sci_level());
        assert_eq!(pm.next_deadline(due), None, "TMR_STS already set");
        pm.write(PM1_STS, 2, u32::from(PM1_TMR), due);
        assert!(!pm.sci_level());
        assert_eq!(pm.next_deadline(due), Some(at_ticks(2 << 23)));
    }

    #[test]
    fn tmr_sts_without_tmr_en_raises_no_sci() {
        let mut pm = AcpiPm::new();
        pm.update(at_ticks(1 << 23));
        assert_eq!(pm.read(PM1_STS, 2, at_ticks(1 << 23)), u32::from(PM1_TMR));
        assert!(!pm.sci_level());
    }

    #[test]
    fn pm1_sts_is_rw1c() {
        let mut pm = AcpiPm::new();
        pm.press_power_button();
        pm.write(PM1_STS, 2, 0, 0);
        assert_eq!(pm.read(PM1_STS, 2, 0), u32::from(PM1_PWRBTN));
        pm.write(PM1_STS, 2, u32::from(PM1_TMR), 0);
        assert_eq!(pm.read(PM1_STS, 2, 0), u32::from(PM1_PWRBTN), "other bit");
        pm.write(PM1_STS + 1, 1, 0x01, 0);
        assert_eq!(pm.read(PM1_STS, 2, 0), 0);
    }

    #[test]
    fn power_button_raises_sci_when_enabled() {
        let mut pm = AcpiPm::new();
        pm.write(PM1_EN, 2, u32::from(PM1_PWRBTN), 0);
        assert!(!pm.sci_level());
        pm.press_power_button();
        assert!(pm.sci_level());
    }

    #[test]
    fn pm1_en_keeps_only_defined_bits() {
        let mut pm = AcpiPm::new();
        pm.write(PM1_EN, 2, 0xFFFF, 0);
        assert_eq!(pm.read(PM1_EN, 2, 0), 0x0521);
    }

    #[test]
    fn slp_en_gives_take_sleep() {
        let mut pm = AcpiPm::new();
        // SLP_TYP = 0 (QEMU's \_S5) with SLP_EN and SCI_EN kept.
        pm.write(PM1_CNT, 2, u32::from(PM1_CNT_SLP_EN | PM1_CNT_SCI_EN), 0);
        assert_eq!(pm.take_sleep(), Some(0));
        assert_eq!(pm.take_sleep(), None);
        assert_eq!(
            pm.read(PM1_CNT, 2, 0),
            u32::from(PM1_CNT_SCI_EN),
            "SLP_EN reads 0"
        );
        pm.write(PM1_CNT, 2, 1 << 10 | u32::from(PM1_CNT_SLP_EN), 0);
        assert_eq!(pm.take_sleep(), Some(1));
        pm.write(PM1_CNT, 2, 2 << 10, 0);
        assert_eq!(pm.take_sleep(), None, "SLP_TYP alone does not sleep");
    }

    #[test]
    fn apm_acpi_enable_and_disable_toggle_sci_en() {
        let mut pm = AcpiPm::new();
        pm.apm_write(APM_ACPI_ENABLE);
        assert_eq!(pm.read(PM1_CNT, 2, 0), u32::from(PM1_CNT_SCI_EN));
        assert_eq!(pm.apm_read(), APM_ACPI_ENABLE);
        pm.apm_write(0x12);
        assert_eq!(pm.read(PM1_CNT, 2, 0), u32::from(PM1_CNT_SCI_EN));
        pm.apm_write(APM_ACPI_DISABLE);
        assert_eq!(pm.read(PM1_CNT, 2, 0), 0);
        pm.apm_status_write(0x5A);
        assert_eq!(pm.apm_status_read(), 0x5A);
    }

    #[test]
    fn gpe0_status_rw1c_and_sci() {
        let mut pm = AcpiPm::new();
        pm.state.gpe0_sts = 0x0004;
        pm.write(GPE0_EN, 2, 0x0004, 0);
        assert!(pm.sci_level());
        pm.write(GPE0_STS, 2, 0x0004, 0);
        assert!(!pm.sci_level());
        assert_eq!(pm.read(GPE0_EN, 2, 0), 0x0004);
    }

    #[test]
    fn other_offsets_read_zero_or_ones() {
        let mut pm = AcpiPm::new();
        assert_eq!(pm.read(0x10, 4, 0), 0);
        assert_eq!(pm.read(0x3C, 4, 0), 0);
        assert_eq!(pm.read(0x40, 1, 0), 0xFF);
        assert_eq!(pm.read(PM1_STS, 3, 0), u32::MAX, "bad size");
    }

    #[test]
    fn snapshot_roundtrip() {
        let mut pm = AcpiPm::new();
        pm.write(PM1_EN, 2, 0x0101, 0);
        pm.apm_write(APM_ACPI_ENABLE);
        pm.press_power_button();
        pm.update(at_ticks(3 << 23));
        pm.write(PM1_CNT, 2, 0x2000, 0);
        anyx86_hw::assert_snapshot_roundtrip(&pm, &mut AcpiPm::new());
        let bad = AcpiPmState {
            pm1_cnt: PM1_CNT_SLP_EN,
            ..AcpiPmState::default()
        };
        assert!(AcpiPm::new().restore(&bad).is_err());
    }

    #[test]
    fn hammer_every_offset() {
        let mut pm = AcpiPm::new();
        let mut rng = XorShift(0x0123_4567_89AB_CDEF);
        let mut now = 0u64;
        for offset in 0..=0x50u16 {
            for &size in &SIZES {
                let r = rng.next();
                now = now.wrapping_add(r % 10_000_000_000);
                pm.write(offset, size, r as u32, now);
                pm.read(offset, size, now);
                pm.apm_write((r >> 40) as u8);
                let _ = pm.next_deadline(now);
                let _ = pm.take_sleep();
            }
        }
        pm.read(0xFFFF, 4, u64::MAX);
        pm.write(0xFFFF, 4, u32::MAX, u64::MAX);
        let _ = pm.next_deadline(u64::MAX);
        assert!(AcpiPm::new().restore(&pm.save()).is_ok());
    }
}
