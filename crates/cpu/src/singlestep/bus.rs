//! A flat bus for CPU test vectors: RAM and nothing else.

use crate::CpuBus;

/// The 286's physical address space: 24 address lines.
pub const MEM_SIZE: usize = 1 << 24;

/// The 386EX's physical address space: 26 address lines.
pub const MEM_SIZE_386EX: usize = 1 << 26;

/// RAM (16 MiB unless asked) and nothing else: I/O reads float high (all-ones), I/O
/// writes go nowhere, no interrupts.
pub struct FlatBus {
    /// The RAM.
    pub ram: Vec<u8>,
    /// Instructions retired, for the TSC.
    pub icount: u64,
    /// Port reads so far (a test's view of the guest's I/O).
    pub io_reads: u64,
}

impl FlatBus {
    /// 16 MiB of zeroes.
    pub fn new() -> Self {
        Self::with_size(MEM_SIZE)
    }

    /// `size` bytes of zeroes (rounded up to a power of two, at least
    /// 4 KiB): the address lines wrap at `size`.
    pub fn with_size(size: usize) -> Self {
        Self {
            ram: vec![0; size.max(4096).next_power_of_two()],
            icount: 0,
            io_reads: 0,
        }
    }

    /// A physical address as the address lines see it.
    fn wrap(&self, paddr: u64) -> usize {
        (paddr as usize) & (self.ram.len() - 1)
    }
}

impl Default for FlatBus {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuBus for FlatBus {
    fn ram(&mut self) -> &mut [u8] {
        &mut self.ram
    }

    fn ram_ref(&self) -> &[u8] {
        &self.ram
    }

    fn page_is_ram(&self, paddr: u64) -> bool {
        paddr < self.ram.len() as u64
    }

    // Addresses at or above 16 MiB only arrive here; the 286 drops the
    // upper address lines, so they alias the bottom of RAM.
    fn mem_read(&mut self, paddr: u64, size: u8, _icount: u64) -> u64 {
        (0..u64::from(size)).fold(0, |v, i| {
            v | u64::from(self.ram[self.wrap(paddr + i)]) << (8 * i)
        })
    }

    fn mem_write(&mut self, paddr: u64, size: u8, value: u64, _icount: u64) {
        for i in 0..u64::from(size) {
            let at = self.wrap(paddr + i);
            self.ram[at] = (value >> (8 * i)) as u8;
        }
    }

    fn peek_phys(&self, paddr: u64) -> u8 {
        self.ram[self.wrap(paddr)]
    }

    fn io_in(&mut self, _port: u16, size: u8, _icount: u64) -> u32 {
        self.io_reads += 1;
        (u64::MAX >> (64 - 8 * u32::from(size))) as u32
    }

    fn io_out(&mut self, _port: u16, _size: u8, _value: u32, _icount: u64) {}

    fn a20_mask(&self) -> u64 {
        u64::MAX
    }

    fn interrupt_pending(&self) -> bool {
        false
    }

    fn acknowledge_interrupt(&mut self, _icount: u64) -> u8 {
        0
    }

    fn tsc(&mut self, icount: u64) -> u64 {
        self.icount = icount;
        icount
    }

    fn stop_requested(&self) -> bool {
        false
    }
}
