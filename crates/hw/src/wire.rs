//! The byte encoding of snapshot state.
//!
//! A snapshot stores plain-data state structs (see [`crate::Snapshot`]) as
//! bytes: integers little-endian at their own width, `bool` as one byte
//! (0 or 1), sequences as a `u32` length and their elements, `Option` as a
//! tag byte and the value. Fields follow one another in declaration order
//! with no names or padding; the file format's version number, not the
//! stream, says which layout a file has.
//!
//! [`wire_struct!`](crate::wire_struct) writes the [`Wire`] impl of a
//! struct from its field list. It destructures and builds the struct
//! without `..`, so a field added to a state struct and not to its list
//! is a compile error, never a field silently left out of snapshots.
//!
//! Decoding never trusts the input: every length is checked against the
//! bytes that remain before anything is allocated, and a value a type
//! cannot hold (a `bool` of 2, an unknown enum tag) is an error.

use std::collections::VecDeque;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The input ended inside a value.
    #[error("truncated: {need} more bytes needed at offset {at}")]
    Truncated {
        /// Where the value started.
        at: usize,
        /// How many bytes were missing.
        need: usize,
    },
    /// A value its type cannot hold.
    #[error("invalid {what} at offset {at}")]
    Invalid {
        /// The type or field.
        what: &'static str,
        /// Where it was.
        at: usize,
    },
    /// Bytes were left over after the last value.
    #[error("{0} unexpected bytes after the last value")]
    Trailing(usize),
}

/// Decodes values from a byte slice.
#[derive(Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let rest = self.remaining();
        if n > rest {
            return Err(WireError::Truncated {
                at: self.pos,
                need: n - rest,
            });
        }
        let b = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut a = [0; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// The offset of the next byte.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// An [`WireError::Invalid`] for `what` at the current position.
    pub fn invalid(&self, what: &'static str) -> WireError {
        WireError::Invalid { what, at: self.pos }
    }

    /// Succeeds when every byte was read.
    pub fn finish(&self) -> Result<(), WireError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(WireError::Trailing(n)),
        }
    }

    /// A sequence length, checked against the input that remains: each
    /// element takes at least one byte, so a longer count is corrupt.
    fn len(&mut self) -> Result<usize, WireError> {
        let at = self.pos;
        let n = u32::get(self)? as usize;
        if n > self.remaining() {
            return Err(WireError::Truncated {
                at,
                need: n - self.remaining(),
            });
        }
        Ok(n)
    }
}

/// A value with a byte encoding.
pub trait Wire: Sized {
    /// Appends the encoding of `self` to `out`.
    fn put(&self, out: &mut Vec<u8>);
    /// Decodes one value.
    fn get(r: &mut Reader<'_>) -> Result<Self, WireError>;
    /// Appends the encodings of `items` (one after another; bytes copy
    /// at once: a VGA's video memory is 16 MiB).
    fn put_all(items: &[Self], out: &mut Vec<u8>) {
        items.iter().for_each(|v| v.put(out));
    }
    /// Decodes `n` values.
    fn get_all(r: &mut Reader<'_>, n: usize) -> Result<Vec<Self>, WireError> {
        (0..n).map(|_| Self::get(r)).collect()
    }
}

/// Encodes `v` into a fresh buffer.
pub fn encode<T: Wire>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    v.put(&mut out);
    out
}

/// Decodes exactly one `T` from `data` (no bytes may be left over).
pub fn decode<T: Wire>(data: &[u8]) -> Result<T, WireError> {
    let mut r = Reader::new(data);
    let v = T::get(&mut r)?;
    r.finish()?;
    Ok(v)
}

macro_rules! wire_int {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            fn put(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn get(r: &mut Reader<'_>) -> Result<Self, WireError> {
                Ok(<$t>::from_le_bytes(r.array()?))
            }
        }
    )*};
}
wire_int!(u16, u32, u64, u128, i8, i16, i32, i64);

impl Wire for u8 {
    fn put(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(r.bytes(1)?[0])
    }
    fn put_all(items: &[Self], out: &mut Vec<u8>) {
        out.extend_from_slice(items);
    }
    fn get_all(r: &mut Reader<'_>, n: usize) -> Result<Vec<Self>, WireError> {
        r.bytes(n).map(<[u8]>::to_vec)
    }
}

impl Wire for bool {
    fn put(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, WireError> {
        match u8::get(r)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(r.invalid("bool")),
        }
    }
}

impl Wire for usize {
    fn put(&self, out: &mut Vec<u8>) {
        (*self as u64).put(out);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, WireError> {
        usize::try_from(u64::get(r)?).map_err(|_| r.invalid("usize"))
    }
}

impl<T: Wire> Wire for Option<T> {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.put(out);
            }
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(if bool::get(r)? {
            Some(T::get(r)?)
        } else {
            None
        })
    }
}

impl<T: Wire, const N: usize> Wire for [T; N] {
    fn put(&self, out: &mut Vec<u8>) {
        T::put_all(self, out);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let v = T::get_all(r, N)?;
        v.try_into().map_err(|_| r.invalid("array"))
    }
}

impl<T: Wire> Wire for Vec<T> {
    fn put(&self, out: &mut Vec<u8>) {
        put_len(self.len(), out);
        T::put_all(self, out);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let n = r.len()?;
        T::get_all(r, n)
    }
}

impl<T: Wire> Wire for VecDeque<T> {
    fn put(&self, out: &mut Vec<u8>) {
        put_len(self.len(), out);
        let (a, b) = self.as_slices();
        T::put_all(a, out);
        T::put_all(b, out);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let n = r.len()?;
        T::get_all(r, n).map(VecDeque::from)
    }
}

impl<T: Wire> Wire for Box<T> {
    fn put(&self, out: &mut Vec<u8>) {
        (**self).put(out);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, WireError> {
        T::get(r).map(Box::new)
    }
}

impl<A: Wire, B: Wire> Wire for (A, B) {
    fn put(&self, out: &mut Vec<u8>) {
        self.0.put(out);
        self.1.put(out);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok((A::get(r)?, B::get(r)?))
    }
}

impl<A: Wire, B: Wire, C: Wire> Wire for (A, B, C) {
    fn put(&self, out: &mut Vec<u8>) {
        self.0.put(out);
        self.1.put(out);
        self.2.put(out);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok((A::get(r)?, B::get(r)?, C::get(r)?))
    }
}

/// Sequence lengths are `u32`: no state holds four billion elements.
fn put_len(n: usize, out: &mut Vec<u8>) {
    let n = u32::try_from(n).expect("a state sequence longer than u32::MAX");
    n.put(out);
}

/// Implements [`Wire`] for a struct from the list of its fields, in
/// declaration order. Every field must be listed: the impl destructures
/// and builds the struct without `..`.
///
/// ```
/// # use anyx86_hw::wire_struct;
/// #[derive(Debug, PartialEq)]
/// struct Timer { count: u16, armed: bool }
/// wire_struct!(Timer { count, armed });
/// let t = Timer { count: 7, armed: true };
/// let bytes = anyx86_hw::wire::encode(&t);
/// assert_eq!(bytes, [7, 0, 1]);
/// assert_eq!(anyx86_hw::wire::decode::<Timer>(&bytes), Ok(t));
/// ```
#[macro_export]
macro_rules! wire_struct {
    ($t:ty { $($f:ident),* $(,)? }) => {
        impl $crate::wire::Wire for $t {
            fn put(&self, out: &mut Vec<u8>) {
                let Self { $($f),* } = self;
                $( $crate::wire::Wire::put($f, out); )*
            }
            fn get(r: &mut $crate::wire::Reader<'_>) -> Result<Self, $crate::wire::WireError> {
                Ok(Self { $( $f: $crate::wire::Wire::get(r)? ),* })
            }
        }
    };
}

/// Implements [`Wire`] for a field-less enum as one byte per variant,
/// numbered by the list (which must name every variant: the encoder's
/// `match` is exhaustive).
#[macro_export]
macro_rules! wire_enum {
    ($t:ty { $($v:ident = $n:literal),* $(,)? }) => {
        impl $crate::wire::Wire for $t {
            fn put(&self, out: &mut Vec<u8>) {
                out.push(match self { $( Self::$v => $n ),* });
            }
            fn get(r: &mut $crate::wire::Reader<'_>) -> Result<Self, $crate::wire::WireError> {
                match <u8 as $crate::wire::Wire>::get(r)? {
                    $( $n => Ok(Self::$v), )*
                    _ => Err(r.invalid(stringify!($t))),
                }
            }
        }
    };
}

/// CRC-32 (IEEE 802.3, the polynomial of zlib and PNG) of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(data);
    c.finish()
}

/// A CRC-32 computed over data that arrives in pieces.
#[derive(Debug, Clone)]
pub struct Crc32(u32);

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };

    /// The CRC of no bytes yet.
    pub fn new() -> Self {
        Self(!0)
    }

    /// Adds `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.0 = data.iter().fold(self.0, |c, &b| {
            Self::TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
        });
    }

    /// The CRC of everything added.
    pub fn finish(&self) -> u32 {
        !self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Default)]
    struct Inner {
        a: u8,
        b: Option<u32>,
    }
    wire_struct!(Inner { a, b });

    #[derive(Debug, Clone, Copy, PartialEq, Default)]
    enum Phase {
        #[default]
        Idle,
        Busy,
    }
    wire_enum!(Phase { Idle = 0, Busy = 1 });

    #[derive(Debug, Clone, PartialEq, Default)]
    struct Outer {
        inner: [Inner; 2],
        fifo: VecDeque<u8>,
        words: Vec<u64>,
        phase: Phase,
        flag: bool,
        signed: i64,
    }
    wire_struct!(Outer {
        inner,
        fifo,
        words,
        phase,
        flag,
        signed
    });

    fn sample() -> Outer {
        Outer {
            inner: [
                Inner { a: 1, b: None },
                Inner {
                    a: 2,
                    b: Some(0x1234_5678),
                },
            ],
            fifo: [9, 8, 7].into(),
            words: vec![u64::MAX, 0],
            phase: Phase::Busy,
            flag: true,
            signed: -2,
        }
    }

    #[test]
    fn a_struct_round_trips() {
        let v = sample();
        assert_eq!(decode::<Outer>(&encode(&v)), Ok(v));
    }

    #[test]
    fn integers_are_little_endian_at_their_width() {
        assert_eq!(encode(&0x0102_0304u32), [4, 3, 2, 1]);
        assert_eq!(encode(&Some(0xABu8)), [1, 0xAB]);
        assert_eq!(encode(&vec![5u16]), [1, 0, 0, 0, 5, 0]);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = encode(&sample());
        for n in 0..bytes.len() {
            assert!(
                matches!(
                    decode::<Outer>(&bytes[..n]),
                    Err(WireError::Truncated { .. })
                ),
                "{n} bytes decoded"
            );
        }
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        let mut bytes = encode(&sample());
        bytes.push(0);
        assert_eq!(decode::<Outer>(&bytes), Err(WireError::Trailing(1)));
    }

    #[test]
    fn values_a_type_cannot_hold_are_errors() {
        assert!(matches!(
            decode::<bool>(&[2]),
            Err(WireError::Invalid { .. })
        ));
        assert!(matches!(
            decode::<Phase>(&[7]),
            Err(WireError::Invalid { .. })
        ));
        assert!(matches!(
            decode::<Option<u8>>(&[3, 0]),
            Err(WireError::Invalid { .. })
        ));
    }

    #[test]
    fn a_huge_length_fails_before_allocating() {
        // u32::MAX elements announced, four bytes present.
        let bytes = [0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4];
        assert!(matches!(
            decode::<Vec<u64>>(&bytes),
            Err(WireError::Truncated { .. })
        ));
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        // The CRC catalogue's check input.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        let mut c = Crc32::new();
        c.update(b"1234");
        c.update(b"56789");
        assert_eq!(c.finish(), 0xCBF4_3926);
    }
}
