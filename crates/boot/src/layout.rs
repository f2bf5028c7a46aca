//! Every guest address this crate chooses, in one place.
//!
//! The machine owns the memory map ([`crate::MemoryLayout`]); the loaders
//! only pick where their own structures go inside the RAM it reports, and
//! check that each lands in usable RAM and that none overlap.
//!
//! Linux (32-bit boot protocol), all in conventional memory below 0x30000,
//! clear of the real-mode IVT and BIOS data area (0x0–0x4FF) and far below
//! an EBDA at 0x9FC00:
//!
//! | range               | what                                          |
//! |---------------------|-----------------------------------------------|
//! | 0x01000–0x0101F     | boot GDT (null, unused, `__BOOT_CS`, `__BOOT_DS`) |
//! | 0x10000–0x10FFF     | `struct boot_params` (the zero page)          |
//! | 0x20000–0x2FFFF     | command line, NUL-terminated (64 KiB at most) |
//! | 0x100000–           | protected-mode kernel (`code32_start`)        |
//! | top of RAM below `initrd_addr_max` | initrd, page-aligned down      |
//!
//! The kernel copies `boot_params` and the command line into its own
//! memory early in boot, and loads its own GDT in the decompressor, so all
//! three low areas are free again once it runs.
//!
//! Multiboot has no fixed addresses: as QEMU does, modules go page-aligned
//! after the end of the kernel image (its BSS included, and at least at
//! 1 MiB), then one page-aligned block with the information structure, the
//! module list, the memory map, the GDT and the strings (see
//! [`crate::multiboot`]).

/// Linux: where the boot GDT goes.
pub const LINUX_GDT_ADDR: u64 = 0x1000;
/// Linux: where `struct boot_params` goes (ESI at entry).
pub const LINUX_BOOT_PARAMS_ADDR: u64 = 0x1_0000;
/// Linux: where the command line goes (`cmd_line_ptr`).
pub const LINUX_CMDLINE_ADDR: u64 = 0x2_0000;
/// Linux: bytes reserved for the command line, its NUL included.
pub const LINUX_CMDLINE_MAX: usize = 0x1_0000;
/// Linux: load address and entry point of the protected-mode kernel
/// (bzImage `code32_start`).
pub const LINUX_KERNEL_ADDR: u64 = 0x10_0000;
/// Alignment of the initrd and of Multiboot modules: one 4 KiB page.
pub const PAGE_SIZE: u64 = 0x1000;
