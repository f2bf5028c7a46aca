//! The trace cache: decoded traces keyed by physical address.
//!
//! A trace is a run of instructions from one code page, ending at a control
//! transfer, a page end or [`MAX_TRACE`](crate::decode::MAX_TRACE)
//! instructions, as [`Op`] records. Traces are keyed by the physical
//! address of their first byte and the decode bitness; writes to a page
//! that holds code drop the page's traces, and each trace keeps links to
//! the traces that followed it.
//!
//! A link holds under a code context ([`CodeContext`]: what turns a RIP
//! into a physical address and a decode bitness) and an epoch (bumped by
//! TLB flushes and trace drops), so links made in the kernel still hold
//! after a round trip to user mode. A small jump cache keyed by RIP, under
//! the same context and epoch, answers the transitions a trace's own
//! links miss (an indirect jump with many targets).

use crate::arch::Mode;
use crate::decode::Op;
use std::collections::HashMap;

/// What a chain link from one trace to the next depends on besides the
/// TLB and the cache's contents: the CS base and limit (RIP to linear
/// address, and the limit check the lookup made), the decode bitness, the
/// CPL (the TLB's user/supervisor check) and the mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeContext {
    /// CS base.
    pub base: u64,
    /// CS limit.
    pub limit: u32,
    /// Decode bitness.
    pub bitness: u32,
    /// Current privilege level.
    pub cpl: u8,
    /// Execution mode.
    pub mode: Mode,
}

/// Code contexts seen lately, each with a number that links carry:
/// comparing one number is cheaper than comparing a [`CodeContext`].
/// Numbers are never reused: a context that falls out of the table and
/// comes back gets a new one, so an old link never matches it.
struct Contexts {
    /// Most recently used first.
    recent: [(CodeContext, u32); CONTEXTS],
    /// Entries of `recent` in use.
    len: usize,
    /// The number the next new context gets.
    next: u32,
}

/// Code contexts remembered: a kernel and its user mode need two, code
/// that hops between real-mode segments a few more.
const CONTEXTS: usize = 8;

/// A link that matches nothing.
const NO_LINK: Link = Link {
    rip: u64::MAX,
    id: 0,
    ctx: u32::MAX,
    epoch: u64::MAX,
};

/// A chain link: at `rip`, under code context `ctx` and `epoch`, the next
/// trace is `id`.
#[derive(Clone, Copy)]
struct Link {
    rip: u64,
    id: u32,
    ctx: u32,
    epoch: u64,
}

impl Link {
    /// The linked trace, if the link is for `rip` and holds under `ctx`
    /// and `epoch`.
    #[inline(always)]
    fn to(&self, rip: u64, ctx: u32, epoch: u64) -> Option<usize> {
        (self.rip == rip && self.ctx == ctx && self.epoch == epoch).then_some(self.id as usize)
    }
}

/// A cached trace.
pub struct Trace<B> {
    /// Physical address of the first byte.
    pub phys: u64,
    /// Decode bitness.
    pub bitness: u32,
    /// Total length of the instructions in bytes.
    pub bytes: u32,
    /// The instructions.
    pub ops: Box<[Op<B>]>,
}

/// A small, fast hasher for trace keys (physical addresses are already
/// well spread; SipHash's DoS resistance buys nothing here).
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7CC1_B727_220A);
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<KeyHasher>>;

/// Entries of the direct-mapped front of the trace cache.
const FAST_SIZE: usize = 1 << 14;
const FAST_EMPTY: (u64, u32) = (u64::MAX, 0);

#[inline(always)]
fn fast_key(phys: u64, bitness: u32) -> u64 {
    phys | (u64::from(bitness) << 56)
}

#[inline(always)]
fn fast_slot(phys: u64) -> usize {
    ((phys ^ (phys >> 14)) as usize) & (FAST_SIZE - 1)
}

/// Trace cache: physical address + bitness → trace. A direct-mapped array
/// answers most lookups with one compare; the hash map behind it holds
/// everything.
pub struct TraceCache<B> {
    fast: Vec<(u64, u32)>,
    map: FastMap<(u64, u32), usize>,
    traces: Vec<Option<Trace<B>>>,
    free: Vec<usize>,
    by_page: FastMap<u64, Vec<usize>>,
    /// Per trace id: the pages it is listed under in `by_page`, so that
    /// dropping it for one page also unlists it from the other (a trace
    /// ending in an instruction that straddles a page): stale ids would
    /// pile up under self-modifying code and drop unrelated traces that
    /// reused the id.
    pages: Vec<Vec<u64>>,
    /// Per trace id: the last [`SUCC`] successors seen, most recent first
    /// (a trace has a successor per side exit and per return site).
    succ: Vec<[Link; SUCC]>,
    /// The jump cache: the trace last found at a RIP, direct-mapped by
    /// RIP, under a code context and epoch like a link. It answers the
    /// transitions a trace's own links miss: an indirect jump or a return
    /// with more targets than [`SUCC`] (an interpreter's switch).
    jump: Box<[Link]>,
    /// Numbers for the code contexts links are made under.
    contexts: Contexts,
    /// Bumped whenever traces are dropped (their ids may be reused).
    pub generation: u64,
    /// Lookups that found a trace.
    pub hits: u64,
    /// Lookups that had to decode.
    pub misses: u64,
}

impl<B> Default for TraceCache<B> {
    fn default() -> Self {
        Self {
            fast: vec![FAST_EMPTY; FAST_SIZE],
            map: FastMap::default(),
            traces: Vec::new(),
            free: Vec::new(),
            by_page: FastMap::default(),
            pages: Vec::new(),
            succ: Vec::new(),
            jump: vec![NO_LINK; JUMP_SIZE].into_boxed_slice(),
            contexts: Contexts {
                recent: [(
                    CodeContext {
                        base: 0,
                        limit: 0,
                        bitness: 0,
                        cpl: 0,
                        mode: Mode::Real,
                    },
                    u32::MAX,
                ); CONTEXTS],
                len: 0,
                next: 0,
            },
            generation: 0,
            hits: 0,
            misses: 0,
        }
    }
}

/// Successor links kept per trace.
const SUCC: usize = 4;

/// Entries of the jump cache.
const JUMP_SIZE: usize = 1 << 10;

#[inline(always)]
fn jump_slot(rip: u64) -> usize {
    ((rip ^ (rip >> 10)) as usize) & (JUMP_SIZE - 1)
}

/// Most traces kept before the cache is emptied and refilled.
const MAX_TRACES: usize = 1 << 16;

impl<B> TraceCache<B> {
    /// Finds the trace starting at `phys`.
    #[inline]
    pub fn get(&mut self, phys: u64, bitness: u32) -> Option<usize> {
        let k = fast_key(phys, bitness);
        let slot = fast_slot(phys);
        let e = self.fast[slot];
        if e.0 == k {
            return Some(e.1 as usize);
        }
        let id = self.map.get(&(phys, bitness)).copied()?;
        self.fast[slot] = (k, id as u32);
        Some(id)
    }

    /// The trace with id `id`.
    #[inline]
    pub fn trace(&self, id: usize) -> Option<&Trace<B>> {
        self.traces.get(id).and_then(|t| t.as_ref())
    }

    /// The chained successor of trace `from` for `rip`, if recorded under
    /// code context number `ctx` (see [`TraceCache::context`]) and the
    /// current `epoch`.
    #[inline(always)]
    pub fn chained(&self, from: usize, rip: u64, ctx: u32, epoch: u64) -> Option<usize> {
        let s = self.succ.get(from)?;
        s.iter().find_map(|l| l.to(rip, ctx, epoch))
    }

    /// The trace to go on with at `rip` after trace `from`: its link, or
    /// the jump cache's entry, under code context `ctx` and `epoch`.
    #[inline(always)]
    pub fn successor(&self, from: usize, rip: u64, ctx: u32, epoch: u64) -> Option<usize> {
        self.chained(from, rip, ctx, epoch)
            .or_else(|| self.jump[jump_slot(rip)].to(rip, ctx, epoch))
    }

    /// The epoch links are made and checked under: the TLB's flush count
    /// `tlb_epoch` and this cache's drop count together.
    #[inline(always)]
    pub fn link_epoch(&self, tlb_epoch: u64) -> u64 {
        tlb_epoch.wrapping_add(self.generation << 32)
    }

    /// Records `to` as the trace at `rip` in the jump cache.
    #[inline]
    pub fn remember(&mut self, rip: u64, to: usize, ctx: u32, epoch: u64) {
        self.jump[jump_slot(rip)] = Link {
            rip,
            id: to as u32,
            ctx,
            epoch,
        };
    }

    /// Records `to` as a successor of `from` at `rip`.
    #[inline]
    pub fn chain(&mut self, from: usize, rip: u64, to: usize, ctx: u32, epoch: u64) {
        if let Some(s) = self.succ.get_mut(from) {
            s.copy_within(0..SUCC - 1, 1);
            s[0] = Link {
                rip,
                id: to as u32,
                ctx,
                epoch,
            };
        }
    }

    /// The number of code context `c`, for [`chain`](Self::chain) and
    /// [`chained`](Self::chained).
    #[inline]
    pub fn context(&mut self, c: CodeContext) -> u32 {
        let cx = &mut self.contexts;
        if cx.len > 0 && cx.recent[0].0 == c {
            return cx.recent[0].1;
        }
        let found = cx.recent[..cx.len].iter().position(|e| e.0 == c);
        let entry = match found {
            Some(i) => cx.recent[i],
            None => {
                if cx.next == u32::MAX {
                    // Numbers ran out: start again, with no link left that
                    // could match an old number.
                    cx.next = 0;
                    cx.len = 0;
                    self.generation += 1;
                }
                let e = (c, cx.next);
                cx.next += 1;
                cx.len = (cx.len + 1).min(CONTEXTS);
                e
            }
        };
        // Move to the front (dropping the last entry when it is new).
        let end = found.unwrap_or(cx.len - 1);
        cx.recent.copy_within(0..end, 1);
        cx.recent[0] = entry;
        entry.1
    }

    /// True when the next [`insert`](Self::insert) empties the cache
    /// first (it holds [`MAX_TRACES`]).
    pub fn is_full(&self) -> bool {
        self.map.len() >= MAX_TRACES
    }

    /// Adds a trace covering the pages in `pages`.
    pub fn insert(&mut self, t: Trace<B>, pages: &[u64]) -> usize {
        if self.is_full() {
            self.clear();
        }
        let key = (t.phys, t.bitness);
        let id = match self.free.pop() {
            Some(id) => {
                self.traces[id] = Some(t);
                id
            }
            None => {
                self.traces.push(Some(t));
                self.traces.len() - 1
            }
        };
        self.map.insert(key, id);
        if self.succ.len() <= id {
            self.succ.resize(id + 1, [NO_LINK; SUCC]);
        }
        self.succ[id] = [NO_LINK; SUCC];
        if self.pages.len() <= id {
            self.pages.resize_with(id + 1, Vec::new);
        }
        let listed = &mut self.pages[id];
        listed.clear();
        for p in pages {
            if !listed.contains(p) {
                listed.push(*p);
                self.by_page.entry(*p).or_default().push(id);
            }
        }
        id
    }

    /// Drops every trace touching physical page `page`.
    pub fn invalidate_page(&mut self, page: u64) {
        if let Some(ids) = self.by_page.remove(&page) {
            self.generation += 1;
            for id in ids {
                if let Some(t) = self.traces.get_mut(id).and_then(|t| t.take()) {
                    self.unlist_elsewhere(id, page);
                    self.map.remove(&(t.phys, t.bitness));
                    let slot = fast_slot(t.phys);
                    if self.fast[slot].0 == fast_key(t.phys, t.bitness) {
                        self.fast[slot] = FAST_EMPTY;
                    }
                    self.free.push(id);
                }
            }
        }
    }

    /// Removes trace `id` from the `by_page` lists of its pages other
    /// than `page` (whose list the caller already took).
    fn unlist_elsewhere(&mut self, id: usize, page: u64) {
        let Some(listed) = self.pages.get_mut(id) else {
            return;
        };
        for p in listed.drain(..) {
            if p == page {
                continue;
            }
            if let Some(ids) = self.by_page.get_mut(&p) {
                ids.retain(|&i| i != id);
                if ids.is_empty() {
                    self.by_page.remove(&p);
                }
            }
        }
    }

    /// Pages with traces listed, and list entries in all (bookkeeping
    /// size, for tests).
    pub fn listed(&self) -> (usize, usize) {
        (
            self.by_page.len(),
            self.by_page.values().map(Vec::len).sum(),
        )
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.generation += 1;
        self.succ.clear();
        self.fast.fill(FAST_EMPTY);
        self.map.clear();
        self.traces.clear();
        self.free.clear();
        self.by_page.clear();
        self.pages.clear();
    }

    /// Number of cached traces.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty_trace(phys: u64) -> Trace<()> {
        Trace {
            phys,
            bitness: 16,
            bytes: 0,
            ops: Vec::new().into_boxed_slice(),
        }
    }

    fn ctx(base: u64, cpl: u8) -> CodeContext {
        CodeContext {
            base,
            limit: 0xFFFF_FFFF,
            bitness: 32,
            cpl,
            mode: Mode::Protected,
        }
    }

    #[test]
    fn a_code_context_keeps_its_number_while_in_the_table() {
        let mut c = TraceCache::<()>::default();
        let kernel = c.context(ctx(0, 0));
        let user = c.context(ctx(0, 3));
        assert_ne!(kernel, user, "the CPL tells them apart");
        assert_eq!(c.context(ctx(0, 0)), kernel);
        assert_eq!(c.context(ctx(0, 3)), user);
        // CONTEXTS others push the kernel's out: it comes back with a new
        // number, which no old link carries.
        for i in 1..=CONTEXTS as u64 {
            c.context(ctx(i << 12, 0));
        }
        let again = c.context(ctx(0, 0));
        assert!(again != kernel && again != user);
    }

    #[test]
    fn a_link_holds_only_in_its_code_context_and_epoch() {
        let mut c = TraceCache::<()>::default();
        let a = c.insert(empty_trace(0x1000), &[0x1000]);
        let b = c.insert(empty_trace(0x2000), &[0x2000]);
        let (k, u) = (c.context(ctx(0, 0)), c.context(ctx(0, 3)));
        c.chain(a, 0x2000, b, u, 7);
        assert_eq!(c.chained(a, 0x2000, u, 7), Some(b));
        assert_eq!(c.chained(a, 0x2000, k, 7), None, "another CPL");
        assert_eq!(c.chained(a, 0x2000, u, 8), None, "a TLB flush since");
    }

    #[test]
    fn the_jump_cache_answers_any_trace_in_its_code_context_and_epoch() {
        let mut c = TraceCache::<()>::default();
        let a = c.insert(empty_trace(0x1000), &[0x1000]);
        let b = c.insert(empty_trace(0x2000), &[0x2000]);
        let (k, u) = (c.context(ctx(0, 0)), c.context(ctx(0, 3)));
        c.remember(0x2000, b, u, 7);
        assert_eq!(c.successor(a, 0x2000, u, 7), Some(b), "no link needed");
        assert_eq!(c.successor(b, 0x2000, u, 7), Some(b), "from any trace");
        assert_eq!(c.successor(a, 0x2000, k, 7), None, "another CPL");
        assert_eq!(c.successor(a, 0x2000, u, 8), None, "a TLB flush since");
        assert_eq!(c.successor(a, 0x2001, u, 7), None, "another RIP");
    }

    #[test]
    fn a_trace_across_two_pages_is_unlisted_from_both() {
        let mut c = TraceCache::<()>::default();
        // A trace at 1FF0 whose last instruction straddles into page 2000,
        // dropped through its second page, again and again (self-modifying
        // code writing into the second page).
        for _ in 0..1000 {
            c.insert(empty_trace(0x1FF0), &[0x1000, 0x2000]);
            c.invalidate_page(0x2000);
        }
        assert_eq!(c.listed(), (0, 0), "no stale ids left under page 1000");
        assert!(c.is_empty());
    }

    #[test]
    fn unlisting_keeps_the_other_traces_of_a_page() {
        let mut c = TraceCache::<()>::default();
        let a = c.insert(empty_trace(0x1000), &[0x1000]);
        c.insert(empty_trace(0x1FF0), &[0x1000, 0x2000]);
        c.invalidate_page(0x2000);
        assert_eq!(c.listed(), (1, 1));
        assert_eq!(c.get(0x1000, 16), Some(a));
        assert_eq!(c.get(0x1FF0, 16), None);
    }
}
