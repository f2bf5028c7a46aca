//! The CPU's only window on the world.

/// Everything the CPU needs from the machine around it.
///
/// Guest RAM is lent as a byte slice so the software TLB can point into it
/// (an offset, not a raw pointer); everything that is not plain RAM (ROM,
/// MMIO, unmapped holes) goes through [`CpuBus::mem_read`] and
/// [`CpuBus::mem_write`]. Physical addresses reaching the bus already have
/// the A20 mask applied.
///
/// # The RAM layout contract
///
/// The CPU's fast paths (the software TLB, instruction fetch, the REP
/// string paths) access [`CpuBus::ram`] directly, relying on:
///
/// - `ram()` is guest RAM from physical address 0 upwards, contiguous;
/// - [`CpuBus::page_is_ram`] is true only for a 4 KiB page that lies
///   wholly inside `ram()` and is plain RAM for reads and writes alike;
/// - direct (fast) TLB entries are only made for such pages below 4 GiB,
///   so a RAM offset fits in 32 bits.
///
/// A bus that breaks the contract gets wrong answers, not a panic: every
/// direct access is bounds-checked (`get`) and falls back to
/// [`CpuBus::mem_read`] / [`CpuBus::mem_write`] (tested with a lying bus
/// in `crates/cpu/tests/bus_contract.rs`).
pub trait CpuBus {
    /// Guest RAM, starting at physical address 0.
    fn ram(&mut self) -> &mut [u8];
    /// Guest RAM, read-only and free of side effects.
    fn ram_ref(&self) -> &[u8];
    /// True when the 4 KiB page at `paddr` is plain RAM, so the CPU may
    /// access it directly through [`CpuBus::ram`].
    fn page_is_ram(&self, paddr: u64) -> bool;
    /// Reads `size` bytes (1, 2, 4 or 8) of non-RAM physical memory (ROM,
    /// MMIO, holes) at the time of instruction number `icount`.
    fn mem_read(&mut self, paddr: u64, size: u8, icount: u64) -> u64;
    /// Writes `size` bytes of non-RAM physical memory.
    fn mem_write(&mut self, paddr: u64, size: u8, value: u64, icount: u64);
    /// Reads one byte of physical memory with no side effect (debugger).
    fn peek_phys(&self, paddr: u64) -> u8;
    /// `IN` of `size` bytes from `port`, at the time of instruction number
    /// `icount` (instructions retired since power-on).
    fn io_in(&mut self, port: u16, size: u8, icount: u64) -> u32;
    /// `OUT` of `size` bytes to `port`.
    fn io_out(&mut self, port: u16, size: u8, value: u32, icount: u64);
    /// The A20 address mask: `!0` when the gate is on, `!(1 << 20)` when off.
    fn a20_mask(&self) -> u64;
    /// True when the interrupt controller asserts INTR.
    fn interrupt_pending(&self) -> bool;
    /// INTA: the vector of the highest-priority pending interrupt.
    fn acknowledge_interrupt(&mut self, icount: u64) -> u8;
    /// The time stamp counter at instruction number `icount`.
    fn tsc(&mut self, icount: u64) -> u64;
    /// True when the machine wants the run loop to stop at the next
    /// instruction boundary (exit device, reset request, debugger).
    fn stop_requested(&self) -> bool;

    // ---- the local APIC's side of the CPU (defaults: a PC without one) ----

    /// A number that changes whenever the physical memory map changes
    /// (PAM shadow RAM, a moved MMIO window): the CPU then drops its
    /// translations and decoded code.
    fn map_generation(&self) -> u64 {
        0
    }
    /// Moves the physical page addresses (4 KiB aligned) that devices
    /// wrote by DMA since the last call into `out`, so that the CPU drops
    /// code decoded from them. Called after every port write (DMA starts
    /// only from one).
    fn take_dma_pages(&mut self, out: &mut Vec<u64>) {
        let _ = out;
    }
    /// True when an NMI is latched for the CPU (the local APIC's LINT1 or
    /// an NMI message). The CPU takes it when NMIs are not blocked.
    fn nmi_pending(&self) -> bool {
        false
    }
    /// The CPU took the pending NMI.
    fn acknowledge_nmi(&mut self) {}
    /// RDMSR of an MSR the platform owns (IA32_APIC_BASE,
    /// IA32_TSC_DEADLINE): `None` when the platform has no such MSR.
    /// Time-stamp values are raw [`CpuBus::tsc`] values: the CPU applies
    /// its TSC offset.
    fn rdmsr(&mut self, _msr: u32, _icount: u64) -> Option<u64> {
        None
    }
    /// WRMSR of a platform MSR: `None` when the platform has no such MSR,
    /// `Some(false)` when the value is invalid (the CPU raises #GP).
    fn wrmsr(&mut self, _msr: u32, _value: u64, _icount: u64) -> Option<bool> {
        None
    }
    /// The task-priority register as CR8 shows it (TPR bits 7:4), or
    /// `None` without a local APIC (the CPU then keeps CR8 itself).
    fn cr8(&self) -> Option<u64> {
        None
    }
    /// MOV to CR8 (0..=15): returns false without a local APIC.
    fn set_cr8(&mut self, _value: u64) -> bool {
        false
    }
}

/// Platform MSRs the CPU forwards to [`CpuBus::rdmsr`]/[`CpuBus::wrmsr`].
pub mod platform_msr {
    /// IA32_APIC_BASE.
    pub const APIC_BASE: u32 = 0x1B;
    /// IA32_TSC_DEADLINE (in TSC units).
    pub const TSC_DEADLINE: u32 = 0x6E0;
}
