//! The board: memory, the I/O port map and the devices, seen by the CPU
//! through [`CpuBus`].

use crate::layout::port;
use anyx86_cpu::CpuBus;
use anyx86_mem::{PhysMemory, Region};
use std::io::Write;

/// Where a byte stream from the guest goes (debug console, serial port).
pub type Sink = Box<dyn Write + Send>;

/// A line-buffered output: flushed at each newline so interleaved outputs
/// stay readable and nothing is lost when the run ends.
pub struct Output {
    sink: Option<Sink>,
    line: Vec<u8>,
    line_buffered: bool,
}

impl Output {
    /// Output to `sink`, or discarded when `None`.
    pub fn new(sink: Option<Sink>, line_buffered: bool) -> Self {
        Self {
            sink,
            line: Vec::new(),
            line_buffered,
        }
    }

    /// Sends one byte.
    pub fn put(&mut self, b: u8) {
        let Some(s) = self.sink.as_mut() else { return };
        if !self.line_buffered {
            let _ = s.write_all(&[b]);
            let _ = s.flush();
            return;
        }
        self.line.push(b);
        if b == b'\n' || self.line.len() >= 4096 {
            let _ = s.write_all(&self.line);
            let _ = s.flush();
            self.line.clear();
        }
    }

    /// Writes out anything buffered.
    pub fn flush(&mut self) {
        if let Some(s) = self.sink.as_mut() {
            let _ = s.write_all(&self.line);
            let _ = s.flush();
        }
        self.line.clear();
    }
}

/// Why the board asked the CPU to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The guest wrote `value` to the exit device.
    Exit(u32),
    /// The guest asked for a reset (port 0x92, i8042 0xFE).
    Reset,
}

/// A minimal transmit-only 16550 for COM1: THR writes go out, LSR always
/// reports the transmitter empty. (Replaced by the full UART model.)
#[derive(Debug, Default)]
struct MiniUart {
    lcr: u8,
    scratch: u8,
}

/// The board.
pub struct Board {
    /// Guest physical memory.
    pub mem: PhysMemory,
    a20: bool,
    port92: u8,
    /// Last POST code written to port 0x80.
    pub post_code: Option<u8>,
    /// Debug console (port 0xE9).
    pub debugcon: Output,
    /// COM1 output.
    pub serial: Output,
    com1: MiniUart,
    stop: Option<StopReason>,
    /// Reads of ports nobody claims, by port (for `--stats`).
    pub unclaimed: std::collections::BTreeMap<u16, u64>,
    /// Instructions per second of virtual time (TSC frequency).
    pub ips: u64,
}

impl Board {
    /// A board with `mem` and the two output streams.
    pub fn new(mem: PhysMemory, debugcon: Output, serial: Output) -> Self {
        Self {
            mem,
            a20: true,
            port92: 0,
            post_code: None,
            debugcon,
            serial,
            com1: MiniUart::default(),
            stop: None,
            unclaimed: Default::default(),
            ips: 1_000_000_000,
        }
    }

    /// Takes the pending stop request.
    pub fn take_stop(&mut self) -> Option<StopReason> {
        self.stop.take()
    }

    /// Board-level reset: A20 on, ports to power-on values (RAM is kept).
    pub fn reset(&mut self) {
        self.a20 = true;
        self.port92 = 0;
        self.stop = None;
        self.com1 = MiniUart::default();
    }

    /// Flushes the outputs.
    pub fn flush(&mut self) {
        self.debugcon.flush();
        self.serial.flush();
    }

    fn uart_read(&mut self, off: u16) -> u8 {
        match off {
            3 => self.com1.lcr,
            // LSR: THR empty and transmitter empty.
            5 => 0x60,
            7 => self.com1.scratch,
            _ => 0,
        }
    }

    fn uart_write(&mut self, off: u16, v: u8) {
        match off {
            0 if self.com1.lcr & 0x80 == 0 => self.serial.put(v),
            3 => self.com1.lcr = v,
            7 => self.com1.scratch = v,
            _ => {}
        }
    }

    fn count_unclaimed(&mut self, p: u16) {
        *self.unclaimed.entry(p).or_default() += 1;
    }
}

impl CpuBus for Board {
    #[inline(always)]
    fn ram(&mut self) -> &mut [u8] {
        self.mem.ram_mut().as_mut_slice()
    }

    fn ram_ref(&self) -> &[u8] {
        self.mem.ram().as_slice()
    }

    #[inline]
    fn page_is_ram(&self, paddr: u64) -> bool {
        self.mem.page_is_ram(paddr)
    }

    fn mem_read(&mut self, paddr: u64, size: u8) -> u64 {
        self.mem.read(paddr, size)
    }

    fn mem_write(&mut self, paddr: u64, size: u8, value: u64) {
        self.mem.write(paddr, size, value)
    }

    fn peek_phys(&self, paddr: u64) -> u8 {
        match self.mem.region(paddr) {
            Region::Unmapped => 0xFF,
            _ => self.mem.read_u8(paddr),
        }
    }

    fn io_in(&mut self, p: u16, size: u8, _icount: u64) -> u32 {
        let v: u32 = match p {
            port::DEBUGCON => 0xE9,
            port::PORT92 => u32::from(self.port92),
            port::POST => u32::from(self.post_code.unwrap_or(0xFF)),
            _ if (port::COM1..port::COM1 + port::UART_LEN).contains(&p) => {
                u32::from(self.uart_read(p - port::COM1))
            }
            _ => {
                self.count_unclaimed(p);
                return u32::MAX >> (32 - 8 * u32::from(size));
            }
        };
        v
    }

    fn io_out(&mut self, p: u16, size: u8, v: u32, _icount: u64) {
        match p {
            port::DEBUGCON => self.debugcon.put(v as u8),
            port::POST => self.post_code = Some(v as u8),
            port::PORT92 => {
                let old = self.port92;
                self.port92 = v as u8;
                self.a20 = v & 2 != 0;
                if old & 1 == 0 && v & 1 != 0 {
                    self.stop = Some(StopReason::Reset);
                }
            }
            _ if (port::EXIT..port::EXIT + port::EXIT_LEN).contains(&p) => {
                let mask = u32::MAX >> (32 - 8 * u32::from(size));
                self.stop = Some(StopReason::Exit(v & mask));
            }
            _ if (port::COM1..port::COM1 + port::UART_LEN).contains(&p) => {
                self.uart_write(p - port::COM1, v as u8)
            }
            port::BOCHS_SHUTDOWN => {}
            _ => self.count_unclaimed(p),
        }
    }

    fn a20_mask(&self) -> u64 {
        if self.a20 {
            u64::MAX
        } else {
            !(1u64 << 20)
        }
    }

    fn interrupt_pending(&self) -> bool {
        false
    }

    fn acknowledge_interrupt(&mut self, _icount: u64) -> u8 {
        0xFF
    }

    fn tsc(&mut self, icount: u64) -> u64 {
        icount
    }

    fn stop_requested(&self) -> bool {
        self.stop.is_some()
    }
}
