//! Data movement: MOV and its relatives, LEA, XCHG, stack pushes and pops,
//! flag transfers, conversions, CMOVcc/SETcc, XLAT, ENTER/LEAVE, far
//! pointer loads.

use super::{
    by_ea, hot, is_mem, mn, next, next_fast, next_if, plain, restart_ea, sized, sync_count, wdq,
    Pick, H,
};
use crate::arch::{fl, reg, sreg, Mode};
use crate::bus::CpuBus;
use crate::decode::Handler;
use crate::decode::Op;
use crate::fault::{Fault, Res};
use crate::state::CpuState;
use iced_x86::{Code, Instruction, Mnemonic as M, OpKind};

/// Selects `f::<B, G..., SIZE, EA>` by operand size and address shape
/// (`G...`: leading const arguments of `f`, if any).
macro_rules! sized_ea {
    ($ins:expr, $size:expr, $f:ident $(, $g:expr)*) => {
        match $size {
            1 => by_ea!($ins, $f, $($g,)* 1),
            2 => by_ea!($ins, $f, $($g,)* 2),
            4 => by_ea!($ins, $f, $($g,)* 4),
            _ => by_ea!($ins, $f, $($g,)* 8),
        }
    };
}

pub(super) fn select<B: CpuBus>(ins: &Instruction) -> Option<Pick<B>> {
    threaded::<B>(ins)
        .map(hot)
        .or_else(|| returning::<B>(ins).map(plain))
}

/// The operand shapes `select` dispatches on.
struct Shape {
    /// Operand 0 / operand 1 is in memory.
    m0: bool,
    m1: bool,
    k0: OpKind,
    k1: OpKind,
    /// Operand 0 / operand 1 is a segment register.
    sreg0: bool,
    sreg1: bool,
    /// Either operand is a control or debug register.
    system: bool,
}

fn shape(ins: &Instruction) -> Shape {
    let k1 = if ins.op_count() > 1 {
        ins.op_kind(1)
    } else {
        OpKind::Register
    };
    let k0 = ins.op_kind(0);
    let (r0, r1) = (ins.op0_register(), ins.op1_register());
    Shape {
        m0: ins.op_count() > 0 && is_mem(ins.op0_kind()),
        m1: ins.op_count() > 1 && is_mem(ins.op1_kind()),
        k0,
        k1,
        sreg0: k0 == OpKind::Register && r0.is_segment_register(),
        sreg1: ins.op_count() > 1 && k1 == OpKind::Register && r1.is_segment_register(),
        system: r0.is_cr() || r1.is_cr() || r0.is_dr() || r1.is_dr(),
    }
}

/// The threaded handlers of this family (see [`Pick`]).
fn threaded<B: CpuBus>(ins: &Instruction) -> H<B> {
    let Shape {
        m0,
        m1,
        k0,
        k1,
        sreg0,
        sreg1,
        system,
    } = shape(ins);
    Some(match mn(ins) {
        M::Mov if !(system || sreg0 || sreg1) => {
            let size = op0_size(ins);
            match (m0, m1, k1) {
                (false, false, OpKind::Register) => sized!(size, mov_rr),
                // MOV reg, m: a MOVZX from and to the same size.
                (false, true, _) => match size {
                    1 => by_ea!(ins, movx_m, false, 1, 1),
                    2 => by_ea!(ins, movx_m, false, 2, 2),
                    4 => by_ea!(ins, movx_m, false, 4, 4),
                    _ => by_ea!(ins, movx_m, false, 8, 8),
                },
                (true, _, OpKind::Register) => sized_ea!(ins, size, mov_store, false),
                (true, _, _) => sized_ea!(ins, size, mov_store, true),
                _ => sized!(size, mov_ri),
            }
        }
        M::Movzx if m1 => movx_sel::<B, false>(ins),
        M::Movzx => movx_rsel::<B, false>(ins),
        M::Movsx | M::Movsxd if m1 => movx_sel::<B, true>(ins),
        M::Movsx | M::Movsxd => movx_rsel::<B, true>(ins),
        M::Lea => sized_ea!(ins, op0_size(ins), lea),
        M::Xchg if m0 || m1 => xchg::<B, true>,
        M::Xchg => xchg::<B, false>,
        M::Nop
        | M::Pause
        | M::Endbr32
        | M::Endbr64
        | M::Prefetchnta
        | M::Prefetcht0
        | M::Prefetcht1
        | M::Prefetcht2
        | M::Prefetchw
        | M::Prefetch
        | M::Reservednop => nop::<B>,
        M::Push if !sreg0 && k0 == OpKind::Register => sized!(op0_size(ins), push_r),
        M::Push if !sreg0 && !m0 => push_i::<B>,
        M::Pop if !sreg0 && !m0 => sized!(op0_size(ins), pop_r),
        M::Cbw | M::Cwde | M::Cdqe => cbw::<B>,
        M::Cwd | M::Cdq | M::Cqo => cwd::<B>,
        m if SETCC.contains(&m) && m0 => setcc::<B, true>,
        m if SETCC.contains(&m) => setcc::<B, false>,
        m if CMOVCC.contains(&m) && m1 => cmov::<B, true>,
        m if CMOVCC.contains(&m) => cmov::<B, false>,
        M::Leave => leave::<B>,
        _ => return None,
    })
}

/// SETcc and CMOVcc, in the order of their condition codes (SDM Vol. 1,
/// Table B-1).
#[rustfmt::skip]
const SETCC: [M; 16] = [
    M::Seto, M::Setno, M::Setb, M::Setae, M::Sete, M::Setne, M::Setbe, M::Seta,
    M::Sets, M::Setns, M::Setp, M::Setnp, M::Setl, M::Setge, M::Setle, M::Setg,
];
#[rustfmt::skip]
const CMOVCC: [M; 16] = [
    M::Cmovo, M::Cmovno, M::Cmovb, M::Cmovae, M::Cmove, M::Cmovne, M::Cmovbe, M::Cmova,
    M::Cmovs, M::Cmovns, M::Cmovp, M::Cmovnp, M::Cmovl, M::Cmovge, M::Cmovle, M::Cmovg,
];

/// The handlers of this family that return to the run loop.
fn returning<B: CpuBus>(ins: &Instruction) -> H<B> {
    let sh = shape(ins);
    Some(match mn(ins) {
        // (MOV to and from control and debug registers: `system`.)
        M::Mov if sh.system => return None,
        M::Mov if sh.sreg0 && sh.m1 => mov_to_sreg::<B, true>,
        M::Mov if sh.sreg0 => mov_to_sreg::<B, false>,
        M::Mov if sh.sreg1 && sh.m0 => mov_from_sreg::<B, true>,
        M::Mov if sh.sreg1 => mov_from_sreg::<B, false>,
        M::Push if sh.sreg0 => push_sreg::<B>,
        M::Push if sh.m0 => push_m::<B>,
        M::Pop if sh.sreg0 => pop_sreg::<B>,
        M::Pop if sh.m0 => pop_m::<B>,
        M::Pusha | M::Pushad => pusha::<B>,
        M::Popa | M::Popad => popa::<B>,
        M::Pushf | M::Pushfd | M::Pushfq => pushf::<B>,
        M::Popf | M::Popfd | M::Popfq => popf::<B>,
        M::Lahf => lahf::<B>,
        M::Sahf => sahf::<B>,
        M::Xlatb => xlat::<B>,
        M::Enter => enter::<B>,
        M::Lds => lfp::<B, { sreg::DS }>,
        M::Les => lfp::<B, { sreg::ES }>,
        M::Lss => lfp::<B, { sreg::SS }>,
        M::Lfs => lfp::<B, { sreg::FS }>,
        M::Lgs => lfp::<B, { sreg::GS }>,
        M::Salc => salc::<B>,
        _ => return None,
    })
}

/// Size in bytes of operand 0 (register or memory).
fn op0_size(ins: &Instruction) -> u8 {
    match ins.op0_kind() {
        OpKind::Register => ins.op0_register().size() as u8,
        _ => ins.memory_size().size() as u8,
    }
}

fn nop<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    next_fast(s, bus, op)
}

// The hottest moves are monomorphised per operand size (`Z` bytes), so
// register and memory accesses compile without a size dispatch.

fn mov_rr<B: CpuBus, const Z: u8>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let v = s.reg(op.r1, Z);
    s.set_reg(op.r0, Z, v);
    next_fast(s, bus, op)
}

fn mov_ri<B: CpuBus, const Z: u8>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    s.set_reg(op.r0, Z, op.imm);
    next_fast(s, bus, op)
}

/// MOV r/m, reg (`IMM` false) and MOV r/m, imm (`IMM` true): a fast path
/// and a slow one, as [`movx_m`].
fn mov_store<B: CpuBus, const IMM: bool, const Z: u8, const EA: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    let off = s.ea_k::<B, EA>(op);
    let v = stored::<B, IMM, Z>(s, op);
    if s.write_fast::<B, EA>(bus, op.seg as usize, off, Z, v) {
        return next_fast(s, bus, op);
    }
    mov_store_slow::<B, IMM, Z, EA>(s, bus, op)
}

#[inline(never)]
fn mov_store_slow<B: CpuBus, const IMM: bool, const Z: u8, const EA: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    let off = restart_ea::<B, EA>(s, op);
    let v = stored::<B, IMM, Z>(s, op);
    s.write_sz_k::<B, EA>(bus, op.seg as usize, off, Z, v)?;
    next(s, bus, op)
}

/// The value a MOV to memory stores: its immediate or its source register.
#[inline(always)]
fn stored<B, const IMM: bool, const Z: u8>(s: &CpuState, op: &Op<B>) -> u64 {
    if IMM {
        op.imm
    } else {
        s.reg(op.r1, Z)
    }
}

fn mov_to_sreg<B: CpuBus, const MEM: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let sel = s.rd_rm(bus, op, MEM, op.r1, 2)? as u16;
    let i = op.r0 as usize;
    if i == sreg::CS || i > 5 {
        return Err(Fault::UD);
    }
    s.load_seg(bus, i, sel)?;
    if i == sreg::SS {
        // MOV SS inhibits interrupts (and debug traps) for one instruction.
        s.inhibit_until = s.icount + 2;
        s.mov_ss_shadow = true;
        s.run.break_trace = true;
    }
    Ok(())
}

fn mov_from_sreg<B: CpuBus, const MEM: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let v = u64::from(s.seg[op.r1 as usize % 6].selector);
    // To a register with a 32-bit operand, the upper bits are zeroed on P6+.
    let size = if MEM { 2 } else { op.size };
    s.wr_rm(bus, op, MEM, op.r0, size, v)
}

/// MOVZX/MOVSX between registers: both sizes fixed at decode.
fn movx_rsel<B: CpuBus, const SIGNED: bool>(ins: &Instruction) -> Handler<B> {
    macro_rules! src {
        ($d:literal) => {
            match ins.op1_register().size() {
                1 => movx_r::<B, SIGNED, 1, $d>,
                2 => movx_r::<B, SIGNED, 2, $d>,
                _ => movx_r::<B, SIGNED, 4, $d>,
            }
        };
    }
    match ins.op0_register().size() {
        2 => src!(2),
        4 => src!(4),
        _ => src!(8),
    }
}

fn movx_r<B: CpuBus, const SIGNED: bool, const S2: u8, const D: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    let v = s.reg(op.r1, S2);
    s.set_reg(op.r0, D, extend::<SIGNED, S2>(v));
    next_fast(s, bus, op)
}

/// MOVZX/MOVSX from memory: source size and address shape fixed at decode.
fn movx_sel<B: CpuBus, const SIGNED: bool>(ins: &Instruction) -> Handler<B> {
    match ins.op0_register().size() {
        2 => movx_src::<B, SIGNED, 2>(ins),
        4 => movx_src::<B, SIGNED, 4>(ins),
        _ => movx_src::<B, SIGNED, 8>(ins),
    }
}

fn movx_src<B: CpuBus, const SIGNED: bool, const D: u8>(ins: &Instruction) -> Handler<B> {
    match ins.memory_size().size() {
        1 => by_ea!(ins, movx_m, SIGNED, 1, D),
        2 => by_ea!(ins, movx_m, SIGNED, 2, D),
        _ => by_ea!(ins, movx_m, SIGNED, 4, D),
    }
}

/// MOVZX/MOVSX reg, m (and MOV reg, m: `S2` = `D`). The fast path calls
/// nothing but its successor, so it saves no registers; anything else
/// starts over in [`movx_m_slow`].
fn movx_m<B: CpuBus, const SIGNED: bool, const S2: u8, const D: u8, const EA: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    let off = s.ea_k::<B, EA>(op);
    let Some(v) = s.read_fast::<B, EA>(bus, op.seg as usize, off, S2) else {
        return movx_m_slow::<B, SIGNED, S2, D, EA>(s, bus, op);
    };
    s.set_reg(op.r0, D, extend::<SIGNED, S2>(v));
    next_fast(s, bus, op)
}

#[inline(never)]
fn movx_m_slow<B: CpuBus, const SIGNED: bool, const S2: u8, const D: u8, const EA: u8>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    let off = restart_ea::<B, EA>(s, op);
    let v = s.read_sz_k::<B, EA>(bus, op.seg as usize, off, S2)?;
    s.set_reg(op.r0, D, extend::<SIGNED, S2>(v));
    next(s, bus, op)
}

/// Zero- or sign-extends an `S2`-byte value.
#[inline(always)]
fn extend<const SIGNED: bool, const S2: u8>(v: u64) -> u64 {
    if SIGNED {
        let bits = 8 * u32::from(S2);
        (((v << (64 - bits)) as i64) >> (64 - bits)) as u64
    } else {
        v
    }
}

fn lea<B: CpuBus, const Z: u8, const EA: u8>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let v = s.ea_k::<B, EA>(op);
    s.set_reg(op.r0, Z, v);
    next_fast(s, bus, op)
}

fn xchg<B: CpuBus, const MEM: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let sz = op.size;
    if MEM {
        // The exact count for a device, and the position for a fault.
        sync_count(s, op);
        // Either operand order: the register is whichever is not memory.
        let r = if op.r0 != crate::decode::NOREG {
            op.r0
        } else {
            op.r1
        };
        let off = s.ea(op);
        let lin = s.seg_lin(op.seg as usize, off, u64::from(sz), true)?;
        let m = s.read_lin_sz(bus, lin, sz)?;
        let v = s.reg(r, sz);
        s.write_lin_sz(bus, lin, sz, v)?;
        s.set_reg(r, sz, m);
    } else {
        let a = s.reg(op.r0, sz);
        let b = s.reg(op.r1, sz);
        s.set_reg(op.r0, sz, b);
        s.set_reg(op.r1, sz, a);
    }
    next(s, bus, op)
}

/// Operand size of PUSH/POP-type instructions from their iced code.
fn stack_size<B>(s: &CpuState, op: &Op<B>) -> u8 {
    match op.size {
        2 | 4 | 8 => op.size,
        _ => s.default_osize(),
    }
}

/// PUSH reg: a fast path that calls nothing but its successor, and a
/// slow one that starts over (as [`movx_m`]).
fn push_r<B: CpuBus, const Z: u8>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let v = s.reg(op.r0, Z);
    if s.push_fast(bus, Z, v) {
        return next_fast(s, bus, op);
    }
    push_r_slow::<B, Z>(s, bus, op)
}

#[inline(never)]
fn push_r_slow<B: CpuBus, const Z: u8>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    sync_count(s, op);
    let v = s.reg(op.r0, Z);
    s.push(bus, Z, v)?;
    next(s, bus, op)
}

fn push_i<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let size = wdq(
        op.code,
        &[Code::Pushw_imm8, Code::Push_imm16],
        &[Code::Pushd_imm8, Code::Pushd_imm32],
    );
    if s.push_fast(bus, size, op.imm) {
        return next_fast(s, bus, op);
    }
    push_i_slow(s, bus, op, size)
}

#[inline(never)]
fn push_i_slow<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>, size: u8) -> Res<()> {
    sync_count(s, op);
    s.push(bus, size, op.imm)?;
    next(s, bus, op)
}

fn push_m<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let size = stack_size(s, op);
    let off = s.ea(op);
    let v = s.read_sz(bus, op.seg as usize, off, size)?;
    s.push(bus, size, v)
}

fn push_sreg<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let size: u8 = match op.code {
        Code::Pushw_ES
        | Code::Pushw_CS
        | Code::Pushw_SS
        | Code::Pushw_DS
        | Code::Pushw_FS
        | Code::Pushw_GS => 2,
        Code::Pushd_ES
        | Code::Pushd_CS
        | Code::Pushd_SS
        | Code::Pushd_DS
        | Code::Pushd_FS
        | Code::Pushd_GS => 4,
        _ => 8,
    };
    let v = u64::from(s.seg[op.r0 as usize % 6].selector);
    if size == 2 {
        return s.push(bus, 2, v);
    }
    // A 32-bit push of a segment register writes only the low 16 bits on
    // P6-family processors; the upper half of the slot is left as it was.
    let sp = s.sp().wrapping_sub(u64::from(size)) & s.stack_mask();
    s.seg_lin(sreg::SS, sp, u64::from(size), true)?;
    s.write_sz(bus, sreg::SS, sp, 2, v)?;
    s.set_sp(sp);
    Ok(())
}

/// POP reg: fast and slow paths, as [`push_r`].
fn pop_r<B: CpuBus, const Z: u8>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    if let Some(v) = s.pop_fast(bus, Z) {
        s.set_reg(op.r0, Z, v);
        return next_fast(s, bus, op);
    }
    pop_r_slow::<B, Z>(s, bus, op)
}

#[inline(never)]
fn pop_r_slow<B: CpuBus, const Z: u8>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    sync_count(s, op);
    let v = s.pop(bus, Z)?;
    s.set_reg(op.r0, Z, v);
    next(s, bus, op)
}

fn pop_m<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let size = stack_size(s, op);
    let sp0 = s.gpr[reg::SP];
    let v = s.pop(bus, size)?;
    // The address is computed after ESP is incremented (SDM POP).
    let off = s.ea(op);
    if let Err(f) = s.write_sz(bus, op.seg as usize, off, size, v) {
        s.gpr[reg::SP] = sp0;
        return Err(f);
    }
    Ok(())
}

fn pop_sreg<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let size = wdq(
        op.code,
        &[
            Code::Popw_ES,
            Code::Popw_SS,
            Code::Popw_DS,
            Code::Popw_FS,
            Code::Popw_GS,
        ],
        &[
            Code::Popd_ES,
            Code::Popd_SS,
            Code::Popd_DS,
            Code::Popd_FS,
            Code::Popd_GS,
        ],
    );
    let i = op.r0 as usize % 6;
    let v = s.peek_stack(bus, 0, size)?;
    // The pop steps the stack pointer by the stack it read from: for POP
    // SS that is the old SS's B bit, not the new one's.
    let m = s.stack_mask();
    let sp = (s.gpr[reg::SP] & !m) | (s.gpr[reg::SP].wrapping_add(u64::from(size)) & m);
    s.load_seg(bus, i, v as u16)?;
    s.gpr[reg::SP] = sp;
    if i == sreg::SS {
        s.inhibit_until = s.icount + 2;
        s.mov_ss_shadow = true;
        s.run.break_trace = true;
    }
    Ok(())
}

fn pusha<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let size = if op.code == Code::Pushad { 4 } else { 2 };
    if s.mode == Mode::Real && !s.stack32 && pusha_straddles(s.gpr[reg::SP], size) {
        // SDM Vol. 2, PUSHA, Real-Address Mode Exceptions: "#GP If the
        // ESP or SP register contains 7, 9, 11, 13, or 15", that is when
        // one slot of the frame would straddle the wrap from offset FFFFh
        // to 0; the 80286 does the same, before writing anything.
        return Err(Fault::GP0);
    }
    // (The SP pushed is its value before the first push.)
    let regs: [u64; 8] = std::array::from_fn(|r| s.reg(r as u8, size));
    s.push_all(bus, size, &regs)
}

/// True when one of PUSHA's eight `size`-byte slots below the 16-bit
/// stack pointer `sp` would wrap from offset FFFFh to 0.
fn pusha_straddles(sp: u64, size: u8) -> bool {
    let size = u64::from(size);
    (1..=8).any(|k| (sp.wrapping_sub(k * size) & 0xFFFF) + size > 0x1_0000)
}

fn popa<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let size = if op.code == Code::Popad { 4 } else { 2 };
    let mut vals = [0u64; 8];
    for (i, v) in vals.iter_mut().enumerate() {
        *v = s.peek_stack(bus, (7 - i as u64) * u64::from(size), size)?;
    }
    for (r, v) in vals.iter().enumerate() {
        if r != reg::SP {
            s.set_reg(r as u8, size, *v);
        }
    }
    let sp = s.sp().wrapping_add(8 * u64::from(size));
    s.set_sp(sp);
    Ok(())
}

fn pushf<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let size = flags_op_size(s, op)?;
    // VM and RF are never pushed.
    let v = s.eflags() & !(fl::VM | fl::RF);
    s.push(bus, size, u64::from(v))
}

fn popf<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let size = flags_op_size(s, op)?;
    let v = s.pop(bus, size)? as u32;
    s.write_flags(v, size);
    Ok(())
}

/// PUSHF/POPF's operand size, after the check both make: in V86 mode
/// they need IOPL 3 (no VME here), else #GP(0).
fn flags_op_size<B>(s: &CpuState, op: &Op<B>) -> Res<u8> {
    if s.mode == Mode::V86 && s.iopl() < 3 {
        return Err(Fault::GP0);
    }
    Ok(wdq(
        op.code,
        &[Code::Pushfw, Code::Popfw],
        &[Code::Pushfd, Code::Popfd],
    ))
}

impl CpuState {
    /// EFLAGS write with the privilege rules of POPF/IRET (SDM POPF):
    /// IOPL only at CPL 0, IF only when CPL <= IOPL, VM/VIF/VIP/RF never.
    pub(crate) fn write_flags(&mut self, v: u32, size: u8) {
        self.write_flags_with(v, size, 0);
    }

    /// IRET's EFLAGS load: as POPF, and RF is loaded too (a debug handler
    /// returns with RF set to skip the breakpoint it was entered for).
    pub(crate) fn write_flags_iret(&mut self, v: u32, size: u8) {
        self.write_flags_with(v, size, if size == 2 { 0 } else { fl::RF });
    }

    fn write_flags_with(&mut self, v: u32, size: u8, extra: u32) {
        let mut changeable = fl::ARITH | fl::TF | fl::DF | fl::NT | fl::AC | fl::ID | extra;
        if self.mode == Mode::Real || self.cpl == 0 {
            changeable |= fl::IOPL | fl::IF;
        } else if self.cpl <= self.iopl() {
            changeable |= fl::IF;
        }
        if self.mode == Mode::V86 {
            changeable &= !fl::IOPL;
            changeable |= fl::IF;
        }
        if size == 2 {
            changeable &= 0xFFFF;
        }
        let old = self.eflags();
        let new = (old & !changeable) | (v & changeable) | fl::RESERVED1;
        self.flags = new;
        self.lazy.op = crate::flags::FlagOp::None;
        if (old ^ new) & (fl::IF | fl::TF | fl::RF) != 0 {
            self.run.break_trace = true;
        }
    }
}

fn lahf<B: CpuBus>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    let f = s.eflags() & 0xFF;
    s.set_reg(16, 1, u64::from(f | fl::RESERVED1));
    Ok(())
}

fn sahf<B: CpuBus>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    let ah = s.reg(16, 1) as u32;
    let mask = fl::CF | fl::PF | fl::AF | fl::ZF | fl::SF;
    let f = (s.eflags() & fl::OF) | (ah & mask);
    s.set_arith(f);
    Ok(())
}

fn cbw<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let size = wdq(op.code, &[Code::Cbw], &[Code::Cwde]);
    let half = size / 2;
    let bits = 8 * u32::from(half);
    let v = s.reg(0, half);
    let ext = (((v << (64 - bits)) as i64) >> (64 - bits)) as u64;
    s.set_reg(0, size, ext);
    next_fast(s, bus, op)
}

fn cwd<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let size = wdq(op.code, &[Code::Cwd], &[Code::Cdq]);
    let neg = s.reg(0, size) & crate::flags::sign_bit(size) != 0;
    s.set_reg(reg::DX as u8, size, if neg { u64::MAX } else { 0 });
    next_fast(s, bus, op)
}

fn cc_of<B>(op: &Op<B>) -> u8 {
    op.aux & 0xF
}

fn setcc<B: CpuBus, const MEM: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let v = u64::from(s.cond(cc_of(op)));
    s.wr_rm(bus, op, MEM, op.r0, 1, v)?;
    next(s, bus, op)
}

fn cmov<B: CpuBus, const MEM: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    // The source is read (and may fault) whatever the condition.
    let v = if MEM {
        let off = s.ea(op);
        match s.read_fast::<B, { super::ea::GEN }>(bus, op.seg as usize, off, op.size) {
            Some(v) => v,
            None => return cmov_slow(s, bus, op),
        }
    } else {
        s.reg(op.r1, op.size)
    };
    cmov_set::<B, true>(s, bus, op, v)
}

/// CMOVcc from memory off the fast path.
#[inline(never)]
fn cmov_slow<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    sync_count(s, op);
    let v = s.rd_rm(bus, op, true, op.r1, op.size)?;
    cmov_set::<B, false>(s, bus, op, v)
}

/// The move half of CMOVcc, once the source is read; `FAST` when it was
/// read on the fast path (see [`next_fast`]).
#[inline(always)]
fn cmov_set<B: CpuBus, const FAST: bool>(
    s: &mut CpuState,
    bus: &mut B,
    op: &Op<B>,
    v: u64,
) -> Res<()> {
    if s.cond(cc_of(op)) {
        s.set_reg(op.r0, op.size, v);
    } else if op.size == 4 {
        // A 32-bit CMOV zero-extends even when false (64-bit mode).
        let cur = s.reg(op.r0, 4);
        if s.bitness == 64 {
            s.set_reg(op.r0, 4, cur);
        }
    }
    next_if(s, bus, op, FAST)
}

fn xlat<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let m = crate::flags::mask(op.asize);
    let off = (s.gpr[reg::BX].wrapping_add(s.reg(0, 1))) & m;
    let v = s.read_mem::<B, 1>(bus, op.seg as usize, off)?;
    s.set_reg(0, 1, v);
    Ok(())
}

fn enter<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let size = wdq(
        op.code,
        &[Code::Enterw_imm16_imm8],
        &[Code::Enterd_imm16_imm8],
    );
    let alloc = op.imm & 0xFFFF;
    let level = u64::from(op.imm2 & 0x1F);
    let saved = (s.gpr[reg::SP], s.gpr[reg::BP]);
    let r = (|| {
        let bp = s.reg(reg::BP as u8, size);
        s.push(bus, size, bp)?;
        // FrameTemp: with a 32-bit operand on a 16-bit stack the whole
        // ESP (its upper half untouched by the 16-bit push), as hardware
        // loads EBP; otherwise the stack pointer of the stack's size.
        let frame = if size == 4 && !s.stack32 {
            s.gpr[reg::SP] & 0xFFFF_FFFF
        } else {
            s.sp()
        };
        let bp_mask = s.stack_mask();
        let mut bpv = s.gpr[reg::BP] & bp_mask;
        for _ in 1..level {
            bpv = bpv.wrapping_sub(u64::from(size)) & bp_mask;
            let v = s.read_sz(bus, sreg::SS, bpv, size)?;
            s.push(bus, size, v)?;
        }
        if level > 0 {
            s.push(bus, size, frame)?;
        }
        let sp = s.sp().wrapping_sub(alloc) & s.stack_mask();
        // The final stack pointer must be writable (SDM ENTER: "#PF if
        // a page fault occurs"), through the segment and the pages.
        let lin = s.seg_lin(sreg::SS, sp, 1, true)?;
        s.probe_write(bus, lin, 1)?;
        if s.stack32 || s.bitness == 64 {
            s.set_reg(reg::BP as u8, if size == 8 { 8 } else { 4 }, frame);
        } else {
            s.set_reg(reg::BP as u8, size.min(2).max(size), frame);
        }
        s.set_sp(sp);
        Ok(())
    })();
    if r.is_err() {
        (s.gpr[reg::SP], s.gpr[reg::BP]) = saved;
    }
    r
}

fn leave<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    sync_count(s, op);
    let size = wdq(op.code, &[Code::Leavew], &[Code::Leaved]);
    let m = s.stack_mask();
    let bp = s.gpr[reg::BP] & m;
    let v = s.read_sz(bus, sreg::SS, bp, size)?;
    s.set_sp(bp.wrapping_add(u64::from(size)));
    s.set_reg(reg::BP as u8, size, v);
    next(s, bus, op)
}

fn lfp<B: CpuBus, const SEG: usize>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let size = op.size;
    let (sel, v) = super::read_far_pointer(s, bus, op, size)?;
    s.load_seg(bus, SEG, sel)?;
    s.set_reg(op.r0, size, v);
    if SEG == sreg::SS {
        s.run.break_trace = true;
    }
    Ok(())
}

fn salc<B: CpuBus>(s: &mut CpuState, _bus: &mut B, _op: &Op<B>) -> Res<()> {
    let v = if s.cf() { 0xFF } else { 0 };
    s.set_reg(0, 1, v);
    Ok(())
}
