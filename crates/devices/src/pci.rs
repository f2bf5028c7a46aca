//! PCI configuration space: configuration mechanism #1 (ports 0xCF8-0xCFF)
//! and the type-0 configuration header every PCI function embeds.
//!
//! Reference: PCI Local Bus Specification 3.0, section 3.2.2.3.2
//! (configuration mechanism #1: CONFIG_ADDRESS at 0xCF8, CONFIG_DATA at
//! 0xCFC), chapter 6 (configuration space: header layout, command and
//! status registers, base address registers and their sizing, the
//! expansion ROM BAR); QEMU `hw/pci/pci_host.c` and `hw/pci/pci.c` for the
//! behaviour guests see on the `pc` machine.
//!
//! # Wiring
//!
//! The machine owns one [`PciHost`] and every function's [`ConfigSpace`]
//! (inside the chipset devices: `I440fx`, `Piix3Isa`, `Piix4Pm`, ...).
//!
//! - 32-bit accesses to port 0xCF8 go to [`PciHost::read_address`] /
//!   [`PciHost::write_address`]; narrower accesses to 0xCF8-0xCFB are not
//!   claimed by the host bridge (on the PIIX they pass on to the ISA bus,
//!   where only the reset control register at 0xCF9 answers byte accesses:
//!   route a byte access to 0xCF9 to `Piix3Isa::rcr_read/rcr_write`
//!   first). `read_address` returns all-ones for them, `write_address`
//!   ignores them.
//! - An access of `size` bytes to port `0xCFC + n` (n = 0..3) asks
//!   [`PciHost::target`] with `data_offset = n`. `None` (enable bit clear)
//!   reads all-ones and drops writes. `Some(addr)` is dispatched with a
//!   `match` on `(bus, dev, func)` to that function's `config_read` /
//!   `config_write(addr.reg, size, ..)`; absent functions read
//!   [`absent_read`] (all-ones: the master abort a host bridge turns into
//!   0xFFFF vendor ID, which is how firmware finds empty slots) and ignore
//!   writes.
//!
//! # Not implemented
//!
//! - Configuration mechanism #2 and PCI Express enhanced (MMCONFIG) access.
//! - Capability lists (status bit 4 reads 0), bridges (type-1 headers),
//!   bus numbers other than 0 decode but find nothing.
//! - Parity, SERR# and the status error bits are never set by our devices;
//!   they are RW1C as the spec says but always read 0.

use anyx86_hw::{AccessSize, Snapshot, SnapshotError};

/// CONFIG_ADDRESS bit 31: the next CONFIG_DATA access is a configuration
/// cycle.
pub const CONFIG_ADDRESS_ENABLE: u32 = 0x8000_0000;
/// CONFIG_ADDRESS bits 23:16: bus number.
const CONFIG_ADDRESS_BUS_SHIFT: u32 = 16;
/// CONFIG_ADDRESS bits 15:11: device number.
const CONFIG_ADDRESS_DEV_SHIFT: u32 = 11;
/// CONFIG_ADDRESS bits 10:8: function number.
const CONFIG_ADDRESS_FUNC_SHIFT: u32 = 8;
/// CONFIG_ADDRESS bits 7:2: dword register number (bits 1:0 read 0 on a
/// configuration cycle; the byte comes from the CONFIG_DATA port used).
const CONFIG_ADDRESS_REG_MASK: u32 = 0xFC;

/// Vendor ID (16 bits, read-only).
pub const PCI_VENDOR_ID: u8 = 0x00;
/// Device ID (16 bits, read-only).
pub const PCI_DEVICE_ID: u8 = 0x02;
/// Command register (16 bits).
pub const PCI_COMMAND: u8 = 0x04;
/// Status register (16 bits, error bits RW1C).
pub const PCI_STATUS: u8 = 0x06;
/// Revision ID (read-only).
pub const PCI_REVISION_ID: u8 = 0x08;
/// Programming interface byte of the class code (read-only).
pub const PCI_CLASS_PROG: u8 = 0x09;
/// Sub-class byte of the class code (read-only).
pub const PCI_CLASS_SUB: u8 = 0x0A;
/// Base class byte of the class code (read-only).
pub const PCI_CLASS_BASE: u8 = 0x0B;
/// Cache line size (read/write scratch for us).
pub const PCI_CACHE_LINE_SIZE: u8 = 0x0C;
/// Latency timer (read/write scratch for us).
pub const PCI_LATENCY_TIMER: u8 = 0x0D;
/// Header type; bit 7 = multi-function device.
pub const PCI_HEADER_TYPE: u8 = 0x0E;
/// Header type bit 7: the device has functions other than 0.
pub const PCI_HEADER_TYPE_MULTI_FUNCTION: u8 = 0x80;
/// First base address register; BAR n is at `0x10 + 4 n`, n = 0..5.
pub const PCI_BASE_ADDRESS_0: u8 = 0x10;
/// Subsystem vendor ID (read-only).
pub const PCI_SUBSYSTEM_VENDOR_ID: u8 = 0x2C;
/// Subsystem ID (read-only).
pub const PCI_SUBSYSTEM_ID: u8 = 0x2E;
/// Expansion ROM base address register.
pub const PCI_ROM_ADDRESS: u8 = 0x30;
/// Interrupt line: scratch byte the firmware writes the routed IRQ into.
pub const PCI_INTERRUPT_LINE: u8 = 0x3C;
/// Interrupt pin: 0 = none, 1..4 = INTA#..INTD# (read-only).
pub const PCI_INTERRUPT_PIN: u8 = 0x3D;
/// First device-specific register.
pub const PCI_DEVICE_SPECIFIC: u8 = 0x40;

/// Command bit 0: respond to I/O space accesses (I/O BARs decode).
pub const PCI_COMMAND_IO: u16 = 0x0001;
/// Command bit 1: respond to memory space accesses (memory and ROM BARs
/// decode).
pub const PCI_COMMAND_MEMORY: u16 = 0x0002;
/// Command bit 2: bus master enable.
pub const PCI_COMMAND_MASTER: u16 = 0x0004;
/// Command bit 6: parity error response.
pub const PCI_COMMAND_PARITY: u16 = 0x0040;
/// Command bit 8: SERR# enable.
pub const PCI_COMMAND_SERR: u16 = 0x0100;
/// Command bit 10: INTx# emulation disable.
pub const PCI_COMMAND_INTX_DISABLE: u16 = 0x0400;
/// Command bits a guest may change on every function.
const PCI_COMMAND_WRITABLE: u16 = PCI_COMMAND_IO
    | PCI_COMMAND_MEMORY
    | PCI_COMMAND_MASTER
    | PCI_COMMAND_PARITY
    | PCI_COMMAND_SERR
    | PCI_COMMAND_INTX_DISABLE;

/// Status bits 10:9: DEVSEL timing, medium (read-only).
pub const PCI_STATUS_DEVSEL_MEDIUM: u16 = 0x0200;
/// Status bit 7: fast back-to-back capable (read-only).
pub const PCI_STATUS_FAST_BACK: u16 = 0x0080;
/// Status bit 8: master data parity error (RW1C).
pub const PCI_STATUS_PARITY: u16 = 0x0100;
/// Status bit 11: signaled target abort (RW1C).
pub const PCI_STATUS_SIG_TARGET_ABORT: u16 = 0x0800;
/// Status bit 12: received target abort (RW1C).
pub const PCI_STATUS_REC_TARGET_ABORT: u16 = 0x1000;
/// Status bit 13: received master abort (RW1C).
pub const PCI_STATUS_REC_MASTER_ABORT: u16 = 0x2000;
/// Status bit 14: signaled system error (RW1C).
pub const PCI_STATUS_SIG_SYSTEM_ERROR: u16 = 0x4000;
/// Status bit 15: detected parity error (RW1C).
pub const PCI_STATUS_DETECTED_PARITY: u16 = 0x8000;
/// Status bits that are write-one-to-clear.
const PCI_STATUS_RW1C: u16 = PCI_STATUS_PARITY
    | PCI_STATUS_SIG_TARGET_ABORT
    | PCI_STATUS_REC_TARGET_ABORT
    | PCI_STATUS_REC_MASTER_ABORT
    | PCI_STATUS_SIG_SYSTEM_ERROR
    | PCI_STATUS_DETECTED_PARITY;

/// BAR bit 0: 1 = I/O space BAR.
pub const PCI_BASE_ADDRESS_SPACE_IO: u32 = 0x01;
/// Memory BAR bits 2:1 = 10: 64-bit BAR using two slots.
pub const PCI_BASE_ADDRESS_MEM_TYPE_64: u32 = 0x04;
/// Memory BAR bit 3: prefetchable.
pub const PCI_BASE_ADDRESS_MEM_PREFETCH: u32 = 0x08;
/// Expansion ROM BAR bit 0: address decode enable.
pub const PCI_ROM_ADDRESS_ENABLE: u32 = 0x01;
/// Expansion ROM BAR bits 31:11: base address.
const PCI_ROM_ADDRESS_MASK: u32 = 0xFFFF_F800;

/// Number of BAR slots in a type-0 header.
pub const PCI_NUM_BARS: usize = 6;
/// Bytes of configuration space of a conventional PCI function.
pub const CONFIG_SPACE_LEN: usize = 256;

/// Plain-data state of configuration mechanism #1.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PciHostState {
    /// The latched CONFIG_ADDRESS, as last written by a 32-bit write.
    pub address: u32,
}
anyx86_hw::wire_struct!(PciHostState { address });

/// Configuration mechanism #1: the CONFIG_ADDRESS latch at port 0xCF8.
#[derive(Debug, Clone, Default)]
pub struct PciHost {
    state: PciHostState,
}

/// A configuration cycle target: the function and register of an access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PciAddress {
    /// Bus number (only bus 0 is populated on the `pc` machine).
    pub bus: u8,
    /// Device number, 0-31.
    pub dev: u8,
    /// Function number, 0-7.
    pub func: u8,
    /// Byte offset in the function's configuration space.
    pub reg: u8,
}

impl PciHost {
    /// The latch at power-on: 0 (configuration cycles disabled).
    pub fn new() -> Self {
        Self::default()
    }

    /// A read of port 0xCF8: 32-bit reads return the latch; narrower reads
    /// are not claimed by the host bridge and read all-ones.
    pub fn read_address(&self, size: AccessSize) -> u32 {
        if size == 4 {
            self.state.address
        } else {
            absent_read(size)
        }
    }

    /// A write to port 0xCF8: only 32-bit writes load the latch (Linux's
    /// `pci_check_type1` writes a byte to 0xCFB and expects the latch to
    /// keep its value).
    pub fn write_address(&mut self, size: AccessSize, value: u32) {
        if size == 4 {
            self.state.address = value;
        }
    }

    /// The target of an access to port `0xCFC + data_offset`, or `None`
    /// when the latch's enable bit is clear (the access then goes nowhere:
    /// reads all-ones).
    pub fn target(&self, data_offset: u16) -> Option<PciAddress> {
        let a = self.state.address;
        if a & CONFIG_ADDRESS_ENABLE == 0 {
            return None;
        }
        Some(PciAddress {
            bus: (a >> CONFIG_ADDRESS_BUS_SHIFT) as u8,
            dev: ((a >> CONFIG_ADDRESS_DEV_SHIFT) & 0x1F) as u8,
            func: ((a >> CONFIG_ADDRESS_FUNC_SHIFT) & 0x07) as u8,
            reg: ((a & CONFIG_ADDRESS_REG_MASK) as u8).wrapping_add((data_offset & 3) as u8),
        })
    }
}

impl Snapshot for PciHost {
    type State = PciHostState;

    fn save(&self) -> PciHostState {
        self.state.clone()
    }

    fn restore(&mut self, state: &PciHostState) -> Result<(), SnapshotError> {
        // Every latch value is valid.
        self.state = state.clone();
        Ok(())
    }
}

/// What a read of a function that is not there returns: all-ones of the
/// access size (a bad size reads all 32 bits as ones).
pub fn absent_read(size: AccessSize) -> u32 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => u32::MAX,
    }
}

/// The kind of a base address register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarKind {
    /// I/O space (decoded below 64 KiB).
    Io,
    /// 32-bit memory space.
    Mem32,
    /// 32-bit prefetchable memory space.
    Mem32Prefetch,
    /// 64-bit memory space, using this slot and the next one.
    Mem64,
}

/// A PCI function as configuration cycles reach it: the machine sends a
/// cycle for the function to `config_read` / `config_write` with the
/// register offset. Reads have no side effects on any of our functions;
/// a write may act on the device behind the registers (PAM, PMBA), so
/// each function says what a write does.
pub trait PciFunction {
    /// The configuration space, for inspection.
    fn config(&self) -> &ConfigSpace;

    /// A configuration write of the low `size` bytes of `value` at `reg`.
    fn config_write(&mut self, reg: u8, size: AccessSize, value: u32);

    /// A configuration read of `size` bytes at `reg`.
    fn config_read(&self, reg: u8, size: AccessSize) -> u32 {
        self.config().read(reg, size)
    }
}

/// One declared BAR: its kind and size in bytes (a power of two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bar {
    kind: BarKind,
    size: u64,
}

/// A type-0 configuration header with per-byte write masks, RW1C masks and
/// declared BARs. Every PCI function embeds one.
///
/// The register bytes are the state; the masks and BAR declarations are
/// fixed by the device at construction.
#[derive(Debug, Clone)]
pub struct ConfigSpace {
    bytes: [u8; CONFIG_SPACE_LEN],
    /// Bits a write replaces.
    wmask: [u8; CONFIG_SPACE_LEN],
    /// Bits a write of 1 clears.
    w1cmask: [u8; CONFIG_SPACE_LEN],
    /// The power-on bytes, for `reset` and for validating snapshots.
    reset: [u8; CONFIG_SPACE_LEN],
    bars: [Option<Bar>; PCI_NUM_BARS],
    rom_size: u32,
}

impl ConfigSpace {
    /// A header with the given IDs; `class` is `base << 16 | sub << 8 |
    /// prog_if`. The command register's enables, the cache line size,
    /// latency timer and interrupt line are writable; the status error bits
    /// are RW1C; everything else reads as set here (0 by default).
    pub fn new(vendor: u16, device: u16, revision: u8, class: u32, header_type: u8) -> Self {
        let mut cs = Self {
            bytes: [0; CONFIG_SPACE_LEN],
            wmask: [0; CONFIG_SPACE_LEN],
            w1cmask: [0; CONFIG_SPACE_LEN],
            reset: [0; CONFIG_SPACE_LEN],
            bars: [None; PCI_NUM_BARS],
            rom_size: 0,
        };
        cs.set_u16(PCI_VENDOR_ID, vendor);
        cs.set_u16(PCI_DEVICE_ID, device);
        cs.set_u8(PCI_REVISION_ID, revision);
        cs.set_u8(PCI_CLASS_PROG, class as u8);
        cs.set_u8(PCI_CLASS_SUB, (class >> 8) as u8);
        cs.set_u8(PCI_CLASS_BASE, (class >> 16) as u8);
        cs.set_u8(PCI_HEADER_TYPE, header_type);
        cs.set_writable(PCI_COMMAND, u32::from(PCI_COMMAND_WRITABLE), 2);
        cs.set_rw1c(PCI_STATUS, u32::from(PCI_STATUS_RW1C), 2);
        cs.set_writable(PCI_CACHE_LINE_SIZE, 0xFF, 1);
        cs.set_writable(PCI_LATENCY_TIMER, 0xFF, 1);
        cs.set_writable(PCI_INTERRUPT_LINE, 0xFF, 1);
        cs
    }

    /// Sets the subsystem vendor and subsystem IDs (read-only).
    pub fn set_subsystem(&mut self, vendor: u16, id: u16) {
        self.set_u16(PCI_SUBSYSTEM_VENDOR_ID, vendor);
        self.set_u16(PCI_SUBSYSTEM_ID, id);
    }

    /// Declares BAR `i` of `kind` and `size` bytes (rounded up to a power of
    /// two, at least 4 for I/O and 16 for memory). A 64-bit BAR also takes
    /// slot `i + 1`. An index out of range, or a 64-bit BAR in the last
    /// slot, is ignored. The BAR reads 0 (unassigned) until programmed.
    pub fn set_bar(&mut self, i: usize, kind: BarKind, size: u64) {
        let slots = if kind == BarKind::Mem64 { 2 } else { 1 };
        if i + slots > PCI_NUM_BARS {
            return;
        }
        let min = if kind == BarKind::Io { 4 } else { 16 };
        let size = size.max(min).checked_next_power_of_two().unwrap_or(1 << 63);
        let (type_bits, addr_mask) = match kind {
            BarKind::Io => (PCI_BASE_ADDRESS_SPACE_IO, 0xFFFF_FFFC_u32),
            BarKind::Mem32 => (0, 0xFFFF_FFF0),
            BarKind::Mem32Prefetch => (PCI_BASE_ADDRESS_MEM_PREFETCH, 0xFFFF_FFF0),
            BarKind::Mem64 => (PCI_BASE_ADDRESS_MEM_TYPE_64, 0xFFFF_FFF0),
        };
        let size_mask = !(size - 1);
        let reg = bar_reg(i);
        self.set_u32(reg, type_bits);
        self.set_writable(reg, addr_mask & size_mask as u32, 4);
        if kind == BarKind::Mem64 {
            self.set_u32(reg.wrapping_add(4), 0);
            self.set_writable(reg.wrapping_add(4), (size_mask >> 32) as u32, 4);
        }
        self.bars[i] = Some(Bar { kind, size });
    }

    /// Declares the expansion ROM BAR (0x30) of `size` bytes (rounded up to
    /// a power of two, at least 2 KiB); bit 0 is the decode enable. A size
    /// of 0 removes it (the register then reads 0).
    pub fn set_rom_bar(&mut self, size: u32) {
        self.set_u32(PCI_ROM_ADDRESS, 0);
        if size == 0 {
            self.set_writable(PCI_ROM_ADDRESS, 0, 4);
            self.rom_size = 0;
            return;
        }
        let size = size
            .max(0x800)
            .checked_next_power_of_two()
            .unwrap_or(1 << 31);
        let mask = (PCI_ROM_ADDRESS_MASK & !(size - 1)) | PCI_ROM_ADDRESS_ENABLE;
        self.set_writable(PCI_ROM_ADDRESS, mask, 4);
        self.rom_size = size;
    }

    /// Sets the interrupt pin (0 = none, 1..4 = INTA#..INTD#).
    pub fn set_interrupt_pin(&mut self, pin: u8) {
        self.set_u8(PCI_INTERRUPT_PIN, pin);
    }

    /// Reads `size` (1, 2 or 4) bytes at `reg`, little-endian. Bytes past
    /// the end of configuration space and bad sizes read as all-ones.
    pub fn read(&self, reg: u8, size: AccessSize) -> u32 {
        if !matches!(size, 1 | 2 | 4) {
            return u32::MAX;
        }
        (0..usize::from(size)).fold(0, |acc, i| {
            let byte = self
                .bytes
                .get(usize::from(reg) + i)
                .copied()
                .unwrap_or(0xFF);
            acc | u32::from(byte) << (8 * i)
        })
    }

    /// Writes the low `size` (1, 2 or 4) bytes of `value` at `reg`,
    /// honouring the write and RW1C masks. Bytes past the end and bad
    /// sizes are ignored.
    pub fn write(&mut self, reg: u8, size: AccessSize, value: u32) {
        if !matches!(size, 1 | 2 | 4) {
            return;
        }
        for i in 0..usize::from(size) {
            self.write_byte(usize::from(reg) + i, (value >> (8 * i)) as u8);
        }
    }

    fn write_byte(&mut self, at: usize, v: u8) {
        let (Some(b), Some(&w), Some(&c)) = (
            self.bytes.get_mut(at),
            self.wmask.get(at),
            self.w1cmask.get(at),
        ) else {
            return;
        };
        *b = ((*b & !w) | (v & w)) & !(v & c);
    }

    /// The command register.
    pub fn command(&self) -> u16 {
        self.read(PCI_COMMAND, 2) as u16
    }

    /// The decoded base of BAR `i` when its space is enabled in the command
    /// register and it is assigned; `None` when disabled, undeclared, at
    /// base 0, reaching the top of its address space (as after sizing with
    /// all-ones), or the upper half of a 64-bit BAR.
    pub fn bar(&self, i: usize) -> Option<u64> {
        let bar = (*self.bars.get(i)?)?;
        let low = self.read(bar_reg(i), 4);
        let (enable, base, limit) = match bar.kind {
            BarKind::Io => (PCI_COMMAND_IO, u64::from(low & !3), 1 << 16),
            BarKind::Mem32 | BarKind::Mem32Prefetch => (
                PCI_COMMAND_MEMORY,
                u64::from(low & !0xF),
                u64::from(u32::MAX),
            ),
            BarKind::Mem64 => {
                let high = u64::from(self.read(bar_reg(i).wrapping_add(4), 4));
                (
                    PCI_COMMAND_MEMORY,
                    high << 32 | u64::from(low & !0xF),
                    u64::MAX,
                )
            }
        };
        let end = base.checked_add(bar.size)?;
        (self.command() & enable != 0 && base != 0 && end <= limit).then_some(base)
    }

    /// The size of declared BAR `i`, in bytes.
    pub fn bar_size(&self, i: usize) -> Option<u64> {
        self.bars.get(i).copied().flatten().map(|b| b.size)
    }

    /// The decoded base of the expansion ROM when declared, enabled by its
    /// bit 0 and by memory space enable, and assigned.
    pub fn rom_bar(&self) -> Option<u64> {
        let v = self.read(PCI_ROM_ADDRESS, 4);
        let base = u64::from(v & PCI_ROM_ADDRESS_MASK);
        let end = base + u64::from(self.rom_size);
        let enabled = v & PCI_ROM_ADDRESS_ENABLE != 0
            && self.command() & PCI_COMMAND_MEMORY != 0
            && self.rom_size != 0;
        (enabled && base != 0 && end <= u64::from(u32::MAX)).then_some(base)
    }

    /// The 256 register bytes.
    pub fn bytes(&self) -> &[u8; CONFIG_SPACE_LEN] {
        &self.bytes
    }

    /// Makes the bits of `mask` (`size` bytes from `reg`) writable and the
    /// others read-only.
    pub fn set_writable(&mut self, reg: u8, mask: u32, size: u8) {
        for_bytes(reg, size, mask, |at, m| self.wmask[at] = m);
    }

    /// Makes the bits of `mask` (`size` bytes from `reg`) write-one-to-clear.
    pub fn set_rw1c(&mut self, reg: u8, mask: u32, size: u8) {
        for_bytes(reg, size, mask, |at, m| self.w1cmask[at] = m);
    }

    /// Sets a byte, bypassing the masks, and makes it its power-on value.
    pub fn set_u8(&mut self, reg: u8, v: u8) {
        self.set_init(reg, u32::from(v), 1);
    }

    /// Sets a word, bypassing the masks, and makes it its power-on value.
    pub fn set_u16(&mut self, reg: u8, v: u16) {
        self.set_init(reg, u32::from(v), 2);
    }

    /// Sets a dword, bypassing the masks, and makes it its power-on value.
    pub fn set_u32(&mut self, reg: u8, v: u32) {
        self.set_init(reg, v, 4);
    }

    fn set_init(&mut self, reg: u8, v: u32, size: u8) {
        for_bytes(reg, size, v, |at, b| {
            self.bytes[at] = b;
            self.reset[at] = b;
        });
    }

    /// Changes register bytes from the device's side (bypassing the masks)
    /// without changing their power-on value: for bits the hardware sets or
    /// clears itself.
    pub fn poke_u8(&mut self, reg: u8, v: u8) {
        self.bytes[usize::from(reg)] = v;
    }

    /// Returns every register to its power-on value.
    pub fn reset(&mut self) {
        self.bytes = self.reset;
    }

    /// Replaces the register bytes from a snapshot: exactly 256 bytes whose
    /// read-only bits hold their power-on values.
    pub fn restore_bytes(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        let bytes: [u8; CONFIG_SPACE_LEN] =
            bytes.try_into().map_err(|_| SnapshotError::Invalid {
                field: "config",
                why: "configuration space is not 256 bytes",
            })?;
        let fixed_ok = (0..CONFIG_SPACE_LEN).all(|i| {
            let ro = !(self.wmask[i] | self.w1cmask[i]);
            (bytes[i] ^ self.reset[i]) & ro == 0
        });
        if !fixed_ok {
            return Err(SnapshotError::Invalid {
                field: "config",
                why: "a read-only configuration bit differs from the device's",
            });
        }
        self.bytes = bytes;
        Ok(())
    }
}

/// The configuration offset of BAR slot `i` (below 6).
fn bar_reg(i: usize) -> u8 {
    PCI_BASE_ADDRESS_0 + 4 * (i as u8)
}

/// Calls `f(offset, byte)` for the `size` bytes of `value` from `reg`,
/// stopping at the end of configuration space.
fn for_bytes(reg: u8, size: u8, value: u32, mut f: impl FnMut(usize, u8)) {
    for i in 0..usize::from(size.min(4)) {
        let at = usize::from(reg) + i;
        if at < CONFIG_SPACE_LEN {
            f(at, (value >> (8 * i)) as u8);
        }
    }
}

/// Test helpers shared by the chipset files.
#[cfg(test)]
pub(crate) mod test_util {
    /// A small deterministic xorshift generator for hammer tests.
    pub(crate) struct XorShift(pub u64);

    impl XorShift {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// The access sizes hammer tests use, bad ones included.
    pub(crate) const SIZES: [u8; 6] = [0, 1, 2, 3, 4, 8];
}

#[cfg(test)]
mod tests {
    use super::test_util::{XorShift, SIZES};
    use super::*;

    /// An Intel vendor ID and an arbitrary device ID for tests.
    fn test_fn() -> ConfigSpace {
        ConfigSpace::new(0x8086, 0x1234, 0x05, 0x01_8080, 0)
    }

    #[test]
    fn only_dword_writes_latch_config_address() {
        let mut host = PciHost::new();
        host.write_address(4, 0x8000_0000);
        // Linux's pci_check_type1: `outb(0x01, 0xCFB)` must not latch.
        host.write_address(1, 0x01);
        host.write_address(2, 0x1234);
        assert_eq!(host.read_address(4), 0x8000_0000);
        assert_eq!(host.read_address(1), 0xFF);
        assert_eq!(host.read_address(2), 0xFFFF);
    }

    #[test]
    fn enable_bit_gates_configuration_cycles() {
        let mut host = PciHost::new();
        host.write_address(4, 0x0000_0800);
        assert_eq!(host.target(0), None);
        // Bus 2, device 3, function 5, register 0x44, byte 2 via 0xCFE.
        host.write_address(4, 0x8000_0000 | 2 << 16 | 3 << 11 | 5 << 8 | 0x47);
        let t = host.target(2).expect("enabled");
        assert_eq!(
            t,
            PciAddress {
                bus: 2,
                dev: 3,
                func: 5,
                reg: 0x46
            }
        );
    }

    #[test]
    fn absent_functions_read_all_ones() {
        assert_eq!(absent_read(1), 0xFF);
        assert_eq!(absent_read(2), 0xFFFF);
        assert_eq!(absent_read(4), 0xFFFF_FFFF);
    }

    #[test]
    fn ids_are_read_only_at_any_size() {
        let mut cs = test_fn();
        cs.write(0, 4, 0);
        cs.write(PCI_CLASS_PROG, 1, 0x55);
        assert_eq!(cs.read(0, 4), 0x1234_8086);
        assert_eq!(cs.read(1, 2), 0x3480);
        assert_eq!(cs.read(PCI_REVISION_ID, 4), 0x0180_8005);
    }

    #[test]
    fn status_error_bits_are_rw1c() {
        let mut cs = test_fn();
        cs.set_u16(
            PCI_STATUS,
            PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_DEVSEL_MEDIUM,
        );
        // Writing 0 keeps the bit; writing 1 clears it; DEVSEL is read-only.
        cs.write(PCI_STATUS, 2, 0);
        assert_eq!(
            cs.read(PCI_STATUS, 2) as u16 & PCI_STATUS_REC_MASTER_ABORT,
            0x2000
        );
        cs.write(PCI_STATUS, 2, 0xFFFF);
        assert_eq!(cs.read(PCI_STATUS, 2) as u16, PCI_STATUS_DEVSEL_MEDIUM);
    }

    #[test]
    fn a_dword_write_to_command_does_not_touch_status() {
        let mut cs = test_fn();
        cs.set_u16(PCI_STATUS, PCI_STATUS_REC_MASTER_ABORT);
        cs.write(PCI_COMMAND, 4, 0x0000_0007);
        assert_eq!(cs.command(), 0x0007);
        assert_eq!(cs.read(PCI_STATUS, 2) as u16, PCI_STATUS_REC_MASTER_ABORT);
    }

    #[test]
    fn io_bar_sizing_program_and_decode() {
        let mut cs = test_fn();
        cs.set_bar(0, BarKind::Io, 32);
        assert_eq!(cs.read(0x10, 4), 0x1, "unassigned I/O BAR");
        cs.write(0x10, 4, 0xFFFF_FFFF);
        // Size 32: address bits 31:5 writable, bit 0 = I/O.
        assert_eq!(cs.read(0x10, 4), 0xFFFF_FFE1);
        assert_eq!(cs.bar(0), None, "sizing pattern is not an address");
        cs.write(0x10, 4, 0xC000);
        assert_eq!(cs.bar(0), None, "I/O space disabled");
        cs.write(PCI_COMMAND, 2, u32::from(PCI_COMMAND_IO));
        assert_eq!(cs.bar(0), Some(0xC000));
        assert_eq!(cs.bar_size(0), Some(32));
    }

    #[test]
    fn mem32_bar_sizing_program_and_decode() {
        let mut cs = test_fn();
        cs.set_bar(1, BarKind::Mem32Prefetch, 16 << 20);
        cs.write(0x14, 4, 0xFFFF_FFFF);
        assert_eq!(cs.read(0x14, 4), 0xFF00_0008);
        cs.write(0x14, 4, 0xFD00_0000);
        cs.write(PCI_COMMAND, 2, u32::from(PCI_COMMAND_IO));
        assert_eq!(cs.bar(1), None, "memory space disabled");
        cs.write(PCI_COMMAND, 2, u32::from(PCI_COMMAND_MEMORY));
        assert_eq!(cs.bar(1), Some(0xFD00_0000));
    }

    #[test]
    fn mem64_bar_uses_two_slots() {
        let mut cs = test_fn();
        cs.set_bar(2, BarKind::Mem64, 8 << 30);
        cs.write(0x18, 4, 0xFFFF_FFFF);
        cs.write(0x1C, 4, 0xFFFF_FFFF);
        // 8 GiB: low dword has no address bits, high dword bits 32:0 fixed.
        assert_eq!(cs.read(0x18, 4), 0x0000_0004);
        assert_eq!(cs.read(0x1C, 4), 0xFFFF_FFFE);
        cs.write(0x18, 4, 0);
        cs.write(0x1C, 4, 0x4);
        cs.write(PCI_COMMAND, 2, u32::from(PCI_COMMAND_MEMORY));
        assert_eq!(cs.bar(2), Some(0x4_0000_0000));
        assert_eq!(cs.bar(3), None, "upper half is not a BAR");
    }

    #[test]
    fn rom_bar_sizing_and_enable() {
        let mut cs = test_fn();
        cs.set_rom_bar(64 << 10);
        cs.write(PCI_ROM_ADDRESS, 4, 0xFFFF_FFFE);
        assert_eq!(cs.read(PCI_ROM_ADDRESS, 4), 0xFFFF_0000);
        cs.write(PCI_ROM_ADDRESS, 4, 0xFEB0_0000);
        cs.write(PCI_COMMAND, 2, u32::from(PCI_COMMAND_MEMORY));
        assert_eq!(cs.rom_bar(), None, "ROM decode bit clear");
        cs.write(PCI_ROM_ADDRESS, 4, 0xFEB0_0001);
        assert_eq!(cs.rom_bar(), Some(0xFEB0_0000));
    }

    #[test]
    fn unused_bars_and_rom_read_zero() {
        let mut cs = test_fn();
        for reg in (0x10..=0x30).step_by(4) {
            cs.write(reg, 4, 0xFFFF_FFFF);
            assert_eq!(cs.read(reg, 4), 0, "register {reg:#x}");
        }
        assert_eq!(cs.bar(0), None);
        assert_eq!(cs.rom_bar(), None);
    }

    #[test]
    fn interrupt_line_writable_pin_read_only() {
        let mut cs = test_fn();
        cs.set_interrupt_pin(1);
        cs.write(PCI_INTERRUPT_LINE, 2, 0x0B0B);
        assert_eq!(cs.read(PCI_INTERRUPT_LINE, 2), 0x010B);
    }

    #[test]
    fn accesses_past_the_end_read_ones() {
        let mut cs = test_fn();
        assert_eq!(cs.read(0xFE, 4), 0xFFFF_0000);
        cs.write(0xFE, 4, 0x1234_5678);
        assert_eq!(cs.read(0, 3), u32::MAX, "bad size");
    }

    #[test]
    fn restore_rejects_changed_read_only_bits() {
        let cs = test_fn();
        let mut bytes = cs.bytes().to_vec();
        bytes[0] = 0;
        assert!(test_fn().restore_bytes(&bytes).is_err());
        assert!(test_fn().restore_bytes(&bytes[..255]).is_err());
        assert!(test_fn().restore_bytes(cs.bytes()).is_ok());
    }

    #[test]
    fn host_snapshot_roundtrip() {
        let mut host = PciHost::new();
        host.write_address(4, 0x8000_0810);
        anyx86_hw::assert_snapshot_roundtrip(&host, &mut PciHost::new());
    }

    #[test]
    fn hammer_config_space_never_panics() {
        let mut cs = test_fn();
        cs.set_bar(0, BarKind::Io, 16);
        cs.set_bar(4, BarKind::Mem64, 4096);
        cs.set_rom_bar(0x800);
        let mut host = PciHost::new();
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let r = rng.next();
            let size = SIZES[(r % 6) as usize];
            cs.write((r >> 8) as u8, size, (r >> 32) as u32);
            cs.read((r >> 16) as u8, size);
            host.write_address(size, (r >> 24) as u32);
            let _ = host.target((r >> 40) as u16);
            for i in 0..8 {
                let _ = cs.bar(i);
            }
            let _ = cs.rom_bar();
        }
    }
}
