//! Motorola MC146818A real-time clock with its 128 bytes of CMOS RAM, at
//! ports 0x70 (index; bit 7 masks NMI) and 0x71 (data).
//!
//! Reference: Motorola MC146818A datasheet, "Address map" (Figure 3),
//! "Time, calendar and alarm locations" (Table 2, data modes), "Update
//! cycle" (Figure 14: UIP is set 244 µs before the update), "Register A" to
//! "Register D", "Interrupts" (periodic rates, Table 5); IBM PC/AT Technical
//! Reference, "CMOS RAM address map" (bytes 0x10-0x3F) and the usual
//! extensions: 0x32 century (ACPI FADT `CENTURY`), 0x34/0x35 memory above
//! 16 MiB and 0x5B-0x5D memory above 4 GiB (QEMU/SeaBIOS layout).
//!
//! # Time
//!
//! The clock runs on virtual time: the RTC reads `base + now / 1 s`, where
//! `base` is the Unix time given at construction (the host time, or a fixed
//! `--rtc-base` for reproducible runs). Calendar fields are computed from
//! that count of seconds when read, never ticked. When the guest sets the
//! time (SET bit, or writing a time register), the new time is stored as an
//! offset from virtual time. Times are UTC-agnostic "wall clock" fields:
//! whatever the guest writes is what it reads back.
//!
//! # Wiring: IRQ8
//!
//! The IRQ output ([`IrqLevel::irq_level`], register C's IRQF) drives IRQ8.
//! Flags are computed lazily: every port access brings them up to date.
//! Between accesses, the machine keeps one RTC event at
//! [`Cmos::next_deadline`] and, when it fires, calls [`Cmos::update`] then
//! forwards `irq_level()` to the PIC; after every access to ports
//! 0x70/0x71 it does the same without the `update`. While IRQF is set the
//! line cannot change until the guest reads register C, so
//! `next_deadline` is `None` then (an unserviced 1024 Hz periodic interrupt
//! costs no events).
//!
//! # Not implemented
//!
//! - Daylight saving (register B bit 0 is stored only) and the square-wave
//!   output (SQWE, stored only).
//! - Time bases other than 32.768 kHz: divider values other than 010
//!   (normal) stop the clock; 11x holds the divider in reset, and releasing
//!   it starts the first update 500 ms later.
//! - Day of week is derived from the date, not kept as an independent
//!   counter; out-of-range values written by the guest are clamped when the
//!   clock restarts (day 31 of February rolls into March).
//! - The alarm interrupt deadline is approximate: with AIE set, the machine
//!   is woken at every update (once a second) and the match is checked then.
//! - The upper 128-byte bank (ports 0x72/0x73).

use anyx86_hw::{AccessSize, IrqLevel, PortDevice, Snapshot, SnapshotError, VirtualTime};

use crate::{read_bytes, write_bytes};

/// Bytes of CMOS RAM, clock registers included.
pub const NVRAM_LEN: usize = 128;

/// Seconds.
pub const REG_SECONDS: u8 = 0x00;
/// Seconds alarm.
pub const REG_SECONDS_ALARM: u8 = 0x01;
/// Minutes.
pub const REG_MINUTES: u8 = 0x02;
/// Minutes alarm.
pub const REG_MINUTES_ALARM: u8 = 0x03;
/// Hours (bit 7 = PM in 12-hour mode).
pub const REG_HOURS: u8 = 0x04;
/// Hours alarm.
pub const REG_HOURS_ALARM: u8 = 0x05;
/// Day of week, 1 = Sunday.
pub const REG_DAY_OF_WEEK: u8 = 0x06;
/// Day of month, 1-31.
pub const REG_DAY_OF_MONTH: u8 = 0x07;
/// Month, 1-12.
pub const REG_MONTH: u8 = 0x08;
/// Year within the century, 0-99.
pub const REG_YEAR: u8 = 0x09;
/// Register A: UIP, divider, rate select.
pub const REG_A: u8 = 0x0A;
/// Register B: SET, interrupt enables, data mode.
pub const REG_B: u8 = 0x0B;
/// Register C: interrupt flags (read-only, cleared on read).
pub const REG_C: u8 = 0x0C;
/// Register D: valid RAM and time (read-only).
pub const REG_D: u8 = 0x0D;
/// Base memory in KiB, low byte (high byte at 0x16).
pub const REG_BASE_MEM: u8 = 0x15;
/// Extended memory above 1 MiB in KiB, low byte (high byte at 0x18).
pub const REG_EXT_MEM: u8 = 0x17;
/// Checksum of bytes 0x10-0x2D, high byte (low byte at 0x2F).
pub const REG_CHECKSUM: u8 = 0x2E;
/// The bytes the AT checksum at 0x2E-0x2F covers.
pub const CHECKSUMMED: core::ops::RangeInclusive<u8> = 0x10..=0x2D;
/// Floppy drive types: drive A in bits 7-4, drive B in bits 3-0
/// (1 = 360 KB, 2 = 1.2 MB, 3 = 720 KB, 4 = 1.44 MB, 5 = 2.88 MB).
pub const REG_FLOPPY_TYPES: u8 = 0x10;
/// Hard disk types (0xF in a nibble: see the extended type bytes).
pub const REG_DISK_TYPES: u8 = 0x12;
/// Equipment byte: bit 0 floppy drives present, bits 7-6 their count - 1,
/// bit 1 coprocessor, bits 5-4 primary display (0 = EGA/VGA).
pub const REG_EQUIPMENT: u8 = 0x14;
/// QEMU's boot flags: bits 7-4 the third boot device, bit 0 "skip the
/// floppy boot-sector signature check".
pub const REG_BOOT_FLAG1: u8 = 0x38;
/// QEMU's boot devices: bits 3-0 the first, bits 7-4 the second
/// (1 = floppy, 2 = hard disk, 3 = CD-ROM, 4 = network).
pub const REG_BOOT_DEVICES: u8 = 0x3D;
/// Number of CPUs minus one (QEMU; SeaBIOS reads it without fw_cfg).
pub const REG_CPU_COUNT: u8 = 0x5F;
/// Extended memory above 1 MiB in KiB, copy kept by the POST, low byte.
pub const REG_EXT_MEM2: u8 = 0x30;
/// Century (BCD or binary, per the data mode).
pub const REG_CENTURY: u8 = 0x32;
/// Memory between 16 MiB and 4 GiB in 64 KiB units, low byte.
pub const REG_HIGH_MEM: u8 = 0x34;
/// Memory above 4 GiB in 64 KiB units, three bytes from low.
pub const REG_ABOVE_4G: u8 = 0x5B;

/// Register A: update in progress (read-only).
pub const REG_A_UIP: u8 = 0x80;
/// Register A: divider control field (bits 4-6).
pub const REG_A_DV: u8 = 0x70;
/// Register A: divider value for a running 32.768 kHz time base.
pub const REG_A_DV_NORMAL: u8 = 0x20;
/// Register A: rate select field (bits 0-3).
pub const REG_A_RS: u8 = 0x0F;

/// Register B: SET, updates inhibited so the time can be written.
pub const REG_B_SET: u8 = 0x80;
/// Register B: periodic interrupt enable.
pub const REG_B_PIE: u8 = 0x40;
/// Register B: alarm interrupt enable.
pub const REG_B_AIE: u8 = 0x20;
/// Register B: update-ended interrupt enable.
pub const REG_B_UIE: u8 = 0x10;
/// Register B: square-wave enable (stored only).
pub const REG_B_SQWE: u8 = 0x08;
/// Register B: data mode, 1 = binary, 0 = BCD.
pub const REG_B_DM_BINARY: u8 = 0x04;
/// Register B: 1 = 24-hour mode, 0 = 12-hour mode.
pub const REG_B_24H: u8 = 0x02;
/// Register B: daylight saving enable (stored only).
pub const REG_B_DSE: u8 = 0x01;

/// Register C: interrupt request flag.
pub const REG_C_IRQF: u8 = 0x80;
/// Register C: periodic interrupt flag.
pub const REG_C_PF: u8 = 0x40;
/// Register C: alarm interrupt flag.
pub const REG_C_AF: u8 = 0x20;
/// Register C: update-ended interrupt flag.
pub const REG_C_UF: u8 = 0x10;
/// Register C flag bits kept in the state.
const REG_C_FLAGS: u8 = REG_C_PF | REG_C_AF | REG_C_UF;

/// Register D: valid RAM and time (the battery is good).
pub const REG_D_VRT: u8 = 0x80;

/// Hours register: PM flag in 12-hour mode.
pub const HOURS_PM: u8 = 0x80;
/// Alarm register values with both top bits set match any value.
pub const ALARM_DONT_CARE: u8 = 0xC0;

/// Index port bit: NMI disabled.
const INDEX_NMI_MASK: u8 = 0x80;
/// Index port bits selecting the register.
const INDEX_MASK: u8 = 0x7F;

/// Reset value of register A: divider running (010), 1024 Hz periodic rate.
const REG_A_DEFAULT: u8 = 0x26;
/// Reset value of register B: 24-hour, BCD.
const REG_B_DEFAULT: u8 = REG_B_24H;

const NS_PER_SEC: i128 = 1_000_000_000;
/// UIP is set this long before each update.
const UIP_LEAD_NS: i128 = 244_000;
/// After the divider leaves reset, the first update comes this late.
const DIVIDER_RELEASE_NS: u64 = 500_000_000;
/// The time base of the divider chain, in Hz.
const TIME_BASE_HZ: i128 = 32_768;
const SECS_PER_DAY: i64 = 86_400;

/// The clock registers: the fields computed from the time while the clock
/// runs.
const CLOCK_REGS: [u8; 8] = [
    REG_SECONDS,
    REG_MINUTES,
    REG_HOURS,
    REG_DAY_OF_WEEK,
    REG_DAY_OF_MONTH,
    REG_MONTH,
    REG_YEAR,
    REG_CENTURY,
];

/// Plain-data state of the RTC and CMOS RAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmosState {
    /// The 128 bytes; the clock registers hold the frozen time while the
    /// clock is stopped (SET, or divider not running); registers C and D
    /// are not kept here.
    pub nvram: Vec<u8>,
    /// Register selected through port 0x70 (0-127).
    pub index: u8,
    /// NMI disabled (port 0x70 bit 7).
    pub nmi_masked: bool,
    /// While running: RTC time in Unix seconds = `time_offset` + number of
    /// update boundaries since virtual time `phase_ns`.
    pub time_offset: i64,
    /// Phase of the divider chain: updates happen at `phase_ns + k s`
    /// (below 1 s).
    pub phase_ns: u64,
    /// Latched interrupt flags of register C (PF, AF, UF).
    pub flags: u8,
    /// Virtual time up to which the flags have been computed.
    pub checked_until: VirtualTime,
}
anyx86_hw::wire_struct!(CmosState {
    nvram,
    index,
    nmi_masked,
    time_offset,
    phase_ns,
    flags,
    checked_until
});

impl Default for CmosState {
    fn default() -> Self {
        let mut nvram = vec![0; NVRAM_LEN];
        nvram[usize::from(REG_A)] = REG_A_DEFAULT;
        nvram[usize::from(REG_B)] = REG_B_DEFAULT;
        Self {
            nvram,
            index: 0,
            nmi_masked: false,
            time_offset: 0,
            phase_ns: 0,
            flags: 0,
            checked_until: 0,
        }
    }
}

/// Calendar fields of a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DateTime {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Date of a count of days since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl DateTime {
    fn from_unix(t: i64) -> Self {
        let (days, sod) = (t.div_euclid(SECS_PER_DAY), t.rem_euclid(SECS_PER_DAY));
        let (year, month, day) = civil_from_days(days);
        Self {
            year: year.clamp(0, 9999),
            month,
            day,
            hour: sod / 3600,
            minute: sod / 60 % 60,
            second: sod % 60,
        }
    }

    fn to_unix(self) -> i64 {
        let days = days_from_civil(self.year, self.month, self.day);
        days * SECS_PER_DAY + self.hour * 3600 + self.minute * 60 + self.second
    }

    /// 1 = Sunday (1970-01-01 was a Thursday).
    fn weekday(self) -> i64 {
        (days_from_civil(self.year, self.month, self.day) + 4).rem_euclid(7) + 1
    }
}

fn to_bcd(value: u8) -> u8 {
    ((value / 10) << 4) | (value % 10)
}

/// Decodes two BCD digits; a digit above 9 counts as 9.
fn from_bcd(value: u8) -> u8 {
    (value >> 4).min(9) * 10 + (value & 0xF).min(9)
}

/// The MC146818 RTC and CMOS RAM.
#[derive(Debug, Clone, Default)]
pub struct Cmos {
    state: CmosState,
}

impl Cmos {
    /// A CMOS for a machine with `ram_bytes` of RAM (contiguous from 0,
    /// counted up to 4 GiB) whose clock reads `base_unix_seconds` at virtual
    /// time 0.
    pub fn new(ram_bytes: u64, base_unix_seconds: i64) -> Self {
        let mut cmos = Self::default();
        cmos.state.time_offset = base_unix_seconds;
        cmos.set_memory_size(ram_bytes);
        // Keep the stored clock bytes meaningful for raw NVRAM dumps.
        cmos.store_clock(base_unix_seconds);
        cmos
    }

    /// Writes a CMOS byte from the host (firmware configuration), without
    /// side effects; clock and control registers are not special-cased,
    /// so use this for the RAM bytes only. Indices above 127 are ignored.
    ///
    /// A byte inside the checksummed range (0x10-0x2D) also updates the
    /// checksum at 0x2E-0x2F, as a BIOS setup program would.
    pub fn set_nvram(&mut self, index: u8, value: u8) {
        if let Some(byte) = self.state.nvram.get_mut(usize::from(index)) {
            *byte = value;
            if CHECKSUMMED.contains(&index) {
                self.update_checksum();
            }
        }
    }

    /// The AT checksum: the 16-bit sum of bytes 0x10-0x2D, big-endian at
    /// 0x2E-0x2F.
    fn update_checksum(&mut self) {
        let sum: u16 = self.state.nvram
            [usize::from(*CHECKSUMMED.start())..=usize::from(*CHECKSUMMED.end())]
            .iter()
            .map(|&b| u16::from(b))
            .sum();
        let [hi, lo] = sum.to_be_bytes();
        self.state.nvram[usize::from(REG_CHECKSUM)] = hi;
        self.state.nvram[usize::from(REG_CHECKSUM) + 1] = lo;
    }

    /// The value register `index` would read at `now`, without side
    /// effects (register C is not cleared), for a debugger.
    pub fn peek(&self, index: u8, now: VirtualTime) -> u8 {
        let index = index & INDEX_MASK;
        match index {
            REG_A => self.reg_a(now),
            REG_C => self.reg_c(self.flags_at(now)),
            REG_D => REG_D_VRT,
            i if self.running() && CLOCK_REGS.contains(&i) => {
                self.clock_byte(i, DateTime::from_unix(self.rtc_seconds(now)))
            }
            i => self.state.nvram[usize::from(i)],
        }
    }

    /// NMI is disabled by port 0x70 bit 7.
    pub fn nmi_masked(&self) -> bool {
        self.state.nmi_masked
    }

    /// Brings the interrupt flags up to `now`: call at a deadline from
    /// [`Cmos::next_deadline`], then read `irq_level()`.
    pub fn update(&mut self, now: VirtualTime) {
        self.state.flags = self.flags_at(now);
        self.state.checked_until = self.state.checked_until.max(now);
    }

    /// The virtual time at which the IRQ output may next rise (periodic,
    /// update-ended or alarm interrupt), if an enabled source will fire and
    /// the line is not already high. Never earlier than `now`.
    pub fn next_deadline(&self, now: VirtualTime) -> Option<VirtualTime> {
        if self.irq_level() || !self.divider_running() {
            return None;
        }
        let b = self.reg(REG_B);
        let after = self.state.checked_until;
        let periodic = (b & REG_B_PIE != 0)
            .then(|| self.periodic_ticks().map(|p| self.next_periodic(after, p)))
            .flatten();
        let update =
            (self.running() && b & (REG_B_UIE | REG_B_AIE) != 0).then(|| self.next_boundary(after));
        [periodic, update]
            .into_iter()
            .flatten()
            .min()
            .map(|t| t.max(now))
    }

    fn set_memory_size(&mut self, ram_bytes: u64) {
        const KIB: u64 = 1024;
        const MIB: u64 = 1024 * KIB;
        let ext_kib = (ram_bytes / KIB).saturating_sub(1024).min(0xFFFF) as u16;
        let below_4g = ram_bytes.min(4096 * MIB);
        let high_64k = (below_4g.saturating_sub(16 * MIB) / (64 * KIB)).min(0xFFFF) as u16;
        let words = [
            (REG_BASE_MEM, 640u16),
            (REG_EXT_MEM, ext_kib),
            (REG_EXT_MEM2, ext_kib),
            (REG_HIGH_MEM, high_64k),
        ];
        for (reg, value) in words {
            let [lo, hi] = value.to_le_bytes();
            self.set_nvram(reg, lo);
            self.set_nvram(reg + 1, hi);
        }
        for i in 0..3 {
            // Memory above 4 GiB is not reported.
            self.set_nvram(REG_ABOVE_4G + i, 0);
        }
        self.update_checksum();
    }

    fn reg(&self, index: u8) -> u8 {
        self.state.nvram[usize::from(index)]
    }

    fn binary(&self) -> bool {
        self.reg(REG_B) & REG_B_DM_BINARY != 0
    }

    fn hour24(&self) -> bool {
        self.reg(REG_B) & REG_B_24H != 0
    }

    fn divider_running(&self) -> bool {
        self.reg(REG_A) & REG_A_DV == REG_A_DV_NORMAL
    }

    /// The clock advances: divider running and updates not inhibited.
    fn running(&self) -> bool {
        self.divider_running() && self.reg(REG_B) & REG_B_SET == 0
    }

    /// Number of update boundaries between the phase origin and `t`.
    fn second_index(&self, t: VirtualTime) -> i64 {
        let since = i128::from(t) - i128::from(self.state.phase_ns);
        since.div_euclid(NS_PER_SEC) as i64
    }

    fn rtc_seconds(&self, now: VirtualTime) -> i64 {
        self.state
            .time_offset
            .saturating_add(self.second_index(now))
    }

    /// The first update boundary strictly after `t`.
    fn next_boundary(&self, t: VirtualTime) -> VirtualTime {
        let k = i128::from(self.second_index(t)) + 1;
        clamp_time(i128::from(self.state.phase_ns) + k * NS_PER_SEC)
    }

    fn uip(&self, now: VirtualTime) -> bool {
        let into_second =
            (i128::from(now) - i128::from(self.state.phase_ns)).rem_euclid(NS_PER_SEC);
        self.running() && into_second >= NS_PER_SEC - UIP_LEAD_NS
    }

    /// Periodic interrupt period in 32.768 kHz clocks, if enabled by RS.
    fn periodic_ticks(&self) -> Option<i128> {
        let rate = match self.reg(REG_A) & REG_A_RS {
            0 => return None,
            // With a 32.768 kHz time base, rates 1 and 2 repeat 8 and 9.
            1 => 8,
            2 => 9,
            r => r,
        };
        Some(1 << (rate - 1))
    }

    /// Number of periodic ticks between the phase origin and `t`.
    fn periodic_index(&self, t: VirtualTime, period: i128) -> i128 {
        let since = i128::from(t) - i128::from(self.state.phase_ns);
        (since * TIME_BASE_HZ).div_euclid(NS_PER_SEC * period)
    }

    fn next_periodic(&self, t: VirtualTime, period: i128) -> VirtualTime {
        let k = self.periodic_index(t, period) + 1;
        let offset = -((-(k * NS_PER_SEC * period)).div_euclid(TIME_BASE_HZ));
        clamp_time(i128::from(self.state.phase_ns) + offset)
    }

    fn encode(&self, value: i64) -> u8 {
        let value = value.clamp(0, 99) as u8;
        if self.binary() {
            value
        } else {
            to_bcd(value)
        }
    }

    fn decode(&self, byte: u8) -> i64 {
        i64::from(if self.binary() { byte } else { from_bcd(byte) })
    }

    fn encode_hour(&self, hour: i64) -> u8 {
        if self.hour24() {
            return self.encode(hour);
        }
        let pm = if hour >= 12 { HOURS_PM } else { 0 };
        let h12 = match hour % 12 {
            0 => 12,
            h => h,
        };
        self.encode(h12) | pm
    }

    fn decode_hour(&self, byte: u8) -> i64 {
        if self.hour24() {
            return self.decode(byte).min(23);
        }
        let pm = if byte & HOURS_PM != 0 { 12 } else { 0 };
        self.decode(byte & !HOURS_PM).clamp(1, 12) % 12 + pm
    }

    fn clock_byte(&self, index: u8, dt: DateTime) -> u8 {
        match index {
            REG_SECONDS => self.encode(dt.second),
            REG_MINUTES => self.encode(dt.minute),
            REG_HOURS => self.encode_hour(dt.hour),
            REG_DAY_OF_WEEK => self.encode(dt.weekday()),
            REG_DAY_OF_MONTH => self.encode(dt.day),
            REG_MONTH => self.encode(dt.month),
            REG_YEAR => self.encode(dt.year % 100),
            _ => self.encode(dt.year / 100),
        }
    }

    /// Writes the clock registers from Unix time `t` (the clock stops).
    fn store_clock(&mut self, t: i64) {
        let dt = DateTime::from_unix(t);
        for reg in CLOCK_REGS {
            self.state.nvram[usize::from(reg)] = self.clock_byte(reg, dt);
        }
    }

    /// The Unix time the clock registers hold (the clock starts).
    fn parse_clock(&self) -> i64 {
        let field = |reg| self.decode(self.reg(reg));
        DateTime {
            year: field(REG_CENTURY).min(99) * 100 + field(REG_YEAR).min(99),
            month: field(REG_MONTH).clamp(1, 12),
            day: field(REG_DAY_OF_MONTH).clamp(1, 31),
            hour: self.decode_hour(self.reg(REG_HOURS)),
            minute: field(REG_MINUTES).min(59),
            second: field(REG_SECONDS).min(59),
        }
        .to_unix()
    }

    /// Restarts the clock at the time the registers hold, keeping the
    /// divider phase.
    fn start_clock(&mut self, now: VirtualTime) {
        self.state.time_offset = self.parse_clock() - self.second_index(now);
    }

    fn alarm_matches(&self, t: i64) -> bool {
        let dt = DateTime::from_unix(t);
        let pairs = [
            (REG_SECONDS_ALARM, self.encode(dt.second)),
            (REG_MINUTES_ALARM, self.encode(dt.minute)),
            (REG_HOURS_ALARM, self.encode_hour(dt.hour)),
        ];
        pairs.iter().all(|&(reg, value)| {
            let alarm = self.reg(reg);
            alarm & ALARM_DONT_CARE == ALARM_DONT_CARE || alarm == value
        })
    }

    /// Register C flags with the events of `(checked_until, now]` added.
    fn flags_at(&self, now: VirtualTime) -> u8 {
        let mut flags = self.state.flags;
        let from = self.state.checked_until;
        if now <= from || !self.divider_running() {
            return flags;
        }
        if self.running() {
            let (first, last) = (self.second_index(from) + 1, self.second_index(now));
            if last >= first {
                flags |= REG_C_UF;
                // Every alarm pattern recurs within a day: look at most one
                // day back.
                let start = first.max(last - (SECS_PER_DAY - 1));
                let offset = self.state.time_offset;
                if (start..=last).any(|k| self.alarm_matches(offset.saturating_add(k))) {
                    flags |= REG_C_AF;
                }
            }
        }
        if let Some(period) = self.periodic_ticks() {
            if self.periodic_index(now, period) > self.periodic_index(from, period) {
                flags |= REG_C_PF;
            }
        }
        flags
    }

    fn irqf(&self, flags: u8) -> bool {
        let b = self.reg(REG_B);
        (flags & REG_C_PF != 0 && b & REG_B_PIE != 0)
            || (flags & REG_C_AF != 0 && b & REG_B_AIE != 0)
            || (flags & REG_C_UF != 0 && b & REG_B_UIE != 0)
    }

    fn reg_c(&self, flags: u8) -> u8 {
        flags | if self.irqf(flags) { REG_C_IRQF } else { 0 }
    }

    fn reg_a(&self, now: VirtualTime) -> u8 {
        (self.reg(REG_A) & !REG_A_UIP) | if self.uip(now) { REG_A_UIP } else { 0 }
    }

    fn read_data(&mut self, now: VirtualTime) -> u8 {
        self.update(now);
        let value = self.peek(self.state.index, now);
        if self.state.index == REG_C {
            self.state.flags = 0;
        }
        value
    }

    fn write_data(&mut self, value: u8, now: VirtualTime) {
        self.update(now);
        match self.state.index {
            REG_A => self.write_control(value & !REG_A_UIP, self.reg(REG_B), now),
            // Setting SET clears UIE.
            REG_B if value & REG_B_SET != 0 => {
                self.write_control(self.reg(REG_A), value & !REG_B_UIE, now);
            }
            REG_B => self.write_control(self.reg(REG_A), value, now),
            REG_C | REG_D => {}
            i if self.running() && CLOCK_REGS.contains(&i) => {
                self.store_clock(self.rtc_seconds(now));
                self.state.nvram[usize::from(i)] = value;
                self.start_clock(now);
            }
            i => self.state.nvram[usize::from(i)] = value,
        }
    }

    /// Writes registers A and B, stopping or starting the clock around the
    /// change.
    fn write_control(&mut self, a: u8, b: u8, now: VirtualTime) {
        let (was_running, divider_was_running) = (self.running(), self.divider_running());
        if was_running {
            self.store_clock(self.rtc_seconds(now));
        }
        self.state.nvram[usize::from(REG_A)] = a;
        self.state.nvram[usize::from(REG_B)] = b;
        if !divider_was_running && self.divider_running() {
            // Divider released: the first update is 500 ms from now.
            self.state.phase_ns = (now + DIVIDER_RELEASE_NS) % 1_000_000_000;
        }
        if self.running() && !was_running {
            self.start_clock(now);
        }
    }
}

/// Converts an instant computed in i128 to virtual time, saturating.
fn clamp_time(t: i128) -> VirtualTime {
    t.clamp(0, i128::from(u64::MAX)) as VirtualTime
}

impl PortDevice for Cmos {
    /// Offset 0: index (write-only, reads 0xFF); offset 1: data.
    fn read(&mut self, offset: u16, size: AccessSize, now: VirtualTime) -> u32 {
        read_bytes(offset, size, |o| match o {
            1 => self.read_data(now),
            _ => 0xFF,
        })
    }

    /// Offset 0: index and NMI mask; offset 1: data.
    fn write(&mut self, offset: u16, size: AccessSize, value: u32, now: VirtualTime) {
        write_bytes(offset, size, value, |o, v| match o {
            0 => {
                self.state.index = v & INDEX_MASK;
                self.state.nmi_masked = v & INDEX_NMI_MASK != 0;
            }
            1 => self.write_data(v, now),
            _ => {}
        });
    }
}

impl IrqLevel for Cmos {
    /// Register C's IRQF, as of the last access or `update`.
    fn irq_level(&self) -> bool {
        self.irqf(self.state.flags)
    }
}

impl Snapshot for Cmos {
    type State = CmosState;

    fn save(&self) -> CmosState {
        self.state.clone()
    }

    fn restore(&mut self, state: &CmosState) -> Result<(), SnapshotError> {
        let invalid = |field, why| Err(SnapshotError::Invalid { field, why });
        if state.nvram.len() != NVRAM_LEN {
            return invalid("nvram", "must hold 128 bytes");
        }
        if state.index & !INDEX_MASK != 0 {
            return invalid("index", "must be 0-127");
        }
        if state.phase_ns >= 1_000_000_000 {
            return invalid("phase_ns", "must be below one second");
        }
        if state.flags & !REG_C_FLAGS != 0 {
            return invalid("flags", "only PF, AF and UF are latched");
        }
        self.state = state.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-03-15 13:45:30 UTC, a Friday.
    const BASE: i64 = 1_710_510_330;
    const SEC: u64 = 1_000_000_000;
    const MIB: u64 = 1024 * 1024;

    fn rd(cmos: &mut Cmos, index: u8, now: VirtualTime) -> u8 {
        cmos.write(0, 1, u32::from(index), now);
        cmos.read(1, 1, now) as u8
    }

    fn wr(cmos: &mut Cmos, index: u8, value: u8, now: VirtualTime) {
        cmos.write(0, 1, u32::from(index), now);
        cmos.write(1, 1, u32::from(value), now);
    }

    /// A CMOS at BASE with the periodic rate off (register A rate 0), so
    /// that register C shows only the flags a test is about.
    fn quiet() -> Cmos {
        let mut cmos = Cmos::new(64 * MIB, BASE);
        wr(&mut cmos, REG_A, REG_A_DV_NORMAL, 0);
        cmos
    }

    fn time_of(cmos: &mut Cmos, now: VirtualTime) -> [u8; 8] {
        CLOCK_REGS.map(|reg| rd(cmos, reg, now))
    }

    #[test]
    fn reads_base_time_in_bcd() {
        let mut cmos = Cmos::new(64 * MIB, BASE);
        // sec, min, hour, weekday (Friday = 6), day, month, year, century
        assert_eq!(
            time_of(&mut cmos, 0),
            [0x30, 0x45, 0x13, 0x06, 0x15, 0x03, 0x24, 0x20]
        );
    }

    #[test]
    fn binary_mode() {
        let mut cmos = Cmos::new(64 * MIB, BASE);
        wr(&mut cmos, REG_B, REG_B_24H | REG_B_DM_BINARY, 0);
        assert_eq!(time_of(&mut cmos, 0), [30, 45, 13, 6, 15, 3, 24, 20]);
    }

    #[test]
    fn twelve_hour_mode_sets_pm_flag() {
        let mut cmos = Cmos::new(64 * MIB, BASE);
        wr(&mut cmos, REG_B, 0, 0); // 12-hour, BCD
        assert_eq!(
            rd(&mut cmos, REG_HOURS, 0),
            HOURS_PM | 0x01,
            "13:45 is 1 PM"
        );
        // 2024-03-15 00:00:00.
        let mut midnight = Cmos::new(64 * MIB, 1_710_460_800);
        wr(&mut midnight, REG_B, 0, 0);
        assert_eq!(rd(&mut midnight, REG_HOURS, 0), 0x12, "00:xx is 12 AM");
    }

    #[test]
    fn time_advances_with_virtual_time() {
        let mut cmos = Cmos::new(64 * MIB, BASE);
        assert_eq!(rd(&mut cmos, REG_SECONDS, SEC * 3 / 2), 0x31);
        assert_eq!(rd(&mut cmos, REG_MINUTES, 30 * SEC), 0x46);
    }

    #[test]
    fn rollover_into_a_new_century() {
        // 1999-12-31 23:59:59, one second later.
        let mut cmos = Cmos::new(64 * MIB, 946_684_799);
        assert_eq!(
            time_of(&mut cmos, SEC),
            [0x00, 0x00, 0x00, 0x07, 0x01, 0x01, 0x00, 0x20]
        );
    }

    #[test]
    fn uip_is_set_for_the_last_244_us_of_each_second() {
        let mut cmos = Cmos::new(64 * MIB, BASE);
        assert_eq!(rd(&mut cmos, REG_A, SEC - 250_000) & REG_A_UIP, 0);
        assert_eq!(rd(&mut cmos, REG_A, SEC - 240_000) & REG_A_UIP, REG_A_UIP);
        assert_eq!(rd(&mut cmos, REG_A, SEC) & REG_A_UIP, 0);
        assert_eq!(rd(&mut cmos, REG_A, SEC), REG_A_DEFAULT);
    }

    #[test]
    fn set_bit_freezes_and_lets_the_guest_write_the_time() {
        let mut cmos = Cmos::new(64 * MIB, BASE);
        wr(&mut cmos, REG_B, REG_B_SET | REG_B_24H, 0);
        assert_eq!(
            rd(&mut cmos, REG_A, SEC - 1000) & REG_A_UIP,
            0,
            "no UIP while SET"
        );
        wr(&mut cmos, REG_HOURS, 0x08, 0);
        wr(&mut cmos, REG_MINUTES, 0x00, 0);
        wr(&mut cmos, REG_SECONDS, 0x00, 0);
        assert_eq!(rd(&mut cmos, REG_SECONDS, 5 * SEC), 0x00, "frozen");
        wr(&mut cmos, REG_B, REG_B_24H, 5 * SEC);
        assert_eq!(rd(&mut cmos, REG_HOURS, 7 * SEC), 0x08);
        assert_eq!(rd(&mut cmos, REG_SECONDS, 7 * SEC), 0x02, "runs again");
    }

    #[test]
    fn set_bit_clears_update_interrupt_enable() {
        let mut cmos = Cmos::new(64 * MIB, BASE);
        wr(&mut cmos, REG_B, REG_B_SET | REG_B_UIE | REG_B_24H, 0);
        assert_eq!(rd(&mut cmos, REG_B, 0), REG_B_SET | REG_B_24H);
    }

    #[test]
    fn writing_a_time_register_while_running_keeps_the_rest() {
        let mut cmos = Cmos::new(64 * MIB, BASE);
        wr(&mut cmos, REG_YEAR, 0x30, SEC / 2);
        assert_eq!(
            time_of(&mut cmos, SEC),
            [0x31, 0x45, 0x13, 0x06, 0x15, 0x03, 0x30, 0x20]
        );
    }

    #[test]
    fn update_ended_interrupt() {
        let mut cmos = quiet();
        wr(&mut cmos, REG_B, REG_B_UIE | REG_B_24H, 0);
        assert_eq!(cmos.next_deadline(0), Some(SEC));
        cmos.update(SEC - 1);
        assert!(!cmos.irq_level());
        cmos.update(SEC);
        assert!(cmos.irq_level());
        assert_eq!(cmos.next_deadline(SEC), None, "line already high");
        assert_eq!(rd(&mut cmos, REG_C, SEC), REG_C_IRQF | REG_C_UF);
        assert!(!cmos.irq_level(), "reading C clears IRQF");
        assert_eq!(rd(&mut cmos, REG_C, SEC), 0);
        assert_eq!(cmos.next_deadline(SEC), Some(2 * SEC));
    }

    #[test]
    fn periodic_flag_is_set_even_when_not_enabled() {
        let mut cmos = Cmos::new(64 * MIB, BASE);
        assert_eq!(rd(&mut cmos, REG_C, SEC / 2), REG_C_PF, "1024 Hz rate runs");
    }

    #[test]
    fn update_flag_is_set_even_when_not_enabled() {
        let mut cmos = quiet();
        assert_eq!(cmos.next_deadline(0), None, "nothing enabled");
        assert_eq!(rd(&mut cmos, REG_C, 3 * SEC), REG_C_UF);
    }

    #[test]
    fn periodic_interrupt_at_1024_hz() {
        let mut cmos = Cmos::new(64 * MIB, BASE);
        // Register A default rate 6: 32768 / 2^5 = 1024 Hz, 976562.5 ns.
        wr(&mut cmos, REG_B, REG_B_PIE | REG_B_24H, 0);
        assert_eq!(cmos.next_deadline(0), Some(976_563));
        cmos.update(976_563);
        assert!(cmos.irq_level());
        assert_eq!(rd(&mut cmos, REG_C, 976_563), REG_C_IRQF | REG_C_PF);
        assert_eq!(cmos.next_deadline(976_563), Some(1_953_125));
    }

    #[test]
    fn periodic_rate_select_changes_period() {
        let mut cmos = Cmos::new(64 * MIB, BASE);
        wr(&mut cmos, REG_A, REG_A_DV_NORMAL | 0x0F, 0); // rate 15: 2 Hz
        wr(&mut cmos, REG_B, REG_B_PIE | REG_B_24H, 0);
        assert_eq!(cmos.next_deadline(0), Some(SEC / 2));
        wr(&mut cmos, REG_A, REG_A_DV_NORMAL, 0); // rate 0: off
        assert_eq!(cmos.next_deadline(0), None);
    }

    #[test]
    fn alarm_interrupt_matches_time() {
        let mut cmos = quiet();
        wr(&mut cmos, REG_HOURS_ALARM, 0x13, 0);
        wr(&mut cmos, REG_MINUTES_ALARM, 0x45, 0);
        wr(&mut cmos, REG_SECONDS_ALARM, 0x33, 0);
        wr(&mut cmos, REG_B, REG_B_AIE | REG_B_24H, 0);
        cmos.update(2 * SEC);
        assert!(!cmos.irq_level(), "13:45:32 does not match");
        assert_eq!(cmos.next_deadline(2 * SEC), Some(3 * SEC));
        cmos.update(3 * SEC);
        assert!(cmos.irq_level());
        assert_eq!(
            rd(&mut cmos, REG_C, 3 * SEC),
            REG_C_IRQF | REG_C_AF | REG_C_UF
        );
    }

    #[test]
    fn alarm_dont_care_values_match_every_second() {
        let mut cmos = Cmos::new(64 * MIB, BASE);
        for reg in [REG_SECONDS_ALARM, REG_MINUTES_ALARM, REG_HOURS_ALARM] {
            wr(&mut cmos, reg, 0xFF, 0);
        }
        wr(&mut cmos, REG_B, REG_B_AIE | REG_B_24H, 0);
        cmos.update(SEC);
        assert!(cmos.irq_level());
    }

    #[test]
    fn alarm_found_across_a_long_gap() {
        let mut cmos = Cmos::new(64 * MIB, BASE);
        // 13:00:00 is next reached after 23 h 14 m 30 s.
        wr(&mut cmos, REG_HOURS_ALARM, 0x13, 0);
        wr(&mut cmos, REG_MINUTES_ALARM, 0x00, 0);
        wr(&mut cmos, REG_SECONDS_ALARM, 0x00, 0);
        assert_eq!(rd(&mut cmos, REG_C, 80_000 * SEC) & REG_C_AF, 0);
        assert_eq!(rd(&mut cmos, REG_C, 90_000 * SEC) & REG_C_AF, REG_C_AF);
    }

    #[test]
    fn divider_reset_delays_first_update_by_half_a_second() {
        let mut cmos = Cmos::new(64 * MIB, BASE);
        wr(&mut cmos, REG_A, 0x70 | 0x06, SEC / 4); // divider in reset
        assert_eq!(rd(&mut cmos, REG_SECONDS, 10 * SEC), 0x30, "stopped");
        wr(&mut cmos, REG_A, REG_A_DEFAULT, 10 * SEC);
        assert_eq!(rd(&mut cmos, REG_SECONDS, 10 * SEC + SEC / 2 - 1), 0x30);
        assert_eq!(rd(&mut cmos, REG_SECONDS, 10 * SEC + SEC / 2), 0x31);
    }

    #[test]
    fn register_d_reports_valid_ram_and_c_d_are_read_only() {
        let mut cmos = Cmos::new(64 * MIB, BASE);
        wr(&mut cmos, REG_D, 0, 0);
        wr(&mut cmos, REG_C, 0xFF, 0);
        assert_eq!(rd(&mut cmos, REG_D, 0), REG_D_VRT);
        assert_eq!(rd(&mut cmos, REG_C, 0), 0);
    }

    #[test]
    fn memory_size_bytes() {
        let mut cmos = Cmos::new(32 * MIB, BASE);
        let word = |cmos: &mut Cmos, reg: u8| {
            u16::from(rd(cmos, reg, 0)) | u16::from(rd(cmos, reg + 1, 0)) << 8
        };
        assert_eq!(word(&mut cmos, REG_BASE_MEM), 640);
        assert_eq!(word(&mut cmos, REG_EXT_MEM), 31 * 1024);
        assert_eq!(word(&mut cmos, REG_EXT_MEM2), 31 * 1024);
        assert_eq!(
            word(&mut cmos, REG_HIGH_MEM),
            16 * 16,
            "16 MiB in 64 KiB units"
        );
        assert_eq!(rd(&mut cmos, REG_ABOVE_4G, 0), 0);
        // Checksum over 0x10-0x2D: 0x80 + 0x02 + 0x00 + 0x7C.
        assert_eq!(
            word(&mut cmos, REG_CHECKSUM),
            0xFE00,
            "stored high byte first"
        );
    }

    #[test]
    fn extended_memory_is_capped() {
        // 8 GiB: 0x17/0x18 cap at 0xFFFF KiB; 0x34/0x35 count up to 4 GiB.
        let mut cmos = Cmos::new(8192 * MIB, BASE);
        assert_eq!(rd(&mut cmos, REG_EXT_MEM, 0), 0xFF);
        assert_eq!(rd(&mut cmos, REG_EXT_MEM + 1, 0), 0xFF);
        assert_eq!(rd(&mut cmos, REG_HIGH_MEM + 1, 0), 0xFF);
    }

    #[test]
    fn index_port_holds_nmi_mask() {
        let mut cmos = Cmos::new(64 * MIB, BASE);
        wr(&mut cmos, 0x80 | 0x40, 0x5A, 0);
        assert!(cmos.nmi_masked());
        assert_eq!(
            rd(&mut cmos, 0x40, 0),
            0x5A,
            "bit 7 is not part of the index"
        );
        assert!(!cmos.nmi_masked());
        assert_eq!(cmos.read(0, 1, 0), 0xFF, "index port is write-only");
    }

    #[test]
    fn peek_does_not_clear_register_c() {
        let mut cmos = quiet();
        assert_eq!(cmos.peek(REG_C, 2 * SEC), REG_C_UF);
        assert_eq!(cmos.peek(REG_C, 2 * SEC), REG_C_UF);
        assert_eq!(rd(&mut cmos, REG_C, 2 * SEC), REG_C_UF);
    }

    #[test]
    fn snapshot_roundtrip() {
        let mut cmos = Cmos::new(256 * MIB, BASE);
        wr(&mut cmos, REG_B, REG_B_SET | REG_B_24H, SEC);
        wr(&mut cmos, REG_SECONDS, 0x12, SEC);
        wr(&mut cmos, 0x80 | REG_B, REG_B_PIE | REG_B_24H, SEC);
        cmos.update(3 * SEC);
        anyx86_hw::assert_snapshot_roundtrip(&cmos, &mut Cmos::default());
    }

    #[test]
    fn restore_rejects_bad_state() {
        let state = CmosState {
            nvram: vec![0; 64],
            ..CmosState::default()
        };
        assert!(Cmos::default().restore(&state).is_err());
        let state = CmosState {
            phase_ns: SEC,
            ..CmosState::default()
        };
        assert!(Cmos::default().restore(&state).is_err());
    }

    #[test]
    fn configuration_bytes_keep_the_at_checksum_valid() {
        let mut c = Cmos::new(32 << 20, 0);
        c.set_nvram(REG_FLOPPY_TYPES, 0x40);
        let sum: u16 = (0x10..=0x2D).map(|i| u16::from(c.peek(i, 0))).sum();
        assert_eq!(c.peek(REG_CHECKSUM, 0), (sum >> 8) as u8);
        assert_eq!(c.peek(REG_CHECKSUM + 1, 0), sum as u8);
        // Outside the range the checksum does not move.
        c.set_nvram(REG_BOOT_DEVICES, 0x23);
        assert_eq!(c.peek(REG_CHECKSUM + 1, 0), sum as u8);
        assert_eq!(c.peek(REG_BOOT_DEVICES, 0), 0x23);
    }
}
