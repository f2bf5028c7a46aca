//! The built-in debugger's command language (in the spirit of Bochs's),
//! shared by the TUI, `debug --batch` and GDB's `monitor`.
//!
//! Commands that run the guest (`s`, `n`, `c`, `until`, `finish`) need a
//! host hook and are refused through GDB's `monitor`, where GDB owns
//! execution.

use crate::disasm::{self, Syntax};
use crate::engine::{BreakAt, Debugger, Owner, StopCond};
use crate::parse;
use crate::trace::{self, TraceFilter, Tracer};
use crate::{info, view};
use anyx86_cpu::debug::WatchKind;
use anyx86_machine::{HostHook, Machine, RunOutcome};

/// Most bytes one `x`/`xp` dumps.
const MAX_DUMP: u64 = 4096;
/// Most instructions one `s N` runs.
const MAX_STEPS: u64 = 1_000_000;

/// What a command did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Text to show.
    pub text: String,
    /// The user asked to quit.
    pub quit: bool,
    /// The guest ran (views should refresh).
    pub ran: bool,
}

impl Reply {
    fn text(t: impl Into<String>) -> Self {
        Reply {
            text: t.into(),
            ..Reply::default()
        }
    }
}

/// True for a command (its first word) that runs the guest: these need a
/// host hook (see [`Session::exec`]).
pub fn runs_guest(cmd: &str) -> bool {
    matches!(
        cmd,
        "s" | "step"
            | "si"
            | "stepi"
            | "n"
            | "next"
            | "c"
            | "cont"
            | "continue"
            | "until"
            | "finish"
    ) || goes_back(cmd)
}

/// True for a command that runs the guest backwards (`--time-travel`).
fn goes_back(cmd: &str) -> bool {
    matches!(
        cmd,
        "rsi"
            | "reverse-stepi"
            | "reverse-step"
            | "rni"
            | "reverse-nexti"
            | "reverse-next"
            | "rc"
            | "reverse-continue"
    )
}

/// A debugging session over one machine.
pub struct Session {
    /// Breakpoints, watchpoints, trace.
    pub dbg: Debugger,
    /// Disassembly syntax.
    pub syntax: Syntax,
    /// Stop after this many instructions in total.
    pub max: Option<u64>,
    /// How the machine's run ended, once it has.
    pub ended: Option<RunOutcome>,
}

/// The help text.
pub const HELP: &str = "\
s|step [N]          step N instructions (default 1)
n|next              step over CALL, INT, LOOP and REP string instructions
c|continue          run until a breakpoint, watchpoint or Ctrl-C
until [ADDR]        run to linear ADDR, or past this instruction in this frame
finish              run until the current function returns
rsi|reverse-stepi [N]   step N instructions back (--time-travel)
rni|reverse-nexti   one instruction back, over a call
rc|reverse-continue back to the last breakpoint or watchpoint hit
b|break ADDR        breakpoint: SEG:OFF (CS:IP exactly), linear ADDR, 'mode'
lb ADDR | pb ADDR   breakpoint at a linear / physical address
vb SEG:OFF          breakpoint at CS:IP (real mode: any SEG:OFF form)
modebp              break on a CPU mode change (real/protected/paging/long)
bl|info break       list breakpoints and watchpoints
bd|delete N         delete breakpoint or watchpoint N
w|watch ADDR [LEN] [r|w|rw]   watchpoint on linear ADDR (default: write, 1 byte)
x [/N] ADDR         dump N bytes (default 64) at a linear address or SEG:OFF
xp [/N] ADDR        dump N bytes of physical memory
u [ADDR] [N]        disassemble N instructions at CS:ADDR / SEG:OFF (default CS:IP)
page ADDR           walk the page tables for a linear address
info regs|sregs|cregs|gdt|idt|tss|tlb|mode|pic|pit|uart
r|regs              same as info regs
set reg NAME VALUE  write a register (GDB names: eax, eip, cs, cr0, ...)
set mem ADDR B...   write bytes at a linear address (or SEG:OFF)
set syntax intel|att   disassembly syntax
set step-irqs on|off   take interrupts while stepping (default off)
trace on FILE [range=A-B] [mode=real|protected|paging|v86|long] [after=N]
trace off           stop the execution trace
screendump FILE.png write the screen as the VGA shows it now
savevm FILE         save the whole machine (run again with --loadvm FILE)
q|quit              quit
Numbers: 0x1f or 1fh is hexadecimal, 31 decimal; SEG:OFF halves are hex.";

impl Session {
    /// A session with nothing armed.
    pub fn new(max: Option<u64>) -> Self {
        Self {
            dbg: Debugger::new(),
            syntax: Syntax::Intel,
            max,
            ended: None,
        }
    }

    /// Runs one command line. `hook` is needed by commands that run the
    /// guest ([`runs_guest`]); without it they are refused.
    pub fn exec(&mut self, m: &mut Machine, line: &str, hook: Option<HostHook<'_>>) -> Reply {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&cmd, args)) = words.split_first() else {
            return Reply::default();
        };
        if runs_guest(cmd) {
            let Some(hook) = hook else {
                return Reply::text("execution is controlled by GDB here");
            };
            return self.run_cmd(m, cmd, args, hook);
        }
        if matches!(cmd, "trace" | "screendump" | "savevm") && hook.is_none() {
            // A remote client must not create files on the host.
            let instead = match cmd {
                "trace" => "--trace",
                "screendump" => "--screenshot",
                _ => "--savevm",
            };
            return Reply::text(format!("{cmd} is not available through GDB; use {instead}"));
        }
        match self.view_cmd(m, cmd, args) {
            Ok(r) => r,
            Err(e) => Reply::text(format!("error: {e}")),
        }
    }

    fn view_cmd(&mut self, m: &mut Machine, cmd: &str, args: &[&str]) -> Result<Reply, String> {
        let text = match (cmd, args) {
            ("q" | "quit" | "exit", _) => {
                return Ok(Reply {
                    quit: true,
                    ..Reply::default()
                })
            }
            ("help" | "h" | "?", _) => HELP.to_string(),
            ("b" | "break", [a]) => self.add_break(a)?,
            ("lb" | "lbreak", [a]) => self.break_at(BreakAt::Linear(parse::num(a)?))?,
            ("pb" | "pbreak", [a]) => self.break_at(BreakAt::Phys(parse::num(a)?))?,
            ("vb" | "vbreak", [a]) => {
                let (s, o) = parse::seg_off(a)?.ok_or("expected SEG:OFF")?;
                self.break_at(BreakAt::SegOff(s, o))?
            }
            ("modebp", []) => self.break_at(BreakAt::ModeChange)?,
            ("bl" | "blist", []) | ("info", ["break" | "breakpoints" | "watch"]) => self.list(),
            ("bd" | "delete" | "d", [n]) => {
                let id = parse::num(n)? as u32;
                if self.dbg.delete(id, m) {
                    format!("deleted {id}")
                } else {
                    format!("no breakpoint or watchpoint {id}")
                }
            }
            ("w" | "watch", [a, rest @ ..]) => self.add_watch(m, a, rest)?,
            ("x", _) => self.dump(m, args, false)?,
            ("xp", _) => self.dump(m, args, true)?,
            ("u" | "disasm", _) => self.unasm(m, args)?,
            ("page", [a]) => view::page_text(&m.cpu.s, &m.board, self.addr(m, a)?),
            ("info", [what]) => {
                info::info(m, what).ok_or_else(|| format!("info what? ({} break)", info::TOPICS))?
            }
            ("r" | "regs", []) => info::regs(&m.cpu.s),
            ("mode", []) => view::mode_line(&m.cpu.s),
            ("set", rest) => self.set_cmd(m, rest)?,
            ("trace", rest) => self.trace_cmd(m, rest)?,
            ("screendump", [file]) => match m.screendump(std::path::Path::new(file)) {
                Ok(()) => format!("screen written to {file}"),
                Err(e) => return Err(e.to_string()),
            },
            ("savevm", [file]) => match m.save_snapshot(std::path::Path::new(file)) {
                Ok(()) => format!(
                    "machine saved to {file} after {} instructions (continue from it with --loadvm {file})",
                    m.cpu.s.icount
                ),
                Err(e) => return Err(e.to_string()),
            },
            _ => return Err(format!("unknown command '{}' (try help)", words(cmd, args))),
        };
        Ok(Reply::text(text))
    }

    fn set_cmd(&mut self, m: &mut Machine, args: &[&str]) -> Result<String, String> {
        Ok(match args {
            ["syntax", "intel"] => {
                self.syntax = Syntax::Intel;
                "syntax intel".into()
            }
            ["syntax", "att"] => {
                self.syntax = Syntax::Att;
                "syntax att".into()
            }
            ["step-irqs", v] => {
                self.dbg.step_irqs = on_off(v)?;
                format!("step-irqs {v}")
            }
            ["mem", a, bytes @ ..] if !bytes.is_empty() => {
                let lin = self.addr(m, a)?;
                let data = bytes
                    .iter()
                    .map(|b| parse::num(b).map(|v| v as u8))
                    .collect::<Result<Vec<u8>, String>>()?;
                match view::write_linear(m, lin, &data) {
                    Ok(()) => format!("wrote {} bytes at linear {lin:#x}", data.len()),
                    Err(a) => format!("linear {a:#x} is not mapped"),
                }
            }
            ["reg", name, v] => {
                let d = crate::regs::by_name(crate::regs::AMD64, name)
                    .or_else(|| crate::regs::by_name(crate::regs::I386, name))
                    .ok_or_else(|| format!("no register {name}"))?;
                let v = parse::num(v)?;
                let m = &mut *m;
                crate::regs::write(&mut m.cpu.s, &m.board, &d, v);
                m.journal_cpu_written();
                format!("{name} = {v:#x}")
            }
            _ => return Err("usage: set syntax|step-irqs|mem|reg ...".into()),
        })
    }

    fn trace_cmd(&mut self, m: &mut Machine, args: &[&str]) -> Result<String, String> {
        Ok(match args {
            ["off"] => {
                if let Some(mut t) = self.dbg.trace.take() {
                    t.settle(&m.cpu.s);
                    t.flush();
                }
                "trace off".into()
            }
            ["on", file, filters @ ..] => {
                let f = TraceFilter::parse(filters.iter().copied())?;
                let out = std::fs::File::create(file).map_err(|e| format!("{file}: {e}"))?;
                let mut t = Tracer::new(Box::new(std::io::BufWriter::new(out)), f);
                t.syntax = self.syntax;
                self.dbg.trace = Some(t);
                trace::describe(self.dbg.trace.as_ref())
            }
            [] => trace::describe(self.dbg.trace.as_ref()),
            _ => return Err("usage: trace on FILE [filters] | trace off".into()),
        })
    }

    fn add_break(&mut self, a: &str) -> Result<String, String> {
        if a == "mode" {
            return self.break_at(BreakAt::ModeChange);
        }
        if let Some((s, o)) = parse::seg_off(a)? {
            return self.break_at(BreakAt::SegOff(s, o));
        }
        self.break_at(BreakAt::Linear(parse::num(a)?))
    }

    /// Adds a user breakpoint and describes it.
    pub fn break_at(&mut self, at: BreakAt) -> Result<String, String> {
        let b = self
            .dbg
            .add_break(at, Owner::User)
            .map_err(|e| e.to_string())?;
        Ok(format!("breakpoint {} at {}", b.id, b.at))
    }

    fn add_watch(&mut self, m: &mut Machine, a: &str, rest: &[&str]) -> Result<String, String> {
        let lin = self.addr(m, a)?;
        let mut len = 1;
        let mut kind = WatchKind::Write;
        for r in rest {
            match *r {
                "r" => kind = WatchKind::Read,
                "w" => kind = WatchKind::Write,
                "rw" | "a" => kind = WatchKind::Access,
                n => len = parse::num(n)?,
            }
        }
        let w = self
            .dbg
            .add_watch(m, lin, len, kind, false)
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "watchpoint {} on {len} bytes at linear {lin:#x} ({kind:?})",
            w.id
        ))
    }

    fn list(&self) -> String {
        let mut out = Vec::new();
        for b in self.dbg.breakpoints() {
            let who = match b.owner {
                Owner::User => "",
                Owner::GdbSw | Owner::GdbHw => " (gdb)",
            };
            out.push(format!("{:3}  break  {}{who}", b.id, b.at));
        }
        for w in self.dbg.watchpoints() {
            out.push(format!(
                "{:3}  watch  linear {:#x} len {} {:?}{}",
                w.id,
                w.w.lin,
                w.w.len,
                w.w.kind,
                if w.gdb { " (gdb)" } else { "" }
            ));
        }
        if out.is_empty() {
            "no breakpoints or watchpoints".into()
        } else {
            out.join("\n")
        }
    }

    /// A linear address from `ADDR` or `SEG:OFF` (real-mode rule in real
    /// and V86 mode, the segment's cached base for CS..GS names otherwise).
    pub fn addr(&self, m: &Machine, a: &str) -> Result<u64, String> {
        let s = &m.cpu.s;
        if let Some((name, off)) = a.split_once(':') {
            let names = ["es", "cs", "ss", "ds", "fs", "gs"];
            if let Some(i) = names.iter().position(|n| *n == name) {
                return Ok(s.wrap_lin(s.seg[i].base.wrapping_add(parse::hex(off)?)));
            }
        }
        match parse::seg_off(a)? {
            Some((seg, off)) => Ok((u64::from(seg) << 4).wrapping_add(off)),
            None => parse::num(a),
        }
    }

    fn dump(&self, m: &Machine, args: &[&str], phys: bool) -> Result<String, String> {
        let (n, rest) = match args.split_first() {
            Some((c, rest)) if c.starts_with('/') => (parse::num(&c[1..])?, rest),
            _ => (64, args),
        };
        let [a] = rest else {
            return Err("usage: x [/N] ADDR".into());
        };
        let n = n.clamp(1, MAX_DUMP) as usize;
        let mut buf = vec![0u8; n];
        let addr = if phys {
            let a = parse::num(a)?;
            view::read_phys(&m.board, a, &mut buf);
            a
        } else {
            let a = self.addr(m, a)?;
            let got = view::read_linear(&m.cpu.s, &m.board, a, &mut buf);
            buf.truncate(got);
            if got == 0 {
                return Ok(format!("linear {a:#x} is not mapped"));
            }
            a
        };
        Ok(view::hexdump(addr, &buf))
    }

    fn unasm(&self, m: &Machine, args: &[&str]) -> Result<String, String> {
        let s = &m.cpu.s;
        let mut ip = s.rip;
        let mut count = 10;
        let mut seg_base = None;
        if let Some(a) = args.first() {
            match parse::seg_off(a)? {
                Some((seg, off)) => {
                    seg_base = Some(u64::from(seg) << 4);
                    ip = off;
                }
                None => ip = parse::num(a)?,
            }
        }
        if let Some(c) = args.get(1) {
            count = parse::num(c)?.min(200) as usize;
        }
        let mut st = s.clone();
        if let Some(b) = seg_base {
            st.seg[anyx86_cpu::arch::sreg::CS].base = b;
        }
        let lines = disasm::disasm(&st, &m.board, ip, count, self.syntax);
        Ok(lines
            .iter()
            .map(|l| line_text(l, l.ip == s.rip && seg_base.is_none()))
            .collect::<Vec<_>>()
            .join("\n"))
    }

    fn run_cmd(&mut self, m: &mut Machine, cmd: &str, args: &[&str], hook: HostHook<'_>) -> Reply {
        if let Some(o) = &self.ended {
            if !goes_back(cmd) || m.time_travel().is_none() {
                return Reply::text(format!("the machine has stopped: {}", outcome_text(o)));
            }
            // Time travel goes back from the end too.
            self.ended = None;
        }
        let r = match cmd {
            "s" | "step" | "si" | "stepi" => {
                let n = match args.first().map(|a| parse::num(a)) {
                    None => Ok(1),
                    Some(r) => r,
                };
                match n {
                    Ok(n) => self.step_n(m, n.clamp(1, MAX_STEPS)),
                    Err(e) => return Reply::text(format!("error: {e}")),
                }
            }
            "n" | "next" => self.next(m, hook),
            "rni" | "reverse-nexti" | "reverse-next" => {
                let r = self.dbg.reverse_next(m, MAX_STEPS);
                self.reverse_text(m, r)
            }
            "rsi" | "reverse-stepi" | "reverse-step" => {
                let n = match args.first().map(|a| parse::num(a)) {
                    None => Ok(1),
                    Some(r) => r,
                };
                match n {
                    Ok(n) => self.reverse_steps(m, n.clamp(1, MAX_STEPS)),
                    Err(e) => return Reply::text(format!("error: {e}")),
                }
            }
            "rc" | "reverse-continue" => {
                let r = self.dbg.reverse_continue(m, hook);
                self.reverse_text(m, r)
            }
            "until" => {
                let s = &m.cpu.s;
                self.dbg.cond = Some(match args.first() {
                    Some(a) => match self.addr(m, a) {
                        Ok(a) => StopCond::At(a),
                        Err(e) => return Reply::text(format!("error: {e}")),
                    },
                    None => StopCond::Past {
                        lin: s.pc_linear(),
                        sp: s.gpr[4] & s.stack_mask(),
                    },
                });
                self.cont(m, hook)
            }
            "finish" => {
                let s = &m.cpu.s;
                self.dbg.cond = Some(StopCond::Finish {
                    sp: s.gpr[4] & s.stack_mask(),
                });
                self.cont(m, hook)
            }
            _ => self.cont(m, hook),
        };
        let text = if r.is_empty() {
            self.where_line(m)
        } else {
            format!("{r}\n{}", self.where_line(m))
        };
        Reply {
            text,
            ran: true,
            quit: false,
        }
    }

    fn reverse_steps(&mut self, m: &mut Machine, n: u64) -> String {
        for _ in 0..n {
            let r = self.dbg.reverse_step(m);
            let done = !matches!(r, Ok(crate::reverse::Reverse::Stopped(None)));
            let text = self.reverse_text(m, r);
            if done {
                return text;
            }
        }
        String::new()
    }

    fn reverse_text(&mut self, m: &Machine, r: Result<crate::reverse::Reverse, String>) -> String {
        use crate::reverse::Reverse;
        match r {
            Ok(Reverse::Stopped(None)) => String::new(),
            Ok(Reverse::Stopped(Some(w))) => format!("stopped: {w}"),
            Ok(Reverse::StartOfHistory) => format!(
                "at the start of the history (instruction {}): nothing earlier is kept",
                m.instructions()
            ),
            Ok(Reverse::Ended(o)) => self.end(o),
            Err(e) => format!("error: {e}"),
        }
    }

    fn step_n(&mut self, m: &mut Machine, n: u64) -> String {
        for _ in 0..n {
            // Stepping counts toward the instruction limit as running does.
            if self.max.is_some_and(|max| m.instructions() >= max) {
                return self.end(RunOutcome::InstructionLimit);
            }
            if let Some(o) = self.dbg.step(m) {
                return self.end(o);
            }
            if let Some(w) = self.dbg.why.take() {
                return format!("stopped: {w}");
            }
        }
        String::new()
    }

    fn next(&mut self, m: &mut Machine, hook: HostHook<'_>) -> String {
        let s = &m.cpu.s;
        let line = disasm::decode_at(s, &m.board, s.pc_linear(), s.rip);
        match line {
            Some(l) if disasm::steps_over(&l.ins) => {
                let next = s.wrap_lin(s.pc_linear().wrapping_add(l.bytes.len() as u64));
                self.dbg.cond = Some(StopCond::At(next));
                self.cont(m, hook)
            }
            _ => self.step_n(m, 1),
        }
    }

    /// Continues until something stops the guest.
    pub fn cont(&mut self, m: &mut Machine, hook: HostHook<'_>) -> String {
        let out = self.dbg.run(m, self.max, hook);
        self.dbg.cond = None;
        match out {
            RunOutcome::Breakpoint => match self.dbg.why.take() {
                Some(w) => format!("stopped: {w}"),
                None => "stopped".into(),
            },
            RunOutcome::HostQuit => "interrupted".into(),
            o => self.end(o),
        }
    }

    fn end(&mut self, o: RunOutcome) -> String {
        let t = format!("the machine stopped: {}", outcome_text(&o));
        self.ended = Some(o);
        t
    }

    /// The next instruction, as shown after every run command.
    pub fn where_line(&self, m: &Machine) -> String {
        let s = &m.cpu.s;
        match disasm::disasm(s, &m.board, s.rip, 1, self.syntax).first() {
            Some(l) => format!("next: {}", line_text(l, false)),
            None => format!("next: {:08x} (unmapped)", s.pc_linear()),
        }
    }
}

fn words(cmd: &str, args: &[&str]) -> String {
    std::iter::once(cmd)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ")
}

fn on_off(v: &str) -> Result<bool, String> {
    match v {
        "on" | "1" | "yes" => Ok(true),
        "off" | "0" | "no" => Ok(false),
        _ => Err(format!("'{v}' is not on or off")),
    }
}

/// One disassembly line: `cs:ip (linear) bytes  text`.
pub fn line_text(l: &disasm::Line, current: bool) -> String {
    let hex: String = l.bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}{:08x} ({:08x}) {hex:<20} {}",
        if current { "=> " } else { "   " },
        l.ip,
        l.lin,
        l.text
    )
}

/// Describes how a run ended.
pub fn outcome_text(o: &RunOutcome) -> String {
    match o {
        RunOutcome::Exit(v) => format!("guest exit code {v:#x}"),
        RunOutcome::TripleFault(d) => format!("triple fault\n{d}"),
        RunOutcome::Reset => "reset requested (--no-reboot)".into(),
        RunOutcome::Halted(l) => l.clone(),
        RunOutcome::InstructionLimit => "instruction limit reached".into(),
        RunOutcome::HostQuit => "quit".into(),
        RunOutcome::PowerOff => "powered off (ACPI S5)".into(),
        RunOutcome::Breakpoint => "breakpoint".into(),
        RunOutcome::NoProgress(d) => d.clone(),
        RunOutcome::MediaError => "an image file failed under the guest".into(),
        RunOutcome::ReplayEnd => "the replay reached the end of its recording".into(),
        RunOutcome::ReplayDiverged(why) => format!("the replay diverged: {why}"),
    }
}
