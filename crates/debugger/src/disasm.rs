//! Disassembly with iced-x86's Intel and AT&T (GAS) formatters, reading
//! code without side effects.

use crate::view;
use anyx86_cpu::{CpuBus, CpuState};
use iced_x86::{Decoder, DecoderOptions, FlowControl, Formatter, GasFormatter, Instruction};
use iced_x86::{IntelFormatter, Mnemonic};

/// Assembly syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Syntax {
    /// Intel (the default).
    #[default]
    Intel,
    /// AT&T, as GAS writes it.
    Att,
}

/// One disassembled instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Linear address.
    pub lin: u64,
    /// Offset within CS (the instruction pointer).
    pub ip: u64,
    /// The instruction bytes.
    pub bytes: Vec<u8>,
    /// The text.
    pub text: String,
    /// The decoded instruction.
    pub ins: Instruction,
}

/// Formats an instruction.
pub fn format(ins: &Instruction, syntax: Syntax) -> String {
    let mut out = String::new();
    match syntax {
        Syntax::Intel => {
            let mut f = IntelFormatter::new();
            f.options_mut().set_first_operand_char_index(8);
            f.format(ins, &mut out);
        }
        Syntax::Att => {
            let mut f = GasFormatter::new();
            f.options_mut().set_first_operand_char_index(8);
            f.format(ins, &mut out);
        }
    }
    out
}

/// Decodes one instruction at offset `ip` of CS (linear `lin`) with the
/// CPU's current bitness; `None` when the code is not mapped.
pub fn decode_at<B: CpuBus>(s: &CpuState, bus: &B, lin: u64, ip: u64) -> Option<Line> {
    let mut buf = [0u8; 15];
    let n = view::read_linear(s, bus, lin, &mut buf);
    if n == 0 {
        return None;
    }
    let mut d = Decoder::with_ip(s.bitness, &buf[..n], ip, DecoderOptions::NONE);
    let ins = d.decode();
    let len = ins.len().max(1);
    Some(Line {
        lin,
        ip,
        bytes: buf[..len.min(n)].to_vec(),
        text: if ins.is_invalid() {
            "(bad)".to_string()
        } else {
            format(&ins, Syntax::Intel)
        },
        ins,
    })
}

/// Disassembles `count` instructions from CS:`ip`.
pub fn disasm<B: CpuBus>(
    s: &CpuState,
    bus: &B,
    ip: u64,
    count: usize,
    syntax: Syntax,
) -> Vec<Line> {
    let cs_base = s.seg[anyx86_cpu::arch::sreg::CS].base;
    let mut out = Vec::new();
    let mut ip = ip;
    for _ in 0..count {
        let lin = s.wrap_lin(cs_base.wrapping_add(ip));
        let Some(mut l) = decode_at(s, bus, lin, ip) else {
            break;
        };
        if syntax == Syntax::Att && !l.ins.is_invalid() {
            l.text = format(&l.ins, syntax);
        }
        ip = ip.wrapping_add(l.bytes.len() as u64) & s.ip_mask();
        out.push(l);
    }
    out
}

/// Disassembly around the current instruction: up to `before` lines
/// ahead of it (found by decoding forward from a little earlier and
/// keeping the run that lands on CS:IP) and `after` lines from it.
pub fn around<B: CpuBus>(
    s: &CpuState,
    bus: &B,
    before: usize,
    after: usize,
    syntax: Syntax,
) -> Vec<Line> {
    let mut lead: Vec<Line> = Vec::new();
    for back in (1..=before as u64 * 8).rev() {
        let Some(start) = s.rip.checked_sub(back) else {
            continue;
        };
        let lines = disasm(s, bus, start, before * 8, syntax);
        if let Some(i) = lines.iter().position(|l| l.ip == s.rip) {
            let run = &lines[i.saturating_sub(before)..i];
            if run.len() > lead.len() {
                lead = run.to_vec();
            }
            if lead.len() == before {
                break;
            }
        }
    }
    lead.extend(disasm(s, bus, s.rip, after, syntax));
    lead
}

/// True for CALL and for string instructions with a REP prefix: the
/// instructions a step over (`n`) runs to completion.
pub fn steps_over(ins: &Instruction) -> bool {
    matches!(
        ins.flow_control(),
        FlowControl::Call | FlowControl::IndirectCall | FlowControl::Interrupt
    ) || (ins.is_string_instruction() && (ins.has_rep_prefix() || ins.has_repne_prefix()))
        || ins.mnemonic() == Mnemonic::Loop
}

/// True when the bytes at `phys` are a RET, RETF or IRET (after
/// prefixes).
pub fn is_ret_at<B: CpuBus>(bus: &B, phys: u64) -> bool {
    for i in 0..15 {
        match bus.peek_phys(phys.wrapping_add(i)) {
            0x66 | 0x67 | 0xF2 | 0xF3 | 0x2E | 0x36 | 0x3E | 0x26 | 0x64 | 0x65 if i < 14 => {
                continue
            }
            b => return matches!(b, 0xC3 | 0xC2 | 0xCB | 0xCA | 0xCF),
        }
    }
    false
}
