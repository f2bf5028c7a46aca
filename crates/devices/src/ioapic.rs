//! Intel 82093AA I/O APIC, 24 pins, as the version 0x20 part QEMU models
//! (which adds the EOI register of the ICH I/O APICs).
//!
//! Reference: Intel 82093AA I/O Advanced Programmable Interrupt Controller
//! datasheet (order 290566), section 3 "Register Description" (IOREGSEL,
//! IOWIN, IOAPICID, IOAPICVER, IOAPICARB, IOREDTBL); Intel ICH datasheets,
//! "EOI register"; QEMU `hw/intc/ioapic.c` is the behavioural reference.
//!
//! # Wiring
//!
//! - MMIO at 0xFEC00000: [`IoApic::read`] / [`IoApic::write`] take the
//!   offset in the page and a dword: IOREGSEL at 0x00, IOWIN at 0x10, EOI
//!   at 0x40. Other offsets read 0 and ignore writes.
//! - The machine drives each pin's level with [`IoApic::set_irq`]
//!   (active-high: the polarity bit is stored and, as in QEMU, not applied).
//!   On a PC, ISA IRQ0 (the PIT) is wired to pin 2, the other ISA IRQs to
//!   the pin of the same number, PCI INTA-D to pins 16-19.
//! - After every `set_irq`, `write` and `eoi`, the machine drains
//!   [`IoApic::take_message`] into `Lapic::deliver`, and gives every vector
//!   from `Lapic::take_eoi` to [`IoApic::eoi`].
//!
//! # Delivery
//!
//! An edge-triggered entry delivers on a rising edge of its pin; an edge
//! that arrives while the entry is masked is dropped, as the 82093AA
//! datasheet says ("edge-sensitive interrupts are not recognised while
//! masked") and QEMU does. A level-triggered entry delivers while its pin is
//! high, unmasked and remote IRR is clear; delivering sets remote IRR and
//! an EOI with the entry's vector clears it (so a pin still high delivers
//! again). Each pin has at most one message pending; its delivery status bit
//! shows it.
//!
//! # Not implemented
//!
//! - The arbitration ID register reads 0, as in QEMU.
//! - Unknown indirect registers read 0, as in QEMU.
//! - Reserved delivery modes (011b, 110b) deliver nothing.

use anyx86_hw::{Snapshot, SnapshotError};

use crate::lapic::{ApicMessage, DeliveryMode};

/// Number of interrupt input pins.
pub const IOAPIC_PINS: usize = 24;

/// MMIO offset of the index register.
pub const IOREGSEL: u32 = 0x00;
/// MMIO offset of the data window.
pub const IOWIN: u32 = 0x10;
/// MMIO offset of the EOI register (version 0x20 parts).
pub const IOEOI: u32 = 0x40;

/// Indirect register: I/O APIC ID (bits 27:24).
pub const IOAPICID: u8 = 0x00;
/// Indirect register: version.
pub const IOAPICVER: u8 = 0x01;
/// Indirect register: arbitration ID.
pub const IOAPICARB: u8 = 0x02;
/// Indirect register: first redirection table dword (pin n: 0x10 + 2n low,
/// 0x11 + 2n high).
pub const IOREDTBL: u8 = 0x10;

/// Version register: version 0x20, maximum redirection entry 23.
pub const IOAPIC_VERSION_VALUE: u32 = 0x0017_0020;

/// Redirection entry: vector.
pub const REDIR_VECTOR: u64 = 0xFF;
/// Redirection entry: delivery mode field position (bits 10:8).
pub const REDIR_DM_SHIFT: u32 = 8;
/// Redirection entry: logical destination mode.
pub const REDIR_DEST_LOGICAL: u64 = 1 << 11;
/// Redirection entry: delivery status (read-only), a message is pending.
pub const REDIR_DELIVERY_STATUS: u64 = 1 << 12;
/// Redirection entry: input pin polarity, 1 = active low (stored only).
pub const REDIR_POLARITY: u64 = 1 << 13;
/// Redirection entry: remote IRR (read-only), a level interrupt is in
/// service.
pub const REDIR_REMOTE_IRR: u64 = 1 << 14;
/// Redirection entry: trigger mode, 1 = level.
pub const REDIR_TRIGGER_LEVEL: u64 = 1 << 15;
/// Redirection entry: mask.
pub const REDIR_MASKED: u64 = 1 << 16;
/// Redirection entry: destination field position (bits 63:56).
pub const REDIR_DEST_SHIFT: u32 = 56;
/// Writable bits of a redirection entry.
const REDIR_WRITABLE: u64 = 0xFF00_0000_0001_AFFF;
/// Read-only bits of a redirection entry.
const REDIR_READ_ONLY: u64 = REDIR_DELIVERY_STATUS | REDIR_REMOTE_IRR;

/// Plain-data state of the I/O APIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoApicState {
    /// IOREGSEL.
    pub ioregsel: u8,
    /// I/O APIC ID (4 bits).
    pub id: u8,
    /// Redirection table; the delivery status bit mirrors `pending`.
    pub redir: [u64; IOAPIC_PINS],
    /// Pin levels, bit n = pin n.
    pub levels: u32,
    /// Pins with a message waiting for `take_message`.
    pub pending: u32,
}
anyx86_hw::wire_struct!(IoApicState {
    ioregsel,
    id,
    redir,
    levels,
    pending
});

impl Default for IoApicState {
    fn default() -> Self {
        Self {
            ioregsel: 0,
            id: 0,
            redir: [REDIR_MASKED; IOAPIC_PINS],
            levels: 0,
            pending: 0,
        }
    }
}

/// The I/O APIC.
#[derive(Debug, Clone, Default)]
pub struct IoApic {
    state: IoApicState,
}

impl IoApic {
    /// The I/O APIC at reset: ID 0, every entry masked.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a dword at `offset` of the MMIO window.
    pub fn read(&mut self, offset: u32) -> u32 {
        match offset {
            IOREGSEL => u32::from(self.state.ioregsel),
            IOWIN => self.read_indirect(self.state.ioregsel),
            _ => 0,
        }
    }

    /// Writes a dword at `offset` of the MMIO window.
    pub fn write(&mut self, offset: u32, value: u32) {
        match offset {
            IOREGSEL => self.state.ioregsel = value as u8,
            IOWIN => self.write_indirect(self.state.ioregsel, value),
            IOEOI => self.eoi(value as u8),
            _ => {}
        }
    }

    /// The redirection entry and half (high dword?) of an indirect index.
    fn redir_index(index: u8) -> Option<(usize, bool)> {
        let i = usize::from(index.checked_sub(IOREDTBL)?);
        (i < 2 * IOAPIC_PINS).then_some((i / 2, i % 2 == 1))
    }

    fn read_indirect(&self, index: u8) -> u32 {
        match index {
            IOAPICID => u32::from(self.state.id) << 24,
            IOAPICVER => IOAPIC_VERSION_VALUE,
            _ => match Self::redir_index(index) {
                Some((pin, true)) => (self.state.redir[pin] >> 32) as u32,
                Some((pin, false)) => self.state.redir[pin] as u32,
                None => 0,
            },
        }
    }

    fn write_indirect(&mut self, index: u8, value: u32) {
        if index == IOAPICID {
            self.state.id = ((value >> 24) & 0xF) as u8;
            return;
        }
        let Some((pin, high)) = Self::redir_index(index) else {
            return;
        };
        let entry = &mut self.state.redir[pin];
        let new = if high {
            (*entry & 0xFFFF_FFFF) | u64::from(value) << 32
        } else {
            (*entry & !0xFFFF_FFFF) | u64::from(value)
        };
        *entry = (new & REDIR_WRITABLE) | (*entry & REDIR_READ_ONLY);
        if *entry & REDIR_TRIGGER_LEVEL == 0 {
            // An edge entry has no interrupt in service to wait for.
            *entry &= !REDIR_REMOTE_IRR;
        }
        self.service_level(pin);
    }

    /// Queues a message for `pin`; a level entry now waits for its EOI.
    fn queue(&mut self, pin: usize) {
        self.state.pending |= 1 << pin;
        let entry = &mut self.state.redir[pin];
        *entry |= REDIR_DELIVERY_STATUS;
        if *entry & REDIR_TRIGGER_LEVEL != 0 {
            *entry |= REDIR_REMOTE_IRR;
        }
    }

    /// A level entry whose pin is high, unmasked and not in service
    /// delivers.
    fn service_level(&mut self, pin: usize) {
        let entry = self.state.redir[pin];
        let high = self.state.levels & (1 << pin) != 0;
        let blocked = REDIR_MASKED | REDIR_REMOTE_IRR | REDIR_DELIVERY_STATUS;
        if entry & REDIR_TRIGGER_LEVEL != 0 && high && entry & blocked == 0 {
            self.queue(pin);
        }
    }

    /// Sets the level of `pin` (active-high). Pins >= 24 are ignored.
    pub fn set_irq(&mut self, pin: u8, level: bool) {
        let pin = usize::from(pin);
        if pin >= IOAPIC_PINS {
            return;
        }
        let bit = 1u32 << pin;
        let rising = level && self.state.levels & bit == 0;
        if level {
            self.state.levels |= bit;
        } else {
            self.state.levels &= !bit;
        }
        let entry = self.state.redir[pin];
        if entry & REDIR_TRIGGER_LEVEL != 0 {
            self.service_level(pin);
        } else if rising && entry & (REDIR_MASKED | REDIR_DELIVERY_STATUS) == 0 {
            self.queue(pin);
        }
    }

    /// Takes the next pending message (lowest pin first). Entries with a
    /// reserved delivery mode are dropped.
    pub fn take_message(&mut self) -> Option<ApicMessage> {
        loop {
            let pending = self.state.pending;
            if pending == 0 {
                return None;
            }
            let pin = pending.trailing_zeros() as usize;
            self.state.pending &= !(1 << pin);
            let entry = &mut self.state.redir[pin];
            *entry &= !REDIR_DELIVERY_STATUS;
            if let Some(msg) = Self::message(*entry) {
                return Some(msg);
            }
        }
    }

    fn message(entry: u64) -> Option<ApicMessage> {
        let mode = match DeliveryMode::from_bits((entry >> REDIR_DM_SHIFT) as u32)? {
            DeliveryMode::StartUp => return None, // reserved in the I/O APIC
            mode => mode,
        };
        Some(ApicMessage {
            vector: (entry & REDIR_VECTOR) as u8,
            mode,
            logical: entry & REDIR_DEST_LOGICAL != 0,
            dest: (entry >> REDIR_DEST_SHIFT) as u8,
            level: entry & REDIR_TRIGGER_LEVEL != 0,
        })
    }

    /// EOI for `vector` (a local APIC's broadcast or the EOI register):
    /// clears remote IRR of level entries with that vector; a pin still
    /// high delivers again.
    pub fn eoi(&mut self, vector: u8) {
        for pin in 0..IOAPIC_PINS {
            let entry = self.state.redir[pin];
            let in_service = entry & REDIR_REMOTE_IRR != 0;
            if in_service && (entry & REDIR_VECTOR) as u8 == vector {
                self.state.redir[pin] &= !REDIR_REMOTE_IRR;
                self.service_level(pin);
            }
        }
    }
}

impl Snapshot for IoApic {
    type State = IoApicState;

    fn save(&self) -> IoApicState {
        self.state.clone()
    }

    fn restore(&mut self, state: &IoApicState) -> Result<(), SnapshotError> {
        let invalid = |field, why| Err(SnapshotError::Invalid { field, why });
        let pin_mask = (1u32 << IOAPIC_PINS) - 1;
        if state.id > 0xF {
            return invalid("id", "four bits");
        }
        if (state.levels | state.pending) & !pin_mask != 0 {
            return invalid("levels", "only 24 pins");
        }
        let entries_ok = state.redir.iter().enumerate().all(|(pin, &e)| {
            let pending = state.pending & (1 << pin) != 0;
            e & !(REDIR_WRITABLE | REDIR_READ_ONLY) == 0
                && (e & REDIR_DELIVERY_STATUS != 0) == pending
        });
        if !entries_ok {
            return invalid("redir", "reserved bits or delivery status out of step");
        }
        self.state = state.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_reg(io: &mut IoApic, index: u8) -> u32 {
        io.write(IOREGSEL, u32::from(index));
        io.read(IOWIN)
    }

    fn write_reg(io: &mut IoApic, index: u8, value: u32) {
        io.write(IOREGSEL, u32::from(index));
        io.write(IOWIN, value);
    }

    /// Programs `pin`'s entry low dword (destination APIC 0).
    fn program(io: &mut IoApic, pin: u8, low: u32) {
        write_reg(io, IOREDTBL + 2 * pin + 1, 0);
        write_reg(io, IOREDTBL + 2 * pin, low);
    }

    const LEVEL: u32 = REDIR_TRIGGER_LEVEL as u32;
    const MASKED: u32 = REDIR_MASKED as u32;
    const REMOTE_IRR: u32 = REDIR_REMOTE_IRR as u32;

    #[test]
    fn reset_values() {
        let mut io = IoApic::new();
        assert_eq!(read_reg(&mut io, IOAPICID), 0);
        assert_eq!(read_reg(&mut io, IOAPICVER), 0x0017_0020);
        assert_eq!(read_reg(&mut io, IOAPICARB), 0);
        for pin in 0..24 {
            assert_eq!(read_reg(&mut io, IOREDTBL + 2 * pin), MASKED);
            assert_eq!(read_reg(&mut io, IOREDTBL + 2 * pin + 1), 0);
        }
        assert_eq!(read_reg(&mut io, 0x40), 0, "past the table");
        assert_eq!(io.read(IOREGSEL), 0x40);
    }

    #[test]
    fn id_and_entry_writable_bits() {
        let mut io = IoApic::new();
        write_reg(&mut io, IOAPICID, u32::MAX);
        assert_eq!(read_reg(&mut io, IOAPICID), 0x0F00_0000);
        write_reg(&mut io, IOREDTBL, u32::MAX);
        // Delivery status and remote IRR are read-only.
        assert_eq!(read_reg(&mut io, IOREDTBL), 0x0001_AFFF);
        write_reg(&mut io, IOREDTBL + 1, u32::MAX);
        assert_eq!(read_reg(&mut io, IOREDTBL + 1), 0xFF00_0000);
    }

    #[test]
    fn edge_delivers_on_rising_edge() {
        let mut io = IoApic::new();
        write_reg(&mut io, IOREDTBL + 5, 0x0300_0000); // pin 2 dest 3
        write_reg(&mut io, IOREDTBL + 4, 0x30 | REDIR_DEST_LOGICAL as u32);
        io.set_irq(2, true);
        assert_eq!(read_reg(&mut io, IOREDTBL + 4) & 0x1000, 0x1000, "pending");
        let msg = io.take_message().expect("edge");
        assert_eq!(
            msg,
            ApicMessage {
                vector: 0x30,
                mode: DeliveryMode::Fixed,
                logical: true,
                dest: 3,
                level: false,
            }
        );
        assert_eq!(read_reg(&mut io, IOREDTBL + 4) & 0x1000, 0);
        io.set_irq(2, true);
        assert_eq!(io.take_message(), None, "no new edge");
        io.set_irq(2, false);
        io.set_irq(2, true);
        assert!(io.take_message().is_some());
    }

    #[test]
    fn one_pending_message_per_pin() {
        let mut io = IoApic::new();
        program(&mut io, 1, 0x31);
        for _ in 0..3 {
            io.set_irq(1, true);
            io.set_irq(1, false);
        }
        assert!(io.take_message().is_some());
        assert_eq!(io.take_message(), None);
    }

    #[test]
    fn masked_edge_is_dropped() {
        let mut io = IoApic::new();
        program(&mut io, 4, 0x34 | MASKED);
        io.set_irq(4, true);
        assert_eq!(io.take_message(), None);
        // Unmasking does not replay the edge (82093AA, QEMU).
        program(&mut io, 4, 0x34);
        assert_eq!(io.take_message(), None);
    }

    #[test]
    fn level_waits_for_eoi_and_redelivers() {
        let mut io = IoApic::new();
        program(&mut io, 10, 0x50 | LEVEL);
        io.set_irq(10, true);
        let msg = io.take_message().expect("level high");
        assert!(msg.level);
        assert_eq!(read_reg(&mut io, IOREDTBL + 20) & REMOTE_IRR, REMOTE_IRR);
        io.set_irq(10, true);
        assert_eq!(io.take_message(), None, "remote IRR blocks");
        // EOI of another vector changes nothing.
        io.eoi(0x51);
        assert_eq!(io.take_message(), None);
        // The line is still high: EOI delivers again.
        io.eoi(0x50);
        assert!(io.take_message().is_some());
        io.set_irq(10, false);
        io.eoi(0x50);
        assert_eq!(read_reg(&mut io, IOREDTBL + 20) & REMOTE_IRR, 0);
        assert_eq!(io.take_message(), None, "line low");
    }

    #[test]
    fn eoi_register_clears_remote_irr() {
        let mut io = IoApic::new();
        program(&mut io, 3, 0x60 | LEVEL);
        io.set_irq(3, true);
        assert!(io.take_message().is_some());
        io.set_irq(3, false);
        io.write(IOEOI, 0x60);
        assert_eq!(read_reg(&mut io, IOREDTBL + 6) & REMOTE_IRR, 0);
    }

    #[test]
    fn level_unmask_delivers_high_line() {
        let mut io = IoApic::new();
        program(&mut io, 7, 0x70 | LEVEL | MASKED);
        io.set_irq(7, true);
        assert_eq!(io.take_message(), None);
        program(&mut io, 7, 0x70 | LEVEL);
        assert_eq!(io.take_message().map(|m| m.vector), Some(0x70));
    }

    #[test]
    fn pins_beyond_24_are_ignored() {
        let mut io = IoApic::new();
        io.set_irq(24, true);
        io.set_irq(255, true);
        assert_eq!(io.take_message(), None);
    }

    #[test]
    fn delivery_modes_decode() {
        let mut io = IoApic::new();
        program(&mut io, 0, 0x700); // ExtINT
        program(&mut io, 1, 0x300); // reserved
        io.set_irq(0, true);
        io.set_irq(1, true);
        assert_eq!(
            io.take_message().map(|m| m.mode),
            Some(DeliveryMode::ExtInt)
        );
        assert_eq!(io.take_message(), None, "reserved mode dropped");
    }

    #[test]
    fn snapshot_roundtrip() {
        let mut io = IoApic::new();
        program(&mut io, 9, 0x59 | LEVEL);
        io.set_irq(9, true);
        io.write(IOREGSEL, 0x12);
        anyx86_hw::assert_snapshot_roundtrip(&io, &mut IoApic::new());
    }

    #[test]
    fn restore_rejects_bad_state() {
        let state = IoApicState {
            pending: 1,
            ..IoApicState::default()
        };
        assert!(IoApic::new().restore(&state).is_err(), "status out of step");
    }

    #[test]
    fn hammer_every_offset() {
        let mut io = IoApic::new();
        let mut x: u32 = 0x9E37_79B9;
        for _ in 0..32 {
            for offset in (0..0x100).chain([0x1000, u32::MAX]) {
                // xorshift32: varied values without a dependency.
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                io.write(offset, x);
                io.read(offset);
                io.set_irq(x as u8, x & 0x100 != 0);
                io.eoi(x as u8);
                while io.take_message().is_some() {}
            }
        }
    }
}
