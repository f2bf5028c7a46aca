//! Intel 82077AA floppy disk controller in PC/AT mode, as QEMU's `isa-fdc`:
//! ports 0x3F0-0x3F5 and 0x3F7 (0x3F6 belongs to the IDE controller), IRQ 6,
//! DMA channel 2, up to four drives (the PC's BIOS and CMOS know two).
//!
//! Reference: Intel 82077AA datasheet (order 290166), "Register
//! Description" (DOR, TDR, MSR, DSR, FIFO, DIR, CCR in PC-AT mode),
//! "Command Set Descriptions" (Table 5-1 and the status registers ST0-ST3),
//! "Data Transfer Commands" (multi-track, EOT, TC; Table 5-6, the C/H/R
//! reported at the end), "Control Commands" (SPECIFY, SEEK, RECALIBRATE,
//! SENSE INTERRUPT STATUS, CONFIGURE, LOCK, DUMPREG, VERSION, PERPENDICULAR
//! MODE), "Reset" (the four polled SENSE INTERRUPT STATUS after a reset).
//!
//! # Media
//!
//! A drive holds its medium as `Box<dyn BlockBackend>` of 512-byte sectors
//! in C/H/S order; [`Fdc::attach`] picks the geometry from the image size
//! ([`FORMATS`]: 360 KiB, 720 KiB, 1.2 MB, 1.44 MB, 1.68 MB, 1.72 MB,
//! 2.88 MB) and refuses any other size. Each format has a data rate: a
//! READ/WRITE/READ ID at another rate (DSR/CCR bits 0-1) finds no address
//! mark (ST1 MA), which is how SeaBIOS and Linux sense the medium type.
//!
//! # Wiring
//!
//! The machine maps ports 0x3F0-0x3F7 except 0x3F6 to [`Fdc::read`] /
//! [`Fdc::write`] with `offset = port - 0x3F0`, passing the 8237 pair and
//! guest memory to `write`: a command runs to completion inside the write
//! of its last byte, moving all its sectors through DMA channel 2 at once
//! (the channel's count ends the command with TC, as on a PC). After each
//! access it forwards [`Fdc::irq_level`] to IRQ 6. After each write to a
//! DMA port it calls [`Fdc::poll_dma`], which starts a command that was
//! issued while channel 2 was still masked. [`Fdc::cmos_drive_type`] gives
//! the nibbles of CMOS byte 0x10.
//!
//! # Not implemented
//!
//! - Timing: seeks, head settling and rotation take no time; READ ID
//!   reports successive sectors as if the disk turned between calls.
//! - READ TRACK, READ/WRITE DELETED DATA, VERIFY, SCAN: invalid commands
//!   (ST0 0x80), as is everything the 82077AA does not have (PART ID,
//!   SAVE, RESTORE...). FM recording (MFM bit clear) reads MFM media.
//! - Sector sizes other than 512 bytes (N != 2 finds no sector). FORMAT
//!   TRACK rewrites the sectors of the image's geometry whose IDs it is
//!   given; other IDs cannot be represented and are dropped.
//! - Seeks are always implied (as in QEMU, and as SeaBIOS relies on): a
//!   READ/WRITE first moves the head to the cylinder of its command. A
//!   track ends at EOT or at the last sector of the medium's track,
//!   whichever comes first (QEMU's leniency for SeaBIOS's multi-track
//!   reads).
//! - In PC-AT mode INT and DRQ are gated by DOR bit 3; like QEMU the IRQ is
//!   not gated here. SRA/SRB (PS/2 mode only) read 0xFF; the TDR boot
//!   drive remap is stored only; power-down modes are ignored.
//! - Non-DMA transfers have no TC input, so they always end at EOT with
//!   ST1 EN, as on the chip.

use anyx86_hw::{BlockBackend, DmaMemory, IrqLevel, Snapshot, SnapshotError};

use crate::dma8237::Dma8237;

/// DMA channel the PC wires to the FDC.
pub const FDC_DMA_CHANNEL: usize = 2;
/// Drives the DOR can select.
pub const DRIVES: usize = 4;
/// Bytes per sector (size code N = 2).
pub const SECTOR_LEN: usize = 512;
/// Size code N of 512-byte sectors.
pub const SECTOR_SIZE_CODE: u8 = 2;
/// PIO buffer: one sector, or a FORMAT TRACK's 4-byte IDs (up to 255).
pub const BUFFER_LEN: usize = 1024;

/// Offset 0: status register A (PS/2 mode only).
pub const REG_SRA: u16 = 0;
/// Offset 1: status register B (PS/2 mode only).
pub const REG_SRB: u16 = 1;
/// Offset 2: digital output register.
pub const REG_DOR: u16 = 2;
/// Offset 3: tape drive register.
pub const REG_TDR: u16 = 3;
/// Offset 4: main status register (read), data rate select (write).
pub const REG_MSR_DSR: u16 = 4;
/// Offset 5: data FIFO.
pub const REG_FIFO: u16 = 5;
/// Offset 7: digital input register (read), configuration control (write).
pub const REG_DIR_CCR: u16 = 7;

/// DOR: drive select (bits 0-1).
pub const DOR_DRIVE_SELECT: u8 = 0x03;
/// DOR: not reset (0 holds the controller in reset).
pub const DOR_NRESET: u8 = 0x04;
/// DOR: DMA gate (enables INT and DRQ in PC-AT mode).
pub const DOR_DMA_GATE: u8 = 0x08;
/// DOR: motor enables, drives 0-3 (bits 4-7).
pub const DOR_MOTORS: u8 = 0xF0;

/// MSR: drive 0-3 busy seeking (bits 0-3; seeks finish at once here).
pub const MSR_DRIVE_BUSY: u8 = 0x0F;
/// MSR: command busy.
pub const MSR_CB: u8 = 0x10;
/// MSR: execution phase of a non-DMA transfer.
pub const MSR_NON_DMA: u8 = 0x20;
/// MSR: data direction, 1 = controller to host.
pub const MSR_DIO: u8 = 0x40;
/// MSR: request for master (the FIFO is ready).
pub const MSR_RQM: u8 = 0x80;

/// DSR: data rate select (bits 0-1), shared with the CCR.
pub const DSR_RATE: u8 = 0x03;
/// DSR: power down.
pub const DSR_POWER_DOWN: u8 = 0x40;
/// DSR: software reset (self-clearing).
pub const DSR_SW_RESET: u8 = 0x80;
/// Data rate 500 kbps (1.2 MB and 1.44 MB media).
pub const RATE_500K: u8 = 0;
/// Data rate 300 kbps (360 KiB media in a 1.2 MB drive).
pub const RATE_300K: u8 = 1;
/// Data rate 250 kbps (720 KiB media).
pub const RATE_250K: u8 = 2;
/// Data rate 1 Mbps (2.88 MB media).
pub const RATE_1M: u8 = 3;

/// DIR: disk change line of the selected drive.
pub const DIR_DISK_CHANGE: u8 = 0x80;

/// Command flag: multi-track.
pub const CMD_MT: u8 = 0x80;
/// Command flag: MFM recording.
pub const CMD_MFM: u8 = 0x40;
/// Command flag: skip deleted data.
pub const CMD_SK: u8 = 0x20;
/// READ DATA (low 5 bits).
pub const CMD_READ_DATA: u8 = 0x06;
/// WRITE DATA (low 6 bits).
pub const CMD_WRITE_DATA: u8 = 0x05;
/// READ ID (with MFM).
pub const CMD_READ_ID: u8 = 0x0A;
/// FORMAT TRACK (with MFM).
pub const CMD_FORMAT_TRACK: u8 = 0x0D;
/// SPECIFY.
pub const CMD_SPECIFY: u8 = 0x03;
/// SENSE DRIVE STATUS.
pub const CMD_SENSE_DRIVE_STATUS: u8 = 0x04;
/// RECALIBRATE.
pub const CMD_RECALIBRATE: u8 = 0x07;
/// SENSE INTERRUPT STATUS.
pub const CMD_SENSE_INTERRUPT: u8 = 0x08;
/// DUMPREG.
pub const CMD_DUMPREG: u8 = 0x0E;
/// SEEK.
pub const CMD_SEEK: u8 = 0x0F;
/// RELATIVE SEEK out (toward cylinder 0); 0xCF steps in.
pub const CMD_RELATIVE_SEEK: u8 = 0x8F;
/// RELATIVE SEEK direction bit: 1 = in (higher cylinders).
pub const RELATIVE_SEEK_IN: u8 = 0x40;
/// VERSION.
pub const CMD_VERSION: u8 = 0x10;
/// PERPENDICULAR MODE.
pub const CMD_PERPENDICULAR: u8 = 0x12;
/// CONFIGURE.
pub const CMD_CONFIGURE: u8 = 0x13;
/// LOCK (bit 7 = lock, clear = unlock).
pub const CMD_LOCK: u8 = 0x14;
/// VERSION result of an 82077AA (enhanced controller).
pub const VERSION_82077: u8 = 0x90;

/// ST0: interrupt code, abnormal termination.
pub const ST0_ABNORMAL: u8 = 0x40;
/// ST0: interrupt code, invalid command.
pub const ST0_INVALID: u8 = 0x80;
/// ST0: interrupt code after reset (polled drive ready change).
pub const ST0_READY_CHANGE: u8 = 0xC0;
/// ST0: seek end.
pub const ST0_SEEK_END: u8 = 0x20;
/// ST0: equipment check (recalibrate found no track 0).
pub const ST0_EQUIPMENT_CHECK: u8 = 0x10;
/// ST0: head address.
pub const ST0_HEAD: u8 = 0x04;
/// ST1: end of cylinder (ran past EOT without TC).
pub const ST1_EN: u8 = 0x80;
/// ST1: data error (CRC).
pub const ST1_DE: u8 = 0x20;
/// ST1: overrun/underrun.
pub const ST1_OR: u8 = 0x10;
/// ST1: no data (sector not found).
pub const ST1_ND: u8 = 0x04;
/// ST1: not writable (write-protected medium).
pub const ST1_NW: u8 = 0x02;
/// ST1: missing address mark (no medium, wrong data rate, no such track).
pub const ST1_MA: u8 = 0x01;
/// ST3: write protected.
pub const ST3_WP: u8 = 0x40;
/// ST3: ready (always set in PC-AT mode).
pub const ST3_READY: u8 = 0x20;
/// ST3: head on track 0.
pub const ST3_TRACK0: u8 = 0x10;
/// ST3: two-sided drive.
pub const ST3_TWO_SIDED: u8 = 0x08;

/// CONFIGURE byte after reset: FIFO disabled, polling on, no implied seek.
pub const CONFIG_DEFAULT: u8 = 0x20;
/// Power-on data rate (the 82077AA's DSR resets to 250 kbps).
pub const RATE_DEFAULT: u8 = RATE_250K;

/// A floppy format: geometry, data rate and the CMOS drive type that reads
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloppyFormat {
    /// Cylinders.
    pub cylinders: u8,
    /// Heads (sides).
    pub heads: u8,
    /// Sectors per track.
    pub sectors: u8,
    /// Data rate (DSR bits 0-1).
    pub rate: u8,
    /// CMOS drive type of the drive holding it (2 = 1.2 MB 5.25",
    /// 4 = 1.44 MB 3.5", 5 = 2.88 MB 3.5").
    pub drive_type: u8,
}

impl FloppyFormat {
    /// Size of an image of this format, in bytes.
    pub const fn bytes(&self) -> u64 {
        self.cylinders as u64 * self.heads as u64 * self.sectors as u64 * SECTOR_LEN as u64
    }
}

const fn format(cylinders: u8, sectors: u8, rate: u8, drive_type: u8) -> FloppyFormat {
    FloppyFormat {
        cylinders,
        heads: 2,
        sectors,
        rate,
        drive_type,
    }
}

/// The image sizes a drive accepts.
pub const FORMATS: [FloppyFormat; 7] = [
    format(40, 9, RATE_300K, 2),  // 360 KiB 5.25" in a 1.2 MB drive
    format(80, 9, RATE_250K, 4),  // 720 KiB 3.5"
    format(80, 15, RATE_500K, 2), // 1.2 MB 5.25"
    format(80, 18, RATE_500K, 4), // 1.44 MB 3.5"
    format(80, 21, RATE_500K, 4), // 1.68 MB (DMF-style) 3.5"
    format(82, 21, RATE_500K, 4), // 1.72 MB 3.5"
    format(80, 36, RATE_1M, 5),   // 2.88 MB 3.5"
];

/// Why a medium cannot be attached.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FdcError {
    /// The drive number is not 0-3.
    #[error("no floppy drive {0}")]
    NoSuchDrive(usize),
    /// The image size matches no floppy format.
    #[error("a floppy image of {0} bytes matches no format (360K, 720K, 1.2M, 1.44M, 1.68M, 1.72M, 2.88M)")]
    UnsupportedSize(u64),
}

/// What the controller is doing between register accesses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for (more) command bytes.
    #[default]
    Command,
    /// Non-DMA read: the host reads sector bytes from the FIFO.
    PioRead,
    /// Non-DMA write: the host writes sector bytes to the FIFO.
    PioWrite,
    /// Non-DMA FORMAT TRACK: the host writes 4-byte sector IDs.
    PioFormat,
    /// A DMA command waits for channel 2 to be unmasked.
    DmaWait,
    /// The host reads result bytes.
    Result,
}
anyx86_hw::wire_enum!(Phase { Command = 0, PioRead = 1, PioWrite = 2, PioFormat = 3, DmaWait = 4, Result = 5 });

/// Position of a data transfer in progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransferState {
    /// Drive 0-3.
    pub drive: u8,
    /// Cylinder.
    pub cylinder: u8,
    /// Head 0-1.
    pub head: u8,
    /// Sector being transferred.
    pub sector: u8,
    /// Last sector of the track (EOT).
    pub eot: u8,
    /// Multi-track: continue on head 1 after EOT on head 0.
    pub multi_track: bool,
}
anyx86_hw::wire_struct!(TransferState {
    drive,
    cylinder,
    head,
    sector,
    eot,
    multi_track
});

/// One drive's mechanism, as the controller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriveState {
    /// Cylinder under the heads (the FDC's PCN).
    pub cylinder: u8,
    /// Head last selected.
    pub head: u8,
    /// Sector READ ID reports next.
    pub sector: u8,
    /// Disk change line: set at power-on and when a medium is inserted or
    /// removed, cleared by a step with a medium in.
    pub disk_changed: bool,
}
anyx86_hw::wire_struct!(DriveState {
    cylinder,
    head,
    sector,
    disk_changed
});

impl Default for DriveState {
    fn default() -> Self {
        DriveState {
            cylinder: 0,
            head: 0,
            sector: 1,
            disk_changed: true,
        }
    }
}

/// Plain-data state of the controller (media contents excluded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdcState {
    /// Digital output register.
    pub dor: u8,
    /// Tape drive register (bits 0-1).
    pub tdr: u8,
    /// Data rate select register (rate also written through the CCR).
    pub dsr: u8,
    /// Current phase.
    pub phase: Phase,
    /// Command bytes received so far.
    pub command: [u8; 9],
    /// Number of valid bytes in `command`.
    pub command_len: u8,
    /// Result bytes.
    pub result: [u8; 10],
    /// Number of valid result bytes.
    pub result_len: u8,
    /// Next result byte to read.
    pub result_pos: u8,
    /// Reading the first result byte clears INT (data transfer commands).
    pub result_clears_int: bool,
    /// Non-DMA transfer buffer (always [`BUFFER_LEN`] bytes).
    pub buffer: Vec<u8>,
    /// Position in `buffer`.
    pub buffer_pos: u16,
    /// Bytes of `buffer` the current PIO phase moves.
    pub buffer_len: u16,
    /// The data transfer in progress.
    pub transfer: TransferState,
    /// INT output.
    pub int_pending: bool,
    /// Polled reset interrupts still to be sensed (4 after a reset).
    pub reset_polls: u8,
    /// Pending seek-end ST0 per drive.
    pub seek_status: [Option<u8>; DRIVES],
    /// SPECIFY byte 1 (step rate, head unload time).
    pub specify1: u8,
    /// SPECIFY byte 2 (head load time, ND = non-DMA in bit 0).
    pub specify2: u8,
    /// CONFIGURE byte 2 (EIS, EFIFO, POLL, FIFOTHR).
    pub config: u8,
    /// CONFIGURE byte 3 (precompensation start track).
    pub pretrk: u8,
    /// LOCK: CONFIGURE survives resets.
    pub lock: bool,
    /// PERPENDICULAR MODE byte (GAP, WGATE, D0-D3).
    pub perpendicular: u8,
    /// The drives.
    pub drives: [DriveState; DRIVES],
}
anyx86_hw::wire_struct!(FdcState {
    dor,
    tdr,
    dsr,
    phase,
    command,
    command_len,
    result,
    result_len,
    result_pos,
    result_clears_int,
    buffer,
    buffer_pos,
    buffer_len,
    transfer,
    int_pending,
    reset_polls,
    seek_status,
    specify1,
    specify2,
    config,
    pretrk,
    lock,
    perpendicular,
    drives
});

impl Default for FdcState {
    /// Power-on as the BIOS finds it (QEMU's state after reset): out of
    /// reset, DMA gate on, no interrupt pending.
    fn default() -> Self {
        FdcState {
            dor: DOR_NRESET | DOR_DMA_GATE,
            tdr: 0,
            dsr: RATE_DEFAULT,
            phase: Phase::Command,
            command: [0; 9],
            command_len: 0,
            result: [0; 10],
            result_len: 0,
            result_pos: 0,
            result_clears_int: false,
            buffer: vec![0; BUFFER_LEN],
            buffer_pos: 0,
            buffer_len: 0,
            transfer: TransferState::default(),
            int_pending: false,
            reset_polls: 0,
            seek_status: [None; DRIVES],
            specify1: 0,
            specify2: 0,
            config: CONFIG_DEFAULT,
            pretrk: 0,
            lock: false,
            perpendicular: 0,
            drives: [DriveState::default(); DRIVES],
        }
    }
}

/// A drive's medium and its format.
struct Medium {
    backend: Box<dyn BlockBackend>,
    format: FloppyFormat,
}

/// Why a data command stops before or during its transfer: ST1 bits.
type St1 = u8;

/// The 82077AA floppy controller with its drives.
#[derive(Default)]
pub struct Fdc {
    state: FdcState,
    media: [Option<Medium>; DRIVES],
}

impl core::fmt::Debug for Fdc {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Fdc")
            .field("state", &self.state)
            .field(
                "media",
                &self.media.each_ref().map(|m| m.as_ref().map(|m| m.format)),
            )
            .finish()
    }
}

impl Fdc {
    /// A controller with four empty drives.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts `medium` into `drive`, choosing the format from its size.
    /// The disk change line goes active, as when a disk is swapped.
    pub fn attach(
        &mut self,
        drive: usize,
        medium: Box<dyn BlockBackend>,
    ) -> Result<FloppyFormat, FdcError> {
        if drive >= DRIVES {
            return Err(FdcError::NoSuchDrive(drive));
        }
        let len = medium.len();
        let format = *FORMATS
            .iter()
            .find(|f| f.bytes() == len)
            .ok_or(FdcError::UnsupportedSize(len))?;
        self.media[drive] = Some(Medium {
            backend: medium,
            format,
        });
        self.state.drives[drive].disk_changed = true;
        Ok(format)
    }

    /// The medium in `drive`, if any (machine snapshots save an overlay's
    /// writes through it).
    pub fn medium(&self, drive: usize) -> Option<&(dyn BlockBackend + 'static)> {
        Some(self.media.get(drive)?.as_ref()?.backend.as_ref())
    }

    /// [`Fdc::medium`], to change.
    pub fn medium_mut(&mut self, drive: usize) -> Option<&mut (dyn BlockBackend + 'static)> {
        Some(self.media.get_mut(drive)?.as_mut()?.backend.as_mut())
    }

    /// Removes and returns the medium of `drive`, if any.
    pub fn eject(&mut self, drive: usize) -> Option<Box<dyn BlockBackend>> {
        let medium = self.media.get_mut(drive)?.take()?;
        self.state.drives[drive].disk_changed = true;
        Some(medium.backend)
    }

    /// CMOS drive type (byte 0x10 nibble) of `drive`: 0 without a medium,
    /// else the drive that reads the inserted format (2, 4 or 5).
    pub fn cmos_drive_type(&self, drive: usize) -> u8 {
        self.medium_format(drive).map_or(0, |f| f.drive_type)
    }

    /// Reads the register at `offset` (port - 0x3F0).
    pub fn read(&mut self, offset: u16) -> u8 {
        match offset {
            REG_DOR => self.state.dor,
            REG_TDR => self.state.tdr & 0x03,
            REG_MSR_DSR => self.msr(),
            REG_FIFO => self.read_fifo(),
            REG_DIR_CCR => self.dir(),
            _ => 0xFF,
        }
    }

    /// Writes the register at `offset` (port - 0x3F0). A command's last
    /// byte runs it, moving its data through `dma` channel 2.
    pub fn write(&mut self, offset: u16, value: u8, dma: &mut Dma8237, mem: &mut dyn DmaMemory) {
        if offset == REG_DOR {
            self.write_dor(value);
            return;
        }
        if !self.running() {
            return; // Held in reset: only the DOR listens.
        }
        match offset {
            REG_TDR => self.state.tdr = value & 0x03,
            REG_MSR_DSR => self.write_dsr(value),
            REG_FIFO => self.write_fifo(value, dma, mem),
            REG_DIR_CCR => self.state.dsr = (self.state.dsr & !DSR_RATE) | (value & DSR_RATE),
            _ => {}
        }
    }

    /// Starts a DMA command that was waiting for channel 2; call after each
    /// write to a DMA controller port.
    pub fn poll_dma(&mut self, dma: &mut Dma8237, mem: &mut dyn DmaMemory) {
        if self.state.phase == Phase::DmaWait && dma.channel_enabled(FDC_DMA_CHANNEL) {
            self.run_dma(dma, mem);
        }
    }

    fn running(&self) -> bool {
        self.state.dor & DOR_NRESET != 0
    }

    fn medium_format(&self, drive: usize) -> Option<FloppyFormat> {
        self.media.get(drive)?.as_ref().map(|m| m.format)
    }

    fn msr(&self) -> u8 {
        if !self.running() {
            return 0;
        }
        match self.state.phase {
            Phase::Command if self.state.command_len == 0 => MSR_RQM,
            Phase::Command => MSR_RQM | MSR_CB,
            Phase::PioRead => MSR_RQM | MSR_DIO | MSR_NON_DMA | MSR_CB,
            Phase::PioWrite | Phase::PioFormat => MSR_RQM | MSR_NON_DMA | MSR_CB,
            Phase::DmaWait => MSR_CB,
            Phase::Result => MSR_RQM | MSR_DIO | MSR_CB,
        }
    }

    fn dir(&self) -> u8 {
        let drive = usize::from(self.state.dor & DOR_DRIVE_SELECT);
        if self.state.drives[drive].disk_changed {
            DIR_DISK_CHANGE
        } else {
            0
        }
    }

    fn write_dor(&mut self, value: u8) {
        let leaving_reset = self.state.dor & DOR_NRESET == 0 && value & DOR_NRESET != 0;
        self.state.dor = value;
        if value & DOR_NRESET == 0 {
            self.state.int_pending = false;
        } else if leaving_reset {
            self.reset();
        }
    }

    fn write_dsr(&mut self, value: u8) {
        self.state.dsr = value & !DSR_SW_RESET;
        if value & DSR_SW_RESET != 0 {
            self.reset();
        }
    }

    /// Controller reset: back to the command phase, then one interrupt
    /// and four polled SENSE INTERRUPT STATUS results (one per drive).
    fn reset(&mut self) {
        let s = &mut self.state;
        s.phase = Phase::Command;
        s.command_len = 0;
        s.result_len = 0;
        s.result_pos = 0;
        s.seek_status = [None; DRIVES];
        if !s.lock {
            s.config = CONFIG_DEFAULT;
            s.pretrk = 0;
        }
        s.reset_polls = DRIVES as u8;
        s.int_pending = true;
    }

    /// A command or transfer raises INT; a pending reset poll is dropped,
    /// as in QEMU, so the next SENSE INTERRUPT STATUS reports this event.
    fn raise_int(&mut self) {
        self.state.int_pending = true;
        self.state.reset_polls = 0;
    }

    fn read_fifo(&mut self) -> u8 {
        match self.state.phase {
            Phase::Result => self.read_result(),
            Phase::PioRead => self.read_pio_byte(),
            _ => 0,
        }
    }

    fn read_result(&mut self) -> u8 {
        let s = &mut self.state;
        let pos = usize::from(s.result_pos).min(s.result.len() - 1);
        if pos == 0 && s.result_clears_int {
            s.int_pending = false;
        }
        s.result_pos = s.result_pos.saturating_add(1);
        if s.result_pos >= s.result_len {
            s.phase = Phase::Command;
            s.command_len = 0;
        }
        s.result[pos]
    }

    fn write_fifo(&mut self, value: u8, dma: &mut Dma8237, mem: &mut dyn DmaMemory) {
        match self.state.phase {
            Phase::Command => self.command_byte(value, dma, mem),
            Phase::PioWrite | Phase::PioFormat => self.write_pio_byte(value),
            _ => {}
        }
    }

    fn command_byte(&mut self, value: u8, dma: &mut Dma8237, mem: &mut dyn DmaMemory) {
        let s = &mut self.state;
        let len = usize::from(s.command_len);
        s.command[len.min(8)] = value;
        s.command_len = s.command_len.saturating_add(1);
        match command_length(s.command[0]) {
            None => self.set_result(&[ST0_INVALID], false),
            Some(n) if usize::from(self.state.command_len) >= n => self.execute(dma, mem),
            Some(_) => {}
        }
    }

    /// Enters the result phase with `bytes`; `clears_int` makes reading
    /// the first byte drop INT (the data transfer commands).
    fn set_result(&mut self, bytes: &[u8], clears_int: bool) {
        let s = &mut self.state;
        let n = bytes.len().min(s.result.len());
        s.result[..n].copy_from_slice(&bytes[..n]);
        s.result_len = n as u8;
        s.result_pos = 0;
        s.result_clears_int = clears_int;
        s.phase = Phase::Result;
    }

    fn end_command(&mut self) {
        self.state.phase = Phase::Command;
        self.state.command_len = 0;
    }

    fn execute(&mut self, dma: &mut Dma8237, mem: &mut dyn DmaMemory) {
        let c = self.state.command;
        match c[0] {
            CMD_SPECIFY => {
                self.state.specify1 = c[1];
                self.state.specify2 = c[2];
                self.end_command();
            }
            CMD_SENSE_DRIVE_STATUS => self.sense_drive_status(c[1]),
            CMD_RECALIBRATE => self.seek_command(c[1] & 3, 0),
            CMD_SEEK => self.seek_command(c[1], c[2]),
            CMD_SENSE_INTERRUPT => self.sense_interrupt(),
            CMD_VERSION => self.set_result(&[VERSION_82077], false),
            CMD_DUMPREG => self.dumpreg(),
            CMD_PERPENDICULAR => {
                self.perpendicular(c[1]);
                self.end_command();
            }
            CMD_CONFIGURE => {
                self.state.config = c[2];
                self.state.pretrk = c[3];
                self.end_command();
            }
            x if x & 0x7F == CMD_LOCK => {
                self.state.lock = x & 0x80 != 0;
                self.set_result(&[u8::from(self.state.lock) << 4], false);
            }
            x if x & 0xBF == CMD_RELATIVE_SEEK => self.relative_seek(x, c[1], c[2]),
            x if x & 0xBF == CMD_READ_ID => self.read_id(c[1]),
            _ => self.start_data_command(dma, mem),
        }
    }

    fn sense_drive_status(&mut self, select: u8) {
        let drive = usize::from(select & 3);
        let head = (select >> 2) & 1;
        self.state.drives[drive].head = head;
        let wp = self.media[drive]
            .as_ref()
            .map_or(true, |m| m.backend.read_only());
        let track0 = self.state.drives[drive].cylinder == 0;
        let st3 = if wp { ST3_WP } else { 0 }
            | ST3_READY
            | if track0 { ST3_TRACK0 } else { 0 }
            | ST3_TWO_SIDED
            | head << 2
            | drive as u8;
        self.set_result(&[st3], false);
    }

    /// Moves the heads of `drive`; a step with a medium in clears the disk
    /// change line.
    fn step_to(&mut self, drive: usize, cylinder: u8) {
        let present = self.media[drive].is_some();
        let d = &mut self.state.drives[drive];
        if d.cylinder != cylinder {
            d.cylinder = cylinder;
            if present {
                d.disk_changed = false;
            }
        }
    }

    /// SEEK and RECALIBRATE: step at once, interrupt with seek end.
    fn seek_command(&mut self, select: u8, cylinder: u8) {
        let drive = usize::from(select & 3);
        let head = (select >> 2) & 1;
        self.step_to(drive, cylinder);
        self.state.drives[drive].head = head;
        self.state.seek_status[drive] = Some(ST0_SEEK_END | head << 2 | drive as u8);
        self.end_command();
        self.raise_int();
    }

    fn relative_seek(&mut self, cmd: u8, select: u8, steps: u8) {
        let current = self.state.drives[usize::from(select & 3)].cylinder;
        let target = if cmd & RELATIVE_SEEK_IN != 0 {
            current.saturating_add(steps)
        } else {
            current.saturating_sub(steps)
        };
        self.seek_command(select, target);
    }

    fn sense_interrupt(&mut self) {
        let s = &mut self.state;
        let (st0, drive) = if s.reset_polls > 0 {
            let drive = DRIVES - usize::from(s.reset_polls.min(DRIVES as u8));
            s.reset_polls -= 1;
            (ST0_READY_CHANGE | drive as u8, drive)
        } else if let Some(drive) = s.seek_status.iter().position(Option::is_some) {
            (s.seek_status[drive].take().unwrap_or(0), drive)
        } else {
            self.set_result(&[ST0_INVALID], false);
            return;
        };
        s.int_pending = s.reset_polls > 0 || s.seek_status.iter().any(Option::is_some);
        let pcn = s.drives[drive].cylinder;
        self.set_result(&[st0, pcn], false);
    }

    fn dumpreg(&mut self) {
        let s = &self.state;
        let drive = usize::from(s.dor & DOR_DRIVE_SELECT);
        let eot = self.medium_format(drive).map_or(0, |f| f.sectors);
        let bytes = [
            s.drives[0].cylinder,
            s.drives[1].cylinder,
            s.drives[2].cylinder,
            s.drives[3].cylinder,
            s.specify1,
            s.specify2,
            eot,
            u8::from(s.lock) << 7 | s.perpendicular & 0x7F,
            s.config,
            s.pretrk,
        ];
        self.set_result(&bytes, false);
    }

    /// PERPENDICULAR MODE: GAP and WGATE always; D0-D3 only with OW set.
    fn perpendicular(&mut self, value: u8) {
        let keep = if value & 0x80 != 0 { 0 } else { 0x3C };
        self.state.perpendicular = (self.state.perpendicular & keep) | (value & !keep & 0x3F);
    }

    /// Checks that an address mark can be found on the selected track:
    /// a medium, the right data rate, a track that exists.
    fn check_track(&self, drive: usize, cylinder: u8, head: u8) -> Result<FloppyFormat, St1> {
        let format = self.medium_format(drive).ok_or(ST1_MA)?;
        if self.state.dsr & DSR_RATE != format.rate
            || cylinder >= format.cylinders
            || head >= format.heads
        {
            return Err(ST1_MA);
        }
        Ok(format)
    }

    fn read_id(&mut self, select: u8) {
        let drive = usize::from(select & 3);
        let head = (select >> 2) & 1;
        self.state.drives[drive].head = head;
        let cylinder = self.state.drives[drive].cylinder;
        let st0_base = head << 2 | drive as u8;
        let result = match self.check_track(drive, cylinder, head) {
            Ok(format) => {
                let d = &mut self.state.drives[drive];
                let sector = d.sector.clamp(1, format.sectors);
                d.sector = sector % format.sectors + 1;
                [st0_base, 0, 0, cylinder, head, sector, SECTOR_SIZE_CODE]
            }
            Err(st1) => [
                st0_base | ST0_ABNORMAL,
                st1,
                0,
                cylinder,
                head,
                1,
                SECTOR_SIZE_CODE,
            ],
        };
        self.set_result(&result, true);
        self.raise_int();
    }

    /// READ DATA, WRITE DATA, FORMAT TRACK: implied seek, checks, then a
    /// DMA or PIO execution phase.
    fn start_data_command(&mut self, dma: &mut Dma8237, mem: &mut dyn DmaMemory) {
        let c = self.state.command;
        let format = c[0] & 0xBF == CMD_FORMAT_TRACK;
        let drive = usize::from(c[1] & 3);
        let head = (c[1] >> 2) & 1;
        let cylinder = if format {
            self.state.drives[drive].cylinder
        } else {
            c[2]
        };
        self.step_to(drive, cylinder);
        self.state.drives[drive].head = head;
        self.state.transfer = TransferState {
            drive: drive as u8,
            cylinder,
            head,
            sector: if format { 1 } else { c[4] },
            eot: c[6],
            multi_track: !format && c[0] & CMD_MT != 0,
        };
        if let Err(st1) = self.check_data_command() {
            self.finish_error(st1);
            return;
        }
        if self.state.specify2 & 1 != 0 {
            self.start_pio();
        } else if dma.channel_enabled(FDC_DMA_CHANNEL) {
            self.run_dma(dma, mem);
        } else {
            self.state.phase = Phase::DmaWait;
        }
    }

    fn is_write(&self) -> bool {
        self.state.command[0] & 0x3F == CMD_WRITE_DATA
    }

    fn is_format(&self) -> bool {
        self.state.command[0] & 0xBF == CMD_FORMAT_TRACK
    }

    fn check_data_command(&self) -> Result<(), St1> {
        let t = self.state.transfer;
        let c = self.state.command;
        let drive = usize::from(t.drive);
        let format = self.check_track(drive, t.cylinder, t.head)?;
        if (self.is_write() || self.is_format())
            && self.media[drive]
                .as_ref()
                .is_some_and(|m| m.backend.read_only())
        {
            return Err(ST1_NW);
        }
        let (n, id_head) = if self.is_format() {
            (c[2], t.head)
        } else {
            (c[5], c[3])
        };
        let sector_ok = self.is_format() || (1..=format.sectors).contains(&t.sector);
        if n != SECTOR_SIZE_CODE || id_head != t.head || !sector_ok {
            return Err(ST1_ND);
        }
        Ok(())
    }

    fn format_of_transfer(&self) -> FloppyFormat {
        self.medium_format(usize::from(self.state.transfer.drive))
            .unwrap_or(FORMATS[3])
    }

    /// Byte offset of the transfer's current sector in the image.
    fn sector_offset(&self, t: &TransferState, sector: u8) -> u64 {
        let f = self.format_of_transfer();
        let track = u64::from(t.cylinder) * u64::from(f.heads) + u64::from(t.head);
        (track * u64::from(f.sectors) + u64::from(sector.saturating_sub(1))) * SECTOR_LEN as u64
    }

    fn read_sector(&mut self, buf: &mut [u8]) -> Result<(), St1> {
        let t = self.state.transfer;
        let offset = self.sector_offset(&t, t.sector);
        let medium = self.media[usize::from(t.drive)].as_mut().ok_or(ST1_MA)?;
        medium.backend.read(offset, buf).map_err(|_| ST1_DE)
    }

    fn write_sector(&mut self, sector: u8, data: &[u8]) -> Result<(), St1> {
        let t = self.state.transfer;
        let offset = self.sector_offset(&t, sector);
        let medium = self.media[usize::from(t.drive)].as_mut().ok_or(ST1_MA)?;
        medium.backend.write(offset, data).map_err(|e| match e {
            anyx86_hw::BlockError::ReadOnly => ST1_NW,
            _ => ST1_DE,
        })
    }

    /// True if the current sector ends the track: EOT, or the medium's
    /// last sector (QEMU's leniency).
    fn at_track_end(&self) -> bool {
        let t = &self.state.transfer;
        t.sector == t.eot || t.sector >= self.format_of_transfer().sectors
    }

    /// Moves to the next sector of a multi-sector command; false when the
    /// track (or, multi-track, the cylinder) is done.
    fn next_sector(&mut self) -> bool {
        let heads = self.format_of_transfer().heads;
        let end = self.at_track_end();
        let t = &mut self.state.transfer;
        if !end {
            t.sector += 1;
        } else if t.multi_track && t.head == 0 && heads > 1 {
            t.head = 1;
            t.sector = 1;
            self.state.drives[usize::from(t.drive)].head = 1;
        } else {
            return false;
        }
        true
    }

    /// The C/H/R the chip reports after the last sector it transferred
    /// (datasheet Table 5-6).
    fn next_id(&self) -> (u8, u8, u8) {
        let t = self.state.transfer;
        if !self.at_track_end() {
            (t.cylinder, t.head, t.sector.wrapping_add(1))
        } else if t.multi_track && t.head == 0 {
            (t.cylinder, 1, 1)
        } else if t.multi_track {
            (t.cylinder.wrapping_add(1), 0, 1)
        } else {
            (t.cylinder.wrapping_add(1), t.head, 1)
        }
    }

    /// Ends a data command: result phase and INT.
    fn finish(&mut self, st0_code: u8, st1: u8, (c, h, r): (u8, u8, u8)) {
        let t = self.state.transfer;
        let st0 = st0_code | t.head << 2 | t.drive;
        self.set_result(&[st0, st1, 0, c, h, r, SECTOR_SIZE_CODE], true);
        self.raise_int();
    }

    /// A command that failed before its data: C/H/R/N echo the command.
    fn finish_error(&mut self, st1: u8) {
        let c = self.state.command;
        let t = self.state.transfer;
        let chr = if self.is_format() {
            (t.cylinder, t.head, 1)
        } else {
            (c[2], c[3], c[4])
        };
        self.finish(ST0_ABNORMAL, st1, chr);
    }

    fn finish_normal(&mut self) {
        let chr = self.next_id();
        self.finish(0, 0, chr);
    }

    fn finish_end_of_cylinder(&mut self) {
        let chr = self.next_id();
        self.finish(ST0_ABNORMAL, ST1_EN, chr);
    }

    fn finish_failed_sector(&mut self, st1: u8) {
        let t = self.state.transfer;
        self.finish(ST0_ABNORMAL, st1, (t.cylinder, t.head, t.sector));
    }

    fn run_dma(&mut self, dma: &mut Dma8237, mem: &mut dyn DmaMemory) {
        if self.is_format() {
            self.format_dma(dma, mem);
        } else if self.is_write() {
            self.write_dma(dma, mem);
        } else {
            self.read_dma(dma, mem);
        }
    }

    fn read_dma(&mut self, dma: &mut Dma8237, mem: &mut dyn DmaMemory) {
        let mut buf = [0u8; SECTOR_LEN];
        loop {
            if let Err(st1) = self.read_sector(&mut buf) {
                return self.finish_failed_sector(st1);
            }
            let moved = dma.write_memory(FDC_DMA_CHANNEL, &buf, mem);
            if let Some(done) = self.after_dma_sector(moved) {
                return done;
            }
        }
    }

    fn write_dma(&mut self, dma: &mut Dma8237, mem: &mut dyn DmaMemory) {
        loop {
            // Bytes after a mid-sector TC are written as zeros.
            let mut buf = [0u8; SECTOR_LEN];
            let moved = dma.read_memory(FDC_DMA_CHANNEL, &mut buf, mem);
            if let Err(st1) = self.write_sector(self.state.transfer.sector, &buf) {
                return self.finish_failed_sector(st1);
            }
            if let Some(done) = self.after_dma_sector(moved) {
                return done;
            }
        }
    }

    /// After one sector went through DMA: `Some(())` once the command has
    /// ended (TC, channel stall, or end of track).
    fn after_dma_sector(&mut self, moved: crate::dma8237::DmaTransfer) -> Option<()> {
        if moved.terminal_count {
            self.finish_normal();
        } else if moved.bytes < SECTOR_LEN {
            // The channel stopped without TC: the data was not served in
            // time.
            self.finish_failed_sector(ST1_OR);
        } else if !self.next_sector() {
            self.finish_end_of_cylinder();
        } else {
            return None;
        }
        Some(())
    }

    fn format_dma(&mut self, dma: &mut Dma8237, mem: &mut dyn DmaMemory) {
        let count = usize::from(self.state.command[3]);
        let mut ids = vec![0u8; count * 4];
        let moved = dma.read_memory(FDC_DMA_CHANNEL, &mut ids, mem);
        ids.truncate(moved.bytes - moved.bytes % 4);
        self.format_sectors(&ids);
    }

    /// Writes each sector whose 4-byte ID (C, H, R, N) fits the image's
    /// geometry on this track, filled with the command's filler byte.
    fn format_sectors(&mut self, ids: &[u8]) {
        let t = self.state.transfer;
        let spt = self.format_of_transfer().sectors;
        let fill = [self.state.command[5]; SECTOR_LEN];
        let mut last = (t.cylinder, t.head, 1);
        for id in ids.chunks_exact(4) {
            last = (id[0], id[1], id[2]);
            let fits = id[0] == t.cylinder
                && id[1] == t.head
                && (1..=spt).contains(&id[2])
                && id[3] == SECTOR_SIZE_CODE;
            if fits {
                if let Err(st1) = self.write_sector(id[2], &fill) {
                    return self.finish_failed_sector(st1);
                }
            }
        }
        self.finish(0, 0, last);
    }

    /// Non-DMA execution phase: INT stays asserted while the FIFO wants
    /// service.
    fn start_pio(&mut self) {
        self.state.buffer_pos = 0;
        if self.is_format() {
            self.state.buffer_len = u16::from(self.state.command[3]) * 4;
            self.state.phase = Phase::PioFormat;
            if self.state.buffer_len == 0 {
                return self.format_sectors(&[]);
            }
        } else if self.is_write() {
            self.state.buffer_len = SECTOR_LEN as u16;
            self.state.phase = Phase::PioWrite;
        } else {
            self.state.buffer_len = SECTOR_LEN as u16;
            if !self.load_pio_sector() {
                return;
            }
            self.state.phase = Phase::PioRead;
        }
        self.raise_int();
    }

    /// Reads the current sector into the PIO buffer; false if the command
    /// ended.
    fn load_pio_sector(&mut self) -> bool {
        let mut buf = [0u8; SECTOR_LEN];
        match self.read_sector(&mut buf) {
            Ok(()) => {
                self.state.buffer[..SECTOR_LEN].copy_from_slice(&buf);
                self.state.buffer_pos = 0;
                true
            }
            Err(st1) => {
                self.finish_failed_sector(st1);
                false
            }
        }
    }

    fn read_pio_byte(&mut self) -> u8 {
        let pos = usize::from(self.state.buffer_pos).min(BUFFER_LEN - 1);
        let value = self.state.buffer[pos];
        self.state.buffer_pos = self.state.buffer_pos.saturating_add(1);
        if self.state.buffer_pos >= self.state.buffer_len {
            if self.next_sector() {
                self.load_pio_sector();
            } else {
                self.finish_end_of_cylinder();
            }
        }
        value
    }

    fn write_pio_byte(&mut self, value: u8) {
        let pos = usize::from(self.state.buffer_pos).min(BUFFER_LEN - 1);
        self.state.buffer[pos] = value;
        self.state.buffer_pos = self.state.buffer_pos.saturating_add(1);
        if self.state.buffer_pos < self.state.buffer_len {
            return;
        }
        let len = usize::from(self.state.buffer_len).min(BUFFER_LEN);
        let data = self.state.buffer[..len].to_vec();
        self.state.buffer_pos = 0;
        if self.state.phase == Phase::PioFormat {
            return self.format_sectors(&data);
        }
        if let Err(st1) = self.write_sector(self.state.transfer.sector, &data) {
            return self.finish_failed_sector(st1);
        }
        if !self.next_sector() {
            self.finish_end_of_cylinder();
        }
    }
}

/// Total bytes of a command, from its first byte; `None` if invalid.
fn command_length(cmd: u8) -> Option<usize> {
    let n = match cmd {
        c if c & 0x1F == CMD_READ_DATA => 9,
        c if c & 0x3F == CMD_WRITE_DATA => 9,
        c if c & 0xBF == CMD_READ_ID => 2,
        c if c & 0xBF == CMD_FORMAT_TRACK => 6,
        c if c & 0xBF == CMD_RELATIVE_SEEK => 3,
        c if c & 0x7F == CMD_LOCK => 1,
        CMD_SPECIFY => 3,
        CMD_SENSE_DRIVE_STATUS | CMD_RECALIBRATE | CMD_PERPENDICULAR => 2,
        CMD_SENSE_INTERRUPT | CMD_VERSION | CMD_DUMPREG => 1,
        CMD_SEEK => 3,
        CMD_CONFIGURE => 4,
        _ => return None,
    };
    Some(n)
}

impl IrqLevel for Fdc {
    /// IRQ 6: INT, low while the controller is held in reset.
    fn irq_level(&self) -> bool {
        self.state.int_pending && self.running()
    }
}

impl Fdc {
    /// IRQ 6 (same as [`IrqLevel::irq_level`]).
    pub fn irq_level(&self) -> bool {
        IrqLevel::irq_level(self)
    }
}

impl Snapshot for Fdc {
    type State = FdcState;

    fn save(&self) -> FdcState {
        self.state.clone()
    }

    fn restore(&mut self, state: &FdcState) -> Result<(), SnapshotError> {
        let invalid = |field, why| Err(SnapshotError::Invalid { field, why });
        if state.buffer.len() != BUFFER_LEN {
            return invalid("buffer", "must hold 1024 bytes");
        }
        if usize::from(state.buffer_len) > BUFFER_LEN || state.buffer_pos > state.buffer_len {
            return invalid("buffer_pos", "past the buffer");
        }
        if usize::from(state.command_len) > state.command.len()
            || usize::from(state.result_len) > state.result.len()
            || state.result_pos > state.result_len
        {
            return invalid("command", "lengths past the FIFO");
        }
        if usize::from(state.transfer.drive) >= DRIVES || usize::from(state.reset_polls) > DRIVES {
            return invalid("transfer", "drive or reset polls out of range");
        }
        self.state = state.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dma8237::tests::{program8, VecMemory};
    use crate::dma8237::{MODE_SINGLE, TRANSFER_READ, TRANSFER_WRITE};
    use crate::pci::test_util::XorShift;
    use anyx86_hw::MemDisk;

    /// Where DMA transfers land in guest memory (page 1, as SeaBIOS's
    /// 64 KiB-boundary rule allows for up to 64 KiB).
    const BUF: u32 = 0x1_0000;
    /// 1.44 MB, the PC's usual format.
    const F144: FloppyFormat = FORMATS[3];

    /// An image whose sector `lba` starts with `lba` (LE) and is filled
    /// with `lba % 251`, so every sector is recognisable.
    fn image(f: FloppyFormat) -> Vec<u8> {
        let mut data = vec![0u8; f.bytes() as usize];
        for (lba, s) in data.chunks_mut(SECTOR_LEN).enumerate() {
            s.fill((lba % 251) as u8);
            s[..2].copy_from_slice(&(lba as u16).to_le_bytes());
        }
        data
    }

    fn lba(f: FloppyFormat, c: u8, h: u8, r: u8) -> usize {
        (usize::from(c) * usize::from(f.heads) + usize::from(h)) * usize::from(f.sectors)
            + usize::from(r)
            - 1
    }

    struct Rig {
        fdc: Fdc,
        dma: Dma8237,
        mem: VecMemory,
    }

    impl Rig {
        fn new() -> Self {
            Rig {
                fdc: Fdc::new(),
                dma: Dma8237::new(),
                mem: VecMemory(vec![0; 0x3_0000]),
            }
        }

        /// A rig with `f` in drive 0 and the data rate set to match.
        fn with(f: FloppyFormat, read_only: bool) -> Self {
            let mut rig = Rig::new();
            let disk = MemDisk {
                read_only,
                ..MemDisk::new(image(f))
            };
            rig.fdc.attach(0, Box::new(disk)).unwrap();
            rig.out(REG_DIR_CCR, f.rate);
            rig
        }

        fn out(&mut self, offset: u16, value: u8) {
            self.fdc.write(offset, value, &mut self.dma, &mut self.mem);
        }

        /// Sends a command the way drivers do: wait for RQM, DIO = 0.
        fn cmd(&mut self, bytes: &[u8]) {
            for &b in bytes {
                assert_eq!(self.fdc.read(REG_MSR_DSR) & (MSR_RQM | MSR_DIO), MSR_RQM);
                self.out(REG_FIFO, b);
            }
        }

        /// Reads result bytes while the FIFO offers them.
        fn result(&mut self) -> Vec<u8> {
            let mut out = Vec::new();
            while self.fdc.read(REG_MSR_DSR) & (MSR_RQM | MSR_DIO) == MSR_RQM | MSR_DIO
                && out.len() < 16
            {
                out.push(self.fdc.read(REG_FIFO));
            }
            out
        }

        fn sense_interrupt(&mut self) -> Vec<u8> {
            self.cmd(&[CMD_SENSE_INTERRUPT]);
            self.result()
        }

        /// READ DATA (MT, MFM, SK as SeaBIOS sends) of drive 0.
        fn read_cmd(&mut self, c: u8, h: u8, r: u8, eot: u8, mt: bool) -> Vec<u8> {
            let op = if mt { 0xE6 } else { 0x66 };
            self.cmd(&[op, h << 2, c, h, r, 2, eot, 0x1B, 0xFF]);
            assert!(self.fdc.irq_level());
            self.result()
        }
    }

    #[test]
    fn reset_gives_four_polled_sense_interrupts() {
        let mut rig = Rig::new();
        rig.out(REG_DOR, 0x08); // enter reset
        assert_eq!(rig.fdc.read(REG_MSR_DSR), 0);
        rig.out(REG_DOR, 0x0C); // leave reset
        assert!(rig.fdc.irq_level());
        for drive in 0..4u8 {
            assert_eq!(rig.sense_interrupt(), vec![ST0_READY_CHANGE | drive, 0]);
        }
        assert!(!rig.fdc.irq_level());
        // Nothing left to sense: invalid.
        assert_eq!(rig.sense_interrupt(), vec![ST0_INVALID]);
    }

    #[test]
    fn dsr_software_reset_interrupts_too() {
        let mut rig = Rig::new();
        rig.out(REG_MSR_DSR, DSR_SW_RESET);
        assert!(rig.fdc.irq_level());
        assert_eq!(rig.sense_interrupt(), vec![0xC0, 0]);
    }

    #[test]
    fn version_is_82077() {
        let mut rig = Rig::new();
        rig.cmd(&[CMD_VERSION]);
        assert_eq!(rig.result(), vec![VERSION_82077]);
        assert_eq!(rig.fdc.read(REG_MSR_DSR), MSR_RQM);
    }

    #[test]
    fn specify_is_stored_and_dumpreg_shows_it() {
        let mut rig = Rig::new();
        // SeaBIOS's values: step rate 12 ms / unload 240 ms, load 4 ms, DMA.
        rig.cmd(&[CMD_SPECIFY, 0xAF, 0x02]);
        assert!(rig.result().is_empty());
        assert!(!rig.fdc.irq_level(), "SPECIFY has no interrupt");
        rig.cmd(&[CMD_DUMPREG]);
        let regs = rig.result();
        assert_eq!(regs.len(), 10);
        assert_eq!(&regs[4..6], &[0xAF, 0x02]);
        assert_eq!(regs[8], CONFIG_DEFAULT);
    }

    #[test]
    fn seek_and_recalibrate_report_through_sense_interrupt() {
        let mut rig = Rig::with(F144, false);
        rig.cmd(&[CMD_SEEK, 0x04, 5]); // drive 0, head 1, cylinder 5
        assert!(rig.fdc.irq_level());
        assert_eq!(rig.sense_interrupt(), vec![ST0_SEEK_END | ST0_HEAD, 5]);
        assert!(!rig.fdc.irq_level());
        rig.cmd(&[CMD_RECALIBRATE, 0]);
        assert_eq!(rig.sense_interrupt(), vec![ST0_SEEK_END, 0]);
    }

    #[test]
    fn relative_seek_steps_in_and_out() {
        let mut rig = Rig::with(F144, false);
        rig.cmd(&[CMD_RELATIVE_SEEK | RELATIVE_SEEK_IN, 0, 7]);
        assert_eq!(rig.sense_interrupt()[1], 7);
        rig.cmd(&[CMD_RELATIVE_SEEK, 0, 3]);
        assert_eq!(rig.sense_interrupt()[1], 4);
    }

    #[test]
    fn seek_drops_leftover_reset_polls() {
        // SeaBIOS senses one reset interrupt, then recalibrates: the next
        // sense must report the recalibrate.
        let mut rig = Rig::with(F144, false);
        rig.out(REG_DOR, 0x08);
        rig.out(REG_DOR, 0x1C);
        assert_eq!(rig.sense_interrupt(), vec![0xC0, 0]);
        rig.cmd(&[CMD_RECALIBRATE, 0]);
        assert_eq!(rig.sense_interrupt(), vec![ST0_SEEK_END, 0]);
    }

    #[test]
    fn read_one_sector_by_dma() {
        let mut rig = Rig::with(F144, false);
        program8(&mut rig.dma, 2, BUF, 512, MODE_SINGLE | TRANSFER_WRITE);
        // Cylinder 1, head 1, sector 3, one sector (EOT 3).
        let res = rig.read_cmd(1, 1, 3, 3, true);
        // Normal termination on TC. The sector was EOT on head 1 of a
        // multi-track command, so the next ID is cylinder 2, head 0, sector 1.
        assert_eq!(res, vec![ST0_HEAD, 0, 0, 2, 0, 1, 2]);
        assert!(!rig.fdc.irq_level(), "reading the result clears INT");
        let expected = &image(F144)[lba(F144, 1, 1, 3) * SECTOR_LEN..][..SECTOR_LEN];
        assert_eq!(&rig.mem.0[BUF as usize..][..SECTOR_LEN], expected);
    }

    #[test]
    fn multi_track_read_of_a_whole_cylinder_in_every_format() {
        for f in FORMATS {
            let mut rig = Rig::with(f, false);
            let bytes = 2 * usize::from(f.sectors) * SECTOR_LEN;
            program8(
                &mut rig.dma,
                2,
                BUF,
                bytes as u16,
                MODE_SINGLE | TRANSFER_WRITE,
            );
            let res = rig.read_cmd(2, 0, 1, f.sectors, true);
            // TC on the last sector of head 1: next is cylinder 3, head 0.
            assert_eq!(res, vec![ST0_HEAD, 0, 0, 3, 0, 1, 2], "{f:?}");
            let start = lba(f, 2, 0, 1) * SECTOR_LEN;
            assert_eq!(
                &rig.mem.0[BUF as usize..][..bytes],
                &image(f)[start..start + bytes],
                "{f:?}"
            );
        }
    }

    #[test]
    fn tc_mid_track_ends_normally() {
        let mut rig = Rig::with(F144, false);
        program8(&mut rig.dma, 2, BUF, 3 * 512, MODE_SINGLE | TRANSFER_WRITE);
        let res = rig.read_cmd(0, 0, 1, 18, false);
        assert_eq!(res, vec![0, 0, 0, 0, 0, 4, 2]);
    }

    #[test]
    fn eot_without_tc_is_end_of_cylinder() {
        let mut rig = Rig::with(F144, false);
        // The DMA count allows 4 sectors; the command asks for 2.
        program8(&mut rig.dma, 2, BUF, 4 * 512, MODE_SINGLE | TRANSFER_WRITE);
        let res = rig.read_cmd(0, 0, 1, 2, false);
        assert_eq!(res, vec![ST0_ABNORMAL, ST1_EN, 0, 1, 0, 1, 2]);
    }

    #[test]
    fn read_id_reports_position_and_turning_sectors() {
        let mut rig = Rig::with(F144, false);
        rig.cmd(&[CMD_SEEK, 0, 9]);
        rig.sense_interrupt();
        rig.cmd(&[CMD_READ_ID | CMD_MFM, 0x04]);
        assert!(rig.fdc.irq_level());
        assert_eq!(rig.result(), vec![ST0_HEAD, 0, 0, 9, 1, 1, 2]);
        rig.cmd(&[CMD_READ_ID | CMD_MFM, 0x04]);
        assert_eq!(rig.result()[5], 2);
    }

    #[test]
    fn wrong_data_rate_finds_no_address_mark() {
        // SeaBIOS senses 720K media in a 1.44M drive: 500K fails, 250K works.
        let f720 = FORMATS[1];
        let mut rig = Rig::with(f720, false);
        rig.out(REG_DIR_CCR, RATE_500K);
        rig.cmd(&[CMD_READ_ID | CMD_MFM, 0]);
        let res = rig.result();
        assert_eq!((res[0], res[1]), (ST0_ABNORMAL, ST1_MA));
        rig.out(REG_DIR_CCR, RATE_250K);
        rig.cmd(&[CMD_READ_ID | CMD_MFM, 0]);
        assert_eq!(rig.result()[0] & 0xC0, 0);
    }

    #[test]
    fn write_then_read_back() {
        let mut rig = Rig::with(F144, false);
        let data: Vec<u8> = (0..1024).map(|i| (i * 3) as u8).collect();
        rig.mem.0[BUF as usize..][..1024].copy_from_slice(&data);
        program8(&mut rig.dma, 2, BUF, 1024, MODE_SINGLE | TRANSFER_READ);
        // WRITE DATA (MT, MFM) cylinder 4, head 0, sectors 17-18.
        rig.cmd(&[0xC5, 0, 4, 0, 17, 2, 18, 0x1B, 0xFF]);
        assert_eq!(rig.result(), vec![0, 0, 0, 4, 1, 1, 2]);
        rig.mem.0[BUF as usize..][..1024].fill(0);
        program8(&mut rig.dma, 2, BUF, 1024, MODE_SINGLE | TRANSFER_WRITE);
        rig.read_cmd(4, 0, 17, 18, true);
        assert_eq!(&rig.mem.0[BUF as usize..][..1024], &data[..]);
    }

    #[test]
    fn tc_mid_sector_on_write_pads_the_sector_with_zeros() {
        let mut rig = Rig::with(F144, false);
        rig.mem.0[BUF as usize..][..512].fill(0xAB);
        // Only 100 bytes of DMA: the FDC completes the sector with zeros.
        program8(&mut rig.dma, 2, BUF, 100, MODE_SINGLE | TRANSFER_READ);
        rig.cmd(&[0x45, 0, 0, 0, 7, 2, 18, 0x1B, 0xFF]);
        assert_eq!(rig.result(), vec![0, 0, 0, 0, 0, 8, 2]);
        program8(&mut rig.dma, 2, BUF, 512, MODE_SINGLE | TRANSFER_WRITE);
        rig.read_cmd(0, 0, 7, 7, false);
        let sector = &rig.mem.0[BUF as usize..][..512];
        assert!(sector[..100].iter().all(|&b| b == 0xAB));
        assert!(sector[100..].iter().all(|&b| b == 0));
    }

    #[test]
    fn write_protected_medium_refuses_writes() {
        let mut rig = Rig::with(F144, true);
        program8(&mut rig.dma, 2, BUF, 512, MODE_SINGLE | TRANSFER_READ);
        rig.cmd(&[0xC5, 0, 0, 0, 1, 2, 1, 0x1B, 0xFF]);
        let res = rig.result();
        assert_eq!((res[0], res[1]), (ST0_ABNORMAL, ST1_NW));
        rig.cmd(&[CMD_SENSE_DRIVE_STATUS, 0]);
        assert_eq!(rig.result()[0] & ST3_WP, ST3_WP);
    }

    #[test]
    fn sense_drive_status_of_a_writable_disk_on_track_0() {
        let mut rig = Rig::with(F144, false);
        rig.cmd(&[CMD_SENSE_DRIVE_STATUS, 0]);
        assert_eq!(rig.result(), vec![ST3_READY | ST3_TRACK0 | ST3_TWO_SIDED]);
    }

    #[test]
    fn missing_sector_is_no_data() {
        let mut rig = Rig::with(F144, false);
        program8(&mut rig.dma, 2, BUF, 512, MODE_SINGLE | TRANSFER_WRITE);
        // Sector 19 does not exist on an 18-sector track.
        let res = rig.read_cmd(0, 0, 19, 19, false);
        assert_eq!(res, vec![ST0_ABNORMAL, ST1_ND, 0, 0, 0, 19, 2]);
    }

    #[test]
    fn drive_without_disk_finds_no_address_mark() {
        let mut rig = Rig::with(F144, false);
        program8(&mut rig.dma, 2, BUF, 512, MODE_SINGLE | TRANSFER_WRITE);
        rig.cmd(&[0xE6, 1, 0, 0, 1, 2, 1, 0x1B, 0xFF]); // drive 1
        let res = rig.result();
        assert_eq!((res[0], res[1]), (ST0_ABNORMAL | 1, ST1_MA));
        assert_eq!(rig.fdc.cmos_drive_type(1), 0);
    }

    #[test]
    fn invalid_command_returns_0x80() {
        let mut rig = Rig::new();
        rig.cmd(&[0x18]); // PART ID: an 82078 command, not the 82077AA's
        assert_eq!(rig.result(), vec![ST0_INVALID]);
        assert_eq!(rig.fdc.read(REG_MSR_DSR), MSR_RQM);
        assert!(!rig.fdc.irq_level());
    }

    #[test]
    fn pio_read_through_the_fifo() {
        let mut rig = Rig::with(F144, false);
        rig.cmd(&[CMD_SPECIFY, 0xAF, 0x03]); // ND: non-DMA
        rig.cmd(&[0x66, 0, 0, 0, 5, 2, 6, 0x1B, 0xFF]); // sectors 5-6
        let msr = rig.fdc.read(REG_MSR_DSR);
        assert_eq!(msr, MSR_RQM | MSR_DIO | MSR_NON_DMA | MSR_CB);
        assert!(rig.fdc.irq_level());
        let data: Vec<u8> = (0..1024).map(|_| rig.fdc.read(REG_FIFO)).collect();
        let start = lba(F144, 0, 0, 5) * SECTOR_LEN;
        assert_eq!(&data[..], &image(F144)[start..start + 1024]);
        // No TC in non-DMA mode: the chip stops at EOT with EN.
        assert_eq!(rig.result(), vec![ST0_ABNORMAL, ST1_EN, 0, 1, 0, 1, 2]);
    }

    #[test]
    fn pio_write_through_the_fifo() {
        let mut rig = Rig::with(F144, false);
        rig.cmd(&[CMD_SPECIFY, 0xAF, 0x03]);
        rig.cmd(&[0x45, 0, 3, 0, 2, 2, 2, 0x1B, 0xFF]);
        assert_eq!(rig.fdc.read(REG_MSR_DSR), MSR_RQM | MSR_NON_DMA | MSR_CB);
        for i in 0..512 {
            rig.out(REG_FIFO, i as u8);
        }
        assert_eq!(rig.result()[1], ST1_EN);
        rig.cmd(&[CMD_SPECIFY, 0xAF, 0x02]);
        program8(&mut rig.dma, 2, BUF, 512, MODE_SINGLE | TRANSFER_WRITE);
        rig.read_cmd(3, 0, 2, 2, false);
        assert_eq!(rig.mem.0[BUF as usize + 300], 300u16 as u8);
    }

    #[test]
    fn format_track_by_dma_fills_sectors() {
        let mut rig = Rig::with(F144, false);
        rig.cmd(&[CMD_SEEK, 0, 6]);
        rig.sense_interrupt();
        let ids: Vec<u8> = (1..=18u8).flat_map(|r| [6, 0, r, 2]).collect();
        rig.mem.0[BUF as usize..][..ids.len()].copy_from_slice(&ids);
        program8(&mut rig.dma, 2, BUF, 72, MODE_SINGLE | TRANSFER_READ);
        // FORMAT TRACK: drive 0 head 0, N=2, 18 sectors, gap 0x6C, fill 0xF6.
        rig.cmd(&[CMD_FORMAT_TRACK | CMD_MFM, 0, 2, 18, 0x6C, 0xF6]);
        assert_eq!(rig.result()[0] & 0xC0, 0);
        program8(&mut rig.dma, 2, BUF, 512, MODE_SINGLE | TRANSFER_WRITE);
        rig.read_cmd(6, 0, 18, 18, false);
        assert!(rig.mem.0[BUF as usize..][..512].iter().all(|&b| b == 0xF6));
    }

    #[test]
    fn dma_command_waits_for_the_channel() {
        let mut rig = Rig::with(F144, false);
        program8(&mut rig.dma, 2, BUF, 512, MODE_SINGLE | TRANSFER_WRITE);
        rig.dma.write(0x0A, 0x06); // mask channel 2 again
        rig.cmd(&[0x66, 0, 0, 0, 1, 2, 1, 0x1B, 0xFF]);
        assert_eq!(rig.fdc.read(REG_MSR_DSR), MSR_CB);
        assert!(!rig.fdc.irq_level());
        rig.dma.write(0x0A, 0x02);
        rig.fdc.poll_dma(&mut rig.dma, &mut rig.mem);
        assert!(rig.fdc.irq_level());
        assert_eq!(rig.result()[0], 0);
        assert_eq!(rig.mem.0[BUF as usize + 5], 0, "lba 0 fills with 0");
    }

    #[test]
    fn disk_change_clears_on_a_step_to_another_cylinder() {
        let mut rig = Rig::with(F144, false);
        assert_eq!(rig.fdc.read(REG_DIR_CCR), DIR_DISK_CHANGE);
        rig.cmd(&[CMD_SEEK, 0, 0]); // already there: no step pulse
        rig.sense_interrupt();
        assert_eq!(rig.fdc.read(REG_DIR_CCR), DIR_DISK_CHANGE);
        rig.cmd(&[CMD_SEEK, 0, 1]);
        rig.sense_interrupt();
        assert_eq!(rig.fdc.read(REG_DIR_CCR), 0);
        rig.fdc.eject(0);
        assert_eq!(rig.fdc.read(REG_DIR_CCR), DIR_DISK_CHANGE);
    }

    #[test]
    fn attach_picks_format_and_refuses_odd_sizes() {
        let mut fdc = Fdc::new();
        let f = fdc
            .attach(0, Box::new(MemDisk::new(vec![0; 1_474_560])))
            .unwrap();
        assert_eq!(f, F144);
        assert_eq!(fdc.cmos_drive_type(0), 4);
        let f = fdc
            .attach(1, Box::new(MemDisk::new(vec![0; 2_949_120])))
            .unwrap();
        assert_eq!(f.sectors, 36);
        assert_eq!(fdc.cmos_drive_type(1), 5);
        fdc.attach(1, Box::new(MemDisk::new(vec![0; 1_228_800])))
            .unwrap();
        assert_eq!(fdc.cmos_drive_type(1), 2);
        fdc.attach(1, Box::new(MemDisk::new(vec![0; 737_280])))
            .unwrap();
        assert_eq!(fdc.cmos_drive_type(1), 4);
        assert_eq!(
            fdc.attach(0, Box::new(MemDisk::new(vec![0; 1000]))),
            Err(FdcError::UnsupportedSize(1000))
        );
        assert_eq!(
            fdc.attach(4, Box::new(MemDisk::new(vec![0; 1_474_560]))),
            Err(FdcError::NoSuchDrive(4))
        );
    }

    #[test]
    fn lock_keeps_configure_across_reset() {
        let mut rig = Rig::new();
        rig.cmd(&[CMD_CONFIGURE, 0, 0x57, 0x10]);
        rig.cmd(&[CMD_LOCK | 0x80]);
        assert_eq!(rig.result(), vec![0x10]);
        rig.out(REG_MSR_DSR, DSR_SW_RESET);
        assert_eq!(rig.fdc.save().config, 0x57);
        rig.cmd(&[CMD_LOCK]);
        assert_eq!(rig.result(), vec![0]);
        rig.out(REG_MSR_DSR, DSR_SW_RESET);
        assert_eq!(rig.fdc.save().config, CONFIG_DEFAULT);
    }

    #[test]
    fn perpendicular_mode_needs_ow_for_drive_bits() {
        let mut rig = Rig::new();
        rig.cmd(&[CMD_PERPENDICULAR, 0x3C]); // D0-D3 without OW: ignored
        assert_eq!(rig.fdc.save().perpendicular, 0);
        rig.cmd(&[CMD_PERPENDICULAR, 0x84]); // OW, drive 0 perpendicular
        assert_eq!(rig.fdc.save().perpendicular, 0x04);
    }

    #[test]
    fn unmapped_registers_read_ones() {
        let mut rig = Rig::new();
        assert_eq!(rig.fdc.read(REG_SRA), 0xFF);
        assert_eq!(rig.fdc.read(REG_SRB), 0xFF);
        assert_eq!(rig.fdc.read(6), 0xFF);
        assert_eq!(rig.fdc.read(REG_DOR), 0x0C);
    }

    #[test]
    fn snapshot_roundtrip() {
        let mut rig = Rig::with(F144, false);
        rig.cmd(&[CMD_SPECIFY, 0xAF, 0x03]);
        rig.cmd(&[0x66, 0, 0, 0, 1, 2, 1, 0x1B, 0xFF]);
        rig.fdc.read(REG_FIFO);
        anyx86_hw::assert_snapshot_roundtrip(&rig.fdc, &mut Fdc::new());
        let mut bad = rig.fdc.save();
        bad.buffer.pop();
        assert!(Fdc::new().restore(&bad).is_err());
    }

    #[test]
    fn hammer_every_register() {
        let mut rig = Rig::with(F144, false);
        rig.fdc
            .attach(1, Box::new(MemDisk::read_only(image(FORMATS[0]))))
            .unwrap();
        let mut rng = XorShift(0x0DDB_1A5E_5BAD_5EED);
        for _ in 0..20_000 {
            let r = rng.next();
            let offset = (r % 10) as u16;
            if r & 0x100 != 0 {
                rig.out(offset, (r >> 16) as u8);
            } else {
                rig.fdc.read(offset);
            }
            if r & 0xF000 == 0 {
                let port = [0x04, 0x05, 0x0A, 0x0B, 0x0C, 0x81][(r >> 24) as usize % 6];
                rig.dma.write(port, (r >> 32) as u8);
                rig.fdc.poll_dma(&mut rig.dma, &mut rig.mem);
            }
            let _ = rig.fdc.irq_level();
        }
        assert!(Fdc::new().restore(&rig.fdc.save()).is_ok());
    }
}
