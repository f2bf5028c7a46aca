//! The GDB remote stub, on the `gdbstub` crate.
//!
//! The stub listens on loopback by default. Until a client connects the
//! guest runs its ordinary loop, polling the listener once per slice;
//! once attached, the guest runs the ordinary loop too while nothing is
//! armed (the connection is polled for Ctrl-C once per slice), and the
//! checked loop of [`Debugger`](crate::engine::Debugger) while breakpoints
//! or watchpoints are set. Breakpoints are kept by the emulator (no INT3
//! is written to guest memory). Addresses from GDB are linear; EIP is the
//! offset within CS. `monitor` runs the built-in debugger's view and
//! breakpoint commands ([`crate::session`]).

use crate::engine::{BreakAt, Owner, StopWhy};
use crate::regs::{self, RegDesc};
use crate::reverse::Reverse;
use crate::session::Session;
use crate::view;
use anyx86_cpu::arch::efer;
use anyx86_cpu::debug::WatchKind as CpuWatch;
use anyx86_machine::{Board, HostControl, HostHook, Machine, RunOutcome};
use gdbstub::arch::{Arch, RegId, Registers};
use gdbstub::common::Signal;
use gdbstub::conn::ConnectionExt;
use gdbstub::stub::{run_blocking, DisconnectReason, GdbStub, SingleThreadStopReason};
use gdbstub::target::ext::base::reverse_exec::{
    ReplayLogPosition, ReverseCont, ReverseContOps, ReverseStep, ReverseStepOps,
};
use gdbstub::target::ext::base::single_register_access::{
    SingleRegisterAccess, SingleRegisterAccessOps,
};
use gdbstub::target::ext::base::singlethread::{
    SingleThreadBase, SingleThreadResume, SingleThreadResumeOps, SingleThreadSingleStep,
    SingleThreadSingleStepOps,
};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, HwBreakpoint, HwBreakpointOps, HwWatchpoint, HwWatchpointOps,
    SwBreakpoint, SwBreakpointOps, WatchKind,
};
use gdbstub::target::ext::monitor_cmd::{outputln, ConsoleOutput, MonitorCmd, MonitorCmdOps};
use gdbstub::target::ext::target_description_xml_override::{
    TargetDescriptionXmlOverride, TargetDescriptionXmlOverrideOps,
};
use gdbstub::target::{Target, TargetError, TargetResult};
use std::marker::PhantomData;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::num::NonZeroUsize;
use std::time::Duration;

/// Longest the host hook may block while GDB is attached (Ctrl-C
/// latency).
const POLL: Duration = Duration::from_millis(10);

/// Errors starting the stub.
#[derive(Debug, thiserror::Error)]
pub enum GdbError {
    /// The address does not parse or resolve.
    #[error("bad --gdb address '{0}': {1}")]
    Address(String, String),
    /// A non-loopback address without `--gdb-allow-remote`.
    #[error("refusing to listen on non-loopback {0} without --gdb-allow-remote")]
    NotLoopback(SocketAddr),
    /// Binding failed.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    /// Accepting a connection failed.
    #[error("accepting a GDB connection: {0}")]
    Accept(std::io::Error),
}

/// How to run the stub.
#[derive(Debug, Clone)]
pub struct GdbConfig {
    /// `HOST:PORT` to listen on.
    pub addr: String,
    /// Stop before the first instruction and wait for GDB.
    pub wait: bool,
    /// Allow a non-loopback address.
    pub allow_remote: bool,
}

/// Resolves `addr` and applies the loopback rule.
pub fn resolve(addr: &str, allow_remote: bool) -> Result<SocketAddr, GdbError> {
    let a = addr
        .to_socket_addrs()
        .map_err(|e| GdbError::Address(addr.into(), e.to_string()))?
        .next()
        .ok_or_else(|| GdbError::Address(addr.into(), "no address".into()))?;
    if !a.ip().is_loopback() && !allow_remote {
        return Err(GdbError::NotLoopback(a));
    }
    Ok(a)
}

/// Runs `m` with the GDB stub until the guest's run ends or GDB kills
/// it. `host` is the console's hook (serial input, Ctrl-A x).
pub fn run(
    m: &mut Machine,
    cfg: &GdbConfig,
    max: Option<u64>,
    host: HostHook<'_>,
) -> Result<RunOutcome, GdbError> {
    let addr = resolve(&cfg.addr, cfg.allow_remote)?;
    let listener = TcpListener::bind(addr).map_err(|e| GdbError::Bind(addr, e))?;
    let local = listener.local_addr().unwrap_or(addr);
    eprintln!("anyx86: gdb stub listening on {local}");
    let mut sess = Session::new(max);
    let mut wait = cfg.wait;
    loop {
        let stream = if wait {
            listener.accept().map_err(GdbError::Accept)?.0
        } else {
            match run_until_connect(m, &listener, max, host) {
                Ok(s) => s,
                Err(outcome) => return Ok(outcome),
            }
        };
        wait = false;
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_nodelay(true);
        eprintln!("anyx86: gdb attached");
        match attach(m, &mut sess, stream, host) {
            Some(outcome) => return Ok(outcome),
            None => {
                sess.dbg.clear(m, false);
                eprintln!("anyx86: gdb detached; the guest runs on");
            }
        }
    }
}

/// Runs the guest until a client connects (`Ok`) or the run ends.
fn run_until_connect(
    m: &mut Machine,
    listener: &TcpListener,
    max: Option<u64>,
    host: HostHook<'_>,
) -> Result<TcpStream, RunOutcome> {
    if listener.set_nonblocking(true).is_err() {
        return Err(m.run_with(max, host));
    }
    let mut conn = None;
    let out = m.run_with(max, &mut |b, n, idle| {
        if let Ok((s, _)) = listener.accept() {
            conn = Some(s);
            return HostControl::Quit;
        }
        host(b, n, idle.map(|d| d.min(POLL * 5)))
    });
    let _ = listener.set_nonblocking(false);
    conn.ok_or(out)
}

/// One GDB session; `Some` when the run ended (exit, kill), `None` on
/// detach or a broken connection. The register layout is chosen here,
/// once per connection: GDB cannot change it mid-session.
pub(crate) fn attach<C: Link>(
    m: &mut Machine,
    sess: &mut Session,
    stream: C,
    host: HostHook<'_>,
) -> Option<RunOutcome> {
    if has_long_mode(m) {
        attach_as::<Amd64, C>(m, sess, stream, host)
    } else if m.cpu.model.features_edx & anyx86_cpu::cpuid::edx1::SSE != 0 {
        attach_as::<I386Sse, C>(m, sess, stream, host)
    } else {
        attach_as::<I386, C>(m, sess, stream, host)
    }
}

fn attach_as<A: X86Arch, C: Link>(
    m: &mut Machine,
    sess: &mut Session,
    stream: C,
    host: HostHook<'_>,
) -> Option<RunOutcome> {
    let mut t = GdbTarget::<A> {
        m,
        sess,
        host,
        exec: Exec::Continue,
        xml: regs::target_xml(A::LAYOUT),
        ended: None,
        _arch: PhantomData,
    };
    let stub = GdbStub::new(stream);
    match stub.run_blocking::<EventLoop<'_, '_, '_, A, C>>(&mut t) {
        Ok(DisconnectReason::Disconnect) => None,
        Ok(DisconnectReason::Kill) => {
            eprintln!("anyx86: killed by gdb");
            Some(RunOutcome::HostQuit)
        }
        Ok(DisconnectReason::TargetExited(_) | DisconnectReason::TargetTerminated(_)) => {
            Some(t.ended.take().unwrap_or(RunOutcome::HostQuit))
        }
        Err(e) => {
            eprintln!("anyx86: gdb connection ended: {e}");
            t.ended.take()
        }
    }
}

/// A connection to GDB: a TCP stream, or the fuzzing harness's bytes.
pub trait Link: ConnectionExt<Error = std::io::Error> {
    /// Whether GDB sent something (or hung up): the running guest stops
    /// to let the stub read it.
    fn has_input(&mut self) -> bool;
}

impl Link for TcpStream {
    fn has_input(&mut self) -> bool {
        ConnectionExt::peek(self).map_or(true, |x| x.is_some())
    }
}

/// CPUID 8000_0001h EDX bit 29: long mode.
const CPUID_LM: u32 = 1 << 29;

/// Whether the machine's CPU model reports long mode (and so gets the
/// amd64 description, from the first connection on, in every mode).
fn has_long_mode(m: &Machine) -> bool {
    m.cpu.model.ext_edx & CPUID_LM != 0
}

/// A register layout GDB can be given: [`I386`], [`I386Sse`] or [`Amd64`]. Addresses
/// are `u64` in both (an i386 GDB sends at most 32 bits).
pub trait X86Arch:
    Arch<Usize = u64, Registers = X86Regs<Self>, RegId = RegNum<Self>, BreakpointKind = usize>
    + std::fmt::Debug
    + Clone
    + PartialEq
    + Default
{
    /// The target description.
    const LAYOUT: &'static regs::Layout;
}

/// The i386 description ([`regs::I386_LAYOUT`]), for a CPU without long
/// mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct I386;

/// The i386 description with the SSE feature ([`regs::I386_SSE_LAYOUT`]),
/// for a CPU without long mode that reports SSE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct I386Sse;

/// The amd64 description ([`regs::AMD64_LAYOUT`]), for a CPU with long
/// mode, whatever mode it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Amd64;

impl X86Arch for I386 {
    const LAYOUT: &'static regs::Layout = &regs::I386_LAYOUT;
}

impl X86Arch for I386Sse {
    const LAYOUT: &'static regs::Layout = &regs::I386_SSE_LAYOUT;
}

impl X86Arch for Amd64 {
    const LAYOUT: &'static regs::Layout = &regs::AMD64_LAYOUT;
}

/// The `g` packet: every register of the layout in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct X86Regs<A> {
    /// Little-endian bytes of all registers.
    pub bytes: Vec<u8>,
    _arch: PhantomData<A>,
}

impl<A: X86Arch> X86Regs<A> {
    /// The registers as `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        X86Regs {
            bytes,
            _arch: PhantomData,
        }
    }
}

impl<A: X86Arch> Registers for X86Regs<A> {
    type ProgramCounter = u64;

    fn pc(&self) -> u64 {
        let l = A::LAYOUT;
        let off: usize = l.regs[..l.pc].iter().map(regs::size_of).sum();
        let n = regs::size_of(&l.regs[l.pc]);
        self.bytes.get(off..off + n).map_or(0, regs::le)
    }

    fn gdb_serialize(&self, mut write_byte: impl FnMut(Option<u8>)) {
        for b in &self.bytes {
            write_byte(Some(*b));
        }
    }

    fn gdb_deserialize(&mut self, bytes: &[u8]) -> Result<(), ()> {
        self.bytes = bytes.to_vec();
        Ok(())
    }
}

/// A register number of the target description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegNum<A>(pub usize, PhantomData<A>);

impl<A: X86Arch> RegId for RegNum<A> {
    fn from_raw_id(id: usize) -> Option<(Self, Option<NonZeroUsize>)> {
        let d = A::LAYOUT.regs.get(id)?;
        Some((RegNum(id, PhantomData), NonZeroUsize::new(regs::size_of(d))))
    }
}

impl Arch for I386 {
    type Usize = u64;
    type Registers = X86Regs<I386>;
    type BreakpointKind = usize;
    type RegId = RegNum<I386>;
}

impl Arch for I386Sse {
    type Usize = u64;
    type Registers = X86Regs<I386Sse>;
    type BreakpointKind = usize;
    type RegId = RegNum<I386Sse>;
}

impl Arch for Amd64 {
    type Usize = u64;
    type Registers = X86Regs<Amd64>;
    type BreakpointKind = usize;
    type RegId = RegNum<Amd64>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exec {
    Continue,
    Step,
    ReverseStep,
    ReverseCont,
}

struct GdbTarget<'a, 's, 'h, A> {
    m: &'a mut Machine,
    sess: &'s mut Session,
    host: HostHook<'h>,
    exec: Exec,
    xml: String,
    ended: Option<RunOutcome>,
    _arch: PhantomData<A>,
}

type StopReason = SingleThreadStopReason<u64>;

impl<A: X86Arch> GdbTarget<'_, '_, '_, A> {
    fn desc(&self, id: usize) -> Option<RegDesc> {
        A::LAYOUT.regs.get(id).copied()
    }

    /// The linear address GDB means by `addr`, if it can be one: 48-bit
    /// canonical while IA-32e mode is active, 32 bits otherwise.
    fn linear(&self, addr: u64) -> Option<u64> {
        let s = &self.m.cpu.s;
        if s.efer & efer::LMA != 0 {
            view::canonical(addr).then_some(addr)
        } else {
            u32::try_from(addr).ok().map(u64::from)
        }
    }

    fn stop_for(&mut self, o: RunOutcome) -> StopReason {
        match o {
            RunOutcome::Breakpoint => match self.sess.dbg.why.take() {
                Some(w) => self.stop_why(w),
                None => StopReason::Signal(Signal::SIGTRAP),
            },
            RunOutcome::Exit(_) | RunOutcome::PowerOff | RunOutcome::MediaError => {
                let code = o.exit_status() as u8;
                self.ended = Some(o);
                StopReason::Exited(code)
            }
            RunOutcome::HostQuit => {
                self.ended = Some(o);
                StopReason::Terminated(Signal::SIGKILL)
            }
            RunOutcome::TripleFault(d) | RunOutcome::NoProgress(d) => {
                eprintln!("anyx86: {d}");
                StopReason::Signal(Signal::SIGSEGV)
            }
            RunOutcome::Halted(l) => {
                eprintln!("anyx86: {l}");
                StopReason::Signal(Signal::SIGSTOP)
            }
            RunOutcome::Reset => StopReason::Signal(Signal::SIGHUP),
            RunOutcome::InstructionLimit => StopReason::Signal(Signal::SIGXCPU),
            RunOutcome::ReplayEnd => StopReason::ReplayLog {
                tid: None,
                pos: ReplayLogPosition::End,
            },
            RunOutcome::ReplayDiverged(why) => {
                eprintln!("anyx86: replay diverged: {why}");
                StopReason::Signal(Signal::SIGABRT)
            }
        }
    }

    fn stop_why(&self, w: StopWhy) -> StopReason {
        match w {
            StopWhy::Break(b) if b.owner == Owner::GdbSw => StopReason::SwBreak(()),
            StopWhy::Break(b) if b.owner == Owner::GdbHw => StopReason::HwBreak(()),
            StopWhy::Watch(h) => {
                let kind = match h.watch.kind {
                    CpuWatch::Read => WatchKind::Read,
                    CpuWatch::Write => WatchKind::Write,
                    CpuWatch::Access => WatchKind::ReadWrite,
                };
                StopReason::Watch {
                    tid: (),
                    kind,
                    addr: h.lin.max(h.watch.lin),
                }
            }
            _ => StopReason::Signal(Signal::SIGTRAP),
        }
    }

    fn step(&mut self) -> StopReason {
        match self.sess.dbg.step(self.m) {
            Some(o) => self.stop_for(o),
            None => match self.sess.dbg.why.take() {
                Some(w @ StopWhy::Watch(_)) => self.stop_why(w),
                _ => StopReason::DoneStep,
            },
        }
    }

    /// A reverse step or continue (`--time-travel`).
    fn reverse(&mut self) -> StopReason {
        let r = if self.exec == Exec::ReverseStep {
            self.sess.dbg.reverse_step(self.m)
        } else {
            let host = &mut self.host;
            self.sess.dbg.reverse_continue(self.m, &mut **host)
        };
        match r {
            Ok(Reverse::Stopped(None)) => StopReason::DoneStep,
            Ok(Reverse::Stopped(Some(w))) => self.stop_why(w),
            Ok(Reverse::StartOfHistory) => StopReason::ReplayLog {
                tid: None,
                pos: ReplayLogPosition::Begin,
            },
            Ok(Reverse::Ended(o)) => self.stop_for(o),
            Err(e) => {
                eprintln!("anyx86: {e}");
                StopReason::Signal(Signal::SIGTRAP)
            }
        }
    }

    /// Runs until a stop; `Err(())` when data arrived from GDB first.
    fn cont<C: Link>(&mut self, conn: &mut C) -> Result<StopReason, ()> {
        let mut incoming = false;
        let host = &mut self.host;
        let mut hook = |b: &mut Board, n: u64, idle: Option<Duration>| {
            if conn.has_input() {
                incoming = true;
                return HostControl::Quit;
            }
            host(b, n, idle.map(|d| d.min(POLL)))
        };
        let max = self.sess.max;
        let out = self.sess.dbg.run(self.m, max, &mut hook);
        if incoming {
            return Err(());
        }
        Ok(self.stop_for(out))
    }
}

impl<A: X86Arch> Target for GdbTarget<'_, '_, '_, A> {
    type Arch = A;
    type Error = &'static str;

    fn base_ops(&mut self) -> BaseOps<'_, A, &'static str> {
        BaseOps::SingleThread(self)
    }

    fn guard_rail_implicit_sw_breakpoints(&self) -> bool {
        true
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }

    fn support_monitor_cmd(&mut self) -> Option<MonitorCmdOps<'_, Self>> {
        Some(self)
    }

    fn support_target_description_xml_override(
        &mut self,
    ) -> Option<TargetDescriptionXmlOverrideOps<'_, Self>> {
        Some(self)
    }
}

impl<A: X86Arch> SingleThreadBase for GdbTarget<'_, '_, '_, A> {
    fn read_registers(&mut self, r: &mut X86Regs<A>) -> TargetResult<(), Self> {
        r.bytes = regs::read_all(&self.m.cpu.s, A::LAYOUT.regs);
        Ok(())
    }

    fn write_registers(&mut self, r: &X86Regs<A>) -> TargetResult<(), Self> {
        let m = &mut *self.m;
        regs::write_all(&mut m.cpu.s, &m.board, A::LAYOUT.regs, &r.bytes);
        m.journal_cpu_written();
        Ok(())
    }

    fn read_addrs(&mut self, start: u64, data: &mut [u8]) -> TargetResult<usize, Self> {
        let n = match self.linear(start) {
            Some(lin) => view::read_linear(&self.m.cpu.s, &self.m.board, lin, data),
            None => 0,
        };
        if n == 0 && !data.is_empty() {
            return Err(TargetError::Errno(14));
        }
        Ok(n)
    }

    fn write_addrs(&mut self, start: u64, data: &[u8]) -> TargetResult<(), Self> {
        let lin = self.linear(start).ok_or(TargetError::Errno(14))?;
        view::write_linear(self.m, lin, data).map_err(|_| TargetError::Errno(14))
    }

    fn support_resume(&mut self) -> Option<SingleThreadResumeOps<'_, Self>> {
        Some(self)
    }

    fn support_single_register_access(&mut self) -> Option<SingleRegisterAccessOps<'_, (), Self>> {
        Some(self)
    }
}

impl<A: X86Arch> SingleRegisterAccess<()> for GdbTarget<'_, '_, '_, A> {
    fn read_register(&mut self, _: (), id: RegNum<A>, buf: &mut [u8]) -> TargetResult<usize, Self> {
        let d = self.desc(id.0).ok_or(TargetError::NonFatal)?;
        let v = regs::read_bytes(&self.m.cpu.s, &d);
        let n = v.len().min(buf.len());
        buf[..n].copy_from_slice(&v[..n]);
        Ok(n)
    }

    fn write_register(&mut self, _: (), id: RegNum<A>, val: &[u8]) -> TargetResult<(), Self> {
        let d = self.desc(id.0).ok_or(TargetError::NonFatal)?;
        let m = &mut *self.m;
        regs::write_bytes(&mut m.cpu.s, &m.board, &d, val);
        m.journal_cpu_written();
        Ok(())
    }
}

impl<A: X86Arch> SingleThreadResume for GdbTarget<'_, '_, '_, A> {
    fn resume(&mut self, _signal: Option<Signal>) -> Result<(), &'static str> {
        // A signal GDB passes back has no meaning for a bare machine.
        self.exec = Exec::Continue;
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<SingleThreadSingleStepOps<'_, Self>> {
        Some(self)
    }

    fn support_reverse_step(&mut self) -> Option<ReverseStepOps<'_, (), Self>> {
        Some(self)
    }

    fn support_reverse_cont(&mut self) -> Option<ReverseContOps<'_, (), Self>> {
        Some(self)
    }
}

impl<A: X86Arch> ReverseStep<()> for GdbTarget<'_, '_, '_, A> {
    fn reverse_step(&mut self, _: ()) -> Result<(), &'static str> {
        self.exec = Exec::ReverseStep;
        Ok(())
    }
}

impl<A: X86Arch> ReverseCont<()> for GdbTarget<'_, '_, '_, A> {
    fn reverse_cont(&mut self) -> Result<(), &'static str> {
        self.exec = Exec::ReverseCont;
        Ok(())
    }
}

impl<A: X86Arch> SingleThreadSingleStep for GdbTarget<'_, '_, '_, A> {
    fn step(&mut self, _signal: Option<Signal>) -> Result<(), &'static str> {
        self.exec = Exec::Step;
        Ok(())
    }
}

impl<A: X86Arch> Breakpoints for GdbTarget<'_, '_, '_, A> {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

impl<A: X86Arch> SwBreakpoint for GdbTarget<'_, '_, '_, A> {
    fn add_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        let at = BreakAt::Linear(addr);
        Ok(self.sess.dbg.add_break(at, Owner::GdbSw).is_ok())
    }

    fn remove_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        let at = BreakAt::Linear(addr);
        Ok(self.sess.dbg.remove_break_at(at, Owner::GdbSw))
    }
}

impl<A: X86Arch> HwBreakpoint for GdbTarget<'_, '_, '_, A> {
    fn add_hw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        let at = BreakAt::Linear(addr);
        Ok(self.sess.dbg.add_break(at, Owner::GdbHw).is_ok())
    }

    fn remove_hw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        let at = BreakAt::Linear(addr);
        Ok(self.sess.dbg.remove_break_at(at, Owner::GdbHw))
    }
}

fn cpu_watch(kind: WatchKind) -> CpuWatch {
    match kind {
        WatchKind::Write => CpuWatch::Write,
        WatchKind::Read => CpuWatch::Read,
        WatchKind::ReadWrite => CpuWatch::Access,
    }
}

impl<A: X86Arch> HwWatchpoint for GdbTarget<'_, '_, '_, A> {
    fn add_hw_watchpoint(
        &mut self,
        addr: u64,
        len: u64,
        kind: WatchKind,
    ) -> TargetResult<bool, Self> {
        let r = self
            .sess
            .dbg
            .add_watch(self.m, addr, len, cpu_watch(kind), true);
        Ok(r.is_ok())
    }

    fn remove_hw_watchpoint(
        &mut self,
        addr: u64,
        len: u64,
        kind: WatchKind,
    ) -> TargetResult<bool, Self> {
        Ok(self
            .sess
            .dbg
            .remove_watch(self.m, addr, len, cpu_watch(kind)))
    }
}

/// `monitor help`.
pub const MONITOR_HELP: &str = "\
anyx86 monitor commands (addresses: 0x.. hex, SEG:OFF hex halves):
  mode                    current CPU mode, CS:IP and its linear address
  break SEG:OFF           stop at CS:IP exactly (real-mode code)
  lb ADDR | pb ADDR       stop at a linear / physical address
  break mode | modebp     stop when the CPU mode changes
  bl | bd N               list / delete monitor breakpoints
  x [/N] ADDR | xp [/N] ADDR   dump linear / physical memory
  u [SEG:OFF|ADDR] [N]    disassemble (in the current code size)
  page ADDR               page-table walk of a linear address
  info regs|sregs|cregs|gdt|idt|tss|tlb|mode|pic|pit|uart
  step-irqs on|off        take interrupts while single-stepping (default off)
  set syntax intel|att    disassembly syntax";

impl<A: X86Arch> MonitorCmd for GdbTarget<'_, '_, '_, A> {
    fn handle_monitor_cmd(
        &mut self,
        cmd: &[u8],
        mut out: ConsoleOutput<'_>,
    ) -> Result<(), &'static str> {
        let Ok(line) = std::str::from_utf8(cmd) else {
            outputln!(out, "commands must be UTF-8");
            return Ok(());
        };
        let line = line.trim();
        let text = match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            [] | ["help"] => MONITOR_HELP.to_string(),
            ["step-irqs", v] => {
                self.sess
                    .exec(self.m, &format!("set step-irqs {v}"), None)
                    .text
            }
            _ => self.sess.exec(self.m, line, None).text,
        };
        for l in text.lines() {
            outputln!(out, "{}", l);
        }
        Ok(())
    }
}

impl<A: X86Arch> TargetDescriptionXmlOverride for GdbTarget<'_, '_, '_, A> {
    fn target_description_xml(
        &self,
        annex: &[u8],
        offset: u64,
        length: usize,
        buf: &mut [u8],
    ) -> TargetResult<usize, Self> {
        if annex != b"target.xml" {
            return Err(TargetError::NonFatal);
        }
        let xml = self.xml.as_bytes();
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(xml.len());
        let end = start.saturating_add(length).min(xml.len());
        let n = (end - start).min(buf.len());
        buf[..n].copy_from_slice(&xml[start..start + n]);
        Ok(n)
    }
}

struct EventLoop<'a, 's, 'h, A, C>(PhantomData<(&'a (), &'s (), &'h (), A, C)>);

impl<'a, 's, 'h, A: X86Arch, C: Link> run_blocking::BlockingEventLoop
    for EventLoop<'a, 's, 'h, A, C>
{
    type Target = GdbTarget<'a, 's, 'h, A>;
    type Connection = C;
    type StopReason = StopReason;

    fn wait_for_stop_reason(
        target: &mut Self::Target,
        conn: &mut C,
    ) -> Result<
        run_blocking::Event<StopReason>,
        run_blocking::WaitForStopReasonError<&'static str, std::io::Error>,
    > {
        match target.exec {
            Exec::Step => return Ok(run_blocking::Event::TargetStopped(target.step())),
            Exec::ReverseStep | Exec::ReverseCont => {
                return Ok(run_blocking::Event::TargetStopped(target.reverse()));
            }
            Exec::Continue => {}
        }
        match target.cont(conn) {
            Ok(r) => Ok(run_blocking::Event::TargetStopped(r)),
            Err(()) => {
                let byte = ConnectionExt::read(conn)
                    .map_err(run_blocking::WaitForStopReasonError::Connection)?;
                Ok(run_blocking::Event::IncomingData(byte))
            }
        }
    }

    fn on_interrupt(_target: &mut Self::Target) -> Result<Option<StopReason>, &'static str> {
        Ok(Some(StopReason::Signal(Signal::SIGINT)))
    }
}
