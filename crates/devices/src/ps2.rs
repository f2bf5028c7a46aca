//! PS/2 keyboard (IBM MF2, 101/102/104 keys) and PS/2 mouse (with the
//! Microsoft IntelliMouse wheel extension), the two devices behind the
//! [`crate::i8042`] controller.
//!
//! References: IBM Keyboards (101- and 102-Key) Technical Reference
//! ("Commands from the system", "Scan code tables", sets 1, 2 and 3); IBM
//! PS/2 Hardware Interface Technical Reference, "Pointing device" (commands
//! 0xE6-0xFF, the status and data report formats); the Microsoft
//! IntelliMouse PS/2 extension (sample-rate knock 200, 100, 80 turns the
//! device ID to 3 and adds a wheel byte to each packet); Linux `atkbd.c`
//! and `psmouse-base.c`, SeaBIOS `kbd.c`/`mouse.c` for what guests send.
//!
//! # Wiring
//!
//! Neither device sees the controller. The controller hands each byte the
//! guest sends to [`Ps2Keyboard::write`] / [`Ps2Mouse::write`] and pulls
//! the devices' answers with `pop` when its output buffer is free; the host
//! front end feeds [`Ps2Keyboard::key_event`] and [`Ps2Mouse::mouse_event`]
//! (through [`crate::I8042::key_event`] / [`crate::I8042::mouse_event`],
//! which also refill the controller's output buffer).
//!
//! Each device has an output queue of [`PS2_QUEUE_CAP`] bytes for scan codes
//! and packets, plus [`PS2_QUEUE_HEADROOM`] bytes that only command replies
//! may use, so a command is still answered when the guest left the queue
//! full (as QEMU). A key sequence or mouse packet that does not fit whole is
//! not queued: for keys it is dropped, for the mouse the motion and buttons
//! stay accumulated and go out once the queue drains.
//!
//! The keyboard generates scan code set 2 natively; sets 1 and 3 are
//! selectable with command 0xF0. Set 1 is made by passing set 2 through the
//! 8042 translation table ([`translate_set2_to_set1`]), which is exactly what
//! set 1 is.
//!
//! # Not implemented
//!
//! - Typematic repeat (0xF3 stores the rate only; the host sends repeated
//!   make codes if it wants repeat), the keyboard overrun code, and the
//!   set-3 per-key mode commands 0xF7-0xFD (answered 0xFE).
//! - The "fake shift" bytes real keyboards wrap around the navigation keys
//!   when Shift or Num Lock is active (PC 101-key quirk); only Pause with
//!   Ctrl (Break) and Print Screen with Alt (SysRq) depend on modifiers.
//! - The IntelliMouse Explorer (ID 4, 5 buttons) knock 200, 200, 80.
//! - Timing: devices answer at once; the controller spaces bytes out.

use std::collections::VecDeque;

use anyx86_hw::{Snapshot, SnapshotError};

/// Bytes of scan codes or mouse packets a device queues before it drops
/// new input (the PS/2 protocol's 16-byte buffer).
pub const PS2_QUEUE_CAP: usize = 16;
/// Extra queue room reserved for command replies.
pub const PS2_QUEUE_HEADROOM: usize = 8;
/// Hard bound on a device queue.
const QUEUE_MAX: usize = PS2_QUEUE_CAP + PS2_QUEUE_HEADROOM;

/// Reply: command acknowledged.
pub const PS2_ACK: u8 = 0xFA;
/// Reply: resend (unknown command or bad parameter).
pub const PS2_RESEND: u8 = 0xFE;
/// Reply: basic assurance test (self-test after reset) passed.
pub const PS2_BAT_OK: u8 = 0xAA;

/// Keyboard command: set the mode indicators (next byte: bit 0 Scroll,
/// bit 1 Num, bit 2 Caps Lock).
pub const KBD_CMD_SET_LEDS: u8 = 0xED;
/// Keyboard command: echo (answers 0xEE).
pub const KBD_CMD_ECHO: u8 = 0xEE;
/// Keyboard command: select or read the scan code set (next byte 0 reads).
pub const KBD_CMD_SCANCODE_SET: u8 = 0xF0;
/// Keyboard command: read ID (answers 0xAB 0x83).
pub const KBD_CMD_READ_ID: u8 = 0xF2;
/// Keyboard command: set typematic rate and delay (next byte).
pub const KBD_CMD_TYPEMATIC: u8 = 0xF3;
/// Keyboard command: enable scanning.
pub const KBD_CMD_ENABLE: u8 = 0xF4;
/// Keyboard command: restore defaults and disable scanning.
pub const KBD_CMD_DEFAULT_DISABLE: u8 = 0xF5;
/// Keyboard command: restore defaults (scanning stays enabled).
pub const KBD_CMD_SET_DEFAULT: u8 = 0xF6;
/// Keyboard command: resend the last byte.
pub const KBD_CMD_RESEND: u8 = 0xFE;
/// Keyboard command: reset and self-test (answers 0xFA 0xAA).
pub const KBD_CMD_RESET: u8 = 0xFF;

/// Keyboard ID bytes after the ACK to 0xF2: an MF2 keyboard.
pub const KBD_ID: [u8; 2] = [0xAB, 0x83];
/// Default typematic byte: 10.9 characters/s after 500 ms.
pub const KBD_TYPEMATIC_DEFAULT: u8 = 0x2B;

/// Mouse command: scaling 1:1.
pub const AUX_CMD_SCALE11: u8 = 0xE6;
/// Mouse command: scaling 2:1.
pub const AUX_CMD_SCALE21: u8 = 0xE7;
/// Mouse command: set resolution (next byte, 0-3: 1-8 counts/mm).
pub const AUX_CMD_SET_RES: u8 = 0xE8;
/// Mouse command: status request (answers 3 bytes).
pub const AUX_CMD_STATUS: u8 = 0xE9;
/// Mouse command: stream mode.
pub const AUX_CMD_STREAM: u8 = 0xEA;
/// Mouse command: read data (one packet, any mode).
pub const AUX_CMD_READ_DATA: u8 = 0xEB;
/// Mouse command: leave wrap (echo) mode.
pub const AUX_CMD_RESET_WRAP: u8 = 0xEC;
/// Mouse command: enter wrap mode (every byte is echoed).
pub const AUX_CMD_SET_WRAP: u8 = 0xEE;
/// Mouse command: remote mode (packets only on 0xEB).
pub const AUX_CMD_REMOTE: u8 = 0xF0;
/// Mouse command: read device ID.
pub const AUX_CMD_GET_ID: u8 = 0xF2;
/// Mouse command: set sample rate (next byte).
pub const AUX_CMD_SET_RATE: u8 = 0xF3;
/// Mouse command: enable data reporting.
pub const AUX_CMD_ENABLE: u8 = 0xF4;
/// Mouse command: disable data reporting.
pub const AUX_CMD_DISABLE: u8 = 0xF5;
/// Mouse command: restore defaults.
pub const AUX_CMD_SET_DEFAULT: u8 = 0xF6;
/// Mouse command: resend the last byte.
pub const AUX_CMD_RESEND: u8 = 0xFE;
/// Mouse command: reset (answers 0xFA 0xAA 0x00).
pub const AUX_CMD_RESET: u8 = 0xFF;

/// Mouse status byte 1: remote mode.
pub const AUX_STATUS_REMOTE: u8 = 0x40;
/// Mouse status byte 1: data reporting enabled.
pub const AUX_STATUS_ENABLED: u8 = 0x20;
/// Mouse status byte 1: scaling 2:1.
pub const AUX_STATUS_SCALE21: u8 = 0x10;

/// Packet byte 0 / `buttons`: left button.
pub const MOUSE_LEFT: u8 = 0x01;
/// Packet byte 0 / `buttons`: right button.
pub const MOUSE_RIGHT: u8 = 0x02;
/// Packet byte 0 / `buttons`: middle button.
pub const MOUSE_MIDDLE: u8 = 0x04;
/// Packet byte 0: always 1 (lets drivers resynchronise).
pub const PACKET_ALWAYS1: u8 = 0x08;
/// Packet byte 0: X delta sign (bit 8 of the 9-bit delta).
pub const PACKET_X_SIGN: u8 = 0x10;
/// Packet byte 0: Y delta sign.
pub const PACKET_Y_SIGN: u8 = 0x20;
/// Packet byte 0: X delta overflowed the 9-bit range.
pub const PACKET_X_OVERFLOW: u8 = 0x40;
/// Packet byte 0: Y delta overflowed.
pub const PACKET_Y_OVERFLOW: u8 = 0x80;

/// Device ID of a plain PS/2 mouse.
pub const MOUSE_ID_PS2: u8 = 0x00;
/// Device ID of an IntelliMouse (wheel, 4-byte packets).
pub const MOUSE_ID_INTELLIMOUSE: u8 = 0x03;
/// Sample rates that, set in this order, switch on the wheel.
const INTELLIMOUSE_KNOCK: [u8; 3] = [200, 100, 80];
/// Default sample rate (reports/s).
const DEFAULT_RATE: u8 = 100;
/// Default resolution code (2: 4 counts/mm).
const DEFAULT_RESOLUTION: u8 = 2;
/// Accumulated motion is clamped here so a flood of host events cannot
/// overflow (far beyond what one packet carries anyway).
const MOTION_LIMIT: i32 = 1 << 16;

/// The 8042's set-2 to set-1 translation table for codes 0x00-0x7F.
#[rustfmt::skip]
const XLAT_LOW: [u8; 128] = [
    0xFF, 0x43, 0x41, 0x3F, 0x3D, 0x3B, 0x3C, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3E, 0x0F, 0x29, 0x59,
    0x65, 0x38, 0x2A, 0x70, 0x1D, 0x10, 0x02, 0x5A, 0x66, 0x71, 0x2C, 0x1F, 0x1E, 0x11, 0x03, 0x5B,
    0x67, 0x2E, 0x2D, 0x20, 0x12, 0x05, 0x04, 0x5C, 0x68, 0x39, 0x2F, 0x21, 0x14, 0x13, 0x06, 0x5D,
    0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5E, 0x6A, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5F,
    0x6B, 0x33, 0x25, 0x17, 0x18, 0x0B, 0x0A, 0x60, 0x6C, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0C, 0x61,
    0x6D, 0x73, 0x28, 0x74, 0x1A, 0x0D, 0x62, 0x6E, 0x3A, 0x36, 0x1C, 0x1B, 0x75, 0x2B, 0x63, 0x76,
    0x55, 0x56, 0x77, 0x78, 0x79, 0x7A, 0x0E, 0x7B, 0x7C, 0x4F, 0x7D, 0x4B, 0x47, 0x7E, 0x7F, 0x6F,
    0x52, 0x53, 0x50, 0x4C, 0x4D, 0x48, 0x01, 0x45, 0x57, 0x4E, 0x51, 0x4A, 0x37, 0x49, 0x46, 0x54,
];

/// Translates one set-2 byte to set 1 as the 8042 does when command byte
/// bit 6 is set: codes 0x00-0x7F through the table, 0x83 (F7, the one
/// set-2 make code above 0x7F) to 0x41, 0x84 (Alt+Print Screen) to 0x54;
/// everything else (prefixes 0xE0/0xE1, replies 0xFA/0xAA/0xEE/0xFE/0xAB)
/// passes unchanged. The 0xF0 break prefix is the caller's business: the
/// controller swallows it and sets bit 7 of the next translated byte.
pub fn translate_set2_to_set1(code: u8) -> u8 {
    match code {
        0x00..=0x7F => XLAT_LOW[usize::from(code)],
        0x83 => 0x41,
        0x84 => 0x54,
        _ => code,
    }
}

/// A key of the PC 104-key keyboard (plus the 102nd key of ISO layouts),
/// named by its US-layout legend and position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[rustfmt::skip]
#[allow(missing_docs)] // the variant names are the key legends
pub enum KeyCode {
    A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T, U, V, W, X, Y, Z,
    Digit0, Digit1, Digit2, Digit3, Digit4, Digit5, Digit6, Digit7, Digit8, Digit9,
    Backquote, Minus, Equal, LeftBracket, RightBracket, Backslash, Semicolon, Quote,
    Comma, Period, Slash,
    /// The extra key left of Z on ISO (102-key) keyboards.
    NonUsBackslash,
    F1, F2, F3, F4, F5, F6, F7, F8, F9, F10, F11, F12,
    Escape, Tab, Backspace, Enter, Space, CapsLock, NumLock, ScrollLock,
    LeftShift, RightShift, LeftCtrl, RightCtrl, LeftAlt, RightAlt,
    /// Left Windows / GUI key.
    LeftMeta,
    /// Right Windows / GUI key.
    RightMeta,
    /// Application (context menu) key.
    Menu,
    Insert, Delete, Home, End, PageUp, PageDown, Up, Down, Left, Right,
    Keypad0, Keypad1, Keypad2, Keypad3, Keypad4, Keypad5, Keypad6, Keypad7, Keypad8, Keypad9,
    KeypadDecimal, KeypadPlus, KeypadMinus, KeypadMultiply, KeypadDivide, KeypadEnter,
    /// Print Screen / SysRq: a 4-byte sequence in set 2 (SysRq with Alt).
    PrintScreen,
    /// Pause / Break: an 8-byte make-only sequence (Break with Ctrl).
    Pause,
}

impl KeyCode {
    /// Every key, in declaration order: a key's index here is its number
    /// in saved state and journals.
    #[rustfmt::skip]
    pub const ALL: [KeyCode; 105] = {
        use KeyCode::*;
        [
    A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T, U, V, W, X, Y, Z, Digit0,
    Digit1, Digit2, Digit3, Digit4, Digit5, Digit6, Digit7, Digit8, Digit9, Backquote, Minus,
    Equal, LeftBracket, RightBracket, Backslash, Semicolon, Quote, Comma, Period, Slash,
    NonUsBackslash, F1, F2, F3, F4, F5, F6, F7, F8, F9, F10, F11, F12, Escape, Tab, Backspace,
    Enter, Space, CapsLock, NumLock, ScrollLock, LeftShift, RightShift, LeftCtrl, RightCtrl,
    LeftAlt, RightAlt, LeftMeta, RightMeta, Menu, Insert, Delete, Home, End, PageUp, PageDown,
    Up, Down, Left, Right, Keypad0, Keypad1, Keypad2, Keypad3, Keypad4, Keypad5, Keypad6,
    Keypad7, Keypad8, Keypad9, KeypadDecimal, KeypadPlus, KeypadMinus, KeypadMultiply,
    KeypadDivide, KeypadEnter, PrintScreen, Pause,
        ]
    };
}

impl anyx86_hw::wire::Wire for KeyCode {
    fn put(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
    fn get(r: &mut anyx86_hw::wire::Reader<'_>) -> Result<Self, anyx86_hw::wire::WireError> {
        let n = <u8 as anyx86_hw::wire::Wire>::get(r)?;
        Self::ALL
            .get(usize::from(n))
            .copied()
            .ok_or_else(|| r.invalid("KeyCode"))
    }
}

/// How a key is sent in set 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set2 {
    /// One code byte; break is 0xF0 + code.
    Plain(u8),
    /// 0xE0 + code; break is 0xE0 0xF0 + code.
    Extended(u8),
    /// Print Screen's own sequences.
    PrintScreen,
    /// Pause's own sequence.
    Pause,
}

impl KeyCode {
    /// The key's set-2 form and its set-3 code.
    fn codes(self) -> (Set2, u8) {
        use KeyCode as K;
        use Set2::{Extended as X, Plain as P};
        match self {
            K::A => (P(0x1C), 0x1C),
            K::B => (P(0x32), 0x32),
            K::C => (P(0x21), 0x21),
            K::D => (P(0x23), 0x23),
            K::E => (P(0x24), 0x24),
            K::F => (P(0x2B), 0x2B),
            K::G => (P(0x34), 0x34),
            K::H => (P(0x33), 0x33),
            K::I => (P(0x43), 0x43),
            K::J => (P(0x3B), 0x3B),
            K::K => (P(0x42), 0x42),
            K::L => (P(0x4B), 0x4B),
            K::M => (P(0x3A), 0x3A),
            K::N => (P(0x31), 0x31),
            K::O => (P(0x44), 0x44),
            K::P => (P(0x4D), 0x4D),
            K::Q => (P(0x15), 0x15),
            K::R => (P(0x2D), 0x2D),
            K::S => (P(0x1B), 0x1B),
            K::T => (P(0x2C), 0x2C),
            K::U => (P(0x3C), 0x3C),
            K::V => (P(0x2A), 0x2A),
            K::W => (P(0x1D), 0x1D),
            K::X => (P(0x22), 0x22),
            K::Y => (P(0x35), 0x35),
            K::Z => (P(0x1A), 0x1A),
            K::Digit0 => (P(0x45), 0x45),
            K::Digit1 => (P(0x16), 0x16),
            K::Digit2 => (P(0x1E), 0x1E),
            K::Digit3 => (P(0x26), 0x26),
            K::Digit4 => (P(0x25), 0x25),
            K::Digit5 => (P(0x2E), 0x2E),
            K::Digit6 => (P(0x36), 0x36),
            K::Digit7 => (P(0x3D), 0x3D),
            K::Digit8 => (P(0x3E), 0x3E),
            K::Digit9 => (P(0x46), 0x46),
            K::Backquote => (P(0x0E), 0x0E),
            K::Minus => (P(0x4E), 0x4E),
            K::Equal => (P(0x55), 0x55),
            K::LeftBracket => (P(0x54), 0x54),
            K::RightBracket => (P(0x5B), 0x5B),
            K::Backslash => (P(0x5D), 0x5C),
            K::Semicolon => (P(0x4C), 0x4C),
            K::Quote => (P(0x52), 0x52),
            K::Comma => (P(0x41), 0x41),
            K::Period => (P(0x49), 0x49),
            K::Slash => (P(0x4A), 0x4A),
            K::NonUsBackslash => (P(0x61), 0x13),
            K::F1 => (P(0x05), 0x07),
            K::F2 => (P(0x06), 0x0F),
            K::F3 => (P(0x04), 0x17),
            K::F4 => (P(0x0C), 0x1F),
            K::F5 => (P(0x03), 0x27),
            K::F6 => (P(0x0B), 0x2F),
            K::F7 => (P(0x83), 0x37),
            K::F8 => (P(0x0A), 0x3F),
            K::F9 => (P(0x01), 0x47),
            K::F10 => (P(0x09), 0x4F),
            K::F11 => (P(0x78), 0x56),
            K::F12 => (P(0x07), 0x5E),
            K::Escape => (P(0x76), 0x08),
            K::Tab => (P(0x0D), 0x0D),
            K::Backspace => (P(0x66), 0x66),
            K::Enter => (P(0x5A), 0x5A),
            K::Space => (P(0x29), 0x29),
            K::CapsLock => (P(0x58), 0x14),
            K::NumLock => (P(0x77), 0x76),
            K::ScrollLock => (P(0x7E), 0x5F),
            K::LeftShift => (P(0x12), 0x12),
            K::RightShift => (P(0x59), 0x59),
            K::LeftCtrl => (P(0x14), 0x11),
            K::RightCtrl => (X(0x14), 0x58),
            K::LeftAlt => (P(0x11), 0x19),
            K::RightAlt => (X(0x11), 0x39),
            K::LeftMeta => (X(0x1F), 0x8B),
            K::RightMeta => (X(0x27), 0x8C),
            K::Menu => (X(0x2F), 0x8D),
            K::Insert => (X(0x70), 0x67),
            K::Delete => (X(0x71), 0x64),
            K::Home => (X(0x6C), 0x6E),
            K::End => (X(0x69), 0x65),
            K::PageUp => (X(0x7D), 0x6F),
            K::PageDown => (X(0x7A), 0x6D),
            K::Up => (X(0x75), 0x63),
            K::Down => (X(0x72), 0x60),
            K::Left => (X(0x6B), 0x61),
            K::Right => (X(0x74), 0x6A),
            K::Keypad0 => (P(0x70), 0x70),
            K::Keypad1 => (P(0x69), 0x69),
            K::Keypad2 => (P(0x72), 0x72),
            K::Keypad3 => (P(0x7A), 0x7A),
            K::Keypad4 => (P(0x6B), 0x6B),
            K::Keypad5 => (P(0x73), 0x73),
            K::Keypad6 => (P(0x74), 0x74),
            K::Keypad7 => (P(0x6C), 0x6C),
            K::Keypad8 => (P(0x75), 0x75),
            K::Keypad9 => (P(0x7D), 0x7D),
            K::KeypadDecimal => (P(0x71), 0x71),
            K::KeypadPlus => (P(0x79), 0x7C),
            K::KeypadMinus => (P(0x7B), 0x84),
            K::KeypadMultiply => (P(0x7C), 0x7E),
            K::KeypadDivide => (X(0x4A), 0x77),
            K::KeypadEnter => (X(0x5A), 0x79),
            K::PrintScreen => (Set2::PrintScreen, 0x57),
            K::Pause => (Set2::Pause, 0x62),
        }
    }

    /// Modifier bit tracked by the keyboard, if this key is Ctrl or Alt.
    fn modifier_bit(self) -> u8 {
        match self {
            KeyCode::LeftCtrl => MOD_LCTRL,
            KeyCode::RightCtrl => MOD_RCTRL,
            KeyCode::LeftAlt => MOD_LALT,
            KeyCode::RightAlt => MOD_RALT,
            _ => 0,
        }
    }
}

/// Held-modifier bit: left Ctrl.
const MOD_LCTRL: u8 = 0x01;
/// Held-modifier bit: right Ctrl.
const MOD_RCTRL: u8 = 0x02;
/// Held-modifier bit: left Alt.
const MOD_LALT: u8 = 0x04;
/// Held-modifier bit: right Alt.
const MOD_RALT: u8 = 0x08;

/// Set-2 prefix of extended keys.
const PREFIX_E0: u8 = 0xE0;
/// Set-2 prefix of the Pause key.
const PREFIX_E1: u8 = 0xE1;
/// Set-2/3 break prefix.
const PREFIX_BREAK: u8 = 0xF0;

/// The set-2 bytes of a key transition; `mods` are the held Ctrl/Alt bits.
fn set2_sequence(set2: Set2, down: bool, mods: u8) -> Vec<u8> {
    let ctrl = mods & (MOD_LCTRL | MOD_RCTRL) != 0;
    let alt = mods & (MOD_LALT | MOD_RALT) != 0;
    match (set2, down) {
        (Set2::Plain(c), true) => vec![c],
        (Set2::Plain(c), false) => vec![PREFIX_BREAK, c],
        (Set2::Extended(c), true) => vec![PREFIX_E0, c],
        (Set2::Extended(c), false) => vec![PREFIX_E0, PREFIX_BREAK, c],
        // Alt+Print Screen is SysRq, a plain key of its own (0x84).
        (Set2::PrintScreen, true) if alt => vec![0x84],
        (Set2::PrintScreen, false) if alt => vec![PREFIX_BREAK, 0x84],
        // Print Screen is sent as "fake left shift" + E0 7C.
        (Set2::PrintScreen, true) => vec![PREFIX_E0, 0x12, PREFIX_E0, 0x7C],
        (Set2::PrintScreen, false) => {
            vec![PREFIX_E0, PREFIX_BREAK, 0x7C, PREFIX_E0, PREFIX_BREAK, 0x12]
        }
        // Ctrl+Pause is Break: E0 7E with its break at once.
        (Set2::Pause, true) if ctrl => vec![PREFIX_E0, 0x7E, PREFIX_E0, PREFIX_BREAK, 0x7E],
        // Pause sends make and break together on press ("Ctrl+NumLock").
        (Set2::Pause, true) => vec![
            PREFIX_E1,
            0x14,
            0x77,
            PREFIX_E1,
            PREFIX_BREAK,
            0x14,
            PREFIX_BREAK,
            0x77,
        ],
        // ... and nothing on release.
        (Set2::Pause, false) => Vec::new(),
    }
}

/// Folds a set-2 sequence into set 1 through the 8042 table: 0xF0 vanishes
/// and sets bit 7 of the following code.
fn set2_to_set1_sequence(seq: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(seq.len());
    let mut brk = false;
    for &b in seq {
        if b == PREFIX_BREAK {
            brk = true;
            continue;
        }
        let t = translate_set2_to_set1(b);
        out.push(if brk { t | 0x80 } else { t });
        brk = false;
    }
    out
}

/// Appends `bytes` if all fit within `limit`; returns whether they did.
fn push_all(queue: &mut VecDeque<u8>, bytes: &[u8], limit: usize) -> bool {
    if queue.len().saturating_add(bytes.len()) > limit {
        return false;
    }
    queue.extend(bytes.iter().copied());
    true
}

/// Checks a restored device queue against the hard bound.
fn check_queue(queue: &VecDeque<u8>, field: &'static str) -> Result<(), SnapshotError> {
    if queue.len() > QUEUE_MAX {
        return Err(SnapshotError::Invalid {
            field,
            why: "longer than the PS/2 device queue",
        });
    }
    Ok(())
}

/// Plain-data state of the keyboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ps2KeyboardState {
    /// Bytes waiting for the controller, oldest first.
    pub queue: VecDeque<u8>,
    /// Scanning enabled (key events are sent).
    pub scanning: bool,
    /// Active scan code set, 1-3.
    pub scancode_set: u8,
    /// Mode indicators: bit 0 Scroll Lock, bit 1 Num Lock, bit 2 Caps Lock.
    pub leds: u8,
    /// Typematic rate/delay byte (stored only).
    pub typematic: u8,
    /// A command (0xED, 0xF0, 0xF3) waiting for its parameter byte.
    pub pending_command: Option<u8>,
    /// Last byte sent to the controller, for the resend command.
    pub last_sent: u8,
    /// Held Ctrl/Alt keys (for Pause/Break and Print Screen/SysRq).
    pub modifiers: u8,
}
anyx86_hw::wire_struct!(Ps2KeyboardState {
    queue,
    scanning,
    scancode_set,
    leds,
    typematic,
    pending_command,
    last_sent,
    modifiers
});

impl Default for Ps2KeyboardState {
    fn default() -> Self {
        Self {
            queue: VecDeque::new(),
            scanning: true,
            scancode_set: 2,
            leds: 0,
            typematic: KBD_TYPEMATIC_DEFAULT,
            pending_command: None,
            last_sent: 0,
            modifiers: 0,
        }
    }
}

/// A PS/2 MF2 keyboard.
#[derive(Debug, Clone, Default)]
pub struct Ps2Keyboard {
    state: Ps2KeyboardState,
}

impl Ps2Keyboard {
    /// A keyboard after power-on: set 2, scanning, LEDs off, queue empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// The mode indicators the guest last set (bit 0 Scroll, 1 Num, 2 Caps).
    pub fn leds(&self) -> u8 {
        self.state.leds
    }

    /// The active scan code set (1, 2 or 3).
    pub fn scancode_set(&self) -> u8 {
        self.state.scancode_set
    }

    /// Whether a byte waits for the controller.
    pub fn has_output(&self) -> bool {
        !self.state.queue.is_empty()
    }

    /// Takes the oldest byte for the controller.
    pub fn pop(&mut self) -> Option<u8> {
        let byte = self.state.queue.pop_front()?;
        self.state.last_sent = byte;
        Some(byte)
    }

    /// A host key transition. Sent only while scanning is enabled, and only
    /// whole. Returns false, changing nothing, when the sequence does not
    /// fit the queue: the host holds the key and offers it again once the
    /// guest has read (a real keyboard buffers more, then beeps; a host
    /// paste is not dropped). Without scanning the key is taken and lost.
    pub fn key_event(&mut self, key: KeyCode, down: bool) -> bool {
        let bit = key.modifier_bit();
        let modifiers = if down {
            self.state.modifiers | bit
        } else {
            self.state.modifiers & !bit
        };
        if self.state.scanning {
            let bytes = self.sequence(key, down, modifiers);
            if !push_all(&mut self.state.queue, &bytes, PS2_QUEUE_CAP) {
                return false;
            }
        }
        self.state.modifiers = modifiers;
        true
    }

    fn sequence(&self, key: KeyCode, down: bool, modifiers: u8) -> Vec<u8> {
        let (set2, set3) = key.codes();
        match self.state.scancode_set {
            1 => set2_to_set1_sequence(&set2_sequence(set2, down, modifiers)),
            3 if down => vec![set3],
            3 => vec![PREFIX_BREAK, set3],
            _ => set2_sequence(set2, down, modifiers),
        }
    }

    fn reply(&mut self, bytes: &[u8]) {
        push_all(&mut self.state.queue, bytes, QUEUE_MAX);
    }

    /// Restores defaults (set 2, typematic, LEDs kept as the spec says for
    /// 0xF5/0xF6: only reset clears them).
    fn defaults(&mut self) {
        self.state.scancode_set = 2;
        self.state.typematic = KBD_TYPEMATIC_DEFAULT;
    }

    /// A byte from the host (through the controller).
    pub fn write(&mut self, byte: u8) {
        match self.state.pending_command.take() {
            // A parameter is always below 0x80; a byte with bit 7 set is a
            // new command that abandons the old one.
            Some(cmd) if byte < 0x80 => self.parameter(cmd, byte),
            _ => self.command(byte),
        }
    }

    fn parameter(&mut self, cmd: u8, value: u8) {
        match cmd {
            KBD_CMD_SET_LEDS => {
                self.state.leds = value & 0x07;
                self.reply(&[PS2_ACK]);
            }
            KBD_CMD_TYPEMATIC => {
                self.state.typematic = value & 0x7F;
                self.reply(&[PS2_ACK]);
            }
            // 0xF0 0x00: ACK, then the set number (which the controller
            // translates to 0x43/0x41/0x3F under XLAT, as guests expect).
            _ if value == 0 => self.reply(&[PS2_ACK, self.state.scancode_set]),
            _ if value <= 3 => {
                self.state.scancode_set = value;
                self.reply(&[PS2_ACK]);
            }
            _ => self.reply(&[PS2_RESEND]),
        }
    }

    fn command(&mut self, cmd: u8) {
        match cmd {
            KBD_CMD_SET_LEDS | KBD_CMD_SCANCODE_SET | KBD_CMD_TYPEMATIC => {
                self.state.pending_command = Some(cmd);
                self.reply(&[PS2_ACK]);
            }
            KBD_CMD_ECHO => self.reply(&[KBD_CMD_ECHO]),
            KBD_CMD_READ_ID => self.reply(&[PS2_ACK, KBD_ID[0], KBD_ID[1]]),
            KBD_CMD_ENABLE => {
                self.state.scanning = true;
                self.reply(&[PS2_ACK]);
            }
            KBD_CMD_DEFAULT_DISABLE | KBD_CMD_SET_DEFAULT => {
                self.defaults();
                self.state.scanning = cmd == KBD_CMD_SET_DEFAULT;
                self.reply(&[PS2_ACK]);
            }
            KBD_CMD_RESEND => self.reply(&[self.state.last_sent]),
            KBD_CMD_RESET => self.reset(),
            _ => self.reply(&[PS2_RESEND]),
        }
    }

    /// Reset: the queue is flushed, defaults restored, the self-test passes.
    fn reset(&mut self) {
        let modifiers = self.state.modifiers;
        self.state = Ps2KeyboardState {
            modifiers,
            ..Ps2KeyboardState::default()
        };
        self.reply(&[PS2_ACK, PS2_BAT_OK]);
    }
}

impl Snapshot for Ps2Keyboard {
    type State = Ps2KeyboardState;

    /// The plain-data state.
    fn save(&self) -> Ps2KeyboardState {
        self.state.clone()
    }

    /// Loads a state after checking it; no side effects.
    fn restore(&mut self, state: &Ps2KeyboardState) -> Result<(), SnapshotError> {
        check_queue(&state.queue, "keyboard.queue")?;
        if !(1..=3).contains(&state.scancode_set) {
            return Err(SnapshotError::Invalid {
                field: "keyboard.scancode_set",
                why: "not 1, 2 or 3",
            });
        }
        self.state = state.clone();
        Ok(())
    }
}

/// Plain-data state of the mouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ps2MouseState {
    /// Bytes waiting for the controller, oldest first.
    pub queue: VecDeque<u8>,
    /// Status byte 1 mode bits: [`AUX_STATUS_REMOTE`],
    /// [`AUX_STATUS_ENABLED`], [`AUX_STATUS_SCALE21`].
    pub mode: u8,
    /// Resolution code as last set.
    pub resolution: u8,
    /// Sample rate as last set.
    pub sample_rate: u8,
    /// Wrap (echo) mode.
    pub wrap: bool,
    /// Device ID: [`MOUSE_ID_PS2`] or [`MOUSE_ID_INTELLIMOUSE`].
    pub device_id: u8,
    /// How many rates of the IntelliMouse knock came in order (0-2).
    pub knock: u8,
    /// A command (0xE8, 0xF3) waiting for its parameter byte.
    pub pending_command: Option<u8>,
    /// Motion not yet reported (X right, Y up, Z wheel; packet units).
    pub dx: i32,
    /// See `dx`.
    pub dy: i32,
    /// See `dx`.
    pub dz: i32,
    /// Buttons held ([`MOUSE_LEFT`], [`MOUSE_RIGHT`], [`MOUSE_MIDDLE`]).
    pub buttons: u8,
    /// A change (motion or buttons) waits to be reported in stream mode.
    pub dirty: bool,
    /// Last byte sent to the controller, for the resend command.
    pub last_sent: u8,
}
anyx86_hw::wire_struct!(Ps2MouseState {
    queue,
    mode,
    resolution,
    sample_rate,
    wrap,
    device_id,
    knock,
    pending_command,
    dx,
    dy,
    dz,
    buttons,
    dirty,
    last_sent
});

impl Default for Ps2MouseState {
    fn default() -> Self {
        Self {
            queue: VecDeque::new(),
            mode: 0,
            resolution: DEFAULT_RESOLUTION,
            sample_rate: DEFAULT_RATE,
            wrap: false,
            device_id: MOUSE_ID_PS2,
            knock: 0,
            pending_command: None,
            dx: 0,
            dy: 0,
            dz: 0,
            buttons: 0,
            dirty: false,
            last_sent: 0,
        }
    }
}

/// A PS/2 mouse with the IntelliMouse wheel extension.
#[derive(Debug, Clone, Default)]
pub struct Ps2Mouse {
    state: Ps2MouseState,
}

/// Applies 2:1 scaling to one delta (PS/2 pointing device table).
fn scale21(d: i32) -> i32 {
    match d.abs() {
        0 | 1 => d,
        2 => d.signum(),
        3 => 3 * d.signum(),
        4 => 6 * d.signum(),
        5 => 9 * d.signum(),
        _ => d.saturating_mul(2),
    }
}

/// Clamps a delta to the packet's 9-bit range; returns the low byte, the
/// sign bit and whether it overflowed.
fn encode_delta(d: i32) -> (u8, bool, bool) {
    let clamped = d.clamp(-256, 255);
    (clamped as u8, clamped < 0, clamped != d)
}

impl Ps2Mouse {
    /// A mouse after power-on: stream mode, reporting disabled, ID 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The device ID (0, or 3 after the IntelliMouse knock).
    pub fn device_id(&self) -> u8 {
        self.state.device_id
    }

    /// Whether a byte waits for the controller.
    pub fn has_output(&self) -> bool {
        !self.state.queue.is_empty()
    }

    /// Takes the oldest byte for the controller; as the queue drains,
    /// motion that did not fit before is sent.
    pub fn pop(&mut self) -> Option<u8> {
        let byte = self.state.queue.pop_front()?;
        self.state.last_sent = byte;
        self.stream();
        Some(byte)
    }

    /// A host mouse event: `dx` right, `dy` down (screen direction; the
    /// packet reports up as positive), `dz` wheel clicks toward the user,
    /// `buttons` the held buttons ([`MOUSE_LEFT`] | [`MOUSE_RIGHT`] |
    /// [`MOUSE_MIDDLE`]). Reported at once in stream mode with reporting
    /// enabled; kept for 0xEB in remote mode; motion is ignored while
    /// reporting is disabled in stream mode.
    pub fn mouse_event(&mut self, dx: i32, dy: i32, dz: i32, buttons: u8) {
        let s = &mut self.state;
        let buttons = buttons & (MOUSE_LEFT | MOUSE_RIGHT | MOUSE_MIDDLE);
        let remote = s.mode & AUX_STATUS_REMOTE != 0;
        if s.mode & AUX_STATUS_ENABLED == 0 && !remote {
            s.buttons = buttons;
            return;
        }
        let limit = |v: i32| v.clamp(-MOTION_LIMIT, MOTION_LIMIT);
        s.dx = limit(s.dx.saturating_add(dx));
        s.dy = limit(s.dy.saturating_sub(dy));
        s.dz = limit(s.dz.saturating_add(dz));
        s.dirty |= dx != 0 || dy != 0 || dz != 0 || buttons != s.buttons;
        s.buttons = buttons;
        self.stream();
    }

    /// Bytes in one data packet.
    fn packet_len(&self) -> usize {
        if self.state.device_id == MOUSE_ID_INTELLIMOUSE {
            4
        } else {
            3
        }
    }

    /// Sends the pending change in stream mode if a whole packet fits.
    fn stream(&mut self) {
        let s = &self.state;
        let streaming = s.mode & (AUX_STATUS_ENABLED | AUX_STATUS_REMOTE) == AUX_STATUS_ENABLED;
        if streaming && s.dirty && s.queue.len() + self.packet_len() <= PS2_QUEUE_CAP {
            let scale = s.mode & AUX_STATUS_SCALE21 != 0;
            let packet = self.take_packet(scale);
            self.state.queue.extend(packet);
        }
    }

    /// Builds a packet from the accumulated motion and clears it.
    fn take_packet(&mut self, scale: bool) -> Vec<u8> {
        let s = &mut self.state;
        let (dx, dy) = if scale {
            (scale21(s.dx), scale21(s.dy))
        } else {
            (s.dx, s.dy)
        };
        let (x, x_sign, x_ovf) = encode_delta(dx);
        let (y, y_sign, y_ovf) = encode_delta(dy);
        let mut b0 = PACKET_ALWAYS1 | s.buttons;
        for (flag, bit) in [
            (x_sign, PACKET_X_SIGN),
            (y_sign, PACKET_Y_SIGN),
            (x_ovf, PACKET_X_OVERFLOW),
            (y_ovf, PACKET_Y_OVERFLOW),
        ] {
            if flag {
                b0 |= bit;
            }
        }
        let mut packet = vec![b0, x, y];
        if s.device_id == MOUSE_ID_INTELLIMOUSE {
            packet.push(s.dz.clamp(-8, 7) as u8);
        }
        s.dx = 0;
        s.dy = 0;
        s.dz = 0;
        s.dirty = false;
        packet
    }

    fn reply(&mut self, bytes: &[u8]) {
        push_all(&mut self.state.queue, bytes, QUEUE_MAX);
    }

    /// Clears unreported motion (on mode changes, as the spec says).
    fn clear_motion(&mut self) {
        let s = &mut self.state;
        s.dx = 0;
        s.dy = 0;
        s.dz = 0;
        s.dirty = false;
    }

    /// Restores the defaults of 0xF6: 100/s, 4 counts/mm, 1:1, stream,
    /// reporting disabled. The device ID is kept.
    fn defaults(&mut self) {
        let s = &mut self.state;
        s.mode = 0;
        s.sample_rate = DEFAULT_RATE;
        s.resolution = DEFAULT_RESOLUTION;
        self.clear_motion();
    }

    /// A byte from the host (through the controller, command 0xD4).
    pub fn write(&mut self, byte: u8) {
        if let Some(cmd) = self.state.pending_command.take() {
            self.parameter(cmd, byte);
        } else if self.state.wrap && byte != AUX_CMD_RESET_WRAP && byte != AUX_CMD_RESET {
            self.reply(&[byte]);
        } else {
            self.command(byte);
        }
    }

    fn parameter(&mut self, cmd: u8, value: u8) {
        if cmd == AUX_CMD_SET_RATE {
            self.state.sample_rate = value;
            self.knock(value);
        } else {
            self.state.resolution = value;
        }
        self.reply(&[PS2_ACK]);
    }

    /// Follows the IntelliMouse knock: rates 200, 100, 80 in a row.
    fn knock(&mut self, rate: u8) {
        let s = &mut self.state;
        let step = usize::from(s.knock);
        if INTELLIMOUSE_KNOCK.get(step) == Some(&rate) {
            s.knock += 1;
        } else {
            s.knock = u8::from(rate == INTELLIMOUSE_KNOCK[0]);
        }
        if usize::from(s.knock) == INTELLIMOUSE_KNOCK.len() {
            s.device_id = MOUSE_ID_INTELLIMOUSE;
            s.knock = 0;
        }
    }

    /// Status byte 1: mode bits and buttons (left bit 2, middle bit 1,
    /// right bit 0 - not the packet's order).
    fn status_byte(&self) -> u8 {
        let b = self.state.buttons;
        let mut status = self.state.mode;
        for (held, bit) in [
            (MOUSE_LEFT, 0x04),
            (MOUSE_MIDDLE, 0x02),
            (MOUSE_RIGHT, 0x01),
        ] {
            if b & held != 0 {
                status |= bit;
            }
        }
        status
    }

    fn command(&mut self, cmd: u8) {
        match cmd {
            AUX_CMD_SCALE11 | AUX_CMD_SCALE21 => {
                self.state.mode &= !AUX_STATUS_SCALE21;
                if cmd == AUX_CMD_SCALE21 {
                    self.state.mode |= AUX_STATUS_SCALE21;
                }
                self.reply(&[PS2_ACK]);
            }
            AUX_CMD_SET_RES | AUX_CMD_SET_RATE => {
                self.state.pending_command = Some(cmd);
                self.reply(&[PS2_ACK]);
            }
            AUX_CMD_STATUS => {
                let status = [PS2_ACK, self.status_byte(), self.state.resolution];
                self.reply(&status);
                self.reply(&[self.state.sample_rate]);
            }
            AUX_CMD_STREAM | AUX_CMD_REMOTE => self.set_remote(cmd == AUX_CMD_REMOTE),
            AUX_CMD_READ_DATA => {
                self.reply(&[PS2_ACK]);
                let packet = self.take_packet(false);
                self.reply(&packet);
            }
            AUX_CMD_RESET_WRAP | AUX_CMD_SET_WRAP => {
                self.state.wrap = cmd == AUX_CMD_SET_WRAP;
                self.clear_motion();
                self.reply(&[PS2_ACK]);
            }
            AUX_CMD_GET_ID => self.reply(&[PS2_ACK, self.state.device_id]),
            AUX_CMD_ENABLE | AUX_CMD_DISABLE => {
                self.state.mode &= !AUX_STATUS_ENABLED;
                if cmd == AUX_CMD_ENABLE {
                    self.state.mode |= AUX_STATUS_ENABLED;
                }
                self.clear_motion();
                self.reply(&[PS2_ACK]);
            }
            AUX_CMD_SET_DEFAULT => {
                self.defaults();
                self.reply(&[PS2_ACK]);
            }
            AUX_CMD_RESEND => self.reply(&[self.state.last_sent]),
            AUX_CMD_RESET => self.reset(),
            _ => self.reply(&[PS2_RESEND]),
        }
    }

    fn set_remote(&mut self, remote: bool) {
        self.state.mode &= !AUX_STATUS_REMOTE;
        if remote {
            self.state.mode |= AUX_STATUS_REMOTE;
        }
        self.clear_motion();
        self.reply(&[PS2_ACK]);
    }

    /// Reset: queue flushed, defaults, wrap off, ID back to 0; answers ACK,
    /// self-test passed, ID.
    fn reset(&mut self) {
        let buttons = self.state.buttons;
        self.state = Ps2MouseState {
            buttons,
            ..Ps2MouseState::default()
        };
        self.reply(&[PS2_ACK, PS2_BAT_OK, MOUSE_ID_PS2]);
    }
}

impl Snapshot for Ps2Mouse {
    type State = Ps2MouseState;

    /// The plain-data state.
    fn save(&self) -> Ps2MouseState {
        self.state.clone()
    }

    /// Loads a state after checking it; no side effects.
    fn restore(&mut self, state: &Ps2MouseState) -> Result<(), SnapshotError> {
        check_queue(&state.queue, "mouse.queue")?;
        if state.device_id != MOUSE_ID_PS2 && state.device_id != MOUSE_ID_INTELLIMOUSE {
            return Err(SnapshotError::Invalid {
                field: "mouse.device_id",
                why: "not 0 or 3",
            });
        }
        let bounded = |v: i32| (-MOTION_LIMIT..=MOTION_LIMIT).contains(&v);
        if !(bounded(state.dx) && bounded(state.dy) && bounded(state.dz)) || state.knock > 2 {
            return Err(SnapshotError::Invalid {
                field: "mouse",
                why: "motion or knock out of range",
            });
        }
        self.state = state.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain_kbd(kbd: &mut Ps2Keyboard) -> Vec<u8> {
        std::iter::from_fn(|| kbd.pop()).collect()
    }

    fn drain_mouse(mouse: &mut Ps2Mouse) -> Vec<u8> {
        std::iter::from_fn(|| mouse.pop()).collect()
    }

    #[test]
    fn every_key_is_numbered_by_its_place_and_round_trips() {
        for (i, k) in KeyCode::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i, "{k:?}");
            let bytes = anyx86_hw::wire::encode(k);
            assert_eq!(anyx86_hw::wire::decode::<KeyCode>(&bytes).unwrap(), *k);
        }
        let past = [KeyCode::ALL.len() as u8];
        assert!(anyx86_hw::wire::decode::<KeyCode>(&past).is_err());
    }

    fn press(kbd: &mut Ps2Keyboard, key: KeyCode, down: bool) -> Vec<u8> {
        kbd.key_event(key, down);
        drain_kbd(kbd)
    }

    /// A mouse with reporting enabled and its ACK read.
    fn enabled_mouse() -> Ps2Mouse {
        let mut mouse = Ps2Mouse::new();
        mouse.write(AUX_CMD_ENABLE);
        drain_mouse(&mut mouse);
        mouse
    }

    #[test]
    fn translation_table_spot_checks() {
        assert_eq!(translate_set2_to_set1(0x1C), 0x1E, "A");
        assert_eq!(translate_set2_to_set1(0x76), 0x01, "Esc");
        assert_eq!(translate_set2_to_set1(0x83), 0x41, "F7");
        assert_eq!(translate_set2_to_set1(0xE0), 0xE0, "prefix passes");
        assert_eq!(translate_set2_to_set1(PS2_ACK), PS2_ACK);
    }

    #[test]
    fn print_screen_sequences_in_set2() {
        let mut kbd = Ps2Keyboard::new();
        assert_eq!(
            press(&mut kbd, KeyCode::PrintScreen, true),
            [0xE0, 0x12, 0xE0, 0x7C]
        );
        assert_eq!(
            press(&mut kbd, KeyCode::PrintScreen, false),
            [0xE0, 0xF0, 0x7C, 0xE0, 0xF0, 0x12]
        );
    }

    #[test]
    fn alt_print_screen_is_sysrq() {
        let mut kbd = Ps2Keyboard::new();
        press(&mut kbd, KeyCode::LeftAlt, true);
        assert_eq!(press(&mut kbd, KeyCode::PrintScreen, true), [0x84]);
    }

    #[test]
    fn pause_is_make_only() {
        let mut kbd = Ps2Keyboard::new();
        assert_eq!(
            press(&mut kbd, KeyCode::Pause, true),
            [0xE1, 0x14, 0x77, 0xE1, 0xF0, 0x14, 0xF0, 0x77]
        );
        assert!(press(&mut kbd, KeyCode::Pause, false).is_empty());
    }

    #[test]
    fn ctrl_pause_is_break() {
        let mut kbd = Ps2Keyboard::new();
        press(&mut kbd, KeyCode::RightCtrl, true);
        assert_eq!(
            press(&mut kbd, KeyCode::Pause, true),
            [0xE0, 0x7E, 0xE0, 0xF0, 0x7E]
        );
    }

    #[test]
    fn set1_pause_and_extended_keys() {
        let mut kbd = Ps2Keyboard::new();
        kbd.write(KBD_CMD_SCANCODE_SET);
        kbd.write(1);
        drain_kbd(&mut kbd);
        // The classic set-1 Pause: E1 1D 45 E1 9D C5.
        assert_eq!(
            press(&mut kbd, KeyCode::Pause, true),
            [0xE1, 0x1D, 0x45, 0xE1, 0x9D, 0xC5]
        );
        assert_eq!(press(&mut kbd, KeyCode::Delete, false), [0xE0, 0xD3]);
    }

    #[test]
    fn reset_restores_set2_and_scanning() {
        let mut kbd = Ps2Keyboard::new();
        kbd.write(KBD_CMD_SCANCODE_SET);
        kbd.write(3);
        kbd.write(KBD_CMD_DEFAULT_DISABLE);
        kbd.write(KBD_CMD_RESET);
        assert_eq!(drain_kbd(&mut kbd), [PS2_ACK, PS2_BAT_OK], "queue flushed");
        assert_eq!(kbd.scancode_set(), 2);
        assert_eq!(press(&mut kbd, KeyCode::Enter, true), [0x5A]);
    }

    #[test]
    fn bad_scancode_set_is_refused() {
        let mut kbd = Ps2Keyboard::new();
        kbd.write(KBD_CMD_SCANCODE_SET);
        kbd.write(7);
        assert_eq!(drain_kbd(&mut kbd), [PS2_ACK, PS2_RESEND]);
        assert_eq!(kbd.scancode_set(), 2);
    }

    #[test]
    fn command_byte_during_parameter_wait_is_a_new_command() {
        // Linux may abandon 0xED with a fresh command; bit 7 tells them apart.
        let mut kbd = Ps2Keyboard::new();
        kbd.write(KBD_CMD_SET_LEDS);
        kbd.write(KBD_CMD_ECHO);
        assert_eq!(drain_kbd(&mut kbd), [PS2_ACK, KBD_CMD_ECHO]);
    }

    #[test]
    fn typematic_is_stored() {
        let mut kbd = Ps2Keyboard::new();
        kbd.write(KBD_CMD_TYPEMATIC);
        kbd.write(0x20); // 30 cps after 500 ms
        assert_eq!(drain_kbd(&mut kbd), [PS2_ACK, PS2_ACK]);
        assert_eq!(kbd.save().typematic, 0x20);
    }

    #[test]
    fn mouse_status_request() {
        let mut mouse = enabled_mouse();
        mouse.write(AUX_CMD_SCALE21);
        mouse.mouse_event(0, 0, 0, MOUSE_LEFT);
        drain_mouse(&mut mouse);
        mouse.write(AUX_CMD_STATUS);
        // Enabled + 2:1 + left button (status bit 2), 4 counts/mm, 100/s.
        assert_eq!(drain_mouse(&mut mouse), [PS2_ACK, 0x34, 0x02, 100]);
    }

    #[test]
    fn mouse_scaling_2_to_1_in_stream_mode() {
        let mut mouse = enabled_mouse();
        mouse.write(AUX_CMD_SCALE21);
        drain_mouse(&mut mouse);
        mouse.mouse_event(4, 0, 0, 0); // 4 counts scale to 6
        assert_eq!(drain_mouse(&mut mouse), [0x08, 6, 0]);
    }

    #[test]
    fn mouse_remote_mode_reports_on_read_data() {
        let mut mouse = Ps2Mouse::new();
        mouse.write(AUX_CMD_REMOTE);
        drain_mouse(&mut mouse);
        mouse.mouse_event(2, 0, 0, 0);
        mouse.mouse_event(3, 0, 0, 0);
        assert!(!mouse.has_output(), "remote mode never streams");
        mouse.write(AUX_CMD_READ_DATA);
        assert_eq!(drain_mouse(&mut mouse), [PS2_ACK, 0x08, 5, 0]);
    }

    #[test]
    fn mouse_wrap_mode_echoes_until_reset_wrap() {
        let mut mouse = Ps2Mouse::new();
        mouse.write(AUX_CMD_SET_WRAP);
        mouse.write(0x42);
        mouse.write(AUX_CMD_GET_ID); // echoed, not executed
        mouse.write(AUX_CMD_RESET_WRAP);
        mouse.write(AUX_CMD_GET_ID);
        assert_eq!(
            drain_mouse(&mut mouse),
            [PS2_ACK, 0x42, AUX_CMD_GET_ID, PS2_ACK, PS2_ACK, 0x00]
        );
    }

    #[test]
    fn mouse_reset_forgets_intellimouse() {
        let mut mouse = Ps2Mouse::new();
        for rate in INTELLIMOUSE_KNOCK {
            mouse.write(AUX_CMD_SET_RATE);
            mouse.write(rate);
        }
        assert_eq!(mouse.device_id(), MOUSE_ID_INTELLIMOUSE);
        mouse.write(AUX_CMD_RESET);
        assert_eq!(mouse.device_id(), MOUSE_ID_PS2);
    }

    #[test]
    fn broken_knock_keeps_plain_id() {
        let mut mouse = Ps2Mouse::new();
        for rate in [200, 60, 80] {
            mouse.write(AUX_CMD_SET_RATE);
            mouse.write(rate);
        }
        assert_eq!(mouse.device_id(), MOUSE_ID_PS2);
    }

    #[test]
    fn mouse_motion_waits_for_room_and_is_sent_when_queue_drains() {
        let mut mouse = enabled_mouse();
        for _ in 0..5 {
            mouse.mouse_event(1, 0, 0, 0); // 5 packets = 15 bytes
        }
        mouse.mouse_event(1, 0, 0, 0); // no room for a 6th: accumulated
        mouse.mouse_event(1, 0, 0, MOUSE_MIDDLE);
        assert_eq!(mouse.save().queue.len(), 15);
        let bytes = drain_mouse(&mut mouse);
        assert_eq!(bytes.len(), 18);
        assert_eq!(&bytes[15..], [0x08 | MOUSE_MIDDLE, 2, 0]);
    }

    #[test]
    fn unknown_mouse_command_and_resend() {
        let mut mouse = Ps2Mouse::new();
        mouse.write(0x00);
        assert_eq!(drain_mouse(&mut mouse), [PS2_RESEND]);
        mouse.write(AUX_CMD_RESEND);
        assert_eq!(
            drain_mouse(&mut mouse),
            [PS2_RESEND],
            "resends the last byte"
        );
    }

    #[test]
    fn a_key_that_does_not_fit_is_refused_whole_and_taken_later() {
        let mut kbd = Ps2Keyboard::new();
        // Set 2: A is 1C down, F0 1C up: 3 bytes a stroke, 5 strokes = 15.
        for _ in 0..5 {
            assert!(kbd.key_event(KeyCode::A, true));
            assert!(kbd.key_event(KeyCode::A, false));
        }
        // Shift down (12) fits the 16th byte; Shift up (F0 12) does not.
        assert!(kbd.key_event(KeyCode::LeftShift, true));
        assert!(!kbd.key_event(KeyCode::LeftShift, false));
        // Refused means unchanged: Shift is still held, so the queue
        // holds no break and a retry after reading sends it.
        assert_eq!(drain_kbd(&mut kbd).len(), 16);
        assert!(kbd.key_event(KeyCode::LeftShift, false));
        assert_eq!(drain_kbd(&mut kbd), [PREFIX_BREAK, 0x12]);
    }

    #[test]
    fn device_snapshots_roundtrip() {
        let mut kbd = Ps2Keyboard::new();
        kbd.write(KBD_CMD_SET_LEDS);
        kbd.key_event(KeyCode::A, true);
        anyx86_hw::assert_snapshot_roundtrip(&kbd, &mut Ps2Keyboard::new());
        let mut mouse = enabled_mouse();
        mouse.mouse_event(3, 3, 0, MOUSE_LEFT);
        mouse.write(AUX_CMD_SET_RES);
        anyx86_hw::assert_snapshot_roundtrip(&mouse, &mut Ps2Mouse::new());
    }

    #[test]
    fn mouse_restore_rejects_impossible_state() {
        let state = Ps2MouseState {
            device_id: 9,
            ..Ps2MouseState::default()
        };
        assert!(Ps2Mouse::new().restore(&state).is_err());
        let state = Ps2MouseState {
            dx: i32::MAX,
            ..Ps2MouseState::default()
        };
        assert!(Ps2Mouse::new().restore(&state).is_err());
    }

    #[test]
    fn hammering_devices_never_panics_or_grows() {
        // A linear congruential generator: deterministic "random" bytes.
        let mut x: u32 = 0xDEAD_BEEF;
        let mut next = move || {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            x
        };
        let keys = [
            KeyCode::A,
            KeyCode::Pause,
            KeyCode::PrintScreen,
            KeyCode::Right,
        ];
        let (mut kbd, mut mouse) = (Ps2Keyboard::new(), Ps2Mouse::new());
        for _ in 0..50_000 {
            let r = next();
            match r % 6 {
                0 => kbd.write((r >> 8) as u8),
                1 => mouse.write((r >> 8) as u8),
                2 => {
                    kbd.key_event(keys[(r >> 8) as usize % 4], r & 0x100 != 0);
                }
                3 => mouse.mouse_event(next() as i32, next() as i32, next() as i32, r as u8),
                4 => {
                    kbd.pop();
                }
                _ => {
                    mouse.pop();
                }
            }
            assert!(kbd.save().queue.len() <= QUEUE_MAX);
            assert!(mouse.save().queue.len() <= QUEUE_MAX);
        }
    }
}
