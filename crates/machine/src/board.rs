//! The board: memory, the port map, the PC chips and the clock, seen by
//! the CPU through [`CpuBus`].
//!
//! Ports map to a small `Copy` device id ([`Dev`]) in one `match`
//! ([`decode_port`]); every access is dispatched statically and followed
//! by the wiring it implies (IRQ lines, deadlines, A20, reset), all here.

use crate::clock::Clock;
use crate::layout::{irq, mem, port};
use crate::pc::{ones, Chipset, MachineKind};
use anyx86_cpu::bus::platform_msr;
use anyx86_cpu::CpuBus;
use anyx86_devices::{Cmos, Dma8237, Fdc, FwCfg, PicPair, Pit, Port92, Uart, I8042};
use anyx86_hw::{DmaMemory, IrqLevel, PortDevice, Scheduler};
use anyx86_mem::{Pam, PhysMemory, Region, PAM_SEGMENTS};
use std::io::Write;

mod snapshot;
pub use snapshot::BoardStateError;

/// Where a byte stream from the guest goes (debug console, serial port).
pub type Sink = Box<dyn Write + Send>;

/// A byte output: flushed at each newline (line-buffered) or each byte.
pub struct Output {
    sink: Option<Sink>,
    line: Vec<u8>,
    line_buffered: bool,
    /// Bytes written so far.
    pub count: u64,
}

impl Output {
    /// Output to `sink`, or discarded when `None`.
    pub fn new(sink: Option<Sink>, line_buffered: bool) -> Self {
        Self {
            sink,
            line: Vec::new(),
            line_buffered,
            count: 0,
        }
    }

    /// Sends bytes.
    pub fn put_all(&mut self, bytes: &[u8]) {
        self.count += bytes.len() as u64;
        let Some(s) = self.sink.as_mut() else { return };
        if !self.line_buffered {
            let _ = s.write_all(bytes);
            let _ = s.flush();
            return;
        }
        for &b in bytes {
            self.line.push(b);
            if b == b'\n' || self.line.len() >= 4096 {
                let _ = s.write_all(&self.line);
                let _ = s.flush();
                self.line.clear();
            }
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
    /// The guest asked for a reset (port 0x92, i8042 0xFE, 0xCF9).
    Reset,
    /// The guest entered ACPI S5 (soft off).
    PowerOff,
    /// An INIT reached the CPU (local APIC): the CPU resets, the board
    /// does not.
    Init,
}

/// Devices on the I/O port bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dev {
    /// The 8259A pair (addressed by absolute port).
    Pic,
    /// The 8254.
    Pit,
    /// System control port B.
    Port61,
    /// A 16550 (0 = COM1 .. 3 = COM4).
    Uart(u8),
    /// RTC / CMOS.
    Cmos,
    /// Keyboard controller.
    Kbc,
    /// System control port A.
    Port92,
    /// Debug console.
    DebugCon,
    /// isa-debug-exit.
    Exit,
    /// POST code latch.
    Post,
    /// Bochs's shutdown port: accepted and ignored.
    BochsShutdown,
    /// The coprocessor error latch (port 0xF0): a write clears IRQ13.
    FpuError,
    /// SeaBIOS's debug port (QEMU's second debugcon, 0x402).
    FirmwareLog,
    /// The 8237A pair and its page registers (addressed by absolute port).
    Dma,
    /// The floppy controller.
    Fdc,
    /// A device of the full PC's chipset; its ports are unclaimed on the
    /// ISA machine.
    Pc(PcDev),
}

/// The port devices only the full PC has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PcDev {
    /// PCI CONFIG_ADDRESS, or the reset control register for a byte at
    /// 0xCF9.
    PciAddress,
    /// PCI CONFIG_DATA.
    PciData,
    /// APM control and status, 0xB2-0xB3.
    Apm,
    /// fw_cfg.
    FwCfg,
    /// The VGA's registers and the Bochs VBE ports (absolute port).
    Vga,
    /// An IDE channel's command block.
    Ide(u8),
    /// An IDE channel's control block.
    IdeControl(u8),
}

/// Maps a port to its device and the offset within the device.
pub fn decode_port(p: u16) -> Option<(Dev, u16)> {
    let uarts = [port::COM1, port::COM2, port::COM3, port::COM4];
    for (i, base) in uarts.iter().enumerate() {
        if (*base..*base + port::UART_LEN).contains(&p) {
            return Some((Dev::Uart(i as u8), p - base));
        }
    }
    Some(match p {
        0x20 | 0x21 | 0xA0 | 0xA1 | 0x4D0 | 0x4D1 => (Dev::Pic, p),
        port::PIT..=0x43 => (Dev::Pit, p - port::PIT),
        port::PORT61 => (Dev::Port61, 0),
        port::I8042_DATA | port::I8042_CMD => (Dev::Kbc, p - port::I8042_DATA),
        port::CMOS_INDEX | port::CMOS_DATA => (Dev::Cmos, p - port::CMOS_INDEX),
        port::POST => (Dev::Post, 0),
        port::PORT92 => (Dev::Port92, 0),
        port::DEBUGCON => (Dev::DebugCon, 0),
        port::FIRMWARE_LOG => (Dev::FirmwareLog, 0),
        0x00..=0x0F | 0x81..=0x8F | 0xC0..=0xDF => (Dev::Dma, p),
        _ if (port::VGA..port::VGA + port::VGA_LEN).contains(&p) => (Dev::Pc(PcDev::Vga), p),
        port::VBE_DISPI..=0x1D0 => (Dev::Pc(PcDev::Vga), p),
        port::IDE0_CTL => (Dev::Pc(PcDev::IdeControl(0)), 0),
        _ if (port::FDC..port::FDC + port::FDC_LEN).contains(&p) => (Dev::Fdc, p - port::FDC),
        port::IDE1_CTL => (Dev::Pc(PcDev::IdeControl(1)), 0),
        _ if (port::IDE0..port::IDE0 + port::IDE_LEN).contains(&p) => {
            (Dev::Pc(PcDev::Ide(0)), p - port::IDE0)
        }
        _ if (port::IDE1..port::IDE1 + port::IDE_LEN).contains(&p) => {
            (Dev::Pc(PcDev::Ide(1)), p - port::IDE1)
        }
        _ if (port::EXIT..port::EXIT + port::EXIT_LEN).contains(&p) => (Dev::Exit, p - port::EXIT),
        port::BOCHS_SHUTDOWN => (Dev::BochsShutdown, 0),
        port::FPU_ERROR => (Dev::FpuError, 0),
        port::APM_CNT | port::APM_STS => (Dev::Pc(PcDev::Apm), p - port::APM_CNT),
        port::PCI_ADDRESS..=0xCFB => (Dev::Pc(PcDev::PciAddress), p - port::PCI_ADDRESS),
        port::PCI_DATA..=0xCFF => (Dev::Pc(PcDev::PciData), p - port::PCI_DATA),
        _ if (port::FW_CFG..port::FW_CFG + port::FW_CFG_LEN).contains(&p) => {
            (Dev::Pc(PcDev::FwCfg), p - port::FW_CFG)
        }
        _ => return None,
    })
}

/// The offset of `p` in the test device's register ports (0xE0-0xEB less
/// the debug console's 0xE9).
fn testdev_offset(p: u16) -> Option<u16> {
    let off = p.wrapping_sub(port::TESTDEV);
    (off < port::TESTDEV_LEN && p != port::DEBUGCON).then_some(off)
}

/// The interrupt line of test-device port `p` (0x2000-0x2017).
fn testdev_line(p: u16) -> Option<u16> {
    let line = p.wrapping_sub(port::TESTDEV_IRQ);
    (line < anyx86_devices::pc_testdev::TESTDEV_LINES).then_some(line)
}

/// Timed events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Event {
    /// A rising edge of PIT OUT0.
    Pit,
    /// An RTC periodic/alarm/update deadline.
    Rtc,
    /// The local APIC timer.
    Lapic,
    /// An HPET comparator.
    Hpet,
    /// The ACPI PM timer's status bit.
    Pm,
    /// The i8042 releases its next byte.
    Kbc,
}

/// The board.
pub struct Board {
    /// Guest physical memory.
    pub mem: PhysMemory,
    /// Virtual time.
    pub clock: Clock,
    sched: Scheduler<Event>,
    pit_deadline: Option<u64>,
    rtc_deadline: Option<u64>,
    /// Interrupt controllers.
    pub pic: PicPair,
    /// Interval timer.
    pub pit: Pit,
    /// COM1-COM4.
    pub uarts: [Uart; 4],
    /// RTC and CMOS RAM.
    pub cmos: Cmos,
    /// Keyboard controller.
    pub kbc: I8042,
    /// The floppy controller and its drives.
    pub fdc: Fdc,
    /// The 8237A DMA controllers.
    pub dma: Dma8237,
    /// Port 0x92.
    pub port92: Port92,
    a20: bool,
    /// Last POST code written to port 0x80.
    pub post_code: Option<u8>,
    /// Debug console (port 0xE9).
    pub debugcon: Output,
    /// The firmware's log (port 0x402), when the user asked for it.
    pub firmware_log: Option<Output>,
    /// CMOS bytes the machine configures (boot order, drive types); they
    /// survive a reset, as battery-backed CMOS RAM does.
    cmos_config: Vec<(u8, u8)>,
    /// Serial outputs, COM1-COM4.
    pub serial: [Output; 4],
    stop: Option<StopReason>,
    /// The earliest deadline when the due events were last fired: the run
    /// loop sizes the CPU's next run by it.
    budget_deadline: Option<u64>,
    /// An I/O access scheduled a deadline earlier than `budget_deadline`:
    /// the CPU must return so that the run loop can shorten its budget.
    resched: bool,
    /// Accesses to ports nobody claims, by port (for `--stats`).
    pub unclaimed: std::collections::BTreeMap<u16, u64>,
    /// A write to port 0xF0 since the machine last looked.
    fpu_error_clear: bool,
    /// Instruction count and host nanoseconds since power-on of the first
    /// byte sent on COM1 (a boot milestone for `--stats`).
    pub first_serial_byte: Option<(u64, u64)>,
    scratch: Vec<u8>,
    /// The full PC's chipset; `None` on the ISA machine.
    pub pc: Option<Box<Chipset>>,
    /// Bumped when the physical memory map changes (PAM).
    map_gen: u64,
    /// Pages written by DMA since the CPU last asked.
    dma_pages: Vec<u64>,
    /// The local APIC has an interrupt to deliver (cached after every
    /// change to it).
    apic_intr: bool,
    /// The 8259's INTR reaches the CPU (no APIC, or LINT0 in ExtINT mode).
    pic_through: bool,
    /// An NMI is latched for the CPU.
    nmi: bool,
    /// Where the host's input goes: to the devices, also to the journal
    /// (`--record`), or nowhere (`--replay`: the journal is the input).
    pub(crate) host_inputs: HostInputs,
    /// The console asked for a snapshot (`Ctrl-A v`): the run loop writes
    /// it when the hook returns and leaves the result in `saved`.
    pub save_request: Option<std::path::PathBuf>,
    /// The result of the last `save_request`, for the console to tell.
    pub saved: Option<Result<std::path::PathBuf, String>>,
}

/// What becomes of the host's input (see [`crate::journal`]).
#[derive(Debug, Default)]
pub(crate) enum HostInputs {
    /// It reaches the devices.
    #[default]
    Open,
    /// It reaches the devices, and what they took is kept here for the
    /// journal.
    Recorded(Vec<crate::journal::Input>),
    /// It is refused: a replay feeds the recorded input instead.
    Closed,
}

impl Board {
    /// A board with `mem`, the clock, and the outputs.
    pub fn new(
        mem: PhysMemory,
        clock: Clock,
        debugcon: Output,
        serial: [Output; 4],
        rtc_base: i64,
        kind: MachineKind,
    ) -> Self {
        let ram = mem.ram().len() as u64;
        let mut mem = mem;
        mem.enable_pam(kind == MachineKind::Pc);
        // The full PC's VGA owns 0xA0000-0xBFFFF.
        mem.set_vga_window(kind == MachineKind::Pc);
        let pc = (kind == MachineKind::Pc)
            .then(|| Box::new(Chipset::new(FwCfg::new(), anyx86_devices::Ide::new())));
        let mut b = Self {
            mem,
            clock,
            sched: Scheduler::new(),
            pit_deadline: None,
            rtc_deadline: None,
            pic: PicPair::new(),
            pit: Pit::new(),
            uarts: [Uart::new(), Uart::new(), Uart::new(), Uart::new()],
            cmos: Cmos::new(ram, rtc_base),
            kbc: I8042::new(),
            fdc: Fdc::new(),
            dma: Dma8237::new(),
            port92: Port92::new(),
            a20: true,
            post_code: None,
            debugcon,
            firmware_log: None,
            cmos_config: Vec::new(),
            serial,
            stop: None,
            budget_deadline: None,
            resched: false,
            unclaimed: Default::default(),
            fpu_error_clear: false,
            first_serial_byte: None,
            scratch: Vec::new(),
            pc,
            map_gen: 0,
            dma_pages: Vec::new(),
            apic_intr: false,
            pic_through: true,
            nmi: false,
            host_inputs: HostInputs::Open,
            save_request: None,
            saved: None,
        };
        b.sync_apic(0);
        b
    }

    /// The machine kind this board was built as.
    pub fn kind(&self) -> MachineKind {
        if self.pc.is_some() {
            MachineKind::Pc
        } else {
            MachineKind::Isa
        }
    }

    /// Takes the pending stop request.
    pub fn take_stop(&mut self) -> Option<StopReason> {
        self.resched = false;
        self.stop.take()
    }

    /// Board-level reset: chips to power-on state (RAM and time are kept).
    pub fn reset(&mut self, rtc_base: i64) {
        let ram = self.mem.ram().len() as u64;
        self.pic = PicPair::new();
        self.pit = Pit::new();
        self.uarts = [Uart::new(), Uart::new(), Uart::new(), Uart::new()];
        self.cmos = Cmos::new(ram, rtc_base);
        for &(i, v) in &self.cmos_config {
            self.cmos.set_nvram(i, v);
        }
        self.kbc = I8042::new();
        self.dma = Dma8237::new();
        let mut fdc = Fdc::new();
        for drive in 0..2 {
            if let Some(m) = self.fdc.eject(drive) {
                // The same medium fits again.
                let _ = fdc.attach(drive, m);
            }
        }
        self.fdc = fdc;
        self.port92 = Port92::new();
        self.a20 = true;
        self.stop = None;
        self.resched = false;
        self.budget_deadline = None;
        self.sched.clear();
        self.pit_deadline = None;
        self.rtc_deadline = None;
        if let Some(pc) = self.pc.take() {
            let mut fw = pc.fw_cfg;
            let _ = anyx86_hw::Snapshot::restore(&mut fw, &Default::default());
            let mut ide = pc.ide;
            ide.reset();
            let mut chipset = Chipset::new(fw, ide);
            // QEMU's test device has no reset: its register, memory and
            // line levels survive a system reset.
            chipset.testdev = pc.testdev;
            self.pc = Some(Box::new(chipset));
            self.mem.enable_pam(true);
            self.map_gen += 1;
        }
        self.nmi = false;
        self.sync_apic(0);
    }

    /// Sets a CMOS configuration byte, now and after every reset.
    pub fn set_cmos_config(&mut self, index: u8, value: u8) {
        self.cmos_config.retain(|&(i, _)| i != index);
        self.cmos_config.push((index, value));
        self.cmos.set_nvram(index, value);
    }

    /// Flushes the outputs.
    pub fn flush(&mut self) {
        self.debugcon.flush();
        if let Some(log) = &mut self.firmware_log {
            log.flush();
        }
        for s in &mut self.serial {
            s.flush();
        }
    }

    /// Events pending in the scheduler (at most one per timer source).
    pub fn pending_events(&self) -> usize {
        self.sched.len()
    }

    /// The earliest pending deadline.
    pub fn next_deadline(&self) -> Option<u64> {
        self.sched.next_deadline()
    }

    /// Fires every event due at virtual time `now`.
    pub fn fire_due(&mut self, now: u64) {
        while let Some((t, ev)) = self.sched.pop_due(now) {
            match ev {
                Event::Pit if self.pit_deadline == Some(t) => {
                    self.pit_deadline = None;
                    if !self.hpet_legacy() {
                        self.isa_edge(irq::PIT);
                    }
                    self.schedule_pit(t);
                }
                Event::Rtc if self.rtc_deadline == Some(t) => {
                    self.rtc_deadline = None;
                    self.cmos.update(t);
                    self.sync_rtc(t);
                }
                Event::Lapic => self.fire_chipset(t, |pc| pc.lapic.update(t), Self::sync_apic),
                Event::Hpet => self.fire_chipset(t, |pc| pc.hpet.update(t), Self::sync_hpet),
                Event::Pm => self.fire_chipset(t, |pc| pc.pm.update(t), Self::sync_pm),
                Event::Kbc => {
                    self.kbc.update(t);
                    self.sync_kbc(t);
                }
                _ => {}
            }
        }
        self.budget_deadline = self.sched.next_deadline();
    }

    /// A deadline of a full-PC timer at `t`: the device catches up
    /// (`update`), then `sync` drives its outputs and next deadline.
    fn fire_chipset(
        &mut self,
        t: u64,
        update: impl FnOnce(&mut Chipset),
        sync: fn(&mut Self, u64),
    ) {
        if let Some(pc) = self.pc.as_deref_mut() {
            update(pc);
        }
        sync(self, t);
    }

    // ---- interrupt wiring -------------------------------------------------

    /// Drives ISA interrupt line `irq` at `level`: the 8259 pair and, on the
    /// full PC, the I/O APIC pin it is wired to.
    fn isa_irq(&mut self, irq: u8, level: bool) {
        self.pic.set_irq(irq, level);
        if let Some(pc) = self.pc.as_deref_mut() {
            pc.ioapic.set_irq(irq::ioapic_pin(irq), level);
        }
        self.sync_apic_routing();
    }

    /// The test device drives interrupt line `line` (0-23): ISA lines 0-15
    /// reach the 8259 pair and their I/O APIC pins, lines 16-23 only the
    /// I/O APIC (QEMU's GSIs).
    fn testdev_irq(&mut self, line: u8, level: bool) {
        if line < 16 {
            self.isa_irq(line, level);
        } else if let Some(pc) = self.pc.as_deref_mut() {
            pc.ioapic.set_irq(line, level);
            self.sync_apic_routing();
        }
    }

    /// A pulse on an edge-triggered ISA line (PIT, HPET in legacy mode):
    /// the 8259 sees a fresh rising edge and the line is left high (see
    /// the PIT module doc); the I/O APIC pin goes high and low again.
    fn isa_edge(&mut self, irq: u8) {
        self.pic.set_irq(irq, false);
        self.pic.set_irq(irq, true);
        if let Some(pc) = self.pc.as_deref_mut() {
            let pin = irq::ioapic_pin(irq);
            pc.ioapic.set_irq(pin, true);
            pc.ioapic.set_irq(pin, false);
        }
        self.sync_apic_routing();
    }

    /// True when the HPET's legacy replacement route has taken IRQ 0 and
    /// IRQ 8 from the PIT and the RTC.
    fn hpet_legacy(&self) -> bool {
        self.pc.as_deref().is_some_and(|pc| pc.hpet.legacy_route())
    }

    fn sync_apic_routing(&mut self) {
        if let Some(pc) = self.pc.as_deref_mut() {
            pc.route_apic_messages();
        }
        self.refresh_apic_cache();
    }

    /// After anything that may have changed the local APIC: route its EOIs
    /// and the I/O APIC's messages, refresh the cached INTR/NMI state,
    /// take an INIT, and reschedule its timer.
    fn sync_apic(&mut self, now: u64) {
        self.sync_apic_routing();
        let Some(pc) = self.pc.as_deref_mut() else {
            return;
        };
        if pc.lapic.take_init() {
            pc.lapic.init_reset();
            self.stop = Some(StopReason::Init);
        }
        self.sched
            .set_deadline(Event::Lapic, pc.lapic.next_deadline(now));
    }

    fn refresh_apic_cache(&mut self) {
        match self.pc.as_deref_mut() {
            Some(pc) => {
                let pic = self.pic.interrupt_pending();
                pc.lapic.set_lint0(pic);
                if pc.lapic.take_nmi() {
                    self.nmi = true;
                }
                self.apic_intr = pc.lapic.intr_pending();
                self.pic_through = pc.lapic.accepts_pic_intr();
            }
            None => {
                self.apic_intr = false;
                self.pic_through = true;
            }
        }
    }

    /// After an HPET access or deadline: its interrupt outputs and next
    /// deadline.
    fn sync_hpet(&mut self, now: u64) {
        let Some(pc) = self.pc.as_deref_mut() else {
            return;
        };
        let edges = pc.hpet.take_edges();
        let outs: [_; 3] = core::array::from_fn(|t| (pc.hpet.route(t), pc.hpet.level(t)));
        self.sched
            .set_deadline(Event::Hpet, pc.hpet.next_deadline(now));
        for (t, (route, level)) in outs.into_iter().enumerate() {
            if edges & (1 << t) != 0 {
                match route.pic_irq {
                    Some(irq) => self.isa_edge(irq),
                    None => {
                        if let Some(pc) = self.pc.as_deref_mut() {
                            pc.ioapic.set_irq(route.ioapic_pin, true);
                            pc.ioapic.set_irq(route.ioapic_pin, false);
                        }
                    }
                }
            } else if let Some(pc) = self.pc.as_deref_mut() {
                // Level-triggered timers drive their I/O APIC pin (the
                // legacy route is edge-only on the PIC side).
                if route.pic_irq.is_none() {
                    pc.ioapic.set_irq(route.ioapic_pin, level);
                }
            }
        }
        self.sync_apic_routing();
    }

    /// After a floppy controller or DMA access: IRQ 6.
    fn sync_fdc(&mut self) {
        let level = self.fdc.irq_level();
        self.isa_irq(irq::FDC, level);
    }

    /// After an IDE access: IRQ 14 and 15 follow the channels' INTRQ.
    fn sync_ide(&mut self) {
        let Some(pc) = self.pc.as_deref() else {
            return;
        };
        let (a, b) = (pc.ide.irq_level(0), pc.ide.irq_level(1));
        self.isa_irq(irq::IDE0, a);
        self.isa_irq(irq::IDE1, b);
    }

    /// After a PM block access or deadline: the SCI line, S5, the next
    /// PM timer deadline.
    fn sync_pm(&mut self, now: u64) {
        let Some(pc) = self.pc.as_deref_mut() else {
            return;
        };
        let sci = pc.pm.sci_level();
        if let Some(typ) = pc.pm.take_sleep() {
            // \_S5 in our DSDT is SLP_TYP 0 (QEMU's PIIX4 value); other
            // sleep states are not offered.
            if typ == 0 {
                self.stop = Some(StopReason::PowerOff);
            }
        }
        self.sched.set_deadline(Event::Pm, pc.pm.next_deadline(now));
        self.isa_irq(irq::SCI, sci);
    }

    /// The PAM registers changed: apply them and tell the CPU.
    fn sync_pam(&mut self) {
        if let Some(pc) = self.pc.as_deref() {
            for i in 0..PAM_SEGMENTS {
                let p = pc.host.pam(i);
                self.mem.set_pam(
                    i,
                    Pam {
                        read_ram: p.read_ram,
                        write_ram: p.write_ram,
                    },
                );
            }
        }
        self.map_gen += 1;
    }

    fn schedule_pit(&mut self, now: u64) {
        self.pit_deadline = self.pit.next_irq0_edge(now);
        if let Some(t) = self.pit_deadline {
            self.sched.schedule(t, Event::Pit);
        }
    }

    fn sync_rtc(&mut self, now: u64) {
        if !self.hpet_legacy() {
            self.isa_irq(irq::RTC, self.cmos.irq_level());
        }
        let d = self.cmos.next_deadline(now);
        if d != self.rtc_deadline {
            self.rtc_deadline = d;
            if let Some(t) = d {
                self.sched.schedule(t, Event::Rtc);
            }
        }
    }

    /// After an I/O access that may have scheduled a deadline: if it comes
    /// before the one the CPU's current run was sized for, ask the CPU to
    /// return at the next instruction boundary (see `stop_requested`).
    fn note_deadline(&mut self) {
        if let Some(t) = self.sched.next_deadline() {
            if self.budget_deadline.map_or(true, |b| t < b) {
                self.resched = true;
            }
        }
    }

    fn sync_uart_irqs(&mut self) {
        let l13 = self.uarts[0].irq_level() || self.uarts[2].irq_level();
        let l24 = self.uarts[1].irq_level() || self.uarts[3].irq_level();
        self.isa_irq(irq::COM1_3, l13);
        self.isa_irq(irq::COM2_4, l24);
    }

    /// The i8042's two interrupt lines: IRQ1 (keyboard byte) and IRQ12
    /// (auxiliary byte).
    /// After an i8042 access or a host key/mouse event: IRQ1 and IRQ12,
    /// and the deadline for the next byte the controller holds back.
    fn sync_kbc(&mut self, now: u64) {
        self.isa_irq(irq::KEYBOARD, self.kbc.irq_level());
        self.isa_irq(irq::MOUSE, self.kbc.irq12_level());
        self.sched
            .set_deadline(Event::Kbc, self.kbc.next_deadline(now));
        self.note_deadline();
    }

    /// A key pressed or released on the host's keyboard (display front
    /// ends), at the virtual time of `icount`. False when the keyboard has
    /// no room for it yet: offer the same event again later (typed text
    /// and pastes arrive faster than a guest reads them).
    pub fn key_event(&mut self, key: anyx86_devices::KeyCode, down: bool, icount: u64) -> bool {
        if matches!(self.host_inputs, HostInputs::Closed) {
            return false;
        }
        self.input(crate::journal::Input::Key(key, down), icount)
    }

    /// The host's mouse moved or clicked: `dx` right, `dy` down, `dz`
    /// wheel clicks, `buttons` bit 0 left, 1 right, 2 middle.
    pub fn mouse_event(&mut self, dx: i32, dy: i32, dz: i32, buttons: u8, icount: u64) {
        if !matches!(self.host_inputs, HostInputs::Closed) {
            self.input(crate::journal::Input::Mouse(dx, dy, dz, buttons), icount);
        }
    }

    /// Feeds host input to COM `i` (0 = COM1); returns the bytes accepted.
    pub fn serial_input(&mut self, i: usize, bytes: &[u8]) -> usize {
        if matches!(self.host_inputs, HostInputs::Closed) || i >= self.uarts.len() {
            return 0;
        }
        let n = self.uarts[i].push_input(bytes);
        self.sync_uart_irqs();
        if let (HostInputs::Recorded(log), 1..) = (&mut self.host_inputs, n) {
            log.push(crate::journal::Input::Serial(i as u8, bytes[..n].to_vec()));
        }
        n
    }

    /// Gives one input to its device at the virtual time of `icount`,
    /// whoever sends it (the host or a replay); true when the device took
    /// it, all of a serial input's bytes included. A key or mouse event
    /// taken is kept for the journal when it records ([`Board::serial_input`]
    /// keeps the part of its bytes a UART takes).
    pub(crate) fn input(&mut self, input: crate::journal::Input, icount: u64) -> bool {
        use crate::journal::Input;
        let now = self.clock.now(icount);
        let taken = match &input {
            Input::Key(key, down) => {
                let taken = self.kbc.key_event(*key, *down, now);
                self.sync_kbc(now);
                taken
            }
            Input::Mouse(dx, dy, dz, buttons) => {
                self.kbc.mouse_event(*dx, *dy, *dz, *buttons, now);
                self.sync_kbc(now);
                true
            }
            Input::Serial(i, bytes) => {
                let Some(u) = self.uarts.get_mut(usize::from(*i)) else {
                    return false;
                };
                let n = u.push_input(bytes);
                self.sync_uart_irqs();
                return n == bytes.len();
            }
        };
        if let (HostInputs::Recorded(log), true) = (&mut self.host_inputs, taken) {
            log.push(input);
        }
        taken
    }

    fn drain_uart(&mut self, i: usize, icount: u64) {
        self.scratch.clear();
        self.uarts[i].drain_output_into(&mut self.scratch);
        if !self.scratch.is_empty() {
            if i == 0 && self.first_serial_byte.is_none() {
                self.first_serial_byte = Some((icount, self.clock.host_ns()));
            }
            self.serial[i].put_all(&self.scratch);
        }
    }

    /// Takes the "port 0xF0 was written" flag.
    pub fn take_fpu_error_clear(&mut self) -> bool {
        std::mem::take(&mut self.fpu_error_clear)
    }

    fn sync_a20(&mut self) {
        self.a20 = self.kbc.a20() || self.port92.a20();
    }

    fn check_resets(&mut self) {
        let k = self.kbc.take_reset_request();
        let p = self.port92.take_reset_request();
        if k || p {
            self.stop = Some(StopReason::Reset);
        }
    }

    fn count_unclaimed(&mut self, p: u16) {
        *self.unclaimed.entry(p).or_default() += 1;
    }

    /// Sets the FERR# line (IRQ 13).
    pub fn set_ferr(&mut self, level: bool) {
        self.isa_irq(irq::FPU, level);
    }

    /// A port read of a full-PC device; `None` when `p` is not one.
    fn pc_io_in(&mut self, dev: Option<(Dev, u16)>, p: u16, size: u8, now: u64) -> Option<u32> {
        let pc = self.pc.as_deref_mut()?;
        if let Some(o) = pc.pm_offset(p) {
            let v = pc.pm.read(o, size, now);
            self.sync_pm(now);
            return Some(v);
        }
        if let Some(o) = pc.ide_bm_offset(p) {
            let v = pc.ide.bus_master_read(o, size);
            self.sync_ide();
            return Some(v);
        }
        if let Some(t) = pc.testdev.as_deref() {
            if let Some(o) = testdev_offset(p) {
                return Some(t.port_read(o, size));
            }
            if testdev_line(p).is_some() {
                // The IRQ ports are write-only.
                return Some(ones(size));
            }
        }
        let (Dev::Pc(dev), off) = dev? else {
            return None;
        };
        Some(match dev {
            PcDev::Vga => pc.vga.io_read(p, size, now),
            PcDev::Ide(ch) => {
                let v = pc.ide.command_read(usize::from(ch), off, size);
                self.sync_ide();
                v
            }
            PcDev::IdeControl(ch) => {
                let v = pc.ide.control_read(usize::from(ch));
                self.sync_ide();
                u32::from(v)
            }
            PcDev::PciAddress if p == port::RESET_CONTROL && size == 1 => {
                u32::from(pc.isa.rcr_read())
            }
            PcDev::PciAddress if off == 0 => pc.pci.read_address(size),
            PcDev::PciAddress => ones(size),
            PcDev::PciData => match pc.pci.target(off) {
                Some(a) => pc.config_read(a, size),
                None => ones(size),
            },
            PcDev::Apm if off == 0 => ones(size),
            PcDev::Apm => u32::from(pc.pm.apm_status_read()),
            PcDev::FwCfg => pc.fw_cfg.read(off, size),
        })
    }

    /// A port write to a full-PC device; false when `p` is not one.
    fn pc_io_out(&mut self, dev: Option<(Dev, u16)>, p: u16, size: u8, v: u32, now: u64) -> bool {
        let Some(pc) = self.pc.as_deref_mut() else {
            return false;
        };
        if let Some(o) = pc.pm_offset(p) {
            pc.pm.write(o, size, v, now);
            self.sync_pm(now);
            self.note_deadline();
            return true;
        }
        if let Some(o) = pc.ide_bm_offset(p) {
            let mut dma = Dma::new(&mut self.mem, &mut self.dma_pages, &mut self.map_gen);
            pc.ide.bus_master_write(o, size, v, &mut dma);
            self.sync_ide();
            return true;
        }
        if let Some(t) = pc.testdev.as_deref_mut() {
            if let Some(o) = testdev_offset(p) {
                t.port_write(o, size, v);
                return true;
            }
            if let Some(line) = testdev_line(p) {
                if let Some((line, level)) = t.irq_write(line, size, v) {
                    self.testdev_irq(line, level);
                }
                return true;
            }
        }
        let Some((Dev::Pc(dev), off)) = dev else {
            return false;
        };
        match dev {
            PcDev::Vga => pc.vga.io_write(p, size, v, now),
            PcDev::Ide(ch) => {
                let mut dma = Dma::new(&mut self.mem, &mut self.dma_pages, &mut self.map_gen);
                pc.ide
                    .command_write(usize::from(ch), off, size, v, &mut dma);
                self.sync_ide();
            }
            PcDev::IdeControl(ch) => {
                pc.ide.control_write(usize::from(ch), v as u8);
                self.sync_ide();
            }
            PcDev::PciAddress if p == port::RESET_CONTROL && size == 1 => {
                if pc.isa.rcr_write(v as u8) {
                    self.stop = Some(StopReason::Reset);
                }
            }
            PcDev::PciAddress if off == 0 => pc.pci.write_address(size, v),
            PcDev::PciAddress => {}
            PcDev::PciData => {
                if let Some(a) = pc.pci.target(off) {
                    if pc.config_write(a, size, v) {
                        self.sync_pam();
                    }
                }
            }
            PcDev::Apm if off == 0 => {
                pc.pm.apm_write(v as u8);
                self.sync_pm(now);
            }
            PcDev::Apm => pc.pm.apm_status_write(v as u8),
            PcDev::FwCfg => {
                pc.fw_cfg.write(off, size, v);
                if let Some(addr) = pc.fw_cfg.take_dma() {
                    pc.fw_cfg.run_dma(
                        addr,
                        &mut Dma::new(&mut self.mem, &mut self.dma_pages, &mut self.map_gen),
                    );
                }
            }
        }
        true
    }

    /// Runs `f` on the chipset (machine set-up, the debugger); the board
    /// re-derives lines, deadlines and the memory map afterwards.
    pub fn with_chipset<R>(&mut self, now: u64, f: impl FnOnce(&mut Chipset) -> R) -> Option<R> {
        let r = f(self.pc.as_deref_mut()?);
        if let Some(pc) = self.pc.as_deref_mut() {
            pc.pm_base = pc.pm_fn.pm_io_base();
        }
        self.sync_pam();
        self.sync_apic(now);
        self.sync_hpet(now);
        self.sync_pm(now);
        Some(r)
    }
}

impl Board {
    /// After an MMIO access to a chipset device: its interrupts, timers.
    fn after_mmio(&mut self, dev: crate::pc::Mmio, now: u64) {
        use crate::pc::Mmio;
        match dev {
            Mmio::Hpet => self.sync_hpet(now),
            Mmio::Lapic | Mmio::IoApic => self.sync_apic(now),
            // The VGA raises no interrupt and keeps no deadline: a guest
            // drawing on the screen must not pay for interrupt routing on
            // every store.
            Mmio::VgaWindow | Mmio::VgaLfb | Mmio::VgaMmio | Mmio::VgaRom | Mmio::Testdev => {}
        }
    }
}

/// Guest memory as a DMA engine (fw_cfg, IDE bus master, the 8237) sees
/// it. Written pages are noted for the CPU, which drops code decoded from
/// them (`CpuBus::take_dma_pages`); a transfer too large to list bumps the
/// memory map's generation instead (every trace is dropped).
struct Dma<'a> {
    mem: &'a mut PhysMemory,
    pages: &'a mut Vec<u64>,
    map_gen: &'a mut u64,
}

impl<'a> Dma<'a> {
    fn new(mem: &'a mut PhysMemory, pages: &'a mut Vec<u64>, map_gen: &'a mut u64) -> Self {
        Dma {
            mem,
            pages,
            map_gen,
        }
    }
}

/// Pages a DMA transfer may list before the whole code cache is dropped.
const DMA_PAGES_MAX: usize = 4096;

impl DmaMemory for Dma<'_> {
    fn dma_read(&mut self, addr: u64, buf: &mut [u8]) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = self.mem.read_u8(addr.wrapping_add(i as u64));
        }
    }

    fn dma_write(&mut self, addr: u64, data: &[u8]) {
        // At or above the end of RAM is ROM or nothing: writes are dropped
        // there, so only the part inside RAM is written (a guest asking
        // for a 4 GiB transfer costs no more than its RAM).
        let ram_len = self.mem.ram().len() as u64;
        let n = if addr >= ram_len {
            0
        } else {
            (ram_len - addr).min(data.len() as u64) as usize
        };
        if n == 0 {
            return;
        }
        let (start, end) = (addr as usize, addr as usize + n);
        let legacy = mem::LOW_RAM_END as usize..0x10_0000;
        if end <= legacy.start || start >= legacy.end {
            self.mem.ram_mut().as_mut_slice()[start..end].copy_from_slice(&data[..n]);
        } else {
            // Below 1 MiB the PAM settings decide, byte by byte.
            for (i, b) in data[..n].iter().enumerate() {
                self.mem.write_u8(addr + i as u64, *b);
            }
        }
        let mut page = addr & !0xFFF;
        while page < addr + n as u64 {
            if self.pages.len() >= DMA_PAGES_MAX {
                self.pages.clear();
                *self.map_gen += 1;
                return;
            }
            if self.pages.last() != Some(&page) {
                self.pages.push(page);
            }
            page += 0x1000;
        }
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

    fn mem_read(&mut self, paddr: u64, size: u8, icount: u64) -> u64 {
        if let Some(pc) = self.pc.as_deref_mut() {
            if let Some((dev, off)) = pc.mmio_target(paddr) {
                let now = self.clock.now(icount);
                let v = pc.mmio_read(dev, off, size, now);
                self.after_mmio(dev, now);
                return v;
            }
        }
        self.mem.read(paddr, size)
    }

    fn mem_write(&mut self, paddr: u64, size: u8, value: u64, icount: u64) {
        if let Some(pc) = self.pc.as_deref_mut() {
            if let Some((dev, off)) = pc.mmio_target(paddr) {
                let now = self.clock.now(icount);
                pc.mmio_write(dev, off, size, value, now);
                self.after_mmio(dev, now);
                self.note_deadline();
                return;
            }
        }
        self.mem.write(paddr, size, value)
    }

    fn peek_phys(&self, paddr: u64) -> u8 {
        match self.mem.region(paddr) {
            Region::Unmapped => 0xFF,
            _ => self.mem.read_u8(paddr),
        }
    }

    fn io_in(&mut self, p: u16, size: u8, icount: u64) -> u32 {
        let now = self.clock.now(icount);
        let ones = u32::MAX >> (32 - 8 * u32::from(size.clamp(1, 4)));
        let decoded = decode_port(p);
        if self.pc.is_some() {
            if let Some(v) = self.pc_io_in(decoded, p, size, now) {
                return v;
            }
        }
        let Some((dev, off)) = decoded else {
            self.count_unclaimed(p);
            return ones;
        };
        match dev {
            Dev::Pic => self.pic.port_read(off, size),
            Dev::Pit => self.pit.read(off, size, now),
            Dev::Port61 => u32::from(self.pit.port61_read(now)),
            Dev::Uart(i) => {
                let v = self.uarts[i as usize].read(off, size, now);
                self.sync_uart_irqs();
                v
            }
            Dev::Cmos => {
                let v = self.cmos.read(off, size, now);
                self.sync_rtc(now);
                self.note_deadline();
                v
            }
            Dev::Kbc => {
                let v = self.kbc.read(off, size, now);
                self.sync_kbc(now);
                v
            }
            Dev::Port92 => self.port92.read(0, size, now),
            Dev::Dma => u32::from(self.dma.read(p)),
            Dev::Fdc => {
                let v = self.fdc.read(off);
                self.sync_fdc();
                u32::from(v)
            }
            Dev::DebugCon => 0xE9,
            // SeaBIOS writes its log here only if it reads back 0xE9.
            Dev::FirmwareLog if self.firmware_log.is_some() => 0xE9,
            Dev::FirmwareLog => ones,
            Dev::Post => u32::from(self.post_code.unwrap_or(0xFF)),
            Dev::Exit | Dev::BochsShutdown | Dev::FpuError => ones,
            Dev::Pc(_) => {
                self.count_unclaimed(p);
                ones
            }
        }
    }

    fn io_out(&mut self, p: u16, size: u8, v: u32, icount: u64) {
        let now = self.clock.now(icount);
        let decoded = decode_port(p);
        if self.pc.is_some() && self.pc_io_out(decoded, p, size, v, now) {
            return;
        }
        let Some((dev, off)) = decoded else {
            self.count_unclaimed(p);
            return;
        };
        match dev {
            Dev::Pic => {
                self.pic.port_write(off, size, v);
                self.sync_apic_routing();
            }
            Dev::Pit => {
                self.pit.write(off, size, v, now);
                self.schedule_pit(now);
                self.note_deadline();
            }
            Dev::Port61 => self.pit.port61_write(v as u8, now),
            Dev::Uart(i) => {
                self.uarts[i as usize].write(off, size, v, now);
                self.drain_uart(i as usize, icount);
                self.sync_uart_irqs();
            }
            Dev::Cmos => {
                self.cmos.write(off, size, v, now);
                self.sync_rtc(now);
                self.note_deadline();
            }
            Dev::Kbc => {
                self.kbc.write(off, size, v, now);
                self.sync_kbc(now);
                self.sync_a20();
                self.check_resets();
            }
            Dev::Port92 => {
                self.port92.write(0, size, v, now);
                self.sync_a20();
                self.check_resets();
            }
            Dev::Dma => {
                self.dma.write(p, v as u8);
                let mut mem = Dma::new(&mut self.mem, &mut self.dma_pages, &mut self.map_gen);
                self.fdc.poll_dma(&mut self.dma, &mut mem);
                self.sync_fdc();
            }
            Dev::Fdc => {
                let mut mem = Dma::new(&mut self.mem, &mut self.dma_pages, &mut self.map_gen);
                self.fdc.write(off, v as u8, &mut self.dma, &mut mem);
                self.sync_fdc();
            }
            Dev::DebugCon => self.debugcon.put_all(&[v as u8]),
            Dev::FirmwareLog => {
                if let Some(log) = &mut self.firmware_log {
                    log.put_all(&[v as u8]);
                }
            }
            Dev::Post => self.post_code = Some(v as u8),
            Dev::Exit => {
                let mask = u32::MAX >> (32 - 8 * u32::from(size.clamp(1, 4)));
                self.stop = Some(StopReason::Exit(v & mask));
            }
            Dev::BochsShutdown => {}
            Dev::FpuError => self.fpu_error_clear = true,
            Dev::Pc(_) => self.count_unclaimed(p),
        }
    }

    fn a20_mask(&self) -> u64 {
        if self.a20 {
            u64::MAX
        } else {
            !(1u64 << 20)
        }
    }

    #[inline]
    fn interrupt_pending(&self) -> bool {
        self.apic_intr || (self.pic_through && self.pic.interrupt_pending())
    }

    fn acknowledge_interrupt(&mut self, icount: u64) -> u8 {
        let apic = match self.pc.as_deref_mut() {
            Some(pc) if pc.lapic.hw_enabled() => pc.lapic.acknowledge(),
            _ => None,
        };
        let v = match apic {
            Some(v) => v,
            None => self.pic.acknowledge(),
        };
        self.sync_apic(self.clock.now(icount));
        v
    }

    fn nmi_pending(&self) -> bool {
        self.nmi
    }

    fn acknowledge_nmi(&mut self) {
        self.nmi = false;
    }

    fn rdmsr(&mut self, msr: u32, _icount: u64) -> Option<u64> {
        let pc = self.pc.as_deref()?;
        match msr {
            platform_msr::APIC_BASE => Some(pc.lapic.base_msr()),
            platform_msr::TSC_DEADLINE => Some(pc.lapic.tsc_deadline()),
            _ => None,
        }
    }

    fn wrmsr(&mut self, msr: u32, value: u64, icount: u64) -> Option<bool> {
        let now = self.clock.now(icount);
        let pc = self.pc.as_deref_mut()?;
        let ok = match msr {
            platform_msr::APIC_BASE => pc.lapic.set_base_msr(value),
            platform_msr::TSC_DEADLINE => {
                pc.lapic.set_tsc_deadline(value, now);
                true
            }
            _ => return None,
        };
        self.sync_apic(now);
        self.note_deadline();
        Some(ok)
    }

    fn cr8(&self) -> Option<u64> {
        self.pc.as_deref().map(|pc| u64::from(pc.lapic.tpr() >> 4))
    }

    fn set_cr8(&mut self, value: u64) -> bool {
        let Some(pc) = self.pc.as_deref_mut() else {
            return false;
        };
        pc.lapic.set_tpr((value as u8 & 0xF) << 4);
        self.refresh_apic_cache();
        true
    }

    fn map_generation(&self) -> u64 {
        self.map_gen
    }

    fn take_dma_pages(&mut self, out: &mut Vec<u64>) {
        if !self.dma_pages.is_empty() {
            out.append(&mut self.dma_pages);
        }
    }

    fn tsc(&mut self, icount: u64) -> u64 {
        self.clock.tsc(icount)
    }

    fn stop_requested(&self) -> bool {
        self.stop.is_some() || self.resched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_map_has_no_surprises() {
        assert_eq!(decode_port(0x3F8), Some((Dev::Uart(0), 0)));
        assert_eq!(decode_port(0x2FF), Some((Dev::Uart(1), 7)));
        assert_eq!(decode_port(0x3EF), Some((Dev::Uart(2), 7)));
        assert_eq!(decode_port(0x2E8), Some((Dev::Uart(3), 0)));
        assert_eq!(decode_port(0x43), Some((Dev::Pit, 3)));
        assert_eq!(decode_port(0x64), Some((Dev::Kbc, 4)));
        assert_eq!(decode_port(0xF7), Some((Dev::Exit, 3)));
        assert_eq!(decode_port(0xF8), None);
        assert_eq!(decode_port(0x4D1), Some((Dev::Pic, 0x4D1)));
    }

    fn board() -> Board {
        board_of(MachineKind::Pc)
    }

    /// A xorshift64 generator from `seed`: cheap reproducible noise for
    /// the hostile-guest tests.
    fn xorshift64(mut x: u64) -> impl FnMut() -> u64 {
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    fn board_of(kind: MachineKind) -> Board {
        let ram = anyx86_mem::GuestRam::with_mib(1).expect("1 MiB of RAM");
        let clock = Clock::new(crate::clock::ClockMode::Virtual, 1_000_000_000);
        let out = || Output::new(None, false);
        Board::new(
            PhysMemory::new(ram, None),
            clock,
            out(),
            [out(), out(), out(), out()],
            0,
            kind,
        )
    }

    /// Byte writes to I/O ports at time 0, in order.
    fn out_bytes(b: &mut Board, writes: &[(u16, u32)]) {
        for &(p, v) in writes {
            b.io_out(p, 1, v, 0);
        }
    }

    /// Dword MMIO writes at time 0, in order.
    fn mmio_dwords(b: &mut Board, writes: &[(u64, u64)]) {
        for &(addr, v) in writes {
            b.mem_write(addr, 4, v, 0);
        }
    }

    /// A dword read of PCI configuration space through mechanism #1.
    fn cfg_read(b: &mut Board, dev: u32, func: u32, reg: u32) -> u32 {
        b.io_out(0xCF8, 4, 0x8000_0000 | dev << 11 | func << 8 | reg, 0);
        b.io_in(0xCFC, 4, 0)
    }

    /// A hostile guest: every PCI function's configuration space read and
    /// written with random values and sizes, the APIC, I/O APIC and HPET
    /// windows hammered, fw_cfg read past every item, the storage and
    /// chipset ports poked. Nothing panics, and the board still answers
    /// as hardware would afterwards.
    #[test]
    fn a_hostile_guest_gets_hardware_answers_and_no_panic() {
        let mut b = board();
        b.mem.ram_mut().as_mut_slice().fill(0xA5);
        let mut rnd = xorshift64(0x9E37_79B9_7F4A_7C15);
        let sizes = [1u8, 2, 4];
        let mut t = 0;
        // PCI: every bus-0 function, every register, reads and writes.
        for devfn in 0..256u32 {
            for reg in (0..256u32).step_by(4) {
                b.io_out(0xCF8, 4, 0x8000_0000 | devfn << 8 | reg, t);
                let size = sizes[(rnd() % 3) as usize];
                let off = u16::from(size != 4) * (rnd() % 4) as u16;
                let _ = b.io_in(0xCFC + off, size, t);
                if reg >= 0x10 {
                    b.io_out(0xCFC + off, size, rnd() as u32, t);
                }
                t += 1000;
            }
        }
        // Other buses, and CONFIG_ADDRESS with reserved bits.
        for _ in 0..2000 {
            b.io_out(0xCF8, 4, rnd() as u32, t);
            let _ = b.io_in(0xCFC, 4, t);
        }
        // MMIO windows: local APIC, I/O APIC, HPET.
        for base in [0xFEE0_0000u64, 0xFEC0_0000, 0xFED0_0000] {
            for _ in 0..20_000 {
                let off = rnd() % 0x1000;
                let size = sizes[(rnd() % 3) as usize];
                if rnd() % 2 == 0 {
                    b.mem_write(base + off, size, rnd(), t);
                } else {
                    let _ = b.mem_read(base + off, size, t);
                }
                t += 100;
            }
        }
        // fw_cfg: every selector, read well past the item's end; DMA with
        // random addresses.
        for key in 0..=0xFFFFu32 {
            b.io_out(0x510, 2, key, t);
            for _ in 0..4 {
                let _ = b.io_in(0x511, 1, t);
            }
        }
        for _ in 0..2000 {
            b.io_out(0x514, 4, rnd() as u32, t);
            b.io_out(0x518, 4, rnd() as u32, t);
        }
        // IDE, floppy, DMA and PM ports with random values.
        let ports: Vec<u16> = (0x1F0..0x1F8)
            .chain(0x170..0x178)
            .chain([0x3F6, 0x376])
            .chain(0x3F0..0x3F8)
            .chain(0x00..0x10)
            .chain(0x80..0x90)
            .chain(0xC0..0xE0)
            .chain(0x600..0x640)
            .collect();
        for _ in 0..200_000 {
            let p = ports[(rnd() % ports.len() as u64) as usize];
            let size = sizes[(rnd() % 3) as usize];
            if p == 0x80 {
                continue;
            }
            if rnd() % 2 == 0 {
                b.io_out(p, size, rnd() as u32, t);
            } else {
                let _ = b.io_in(p, size, t);
            }
            t += 10;
            if b.take_stop().is_some() {
                // A reset or S5 request: the guest may ask; carry on.
                b.reset(0);
            }
        }
        // Still a PC: the host bridge answers, the reset values are back
        // after a reset.
        b.reset(0);
        assert_eq!(cfg_read(&mut b, 0, 0, 0x00), 0x1237_8086);
        assert_eq!(b.mem_read(0xFEE0_0030, 4, t) as u32, 0x0005_0014);
    }

    /// A hostile guest programs the VGA any way it likes: every register
    /// port, DISPI index and value (any mode, size, bank and offset), the
    /// legacy window, the framebuffer and register BARs. Nothing panics,
    /// each picture is whole, and the framebuffer stays where its BAR is.
    #[test]
    fn a_hostile_guest_programs_the_vga_any_way_and_the_screen_still_renders() {
        let mut b = board();
        let mut rnd = xorshift64(0x2545_F491_4F6C_DD1D);
        let sizes = [1u8, 2, 4];
        // BAR0 (framebuffer) and BAR2 (registers) of 00:02.0, memory on.
        let vga_cfg = |b: &mut Board, reg: u32, v: u32| {
            b.io_out(0xCF8, 4, 0x8000_0000 | 2 << 11 | reg, 0);
            b.io_out(0xCFC, 4, v, 0);
        };
        vga_cfg(&mut b, 0x10, 0xE000_0000);
        vga_cfg(&mut b, 0x18, 0xE100_0000);
        vga_cfg(&mut b, 0x04, 0x0003);
        let mut t = 0;
        for i in 0..300_000u32 {
            let size = sizes[(rnd() % 3) as usize];
            let v = rnd();
            match rnd() % 6 {
                0 => b.io_out(0x3B0 + (rnd() % 0x30) as u16, size, v as u32, t),
                1 => {
                    // DISPI: an index, then any value, often an edge.
                    b.io_out(0x1CE, 2, (rnd() % 0x12) as u32, t);
                    let value = match rnd() % 4 {
                        0 => 0,
                        1 => 0xFFFF,
                        _ => v as u32 & 0xFFFF,
                    };
                    b.io_out(0x1CF, 2, value, t);
                    let _ = b.io_in(0x1CE + (rnd() % 3) as u16, size, t);
                }
                2 => b.mem_write(0xA_0000 + rnd() % 0x2_0000, size, v, t),
                3 => b.mem_write(0xE000_0000 + rnd() % 0x100_0000, size, v, t),
                4 => b.mem_write(0xE100_0000 + rnd() % 0x1000, size, v, t),
                _ => {
                    let _ = b.io_in(0x3B0 + (rnd() % 0x30) as u16, size, t);
                    let _ = b.mem_read(0xA_0000 + rnd() % 0x2_0000, size, t);
                    let _ = b.mem_read(0xE000_0000 + rnd() % 0x100_0000, size, t);
                }
            }
            t += 50;
            if i % 5_000 == 0 {
                let f = b.screen_frame().expect("the PC has a VGA");
                assert_eq!(f.pixels.len(), f.width * f.height);
                // DISPI refuses modes over its maxima (QEMU: 16000 wide,
                // 12000 high) and the picture must fit the 16 MiB of VRAM.
                assert!(f.width <= 16_000 && f.height <= 12_000);
                assert!(f.width * f.height <= 16 << 20);
            }
        }
        // The framebuffer is still RAM-like memory behind BAR0.
        b.io_out(0x1CE, 2, 4, t); // DISPI_INDEX_ENABLE
        b.io_out(0x1CF, 2, 0, t);
        b.mem_write(0xE000_0010, 4, 0x1234_5678, t);
        assert_eq!(b.mem_read(0xE000_0010, 4, t) as u32, 0x1234_5678);
    }

    #[test]
    fn dma_lists_the_pages_it_wrote_and_drops_what_lies_past_ram() {
        let mut b = board();
        let gen = b.map_gen;
        let mut dma = Dma::new(&mut b.mem, &mut b.dma_pages, &mut b.map_gen);
        dma.dma_write(0x2FFE, &[1, 2, 3, 4]);
        // 1 MiB of RAM: this one is all past the end.
        dma.dma_write(0x10_0000, &[9; 8192]);
        assert_eq!(b.dma_pages, [0x2000, 0x3000]);
        assert_eq!(b.mem.read(0x2FFE, 4), 0x0403_0201);
        let mut pages = Vec::new();
        b.take_dma_pages(&mut pages);
        assert_eq!((pages.len(), b.dma_pages.len()), (2, 0));
        // The rest of RAM: 255 pages, still a list.
        let big = vec![0u8; 0x10_0000 - 0x1000];
        Dma::new(&mut b.mem, &mut b.dma_pages, &mut b.map_gen).dma_write(0x1000, &big);
        assert_eq!((b.dma_pages.len(), b.map_gen), (255, gen));
        // Too many pages to list: the memory map generation moves instead.
        let mut pages = Vec::new();
        let mut ram = PhysMemory::new(anyx86_mem::GuestRam::with_mib(32).expect("RAM"), None);
        let mut map_gen = 0;
        let big = vec![0u8; 20 << 20];
        Dma::new(&mut ram, &mut pages, &mut map_gen).dma_write(0x10_0000, &big);
        assert_eq!(map_gen, 1);
        assert!(pages.len() < DMA_PAGES_MAX);
    }

    #[test]
    fn pci_mechanism_1_finds_the_chipset_and_ignores_byte_latches() {
        let mut b = board();
        // i440FX with QEMU's subsystem IDs (SeaBIOS's qemu_detect), PIIX3,
        // PIIX4 PM; nothing at 00:05.0.
        assert_eq!(cfg_read(&mut b, 0, 0, 0x00), 0x1237_8086);
        assert_eq!(cfg_read(&mut b, 0, 0, 0x2C), 0x1100_1AF4);
        assert_eq!(cfg_read(&mut b, 1, 0, 0x00), 0x7000_8086);
        assert_eq!(cfg_read(&mut b, 1, 3, 0x00), 0x7113_8086);
        assert_eq!(cfg_read(&mut b, 5, 0, 0x00), 0xFFFF_FFFF);
        // Linux's type-1 probe: a byte write to 0xCFB must not latch.
        b.io_out(0xCF8, 4, 0x8000_0000, 0);
        b.io_out(0xCFB, 1, 0x01, 0);
        assert_eq!(b.io_in(0xCF8, 4, 0), 0x8000_0000);
        // The ISA machine has no PCI at all.
        let mut isa = board_of(MachineKind::Isa);
        assert_eq!(cfg_read(&mut isa, 0, 0, 0x00), 0xFFFF_FFFF);
    }

    #[test]
    fn a_uart_interrupt_reaches_the_cpu_through_the_io_apic() {
        let mut b = board();
        // Software-enable the local APIC (SVR bit 8, spurious vector 0xFF);
        // I/O APIC pin 4 (COM1): vector 0x34, edge, physical to APIC 0.
        mmio_dwords(
            &mut b,
            &[
                (0xFEE0_00F0, 0x1FF),
                (0xFEC0_0000, 0x10 + 2 * 4),
                (0xFEC0_0010, 0x34),
                (0xFEC0_0000, 0x11 + 2 * 4),
                (0xFEC0_0010, 0),
            ],
        );
        // Mask the 8259 (its INTR would reach LINT0 in ExtINT mode too).
        b.io_out(0x21, 1, 0xFF, 0);
        assert!(!b.interrupt_pending());
        // COM1: enable the THR-empty interrupt with OUT2.
        out_bytes(&mut b, &[(0x3FC, 0x08), (0x3F9, 0x02)]);
        assert!(b.interrupt_pending(), "THRE must reach the CPU");
        assert_eq!(b.acknowledge_interrupt(0), 0x34);
        assert!(!b.interrupt_pending(), "in service until EOI");
        // EOI: the ISR bit clears.
        b.mem_write(0xFEE0_00B0, 4, 0, 0);
        assert_eq!(b.mem_read(0xFEE0_0100 + 0x30, 4, 0) & (1 << 0x14), 0);
    }

    #[test]
    fn s5_through_pm1_control_powers_off_and_0xcf9_resets() {
        let mut b = board();
        // PMBA = 0x600, PMREGMISC enable, as the firmware programs them.
        b.io_out(0xCF8, 4, 0x8000_0000 | 1 << 11 | 3 << 8 | 0x40, 0);
        b.io_out(0xCFC, 4, 0x601, 0);
        b.io_out(0xCF8, 4, 0x8000_0000 | 1 << 11 | 3 << 8 | 0x80, 0);
        b.io_out(0xCFC, 1, 1, 0);
        // PM timer runs at 3.579545 MHz: 1 ms is 3579 ticks.
        let t0 = b.io_in(0x608, 4, 0);
        let t1 = b.io_in(0x608, 4, 1_000_000);
        assert_eq!(t1.wrapping_sub(t0) & 0xFF_FFFF, 3579);
        // SLP_TYP 0 (our \_S5) with SLP_EN.
        b.io_out(0x604, 2, 1 << 13, 0);
        assert_eq!(b.take_stop(), Some(StopReason::PowerOff));
        b.io_out(0xCF9, 1, 0x02, 0);
        b.io_out(0xCF9, 1, 0x06, 0);
        assert_eq!(b.take_stop(), Some(StopReason::Reset));
    }

    #[test]
    fn a_deadline_set_by_io_cuts_the_run_short() {
        let mut b = board();
        b.fire_due(0); // the run loop sizes a run: no deadline yet
        assert!(!b.stop_requested());
        // PIT channel 0, mode 2, count 1193 (about 1 ms): a new deadline the
        // running CPU does not know about.
        for (p, v) in [(0x43, 0x34), (0x40, 1193 & 0xFF), (0x40, 1193 >> 8)] {
            b.io_out(p, 1, v, 100);
        }
        assert!(b.stop_requested(), "the CPU must return to resize its run");
        assert_eq!(b.take_stop(), None);
        assert!(!b.stop_requested());
        b.fire_due(200);
        // A CMOS access that leaves the earliest deadline alone does not.
        b.io_out(0x70, 1, 0x0A, 300);
        b.io_in(0x71, 1, 300);
        assert!(!b.stop_requested());
    }

    #[test]
    fn the_i8042_aux_loopback_raises_irq12_through_the_slave_pic() {
        let mut b = board();
        // ICW1-4 for both PICs: master at vector 0x20, slave at 0x28,
        // slave on IRQ2; then unmask IRQ2 on the master and IRQ12 (slave
        // input 4) on the slave.
        out_bytes(
            &mut b,
            &[(0x20, 0x11), (0x21, 0x20), (0x21, 0x04), (0x21, 0x01)],
        );
        out_bytes(
            &mut b,
            &[(0xA0, 0x11), (0xA1, 0x28), (0xA1, 0x02), (0xA1, 0x01)],
        );
        out_bytes(&mut b, &[(0x21, 0xFB), (0xA1, 0xEF)]);
        // The virtual wire, as a BIOS sets it: APIC on, LINT0 ExtINT.
        mmio_dwords(&mut b, &[(0xFEE0_00F0, 0x1FF), (0xFEE0_0350, 0x700)]);
        // Command byte: both interrupts on, both ports enabled.
        out_bytes(&mut b, &[(0x64, 0x60), (0x60, 0x03)]);
        assert!(!b.interrupt_pending());
        // Linux's AUX IRQ test: loop 0xA5 back through the auxiliary port.
        out_bytes(&mut b, &[(0x64, 0xD3), (0x60, 0xA5)]);
        assert!(b.interrupt_pending(), "IRQ12 must reach the CPU");
        assert_eq!(b.acknowledge_interrupt(0), 0x2C);
        assert_eq!(b.io_in(0x64, 1, 0) & 0x21, 0x21, "OBF with AUXB");
        assert_eq!(b.io_in(0x60, 1, 0), 0xA5);
    }
}
