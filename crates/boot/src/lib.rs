//! Kernel image loaders: they parse an image and return plain data — what
//! to write where in guest memory and the CPU state to enter with — and
//! touch no CPU and no memory (rust-vmm linux-loader's split between
//! loading and configuring). The machine turns a [`BootPlan`] into memory
//! writes and register state.
//!
//! - [`load_linux`]: the Linux x86 boot protocol, 32-bit entry
//!   (`Documentation/arch/x86/boot.rst`), for bzImage kernels; see
//!   [`linux`].
//! - [`load_multiboot`]: Multiboot v1 (specification 0.6.96), ELF32 and
//!   a.out-kludge kernels with modules; see [`multiboot`]. It returns
//!   `Ok(None)` for an image without a Multiboot header, so a caller tries
//!   Multiboot first and Linux second.
//! - [`MemoryLayout`]: the memory map the machine gives the loaders, turned
//!   into E820 / Multiboot memory maps.
//! - [`layout`]: every address the loaders choose themselves.
//!
//! The entry state is always 32-bit protected mode with paging off (see
//! [`EntryMode`]): the machine sets CR0.PE, installs the GDT the plan
//! describes (it is also one of the loads), loads the segment registers'
//! hidden parts from its descriptors ([`Entry::code_segment`],
//! [`Entry::data_segment`]), enables A20, sets the registers and EFLAGS
//! (IF clear) and starts at EIP.
//!
//! Every size and offset read from an image is checked: a truncated or
//! hostile image is a [`BootError`], never a panic, and a BSS is a
//! zero-fill length rather than an allocation.
//!
//! Not implemented: Linux's 16-bit real-mode entry and 64-bit entry, zImage,
//! protocols before 2.06, placing anything above 4 GiB, Multiboot video
//! modes, symbol tables and Multiboot 2, ELF64.
#![forbid(unsafe_code)]

mod bytes;
mod elf;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod layout;
pub mod linux;
mod memory;
pub mod multiboot;
mod plan;

pub use error::BootError;
pub use linux::{load_linux, parse_setup_header, set_vga_text_console, SetupHeader};
pub use memory::{E820Entry, E820Type, MemoryLayout, HIGH_RAM_START, VGA_HOLE_START};
pub use multiboot::{load_multiboot, multiboot_cmdline, AoutKludge, MultibootHeader};
pub use plan::{
    descriptor, BootKind, BootPlan, Entry, EntryMode, Gdt, Load, LoadKind, Registers, Segment,
    BOOT_CS, BOOT_DS, FLAT_CODE, FLAT_DATA, SEG_ACCESS_CODE, SEG_ACCESS_DATA, SEG_FLAG_DB,
    SEG_FLAG_G,
};
