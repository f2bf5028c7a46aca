//! Intel 8042 keyboard controller (PS/2-style, with an auxiliary port),
//! with a PS/2 keyboard and a PS/2 mouse attached ([`crate::ps2`]).
//!
//! Reference: IBM PS/2 Hardware Interface Technical Reference, "Keyboard and
//! auxiliary device controller" (status register, command byte, controller
//! commands 0x20-0xFF, output port, scan code translation); Linux
//! `drivers/input/serio/i8042.c` and `arch/x86/boot/a20.c`, SeaBIOS
//! `src/hw/ps2port.c` for what a guest probes.
//!
//! # Wiring
//!
//! Data is at port 0x60 and status/command at port 0x64; the [`PortDevice`]
//! offsets are relative to 0x60: offset 0 is data, offset 4 is
//! status/command, and offsets 1-3 (owned by other chips: 0x61 is the PIT's
//! port B) read as 0xFF. [`IrqLevel::irq_level`] is IRQ1 (keyboard byte in
//! the output buffer, command byte bit 0); [`I8042::irq12_level`] is IRQ12
//! (auxiliary byte, command byte bit 1). After each access the machine
//! syncs both lines, checks [`I8042::take_reset_request`] (output-port reset
//! line pulsed) and [`I8042::a20`] (output-port A20 gate, ORed with port
//! 0x92's), and re-arms [`I8042::next_deadline`]; at that deadline it calls
//! [`I8042::update`] and syncs the lines again. Host input enters through
//! [`I8042::key_event`] and [`I8042::mouse_event`], after which the machine
//! does the same (sync lines, re-arm the deadline).
//!
//! # The output buffer
//!
//! The controller has one output buffer (status OBF). Bytes wait in three
//! places: the controller's own replies (command results, 0xD2/0xD3
//! loopback), the keyboard's queue and the mouse's queue; when the buffer is
//! free the controller loads the next byte from the first of them that has
//! one, skipping a device whose port is disabled (command byte bits 4/5,
//! commands 0xAD/0xA7), whose bytes then wait in the device. A byte from the
//! keyboard is translated to set 1 when command byte bit 6 (XLAT) is set,
//! the 0xF0 break prefix folding into bit 7 of the next byte.
//!
//! After the guest reads port 0x60 the buffer stays empty for
//! [`BYTE_GAP_NS`] (a byte's time on the PS/2 wire, shortened) before the
//! next byte is loaded, at the next port access or at the deadline. The
//! interrupt lines are levels: without the gap a read that is at once
//! followed by the next byte would leave IRQ1 high, and the edge-triggered
//! PIC would never see the second byte.
//!
//! # Not implemented
//!
//! - Password and keylock (always unlocked).
//! - The input port (0xC0 returns a fixed 0x80: keyboard not inhibited),
//!   test inputs (0xE0 returns 0), diagnostic dump, active multiplexing.
//! - Controller timing: commands complete at once, so IBF never reads 1;
//!   transmit time-outs and parity errors never happen.

use std::collections::VecDeque;

use anyx86_hw::{AccessSize, IrqLevel, PortDevice, Snapshot, SnapshotError, VirtualTime};

use crate::ps2::{
    translate_set2_to_set1, KeyCode, Ps2Keyboard, Ps2KeyboardState, Ps2Mouse, Ps2MouseState,
};
use crate::{read_bytes, write_bytes};

/// Offset of the data port (0x60) from the device base.
pub const DATA_OFFSET: u16 = 0;
/// Offset of the status/command port (0x64) from the device base.
pub const COMMAND_OFFSET: u16 = 4;
/// Most controller replies waiting for the output buffer; further replies
/// are dropped.
pub const OUTPUT_QUEUE_CAP: usize = 16;
/// Time the output buffer stays empty after a read of port 0x60 before the
/// next byte is loaded (100 us; a real PS/2 byte takes about 1 ms). Long
/// enough for the machine to see IRQ1/IRQ12 drop between two bytes, short
/// enough not to slow a polling guest.
pub const BYTE_GAP_NS: VirtualTime = 100_000;

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
/// Command byte: translate keyboard bytes from set 2 to set 1 (XLAT).
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
/// Set-2 break prefix, folded into bit 7 by the translation.
const BREAK_PREFIX: u8 = 0xF0;
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
    /// It reports a device time-out (status bit 6; never set now that
    /// both devices answer, kept for the snapshot format).
    pub timeout: bool,
}
anyx86_hw::wire_struct!(OutputByte {
    value,
    aux,
    timeout
});

/// Plain-data state of the controller and its two devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I8042State {
    /// Internal RAM; byte 0 is the command byte.
    pub ram: [u8; 32],
    /// Output port (bits 4-5 are derived from the output buffer on read).
    pub output_port: u8,
    /// A controller command waiting for its data byte at port 0x60.
    pub pending_command: Option<u8>,
    /// The output buffer: the byte port 0x60 returns next (status OBF).
    pub obuf: Option<OutputByte>,
    /// Controller replies waiting for the output buffer, oldest first.
    pub output: VecDeque<OutputByte>,
    /// Earliest virtual time the next byte may enter the output buffer.
    pub next_load: VirtualTime,
    /// Translation swallowed a 0xF0 break prefix: bit 7 goes on the next
    /// keyboard byte.
    pub xlat_break: bool,
    /// The keyboard (filled by `save`; the live copy is in the device).
    pub keyboard: Ps2KeyboardState,
    /// The mouse (filled by `save`; the live copy is in the device).
    pub mouse: Ps2MouseState,
    /// Last byte read from port 0x60 (read again when the queue is empty).
    pub last_read: u8,
    /// The last write went to port 0x64.
    pub last_was_command: bool,
    /// A CPU reset was requested and not yet taken by the machine.
    pub reset_request: bool,
}
anyx86_hw::wire_struct!(I8042State {
    ram,
    output_port,
    pending_command,
    obuf,
    output,
    next_load,
    xlat_break,
    keyboard,
    mouse,
    last_read,
    last_was_command,
    reset_request
});

impl Default for I8042State {
    fn default() -> Self {
        let mut ram = [0; 32];
        ram[0] = CTR_DEFAULT;
        Self {
            ram,
            output_port: OUTPORT_DEFAULT,
            pending_command: None,
            obuf: None,
            output: VecDeque::new(),
            next_load: 0,
            xlat_break: false,
            keyboard: Ps2KeyboardState::default(),
            mouse: Ps2MouseState::default(),
            last_read: 0,
            last_was_command: true,
            reset_request: false,
        }
    }
}

/// The 8042 keyboard controller with its keyboard and mouse.
#[derive(Debug, Clone, Default)]
pub struct I8042 {
    /// Controller registers; its `keyboard`/`mouse` fields stay default.
    state: I8042State,
    keyboard: Ps2Keyboard,
    mouse: Ps2Mouse,
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
        self.state.obuf.is_some_and(|b| b.aux) && self.ctr() & CTR_AUX_INT != 0
    }

    /// The keyboard's mode indicators (bit 0 Scroll, 1 Num, 2 Caps Lock),
    /// for a front end that shows them.
    pub fn keyboard_leds(&self) -> u8 {
        self.keyboard.leds()
    }

    /// A host key press (`down`) or release at virtual time `now`; false
    /// when the keyboard's queue has no room for it yet (see
    /// [`Ps2Keyboard::key_event`]). The machine then syncs IRQ1/IRQ12 and
    /// re-arms [`Self::next_deadline`].
    pub fn key_event(&mut self, key: KeyCode, down: bool, now: VirtualTime) -> bool {
        let taken = self.keyboard.key_event(key, down);
        self.refill(now);
        taken
    }

    /// A host mouse event at virtual time `now` (see
    /// [`Ps2Mouse::mouse_event`] for the units). The machine then syncs
    /// IRQ1/IRQ12 and re-arms [`Self::next_deadline`].
    pub fn mouse_event(&mut self, dx: i32, dy: i32, dz: i32, buttons: u8, now: VirtualTime) {
        self.mouse.mouse_event(dx, dy, dz, buttons);
        self.refill(now);
    }

    /// When the output buffer can take its next byte, if one waits: the
    /// machine calls [`Self::update`] then.
    pub fn next_deadline(&self, now: VirtualTime) -> Option<VirtualTime> {
        (self.state.obuf.is_none() && self.has_waiting_byte())
            .then(|| self.state.next_load.max(now))
    }

    /// Loads the next waiting byte into the output buffer if it is free and
    /// its time has come; the machine then syncs IRQ1/IRQ12.
    pub fn update(&mut self, now: VirtualTime) {
        self.refill(now);
    }

    /// The status register, without side effects.
    pub fn status(&self) -> u8 {
        let s = &self.state;
        let mut status = STATUS_UNLOCKED | (self.ctr() & CTR_SYS);
        if s.last_was_command {
            status |= STATUS_CMD;
        }
        if let Some(head) = s.obuf {
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

    fn push(&mut self, value: u8, aux: bool) {
        if self.state.output.len() < OUTPUT_QUEUE_CAP {
            self.state.output.push_back(OutputByte {
                value,
                aux,
                timeout: false,
            });
        }
    }

    fn reply(&mut self, value: u8) {
        self.push(value, false);
    }

    fn kbd_port_enabled(&self) -> bool {
        self.ctr() & CTR_KBD_DISABLE == 0
    }

    fn aux_port_enabled(&self) -> bool {
        self.ctr() & CTR_AUX_DISABLE == 0
    }

    fn has_waiting_byte(&self) -> bool {
        !self.state.output.is_empty()
            || (self.kbd_port_enabled() && self.keyboard.has_output())
            || (self.aux_port_enabled() && self.mouse.has_output())
    }

    /// Fills a free output buffer once the gap after the last read is over.
    fn refill(&mut self, now: VirtualTime) {
        if self.state.obuf.is_none() && now >= self.state.next_load {
            self.state.obuf = self.next_byte();
        }
    }

    /// The next byte for the output buffer: controller replies first, then
    /// the keyboard, then the mouse (as QEMU's priority).
    fn next_byte(&mut self) -> Option<OutputByte> {
        let (value, aux) = if let Some(reply) = self.state.output.pop_front() {
            return Some(reply);
        } else if let Some(value) = self.keyboard_byte() {
            (value, false)
        } else if self.aux_port_enabled() {
            (self.mouse.pop()?, true)
        } else {
            return None;
        };
        Some(OutputByte {
            value,
            aux,
            timeout: false,
        })
    }

    /// The next keyboard byte, translated to set 1 under XLAT.
    fn keyboard_byte(&mut self) -> Option<u8> {
        if !self.kbd_port_enabled() {
            return None;
        }
        // Each pass pops a byte, so this ends with the keyboard's queue.
        while let Some(raw) = self.keyboard.pop() {
            if self.ctr() & CTR_XLATE == 0 {
                return Some(raw);
            }
            if raw == BREAK_PREFIX {
                self.state.xlat_break = true;
                continue;
            }
            let code = translate_set2_to_set1(raw);
            let brk = std::mem::take(&mut self.state.xlat_break);
            return Some(if brk { code | 0x80 } else { code });
        }
        None
    }

    /// Port 0x60 read: empties the output buffer (the next byte comes no
    /// sooner than the gap); an empty buffer reads the last byte again.
    fn read_data(&mut self, now: VirtualTime) -> u8 {
        if let Some(byte) = self.state.obuf.take() {
            self.state.last_read = byte.value;
            self.state.next_load = now.saturating_add(BYTE_GAP_NS);
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
            Some(CMD_WRITE_KBD_OBUF) => self.push(value, false),
            Some(CMD_WRITE_AUX_OBUF) => self.push(value, true),
            Some(CMD_WRITE_AUX) => {
                // Sending to the mouse enables the auxiliary clock (as QEMU).
                self.state.ram[0] &= !CTR_AUX_DISABLE;
                self.mouse.write(value);
            }
            _ => {
                // Writing to the keyboard re-enables its port.
                self.state.ram[0] &= !CTR_KBD_DISABLE;
                self.keyboard.write(value);
            }
        }
    }

    fn read_byte(&mut self, offset: u16, now: VirtualTime) -> u8 {
        match offset {
            // No refill here: the guest must see the buffer empty once.
            DATA_OFFSET => self.read_data(now),
            COMMAND_OFFSET => {
                self.refill(now);
                self.status()
            }
            _ => 0xFF,
        }
    }

    fn write_byte(&mut self, offset: u16, value: u8, now: VirtualTime) {
        match offset {
            DATA_OFFSET => self.data(value),
            COMMAND_OFFSET => self.command(value),
            _ => return,
        }
        self.refill(now);
    }
}

impl PortDevice for I8042 {
    /// Offset 0 (port 0x60): data; offset 4 (port 0x64): status.
    fn read(&mut self, offset: u16, size: AccessSize, now: VirtualTime) -> u32 {
        read_bytes(offset, size, |o| self.read_byte(o, now))
    }

    /// Offset 0 (port 0x60): data; offset 4 (port 0x64): command.
    fn write(&mut self, offset: u16, size: AccessSize, value: u32, now: VirtualTime) {
        write_bytes(offset, size, value, |o, v| self.write_byte(o, v, now));
    }
}

impl IrqLevel for I8042 {
    /// IRQ1: a keyboard (or controller) byte waits and its interrupt is
    /// enabled.
    fn irq_level(&self) -> bool {
        self.state.obuf.is_some_and(|b| !b.aux) && self.ctr() & CTR_KBD_INT != 0
    }
}

impl Snapshot for I8042 {
    type State = I8042State;

    fn save(&self) -> I8042State {
        I8042State {
            keyboard: self.keyboard.save(),
            mouse: self.mouse.save(),
            ..self.state.clone()
        }
    }

    fn restore(&mut self, state: &I8042State) -> Result<(), SnapshotError> {
        if state.output.len() > OUTPUT_QUEUE_CAP {
            return Err(SnapshotError::Invalid {
                field: "output",
                why: "longer than the output queue cap",
            });
        }
        // Check both devices before changing anything.
        let mut keyboard = Ps2Keyboard::new();
        keyboard.restore(&state.keyboard)?;
        let mut mouse = Ps2Mouse::new();
        mouse.restore(&state.mouse)?;
        self.keyboard = keyboard;
        self.mouse = mouse;
        self.state = I8042State {
            keyboard: Ps2KeyboardState::default(),
            mouse: Ps2MouseState::default(),
            ..state.clone()
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ps2::{
        MOUSE_LEFT, MOUSE_RIGHT, PACKET_ALWAYS1, PACKET_X_OVERFLOW, PACKET_X_SIGN, PACKET_Y_SIGN,
    };

    /// The helpers act as a patient guest: each access happens at the
    /// earliest time the next byte may be in the output buffer.
    fn now(kbc: &I8042) -> VirtualTime {
        kbc.state.next_load
    }

    fn cmd(kbc: &mut I8042, value: u8) {
        kbc.write(COMMAND_OFFSET, 1, u32::from(value), now(kbc));
    }

    fn data(kbc: &mut I8042, value: u8) {
        kbc.write(DATA_OFFSET, 1, u32::from(value), now(kbc));
    }

    fn status(kbc: &mut I8042) -> u8 {
        kbc.read(COMMAND_OFFSET, 1, now(kbc)) as u8
    }

    fn read(kbc: &mut I8042) -> u8 {
        kbc.read(DATA_OFFSET, 1, now(kbc)) as u8
    }

    /// Polls status and reads data like SeaBIOS's ps2_recvbyte: returns
    /// the byte and whether it came from the auxiliary port.
    fn recv(kbc: &mut I8042) -> Option<(u8, bool)> {
        let s = status(kbc);
        (s & STATUS_OBF != 0).then(|| (read(kbc), s & STATUS_AUXB != 0))
    }

    /// Reads every byte the controller has, keyboard and aux alike.
    fn drain(kbc: &mut I8042) -> Vec<u8> {
        std::iter::from_fn(|| recv(kbc)).map(|(b, _)| b).collect()
    }

    /// Sends a byte to the mouse through command 0xD4.
    fn aux(kbc: &mut I8042, value: u8) {
        cmd(kbc, CMD_WRITE_AUX);
        data(kbc, value);
    }

    /// Command byte as SeaBIOS leaves it: XLAT, SYS, keyboard IRQ on.
    fn set_ctr(kbc: &mut I8042, ctr: u8) {
        cmd(kbc, CMD_WRITE_RAM);
        data(kbc, ctr);
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

    // Before the PS/2 devices existed, bytes sent to the keyboard or mouse
    // were answered 0xFE with the time-out bit. Now a keyboard and a mouse
    // answer, so those two tests became the device tests below.

    #[test]
    fn keyboard_get_id_answers_on_irq1_without_timeout() {
        let mut kbc = I8042::new();
        data(&mut kbc, 0xF2); // keyboard "read ID"
        assert_eq!(status(&mut kbc) & 0xE1, STATUS_OBF);
        assert!(kbc.irq_level(), "IRQ1 enabled in the command byte");
        assert!(!kbc.irq12_level());
        assert_eq!(drain(&mut kbc), [0xFA, 0xAB, 0x83]);
        assert!(!kbc.irq_level());
    }

    #[test]
    fn mouse_reset_answers_on_aux_and_irq12() {
        let mut kbc = I8042::new();
        aux(&mut kbc, 0xFF); // mouse reset
        let s = status(&mut kbc);
        assert_eq!(s & 0xE1, STATUS_OBF | STATUS_AUXB);
        assert!(kbc.irq12_level());
        assert!(!kbc.irq_level());
        let mut got = Vec::new();
        while let Some((b, is_aux)) = recv(&mut kbc) {
            assert!(is_aux, "every reset byte comes from the mouse");
            got.push(b);
        }
        assert_eq!(got, [0xFA, 0xAA, 0x00], "ACK, self-test passed, ID 0");
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

    /// Command byte as SeaBIOS sets it after keyboard setup: XLAT, SYS,
    /// keyboard interrupt, aux port disabled.
    const CTR_SEABIOS: u8 = CTR_XLATE | CTR_SYS | CTR_KBD_INT | CTR_AUX_DISABLE;

    /// Presses and releases a key and returns what the guest reads.
    fn tap(kbc: &mut I8042, key: KeyCode) -> Vec<u8> {
        let t = now(kbc);
        kbc.key_event(key, true, t);
        kbc.key_event(key, false, t);
        drain(kbc)
    }

    #[test]
    fn keyboard_reset_through_port_0x60() {
        let mut kbc = I8042::new();
        data(&mut kbc, 0xFF);
        assert_eq!(drain(&mut kbc), [0xFA, 0xAA], "ACK, self-test passed");
    }

    #[test]
    fn keyboard_id_is_translated_under_xlat() {
        // The 8042 translates every keyboard byte: 0x83 becomes 0x41, which
        // is what Linux's atkbd expects to see behind a translating 8042.
        let mut kbc = I8042::new();
        set_ctr(&mut kbc, CTR_SEABIOS);
        data(&mut kbc, 0xF2);
        assert_eq!(drain(&mut kbc), [0xFA, 0xAB, 0x41]);
    }

    #[test]
    fn set2_make_break_translated_to_set1() {
        // 'A' is 1C / F0 1C in set 2, 1E / 9E in set 1.
        let mut kbc = I8042::new();
        set_ctr(&mut kbc, CTR_SEABIOS);
        assert_eq!(tap(&mut kbc, KeyCode::A), [0x1E, 0x9E]);
    }

    #[test]
    fn extended_key_translated_with_prefix_kept() {
        // Right arrow: E0 74 / E0 F0 74 in set 2, E0 4D / E0 CD in set 1.
        let mut kbc = I8042::new();
        set_ctr(&mut kbc, CTR_SEABIOS);
        assert_eq!(tap(&mut kbc, KeyCode::Right), [0xE0, 0x4D, 0xE0, 0xCD]);
    }

    #[test]
    fn without_xlat_set2_passes_raw() {
        let mut kbc = I8042::new();
        set_ctr(&mut kbc, CTR_KBD_INT | CTR_SYS);
        assert_eq!(tap(&mut kbc, KeyCode::A), [0x1C, 0xF0, 0x1C]);
    }

    #[test]
    fn leds_command_acks_both_bytes() {
        let mut kbc = I8042::new();
        data(&mut kbc, 0xED);
        assert_eq!(drain(&mut kbc), [0xFA]);
        data(&mut kbc, 0x07); // Scroll, Num and Caps Lock on
        assert_eq!(drain(&mut kbc), [0xFA]);
        assert_eq!(kbc.keyboard_leds(), 0x07);
    }

    #[test]
    fn scancode_set_switch_and_query() {
        let mut kbc = I8042::new();
        set_ctr(&mut kbc, CTR_KBD_INT | CTR_SYS); // no translation
        data(&mut kbc, 0xF0);
        data(&mut kbc, 0x01);
        assert_eq!(drain(&mut kbc), [0xFA, 0xFA]);
        data(&mut kbc, 0xF0);
        data(&mut kbc, 0x00); // query
        assert_eq!(drain(&mut kbc), [0xFA, 0xFA, 0x01]);
        // In set 1 the keyboard itself sends 1E / 9E.
        assert_eq!(tap(&mut kbc, KeyCode::A), [0x1E, 0x9E]);
        data(&mut kbc, 0xF0);
        data(&mut kbc, 0x03);
        drain(&mut kbc);
        // Set 3: one code per key, F0 before the break.
        assert_eq!(tap(&mut kbc, KeyCode::Escape), [0x08, 0xF0, 0x08]);
    }

    #[test]
    fn set_query_under_xlat_reads_translated_number() {
        // Linux's atkbd reads 0x41 for set 2 behind a translating 8042.
        let mut kbc = I8042::new();
        set_ctr(&mut kbc, CTR_SEABIOS);
        data(&mut kbc, 0xF0);
        data(&mut kbc, 0x00);
        assert_eq!(drain(&mut kbc), [0xFA, 0xFA, 0x41]);
    }

    #[test]
    fn keyboard_with_scanning_disabled_sends_nothing() {
        let mut kbc = I8042::new();
        data(&mut kbc, 0xF5); // default + disable
        assert_eq!(drain(&mut kbc), [0xFA]);
        assert!(tap(&mut kbc, KeyCode::A).is_empty());
        data(&mut kbc, 0xF4); // enable
        drain(&mut kbc);
        assert_eq!(tap(&mut kbc, KeyCode::A), [0x1C, 0xF0, 0x1C]);
    }

    #[test]
    fn disabled_keyboard_port_holds_bytes_until_enabled() {
        let mut kbc = I8042::new();
        cmd(&mut kbc, CMD_KBD_DISABLE);
        assert!(tap(&mut kbc, KeyCode::A).is_empty());
        assert_eq!(kbc.next_deadline(now(&kbc)), None, "nothing loadable");
        cmd(&mut kbc, CMD_KBD_ENABLE);
        assert_eq!(drain(&mut kbc), [0x1C, 0xF0, 0x1C]);
    }

    #[test]
    fn command_byte_disable_bit_holds_mouse_bytes() {
        let mut kbc = I8042::new();
        aux(&mut kbc, 0xF2);
        // The ACK is already in the output buffer; the ID byte waits.
        cmd(&mut kbc, CMD_AUX_DISABLE);
        assert_eq!(drain(&mut kbc), [0xFA]);
        cmd(&mut kbc, CMD_AUX_ENABLE);
        assert_eq!(drain(&mut kbc), [0x00]);
    }

    #[test]
    fn echo_resend_and_unknown_keyboard_commands() {
        let mut kbc = I8042::new();
        data(&mut kbc, 0xEE);
        assert_eq!(drain(&mut kbc), [0xEE]);
        data(&mut kbc, 0xFE); // resend the last byte
        assert_eq!(drain(&mut kbc), [0xEE]);
        data(&mut kbc, 0xE5); // not a keyboard command
        assert_eq!(drain(&mut kbc), [0xFE]);
    }

    #[test]
    fn mouse_identify_and_enable_via_d4() {
        let mut kbc = I8042::new();
        aux(&mut kbc, 0xF2);
        assert_eq!(drain(&mut kbc), [0xFA, 0x00], "plain PS/2 mouse");
        aux(&mut kbc, 0xF4);
        assert_eq!(drain(&mut kbc), [0xFA]);
        kbc.mouse_event(1, 0, 0, 0, now(&kbc));
        assert_eq!(drain(&mut kbc), [0x08, 0x01, 0x00]);
    }

    #[test]
    fn mouse_reports_nothing_until_enabled() {
        let mut kbc = I8042::new();
        kbc.mouse_event(5, 5, 0, MOUSE_LEFT, 0);
        assert!(drain(&mut kbc).is_empty());
    }

    #[test]
    fn mouse_packet_negative_motion_and_buttons() {
        let mut kbc = I8042::new();
        aux(&mut kbc, 0xF4);
        drain(&mut kbc);
        // 3 left and 2 *down* on screen: the packet's Y is up, so +2.
        // Then 4 up on screen: packet Y -4, sign bit set.
        kbc.mouse_event(-3, -4, 0, MOUSE_LEFT | MOUSE_RIGHT, now(&kbc));
        let b0 = PACKET_ALWAYS1 | PACKET_X_SIGN | MOUSE_LEFT | MOUSE_RIGHT;
        assert_eq!(drain(&mut kbc), [b0, 0xFD, 0x04]);
        kbc.mouse_event(0, 4, 0, 0, now(&kbc));
        assert_eq!(
            drain(&mut kbc),
            [PACKET_ALWAYS1 | PACKET_Y_SIGN, 0x00, 0xFC]
        );
    }

    #[test]
    fn mouse_overflow_sets_overflow_bit_and_clamps() {
        let mut kbc = I8042::new();
        aux(&mut kbc, 0xF4);
        drain(&mut kbc);
        kbc.mouse_event(300, 0, 0, 0, now(&kbc)); // beyond +255
        let b0 = PACKET_ALWAYS1 | PACKET_X_OVERFLOW;
        assert_eq!(drain(&mut kbc), [b0, 0xFF, 0x00]);
    }

    #[test]
    fn intellimouse_knock_gives_id_3_and_wheel_byte() {
        let mut kbc = I8042::new();
        for rate in [200, 100, 80] {
            aux(&mut kbc, 0xF3);
            aux(&mut kbc, rate);
        }
        assert_eq!(drain(&mut kbc), [0xFA; 6]);
        aux(&mut kbc, 0xF2);
        assert_eq!(drain(&mut kbc), [0xFA, 0x03]);
        aux(&mut kbc, 0xF4);
        drain(&mut kbc);
        kbc.mouse_event(0, 0, -1, 0, now(&kbc)); // one click away from user
        assert_eq!(drain(&mut kbc), [0x08, 0x00, 0x00, 0xFF]);
    }

    #[test]
    fn irq1_drops_between_bytes_and_deadline_loads_next() {
        let mut kbc = I8042::new();
        kbc.key_event(KeyCode::A, false, 1000); // F0 1C (no XLAT)
        assert!(kbc.irq_level());
        assert_eq!(kbc.read(DATA_OFFSET, 1, 2000), 0xF0);
        assert!(!kbc.irq_level(), "the PIC must see the line drop");
        let due = 2000 + BYTE_GAP_NS;
        assert_eq!(kbc.next_deadline(2000), Some(due));
        kbc.update(due - 1);
        assert!(!kbc.irq_level(), "not before the gap");
        kbc.update(due);
        assert!(kbc.irq_level());
        assert_eq!(kbc.read(DATA_OFFSET, 1, due), 0x1C);
        kbc.update(due + BYTE_GAP_NS);
        assert_eq!(kbc.next_deadline(due + BYTE_GAP_NS), None);
    }

    #[test]
    fn irq12_for_mouse_bytes_follows_command_byte() {
        let mut kbc = I8042::new();
        set_ctr(&mut kbc, CTR_KBD_INT); // aux interrupt off
        aux(&mut kbc, 0xF2);
        assert_eq!(status(&mut kbc) & STATUS_AUXB, STATUS_AUXB);
        assert!(!kbc.irq12_level());
        set_ctr(&mut kbc, CTR_KBD_INT | CTR_AUX_INT);
        assert!(kbc.irq12_level());
        assert!(!kbc.irq_level());
    }

    #[test]
    fn keyboard_queue_is_bounded() {
        // 16 bytes fit. In set 2 a make of 'A' is 1 byte and its break 2:
        // five taps (15 bytes) and a sixth make fit, and the sequences that
        // no longer fit whole are dropped, never cut.
        let mut kbc = I8042::new();
        cmd(&mut kbc, CMD_KBD_DISABLE); // hold everything in the keyboard
        for _ in 0..10 {
            kbc.key_event(KeyCode::A, true, 0);
            kbc.key_event(KeyCode::A, false, 0);
        }
        cmd(&mut kbc, CMD_KBD_ENABLE);
        let got = drain(&mut kbc);
        assert_eq!(got.len(), 16);
        assert_eq!(got[15], 0x1C, "the last is a whole make code");
        // A command is still answered from the reserved headroom.
        cmd(&mut kbc, CMD_KBD_DISABLE);
        for _ in 0..10 {
            kbc.key_event(KeyCode::A, true, 0);
        }
        data(&mut kbc, 0xEE);
        cmd(&mut kbc, CMD_KBD_ENABLE);
        assert_eq!(drain(&mut kbc).last(), Some(&0xEE));
    }

    #[test]
    fn snapshot_roundtrip_with_devices() {
        let mut kbc = I8042::new();
        set_ctr(&mut kbc, CTR_SEABIOS);
        data(&mut kbc, 0xED);
        kbc.key_event(KeyCode::LeftCtrl, true, now(&kbc));
        aux(&mut kbc, 0xF3); // mouse waits for a rate
        let saved = kbc.save();
        assert_eq!(saved.keyboard.pending_command, Some(0xED));
        assert_eq!(saved.mouse.pending_command, Some(0xF3));
        anyx86_hw::assert_snapshot_roundtrip(&kbc, &mut I8042::new());
    }

    #[test]
    fn restore_rejects_bad_device_state() {
        let mut state = I8042State::default();
        state.keyboard.scancode_set = 4;
        assert!(I8042::new().restore(&state).is_err());
        let mut state = I8042State::default();
        state.mouse.queue = vec![0; 100].into();
        assert!(I8042::new().restore(&state).is_err());
    }

    #[test]
    fn hammering_every_offset_never_panics() {
        // A linear congruential generator: deterministic "random" values.
        let mut x: u32 = 0x1234_5678;
        let mut next = move || {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            x
        };
        let mut kbc = I8042::new();
        for i in 0..20_000u64 {
            let r = next();
            let offset = (r % 8) as u16;
            let size = [0, 1, 2, 3, 4, 8][(r >> 8) as usize % 6];
            let t = i * 7_000;
            match (r >> 16) % 4 {
                0 => {
                    kbc.read(offset, size, t);
                }
                1 => kbc.write(offset, size, next(), t),
                2 => {
                    kbc.key_event(KeyCode::Pause, r & 1 == 0, t);
                }
                _ => kbc.mouse_event(next() as i32, next() as i32, next() as i32, r as u8, t),
            }
            if let Some(due) = kbc.next_deadline(t) {
                assert!(due >= t);
            }
            kbc.update(t);
            let s = kbc.save();
            assert!(s.output.len() <= OUTPUT_QUEUE_CAP);
            assert!(s.keyboard.queue.len() <= 24 && s.mouse.queue.len() <= 24);
        }
        kbc.take_reset_request();
    }

    /// One SeaBIOS `__ps2_command` to the keyboard: interrupts off, only the
    /// keyboard port enabled, send the bytes, collect `answers` bytes.
    fn seabios_kbd_command(kbc: &mut I8042, bytes: &[u8], answers: usize) -> Vec<u8> {
        set_ctr(kbc, CTR_KBD_DISABLE | CTR_AUX_DISABLE);
        set_ctr(kbc, CTR_AUX_DISABLE);
        let mut got = Vec::new();
        for &b in bytes {
            data(kbc, b);
            got.extend(recv(kbc).map(|(v, _)| v));
        }
        while got.len() < bytes.len() + answers {
            match recv(kbc) {
                Some((v, false)) => got.push(v),
                _ => break,
            }
        }
        got
    }

    #[test]
    fn seabios_keyboard_setup_sequence() {
        let mut kbc = I8042::new();
        assert!(drain(&mut kbc).is_empty(), "i8042_flush finds nothing");
        cmd(&mut kbc, CMD_SELF_TEST);
        assert_eq!(read(&mut kbc), 0x55);
        cmd(&mut kbc, CMD_KBD_TEST);
        assert_eq!(read(&mut kbc), 0x00);
        assert_eq!(seabios_kbd_command(&mut kbc, &[0xFF], 1), [0xFA, 0xAA]);
        assert_eq!(seabios_kbd_command(&mut kbc, &[0xF5], 0), [0xFA]);
        assert_eq!(
            seabios_kbd_command(&mut kbc, &[0xF0, 0x02], 0),
            [0xFA, 0xFA]
        );
        set_ctr(&mut kbc, CTR_SEABIOS);
        assert_eq!(seabios_kbd_command(&mut kbc, &[0xF4], 0), [0xFA]);
        set_ctr(&mut kbc, CTR_SEABIOS);
        // A key now reaches INT 09h in set 1, on IRQ1.
        kbc.key_event(KeyCode::Enter, true, now(&kbc));
        assert!(kbc.irq_level());
        assert_eq!(read(&mut kbc), 0x1C, "set-1 Enter make");
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
