//! Decoding: iced-x86 instructions turned into pre-resolved records, grouped
//! into traces and cached by physical address.
//!
//! A trace is a run of instructions from one code page, ending at a control
//! transfer, a page end or [`MAX_TRACE`] instructions. Each instruction is
//! an [`Op`]: the handler chosen once at decode time plus its operands
//! already resolved to register numbers, an effective-address recipe and
//! immediates, so the execute loop never looks at iced's operand kinds.
//! Traces are keyed by the physical address of their first byte and the
//! decode bitness; writes to a page that holds code drop the page's traces.

use crate::bus::CpuBus;
use crate::core::CpuState;
use crate::fault::{Fault, Res};
use crate::mmu::Access;
use iced_x86::{
    Code, Decoder, DecoderError, DecoderOptions, FlowControl, Instruction, OpKind, Register,
};
use std::collections::HashMap;

/// Decode as this CPU generation does: without BMI1/ABM, `F3 0F BC/BD`
/// are BSF/BSR (Linux's `rep; bsf` relies on it), and `F3 0F 09` is
/// WBINVD.
const DECODER_OPTIONS: u32 =
    DecoderOptions::NO_MPFX_0FBC | DecoderOptions::NO_MPFX_0FBD | DecoderOptions::NO_WBNOINVD;

/// Longest trace, in instructions.
pub const MAX_TRACE: usize = 32;
/// "No register" in an [`Op`] field.
pub const NOREG: u8 = 0xFF;
/// Base register value meaning "the instruction pointer" (RIP-relative).
pub const RIPREL: u8 = 0xFE;

/// An instruction handler.
pub type Handler<B> = fn(&mut CpuState, &mut B, &Op<B>) -> Res<()>;

/// A decoded instruction, ready to execute.
pub struct Op<B> {
    /// The handler. Inside a trace the hottest handlers go straight on
    /// with the next record once their instruction has retired
    /// (`exec::next`); the others return to the run loop, which does.
    pub f: Handler<B>,
    /// Offset of this record's first byte from the trace's first byte
    /// (the byte after it is `start + len`).
    pub start: u16,
    /// Position in the trace.
    pub idx: u8,
    /// Guest instructions retired by the trace up to and including this
    /// record.
    pub ic: u8,
    /// The last record of its trace.
    pub last: bool,
    /// A threaded handler (`exec::Pick`).
    pub hot: bool,
    /// This record's handler goes straight on with the next record: both
    /// are threaded handlers.
    pub chain: bool,
    /// Length in bytes (of both instructions, for a fused pair).
    pub len: u8,
    /// Size of operand 0 in bytes (or the operation size).
    pub size: u8,
    /// Size of operand 1 in bytes (MOVZX/MOVSX sources, shifts by CL, ...).
    pub size2: u8,
    /// Address size in bytes (2, 4 or 8).
    pub asize: u8,
    /// Segment register of the memory operand.
    pub seg: u8,
    /// Base register of the memory operand, [`NOREG`] or [`RIPREL`].
    pub base: u8,
    /// Index register, or [`NOREG`].
    pub index: u8,
    /// Index scale as a shift count.
    pub scale: u8,
    /// First register operand.
    pub r0: u8,
    /// Second register operand.
    pub r1: u8,
    /// Condition code, REP kind or another small per-handler value.
    pub aux: u8,
    /// Guest instructions this record retires: 1, or 2 for a fused
    /// CMP/TEST + Jcc pair.
    pub n: u8,
    /// Data memory references made by the trace's records up to and
    /// including this one (explicit memory operands and stack accesses),
    /// for the `--stats` TLB hit rate: counted per trace exit, not per
    /// access.
    pub mref: u8,
    /// The iced `Code`, for statistics, #UD reports and the debugger.
    pub code: Code,
    /// Displacement (sign-extended).
    pub disp: u64,
    /// First immediate, the relative branch displacement, or a direct far
    /// JMP/CALL's offset.
    pub imm: u64,
    /// Second immediate: ENTER's nesting level, or a direct far
    /// JMP/CALL's selector.
    pub imm2: u16,
    /// The x87 FOP (11 bits: the opcode's low 3 bits of its first byte and
    /// the ModRM byte) of an x87 instruction, which stores it when it
    /// executes; 0 for others.
    pub fop: u16,
    /// A fused CMP/TEST + Jcc pair (`n` = 2): the Jcc's displacement.
    pub jrel: i32,
    /// A fused pair: the CMP/TEST's length (the Jcc starts there).
    pub len1: u8,
    /// A fused pair: the Jcc's operand size (2, 4 or 8), which masks its
    /// target.
    pub jsize: u8,
}

// The counters of a record hold the largest trace: `idx` its positions,
// `ic` twice its records (each may be a fused pair), `start` its bytes
// (15 at most an instruction); `mref` saturates (a statistic).
const _: () = assert!(MAX_TRACE <= u8::MAX as usize + 1);
const _: () = assert!(2 * MAX_TRACE <= u8::MAX as usize);
const _: () = assert!(2 * 15 * MAX_TRACE <= u16::MAX as usize);
// A record stays within 56 bytes: the trace cache holds millions of them,
// and the run loop reads them in order.
const _: () = assert!(std::mem::size_of::<Op<()>>() == 56);

impl<B> Clone for Op<B> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<B> Copy for Op<B> {}

impl<B> Op<B> {
    /// Address of this record's first byte, in a trace that starts at
    /// `rip0` (IP mask `mask`).
    #[inline(always)]
    pub fn start_at(&self, rip0: u64, mask: u64) -> u64 {
        rip0.wrapping_add(u64::from(self.start)) & mask
    }

    /// Address of the byte after this record, in a trace that starts at
    /// `rip0`.
    #[inline(always)]
    pub fn end_at(&self, rip0: u64, mask: u64) -> u64 {
        rip0.wrapping_add(u64::from(self.start) + u64::from(self.len)) & mask
    }

    /// Instructions retired before this record, in a trace entered at
    /// count `ic0`.
    #[inline(always)]
    pub fn count_before(&self, ic0: u64) -> u64 {
        ic0 + u64::from(self.ic - self.n)
    }
}

impl<B> core::fmt::Debug for Op<B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Op({:?}, len {})", self.code, self.len)
    }
}

/// A cached trace.
pub struct Trace<B> {
    /// Physical address of the first byte.
    pub phys: u64,
    /// Decode bitness.
    pub bitness: u32,
    /// Total length of the instructions in bytes.
    pub bytes: u32,
    /// The instructions.
    pub ops: Box<[Op<B>]>,
}

/// A small, fast hasher for trace keys (physical addresses are already
/// well spread; SipHash's DoS resistance buys nothing here).
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7CC1_B727_220A);
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<KeyHasher>>;

/// Entries of the direct-mapped front of the trace cache.
const FAST_SIZE: usize = 1 << 14;
const FAST_EMPTY: (u64, u32) = (u64::MAX, 0);

#[inline(always)]
fn fast_key(phys: u64, bitness: u32) -> u64 {
    phys | (u64::from(bitness) << 56)
}

#[inline(always)]
fn fast_slot(phys: u64) -> usize {
    ((phys ^ (phys >> 14)) as usize) & (FAST_SIZE - 1)
}

/// Trace cache: physical address + bitness → trace. A direct-mapped array
/// answers most lookups with one compare; the hash map behind it holds
/// everything.
pub struct TraceCache<B> {
    fast: Vec<(u64, u32)>,
    map: FastMap<(u64, u32), usize>,
    traces: Vec<Option<Trace<B>>>,
    free: Vec<usize>,
    by_page: FastMap<u64, Vec<usize>>,
    /// Per trace id: the pages it is listed under in `by_page`, so that
    /// dropping it for one page also unlists it from the other (a trace
    /// ending in an instruction that straddles a page): stale ids would
    /// pile up under self-modifying code and drop unrelated traces that
    /// reused the id.
    pages: Vec<Vec<u64>>,
    /// Per trace id: the last [`SUCC`] successors seen, as (rip, id,
    /// epoch), most recent first (a trace has a successor per side exit
    /// and per return site).
    succ: Vec<[(u64, u32, u64); SUCC]>,
    /// Bumped whenever traces are dropped (their ids may be reused).
    pub generation: u64,
    /// Lookups that found a trace.
    pub hits: u64,
    /// Lookups that had to decode.
    pub misses: u64,
}

impl<B> Default for TraceCache<B> {
    fn default() -> Self {
        Self {
            fast: vec![FAST_EMPTY; FAST_SIZE],
            map: FastMap::default(),
            traces: Vec::new(),
            free: Vec::new(),
            by_page: FastMap::default(),
            pages: Vec::new(),
            succ: Vec::new(),
            generation: 0,
            hits: 0,
            misses: 0,
        }
    }
}

/// Successor links kept per trace.
const SUCC: usize = 4;

/// Most traces kept before the cache is emptied and refilled.
const MAX_TRACES: usize = 1 << 16;

impl<B> TraceCache<B> {
    /// Finds the trace starting at `phys`.
    #[inline]
    pub fn get(&mut self, phys: u64, bitness: u32) -> Option<usize> {
        let k = fast_key(phys, bitness);
        let slot = fast_slot(phys);
        let e = self.fast[slot];
        if e.0 == k {
            return Some(e.1 as usize);
        }
        let id = self.map.get(&(phys, bitness)).copied()?;
        self.fast[slot] = (k, id as u32);
        Some(id)
    }

    /// The trace with id `id`.
    #[inline]
    pub fn trace(&self, id: usize) -> Option<&Trace<B>> {
        self.traces.get(id).and_then(|t| t.as_ref())
    }

    /// The chained successor of trace `from` for `rip`, if recorded under
    /// the current `epoch`.
    #[inline(always)]
    pub fn chained(&self, from: usize, rip: u64, epoch: u64) -> Option<usize> {
        let s = self.succ.get(from)?;
        for (r, id, e) in s {
            if *r == rip && *e == epoch {
                return Some(*id as usize);
            }
        }
        None
    }

    /// Records `to` as a successor of `from` at `rip`.
    #[inline]
    pub fn chain(&mut self, from: usize, rip: u64, to: usize, epoch: u64) {
        if let Some(s) = self.succ.get_mut(from) {
            s.copy_within(0..SUCC - 1, 1);
            s[0] = (rip, to as u32, epoch);
        }
    }

    /// True when the next [`insert`](Self::insert) empties the cache
    /// first (it holds [`MAX_TRACES`]).
    pub fn is_full(&self) -> bool {
        self.map.len() >= MAX_TRACES
    }

    /// Adds a trace covering the pages in `pages`.
    pub fn insert(&mut self, t: Trace<B>, pages: &[u64]) -> usize {
        if self.is_full() {
            self.clear();
        }
        let key = (t.phys, t.bitness);
        let id = match self.free.pop() {
            Some(id) => {
                self.traces[id] = Some(t);
                id
            }
            None => {
                self.traces.push(Some(t));
                self.traces.len() - 1
            }
        };
        self.map.insert(key, id);
        if self.succ.len() <= id {
            self.succ.resize(id + 1, [(u64::MAX, 0, u64::MAX); SUCC]);
        }
        self.succ[id] = [(u64::MAX, 0, u64::MAX); SUCC];
        if self.pages.len() <= id {
            self.pages.resize_with(id + 1, Vec::new);
        }
        let listed = &mut self.pages[id];
        listed.clear();
        for p in pages {
            if !listed.contains(p) {
                listed.push(*p);
                self.by_page.entry(*p).or_default().push(id);
            }
        }
        id
    }

    /// Drops every trace touching physical page `page`.
    pub fn invalidate_page(&mut self, page: u64) {
        if let Some(ids) = self.by_page.remove(&page) {
            self.generation += 1;
            for id in ids {
                if let Some(t) = self.traces.get_mut(id).and_then(|t| t.take()) {
                    self.unlist_elsewhere(id, page);
                    self.map.remove(&(t.phys, t.bitness));
                    let slot = fast_slot(t.phys);
                    if self.fast[slot].0 == fast_key(t.phys, t.bitness) {
                        self.fast[slot] = FAST_EMPTY;
                    }
                    self.free.push(id);
                }
            }
        }
    }

    /// Removes trace `id` from the `by_page` lists of its pages other
    /// than `page` (whose list the caller already took).
    fn unlist_elsewhere(&mut self, id: usize, page: u64) {
        let Some(listed) = self.pages.get_mut(id) else {
            return;
        };
        for p in listed.drain(..) {
            if p == page {
                continue;
            }
            if let Some(ids) = self.by_page.get_mut(&p) {
                ids.retain(|&i| i != id);
                if ids.is_empty() {
                    self.by_page.remove(&p);
                }
            }
        }
    }

    /// Pages with traces listed, and list entries in all (bookkeeping
    /// size, for tests).
    pub fn listed(&self) -> (usize, usize) {
        (
            self.by_page.len(),
            self.by_page.values().map(Vec::len).sum(),
        )
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.generation += 1;
        self.succ.clear();
        self.fast.fill(FAST_EMPTY);
        self.map.clear();
        self.traces.clear();
        self.free.clear();
        self.by_page.clear();
        self.pages.clear();
    }

    /// Number of cached traces.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// The name of an iced `Code` number (for `--stats` reports).
pub fn code_name(code: u16) -> String {
    Code::values()
        .nth(usize::from(code))
        .map_or_else(|| format!("code#{code}"), |c| format!("{c:?}"))
}

/// Maps an iced register to our numbering: GPRs 0-15, AH-BH 16-19,
/// segment registers 0-5, control/debug registers by number.
pub fn reg_num(r: Register) -> u8 {
    if r == Register::None {
        return NOREG;
    }
    if r.is_gpr8() {
        let n = r.number() as u8;
        return match n {
            0..=3 => n,
            4..=7 => 16 + (n - 4),
            _ => n - 4,
        };
    }
    (r.number() & 0x1F) as u8
}

fn seg_num(r: Register) -> u8 {
    match r {
        Register::ES => 0,
        Register::CS => 1,
        Register::SS => 2,
        Register::FS => 4,
        Register::GS => 5,
        _ => 3,
    }
}

/// Builds an [`Op`] from a decoded instruction (handler still to be chosen).
pub fn build_op<B: CpuBus>(ins: &Instruction, f: Handler<B>) -> Op<B> {
    let mut op = Op {
        f,
        start: 0,
        idx: 0,
        ic: 1,
        last: true,
        hot: false,
        chain: false,
        len: ins.len() as u8,
        size: 0,
        size2: 0,
        asize: 0,
        seg: 3,
        base: NOREG,
        index: NOREG,
        scale: 0,
        r0: NOREG,
        r1: NOREG,
        aux: 0,
        n: 1,
        mref: mem_refs(ins),
        code: ins.code(),
        disp: 0,
        imm: 0,
        imm2: 0,
        fop: 0,
        jrel: 0,
        len1: 0,
        jsize: 0,
    };
    let mut imms = 0;
    let next_ip = ins.next_ip();
    for i in 0..ins.op_count() {
        let kind = ins.op_kind(i);
        let osize: u8 = match kind {
            OpKind::Register => {
                let r = ins.op_register(i);
                let n = reg_num(r);
                // Registers sit in the slot of their operand position.
                match i {
                    0 => op.r0 = n,
                    1 => op.r1 = n,
                    // A third register (SHLD/SHRD's CL): flagged in `aux`.
                    _ => op.aux = 0x80 | n,
                }
                r.size() as u8
            }
            OpKind::Memory => {
                op.seg = seg_num(ins.memory_segment());
                let b = ins.memory_base();
                op.base = if b == Register::RIP || b == Register::EIP {
                    RIPREL
                } else {
                    reg_num(b)
                };
                op.index = reg_num(ins.memory_index());
                op.scale = ins.memory_index_scale().trailing_zeros() as u8;
                op.disp = ins.memory_displacement64();
                op.asize = if b != Register::None && op.base != RIPREL {
                    b.size() as u8
                } else if ins.memory_index() != Register::None {
                    ins.memory_index().size() as u8
                } else {
                    match ins.memory_displ_size() {
                        2 => 2,
                        8 => 8,
                        _ => 4,
                    }
                };
                if op.base == RIPREL {
                    op.asize = if b == Register::EIP { 4 } else { 8 };
                    op.disp = ins.memory_displacement64().wrapping_sub(next_ip);
                }
                ins.memory_size().size() as u8
            }
            // String operands: `seg` is the overridable source segment;
            // the ES:DI destination never changes.
            OpKind::MemorySegSI
            | OpKind::MemorySegDI
            | OpKind::MemorySegESI
            | OpKind::MemorySegEDI
            | OpKind::MemorySegRSI
            | OpKind::MemorySegRDI => {
                op.asize = str_asize(kind);
                op.seg = seg_num(ins.memory_segment());
                ins.memory_size().size() as u8
            }
            OpKind::MemoryESDI | OpKind::MemoryESEDI | OpKind::MemoryESRDI => {
                op.asize = str_asize(kind);
                ins.memory_size().size() as u8
            }
            OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => {
                op.imm = ins.near_branch_target().wrapping_sub(next_ip);
                match kind {
                    OpKind::NearBranch16 => 2,
                    OpKind::NearBranch32 => 4,
                    _ => 8,
                }
            }
            OpKind::FarBranch16 | OpKind::FarBranch32 => {
                op.imm = u64::from(ins.far_branch32());
                op.imm2 = ins.far_branch_selector();
                if kind == OpKind::FarBranch16 {
                    2
                } else {
                    4
                }
            }
            _ => {
                let v = ins.immediate(i);
                let sz = match kind {
                    OpKind::Immediate8 | OpKind::Immediate8_2nd => 1,
                    OpKind::Immediate16 => 2,
                    OpKind::Immediate32 => 4,
                    _ => 8,
                };
                if imms == 0 {
                    op.imm = v;
                } else {
                    // ENTER's level: an imm8.
                    op.imm2 = v as u16;
                }
                imms += 1;
                sz
            }
        };
        if i == 0 {
            op.size = osize;
        } else if i == 1 {
            op.size2 = osize;
        }
    }
    let cc = ins.condition_code() as u8;
    if cc != 0 {
        // iced numbers conditions from 1 (o) in encoding order.
        op.aux = cc - 1;
    }
    if let Some(fop) = crate::fpu::fop_of(ins) {
        op.fop = fop;
    }
    if op.asize == 0 {
        op.asize = match ins.code_size() {
            iced_x86::CodeSize::Code16 => 2,
            iced_x86::CodeSize::Code64 => 8,
            _ => 4,
        };
    }
    op
}

/// Data memory references of one instruction: one per explicit memory
/// operand and one for a stack access (string instructions count their
/// own iterations).
fn mem_refs(ins: &Instruction) -> u8 {
    let explicit = (0..ins.op_count())
        .filter(|&i| ins.op_kind(i) == OpKind::Memory)
        .count() as u8;
    explicit + u8::from(ins.stack_pointer_increment() != 0)
}

fn str_asize(kind: OpKind) -> u8 {
    match kind {
        OpKind::MemorySegSI | OpKind::MemorySegDI | OpKind::MemoryESDI => 2,
        OpKind::MemorySegESI | OpKind::MemorySegEDI | OpKind::MemoryESEDI => 4,
        _ => 8,
    }
}

/// True when an instruction must end its trace.
pub fn ends_trace(ins: &Instruction) -> bool {
    !matches!(ins.flow_control(), FlowControl::Next)
}

impl CpuState {
    /// Fetches instruction bytes at `paddr` (all within one page): one
    /// copy out of RAM, or byte by byte from ROM or a device.
    fn fetch<B: CpuBus>(&mut self, bus: &mut B, paddr: u64, out: &mut [u8]) {
        if bus.page_is_ram(paddr) {
            let off = paddr as usize;
            if let Some(src) = bus.ram().get(off..off + out.len()) {
                out.copy_from_slice(src);
                return;
            }
        }
        for (i, b) in out.iter_mut().enumerate() {
            *b = self.phys_read(bus, paddr + i as u64, 1) as u8;
        }
    }

    /// Decodes one instruction at linear address `lin` (instruction pointer
    /// `ip`), fetching up to 15 bytes. Bytes from the next page are
    /// fetched (and may fault) only if the instruction really extends into
    /// it. Returns the instruction and the physical page of each byte range.
    pub fn decode_at<B: CpuBus>(
        &mut self,
        bus: &mut B,
        lin: u64,
        ip: u64,
    ) -> Res<(Instruction, u64, Option<u64>)> {
        let mut buf = [0u8; 16];
        let p0 = self.translate(bus, lin, Access::Exec)?;
        let in_page = (0x1000 - (lin & 0xFFF)).min(15) as usize;
        self.fetch(bus, p0, &mut buf[..in_page]);
        let opts = DECODER_OPTIONS;
        let mut dec = Decoder::with_ip(self.bitness, &buf[..in_page], ip, opts);
        let ins = dec.decode();
        if dec.last_error() != DecoderError::NoMoreBytes {
            return Ok((ins, p0, None));
        }
        if in_page == 15 {
            // More than 15 bytes: #GP(0) (SDM Vol. 2, 2.3.11).
            return Err(Fault::GP0);
        }
        // The instruction continues on the next page.
        let lin2 = self.wrap_lin((lin & !0xFFF) + 0x1000);
        let p1 = self.translate(bus, lin2, Access::Exec)?;
        self.fetch(bus, p1, &mut buf[in_page..15]);
        let mut dec = Decoder::with_ip(self.bitness, &buf[..15], ip, opts);
        let ins = dec.decode();
        if dec.last_error() == DecoderError::NoMoreBytes {
            // More than 15 bytes: #GP(0) (SDM Vol. 2, 2.3.11).
            return Err(Fault::GP0);
        }
        Ok((ins, p0, Some(p1 & !0xFFF)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty_trace(phys: u64) -> Trace<()> {
        Trace {
            phys,
            bitness: 16,
            bytes: 0,
            ops: Vec::new().into_boxed_slice(),
        }
    }

    #[test]
    fn a_trace_across_two_pages_is_unlisted_from_both() {
        let mut c = TraceCache::<()>::default();
        // A trace at 1FF0 whose last instruction straddles into page 2000,
        // dropped through its second page, again and again (self-modifying
        // code writing into the second page).
        for _ in 0..1000 {
            c.insert(empty_trace(0x1FF0), &[0x1000, 0x2000]);
            c.invalidate_page(0x2000);
        }
        assert_eq!(c.listed(), (0, 0), "no stale ids left under page 1000");
        assert!(c.is_empty());
    }

    #[test]
    fn unlisting_keeps_the_other_traces_of_a_page() {
        let mut c = TraceCache::<()>::default();
        let a = c.insert(empty_trace(0x1000), &[0x1000]);
        c.insert(empty_trace(0x1FF0), &[0x1000, 0x2000]);
        c.invalidate_page(0x2000);
        assert_eq!(c.listed(), (1, 1));
        assert_eq!(c.get(0x1000, 16), Some(a));
        assert_eq!(c.get(0x1FF0, 16), None);
    }
}
