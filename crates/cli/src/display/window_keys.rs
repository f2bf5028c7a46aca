//! Host keys as PC keys: winit's physical key codes (the key's place on
//! the keyboard, whatever the host's layout) to our PS/2 [`KeyCode`]s.
//!
//! Physical codes are what a PC keyboard sends too: the guest applies its
//! own layout, as on real hardware. winit's codes follow the W3C UI Events
//! `code` names, which are themselves named after the US-layout legends of
//! a 104/105-key PC keyboard, so the mapping is one to one.

use anyx86_devices::KeyCode as K;
use winit::keyboard::KeyCode as W;

/// The PC key at the place of host key `code`, if the PC keyboard has one.
pub fn pc_key(code: W) -> Option<K> {
    letter(code)
        .or_else(|| digit(code))
        .or_else(|| punctuation(code))
        .or_else(|| function(code))
        .or_else(|| control(code))
        .or_else(|| navigation(code))
        .or_else(|| keypad(code))
}

fn letter(code: W) -> Option<K> {
    Some(match code {
        W::KeyA => K::A,
        W::KeyB => K::B,
        W::KeyC => K::C,
        W::KeyD => K::D,
        W::KeyE => K::E,
        W::KeyF => K::F,
        W::KeyG => K::G,
        W::KeyH => K::H,
        W::KeyI => K::I,
        W::KeyJ => K::J,
        W::KeyK => K::K,
        W::KeyL => K::L,
        W::KeyM => K::M,
        W::KeyN => K::N,
        W::KeyO => K::O,
        W::KeyP => K::P,
        W::KeyQ => K::Q,
        W::KeyR => K::R,
        W::KeyS => K::S,
        W::KeyT => K::T,
        W::KeyU => K::U,
        W::KeyV => K::V,
        W::KeyW => K::W,
        W::KeyX => K::X,
        W::KeyY => K::Y,
        W::KeyZ => K::Z,
        _ => return None,
    })
}

fn digit(code: W) -> Option<K> {
    Some(match code {
        W::Digit0 => K::Digit0,
        W::Digit1 => K::Digit1,
        W::Digit2 => K::Digit2,
        W::Digit3 => K::Digit3,
        W::Digit4 => K::Digit4,
        W::Digit5 => K::Digit5,
        W::Digit6 => K::Digit6,
        W::Digit7 => K::Digit7,
        W::Digit8 => K::Digit8,
        W::Digit9 => K::Digit9,
        _ => return None,
    })
}

fn punctuation(code: W) -> Option<K> {
    Some(match code {
        W::Backquote => K::Backquote,
        W::Minus => K::Minus,
        W::Equal => K::Equal,
        W::BracketLeft => K::LeftBracket,
        W::BracketRight => K::RightBracket,
        W::Backslash => K::Backslash,
        W::Semicolon => K::Semicolon,
        W::Quote => K::Quote,
        W::Comma => K::Comma,
        W::Period => K::Period,
        W::Slash => K::Slash,
        // The ISO key between left Shift and Z.
        W::IntlBackslash => K::NonUsBackslash,
        W::Space => K::Space,
        _ => return None,
    })
}

fn function(code: W) -> Option<K> {
    Some(match code {
        W::F1 => K::F1,
        W::F2 => K::F2,
        W::F3 => K::F3,
        W::F4 => K::F4,
        W::F5 => K::F5,
        W::F6 => K::F6,
        W::F7 => K::F7,
        W::F8 => K::F8,
        W::F9 => K::F9,
        W::F10 => K::F10,
        W::F11 => K::F11,
        W::F12 => K::F12,
        _ => return None,
    })
}

fn control(code: W) -> Option<K> {
    Some(match code {
        W::Escape => K::Escape,
        W::Tab => K::Tab,
        W::Backspace => K::Backspace,
        W::Enter => K::Enter,
        W::CapsLock => K::CapsLock,
        W::NumLock => K::NumLock,
        W::ScrollLock => K::ScrollLock,
        W::ShiftLeft => K::LeftShift,
        W::ShiftRight => K::RightShift,
        W::ControlLeft => K::LeftCtrl,
        W::ControlRight => K::RightCtrl,
        W::AltLeft => K::LeftAlt,
        W::AltRight => K::RightAlt,
        W::SuperLeft => K::LeftMeta,
        W::SuperRight => K::RightMeta,
        W::ContextMenu => K::Menu,
        W::PrintScreen => K::PrintScreen,
        W::Pause => K::Pause,
        _ => return None,
    })
}

fn navigation(code: W) -> Option<K> {
    Some(match code {
        W::Insert => K::Insert,
        W::Delete => K::Delete,
        W::Home => K::Home,
        W::End => K::End,
        W::PageUp => K::PageUp,
        W::PageDown => K::PageDown,
        W::ArrowUp => K::Up,
        W::ArrowDown => K::Down,
        W::ArrowLeft => K::Left,
        W::ArrowRight => K::Right,
        _ => return None,
    })
}

fn keypad(code: W) -> Option<K> {
    Some(match code {
        W::Numpad0 => K::Keypad0,
        W::Numpad1 => K::Keypad1,
        W::Numpad2 => K::Keypad2,
        W::Numpad3 => K::Keypad3,
        W::Numpad4 => K::Keypad4,
        W::Numpad5 => K::Keypad5,
        W::Numpad6 => K::Keypad6,
        W::Numpad7 => K::Keypad7,
        W::Numpad8 => K::Keypad8,
        W::Numpad9 => K::Keypad9,
        W::NumpadDecimal => K::KeypadDecimal,
        W::NumpadAdd => K::KeypadPlus,
        W::NumpadSubtract => K::KeypadMinus,
        W::NumpadMultiply => K::KeypadMultiply,
        W::NumpadDivide => K::KeypadDivide,
        W::NumpadEnter => K::KeypadEnter,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_by_place_not_by_legend() {
        assert_eq!(pc_key(W::KeyQ), Some(K::Q));
        assert_eq!(pc_key(W::Digit0), Some(K::Digit0));
        assert_eq!(pc_key(W::BracketLeft), Some(K::LeftBracket));
        assert_eq!(pc_key(W::IntlBackslash), Some(K::NonUsBackslash));
        assert_eq!(pc_key(W::ControlRight), Some(K::RightCtrl));
        assert_eq!(pc_key(W::ArrowLeft), Some(K::Left));
        assert_eq!(pc_key(W::F12), Some(K::F12));
        assert_eq!(pc_key(W::NumpadEnter), Some(K::KeypadEnter));
        // Keys a PC/AT keyboard does not have are dropped.
        assert_eq!(pc_key(W::F13), None);
        assert_eq!(pc_key(W::MediaPlayPause), None);
    }
}
