//! Record and replay (`--record FILE`, `--replay FILE`).
//!
//! The machine is deterministic: the same inputs at the same points of
//! the instruction stream give the same run. What is not a function of
//! the machine's state is an *input*, and a journal holds every one of
//! them with the point where the machine took it:
//! - what the host typed or sent: serial bytes as a UART took them, keys
//!   and mouse events as the keyboard controller took them;
//! - under `--clock realtime`, each decision the clock made from the
//!   host's time: the idle time it skipped, as its new value;
//! - a debugger's changes: registers (the CPU's whole state after the
//!   change), memory (physical address and bytes), and single steps with
//!   interrupts held off;
//! - where the recording ended.
//!
//! A point is the CPU's instruction count and its other work count
//! ([`anyx86_cpu::CpuState::work`] is their sum), and the *site*: the
//! places where the run loop consults the host (see [`Site`]). A replay
//! runs the same loop with the host's input shut out ([`HostInputs`]),
//! sizes each run of the CPU so that it stops exactly at the next
//! recorded point (slice boundaries are invisible to the guest), gives
//! the recorded inputs there, and ends where the recording ended. If the
//! machine reaches a point past the next recorded one, or a device does
//! not take a recorded input whole, the replay has diverged: the run ends
//! with [`RunOutcome::ReplayDiverged`].
//!
//! **The rule for devices** (docs/architecture.md repeats it): a device
//! may change the machine only as a function of the machine's state, the
//! virtual time it is given, and input that enters through
//! [`Board::input`](crate::Board) and the journal. Host time, host
//! threads, files that change, and randomness are inputs: route them
//! through the journal or they break replay.
//!
//! The file, every integer little-endian:
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `ANYX86RR` |
//! | 4 | format version ([`FORMAT_VERSION`]) |
//! | ... | sections, as in snapshot files: tag, `u64` length, payload, CRC-32 |
//!
//! - `HEAD`: the start: the machine's identity lines (as a snapshot's
//!   `MACH`), each drive's content checksum, the checksum of the whole
//!   machine state at the start (power-on or `--loadvm`, as a snapshot
//!   encodes it), then the RTC base (`i64`) and the clock (`bool`,
//!   realtime).
//! - `EVTS`, any number: recorded groups, each its instruction count
//!   (`u64`), other work (`u64`), site (`u8`) and events (a `Vec`).
//! - `END0`: empty; a file without it was cut short (the recorder was
//!   killed) and replays up to its last whole section.

use crate::board::HostInputs;
use crate::machine::{Machine, RunOutcome};
use anyx86_devices::KeyCode;
use anyx86_hw::wire::{crc32, Reader, Wire, WireError};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// The file's magic number.
pub const MAGIC: [u8; 8] = *b"ANYX86RR";
/// The version of the journal's layout and encoding.
pub const FORMAT_VERSION: u32 = 1;
/// Encoded groups held before they are written as one `EVTS` section.
const BLOCK: usize = 64 << 10;
/// The largest section a reader believes: a block, or one group with a
/// debugger's memory write.
const MAX_SECTION: u64 = 64 << 20;

/// An input the host gave a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Bytes a UART took (COM index, bytes).
    Serial(u8, Vec<u8>),
    /// A key pressed (`true`) or released.
    Key(KeyCode, bool),
    /// Mouse motion and buttons (see [`crate::Board::mouse_event`]).
    Mouse(i32, i32, i32, u8),
}

/// Where the run loop consults the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Site {
    /// Between runs: a debugger's changes and the input its screens took
    /// while the machine stood.
    Entry = 0,
    /// The top of the run loop: the realtime clock's pacing, then the
    /// host hook's input.
    Top = 1,
    /// An idle CPU: the hook's input while it waited, then the time the
    /// clock skipped.
    Idle = 2,
    /// A debugger's single step with interrupts held off.
    Step = 3,
}

anyx86_hw::wire_enum!(Site {
    Entry = 0,
    Top = 1,
    Idle = 2,
    Step = 3
});

/// One recorded input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// The host's input to a device.
    Input(Input),
    /// The realtime clock's skipped idle time became this.
    Clock(u64),
    /// The debugger changed registers: the CPU's state after the change.
    Cpu(Vec<u8>),
    /// The debugger wrote these bytes at this physical address.
    Mem(u64, Vec<u8>),
    /// The debugger stepped one instruction with interrupts held off.
    NoIrqStep,
    /// The recording ended.
    End,
}

impl Wire for Input {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Input::Serial(port, bytes) => (0u8, *port, bytes.clone()).put(out),
            Input::Key(k, down) => (1u8, *k, *down).put(out),
            Input::Mouse(dx, dy, dz, b) => {
                2u8.put(out);
                (*dx, *dy, (*dz, *b)).put(out);
            }
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(match u8::get(r)? {
            0 => Input::Serial(u8::get(r)?, Vec::get(r)?),
            1 => Input::Key(KeyCode::get(r)?, bool::get(r)?),
            2 => {
                let (dx, dy, (dz, b)) = Wire::get(r)?;
                Input::Mouse(dx, dy, dz, b)
            }
            _ => return Err(r.invalid("Input")),
        })
    }
}

impl Wire for Event {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Event::Input(i) => {
                0u8.put(out);
                i.put(out);
            }
            Event::Clock(ns) => (1u8, *ns).put(out),
            Event::Cpu(state) => (2u8, state.clone()).put(out),
            Event::Mem(addr, bytes) => (3u8, *addr, bytes.clone()).put(out),
            Event::NoIrqStep => 4u8.put(out),
            Event::End => 5u8.put(out),
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(match u8::get(r)? {
            0 => Event::Input(Input::get(r)?),
            1 => Event::Clock(u64::get(r)?),
            2 => Event::Cpu(Vec::get(r)?),
            3 => Event::Mem(u64::get(r)?, Vec::get(r)?),
            4 => Event::NoIrqStep,
            5 => Event::End,
            _ => return Err(r.invalid("Event")),
        })
    }
}

/// The inputs taken at one visit of a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Group {
    /// Instructions retired.
    icount: u64,
    /// Other work done ([`anyx86_cpu::CpuState::extra_work`]).
    extra: u64,
    site: Site,
    events: Vec<Event>,
}

anyx86_hw::wire_struct!(Group {
    icount,
    extra,
    site,
    events
});

impl Group {
    fn work(&self) -> u64 {
        self.icount.wrapping_add(self.extra)
    }
}

/// Why a journal could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file could not be created, written, opened or read.
    #[error("journal {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a journal.
    #[error("{0} is not an anyx86 journal (--record writes them)")]
    NotJournal(PathBuf),
    /// Written by a version with another layout.
    #[error(
        "journal {path} has format version {found}; this anyx86 reads version {FORMAT_VERSION}"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
    },
    /// A section fails its checksum or does not decode.
    #[error("journal {path} is damaged: {why}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The command line builds another machine, or starts it elsewhere.
    #[error("journal {path} was recorded on another machine: it has {saved}, this command line gives {here}")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// The recorded start's first differing line.
        saved: String,
        /// This machine's.
        here: String,
    },
}

/// The journal a machine writes or follows.
pub(crate) enum Journal {
    Record(Recorder),
    Replay(Replayer),
}

/// Writes groups to the file as they come, a block at a time, and keeps
/// them in memory for time travel.
pub(crate) struct Recorder {
    path: PathBuf,
    /// The `--record` file, if any.
    w: Option<BufWriter<std::fs::File>>,
    /// Every group so far, when time travel keeps the history.
    pub(crate) history: Option<Vec<Group>>,
    /// Encoded groups not yet written.
    block: Vec<u8>,
    /// Events of the visit in progress.
    pending: Vec<Event>,
    /// The first write error; recording stops there and the run's end
    /// reports it.
    failed: Option<std::io::Error>,
}

/// Follows a journal: a `--replay` file, or time travel's own history.
pub(crate) struct Replayer {
    pub(crate) groups: Vec<Group>,
    /// The next group to give.
    pub(crate) cursor: usize,
    /// The recording ran under the realtime clock: time moves only as
    /// the journal says.
    pub(crate) realtime: bool,
    /// At the end of the history, the machine goes live again with this
    /// recorder (time travel re-executing its past); without one, the
    /// replay ends there.
    pub(crate) then_live: Option<Recorder>,
    /// Where the live machine stood when time travel went back: a
    /// `--record` file that ends in the past ends there.
    live_end: (u64, u64),
}

/// A journal opened for `--replay`, checked whole, before the machine is
/// built (its RTC base is part of the machine's construction).
pub struct ReplayLog {
    path: PathBuf,
    head: Head,
    groups: Vec<Group>,
    cut: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Head {
    /// The start's identity, as text lines (UTF-8).
    lines: Vec<u8>,
    rtc_base: i64,
    realtime: bool,
}

anyx86_hw::wire_struct!(Head {
    lines,
    rtc_base,
    realtime
});

impl ReplayLog {
    /// Opens `path` and checks every section (magic, version, checksums,
    /// encoding) so that a damaged journal is refused before anything
    /// runs.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let mut f = SectionReader::open(path)?;
        let head = f.expect(b"HEAD")?;
        let head: Head =
            anyx86_hw::wire::decode(&head).map_err(|e| f.damaged(format!("HEAD section: {e}")))?;
        let mut groups = Vec::new();
        while let Some(block) = f.events()? {
            groups
                .extend(decode_block(&block).map_err(|e| f.damaged(format!("EVTS section: {e}")))?);
        }
        Ok(Self {
            path: path.to_owned(),
            head,
            groups,
            cut: !f.ended,
        })
    }

    /// The RTC's power-on time the recording had.
    pub fn rtc_base(&self) -> i64 {
        self.head.rtc_base
    }

    /// The journal has no end marker: the recorder was killed, and the
    /// replay ends after its last whole block.
    pub fn cut_short(&self) -> bool {
        self.cut
    }

    /// Whether the recording ran under the realtime clock.
    pub fn realtime(&self) -> bool {
        self.head.realtime
    }
}

fn decode_block(mut data: &[u8]) -> Result<Vec<Group>, WireError> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let mut r = Reader::new(data);
        out.push(Group::get(&mut r)?);
        data = &data[r.position()..];
    }
    Ok(out)
}

/// A section's tag and payload.
type Section = ([u8; 4], Vec<u8>);

/// Reads a journal's sections.
struct SectionReader<R> {
    path: PathBuf,
    r: R,
    left: u64,
    /// `END0` was read.
    ended: bool,
    /// The file ends inside a section: the recorder was killed.
    cut: bool,
}

impl SectionReader<BufReader<std::fs::File>> {
    fn open(path: &Path) -> Result<Self, JournalError> {
        let len =
            crate::machine::regular_file_len(path, "journal").map_err(|e| JournalError::Io {
                path: path.to_owned(),
                source: std::io::Error::other(e.to_string()),
            })?;
        let file = std::fs::File::open(path).map_err(|source| JournalError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut f = Self {
            path: path.to_owned(),
            r: BufReader::new(file),
            left: len,
            ended: false,
            cut: false,
        };
        let mut head = [0u8; 12];
        if len < 12 || f.read(&mut head).is_err() || head[..8] != MAGIC {
            return Err(JournalError::NotJournal(path.to_owned()));
        }
        let found = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
        if found != FORMAT_VERSION {
            return Err(JournalError::Version {
                path: path.to_owned(),
                found,
            });
        }
        Ok(f)
    }
}

impl<R: Read> SectionReader<R> {
    fn damaged(&self, why: String) -> JournalError {
        JournalError::Damaged {
            path: self.path.clone(),
            why,
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<(), JournalError> {
        if buf.len() as u64 > self.left {
            return Err(self.damaged("the file ends inside a section".into()));
        }
        self.r
            .read_exact(buf)
            .map_err(|e| self.damaged(format!("read failed: {e}")))?;
        self.left -= buf.len() as u64;
        Ok(())
    }

    /// The next section, or `None` at the end of the file.
    fn section(&mut self) -> Result<Option<Section>, JournalError> {
        if self.left == 0 {
            return Ok(None);
        }
        if self.left < 12 {
            self.cut = true;
            return Ok(None);
        }
        let mut h = [0u8; 12];
        self.read(&mut h)?;
        let tag = [h[0], h[1], h[2], h[3]];
        let len = u64::from_le_bytes([h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11]]);
        if len <= MAX_SECTION && len + 4 > self.left {
            self.cut = true;
            return Ok(None);
        }
        if len > MAX_SECTION {
            return Err(self.damaged(format!(
                "section {:?} claims {len} bytes",
                String::from_utf8_lossy(&tag)
            )));
        }
        let mut payload = vec![0u8; len as usize];
        self.read(&mut payload)?;
        let mut crc = [0u8; 4];
        self.read(&mut crc)?;
        if u32::from_le_bytes(crc) != crc32(&payload) {
            return Err(self.damaged(format!(
                "section {:?} fails its checksum",
                String::from_utf8_lossy(&tag)
            )));
        }
        Ok(Some((tag, payload)))
    }

    fn expect(&mut self, tag: &[u8; 4]) -> Result<Vec<u8>, JournalError> {
        match self.section()? {
            Some((t, p)) if &t == tag => Ok(p),
            _ => Err(self.damaged(format!(
                "section {} is missing",
                String::from_utf8_lossy(tag)
            ))),
        }
    }

    /// The next `EVTS` payload; `None` after `END0` or at the end of a
    /// file cut short.
    fn events(&mut self) -> Result<Option<Vec<u8>>, JournalError> {
        if self.ended {
            return Ok(None);
        }
        match self.section()? {
            Some((t, p)) if &t == b"EVTS" => Ok(Some(p)),
            Some((t, p)) if &t == b"END0" && p.is_empty() => {
                self.ended = true;
                if self.left != 0 {
                    return Err(self.damaged("bytes after the END0 section".into()));
                }
                Ok(None)
            }
            Some((t, _)) => Err(self.damaged(format!(
                "unexpected section {:?}",
                String::from_utf8_lossy(&t)
            ))),
            None => Ok(None),
        }
    }
}

fn write_section(w: &mut impl Write, tag: &[u8; 4], payload: &[u8]) -> std::io::Result<()> {
    w.write_all(tag)?;
    w.write_all(&(payload.len() as u64).to_le_bytes())?;
    w.write_all(payload)?;
    w.write_all(&crc32(payload).to_le_bytes())
}

impl Recorder {
    fn group(&mut self, icount: u64, extra: u64, site: Site) {
        if self.pending.is_empty() {
            return;
        }
        let g = Group {
            icount,
            extra,
            site,
            events: std::mem::take(&mut self.pending),
        };
        if self.w.is_some() {
            g.put(&mut self.block);
            if self.block.len() >= BLOCK {
                self.write_block();
            }
        }
        if let Some(h) = self.history.as_mut() {
            h.push(g);
        }
    }

    fn write_block(&mut self) {
        let Some(w) = self.w.as_mut() else { return };
        if self.block.is_empty() || self.failed.is_some() {
            return;
        }
        let r = write_section(w, b"EVTS", &self.block).and_then(|()| w.flush());
        self.block.clear();
        if let Err(e) = r {
            self.failed = Some(e);
        }
    }
}

impl Replayer {
    /// The next group.
    fn peek(&self) -> Option<&Group> {
        self.groups.get(self.cursor)
    }
}

/// What a replay does at a point.
enum Due {
    /// No group is recorded here.
    Nothing,
    /// The next group belongs here.
    Here(Group),
    /// The recording ended (or its journal does) before this point.
    End,
    /// The machine passed the next group: the replay diverged.
    Diverged(String),
}

impl Machine {
    /// The lines that identify the start of a recording: the machine's
    /// identity, each drive's content and the whole machine state.
    fn journal_start_lines(&mut self) -> String {
        let mut lines = self.identity();
        for pos in 0..6 {
            let Some(m) = self.medium_mut(pos) else {
                continue;
            };
            let mut crc = anyx86_hw::wire::Crc32::new();
            let mut buf = vec![0u8; 1 << 20];
            let (len, mut at) = (m.len(), 0u64);
            let mut ok = true;
            while at < len {
                let n = (len - at).min(buf.len() as u64) as usize;
                ok &= m.read(at, &mut buf[..n]).is_ok();
                crc.update(&buf[..n]);
                at += n as u64;
            }
            let state = if ok { "" } else { " (unreadable)" };
            lines += &format!("\ndrive {pos} content crc {:08x}{state}", crc.finish());
        }
        let mut crc = CrcWriter(anyx86_hw::wire::Crc32::new());
        // Writing to a checksum cannot fail.
        let _ = self.save_snapshot_to(&mut crc);
        lines += &format!("\nmachine state crc {:08x}", crc.0.finish());
        lines
    }

    /// Starts recording to `path` (`--record`): from here on, every input
    /// is written there with the point where the machine took it.
    pub fn start_record(&mut self, path: &Path) -> Result<(), JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_owned(),
            source,
        };
        let head = Head {
            lines: self.journal_start_lines().into_bytes(),
            rtc_base: self.rtc_base,
            realtime: self.board.clock.mode == crate::ClockMode::Realtime,
        };
        let mut w = BufWriter::new(std::fs::File::create(path).map_err(io)?);
        w.write_all(&MAGIC).map_err(io)?;
        w.write_all(&FORMAT_VERSION.to_le_bytes()).map_err(io)?;
        write_section(&mut w, b"HEAD", &anyx86_hw::wire::encode(&head)).map_err(io)?;
        w.flush().map_err(io)?;
        self.board.host_inputs = HostInputs::Recorded(Vec::new());
        self.journal = Some(Box::new(Journal::Record(Recorder {
            path: path.to_owned(),
            w: Some(w),
            history: None,
            block: Vec::new(),
            pending: Vec::new(),
            failed: None,
        })));
        Ok(())
    }

    /// Starts keeping the history in memory (time travel): recording if
    /// nothing records yet.
    pub(crate) fn journal_keep_history(&mut self) {
        match self.journal.as_deref_mut() {
            Some(Journal::Record(r)) => {
                r.history.get_or_insert_with(Vec::new);
            }
            Some(Journal::Replay(_)) => {}
            None => {
                self.board.host_inputs = HostInputs::Recorded(Vec::new());
                self.journal = Some(Box::new(Journal::Record(Recorder {
                    path: PathBuf::new(),
                    w: None,
                    history: Some(Vec::new()),
                    block: Vec::new(),
                    pending: Vec::new(),
                    failed: None,
                })));
            }
        }
    }

    /// The number of groups in the history so far (time travel's
    /// position in it).
    pub(crate) fn journal_position(&self) -> usize {
        match self.journal.as_deref() {
            Some(Journal::Record(r)) => r.history.as_ref().map_or(0, Vec::len),
            Some(Journal::Replay(rp)) => rp.cursor,
            None => 0,
        }
    }

    /// Goes back to the history's group `cursor`: the machine replays
    /// from there, and goes live again at the end of the history. `from`
    /// is where the machine stood before it went back.
    pub(crate) fn journal_rewind(&mut self, cursor: usize, from: (u64, u64)) {
        let here = from;
        let Some(j) = self.journal.take() else { return };
        let rp = match *j {
            Journal::Record(mut r) => {
                let groups = r.history.take().unwrap_or_default();
                Replayer {
                    groups,
                    cursor,
                    realtime: false,
                    then_live: Some(r),
                    live_end: here,
                }
            }
            Journal::Replay(mut rp) => {
                rp.cursor = cursor;
                rp
            }
        };
        self.board.host_inputs = HostInputs::Closed;
        self.journal = Some(Box::new(Journal::Replay(rp)));
    }

    /// Time travel's history ends here: the groups after the cursor are
    /// dropped and the machine goes live.
    pub(crate) fn journal_truncate(&mut self) {
        if let Some(Journal::Replay(rp)) = self.journal.as_deref_mut() {
            if rp.then_live.is_some() {
                let at = rp.cursor;
                rp.groups.truncate(at);
                self.journal_go_live();
            }
        }
    }

    /// The end of a time-travel replay: live again, recording after the
    /// history it replayed.
    fn journal_go_live(&mut self) -> bool {
        let Some(Journal::Replay(rp)) = self.journal.as_deref_mut() else {
            return false;
        };
        let Some(mut rec) = rp.then_live.take() else {
            return false;
        };
        rec.history = Some(std::mem::take(&mut rp.groups));
        self.board.host_inputs = HostInputs::Recorded(Vec::new());
        self.journal = Some(Box::new(Journal::Record(rec)));
        true
    }

    /// Follows `log` (`--replay`): the host's input is shut out, time
    /// moves as recorded, and the run ends where the recording did. The
    /// machine must be built from the recording's command line.
    pub fn start_replay(&mut self, log: ReplayLog) -> Result<(), JournalError> {
        let here = self.journal_start_lines();
        let saved = String::from_utf8_lossy(&log.head.lines);
        if let Some((saved, here)) = first_difference(&saved, &here) {
            return Err(JournalError::Mismatch {
                path: log.path,
                saved,
                here,
            });
        }
        self.board.host_inputs = HostInputs::Closed;
        // Replays run as fast as they can; a realtime recording's time
        // comes from the journal.
        self.board.clock.mode = crate::ClockMode::Virtual;
        self.journal = Some(Box::new(Journal::Replay(Replayer {
            groups: log.groups,
            cursor: 0,
            realtime: log.head.realtime,
            then_live: None,
            live_end: (0, 0),
        })));
        Ok(())
    }

    /// Ends a recording where the machine stands (it ends a replay
    /// there) and closes the file. Call it once, when the run is over.
    pub fn finish_journal(&mut self) -> Result<(), JournalError> {
        let (mut icount, mut extra) = (self.cpu.s.icount, self.cpu.s.extra_work);
        self.journal_flush(Site::Entry);
        let Some(j) = self.journal.take() else {
            return Ok(());
        };
        self.board.host_inputs = HostInputs::Open;
        let mut rec = match *j {
            Journal::Record(rec) => rec,
            // Time travel stands in the past: the file holds the history
            // to where the live machine was, and ends there.
            Journal::Replay(rp) => match rp.then_live {
                Some(rec) => {
                    (icount, extra) = rp.live_end;
                    rec
                }
                None => return Ok(()),
            },
        };
        if rec.w.is_none() {
            return Ok(());
        }
        rec.pending.push(Event::End);
        rec.group(icount, extra, Site::Entry);
        rec.write_block();
        let io = |source| JournalError::Io {
            path: rec.path.clone(),
            source,
        };
        if let Some(e) = rec.failed.take() {
            return Err(io(e));
        }
        let Some(mut w) = rec.w.take() else {
            return Ok(());
        };
        write_section(&mut w, b"END0", &[]).map_err(io)?;
        w.into_inner()
            .map_err(|e| io(e.into_error()))?
            .sync_all()
            .map_err(io)
    }

    /// Whether a `--replay` journal (not time travel's own history) is
    /// being replayed.
    fn replaying_file(&self) -> bool {
        matches!(self.journal.as_deref(), Some(Journal::Replay(rp)) if rp.then_live.is_none())
    }

    /// Whether a journal is being replayed.
    pub fn replaying(&self) -> bool {
        matches!(self.journal.as_deref(), Some(Journal::Replay(_)))
    }

    fn recorder(&mut self) -> Option<&mut Recorder> {
        match self.journal.as_deref_mut() {
            Some(Journal::Record(r)) => Some(r),
            _ => None,
        }
    }

    /// The recorder's events of the visit of `site` in progress, with the
    /// input the devices took from the host, become a group.
    pub(crate) fn journal_flush(&mut self, site: Site) {
        let taken = match &mut self.board.host_inputs {
            HostInputs::Recorded(v) => std::mem::take(v),
            _ => return,
        };
        let (icount, extra) = (self.cpu.s.icount, self.cpu.s.extra_work);
        if let Some(r) = self.recorder() {
            r.pending.extend(taken.into_iter().map(Event::Input));
            r.group(icount, extra, site);
        }
    }

    /// Records a change of the realtime clock's skipped time made from
    /// the host's clock (`before` is its value before the decision).
    pub(crate) fn journal_clock(&mut self, before: u64) {
        let now = self.board.clock.skipped_ns();
        if now != before && self.board.clock.mode == crate::ClockMode::Realtime {
            if let Some(r) = self.recorder() {
                r.pending.push(Event::Clock(now));
            }
        }
    }

    /// A debugger changed the CPU's registers: recorded as an input.
    pub fn journal_cpu_written(&mut self) {
        self.drop_future();
        let mut state = Vec::new();
        self.cpu.s.save_arch(&mut state);
        if let Some(r) = self.recorder() {
            r.pending.push(Event::Cpu(state));
        }
    }

    /// A debugger writes `data` at physical address `addr` (RAM only;
    /// other bytes are left alone), recorded as an input. The caller
    /// drops decoded code.
    pub fn debug_write_phys(&mut self, addr: u64, data: &[u8]) {
        if !self.replaying_file() {
            self.drop_future();
        }
        self.write_phys(addr, data);
        let Some(r) = self.recorder() else { return };
        if let Some(Event::Mem(at, bytes)) = r.pending.last_mut() {
            if at.wrapping_add(bytes.len() as u64) == addr {
                bytes.extend_from_slice(data);
                return;
            }
        }
        r.pending.push(Event::Mem(addr, data.to_vec()));
    }

    /// Writes RAM bytes at a physical address (other bytes are left
    /// alone).
    fn write_phys(&mut self, addr: u64, data: &[u8]) {
        for (i, b) in data.iter().enumerate() {
            self.board.mem.write_u8(addr.wrapping_add(i as u64), *b);
        }
    }

    /// A debugger's single step with interrupts held off: recorded, as a
    /// replay must do the same.
    pub(crate) fn journal_no_irq_step(&mut self) {
        self.journal_flush(Site::Entry);
        if let Some(r) = self.recorder() {
            r.pending.push(Event::NoIrqStep);
        }
        self.journal_flush(Site::Step);
    }

    /// Where the replay stands against the next group, for the visit of
    /// `site`.
    fn due(&mut self, site: Site) -> Due {
        let (icount, extra) = (self.cpu.s.icount, self.cpu.s.extra_work);
        let Some(Journal::Replay(rp)) = self.journal.as_deref_mut() else {
            return Due::Nothing;
        };
        let Some(g) = rp.peek() else {
            return if self.journal_go_live() {
                Due::Nothing
            } else {
                Due::End
            };
        };
        let work = icount.wrapping_add(extra);
        if g.work() > work || (g.work() == work && !site_may_take(site, g.site)) {
            return Due::Nothing;
        }
        if (g.icount, g.extra) != (icount, extra) {
            return Due::Diverged(format!(
                "the journal has input at instruction {} (other work {}, {:?}) but the machine is at instruction {icount} (other work {extra}, {site:?})",
                g.icount, g.extra, g.site
            ));
        }
        let g = g.clone();
        rp.cursor += 1;
        Due::Here(g)
    }

    /// Gives the group recorded for this visit of `site`, if any.
    /// Returns an outcome when the replay ends or diverges.
    pub(crate) fn replay_site(&mut self, site: Site) -> Option<RunOutcome> {
        let out = self.replay_one(site);
        if out.is_none() && site == Site::Entry && self.replay_again_here(Site::Entry) {
            return self.replay_site(site);
        }
        out
    }

    fn replay_one(&mut self, site: Site) -> Option<RunOutcome> {
        let g = match self.due(site) {
            Due::Nothing => return None,
            Due::End => return Some(RunOutcome::ReplayEnd),
            Due::Diverged(why) => return Some(RunOutcome::ReplayDiverged(why)),
            Due::Here(g) => g,
        };
        let icount = self.cpu.s.icount;
        for e in g.events {
            match e {
                Event::Input(i) => {
                    if !self.board.input(i.clone(), icount) {
                        return Some(RunOutcome::ReplayDiverged(format!(
                            "at instruction {icount} the device did not take the recorded input {i:?}"
                        )));
                    }
                }
                Event::Clock(ns) => self.board.clock.set_skipped_ns(ns),
                Event::Cpu(state) => {
                    let mut r = Reader::new(&state);
                    if let Err(e) = self.cpu.load_state(&mut r) {
                        return Some(RunOutcome::ReplayDiverged(format!(
                            "a recorded register change does not load: {e}"
                        )));
                    }
                    self.cpu.load_finish(&self.board);
                }
                Event::Mem(addr, bytes) => {
                    // As recorded, not as a new change (which would drop
                    // time travel's future).
                    self.write_phys(addr, &bytes);
                    self.cpu.flush_code_cache();
                }
                // Only in `Step` groups, which `replay_step_irqs` takes.
                Event::NoIrqStep => {}
                Event::End => return Some(RunOutcome::ReplayEnd),
            }
        }
        None
    }

    /// In a replay, the longest the CPU may run from here: up to the next
    /// recorded point.
    pub(crate) fn replay_budget(&mut self) -> Option<u64> {
        let work = self.cpu.s.work();
        let Some(Journal::Replay(rp)) = self.journal.as_deref_mut() else {
            return None;
        };
        match rp.peek() {
            Some(g) if g.work() > work => Some(g.work() - work),
            _ => None,
        }
    }

    /// In a replay, whether another group is recorded for this very point
    /// at `site`, or (asked at the loop's top) at any site but an idle
    /// CPU's: the recording came back to the loop's top without running
    /// (a debugger stopped it there), so the replay must too.
    pub(crate) fn replay_again_here(&mut self, site: Site) -> bool {
        let (icount, extra) = (self.cpu.s.icount, self.cpu.s.extra_work);
        let Some(Journal::Replay(rp)) = self.journal.as_deref_mut() else {
            return false;
        };
        matches!(rp.peek(), Some(g) if (g.icount, g.extra) == (icount, extra)
            && (g.site == site || site == Site::Top && g.site != Site::Idle))
    }

    /// A realtime recording is replayed: an idle CPU waits as the journal
    /// says, not as the host's clock does.
    pub(crate) fn replay_realtime(&self) -> bool {
        matches!(self.journal.as_deref(), Some(Journal::Replay(rp)) if rp.realtime)
    }

    /// In a replay, whether the recording stepped one instruction with
    /// interrupts held off here (a debugger's step).
    pub(crate) fn replay_step_due(&self) -> bool {
        let (icount, extra) = (self.cpu.s.icount, self.cpu.s.extra_work);
        let Some(Journal::Replay(rp)) = self.journal.as_deref() else {
            return false;
        };
        matches!(rp.peek(), Some(g) if (g.icount, g.extra, g.site) == (icount, extra, Site::Step))
    }

    /// In a replay, whether the recording stepped one instruction with
    /// interrupts held off here (a debugger's step); takes that record.
    pub(crate) fn replay_no_irq_step(&mut self) -> bool {
        let (icount, extra) = (self.cpu.s.icount, self.cpu.s.extra_work);
        let Some(Journal::Replay(rp)) = self.journal.as_deref_mut() else {
            return false;
        };
        match rp.peek() {
            Some(g) if (g.icount, g.extra, g.site) == (icount, extra, Site::Step) => {
                rp.cursor += 1;
                true
            }
            _ => false,
        }
    }
}

/// Whether a visit of `site` takes a group recorded at `recorded` at its
/// point. Several visits can share a point (the loop's top after a
/// debugger's changes, an idle CPU); a group another visit takes is left
/// for it.
fn site_may_take(site: Site, recorded: Site) -> bool {
    site == recorded
}

/// The first line where two identities differ.
pub(crate) fn first_difference(saved: &str, here: &str) -> Option<(String, String)> {
    let (mut a, mut b) = (saved.lines(), here.lines());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return None,
            (x, y) if x == y => {}
            (x, y) => {
                return Some((
                    x.unwrap_or("nothing more").to_string(),
                    y.unwrap_or("nothing more").to_string(),
                ))
            }
        }
    }
}

/// A writer that only checksums.
struct CrcWriter(anyx86_hw::wire::Crc32);

impl Write for CrcWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
