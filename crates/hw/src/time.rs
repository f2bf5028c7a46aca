//! Virtual time and the event scheduler.
//!
//! One virtual clock drives every device and the CPU's time stamp counter.
//! Time is a count of nanoseconds since power-on. Devices never tick: they
//! compute their state from `now - load_time` when read and tell the machine
//! their next deadline, which the scheduler keeps in a min-heap.

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

/// Pending events, each due at a virtual time, at most one per event.
///
/// `E` is the machine's own event enum (a small `Copy` type, one variant per
/// timer source). Scheduling an event that is already pending replaces its
/// deadline: a guest that reprograms a timer in a loop cannot make the
/// scheduler grow. With a handful of sources a linear scan beats a heap.
#[derive(Debug, Clone)]
pub struct Scheduler<E: Ord + Copy> {
    pending: Vec<(VirtualTime, E)>,
}

impl<E: Ord + Copy> Default for Scheduler<E> {
    fn default() -> Self {
        Self {
            pending: Vec::new(),
        }
    }
}

impl<E: Ord + Copy> Scheduler<E> {
    /// An empty scheduler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `event` at `when`, replacing its earlier deadline.
    pub fn schedule(&mut self, when: VirtualTime, event: E) {
        match self.pending.iter_mut().find(|(_, e)| *e == event) {
            Some(slot) => slot.0 = when,
            None => self.pending.push((when, event)),
        }
    }

    /// Drops `event` if it is pending.
    pub fn cancel(&mut self, event: E) {
        self.pending.retain(|(_, e)| *e != event);
    }

    /// Schedules `event` at `when`, or drops it when there is no deadline
    /// (a device's `next_deadline`, as it is).
    pub fn set_deadline(&mut self, event: E, when: Option<VirtualTime>) {
        match when {
            Some(t) => self.schedule(t, event),
            None => self.cancel(event),
        }
    }

    /// The earliest deadline, if any.
    pub fn next_deadline(&self) -> Option<VirtualTime> {
        self.pending.iter().map(|(t, _)| *t).min()
    }

    /// Removes and returns the earliest event due at or before `now`
    /// (ties in event order).
    pub fn pop_due(&mut self, now: VirtualTime) -> Option<(VirtualTime, E)> {
        let (i, _) = self
            .pending
            .iter()
            .enumerate()
            .filter(|(_, (t, _))| *t <= now)
            .min_by_key(|(_, x)| **x)?;
        Some(self.pending.swap_remove(i))
    }

    /// The pending events with their deadlines, for snapshots (restore
    /// them with [`schedule`](Self::schedule)).
    pub fn entries(&self) -> &[(VirtualTime, E)] {
        &self.pending
    }

    /// Drops every pending event.
    pub fn clear(&mut self) {
        self.pending.clear();
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when no event is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
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
    fn rescheduling_replaces_instead_of_growing() {
        let mut s = Scheduler::new();
        for t in 0..10_000u64 {
            s.schedule(1_000_000 - t, 7u8);
        }
        assert_eq!(s.len(), 1);
        assert_eq!(s.next_deadline(), Some(990_001));
        s.schedule(5, 1u8);
        s.cancel(7u8);
        assert_eq!(s.pop_due(u64::MAX), Some((5, 1)));
        assert!(s.is_empty());
    }

    #[test]
    fn setting_no_deadline_cancels() {
        let mut s = Scheduler::new();
        s.set_deadline(2u8, Some(40));
        s.set_deadline(1u8, Some(50));
        assert_eq!(s.next_deadline(), Some(40));
        s.set_deadline(2u8, None);
        assert_eq!(s.len(), 1);
        assert_eq!(s.pop_due(u64::MAX), Some((50, 1)));
    }

    #[test]
    fn pit_clock_conversions_round_down() {
        // 1.193182 MHz: one tick is 838.095 ns.
        assert_eq!(ticks_to_ns(1, 1_193_182), 838);
        assert_eq!(ns_to_ticks(NS_PER_SEC, 1_193_182), 1_193_182);
        assert_eq!(ns_to_ticks(837, 1_193_182), 0);
    }
}
