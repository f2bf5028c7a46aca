//! The CPU's part of a machine snapshot.
//!
//! A snapshot holds the architectural state only: registers, the hidden
//! parts of segment registers, MSRs, x87 and SSE state, and the few
//! latches between instructions (interrupt shadows, a pending #DB, the
//! delivery nesting). Caches are rebuilt: decoded traces, the TLB and
//! the code map are dropped on load, and the A20 mask and memory-map
//! generation come from the bus. Lazy flags are saved as EFLAGS.
//!
//! The field list is written once, in [`arch_fields!`]; the save side
//! destructures [`CpuState`] without `..`, so a field added to it must be
//! listed as saved or as skipped before the crate compiles again.

use crate::arch::{Mode, Segment, TableReg};
use crate::fault::FaultClass;
use crate::flags::FlagOp;
use crate::fpu::FpuState;
use crate::interrupt::Progress;
use crate::simd::SimdState;
use crate::state::{CpuState, Msrs};
use anyx86_hw::wire::{Reader, Wire, WireError};
use anyx86_softfloat::F80;

anyx86_hw::wire_struct!(Segment {
    selector,
    base,
    limit,
    attr,
    usable,
    rlim1,
    wlim1
});
anyx86_hw::wire_struct!(TableReg { base, limit });
anyx86_hw::wire_enum!(Mode {
    Real = 0,
    Protected = 1,
    V86 = 2,
    Long = 3
});
anyx86_hw::wire_enum!(FaultClass {
    Benign = 0,
    Contributory = 1,
    PageFault = 2,
    DoubleFault = 3
});
anyx86_hw::wire_struct!(Progress {
    vector,
    icount,
    repeats,
    stuck
});
anyx86_hw::wire_struct!(Msrs {
    sysenter_cs,
    sysenter_esp,
    sysenter_eip,
    tsc_offset,
    misc_enable,
    pat,
    mtrr_def_type,
    star,
    lstar,
    cstar,
    sfmask,
    kernel_gs_base,
    tsc_aux,
    k7_perf
});
anyx86_hw::wire_struct!(SimdState { xmm, mxcsr });

/// An x87 register as sign, exponent and significand, every bit kept.
struct WireF80(F80);

impl Wire for WireF80 {
    fn put(&self, out: &mut Vec<u8>) {
        self.0.sign.put(out);
        self.0.exp.put(out);
        self.0.sig.put(out);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self(F80 {
            sign: bool::get(r)?,
            exp: u16::get(r)?,
            sig: u64::get(r)?,
        }))
    }
}

impl Wire for FpuState {
    fn put(&self, out: &mut Vec<u8>) {
        let Self {
            regs,
            top,
            full,
            cw,
            sw,
            fip,
            fcs,
            fop,
            fdp,
            fds,
            ferr,
            ignne,
        } = self;
        regs.map(WireF80).put(out);
        top.put(out);
        full.put(out);
        cw.put(out);
        sw.put(out);
        fip.put(out);
        fcs.put(out);
        fop.put(out);
        fdp.put(out);
        fds.put(out);
        ferr.put(out);
        ignne.put(out);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Self {
            regs: <[WireF80; 8]>::get(r)?.map(|f| f.0),
            top: Wire::get(r)?,
            full: Wire::get(r)?,
            cw: Wire::get(r)?,
            sw: Wire::get(r)?,
            fip: Wire::get(r)?,
            fcs: Wire::get(r)?,
            fop: Wire::get(r)?,
            fdp: Wire::get(r)?,
            fds: Wire::get(r)?,
            ferr: Wire::get(r)?,
            ignne: Wire::get(r)?,
        })
    }
}

/// Writes `save_arch` and `load_arch` from one list: the fields saved as
/// they are, then the fields deliberately left out (caches, host-side
/// bookkeeping, and `flags`/`lazy`, which are saved as EFLAGS).
macro_rules! arch_fields {
    (save $($f:ident),*; skip $($skip:ident),*) => {
        impl CpuState {
            /// Appends the architectural state to `out`.
            pub fn save_arch(&self, out: &mut Vec<u8>) {
                let Self { $($f,)* $($skip: _,)* } = self;
                self.eflags().put(out);
                $( Wire::put($f, out); )*
            }

            /// Replaces the architectural state with the one `r` holds and
            /// drops every cache built from the old one. On an error the
            /// state is partly replaced: discard the CPU.
            pub fn load_arch(&mut self, r: &mut Reader<'_>) -> Result<(), WireError> {
                self.flags = Wire::get(r)?;
                self.lazy.op = FlagOp::None;
                $( self.$f = Wire::get(r)?; )*
                self.check_derived(r)?;
                self.smc_pages.clear();
                self.code.clear();
                self.tlb.flush_all();
                Ok(())
            }
        }
    };
}

arch_fields!(
    save gpr, rip, next_rip, seg, ldtr, tr, gdtr, idtr, cr0, cr2, cr3, cr4, efer, cr8, dr, msr,
        cpl, mode, bitness, stack32, icount, extra_work, progress, halted, inhibit_until,
        mov_ss_shadow, step_on_new_tf, nmi_blocked, delivering, pending_db, fpu, simd;
    skip flags, lazy, run, smc_pages, dma_pages, code, tlb, a20_mask, map_gen, watch, stats,
        cpuid_model
);

impl CpuState {
    /// A loaded state's derived fields must be what CR0, EFLAGS, EFER and
    /// the segment registers give (the interpreter relies on it), and its
    /// small fields must be in range.
    fn check_derived(&mut self, r: &Reader<'_>) -> Result<(), WireError> {
        let saved = (self.mode, self.bitness, self.stack32, self.cpl);
        if self.cpl > 3 || self.fpu.top > 7 {
            return Err(r.invalid("CPL or x87 TOP"));
        }
        self.update_mode();
        if (self.mode, self.bitness, self.stack32, self.cpl) != saved {
            return Err(r.invalid("CPU mode (it disagrees with CR0, EFLAGS, EFER and CS)"));
        }
        Ok(())
    }
}
