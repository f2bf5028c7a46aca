//! Local APIC of one xAPIC-mode processor (a single-CPU PC, as QEMU's `pc`
//! machine with one core).
//!
//! Reference: Intel SDM vol. 3A chapter 11 (10 in older editions),
//! "Advanced Programmable Interrupt Controller (APIC)": 11.4.3-11.4.4
//! (IA32_APIC_BASE, register map), 11.5 (LVT, timer, ESR), 11.6 (ICR and
//! IPIs), 11.8 (IRR/ISR/TMR, priorities, EOI), 11.9 (spurious interrupt).
//! QEMU `hw/intc/apic.c` and `apic_common.c` are the behavioural reference.
//!
//! # Wiring
//!
//! - MMIO: the 4 KiB page at [`Lapic::mmio_base`], routed here only while
//!   [`Lapic::hw_enabled`]. [`Lapic::read`] and [`Lapic::write`] take the
//!   offset in the page and a dword. Every register sits at the start of a
//!   16-byte slot; offsets 4-15 of a slot read 0 and ignore writes, and a
//!   read at `offset` returns the register at `offset & !0xF`.
//! - MSRs: IA32_APIC_BASE ([`Lapic::base_msr`], [`Lapic::set_base_msr`]; a
//!   `false` return is a #GP), IA32_TSC_DEADLINE ([`Lapic::tsc_deadline`],
//!   [`Lapic::set_tsc_deadline`]; the TSC runs at 1 GHz so a TSC value is a
//!   virtual time), CR8 ([`Lapic::tpr`] `>> 4`, [`Lapic::set_tpr`]).
//! - The 8259's INTR output drives LINT0 ([`Lapic::set_lint0`]) after every
//!   PIC change; the CPU's INTR input is [`Lapic::intr_pending`]. On INTA
//!   the machine calls [`Lapic::acknowledge`] and, when it returns `None`,
//!   runs the INTA cycle on the PIC instead.
//! - After every access or [`Lapic::deliver`], the machine drains
//!   [`Lapic::take_nmi`], [`Lapic::take_init`] (then calls
//!   [`Lapic::init_reset`] and resets the CPU) and [`Lapic::take_eoi`]
//!   (each vector goes to `IoApic::eoi`).
//! - Timer: the machine keeps one event at [`Lapic::next_deadline`],
//!   re-reads it after every access, MSR write and `update`, and calls
//!   [`Lapic::update`] when it is due.
//!
//! # Timer
//!
//! The APIC bus runs at 1 GHz as in QEMU: one tick per nanosecond before
//! the divide configuration. A count of N expires N ticks after it is
//! loaded; a periodic timer then reloads N from that expiry, so its
//! deadlines are exact multiples of N ticks (QEMU uses N + 1 ticks).
//! Timer mode 11b (reserved) acts as one-shot.
//!
//! # Not implemented
//!
//! - x2APIC (IA32_APIC_BASE.EXTD is a reserved bit here), more than one
//!   CPU: all-excluding-self IPIs go nowhere, StartUp is ignored (the BSP
//!   never waits for SIPI), lowest priority delivers to this CPU.
//! - SMI (messages and LVT entries with SMI mode are dropped), the thermal,
//!   performance counter and CMCI sources (their LVTs are storage only;
//!   LVT CMCI at 0x2F0 reads 0).
//! - APR (0x90) and RRD (0xC0) read 0, as in QEMU.
//! - EOI-broadcast suppression: not reported in the version register, so
//!   SVR bit 12 is reserved; every level EOI is reported by `take_eoi`.
//! - ExtINT on LINT1 (only LINT0 carries the 8259 virtual wire).
//! - Clearing IA32_APIC_BASE.EN resets the registers to their power-on
//!   values (SDM 11.4.3: "may return to the state of 11.4.7.1"); unlike
//!   QEMU TCG, setting EN again is allowed, as on Pentium 4 and later.

use anyx86_hw::{Snapshot, SnapshotError, VirtualTime};

/// IA32_APIC_BASE: this is the bootstrap processor.
pub const APIC_BASE_BSP: u64 = 1 << 8;
/// IA32_APIC_BASE: the APIC is hardware-enabled.
pub const APIC_BASE_EN: u64 = 1 << 11;
/// IA32_APIC_BASE: the base address field, bits 35:12 (36-bit physical
/// addresses).
pub const APIC_BASE_ADDR_MASK: u64 = 0xF_FFFF_F000;
/// Default APIC base address.
pub const APIC_DEFAULT_BASE: u64 = 0xFEE0_0000;

/// Local APIC ID register (bits 31:24).
pub const APIC_ID: u32 = 0x20;
/// Version register.
pub const APIC_VERSION: u32 = 0x30;
/// Task priority register.
pub const APIC_TPR: u32 = 0x80;
/// Arbitration priority register (reads 0).
pub const APIC_APR: u32 = 0x90;
/// Processor priority register (read-only).
pub const APIC_PPR: u32 = 0xA0;
/// End of interrupt (write-only).
pub const APIC_EOI: u32 = 0xB0;
/// Remote read register (reads 0).
pub const APIC_RRD: u32 = 0xC0;
/// Logical destination register (bits 31:24).
pub const APIC_LDR: u32 = 0xD0;
/// Destination format register (bits 31:28: 1111b flat, 0000b cluster).
pub const APIC_DFR: u32 = 0xE0;
/// Spurious interrupt vector register.
pub const APIC_SVR: u32 = 0xF0;
/// In-service register, 8 dwords at 0x100-0x170.
pub const APIC_ISR: u32 = 0x100;
/// Trigger mode register, 8 dwords at 0x180-0x1F0.
pub const APIC_TMR: u32 = 0x180;
/// Interrupt request register, 8 dwords at 0x200-0x270.
pub const APIC_IRR: u32 = 0x200;
/// Error status register.
pub const APIC_ESR: u32 = 0x280;
/// LVT corrected machine check interrupt (absent: reads 0).
pub const APIC_LVT_CMCI: u32 = 0x2F0;
/// Interrupt command register, low dword (writing it sends the IPI).
pub const APIC_ICR_LOW: u32 = 0x300;
/// Interrupt command register, high dword (destination in bits 31:24).
pub const APIC_ICR_HIGH: u32 = 0x310;
/// First LVT register (timer); the six LVTs follow every 0x10.
pub const APIC_LVT_TIMER: u32 = 0x320;
/// LVT thermal sensor.
pub const APIC_LVT_THERMAL: u32 = 0x330;
/// LVT performance monitoring counters.
pub const APIC_LVT_PERF: u32 = 0x340;
/// LVT LINT0.
pub const APIC_LVT_LINT0: u32 = 0x350;
/// LVT LINT1.
pub const APIC_LVT_LINT1: u32 = 0x360;
/// LVT error.
pub const APIC_LVT_ERROR: u32 = 0x370;
/// Timer initial count.
pub const APIC_TIMER_INITIAL: u32 = 0x380;
/// Timer current count (read-only).
pub const APIC_TIMER_CURRENT: u32 = 0x390;
/// Timer divide configuration.
pub const APIC_TIMER_DIVIDE: u32 = 0x3E0;

/// Version register value: version 0x14, max LVT entry 5 (six LVTs).
pub const APIC_VERSION_VALUE: u32 = 0x0005_0014;

/// Index of each LVT in [`LapicState::lvt`].
const LVT_TIMER: usize = 0;
const LVT_LINT0: usize = 3;
const LVT_LINT1: usize = 4;
const LVT_ERROR: usize = 5;
/// Number of LVT registers.
pub const LVT_COUNT: usize = 6;

/// LVT / ICR: vector field.
pub const APIC_VECTOR_MASK: u32 = 0xFF;
/// LVT / ICR: delivery mode field position (bits 10:8).
pub const APIC_DM_SHIFT: u32 = 8;
/// LVT / ICR: delivery status (send pending); always reads idle here.
pub const APIC_DELIVERY_STATUS: u32 = 1 << 12;
/// LVT LINT: input pin polarity (stored only).
pub const APIC_LVT_POLARITY: u32 = 1 << 13;
/// LVT LINT: remote IRR (read-only), set while a level interrupt is in
/// service.
pub const APIC_LVT_REMOTE_IRR: u32 = 1 << 14;
/// LVT LINT / ICR: trigger mode, 1 = level.
pub const APIC_TRIGGER_LEVEL: u32 = 1 << 15;
/// LVT: mask.
pub const APIC_LVT_MASKED: u32 = 1 << 16;
/// LVT timer: mode field position (bits 18:17).
pub const APIC_TIMER_MODE_SHIFT: u32 = 17;
/// Timer mode: one-shot.
pub const TIMER_ONESHOT: u32 = 0;
/// Timer mode: periodic.
pub const TIMER_PERIODIC: u32 = 1;
/// Timer mode: TSC-deadline.
pub const TIMER_TSC_DEADLINE: u32 = 2;

/// Writable bits of each LVT (SDM figure "Local Vector Table").
const LVT_WRITABLE: [u32; LVT_COUNT] = [
    0x0007_00FF, // timer: vector, mask, mode
    0x0001_07FF, // thermal: vector, delivery mode, mask
    0x0001_07FF, // performance: vector, delivery mode, mask
    0x0001_A7FF, // LINT0: vector, mode, polarity, trigger, mask
    0x0001_A7FF, // LINT1: same
    0x0001_00FF, // error: vector, mask
];

/// SVR: vector field.
pub const APIC_SVR_VECTOR: u32 = 0xFF;
/// SVR: APIC software enable.
pub const APIC_SVR_ENABLE: u32 = 1 << 8;
/// SVR: focus processor checking disable (stored only).
pub const APIC_SVR_FOCUS_DISABLE: u32 = 1 << 9;

/// ICR: destination mode, 1 = logical.
pub const ICR_DEST_LOGICAL: u32 = 1 << 11;
/// ICR: level, 0 = de-assert (only meaningful for INIT).
pub const ICR_LEVEL_ASSERT: u32 = 1 << 14;
/// ICR: destination shorthand position (bits 19:18).
pub const ICR_SHORTHAND_SHIFT: u32 = 18;
/// Writable bits of ICR low.
const ICR_LOW_WRITABLE: u32 = 0x000C_CFFF;
/// Shorthand: no shorthand (use the destination field).
const SHORTHAND_NONE: u32 = 0;
/// Shorthand: self.
const SHORTHAND_SELF: u32 = 1;
/// Shorthand: all including self.
const SHORTHAND_ALL: u32 = 2;

/// ESR: send illegal vector.
pub const ESR_SEND_ILLEGAL_VECTOR: u32 = 1 << 5;
/// ESR: receive illegal vector.
pub const ESR_RECEIVE_ILLEGAL_VECTOR: u32 = 1 << 6;
/// ESR: illegal register address.
pub const ESR_ILLEGAL_REGISTER: u32 = 1 << 7;

/// Writable bits of the divide configuration register (bits 0, 1, 3).
const DIVIDE_WRITABLE: u32 = 0xB;

/// Delivery mode (ICR / LVT / redirection entry bits 10:8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryMode {
    /// 000: the vector goes to IRR.
    Fixed,
    /// 001: to the lowest-priority CPU of the destination set.
    LowestPriority,
    /// 010: system management interrupt.
    Smi,
    /// 100: non-maskable interrupt.
    Nmi,
    /// 101: INIT.
    Init,
    /// 110: start-up IPI.
    StartUp,
    /// 111: external interrupt; the vector comes from the 8259's INTA.
    ExtInt,
}

impl DeliveryMode {
    /// Decodes the 3-bit field; 011b is reserved and decodes to `None`.
    pub fn from_bits(bits: u32) -> Option<Self> {
        match bits & 7 {
            0 => Some(Self::Fixed),
            1 => Some(Self::LowestPriority),
            2 => Some(Self::Smi),
            4 => Some(Self::Nmi),
            5 => Some(Self::Init),
            6 => Some(Self::StartUp),
            7 => Some(Self::ExtInt),
            _ => None,
        }
    }

    /// The mode of an LVT, ICR or redirection entry's low dword.
    fn of(reg: u32) -> Option<Self> {
        Self::from_bits(reg >> APIC_DM_SHIFT)
    }
}

/// An interrupt message on the APIC bus (from the I/O APIC or an IPI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApicMessage {
    /// Vector (ignored for NMI, INIT, ExtINT).
    pub vector: u8,
    /// Delivery mode.
    pub mode: DeliveryMode,
    /// Destination mode: logical (true) or physical.
    pub logical: bool,
    /// Destination: an APIC ID, or a logical destination mask.
    pub dest: u8,
    /// Trigger mode: level (true) or edge.
    pub level: bool,
}

/// A 256-bit vector set (IRR, ISR, TMR), 8 dwords as the registers show.
type VectorSet = [u32; 8];

fn get_bit(set: &VectorSet, v: u8) -> bool {
    set[usize::from(v >> 5)] & (1 << (v & 31)) != 0
}

fn set_bit(set: &mut VectorSet, v: u8, on: bool) {
    let word = &mut set[usize::from(v >> 5)];
    if on {
        *word |= 1 << (v & 31);
    } else {
        *word &= !(1 << (v & 31));
    }
}

/// The highest vector in the set.
fn highest(set: &VectorSet) -> Option<u8> {
    (0..8usize).rev().find_map(|i| {
        let word = set[i];
        (word != 0).then(|| (i as u8) * 32 + (31 - word.leading_zeros() as u8))
    })
}

/// Plain-data state of the local APIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LapicState {
    /// IA32_APIC_BASE.
    pub apic_base: u64,
    /// APIC ID.
    pub id: u8,
    /// Task priority.
    pub tpr: u8,
    /// Logical destination register (bits 31:24).
    pub ldr: u32,
    /// Destination format register (bits 27:0 read as ones).
    pub dfr: u32,
    /// Spurious interrupt vector register.
    pub svr: u32,
    /// In-service register.
    pub isr: [u32; 8],
    /// Trigger mode register.
    pub tmr: [u32; 8],
    /// Interrupt request register.
    pub irr: [u32; 8],
    /// Error status as last latched by an ESR write.
    pub esr: u32,
    /// Errors detected since the last ESR write.
    pub esr_pending: u32,
    /// ICR low (as written, delivery status idle).
    pub icr_low: u32,
    /// ICR high.
    pub icr_high: u32,
    /// LVT timer, thermal, perf, LINT0, LINT1, error.
    pub lvt: [u32; LVT_COUNT],
    /// Timer initial count.
    pub initial_count: u32,
    /// Divide configuration register.
    pub divide_config: u32,
    /// When the current count period started (one-shot: the load).
    pub timer_start: VirtualTime,
    /// The next expiry of the count-down timer; `None` when stopped.
    pub timer_next: Option<VirtualTime>,
    /// IA32_TSC_DEADLINE; 0 is disarmed.
    pub tsc_deadline: u64,
    /// Level of the LINT0 pin.
    pub lint0: bool,
    /// Level of the LINT1 pin.
    pub lint1: bool,
    /// An NMI waits for the CPU.
    pub nmi_pending: bool,
    /// An INIT waits for the CPU.
    pub init_pending: bool,
    /// An ExtINT message waits for its INTA (which goes to the 8259).
    pub extint_pending: bool,
    /// Level-triggered vectors retired by EOI, to broadcast to I/O APICs.
    pub eoi_pending: [u32; 8],
}
anyx86_hw::wire_struct!(LapicState {
    apic_base,
    id,
    tpr,
    ldr,
    dfr,
    svr,
    isr,
    tmr,
    irr,
    esr,
    esr_pending,
    icr_low,
    icr_high,
    lvt,
    initial_count,
    divide_config,
    timer_start,
    timer_next,
    tsc_deadline,
    lint0,
    lint1,
    nmi_pending,
    init_pending,
    extint_pending,
    eoi_pending
});

impl Default for LapicState {
    fn default() -> Self {
        // Every LVT masked (SDM 11.4.7.1; QEMU since "target-i386: disable
        // LINT0 after reset"): the BIOS sets up the 8259's virtual wire
        // (LINT0 ExtINT) itself, and the machine does it for a direct boot.
        let lvt = [APIC_LVT_MASKED; LVT_COUNT];
        Self {
            apic_base: APIC_DEFAULT_BASE | APIC_BASE_BSP | APIC_BASE_EN,
            id: 0,
            tpr: 0,
            ldr: 0,
            dfr: u32::MAX,
            svr: 0xFF,
            isr: [0; 8],
            tmr: [0; 8],
            irr: [0; 8],
            esr: 0,
            esr_pending: 0,
            icr_low: 0,
            icr_high: 0,
            lvt,
            initial_count: 0,
            divide_config: 0,
            timer_start: 0,
            timer_next: None,
            tsc_deadline: 0,
            lint0: false,
            lint1: false,
            nmi_pending: false,
            init_pending: false,
            extint_pending: false,
            eoi_pending: [0; 8],
        }
    }
}

/// The local APIC.
#[derive(Debug, Clone, Default)]
pub struct Lapic {
    state: LapicState,
}

impl Lapic {
    /// The APIC at power-on/RESET: ID 0, BSP, enabled at 0xFEE00000,
    /// software-disabled, every LVT masked.
    pub fn new() -> Self {
        Self::default()
    }

    /// IA32_APIC_BASE.
    pub fn base_msr(&self) -> u64 {
        self.state.apic_base
    }

    /// Writes IA32_APIC_BASE. Returns `false` (the caller raises #GP) when
    /// a reserved bit is set. The BSP bit is read-only. Clearing EN resets
    /// the APIC registers (but not the ID) to their power-on values.
    pub fn set_base_msr(&mut self, v: u64) -> bool {
        if v & !(APIC_BASE_ADDR_MASK | APIC_BASE_BSP | APIC_BASE_EN) != 0 {
            return false;
        }
        let s = &mut self.state;
        let was_enabled = s.apic_base & APIC_BASE_EN != 0;
        s.apic_base = (v & (APIC_BASE_ADDR_MASK | APIC_BASE_EN)) | (s.apic_base & APIC_BASE_BSP);
        if was_enabled && v & APIC_BASE_EN == 0 {
            self.reset_registers();
        }
        true
    }

    /// Physical address of the MMIO page.
    pub fn mmio_base(&self) -> u64 {
        self.state.apic_base & APIC_BASE_ADDR_MASK
    }

    /// IA32_APIC_BASE.EN.
    pub fn hw_enabled(&self) -> bool {
        self.state.apic_base & APIC_BASE_EN != 0
    }

    fn sw_enabled(&self) -> bool {
        self.state.svr & APIC_SVR_ENABLE != 0
    }

    /// INIT: every register to its power-on value except the ID and
    /// IA32_APIC_BASE (SDM 11.4.7.3). The machine calls it when it takes a
    /// pending INIT.
    pub fn init_reset(&mut self) {
        self.reset_registers();
    }

    fn reset_registers(&mut self) {
        let s = &self.state;
        let (base, id, lint0, lint1) = (s.apic_base, s.id, s.lint0, s.lint1);
        self.state = LapicState {
            apic_base: base,
            id,
            lint0,
            lint1,
            ..LapicState::default()
        };
    }

    /// Reads the register at `offset & !0xF` of the MMIO page (offsets 4-15
    /// of a slot read 0). Reads 0 while hardware-disabled.
    pub fn read(&mut self, offset: u32, now: VirtualTime) -> u32 {
        if !self.hw_enabled() || offset & 0xF != 0 {
            return 0;
        }
        self.update(now);
        let s = &self.state;
        let idx = |base: u32| ((offset - base) >> 4) as usize;
        match offset {
            APIC_ID => u32::from(s.id) << 24,
            APIC_VERSION => APIC_VERSION_VALUE,
            APIC_TPR => u32::from(s.tpr),
            APIC_APR | APIC_RRD | APIC_EOI | APIC_LVT_CMCI => 0,
            APIC_PPR => u32::from(self.ppr()),
            APIC_LDR => s.ldr,
            APIC_DFR => s.dfr,
            APIC_SVR => s.svr,
            0x100..=0x170 => s.isr[idx(APIC_ISR)],
            0x180..=0x1F0 => s.tmr[idx(APIC_TMR)],
            0x200..=0x270 => s.irr[idx(APIC_IRR)],
            APIC_ESR => s.esr,
            APIC_ICR_LOW => s.icr_low,
            APIC_ICR_HIGH => s.icr_high,
            0x320..=0x370 => s.lvt[idx(APIC_LVT_TIMER)],
            APIC_TIMER_INITIAL => s.initial_count,
            APIC_TIMER_CURRENT => self.current_count(now),
            APIC_TIMER_DIVIDE => s.divide_config,
            _ => {
                self.record_error(ESR_ILLEGAL_REGISTER);
                0
            }
        }
    }

    /// Writes the register at `offset` (a 16-byte aligned offset of the
    /// MMIO page; other offsets and read-only registers ignore writes).
    /// Ignored while hardware-disabled.
    pub fn write(&mut self, offset: u32, value: u32, now: VirtualTime) {
        if !self.hw_enabled() || offset & 0xF != 0 {
            return;
        }
        self.update(now);
        let idx = |base: u32| ((offset - base) >> 4) as usize;
        match offset {
            APIC_ID => self.state.id = (value >> 24) as u8,
            APIC_TPR => self.state.tpr = value as u8,
            APIC_EOI => self.eoi(),
            APIC_LDR => self.state.ldr = value & 0xFF00_0000,
            APIC_DFR => self.state.dfr = value | 0x0FFF_FFFF,
            APIC_SVR => self.write_svr(value),
            APIC_ESR => self.state.esr = std::mem::take(&mut self.state.esr_pending),
            APIC_ICR_LOW => {
                self.state.icr_low = value & ICR_LOW_WRITABLE;
                self.send_ipi();
            }
            APIC_ICR_HIGH => self.state.icr_high = value & 0xFF00_0000,
            0x320..=0x370 => self.write_lvt(idx(APIC_LVT_TIMER), value, now),
            APIC_TIMER_INITIAL => self.write_initial_count(value, now),
            APIC_TIMER_DIVIDE => self.write_divide(value, now),
            APIC_VERSION | APIC_APR | APIC_PPR | APIC_RRD | APIC_LVT_CMCI | APIC_TIMER_CURRENT => {}
            0x100..=0x270 => {}
            _ => self.record_error(ESR_ILLEGAL_REGISTER),
        }
    }

    fn write_svr(&mut self, value: u32) {
        self.state.svr = value & (APIC_SVR_VECTOR | APIC_SVR_ENABLE | APIC_SVR_FOCUS_DISABLE);
        if !self.sw_enabled() {
            // SDM 11.4.7.2: software disable sets every LVT mask bit.
            for lvt in &mut self.state.lvt {
                *lvt |= APIC_LVT_MASKED;
            }
        }
    }

    fn write_lvt(&mut self, i: usize, value: u32, now: VirtualTime) {
        let keep = self.state.lvt[i] & APIC_LVT_REMOTE_IRR;
        let mut v = (value & LVT_WRITABLE[i]) | keep;
        if !self.sw_enabled() {
            v |= APIC_LVT_MASKED;
        }
        if i == LVT_TIMER {
            self.change_timer_mode(v, now);
        }
        self.state.lvt[i] = v;
        // A newly unmasked level LINT whose pin is high requests now.
        match i {
            LVT_LINT0 => self.lint_level_check(LVT_LINT0, self.state.lint0),
            LVT_LINT1 => self.lint_level_check(LVT_LINT1, self.state.lint1),
            _ => {}
        }
    }

    /// Records an internal error; the error LVT interrupts unless masked.
    fn record_error(&mut self, bit: u32) {
        self.state.esr_pending |= bit;
        let lvt = self.state.lvt[LVT_ERROR];
        let vector = (lvt & APIC_VECTOR_MASK) as u8;
        // An illegal error vector would raise another error: drop it.
        if lvt & APIC_LVT_MASKED == 0 && vector >= 16 {
            self.set_irr(vector, false);
        }
    }

    fn set_irr(&mut self, vector: u8, level: bool) {
        set_bit(&mut self.state.irr, vector, true);
        set_bit(&mut self.state.tmr, vector, level);
    }

    /// Accepts a fixed interrupt for this APIC (no destination check).
    fn accept_fixed(&mut self, vector: u8, level: bool) {
        if vector < 16 {
            self.record_error(ESR_RECEIVE_ILLEGAL_VECTOR);
        } else if self.sw_enabled() {
            self.set_irr(vector, level);
        }
    }

    fn accept(&mut self, msg: &ApicMessage) {
        match msg.mode {
            DeliveryMode::Fixed | DeliveryMode::LowestPriority => {
                self.accept_fixed(msg.vector, msg.level)
            }
            DeliveryMode::Nmi => self.state.nmi_pending = true,
            DeliveryMode::Init => self.state.init_pending = true,
            DeliveryMode::ExtInt => self.state.extint_pending = true,
            DeliveryMode::Smi | DeliveryMode::StartUp => {}
        }
    }

    /// Whether `msg`'s destination names this APIC (SDM 11.6.2).
    fn matches(&self, msg: &ApicMessage) -> bool {
        let s = &self.state;
        if !msg.logical {
            return msg.dest == s.id || msg.dest == 0xFF;
        }
        let ldr = (s.ldr >> 24) as u8;
        if s.dfr >> 28 == 0xF {
            // Flat model: one bit per CPU.
            return ldr & msg.dest != 0;
        }
        // Cluster model: cluster in bits 7:4 (15 = all), CPU mask in 3:0.
        let cluster_ok = msg.dest >> 4 == 0xF || msg.dest >> 4 == ldr >> 4;
        cluster_ok && (msg.dest & ldr & 0xF) != 0
    }

    /// Delivers a message from the I/O APIC or an IPI, if its destination
    /// names this APIC. SMI and StartUp are ignored (see the module doc).
    pub fn deliver(&mut self, msg: &ApicMessage) {
        if self.hw_enabled() && self.matches(msg) {
            self.accept(msg);
        }
    }

    fn send_ipi(&mut self) {
        let low = self.state.icr_low;
        let Some(mode) = DeliveryMode::of(low) else {
            return;
        };
        let msg = ApicMessage {
            vector: (low & APIC_VECTOR_MASK) as u8,
            mode,
            logical: low & ICR_DEST_LOGICAL != 0,
            dest: (self.state.icr_high >> 24) as u8,
            level: low & APIC_TRIGGER_LEVEL != 0,
        };
        if mode == DeliveryMode::Init && msg.level && low & ICR_LEVEL_ASSERT == 0 {
            return; // INIT level de-assert: an arbitration ID sync, no effect.
        }
        let fixed = matches!(mode, DeliveryMode::Fixed | DeliveryMode::LowestPriority);
        if fixed && msg.vector < 16 {
            self.record_error(ESR_SEND_ILLEGAL_VECTOR);
            return;
        }
        match (low >> ICR_SHORTHAND_SHIFT) & 3 {
            SHORTHAND_NONE => self.deliver(&msg),
            SHORTHAND_SELF | SHORTHAND_ALL => self.accept(&msg),
            _ => {} // all excluding self: no other CPU.
        }
    }

    /// Highest in-service vector, 0 when none.
    fn isrv(&self) -> u8 {
        highest(&self.state.isr).unwrap_or(0)
    }

    /// Processor priority (SDM 11.8.3.1).
    fn ppr(&self) -> u8 {
        let (tpr, isrv) = (self.state.tpr, self.isrv());
        if tpr >> 4 >= isrv >> 4 {
            tpr
        } else {
            isrv & 0xF0
        }
    }

    /// The highest IRR vector whose priority class beats PPR.
    fn deliverable(&self) -> Option<u8> {
        if !self.hw_enabled() || !self.sw_enabled() {
            return None;
        }
        let irrv = highest(&self.state.irr)?;
        (irrv & 0xF0 > self.ppr() & 0xF0).then_some(irrv)
    }

    /// The 8259's INTR reaches the CPU through LINT0 (the virtual wire).
    fn pic_passthrough(&self) -> bool {
        self.accepts_pic_intr() && self.state.lint0
    }

    fn eoi(&mut self) {
        let Some(v) = highest(&self.state.isr) else {
            return;
        };
        set_bit(&mut self.state.isr, v, false);
        if get_bit(&self.state.tmr, v) {
            set_bit(&mut self.state.eoi_pending, v, true);
            self.lint_eoi(v);
        }
    }

    /// EOI of a level LINT vector: clears its remote IRR, and a pin still
    /// high requests again.
    fn lint_eoi(&mut self, vector: u8) {
        for (i, level) in [(LVT_LINT0, self.state.lint0), (LVT_LINT1, self.state.lint1)] {
            let lvt = self.state.lvt[i];
            if lvt & APIC_LVT_REMOTE_IRR != 0 && (lvt & APIC_VECTOR_MASK) as u8 == vector {
                self.state.lvt[i] = lvt & !APIC_LVT_REMOTE_IRR;
                self.lint_level_check(i, level);
            }
        }
    }

    /// A fixed, level-triggered LINT whose pin is high and remote IRR clear
    /// requests its vector.
    fn lint_level_check(&mut self, i: usize, level: bool) {
        let lvt = self.state.lvt[i];
        let fixed_level = DeliveryMode::of(lvt) == Some(DeliveryMode::Fixed)
            && lvt & APIC_TRIGGER_LEVEL != 0
            && i == LVT_LINT0;
        if fixed_level && level && lvt & (APIC_LVT_MASKED | APIC_LVT_REMOTE_IRR) == 0 {
            self.state.lvt[i] |= APIC_LVT_REMOTE_IRR;
            self.accept_fixed((lvt & APIC_VECTOR_MASK) as u8, true);
        }
    }

    /// A LINT pin's new level, handled per its LVT.
    fn set_lint(&mut self, i: usize, old: bool, level: bool) {
        let rising = level && !old;
        if !self.hw_enabled() {
            // Without the APIC, LINT0 is INTR (read by `intr_pending`) and
            // LINT1 is NMI.
            self.state.nmi_pending |= i == LVT_LINT1 && rising;
            return;
        }
        let lvt = self.state.lvt[i];
        if lvt & APIC_LVT_MASKED != 0 {
            return;
        }
        match DeliveryMode::of(lvt) {
            Some(DeliveryMode::Fixed) if lvt & APIC_TRIGGER_LEVEL != 0 && i == LVT_LINT0 => {
                self.lint_level_check(i, level)
            }
            Some(DeliveryMode::Fixed) if rising => {
                self.accept_fixed((lvt & APIC_VECTOR_MASK) as u8, false)
            }
            Some(DeliveryMode::Nmi) if rising => self.state.nmi_pending = true,
            Some(DeliveryMode::Init) if rising => self.state.init_pending = true,
            _ => {} // ExtINT on LINT0 is read by `intr_pending`; SMI ignored.
        }
    }

    /// Level of the LINT0 pin (the 8259's INTR on a PC).
    pub fn set_lint0(&mut self, level: bool) {
        let old = std::mem::replace(&mut self.state.lint0, level);
        self.set_lint(LVT_LINT0, old, level);
    }

    /// Level of the LINT1 pin (NMI on a PC). Always edge-triggered, as the
    /// SDM requires of LINT1.
    pub fn set_lint1(&mut self, level: bool) {
        let old = std::mem::replace(&mut self.state.lint1, level);
        self.set_lint(LVT_LINT1, old, level);
    }

    /// Whether the 8259's INTR reaches the CPU (QEMU's
    /// `apic_accept_pic_intr`): the APIC is hardware-disabled, or LVT LINT0
    /// is unmasked in ExtINT mode.
    pub fn accepts_pic_intr(&self) -> bool {
        let lvt = self.state.lvt[LVT_LINT0];
        !self.hw_enabled()
            || (lvt & APIC_LVT_MASKED == 0 && DeliveryMode::of(lvt) == Some(DeliveryMode::ExtInt))
    }

    /// The CPU's INTR input: a deliverable fixed interrupt, a pending
    /// ExtINT message, or the 8259's INTR passing through LINT0.
    pub fn intr_pending(&self) -> bool {
        self.deliverable().is_some() || self.state.extint_pending || self.pic_passthrough()
    }

    /// INTA. Returns the vector of the highest deliverable interrupt (moved
    /// from IRR to ISR); `None` when the INTA cycle belongs to the 8259
    /// (pending ExtINT or LINT0 passthrough); otherwise the spurious vector.
    pub fn acknowledge(&mut self) -> Option<u8> {
        if let Some(v) = self.deliverable() {
            set_bit(&mut self.state.irr, v, false);
            set_bit(&mut self.state.isr, v, true);
            return Some(v);
        }
        if std::mem::take(&mut self.state.extint_pending) || self.pic_passthrough() {
            return None;
        }
        Some((self.state.svr & APIC_SVR_VECTOR) as u8)
    }

    /// Returns whether an NMI is pending, and clears it.
    pub fn take_nmi(&mut self) -> bool {
        std::mem::take(&mut self.state.nmi_pending)
    }

    /// Returns whether an INIT is pending, and clears it.
    pub fn take_init(&mut self) -> bool {
        std::mem::take(&mut self.state.init_pending)
    }

    /// The next level-triggered vector retired by EOI, for the I/O APIC's
    /// EOI broadcast (lowest vector first).
    pub fn take_eoi(&mut self) -> Option<u8> {
        let set = &mut self.state.eoi_pending;
        let i = set.iter().position(|&w| w != 0)?;
        let v = (i as u8) * 32 + set[i].trailing_zeros() as u8;
        set_bit(set, v, false);
        Some(v)
    }

    /// Task priority (CR8 is bits 7:4).
    pub fn tpr(&self) -> u8 {
        self.state.tpr
    }

    /// Sets the task priority (a CR8 write passes `cr8 << 4`).
    pub fn set_tpr(&mut self, v: u8) {
        self.state.tpr = v;
    }

    fn timer_mode(&self) -> u32 {
        (self.state.lvt[LVT_TIMER] >> APIC_TIMER_MODE_SHIFT) & 3
    }

    /// IA32_TSC_DEADLINE (0 when disarmed or not in TSC-deadline mode).
    pub fn tsc_deadline(&self) -> u64 {
        self.state.tsc_deadline
    }

    /// Writes IA32_TSC_DEADLINE; 0 disarms. Ignored unless the LVT timer is
    /// in TSC-deadline mode. A deadline already past fires at the next
    /// `update`.
    pub fn set_tsc_deadline(&mut self, tsc: u64, now: VirtualTime) {
        self.update(now);
        if self.timer_mode() == TIMER_TSC_DEADLINE {
            self.state.tsc_deadline = tsc;
        }
    }

    /// log2 of the timer divider (SDM figure "Divide Configuration
    /// Register": bits 3,1:0 = 111b divide by 1, 000b by 2, ..., 110b by
    /// 128).
    fn divide_shift(&self) -> u32 {
        let dc = self.state.divide_config;
        let v = (dc & 3) | ((dc >> 1) & 4);
        (v + 1) & 7
    }

    /// Nanoseconds of `ticks` timer ticks.
    fn ticks_ns(&self, ticks: u64) -> u64 {
        ticks << self.divide_shift()
    }

    fn current_count(&self, now: VirtualTime) -> u32 {
        let s = &self.state;
        let n = u64::from(s.initial_count);
        if n == 0 || self.timer_mode() == TIMER_TSC_DEADLINE {
            return 0;
        }
        let d = now.saturating_sub(s.timer_start) >> self.divide_shift();
        let left = if self.timer_mode() == TIMER_PERIODIC {
            n - d % n
        } else {
            n.saturating_sub(d)
        };
        left as u32
    }

    fn write_initial_count(&mut self, value: u32, now: VirtualTime) {
        if self.timer_mode() == TIMER_TSC_DEADLINE {
            return;
        }
        self.state.initial_count = value;
        self.state.timer_start = now;
        self.state.timer_next =
            (value != 0).then(|| now.saturating_add(self.ticks_ns(u64::from(value))));
    }

    /// A new divider takes effect at once: the count keeps its value and
    /// counts on at the new rate.
    fn write_divide(&mut self, value: u32, now: VirtualTime) {
        let count = self.current_count(now);
        self.state.divide_config = value & DIVIDE_WRITABLE;
        let n = u64::from(self.state.initial_count);
        if self.state.timer_next.is_none() || count == 0 {
            return;
        }
        let done = self.ticks_ns(n - u64::from(count));
        self.state.timer_start = now.saturating_sub(done);
        self.state.timer_next = Some(self.state.timer_start.saturating_add(self.ticks_ns(n)));
    }

    /// Switching into or out of TSC-deadline mode disarms the timer (SDM
    /// 11.5.4.1); one-shot and periodic switch without a restart.
    fn change_timer_mode(&mut self, new_lvt: u32, now: VirtualTime) {
        let new_mode = (new_lvt >> APIC_TIMER_MODE_SHIFT) & 3;
        let old_mode = self.timer_mode();
        let deadline = |m| m == TIMER_TSC_DEADLINE;
        if deadline(new_mode) != deadline(old_mode) {
            self.state.initial_count = 0;
            self.state.timer_next = None;
            self.state.tsc_deadline = 0;
        } else if new_mode == TIMER_PERIODIC && self.state.timer_next.is_none() {
            // A one-shot that already expired runs on as periodic from the
            // grid of its load time, as QEMU computes it.
            let n = self.ticks_ns(u64::from(self.state.initial_count));
            let elapsed = now.saturating_sub(self.state.timer_start);
            if let Some(periods) = elapsed.checked_div(n) {
                let start = self
                    .state
                    .timer_start
                    .saturating_add(periods.saturating_mul(n));
                self.state.timer_start = start;
                self.state.timer_next = Some(start.saturating_add(n));
            }
        }
    }

    /// The next timer expiry (count-down or TSC-deadline), if armed.
    pub fn next_deadline(&self, _now: VirtualTime) -> Option<VirtualTime> {
        if self.timer_mode() == TIMER_TSC_DEADLINE {
            return (self.state.tsc_deadline != 0).then_some(self.state.tsc_deadline);
        }
        self.state.timer_next
    }

    fn fire_timer(&mut self) {
        let lvt = self.state.lvt[LVT_TIMER];
        if lvt & APIC_LVT_MASKED == 0 {
            self.accept_fixed((lvt & APIC_VECTOR_MASK) as u8, false);
        }
    }

    /// Fires a due timer: sets the timer vector in IRR unless masked; a
    /// periodic count reloads from its deadline, a one-shot stops, a
    /// TSC deadline disarms. Harmless when nothing is due.
    pub fn update(&mut self, now: VirtualTime) {
        if self.timer_mode() == TIMER_TSC_DEADLINE {
            let t = self.state.tsc_deadline;
            if t != 0 && t <= now {
                self.state.tsc_deadline = 0;
                self.fire_timer();
            }
            return;
        }
        let Some(next) = self.state.timer_next.filter(|&t| t <= now) else {
            return;
        };
        self.fire_timer();
        let period = self.ticks_ns(u64::from(self.state.initial_count));
        if self.timer_mode() == TIMER_PERIODIC && period != 0 {
            // Late updates skip the missed periods (IRR holds one bit).
            let missed = (now - next) / period;
            let start = next.saturating_add(missed.saturating_mul(period));
            self.state.timer_start = start;
            self.state.timer_next = Some(start.saturating_add(period));
        } else {
            self.state.timer_next = None;
        }
    }
}

impl Snapshot for Lapic {
    type State = LapicState;

    fn save(&self) -> LapicState {
        self.state.clone()
    }

    fn restore(&mut self, state: &LapicState) -> Result<(), SnapshotError> {
        let invalid = |field, why| Err(SnapshotError::Invalid { field, why });
        if state.apic_base & !(APIC_BASE_ADDR_MASK | APIC_BASE_BSP | APIC_BASE_EN) != 0 {
            return invalid("apic_base", "reserved bits set");
        }
        let lvt_ok = state
            .lvt
            .iter()
            .zip(LVT_WRITABLE)
            .all(|(&v, w)| v & !(w | APIC_LVT_REMOTE_IRR) == 0);
        if !lvt_ok {
            return invalid("lvt", "reserved bits set");
        }
        if state.divide_config & !DIVIDE_WRITABLE != 0 {
            return invalid("divide_config", "only bits 0, 1 and 3 exist");
        }
        if state.icr_low & !ICR_LOW_WRITABLE != 0 {
            return invalid("icr_low", "reserved bits set");
        }
        self.state = state.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An APIC software-enabled with spurious vector 0xFF.
    fn enabled() -> Lapic {
        let mut apic = Lapic::new();
        apic.write(APIC_SVR, APIC_SVR_ENABLE | 0xFF, 0);
        apic
    }

    /// Sends a fixed self-IPI of `vector` through the ICR shorthand.
    fn self_ipi(apic: &mut Lapic, vector: u32, level: bool) {
        let trigger = if level { APIC_TRIGGER_LEVEL } else { 0 };
        let icr = vector | trigger | ICR_LEVEL_ASSERT | (SHORTHAND_SELF << ICR_SHORTHAND_SHIFT);
        apic.write(APIC_ICR_LOW, icr, 0);
    }

    fn bit_set(apic: &mut Lapic, base: u32, v: u8) -> bool {
        apic.read(base + u32::from(v >> 5) * 0x10, 0) & (1 << (v & 31)) != 0
    }

    #[test]
    fn reset_values() {
        let mut apic = Lapic::new();
        assert_eq!(apic.base_msr(), 0xFEE0_0900);
        assert_eq!(apic.mmio_base(), 0xFEE0_0000);
        assert_eq!(apic.read(APIC_ID, 0), 0);
        assert_eq!(apic.read(APIC_VERSION, 0), 0x0005_0014);
        assert_eq!(apic.read(APIC_SVR, 0), 0xFF);
        assert_eq!(apic.read(APIC_DFR, 0), 0xFFFF_FFFF);
        for off in [
            APIC_LVT_LINT0,
            APIC_LVT_TIMER,
            APIC_LVT_THERMAL,
            APIC_LVT_PERF,
            APIC_LVT_LINT1,
            APIC_LVT_ERROR,
        ] {
            assert_eq!(apic.read(off, 0), APIC_LVT_MASKED, "LVT {off:#x}");
        }
        assert_eq!(apic.read(APIC_LVT_CMCI, 0), 0);
        assert!(!apic.accepts_pic_intr());
        assert!(!apic.intr_pending());
    }

    #[test]
    fn unaligned_offsets_read_zero() {
        let mut apic = Lapic::new();
        // Offset 0x31 lies inside the version slot but not at its start.
        assert_eq!(apic.read(APIC_VERSION + 4, 0), 0);
        apic.write(APIC_TPR + 4, 0x20, 0);
        assert_eq!(apic.tpr(), 0);
    }

    #[test]
    fn base_msr_rejects_reserved_bits() {
        let mut apic = Lapic::new();
        assert!(!apic.set_base_msr(0xFEE0_0900 | 1 << 10), "EXTD: no x2APIC");
        assert!(!apic.set_base_msr(1 << 36), "beyond 36-bit addresses");
        assert!(apic.set_base_msr(0xFEC0_0800));
        assert_eq!(apic.mmio_base(), 0xFEC0_0000);
        assert_eq!(apic.base_msr(), 0xFEC0_0900, "BSP is read-only");
    }

    #[test]
    fn hw_disable_resets_registers_and_passes_pic_through() {
        let mut apic = enabled();
        apic.write(APIC_ID, 0x0300_0000, 0);
        apic.write(APIC_TPR, 0x40, 0);
        assert!(apic.set_base_msr(0xFEE0_0000));
        assert!(!apic.hw_enabled());
        assert!(apic.accepts_pic_intr());
        apic.set_lint0(true);
        assert!(apic.intr_pending());
        assert_eq!(apic.acknowledge(), None, "INTA goes to the PIC");
        assert!(apic.set_base_msr(0xFEE0_0800));
        assert_eq!(apic.read(APIC_ID, 0), 0x0300_0000, "ID survives");
        assert_eq!(apic.read(APIC_TPR, 0), 0);
        assert_eq!(apic.read(APIC_SVR, 0), 0xFF);
    }

    #[test]
    fn ppr_follows_tpr_and_isr() {
        let mut apic = enabled();
        apic.write(APIC_TPR, 0x35, 0);
        assert_eq!(apic.read(APIC_PPR, 0), 0x35);
        self_ipi(&mut apic, 0x51, false);
        assert_eq!(apic.acknowledge(), Some(0x51));
        // ISRV class 5 beats TPR class 3: PPR = ISRV & 0xF0.
        assert_eq!(apic.read(APIC_PPR, 0), 0x50);
        apic.write(APIC_TPR, 0x62, 0);
        assert_eq!(apic.read(APIC_PPR, 0), 0x62);
    }

    #[test]
    fn priority_class_gates_delivery() {
        let mut apic = enabled();
        apic.write(APIC_TPR, 0x40, 0);
        // Class 4 does not beat PPR class 4; class 5 does.
        self_ipi(&mut apic, 0x4F, false);
        assert!(!apic.intr_pending());
        self_ipi(&mut apic, 0x50, false);
        assert!(apic.intr_pending());
        assert_eq!(apic.acknowledge(), Some(0x50));
        assert!(bit_set(&mut apic, APIC_ISR, 0x50));
        assert!(!bit_set(&mut apic, APIC_IRR, 0x50));
        // Nothing beats the in-service class 5 any more: spurious INTA.
        assert!(!apic.intr_pending());
        assert_eq!(apic.acknowledge(), Some(0xFF));
        apic.write(APIC_EOI, 0, 0);
        apic.write(APIC_TPR, 0, 0);
        assert_eq!(apic.acknowledge(), Some(0x4F));
    }

    #[test]
    fn self_ipi_by_physical_destination() {
        let mut apic = enabled();
        apic.write(APIC_ID, 0x0200_0000, 0);
        // Physical destination 1 is another CPU: nothing arrives.
        apic.write(APIC_ICR_HIGH, 0x0100_0000, 0);
        apic.write(APIC_ICR_LOW, 0x40 | ICR_LEVEL_ASSERT, 0);
        assert!(!apic.intr_pending());
        apic.write(APIC_ICR_HIGH, 0x0200_0000, 0);
        apic.write(APIC_ICR_LOW, 0x41 | ICR_LEVEL_ASSERT, 0);
        assert_eq!(apic.acknowledge(), Some(0x41));
        assert_eq!(apic.read(APIC_ICR_LOW, 0) & APIC_DELIVERY_STATUS, 0, "idle");
    }

    #[test]
    fn logical_flat_and_cluster_destinations() {
        let mut apic = enabled();
        apic.write(APIC_LDR, 0x0400_0000, 0);
        let msg = |dest| ApicMessage {
            vector: 0x60,
            mode: DeliveryMode::Fixed,
            logical: true,
            dest,
            level: false,
        };
        apic.deliver(&msg(0x03));
        assert!(!apic.intr_pending(), "flat: bit 2 not named");
        apic.deliver(&msg(0x04));
        assert!(apic.intr_pending());
        apic.acknowledge();
        // Cluster model: LDR 0x21 is cluster 2, CPU bit 0.
        apic.write(APIC_DFR, 0x0FFF_FFFF, 0);
        apic.write(APIC_LDR, 0x2100_0000, 0);
        apic.deliver(&msg(0x11));
        assert!(!bit_set(&mut apic, APIC_IRR, 0x60), "other cluster");
        apic.deliver(&msg(0x21));
        assert!(bit_set(&mut apic, APIC_IRR, 0x60));
    }

    #[test]
    fn all_excluding_self_goes_nowhere() {
        let mut apic = enabled();
        apic.write(APIC_ICR_LOW, 0x40 | 3 << ICR_SHORTHAND_SHIFT, 0);
        assert!(!apic.intr_pending());
        apic.write(APIC_ICR_LOW, 0x40 | SHORTHAND_ALL << ICR_SHORTHAND_SHIFT, 0);
        assert!(apic.intr_pending());
    }

    #[test]
    fn eoi_clears_isr_and_reports_level_vectors() {
        let mut apic = enabled();
        self_ipi(&mut apic, 0x30, true);
        self_ipi(&mut apic, 0x80, false);
        assert!(bit_set(&mut apic, APIC_TMR, 0x30));
        assert_eq!(apic.acknowledge(), Some(0x80));
        apic.write(APIC_EOI, 0, 0);
        assert_eq!(apic.take_eoi(), None, "edge vector: no broadcast");
        assert_eq!(apic.acknowledge(), Some(0x30));
        apic.write(APIC_EOI, 0, 0);
        assert!(!bit_set(&mut apic, APIC_ISR, 0x30));
        assert_eq!(apic.take_eoi(), Some(0x30));
        assert_eq!(apic.take_eoi(), None);
    }

    #[test]
    fn illegal_vectors_latch_esr() {
        let mut apic = enabled();
        self_ipi(&mut apic, 0x0F, false);
        assert!(!apic.intr_pending());
        assert_eq!(apic.read(APIC_ESR, 0), 0, "not latched before a write");
        apic.write(APIC_ESR, 0, 0);
        assert_eq!(apic.read(APIC_ESR, 0), ESR_SEND_ILLEGAL_VECTOR);
        apic.deliver(&ApicMessage {
            vector: 3,
            mode: DeliveryMode::Fixed,
            logical: false,
            dest: 0,
            level: false,
        });
        apic.write(APIC_ESR, 0, 0);
        assert_eq!(apic.read(APIC_ESR, 0), ESR_RECEIVE_ILLEGAL_VECTOR);
        apic.write(APIC_ESR, 0, 0);
        assert_eq!(apic.read(APIC_ESR, 0), 0);
    }

    #[test]
    fn init_nmi_and_deassert() {
        let mut apic = enabled();
        // INIT level de-assert: mode INIT (5), level trigger, level 0.
        apic.write(
            APIC_ICR_LOW,
            0x500 | APIC_TRIGGER_LEVEL | SHORTHAND_SELF << 18,
            0,
        );
        assert!(!apic.take_init());
        apic.write(
            APIC_ICR_LOW,
            0x500 | ICR_LEVEL_ASSERT | SHORTHAND_SELF << 18,
            0,
        );
        assert!(apic.take_init());
        apic.write(
            APIC_ICR_LOW,
            0x400 | ICR_LEVEL_ASSERT | SHORTHAND_SELF << 18,
            0,
        );
        assert!(apic.take_nmi());
        assert!(!apic.take_nmi(), "taken once");
    }

    #[test]
    fn software_disable_forces_masks() {
        let mut apic = enabled();
        apic.write(APIC_LVT_TIMER, 0x40, 0);
        assert_eq!(apic.read(APIC_LVT_TIMER, 0), 0x40);
        apic.write(APIC_SVR, 0xFF, 0);
        assert_eq!(apic.read(APIC_LVT_TIMER, 0), 0x40 | APIC_LVT_MASKED);
        apic.write(APIC_LVT_ERROR, 0x41, 0);
        assert_eq!(apic.read(APIC_LVT_ERROR, 0), 0x41 | APIC_LVT_MASKED);
        self_ipi(&mut apic, 0x50, false);
        assert!(!bit_set(&mut apic, APIC_IRR, 0x50), "no fixed interrupts");
        apic.write(APIC_SVR, APIC_SVR_ENABLE | 0xFF, 0);
        assert_eq!(
            apic.read(APIC_LVT_TIMER, 0),
            0x40 | APIC_LVT_MASKED,
            "stays masked"
        );
    }

    #[test]
    fn lvt_reserved_and_read_only_bits() {
        let mut apic = enabled();
        apic.write(APIC_LVT_TIMER, u32::MAX, 0);
        assert_eq!(apic.read(APIC_LVT_TIMER, 0), 0x0007_00FF);
        apic.write(APIC_LVT_LINT1, u32::MAX, 0);
        assert_eq!(
            apic.read(APIC_LVT_LINT1, 0),
            0x0001_A7FF,
            "no status/remote IRR"
        );
    }

    #[test]
    fn lint0_extint_passthrough() {
        let mut apic = Lapic::new();
        // At reset LINT0 is masked: the 8259 does not get through.
        assert!(!apic.accepts_pic_intr());
        // A BIOS's virtual wire: software-enable, LINT0 ExtINT.
        apic.write(APIC_SVR, 0x1FF, 0);
        apic.write(APIC_LVT_LINT0, 0x700, 0);
        assert!(apic.accepts_pic_intr());
        apic.set_lint0(true);
        assert!(apic.intr_pending());
        assert_eq!(apic.acknowledge(), None);
        apic.set_lint0(false);
        assert!(!apic.intr_pending());
        // Masking LINT0 cuts the virtual wire.
        apic.write(APIC_LVT_LINT0, 0x700 | APIC_LVT_MASKED, 0);
        assert!(!apic.accepts_pic_intr());
        apic.set_lint0(true);
        assert!(!apic.intr_pending());
    }

    #[test]
    fn lint0_fixed_level_uses_remote_irr() {
        let mut apic = enabled();
        apic.write(APIC_LVT_LINT0, 0x70 | APIC_TRIGGER_LEVEL, 0);
        apic.set_lint0(true);
        assert_eq!(
            apic.read(APIC_LVT_LINT0, 0) & APIC_LVT_REMOTE_IRR,
            APIC_LVT_REMOTE_IRR
        );
        assert_eq!(apic.acknowledge(), Some(0x70));
        apic.write(APIC_EOI, 0, 0);
        // The pin is still high: the vector requests again after EOI.
        assert!(bit_set(&mut apic, APIC_IRR, 0x70));
        assert_eq!(apic.take_eoi(), Some(0x70));
    }

    #[test]
    fn lint1_nmi_on_rising_edge() {
        let mut apic = enabled();
        apic.write(APIC_LVT_LINT1, 0x400, 0);
        apic.set_lint1(true);
        assert!(apic.take_nmi());
        apic.set_lint1(true);
        assert!(!apic.take_nmi(), "no new edge");
        apic.set_lint1(false);
        apic.set_lint1(true);
        assert!(apic.take_nmi());
    }

    #[test]
    fn extint_message_sends_inta_to_pic() {
        let mut apic = enabled();
        apic.write(APIC_LVT_LINT0, APIC_LVT_MASKED, 0);
        apic.deliver(&ApicMessage {
            vector: 0,
            mode: DeliveryMode::ExtInt,
            logical: false,
            dest: 0,
            level: false,
        });
        assert!(apic.intr_pending());
        assert_eq!(apic.acknowledge(), None);
        assert!(!apic.intr_pending());
    }

    /// Divide configuration 0xB: divide by 1, one tick per nanosecond.
    const DIV1: u32 = 0xB;

    #[test]
    fn oneshot_timer_fires_once() {
        let mut apic = enabled();
        apic.write(APIC_TIMER_DIVIDE, DIV1, 0);
        apic.write(APIC_LVT_TIMER, 0x40, 0);
        apic.write(APIC_TIMER_INITIAL, 1000, 100);
        assert_eq!(apic.next_deadline(100), Some(1100));
        assert_eq!(apic.read(APIC_TIMER_CURRENT, 100), 1000);
        assert_eq!(apic.read(APIC_TIMER_CURRENT, 350), 750);
        apic.update(1099);
        assert!(!apic.intr_pending(), "not yet due");
        apic.update(1100);
        assert_eq!(apic.acknowledge(), Some(0x40));
        assert_eq!(apic.next_deadline(1100), None);
        assert_eq!(apic.read(APIC_TIMER_CURRENT, 5000), 0);
    }

    #[test]
    fn periodic_timer_reloads_from_deadline() {
        let mut apic = enabled();
        apic.write(APIC_TIMER_DIVIDE, DIV1, 0);
        apic.write(
            APIC_LVT_TIMER,
            0x40 | TIMER_PERIODIC << APIC_TIMER_MODE_SHIFT,
            0,
        );
        apic.write(APIC_TIMER_INITIAL, 1000, 0);
        // Updated 30 ns late: the next deadline still sits at 2000.
        apic.update(1030);
        assert_eq!(apic.next_deadline(1030), Some(2000));
        assert_eq!(apic.read(APIC_TIMER_CURRENT, 1030), 970);
        assert_eq!(apic.acknowledge(), Some(0x40));
        // Three periods late: one interrupt, deadline on the grid.
        apic.update(4500);
        assert_eq!(apic.next_deadline(4500), Some(5000));
        assert!(bit_set(&mut apic, APIC_IRR, 0x40));
    }

    #[test]
    fn divide_configuration_scales_ticks() {
        let mut apic = enabled();
        // Reset value 0 divides by 2.
        apic.write(APIC_TIMER_INITIAL, 100, 0);
        assert_eq!(apic.next_deadline(0), Some(200));
        // 0xA (1010b): divide by 128.
        apic.write(APIC_TIMER_DIVIDE, 0xA, 0);
        apic.write(APIC_TIMER_INITIAL, 100, 0);
        assert_eq!(apic.next_deadline(0), Some(12_800));
        assert_eq!(apic.read(APIC_TIMER_CURRENT, 1280), 90);
        // Switching to divide by 1 mid-count keeps the count: 90 ticks left.
        apic.write(APIC_TIMER_DIVIDE, DIV1, 1280);
        assert_eq!(apic.next_deadline(1280), Some(1370));
    }

    #[test]
    fn expired_oneshot_switched_to_periodic_keeps_its_grid() {
        let mut apic = enabled();
        apic.write(APIC_TIMER_DIVIDE, DIV1, 0);
        apic.write(APIC_LVT_TIMER, 0x40, 0);
        apic.write(APIC_TIMER_INITIAL, 100, 0);
        apic.update(100);
        apic.write(
            APIC_LVT_TIMER,
            0x40 | TIMER_PERIODIC << APIC_TIMER_MODE_SHIFT,
            250,
        );
        assert_eq!(apic.next_deadline(250), Some(300));
        assert_eq!(apic.read(APIC_TIMER_CURRENT, 250), 50);
    }

    #[test]
    fn masked_timer_counts_without_irr() {
        let mut apic = enabled();
        apic.write(APIC_TIMER_DIVIDE, DIV1, 0);
        apic.write(
            APIC_LVT_TIMER,
            0x40 | APIC_LVT_MASKED | TIMER_PERIODIC << 17,
            0,
        );
        apic.write(APIC_TIMER_INITIAL, 10, 0);
        apic.update(10);
        assert!(!bit_set(&mut apic, APIC_IRR, 0x40));
        assert_eq!(apic.next_deadline(10), Some(20));
    }

    #[test]
    fn tsc_deadline_timer() {
        let mut apic = enabled();
        apic.set_tsc_deadline(500, 0);
        assert_eq!(apic.tsc_deadline(), 0, "ignored outside deadline mode");
        apic.write(
            APIC_LVT_TIMER,
            0x40 | TIMER_TSC_DEADLINE << APIC_TIMER_MODE_SHIFT,
            0,
        );
        apic.write(APIC_TIMER_INITIAL, 100, 0);
        assert_eq!(apic.read(APIC_TIMER_INITIAL, 0), 0, "initial count ignored");
        apic.set_tsc_deadline(500, 0);
        assert_eq!(apic.next_deadline(0), Some(500));
        apic.update(500);
        assert_eq!(apic.tsc_deadline(), 0, "disarmed after firing");
        assert_eq!(apic.acknowledge(), Some(0x40));
        apic.set_tsc_deadline(900, 600);
        apic.set_tsc_deadline(0, 700);
        assert_eq!(apic.next_deadline(700), None);
    }

    #[test]
    fn snapshot_roundtrip() {
        let mut apic = enabled();
        apic.write(APIC_LVT_TIMER, 0x40 | TIMER_PERIODIC << 17, 0);
        apic.write(APIC_TIMER_INITIAL, 1234, 10);
        self_ipi(&mut apic, 0x77, true);
        apic.acknowledge();
        anyx86_hw::assert_snapshot_roundtrip(&apic, &mut Lapic::new());
    }

    #[test]
    fn restore_rejects_bad_state() {
        let state = LapicState {
            divide_config: 0x4,
            ..LapicState::default()
        };
        assert!(Lapic::new().restore(&state).is_err());
    }

    #[test]
    fn hammer_every_offset() {
        let mut apic = enabled();
        let mut x: u32 = 0x1234_5678;
        for round in 0..16u64 {
            for offset in (0..0x1000).chain([0x1000, u32::MAX]) {
                // xorshift32: varied values without a dependency.
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let now = round * 1000 + u64::from(offset);
                apic.write(offset, x, now);
                apic.read(offset, now);
                apic.update(now);
                apic.acknowledge();
                apic.take_eoi();
            }
            apic.set_base_msr(u64::from(x) << 4);
            apic.set_tsc_deadline(u64::from(x), 0);
            apic.set_lint0(x & 1 != 0);
            apic.set_lint1(x & 2 != 0);
        }
    }
}
