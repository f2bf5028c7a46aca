//! The chipset of the full PC (QEMU's `pc` machine): the local APIC and
//! I/O APIC, the HPET, PCI configuration mechanism #1 with the i440FX host
//! bridge, the PIIX3 ISA bridge and the PIIX4 power-management function,
//! its ACPI register block, and fw_cfg.
//!
//! The ISA PC (`--machine isa`) has none of it: the board keeps a
//! `Option<Box<Chipset>>` and every path here costs nothing when it is
//! `None`. This file holds the chipset's own wiring (PCI dispatch, MMIO
//! decoding, APIC message routing); the board connects it to the legacy
//! chips (IRQ lines, the PIC's INTR, deadlines).

use crate::layout::{mmio, pci as slot, port};
use anyx86_devices::pc_testdev::{PcTestdev, TESTDEV_IOMEM_LEN};
use anyx86_devices::{
    AcpiPm, FwCfg, Hpet, I440fx, Ide, IoApic, Lapic, PciAddress, PciFunction, PciHost, Piix3Isa,
    Piix4Pm, Vga,
};
use anyx86_hw::{AccessSize, VirtualTime};

/// Which PC: the full one (the default) or the minimal ISA machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MachineKind {
    /// QEMU's `pc`: i440FX, PIIX3/PIIX4, APICs, HPET, ACPI, fw_cfg.
    #[default]
    Pc,
    /// QEMU's `isapc`: 8259 pair, 8254, RTC, UARTs, i8042; no PCI.
    Isa,
}

impl MachineKind {
    /// By name, as `--machine` takes it.
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "pc" => Some(Self::Pc),
            "isa" | "isapc" => Some(Self::Isa),
            _ => None,
        }
    }

    /// The name `--machine` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pc => "pc",
            Self::Isa => "isa",
        }
    }
}

/// The full PC's chipset devices.
pub struct Chipset {
    /// The CPU's local APIC.
    pub lapic: Lapic,
    /// The 82093AA I/O APIC.
    pub ioapic: IoApic,
    /// The HPET.
    pub hpet: Hpet,
    /// CONFIG_ADDRESS of mechanism #1.
    pub pci: PciHost,
    /// Host bridge, 00:00.0.
    pub host: I440fx,
    /// ISA bridge, 00:01.0.
    pub isa: Piix3Isa,
    /// IDE function, 00:01.1, with its drives.
    pub ide: Ide,
    /// Where the IDE bus-master block is decoded (BAR4, I/O enabled).
    pub ide_bm_base: Option<u16>,
    /// Power management function, 00:01.3.
    pub pm_fn: Piix4Pm,
    /// QEMU's standard VGA, 00:02.0.
    pub vga: Vga,
    /// Where the VGA's BARs are decoded: framebuffer, registers, ROM
    /// (re-read after every configuration write).
    pub vga_bars: [Option<u64>; 3],
    /// The PM I/O block the power-management function decodes.
    pub pm: AcpiPm,
    /// QEMU's firmware configuration device.
    pub fw_cfg: FwCfg,
    /// Where the PM block is decoded (PMBA, when PMREGMISC enables it).
    pub pm_base: Option<u16>,
    /// QEMU's `pc-testdev`, when the user added it (`--device pc-testdev`).
    pub testdev: Option<Box<PcTestdev>>,
}

impl Chipset {
    /// The chipset at power-on, with fw_cfg's items and the IDE drives
    /// (both kept across resets).
    pub fn new(fw_cfg: FwCfg, ide: Ide) -> Self {
        Self {
            lapic: Lapic::new(),
            ioapic: IoApic::new(),
            hpet: Hpet::new(),
            pci: PciHost::new(),
            host: I440fx::new(),
            isa: Piix3Isa::new(),
            ide_bm_base: ide.bus_master_base(),
            ide,
            pm_fn: Piix4Pm::new(),
            vga: Vga::new(crate::firmware::VGABIOS.to_vec()),
            vga_bars: [None; 3],
            pm: AcpiPm::new(),
            fw_cfg,
            pm_base: None,
            testdev: None,
        }
    }

    /// Reads configuration space of the function at `a`; an absent
    /// function reads all-ones.
    pub fn config_read(&mut self, a: PciAddress, size: AccessSize) -> u32 {
        match (a.bus, a.dev, a.func) {
            (0, slot::HOST, 0) => self.host.config_read(a.reg, size),
            (0, slot::PIIX, 0) => self.isa.config_read(a.reg, size),
            (0, slot::PIIX, slot::IDE_FUNC) => self.ide.config_read(a.reg, size),
            (0, slot::PIIX, 3) => self.pm_fn.config_read(a.reg, size),
            (0, slot::VGA, 0) => self.vga.config_read(a.reg, size),
            _ => ones(size),
        }
    }

    /// Writes configuration space; returns true when the memory map
    /// changed (PAM).
    pub fn config_write(&mut self, a: PciAddress, size: AccessSize, v: u32) -> bool {
        match (a.bus, a.dev, a.func) {
            (0, slot::HOST, 0) => {
                self.host.config_write(a.reg, size, v);
                return self.host.take_pam_changed();
            }
            (0, slot::PIIX, 0) => self.isa.config_write(a.reg, size, v),
            (0, slot::PIIX, slot::IDE_FUNC) => {
                self.ide.config_write(a.reg, size, v);
                self.ide_bm_base = self.ide.bus_master_base();
            }
            (0, slot::VGA, 0) => {
                self.vga.config_write(a.reg, size, v);
                self.vga_bars = [
                    self.vga.lfb_base(),
                    self.vga.mmio_base(),
                    self.vga.rom_base(),
                ];
            }
            (0, slot::PIIX, 3) => {
                self.pm_fn.config_write(a.reg, size, v);
                if self.pm_fn.take_pm_base_changed() {
                    self.pm_base = self.pm_fn.pm_io_base();
                }
            }
            _ => {}
        }
        false
    }

    /// The offset of `p` in the PM I/O block, when it is decoded there.
    #[inline]
    pub fn pm_offset(&self, p: u16) -> Option<u16> {
        let base = self.pm_base?;
        let off = p.wrapping_sub(base);
        (off < port::PM_LEN).then_some(off)
    }

    /// The offset of `p` in the IDE bus-master block, when it is decoded.
    #[inline]
    pub fn ide_bm_offset(&self, p: u16) -> Option<u16> {
        let base = self.ide_bm_base?;
        let off = p.wrapping_sub(base);
        (off < port::IDE_BM_LEN).then_some(off)
    }

    /// Which MMIO device `paddr` falls in, and the offset.
    #[inline]
    pub fn mmio_target(&self, paddr: u64) -> Option<(Mmio, u32)> {
        if (mmio::VGA_WINDOW..mmio::VGA_WINDOW + mmio::VGA_WINDOW_LEN).contains(&paddr) {
            return Some((Mmio::VgaWindow, (paddr - mmio::VGA_WINDOW) as u32));
        }
        let bars = [
            (Mmio::VgaLfb, mmio::VGA_LFB_LEN),
            (Mmio::VgaMmio, mmio::VGA_MMIO_LEN),
            (Mmio::VgaRom, mmio::VGA_ROM_LEN),
        ];
        for (base, (dev, len)) in self.vga_bars.iter().zip(bars) {
            if let Some(b) = *base {
                if (b..b + len).contains(&paddr) {
                    return Some((dev, (paddr - b) as u32));
                }
            }
        }
        let lapic = self.lapic.mmio_base();
        if self.lapic.hw_enabled() && (lapic..lapic + mmio::LAPIC_LEN).contains(&paddr) {
            return Some((Mmio::Lapic, (paddr - lapic) as u32));
        }
        if (mmio::IOAPIC..mmio::IOAPIC + mmio::IOAPIC_LEN).contains(&paddr) {
            return Some((Mmio::IoApic, (paddr - mmio::IOAPIC) as u32));
        }
        if (mmio::HPET..mmio::HPET + mmio::HPET_LEN).contains(&paddr) {
            return Some((Mmio::Hpet, (paddr - mmio::HPET) as u32));
        }
        if self.testdev.is_some()
            && (mmio::TESTDEV..mmio::TESTDEV + TESTDEV_IOMEM_LEN).contains(&paddr)
        {
            return Some((Mmio::Testdev, (paddr - mmio::TESTDEV) as u32));
        }
        None
    }

    /// An MMIO read of `size` bytes (1, 2, 4 or 8).
    pub fn mmio_read(&mut self, dev: Mmio, off: u32, size: u8, now: VirtualTime) -> u64 {
        match dev {
            Mmio::VgaWindow | Mmio::VgaLfb | Mmio::VgaMmio | Mmio::VgaRom if size == 8 => {
                let lo = self.vga_read(dev, off, 4, now);
                let hi = self.vga_read(dev, off.wrapping_add(4), 4, now);
                u64::from(lo) | u64::from(hi) << 32
            }
            Mmio::VgaWindow | Mmio::VgaLfb | Mmio::VgaMmio | Mmio::VgaRom => {
                u64::from(self.vga_read(dev, off, size, now))
            }
            Mmio::Testdev => self.testdev.as_ref().map_or(0, |t| t.mem_read(off, size)),
            Mmio::Hpet if size >= 4 => self.hpet.read(off, size.min(8), now),
            Mmio::Hpet => {
                let v = self.hpet.read(off & !3, 4, now);
                narrow(v, off, size)
            }
            Mmio::Lapic | Mmio::IoApic => {
                let mut dword = |o: u32| match dev {
                    Mmio::Lapic => self.lapic.read(o, now),
                    _ => self.ioapic.read(o),
                };
                match size {
                    8 => u64::from(dword(off)) | u64::from(dword(off + 4)) << 32,
                    4 => u64::from(dword(off)),
                    _ => narrow(u64::from(dword(off & !3)), off, size),
                }
            }
        }
    }

    /// An MMIO write. The APICs are 32-bit devices: narrower writes at an
    /// aligned offset write the zero-extended value, others are dropped
    /// (QEMU treats them the same way).
    pub fn mmio_write(&mut self, dev: Mmio, off: u32, size: u8, v: u64, now: VirtualTime) {
        match dev {
            Mmio::VgaWindow | Mmio::VgaLfb | Mmio::VgaMmio | Mmio::VgaRom if size == 8 => {
                self.vga_write(dev, off, 4, v as u32, now);
                self.vga_write(dev, off.wrapping_add(4), 4, (v >> 32) as u32, now);
            }
            Mmio::VgaWindow | Mmio::VgaLfb | Mmio::VgaMmio | Mmio::VgaRom => {
                self.vga_write(dev, off, size, v as u32, now)
            }
            Mmio::Testdev => {
                if let Some(t) = self.testdev.as_deref_mut() {
                    t.mem_write(off, size, v);
                }
            }
            Mmio::Hpet => self.hpet.write(off, size.clamp(4, 8), v, now),
            Mmio::Lapic | Mmio::IoApic => {
                let mut dword = |o: u32, x: u32| match dev {
                    Mmio::Lapic => self.lapic.write(o, x, now),
                    _ => self.ioapic.write(o, x),
                };
                match size {
                    8 => {
                        dword(off, v as u32);
                        dword(off + 4, (v >> 32) as u32);
                    }
                    _ if off & 3 == 0 => dword(off, v as u32),
                    _ => {}
                }
            }
        }
    }

    fn vga_read(&mut self, dev: Mmio, off: u32, size: u8, now: VirtualTime) -> u32 {
        match dev {
            Mmio::VgaWindow => self.vga.mem_read(off, size),
            Mmio::VgaLfb => self.vga.lfb_read(u64::from(off), size),
            Mmio::VgaMmio => self.vga.mmio_read(u64::from(off), size, now),
            _ => self.vga.rom_read(u64::from(off), size),
        }
    }

    fn vga_write(&mut self, dev: Mmio, off: u32, size: u8, v: u32, now: VirtualTime) {
        match dev {
            Mmio::VgaWindow => self.vga.mem_write(off, size, v),
            Mmio::VgaLfb => self.vga.lfb_write(u64::from(off), size, v),
            Mmio::VgaMmio => self.vga.mmio_write(u64::from(off), size, v, now),
            _ => {} // ROM
        }
    }

    /// Moves the I/O APIC's messages and the local APIC's EOI broadcasts
    /// between the two, until neither has anything left. Bounded: each
    /// pass drains at most one message per pin.
    pub fn route_apic_messages(&mut self) {
        for _ in 0..4 {
            let mut moved = false;
            while let Some(m) = self.ioapic.take_message() {
                self.lapic.deliver(&m);
                moved = true;
            }
            if let Some(v) = self.lapic.take_eoi() {
                self.ioapic.eoi(v);
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }
}

/// The chipset's MMIO devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mmio {
    /// The VGA's legacy window, 0xA0000-0xBFFFF.
    VgaWindow,
    /// The VGA's linear framebuffer (BAR0).
    VgaLfb,
    /// The VGA's register BAR (BAR2).
    VgaMmio,
    /// The VGA BIOS behind the expansion-ROM BAR.
    VgaRom,
    /// The local APIC page (relocatable through IA32_APIC_BASE).
    Lapic,
    /// The I/O APIC.
    IoApic,
    /// The HPET block.
    Hpet,
    /// The `pc-testdev` memory window.
    Testdev,
}

/// All-ones in `size` bytes.
pub fn ones(size: AccessSize) -> u32 {
    u32::MAX >> (32 - 8 * u32::from(size.clamp(1, 4)))
}

/// The `size` bytes at byte `off & 3` of a dword value.
fn narrow(v: u64, off: u32, size: u8) -> u64 {
    let shifted = v >> (8 * (off & 3));
    match size {
        1 => shifted & 0xFF,
        2 => shifted & 0xFFFF,
        _ => shifted & 0xFFFF_FFFF,
    }
}
