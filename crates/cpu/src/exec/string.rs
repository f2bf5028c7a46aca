//! String instructions with REP/REPE/REPNE: MOVS, STOS, LODS, CMPS, SCAS,
//! INS, OUTS.
//!
//! A REP instruction runs at most [`REP_SLICE`] iterations per execution
//! and then re-executes itself, so interrupts and device deadlines are seen
//! during long copies. ECX/ESI/EDI are updated every iteration, so a fault
//! leaves them at the completed iterations and the instruction resumes
//! where it stopped.
//!
//! REP MOVS/STOS/LODS/CMPS/SCAS have a fast path ([`fast_chunk`]): the
//! elements that stay inside the current source and destination pages,
//! the segment limits, the address size and the slice are done at once on
//! guest RAM when the TLB holds fast (RAM, unwatched, not code for
//! writes) entries for both pages. Such a chunk cannot fault, so a fault
//! is always raised by the element-by-element path, on its element.

use super::{mn, H};
use crate::arch::{fl, reg, sreg};
use crate::bus::CpuBus;
use crate::decode::{Handler, Op};
use crate::fault::Res;
use crate::flags::{mask, FlagOp};
use crate::mmu::{Access, TlbPage};
use crate::state::CpuState;
use iced_x86::{Instruction, Mnemonic as M};

/// Iterations of a REP instruction per execution.
const REP_SLICE: u64 = 1024;

const MOVS: u8 = 0;
const STOS: u8 = 1;
const LODS: u8 = 2;
const CMPS: u8 = 3;
const SCAS: u8 = 4;
const INS: u8 = 5;
const OUTS: u8 = 6;

pub(super) fn select<B: CpuBus>(ins: &Instruction) -> H<B> {
    let k = match mn(ins) {
        M::Movsb | M::Movsw | M::Movsd | M::Movsq if ins.op_count() == 2 && !is_sse(ins) => MOVS,
        M::Stosb | M::Stosw | M::Stosd | M::Stosq => STOS,
        M::Lodsb | M::Lodsw | M::Lodsd | M::Lodsq => LODS,
        M::Cmpsb | M::Cmpsw | M::Cmpsd | M::Cmpsq if !is_sse(ins) => CMPS,
        M::Scasb | M::Scasw | M::Scasd | M::Scasq => SCAS,
        M::Insb | M::Insw | M::Insd => INS,
        M::Outsb | M::Outsw | M::Outsd => OUTS,
        _ => return None,
    };
    let rep = if ins.has_repne_prefix() {
        2
    } else if ins.has_rep_prefix() || ins.has_repe_prefix() {
        1
    } else {
        0
    };
    Some(pick::<B>(k, rep))
}

fn is_sse(ins: &Instruction) -> bool {
    ins.op_count() > 0
        && ins.op0_kind() == iced_x86::OpKind::Register
        && ins.op0_register().is_xmm()
}

fn pick<B: CpuBus>(k: u8, rep: u8) -> Handler<B> {
    macro_rules! reps {
        ($k:expr) => {
            match rep {
                0 => string::<B, $k, 0>,
                1 => string::<B, $k, 1>,
                _ => string::<B, $k, 2>,
            }
        };
    }
    match k {
        MOVS => reps!(MOVS),
        STOS => reps!(STOS),
        LODS => reps!(LODS),
        CMPS => reps!(CMPS),
        SCAS => reps!(SCAS),
        INS => reps!(INS),
        _ => reps!(OUTS),
    }
}

/// Each REP iteration counts as one instruction toward an instruction
/// limit (as QEMU's icount counts them): the instruction itself counts one
/// when it retires, `extra_work` the others (all of them on a fault).
/// Virtual time still advances once per execution.
fn string<B: CpuBus, const K: u8, const REP: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    let mut done = 0u64;
    let r = string_body::<B, K, REP>(s, bus, op, &mut done);
    if REP != 0 {
        let counted = done.saturating_sub(u64::from(r.is_ok()));
        s.extra_work = s.extra_work.wrapping_add(counted);
        // The run loop checks the limit between traces only: leave the
        // trace after iterations that counted, so a trace of several REPs
        // overshoots the limit by one slice at most, not one per REP.
        if counted != 0 {
            s.run.break_trace = true;
        }
    }
    r
}

fn string_body<B: CpuBus, const K: u8, const REP: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
    done: &mut u64,
) -> Res<()> {
    // The element size: the memory operand's, or for INS/OUTS the port's.
    let sz = if K == OUTS { op.size2 } else { op.size };
    let am = mask(op.asize);
    let step = if s.df() {
        0u64.wrapping_sub(u64::from(sz))
    } else {
        u64::from(sz)
    };
    let src_seg = op.seg as usize;
    if K == INS || K == OUTS {
        let port = s.gpr[reg::DX] as u16;
        s.check_io(bus, port, sz)?;
    }
    let fast = REP != 0 && K != INS && K != OUTS;
    // With TF set the instruction stops after each iteration: the
    // single-step trap comes between iterations (SDM Vol. 3, 17.3.1.4).
    let slice = if s.flags & fl::TF != 0 { 1 } else { REP_SLICE };
    // Elements to run one by one before trying the fast path again.
    let mut slow_left = 0u64;
    loop {
        if REP != 0 {
            if s.gpr[reg::CX] & am == 0 {
                return Ok(());
            }
            // A data breakpoint hit is reported after its iteration.
            if *done == slice || s.pending_db != 0 {
                stop_between_iterations(s);
                return Ok(());
            }
        }
        if fast {
            if slow_left == 0 {
                match fast_chunk::<B, K, REP>(s, bus, op, sz, am, slice - *done) {
                    Chunk::Done(n, stop) => {
                        *done += n;
                        if stop {
                            return Ok(());
                        }
                        continue;
                    }
                    Chunk::Slow(n) => slow_left = n,
                }
            }
            slow_left -= 1;
        }
        let si = s.gpr[reg::SI] & am;
        let di = s.gpr[reg::DI] & am;
        let mut stop = false;
        // Data references of this element, for the `--stats` TLB rate.
        s.stats.mem_refs += if K == MOVS || K == CMPS { 2 } else { 1 };
        match K {
            MOVS => {
                let v = s.read_sz(bus, src_seg, si, sz)?;
                s.write_sz(bus, sreg::ES, di, sz, v)?;
                s.set_reg(reg::SI as u8, op.asize, si.wrapping_add(step));
                s.set_reg(reg::DI as u8, op.asize, di.wrapping_add(step));
            }
            STOS => {
                let v = s.reg(reg::AX as u8, sz);
                s.write_sz(bus, sreg::ES, di, sz, v)?;
                s.set_reg(reg::DI as u8, op.asize, di.wrapping_add(step));
            }
            LODS => {
                let v = s.read_sz(bus, src_seg, si, sz)?;
                s.set_reg(reg::AX as u8, sz, v);
                s.set_reg(reg::SI as u8, op.asize, si.wrapping_add(step));
            }
            CMPS => {
                let a = s.read_sz(bus, src_seg, si, sz)?;
                let b = s.read_sz(bus, sreg::ES, di, sz)?;
                s.set_lazy(FlagOp::Sub, sz, a, b, a.wrapping_sub(b));
                s.set_reg(reg::SI as u8, op.asize, si.wrapping_add(step));
                s.set_reg(reg::DI as u8, op.asize, di.wrapping_add(step));
                stop = (REP == 1 && !s.zf()) || (REP == 2 && s.zf());
            }
            SCAS => {
                let a = s.reg(reg::AX as u8, sz);
                let b = s.read_sz(bus, sreg::ES, di, sz)?;
                s.set_lazy(FlagOp::Sub, sz, a, b, a.wrapping_sub(b));
                s.set_reg(reg::DI as u8, op.asize, di.wrapping_add(step));
                stop = (REP == 1 && !s.zf()) || (REP == 2 && s.zf());
            }
            INS => {
                let port = s.gpr[reg::DX] as u16;
                // The destination is checked before the port is read.
                let lin = s.seg_lin(sreg::ES, di, u64::from(sz), true)?;
                s.probe_write(bus, lin, u64::from(sz))?;
                let v = u64::from(s.port_read(bus, port, sz));
                s.write_lin_sz(bus, lin, sz, v)?;
                s.set_reg(reg::DI as u8, op.asize, di.wrapping_add(step));
            }
            _ => {
                let port = s.gpr[reg::DX] as u16;
                let v = s.read_sz(bus, src_seg, si, sz)?;
                s.port_write(bus, port, sz, v as u32);
                s.set_reg(reg::SI as u8, op.asize, si.wrapping_add(step));
            }
        }
        if REP == 0 {
            return Ok(());
        }
        let c = (s.gpr[reg::CX] & am).wrapping_sub(1);
        s.set_reg(reg::CX as u8, op.asize, c);
        *done += 1;
        if stop {
            return Ok(());
        }
    }
}

/// Ends this execution of a REP instruction with iterations left: it
/// executes again to continue. Meanwhile RF is set, as the SDM has it for
/// an event taken between iterations (a trap, an interrupt: their frame
/// holds RF = 1, 17.3.1.1), so the instruction's own breakpoint does not
/// stop it again when it resumes.
fn stop_between_iterations(s: &mut CpuState) {
    s.next_rip = s.rip;
    s.run.break_trace = true;
    s.flags |= fl::RF;
}

/// Outcome of [`fast_chunk`].
enum Chunk {
    /// This many elements done (at least one); true when a REPE/REPNE
    /// condition ended the instruction.
    Done(u64, bool),
    /// No fast chunk here: run this many elements (at least one) one by
    /// one first.
    Slow(u64),
}

/// The elements of one operand a fast chunk may cover, from the element
/// at `seg:off` on in the direction of DF (`down`): how many, and the RAM
/// offset of the first. `Err(n)`: not fast for the next `n` elements.
fn span(
    s: &CpuState,
    seg: usize,
    off: u64,
    sz: u64,
    am: u64,
    down: bool,
    a: Access,
) -> Result<(u64, usize), u64> {
    let write = a == Access::Write;
    // The first element's own checks; a fault is left to the slow path.
    let Ok(lin) = s.seg_lin(seg, off, sz, write) else {
        return Err(1);
    };
    // `off <= am`. No element may wrap the address size.
    if am - off < sz - 1 {
        return Err(1);
    }
    let in_page = lin & 0xFFF;
    if in_page + sz > 0x1000 {
        return Err(1);
    }
    // Elements inside the page (so no linear or A20 wrap either) and the
    // address size.
    // With a 64-bit address size, offset 0 (up) or 2^64 - 1 (down) would
    // allow 2^64 elements: saturate, the page bounds the count anyway.
    let mut k = if down {
        (in_page / sz + 1).min((off / sz).saturating_add(1))
    } else {
        ((0x1000 - in_page) / sz).min(((am - off - (sz - 1)) / sz).saturating_add(1))
    };
    if s.bitness != 64 {
        // Every element must pass the fast segment check of `seg_lin`
        // (a usable expand-up segment of the right type): end <= lim1.
        // Offsets are at most 32 bits here.
        let sg = &s.seg[seg];
        let lim1 = if write { sg.wlim1 } else { sg.rlim1 };
        if off + sz > lim1 {
            return Err(1);
        }
        if !down {
            k = k.min((lim1 - off) / sz);
        }
    }
    // In 64-bit mode the page holds only canonical or only non-canonical
    // addresses: the first element's check covers the chunk.
    match s.tlb_page(lin, a) {
        TlbPage::Ram(p) if k > 0 => Ok((k, (p + in_page) as usize)),
        // MMIO, ROM, code or watched page: the rest of it is slow too.
        TlbPage::Slow if k > 0 => Err(k),
        // A miss: the slow path translates and fills the TLB.
        _ => Err(1),
    }
}

/// One little-endian element of `n` bytes at `at` (inside `ram`).
#[inline(always)]
fn elem(ram: &[u8], at: usize, n: usize) -> u64 {
    let mut b = [0u8; 8];
    b[..n].copy_from_slice(&ram[at..at + n]);
    u64::from_le_bytes(b)
}

/// Runs as many elements of a REP string instruction as stay inside the
/// current pages (see [`span`]), at most `budget` and RCX, directly on
/// guest RAM. Memory, RCX/RSI/RDI, AL..RAX and the flags end as the
/// element-by-element path leaves them.
fn fast_chunk<B: CpuBus, const K: u8, const REP: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
    sz: u8,
    am: u64,
    budget: u64,
) -> Chunk {
    let szu = u64::from(sz);
    let esz = usize::from(sz);
    let down = s.df();
    let cx = s.gpr[reg::CX] & am;
    let si = s.gpr[reg::SI] & am;
    let di = s.gpr[reg::DI] & am;
    let mut n = cx.min(budget);
    let uses_src = K == MOVS || K == LODS || K == CMPS;
    let uses_dst = K != LODS;
    let mut src = 0usize;
    let mut dst = 0usize;
    if uses_src {
        match span(s, op.seg as usize, si, szu, am, down, Access::Read) {
            Ok((k, at)) => {
                n = n.min(k);
                src = at;
            }
            Err(k) => return Chunk::Slow(k),
        }
    }
    if uses_dst {
        let a = if K == MOVS || K == STOS {
            Access::Write
        } else {
            Access::Read
        };
        match span(s, sreg::ES, di, szu, am, down, a) {
            Ok((k, at)) => {
                n = n.min(k);
                dst = at;
            }
            Err(k) => return Chunk::Slow(k.min(n)),
        }
    }
    // n >= 1 elements; element i of an operand starting at `at` is at
    // at +/- i * sz. The lowest byte of each operand's range:
    let span_bytes = (n * szu) as usize;
    let back = ((n - 1) * szu) as usize;
    let low = |at: usize| if down { at.checked_sub(back) } else { Some(at) };
    let s0 = if uses_src { low(src) } else { Some(0) };
    let d0 = if uses_dst { low(dst) } else { Some(0) };
    let (Some(s0), Some(d0)) = (s0, d0) else {
        return Chunk::Slow(1);
    };
    let ram = bus.ram();
    let fits = |lo: usize| lo.checked_add(span_bytes).is_some_and(|e| e <= ram.len());
    if (uses_src && !fits(s0)) || (uses_dst && !fits(d0)) {
        return Chunk::Slow(1);
    }
    let at = |base: usize, i: usize| {
        if down {
            base - i * esz
        } else {
            base + i * esz
        }
    };
    let mut stop = false;
    match K {
        MOVS => {
            // Element by element, a later element reads what an earlier
            // one wrote when the destination lies ahead of the source in
            // the direction of the copy and the ranges overlap; otherwise
            // the result is that of one memmove.
            let hazard = if down {
                d0 < s0 && d0 + span_bytes > s0
            } else {
                d0 > s0 && d0 < s0 + span_bytes
            };
            if hazard {
                for i in 0..n as usize {
                    let a = at(src, i);
                    ram.copy_within(a..a + esz, at(dst, i));
                }
            } else {
                ram.copy_within(s0..s0 + span_bytes, d0);
            }
        }
        STOS => {
            let v = s.reg(reg::AX as u8, sz).to_le_bytes();
            let out = &mut ram[d0..d0 + span_bytes];
            if esz == 1 {
                out.fill(v[0]);
            } else {
                for e in out.chunks_exact_mut(esz) {
                    e.copy_from_slice(&v[..esz]);
                }
            }
        }
        LODS => {
            let v = elem(ram, at(src, n as usize - 1), esz);
            s.set_reg(reg::AX as u8, sz, v);
        }
        _ => {
            // CMPS / SCAS: up to the first element that ends the loop.
            let ax = s.reg(reg::AX as u8, sz);
            let (mut a, mut b) = (0, 0);
            for i in 0..n as usize {
                a = if K == CMPS {
                    elem(ram, at(src, i), esz)
                } else {
                    ax
                };
                b = elem(ram, at(dst, i), esz);
                if (REP == 1 && a != b) || (REP == 2 && a == b) {
                    n = i as u64 + 1;
                    stop = true;
                    break;
                }
            }
            s.set_lazy(FlagOp::Sub, sz, a, b, a.wrapping_sub(b));
        }
    }
    let delta = n * szu;
    let adv = |x: u64| {
        if down {
            x.wrapping_sub(delta)
        } else {
            x.wrapping_add(delta)
        }
    };
    if uses_src {
        s.set_reg(reg::SI as u8, op.asize, adv(si));
    }
    if uses_dst {
        s.set_reg(reg::DI as u8, op.asize, adv(di));
    }
    s.set_reg(reg::CX as u8, op.asize, cx - n);
    s.stats.mem_refs += n * if K == MOVS || K == CMPS { 2 } else { 1 };
    Chunk::Done(n, stop)
}
