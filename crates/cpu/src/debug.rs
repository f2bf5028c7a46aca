//! Hooks for the debugger: a checked copy of the run loop and data
//! watchpoints seen by the MMU's slow path.
//!
//! Nothing here costs anything while the debugger is idle. [`Cpu::run`]
//! never calls a hook: the host picks [`Cpu::run_checked`] only while a
//! breakpoint is armed. Watchpoints keep the pages they cover out of the
//! TLB's fast path (as pages holding code are kept out of it for writes),
//! so only accesses to those pages reach the slow path that checks them.
//! Watchpoints are linear addresses, as GDB gives them; accesses the CPU
//! makes to descriptor tables and the TSS are not checked, and a REP
//! string instruction reports its hit at the end of its current slice.

use crate::arch::sreg;
use crate::bus::CpuBus;
use crate::mmu::Access;
use crate::state::CpuState;
use crate::{Cpu, RunExit};

/// Most watchpoints at once (each one is checked on every slow access).
pub const MAX_WATCHPOINTS: usize = 64;
/// Longest watched range, in bytes.
pub const MAX_WATCH_LEN: u64 = 4096;

/// The check [`Cpu::run_checked`] runs before every instruction: it sees
/// the state, the bus (to peek at memory) and the physical address of the
/// instruction, and returns true to stop before executing it.
pub type InsnCheck<'a, B> = &'a mut dyn FnMut(&CpuState, &B, u64) -> bool;

/// What a watchpoint watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchKind {
    /// Data reads.
    Read,
    /// Data writes.
    Write,
    /// Reads and writes.
    Access,
}

impl WatchKind {
    fn matches(self, write: bool) -> bool {
        match self {
            WatchKind::Read => !write,
            WatchKind::Write => write,
            WatchKind::Access => true,
        }
    }
}

/// One watched linear range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watchpoint {
    /// First linear address.
    pub lin: u64,
    /// Length in bytes (1..=[`MAX_WATCH_LEN`]).
    pub len: u64,
    /// Accesses that trigger it.
    pub kind: WatchKind,
}

/// A watchpoint that triggered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchHit {
    /// The watchpoint.
    pub watch: Watchpoint,
    /// Linear address of the access.
    pub lin: u64,
    /// The access was a write.
    pub write: bool,
}

/// The armed watchpoints and the last hit.
#[derive(Debug, Clone, Default)]
pub struct Watchpoints {
    list: Vec<Watchpoint>,
    /// The first watchpoint hit since the debugger last cleared it.
    pub hit: Option<WatchHit>,
    /// The guest's own data breakpoints (DR0-DR3 with R/W = 01 or 11):
    /// (linear address, length, writes only, DR index). Kept in sync with
    /// DR7 by [`CpuState::sync_guest_breakpoints`].
    guest: Vec<(u64, u64, bool, u8)>,
}

impl Watchpoints {
    /// True when no watchpoint is armed.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The armed watchpoints.
    pub fn list(&self) -> &[Watchpoint] {
        &self.list
    }

    /// True when a watchpoint covering the linear page `page` is
    /// triggered by accesses of kind `a`: such pages get slow TLB entries.
    #[inline]
    pub fn slows(&self, page: u64, a: Access) -> bool {
        if (self.list.is_empty() && self.guest.is_empty()) || a == Access::Exec {
            return false;
        }
        let write = a == Access::Write;
        let covers = |lin: u64, len: u64| {
            let last = lin.saturating_add(len - 1);
            lin & !0xFFF <= page && page <= last & !0xFFF
        };
        self.list
            .iter()
            .any(|w| w.kind.matches(write) && covers(w.lin, w.len))
            || self
                .guest
                .iter()
                .any(|&(lin, len, wo, _)| (write || !wo) && covers(lin, len))
    }

    /// DR6 B0-B3 bits of the guest data breakpoints an access hits.
    fn guest_hits(&self, lin: u64, n: u64, write: bool) -> u64 {
        let end = lin.saturating_add(n);
        self.guest
            .iter()
            .filter(|&&(a, len, wo, _)| (write || !wo) && lin < a.saturating_add(len) && a < end)
            .fold(0, |m, &(_, _, _, i)| m | 1 << i)
    }

    fn find(&self, lin: u64, n: u64, write: bool) -> Option<Watchpoint> {
        let end = lin.saturating_add(n);
        self.list
            .iter()
            .find(|w| w.kind.matches(write) && lin < w.lin.saturating_add(w.len) && w.lin < end)
            .copied()
    }
}

impl CpuState {
    /// Arms `list` (replacing every watchpoint); the TLB is flushed so the
    /// watched pages leave the fast path. Entries beyond
    /// [`MAX_WATCHPOINTS`] are dropped and lengths are clamped.
    pub fn set_watchpoints(&mut self, list: &[Watchpoint]) {
        self.watch.list = list
            .iter()
            .take(MAX_WATCHPOINTS)
            .map(|w| Watchpoint {
                len: w.len.clamp(1, MAX_WATCH_LEN),
                ..*w
            })
            .collect();
        self.watch.hit = None;
        self.tlb.flush_all();
    }

    /// Called by the slow path of linear reads and writes after
    /// translation: records a hit and ends the trace.
    #[inline]
    pub(crate) fn watch_note(&mut self, lin: u64, n: u8, write: bool) {
        if !self.watch.guest.is_empty() {
            let hits = self.watch.guest_hits(lin, u64::from(n), write);
            if hits != 0 {
                // A data breakpoint is a trap: taken after the instruction.
                self.pending_db |= hits;
                self.run.break_trace = true;
            }
        }
        if self.watch.list.is_empty() || self.watch.hit.is_some() {
            return;
        }
        if let Some(watch) = self.watch.find(lin, u64::from(n), write) {
            self.watch.hit = Some(WatchHit { watch, lin, write });
            self.run.break_trace = true;
        }
    }

    /// Re-derives the guest data breakpoints from DR0-DR3 and DR7 (after a
    /// MOV to a debug register): R/W = 01 (writes) and 11 (reads and
    /// writes) with lengths 1, 2, 4 or 8, the address aligned down to the
    /// length (SDM Vol. 3, 18.2.5). I/O breakpoints (R/W = 10) are not
    /// implemented.
    pub fn sync_guest_breakpoints(&mut self) {
        let dr7 = self.dr[7];
        let mut g = Vec::new();
        for i in 0..4u8 {
            let enabled = (dr7 >> (2 * i)) & 3 != 0;
            let rw = (dr7 >> (16 + 4 * i)) & 3;
            let len = match (dr7 >> (18 + 4 * i)) & 3 {
                0 => 1,
                1 => 2,
                2 => 8,
                _ => 4,
            };
            if enabled && (rw == 1 || rw == 3) {
                let lin = self.wrap_lin(self.dr[usize::from(i)]) & !(len - 1);
                g.push((lin, len, rw == 1, i));
            }
        }
        if g != self.watch.guest {
            self.watch.guest = g;
            self.tlb.flush_all();
        }
    }

    /// Linear address of the current instruction (CS base + IP).
    pub fn pc_linear(&self) -> u64 {
        self.wrap_lin(self.seg[sreg::CS].base.wrapping_add(self.rip))
    }
}

impl<B: CpuBus> Cpu<B> {
    /// [`Cpu::run`] with `check` called before every instruction: returns
    /// [`RunExit::Breakpoint`] when `check` says stop (before that
    /// instruction) or after an instruction that hit a watchpoint.
    pub fn run_checked(&mut self, bus: &mut B, budget: u64, check: InsnCheck<'_, B>) -> RunExit {
        self.run_loop::<true>(bus, budget, check)
    }

    /// Executes exactly one instruction without taking external
    /// interrupts first (a debugger single-step with interrupts held off,
    /// like QEMU's default step mask).
    pub fn step_no_irq(&mut self, bus: &mut B) -> RunExit {
        self.step_with::<false>(bus)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cpuid::CpuModel;
    use crate::singlestep::FlatBus;

    /// A real-mode CPU at 0000:0100 running `code`, in 64 KiB of RAM
    /// filled with HLT.
    pub(crate) fn cpu_with(code: &[u8]) -> (Cpu<FlatBus>, FlatBus) {
        let mut bus = FlatBus::with_size(0x10000);
        bus.ram.fill(0xF4);
        bus.ram[0x100..0x100 + code.len()].copy_from_slice(code);
        let mut cpu = Cpu::new(CpuModel::qemu32());
        cpu.s.seg[sreg::CS] = crate::Segment::real(0, cpu.s.seg[sreg::CS].attr);
        cpu.s.rip = 0x100;
        (cpu, bus)
    }

    /// Sets one watchpoint.
    fn watch(cpu: &mut Cpu<FlatBus>, lin: u64, len: u64, kind: WatchKind) {
        cpu.s.set_watchpoints(&[Watchpoint { lin, len, kind }]);
    }

    // mov [0x2000], al ; mov [0x3000], al ; hlt
    const TWO_STORES: [u8; 7] = [0xA2, 0x00, 0x20, 0xA2, 0x00, 0x30, 0xF4];

    /// Runs `code` with one watchpoint until it stops: how, at which IP,
    /// and the hit (address, write).
    fn run_watched(
        code: &[u8],
        (lin, len, kind): (u64, u64, WatchKind),
    ) -> (RunExit, u64, Option<(u64, bool)>) {
        let (mut cpu, mut bus) = cpu_with(code);
        watch(&mut cpu, lin, len, kind);
        let exit = cpu.run_checked(&mut bus, 100, &mut |_, _, _| false);
        (exit, cpu.s.rip, cpu.s.watch.hit.map(|h| (h.lin, h.write)))
    }

    #[test]
    fn a_write_watchpoint_stops_after_the_storing_instruction() {
        let got = run_watched(&TWO_STORES, (0x3000, 1, WatchKind::Write));
        // Stopped after the second store.
        assert_eq!(got, (RunExit::Breakpoint, 0x106, Some((0x3000, true))));
    }

    #[test]
    fn a_read_watchpoint_ignores_writes() {
        let got = run_watched(&TWO_STORES, (0x2000, 4, WatchKind::Read));
        // Ran to the HLT and stopped after it.
        assert_eq!(got, (RunExit::Halted, 0x107, None));
    }

    #[test]
    fn a_read_watchpoint_sees_the_read_of_a_read_modify_write() {
        // mov [0x3000], al ; add [0x3000], al ; hlt. The store makes the
        // page's write entry fast (a read watch does not slow writes); the
        // ADD must still take the read entry's slow path.
        let code = [0xA2, 0x00, 0x30, 0x00, 0x06, 0x00, 0x30];
        let got = run_watched(&code, (0x3000, 1, WatchKind::Read));
        // Stopped after the ADD.
        assert_eq!(got, (RunExit::Breakpoint, 0x107, Some((0x3000, false))));
    }

    #[test]
    fn the_check_stops_before_the_instruction_at_its_address() {
        let (mut cpu, mut bus) = cpu_with(&TWO_STORES);
        let exit = cpu.run_checked(&mut bus, 100, &mut |_, _, phys| phys == 0x103);
        assert_eq!(exit, RunExit::Breakpoint);
        assert_eq!(cpu.s.rip, 0x103);
        assert_eq!(cpu.s.icount, 1);
    }

    // cmp ax, 5 ; je +2 ; nop ; nop ; hlt: the CMP and the JE become one
    // fused record in a trace.
    const CMP_JE: [u8; 8] = [0x83, 0xF8, 0x05, 0x74, 0x02, 0x90, 0x90, 0xF4];

    #[test]
    fn a_check_sees_the_jcc_of_a_fused_pair() {
        let (mut cpu, mut bus) = cpu_with(&CMP_JE);
        cpu.s.gpr[0] = 5;
        let exit = cpu.run_checked(&mut bus, 100, &mut |_, _, phys| phys == 0x103);
        assert_eq!(exit, RunExit::Breakpoint);
        assert_eq!((cpu.s.rip, cpu.s.icount), (0x103, 1));
    }

    #[test]
    fn a_fused_pair_retires_two_instructions_and_steps_one_at_a_time() {
        let (mut cpu, mut bus) = cpu_with(&CMP_JE);
        cpu.s.gpr[0] = 5;
        assert_eq!(cpu.run(&mut bus, 100), RunExit::Halted);
        // cmp, je (taken over the two nops), hlt.
        assert_eq!((cpu.s.rip, cpu.s.icount), (0x108, 3));

        let (mut cpu, mut bus) = cpu_with(&CMP_JE);
        cpu.s.gpr[0] = 4;
        assert_eq!(cpu.step(&mut bus), RunExit::Budget);
        assert_eq!((cpu.s.rip, cpu.s.icount), (0x103, 1));
        assert_eq!(cpu.step(&mut bus), RunExit::Budget);
        assert_eq!((cpu.s.rip, cpu.s.icount), (0x105, 2), "not taken");
        assert_eq!(cpu.run(&mut bus, 100), RunExit::Halted);
        assert_eq!((cpu.s.rip, cpu.s.icount), (0x108, 5));
    }

    #[test]
    fn a_fused_jcc_past_the_cs_limit_faults_after_the_cmp_retired() {
        // je +0x10 from 0x105 targets 0x115, past a CS limit of 0x10F;
        // the trace itself (0x100-0x105) fits.
        let mut code = CMP_JE;
        code[4] = 0x10;
        let (mut cpu, mut bus) = gp_to_hlt(&code, 0x10A, Some(0x10F));
        assert_eq!(cpu.run(&mut bus, 100), RunExit::Halted);
        assert_eq!(cpu.s.rip, 0x10B);
        assert_eq!(word(&bus, 0x8000 - 6), 0x103, "#GP points at the JE");
        assert_ne!(word(&bus, 0x8000 - 2) & 0x40, 0, "the CMP's ZF was pushed");
        assert_eq!(cpu.s.icount, 2, "cmp and hlt retired");
    }

    /// A CPU running `code` with AX = 5 and SP = 0x8000, its #GP vector
    /// pointing at the HLT at 0000:`handler`, and CS's limit `limit`.
    fn gp_to_hlt(code: &[u8], handler: u16, limit: Option<u32>) -> (Cpu<FlatBus>, FlatBus) {
        let (mut cpu, mut bus) = cpu_with(code);
        cpu.s.gpr[0] = 5;
        cpu.s.gpr[4] = 0x8000;
        if let Some(limit) = limit {
            cpu.s.seg[sreg::CS].limit = limit;
            cpu.s.seg[sreg::CS] = cpu.s.seg[sreg::CS].refresh();
        }
        let [lo, hi] = handler.to_le_bytes();
        bus.ram[13 * 4..13 * 4 + 4].copy_from_slice(&[lo, hi, 0x00, 0x00]);
        (cpu, bus)
    }

    /// The word at physical `a`.
    fn word(bus: &FlatBus, a: usize) -> u16 {
        u16::from_le_bytes([bus.ram[a], bus.ram[a + 1]])
    }

    // Threaded dispatch: records after the first run chained from their
    // predecessors' handlers, without the run loop in between.

    #[test]
    fn a_fault_inside_a_chain_points_at_the_faulting_instruction() {
        // mov ax, 1 ; mov bx, 2 ; mov cx, [0xFFFF] (#GP: past DS's limit)
        let code = [0xB8, 0x01, 0x00, 0xBB, 0x02, 0x00, 0x8B, 0x0E, 0xFF, 0xFF];
        let (mut cpu, mut bus) = gp_to_hlt(&code, 0x120, None);
        assert_eq!(cpu.run(&mut bus, 100), RunExit::Halted);
        assert_eq!(word(&bus, 0x8000 - 6), 0x106, "#GP points at the third MOV");
        assert_eq!(
            (cpu.s.gpr[0], cpu.s.gpr[3]),
            (1, 2),
            "the first two retired"
        );
        assert_eq!(cpu.s.icount, 3, "two MOVs and the handler's HLT");
    }

    #[test]
    fn a_fused_jcc_inside_a_chain_faults_after_its_cmp() {
        // mov bx, 2 ; cmp ax, 5 ; je +0x10 (past a CS limit of 0x10F)
        let code = [0xBB, 0x02, 0x00, 0x83, 0xF8, 0x05, 0x74, 0x10];
        let (mut cpu, mut bus) = gp_to_hlt(&code, 0x10A, Some(0x10F));
        assert_eq!(cpu.run(&mut bus, 100), RunExit::Halted);
        assert_eq!(word(&bus, 0x8000 - 6), 0x106, "#GP points at the JE");
        assert_eq!(cpu.s.icount, 3, "mov, cmp and the handler's HLT");
    }

    #[test]
    fn an_instruction_after_a_chain_sees_its_own_rip_and_count() {
        // mov ax, 1 ; mov bx, 2 ; fld1 ; fnstenv [0x3000] ; rdtsc ; hlt
        let code = [
            0xB8, 0x01, 0x00, 0xBB, 0x02, 0x00, 0xD9, 0xE8, 0xD9, 0x36, 0x00, 0x30, 0x0F, 0x31,
        ];
        let (mut cpu, mut bus) = cpu_with(&code);
        assert_eq!(cpu.run(&mut bus, 100), RunExit::Halted);
        assert_eq!(word(&bus, 0x3006), 0x106, "FIP is the FLD1's address");
        // The test bus's TSC is the instruction count: RDTSC was the 5th.
        assert_eq!(cpu.s.gpr[0], 4);
    }

    #[test]
    fn only_watched_pages_leave_the_fast_path() {
        let mut s = CpuState::new(CpuModel::qemu32());
        let w = Watchpoint {
            lin: 0x1FFF,
            len: 2,
            kind: WatchKind::Access,
        };
        s.set_watchpoints(&[w]);
        assert!(s.watch.slows(0x1000, Access::Read));
        assert!(s.watch.slows(0x2000, Access::Write));
        assert!(!s.watch.slows(0x3000, Access::Write));
        assert!(!s.watch.slows(0x1000, Access::Exec));
    }
}
