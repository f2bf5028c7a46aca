//! Virtual time and the event scheduler.
//!
//! One virtual clock drives every device and the CPU's time stamp counter.
//! Time is a count of nanoseconds since power-on. Devices never tick: they
//! compute their state from `now - load_time` when read and tell the machine
//! their next deadline, which the scheduler keeps in a min-heap.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Nanoseconds of virtual time since power-on.
pub type VirtualTime = u64;

/// Nanoseconds in one second.
pub const NS_PER_SEC: u64 = 1_000_000_000;

/// Converts a count of `hz` clock ticks to nanoseconds, rounding down.
pub fn ticks_to_ns(ticks: u64, hz: u64) -> u64 {
    ((ticks as u128 * NS_PER_SEC as u128) / hz as u128) as u64
}

/// Converts nanoseconds to whole ticks of an `hz` clock, rounding down.
pub fn ns_to_ticks(ns: u64, hz: u64) -> u64 {
    ((ns as u128 * hz as u128) / NS_PER_SEC as u128) as u64
}

/// A min-heap of typed events, each due at a virtual time.
///
/// `E` is the machine's own event enum (a small `Copy` type). An event can be
/// scheduled again at any time; stale copies are filtered by the owner
/// (usually by keeping one deadline per event kind and ignoring mismatches).
#[derive(Debug, Clone)]
pub struct Scheduler<E: Ord + Copy> {
    heap: BinaryHeap<Reverse<(VirtualTime, E)>>,
}

impl<E: Ord + Copy> Default for Scheduler<E> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
        }
    }
}

impl<E: Ord + Copy> Scheduler<E> {
    /// An empty scheduler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `event` at `when`.
    pub fn schedule(&mut self, when: VirtualTime, event: E) {
        self.heap.push(Reverse((when, event)));
    }

    /// The earliest deadline, if any.
    pub fn next_deadline(&self) -> Option<VirtualTime> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    /// Removes and returns the earliest event due at or before `now`.
    pub fn pop_due(&mut self, now: VirtualTime) -> Option<(VirtualTime, E)> {
        match self.heap.peek() {
            Some(Reverse((t, _))) if *t <= now => self.heap.pop().map(|Reverse(x)| x),
            _ => None,
        }
    }

    /// Drops every pending event.
    pub fn clear(&mut self) {
        self.heap.clear();
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when no event is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_out_in_deadline_order() {
        let mut s = Scheduler::new();
        s.schedule(30, 3u8);
        s.schedule(10, 1u8);
        s.schedule(20, 2u8);
        assert_eq!(s.next_deadline(), Some(10));
        assert_eq!(s.pop_due(25), Some((10, 1)));
        assert_eq!(s.pop_due(25), Some((20, 2)));
        assert_eq!(s.pop_due(25), None);
        assert_eq!(s.pop_due(30), Some((30, 3)));
        assert!(s.is_empty());
    }

    #[test]
    fn pit_clock_conversions_round_down() {
        // 1.193182 MHz: one tick is 838.095 ns.
        assert_eq!(ticks_to_ns(1, 1_193_182), 838);
        assert_eq!(ns_to_ticks(NS_PER_SEC, 1_193_182), 1_193_182);
        assert_eq!(ns_to_ticks(837, 1_193_182), 0);
    }
}
