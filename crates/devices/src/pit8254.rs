//! Intel 8254 programmable interval timer, plus the PC/AT's port 0x61
//! ("system control port B"), which holds channel 2's gate and shows its
//! output.
//!
//! Reference: Intel 8254 datasheet (order 231164), "Control Word Format",
//! "Read Operations" (counter latch and read-back commands), "Mode
//! Definitions" (modes 0-5) and Figure "Gate Pin Operations Summary"; IBM
//! PC/AT Technical Reference, "System control port B" (port 0x61).
//!
//! # Time
//!
//! The chip is clocked at [`PIT_HZ`] (1,193,182 Hz). Nothing ticks: each
//! channel remembers when its counting clock last (re)started and derives
//! its counter and OUT level from `now - start` at every access.
//!
//! # Wiring: OUT0 → IRQ0
//!
//! OUT0 drives IRQ0 through the PIC, which is edge-triggered on this line.
//! The machine schedules an event at [`Pit::next_irq0_edge`] (the next
//! *rising* edge of OUT0) and, when it fires, gives the PIC a fresh edge by
//! pulsing the line, leaving it high:
//!
//! ```
//! use anyx86_devices::{PicPair, Pit};
//! use anyx86_hw::PortDevice;
//!
//! let (mut pit, mut pic) = (Pit::new(), PicPair::new());
//! // The guest programs channel 0: mode 2 (rate generator), count 1193
//! // (about 1 kHz). 0x34 = channel 0, LSB then MSB, mode 2, binary.
//! pit.write(3, 1, 0x34, 0);
//! pit.write(0, 1, 1193 & 0xFF, 0);
//! pit.write(0, 1, 1193 >> 8, 0);
//! // After every write to ports 0x40-0x43, and after each PIT event, the
//! // machine (re)schedules the one PIT event at the next rising edge, and
//! // ignores an event whose time is no longer the current deadline.
//! let t = pit.next_irq0_edge(0).expect("mode 2 is periodic");
//! assert_eq!(t, 999_848); // 1193 ticks of 838.095 ns, rounded up
//! // ... the run loop reaches t and fires the event:
//! pic.set_irq(0, false);
//! pic.set_irq(0, true);
//! assert_eq!(pit.next_irq0_edge(t), Some(1_999_695));
//! ```
//!
//! Keeping the line high between pulses means the request stays latched
//! in the PIC until the CPU takes it, however long interrupts stay off;
//! following OUT0 exactly (low half of the time in mode 3) would lose ticks
//! to spurious IRQ7s whenever a guest keeps interrupts disabled for half a
//! period. Modes 0, 1, 4 and 5 produce a single edge, then `None`.
//!
//! Channel 1 (DRAM refresh on the original PC) has no wiring; its gate is
//! high. Channel 2 is gated by port 0x61 bit 0 and its output is read back
//! in port 0x61 bit 5 ([`Pit::port61_read`], [`Pit::port61_write`]).
//!
//! # Not implemented
//!
//! - The one-clock delay between writing a count and the counter loading
//!   it: a count of N runs for exactly N clocks from the write.
//! - In mode 3 a new count takes effect at the end of the current *period*
//!   rather than the current half-period.
//! - The counter value of a channel whose count has not been loaded yet (or,
//!   in modes 1 and 5, not triggered yet) reads as the last count written,
//!   where the real chip's is undefined.
//! - Speaker sound: port 0x61 bit 1 is stored and readable only.
//! - Port 0x61 bits 6-7 (I/O channel check, parity error) read as 0.

use anyx86_hw::time::{ns_to_ticks, NS_PER_SEC};
use anyx86_hw::{AccessSize, PortDevice, Snapshot, SnapshotError, VirtualTime};

use crate::{read_bytes, write_bytes};

/// Input clock of every channel, in Hz.
pub const PIT_HZ: u64 = 1_193_182;
/// Port 0x61 bit 4 flips every this many nanoseconds (the DRAM refresh
/// request of the AT, every 15.085 µs).
pub const REFRESH_TOGGLE_NS: u64 = 15_085;
/// Number of counters.
pub const CHANNELS: usize = 3;

/// Offset of the control word register (port 0x43).
const CONTROL_OFFSET: u16 = 3;

/// Control word: BCD counting.
const CW_BCD: u8 = 0x01;
/// Control word: mode field (M2-M0) position.
const CW_MODE_SHIFT: u8 = 1;
/// Control word: access field (RW1-RW0) position.
const CW_ACCESS_SHIFT: u8 = 4;
/// Control word: counter select field (SC1-SC0) position.
const CW_SELECT_SHIFT: u8 = 6;
/// Counter select value of the read-back command.
const SELECT_READ_BACK: u8 = 3;

/// Access field: counter latch command.
const ACCESS_LATCH: u8 = 0;
/// Access field: LSB only.
const ACCESS_LSB: u8 = 1;
/// Access field: MSB only.
const ACCESS_MSB: u8 = 2;
/// Access field: LSB then MSB.
const ACCESS_WORD: u8 = 3;

/// Read-back command: do NOT latch the count(s).
const RB_NO_COUNT: u8 = 0x20;
/// Read-back command: do NOT latch the status(es).
const RB_NO_STATUS: u8 = 0x10;
/// Read-back command: select counter 0 (counter n is this bit << n).
const RB_COUNTER0: u8 = 0x02;

/// Status byte: level of OUT.
const STATUS_OUT: u8 = 0x80;
/// Status byte: null count (the last count written is not yet in the
/// counting element).
const STATUS_NULL_COUNT: u8 = 0x40;

/// Port 0x61: channel 2 gate.
pub const PORT61_GATE2: u8 = 0x01;
/// Port 0x61: speaker data enable (OUT2 reaches the speaker).
pub const PORT61_SPEAKER: u8 = 0x02;
/// Port 0x61: RAM parity check disable (stored only).
pub const PORT61_PARITY_CHECK_OFF: u8 = 0x04;
/// Port 0x61: I/O channel check disable (stored only).
pub const PORT61_IOCHK_OFF: u8 = 0x08;
/// Port 0x61: refresh request toggle (read-only).
pub const PORT61_REFRESH: u8 = 0x10;
/// Port 0x61: channel 2 output (read-only).
pub const PORT61_OUT2: u8 = 0x20;
/// Port 0x61 bits the guest can write.
const PORT61_WRITABLE: u8 = 0x0F;

/// No count latched. Otherwise the latch state is an access field value
/// naming the latched bytes still to be read: [`ACCESS_LSB`] or
/// [`ACCESS_MSB`] (then the latch is free), or [`ACCESS_WORD`] (the LSB
/// then the MSB).
const LATCH_NONE: u8 = 0;

/// Plain-data state of one counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PitChannelState {
    /// Mode field as written (0-7; 6 and 7 act as 2 and 3).
    pub mode_bits: u8,
    /// Counting in BCD (0-9999) instead of binary.
    pub bcd: bool,
    /// Access mode: 1 = LSB, 2 = MSB, 3 = LSB then MSB.
    pub access: u8,
    /// Count in the counting element: 1 to 0x10000 (a written 0 is the
    /// maximum, 0x10000 binary or 10000 BCD).
    pub count: u32,
    /// A count written while counting, waiting for the next reload (modes
    /// 2/3: end of period; modes 1/5: next trigger).
    pub pending_count: Option<u32>,
    /// When a mode 2/3 pending count loads (the end of the current period).
    pub pending_at: VirtualTime,
    /// A count was written since the control word.
    pub loaded: bool,
    /// The counter is counting (modes 1/5: has been triggered).
    pub started: bool,
    /// Level of the GATE input.
    pub gate: bool,
    /// Clock ticks counted before `since`.
    pub elapsed: u64,
    /// The counting clock runs since this time; `None` while paused.
    pub since: Option<VirtualTime>,
    /// Null count flag of the status byte.
    pub null_count: bool,
    /// LSB-then-MSB writes: the next byte written is the MSB.
    pub write_msb_next: bool,
    /// LSB-then-MSB writes: the LSB already written.
    pub write_lsb: u8,
    /// LSB-then-MSB reads: the next byte read is the MSB.
    pub read_msb_next: bool,
    /// Latched count (counter latch or read-back command).
    pub latch: u16,
    /// Which latched bytes remain to be read (0 none, 1 LSB, 2 MSB, 3 both).
    pub latch_state: u8,
    /// Latched status byte, read before any latched count.
    pub status_latch: Option<u8>,
}
anyx86_hw::wire_struct!(PitChannelState {
    mode_bits,
    bcd,
    access,
    count,
    pending_count,
    pending_at,
    loaded,
    started,
    gate,
    elapsed,
    since,
    null_count,
    write_msb_next,
    write_lsb,
    read_msb_next,
    latch,
    latch_state,
    status_latch
});

impl Default for PitChannelState {
    fn default() -> Self {
        Self {
            mode_bits: 0,
            bcd: false,
            access: ACCESS_WORD,
            count: 0x1_0000,
            pending_count: None,
            pending_at: 0,
            loaded: false,
            started: false,
            gate: true,
            elapsed: 0,
            since: None,
            null_count: true,
            write_msb_next: false,
            write_lsb: 0,
            read_msb_next: false,
            latch: 0,
            latch_state: LATCH_NONE,
            status_latch: None,
        }
    }
}

/// Plain-data state of the PIT and port 0x61.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PitState {
    /// Counters 0-2.
    pub channels: [PitChannelState; CHANNELS],
    /// Writable bits of port 0x61 (bit 0 mirrors channel 2's gate).
    pub port61: u8,
}
anyx86_hw::wire_struct!(PitState { channels, port61 });

impl Default for PitState {
    fn default() -> Self {
        let mut channels = [PitChannelState::default(); CHANNELS];
        // Port 0x61 powers up as 0: channel 2's gate is low.
        channels[2].gate = false;
        Self {
            channels,
            port61: 0,
        }
    }
}

/// Nanoseconds until `ticks` clock ticks have elapsed, rounding up (the
/// first instant at which `ns_to_ticks` reaches `ticks`).
fn ticks_to_ns_ceil(ticks: u64) -> u64 {
    let ns = (u128::from(ticks) * u128::from(NS_PER_SEC)).div_ceil(u128::from(PIT_HZ));
    u64::try_from(ns).unwrap_or(u64::MAX)
}

/// Converts a binary value below 10000 to four BCD digits.
fn to_bcd(value: u32) -> u16 {
    (0..4).fold(0u16, |acc, digit| {
        acc | (((value / 10u32.pow(digit)) % 10) as u16) << (4 * digit)
    })
}

/// Converts four BCD digits to binary; a digit above 9 counts as 9.
fn from_bcd(value: u16) -> u32 {
    (0..4).rev().fold(0u32, |acc, digit| {
        acc * 10 + u32::from((value >> (4 * digit)) & 0xF).min(9)
    })
}

impl PitChannelState {
    /// Mode 0-5 (the "don't care" M2 bit of modes 2 and 3 dropped).
    fn mode(&self) -> u8 {
        match self.mode_bits & 7 {
            6 => 2,
            7 => 3,
            m => m,
        }
    }

    fn modulus(&self) -> u32 {
        if self.bcd {
            10_000
        } else {
            0x1_0000
        }
    }

    /// Clock ticks counted since the count was loaded or last reloaded.
    fn ticks(&self, now: VirtualTime) -> u64 {
        let running = self
            .since
            .map_or(0, |t| ns_to_ticks(now.saturating_sub(t), PIT_HZ));
        self.elapsed + running
    }

    /// Loads a mode 2/3 pending count whose reload time has come.
    fn settle(&mut self, now: VirtualTime) {
        if let (Some(next), Some(_)) = (self.pending_count, self.since) {
            if matches!(self.mode(), 2 | 3) && now >= self.pending_at {
                self.count = next;
                self.pending_count = None;
                self.null_count = false;
                self.elapsed = 0;
                self.since = Some(self.pending_at);
            }
        }
    }

    fn settled(&self, now: VirtualTime) -> Self {
        let mut copy = *self;
        copy.settle(now);
        copy
    }

    /// OUT level; the channel must be settled.
    fn out(&self, now: VirtualTime) -> bool {
        let mode = self.mode();
        if !self.started {
            // Mode 0 sets OUT low on the control word; the others set it high.
            return mode != 0;
        }
        let n = u64::from(self.count);
        let d = self.ticks(now);
        match mode {
            0 | 1 => d >= n,
            2 => !self.gate || d % n != n - 1,
            3 => !self.gate || d % n < n.div_ceil(2),
            _ => d != n,
        }
    }

    /// Counter value in binary; the channel must be settled.
    fn value(&self, now: VirtualTime) -> u32 {
        let m = u64::from(self.modulus());
        if !self.started {
            return (u64::from(self.count) % m) as u32;
        }
        let n = u64::from(self.count);
        let d = self.ticks(now);
        let value = match self.mode() {
            2 => n - d % n,
            3 => {
                // Counts down by two each clock, reloading every half period;
                // an odd count reloads with N during the high half and N-1
                // during the low half.
                let phase = d % n;
                let high = n.div_ceil(2);
                if phase < high {
                    n - 2 * phase
                } else {
                    (n - (n & 1)) - 2 * (phase - high)
                }
            }
            _ => (n + m - d % m) % m,
        };
        (value % m) as u32
    }

    /// Counter value as the guest reads it (BCD digits in BCD mode).
    fn visible_value(&self, now: VirtualTime) -> u16 {
        let value = self.value(now);
        if self.bcd {
            to_bcd(value)
        } else {
            value as u16
        }
    }

    fn status(&self, now: VirtualTime) -> u8 {
        let out = if self.out(now) { STATUS_OUT } else { 0 };
        let null = if self.null_count {
            STATUS_NULL_COUNT
        } else {
            0
        };
        out | null
            | (self.access << CW_ACCESS_SHIFT)
            | ((self.mode_bits & 7) << CW_MODE_SHIFT)
            | u8::from(self.bcd)
    }

    /// The first instant after `now` at which OUT rises; settled channel.
    fn next_rising_edge(&self, now: VirtualTime) -> Option<VirtualTime> {
        if !self.started {
            return None;
        }
        let since = self.since?;
        let n = u64::from(self.count);
        let d = self.ticks(now);
        let target = match self.mode() {
            0 | 1 if d < n => n,
            4 | 5 if d <= n => n + 1,
            2 | 3 => (d / n + 1) * n,
            _ => return None,
        };
        Some(since.saturating_add(ticks_to_ns_ceil(target - self.elapsed)))
    }

    /// Starts counting a freshly loaded count from `now`.
    fn start(&mut self, now: VirtualTime) {
        self.started = true;
        self.null_count = false;
        self.elapsed = 0;
        let clock_runs = matches!(self.mode(), 1 | 5) || self.gate;
        self.since = clock_runs.then_some(now);
    }

    fn pause(&mut self, now: VirtualTime) {
        self.elapsed = self.ticks(now);
        self.since = None;
    }

    fn decode_count(&self, raw: u16) -> u32 {
        let n = if self.bcd {
            from_bcd(raw)
        } else {
            u32::from(raw)
        };
        if n == 0 {
            self.modulus()
        } else {
            n
        }
    }

    fn load(&mut self, raw: u16, now: VirtualTime) {
        let n = self.decode_count(raw);
        self.loaded = true;
        match self.mode() {
            0 | 4 => {
                self.count = n;
                self.start(now);
            }
            1 | 5 if self.started => {
                self.pending_count = Some(n);
                self.null_count = true;
            }
            1 | 5 => {
                self.count = n;
                self.null_count = true;
            }
            _ if self.started => {
                // Modes 2 and 3: the running period completes first.
                if let Some(t) = self.next_rising_edge(now) {
                    self.pending_at = t;
                }
                self.pending_count = Some(n);
                self.null_count = true;
            }
            _ => {
                self.count = n;
                self.start(now);
            }
        }
    }

    fn write_counter(&mut self, value: u8, now: VirtualTime) {
        self.settle(now);
        match self.access {
            ACCESS_LSB => self.load(u16::from(value), now),
            ACCESS_MSB => self.load(u16::from(value) << 8, now),
            _ if self.write_msb_next => {
                self.write_msb_next = false;
                self.load(u16::from_le_bytes([self.write_lsb, value]), now);
            }
            _ => {
                self.write_msb_next = true;
                self.write_lsb = value;
                if self.mode() == 0 && self.started {
                    // Mode 0: writing the first byte stops the count.
                    self.pause(now);
                }
            }
        }
    }

    fn read_counter(&mut self, now: VirtualTime) -> u8 {
        self.settle(now);
        if let Some(status) = self.status_latch.take() {
            return status;
        }
        let [lsb, msb] = self.latch.to_le_bytes();
        match self.latch_state {
            ACCESS_LSB => {
                self.latch_state = LATCH_NONE;
                lsb
            }
            ACCESS_MSB => {
                self.latch_state = LATCH_NONE;
                msb
            }
            ACCESS_WORD => {
                self.latch_state = ACCESS_MSB;
                lsb
            }
            _ => self.read_live(now),
        }
    }

    fn read_live(&mut self, now: VirtualTime) -> u8 {
        let [lsb, msb] = self.visible_value(now).to_le_bytes();
        match self.access {
            ACCESS_LSB => lsb,
            ACCESS_MSB => msb,
            _ => {
                self.read_msb_next = !self.read_msb_next;
                if self.read_msb_next {
                    lsb
                } else {
                    msb
                }
            }
        }
    }

    fn latch_count(&mut self, now: VirtualTime) {
        self.settle(now);
        if self.latch_state == LATCH_NONE {
            self.latch = self.visible_value(now);
            self.latch_state = self.access;
        }
    }

    fn latch_status(&mut self, now: VirtualTime) {
        self.settle(now);
        if self.status_latch.is_none() {
            self.status_latch = Some(self.status(now));
        }
    }

    /// A control word selecting this counter with a non-latch access mode.
    fn program(&mut self, access: u8, mode_bits: u8, bcd: bool) {
        *self = Self {
            mode_bits,
            bcd,
            access,
            count: self.count,
            gate: self.gate,
            ..Self::default()
        };
    }

    fn set_gate(&mut self, level: bool, now: VirtualTime) {
        self.settle(now);
        if level == self.gate {
            return;
        }
        self.gate = level;
        match self.mode() {
            0 | 4 if self.started => {
                if level {
                    self.since = Some(now);
                } else {
                    self.pause(now);
                }
            }
            1 | 5 if level && self.loaded => {
                // Trigger: (re)load the count and start the one-shot.
                if let Some(next) = self.pending_count.take() {
                    self.count = next;
                }
                self.start(now);
            }
            2 | 3 if self.started => {
                if level {
                    // A rising gate reloads the count.
                    if let Some(next) = self.pending_count.take() {
                        self.count = next;
                    }
                    self.start(now);
                } else {
                    self.pause(now);
                }
            }
            _ => {}
        }
    }

    fn validate(&self) -> Result<(), SnapshotError> {
        let invalid = |field, why| Err(SnapshotError::Invalid { field, why });
        if self.mode_bits > 7 {
            return invalid("mode_bits", "must be 0-7");
        }
        if !(ACCESS_LSB..=ACCESS_WORD).contains(&self.access) {
            return invalid("access", "must be 1-3");
        }
        let count_ok = |n: u32| (1..=0x1_0000).contains(&n);
        if !count_ok(self.count) || !self.pending_count.map_or(true, count_ok) {
            return invalid("count", "must be 1-0x10000");
        }
        if self.latch_state > ACCESS_WORD {
            return invalid("latch_state", "must be 0-3");
        }
        Ok(())
    }
}

/// The 8254 PIT with port 0x61.
#[derive(Debug, Clone, Default)]
pub struct Pit {
    state: PitState,
}

impl Pit {
    /// A PIT in the power-on state: no counter programmed, every OUT low.
    pub fn new() -> Self {
        Self::default()
    }

    /// Level of OUT of `channel` (0-2) at `now`; false for other channels.
    pub fn out(&self, channel: usize, now: VirtualTime) -> bool {
        self.state
            .channels
            .get(channel)
            .is_some_and(|c| c.settled(now).out(now))
    }

    /// Virtual time of the next rising edge of OUT of `channel` strictly
    /// after `now`, if the channel will produce one without further guest
    /// action.
    pub fn next_rising_edge(&self, channel: usize, now: VirtualTime) -> Option<VirtualTime> {
        let c = self.state.channels.get(channel)?.settled(now);
        c.next_rising_edge(now)
    }

    /// Virtual time of the next rising edge of OUT0 (IRQ0) strictly after
    /// `now`; see the module documentation for how the machine uses it.
    pub fn next_irq0_edge(&self, now: VirtualTime) -> Option<VirtualTime> {
        self.next_rising_edge(0, now)
    }

    /// Reads port 0x61: gate 2, speaker enable and the check-disable bits as
    /// written, the refresh toggle and OUT2.
    pub fn port61_read(&self, now: VirtualTime) -> u8 {
        let refresh = if (now / REFRESH_TOGGLE_NS) & 1 == 1 {
            PORT61_REFRESH
        } else {
            0
        };
        let out2 = if self.out(2, now) { PORT61_OUT2 } else { 0 };
        (self.state.port61 & PORT61_WRITABLE) | refresh | out2
    }

    /// Writes port 0x61: bit 0 drives channel 2's gate.
    pub fn port61_write(&mut self, value: u8, now: VirtualTime) {
        self.state.port61 = value & PORT61_WRITABLE;
        self.state.channels[2].set_gate(value & PORT61_GATE2 != 0, now);
    }

    /// Whether channel 2's output reaches the speaker (gate and speaker
    /// data enable both set).
    pub fn speaker_enabled(&self) -> bool {
        let both = PORT61_GATE2 | PORT61_SPEAKER;
        self.state.port61 & both == both
    }

    fn read_byte(&mut self, offset: u16, now: VirtualTime) -> u8 {
        match self.state.channels.get_mut(usize::from(offset)) {
            Some(channel) => channel.read_counter(now),
            // The control word register is write-only.
            None => 0xFF,
        }
    }

    fn write_byte(&mut self, offset: u16, value: u8, now: VirtualTime) {
        if offset == CONTROL_OFFSET {
            self.write_control(value, now);
        } else if let Some(channel) = self.state.channels.get_mut(usize::from(offset)) {
            channel.write_counter(value, now);
        }
    }

    fn write_control(&mut self, value: u8, now: VirtualTime) {
        let select = value >> CW_SELECT_SHIFT;
        if select == SELECT_READ_BACK {
            self.read_back(value, now);
            return;
        }
        let channel = &mut self.state.channels[usize::from(select)];
        let access = (value >> CW_ACCESS_SHIFT) & 3;
        if access == ACCESS_LATCH {
            channel.latch_count(now);
        } else {
            channel.program(access, (value >> CW_MODE_SHIFT) & 7, value & CW_BCD != 0);
        }
    }

    fn read_back(&mut self, value: u8, now: VirtualTime) {
        for (i, channel) in self.state.channels.iter_mut().enumerate() {
            if value & (RB_COUNTER0 << i) == 0 {
                continue;
            }
            if value & RB_NO_COUNT == 0 {
                channel.latch_count(now);
            }
            if value & RB_NO_STATUS == 0 {
                channel.latch_status(now);
            }
        }
    }
}

impl PortDevice for Pit {
    /// Offsets 0-2: counters 0-2; offset 3 (control word) reads 0xFF.
    fn read(&mut self, offset: u16, size: AccessSize, now: VirtualTime) -> u32 {
        read_bytes(offset, size, |o| self.read_byte(o, now))
    }

    /// Offsets 0-2: counters 0-2; offset 3: control word.
    fn write(&mut self, offset: u16, size: AccessSize, value: u32, now: VirtualTime) {
        write_bytes(offset, size, value, |o, v| self.write_byte(o, v, now));
    }
}

impl Snapshot for Pit {
    type State = PitState;

    fn save(&self) -> PitState {
        self.state.clone()
    }

    fn restore(&mut self, state: &PitState) -> Result<(), SnapshotError> {
        for channel in &state.channels {
            channel.validate()?;
        }
        if state.port61 & !PORT61_WRITABLE != 0 {
            return Err(SnapshotError::Invalid {
                field: "port61",
                why: "read-only bits set",
            });
        }
        if state.channels[2].gate != (state.port61 & PORT61_GATE2 != 0) {
            return Err(SnapshotError::Invalid {
                field: "port61",
                why: "gate bit disagrees with channel 2's gate",
            });
        }
        self.state = state.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Control word for `channel`, LSB-then-MSB access, `mode`, binary.
    fn control(channel: u8, mode: u8) -> u8 {
        (channel << 6) | (ACCESS_WORD << 4) | (mode << 1)
    }

    fn program(pit: &mut Pit, channel: u8, mode: u8, count: u16, now: VirtualTime) {
        pit.write(3, 1, u32::from(control(channel, mode)), now);
        pit.write(u16::from(channel), 1, u32::from(count & 0xFF), now);
        pit.write(u16::from(channel), 1, u32::from(count >> 8), now);
    }

    /// The time at which `ticks` clocks have elapsed since time 0.
    fn at(ticks: u64) -> VirtualTime {
        ticks_to_ns_ceil(ticks)
    }

    fn read_word(pit: &mut Pit, channel: u16, now: VirtualTime) -> u16 {
        let lsb = pit.read(channel, 1, now) as u16;
        let msb = pit.read(channel, 1, now) as u16;
        lsb | (msb << 8)
    }

    #[test]
    fn mode0_out_rises_at_terminal_count_once() {
        let mut pit = Pit::new();
        program(&mut pit, 0, 0, 100, 0);
        assert!(!pit.out(0, 0));
        assert!(!pit.out(0, at(100) - 1));
        assert!(pit.out(0, at(100)));
        assert_eq!(pit.next_irq0_edge(0), Some(at(100)));
        assert_eq!(pit.next_irq0_edge(at(100)), None, "one edge only");
        assert!(pit.out(0, at(100_000)), "stays high");
    }

    #[test]
    fn mode0_counter_counts_down_and_wraps() {
        let mut pit = Pit::new();
        program(&mut pit, 0, 0, 100, 0);
        assert_eq!(read_word(&mut pit, 0, at(30)), 70);
        // After terminal count the counter keeps going: 100 - 101 = 0xFFFF.
        assert_eq!(read_word(&mut pit, 0, at(101)), 0xFFFF);
    }

    #[test]
    fn mode0_new_count_restarts_and_lowers_out() {
        let mut pit = Pit::new();
        program(&mut pit, 0, 0, 10, 0);
        assert!(pit.out(0, at(10)));
        pit.write(0, 1, 50, at(20)); // LSB: stops counting
        assert_eq!(read_word(&mut pit, 0, at(40)), 0xFFF6, "frozen at 10 - 20");
        pit.write(0, 1, 0, at(40)); // MSB: count 50 from here
        assert!(!pit.out(0, at(40)));
        assert_eq!(
            pit.next_irq0_edge(at(40)),
            Some(at(40) + ticks_to_ns_ceil(50))
        );
    }

    #[test]
    fn mode1_one_shot_is_triggered_by_gate2() {
        let mut pit = Pit::new();
        program(&mut pit, 2, 1, 50, 0);
        assert!(pit.out(2, at(100)), "high until triggered");
        assert_eq!(pit.next_rising_edge(2, at(100)), None);
        pit.port61_write(PORT61_GATE2, at(100));
        assert!(!pit.out(2, at(100)));
        assert!(!pit.out(2, at(149)));
        assert_eq!(
            pit.next_rising_edge(2, at(100)),
            Some(at(100) + ticks_to_ns_ceil(50))
        );
        assert!(pit.out(2, at(151)));
        assert_eq!(pit.port61_read(at(151)) & PORT61_OUT2, PORT61_OUT2);
    }

    #[test]
    fn mode1_retrigger_restarts_the_one_shot() {
        let mut pit = Pit::new();
        program(&mut pit, 2, 1, 50, 0);
        pit.port61_write(PORT61_GATE2, 0);
        let retrigger = at(40);
        pit.port61_write(0, retrigger);
        pit.port61_write(PORT61_GATE2, retrigger);
        assert!(
            !pit.out(2, retrigger + at(20)),
            "retriggered: low for 50 more clocks"
        );
        assert_eq!(read_word(&mut pit, 2, retrigger + at(20)), 30);
    }

    #[test]
    fn mode2_rate_generator_pulses_low_for_one_clock() {
        let mut pit = Pit::new();
        program(&mut pit, 0, 2, 4, 0);
        // Counter: 4 3 2 1 | 4 3 2 1; OUT low while the counter is 1.
        let outs: Vec<bool> = (0..8).map(|t| pit.out(0, at(t))).collect();
        assert_eq!(outs, [true, true, true, false, true, true, true, false]);
        assert_eq!(read_word(&mut pit, 0, at(5)), 3);
        assert_eq!(pit.next_irq0_edge(0), Some(at(4)));
        assert_eq!(pit.next_irq0_edge(at(4)), Some(at(8)));
    }

    #[test]
    fn mode2_new_count_waits_for_end_of_period() {
        let mut pit = Pit::new();
        program(&mut pit, 0, 2, 100, 0);
        program_count_only(&mut pit, 0, 10, at(30));
        assert_eq!(read_word(&mut pit, 0, at(50)), 50, "old period runs on");
        assert_eq!(pit.next_irq0_edge(at(50)), Some(at(100)));
        assert_eq!(
            pit.next_irq0_edge(at(100)),
            Some(at(100) + ticks_to_ns_ceil(10))
        );
    }

    fn program_count_only(pit: &mut Pit, channel: u16, count: u16, now: VirtualTime) {
        pit.write(channel, 1, u32::from(count & 0xFF), now);
        pit.write(channel, 1, u32::from(count >> 8), now);
    }

    #[test]
    fn mode2_gate_low_forces_out_high_and_rising_gate_reloads() {
        let mut pit = Pit::new();
        pit.port61_write(PORT61_GATE2, 0);
        program(&mut pit, 2, 2, 10, 0);
        pit.port61_write(0, at(9)); // gate low while OUT would be low
        assert!(pit.out(2, at(9)));
        assert_eq!(pit.next_rising_edge(2, at(9)), None);
        pit.port61_write(PORT61_GATE2, at(20));
        assert_eq!(read_word(&mut pit, 2, at(20)), 10, "reloaded");
        assert_eq!(
            pit.next_rising_edge(2, at(20)),
            Some(at(20) + ticks_to_ns_ceil(10))
        );
    }

    #[test]
    fn mode3_square_wave_even_count() {
        let mut pit = Pit::new();
        program(&mut pit, 0, 3, 6, 0);
        let outs: Vec<bool> = (0..7).map(|t| pit.out(0, at(t))).collect();
        assert_eq!(outs, [true, true, true, false, false, false, true]);
        // Counts down by two: 6 4 2 | 6 4 2.
        assert_eq!(read_word(&mut pit, 0, at(1)), 4);
        assert_eq!(read_word(&mut pit, 0, at(3)), 6);
        assert_eq!(pit.next_irq0_edge(at(1)), Some(at(6)));
    }

    #[test]
    fn mode3_square_wave_odd_count_is_high_one_clock_longer() {
        let mut pit = Pit::new();
        program(&mut pit, 0, 3, 5, 0);
        let outs: Vec<bool> = (0..6).map(|t| pit.out(0, at(t))).collect();
        assert_eq!(outs, [true, true, true, false, false, true]);
    }

    #[test]
    fn mode4_strobe_is_one_clock_low_after_count() {
        let mut pit = Pit::new();
        program(&mut pit, 0, 4, 10, 0);
        assert!(pit.out(0, at(9)));
        assert!(!pit.out(0, at(10)));
        assert!(pit.out(0, at(11)));
        assert_eq!(pit.next_irq0_edge(0), Some(at(11)));
        assert_eq!(pit.next_irq0_edge(at(11)), None);
    }

    #[test]
    fn mode5_strobe_waits_for_gate_trigger() {
        let mut pit = Pit::new();
        program(&mut pit, 2, 5, 10, 0);
        assert_eq!(pit.next_rising_edge(2, at(50)), None, "not triggered");
        let trigger = at(50);
        pit.port61_write(PORT61_GATE2, trigger);
        assert!(pit.out(2, trigger + at(9)));
        assert!(!pit.out(2, trigger + at(10)));
        assert!(pit.out(2, trigger + at(11)));
        assert_eq!(pit.next_rising_edge(2, trigger), Some(trigger + at(11)));
    }

    #[test]
    fn gate_low_pauses_mode0() {
        let mut pit = Pit::new();
        pit.port61_write(PORT61_GATE2, 0);
        program(&mut pit, 2, 0, 100, 0);
        pit.port61_write(0, at(30));
        assert_eq!(read_word(&mut pit, 2, at(500)), 70, "paused at 70");
        assert_eq!(pit.next_rising_edge(2, at(500)), None);
        pit.port61_write(PORT61_GATE2, at(500));
        assert_eq!(
            pit.next_rising_edge(2, at(500)),
            Some(at(500) + ticks_to_ns_ceil(70))
        );
    }

    #[test]
    fn bcd_counting() {
        let mut pit = Pit::new();
        // 0x31: channel 0, LSB then MSB, mode 0, BCD. Count 0x0100 = 100.
        pit.write(3, 1, 0x31, 0);
        program_count_only(&mut pit, 0, 0x0100, 0);
        assert_eq!(read_word(&mut pit, 0, at(1)), 0x0099);
        assert_eq!(pit.next_irq0_edge(0), Some(at(100)));
        // BCD wraps modulo 10000: 100 - 101 = 9999.
        assert_eq!(read_word(&mut pit, 0, at(101)), 0x9999);
    }

    #[test]
    fn bcd_zero_count_is_ten_thousand() {
        let mut pit = Pit::new();
        pit.write(3, 1, 0x35, 0); // channel 0, word, mode 2, BCD
        program_count_only(&mut pit, 0, 0, 0);
        assert_eq!(pit.next_irq0_edge(0), Some(at(10_000)));
    }

    #[test]
    fn binary_zero_count_is_65536() {
        let mut pit = Pit::new();
        program(&mut pit, 0, 2, 0, 0);
        assert_eq!(pit.next_irq0_edge(0), Some(at(0x1_0000)));
        assert_eq!(read_word(&mut pit, 0, 0), 0);
    }

    #[test]
    fn lsb_only_and_msb_only_access() {
        let mut pit = Pit::new();
        pit.write(3, 1, 0x10, 0); // channel 0, LSB only, mode 0
        pit.write(0, 1, 200, 0);
        assert_eq!(pit.read(0, 1, at(50)), 150);
        pit.write(3, 1, 0x20, 0); // channel 0, MSB only, mode 0
        pit.write(0, 1, 0x02, 0); // count 0x0200
        assert_eq!(pit.read(0, 1, at(0x100)), 0x01);
    }

    #[test]
    fn latch_command_freezes_the_read_value() {
        let mut pit = Pit::new();
        program(&mut pit, 0, 2, 1000, 0);
        pit.write(3, 1, 0x00, at(100)); // latch counter 0
        assert_eq!(pit.read(0, 1, at(300)), (900 & 0xFF) as u32);
        // A second latch before the first is read is ignored.
        pit.write(3, 1, 0x00, at(400));
        assert_eq!(pit.read(0, 1, at(500)), (900 >> 8) as u32);
        // Latch consumed: live value again.
        assert_eq!(read_word(&mut pit, 0, at(600)), 400);
    }

    #[test]
    fn read_back_latches_status_then_count() {
        let mut pit = Pit::new();
        program(&mut pit, 0, 2, 1000, 0);
        // 0xC2: read-back, latch count and status, counter 0.
        pit.write(3, 1, 0xC2, at(10));
        // Status: OUT high, count loaded, LSB-then-MSB, mode 2, binary.
        assert_eq!(pit.read(0, 1, at(20)), 0x80 | 0x30 | 0x04);
        assert_eq!(read_word(&mut pit, 0, at(30)), 990);
    }

    #[test]
    fn read_back_status_shows_null_count_before_load() {
        let mut pit = Pit::new();
        pit.write(3, 1, u32::from(control(1, 0)), 0);
        // 0xE4: read-back, status only, counter 1.
        pit.write(3, 1, 0xE4, 0);
        assert_eq!(
            pit.read(1, 1, 0),
            0x40 | 0x30,
            "OUT low, null count, mode 0"
        );
    }

    #[test]
    fn read_back_of_several_counters() {
        let mut pit = Pit::new();
        program(&mut pit, 0, 2, 1000, 0);
        program(&mut pit, 1, 2, 500, 0);
        // 0xD6: read-back, count only, counters 0 and 1.
        pit.write(3, 1, 0xD6, at(100));
        assert_eq!(read_word(&mut pit, 0, at(200)), 900);
        assert_eq!(read_word(&mut pit, 1, at(200)), 400);
    }

    #[test]
    fn port61_refresh_bit_toggles_every_15085_ns() {
        let mut pit = Pit::new();
        pit.port61_write(0x0F, 0);
        assert_eq!(pit.port61_read(0) & !PORT61_OUT2, 0x0F);
        assert_eq!(
            pit.port61_read(REFRESH_TOGGLE_NS) & PORT61_REFRESH,
            PORT61_REFRESH
        );
        assert_eq!(pit.port61_read(2 * REFRESH_TOGGLE_NS) & PORT61_REFRESH, 0);
        assert!(pit.speaker_enabled());
    }

    #[test]
    fn control_register_reads_ones_and_bad_size_is_ignored() {
        let mut pit = Pit::new();
        assert_eq!(pit.read(3, 1, 0), 0xFF);
        assert_eq!(pit.read(7, 1, 0), 0xFF);
        pit.write(3, 3, 0x34, 0);
        assert_eq!(pit.next_irq0_edge(0), None);
    }

    #[test]
    fn snapshot_roundtrip() {
        let mut pit = Pit::new();
        program(&mut pit, 0, 2, 1000, 0);
        program_count_only(&mut pit, 0, 300, at(10));
        pit.port61_write(PORT61_GATE2, at(5));
        pit.write(3, 1, 0xC2, at(20));
        anyx86_hw::assert_snapshot_roundtrip(&pit, &mut Pit::new());
    }

    #[test]
    fn restore_rejects_bad_state() {
        let mut state = PitState::default();
        state.channels[0].count = 0;
        assert!(Pit::new().restore(&state).is_err());
        let state = PitState {
            port61: PORT61_GATE2,
            ..PitState::default()
        };
        assert!(Pit::new().restore(&state).is_err(), "gate mismatch");
    }
}
