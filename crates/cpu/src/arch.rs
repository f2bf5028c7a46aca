//! Architectural definitions: register numbers, flag and control-register
//! bits, page-table and page-fault error-code bits, descriptor attributes,
//! segments and table registers, CPU modes, exception vectors.

pub use crate::fault::vector;

/// Segment register numbers, in the x86 encoding order.
pub mod sreg {
    /// ES.
    pub const ES: usize = 0;
    /// CS.
    pub const CS: usize = 1;
    /// SS.
    pub const SS: usize = 2;
    /// DS.
    pub const DS: usize = 3;
    /// FS.
    pub const FS: usize = 4;
    /// GS.
    pub const GS: usize = 5;
}

/// General register numbers, in the x86 encoding order.
pub mod reg {
    /// EAX.
    pub const AX: usize = 0;
    /// ECX.
    pub const CX: usize = 1;
    /// EDX.
    pub const DX: usize = 2;
    /// EBX.
    pub const BX: usize = 3;
    /// ESP.
    pub const SP: usize = 4;
    /// EBP.
    pub const BP: usize = 5;
    /// ESI.
    pub const SI: usize = 6;
    /// EDI.
    pub const DI: usize = 7;
}

/// EFLAGS bits (SDM Vol. 1, 3.4.3).
pub mod fl {
    /// Carry.
    pub const CF: u32 = 1 << 0;
    /// Reserved, always 1.
    pub const RESERVED1: u32 = 1 << 1;
    /// Parity (of the low byte).
    pub const PF: u32 = 1 << 2;
    /// Auxiliary carry (bit 3 to 4).
    pub const AF: u32 = 1 << 4;
    /// Zero.
    pub const ZF: u32 = 1 << 6;
    /// Sign.
    pub const SF: u32 = 1 << 7;
    /// Trap (single-step).
    pub const TF: u32 = 1 << 8;
    /// Interrupt enable.
    pub const IF: u32 = 1 << 9;
    /// Direction.
    pub const DF: u32 = 1 << 10;
    /// Overflow.
    pub const OF: u32 = 1 << 11;
    /// I/O privilege level (two bits).
    pub const IOPL: u32 = 3 << 12;
    /// Nested task.
    pub const NT: u32 = 1 << 14;
    /// Resume (suppresses instruction breakpoints once).
    pub const RF: u32 = 1 << 16;
    /// Virtual-8086 mode.
    pub const VM: u32 = 1 << 17;
    /// Alignment check.
    pub const AC: u32 = 1 << 18;
    /// Virtual interrupt flag.
    pub const VIF: u32 = 1 << 19;
    /// Virtual interrupt pending.
    pub const VIP: u32 = 1 << 20;
    /// CPUID available (toggleable).
    pub const ID: u32 = 1 << 21;
    /// The six arithmetic flags.
    pub const ARITH: u32 = CF | PF | AF | ZF | SF | OF;
    /// Bits software can ever see set on this CPU.
    pub const SUPPORTED: u32 = ARITH | TF | IF | DF | IOPL | NT | RF | VM | AC | VIF | VIP | ID;
}

/// CR0 bits.
pub mod cr0 {
    /// Protection enable.
    pub const PE: u64 = 1 << 0;
    /// Monitor coprocessor.
    pub const MP: u64 = 1 << 1;
    /// x87 emulation.
    pub const EM: u64 = 1 << 2;
    /// Task switched.
    pub const TS: u64 = 1 << 3;
    /// Extension type (hard-wired 1).
    pub const ET: u64 = 1 << 4;
    /// Numeric error reporting through #MF.
    pub const NE: u64 = 1 << 5;
    /// Write protect for supervisor accesses.
    pub const WP: u64 = 1 << 16;
    /// Alignment mask.
    pub const AM: u64 = 1 << 18;
    /// Not write-through.
    pub const NW: u64 = 1 << 29;
    /// Cache disable.
    pub const CD: u64 = 1 << 30;
    /// Paging.
    pub const PG: u64 = 1 << 31;
}

/// CR4 bits.
pub mod cr4 {
    /// Virtual-8086 mode extensions.
    pub const VME: u64 = 1 << 0;
    /// Protected-mode virtual interrupts.
    pub const PVI: u64 = 1 << 1;
    /// RDTSC restricted to CPL 0.
    pub const TSD: u64 = 1 << 2;
    /// Debugging extensions.
    pub const DE: u64 = 1 << 3;
    /// 4 MiB pages.
    pub const PSE: u64 = 1 << 4;
    /// Physical address extension.
    pub const PAE: u64 = 1 << 5;
    /// Machine check enable.
    pub const MCE: u64 = 1 << 6;
    /// Global pages.
    pub const PGE: u64 = 1 << 7;
    /// RDPMC at any CPL.
    pub const PCE: u64 = 1 << 8;
    /// FXSAVE/FXRSTOR and SSE.
    pub const OSFXSR: u64 = 1 << 9;
    /// Unmasked SIMD exceptions.
    pub const OSXMMEXCPT: u64 = 1 << 10;
}

/// DR6 bits (SDM Vol. 3, 17.2.3).
pub mod dr6 {
    /// B0-B3: breakpoint conditions 0-3 met.
    pub const B_MASK: u64 = 0xF;
    /// BD: the next instruction accesses a debug register (DR7.GD).
    pub const BD: u64 = 1 << 13;
    /// BS: single-step trap (EFLAGS.TF).
    pub const BS: u64 = 1 << 14;
}

/// DR7 bits (SDM Vol. 3, 17.2.4).
pub mod dr7 {
    /// L0-L3 and G0-G3: the four breakpoints' enables.
    pub const ENABLES: u64 = 0xFF;
    /// GD: general detect, a MOV to or from a debug register is a #DB
    /// fault; the processor clears it on entering the #DB handler.
    pub const GD: u64 = 1 << 13;
}

/// EFER bits (MSR C000_0080).
pub mod efer {
    /// SYSCALL enable.
    pub const SCE: u64 = 1 << 0;
    /// Long mode enable.
    pub const LME: u64 = 1 << 8;
    /// Long mode active.
    pub const LMA: u64 = 1 << 10;
    /// No-execute enable.
    pub const NXE: u64 = 1 << 11;
}

/// Page-fault error code bits (SDM Vol. 3A, Figure 4-12).
pub mod pf {
    /// The fault was a protection violation (0: a not-present page).
    pub const P: u32 = 1;
    /// A write.
    pub const W: u32 = 2;
    /// A user-mode access.
    pub const U: u32 = 4;
    /// A reserved bit was set in a paging-structure entry.
    pub const RSVD: u32 = 8;
    /// An instruction fetch.
    pub const ID: u32 = 16;
}

/// Page-table entry bits (SDM Vol. 3A, Tables 4-19 and 4-20).
pub mod pte {
    /// Present.
    pub const P: u64 = 1;
    /// Writable.
    pub const RW: u64 = 2;
    /// User-accessible.
    pub const US: u64 = 4;
    /// Accessed.
    pub const A: u64 = 1 << 5;
    /// Dirty.
    pub const D: u64 = 1 << 6;
    /// Page size: this directory entry maps a large page.
    pub const PS: u64 = 1 << 7;
    /// Global.
    pub const G: u64 = 1 << 8;
    /// Execute-disable (XD), with EFER.NXE.
    pub const NX: u64 = 1 << 63;
    /// Address bits of a PAE / long-mode entry (52-bit physical).
    pub const ADDR: u64 = 0x000F_FFFF_FFFF_F000;
}

/// Descriptor attribute bits as kept in a segment cache, in the VMX
/// "access rights" layout: descriptor byte 5 in bits 0-7, the flags nibble
/// of byte 6 in bits 12-15.
pub mod attr {
    /// Accessed (data/code) or the low type bit.
    pub const ACCESSED: u16 = 1 << 0;
    /// Writable (data) / readable (code).
    pub const RW: u16 = 1 << 1;
    /// Expand-down (data) / conforming (code).
    pub const DC: u16 = 1 << 2;
    /// Code segment.
    pub const CODE: u16 = 1 << 3;
    /// Code or data (1) versus system (0).
    pub const S: u16 = 1 << 4;
    /// Descriptor privilege level shift.
    pub const DPL_SHIFT: u16 = 5;
    /// Present.
    pub const P: u16 = 1 << 7;
    /// Available for software.
    pub const AVL: u16 = 1 << 12;
    /// 64-bit code segment.
    pub const L: u16 = 1 << 13;
    /// Default operand size 32 bits / big stack.
    pub const DB: u16 = 1 << 14;
    /// Granularity 4 KiB.
    pub const G: u16 = 1 << 15;
    /// The system descriptor type field.
    pub const TYPE_MASK: u16 = 0xF;
}

/// A segment register with its hidden descriptor cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Segment {
    /// The visible selector.
    pub selector: u16,
    /// Linear base address.
    pub base: u64,
    /// Byte-granular limit (already scaled by G).
    pub limit: u32,
    /// Attributes, see [`attr`].
    pub attr: u16,
    /// False for a null selector loaded in protected mode: any access
    /// through it raises #GP(0).
    pub usable: bool,
    /// Derived: one past the highest offset a read may end at on the fast
    /// path (limit + 1 for a usable, readable, expand-up segment; else 0,
    /// which sends every access to the full check).
    pub rlim1: u64,
    /// Derived: the same for writes.
    pub wlim1: u64,
}

impl Segment {
    /// A segment cache entry; the fast-path limits are derived.
    pub fn new(selector: u16, base: u64, limit: u32, attr: u16, usable: bool) -> Self {
        Self {
            selector,
            base,
            limit,
            attr,
            usable,
            rlim1: 0,
            wlim1: 0,
        }
        .refresh()
    }

    /// Recomputes the derived fast-path limits from limit, attr and usable.
    /// The fast path only ever accepts what the full protected-mode check
    /// accepts; anything else (expand-down, unreadable, real-mode
    /// liberties) takes the full check.
    pub fn refresh(mut self) -> Self {
        let up = !self.expand_down();
        let lim1 = u64::from(self.limit) + 1;
        self.rlim1 = if up && self.readable() { lim1 } else { 0 };
        self.wlim1 = if up && self.writable() { lim1 } else { 0 };
        self
    }

    /// This segment as a load leaves it in the register: with `selector`
    /// and the accessed bit set (which changes none of the derived
    /// limits).
    pub fn accessed(self, selector: u16) -> Self {
        Self {
            selector,
            attr: self.attr | attr::ACCESSED,
            ..self
        }
    }

    /// A real-mode segment as the CPU has after reset or a real-mode load.
    pub fn real(selector: u16, attr_bits: u16) -> Self {
        Self::new(selector, u64::from(selector) << 4, 0xFFFF, attr_bits, true)
    }

    /// Descriptor privilege level.
    pub fn dpl(&self) -> u8 {
        ((self.attr >> attr::DPL_SHIFT) & 3) as u8
    }

    /// Default operand/address size is 32 bits.
    pub fn big(&self) -> bool {
        self.attr & attr::DB != 0
    }

    /// True for a code segment.
    pub fn is_code(&self) -> bool {
        self.attr & (attr::S | attr::CODE) == attr::S | attr::CODE
    }

    /// Readable (data, or readable code).
    pub fn readable(&self) -> bool {
        self.usable
            && self.attr & attr::S != 0
            && (self.attr & attr::CODE == 0 || self.attr & attr::RW != 0)
    }

    /// Writable data.
    pub fn writable(&self) -> bool {
        self.usable && self.attr & (attr::S | attr::CODE | attr::RW) == attr::S | attr::RW
    }

    /// Expand-down data segment.
    pub fn expand_down(&self) -> bool {
        self.attr & (attr::S | attr::CODE | attr::DC) == attr::S | attr::DC
    }

    /// Decodes an 8-byte descriptor into a segment cache.
    pub fn from_descriptor(selector: u16, raw: u64) -> Self {
        let base = ((raw >> 16) & 0xFF_FFFF) | (((raw >> 56) & 0xFF) << 24);
        let mut limit = ((raw & 0xFFFF) | (((raw >> 48) & 0xF) << 16)) as u32;
        let a = (((raw >> 40) & 0xFF) | (((raw >> 52) & 0xF) << 12)) as u16;
        if a & attr::G != 0 {
            limit = (limit << 12) | 0xFFF;
        }
        Self::new(selector, base, limit, a, true)
    }
}

/// GDTR or IDTR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableReg {
    /// Linear base.
    pub base: u64,
    /// Limit in bytes.
    pub limit: u16,
}

/// The CPU's execution mode, derived from CR0.PE, EFLAGS.VM and EFER.LMA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Real-address mode.
    Real,
    /// Protected mode (16- or 32-bit code).
    Protected,
    /// Virtual-8086 mode.
    V86,
    /// Long mode (64-bit or compatibility code).
    Long,
}
