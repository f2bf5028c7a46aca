//! The PC/AT's two cascaded Intel 8237A DMA controllers and their page
//! registers: DMA1 (8-bit channels 0-3) at ports 0x00-0x0F, DMA2 (16-bit
//! channels 4-7) at ports 0xC0-0xDF, one register at every other port, and
//! the 74LS612 page registers at 0x80-0x8F.
//!
//! Reference: Intel 8237A datasheet (order 231466), "Register Description"
//! (Table 2, command, mode, request, mask and status registers), "Software
//! Commands" (clear byte pointer flip-flop, master clear, clear mask
//! register), "Autoinitialize" and "Transfer Types"; IBM PC/AT Technical
//! Reference, "DMA Controller" (page register ports, word addressing of
//! channels 5-7: A1-A16 from the 8237, A17-A23 from page bits 1-7); Intel
//! 82371SB (PIIX3) datasheet, "DMA Registers".
//!
//! # Wiring
//!
//! The machine routes ports 0x00-0x0F, 0xC0-0xDF and the page ports
//! 0x81-0x83, 0x87, 0x89-0x8B, 0x8F to [`Dma8237::read`] /
//! [`Dma8237::write`] with the port number itself (0x80 is usually the POST
//! port; the other 0x8x ports are plain scratch bytes here). A device
//! moves data with [`Dma8237::write_memory`] (device to memory, a DMA
//! "write transfer") or [`Dma8237::read_memory`] (memory to device), which
//! report the bytes moved and whether the channel reached terminal count
//! (the TC pin the device sees). After a write to any DMA port the machine
//! lets waiting devices retry (the floppy controller's
//! [`crate::fdc::Fdc::poll_dma`]): unmasking a channel is what starts a
//! transfer a device had requested earlier.
//!
//! # Not implemented
//!
//! - Timing: a transfer happens all at once when the device asks, so
//!   single, block and demand modes behave alike; DREQ is not modelled
//!   (the status request bits show the software request register only).
//! - Memory-to-memory transfers (command bit 0), priority rotation and the
//!   DREQ/DACK polarity bits of the command register are stored only.
//! - The cascade of DMA1 into channel 4 is not enforced: channels 0-3 run
//!   whatever channel 4's mask and mode, as in QEMU.
//! - The EISA/PIIX high page registers (0x481-0x48B): addresses stop at
//!   16 MiB as on the PC/AT.

use anyx86_hw::{DmaMemory, Snapshot, SnapshotError};

/// Number of DMA channels (0-3 on DMA1, 4-7 on DMA2).
pub const DMA_CHANNELS: usize = 8;

/// Register index 8 (read): status register.
pub const REG_STATUS: u8 = 8;
/// Register index 8 (write): command register.
pub const REG_COMMAND: u8 = 8;
/// Register index 9 (write): software request register.
pub const REG_REQUEST: u8 = 9;
/// Register index 10 (write): single channel mask register.
pub const REG_SINGLE_MASK: u8 = 10;
/// Register index 11 (write): mode register.
pub const REG_MODE: u8 = 11;
/// Register index 12 (write): clear byte pointer flip-flop.
pub const REG_CLEAR_FLIP_FLOP: u8 = 12;
/// Register index 13 (read): temporary register.
pub const REG_TEMPORARY: u8 = 13;
/// Register index 13 (write): master clear.
pub const REG_MASTER_CLEAR: u8 = 13;
/// Register index 14 (write): clear all mask bits.
pub const REG_CLEAR_MASK: u8 = 14;
/// Register index 15: write (and, on the PIIX, read) all mask bits.
pub const REG_ALL_MASK: u8 = 15;

/// Command register: controller disable.
pub const COMMAND_DISABLE: u8 = 0x04;

/// Mode register: channel select (bits 0-1).
pub const MODE_CHANNEL: u8 = 0x03;
/// Mode register: transfer type (bits 2-3).
pub const MODE_TRANSFER: u8 = 0x0C;
/// Transfer type: verify (addresses run, no memory access).
pub const TRANSFER_VERIFY: u8 = 0x00;
/// Transfer type: write (device to memory).
pub const TRANSFER_WRITE: u8 = 0x04;
/// Transfer type: read (memory to device).
pub const TRANSFER_READ: u8 = 0x08;
/// Mode register: autoinitialize (reload base address and count at TC).
pub const MODE_AUTOINIT: u8 = 0x10;
/// Mode register: address decrement.
pub const MODE_DECREMENT: u8 = 0x20;
/// Mode register: mode select (bits 6-7).
pub const MODE_SELECT: u8 = 0xC0;
/// Mode select: demand.
pub const MODE_DEMAND: u8 = 0x00;
/// Mode select: single.
pub const MODE_SINGLE: u8 = 0x40;
/// Mode select: block.
pub const MODE_BLOCK: u8 = 0x80;
/// Mode select: cascade (the channel moves no data itself).
pub const MODE_CASCADE: u8 = 0xC0;

/// Request and single-mask registers: set (1) or clear (0) the bit.
pub const BIT_SET: u8 = 0x04;

/// Status register: terminal count reached, channels 0-3 (bits 0-3).
pub const STATUS_TC: u8 = 0x0F;
/// Status register: request pending, channels 0-3 (bits 4-7).
pub const STATUS_REQUEST_SHIFT: u32 = 4;

/// Low nibble of the page ports 0x80-0x8F holding each channel's page
/// (IBM's wiring: channel 2 at 0x81, 3 at 0x82, 1 at 0x83, 0 at 0x87; 6,
/// 7, 5 at 0x89-0x8B; 0x8F for channel 4, the refresh page).
pub const PAGE_PORT_OF_CHANNEL: [usize; DMA_CHANNELS] = [7, 3, 1, 2, 0xF, 0xB, 9, 0xA];

/// One channel's registers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DmaChannelState {
    /// Base address (bytes on DMA1, words on DMA2), reloaded at
    /// autoinitialize.
    pub base_address: u16,
    /// Base count (transfers minus one).
    pub base_count: u16,
    /// Current address.
    pub current_address: u16,
    /// Current count; a transfer at count 0 is the last (TC).
    pub current_count: u16,
    /// Mode register.
    pub mode: u8,
}
anyx86_hw::wire_struct!(DmaChannelState {
    base_address,
    base_count,
    current_address,
    current_count,
    mode
});

/// One 8237A's controller-wide registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmaControllerState {
    /// Command register.
    pub command: u8,
    /// Terminal-count bits (status bits 0-3), cleared when status is read.
    pub terminal_count: u8,
    /// Software request bits (bit n = channel n of this controller).
    pub request: u8,
    /// Mask bits (bit n = channel n of this controller).
    pub mask: u8,
    /// Byte pointer flip-flop: true = the next access is the high byte.
    pub flip_flop: bool,
    /// Temporary register (memory-to-memory only; reads back 0 here).
    pub temporary: u8,
}
anyx86_hw::wire_struct!(DmaControllerState {
    command,
    terminal_count,
    request,
    mask,
    flip_flop,
    temporary
});

impl Default for DmaControllerState {
    /// Reset state: every channel masked.
    fn default() -> Self {
        DmaControllerState {
            command: 0,
            terminal_count: 0,
            request: 0,
            mask: 0x0F,
            flip_flop: false,
            temporary: 0,
        }
    }
}

/// Plain-data state of both controllers and the page registers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dma8237State {
    /// DMA1 (index 0) and DMA2 (index 1).
    pub controllers: [DmaControllerState; 2],
    /// Channels 0-7.
    pub channels: [DmaChannelState; DMA_CHANNELS],
    /// The sixteen page ports 0x80-0x8F, indexed by the port's low nibble.
    pub pages: [u8; 16],
}
anyx86_hw::wire_struct!(Dma8237State {
    controllers,
    channels,
    pages
});

/// What a device-side transfer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DmaTransfer {
    /// Bytes moved (a whole number of the channel's units).
    pub bytes: usize,
    /// The channel reached terminal count during this transfer: the TC pin
    /// that ends a floppy command.
    pub terminal_count: bool,
}

/// Which way a transfer moves data, from the device's point of view.
enum Direction<'a> {
    /// Device to memory.
    ToMemory(&'a [u8]),
    /// Memory to device.
    FromMemory(&'a mut [u8]),
}

/// The two 8237A controllers of the PC/AT with their page registers.
#[derive(Debug, Clone, Default)]
pub struct Dma8237 {
    state: Dma8237State,
}

impl Dma8237 {
    /// Both controllers in their reset state: all channels masked.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the register at `port` (0x00-0x0F, 0x80-0x8F, 0xC0-0xDF);
    /// other ports and write-only registers read 0xFF.
    pub fn read(&mut self, port: u16) -> u8 {
        match port {
            0x80..=0x8F => self.state.pages[usize::from(port & 0xF)],
            _ => match Self::decode(port) {
                Some((ctrl, reg)) => self.read_register(ctrl, reg),
                None => 0xFF,
            },
        }
    }

    /// Writes the register at `port`; other ports are ignored.
    pub fn write(&mut self, port: u16, value: u8) {
        match port {
            0x80..=0x8F => self.state.pages[usize::from(port & 0xF)] = value,
            _ => {
                if let Some((ctrl, reg)) = Self::decode(port) {
                    self.write_register(ctrl, reg, value);
                }
            }
        }
    }

    /// True if `channel` would move data now: its mask bit is clear, its
    /// controller is enabled and it is not a cascade channel.
    pub fn channel_enabled(&self, channel: usize) -> bool {
        let Some(ch) = self.state.channels.get(channel) else {
            return false;
        };
        let ctrl = &self.state.controllers[channel / 4];
        ctrl.mask & (1 << (channel % 4)) == 0
            && ctrl.command & COMMAND_DISABLE == 0
            && ch.mode & MODE_SELECT != MODE_CASCADE
    }

    /// The transfer type of `channel` ([`TRANSFER_VERIFY`],
    /// [`TRANSFER_WRITE`], [`TRANSFER_READ`], or 0x0C, illegal).
    pub fn transfer_type(&self, channel: usize) -> u8 {
        self.state
            .channels
            .get(channel)
            .map_or(TRANSFER_VERIFY, |c| c.mode & MODE_TRANSFER)
    }

    /// A device hands `data` to memory through `channel` (a "write
    /// transfer"). Moves as many whole units as the count allows and stops
    /// at terminal count. If the channel is programmed for another transfer
    /// type the addresses still run but memory is not written, as on the
    /// bus.
    pub fn write_memory(
        &mut self,
        channel: usize,
        data: &[u8],
        mem: &mut dyn DmaMemory,
    ) -> DmaTransfer {
        self.transfer(channel, Direction::ToMemory(data), mem)
    }

    /// A device takes `buf.len()` bytes from memory through `channel` (a
    /// "read transfer"). Bytes the channel does not move are left as they
    /// were; if the channel is programmed for another transfer type the
    /// device sees a floating bus (0xFF).
    pub fn read_memory(
        &mut self,
        channel: usize,
        buf: &mut [u8],
        mem: &mut dyn DmaMemory,
    ) -> DmaTransfer {
        self.transfer(channel, Direction::FromMemory(buf), mem)
    }

    /// Maps a controller port to (controller, register index 0-15).
    fn decode(port: u16) -> Option<(usize, u8)> {
        match port {
            0x00..=0x0F => Some((0, port as u8)),
            // DMA2 sits on address lines A1-A4: one register per two ports.
            0xC0..=0xDF => Some((1, ((port - 0xC0) >> 1) as u8)),
            _ => None,
        }
    }

    fn read_register(&mut self, ctrl: usize, reg: u8) -> u8 {
        match reg {
            0..=7 => self.read_channel_register(ctrl * 4 + usize::from(reg >> 1), reg & 1 == 1),
            REG_STATUS => self.read_status(ctrl),
            REG_TEMPORARY => self.state.controllers[ctrl].temporary,
            REG_ALL_MASK => 0xF0 | self.state.controllers[ctrl].mask,
            _ => 0xFF,
        }
    }

    fn write_register(&mut self, ctrl: usize, reg: u8, value: u8) {
        let c = &mut self.state.controllers[ctrl];
        match reg {
            0..=7 => {
                self.write_channel_register(ctrl * 4 + usize::from(reg >> 1), reg & 1 == 1, value)
            }
            REG_COMMAND => c.command = value,
            REG_REQUEST => set_bit(&mut c.request, value),
            REG_SINGLE_MASK => set_bit(&mut c.mask, value),
            REG_MODE => {
                let channel = ctrl * 4 + usize::from(value & MODE_CHANNEL);
                self.state.channels[channel].mode = value;
            }
            REG_CLEAR_FLIP_FLOP => c.flip_flop = false,
            REG_MASTER_CLEAR => *c = DmaControllerState::default(),
            REG_CLEAR_MASK => c.mask = 0,
            _ => c.mask = value & 0x0F,
        }
    }

    /// Status: TC bits (cleared by the read) and request bits.
    fn read_status(&mut self, ctrl: usize) -> u8 {
        let c = &mut self.state.controllers[ctrl];
        let status = c.terminal_count | (c.request << STATUS_REQUEST_SHIFT);
        c.terminal_count = 0;
        status
    }

    /// Toggles the flip-flop and returns whether this access was the high
    /// byte.
    fn toggle_flip_flop(&mut self, channel: usize) -> bool {
        let c = &mut self.state.controllers[channel / 4];
        let high = c.flip_flop;
        c.flip_flop = !high;
        high
    }

    fn read_channel_register(&mut self, channel: usize, count: bool) -> u8 {
        let high = self.toggle_flip_flop(channel);
        let ch = &self.state.channels[channel];
        let value = if count {
            ch.current_count
        } else {
            ch.current_address
        };
        (if high { value >> 8 } else { value }) as u8
    }

    /// Writes one byte of the base and current address or count.
    fn write_channel_register(&mut self, channel: usize, count: bool, value: u8) {
        let high = self.toggle_flip_flop(channel);
        let ch = &mut self.state.channels[channel];
        let base = if count {
            &mut ch.base_count
        } else {
            &mut ch.base_address
        };
        *base = if high {
            (*base & 0x00FF) | u16::from(value) << 8
        } else {
            (*base & 0xFF00) | u16::from(value)
        };
        let base = *base;
        if count {
            ch.current_count = base;
        } else {
            ch.current_address = base;
        }
    }

    /// Physical address of the channel's current unit.
    fn physical_address(&self, channel: usize) -> u64 {
        let ch = &self.state.channels[channel];
        let page = u64::from(self.state.pages[PAGE_PORT_OF_CHANNEL[channel]]);
        if channel < 4 {
            page << 16 | u64::from(ch.current_address)
        } else {
            // Word channels: A1-A16 from the 8237, A17-A23 from page bits 1-7.
            (page & 0xFE) << 16 | u64::from(ch.current_address) << 1
        }
    }

    fn transfer(
        &mut self,
        channel: usize,
        mut dir: Direction<'_>,
        mem: &mut dyn DmaMemory,
    ) -> DmaTransfer {
        let mut done = DmaTransfer::default();
        if !self.channel_enabled(channel) {
            return done;
        }
        let unit = if channel < 4 { 1 } else { 2 };
        let len = match &dir {
            Direction::ToMemory(d) => d.len(),
            Direction::FromMemory(b) => b.len(),
        };
        while done.bytes + unit <= len && !done.terminal_count {
            let units = self.run_length(channel, (len - done.bytes) / unit);
            let bytes = units * unit;
            self.move_run(channel, &mut dir, done.bytes..done.bytes + bytes, mem);
            done.bytes += bytes;
            done.terminal_count = self.advance(channel, units);
        }
        done
    }

    /// Units that can move as one contiguous run: bounded by the request,
    /// the count, the 64 Ki-unit address wrap, and one unit when counting
    /// down.
    fn run_length(&self, channel: usize, wanted: usize) -> usize {
        let ch = &self.state.channels[channel];
        let to_tc = usize::from(ch.current_count) + 1;
        let to_wrap = if ch.mode & MODE_DECREMENT != 0 {
            1
        } else {
            0x1_0000 - usize::from(ch.current_address)
        };
        wanted.min(to_tc).min(to_wrap)
    }

    fn move_run(
        &self,
        channel: usize,
        dir: &mut Direction<'_>,
        range: core::ops::Range<usize>,
        mem: &mut dyn DmaMemory,
    ) {
        let addr = self.physical_address(channel);
        let kind = self.transfer_type(channel);
        match dir {
            Direction::ToMemory(data) if kind == TRANSFER_WRITE => {
                mem.dma_write(addr, &data[range]);
            }
            Direction::ToMemory(_) => {}
            Direction::FromMemory(buf) if kind == TRANSFER_READ => {
                mem.dma_read(addr, &mut buf[range]);
            }
            Direction::FromMemory(buf) => buf[range].fill(0xFF),
        }
    }

    /// Steps address and count by `units`; returns true at terminal count,
    /// where the channel autoinitializes or masks itself.
    fn advance(&mut self, channel: usize, units: usize) -> bool {
        let ch = &mut self.state.channels[channel];
        let n = units as u16; // at most 0x10000 units; 0x10000 wraps to 0 alike.
        ch.current_address = if ch.mode & MODE_DECREMENT != 0 {
            ch.current_address.wrapping_sub(n)
        } else {
            ch.current_address.wrapping_add(n)
        };
        let tc = units > usize::from(ch.current_count);
        ch.current_count = ch.current_count.wrapping_sub(n);
        if !tc {
            return false;
        }
        let bit = 1u8 << (channel % 4);
        if ch.mode & MODE_AUTOINIT != 0 {
            ch.current_address = ch.base_address;
            ch.current_count = ch.base_count;
        } else {
            self.state.controllers[channel / 4].mask |= bit;
        }
        let c = &mut self.state.controllers[channel / 4];
        c.terminal_count |= bit;
        c.request &= !bit;
        true
    }
}

/// Request and single-mask registers: bits 0-1 select the channel, bit 2
/// sets or clears its bit.
fn set_bit(reg: &mut u8, value: u8) {
    let bit = 1u8 << (value & 3);
    if value & BIT_SET != 0 {
        *reg |= bit;
    } else {
        *reg &= !bit;
    }
}

impl Snapshot for Dma8237 {
    type State = Dma8237State;

    fn save(&self) -> Dma8237State {
        self.state.clone()
    }

    fn restore(&mut self, state: &Dma8237State) -> Result<(), SnapshotError> {
        let invalid = |field, why| Err(SnapshotError::Invalid { field, why });
        for c in &state.controllers {
            if (c.mask | c.request | c.terminal_count) & !0x0F != 0 {
                return invalid("controllers", "mask, request and TC hold 4 bits");
            }
        }
        self.state = state.clone();
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::pci::test_util::XorShift;

    /// Guest memory for DMA tests: a flat Vec, unmapped beyond its end.
    pub(crate) struct VecMemory(pub Vec<u8>);

    impl DmaMemory for VecMemory {
        fn dma_read(&mut self, addr: u64, buf: &mut [u8]) {
            for (i, b) in buf.iter_mut().enumerate() {
                let a = addr.wrapping_add(i as u64) as usize;
                *b = self.0.get(a).copied().unwrap_or(0xFF);
            }
        }

        fn dma_write(&mut self, addr: u64, data: &[u8]) {
            for (i, &b) in data.iter().enumerate() {
                let a = addr.wrapping_add(i as u64) as usize;
                if let Some(m) = self.0.get_mut(a) {
                    *m = b;
                }
            }
        }
    }

    /// Programs an 8-bit channel (0-3) the way SeaBIOS's floppy code does.
    pub(crate) fn program8(dma: &mut Dma8237, ch: u8, addr: u32, bytes: u16, mode: u8) {
        let page_port = 0x80 + PAGE_PORT_OF_CHANNEL[usize::from(ch)] as u16;
        let count = bytes - 1;
        dma.write(0x0A, BIT_SET | ch);
        dma.write(0x0C, 0);
        dma.write(u16::from(ch) * 2, addr as u8);
        dma.write(u16::from(ch) * 2, (addr >> 8) as u8);
        dma.write(0x0C, 0);
        dma.write(u16::from(ch) * 2 + 1, count as u8);
        dma.write(u16::from(ch) * 2 + 1, (count >> 8) as u8);
        dma.write(0x0B, mode | ch);
        dma.write(page_port, (addr >> 16) as u8);
        dma.write(0x0A, ch);
    }

    #[test]
    fn flip_flop_alternates_low_and_high_bytes() {
        let mut dma = Dma8237::new();
        dma.write(0x0C, 0);
        dma.write(0x04, 0x34); // channel 2 address low
        dma.write(0x04, 0x12); // high
        dma.write(0x0C, 0);
        assert_eq!(dma.read(0x04), 0x34);
        assert_eq!(dma.read(0x04), 0x12);
        // The flip-flop is shared by all channels: it is now back at low.
        dma.write(0x05, 0xFF);
        dma.write(0x05, 0x01);
        assert_eq!(dma.save().channels[2].base_count, 0x01FF);
    }

    #[test]
    fn page_registers_follow_ibm_wiring() {
        let mut dma = Dma8237::new();
        dma.write(0x81, 0x12);
        dma.write(0x87, 0x34);
        assert_eq!(dma.read(0x81), 0x12);
        assert_eq!(dma.save().pages[PAGE_PORT_OF_CHANNEL[2]], 0x12);
        assert_eq!(dma.save().pages[PAGE_PORT_OF_CHANNEL[0]], 0x34);
    }

    #[test]
    fn channels_start_masked_and_single_mask_unmasks() {
        let mut dma = Dma8237::new();
        assert!(!dma.channel_enabled(2));
        dma.write(0x0A, 2); // clear mask bit of channel 2
        assert!(dma.channel_enabled(2));
        dma.write(0x0A, BIT_SET | 2);
        assert!(!dma.channel_enabled(2));
    }

    #[test]
    fn all_mask_and_clear_mask_registers() {
        let mut dma = Dma8237::new();
        dma.write(0x0E, 0);
        assert!((0..4).all(|c| dma.channel_enabled(c)));
        dma.write(0x0F, 0b0101);
        assert!(!dma.channel_enabled(0) && dma.channel_enabled(1));
        assert_eq!(dma.read(0x0F), 0xF5);
    }

    #[test]
    fn command_disable_stops_the_controller() {
        let mut dma = Dma8237::new();
        dma.write(0x0E, 0);
        dma.write(0x08, COMMAND_DISABLE);
        assert!(!dma.channel_enabled(2));
    }

    #[test]
    fn write_transfer_fills_memory_and_sets_tc() {
        let mut dma = Dma8237::new();
        let mut mem = VecMemory(vec![0; 0x3_0000]);
        program8(&mut dma, 2, 0x2_1000, 4, MODE_SINGLE | TRANSFER_WRITE);
        let t = dma.write_memory(2, &[1, 2, 3, 4, 5, 6], &mut mem);
        assert_eq!(
            t,
            DmaTransfer {
                bytes: 4,
                terminal_count: true
            }
        );
        assert_eq!(&mem.0[0x2_1000..0x2_1005], &[1, 2, 3, 4, 0]);
        // Status: TC for channel 2, cleared by the read.
        assert_eq!(dma.read(0x08) & STATUS_TC, 0x04);
        assert_eq!(dma.read(0x08) & STATUS_TC, 0);
        // Without autoinit the channel masks itself at TC.
        assert!(!dma.channel_enabled(2));
    }

    #[test]
    fn current_address_and_count_read_back_after_transfer() {
        let mut dma = Dma8237::new();
        let mut mem = VecMemory(vec![0; 0x1_0000]);
        program8(&mut dma, 1, 0x100, 16, MODE_SINGLE | TRANSFER_WRITE);
        dma.write_memory(1, &[0; 6], &mut mem);
        dma.write(0x0C, 0);
        assert_eq!(dma.read(0x02), 0x06);
        assert_eq!(dma.read(0x02), 0x01); // address 0x106
        assert_eq!(dma.read(0x03), 9);
        assert_eq!(dma.read(0x03), 0); // 16 - 6 - 1
    }

    #[test]
    fn read_transfer_takes_memory() {
        let mut dma = Dma8237::new();
        let mut mem = VecMemory((0..=255).collect());
        program8(&mut dma, 2, 0x10, 3, MODE_SINGLE | TRANSFER_READ);
        let mut buf = [0u8; 3];
        let t = dma.read_memory(2, &mut buf, &mut mem);
        assert!(t.terminal_count);
        assert_eq!(buf, [0x10, 0x11, 0x12]);
    }

    #[test]
    fn autoinit_reloads_at_tc_and_stays_unmasked() {
        let mut dma = Dma8237::new();
        let mut mem = VecMemory(vec![0; 0x100]);
        program8(
            &mut dma,
            2,
            0x10,
            2,
            MODE_SINGLE | MODE_AUTOINIT | TRANSFER_WRITE,
        );
        let t = dma.write_memory(2, &[7, 8, 9], &mut mem);
        assert_eq!(t.bytes, 2);
        assert!(t.terminal_count && dma.channel_enabled(2));
        dma.write_memory(2, &[5], &mut mem);
        assert_eq!(&mem.0[0x10..0x13], &[5, 8, 0]);
    }

    #[test]
    fn decrement_mode_walks_down() {
        let mut dma = Dma8237::new();
        let mut mem = VecMemory(vec![0; 0x100]);
        program8(
            &mut dma,
            3,
            0x20,
            3,
            MODE_BLOCK | MODE_DECREMENT | TRANSFER_WRITE,
        );
        dma.write_memory(3, &[1, 2, 3], &mut mem);
        assert_eq!(&mem.0[0x1E..0x21], &[3, 2, 1]);
    }

    #[test]
    fn address_wraps_inside_the_page() {
        let mut dma = Dma8237::new();
        let mut mem = VecMemory(vec![0; 0x3_0000]);
        program8(&mut dma, 2, 0x1_FFFF, 2, MODE_SINGLE | TRANSFER_WRITE);
        dma.write_memory(2, &[0xAA, 0xBB], &mut mem);
        // The page does not carry: the second byte lands at 0x1_0000.
        assert_eq!(mem.0[0x1_FFFF], 0xAA);
        assert_eq!(mem.0[0x1_0000], 0xBB);
        assert_eq!(mem.0[0x2_0000], 0);
    }

    #[test]
    fn verify_mode_moves_no_data() {
        let mut dma = Dma8237::new();
        let mut mem = VecMemory(vec![0; 0x100]);
        program8(&mut dma, 2, 0x10, 2, MODE_SINGLE | TRANSFER_VERIFY);
        let t = dma.write_memory(2, &[1, 2], &mut mem);
        assert_eq!(t.bytes, 2);
        assert!(mem.0.iter().all(|&b| b == 0));
    }

    #[test]
    fn masked_channel_moves_nothing() {
        let mut dma = Dma8237::new();
        let mut mem = VecMemory(vec![0; 0x100]);
        let t = dma.write_memory(2, &[1], &mut mem);
        assert_eq!(t, DmaTransfer::default());
    }

    #[test]
    fn word_channels_address_words_with_even_pages() {
        let mut dma = Dma8237::new();
        let mut mem = VecMemory(vec![0; 0x6_0000]);
        // Channel 5: registers at 0xC4 (address) and 0xC6 (count), page 0x8B.
        dma.write(0xD8, 0); // clear flip-flop (register 12 at 0xC0 + 2*12)
        dma.write(0xC4, 0x00);
        dma.write(0xC4, 0x08); // word address 0x0800 = byte 0x1000
        dma.write(0xC6, 1);
        dma.write(0xC6, 0); // two words
        dma.write(0xD6, MODE_SINGLE | TRANSFER_WRITE | 1); // mode, channel 5
        dma.write(0x8B, 0x05); // page bit 0 ignored: A17-A23 = 0x04
        dma.write(0xD4, 1); // unmask channel 5
        let t = dma.write_memory(5, &[1, 2, 3, 4, 5], &mut mem);
        assert_eq!(
            t,
            DmaTransfer {
                bytes: 4,
                terminal_count: true
            }
        );
        assert_eq!(&mem.0[0x4_1000..0x4_1005], &[1, 2, 3, 4, 0]);
        assert_eq!(dma.read(0xD0) & STATUS_TC, 0x02);
    }

    #[test]
    fn master_clear_masks_everything_and_resets_flip_flop() {
        let mut dma = Dma8237::new();
        dma.write(0x0E, 0);
        dma.write(0x00, 0x12); // flip-flop now at high byte
        dma.write(0x09, BIT_SET | 1);
        assert_eq!(dma.read(0x08), 0x20); // request bit of channel 1
        dma.write(0x0D, 0);
        assert!(!dma.channel_enabled(0));
        assert_eq!(dma.read(0x08), 0);
        dma.write(0x00, 0x34);
        assert_eq!(dma.save().channels[0].base_address, 0x0034);
    }

    #[test]
    fn cascade_channel_moves_nothing() {
        let mut dma = Dma8237::new();
        dma.write(0xD6, MODE_CASCADE); // channel 4 cascade
        dma.write(0xD4, 0);
        assert!(!dma.channel_enabled(4));
    }

    #[test]
    fn unknown_ports_read_ones() {
        let mut dma = Dma8237::new();
        assert_eq!(dma.read(0x10), 0xFF);
        assert_eq!(dma.read(0x0B), 0xFF);
        dma.write(0x10, 0);
    }

    #[test]
    fn snapshot_roundtrip() {
        let mut dma = Dma8237::new();
        let mut mem = VecMemory(vec![0; 0x100]);
        program8(&mut dma, 2, 0x10, 8, MODE_SINGLE | TRANSFER_WRITE);
        dma.write_memory(2, &[1, 2], &mut mem);
        anyx86_hw::assert_snapshot_roundtrip(&dma, &mut Dma8237::new());
        let mut bad = dma.save();
        bad.controllers[1].mask = 0x10;
        assert!(Dma8237::new().restore(&bad).is_err());
    }

    #[test]
    fn hammer_every_port() {
        let mut dma = Dma8237::new();
        let mut mem = VecMemory(vec![0; 0x1000]);
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20 {
            for port in (0..=0x0Fu16).chain(0x80..=0x8F).chain(0xC0..=0xDF) {
                let r = rng.next();
                dma.write(port, r as u8);
                dma.read(port);
                let ch = (r >> 8) as usize % 10;
                let mut buf = vec![0u8; (r >> 16) as usize % 300];
                dma.write_memory(ch, &buf.clone(), &mut mem);
                dma.read_memory(ch, &mut buf, &mut mem);
            }
        }
        assert!(Dma8237::new().restore(&dma.save()).is_ok());
    }
}
