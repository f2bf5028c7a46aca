//! The x87 FPU's architectural state (Intel SDM Vol. 1, chapter 8): the
//! eight 80-bit data registers, TOP, the tag word, the control and status
//! words, the last-instruction and last-operand pointers and the opcode.
//!
//! Tags are kept abridged (one "not empty" bit per physical register, as
//! FXSAVE stores them); the full two-bit tag word of FSTENV/FSAVE is
//! derived from the register contents, as the P6 does. The status word's
//! ES and B bits are derived too: an exception is pending exactly while a
//! flag is set whose mask bit is clear (so FLDCW can make one pending, and
//! FNSTENV, which masks everything, cancels it; a real x87 agrees).
//!
//! Numeric error reporting (SDM Vol. 1 §8.7, Vol. 3 §2.5 CR0.NE): a
//! pending exception is delivered on the next waiting x87 instruction, as
//! #MF when CR0.NE = 1; when NE = 0 that instruction asserts FERR# and
//! freezes until an interrupt (the PC routes FERR# to IRQ13) unless IGNNE#
//! is asserted. [`FpuState::ferr`] is the FERR# output the machine polls;
//! [`FpuState::ignne`] the IGNNE# input it drives.
//!
//! Not implemented: the bias-adjusted results of unmasked overflow and
//! underflow with a register destination (the masked result is stored).

use anyx86_softfloat::{Class, Ctx, F80};
use iced_x86::{Code, Instruction, MemorySize, Mnemonic as M, OpKind, Register};

/// Control word bits (SDM Vol. 1 §8.1.5).
pub mod cw {
    /// Invalid-operation mask.
    pub const IM: u16 = 1 << 0;
    /// Denormal-operand mask.
    pub const DM: u16 = 1 << 1;
    /// Zero-divide mask.
    pub const ZM: u16 = 1 << 2;
    /// Overflow mask.
    pub const OM: u16 = 1 << 3;
    /// Underflow mask.
    pub const UM: u16 = 1 << 4;
    /// Precision mask.
    pub const PM: u16 = 1 << 5;
    /// The six exception masks.
    pub const MASKS: u16 = 0x3F;
    /// Reserved bit 6: reads as one on the 387 and later.
    pub const ONE: u16 = 1 << 6;
    /// Bits that hold what was loaded: masks, PC (9-8), RC (11-10) and the
    /// infinity control bit 12 (ignored since the 387).
    pub const WRITABLE: u16 = 0x1F3F;
    /// After FNINIT: everything masked, 64-bit precision, round to nearest.
    pub const INIT: u16 = 0x037F;
    /// After RESET (SDM Vol. 3, Table 9-1).
    pub const RESET: u16 = 0x0040;
}

/// Status word bits (SDM Vol. 1 §8.1.3).
pub mod sw {
    /// Invalid operation.
    pub const IE: u16 = 1 << 0;
    /// Denormal operand.
    pub const DE: u16 = 1 << 1;
    /// Zero divide.
    pub const ZE: u16 = 1 << 2;
    /// Overflow.
    pub const OE: u16 = 1 << 3;
    /// Underflow.
    pub const UE: u16 = 1 << 4;
    /// Precision (inexact result).
    pub const PE: u16 = 1 << 5;
    /// Stack fault (with IE: C1 = 1 overflow, 0 underflow).
    pub const SF: u16 = 1 << 6;
    /// Exception summary: an unmasked exception is pending.
    pub const ES: u16 = 1 << 7;
    /// Condition code C0.
    pub const C0: u16 = 1 << 8;
    /// Condition code C1.
    pub const C1: u16 = 1 << 9;
    /// Condition code C2.
    pub const C2: u16 = 1 << 10;
    /// TOP, bits 13-11.
    pub const TOP_SHIFT: u16 = 11;
    /// TOP field mask.
    pub const TOP: u16 = 7 << TOP_SHIFT;
    /// Condition code C3.
    pub const C3: u16 = 1 << 14;
    /// Busy: mirrors ES since the 387.
    pub const B: u16 = 1 << 15;
    /// The six exception flags.
    pub const FLAGS: u16 = 0x3F;
    /// C0-C3.
    pub const CC: u16 = C0 | C1 | C2 | C3;
    /// Exceptions that stop the result from being stored when unmasked
    /// (detected before the operation: SDM Vol. 1 §8.5 and §4.9.2).
    pub const PRE: u16 = IE | DE | ZE;
}

/// Full tag values (SDM Vol. 1 Figure 8-7).
pub mod tag {
    /// A normal value.
    pub const VALID: u16 = 0;
    /// Zero.
    pub const ZERO: u16 = 1;
    /// NaN, infinity, denormal or unsupported encoding.
    pub const SPECIAL: u16 = 2;
    /// Empty.
    pub const EMPTY: u16 = 3;
}

/// The x87 state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FpuState {
    /// Physical data registers R0-R7 (ST(i) is R((TOP + i) mod 8)).
    pub regs: [F80; 8],
    /// Top-of-stack register number.
    pub top: u8,
    /// Abridged tag word: bit i set when Ri is not empty.
    pub full: u8,
    /// Control word.
    pub cw: u16,
    /// Status word without TOP, ES and B (see [`FpuState::sw`]).
    pub sw: u16,
    /// Last non-control instruction: offset (64 bits in 64-bit code;
    /// FXSAVE64 stores all of it, the other formats its low bits).
    pub fip: u64,
    /// Last non-control instruction: code segment selector.
    pub fcs: u16,
    /// Last non-control instruction: opcode, 11 bits (low three bits of
    /// the ESC byte, then the ModR/M byte).
    pub fop: u16,
    /// Last memory operand: offset (64 bits, like `fip`).
    pub fdp: u64,
    /// Last memory operand: segment selector.
    pub fds: u16,
    /// FERR# output: a waiting instruction met a pending exception with
    /// CR0.NE = 0. The PC routes it to IRQ13; it falls when the exception
    /// is cleared.
    pub ferr: bool,
    /// IGNNE# input: while asserted (the PC asserts it when port F0h is
    /// written with FERR# active) a pending exception is ignored when
    /// CR0.NE = 0. Dropped by the CPU with FERR#.
    pub ignne: bool,
}

impl Default for FpuState {
    fn default() -> Self {
        Self::reset()
    }
}

impl FpuState {
    /// The state after RESET (SDM Vol. 3, Table 9-1): every register +0.0
    /// and tagged zero, CW 0040h (all exceptions unmasked), SW 0.
    pub fn reset() -> Self {
        Self {
            regs: [F80::ZERO; 8],
            top: 0,
            full: 0xFF,
            cw: cw::RESET,
            sw: 0,
            fip: 0,
            fcs: 0,
            fop: 0,
            fdp: 0,
            fds: 0,
            ferr: false,
            ignne: false,
        }
    }

    /// FNINIT: the registers keep their contents but are all tagged empty.
    pub fn init(&mut self) {
        self.cw = cw::INIT;
        self.sw = 0;
        self.top = 0;
        self.full = 0;
        self.fip = 0;
        self.fcs = 0;
        self.fop = 0;
        self.fdp = 0;
        self.fds = 0;
        self.exceptions_changed();
    }

    /// The unmasked exception flags that are set.
    #[inline]
    pub fn pending(&self) -> u16 {
        self.sw & !self.cw & sw::FLAGS
    }

    /// The status word as FNSTSW stores it.
    pub fn status(&self) -> u16 {
        let es = if self.pending() != 0 {
            sw::ES | sw::B
        } else {
            0
        };
        (self.sw & !(sw::TOP | sw::ES | sw::B)) | (u16::from(self.top) << sw::TOP_SHIFT) | es
    }

    /// Loads a status word (FLDENV, FRSTOR, FXRSTOR): TOP comes with it.
    pub fn set_status(&mut self, v: u16) {
        self.top = ((v & sw::TOP) >> sw::TOP_SHIFT) as u8;
        self.sw = v & !(sw::TOP | sw::ES | sw::B);
        self.exceptions_changed();
    }

    /// Loads the control word (FLDCW and the environment loads).
    pub fn set_control(&mut self, v: u16) {
        self.cw = (v & cw::WRITABLE) | cw::ONE;
        self.exceptions_changed();
    }

    /// FERR# and IGNNE# fall once nothing is pending.
    pub fn exceptions_changed(&mut self) {
        if self.pending() == 0 {
            self.ferr = false;
            self.ignne = false;
        }
    }

    /// The full tag of physical register `r`.
    pub fn tag_of(&self, r: usize) -> u16 {
        if self.full & (1 << r) == 0 {
            return tag::EMPTY;
        }
        match self.regs[r].class() {
            Class::Zero => tag::ZERO,
            Class::Normal => tag::VALID,
            _ => tag::SPECIAL,
        }
    }

    /// The full tag word (two bits per physical register).
    pub fn tag_word(&self) -> u16 {
        (0..8).fold(0, |w, r| w | self.tag_of(r) << (2 * r))
    }

    /// Loads a full tag word: only "empty" or not matters, the rest is
    /// recomputed from the contents.
    pub fn set_tag_word(&mut self, w: u16) {
        self.full = (0..8).fold(0, |f, r| {
            if (w >> (2 * r)) & 3 == tag::EMPTY {
                f
            } else {
                f | 1 << r
            }
        });
    }

    /// The physical register of ST(i).
    #[inline]
    pub fn phys(&self, i: u8) -> usize {
        usize::from(self.top.wrapping_add(i) & 7)
    }

    /// ST(i).
    #[inline]
    pub fn st(&self, i: u8) -> F80 {
        self.regs[self.phys(i)]
    }

    /// True when ST(i) is empty.
    #[inline]
    pub fn is_empty(&self, i: u8) -> bool {
        self.full & (1 << self.phys(i)) == 0
    }

    /// Writes ST(i) and tags it full.
    #[inline]
    pub fn set_st(&mut self, i: u8, v: F80) {
        let r = self.phys(i);
        self.regs[r] = v;
        self.full |= 1 << r;
    }

    /// Tags ST(i) empty (FFREE).
    #[inline]
    pub fn free(&mut self, i: u8) {
        self.full &= !(1 << self.phys(i));
    }

    /// Pushes `v`: TOP decrements.
    #[inline]
    pub fn push(&mut self, v: F80) {
        self.top = self.top.wrapping_sub(1) & 7;
        self.set_st(0, v);
    }

    /// Pops: ST(0) is tagged empty and TOP increments.
    #[inline]
    pub fn pop(&mut self) {
        self.free(0);
        self.top = (self.top + 1) & 7;
    }

    /// True when a push would overflow the stack (ST(7) is in use).
    #[inline]
    pub fn push_overflows(&self) -> bool {
        !self.is_empty(7)
    }

    /// A soft-float context with this control word's rounding and
    /// precision.
    #[inline]
    pub fn ctx(&self) -> Ctx {
        Ctx::from_control_word(self.cw)
    }

    /// True when `ex` holds an unmasked exception of `kinds`.
    #[inline]
    pub fn unmasked(&self, ex: u16, kinds: u16) -> bool {
        ex & kinds & !self.cw & sw::FLAGS != 0
    }

    /// Sets exception flags.
    #[inline]
    pub fn raise(&mut self, ex: u16) {
        self.sw |= ex & (sw::FLAGS | sw::SF);
    }

    /// Sets C1 (the "rounded up" indication of most instructions).
    #[inline]
    pub fn set_c1(&mut self, c1: bool) {
        self.sw = (self.sw & !sw::C1) | if c1 { sw::C1 } else { 0 };
    }

    /// Replaces the condition codes C0-C3 with `cc` (status-word positions).
    #[inline]
    pub fn set_cc(&mut self, cc: u16) {
        self.sw = (self.sw & !sw::CC) | (cc & sw::CC);
    }

    /// Records the outcome of an operation with a register destination:
    /// the flags it raised and C1. Returns false when an unmasked invalid,
    /// denormal or zero-divide exception means the result is not stored
    /// (and nothing is popped); then only those flags are recorded.
    pub fn commit(&mut self, ex: u16, c1: bool) -> bool {
        if self.unmasked(ex, sw::PRE) {
            self.raise(ex & sw::PRE);
            return false;
        }
        self.raise(ex);
        self.set_c1(c1);
        true
    }

    /// Stack overflow or underflow (IE with SF; C1 tells which). Returns
    /// true when IE is masked and the masked response (the indefinite) is
    /// to be used.
    pub fn stack_fault(&mut self, overflow: bool) -> bool {
        self.raise(sw::IE | sw::SF);
        self.set_c1(overflow);
        self.cw & cw::IM != 0
    }

    /// The stack check of instructions that replace ST(0) and push a
    /// second result (FXTRACT, FPTAN, FSINCOS): an empty ST(0) is an
    /// underflow, a full stack an overflow; masked, the indefinite ends up
    /// in both places. Returns true when a fault was handled and the
    /// instruction is over.
    pub fn replace_and_push_faults(&mut self) -> bool {
        let overflow = if self.is_empty(0) {
            false
        } else if self.push_overflows() {
            true
        } else {
            return false;
        };
        if self.stack_fault(overflow) {
            self.set_st(0, F80::INDEFINITE);
            self.push(F80::INDEFINITE);
        }
        true
    }

    /// The stack check of a push: a full stack is an overflow whose masked
    /// response pushes the indefinite. Returns true when a fault was
    /// handled and the instruction is over.
    pub fn push_faults(&mut self) -> bool {
        if !self.push_overflows() {
            return false;
        }
        if self.stack_fault(true) {
            self.push(F80::INDEFINITE);
        }
        true
    }

    /// A stack underflow of an instruction that writes ST(`dest`): the
    /// masked response writes the indefinite there, then pops with `pop`.
    pub fn underflow(&mut self, dest: u8, pop: bool) {
        if self.stack_fault(false) {
            self.set_st(dest, F80::INDEFINITE);
            if pop {
                self.pop();
            }
        }
    }

    /// The operands ST(0) and ST(`i`) (`i` = 0 for one operand) of an
    /// instruction that writes ST(`dest`) and pops with `pop`: an empty one
    /// is a stack underflow ([`FpuState::underflow`]) and gives None.
    pub fn operands(&mut self, i: u8, dest: u8, pop: bool) -> Option<(F80, F80)> {
        if self.is_empty(0) || self.is_empty(i) {
            self.underflow(dest, pop);
            return None;
        }
        Some((self.st(0), self.st(i)))
    }

    /// Records the flags and C1 of `ctx` and, unless an unmasked exception
    /// stops it ([`FpuState::commit`]), writes `r` to ST(`dest`) and pops
    /// with `pop`.
    pub fn store(&mut self, ctx: &Ctx, dest: u8, r: F80, pop: bool) {
        if self.commit(flags_of(ctx), ctx.c1) {
            self.set_st(dest, r);
            if pop {
                self.pop();
            }
        }
    }

    /// `ST(dest) = g(ST(0), ST(i))` under this control word, then pop with
    /// `pop`: the underflow check of [`FpuState::operands`], then the
    /// result stored as [`FpuState::store`] does.
    pub fn apply(&mut self, i: u8, dest: u8, pop: bool, g: impl FnOnce(&mut Ctx, F80, F80) -> F80) {
        let Some((a, b)) = self.operands(i, dest, pop) else {
            return;
        };
        let mut ctx = self.ctx();
        let r = g(&mut ctx, a, b);
        self.store(&ctx, dest, r, pop);
    }
}

/// Exception flags of a soft-float context, in status-word positions.
#[inline]
pub fn flags_of(ctx: &Ctx) -> u16 {
    u16::from(ctx.flags.bits())
}

/// The 11-bit x87 opcode (FOP) of an x87 instruction: the low three bits
/// of its ESC byte, then its ModR/M byte. `None` for other instructions.
/// Recomputed from iced's decoding, which does not keep the raw bytes.
pub fn fop_of(ins: &Instruction) -> Option<u16> {
    if ins.op_count() > 0 && ins.op_kind(0) == OpKind::Memory
        || ins.op_count() > 1 && ins.op_kind(1) == OpKind::Memory
    {
        let (esc, reg) = mem_opcode(ins)?;
        return Some(esc << 8 | u16::from(modrm_mem(ins, reg)));
    }
    let base = reg_opcode(ins.code())?;
    // The ST(i) operand adds i to the second byte.
    let i = (0..ins.op_count())
        .map(|n| ins.op_register(n))
        .filter(|r| r.is_st() && *r != Register::ST0)
        .map(|r| r.number() as u16)
        .next()
        .unwrap_or(0);
    Some(base + i)
}

/// ESC byte (low three bits) and ModR/M reg field of a memory form.
fn mem_opcode(ins: &Instruction) -> Option<(u16, u8)> {
    use MemorySize as S;
    let ms = ins.memory_size();
    let arith = |r: u8| match ms {
        S::Float32 => Some((0, r)),
        S::Float64 => Some((4, r)),
        S::Int32 => Some((2, r)),
        S::Int16 => Some((6, r)),
        _ => None,
    };
    match ins.mnemonic() {
        M::Fadd | M::Fiadd => arith(0),
        M::Fmul | M::Fimul => arith(1),
        M::Fcom | M::Ficom => arith(2),
        M::Fcomp | M::Ficomp => arith(3),
        M::Fsub | M::Fisub => arith(4),
        M::Fsubr | M::Fisubr => arith(5),
        M::Fdiv | M::Fidiv => arith(6),
        M::Fdivr | M::Fidivr => arith(7),
        M::Fld => match ms {
            S::Float32 => Some((1, 0)),
            S::Float64 => Some((5, 0)),
            _ => Some((3, 5)),
        },
        M::Fst => match ms {
            S::Float32 => Some((1, 2)),
            _ => Some((5, 2)),
        },
        M::Fstp => match ms {
            S::Float32 => Some((1, 3)),
            S::Float64 => Some((5, 3)),
            _ => Some((3, 7)),
        },
        M::Fild => match ms {
            S::Int16 => Some((7, 0)),
            S::Int32 => Some((3, 0)),
            _ => Some((7, 5)),
        },
        M::Fisttp => match ms {
            S::Int16 => Some((7, 1)),
            S::Int32 => Some((3, 1)),
            _ => Some((5, 1)),
        },
        M::Fist => match ms {
            S::Int16 => Some((7, 2)),
            _ => Some((3, 2)),
        },
        M::Fistp => match ms {
            S::Int16 => Some((7, 3)),
            S::Int32 => Some((3, 3)),
            _ => Some((7, 7)),
        },
        M::Fbld => Some((7, 4)),
        M::Fbstp => Some((7, 6)),
        M::Fldenv => Some((1, 4)),
        M::Fldcw => Some((1, 5)),
        M::Fnstenv => Some((1, 6)),
        M::Fnstcw => Some((1, 7)),
        M::Frstor => Some((5, 4)),
        M::Fnsave => Some((5, 6)),
        M::Fnstsw => Some((5, 7)),
        _ => None,
    }
}

/// Re-encodes the ModR/M byte of a memory operand (mod and r/m from the
/// addressing form, `reg` given).
fn modrm_mem(ins: &Instruction, reg: u8) -> u8 {
    let base = ins.memory_base();
    let index = ins.memory_index();
    let disp = ins.memory_displ_size();
    let sixteen = base.is_gpr16() || index.is_gpr16() || (base == Register::None && disp == 2);
    let (md, rm) = if sixteen {
        let rm = match (base, index) {
            (Register::BX, Register::SI) => Some(0),
            (Register::BX, Register::DI) => Some(1),
            (Register::BP, Register::SI) => Some(2),
            (Register::BP, Register::DI) => Some(3),
            (Register::SI, Register::None) => Some(4),
            (Register::DI, Register::None) => Some(5),
            (Register::BP, Register::None) => Some(6),
            (Register::BX, Register::None) => Some(7),
            _ => None,
        };
        match (rm, disp) {
            (None, _) => (0, 6),
            (Some(r), 0) => (0, r),
            (Some(r), 1) => (1, r),
            (Some(r), _) => (2, r),
        }
    } else if base == Register::None && index == Register::None {
        (0, 5)
    } else {
        let rm = if index != Register::None || base == Register::ESP || base == Register::None {
            4
        } else {
            base.number() as u8 & 7
        };
        let md = match disp {
            _ if base == Register::None => 0,
            0 => 0,
            1 => 1,
            _ => 2,
        };
        (md, rm)
    };
    md << 6 | (reg & 7) << 3 | rm
}

/// FOP of a register form with ST(0) (ESC bits and second byte).
fn reg_opcode(code: Code) -> Option<u16> {
    use Code as C;
    Some(match code {
        C::Fadd_st0_sti => 0x0C0,
        C::Fmul_st0_sti => 0x0C8,
        C::Fcom_st0_sti => 0x0D0,
        C::Fcomp_st0_sti => 0x0D8,
        C::Fsub_st0_sti => 0x0E0,
        C::Fsubr_st0_sti => 0x0E8,
        C::Fdiv_st0_sti => 0x0F0,
        C::Fdivr_st0_sti => 0x0F8,
        C::Fld_sti => 0x1C0,
        C::Fxch_st0_sti => 0x1C8,
        C::Fnop => 0x1D0,
        C::Fstpnce_sti => 0x1D8,
        C::Fchs => 0x1E0,
        C::Fabs => 0x1E1,
        C::Ftst => 0x1E4,
        C::Fxam => 0x1E5,
        C::Fld1 => 0x1E8,
        C::Fldl2t => 0x1E9,
        C::Fldl2e => 0x1EA,
        C::Fldpi => 0x1EB,
        C::Fldlg2 => 0x1EC,
        C::Fldln2 => 0x1ED,
        C::Fldz => 0x1EE,
        C::F2xm1 => 0x1F0,
        C::Fyl2x => 0x1F1,
        C::Fptan => 0x1F2,
        C::Fpatan => 0x1F3,
        C::Fxtract => 0x1F4,
        C::Fprem1 => 0x1F5,
        C::Fdecstp => 0x1F6,
        C::Fincstp => 0x1F7,
        C::Fprem => 0x1F8,
        C::Fyl2xp1 => 0x1F9,
        C::Fsqrt => 0x1FA,
        C::Fsincos => 0x1FB,
        C::Frndint => 0x1FC,
        C::Fscale => 0x1FD,
        C::Fsin => 0x1FE,
        C::Fcos => 0x1FF,
        C::Fcmovb_st0_sti => 0x2C0,
        C::Fcmove_st0_sti => 0x2C8,
        C::Fcmovbe_st0_sti => 0x2D0,
        C::Fcmovu_st0_sti => 0x2D8,
        C::Fucompp => 0x2E9,
        C::Fcmovnb_st0_sti => 0x3C0,
        C::Fcmovne_st0_sti => 0x3C8,
        C::Fcmovnbe_st0_sti => 0x3D0,
        C::Fcmovnu_st0_sti => 0x3D8,
        C::Fneni => 0x3E0,
        C::Fndisi => 0x3E1,
        C::Fnclex => 0x3E2,
        C::Fninit => 0x3E3,
        C::Fnsetpm => 0x3E4,
        C::Fucomi_st0_sti => 0x3E8,
        C::Fcomi_st0_sti => 0x3F0,
        C::Fadd_sti_st0 => 0x4C0,
        C::Fmul_sti_st0 => 0x4C8,
        C::Fcom_st0_sti_DCD0 => 0x4D0,
        C::Fcomp_st0_sti_DCD8 => 0x4D8,
        C::Fsubr_sti_st0 => 0x4E0,
        C::Fsub_sti_st0 => 0x4E8,
        C::Fdivr_sti_st0 => 0x4F0,
        C::Fdiv_sti_st0 => 0x4F8,
        C::Ffree_sti => 0x5C0,
        C::Fxch_st0_sti_DDC8 => 0x5C8,
        C::Fst_sti => 0x5D0,
        C::Fstp_sti => 0x5D8,
        C::Fucom_st0_sti => 0x5E0,
        C::Fucomp_st0_sti => 0x5E8,
        C::Faddp_sti_st0 => 0x6C0,
        C::Fmulp_sti_st0 => 0x6C8,
        C::Fcomp_st0_sti_DED0 => 0x6D0,
        C::Fcompp => 0x6D9,
        C::Fsubrp_sti_st0 => 0x6E0,
        C::Fsubp_sti_st0 => 0x6E8,
        C::Fdivrp_sti_st0 => 0x6F0,
        C::Fdivp_sti_st0 => 0x6F8,
        C::Ffreep_sti => 0x7C0,
        C::Fxch_st0_sti_DFC8 => 0x7C8,
        C::Fstp_sti_DFD0 => 0x7D0,
        C::Fstp_sti_DFD8 => 0x7D8,
        C::Fnstsw_AX => 0x7E0,
        C::Fucomip_st0_sti => 0x7E8,
        C::Fcomip_st0_sti => 0x7F0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_state_is_table_9_1() {
        let f = FpuState::reset();
        assert_eq!(f.cw, 0x0040);
        assert_eq!(f.status(), 0);
        assert_eq!(f.tag_word(), 0x5555);
    }

    #[test]
    fn fninit_empties_every_tag() {
        let mut f = FpuState::reset();
        f.init();
        assert_eq!((f.cw, f.status(), f.tag_word()), (0x037F, 0, 0xFFFF));
    }

    #[test]
    fn es_and_b_follow_unmasked_flags() {
        let mut f = FpuState::reset();
        f.init();
        f.raise(sw::ZE);
        assert_eq!(f.status(), sw::ZE);
        f.set_control(cw::INIT & !cw::ZM);
        assert_eq!(f.status(), sw::ZE | sw::ES | sw::B);
    }

    #[test]
    fn control_word_reserved_bits() {
        // A real x87: FLDCW 0 reads back 0040h, FLDCW FFFFh 1F7Fh.
        let mut f = FpuState::reset();
        f.set_control(0);
        assert_eq!(f.cw, 0x0040);
        f.set_control(0xFFFF);
        assert_eq!(f.cw, 0x1F7F);
    }

    fn decode(bits: u32, bytes: &[u8]) -> Instruction {
        iced_x86::Decoder::with_ip(bits, bytes, 0, iced_x86::DecoderOptions::NONE).decode()
    }

    #[test]
    fn fop_of_register_and_memory_forms() {
        assert_eq!(fop_of(&decode(32, &[0xDE, 0xE9])), Some(0x6E9)); // fsubp st(1),st
        assert_eq!(fop_of(&decode(32, &[0xD9, 0xE8])), Some(0x1E8)); // fld1
        assert_eq!(fop_of(&decode(32, &[0xD8, 0xC3])), Some(0x0C3)); // fadd st,st(3)
        assert_eq!(fop_of(&decode(16, &[0xDD, 0x46, 0x02])), Some(0x546)); // fld qword [bp+2]
        assert_eq!(fop_of(&decode(32, &[0xD9, 0x04, 0x24])), Some(0x104)); // fld dword [esp]
        assert_eq!(fop_of(&decode(32, &[0xDB, 0x2D, 0, 0, 1, 0])), Some(0x32D)); // fld tbyte [10000h]
        assert_eq!(fop_of(&decode(32, &[0xDF, 0x7C, 0x8E, 0x10])), Some(0x77C)); // fistp qword [esi+ecx*4+10h]
        assert_eq!(fop_of(&decode(32, &[0x90])), None);
    }
}
