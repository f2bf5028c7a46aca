//! `anyx86 lockstep --random`: random valid instruction streams in real,
//! 16-bit and 32-bit protected, compatibility and 64-bit mode.
//!
//! A 64 KiB ROM built here sets up the mode (GDT, IDT, 4-level paging
//! identity-mapping the first 2 MiB for IA-32e) and parks the CPU in a
//! `jmp $` at [`WAIT`]. Then batch after batch, the driver writes into
//! both machines' RAM a random register block, an 8 KiB random scratch
//! area at [`SCRATCH`] and the code: a prologue loading the registers,
//! EFLAGS, MXCSR and the XMM registers from the block, then one random
//! instruction per 16-byte slot (padded with a short JMP), and a final
//! `jmp $`; it points both instruction pointers at the code and steps both
//! to the end, comparing after every instruction, and compares the scratch
//! area at the end.
//!
//! The instructions are random bytes decoded by iced-x86, kept when they
//! are valid in the mode, reported by the CPU model (`qemu64` on both
//! sides: SSE to SSE4.2, POPCNT, CMPXCHG16B), not control flow, not
//! privileged or I/O or time-dependent, not x87, and touch neither the
//! stack pointer, a segment register, a control register nor the scratch
//! base (RBX); a memory operand is rewritten to `[rBX + disp]` inside the
//! scratch area (any other implicit memory access is refused). An
//! exception goes to a handler that resumes at the next slot.
//!
//! A divergence is kept in `--repro DIR` as a reproducer: the one
//! instruction, the registers before it and the scratch memory.

use super::pair::{End, Pair};
use super::{start_pair, temp_path, LockstepArgs, Mode, Setup};
use anyx86_cpu::fuzzing::Rng;
use anyx86_machine::MachineKind;
use iced_x86::{
    Code, CpuidFeature, Decoder, DecoderOptions, Encoder, FlowControl, Instruction,
    InstructionInfoFactory, Mnemonic, OpAccess, OpKind, Register,
};
use std::time::Instant;

/// Scratch memory the random instructions address through RBX.
const SCRATCH: u64 = 0x8000;
/// Its size: displacements stay below 0x1000, so even FXSAVE's 512 bytes
/// fit.
const SCRATCH_LEN: usize = 0x2000;
/// The register block the prologue loads.
const BLOCK: u64 = 0x6000;
/// Initial stack pointer (exception frames).
const STACK: u64 = 0x7FF0;
/// GDTR and IDTR pseudo-descriptors, the GDT and the IDT.
const GDTR: u64 = 0x4000;
const IDTR: u64 = 0x4010;
const GDT: u64 = 0x4100;
const IDT: u64 = 0x4800;
/// PML4, PDPT and page directory.
const PML4: u64 = 0x1000;
/// Where the code of a batch starts (linear); real mode and 16-bit
/// protected mode run it with a CS base of 0x10000.
const CODE: u64 = 0x10000;
/// Exception handlers without and with an error code.
const HANDLER: u64 = 0x1F000;
const HANDLER_ERR: u64 = 0x1F100;
/// The ROM leaves the CPU here.
const WAIT: u64 = 0x1F800;
/// Bytes per instruction slot.
const SLOT: usize = 16;
/// Most slots per batch (the code ends below the handlers).
const MAX_BATCH: usize = 0xE000 / SLOT;
/// Exceptions that push an error code.
const ERROR_CODE_VECTORS: [u8; 8] = [8, 10, 11, 12, 13, 14, 17, 21];

/// GDT selectors.
const SEL_CODE32: u16 = 0x08;
const SEL_DATA32: u16 = 0x10;
const SEL_CODE16: u16 = 0x18;
const SEL_DATA16: u16 = 0x20;
const SEL_CODE64: u16 = 0x28;

impl Mode {
    /// Code size of the random stream.
    fn bitness(self) -> u32 {
        match self {
            Mode::Real | Mode::Pm16 => 16,
            Mode::Pm32 | Mode::Compat => 32,
            Mode::Long => 64,
        }
    }
    /// Instruction-pointer value of linear address `lin` in the code
    /// segment.
    fn ip(self, lin: u64) -> u64 {
        match self {
            Mode::Real | Mode::Pm16 => lin - CODE,
            _ => lin,
        }
    }
    /// Handlers run in 64-bit code in IA-32e mode.
    fn handler_bits(self) -> u32 {
        match self {
            Mode::Compat | Mode::Long => 64,
            m => m.bitness(),
        }
    }
}

/// Runs `--random`.
pub fn run(a: &LockstepArgs) -> Result<u8, String> {
    let rom_path = temp_path(&format!("{:?}", a.mode));
    std::fs::write(&rom_path, build_rom(a.mode)).map_err(|e| format!("cannot write ROM: {e}"))?;
    let setup = Setup {
        cpu: "qemu64".into(),
        kind: MachineKind::Pc,
        testdev: false,
    };
    let pair = start_pair(a, &rom_path, &setup);
    let _ = std::fs::remove_file(&rom_path);
    let mut p = pair?;
    write_both(&mut p, 0, &low_memory(a.mode))?;
    write_both(&mut p, HANDLER, &handlers(a.mode))?;
    let start = Instant::now();
    // The ROM's own instructions are compared too.
    let wait_ip = a.mode.ip(WAIT);
    while p.m.cpu.s.rip != wait_ip {
        if let Some(end) = p.step(&halt_stop)? {
            return Ok(report_end(a, &p, end, None));
        }
        if p.compared > 1000 {
            return Err("the mode setup did not reach its end".into());
        }
    }
    let mut rng = Rng::seeded(a.seed);
    let mut gen = Generator::new(a.mode, p.sync_insns.clone());
    gen.align_m128 = p.gen_options.iter().any(|o| o == "align-m128");
    gen.no_test_alias = p.gen_options.iter().any(|o| o == "no-test-alias");
    gen.masked_mxcsr = p.gen_options.iter().any(|o| o == "masked-mxcsr");
    let (mut done, mut batch_no) = (0u64, 0u64);
    while done < a.count {
        let n = (a.count - done).min(MAX_BATCH as u64) as usize;
        let batch = gen.batch(&mut rng, n);
        if let Some(end) = run_batch(&mut p, a.mode, &batch)? {
            return Ok(report_end(a, &p, end, Some((&batch, batch_no))));
        }
        done += n as u64;
        batch_no += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{done} random instructions ({:?} mode, seed {}), {} instructions compared, 0 divergences in {secs:.1} s ({:.0}/s)",
        a.mode,
        a.seed,
        p.compared,
        p.compared as f64 / secs.max(1e-9)
    );
    Ok(0)
}

/// Prints how a run ended and keeps a reproducer; returns the exit status.
fn report_end(a: &LockstepArgs, p: &Pair, end: End, batch: Option<(&Batch, u64)>) -> u8 {
    let text = match end {
        End::Diverged(r) => r,
        other => format!("the random stream ended unexpectedly: {other:?}\n"),
    };
    println!("{text}");
    if let Some((b, no)) = batch {
        match keep_repro(a, p, b, no, &text) {
            Ok(path) => println!("reproducer: {path}"),
            Err(e) => eprintln!("anyx86: cannot keep the reproducer: {e}"),
        }
    }
    1
}

/// Writes the reproducer: mode, seed, batch, the divergent instruction,
/// the registers before it (QEMU's, equal to ours then), the scratch
/// memory, and the report.
fn keep_repro(
    a: &LockstepArgs,
    p: &Pair,
    b: &Batch,
    no: u64,
    report: &str,
) -> Result<String, String> {
    std::fs::create_dir_all(&a.repro).map_err(|e| e.to_string())?;
    let path = a
        .repro
        .join(format!("{:?}-seed{}-batch{no}.txt", a.mode, a.seed).to_lowercase());
    let slot =
        p.m.cpu
            .s
            .rip
            .checked_sub(a.mode.ip(b.slots_at))
            .map(|off| (off / SLOT as u64) as usize);
    let mut t = format!(
        "anyx86 lockstep --random --mode {:?} --seed {} (batch {no})\n",
        a.mode, a.seed
    )
    .to_lowercase();
    if let Some(ins) = slot.and_then(|i| b.text.get(i.saturating_sub(1)..=i)) {
        t += &format!("instructions around the divergence: {ins:?}\n");
    }
    t += &format!(
        "\n{report}\nregisters before: {}\n",
        super::gdbclient::to_hex(&p.before)
    );
    let mut mem = vec![0u8; SCRATCH_LEN];
    for (i, m) in mem.iter_mut().enumerate() {
        *m = p.m.board.mem.read_u8(SCRATCH + i as u64);
    }
    t += &format!(
        "scratch at {SCRATCH:#x}: {}\n",
        super::gdbclient::to_hex(&mem)
    );
    std::fs::write(&path, t).map_err(|e| e.to_string())?;
    Ok(path.display().to_string())
}

/// Writes `data` at physical `addr` in both machines.
fn write_both(p: &mut Pair, addr: u64, data: &[u8]) -> Result<(), String> {
    for (i, b) in data.iter().enumerate() {
        p.m.board.mem.write_u8(addr + i as u64, *b);
    }
    p.m.cpu.flush_code_cache();
    p.q.gdb.write_memory(addr, data).map_err(|e| e.to_string())
}

/// A HLT would never end while QEMU's stub holds interrupts off.
fn halt_stop(line: &anyx86_debugger::disasm::Line, _: &Pair) -> Option<String> {
    (line.ins.mnemonic() == Mnemonic::Hlt).then(|| format!("HLT at {:#x}", line.lin))
}

/// Runs one batch: writes it, points both CPUs at it, steps to its end.
fn run_batch(p: &mut Pair, mode: Mode, b: &Batch) -> Result<Option<End>, String> {
    write_both(p, BLOCK, &b.block)?;
    write_both(p, SCRATCH, &b.scratch)?;
    write_both(p, CODE, &b.code)?;
    let ip = mode.ip(CODE);
    p.m.cpu.s.rip = ip;
    let n = p.cmp.index("rip").ok_or("QEMU reports no rip")?;
    p.q.gdb
        .write_register(n, &ip.to_le_bytes())
        .map_err(|e| e.to_string())?;
    let end_ip = mode.ip(b.end);
    let mut info = InstructionInfoFactory::new();
    let limit = p.compared + 8 * b.code.len() as u64;
    while p.m.cpu.s.rip != end_ip {
        if p.compared > limit {
            return Ok(Some(End::Diverged(
                "the batch did not reach its end\n".into(),
            )));
        }
        if let Some(end) = p.step(&halt_stop)? {
            return Ok(Some(end));
        }
        if let Some((at, len)) = stored(&p.last_ins, &mut info) {
            if let Some(d) = compare_stored(p, at, len)? {
                return Ok(Some(End::Diverged(format!(
                    "{d} after {}\n{}",
                    anyx86_debugger::disasm::format(&p.last_ins, Default::default()),
                    p.report(&[], None)
                ))));
            }
        }
    }
    Ok(None)
}

/// The scratch bytes an instruction stores to: its memory operand is
/// `[rBX + disp]` with rBX = [`SCRATCH`] and a zero segment base.
fn stored(ins: &Instruction, info: &mut InstructionInfoFactory) -> Option<(u64, usize)> {
    let writes = info.info(ins).used_memory().iter().any(|m| {
        !matches!(
            m.access(),
            OpAccess::Read | OpAccess::CondRead | OpAccess::NoMemAccess
        )
    });
    let size = ins.memory_size().size().clamp(1, 512);
    (writes && has_memory(ins)).then(|| (SCRATCH + (ins.memory_displacement64() & 0xFFFF), size))
}

/// Compares what the last instruction stored. In an FXSAVE image the
/// fields the register comparison leaves out are not compared either:
/// FOP, FIP/FCS and FDP/FDS (bytes 6-23: QEMU keeps no x87
/// last-instruction state), MXCSR.DE (byte 24 bit 1) and the sign and
/// exponent of each ST register (bytes 8-15 of each 16-byte slot from 32
/// to 159, the `low stN 8` exclusions, and the reserved bytes 10-15 of
/// each slot); STMXCSR's DE likewise. Ours take QEMU's values of those
/// bits.
fn compare_stored(p: &mut Pair, at: u64, len: usize) -> Result<Option<String>, String> {
    let fxsave = matches!(p.last_ins.mnemonic(), Mnemonic::Fxsave | Mnemonic::Fxsave64);
    let stmxcsr = p.last_ins.mnemonic() == Mnemonic::Stmxcsr;
    if !fxsave && !stmxcsr {
        return compare_memory(p, at, len);
    }
    let theirs = p.q.gdb.read_memory(at, len).map_err(|e| e.to_string())?;
    for (i, t) in theirs.iter().enumerate() {
        let mask = match i {
            0 if stmxcsr => !2,
            _ if stmxcsr => 0xFF,
            6..=23 => 0,
            24 => !2,
            32..=159 if (i - 32) % 16 >= 8 => 0,
            _ => 0xFF,
        };
        let o = p.m.board.mem.read_u8(at + i as u64);
        // The excused bits take QEMU's values, so later loads agree.
        p.m.board
            .mem
            .write_u8(at + i as u64, (o & mask) | (t & !mask));
        if (o ^ t) & mask != 0 {
            return Ok(Some(format!(
                "FXSAVE image differs at {:#x} (byte {i}): QEMU {t:02x}, anyx86 {o:02x}",
                at + i as u64
            )));
        }
    }
    Ok(None)
}

/// Compares `len` bytes at `at` in both machines; describes the first
/// difference.
fn compare_memory(p: &mut Pair, at: u64, len: usize) -> Result<Option<String>, String> {
    let theirs = p.q.gdb.read_memory(at, len).map_err(|e| e.to_string())?;
    for (i, t) in theirs.iter().enumerate() {
        let o = p.m.board.mem.read_u8(at + i as u64);
        if o != *t {
            return Ok(Some(format!(
                "memory differs at {:#x}: QEMU {t:02x}, anyx86 {o:02x}",
                at + i as u64
            )));
        }
    }
    Ok(None)
}

// ---- the ROM and the low-memory tables ---------------------------------

/// The 64 KiB ROM: at the reset vector a far JMP to offset 0, where
/// 16-bit code enters the mode and jumps to [`WAIT`].
fn build_rom(mode: Mode) -> Vec<u8> {
    let mut c: Vec<u8> = Vec::new();
    c.push(0xFA); // cli
    c.extend([0x31, 0xC0, 0x8E, 0xD8, 0x8E, 0xC0, 0x8E, 0xD0]); // ds=es=ss=0
    c.extend([0x66, 0xBC]); // mov esp, STACK
    c.extend((STACK as u32).to_le_bytes());
    // CR4.OSFXSR | OSXMMEXCPT (| PAE for IA-32e).
    let cr4: u32 = 0x600
        | if matches!(mode, Mode::Compat | Mode::Long) {
            0x20
        } else {
            0
        };
    c.extend([0x0F, 0x20, 0xE0, 0x66, 0x0D]); // mov eax, cr4; or eax, imm32
    c.extend(cr4.to_le_bytes());
    c.extend([0x0F, 0x22, 0xE0]); // mov cr4, eax
    if mode != Mode::Real {
        c.extend([0x66, 0x0F, 0x01, 0x16]); // lgdt [GDTR]
        c.extend((GDTR as u16).to_le_bytes());
        c.extend([0x66, 0x0F, 0x01, 0x1E]); // lidt [IDTR]
        c.extend((IDTR as u16).to_le_bytes());
    }
    let mut cr0: u32 = 1; // PE
    if matches!(mode, Mode::Compat | Mode::Long) {
        c.push(0x66);
        c.push(0xB8); // mov eax, PML4
        c.extend((PML4 as u32).to_le_bytes());
        c.extend([0x0F, 0x22, 0xD8]); // mov cr3, eax
        c.extend([0x66, 0xB9]); // mov ecx, IA32_EFER
        c.extend(0xC000_0080u32.to_le_bytes());
        c.extend([0x0F, 0x32, 0x66, 0x0D]); // rdmsr; or eax, LME
        c.extend(0x100u32.to_le_bytes());
        c.extend([0x0F, 0x30]); // wrmsr
        cr0 |= 0x8000_0000; // PG
    }
    if mode != Mode::Real {
        c.extend([0x0F, 0x20, 0xC0, 0x66, 0x0D]); // mov eax, cr0; or eax, imm32
        c.extend(cr0.to_le_bytes());
        c.extend([0x0F, 0x22, 0xC0]); // mov cr0, eax
        let data = if mode == Mode::Pm16 {
            SEL_DATA16
        } else {
            SEL_DATA32
        };
        c.push(0xB8); // mov ax, data selector
        c.extend(data.to_le_bytes());
        c.extend([0x8E, 0xD8, 0x8E, 0xC0, 0x8E, 0xD0, 0x8E, 0xE0, 0x8E, 0xE8]);
    }
    match mode {
        Mode::Real | Mode::Pm16 => {
            let cs = if mode == Mode::Real {
                (CODE >> 4) as u16
            } else {
                SEL_CODE16
            };
            c.push(0xEA); // jmp far cs:WAIT-CODE
            c.extend(((WAIT - CODE) as u16).to_le_bytes());
            c.extend(cs.to_le_bytes());
        }
        _ => {
            let cs = if mode == Mode::Long {
                SEL_CODE64
            } else {
                SEL_CODE32
            };
            c.extend([0x66, 0xEA]); // jmp far cs:WAIT (32-bit offset)
            c.extend((WAIT as u32).to_le_bytes());
            c.extend(cs.to_le_bytes());
        }
    }
    let mut rom = vec![0xF4u8; 0x10000];
    rom[..c.len()].copy_from_slice(&c);
    // Reset vector FFF0: FNINIT (QEMU's FCW at reset is not the SDM's:
    // the first comparison follows it), then jmp far F000:0000, into the
    // ROM's alias below 1 MiB (the 2 MiB identity map of IA-32e mode
    // covers it, the reset CS base FFFF0000h does not).
    rom[0xFFF0..0xFFF7].copy_from_slice(&[0xDB, 0xE3, 0xEA, 0x00, 0x00, 0x00, 0xF0]);
    rom
}

/// A segment descriptor.
fn desc(base: u32, limit: u32, access: u8, flags: u8) -> [u8; 8] {
    let v = u64::from(limit & 0xFFFF)
        | u64::from(base & 0xFF_FFFF) << 16
        | u64::from(access) << 40
        | u64::from((limit >> 16) & 0xF) << 48
        | u64::from(flags & 0xF) << 52
        | u64::from(base >> 24) << 56;
    v.to_le_bytes()
}

/// Memory below [`BLOCK`]: the real-mode IVT, GDTR/IDTR, GDT, IDT, page
/// tables.
fn low_memory(mode: Mode) -> Vec<u8> {
    let mut m = vec![0u8; BLOCK as usize];
    let put = |m: &mut Vec<u8>, at: u64, b: &[u8]| {
        m[at as usize..at as usize + b.len()].copy_from_slice(b)
    };
    let gdt = [
        [0u8; 8],
        desc(0, 0xFFFFF, 0x9B, 0xC),
        desc(0, 0xFFFFF, 0x93, 0xC),
        desc(CODE as u32, 0xFFFF, 0x9B, 0x0),
        desc(0, 0xFFFF, 0x93, 0x0),
        desc(0, 0xFFFFF, 0x9B, 0xA),
    ];
    put(&mut m, GDT, &gdt.concat());
    let mut gdtr = ((gdt.len() * 8 - 1) as u16).to_le_bytes().to_vec();
    gdtr.extend((GDT as u32).to_le_bytes());
    put(&mut m, GDTR, &gdtr);
    let gate = |v: u8| {
        let h = if ERROR_CODE_VECTORS.contains(&v) {
            HANDLER_ERR
        } else {
            HANDLER
        };
        (h, h - CODE)
    };
    let mut idt = Vec::new();
    for v in 0..32u8 {
        let (lin, off16) = gate(v);
        match mode {
            Mode::Real => put(
                &mut m,
                u64::from(v) * 4,
                &[
                    off16 as u8,
                    (off16 >> 8) as u8,
                    (CODE >> 4) as u8,
                    (CODE >> 12) as u8,
                ],
            ),
            // 286 interrupt gate into the 16-bit code segment.
            Mode::Pm16 => idt.extend(gate_bytes(off16, SEL_CODE16, 0x86, false)),
            Mode::Pm32 => idt.extend(gate_bytes(lin, SEL_CODE32, 0x8E, false)),
            Mode::Compat | Mode::Long => idt.extend(gate_bytes(lin, SEL_CODE64, 0x8E, true)),
        }
    }
    put(&mut m, IDT, &idt);
    let mut idtr = ((idt.len().max(1) - 1) as u16).to_le_bytes().to_vec();
    idtr.extend((IDT as u32).to_le_bytes());
    put(&mut m, IDTR, &idtr);
    // Identity map of the first 2 MiB: PML4[0] -> PDPT, PDPT[0] -> PD,
    // PD[0] a 2 MiB page; present and writable.
    put(&mut m, PML4, &(PML4 + 0x1000 + 3).to_le_bytes());
    put(&mut m, PML4 + 0x1000, &(PML4 + 0x2000 + 3).to_le_bytes());
    put(&mut m, PML4 + 0x2000, &0x83u64.to_le_bytes());
    m
}

/// An interrupt gate (8 bytes, or 16 in IA-32e mode).
fn gate_bytes(off: u64, sel: u16, access: u8, long: bool) -> Vec<u8> {
    let mut g = Vec::new();
    g.extend((off as u16).to_le_bytes());
    g.extend(sel.to_le_bytes());
    g.extend([0, access]);
    g.extend(((off >> 16) as u16).to_le_bytes());
    if long {
        g.extend(((off >> 32) as u32).to_le_bytes());
        g.extend([0u8; 4]);
    }
    g
}

/// The two handlers (at [`HANDLER`] and [`HANDLER_ERR`]) and the `jmp $`
/// at [`WAIT`]: drop the error code, round the saved instruction pointer
/// down to its slot and add one slot, return.
fn handlers(mode: Mode) -> Vec<u8> {
    let body: Vec<u8> = match mode.handler_bits() {
        // push bp; mov bp,sp; and word [bp+2],-16; add word [bp+2],16; pop bp; iret
        16 => vec![
            0x55, 0x89, 0xE5, 0x83, 0x66, 0x02, 0xF0, 0x83, 0x46, 0x02, 0x10, 0x5D, 0xCF,
        ],
        // and dword [esp],-16; add dword [esp],16; iretd
        32 => vec![0x83, 0x24, 0x24, 0xF0, 0x83, 0x04, 0x24, 0x10, 0xCF],
        // and qword [rsp],-16; add qword [rsp],16; iretq
        _ => vec![
            0x48, 0x83, 0x24, 0x24, 0xF0, 0x48, 0x83, 0x04, 0x24, 0x10, 0x48, 0xCF,
        ],
    };
    let drop_err: Vec<u8> = match mode.handler_bits() {
        16 => vec![0x83, 0xC4, 0x02],
        32 => vec![0x83, 0xC4, 0x04],
        _ => vec![0x48, 0x83, 0xC4, 0x08],
    };
    let mut h = vec![0xF4u8; (WAIT - HANDLER) as usize + 2];
    h[..body.len()].copy_from_slice(&body);
    let e = (HANDLER_ERR - HANDLER) as usize;
    h[e..e + drop_err.len()].copy_from_slice(&drop_err);
    h[e + drop_err.len()..e + drop_err.len() + body.len()].copy_from_slice(&body);
    let w = (WAIT - HANDLER) as usize;
    h[w..w + 2].copy_from_slice(&[0xEB, 0xFE]);
    h
}

// ---- the generator -------------------------------------------------------

/// One batch: register block, scratch data, code.
struct Batch {
    block: Vec<u8>,
    scratch: Vec<u8>,
    code: Vec<u8>,
    /// Linear address of the first slot.
    slots_at: u64,
    /// Linear address of the final `jmp $`.
    end: u64,
    /// The instructions, as text.
    text: Vec<String>,
}

/// Makes random instructions for one mode.
struct Generator {
    mode: Mode,
    bits: u32,
    /// Mnemonics with implementation-specific results (exclusions file).
    skip: Vec<String>,
    /// Keep 16-byte memory operands aligned (exclusions file).
    align_m128: bool,
    /// No F6/F7 /1 (TEST's alias encoding).
    no_test_alias: bool,
    /// All SIMD floating-point exceptions masked in MXCSR.
    masked_mxcsr: bool,
}

/// Layout of the register block: 16 GPRs, EFLAGS, MXCSR, then 16 XMMs.
const BLOCK_FLAGS: usize = 16 * 8;
const BLOCK_MXCSR: usize = BLOCK_FLAGS + 4;
const BLOCK_XMM: usize = 0x100;

impl Generator {
    fn new(mode: Mode, skip: Vec<String>) -> Self {
        Self {
            mode,
            bits: mode.bitness(),
            skip,
            align_m128: false,
            no_test_alias: false,
            masked_mxcsr: false,
        }
    }

    fn batch(&self, rng: &mut Rng, n: usize) -> Batch {
        let mut block = rng.bytes(BLOCK_XMM + 16 * 16);
        // RBX: the scratch base.
        block[3 * 8..4 * 8].copy_from_slice(&SCRATCH.to_le_bytes());
        // EFLAGS: random arithmetic flags and DF; bit 1 is always set.
        let flags = (rng.next_u64() as u32 & 0xCD5) | 2;
        block[BLOCK_FLAGS..BLOCK_FLAGS + 4].copy_from_slice(&flags.to_le_bytes());
        // MXCSR: random masks, rounding, FZ and DAZ; no flags. DM stays
        // set: QEMU does not raise the denormal exception (exclusions).
        let masks = if self.masked_mxcsr { 0x1F80 } else { 0x100 };
        let mxcsr = (rng.next_u64() as u32 & 0xFFC0) | masks;
        block[BLOCK_MXCSR..BLOCK_MXCSR + 4].copy_from_slice(&mxcsr.to_le_bytes());
        let scratch = rng.bytes(SCRATCH_LEN);
        let mut code = self.prologue();
        while code.len() % SLOT != 0 {
            code.push(0x90);
        }
        let slots_at = CODE + code.len() as u64;
        let mut text = Vec::with_capacity(n);
        for _ in 0..n {
            let ip = self.mode.ip(CODE + code.len() as u64);
            let (bytes, t) = self.instruction(rng, ip);
            code.extend(pad_slot(&bytes));
            text.push(t);
        }
        let end = CODE + code.len() as u64;
        code.extend([0xEB, 0xFE]);
        Batch {
            block,
            scratch,
            code,
            slots_at,
            end,
            text,
        }
    }

    /// Loads every general register but rSP, EFLAGS, MXCSR and the XMM
    /// registers from the block.
    fn prologue(&self) -> Vec<u8> {
        let mut c = Vec::new();
        let nregs = if self.bits == 64 { 16 } else { 8 };
        for r in (0..nregs).filter(|&r| r != 4) {
            c.extend(self.load(&[0x8B], r, BLOCK + r as u64 * 8, true));
        }
        for x in 0..nregs {
            c.extend(self.load(
                &[0x0F, 0x10],
                x,
                BLOCK + BLOCK_XMM as u64 + x as u64 * 16,
                false,
            ));
        }
        c.extend(self.load(&[0x0F, 0xAE], 2, BLOCK + BLOCK_MXCSR as u64, false)); // ldmxcsr
        let flags_at = BLOCK + BLOCK_FLAGS as u64;
        // push dword [flags]; popf(d/q): FF /6, 9D.
        match self.bits {
            16 => c.extend([0x66, 0xFF, 0x36]),
            32 => c.extend([0xFF, 0x35]),
            _ => c.extend([0xFF, 0x34, 0x25]),
        }
        c.extend(self.abs(flags_at));
        if self.bits == 16 {
            c.push(0x66);
        }
        c.push(0x9D);
        c
    }

    /// `op reg, [abs]` with a 32-bit (`wide`) or natural operand.
    fn load(&self, op: &[u8], reg: u8, at: u64, wide: bool) -> Vec<u8> {
        let mut c = Vec::new();
        if self.bits == 16 && wide {
            c.push(0x66);
        }
        if self.bits == 64 {
            let rex = 0x40 | if wide { 8 } else { 0 } | if reg >= 8 { 4 } else { 0 };
            if rex != 0x40 {
                c.push(rex);
            }
        }
        c.extend(op);
        match self.bits {
            16 => c.push((reg & 7) << 3 | 6),
            32 => c.push((reg & 7) << 3 | 5),
            _ => c.extend([(reg & 7) << 3 | 4, 0x25]),
        }
        c.extend(self.abs(at));
        c
    }

    /// An absolute displacement of the mode's address size.
    fn abs(&self, at: u64) -> Vec<u8> {
        if self.bits == 16 {
            (at as u16).to_le_bytes().to_vec()
        } else {
            (at as u32).to_le_bytes().to_vec()
        }
    }

    /// One random instruction that passes the filters, encoded at `ip`.
    fn instruction(&self, rng: &mut Rng, ip: u64) -> (Vec<u8>, String) {
        let mut info = InstructionInfoFactory::new();
        loop {
            let (raw, a67) = self.raw(rng);
            let mut ins = Decoder::with_ip(self.bits, &raw, ip, DecoderOptions::NONE).decode();
            if !self.acceptable(&ins) {
                continue;
            }
            if has_memory(&ins) && !self.rebase(&mut ins, a67, rng) {
                continue;
            }
            let mut enc = Encoder::new(self.bits);
            let Ok(len) = enc.encode(&ins, ip) else {
                continue;
            };
            let bytes = enc.take_buffer();
            if len >= SLOT {
                continue;
            }
            let again = Decoder::with_ip(self.bits, &bytes, ip, DecoderOptions::NONE).decode();
            if again.code() != ins.code() || !self.safe_access(&again, &mut info) {
                continue;
            }
            if self.no_test_alias && is_test_alias(&bytes) {
                continue;
            }
            return (
                bytes,
                anyx86_debugger::disasm::format(&again, Default::default()),
            );
        }
    }

    /// Random bytes shaped like an instruction: prefixes, an escape, an
    /// opcode and operand bytes. Returns whether a 67h prefix is present.
    fn raw(&self, rng: &mut Rng) -> (Vec<u8>, bool) {
        let mut b = Vec::new();
        let mut a67 = false;
        for _ in 0..rng.below(3) {
            let p = [0x66, 0x67, 0xF2, 0xF3, 0xF0][rng.below(5) as usize];
            a67 |= p == 0x67;
            b.push(p);
        }
        if self.bits == 64 && rng.below(2) == 0 {
            b.push(0x40 | rng.below(16) as u8);
        }
        match rng.below(8) {
            0..=2 => {}
            3..=5 => b.push(0x0F),
            6 => b.extend([0x0F, 0x38]),
            _ => b.extend([0x0F, 0x3A]),
        }
        b.extend(rng.bytes(12));
        (b, a67)
    }

    /// The instruction may run: valid, reported by the CPU model, not
    /// control flow, privileged, I/O, time-dependent or x87.
    fn acceptable(&self, ins: &Instruction) -> bool {
        if ins.is_invalid() || ins.flow_control() != FlowControl::Next || ins.is_privileged() {
            return false;
        }
        if ins.is_stack_instruction() || ins.is_string_instruction() {
            return false;
        }
        if EXCLUDED.contains(&ins.mnemonic()) || ins.code() == Code::INVALID {
            return false;
        }
        if super::pair::excused_insn(&self.skip, ins) {
            return false;
        }
        // Bit strings with a register offset reach far outside the
        // scratch area.
        let bit_string = matches!(
            ins.mnemonic(),
            Mnemonic::Bt | Mnemonic::Bts | Mnemonic::Btr | Mnemonic::Btc
        );
        if bit_string && ins.op0_kind() == OpKind::Memory && ins.op1_kind() == OpKind::Register {
            return false;
        }
        ins.cpuid_features().iter().all(|f| SUPPORTED.contains(f))
    }

    /// Points the memory operand at the scratch area: `[rBX + disp]` of
    /// the instruction's address size, no segment override.
    fn rebase(&self, ins: &mut Instruction, a67: bool, rng: &mut Rng) -> bool {
        let asize = match (self.bits, a67) {
            (16, false) | (32, true) => 16,
            (64, false) => 64,
            _ => 32,
        };
        let (base, dsize) = match asize {
            16 => (Register::BX, 2),
            32 => (Register::EBX, 4),
            _ => (Register::RBX, 4),
        };
        ins.set_memory_base(base);
        ins.set_memory_index(Register::None);
        ins.set_memory_index_scale(1);
        ins.set_segment_prefix(Register::None);
        // Mostly aligned, sometimes not (alignment checks of SSE).
        let mut disp = rng.below(0x1000);
        if rng.below(4) != 0 || (self.align_m128 && ins.memory_size().size() >= 16) {
            disp &= !0xF;
        }
        ins.set_memory_displacement64(disp);
        ins.set_memory_displ_size(dsize);
        true
    }

    /// Touches no memory but the scratch area through rBX, and writes no
    /// rBX, rSP, segment or control register.
    fn safe_access(&self, ins: &Instruction, info: &mut InstructionInfoFactory) -> bool {
        let i = info.info(ins);
        let mem_ok = i.used_memory().iter().all(|m| {
            matches!(m.base(), Register::BX | Register::EBX | Register::RBX)
                && m.index() == Register::None
                && m.segment() != Register::FS
                && m.segment() != Register::GS
        });
        let regs_ok = i.used_registers().iter().all(|u| {
            let r = u.register();
            let full = r.full_register();
            let writes = !matches!(u.access(), OpAccess::Read | OpAccess::CondRead);
            !(full == Register::RSP
                || r.is_segment_register() && writes
                || r.is_cr()
                || r.is_dr()
                || r.is_tr()
                || (full == Register::RBX && writes))
        });
        mem_ok && regs_ok
    }
}

/// F6 /1 or F7 /1: the undocumented alias of TEST r/m, imm.
fn is_test_alias(bytes: &[u8]) -> bool {
    let legacy = [
        0x66, 0x67, 0xF2, 0xF3, 0xF0, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65,
    ];
    let mut i = bytes
        .iter()
        .skip_while(|b| legacy.contains(b) || (0x40..=0x4F).contains(*b));
    matches!((i.next(), i.next()), (Some(0xF6 | 0xF7), Some(m)) if (m >> 3) & 7 == 1)
}

/// True when the instruction has an explicit memory operand.
fn has_memory(ins: &Instruction) -> bool {
    (0..ins.op_count()).any(|i| ins.op_kind(i) == OpKind::Memory)
}

/// An instruction padded to a slot with a short JMP over the rest (or one
/// NOP).
fn pad_slot(bytes: &[u8]) -> Vec<u8> {
    let mut s = bytes.to_vec();
    match SLOT - bytes.len() {
        0 => {}
        1 => s.push(0x90),
        n => {
            s.extend([0xEB, (n - 2) as u8]);
            s.resize(SLOT, 0xCC);
        }
    }
    s
}

/// Instructions never generated, each for a reason: time and randomness
/// (RDTSC, RDRAND), CPUID (the model's identity is compared by the ROMs),
/// interrupt flag changes, system-table and TLB instructions.
const EXCLUDED: &[Mnemonic] = &[
    Mnemonic::Rdtsc,
    Mnemonic::Rdtscp,
    Mnemonic::Rdpmc,
    Mnemonic::Rdrand,
    Mnemonic::Rdseed,
    Mnemonic::Cpuid,
    Mnemonic::Cli,
    Mnemonic::Sti,
    Mnemonic::Hlt,
    Mnemonic::Invlpg,
    Mnemonic::Wbinvd,
    Mnemonic::Invd,
    Mnemonic::Lgdt,
    Mnemonic::Lidt,
    Mnemonic::Lldt,
    Mnemonic::Ltr,
    Mnemonic::Lmsw,
    Mnemonic::Swapgs,
    Mnemonic::Xlatb,
    Mnemonic::Maskmovq,
    Mnemonic::Maskmovdqu,
];

/// CPUID features of `qemu64` as both sides run it (x87 left out: its
/// transcendental results and pointer registers are not compared).
const SUPPORTED: &[CpuidFeature] = &[
    CpuidFeature::INTEL8086,
    CpuidFeature::INTEL186,
    CpuidFeature::INTEL286,
    CpuidFeature::INTEL386,
    CpuidFeature::INTEL486,
    CpuidFeature::X64,
    CpuidFeature::CMOV,
    CpuidFeature::CX8,
    CpuidFeature::MMX,
    CpuidFeature::FXSR,
    CpuidFeature::SSE,
    CpuidFeature::SSE2,
    CpuidFeature::SSE3,
    CpuidFeature::SSSE3,
    CpuidFeature::SSE4_1,
    CpuidFeature::SSE4_2,
    CpuidFeature::POPCNT,
    CpuidFeature::CMPXCHG16B,
    CpuidFeature::PAUSE,
    CpuidFeature::MULTIBYTENOP,
];
