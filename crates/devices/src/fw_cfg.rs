//! QEMU's firmware configuration interface (fw_cfg), x86 I/O port flavour
//! with the DMA interface: how SeaBIOS and Linux learn the machine's RAM
//! size, CPU count, E820 map, boot order and ACPI tables.
//!
//! Reference: QEMU `docs/specs/fw_cfg.rst` ("Selector Register", "Data
//! Register", "DMA Address Register", "Directory of Files", "FWCfgDmaAccess"
//! structure); behaviour follows QEMU `hw/nvram/fw_cfg.c`.
//!
//! # Wiring
//!
//! Ports 0x510-0x51B; the machine passes `port - 0x510`:
//!
//! | Offset | Register                                                  |
//! |--------|-----------------------------------------------------------|
//! | 0      | selector: a 16-bit OUT selects an item and rewinds it     |
//! | 0, 1   | data: a byte IN returns the next byte of the selected item |
//! | 4-11   | DMA address, big-endian: OUT dword at 4 latches the high half, OUT dword at 8 the low half and starts the transfer |
//!
//! After every write the machine calls [`FwCfg::take_dma`]; when it returns
//! an address, the machine calls [`FwCfg::run_dma`] with its memory before
//! the guest's next instruction (QEMU completes the transfer inside the OUT).
//!
//! The machine fills the items once, at construction ([`FwCfg::add_bytes`]
//! for numbered items such as [`FW_CFG_RAM_SIZE`], [`FwCfg::add_file`] for
//! named ones such as `etc/acpi/tables`).
//!
//! # Access widths, as QEMU on x86
//!
//! QEMU's port 0x510-0x511 region accepts byte reads (data, at either
//! port), byte writes (ignored: the data register is read-only since QEMU
//! 2.4) and 16-bit writes at 0x510 (select). A wider access at 0x511 is
//! split into byte accesses at consecutive ports: `inw 0x511` is the next
//! data byte with 0xFF (the unmapped port 0x512) above it. A 16-bit read at
//! 0x510 is refused by QEMU and reads 0. Reads at 0x514-0x51B return the
//! bytes of "QEMU CFG", the DMA interface's signature.
//!
//! # Snapshots
//!
//! [`FwCfgState`] holds the guest-driven state only: selector, offset, DMA
//! address latch. The items are the machine's configuration, not state:
//! restore into an `FwCfg` the machine built with the same items.
//!
//! # Not implemented
//!
//! - Writes of items (the WRITE DMA control bit and the legacy data-port
//!   write): every item is read-only, a DMA write sets the error bit.
//! - Selection callbacks (QEMU regenerates ACPI tables on first read): the
//!   machine provides final data up front.
//! - QEMU renumbers file keys so that they follow name order; here a file
//!   keeps the key it was given. The directory is sorted by name in both,
//!   and guests look keys up in it.

use std::collections::BTreeMap;

use anyx86_hw::{DmaMemory, Snapshot, SnapshotError};

/// Item: signature, the four bytes "QEMU".
pub const FW_CFG_SIGNATURE: u16 = 0x0000;
/// Item: interface ID, a little-endian u32 of feature bits.
pub const FW_CFG_ID: u16 = 0x0001;
/// Item: RAM size in bytes (little-endian u64).
pub const FW_CFG_RAM_SIZE: u16 = 0x0003;
/// Item: number of boot CPUs (little-endian u16).
pub const FW_CFG_NB_CPUS: u16 = 0x0005;
/// Item: show the boot menu (little-endian u16).
pub const FW_CFG_BOOT_MENU: u16 = 0x000E;
/// Item: maximum number of CPUs (little-endian u16).
pub const FW_CFG_MAX_CPUS: u16 = 0x000F;
/// Item: the file directory.
pub const FW_CFG_FILE_DIR: u16 = 0x0019;
/// First key given to a named file.
pub const FW_CFG_FILE_FIRST: u16 = 0x0020;
/// Keys at or above this bit are architecture-specific (x86: 0x8000 ACPI
/// tables, 0x8003 E820 table ...).
pub const FW_CFG_ARCH_LOCAL: u16 = 0x8000;
/// Item: the x86 E820 reservation table.
pub const FW_CFG_E820_TABLE: u16 = 0x8003;
/// Selector bit once meaning "write", ignored by QEMU when selecting.
pub const FW_CFG_WRITE_CHANNEL: u16 = 0x4000;
/// Item index bits of a key.
const FW_CFG_ENTRY_MASK: u16 = !(FW_CFG_WRITE_CHANNEL | FW_CFG_ARCH_LOCAL);

/// FW_CFG_ID bit: the traditional selector/data interface.
pub const FW_CFG_VERSION: u32 = 0x01;
/// FW_CFG_ID bit: the DMA interface.
pub const FW_CFG_VERSION_DMA: u32 = 0x02;

/// Offset of the selector register (port 0x510).
pub const FW_CFG_CTL: u16 = 0;
/// Offset of the data register (port 0x511).
pub const FW_CFG_DATA: u16 = 1;
/// Offset of the DMA address register's high half (port 0x514).
pub const FW_CFG_DMA_HIGH: u16 = 4;
/// Offset of the DMA address register's low half (port 0x518).
pub const FW_CFG_DMA_LOW: u16 = 8;
/// Number of ports the device decodes (0x510-0x51B).
pub const FW_CFG_PORTS: u16 = 12;
/// What reads of the DMA address register return, byte by byte.
const DMA_SIGNATURE: &[u8; 8] = b"QEMU CFG";

/// DMA control: the transfer failed.
pub const FW_CFG_DMA_CTL_ERROR: u32 = 0x01;
/// DMA control: copy from the item to guest memory.
pub const FW_CFG_DMA_CTL_READ: u32 = 0x02;
/// DMA control: advance the item offset without copying.
pub const FW_CFG_DMA_CTL_SKIP: u32 = 0x04;
/// DMA control: select the item in bits 31:16 first.
pub const FW_CFG_DMA_CTL_SELECT: u32 = 0x08;
/// DMA control: copy from guest memory to the item.
pub const FW_CFG_DMA_CTL_WRITE: u32 = 0x10;
/// Size of the FWCfgDmaAccess structure (be32 control, be32 length, be64
/// address).
const DMA_ACCESS_SIZE: usize = 16;

/// Longest file name, excluding the NUL (the directory holds 56 bytes).
pub const FW_CFG_MAX_FILE_NAME: usize = 55;
/// Size of one directory entry: be32 size, be16 select, be16 reserved,
/// 56-byte name.
const FILE_ENTRY_SIZE: usize = 64;
/// Bytes of zeroes written per step when a DMA read runs past an item.
const ZERO_CHUNK: usize = 4096;

/// A named file the machine could not add.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FwCfgError {
    /// The name does not fit the directory's 56-byte field with its NUL.
    #[error("fw_cfg file name longer than 55 bytes: {0}")]
    NameTooLong(String),
    /// A file of that name exists already.
    #[error("duplicate fw_cfg file name: {0}")]
    Duplicate(String),
    /// Every file key is taken.
    #[error("no fw_cfg key left for {0}")]
    Full(String),
}

/// Plain-data, guest-driven state of fw_cfg.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FwCfgState {
    /// The key last selected (reset selects the signature, key 0).
    pub selector: u16,
    /// Next byte of the selected item to read.
    pub offset: u32,
    /// DMA address register as latched so far.
    pub dma_latch: u64,
    /// A transfer the guest started and the machine has not taken yet.
    pub dma_pending: Option<u64>,
}
anyx86_hw::wire_struct!(FwCfgState {
    selector,
    offset,
    dma_latch,
    dma_pending
});

/// One entry of the file directory.
#[derive(Debug, Clone)]
struct FileEntry {
    name: String,
    key: u16,
    size: u32,
}

/// The fw_cfg device with its items.
#[derive(Debug, Clone)]
pub struct FwCfg {
    state: FwCfgState,
    items: BTreeMap<u16, Vec<u8>>,
    files: Vec<FileEntry>,
}

impl Default for FwCfg {
    fn default() -> Self {
        Self::new()
    }
}

/// The item index a selector value names (the write-channel bit dropped).
fn item_key(selector: u16) -> u16 {
    selector & (FW_CFG_ENTRY_MASK | FW_CFG_ARCH_LOCAL)
}

impl FwCfg {
    /// fw_cfg with its signature, its ID (traditional and DMA interfaces)
    /// and an empty file directory.
    pub fn new() -> Self {
        let mut fw = Self {
            state: FwCfgState::default(),
            items: BTreeMap::new(),
            files: Vec::new(),
        };
        fw.add_bytes(FW_CFG_SIGNATURE, b"QEMU".to_vec());
        let id = FW_CFG_VERSION | FW_CFG_VERSION_DMA;
        fw.add_bytes(FW_CFG_ID, id.to_le_bytes().to_vec());
        fw.rebuild_directory();
        fw
    }

    /// Sets numbered item `key` (replacing any previous data). Keys from
    /// [`FW_CFG_FILE_FIRST`] on belong to [`FwCfg::add_file`].
    pub fn add_bytes(&mut self, key: u16, data: Vec<u8>) {
        self.items.insert(item_key(key), data);
    }

    /// Adds a named file under the next free key from
    /// [`FW_CFG_FILE_FIRST`] and lists it in the directory, which stays
    /// sorted by name. Returns its key.
    pub fn add_file(&mut self, name: &str, data: Vec<u8>) -> Result<u16, FwCfgError> {
        if name.len() > FW_CFG_MAX_FILE_NAME {
            return Err(FwCfgError::NameTooLong(name.to_owned()));
        }
        if self.files.iter().any(|f| f.name == name) {
            return Err(FwCfgError::Duplicate(name.to_owned()));
        }
        let key = u16::try_from(self.files.len())
            .ok()
            .and_then(|n| FW_CFG_FILE_FIRST.checked_add(n))
            .filter(|&k| k <= FW_CFG_ENTRY_MASK)
            .ok_or_else(|| FwCfgError::Full(name.to_owned()))?;
        let size = u32::try_from(data.len()).unwrap_or(u32::MAX);
        // Sorted by name, byte-wise as QEMU's strcmp.
        let at = self.files.partition_point(|f| f.name.as_str() < name);
        let entry = FileEntry {
            name: name.to_owned(),
            key,
            size,
        };
        self.files.insert(at, entry);
        self.add_bytes(key, data);
        self.rebuild_directory();
        Ok(key)
    }

    /// Reads `size` bytes at `offset` (port - 0x510), as QEMU on x86.
    pub fn read(&mut self, offset: u16, size: u8) -> u32 {
        match (offset, size) {
            // QEMU refuses wide reads of the selector/data region at 0x510.
            (FW_CFG_CTL, 2) => 0,
            (FW_CFG_CTL, 4) => 0xFFFF_0000,
            (_, 1 | 2 | 4) => (0..u16::from(size)).fold(0, |acc, i| {
                let byte = self.read_byte(offset.wrapping_add(i));
                acc | u32::from(byte) << (8 * u32::from(i))
            }),
            _ => u32::MAX,
        }
    }

    /// Writes the low `size` bytes of `value` at `offset` (port - 0x510).
    pub fn write(&mut self, offset: u16, size: u8, value: u32) {
        match (offset, size) {
            (FW_CFG_CTL, 2 | 4) => self.select(value as u16),
            // The register is big-endian: the guest's OUT delivers it
            // byte-swapped.
            (FW_CFG_DMA_HIGH, 4) => self.state.dma_latch = u64::from(value.swap_bytes()) << 32,
            (FW_CFG_DMA_LOW, 4) => {
                let addr = self.state.dma_latch | u64::from(value.swap_bytes());
                self.state.dma_latch = 0;
                self.state.dma_pending = Some(addr);
            }
            // Data writes are ignored, as QEMU since 2.4.
            _ => {}
        }
    }

    /// The guest-physical address of the FWCfgDmaAccess structure of a
    /// transfer the guest started, once.
    pub fn take_dma(&mut self) -> Option<u64> {
        self.state.dma_pending.take()
    }

    /// Performs the DMA transfer described at `addr`: reads the structure,
    /// selects, skips or reads as its control word says, and writes the
    /// control word back (0, or [`FW_CFG_DMA_CTL_ERROR`]).
    pub fn run_dma(&mut self, addr: u64, mem: &mut dyn DmaMemory) {
        let mut raw = [0u8; DMA_ACCESS_SIZE];
        mem.dma_read(addr, &mut raw);
        let control = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
        let length = u32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]]);
        let mut target = [0u8; 8];
        target.copy_from_slice(&raw[8..16]);
        let target = u64::from_be_bytes(target);
        if control & FW_CFG_DMA_CTL_SELECT != 0 {
            self.select((control >> 16) as u16);
        }
        let result = if control & FW_CFG_DMA_CTL_READ != 0 {
            self.dma_copy_out(target, length, Some(&mut *mem));
            0
        } else if control & FW_CFG_DMA_CTL_WRITE != 0 {
            // Every item is read-only (QEMU: `allow_write` false). A
            // zero-length write transfers nothing and succeeds.
            if length == 0 {
                0
            } else {
                FW_CFG_DMA_CTL_ERROR
            }
        } else if control & FW_CFG_DMA_CTL_SKIP != 0 {
            self.dma_copy_out(target, length, None);
            0
        } else {
            0
        };
        mem.dma_write(addr, &result.to_be_bytes());
    }

    /// Moves `length` bytes of the selected item to guest memory at
    /// `target` (or only skips them with `mem` `None`); past the item's end
    /// reads zeroes and the offset stays at the end.
    fn dma_copy_out(&mut self, target: u64, length: u32, mut mem: Option<&mut dyn DmaMemory>) {
        let data = self.items.get(&item_key(self.state.selector));
        let offset = self.state.offset as usize;
        let available = data.map_or(&[][..], |d| d.get(offset..).unwrap_or(&[]));
        let from_item = available.len().min(length as usize);
        if let Some(mem) = mem.as_deref_mut() {
            mem.dma_write(target, &available[..from_item]);
        }
        self.state.offset = self.state.offset.saturating_add(from_item as u32);
        let mut zero_at = target.wrapping_add(from_item as u64);
        let mut zeroes = length as usize - from_item;
        if let Some(mem) = mem {
            let chunk = [0u8; ZERO_CHUNK];
            while zeroes > 0 {
                let n = zeroes.min(ZERO_CHUNK);
                mem.dma_write(zero_at, &chunk[..n]);
                zero_at = zero_at.wrapping_add(n as u64);
                zeroes -= n;
            }
        }
    }

    fn select(&mut self, key: u16) {
        self.state.selector = key;
        self.state.offset = 0;
    }

    fn read_byte(&mut self, offset: u16) -> u8 {
        match offset {
            FW_CFG_CTL | FW_CFG_DATA => self.read_data(),
            4..FW_CFG_PORTS => DMA_SIGNATURE[usize::from(offset - 4)],
            _ => 0xFF,
        }
    }

    /// The next byte of the selected item; 0 past its end or for an
    /// unknown key, and the offset stops there.
    fn read_data(&mut self) -> u8 {
        let byte = self
            .items
            .get(&item_key(self.state.selector))
            .and_then(|d| d.get(self.state.offset as usize).copied());
        match byte {
            Some(b) => {
                self.state.offset = self.state.offset.saturating_add(1);
                b
            }
            None => 0,
        }
    }

    fn rebuild_directory(&mut self) {
        let count = u32::try_from(self.files.len()).unwrap_or(u32::MAX);
        let mut dir = Vec::with_capacity(4 + self.files.len() * FILE_ENTRY_SIZE);
        dir.extend_from_slice(&count.to_be_bytes());
        for file in &self.files {
            dir.extend_from_slice(&file.size.to_be_bytes());
            dir.extend_from_slice(&file.key.to_be_bytes());
            dir.extend_from_slice(&[0, 0]);
            let mut name = [0u8; FILE_ENTRY_SIZE - 8];
            name[..file.name.len()].copy_from_slice(file.name.as_bytes());
            dir.extend_from_slice(&name);
        }
        self.items.insert(FW_CFG_FILE_DIR, dir);
    }
}

impl Snapshot for FwCfg {
    type State = FwCfgState;

    fn save(&self) -> FwCfgState {
        self.state.clone()
    }

    fn restore(&mut self, state: &FwCfgState) -> Result<(), SnapshotError> {
        // Any selector and offset is harmless: unknown keys and offsets
        // past an item's end read as 0.
        self.state = state.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::test_util::XorShift;

    /// Guest memory for DMA tests: a flat Vec, unmapped beyond its end.
    struct FakeMemory(Vec<u8>);

    impl DmaMemory for FakeMemory {
        fn dma_read(&mut self, addr: u64, buf: &mut [u8]) {
            for (i, b) in buf.iter_mut().enumerate() {
                let a = addr.wrapping_add(i as u64) as usize;
                *b = self.0.get(a).copied().unwrap_or(0xFF);
            }
        }

        fn dma_write(&mut self, addr: u64, data: &[u8]) {
            let start = usize::try_from(addr)
                .unwrap_or(usize::MAX)
                .min(self.0.len());
            let end = start.saturating_add(data.len()).min(self.0.len());
            self.0[start..end].copy_from_slice(&data[..end - start]);
        }
    }

    /// Where the tests put the FWCfgDmaAccess structure.
    const ACCESS: u64 = 0x100;
    /// Where DMA reads land.
    const BUFFER: u64 = 0x200;

    fn put_access(mem: &mut FakeMemory, control: u32, length: u32, address: u64) {
        let mut raw = Vec::new();
        raw.extend_from_slice(&control.to_be_bytes());
        raw.extend_from_slice(&length.to_be_bytes());
        raw.extend_from_slice(&address.to_be_bytes());
        mem.dma_write(ACCESS, &raw);
    }

    fn control_back(mem: &FakeMemory) -> u32 {
        let a = ACCESS as usize;
        u32::from_be_bytes([mem.0[a], mem.0[a + 1], mem.0[a + 2], mem.0[a + 3]])
    }

    fn read_item(fw: &mut FwCfg, key: u16, len: usize) -> Vec<u8> {
        fw.write(FW_CFG_CTL, 2, u32::from(key));
        (0..len).map(|_| fw.read(FW_CFG_DATA, 1) as u8).collect()
    }

    #[test]
    fn signature_and_id_through_ports() {
        let mut fw = FwCfg::new();
        // Reset selects the signature.
        let sig: Vec<u8> = (0..4).map(|_| fw.read(FW_CFG_DATA, 1) as u8).collect();
        assert_eq!(sig, b"QEMU");
        assert_eq!(read_item(&mut fw, FW_CFG_ID, 4), [3, 0, 0, 0]);
    }

    #[test]
    fn byte_read_at_selector_port_reads_data() {
        let mut fw = FwCfg::new();
        assert_eq!(fw.read(FW_CFG_CTL, 1), u32::from(b'Q'));
        assert_eq!(fw.read(FW_CFG_DATA, 1), u32::from(b'E'));
    }

    #[test]
    fn wide_data_reads_split_as_qemu() {
        let mut fw = FwCfg::new();
        // inw 0x511: one data byte, then unmapped port 0x512.
        assert_eq!(fw.read(FW_CFG_DATA, 2), 0xFF00 | u32::from(b'Q'));
        // inl 0x511: data byte, 0x512-0x513 unmapped, 0x514 = 'Q' of the
        // DMA signature.
        assert_eq!(fw.read(FW_CFG_DATA, 4), 0x51FF_FF00 | u32::from(b'E'));
        assert_eq!(fw.read(FW_CFG_CTL, 2), 0, "refused by QEMU");
    }

    #[test]
    fn dma_register_reads_signature() {
        let mut fw = FwCfg::new();
        assert_eq!(fw.read(FW_CFG_DMA_HIGH, 4).to_le_bytes(), *b"QEMU");
        assert_eq!(fw.read(FW_CFG_DMA_LOW, 4).to_le_bytes(), *b" CFG");
    }

    #[test]
    fn reading_past_the_end_returns_zero() {
        let mut fw = FwCfg::new();
        fw.add_bytes(FW_CFG_NB_CPUS, vec![2, 0]);
        assert_eq!(read_item(&mut fw, FW_CFG_NB_CPUS, 4), [2, 0, 0, 0]);
        assert_eq!(read_item(&mut fw, 0x1234, 2), [0, 0], "unknown key");
    }

    #[test]
    fn write_channel_bit_is_ignored_when_selecting() {
        let mut fw = FwCfg::new();
        assert_eq!(read_item(&mut fw, FW_CFG_WRITE_CHANNEL, 4), b"QEMU");
    }

    #[test]
    fn file_directory_is_sorted_by_name() {
        let mut fw = FwCfg::new();
        assert_eq!(fw.add_file("etc/zz", vec![1; 3]), Ok(0x20));
        assert_eq!(fw.add_file("bootorder", vec![2; 5]), Ok(0x21));
        let dir = read_item(&mut fw, FW_CFG_FILE_DIR, 4 + 2 * 64);
        assert_eq!(dir[..4], [0, 0, 0, 2], "big-endian count");
        let first = &dir[4..68];
        assert_eq!(first[..4], [0, 0, 0, 5], "be32 size");
        assert_eq!(first[4..6], [0, 0x21], "be16 select");
        assert_eq!(first[6..8], [0, 0], "reserved");
        assert_eq!(&first[8..17], b"bootorder");
        assert!(first[17..].iter().all(|&b| b == 0), "NUL-padded");
        assert_eq!(&dir[68 + 8..68 + 14], b"etc/zz");
    }

    #[test]
    fn file_reads_byte_by_byte() {
        let mut fw = FwCfg::new();
        let key = fw.add_file("etc/hello", b"hi!".to_vec()).expect("add");
        assert_eq!(read_item(&mut fw, key, 3), b"hi!");
    }

    #[test]
    fn bad_file_names_are_refused() {
        let mut fw = FwCfg::new();
        let long = "x".repeat(56);
        assert!(matches!(
            fw.add_file(&long, vec![]),
            Err(FwCfgError::NameTooLong(_))
        ));
        assert!(fw.add_file(&long[..55], vec![]).is_ok());
        assert!(matches!(
            fw.add_file(&long[..55], vec![]),
            Err(FwCfgError::Duplicate(_))
        ));
    }

    #[test]
    fn dma_address_latches_big_endian() {
        let mut fw = FwCfg::new();
        // SeaBIOS: outl(cpu_to_be32(high), 0x514); outl(cpu_to_be32(low), 0x518).
        fw.write(FW_CFG_DMA_HIGH, 4, 0x1u32.swap_bytes());
        assert_eq!(fw.take_dma(), None, "high half alone starts nothing");
        fw.write(FW_CFG_DMA_LOW, 4, 0x2345_6780u32.swap_bytes());
        assert_eq!(fw.take_dma(), Some(0x1_2345_6780));
        assert_eq!(fw.take_dma(), None);
        // The latch clears after a transfer starts.
        fw.write(FW_CFG_DMA_LOW, 4, 0x1000u32.swap_bytes());
        assert_eq!(fw.take_dma(), Some(0x1000));
    }

    #[test]
    fn dma_select_skip_read() {
        let mut fw = FwCfg::new();
        let key = fw
            .add_file("etc/data", b"0123456789".to_vec())
            .expect("add");
        let mut mem = FakeMemory(vec![0xAA; 0x400]);
        let select = u32::from(key) << 16 | FW_CFG_DMA_CTL_SELECT;
        put_access(&mut mem, select | FW_CFG_DMA_CTL_SKIP, 4, 0);
        fw.run_dma(ACCESS, &mut mem);
        assert_eq!(control_back(&mem), 0);
        // Reads the 6 bytes left and zero-fills the 2 past the end.
        put_access(&mut mem, FW_CFG_DMA_CTL_READ, 8, BUFFER);
        fw.run_dma(ACCESS, &mut mem);
        assert_eq!(control_back(&mem), 0);
        let b = BUFFER as usize;
        assert_eq!(&mem.0[b..b + 9], b"456789\0\0\xAA");
    }

    #[test]
    fn dma_write_is_refused() {
        let mut fw = FwCfg::new();
        let mut mem = FakeMemory(vec![0; 0x400]);
        put_access(&mut mem, FW_CFG_DMA_CTL_WRITE, 4, BUFFER);
        fw.run_dma(ACCESS, &mut mem);
        assert_eq!(control_back(&mem), FW_CFG_DMA_CTL_ERROR);
    }

    #[test]
    fn snapshot_roundtrip() {
        let mut fw = FwCfg::new();
        fw.write(FW_CFG_CTL, 2, u32::from(FW_CFG_ID));
        fw.read(FW_CFG_DATA, 1);
        fw.write(FW_CFG_DMA_HIGH, 4, 0x0100_0000);
        anyx86_hw::assert_snapshot_roundtrip(&fw, &mut FwCfg::new());
    }

    #[test]
    fn hammer_every_offset() {
        let mut fw = FwCfg::new();
        fw.add_file("etc/x", vec![7; 100]).expect("add");
        let mut mem = FakeMemory(vec![0; 0x1000]);
        let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
        for round in 0..20_000u32 {
            let seed = rng.next();
            let offset = (round % 16) as u16;
            let size = [1, 2, 4, 3, 0][(seed % 5) as usize];
            fw.write(offset, size, seed as u32);
            let _ = fw.read(offset, size);
            // A random access structure: any control, up to 64 KiB.
            if fw.take_dma().is_some() {
                let length = (seed >> 32) as u32 & 0xFFFF;
                put_access(&mut mem, (seed >> 8) as u32, length, seed % 0x1000);
                fw.run_dma(ACCESS, &mut mem);
            }
        }
        // A full-length read past every item: bounded, no allocation.
        let mut small = FakeMemory(vec![0; 32]);
        small.dma_write(0, &(FW_CFG_DMA_CTL_READ).to_be_bytes());
        small.dma_write(4, &0x0100_0000u32.to_be_bytes());
        fw.run_dma(0, &mut small);
    }
}
