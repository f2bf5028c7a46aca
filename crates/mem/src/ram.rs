//! Guest RAM: one anonymous host mapping.

use crate::MemError;
use memmap2::MmapMut;

/// Guest RAM, zero-filled at creation.
///
/// Backed by an anonymous mapping so that untouched pages cost nothing on
/// the host. The host page size does not matter: the mapping is only ever
/// accessed as a byte slice, and guest pages (4 KiB by architecture) are
/// offsets into it.
pub struct GuestRam {
    map: MmapMut,
}

impl core::fmt::Debug for GuestRam {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GuestRam")
            .field("len", &self.map.len())
            .finish()
    }
}

impl GuestRam {
    /// Maps `size` bytes of zeroed RAM.
    pub fn new(size: usize) -> Result<Self, MemError> {
        if size == 0 {
            return Err(MemError::BadRamSize(0));
        }
        let map = MmapMut::map_anon(size).map_err(|source| MemError::Map { size, source })?;
        Ok(Self { map })
    }

    /// Maps `mib` MiB, checking the size fits below the PCI/ROM hole.
    pub fn with_mib(mib: u64) -> Result<Self, MemError> {
        if mib == 0 || mib > 3584 {
            return Err(MemError::BadRamSize(mib));
        }
        // 3.5 GiB fits even a 32-bit host's usize: convert, never truncate.
        let size = usize::try_from(mib << 20).map_err(|_| MemError::BadRamSize(mib))?;
        Self::new(size)
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when the RAM is empty (never, by construction).
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The RAM as bytes.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        &self.map
    }

    /// The RAM as writable bytes.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.map
    }

    /// Zeroes all of RAM (machine reset keeps RAM on a PC; this is for tests
    /// and cold boots).
    pub fn clear(&mut self) {
        self.map.fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ram_is_zeroed_and_sized_exactly() {
        // A size that is not a multiple of any host page size (4 or 16 KiB)
        // still gives exactly that many bytes.
        let r = GuestRam::new(4096 * 3 + 512).unwrap();
        assert_eq!(r.len(), 4096 * 3 + 512);
        assert!(r.as_slice().iter().all(|b| *b == 0));
    }

    #[test]
    fn size_does_not_depend_on_the_host_page_size() {
        // 4 KiB guest pages, mapped on hosts with 4 KiB (x86-64, most ARM
        // Linux), 16 KiB (Apple Silicon) or 64 KiB pages: a size that is a
        // multiple of 4 KiB but of no larger page is exact, and its first and
        // last bytes are plain, writable RAM.
        let size = (1 << 20) + 4096;
        let mut r = GuestRam::new(size).unwrap();
        assert_eq!(r.len(), size);
        assert_eq!(r.as_slice().len(), size);
        r.as_mut_slice()[0] = 0xA5;
        r.as_mut_slice()[size - 1] = 0x5A;
        assert_eq!(r.as_slice()[0], 0xA5);
        assert_eq!(r.as_slice()[size - 1], 0x5A);
        r.clear();
        assert!(r.as_slice().iter().all(|b| *b == 0));
    }

    #[test]
    fn sizes_out_of_range_are_errors() {
        assert!(GuestRam::with_mib(0).is_err());
        assert!(GuestRam::with_mib(4096).is_err());
        assert_eq!(GuestRam::with_mib(1).unwrap().len(), 1 << 20);
    }
}
