//! The firmware ROM image.

use crate::MemError;

/// ROM sizes are multiples of this (64 KiB).
pub const ROM_GRANULE: usize = 64 << 10;
/// Largest ROM accepted (16 MiB).
pub const ROM_MAX: usize = 16 << 20;
/// Largest part of the ROM aliased below 1 MiB (128 KiB).
pub const ROM_ALIAS_MAX: usize = 128 << 10;

/// Top of the 32-bit physical address space, where the ROM ends.
const TOP_4G: u64 = 1 << 32;
/// The low alias ends at 1 MiB.
const LOW_ALIAS_END: u64 = 1 << 20;

/// A read-only firmware image.
#[derive(Debug, Clone)]
pub struct Rom {
    data: Box<[u8]>,
}

impl Rom {
    /// Validates and wraps an image.
    pub fn new(data: Vec<u8>) -> Result<Self, MemError> {
        if data.is_empty() || data.len() % ROM_GRANULE != 0 {
            return Err(MemError::RomSize(data.len()));
        }
        if data.len() > ROM_MAX {
            return Err(MemError::RomTooLarge(data.len()));
        }
        Ok(Self {
            data: data.into_boxed_slice(),
        })
    }

    /// The image bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.data
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Never true: an empty image is rejected by [`Rom::new`].
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Physical base of the high mapping (it ends at 4 GiB).
    pub fn high_base(&self) -> u64 {
        TOP_4G - self.data.len() as u64
    }

    /// Physical base of the low alias (it ends at 1 MiB).
    pub fn low_base(&self) -> u64 {
        LOW_ALIAS_END - self.data.len().min(ROM_ALIAS_MAX) as u64
    }

    /// Offset into the image of a physical address, if the ROM covers it.
    #[inline]
    pub fn offset_of(&self, paddr: u64) -> Option<usize> {
        let len = self.data.len() as u64;
        if (self.high_base()..TOP_4G).contains(&paddr) {
            return Some((paddr - self.high_base()) as usize);
        }
        let low = self.low_base();
        if (low..LOW_ALIAS_END).contains(&paddr) {
            return Some((len - (LOW_ALIAS_END - paddr)) as usize);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_sizes_are_rejected() {
        assert!(matches!(Rom::new(vec![]), Err(MemError::RomSize(0))));
        assert!(matches!(
            Rom::new(vec![0; 1000]),
            Err(MemError::RomSize(1000))
        ));
        assert!(matches!(
            Rom::new(vec![0; ROM_MAX + ROM_GRANULE]),
            Err(MemError::RomTooLarge(_))
        ));
        assert!(Rom::new(vec![0; ROM_GRANULE]).is_ok());
    }
}
