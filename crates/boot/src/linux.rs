//! Linux x86 boot protocol: bzImage kernels entered through the 32-bit
//! boot protocol.
//!
//! Specification: `Documentation/arch/x86/boot.rst` in the Linux tree —
//! "The Real-Mode Kernel Header" and "Details of Header Fields" (what is
//! validated and written), "Loading The Rest of The Kernel" (where the
//! protected-mode part goes), "32-bit Boot Protocol" (the entry state), and
//! `Documentation/arch/x86/zero-page.rst` for the rest of `struct
//! boot_params` (`e820_entries` at 0x1E8, `e820_table` at 0x2D0).
//!
//! What [`load_linux`] does:
//! - validates the setup header: boot flag 0xAA55 at 0x1FE, "HdrS" at 0x202,
//!   protocol 2.06 or newer, LOADED_HIGH (a bzImage), the header length from
//!   the jump at 0x200, `setup_sects` (0 means 4) and `syssize` against the
//!   file length;
//! - loads the protected-mode part (file offset `(setup_sects + 1) * 512`
//!   to the end) at 0x100000 and checks that RAM holds the kernel's
//!   `init_size` working area at its runtime address (the decompressor
//!   moves itself there: `pref_address`, or 0x100000 aligned up to
//!   `kernel_alignment` if that is higher, for a relocatable kernel);
//! - places the command line, the initrd (highest page-aligned address
//!   under `initrd_addr_max` and the end of RAM, above the kernel's area)
//!   and `boot_params` with the setup header copied in, `type_of_loader`
//!   0xFF, CAN_USE_HEAP and `heap_end_ptr`, `cmd_line_ptr`,
//!   `ramdisk_image`/`ramdisk_size` and the E820 map;
//! - enters in 32-bit protected mode at 0x100000 with ESI = `boot_params`,
//!   EBX = EBP = EDI = 0, CS = `__BOOT_CS` (0x10), DS = ES = SS = FS = GS =
//!   `__BOOT_DS` (0x18), both flat 4 GiB, interrupts off.
//!
//! `screen_info` (offset 0 of `boot_params`) stays all zero, which is how a
//! loader says "no VGA": with `orig_video_mode`, `orig_video_lines` and
//! `orig_video_cols` all 0, the decompressor's `__putstr` writes nothing to
//! 0xB8000 (it returns when `lines` or `cols` is 0) and `vgacon_startup`
//! takes its `no_vga` path; `orig_video_isVGA` = 0 is neither VESA nor EFI
//! framebuffer, so no framebuffer driver claims a screen. The console is
//! whatever `console=` names (ttyS0). When someone looks at the screen, the
//! machine puts the VGA in mode 3 and [`set_vga_text_console`] fills
//! `screen_info` as the real-mode setup code would have after asking the
//! VGA BIOS (80x25 colour text, VGA, 16-line font), so `vgacon` (`tty0`)
//! drives the screen.
//!
//! Not implemented: the 16-bit real-mode entry (running the setup code),
//! zImage and protocols before 2.06, the 64-bit entry (`XLF_KERNEL_64` is
//! parsed and reported, see [`SetupHeader::kernel_64`]), loading the kernel
//! at a non-default address, anything above 4 GiB
//! (`XLF_CAN_BE_LOADED_ABOVE_4G`, `ext_ramdisk_*`), `setup_data`,
//! EFI handover, `vga=` / `mem=` command-line processing, and the legacy
//! memory-size fields (`alt_mem_k`, `ext_mem_k`) the kernel reads only when
//! there is no E820 map.

use crate::bytes::{align_down, align_up, c_string, put, put_u16, put_u32, put_u64, put_u8};
use crate::bytes::{Field, Le};
use crate::error::BootError;
use crate::layout::{
    LINUX_BOOT_PARAMS_ADDR, LINUX_CMDLINE_ADDR, LINUX_CMDLINE_MAX, LINUX_GDT_ADDR,
    LINUX_KERNEL_ADDR, PAGE_SIZE,
};
use crate::memory::{containing, E820Entry, MemoryLayout, Range};
use crate::plan::{check_loads, protected_entry, BootKind, BootPlan, Load, LoadKind, Registers};

/// Setup header fields, at their file offsets, which are also their
/// offsets in `boot_params` (`acpi_rsdp_addr` is in `boot_params` only).
mod hdr {
    use crate::bytes::Field;

    /// `acpi_rsdp_addr` in `boot_params` (boot protocol 2.14+).
    pub const ACPI_RSDP_ADDR: Field<u64> = Field::at(0x070);
    /// `setup_sects`: size of the setup code in 512-byte sectors; 0 means 4.
    pub const SETUP_SECTS: Field<u8> = Field::at(0x1F1);
    /// `syssize` (2.04+): size of the protected-mode code in 16-byte paragraphs.
    pub const SYSSIZE: Field<u32> = Field::at(0x1F4);
    /// `boot_flag`: 0xAA55.
    pub const BOOT_FLAG: Field<u16> = Field::at(0x1FE);
    /// `jump`: 0xEB and the header length - 2; the header ends at 0x202 + byte.
    pub const JUMP_OFFSET: Field<u8> = Field::at(0x201);
    /// `header`: "HdrS".
    pub const HEADER: Field<u32> = Field::at(0x202);
    /// `version`: protocol version, `(major << 8) | minor`.
    pub const VERSION: Field<u16> = Field::at(0x206);
    /// `kernel_version`: offset - 0x200 of the version string.
    pub const KERNEL_VERSION: Field<u16> = Field::at(0x20E);
    /// `type_of_loader` (write).
    pub const TYPE_OF_LOADER: Field<u8> = Field::at(0x210);
    /// `loadflags` (modify).
    pub const LOADFLAGS: Field<u8> = Field::at(0x211);
    /// `code32_start`: the protected-mode entry / load address.
    pub const CODE32_START: Field<u32> = Field::at(0x214);
    /// `ramdisk_image` (write): initrd address.
    pub const RAMDISK_IMAGE: Field<u32> = Field::at(0x218);
    /// `ramdisk_size` (write): initrd size.
    pub const RAMDISK_SIZE: Field<u32> = Field::at(0x21C);
    /// `heap_end_ptr` (write): end of the setup heap - 0x200.
    pub const HEAP_END_PTR: Field<u16> = Field::at(0x224);
    /// `cmd_line_ptr` (write): command line address.
    pub const CMD_LINE_PTR: Field<u32> = Field::at(0x228);
    /// `initrd_addr_max` (2.03+): highest byte the initrd may occupy.
    pub const INITRD_ADDR_MAX: Field<u32> = Field::at(0x22C);
    /// `kernel_alignment` (2.05+).
    pub const KERNEL_ALIGNMENT: Field<u32> = Field::at(0x230);
    /// `relocatable_kernel` (2.05+).
    pub const RELOCATABLE: Field<u8> = Field::at(0x234);
    /// `min_alignment` (2.10+): log2 of the minimum alignment.
    pub const MIN_ALIGNMENT: Field<u8> = Field::at(0x235);
    /// `xloadflags` (2.12+).
    pub const XLOADFLAGS: Field<u16> = Field::at(0x236);
    /// `cmdline_size` (2.06+): longest command line, NUL excluded.
    pub const CMDLINE_SIZE: Field<u32> = Field::at(0x238);
    /// `pref_address` (2.10+): preferred load address.
    pub const PREF_ADDRESS: Field<u64> = Field::at(0x258);
    /// `init_size` (2.10+): memory needed from the runtime start.
    pub const INIT_SIZE: Field<u32> = Field::at(0x260);
}

/// `boot_params` (zero page) fields outside the setup header.
mod params {
    use crate::bytes::Field;

    /// `e820_entries`.
    pub const E820_ENTRIES: Field<u8> = Field::at(0x1E8);
    /// `e820_table`: 20-byte entries (u64 addr, u64 size, u32 type).
    pub const E820_TABLE: usize = 0x2D0;
}

/// Size of `struct boot_params`.
pub const BOOT_PARAMS_SIZE: usize = 4096;
/// Size of one `struct boot_e820_entry`.
const E820_ENTRY_SIZE: usize = 20;
/// Capacity of `e820_table` (0xA00 bytes).
pub const E820_MAX_ENTRIES: usize = 128;
/// The setup header must end before `edd_mbr_sig_buffer` at 0x290.
const SETUP_HEADER_MAX_END: usize = 0x290;
/// The setup header must reach past `cmdline_size` (protocol 2.06).
const SETUP_HEADER_MIN_END: usize = hdr::CMDLINE_SIZE.end();

// ---- values ----

/// "HdrS", little-endian.
const HDRS_MAGIC: u32 = 0x5372_6448;
/// `boot_flag` value.
const BOOT_FLAG: u16 = 0xAA55;
/// Oldest protocol accepted: 2.06 added `cmdline_size`.
pub const MIN_PROTOCOL: u16 = 0x0206;
/// Protocol 2.10 added `pref_address`, `init_size` and `min_alignment`.
const PROTOCOL_2_10: u16 = 0x020A;
/// Protocol 2.12 added `xloadflags`.
const PROTOCOL_2_12: u16 = 0x020C;
/// `type_of_loader` for a loader without an assigned id.
const LOADER_UNDEFINED: u8 = 0xFF;
/// `heap_end_ptr`: as boot.rst's sample loader, a heap ending at 0xE000 in
/// the real-mode segment (minus 0x200). Only the real-mode setup code uses
/// it, and the 32-bit protocol skips that code.
const HEAP_END_PTR: u16 = 0xE000 - 0x200;
/// A sector of the setup code.
const SECTOR: usize = 512;

/// loadflags bit 0: the protected-mode code loads at 0x100000 (a bzImage).
pub const LOADED_HIGH: u8 = 0x01;
/// loadflags bit 7: `heap_end_ptr` is valid.
pub const CAN_USE_HEAP: u8 = 0x80;
/// xloadflags bit 0: the kernel has the 64-bit entry point at 0x200.
pub const XLF_KERNEL_64: u16 = 0x01;
/// xloadflags bit 1: kernel, boot_params, command line and initrd may be above 4 GiB.
pub const XLF_CAN_BE_LOADED_ABOVE_4G: u16 = 0x02;
/// xloadflags bit 2: 32-bit EFI handover entry.
pub const XLF_EFI_HANDOVER_32: u16 = 0x04;
/// xloadflags bit 3: 64-bit EFI handover entry.
pub const XLF_EFI_HANDOVER_64: u16 = 0x08;
/// xloadflags bit 4: kexec EFI boot with EFI runtime support.
pub const XLF_EFI_KEXEC: u16 = 0x10;

/// The fields of a bzImage setup header a loader reads.
///
/// Fields newer than the image's protocol version read as 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupHeader {
    /// Boot protocol version, `(major << 8) | minor` (0x020F = 2.15).
    pub version: u16,
    /// Setup code size in sectors (0 in the file already mapped to 4).
    pub setup_sects: u32,
    /// Protected-mode code size in 16-byte paragraphs.
    pub syssize: u32,
    /// `loadflags` as in the file.
    pub loadflags: u8,
    /// `code32_start` as in the file.
    pub code32_start: u32,
    /// Highest address the initrd may occupy.
    pub initrd_addr_max: u32,
    /// Alignment a relocatable kernel runs at.
    pub kernel_alignment: u32,
    /// `relocatable_kernel` is non-zero.
    pub relocatable: bool,
    /// log2 of the minimum alignment (2.10+).
    pub min_alignment: u8,
    /// Extended load flags (2.12+), the `XLF_*` bits.
    pub xloadflags: u16,
    /// Longest command line, NUL excluded.
    pub cmdline_size: u32,
    /// Preferred load address (2.10+).
    pub pref_address: u64,
    /// Linear memory needed from the runtime start address (2.10+).
    pub init_size: u32,
    /// End offset of the setup header: 0x202 + the byte at 0x201.
    pub header_end: usize,
    /// The kernel version string the header points to, if any.
    pub kernel_version: Option<String>,
}

impl SetupHeader {
    /// File offset of the protected-mode code: `(setup_sects + 1) * 512`.
    pub fn protected_mode_offset(&self) -> usize {
        // setup_sects is at most 255, so this cannot overflow.
        (self.setup_sects as usize + 1) * SECTOR
    }

    /// Whether the kernel has the 64-bit entry point (`XLF_KERNEL_64`).
    pub fn kernel_64(&self) -> bool {
        self.xloadflags & XLF_KERNEL_64 != 0
    }

    /// Where the decompressed kernel will run, as the decompressor computes
    /// it: for a relocatable kernel 0x100000 aligned up to
    /// `kernel_alignment`, but not below `pref_address`
    /// (`LOAD_PHYSICAL_ADDR`); otherwise `pref_address`.
    pub fn runtime_start(&self) -> Result<u64, BootError> {
        if self.relocatable {
            let align = self.kernel_alignment;
            let aligned = Some(u64::from(align))
                .filter(|a| a.is_power_of_two())
                .and_then(|a| align_up(LINUX_KERNEL_ADDR, a))
                .ok_or(BootError::LinuxBadAlignment { align })?;
            Ok(aligned.max(self.pref_address))
        } else if self.pref_address != 0 {
            Ok(self.pref_address)
        } else {
            Ok(LINUX_KERNEL_ADDR)
        }
    }
}

/// Parses and validates the setup header of a bzImage.
pub fn parse_setup_header(kernel: &[u8]) -> Result<SetupHeader, BootError> {
    let len = kernel.len();
    let truncated = |need: usize| BootError::LinuxHeaderTruncated { len, need };
    let boot_flag = hdr::BOOT_FLAG
        .get(kernel)
        .ok_or(truncated(hdr::BOOT_FLAG.end()))?;
    if boot_flag != BOOT_FLAG {
        return Err(BootError::LinuxBadBootFlag { found: boot_flag });
    }
    let magic = hdr::HEADER
        .get(kernel)
        .ok_or(truncated(hdr::VERSION.end()))?;
    if magic != HDRS_MAGIC {
        return Err(BootError::LinuxNoHdrS { found: magic });
    }
    let version = hdr::VERSION
        .get(kernel)
        .ok_or(truncated(hdr::VERSION.end()))?;
    if version < MIN_PROTOCOL {
        return Err(BootError::LinuxProtocolTooOld { version });
    }
    let loadflags = hdr::LOADFLAGS
        .get(kernel)
        .ok_or(truncated(hdr::LOADFLAGS.end()))?;
    if loadflags & LOADED_HIGH == 0 {
        return Err(BootError::LinuxZImage);
    }
    let header_end = header_end(kernel)?;
    let setup_sects = match hdr::SETUP_SECTS.get(kernel) {
        Some(0) => 4,
        Some(n) => u32::from(n),
        None => return Err(truncated(hdr::SETUP_SECTS.end())),
    };
    let setup_end = (setup_sects as usize + 1) * SECTOR;
    if len < setup_end {
        return Err(BootError::LinuxSetupTruncated {
            len,
            setup_sects,
            setup_end,
        });
    }
    // From here the file holds at least five sectors, past every field read.
    fn read<T: Le>(kernel: &[u8], f: &Field<T>) -> Result<T, BootError> {
        f.get(kernel).ok_or(BootError::LinuxHeaderTruncated {
            len: kernel.len(),
            need: SETUP_HEADER_MAX_END,
        })
    }
    let since = |min: u16, v: u64| if version >= min { v } else { 0 };
    let header = SetupHeader {
        version,
        setup_sects,
        syssize: read(kernel, &hdr::SYSSIZE)?,
        loadflags,
        code32_start: read(kernel, &hdr::CODE32_START)?,
        initrd_addr_max: read(kernel, &hdr::INITRD_ADDR_MAX)?,
        kernel_alignment: read(kernel, &hdr::KERNEL_ALIGNMENT)?,
        relocatable: read(kernel, &hdr::RELOCATABLE)? != 0,
        min_alignment: since(PROTOCOL_2_10, read(kernel, &hdr::MIN_ALIGNMENT)?.into()) as u8,
        xloadflags: since(PROTOCOL_2_12, read(kernel, &hdr::XLOADFLAGS)?.into()) as u16,
        cmdline_size: read(kernel, &hdr::CMDLINE_SIZE)?,
        pref_address: since(PROTOCOL_2_10, read(kernel, &hdr::PREF_ADDRESS)?),
        init_size: since(PROTOCOL_2_10, read(kernel, &hdr::INIT_SIZE)?.into()) as u32,
        header_end,
        kernel_version: kernel_version(kernel, setup_end),
    };
    check_protected_mode_size(kernel, &header)?;
    Ok(header)
}

/// The end of the setup header from the jump at 0x200, checked to cover
/// `cmdline_size` and to fit in `boot_params` before `edd_mbr_sig_buffer`.
fn header_end(kernel: &[u8]) -> Result<usize, BootError> {
    let jump = hdr::JUMP_OFFSET
        .get(kernel)
        .ok_or(BootError::LinuxHeaderTruncated {
            len: kernel.len(),
            need: hdr::JUMP_OFFSET.end(),
        })?;
    let end = hdr::HEADER.off + usize::from(jump);
    if !(SETUP_HEADER_MIN_END..=SETUP_HEADER_MAX_END).contains(&end) {
        return Err(BootError::LinuxHeaderLength {
            end,
            min: SETUP_HEADER_MIN_END,
            max: SETUP_HEADER_MAX_END,
        });
    }
    Ok(end)
}

/// The NUL-terminated version string `kernel_version` points to, when it
/// lies inside the setup code (at most 256 bytes are read).
fn kernel_version(kernel: &[u8], setup_end: usize) -> Option<String> {
    let ptr = usize::from(hdr::KERNEL_VERSION.get(kernel)?);
    if ptr == 0 {
        return None;
    }
    let start = ptr.checked_add(SECTOR)?;
    let area = kernel.get(start..setup_end)?;
    let text = &area[..area.len().min(256)];
    let text = text.split(|&b| b == 0).next()?;
    Some(String::from_utf8_lossy(text).into_owned())
}

/// Checks that there is protected-mode code and as much of it as `syssize` says.
fn check_protected_mode_size(kernel: &[u8], h: &SetupHeader) -> Result<(), BootError> {
    let found = kernel.len().saturating_sub(h.protected_mode_offset()) as u64;
    if found == 0 {
        return Err(BootError::LinuxNoProtectedModeCode);
    }
    let expected = u64::from(h.syssize) * 16;
    if expected > found {
        return Err(BootError::LinuxProtectedModeTruncated { expected, found });
    }
    Ok(())
}

/// Builds the plan to boot a bzImage through the 32-bit boot protocol.
///
/// `cmdline` goes to the kernel as is (at most `cmdline_size` bytes);
/// `initrd` is placed at the top of RAM below `initrd_addr_max`.
pub fn load_linux(
    kernel: &[u8],
    initrd: Option<&[u8]>,
    cmdline: &str,
    mem: &MemoryLayout,
) -> Result<BootPlan, BootError> {
    let usable = mem.usable()?;
    let e820 = mem.e820()?;
    let header = parse_setup_header(kernel)?;
    let cmdline = checked_cmdline(cmdline, header.cmdline_size)?;
    let image = kernel
        .get(header.protected_mode_offset()..)
        .ok_or(BootError::LinuxNoProtectedModeCode)?;
    let kernel_end = kernel_area_end(&header, image.len() as u64, &usable)?;
    let initrd_at = match initrd {
        Some(data) => Some((place_initrd(&header, data, kernel_end, &usable)?, data)),
        None => None,
    };
    let initrd_span = initrd_at.map(|(addr, data)| (addr, data.len() as u64));
    let boot_params = boot_params(kernel, &header, initrd_span, &e820, mem.acpi_rsdp)?;

    let entry = protected_entry(
        Registers {
            eip: LINUX_KERNEL_ADDR as u32,
            esi: LINUX_BOOT_PARAMS_ADDR as u32,
            ..Registers::default()
        },
        LINUX_GDT_ADDR,
    );
    let mut loads = vec![
        Load::new(LoadKind::Gdt, LINUX_GDT_ADDR, entry.gdt.to_bytes()),
        Load::new(LoadKind::BootParams, LINUX_BOOT_PARAMS_ADDR, boot_params),
        Load::new(LoadKind::Cmdline, LINUX_CMDLINE_ADDR, cmdline),
        Load::new(LoadKind::Kernel, LINUX_KERNEL_ADDR, image.to_vec()),
    ];
    if let Some((addr, data)) = initrd_at {
        loads.push(Load::new(LoadKind::Initrd, addr, data.to_vec()));
    }
    check_loads(&loads, &usable)?;
    Ok(BootPlan {
        loads,
        entry,
        kind: BootKind::Linux {
            header,
            boot_params_addr: LINUX_BOOT_PARAMS_ADDR,
            initrd: initrd_span,
        },
    })
}

// ---- screen_info (zero-page.rst: offset 0x000, `struct screen_info`) ----

/// `orig_video_mode` (1 byte): the BIOS video mode.
const SI_VIDEO_MODE: usize = 0x06;
/// `orig_video_cols` (1 byte): text columns.
const SI_VIDEO_COLS: usize = 0x07;
/// `orig_video_ega_bx` (2 bytes): BX from int 10h AH=12h BL=10h ("get EGA
/// info"); BL = 0x10 (unchanged) would mean no EGA/VGA. A VGA BIOS answers
/// BH = 0 (colour) and BL = 3 (256 KiB).
const SI_VIDEO_EGA_BX: usize = 0x0A;
/// `orig_video_lines` (1 byte): text rows.
const SI_VIDEO_LINES: usize = 0x0E;
/// `orig_video_isVGA` (1 byte): 1 = VGA text (`VIDEO_TYPE_VGAC` in vgacon).
const SI_VIDEO_IS_VGA: usize = 0x0F;
/// `orig_video_points` (2 bytes): font height in scan lines.
const SI_VIDEO_POINTS: usize = 0x10;
/// Mode 3: 80x25 colour text.
const VGA_TEXT_MODE_3: u8 = 3;
/// What int 10h AH=12h BL=10h returns in BX on a colour VGA with 256 KiB.
const EGA_BX_COLOUR_256K: u16 = 0x0003;

/// Tells a Linux plan's kernel that the VGA is in mode 3 (80x25 colour
/// text, 16-line font, cursor at the top left), as the setup code records
/// it from the VGA BIOS; the caller puts the VGA in that mode. Returns
/// false (and changes nothing) for a plan that is not a Linux boot.
pub fn set_vga_text_console(plan: &mut BootPlan) -> bool {
    if !matches!(plan.kind, BootKind::Linux { .. }) {
        return false;
    }
    let Some(bp) = plan
        .loads
        .iter_mut()
        .find(|l| l.what == LoadKind::BootParams)
    else {
        return false;
    };
    let bp = &mut bp.data;
    put_u8(bp, SI_VIDEO_MODE, VGA_TEXT_MODE_3);
    put_u8(bp, SI_VIDEO_COLS, 80);
    put_u16(bp, SI_VIDEO_EGA_BX, EGA_BX_COLOUR_256K);
    put_u8(bp, SI_VIDEO_LINES, 25);
    put_u8(bp, SI_VIDEO_IS_VGA, 1);
    put_u16(bp, SI_VIDEO_POINTS, 16);
    true
}

/// The NUL-terminated command line, if the kernel and our buffer accept it.
fn checked_cmdline(cmdline: &str, cmdline_size: u32) -> Result<Vec<u8>, BootError> {
    if cmdline.contains('\0') {
        return Err(BootError::CmdlineContainsNul);
    }
    let kernel_max = usize::try_from(cmdline_size).unwrap_or(usize::MAX);
    let max = kernel_max.min(LINUX_CMDLINE_MAX - 1);
    if cmdline.len() > max {
        return Err(BootError::CmdlineTooLong {
            len: cmdline.len(),
            max,
        });
    }
    Ok(c_string(cmdline))
}

/// The end of the memory the kernel uses before it reads the memory map:
/// the loaded image at 0x100000 and the `init_size` area at its runtime
/// start. Both must lie in the one RAM range that starts at 1 MiB.
fn kernel_area_end(h: &SetupHeader, image_len: u64, usable: &[Range]) -> Result<u64, BootError> {
    let start = LINUX_KERNEL_ADDR;
    let ram_end = containing(usable, start, start).map_or(start, |(_, end)| end);
    let image_end = start.checked_add(image_len);
    let init_end = h.runtime_start()?.checked_add(u64::from(h.init_size));
    let end = match (image_end, init_end) {
        (Some(a), Some(b)) => a.max(b),
        _ => u64::MAX,
    };
    if containing(usable, start, end).is_none() {
        return Err(BootError::LinuxKernelDoesNotFit {
            start,
            end,
            ram_end,
        });
    }
    Ok(end)
}

/// The initrd address: the highest page-aligned one whose bytes all lie in
/// one usable range, below `initrd_addr_max` and 4 GiB, above the kernel.
fn place_initrd(
    h: &SetupHeader,
    data: &[u8],
    kernel_end: u64,
    usable: &[Range],
) -> Result<u64, BootError> {
    if data.is_empty() {
        return Err(BootError::InitrdEmpty);
    }
    let size = data.len() as u64;
    // initrd_addr_max is the highest byte allowed; ramdisk_image is 32 bits.
    let limit = (u64::from(h.initrd_addr_max) + 1).min(1 << 32);
    usable
        .iter()
        .rev()
        .find_map(|&(start, end)| {
            let addr = align_down(end.min(limit).checked_sub(size)?, PAGE_SIZE);
            (addr >= start.max(kernel_end)).then_some(addr)
        })
        .ok_or(BootError::InitrdTooLarge {
            size,
            kernel_end,
            limit,
        })
}

/// `struct boot_params`: the image's setup header and the fields a 32-bit
/// boot loader writes.
fn boot_params(
    kernel: &[u8],
    h: &SetupHeader,
    initrd: Option<(u64, u64)>,
    e820: &[E820Entry],
    acpi_rsdp: Option<u64>,
) -> Result<Vec<u8>, BootError> {
    let mut bp = vec![0u8; BOOT_PARAMS_SIZE];
    // parse_setup_header checked that the header ends inside the setup code.
    let header =
        kernel
            .get(hdr::SETUP_SECTS.off..h.header_end)
            .ok_or(BootError::LinuxHeaderTruncated {
                len: kernel.len(),
                need: h.header_end,
            })?;
    put(&mut bp, hdr::SETUP_SECTS.off, header);
    hdr::TYPE_OF_LOADER.put(&mut bp, LOADER_UNDEFINED);
    hdr::LOADFLAGS.put(&mut bp, h.loadflags | CAN_USE_HEAP);
    hdr::HEAP_END_PTR.put(&mut bp, HEAP_END_PTR);
    hdr::CODE32_START.put(&mut bp, LINUX_KERNEL_ADDR as u32);
    hdr::CMD_LINE_PTR.put(&mut bp, LINUX_CMDLINE_ADDR as u32);
    if let Some((addr, size)) = initrd {
        // place_initrd keeps the initrd below 4 GiB.
        hdr::RAMDISK_IMAGE.put(&mut bp, addr as u32);
        hdr::RAMDISK_SIZE.put(&mut bp, size as u32);
    }
    write_e820(&mut bp, e820)?;
    if let Some(rsdp) = acpi_rsdp {
        // Boot protocol 2.14 added the field; older kernels scan for the
        // RSDP in the BIOS area, where the machine also puts it.
        if h.version >= 0x020E {
            hdr::ACPI_RSDP_ADDR.put(&mut bp, rsdp);
        }
    }
    Ok(bp)
}

/// `e820_entries` and `e820_table`.
fn write_e820(bp: &mut [u8], e820: &[E820Entry]) -> Result<(), BootError> {
    let count = u8::try_from(e820.len())
        .ok()
        .filter(|&n| usize::from(n) <= E820_MAX_ENTRIES)
        .ok_or(BootError::TooManyE820Entries {
            count: e820.len(),
            max: E820_MAX_ENTRIES,
        })?;
    params::E820_ENTRIES.put(bp, count);
    for (i, e) in e820.iter().enumerate() {
        let off = params::E820_TABLE + i * E820_ENTRY_SIZE;
        put_u64(bp, off, e.addr);
        put_u64(bp, off + 8, e.size);
        put_u32(bp, off + 16, e.kind.code());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::{u16_at, u32_at, u64_at, u8_at};
    use crate::memory::test_pc as pc;
    use crate::plan::{BOOT_CS, BOOT_DS, FLAT_CODE, FLAT_DATA};

    const MIB: u64 = 1 << 20;
    /// setup_sects of the synthetic images: 4 sectors of setup code after
    /// the boot sector, so the protected-mode part starts at 0xA00.
    const SETUP_SECTS: u8 = 4;
    const PM_OFFSET: usize = 0xA00;
    const PM_LEN: usize = 0x3000;

    /// A minimal bzImage: boot sector and setup sectors with the header
    /// fields of Debian's 6.1 i386 kernel (protocol 2.15, 16 MiB
    /// alignment and pref_address, init_size 0x100C000), then a
    /// protected-mode part of PM_LEN bytes filled with 0xC3.
    fn bzimage() -> Vec<u8> {
        let mut k = vec![0u8; PM_OFFSET + PM_LEN];
        hdr::SETUP_SECTS.put(&mut k, SETUP_SECTS);
        hdr::SYSSIZE.put(&mut k, (PM_LEN / 16) as u32);
        put_u16(&mut k, 0x1FA, 0xFFFF); // vid_mode "normal"
        hdr::BOOT_FLAG.put(&mut k, 0xAA55);
        k[0x200] = 0xEB; // jmp short
        hdr::JUMP_OFFSET.put(&mut k, 0x6A); // header ends at 0x26C (2.15)
        hdr::HEADER.put(&mut k, HDRS_MAGIC);
        hdr::VERSION.put(&mut k, 0x020F);
        hdr::LOADFLAGS.put(&mut k, LOADED_HIGH);
        hdr::CODE32_START.put(&mut k, 0x10_0000);
        hdr::INITRD_ADDR_MAX.put(&mut k, 0x7FFF_FFFF);
        hdr::KERNEL_ALIGNMENT.put(&mut k, 0x100_0000);
        hdr::RELOCATABLE.put(&mut k, 1);
        hdr::MIN_ALIGNMENT.put(&mut k, 0x0D);
        hdr::XLOADFLAGS.put(&mut k, XLF_EFI_HANDOVER_32);
        hdr::CMDLINE_SIZE.put(&mut k, 2047);
        hdr::PREF_ADDRESS.put(&mut k, 0x100_0000);
        hdr::INIT_SIZE.put(&mut k, 0x100_C000);
        k[PM_OFFSET..].fill(0xC3);
        k
    }

    fn boot_params_of(plan: &BootPlan) -> &[u8] {
        &plan.find(LoadKind::BootParams).unwrap().data
    }

    #[test]
    fn header_fields_are_parsed() {
        let h = parse_setup_header(&bzimage()).unwrap();
        assert_eq!(h.version, 0x020F);
        assert_eq!(h.setup_sects, 4);
        assert_eq!(h.protected_mode_offset(), PM_OFFSET);
        assert_eq!(h.kernel_alignment, 0x100_0000);
        assert!(h.relocatable);
        assert_eq!(h.min_alignment, 0x0D);
        assert_eq!(h.pref_address, 0x100_0000);
        assert_eq!(h.init_size, 0x100_C000);
        assert_eq!(h.xloadflags, XLF_EFI_HANDOVER_32);
        assert!(!h.kernel_64());
        assert_eq!(h.header_end, 0x26C);
        assert_eq!(h.cmdline_size, 2047);
        assert_eq!(h.runtime_start(), Ok(0x100_0000));
        assert_eq!(h.kernel_version, None);
    }

    #[test]
    fn kernel_version_string_is_read_from_the_setup_code() {
        let mut k = bzimage();
        hdr::KERNEL_VERSION.put(&mut k, 0x300); // string at 0x500
        k[0x500..0x506].copy_from_slice(b"6.1.0\0");
        let h = parse_setup_header(&k).unwrap();
        assert_eq!(h.kernel_version.as_deref(), Some("6.1.0"));
        // A pointer past the setup code is ignored.
        hdr::KERNEL_VERSION.put(&mut k, 0x900);
        assert_eq!(parse_setup_header(&k).unwrap().kernel_version, None);
    }

    #[test]
    fn plan_addresses_and_entry_state() {
        let plan = load_linux(&bzimage(), None, "console=ttyS0", &pc(256 * MIB)).unwrap();
        let kernel = plan.find(LoadKind::Kernel).unwrap();
        assert_eq!(kernel.addr, 0x10_0000);
        assert_eq!(kernel.data.len(), PM_LEN);
        assert!(kernel.data.iter().all(|&b| b == 0xC3));
        let cmdline = plan.find(LoadKind::Cmdline).unwrap();
        assert_eq!(cmdline.addr, 0x2_0000);
        assert_eq!(cmdline.data, b"console=ttyS0\0");
        let gdt = plan.find(LoadKind::Gdt).unwrap();
        assert_eq!(gdt.addr, 0x1000);
        assert_eq!(u64_at(&gdt.data, 0x10), Some(FLAT_CODE));
        assert_eq!(u64_at(&gdt.data, 0x18), Some(FLAT_DATA));
        assert_eq!(plan.find(LoadKind::BootParams).unwrap().addr, 0x1_0000);
        assert_eq!(plan.find(LoadKind::Initrd), None);

        let e = &plan.entry;
        assert_eq!(e.regs.eip, 0x10_0000);
        assert_eq!(e.regs.esi, 0x1_0000);
        assert_eq!((e.regs.ebx, e.regs.ebp, e.regs.edi), (0, 0, 0));
        assert_eq!(e.regs.eflags & (1 << 9), 0, "interrupts off");
        assert_eq!((e.code_selector, e.data_selector), (BOOT_CS, BOOT_DS));
        assert_eq!((e.gdt.base, e.gdt.limit()), (0x1000, 31));
        assert_eq!(e.code_segment().unwrap().limit, u32::MAX);
        match &plan.kind {
            BootKind::Linux {
                header,
                boot_params_addr,
                initrd,
            } => {
                assert_eq!(header.version, 0x020F);
                assert_eq!(*boot_params_addr, 0x1_0000);
                assert_eq!(*initrd, None);
            }
            other => panic!("not a Linux plan: {other:?}"),
        }
    }

    #[test]
    fn boot_params_hold_the_setup_header_and_loader_fields() {
        let image = bzimage();
        let plan = load_linux(&image, Some(&[1, 2, 3]), "", &pc(256 * MIB)).unwrap();
        let bp = boot_params_of(&plan);
        assert_eq!(bp.len(), 4096);
        // The setup header is copied from 0x1F1 to its end at 0x26C ...
        assert_eq!(hdr::SETUP_SECTS.get(bp), Some(SETUP_SECTS));
        assert_eq!(hdr::BOOT_FLAG.get(bp), Some(0xAA55));
        assert_eq!(hdr::HEADER.get(bp), Some(HDRS_MAGIC));
        assert_eq!(hdr::VERSION.get(bp), Some(0x020F));
        assert_eq!(u16_at(bp, 0x1FA), Some(0xFFFF)); // vid_mode kept
        assert_eq!(hdr::INIT_SIZE.get(bp), Some(0x100_C000));
        assert_eq!(hdr::KERNEL_ALIGNMENT.get(bp), Some(0x100_0000));
        // ... and nothing else of the image (the setup code) is.
        assert!(bp[0x26C..0x2D0].iter().all(|&b| b == 0));
        // screen_info stays zero: no VGA.
        assert!(bp[..0x40].iter().all(|&b| b == 0));
        // Loader-written fields.
        assert_eq!(hdr::TYPE_OF_LOADER.get(bp), Some(0xFF));
        assert_eq!(hdr::LOADFLAGS.get(bp), Some(LOADED_HIGH | CAN_USE_HEAP));
        assert_eq!(hdr::HEAP_END_PTR.get(bp), Some(0xDE00));
        assert_eq!(hdr::CODE32_START.get(bp), Some(0x10_0000));
        assert_eq!(hdr::CMD_LINE_PTR.get(bp), Some(0x2_0000));
        let initrd = plan.find(LoadKind::Initrd).unwrap();
        assert_eq!(hdr::RAMDISK_IMAGE.get(bp), Some(initrd.addr as u32));
        assert_eq!(hdr::RAMDISK_SIZE.get(bp), Some(3));
    }

    #[test]
    fn a_vga_text_console_fills_screen_info_and_nothing_else() {
        let mut plan = load_linux(&bzimage(), None, "", &pc(256 * MIB)).unwrap();
        let before = boot_params_of(&plan).to_vec();
        assert!(set_vga_text_console(&mut plan));
        let bp = boot_params_of(&plan);
        // As vgacon_startup reads it: mode 3, 80x25, VGA colour, 16 lines.
        assert_eq!(u8_at(bp, 0x06), Some(3));
        assert_eq!(u8_at(bp, 0x07), Some(80));
        assert_eq!(u16_at(bp, 0x0A), Some(3));
        assert_eq!(u8_at(bp, 0x0E), Some(25));
        assert_eq!(u8_at(bp, 0x0F), Some(1));
        assert_eq!(u16_at(bp, 0x10), Some(16));
        // Cursor at 0,0 and the rest of the zero page untouched.
        assert_eq!(&bp[..6], &[0; 6]);
        assert_eq!(bp[0x12..], before[0x12..]);
    }

    #[test]
    fn boot_params_hold_the_e820_map() {
        let plan = load_linux(&bzimage(), None, "", &pc(256 * MIB)).unwrap();
        let bp = boot_params_of(&plan);
        assert_eq!(params::E820_ENTRIES.get(bp), Some(4));
        let entry = |i: usize| {
            let off = params::E820_TABLE + i * 20;
            (u64_at(bp, off), u64_at(bp, off + 8), u32_at(bp, off + 16))
        };
        assert_eq!(entry(0), (Some(0), Some(0x9FC00), Some(1)));
        assert_eq!(entry(1), (Some(0xF0000), Some(0x10000), Some(2)));
        assert_eq!(entry(2), (Some(MIB), Some(255 * MIB), Some(1)));
        assert_eq!(entry(3), (Some(0xFFFC_0000), Some(0x4_0000), Some(2)));
        assert_eq!(entry(4), (Some(0), Some(0), Some(0)));
    }

    #[test]
    fn acpi_tables_get_a_type_3_range_and_the_rsdp_its_field() {
        let mut layout = pc(256 * MIB);
        layout.acpi = vec![(256 * MIB - 0x2_0000, 0x2_0000)];
        layout.acpi_rsdp = Some(0xE_0000);
        let plan = load_linux(&bzimage(), None, "", &layout).unwrap();
        let bp = boot_params_of(&plan);
        assert_eq!(hdr::ACPI_RSDP_ADDR.get(bp), Some(0xE_0000));
        assert_eq!(params::E820_ENTRIES.get(bp), Some(5));
        let off = params::E820_TABLE + 3 * 20;
        assert_eq!(u64_at(bp, off), Some(256 * MIB - 0x2_0000));
        assert_eq!(u32_at(bp, off + 16), Some(3));
        let ram = params::E820_TABLE + 2 * 20;
        assert_eq!(u64_at(bp, ram + 8), Some(255 * MIB - 0x2_0000));
    }

    #[test]
    fn initrd_goes_to_the_top_of_ram_page_aligned() {
        let initrd = vec![0x5A; 0x1801];
        let plan = load_linux(&bzimage(), Some(&initrd), "", &pc(256 * MIB)).unwrap();
        let load = plan.find(LoadKind::Initrd).unwrap();
        // 256 MiB - 0x1801 rounded down to a page.
        assert_eq!(load.addr, 256 * MIB - 0x2000);
        assert_eq!(load.data, initrd);
        assert!(
            matches!(plan.kind, BootKind::Linux { initrd: Some((a, 0x1801)), .. } if a == load.addr)
        );
    }

    #[test]
    fn initrd_respects_initrd_addr_max() {
        let mut k = bzimage();
        hdr::INITRD_ADDR_MAX.put(&mut k, 0x3FF_FFFF); // below 64 MiB
        let plan = load_linux(&k, Some(&[0; 0x1000]), "", &pc(256 * MIB)).unwrap();
        assert_eq!(plan.find(LoadKind::Initrd).unwrap().addr, 64 * MIB - 0x1000);
    }

    #[test]
    fn initrd_skips_a_reserved_hole_at_the_top() {
        let mut mem = pc(256 * MIB);
        mem.reserved.push((255 * MIB, MIB));
        let plan = load_linux(&bzimage(), Some(&[0; 0x1000]), "", &mem).unwrap();
        assert_eq!(
            plan.find(LoadKind::Initrd).unwrap().addr,
            255 * MIB - 0x1000
        );
    }

    #[test]
    fn initrd_too_large_for_ram_is_an_error() {
        // RAM ends at 48 MiB; the kernel's area ends at 16 MiB + init_size.
        let kernel_end = 0x100_0000 + 0x100_C000;
        let initrd = vec![0; (48 * MIB - kernel_end + 1) as usize];
        assert_eq!(
            load_linux(&bzimage(), Some(&initrd), "", &pc(48 * MIB)),
            Err(BootError::InitrdTooLarge {
                size: initrd.len() as u64,
                kernel_end,
                limit: 0x8000_0000
            })
        );
        assert_eq!(
            load_linux(&bzimage(), Some(&[]), "", &pc(48 * MIB)),
            Err(BootError::InitrdEmpty)
        );
    }

    #[test]
    fn init_size_must_fit_in_ram() {
        // 16 MiB runtime start + 0x100C000 init_size needs just over 32 MiB.
        assert_eq!(
            load_linux(&bzimage(), None, "", &pc(32 * MIB)),
            Err(BootError::LinuxKernelDoesNotFit {
                start: 0x10_0000,
                end: 0x200_C000,
                ram_end: 32 * MIB
            })
        );
        assert!(load_linux(&bzimage(), None, "", &pc(0x200_C000)).is_ok());
    }

    #[test]
    fn a_reserved_hole_under_the_kernel_area_is_an_error() {
        let mut mem = pc(256 * MIB);
        mem.reserved.push((20 * MIB, 0x1000));
        assert!(matches!(
            load_linux(&bzimage(), None, "", &mem),
            Err(BootError::LinuxKernelDoesNotFit { ram_end, .. }) if ram_end == 20 * MIB
        ));
    }

    #[test]
    fn runtime_start_follows_the_decompressor() {
        let mut h = parse_setup_header(&bzimage()).unwrap();
        h.kernel_alignment = 0x20_0000; // amd64: 2 MiB, pref_address still wins
        assert_eq!(h.runtime_start(), Ok(0x100_0000));
        h.pref_address = 0;
        assert_eq!(h.runtime_start(), Ok(0x20_0000));
        h.kernel_alignment = 0x30_0000;
        assert_eq!(
            h.runtime_start(),
            Err(BootError::LinuxBadAlignment { align: 0x30_0000 })
        );
        h.relocatable = false;
        assert_eq!(h.runtime_start(), Ok(0x10_0000));
        h.pref_address = 0x200_0000;
        assert_eq!(h.runtime_start(), Ok(0x200_0000));
    }

    #[test]
    fn cmdline_length_is_limited_by_cmdline_size() {
        let mut k = bzimage();
        hdr::CMDLINE_SIZE.put(&mut k, 16);
        let exact = "a".repeat(16);
        let plan = load_linux(&k, None, &exact, &pc(256 * MIB)).unwrap();
        assert_eq!(plan.find(LoadKind::Cmdline).unwrap().data.len(), 17);
        assert_eq!(
            load_linux(&k, None, &"a".repeat(17), &pc(256 * MIB)),
            Err(BootError::CmdlineTooLong { len: 17, max: 16 })
        );
    }

    #[test]
    fn cmdline_length_is_limited_by_our_buffer() {
        let mut k = bzimage();
        hdr::CMDLINE_SIZE.put(&mut k, u32::MAX);
        assert_eq!(
            load_linux(&k, None, &"a".repeat(0x1_0000), &pc(256 * MIB)),
            Err(BootError::CmdlineTooLong {
                len: 0x1_0000,
                max: 0xFFFF
            })
        );
        assert_eq!(
            load_linux(&k, None, "a\0b", &pc(256 * MIB)),
            Err(BootError::CmdlineContainsNul)
        );
    }

    #[test]
    fn setup_sects_zero_means_four() {
        let mut k = bzimage();
        hdr::SETUP_SECTS.put(&mut k, 0);
        let h = parse_setup_header(&k).unwrap();
        assert_eq!(h.setup_sects, 4);
        assert_eq!(h.protected_mode_offset(), PM_OFFSET);
    }

    #[test]
    fn protocol_2_05_is_rejected() {
        let mut k = bzimage();
        hdr::VERSION.put(&mut k, 0x0205);
        assert_eq!(
            parse_setup_header(&k),
            Err(BootError::LinuxProtocolTooOld { version: 0x0205 })
        );
        assert_eq!(
            BootError::LinuxProtocolTooOld { version: 0x0205 }.to_string(),
            "Linux boot protocol 2.05 is too old: 2.06 or newer is required"
        );
    }

    #[test]
    fn protocol_2_06_reads_no_newer_fields() {
        let mut k = bzimage();
        hdr::VERSION.put(&mut k, 0x0206);
        let h = parse_setup_header(&k).unwrap();
        assert_eq!(
            (h.pref_address, h.init_size, h.xloadflags, h.min_alignment),
            (0, 0, 0, 0)
        );
        // Relocatable: 1 MiB aligned up to 16 MiB.
        assert_eq!(h.runtime_start(), Ok(0x100_0000));
        assert!(load_linux(&k, None, "", &pc(64 * MIB)).is_ok());
    }

    #[test]
    fn non_bzimages_are_rejected() {
        let mut k = bzimage();
        hdr::LOADFLAGS.put(&mut k, 0);
        assert_eq!(parse_setup_header(&k), Err(BootError::LinuxZImage));
        let mut k = bzimage();
        hdr::BOOT_FLAG.put(&mut k, 0x1234);
        assert_eq!(
            parse_setup_header(&k),
            Err(BootError::LinuxBadBootFlag { found: 0x1234 })
        );
        let mut k = bzimage();
        hdr::HEADER.put(&mut k, 0);
        assert_eq!(
            parse_setup_header(&k),
            Err(BootError::LinuxNoHdrS { found: 0 })
        );
    }

    #[test]
    fn header_length_from_the_jump_is_bounded() {
        let mut k = bzimage();
        hdr::JUMP_OFFSET.put(&mut k, 0xFF); // would end at 0x301, past 0x290
        assert_eq!(
            parse_setup_header(&k),
            Err(BootError::LinuxHeaderLength {
                end: 0x301,
                min: 0x23C,
                max: 0x290
            })
        );
        hdr::JUMP_OFFSET.put(&mut k, 0x30); // ends at 0x232, before cmdline_size
        assert!(matches!(
            parse_setup_header(&k),
            Err(BootError::LinuxHeaderLength { .. })
        ));
    }

    #[test]
    fn truncated_images_are_errors() {
        let k = bzimage();
        assert_eq!(
            parse_setup_header(&k[..0x1FF]),
            Err(BootError::LinuxHeaderTruncated {
                len: 0x1FF,
                need: 0x200
            })
        );
        assert_eq!(
            parse_setup_header(&k[..0x800]),
            Err(BootError::LinuxSetupTruncated {
                len: 0x800,
                setup_sects: 4,
                setup_end: PM_OFFSET
            })
        );
        assert_eq!(
            parse_setup_header(&k[..PM_OFFSET]),
            Err(BootError::LinuxNoProtectedModeCode)
        );
        assert_eq!(
            parse_setup_header(&k[..PM_OFFSET + 0x100]),
            Err(BootError::LinuxProtectedModeTruncated {
                expected: PM_LEN as u64,
                found: 0x100
            })
        );
    }

    #[test]
    fn every_prefix_of_an_image_is_an_error_not_a_panic() {
        let k = bzimage();
        for len in 0..k.len() {
            assert!(
                load_linux(&k[..len], None, "", &pc(256 * MIB)).is_err(),
                "len {len}"
            );
        }
    }

    #[test]
    fn hostile_header_values_are_errors() {
        let mem = pc(256 * MIB);
        let mut k = bzimage();
        hdr::PREF_ADDRESS.put(&mut k, u64::MAX);
        assert!(matches!(
            load_linux(&k, None, "", &mem),
            Err(BootError::LinuxKernelDoesNotFit { end: u64::MAX, .. })
        ));
        let mut k = bzimage();
        hdr::KERNEL_ALIGNMENT.put(&mut k, 0);
        assert_eq!(
            load_linux(&k, None, "", &mem),
            Err(BootError::LinuxBadAlignment { align: 0 })
        );
        let mut k = bzimage();
        hdr::INIT_SIZE.put(&mut k, u32::MAX);
        assert!(matches!(
            load_linux(&k, None, "", &mem),
            Err(BootError::LinuxKernelDoesNotFit { .. })
        ));
        let mut k = bzimage();
        hdr::SYSSIZE.put(&mut k, u32::MAX);
        assert!(matches!(
            load_linux(&k, None, "", &mem),
            Err(BootError::LinuxProtectedModeTruncated { .. })
        ));
    }

    #[test]
    fn too_many_e820_entries_are_an_error() {
        let mut mem = pc(256 * MIB);
        // 130 one-page holes in high RAM: far more than 128 entries.
        mem.reserved
            .extend((0..130).map(|i| (128 * MIB + i * 0x2000, 0x1000)));
        assert!(matches!(
            load_linux(&bzimage(), None, "", &mem),
            Err(BootError::TooManyE820Entries { max: 128, .. })
        ));
    }

    #[test]
    fn low_ram_too_small_for_the_command_line_is_an_error() {
        let mut mem = pc(256 * MIB);
        mem.low_ram_end = 0x2_0000;
        assert_eq!(
            load_linux(&bzimage(), None, "x", &mem),
            Err(BootError::LoadOutsideRam {
                what: LoadKind::Cmdline,
                start: 0x2_0000,
                end: 0x2_0002
            })
        );
    }

    /// Parses Debian's i386 kernel (and the amd64 one when present), built
    /// by `OUT=target/guests /work/shared/guests/build.sh`. This is the one
    /// test that skips: the kernels are downloaded, not part of the tree,
    /// so when the i386 file is absent it prints that it was skipped and
    /// returns.
    #[test]
    fn debian_kernel_produces_a_plan() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/guests");
        let Ok(kernel) = std::fs::read(root.join("i386/vmlinuz")) else {
            println!("SKIPPED: {} not found", root.join("i386/vmlinuz").display());
            return;
        };
        let initrd = std::fs::read(root.join("i386/initrd.gz")).ok();
        let mem = pc(256 * MIB);
        let cmdline = "console=ttyS0,115200 panic=-1 noapic nolapic acpi=off";
        let plan = load_linux(&kernel, initrd.as_deref(), cmdline, &mem).unwrap();
        let BootKind::Linux { header, .. } = &plan.kind else {
            panic!("not a Linux plan");
        };
        assert_eq!(header.version, 0x020F);
        assert!(header.relocatable);
        assert_eq!(header.pref_address, 0x100_0000);
        assert!(!header.kernel_64());
        assert!(header
            .kernel_version
            .as_deref()
            .unwrap_or("")
            .starts_with("6."));
        let image = plan.find(LoadKind::Kernel).unwrap();
        assert_eq!(
            image.data.len(),
            kernel.len() - header.protected_mode_offset()
        );
        if let Some(initrd) = &initrd {
            let load = plan.find(LoadKind::Initrd).unwrap();
            assert_eq!(
                load.addr,
                align_down(256 * MIB - initrd.len() as u64, PAGE_SIZE)
            );
        }
        if let Ok(kernel) = std::fs::read(root.join("amd64/vmlinuz")) {
            let h = parse_setup_header(&kernel).unwrap();
            assert!(h.kernel_64());
            assert!(load_linux(&kernel, None, cmdline, &mem).is_ok());
        }
    }
}
