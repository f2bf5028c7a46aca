//! The guest's physical memory map, as the machine describes it to a loader.
//!
//! The machine owns every address here: it says how much RAM there is, where
//! conventional memory ends and which ranges (BIOS ROM, a flash at the top of
//! 4 GiB, an EBDA) are reserved. The loaders only turn that into the tables a
//! kernel reads (the E820 map in Linux's `boot_params`, the Multiboot memory
//! map) and check that everything they place lands in usable RAM.

use crate::error::BootError;

/// Start of extended memory: RAM above the 640 KiB–1 MiB ISA hole.
pub const HIGH_RAM_START: u64 = 0x10_0000;
/// Start of the legacy VGA/ROM hole; conventional memory ends at or below it.
pub const VGA_HOLE_START: u64 = 0xA_0000;

/// The guest's RAM and the holes in it, given by the machine.
///
/// RAM is `0..low_ram_end` and `1 MiB..ram_bytes`; every `reserved` range
/// is cut out of it and reported as reserved. The E820 map built from this
/// is sorted by address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryLayout {
    /// One past the last byte of RAM above 1 MiB (the RAM size, on a machine
    /// that does not remap memory above 4 GiB).
    pub ram_bytes: u64,
    /// One past the last byte of conventional memory: 0x9FC00 (with a 1 KiB
    /// EBDA above it) or 0xA0000.
    pub low_ram_end: u64,
    /// Reserved ranges as `(base, length)` in bytes, for example the BIOS
    /// area `(0xF0000, 0x10000)` or a ROM at the top of 4 GiB
    /// `(0xFFFC_0000, 0x4_0000)`.
    pub reserved: Vec<(u64, u64)>,
    /// Ranges holding ACPI tables, `(base, length)`: cut out of RAM like
    /// `reserved`, but reported as ACPI reclaimable (E820 type 3).
    pub acpi: Vec<(u64, u64)>,
    /// Where the machine placed the ACPI RSDP, for loaders that can pass
    /// it on (Linux's `boot_params.acpi_rsdp_addr`).
    pub acpi_rsdp: Option<u64>,
}

/// The type of an E820 range, as the BIOS INT 15h/E820h call reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum E820Type {
    /// Usable RAM (type 1). Multiboot's "available RAM" has the same code.
    Ram,
    /// Reserved, not usable by the OS (type 2).
    Reserved,
    /// ACPI tables, reclaimable once the OS has read them (type 3).
    Acpi,
}

impl E820Type {
    /// The type code in the E820 and Multiboot memory maps.
    pub fn code(self) -> u32 {
        match self {
            E820Type::Ram => 1,
            E820Type::Reserved => 2,
            E820Type::Acpi => 3,
        }
    }
}

/// One entry of the memory map: `size` bytes at `addr` of one type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct E820Entry {
    /// First byte.
    pub addr: u64,
    /// Length in bytes.
    pub size: u64,
    /// RAM or reserved.
    pub kind: E820Type,
}

/// A half-open physical address range `start..end`.
pub(crate) type Range = (u64, u64);

impl MemoryLayout {
    /// Checks the layout: conventional memory ends at or below 0xA0000,
    /// there is RAM above 1 MiB, and no reserved range is empty or wraps.
    pub fn validate(&self) -> Result<(), BootError> {
        if self.low_ram_end > VGA_HOLE_START {
            return Err(BootError::LowRamEndTooHigh {
                end: self.low_ram_end,
            });
        }
        if self.ram_bytes <= HIGH_RAM_START {
            return Err(BootError::RamTooSmall {
                ram_bytes: self.ram_bytes,
            });
        }
        for &(base, len) in self.reserved.iter().chain(&self.acpi) {
            if len == 0 || base.checked_add(len).is_none() {
                return Err(BootError::ReservedRegionInvalid { base, len });
            }
        }
        Ok(())
    }

    /// The usable RAM ranges: RAM minus the reserved ranges, sorted.
    pub(crate) fn usable(&self) -> Result<Vec<Range>, BootError> {
        self.validate()?;
        let mut ranges = vec![(0, self.low_ram_end), (HIGH_RAM_START, self.ram_bytes)];
        ranges.retain(|&(s, e)| s < e);
        for &(base, len) in self.reserved.iter().chain(&self.acpi) {
            let hole = (base, base.saturating_add(len));
            ranges = ranges.into_iter().flat_map(|r| subtract(r, hole)).collect();
        }
        ranges.sort_unstable();
        Ok(ranges)
    }

    /// The memory map: usable RAM and the reserved ranges, sorted by address.
    pub fn e820(&self) -> Result<Vec<E820Entry>, BootError> {
        let ram = self.usable()?.into_iter().map(|(s, e)| E820Entry {
            addr: s,
            size: e - s,
            kind: E820Type::Ram,
        });
        let reserved = self.reserved.iter().map(|&(addr, size)| E820Entry {
            addr,
            size,
            kind: E820Type::Reserved,
        });
        let acpi = self.acpi.iter().map(|&(addr, size)| E820Entry {
            addr,
            size,
            kind: E820Type::Acpi,
        });
        let mut map: Vec<E820Entry> = ram.chain(reserved).chain(acpi).collect();
        map.sort_by_key(|e| (e.addr, e.size));
        Ok(map)
    }
}

/// The parts of `r` outside `hole` (zero, one or two ranges).
fn subtract(r: Range, hole: Range) -> impl Iterator<Item = Range> {
    let below = (r.0, r.1.min(hole.0));
    let above = (r.0.max(hole.1), r.1);
    [below, above].into_iter().filter(|&(s, e)| s < e)
}

/// The usable range that contains all of `start..end`, if any.
pub(crate) fn containing(usable: &[Range], start: u64, end: u64) -> Option<Range> {
    usable
        .iter()
        .copied()
        .find(|&(s, e)| s <= start && end <= e)
}

/// Test helper: a PC layout of `ram` bytes, with 639 KiB of conventional
/// memory and the BIOS area and a flash at the top of 4 GiB reserved.
#[cfg(test)]
pub(crate) fn test_pc(ram: u64) -> MemoryLayout {
    MemoryLayout {
        ram_bytes: ram,
        low_ram_end: 0x9FC00,
        reserved: vec![(0xF0000, 0x10000), (0xFFFC_0000, 0x4_0000)],
        acpi: vec![],
        acpi_rsdp: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_pc as pc;

    const MIB: u64 = 1 << 20;

    #[test]
    fn e820_of_a_pc_is_low_ram_bios_high_ram_rom() {
        let map = pc(256 * MIB).e820().unwrap();
        let got: Vec<(u64, u64, u32)> = map
            .iter()
            .map(|e| (e.addr, e.size, e.kind.code()))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 0x9FC00, 1),
                (0xF0000, 0x10000, 2),
                (MIB, 255 * MIB, 1),
                (0xFFFC_0000, 0x4_0000, 2),
            ]
        );
    }

    #[test]
    fn a_reserved_hole_inside_ram_splits_it() {
        let mut m = pc(256 * MIB);
        m.reserved.push((64 * MIB, MIB));
        let usable = m.usable().unwrap();
        assert_eq!(
            usable,
            vec![(0, 0x9FC00), (MIB, 64 * MIB), (65 * MIB, 256 * MIB)]
        );
    }

    #[test]
    fn invalid_layouts_are_rejected() {
        let mut m = pc(256 * MIB);
        m.low_ram_end = 0xA0001;
        assert_eq!(
            m.validate(),
            Err(BootError::LowRamEndTooHigh { end: 0xA0001 })
        );
        assert_eq!(
            pc(MIB).validate(),
            Err(BootError::RamTooSmall { ram_bytes: MIB })
        );
        let mut m = pc(256 * MIB);
        m.reserved.push((u64::MAX, 2));
        assert!(matches!(
            m.validate(),
            Err(BootError::ReservedRegionInvalid { .. })
        ));
        let mut m = pc(256 * MIB);
        m.reserved.push((0x1000, 0));
        assert!(matches!(
            m.e820(),
            Err(BootError::ReservedRegionInvalid { .. })
        ));
    }

    #[test]
    fn containing_needs_one_contiguous_range() {
        let usable = [(0, 0x9FC00), (MIB, 64 * MIB), (65 * MIB, 256 * MIB)];
        assert_eq!(containing(&usable, MIB, 2 * MIB), Some((MIB, 64 * MIB)));
        assert_eq!(containing(&usable, 63 * MIB, 66 * MIB), None);
        assert_eq!(containing(&usable, 0x9F000, 0xA0000), None);
    }
}
