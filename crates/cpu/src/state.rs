//! The CPU's architectural and micro-architectural state.

use crate::arch::{attr, cr0, efer, fl, sreg, Mode, Segment, TableReg};
use crate::flags::{FlagOp, Lazy};
use crate::mmu::Tlb;

/// A `smc_pages` entry that drops every decoded trace (the memory map
/// changed): no page address is ever this value.
pub const FLUSH_ALL_CODE: u64 = u64::MAX;

/// Model-specific registers the CPU keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Msrs {
    /// IA32_SYSENTER_CS.
    pub sysenter_cs: u64,
    /// IA32_SYSENTER_ESP.
    pub sysenter_esp: u64,
    /// IA32_SYSENTER_EIP.
    pub sysenter_eip: u64,
    /// Offset added to the virtual-time TSC (written through MSR 0x10).
    pub tsc_offset: u64,
    /// IA32_MISC_ENABLE.
    pub misc_enable: u64,
    /// IA32_PAT.
    pub pat: u64,
    /// MTRR default type and others read as stored.
    pub mtrr_def_type: u64,
    /// STAR (SYSCALL).
    pub star: u64,
    /// LSTAR.
    pub lstar: u64,
    /// CSTAR.
    pub cstar: u64,
    /// SFMASK.
    pub sfmask: u64,
    /// KERNEL_GS_BASE (exchanged with GS.base by SWAPGS).
    pub kernel_gs_base: u64,
    /// TSC_AUX.
    pub tsc_aux: u64,
    /// AMD K7 performance MSRs C001_0000-C001_0007: PERFEVTSEL0-3, then
    /// PERFCTR0-3 (kept, never counting: no events are modelled).
    pub k7_perf: [u64; 8],
}

/// IA32_PAT at power-on and reset: WB, WT, UC-, UC in each half (SDM
/// Vol. 3, 13.12.4).
pub const PAT_POWER_ON: u64 = 0x0007_0406_0007_0406;

/// Counters for `--stats`.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Instructions that raised #UD because they are not implemented,
    /// by iced `Code` number.
    pub unimplemented: std::collections::BTreeMap<u16, u64>,
    /// Traces decoded.
    pub traces_built: u64,
    /// Trace cache invalidations by code writes.
    pub smc_invalidations: u64,
    /// Exceptions delivered.
    pub exceptions: u64,
    /// External interrupts delivered.
    pub interrupts: u64,
    /// Data memory references (see `Op::mref`), for the TLB hit rate.
    pub mem_refs: u64,
    /// Trace-to-trace transitions that followed a chain link or the trace
    /// cache's jump cache (no translation or hash lookup either way).
    pub chained: u64,
    /// Trace-to-trace transitions that needed a cache lookup.
    pub unchained: u64,
    /// Trace transitions into a trace that runs at another CPL than the
    /// trace before it (user/kernel round trips: INT, IRET, SYSENTER,
    /// SYSCALL, far transfers through gates, interrupt delivery); a
    /// subset of `chained + unchained`.
    pub cpl_changes: u64,
    /// The part of `cpl_changes` that needed a cache lookup.
    pub cpl_changes_unchained: u64,
}

/// What the run loop and the handlers tell each other about the running
/// trace: scratch, not architectural state.
///
/// The layout is fixed (`repr(C)`) because it was on the critical path:
/// every threaded handler read `break_trace` right after the previous
/// one stored `pos`. With both bytes in one 8-byte word (where Rust's
/// layout put them), the load waited on the store, and the bench ROM ran
/// 5-6 % slower; the assertion below keeps them apart. (Chains now store
/// `pos` only when they return, and fast paths read no `break_trace`.)
#[derive(Debug, Clone, Default)]
#[repr(C)]
pub(crate) struct RunScratch {
    /// Set by handlers that change state the current trace depends on
    /// (mode, CS, paging, IF, code writes): the run loop leaves the trace.
    pub(crate) break_trace: bool,
    /// Set with `break_trace` by a branch taken inside a trace: the run
    /// loop goes straight on with the branch target's trace.
    pub(crate) side_exit: bool,
    /// Set by a fused CMP/TEST + Jcc whose Jcc faulted: the CMP/TEST
    /// retired, so the fault belongs to the second instruction.
    pub(crate) fused_fault: bool,
    /// Set with `side_exit` by a near transfer whose instruction had
    /// already asked to leave the trace (its push wrote code or raised an
    /// interrupt line): the run loop goes to the target, then back to its
    /// caller instead of on with the next trace.
    pub(crate) leave_loop: bool,
    /// Instruction pointer, IP mask and instruction count at the start of
    /// the running trace: a record's addresses and count are offsets from
    /// them.
    pub(crate) trace_rip: u64,
    /// See `trace_rip`.
    pub(crate) trace_mask: u64,
    /// See `trace_rip`.
    pub(crate) trace_ic: u64,
    /// Position in the running trace of the record that returned to the
    /// run loop (stored when it returns: see `exec::next_fast`).
    pub(crate) pos: u8,
    /// Debug builds: the position of the record being executed, stored at
    /// every transition, for the run loop's check of `pos`.
    #[cfg(debug_assertions)]
    pub(crate) dbg_pos: u8,
    /// Trace hops (`exec::side_exit`): the address of the running
    /// `TraceCache<B>`, stored by the run loop before it starts a trace.
    pub(crate) hop_cache: usize,
    /// The id of the running trace (the source of the link a hop follows).
    pub(crate) hop_cur: usize,
    /// The address of the running trace's first record, for a hop back
    /// to the trace's own start (a loop that fits in one trace).
    pub(crate) hop_first: usize,
    /// The TLB epoch the running trace was entered under: a hop back to
    /// its start needs no link while it holds.
    pub(crate) hop_epoch: u64,
    /// The run's budget; 0 (outside the threaded run loop, and with
    /// `Cpu::unthreaded`) turns hops off.
    pub(crate) hop_until: u64,
    /// The bound a hopped-to trace's end must keep (the CS limit + 1, or
    /// `u64::MAX` in 64-bit mode).
    pub(crate) hop_end_limit: u64,
    /// The code context number of the run loop's call.
    pub(crate) hop_ctx: u32,
    /// Hops made since the run loop last looked, landings included.
    pub(crate) hops: u32,
    /// Of `hops`, the landings (`exec::land`): taken branches that went
    /// on inside their own trace, which are no trace transitions.
    pub(crate) lands: u32,
    /// The run's budget for landings: `hop_until`, also with
    /// `Cpu::unthreaded` (its traces take the same shapes).
    pub(crate) land_until: u64,
    /// Memory references of the traces hops left (for `--stats`).
    pub(crate) hop_refs: u64,
}

const _: () = assert!(
    std::mem::offset_of!(RunScratch, pos) / 8 != std::mem::offset_of!(RunScratch, break_trace) / 8
);

/// Everything the interpreter's handlers touch.
#[derive(Debug, Clone)]
pub struct CpuState {
    /// RAX..R15.
    pub gpr: [u64; 16],
    /// Instruction pointer of the current instruction.
    pub rip: u64,
    /// Instruction pointer after the current instruction; handlers of
    /// control transfers overwrite it.
    pub next_rip: u64,
    /// EFLAGS; its arithmetic bits are stale while `lazy.op` is not `None`.
    pub flags: u32,
    /// Pending lazy flags.
    pub lazy: Lazy,
    /// ES, CS, SS, DS, FS, GS.
    pub seg: [Segment; 6],
    /// LDTR.
    pub ldtr: Segment,
    /// Task register.
    pub tr: Segment,
    /// GDTR.
    pub gdtr: TableReg,
    /// IDTR.
    pub idtr: TableReg,
    /// CR0.
    pub cr0: u64,
    /// CR2 (page-fault linear address).
    pub cr2: u64,
    /// CR3.
    pub cr3: u64,
    /// CR4.
    pub cr4: u64,
    /// EFER.
    pub efer: u64,
    /// CR8 (task priority, 64-bit mode).
    pub cr8: u64,
    /// DR0-DR7 (DR4/DR5 alias DR6/DR7).
    pub dr: [u64; 8],
    /// Other MSRs.
    pub msr: Msrs,
    /// Current privilege level.
    pub cpl: u8,
    /// Current mode (derived).
    pub mode: Mode,
    /// Decode bitness of the current code segment: 16, 32 or 64.
    pub bitness: u32,
    /// Stack address size is 32 bits (SS.B).
    pub stack32: bool,
    /// Instructions retired since power-on.
    pub icount: u64,
    /// Work that retires no instruction but counts toward an instruction
    /// limit, one unit each: exception and interrupt deliveries (also
    /// those that fail and escalate), REP iterations beyond the one the
    /// instruction itself counts, and the idle wake-ups the machine adds.
    /// Deterministic like `icount`; virtual time does not depend on it.
    pub extra_work: u64,
    /// Detects a guest that makes no progress (see
    /// `interrupt::Progress`).
    pub progress: crate::interrupt::Progress,
    /// The CPU is halted, waiting for an interrupt.
    pub halted: bool,
    /// Interrupts are inhibited until the instruction with this count has
    /// retired (STI and MOV SS shadows).
    pub inhibit_until: u64,
    /// The instruction just executed was MOV SS or POP SS: the single-step
    /// trap waits one more instruction.
    pub mov_ss_shadow: bool,
    /// Set by the instructions whose single-step trap depends on the TF
    /// they leave rather than the TF they start with: INT n, INT3, INT1
    /// and INTO enter their handler with TF clear and no trap (SDM Vol. 3,
    /// 17.3.1.4), SYSCALL traps only when SFMASK keeps TF and SYSRET when
    /// it loads TF (as QEMU; Linux returns through IRET when TF is set
    /// for that reason).
    pub step_on_new_tf: bool,
    /// The run loop's bookkeeping of the running trace (not architectural).
    pub(crate) run: RunScratch,
    /// Physical pages written while holding decoded code; the run loop
    /// drops their traces.
    pub smc_pages: Vec<u64>,
    /// Scratch for the pages devices wrote by DMA (kept to reuse its
    /// allocation).
    pub dma_pages: Vec<u64>,
    /// The RAM bytes decoded code came from (stores into them drop it).
    pub code: crate::codemap::CodeMap,
    /// Software TLB.
    pub tlb: Tlb,
    /// A20 mask from the bus (cached; refreshed after OUT).
    pub a20_mask: u64,
    /// The bus's memory-map generation the TLB and code cache were built
    /// under (see [`CpuBus::map_generation`](crate::CpuBus::map_generation)).
    pub map_gen: u64,
    /// NMIs are blocked: an NMI handler runs and has not executed IRET.
    pub nmi_blocked: bool,
    /// Nesting depth of exception delivery (double/triple fault rules).
    pub delivering: Option<crate::fault::FaultClass>,
    /// Pending single-step / data-breakpoint #DB for after this instruction
    /// (DR6 bits to set).
    pub pending_db: u64,
    /// Debugger data watchpoints (empty unless a debugger armed some).
    pub watch: crate::debug::Watchpoints,
    /// Counters.
    pub stats: Stats,
    /// What CPUID reports.
    pub cpuid_model: crate::cpuid::CpuModel,
    /// The x87 FPU.
    pub fpu: crate::fpu::FpuState,
    /// The MMX/SSE registers (MMX aliases `fpu`) and MXCSR.
    pub simd: crate::simd::SimdState,
}

impl CpuState {
    /// The state after RESET (SDM Vol. 3, 10.1.1 "Processor State after
    /// Reset"): real mode at F000:FFF0 with CS base FFFF0000, EDX holding
    /// the CPU signature.
    pub fn new(model: crate::cpuid::CpuModel) -> Self {
        let signature = model.signature();
        let data = attr::P | attr::S | attr::RW | attr::ACCESSED;
        let code = attr::P | attr::S | attr::CODE | attr::RW | attr::ACCESSED;
        let mut seg = [Segment::real(0, data); 6];
        seg[sreg::CS] = Segment::new(0xF000, 0xFFFF_0000, 0xFFFF, code, true);
        let mut gpr = [0u64; 16];
        gpr[crate::arch::reg::DX] = u64::from(signature);
        Self {
            gpr,
            rip: 0xFFF0,
            next_rip: 0xFFF0,
            flags: fl::RESERVED1,
            lazy: Lazy::default(),
            seg,
            ldtr: Segment {
                attr: attr::P | 2,
                limit: 0xFFFF,
                usable: true,
                ..Segment::default()
            },
            tr: Segment {
                attr: attr::P | 11,
                limit: 0xFFFF,
                usable: true,
                ..Segment::default()
            },
            gdtr: TableReg {
                base: 0,
                limit: 0xFFFF,
            },
            idtr: TableReg {
                base: 0,
                limit: 0xFFFF,
            },
            cr0: cr0::ET | cr0::CD | cr0::NW,
            cr2: 0,
            cr3: 0,
            cr4: 0,
            efer: 0,
            cr8: 0,
            dr: [0, 0, 0, 0, 0xFFFF_0FF0, 0x400, 0xFFFF_0FF0, 0x400],
            msr: Msrs {
                pat: PAT_POWER_ON,
                ..Msrs::default()
            },
            cpl: 0,
            mode: Mode::Real,
            bitness: 16,
            stack32: false,
            icount: 0,
            extra_work: 0,
            progress: Default::default(),
            halted: false,
            inhibit_until: 0,
            mov_ss_shadow: false,
            step_on_new_tf: false,
            run: RunScratch::default(),
            smc_pages: Vec::new(),
            dma_pages: Vec::new(),
            code: crate::codemap::CodeMap::default(),
            tlb: Tlb::new(),
            a20_mask: u64::MAX,
            map_gen: 0,
            nmi_blocked: false,
            delivering: None,
            pending_db: 0,
            watch: Default::default(),
            stats: Stats::default(),
            cpuid_model: model,
            fpu: crate::fpu::FpuState::reset(),
            simd: crate::simd::SimdState::reset(),
        }
    }

    /// What an instruction limit counts: retired instructions plus
    /// [`extra_work`](Self::extra_work).
    #[inline]
    pub fn work(&self) -> u64 {
        self.icount.wrapping_add(self.extra_work)
    }

    // ---- flags -------------------------------------------------------

    /// The full EFLAGS value.
    #[inline]
    pub fn eflags(&self) -> u32 {
        if self.lazy.op == FlagOp::None {
            self.flags
        } else {
            (self.flags & !fl::ARITH) | self.lazy.bits()
        }
    }

    /// Sets the arithmetic flags to `bits` (others untouched).
    #[inline]
    pub fn set_arith(&mut self, bits: u32) {
        self.flags = (self.flags & !fl::ARITH) | (bits & fl::ARITH);
        self.lazy.op = FlagOp::None;
    }

    /// Materialises lazy flags into `flags`.
    #[inline]
    pub fn flush_flags(&mut self) {
        if self.lazy.op != FlagOp::None {
            self.flags = self.eflags();
            self.lazy.op = FlagOp::None;
        }
    }

    /// Records a lazily evaluated operation.
    #[inline(always)]
    pub fn set_lazy(&mut self, op: FlagOp, size: u8, a: u64, b: u64, res: u64) {
        self.lazy = Lazy {
            op,
            size,
            a,
            b,
            res,
            carry_in: false,
        };
    }

    /// CF.
    #[inline]
    pub fn cf(&self) -> bool {
        if self.lazy.op == FlagOp::None {
            self.flags & fl::CF != 0
        } else {
            self.lazy.cf()
        }
    }

    /// ZF.
    #[inline]
    pub fn zf(&self) -> bool {
        if self.lazy.op == FlagOp::None {
            self.flags & fl::ZF != 0
        } else {
            self.lazy.zf()
        }
    }

    /// SF.
    #[inline]
    pub fn sf(&self) -> bool {
        if self.lazy.op == FlagOp::None {
            self.flags & fl::SF != 0
        } else {
            self.lazy.sf()
        }
    }

    /// OF.
    #[inline]
    pub fn of(&self) -> bool {
        if self.lazy.op == FlagOp::None {
            self.flags & fl::OF != 0
        } else {
            self.lazy.of()
        }
    }

    /// PF.
    #[inline]
    pub fn pf(&self) -> bool {
        if self.lazy.op == FlagOp::None {
            self.flags & fl::PF != 0
        } else {
            self.lazy.pf()
        }
    }

    /// AF.
    #[inline]
    pub fn af(&self) -> bool {
        if self.lazy.op == FlagOp::None {
            self.flags & fl::AF != 0
        } else {
            self.lazy.af()
        }
    }

    /// Evaluates condition code `cc` (0-15, the Jcc/SETcc/CMOVcc encoding).
    /// Always inlined: with a constant `cc` (Jcc) it folds to the one
    /// comparison the condition needs.
    #[inline(always)]
    pub fn cond(&self, cc: u8) -> bool {
        // CMP/SUB and the logic ops decide most branches: evaluate those
        // straight from the operands, without materialising flags. ZF and
        // SF come from the result whatever the pending operation.
        let l = &self.lazy;
        let c = cc >> 1;
        let r = if l.op == FlagOp::None {
            self.cond_slow(c)
        } else if c == 2 {
            l.zf()
        } else if c == 4 {
            l.sf()
        } else {
            match l.op {
                FlagOp::Sub => {
                    let m = crate::flags::mask(l.size);
                    let (a, b) = (l.a & m, l.b & m);
                    // Signed order of two `size`-byte values: flip their
                    // sign bits and compare unsigned.
                    let sb = crate::flags::sign_bit(l.size);
                    match c {
                        1 => a < b,
                        3 => a <= b,
                        6 => (a ^ sb) < (b ^ sb),
                        7 => (a ^ sb) <= (b ^ sb),
                        _ => self.cond_slow(c),
                    }
                }
                FlagOp::Logic => match c {
                    0 | 1 => false,
                    3 => l.zf(),
                    6 => l.sf(),
                    7 => l.zf() || l.sf(),
                    _ => self.cond_slow(c),
                },
                _ => self.cond_slow(c),
            }
        };
        r != (cc & 1 != 0)
    }

    #[inline]
    fn cond_slow(&self, c: u8) -> bool {
        match c {
            0 => self.of(),
            1 => self.cf(),
            2 => self.zf(),
            3 => self.cf() || self.zf(),
            4 => self.sf(),
            5 => self.pf(),
            6 => self.sf() != self.of(),
            _ => self.zf() || (self.sf() != self.of()),
        }
    }

    /// DF.
    #[inline]
    pub fn df(&self) -> bool {
        self.flags & fl::DF != 0
    }

    /// IOPL.
    #[inline]
    pub fn iopl(&self) -> u8 {
        ((self.flags >> 12) & 3) as u8
    }

    // ---- registers ---------------------------------------------------

    /// Reads register `r` of `size` bytes. For byte registers, `r` 16-19
    /// name AH, CH, DH, BH.
    #[inline(always)]
    pub fn reg(&self, r: u8, size: u8) -> u64 {
        match size {
            1 => {
                if r >= 16 {
                    (self.gpr[(r - 16) as usize & 3] >> 8) & 0xFF
                } else {
                    self.gpr[r as usize & 15] & 0xFF
                }
            }
            2 => self.gpr[r as usize & 15] & 0xFFFF,
            4 => self.gpr[r as usize & 15] & 0xFFFF_FFFF,
            _ => self.gpr[r as usize & 15],
        }
    }

    /// Writes register `r` of `size` bytes: 8- and 16-bit writes merge, a
    /// 32-bit write zero-extends (as in long mode; harmless elsewhere).
    #[inline(always)]
    pub fn set_reg(&mut self, r: u8, size: u8, v: u64) {
        match size {
            1 => {
                if r >= 16 {
                    let g = &mut self.gpr[(r - 16) as usize & 3];
                    *g = (*g & !0xFF00) | ((v & 0xFF) << 8);
                } else {
                    let g = &mut self.gpr[r as usize & 15];
                    *g = (*g & !0xFF) | (v & 0xFF);
                }
            }
            2 => {
                let g = &mut self.gpr[r as usize & 15];
                *g = (*g & !0xFFFF) | (v & 0xFFFF);
            }
            4 => self.gpr[r as usize & 15] = v & 0xFFFF_FFFF,
            _ => self.gpr[r as usize & 15] = v,
        }
    }

    /// True in protected mode (including V86 and long mode).
    #[inline]
    pub fn protected(&self) -> bool {
        self.cr0 & cr0::PE != 0
    }

    /// True when paging is on.
    #[inline]
    pub fn paging(&self) -> bool {
        self.cr0 & cr0::PG != 0
    }

    /// Long mode active.
    #[inline]
    pub fn long_mode(&self) -> bool {
        self.efer & efer::LMA != 0
    }

    /// Recomputes the derived mode fields after CR0, EFLAGS.VM, EFER or CS
    /// change.
    pub fn update_mode(&mut self) {
        let cs = self.seg[sreg::CS];
        self.mode = if !self.protected() {
            Mode::Real
        } else if self.flags & fl::VM != 0 {
            Mode::V86
        } else if self.long_mode() {
            Mode::Long
        } else {
            Mode::Protected
        };
        self.bitness = match self.mode {
            Mode::Real | Mode::V86 => {
                if self.mode == Mode::Real && cs.big() {
                    32
                } else {
                    16
                }
            }
            Mode::Long if cs.attr & attr::L != 0 => 64,
            _ => {
                if cs.big() {
                    32
                } else {
                    16
                }
            }
        };
        if self.mode == Mode::V86 {
            self.cpl = 3;
        } else if self.mode == Mode::Real {
            self.cpl = 0;
        }
        self.stack32 = self.seg[sreg::SS].big() && self.mode != Mode::V86;
        self.tlb.user = self.cpl == 3;
        // CS or the mode changed: leave the trace (the run loop then
        // follows only the chain links made in the new code context).
        self.run.break_trace = true;
    }

    /// Mask of the current address size for the stack.
    #[inline]
    pub fn stack_mask(&self) -> u64 {
        if self.bitness == 64 {
            u64::MAX
        } else if self.stack32 {
            0xFFFF_FFFF
        } else {
            0xFFFF
        }
    }

    /// Mask for instruction pointers of the current code size.
    #[inline]
    pub fn ip_mask(&self) -> u64 {
        match self.bitness {
            64 => u64::MAX,
            32 => 0xFFFF_FFFF,
            _ => 0xFFFF,
        }
    }
}
