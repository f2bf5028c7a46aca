//! Guest physical memory: RAM, the firmware ROM and the PC memory map.
//!
//! RAM is one anonymous host mapping (memmap2), so a guest of any size costs
//! only the pages it touches. The ROM is mapped read-only at the top of the
//! 32-bit address space and its last 128 KiB (or all of it, if smaller) are
//! aliased just below 1 MiB, as on a PC. Everything else is unmapped: reads
//! return all-ones and writes are dropped.
//!
//! The A20 gate is not modelled here: it masks addresses before they reach
//! memory, so it belongs to whoever produces physical addresses (the CPU's
//! bus, see the machine crate).
//!
//! The mapping itself needs no `unsafe`: memmap2's anonymous map is a safe
//! constructor and derefs to a byte slice, and every access goes through a
//! bounds-checked slice. Guest code can therefore never reach host memory
//! outside its own RAM.
#![forbid(unsafe_code)]

mod ram;
mod rom;

pub use ram::GuestRam;
pub use rom::{Rom, ROM_ALIAS_MAX, ROM_GRANULE, ROM_MAX};

/// Errors setting up guest memory.
#[derive(Debug, thiserror::Error)]
pub enum MemError {
    /// The requested RAM size is zero or does not fit below the ROM.
    #[error("RAM size {0} MiB is out of range (1..=3584)")]
    BadRamSize(u64),
    /// The host refused the anonymous mapping.
    #[error("cannot map {size} bytes of guest RAM: {source}")]
    Map {
        /// Bytes asked for.
        size: usize,
        /// The host's error.
        source: std::io::Error,
    },
    /// The ROM image size is not a multiple of 64 KiB.
    #[error("ROM image is {0} bytes: its size must be a non-zero multiple of 64 KiB")]
    RomSize(usize),
    /// The ROM image is larger than 16 MiB.
    #[error("ROM image is {0} bytes: at most 16 MiB is supported")]
    RomTooLarge(usize),
}

/// Where a physical address lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// Guest RAM, at this offset into the RAM slice.
    Ram(usize),
    /// The ROM (either alias), at this offset into the ROM image.
    Rom(usize),
    /// Nothing: reads return all-ones, writes are dropped.
    Unmapped,
}

/// Where one PAM segment of the 0xC0000-0xFFFFF window sends accesses
/// (i440FX "programmable attribute map"): to DRAM, or to the ROM / PCI
/// side, separately for reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pam {
    /// Reads come from RAM.
    pub read_ram: bool,
    /// Writes go to RAM.
    pub write_ram: bool,
}

/// Start of the PAM window (the option ROM area).
pub const PAM_START: u64 = 0xC_0000;
/// End (exclusive) of the PAM window.
pub const PAM_END: u64 = 0x10_0000;

/// The PAM segment of `paddr`: 0 is 0xF0000-0xFFFFF (64 KiB), 1..=12 are
/// the 16 KiB segments from 0xC0000 up.
pub fn pam_segment(paddr: u64) -> Option<usize> {
    match paddr {
        0xF_0000..=0xF_FFFF => Some(0),
        PAM_START..=0xE_FFFF => Some(1 + ((paddr - PAM_START) >> 14) as usize),
        _ => None,
    }
}

/// Number of PAM segments.
pub const PAM_SEGMENTS: usize = 13;

/// Guest physical memory as the CPU and devices see it.
#[derive(Debug)]
pub struct PhysMemory {
    ram: GuestRam,
    rom: Option<Rom>,
    /// The chipset's shadow-RAM map, when the board has one; without it the
    /// low ROM alias always shadows RAM (a PC without PAM registers).
    pam: Option<[Pam; PAM_SEGMENTS]>,
    /// 0xA0000-0xBFFFF belongs to a VGA (the machine decodes it), not RAM.
    vga_window: bool,
}

/// The legacy VGA memory window, 0xA0000-0xBFFFF.
pub const VGA_WINDOW: core::ops::Range<u64> = 0xA_0000..0xC_0000;

impl PhysMemory {
    /// Memory with `ram` and, optionally, a firmware ROM.
    pub fn new(ram: GuestRam, rom: Option<Rom>) -> Self {
        Self {
            ram,
            rom,
            pam: None,
            vga_window: false,
        }
    }

    /// Gives 0xA0000-0xBFFFF to a VGA: accesses there are no longer RAM
    /// (they read as unmapped here, and the machine sends them to the
    /// device), so the CPU never maps those pages directly.
    pub fn set_vga_window(&mut self, on: bool) {
        self.vga_window = on;
    }

    /// Puts the 0xC0000-0xFFFFF window under PAM control (all segments
    /// start as "to ROM/PCI", the i440FX reset state), or takes it out.
    pub fn enable_pam(&mut self, on: bool) {
        self.pam = on.then_some([Pam::default(); PAM_SEGMENTS]);
    }

    /// Sets one PAM segment (ignored without PAM or out of range).
    pub fn set_pam(&mut self, segment: usize, pam: Pam) {
        if let Some(p) = self.pam.as_mut().and_then(|p| p.get_mut(segment)) {
            *p = pam;
        }
    }

    fn pam_of(&self, paddr: u64) -> Option<Pam> {
        let pam = self.pam.as_ref()?;
        pam_segment(paddr).map(|i| pam[i])
    }

    /// The RAM.
    pub fn ram(&self) -> &GuestRam {
        &self.ram
    }

    /// The RAM, writable.
    pub fn ram_mut(&mut self) -> &mut GuestRam {
        &mut self.ram
    }

    /// The ROM, if any.
    pub fn rom(&self) -> Option<&Rom> {
        self.rom.as_ref()
    }

    /// Classifies a physical address for a read. The low ROM alias shadows
    /// RAM, unless PAM sends reads of its segment to RAM.
    #[inline]
    pub fn region(&self, paddr: u64) -> Region {
        if let Some(p) = self.pam_of(paddr) {
            if p.read_ram {
                return self.ram_region(paddr);
            }
            return self.rom_region(paddr);
        }
        if let Some(rom) = &self.rom {
            if let Some(off) = rom.offset_of(paddr) {
                return Region::Rom(off);
            }
        }
        self.ram_region(paddr)
    }

    /// Classifies a physical address for a write: under PAM, a segment
    /// whose writes go to the ROM side drops them.
    #[inline]
    pub fn write_region(&self, paddr: u64) -> Region {
        match self.pam_of(paddr) {
            Some(p) if p.write_ram => self.ram_region(paddr),
            Some(_) => Region::Unmapped,
            None => self.region(paddr),
        }
    }

    fn ram_region(&self, paddr: u64) -> Region {
        if self.vga_window && VGA_WINDOW.contains(&paddr) {
            return Region::Unmapped;
        }
        if paddr < self.ram.len() as u64 {
            Region::Ram(paddr as usize)
        } else {
            Region::Unmapped
        }
    }

    fn rom_region(&self, paddr: u64) -> Region {
        match self.rom.as_ref().and_then(|r| r.offset_of(paddr)) {
            Some(off) => Region::Rom(off),
            None => Region::Unmapped,
        }
    }

    /// True when the whole 4 KiB page at `paddr` is plain RAM, so the CPU
    /// may access it directly through the RAM slice.
    pub fn page_is_ram(&self, paddr: u64) -> bool {
        let page = paddr & !0xFFF;
        let ram = |r| matches!(r, Region::Ram(_));
        ram(self.region(page))
            && ram(self.region(page + 0xFFF))
            && ram(self.write_region(page))
            && ram(self.write_region(page + 0xFFF))
    }

    /// Reads one byte.
    #[inline]
    pub fn read_u8(&self, paddr: u64) -> u8 {
        match self.region(paddr) {
            Region::Ram(off) => self.ram.as_slice()[off],
            Region::Rom(off) => self.rom.as_ref().map_or(0xFF, |r| r.as_slice()[off]),
            Region::Unmapped => 0xFF,
        }
    }

    /// Writes one byte; ROM and unmapped writes are dropped.
    #[inline]
    pub fn write_u8(&mut self, paddr: u64, value: u8) {
        if let Region::Ram(off) = self.write_region(paddr) {
            self.ram.as_mut_slice()[off] = value;
        }
    }

    /// Reads `size` (1..=8) bytes, little-endian, byte by byte through the map.
    pub fn read(&self, paddr: u64, size: u8) -> u64 {
        let mut v = 0u64;
        for i in 0..u64::from(size.min(8)) {
            v |= u64::from(self.read_u8(paddr.wrapping_add(i))) << (8 * i);
        }
        v
    }

    /// Writes `size` (1..=8) bytes, little-endian.
    pub fn write(&mut self, paddr: u64, size: u8, value: u64) {
        for i in 0..u64::from(size.min(8)) {
            self.write_u8(paddr.wrapping_add(i), (value >> (8 * i)) as u8);
        }
    }

    /// Copies `data` into RAM at `paddr`, whatever the ROM alias or PAM
    /// say (used by loaders, as firmware writing shadow RAM would).
    pub fn load(&mut self, paddr: u64, data: &[u8]) {
        let ram = self.ram.as_mut_slice();
        for (i, b) in data.iter().enumerate() {
            if let Some(slot) = usize::try_from(paddr + i as u64)
                .ok()
                .and_then(|a| ram.get_mut(a))
            {
                *slot = *b;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem_with_rom(rom_len: usize) -> PhysMemory {
        let ram = GuestRam::new(2 << 20).unwrap();
        let mut img = vec![0u8; rom_len];
        let n = img.len();
        img[n - 16] = 0xEA; // the reset vector's first byte
        img[0] = 0x11;
        PhysMemory::new(ram, Some(Rom::new(img).unwrap()))
    }

    #[test]
    fn rom_is_at_the_top_of_4g_and_aliased_below_1m() {
        let m = mem_with_rom(64 << 10);
        assert_eq!(m.read_u8(0xFFFF_FFF0), 0xEA);
        assert_eq!(m.read_u8(0xFFFF0), 0xEA);
        assert_eq!(m.read_u8(0xF0000), 0x11);
        assert_eq!(m.region(0xEFFFF), Region::Ram(0xEFFFF));
    }

    #[test]
    fn only_the_last_128k_of_a_large_rom_is_aliased_low() {
        let m = mem_with_rom(256 << 10);
        assert_eq!(m.region(0xE0000), Region::Rom(128 << 10));
        assert_eq!(m.region(0xDFFFF), Region::Ram(0xDFFFF));
        assert_eq!(m.region(0xFFFC_0000), Region::Rom(0));
    }

    #[test]
    fn rom_writes_are_dropped_and_unmapped_reads_are_ones() {
        let mut m = mem_with_rom(64 << 10);
        m.write_u8(0xFFFF0, 0);
        assert_eq!(m.read_u8(0xFFFF0), 0xEA);
        assert_eq!(m.read(0x8000_0000, 4), 0xFFFF_FFFF);
        m.write(0x8000_0000, 4, 0); // dropped, no panic
    }

    #[test]
    fn guest_pages_are_4k_whatever_the_host_page() {
        // RAM ending 4 KiB past a 16 KiB (and 64 KiB) boundary: its last
        // guest page is whole RAM, the next one is unmapped. A RAM size that
        // ends inside a guest page leaves that page off the CPU's direct
        // path, but its bytes still work one by one.
        let mut m = PhysMemory::new(GuestRam::new((1 << 20) + 4096).unwrap(), None);
        assert!(m.page_is_ram(0x10_0000));
        m.write(0x10_0FFC, 4, 0xDEAD_BEEF);
        assert_eq!(m.read(0x10_0FFC, 4), 0xDEAD_BEEF);
        assert!(!m.page_is_ram(0x10_1000));
        assert_eq!(m.region(0x10_1000), Region::Unmapped);

        let mut m = PhysMemory::new(GuestRam::new(4096 * 3 + 512).unwrap(), None);
        assert!(m.page_is_ram(0x2000));
        assert!(!m.page_is_ram(0x3000));
        m.write(0x31FE, 2, 0x1234);
        assert_eq!(m.read(0x31FE, 2), 0x1234);
        assert_eq!(m.read_u8(0x3200), 0xFF);
    }

    #[test]
    fn pam_sends_reads_and_writes_to_ram_or_rom_per_segment() {
        let mut m = mem_with_rom(128 << 10);
        m.enable_pam(true);
        // Reset: the BIOS segment reads the ROM, writes are dropped.
        assert_eq!(m.read_u8(0xFFFF0), 0xEA);
        m.write_u8(0xFFFF0, 0x90);
        assert_eq!(m.read_u8(0xFFFF0), 0xEA);
        assert!(!m.page_is_ram(0xFF000));
        // Write-only: the shadow copy is written while reads still come
        // from the ROM (SeaBIOS copies itself this way).
        m.set_pam(
            0,
            Pam {
                read_ram: false,
                write_ram: true,
            },
        );
        m.write_u8(0xFFFF0, 0x90);
        assert_eq!(m.read_u8(0xFFFF0), 0xEA);
        assert!(!m.page_is_ram(0xFF000));
        // Read/write: RAM, and the CPU may use it directly.
        m.set_pam(
            0,
            Pam {
                read_ram: true,
                write_ram: true,
            },
        );
        assert_eq!(m.read_u8(0xFFFF0), 0x90);
        assert!(m.page_is_ram(0xFF000));
        // Read-only: the shadow is read, writes are dropped.
        m.set_pam(
            0,
            Pam {
                read_ram: true,
                write_ram: false,
            },
        );
        m.write_u8(0xFFFF0, 0x11);
        assert_eq!(m.read_u8(0xFFFF0), 0x90);
        assert!(!m.page_is_ram(0xFF000));
        // A 16 KiB segment with no ROM behind it reads all-ones.
        assert_eq!(pam_segment(0xC4000), Some(2));
        assert_eq!(m.read_u8(0xC4000), 0xFF);
        m.set_pam(
            2,
            Pam {
                read_ram: true,
                write_ram: true,
            },
        );
        m.write_u8(0xC4000, 0x42);
        assert_eq!(m.read_u8(0xC4000), 0x42);
        assert_eq!(m.read_u8(0xC0000), 0xFF, "segment 1 untouched");
    }

    #[test]
    fn ram_is_little_endian() {
        let mut m = mem_with_rom(64 << 10);
        m.write(0x1000, 4, 0x1122_3344);
        assert_eq!(m.read_u8(0x1000), 0x44);
        assert_eq!(m.read(0x1000, 2), 0x3344);
        assert!(m.page_is_ram(0x1000));
        assert!(!m.page_is_ram(0xFF000));
    }

    #[test]
    fn the_vga_window_is_not_ram_when_a_vga_owns_it() {
        let mut m = PhysMemory::new(GuestRam::with_mib(1).unwrap(), None);
        assert!(m.page_is_ram(0xB8000));
        m.set_vga_window(true);
        assert!(!m.page_is_ram(0xB8000));
        assert!(!m.page_is_ram(0xA0000));
        assert!(m.page_is_ram(0x9F000) && m.page_is_ram(0xC0000));
        m.write_u8(0xB8000, 0x41);
        assert_eq!(m.read_u8(0xB8000), 0xFF);
    }
}
