//! Code page 437, the VGA's character set, as Unicode.
//!
//! The VGA BIOS's fonts draw CP437: 0x00-0x1F and 0x7F are graphic symbols
//! (smileys, card suits, arrows), 0x80-0xFF accented letters, box drawing,
//! shades and Greek/maths symbols. 0x00 (a blank glyph) maps to a space.

/// The glyphs of bytes 0x00-0x1F, then 0x80-0xFF, 32 a row (0xFF, a blank
/// glyph, is a no-break space). 0x20-0x7E are ASCII and 0x7F is a house.
const GLYPHS: [&str; 5] = [
    " ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼",
    "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒ",
    "áíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐",
    "└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀",
    "αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u{A0}",
];

/// The Unicode character drawn for CP437 byte `b`.
pub fn to_char(b: u8) -> char {
    let row = match b {
        0x00..=0x1F => GLYPHS[0],
        0x7F => return '\u{2302}',
        0x80..=0xFF => GLYPHS[usize::from(b >> 5) - 3],
        _ => return char::from(b),
    };
    row.chars().nth(usize::from(b & 0x1F)).unwrap_or(' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_is_itself_and_the_rest_is_the_vga_font() {
        for b in 0x20u8..0x7F {
            assert_eq!(to_char(b), char::from(b));
        }
        assert_eq!(to_char(0x00), ' ');
        assert_eq!(to_char(0x01), '\u{263A}');
        assert_eq!(to_char(0xB0), '\u{2591}');
        assert_eq!(to_char(0xC4), '\u{2500}');
        assert_eq!(to_char(0xDB), '\u{2588}');
        assert_eq!(to_char(0xE1), '\u{00DF}');
        assert_eq!(to_char(0xFE), '\u{25A0}');
    }

    #[test]
    fn every_glyph_row_holds_32_characters() {
        for row in GLYPHS {
            assert_eq!(row.chars().count(), 32, "{row}");
        }
        assert_eq!(to_char(0x7F), '\u{2302}');
        assert_eq!(to_char(0xFF), '\u{A0}');
    }
}
