//! The result of a loader: what to write where, and the CPU state to enter with.
//!
//! A [`BootPlan`] is plain data. The machine writes every [`Load`] into guest
//! memory, installs the GDT the [`Entry`] describes, sets CR0.PE (paging
//! off), enables A20, loads the segment registers' hidden parts from the
//! descriptors, sets the general registers and EFLAGS, and starts the CPU at
//! `eip`. Nothing here touches a CPU or a memory.

use std::fmt;

use crate::error::BootError;
use crate::linux::SetupHeader;
use crate::memory::{containing, Range};
use crate::multiboot::MultibootHeader;

/// Everything the machine needs to start a kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootPlan {
    /// Bytes to write into guest memory. They do not overlap and all lie in
    /// usable RAM (checked by the loader).
    pub loads: Vec<Load>,
    /// The CPU state at the kernel's first instruction.
    pub entry: Entry,
    /// Which protocol was used, with the parsed header, for `--stats` and
    /// debugging.
    pub kind: BootKind,
}

impl BootPlan {
    /// The first load of the given kind.
    pub fn find(&self, what: LoadKind) -> Option<&Load> {
        self.loads.iter().find(|l| l.what == what)
    }
}

/// The boot protocol of a plan and what was learnt from the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootKind {
    /// Linux x86 boot protocol, 32-bit entry.
    Linux {
        /// The parsed setup header.
        header: SetupHeader,
        /// Address of `struct boot_params` (ESI at entry).
        boot_params_addr: u64,
        /// Address and size of the initrd, if one was given.
        initrd: Option<(u64, u64)>,
    },
    /// Multiboot v1.
    Multiboot {
        /// The parsed Multiboot header.
        header: MultibootHeader,
        /// Address of the Multiboot information structure (EBX at entry).
        info_addr: u64,
    },
}

/// What a [`Load`] holds; also names loads in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadKind {
    /// The boot GDT.
    Gdt,
    /// Linux `struct boot_params` (the zero page).
    BootParams,
    /// The kernel command line.
    Cmdline,
    /// Kernel code and data (the bzImage protected-mode part, an ELF
    /// segment, or the a.out-kludge image).
    Kernel,
    /// The Linux initial ramdisk.
    Initrd,
    /// Multiboot module number `n` (0-based).
    Module(usize),
    /// The Multiboot information block: the info structure, module list,
    /// memory map, GDT and strings.
    MultibootInfo,
}

impl fmt::Display for LoadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadKind::Gdt => f.write_str("boot GDT"),
            LoadKind::BootParams => f.write_str("boot_params"),
            LoadKind::Cmdline => f.write_str("command line"),
            LoadKind::Kernel => f.write_str("kernel"),
            LoadKind::Initrd => f.write_str("initrd"),
            LoadKind::Module(n) => write!(f, "module {n}"),
            LoadKind::MultibootInfo => f.write_str("Multiboot info"),
        }
    }
}

/// `data` is written at `addr`, followed by `zero_fill` zero bytes (a BSS;
/// kept out of `data` so a hostile size cannot make us allocate it).
#[derive(Clone, PartialEq, Eq)]
pub struct Load {
    /// What this is.
    pub what: LoadKind,
    /// Guest-physical address of the first byte.
    pub addr: u64,
    /// Bytes to copy.
    pub data: Vec<u8>,
    /// Zero bytes to write after `data`.
    pub zero_fill: u64,
}

impl Load {
    /// A load without zero fill.
    pub fn new(what: LoadKind, addr: u64, data: Vec<u8>) -> Self {
        Load {
            what,
            addr,
            data,
            zero_fill: 0,
        }
    }

    /// Bytes covered: data plus zero fill.
    pub fn len(&self) -> u64 {
        (self.data.len() as u64).saturating_add(self.zero_fill)
    }

    /// Whether the load covers no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One past the last byte covered.
    pub fn end(&self) -> u64 {
        self.addr.saturating_add(self.len())
    }
}

impl fmt::Debug for Load {
    // The data is megabytes long: show its length, not its bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Load")
            .field("what", &self.what)
            .field("addr", &format_args!("{:#x}", self.addr))
            .field("data_len", &format_args!("{:#x}", self.data.len()))
            .field("zero_fill", &format_args!("{:#x}", self.zero_fill))
            .finish()
    }
}

/// Checks that every load lies in one usable RAM range and that no two
/// loads overlap.
pub(crate) fn check_loads(loads: &[Load], usable: &[Range]) -> Result<(), BootError> {
    let mut spans: Vec<&Load> = loads.iter().filter(|l| !l.is_empty()).collect();
    for l in &spans {
        let end = l.addr.checked_add(l.len());
        if end
            .and_then(|end| containing(usable, l.addr, end))
            .is_none()
        {
            return Err(BootError::LoadOutsideRam {
                what: l.what,
                start: l.addr,
                end: l.end(),
            });
        }
    }
    spans.sort_by_key(|l| l.addr);
    for pair in spans.windows(2) {
        if let [a, b] = pair {
            if a.end() > b.addr {
                return Err(BootError::LoadsOverlap {
                    first: a.what,
                    second: b.what,
                    addr: b.addr,
                });
            }
        }
    }
    Ok(())
}

/// The processor mode at entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryMode {
    /// 32-bit protected mode: CR0.PE = 1, CR0.PG = 0, A20 enabled, flat
    /// 4 GiB segments, interrupts disabled. Both the Linux 32-bit boot
    /// protocol and Multiboot v1 enter this way. (Linux's 64-bit entry,
    /// with long mode and identity-mapped page tables, is not implemented.)
    Protected32,
}

/// The CPU state at the kernel's entry point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Processor mode.
    pub mode: EntryMode,
    /// General registers, EIP and EFLAGS.
    pub regs: Registers,
    /// The GDT to install (its bytes are also one of the plan's loads).
    pub gdt: Gdt,
    /// Selector for CS.
    pub code_selector: u16,
    /// Selector for DS, ES, FS, GS and SS.
    pub data_selector: u16,
}

impl Entry {
    /// CS as the CPU caches it after loading `code_selector`.
    pub fn code_segment(&self) -> Option<Segment> {
        self.gdt.segment(self.code_selector)
    }

    /// DS/ES/FS/GS/SS as the CPU caches them after loading `data_selector`.
    pub fn data_segment(&self) -> Option<Segment> {
        self.gdt.segment(self.data_selector)
    }
}

/// 32-bit register values at entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Registers {
    /// EAX (Multiboot: the magic 0x2BADB002).
    pub eax: u32,
    /// EBX (Multiboot: the info structure's address; Linux: 0).
    pub ebx: u32,
    /// ECX.
    pub ecx: u32,
    /// EDX.
    pub edx: u32,
    /// ESI (Linux: the address of `boot_params`).
    pub esi: u32,
    /// EDI (Linux: 0).
    pub edi: u32,
    /// EBP (Linux: 0).
    pub ebp: u32,
    /// ESP. Neither protocol defines a stack: the kernel sets its own
    /// before its first push. Zero here.
    pub esp: u32,
    /// The entry point.
    pub eip: u32,
    /// EFLAGS: only the always-one bit 1 set (IF = 0, VM = 0).
    pub eflags: u32,
}

/// EFLAGS with interrupts disabled: only reserved bit 1, which always reads 1.
pub(crate) const EFLAGS_ENTRY: u32 = 0x0000_0002;

/// A global descriptor table placed in guest memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gdt {
    /// Guest-physical (= linear, paging is off) address of entry 0; the
    /// GDTR base.
    pub base: u64,
    /// Raw 8-byte descriptors; entry `i` is at `base + 8 * i` and is
    /// selected by selector `i << 3`.
    pub descriptors: Vec<u64>,
}

impl Gdt {
    /// The GDTR limit: size in bytes minus one.
    pub fn limit(&self) -> u16 {
        let bytes = self.descriptors.len().saturating_mul(8);
        u16::try_from(bytes.saturating_sub(1)).unwrap_or(u16::MAX)
    }

    /// The table's bytes, as written to memory.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.descriptors
            .iter()
            .flat_map(|d| d.to_le_bytes())
            .collect()
    }

    /// The decoded descriptor a selector names, if it is in the table.
    pub fn segment(&self, selector: u16) -> Option<Segment> {
        let raw = *self.descriptors.get(usize::from(selector >> 3))?;
        Some(Segment::decode(selector, raw))
    }
}

/// A segment descriptor decoded into what the CPU caches for a segment
/// register (Intel SDM Vol. 3A, 3.4.5 "Segment Descriptors").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// The selector that names it.
    pub selector: u16,
    /// Base address.
    pub base: u32,
    /// Limit in bytes (the granularity bit already applied).
    pub limit: u32,
    /// The access byte: P, DPL, S and type (descriptor bits 40-47).
    pub access: u8,
    /// The flags nibble: G, D/B, L, AVL (descriptor bits 52-55).
    pub flags: u8,
}

/// Granularity flag: the limit counts 4 KiB units.
pub const SEG_FLAG_G: u8 = 0x8;
/// Default operand size flag: a 32-bit segment.
pub const SEG_FLAG_DB: u8 = 0x4;
/// Access byte of the boot code segment: present, DPL 0, code,
/// execute/read, accessed (0x9B).
pub const SEG_ACCESS_CODE: u8 = 0x9B;
/// Access byte of the boot data segment: present, DPL 0, data,
/// read/write, accessed (0x93).
pub const SEG_ACCESS_DATA: u8 = 0x93;

impl Segment {
    /// Decodes a raw descriptor.
    pub fn decode(selector: u16, raw: u64) -> Self {
        let limit_raw = (raw & 0xFFFF) as u32 | (((raw >> 48) & 0xF) as u32) << 16;
        let base = ((raw >> 16) & 0xFF_FFFF) as u32 | (((raw >> 56) & 0xFF) as u32) << 24;
        let flags = ((raw >> 52) & 0xF) as u8;
        let limit = if flags & SEG_FLAG_G != 0 {
            (limit_raw << 12) | 0xFFF
        } else {
            limit_raw
        };
        Segment {
            selector,
            base,
            limit,
            access: (raw >> 40) as u8,
            flags,
        }
    }
}

/// Encodes a descriptor from a base, a 20-bit raw limit, the access byte and
/// the flags nibble.
pub const fn descriptor(base: u32, limit: u32, access: u8, flags: u8) -> u64 {
    let base = base as u64;
    let limit = limit as u64;
    (limit & 0xFFFF)
        | (base & 0xFF_FFFF) << 16
        | (access as u64) << 40
        | ((limit >> 16) & 0xF) << 48
        | ((flags as u64) & 0xF) << 52
        | ((base >> 24) & 0xFF) << 56
}

/// Flat 4 GiB 32-bit code segment, execute/read (0x00CF9B000000FFFF).
pub const FLAT_CODE: u64 = descriptor(0, 0xF_FFFF, SEG_ACCESS_CODE, SEG_FLAG_G | SEG_FLAG_DB);
/// Flat 4 GiB 32-bit data segment, read/write (0x00CF93000000FFFF).
pub const FLAT_DATA: u64 = descriptor(0, 0xF_FFFF, SEG_ACCESS_DATA, SEG_FLAG_G | SEG_FLAG_DB);

/// Linux's `__BOOT_CS`: GDT entry 2.
pub const BOOT_CS: u16 = 0x10;
/// Linux's `__BOOT_DS`: GDT entry 3.
pub const BOOT_DS: u16 = 0x18;

/// The boot GDT at `base`: null, unused, flat code (`BOOT_CS`), flat data
/// (`BOOT_DS`). Both loaders use this layout.
pub(crate) fn boot_gdt(base: u64) -> Gdt {
    Gdt {
        base,
        descriptors: vec![0, 0, FLAT_CODE, FLAT_DATA],
    }
}

/// Size of [`boot_gdt`] in bytes.
pub(crate) const BOOT_GDT_BYTES: usize = 4 * 8;

/// Protected-mode entry with the boot GDT at `gdt_base`.
pub(crate) fn protected_entry(regs: Registers, gdt_base: u64) -> Entry {
    Entry {
        mode: EntryMode::Protected32,
        regs: Registers {
            eflags: EFLAGS_ENTRY,
            ..regs
        },
        gdt: boot_gdt(gdt_base),
        code_selector: BOOT_CS,
        data_selector: BOOT_DS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_descriptors_have_the_usual_encoding() {
        assert_eq!(FLAT_CODE, 0x00CF_9B00_0000_FFFF);
        assert_eq!(FLAT_DATA, 0x00CF_9300_0000_FFFF);
    }

    #[test]
    fn boot_segments_are_flat_4g() {
        let e = protected_entry(Registers::default(), 0x1000);
        let cs = e.code_segment().unwrap();
        let ds = e.data_segment().unwrap();
        assert_eq!(
            (cs.selector, cs.base, cs.limit, cs.access, cs.flags),
            (0x10, 0, u32::MAX, 0x9B, 0xC)
        );
        assert_eq!(
            (ds.selector, ds.base, ds.limit, ds.access, ds.flags),
            (0x18, 0, u32::MAX, 0x93, 0xC)
        );
        assert_eq!(e.gdt.limit(), 31);
        assert_eq!(e.gdt.to_bytes().len(), BOOT_GDT_BYTES);
        assert_eq!(e.regs.eflags, 2);
        assert_eq!(e.gdt.segment(0x20), None);
    }

    #[test]
    fn descriptor_decode_round_trips_base_and_byte_limit() {
        let raw = descriptor(0x1234_5678, 0xABCDE, 0x92, 0x4);
        let s = Segment::decode(0x8, raw);
        assert_eq!(
            (s.base, s.limit, s.access, s.flags),
            (0x1234_5678, 0xABCDE, 0x92, 0x4)
        );
    }

    #[test]
    fn loads_must_be_in_ram_and_disjoint() {
        let usable = [(0, 0x9FC00), (0x10_0000, 0x100_0000)];
        let a = Load::new(LoadKind::Kernel, 0x10_0000, vec![0; 0x2000]);
        let mut b = Load::new(LoadKind::Initrd, 0x10_1000, vec![0; 0x10]);
        assert_eq!(
            check_loads(&[a.clone(), b.clone()], &usable),
            Err(BootError::LoadsOverlap {
                first: LoadKind::Kernel,
                second: LoadKind::Initrd,
                addr: 0x10_1000
            })
        );
        b.addr = 0x10_2000;
        assert_eq!(check_loads(&[b.clone(), a.clone()], &usable), Ok(()));
        let mut bss = Load::new(LoadKind::Kernel, 0xF_F000, vec![]);
        bss.zero_fill = 0x2000;
        assert!(matches!(
            check_loads(&[bss], &usable),
            Err(BootError::LoadOutsideRam {
                start: 0xF_F000,
                end: 0x10_1000,
                ..
            })
        ));
        let mut huge = Load::new(LoadKind::Kernel, 0x10_0000, vec![]);
        huge.zero_fill = u64::MAX;
        assert!(check_loads(&[huge], &usable).is_err());
    }
}
