//! The ATAPI CD-ROM command set of the IDE controller's packet devices: the
//! 12-byte SCSI/MMC command descriptor blocks a PACKET (A0h) command
//! carries, decoded into a reply the transport in [`crate::ide`] moves by
//! PIO or bus-master DMA.
//!
//! Reference: SCSI Primary Commands (SPC-3) for TEST UNIT READY, REQUEST
//! SENSE (fixed sense format, 70h), INQUIRY and MODE SENSE(10); SCSI
//! Multimedia Commands (MMC-5) for READ CAPACITY, READ(10)/(12), READ TOC
//! (formats 0000b and 0001b, the MSF bit), GET CONFIGURATION (feature
//! header, profile list, core, morphing and removable medium features),
//! GET EVENT STATUS NOTIFICATION (polled, media class), READ DISC
//! INFORMATION, MECHANISM STATUS, START STOP UNIT, PREVENT ALLOW MEDIUM
//! REMOVAL, SET CD SPEED and mode page 2Ah; QEMU `hw/ide/atapi.c` for the
//! replies guests are used to (unit attention handling, which commands
//! need a medium, which may run while a unit attention is pending).
//!
//! The medium is a single-session data disc of 2048-byte blocks with one
//! track (track 1, data, starting at LBA 0).
//!
//! # Not implemented
//!
//! - Audio (PLAY, READ SUBCHANNEL, READ CD), DVD structures, READ TOC
//!   formats other than 0 and 1, MODE SELECT, MODE SENSE(6) (rejected with
//!   ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE, as QEMU does).
//! - Vital product data pages of INQUIRY (EVPD is rejected).
//! - Changeable mode parameters: every page reports nothing changeable.

use anyx86_hw::BlockBackend;

/// Size of a CD-ROM logical block (mode 1 user data).
pub const CD_BLOCK_SIZE: u64 = 2048;
/// Length of an ATAPI command packet.
pub const ATAPI_PACKET_SIZE: usize = 12;

/// TEST UNIT READY.
pub const GPCMD_TEST_UNIT_READY: u8 = 0x00;
/// REQUEST SENSE.
pub const GPCMD_REQUEST_SENSE: u8 = 0x03;
/// INQUIRY.
pub const GPCMD_INQUIRY: u8 = 0x12;
/// MODE SENSE(6) (rejected).
pub const GPCMD_MODE_SENSE_6: u8 = 0x1A;
/// START STOP UNIT (load/eject).
pub const GPCMD_START_STOP_UNIT: u8 = 0x1B;
/// PREVENT ALLOW MEDIUM REMOVAL.
pub const GPCMD_PREVENT_ALLOW_MEDIUM_REMOVAL: u8 = 0x1E;
/// READ CAPACITY.
pub const GPCMD_READ_CAPACITY: u8 = 0x25;
/// READ(10).
pub const GPCMD_READ_10: u8 = 0x28;
/// SEEK(10).
pub const GPCMD_SEEK: u8 = 0x2B;
/// READ TOC/PMA/ATIP.
pub const GPCMD_READ_TOC: u8 = 0x43;
/// GET CONFIGURATION.
pub const GPCMD_GET_CONFIGURATION: u8 = 0x46;
/// GET EVENT STATUS NOTIFICATION.
pub const GPCMD_GET_EVENT_STATUS_NOTIFICATION: u8 = 0x4A;
/// READ DISC INFORMATION.
pub const GPCMD_READ_DISC_INFORMATION: u8 = 0x51;
/// MODE SENSE(10).
pub const GPCMD_MODE_SENSE_10: u8 = 0x5A;
/// READ(12).
pub const GPCMD_READ_12: u8 = 0xA8;
/// SET CD SPEED.
pub const GPCMD_SET_SPEED: u8 = 0xBB;
/// MECHANISM STATUS.
pub const GPCMD_MECHANISM_STATUS: u8 = 0xBD;

/// Sense key: no sense.
pub const SENSE_NONE: u8 = 0x00;
/// Sense key: not ready.
pub const SENSE_NOT_READY: u8 = 0x02;
/// Sense key: medium error.
pub const SENSE_MEDIUM_ERROR: u8 = 0x03;
/// Sense key: illegal request.
pub const SENSE_ILLEGAL_REQUEST: u8 = 0x05;
/// Sense key: unit attention.
pub const SENSE_UNIT_ATTENTION: u8 = 0x06;

/// Additional sense code: unrecovered read error.
pub const ASC_UNRECOVERED_READ_ERROR: u8 = 0x11;
/// Additional sense code: invalid command operation code.
pub const ASC_ILLEGAL_OPCODE: u8 = 0x20;
/// Additional sense code: logical block address out of range.
pub const ASC_LOGICAL_BLOCK_OOR: u8 = 0x21;
/// Additional sense code: invalid field in command packet.
pub const ASC_INV_FIELD_IN_CMD_PACKET: u8 = 0x24;
/// Additional sense code: not ready to ready change, medium may have
/// changed.
pub const ASC_MEDIUM_MAY_HAVE_CHANGED: u8 = 0x28;
/// Additional sense code: saving parameters not supported.
pub const ASC_SAVING_PARAMETERS_NOT_SUPPORTED: u8 = 0x39;
/// Additional sense code: medium not present.
pub const ASC_MEDIUM_NOT_PRESENT: u8 = 0x3A;
/// Additional sense code: medium removal prevented.
pub const ASC_MEDIA_REMOVAL_PREVENTED: u8 = 0x53;

/// Mode page 01h: read/write error recovery parameters.
pub const MODE_PAGE_R_W_ERROR: u8 = 0x01;
/// Mode page 2Ah: CD/DVD capabilities and mechanical status.
pub const MODE_PAGE_CAPABILITIES: u8 = 0x2A;
/// Mode page code 3Fh: return all pages.
pub const MODE_PAGE_ALL: u8 = 0x3F;

/// MMC profile: CD-ROM.
pub const MMC_PROFILE_CD_ROM: u16 = 0x0008;
/// MMC profile: none (no medium).
pub const MMC_PROFILE_NONE: u16 = 0x0000;

/// GET EVENT STATUS NOTIFICATION class: media (bit 4 of the request mask).
pub const GESN_MEDIA: u8 = 4;
/// Notification class byte bit 7: no event available.
pub const GESN_NEA: u8 = 0x80;
/// Media event code: no change.
pub const MEC_NO_CHANGE: u8 = 0;
/// Media event code: new media.
pub const MEC_NEW_MEDIA: u8 = 2;
/// Media event code: media removal.
pub const MEC_MEDIA_REMOVAL: u8 = 3;
/// Media status bit 0: tray (door) open.
pub const MS_TRAY_OPEN: u8 = 0x01;
/// Media status bit 1: media present.
pub const MS_MEDIA_PRESENT: u8 = 0x02;

/// Plain-data state of a CD-ROM drive beyond the ATA task file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AtapiState {
    /// Sense key of the last CHECK CONDITION (REQUEST SENSE reports it).
    pub sense_key: u8,
    /// Additional sense code to go with it.
    pub asc: u8,
    /// The guest opened the tray (START STOP UNIT eject); the medium stays
    /// in the drive but is not present until the tray closes.
    pub tray_open: bool,
    /// PREVENT ALLOW MEDIUM REMOVAL prevents ejection.
    pub locked: bool,
    /// Pending media event code for GET EVENT STATUS NOTIFICATION
    /// (`MEC_*`), reported once.
    pub media_event: u8,
}
anyx86_hw::wire_struct!(AtapiState {
    sense_key,
    asc,
    tray_open,
    locked,
    media_event
});

/// What a command packet produced, for the transport to move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Completed without data.
    Ok,
    /// Data for the host, already cut to the allocation length.
    Data(Vec<u8>),
    /// `len` bytes of the medium from byte `offset` for the host.
    Medium {
        /// Byte offset on the medium.
        offset: u64,
        /// Byte count.
        len: u64,
    },
    /// CHECK CONDITION with this sense key and additional sense code.
    Error(u8, u8),
}

/// Flags of a command as QEMU's table gives them.
struct CmdFlags {
    /// Fails NOT READY / MEDIUM NOT PRESENT without a medium.
    check_ready: bool,
    /// Runs even while a unit attention is pending.
    allow_ua: bool,
}

fn flags(op: u8) -> CmdFlags {
    let check_ready = matches!(
        op,
        GPCMD_TEST_UNIT_READY
            | GPCMD_READ_CAPACITY
            | GPCMD_READ_10
            | GPCMD_READ_12
            | GPCMD_SEEK
            | GPCMD_READ_TOC
            | GPCMD_READ_DISC_INFORMATION
    );
    let allow_ua = matches!(
        op,
        GPCMD_REQUEST_SENSE
            | GPCMD_INQUIRY
            | GPCMD_GET_CONFIGURATION
            | GPCMD_GET_EVENT_STATUS_NOTIFICATION
    );
    CmdFlags {
        check_ready,
        allow_ua,
    }
}

/// A big-endian 16-bit field of a command packet.
fn be16(cdb: &[u8], at: usize) -> usize {
    usize::from(cdb[at]) << 8 | usize::from(cdb[at + 1])
}

/// A big-endian 32-bit field of a command packet.
fn be32(cdb: &[u8], at: usize) -> u64 {
    u64::from(u32::from_be_bytes([
        cdb[at],
        cdb[at + 1],
        cdb[at + 2],
        cdb[at + 3],
    ]))
}

/// Cuts `data` to the allocation length `max`.
fn data(mut data: Vec<u8>, max: usize) -> Reply {
    data.truncate(max);
    Reply::Data(data)
}

/// A CD-ROM drive's command interpreter over its [`AtapiState`] and
/// medium.
pub(crate) struct Cdrom<'a> {
    pub(crate) st: &'a mut AtapiState,
    /// The medium in the drive, if any (present only with the tray closed).
    pub(crate) medium: Option<&'a dyn BlockBackend>,
}

impl Cdrom<'_> {
    fn present(&self) -> bool {
        !self.st.tray_open && self.medium.is_some()
    }

    /// Number of 2048-byte blocks on the present medium (0 without one).
    fn blocks(&self) -> u64 {
        match self.medium {
            Some(m) if !self.st.tray_open => m.len() / CD_BLOCK_SIZE,
            _ => 0,
        }
    }

    /// Executes one command packet (at least [`ATAPI_PACKET_SIZE`] bytes).
    pub(crate) fn execute(&mut self, cdb: &[u8; ATAPI_PACKET_SIZE]) -> Reply {
        let op = cdb[0];
        let f = flags(op);
        if self.st.sense_key == SENSE_UNIT_ATTENTION && !f.allow_ua {
            return Reply::Error(SENSE_UNIT_ATTENTION, self.st.asc);
        }
        if f.check_ready && !self.present() {
            return Reply::Error(SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT);
        }
        self.dispatch(op, cdb)
    }

    fn dispatch(&mut self, op: u8, cdb: &[u8; ATAPI_PACKET_SIZE]) -> Reply {
        match op {
            GPCMD_TEST_UNIT_READY | GPCMD_SET_SPEED => Reply::Ok,
            GPCMD_REQUEST_SENSE => self.request_sense(cdb),
            GPCMD_INQUIRY => inquiry(cdb),
            GPCMD_START_STOP_UNIT => self.start_stop(cdb),
            GPCMD_PREVENT_ALLOW_MEDIUM_REMOVAL => {
                self.st.locked = cdb[4] & 1 != 0;
                Reply::Ok
            }
            GPCMD_READ_CAPACITY => self.read_capacity(),
            GPCMD_READ_10 => self.read(be32(cdb, 2), be16(cdb, 7) as u64),
            GPCMD_READ_12 => self.read(be32(cdb, 2), be32(cdb, 6)),
            GPCMD_SEEK => self.seek(be32(cdb, 2)),
            GPCMD_READ_TOC => self.read_toc(cdb),
            GPCMD_GET_CONFIGURATION => self.get_configuration(cdb),
            GPCMD_GET_EVENT_STATUS_NOTIFICATION => self.event_status(cdb),
            GPCMD_READ_DISC_INFORMATION => read_disc_information(cdb),
            GPCMD_MODE_SENSE_10 => self.mode_sense(cdb),
            GPCMD_MECHANISM_STATUS => mechanism_status(cdb),
            _ => Reply::Error(SENSE_ILLEGAL_REQUEST, ASC_ILLEGAL_OPCODE),
        }
    }

    /// Fixed-format sense data; reporting a unit attention clears it.
    fn request_sense(&mut self, cdb: &[u8]) -> Reply {
        let mut buf = vec![0u8; 18];
        buf[0] = 0x70 | 0x80; // current error, VALID
        buf[2] = self.st.sense_key;
        buf[7] = 10; // additional sense length
        buf[12] = self.st.asc;
        if self.st.sense_key == SENSE_UNIT_ATTENTION {
            self.st.sense_key = SENSE_NONE;
            self.st.asc = 0;
        }
        data(buf, usize::from(cdb[4]))
    }

    /// START STOP UNIT: LoEj with Start clear opens the tray (refused while
    /// locked), with Start set closes it.
    fn start_stop(&mut self, cdb: &[u8]) -> Reply {
        let (start, loej) = (cdb[4] & 1 != 0, cdb[4] & 2 != 0);
        if !loej {
            return Reply::Ok;
        }
        if !start {
            if self.st.locked && self.present() {
                return Reply::Error(SENSE_NOT_READY, ASC_MEDIA_REMOVAL_PREVENTED);
            }
            if !self.st.tray_open && self.medium.is_some() {
                self.st.media_event = MEC_MEDIA_REMOVAL;
            }
            self.st.tray_open = true;
        } else if self.st.tray_open {
            self.st.tray_open = false;
            if self.medium.is_some() {
                self.st.media_event = MEC_NEW_MEDIA;
            }
        }
        Reply::Ok
    }

    fn read_capacity(&self) -> Reply {
        let last = self.blocks().saturating_sub(1).min(u64::from(u32::MAX)) as u32;
        let mut buf = last.to_be_bytes().to_vec();
        buf.extend_from_slice(&(CD_BLOCK_SIZE as u32).to_be_bytes());
        Reply::Data(buf)
    }

    fn read(&self, lba: u64, count: u64) -> Reply {
        if lba.saturating_add(count) > self.blocks() {
            return Reply::Error(SENSE_ILLEGAL_REQUEST, ASC_LOGICAL_BLOCK_OOR);
        }
        if count == 0 {
            return Reply::Ok;
        }
        Reply::Medium {
            offset: lba * CD_BLOCK_SIZE,
            len: count * CD_BLOCK_SIZE,
        }
    }

    fn seek(&self, lba: u64) -> Reply {
        if lba >= self.blocks() {
            return Reply::Error(SENSE_ILLEGAL_REQUEST, ASC_LOGICAL_BLOCK_OOR);
        }
        Reply::Ok
    }

    /// READ TOC: format 0 (the TOC: track 1 and the lead-out) and format 1
    /// (session info); the format comes from byte 2 or, for old drivers,
    /// the top bits of byte 9.
    fn read_toc(&self, cdb: &[u8]) -> Reply {
        let format = if cdb[2] & 0x0F != 0 {
            cdb[2] & 0x0F
        } else {
            cdb[9] >> 6
        };
        let msf = cdb[1] & 2 != 0;
        let max = be16(cdb, 7);
        match format {
            0 => match toc(self.blocks(), msf, cdb[6]) {
                Some(buf) => data(buf, max),
                None => Reply::Error(SENSE_ILLEGAL_REQUEST, ASC_INV_FIELD_IN_CMD_PACKET),
            },
            1 => {
                // One complete session, first track in it is track 1 at 0.
                let mut buf = vec![0u8; 12];
                buf[1] = 0x0A;
                buf[2] = 1;
                buf[3] = 1;
                data(buf, max)
            }
            _ => Reply::Error(SENSE_ILLEGAL_REQUEST, ASC_INV_FIELD_IN_CMD_PACKET),
        }
    }

    /// GET CONFIGURATION from feature 0: header with the current profile,
    /// then the profile list, core, morphing and removable medium features.
    fn get_configuration(&self, cdb: &[u8]) -> Reply {
        if cdb[2] != 0 || cdb[3] != 0 {
            return Reply::Error(SENSE_ILLEGAL_REQUEST, ASC_INV_FIELD_IN_CMD_PACKET);
        }
        let profile = if self.present() {
            MMC_PROFILE_CD_ROM
        } else {
            MMC_PROFILE_NONE
        };
        let mut buf = vec![0u8; 8];
        buf[6..8].copy_from_slice(&profile.to_be_bytes());
        // Feature 0000h: profile list, current, one profile descriptor.
        buf.extend_from_slice(&[0x00, 0x00, 0x03, 0x04]);
        let cur = u8::from(profile == MMC_PROFILE_CD_ROM);
        buf.extend_from_slice(&[0x00, 0x08, cur, 0x00]);
        // Feature 0001h: core, persistent + current, interface 2 = ATAPI.
        buf.extend_from_slice(&[0x00, 0x01, 0x07, 0x08, 0, 0, 0, 2, 0, 0, 0, 0]);
        // Feature 0002h: morphing, OCEvent + ASYNC clear (polled events).
        buf.extend_from_slice(&[0x00, 0x02, 0x07, 0x04, 0x02, 0, 0, 0]);
        // Feature 0003h: removable medium, tray loader, eject, lock.
        buf.extend_from_slice(&[0x00, 0x03, 0x07, 0x04, 0x29, 0, 0, 0]);
        let len = (buf.len() - 4) as u32;
        buf[0..4].copy_from_slice(&len.to_be_bytes());
        data(buf, be16(cdb, 7))
    }

    /// GET EVENT STATUS NOTIFICATION, polled only: the media class reports
    /// (and consumes) the pending media event.
    fn event_status(&mut self, cdb: &[u8]) -> Reply {
        if cdb[1] & 1 == 0 {
            return Reply::Error(SENSE_ILLEGAL_REQUEST, ASC_INV_FIELD_IN_CMD_PACKET);
        }
        let mut buf = vec![0u8, 2, GESN_NEA, 1 << GESN_MEDIA];
        if cdb[4] & (1 << GESN_MEDIA) != 0 {
            let status = if self.st.tray_open {
                MS_TRAY_OPEN
            } else if self.medium.is_some() {
                MS_MEDIA_PRESENT
            } else {
                0
            };
            let event = std::mem::take(&mut self.st.media_event);
            buf[1] = 6;
            buf[2] = GESN_MEDIA;
            buf.extend_from_slice(&[event, status, 0, 0]);
        }
        data(buf, be16(cdb, 7))
    }

    /// MODE SENSE(10): pages 01h, 2Ah and 3Fh (both); current and default
    /// values alike, nothing changeable, saved values unsupported.
    fn mode_sense(&self, cdb: &[u8]) -> Reply {
        let (control, code) = (cdb[2] >> 6, cdb[2] & 0x3F);
        if control == 3 {
            return Reply::Error(SENSE_ILLEGAL_REQUEST, ASC_SAVING_PARAMETERS_NOT_SUPPORTED);
        }
        let mut pages = match code {
            MODE_PAGE_R_W_ERROR => error_recovery_page(),
            MODE_PAGE_CAPABILITIES => self.capabilities_page(),
            MODE_PAGE_ALL => [error_recovery_page(), self.capabilities_page()].concat(),
            _ => return Reply::Error(SENSE_ILLEGAL_REQUEST, ASC_INV_FIELD_IN_CMD_PACKET),
        };
        if control == 1 {
            // Changeable values: a mask of zeroes after each page header.
            zero_page_bodies(&mut pages);
        }
        let mut buf = vec![0u8; 8];
        buf[2] = 0x70; // medium type, as QEMU reports it
        buf.extend_from_slice(&pages);
        let len = (buf.len() - 2) as u16;
        buf[0..2].copy_from_slice(&len.to_be_bytes());
        data(buf, be16(cdb, 7))
    }

    /// Mode page 2Ah, 20 bytes: reads CD-R/RW, audio play, eject and lock,
    /// tray loader, 4x speed, 512 KiB buffer.
    fn capabilities_page(&self) -> Vec<u8> {
        let mut p = vec![0u8; 20];
        p[0] = MODE_PAGE_CAPABILITIES;
        p[1] = 18;
        p[2] = 0x03; // reads CD-R and CD-RW
        p[4] = 0x71; // audio play, composite, digital ports, multi-session
        p[5] = 3 << 5; // CD-DA commands, accurate stream
        p[6] = 0x01 | 0x08 | 0x20 | if self.st.locked { 0x02 } else { 0 };
        p[8..10].copy_from_slice(&704u16.to_be_bytes()); // 4x in kB/s
        p[11] = 2; // volume levels
        p[12..14].copy_from_slice(&512u16.to_be_bytes()); // buffer KiB
        p[14..16].copy_from_slice(&704u16.to_be_bytes());
        p
    }

    /// The host changed the medium: a new one raises a unit attention and a
    /// new-media event; removal reports a media-removal event (and NOT
    /// READY on the next command that needs a medium).
    pub(crate) fn medium_changed(&mut self, inserted: bool) {
        self.st.tray_open = false;
        if inserted {
            self.st.sense_key = SENSE_UNIT_ATTENTION;
            self.st.asc = ASC_MEDIUM_MAY_HAVE_CHANGED;
            self.st.media_event = MEC_NEW_MEDIA;
        } else {
            self.st.media_event = MEC_MEDIA_REMOVAL;
        }
    }
}

fn inquiry(cdb: &[u8]) -> Reply {
    if cdb[1] & 1 != 0 {
        return Reply::Error(SENSE_ILLEGAL_REQUEST, ASC_INV_FIELD_IN_CMD_PACKET);
    }
    let mut buf = vec![0u8; 36];
    buf[0] = 0x05; // peripheral device type: CD/DVD
    buf[1] = 0x80; // removable
    buf[3] = 0x21; // ATAPI, response data format 1
    buf[4] = 31; // additional length
    pad_into(&mut buf[8..16], "ANYX86");
    pad_into(&mut buf[16..32], "ANYX86 CD-ROM");
    pad_into(&mut buf[32..36], "1.0");
    data(buf, usize::from(cdb[4]))
}

/// Copies `s` into `dst`, padding with spaces (SCSI ASCII fields).
fn pad_into(dst: &mut [u8], s: &str) {
    for (i, b) in dst.iter_mut().enumerate() {
        *b = s.as_bytes().get(i).copied().unwrap_or(b' ');
    }
}

/// READ TOC format 0: header, track 1 (unless the start track is past
/// it) and the lead-out (AAh) at `blocks`. `None` for an invalid start
/// track.
fn toc(blocks: u64, msf: bool, start_track: u8) -> Option<Vec<u8>> {
    if start_track > 1 && start_track != 0xAA {
        return None;
    }
    let mut buf = vec![0, 0, 1, 1];
    if start_track <= 1 {
        buf.extend_from_slice(&[0, 0x14, 1, 0]); // data track, ADR 1
        buf.extend_from_slice(&address(0, msf));
    }
    buf.extend_from_slice(&[0, 0x16, 0xAA, 0]);
    buf.extend_from_slice(&address(blocks, msf));
    let len = (buf.len() - 2) as u16;
    buf[0..2].copy_from_slice(&len.to_be_bytes());
    Some(buf)
}

/// A TOC address: a 32-bit LBA, or 0/M/S/F with the 2-second (150-frame)
/// pregap added.
fn address(lba: u64, msf: bool) -> [u8; 4] {
    if !msf {
        return (lba.min(u64::from(u32::MAX)) as u32).to_be_bytes();
    }
    let f = lba.saturating_add(150);
    let m = (f / (75 * 60)).min(255) as u8;
    [0, m, (f / 75 % 60) as u8, (f % 75) as u8]
}

/// READ DISC INFORMATION (data type 000b): a finalized single-session disc.
fn read_disc_information(cdb: &[u8]) -> Reply {
    if cdb[1] & 7 != 0 {
        return Reply::Error(SENSE_ILLEGAL_REQUEST, ASC_INV_FIELD_IN_CMD_PACKET);
    }
    let mut buf = vec![0u8; 34];
    buf[1] = 32;
    buf[2] = 0x0E; // last session complete, disc finalized
    buf[3] = 1; // first track
    buf[4] = 1; // sessions
    buf[5] = 1; // first track in last session
    buf[6] = 1; // last track in last session
    buf[7] = 0x20; // unrestricted use
    data(buf, be16(cdb, 7))
}

/// MECHANISM STATUS: no changer, no operation, one slot.
fn mechanism_status(cdb: &[u8]) -> Reply {
    let buf = vec![0, 0, 0, 0, 0, 1, 0, 0];
    data(buf, be16(cdb, 8))
}

/// Mode page 01h, 8 bytes: read retry count 5.
fn error_recovery_page() -> Vec<u8> {
    vec![MODE_PAGE_R_W_ERROR, 6, 0, 5, 0, 0, 0, 0]
}

/// Zeroes the parameter bytes of each page in a run of mode pages.
fn zero_page_bodies(pages: &mut [u8]) {
    let mut at = 0;
    while at + 2 <= pages.len() {
        let end = (at + 2 + usize::from(pages[at + 1])).min(pages.len());
        pages[at + 2..end].fill(0);
        at = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyx86_hw::MemDisk;

    fn cdb(bytes: &[u8]) -> [u8; ATAPI_PACKET_SIZE] {
        let mut c = [0u8; ATAPI_PACKET_SIZE];
        c[..bytes.len()].copy_from_slice(bytes);
        c
    }

    #[test]
    fn toc_msf_adds_the_pregap() {
        // Block 0 is 00:02:00 (150 frames of pregap).
        assert_eq!(address(0, true), [0, 0, 2, 0]);
        // 4500 blocks = 60 s: 01:02:00.
        assert_eq!(address(4500, true), [0, 1, 2, 0]);
    }

    #[test]
    fn toc_from_lead_out_only() {
        let buf = toc(100, false, 0xAA).expect("lead-out start is valid");
        assert_eq!(buf.len(), 12);
        assert_eq!(buf[6], 0xAA);
        assert_eq!(&buf[8..12], &100u32.to_be_bytes());
        assert!(toc(100, false, 2).is_none());
    }

    #[test]
    fn unit_attention_blocks_other_commands_until_sensed() {
        let mut st = AtapiState::default();
        let disk = MemDisk::read_only(vec![0; 4096]);
        let mut cd = Cdrom {
            st: &mut st,
            medium: Some(&disk),
        };
        cd.medium_changed(true);
        assert_eq!(
            cd.execute(&cdb(&[GPCMD_TEST_UNIT_READY])),
            Reply::Error(SENSE_UNIT_ATTENTION, ASC_MEDIUM_MAY_HAVE_CHANGED)
        );
        // INQUIRY is allowed during a unit attention.
        assert!(matches!(
            cd.execute(&cdb(&[GPCMD_INQUIRY, 0, 0, 0, 36])),
            Reply::Data(_)
        ));
        cd.execute(&cdb(&[GPCMD_REQUEST_SENSE, 0, 0, 0, 18]));
        assert_eq!(cd.execute(&cdb(&[GPCMD_TEST_UNIT_READY])), Reply::Ok);
    }

    #[test]
    fn eject_refused_while_locked() {
        let mut st = AtapiState::default();
        let disk = MemDisk::read_only(vec![0; 4096]);
        let mut cd = Cdrom {
            st: &mut st,
            medium: Some(&disk),
        };
        cd.execute(&cdb(&[GPCMD_PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 1]));
        assert_eq!(
            cd.execute(&cdb(&[GPCMD_START_STOP_UNIT, 0, 0, 0, 2])),
            Reply::Error(SENSE_NOT_READY, ASC_MEDIA_REMOVAL_PREVENTED)
        );
        cd.execute(&cdb(&[GPCMD_PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 0]));
        assert_eq!(
            cd.execute(&cdb(&[GPCMD_START_STOP_UNIT, 0, 0, 0, 2])),
            Reply::Ok
        );
        assert_eq!(
            cd.execute(&cdb(&[GPCMD_TEST_UNIT_READY])),
            Reply::Error(SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT)
        );
        // Closing the tray (LoEj + Start) brings the disc back.
        cd.execute(&cdb(&[GPCMD_START_STOP_UNIT, 0, 0, 0, 3]));
        assert_eq!(cd.execute(&cdb(&[GPCMD_TEST_UNIT_READY])), Reply::Ok);
    }

    #[test]
    fn changeable_mode_values_are_zero() {
        let mut st = AtapiState::default();
        let mut cd = Cdrom {
            st: &mut st,
            medium: None,
        };
        let Reply::Data(buf) = cd.execute(&cdb(&[
            GPCMD_MODE_SENSE_10,
            0,
            0x40 | 0x2A,
            0,
            0,
            0,
            0,
            0,
            255,
        ])) else {
            panic!("mode sense failed");
        };
        assert_eq!(buf[8], MODE_PAGE_CAPABILITIES);
        assert!(buf[10..].iter().all(|&b| b == 0));
    }
}
