//! Two cascaded Intel 8259A programmable interrupt controllers, as on every
//! PC/AT, plus the PIIX edge/level control registers (ELCR).
//!
//! Reference: Intel 8259A datasheet (order 231468), "Programming the 8259A"
//! (ICW1-ICW4, OCW1-OCW3), "Interrupt sequence", "Edge and level triggered
//! modes", "Special mask mode", "Poll command"; Intel 82371AB (PIIX4)
//! datasheet, section "ELCR1/ELCR2 - edge/level control registers".
//!
//! # Wiring
//!
//! The master sits at ports 0x20/0x21 and serves IRQ0-7; the slave sits at
//! 0xA0/0xA1, serves IRQ8-15 and its INT output drives the master's IR2. The
//! ELCR at 0x4D0 (IRQ0-7) and 0x4D1 (IRQ8-15) selects level triggering per
//! line. Because the pair answers at three port ranges, [`PicPair`] is
//! addressed by *absolute* port number ([`PicPair::port_read`],
//! [`PicPair::port_write`]); the machine maps the three ranges to the same
//! device id and passes the port through unchanged.
//!
//! Interrupt lines are levels: devices' outputs are forwarded with
//! [`PicPair::set_irq`] and edge detection happens here, per line (the last
//! level of each line is kept, like QEMU's `last_irr`). The CPU side is
//! [`PicPair::interrupt_pending`] (the master's INT pin) and
//! [`PicPair::acknowledge`] (the two INTA cycles: returns the vector).
//!
//! As on the real chip, a request must still be present at INTA: an
//! edge-triggered line that drops before INTA clears its IRR bit, and a
//! level-triggered line follows its input; a vanished master request yields
//! the spurious IRQ7 vector. The cascade input is an edge-triggered line
//! like the others: the slave's INT output is the master's IR2 input, so a
//! slave request that vanishes before INTA (its line drops, or the slave
//! masks it) withdraws the master's IR2 request too. INTA is atomic here,
//! so the CPU never meets a vanished request; [`PicPair::acknowledge`]
//! called with nothing pending still returns the spurious vector.
//!
//! # Not implemented
//!
//! - 8080/8085 mode (ICW4 bit 0 clear) and the ADI interval: always 8086
//!   vectors.
//! - Cascade configuration is fixed: ICW3 is stored but the slave is always
//!   on the master's IR2, and single mode (ICW1 SNGL) only skips ICW3.
//! - Buffered mode and master/slave select of ICW4 are stored, not used.
//! - IRQ2 as a device line: line 2 is the cascade, so `set_irq(2, _)` is
//!   ignored (ISA IRQ2 is wired to IRQ9 on the AT).

use anyx86_hw::{AccessSize, IrqLevel, Snapshot, SnapshotError};

use crate::{read_bytes, write_bytes};

/// Base port of the master PIC (command at +0, data at +1).
pub const MASTER_PORT: u16 = 0x20;
/// Base port of the slave PIC (command at +0, data at +1).
pub const SLAVE_PORT: u16 = 0xA0;
/// Port of ELCR1 (IRQ0-7); ELCR2 (IRQ8-15) is at the next port.
pub const ELCR_PORT: u16 = 0x4D0;
/// The master input the slave's INT output drives.
pub const CASCADE_LINE: u8 = 2;

/// ICW1: an ICW4 will follow.
const ICW1_IC4: u8 = 0x01;
/// ICW1: single mode (no ICW3).
const ICW1_SNGL: u8 = 0x02;
/// ICW1: level-triggered mode for all inputs.
const ICW1_LTIM: u8 = 0x08;
/// Command-port byte with this bit set is ICW1.
const ICW1_INIT: u8 = 0x10;

/// ICW4: automatic end of interrupt.
const ICW4_AEOI: u8 = 0x02;
/// ICW4: special fully nested mode.
const ICW4_SFNM: u8 = 0x10;

/// OCW2: end-of-interrupt command.
const OCW2_EOI: u8 = 0x20;
/// OCW2: the command names a specific level (bits 0-2).
const OCW2_SL: u8 = 0x40;
/// OCW2: rotate priorities.
const OCW2_R: u8 = 0x80;
/// OCW2: the level field.
const OCW2_LEVEL: u8 = 0x07;

/// OCW3: read ISR (with RR) instead of IRR.
const OCW3_RIS: u8 = 0x01;
/// OCW3: the RIS bit is valid.
const OCW3_RR: u8 = 0x02;
/// OCW3: poll command.
const OCW3_P: u8 = 0x04;
/// Command-port byte with this bit set (and ICW1_INIT clear) is OCW3.
const OCW3_SELECT: u8 = 0x08;
/// OCW3: special mask mode value (with ESMM).
const OCW3_SMM: u8 = 0x20;
/// OCW3: the SMM bit is valid.
const OCW3_ESMM: u8 = 0x40;

/// Poll word: an interrupt was pending (bits 0-2 give its level).
const POLL_INT: u8 = 0x80;

/// ELCR1 bits that can be set: IRQ0 (timer), IRQ1 (keyboard) and IRQ2
/// (cascade) are always edge-triggered.
const ELCR_MASK_MASTER: u8 = 0xF8;
/// ELCR2 bits that can be set: IRQ8 (RTC) and IRQ13 (FPU) are always
/// edge-triggered.
const ELCR_MASK_SLAVE: u8 = 0xDE;

/// Vector offset of the spurious interrupt (IR7 of either chip).
const SPURIOUS_LEVEL: u8 = 7;

/// Plain-data state of one 8259A.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PicChipState {
    /// Last level seen on each IR input (for edge detection).
    pub lines: u8,
    /// Interrupt request register.
    pub irr: u8,
    /// In-service register.
    pub isr: u8,
    /// Interrupt mask register (OCW1).
    pub imr: u8,
    /// The IR level with the highest priority (0 at reset; moved by rotation).
    pub highest_priority: u8,
    /// ICW2: vector of IR0 (low three bits zero).
    pub vector_base: u8,
    /// Initialization step: 0 = operational, 1/2/3 = expecting ICW2/3/4.
    pub init_step: u8,
    /// ICW1 flags of the current initialization (IC4, SNGL, LTIM).
    pub icw1: u8,
    /// ICW3 as written (stored only).
    pub icw3: u8,
    /// ICW4 as written (AEOI and SFNM are used).
    pub icw4: u8,
    /// Rotate in automatic EOI mode (OCW2 commands 100/000).
    pub rotate_on_aeoi: bool,
    /// OCW3 read register select: true = ISR, false = IRR.
    pub read_isr: bool,
    /// A poll command is armed: the next read returns the poll word.
    pub poll: bool,
    /// Special mask mode.
    pub special_mask: bool,
    /// Edge/level control register: 1 = level-triggered.
    pub elcr: u8,
}
anyx86_hw::wire_struct!(PicChipState {
    lines,
    irr,
    isr,
    imr,
    highest_priority,
    vector_base,
    init_step,
    icw1,
    icw3,
    icw4,
    rotate_on_aeoi,
    read_isr,
    poll,
    special_mask,
    elcr
});

/// Plain-data state of the PIC pair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PicState {
    /// The master (IRQ0-7).
    pub master: PicChipState,
    /// The slave (IRQ8-15).
    pub slave: PicChipState,
}
anyx86_hw::wire_struct!(PicState { master, slave });

/// Side-effect-free view of one chip's registers, for a debugger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PicChipView {
    /// Interrupt request register.
    pub irr: u8,
    /// In-service register.
    pub isr: u8,
    /// Interrupt mask register.
    pub imr: u8,
    /// Vector of IR0.
    pub vector_base: u8,
    /// Edge/level control register.
    pub elcr: u8,
}

/// Side-effect-free view of both chips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PicView {
    /// The master (IRQ0-7).
    pub master: PicChipView,
    /// The slave (IRQ8-15).
    pub slave: PicChipView,
}

impl PicChipState {
    fn view(&self) -> PicChipView {
        PicChipView {
            irr: self.irr,
            isr: self.isr,
            imr: self.imr,
            vector_base: self.vector_base,
            elcr: self.elcr,
        }
    }

    fn level_triggered(&self, mask: u8) -> bool {
        self.icw1 & ICW1_LTIM != 0 || self.elcr & mask != 0
    }

    fn auto_eoi(&self) -> bool {
        self.icw4 & ICW4_AEOI != 0
    }

    /// Drives input `irq` (0-7) to `level`.
    fn set_line(&mut self, irq: u8, level: bool) {
        let mask = 1u8 << irq;
        if level {
            if self.level_triggered(mask) || self.lines & mask == 0 {
                self.irr |= mask;
            }
            self.lines |= mask;
        } else {
            // The request must be held until INTA on the real chip.
            self.irr &= !mask;
            self.lines &= !mask;
        }
    }

    /// Drives the cascade input (IR2) from the slave's INT output, an
    /// edge-triggered line: a rising edge latches a request, and the request
    /// is withdrawn when the slave's INT falls before INTA.
    fn set_cascade(&mut self, level: bool) {
        let mask = 1u8 << CASCADE_LINE;
        if level {
            if self.lines & mask == 0 {
                self.irr |= mask;
            }
            self.lines |= mask;
        } else {
            self.irr &= !mask;
            self.lines &= !mask;
        }
    }

    /// Priority rank (0 = highest) of the best set bit of `mask`, if any.
    fn best_rank(&self, mask: u8) -> Option<u8> {
        (0..8).find(|rank| mask & (1 << ((rank + self.highest_priority) & 7)) != 0)
    }

    fn level_of_rank(&self, rank: u8) -> u8 {
        (rank + self.highest_priority) & 7
    }

    /// The level this chip would present at INTA now, if any: the INT pin.
    fn pending(&self, is_master: bool) -> Option<u8> {
        let mut requests = self.irr & !self.imr;
        if requests == 0 {
            // Nothing requested: the common case, asked after every device
            // access.
            return None;
        }
        let blocking_rank = if self.special_mask {
            // Special mask mode: every unmasked level not itself in service
            // may interrupt, lower priorities included.
            requests &= !self.isr;
            8
        } else {
            let mut in_service = self.isr;
            if is_master && self.icw4 & ICW4_SFNM != 0 {
                // Special fully nested: the slave may interrupt its own
                // in-service IR2 with a higher slave priority.
                in_service &= !(1 << CASCADE_LINE);
            }
            self.best_rank(in_service).unwrap_or(8)
        };
        let rank = self.best_rank(requests)?;
        (rank < blocking_rank).then(|| self.level_of_rank(rank))
    }

    /// The INTA cycle for `irq`: sets ISR (unless AEOI), clears an edge
    /// request.
    fn intack(&mut self, irq: u8) {
        let mask = 1u8 << irq;
        if self.auto_eoi() {
            if self.rotate_on_aeoi {
                self.highest_priority = (irq + 1) & 7;
            }
        } else {
            self.isr |= mask;
        }
        if !self.level_triggered(mask) {
            self.irr &= !mask;
        }
    }

    fn read(&mut self, is_master: bool, port_offset: u16) -> u8 {
        if self.poll {
            self.poll = false;
            return match self.pending(is_master) {
                Some(irq) => {
                    self.intack(irq);
                    POLL_INT | irq
                }
                None => 0,
            };
        }
        match (port_offset, self.read_isr) {
            (0, true) => self.isr,
            (0, false) => self.irr,
            _ => self.imr,
        }
    }

    fn write(&mut self, port_offset: u16, value: u8) {
        match port_offset {
            0 if value & ICW1_INIT != 0 => self.icw1_write(value),
            0 if value & OCW3_SELECT != 0 => self.ocw3_write(value),
            0 => self.ocw2_write(value),
            _ => self.data_write(value),
        }
    }

    fn icw1_write(&mut self, value: u8) {
        let elcr = self.elcr;
        let lines = self.lines;
        *self = PicChipState {
            lines,
            elcr,
            icw1: value & (ICW1_IC4 | ICW1_SNGL | ICW1_LTIM),
            init_step: 1,
            ..PicChipState::default()
        };
        // The edge sense latches are reset: an edge-triggered input that is
        // already high must go low and high again to request.
        let level_mask = if value & ICW1_LTIM != 0 { 0xFF } else { elcr };
        self.irr = lines & level_mask;
    }

    fn data_write(&mut self, value: u8) {
        let needs_icw4 = self.icw1 & ICW1_IC4 != 0;
        let after_icw3 = if needs_icw4 { 3 } else { 0 };
        match self.init_step {
            1 => {
                self.vector_base = value & 0xF8;
                self.init_step = if self.icw1 & ICW1_SNGL != 0 {
                    after_icw3
                } else {
                    2
                };
            }
            2 => {
                self.icw3 = value;
                self.init_step = after_icw3;
            }
            3 => {
                self.icw4 = value;
                self.init_step = 0;
            }
            _ => self.imr = value,
        }
    }

    fn ocw2_write(&mut self, value: u8) {
        let level = value & OCW2_LEVEL;
        match value & (OCW2_R | OCW2_SL | OCW2_EOI) {
            // Non-specific EOI, optionally rotating.
            OCW2_EOI => {
                self.non_specific_eoi();
            }
            x if x == OCW2_R | OCW2_EOI => {
                if let Some(irq) = self.non_specific_eoi() {
                    self.highest_priority = (irq + 1) & 7;
                }
            }
            x if x == OCW2_SL | OCW2_EOI => self.isr &= !(1 << level),
            x if x == OCW2_R | OCW2_SL | OCW2_EOI => {
                self.isr &= !(1 << level);
                self.highest_priority = (level + 1) & 7;
            }
            // Set priority: `level` becomes the lowest priority.
            x if x == OCW2_R | OCW2_SL => self.highest_priority = (level + 1) & 7,
            OCW2_R => self.rotate_on_aeoi = true,
            0 => self.rotate_on_aeoi = false,
            // OCW2_SL alone is a no-op.
            _ => {}
        }
    }

    /// Clears the highest-priority in-service bit; returns its level.
    fn non_specific_eoi(&mut self) -> Option<u8> {
        let mut candidates = self.isr;
        if self.special_mask {
            // In special mask mode a masked in-service level is not the one
            // the non-specific EOI is meant for.
            candidates &= !self.imr;
        }
        let irq = self.level_of_rank(self.best_rank(candidates)?);
        self.isr &= !(1 << irq);
        Some(irq)
    }

    fn ocw3_write(&mut self, value: u8) {
        if value & OCW3_RR != 0 {
            self.read_isr = value & OCW3_RIS != 0;
        }
        if value & OCW3_P != 0 {
            self.poll = true;
        }
        if value & OCW3_ESMM != 0 {
            self.special_mask = value & OCW3_SMM != 0;
        }
    }

    fn validate(&self, elcr_mask: u8) -> Result<(), SnapshotError> {
        let invalid = |field, why| Err(SnapshotError::Invalid { field, why });
        if self.highest_priority > 7 {
            return invalid("highest_priority", "must be 0-7");
        }
        if self.vector_base & 7 != 0 {
            return invalid("vector_base", "low three bits must be zero");
        }
        if self.init_step > 3 {
            return invalid("init_step", "must be 0-3");
        }
        if self.elcr & !elcr_mask != 0 {
            return invalid("elcr", "sets a bit of an edge-only line");
        }
        Ok(())
    }
}

/// The master/slave 8259A pair of a PC/AT, with the ELCR.
#[derive(Debug, Clone, Default)]
pub struct PicPair {
    state: PicState,
}

impl PicPair {
    /// A pair in the power-on state (uninitialized, nothing masked, all
    /// lines edge-triggered).
    pub fn new() -> Self {
        Self::default()
    }

    /// Drives interrupt line `line` (0-15) to `level`. Line 2 is the
    /// cascade and lines 16 and above do not exist: both are ignored.
    pub fn set_irq(&mut self, line: u8, level: bool) {
        match line {
            CASCADE_LINE => {}
            0..=7 => self.state.master.set_line(line, level),
            8..=15 => self.state.slave.set_line(line - 8, level),
            _ => {}
        }
        self.update_irq();
    }

    /// The master's INT output: an interrupt is waiting for INTA.
    pub fn interrupt_pending(&self) -> bool {
        self.state.master.pending(true).is_some()
    }

    /// The INTA sequence: returns the vector and updates ISR/IRR of the
    /// chips involved. Returns the spurious vector (IR7 of the master, or
    /// IR7 of the slave through IR2) if the request vanished.
    pub fn acknowledge(&mut self) -> u8 {
        let master = &mut self.state.master;
        let vector = match master.pending(true) {
            None => master.vector_base | SPURIOUS_LEVEL,
            Some(CASCADE_LINE) => {
                master.intack(CASCADE_LINE);
                let slave = &mut self.state.slave;
                match slave.pending(false) {
                    Some(irq) => {
                        slave.intack(irq);
                        slave.vector_base | irq
                    }
                    None => slave.vector_base | SPURIOUS_LEVEL,
                }
            }
            Some(irq) => {
                master.intack(irq);
                master.vector_base | irq
            }
        };
        self.update_irq();
        vector
    }

    /// Reads `size` bytes at absolute `port` (0x20, 0x21, 0xA0, 0xA1, 0x4D0,
    /// 0x4D1; wider accesses continue at the next ports). Other ports read
    /// as 0xFF.
    pub fn port_read(&mut self, port: u16, size: AccessSize) -> u32 {
        read_bytes(port, size, |p| self.read_byte(p))
    }

    /// Writes the low `size` bytes of `value` at absolute `port`.
    pub fn port_write(&mut self, port: u16, size: AccessSize, value: u32) {
        write_bytes(port, size, value, |p, v| self.write_byte(p, v));
    }

    /// Reads one byte register at absolute `port`.
    pub fn read_byte(&mut self, port: u16) -> u8 {
        let value = match port {
            0x20 | 0x21 => self.state.master.read(true, port - MASTER_PORT),
            0xA0 | 0xA1 => self.state.slave.read(false, port - SLAVE_PORT),
            0x4D0 => self.state.master.elcr,
            0x4D1 => self.state.slave.elcr,
            _ => return 0xFF,
        };
        // A poll read acknowledges like INTA.
        self.update_irq();
        value
    }

    /// Writes one byte register at absolute `port`.
    pub fn write_byte(&mut self, port: u16, value: u8) {
        match port {
            0x20 | 0x21 => self.state.master.write(port - MASTER_PORT, value),
            0xA0 | 0xA1 => self.state.slave.write(port - SLAVE_PORT, value),
            0x4D0 => self.state.master.elcr = value & ELCR_MASK_MASTER,
            0x4D1 => self.state.slave.elcr = value & ELCR_MASK_SLAVE,
            _ => {}
        }
        self.update_irq();
    }

    /// Register values without side effects, for a debugger.
    pub fn peek(&self) -> PicView {
        PicView {
            master: self.state.master.view(),
            slave: self.state.slave.view(),
        }
    }

    /// Forwards the slave's INT output to the master's IR2: called at the
    /// end of every mutating path.
    fn update_irq(&mut self) {
        let slave_int = self.state.slave.pending(false).is_some();
        self.state.master.set_cascade(slave_int);
    }
}

impl IrqLevel for PicPair {
    /// The master's INT output.
    fn irq_level(&self) -> bool {
        self.interrupt_pending()
    }
}

impl Snapshot for PicPair {
    type State = PicState;

    fn save(&self) -> PicState {
        self.state.clone()
    }

    fn restore(&mut self, state: &PicState) -> Result<(), SnapshotError> {
        state.master.validate(ELCR_MASK_MASTER)?;
        state.slave.validate(ELCR_MASK_SLAVE)?;
        self.state = state.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Initializes the pair the way a PC BIOS/Linux does: ICW1 = 0x11 (edge,
    /// cascade, ICW4 follows), vectors 0x20 and 0x28, ICW3 = IR2 / ID 2,
    /// ICW4 = `icw4` (0x01 = 8086 mode, normal EOI), nothing masked.
    fn init_with(icw4: u8) -> PicPair {
        let mut pic = PicPair::new();
        for (port, v) in [(0x20, 0x11), (0x21, 0x20), (0x21, 0x04), (0x21, icw4)] {
            pic.write_byte(port, v);
        }
        for (port, v) in [(0xA0, 0x11), (0xA1, 0x28), (0xA1, 0x02), (0xA1, icw4)] {
            pic.write_byte(port, v);
        }
        pic
    }

    fn init() -> PicPair {
        init_with(0x01)
    }

    /// Raises `line` (a rising edge). It stays high: an edge request is
    /// only latched while the line holds.
    fn raise(pic: &mut PicPair, line: u8) {
        pic.set_irq(line, true);
    }

    const NON_SPECIFIC_EOI: u8 = 0x20;
    const READ_ISR: u8 = 0x0B;
    const READ_IRR: u8 = 0x0A;

    #[test]
    fn icw_sequence_sets_vector_bases() {
        let mut pic = init();
        raise(&mut pic, 0);
        assert!(pic.interrupt_pending());
        assert_eq!(pic.acknowledge(), 0x20);
        pic.write_byte(0x20, NON_SPECIFIC_EOI);
        raise(&mut pic, 9);
        assert_eq!(pic.acknowledge(), 0x29);
    }

    #[test]
    fn lower_line_number_has_priority() {
        let mut pic = init();
        raise(&mut pic, 5);
        raise(&mut pic, 3);
        assert_eq!(pic.acknowledge(), 0x23);
        // IR3 in service blocks IR5 (lower priority) until EOI.
        assert!(!pic.interrupt_pending());
        pic.write_byte(0x20, NON_SPECIFIC_EOI);
        assert_eq!(pic.acknowledge(), 0x25);
    }

    #[test]
    fn higher_priority_nests_over_in_service() {
        let mut pic = init();
        raise(&mut pic, 4);
        assert_eq!(pic.acknowledge(), 0x24);
        raise(&mut pic, 1);
        assert!(pic.interrupt_pending());
        assert_eq!(pic.acknowledge(), 0x21);
        pic.write_byte(0x20, READ_ISR);
        assert_eq!(pic.read_byte(0x20), 0b0001_0010);
    }

    #[test]
    fn masked_line_is_latched_but_not_delivered() {
        let mut pic = init();
        pic.write_byte(0x21, 0x01); // OCW1: mask IR0
        raise(&mut pic, 0);
        assert!(!pic.interrupt_pending());
        pic.write_byte(0x20, READ_IRR);
        assert_eq!(pic.read_byte(0x20), 0x01);
        pic.write_byte(0x21, 0x00);
        assert_eq!(pic.acknowledge(), 0x20);
    }

    #[test]
    fn edge_needs_a_new_rising_edge() {
        let mut pic = init();
        raise(&mut pic, 0);
        pic.acknowledge();
        pic.write_byte(0x20, NON_SPECIFIC_EOI);
        // Line still high: no new request.
        pic.set_irq(0, true);
        assert!(!pic.interrupt_pending());
        pic.set_irq(0, false);
        pic.set_irq(0, true);
        assert!(pic.interrupt_pending());
    }

    #[test]
    fn level_triggered_line_per_elcr_rerequests_after_eoi() {
        let mut pic = init();
        pic.write_byte(0x4D1, 0x08); // ELCR2 bit 3 = IRQ11 level
        assert_eq!(pic.read_byte(0x4D1), 0x08);
        raise(&mut pic, 11);
        assert_eq!(pic.acknowledge(), 0x2B);
        pic.write_byte(0xA0, NON_SPECIFIC_EOI);
        pic.write_byte(0x20, NON_SPECIFIC_EOI);
        // Still high: level-triggered, requests again.
        assert_eq!(pic.acknowledge(), 0x2B);
        // The device deasserts before the EOIs: no further request.
        pic.set_irq(11, false);
        pic.write_byte(0xA0, NON_SPECIFIC_EOI);
        pic.write_byte(0x20, NON_SPECIFIC_EOI);
        assert!(!pic.interrupt_pending());
    }

    #[test]
    fn elcr_cannot_make_timer_or_cascade_level() {
        let mut pic = init();
        pic.write_byte(0x4D0, 0xFF);
        assert_eq!(pic.read_byte(0x4D0), 0xF8);
        pic.write_byte(0x4D1, 0xFF);
        assert_eq!(pic.read_byte(0x4D1), 0xDE);
    }

    #[test]
    fn specific_eoi_clears_the_named_level() {
        let mut pic = init();
        raise(&mut pic, 6);
        pic.acknowledge();
        raise(&mut pic, 3); // IR3 nests over IR6
        pic.acknowledge();
        pic.write_byte(0x20, 0x66); // specific EOI for level 6
        pic.write_byte(0x20, READ_ISR);
        assert_eq!(pic.read_byte(0x20), 0x08);
    }

    #[test]
    fn automatic_eoi_leaves_isr_clear() {
        let mut pic = init_with(0x03); // ICW4: 8086 mode + AEOI
        raise(&mut pic, 1);
        assert_eq!(pic.acknowledge(), 0x21);
        pic.write_byte(0x20, READ_ISR);
        assert_eq!(pic.read_byte(0x20), 0);
        raise(&mut pic, 3);
        assert!(pic.interrupt_pending(), "no EOI needed");
    }

    #[test]
    fn rotate_on_non_specific_eoi_makes_served_level_lowest() {
        let mut pic = init();
        raise(&mut pic, 0);
        pic.acknowledge();
        pic.write_byte(0x20, 0xA0); // rotate on non-specific EOI
                                    // IR0 is now lowest: IR1 beats a new IR0.
        pic.set_irq(0, false);
        raise(&mut pic, 0);
        raise(&mut pic, 1);
        assert_eq!(pic.acknowledge(), 0x21);
    }

    #[test]
    fn set_priority_command_rotates() {
        let mut pic = init();
        pic.write_byte(0x20, 0xC4); // set priority: IR4 lowest, IR5 highest
        raise(&mut pic, 3);
        raise(&mut pic, 5);
        assert_eq!(pic.acknowledge(), 0x25);
    }

    #[test]
    fn rotate_in_automatic_eoi_mode() {
        let mut pic = init_with(0x03);
        pic.write_byte(0x20, 0x80); // set rotate in AEOI
        raise(&mut pic, 6);
        assert_eq!(pic.acknowledge(), 0x26);
        // IR6 now lowest: IR7 beats IR0.
        raise(&mut pic, 0);
        raise(&mut pic, 7);
        assert_eq!(pic.acknowledge(), 0x27);
    }

    #[test]
    fn special_mask_mode_lets_lower_priority_through() {
        let mut pic = init();
        raise(&mut pic, 1);
        pic.acknowledge();
        raise(&mut pic, 5);
        assert!(!pic.interrupt_pending(), "IR1 in service blocks IR5");
        pic.write_byte(0x21, 0x02); // mask IR1
        pic.write_byte(0x20, 0x68); // OCW3: set special mask mode
        assert_eq!(pic.acknowledge(), 0x25);
        pic.write_byte(0x20, 0x48); // OCW3: reset special mask mode
        pic.write_byte(0x20, READ_ISR);
        assert_eq!(pic.read_byte(0x20), 0x22);
    }

    #[test]
    fn poll_command_returns_level_and_acknowledges() {
        let mut pic = init();
        raise(&mut pic, 4);
        pic.write_byte(0x20, 0x0C); // OCW3: poll
        assert_eq!(pic.read_byte(0x20), 0x84);
        pic.write_byte(0x20, READ_ISR);
        assert_eq!(pic.read_byte(0x20), 0x10);
        pic.write_byte(0x20, 0x0C);
        assert_eq!(pic.read_byte(0x20), 0x00, "nothing else pending");
    }

    #[test]
    fn vanished_master_request_gives_spurious_irq7() {
        let mut pic = init();
        raise(&mut pic, 3);
        assert!(pic.interrupt_pending());
        pic.set_irq(3, false);
        assert_eq!(pic.acknowledge(), 0x27);
        pic.write_byte(0x20, READ_ISR);
        assert_eq!(pic.read_byte(0x20), 0, "spurious sets no ISR bit");
    }

    #[test]
    fn vanished_slave_request_withdraws_ir2() {
        let mut pic = init();
        raise(&mut pic, 12);
        assert!(pic.interrupt_pending());
        pic.set_irq(12, false);
        // The slave's INT fell, and with it the master's IR2 input: no
        // interrupt at all (not a spurious IRQ15).
        assert!(!pic.interrupt_pending());
        pic.write_byte(0x20, READ_IRR);
        assert_eq!(pic.read_byte(0x20), 0, "no request on IR2");
        raise(&mut pic, 12);
        assert_eq!(pic.acknowledge(), 0x2C, "a new request is delivered");
    }

    #[test]
    fn slave_request_masked_before_inta_withdraws_ir2() {
        let mut pic = init();
        raise(&mut pic, 8);
        pic.write_byte(0xA1, 0x01); // the slave masks IRQ8
        assert!(!pic.interrupt_pending());
        pic.write_byte(0xA1, 0x00);
        assert_eq!(pic.acknowledge(), 0x28, "unmasked: delivered");
    }

    #[test]
    fn masked_slave_line_never_reaches_master() {
        let mut pic = init();
        pic.write_byte(0xA1, 0x10); // mask IRQ12 on the slave
        raise(&mut pic, 12);
        assert!(!pic.interrupt_pending());
        pic.write_byte(0xA1, 0x00);
        assert_eq!(pic.acknowledge(), 0x2C);
    }

    #[test]
    fn special_fully_nested_lets_slave_nest() {
        let mut pic = init_with(0x11); // 8086 + SFNM
        raise(&mut pic, 12);
        assert_eq!(pic.acknowledge(), 0x2C);
        raise(&mut pic, 9);
        assert!(pic.interrupt_pending());
        assert_eq!(pic.acknowledge(), 0x29);
    }

    #[test]
    fn without_sfnm_slave_cannot_nest() {
        let mut pic = init();
        raise(&mut pic, 12);
        pic.acknowledge();
        raise(&mut pic, 9);
        assert!(!pic.interrupt_pending());
    }

    #[test]
    fn icw1_clears_masks_and_requires_new_edge() {
        let mut pic = init();
        pic.write_byte(0x21, 0xFF);
        raise(&mut pic, 0);
        // Re-initialize the master with vector base 0x08.
        for (port, v) in [(0x20, 0x11), (0x21, 0x08), (0x21, 0x04), (0x21, 0x01)] {
            pic.write_byte(port, v);
        }
        assert_eq!(pic.read_byte(0x21), 0, "IMR cleared");
        assert!(
            !pic.interrupt_pending(),
            "held-high edge line needs a new edge"
        );
        pic.set_irq(0, false);
        raise(&mut pic, 0);
        assert_eq!(pic.acknowledge(), 0x08);
    }

    #[test]
    fn unknown_ports_and_bad_sizes_read_ones() {
        let mut pic = init();
        assert_eq!(pic.port_read(0x22, 1), 0xFF);
        assert_eq!(pic.port_read(0x20, 3), 0xFFFF_FFFF);
        pic.write_byte(0x21, 0x5A);
        // 16-bit read at 0x20: IRR in the low byte, IMR in the high byte.
        assert_eq!(pic.port_read(0x20, 2), 0x5A00);
    }

    #[test]
    fn peek_has_no_side_effects() {
        let mut pic = init();
        raise(&mut pic, 4);
        pic.write_byte(0x20, 0x0C); // arm poll
        let view = pic.peek();
        assert_eq!(view.master.irr, 0x10);
        assert_eq!(view.slave.vector_base, 0x28);
        assert!(pic.interrupt_pending(), "peek did not acknowledge");
    }

    #[test]
    fn snapshot_roundtrip() {
        let mut pic = init();
        pic.write_byte(0x4D0, 0x20);
        raise(&mut pic, 5);
        raise(&mut pic, 10);
        pic.acknowledge();
        anyx86_hw::assert_snapshot_roundtrip(&pic, &mut PicPair::new());
    }

    #[test]
    fn restore_rejects_bad_state() {
        let mut state = PicState::default();
        state.master.highest_priority = 8;
        assert!(PicPair::new().restore(&state).is_err());
        let mut state = PicState::default();
        state.master.elcr = 0x01;
        assert!(PicPair::new().restore(&state).is_err());
    }
}
