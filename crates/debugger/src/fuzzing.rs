//! Fuzzing harnesses for the debugger: command lines into the built-in
//! debugger ([`run_commands`], target `debugger_cmd`) and raw bytes from a
//! GDB client into the remote stub ([`run_gdb`], target `gdb_packets`).
//! The cargo-fuzz targets in `fuzz/` and the stable corpus replay test
//! both call these.
//!
//! Both run against a small machine: 2 MiB of RAM, no firmware, the CPU
//! in real mode at 0000:7C00 in a short loop ([`PROGRAM`]), and an
//! instruction limit of [`BUDGET`] for the whole input.
#![doc(hidden)]

use crate::gdb::{attach, Link};
use crate::session::Session;
use anyx86_cpu::arch::Segment;
use anyx86_machine::{Board, HostControl, Machine, MachineConfig};
use gdbstub::conn::{Connection, ConnectionExt};
use std::io;
use std::time::Duration;

/// Instructions the guest may run over one input (`--max-instructions`).
pub const BUDGET: u64 = 2_000;
/// What a run may do past the limit: the run loop checks it between
/// slices of at most this many instructions.
pub const OVERSHOOT: u64 = 1 << 16;
/// Command lines run from one input at most.
pub const MAX_LINES: usize = 64;
/// The longest reply a command may give (the largest is `x /4096`,
/// about 20 KiB of text, or `help`).
pub const MAX_REPLY: usize = 64 * 1024;
/// Where the guest's code is.
pub const CODE: u64 = 0x7C00;
/// Where every interrupt vector leads: an IRET.
pub const IRET_AT: u16 = 0x500;
/// The guest: mov ax,0x1234; call $+3; pop bx; mov cx,4; rep movsb;
/// int 0x10; jmp to the start.
pub const PROGRAM: &[u8] = &[
    0xB8, 0x34, 0x12, 0xE8, 0x00, 0x00, 0x5B, 0xB9, 0x04, 0x00, 0xF3, 0xA4, 0xCD, 0x10, 0xEB, 0xF0,
];

const IRET: u8 = 0xCF;

/// The small machine both harnesses drive.
pub fn machine() -> Machine {
    let mut m = match Machine::new(MachineConfig::new(2)) {
        Ok(m) => m,
        Err(e) => panic!("the fuzzed machine does not build: {e}"),
    };
    let ram = m.board.mem.ram_mut().as_mut_slice();
    let at = CODE as usize;
    ram[at..at + PROGRAM.len()].copy_from_slice(PROGRAM);
    for v in ram[..0x400].chunks_exact_mut(4) {
        v.copy_from_slice(&[IRET_AT as u8, (IRET_AT >> 8) as u8, 0, 0]);
    }
    ram[usize::from(IRET_AT)] = IRET;
    let s = &mut m.cpu.s;
    let attr = s.seg[anyx86_cpu::arch::sreg::CS].attr;
    s.set_cs(Segment::real(0, attr), 0);
    s.rip = CODE;
    m.cpu.flush_code_cache();
    m
}

/// The host hook of the harnesses: never blocks, never stops the run
/// (the instruction limit does).
fn hook(_: &mut Board, _: u64, _: Option<Duration>) -> HostControl {
    HostControl::Continue
}

/// Commands that run the guest and need a host hook; every other line
/// runs as GDB's `monitor` runs it (no hook: no files on the host).
fn runs_guest(line: &str) -> bool {
    line.split_whitespace()
        .next()
        .is_some_and(crate::session::runs_guest)
}

/// Runs the input's lines (lossy UTF-8, at most [`MAX_LINES`]) as
/// debugger commands. Invariants: no panic, every reply at most
/// [`MAX_REPLY`] bytes, the guest within [`BUDGET`] + [`OVERSHOOT`]
/// instructions. Returns the replies' text.
pub fn run_commands(data: &[u8]) -> Vec<String> {
    let mut m = machine();
    let mut sess = Session::new(Some(BUDGET));
    let text = String::from_utf8_lossy(data);
    let mut replies = Vec::new();
    for line in text.lines().take(MAX_LINES) {
        let r = if runs_guest(line) {
            sess.exec(&mut m, line, Some(&mut hook))
        } else {
            sess.exec(&mut m, line, None)
        };
        assert!(
            r.text.len() <= MAX_REPLY,
            "{} bytes of reply to {line:?}",
            r.text.len()
        );
        let n = m.instructions();
        assert!(n <= BUDGET + OVERSHOOT, "{n} instructions after {line:?}");
        replies.push(r.text);
        if r.quit {
            break;
        }
    }
    replies
}

/// A GDB connection made of the input's bytes; what the stub sends is
/// kept. The end of the input is GDB hanging up.
struct Wire<'a> {
    input: &'a [u8],
    at: usize,
    out: &'a mut Vec<u8>,
}

impl Connection for Wire<'_> {
    type Error = io::Error;

    fn write(&mut self, byte: u8) -> io::Result<()> {
        self.out.push(byte);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ConnectionExt for Wire<'_> {
    fn read(&mut self) -> io::Result<u8> {
        let b = self
            .input
            .get(self.at)
            .copied()
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        self.at += 1;
        Ok(b)
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        Ok(self.input.get(self.at).copied())
    }
}

impl Link for Wire<'_> {
    fn has_input(&mut self) -> bool {
        // At the end of the input the guest runs on to its limit, so
        // that `c` is exercised too.
        self.at < self.input.len()
    }
}

/// Checks that `out` is a sequence of acknowledgements (`+`, `-`) and
/// whole packets `$data#cc` / `%data#cc` with the right checksum and no
/// stray `$` or `#` inside. Returns the packets' data, or what is wrong.
pub fn packets(out: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut list = Vec::new();
    let mut i = 0;
    while let Some(&b) = out.get(i) {
        match b {
            b'+' | b'-' => i += 1,
            b'$' | b'%' => {
                let body = &out[i + 1..];
                let end = body
                    .iter()
                    .position(|&c| c == b'#')
                    .ok_or_else(|| format!("packet at {i} has no '#'"))?;
                let data = &body[..end];
                if data.contains(&b'$') {
                    return Err(format!("packet at {i} holds a '$'"));
                }
                let sum = body
                    .get(end + 1..end + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("packet at {i} has no checksum"))?;
                let want = data.iter().fold(0u8, |a, &c| a.wrapping_add(c));
                if sum != want {
                    return Err(format!(
                        "packet at {i}: checksum {sum:02x}, data sums to {want:02x}"
                    ));
                }
                list.push(data);
                i += end + 4;
            }
            _ => return Err(format!("stray byte {b:#04x} at {i}")),
        }
    }
    Ok(list)
}

/// Feeds `data` to the GDB stub as one client session, then checks that
/// everything the stub sent is well-formed ([`packets`]) and that the
/// guest stayed within [`BUDGET`] + [`OVERSHOOT`] instructions. Returns
/// the stub's bytes.
pub fn run_gdb(data: &[u8]) -> Vec<u8> {
    let mut m = machine();
    let mut sess = Session::new(Some(BUDGET));
    let mut out = Vec::new();
    let wire = Wire {
        input: data,
        at: 0,
        out: &mut out,
    };
    let _ = attach(&mut m, &mut sess, wire, &mut hook);
    if let Err(e) = packets(&out) {
        panic!("the stub sent a malformed reply: {e}");
    }
    let n = m.instructions();
    assert!(n <= BUDGET + OVERSHOOT, "{n} instructions");
    out
}
