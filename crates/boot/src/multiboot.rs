//! Multiboot v1: kernels with a Multiboot header, as GRUB legacy and
//! `qemu -kernel` boot them.
//!
//! Specification: the Multiboot Specification version 0.6.96 —
//! 3.1.1 "The layout of Multiboot header" (within the first 8192 bytes,
//! 32-bit aligned), 3.1.2 "The magic fields" (magic, flags, checksum),
//! 3.1.3 "The address fields" (the a.out kludge, flag bit 16),
//! 3.2 "Machine state" (the entry state) and 3.3 "Boot information format"
//! (the information structure, modules and memory map).
//!
//! What [`load_multiboot`] does:
//! - finds the header (returns `None` without one, so the caller can try
//!   Linux), checks its checksum and refuses requirement bits (0–15) other
//!   than 0 (page-aligned modules) and 1 (memory information);
//! - loads the kernel with the address fields when flag bit 16 is set
//!   (`header_addr`, `load_addr`, `load_end_addr`, `bss_end_addr`,
//!   `entry_addr`), otherwise as an ELF32 i386 executable (its PT_LOAD
//!   segments at their physical addresses, BSS zeroed, the entry point
//!   translated to physical as GRUB does);
//! - places the modules page-aligned after the kernel (its BSS included,
//!   and not below 1 MiB), as QEMU does, whether or not flag bit 0 asks;
//! - builds one page-aligned block after the last module holding the
//!   information structure (flags: memory, command line, modules, memory
//!   map, boot loader name "anyx86"), the module list, the memory map, the
//!   GDT and the strings;
//! - enters in 32-bit protected mode at the entry point with EAX =
//!   0x2BADB002, EBX = the information structure, flat 4 GiB CS (0x10) and
//!   data segments (0x18), paging and interrupts off, A20 on.
//!
//! Not implemented: video mode requests (flag bit 2 is refused, as the
//! specification requires of a loader that cannot fulfil it), the
//! `boot_device`, `syms` (a.out symbols or ELF section headers), drives,
//! config table, APM and VBE fields (their flag bits stay clear), and
//! Multiboot 2.

use crate::bytes::{align_up, c_string, put, put_u32, put_u64, u32_at};
use crate::elf::{is_elf, parse_elf32};
use crate::error::BootError;
use crate::layout::PAGE_SIZE;
use crate::memory::{E820Entry, MemoryLayout, Range, HIGH_RAM_START, VGA_HOLE_START};
use crate::plan::{
    check_loads, protected_entry, BootKind, BootPlan, Load, LoadKind, Registers, BOOT_GDT_BYTES,
};

/// The header's `magic`.
pub const HEADER_MAGIC: u32 = 0x1BAD_B002;
/// EAX at entry.
pub const BOOTLOADER_MAGIC: u32 = 0x2BAD_B002;
/// The header lies in the first 8192 bytes of the file.
pub const SEARCH_LIMIT: usize = 8192;

/// Header flag 0: modules must be page (4 KiB) aligned.
pub const FLAG_PAGE_ALIGN: u32 = 1 << 0;
/// Header flag 1: memory information (`mem_*`) must be provided.
pub const FLAG_MEMORY_INFO: u32 = 1 << 1;
/// Header flag 2: video mode table information must be provided.
pub const FLAG_VIDEO_MODE: u32 = 1 << 2;
/// Header flag 16: the address fields are valid (the a.out kludge).
pub const FLAG_AOUT_KLUDGE: u32 = 1 << 16;
/// Requirement bits (0–15) this loader fulfils.
const SUPPORTED_REQUIREMENTS: u32 = FLAG_PAGE_ALIGN | FLAG_MEMORY_INFO;
/// The requirement half of the flags.
const REQUIREMENT_BITS: u32 = 0xFFFF;

/// Header field offsets from the magic.
const HDR_FLAGS: usize = 4;
const HDR_CHECKSUM: usize = 8;
const HDR_ADDRESS_FIELDS: usize = 12;
/// End of the address fields.
const HDR_ADDRESS_END: usize = 32;

/// Information structure flags: which fields are valid.
const INFO_MEMORY: u32 = 1 << 0;
const INFO_CMDLINE: u32 = 1 << 2;
const INFO_MODS: u32 = 1 << 3;
const INFO_MEM_MAP: u32 = 1 << 6;
const INFO_BOOT_LOADER_NAME: u32 = 1 << 9;

/// Information structure field offsets.
const MBI_FLAGS: usize = 0;
const MBI_MEM_LOWER: usize = 4;
const MBI_MEM_UPPER: usize = 8;
const MBI_CMDLINE: usize = 16;
const MBI_MODS_COUNT: usize = 20;
const MBI_MODS_ADDR: usize = 24;
const MBI_MMAP_LENGTH: usize = 44;
const MBI_MMAP_ADDR: usize = 48;
const MBI_BOOT_LOADER_NAME: usize = 64;
/// Size of the information structure, up to the VBE fields.
const MBI_SIZE: usize = 88;
/// A module entry: `mod_start`, `mod_end`, `string`, reserved.
const MODULE_ENTRY_SIZE: usize = 16;
/// A memory map entry: `size` (20, not counting itself), `base_addr`,
/// `length`, `type`.
const MMAP_ENTRY_SIZE: usize = 24;
/// The `size` field of every memory map entry.
const MMAP_ENTRY_SIZE_FIELD: u32 = 20;
/// The boot loader name in the information structure.
pub const BOOT_LOADER_NAME: &str = "anyx86";
/// 4 GiB: everything Multiboot passes is a 32-bit address.
const LIMIT_4G: u64 = 1 << 32;

/// A Multiboot header found in a kernel image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultibootHeader {
    /// File offset of the magic.
    pub offset: usize,
    /// The `flags` field.
    pub flags: u32,
    /// The address fields, when flag bit 16 is set.
    pub address: Option<AoutKludge>,
}

/// The header's address fields (flag bit 16): where to load a kernel that
/// is not ELF. All are physical addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AoutKludge {
    /// Where the header's magic is loaded; ties file offsets to addresses.
    pub header_addr: u32,
    /// Start of the text segment; loading starts at file offset
    /// `offset - (header_addr - load_addr)`.
    pub load_addr: u32,
    /// End of the data segment; 0 means the rest of the file.
    pub load_end_addr: u32,
    /// End of the BSS (zeroed); 0 means no BSS.
    pub bss_end_addr: u32,
    /// The entry point.
    pub entry_addr: u32,
}

/// Finds a Multiboot header: the first 32-bit aligned magic in the first
/// 8192 bytes whose checksum is right.
///
/// `Ok(None)` when there is no magic at all; an error when every magic
/// found has a wrong checksum.
pub fn find_header(kernel: &[u8]) -> Result<Option<MultibootHeader>, BootError> {
    let window = &kernel[..kernel.len().min(SEARCH_LIMIT)];
    let mut bad_checksum = None;
    for offset in (0..window.len().saturating_sub(HDR_ADDRESS_FIELDS - 1)).step_by(4) {
        let field = |off: usize| u32_at(window, offset + off);
        let (Some(magic), Some(flags), Some(checksum)) =
            (field(0), field(HDR_FLAGS), field(HDR_CHECKSUM))
        else {
            break;
        };
        if magic != HEADER_MAGIC {
            continue;
        }
        if magic.wrapping_add(flags).wrapping_add(checksum) != 0 {
            bad_checksum.get_or_insert(offset);
            continue;
        }
        let address = match flags & FLAG_AOUT_KLUDGE {
            0 => None,
            _ => Some(address_fields(kernel, offset)?),
        };
        return Ok(Some(MultibootHeader {
            offset,
            flags,
            address,
        }));
    }
    match bad_checksum {
        Some(offset) => Err(BootError::MultibootBadChecksum { offset }),
        None => Ok(None),
    }
}

/// The five address fields after the checksum.
fn address_fields(kernel: &[u8], offset: usize) -> Result<AoutKludge, BootError> {
    let field = |i: usize| {
        u32_at(kernel, offset + HDR_ADDRESS_FIELDS + 4 * i)
            .ok_or(BootError::MultibootHeaderTruncated { offset })
    };
    debug_assert_eq!(HDR_ADDRESS_FIELDS + 4 * 5, HDR_ADDRESS_END);
    Ok(AoutKludge {
        header_addr: field(0)?,
        load_addr: field(1)?,
        load_end_addr: field(2)?,
        bss_end_addr: field(3)?,
        entry_addr: field(4)?,
    })
}

/// The command line a Multiboot kernel receives: the kernel's name, a
/// space, then the user's command line, as GRUB and QEMU pass it (QEMU's
/// `load_multiboot`: `"%s %s", kernel_filename, kernel_cmdline`). Test
/// kernels (kvm-unit-tests) take the first word as `argv[0]`. The caller
/// passes the result as [`load_multiboot`]'s `cmdline`.
pub fn multiboot_cmdline(kernel_name: &str, append: &str) -> String {
    format!("{kernel_name} {append}")
}

/// Builds the plan to boot a Multiboot kernel, or `None` when the image
/// has no Multiboot header.
///
/// `modules` are `(contents, command line)` pairs, loaded in order.
pub fn load_multiboot(
    kernel: &[u8],
    modules: &[(Vec<u8>, String)],
    cmdline: &str,
    mem: &MemoryLayout,
) -> Result<Option<BootPlan>, BootError> {
    let Some(header) = find_header(kernel)? else {
        return Ok(None);
    };
    let unsupported = header.flags & REQUIREMENT_BITS & !SUPPORTED_REQUIREMENTS;
    if unsupported != 0 {
        return Err(BootError::MultibootUnsupportedFlags { unsupported });
    }
    if cmdline.contains('\0') {
        return Err(BootError::CmdlineContainsNul);
    }
    let usable = mem.usable()?;
    let e820 = mem.e820()?;
    let (mut loads, entry_point) = match &header.address {
        Some(fields) => aout_kernel(kernel, header.offset, fields)?,
        None if is_elf(kernel) => elf_kernel(kernel)?,
        None => return Err(BootError::NotElf),
    };
    let kernel_end = loads.iter().map(Load::end).max().unwrap_or(0);
    let first_module = align_up(kernel_end.max(HIGH_RAM_START), PAGE_SIZE);
    let (module_loads, info_addr) = place_modules(modules, first_module)?;
    let info = InfoBlock {
        base: info_addr,
        cmdline,
        modules,
        module_loads: &module_loads,
        e820: &e820,
        usable: &usable,
    }
    .build()?;
    loads.extend(module_loads);
    let entry = protected_entry(
        Registers {
            eax: BOOTLOADER_MAGIC,
            ebx: info_addr as u32,
            eip: entry_point,
            ..Registers::default()
        },
        info_addr + INFO_GDT_OFFSET as u64,
    );
    loads.push(Load::new(LoadKind::MultibootInfo, info_addr, info));
    check_loads(&loads, &usable)?;
    Ok(Some(BootPlan {
        loads,
        entry,
        kind: BootKind::Multiboot { header, info_addr },
    }))
}

/// The kernel loaded with the address fields: text and data from the file,
/// then the BSS, and the entry point.
fn aout_kernel(
    kernel: &[u8],
    offset: usize,
    k: &AoutKludge,
) -> Result<(Vec<Load>, u32), BootError> {
    let header_below = BootError::AoutHeaderBelowLoad {
        header_addr: k.header_addr,
        load_addr: k.load_addr,
    };
    let distance = k.header_addr.checked_sub(k.load_addr).ok_or(header_below)?;
    let start = offset
        .checked_sub(distance as usize)
        .ok_or(BootError::AoutLoadBeforeFileStart { offset, distance })?;
    let len = if k.load_end_addr == 0 {
        (kernel.len() - start) as u64
    } else {
        let end_below = BootError::AoutLoadEndBelowLoad {
            load_end_addr: k.load_end_addr,
            load_addr: k.load_addr,
        };
        u64::from(k.load_end_addr.checked_sub(k.load_addr).ok_or(end_below)?)
    };
    let beyond = BootError::AoutLoadBeyondFile {
        offset: start,
        len,
        file_len: kernel.len(),
    };
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| start.checked_add(l))
        .ok_or(beyond.clone())?;
    let data = kernel.get(start..end).ok_or(beyond)?.to_vec();
    let load_end = u64::from(k.load_addr) + len;
    let zero_fill =
        match k.bss_end_addr {
            0 => 0,
            bss_end => u64::from(bss_end).checked_sub(load_end).ok_or(
                BootError::AoutBssEndBelowLoadEnd {
                    bss_end_addr: bss_end,
                    load_end,
                },
            )?,
        };
    let load = Load {
        what: LoadKind::Kernel,
        addr: u64::from(k.load_addr),
        data,
        zero_fill,
    };
    if load.end() > LIMIT_4G {
        return Err(BootError::Above4G {
            what: LoadKind::Kernel,
            addr: load.addr,
            len: load.len(),
        });
    }
    Ok((vec![load], k.entry_addr))
}

/// The kernel loaded from its ELF32 program headers.
fn elf_kernel(kernel: &[u8]) -> Result<(Vec<Load>, u32), BootError> {
    let elf = parse_elf32(kernel)?;
    let loads = elf
        .segments
        .iter()
        .map(|s| {
            // parse_elf32 checked that the bytes are in the file.
            let start = s.offset as usize;
            let bytes = start
                .checked_add(s.filesz as usize)
                .and_then(|end| kernel.get(start..end))
                .unwrap_or_default();
            Load {
                what: LoadKind::Kernel,
                addr: u64::from(s.paddr),
                data: bytes.to_vec(),
                zero_fill: u64::from(s.memsz - s.filesz),
            }
        })
        .collect();
    Ok((loads, elf.entry))
}

/// Loads for the modules, each page-aligned from `first` (None if that
/// overflowed), and the page after the last one, where the information
/// block goes.
fn place_modules(
    modules: &[(Vec<u8>, String)],
    first: Option<u64>,
) -> Result<(Vec<Load>, u64), BootError> {
    let mut loads = Vec::with_capacity(modules.len());
    let mut next = first;
    for (index, (data, cmdline)) in modules.iter().enumerate() {
        if cmdline.contains('\0') {
            return Err(BootError::ModuleCmdlineContainsNul { index });
        }
        let what = LoadKind::Module(index);
        let len = data.len() as u64;
        let addr = next.unwrap_or(u64::MAX);
        let end = addr.checked_add(len).filter(|&e| e <= LIMIT_4G);
        let Some(end) = end else {
            return Err(BootError::Above4G { what, addr, len });
        };
        loads.push(Load::new(what, addr, data.clone()));
        next = align_up(end, PAGE_SIZE);
    }
    let info_addr = next.unwrap_or(u64::MAX);
    Ok((loads, info_addr))
}

/// Offset of the GDT in the information block, right after the structure.
const INFO_GDT_OFFSET: usize = MBI_SIZE;
/// Offset of the module list in the information block.
const INFO_MODS_OFFSET: usize = INFO_GDT_OFFSET + BOOT_GDT_BYTES;

/// The information block: structure, GDT, module list, memory map, strings.
struct InfoBlock<'a> {
    /// Its guest address.
    base: u64,
    /// The kernel command line.
    cmdline: &'a str,
    /// The modules and their command lines.
    modules: &'a [(Vec<u8>, String)],
    /// Where the modules were placed, in the same order.
    module_loads: &'a [Load],
    /// The memory map.
    e820: &'a [E820Entry],
    /// Usable RAM, for `mem_lower` / `mem_upper`.
    usable: &'a [Range],
}

impl InfoBlock<'_> {
    fn build(&self) -> Result<Vec<u8>, BootError> {
        let mmap_off = INFO_MODS_OFFSET + self.modules.len() * MODULE_ENTRY_SIZE;
        let strings_off = mmap_off + self.e820.len() * MMAP_ENTRY_SIZE;
        let mut strings = Vec::new();
        let mut add = |s: &str| {
            let off = strings_off + strings.len();
            strings.extend_from_slice(&c_string(s));
            off
        };
        let cmdline_off = add(self.cmdline);
        let name_off = add(BOOT_LOADER_NAME);
        let module_cmdline_offs: Vec<usize> = self.modules.iter().map(|m| add(&m.1)).collect();
        let size = strings_off + strings.len();
        if self.base.saturating_add(size as u64) > LIMIT_4G {
            return Err(BootError::Above4G {
                what: LoadKind::MultibootInfo,
                addr: self.base,
                len: size as u64,
            });
        }
        // Below 4 GiB from here: every address fits in 32 bits.
        let addr = |off: usize| (self.base + off as u64) as u32;
        let mut b = vec![0u8; size];
        let flags = INFO_MEMORY | INFO_CMDLINE | INFO_MODS | INFO_MEM_MAP | INFO_BOOT_LOADER_NAME;
        put_u32(&mut b, MBI_FLAGS, flags);
        let (lower, upper) = self.memory_kib();
        put_u32(&mut b, MBI_MEM_LOWER, lower);
        put_u32(&mut b, MBI_MEM_UPPER, upper);
        put_u32(&mut b, MBI_CMDLINE, addr(cmdline_off));
        put_u32(&mut b, MBI_MODS_COUNT, self.modules.len() as u32);
        put_u32(&mut b, MBI_MODS_ADDR, addr(INFO_MODS_OFFSET));
        put_u32(
            &mut b,
            MBI_MMAP_LENGTH,
            (self.e820.len() * MMAP_ENTRY_SIZE) as u32,
        );
        put_u32(&mut b, MBI_MMAP_ADDR, addr(mmap_off));
        put_u32(&mut b, MBI_BOOT_LOADER_NAME, addr(name_off));
        let gdt = crate::plan::boot_gdt(0).to_bytes();
        put(&mut b, INFO_GDT_OFFSET, &gdt);
        for (i, (load, &cmd_off)) in self
            .module_loads
            .iter()
            .zip(&module_cmdline_offs)
            .enumerate()
        {
            let off = INFO_MODS_OFFSET + i * MODULE_ENTRY_SIZE;
            // Modules end at or below 4 GiB (place_modules).
            put_u32(&mut b, off, load.addr as u32);
            put_u32(&mut b, off + 4, load.end() as u32);
            put_u32(&mut b, off + 8, addr(cmd_off));
        }
        for (i, e) in self.e820.iter().enumerate() {
            let off = mmap_off + i * MMAP_ENTRY_SIZE;
            put_u32(&mut b, off, MMAP_ENTRY_SIZE_FIELD);
            put_u64(&mut b, off + 4, e.addr);
            put_u64(&mut b, off + 12, e.size);
            put_u32(&mut b, off + 20, e.kind.code());
        }
        put(&mut b, strings_off, &strings);
        Ok(b)
    }

    /// `mem_lower`: KiB of RAM from 0 (at most 640); `mem_upper`: KiB of
    /// RAM from 1 MiB up to the first hole.
    fn memory_kib(&self) -> (u32, u32) {
        let range_from = |start: u64| {
            self.usable
                .iter()
                .find(|r| r.0 == start)
                .map_or(0, |r| r.1 - start)
        };
        let lower = range_from(0).min(VGA_HOLE_START) / 1024;
        let upper = range_from(HIGH_RAM_START) / 1024;
        (lower as u32, u32::try_from(upper).unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::{put_u32, u64_at};
    use crate::elf::build_elf;
    use crate::memory::test_pc as pc;
    use crate::plan::{BOOT_CS, BOOT_DS, FLAT_CODE};

    const MIB: u64 = 1 << 20;

    /// A 12-byte Multiboot header with a correct checksum.
    fn header(flags: u32) -> Vec<u8> {
        let mut h = vec![0u8; 12];
        put_u32(&mut h, 0, HEADER_MAGIC);
        put_u32(&mut h, 4, flags);
        put_u32(
            &mut h,
            8,
            0u32.wrapping_sub(HEADER_MAGIC).wrapping_sub(flags),
        );
        h
    }

    /// An ELF kernel: one segment at 1 MiB, 0x40 bytes of file (the
    /// Multiboot header first) and 0x3000 in memory, entry at 1 MiB + 0x20.
    fn elf_kernel() -> Vec<u8> {
        let mut text = header(FLAG_PAGE_ALIGN | FLAG_MEMORY_INFO);
        text.resize(0x40, 0x90);
        build_elf(0x10_0020, &[(0x10_0000, 0x10_0000, text, 0x3000)])
    }

    /// An a.out-kludge kernel: 0x20 bytes of code, the header at file
    /// offset 0x20 (loaded at 1 MiB + 0x20), 0x300 bytes in the file of
    /// which 0x200 are loaded, BSS to 1 MiB + 0x1000, entry at 1 MiB + 0x10.
    fn aout_kernel_image(fields: [u32; 5]) -> Vec<u8> {
        let mut f = vec![0xF4u8; 0x300];
        put(&mut f, 0x20, &header(FLAG_AOUT_KLUDGE | FLAG_MEMORY_INFO));
        for (i, v) in fields.iter().enumerate() {
            put_u32(&mut f, 0x2C + 4 * i, *v);
        }
        f
    }

    const AOUT_FIELDS: [u32; 5] = [0x10_0020, 0x10_0000, 0x10_0200, 0x10_1000, 0x10_0010];

    fn plan(kernel: &[u8], modules: &[(Vec<u8>, String)], cmdline: &str) -> BootPlan {
        load_multiboot(kernel, modules, cmdline, &pc(256 * MIB))
            .unwrap()
            .unwrap()
    }

    /// Reads a u32 of the info block by guest address.
    fn info_u32(plan: &BootPlan, addr: u32) -> u32 {
        let info = plan.find(LoadKind::MultibootInfo).unwrap();
        u32_at(&info.data, (u64::from(addr) - info.addr) as usize).unwrap()
    }

    /// Reads a NUL-terminated string of the info block by guest address.
    fn info_str(plan: &BootPlan, addr: u32) -> String {
        let info = plan.find(LoadKind::MultibootInfo).unwrap();
        let bytes = &info.data[(u64::from(addr) - info.addr) as usize..];
        let end = bytes.iter().position(|&b| b == 0).unwrap();
        String::from_utf8(bytes[..end].to_vec()).unwrap()
    }

    #[test]
    fn no_header_means_none() {
        assert_eq!(
            load_multiboot(&[0u8; 10000], &[], "", &pc(256 * MIB)),
            Ok(None)
        );
        assert_eq!(load_multiboot(&[], &[], "", &pc(256 * MIB)), Ok(None));
        // A header past the first 8192 bytes is not looked for.
        let mut f = vec![0u8; 8192];
        f.extend(header(0));
        assert_eq!(find_header(&f), Ok(None));
        // Nor one that is not 32-bit aligned.
        let mut f = vec![0u8; 2];
        f.extend(header(0));
        assert_eq!(find_header(&f), Ok(None));
    }

    #[test]
    fn bad_checksum_is_an_error() {
        let mut f = elf_kernel();
        let at = 0x108; // checksum of the header at file offset 0x100
        let spoiled = u32_at(&f, at).unwrap().wrapping_add(1);
        put_u32(&mut f, at, spoiled);
        assert_eq!(
            load_multiboot(&f, &[], "", &pc(256 * MIB)),
            Err(BootError::MultibootBadChecksum { offset: 0x100 })
        );
    }

    #[test]
    fn a_later_valid_header_wins_over_a_bad_one() {
        let mut f = vec![0u8; 0x40];
        put(&mut f, 0, &header(0));
        put_u32(&mut f, 8, 0); // spoil the first checksum
        put(&mut f, 0x20, &header(FLAG_MEMORY_INFO));
        let h = find_header(&f).unwrap().unwrap();
        assert_eq!((h.offset, h.flags), (0x20, FLAG_MEMORY_INFO));
    }

    #[test]
    fn unsupported_requirements_are_refused() {
        let mut text = header(FLAG_VIDEO_MODE | FLAG_PAGE_ALIGN);
        text.resize(0x40, 0);
        let f = build_elf(0x10_0000, &[(0x10_0000, 0x10_0000, text, 0x40)]);
        assert_eq!(
            load_multiboot(&f, &[], "", &pc(256 * MIB)),
            Err(BootError::MultibootUnsupportedFlags {
                unsupported: FLAG_VIDEO_MODE
            })
        );
        // Optional bits (16-31) we do not know are ignored.
        let mut text = header(1 << 20);
        text.resize(0x40, 0);
        let f = build_elf(0x10_0000, &[(0x10_0000, 0x10_0000, text, 0x40)]);
        assert!(load_multiboot(&f, &[], "", &pc(256 * MIB))
            .unwrap()
            .is_some());
    }

    #[test]
    fn elf_kernel_loads_segments_and_enters_with_the_magic() {
        let p = plan(&elf_kernel(), &[], "");
        let k = p.find(LoadKind::Kernel).unwrap();
        assert_eq!(
            (k.addr, k.data.len(), k.zero_fill),
            (0x10_0000, 0x40, 0x2FC0)
        );
        assert_eq!(u32_at(&k.data, 0), Some(HEADER_MAGIC));
        let info = p.find(LoadKind::MultibootInfo).unwrap();
        // After the kernel's BSS, page-aligned.
        assert_eq!(info.addr, 0x10_3000);
        let e = &p.entry;
        assert_eq!(e.regs.eax, 0x2BAD_B002);
        assert_eq!(e.regs.ebx, 0x10_3000);
        assert_eq!(e.regs.eip, 0x10_0020);
        assert_eq!(e.regs.eflags, 2);
        assert_eq!((e.code_selector, e.data_selector), (BOOT_CS, BOOT_DS));
        // The GDT lives in the info block, after the structure.
        assert_eq!(e.gdt.base, 0x10_3000 + 88);
        assert_eq!(u64_at(&info.data, 88 + 0x10), Some(FLAT_CODE));
        assert_eq!(e.data_segment().unwrap().limit, u32::MAX);
        assert!(matches!(
            p.kind,
            BootKind::Multiboot {
                info_addr: 0x10_3000,
                header: MultibootHeader {
                    offset: 0x100,
                    address: None,
                    ..
                }
            }
        ));
    }

    #[test]
    fn info_structure_fields() {
        let modules = vec![
            (vec![1u8; 0x1001], "initrd.img root=/dev/ram0".to_string()),
            (vec![2u8; 0x10], String::new()),
        ];
        let p = plan(&elf_kernel(), &modules, "console=ttyS0 debug");
        let base = p.entry.regs.ebx;
        assert_eq!(info_u32(&p, base), 0b10_0100_1101); // mem, cmdline, mods, mmap, name
        assert_eq!(info_u32(&p, base + 4), 639); // mem_lower: 0x9FC00 / 1024
        assert_eq!(info_u32(&p, base + 8), 255 * 1024); // mem_upper: 1 MiB..256 MiB
        assert_eq!(info_str(&p, info_u32(&p, base + 16)), "console=ttyS0 debug");
        assert_eq!(info_str(&p, info_u32(&p, base + 64)), "anyx86");

        // Modules: page-aligned after the kernel's BSS (1 MiB + 0x3000).
        assert_eq!(info_u32(&p, base + 20), 2);
        let mods = info_u32(&p, base + 24);
        let module = |i: u32| {
            let e = mods + 16 * i;
            (
                info_u32(&p, e),
                info_u32(&p, e + 4),
                info_str(&p, info_u32(&p, e + 8)),
                info_u32(&p, e + 12),
            )
        };
        assert_eq!(
            module(0),
            (0x10_3000, 0x10_4001, "initrd.img root=/dev/ram0".into(), 0)
        );
        assert_eq!(module(1), (0x10_5000, 0x10_5010, String::new(), 0));
        let m0 = p.find(LoadKind::Module(0)).unwrap();
        assert_eq!((m0.addr, m0.data.len()), (0x10_3000, 0x1001));
        assert_eq!(p.find(LoadKind::Module(1)).unwrap().data, vec![2u8; 0x10]);
        assert_eq!(u64::from(base), 0x10_6000);

        // Memory map: four 24-byte entries, each with size 20.
        assert_eq!(info_u32(&p, base + 44), 4 * 24);
        let mmap = info_u32(&p, base + 48);
        let entry = |i: u32| {
            let e = mmap + 24 * i;
            let lo_hi = |a: u32| u64::from(info_u32(&p, a)) | u64::from(info_u32(&p, a + 4)) << 32;
            (
                info_u32(&p, e),
                lo_hi(e + 4),
                lo_hi(e + 12),
                info_u32(&p, e + 20),
            )
        };
        assert_eq!(entry(0), (20, 0, 0x9FC00, 1));
        assert_eq!(entry(1), (20, 0xF0000, 0x10000, 2));
        assert_eq!(entry(2), (20, MIB, 255 * MIB, 1));
        assert_eq!(entry(3), (20, 0xFFFC_0000, 0x4_0000, 2));
    }

    #[test]
    fn aout_kludge_loads_by_the_address_fields() {
        let f = aout_kernel_image(AOUT_FIELDS);
        let p = plan(&f, &[], "");
        let k = p.find(LoadKind::Kernel).unwrap();
        assert_eq!(k.addr, 0x10_0000);
        assert_eq!(k.data, f[..0x200].to_vec());
        assert_eq!(k.zero_fill, 0xE00);
        assert_eq!(p.entry.regs.eip, 0x10_0010);
        assert_eq!(p.find(LoadKind::MultibootInfo).unwrap().addr, 0x10_1000);
        let BootKind::Multiboot { header, .. } = &p.kind else {
            panic!("not Multiboot")
        };
        assert_eq!(header.address.unwrap().bss_end_addr, 0x10_1000);
    }

    #[test]
    fn aout_kludge_with_zero_ends_loads_the_whole_file() {
        let f = aout_kernel_image([0x10_0020, 0x10_0000, 0, 0, 0x10_0000]);
        let k = plan(&f, &[], "").find(LoadKind::Kernel).cloned().unwrap();
        assert_eq!((k.data.len(), k.zero_fill), (0x300, 0));
        // A header later in the file than in memory: loading starts inside.
        let f = aout_kernel_image([0x10_0010, 0x10_0000, 0, 0, 0x10_0000]);
        let k = plan(&f, &[], "").find(LoadKind::Kernel).cloned().unwrap();
        assert_eq!(k.data, f[0x10..].to_vec());
    }

    #[test]
    fn aout_kludge_checks() {
        use BootError as E;
        let mem = pc(256 * MIB);
        let try_fields = |fields| load_multiboot(&aout_kernel_image(fields), &[], "", &mem);
        // header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr:
        // the error each set of fields is refused with.
        #[rustfmt::skip]
        let refused = [
            ([0x10_0000, 0x10_0020, 0, 0, 0],
                E::AoutHeaderBelowLoad { header_addr: 0x10_0000, load_addr: 0x10_0020 }),
            ([0x10_0040, 0x10_0000, 0, 0, 0],
                E::AoutLoadBeforeFileStart { offset: 0x20, distance: 0x40 }),
            ([0x10_0020, 0x10_0000, 0xF_0000, 0, 0],
                E::AoutLoadEndBelowLoad { load_end_addr: 0xF_0000, load_addr: 0x10_0000 }),
            ([0x10_0020, 0x10_0000, 0x10_0301, 0, 0],
                E::AoutLoadBeyondFile { offset: 0, len: 0x301, file_len: 0x300 }),
            ([0x10_0020, 0x10_0000, 0x10_0200, 0x10_01FF, 0],
                E::AoutBssEndBelowLoadEnd { bss_end_addr: 0x10_01FF, load_end: 0x10_0200 }),
        ];
        for (fields, err) in refused {
            assert_eq!(try_fields(fields), Err(err), "{fields:x?}");
        }
        assert!(matches!(
            try_fields([0xFFFF_FFF0, 0xFFFF_FFD0, 0, 0, 0]),
            Err(BootError::Above4G {
                what: LoadKind::Kernel,
                ..
            })
        ));
        // Loading into the ISA hole below 1 MiB is refused.
        assert!(matches!(
            try_fields([0xA_0020, 0xA_0000, 0, 0, 0]),
            Err(BootError::LoadOutsideRam {
                what: LoadKind::Kernel,
                start: 0xA_0000,
                ..
            })
        ));
    }

    #[test]
    fn aout_header_cut_off_by_the_file_end() {
        let mut f = vec![0u8; 0x20];
        put(&mut f, 0x10, &header(FLAG_AOUT_KLUDGE));
        assert_eq!(
            find_header(&f),
            Err(BootError::MultibootHeaderTruncated { offset: 0x10 })
        );
    }

    #[test]
    fn non_elf_without_address_fields_is_an_error() {
        let mut f = vec![0u8; 0x100];
        put(&mut f, 0x40, &header(0));
        assert_eq!(
            load_multiboot(&f, &[], "", &pc(256 * MIB)),
            Err(BootError::NotElf)
        );
    }

    #[test]
    fn elf64_is_refused() {
        let mut f = elf_kernel();
        f[4] = 2; // ELFCLASS64
        assert_eq!(
            load_multiboot(&f, &[], "", &pc(256 * MIB)),
            Err(BootError::ElfNot32Bit { class: 2 })
        );
    }

    #[test]
    fn modules_that_do_not_fit_are_errors() {
        let big = vec![(vec![0u8; 16 * MIB as usize], String::new())];
        assert!(matches!(
            load_multiboot(&elf_kernel(), &big, "", &pc(16 * MIB)),
            Err(BootError::LoadOutsideRam {
                what: LoadKind::Module(0),
                ..
            })
        ));
        let bad = vec![(vec![0u8; 4], "a\0b".to_string())];
        assert_eq!(
            load_multiboot(&elf_kernel(), &bad, "", &pc(256 * MIB)),
            Err(BootError::ModuleCmdlineContainsNul { index: 0 })
        );
        assert_eq!(
            load_multiboot(&elf_kernel(), &[], "\0", &pc(256 * MIB)),
            Err(BootError::CmdlineContainsNul)
        );
    }

    #[test]
    fn overlapping_elf_segments_are_an_error() {
        let mut text = header(0);
        text.resize(0x40, 0);
        let f = build_elf(
            0x10_0000,
            &[
                (0x10_0000, 0x10_0000, text, 0x2000),
                (0x10_1000, 0x10_1000, vec![0; 8], 8),
            ],
        );
        assert!(matches!(
            load_multiboot(&f, &[], "", &pc(256 * MIB)),
            Err(BootError::LoadsOverlap {
                addr: 0x10_1000,
                ..
            })
        ));
    }

    #[test]
    fn every_prefix_of_an_image_is_handled_without_panic() {
        let mem = pc(256 * MIB);
        for image in [elf_kernel(), aout_kernel_image(AOUT_FIELDS)] {
            for len in 0..image.len() {
                // Some prefixes are still loadable; none may panic.
                let _ = load_multiboot(&image[..len], &[], "", &mem);
            }
        }
    }

    #[test]
    fn command_line_starts_with_the_kernel_name() {
        assert_eq!(
            multiboot_cmdline("x86/apic.flat", "-smp 1"),
            "x86/apic.flat -smp 1"
        );
        // As QEMU: the space stays when there are no arguments.
        assert_eq!(multiboot_cmdline("k.elf", ""), "k.elf ");
        let p = plan(&elf_kernel(), &[], &multiboot_cmdline("k.elf", "a b"));
        let base = p.entry.regs.ebx;
        assert_eq!(info_str(&p, info_u32(&p, base + 16)), "k.elf a b");
    }
}
