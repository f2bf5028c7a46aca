//! MMX, SSE and SSE2 (Intel SDM Vol. 1 chapters 9-11, Vol. 2 instruction
//! pages, Vol. 3 §13 for the operating-system side).
//!
//! Almost every instruction of these sets reads a destination and a source
//! operand, computes, and writes the destination: one handler, [`vop`],
//! does that for every pair of operand classes (XMM register, MMX
//! register, general register, memory, immediate). The classes are const
//! parameters chosen at decode time; the operation itself ([`K`], one per
//! mnemonic, looked up from the iced `Code`) is chosen in [`exec`]
//! (integer lanes in `int`, data movement in `mov`, floating point in
//! `fp`). The few instructions with another shape
//! (EMMS, LDMXCSR/STMXCSR, MASKMOVQ/MASKMOVDQU, the fences) have their own
//! handlers here; FXSAVE/FXRSTOR live with the x87 environment code.
//!
//! Checks, in the order the SDM gives them (Vol. 3 Table 13-2 / 13-3 and
//! the instruction pages): #UD unless CPUID reports the instruction's set,
//! #UD when CR0.EM = 1, #UD for SSE/SSE2 instructions (all but MOVNTI and
//! the MMX-register forms) when CR4.OSFXSR = 0, #NM when CR0.TS = 1
//! (MOVNTI and the fences check only CPUID); an instruction touching an MMX
//! register then delivers a pending x87 exception (#MF) and switches the
//! x87 unit to MMX use (TOP = 0, every tag valid). A 16-byte memory
//! operand must be 16-byte aligned (#GP(0)) except for MOVUPS, MOVUPD and
//! MOVDQU.

mod fp;
mod int;
mod mov;
mod sse3;
mod sse41;
mod sse42;
mod ssse3;

use super::H;
use crate::arch::{cr0, cr4};
use crate::bus::CpuBus;
use crate::cpuid::{ecx1, edx1};
use crate::decode::{Handler, Op};
use crate::fault::{vector, Fault, Res};
use crate::simd::mxcsr;
use crate::state::CpuState;
use iced_x86::{Code, CpuidFeature, Instruction, Mnemonic as M, OpKind};

numbered! {
    /// Operand classes (the const parameters of [`vop`]).
    mod cls {
        /// An XMM register.
        X,
        /// An MMX register.
        MM,
        /// A general register.
        G,
        /// Memory.
        MEM,
        /// An 8-bit immediate.
        IMM,
    }
}
use cls::*;

numbered! {
    /// Instruction sets, for the CPUID check. `SSE2_GPR`: SSE2 touching no
    /// SIMD state (MOVNTI), only the CPUID check.
    mod isa { MMX, SSE, SSE2, SSE2_GPR, SSE3, SSSE3, SSE41, SSE42 }
}

fn class_of(ins: &Instruction, i: u32) -> Option<u8> {
    if i >= ins.op_count() {
        return None;
    }
    Some(match ins.op_kind(i) {
        OpKind::Register => {
            let r = ins.op_register(i);
            if r.is_xmm() {
                X
            } else if r.is_mm() {
                MM
            } else if r.is_gpr32() || r.is_gpr64() {
                G
            } else {
                return None;
            }
        }
        OpKind::Memory => MEM,
        OpKind::Immediate8 => IMM,
        _ => return None,
    })
}

/// The instruction set of an instruction: MMX, SSE, SSE2, SSE3, SSSE3,
/// SSE4.1 or SSE4.2, or `None` for anything else (AVX, 3DNow!).
fn isa_of(ins: &Instruction) -> Option<u8> {
    let mut level = None;
    for f in ins.cpuid_features() {
        let l = match f {
            CpuidFeature::MMX => isa::MMX,
            CpuidFeature::SSE => isa::SSE,
            CpuidFeature::SSE2 => isa::SSE2,
            CpuidFeature::SSE3 => isa::SSE3,
            CpuidFeature::SSSE3 => isa::SSSE3,
            CpuidFeature::SSE4_1 => isa::SSE41,
            CpuidFeature::SSE4_2 => isa::SSE42,
            _ => return None,
        };
        level = Some(level.map_or(l, |x: u8| x.max(l)));
    }
    level
}

/// Picks the handler of an MMX, SSE or SSE2 instruction.
pub(super) fn select<B: CpuBus>(ins: &Instruction) -> H<B> {
    let m = ins.mnemonic();
    match m {
        M::Emms => return Some(emms::<B>),
        M::Ldmxcsr => return Some(ldmxcsr::<B>),
        M::Stmxcsr => return Some(stmxcsr::<B>),
        M::Sfence => return Some(fence::<B, { isa::SSE }>),
        M::Lfence | M::Mfence => return Some(fence::<B, { isa::SSE2 }>),
        M::Clflush => return Some(clflush::<B>),
        M::Maskmovq => return Some(maskmov::<B, false>),
        M::Maskmovdqu => return Some(maskmov::<B, true>),
        M::Movnti => return Some(vop::<B, MEM, G, { isa::SSE2_GPR }>),
        M::Crc32 if ins.op1_kind() == OpKind::Memory => return Some(sse42::crc32::<B, true>),
        M::Crc32 => return Some(sse42::crc32::<B, false>),
        _ => {}
    }
    let d = class_of(ins, 0)?;
    let s = class_of(ins, 1)?;
    if ins.op_count() == 3 && ins.op_kind(2) != OpKind::Immediate8 {
        return None;
    }
    k_of(m)?;
    match isa_of(ins)? {
        isa::MMX => pick::<B, { isa::MMX }>(d, s),
        isa::SSE => pick::<B, { isa::SSE }>(d, s),
        isa::SSE2 => pick::<B, { isa::SSE2 }>(d, s),
        isa::SSE3 => pick::<B, { isa::SSE3 }>(d, s),
        isa::SSSE3 => pick::<B, { isa::SSSE3 }>(d, s),
        isa::SSE41 => pick::<B, { isa::SSE41 }>(d, s),
        _ => pick::<B, { isa::SSE42 }>(d, s),
    }
}

fn pick<B: CpuBus, const ISA: u8>(d: u8, s: u8) -> H<B> {
    Some(match (d, s) {
        (X, X) => vop::<B, X, X, ISA> as Handler<B>,
        (X, MEM) => vop::<B, X, MEM, ISA>,
        (X, IMM) => vop::<B, X, IMM, ISA>,
        (X, G) => vop::<B, X, G, ISA>,
        (X, MM) => vop::<B, X, MM, ISA>,
        (MM, MM) => vop::<B, MM, MM, ISA>,
        (MM, MEM) => vop::<B, MM, MEM, ISA>,
        (MM, IMM) => vop::<B, MM, IMM, ISA>,
        (MM, G) => vop::<B, MM, G, ISA>,
        (MM, X) => vop::<B, MM, X, ISA>,
        (MEM, X) => vop::<B, MEM, X, ISA>,
        (MEM, MM) => vop::<B, MEM, MM, ISA>,
        (G, X) => vop::<B, G, X, ISA>,
        (G, MM) => vop::<B, G, MM, ISA>,
        (G, MEM) => vop::<B, G, MEM, ISA>,
        _ => return None,
    })
}

/// The operations, one per mnemonic, numbered densely so that the
/// dispatch in [`exec`] compiles to jump tables.
macro_rules! ops {
    ($($n:ident),* $(,)?) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(super) enum K {
            $(
                #[allow(missing_docs)]
                $n,
            )*
        }

        /// The operation of a mnemonic, if it is one of [`K`].
        fn k_of(m: M) -> Option<K> {
            match m {
                $(M::$n => Some(K::$n),)*
                _ => None,
            }
        }
    };
}

ops!(
    Addpd,
    Addps,
    Addsd,
    Addss,
    Andnpd,
    Andnps,
    Andpd,
    Andps,
    Cmppd,
    Cmpps,
    Cmpsd,
    Cmpss,
    Comisd,
    Comiss,
    Cvtdq2pd,
    Cvtdq2ps,
    Cvtpd2dq,
    Cvtpd2pi,
    Cvtpd2ps,
    Cvtpi2pd,
    Cvtpi2ps,
    Cvtps2dq,
    Cvtps2pd,
    Cvtps2pi,
    Cvtsd2si,
    Cvtsd2ss,
    Cvtsi2sd,
    Cvtsi2ss,
    Cvtss2sd,
    Cvtss2si,
    Cvttpd2dq,
    Cvttpd2pi,
    Cvttps2dq,
    Cvttps2pi,
    Cvttsd2si,
    Cvttss2si,
    Divpd,
    Divps,
    Divsd,
    Divss,
    Maxpd,
    Maxps,
    Maxsd,
    Maxss,
    Minpd,
    Minps,
    Minsd,
    Minss,
    Movapd,
    Movaps,
    Movd,
    Movdq2q,
    Movdqa,
    Movdqu,
    Movhlps,
    Movhpd,
    Movhps,
    Movlhps,
    Movlpd,
    Movlps,
    Movmskpd,
    Movmskps,
    Movntdq,
    Movnti,
    Movntpd,
    Movntps,
    Movntq,
    Movq,
    Movq2dq,
    Movsd,
    Movss,
    Movupd,
    Movups,
    Mulpd,
    Mulps,
    Mulsd,
    Mulss,
    Orpd,
    Orps,
    Packssdw,
    Packsswb,
    Packuswb,
    Paddb,
    Paddd,
    Paddq,
    Paddsb,
    Paddsw,
    Paddusb,
    Paddusw,
    Paddw,
    Pand,
    Pandn,
    Pavgb,
    Pavgw,
    Pcmpeqb,
    Pcmpeqd,
    Pcmpeqw,
    Pcmpgtb,
    Pcmpgtd,
    Pcmpgtw,
    Pextrw,
    Pinsrw,
    Pmaddwd,
    Pmaxsw,
    Pmaxub,
    Pminsw,
    Pminub,
    Pmovmskb,
    Pmulhuw,
    Pmulhw,
    Pmullw,
    Pmuludq,
    Por,
    Psadbw,
    Pshufd,
    Pshufhw,
    Pshuflw,
    Pshufw,
    Pslld,
    Pslldq,
    Psllq,
    Psllw,
    Psrad,
    Psraw,
    Psrld,
    Psrldq,
    Psrlq,
    Psrlw,
    Psubb,
    Psubd,
    Psubq,
    Psubsb,
    Psubsw,
    Psubusb,
    Psubusw,
    Psubw,
    Punpckhbw,
    Punpckhdq,
    Punpckhqdq,
    Punpckhwd,
    Punpcklbw,
    Punpckldq,
    Punpcklqdq,
    Punpcklwd,
    Pxor,
    Rcpps,
    Rcpss,
    Rsqrtps,
    Rsqrtss,
    Shufpd,
    Shufps,
    Sqrtpd,
    Sqrtps,
    Sqrtsd,
    Sqrtss,
    Subpd,
    Subps,
    Subsd,
    Subss,
    Ucomisd,
    Ucomiss,
    Unpckhpd,
    Unpckhps,
    Unpcklpd,
    Unpcklps,
    Xorpd,
    Xorps,
    // SSE3
    Addsubpd,
    Addsubps,
    Haddpd,
    Haddps,
    Hsubpd,
    Hsubps,
    Lddqu,
    Movddup,
    Movshdup,
    Movsldup,
    // SSSE3
    Pabsb,
    Pabsd,
    Pabsw,
    Palignr,
    Phaddd,
    Phaddsw,
    Phaddw,
    Phsubd,
    Phsubsw,
    Phsubw,
    Pmaddubsw,
    Pmulhrsw,
    Pshufb,
    Psignb,
    Psignd,
    Psignw,
    // SSE4.1
    Blendpd,
    Blendps,
    Blendvpd,
    Blendvps,
    Dppd,
    Dpps,
    Extractps,
    Insertps,
    Movntdqa,
    Mpsadbw,
    Packusdw,
    Pblendvb,
    Pblendw,
    Pcmpeqq,
    Pextrb,
    Pextrd,
    Pextrq,
    Phminposuw,
    Pinsrb,
    Pinsrd,
    Pinsrq,
    Pmaxsb,
    Pmaxsd,
    Pmaxud,
    Pmaxuw,
    Pminsb,
    Pminsd,
    Pminud,
    Pminuw,
    Pmovsxbd,
    Pmovsxbq,
    Pmovsxbw,
    Pmovsxdq,
    Pmovsxwd,
    Pmovsxwq,
    Pmovzxbd,
    Pmovzxbq,
    Pmovzxbw,
    Pmovzxdq,
    Pmovzxwd,
    Pmovzxwq,
    Pmuldq,
    Pmulld,
    Ptest,
    Roundpd,
    Roundps,
    Roundsd,
    Roundss,
    // SSE4.2
    Pcmpestri,
    Pcmpestri64,
    Pcmpestrm,
    Pcmpestrm64,
    Pcmpgtq,
    Pcmpistri,
    Pcmpistrm,
);

/// The operation of each iced `Code`, built once.
fn op_table() -> &'static [Option<K>] {
    static TABLE: std::sync::OnceLock<Vec<Option<K>>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| Code::values().map(|c| k_of(c.mnemonic())).collect())
}

/// What an operation needs to know about its operands besides their
/// values.
#[derive(Clone, Copy, Debug)]
pub(super) struct Cx {
    /// The immediate byte (0 without one).
    pub imm: u8,
    /// 128-bit operation (no MMX register involved).
    pub wide: bool,
    /// The source is memory.
    pub smem: bool,
    /// The destination is memory.
    pub dmem: bool,
    /// Operand size of a general-register or memory operand, in bytes.
    pub size: u8,
}

/// Low 32 and 64 bits of a `u128`.
pub(super) const LO32: u128 = 0xFFFF_FFFF;
pub(super) const LO64: u128 = 0xFFFF_FFFF_FFFF_FFFF;

/// True for the instructions whose 16-byte memory operand may be
/// unaligned: the unaligned moves, LDDQU and the SSE4.2 string compares
/// (SDM Vol. 2 §2.4, exception type 4 notes). MOVNTDQA and every other
/// legacy-SSE m128 operand must be aligned.
fn unaligned(m: K) -> bool {
    matches!(
        m,
        K::Movups
            | K::Movupd
            | K::Movdqu
            | K::Lddqu
            | K::Pcmpestri
            | K::Pcmpestri64
            | K::Pcmpestrm
            | K::Pcmpestrm64
            | K::Pcmpistri
            | K::Pcmpistrm
    )
}

/// The generic handler: `dst = op(dst, src)` for operand classes `D` and
/// `S` of an instruction from set `ISA`.
fn vop<B: CpuBus, const D: u8, const S: u8, const ISA: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    let mmx = D == MM || S == MM;
    // SSE instructions need OSFXSR even without an XMM register operand
    // (CVTSS2SI r32, m32); the MMX-register forms added by SSE do not.
    let xmm = D == X || S == X || ISA != isa::MMX && ISA != isa::SSE2_GPR && !mmx;
    if !s.simd_enter(mmx, xmm, ISA)? {
        return Ok(());
    }
    let Some(m) = op_table().get(op.code as usize).copied().flatten() else {
        return Err(Fault::UD);
    };
    let d = match D {
        X => s.xmm(op.r0),
        MM => u128::from(s.mm(op.r0)),
        G => u128::from(s.reg(op.r0, op.size)),
        _ => 0,
    };
    let src = match S {
        X => s.xmm(op.r1),
        MM => u128::from(s.mm(op.r1)),
        G => u128::from(s.reg(op.r1, op.size2)),
        MEM => {
            let off = s.ea(op);
            s.vread(bus, op.seg as usize, off, op.size2, !unaligned(m))?
        }
        _ => u128::from(op.imm as u8),
    };
    let cx = Cx {
        imm: op.imm as u8,
        wide: !mmx,
        smem: S == MEM,
        dmem: D == MEM,
        size: if D == G || D == MEM {
            op.size
        } else {
            op.size2
        },
    };
    let Some(r) = exec(s, m, d, src, &cx)? else {
        return Ok(());
    };
    match D {
        X => s.set_xmm(op.r0, r),
        MM => s.set_mm(op.r0, r as u64),
        G => s.set_reg(op.r0, op.size, r as u64),
        _ => {
            let off = s.ea(op);
            s.vwrite(bus, op.seg as usize, off, op.size, !unaligned(m), r)?;
        }
    }
    Ok(())
}

/// Runs the operation of mnemonic `m`. `None`: nothing to write (the
/// comparisons into EFLAGS).
#[inline(never)]
fn exec(s: &mut CpuState, m: K, d: u128, src: u128, cx: &Cx) -> Res<Option<u128>> {
    if let Some(r) = int::op(m, d, src, cx) {
        return Ok(Some(r));
    }
    if let Some(r) = mov::op(m, d, src, cx) {
        return Ok(Some(r));
    }
    if let Some(r) = ext(s, m, d, src, cx) {
        return r;
    }
    fp::op(s, m, d, src, cx)
}

/// The operations of SSE3 and later.
fn ext(s: &mut CpuState, m: K, d: u128, src: u128, cx: &Cx) -> Option<Res<Option<u128>>> {
    if let Some(r) = sse3::mov(m, src)
        .or_else(|| ssse3::op(m, d, src, cx))
        .or_else(|| sse41::int(m, d, src, cx, s.xmm(0)))
        .or_else(|| sse42::int(m, d, src))
    {
        return Some(Ok(Some(r)));
    }
    if m == K::Ptest {
        sse41::ptest(s, d, src);
        return Some(Ok(None));
    }
    if sse42::pcmpstr(s, m, d, src, cx.imm).is_some() {
        return Some(Ok(None));
    }
    sse3::fp(s, m, d, src).or_else(|| sse41::fp(s, m, d, src, cx))
}

impl CpuState {
    /// The checks of an MMX/SSE/SSE2 instruction (see the module notes).
    /// Returns false when the instruction froze on FERR#.
    #[inline(always)]
    fn simd_enter(&mut self, mmx: bool, xmm: bool, isa: u8) -> Res<bool> {
        let (edx, ecx) = match isa {
            isa::MMX => (edx1::MMX, 0),
            isa::SSE => (edx1::SSE, 0),
            isa::SSE2 | isa::SSE2_GPR => (edx1::SSE2, 0),
            isa::SSE3 => (0, ecx1::SSE3),
            isa::SSSE3 => (0, ecx1::SSSE3),
            isa::SSE41 => (0, ecx1::SSE41),
            _ => (0, ecx1::SSE42),
        };
        if self.cpuid_model.features_edx & edx != edx || self.cpuid_model.features_ecx & ecx != ecx
        {
            return Err(Fault::UD);
        }
        if !mmx && !xmm {
            return Ok(true);
        }
        if self.cr0 & cr0::EM != 0 || xmm && self.cr4 & cr4::OSFXSR == 0 {
            return Err(Fault::UD);
        }
        if self.cr0 & cr0::TS != 0 {
            return Err(Fault::new(vector::NM));
        }
        if mmx {
            if !self.x87_enter(true)? {
                return Ok(false);
            }
            self.mmx_transition();
        }
        Ok(true)
    }

    /// Reads a 1- to 16-byte operand; a 16-byte one must be aligned when
    /// `align` is set.
    pub(crate) fn vread<B: CpuBus>(
        &mut self,
        bus: &mut B,
        seg: usize,
        off: u64,
        size: u8,
        align: bool,
    ) -> Res<u128> {
        if size != 16 {
            return Ok(u128::from(self.read_sz(bus, seg, off, size)?));
        }
        let lin = self.seg_lin(seg, off, 16, false)?;
        if align && lin & 15 != 0 {
            return Err(Fault::GP0);
        }
        let lo = self.read_lin::<B, 8>(bus, lin)?;
        let hi = self.read_lin::<B, 8>(bus, self.wrap_lin(lin + 8))?;
        Ok(u128::from(lo) | u128::from(hi) << 64)
    }

    /// Writes a 1- to 16-byte operand; a 16-byte store checks both halves
    /// before writing either.
    pub(crate) fn vwrite<B: CpuBus>(
        &mut self,
        bus: &mut B,
        seg: usize,
        off: u64,
        size: u8,
        align: bool,
        v: u128,
    ) -> Res<()> {
        if size != 16 {
            return self.write_sz(bus, seg, off, size, v as u64);
        }
        let lin = self.seg_lin(seg, off, 16, true)?;
        if align && lin & 15 != 0 {
            return Err(Fault::GP0);
        }
        self.probe_write(bus, lin, 16)?;
        self.write_lin::<B, 8>(bus, lin, v as u64)?;
        self.write_lin::<B, 8>(bus, self.wrap_lin(lin + 8), (v >> 64) as u64)
    }

    /// Records the SIMD floating-point exception flags `flags` in MXCSR;
    /// an unmasked one raises #XM (CR4.OSXMMEXCPT = 1) or #UD.
    pub(crate) fn simd_fp_raise(&mut self, flags: u32) -> Res<()> {
        let f = flags & mxcsr::FLAGS;
        self.simd.mxcsr |= f;
        if f & !(self.simd.mxcsr >> mxcsr::MASK_SHIFT) & mxcsr::FLAGS != 0 {
            return Err(if self.cr4 & cr4::OSXMMEXCPT != 0 {
                Fault::new(vector::XM)
            } else {
                Fault::UD
            });
        }
        Ok(())
    }
}

/// EMMS: every x87 register tagged empty.
fn emms<B: CpuBus>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    if !s.simd_enter(true, false, isa::MMX)? {
        return Ok(());
    }
    s.fpu.full = 0;
    Ok(())
}

/// The checks of LDMXCSR/STMXCSR, then the operand's offset.
fn mxcsr_enter<B>(s: &mut CpuState, op: &Op<B>) -> Res<u64> {
    s.simd_enter(false, true, isa::SSE)?;
    Ok(s.ea(op))
}

/// LDMXCSR m32: #GP(0) for reserved bits.
fn ldmxcsr<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let off = mxcsr_enter(s, op)?;
    let v = s.read_mem::<B, 4>(bus, op.seg as usize, off)? as u32;
    if v & !mxcsr::MASK != 0 {
        return Err(Fault::GP0);
    }
    s.simd.mxcsr = v;
    Ok(())
}

/// STMXCSR m32.
fn stmxcsr<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let off = mxcsr_enter(s, op)?;
    let v = u64::from(s.simd.mxcsr);
    s.write_mem::<B, 4>(bus, op.seg as usize, off, v)
}

/// SFENCE, LFENCE, MFENCE: one CPU in program order needs no fence.
fn fence<B: CpuBus, const ISA: u8>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    s.simd_enter(false, false, ISA)?;
    Ok(())
}

/// CLFLUSH m8: #UD unless CPUID reports CLFSH (qemu32 does not); no
/// caches to flush, but the address must be valid (checked as a byte
/// read).
fn clflush<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    if s.cpuid_model.features_edx & edx1::CLFSH == 0 {
        return Err(Fault::UD);
    }
    let off = s.ea(op);
    s.read_mem::<B, 1>(bus, op.seg as usize, off)?;
    Ok(())
}

/// MASKMOVQ mm1, mm2 and MASKMOVDQU xmm1, xmm2: the bytes of the first
/// register whose mask byte (in the second) has its top bit set are
/// stored at DS:(E/R)DI. The whole range is checked before any byte is
/// written.
fn maskmov<B: CpuBus, const WIDE: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let (isa, n) = if WIDE { (isa::SSE2, 16) } else { (isa::SSE, 8) };
    if !s.simd_enter(!WIDE, WIDE, isa)? {
        return Ok(());
    }
    let mask_reg = op.aux & 0x1F;
    let (v, mask) = if WIDE {
        (s.xmm(op.r1), s.xmm(mask_reg))
    } else {
        (u128::from(s.mm(op.r1)), u128::from(s.mm(mask_reg)))
    };
    let off = match op.asize {
        2 => s.gpr[crate::arch::reg::DI] & 0xFFFF,
        4 => s.gpr[crate::arch::reg::DI] & 0xFFFF_FFFF,
        _ => s.gpr[crate::arch::reg::DI],
    };
    let seg = op.seg as usize;
    let selected = (0..n).filter(|i| (mask >> (8 * i + 7)) & 1 != 0);
    if selected.clone().next().is_none() {
        return Ok(());
    }
    let lin = s.seg_lin(seg, off, n, true)?;
    s.probe_write(bus, lin, n)?;
    for i in selected {
        let a = s.wrap_lin(lin + i);
        s.write_lin::<B, 1>(bus, a, (v >> (8 * i)) as u64 & 0xFF)?;
    }
    Ok(())
}
