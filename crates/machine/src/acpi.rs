//! ACPI tables of the default machine (QEMU's `pc`: i440FX + PIIX3 + PIIX4
//! PM, one CPU, I/O APIC, HPET), as plain bytes.
//!
//! Reference: ACPI 6.4 chapter 5.2 (RSDP, RSDT/XSDT, FADT, FACS, MADT);
//! IA-PC HPET specification 1.0a section 3.2.4; QEMU `hw/i386/acpi-build.c`
//! for the values a `pc` guest sees; QEMU `hw/acpi/bios-linker-loader.c`
//! and SeaBIOS `src/fw/romfile_loader.c` for the fw_cfg loader commands.
//!
//! The DSDT is `firmware/acpi/dsdt.aml`, compiled from `dsdt.asl` and
//! embedded as is. The other tables are built here, in one layout used two
//! ways:
//! - [`build_direct`]: for a direct kernel boot, pointers absolute and
//!   checksums filled in; the machine copies the blobs into guest memory.
//! - [`build_fw_cfg`]: the three fw_cfg files QEMU gives SeaBIOS; pointers
//!   are offsets into `etc/acpi/tables` and checksums are 0, both patched by
//!   the firmware following `etc/table-loader`.
//!
//! # Wiring expected from the machine
//!
//! The PIIX4 PM block at [`PM_IO_BASE`] (PM1a_EVT, PM1a_CNT, PM_TMR), the
//! GPE0 block at [`GPE0_BLK`] (QEMU's address, 2 status + 2 enable bytes),
//! the APM control port [`SMI_CMD`] taking [`ACPI_ENABLE`] /
//! [`ACPI_DISABLE`], SCI on ISA IRQ [`SCI_IRQ`] (level, active high), the
//! reset control register at [`RESET_PORT`] taking [`RESET_VALUE`].
//!
//! # Differences from QEMU
//!
//! - FADT revision 3 (244 bytes), as QEMU's q35, not revision 1 as its
//!   `pc`: revision 1 has no reset register, and Linux ignores the reset
//!   register below revision 2.
//! - RSDP revision 2 with an XSDT (QEMU's `pc` has revision 0, RSDT only).
//! - No SSDTs, no CPU/memory/PCI hotplug, no WAET.

/// The DSDT, compiled by `firmware/acpi/build.sh`.
pub const DSDT_AML: &[u8] = include_bytes!("../../../firmware/acpi/dsdt.aml");

/// OEM ID of every table.
pub const OEM_ID: &[u8; 6] = b"ANYX86";
/// OEM table ID of every table.
pub const OEM_TABLE_ID: &[u8; 8] = b"ANYX86PC";
/// Creator ID ("ASL compiler ID") of every table.
pub const CREATOR_ID: &[u8; 4] = b"ANYX";
/// Creator revision, OEM revision.
pub const CREATOR_REVISION: u32 = 1;

/// PIIX4 PM I/O base (PMBA): PM1a_EVT_BLK.
pub const PM_IO_BASE: u16 = 0x600;
/// PM1a_CNT_BLK, PMBA + 4.
pub const PM1A_CNT_BLK: u16 = PM_IO_BASE + 4;
/// PM_TMR_BLK, PMBA + 8.
pub const PM_TMR_BLK: u16 = PM_IO_BASE + 8;
/// GPE0_BLK, where QEMU puts it (PIIX4's own is at PMBA + 0x0C).
pub const GPE0_BLK: u16 = 0xAFE0;
/// GPE0 block length: 2 status bytes then 2 enable bytes.
pub const GPE0_BLK_LEN: u8 = 4;
/// APM control port, the SMI command port.
pub const SMI_CMD: u16 = 0xB2;
/// Value written to [`SMI_CMD`] to enter ACPI mode (sets SCI_EN).
pub const ACPI_ENABLE: u8 = 0xF1;
/// Value written to [`SMI_CMD`] to leave ACPI mode.
pub const ACPI_DISABLE: u8 = 0xF0;
/// SCI interrupt (ISA IRQ = GSI 9).
pub const SCI_IRQ: u16 = 9;
/// Reset control register (PIIX "RC", I/O 0xCF9).
pub const RESET_PORT: u16 = 0xCF9;
/// Value written to [`RESET_PORT`]: SYS_RST | RST_CPU.
pub const RESET_VALUE: u8 = 0x06;
/// CMOS index of the century byte.
pub const RTC_CENTURY: u8 = 0x32;
/// Local APIC base address.
pub const LAPIC_ADDR: u32 = 0xFEE0_0000;
/// I/O APIC base address.
pub const IOAPIC_ADDR: u32 = 0xFEC0_0000;
/// HPET base address.
pub const HPET_ADDR: u64 = 0xFED0_0000;
/// HPET event timer block ID: vendor 8086, legacy replacement capable,
/// 64-bit counter, 3 comparators (field = 2), revision 1 (as QEMU).
pub const HPET_BLOCK_ID: u32 = 0x8086_A201;

/// FADT flags (ACPI 6.4 table 5.10).
pub mod fadt_flags {
    /// WBINVD works.
    pub const WBINVD: u32 = 1 << 0;
    /// C1 on all processors.
    pub const PROC_C1: u32 = 1 << 2;
    /// The sleep button is a control method device (or absent).
    pub const SLP_BUTTON: u32 = 1 << 5;
    /// RTC can wake from S4.
    pub const RTC_S4: u32 = 1 << 7;
    /// RESET_REG is supported.
    pub const RESET_REG_SUP: u32 = 1 << 10;
    /// OSPM should use a platform clock (HPET) over the PM timer.
    pub const USE_PLATFORM_CLOCK: u32 = 1 << 15;
}

/// IAPC_BOOT_ARCH: an 8042 is present at ports 0x60/0x64.
pub const IAPC_BOOT_ARCH_8042: u16 = 1 << 1;
/// MADT flags: the board also has dual 8259 PICs.
pub const MADT_PCAT_COMPAT: u32 = 1;
/// MPS INTI flags: active high, level triggered (polarity 01, trigger 11).
pub const MPS_ACTIVE_HIGH_LEVEL: u16 = 0x000D;
/// ISA IRQs that are PCI-routable and overridden to level/high (QEMU).
pub const PCI_ISA_IRQS: [u8; 4] = [5, 9, 10, 11];

/// fw_cfg file names of the loader interface.
pub const FILE_TABLES: &str = "etc/acpi/tables";
/// The RSDP file.
pub const FILE_RSDP: &str = "etc/acpi/rsdp";
/// The loader commands file.
pub const FILE_LOADER: &str = "etc/table-loader";

/// Loader command: allocate and fill a file.
pub const LOADER_ALLOCATE: u32 = 1;
/// Loader command: add a file's address to a pointer in another file.
pub const LOADER_ADD_POINTER: u32 = 2;
/// Loader command: fix a checksum byte.
pub const LOADER_ADD_CHECKSUM: u32 = 3;
/// Allocation zone: anywhere in 32-bit memory.
pub const LOADER_ZONE_HIGH: u8 = 1;
/// Allocation zone: the F segment (0xF0000-0xFFFFF).
pub const LOADER_ZONE_FSEG: u8 = 2;
/// Size of one loader command.
pub const LOADER_ENTRY_LEN: usize = 128;
/// Size of a file name field in a loader command.
pub const LOADER_FILESZ: usize = 56;

/// FACS alignment required by the spec.
const FACS_ALIGN: u64 = 64;

/// Machine parameters that shape the tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcpiConfig {
    /// Guest RAM, all below 4 GiB (at most 3.5 GiB). The tables do not
    /// depend on it today (the PCI hole is fixed); kept for the E820 side.
    pub ram_bytes: u64,
}

/// Tables ready to copy into guest memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcpiBlobs {
    /// The RSDP (36 bytes), for `rsdp_addr`.
    pub rsdp: Vec<u8>,
    /// All other tables, for `tables_addr`.
    pub tables: Vec<u8>,
}

/// The fw_cfg files of QEMU's ACPI linker/loader interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FwCfgAcpi {
    /// `etc/acpi/rsdp`.
    pub rsdp: Vec<u8>,
    /// `etc/acpi/tables`.
    pub tables: Vec<u8>,
    /// `etc/table-loader`.
    pub loader: Vec<u8>,
}

/// Which blob a fixup lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum File {
    Tables,
    Rsdp,
}

/// A pointer field holding an offset into the tables blob.
#[derive(Debug, Clone, Copy)]
struct Pointer {
    file: File,
    offset: usize,
    size: u8,
}

/// A checksum byte making `start..start + len` sum to 0.
#[derive(Debug, Clone, Copy)]
struct Checksum {
    file: File,
    offset: usize,
    start: usize,
    len: usize,
}

/// The laid-out tables before pointers and checksums are resolved.
#[derive(Debug, Default)]
struct Layout {
    tables: Vec<u8>,
    rsdp: Vec<u8>,
    pointers: Vec<Pointer>,
    checksums: Vec<Checksum>,
}

impl Layout {
    fn blob(&mut self, file: File) -> &mut Vec<u8> {
        match file {
            File::Tables => &mut self.tables,
            File::Rsdp => &mut self.rsdp,
        }
    }

    /// Appends a pointer-sized field holding `target` (an offset in the
    /// tables blob) and records it for relocation.
    fn pointer(&mut self, file: File, target: usize, size: u8) {
        let blob = self.blob(file);
        let offset = blob.len();
        let bytes = (target as u64).to_le_bytes();
        blob.extend_from_slice(&bytes[..usize::from(size)]);
        self.pointers.push(Pointer { file, offset, size });
    }

    /// Starts a table: the 36-byte header, length and checksum 0 for now.
    fn begin(&mut self, signature: &[u8; 4], revision: u8) -> usize {
        let start = self.tables.len();
        let t = &mut self.tables;
        t.extend_from_slice(signature);
        t.extend_from_slice(&0u32.to_le_bytes());
        t.push(revision);
        t.push(0);
        t.extend_from_slice(OEM_ID);
        t.extend_from_slice(OEM_TABLE_ID);
        t.extend_from_slice(&CREATOR_REVISION.to_le_bytes());
        t.extend_from_slice(CREATOR_ID);
        t.extend_from_slice(&CREATOR_REVISION.to_le_bytes());
        start
    }

    /// Ends the table begun at `start`: patches its length, queues its
    /// checksum.
    fn end(&mut self, start: usize) {
        let len = self.tables.len() - start;
        let len32 = u32::try_from(len).unwrap_or(u32::MAX);
        self.tables[start + 4..start + 8].copy_from_slice(&len32.to_le_bytes());
        self.checksums.push(Checksum {
            file: File::Tables,
            offset: start + 9,
            start,
            len,
        });
    }

    fn align(&mut self, base: u64, align: u64) {
        while base.wrapping_add(self.tables.len() as u64) % align != 0 {
            self.tables.push(0);
        }
    }
}

fn put_u16(t: &mut Vec<u8>, v: u16) {
    t.extend_from_slice(&v.to_le_bytes());
}

fn put_u32(t: &mut Vec<u8>, v: u32) {
    t.extend_from_slice(&v.to_le_bytes());
}

/// Generic Address Structure: I/O space, `bits` wide, byte-granular
/// `access` (0 = legacy/undefined).
fn put_gas_io(t: &mut Vec<u8>, bits: u8, access: u8, address: u16) {
    t.extend_from_slice(&[1, bits, 0, access]);
    t.extend_from_slice(&u64::from(address).to_le_bytes());
}

/// FACS, 64 bytes, no checksum.
fn facs(l: &mut Layout) -> usize {
    let start = l.tables.len();
    let t = &mut l.tables;
    t.extend_from_slice(b"FACS");
    put_u32(t, 64);
    // Hardware signature, firmware waking vector, global lock, flags,
    // X_firmware waking vector: all 0.
    t.resize(start + 32, 0);
    t.push(1); // version: ACPI 2.0+ layout
    t.resize(start + 64, 0);
    start
}

fn dsdt(l: &mut Layout) -> usize {
    let start = l.tables.len();
    l.tables.extend_from_slice(DSDT_AML);
    start
}

/// FADT revision 3 (ACPI 3.0 layout, 244 bytes).
fn fadt(l: &mut Layout, facs: usize, dsdt: usize) -> usize {
    let start = l.begin(b"FACP", 3);
    l.pointer(File::Tables, facs, 4); // FIRMWARE_CTRL
    l.pointer(File::Tables, dsdt, 4); // DSDT
    fadt_pm_fields(&mut l.tables);
    let t = &mut l.tables;
    put_gas_io(t, 8, 1, RESET_PORT); // RESET_REG
    t.push(RESET_VALUE);
    t.extend_from_slice(&[0; 3]);
    t.extend_from_slice(&0u64.to_le_bytes()); // X_FIRMWARE_CTRL: use the 32-bit one
    l.pointer(File::Tables, dsdt, 8); // X_DSDT
    fadt_x_blocks(&mut l.tables);
    l.end(start);
    start
}

/// FADT bytes 44..116: the PM blocks, latencies, boot flags and flags.
fn fadt_pm_fields(t: &mut Vec<u8>) {
    t.push(1); // INT_MODEL (reserved since 2.0; QEMU writes 1)
    t.push(0); // Preferred_PM_Profile: unspecified
    put_u16(t, SCI_IRQ);
    put_u32(t, SMI_CMD.into());
    t.extend_from_slice(&[ACPI_ENABLE, ACPI_DISABLE, 0, 0]); // + S4BIOS_REQ, PSTATE_CNT
    for blk in [PM_IO_BASE, 0, PM1A_CNT_BLK, 0, 0, PM_TMR_BLK, GPE0_BLK, 0] {
        put_u32(t, blk.into()); // PM1a/b_EVT, PM1a/b_CNT, PM2_CNT, PM_TMR, GPE0/1
    }
    // PM1_EVT_LEN, PM1_CNT_LEN, PM2_CNT_LEN, PM_TMR_LEN, GPE0/1_BLK_LEN,
    // GPE1_BASE, CST_CNT.
    t.extend_from_slice(&[4, 2, 0, 4, GPE0_BLK_LEN, 0, 0, 0]);
    put_u16(t, 0x0FFF); // P_LVL2_LAT: C2 not supported
    put_u16(t, 0x0FFF); // P_LVL3_LAT: C3 not supported
    put_u32(t, 0); // FLUSH_SIZE, FLUSH_STRIDE
    t.extend_from_slice(&[0, 0, 0, 0, RTC_CENTURY]); // duty, alarms, century
    put_u16(t, IAPC_BOOT_ARCH_8042);
    t.push(0);
    put_u32(t, FADT_FLAGS);
}

/// The FADT flags QEMU sets, plus the reset register.
const FADT_FLAGS: u32 = fadt_flags::WBINVD
    | fadt_flags::PROC_C1
    | fadt_flags::SLP_BUTTON
    | fadt_flags::RTC_S4
    | fadt_flags::RESET_REG_SUP
    | fadt_flags::USE_PLATFORM_CLOCK;

/// Sets `bytes[at]` so that `bytes` sums to 0 mod 256.
pub(crate) fn set_checksum(bytes: &mut [u8], at: usize) {
    if at >= bytes.len() {
        return;
    }
    bytes[at] = 0;
    let sum = bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b));
    bytes[at] = sum.wrapping_neg();
}

/// FADT X_PM1a_EVT_BLK .. X_GPE1_BLK.
fn fadt_x_blocks(t: &mut Vec<u8>) {
    put_gas_io(t, 32, 0, PM_IO_BASE);
    t.extend_from_slice(&[0; 12]); // X_PM1b_EVT_BLK
    put_gas_io(t, 16, 0, PM1A_CNT_BLK);
    t.extend_from_slice(&[0; 24]); // X_PM1b_CNT_BLK, X_PM2_CNT_BLK
    put_gas_io(t, 32, 0, PM_TMR_BLK);
    put_gas_io(t, GPE0_BLK_LEN * 8, 0, GPE0_BLK);
    t.extend_from_slice(&[0; 12]); // X_GPE1_BLK
}

/// MADT: one local APIC, one I/O APIC, QEMU's overrides, LINT1 NMI.
fn madt(l: &mut Layout) -> usize {
    let start = l.begin(b"APIC", 1);
    let t = &mut l.tables;
    put_u32(t, LAPIC_ADDR);
    put_u32(t, MADT_PCAT_COMPAT);
    // Processor local APIC: UID 0, APIC ID 0, enabled.
    t.extend_from_slice(&[0, 8, 0, 0]);
    put_u32(t, 1);
    // I/O APIC: ID 0, GSI base 0.
    t.extend_from_slice(&[1, 12, 0, 0]);
    put_u32(t, IOAPIC_ADDR);
    put_u32(t, 0);
    // The PIT's IRQ 0 arrives on I/O APIC pin 2, bus-default polarity.
    interrupt_override(t, 0, 2, 0);
    for irq in PCI_ISA_IRQS {
        interrupt_override(t, irq, irq.into(), MPS_ACTIVE_HIGH_LEVEL);
    }
    // Local APIC NMI: all processors (0xFF), flags 0, LINT1.
    t.extend_from_slice(&[4, 6, 0xFF, 0, 0, 1]);
    l.end(start);
    start
}

fn interrupt_override(t: &mut Vec<u8>, irq: u8, gsi: u32, flags: u16) {
    t.extend_from_slice(&[2, 10, 0, irq]); // type, length, bus ISA, source
    put_u32(t, gsi);
    put_u16(t, flags);
}

/// HPET description table.
fn hpet(l: &mut Layout) -> usize {
    let start = l.begin(b"HPET", 1);
    let t = &mut l.tables;
    put_u32(t, HPET_BLOCK_ID);
    t.extend_from_slice(&[0, 0, 0, 0]); // GAS: system memory
    t.extend_from_slice(&HPET_ADDR.to_le_bytes());
    t.push(0); // HPET number
    put_u16(t, 0); // main counter minimum clock tick (QEMU: 0)
    t.push(0); // no page protection
    l.end(start);
    start
}

/// RSDT (`size` 4) or XSDT (`size` 8) listing `entries`.
fn sdt(l: &mut Layout, signature: &[u8; 4], size: u8, entries: &[usize]) -> usize {
    let start = l.begin(signature, 1);
    for &e in entries {
        l.pointer(File::Tables, e, size);
    }
    l.end(start);
    start
}

/// RSDP revision 2, 36 bytes, in its own blob.
fn rsdp(l: &mut Layout, rsdt: usize, xsdt: usize) {
    l.rsdp.extend_from_slice(b"RSD PTR ");
    l.rsdp.push(0);
    l.rsdp.extend_from_slice(OEM_ID);
    l.rsdp.push(2);
    l.pointer(File::Rsdp, rsdt, 4);
    l.rsdp.extend_from_slice(&36u32.to_le_bytes());
    l.pointer(File::Rsdp, xsdt, 8);
    l.rsdp.extend_from_slice(&[0; 4]);
    // ACPI 1.0 checksum over 20 bytes first: the extended one covers it.
    for (offset, len) in [(8, 20), (32, 36)] {
        l.checksums.push(Checksum {
            file: File::Rsdp,
            offset,
            start: 0,
            len,
        });
    }
}

/// Lays out every table; `tables_base` only decides the FACS padding.
fn layout(tables_base: u64) -> Layout {
    let mut l = Layout::default();
    l.align(tables_base, FACS_ALIGN);
    let facs = facs(&mut l);
    let dsdt = dsdt(&mut l);
    let fadt = fadt(&mut l, facs, dsdt);
    let madt = madt(&mut l);
    let hpet = hpet(&mut l);
    let listed = [fadt, madt, hpet];
    let rsdt = sdt(&mut l, b"RSDT", 4, &listed);
    let xsdt = sdt(&mut l, b"XSDT", 8, &listed);
    rsdp(&mut l, rsdt, xsdt);
    l
}

/// Tables laid out for a direct kernel boot: the machine copies `rsdp` to
/// `rsdp_addr` (in 0xE0000-0xFFFFF, 16-byte aligned) and `tables` to
/// `tables_addr` (below 4 GiB and RAM top, reserved in E820 as ACPI data),
/// all pointers absolute. `tables` may start with up to 63 bytes of padding
/// so that the FACS is 64-byte aligned.
pub fn build_direct(cfg: &AcpiConfig, rsdp_addr: u64, tables_addr: u64) -> AcpiBlobs {
    let _ = (cfg, rsdp_addr);
    let mut l = layout(tables_addr);
    for p in l.pointers.clone() {
        relocate(l.blob(p.file), p, tables_addr);
    }
    for c in l.checksums.clone() {
        set_checksum(
            &mut l.blob(c.file)[c.start..c.start + c.len],
            c.offset - c.start,
        );
    }
    AcpiBlobs {
        rsdp: l.rsdp,
        tables: l.tables,
    }
}

/// Adds `base` to the little-endian pointer `p` in `blob`.
fn relocate(blob: &mut [u8], p: Pointer, base: u64) {
    let field = &mut blob[p.offset..p.offset + usize::from(p.size)];
    let mut bytes = [0u8; 8];
    bytes[..field.len()].copy_from_slice(field);
    let value = u64::from_le_bytes(bytes).wrapping_add(base);
    field.copy_from_slice(&value.to_le_bytes()[..field.len()]);
}

/// Tables for firmware boot through fw_cfg, as QEMU serves them to
/// SeaBIOS: `etc/acpi/rsdp`, `etc/acpi/tables` and `etc/table-loader`.
pub fn build_fw_cfg(cfg: &AcpiConfig) -> FwCfgAcpi {
    let _ = cfg;
    let l = layout(0);
    let mut loader = Vec::new();
    loader_allocate(
        &mut loader,
        FILE_TABLES,
        FACS_ALIGN as u32,
        LOADER_ZONE_HIGH,
    );
    loader_allocate(&mut loader, FILE_RSDP, 16, LOADER_ZONE_FSEG);
    for p in &l.pointers {
        loader_add_pointer(&mut loader, file_name(p.file), p.offset, p.size);
    }
    for c in &l.checksums {
        loader_add_checksum(&mut loader, c);
    }
    FwCfgAcpi {
        rsdp: l.rsdp,
        tables: l.tables,
        loader,
    }
}

fn file_name(f: File) -> &'static str {
    match f {
        File::Tables => FILE_TABLES,
        File::Rsdp => FILE_RSDP,
    }
}

/// Starts a 128-byte loader entry: command, then a file name field.
fn loader_entry(out: &mut Vec<u8>, command: u32, file: &str) -> usize {
    let start = out.len();
    put_u32(out, command);
    put_name(out, file);
    start
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    let mut field = [0u8; LOADER_FILESZ];
    let n = name.len().min(LOADER_FILESZ - 1);
    field[..n].copy_from_slice(&name.as_bytes()[..n]);
    out.extend_from_slice(&field);
}

fn loader_finish(out: &mut Vec<u8>, start: usize) {
    out.resize(start + LOADER_ENTRY_LEN, 0);
}

fn loader_allocate(out: &mut Vec<u8>, file: &str, align: u32, zone: u8) {
    let start = loader_entry(out, LOADER_ALLOCATE, file);
    put_u32(out, align);
    out.push(zone);
    loader_finish(out, start);
}

/// The pointer at `offset` in `dest` gets the address of the tables file.
fn loader_add_pointer(out: &mut Vec<u8>, dest: &str, offset: usize, size: u8) {
    let start = loader_entry(out, LOADER_ADD_POINTER, dest);
    put_name(out, FILE_TABLES);
    put_u32(out, offset as u32);
    out.push(size);
    loader_finish(out, start);
}

fn loader_add_checksum(out: &mut Vec<u8>, c: &Checksum) {
    let start = loader_entry(out, LOADER_ADD_CHECKSUM, file_name(c.file));
    put_u32(out, c.offset as u32);
    put_u32(out, c.start as u32);
    put_u32(out, c.len as u32);
    loader_finish(out, start);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the tests put the RSDP (F segment, 16-byte aligned).
    const RSDP_ADDR: u64 = 0xF_5A30;
    /// Where the tests put the tables (a 64-byte aligned spot below a
    /// 128 MiB RAM top).
    const TABLES_ADDR: u64 = 0x07FE_0000;

    /// Guest memory as a few regions, as the tables see it.
    struct Mem(Vec<(u64, Vec<u8>)>);

    impl Mem {
        fn slice(&self, addr: u64, len: usize) -> &[u8] {
            for (base, bytes) in &self.0 {
                if addr >= *base && addr + len as u64 <= base + bytes.len() as u64 {
                    let off = (addr - base) as usize;
                    return &bytes[off..off + len];
                }
            }
            panic!("no memory at {addr:#x}+{len:#x}");
        }

        fn u32(&self, addr: u64) -> u32 {
            u32::from_le_bytes(self.slice(addr, 4).try_into().unwrap())
        }

        fn u64(&self, addr: u64) -> u64 {
            u64::from_le_bytes(self.slice(addr, 8).try_into().unwrap())
        }

        /// A whole table at `addr`, by its length field.
        fn table(&self, addr: u64) -> &[u8] {
            let len = self.u32(addr + 4) as usize;
            self.slice(addr, len)
        }
    }

    fn sum(bytes: &[u8]) -> u8 {
        bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b))
    }

    fn direct_mem() -> Mem {
        let cfg = AcpiConfig {
            ram_bytes: 128 << 20,
        };
        let b = build_direct(&cfg, RSDP_ADDR, TABLES_ADDR);
        Mem(vec![(RSDP_ADDR, b.rsdp), (TABLES_ADDR, b.tables)])
    }

    /// Addresses of the tables listed in the XSDT, by signature.
    fn xsdt_entries(m: &Mem, rsdp: u64) -> Vec<([u8; 4], u64)> {
        let xsdt = m.u64(rsdp + 24);
        let n = (m.u32(xsdt + 4) as u64 - 36) / 8;
        (0..n)
            .map(|i| m.u64(xsdt + 36 + 8 * i))
            .map(|a| (m.slice(a, 4).try_into().unwrap(), a))
            .collect()
    }

    fn find(m: &Mem, rsdp: u64, sig: &[u8; 4]) -> u64 {
        let e = xsdt_entries(m, rsdp);
        e.iter().find(|(s, _)| s == sig).unwrap().1
    }

    /// What an OS checks first: both RSDP checksums, then every table
    /// reachable from it sums to 0 and fits its length.
    fn check_all_tables(m: &Mem, rsdp: u64) {
        let r = m.slice(rsdp, 36);
        assert_eq!(&r[..8], b"RSD PTR ");
        assert_eq!(r[15], 2, "revision");
        assert_eq!(sum(&r[..20]), 0, "ACPI 1.0 checksum");
        assert_eq!(sum(r), 0, "extended checksum");
        let rsdt = m.u32(rsdp + 16) as u64;
        let xsdt = m.u64(rsdp + 24);
        assert_eq!(m.slice(rsdt, 4), b"RSDT");
        assert_eq!(m.slice(xsdt, 4), b"XSDT");
        let facp = find(m, rsdp, b"FACP");
        let dsdt = m.u32(facp + 40) as u64;
        for addr in [
            rsdt,
            xsdt,
            facp,
            dsdt,
            find(m, rsdp, b"APIC"),
            find(m, rsdp, b"HPET"),
        ] {
            let t = m.table(addr);
            assert_eq!(sum(t), 0, "checksum of {:?}", &t[..4]);
            assert_eq!(&t[10..16], OEM_ID);
        }
    }

    #[test]
    fn direct_tables_have_valid_checksums_and_lengths() {
        check_all_tables(&direct_mem(), RSDP_ADDR);
    }

    #[test]
    fn rsdt_and_xsdt_list_facp_apic_hpet() {
        let m = direct_mem();
        let sigs: Vec<[u8; 4]> = xsdt_entries(&m, RSDP_ADDR).iter().map(|e| e.0).collect();
        assert_eq!(sigs, [*b"FACP", *b"APIC", *b"HPET"]);
        let rsdt = m.u32(RSDP_ADDR + 16) as u64;
        assert_eq!(m.u32(rsdt + 4), 36 + 3 * 4);
        for (i, (_, addr)) in xsdt_entries(&m, RSDP_ADDR).iter().enumerate() {
            assert_eq!(m.u32(rsdt + 36 + 4 * i as u64) as u64, *addr);
        }
    }

    #[test]
    fn fadt_points_at_aligned_facs_and_the_dsdt() {
        let m = direct_mem();
        let facp = find(&m, RSDP_ADDR, b"FACP");
        let facs = m.u32(facp + 36) as u64;
        assert_eq!(facs % 64, 0);
        assert_eq!(m.slice(facs, 4), b"FACS");
        assert_eq!(m.u32(facs + 4), 64);
        let dsdt = m.u32(facp + 40) as u64;
        assert_eq!(m.u64(facp + 140), dsdt, "X_DSDT");
        assert_eq!(m.u64(facp + 132), 0, "X_FIRMWARE_CTRL unused");
        assert_eq!(m.table(dsdt), DSDT_AML);
    }

    #[test]
    fn fadt_describes_piix4_pm_and_reset_register() {
        let m = direct_mem();
        let f = m.table(find(&m, RSDP_ADDR, b"FACP")).to_vec();
        assert_eq!((f.len(), f[8]), (244, 3), "length, revision 3");
        let u32_at = |o: usize| u32::from_le_bytes(f[o..o + 4].try_into().unwrap());
        assert_eq!(u16::from_le_bytes([f[46], f[47]]), 9, "SCI_INT");
        assert_eq!((u32_at(48), f[52], f[53]), (0xB2, 0xF1, 0xF0));
        assert_eq!((u32_at(56), u32_at(64), u32_at(76)), (0x600, 0x604, 0x608));
        assert_eq!(u32_at(80), 0xAFE0, "GPE0_BLK");
        assert_eq!(&f[88..93], &[4, 2, 0, 4, 4], "block lengths");
        assert_eq!(f[108], 0x32, "century");
        assert_eq!(u16::from_le_bytes([f[109], f[110]]), 0x0002, "8042");
        assert_eq!(u32_at(112), 0x84A5, "flags");
        // RESET_REG: I/O, 8 bits, byte access, 0xCF9; RESET_VALUE 6.
        assert_eq!(&f[116..129], &[1, 8, 0, 1, 0xF9, 0x0C, 0, 0, 0, 0, 0, 0, 6]);
        // X_PM_TMR_BLK: I/O, 32 bits at 0x608.
        assert_eq!(&f[208..214], &[1, 32, 0, 0, 0x08, 0x06]);
    }

    #[test]
    fn madt_lists_cpu_ioapic_overrides_and_nmi_as_qemu() {
        let m = direct_mem();
        let t = m.table(find(&m, RSDP_ADDR, b"APIC"));
        assert_eq!(&t[36..44], &[0, 0, 0xE0, 0xFE, 1, 0, 0, 0]);
        let expected: &[u8] = &[
            0, 8, 0, 0, 1, 0, 0, 0, // local APIC UID 0, ID 0, enabled
            1, 12, 0, 0, 0, 0, 0xC0, 0xFE, 0, 0, 0, 0, // I/O APIC 0, GSI 0
            2, 10, 0, 0, 2, 0, 0, 0, 0, 0, // IRQ 0 -> GSI 2
            2, 10, 0, 5, 5, 0, 0, 0, 0x0D, 0, // IRQ 5, level high
            2, 10, 0, 9, 9, 0, 0, 0, 0x0D, 0, // IRQ 9 (SCI)
            2, 10, 0, 10, 10, 0, 0, 0, 0x0D, 0, // IRQ 10
            2, 10, 0, 11, 11, 0, 0, 0, 0x0D, 0, // IRQ 11
            4, 6, 0xFF, 0, 0, 1, // NMI on LINT1, all CPUs
        ];
        assert_eq!(&t[44..], expected);
    }

    #[test]
    fn hpet_table_matches_qemu() {
        let m = direct_mem();
        let t = m.table(find(&m, RSDP_ADDR, b"HPET"));
        assert_eq!(t.len(), 56);
        assert_eq!(&t[36..40], &[0x01, 0xA2, 0x86, 0x80]);
        assert_eq!(&t[40..52], &[0, 0, 0, 0, 0, 0, 0xD0, 0xFE, 0, 0, 0, 0]);
        assert_eq!(&t[52..56], &[0, 0, 0, 0]);
    }

    #[test]
    fn dsdt_aml_header_is_fixed_and_sums_to_zero() {
        assert_eq!(&DSDT_AML[..4], b"DSDT");
        let len = u32::from_le_bytes(DSDT_AML[4..8].try_into().unwrap());
        assert_eq!(len as usize, DSDT_AML.len());
        assert_eq!(sum(DSDT_AML), 0);
        assert_eq!(
            &DSDT_AML[28..36],
            b"ANYX\x01\0\0\0",
            "build.sh pins the creator"
        );
    }

    #[test]
    fn direct_pads_so_facs_is_aligned_at_any_tables_addr() {
        let cfg = AcpiConfig {
            ram_bytes: 64 << 20,
        };
        let b = build_direct(&cfg, RSDP_ADDR, 0x10_0010);
        assert_eq!(&b.tables[48..52], b"FACS", "48 bytes of padding");
        let m = Mem(vec![(RSDP_ADDR, b.rsdp), (0x10_0010, b.tables)]);
        check_all_tables(&m, RSDP_ADDR);
    }

    #[test]
    fn extreme_addresses_do_not_panic() {
        let cfg = AcpiConfig { ram_bytes: 0 };
        for addr in [0, 1, 0xFFFF_FFFF, u64::MAX - 3, u64::MAX] {
            let b = build_direct(&cfg, addr, addr);
            assert_eq!(sum(&b.rsdp), 0);
        }
    }

    fn name(field: &[u8]) -> &str {
        let end = field.iter().position(|&b| b == 0).unwrap();
        std::str::from_utf8(&field[..end]).unwrap()
    }

    /// Runs the loader like SeaBIOS's romfile_loader: ALLOCATE places the
    /// files, ADD_POINTER adds the source file's address, ADD_CHECKSUM
    /// subtracts the byte sum.
    fn run_loader(fw: &FwCfgAcpi, tables_at: u64, rsdp_at: u64) -> Mem {
        let mut files = vec![
            (FILE_TABLES, tables_at, fw.tables.clone()),
            (FILE_RSDP, rsdp_at, fw.rsdp.clone()),
        ];
        let idx = |n: &str| {
            [FILE_TABLES, FILE_RSDP]
                .iter()
                .position(|f| *f == n)
                .unwrap()
        };
        let mut allocated = Vec::new();
        for e in fw.loader.chunks(LOADER_ENTRY_LEN) {
            let cmd = u32::from_le_bytes(e[..4].try_into().unwrap());
            let u32_at = |o: usize| u32::from_le_bytes(e[o..o + 4].try_into().unwrap());
            let file = idx(name(&e[4..60]));
            match cmd {
                LOADER_ALLOCATE => allocated.push(file),
                LOADER_ADD_POINTER => {
                    let src = idx(name(&e[60..116]));
                    assert!(allocated.contains(&file) && allocated.contains(&src));
                    let (off, size) = (u32_at(116) as usize, e[120] as usize);
                    let base = files[src].1;
                    let p = Pointer {
                        file: File::Tables,
                        offset: off,
                        size: size as u8,
                    };
                    relocate(&mut files[file].2, p, base);
                }
                LOADER_ADD_CHECKSUM => {
                    let (off, start, len) = (u32_at(60) as usize, u32_at(64) as usize, u32_at(68));
                    let data = &mut files[file].2;
                    let s = sum(&data[start..start + len as usize]);
                    data[off] = data[off].wrapping_sub(s);
                }
                other => panic!("unknown loader command {other}"),
            }
        }
        Mem(files.into_iter().map(|(_, a, d)| (a, d)).collect())
    }

    #[test]
    fn fw_cfg_loader_yields_the_same_valid_tables() {
        let cfg = AcpiConfig {
            ram_bytes: 128 << 20,
        };
        let fw = build_fw_cfg(&cfg);
        let m = run_loader(&fw, TABLES_ADDR, RSDP_ADDR);
        check_all_tables(&m, RSDP_ADDR);
        // Same bytes as the direct build at the same addresses.
        let direct = build_direct(&cfg, RSDP_ADDR, TABLES_ADDR);
        assert_eq!(m.0[0].1, direct.tables);
        assert_eq!(m.0[1].1, direct.rsdp);
    }

    #[test]
    fn fw_cfg_loader_allocates_first_with_qemu_zones() {
        let fw = build_fw_cfg(&AcpiConfig {
            ram_bytes: 128 << 20,
        });
        assert_eq!(fw.loader.len() % LOADER_ENTRY_LEN, 0);
        let e: Vec<&[u8]> = fw.loader.chunks(LOADER_ENTRY_LEN).collect();
        assert_eq!(&e[0][..4], &LOADER_ALLOCATE.to_le_bytes());
        assert_eq!(name(&e[0][4..60]), "etc/acpi/tables");
        assert_eq!(
            (&e[0][60..64], e[0][64]),
            (&[64, 0, 0, 0][..], LOADER_ZONE_HIGH)
        );
        assert_eq!(name(&e[1][4..60]), "etc/acpi/rsdp");
        assert_eq!(
            (&e[1][60..64], e[1][64]),
            (&[16, 0, 0, 0][..], LOADER_ZONE_FSEG)
        );
        // Pointers in the files are offsets, and checksums left to the
        // firmware: the RSDP's RSDT field holds the RSDT's file offset.
        let rsdt = u32::from_le_bytes(fw.rsdp[16..20].try_into().unwrap()) as usize;
        assert_eq!(&fw.tables[rsdt..rsdt + 4], b"RSDT");
        assert_eq!((fw.rsdp[8], fw.tables[rsdt + 9]), (0, 0));
    }
}
