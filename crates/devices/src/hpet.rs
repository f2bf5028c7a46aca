//! High Precision Event Timer: one timer block with a 64-bit main counter
//! at 100 MHz and three comparators, as QEMU's `pc` machine presents it.
//!
//! Reference: IA-PC HPET Specification 1.0a, section 2.3 "Register
//! Descriptions" (capabilities, configuration, interrupt status, main
//! counter, timer N configuration/comparator/FSB route) and 2.3.9 "Timer
//! Interrupt Mapping" (legacy replacement). Behaviour follows QEMU's
//! `hw/timer/hpet.c` where the spec leaves room: what the guest reads is
//! what it would read under QEMU.
//!
//! # Wiring
//!
//! MMIO at 0xFED00000, 1 KiB: the machine passes the offset in the block
//! and the access size (4 or 8; a 4-byte access reaches either half of a
//! 64-bit register). After every access and after [`Hpet::update`]:
//!
//! - schedule an event at [`Hpet::next_deadline`] and call
//!   [`Hpet::update`] when it is due (ignoring stale events);
//! - pulse the lines of the timers in [`Hpet::take_edges`] and drive each
//!   timer's line at [`Hpet::level`]; [`Hpet::route`] says which PIC IRQ and
//!   I/O APIC pin it reaches;
//! - while [`Hpet::legacy_route`] is true, disconnect the PIT's OUT0 from
//!   IRQ0 and the RTC's output from IRQ8 (legacy replacement routing takes
//!   those lines over, QEMU's `pit_enabled` and `rtc_irq_level`).
//!
//! Reads and writes call [`Hpet::update`] themselves first, so an access a
//! little past a deadline sees the comparator already fired.
//!
//! # Timing
//!
//! Nothing ticks. The main counter is `counter + (now - since) / 10` while
//! ENABLE_CNF is set and `counter` while halted. A timer is *armed* (has a
//! deadline) when the counter runs, its Tn_INT_ENB_CNF is set, and the
//! guest wrote its comparator, enabled it, or started the counter, as QEMU
//! arms its `QEMUTimer`. A comparator already behind the counter fires one
//! tick later (QEMU's `hpet_calculate_diff`), so a guest that sets it late
//! still gets its interrupt. Periodic timers add the period to the
//! comparator until it is ahead of the counter, in one multiplication.
//!
//! # Not implemented
//!
//! - FSB (MSI) delivery: Tn_FSB_INT_DEL_CAP is 0, Tn_FSB_EN_CNF reads 0.
//!   The FSB route register is stored and read back, as in QEMU.
//! - Timers that are not enabled (Tn_INT_ENB_CNF clear) do not run, so a
//!   disabled periodic timer's comparator does not advance; and as in QEMU,
//!   their status bit is never set (the spec would set it).
//! - Writes to the main counter while it runs are ignored (QEMU loses them
//!   too).
//! - A Tn_INT_ROUTE_CNF value outside Tn_INT_ROUTE_CAP is ignored (the spec
//!   allows this; QEMU stores it).
//! - Byte and word accesses, and misaligned ones: reads return all-ones,
//!   writes are ignored.

use anyx86_hw::{Snapshot, SnapshotError, VirtualTime};

/// Number of timers (comparators) in the block.
pub const HPET_TIMERS: usize = 3;
/// Size of the MMIO block in bytes.
pub const HPET_MMIO_SIZE: u32 = 0x400;
/// Main counter tick period in femtoseconds (10 ns, 100 MHz), as QEMU.
pub const COUNTER_CLK_PERIOD: u64 = 10_000_000;
/// Main counter tick period in nanoseconds.
const NS_PER_TICK: u64 = COUNTER_CLK_PERIOD / 1_000_000;

/// General Capabilities and ID register (read-only, 64-bit).
pub const GCAP_ID: u32 = 0x000;
/// General Configuration register.
pub const GEN_CONF: u32 = 0x010;
/// General Interrupt Status register (write 1 to clear).
pub const GINTR_STA: u32 = 0x020;
/// Main Counter Value register.
pub const MAIN_CNT: u32 = 0x0F0;
/// Offset of timer 0's registers; timer N is at `TIMER_BASE + N * TIMER_STRIDE`.
pub const TIMER_BASE: u32 = 0x100;
/// Distance between two timers' register sets.
pub const TIMER_STRIDE: u32 = 0x20;
/// Timer N Configuration and Capability register (within a timer's set).
pub const TN_CONF_CAP: u32 = 0x00;
/// Timer N Comparator Value register (within a timer's set).
pub const TN_COMPARATOR: u32 = 0x08;
/// Timer N FSB Interrupt Route register (within a timer's set).
pub const TN_FSB_ROUTE: u32 = 0x10;

/// GCAP_ID: REV_ID, the implementation revision (1).
pub const REV_ID: u64 = 0x01;
/// GCAP_ID: NUM_TIM_CAP, number of the last timer, at bits 12:8.
pub const NUM_TIM_CAP_SHIFT: u32 = 8;
/// GCAP_ID: COUNT_SIZE_CAP, the main counter is 64 bits wide.
pub const COUNT_SIZE_CAP: u64 = 1 << 13;
/// GCAP_ID: LEG_RT_CAP, legacy replacement routing is supported.
pub const LEG_RT_CAP: u64 = 1 << 15;
/// GCAP_ID: VENDOR_ID at bits 31:16 (Intel, as QEMU).
pub const VENDOR_ID: u64 = 0x8086;
/// GCAP_ID: VENDOR_ID field position.
pub const VENDOR_ID_SHIFT: u32 = 16;
/// GCAP_ID: COUNTER_CLK_PERIOD field position (bits 63:32).
pub const COUNTER_CLK_PERIOD_SHIFT: u32 = 32;

/// GEN_CONF: ENABLE_CNF, the main counter runs and timers may interrupt.
pub const ENABLE_CNF: u64 = 1 << 0;
/// GEN_CONF: LEG_RT_CNF, legacy replacement routing (timer 0 → IRQ0/pin 2,
/// timer 1 → IRQ8/pin 8).
pub const LEG_RT_CNF: u64 = 1 << 1;
/// GEN_CONF bits the guest can write.
const GEN_CONF_WRITABLE: u64 = ENABLE_CNF | LEG_RT_CNF;

/// Tn_CONF: Tn_INT_TYPE_CNF, 1 = level-triggered, 0 = edge-triggered.
pub const TN_INT_TYPE_CNF: u64 = 1 << 1;
/// Tn_CONF: Tn_INT_ENB_CNF, the timer may interrupt.
pub const TN_INT_ENB_CNF: u64 = 1 << 2;
/// Tn_CONF: Tn_TYPE_CNF, periodic mode.
pub const TN_TYPE_CNF: u64 = 1 << 3;
/// Tn_CONF: Tn_PER_INT_CAP, periodic mode is supported (read-only).
pub const TN_PER_INT_CAP: u64 = 1 << 4;
/// Tn_CONF: Tn_SIZE_CAP, the comparator is 64 bits wide (read-only).
pub const TN_SIZE_CAP: u64 = 1 << 5;
/// Tn_CONF: Tn_VAL_SET_CNF, the next comparator write in periodic mode
/// sets the accumulator as well as the period; cleared by that write.
pub const TN_VAL_SET_CNF: u64 = 1 << 6;
/// Tn_CONF: Tn_32MODE_CNF, the timer works as a 32-bit timer.
pub const TN_32MODE_CNF: u64 = 1 << 8;
/// Tn_CONF: Tn_INT_ROUTE_CNF field position (bits 13:9, I/O APIC pin).
pub const TN_INT_ROUTE_SHIFT: u32 = 9;
/// Tn_CONF: Tn_INT_ROUTE_CNF field mask.
pub const TN_INT_ROUTE_CNF: u64 = 0x1F << TN_INT_ROUTE_SHIFT;
/// Tn_CONF: Tn_INT_ROUTE_CAP field position (bits 63:32, one bit per pin).
pub const TN_INT_ROUTE_CAP_SHIFT: u32 = 32;
/// Pins each timer may be routed to: QEMU's `pc` machine (PIIX) passes
/// `hpet-intcap` 0x4, I/O APIC pin 2 only.
pub const HPET_INTCAP: u64 = 0x4;
/// Tn_CONF bits the guest can write (FSB_EN_CNF excluded: no FSB).
const TN_CONF_WRITABLE: u64 = TN_INT_TYPE_CNF
    | TN_INT_ENB_CNF
    | TN_TYPE_CNF
    | TN_VAL_SET_CNF
    | TN_32MODE_CNF
    | TN_INT_ROUTE_CNF;
/// Read-only capability bits of every timer.
const TN_CAPS: u64 = TN_PER_INT_CAP | TN_SIZE_CAP | (HPET_INTCAP << TN_INT_ROUTE_CAP_SHIFT);

/// Largest period QEMU accepts in 64-bit mode (positive as a signed value).
const PERIOD_MAX_64: u64 = u64::MAX >> 1;
/// Largest period QEMU accepts in 32-bit mode.
const PERIOD_MAX_32: u64 = (u32::MAX >> 1) as u64;
/// Ticks in one turn of a 32-bit timer.
const WRAP_32: u64 = 1 << 32;
/// Comparator value at reset; QEMU does not arm such a timer when the
/// counter starts (it would fire at once).
const CMP_RESET: u64 = u64::MAX;

/// Where a timer's interrupt output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HpetRoute {
    /// 8259 IRQ line driven as well (legacy replacement only).
    pub pic_irq: Option<u8>,
    /// I/O APIC input pin.
    pub ioapic_pin: u8,
}

/// Plain-data state of one timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HpetTimerState {
    /// Writable bits of Tn_CONF (capability bits are added on read).
    pub config: u64,
    /// Comparator (in periodic mode, the accumulator: the next match).
    pub comparator: u64,
    /// Period of a periodic timer, in ticks.
    pub period: u64,
    /// Tn_FSB_ROUTE as written (stored only).
    pub fsb_route: u64,
    /// 32-bit one-shot: the armed deadline is the counter's wrap, after
    /// which the comparator match is armed.
    pub wrap_pending: bool,
    /// When the armed timer fires; `None` when not armed.
    pub due: Option<VirtualTime>,
}
anyx86_hw::wire_struct!(HpetTimerState {
    config,
    comparator,
    period,
    fsb_route,
    wrap_pending,
    due
});

impl Default for HpetTimerState {
    fn default() -> Self {
        Self {
            config: 0,
            comparator: CMP_RESET,
            period: 0,
            fsb_route: 0,
            wrap_pending: false,
            due: None,
        }
    }
}

/// Plain-data state of the HPET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HpetState {
    /// GEN_CONF (ENABLE_CNF, LEG_RT_CNF).
    pub config: u64,
    /// GINTR_STA: level-triggered timers that fired and are not cleared.
    pub isr: u64,
    /// Main counter at `since` (while halted: its value).
    pub counter: u64,
    /// When the main counter last started.
    pub since: VirtualTime,
    /// Timers 0-2.
    pub timers: [HpetTimerState; HPET_TIMERS],
    /// Edge-triggered timers that fired since the machine last looked.
    pub edges: u8,
}
anyx86_hw::wire_struct!(HpetState {
    config,
    isr,
    counter,
    since,
    timers,
    edges
});

/// The HPET timer block.
#[derive(Debug, Clone, Default)]
pub struct Hpet {
    state: HpetState,
}

/// The register a timer-block offset names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reg {
    Caps,
    Config,
    Status,
    Counter,
    TimerConfig(usize),
    Comparator(usize),
    FsbRoute(usize),
    Unknown,
}

/// Decodes the 8-byte-aligned offset of a 64-bit register.
fn decode(offset: u32) -> Reg {
    match offset {
        GCAP_ID => Reg::Caps,
        GEN_CONF => Reg::Config,
        GINTR_STA => Reg::Status,
        MAIN_CNT => Reg::Counter,
        TIMER_BASE..HPET_MMIO_SIZE => {
            let timer = ((offset - TIMER_BASE) / TIMER_STRIDE) as usize;
            if timer >= HPET_TIMERS {
                return Reg::Unknown;
            }
            match (offset - TIMER_BASE) % TIMER_STRIDE {
                TN_CONF_CAP => Reg::TimerConfig(timer),
                TN_COMPARATOR => Reg::Comparator(timer),
                TN_FSB_ROUTE => Reg::FsbRoute(timer),
                _ => Reg::Unknown,
            }
        }
        _ => Reg::Unknown,
    }
}

/// Splits an access into the 64-bit register offset, the bit shift of the
/// accessed part and its mask; `None` for a bad size or alignment.
fn access(offset: u32, size: u8) -> Option<(u32, u32, u64)> {
    match size {
        8 if offset % 8 == 0 => Some((offset, 0, u64::MAX)),
        4 if offset % 4 == 0 => {
            let shift = (offset % 8) * 8;
            Some((offset & !7, shift, u64::from(u32::MAX) << shift))
        }
        _ => None,
    }
}

/// Ticks until `cmp` from `current`, at least 1 (a comparator behind the
/// counter fires on the next tick), as QEMU's `hpet_calculate_diff`.
fn ticks_until(cmp: u64, current: u64, mode32: bool) -> u64 {
    if mode32 {
        let diff = (cmp as u32).wrapping_sub(current as u32);
        if (diff as i32) > 0 {
            u64::from(diff)
        } else {
            1
        }
    } else {
        let diff = cmp.wrapping_sub(current);
        if (diff as i64) > 0 {
            diff
        } else {
            1
        }
    }
}

/// Advances a periodic comparator by whole periods until it is ahead of
/// `current` (in the timer's width), in one step.
fn advance(cmp: u64, period: u64, current: u64, mode32: bool) -> u64 {
    if mode32 {
        let (cmp, period) = (cmp as u32, period as u32);
        let behind = (current as u32).wrapping_sub(cmp);
        if (behind as i32) < 0 || period == 0 {
            return u64::from(cmp);
        }
        let periods = behind / period + 1;
        u64::from(cmp.wrapping_add(periods.wrapping_mul(period)))
    } else {
        let behind = current.wrapping_sub(cmp);
        if (behind as i64) < 0 || period == 0 {
            return cmp;
        }
        let periods = behind / period + 1;
        cmp.wrapping_add(periods.wrapping_mul(period))
    }
}

impl HpetTimerState {
    fn mode32(&self) -> bool {
        self.config & TN_32MODE_CNF != 0
    }

    fn periodic(&self) -> bool {
        self.config & TN_TYPE_CNF != 0
    }

    fn enabled(&self) -> bool {
        self.config & TN_INT_ENB_CNF != 0
    }

    fn level_triggered(&self) -> bool {
        self.config & TN_INT_TYPE_CNF != 0
    }

    fn route_cnf(&self) -> u8 {
        ((self.config & TN_INT_ROUTE_CNF) >> TN_INT_ROUTE_SHIFT) as u8
    }
}

impl Hpet {
    /// The HPET in its power-on state: counter halted at 0, timers off.
    pub fn new() -> Self {
        Self::default()
    }

    /// LEG_RT_CNF: legacy replacement routing is on.
    pub fn legacy_route(&self) -> bool {
        self.state.config & LEG_RT_CNF != 0
    }

    /// Returns the edge-triggered timers (bit N = timer N) that fired with
    /// Tn_INT_ENB_CNF set since the last call, and forgets them.
    pub fn take_edges(&mut self) -> u8 {
        std::mem::take(&mut self.state.edges)
    }

    /// Output of a level-triggered timer: its status bit, with the timer
    /// and the block enabled. False for edge timers and bad indices.
    pub fn level(&self, timer: usize) -> bool {
        let Some(t) = self.state.timers.get(timer) else {
            return false;
        };
        self.running() && t.enabled() && t.level_triggered() && self.state.isr & (1 << timer) != 0
    }

    /// Where timer `timer`'s output goes.
    pub fn route(&self, timer: usize) -> HpetRoute {
        match (self.legacy_route(), timer) {
            (true, 0) => HpetRoute {
                pic_irq: Some(0),
                ioapic_pin: 2,
            },
            (true, 1) => HpetRoute {
                pic_irq: Some(8),
                ioapic_pin: 8,
            },
            _ => HpetRoute {
                pic_irq: None,
                ioapic_pin: self.state.timers.get(timer).map_or(0, |t| t.route_cnf()),
            },
        }
    }

    /// The earliest armed comparator match (or 32-bit wrap); `None` when
    /// the counter is halted or no timer is armed.
    pub fn next_deadline(&self, _now: VirtualTime) -> Option<VirtualTime> {
        self.state.timers.iter().filter_map(|t| t.due).min()
    }

    /// Fires every timer due by `now`: sets the status bit of level timers,
    /// records edge timers for [`Hpet::take_edges`], reloads periodic
    /// comparators and re-arms a 32-bit one-shot after its wrap.
    pub fn update(&mut self, now: VirtualTime) {
        for timer in 0..HPET_TIMERS {
            // A wrap then a match can both be due; a periodic timer is
            // brought ahead of `now` in one step. Three rounds is plenty.
            for _ in 0..3 {
                match self.state.timers[timer].due {
                    Some(due) if due <= now => self.fire(timer, now),
                    _ => break,
                }
            }
        }
    }

    /// Reads `size` (4 or 8) bytes at `offset` in the block.
    pub fn read(&mut self, offset: u32, size: u8, now: VirtualTime) -> u64 {
        self.update(now);
        match access(offset, size) {
            Some((reg, shift, mask)) => (self.read_reg(decode(reg), now) & mask) >> shift,
            None => u64::MAX >> (64 - 8 * u32::from(size.clamp(1, 8))),
        }
    }

    /// Writes the low `size` (4 or 8) bytes of `value` at `offset`.
    pub fn write(&mut self, offset: u32, size: u8, value: u64, now: VirtualTime) {
        self.update(now);
        if let Some((reg, shift, mask)) = access(offset, size) {
            let value = (value << shift) & mask;
            self.write_reg(decode(reg), value, mask, now);
        }
    }

    fn running(&self) -> bool {
        self.state.config & ENABLE_CNF != 0
    }

    fn capabilities() -> u64 {
        let last_timer = (HPET_TIMERS as u64 - 1) << NUM_TIM_CAP_SHIFT;
        REV_ID
            | last_timer
            | COUNT_SIZE_CAP
            | LEG_RT_CAP
            | (VENDOR_ID << VENDOR_ID_SHIFT)
            | (COUNTER_CLK_PERIOD << COUNTER_CLK_PERIOD_SHIFT)
    }

    /// Ticks counted since the counter started, at `now`.
    fn elapsed(&self, now: VirtualTime) -> u64 {
        now.saturating_sub(self.state.since) / NS_PER_TICK
    }

    /// The main counter at `now`.
    fn counter(&self, now: VirtualTime) -> u64 {
        if self.running() {
            self.state.counter.wrapping_add(self.elapsed(now))
        } else {
            self.state.counter
        }
    }

    /// The instant the counter has counted `ticks` more than at `now`.
    fn time_after(&self, ticks: u64, now: VirtualTime) -> VirtualTime {
        let total = self.elapsed(now).saturating_add(ticks);
        self.state
            .since
            .saturating_add(total.saturating_mul(NS_PER_TICK))
    }

    fn read_reg(&self, reg: Reg, now: VirtualTime) -> u64 {
        match reg {
            Reg::Caps => Self::capabilities(),
            Reg::Config => self.state.config,
            Reg::Status => self.state.isr,
            Reg::Counter => self.counter(now),
            Reg::TimerConfig(n) => self.state.timers[n].config | TN_CAPS,
            Reg::Comparator(n) => self.state.timers[n].comparator,
            Reg::FsbRoute(n) => self.state.timers[n].fsb_route,
            Reg::Unknown => 0,
        }
    }

    /// `value` holds the written bytes in place, `mask` says which.
    fn write_reg(&mut self, reg: Reg, value: u64, mask: u64, now: VirtualTime) {
        let merge = |old: u64| (old & !mask) | value;
        match reg {
            Reg::Config => self.write_config(merge(self.state.config), now),
            Reg::Status => self.state.isr &= !value,
            Reg::Counter if !self.running() => self.state.counter = merge(self.state.counter),
            Reg::TimerConfig(n) => {
                let new = merge(self.state.timers[n].config);
                self.write_timer_config(n, new, now);
            }
            Reg::Comparator(n) => self.write_comparator(n, value, mask, now),
            Reg::FsbRoute(n) => {
                let timer = &mut self.state.timers[n];
                timer.fsb_route = (timer.fsb_route & !mask) | value;
            }
            Reg::Caps | Reg::Counter | Reg::Unknown => {}
        }
    }

    fn write_config(&mut self, new: u64, now: VirtualTime) {
        let old = self.state.config;
        self.state.config = new & GEN_CONF_WRITABLE;
        if old & ENABLE_CNF == 0 && new & ENABLE_CNF != 0 {
            self.state.since = now;
            for n in 0..HPET_TIMERS {
                if self.state.timers[n].comparator != CMP_RESET {
                    self.arm(n, now);
                }
            }
        } else if old & ENABLE_CNF != 0 && new & ENABLE_CNF == 0 {
            // The counter stops where it is; QEMU deletes every timer and
            // drops their outputs.
            self.state.counter = self.state.counter.wrapping_add(self.elapsed(now));
            self.state.isr = 0;
            for timer in &mut self.state.timers {
                timer.due = None;
            }
        }
    }

    fn write_timer_config(&mut self, n: usize, new: u64, now: VirtualTime) {
        let timer = &mut self.state.timers[n];
        let old = timer.config;
        let mut config = new & TN_CONF_WRITABLE;
        let route = ((config & TN_INT_ROUTE_CNF) >> TN_INT_ROUTE_SHIFT) as u32;
        if HPET_INTCAP & (1 << route) == 0 {
            // An unsupported pin: the field keeps its value (spec 2.3.8).
            config = (config & !TN_INT_ROUTE_CNF) | (old & TN_INT_ROUTE_CNF);
        }
        timer.config = config;
        if config & TN_32MODE_CNF != 0 {
            timer.comparator &= u64::from(u32::MAX);
            timer.period &= u64::from(u32::MAX);
        }
        if config & TN_INT_TYPE_CNF == 0 {
            // Edge mode: the status bit has no meaning and reads 0.
            self.state.isr &= !(1 << n);
        }
        if old & TN_INT_ENB_CNF == 0 && config & TN_INT_ENB_CNF != 0 {
            self.arm(n, now);
        } else if old & TN_INT_ENB_CNF != 0 && config & TN_INT_ENB_CNF == 0 {
            self.state.timers[n].due = None;
            self.state.isr &= !(1 << n);
        }
    }

    /// Comparator write, as QEMU: in periodic mode it sets the period, and
    /// the accumulator too only with Tn_VAL_SET_CNF.
    fn write_comparator(&mut self, n: usize, value: u64, mask: u64, now: VirtualTime) {
        let timer = &mut self.state.timers[n];
        let (value, mask) = if timer.mode32() {
            // The high half of a 32-bit comparator is always zero.
            (value & u64::from(u32::MAX), mask & u64::from(u32::MAX))
        } else {
            (value, mask)
        };
        if mask == 0 {
            return;
        }
        if !timer.periodic() || timer.config & TN_VAL_SET_CNF != 0 {
            timer.comparator = (timer.comparator & !mask) | value;
        }
        if timer.periodic() {
            let limit = if timer.mode32() {
                PERIOD_MAX_32
            } else {
                PERIOD_MAX_64
            };
            timer.period = ((timer.period & !mask) | value) & limit;
        }
        timer.config &= !TN_VAL_SET_CNF;
        self.arm(n, now);
    }

    /// Sets timer `n`'s deadline from its comparator (QEMU's
    /// `hpet_set_timer`), if the counter runs and the timer is enabled.
    fn arm(&mut self, n: usize, now: VirtualTime) {
        let current = self.counter(now);
        let running = self.running();
        let timer = self.state.timers[n];
        let mut ticks = ticks_until(timer.comparator, current, timer.mode32());
        let mut wrap_pending = false;
        if timer.mode32() && !timer.periodic() {
            // One-shot 32-bit timers also interrupt when the counter's low
            // half rolls over (spec 2.3.9.2.2).
            let to_wrap = WRAP_32 - (current & u64::from(u32::MAX));
            if to_wrap < ticks {
                ticks = to_wrap;
                wrap_pending = true;
            }
        }
        let due = (running && timer.enabled()).then(|| self.time_after(ticks, now));
        let timer = &mut self.state.timers[n];
        timer.wrap_pending = wrap_pending && due.is_some();
        timer.due = due;
    }

    /// Timer `n` reached its deadline; `now` is at or past it (QEMU's
    /// `hpet_timer` callback).
    fn fire(&mut self, n: usize, now: VirtualTime) {
        let current = self.counter(now);
        let timer = self.state.timers[n];
        if timer.periodic() && timer.period != 0 {
            let cmp = advance(timer.comparator, timer.period, current, timer.mode32());
            self.state.timers[n].comparator = cmp;
            let ticks = ticks_until(cmp, current, timer.mode32());
            self.state.timers[n].due = Some(self.time_after(ticks, now));
        } else if timer.wrap_pending {
            let ticks = ticks_until(timer.comparator, current, true);
            self.state.timers[n].due = Some(self.time_after(ticks, now));
            self.state.timers[n].wrap_pending = false;
        } else {
            self.state.timers[n].due = None;
        }
        self.raise(n);
    }

    fn raise(&mut self, n: usize) {
        let timer = self.state.timers[n];
        if !timer.enabled() || !self.running() {
            self.state.isr &= !(1 << n);
        } else if timer.level_triggered() {
            self.state.isr |= 1 << n;
        } else {
            self.state.isr &= !(1 << n);
            self.state.edges |= 1 << n;
        }
    }
}

impl Snapshot for Hpet {
    type State = HpetState;

    fn save(&self) -> HpetState {
        self.state.clone()
    }

    fn restore(&mut self, state: &HpetState) -> Result<(), SnapshotError> {
        let all_timers = (1u64 << HPET_TIMERS) - 1;
        if state.config & !GEN_CONF_WRITABLE != 0 {
            return Err(invalid("config", "reserved GEN_CONF bits set"));
        }
        if state.isr & !all_timers != 0 || u64::from(state.edges) & !all_timers != 0 {
            return Err(invalid("isr", "status of a timer that does not exist"));
        }
        if state
            .timers
            .iter()
            .any(|t| t.config & !TN_CONF_WRITABLE != 0)
        {
            return Err(invalid("timers.config", "read-only Tn_CONF bits set"));
        }
        self.state = state.clone();
        Ok(())
    }
}

fn invalid(field: &'static str, why: &'static str) -> SnapshotError {
    SnapshotError::Invalid { field, why }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::test_util::XorShift;

    /// Offset of timer `n`'s register `reg`.
    fn timer_reg(n: u32, reg: u32) -> u32 {
        TIMER_BASE + n * TIMER_STRIDE + reg
    }

    /// An HPET with its counter started at time 0.
    fn running() -> Hpet {
        let mut hpet = Hpet::new();
        hpet.write(GEN_CONF, 4, ENABLE_CNF, 0);
        hpet
    }

    #[test]
    fn capabilities_read_back() {
        let mut hpet = Hpet::new();
        // Rev 1, NUM_TIM_CAP 2 (three timers), COUNT_SIZE_CAP, LEG_RT_CAP,
        // vendor 8086: QEMU's 0x8086A201; period 10 ns = 0x989680 fs.
        assert_eq!(hpet.read(GCAP_ID, 4, 0), 0x8086_A201);
        assert_eq!(hpet.read(GCAP_ID + 4, 4, 0), 0x0098_9680);
        assert_eq!(hpet.read(GCAP_ID, 8, 0), 0x0098_9680_8086_A201);
        for n in 0..3 {
            // Periodic and 64-bit capable; may route to I/O APIC pin 2.
            assert_eq!(hpet.read(timer_reg(n, TN_CONF_CAP), 8, 0), 0x4_0000_0030);
        }
        assert_eq!(hpet.read(timer_reg(0, TN_COMPARATOR), 8, 0), u64::MAX);
    }

    #[test]
    fn capabilities_are_read_only() {
        let mut hpet = Hpet::new();
        hpet.write(GCAP_ID, 8, 0, 0);
        assert_eq!(hpet.read(GCAP_ID, 4, 0), 0x8086_A201);
    }

    #[test]
    fn counter_runs_only_when_enabled() {
        let mut hpet = Hpet::new();
        assert_eq!(hpet.read(MAIN_CNT, 8, 1_000), 0, "halted at power-on");
        hpet.write(GEN_CONF, 4, ENABLE_CNF, 1_000);
        // 100 MHz: 1 µs is 100 ticks; a partial tick is not counted.
        assert_eq!(hpet.read(MAIN_CNT, 8, 2_000), 100);
        assert_eq!(hpet.read(MAIN_CNT, 4, 2_009), 100);
        hpet.write(GEN_CONF, 4, 0, 3_000);
        assert_eq!(hpet.read(MAIN_CNT, 8, 9_000), 200, "kept while halted");
        hpet.write(GEN_CONF, 4, ENABLE_CNF, 10_000);
        assert_eq!(hpet.read(MAIN_CNT, 8, 10_500), 250);
    }

    #[test]
    fn counter_writable_only_while_halted() {
        let mut hpet = Hpet::new();
        hpet.write(MAIN_CNT + 4, 4, 0x1234, 0);
        hpet.write(MAIN_CNT, 4, 0xFFFF_FFF0, 0);
        assert_eq!(hpet.read(MAIN_CNT, 8, 0), 0x1234_FFFF_FFF0);
        hpet.write(GEN_CONF, 4, ENABLE_CNF, 0);
        hpet.write(MAIN_CNT, 8, 0, 0);
        // 32 ticks later the low half has carried into the high half.
        assert_eq!(hpet.read(MAIN_CNT, 4, 320), 0x10);
        assert_eq!(hpet.read(MAIN_CNT + 4, 4, 320), 0x1235);
    }

    #[test]
    fn one_shot_level_timer_sets_status_until_cleared() {
        let mut hpet = running();
        let cfg = TN_INT_TYPE_CNF | TN_INT_ENB_CNF;
        hpet.write(timer_reg(0, TN_CONF_CAP), 4, cfg, 0);
        hpet.write(timer_reg(0, TN_COMPARATOR), 8, 500, 0);
        // 500 ticks of 10 ns.
        assert_eq!(hpet.next_deadline(0), Some(5_000));
        hpet.update(4_999);
        assert!(!hpet.level(0));
        hpet.update(5_000);
        assert!(hpet.level(0));
        assert_eq!(hpet.read(GINTR_STA, 4, 5_000), 1);
        assert_eq!(hpet.next_deadline(5_000), None, "one-shot");
        hpet.write(GINTR_STA, 4, 0b110, 5_000);
        assert!(hpet.level(0), "writing 0 to bit 0 keeps it");
        hpet.write(GINTR_STA, 4, 1, 5_000);
        assert!(!hpet.level(0));
        assert_eq!(hpet.take_edges(), 0);
    }

    #[test]
    fn edge_timer_records_a_pulse() {
        let mut hpet = running();
        hpet.write(timer_reg(2, TN_CONF_CAP), 4, TN_INT_ENB_CNF, 0);
        hpet.write(timer_reg(2, TN_COMPARATOR), 4, 10, 0);
        hpet.update(100);
        assert_eq!(hpet.take_edges(), 0b100);
        assert_eq!(hpet.take_edges(), 0);
        assert_eq!(hpet.read(GINTR_STA, 4, 100), 0, "no status in edge mode");
    }

    #[test]
    fn disabled_timer_is_not_armed() {
        let mut hpet = running();
        hpet.write(timer_reg(0, TN_COMPARATOR), 8, 500, 0);
        assert_eq!(hpet.next_deadline(0), None);
        hpet.write(timer_reg(0, TN_CONF_CAP), 4, TN_INT_ENB_CNF, 0);
        assert_eq!(hpet.next_deadline(0), Some(5_000));
    }

    #[test]
    fn comparator_behind_counter_fires_next_tick() {
        let mut hpet = running();
        hpet.write(timer_reg(0, TN_CONF_CAP), 4, TN_INT_ENB_CNF, 0);
        hpet.write(timer_reg(0, TN_COMPARATOR), 8, 10, 1_000);
        assert_eq!(hpet.next_deadline(1_000), Some(1_010));
    }

    #[test]
    fn periodic_timer_reloads_exactly() {
        let mut hpet = running();
        // Linux's sequence: periodic + VAL_SET, then the first match, then
        // the period.
        let cfg = TN_INT_ENB_CNF | TN_TYPE_CNF | TN_VAL_SET_CNF;
        hpet.write(timer_reg(0, TN_CONF_CAP), 4, cfg, 0);
        hpet.write(timer_reg(0, TN_COMPARATOR), 8, 1_000, 0);
        hpet.write(timer_reg(0, TN_COMPARATOR), 8, 300, 0);
        assert_eq!(
            hpet.read(timer_reg(0, TN_CONF_CAP), 4, 0) & TN_VAL_SET_CNF,
            0
        );
        let mut deadline = 10_000;
        for _ in 0..5 {
            assert_eq!(hpet.next_deadline(deadline - 1), Some(deadline));
            hpet.update(deadline);
            assert_eq!(hpet.take_edges(), 1);
            deadline += 3_000;
        }
        assert_eq!(hpet.read(timer_reg(0, TN_COMPARATOR), 8, 22_000), 2_500);
    }

    #[test]
    fn late_periodic_update_catches_up_once() {
        let mut hpet = running();
        let cfg = TN_INT_ENB_CNF | TN_TYPE_CNF | TN_VAL_SET_CNF;
        hpet.write(timer_reg(0, TN_CONF_CAP), 4, cfg, 0);
        hpet.write(timer_reg(0, TN_COMPARATOR), 8, 100, 0);
        // First match at tick 100, period 100 ticks (1 µs); 9.5 periods late:
        // one pulse, and the next match is at tick 1100.
        hpet.update(10_500);
        assert_eq!(hpet.take_edges(), 1);
        assert_eq!(hpet.next_deadline(10_500), Some(11_000));
    }

    #[test]
    fn tiny_periods_do_not_spin() {
        for period in [0, 1] {
            let mut hpet = running();
            let cfg = TN_INT_ENB_CNF | TN_TYPE_CNF | TN_VAL_SET_CNF;
            hpet.write(timer_reg(1, TN_CONF_CAP), 4, cfg, 0);
            hpet.write(timer_reg(1, TN_COMPARATOR), 8, period, 0);
            hpet.update(u64::MAX / 2);
            hpet.update(u64::MAX);
            assert_eq!(hpet.take_edges(), 0b10);
        }
    }

    #[test]
    fn mode32_truncates_and_ignores_high_half() {
        let mut hpet = running();
        hpet.write(timer_reg(0, TN_COMPARATOR), 8, 0x1_0000_0005, 0);
        hpet.write(timer_reg(0, TN_CONF_CAP), 4, TN_32MODE_CNF, 0);
        assert_eq!(hpet.read(timer_reg(0, TN_COMPARATOR), 8, 0), 5);
        hpet.write(timer_reg(0, TN_COMPARATOR + 4), 4, 7, 0);
        assert_eq!(hpet.read(timer_reg(0, TN_COMPARATOR + 4), 4, 0), 0);
    }

    #[test]
    fn mode32_periodic_wraps() {
        let mut hpet = Hpet::new();
        hpet.write(MAIN_CNT, 8, 0xFFFF_FF00, 0);
        hpet.write(GEN_CONF, 4, ENABLE_CNF, 0);
        let cfg = TN_INT_ENB_CNF | TN_TYPE_CNF | TN_VAL_SET_CNF | TN_32MODE_CNF;
        hpet.write(timer_reg(0, TN_CONF_CAP), 4, cfg, 0);
        hpet.write(timer_reg(0, TN_COMPARATOR), 4, 0xFFFF_FF80, 0);
        hpet.write(timer_reg(0, TN_COMPARATOR), 4, 0x100, 0);
        assert_eq!(hpet.next_deadline(0), Some(0x80 * 10));
        hpet.update(0x80 * 10);
        // 0xFFFFFF80 + 0x100 wraps to 0x80, 0x100 ticks later.
        assert_eq!(hpet.read(timer_reg(0, TN_COMPARATOR), 8, 0x80 * 10), 0x80);
        assert_eq!(hpet.next_deadline(0x80 * 10), Some(0x180 * 10));
    }

    #[test]
    fn mode32_one_shot_also_fires_at_wrap() {
        let mut hpet = Hpet::new();
        hpet.write(MAIN_CNT, 8, 0xFFFF_FF00, 0);
        hpet.write(GEN_CONF, 4, ENABLE_CNF, 0);
        let cfg = TN_INT_ENB_CNF | TN_32MODE_CNF;
        hpet.write(timer_reg(0, TN_CONF_CAP), 4, cfg, 0);
        hpet.write(timer_reg(0, TN_COMPARATOR), 4, 0x10, 0);
        // The low half rolls over after 0x100 ticks, before the match.
        assert_eq!(hpet.next_deadline(0), Some(0x100 * 10));
        hpet.update(0x100 * 10);
        assert_eq!(hpet.take_edges(), 1);
        assert_eq!(hpet.next_deadline(0x100 * 10), Some(0x110 * 10));
        hpet.update(0x110 * 10);
        assert_eq!(hpet.take_edges(), 1);
        assert_eq!(hpet.next_deadline(0x110 * 10), None);
    }

    #[test]
    fn stopping_the_counter_disarms_and_restarting_rearms() {
        let mut hpet = running();
        hpet.write(timer_reg(0, TN_CONF_CAP), 4, TN_INT_ENB_CNF, 0);
        hpet.write(timer_reg(0, TN_COMPARATOR), 8, 500, 0);
        hpet.write(GEN_CONF, 4, 0, 1_000);
        assert_eq!(hpet.next_deadline(1_000), None);
        // Restarted at 2 µs from tick 100: tick 500 comes 400 ticks later.
        hpet.write(GEN_CONF, 4, ENABLE_CNF, 2_000);
        assert_eq!(hpet.next_deadline(2_000), Some(6_000));
    }

    #[test]
    fn route_field_accepts_only_capable_pins() {
        let mut hpet = Hpet::new();
        hpet.write(timer_reg(0, TN_CONF_CAP), 4, 5 << TN_INT_ROUTE_SHIFT, 0);
        assert_eq!(hpet.route(0).ioapic_pin, 0, "pin 5 is not in the cap");
        hpet.write(timer_reg(0, TN_CONF_CAP), 4, 2 << TN_INT_ROUTE_SHIFT, 0);
        let route = hpet.route(0);
        assert_eq!(
            route,
            HpetRoute {
                pic_irq: None,
                ioapic_pin: 2
            }
        );
    }

    #[test]
    fn legacy_route_takes_irq0_and_irq8() {
        let mut hpet = Hpet::new();
        hpet.write(GEN_CONF, 4, LEG_RT_CNF, 0);
        assert!(hpet.legacy_route());
        assert_eq!(
            hpet.route(0),
            HpetRoute {
                pic_irq: Some(0),
                ioapic_pin: 2
            }
        );
        assert_eq!(
            hpet.route(1),
            HpetRoute {
                pic_irq: Some(8),
                ioapic_pin: 8
            }
        );
        assert_eq!(
            hpet.route(2),
            HpetRoute {
                pic_irq: None,
                ioapic_pin: 0
            }
        );
        assert_eq!(hpet.read(GEN_CONF, 8, 0), LEG_RT_CNF);
    }

    #[test]
    fn level_needs_block_enable() {
        let mut hpet = running();
        let cfg = TN_INT_TYPE_CNF | TN_INT_ENB_CNF;
        hpet.write(timer_reg(1, TN_CONF_CAP), 4, cfg, 0);
        hpet.write(timer_reg(1, TN_COMPARATOR), 8, 1, 0);
        hpet.update(10);
        assert!(hpet.level(1));
        hpet.write(GEN_CONF, 4, 0, 20);
        assert!(!hpet.level(1));
    }

    #[test]
    fn bad_sizes_read_ones_and_ignore_writes() {
        let mut hpet = Hpet::new();
        assert_eq!(hpet.read(GEN_CONF, 2, 0), 0xFFFF);
        assert_eq!(hpet.read(GEN_CONF + 2, 4, 0), 0xFFFF_FFFF);
        assert_eq!(hpet.read(GEN_CONF + 4, 8, 0), u64::MAX);
        hpet.write(GEN_CONF, 1, ENABLE_CNF, 0);
        assert_eq!(hpet.read(GEN_CONF, 4, 0), 0);
    }

    #[test]
    fn fsb_route_is_stored() {
        let mut hpet = Hpet::new();
        hpet.write(timer_reg(2, TN_FSB_ROUTE + 4), 4, 0xFEE0_0000, 0);
        assert_eq!(
            hpet.read(timer_reg(2, TN_FSB_ROUTE), 8, 0),
            0xFEE0_0000_0000_0000
        );
        assert_eq!(hpet.read(timer_reg(3, TN_CONF_CAP), 4, 0), 0, "no timer 3");
    }

    #[test]
    fn snapshot_roundtrip() {
        let mut hpet = running();
        let cfg = TN_INT_TYPE_CNF | TN_INT_ENB_CNF | TN_TYPE_CNF | TN_VAL_SET_CNF;
        hpet.write(timer_reg(0, TN_CONF_CAP), 4, cfg, 0);
        hpet.write(timer_reg(0, TN_COMPARATOR), 8, 100, 0);
        hpet.update(1_000);
        anyx86_hw::assert_snapshot_roundtrip(&hpet, &mut Hpet::new());
        let bad = HpetState {
            config: 0x80,
            ..HpetState::default()
        };
        assert!(Hpet::new().restore(&bad).is_err());
    }

    #[test]
    fn hammer_every_offset() {
        let mut hpet = Hpet::new();
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut now = 0u64;
        for round in 0..20_000u64 {
            let seed = rng.next();
            let offset = (round % 0x404) as u32;
            let size = [1, 2, 4, 8, 3, 0][(seed % 6) as usize];
            now = now.wrapping_add(seed % 5_000);
            let value = seed.rotate_left(round as u32);
            hpet.write(offset, size, value, now);
            let _ = hpet.read(offset ^ 4, size, now);
            hpet.update(now);
            let _ = hpet.next_deadline(now);
            let _ = hpet.take_edges();
            let _ = (
                hpet.level(round as usize % 4),
                hpet.route(round as usize % 4),
            );
        }
        for now in [u64::MAX - 1, u64::MAX] {
            hpet.update(now);
            let _ = hpet.read(MAIN_CNT, 8, now);
        }
    }
}
