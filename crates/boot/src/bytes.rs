//! Little-endian field access on byte buffers.
//!
//! Reads from an image return `None` past its end, so a truncated or hostile
//! image becomes an error, never a panic. Writes go to buffers this crate
//! sized itself; an out-of-range write is a bug in this crate, caught by a
//! debug assertion and otherwise dropped.

/// The little-endian bytes of `N` bytes at `off`, if all of them are in `buf`.
fn array_at<const N: usize>(buf: &[u8], off: usize) -> Option<[u8; N]> {
    let end = off.checked_add(N)?;
    buf.get(off..end)?.try_into().ok()
}

/// The byte at `off`.
pub(crate) fn u8_at(buf: &[u8], off: usize) -> Option<u8> {
    buf.get(off).copied()
}

/// The little-endian `u16` at `off`.
pub(crate) fn u16_at(buf: &[u8], off: usize) -> Option<u16> {
    array_at(buf, off).map(u16::from_le_bytes)
}

/// The little-endian `u32` at `off`.
pub(crate) fn u32_at(buf: &[u8], off: usize) -> Option<u32> {
    array_at(buf, off).map(u32::from_le_bytes)
}

/// The little-endian `u64` at `off`.
pub(crate) fn u64_at(buf: &[u8], off: usize) -> Option<u64> {
    array_at(buf, off).map(u64::from_le_bytes)
}

/// Copies `src` into `buf` at `off`.
pub(crate) fn put(buf: &mut [u8], off: usize, src: &[u8]) {
    let dst = off
        .checked_add(src.len())
        .and_then(|end| buf.get_mut(off..end));
    match dst {
        Some(dst) => dst.copy_from_slice(src),
        None => debug_assert!(
            false,
            "write of {} bytes at {off:#x} out of bounds",
            src.len()
        ),
    }
}

/// Writes a byte at `off`.
pub(crate) fn put_u8(buf: &mut [u8], off: usize, v: u8) {
    put(buf, off, &[v]);
}

/// Writes a little-endian `u16` at `off`.
pub(crate) fn put_u16(buf: &mut [u8], off: usize, v: u16) {
    put(buf, off, &v.to_le_bytes());
}

/// Writes a little-endian `u32` at `off`.
pub(crate) fn put_u32(buf: &mut [u8], off: usize, v: u32) {
    put(buf, off, &v.to_le_bytes());
}

/// Writes a little-endian `u64` at `off`.
pub(crate) fn put_u64(buf: &mut [u8], off: usize, v: u64) {
    put(buf, off, &v.to_le_bytes());
}

/// An integer stored little-endian in a byte buffer.
pub(crate) trait Le: Sized {
    /// The value at `off`, if all its bytes are in `buf`.
    fn read(buf: &[u8], off: usize) -> Option<Self>;
    /// Writes the value at `off` (see [`put`]).
    fn write(buf: &mut [u8], off: usize, v: Self);
}

macro_rules! le {
    ($($t:ty: $read:ident, $write:ident;)*) => {$(
        impl Le for $t {
            fn read(buf: &[u8], off: usize) -> Option<Self> {
                $read(buf, off)
            }
            fn write(buf: &mut [u8], off: usize, v: Self) {
                $write(buf, off, v)
            }
        }
    )*};
}
le! {
    u8: u8_at, put_u8;
    u16: u16_at, put_u16;
    u32: u32_at, put_u32;
    u64: u64_at, put_u64;
}

/// A field of a binary structure: a `T` at offset `off`, so that a read or
/// a write always has the field's own width.
pub(crate) struct Field<T> {
    /// Offset of its first byte.
    pub off: usize,
    _type: core::marker::PhantomData<T>,
}

impl<T: Le> Field<T> {
    /// The field at `off`.
    pub const fn at(off: usize) -> Self {
        Self {
            off,
            _type: core::marker::PhantomData,
        }
    }

    /// Offset of the byte after the field.
    pub const fn end(&self) -> usize {
        self.off + core::mem::size_of::<T>()
    }

    /// The field's value in `buf`, if `buf` holds all of it.
    pub fn get(&self, buf: &[u8]) -> Option<T> {
        T::read(buf, self.off)
    }

    /// Stores `v` in the field (see [`put`]).
    pub fn put(&self, buf: &mut [u8], v: T) {
        T::write(buf, self.off, v)
    }
}

/// `v` rounded up to a multiple of `align` (a power of two), if it fits.
pub(crate) fn align_up(v: u64, align: u64) -> Option<u64> {
    debug_assert!(align.is_power_of_two());
    Some(v.checked_add(align - 1)? & !(align - 1))
}

/// `v` rounded down to a multiple of `align` (a power of two).
pub(crate) fn align_down(v: u64, align: u64) -> u64 {
    debug_assert!(align.is_power_of_two());
    v & !(align - 1)
}

/// The NUL-terminated bytes of `s`.
pub(crate) fn c_string(s: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_past_the_end_are_none() {
        let buf = [1u8, 2, 3, 4, 5];
        assert_eq!(u32_at(&buf, 1), Some(0x0504_0302));
        assert_eq!(u32_at(&buf, 2), None);
        assert_eq!(u16_at(&buf, usize::MAX), None);
        assert_eq!(u64_at(&buf, 0), None);
        assert_eq!(u8_at(&buf, 5), None);
    }

    #[test]
    fn writes_are_little_endian() {
        let mut buf = [0u8; 16];
        put_u16(&mut buf, 0, 0xAA55);
        put_u32(&mut buf, 2, 0x5372_6448);
        put_u64(&mut buf, 8, 0x0102_0304_0506_0708);
        assert_eq!(&buf[..6], &[0x55, 0xAA, b'H', b'd', b'r', b'S']);
        assert_eq!(u64_at(&buf, 8), Some(0x0102_0304_0506_0708));
    }

    #[test]
    fn alignment() {
        assert_eq!(align_up(0x1001, 0x1000), Some(0x2000));
        assert_eq!(align_up(0x1000, 0x1000), Some(0x1000));
        assert_eq!(align_up(u64::MAX, 0x1000), None);
        assert_eq!(align_down(0x1FFF, 0x1000), 0x1000);
        assert_eq!(c_string("ab"), b"ab\0");
    }
}
