//! The debugger's state and the run loop it drives: breakpoints,
//! watchpoints, temporary stop conditions (`until`, `finish`, step over)
//! and the execution trace, shared by the GDB stub and the built-in
//! debugger.
//!
//! While nothing is armed the machine runs its ordinary loop
//! ([`Machine::run_with`]); otherwise the checked loop calls
//! [`Debugger::check`] before every instruction.

use crate::trace::Tracer;
use crate::view::CpuMode;
use anyx86_cpu::arch::sreg;
use anyx86_cpu::debug::{WatchHit, WatchKind, Watchpoint, MAX_WATCHPOINTS, MAX_WATCH_LEN};
use anyx86_cpu::CpuState;
use anyx86_machine::{Board, HostHook, Machine, RunOutcome};
use std::fmt;

/// Most breakpoints at once.
pub const MAX_BREAKPOINTS: usize = 4096;

/// Where a breakpoint stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakAt {
    /// A linear address (CS base + IP).
    Linear(u64),
    /// A physical address.
    Phys(u64),
    /// A CS selector and an offset, matched exactly.
    SegOff(u16, u64),
    /// Any CPU mode change (real, protected, paging, V86, long).
    ModeChange,
}

impl fmt::Display for BreakAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakAt::Linear(a) => write!(f, "linear {a:#x}"),
            BreakAt::Phys(a) => write!(f, "physical {a:#x}"),
            BreakAt::SegOff(s, o) => write!(f, "{s:04x}:{o:04x}"),
            BreakAt::ModeChange => write!(f, "mode change"),
        }
    }
}

/// Who owns a breakpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The user (built-in debugger or `monitor`).
    User,
    /// GDB's `Z0` software breakpoint.
    GdbSw,
    /// GDB's `Z1` hardware breakpoint.
    GdbHw,
}

/// A breakpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breakpoint {
    /// Number shown to the user.
    pub id: u32,
    /// Where it stops.
    pub at: BreakAt,
    /// Who set it.
    pub owner: Owner,
}

/// A watchpoint as the user sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watch {
    /// Number shown to the user.
    pub id: u32,
    /// The watched range.
    pub w: Watchpoint,
    /// Set by GDB (`Z2`-`Z4`).
    pub gdb: bool,
}

/// A temporary stop condition of a running command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCond {
    /// Stop at this linear address (step over, `until ADDR`).
    At(u64),
    /// Stop once the instruction pointer passes `lin` in a frame not
    /// deeper than `sp` (`until`).
    Past {
        /// Linear address of the starting instruction.
        lin: u64,
        /// Stack pointer at the start.
        sp: u64,
    },
    /// Stop after a return leaves the frame whose stack pointer was `sp`
    /// (`finish`).
    Finish {
        /// Stack pointer at the start.
        sp: u64,
    },
}

/// Why the debugger stopped the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopWhy {
    /// A breakpoint.
    Break(Breakpoint),
    /// A mode change (with `ModeChange` breakpoint `bp`).
    ModeChange {
        /// The breakpoint.
        bp: Breakpoint,
        /// Previous mode.
        from: CpuMode,
        /// New mode.
        to: CpuMode,
    },
    /// A watchpoint.
    Watch(WatchHit),
    /// A temporary stop condition was met.
    Cond,
}

impl fmt::Display for StopWhy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopWhy::Break(b) => write!(f, "breakpoint {} ({})", b.id, b.at),
            StopWhy::ModeChange { bp, from, to } => {
                write!(f, "breakpoint {}: mode change {from} -> {to}", bp.id)
            }
            StopWhy::Watch(h) => write!(
                f,
                "watchpoint at {:#x} ({} bytes): {} of {:#x}",
                h.watch.lin,
                h.watch.len,
                if h.write { "write" } else { "read" },
                h.lin
            ),
            StopWhy::Cond => write!(f, "done"),
        }
    }
}

/// Errors from breakpoint and watchpoint commands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BreakError {
    /// Too many breakpoints.
    #[error("too many breakpoints (at most {MAX_BREAKPOINTS})")]
    TooManyBreakpoints,
    /// Too many watchpoints.
    #[error("too many watchpoints (at most {MAX_WATCHPOINTS})")]
    TooManyWatchpoints,
    /// A watched range of a bad length.
    #[error("watch length must be 1..={MAX_WATCH_LEN}")]
    BadLength,
}

/// The debugger.
#[derive(Default)]
pub struct Debugger {
    bps: Vec<Breakpoint>,
    watches: Vec<Watch>,
    next_id: u32,
    /// Sorted linear addresses of the breakpoints (a binary search per
    /// instruction beats hashing).
    lin: Vec<u64>,
    /// Sorted physical addresses.
    phys: Vec<u64>,
    segoff: Vec<(u16, u64)>,
    mode_bp: Option<Breakpoint>,
    last_mode: Option<CpuMode>,
    /// Take external interrupts while single-stepping (QEMU's step mask
    /// holds them off by default).
    pub step_irqs: bool,
    /// A temporary stop condition for the next run.
    pub cond: Option<StopCond>,
    ret_seen: bool,
    /// Don't stop before the instruction at (icount, linear address):
    /// resuming from a breakpoint.
    pub resume_at: Option<(u64, u64)>,
    /// Why the last checked run stopped.
    pub why: Option<StopWhy>,
    /// The execution trace, when on.
    pub trace: Option<Tracer>,
    /// What the last reverse step learnt (see [`crate::reverse`]).
    pub(crate) reverse: crate::reverse::ReverseCache,
}

impl Debugger {
    /// A debugger with nothing armed.
    pub fn new() -> Self {
        Self {
            next_id: 1,
            ..Self::default()
        }
    }

    /// True when the run loop must call [`Debugger::check`].
    pub fn armed(&self) -> bool {
        !self.bps.is_empty()
            || !self.watches.is_empty()
            || self.cond.is_some()
            || self.trace.is_some()
    }

    /// The breakpoints.
    pub fn breakpoints(&self) -> &[Breakpoint] {
        &self.bps
    }

    /// The watchpoints.
    pub fn watchpoints(&self) -> &[Watch] {
        &self.watches
    }

    /// Adds a breakpoint; returns it.
    pub fn add_break(&mut self, at: BreakAt, owner: Owner) -> Result<Breakpoint, BreakError> {
        if self.bps.len() >= MAX_BREAKPOINTS {
            return Err(BreakError::TooManyBreakpoints);
        }
        let bp = Breakpoint {
            id: self.take_id(),
            at,
            owner,
        };
        self.bps.push(bp);
        self.rebuild();
        Ok(bp)
    }

    fn take_id(&mut self) -> u32 {
        let id = self.next_id.max(1);
        self.next_id = id.wrapping_add(1);
        id
    }

    /// Removes the first breakpoint at `at` owned by `owner`.
    pub fn remove_break_at(&mut self, at: BreakAt, owner: Owner) -> bool {
        match self.bps.iter().position(|b| b.at == at && b.owner == owner) {
            Some(i) => {
                self.bps.remove(i);
                self.rebuild();
                true
            }
            None => false,
        }
    }

    /// Removes breakpoint or watchpoint number `id`.
    pub fn delete(&mut self, id: u32, m: &mut Machine) -> bool {
        let nb = self.bps.len();
        self.bps.retain(|b| b.id != id);
        let nw = self.watches.len();
        self.watches.retain(|w| w.id != id);
        self.rebuild();
        if nw != self.watches.len() {
            self.sync_watches(m);
        }
        nb != self.bps.len() || nw != self.watches.len()
    }

    /// Drops everything GDB set (on detach), or everything.
    pub fn clear(&mut self, m: &mut Machine, gdb_only: bool) {
        self.bps.retain(|b| gdb_only && b.owner == Owner::User);
        self.watches.retain(|w| gdb_only && !w.gdb);
        self.cond = None;
        self.rebuild();
        self.sync_watches(m);
    }

    fn rebuild(&mut self) {
        self.lin.clear();
        self.phys.clear();
        self.segoff.clear();
        self.mode_bp = None;
        for b in &self.bps {
            match b.at {
                BreakAt::Linear(a) => self.lin.push(a),
                BreakAt::Phys(a) => self.phys.push(a),
                BreakAt::SegOff(s, o) => self.segoff.push((s, o)),
                BreakAt::ModeChange => self.mode_bp = Some(*b),
            }
        }
        self.lin.sort_unstable();
        self.phys.sort_unstable();
        if self.mode_bp.is_none() {
            self.last_mode = None;
        }
    }

    /// Adds a watchpoint on `len` bytes at linear `lin`.
    pub fn add_watch(
        &mut self,
        m: &mut Machine,
        lin: u64,
        len: u64,
        kind: WatchKind,
        gdb: bool,
    ) -> Result<Watch, BreakError> {
        if !(1..=MAX_WATCH_LEN).contains(&len) {
            return Err(BreakError::BadLength);
        }
        if self.watches.len() >= MAX_WATCHPOINTS {
            return Err(BreakError::TooManyWatchpoints);
        }
        let w = Watch {
            id: self.take_id(),
            w: Watchpoint { lin, len, kind },
            gdb,
        };
        self.watches.push(w);
        self.sync_watches(m);
        Ok(w)
    }

    /// Removes the first GDB watchpoint matching.
    pub fn remove_watch(&mut self, m: &mut Machine, lin: u64, len: u64, kind: WatchKind) -> bool {
        let found = self
            .watches
            .iter()
            .position(|w| w.gdb && w.w == Watchpoint { lin, len, kind });
        if let Some(i) = found {
            self.watches.remove(i);
            self.sync_watches(m);
        }
        found.is_some()
    }

    fn sync_watches(&self, m: &mut Machine) {
        let list: Vec<Watchpoint> = self.watches.iter().map(|w| w.w).collect();
        m.cpu.s.set_watchpoints(&list);
    }

    /// The per-instruction check of the checked run loop: true to stop
    /// before the instruction at physical address `phys`.
    pub fn check(&mut self, s: &CpuState, bus: &Board, phys: u64) -> bool {
        if let Some(t) = self.trace.as_mut() {
            t.before(s, bus, phys);
        }
        let lin = s.pc_linear();
        if self.resume_at.take() == Some((s.icount, lin)) {
            self.note_mode(s);
            self.note_ret(bus, phys);
            return false;
        }
        if let Some(why) = self.find_stop(s, phys, lin) {
            self.why = Some(why);
            return true;
        }
        self.note_ret(bus, phys);
        false
    }

    fn note_mode(&mut self, s: &CpuState) -> Option<(CpuMode, CpuMode)> {
        self.mode_bp?;
        let now = CpuMode::of(s);
        let before = self.last_mode.replace(now)?;
        (before != now).then_some((before, now))
    }

    fn note_ret(&mut self, bus: &Board, phys: u64) {
        if matches!(self.cond, Some(StopCond::Finish { .. })) {
            self.ret_seen = crate::disasm::is_ret_at(bus, phys);
        }
    }

    fn find_stop(&mut self, s: &CpuState, phys: u64, lin: u64) -> Option<StopWhy> {
        if let (Some((from, to)), Some(bp)) = (self.note_mode(s), self.mode_bp) {
            return Some(StopWhy::ModeChange { bp, from, to });
        }
        if let Some(c) = self.cond {
            let sp = s.gpr[4] & s.stack_mask();
            let done = match c {
                StopCond::At(a) => a == lin,
                StopCond::Past { lin: l, sp: sp0 } => lin > l && sp >= sp0,
                StopCond::Finish { sp: sp0 } => std::mem::take(&mut self.ret_seen) && sp > sp0,
            };
            if done {
                self.cond = None;
                return Some(StopWhy::Cond);
            }
        }
        let cs = s.seg[sreg::CS].selector;
        let quick = self.lin.binary_search(&lin).is_ok()
            || self.phys.binary_search(&phys).is_ok()
            || self.segoff.contains(&(cs, s.rip));
        if !quick {
            return None;
        }
        self.bps
            .iter()
            .find(|b| match b.at {
                BreakAt::Linear(a) => a == lin,
                BreakAt::Phys(a) => a == phys,
                BreakAt::SegOff(sel, off) => sel == cs && off == s.rip,
                BreakAt::ModeChange => false,
            })
            .copied()
            .map(StopWhy::Break)
    }

    /// Runs `m` until it stops, the debugger stops it, or `hook` quits;
    /// the plain run loop when nothing is armed.
    pub fn run(&mut self, m: &mut Machine, max: Option<u64>, hook: HostHook<'_>) -> RunOutcome {
        self.why = None;
        self.ret_seen = false;
        m.cpu.s.watch.hit = None;
        if !self.armed() {
            return m.run_with(max, hook);
        }
        while let Some(after) = self.trace_starts_later(m) {
            // Nothing to check before the trace starts: the plain loop,
            // up to a trace's length before the start (it may overshoot
            // its limit by one trace); the checked loop below goes on
            // one instruction at a time. The limit counts work (REP
            // iterations, deliveries and idle wake-ups too), the start
            // retired instructions, so the plain loop may stop short.
            let s = &m.cpu.s;
            let left = after - s.icount;
            if left <= anyx86_cpu::TRACE_OVERSHOOT {
                break;
            }
            let goal = s.work().saturating_add(left - anyx86_cpu::TRACE_OVERSHOOT);
            let out = m.run_with(Some(max.map_or(goal, |x| x.min(goal))), &mut *hook);
            if out != RunOutcome::InstructionLimit || max.is_some_and(|x| m.cpu.s.work() >= x) {
                return out;
            }
        }
        let start = (m.cpu.s.icount, m.cpu.s.pc_linear());
        self.resume_at.get_or_insert(start);
        let out = if self.only_watches() {
            // The MMU's slow path catches the accesses: nothing to check
            // per instruction.
            m.run_checked(max, hook, &mut |_, _, _| false)
        } else {
            m.run_checked(max, hook, &mut |s, b, p| self.check(s, b, p))
        };
        self.resume_at = None;
        if out == RunOutcome::Breakpoint {
            if let Some(h) = m.cpu.s.watch.hit.take() {
                self.why = Some(StopWhy::Watch(h));
            }
        }
        out
    }

    fn only_watches(&self) -> bool {
        self.bps.is_empty() && self.cond.is_none() && self.trace.is_none()
    }

    /// When the trace is all that is armed and starts after a later
    /// instruction count: that count.
    fn trace_starts_later(&self, m: &Machine) -> Option<u64> {
        let after = self.trace.as_ref()?.filter.after;
        let only_trace = self.bps.is_empty() && self.watches.is_empty() && self.cond.is_none();
        (only_trace && m.cpu.s.icount < after).then_some(after)
    }

    /// Executes one instruction (traced when the trace is on). Returns
    /// the outcome when the run ended; a watchpoint hit is left in
    /// [`Debugger::why`].
    pub fn step(&mut self, m: &mut Machine) -> Option<RunOutcome> {
        self.why = None;
        m.cpu.s.watch.hit = None;
        if let Some(t) = self.trace.as_mut() {
            let s = &m.cpu.s;
            let phys = crate::view::lin_to_phys(s, &m.board, s.pc_linear()).unwrap_or(u64::MAX);
            t.before(s, &m.board, phys);
        }
        let out = m.step(self.step_irqs);
        if let Some(h) = m.cpu.s.watch.hit.take() {
            self.why = Some(StopWhy::Watch(h));
        }
        // Mode changes seen while stepping are not reported again.
        if self.mode_bp.is_some() {
            self.last_mode = Some(CpuMode::of(&m.cpu.s));
        }
        out
    }
}
