//! Instruction handlers, grouped by family, and the one place that maps a
//! decoded iced instruction to its handler.

/// A module of `u8` constants numbered 0, 1, 2, ... in the order written:
/// the values of a const generic that stands for a small enum (stable
/// Rust's const generics take no enums). The numbering cannot repeat or
/// skip a value.
macro_rules! numbered {
    ($(#[$m:meta])* $vis:vis mod $name:ident { $($(#[$a:meta])* $c:ident),* $(,)? }) => {
        $(#[$m])*
        $vis mod $name {
            #[allow(non_camel_case_types, clippy::upper_case_acronyms, dead_code)]
            #[repr(u8)]
            enum Index { $($c),* }
            $($(#[$a])* pub const $c: u8 = Index::$c as u8;)*
        }
    };
}

mod alu;
mod control;
pub(crate) use control::select_through;
mod data;
mod sse;
mod string;
mod syscall;
mod system;
mod v2;
mod x87;

use crate::bus::CpuBus;
use crate::decode::{Handler, Op, NOREG, RIPREL};
use crate::fault::{Fault, Res};
use crate::state::CpuState;
use iced_x86::{Code, Instruction, Mnemonic as M, OpKind};

numbered! {
    /// Operand forms, chosen at decode time and passed as const generics so a
    /// handler's operand accesses compile to straight-line code.
    pub(crate) mod form {
        /// Destination register, source register.
        RR,
        /// Destination register, source memory.
        RM,
        /// Destination memory, source register.
        MR,
        /// Destination register, source immediate.
        RI,
        /// Destination memory, source immediate.
        MI,
    }
}

/// The operand size (2, 4 or 8) of an instruction that has no explicit
/// operand to take it from: `w` lists its 16-bit codes, `d` its 32-bit
/// ones; any other code is its 64-bit form.
#[inline(always)]
pub(crate) fn wdq(code: Code, w: &[Code], d: &[Code]) -> u8 {
    if w.contains(&code) {
        2
    } else if d.contains(&code) {
        4
    } else {
        8
    }
}

/// True for operand kinds that address memory.
pub(crate) fn is_mem(k: OpKind) -> bool {
    matches!(k, OpKind::Memory)
}

/// The form of a two-operand instruction.
pub(crate) fn form_of(ins: &Instruction) -> u8 {
    let m0 = is_mem(ins.op0_kind());
    let k1 = ins.op1_kind();
    match (m0, k1) {
        (false, OpKind::Register) => form::RR,
        (false, OpKind::Memory) => form::RM,
        (true, OpKind::Register) => form::MR,
        (false, _) => form::RI,
        (true, _) => form::MI,
    }
}

/// A handler picked for an instruction, and whether it is a threaded
/// one. A threaded handler ends by calling [`next`] (which goes straight
/// on with the next record of the trace) and neither reads nor writes
/// `rip` or `icount`: inside a chain those are brought up to date only
/// when the chain returns to the run loop (debug builds poison them, so a
/// threaded handler that reads them fails the threading tests), and the
/// run loop derives the next RIP of a threaded record from its length, so
/// a threaded handler transfers control only by a side exit (a taken Jcc,
/// or the near JMP/CALL/RET that end a trace: target in `next_rip`,
/// `side_exit` and `break_trace` set).
pub(crate) struct Pick<B: CpuBus> {
    pub f: Handler<B>,
    pub threaded: bool,
}

impl<B: CpuBus> Clone for Pick<B> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<B: CpuBus> Copy for Pick<B> {}

/// A threaded handler (see [`Pick`]).
pub(crate) fn hot<B: CpuBus>(f: Handler<B>) -> Pick<B> {
    Pick { f, threaded: true }
}

/// A handler that returns to the run loop after its instruction.
pub(crate) fn plain<B: CpuBus>(f: Handler<B>) -> Pick<B> {
    Pick { f, threaded: false }
}

/// Picks the handler for an instruction. Anything not implemented gets
/// [`unimplemented`], which raises #UD and counts the opcode.
pub(crate) fn select<B: CpuBus>(ins: &Instruction) -> Pick<B> {
    if ins.is_invalid() {
        return plain(invalid::<B>);
    }
    let pick = alu::select::<B>(ins)
        .or_else(|| sse::select::<B>(ins).map(plain))
        .or_else(|| data::select::<B>(ins))
        .or_else(|| control::select_threaded::<B>(ins))
        .or_else(|| control::select::<B>(ins))
        .or_else(|| string::select::<B>(ins).map(plain))
        .or_else(|| system::select::<B>(ins).map(plain))
        .or_else(|| syscall::select::<B>(ins).map(plain))
        .or_else(|| x87::select::<B>(ins).map(plain))
        .or_else(|| v2::select::<B>(ins).map(plain))
        .unwrap_or_else(|| plain(unimplemented::<B>));
    // The run loop derives a threaded record's next RIP from its length,
    // unless it left by a side exit (the near transfers of
    // `control::select_threaded` always do).
    debug_assert!(
        !pick.threaded
            || ins.flow_control() == iced_x86::FlowControl::Next
            || control::select_threaded::<B>(ins).is_some(),
        "{:?}: a control transfer cannot be a threaded handler",
        ins.code()
    );
    pick
}

/// The handler of a conditional branch that does not end its trace (the
/// trace goes on with the fall-through path; a taken branch leaves it
/// through a side exit), or `None` if the instruction must end the trace.
/// It is threaded: not taken, it goes on like any threaded handler;
/// taken, it sets `side_exit` and `break_trace` with its target in
/// `next_rip`, and the run loop leaves the trace for it.
pub(crate) fn select_side_exit<B: CpuBus>(ins: &Instruction) -> Option<Pick<B>> {
    jcc_condition(ins).map(|cc| hot(control::jcc_sel::<B>(cc)))
}

/// The condition (0-15, encoding order) of a Jcc; `None` for anything
/// else, LOOPcc and JCXZ included.
fn jcc_condition(ins: &Instruction) -> Option<u8> {
    let is_jcc = ins.flow_control() == iced_x86::FlowControl::ConditionalBranch
        && ins.condition_code() != iced_x86::ConditionCode::None
        && !matches!(mn(ins), M::Loop | M::Loope | M::Loopne);
    // iced numbers conditions from 1 (o) in encoding order.
    is_jcc.then(|| ins.condition_code() as u8 - 1)
}

/// Fuses the record `prev` of a CMP/TEST (`prev_ins`) with the Jcc `jcc`
/// that follows it, when the pair has a fused handler.
pub(crate) fn fuse<B: CpuBus>(
    prev_ins: &Instruction,
    prev: &Op<B>,
    jcc: &Instruction,
) -> Option<Op<B>> {
    let f = alu::fused_sel::<B>(prev_ins, jcc_condition(jcc)?)?;
    let jsize = match jcc.op0_kind() {
        OpKind::NearBranch16 => 2,
        OpKind::NearBranch32 => 4,
        _ => 8,
    };
    let rel = jcc.near_branch_target().wrapping_sub(jcc.next_ip());
    let mut op = *prev;
    op.f = f;
    op.hot = true;
    op.n = 2;
    op.len = prev.len + jcc.len() as u8;
    // (A Jcc's displacement is a rel8, rel16 or rel32.)
    op.jrel = rel as i32;
    op.len1 = prev.len;
    op.jsize = jsize;
    if prev.base == RIPREL {
        // RIP-relative operands add `next_rip`, which is now past the Jcc.
        op.disp = prev.disp.wrapping_sub(u64::from(jcc.len() as u8));
    }
    // (`mref` stays the CMP/TEST's: the Jcc makes no data reference.)
    Some(op)
}

/// Brings `rip` and `icount` to the start of record `op` of the running
/// trace (threaded handlers run without them: see [`Pick`]).
#[inline(always)]
pub(crate) fn sync_to<B>(s: &mut CpuState, op: &Op<B>) {
    s.rip = op.start_at(s.run.trace_rip, s.run.trace_mask);
    sync_count(s, op);
}

/// Brings the instruction count to the start of record `op` (threaded
/// handlers run with a stale one: see [`Pick`]) and stores its position
/// for the run loop (see [`next_fast`]). Their slow paths call it first:
/// the slow path is where an access can reach MMIO, and a device (a LAPIC
/// or HPET counter) must see the exact time; it is also where a fault or
/// a request to leave the trace comes from.
#[inline(always)]
pub(crate) fn sync_count<B>(s: &mut CpuState, op: &Op<B>) {
    s.icount = op.count_before(s.run.trace_ic);
    s.run.pos = op.idx;
}

/// The start of a memory handler's slow twin, which starts its
/// instruction over: the exact instruction count ([`sync_count`]), then
/// the operand's offset again.
#[inline(always)]
pub(crate) fn restart_ea<B, const EA: u8>(s: &mut CpuState, op: &Op<B>) -> u64 {
    sync_count(s, op);
    s.ea_k::<B, EA>(op)
}

/// Runs one record by itself (single-step, the debugger, the CS-limit
/// path): RIP is at its first byte; `next_rip` is set to the byte after
/// it, and a copy that does not chain runs as a trace of its own, so
/// [`CpuState::next_ip`] agrees with `next_rip`.
pub(crate) fn run_alone<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let mask = s.ip_mask();
    s.run.trace_rip = s.rip;
    s.run.trace_mask = mask;
    s.run.trace_ic = s.icount;
    let op = Op {
        chain: false,
        end: u16::from(op.len),
        idx: 0,
        ic: op.n,
        last: true,
        ..*op
    };
    s.next_rip = op.end_at(s.rip, mask);
    s.run.pos = 0;
    (op.f)(s, bus, &op)
}

/// Runs one record by itself ([`run_alone`]) and retires it: RIP moves
/// to the next instruction and the count goes up by one. Single-step, the
/// CS-limit path and the debugger retire instructions here; the run loop
/// retires whole chains at once.
pub(crate) fn retire_alone<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    debug_assert_eq!(op.n, 1, "a fused pair retires one instruction at a time");
    run_alone(s, bus, op)?;
    s.rip = s.next_rip;
    s.icount += 1;
    Ok(())
}

/// Called by a threaded handler whose instruction has retired: inside a
/// trace run by the run loop, goes straight on with the next record when
/// that is a threaded one too (threaded dispatch: each handler ends in its
/// own indirect jump, which the host predicts far better than one call
/// site in a loop). Otherwise returns to the run loop, which brings `rip`
/// and `icount` up to date and goes on, from the position the returning
/// record stored. Nothing is stored on the way on: threaded handlers that
/// need the next RIP derive it ([`CpuState::next_ip`]), and `next_rip` is
/// left alone.
#[inline(always)]
pub(crate) fn next<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    if s.run.break_trace {
        s.run.pos = op.idx;
        return Ok(());
    }
    next_fast(s, bus, op)
}

/// [`next`] for a handler's fast path, which cannot have asked to leave
/// the trace: register work, and guest RAM through the TLB's fast entries
/// (never code, a device or a flush). A record starts with `break_trace`
/// clear (a chain stops at a record that set it, and the run loop and
/// [`hop`] clear it before they start one), so only `op.chain` is left to
/// check: one load and branch less for every threaded instruction.
#[inline(always)]
#[allow(unsafe_code)]
pub(crate) fn next_fast<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    if !op.chain {
        s.run.pos = op.idx;
        return Ok(());
    }
    debug_assert!(!s.run.break_trace, "a fast path asked to leave the trace");
    // SAFETY: `op.chain` is set only on elements of a trace's `ops` slice
    // other than its last (`Cpu::build_trace`), so `op + 1` is in bounds
    // of that slice. Only the run loop calls handlers with those elements
    // themselves (`Cpu::run_traces`), and the trace cache keeps the slice
    // alive and unchanged while they run (handlers reach neither the
    // cache nor the slice); every other caller runs a copy made by
    // `run_alone`, whose `chain` is false.
    let n = unsafe { &*(op as *const Op<B>).add(1) };
    // The position is not stored here, only by a record that returns to
    // the run loop: `next` and this function when they return, a hop
    // that does not go on, and the slow paths, which a fault comes from,
    // through `sync_count`. Debug builds keep a copy here and the loop
    // checks that the two agree.
    #[cfg(debug_assertions)]
    {
        s.run.dbg_pos = n.idx;
    }
    // Inside a chain RIP and the instruction count are stale (see
    // `hot`). Debug builds make them absurd, so a threaded handler that
    // reads them breaks the differential tests (`tests/threading.rs`);
    // the run loop sets both again whenever a chain returns, and the
    // slow paths set the count before they can reach a device
    // (`sync_count`).
    #[cfg(debug_assertions)]
    {
        s.rip = CHAIN_POISON;
        s.icount = CHAIN_POISON;
    }
    (n.f)(s, bus, n)
}

/// [`next_fast`] for a handler that took its fast path (`fast`, a
/// constant where it is called), else [`next`].
#[inline(always)]
pub(crate) fn next_if<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>, fast: bool) -> Res<()> {
    if fast {
        next_fast(s, bus, op)
    } else {
        next(s, bus, op)
    }
}

/// Most hops before a chain returns to the run loop: debug builds do not
/// turn the handlers' tail calls into jumps, so each hop is a stack frame.
const HOP_LIMIT: u32 = 64;

/// A branch taken at the end of `op`, its target in `next_rip`: a side
/// exit, which the run loop takes by going on with the target's trace.
/// When the running trace has a link for the target, the trace fits the
/// CS limit and the budget allows, the handler takes it itself: a *hop*
/// (the loop's own transition without the return to it).
#[inline(always)]
pub(crate) fn side_exit<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    s.run.break_trace = true;
    s.run.side_exit = true;
    hop(s, bus, op)
}

/// The hop of [`side_exit`], out of line so that the handlers that end in
/// one keep their short prologues. It does what the run loop's chained
/// transition does: counts, the link lookup, the fit check, the trace's
/// start in `s.run`, RIP, the count and `next_rip` for its first record.
/// A hop back to the running trace's own start (a loop within one trace,
/// about half of them) needs no lookup; [`hop_far`] makes the others, so
/// that this function calls nothing but its tail calls and saves no
/// registers.
#[inline(never)]
#[allow(unsafe_code)]
fn hop<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let ic = s.run.trace_ic.wrapping_add(u64::from(op.ic));
    // Back in the run loop, which finds the record by its position.
    s.run.pos = op.idx;
    if s.run.leave_loop || ic >= s.run.hop_until || s.run.hops >= HOP_LIMIT {
        return Ok(());
    }
    let rip = s.next_rip;
    if rip != s.run.trace_rip || s.tlb.epoch != s.run.hop_epoch {
        return hop_far(s, bus, op, ic, rip);
    }
    // Back to the running trace's own start, under the TLB epoch it was
    // entered under: it is still cached (traces are dropped only between
    // the loop's traces, which the hops run within), its code context
    // cannot have changed (that ends the run), and it fitted the CS limit
    // at the same RIP.
    //
    // SAFETY: `hop_first` is the address of the first record of the
    // running trace's `ops`, stored with `hop_cur` by the run loop or by
    // the hop that started that trace (`hop_lookup`); the argument there
    // keeps that slice alive and unchanged while handlers run.
    let first = unsafe { &*(s.run.hop_first as *const Op<B>) };
    hop_to(s, bus, op, ic, rip, first)
}

/// A hop to another trace (or to the running one's start under a new
/// TLB epoch): through [`hop_lookup`].
#[inline(never)]
#[allow(unsafe_code)]
fn hop_far<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>, ic: u64, rip: u64) -> Res<()> {
    let Some(first) = hop_lookup::<B>(s, rip) else {
        return Ok(());
    };
    // SAFETY: `hop_lookup` found `first` in the running trace cache, and
    // the argument there keeps its trace alive and unchanged while
    // handlers run.
    let first = unsafe { &*first };
    hop_to(s, bus, op, ic, rip, first)
}

/// The end of a hop from record `op` to `first`, at `rip` after `ic`
/// instructions: the loop's bookkeeping, then the record.
#[inline(always)]
fn hop_to<B: CpuBus>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
    ic: u64,
    rip: u64,
    first: &Op<B>,
) -> Res<()> {
    s.run.hops += 1;
    s.run.hop_refs += u64::from(op.mref);
    s.run.break_trace = false;
    s.run.side_exit = false;
    s.run.trace_ic = ic;
    s.icount = ic;
    s.rip = rip;
    // A hop may start a record that is not threaded (which stores no
    // position when it returns).
    s.run.pos = first.idx;
    #[cfg(debug_assertions)]
    {
        s.run.dbg_pos = first.idx;
    }
    s.next_rip = first.end_at(rip, s.run.trace_mask);
    (first.f)(s, bus, first)
}

/// The trace a hop to `rip` goes on with, from the running trace's links
/// or the jump cache, if it fits the CS limit: its first record's
/// address, with the trace made the running one in `s.run` (`hop_cur`,
/// `hop_first`, `hop_epoch`, `trace_rip`).
#[inline(always)]
#[allow(unsafe_code)]
fn hop_lookup<B: CpuBus>(s: &mut CpuState, rip: u64) -> Option<*const Op<B>> {
    // SAFETY: `hop_until` is non-zero only while `Cpu::run_traces` runs
    // a trace's records on its threaded path (it is cleared before the
    // one-record path and when the call returns, and stays 0 with
    // `Cpu::unthreaded`), and there the loop stored `hop_cache` from
    // `&self.cache` just before starting the trace's first record. The
    // `Cpu` is mutably borrowed by that call, so the cache cannot move or
    // be dropped; handlers cannot reach it (they get the state and the
    // bus), and the loop changes it only between traces, after the
    // handlers returned, and stores the address again before the next
    // trace: while this reference lives only shared borrows of the cache
    // exist. The handler running is a `Handler<B>` taken from that
    // `TraceCache<B>`, so `B` is the cache's type.
    let cache = unsafe { &*(s.run.hop_cache as *const crate::trace::TraceCache<B>) };
    let epoch = cache.link_epoch(s.tlb.epoch);
    let id = cache.successor(s.run.hop_cur, rip, s.run.hop_ctx, epoch)?;
    let t = cache.trace(id)?;
    let first = t.ops.first()?;
    if rip.wrapping_add(u64::from(t.bytes)) > s.run.hop_end_limit {
        return None;
    }
    s.run.hop_cur = id;
    s.run.hop_first = first as *const Op<B> as usize;
    s.run.hop_epoch = s.tlb.epoch;
    s.run.trace_rip = rip;
    Some(first)
}

/// True when the taken branch of Jcc record `op` can go on at the record
/// it lands on in its own trace ([`land`]): it has one (`imm2`), `op` is
/// not a copy run by itself (those are `last`), and the budgets allow
/// what they allow a hop (the run's, so a run stops where a side exit
/// would have stopped it, and the one that bounds a chain's depth).
#[inline(always)]
pub(crate) fn can_land<B>(s: &CpuState, op: &Op<B>) -> bool {
    op.imm2 != 0
        && !op.last
        && s.run.trace_ic.wrapping_add(u64::from(op.ic)) < s.run.land_until
        && s.run.hops < HOP_LIMIT
}

/// A taken forward branch whose target is a later record of the running
/// trace: goes on there, as a hop to the same trace would, without
/// leaving it. The records in between did not retire: the trace's count
/// base moves back by them, so that the later records' running totals
/// (`Op::ic`) count from the branch on.
#[inline(never)]
#[allow(unsafe_code)]
pub(crate) fn land<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let k = usize::from(op.imm2 - 1);
    // SAFETY: `imm2` is set by `Cpu::build_trace` only on records of a
    // trace's `ops` slice, to 1 + the index of a later record of that
    // slice (k > idx, so k - 1 >= idx too); `can_land` excludes the copies
    // `run_alone` runs (`last`), so `op` is an element of that slice and
    // both offsets stay within it. The slice lives and stays unchanged
    // while handlers run, as argued in `next`.
    let (to, before) = unsafe {
        let base = (op as *const Op<B>).sub(usize::from(op.idx));
        (&*base.add(k), &*base.add(k - 1))
    };
    s.run.hops += 1;
    s.run.lands += 1;
    // The base may wrap below zero (a count near zero); every sum with
    // it wraps back. (`--stats` counts the skipped records' memory
    // references as made: see `Op::mref`.)
    let run = &mut s.run;
    run.trace_ic = run
        .trace_ic
        .wrapping_add(u64::from(op.ic))
        .wrapping_sub(u64::from(before.ic));
    #[cfg(debug_assertions)]
    {
        s.run.dbg_pos = to.idx;
    }
    (to.f)(s, bus, to)
}

/// What RIP and the instruction count read inside a chain in debug
/// builds.
#[cfg(debug_assertions)]
const CHAIN_POISON: u64 = 0xDEAD_C0DE_DEAD_C0DE;

/// Reads the far pointer (`m16:16`, `m16:32` or `m16:64`: a `size`-byte
/// offset, then the selector) at an instruction's memory operand:
/// (selector, offset).
pub(crate) fn read_far_pointer<B: CpuBus>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
    size: u8,
) -> Res<(u16, u64)> {
    let at = s.ea(op);
    let off = s.read_sz(bus, op.seg as usize, at, size)?;
    let sel_at = at.wrapping_add(u64::from(size)) & crate::flags::mask(op.asize);
    let sel = s.read_mem::<B, 2>(bus, op.seg as usize, sel_at)?;
    Ok((sel as u16, off))
}

/// An instruction iced could not decode: #UD.
fn invalid<B: CpuBus>(_s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    Err(Fault::UD)
}

/// An instruction this CPU does not implement: #UD, counted for `--stats`.
fn unimplemented<B: CpuBus>(s: &mut CpuState, _bus: &mut B, op: &Op<B>) -> Res<()> {
    *s.stats.unimplemented.entry(op.code as u16).or_default() += 1;
    Err(Fault::UD)
}

/// Handy shorthand for handler signatures.
pub(crate) type H<B> = Option<Handler<B>>;

numbered! {
    /// Effective-address shapes, chosen at decode time for the hottest memory
    /// handlers so that their address arithmetic has no run-time branches.
    pub(crate) mod ea {
        /// Anything (16-bit forms, segment-relative 64-bit, ...): [`super::CpuState::ea`].
        GEN,
        /// 32-bit address size: base + disp.
        B32,
        /// 32-bit address size: base + index << scale + disp.
        BI32,
        /// 64-bit address size: base + disp (a flat segment: not FS or GS).
        B64,
        /// 64-bit address size: base + index << scale + disp (flat).
        BI64,
        /// 64-bit address size: RIP + disp (flat).
        RIP64,
        /// 32-bit address size: disp alone (an absolute address).
        D32,
        /// 32-bit address size: index << scale + disp (a table).
        I32,
    }
}

/// The effective-address shape of an instruction's memory operand.
pub(crate) fn ea_kind(ins: &Instruction) -> u8 {
    use iced_x86::Register as R;
    let b = ins.memory_base();
    let i = ins.memory_index();
    let code64 = ins.code_size() == iced_x86::CodeSize::Code64;
    // The 64-bit shapes are flat (no segment base on their fast path):
    // FS and GS operands, with their bases, take the general one.
    if code64 && matches!(ins.memory_segment(), R::FS | R::GS) {
        return ea::GEN;
    }
    if b == R::RIP {
        return ea::RIP64;
    }
    let gpr = |r: R| r.is_gpr32() || r.is_gpr64();
    if b == R::None && !code64 && ins.memory_displ_size() == 4 {
        // No base: an absolute address or a table index (outside 64-bit
        // mode a 32-bit address size always has a 32-bit displacement
        // here).
        if i == R::None {
            return ea::D32;
        }
        if i.is_gpr32() {
            return ea::I32;
        }
    }
    if !gpr(b) || (i != R::None && !gpr(i)) || (i != R::None && b.size() != i.size()) {
        return ea::GEN;
    }
    // The 32-bit shapes skip the mode test of the segment check, so in
    // 64-bit mode (an address-size prefix) they take the general path.
    if b.size() == 4 && code64 {
        return ea::GEN;
    }
    match (b.size(), i == R::None) {
        (4, true) => ea::B32,
        (4, false) => ea::BI32,
        (8, true) => ea::B64,
        _ => ea::BI64,
    }
}

/// Selects `f::<B, .., EA>` by the effective-address shape.
macro_rules! by_ea {
    ($ins:expr, $f:ident, $($g:expr),*) => {{
        use $crate::exec::ea::*;
        match $crate::exec::ea_kind($ins) {
            B32 => $f::<B, $($g,)* B32> as Handler<B>,
            BI32 => $f::<B, $($g,)* BI32>,
            B64 => $f::<B, $($g,)* B64>,
            BI64 => $f::<B, $($g,)* BI64>,
            RIP64 => $f::<B, $($g,)* RIP64>,
            D32 => $f::<B, $($g,)* D32>,
            I32 => $f::<B, $($g,)* I32>,
            _ => $f::<B, $($g,)* GEN>,
        }
    }};
}
pub(crate) use by_ea;

impl CpuState {
    /// The address of the byte after record `op` of the running trace.
    /// Handlers read this rather than `next_rip`, which the threaded
    /// handlers do not keep (see [`next`]); a branch's target goes to
    /// `next_rip`.
    #[inline(always)]
    pub(crate) fn next_ip<B>(&self, op: &Op<B>) -> u64 {
        op.end_at(self.run.trace_rip, self.run.trace_mask)
    }

    /// The effective address of the memory operand, for shape `EA`
    /// ([`ea`]); the shape was checked at decode time, so the base and
    /// index fields name real registers for the shapes that use them.
    #[inline(always)]
    pub(crate) fn ea_k<B, const EA: u8>(&self, op: &Op<B>) -> u64 {
        let base = || self.gpr[op.base as usize & 15];
        let index = || self.gpr[op.index as usize & 15] << (op.scale & 3);
        match EA {
            ea::B32 => base().wrapping_add(op.disp) & 0xFFFF_FFFF,
            ea::BI32 => base().wrapping_add(index()).wrapping_add(op.disp) & 0xFFFF_FFFF,
            ea::B64 => base().wrapping_add(op.disp),
            ea::BI64 => base().wrapping_add(index()).wrapping_add(op.disp),
            ea::RIP64 => self.next_ip(op).wrapping_add(op.disp),
            ea::D32 => op.disp & 0xFFFF_FFFF,
            ea::I32 => index().wrapping_add(op.disp) & 0xFFFF_FFFF,
            _ => self.ea(op),
        }
    }

    /// The effective address (offset) of the memory operand.
    #[inline(always)]
    pub(crate) fn ea<B>(&self, op: &Op<B>) -> u64 {
        let mut a = op.disp;
        if (op.base as usize) < 16 {
            a = a.wrapping_add(self.gpr[op.base as usize]);
        } else if op.base == RIPREL {
            a = a.wrapping_add(self.next_ip(op));
        }
        if op.index != NOREG {
            a = a.wrapping_add(self.gpr[op.index as usize & 15] << op.scale);
        }
        match op.asize {
            2 => a & 0xFFFF,
            4 => a & 0xFFFF_FFFF,
            _ => a,
        }
    }

    /// Reads the r/m operand: memory, or register `r`.
    #[inline(always)]
    pub(crate) fn rd_rm<B: CpuBus>(
        &mut self,
        bus: &mut B,
        op: &Op<B>,
        mem: bool,
        r: u8,
        size: u8,
    ) -> Res<u64> {
        if mem {
            // The exact count for a device, and the position for a fault.
            sync_count(self, op);
            let off = self.ea(op);
            self.read_sz(bus, op.seg as usize, off, size)
        } else {
            Ok(self.reg(r, size))
        }
    }

    /// Writes the r/m operand.
    #[inline(always)]
    pub(crate) fn wr_rm<B: CpuBus>(
        &mut self,
        bus: &mut B,
        op: &Op<B>,
        mem: bool,
        r: u8,
        size: u8,
        v: u64,
    ) -> Res<()> {
        if mem {
            sync_count(self, op);
            let off = self.ea(op);
            self.write_sz(bus, op.seg as usize, off, size, v)
        } else {
            self.set_reg(r, size, v);
            Ok(())
        }
    }

    /// Operand size for stack operations of an instruction with no explicit
    /// operand size: 16 or 32 bits by the code segment, 64 in long mode.
    #[inline]
    pub(crate) fn default_osize(&self) -> u8 {
        match self.bitness {
            64 => 8,
            32 => 4,
            _ => 2,
        }
    }
}

/// Selects `f::<B, SIZE>` for an operand size of 1, 2, 4 or 8 bytes.
macro_rules! sized {
    ($size:expr, $f:ident) => {
        match $size {
            1 => $f::<B, 1> as Handler<B>,
            2 => $f::<B, 2>,
            4 => $f::<B, 4>,
            _ => $f::<B, 8>,
        }
    };
}
pub(crate) use sized;

/// The mnemonic, for the family selectors.
pub(crate) fn mn(ins: &Instruction) -> M {
    ins.mnemonic()
}
