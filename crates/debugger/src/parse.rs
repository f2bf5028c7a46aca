//! Number and address syntax of debugger commands.
//!
//! Numbers are hexadecimal with a `0x` prefix (or an `h` suffix) and
//! decimal otherwise; both halves of `SEG:OFF` are always hexadecimal, as
//! real-mode addresses are written.

/// Parses a number: `0x1f`, `1fh`, or decimal `31`.
pub fn num(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let r = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16)
    } else if let Some(h) = t.strip_suffix('h').or_else(|| t.strip_suffix('H')) {
        u64::from_str_radix(h, 16)
    } else {
        t.parse::<u64>()
    };
    r.map_err(|_| format!("'{s}' is not a number"))
}

/// Parses a hexadecimal number with or without `0x`.
pub fn hex(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    u64::from_str_radix(t, 16).map_err(|_| format!("'{s}' is not a hexadecimal number"))
}

/// Parses `SEG:OFF` (both hexadecimal).
pub fn seg_off(s: &str) -> Result<Option<(u16, u64)>, String> {
    let Some((a, b)) = s.split_once(':') else {
        return Ok(None);
    };
    let seg = hex(a)?;
    let seg = u16::try_from(seg).map_err(|_| format!("segment '{a}' is over 16 bits"))?;
    Ok(Some((seg, hex(b)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_hex_with_prefix_or_suffix_and_decimal_otherwise() {
        assert_eq!(num("0x10"), Ok(16));
        assert_eq!(num("10h"), Ok(16));
        assert_eq!(num("10"), Ok(10));
        assert!(num("zz").is_err());
    }

    #[test]
    fn seg_off_halves_are_hex() {
        assert_eq!(seg_off("f000:fff0"), Ok(Some((0xF000, 0xFFF0))));
        assert_eq!(seg_off("0x7c0:0x10"), Ok(Some((0x7C0, 0x10))));
        assert_eq!(seg_off("1234"), Ok(None));
        assert!(seg_off("12345:0").is_err());
    }
}
