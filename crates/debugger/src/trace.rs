//! The execution trace: one line per retired instruction with its
//! address, bytes, disassembly and the registers it changed.
//!
//! The tracer is called before every instruction by the checked run loop,
//! so it writes the line of the previous instruction once it knows what
//! that instruction changed. Filters (linear address range, CPU mode,
//! start after N instructions) decide which instructions are written;
//! while the trace is off the checked loop is not used at all.

use crate::disasm::{self, Syntax};
use crate::view::CpuMode;
use anyx86_cpu::arch::sreg;
use anyx86_cpu::{CpuBus, CpuState};
use std::io::Write;

/// Which instructions the trace writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TraceFilter {
    /// Only instructions whose linear address is in `start..end`.
    pub range: Option<(u64, u64)>,
    /// Only instructions executed in this mode.
    pub mode: Option<CpuMode>,
    /// Only from this instruction count on.
    pub after: u64,
}

impl TraceFilter {
    /// Parses `range=START-END`, `mode=NAME` and `after=N` items.
    pub fn parse<'a>(items: impl Iterator<Item = &'a str>) -> Result<Self, String> {
        let mut f = TraceFilter::default();
        for item in items {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| format!("'{item}' is not KEY=VALUE"))?;
            match k {
                "range" => {
                    let (a, b) = v
                        .split_once('-')
                        .ok_or_else(|| format!("range '{v}' is not START-END"))?;
                    f.range = Some((crate::parse::num(a)?, crate::parse::num(b)?));
                }
                "mode" => {
                    f.mode = Some(CpuMode::parse(v).ok_or_else(|| format!("unknown mode '{v}'"))?)
                }
                "after" => f.after = crate::parse::num(v)?,
                _ => return Err(format!("unknown trace filter '{k}'")),
            }
        }
        Ok(f)
    }

    fn wants(&self, s: &CpuState, lin: u64) -> bool {
        s.icount >= self.after
            && self.range.map_or(true, |(a, b)| (a..b).contains(&lin))
            && self.mode.map_or(true, |m| m == CpuMode::of(s))
    }
}

/// Registers compared for the "changed" column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Snap {
    gpr: [u64; 8],
    flags: u32,
    sel: [u16; 6],
    cr: [u64; 4],
}

impl Snap {
    fn of(s: &CpuState) -> Self {
        let mut gpr = [0; 8];
        gpr.copy_from_slice(&s.gpr[..8]);
        Snap {
            gpr,
            flags: s.eflags(),
            sel: s.seg.map(|g| g.selector),
            cr: [s.cr0, s.cr2, s.cr3, s.cr4],
        }
    }

    fn diff(&self, now: &Snap) -> String {
        const GPR: [&str; 8] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
        const SEG: [&str; 6] = ["es", "cs", "ss", "ds", "fs", "gs"];
        const CR: [&str; 4] = ["cr0", "cr2", "cr3", "cr4"];
        let mut out = Vec::new();
        for (i, name) in GPR.iter().enumerate() {
            if self.gpr[i] != now.gpr[i] {
                out.push(format!("{name}={:08x}", now.gpr[i]));
            }
        }
        if self.flags != now.flags {
            out.push(format!("eflags={:08x}", now.flags));
        }
        for (i, name) in SEG.iter().enumerate() {
            if self.sel[i] != now.sel[i] {
                out.push(format!("{name}={:04x}", now.sel[i]));
            }
        }
        for (i, name) in CR.iter().enumerate() {
            if self.cr[i] != now.cr[i] {
                out.push(format!("{name}={:08x}", now.cr[i]));
            }
        }
        out.join(" ")
    }
}

/// An instruction seen but not yet known to have retired.
struct Pending {
    icount: u64,
    head: String,
    snap: Snap,
}

/// The trace writer.
pub struct Tracer {
    out: Box<dyn Write + Send>,
    /// Which instructions are written.
    pub filter: TraceFilter,
    /// Disassembly syntax.
    pub syntax: Syntax,
    pending: Option<Pending>,
    /// Lines written.
    pub lines: u64,
}

impl Tracer {
    /// A tracer writing to `out`.
    pub fn new(out: Box<dyn Write + Send>, filter: TraceFilter) -> Self {
        Self {
            out,
            filter,
            syntax: Syntax::Intel,
            pending: None,
            lines: 0,
        }
    }

    /// Called before each instruction: finishes the previous line and
    /// notes this instruction if the filter wants it.
    pub fn before<B: CpuBus>(&mut self, s: &CpuState, bus: &B, _phys: u64) {
        self.settle(s);
        let lin = s.pc_linear();
        if !self.filter.wants(s, lin) {
            return;
        }
        let cs = s.seg[sreg::CS].selector;
        let (bytes, text) = match disasm::decode_at(s, bus, lin, s.rip) {
            Some(l) => {
                let text = if self.syntax == Syntax::Att {
                    disasm::format(&l.ins, Syntax::Att)
                } else {
                    l.text
                };
                (l.bytes, text)
            }
            None => (Vec::new(), "(unmapped)".to_string()),
        };
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.pending = Some(Pending {
            icount: s.icount,
            head: format!(
                "{:>10} {cs:04x}:{:08x} {lin:08x} {hex:<24} {text:<36}",
                s.icount, s.rip
            ),
            snap: Snap::of(s),
        });
    }

    /// Writes the pending line, if any, with what changed up to `s`.
    pub fn settle(&mut self, s: &CpuState) {
        let Some(p) = self.pending.take() else {
            return;
        };
        let changes = p.snap.diff(&Snap::of(s));
        let line = if s.icount > p.icount {
            format!("{} {changes}", p.head)
        } else {
            format!(
                "{} (did not retire: exception or interrupt) {changes}",
                p.head
            )
        };
        let _ = writeln!(self.out, "{}", line.trim_end());
        self.lines += 1;
    }

    /// Flushes the output.
    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

/// A one-line summary of the trace state.
pub fn describe(t: Option<&Tracer>) -> String {
    match t {
        None => "trace off".to_string(),
        Some(t) => format!(
            "trace on ({} lines){}{}{}",
            t.lines,
            t.filter
                .range
                .map_or(String::new(), |(a, b)| format!(" range {a:#x}-{b:#x}")),
            t.filter
                .mode
                .map_or(String::new(), |m| format!(" mode {m}")),
            if t.filter.after > 0 {
                format!(" after {}", t.filter.after)
            } else {
                String::new()
            }
        ),
    }
}
