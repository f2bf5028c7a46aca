//! The two CPUs side by side: ours (a whole [`Machine`], stepped with
//! external interrupts held off) and QEMU's (through its gdbstub), stepped
//! one instruction at a time and compared after each.

use super::compare::{our_reg, undefined_flags, Compare, Diff};
use super::qemu::Qemu;
use anyx86_cpu::arch::sreg;
use anyx86_debugger::disasm::{self, Line};
use anyx86_debugger::regs;
use anyx86_machine::{Machine, RunOutcome};
use iced_x86::{Instruction, Mnemonic, OpKind};

/// Most single steps QEMU may take to finish one REP instruction that ours
/// finished (its stub steps one iteration at a time).
const MAX_REP_STEPS: u64 = 1 << 22;

/// Why a lockstep run ended.
#[derive(Debug)]
pub enum End {
    /// The two CPUs differ: the report.
    Diverged(String),
    /// Both guests exited with this status (isa-debug-exit).
    Exited(i32),
    /// The comparison stopped before an instruction whose result depends
    /// on time or an interrupt (a timer read, HLT): the reason.
    Timed(String),
    /// The instruction limit ran out.
    Limit,
}

/// Both CPUs.
pub struct Pair {
    /// Ours.
    pub m: Machine,
    /// QEMU.
    pub q: Qemu,
    /// The comparison plan.
    pub cmp: Compare,
    /// Instructions compared so far.
    pub compared: u64,
    /// Last QEMU register image.
    pub last: Vec<u8>,
    /// The image before the last step (equal on both sides).
    pub before: Vec<u8>,
    /// Instructions (lower-case mnemonics) whose results are
    /// implementation-specific: after one, our registers take QEMU's
    /// values (the exclusions file's `insn` lines).
    pub sync_insns: Vec<String>,
    /// Linear addresses of ROM instructions after which our general
    /// registers take QEMU's values (the exclusions file's `take` lines:
    /// an instruction that reads a value QEMU gets wrong, such as RF in
    /// a fault frame's EFLAGS image).
    pub sync_at: Vec<u64>,
    /// Options of the random generator (the exclusions file's `gen`
    /// lines).
    pub gen_options: Vec<String>,
    /// The instruction the last step executed.
    pub last_ins: Instruction,
}

impl Pair {
    /// QEMU's registers, with the x87 stack in GDB's order.
    fn qemu_registers(&mut self) -> Result<Vec<u8>, String> {
        let mut img = self.q.gdb.read_registers().map_err(|e| e.to_string())?;
        self.cmp.normalize_qemu(&mut img);
        Ok(img)
    }

    /// Pairs a machine with a QEMU stopped at the same state.
    pub fn new(m: Machine, q: Qemu) -> Self {
        let cmp = Compare::new(q.regs.clone());
        Self {
            m,
            q,
            cmp,
            compared: 0,
            last: Vec::new(),
            before: Vec::new(),
            sync_insns: Vec::new(),
            sync_at: Vec::new(),
            gen_options: Vec::new(),
            last_ins: Instruction::default(),
        }
    }

    /// The instruction at our CS:RIP.
    pub fn current(&self) -> Option<Line> {
        let s = &self.m.cpu.s;
        let lin = s.seg[sreg::CS].base.wrapping_add(s.rip);
        disasm::decode_at(s, &self.m.board, lin, s.rip)
    }

    /// Compares the current states (before anything has run, or after a
    /// register or memory write to both).
    pub fn check_now(&mut self, what: &str) -> Result<Option<End>, String> {
        self.last = self.qemu_registers()?;
        let ours = self.cmp.image(&self.m.cpu.s);
        let d = self
            .cmp
            .diff(&self.last, &ours, self.m.cpu.s.bitness == 64, 0);
        Ok((!d.is_empty()).then(|| End::Diverged(format!("{what}\n{}", self.report(&d, None)))))
    }

    /// Steps both CPUs over one instruction and compares them. `stop`
    /// names a reason to end before executing `line` (a timed read).
    pub fn step(
        &mut self,
        stop: &dyn Fn(&Line, &Pair) -> Option<String>,
    ) -> Result<Option<End>, String> {
        // Code that is not mapped faults on fetch: both CPUs step into
        // the #PF handler.
        let line = self.current().unwrap_or_else(|| Line {
            lin: self.m.cpu.s.seg[sreg::CS]
                .base
                .wrapping_add(self.m.cpu.s.rip),
            ip: self.m.cpu.s.rip,
            bytes: Vec::new(),
            text: "(not mapped)".into(),
            ins: Instruction::default(),
        });
        if let Some(why) = stop(&line, self) {
            return Ok(Some(End::Timed(why)));
        }
        let rip0 = self.m.cpu.s.rip;
        let cs0 = self.m.cpu.s.seg[sreg::CS].selector;
        self.before = std::mem::take(&mut self.last);
        self.last_ins = line.ins;
        let ours = self.m.step(false);
        if let Some(end) = self.ours_ended(ours)? {
            return Ok(Some(end));
        }
        let reply = self.q.gdb.step().map_err(|e| e.to_string())?;
        if !reply.starts_with('T') && !reply.starts_with('S') {
            return Ok(Some(End::Diverged(format!(
                "QEMU stopped ({reply}) after {}; ours did not\n",
                line.text
            ))));
        }
        self.last = self.qemu_registers()?;
        if self.last == self.before && self.ip_differs() {
            // QEMU's stub answered the step with nothing executed and
            // nothing changed while ours moved on (seen with the host
            // under load: the vCPU's step was cut short before its first
            // instruction). A real instruction that changes nothing also
            // leaves our RIP where QEMU's is (JMP $), so this only retries
            // a step QEMU did not take.
            self.q.gdb.step().map_err(|e| e.to_string())?;
            self.last = self.qemu_registers()?;
        }
        if is_rep_string(&line.ins) {
            self.finish_rep(rip0, cs0)?;
        }
        if line.ins.mnemonic() == Mnemonic::Pause && self.ip_differs() {
            // QEMU's PAUSE leaves the CPU loop (helper_pause), and a
            // gdbstub step then runs on through the next instruction:
            // catch up.
            let out = self.m.step(false);
            if let Some(end) = self.ours_ended(out)? {
                return Ok(Some(end));
            }
        }
        self.compared += 1;
        self.compare(&line)
    }

    /// True when QEMU's instruction pointer is not ours.
    fn ip_differs(&self) -> bool {
        self.cmp.value(&self.last, "rip") & ip_mask(self) != self.m.cpu.s.rip
    }

    /// Our machine stopped (guest exit, triple fault): QEMU must stop the
    /// same way on its next step.
    fn ours_ended(&mut self, out: Option<RunOutcome>) -> Result<Option<End>, String> {
        let Some(out) = out else { return Ok(None) };
        // QEMU exits (closing the connection) or reports W/X.
        let _ = self.q.gdb.step();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let theirs = self.q.exited();
        let ours = out.exit_status();
        Ok(Some(match theirs {
            Some(t) if t == ours => End::Exited(ours),
            t => End::Diverged(format!(
                "ours ended ({out:?}, status {ours}); QEMU: {}\n",
                t.map_or("still running".into(), |t| format!("exit status {t}"))
            )),
        }))
    }

    /// After a REP string instruction: whichever side is still at it (one
    /// iteration per step for QEMU, 1024 per step for ours) steps on
    /// until it leaves it.
    fn finish_rep(&mut self, rip0: u64, cs0: u16) -> Result<(), String> {
        let ip = |p: &Pair| p.cmp.value(&p.last, "rip") & ip_mask(p);
        let at = |_: &Pair, rip: u64, cs: u16| rip == rip0 && cs == cs0;
        let mut n = 0;
        while n < MAX_REP_STEPS {
            let q_at = at(self, ip(self), self.cmp.value(&self.last, "cs") as u16);
            let o_at = at(self, self.m.cpu.s.rip, self.m.cpu.s.seg[sreg::CS].selector);
            match (q_at, o_at) {
                (true, _) => {
                    self.q.gdb.step().map_err(|e| e.to_string())?;
                    self.last = self.qemu_registers()?;
                }
                (false, true) => {
                    if self.m.step(false).is_some() {
                        break;
                    }
                }
                (false, false) => break,
            }
            n += 1;
        }
        Ok(())
    }

    /// Compares after `line` ran; syncs the flags it left undefined.
    fn compare(&mut self, line: &Line) -> Result<Option<End>, String> {
        let undef = undefined_flags(&line.ins);
        if excused_insn(&self.sync_insns, &line.ins) || self.sync_at.contains(&line.lin) {
            self.take_qemu_registers();
        }
        let ours = self.cmp.image(&self.m.cpu.s);
        let long64 = self.m.cpu.s.bitness == 64;
        let d = self.cmp.diff(&self.last, &ours, long64, undef);
        if !d.is_empty() {
            return Ok(Some(End::Diverged(self.report(&d, Some(line)))));
        }
        self.take_excused();
        if undef != 0 {
            // Take QEMU's value of the undefined flags, so a later
            // instruction reading them (ADC, Jcc, PUSHF) does not diverge
            // for a reason already excused.
            let theirs = self.cmp.value(&self.last, "eflags") as u32;
            let s = &mut self.m.cpu.s;
            s.flush_flags();
            s.flags = (s.flags & !undef) | (theirs & undef);
        }
        Ok(None)
    }

    /// Where the comparison excused a difference in an x87, XMM or MXCSR
    /// register (NaN payloads, MMX exponents, MXCSR.DE), ours takes
    /// QEMU's value, so later integer operations on it do not diverge.
    fn take_excused(&mut self) {
        let ours = self.cmp.image(&self.m.cpu.s);
        for name in self.cmp.names() {
            let synced = name.starts_with("xmm")
                || name == "mxcsr"
                || (name.starts_with("st") && name.len() == 3);
            let (Some(q), Some(o)) = (self.cmp.get(&self.last, &name), self.cmp.get(&ours, &name))
            else {
                continue;
            };
            if synced && q != o {
                if let Some(desc) = our_reg(&name) {
                    let q = q.to_vec();
                    regs::write_bytes(&mut self.m.cpu.s, &self.m.board, &desc, &q);
                }
            }
        }
    }

    /// Writes QEMU's general, flags and XMM registers into ours.
    fn take_qemu_registers(&mut self) {
        let long64 = self.m.cpu.s.bitness == 64;
        let ours = self.cmp.image(&self.m.cpu.s);
        for d in self.cmp.diff(&self.last, &ours, long64, 0) {
            let writable =
                d.name.starts_with('r') || d.name.starts_with("xmm") || d.name == "eflags";
            let (Some(desc), Some(bytes)) = (our_reg(&d.name), self.cmp.get(&self.last, &d.name))
            else {
                continue;
            };
            if writable && d.name != "rip" {
                let bytes = bytes.to_vec();
                regs::write_bytes(&mut self.m.cpu.s, &self.m.board, &desc, &bytes);
            }
        }
    }

    /// The divergence report: the instruction, the differing registers,
    /// both states.
    pub fn report(&self, d: &[Diff], line: Option<&Line>) -> String {
        let mut r = String::new();
        if let Some(l) = line {
            let bytes: Vec<String> = l.bytes.iter().map(|b| format!("{b:02x}")).collect();
            r += &format!(
                "divergence after instruction {} at {:#x} ({}): {}\n",
                self.compared,
                l.lin,
                bytes.join(" "),
                l.text
            );
        }
        r += "register        QEMU                              anyx86\n";
        for x in d {
            r += &format!("{:<15} {:<33} {}\n", x.name, x.qemu, x.ours);
        }
        r += &format!("QEMU:   {}\n", self.brief(&self.last));
        r += &format!("anyx86: {}\n", self.brief(&self.cmp.image(&self.m.cpu.s)));
        r
    }

    /// The main registers of an image on one line.
    fn brief(&self, img: &[u8]) -> String {
        let names = [
            "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "rip", "eflags", "cs", "ss",
            "cr0",
        ];
        names
            .iter()
            .map(|n| format!("{n}={:x}", self.cmp.value(img, n)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// True when the instruction's mnemonic or iced-x86 code name (both
/// lower case) is in `list`.
pub fn excused_insn(list: &[String], ins: &Instruction) -> bool {
    let m = format!("{:?}", ins.mnemonic()).to_lowercase();
    let c = format!("{:?}", ins.code()).to_lowercase();
    list.iter().any(|x| *x == m || *x == c)
}

/// Mask for QEMU's RIP: 32 bits outside 64-bit code.
fn ip_mask(p: &Pair) -> u64 {
    if p.m.cpu.s.bitness == 64 {
        u64::MAX
    } else {
        0xFFFF_FFFF
    }
}

/// A string instruction with a REP/REPE/REPNE prefix (its operands are
/// the string forms `[rSI]`/`ES:[rDI]`, which keeps SSE's MOVSD with its
/// F2 prefix out).
fn is_rep_string(ins: &Instruction) -> bool {
    (ins.has_rep_prefix() || ins.has_repne_prefix())
        && (0..ins.op_count()).any(|i| {
            matches!(
                ins.op_kind(i),
                OpKind::MemorySegSI
                    | OpKind::MemorySegESI
                    | OpKind::MemorySegRSI
                    | OpKind::MemoryESDI
                    | OpKind::MemoryESEDI
                    | OpKind::MemoryESRDI
            )
        })
}
