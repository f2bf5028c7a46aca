//! Running backwards (`--time-travel`): reverse step and reverse continue
//! for the built-in debugger and the GDB stub, on the machine's
//! checkpoints and history ([`anyx86_machine::timetravel`]).
//!
//! A reverse step goes to the point where the last step before this one
//! started. The first one re-executes from the newest checkpoint before
//! here, stepping the last stretch one instruction at a time (as the
//! history did: the journal holds where a debugger stepped with
//! interrupts held off), and keeps the step points it found; later ones
//! reuse them, so each costs one restore and one run. A reverse continue
//! re-executes the checkpoint intervals from the newest backwards with
//! the breakpoints and watchpoints armed and stops at the last hit before
//! here; a watchpoint stops before the instruction that made the access.
//! With no earlier hit it stops at the start of the history and says so.

use crate::engine::{Debugger, StopWhy};
use anyx86_machine::timetravel::Point;
use anyx86_machine::{Board, HostControl, HostHook, Machine, RunOutcome};
use std::time::Duration;

/// Work re-executed one step at a time before a reverse step's target:
/// more than a trace and a REP slice, so a run that stops short of it
/// never lands past it.
const MARGIN: u64 = 4096;

/// Where a reverse command stopped.
#[derive(Debug)]
pub enum Reverse {
    /// At the point a step back; or at a breakpoint or watchpoint hit.
    Stopped(Option<StopWhy>),
    /// At the start of the history: nothing earlier is kept.
    StartOfHistory,
    /// The machine ended while re-executing (a history that does not
    /// replay: a bug).
    Ended(RunOutcome),
}

/// Step points found by the last reverse step's search, valid while the
/// machine is at `at`.
#[derive(Debug, Default)]
pub struct ReverseCache {
    steps: Vec<Point>,
    at: Option<Point>,
    /// The checkpoint and the work count the search ran from: a step
    /// point is reached the same way (a run, then steps), so that it is
    /// reached exactly.
    from: Option<(Point, u64)>,
}

fn quiet(_: &mut Board, _: u64, _: Option<Duration>) -> HostControl {
    HostControl::Continue
}

impl Debugger {
    /// One step back.
    pub fn reverse_step(&mut self, m: &mut Machine) -> Result<Reverse, String> {
        let here = m.point();
        let start = history_start(m)?;
        if here.work() <= start.work() {
            return Ok(Reverse::StartOfHistory);
        }
        if self.reverse.at != Some(here) || self.reverse.steps.is_empty() {
            match find_steps(m, here)? {
                Ok((from, steps)) => {
                    self.reverse.steps = steps;
                    self.reverse.from = from;
                }
                Err(out) => return Ok(Reverse::Ended(out)),
            };
        }
        let (Some(prev), Some((cp, near))) = (self.reverse.steps.pop(), self.reverse.from) else {
            return Ok(Reverse::StartOfHistory);
        };
        if let Some(out) = walk(m, cp, near, prev)? {
            return Ok(Reverse::Ended(out));
        }
        if m.point() != prev {
            return Err(format!(
                "going back missed instruction {} (other work {}): reached {:?}",
                prev.icount,
                prev.extra,
                m.point()
            ));
        }
        self.reverse.at = Some(prev);
        Ok(Reverse::Stopped(None))
    }

    /// Back to the last breakpoint or watchpoint hit before here, or to
    /// the start of the history.
    pub fn reverse_continue(
        &mut self,
        m: &mut Machine,
        hook: HostHook<'_>,
    ) -> Result<Reverse, String> {
        let here = m.point();
        let start = history_start(m)?;
        let points = m.time_travel().map(|t| t.points()).unwrap_or_default();
        let newest = points.iter().rposition(|p| p.work() < here.work());
        for k in (0..=newest.unwrap_or(0)).rev() {
            if newest.is_none() {
                break;
            }
            let end = points
                .get(k + 1)
                .copied()
                .filter(|p| p.work() < here.work());
            let end = end.unwrap_or(here);
            if let Some(out) = m.travel_to(points[k], &mut quiet)? {
                return Ok(Reverse::Ended(out));
            }
            let hits = match self.hits(m, end, usize::MAX, hook)? {
                Ok(n) => n,
                Err(out) => return Ok(Reverse::Ended(out)),
            };
            if hits > 0 {
                // Again, to the last hit, the same way (a checked run may
                // split the work otherwise than a plain one).
                if let Some(out) = m.travel_to(points[k], &mut quiet)? {
                    return Ok(Reverse::Ended(out));
                }
                if let Err(out) = self.hits(m, end, hits, hook)? {
                    return Ok(Reverse::Ended(out));
                }
                let Some(why) = self.why.take() else {
                    return Err("going back lost the hit".into());
                };
                if matches!(why, StopWhy::Watch(_)) {
                    // Before the instruction that made the access.
                    if let Reverse::Ended(out) = self.reverse_step(m)? {
                        return Ok(Reverse::Ended(out));
                    }
                }
                return Ok(Reverse::Stopped(Some(why)));
            }
        }
        if let Some(out) = m.travel_to(start, &mut quiet)? {
            return Ok(Reverse::Ended(out));
        }
        Ok(Reverse::StartOfHistory)
    }
}

impl Debugger {
    /// One instruction back, over a call: when the step back lands on the
    /// return of a called function, on back to its call (the call-like
    /// instruction that ends where the machine stood), at most `limit`
    /// steps.
    pub fn reverse_next(&mut self, m: &mut Machine, limit: u64) -> Result<Reverse, String> {
        let from = m.cpu.s.pc_linear();
        let mut returned = false;
        for _ in 0..limit {
            let r = self.reverse_step(m)?;
            if !matches!(r, Reverse::Stopped(None)) {
                return Ok(r);
            }
            let s = &m.cpu.s;
            let Some(l) = crate::disasm::decode_at(s, &m.board, s.pc_linear(), s.rip) else {
                return Ok(r);
            };
            let ends_here = s.pc_linear().wrapping_add(l.bytes.len() as u64) == from;
            if !returned {
                if !is_return(&l.ins) {
                    return Ok(r);
                }
                returned = true;
            } else if ends_here && crate::disasm::steps_over(&l.ins) {
                return Ok(r);
            }
        }
        Err(format!("no call found within {limit} steps back"))
    }

    /// Runs with the breakpoints and watchpoints armed until `end`, or
    /// until the `stop_at`-th hit; the number of hits before `end`.
    fn hits(
        &mut self,
        m: &mut Machine,
        end: Point,
        stop_at: usize,
        hook: HostHook<'_>,
    ) -> Result<Result<usize, RunOutcome>, String> {
        self.resume_at = None;
        let mut n = 0;
        loop {
            let out = self.run(m, Some(end.work()), &mut *hook);
            // The history's own end (the guest's exit, say) may be where
            // this search started.
            let past = m.point().work() >= end.work();
            match out {
                RunOutcome::Breakpoint if !past => {
                    n += 1;
                    if n == stop_at {
                        return Ok(Ok(n));
                    }
                    self.why = None;
                }
                _ if past => return Ok(Ok(n)),
                RunOutcome::InstructionLimit => return Ok(Ok(n)),
                other => return Ok(Err(other)),
            }
        }
    }
}

/// Goes to `target`, a step point found from checkpoint `cp`: restores
/// it, runs to `near` and steps the rest, as the search did.
fn walk(
    m: &mut Machine,
    cp: Point,
    near: u64,
    target: Point,
) -> Result<Option<RunOutcome>, String> {
    if let Some(out) = m.travel_to(cp, &mut quiet)? {
        return Ok(Some(out));
    }
    if near > cp.work() {
        if let Some(out) = m.run_to_work(near, &mut quiet) {
            return Ok(Some(out));
        }
    }
    while m.point().work() < target.work() {
        if let Some(out) = m.step(true) {
            return Ok(Some(out));
        }
    }
    Ok(None)
}

/// A return from a call or an interrupt.
fn is_return(ins: &iced_x86::Instruction) -> bool {
    ins.flow_control() == iced_x86::FlowControl::Return
}

fn history_start(m: &Machine) -> Result<Point, String> {
    m.time_travel()
        .and_then(|t| t.start())
        .ok_or_else(|| "going back needs --time-travel".to_string())
}

/// The points where the steps before `here` started, oldest first: the
/// machine re-executes from the newest checkpoint before `here`, runs to
/// `MARGIN` short of it and steps the rest.
type Steps = (Option<(Point, u64)>, Vec<Point>);

fn find_steps(m: &mut Machine, here: Point) -> Result<Result<Steps, RunOutcome>, String> {
    let points = m.time_travel().map(|t| t.points()).unwrap_or_default();
    let Some(from) = points
        .iter()
        .rev()
        .find(|p| p.work() < here.work())
        .copied()
    else {
        return Ok(Ok((None, Vec::new())));
    };
    if let Some(out) = m.travel_to(from, &mut quiet)? {
        return Ok(Err(out));
    }
    let near = here.work().saturating_sub(MARGIN);
    if near > from.work() {
        if let Some(out) = m.run_to_work(near, &mut quiet) {
            return Ok(Err(out));
        }
    }
    let mut steps = Vec::new();
    while m.point().work() < here.work() {
        steps.push(m.point());
        if let Some(out) = m.step(true) {
            return Ok(Err(out));
        }
    }
    Ok(Ok((Some((from, near)), steps)))
}
