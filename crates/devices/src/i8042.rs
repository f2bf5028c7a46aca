//! Intel 8042 keyboard controller (PS/2-style, with an auxiliary port), with
//! no keyboard and no mouse attached.
//!
//! Reference: IBM PS/2 Hardware Interface Technical Reference, "Keyboard and
//! auxiliary device controller" (status register, command byte, controller
//! commands 0x20-0xFF, output port); Linux `drivers/input/serio/i8042.c`
//! and `arch/x86/boot/a20.c` for what a guest probes.
//!
//! # Wiring
//!
//! Data is at port 0x60 and status/command at port 0x64; the [`PortDevice`]
//! offsets are relative to 0x60: offset 0 is data, offset 4 is
//! status/command, and offsets 1-3 (owned by other chips: 0x61 is the PIT's
//! port B) read as 0xFF. [`IrqLevel::irq_level`] is IRQ1 (keyboard byte in
//! the output buffer, command byte bit 0); [`I8042::irq12_level`] is IRQ12
//! (auxiliary byte, command byte bit 1). After each write the machine
//! checks [`I8042::take_reset_request`] (output-port reset line pulsed) and
//! [`I8042::a20`] (output-port A20 gate, ORed with port 0x92's).
//!
//! # With no devices
//!
//! Bytes sent to the keyboard (port 0x60 with no command pending) or to the
//! mouse (command 0xD4) get no answer from a device; as a real controller
//! does after its transmit time-out, the controller answers 0xFE with the
//! status time-out bit set (and the AUXB bit for the mouse). Linux maps
//! that to `SERIO_TIMEOUT` and libps2 fails the command at once instead of
//! waiting: the keyboard and mouse probes fail quickly and boot goes on.
//! The controller's own tests pass: self-test 0xAA answers 0x55, interface
//! tests 0xAB/0xA9 answer 0x00, and the auxiliary loopback 0xD3 echoes, so
//! Linux finds a controller with an (empty) AUX port.
//!
//! # Not implemented
//!
//! - Keyboard and mouse devices, scan-code translation (command byte bit 6
//!   is stored only), password and keylock (always unlocked).
//! - The input port (0xC0 returns a fixed 0x80: keyboard not inhibited),
//!   test inputs (0xE0 returns 0), diagnostic dump, active multiplexing.
//! - Controller timing: commands complete at once, so IBF never reads 1.

use std::collections::VecDeque;

use anyx86_hw::{AccessSize, IrqLevel, PortDevice, Snapshot, SnapshotError, VirtualTime};

use crate::{read_bytes, write_bytes};

/// Offset of the data port (0x60) from the device base.
pub const DATA_OFFSET: u16 = 0;
/// Offset of the status/command port (0x64) from the device base.
pub const COMMAND_OFFSET: u16 = 4;
/// Most bytes the output queue holds; further responses are dropped.
pub const OUTPUT_QUEUE_CAP: usize = 16;

/// Status: output buffer full (a byte waits at port 0x60).
pub const STATUS_OBF: u8 = 0x01;
/// Status: input buffer full (never set: commands complete at once).
pub const STATUS_IBF: u8 = 0x02;
/// Status: system flag (mirrors command byte bit 2).
pub const STATUS_SYS: u8 = 0x04;
/// Status: the last write was to port 0x64 (command).
pub const STATUS_CMD: u8 = 0x08;
/// Status: keyboard not inhibited by the keylock.
pub const STATUS_UNLOCKED: u8 = 0x10;
/// Status: the output byte comes from the auxiliary device.
pub const STATUS_AUXB: u8 = 0x20;
/// Status: general time-out (the device did not answer).
pub const STATUS_TIMEOUT: u8 = 0x40;
/// Status: parity error (never set).
pub const STATUS_PARITY: u8 = 0x80;

/// Command byte: keyboard interrupt (IRQ1) enable.
pub const CTR_KBD_INT: u8 = 0x01;
/// Command byte: auxiliary interrupt (IRQ12) enable.
pub const CTR_AUX_INT: u8 = 0x02;
/// Command byte: system flag.
pub const CTR_SYS: u8 = 0x04;
/// Command byte: ignore keylock (stored only).
pub const CTR_IGNORE_KEYLOCK: u8 = 0x08;
/// Command byte: keyboard port disabled.
pub const CTR_KBD_DISABLE: u8 = 0x10;
/// Command byte: auxiliary port disabled.
pub const CTR_AUX_DISABLE: u8 = 0x20;
/// Command byte: translate scan codes to set 1 (stored only).
pub const CTR_XLATE: u8 = 0x40;

/// Output port: system reset line (active low: 0 resets the CPU).
pub const OUTPORT_RESET: u8 = 0x01;
/// Output port: A20 gate.
pub const OUTPORT_A20: u8 = 0x02;
/// Output port: keyboard output buffer full (IRQ1).
pub const OUTPORT_KBD_OBF: u8 = 0x10;
/// Output port: auxiliary output buffer full (IRQ12).
pub const OUTPORT_AUX_OBF: u8 = 0x20;

/// Command: read internal RAM byte 0-31 (0x20 reads the command byte).
pub const CMD_READ_RAM: u8 = 0x20;
/// Command: write internal RAM byte 0-31 (0x60 writes the command byte).
pub const CMD_WRITE_RAM: u8 = 0x60;
/// Command: test whether a password is installed.
pub const CMD_PASSWORD_TEST: u8 = 0xA4;
/// Command: disable the auxiliary port.
pub const CMD_AUX_DISABLE: u8 = 0xA7;
/// Command: enable the auxiliary port.
pub const CMD_AUX_ENABLE: u8 = 0xA8;
/// Command: test the auxiliary interface.
pub const CMD_AUX_TEST: u8 = 0xA9;
/// Command: controller self-test.
pub const CMD_SELF_TEST: u8 = 0xAA;
/// Command: test the keyboard interface.
pub const CMD_KBD_TEST: u8 = 0xAB;
/// Command: disable the keyboard port.
pub const CMD_KBD_DISABLE: u8 = 0xAD;
/// Command: enable the keyboard port.
pub const CMD_KBD_ENABLE: u8 = 0xAE;
/// Command: read the input port.
pub const CMD_READ_INPUT: u8 = 0xC0;
/// Command: read the output port.
pub const CMD_READ_OUTPUT: u8 = 0xD0;
/// Command: write the output port (next data byte).
pub const CMD_WRITE_OUTPUT: u8 = 0xD1;
/// Command: write the keyboard output buffer, as if the keyboard sent it.
pub const CMD_WRITE_KBD_OBUF: u8 = 0xD2;
/// Command: write the auxiliary output buffer (AUX loopback).
pub const CMD_WRITE_AUX_OBUF: u8 = 0xD3;
/// Command: send the next data byte to the auxiliary device.
pub const CMD_WRITE_AUX: u8 = 0xD4;
/// Command: disable A20 (HP Vectra and compatibles).
pub const CMD_A20_OFF: u8 = 0xDD;
/// Command: enable A20.
pub const CMD_A20_ON: u8 = 0xDF;
/// Command: read the test inputs.
pub const CMD_READ_TEST_INPUTS: u8 = 0xE0;
/// Commands 0xF0-0xFF pulse the output-port bits 0-3 that are 0 in the
/// command's low nibble (0xFE pulses the reset line).
pub const CMD_PULSE_OUTPUT: u8 = 0xF0;

/// Self-test passed.
const SELF_TEST_OK: u8 = 0x55;
/// Interface test passed.
const INTERFACE_OK: u8 = 0x00;
/// No password installed.
const NO_PASSWORD: u8 = 0xF1;
/// What the controller reports when a device does not answer.
const NO_DEVICE: u8 = 0xFE;
/// Input port: keyboard not inhibited.
const INPUT_PORT: u8 = 0x80;

/// Power-on command byte: both interrupts enabled (as QEMU).
const CTR_DEFAULT: u8 = CTR_KBD_INT | CTR_AUX_INT;
/// Power-on output port: reset line high, A20 enabled, unused bits high.
const OUTPORT_DEFAULT: u8 = 0xCF;

/// One byte of the output queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputByte {
    /// The byte.
    pub value: u8,
    /// It comes from the auxiliary port (status AUXB, IRQ12).
    pub aux: bool,
    /// It reports a device time-out (status bit 6).
    pub timeout: bool,
}

/// Plain-data state of the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I8042State {
    /// Internal RAM; byte 0 is the command byte.
    pub ram: [u8; 32],
    /// Output port (bits 4-5 are derived from the output queue on read).
    pub output_port: u8,
    /// A controller command waiting for its data byte at port 0x60.
    pub pending_command: Option<u8>,
    /// Bytes waiting to be read at port 0x60, oldest first.
    pub output: VecDeque<OutputByte>,
    /// Last byte read from port 0x60 (read again when the queue is empty).
    pub last_read: u8,
    /// The last write went to port 0x64.
    pub last_was_command: bool,
    /// A CPU reset was requested and not yet taken by the machine.
    pub reset_request: bool,
}

impl Default for I8042State {
    fn default() -> Self {
        let mut ram = [0; 32];
        ram[0] = CTR_DEFAULT;
        Self {
            ram,
            output_port: OUTPORT_DEFAULT,
            pending_command: None,
            output: VecDeque::new(),
            last_read: 0,
            last_was_command: true,
            reset_request: false,
        }
    }
}

/// The 8042 keyboard controller.
#[derive(Debug, Clone, Default)]
pub struct I8042 {
    state: I8042State,
}

impl I8042 {
    /// A controller in the power-on state: A20 enabled, interrupts enabled,
    /// output buffer empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// The output port's A20 gate.
    pub fn a20(&self) -> bool {
        self.state.output_port & OUTPORT_A20 != 0
    }

    /// Returns whether the guest pulsed the reset line since the last call,
    /// and clears the request.
    pub fn take_reset_request(&mut self) -> bool {
        std::mem::take(&mut self.state.reset_request)
    }

    /// IRQ12: an auxiliary byte waits and its interrupt is enabled.
    pub fn irq12_level(&self) -> bool {
        self.state.output.front().is_some_and(|b| b.aux) && self.ctr() & CTR_AUX_INT != 0
    }

    /// The status register, without side effects.
    pub fn status(&self) -> u8 {
        let s = &self.state;
        let mut status = STATUS_UNLOCKED | (self.ctr() & CTR_SYS);
        if s.last_was_command {
            status |= STATUS_CMD;
        }
        if let Some(head) = s.output.front() {
            status |= STATUS_OBF;
            if head.aux {
                status |= STATUS_AUXB;
            }
            if head.timeout {
                status |= STATUS_TIMEOUT;
            }
        }
        status
    }

    fn ctr(&self) -> u8 {
        self.state.ram[0]
    }

    fn push(&mut self, value: u8, aux: bool, timeout: bool) {
        if self.state.output.len() < OUTPUT_QUEUE_CAP {
            self.state.output.push_back(OutputByte {
                value,
                aux,
                timeout,
            });
        }
    }

    fn reply(&mut self, value: u8) {
        self.push(value, false, false);
    }

    fn read_data(&mut self) -> u8 {
        if let Some(byte) = self.state.output.pop_front() {
            self.state.last_read = byte.value;
        }
        self.state.last_read
    }

    fn output_port_value(&self) -> u8 {
        let mut value = self.state.output_port & !(OUTPORT_KBD_OBF | OUTPORT_AUX_OBF);
        if self.irq_level() {
            value |= OUTPORT_KBD_OBF;
        }
        if self.irq12_level() {
            value |= OUTPORT_AUX_OBF;
        }
        value
    }

    fn write_output_port(&mut self, value: u8) {
        if value & OUTPORT_RESET == 0 {
            // The reset line is active low; the machine resets the CPU and
            // the line is released again.
            self.state.reset_request = true;
        }
        self.state.output_port = value | OUTPORT_RESET;
    }

    fn command(&mut self, cmd: u8) {
        self.state.last_was_command = true;
        self.state.pending_command = None;
        match cmd {
            0x20..=0x3F => self.reply(self.state.ram[usize::from(cmd & 0x1F)]),
            0x60..=0x7F
            | CMD_WRITE_OUTPUT
            | CMD_WRITE_KBD_OBUF
            | CMD_WRITE_AUX_OBUF
            | CMD_WRITE_AUX => self.state.pending_command = Some(cmd),
            CMD_PASSWORD_TEST => self.reply(NO_PASSWORD),
            CMD_AUX_DISABLE => self.state.ram[0] |= CTR_AUX_DISABLE,
            CMD_AUX_ENABLE => self.state.ram[0] &= !CTR_AUX_DISABLE,
            CMD_AUX_TEST | CMD_KBD_TEST => self.reply(INTERFACE_OK),
            CMD_SELF_TEST => {
                self.state.ram[0] |= CTR_SYS;
                self.reply(SELF_TEST_OK);
            }
            CMD_KBD_DISABLE => self.state.ram[0] |= CTR_KBD_DISABLE,
            CMD_KBD_ENABLE => self.state.ram[0] &= !CTR_KBD_DISABLE,
            CMD_READ_INPUT => self.reply(INPUT_PORT),
            CMD_READ_OUTPUT => self.reply(self.output_port_value()),
            CMD_A20_OFF => self.state.output_port &= !OUTPORT_A20,
            CMD_A20_ON => self.state.output_port |= OUTPORT_A20,
            CMD_READ_TEST_INPUTS => self.reply(0),
            CMD_PULSE_OUTPUT..=0xFF if cmd & OUTPORT_RESET == 0 => {
                self.state.reset_request = true;
            }
            // Other pulses and unknown commands do nothing.
            _ => {}
        }
    }

    fn data(&mut self, value: u8) {
        self.state.last_was_command = false;
        match self.state.pending_command.take() {
            Some(cmd @ 0x60..=0x7F) => self.state.ram[usize::from(cmd & 0x1F)] = value,
            Some(CMD_WRITE_OUTPUT) => self.write_output_port(value),
            Some(CMD_WRITE_KBD_OBUF) => self.push(value, false, false),
            Some(CMD_WRITE_AUX_OBUF) => self.push(value, true, false),
            Some(CMD_WRITE_AUX) => {
                // No mouse: the transmission times out.
                self.push(NO_DEVICE, true, true);
            }
            _ => {
                // Writing to the keyboard re-enables its port; no keyboard
                // answers, so the transmission times out.
                self.state.ram[0] &= !CTR_KBD_DISABLE;
                self.push(NO_DEVICE, false, true);
            }
        }
    }

    fn read_byte(&mut self, offset: u16) -> u8 {
        match offset {
            DATA_OFFSET => self.read_data(),
            COMMAND_OFFSET => self.status(),
            _ => 0xFF,
        }
    }

    fn write_byte(&mut self, offset: u16, value: u8) {
        match offset {
            DATA_OFFSET => self.data(value),
            COMMAND_OFFSET => self.command(value),
            _ => {}
        }
    }
}

impl PortDevice for I8042 {
    /// Offset 0 (port 0x60): data; offset 4 (port 0x64): status.
    fn read(&mut self, offset: u16, size: AccessSize, _now: VirtualTime) -> u32 {
        read_bytes(offset, size, |o| self.read_byte(o))
    }

    /// Offset 0 (port 0x60): data; offset 4 (port 0x64): command.
    fn write(&mut self, offset: u16, size: AccessSize, value: u32, _now: VirtualTime) {
        write_bytes(offset, size, value, |o, v| self.write_byte(o, v));
    }
}

impl IrqLevel for I8042 {
    /// IRQ1: a keyboard (or controller) byte waits and its interrupt is
    /// enabled.
    fn irq_level(&self) -> bool {
        self.state.output.front().is_some_and(|b| !b.aux) && self.ctr() & CTR_KBD_INT != 0
    }
}

impl Snapshot for I8042 {
    type State = I8042State;

    fn save(&self) -> I8042State {
        self.state.clone()
    }

    fn restore(&mut self, state: &I8042State) -> Result<(), SnapshotError> {
        if state.output.len() > OUTPUT_QUEUE_CAP {
            return Err(SnapshotError::Invalid {
                field: "output",
                why: "longer than the output queue cap",
            });
        }
        self.state = state.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(kbc: &mut I8042, value: u8) {
        kbc.write(COMMAND_OFFSET, 1, u32::from(value), 0);
    }

    fn data(kbc: &mut I8042, value: u8) {
        kbc.write(DATA_OFFSET, 1, u32::from(value), 0);
    }

    fn status(kbc: &mut I8042) -> u8 {
        kbc.read(COMMAND_OFFSET, 1, 0) as u8
    }

    fn read(kbc: &mut I8042) -> u8 {
        kbc.read(DATA_OFFSET, 1, 0) as u8
    }

    #[test]
    fn power_on_status_is_idle_and_unlocked() {
        let mut kbc = I8042::new();
        assert_eq!(status(&mut kbc), STATUS_UNLOCKED | STATUS_CMD);
    }

    #[test]
    fn self_test_answers_0x55_and_sets_sys() {
        let mut kbc = I8042::new();
        cmd(&mut kbc, CMD_SELF_TEST);
        assert_eq!(
            status(&mut kbc) & (STATUS_OBF | STATUS_SYS),
            STATUS_OBF | STATUS_SYS
        );
        assert_eq!(read(&mut kbc), 0x55);
        assert_eq!(status(&mut kbc) & STATUS_OBF, 0);
    }

    #[test]
    fn interface_tests_pass() {
        let mut kbc = I8042::new();
        cmd(&mut kbc, CMD_KBD_TEST);
        assert_eq!(read(&mut kbc), 0x00);
        cmd(&mut kbc, CMD_AUX_TEST);
        assert_eq!(read(&mut kbc), 0x00);
    }

    #[test]
    fn command_byte_read_write() {
        let mut kbc = I8042::new();
        cmd(&mut kbc, CMD_WRITE_RAM);
        data(&mut kbc, 0x65);
        cmd(&mut kbc, CMD_READ_RAM);
        assert_eq!(read(&mut kbc), 0x65);
    }

    #[test]
    fn port_disable_enable_commands_edit_the_command_byte() {
        let mut kbc = I8042::new();
        cmd(&mut kbc, CMD_KBD_DISABLE);
        cmd(&mut kbc, CMD_AUX_DISABLE);
        cmd(&mut kbc, CMD_READ_RAM);
        assert_eq!(
            read(&mut kbc),
            CTR_DEFAULT | CTR_KBD_DISABLE | CTR_AUX_DISABLE
        );
        cmd(&mut kbc, CMD_KBD_ENABLE);
        cmd(&mut kbc, CMD_AUX_ENABLE);
        cmd(&mut kbc, CMD_READ_RAM);
        assert_eq!(read(&mut kbc), CTR_DEFAULT);
    }

    #[test]
    fn keyboard_command_without_keyboard_times_out() {
        let mut kbc = I8042::new();
        data(&mut kbc, 0xF2); // keyboard "get ID"
        assert_eq!(status(&mut kbc) & 0xE1, STATUS_OBF | STATUS_TIMEOUT);
        assert!(kbc.irq_level(), "IRQ1 enabled in the command byte");
        assert_eq!(read(&mut kbc), 0xFE);
        assert_eq!(status(&mut kbc) & STATUS_TIMEOUT, 0);
        assert!(!kbc.irq_level());
    }

    #[test]
    fn mouse_command_without_mouse_times_out_on_aux() {
        let mut kbc = I8042::new();
        cmd(&mut kbc, CMD_WRITE_AUX);
        data(&mut kbc, 0xFF); // mouse reset
        let s = status(&mut kbc);
        assert_eq!(s & 0xE1, STATUS_OBF | STATUS_AUXB | STATUS_TIMEOUT);
        assert!(kbc.irq12_level());
        assert!(!kbc.irq_level());
    }

    #[test]
    fn aux_loopback_echoes_on_irq12() {
        // Linux's i8042_check_aux sends 0x5A through command 0xD3.
        let mut kbc = I8042::new();
        cmd(&mut kbc, CMD_WRITE_AUX_OBUF);
        data(&mut kbc, 0x5A);
        assert_eq!(
            status(&mut kbc) & (STATUS_OBF | STATUS_AUXB),
            STATUS_OBF | STATUS_AUXB
        );
        assert!(kbc.irq12_level());
        assert_eq!(read(&mut kbc), 0x5A);
    }

    #[test]
    fn a20_through_output_port() {
        let mut kbc = I8042::new();
        assert!(kbc.a20(), "enabled at power-on");
        cmd(&mut kbc, CMD_WRITE_OUTPUT);
        data(&mut kbc, 0xDD); // A20 off, reset line high
        assert!(!kbc.a20());
        cmd(&mut kbc, CMD_READ_OUTPUT);
        assert_eq!(read(&mut kbc) & OUTPORT_A20, 0);
        cmd(&mut kbc, CMD_WRITE_OUTPUT);
        data(&mut kbc, 0xDF); // what Linux's a20.c writes
        assert!(kbc.a20());
        assert!(!kbc.take_reset_request());
    }

    #[test]
    fn a20_commands_dd_df() {
        let mut kbc = I8042::new();
        cmd(&mut kbc, CMD_A20_OFF);
        assert!(!kbc.a20());
        cmd(&mut kbc, CMD_A20_ON);
        assert!(kbc.a20());
    }

    #[test]
    fn output_port_reset_bit_low_requests_reset() {
        let mut kbc = I8042::new();
        cmd(&mut kbc, CMD_WRITE_OUTPUT);
        data(&mut kbc, 0xFE);
        assert!(kbc.take_reset_request());
        assert!(!kbc.take_reset_request(), "taken once");
    }

    #[test]
    fn pulse_command_0xfe_requests_reset_and_0xff_does_not() {
        let mut kbc = I8042::new();
        cmd(&mut kbc, 0xFF); // pulse nothing (Linux a20.c's "null command")
        assert!(!kbc.take_reset_request());
        cmd(&mut kbc, 0xFE);
        assert!(kbc.take_reset_request());
    }

    #[test]
    fn irq1_follows_command_byte_enable() {
        let mut kbc = I8042::new();
        cmd(&mut kbc, CMD_WRITE_RAM);
        data(&mut kbc, 0x00); // interrupts off
        cmd(&mut kbc, CMD_SELF_TEST);
        assert!(!kbc.irq_level());
    }

    #[test]
    fn output_queue_is_capped() {
        let mut kbc = I8042::new();
        for _ in 0..OUTPUT_QUEUE_CAP + 5 {
            cmd(&mut kbc, CMD_SELF_TEST);
        }
        assert_eq!(kbc.save().output.len(), OUTPUT_QUEUE_CAP);
    }

    #[test]
    fn other_offsets_read_ones() {
        let mut kbc = I8042::new();
        assert_eq!(kbc.read(1, 1, 0), 0xFF);
        assert_eq!(kbc.read(0, 5, 0), 0xFFFF_FFFF);
    }

    #[test]
    fn snapshot_roundtrip() {
        let mut kbc = I8042::new();
        cmd(&mut kbc, CMD_SELF_TEST);
        cmd(&mut kbc, CMD_WRITE_AUX);
        anyx86_hw::assert_snapshot_roundtrip(&kbc, &mut I8042::new());
    }

    #[test]
    fn restore_rejects_oversized_queue() {
        let state = I8042State {
            output: vec![OutputByte::default(); OUTPUT_QUEUE_CAP + 1].into(),
            ..I8042State::default()
        };
        assert!(I8042::new().restore(&state).is_err());
    }
}
