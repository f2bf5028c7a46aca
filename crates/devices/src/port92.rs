//! System control port A (port 0x92, "fast A20 and reset"), as on PS/2
//! machines and every PC chipset since.
//!
//! Reference: IBM PS/2 Hardware Interface Technical Reference, "System
//! control port A"; Intel 82371AB (PIIX4) datasheet, "PORT92 - port 92
//! register".
//!
//! # Wiring
//!
//! One port, [`PortDevice`] offset 0. The machine ORs [`Port92::a20`] with
//! the keyboard controller's A20 gate, and after each write checks
//! [`Port92::take_reset_request`].
//!
//! # Not implemented
//!
//! - The security lock (bit 3) and the fixed-disk activity lights (bits
//!   6-7) are stored and read back, with no effect.

use anyx86_hw::{AccessSize, PortDevice, Snapshot, SnapshotError, VirtualTime};

use crate::{read_bytes, write_bytes};

/// Fast reset: writing 1 where the bit was 0 resets the CPU.
pub const PORT92_FAST_RESET: u8 = 0x01;
/// Fast A20 gate.
pub const PORT92_A20: u8 = 0x02;
/// Security lock latch (stored only).
pub const PORT92_LOCK: u8 = 0x08;

/// Plain-data state of port 0x92.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Port92State {
    /// The register as last written.
    pub value: u8,
    /// A CPU reset was requested and not yet taken by the machine.
    pub reset_request: bool,
}
anyx86_hw::wire_struct!(Port92State {
    value,
    reset_request
});

/// System control port A.
#[derive(Debug, Clone, Default)]
pub struct Port92 {
    state: Port92State,
}

impl Port92 {
    /// The port in its power-on state: A20 gate off, no reset pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// The fast A20 gate.
    pub fn a20(&self) -> bool {
        self.state.value & PORT92_A20 != 0
    }

    /// Returns whether the guest requested a fast reset since the last call,
    /// and clears the request.
    pub fn take_reset_request(&mut self) -> bool {
        std::mem::take(&mut self.state.reset_request)
    }

    fn write_byte(&mut self, value: u8) {
        if value & PORT92_FAST_RESET != 0 && self.state.value & PORT92_FAST_RESET == 0 {
            self.state.reset_request = true;
        }
        self.state.value = value;
    }
}

impl PortDevice for Port92 {
    /// Offset 0 reads the register; other offsets read 0xFF.
    fn read(&mut self, offset: u16, size: AccessSize, _now: VirtualTime) -> u32 {
        read_bytes(
            offset,
            size,
            |o| if o == 0 { self.state.value } else { 0xFF },
        )
    }

    /// Offset 0 writes the register; other offsets are ignored.
    fn write(&mut self, offset: u16, size: AccessSize, value: u32, _now: VirtualTime) {
        write_bytes(offset, size, value, |o, v| {
            if o == 0 {
                self.write_byte(v);
            }
        });
    }
}

impl Snapshot for Port92 {
    type State = Port92State;

    fn save(&self) -> Port92State {
        self.state.clone()
    }

    fn restore(&mut self, state: &Port92State) -> Result<(), SnapshotError> {
        // Every byte value is a valid register value.
        self.state = state.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a20_bit_gates_a20() {
        let mut port = Port92::new();
        assert!(!port.a20());
        port.write(0, 1, u32::from(PORT92_A20), 0);
        assert!(port.a20());
        assert_eq!(port.read(0, 1, 0), u32::from(PORT92_A20));
        assert!(!port.take_reset_request());
    }

    #[test]
    fn reset_on_zero_to_one_only() {
        let mut port = Port92::new();
        port.write(0, 1, u32::from(PORT92_FAST_RESET | PORT92_A20), 0);
        assert!(port.take_reset_request());
        assert!(!port.take_reset_request(), "taken once");
        // Bit 0 already 1: writing 1 again is not a new request.
        port.write(0, 1, u32::from(PORT92_FAST_RESET), 0);
        assert!(!port.take_reset_request());
        port.write(0, 1, 0, 0);
        port.write(0, 1, u32::from(PORT92_FAST_RESET), 0);
        assert!(port.take_reset_request());
    }

    #[test]
    fn other_offsets_read_ones() {
        let mut port = Port92::new();
        assert_eq!(port.read(1, 1, 0), 0xFF);
        assert_eq!(port.read(0, 2, 0), 0xFF00);
    }

    #[test]
    fn snapshot_roundtrip() {
        let mut port = Port92::new();
        port.write(0, 1, 0x0B, 0);
        anyx86_hw::assert_snapshot_roundtrip(&port, &mut Port92::new());
    }
}
