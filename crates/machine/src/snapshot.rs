//! Snapshot files: a whole machine saved at an instruction boundary and
//! loaded into a fresh process (`--loadvm`, `--savevm`, the debugger's
//! `savevm`).
//!
//! The layout, every integer little-endian (after Firecracker's snapshot
//! file: magic, version, state, checksums):
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `ANYX86VM` |
//! | 4 | format version ([`FORMAT_VERSION`]) |
//! | ... | sections |
//!
//! Each section is a 4-byte tag, a `u64` payload length, the payload and
//! the CRC-32 of the payload. The sections come in this order:
//! - `MACH`: the identity of the machine, as text lines (RAM size, machine
//!   kind, CPU model, `--ips`, the ROM, kernel and drives' sizes and
//!   checksums). The loading command line must build the same identity:
//!   what a snapshot leaves out (ROM, media, CMOS configuration, fw_cfg
//!   items) comes from it.
//! - `CPU0`: the CPU's architectural state ([`anyx86_cpu`]'s snapshot)
//!   and the machine's own two values: the FERR# level last forwarded to
//!   IRQ 13, and the RTC's power-on time (a reset keeps it, as the
//!   uninterrupted machine would).
//! - `BRD0`: the board: every chip, the scheduler, the clock.
//! - `DSK0`: the writes each drive's in-memory overlay holds
//!   (`--snapshot`, or a read-only image), by position: IDE primary
//!   master, slave, secondary master, slave, then floppy A and B. An
//!   image written in place is the file itself and is not copied.
//! - `RAM0`: the page size (`u32`), then each page of RAM that is not all
//!   zero as its page number (`u32`) and its bytes, in increasing order,
//!   then `u32::MAX`.
//! - `END0`: empty.
//!
//! The byte encoding of the states is [`anyx86_hw::wire`]; the `CPU0` and
//! `BRD0` payloads are stored with their zero runs packed (see [`pack`]):
//! most of a board's bytes are an idle VGA's 16 MiB of video memory. A file whose
//! magic, version, tags or checksums do not match, or that ends early, is
//! refused before the machine runs; the caller exits with status 2.

use crate::machine::Machine;
use anyx86_hw::wire::{crc32, Reader};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// The file's magic number.
pub const MAGIC: [u8; 8] = *b"ANYX86VM";
/// The version of the layout and of every state's encoding. Bump it with
/// any change to what a state struct holds.
pub const FORMAT_VERSION: u32 = 2;
/// RAM is saved in pages of this size.
const PAGE: usize = 4096;
/// Ends the list of RAM pages.
const RAM_END: u32 = u32::MAX;
/// The most a packed state may unpack to: a board's state is the VGA's
/// 16 MiB of video memory and a few KiB more.
const MAX_STATE: usize = 64 << 20;
/// Zero runs shorter than this stay in the literal bytes.
const MIN_RUN: usize = 16;

/// The sectors each drive position's overlay holds (see `DSK0`).
pub(crate) type Overlays = [Option<Vec<(u64, Vec<u8>)>>; 6];

/// Why a snapshot could not be written or loaded.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotFileError {
    /// The file could not be created, written, opened or read.
    #[error("snapshot {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The path is not a regular file, or is missing.
    #[error("{0}")]
    Open(String),
    /// Not a snapshot file.
    #[error("{0} is not an anyx86 snapshot")]
    NotSnapshot(PathBuf),
    /// Written by a version of anyx86 with another layout.
    #[error(
        "snapshot {path} has format version {found}; this anyx86 reads version {FORMAT_VERSION}"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
    },
    /// A section is missing, out of order, cut short or fails its checksum.
    #[error("snapshot {path} is damaged: {why}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The command line builds a machine other than the saved one.
    #[error("snapshot {path} was saved on another machine: it has {saved}, this command line gives {here}")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// The saved machine's first differing identity line.
        saved: String,
        /// This machine's.
        here: String,
    },
}

impl Machine {
    /// Writes the whole machine to `path` (see the module doc). Call it
    /// between runs: the CPU is at an instruction boundary then.
    pub fn save_snapshot(&self, path: &Path) -> Result<(), SnapshotFileError> {
        let io = |source| SnapshotFileError::Io {
            path: path.to_owned(),
            source,
        };
        let f = std::fs::File::create(path).map_err(io)?;
        let mut w = BufWriter::new(f);
        self.save_snapshot_to(&mut w).map_err(io)?;
        w.into_inner()
            .map_err(|e| io(e.into_error()))?
            .sync_all()
            .map_err(io)
    }

    /// Writes the whole machine to `w`, as [`Machine::save_snapshot`]
    /// writes a file.
    pub fn save_snapshot_to(&self, w: &mut impl Write) -> std::io::Result<()> {
        w.write_all(&MAGIC)?;
        w.write_all(&FORMAT_VERSION.to_le_bytes())?;
        let cpu = self.cpu_part();
        let mut board = Vec::new();
        self.board.save_state(&mut board);
        write_section(w, b"MACH", self.identity().as_bytes())?;
        write_section(w, b"CPU0", &pack(&cpu))?;
        write_section(w, b"BRD0", &pack(&board))?;
        write_section(
            w,
            b"DSK0",
            &pack(&anyx86_hw::wire::encode(&self.overlays())),
        )?;
        write_ram(w, self.board.mem.ram().as_slice())?;
        write_section(w, b"END0", &[])
    }

    /// Replaces the machine's state with the snapshot in `path`. The
    /// machine must be freshly built from the command line the snapshot
    /// was saved with. On an error the machine is partly replaced:
    /// discard it.
    pub fn load_snapshot(&mut self, path: &Path) -> Result<(), SnapshotFileError> {
        let len = crate::machine::regular_file_len(path, "snapshot")
            .map_err(|e| SnapshotFileError::Open(e.to_string()))?;
        let file = std::fs::File::open(path).map_err(|source| SnapshotFileError::Io {
            path: path.to_owned(),
            source,
        })?;
        self.load_from(SnapFile::new(path, std::io::BufReader::new(file), len)?)
    }

    /// [`Machine::load_snapshot`] from bytes in memory; `name` stands for
    /// the file in error messages.
    pub fn load_snapshot_bytes(
        &mut self,
        name: &Path,
        bytes: &[u8],
    ) -> Result<(), SnapshotFileError> {
        self.load_from(SnapFile::new(name, bytes, bytes.len() as u64)?)
    }

    fn load_from<R: Read>(&mut self, mut f: SnapFile<R>) -> Result<(), SnapshotFileError> {
        let ident = f.section(b"MACH")?;
        self.check_identity(&f.path, &ident)?;
        let cpu = f.packed_section(b"CPU0")?;
        let board = f.packed_section(b"BRD0")?;
        let disks = f.packed_section(b"DSK0")?;
        self.load_parts(&cpu, &board, &disks)
            .map_err(|e| f.damaged(e))?;
        f.ram(self.board.mem.ram_mut().as_mut_slice())?;
        f.section(b"END0")?;
        Ok(())
    }

    /// The `CPU0` payload before packing: the CPU's architectural state,
    /// then the FERR# level and the RTC base.
    pub(crate) fn cpu_part(&self) -> Vec<u8> {
        let mut cpu = Vec::new();
        self.cpu.s.save_arch(&mut cpu);
        anyx86_hw::wire::Wire::put(&(self.ferr_seen, self.rtc_base), &mut cpu);
        cpu
    }

    /// Loads the unpacked `CPU0`, `BRD0` and `DSK0` payloads (a snapshot
    /// file's, or a time-travel checkpoint's); what is wrong, if anything.
    pub(crate) fn load_parts(
        &mut self,
        cpu: &[u8],
        board: &[u8],
        disks: &[u8],
    ) -> Result<(), String> {
        let mut r = Reader::new(cpu);
        self.cpu
            .load_state(&mut r)
            .and_then(|()| anyx86_hw::wire::Wire::get(&mut r))
            .map(|(ferr, rtc)| (self.ferr_seen, self.rtc_base) = (ferr, rtc))
            .and_then(|()| r.finish())
            .map_err(|e| format!("CPU state: {e}"))?;
        let icount = self.cpu.s.icount;
        let mut r = Reader::new(board);
        self.board
            .load_state(&mut r, icount)
            .map_err(|e| format!("board state: {e}"))?;
        r.finish().map_err(|e| format!("board state: {e}"))?;
        let disks = anyx86_hw::wire::decode(disks).map_err(|e| format!("drive overlays: {e}"))?;
        self.set_overlays(&disks)?;
        // The board bumped its memory-map generation: the CPU takes the
        // restored A20 and map, and drops the old machine's code.
        self.cpu.load_finish(&self.board);
        Ok(())
    }

    /// The writes each drive position's overlay holds.
    pub(crate) fn overlays(&self) -> Overlays {
        core::array::from_fn(|pos| self.medium(pos).and_then(|m| m.overlay()))
    }

    /// The medium at drive position `pos` (the order of `DSK0`).
    fn medium(&self, pos: usize) -> Option<&dyn anyx86_hw::BlockBackend> {
        match pos {
            0..4 => self.board.pc.as_deref()?.ide.medium(pos / 2, pos % 2),
            _ => self.board.fdc.medium(pos - 4),
        }
    }

    /// [`Machine::medium`], to change.
    pub(crate) fn medium_mut(
        &mut self,
        pos: usize,
    ) -> Option<&mut (dyn anyx86_hw::BlockBackend + 'static)> {
        match pos {
            0..4 => self
                .board
                .pc
                .as_deref_mut()?
                .ide
                .medium_mut(pos / 2, pos % 2),
            _ => self.board.fdc.medium_mut(pos - 4),
        }
    }

    pub(crate) fn set_overlays(&mut self, saved: &Overlays) -> Result<(), &'static str> {
        for (pos, w) in saved.iter().enumerate() {
            let fits = match (w, self.medium_mut(pos)) {
                (Some(w), Some(m)) => m.set_overlay(w),
                (None, Some(m)) => m.overlay().is_none() || m.set_overlay(&[]),
                (None, None) => true,
                (Some(_), None) => false,
            };
            if !fits {
                return Err("a drive's overlay does not fit this machine's drive");
            }
        }
        Ok(())
    }

    /// Compares this machine's identity with a snapshot's.
    fn check_identity(&self, path: &Path, saved: &[u8]) -> Result<(), SnapshotFileError> {
        let saved = String::from_utf8_lossy(saved);
        match crate::journal::first_difference(&saved, &self.identity()) {
            None => Ok(()),
            Some((saved, here)) => Err(SnapshotFileError::Mismatch {
                path: path.to_owned(),
                saved,
                here,
            }),
        }
    }
}

/// Packs `data` as pairs of a literal (its length as `u32`, its bytes)
/// and a run of zero bytes (its length as `u32`), to the end.
pub fn pack(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut emit = |lit: &[u8], zeros: usize| {
        out.extend_from_slice(&(lit.len() as u32).to_le_bytes());
        out.extend_from_slice(lit);
        out.extend_from_slice(&(zeros as u32).to_le_bytes());
    };
    let (mut lit_start, mut i) = (0, 0);
    while let Some(k) = data[i..].iter().position(|&b| b == 0) {
        i += k;
        let run = zero_run(&data[i..]);
        if run >= MIN_RUN {
            emit(&data[lit_start..i], run);
            lit_start = i + run;
        }
        i += run;
    }
    if lit_start < data.len() {
        emit(&data[lit_start..], 0);
    }
    out
}

/// The number of zero bytes `data` starts with, eight at a time.
fn zero_run(data: &[u8]) -> usize {
    let words = data
        .chunks_exact(8)
        .take_while(|w| u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]) == 0)
        .count();
    let tail = data[words * 8..].iter().take_while(|&&b| b == 0).count();
    words * 8 + tail
}

/// Reverses [`pack`]; `None` when the input is malformed or unpacks to
/// more than [`MAX_STATE`] bytes.
pub fn unpack(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let word = |d: &mut &[u8]| -> Option<usize> {
        let (w, rest) = d.split_first_chunk::<4>()?;
        *d = rest;
        Some(u32::from_le_bytes(*w) as usize)
    };
    while !data.is_empty() {
        let lit = word(&mut data)?;
        let bytes = data.get(..lit)?;
        data = &data[lit..];
        let zeros = word(&mut data)?;
        if out.len() + lit + zeros > MAX_STATE {
            return None;
        }
        out.extend_from_slice(bytes);
        out.resize(out.len() + zeros, 0);
    }
    Some(out)
}

fn write_section(w: &mut impl Write, tag: &[u8; 4], payload: &[u8]) -> std::io::Result<()> {
    w.write_all(tag)?;
    w.write_all(&(payload.len() as u64).to_le_bytes())?;
    w.write_all(payload)?;
    w.write_all(&crc32(payload).to_le_bytes())
}

/// RAM, without the pages that are all zero (most of a guest's RAM until
/// it has run a while), streamed: no copy of RAM is made.
fn write_ram(w: &mut impl Write, ram: &[u8]) -> std::io::Result<()> {
    let pages: Vec<u32> = ram
        .chunks(PAGE)
        .enumerate()
        .filter(|(_, p)| zero_run(p) < p.len())
        .map(|(i, _)| i as u32)
        .collect();
    let len = 4 + pages.len() * (4 + PAGE) + 4;
    w.write_all(b"RAM0")?;
    w.write_all(&(len as u64).to_le_bytes())?;
    let mut crc = anyx86_hw::wire::Crc32::new();
    let mut put = |w: &mut dyn Write, b: &[u8]| {
        crc.update(b);
        w.write_all(b)
    };
    put(w, &(PAGE as u32).to_le_bytes())?;
    for &i in &pages {
        let at = i as usize * PAGE;
        put(w, &i.to_le_bytes())?;
        put(w, &ram[at..(at + PAGE).min(ram.len())])?;
    }
    put(w, &RAM_END.to_le_bytes())?;
    w.write_all(&crc.finish().to_le_bytes())
}

/// A snapshot file being read, section by section.
struct SnapFile<R> {
    path: PathBuf,
    r: R,
    /// Bytes left in the file, so that no section length is believed
    /// beyond it.
    left: u64,
}

impl<R: Read> SnapFile<R> {
    /// Checks the magic number and the version of the `len` bytes `r`
    /// reads.
    fn new(path: &Path, r: R, len: u64) -> Result<Self, SnapshotFileError> {
        let mut f = Self {
            path: path.to_owned(),
            r,
            left: len,
        };
        let mut head = [0u8; 12];
        if len < 12 || f.read(&mut head).is_err() || head[..8] != MAGIC {
            return Err(SnapshotFileError::NotSnapshot(path.to_owned()));
        }
        let found = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
        if found != FORMAT_VERSION {
            return Err(SnapshotFileError::Version {
                path: path.to_owned(),
                found,
            });
        }
        Ok(f)
    }

    fn damaged(&self, why: String) -> SnapshotFileError {
        SnapshotFileError::Damaged {
            path: self.path.clone(),
            why,
        }
    }

    /// Reads exactly `buf.len()` bytes.
    fn read(&mut self, buf: &mut [u8]) -> Result<(), SnapshotFileError> {
        if (buf.len() as u64) > self.left {
            return Err(self.damaged("the file ends early".into()));
        }
        self.r
            .read_exact(buf)
            .map_err(|e| self.damaged(format!("read failed: {e}")))?;
        self.left -= buf.len() as u64;
        Ok(())
    }

    /// The next section's header, which must carry `tag`; returns its
    /// length, checked against the bytes left.
    fn header(&mut self, tag: &[u8; 4]) -> Result<u64, SnapshotFileError> {
        let mut h = [0u8; 12];
        self.read(&mut h)?;
        if &h[..4] != tag {
            return Err(self.damaged(format!(
                "expected section {}, found {:?}",
                String::from_utf8_lossy(tag),
                String::from_utf8_lossy(&h[..4])
            )));
        }
        let len = u64::from_le_bytes(h[4..].try_into().unwrap_or_default());
        if len.saturating_add(4) > self.left {
            return Err(self.damaged(format!(
                "section {} is longer than the file",
                String::from_utf8_lossy(tag)
            )));
        }
        Ok(len)
    }

    /// The CRC after a section, checked against `crc`.
    fn check_crc(&mut self, tag: &[u8; 4], crc: u32) -> Result<(), SnapshotFileError> {
        let mut c = [0u8; 4];
        self.read(&mut c)?;
        if u32::from_le_bytes(c) != crc {
            return Err(self.damaged(format!(
                "section {} fails its checksum",
                String::from_utf8_lossy(tag)
            )));
        }
        Ok(())
    }

    /// The payload of the next section, which must carry `tag`.
    fn section(&mut self, tag: &[u8; 4]) -> Result<Vec<u8>, SnapshotFileError> {
        let len = self.header(tag)?;
        let mut payload = vec![0u8; len as usize];
        self.read(&mut payload)?;
        self.check_crc(tag, crc32(&payload))?;
        Ok(payload)
    }

    /// The unpacked payload of the next section, which must carry `tag`.
    fn packed_section(&mut self, tag: &[u8; 4]) -> Result<Vec<u8>, SnapshotFileError> {
        let packed = self.section(tag)?;
        unpack(&packed).ok_or_else(|| {
            self.damaged(format!(
                "section {} does not unpack",
                String::from_utf8_lossy(tag)
            ))
        })
    }

    /// The RAM section, straight into `ram`: pages it lists are copied,
    /// every other page is cleared (the fresh machine's loader may have
    /// written some).
    fn ram(&mut self, ram: &mut [u8]) -> Result<(), SnapshotFileError> {
        let len = self.header(b"RAM0")?;
        let mut crc = anyx86_hw::wire::Crc32::new();
        let mut word = [0u8; 4];
        let mut read_word = |f: &mut Self, crc: &mut anyx86_hw::wire::Crc32| {
            f.read(&mut word)?;
            crc.update(&word);
            Ok::<u32, SnapshotFileError>(u32::from_le_bytes(word))
        };
        if read_word(self, &mut crc)? as usize != PAGE {
            return Err(self.damaged("RAM page size".into()));
        }
        let size = ram.len();
        let pages = size.div_ceil(PAGE);
        let mut next = 0usize;
        let mut used = 4u64;
        loop {
            let i = read_word(self, &mut crc)?;
            used += 4;
            let end = if i == RAM_END { pages } else { i as usize };
            if end < next || end > pages || (i != RAM_END && end == pages) {
                return Err(self.damaged(format!("RAM page {i} out of order or beyond RAM")));
            }
            for gap in next..end {
                let p = &mut ram[gap * PAGE..((gap + 1) * PAGE).min(size)];
                if zero_run(p) < p.len() {
                    p.fill(0);
                }
            }
            if i == RAM_END {
                break;
            }
            let p = &mut ram[end * PAGE..((end + 1) * PAGE).min(size)];
            self.read(p)?;
            crc.update(p);
            used += p.len() as u64;
            next = end + 1;
        }
        if used != len {
            return Err(self.damaged("RAM section length".into()));
        }
        self.check_crc(b"RAM0", crc.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MachineConfig;

    /// A full PC with 2 MiB and `image` as its primary master under
    /// `--snapshot`.
    fn pc_with_disk(image: &Path) -> Machine {
        let mut cfg = MachineConfig::new(2);
        cfg.drives.hd[0] = Some(image.to_owned());
        cfg.drives.snapshot = true;
        Machine::new(cfg).expect("machine")
    }

    fn disk(m: &mut Machine) -> &mut dyn anyx86_hw::BlockBackend {
        let pc = m.board.pc.as_deref_mut().expect("full PC");
        pc.ide.medium_mut(0, 0).expect("a disk")
    }

    /// [`FORMAT_VERSION`] and the CRC-32 of both machines' power-on CPU
    /// and board states as the encoding writes them.
    const ENCODING: (u32, u32) = (2, 0xa253_2ad4);

    /// A change to a state struct changes its encoding, and a file of the
    /// old layout must then be refused by its version, not misread.
    #[test]
    fn a_changed_state_encoding_comes_with_a_new_format_version() {
        let mut bytes = Vec::new();
        for kind in [crate::pc::MachineKind::Pc, crate::pc::MachineKind::Isa] {
            let mut cfg = MachineConfig::new(2);
            cfg.kind = kind;
            let m = Machine::new(cfg).expect("machine");
            m.cpu.s.save_arch(&mut bytes);
            m.board.save_state(&mut bytes);
        }
        let now = (FORMAT_VERSION, anyx86_hw::wire::crc32(&bytes));
        assert_eq!(
            now, ENCODING,
            "the state encoding (or a power-on state) changed: bump FORMAT_VERSION \
             and set ENCODING to (new version, {:#010x})",
            now.1
        );
    }

    #[test]
    fn a_snapshot_keeps_the_writes_of_a_snapshot_disk() {
        let dir = std::env::temp_dir().join(format!("anyx86-snap-disk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let image = dir.join("disk.img");
        std::fs::write(&image, vec![0x11u8; 64 * 1024]).expect("image");
        let mut m = pc_with_disk(&image);
        disk(&mut m).write(512 * 7 + 3, b"written").expect("write");
        let mut bytes = Vec::new();
        m.save_snapshot_to(&mut bytes).expect("save");

        let mut again = pc_with_disk(&image);
        again
            .load_snapshot_bytes(Path::new("mem"), &bytes)
            .expect("load");
        let mut sector = [0u8; 512];
        disk(&mut again).read(512 * 7, &mut sector).expect("read");
        assert_eq!(&sector[3..10], b"written");
        assert_eq!(sector[0], 0x11);
        // The image file itself was never written.
        assert!(std::fs::read(&image)
            .expect("image")
            .iter()
            .all(|&b| b == 0x11));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn packing_round_trips_and_shrinks_zero_runs() {
        let mut data = vec![1u8, 0, 0, 2];
        data.extend(std::iter::repeat_n(0, 100_000));
        data.extend([3, 4]);
        data.extend(std::iter::repeat_n(0, MIN_RUN - 1));
        data.push(5);
        data.extend(std::iter::repeat_n(0, MIN_RUN));
        let packed = pack(&data);
        assert!(packed.len() < 64, "{} bytes", packed.len());
        assert_eq!(unpack(&packed), Some(data));
        for d in [&[][..], &[0], &[7], &[0; MIN_RUN]] {
            assert_eq!(unpack(&pack(d)).as_deref(), Some(d));
        }
    }

    #[test]
    fn unpacking_refuses_malformed_and_oversized_input() {
        assert_eq!(unpack(&[1, 0, 0]), None, "a cut length");
        assert_eq!(unpack(&[5, 0, 0, 0, 1, 2]), None, "a cut literal");
        let bomb = [0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF];
        assert_eq!(unpack(&bomb), None, "4 GiB of zeros");
    }
}
