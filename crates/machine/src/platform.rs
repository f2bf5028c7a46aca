//! What firmware would leave on the full PC: fw_cfg's items for SeaBIOS,
//! and, for a direct kernel boot (no firmware runs), the PCI programming,
//! ACPI tables and SMBIOS structures a BIOS would have set up.

use crate::firmware::vga_font_8x16;
use crate::layout::{irq, mem, pci as slot, port};
use crate::machine::Machine;
use crate::{acpi, smbios};
use anyx86_devices::fw_cfg::{FW_CFG_MAX_CPUS, FW_CFG_NB_CPUS, FW_CFG_RAM_SIZE};
use anyx86_devices::lapic::{APIC_LVT_LINT0, APIC_LVT_LINT1, APIC_SVR, APIC_SVR_ENABLE};

/// Where a direct boot puts the RSDP: the start of the BIOS area, where
/// a kernel that is not told scans for it (and `acpi_rsdp_addr` says it).
pub const RSDP_ADDR: u64 = mem::BIOS_AREA_START;
/// The SMBIOS entry point (16-byte aligned, in the F segment).
pub const SMBIOS_ENTRY_ADDR: u64 = mem::BIOS_AREA_START + 0x40;
/// The SMBIOS structure table, also inside the reserved BIOS area.
pub const SMBIOS_TABLE_ADDR: u64 = mem::BIOS_AREA_START + 0x100;
/// Bytes reserved for the ACPI tables at the top of RAM (E820 type 3).
pub const ACPI_TABLES_LEN: u64 = 0x1_0000;

/// PCI configuration registers a BIOS programs (PIIX4 PM, PIIX3, i440FX).
mod reg {
    /// i440FX PAM0 (0xF0000-0xFFFFF in bits 5:4); PAM1-6 follow.
    pub const PAM0: u8 = 0x59;
    /// PIIX3 PIRQRC[A].
    pub const PIRQRC: u8 = 0x60;
    /// PIIX4 PMBA (bit 0 reads 1: I/O space).
    pub const PMBA: u8 = 0x40;
    /// PIIX4 PMREGMISC bit 0: PM I/O space enable.
    pub const PMREGMISC: u8 = 0x80;
    /// Interrupt line (type-0 header).
    pub const INTERRUPT_LINE: u8 = 0x3C;
}

impl Machine {
    /// Where the direct boot's ACPI tables go: the top 64 KiB of RAM.
    pub(crate) fn acpi_tables_addr(&self) -> u64 {
        self.board.mem.ram().len() as u64 - ACPI_TABLES_LEN
    }

    /// fw_cfg's items, as QEMU gives SeaBIOS: RAM size, CPU count, the
    /// E820 map and the ACPI tables with their table-loader script.
    pub(crate) fn setup_firmware_config(&mut self) {
        let ram = self.board.mem.ram().len() as u64;
        let tables = acpi::build_fw_cfg(&acpi::AcpiConfig { ram_bytes: ram });
        let Some(pc) = self.board.pc.as_deref_mut() else {
            return;
        };
        let fw = &mut pc.fw_cfg;
        fw.add_bytes(FW_CFG_RAM_SIZE, ram.to_le_bytes().to_vec());
        fw.add_bytes(FW_CFG_NB_CPUS, 1u16.to_le_bytes().to_vec());
        fw.add_bytes(FW_CFG_MAX_CPUS, 1u16.to_le_bytes().to_vec());
        // QEMU's etc/e820: RAM above 1 MiB (SeaBIOS adds the low RAM and
        // its own reservations).
        let mut e820 = Vec::new();
        e820.extend_from_slice(&0u64.to_le_bytes());
        e820.extend_from_slice(&ram.to_le_bytes());
        e820.extend_from_slice(&1u32.to_le_bytes());
        for (name, data) in [
            ("etc/e820", e820),
            (acpi::FILE_RSDP, tables.rsdp),
            (acpi::FILE_TABLES, tables.tables),
            (acpi::FILE_LOADER, tables.loader),
        ] {
            // The names are short and distinct: adding cannot fail.
            let _ = fw.add_file(name, data);
        }
    }

    /// A direct boot on the full PC: program the chipset as SeaBIOS does
    /// (PM block at 0x600 with the SCI on IRQ 9, PIRQ links, shadow RAM
    /// read/write) and write the ACPI tables and SMBIOS structures.
    pub(crate) fn setup_direct_platform(&mut self) {
        if self.board.pc.is_none() {
            return;
        }
        let now = self.board.clock.now(self.cpu.s.icount);
        self.board.with_chipset(now, |pc| {
            let host = |r| anyx86_devices::PciAddress {
                bus: 0,
                dev: slot::HOST,
                func: 0,
                reg: r,
            };
            let piix = |func, r| anyx86_devices::PciAddress {
                bus: 0,
                dev: slot::PIIX,
                func,
                reg: r,
            };
            pc.config_write(host(reg::PAM0), 1, 0x30);
            for i in 1..7 {
                pc.config_write(host(reg::PAM0 + i), 1, 0x33);
            }
            for (i, irq) in slot::PIRQ_IRQS.iter().enumerate() {
                pc.config_write(piix(0, reg::PIRQRC + i as u8), 1, u32::from(*irq));
            }
            pc.config_write(piix(3, reg::PMBA), 4, u32::from(port::PM_BASE) | 1);
            pc.config_write(piix(3, reg::PMREGMISC), 1, 1);
            pc.config_write(piix(3, reg::INTERRUPT_LINE), 1, u32::from(irq::SCI));
            // The virtual wire, as SeaBIOS's smp_setup leaves it: APIC
            // software-enabled, LINT0 ExtINT (the 8259), LINT1 NMI.
            let svr = pc.lapic.read(APIC_SVR, now);
            pc.lapic.write(APIC_SVR, svr | APIC_SVR_ENABLE, now);
            pc.lapic.write(APIC_LVT_LINT0, 0x8700, now);
            pc.lapic.write(APIC_LVT_LINT1, 0x8400, now);
        });
        // The VGA in 80x25 text with the VGA BIOS's font in plane 2, as the
        // option ROM leaves it before a boot loader runs.
        if let (Some(pc), Some(font)) = (self.board.pc.as_deref_mut(), vga_font_8x16()) {
            pc.vga.set_text_mode_3(font);
        }
        // The SCI is level-triggered: the 8259's ELCR says so, as the BIOS
        // sets it.
        let elcr = self.board.pic.read_byte(port::ELCR + 1);
        self.board
            .pic
            .write_byte(port::ELCR + 1, elcr | 1 << (irq::SCI - 8));
        let ram = self.board.mem.ram().len() as u64;
        let tables_addr = self.acpi_tables_addr();
        let blobs =
            acpi::build_direct(&acpi::AcpiConfig { ram_bytes: ram }, RSDP_ADDR, tables_addr);
        self.board.mem.load(RSDP_ADDR, &blobs.rsdp);
        self.board.mem.load(tables_addr, &blobs.tables);
        let (entry, table) = smbios::build_direct(ram, SMBIOS_ENTRY_ADDR, SMBIOS_TABLE_ADDR);
        self.board.mem.load(SMBIOS_ENTRY_ADDR, &entry);
        self.board.mem.load(SMBIOS_TABLE_ADDR, &table);
    }
}
