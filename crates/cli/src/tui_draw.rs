//! Drawing the built-in debugger's screen: disassembly, registers (the
//! ones the last command changed highlighted), stack, memory, the guest's
//! serial output, the last command's output and the command line.

use anyx86_cpu::arch::sreg;
use anyx86_cpu::CpuState;
use anyx86_debugger::disasm;
use anyx86_debugger::engine::BreakAt;
use anyx86_debugger::{view, Session};
use anyx86_machine::Machine;
use crossterm::style::{Attribute, Color, Print, ResetColor, SetAttribute, SetForegroundColor};
use crossterm::{cursor, queue, terminal};
use std::io::Write;

/// How a piece of text is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// Plain.
    Plain,
    /// A pane title.
    Title,
    /// Changed since the last command.
    Changed,
    /// The current instruction.
    Current,
    /// A breakpoint's line.
    Break,
}

/// One screen line: spans of text.
pub type Row = Vec<(String, Look)>;

/// What the screen shows besides the machine.
pub struct ViewState {
    /// Registers before the last command (for highlighting).
    pub prev: Option<CpuState>,
    /// Linear address of the memory pane.
    pub mem_addr: u64,
    /// Output of the last command.
    pub output: Vec<String>,
    /// The command line being typed.
    pub input: String,
    /// Status line (running, stopped, ...).
    pub status: String,
}

fn plain(s: impl Into<String>) -> Row {
    vec![(s.into(), Look::Plain)]
}

fn title(s: &str, width: usize) -> Row {
    let t = format!("-- {s} ");
    let n = width.saturating_sub(t.chars().count());
    vec![(format!("{t}{}", "-".repeat(n)), Look::Title)]
}

fn disasm_rows(m: &Machine, sess: &Session, rows: usize) -> Vec<Row> {
    let s = &m.cpu.s;
    let before = rows / 3;
    let lines = disasm::around(s, &m.board, before, rows - before.min(rows), sess.syntax);
    let bps: Vec<u64> = sess
        .dbg
        .breakpoints()
        .iter()
        .filter_map(|b| match b.at {
            BreakAt::Linear(a) => Some(a),
            BreakAt::SegOff(seg, off) if seg == s.seg[sreg::CS].selector => {
                Some(s.seg[sreg::CS].base.wrapping_add(off))
            }
            _ => None,
        })
        .collect();
    lines
        .iter()
        .take(rows)
        .map(|l| {
            let current = l.ip == s.rip;
            let look = if current {
                Look::Current
            } else if bps.contains(&l.lin) {
                Look::Break
            } else {
                Look::Plain
            };
            let mark = if bps.contains(&l.lin) { "B" } else { " " };
            let hex: String = l.bytes.iter().map(|b| format!("{b:02x}")).collect();
            vec![(
                format!(
                    "{mark}{}{:04x}:{:08x} {hex:<16} {}",
                    if current { ">" } else { " " },
                    s.seg[sreg::CS].selector,
                    l.ip,
                    l.text
                ),
                look,
            )]
        })
        .collect()
}

fn reg_span(name: &str, v: u64, width: usize, changed: bool) -> Vec<(String, Look)> {
    vec![
        (format!("{name}="), Look::Plain),
        (
            format!("{v:0width$x} "),
            if changed { Look::Changed } else { Look::Plain },
        ),
    ]
}

fn reg_rows(s: &CpuState, prev: Option<&CpuState>) -> Vec<Row> {
    let ch = |f: &dyn Fn(&CpuState) -> u64| prev.is_some_and(|p| f(p) != f(s));
    let names = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
    let mut rows = Vec::new();
    for pair in [[0usize, 3], [1, 2], [4, 5], [6, 7]] {
        let mut r = Row::new();
        for i in pair {
            r.extend(reg_span(
                names[i],
                s.gpr[i] & 0xFFFF_FFFF,
                8,
                ch(&|x| x.gpr[i]),
            ));
        }
        rows.push(r);
    }
    let mut r = reg_span("eip", s.rip, 8, ch(&|x| x.rip));
    r.extend(reg_span(
        "efl",
        u64::from(s.eflags()),
        8,
        ch(&|x| u64::from(x.eflags())),
    ));
    rows.push(r);
    rows.push(plain(view::flags_text(s.eflags())));
    let snames = ["es", "cs", "ss", "ds", "fs", "gs"];
    for pair in [[1usize, 2], [3, 0], [4, 5]] {
        let mut r = Row::new();
        for i in pair {
            r.extend(reg_span(
                snames[i],
                u64::from(s.seg[i].selector),
                4,
                ch(&|x| u64::from(x.seg[i].selector) | x.seg[i].base << 16),
            ));
            r.push((format!("({:08x}) ", s.seg[i].base), Look::Plain));
        }
        rows.push(r);
    }
    let mut r = reg_span("cr0", s.cr0, 8, ch(&|x| x.cr0));
    r.extend(reg_span("cr3", s.cr3, 8, ch(&|x| x.cr3)));
    rows.push(r);
    let mut r = reg_span("cr2", s.cr2, 8, ch(&|x| x.cr2));
    r.extend(reg_span("cr4", s.cr4, 8, ch(&|x| x.cr4)));
    rows.push(r);
    rows.push(plain(format!(
        "{} icount={}",
        view::CpuMode::of(s),
        s.icount
    )));
    rows
}

fn stack_rows(m: &Machine, rows: usize) -> Vec<Row> {
    let s = &m.cpu.s;
    let w: u64 = if s.stack32 { 4 } else { 2 };
    let sp = s.gpr[4] & s.stack_mask();
    let base = s.seg[sreg::SS].base;
    (0..rows as u64)
        .map(|i| {
            let off = sp.wrapping_add(i * w);
            let lin = s.wrap_lin(base.wrapping_add(off));
            let mut b = [0u8; 4];
            let n = view::read_linear(s, &m.board, lin, &mut b[..w as usize]);
            let v = if n == w as usize {
                format!("{:0width$x}", u32::from_le_bytes(b), width = 2 * w as usize)
            } else {
                "????????".into()
            };
            plain(format!("{:04x}:{off:08x} {v}", s.seg[sreg::SS].selector))
        })
        .collect()
}

fn memory_rows(m: &Machine, addr: u64, rows: usize) -> Vec<Row> {
    let mut buf = vec![0u8; rows * 16];
    let n = view::read_linear(&m.cpu.s, &m.board, addr, &mut buf);
    buf.truncate(n);
    if n == 0 {
        return vec![plain(format!("{addr:08x}: not mapped"))];
    }
    view::hexdump(addr, &buf).lines().map(plain).collect()
}

/// Lays out and draws everything.
pub fn draw(
    out: &mut impl Write,
    m: &Machine,
    sess: &Session,
    v: &ViewState,
    serial: &[u8],
) -> std::io::Result<()> {
    let (w, h) = terminal::size().unwrap_or((100, 30));
    let (w, h) = (usize::from(w).max(40), usize::from(h).max(16));
    let left = (w * 3 / 5).max(20);
    let right = w - left - 1;
    let top = ((h - 6) / 2).max(4);
    let mid = ((h - 6 - top) / 2).max(2);
    let bottom = h.saturating_sub(top + mid + 5).max(1);
    let mut screen: Vec<Row> = Vec::new();
    let two = |screen: &mut Vec<Row>, a: Vec<Row>, b: Vec<Row>, n: usize| {
        for i in 0..n {
            let mut r = fit(a.get(i).cloned().unwrap_or_default(), left);
            r.push(("|".into(), Look::Title));
            r.extend(fit(b.get(i).cloned().unwrap_or_default(), right));
            screen.push(r);
        }
    };
    let syntax = if sess.syntax == disasm::Syntax::Att {
        "AT&T"
    } else {
        "Intel"
    };
    let mut t = title(&format!("Disassembly ({syntax})"), left);
    t.extend(title("Registers", right + 1));
    screen.push(t);
    two(
        &mut screen,
        disasm_rows(m, sess, top),
        reg_rows(&m.cpu.s, v.prev.as_ref()),
        top,
    );
    let mut t = title(&format!("Memory {:08x}", v.mem_addr), left);
    t.extend(title("Stack", right + 1));
    screen.push(t);
    two(
        &mut screen,
        memory_rows(m, v.mem_addr, mid),
        stack_rows(m, mid),
        mid,
    );
    screen.push(title("Serial (COM1)", w));
    let text = String::from_utf8_lossy(serial);
    let lines: Vec<&str> = text.lines().collect();
    let serial_rows = bottom.div_ceil(2).max(1);
    let out_rows = bottom - serial_rows.min(bottom);
    for i in 0..serial_rows {
        let idx = (lines.len() + i).checked_sub(serial_rows);
        screen.push(plain(idx.and_then(|j| lines.get(j)).copied().unwrap_or("")));
    }
    screen.push(title(&v.status, w));
    for i in 0..out_rows.max(1) {
        let idx = (v.output.len() + i).checked_sub(out_rows.max(1));
        screen.push(plain(
            idx.and_then(|j| v.output.get(j))
                .cloned()
                .unwrap_or_default(),
        ));
    }
    screen.push(plain(format!("(anyx86) {}", v.input)));
    render(out, &screen, w, h)
}

/// Pads or cuts a row to exactly `width` characters.
fn fit(row: Row, width: usize) -> Row {
    let mut out = Row::new();
    let mut used = 0;
    for (text, look) in row {
        let take: String = text.chars().take(width - used).collect();
        used += take.chars().count();
        out.push((take, look));
        if used == width {
            return out;
        }
    }
    out.push((" ".repeat(width - used), Look::Plain));
    out
}

fn render(out: &mut impl Write, screen: &[Row], w: usize, h: usize) -> std::io::Result<()> {
    queue!(out, cursor::Hide, cursor::MoveTo(0, 0))?;
    for (y, row) in screen.iter().take(h).enumerate() {
        queue!(out, cursor::MoveTo(0, y as u16))?;
        for (text, look) in fit(row.clone(), w) {
            match look {
                Look::Plain => queue!(out, ResetColor, SetAttribute(Attribute::Reset))?,
                Look::Title => queue!(out, SetForegroundColor(Color::Cyan))?,
                Look::Changed => queue!(
                    out,
                    SetForegroundColor(Color::Red),
                    SetAttribute(Attribute::Bold)
                )?,
                Look::Current => queue!(out, SetAttribute(Attribute::Reverse))?,
                Look::Break => queue!(out, SetForegroundColor(Color::Yellow))?,
            }
            queue!(out, Print(text), ResetColor, SetAttribute(Attribute::Reset))?;
        }
    }
    let last = screen.len().min(h).saturating_sub(1) as u16;
    let col = screen
        .last()
        .map_or(0, |r| {
            r.iter().map(|(t, _)| t.chars().count()).sum::<usize>()
        })
        .min(w.saturating_sub(1)) as u16;
    queue!(out, cursor::MoveTo(col, last), cursor::Show)?;
    out.flush()
}
