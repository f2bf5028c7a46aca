//! The trace cache: decoded traces keyed by physical address.
//!
//! A trace is a run of instructions from one code page, ending at a control
//! transfer, a page end or [`MAX_TRACE`](crate::decode::MAX_TRACE)
//! instructions, as [`Op`] records. Traces are keyed by the physical
//! address of their first byte and the decode bitness; writes to a page
//! that holds code drop the page's traces, and each trace keeps links to
//! the traces that followed it.

use crate::decode::Op;
use std::collections::HashMap;

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
    /// Per trace id: the last [`SUCC`] successors seen, as (rip, id,
    /// epoch), most recent first (a trace has a successor per side exit
    /// and per return site).
    succ: Vec<[(u64, u32, u64); SUCC]>,
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
            generation: 0,
            hits: 0,
            misses: 0,
        }
    }
}

/// Successor links kept per trace.
const SUCC: usize = 4;

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
    /// the current `epoch`.
    #[inline(always)]
    pub fn chained(&self, from: usize, rip: u64, epoch: u64) -> Option<usize> {
        let s = self.succ.get(from)?;
        for (r, id, e) in s {
            if *r == rip && *e == epoch {
                return Some(*id as usize);
            }
        }
        None
    }

    /// Records `to` as a successor of `from` at `rip`.
    #[inline]
    pub fn chain(&mut self, from: usize, rip: u64, to: usize, epoch: u64) {
        if let Some(s) = self.succ.get_mut(from) {
            s.copy_within(0..SUCC - 1, 1);
            s[0] = (rip, to as u32, epoch);
        }
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
            self.succ.resize(id + 1, [(u64::MAX, 0, u64::MAX); SUCC]);
        }
        self.succ[id] = [(u64::MAX, 0, u64::MAX); SUCC];
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
