//! The PIIX3 IDE controller (Intel 82371SB function 1, PCI 00:01.1,
//! 8086:7010) with its two legacy channels, ATA hard disks and ATAPI CD-ROM
//! drives, and the SFF-8038i bus-master DMA engine.
//!
//! Reference: ATA/ATAPI-6 (T13 1410D) sections 7 (registers: status, error,
//! device control with nIEN/SRST/HOB, device/head), 8 (commands), 9.1-9.12
//! (protocols: PIO data-in/out, DMA, PACKET, device reset signatures) and
//! 8.15/8.16 (IDENTIFY DEVICE / IDENTIFY PACKET DEVICE words); SFF-8038i
//! rev 1.0 "Bus Master Programming Interface for IDE ATA Controllers"
//! (command, status and PRD table registers; the physical region
//! descriptor format); Intel 82371SB datasheet section 2.3 (IDETIM 0x40 and
//! 0x42, BMIBA 0x20). QEMU `hw/ide/core.c`, `atapi.c`, `piix.c` and
//! `pci.c` for the behaviour SeaBIOS's `src/hw/ata.c` and Linux's
//! `ata_piix`/libata expect (absent devices, status values, when INTRQ is
//! raised). The packet command set is in [`crate::atapi`].
//!
//! # Wiring
//!
//! Everything is synchronous: a command completes inside the port access
//! that starts it, so there is no deadline and no `now`.
//!
//! - Ports 0x1F0-0x1F7 (channel 0) and 0x170-0x177 (channel 1), any size:
//!   [`Ide::command_read`] / [`Ide::command_write`] with `offset` = port -
//!   base. Offset 0 is the 16/32-bit data port.
//! - Ports 0x3F6 (channel 0) and 0x376 (channel 1): [`Ide::control_read`]
//!   (alternate status) / [`Ide::control_write`] (device control). Port
//!   0x3F7/0x377 belongs to the floppy controller.
//! - Configuration cycles for 00:01.1: [`Ide::config_read`] /
//!   [`Ide::config_write`]. After each write the machine maps the 16 ports
//!   at [`Ide::bus_master_base`] (`None`: unmapped) to
//!   [`Ide::bus_master_read`] / [`Ide::bus_master_write`] with `offset` =
//!   port - base.
//! - After every access, [`Ide::irq_level`]`(0)` drives ISA IRQ 14 and
//!   `irq_level(1)` IRQ 15 (the legacy-mode interrupts; the function has no
//!   PCI INTx pin).
//! - Writes that may start a DMA transfer (command port, bus-master
//!   command) take `&mut dyn DmaMemory`.
//!
//! # Not implemented
//!
//! - Native-PCI mode (prog-if bits 0 and 2 read 0 and are fixed), the
//!   IDETIM/SIDETIM timing values (stored only; the legacy ports decode
//!   whatever IDETIM's decode-enable bit and the PCI command register say,
//!   as in QEMU). The bus-master enable bit does not gate DMA.
//! - Timing: nothing is ever BSY except while SRST is held.
//! - Tagged queuing, SMART, security, HPA, power-management timers,
//!   DEVICE CONFIGURATION, DOWNLOAD MICROCODE; the bus master's direction
//!   bit is not checked against the command.
//! - A PRD table too short for the transfer moves no data, clears Active,
//!   and sets the bus master's error bit; the drive fails the command with
//!   ABRT and interrupts (QEMU clears Active without an interrupt, which
//!   leaves a driver waiting; ours reports the error instead).

use anyx86_hw::{AccessSize, BlockBackend, DmaMemory, Snapshot, SnapshotError};

use crate::atapi::{
    AtapiState, Cdrom, Reply, ASC_UNRECOVERED_READ_ERROR, ATAPI_PACKET_SIZE, SENSE_MEDIUM_ERROR,
    SENSE_NONE, SENSE_UNIT_ATTENTION,
};
use crate::pci::{
    absent_read, BarKind, ConfigSpace, PciFunction, PCI_COMMAND, PCI_STATUS,
    PCI_STATUS_DEVSEL_MEDIUM, PCI_STATUS_FAST_BACK,
};
use crate::{read_bytes, write_bytes};

/// Intel's PCI vendor ID.
pub const INTEL_VENDOR_ID: u16 = 0x8086;
/// 82371SB PIIX3 IDE function device ID.
pub const PIIX3_IDE_DEVICE_ID: u16 = 0x7010;
/// Class code: mass storage, IDE, prog-if 0x80 (legacy ports on both
/// channels, bus-master capable).
pub const PIIX3_IDE_CLASS: u32 = 0x01_0180;
/// BMIBA: the bus-master interface base address, BAR4.
pub const PIIX_BMIBA_BAR: usize = 4;
/// Size of the bus-master I/O block (8 ports per channel).
pub const BM_IO_SIZE: u64 = 16;
/// IDETIM for the primary channel (16 bits; bit 15 = IDE decode enable).
pub const PIIX_IDETIM_PRIMARY: u8 = 0x40;
/// IDETIM for the secondary channel.
pub const PIIX_IDETIM_SECONDARY: u8 = 0x42;
/// SIDETIM: slave IDE timing (stored only).
pub const PIIX_SIDETIM: u8 = 0x44;

/// Number of channels.
pub const IDE_CHANNELS: usize = 2;
/// Devices per channel (master, slave).
pub const IDE_UNITS: usize = 2;
/// ATA logical sector size.
pub const SECTOR_SIZE: usize = 512;

/// Task file offset 0: data (16 or 32 bits).
pub const ATA_REG_DATA: u16 = 0;
/// Offset 1: error (read) / features (write).
pub const ATA_REG_ERROR: u16 = 1;
/// Offset 2: sector count; for packet devices, interrupt reason.
pub const ATA_REG_NSECTOR: u16 = 2;
/// Offset 3: sector number / LBA bits 7:0.
pub const ATA_REG_LBA_LOW: u16 = 3;
/// Offset 4: cylinder low / LBA 15:8; packet byte count low.
pub const ATA_REG_LBA_MID: u16 = 4;
/// Offset 5: cylinder high / LBA 23:16; packet byte count high.
pub const ATA_REG_LBA_HIGH: u16 = 5;
/// Offset 6: device/head.
pub const ATA_REG_DEVICE: u16 = 6;
/// Offset 7: status (read) / command (write).
pub const ATA_REG_STATUS: u16 = 7;

/// Status bit 7: BSY.
pub const ATA_SR_BSY: u8 = 0x80;
/// Status bit 6: DRDY, device ready.
pub const ATA_SR_DRDY: u8 = 0x40;
/// Status bit 5: DF, device fault.
pub const ATA_SR_DF: u8 = 0x20;
/// Status bit 4: DSC, seek complete.
pub const ATA_SR_DSC: u8 = 0x10;
/// Status bit 3: DRQ, data request.
pub const ATA_SR_DRQ: u8 = 0x08;
/// Status bit 0: ERR.
pub const ATA_SR_ERR: u8 = 0x01;

/// Error bit 6: UNC, uncorrectable data error.
pub const ATA_ER_UNC: u8 = 0x40;
/// Error bit 4: IDNF, address not found.
pub const ATA_ER_IDNF: u8 = 0x10;
/// Error bit 2: ABRT, command aborted.
pub const ATA_ER_ABRT: u8 = 0x04;
/// The diagnostic code after reset: device 0 passed, device 1 passed or
/// absent.
pub const ATA_DIAG_PASSED: u8 = 0x01;

/// Device control bit 1: nIEN, INTRQ disabled.
pub const ATA_CB_DC_NIEN: u8 = 0x02;
/// Device control bit 2: SRST, software reset.
pub const ATA_CB_DC_SRST: u8 = 0x04;
/// Device control bit 7: HOB, read the previous (high-order) values.
pub const ATA_CB_DC_HOB: u8 = 0x80;

/// Device/head bit 6: LBA addressing.
pub const ATA_DEV_LBA: u8 = 0x40;
/// Device/head bit 4: DEV, selects device 1.
pub const ATA_DEV_DEV: u8 = 0x10;
/// Device/head bits 7 and 5: obsolete, read as 1.
pub const ATA_DEV_OBS: u8 = 0xA0;

/// Interrupt reason (sector count of a packet device) bit 0: CoD.
pub const ATAPI_INT_REASON_COD: u8 = 0x01;
/// Interrupt reason bit 1: IO, transfer to the host.
pub const ATAPI_INT_REASON_IO: u8 = 0x02;

/// NOP.
pub const ATA_CMD_NOP: u8 = 0x00;
/// DEVICE RESET (packet devices).
pub const ATA_CMD_DEVICE_RESET: u8 = 0x08;
/// RECALIBRATE (0x10-0x1F).
pub const ATA_CMD_RECALIBRATE: u8 = 0x10;
/// READ SECTORS.
pub const ATA_CMD_READ_SECTORS: u8 = 0x20;
/// READ SECTORS without retries.
pub const ATA_CMD_READ_SECTORS_NR: u8 = 0x21;
/// READ SECTORS EXT.
pub const ATA_CMD_READ_SECTORS_EXT: u8 = 0x24;
/// READ DMA EXT.
pub const ATA_CMD_READ_DMA_EXT: u8 = 0x25;
/// READ MULTIPLE EXT.
pub const ATA_CMD_READ_MULTIPLE_EXT: u8 = 0x29;
/// WRITE SECTORS.
pub const ATA_CMD_WRITE_SECTORS: u8 = 0x30;
/// WRITE SECTORS without retries.
pub const ATA_CMD_WRITE_SECTORS_NR: u8 = 0x31;
/// WRITE SECTORS EXT.
pub const ATA_CMD_WRITE_SECTORS_EXT: u8 = 0x34;
/// WRITE DMA EXT.
pub const ATA_CMD_WRITE_DMA_EXT: u8 = 0x35;
/// WRITE MULTIPLE EXT.
pub const ATA_CMD_WRITE_MULTIPLE_EXT: u8 = 0x39;
/// READ VERIFY SECTORS.
pub const ATA_CMD_READ_VERIFY: u8 = 0x40;
/// READ VERIFY SECTORS without retries.
pub const ATA_CMD_READ_VERIFY_NR: u8 = 0x41;
/// READ VERIFY SECTORS EXT.
pub const ATA_CMD_READ_VERIFY_EXT: u8 = 0x42;
/// SEEK (0x70-0x7F).
pub const ATA_CMD_SEEK: u8 = 0x70;
/// EXECUTE DEVICE DIAGNOSTIC.
pub const ATA_CMD_EXECUTE_DIAGNOSTIC: u8 = 0x90;
/// INITIALIZE DEVICE PARAMETERS.
pub const ATA_CMD_INITIALIZE_PARAMS: u8 = 0x91;
/// PACKET.
pub const ATA_CMD_PACKET: u8 = 0xA0;
/// IDENTIFY PACKET DEVICE.
pub const ATA_CMD_IDENTIFY_PACKET: u8 = 0xA1;
/// READ MULTIPLE.
pub const ATA_CMD_READ_MULTIPLE: u8 = 0xC4;
/// WRITE MULTIPLE.
pub const ATA_CMD_WRITE_MULTIPLE: u8 = 0xC5;
/// SET MULTIPLE MODE.
pub const ATA_CMD_SET_MULTIPLE: u8 = 0xC6;
/// READ DMA.
pub const ATA_CMD_READ_DMA: u8 = 0xC8;
/// READ DMA without retries.
pub const ATA_CMD_READ_DMA_NR: u8 = 0xC9;
/// WRITE DMA.
pub const ATA_CMD_WRITE_DMA: u8 = 0xCA;
/// WRITE DMA without retries.
pub const ATA_CMD_WRITE_DMA_NR: u8 = 0xCB;
/// STANDBY IMMEDIATE.
pub const ATA_CMD_STANDBY_IMMEDIATE: u8 = 0xE0;
/// IDLE IMMEDIATE.
pub const ATA_CMD_IDLE_IMMEDIATE: u8 = 0xE1;
/// STANDBY.
pub const ATA_CMD_STANDBY: u8 = 0xE2;
/// IDLE.
pub const ATA_CMD_IDLE: u8 = 0xE3;
/// CHECK POWER MODE.
pub const ATA_CMD_CHECK_POWER_MODE: u8 = 0xE5;
/// SLEEP.
pub const ATA_CMD_SLEEP: u8 = 0xE6;
/// FLUSH CACHE.
pub const ATA_CMD_FLUSH_CACHE: u8 = 0xE7;
/// FLUSH CACHE EXT.
pub const ATA_CMD_FLUSH_CACHE_EXT: u8 = 0xEA;
/// IDENTIFY DEVICE.
pub const ATA_CMD_IDENTIFY: u8 = 0xEC;
/// SET FEATURES.
pub const ATA_CMD_SET_FEATURES: u8 = 0xEF;

/// SET FEATURES 02h: enable write cache.
pub const SETFEATURES_WC_ON: u8 = 0x02;
/// SET FEATURES 03h: set transfer mode from the sector count.
pub const SETFEATURES_XFER: u8 = 0x03;
/// SET FEATURES 82h: disable write cache.
pub const SETFEATURES_WC_OFF: u8 = 0x82;
/// SET FEATURES subcommands accepted with no effect (read look-ahead,
/// reverting to defaults, APM, AAM, ...), as in QEMU.
const SETFEATURES_IGNORED: [u8; 12] = [
    0x05, 0x85, 0x42, 0xC2, 0x55, 0xAA, 0x66, 0xCC, 0x67, 0x69, 0x96, 0x9A,
];

/// Bus-master register (per channel, +0 / +8): command.
pub const BM_REG_COMMAND: u16 = 0;
/// Bus-master register: status.
pub const BM_REG_STATUS: u16 = 2;
/// Bus-master register: PRD table address (32 bits).
pub const BM_REG_PRD: u16 = 4;
/// Command bit 0: start/stop bus master.
pub const BM_CMD_START: u8 = 0x01;
/// Command bit 3: read/write control, 1 = the bus master writes memory
/// (a device read).
pub const BM_CMD_WRITE_MEMORY: u8 = 0x08;
/// Status bit 0: bus master IDE active.
pub const BM_STATUS_ACTIVE: u8 = 0x01;
/// Status bit 1: error (write 1 to clear).
pub const BM_STATUS_ERROR: u8 = 0x02;
/// Status bit 2: interrupt (write 1 to clear).
pub const BM_STATUS_INT: u8 = 0x04;
/// Status bit 5: drive 0 DMA capable (software scratch).
pub const BM_STATUS_DRIVE0_DMA: u8 = 0x20;
/// Status bit 6: drive 1 DMA capable (software scratch).
pub const BM_STATUS_DRIVE1_DMA: u8 = 0x40;
/// PRD byte count 0 means 64 KiB.
const PRD_MAX_BYTES: u64 = 0x1_0000;
/// PRD entry bit 31 of the second dword: end of table.
const PRD_EOT: u32 = 0x8000_0000;
/// Most PRD entries walked for one transfer (one 4 KiB page of them, as
/// QEMU's fail-safe).
const PRD_MAX_ENTRIES: u64 = 512;

/// Sectors per READ/WRITE MULTIPLE block at power-on and the most SET
/// MULTIPLE MODE accepts.
pub const MAX_MULT_SECTORS: u8 = 16;
/// Largest PIO data block of a packet device (an even byte count limit).
const ATAPI_MAX_PIO_BLOCK: u64 = 0xFFFE;

/// The default CHS translation: 16 heads.
const DEFAULT_HEADS: u8 = 16;
/// The default CHS translation: 63 sectors per track.
const DEFAULT_SECTORS: u8 = 63;
/// Most cylinders IDENTIFY reports.
const MAX_CYLINDERS: u64 = 16383;

/// What sits at one position of a channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IdeDriveKind {
    /// No device.
    #[default]
    None,
    /// An ATA hard disk.
    Disk,
    /// An ATAPI CD-ROM drive.
    Cdrom,
}
anyx86_hw::wire_enum!(IdeDriveKind { None = 0, Disk = 1, Cdrom = 2 });

/// Where a drive is in a command's protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IdePhase {
    /// No command in progress.
    #[default]
    Idle,
    /// PIO data-in of one block (IDENTIFY); nothing follows.
    PioIn,
    /// PIO data-in of ATA sectors; more blocks may follow.
    AtaRead,
    /// PIO data-out of ATA sectors.
    AtaWrite,
    /// Waiting for the 12-byte command packet.
    AtapiPacket,
    /// PIO data-in of a packet command's reply.
    AtapiIn,
    /// ATA READ DMA waiting for the bus master.
    DmaRead,
    /// ATA WRITE DMA waiting for the bus master.
    DmaWrite,
    /// Packet command data-in by DMA waiting for the bus master.
    AtapiDma,
}
anyx86_hw::wire_enum!(IdePhase { Idle = 0, PioIn = 1, AtaRead = 2, AtaWrite = 3, AtapiPacket = 4, AtapiIn = 5, DmaRead = 6, DmaWrite = 7, AtapiDma = 8 });

/// Plain-data state of one drive position (everything but the medium).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdeDriveState {
    /// What is attached.
    pub kind: IdeDriveKind,
    /// Features register (current and previous).
    pub feature: u8,
    /// Sector count (interrupt reason for packet devices).
    pub nsector: u8,
    /// Sector number / LBA low.
    pub sector: u8,
    /// Cylinder low / LBA mid / byte count low.
    pub lcyl: u8,
    /// Cylinder high / LBA high / byte count high.
    pub hcyl: u8,
    /// Previous features (HOB).
    pub hob_feature: u8,
    /// Previous sector count.
    pub hob_nsector: u8,
    /// Previous LBA low.
    pub hob_sector: u8,
    /// Previous LBA mid.
    pub hob_lcyl: u8,
    /// Previous LBA high.
    pub hob_hcyl: u8,
    /// Device/head.
    pub select: u8,
    /// Status.
    pub status: u8,
    /// Error.
    pub error: u8,
    /// Sectors per READ/WRITE MULTIPLE block (0 = disabled).
    pub mult_sectors: u8,
    /// Logical heads for CHS addressing (INITIALIZE DEVICE PARAMETERS).
    pub heads: u8,
    /// Logical sectors per track for CHS addressing.
    pub sectors: u8,
    /// Transfer mode last set by SET FEATURES 03h (0 = PIO default).
    pub xfer_mode: u8,
    /// Volatile write cache enabled (IDENTIFY word 85 bit 5).
    pub write_cache: bool,
    /// Protocol phase.
    pub phase: IdePhase,
    /// The current PIO data block.
    pub buffer: Vec<u8>,
    /// Next byte of `buffer` the data port moves.
    pub data_pos: u32,
    /// ATA: next sector to transfer.
    pub lba: u64,
    /// ATA: sectors still to transfer after the current block.
    pub sectors_left: u32,
    /// ATA: the command uses 48-bit addressing.
    pub lba48: bool,
    /// ATA: sectors per PIO block of this command (1 or the multiple count).
    pub block_sectors: u8,
    /// ATAPI: next byte of the reply (medium byte offset or index into
    /// `reply`).
    pub xfer_offset: u64,
    /// ATAPI: reply bytes still to transfer.
    pub xfer_left: u64,
    /// ATAPI: the reply comes from the medium rather than `reply`.
    pub from_medium: bool,
    /// ATAPI: the PIO byte count limit of the PACKET command.
    pub byte_limit: u16,
    /// ATAPI: a non-medium reply.
    pub reply: Vec<u8>,
    /// ATAPI: sense, tray, lock and media events.
    pub atapi: AtapiState,
}
anyx86_hw::wire_struct!(IdeDriveState {
    kind,
    feature,
    nsector,
    sector,
    lcyl,
    hcyl,
    hob_feature,
    hob_nsector,
    hob_sector,
    hob_lcyl,
    hob_hcyl,
    select,
    status,
    error,
    mult_sectors,
    heads,
    sectors,
    xfer_mode,
    write_cache,
    phase,
    buffer,
    data_pos,
    lba,
    sectors_left,
    lba48,
    block_sectors,
    xfer_offset,
    xfer_left,
    from_medium,
    byte_limit,
    reply,
    atapi
});

/// Plain-data state of one channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdeChannelState {
    /// Device control register.
    pub dev_ctl: u8,
    /// Selected unit (DEV bit).
    pub unit: u8,
    /// INTRQ pending (cleared by reading status or writing a command).
    pub irq_pending: bool,
    /// Bus-master command register.
    pub bm_cmd: u8,
    /// Bus-master status register.
    pub bm_status: u8,
    /// Bus-master PRD table address.
    pub bm_prd: u32,
    /// The two drive positions.
    pub drives: [IdeDriveState; IDE_UNITS],
}
anyx86_hw::wire_struct!(IdeChannelState {
    dev_ctl,
    unit,
    irq_pending,
    bm_cmd,
    bm_status,
    bm_prd,
    drives
});

/// Plain-data state of the controller, media contents excluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdeState {
    /// The 256 configuration bytes of 00:01.1.
    pub config: Vec<u8>,
    /// The two channels.
    pub channels: [IdeChannelState; IDE_CHANNELS],
}
anyx86_hw::wire_struct!(IdeState { config, channels });

impl Default for IdeState {
    fn default() -> Self {
        Ide::new().save()
    }
}

/// One drive position: its state and medium.
#[derive(Default)]
struct Drive {
    st: IdeDriveState,
    medium: Option<Box<dyn BlockBackend>>,
    /// The drive asserted INTRQ during this access (consumed by the
    /// channel, which applies nIEN and the bus master's interrupt bit).
    irq_event: bool,
}

/// One channel: registers shared by both positions, and the positions.
#[derive(Default)]
struct Channel {
    dev_ctl: u8,
    unit: usize,
    irq_pending: bool,
    bm_cmd: u8,
    bm_status: u8,
    bm_prd: u32,
    drives: [Drive; IDE_UNITS],
}

/// The PIIX3 IDE function with its two channels.
pub struct Ide {
    config: ConfigSpace,
    channels: [Channel; IDE_CHANNELS],
}

impl Default for Ide {
    fn default() -> Self {
        Self::new()
    }
}

impl Ide {
    /// The controller at power-on with no drives attached.
    pub fn new() -> Self {
        Self {
            config: new_config(),
            channels: Default::default(),
        }
    }

    /// Attaches an ATA hard disk at `channel`/`unit` (out-of-range
    /// positions are ignored).
    pub fn attach_disk(&mut self, channel: usize, unit: usize, medium: Box<dyn BlockBackend>) {
        if let Some(d) = self.drive_mut(channel, unit) {
            d.st = IdeDriveState {
                kind: IdeDriveKind::Disk,
                ..Default::default()
            };
            d.medium = Some(medium);
            d.reset();
            d.set_signature();
        }
    }

    /// Attaches an ATAPI CD-ROM drive at `channel`/`unit`, with or without a
    /// disc (out-of-range positions are ignored).
    pub fn attach_cdrom(
        &mut self,
        channel: usize,
        unit: usize,
        medium: Option<Box<dyn BlockBackend>>,
    ) {
        if let Some(d) = self.drive_mut(channel, unit) {
            d.st = IdeDriveState {
                kind: IdeDriveKind::Cdrom,
                ..Default::default()
            };
            d.medium = medium;
            d.reset();
            d.set_signature();
        }
    }

    /// Inserts (`Some`) or removes (`None`) the disc of the CD-ROM drive at
    /// `channel`/`unit`, from the host side (the guest's lock is not
    /// honoured). The guest sees a unit attention and a media event. No
    /// effect on a position without a CD-ROM drive.
    pub fn set_cdrom_medium(
        &mut self,
        channel: usize,
        unit: usize,
        medium: Option<Box<dyn BlockBackend>>,
    ) {
        let Some(d) = self.drive_mut(channel, unit) else {
            return;
        };
        if d.st.kind != IdeDriveKind::Cdrom {
            return;
        }
        let inserted = medium.is_some();
        d.medium = medium;
        d.cdrom().medium_changed(inserted);
    }

    /// A system reset (PCIRST#): configuration space and every register to
    /// their power-on values, with the same drives and media attached.
    pub fn reset(&mut self) {
        let mut fresh = Ide::new();
        for c in 0..IDE_CHANNELS {
            for u in 0..2 {
                let Some(d) = self.drive_mut(c, u) else {
                    continue;
                };
                let (kind, medium) = (d.st.kind, d.medium.take());
                match kind {
                    IdeDriveKind::Disk => {
                        if let Some(m) = medium {
                            fresh.attach_disk(c, u, m);
                        }
                    }
                    IdeDriveKind::Cdrom => fresh.attach_cdrom(c, u, medium),
                    IdeDriveKind::None => {}
                }
            }
        }
        *self = fresh;
    }

    /// The medium at a position, if any (machine snapshots save an
    /// overlay's writes through it).
    pub fn medium(&self, channel: usize, unit: usize) -> Option<&(dyn BlockBackend + 'static)> {
        self.channels
            .get(channel)?
            .drives
            .get(unit)?
            .medium
            .as_deref()
    }

    /// [`Ide::medium`], to change.
    pub fn medium_mut(
        &mut self,
        channel: usize,
        unit: usize,
    ) -> Option<&mut (dyn BlockBackend + 'static)> {
        self.drive_mut(channel, unit)?.medium.as_deref_mut()
    }

    /// Takes the disc out of the CD-ROM drive (or the disk out of the
    /// position) and gives it back, e.g. to save its writes.
    pub fn take_medium(&mut self, channel: usize, unit: usize) -> Option<Box<dyn BlockBackend>> {
        self.drive_mut(channel, unit)?.medium.take()
    }

    /// The base port of the 16 bus-master registers (BAR4) while I/O decode
    /// is on and it is assigned.
    pub fn bus_master_base(&self) -> Option<u16> {
        self.config.bar(PIIX_BMIBA_BAR).map(|b| b as u16)
    }

    /// INTRQ of `channel` (0: IRQ 14, 1: IRQ 15): a pending interrupt not
    /// masked by nIEN.
    pub fn irq_level(&self, channel: usize) -> bool {
        self.channels
            .get(channel)
            .is_some_and(|c| c.irq_pending && c.dev_ctl & ATA_CB_DC_NIEN == 0)
    }

    /// A read of command block port `offset` (0-7) of `channel`.
    pub fn command_read(&mut self, channel: usize, offset: u16, size: AccessSize) -> u32 {
        let Some(c) = self.channels.get_mut(channel) else {
            return absent_read(size);
        };
        if offset == ATA_REG_DATA && matches!(size, 2 | 4) {
            return c.data_read(size);
        }
        read_bytes(offset, size, |o| c.reg_read(o))
    }

    /// A write of command block port `offset` (0-7) of `channel`; a
    /// command that transfers by DMA runs here if the bus master is already
    /// started.
    pub fn command_write(
        &mut self,
        channel: usize,
        offset: u16,
        size: AccessSize,
        value: u32,
        mem: &mut dyn DmaMemory,
    ) {
        let Some(c) = self.channels.get_mut(channel) else {
            return;
        };
        if offset == ATA_REG_DATA && matches!(size, 2 | 4) {
            c.data_write(size, value);
        } else {
            write_bytes(offset, size, value, |o, v| c.reg_write(o, v));
        }
        c.try_dma(mem);
    }

    /// A read of the control block port (0x3F6/0x376): alternate status,
    /// which does not acknowledge the interrupt.
    pub fn control_read(&mut self, channel: usize) -> u8 {
        self.channels.get(channel).map_or(0xFF, Channel::status)
    }

    /// A write of the control block port: device control.
    pub fn control_write(&mut self, channel: usize, value: u8) {
        if let Some(c) = self.channels.get_mut(channel) {
            c.control_write(value);
        }
    }

    /// A read of bus-master register `offset` (0-15).
    pub fn bus_master_read(&mut self, offset: u16, size: AccessSize) -> u32 {
        read_bytes(offset, size, |o| {
            let Some(c) = self.channels.get(usize::from(o >> 3)) else {
                return 0xFF;
            };
            match o & 7 {
                BM_REG_COMMAND => c.bm_cmd,
                BM_REG_STATUS => c.bm_status,
                r @ 4..=7 => (c.bm_prd >> (8 * (r - BM_REG_PRD))) as u8,
                _ => 0xFF,
            }
        })
    }

    /// A write of bus-master register `offset` (0-15); starting the engine
    /// runs a pending DMA command.
    pub fn bus_master_write(
        &mut self,
        offset: u16,
        size: AccessSize,
        value: u32,
        mem: &mut dyn DmaMemory,
    ) {
        write_bytes(offset, size, value, |o, v| {
            if let Some(c) = self.channels.get_mut(usize::from(o >> 3)) {
                c.bm_write(o & 7, v);
            }
        });
        for c in &mut self.channels {
            c.try_dma(mem);
        }
    }

    fn drive_mut(&mut self, channel: usize, unit: usize) -> Option<&mut Drive> {
        self.channels.get_mut(channel)?.drives.get_mut(unit)
    }
}

/// The configuration header of 00:01.1 at power-on (QEMU `piix_ide_reset`).
fn new_config() -> ConfigSpace {
    let mut config = ConfigSpace::new(INTEL_VENDOR_ID, PIIX3_IDE_DEVICE_ID, 0, PIIX3_IDE_CLASS, 0);
    config.set_u16(PCI_COMMAND, 0);
    config.set_u16(PCI_STATUS, PCI_STATUS_DEVSEL_MEDIUM | PCI_STATUS_FAST_BACK);
    config.set_bar(PIIX_BMIBA_BAR, BarKind::Io, BM_IO_SIZE);
    config.set_writable(PIIX_IDETIM_PRIMARY, 0xFFFF, 2);
    config.set_writable(PIIX_IDETIM_SECONDARY, 0xFFFF, 2);
    config.set_writable(PIIX_SIDETIM, 0xFF, 1);
    config
}

impl Channel {
    fn has_devices(&self) -> bool {
        self.drives.iter().any(|d| d.st.kind != IdeDriveKind::None)
    }

    fn cur(&mut self) -> &mut Drive {
        &mut self.drives[self.unit & 1]
    }

    /// Status of the selected position: 0xFF with nothing on the channel
    /// (floating bus), 0 for an absent device beside a present one.
    fn status(&self) -> u8 {
        if !self.has_devices() {
            return 0xFF;
        }
        let d = &self.drives[self.unit & 1];
        if d.st.kind == IdeDriveKind::None {
            0
        } else {
            d.st.status
        }
    }

    fn reg_read(&mut self, reg: u16) -> u8 {
        if !self.has_devices() {
            return 0xFF;
        }
        if reg == ATA_REG_STATUS {
            self.irq_pending = false;
            return self.status();
        }
        let hob = self.dev_ctl & ATA_CB_DC_HOB != 0;
        let s = &self.drives[self.unit & 1].st;
        match (reg, hob) {
            (ATA_REG_ERROR, false) => s.error,
            (ATA_REG_ERROR, true) => s.hob_feature,
            (ATA_REG_NSECTOR, false) => s.nsector,
            (ATA_REG_NSECTOR, true) => s.hob_nsector,
            (ATA_REG_LBA_LOW, false) => s.sector,
            (ATA_REG_LBA_LOW, true) => s.hob_sector,
            (ATA_REG_LBA_MID, false) => s.lcyl,
            (ATA_REG_LBA_MID, true) => s.hob_lcyl,
            (ATA_REG_LBA_HIGH, false) => s.hcyl,
            (ATA_REG_LBA_HIGH, true) => s.hob_hcyl,
            (ATA_REG_DEVICE, _) => s.select,
            _ => 0xFF,
        }
    }

    /// A byte write to the task file. Registers 1-6 are written to both
    /// positions (both drives listen) and ignored while the selected one is
    /// busy or transferring, as QEMU; each write pushes the old value into
    /// the HOB copy for LBA48.
    fn reg_write(&mut self, reg: u16, v: u8) {
        self.dev_ctl &= !ATA_CB_DC_HOB;
        if reg == ATA_REG_STATUS {
            self.irq_pending = false;
            let unit = self.unit & 1;
            self.drives[unit].exec(v);
            self.sync_irq();
            return;
        }
        if !(ATA_REG_ERROR..=ATA_REG_DEVICE).contains(&reg)
            || self.cur().st.status & (ATA_SR_BSY | ATA_SR_DRQ) != 0
        {
            return;
        }
        for d in &mut self.drives {
            d.st.write_reg(reg, v);
        }
        if reg == ATA_REG_DEVICE {
            self.unit = usize::from(v & ATA_DEV_DEV != 0);
        }
    }

    fn control_write(&mut self, v: u8) {
        let was = self.dev_ctl & ATA_CB_DC_SRST != 0;
        let now = v & ATA_CB_DC_SRST != 0;
        if !was && now {
            for d in &mut self.drives {
                d.reset();
                d.st.status = ATA_SR_BSY | ATA_SR_DSC;
                d.st.error = ATA_DIAG_PASSED;
            }
            self.unit = 0;
            self.irq_pending = false;
            self.bm_status &= !BM_STATUS_ACTIVE;
        } else if was && !now {
            for d in &mut self.drives {
                d.set_signature();
                d.st.status = d.ready_status();
            }
        }
        self.dev_ctl = v;
    }

    fn data_read(&mut self, size: AccessSize) -> u32 {
        let v = self.cur().data_read(size);
        self.sync_irq();
        v
    }

    fn data_write(&mut self, size: AccessSize, value: u32) {
        self.cur().data_write(size, value);
        self.sync_irq();
    }

    /// Applies an interrupt a drive asserted: latches INTRQ and the bus
    /// master's interrupt bit unless nIEN masks it (then the interrupt is
    /// lost, as QEMU).
    fn sync_irq(&mut self) {
        for unit in 0..IDE_UNITS {
            if std::mem::take(&mut self.drives[unit].irq_event)
                && self.dev_ctl & ATA_CB_DC_NIEN == 0
            {
                self.irq_pending = true;
                self.bm_status |= BM_STATUS_INT;
            }
        }
    }

    fn bm_write(&mut self, reg: u16, v: u8) {
        match reg {
            BM_REG_COMMAND => {
                if v & BM_CMD_START == 0 {
                    self.bm_status &= !BM_STATUS_ACTIVE;
                } else if self.bm_cmd & BM_CMD_START == 0 {
                    self.bm_status |= BM_STATUS_ACTIVE;
                }
                self.bm_cmd = v & (BM_CMD_START | BM_CMD_WRITE_MEMORY);
            }
            BM_REG_STATUS => {
                let keep = BM_STATUS_DRIVE0_DMA | BM_STATUS_DRIVE1_DMA;
                self.bm_status = (v & keep)
                    | (self.bm_status & BM_STATUS_ACTIVE)
                    | (self.bm_status & !v & (BM_STATUS_ERROR | BM_STATUS_INT));
            }
            4..=7 => {
                let shift = 8 * u32::from(reg - BM_REG_PRD);
                let prd = (self.bm_prd & !(0xFF << shift)) | u32::from(v) << shift;
                self.bm_prd = prd & !3;
            }
            _ => {}
        }
    }

    /// Runs a DMA command when both it and the engine have started.
    fn try_dma(&mut self, mem: &mut dyn DmaMemory) {
        if self.bm_status & BM_STATUS_ACTIVE == 0 || self.bm_cmd & BM_CMD_START == 0 {
            return;
        }
        let Some(unit) = (0..IDE_UNITS).find(|&u| self.drives[u].st.phase.is_dma()) else {
            return;
        };
        let prds = self.prd_list(mem);
        let drive = &mut self.drives[unit];
        let need = drive.dma_len();
        let capacity: u64 = prds.iter().map(|p| p.1).sum();
        if capacity < need {
            self.bm_status = (self.bm_status & !BM_STATUS_ACTIVE) | BM_STATUS_ERROR;
            drive.fail(ATA_ER_ABRT);
        } else {
            drive.dma_transfer(&prds, mem);
            if capacity == need {
                self.bm_status &= !BM_STATUS_ACTIVE;
            }
        }
        self.sync_irq();
    }

    /// The PRD table: (address, byte count) pairs up to the end-of-table
    /// bit, at most one page of entries.
    fn prd_list(&self, mem: &mut dyn DmaMemory) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        for i in 0..PRD_MAX_ENTRIES {
            let mut e = [0u8; 8];
            mem.dma_read(u64::from(self.bm_prd) + 8 * i, &mut e);
            let addr = u32::from_le_bytes([e[0], e[1], e[2], e[3]]) & !1;
            let flags = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
            let len = match u64::from(flags & 0xFFFE) {
                0 => PRD_MAX_BYTES,
                n => n,
            };
            out.push((u64::from(addr), len));
            if flags & PRD_EOT != 0 {
                break;
            }
        }
        out
    }
}

impl IdePhase {
    fn is_dma(self) -> bool {
        matches!(
            self,
            IdePhase::DmaRead | IdePhase::DmaWrite | IdePhase::AtapiDma
        )
    }
}

impl IdeDriveState {
    fn write_reg(&mut self, reg: u16, v: u8) {
        let (cur, hob) = match reg {
            ATA_REG_ERROR => (&mut self.feature, &mut self.hob_feature),
            ATA_REG_NSECTOR => (&mut self.nsector, &mut self.hob_nsector),
            ATA_REG_LBA_LOW => (&mut self.sector, &mut self.hob_sector),
            ATA_REG_LBA_MID => (&mut self.lcyl, &mut self.hob_lcyl),
            ATA_REG_LBA_HIGH => (&mut self.hcyl, &mut self.hob_hcyl),
            _ => {
                self.select = v | ATA_DEV_OBS;
                return;
            }
        };
        *hob = *cur;
        *cur = v;
    }
}

impl Drive {
    fn is_cd(&self) -> bool {
        self.st.kind == IdeDriveKind::Cdrom
    }

    fn cdrom(&mut self) -> Cdrom<'_> {
        Cdrom {
            st: &mut self.st.atapi,
            medium: self.medium.as_deref(),
        }
    }

    /// Status after reset: a packet device does not set DRDY.
    fn ready_status(&self) -> u8 {
        ready_status(self.st.kind)
    }

    /// Resets the protocol state and settings a reset returns to default.
    fn reset(&mut self) {
        let s = &mut self.st;
        s.phase = IdePhase::Idle;
        s.buffer = Vec::new();
        s.reply = Vec::new();
        s.data_pos = 0;
        s.mult_sectors = MAX_MULT_SECTORS;
        s.heads = DEFAULT_HEADS;
        s.sectors = DEFAULT_SECTORS;
        s.feature = 0;
        s.hob_feature = 0;
        // After reset device 0 is selected on both (DEV clear).
        s.select = ATA_DEV_OBS;
        s.atapi.sense_key = SENSE_NONE;
        s.atapi.asc = 0;
        s.status = ready_status(s.kind);
        self.irq_event = false;
    }

    /// The reset signature: sector count and LBA low 1, LBA mid/high 00/00
    /// for ATA and 14/EB for ATAPI; diagnostic code in the error register.
    fn set_signature(&mut self) {
        let s = &mut self.st;
        s.select &= 0xF0;
        s.select |= ATA_DEV_OBS;
        s.nsector = 1;
        s.sector = 1;
        (s.lcyl, s.hcyl) = match s.kind {
            IdeDriveKind::Cdrom => (0x14, 0xEB),
            IdeDriveKind::Disk => (0, 0),
            IdeDriveKind::None => (0xFF, 0xFF),
        };
        s.error = ATA_DIAG_PASSED;
    }

    fn raise_irq(&mut self) {
        self.irq_event = true;
    }

    /// Command completion without data: DRDY + DSC, interrupt.
    fn done(&mut self) {
        self.st.phase = IdePhase::Idle;
        self.st.status = ATA_SR_DRDY | ATA_SR_DSC;
        self.raise_irq();
    }

    /// Command failure with `error` bits: DRDY + ERR, interrupt.
    fn fail(&mut self, error: u8) {
        self.st.phase = IdePhase::Idle;
        self.st.buffer = Vec::new();
        self.st.data_pos = 0;
        self.st.status = ATA_SR_DRDY | ATA_SR_ERR;
        self.st.error = error;
        if self.is_cd() {
            self.st.nsector = ATAPI_INT_REASON_IO | ATAPI_INT_REASON_COD;
        }
        self.raise_irq();
    }

    fn abort(&mut self) {
        self.fail(ATA_ER_ABRT);
    }

    /// Offers `data` to the host by PIO, with DRQ (and an interrupt if
    /// `irq`).
    fn start_pio_in(&mut self, phase: IdePhase, data: Vec<u8>, irq: bool) {
        self.st.phase = phase;
        self.st.buffer = data;
        self.st.data_pos = 0;
        self.st.status = ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ;
        if irq {
            self.raise_irq();
        }
    }

    /// Asks the host for `len` bytes by PIO.
    fn start_pio_out(&mut self, phase: IdePhase, len: usize, irq: bool) {
        self.start_pio_in(phase, vec![0; len], irq);
    }

    /// Executes a command written to the command register.
    fn exec(&mut self, cmd: u8) {
        if self.st.kind == IdeDriveKind::None {
            return;
        }
        if self.st.status & (ATA_SR_BSY | ATA_SR_DRQ) != 0
            && !(cmd == ATA_CMD_DEVICE_RESET && self.is_cd())
        {
            return;
        }
        self.st.error = 0;
        if self.is_cd() {
            self.exec_cd(cmd);
        } else {
            self.exec_disk(cmd);
        }
    }

    fn exec_cd(&mut self, cmd: u8) {
        match cmd {
            ATA_CMD_DEVICE_RESET => {
                self.reset();
                self.set_signature();
            }
            ATA_CMD_EXECUTE_DIAGNOSTIC => self.diagnostic(),
            ATA_CMD_IDENTIFY => {
                // ATA-6 9.12: a packet device aborts IDENTIFY DEVICE and
                // shows its signature so the host knows to use PACKET.
                self.set_signature();
                self.abort();
            }
            ATA_CMD_IDENTIFY_PACKET => {
                let id = self.identify_packet();
                self.start_pio_in(IdePhase::PioIn, id, true);
            }
            ATA_CMD_PACKET => self.packet(),
            ATA_CMD_SET_FEATURES => self.set_features(),
            ATA_CMD_CHECK_POWER_MODE => {
                self.st.nsector = 0xFF;
                self.done();
            }
            ATA_CMD_STANDBY_IMMEDIATE | ATA_CMD_IDLE_IMMEDIATE | ATA_CMD_SLEEP => self.done(),
            _ => self.abort(),
        }
    }

    fn exec_disk(&mut self, cmd: u8) {
        match cmd {
            ATA_CMD_READ_SECTORS | ATA_CMD_READ_SECTORS_NR => self.pio_read(false, 1),
            ATA_CMD_READ_SECTORS_EXT => self.pio_read(true, 1),
            ATA_CMD_READ_MULTIPLE => self.pio_read(false, self.st.mult_sectors),
            ATA_CMD_READ_MULTIPLE_EXT => self.pio_read(true, self.st.mult_sectors),
            ATA_CMD_WRITE_SECTORS | ATA_CMD_WRITE_SECTORS_NR => self.pio_write(false, 1),
            ATA_CMD_WRITE_SECTORS_EXT => self.pio_write(true, 1),
            ATA_CMD_WRITE_MULTIPLE => self.pio_write(false, self.st.mult_sectors),
            ATA_CMD_WRITE_MULTIPLE_EXT => self.pio_write(true, self.st.mult_sectors),
            ATA_CMD_READ_DMA | ATA_CMD_READ_DMA_NR => self.dma_start(false, IdePhase::DmaRead),
            ATA_CMD_READ_DMA_EXT => self.dma_start(true, IdePhase::DmaRead),
            ATA_CMD_WRITE_DMA | ATA_CMD_WRITE_DMA_NR => self.dma_start(false, IdePhase::DmaWrite),
            ATA_CMD_WRITE_DMA_EXT => self.dma_start(true, IdePhase::DmaWrite),
            ATA_CMD_READ_VERIFY | ATA_CMD_READ_VERIFY_NR => self.verify(false),
            ATA_CMD_READ_VERIFY_EXT => self.verify(true),
            ATA_CMD_FLUSH_CACHE | ATA_CMD_FLUSH_CACHE_EXT => self.flush(),
            ATA_CMD_IDENTIFY => {
                let id = self.identify();
                self.start_pio_in(IdePhase::PioIn, id, true);
            }
            ATA_CMD_SET_MULTIPLE => self.set_multiple(),
            ATA_CMD_INITIALIZE_PARAMS => self.initialize_params(),
            ATA_CMD_SET_FEATURES => self.set_features(),
            ATA_CMD_EXECUTE_DIAGNOSTIC => self.diagnostic(),
            ATA_CMD_CHECK_POWER_MODE => {
                self.st.nsector = 0xFF; // active or idle
                self.done();
            }
            ATA_CMD_STANDBY_IMMEDIATE
            | ATA_CMD_IDLE_IMMEDIATE
            | ATA_CMD_STANDBY
            | ATA_CMD_IDLE
            | ATA_CMD_SLEEP => self.done(),
            0x10..=0x1F | 0x70..=0x7F => self.done(), // RECALIBRATE, SEEK
            _ => self.abort(),
        }
    }

    fn diagnostic(&mut self) {
        self.set_signature();
        self.st.phase = IdePhase::Idle;
        self.st.status = self.ready_status();
        self.raise_irq();
    }

    // ---- ATA disk ----

    fn disk_sectors(&self) -> u64 {
        self.medium
            .as_ref()
            .map_or(0, |m| m.len() / SECTOR_SIZE as u64)
    }

    /// The default CHS geometry: 16 heads, 63 sectors, cylinders capped.
    fn cylinders(&self) -> u64 {
        (self.disk_sectors() / (u64::from(DEFAULT_HEADS) * u64::from(DEFAULT_SECTORS)))
            .clamp(2, MAX_CYLINDERS)
    }

    /// The starting sector of a command from the task file: LBA48, LBA28
    /// or CHS through the current translation (`None` for an invalid CHS
    /// address).
    fn command_lba(&self, lba48: bool) -> Option<u64> {
        let s = &self.st;
        let low24 = u64::from(s.hcyl) << 16 | u64::from(s.lcyl) << 8 | u64::from(s.sector);
        if lba48 {
            let high =
                u64::from(s.hob_hcyl) << 16 | u64::from(s.hob_lcyl) << 8 | u64::from(s.hob_sector);
            return Some(high << 24 | low24);
        }
        if s.select & ATA_DEV_LBA != 0 {
            return Some(u64::from(s.select & 0x0F) << 24 | low24);
        }
        let (heads, secs) = (u64::from(s.heads), u64::from(s.sectors));
        let head = u64::from(s.select & 0x0F);
        let cyl = u64::from(s.hcyl) << 8 | u64::from(s.lcyl);
        let sect = u64::from(s.sector);
        if sect == 0 || sect > secs || head >= heads {
            return None;
        }
        Some((cyl * heads + head) * secs + sect - 1)
    }

    /// Writes `lba` back into the task file in the command's addressing
    /// mode, as the device does after each block.
    fn set_lba(&mut self, lba: u64) {
        let s = &mut self.st;
        if s.lba48 || s.select & ATA_DEV_LBA != 0 {
            s.sector = lba as u8;
            s.lcyl = (lba >> 8) as u8;
            s.hcyl = (lba >> 16) as u8;
            if s.lba48 {
                s.hob_sector = (lba >> 24) as u8;
                s.hob_lcyl = (lba >> 32) as u8;
                s.hob_hcyl = (lba >> 40) as u8;
            } else {
                s.select = (s.select & 0xF0) | ((lba >> 24) as u8 & 0x0F);
            }
            return;
        }
        let (heads, secs) = (u64::from(s.heads.max(1)), u64::from(s.sectors.max(1)));
        let cyl = lba / (heads * secs);
        let r = lba % (heads * secs);
        s.hcyl = (cyl >> 8) as u8;
        s.lcyl = cyl as u8;
        s.select = (s.select & 0xF0) | (r / secs) as u8 & 0x0F;
        s.sector = (r % secs + 1) as u8;
    }

    /// The sector count of the command (0 means 256, or 65536 for LBA48).
    fn command_count(&self, lba48: bool) -> u32 {
        let n = if lba48 {
            u32::from(self.st.hob_nsector) << 8 | u32::from(self.st.nsector)
        } else {
            u32::from(self.st.nsector)
        };
        match (n, lba48) {
            (0, true) => 0x1_0000,
            (0, false) => 0x100,
            (n, _) => n,
        }
    }

    fn set_remaining_count(&mut self, n: u32) {
        self.st.nsector = n as u8;
        if self.st.lba48 {
            self.st.hob_nsector = (n >> 8) as u8;
        }
    }

    /// Decodes and range-checks a read/write command: fails it (IDNF) and
    /// returns false if the range is outside the medium.
    fn setup_rw(&mut self, lba48: bool) -> bool {
        self.st.lba48 = lba48;
        let count = self.command_count(lba48);
        match self.command_lba(lba48) {
            Some(lba) if lba + u64::from(count) <= self.disk_sectors() => {
                self.st.lba = lba;
                self.st.sectors_left = count;
                self.st.xfer_offset = 0;
                true
            }
            _ => {
                self.fail(ATA_ER_IDNF);
                false
            }
        }
    }

    fn writable(&self) -> bool {
        self.medium.as_ref().is_some_and(|m| !m.read_only())
    }

    fn pio_read(&mut self, lba48: bool, block: u8) {
        if block == 0 {
            return self.abort(); // READ MULTIPLE with multiple mode off
        }
        if self.setup_rw(lba48) {
            self.st.block_sectors = block;
            self.next_read_block();
        }
    }

    /// Loads the next block of a PIO read and interrupts; UNC on a host
    /// read error.
    fn next_read_block(&mut self) {
        let n = self.st.sectors_left.min(u32::from(self.st.block_sectors));
        let mut buf = vec![0u8; n as usize * SECTOR_SIZE];
        let offset = self.st.lba * SECTOR_SIZE as u64;
        let ok = self
            .medium
            .as_mut()
            .is_some_and(|m| m.read(offset, &mut buf).is_ok());
        if !ok {
            self.set_lba(self.st.lba);
            return self.fail(ATA_ER_UNC);
        }
        self.advance(n);
        self.start_pio_in(IdePhase::AtaRead, buf, true);
    }

    /// Moves the command's position past `n` sectors and shows it in the
    /// task file.
    fn advance(&mut self, n: u32) {
        self.st.lba = self.st.lba.wrapping_add(u64::from(n));
        self.st.sectors_left = self.st.sectors_left.saturating_sub(n);
        self.set_lba(self.st.lba);
        self.set_remaining_count(self.st.sectors_left);
    }

    fn pio_write(&mut self, lba48: bool, block: u8) {
        if block == 0 || !self.writable() {
            return self.abort();
        }
        if self.setup_rw(lba48) {
            self.st.block_sectors = block;
            let n = self.st.sectors_left.min(u32::from(block));
            // ATA-6 9.8: no interrupt before the first block of PIO out.
            self.start_pio_out(IdePhase::AtaWrite, n as usize * SECTOR_SIZE, false);
        }
    }

    /// The host filled a PIO write block: write it, then ask for the next
    /// block or complete.
    fn write_block_done(&mut self) {
        let buf = std::mem::take(&mut self.st.buffer);
        let offset = self.st.lba * SECTOR_SIZE as u64;
        let ok = self
            .medium
            .as_mut()
            .is_some_and(|m| m.write(offset, &buf).is_ok());
        if !ok {
            return self.abort();
        }
        self.advance((buf.len() / SECTOR_SIZE) as u32);
        if self.st.sectors_left == 0 {
            return self.done();
        }
        let n = self.st.sectors_left.min(u32::from(self.st.block_sectors));
        self.start_pio_out(IdePhase::AtaWrite, n as usize * SECTOR_SIZE, true);
    }

    fn dma_start(&mut self, lba48: bool, phase: IdePhase) {
        if phase == IdePhase::DmaWrite && !self.writable() {
            return self.abort();
        }
        if self.setup_rw(lba48) {
            // DRQ until the bus master moves the data (QEMU shows DRQ too).
            self.st.phase = phase;
            self.st.status = ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ;
        }
    }

    fn verify(&mut self, lba48: bool) {
        if self.setup_rw(lba48) {
            let n = self.st.sectors_left;
            self.advance(n);
            self.done();
        }
    }

    fn flush(&mut self) {
        let ok = self.medium.as_mut().is_some_and(|m| m.flush().is_ok());
        if ok {
            self.done();
        } else {
            self.abort();
        }
    }

    /// SET MULTIPLE MODE: a power of two up to 16 sectors, or 0 to
    /// disable.
    fn set_multiple(&mut self) {
        let n = self.st.nsector;
        if n > MAX_MULT_SECTORS || (n != 0 && !n.is_power_of_two()) {
            return self.abort();
        }
        self.st.mult_sectors = n;
        self.done();
    }

    /// INITIALIZE DEVICE PARAMETERS: the CHS translation for later
    /// commands (heads from the device register, sectors per track from
    /// the sector count).
    fn initialize_params(&mut self) {
        if self.st.nsector == 0 {
            return self.abort();
        }
        self.st.heads = (self.st.select & 0x0F) + 1;
        self.st.sectors = self.st.nsector;
        self.done();
    }

    fn set_features(&mut self) {
        match self.st.feature {
            SETFEATURES_WC_ON => self.st.write_cache = true,
            SETFEATURES_WC_OFF => self.st.write_cache = false,
            SETFEATURES_XFER => {
                // PIO default/flow control (00h/01h), single-word DMA
                // (02h), multiword DMA (04h), Ultra DMA (08h); modes 0-7.
                if !matches!(self.st.nsector >> 3, 0x00 | 0x01 | 0x02 | 0x04 | 0x08) {
                    return self.abort();
                }
                self.st.xfer_mode = self.st.nsector;
            }
            f if SETFEATURES_IGNORED.contains(&f) => {}
            _ => return self.abort(),
        }
        self.done();
    }

    /// The "current mode" bits of words 62, 63 and 88 from SET FEATURES.
    fn mode_word(&self, class: u8, supported: u16) -> u16 {
        if self.st.xfer_mode >> 3 == class {
            supported | 1 << (8 + (self.st.xfer_mode & 7))
        } else {
            supported
        }
    }

    /// IDENTIFY DEVICE data of a disk.
    fn identify(&self) -> Vec<u8> {
        let mut w = [0u16; 256];
        let sectors = self.disk_sectors();
        let cyl = self.cylinders() as u16;
        let (heads, secs) = (u16::from(DEFAULT_HEADS), u16::from(DEFAULT_SECTORS));
        w[0] = 0x0040; // fixed device
        w[1] = cyl;
        w[3] = heads;
        w[4] = 512 * secs;
        w[5] = 512;
        w[6] = secs;
        self.put_strings(&mut w, "ANYX86 HARDDISK");
        w[47] = 0x8000 | u16::from(MAX_MULT_SECTORS);
        w[48] = 1; // dword I/O
        w[49] = 1 << 11 | 1 << 9 | 1 << 8; // IORDY, LBA, DMA
        w[51] = 0x200;
        w[52] = 0x200;
        w[53] = 1 | 2 | 4; // words 54-58, 64-70 and 88 valid
        let (lh, ls) = (u64::from(self.st.heads), u64::from(self.st.sectors));
        let lcyl = (sectors / (lh * ls).max(1)).min(0xFFFF);
        w[54] = lcyl as u16;
        w[55] = u16::from(self.st.heads);
        w[56] = u16::from(self.st.sectors);
        put32(&mut w, 57, (lcyl * lh * ls).min(u64::from(u32::MAX)) as u32);
        if self.st.mult_sectors != 0 {
            w[59] = 0x100 | u16::from(self.st.mult_sectors);
        }
        put32(&mut w, 60, sectors.min(0x0FFF_FFFF) as u32);
        w[62] = self.mode_word(0x02, 0x07);
        w[63] = self.mode_word(0x04, 0x07);
        w[64] = 0x03; // PIO 3 and 4
        w[65] = 120;
        w[66] = 120;
        w[67] = 120;
        w[68] = 120;
        w[80] = 0x7E; // ATA-1 to ATA-6
        w[82] = 1 << 14 | 1 << 5; // NOP, write cache
        w[83] = 1 << 14 | 1 << 13 | 1 << 12 | 1 << 10; // FLUSH EXT, FLUSH, LBA48
        w[84] = 1 << 14;
        w[85] = 1 << 14 | u16::from(self.st.write_cache) << 5;
        w[86] = 1 << 13 | 1 << 12 | 1 << 10;
        w[87] = 1 << 14;
        w[88] = self.mode_word(0x08, 0x3F);
        w[93] = 1 | 1 << 14 | 1 << 13; // device 0 passed, 80-wire cable
        put32(&mut w, 100, sectors as u32);
        put32(&mut w, 102, (sectors >> 32) as u32);
        finish_identify(w)
    }

    /// IDENTIFY PACKET DEVICE data of a CD-ROM drive.
    fn identify_packet(&self) -> Vec<u8> {
        let mut w = [0u16; 256];
        // ATAPI, CD-ROM (type 5), removable, DRQ within 50 us, 12-byte
        // packets.
        w[0] = 2 << 14 | 5 << 8 | 1 << 7 | 2 << 5;
        self.put_strings(&mut w, "ANYX86 CD-ROM");
        w[48] = 1;
        w[49] = 1 << 11 | 1 << 9 | 1 << 8; // IORDY, LBA, DMA
        w[53] = 1 | 2 | 4;
        w[62] = self.mode_word(0x02, 0x07);
        w[63] = self.mode_word(0x04, 0x07);
        w[64] = 0x03;
        w[65] = 0xB4;
        w[66] = 0xB4;
        w[67] = 0x12C;
        w[68] = 0xB4;
        w[71] = 30;
        w[72] = 30;
        w[80] = 0x1E; // ATA-1 to ATA-4
        w[82] = 1 << 14 | 1 << 4; // NOP, PACKET feature set
        w[83] = 1 << 14;
        w[84] = 1 << 14;
        w[85] = 1 << 14 | 1 << 4;
        w[87] = 1 << 14;
        w[88] = self.mode_word(0x08, 0x3F);
        w[93] = 1 | 1 << 14 | 1 << 13;
        finish_identify(w)
    }

    /// Serial number (words 10-19), buffer type and size, firmware
    /// revision (23-26) and model (27-46).
    fn put_strings(&self, w: &mut [u16; 256], model: &str) {
        put_string(&mut w[10..20], "ANYX86-0001");
        w[20] = 3;
        w[21] = 512;
        w[22] = 4;
        put_string(&mut w[23..27], "1.0");
        put_string(&mut w[27..47], model);
    }

    // ---- ATAPI transport ----

    /// PACKET: ask for the 12-byte command (no interrupt: DRQ within
    /// 50 us, IDENTIFY PACKET word 0 bits 6:5).
    fn packet(&mut self) {
        let limit = u16::from(self.st.hcyl) << 8 | u16::from(self.st.lcyl);
        self.st.byte_limit = limit;
        self.st.nsector = ATAPI_INT_REASON_COD;
        self.start_pio_out(IdePhase::AtapiPacket, ATAPI_PACKET_SIZE, false);
        self.st.status = ATA_SR_DRDY | ATA_SR_DRQ;
    }

    /// The host wrote the command packet: run it and start the reply.
    fn packet_received(&mut self) {
        let Some(Ok(cdb)) = self
            .st
            .buffer
            .get(..ATAPI_PACKET_SIZE)
            .map(<[u8; ATAPI_PACKET_SIZE]>::try_from)
        else {
            return self.abort();
        };
        let dma = self.st.feature & 1 != 0;
        let reply = self.cdrom().execute(&cdb);
        let (from_medium, offset, len, reply_buf) = match reply {
            Reply::Ok => return self.atapi_ok(),
            Reply::Error(key, asc) => return self.atapi_error(key, asc),
            Reply::Data(d) => (false, 0, d.len() as u64, d),
            Reply::Medium { offset, len } => (true, offset, len, Vec::new()),
        };
        if len == 0 {
            return self.atapi_ok();
        }
        self.st.from_medium = from_medium;
        self.st.xfer_offset = offset;
        self.st.xfer_left = len;
        self.st.reply = reply_buf;
        if dma {
            self.st.phase = IdePhase::AtapiDma;
            self.st.status = ATA_SR_DRDY | ATA_SR_DSC | ATA_SR_DRQ;
        } else {
            self.next_atapi_block();
        }
    }

    /// Successful completion of a packet command.
    fn atapi_ok(&mut self) {
        if self.st.atapi.sense_key != SENSE_UNIT_ATTENTION {
            self.st.atapi.sense_key = SENSE_NONE;
            self.st.atapi.asc = 0;
        }
        self.st.reply = Vec::new();
        self.st.nsector = ATAPI_INT_REASON_IO | ATAPI_INT_REASON_COD;
        self.done();
    }

    /// CHECK CONDITION: ERR with the sense key in the error register's
    /// high nibble.
    fn atapi_error(&mut self, key: u8, asc: u8) {
        self.st.atapi.sense_key = key;
        self.st.atapi.asc = asc;
        self.st.reply = Vec::new();
        self.fail(key << 4);
    }

    /// Reads `len` reply bytes at the current position.
    fn reply_bytes(&mut self, len: u64) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; len as usize];
        if self.st.from_medium {
            let m = self.medium.as_mut()?;
            m.read(self.st.xfer_offset, &mut buf).ok()?;
        } else {
            let start = usize::try_from(self.st.xfer_offset).ok()?;
            let end = start.checked_add(buf.len())?;
            buf.copy_from_slice(self.st.reply.get(start..end)?);
        }
        self.st.xfer_offset = self.st.xfer_offset.wrapping_add(len);
        self.st.xfer_left = self.st.xfer_left.saturating_sub(len);
        Some(buf)
    }

    /// The next PIO block of a reply: at most the byte count limit (even),
    /// reported in LBA mid/high, with IO set in the interrupt reason.
    fn next_atapi_block(&mut self) {
        let limit = match u64::from(self.st.byte_limit) & !1 {
            0 => ATAPI_MAX_PIO_BLOCK,
            n => n.min(ATAPI_MAX_PIO_BLOCK),
        };
        let len = self.st.xfer_left.min(limit);
        let Some(buf) = self.reply_bytes(len) else {
            return self.atapi_error(SENSE_MEDIUM_ERROR, ASC_UNRECOVERED_READ_ERROR);
        };
        self.st.lcyl = len as u8;
        self.st.hcyl = (len >> 8) as u8;
        self.st.nsector = ATAPI_INT_REASON_IO;
        self.start_pio_in(IdePhase::AtapiIn, buf, true);
    }

    // ---- PIO data port ----

    fn data_read(&mut self, size: AccessSize) -> u32 {
        if self.st.status & ATA_SR_DRQ == 0
            || !matches!(
                self.st.phase,
                IdePhase::PioIn | IdePhase::AtaRead | IdePhase::AtapiIn
            )
        {
            return 0;
        }
        let pos = self.st.data_pos as usize;
        let mut v = 0u32;
        for i in 0..usize::from(size) {
            let b = self.st.buffer.get(pos + i).copied().unwrap_or(0);
            v |= u32::from(b) << (8 * i);
        }
        self.st.data_pos = (pos + usize::from(size)) as u32;
        if self.st.data_pos as usize >= self.st.buffer.len() {
            self.pio_in_block_done();
        }
        v
    }

    fn pio_in_block_done(&mut self) {
        self.st.buffer = Vec::new();
        self.st.data_pos = 0;
        self.st.status &= !ATA_SR_DRQ;
        match self.st.phase {
            IdePhase::AtaRead if self.st.sectors_left > 0 => self.next_read_block(),
            IdePhase::AtapiIn if self.st.xfer_left > 0 => self.next_atapi_block(),
            IdePhase::AtapiIn => self.atapi_ok(),
            _ => {
                // The last block of a PIO data-in command: no interrupt.
                self.st.phase = IdePhase::Idle;
                self.st.status = ATA_SR_DRDY | ATA_SR_DSC;
            }
        }
    }

    fn data_write(&mut self, size: AccessSize, value: u32) {
        if self.st.status & ATA_SR_DRQ == 0
            || !matches!(self.st.phase, IdePhase::AtaWrite | IdePhase::AtapiPacket)
        {
            return;
        }
        let pos = self.st.data_pos as usize;
        for i in 0..usize::from(size) {
            if let Some(b) = self.st.buffer.get_mut(pos + i) {
                *b = (value >> (8 * i)) as u8;
            }
        }
        self.st.data_pos = (pos + usize::from(size)) as u32;
        if self.st.data_pos as usize >= self.st.buffer.len() {
            self.st.status &= !ATA_SR_DRQ;
            self.st.data_pos = 0;
            match self.st.phase {
                IdePhase::AtaWrite => self.write_block_done(),
                _ => self.packet_received(),
            }
        }
    }

    // ---- DMA ----

    /// Bytes the pending DMA command moves.
    fn dma_len(&self) -> u64 {
        match self.st.phase {
            IdePhase::AtapiDma => self.st.xfer_left,
            _ => u64::from(self.st.sectors_left) * SECTOR_SIZE as u64,
        }
    }

    /// Moves the whole pending DMA transfer through `prds` (which hold at
    /// least [`Drive::dma_len`] bytes) and completes the command.
    fn dma_transfer(&mut self, prds: &[(u64, u64)], mem: &mut dyn DmaMemory) {
        let mut left = self.dma_len();
        for &(addr, len) in prds {
            if left == 0 {
                break;
            }
            let n = len.min(left);
            let ok = match self.st.phase {
                IdePhase::DmaRead => self.dma_read_chunk(addr, n, mem),
                IdePhase::DmaWrite => self.dma_write_chunk(addr, n, mem),
                _ => self.dma_atapi_chunk(addr, n, mem),
            };
            if !ok {
                return;
            }
            left -= n;
        }
        match self.st.phase {
            IdePhase::AtapiDma => self.atapi_ok(),
            _ => {
                let n = self.st.sectors_left;
                self.advance(n);
                self.done();
            }
        }
    }

    /// The medium offset of the next DMA byte of an ATA command, given the
    /// bytes already moved (kept in `xfer_offset`).
    fn ata_dma_offset(&self) -> u64 {
        (self.st.lba * SECTOR_SIZE as u64).wrapping_add(self.st.xfer_offset)
    }

    fn dma_read_chunk(&mut self, addr: u64, n: u64, mem: &mut dyn DmaMemory) -> bool {
        let mut buf = vec![0u8; n as usize];
        let offset = self.ata_dma_offset();
        let ok = self
            .medium
            .as_mut()
            .is_some_and(|m| m.read(offset, &mut buf).is_ok());
        if !ok {
            self.fail(ATA_ER_UNC);
            return false;
        }
        mem.dma_write(addr, &buf);
        self.st.xfer_offset += n;
        true
    }

    fn dma_write_chunk(&mut self, addr: u64, n: u64, mem: &mut dyn DmaMemory) -> bool {
        let mut buf = vec![0u8; n as usize];
        mem.dma_read(addr, &mut buf);
        let offset = self.ata_dma_offset();
        let ok = self
            .medium
            .as_mut()
            .is_some_and(|m| m.write(offset, &buf).is_ok());
        if !ok {
            self.abort();
            return false;
        }
        self.st.xfer_offset += n;
        true
    }

    fn dma_atapi_chunk(&mut self, addr: u64, n: u64, mem: &mut dyn DmaMemory) -> bool {
        match self.reply_bytes(n) {
            Some(buf) => {
                mem.dma_write(addr, &buf);
                true
            }
            None => {
                self.atapi_error(SENSE_MEDIUM_ERROR, ASC_UNRECOVERED_READ_ERROR);
                false
            }
        }
    }
}

impl PciFunction for Ide {
    fn config(&self) -> &ConfigSpace {
        &self.config
    }

    fn config_write(&mut self, reg: u8, size: AccessSize, value: u32) {
        self.config.write(reg, size, value);
    }
}

impl Snapshot for Ide {
    type State = IdeState;

    fn save(&self) -> IdeState {
        IdeState {
            config: self.config.bytes().to_vec(),
            channels: [0, 1].map(|i| self.channels[i].save()),
        }
    }

    /// Restores everything but the media; the same kinds of drive must be
    /// attached (media are the machine's business).
    fn restore(&mut self, state: &IdeState) -> Result<(), SnapshotError> {
        for (c, s) in self.channels.iter().zip(&state.channels) {
            c.validate(s)?;
        }
        self.config.restore_bytes(&state.config)?;
        for (c, s) in self.channels.iter_mut().zip(&state.channels) {
            c.load(s);
        }
        Ok(())
    }
}

/// Most bytes a saved PIO buffer may hold (the largest ATAPI block).
const MAX_SAVED_BUFFER: usize = ATAPI_MAX_PIO_BLOCK as usize;
/// Most bytes a saved non-medium ATAPI reply may hold.
const MAX_SAVED_REPLY: usize = 4096;

fn invalid(field: &'static str, why: &'static str) -> SnapshotError {
    SnapshotError::Invalid { field, why }
}

impl Channel {
    fn save(&self) -> IdeChannelState {
        IdeChannelState {
            dev_ctl: self.dev_ctl,
            unit: self.unit as u8,
            irq_pending: self.irq_pending,
            bm_cmd: self.bm_cmd,
            bm_status: self.bm_status,
            bm_prd: self.bm_prd,
            drives: [0, 1].map(|i| self.drives[i].st.clone()),
        }
    }

    fn validate(&self, s: &IdeChannelState) -> Result<(), SnapshotError> {
        if s.unit > 1 {
            return Err(invalid("unit", "a channel has two units"));
        }
        if s.bm_prd & 3 != 0 || s.bm_cmd & !(BM_CMD_START | BM_CMD_WRITE_MEMORY) != 0 {
            return Err(invalid("bm", "reserved bus-master bits set"));
        }
        for (d, ds) in self.drives.iter().zip(&s.drives) {
            if d.st.kind != ds.kind {
                return Err(invalid("kind", "attach the same drives before restoring"));
            }
            validate_drive(ds)?;
        }
        Ok(())
    }

    fn load(&mut self, s: &IdeChannelState) {
        self.dev_ctl = s.dev_ctl;
        self.unit = usize::from(s.unit);
        self.irq_pending = s.irq_pending;
        self.bm_cmd = s.bm_cmd;
        self.bm_status = s.bm_status;
        self.bm_prd = s.bm_prd;
        for (d, ds) in self.drives.iter_mut().zip(&s.drives) {
            d.st = ds.clone();
            d.irq_event = false;
        }
    }
}

/// The ranges the transfer code relies on.
fn validate_drive(s: &IdeDriveState) -> Result<(), SnapshotError> {
    if s.buffer.len() > MAX_SAVED_BUFFER || s.data_pos as usize > s.buffer.len() {
        return Err(invalid(
            "buffer",
            "PIO buffer too large or position past it",
        ));
    }
    if s.reply.len() > MAX_SAVED_REPLY {
        return Err(invalid("reply", "ATAPI reply too large"));
    }
    if s.mult_sectors > MAX_MULT_SECTORS || s.block_sectors > MAX_MULT_SECTORS {
        return Err(invalid("mult_sectors", "more than 16 sectors per block"));
    }
    if s.sectors_left > 0x1_0000 || s.lba >= 1 << 48 {
        return Err(invalid("lba", "transfer past 48-bit addressing"));
    }
    if s.phase == IdePhase::AtapiPacket && s.buffer.len() != ATAPI_PACKET_SIZE {
        return Err(invalid("buffer", "a command packet is 12 bytes"));
    }
    Ok(())
}

/// Status of a drive after reset: ATA-6 9.12, packet devices leave DRDY
/// clear.
fn ready_status(kind: IdeDriveKind) -> u8 {
    match kind {
        IdeDriveKind::Disk => ATA_SR_DRDY | ATA_SR_DSC,
        _ => 0,
    }
}

/// Stores a 32-bit value in two IDENTIFY words, low word first.
fn put32(w: &mut [u16; 256], at: usize, v: u32) {
    w[at] = v as u16;
    w[at + 1] = (v >> 16) as u16;
}

/// Stores an ATA string: two characters per word, the first in the high
/// byte, padded with spaces.
fn put_string(words: &mut [u16], s: &str) {
    let mut chars = s.bytes().chain(std::iter::repeat(b' '));
    for w in words {
        let hi = chars.next().unwrap_or(b' ');
        let lo = chars.next().unwrap_or(b' ');
        *w = u16::from(hi) << 8 | u16::from(lo);
    }
}

/// Adds the integrity word (255: A5h signature, checksum making all 512
/// bytes sum to 0) and returns the bytes.
fn finish_identify(mut w: [u16; 256]) -> Vec<u8> {
    w[255] = 0x00A5;
    let mut bytes: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
    let sum = bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b));
    bytes[511] = sum.wrapping_neg();
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atapi::*;
    use crate::pci::test_util::{XorShift, SIZES};
    use anyx86_hw::{BlockError, MemDisk};
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A medium the test can still inspect after handing it to the drive.
    #[derive(Clone)]
    struct Shared(Rc<RefCell<MemDisk>>);

    impl BlockBackend for Shared {
        fn len(&self) -> u64 {
            self.0.borrow().len()
        }
        fn read_only(&self) -> bool {
            self.0.borrow().read_only
        }
        fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), BlockError> {
            self.0.borrow_mut().read(offset, buf)
        }
        fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), BlockError> {
            self.0.borrow_mut().write(offset, data)
        }
        fn flush(&mut self) -> Result<(), BlockError> {
            self.0.borrow_mut().flush()
        }
    }

    /// 1 MiB of guest memory for DMA.
    struct Ram(Vec<u8>);

    impl DmaMemory for Ram {
        fn dma_read(&mut self, addr: u64, buf: &mut [u8]) {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = self.0.get(addr as usize + i).copied().unwrap_or(0xFF);
            }
        }
        fn dma_write(&mut self, addr: u64, data: &[u8]) {
            for (i, &b) in data.iter().enumerate() {
                if let Some(m) = self.0.get_mut(addr as usize + i) {
                    *m = b;
                }
            }
        }
    }

    fn ram() -> Ram {
        Ram(vec![0; 1 << 20])
    }

    /// Recognisable contents: each byte mixes its sector (block) number
    /// and its offset.
    fn pattern(len: usize, block: usize) -> Vec<u8> {
        (0..len)
            .map(|i| ((i / block) as u8).wrapping_mul(7) ^ (i as u8))
            .collect()
    }

    /// A disk of `sectors` 512-byte sectors at 0/0, and its medium.
    fn disk(sectors: usize) -> (Ide, Shared) {
        let m = Shared(Rc::new(RefCell::new(MemDisk::new(pattern(
            sectors * SECTOR_SIZE,
            SECTOR_SIZE,
        )))));
        let mut ide = Ide::new();
        ide.attach_disk(0, 0, Box::new(m.clone()));
        (ide, m)
    }

    /// A CD-ROM drive at 1/0 with a disc of `blocks` 2048-byte blocks.
    fn cdrom(blocks: usize) -> Ide {
        let disc = MemDisk::read_only(pattern(blocks * 2048, 2048));
        let mut ide = Ide::new();
        ide.attach_cdrom(1, 0, Some(Box::new(disc)));
        ide
    }

    fn outb(ide: &mut Ide, ch: usize, reg: u16, v: u8) {
        ide.command_write(ch, reg, 1, u32::from(v), &mut ram());
    }

    fn inb(ide: &mut Ide, ch: usize, reg: u16) -> u8 {
        ide.command_read(ch, reg, 1) as u8
    }

    /// Reads `n` bytes from the data port with 16-bit accesses.
    fn read_data(ide: &mut Ide, ch: usize, n: usize) -> Vec<u8> {
        (0..n / 2)
            .flat_map(|_| (ide.command_read(ch, 0, 2) as u16).to_le_bytes())
            .collect()
    }

    fn write_data(ide: &mut Ide, ch: usize, data: &[u8]) {
        for w in data.chunks(2) {
            let v = u16::from_le_bytes([w[0], w[1]]);
            ide.command_write(ch, 0, 2, u32::from(v), &mut ram());
        }
    }

    /// Loads an LBA28 address and count on channel 0, master, and issues
    /// `cmd`.
    fn lba28(ide: &mut Ide, lba: u32, count: u8, cmd: u8) {
        outb(ide, 0, ATA_REG_DEVICE, 0xE0 | (lba >> 24) as u8 & 0x0F);
        outb(ide, 0, ATA_REG_NSECTOR, count);
        outb(ide, 0, ATA_REG_LBA_LOW, lba as u8);
        outb(ide, 0, ATA_REG_LBA_MID, (lba >> 8) as u8);
        outb(ide, 0, ATA_REG_LBA_HIGH, (lba >> 16) as u8);
        outb(ide, 0, ATA_REG_STATUS, cmd);
    }

    fn identify(ide: &mut Ide) -> Vec<u16> {
        outb(ide, 0, ATA_REG_STATUS, ATA_CMD_IDENTIFY);
        read_data(ide, 0, 512)
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect()
    }

    fn ata_string(words: &[u16]) -> String {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
        String::from_utf8_lossy(&bytes).trim_end().to_string()
    }

    #[test]
    fn pci_header_and_bus_master_bar() {
        let mut ide = Ide::new();
        assert_eq!(ide.config_read(0x00, 4), 0x7010_8086);
        assert_eq!(ide.config_read(0x08, 4) >> 8, 0x01_0180);
        assert_eq!(ide.config_read(0x20, 4), 0x01, "BAR4 is an I/O BAR");
        assert_eq!(ide.bus_master_base(), None);
        ide.config_write(0x20, 4, 0xC000);
        ide.config_write(0x04, 2, 0x0005); // I/O + bus master
        assert_eq!(ide.bus_master_base(), Some(0xC000));
        // SeaBIOS enables both channels' decode in IDETIM.
        ide.config_write(PIIX_IDETIM_PRIMARY, 2, 0x8000);
        assert_eq!(ide.config_read(PIIX_IDETIM_PRIMARY, 4), 0x8000);
    }

    #[test]
    fn identify_device_reports_geometry_capacity_and_checksum() {
        // 40 MiB: 81920 sectors = 81 cylinders of 16 x 63 (and change).
        let (mut ide, _) = disk(81920);
        let w = identify(&mut ide);
        assert_eq!(w[0], 0x0040);
        assert_eq!((w[1], w[3], w[6]), (81, 16, 63));
        assert_eq!(ata_string(&w[27..47]), "ANYX86 HARDDISK");
        assert_eq!(u32::from(w[60]) | u32::from(w[61]) << 16, 81920);
        assert_eq!(u32::from(w[100]) | u32::from(w[101]) << 16, 81920);
        assert_eq!(
            w[83] & (1 << 10 | 1 << 12 | 1 << 13),
            1 << 10 | 1 << 12 | 1 << 13
        );
        assert_eq!(w[255] & 0xFF, 0xA5);
        let sum = w.iter().fold(0u8, |a, x| {
            a.wrapping_add(*x as u8).wrapping_add((x >> 8) as u8)
        });
        assert_eq!(sum, 0, "integrity word makes the bytes sum to 0");
        assert_eq!(inb(&mut ide, 0, ATA_REG_STATUS), ATA_SR_DRDY | ATA_SR_DSC);
    }

    #[test]
    fn reset_keeps_the_drives_and_clears_the_registers() {
        let (mut ide, _) = disk(81920);
        ide.config_write(0x20, 4, 0xC000);
        ide.config_write(0x04, 2, 0x0005);
        ide.attach_cdrom(1, 0, Some(Box::new(MemDisk::read_only(vec![0; 4096]))));
        ide.reset();
        assert_eq!(ide.bus_master_base(), None, "configuration space reset");
        // The disk still answers IDENTIFY with its capacity.
        let w = identify(&mut ide);
        assert_eq!(u32::from(w[60]) | u32::from(w[61]) << 16, 81920);
        // The CD-ROM drive still shows the ATAPI signature.
        outb(&mut ide, 1, 6, 0xA0);
        assert_eq!((inb(&mut ide, 1, 4), inb(&mut ide, 1, 5)), (0x14, 0xEB));
    }

    #[test]
    fn identify_caps_cylinders_at_16383() {
        // 10 GiB would be 20805 cylinders.
        let mut ide = Ide::new();
        struct Big;
        impl BlockBackend for Big {
            fn len(&self) -> u64 {
                10 << 30
            }
            fn read_only(&self) -> bool {
                true
            }
            fn read(&mut self, _: u64, _: &mut [u8]) -> Result<(), BlockError> {
                Ok(())
            }
            fn write(&mut self, _: u64, _: &[u8]) -> Result<(), BlockError> {
                Err(BlockError::ReadOnly)
            }
            fn flush(&mut self) -> Result<(), BlockError> {
                Ok(())
            }
        }
        ide.attach_disk(0, 0, Box::new(Big));
        let w = identify(&mut ide);
        assert_eq!(w[1], 16383);
        assert_eq!(u32::from(w[60]) | u32::from(w[61]) << 16, 20_971_520);
        assert_eq!(u32::from(w[100]) | u32::from(w[101]) << 16, 20_971_520);
    }

    #[test]
    fn pio_read_lba28_interrupts_per_sector() {
        let (mut ide, m) = disk(64);
        lba28(&mut ide, 5, 2, ATA_CMD_READ_SECTORS);
        assert!(ide.irq_level(0));
        assert_eq!(inb(&mut ide, 0, ATA_REG_STATUS) & ATA_SR_DRQ, ATA_SR_DRQ);
        assert!(!ide.irq_level(0), "reading status acknowledges");
        let first = read_data(&mut ide, 0, 512);
        assert!(ide.irq_level(0), "second block announced");
        let second = read_data(&mut ide, 0, 512);
        let data = m.0.borrow().data[5 * 512..7 * 512].to_vec();
        assert_eq!([first, second].concat(), data);
        assert_eq!(inb(&mut ide, 0, ATA_REG_STATUS), ATA_SR_DRDY | ATA_SR_DSC);
        assert_eq!(inb(&mut ide, 0, ATA_REG_LBA_LOW), 7, "task file advanced");
    }

    #[test]
    fn pio_read_chs_uses_16_heads_63_sectors() {
        let (mut ide, m) = disk(2048);
        // C/H/S 1/2/3 = (1 * 16 + 2) * 63 + 3 - 1 = 1136.
        outb(&mut ide, 0, ATA_REG_DEVICE, 0xA2);
        outb(&mut ide, 0, ATA_REG_NSECTOR, 1);
        outb(&mut ide, 0, ATA_REG_LBA_LOW, 3);
        outb(&mut ide, 0, ATA_REG_LBA_MID, 1);
        outb(&mut ide, 0, ATA_REG_LBA_HIGH, 0);
        outb(&mut ide, 0, ATA_REG_STATUS, ATA_CMD_READ_SECTORS);
        let got = read_data(&mut ide, 0, 512);
        assert_eq!(got, m.0.borrow().data[1136 * 512..1137 * 512]);
    }

    #[test]
    fn pio_read_lba48_and_hob_readback() {
        let (mut ide, m) = disk(0x1_0010);
        // LBA 0x1_0002 = high byte 0x01 in LBA bits 23:16; count 1 with a
        // zero high byte; the previous values go to HOB.
        outb(&mut ide, 0, ATA_REG_DEVICE, 0x40);
        for (reg, hob, low) in [(2, 0, 1), (3, 0, 0x02), (4, 0, 0x00), (5, 0, 0x01)] {
            outb(&mut ide, 0, reg, hob);
            outb(&mut ide, 0, reg, low);
        }
        outb(&mut ide, 0, ATA_REG_STATUS, ATA_CMD_READ_SECTORS_EXT);
        let got = read_data(&mut ide, 0, 512);
        assert_eq!(got, m.0.borrow().data[0x1_0002 * 512..0x1_0003 * 512]);
        // Next sector 0x1_0003 in LBA low/high; HOB shows bits 47:24 (0).
        assert_eq!(inb(&mut ide, 0, ATA_REG_LBA_LOW), 0x03);
        ide.control_write(0, ATA_CB_DC_HOB);
        assert_eq!(inb(&mut ide, 0, ATA_REG_LBA_LOW), 0);
        assert_eq!(inb(&mut ide, 0, ATA_REG_LBA_HIGH), 0);
    }

    #[test]
    fn pio_write_lba28_reaches_the_medium() {
        let (mut ide, m) = disk(64);
        lba28(&mut ide, 9, 2, ATA_CMD_WRITE_SECTORS);
        assert!(!ide.irq_level(0), "no interrupt before the first block");
        let data = vec![0x5A; 1024];
        write_data(&mut ide, 0, &data[..512]);
        assert!(ide.irq_level(0), "second block requested");
        inb(&mut ide, 0, ATA_REG_STATUS);
        write_data(&mut ide, 0, &data[512..]);
        assert!(ide.irq_level(0), "completion");
        assert_eq!(inb(&mut ide, 0, ATA_REG_STATUS), ATA_SR_DRDY | ATA_SR_DSC);
        assert_eq!(m.0.borrow().data[9 * 512..11 * 512], data[..]);
    }

    #[test]
    fn multiple_mode_moves_blocks_of_n_sectors() {
        let (mut ide, m) = disk(64);
        outb(&mut ide, 0, ATA_REG_NSECTOR, 4);
        outb(&mut ide, 0, ATA_REG_STATUS, ATA_CMD_SET_MULTIPLE);
        assert_eq!(inb(&mut ide, 0, ATA_REG_STATUS), ATA_SR_DRDY | ATA_SR_DSC);
        lba28(&mut ide, 0, 6, ATA_CMD_READ_MULTIPLE);
        inb(&mut ide, 0, ATA_REG_STATUS);
        let first = read_data(&mut ide, 0, 4 * 512);
        assert!(ide.irq_level(0), "one interrupt per 4-sector block");
        let rest = read_data(&mut ide, 0, 2 * 512);
        assert_eq!([first, rest].concat(), m.0.borrow().data[..6 * 512]);
        // WRITE MULTIPLE with 32-bit data accesses.
        lba28(&mut ide, 20, 4, ATA_CMD_WRITE_MULTIPLE);
        for _ in 0..512 {
            ide.command_write(0, 0, 4, 0xA1B2_C3D4, &mut ram());
        }
        assert_eq!(inb(&mut ide, 0, ATA_REG_STATUS), ATA_SR_DRDY | ATA_SR_DSC);
        assert_eq!(
            m.0.borrow().data[20 * 512..20 * 512 + 4],
            [0xD4, 0xC3, 0xB2, 0xA1]
        );
    }

    #[test]
    fn set_multiple_rejects_non_powers_of_two() {
        let (mut ide, _) = disk(8);
        outb(&mut ide, 0, ATA_REG_NSECTOR, 3);
        outb(&mut ide, 0, ATA_REG_STATUS, ATA_CMD_SET_MULTIPLE);
        assert_eq!(inb(&mut ide, 0, ATA_REG_ERROR), ATA_ER_ABRT);
    }

    /// Programs channel 0's bus master: PRD table at 0x1000 with `prds`,
    /// direction, then start.
    fn bm_setup(ide: &mut Ide, mem: &mut Ram, prds: &[(u32, u16, bool)], to_memory: bool) {
        for (i, &(addr, len, eot)) in prds.iter().enumerate() {
            let at = 0x1000 + 8 * i;
            mem.0[at..at + 4].copy_from_slice(&addr.to_le_bytes());
            let flags = u32::from(len) | if eot { PRD_EOT } else { 0 };
            mem.0[at + 4..at + 8].copy_from_slice(&flags.to_le_bytes());
        }
        ide.bus_master_write(BM_REG_PRD, 4, 0x1000, mem);
        let dir = if to_memory { BM_CMD_WRITE_MEMORY } else { 0 };
        ide.bus_master_write(BM_REG_COMMAND, 1, u32::from(dir), mem);
    }

    fn bm_start(ide: &mut Ide, mem: &mut Ram, to_memory: bool) {
        let dir = if to_memory { BM_CMD_WRITE_MEMORY } else { 0 };
        ide.bus_master_write(BM_REG_COMMAND, 1, u32::from(dir | BM_CMD_START), mem);
    }

    #[test]
    fn dma_read_through_two_prds() {
        let (mut ide, m) = disk(64);
        let mut mem = ram();
        bm_setup(
            &mut ide,
            &mut mem,
            &[(0x2000, 512, false), (0x8000, 1024, true)],
            true,
        );
        lba28(&mut ide, 3, 3, ATA_CMD_READ_DMA);
        assert!(!ide.irq_level(0), "waits for the engine");
        bm_start(&mut ide, &mut mem, true);
        assert!(ide.irq_level(0));
        let bm = ide.bus_master_read(BM_REG_STATUS, 1) as u8;
        assert_eq!(bm & (BM_STATUS_ACTIVE | BM_STATUS_INT), BM_STATUS_INT);
        let d = m.0.borrow();
        assert_eq!(mem.0[0x2000..0x2200], d.data[3 * 512..4 * 512]);
        assert_eq!(mem.0[0x8000..0x8400], d.data[4 * 512..6 * 512]);
        drop(d);
        assert_eq!(inb(&mut ide, 0, ATA_REG_STATUS), ATA_SR_DRDY | ATA_SR_DSC);
        // Interrupt is write-one-to-clear.
        ide.bus_master_write(BM_REG_STATUS, 1, u32::from(BM_STATUS_INT), &mut mem);
        assert_eq!(
            ide.bus_master_read(BM_REG_STATUS, 1) as u8 & BM_STATUS_INT,
            0
        );
    }

    #[test]
    fn dma_write_with_engine_started_first() {
        let (mut ide, m) = disk(64);
        let mut mem = ram();
        mem.0[0x3000..0x3400].fill(0xC7);
        bm_setup(&mut ide, &mut mem, &[(0x3000, 1024, true)], false);
        bm_start(&mut ide, &mut mem, false);
        // The task file first (NOP aborts, harmlessly), then the command
        // with guest memory at hand.
        lba28(&mut ide, 10, 2, ATA_CMD_NOP);
        ide.command_write(0, ATA_REG_STATUS, 1, u32::from(ATA_CMD_WRITE_DMA), &mut mem);
        assert!(ide.irq_level(0));
        assert!(m.0.borrow().data[10 * 512..12 * 512]
            .iter()
            .all(|&b| b == 0xC7));
    }

    #[test]
    fn prd_table_longer_than_transfer_stays_active() {
        let (mut ide, _) = disk(64);
        let mut mem = ram();
        bm_setup(&mut ide, &mut mem, &[(0x2000, 0, true)], true); // 64 KiB
        lba28(&mut ide, 0, 1, ATA_CMD_READ_DMA);
        bm_start(&mut ide, &mut mem, true);
        let bm = ide.bus_master_read(BM_REG_STATUS, 1) as u8;
        assert_eq!(
            bm & (BM_STATUS_ACTIVE | BM_STATUS_INT),
            BM_STATUS_ACTIVE | BM_STATUS_INT
        );
    }

    #[test]
    fn prd_table_shorter_than_transfer_sets_error() {
        let (mut ide, _) = disk(64);
        let mut mem = ram();
        bm_setup(&mut ide, &mut mem, &[(0x2000, 512, true)], true);
        lba28(&mut ide, 0, 2, ATA_CMD_READ_DMA);
        bm_start(&mut ide, &mut mem, true);
        let bm = ide.bus_master_read(BM_REG_STATUS, 1) as u8;
        assert_eq!(bm & (BM_STATUS_ACTIVE | BM_STATUS_ERROR), BM_STATUS_ERROR);
        assert!(
            mem.0[0x2000..0x2200].iter().all(|&b| b == 0),
            "nothing moved"
        );
        assert_eq!(inb(&mut ide, 0, ATA_REG_STATUS) & ATA_SR_ERR, ATA_SR_ERR);
    }

    #[test]
    fn flush_cache_reaches_the_backend() {
        let (mut ide, m) = disk(8);
        outb(&mut ide, 0, ATA_REG_STATUS, ATA_CMD_FLUSH_CACHE);
        outb(&mut ide, 0, ATA_REG_STATUS, ATA_CMD_FLUSH_CACHE_EXT);
        assert_eq!(m.0.borrow().flushes, 2);
        assert!(ide.irq_level(0));
    }

    #[test]
    fn lba_past_the_end_is_idnf() {
        let (mut ide, _) = disk(8);
        lba28(&mut ide, 7, 2, ATA_CMD_READ_SECTORS);
        assert_eq!(inb(&mut ide, 0, ATA_REG_STATUS), ATA_SR_DRDY | ATA_SR_ERR);
        assert_eq!(inb(&mut ide, 0, ATA_REG_ERROR), ATA_ER_IDNF);
    }

    #[test]
    fn unknown_command_aborts() {
        let (mut ide, _) = disk(8);
        outb(&mut ide, 0, ATA_REG_STATUS, 0xFF);
        assert!(ide.irq_level(0));
        assert_eq!(inb(&mut ide, 0, ATA_REG_STATUS), ATA_SR_DRDY | ATA_SR_ERR);
        assert_eq!(inb(&mut ide, 0, ATA_REG_ERROR), ATA_ER_ABRT);
    }

    #[test]
    fn write_to_read_only_medium_aborts_and_writes_nothing() {
        let (mut ide, m) = disk(8);
        m.0.borrow_mut().read_only = true;
        let before = m.0.borrow().data.clone();
        lba28(&mut ide, 0, 1, ATA_CMD_WRITE_SECTORS);
        assert_eq!(inb(&mut ide, 0, ATA_REG_ERROR), ATA_ER_ABRT);
        write_data(&mut ide, 0, &[0xEE; 512]);
        lba28(&mut ide, 0, 1, ATA_CMD_WRITE_DMA);
        assert_eq!(inb(&mut ide, 0, ATA_REG_ERROR), ATA_ER_ABRT);
        assert_eq!(m.0.borrow().data, before);
    }

    #[test]
    fn nien_masks_the_interrupt() {
        let (mut ide, _) = disk(8);
        ide.control_write(0, ATA_CB_DC_NIEN);
        outb(&mut ide, 0, ATA_REG_STATUS, ATA_CMD_FLUSH_CACHE);
        assert!(!ide.irq_level(0));
    }

    #[test]
    fn soft_reset_shows_ata_and_atapi_signatures() {
        let (mut ide, _) = disk(8);
        ide.attach_cdrom(0, 1, None);
        ide.control_write(0, ATA_CB_DC_SRST | ATA_CB_DC_NIEN);
        assert_eq!(ide.control_read(0) & ATA_SR_BSY, ATA_SR_BSY);
        ide.control_write(0, ATA_CB_DC_NIEN);
        let sig = |ide: &mut Ide| (2..=5).map(|r| inb(ide, 0, r)).collect::<Vec<_>>();
        assert_eq!(sig(&mut ide), [1, 1, 0x00, 0x00]);
        assert_eq!(inb(&mut ide, 0, ATA_REG_STATUS), ATA_SR_DRDY | ATA_SR_DSC);
        outb(&mut ide, 0, ATA_REG_DEVICE, ATA_DEV_DEV);
        assert_eq!(sig(&mut ide), [1, 1, 0x14, 0xEB]);
        assert_eq!(
            inb(&mut ide, 0, ATA_REG_STATUS),
            0,
            "ATAPI leaves DRDY clear"
        );
        assert_eq!(inb(&mut ide, 0, ATA_REG_ERROR), ATA_DIAG_PASSED);
    }

    #[test]
    fn device_register_echoes_seabios_selects() {
        // SeaBIOS writes 0xB0 (DEV1) after reset and spins until it reads
        // back the same value.
        let (mut ide, _) = disk(8);
        ide.control_write(0, ATA_CB_DC_SRST);
        ide.control_write(0, 0);
        outb(&mut ide, 0, ATA_REG_DEVICE, 0xB0);
        assert_eq!(inb(&mut ide, 0, ATA_REG_DEVICE), 0xB0);
        outb(&mut ide, 0, ATA_REG_DEVICE, 0xA0);
        assert_eq!(inb(&mut ide, 0, ATA_REG_DEVICE), 0xA0);
    }

    #[test]
    fn absent_slave_reads_status_zero_and_empty_channel_floats() {
        let (mut ide, _) = disk(8);
        outb(&mut ide, 0, ATA_REG_DEVICE, ATA_DEV_DEV);
        assert_eq!(inb(&mut ide, 0, ATA_REG_STATUS), 0);
        assert_eq!(ide.control_read(0), 0);
        // A command to the absent slave is ignored.
        outb(&mut ide, 0, ATA_REG_STATUS, ATA_CMD_IDENTIFY);
        assert!(!ide.irq_level(0));
        assert_eq!(inb(&mut ide, 1, ATA_REG_STATUS), 0xFF);
        assert_eq!(inb(&mut ide, 1, ATA_REG_LBA_MID), 0xFF);
        assert_eq!(ide.control_read(1), 0xFF);
    }

    // ---- ATAPI ----

    /// Sends a PACKET command on channel 1 with byte count limit `limit`
    /// and `dma`.
    fn packet(ide: &mut Ide, cdb: &[u8], limit: u16, dma: bool, mem: &mut Ram) {
        outb(ide, 1, ATA_REG_DEVICE, 0);
        outb(ide, 1, ATA_REG_ERROR, u8::from(dma));
        outb(ide, 1, ATA_REG_LBA_MID, limit as u8);
        outb(ide, 1, ATA_REG_LBA_HIGH, (limit >> 8) as u8);
        outb(ide, 1, ATA_REG_STATUS, ATA_CMD_PACKET);
        assert_eq!(inb(ide, 1, ATA_REG_NSECTOR), ATAPI_INT_REASON_COD);
        let mut c = [0u8; 12];
        c[..cdb.len()].copy_from_slice(cdb);
        for w in c.chunks(2) {
            let v = u16::from_le_bytes([w[0], w[1]]);
            ide.command_write(1, 0, 2, u32::from(v), mem);
        }
    }

    /// Runs a PIO packet command and collects every data block.
    fn pio_packet(ide: &mut Ide, cdb: &[u8], limit: u16) -> Vec<u8> {
        packet(ide, cdb, limit, false, &mut ram());
        let mut out = Vec::new();
        while inb(ide, 1, ATA_REG_STATUS) & ATA_SR_DRQ != 0 {
            let n = usize::from(inb(ide, 1, ATA_REG_LBA_MID))
                | usize::from(inb(ide, 1, ATA_REG_LBA_HIGH)) << 8;
            out.extend(read_data(ide, 1, n));
        }
        out
    }

    fn check_condition(ide: &mut Ide) -> Option<u8> {
        let st = ide.control_read(1);
        (st & ATA_SR_ERR != 0).then(|| inb(ide, 1, ATA_REG_ERROR) >> 4)
    }

    #[test]
    fn atapi_identify_device_aborts_with_signature() {
        let mut ide = cdrom(16);
        outb(&mut ide, 1, ATA_REG_LBA_MID, 0);
        outb(&mut ide, 1, ATA_REG_STATUS, ATA_CMD_IDENTIFY);
        assert_eq!(inb(&mut ide, 1, ATA_REG_ERROR), ATA_ER_ABRT);
        assert_eq!(inb(&mut ide, 1, ATA_REG_LBA_MID), 0x14);
        assert_eq!(inb(&mut ide, 1, ATA_REG_LBA_HIGH), 0xEB);
    }

    #[test]
    fn identify_packet_device() {
        let mut ide = cdrom(16);
        outb(&mut ide, 1, ATA_REG_STATUS, ATA_CMD_IDENTIFY_PACKET);
        let w: Vec<u16> = read_data(&mut ide, 1, 512)
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(w[0], 0x85C0, "ATAPI CD-ROM, removable, 12-byte packets");
        assert_eq!(ata_string(&w[27..47]), "ANYX86 CD-ROM");
        assert_eq!(w[49] & (1 << 8), 1 << 8, "DMA supported");
    }

    #[test]
    fn test_unit_ready_with_and_without_medium() {
        let mut ide = cdrom(16);
        pio_packet(&mut ide, &[GPCMD_TEST_UNIT_READY], 0);
        assert_eq!(check_condition(&mut ide), None);
        assert_eq!(
            inb(&mut ide, 1, ATA_REG_NSECTOR),
            ATAPI_INT_REASON_IO | ATAPI_INT_REASON_COD
        );
        let mut empty = Ide::new();
        empty.attach_cdrom(1, 0, None);
        pio_packet(&mut empty, &[GPCMD_TEST_UNIT_READY], 0);
        assert_eq!(check_condition(&mut empty), Some(SENSE_NOT_READY));
        let sense = pio_packet(&mut empty, &[GPCMD_REQUEST_SENSE, 0, 0, 0, 18], 18);
        assert_eq!(
            (sense[2], sense[12]),
            (SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT)
        );
    }

    #[test]
    fn read10_pio_in_blocks_of_the_byte_count_limit() {
        let mut ide = cdrom(16);
        // Two 2048-byte blocks from LBA 3 with a 1000-byte limit: blocks
        // of 1000, 1000, 1000, 1000 and 96 bytes.
        packet(
            &mut ide,
            &[GPCMD_READ_10, 0, 0, 0, 0, 3, 0, 0, 2],
            1000,
            false,
            &mut ram(),
        );
        let mut sizes = Vec::new();
        let mut data = Vec::new();
        while inb(&mut ide, 1, ATA_REG_STATUS) & ATA_SR_DRQ != 0 {
            assert_eq!(inb(&mut ide, 1, ATA_REG_NSECTOR), ATAPI_INT_REASON_IO);
            let n = usize::from(inb(&mut ide, 1, ATA_REG_LBA_MID))
                | usize::from(inb(&mut ide, 1, ATA_REG_LBA_HIGH)) << 8;
            sizes.push(n);
            data.extend(read_data(&mut ide, 1, n));
        }
        assert_eq!(sizes, [1000, 1000, 1000, 1000, 96]);
        assert_eq!(data, pattern(16 * 2048, 2048)[3 * 2048..5 * 2048]);
        assert_eq!(
            inb(&mut ide, 1, ATA_REG_NSECTOR),
            ATAPI_INT_REASON_IO | ATAPI_INT_REASON_COD,
            "completion"
        );
    }

    #[test]
    fn read10_dma() {
        let mut ide = cdrom(16);
        let mut mem = ram();
        // Channel 1's bus-master registers are at offset 8.
        mem.0[0x1000..0x1008].copy_from_slice(&[0, 0x40, 0, 0, 0, 0x10, 0, 0x80]);
        ide.bus_master_write(8 + BM_REG_PRD, 4, 0x1000, &mut mem);
        packet(
            &mut ide,
            &[GPCMD_READ_10, 0, 0, 0, 0, 1, 0, 0, 2],
            0,
            true,
            &mut mem,
        );
        ide.bus_master_write(
            8,
            1,
            u32::from(BM_CMD_START | BM_CMD_WRITE_MEMORY),
            &mut mem,
        );
        assert_eq!(
            mem.0[0x4000..0x5000],
            pattern(16 * 2048, 2048)[2048..3 * 2048]
        );
        assert!(ide.irq_level(1));
        assert_eq!(
            ide.bus_master_read(8 + BM_REG_STATUS, 1) as u8 & BM_STATUS_ACTIVE,
            0
        );
        assert_eq!(check_condition(&mut ide), None);
    }

    #[test]
    fn read_capacity_and_out_of_range_read() {
        let mut ide = cdrom(300);
        let cap = pio_packet(&mut ide, &[GPCMD_READ_CAPACITY], 8);
        assert_eq!(cap, [0, 0, 0x01, 0x2B, 0, 0, 0x08, 0x00]); // last LBA 299, 2048
        pio_packet(
            &mut ide,
            &[GPCMD_READ_10, 0, 0, 0, 0x01, 0x2B, 0, 0, 2],
            0xFFFF,
        );
        assert_eq!(check_condition(&mut ide), Some(SENSE_ILLEGAL_REQUEST));
        let sense = pio_packet(&mut ide, &[GPCMD_REQUEST_SENSE, 0, 0, 0, 18], 18);
        assert_eq!(sense[12], ASC_LOGICAL_BLOCK_OOR);
    }

    #[test]
    fn read_toc_lba_and_msf() {
        let mut ide = cdrom(300);
        let toc = pio_packet(&mut ide, &[GPCMD_READ_TOC, 0, 0, 0, 0, 0, 0, 0, 100], 100);
        assert_eq!(toc.len(), 20);
        assert_eq!(&toc[..4], &[0, 18, 1, 1]);
        assert_eq!(toc[6], 1, "track 1");
        assert_eq!(toc[14], 0xAA, "lead-out");
        assert_eq!(&toc[16..20], &300u32.to_be_bytes());
        let msf = pio_packet(&mut ide, &[GPCMD_READ_TOC, 2, 0, 0, 0, 0, 0, 0, 100], 100);
        // 300 + 150 frames = 00:06:00.
        assert_eq!(&msf[16..20], &[0, 0, 6, 0]);
        let session = pio_packet(&mut ide, &[GPCMD_READ_TOC, 0, 1, 0, 0, 0, 0, 0, 12], 12);
        assert_eq!(&session[..4], &[0, 0x0A, 1, 1]);
    }

    #[test]
    fn mode_sense_capabilities_page() {
        let mut ide = cdrom(16);
        let cdb = [
            GPCMD_MODE_SENSE_10,
            0,
            MODE_PAGE_CAPABILITIES,
            0,
            0,
            0,
            0,
            0,
            255,
        ];
        let r = pio_packet(&mut ide, &cdb, 255);
        assert_eq!(r.len(), 28);
        assert_eq!(u16::from_be_bytes([r[0], r[1]]), 26);
        assert_eq!((r[8], r[9]), (MODE_PAGE_CAPABILITIES, 18));
        let all = [GPCMD_MODE_SENSE_10, 0, MODE_PAGE_ALL, 0, 0, 0, 0, 0, 255];
        assert_eq!(pio_packet(&mut ide, &all, 255).len(), 36);
        pio_packet(&mut ide, &[GPCMD_MODE_SENSE_6, 0, 0x2A, 0, 255], 255);
        assert_eq!(check_condition(&mut ide), Some(SENSE_ILLEGAL_REQUEST));
    }

    #[test]
    fn inquiry_and_get_configuration() {
        let mut ide = cdrom(16);
        let inq = pio_packet(&mut ide, &[GPCMD_INQUIRY, 0, 0, 0, 36], 36);
        assert_eq!((inq[0], inq[1]), (0x05, 0x80));
        let cfg = pio_packet(
            &mut ide,
            &[GPCMD_GET_CONFIGURATION, 0, 0, 0, 0, 0, 0, 0, 255],
            255,
        );
        assert_eq!(u16::from_be_bytes([cfg[6], cfg[7]]), MMC_PROFILE_CD_ROM);
        let len = u32::from_be_bytes([cfg[0], cfg[1], cfg[2], cfg[3]]) as usize;
        assert_eq!(len + 4, cfg.len());
    }

    #[test]
    fn media_change_gives_unit_attention_then_ready_and_an_event() {
        let mut ide = cdrom(16);
        ide.set_cdrom_medium(1, 0, Some(Box::new(MemDisk::read_only(vec![0; 8192]))));
        pio_packet(&mut ide, &[GPCMD_TEST_UNIT_READY], 0);
        assert_eq!(check_condition(&mut ide), Some(SENSE_UNIT_ATTENTION));
        let gesn = [
            GPCMD_GET_EVENT_STATUS_NOTIFICATION,
            1,
            0,
            0,
            1 << GESN_MEDIA,
            0,
            0,
            0,
            8,
        ];
        let ev = pio_packet(&mut ide, &gesn, 8);
        assert_eq!(ev[2], GESN_MEDIA);
        assert_eq!((ev[4], ev[5]), (MEC_NEW_MEDIA, MS_MEDIA_PRESENT));
        let again = pio_packet(&mut ide, &gesn, 8);
        assert_eq!(again[4], MEC_NO_CHANGE, "an event is reported once");
        let sense = pio_packet(&mut ide, &[GPCMD_REQUEST_SENSE, 0, 0, 0, 18], 18);
        assert_eq!(
            (sense[2], sense[12]),
            (SENSE_UNIT_ATTENTION, ASC_MEDIUM_MAY_HAVE_CHANGED)
        );
        pio_packet(&mut ide, &[GPCMD_TEST_UNIT_READY], 0);
        assert_eq!(check_condition(&mut ide), None);
        let cap = pio_packet(&mut ide, &[GPCMD_READ_CAPACITY], 8);
        assert_eq!(cap[3], 3, "the new disc has 4 blocks");
        ide.set_cdrom_medium(1, 0, None);
        let ev = pio_packet(&mut ide, &gesn, 8);
        assert_eq!((ev[4], ev[5]), (MEC_MEDIA_REMOVAL, 0));
    }

    #[test]
    fn hammer_every_register() {
        let (mut ide, _) = disk(64);
        ide.attach_cdrom(0, 1, Some(Box::new(MemDisk::read_only(vec![0; 8192]))));
        ide.attach_cdrom(1, 0, None);
        ide.config_write(0x20, 4, 0xC000);
        ide.config_write(0x04, 2, 0x0005);
        let mut mem = ram();
        let mut rng = XorShift(0x1DE_1DE_1DE);
        for round in 0..20_000u32 {
            let v = rng.next();
            let (ch, off, size) = (
                (v & 3) as usize,
                ((v >> 2) & 0x1F) as u16,
                SIZES[(v >> 8) as usize % SIZES.len()],
            );
            let val = (v >> 16) as u32;
            match round % 5 {
                0 => ide.command_write(ch, off, size, val, &mut mem),
                1 => drop(ide.command_read(ch, off, size)),
                2 => ide.bus_master_write(off, size, val, &mut mem),
                3 => drop(ide.bus_master_read(off, size)),
                _ => {
                    ide.control_write(ch, val as u8);
                    ide.control_read(ch);
                    ide.config_write(val as u8, size, v as u32);
                }
            }
            // Random guest memory keeps PRD tables and data varied.
            let at = (v >> 20) as usize % (1 << 20);
            mem.0[at] = v as u8;
        }
        let _ = (ide.irq_level(0), ide.irq_level(7), ide.bus_master_base());
        assert!(
            Ide::new().restore(&ide.save()).is_err(),
            "drive kinds differ"
        );
    }

    #[test]
    fn snapshot_roundtrip_mid_transfer() {
        let (mut ide, m) = disk(64);
        lba28(&mut ide, 2, 2, ATA_CMD_READ_SECTORS);
        read_data(&mut ide, 0, 100);
        let mut fresh = Ide::new();
        fresh.attach_disk(0, 0, Box::new(m.clone()));
        anyx86_hw::assert_snapshot_roundtrip(&ide, &mut fresh);
        // The restored controller carries on with the transfer.
        let rest = read_data(&mut fresh, 0, 412 + 512);
        assert_eq!(rest, m.0.borrow().data[2 * 512 + 100..4 * 512]);
    }

    #[test]
    fn snapshot_rejects_a_position_past_the_buffer() {
        let (ide, m) = disk(8);
        let mut state = ide.save();
        state.channels[0].drives[0].data_pos = 1;
        let mut fresh = Ide::new();
        fresh.attach_disk(0, 0, Box::new(m));
        assert!(fresh.restore(&state).is_err());
    }
}
