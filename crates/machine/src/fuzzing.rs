//! The `devices` fuzzing harness: a stream of port and MMIO accesses,
//! time advances, interrupt acknowledges, MSR writes and host input,
//! decoded from the fuzzer's bytes and played against the full `pc` board
//! with no guest code. The cargo-fuzz target in `fuzz/` and the stable
//! corpus replay test both call [`run_devices`].
//!
//! The board is built as the `run` command builds it (`Machine::new`
//! with no firmware, `--device pc-testdev`), with a 64 KiB disk on the
//! primary master, a 32 KiB CD on the secondary master and a 360 KiB
//! floppy in drive A; then the PCI BARs are programmed as the firmware
//! would (local APIC enabled with LINT0 as ExtINT, IDE bus master at [`IDE_BM`], PM block at `port::PM_BASE`, VGA
//! framebuffer and registers at [`VGA_LFB`] / [`VGA_MMIO`]) so that the
//! stream reaches every device at once. The stream may reprogram them.
//!
//! Each operation is one byte `k` and its operands (missing bytes read as
//! zero): `k % 8` is the kind, `k / 8` picks a port range or MMIO window
//! from [`PORTS`] / [`WINDOWS`].
//!
//! | kind | operation    | operands                                     |
//! |------|--------------|----------------------------------------------|
//! | 0    | port write   | offset in the range (u8), size, value (u32)  |
//! | 1    | port read    | offset, size                                 |
//! | 2    | MMIO write   | offset in the window (u32), size, value (u64)|
//! | 3    | MMIO read    | offset, size                                 |
//! | 4    | time passes  | nanoseconds (u32), due events fire           |
//! | 5    | INTA / NMI   | acknowledge what is pending                  |
//! | 6    | host side    | MSR write, key, mouse or serial input        |
//! | 7    | any port     | port (u16), size, value (u32); write or read |
//!
//! Invariants checked after every operation: no panic; the scheduler
//! holds at most one event per timer source ([`EVENT_SOURCES`]); every
//! page a DMA engine wrote lies inside guest RAM; the stream's length is
//! bounded by [`MAX_OPS`], and each operation is one bounded call.
#![doc(hidden)]

use crate::board::Board;
use crate::layout::{mmio, port};
use crate::{Machine, MachineConfig};
use anyx86_cpu::bus::{platform_msr, CpuBus};
use anyx86_devices::KeyCode;
use anyx86_hw::block::MemDisk;

/// Guest RAM of the fuzzed board.
pub const RAM_MIB: u64 = 2;
/// Operations played from one input at most.
pub const MAX_OPS: usize = 4096;
/// The scheduler's bound: one pending event per timer source (PIT, RTC,
/// local APIC, HPET, PM timer, i8042), as `Scheduler::schedule` replaces.
pub const EVENT_SOURCES: usize = 6;
/// Where the harness puts the IDE bus-master block (BAR4).
pub const IDE_BM: u16 = 0xC000;
/// Where the harness puts the VGA framebuffer (BAR0).
pub const VGA_LFB: u64 = 0xE000_0000;
/// Where the harness puts the VGA's MMIO registers (BAR2).
pub const VGA_MMIO: u64 = 0xE100_0000;

const DISK_BYTES: usize = 64 * 1024;
const CD_BYTES: usize = 16 * 2048;
/// The smallest floppy format the FDC accepts: 360 KiB.
const FLOPPY_BYTES: usize = 40 * 2 * 9 * 512;

/// Port ranges operations of kinds 0 and 1 pick from: (base, length).
pub const PORTS: [(u16, u16); 32] = [
    (port::PIC_MASTER, 2),
    (port::PIC_SLAVE, 2),
    (port::PIT, 4),
    (port::PORT61, 1),
    (port::I8042_DATA, 1),
    (port::I8042_CMD, 1),
    (port::CMOS_INDEX, 2),
    (port::POST, 16), // POST code and the 8237 page registers
    (port::PORT92, 1),
    (0x00, 16), // 8237 #1 (channels 0-3)
    (0xC0, 32), // 8237 #2 (channels 4-7)
    (port::DEBUGCON, 1),
    (port::IDE0, port::IDE_LEN),
    (port::IDE0_CTL, 1),
    (port::IDE1, port::IDE_LEN),
    (port::IDE1_CTL, 1),
    (IDE_BM, port::IDE_BM_LEN),
    (port::FDC, port::FDC_LEN),
    (port::VGA, port::VGA_LEN),
    (port::VBE_DISPI, 2),
    (port::COM1, port::UART_LEN),
    (port::COM2, port::UART_LEN),
    (port::ELCR, 2),
    (port::APM_CNT, 2),
    (port::PCI_ADDRESS, 4),
    (port::RESET_CONTROL, 1),
    (port::PCI_DATA, 4),
    (port::FW_CFG, port::FW_CFG_LEN),
    (port::PM_BASE, port::PM_LEN),
    (port::TESTDEV, port::TESTDEV_LEN),
    (port::TESTDEV_IRQ, 32),
    (port::FIRMWARE_LOG, 1),
];

/// MMIO windows operations of kinds 2 and 3 pick from: (base, length).
/// Low RAM is one, so that the stream can lay out DMA descriptors
/// (fw_cfg DMA, IDE PRD tables, floppy buffers) for the engines to use.
pub const WINDOWS: [(u64, u64); 8] = [
    (mmio::LAPIC, mmio::LAPIC_LEN),
    (mmio::IOAPIC, mmio::IOAPIC_LEN),
    (mmio::HPET, mmio::HPET_LEN),
    (mmio::VGA_WINDOW, mmio::VGA_WINDOW_LEN),
    (VGA_LFB, mmio::VGA_LFB_LEN),
    (VGA_MMIO, mmio::VGA_MMIO_LEN),
    (mmio::TESTDEV, 0x1000),
    (0, 0x10_0000),
];

/// The guest's view of the stream's bytes.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        for slot in &mut b {
            *slot = self.data.get(self.at).copied().unwrap_or(0);
            self.at = self.at.saturating_add(1);
        }
        b
    }
    fn u8(&mut self) -> u8 {
        self.bytes::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.bytes())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.bytes())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.bytes())
    }
    fn done(&self) -> bool {
        self.at >= self.data.len()
    }
}

/// What a stream did, for tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    /// Operations played.
    pub ops: usize,
    /// Every value read (ports and MMIO), in order, folded into a digest.
    pub reads: u64,
    /// Interrupt vectors acknowledged, in order.
    pub vectors: Vec<u8>,
    /// Stop requests the board made (reset, power off, exit).
    pub stops: usize,
    /// Pages DMA engines wrote (as the board lists them for the CPU).
    pub dma_pages: usize,
}

impl Trace {
    fn read(&mut self, v: u64) {
        self.reads = (self.reads ^ v).wrapping_mul(0x100_0000_01B3);
    }
}

/// A dword write to PCI configuration space through mechanism #1.
fn cfg_write(b: &mut Board, dev: u32, func: u32, reg: u32, v: u32) {
    b.io_out(
        port::PCI_ADDRESS,
        4,
        0x8000_0000 | dev << 11 | func << 8 | reg,
        0,
    );
    b.io_out(port::PCI_DATA, 4, v, 0);
}

/// The board with its media, and its BARs where the firmware puts them.
pub fn board() -> Machine {
    let mut cfg = MachineConfig::new(RAM_MIB);
    cfg.pc_testdev = true;
    // Without firmware, drives or outputs, building cannot fail; a
    // failure would be a finding.
    let mut m = match Machine::new(cfg) {
        Ok(m) => m,
        Err(e) => panic!("the fuzzed board does not build: {e}"),
    };
    let b = &mut m.board;
    if let Some(pc) = b.pc.as_deref_mut() {
        pc.ide
            .attach_disk(0, 0, Box::new(MemDisk::new(vec![0x5A; DISK_BYTES])));
        pc.ide.attach_cdrom(
            1,
            0,
            Some(Box::new(MemDisk::read_only(vec![0xC3; CD_BYTES]))),
        );
    }
    if let Err(e) = b
        .fdc
        .attach(0, Box::new(MemDisk::new(vec![0xF6; FLOPPY_BYTES])))
    {
        panic!("360 KiB floppy refused: {e}");
    }
    // IDE 00:01.1: BAR4 (bus master), I/O and bus-master enable.
    cfg_write(b, 1, 1, 0x20, u32::from(IDE_BM));
    cfg_write(b, 1, 1, 0x04, 0x5);
    // PM 00:01.3: PMBA and PMREGMISC.PMIOSE, as the firmware does.
    cfg_write(b, 1, 3, 0x40, u32::from(port::PM_BASE) | 1);
    cfg_write(b, 1, 3, 0x80, 1);
    // VGA 00:02.0: framebuffer and register BARs, memory enable.
    cfg_write(b, 2, 0, 0x10, VGA_LFB as u32);
    cfg_write(b, 2, 0, 0x18, VGA_MMIO as u32);
    cfg_write(b, 2, 0, 0x04, 0x3);
    // Local APIC as SeaBIOS leaves it: software-enabled, LINT0 ExtINT
    // (the 8259's INTR reaches the CPU), LINT1 NMI.
    b.mem_write(mmio::LAPIC + LAPIC_SVR, 4, 0x1FF, 0);
    b.mem_write(mmio::LAPIC + LAPIC_LINT0, 4, LVT_EXTINT, 0);
    b.mem_write(mmio::LAPIC + LAPIC_LINT1, 4, LVT_NMI, 0);
    m
}

/// Local APIC registers (SDM Vol. 3, Table 11-1) and LVT delivery modes.
const LAPIC_SVR: u64 = 0xF0;
const LAPIC_LINT0: u64 = 0x350;
const LAPIC_LINT1: u64 = 0x360;
const LVT_EXTINT: u64 = 0x700;
const LVT_NMI: u64 = 0x400;

/// An access size from one byte: 1, 2 or 4 (ports), also 8 (MMIO).
fn size(b: u8, mmio: bool) -> u8 {
    const SIZES: [u8; 4] = [1, 2, 4, 8];
    SIZES[usize::from(b) % if mmio { 4 } else { 3 }]
}

/// Keys the host side may press: plain, extended and the two with
/// long sequences.
const KEYS: [KeyCode; 8] = [
    KeyCode::A,
    KeyCode::Enter,
    KeyCode::LeftShift,
    KeyCode::RightCtrl,
    KeyCode::Up,
    KeyCode::KeypadDivide,
    KeyCode::PrintScreen,
    KeyCode::Pause,
];

/// The host side: MSR writes the CPU would pass to the board, keys,
/// mouse motion and serial input (each bounded by the device's queue).
fn host_op(m: &mut Machine, r: &mut Reader<'_>, sel: u8, t: u64, tr: &mut Trace) {
    let b = &mut m.board;
    match sel % 6 {
        0 => {
            let _ = b.wrmsr(platform_msr::APIC_BASE, r.u64(), t);
        }
        1 => {
            let _ = b.wrmsr(platform_msr::TSC_DEADLINE, r.u64(), t);
        }
        2 => {
            let v = b.rdmsr(platform_msr::TSC_DEADLINE, t).unwrap_or(0);
            tr.read(v);
        }
        3 => {
            let k = r.u8();
            let key = KEYS[usize::from(k) % KEYS.len()];
            let _ = b.key_event(key, k & 0x80 == 0, t);
        }
        4 => {
            let [dx, dy, dz, buttons] = r.bytes::<4>();
            b.mouse_event(
                i32::from(dx as i8) * 64,
                i32::from(dy as i8) * 64,
                i32::from(dz as i8),
                buttons,
                t,
            );
        }
        _ => {
            let n = usize::from(r.u8());
            let bytes: Vec<u8> = (0..n).map(|_| r.u8()).collect();
            let _ = b.serial_input(usize::from(sel / 6) % 4, &bytes);
        }
    }
}

/// Plays one operation; `t` is the instruction count (virtual time).
fn op(m: &mut Machine, r: &mut Reader<'_>, t: &mut u64, tr: &mut Trace) {
    let k = r.u8();
    let sel = usize::from(k >> 3);
    let now = *t;
    let b = &mut m.board;
    match k & 7 {
        0 | 1 => {
            let (base, len) = PORTS[sel % PORTS.len()];
            let p = base.wrapping_add(u16::from(r.u8()) % len);
            let s = size(r.u8(), false);
            if k & 7 == 0 {
                b.io_out(p, s, r.u32(), now);
            } else {
                let v = b.io_in(p, s, now);
                tr.read(u64::from(v));
            }
        }
        2 | 3 => {
            let (base, len) = WINDOWS[sel % WINDOWS.len()];
            let a = base.wrapping_add(u64::from(r.u32()) % len);
            let s = size(r.u8(), true);
            if k & 7 == 2 {
                b.mem_write(a, s, r.u64(), now);
            } else {
                let v = b.mem_read(a, s, now);
                tr.read(v);
            }
        }
        4 => {
            *t = t.saturating_add(u64::from(r.u32()));
            let now = b.clock.now(*t);
            b.fire_due(now);
        }
        5 => {
            if b.nmi_pending() {
                b.acknowledge_nmi();
            }
            if b.interrupt_pending() {
                tr.vectors.push(b.acknowledge_interrupt(now));
            }
        }
        6 => host_op(m, r, k >> 3, now, tr),
        _ => {
            let p = r.u16();
            let s = size(r.u8(), false);
            if k & 0x80 == 0 {
                b.io_out(p, s, r.u32(), now);
            } else {
                tr.read(u64::from(b.io_in(p, s, now)));
            }
        }
    }
}

/// Plays `data` as a stream of operations against a fresh board and
/// checks the invariants after each. Panics (the fuzzer's finding) if
/// one breaks.
pub fn run_devices(data: &[u8]) -> Trace {
    let mut m = board();
    let ram = m.board.mem.ram().len() as u64;
    let mut r = Reader { data, at: 0 };
    let mut t = 0u64;
    let mut tr = Trace::default();
    let mut pages = Vec::new();
    while !r.done() && tr.ops < MAX_OPS {
        op(&mut m, &mut r, &mut t, &mut tr);
        tr.ops += 1;
        let pending = m.board.pending_events();
        assert!(
            pending <= EVENT_SOURCES,
            "{pending} scheduler events pending"
        );
        m.board.take_dma_pages(&mut pages);
        tr.dma_pages += pages.len();
        for p in pages.drain(..) {
            assert!(
                p < ram,
                "DMA wrote page {p:#x} outside {ram:#x} bytes of RAM"
            );
        }
        if let Some(stop) = m.board.take_stop() {
            tr.stops += 1;
            // The run loop resets the board on a reset request; do the
            // same so the stream goes on against a board that did.
            if stop == crate::StopReason::Reset {
                m.board.reset(0);
            }
        }
    }
    tr
}

/// Most sectors a `disk_image` input's file may have: 3 MiB, past the
/// largest floppy format (2.88 MB).
pub const MAX_IMAGE_SECTORS: u64 = 6144;
const SECTOR: u64 = crate::disk::SECTOR;
/// ATA commands (ATA/ATAPI-6): IDENTIFY DEVICE, READ SECTORS; the ATAPI
/// PACKET command and READ CAPACITY (MMC).
const ATA_IDENTIFY: u32 = 0xEC;
const ATA_READ: u32 = 0x20;
const ATA_PACKET: u32 = 0xA0;
const ATAPI_READ_CAPACITY: u16 = 0x25;
/// Status register bits: ERR, DRQ.
const ST_ERR: u32 = 0x01;
const ST_DRQ: u32 = 0x08;

/// What a `disk_image` input became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageOutcome {
    /// `open_image` refused it with this one-line message.
    Refused(String),
    /// The floppy controller refused its size.
    NoFloppyFormat(String),
    /// Attached; the drive reported this many bytes.
    Attached(u64),
}

/// The file an input describes: byte 0 is the kind (`% 3`: hard disk,
/// CD, floppy) and bit 2 `--snapshot`; bytes 1-2 the size in sectors
/// (at most [`MAX_IMAGE_SECTORS`]) and byte 3 extra bytes past it (a
/// size that is no whole sector); the rest is the file's start (the
/// remainder reads as zeros).
fn image_file(data: &[u8]) -> (crate::disk::MediaKind, bool, u64, &[u8]) {
    use crate::disk::MediaKind;
    let b = |i: usize| data.get(i).copied().unwrap_or(0);
    let kind = [MediaKind::HardDisk, MediaKind::Cdrom, MediaKind::Floppy][usize::from(b(0)) % 3];
    let sectors = u64::from(u16::from_le_bytes([b(1), b(2)])) % (MAX_IMAGE_SECTORS + 1);
    let len = sectors * SECTOR + u64::from(b(3));
    (kind, b(0) & 4 != 0, len, data.get(4..).unwrap_or(&[]))
}

/// Writes the image file of one input (sparse past its content).
fn write_image(path: &std::path::Path, len: u64, content: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    let n = content
        .len()
        .min(usize::try_from(len).unwrap_or(usize::MAX));
    f.write_all(&content[..n])?;
    f.set_len(len)
}

/// Reads `n` 16-bit words from the data port `p`.
fn words(b: &mut Board, p: u16, n: usize) -> Vec<u16> {
    (0..n).map(|_| b.io_in(p, 2, 0) as u16).collect()
}

/// IDENTIFY DEVICE and a read of the last and the first-past-the-end
/// sector on the primary master: the drive must report exactly the
/// file's sectors and return the file's bytes.
fn probe_disk(b: &mut Board, len: u64, file: &[u8]) -> u64 {
    let sectors = len / SECTOR;
    b.io_out(port::IDE0 + 6, 1, 0xA0, 0);
    b.io_out(port::IDE0 + 7, 1, ATA_IDENTIFY, 0);
    let w = words(b, port::IDE0, 256);
    let lba28 = u64::from(w[60]) | u64::from(w[61]) << 16;
    let lba48 = (0..4).fold(0u64, |a, i| a | u64::from(w[100 + i]) << (16 * i));
    assert_eq!(lba28, sectors.min(0x0FFF_FFFF), "IDENTIFY words 60-61");
    assert_eq!(lba48, sectors, "IDENTIFY words 100-103");
    for lba in [sectors.wrapping_sub(1), sectors] {
        b.io_out(port::IDE0 + 2, 1, 1, 0);
        b.io_out(port::IDE0 + 3, 1, lba as u32 & 0xFF, 0);
        b.io_out(port::IDE0 + 4, 1, (lba >> 8) as u32 & 0xFF, 0);
        b.io_out(port::IDE0 + 5, 1, (lba >> 16) as u32 & 0xFF, 0);
        b.io_out(port::IDE0 + 6, 1, 0xE0 | ((lba >> 24) as u32 & 0xF), 0);
        b.io_out(port::IDE0 + 7, 1, ATA_READ, 0);
        let st = b.io_in(port::IDE0 + 7, 1, 0);
        if lba >= sectors {
            assert!(
                st & ST_ERR != 0 && st & ST_DRQ == 0,
                "read past the end: status {st:#x}"
            );
            continue;
        }
        assert!(st & ST_DRQ != 0, "read of LBA {lba}: status {st:#x}");
        let got: Vec<u8> = words(b, port::IDE0, 256)
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        let at = (lba * SECTOR) as usize;
        let want: Vec<u8> = (at..at + SECTOR as usize)
            .map(|i| file.get(i).copied().unwrap_or(0))
            .collect();
        assert_eq!(got, want, "sector {lba} differs from the file");
    }
    sectors * SECTOR
}

/// READ CAPACITY on the secondary master (twice: the first command
/// after a disc is inserted reports UNIT ATTENTION): the last block is
/// the file's last whole 2048-byte block.
fn probe_cd(b: &mut Board, len: u64) -> u64 {
    const CD_BLOCK: u64 = 2048;
    let mut last = 0;
    for _ in 0..2 {
        b.io_out(port::IDE1 + 6, 1, 0xA0, 0);
        b.io_out(port::IDE1 + 4, 1, 8, 0);
        b.io_out(port::IDE1 + 5, 1, 0, 0);
        b.io_out(port::IDE1 + 7, 1, ATA_PACKET, 0);
        for w in [ATAPI_READ_CAPACITY, 0, 0, 0, 0, 0] {
            b.io_out(port::IDE1, 2, u32::from(w), 0);
        }
        if b.io_in(port::IDE1 + 7, 1, 0) & ST_DRQ != 0 {
            let w = words(b, port::IDE1, 4);
            last = u64::from(u16::from_be(w[0])) << 16 | u64::from(u16::from_be(w[1]));
        }
    }
    let blocks = len / CD_BLOCK;
    if blocks > 0 {
        assert_eq!(last + 1, blocks, "READ CAPACITY of {len} bytes");
    }
    blocks * CD_BLOCK
}

/// Writes the input's image to a scratch file, opens it as the `run`
/// command opens `--hda`/`--cdrom`/`--fda`, attaches it, and checks what
/// the drive reports against the file. Invariants: no panic, a refusal
/// is one line, an accepted image's size is reported exactly.
pub fn run_disk_image(data: &[u8]) -> ImageOutcome {
    use crate::disk::open_image;
    let (kind, snapshot, len, content) = image_file(data);
    let path = std::env::temp_dir().join(format!(
        "anyx86-fuzz-disk-{}-{:?}.img",
        std::process::id(),
        std::thread::current().id()
    ));
    if let Err(e) = write_image(&path, len, content) {
        panic!("scratch image {}: {e}", path.display());
    }
    let health = std::rc::Rc::default();
    let opened = open_image(&path, kind, snapshot, &health);
    let outcome = attach_and_probe(opened, kind, len, content);
    // After the drive is gone: an image deleted while written would be
    // saved back under its name when closed.
    let _ = std::fs::remove_file(&path);
    assert!(!health.failed(), "{:?}", health.take());
    outcome
}

fn attach_and_probe(
    opened: Result<crate::disk::OpenedImage, crate::disk::ImageError>,
    kind: crate::disk::MediaKind,
    len: u64,
    content: &[u8],
) -> ImageOutcome {
    use crate::disk::MediaKind;
    let img = match opened {
        Ok(img) => img,
        Err(e) => {
            let msg = e.to_string();
            assert!(
                !msg.contains('\n'),
                "a refusal of more than one line: {msg:?}"
            );
            return ImageOutcome::Refused(msg);
        }
    };
    let mut m = board();
    let b = &mut m.board;
    let seen = match kind {
        MediaKind::Floppy => match b.fdc.attach(0, img.backend) {
            Ok(f) => {
                assert_eq!(f.bytes(), len, "floppy format {f:?} for {len} bytes");
                len
            }
            Err(e) => return ImageOutcome::NoFloppyFormat(e.to_string()),
        },
        MediaKind::HardDisk | MediaKind::Cdrom => {
            let Some(pc) = b.pc.as_deref_mut() else {
                panic!("the fuzzed board has no chipset");
            };
            if kind == MediaKind::HardDisk {
                pc.ide.attach_disk(0, 0, img.backend);
                probe_disk(b, len, content)
            } else {
                pc.ide.attach_cdrom(1, 0, Some(img.backend));
                probe_cd(b, len)
            }
        }
    };
    ImageOutcome::Attached(seen)
}

/// What became of a snapshot file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotOutcome {
    /// Refused, with the one-line reason.
    Refused(String),
    /// Loaded; the machine then ran to the harness's limit or its end,
    /// with this much work counted.
    Loaded {
        /// `CpuState::work` after the run.
        work: u64,
        /// The outcome of the run, as text.
        outcome: String,
    },
}

/// Work the harness lets a loaded machine do.
pub const SNAPSHOT_RUN: u64 = 20_000;

/// The `snapshot_file` harness: the input is one byte choosing the
/// machine (bit 0 clear: the fuzzed full PC of [`board`]; set: the ISA
/// machine with 2 MiB), then a snapshot file, loaded as `--loadvm` loads
/// one (the ISA machine has no VGA to save: ten times the executions).
/// Invariants: no
/// panic; a refusal is one line; a loaded machine runs and stops within
/// [`SNAPSHOT_RUN`] more work (and the documented overshoot), its count
/// never going backwards; and a
/// loaded state survives a save and a load unchanged (saving it again
/// gives the same bytes).
pub fn run_snapshot_file(data: &[u8]) -> SnapshotOutcome {
    let name = std::path::Path::new("fuzz.snap");
    let (isa, data) = match data.split_first() {
        Some((k, rest)) => (k & 1 != 0, rest),
        None => (false, data),
    };
    let fresh = || if isa { isa_board() } else { board() };
    let mut m = fresh();
    if let Err(e) = m.load_snapshot_bytes(name, &with_valid_crcs(data)) {
        let msg = e.to_string();
        assert!(
            !msg.contains('\n'),
            "a refusal of more than one line: {msg:?}"
        );
        return SnapshotOutcome::Refused(msg);
    }
    let saved = save(&m);
    let mut again = fresh();
    if let Err(e) = again.load_snapshot_bytes(name, &saved) {
        panic!("a loaded state does not load again once saved: {e}");
    }
    assert!(
        save(&again) == saved,
        "a save, load and save changed the state"
    );
    let start = m.cpu.s.work();
    let limit = start.saturating_add(SNAPSHOT_RUN);
    let outcome = m.run(Some(limit));
    let work = m.cpu.s.work();
    assert!(
        work >= start,
        "the work count went back from {start} to {work}"
    );
    // A trace may run past the limit by its length, a REP by a slice
    // (docs/reliability.md).
    let end = limit.saturating_add(anyx86_cpu::fuzzing::OVERSHOOT);
    assert!(
        work <= end,
        "ran to {work}, past the limit {limit} and its overshoot"
    );
    SnapshotOutcome::Loaded {
        work,
        outcome: format!("{outcome:?}"),
    }
}

/// `data` with each section's CRC-32 recomputed (as far as its sections
/// are well formed), so that mutations reach the state decoders instead
/// of failing the checksum; the checksum test is in the CLI tests.
pub fn with_valid_crcs(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    let mut at = 12;
    while let Some(head) = out.get(at..at + 12) {
        let len = u64::from_le_bytes(head[4..12].try_into().unwrap_or_default());
        let Some(end) = usize::try_from(len)
            .ok()
            .and_then(|l| (at + 12).checked_add(l))
            .filter(|&e| e + 4 <= out.len())
        else {
            break;
        };
        let crc = anyx86_hw::wire::crc32(&out[at + 12..end]);
        out[end..end + 4].copy_from_slice(&crc.to_le_bytes());
        at = end + 4;
    }
    out
}

/// The ISA machine with [`RAM_MIB`] and nothing attached.
pub fn isa_board() -> Machine {
    let mut cfg = MachineConfig::new(RAM_MIB);
    cfg.kind = crate::pc::MachineKind::Isa;
    match Machine::new(cfg) {
        Ok(m) => m,
        Err(e) => panic!("the ISA machine does not build: {e}"),
    }
}

fn save(m: &Machine) -> Vec<u8> {
    let mut out = Vec::new();
    if let Err(e) = m.save_snapshot_to(&mut out) {
        panic!("saving to memory failed: {e}");
    }
    out
}

/// The snapshot seeds, each with its machine byte (see
/// [`run_snapshot_file`]): both machines at power-on, and after a short
/// real-mode program in RAM that programs the PIT, unmasks IRQ 0, and
/// counts in a loop with interrupts on.
pub fn snapshot_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let seed = |kind: u8, m: &Machine| [vec![kind], save(m)].concat();
    let (mut pc, mut isa) = (board(), isa_board());
    let mut seeds = vec![("power-on", seed(0, &pc)), ("isa-power-on", seed(1, &isa))];
    pit_loop(&mut pc);
    pit_loop(&mut isa);
    seeds.push(("pit-loop", seed(0, &pc)));
    seeds.push(("isa-pit-loop", seed(1, &isa)));
    seeds
}

/// Runs the PIT seed's program for 50,000 instructions.
fn pit_loop(m: &mut Machine) {
    // All in RAM page 0, to keep the seed small. At 0x500: the 8259's
    // ICW1-ICW4 (vectors from 8, as the BIOS sets it); mov al,0x34;
    // out 0x43,al; mov al,0x10; out 0x40,al; mov al,0; out 0x40,al (a
    // period of 16 PIT ticks, 13 us); mov al,0xFE; out 0x21,al; sti;
    // inc bx; jmp $-1.
    // The IVT's vector 8 points at 0x600: inc cx; mov al,0x20;
    // out 0x20,al; iret.
    let program = [
        0xB0, 0x11, 0xE6, 0x20, 0xB0, 0x08, 0xE6, 0x21, 0xB0, 0x04, 0xE6, 0x21, 0xB0, 0x01, 0xE6,
        0x21, 0xB0, 0x34, 0xE6, 0x43, 0xB0, 0x10, 0xE6, 0x40, 0xB0, 0x00, 0xE6, 0x40, 0xB0, 0xFE,
        0xE6, 0x21, 0xFB, 0x43, 0xEB, 0xFD,
    ];
    let handler = [0x41, 0xB0, 0x20, 0xE6, 0x20, 0xCF];
    let mem = &mut m.board.mem;
    mem.load(0x500, &program);
    mem.load(0x600, &handler);
    mem.load(8 * 4, &[0x00, 0x06, 0x00, 0x00]);
    let s = &mut m.cpu.s;
    s.seg[anyx86_cpu::arch::sreg::CS] = anyx86_cpu::Segment::real(0, s.seg[1].attr);
    s.rip = 0x500;
    let _ = m.run(Some(50_000));
}
