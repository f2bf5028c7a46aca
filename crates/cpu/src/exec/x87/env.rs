//! x87 control instructions: FNINIT, FNCLEX, FLDCW, FNSTCW, FNSTSW,
//! FNSTENV/FLDENV and FNSAVE/FRSTOR in their 16- and 32-bit, real and
//! protected layouts (SDM Vol. 1 §8.1.10, Figures 8-9 to 8-12), FXSAVE and
//! FXRSTOR (SDM Vol. 2, Table 3-43), and the 8087/287 leftovers FNENI,
//! FNDISI and FNSETPM, which the 387 and later execute as no-ops.
//!
//! The environment's reserved upper halves are stored as FFFFh, and the
//! real-mode layouts hold 20- or 32-bit linear pointers (CS × 16 + IP), as
//! a real x87 does. FXSAVE stores the x87 part (bytes 0-159) and, when
//! CR4.OSFXSR = 1, MXCSR, MXCSR_MASK and XMM0-7 (XMM0-15 in 64-bit code);
//! with OSFXSR = 0 those are neither saved nor restored (SDM: implementation
//! dependent; QEMU does the same). The reserved bytes are left alone.
//! FXRSTOR raises #GP(0) for an MXCSR image with reserved bits set.
//! FXSAVE64/FXRSTOR64 (REX.W) use the 64-bit FIP/FDP layout.

use crate::arch::cr4;
use crate::arch::Mode;
use crate::bus::CpuBus;
use crate::cpuid::edx1;
use crate::decode::Op;
use crate::exec::H;
use crate::fault::{Fault, Res};
use crate::fpu::{cw, sw, FpuState};
use crate::simd::mxcsr;
use crate::state::CpuState;
use anyx86_softfloat::F80;
use iced_x86::{Code, Mnemonic as M};

/// Where FXSAVE's ST0-ST7 start, 16 bytes each.
const FX_REGS: usize = 32;
/// Bytes of FXSAVE's x87 part (header and ST0-ST7).
const FX_X87: usize = FX_REGS + 8 * 16;
/// Bytes up to the end of XMM15.
const FX_XMM_END: usize = FX_X87 + 16 * 16;
/// Size of the whole FXSAVE area.
const FX_AREA: u64 = 512;

pub(super) fn select<B: CpuBus>(m: M, code: Code, mem: bool) -> H<B> {
    let big = matches!(
        code,
        Code::Fnstenv_m28byte
            | Code::Fldenv_m28byte
            | Code::Fnsave_m108byte
            | Code::Frstor_m108byte
    );
    Some(match m {
        M::Fninit => fninit::<B>,
        M::Fnclex => fnclex::<B>,
        M::Fldcw => fldcw::<B>,
        M::Fnstcw => fnstcw::<B>,
        M::Fnstsw if mem => fnstsw::<B, true>,
        M::Fnstsw => fnstsw::<B, false>,
        M::Fnstenv if big => fnstenv::<B, true>,
        M::Fnstenv => fnstenv::<B, false>,
        M::Fldenv if big => fldenv::<B, true, false>,
        M::Fldenv => fldenv::<B, false, false>,
        M::Fnsave if big => fnsave::<B, true>,
        M::Fnsave => fnsave::<B, false>,
        M::Frstor if big => fldenv::<B, true, true>,
        M::Frstor => fldenv::<B, false, true>,
        M::Fxsave => fxsave::<B, false>,
        M::Fxrstor => fxrstor::<B, false>,
        M::Fxsave64 => fxsave::<B, true>,
        M::Fxrstor64 => fxrstor::<B, true>,
        M::Fneni | M::Fndisi | M::Fnsetpm => fnop_287::<B>,
        _ => return None,
    })
}

/// Little-endian field access on an image.
fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn get16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn get32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// ST(0)-ST(7) as 80-bit images in `b`, from byte `at`, one every
/// `stride` bytes (FSAVE packs them, FXSAVE gives each 16 bytes).
fn put_regs(f: &FpuState, b: &mut [u8], at: usize, stride: usize) {
    for i in 0..8u8 {
        let at = at + stride * usize::from(i);
        b[at..at + 10].copy_from_slice(&f.st(i).to_le_bytes());
    }
}

/// Loads ST(0)-ST(7) from images laid out as [`put_regs`] stores them;
/// the tags are left alone.
fn get_regs(f: &mut FpuState, b: &[u8], at: usize, stride: usize) {
    for i in 0..8u8 {
        let at = at + stride * usize::from(i);
        let mut r = [0u8; 10];
        r.copy_from_slice(&b[at..at + 10]);
        let p = f.phys(i);
        f.regs[p] = F80::from_le_bytes(r);
    }
}

/// Size of the environment image.
const fn env_size(big: bool) -> usize {
    if big {
        28
    } else {
        14
    }
}

impl CpuState {
    /// Real and V86 mode use the layouts with linear pointers.
    fn x87_real_layout(&self) -> bool {
        matches!(self.mode, Mode::Real | Mode::V86)
    }

    /// Fills `b` with the FSTENV image of the current mode.
    fn x87_env_image(&self, big: bool, b: &mut [u8]) {
        let f = &self.fpu;
        let real = self.x87_real_layout();
        // Real mode: CS × 16 + IP, a 20-bit (32-bit in 32-bit format) address.
        let lip = (u32::from(f.fcs) << 4).wrapping_add(f.fip as u32);
        let ldp = (u32::from(f.fds) << 4).wrapping_add(f.fdp as u32);
        let w = if big { 4 } else { 2 };
        for (n, v) in [f.cw, f.status(), f.tag_word()].into_iter().enumerate() {
            put16(b, n * w, v);
            if big {
                put16(b, n * w + 2, 0xFFFF);
            }
        }
        let fop = f.fop & 0x7FF;
        match (big, real) {
            (true, false) => {
                put32(b, 12, f.fip as u32);
                put16(b, 16, f.fcs);
                put16(b, 18, fop);
                put32(b, 20, f.fdp as u32);
                put16(b, 24, f.fds);
                put16(b, 26, 0xFFFF);
            }
            (true, true) => {
                put16(b, 12, lip as u16);
                put16(b, 14, 0xFFFF);
                put32(b, 16, (lip >> 16) << 12 | u32::from(fop));
                put16(b, 20, ldp as u16);
                put16(b, 22, 0xFFFF);
                put32(b, 24, (ldp >> 16) << 12);
            }
            (false, false) => {
                put16(b, 6, f.fip as u16);
                put16(b, 8, f.fcs);
                put16(b, 10, f.fdp as u16);
                put16(b, 12, f.fds);
            }
            (false, true) => {
                put16(b, 6, lip as u16);
                put16(b, 8, ((lip >> 16) as u16 & 0xF) << 12 | fop);
                put16(b, 10, ldp as u16);
                put16(b, 12, ((ldp >> 16) as u16 & 0xF) << 12);
            }
        }
    }

    /// Loads an FLDENV image of the current mode.
    fn x87_load_env(&mut self, big: bool, b: &[u8]) {
        let real = self.x87_real_layout();
        let w = if big { 4 } else { 2 };
        let f = &mut self.fpu;
        match (big, real) {
            (true, false) => {
                f.fip = u64::from(get32(b, 12));
                f.fcs = get16(b, 16);
                f.fop = get16(b, 18) & 0x7FF;
                f.fdp = u64::from(get32(b, 20));
                f.fds = get16(b, 24);
            }
            (true, true) => {
                let hi = get32(b, 16);
                f.fip = u64::from(u32::from(get16(b, 12)) | (hi >> 12 & 0xFFFF) << 16);
                f.fop = hi as u16 & 0x7FF;
                f.fdp = u64::from(u32::from(get16(b, 20)) | (get32(b, 24) >> 12 & 0xFFFF) << 16);
                (f.fcs, f.fds) = (0, 0);
            }
            (false, false) => {
                f.fip = u64::from(get16(b, 6));
                f.fcs = get16(b, 8);
                f.fdp = u64::from(get16(b, 10));
                f.fds = get16(b, 12);
            }
            (false, true) => {
                let hi = get16(b, 8);
                f.fip = u64::from(get16(b, 6)) | u64::from(hi >> 12) << 16;
                f.fop = hi & 0x7FF;
                f.fdp = u64::from(get16(b, 10)) | u64::from(get16(b, 12) >> 12) << 16;
                (f.fcs, f.fds) = (0, 0);
            }
        }
        f.set_tag_word(get16(b, 2 * w));
        f.set_status(get16(b, w));
        f.set_control(get16(b, 0));
    }
}

/// FNINIT.
fn fninit<B: CpuBus>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    s.x87_enter(false)?;
    s.fpu.init();
    Ok(())
}

/// FNCLEX: the exception flags, SF, ES and B clear; C0-C3 and TOP stay.
fn fnclex<B: CpuBus>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    s.x87_enter(false)?;
    s.fpu.sw &= !(sw::FLAGS | sw::SF);
    s.fpu.exceptions_changed();
    Ok(())
}

/// FLDCW: unmasking a set flag makes its exception pending.
fn fldcw<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    s.x87_waiting(|s| {
        let off = s.ea(op);
        let v = s.read_mem::<B, 2>(bus, op.seg as usize, off)?;
        s.fpu.set_control(v as u16);
        Ok(())
    })
}

/// FNSTCW m16.
fn fnstcw<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    s.x87_enter(false)?;
    let off = s.ea(op);
    s.write_mem::<B, 2>(bus, op.seg as usize, off, u64::from(s.fpu.cw))
}

/// FNSTSW m16 or AX.
fn fnstsw<B: CpuBus, const MEM: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    s.x87_enter(false)?;
    let v = u64::from(s.fpu.status());
    if MEM {
        let off = s.ea(op);
        s.write_mem::<B, 2>(bus, op.seg as usize, off, v)
    } else {
        s.set_reg(0, 2, v);
        Ok(())
    }
}

/// FNSTENV: stores the environment, then masks every exception.
fn fnstenv<B: CpuBus, const BIG: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    s.x87_enter(false)?;
    let mut b = [0u8; 28];
    let b = &mut b[..env_size(BIG)];
    s.x87_env_image(BIG, b);
    let off = s.ea(op);
    s.x87_write_area(bus, op.seg as usize, off, b)?;
    let f = &mut s.fpu;
    f.set_control(f.cw | cw::MASKS);
    Ok(())
}

/// FNSAVE: the environment and ST(0)-ST(7), then FNINIT.
fn fnsave<B: CpuBus, const BIG: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    s.x87_enter(false)?;
    let mut b = [0u8; 108];
    let n = env_size(BIG);
    let b = &mut b[..n + 80];
    s.x87_env_image(BIG, b);
    put_regs(&s.fpu, b, n, 10);
    let off = s.ea(op);
    s.x87_write_area(bus, op.seg as usize, off, b)?;
    s.fpu.init();
    Ok(())
}

/// FLDENV, and FRSTOR (`REGS`: the registers follow the environment).
fn fldenv<B: CpuBus, const BIG: bool, const REGS: bool>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    s.x87_waiting(|s| {
        let mut b = [0u8; 108];
        let n = env_size(BIG);
        let b = &mut b[..if REGS { n + 80 } else { n }];
        let off = s.ea(op);
        s.x87_read_area(bus, op.seg as usize, off, b)?;
        s.x87_load_env(BIG, b);
        if REGS {
            get_regs(&mut s.fpu, b, n, 10);
        }
        Ok(())
    })
}

impl CpuState {
    /// FXSAVE/FXRSTOR's checks: #UD without FXSR, #NM, then #GP(0) for an
    /// area not 16-byte aligned. Returns the area's offset.
    fn fx_enter<B>(&mut self, op: &Op<B>, write: bool) -> Res<u64> {
        if self.cpuid_model.features_edx & edx1::FXSR == 0 {
            return Err(Fault::UD);
        }
        self.x87_enter(false)?;
        let off = self.ea(op);
        let lin = self.seg_lin(op.seg as usize, off, FX_AREA, write)?;
        if lin & 15 != 0 {
            return Err(Fault::GP0);
        }
        Ok(off)
    }
}

impl CpuState {
    /// How many bytes of the FXSAVE area hold state: the x87 part, and
    /// with CR4.OSFXSR the XMM registers (8, or 16 in 64-bit code).
    fn fx_len(&self) -> usize {
        if self.cr4 & cr4::OSFXSR == 0 {
            FX_X87
        } else if self.bitness == 64 {
            FX_XMM_END
        } else {
            FX_X87 + 8 * 16
        }
    }
}

/// FXSAVE: the x87 state, then MXCSR and the XMM registers. FXSAVE64
/// (REX.W, `W64`) stores FIP and FDP as 64-bit offsets without selectors.
fn fxsave<B: CpuBus, const W64: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let off = s.fx_enter(op, true)?;
    let lin = s.seg_lin(op.seg as usize, off, FX_AREA, true)?;
    s.probe_write(bus, lin, FX_AREA)?;
    let f = &s.fpu;
    let mut b = [0u8; FX_XMM_END];
    put16(&mut b, 0, f.cw);
    put16(&mut b, 2, f.status());
    b[4] = f.full;
    put16(&mut b, 6, f.fop & 0x7FF);
    if W64 {
        b[8..16].copy_from_slice(&f.fip.to_le_bytes());
        b[16..24].copy_from_slice(&f.fdp.to_le_bytes());
    } else {
        put32(&mut b, 8, f.fip as u32);
        put32(&mut b, 16, f.fdp as u32);
        put16(&mut b, 12, f.fcs);
        put16(&mut b, 20, f.fds);
    }
    put_regs(f, &mut b, FX_REGS, 16);
    let n = s.fx_len();
    if n > FX_X87 {
        put32(&mut b, 24, s.simd.mxcsr);
        put32(&mut b, 28, mxcsr::MASK);
        for (i, x) in s.simd.xmm.iter().enumerate() {
            let at = FX_X87 + 16 * i;
            b[at..at + 16].copy_from_slice(&x.to_le_bytes());
        }
    }
    // Bytes 24-31 are the MXCSR fields: without OSFXSR they keep their
    // old contents, so the write skips them.
    s.x87_write_area(bus, op.seg as usize, off, &b[..24])?;
    if n > FX_X87 {
        s.x87_write_area(bus, op.seg as usize, off + 24, &b[24..n])
    } else {
        s.x87_write_area(bus, op.seg as usize, off + FX_REGS as u64, &b[FX_REGS..n])
    }
}

/// FXRSTOR: loads the x87 state (pending exceptions it brings are raised
/// by the next waiting instruction), MXCSR and the XMM registers.
/// FXRSTOR64 (`W64`) reads FIP and FDP as 64-bit offsets (the upper
/// halves are dropped: this x87 keeps 32-bit pointers).
fn fxrstor<B: CpuBus, const W64: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let off = s.fx_enter(op, false)?;
    let n = s.fx_len();
    let mut b = [0u8; FX_XMM_END];
    s.x87_read_area(bus, op.seg as usize, off, &mut b[..n])?;
    if n > FX_X87 {
        let m = get32(&b, 24);
        if m & !mxcsr::MASK != 0 {
            return Err(Fault::GP0);
        }
        s.simd.mxcsr = m;
        for (i, x) in s.simd.xmm.iter_mut().enumerate().take((n - FX_X87) / 16) {
            let at = FX_X87 + 16 * i;
            let mut r = [0u8; 16];
            r.copy_from_slice(&b[at..at + 16]);
            *x = u128::from_le_bytes(r);
        }
    }
    let f = &mut s.fpu;
    f.full = b[4];
    f.fop = get16(&b, 6) & 0x7FF;
    if W64 {
        f.fip = u64::from(get32(&b, 8)) | u64::from(get32(&b, 12)) << 32;
        f.fdp = u64::from(get32(&b, 16)) | u64::from(get32(&b, 20)) << 32;
    } else {
        f.fip = u64::from(get32(&b, 8));
        f.fdp = u64::from(get32(&b, 16));
        f.fcs = get16(&b, 12);
        f.fds = get16(&b, 20);
    }
    f.set_status(get16(&b, 2));
    f.set_control(get16(&b, 0));
    get_regs(f, &b, FX_REGS, 16);
    Ok(())
}

/// FNENI, FNDISI, FNSETPM: 8087/287 controls, no-ops since the 387.
fn fnop_287<B: CpuBus>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    s.x87_enter(false)?;
    Ok(())
}
