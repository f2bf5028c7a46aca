//! Virtual time.
//!
//! One clock drives every device and the TSC. Time is derived from retired
//! instructions at `ips` instructions per virtual second, plus an offset
//! that grows when an idle CPU (HLT) skips ahead to the next deadline:
//!
//! `now_ns = skipped_ns + icount * 1e9 / ips`
//!
//! A device or RDTSC always sees the time of the exact instruction that
//! reads it, because the CPU passes its instruction count with every I/O
//! access. In [`ClockMode::Virtual`] a run is reproducible. In
//! [`ClockMode::Realtime`] the same clock is paced against the host's:
//! the run loop sleeps when virtual time gets ahead of host time, and when
//! the interpreter falls behind (it runs slower than `ips`) virtual time
//! jumps forward to host time at the next slice boundary, so guest clocks
//! keep wall-clock pace.

use anyx86_hw::NS_PER_SEC;
use std::time::{Duration, Instant};

/// How virtual time relates to the host's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMode {
    /// Reproducible: time is a function of the instruction stream.
    Virtual,
    /// Paced against the host clock.
    Realtime,
}

/// The machine's clock.
#[derive(Debug, Clone)]
pub struct Clock {
    /// Pacing mode.
    pub mode: ClockMode,
    /// Instructions per virtual second.
    pub ips: u64,
    skipped_ns: u64,
    host_start: Instant,
}

/// Frequency of the time stamp counter (1 GHz: one tick per virtual ns).
pub const TSC_HZ: u64 = NS_PER_SEC;

impl Clock {
    /// A clock at time zero.
    pub fn new(mode: ClockMode, ips: u64) -> Self {
        Self {
            mode,
            ips: ips.max(1),
            skipped_ns: 0,
            host_start: Instant::now(),
        }
    }

    /// The time skipped while idle (the clock's only state besides the
    /// instruction count), for snapshots.
    pub fn skipped_ns(&self) -> u64 {
        self.skipped_ns
    }

    /// Continues from a snapshot: `skipped_ns` as saved, and in realtime
    /// mode the host clock taken to read `now(icount)` at this moment,
    /// so pacing neither sleeps to catch up nor jumps.
    pub fn resume(&mut self, skipped_ns: u64, icount: u64) {
        self.skipped_ns = skipped_ns;
        let now = Duration::from_nanos(self.now(icount));
        let host = Instant::now();
        self.host_start = host.checked_sub(now).unwrap_or(host);
    }

    /// Sets the skipped idle time: a replay of a realtime recording moves
    /// time as the journal says.
    pub(crate) fn set_skipped_ns(&mut self, ns: u64) {
        self.skipped_ns = ns;
    }

    /// Virtual nanoseconds at instruction number `icount`.
    #[inline]
    pub fn now(&self, icount: u64) -> u64 {
        self.skipped_ns
            + ((u128::from(icount) * u128::from(NS_PER_SEC)) / u128::from(self.ips)) as u64
    }

    /// The TSC at instruction number `icount`.
    #[inline]
    pub fn tsc(&self, icount: u64) -> u64 {
        self.now(icount)
    }

    /// Instructions to run from `icount` until virtual time reaches `t`
    /// (at least 1).
    pub fn insns_until(&self, icount: u64, t: u64) -> u64 {
        let now = self.now(icount);
        if t <= now {
            return 1;
        }
        let ns = u128::from(t - now);
        let n = (ns * u128::from(self.ips)).div_ceil(u128::from(NS_PER_SEC));
        n.clamp(1, u128::from(u64::MAX)) as u64
    }

    /// Moves time forward to `t` without executing (idle CPU).
    pub fn skip_to(&mut self, icount: u64, t: u64) {
        let now = self.now(icount);
        if t > now {
            self.skipped_ns += t - now;
        }
    }

    /// Host nanoseconds since the clock started.
    pub fn host_ns(&self) -> u64 {
        self.host_start.elapsed().as_nanos() as u64
    }

    /// Realtime pacing at a slice boundary: if virtual time is ahead of the
    /// host, returns how long to sleep; if it is behind by more than
    /// `max_lag`, jumps forward.
    pub fn pace(&mut self, icount: u64, max_lag: Duration) -> Option<Duration> {
        if self.mode != ClockMode::Realtime {
            return None;
        }
        let now = self.now(icount);
        let host = self.host_ns();
        if now > host {
            return Some(Duration::from_nanos(now - host));
        }
        let lag = host - now;
        if lag > max_lag.as_nanos() as u64 {
            self.skipped_ns += lag;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_follows_instructions_and_skips() {
        let mut c = Clock::new(ClockMode::Virtual, 100_000_000); // 10 ns per insn
        assert_eq!(c.now(0), 0);
        assert_eq!(c.now(1000), 10_000);
        assert_eq!(c.insns_until(1000, 10_005), 1);
        assert_eq!(c.insns_until(1000, 20_000), 1000);
        c.skip_to(1000, 50_000);
        assert_eq!(c.now(1000), 50_000);
        assert_eq!(c.now(1001), 50_010);
    }

    #[test]
    fn virtual_mode_never_paces() {
        let mut c = Clock::new(ClockMode::Virtual, 1);
        assert_eq!(c.pace(1_000_000, Duration::from_millis(1)), None);
    }
}
