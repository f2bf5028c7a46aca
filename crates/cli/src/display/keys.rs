//! Terminal input as PC key strokes: the bytes a terminal sends for a key
//! (ASCII, control characters, ESC sequences for arrows and function
//! keys) turned into press/release pairs of PS/2 keys, with Shift or Ctrl
//! held around them where the character needs it.

use anyx86_devices::KeyCode as K;

/// Decodes terminal input, keeping an incomplete ESC sequence for the
/// next call.
#[derive(Default)]
pub struct KeyDecoder {
    partial: Vec<u8>,
}

/// A key stroke: the modifiers to hold, then the key.
type Stroke = (&'static [K], K);

fn ascii(b: u8) -> Option<Stroke> {
    const SHIFT: &[K] = &[K::LeftShift];
    const CTRL: &[K] = &[K::LeftCtrl];
    const NONE: &[K] = &[];
    let letters = [
        K::A,
        K::B,
        K::C,
        K::D,
        K::E,
        K::F,
        K::G,
        K::H,
        K::I,
        K::J,
        K::K,
        K::L,
        K::M,
        K::N,
        K::O,
        K::P,
        K::Q,
        K::R,
        K::S,
        K::T,
        K::U,
        K::V,
        K::W,
        K::X,
        K::Y,
        K::Z,
    ];
    let digits = [
        K::Digit0,
        K::Digit1,
        K::Digit2,
        K::Digit3,
        K::Digit4,
        K::Digit5,
        K::Digit6,
        K::Digit7,
        K::Digit8,
        K::Digit9,
    ];
    Some(match b {
        b'a'..=b'z' => (NONE, letters[usize::from(b - b'a')]),
        b'A'..=b'Z' => (SHIFT, letters[usize::from(b - b'A')]),
        b'0'..=b'9' => (NONE, digits[usize::from(b - b'0')]),
        b'\r' | b'\n' => (NONE, K::Enter),
        b'\t' => (NONE, K::Tab),
        0x7F | 0x08 => (NONE, K::Backspace),
        0x1B => (NONE, K::Escape),
        b' ' => (NONE, K::Space),
        0x01..=0x1A => (CTRL, letters[usize::from(b - 1)]),
        b'!' => (SHIFT, K::Digit1),
        b'@' => (SHIFT, K::Digit2),
        b'#' => (SHIFT, K::Digit3),
        b'$' => (SHIFT, K::Digit4),
        b'%' => (SHIFT, K::Digit5),
        b'^' => (SHIFT, K::Digit6),
        b'&' => (SHIFT, K::Digit7),
        b'*' => (SHIFT, K::Digit8),
        b'(' => (SHIFT, K::Digit9),
        b')' => (SHIFT, K::Digit0),
        b'-' => (NONE, K::Minus),
        b'_' => (SHIFT, K::Minus),
        b'=' => (NONE, K::Equal),
        b'+' => (SHIFT, K::Equal),
        b'[' => (NONE, K::LeftBracket),
        b'{' => (SHIFT, K::LeftBracket),
        b']' => (NONE, K::RightBracket),
        b'}' => (SHIFT, K::RightBracket),
        b'\\' => (NONE, K::Backslash),
        b'|' => (SHIFT, K::Backslash),
        b';' => (NONE, K::Semicolon),
        b':' => (SHIFT, K::Semicolon),
        b'\'' => (NONE, K::Quote),
        b'"' => (SHIFT, K::Quote),
        b'`' => (NONE, K::Backquote),
        b'~' => (SHIFT, K::Backquote),
        b',' => (NONE, K::Comma),
        b'<' => (SHIFT, K::Comma),
        b'.' => (NONE, K::Period),
        b'>' => (SHIFT, K::Period),
        b'/' => (NONE, K::Slash),
        b'?' => (SHIFT, K::Slash),
        _ => return None,
    })
}

/// The key of a complete ESC sequence (after the ESC), if it is one we
/// know; `Err(())` while it may still grow.
fn escape(seq: &[u8]) -> Result<Option<K>, ()> {
    let k = match seq {
        b"[A" | b"OA" => K::Up,
        b"[B" | b"OB" => K::Down,
        b"[C" | b"OC" => K::Right,
        b"[D" | b"OD" => K::Left,
        b"[H" | b"OH" | b"[1~" => K::Home,
        b"[F" | b"OF" | b"[4~" => K::End,
        b"[2~" => K::Insert,
        b"[3~" => K::Delete,
        b"[5~" => K::PageUp,
        b"[6~" => K::PageDown,
        b"OP" => K::F1,
        b"OQ" => K::F2,
        b"OR" => K::F3,
        b"OS" => K::F4,
        b"[15~" => K::F5,
        b"[17~" => K::F6,
        b"[18~" => K::F7,
        b"[19~" => K::F8,
        b"[20~" => K::F9,
        b"[21~" => K::F10,
        b"[23~" => K::F11,
        b"[24~" => K::F12,
        [b'[' | b'O'] => return Err(()),
        [b'[', rest @ ..] if rest.iter().all(|c| c.is_ascii_digit() || *c == b';') => {
            return Err(())
        }
        _ => return Ok(None),
    };
    Ok(Some(k))
}

impl KeyDecoder {
    /// Feeds terminal bytes; returns the key events (key, pressed) in
    /// order. A lone ESC is the Escape key; an unknown sequence is dropped.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<(K, bool)> {
        let mut out = Vec::new();
        for &b in bytes {
            if !self.partial.is_empty() {
                self.partial.push(b);
                match escape(&self.partial[1..]) {
                    Err(()) if self.partial.len() < 8 => continue,
                    Ok(Some(k)) => stroke(&mut out, (&[], k)),
                    _ => {}
                }
                self.partial.clear();
                continue;
            }
            if b == 0x1B {
                self.partial.push(b);
                continue;
            }
            if let Some(s) = ascii(b) {
                stroke(&mut out, s);
            }
        }
        out
    }

    /// Ends a pending sequence: a lone ESC becomes the Escape key (call
    /// when no more bytes came for a moment).
    pub fn flush(&mut self) -> Vec<(K, bool)> {
        let mut out = Vec::new();
        if self.partial == [0x1B] {
            stroke(&mut out, (&[], K::Escape));
        }
        self.partial.clear();
        out
    }
}

fn stroke(out: &mut Vec<(K, bool)>, (mods, k): Stroke) {
    for m in mods {
        out.push((*m, true));
    }
    out.push((k, true));
    out.push((k, false));
    for m in mods.iter().rev() {
        out.push((*m, false));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_shift_ctrl_and_escape_sequences_become_key_strokes() {
        let mut d = KeyDecoder::default();
        assert_eq!(d.feed(b"a"), [(K::A, true), (K::A, false)]);
        assert_eq!(
            d.feed(b"A"),
            [
                (K::LeftShift, true),
                (K::A, true),
                (K::A, false),
                (K::LeftShift, false)
            ]
        );
        assert_eq!(
            d.feed(&[0x03]),
            [
                (K::LeftCtrl, true),
                (K::C, true),
                (K::C, false),
                (K::LeftCtrl, false)
            ]
        );
        // An arrow split across two reads.
        assert!(d.feed(b"\x1b[").is_empty());
        assert_eq!(d.feed(b"A"), [(K::Up, true), (K::Up, false)]);
        assert_eq!(d.feed(b"\x1b[15~"), [(K::F5, true), (K::F5, false)]);
        // A lone ESC is the Escape key once the input pauses.
        assert!(d.feed(b"\x1b").is_empty());
        assert_eq!(d.flush(), [(K::Escape, true), (K::Escape, false)]);
    }
}
