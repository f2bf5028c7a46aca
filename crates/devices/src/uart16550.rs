//! National Semiconductor / TI PC16550D (16550A-compatible) UART, one
//! instance per COM port.
//!
//! Reference: TI PC16550D datasheet (SNLS378), section 8 "Registers":
//! Table 2 (register summary), 8.4 FCR, 8.5 LCR, 8.6 LSR, 8.7 IIR (Table
//! 4, interrupt priorities), 8.8 IER, 8.9 MCR (loopback), 8.10 MSR, 8.11
//! SCR; Linux `drivers/tty/serial/8250/8250_port.c` for the THRE interrupt
//! behaviour drivers rely on.
//!
//! # Wiring
//!
//! The machine maps the eight registers of each COM port (COM1 0x3F8, COM2
//! 0x2F8, COM3 0x3E8, COM4 0x2E8) with [`PortDevice`], offsets 0-7.
//!
//! - **Transmit** is instantaneous: a byte written to THR lands in an output
//!   buffer at once and THR is empty again. The machine drains the buffer
//!   after each write with [`Uart::take_output`] (or
//!   [`Uart::drain_output_into`]). The buffer is capped at
//!   [`TX_BUFFER_CAP`] bytes; bytes beyond are dropped and counted
//!   ([`Uart::tx_dropped`]).
//! - **Receive**: [`Uart::push_input`] appends host bytes to a host-side
//!   buffer of at most [`RX_HOST_CAP`] bytes that feeds the receiver (16
//!   bytes in FIFO mode, 1 byte otherwise) as soon as it has room, like a
//!   sender with flow control. Bytes beyond the cap are dropped and counted
//!   ([`Uart::rx_dropped`]).
//! - **Interrupt**: on a PC, the UART's INTR pin reaches the PIC only
//!   through a buffer enabled by the OUT2 modem-control output, so
//!   [`IrqLevel::irq_level`] is INTR while MCR.OUT2 is set. The gate
//!   follows the MCR bit also in loopback, as in UARTs that integrate it
//!   (16552, Super I/O chips) and in Bochs, so that loopback self-tests can
//!   run with interrupts (a discrete 16550 forces its OUT2 pin inactive in
//!   loopback). The machine ORs COM1 with COM3 onto IRQ4 and COM2 with COM4
//!   onto IRQ3 after every access and every `push_input`.
//!
//! # Not implemented
//!
//! - Baud-rate timing: the divisor latch is stored only; transmission and
//!   reception take no time.
//! - Character timeout timing: in FIFO mode, data below the trigger level
//!   reports the "character timeout" interrupt at once, as if four character
//!   times had passed.
//! - Parity, framing and break errors (never generated: the host link is
//!   perfect); overrun only happens in loopback, when the receive FIFO is
//!   full.
//! - DMA mode (FCR bit 3 is stored only) and the TX FIFO as such (THR is
//!   always empty, so LSR.THRE and LSR.TEMT always read 1).
//! - Modem-status inputs default to a connected terminal (CTS, DSR and DCD
//!   asserted, RI not); [`Uart::set_modem_inputs`] changes them.

use std::collections::VecDeque;

use anyx86_hw::{AccessSize, IrqLevel, PortDevice, Snapshot, SnapshotError, VirtualTime};

use crate::{read_bytes, write_bytes};

/// Receive FIFO depth in FIFO mode.
pub const RX_FIFO_LEN: usize = 16;
/// Capacity of the host-side receive buffer feeding the FIFO.
pub const RX_HOST_CAP: usize = 4096;
/// Capacity of the transmit output buffer the machine drains.
pub const TX_BUFFER_CAP: usize = 64 * 1024;

/// Receiver buffer (read) / transmitter holding (write) / divisor LSB.
const REG_DATA: u16 = 0;
/// Interrupt enable / divisor MSB.
const REG_IER: u16 = 1;
/// Interrupt identification (read) / FIFO control (write).
const REG_IIR_FCR: u16 = 2;
/// Line control.
const REG_LCR: u16 = 3;
/// Modem control.
const REG_MCR: u16 = 4;
/// Line status.
const REG_LSR: u16 = 5;
/// Modem status.
const REG_MSR: u16 = 6;
/// Scratch.
const REG_SCR: u16 = 7;

/// IER: received data available (and character timeout) interrupt.
pub const IER_ERBFI: u8 = 0x01;
/// IER: transmitter holding register empty interrupt.
pub const IER_ETBEI: u8 = 0x02;
/// IER: receiver line status interrupt.
pub const IER_ELSI: u8 = 0x04;
/// IER: modem status interrupt.
pub const IER_EDSSI: u8 = 0x08;
/// IER bits that exist on a 16550A (the others read 0).
const IER_MASK: u8 = 0x0F;

/// IIR: no interrupt pending (bit 0 is active low).
pub const IIR_NO_INT: u8 = 0x01;
/// IIR: receiver line status (highest priority).
pub const IIR_RLS: u8 = 0x06;
/// IIR: received data available.
pub const IIR_RDA: u8 = 0x04;
/// IIR: character timeout (FIFO mode).
pub const IIR_TIMEOUT: u8 = 0x0C;
/// IIR: transmitter holding register empty.
pub const IIR_THRE: u8 = 0x02;
/// IIR: modem status (lowest priority).
pub const IIR_MSI: u8 = 0x00;
/// IIR: FIFOs enabled (bits 6 and 7).
pub const IIR_FIFO_ENABLED: u8 = 0xC0;

/// FCR: enable the FIFOs.
pub const FCR_ENABLE: u8 = 0x01;
/// FCR: clear the receive FIFO (self-clearing).
pub const FCR_CLEAR_RX: u8 = 0x02;
/// FCR: clear the transmit FIFO (self-clearing).
pub const FCR_CLEAR_TX: u8 = 0x04;
/// FCR: DMA mode select (stored only).
pub const FCR_DMA: u8 = 0x08;
/// FCR: receiver trigger level field (bits 6-7: 1, 4, 8, 14 bytes).
pub const FCR_TRIGGER: u8 = 0xC0;

/// LCR: divisor latch access bit.
pub const LCR_DLAB: u8 = 0x80;

/// MCR: data terminal ready.
pub const MCR_DTR: u8 = 0x01;
/// MCR: request to send.
pub const MCR_RTS: u8 = 0x02;
/// MCR: OUT1 output.
pub const MCR_OUT1: u8 = 0x04;
/// MCR: OUT2 output (gates the IRQ line on a PC).
pub const MCR_OUT2: u8 = 0x08;
/// MCR: loopback mode.
pub const MCR_LOOP: u8 = 0x10;
/// MCR bits that exist on a 16550A.
const MCR_MASK: u8 = 0x1F;

/// LSR: data ready.
pub const LSR_DR: u8 = 0x01;
/// LSR: overrun error.
pub const LSR_OE: u8 = 0x02;
/// LSR: parity error.
pub const LSR_PE: u8 = 0x04;
/// LSR: framing error.
pub const LSR_FE: u8 = 0x08;
/// LSR: break interrupt.
pub const LSR_BI: u8 = 0x10;
/// LSR: transmitter holding register empty.
pub const LSR_THRE: u8 = 0x20;
/// LSR: transmitter empty.
pub const LSR_TEMT: u8 = 0x40;
/// LSR: error in receiver FIFO (a PE, FE or BI byte is in the FIFO).
pub const LSR_FIFO_ERROR: u8 = 0x80;
/// LSR error bits that raise the line status interrupt and clear on read.
const LSR_ERRORS: u8 = LSR_OE | LSR_PE | LSR_FE | LSR_BI;

/// MSR: delta clear to send.
pub const MSR_DCTS: u8 = 0x01;
/// MSR: delta data set ready.
pub const MSR_DDSR: u8 = 0x02;
/// MSR: trailing edge ring indicator.
pub const MSR_TERI: u8 = 0x04;
/// MSR: delta data carrier detect.
pub const MSR_DDCD: u8 = 0x08;
/// MSR: clear to send.
pub const MSR_CTS: u8 = 0x10;
/// MSR: data set ready.
pub const MSR_DSR: u8 = 0x20;
/// MSR: ring indicator.
pub const MSR_RI: u8 = 0x40;
/// MSR: data carrier detect.
pub const MSR_DCD: u8 = 0x80;
/// MSR input-level bits.
const MSR_STATUS: u8 = 0xF0;
/// MSR delta bits.
const MSR_DELTAS: u8 = 0x0F;

/// Plain-data state of one UART.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UartState {
    /// Interrupt enable register (bits 0-3).
    pub ier: u8,
    /// Line control register.
    pub lcr: u8,
    /// Modem control register (bits 0-4).
    pub mcr: u8,
    /// FIFO control as in effect: FCR_ENABLE, FCR_DMA and the trigger
    /// field; 0 when the FIFOs are disabled.
    pub fcr: u8,
    /// Scratch register.
    pub scr: u8,
    /// Divisor latch, low byte.
    pub dll: u8,
    /// Divisor latch, high byte.
    pub dlm: u8,
    /// Sticky LSR error bits (OE, PE, FE, BI), cleared by reading LSR.
    pub lsr_errors: u8,
    /// Sticky MSR delta bits, cleared by reading MSR.
    pub msr_deltas: u8,
    /// The THRE interrupt is pending.
    pub thre_pending: bool,
    /// Modem-status input levels from the outside world (MSR bits 4-7).
    pub modem_inputs: u8,
    /// Last byte read from RBR (returned again when the receiver is empty).
    pub rbr: u8,
    /// Receive FIFO (16 bytes in FIFO mode; 1 byte, the RBR, otherwise).
    pub rx_fifo: VecDeque<u8>,
    /// Host-side buffer feeding the receive FIFO.
    pub rx_host: VecDeque<u8>,
    /// Transmitted bytes not yet taken by the machine.
    pub tx_buffer: Vec<u8>,
    /// Received bytes dropped (host buffer full, or loopback overrun).
    pub rx_dropped: u64,
    /// Transmitted bytes dropped because the output buffer was full.
    pub tx_dropped: u64,
}
anyx86_hw::wire_struct!(UartState {
    ier,
    lcr,
    mcr,
    fcr,
    scr,
    dll,
    dlm,
    lsr_errors,
    msr_deltas,
    thre_pending,
    modem_inputs,
    rbr,
    rx_fifo,
    rx_host,
    tx_buffer,
    rx_dropped,
    tx_dropped
});

impl Default for UartState {
    fn default() -> Self {
        Self {
            ier: 0,
            lcr: 0,
            mcr: 0,
            fcr: 0,
            scr: 0,
            // 115200 / 12 = 9600 baud.
            dll: 12,
            dlm: 0,
            lsr_errors: 0,
            msr_deltas: 0,
            thre_pending: false,
            modem_inputs: MSR_CTS | MSR_DSR | MSR_DCD,
            rbr: 0,
            rx_fifo: VecDeque::new(),
            rx_host: VecDeque::new(),
            tx_buffer: Vec::new(),
            rx_dropped: 0,
            tx_dropped: 0,
        }
    }
}

/// A 16550A UART.
#[derive(Debug, Clone, Default)]
pub struct Uart {
    state: UartState,
}

impl Uart {
    /// A UART in the reset state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues host bytes for the guest to receive; returns how many were
    /// accepted (the rest are dropped and counted).
    pub fn push_input(&mut self, bytes: &[u8]) -> usize {
        // Whatever the receiver can take goes straight in; the rest waits
        // in the host buffer.
        let direct = if self.loopback() || !self.state.rx_host.is_empty() {
            0
        } else {
            self.rx_capacity().saturating_sub(self.state.rx_fifo.len())
        };
        let s = &mut self.state;
        let direct = direct.min(bytes.len());
        s.rx_fifo.extend(&bytes[..direct]);
        let rest = &bytes[direct..];
        let queued = rest.len().min(RX_HOST_CAP.saturating_sub(s.rx_host.len()));
        s.rx_host.extend(&rest[..queued]);
        s.rx_dropped += (rest.len() - queued) as u64;
        direct + queued
    }

    /// Takes the bytes the guest transmitted since the last call.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.state.tx_buffer)
    }

    /// Appends the bytes the guest transmitted to `out`, emptying the
    /// output buffer.
    pub fn drain_output_into(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.state.tx_buffer);
    }

    /// Received bytes dropped so far.
    pub fn rx_dropped(&self) -> u64 {
        self.state.rx_dropped
    }

    /// Transmitted bytes dropped so far.
    pub fn tx_dropped(&self) -> u64 {
        self.state.tx_dropped
    }

    /// Sets the modem-status input levels (any of [`MSR_CTS`], [`MSR_DSR`],
    /// [`MSR_RI`], [`MSR_DCD`]), updating the MSR delta bits.
    pub fn set_modem_inputs(&mut self, levels: u8) {
        let before = self.modem_status();
        self.state.modem_inputs = levels & MSR_STATUS;
        self.note_modem_change(before);
    }

    /// The value register `offset` would read, without side effects (no
    /// FIFO pop, no status clearing), for a debugger.
    pub fn peek(&self, offset: u16) -> u8 {
        let s = &self.state;
        let dlab = s.lcr & LCR_DLAB != 0;
        match offset {
            REG_DATA if dlab => s.dll,
            REG_DATA => s.rx_fifo.front().copied().unwrap_or(s.rbr),
            REG_IER if dlab => s.dlm,
            REG_IER => s.ier,
            REG_IIR_FCR => self.iir(),
            REG_LCR => s.lcr,
            REG_MCR => s.mcr,
            REG_LSR => self.lsr(),
            REG_MSR => self.modem_status() | s.msr_deltas,
            REG_SCR => s.scr,
            _ => 0xFF,
        }
    }

    fn fifo_enabled(&self) -> bool {
        self.state.fcr & FCR_ENABLE != 0
    }

    fn rx_capacity(&self) -> usize {
        if self.fifo_enabled() {
            RX_FIFO_LEN
        } else {
            1
        }
    }

    fn trigger_level(&self) -> usize {
        match self.state.fcr >> 6 {
            0 => 1,
            1 => 4,
            2 => 8,
            _ => 14,
        }
    }

    fn loopback(&self) -> bool {
        self.state.mcr & MCR_LOOP != 0
    }

    /// Moves host bytes into the receiver while it has room. In loopback
    /// the receiver is disconnected from the line, so host bytes wait.
    fn refill(&mut self) {
        if self.loopback() {
            return;
        }
        let capacity = self.rx_capacity();
        let s = &mut self.state;
        while s.rx_fifo.len() < capacity {
            match s.rx_host.pop_front() {
                Some(byte) => s.rx_fifo.push_back(byte),
                None => break,
            }
        }
    }

    fn lsr(&self) -> u8 {
        let s = &self.state;
        let dr = if s.rx_fifo.is_empty() { 0 } else { LSR_DR };
        let fifo_error = if self.fifo_enabled() && s.lsr_errors & (LSR_PE | LSR_FE | LSR_BI) != 0 {
            LSR_FIFO_ERROR
        } else {
            0
        };
        dr | s.lsr_errors | LSR_THRE | LSR_TEMT | fifo_error
    }

    /// MSR bits 4-7: the modem inputs, or the MCR outputs in loopback.
    fn modem_status(&self) -> u8 {
        let mcr = self.state.mcr;
        if !self.loopback() {
            return self.state.modem_inputs & MSR_STATUS;
        }
        let bit = |mask: u8, msr: u8| if mcr & mask != 0 { msr } else { 0 };
        bit(MCR_RTS, MSR_CTS)
            | bit(MCR_DTR, MSR_DSR)
            | bit(MCR_OUT1, MSR_RI)
            | bit(MCR_OUT2, MSR_DCD)
    }

    /// Sets the MSR delta bits for the change from `before` to now.
    fn note_modem_change(&mut self, before: u8) {
        let after = self.modem_status();
        let changed = before ^ after;
        let mut deltas = 0;
        if changed & MSR_CTS != 0 {
            deltas |= MSR_DCTS;
        }
        if changed & MSR_DSR != 0 {
            deltas |= MSR_DDSR;
        }
        if before & MSR_RI != 0 && after & MSR_RI == 0 {
            deltas |= MSR_TERI;
        }
        if changed & MSR_DCD != 0 {
            deltas |= MSR_DDCD;
        }
        self.state.msr_deltas |= deltas;
    }

    /// The highest-priority pending interrupt's IIR code, if any.
    fn interrupt_id(&self) -> Option<u8> {
        let s = &self.state;
        if s.ier & IER_ELSI != 0 && s.lsr_errors != 0 {
            return Some(IIR_RLS);
        }
        if s.ier & IER_ERBFI != 0 && !s.rx_fifo.is_empty() {
            let below_trigger = self.fifo_enabled() && s.rx_fifo.len() < self.trigger_level();
            return Some(if below_trigger { IIR_TIMEOUT } else { IIR_RDA });
        }
        if s.ier & IER_ETBEI != 0 && s.thre_pending {
            return Some(IIR_THRE);
        }
        if s.ier & IER_EDSSI != 0 && s.msr_deltas != 0 {
            return Some(IIR_MSI);
        }
        None
    }

    fn iir(&self) -> u8 {
        let fifo = if self.fifo_enabled() {
            IIR_FIFO_ENABLED
        } else {
            0
        };
        self.interrupt_id().unwrap_or(IIR_NO_INT) | fifo
    }

    fn read_byte(&mut self, offset: u16) -> u8 {
        let value = self.peek(offset);
        let dlab = self.state.lcr & LCR_DLAB != 0;
        match offset {
            REG_DATA if !dlab => {
                if let Some(byte) = self.state.rx_fifo.pop_front() {
                    self.state.rbr = byte;
                    self.refill();
                }
            }
            REG_IIR_FCR if value & !IIR_FIFO_ENABLED == IIR_THRE => {
                // Reading IIR while it reports THRE clears that interrupt.
                self.state.thre_pending = false;
            }
            REG_LSR => self.state.lsr_errors = 0,
            REG_MSR => self.state.msr_deltas = 0,
            _ => {}
        }
        value
    }

    fn write_byte(&mut self, offset: u16, value: u8) {
        let dlab = self.state.lcr & LCR_DLAB != 0;
        match offset {
            REG_DATA if dlab => self.state.dll = value,
            REG_DATA => self.transmit(value),
            REG_IER if dlab => self.state.dlm = value,
            REG_IER => self.write_ier(value),
            REG_IIR_FCR => self.write_fcr(value),
            REG_LCR => self.state.lcr = value,
            REG_MCR => self.write_mcr(value),
            REG_SCR => self.state.scr = value,
            // LSR and MSR writes (factory test) are ignored.
            _ => {}
        }
    }

    fn transmit(&mut self, byte: u8) {
        if self.loopback() {
            if self.state.rx_fifo.len() < self.rx_capacity() {
                self.state.rx_fifo.push_back(byte);
            } else {
                // Overrun (datasheet 8.6, LSR bit 1): without FIFOs the new
                // character overwrites the unread one in RBR; with FIFOs it
                // stays in the shift register and is lost.
                self.state.lsr_errors |= LSR_OE;
                self.state.rx_dropped += 1;
                if !self.fifo_enabled() {
                    self.state.rx_fifo.clear();
                    self.state.rx_fifo.push_back(byte);
                }
            }
        } else if self.state.tx_buffer.len() < TX_BUFFER_CAP {
            self.state.tx_buffer.push(byte);
        } else {
            self.state.tx_dropped += 1;
        }
        // THR empties at once: the THRE interrupt is pending again.
        self.state.thre_pending = self.state.ier & IER_ETBEI != 0;
    }

    fn write_ier(&mut self, value: u8) {
        let value = value & IER_MASK;
        let etbei_rising = value & IER_ETBEI != 0 && self.state.ier & IER_ETBEI == 0;
        self.state.ier = value;
        if etbei_rising {
            // THR is always empty: enabling ETBEI re-arms the interrupt.
            self.state.thre_pending = true;
        }
    }

    fn write_fcr(&mut self, value: u8) {
        let enable = value & FCR_ENABLE != 0;
        if enable != self.fifo_enabled() {
            // Changing FIFO mode clears both FIFOs.
            self.state.rx_fifo.clear();
        }
        if enable {
            if value & FCR_CLEAR_RX != 0 {
                self.state.rx_fifo.clear();
            }
            self.state.fcr = value & (FCR_ENABLE | FCR_DMA | FCR_TRIGGER);
        } else {
            self.state.fcr = 0;
        }
        self.refill();
    }

    fn write_mcr(&mut self, value: u8) {
        let before = self.modem_status();
        self.state.mcr = value & MCR_MASK;
        self.note_modem_change(before);
        self.refill();
    }
}

impl PortDevice for Uart {
    /// Offsets 0-7: RBR/DLL, IER/DLM, IIR, LCR, MCR, LSR, MSR, SCR.
    fn read(&mut self, offset: u16, size: AccessSize, _now: VirtualTime) -> u32 {
        read_bytes(offset, size, |o| self.read_byte(o))
    }

    /// Offsets 0-7: THR/DLL, IER/DLM, FCR, LCR, MCR, (LSR), (MSR), SCR.
    fn write(&mut self, offset: u16, size: AccessSize, value: u32, _now: VirtualTime) {
        write_bytes(offset, size, value, |o, v| self.write_byte(o, v));
    }
}

impl IrqLevel for Uart {
    /// INTR gated by MCR.OUT2, as the PC's COM port wiring does (also in
    /// loopback: see the module documentation).
    fn irq_level(&self) -> bool {
        self.interrupt_id().is_some() && self.state.mcr & MCR_OUT2 != 0
    }
}

impl Snapshot for Uart {
    type State = UartState;

    fn save(&self) -> UartState {
        self.state.clone()
    }

    fn restore(&mut self, state: &UartState) -> Result<(), SnapshotError> {
        let invalid = |field, why| Err(SnapshotError::Invalid { field, why });
        let fifo_len = if state.fcr & FCR_ENABLE != 0 {
            RX_FIFO_LEN
        } else {
            1
        };
        if state.rx_fifo.len() > fifo_len {
            return invalid("rx_fifo", "longer than the receive FIFO");
        }
        if state.rx_host.len() > RX_HOST_CAP {
            return invalid("rx_host", "longer than the host receive buffer cap");
        }
        if state.tx_buffer.len() > TX_BUFFER_CAP {
            return invalid("tx_buffer", "longer than the output buffer cap");
        }
        if state.ier & !IER_MASK != 0 || state.mcr & !MCR_MASK != 0 {
            return invalid("ier/mcr", "bits that do not exist on a 16550A");
        }
        if state.lsr_errors & !LSR_ERRORS != 0 || state.msr_deltas & !MSR_DELTAS != 0 {
            return invalid("lsr_errors/msr_deltas", "non-sticky bits set");
        }
        self.state = state.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rd(uart: &mut Uart, offset: u16) -> u8 {
        uart.read(offset, 1, 0) as u8
    }

    fn wr(uart: &mut Uart, offset: u16, value: u8) {
        uart.write(offset, 1, u32::from(value), 0);
    }

    /// FCR value enabling the FIFOs with trigger field `trigger` (0-3).
    fn fifo_on(trigger: u8) -> u8 {
        FCR_ENABLE | FCR_CLEAR_RX | FCR_CLEAR_TX | (trigger << 6)
    }

    #[test]
    fn reset_values_match_the_datasheet() {
        let mut uart = Uart::new();
        assert_eq!(rd(&mut uart, REG_IER), 0);
        assert_eq!(rd(&mut uart, REG_IIR_FCR), IIR_NO_INT);
        assert_eq!(rd(&mut uart, REG_LSR), LSR_THRE | LSR_TEMT);
        assert_eq!(rd(&mut uart, REG_MCR), 0);
    }

    #[test]
    fn transmitted_bytes_reach_the_output_buffer() {
        let mut uart = Uart::new();
        for b in b"hi" {
            wr(&mut uart, REG_DATA, *b);
        }
        assert_eq!(uart.take_output(), b"hi");
        assert!(uart.take_output().is_empty());
    }

    #[test]
    fn output_buffer_is_capped_and_counts_drops() {
        let mut uart = Uart::new();
        for _ in 0..TX_BUFFER_CAP + 3 {
            wr(&mut uart, REG_DATA, b'x');
        }
        let mut out = Vec::new();
        uart.drain_output_into(&mut out);
        assert_eq!(out.len(), TX_BUFFER_CAP);
        assert_eq!(uart.tx_dropped(), 3);
    }

    #[test]
    fn divisor_latch_is_behind_dlab() {
        let mut uart = Uart::new();
        wr(&mut uart, REG_LCR, LCR_DLAB | 0x03);
        wr(&mut uart, REG_DATA, 0x01); // DLL: 115200 baud
        wr(&mut uart, REG_IER, 0x00); // DLM
        assert_eq!(rd(&mut uart, REG_DATA), 0x01);
        wr(&mut uart, REG_LCR, 0x03);
        assert!(uart.take_output().is_empty(), "DLL write did not transmit");
        assert_eq!(rd(&mut uart, REG_IER), 0, "IER untouched by DLM write");
    }

    #[test]
    fn ier_upper_bits_read_zero() {
        // Linux's autoconfig writes 0x0F and expects it back, and checks
        // that the XScale UUE bit (0x40) does not stick.
        let mut uart = Uart::new();
        wr(&mut uart, REG_IER, 0xFF);
        assert_eq!(rd(&mut uart, REG_IER), 0x0F);
    }

    #[test]
    fn received_bytes_are_read_in_order() {
        let mut uart = Uart::new();
        assert_eq!(uart.push_input(b"ab"), 2);
        assert_eq!(rd(&mut uart, REG_LSR) & LSR_DR, LSR_DR);
        assert_eq!(rd(&mut uart, REG_DATA), b'a');
        assert_eq!(rd(&mut uart, REG_DATA), b'b');
        assert_eq!(rd(&mut uart, REG_LSR) & LSR_DR, 0);
    }

    #[test]
    fn rx_overflow_is_dropped_and_counted() {
        let mut uart = Uart::new();
        // Without FIFOs, one byte sits in RBR and RX_HOST_CAP wait behind it.
        let input = vec![0x55; RX_HOST_CAP + 10];
        assert_eq!(uart.push_input(&input), RX_HOST_CAP + 1);
        assert_eq!(uart.rx_dropped(), 9);
        assert_eq!(uart.push_input(b"more"), 0);
        assert_eq!(uart.rx_dropped(), 13);
    }

    #[test]
    fn iir_priority_order() {
        let mut uart = Uart::new();
        wr(
            &mut uart,
            REG_IER,
            IER_ERBFI | IER_ETBEI | IER_ELSI | IER_EDSSI,
        );
        // Modem status change (lowest), THRE, data and a line error (highest).
        uart.set_modem_inputs(MSR_DSR | MSR_DCD); // CTS drops: DCTS
        uart.push_input(b"x");
        wr(&mut uart, REG_MCR, MCR_LOOP);
        wr(&mut uart, REG_DATA, b'y'); // loopback into a full RBR: overrun
        wr(&mut uart, REG_MCR, 0);
        assert_eq!(rd(&mut uart, REG_IIR_FCR), IIR_RLS);
        assert_eq!(rd(&mut uart, REG_LSR) & LSR_OE, LSR_OE);
        assert_eq!(rd(&mut uart, REG_IIR_FCR), IIR_RDA);
        rd(&mut uart, REG_DATA);
        assert_eq!(rd(&mut uart, REG_IIR_FCR), IIR_THRE);
        // That IIR read cleared THRE: the modem status shows next.
        assert_eq!(rd(&mut uart, REG_IIR_FCR), IIR_MSI);
        rd(&mut uart, REG_MSR);
        assert_eq!(rd(&mut uart, REG_IIR_FCR), IIR_NO_INT);
    }

    #[test]
    fn thre_interrupt_is_cleared_by_iir_read_and_rearmed_by_ier() {
        // The sequence of Linux's UART_BUG_THRE test in serial8250_startup.
        let mut uart = Uart::new();
        wr(&mut uart, REG_IER, IER_ETBEI);
        assert_eq!(rd(&mut uart, REG_IIR_FCR), IIR_THRE);
        assert_eq!(
            rd(&mut uart, REG_IIR_FCR),
            IIR_NO_INT,
            "cleared by the read"
        );
        wr(&mut uart, REG_IER, 0);
        wr(&mut uart, REG_IER, IER_ETBEI);
        assert_eq!(rd(&mut uart, REG_IIR_FCR), IIR_THRE, "re-armed by 0->1");
    }

    #[test]
    fn thre_interrupt_follows_each_transmitted_byte() {
        let mut uart = Uart::new();
        wr(&mut uart, REG_IER, IER_ETBEI);
        rd(&mut uart, REG_IIR_FCR);
        wr(&mut uart, REG_DATA, b'a');
        assert_eq!(rd(&mut uart, REG_IIR_FCR), IIR_THRE);
    }

    #[test]
    fn irq_line_needs_out2() {
        let mut uart = Uart::new();
        wr(&mut uart, REG_IER, IER_ETBEI);
        assert!(!uart.irq_level(), "OUT2 clear: line not driven");
        wr(&mut uart, REG_MCR, MCR_OUT2);
        assert!(uart.irq_level());
        rd(&mut uart, REG_IIR_FCR);
        assert!(!uart.irq_level());
    }

    #[test]
    fn loopback_interrupts_reach_the_line_with_out2() {
        let mut uart = Uart::new();
        wr(&mut uart, REG_MCR, MCR_LOOP);
        wr(&mut uart, REG_IER, IER_ERBFI);
        wr(&mut uart, REG_DATA, b'e');
        assert!(!uart.irq_level(), "OUT2 clear: line not driven");
        wr(&mut uart, REG_MCR, MCR_LOOP | MCR_OUT2);
        assert!(uart.irq_level());
        rd(&mut uart, REG_DATA);
        assert!(!uart.irq_level());
    }

    #[test]
    fn overrun_without_fifo_keeps_the_newer_byte() {
        let mut uart = Uart::new();
        wr(&mut uart, REG_MCR, MCR_LOOP);
        wr(&mut uart, REG_DATA, b'x');
        wr(&mut uart, REG_DATA, b'y');
        assert_eq!(rd(&mut uart, REG_LSR) & LSR_OE, LSR_OE);
        assert_eq!(rd(&mut uart, REG_DATA), b'y');
    }

    #[test]
    fn overrun_with_fifo_loses_the_newer_byte() {
        let mut uart = Uart::new();
        wr(&mut uart, REG_IIR_FCR, fifo_on(0));
        wr(&mut uart, REG_MCR, MCR_LOOP);
        for b in 0..=RX_FIFO_LEN as u8 {
            wr(&mut uart, REG_DATA, b);
        }
        assert_eq!(rd(&mut uart, REG_LSR) & LSR_OE, LSR_OE);
        for b in 0..RX_FIFO_LEN as u8 {
            assert_eq!(rd(&mut uart, REG_DATA), b);
        }
        assert_eq!(rd(&mut uart, REG_LSR) & LSR_DR, 0);
    }

    #[test]
    fn loopback_returns_transmitted_bytes() {
        let mut uart = Uart::new();
        wr(&mut uart, REG_MCR, MCR_LOOP);
        wr(&mut uart, REG_DATA, 0xA5);
        assert!(uart.take_output().is_empty());
        assert_eq!(rd(&mut uart, REG_DATA), 0xA5);
    }

    #[test]
    fn loopback_routes_modem_outputs_to_inputs() {
        // Linux's autoconfig check: MCR = LOOP | OUT2 | RTS must read back
        // MSR status DCD | CTS.
        let mut uart = Uart::new();
        wr(&mut uart, REG_MCR, MCR_LOOP | MCR_OUT2 | MCR_RTS);
        assert_eq!(rd(&mut uart, REG_MSR) & 0xF0, MSR_DCD | MSR_CTS);
        wr(&mut uart, REG_MCR, MCR_LOOP | MCR_DTR | MCR_OUT1);
        assert_eq!(rd(&mut uart, REG_MSR) & 0xF0, MSR_DSR | MSR_RI);
    }

    #[test]
    fn loopback_holds_host_input() {
        let mut uart = Uart::new();
        wr(&mut uart, REG_MCR, MCR_LOOP);
        uart.push_input(b"h");
        assert_eq!(rd(&mut uart, REG_LSR) & LSR_DR, 0, "line disconnected");
        wr(&mut uart, REG_MCR, 0);
        assert_eq!(rd(&mut uart, REG_DATA), b'h');
    }

    #[test]
    fn msr_deltas_are_set_on_change_and_cleared_on_read() {
        let mut uart = Uart::new();
        wr(&mut uart, REG_MCR, MCR_LOOP | MCR_OUT1); // RI rises
        wr(&mut uart, REG_MCR, MCR_LOOP | MCR_RTS); // RI falls, CTS rises
                                                    // Entering loopback dropped the external CTS/DSR/DCD.
        let msr = rd(&mut uart, REG_MSR);
        assert_eq!(msr, MSR_CTS | MSR_TERI | MSR_DCTS | MSR_DDSR | MSR_DDCD);
        assert_eq!(rd(&mut uart, REG_MSR), MSR_CTS);
    }

    #[test]
    fn fifo_mode_shows_in_iir() {
        let mut uart = Uart::new();
        wr(&mut uart, REG_IIR_FCR, fifo_on(3));
        assert_eq!(rd(&mut uart, REG_IIR_FCR), IIR_FIFO_ENABLED | IIR_NO_INT);
        wr(&mut uart, REG_IIR_FCR, 0);
        assert_eq!(rd(&mut uart, REG_IIR_FCR), IIR_NO_INT);
    }

    #[test]
    fn fifo_trigger_level_selects_data_or_timeout_interrupt() {
        let mut uart = Uart::new();
        wr(&mut uart, REG_IIR_FCR, fifo_on(1)); // trigger at 4 bytes
        wr(&mut uart, REG_IER, IER_ERBFI);
        uart.push_input(b"abc");
        assert_eq!(rd(&mut uart, REG_IIR_FCR), IIR_FIFO_ENABLED | IIR_TIMEOUT);
        uart.push_input(b"d");
        assert_eq!(rd(&mut uart, REG_IIR_FCR), IIR_FIFO_ENABLED | IIR_RDA);
    }

    #[test]
    fn each_trigger_level() {
        for (field, level) in [(0u8, 1usize), (1, 4), (2, 8), (3, 14)] {
            let mut uart = Uart::new();
            wr(&mut uart, REG_IIR_FCR, fifo_on(field));
            wr(&mut uart, REG_IER, IER_ERBFI);
            uart.push_input(&vec![0; level - 1]);
            if level > 1 {
                assert_eq!(
                    rd(&mut uart, REG_IIR_FCR) & 0x0F,
                    IIR_TIMEOUT,
                    "level {level}"
                );
            }
            uart.push_input(&[0]);
            assert_eq!(rd(&mut uart, REG_IIR_FCR) & 0x0F, IIR_RDA, "level {level}");
        }
    }

    #[test]
    fn fifo_holds_sixteen_and_host_buffer_feeds_it() {
        let mut uart = Uart::new();
        wr(&mut uart, REG_IIR_FCR, fifo_on(0));
        uart.push_input(&[7; 20]);
        assert_eq!(uart.save().rx_fifo.len(), RX_FIFO_LEN);
        for _ in 0..20 {
            assert_eq!(rd(&mut uart, REG_DATA), 7);
        }
        assert_eq!(rd(&mut uart, REG_LSR) & LSR_DR, 0);
    }

    #[test]
    fn fcr_clear_rx_empties_the_fifo() {
        let mut uart = Uart::new();
        wr(&mut uart, REG_IIR_FCR, fifo_on(0));
        uart.push_input(b"abc");
        wr(&mut uart, REG_IIR_FCR, FCR_ENABLE | FCR_CLEAR_RX);
        assert_eq!(rd(&mut uart, REG_LSR) & LSR_DR, 0);
    }

    #[test]
    fn scratch_register_holds_a_byte() {
        let mut uart = Uart::new();
        wr(&mut uart, REG_SCR, 0x5A);
        assert_eq!(rd(&mut uart, REG_SCR), 0x5A);
    }

    #[test]
    fn unknown_offset_reads_ones_and_peek_has_no_side_effects() {
        let mut uart = Uart::new();
        assert_eq!(uart.read(8, 1, 0), 0xFF);
        uart.push_input(b"q");
        assert_eq!(uart.peek(REG_DATA), b'q');
        assert_eq!(uart.peek(REG_DATA), b'q');
        assert_eq!(rd(&mut uart, REG_DATA), b'q');
    }

    #[test]
    fn snapshot_roundtrip() {
        let mut uart = Uart::new();
        wr(&mut uart, REG_IIR_FCR, fifo_on(2));
        wr(&mut uart, REG_IER, IER_ERBFI | IER_ETBEI);
        wr(&mut uart, REG_MCR, MCR_OUT2 | MCR_DTR);
        uart.push_input(&[1; 40]);
        wr(&mut uart, REG_DATA, b'z');
        anyx86_hw::assert_snapshot_roundtrip(&uart, &mut Uart::new());
    }

    #[test]
    fn restore_rejects_oversized_fifo() {
        let state = UartState {
            rx_fifo: vec![0; 2].into(),
            ..UartState::default()
        };
        assert!(
            Uart::new().restore(&state).is_err(),
            "FIFOs off: RBR holds one"
        );
    }
}
