//! Control transfers: near and far JMP/CALL/RET, Jcc, LOOP/JCXZ, INT n,
//! INTO, INT3, INT1, IRET, BOUND (SDM Vol. 2; Vol. 3 chapters 5 and 6).

use super::{hot, is_mem, mn, next, next_fast, plain, sync_count, wdq, Pick, H};
use crate::arch::{attr, fl, reg, sreg, Mode, Segment};
use crate::bus::CpuBus;
use crate::decode::{Handler, Op};
use crate::fault::{vector, Fault, Res};
use crate::interrupt::Source;
use crate::segment::{sel_err, CsRule};
use crate::state::CpuState;
use crate::task::SwitchKind;
use iced_x86::{Code, Instruction, Mnemonic as M};

/// The near transfers that end a trace as threaded handlers: a record
/// before them goes straight on with them, and they leave the trace like
/// a taken Jcc (a side exit, target in `next_rip`), so the run loop makes
/// one call per trace instead of two. None of them reads `rip`,
/// `icount` or `next_rip`; their slow paths bring the count up to date
/// first (`sync_count`), as every threaded slow path does.
pub(super) fn select_threaded<B: CpuBus>(ins: &Instruction) -> Option<Pick<B>> {
    let f: Handler<B> = match mn(ins) {
        M::Jmp => match ins.op0_kind() {
            iced_x86::OpKind::NearBranch16
            | iced_x86::OpKind::NearBranch32
            | iced_x86::OpKind::NearBranch64 => jmp_rel::<B>,
            iced_x86::OpKind::Register => jmp_ind::<B, false>,
            iced_x86::OpKind::Memory if !(ins.memory_size().is_packed() || far_mem(ins)) => {
                jmp_ind::<B, true>
            }
            _ => return None,
        },
        M::Call => match ins.op0_kind() {
            iced_x86::OpKind::NearBranch16
            | iced_x86::OpKind::NearBranch32
            | iced_x86::OpKind::NearBranch64 => call_rel::<B>,
            iced_x86::OpKind::Register => call_ind::<B, false>,
            iced_x86::OpKind::Memory if !far_mem(ins) => call_ind::<B, true>,
            _ => return None,
        },
        M::Ret => ret_near::<B>,
        _ => return None,
    };
    Some(hot(f))
}

/// A direct near JMP or CALL a trace goes through: its target is decoded
/// into the same trace (`Cpu::build_trace`, when it lies in the same
/// page), so inside the trace the JMP has nothing left to do and the CALL
/// only pushes. Run by itself (`last`: single-step, the debugger, a trace
/// that may cross the CS limit, or one cut at the jump) it is the whole
/// instruction, target check included.
pub(crate) fn select_through<B: CpuBus>(ins: &Instruction) -> Option<Handler<B>> {
    let direct = matches!(
        ins.op0_kind(),
        iced_x86::OpKind::NearBranch16
            | iced_x86::OpKind::NearBranch32
            | iced_x86::OpKind::NearBranch64
    );
    match mn(ins) {
        M::Jmp if direct => Some(jmp_on::<B>),
        M::Call if direct => Some(call_on::<B>),
        _ => None,
    }
}

fn jmp_on<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    if op.last {
        return jmp_rel(s, bus, op);
    }
    next_fast(s, bus, op)
}

fn call_on<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    if op.last {
        return call_rel(s, bus, op);
    }
    let ret = s.next_ip(op);
    if !s.push_fast(bus, op.size, ret) {
        return call_on_slow(s, bus, op);
    }
    next_fast(s, bus, op)
}

#[inline(never)]
fn call_on_slow<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    sync_count(s, op);
    let ret = s.next_ip(op);
    s.push(bus, op.size, ret)?;
    next(s, bus, op)
}

/// Every other control transfer: returns to the run loop.
pub(super) fn select<B: CpuBus>(ins: &Instruction) -> Option<Pick<B>> {
    select_returning::<B>(ins).map(plain)
}

fn select_returning<B: CpuBus>(ins: &Instruction) -> H<B> {
    let m0 = ins.op_count() > 0 && is_mem(ins.op0_kind());
    let code = ins.code() as u32;
    Some(match mn(ins) {
        M::Jmp => match ins.op0_kind() {
            iced_x86::OpKind::FarBranch16 | iced_x86::OpKind::FarBranch32 => jmp_far_direct::<B>,
            iced_x86::OpKind::Register => jmp_ind::<B, false>,
            iced_x86::OpKind::Memory if ins.memory_size().is_packed() || far_mem(ins) => {
                jmp_far_mem::<B>
            }
            iced_x86::OpKind::Memory => jmp_ind::<B, true>,
            _ => jmp_rel::<B>,
        },
        M::Call => match ins.op0_kind() {
            iced_x86::OpKind::FarBranch16 | iced_x86::OpKind::FarBranch32 => call_far_direct::<B>,
            iced_x86::OpKind::Register => call_ind::<B, false>,
            iced_x86::OpKind::Memory if far_mem(ins) => call_far_mem::<B>,
            iced_x86::OpKind::Memory => call_ind::<B, true>,
            _ => call_rel::<B>,
        },
        M::Ret => ret_near::<B>,
        M::Retf => ret_far::<B>,
        M::Jo
        | M::Jno
        | M::Jb
        | M::Jae
        | M::Je
        | M::Jne
        | M::Jbe
        | M::Ja
        | M::Js
        | M::Jns
        | M::Jp
        | M::Jnp
        | M::Jl
        | M::Jge
        | M::Jle
        | M::Jg => jcc_sel::<B>(ins.condition_code() as u8 - 1),
        M::Loopne | M::Loope | M::Loop | M::Jcxz | M::Jecxz | M::Jrcxz => {
            let base = match mn(ins) {
                M::Loopne => Code::Loopne_rel8_16_CX as u32,
                M::Loope => Code::Loope_rel8_16_CX as u32,
                M::Loop => Code::Loop_rel8_16_CX as u32,
                _ => Code::Jcxz_rel8_16 as u32,
            };
            let kind = match mn(ins) {
                M::Loopne => 0,
                M::Loope => 1,
                M::Loop => 2,
                _ => 3,
            };
            let counter = match code - base {
                0 | 1 => 2,
                2..=4 => 4,
                _ => 8,
            };
            loop_sel::<B>(kind, counter)
        }
        M::Int => int_n::<B>,
        M::Int3 => int3::<B>,
        M::Into => into::<B>,
        M::Int1 => int1::<B>,
        M::Iret | M::Iretd | M::Iretq => iret::<B>,
        M::Bound => bound::<B>,
        _ => {
            let _ = m0;
            return None;
        }
    })
}

fn far_mem(ins: &Instruction) -> bool {
    matches!(
        ins.memory_size(),
        iced_x86::MemorySize::SegPtr16
            | iced_x86::MemorySize::SegPtr32
            | iced_x86::MemorySize::SegPtr64
    )
}

fn loop_sel<B: CpuBus>(kind: u8, counter: u8) -> Handler<B> {
    match (kind, counter) {
        (0, 2) => loop_::<B, 0, 2>,
        (0, 4) => loop_::<B, 0, 4>,
        (0, _) => loop_::<B, 0, 8>,
        (1, 2) => loop_::<B, 1, 2>,
        (1, 4) => loop_::<B, 1, 4>,
        (1, _) => loop_::<B, 1, 8>,
        (2, 2) => loop_::<B, 2, 2>,
        (2, 4) => loop_::<B, 2, 4>,
        (2, _) => loop_::<B, 2, 8>,
        (_, 2) => loop_::<B, 3, 2>,
        (_, 4) => loop_::<B, 3, 4>,
        _ => loop_::<B, 3, 8>,
    }
}

/// Mask of a near branch target by operand size.
#[inline(always)]
pub(super) fn tmask(size: u8) -> u64 {
    match size {
        2 => 0xFFFF,
        4 => 0xFFFF_FFFF,
        _ => u64::MAX,
    }
}

impl CpuState {
    /// A near jump by record `op`: checks the target against the CS limit
    /// (#GP(0), with the record's position stored for the run loop, as a
    /// threaded slow path does).
    #[inline(always)]
    pub(super) fn near_jump<B>(&mut self, op: &Op<B>, target: u64) -> Res<()> {
        if let Err(f) = self.check_target(target) {
            sync_count(self, op);
            return Err(f);
        }
        self.next_rip = target;
        Ok(())
    }

    /// #GP(0) for a branch target outside CS (or non-canonical in 64-bit
    /// mode).
    #[inline(always)]
    fn check_target(&self, target: u64) -> Res<()> {
        let bad = if self.bitness == 64 {
            !crate::mmu::canonical(target)
        } else {
            target > u64::from(self.seg[sreg::CS].limit)
        };
        if bad {
            return Err(Fault::GP0);
        }
        Ok(())
    }
}

/// Leaves the trace for `next_rip` (set by the caller): a side exit,
/// like a taken Jcc. If the instruction already asked to leave the trace
/// (a push that wrote code or changed an interrupt line), the run loop
/// also returns to its caller, which acts on that.
#[inline(always)]
fn leave<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    s.run.leave_loop = s.run.break_trace;
    super::side_exit(s, bus, op)
}

fn jmp_rel<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let t = s.next_ip(op).wrapping_add(op.imm) & tmask(op.size);
    s.near_jump(op, t)?;
    leave(s, bus, op)
}

/// Picks `jcc::<B, CC>` for condition `cc` (0-15, encoding order).
pub(crate) fn jcc_sel<B: CpuBus>(cc: u8) -> Handler<B> {
    match cc & 15 {
        0 => jcc::<B, 0>,
        1 => jcc::<B, 1>,
        2 => jcc::<B, 2>,
        3 => jcc::<B, 3>,
        4 => jcc::<B, 4>,
        5 => jcc::<B, 5>,
        6 => jcc::<B, 6>,
        7 => jcc::<B, 7>,
        8 => jcc::<B, 8>,
        9 => jcc::<B, 9>,
        10 => jcc::<B, 10>,
        11 => jcc::<B, 11>,
        12 => jcc::<B, 12>,
        13 => jcc::<B, 13>,
        14 => jcc::<B, 14>,
        _ => jcc::<B, 15>,
    }
}

/// Jcc with its condition fixed at decode time. A taken branch leaves the
/// trace (a side exit when the trace goes on with the fall-through path):
/// the run loop goes on at `next_rip`.
fn jcc<B: CpuBus, const CC: u8>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    if s.cond(CC) {
        if super::can_land(s, op) {
            return super::land(s, bus, op);
        }
        let t = s.next_ip(op).wrapping_add(op.imm) & tmask(op.size);
        s.near_jump(op, t)?;
        return super::side_exit(s, bus, op);
    }
    next_fast(s, bus, op)
}

fn jmp_ind<B: CpuBus, const MEM: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let t = if MEM {
        let off = s.ea(op);
        match s.read_fast::<B, { super::ea::GEN }>(bus, op.seg as usize, off, op.size) {
            Some(t) => t,
            None => return jmp_ind_slow(s, bus, op),
        }
    } else {
        s.reg(op.r0, op.size)
    };
    s.near_jump(op, t)?;
    leave(s, bus, op)
}

#[inline(never)]
fn jmp_ind_slow<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    sync_count(s, op);
    let off = s.ea(op);
    let t = s.read_sz(bus, op.seg as usize, off, op.size)?;
    s.near_jump(op, t)?;
    leave(s, bus, op)
}

/// CALL rel: the push on the fast path, or the whole instruction again in
/// [`call_rel_slow`] (so this one calls nothing and saves no registers).
fn call_rel<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let ret = s.next_ip(op);
    let t = ret.wrapping_add(op.imm) & tmask(op.size);
    s.check_target(t)?;
    if !s.push_fast(bus, op.size, ret) {
        return call_rel_slow(s, bus, op);
    }
    s.next_rip = t;
    leave(s, bus, op)
}

#[inline(never)]
fn call_rel_slow<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    sync_count(s, op);
    let ret = s.next_ip(op);
    let t = ret.wrapping_add(op.imm) & tmask(op.size);
    s.check_target(t)?;
    s.push(bus, op.size, ret)?;
    s.next_rip = t;
    leave(s, bus, op)
}

/// CALL r/m (near): reads the target, then pushes; the memory read and
/// the push can reach MMIO, so the count is brought up to date first.
fn call_ind<B: CpuBus, const MEM: bool>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    sync_count(s, op);
    let t = s.rd_rm(bus, op, MEM, op.r0, op.size)?;
    s.check_target(t)?;
    let ret = s.next_ip(op);
    s.push(bus, op.size, ret)?;
    s.next_rip = t;
    leave(s, bus, op)
}

/// RET near: the return address read on the fast path, or the whole
/// instruction again in [`ret_near_slow`], as [`call_rel`].
fn ret_near<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let size = ret_size(op);
    let sp = s.sp();
    let Some(t) = s.read_fast::<B, { super::ea::GEN }>(bus, sreg::SS, sp, size) else {
        return ret_near_slow(s, bus, op);
    };
    s.check_target(t)?;
    s.set_sp(
        sp.wrapping_add(u64::from(size))
            .wrapping_add(op.imm & 0xFFFF),
    );
    s.next_rip = t;
    leave(s, bus, op)
}

fn ret_size<B>(op: &Op<B>) -> u8 {
    wdq(
        op.code,
        &[Code::Retnw, Code::Retnw_imm16],
        &[Code::Retnd, Code::Retnd_imm16],
    )
}

#[inline(never)]
fn ret_near_slow<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    sync_count(s, op);
    let size = ret_size(op);
    let t = s.peek_stack(bus, 0, size)?;
    s.check_target(t)?;
    let sp = s
        .sp()
        .wrapping_add(u64::from(size))
        .wrapping_add(op.imm & 0xFFFF);
    s.set_sp(sp);
    s.next_rip = t;
    leave(s, bus, op)
}

fn loop_<B: CpuBus, const KIND: u8, const CNT: u8>(
    s: &mut CpuState,
    _bus: &mut B,
    op: &Op<B>,
) -> Res<()> {
    let take = if KIND == 3 {
        s.reg(reg::CX as u8, CNT) == 0
    } else {
        let c = s.reg(reg::CX as u8, CNT).wrapping_sub(1) & crate::flags::mask(CNT);
        s.set_reg(reg::CX as u8, CNT, c);
        c != 0
            && match KIND {
                0 => !s.zf(),
                1 => s.zf(),
                _ => true,
            }
    };
    if take {
        let t = s.next_rip.wrapping_add(op.imm) & tmask(op.size);
        s.near_jump(op, t)?;
    }
    Ok(())
}

// ---- far transfers ------------------------------------------------------------

fn jmp_far_direct<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    s.far_transfer(bus, op.imm2, op.imm, op.size, false)
}

fn call_far_direct<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    s.far_transfer(bus, op.imm2, op.imm, op.size, true)
}

fn read_far_ptr<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<(u16, u64, u8)> {
    let size = wdq(
        op.code,
        &[Code::Jmp_m1616, Code::Call_m1616],
        &[Code::Jmp_m1632, Code::Call_m1632],
    );
    let (sel, off) = super::read_far_pointer(s, bus, op, size)?;
    Ok((sel, off, size))
}

fn jmp_far_mem<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let (sel, off, size) = read_far_ptr(s, bus, op)?;
    s.far_transfer(bus, sel, off, size, false)
}

fn call_far_mem<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let (sel, off, size) = read_far_ptr(s, bus, op)?;
    s.far_transfer(bus, sel, off, size, true)
}

impl CpuState {
    /// Far JMP or CALL to `sel:off` with operand size `size` (SDM JMP, CALL).
    fn far_transfer<B: CpuBus>(
        &mut self,
        bus: &mut B,
        sel: u16,
        off: u64,
        size: u8,
        call: bool,
    ) -> Res<()> {
        self.run.break_trace = true;
        if matches!(self.mode, Mode::Real | Mode::V86) {
            let off = off & tmask(size);
            if off > u64::from(self.seg[sreg::CS].limit) {
                return Err(Fault::GP0);
            }
            if call {
                let cs = u64::from(self.seg[sreg::CS].selector);
                self.push_all(bus, size, &[cs, self.next_rip])?;
            }
            let cs = &mut self.seg[sreg::CS];
            cs.selector = sel;
            cs.base = u64::from(sel) << 4;
            self.next_rip = off;
            self.update_mode();
            return Ok(());
        }
        if sel & 0xFFFC == 0 {
            return Err(Fault::GP0);
        }
        let raw = self.read_descriptor(bus, sel)?;
        let d = Segment::from_descriptor(sel, raw);
        let gp = Fault::gp(sel_err(sel));
        let rpl = (sel & 3) as u8;
        if d.attr & attr::S != 0 {
            self.check_code_segment(&d, CsRule::Direct, 0)?;
            let off = off & tmask(size);
            self.check_far_target(&d, off)?;
            if call {
                let cs = u64::from(self.seg[sreg::CS].selector);
                self.push_all(bus, size, &[cs, self.next_rip])?;
            }
            self.set_accessed(bus, sel, raw)?;
            let cpl = self.cpl;
            let cs = Segment {
                selector: (sel & 0xFFFC) | u16::from(cpl),
                attr: d.attr | attr::ACCESSED,
                ..d
            };
            self.set_cs(cs, cpl);
            self.next_rip = off;
            return Ok(());
        }
        // System descriptors: call gates, task gates, TSSs. IA-32e mode
        // has only 64-bit call gates (type 12), and no task switches.
        let ty = d.attr & attr::TYPE_MASK;
        if self.long_mode() {
            if ty != 12 {
                return Err(gp);
            }
            return self.call_gate_long(bus, sel, call);
        }
        let switch = if call {
            SwitchKind::Call
        } else {
            SwitchKind::Jmp
        };
        match ty {
            4 | 12 => self.through_call_gate(bus, sel, raw, call),
            5 => {
                if d.dpl() < self.cpl || d.dpl() < rpl {
                    return Err(gp);
                }
                if d.attr & attr::P == 0 {
                    return Err(Fault::with_error(vector::NP, sel_err(sel)));
                }
                let tss = (raw >> 16) as u16;
                let ret = self.next_rip;
                self.task_switch(bus, tss, switch, ret, None)
            }
            1 | 9 => {
                if d.dpl() < self.cpl || d.dpl() < rpl {
                    return Err(gp);
                }
                let ret = self.next_rip;
                self.task_switch(bus, sel, switch, ret, None)
            }
            _ => Err(gp),
        }
    }

    /// The target check of a far transfer to code segment `d`: in IA-32e
    /// mode a 64-bit segment needs a canonical offset, any other one an
    /// offset within its limit.
    fn check_far_target(&self, d: &Segment, off: u64) -> Res<()> {
        let bad = if self.long_mode() && crate::long_mode::is_code64(d) {
            !crate::mmu::canonical(off)
        } else {
            off > u64::from(d.limit)
        };
        if bad {
            return Err(Fault::GP0);
        }
        Ok(())
    }

    /// CALL or JMP through a call gate (SDM Vol. 3, 5.8.4-5.8.6).
    fn through_call_gate<B: CpuBus>(
        &mut self,
        bus: &mut B,
        gsel: u16,
        graw: u64,
        call: bool,
    ) -> Res<()> {
        let gdpl = ((graw >> 45) & 3) as u8;
        let rpl = (gsel & 3) as u8;
        if gdpl < self.cpl || gdpl < rpl {
            return Err(Fault::gp(sel_err(gsel)));
        }
        if graw & (1 << 47) == 0 {
            return Err(Fault::with_error(vector::NP, sel_err(gsel)));
        }
        let gate32 = (graw >> 40) & 8 != 0;
        let size: u8 = if gate32 { 4 } else { 2 };
        let sel = (graw >> 16) as u16;
        let target = (graw & 0xFFFF)
            | if gate32 {
                ((graw >> 48) & 0xFFFF) << 16
            } else {
                0
            };
        let params = (graw >> 32) & 0x1F;
        let rule = CsRule::Gate {
            jmp: !call,
            long: false,
        };
        let (cs, raw) = self.far_code_segment(bus, sel, rule, 0)?;
        let conforming = cs.attr & attr::DC != 0;
        if target > u64::from(cs.limit) {
            return Err(Fault::GP0);
        }
        let new_cpl = if conforming { self.cpl } else { cs.dpl() };
        let old_cs = self.seg[sreg::CS].selector;
        let ret = self.next_rip;
        if call && new_cpl < self.cpl {
            // Inner stack from the TSS; parameters copied from the old one.
            let (ss_sel, esp) = self.tss_stack(bus, new_cpl, 0)?;
            let ss = self.load_stack_for(bus, ss_sel, new_cpl, 0)?;
            let old_ss = self.seg[sreg::SS];
            let old_sp = self.sp();
            let mut args = Vec::with_capacity(params as usize);
            for i in 0..params {
                args.push(self.read_sz(
                    bus,
                    sreg::SS,
                    old_sp.wrapping_add(i * u64::from(size)) & self.stack_mask(),
                    size,
                )?);
            }
            let mut frame = vec![u64::from(old_ss.selector), self.gpr[reg::SP]];
            frame.extend(args.iter().rev());
            frame.extend([u64::from(old_cs), ret]);
            self.push_on_stack(bus, (ss, esp, new_cpl), size, &frame)?;
        } else if call {
            self.push_all(bus, size, &[u64::from(old_cs), ret])?;
        }
        self.set_accessed(bus, sel, raw)?;
        let c = cs.accessed((sel & 0xFFFC) | u16::from(new_cpl));
        self.set_cs(c, new_cpl);
        self.next_rip = target;
        Ok(())
    }
}

fn ret_far<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let size = wdq(
        op.code,
        &[Code::Retfw, Code::Retfw_imm16],
        &[Code::Retfd, Code::Retfd_imm16],
    );
    let extra = op.imm & 0xFFFF;
    s.run.break_trace = true;
    let n = u64::from(size);
    let ip = s.peek_stack(bus, 0, size)?;
    let sel = s.peek_stack(bus, n, size)? as u16;
    if matches!(s.mode, Mode::Real | Mode::V86) {
        if ip > u64::from(s.seg[sreg::CS].limit) {
            return Err(Fault::GP0);
        }
        let sp = s.sp().wrapping_add(2 * n + extra);
        s.set_sp(sp);
        let cs = &mut s.seg[sreg::CS];
        cs.selector = sel;
        cs.base = u64::from(sel) << 4;
        s.next_rip = ip;
        return Ok(());
    }
    let rpl = (sel & 3) as u8;
    let (cs, raw) = s.far_code_segment(bus, sel, CsRule::Return, 0)?;
    s.check_far_target(&cs, ip)?;
    if rpl > s.cpl {
        // Return to an outer privilege level: SS:ESP follow the parameters.
        let new_sp = s.peek_stack(bus, 2 * n + extra, size)?;
        let ss_sel = s.peek_stack(bus, 3 * n + extra, size)? as u16;
        let ss = if s.long_mode() {
            s.return_stack_long(bus, ss_sel, rpl, crate::long_mode::is_code64(&cs))?
        } else {
            s.load_stack_for(bus, ss_sel, rpl, 0).map_err(|f| {
                if f.vector() == vector::TS {
                    Fault::gp(sel_err(ss_sel))
                } else {
                    f
                }
            })?
        };
        s.set_accessed(bus, sel, raw)?;
        let c = cs.accessed(sel);
        s.set_cs(c, rpl);
        s.seg[sreg::SS] = ss;
        s.stack32 = ss.big();
        s.gpr[reg::SP] = new_sp;
        let sp = s.sp().wrapping_add(extra);
        s.set_sp(sp);
        s.null_invalid_data_segments();
    } else {
        let sp = s.sp().wrapping_add(2 * n + extra);
        s.set_accessed(bus, sel, raw)?;
        let cpl = s.cpl;
        let c = cs.accessed(sel);
        s.set_cs(c, cpl);
        s.set_sp(sp);
    }
    s.next_rip = ip;
    Ok(())
}

// ---- software interrupts and IRET ---------------------------------------

// A software interrupt decides its single-step trap by the TF it leaves
// (`step_on_new_tf`): the gate clears TF, so single-stepping steps over
// the handler, which IRET resumes with TF set again.

fn int_n<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    if s.mode == Mode::V86 && s.iopl() < 3 {
        return Err(Fault::GP0);
    }
    let ret = s.next_rip;
    s.step_on_new_tf = true;
    s.deliver(bus, op.imm as u8, None, ret, Source::Software)
}

fn int3<B: CpuBus>(s: &mut CpuState, bus: &mut B, _op: &Op<B>) -> Res<()> {
    let ret = s.next_rip;
    s.step_on_new_tf = true;
    s.deliver(bus, vector::BP, None, ret, Source::Software)
}

fn int1<B: CpuBus>(s: &mut CpuState, bus: &mut B, _op: &Op<B>) -> Res<()> {
    let ret = s.next_rip;
    s.step_on_new_tf = true;
    s.deliver(bus, vector::DB, None, ret, Source::Icebp)
}

fn into<B: CpuBus>(s: &mut CpuState, bus: &mut B, _op: &Op<B>) -> Res<()> {
    if s.of() {
        let ret = s.next_rip;
        s.step_on_new_tf = true;
        return s.deliver(bus, vector::OF, None, ret, Source::Software);
    }
    Ok(())
}

fn bound<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let size = op.size;
    let bits = 8 * u32::from(size);
    let sx = |v: u64| ((v << (64 - bits)) as i64) >> (64 - bits);
    let idx = sx(s.reg(op.r0, size));
    let off = s.ea(op);
    let lo = sx(s.read_sz(bus, op.seg as usize, off, size)?);
    let hi_off = off.wrapping_add(u64::from(size)) & crate::flags::mask(op.asize);
    let hi = sx(s.read_sz(bus, op.seg as usize, hi_off, size)?);
    if idx < lo || idx > hi {
        return Err(Fault::new(vector::BR));
    }
    Ok(())
}

fn iret<B: CpuBus>(s: &mut CpuState, bus: &mut B, op: &Op<B>) -> Res<()> {
    let size: u8 = wdq(op.code, &[Code::Iretw], &[Code::Iretd]);
    s.run.break_trace = true;
    // IRET unblocks NMIs, even when it faults (SDM 6.7.1).
    s.nmi_blocked = false;
    match s.mode {
        Mode::Real | Mode::V86 => {
            if s.mode == Mode::V86 && s.iopl() < 3 {
                return Err(Fault::GP0);
            }
            let (ip, sel, f) = iret_frame(s, bus, size)?;
            if ip > u64::from(s.seg[sreg::CS].limit) {
                return Err(Fault::GP0);
            }
            let sp = s.sp().wrapping_add(3 * u64::from(size));
            s.set_sp(sp);
            // (Real and V86 loads: no descriptor, nothing can fault.)
            s.load_seg(bus, sreg::CS, sel)?;
            s.write_flags_iret(f, size);
            s.next_rip = ip;
            s.update_mode();
            Ok(())
        }
        Mode::Protected => iret_protected(s, bus, size),
        Mode::Long if s.bitness == 64 => s.iret_long(bus, size),
        Mode::Long => {
            // Compatibility mode: no task return in IA-32e mode.
            if s.flags & fl::NT != 0 {
                return Err(Fault::GP0);
            }
            iret_protected(s, bus, size)
        }
    }
}

/// The IP, CS and FLAGS an IRET returns to (slots of `size` bytes),
/// read without popping.
fn iret_frame<B: CpuBus>(s: &mut CpuState, bus: &mut B, size: u8) -> Res<(u64, u16, u32)> {
    let n = u64::from(size);
    let ip = s.peek_stack(bus, 0, size)?;
    let sel = s.peek_stack(bus, n, size)? as u16;
    let f = s.peek_stack(bus, 2 * n, size)? as u32;
    Ok((ip, sel, f))
}

fn iret_protected<B: CpuBus>(s: &mut CpuState, bus: &mut B, size: u8) -> Res<()> {
    let n = u64::from(size);
    if s.flags & fl::NT != 0 {
        // Return from a nested task through the back link.
        let link = s.read_sys(bus, s.tr.base, 2)? as u16;
        let ret = s.next_rip;
        return s.task_switch(bus, link, SwitchKind::Iret, ret, None);
    }
    let (ip, sel, f) = iret_frame(s, bus, size)?;
    if size == 4 && f & fl::VM != 0 && s.cpl == 0 && !s.long_mode() {
        return iret_to_v86(s, bus, ip, sel, f);
    }
    let rpl = (sel & 3) as u8;
    let (cs, raw) = s.far_code_segment(bus, sel, CsRule::Return, 0)?;
    if ip > u64::from(cs.limit) {
        return Err(Fault::GP0);
    }
    let old_cpl = s.cpl;
    if rpl > s.cpl {
        let new_sp = s.peek_stack(bus, 3 * n, size)?;
        let ss_sel = s.peek_stack(bus, 4 * n, size)? as u16;
        let ss = s.load_stack_for(bus, ss_sel, rpl, 0).map_err(|f| {
            if f.vector() == vector::TS {
                Fault::gp(sel_err(ss_sel))
            } else {
                f
            }
        })?;
        s.set_accessed(bus, sel, raw)?;
        // Flags are written with the old CPL's privileges.
        s.write_flags_iret(f, size);
        let c = cs.accessed(sel);
        s.set_cs(c, rpl);
        s.seg[sreg::SS] = ss;
        s.stack32 = ss.big();
        s.gpr[reg::SP] = if size == 2 {
            (s.gpr[reg::SP] & !0xFFFF) | (new_sp & 0xFFFF)
        } else {
            new_sp
        };
        s.null_invalid_data_segments();
    } else {
        let sp = s.sp().wrapping_add(3 * n);
        s.set_accessed(bus, sel, raw)?;
        s.write_flags_iret(f, size);
        let c = cs.accessed(sel);
        s.set_cs(c, old_cpl);
        s.set_sp(sp);
    }
    s.next_rip = ip;
    Ok(())
}

fn iret_to_v86<B: CpuBus>(s: &mut CpuState, bus: &mut B, ip: u64, cs: u16, f: u32) -> Res<()> {
    let esp = s.peek_stack(bus, 12, 4)?;
    let ss = s.peek_stack(bus, 16, 4)? as u16;
    let es = s.peek_stack(bus, 20, 4)? as u16;
    let ds = s.peek_stack(bus, 24, 4)? as u16;
    let fs = s.peek_stack(bus, 28, 4)? as u16;
    let gs = s.peek_stack(bus, 32, 4)? as u16;
    s.flags = (f & fl::SUPPORTED) | fl::RESERVED1;
    s.lazy.op = crate::flags::FlagOp::None;
    s.update_mode();
    for (i, sel) in [
        (sreg::ES, es),
        (sreg::CS, cs),
        (sreg::SS, ss),
        (sreg::DS, ds),
        (sreg::FS, fs),
        (sreg::GS, gs),
    ] {
        s.load_seg(bus, i, sel)?;
    }
    s.cpl = 3;
    s.update_mode();
    s.gpr[reg::SP] = esp & 0xFFFF_FFFF;
    s.next_rip = ip & 0xFFFF;
    Ok(())
}
