//! SMBIOS tables of the default machine, for a direct kernel boot.
//!
//! Reference: DMTF DSP0134 (SMBIOS) 2.8.0: section 5.2.1 (32-bit entry
//! point), 6.1 (structure layout, string sets), 7.1 (type 0), 7.2 (type 1),
//! 7.4 (type 3), 7.5 (type 4), 7.17 (type 16), 7.18 (type 17), 7.20
//! (type 19), 7.33 (type 32), 7.45 (type 127). Values follow what QEMU's
//! `hw/smbios/smbios.c` gives a `pc` guest, with "anyx86" for "QEMU".
//!
//! # Wiring
//!
//! The machine copies the entry point to `entry_addr` (16-byte aligned,
//! 0xF0000-0xFFFFF, where the kernel scans for `_SM_`) and the structure
//! table to `table_addr` (below 4 GiB, reserved in E820). For firmware
//! boot SeaBIOS builds its own tables, so nothing here goes to fw_cfg.
//!
//! # Not implemented
//!
//! The processor ID (CPUID signature) is 0 and speeds are unknown; no
//! UUID or serial numbers; one DIMM for all RAM.

use crate::acpi::set_checksum;

/// SMBIOS version given in the entry point.
pub const SMBIOS_MAJOR: u8 = 2;
/// SMBIOS minor version.
pub const SMBIOS_MINOR: u8 = 8;
/// Length of the 32-bit entry point.
pub const ENTRY_POINT_LEN: u8 = 0x1F;
/// System manufacturer (type 1), BIOS vendor, chassis manufacturer.
pub const MANUFACTURER: &str = "anyx86";
/// System product name, as QEMU names its `pc` machine.
pub const PRODUCT: &str = "Standard PC (i440FX + PIIX, 1996)";

/// Structure handles (QEMU's numbering: type << 8).
const HANDLE_MEM_ARRAY: u16 = 0x1000;
const HANDLE_MEM_DEVICE: u16 = 0x1100;
/// "No error information" handle.
const NO_ERROR_INFO: u16 = 0xFFFE;
/// "Not provided" cache handle.
const NO_CACHE: u16 = 0xFFFF;

/// One structure: formatted area (header included) then its strings.
struct Structure {
    formatted: Vec<u8>,
    strings: Vec<&'static str>,
}

impl Structure {
    fn new(kind: u8, handle: u16) -> Self {
        let mut formatted = vec![kind, 0];
        formatted.extend_from_slice(&handle.to_le_bytes());
        Self {
            formatted,
            strings: Vec::new(),
        }
    }

    fn u8(&mut self, v: u8) -> &mut Self {
        self.formatted.push(v);
        self
    }

    fn u16(&mut self, v: u16) -> &mut Self {
        self.formatted.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn u32(&mut self, v: u32) -> &mut Self {
        self.formatted.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn u64(&mut self, v: u64) -> &mut Self {
        self.formatted.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A string field: its 1-based index into the string set.
    fn string(&mut self, s: &'static str) -> &mut Self {
        self.strings.push(s);
        let index = u8::try_from(self.strings.len()).unwrap_or(0);
        self.u8(index)
    }

    /// The structure as bytes: length patched, strings, double NUL.
    fn encode(&self) -> Vec<u8> {
        let mut out = self.formatted.clone();
        out[1] = u8::try_from(out.len()).unwrap_or(0);
        for s in &self.strings {
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        }
        if self.strings.is_empty() {
            out.push(0);
        }
        out.push(0);
        out
    }
}

/// Type 0, BIOS information (2.4+ layout, 24 bytes).
fn bios() -> Structure {
    let mut s = Structure::new(0, 0x0000);
    s.string(MANUFACTURER).string("anyx86").u16(0xE800); // vendor, version, segment
    s.string("01/01/2024").u8(0); // release date, ROM size 64 KiB
    s.u64(1 << 3); // characteristics: "not supported"
    s.u8(0).u8(1 << 4); // extension bytes: "virtual machine"
    s.u8(0).u8(0).u8(0xFF).u8(0xFF); // BIOS release, no EC
    s
}

/// Type 1, system information (2.4+ layout, 27 bytes).
fn system() -> Structure {
    let mut s = Structure::new(1, 0x0100);
    s.string(MANUFACTURER).string(PRODUCT).string("pc").u8(0); // no serial
    s.u64(0).u64(0); // UUID unknown (all zero)
    s.u8(0x06); // wake-up type: power switch
    s.u8(0).u8(0); // SKU, family
    s
}

/// Type 3, system enclosure (2.7+ layout, 22 bytes).
fn chassis() -> Structure {
    let mut s = Structure::new(3, 0x0300);
    s.string(MANUFACTURER).u8(0x01).u8(0).u8(0).u8(0); // type "other"
    s.u8(0x03).u8(0x03).u8(0x03).u8(0x02); // boot/power/thermal safe, security unknown
    s.u32(0).u8(0).u8(0); // OEM, height, power cords
    s.u8(0).u8(3).u8(0); // no contained elements (record length 3), no SKU
    s
}

/// Type 4, processor (2.6+ layout, 42 bytes).
fn processor() -> Structure {
    let mut s = Structure::new(4, 0x0400);
    s.string("CPU 0").u8(0x03).u8(0x01); // central processor, family "other"
    s.string(MANUFACTURER).u64(0).u8(0); // processor ID unknown, no version
    s.u8(0).u16(0).u16(2000).u16(2000); // voltage, ext. clock, max/current MHz
    s.u8(0x41).u8(0x01); // socket populated + enabled; upgrade "other"
    s.u16(NO_CACHE).u16(NO_CACHE).u16(NO_CACHE);
    s.u8(0).u8(0).u8(0); // serial, asset tag, part number
    s.u8(1).u8(1).u8(1); // cores, enabled cores, threads
    s.u16(0x0002).u16(0x0001); // characteristics "unknown", family 2
    s
}

/// Type 16, physical memory array (2.7+ layout, 23 bytes).
fn memory_array(ram_kib: u32) -> Structure {
    let mut s = Structure::new(16, HANDLE_MEM_ARRAY);
    s.u8(0x01).u8(0x03).u8(0x06); // location other, system memory, multi-bit ECC
    s.u32(ram_kib).u16(NO_ERROR_INFO).u16(1).u64(0);
    s
}

/// Type 17, memory device (2.8 layout, 40 bytes).
fn memory_device(ram_mib: u16) -> Structure {
    let mut s = Structure::new(17, HANDLE_MEM_DEVICE);
    s.u16(HANDLE_MEM_ARRAY).u16(NO_ERROR_INFO);
    s.u16(0xFFFF).u16(0xFFFF).u16(ram_mib); // widths unknown, size in MiB
    s.u8(0x09).u8(0).string("DIMM 0").u8(0); // DIMM, no set, no bank
    s.u8(0x07).u16(0x0002).u16(0); // RAM, detail "other", speed unknown
    s.string(MANUFACTURER).u8(0).u8(0).u8(0); // no serial, asset, part
    s.u8(0).u32(0).u16(0); // rank, extended size, configured speed
    s.u16(0).u16(0).u16(0); // voltages unknown
    s
}

/// Type 19, memory array mapped address (2.7+ layout, 31 bytes).
fn memory_mapped(ram_kib: u32) -> Structure {
    let mut s = Structure::new(19, 0x1300);
    s.u32(0).u32(ram_kib.saturating_sub(1)); // KiB, end inclusive
    s.u16(HANDLE_MEM_ARRAY).u8(1).u64(0).u64(0);
    s
}

/// Type 32, system boot information: no errors.
fn boot_info() -> Structure {
    let mut s = Structure::new(32, 0x2000);
    s.u32(0).u16(0).u8(0);
    s
}

fn end_of_table() -> Structure {
    Structure::new(127, 0x7F00)
}

/// RAM below 4 GiB, in KiB and MiB as the memory structures want it.
fn ram_units(ram_bytes: u64) -> (u32, u16) {
    let kib = u32::try_from(ram_bytes >> 10).unwrap_or(u32::MAX);
    let mib = u16::try_from(ram_bytes >> 20).unwrap_or(0x7FFF).min(0x7FFF);
    (kib, mib)
}

/// The 31-byte SMBIOS 2.8 entry point (`_SM_` + `_DMI_`).
fn entry_point(table: &[u8], table_addr: u64, count: u16, max_size: u16) -> Vec<u8> {
    let mut e = Vec::with_capacity(usize::from(ENTRY_POINT_LEN));
    e.extend_from_slice(b"_SM_");
    e.extend_from_slice(&[0, ENTRY_POINT_LEN, SMBIOS_MAJOR, SMBIOS_MINOR]);
    e.extend_from_slice(&max_size.to_le_bytes());
    e.extend_from_slice(&[0; 6]); // entry point revision, formatted area
    e.extend_from_slice(b"_DMI_");
    e.push(0);
    let len = u16::try_from(table.len()).unwrap_or(u16::MAX);
    e.extend_from_slice(&len.to_le_bytes());
    let addr = u32::try_from(table_addr).unwrap_or(0);
    e.extend_from_slice(&addr.to_le_bytes());
    e.extend_from_slice(&count.to_le_bytes());
    e.push((SMBIOS_MAJOR << 4) | SMBIOS_MINOR); // BCD revision 0x28
                                                // The intermediate checksum (over `_DMI_` on) first: the outer one
                                                // covers it.
    set_checksum(&mut e[16..], 5);
    set_checksum(&mut e, 4);
    e
}

/// Builds the SMBIOS entry point and structure table for a direct boot.
/// `entry_addr` is where the machine puts the entry point (nothing inside
/// refers to it); `table_addr` is where it puts the structure table and
/// must be below 4 GiB.
pub fn build_direct(ram_bytes: u64, entry_addr: u64, table_addr: u64) -> (Vec<u8>, Vec<u8>) {
    let _ = entry_addr;
    let (kib, mib) = ram_units(ram_bytes);
    let structures = [
        bios(),
        system(),
        chassis(),
        processor(),
        memory_array(kib),
        memory_device(mib),
        memory_mapped(kib),
        boot_info(),
        end_of_table(),
    ];
    let encoded: Vec<Vec<u8>> = structures.iter().map(Structure::encode).collect();
    let max = encoded.iter().map(Vec::len).max().unwrap_or(0);
    let max = u16::try_from(max).unwrap_or(u16::MAX);
    let count = u16::try_from(encoded.len()).unwrap_or(u16::MAX);
    let table = encoded.concat();
    (entry_point(&table, table_addr, count, max), table)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY_ADDR: u64 = 0xF_5A00;
    const TABLE_ADDR: u64 = 0x07FD_F000;

    fn sum(bytes: &[u8]) -> u8 {
        bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b))
    }

    /// Splits the table into (type, formatted area, strings) like dmidecode.
    fn walk(table: &[u8]) -> Vec<(u8, &[u8], Vec<&str>)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < table.len() {
            let len = table[at + 1] as usize;
            let formatted = &table[at..at + len];
            let mut p = at + len;
            let mut strings = Vec::new();
            loop {
                let end = p + table[p..].iter().position(|&b| b == 0).unwrap();
                if end == p {
                    // Empty string: end of set (a set with no strings
                    // has one extra NUL before it).
                    p = if strings.is_empty() && table[p + 1] == 0 {
                        p + 2
                    } else {
                        p + 1
                    };
                    break;
                }
                strings.push(std::str::from_utf8(&table[p..end]).unwrap());
                p = end + 1;
            }
            out.push((formatted[0], formatted, strings));
            at = p;
        }
        out
    }

    #[test]
    fn entry_point_checksums_and_fields() {
        let (e, t) = build_direct(128 << 20, ENTRY_ADDR, TABLE_ADDR);
        assert_eq!(e.len(), 0x1F);
        assert_eq!((&e[..4], &e[16..21]), (&b"_SM_"[..], &b"_DMI_"[..]));
        assert_eq!(sum(&e), 0, "entry point checksum");
        assert_eq!(sum(&e[16..]), 0, "intermediate checksum");
        assert_eq!((e[5], e[6], e[7], e[30]), (0x1F, 2, 8, 0x28));
        assert_eq!(u16::from_le_bytes([e[22], e[23]]) as usize, t.len());
        assert_eq!(
            u32::from_le_bytes(e[24..28].try_into().unwrap()) as u64,
            TABLE_ADDR
        );
        assert_eq!(u16::from_le_bytes([e[28], e[29]]), 9, "structure count");
    }

    #[test]
    fn structures_have_the_spec_lengths_in_order() {
        let (e, t) = build_direct(128 << 20, ENTRY_ADDR, TABLE_ADDR);
        let s = walk(&t);
        let kinds: Vec<(u8, usize)> = s.iter().map(|x| (x.0, x.1.len())).collect();
        let expected = [
            (0, 24),
            (1, 27),
            (3, 22),
            (4, 42),
            (16, 23),
            (17, 40),
            (19, 31),
            (32, 11),
            (127, 4),
        ];
        assert_eq!(kinds, expected);
        let max = u16::from_le_bytes([e[8], e[9]]) as usize;
        assert_eq!(
            max,
            27 + PRODUCT.len() + MANUFACTURER.len() + "pc".len() + 4
        );
    }

    #[test]
    fn system_names_the_machine_like_qemu() {
        let (_, t) = build_direct(128 << 20, ENTRY_ADDR, TABLE_ADDR);
        let s = walk(&t);
        assert_eq!(
            s[1].2,
            ["anyx86", "Standard PC (i440FX + PIIX, 1996)", "pc"]
        );
        assert_eq!((s[1].1[4], s[1].1[5]), (1, 2), "manufacturer, product");
    }

    #[test]
    fn memory_structures_describe_all_ram() {
        let (_, t) = build_direct(128 << 20, ENTRY_ADDR, TABLE_ADDR);
        let s = walk(&t);
        let u32_at = |f: &[u8], o: usize| u32::from_le_bytes(f[o..o + 4].try_into().unwrap());
        assert_eq!(u32_at(s[4].1, 7), 128 * 1024, "type 16 capacity, KiB");
        assert_eq!(
            u16::from_le_bytes([s[5].1[12], s[5].1[13]]),
            128,
            "type 17 MiB"
        );
        assert_eq!(
            u16::from_le_bytes([s[5].1[4], s[5].1[5]]),
            0x1000,
            "in array"
        );
        assert_eq!((u32_at(s[6].1, 4), u32_at(s[6].1, 8)), (0, 128 * 1024 - 1));
    }

    #[test]
    fn odd_ram_sizes_do_not_panic() {
        for ram in [0, 1, 1023, 3 << 30, u64::MAX] {
            let (e, t) = build_direct(ram, ENTRY_ADDR, u64::MAX);
            assert_eq!(sum(&e), 0);
            assert_eq!(walk(&t).len(), 9);
        }
    }
}
