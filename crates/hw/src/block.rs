//! Block media: what a storage controller (IDE, ATAPI, floppy) reads and
//! writes.
//!
//! A controller holds its medium as `Box<dyn BlockBackend>` and reads or
//! writes whole byte ranges synchronously; the machine builds the backends
//! from the user's image files (raw file, copy-on-write overlay for
//! `--snapshot`). Offsets and lengths are in bytes so that one trait serves
//! 512-byte disk sectors and 2048-byte CD blocks alike; the controller checks
//! ranges against [`BlockBackend::len`] before it asks, and a backend still
//! refuses anything out of range with [`BlockError::OutOfRange`] rather than
//! panicking.
//!
//! [`MemDisk`] is the in-memory backend the device tests (and small
//! generated media) use.

use core::fmt;

/// Why a block request failed. The controller turns any of these into the
/// medium error its protocol defines (ATA ERR/ABRT or UNC, an ATAPI sense
/// key, an FDC status bit); the guest never sees a host error otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockError {
    /// The range does not lie inside the medium.
    OutOfRange,
    /// A write to a read-only medium.
    ReadOnly,
    /// The host failed the request (I/O error on the image file).
    Io,
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BlockError::OutOfRange => "block request past the end of the medium",
            BlockError::ReadOnly => "write to a read-only medium",
            BlockError::Io => "host I/O error on the image",
        })
    }
}

/// A medium: a fixed-size array of bytes, read and written in place.
pub trait BlockBackend {
    /// Size of the medium in bytes.
    fn len(&self) -> u64;
    /// True if the medium is empty (no bytes).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// True if writes are refused (write-protected floppy, CD-ROM, a disk
    /// image the user may not write).
    fn read_only(&self) -> bool;
    /// Reads `buf.len()` bytes at `offset`.
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), BlockError>;
    /// Writes `data` at `offset`.
    fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), BlockError>;
    /// Makes every completed write durable (ATA FLUSH CACHE).
    fn flush(&mut self) -> Result<(), BlockError>;
    /// The guest's writes an in-memory overlay holds (`--snapshot`), as
    /// 512-byte sectors by number, for machine snapshots; `None` for a
    /// medium without one (written in place, or read-only).
    fn overlay(&self) -> Option<Vec<(u64, Vec<u8>)>> {
        None
    }
    /// Replaces the overlay's writes with a snapshot's; false when the
    /// medium has no overlay or a sector does not fit it.
    fn set_overlay(&mut self, _sectors: &[(u64, Vec<u8>)]) -> bool {
        false
    }
}

/// Checks that `[offset, offset + n)` lies inside a medium of `len` bytes
/// and returns it as a `usize` range.
pub fn checked_range(
    offset: u64,
    n: usize,
    len: u64,
) -> Result<core::ops::Range<usize>, BlockError> {
    let end = offset.checked_add(n as u64).ok_or(BlockError::OutOfRange)?;
    if end > len {
        return Err(BlockError::OutOfRange);
    }
    let start = usize::try_from(offset).map_err(|_| BlockError::OutOfRange)?;
    let end = usize::try_from(end).map_err(|_| BlockError::OutOfRange)?;
    Ok(start..end)
}

/// An in-memory medium.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemDisk {
    /// The medium's bytes.
    pub data: Vec<u8>,
    /// Refuse writes.
    pub read_only: bool,
    /// Number of successful `flush` calls (tests observe FLUSH CACHE).
    pub flushes: u64,
}

impl MemDisk {
    /// A writable medium holding `data`.
    pub fn new(data: Vec<u8>) -> Self {
        MemDisk {
            data,
            read_only: false,
            flushes: 0,
        }
    }

    /// A read-only medium holding `data`.
    pub fn read_only(data: Vec<u8>) -> Self {
        MemDisk {
            data,
            read_only: true,
            flushes: 0,
        }
    }
}

impl BlockBackend for MemDisk {
    fn len(&self) -> u64 {
        self.data.len() as u64
    }
    fn read_only(&self) -> bool {
        self.read_only
    }
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        let r = checked_range(offset, buf.len(), self.len())?;
        buf.copy_from_slice(&self.data[r]);
        Ok(())
    }
    fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), BlockError> {
        if self.read_only {
            return Err(BlockError::ReadOnly);
        }
        let r = checked_range(offset, data.len(), self.len())?;
        self.data[r].copy_from_slice(data);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        self.flushes += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_disk_reads_back_what_was_written() {
        let mut d = MemDisk::new(vec![0; 1024]);
        d.write(510, &[1, 2, 3, 4]).unwrap();
        let mut b = [0u8; 4];
        d.read(510, &mut b).unwrap();
        assert_eq!(b, [1, 2, 3, 4]);
    }

    #[test]
    fn mem_disk_refuses_out_of_range_and_overflowing_requests() {
        let mut d = MemDisk::new(vec![0; 1024]);
        let mut b = [0u8; 4];
        assert_eq!(d.read(1021, &mut b), Err(BlockError::OutOfRange));
        assert_eq!(d.read(u64::MAX - 1, &mut b), Err(BlockError::OutOfRange));
        assert_eq!(d.write(1024, &[0]), Err(BlockError::OutOfRange));
        assert!(d.read(1020, &mut b).is_ok());
    }

    #[test]
    fn read_only_mem_disk_refuses_writes() {
        let mut d = MemDisk::read_only(vec![7; 512]);
        assert_eq!(d.write(0, &[0]), Err(BlockError::ReadOnly));
        assert_eq!(d.data[0], 7);
    }
}
