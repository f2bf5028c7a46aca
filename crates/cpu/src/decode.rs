//! Decoding: iced-x86 instructions turned into pre-resolved records.
//!
//! Each instruction becomes an [`Op`]: the handler chosen once at decode
//! time plus its operands already resolved to register numbers, an
//! effective-address recipe and immediates, so the execute loop never
//! looks at iced's operand kinds. Records are grouped into traces of at
//! most [`MAX_TRACE`] (`Cpu::build_trace`) and cached in
//! [`crate::trace`].

use crate::bus::CpuBus;
use crate::fault::{Fault, Res};
use crate::mmu::Access;
use crate::state::CpuState;
use iced_x86::{
    Code, Decoder, DecoderError, DecoderOptions, FlowControl, Instruction, OpKind, Register,
};

/// Decode as this CPU generation does: without BMI1/ABM, `F3 0F BC/BD`
/// are BSF/BSR (Linux's `rep; bsf` relies on it), and `F3 0F 09` is
/// WBINVD.
const DECODER_OPTIONS: u32 =
    DecoderOptions::NO_MPFX_0FBC | DecoderOptions::NO_MPFX_0FBD | DecoderOptions::NO_WBNOINVD;

/// Longest trace, in instructions.
pub const MAX_TRACE: usize = 64;
/// Most direct JMPs and CALLs a trace goes through to their targets
/// (`Cpu::build_trace`).
pub const MAX_JUMPS: usize = 4;
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
    /// Offset of the byte after this record from the trace's first byte
    /// (its first byte is at `end - len`), two's complement: a trace that
    /// goes through a direct JMP or CALL goes on at its target, which may
    /// lie before the trace's start (always in the same page). The run
    /// loop needs the end at every record it starts (`next_rip`), the
    /// start more rarely.
    pub end: u16,
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
    /// Base register of the memory operand, `NOREG` or `RIPREL`.
    pub base: u8,
    /// Index register, or `NOREG`.
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
    /// access (a branch that lands later in its trace, `exec::land`,
    /// counts the records it skipped).
    pub mref: u8,
    /// The iced `Code`, for statistics, #UD reports and the debugger.
    pub code: Code,
    /// Displacement (sign-extended).
    pub disp: u64,
    /// First immediate, the relative branch displacement, or a direct far
    /// JMP/CALL's offset.
    pub imm: u64,
    /// Second immediate: ENTER's nesting level, or a direct far
    /// JMP/CALL's selector. For a Jcc, alone or fused, in a trace: 1 +
    /// the position of the record its taken branch lands on, later in the
    /// same trace (`exec::land`); 0 when the branch leaves the trace.
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
// `ic` twice its records (each may be a fused pair), `end` its bytes
// (15 at most an instruction) past a start that may lie up to a page
// before the trace's; `mref` saturates (a statistic).
const _: () = assert!(MAX_TRACE <= u8::MAX as usize + 1);
const _: () = assert!(2 * MAX_TRACE <= u8::MAX as usize);
const _: () = assert!(0x1000 + 15 * MAX_TRACE <= i16::MAX as usize);
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
        let start = self.end.wrapping_sub(u16::from(self.len)) as i16;
        rip0.wrapping_add(i64::from(start) as u64) & mask
    }

    /// Address of the byte after this record, in a trace that starts at
    /// `rip0`.
    #[inline(always)]
    pub fn end_at(&self, rip0: u64, mask: u64) -> u64 {
        rip0.wrapping_add(i64::from(self.end as i16) as u64) & mask
    }

    /// Instructions retired before this record, in a trace entered at
    /// count `ic0`.
    #[inline(always)]
    pub fn count_before(&self, ic0: u64) -> u64 {
        ic0.wrapping_add(u64::from(self.ic - self.n))
    }
}

impl<B> core::fmt::Debug for Op<B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Op({:?}, len {})", self.code, self.len)
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
        end: 0,
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
