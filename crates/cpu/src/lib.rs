//! The anyx86 interpreter: an x86 CPU in portable Rust.
//!
//! iced-x86 decodes; everything else is ours. The CPU reaches the world
//! only through [`CpuBus`]. Decoded instructions are cached as traces keyed
//! by physical address (`decode`, `trace`), memory goes through a software
//! TLB (`mmu`) and arithmetic flags are evaluated lazily (`flags`);
//! docs/architecture.md walks through them.
//!
//! Guest faults are values (`Result<_, Fault>`), delivered in one place,
//! [`Cpu::run`]; the instruction pointer is committed only when an
//! instruction retires.
//!
//! One `unsafe` block: stepping from a trace record to the next in
//! threaded dispatch (`exec::next`).
#![deny(unsafe_code)]

// The public API: the CPU ([`Cpu`], [`CpuState`], [`RunExit`]), the bus it
// runs against ([`CpuBus`]), the architectural definitions ([`arch`]),
// the CPU models ([`cpuid`]), the x87 and SIMD state ([`fpu`], [`simd`]),
// the debugger's hooks ([`debug`]) and the conformance runner
// ([`singlestep`]). Everything else is the interpreter's own.
pub mod arch;
pub mod bus;
pub mod cpuid;
pub mod debug;
pub mod fpu;
pub mod simd;
pub mod singlestep;

mod codemap;
mod decode;
mod exec;
mod fault;
mod flags;
mod interrupt;
mod long_mode;
mod mmu;
mod segment;
mod snapshot;
mod stack;
mod state;
mod task;
mod trace;

// Entry points for the fuzz targets (`fuzz/`); not an API.
#[doc(hidden)]
pub mod fuzzing;

/// The pieces the micro-benchmarks (`benches/`) time on their own; not an
/// API.
#[doc(hidden)]
pub mod bench {
    pub use crate::decode::{build_op, Op};
    pub use crate::trace::{Trace, TraceCache};
}

pub use arch::{Mode, Segment};
pub use bus::CpuBus;
pub use decode::code_name;

/// The most instructions a run can retire past its limit: one trace's
/// worth (a record may be a fused pair), since the loop checks the limit
/// between traces.
pub const TRACE_OVERSHOOT: u64 = 2 * decode::MAX_TRACE as u64;
pub use fault::{Fault, Res};
pub use flags::{FlagOp, Lazy};
pub use interrupt::{TripleFault, NO_PROGRESS_DELIVERIES};
pub use mmu::Access;
pub use state::{CpuState, Stats};

use arch::{dr6, dr7, fl, sreg};
use decode::{build_op, ends_trace, MAX_JUMPS, MAX_TRACE};
use interrupt::Source;
use trace::{CodeContext, Trace, TraceCache};

/// Why [`Cpu::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunExit {
    /// The instruction budget was used up.
    Budget,
    /// The CPU executed HLT and waits for an interrupt.
    Halted,
    /// The bus asked the run loop to stop.
    Stopped,
    /// A triple fault: the machine must reset or stop.
    TripleFault(Fault),
    /// A debug breakpoint set by the host was hit (reserved for the
    /// debugger).
    Breakpoint,
    /// The guest makes no progress: [`interrupt::NO_PROGRESS_DELIVERIES`]
    /// deliveries in a row with no instruction retired; this vector was
    /// the last (CS:RIP is where the storm sits).
    NoProgress(u8),
}

/// How [`Cpu::run_records`] ended.
enum Records {
    /// The trace ran to its end, or an instruction ended it, or a fault
    /// was delivered.
    Done,
    /// The debugger's check said stop (before the instruction).
    Stopped,
    /// The next record is a fused pair: single-step it.
    Fused,
}

/// An x86 CPU, generic over the bus it is attached to.
pub struct Cpu<B: CpuBus> {
    /// Architectural state.
    pub s: CpuState,
    cache: TraceCache<B>,
    /// CPUID identity and features.
    pub model: cpuid::CpuModel,
    /// The records of the trace being built (kept to reuse its
    /// allocation: code that rewrites itself builds traces all the time).
    scratch: Vec<decode::Op<B>>,
    /// Builds traces whose records never chain: each returns to the run
    /// loop, which keeps RIP and the instruction count exact between them.
    /// Slower; for the differential tests of threaded dispatch (set it
    /// before running, or call [`Cpu::flush_code_cache`] after).
    pub unthreaded: bool,
    /// The CPL the traces of the last [`Cpu::run_trace`] call ran at: the
    /// first transition of the next call changes the CPL when it differs
    /// (for `--stats`; the CPL cannot change inside a call, since every CS
    /// load ends it).
    last_cpl: u8,
    /// The trace the last [`Cpu::run_trace`] call ran last: the next
    /// call's first transition follows its links, so a CS load (which
    /// ends a call) does not cost a lookup when it goes where it went
    /// before.
    prev: Option<usize>,
}

impl<B: CpuBus> Cpu<B> {
    /// A CPU in its power-on state.
    pub fn new(model: cpuid::CpuModel) -> Self {
        Self {
            s: CpuState::new(model.clone()),
            cache: TraceCache::default(),
            model,
            scratch: Vec::with_capacity(MAX_TRACE),
            unthreaded: false,
            last_cpl: 0,
            prev: None,
        }
    }

    /// RESET: the power-on state again (the caches are dropped).
    pub fn reset(&mut self) {
        self.s = CpuState::new(self.model.clone());
        self.cache.clear();
        self.prev = None;
    }

    /// Drops all decoded code (after the host changed guest memory).
    pub fn flush_code_cache(&mut self) {
        self.cache.clear();
        self.prev = None;
        self.s.code.clear();
        self.s.tlb.flush_all();
    }

    /// Replaces the architectural state with a snapshot's (see
    /// [`CpuState::load_arch`]) and drops every decoded trace. Call
    /// [`Cpu::load_finish`] once the bus is restored too.
    pub fn load_state(
        &mut self,
        r: &mut anyx86_hw::wire::Reader<'_>,
    ) -> Result<(), anyx86_hw::wire::WireError> {
        self.cache.clear();
        self.prev = None;
        self.s.load_arch(r)
    }

    /// After a snapshot was loaded into the bus: takes its A20 mask and
    /// memory-map generation.
    pub fn load_finish(&mut self, bus: &B) {
        self.s.a20_mask = bus.a20_mask();
        self.s.map_gen = bus.map_generation();
    }

    /// Trace cache hits and misses.
    pub fn cache_stats(&self) -> (u64, u64) {
        (self.cache.hits, self.cache.misses)
    }

    /// Runs until `budget` more instructions have retired, the CPU halts,
    /// the bus asks to stop, or a triple fault.
    ///
    /// `budget` counts [`CpuState::work`]: retired instructions, and
    /// deliveries and REP iterations that retire nothing, so an exception
    /// storm or a huge REP count returns within its budget like any loop.
    pub fn run(&mut self, bus: &mut B, budget: u64) -> RunExit {
        self.run_loop::<false>(bus, budget, &mut |_, _, _| false)
    }

    /// The run loop of [`Cpu::run`] and [`Cpu::run_checked`]. With
    /// `CHECKED`, `check` is asked before every instruction (each runs as a
    /// record of its own) and a watchpoint hit stops the loop; without it,
    /// `check` is never called and traces run threaded.
    #[inline(always)]
    pub(crate) fn run_loop<const CHECKED: bool>(
        &mut self,
        bus: &mut B,
        budget: u64,
        check: debug::InsnCheck<'_, B>,
    ) -> RunExit {
        let until = self.s.icount.saturating_add(budget);
        let extra0 = self.s.extra_work;
        self.s.a20_mask = bus.a20_mask();
        loop {
            if !self.s.smc_pages.is_empty() {
                self.drop_written_code();
            }
            if bus.stop_requested() {
                return RunExit::Stopped;
            }
            if CHECKED && self.s.watch.hit.is_some() {
                return RunExit::Breakpoint;
            }
            if let Err(t) = self.check_interrupts(bus) {
                return RunExit::TripleFault(t.last);
            }
            if let Some(v) = self.s.progress.stuck.take() {
                return RunExit::NoProgress(v);
            }
            if self.s.halted {
                return RunExit::Halted;
            }
            // Work that retired nothing moves the end closer.
            let until = until.saturating_sub(self.s.extra_work.wrapping_sub(extra0));
            if self.s.icount >= until {
                return RunExit::Budget;
            }
            // One instruction at a time while single-stepping, with debug
            // registers armed, or inside an STI / MOV SS interrupt shadow
            // (so a pending interrupt is taken right after the shadowed
            // instruction, not at the end of the next trace).
            let single = self.s.flags & (fl::TF | fl::RF) != 0
                || self.s.dr[7] & dr7::ENABLES != 0
                || self.s.icount < self.s.inhibit_until;
            let r = if single {
                self.step_checked::<CHECKED>(bus, check)
            } else {
                self.run_trace::<CHECKED>(bus, until, check)
            };
            match r {
                Ok(false) => {}
                Ok(true) => return RunExit::Breakpoint,
                Err(t) => return RunExit::TripleFault(t.last),
            }
        }
    }

    /// Executes exactly one instruction (or delivers one pending
    /// interrupt). Used by single-stepping and the debugger.
    pub fn step(&mut self, bus: &mut B) -> RunExit {
        self.step_with::<true>(bus)
    }

    /// One instruction, after taking a pending interrupt when `IRQ`.
    pub(crate) fn step_with<const IRQ: bool>(&mut self, bus: &mut B) -> RunExit {
        self.s.a20_mask = bus.a20_mask();
        if !self.s.smc_pages.is_empty() {
            self.drop_written_code();
        }
        if IRQ {
            if let Err(t) = self.check_interrupts(bus) {
                return RunExit::TripleFault(t.last);
            }
        }
        if self.s.halted {
            return RunExit::Halted;
        }
        match self.step_one(bus) {
            Ok(()) => RunExit::Budget,
            Err(t) => RunExit::TripleFault(t.last),
        }
    }

    /// [`Cpu::step_one`], asking `check` first when `CHECKED`: true when
    /// it said stop.
    fn step_checked<const CHECKED: bool>(
        &mut self,
        bus: &mut B,
        check: debug::InsnCheck<'_, B>,
    ) -> Result<bool, TripleFault> {
        if CHECKED {
            let id = match self.lookup(bus) {
                Ok(id) => id,
                Err(f) => return self.s.raise(bus, f).map(|()| false),
            };
            if let Some(t) = self.cache.trace(id) {
                if check(&self.s, bus, t.phys) {
                    return Ok(true);
                }
            }
        }
        self.step_one(bus).map(|()| false)
    }

    /// Asks `check` about the instruction at RIP, as the checked run loop
    /// does before it; for a step taken outside that loop (a replayed
    /// debugger step). False when the instruction cannot be fetched.
    pub fn check_here(&mut self, bus: &mut B, check: debug::InsnCheck<'_, B>) -> bool {
        match self.lookup(bus) {
            Ok(id) => self
                .cache
                .trace(id)
                .is_some_and(|t| check(&self.s, bus, t.phys)),
            Err(_) => false,
        }
    }

    fn check_interrupts(&mut self, bus: &mut B) -> Result<(), TripleFault> {
        let s = &mut self.s;
        // NMI: not maskable by IF, blocked from delivery until IRET, and
        // held off by the STI / MOV SS shadow like INTR.
        if bus.nmi_pending() && !s.nmi_blocked && s.icount >= s.inhibit_until {
            bus.acknowledge_nmi();
            s.nmi_blocked = true;
            s.halted = false;
            s.stats.interrupts += 1;
            s.count_delivery(fault::vector::NMI);
            let ret = s.rip;
            if let Err(f) = s.deliver(bus, fault::vector::NMI, None, ret, Source::External) {
                return s.raise(bus, f);
            }
            return Ok(());
        }
        if s.flags & fl::IF != 0 && s.icount >= s.inhibit_until && bus.interrupt_pending() {
            let v = bus.acknowledge_interrupt(s.icount);
            s.halted = false;
            s.stats.interrupts += 1;
            s.count_delivery(v);
            let ret = s.rip;
            if let Err(f) = s.deliver(bus, v, None, ret, Source::External) {
                return s.raise(bus, f);
            }
        }
        Ok(())
    }

    fn drop_written_code(&mut self) {
        let pages = std::mem::take(&mut self.s.smc_pages);
        if pages.contains(&state::FLUSH_ALL_CODE) {
            self.flush_code_cache();
            return;
        }
        for p in pages {
            self.cache.invalidate_page(p);
            self.s.stats.smc_invalidations += 1;
        }
    }

    /// Finds or builds the trace at CS:rip.
    fn lookup(&mut self, bus: &mut B) -> Result<usize, Fault> {
        let s = &mut self.s;
        let cs = s.seg[sreg::CS];
        if s.rip > u64::from(cs.limit) && s.bitness != 64 {
            return Err(Fault::GP0);
        }
        let lin = s.wrap_lin(cs.base.wrapping_add(s.rip));
        let (hint_lin, hint_phys, hint_user) = s.tlb.exec_hint;
        let phys = if hint_lin == lin & !0xFFF && hint_user == s.tlb.user {
            hint_phys | (lin & 0xFFF)
        } else {
            let p = s.translate(bus, lin, Access::Exec)?;
            s.tlb.exec_hint = (lin & !0xFFF, p & !0xFFF, s.tlb.user);
            p
        };
        if let Some(id) = self.cache.get(phys, s.bitness) {
            self.cache.hits += 1;
            return Ok(id);
        }
        self.cache.misses += 1;
        self.build_trace(bus, lin, phys)
    }

    /// [`Cpu::lookup`] for a trace transition that followed no link,
    /// counted for `--stats` (`cross`: it changes the CPL).
    #[inline]
    fn lookup_counted(&mut self, bus: &mut B, cross: bool) -> Result<usize, Fault> {
        self.s.stats.unchained += 1;
        self.s.stats.cpl_changes_unchained += u64::from(cross);
        self.lookup(bus)
    }

    fn build_trace(&mut self, bus: &mut B, lin: u64, phys: u64) -> Result<usize, Fault> {
        let s = &mut self.s;
        let mut ops = std::mem::take(&mut self.scratch);
        ops.clear();
        let mut pages = [phys & !0xFFF, 0];
        let mut n_pages = 1;
        let rip0 = s.rip;
        let mut ip = rip0;
        let mut l = lin;
        let bitness = s.bitness;
        let mut prev_ins = None;
        // The bytes decoded into the trace, as offsets in the first page:
        // one range, or several joined by jumps the trace goes through
        // (marked as their hull); `hi` passes 0x1000 when the last
        // instruction runs into the next page.
        let (mut lo, mut hi) = (phys & 0xFFF, phys & 0xFFF);
        // The last byte of the trace, as an offset from its start: what
        // must fit below the CS limit.
        let mut extent = 0i64;
        let mut jumps = 0;
        // The Jcc records (alone or fused) and their targets.
        let mut branches: Vec<(usize, u64)> = Vec::new();
        loop {
            let (ins, _p0, p1) = match s.decode_at(bus, l, ip) {
                Ok(x) => x,
                Err(f) if ops.is_empty() => return Err(f),
                Err(_) => break,
            };
            let len = ins.len() as u64;
            // A record's end, as an offset from the trace's start (see
            // `Op::end`).
            let end = ip.wrapping_add(len).wrapping_sub(rip0) as u16;
            // A Jcc does not end the trace: its fall-through path goes on
            // in the same trace and a taken branch leaves by a side exit.
            let side = exec::select_side_exit::<B>(&ins);
            // A CMP/TEST + Jcc pair becomes one record.
            let fused = match (&prev_ins, ops.last()) {
                (Some(p), Some(last)) if side.is_some() => exec::fuse::<B>(p, last, &ins),
                _ => None,
            };
            // A direct JMP or CALL to the same page goes on at its target.
            let through = if side.is_none()
                && fused.is_none()
                && p1.is_none()
                && jumps < MAX_JUMPS
                && ops.len() + 1 < MAX_TRACE
            {
                exec::select_through::<B>(&ins).and_then(|f| {
                    let target = ins.near_branch_target();
                    let t_lin = s.wrap_lin(s.seg[sreg::CS].base.wrapping_add(target));
                    let same_page = t_lin & !0xFFF == lin & !0xFFF;
                    let d = target.wrapping_sub(rip0) as i64;
                    let consistent = (t_lin & 0xFFF) as i64 - (lin & 0xFFF) as i64 == d;
                    (same_page && consistent && target != rip0).then_some((f, target, t_lin))
                })
            } else {
                None
            };
            if let Some(mut op) = fused {
                op.end = end;
                *ops.last_mut().expect("fused with the last record") = op;
                prev_ins = None;
            } else {
                let pick = match through {
                    Some((f, _, _)) => exec::hot(f),
                    None => side.unwrap_or_else(|| exec::select::<B>(&ins)),
                };
                let mut op = build_op(&ins, pick.f);
                op.hot = pick.threaded;
                op.end = end;
                ops.push(op);
                prev_ins = Some(ins);
            }
            if side.is_some() {
                branches.push((ops.len() - 1, ins.near_branch_target()));
            }
            let po = l & 0xFFF;
            lo = lo.min(po);
            hi = hi.max(po + len);
            extent = extent.max(i64::from(end as i16));
            if let Some(p) = p1 {
                pages[1] = p;
                n_pages = 2;
                break;
            }
            if let Some((_, target, t_lin)) = through {
                jumps += 1;
                ip = target;
                l = t_lin;
                prev_ins = None;
                continue;
            }
            if (side.is_none() && ends_trace(&ins)) || ops.len() >= MAX_TRACE || ins.is_invalid() {
                break;
            }
            ip = ip.wrapping_add(len);
            l = s.wrap_lin(l.wrapping_add(len));
            if l & 0xFFF == 0 {
                break;
            }
        }
        if self.cache.is_full() {
            // The insert below empties the cache: no code is left to
            // protect, and the map stays as small as the cache.
            s.code.clear();
        }
        if bus.page_is_ram(phys) {
            s.mark_code(pages[0] | lo, hi.min(0x1000) - lo);
        }
        if n_pages == 2 {
            let p1 = pages[1];
            if bus.page_is_ram(p1) {
                s.mark_code(p1, hi - 0x1000);
            }
        }
        s.stats.traces_built += 1;
        let bytes = extent as u32;
        // Memory references and instruction counts become running totals
        // (see `Op::mref`, `Op::ic`); each record learns its place.
        let (mut refs, mut ic) = (0u8, 0u8);
        let n_ops = ops.len();
        // A Jcc whose target is the start of a later threaded record goes
        // on there when taken (`exec::land`).
        for &(j, target) in &branches {
            let landing = (j + 1..n_ops).find(|&k| {
                let o = &ops[k];
                o.hot && o.start_at(rip0, u64::MAX) == target
            });
            if let Some(k) = landing {
                ops[j].imm2 = (k + 1) as u16;
            }
        }
        for i in 0..n_ops {
            let next_hot = ops.get(i + 1).is_some_and(|o: &decode::Op<B>| o.hot);
            let op = &mut ops[i];
            refs = refs.saturating_add(op.mref);
            op.mref = refs;
            ic += op.n;
            op.ic = ic;
            op.idx = i as u8;
            op.last = i + 1 == n_ops;
            op.chain = op.hot && next_hot && !self.unthreaded;
        }
        let t = Trace {
            phys,
            bitness,
            bytes,
            ops: ops.as_slice().into(),
        };
        ops.clear();
        self.scratch = ops;
        Ok(self.cache.insert(t, &pages[..n_pages]))
    }

    /// Runs traces back to back until `until` instructions have retired
    /// or an instruction asks to leave (`break_trace`: mode, IF, I/O, code
    /// writes, faults). A trace may overshoot `until` by its own length:
    /// devices still see exact times, because every I/O access carries its
    /// instruction count.
    ///
    /// With `CHECKED`, each trace runs one record at a time, `check` asked
    /// before each; true when it said stop.
    fn run_trace<const CHECKED: bool>(
        &mut self,
        bus: &mut B,
        until: u64,
        check: debug::InsnCheck<'_, B>,
    ) -> Result<bool, TripleFault> {
        // The `--stats` counters of the loop live in locals (registers)
        // and reach `stats` once per call.
        let mut counts = (0u64, 0u64);
        let cross = self.s.cpl != self.last_cpl;
        self.last_cpl = self.s.cpl;
        self.s.stats.cpl_changes += u64::from(cross);
        // Taken from the state as it is, not cached when CS is loaded:
        // the debugger and the boot loader write CS directly.
        let s = &self.s;
        let ctx = self.cache.context(CodeContext {
            base: s.seg[sreg::CS].base,
            limit: s.seg[sreg::CS].limit,
            bitness: s.bitness,
            cpl: s.cpl,
            mode: s.mode,
        });
        let r = self.run_traces::<CHECKED>(bus, until, check, cross, ctx, &mut counts);
        self.s.run.hop_until = 0;
        self.s.stats.chained += counts.0;
        self.s.stats.mem_refs += counts.1;
        r
    }

    #[inline(always)]
    fn run_traces<const CHECKED: bool>(
        &mut self,
        bus: &mut B,
        until: u64,
        check: debug::InsnCheck<'_, B>,
        cross: bool,
        ctx: u32,
        counts: &mut (u64, u64),
    ) -> Result<bool, TripleFault> {
        let (mut chained_n, mut refs) = (0u64, 0u64);
        let mut prev = self.prev;
        macro_rules! out {
            ($e:expr) => {{
                *counts = (chained_n, refs);
                self.prev = prev;
                return $e;
            }};
        }
        self.s.run.break_trace = false;
        self.s.run.side_exit = false;
        self.s.run.leave_loop = false;
        // RIP and the instruction count live in locals across traces as
        // well as in `CpuState` (stored, never read back here): a trace
        // transition then waits on no store-to-load round trip.
        let mut rip = self.s.rip;
        let mut ic = self.s.icount;
        // Only the call's first transition can change the CPL (`cross`):
        // the only one made before any instruction retired.
        let ic_entry = ic;
        // The IP mask and the CS limit, like `ctx`, cannot change inside
        // the call (a CS load or a mode change ends it). A trace fits when
        // its last byte is within the limit (always in 64-bit mode).
        let mask = self.s.ip_mask();
        let end_limit = if self.s.bitness == 64 {
            u64::MAX
        } else {
            u64::from(self.s.seg[sreg::CS].limit) + 1
        };
        // Hops (`exec::side_exit`) make the chained transitions below
        // from inside the handlers; `Cpu::unthreaded` turns them off too.
        let hop_until = if self.unthreaded { 0 } else { until };
        self.s.run.hop_end_limit = end_limit;
        self.s.run.land_until = until;
        self.s.run.hop_ctx = ctx;
        self.s.run.hops = 0;
        self.s.run.lands = 0;
        self.s.run.hop_refs = 0;
        'traces: while ic < until {
            // Links are valid in the code context they were made in
            // (`ctx`: CS, CPL, mode; it cannot change inside the call,
            // since a CS load ends it) while no TLB flush or trace drop
            // happened.
            let epoch = self.cache.link_epoch(self.s.tlb.epoch);
            let chained = prev.and_then(|p| self.cache.successor(p, rip, ctx, epoch));
            let id = match chained {
                Some(id) => {
                    chained_n += 1;
                    id
                }
                None => match self.lookup_counted(bus, cross && ic == ic_entry) {
                    Ok(id) => {
                        if let Some(p) = prev {
                            // Only link when nothing was flushed meanwhile
                            // (a miss may have decoded and freed traces).
                            if self.cache.link_epoch(self.s.tlb.epoch) == epoch {
                                self.cache.chain(p, rip, id, ctx, epoch);
                                self.cache.remember(rip, id, ctx, epoch);
                            }
                        }
                        id
                    }
                    Err(f) => out!(self.s.raise(bus, f).map(|()| false)),
                },
            };
            prev = Some(id);
            let Some(mut t) = self.cache.trace(id) else {
                out!(Ok(false));
            };
            let s = &mut self.s;
            let fits = rip.wrapping_add(u64::from(t.bytes)) <= end_limit;
            // A lookup that decoded a trace may have asked to leave (its
            // page walk wrote into a page of code): that trace's first
            // record runs by itself, then the loop leaves, as the
            // handlers' fast paths (`exec::next_fast`) no longer check.
            if CHECKED || !fits || s.run.break_trace {
                s.run.hop_until = 0;
                match Self::run_records::<CHECKED>(s, bus, &t.ops, t.phys, until, check) {
                    Ok(Records::Done) => out!(Ok(false)),
                    Ok(Records::Stopped) => out!(Ok(true)),
                    Ok(Records::Fused) => out!(self.step_one(bus).map(|()| false)),
                    Err(t) => out!(Err(t)),
                }
            }
            // Threaded dispatch: the loop starts a record and, while the
            // records are threaded handlers (`exec::Pick`), each goes straight
            // on with the next (`exec::next`); the others return here and the
            // loop starts the record after them. `s.run.pos` is where a chain
            // stopped. Inside a chain `rip` and `icount` are not kept up to
            // date (threaded handlers use neither); the loop sets them before
            // each record it starts and whenever a chain returns.
            s.run.trace_rip = rip;
            s.run.trace_mask = mask;
            s.run.trace_ic = ic;
            s.run.hop_cache = &self.cache as *const trace::TraceCache<B> as usize;
            s.run.hop_cur = id;
            s.run.hop_first = t.ops.as_ptr() as usize;
            s.run.hop_epoch = s.tlb.epoch;
            s.run.hop_until = hop_until;
            let (mut rip0, mut ic0) = (rip, ic);
            let mut i = 0;
            loop {
                // `s.rip` and `s.icount` are this record's start: the
                // trace's for the first, set below for the others.
                let first = &t.ops[i];
                let mut first_idx = first.idx;
                s.run.pos = first.idx;
                #[cfg(debug_assertions)]
                {
                    s.run.dbg_pos = first.idx;
                }
                s.next_rip = first.end_at(rip0, mask);
                let r = (first.f)(s, bus, first);
                if s.run.hops != 0 {
                    // The chain hopped to linked traces: go on with the
                    // one it stopped in.
                    let hops = std::mem::take(&mut s.run.hops);
                    chained_n += u64::from(hops - std::mem::take(&mut s.run.lands));
                    refs += std::mem::take(&mut s.run.hop_refs);
                    let cur = s.run.hop_cur;
                    prev = Some(cur);
                    let Some(nt) = self.cache.trace(cur) else {
                        out!(Ok(false));
                    };
                    t = nt;
                    rip0 = s.run.trace_rip;
                    ic0 = s.run.trace_ic;
                    first_idx = 0;
                }
                #[cfg(debug_assertions)]
                if s.run.pos != s.run.dbg_pos {
                    panic!(
                        "{:?} (position {}) returned to the run loop ({:?}) without \
                         storing its position",
                        t.ops[usize::from(s.run.dbg_pos)].code,
                        s.run.dbg_pos,
                        r
                    );
                }
                let op = &t.ops[usize::from(s.run.pos)];
                match r {
                    Ok(()) => {
                        ic = ic0.wrapping_add(u64::from(op.ic));
                        s.icount = ic;
                        if s.run.break_trace {
                            // A taken branch left its target in
                            // `next_rip`, as did any record the loop
                            // started; a threaded one started inside the
                            // chain did not keep it: the next record's
                            // start (a JMP or CALL the trace goes
                            // through ends elsewhere), or its own end.
                            rip = if s.run.side_exit || !op.hot {
                                s.next_rip
                            } else if op.last {
                                op.end_at(rip0, mask)
                            } else {
                                t.ops[usize::from(op.idx) + 1].start_at(rip0, mask)
                            };
                            s.rip = rip;
                            refs += u64::from(op.mref);
                            if s.run.side_exit {
                                // A taken Jcc inside the trace, or a near
                                // transfer at its end: go on at the
                                // target (chained like a trace end).
                                s.run.side_exit = false;
                                s.run.break_trace = false;
                                if !std::mem::take(&mut s.run.leave_loop) {
                                    continue 'traces;
                                }
                            }
                            out!(Ok(false));
                        }
                        if op.last {
                            // The last instruction may have been a control
                            // transfer (never a threaded one: those, like
                            // a taken Jcc, leave by a side exit above).
                            rip = if op.hot {
                                op.end_at(rip0, mask)
                            } else {
                                s.next_rip
                            };
                            s.rip = rip;
                            refs += u64::from(op.mref);
                            break;
                        }
                        // The next record goes on after `ic` instructions
                        // (`s.icount` holds it), at its own start: where
                        // this one ends, or a JMP or CALL's target.
                        i = usize::from(op.idx) + 1;
                        s.rip = t.ops[i].start_at(rip0, mask);
                    }
                    Err(f) => {
                        if op.idx != first_idx {
                            // A record started inside the chain: its RIP
                            // and count were not set.
                            exec::sync_to(s, op);
                        }
                        if std::mem::take(&mut s.run.fused_fault) {
                            // A fused pair whose Jcc faulted: the CMP/TEST
                            // retired.
                            s.rip = s.rip.wrapping_add(u64::from(op.len1)) & mask;
                            s.icount += 1;
                        }
                        out!(s.raise(bus, f).map(|()| false))
                    }
                }
            }
        }
        out!(Ok(false))
    }

    /// Runs a trace one record at a time, each retired on its own (see
    /// [`exec::retire_alone`]): for a trace that may run past the CS limit
    /// (each instruction is checked before it executes: #GP(0) when it
    /// does not fit), and with `CHECKED` for the debugger, which asks
    /// `check` before each instruction (`phys0` is the trace's physical
    /// address). Stops at `until`, when an instruction ends the trace, and
    /// before a fused record: the caller single-steps that one, so each of
    /// its two instructions gets its own checks.
    #[inline(never)]
    fn run_records<const CHECKED: bool>(
        s: &mut CpuState,
        bus: &mut B,
        ops: &[decode::Op<B>],
        phys0: u64,
        until: u64,
        check: debug::InsnCheck<'_, B>,
    ) -> Result<Records, TripleFault> {
        let limit = u64::from(s.seg[sreg::CS].limit);
        let rip0 = s.rip;
        for op in ops {
            if CHECKED && check(s, bus, phys0.wrapping_add(s.rip.wrapping_sub(rip0))) {
                return Ok(Records::Stopped);
            }
            if op.n != 1 {
                return Ok(Records::Fused);
            }
            if s.bitness != 64 && s.rip.wrapping_add(u64::from(op.len) - 1) > limit {
                return s.raise(bus, Fault::GP0).map(|()| Records::Done);
            }
            match exec::retire_alone(s, bus, op) {
                Ok(()) if s.run.break_trace || s.icount >= until => break,
                Ok(()) => {}
                Err(f) => return s.raise(bus, f).map(|()| Records::Done),
            }
        }
        Ok(Records::Done)
    }

    fn step_one(&mut self, bus: &mut B) -> Result<(), TripleFault> {
        let id = match self.lookup(bus) {
            Ok(id) => id,
            Err(f) => return self.s.raise(bus, f),
        };
        let Some(t) = self.cache.trace(id) else {
            return Ok(());
        };
        let op = t.ops[0];
        let s = &mut self.s;
        // A fused CMP/TEST + Jcc record is two instructions: decode the
        // first on its own.
        let op = if op.n == 1 {
            op
        } else {
            let lin = s.wrap_lin(s.seg[sreg::CS].base.wrapping_add(s.rip));
            match s.decode_at(bus, lin, s.rip) {
                Ok((ins, _, _)) => build_op(&ins, exec::select::<B>(&ins).f),
                Err(f) => return s.raise(bus, f),
            }
        };
        let tf = s.flags & fl::TF != 0;
        // Instruction breakpoints (DR0-DR3 with R/W = 00) are faults, taken
        // before the instruction unless RF suppresses them (SDM Vol. 3,
        // 17.3.1.1). On the instruction after MOV SS / POP SS an Intel CPU
        // drops them "as if EFLAGS.RF were 1" (same section); AMD reports
        // them (KVM makes the same split by vendor).
        let shadowed = s.mov_ss_shadow && !s.amd();
        if s.dr[7] & dr7::ENABLES != 0 && s.flags & fl::RF == 0 && !shadowed {
            let lin = s.wrap_lin(s.seg[sreg::CS].base.wrapping_add(s.rip));
            let hits = s.exec_breakpoint_hits(lin);
            if hits != 0 {
                // The frame keeps RF as it is (0): the one fault whose
                // pushed RF is not 1; the handler sets it to go on.
                return s.debug_exception(bus, hits, dr6::B_MASK);
            }
        }
        let end = s.rip.wrapping_add(u64::from(op.len) - 1);
        if end > u64::from(s.seg[sreg::CS].limit) && s.bitness != 64 {
            return s.raise(bus, Fault::GP0);
        }
        // RF is cleared at the start of the instruction, after the checks
        // for instruction breakpoints and CS limit (SDM Vol. 3, 17.3.1.1);
        // a REP instruction stopping between iterations sets it again.
        s.flags &= !fl::RF;
        s.run.break_trace = false;
        s.mov_ss_shadow = false;
        s.step_on_new_tf = false;
        match exec::retire_alone(s, bus, &op) {
            Ok(()) => {
                s.stats.mem_refs += u64::from(op.mref);
                // The single-step trap follows the TF the instruction
                // started with, except after software interrupts, SYSCALL
                // and SYSRET (`step_on_new_tf`), and is held off one
                // instruction by MOV SS / POP SS. Data breakpoint hits
                // (pending_db) are reported in the same #DB.
                let data_hits = std::mem::take(&mut s.pending_db);
                let tf = if s.step_on_new_tf {
                    s.flags & fl::TF != 0
                } else {
                    tf
                };
                let step = if tf && !s.mov_ss_shadow { dr6::BS } else { 0 };
                if step | data_hits != 0 {
                    let clear = if data_hits != 0 { dr6::B_MASK } else { 0 };
                    return s.debug_exception(bus, data_hits | step, clear);
                }
                Ok(())
            }
            Err(f) => {
                // The instruction will run again: its accesses count then.
                s.pending_db = 0;
                s.raise(bus, f)
            }
        }
    }
}

impl CpuState {
    /// Delivers a #DB raised by the debug logic (breakpoint or single-step
    /// conditions), returning to `rip`: DR6 gets `bits` after the bits in
    /// `clear` are cleared, and DR7.GD is cleared for the handler (SDM
    /// Vol. 3, 17.2.4).
    fn debug_exception<B: CpuBus>(
        &mut self,
        bus: &mut B,
        bits: u64,
        clear: u64,
    ) -> Result<(), TripleFault> {
        self.dr[6] = (self.dr[6] & !clear) | bits;
        self.dr[7] &= !dr7::GD;
        self.count_delivery(fault::vector::DB);
        let ret = self.rip;
        match self.deliver(bus, fault::vector::DB, None, ret, Source::Exception) {
            Ok(()) => Ok(()),
            Err(f) => self.raise(bus, f),
        }
    }
}

impl CpuState {
    /// DR6 B0-B3 bits of the enabled instruction breakpoints at `lin`.
    fn exec_breakpoint_hits(&self, lin: u64) -> u64 {
        let dr7 = self.dr[7];
        let mut hits = 0;
        for i in 0..4 {
            let enabled = (dr7 >> (2 * i)) & 3 != 0;
            let rw = (dr7 >> (16 + 4 * i)) & 3;
            if enabled && rw == 0 && self.wrap_lin(self.dr[i]) == lin {
                hits |= 1 << i;
            }
        }
        hits
    }
}
