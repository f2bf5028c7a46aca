//! The one error type of the boot crate.
//!
//! Every check a loader makes on an image, a command line or the memory
//! layout has its own variant, so a failed boot names exactly what was
//! wrong. Messages are shown to users as `anyx86: <message>`.

use crate::plan::LoadKind;

/// Why a kernel image could not be turned into a [`crate::BootPlan`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BootError {
    // ---- memory layout (given by the machine) ----
    /// The conventional-memory end is above the 640 KiB VGA hole.
    #[error("memory layout: low RAM end {end:#x} is above 0xa0000 (the VGA hole)")]
    LowRamEndTooHigh {
        /// The `low_ram_end` given.
        end: u64,
    },
    /// There is no RAM above 1 MiB.
    #[error(
        "memory layout: {ram_bytes:#x} bytes of RAM; at least 1 MiB plus the kernel is needed"
    )]
    RamTooSmall {
        /// The `ram_bytes` given.
        ram_bytes: u64,
    },
    /// A reserved region is empty or wraps around the 64-bit address space.
    #[error("memory layout: reserved region at {base:#x} with length {len:#x} is empty or wraps")]
    ReservedRegionInvalid {
        /// Base of the region.
        base: u64,
        /// Length of the region.
        len: u64,
    },

    // ---- Linux setup header ----
    /// The file ends before the fields of the setup header that must be read.
    #[error("kernel image is {len} bytes: too short for a Linux setup header (needs {need})")]
    LinuxHeaderTruncated {
        /// Length of the file.
        len: usize,
        /// Bytes needed to read the header.
        need: usize,
    },
    /// The 0xAA55 boot flag at offset 0x1FE is missing.
    #[error("not a Linux kernel: boot flag at 0x1fe is {found:#06x}, expected 0xaa55")]
    LinuxBadBootFlag {
        /// The 16-bit value found.
        found: u16,
    },
    /// The "HdrS" magic at offset 0x202 is missing (a pre-2.00 kernel or not Linux).
    #[error("not a bzImage: no \"HdrS\" setup header magic at 0x202 (found {found:#010x})")]
    LinuxNoHdrS {
        /// The 32-bit value found.
        found: u32,
    },
    /// The boot protocol is older than 2.06 (no `cmdline_size`).
    #[error("Linux boot protocol {}.{:02} is too old: 2.06 or newer is required", .version >> 8, .version & 0xff)]
    LinuxProtocolTooOld {
        /// The protocol version, `(major << 8) | minor`.
        version: u16,
    },
    /// LOADED_HIGH is clear: a zImage, which must be loaded at 0x10000.
    #[error("zImage kernels (LOADED_HIGH clear in loadflags) are not supported; use a bzImage")]
    LinuxZImage,
    /// The setup header length given by the jump at 0x200 is too short or too long.
    #[error("setup header ends at {end:#x} (from the jump at 0x200); it must end between {min:#x} and {max:#x}")]
    LinuxHeaderLength {
        /// End offset of the header: 0x202 + the byte at 0x201.
        end: usize,
        /// Smallest end accepted (covers `cmdline_size`).
        min: usize,
        /// Largest end that fits in `boot_params`.
        max: usize,
    },
    /// The file ends inside the real-mode setup sectors.
    #[error("kernel image is {len} bytes but its setup code ({setup_sects} sectors) ends at {setup_end}")]
    LinuxSetupTruncated {
        /// Length of the file.
        len: usize,
        /// The effective `setup_sects`.
        setup_sects: u32,
        /// Offset where the protected-mode code should start.
        setup_end: usize,
    },
    /// There are no bytes after the setup code.
    #[error("kernel image has no protected-mode code after its setup code")]
    LinuxNoProtectedModeCode,
    /// The file is shorter than `syssize` says.
    #[error("kernel image truncated: syssize says {expected} bytes of protected-mode code, the file has {found}")]
    LinuxProtectedModeTruncated {
        /// Bytes promised by `syssize` (16-byte paragraphs).
        expected: u64,
        /// Bytes present after the setup code.
        found: u64,
    },
    /// A relocatable kernel declares an alignment that is zero or not a power of two.
    #[error("kernel_alignment {align:#x} is not a power of two")]
    LinuxBadAlignment {
        /// The `kernel_alignment` field.
        align: u32,
    },
    /// The kernel's image or its `init_size` working area does not fit in RAM.
    #[error("kernel needs RAM from {start:#x} to {end:#x} (init_size) but RAM above 1 MiB ends at {ram_end:#x}")]
    LinuxKernelDoesNotFit {
        /// Start of the area (0x100000).
        start: u64,
        /// End of the area: the larger of the image end and runtime start + `init_size`.
        end: u64,
        /// End of the contiguous usable RAM starting at 1 MiB.
        ram_end: u64,
    },
    /// An empty initrd was given.
    #[error("the initrd is empty")]
    InitrdEmpty,
    /// No RAM range fits the initrd between the kernel and `initrd_addr_max`.
    #[error("initrd of {size} bytes does not fit in RAM between the kernel end {kernel_end:#x} and {limit:#x} (min of initrd_addr_max and 4 GiB)")]
    InitrdTooLarge {
        /// Size of the initrd.
        size: u64,
        /// End of the kernel's `init_size` area.
        kernel_end: u64,
        /// One past the highest byte the initrd may use.
        limit: u64,
    },
    /// The memory layout has more E820 entries than `boot_params` can hold.
    #[error("memory layout has {count} E820 entries; boot_params holds at most {max}")]
    TooManyE820Entries {
        /// Entries in the layout.
        count: usize,
        /// Capacity of `e820_table`.
        max: usize,
    },

    // ---- command lines ----
    /// The command line is longer than the kernel or our buffer accepts.
    #[error("kernel command line is {len} bytes; at most {max} are accepted")]
    CmdlineTooLong {
        /// Length of the command line in bytes.
        len: usize,
        /// The maximum (the kernel's `cmdline_size` or our buffer).
        max: usize,
    },
    /// The command line contains a NUL byte, which would cut it short.
    #[error("kernel command line contains a NUL byte")]
    CmdlineContainsNul,
    /// A module command line contains a NUL byte.
    #[error("command line of module {index} contains a NUL byte")]
    ModuleCmdlineContainsNul {
        /// Index of the module.
        index: usize,
    },

    // ---- Multiboot ----
    /// A Multiboot magic was found but no header with a valid checksum.
    #[error("Multiboot header at offset {offset:#x}: checksum is wrong (magic + flags + checksum must be 0)")]
    MultibootBadChecksum {
        /// File offset of the first magic found.
        offset: usize,
    },
    /// The kernel requires features (flag bits 2-15) this loader does not provide.
    #[error("Multiboot kernel requires unsupported features: flags {unsupported:#06x} (bit 2 = video mode table)")]
    MultibootUnsupportedFlags {
        /// The requirement bits not understood or not provided.
        unsupported: u32,
    },
    /// The header's address fields run past the end of the file.
    #[error("Multiboot header at offset {offset:#x} is cut off by the end of the file")]
    MultibootHeaderTruncated {
        /// File offset of the header.
        offset: usize,
    },
    /// a.out kludge: `header_addr` is below `load_addr`.
    #[error(
        "Multiboot address fields: header_addr {header_addr:#x} is below load_addr {load_addr:#x}"
    )]
    AoutHeaderBelowLoad {
        /// `header_addr` field.
        header_addr: u32,
        /// `load_addr` field.
        load_addr: u32,
    },
    /// a.out kludge: loading would have to start before the start of the file.
    #[error("Multiboot address fields: header at file offset {offset:#x} is {distance:#x} bytes after load_addr, before the file start")]
    AoutLoadBeforeFileStart {
        /// File offset of the header.
        offset: usize,
        /// `header_addr - load_addr`.
        distance: u32,
    },
    /// a.out kludge: `load_end_addr` is below `load_addr`.
    #[error("Multiboot address fields: load_end_addr {load_end_addr:#x} is below load_addr {load_addr:#x}")]
    AoutLoadEndBelowLoad {
        /// `load_end_addr` field.
        load_end_addr: u32,
        /// `load_addr` field.
        load_addr: u32,
    },
    /// a.out kludge: the text and data to load run past the end of the file.
    #[error("Multiboot address fields: load of {len:#x} bytes from file offset {offset:#x} runs past the file end ({file_len:#x})")]
    AoutLoadBeyondFile {
        /// File offset where loading starts.
        offset: usize,
        /// Bytes to load.
        len: u64,
        /// Length of the file.
        file_len: usize,
    },
    /// a.out kludge: `bss_end_addr` is below the end of the loaded data.
    #[error("Multiboot address fields: bss_end_addr {bss_end_addr:#x} is below the load end {load_end:#x}")]
    AoutBssEndBelowLoadEnd {
        /// `bss_end_addr` field.
        bss_end_addr: u32,
        /// End of the loaded text and data.
        load_end: u64,
    },

    // ---- ELF (Multiboot kernels without the a.out kludge) ----
    /// No ELF magic, and the Multiboot header has no address fields (flag 16).
    #[error("Multiboot kernel is not ELF and its header has no address fields (flag bit 16)")]
    NotElf,
    /// The file is shorter than an ELF32 header.
    #[error("ELF header truncated: file is {len} bytes")]
    ElfHeaderTruncated {
        /// Length of the file.
        len: usize,
    },
    /// Not ELFCLASS32 (for example a 64-bit ELF).
    #[error("ELF class {class} is not supported: Multiboot v1 loads 32-bit ELF (class 1)")]
    ElfNot32Bit {
        /// `e_ident[EI_CLASS]`.
        class: u8,
    },
    /// Not little-endian.
    #[error("ELF data encoding {data} is not little-endian (1)")]
    ElfNotLittleEndian {
        /// `e_ident[EI_DATA]`.
        data: u8,
    },
    /// Not an executable (ET_EXEC).
    #[error("ELF type {e_type} is not an executable (ET_EXEC = 2)")]
    ElfNotExecutable {
        /// `e_type`.
        e_type: u16,
    },
    /// Not built for the i386 (EM_386).
    #[error("ELF machine {machine} is not i386 (EM_386 = 3)")]
    ElfNotI386 {
        /// `e_machine`.
        machine: u16,
    },
    /// Program header entries are smaller than an Elf32_Phdr.
    #[error("ELF program header entry size {size} is smaller than 32")]
    ElfBadPhentsize {
        /// `e_phentsize`.
        size: u16,
    },
    /// The program header table runs past the end of the file.
    #[error("ELF program header table ({count} entries at {offset:#x}) runs past the file end")]
    ElfProgramHeadersOutOfFile {
        /// `e_phoff`.
        offset: u32,
        /// `e_phnum`.
        count: u16,
    },
    /// A PT_LOAD segment's file bytes run past the end of the file.
    #[error("ELF segment {index}: file bytes {offset:#x}+{filesz:#x} run past the file end")]
    ElfSegmentOutOfFile {
        /// Program header index.
        index: usize,
        /// `p_offset`.
        offset: u32,
        /// `p_filesz`.
        filesz: u32,
    },
    /// A PT_LOAD segment has more file bytes than memory bytes.
    #[error("ELF segment {index}: p_filesz {filesz:#x} is larger than p_memsz {memsz:#x}")]
    ElfSegmentFileszAboveMemsz {
        /// Program header index.
        index: usize,
        /// `p_filesz`.
        filesz: u32,
        /// `p_memsz`.
        memsz: u32,
    },
    /// A PT_LOAD segment ends above 4 GiB.
    #[error("ELF segment {index}: {paddr:#x}+{memsz:#x} ends above 4 GiB")]
    ElfSegmentAbove4G {
        /// Program header index.
        index: usize,
        /// `p_paddr`.
        paddr: u32,
        /// `p_memsz`.
        memsz: u32,
    },
    /// No PT_LOAD segment with a non-zero size.
    #[error("ELF file has no loadable segment")]
    ElfNoLoadableSegments,

    // ---- the plan as a whole ----
    /// Something the loader places (a module, the info structure) would end above 4 GiB.
    #[error("{what} at {addr:#x} ({len:#x} bytes) would end above 4 GiB")]
    Above4G {
        /// What was being placed.
        what: LoadKind,
        /// Its address.
        addr: u64,
        /// Its length.
        len: u64,
    },
    /// A load lies (partly) outside usable RAM: in a hole, a reserved region or past the end.
    #[error("{what} at {start:#x}..{end:#x} is not inside usable RAM")]
    LoadOutsideRam {
        /// What the load is.
        what: LoadKind,
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// Two loads overlap.
    #[error("{first} and {second} overlap at {addr:#x}")]
    LoadsOverlap {
        /// The lower load.
        first: LoadKind,
        /// The load that starts inside it.
        second: LoadKind,
        /// Start of the second load.
        addr: u64,
    },
}
