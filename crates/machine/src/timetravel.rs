//! Time travel (`--time-travel`): in-memory checkpoints and the way back.
//!
//! The machine keeps its history as a journal in memory (every input and
//! debugger action, see [`crate::journal`]) and a checkpoint every
//! `interval` instructions. Going back to a point restores the newest
//! checkpoint at or before it and replays the history forward to it; the
//! future stays in the history, so running on replays it, and the machine
//! goes live again at its end.
//!
//! A checkpoint holds the CPU's state, the board's (packed, as in a
//! snapshot), the disk overlays, and an *undo record* of RAM: the pages
//! that changed before the next checkpoint, as they were. The newest
//! checkpoint's RAM is kept whole (the *shadow*); a checkpoint is found
//! from it by applying the undo records back to it. Taking a checkpoint
//! compares RAM with the shadow page by page, so it costs a read of RAM
//! and a copy of the pages written since the last one. When the
//! checkpoints outgrow the budget, every other one in the older half is
//! dropped (its undo record merges into its predecessor's), so the recent
//! past stays dense and the start of history is always kept.

use crate::machine::{HostControl, Machine, RunOutcome};
use crate::snapshot::{pack, unpack};
use std::collections::BTreeMap;
use std::time::Duration;

/// Pages are compared and saved at this size.
const PAGE: usize = 4096;
/// Default instructions between checkpoints.
pub const DEFAULT_INTERVAL: u64 = 50_000_000;
/// Default checkpoint memory budget, bytes.
pub const DEFAULT_BUDGET: u64 = 1 << 30;

/// A point in the history: instructions retired and other work done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Point {
    /// Instructions retired.
    pub icount: u64,
    /// Other work (deliveries, REP iterations, idle wake-ups).
    pub extra: u64,
}

impl Point {
    /// The total work, the order of points.
    pub fn work(self) -> u64 {
        self.icount.wrapping_add(self.extra)
    }
}

struct Checkpoint {
    at: Point,
    /// Groups of the history before this point.
    cursor: usize,
    cpu: Vec<u8>,
    board: Vec<u8>,
    disks: Vec<u8>,
    /// RAM pages that changed before the next checkpoint, as they were
    /// here.
    undo: BTreeMap<u32, Box<[u8]>>,
}

impl Checkpoint {
    fn bytes(&self) -> u64 {
        (self.cpu.len() + self.board.len() + self.disks.len() + self.undo.len() * (PAGE + 32))
            as u64
    }
}

/// The checkpoints and their budget.
pub struct TimeTravel {
    interval: u64,
    budget: u64,
    shadow: Vec<u8>,
    points: Vec<Checkpoint>,
    /// Checkpoints taken, and the host time they took.
    pub taken: u64,
    /// Host time spent taking checkpoints.
    pub cost: Duration,
    /// The board's encoding, kept between checkpoints.
    scratch: Vec<u8>,
    /// When the newest checkpoint was taken, and what it cost: the next
    /// waits at least [`COST_SHARE`] times as long.
    last: Option<(std::time::Instant, Duration)>,
}

/// Checkpoints take at most one part in this many of the host's time:
/// one is taken only after this many times its cost since the last.
const COST_SHARE: u32 = 20;

impl TimeTravel {
    /// The memory the checkpoints use, the shadow included.
    pub fn bytes(&self) -> u64 {
        self.shadow.len() as u64 + self.points.iter().map(Checkpoint::bytes).sum::<u64>()
    }

    /// The start of the history (the oldest checkpoint).
    pub fn start(&self) -> Option<Point> {
        self.points.first().map(|c| c.at)
    }

    /// The checkpoints' points, oldest first.
    pub fn points(&self) -> Vec<Point> {
        self.points.iter().map(|c| c.at).collect()
    }

    /// The budget, bytes.
    pub fn budget(&self) -> u64 {
        self.budget
    }
}

impl Machine {
    /// The machine's point in its history.
    pub fn point(&self) -> Point {
        Point {
            icount: self.cpu.s.icount,
            extra: self.cpu.s.extra_work,
        }
    }

    /// Turns time travel on: a checkpoint now, then one every `interval`
    /// instructions, within `budget` bytes. Needs the virtual clock (a
    /// realtime clock's decisions are replayed only from a `--replay`
    /// journal).
    pub fn enable_time_travel(&mut self, interval: u64, budget: u64) -> Result<(), String> {
        if self.board.clock.mode != crate::ClockMode::Virtual {
            return Err("--time-travel needs --clock virtual (or --replay)".into());
        }
        let ram = self.board.mem.ram().len() as u64;
        if budget < ram * 2 {
            return Err(format!(
                "the time-travel budget of {} MiB is too small for this machine: it needs at least twice its RAM ({} MiB)",
                budget >> 20,
                (ram * 2) >> 20
            ));
        }
        self.journal_keep_history();
        self.time_travel = Some(Box::new(TimeTravel {
            interval: interval.max(1),
            budget,
            shadow: Vec::new(),
            points: Vec::new(),
            taken: 0,
            cost: Duration::ZERO,
            scratch: Vec::new(),
            last: None,
        }));
        self.checkpoint();
        Ok(())
    }

    /// The time-travel state, if on.
    pub fn time_travel(&self) -> Option<&TimeTravel> {
        self.time_travel.as_deref()
    }

    /// At a slice boundary: a checkpoint when one is due (past the newest
    /// by the interval).
    pub(crate) fn checkpoint_if_due(&mut self) {
        let Some(tt) = self.time_travel.as_deref() else {
            return;
        };
        let last = tt.points.last().map_or(0, |c| c.at.work());
        if self.cpu.s.work() < last.saturating_add(tt.interval) {
            return;
        }
        // Host time decides only where checkpoints fall, never what the
        // guest sees.
        if tt
            .last
            .is_some_and(|(at, cost)| at.elapsed() < cost * COST_SHARE)
        {
            return;
        }
        self.checkpoint();
    }

    /// Takes a checkpoint here.
    fn checkpoint(&mut self) {
        let start = std::time::Instant::now();
        let cpu = self.cpu_part();
        // The board's bytes go to a buffer kept from the last time: 16 MiB
        // of fresh memory would cost more to fault in than to fill.
        let mut board = self
            .time_travel
            .as_deref_mut()
            .map(|t| std::mem::take(&mut t.scratch))
            .unwrap_or_default();
        board.clear();
        self.board.save_state(&mut board);
        let disks = pack(&anyx86_hw::wire::encode(&self.overlays()));
        let at = self.point();
        let cursor = self.journal_position();
        let Some(tt) = self.time_travel.as_deref_mut() else {
            return;
        };
        let ram = self.board.mem.ram().as_slice();
        if tt.shadow.len() != ram.len() {
            tt.shadow = ram.to_vec();
        } else if let Some(prev) = tt.points.last_mut() {
            for (i, (now, old)) in ram.chunks(PAGE).zip(tt.shadow.chunks_mut(PAGE)).enumerate() {
                if now != old {
                    prev.undo.insert(i as u32, old.into());
                    old.copy_from_slice(now);
                }
            }
        }
        let packed = pack(&board);
        tt.scratch = board;
        tt.points.push(Checkpoint {
            at,
            cursor,
            cpu,
            board: packed,
            disks,
            undo: BTreeMap::new(),
        });
        tt.thin();
        tt.taken += 1;
        let cost = start.elapsed();
        tt.cost += cost;
        tt.last = Some((std::time::Instant::now(), cost));
    }

    /// Goes back (or forward, within the history) to `target`: restores
    /// the newest checkpoint at or before it and re-executes to it.
    /// `hook` is the host hook for the re-execution (signals end it).
    pub fn travel_to(
        &mut self,
        target: Point,
        hook: crate::HostHook<'_>,
    ) -> Result<Option<RunOutcome>, String> {
        let Some(tt) = self.time_travel.as_deref() else {
            return Err("time travel is off (--time-travel)".into());
        };
        let Some(k) = tt.points.iter().rposition(|c| c.at.work() <= target.work()) else {
            return Err("that point is before the start of the history".into());
        };
        self.restore_checkpoint(k)?;
        Ok(self.run_to(target, hook))
    }

    /// Re-executes from here to `target` exactly (the history replays
    /// its inputs on the way); an outcome when the run ended first.
    pub fn run_to(&mut self, target: Point, hook: crate::HostHook<'_>) -> Option<RunOutcome> {
        self.run_to_work(target.work(), hook)
    }

    /// Runs until the work count reaches `work` (see [`Point::work`]); an
    /// outcome when the run ended first.
    pub fn run_to_work(&mut self, work: u64, hook: crate::HostHook<'_>) -> Option<RunOutcome> {
        while self.point().work() < work {
            let out = self.run_with(Some(work), hook);
            if out != RunOutcome::InstructionLimit {
                return Some(out);
            }
        }
        None
    }

    /// Restores checkpoint `k`: RAM from the shadow and the undo records,
    /// then the CPU, the board, the disks and the history's cursor.
    fn restore_checkpoint(&mut self, k: usize) -> Result<(), String> {
        let from = (self.cpu.s.icount, self.cpu.s.extra_work);
        let Some(tt) = self.time_travel.as_deref() else {
            return Err("time travel is off".into());
        };
        let ram = self.board.mem.ram_mut().as_mut_slice();
        ram.copy_from_slice(&tt.shadow);
        for c in tt.points[k..].iter().rev() {
            for (&page, bytes) in &c.undo {
                let at = page as usize * PAGE;
                ram[at..at + bytes.len()].copy_from_slice(bytes);
            }
        }
        let c = &tt.points[k];
        let (cursor, cpu, board, disks) = (
            c.cursor,
            c.cpu.clone(),
            unpack(&c.board).ok_or("a checkpoint does not unpack")?,
            unpack(&c.disks).ok_or("a checkpoint does not unpack")?,
        );
        self.load_parts(&cpu, &board, &disks)
            .map_err(|e| format!("a checkpoint does not load: {e}"))?;
        self.journal_rewind(cursor, from);
        Ok(())
    }
}

impl TimeTravel {
    /// Drops every other checkpoint of the older half while over budget;
    /// the first and the newest stay.
    fn thin(&mut self) {
        while self.bytes() > self.budget && self.points.len() > 2 {
            let n = self.points.len();
            let drop: Vec<usize> = (1..(n / 2).max(2).min(n - 1)).step_by(2).collect();
            for &i in drop.iter().rev() {
                let gone = self.points.remove(i);
                let prev = &mut self.points[i - 1];
                for (page, bytes) in gone.undo {
                    prev.undo.entry(page).or_insert(bytes);
                }
            }
        }
    }
}

impl Machine {
    /// The machine, somewhere in its past, is changed (a debugger's
    /// write): the future it would replay is no longer its future. The
    /// history after this point and the checkpoints after it are
    /// dropped, and the machine goes live from here.
    pub(crate) fn drop_future(&mut self) {
        let here = self.point();
        let Some(tt) = self.time_travel.as_deref_mut() else {
            return;
        };
        let keep = tt
            .points
            .iter()
            .rposition(|c| c.at.work() <= here.work())
            .unwrap_or(0);
        if keep + 1 < tt.points.len() {
            // The shadow becomes the RAM of the newest kept checkpoint.
            for c in tt.points[keep..].iter().rev() {
                for (&page, bytes) in &c.undo {
                    let at = page as usize * PAGE;
                    tt.shadow[at..at + bytes.len()].copy_from_slice(bytes);
                }
            }
            tt.points.truncate(keep + 1);
            tt.points[keep].undo.clear();
        }
        self.journal_truncate();
    }
}

/// A host hook that only keeps going (re-execution has no host input).
pub fn quiet_hook() -> impl FnMut(&mut crate::Board, u64, Option<Duration>) -> HostControl {
    |_, _, _| HostControl::Continue
}
