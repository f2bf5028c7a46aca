//! ELF32 executables, as Multiboot v1 kernels are usually built.
//!
//! Specification: the System V ABI, "ELF Header" and "Program Header"
//! (Tool Interface Standard ELF 1.2, Book I chapter 1 and chapter 2).
//! Only what a loader needs: the header checks, the PT_LOAD segments and the
//! entry point. Every offset and size read from the file is checked against
//! its length.
//!
//! Not implemented: section headers (the Multiboot `syms` ELF section table),
//! relocations, ET_DYN images, ELF64.

use crate::bytes::{u16_at, u32_at, u8_at};
use crate::error::BootError;

/// `\x7FELF`.
const ELF_MAGIC: [u8; 4] = [0x7F, b'E', b'L', b'F'];
/// `e_ident[EI_CLASS]`.
const EI_CLASS: usize = 4;
/// `e_ident[EI_DATA]`.
const EI_DATA: usize = 5;
/// ELFCLASS32.
const ELFCLASS32: u8 = 1;
/// ELFDATA2LSB.
const ELFDATA2LSB: u8 = 1;
/// `e_type` (2 bytes).
const E_TYPE: usize = 16;
/// `e_machine` (2 bytes).
const E_MACHINE: usize = 18;
/// `e_entry` (4 bytes).
const E_ENTRY: usize = 24;
/// `e_phoff` (4 bytes).
const E_PHOFF: usize = 28;
/// `e_phentsize` (2 bytes).
const E_PHENTSIZE: usize = 42;
/// `e_phnum` (2 bytes).
const E_PHNUM: usize = 44;
/// Size of the ELF32 header.
const EHDR_SIZE: usize = 52;
/// ET_EXEC.
const ET_EXEC: u16 = 2;
/// EM_386.
const EM_386: u16 = 3;
/// Size of an Elf32_Phdr.
const PHDR_SIZE: u16 = 32;
/// PT_LOAD.
const PT_LOAD: u32 = 1;
/// Program header fields: `p_type`, `p_offset`, `p_vaddr`, `p_paddr`,
/// `p_filesz`, `p_memsz` (4 bytes each).
const P_TYPE: usize = 0;
const P_OFFSET: usize = 4;
const P_VADDR: usize = 8;
const P_PADDR: usize = 12;
const P_FILESZ: usize = 16;
const P_MEMSZ: usize = 20;

/// A PT_LOAD segment, checked to lie in the file and below 4 GiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ElfSegment {
    /// Physical load address.
    pub paddr: u32,
    /// Virtual address it is linked at.
    pub vaddr: u32,
    /// File offset of its bytes.
    pub offset: u32,
    /// Bytes in the file.
    pub filesz: u32,
    /// Bytes in memory (the rest is zeroed).
    pub memsz: u32,
}

/// The loadable parts of an ELF32 executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ElfImage {
    /// Physical entry point: `e_entry`, translated from virtual to physical
    /// when it lies in a segment linked at another address (as GRUB does
    /// for higher-half kernels).
    pub entry: u32,
    /// PT_LOAD segments with a non-zero memory size.
    pub segments: Vec<ElfSegment>,
}

/// Whether the file starts with the ELF magic.
pub(crate) fn is_elf(image: &[u8]) -> bool {
    image.starts_with(&ELF_MAGIC)
}

/// Parses and checks an ELF32 i386 executable.
pub(crate) fn parse_elf32(image: &[u8]) -> Result<ElfImage, BootError> {
    if !is_elf(image) {
        return Err(BootError::NotElf);
    }
    if image.len() < EHDR_SIZE {
        return Err(BootError::ElfHeaderTruncated { len: image.len() });
    }
    let truncated = BootError::ElfHeaderTruncated { len: image.len() };
    let r16 = |off| u16_at(image, off).ok_or(truncated.clone());
    let r32 = |off| u32_at(image, off).ok_or(truncated.clone());
    let class = u8_at(image, EI_CLASS).ok_or(truncated.clone())?;
    if class != ELFCLASS32 {
        return Err(BootError::ElfNot32Bit { class });
    }
    let data = u8_at(image, EI_DATA).ok_or(truncated.clone())?;
    if data != ELFDATA2LSB {
        return Err(BootError::ElfNotLittleEndian { data });
    }
    let e_type = r16(E_TYPE)?;
    if e_type != ET_EXEC {
        return Err(BootError::ElfNotExecutable { e_type });
    }
    let machine = r16(E_MACHINE)?;
    if machine != EM_386 {
        return Err(BootError::ElfNotI386 { machine });
    }
    let segments = load_segments(image, r32(E_PHOFF)?, r16(E_PHENTSIZE)?, r16(E_PHNUM)?)?;
    if segments.is_empty() {
        return Err(BootError::ElfNoLoadableSegments);
    }
    let entry = physical_entry(r32(E_ENTRY)?, &segments);
    Ok(ElfImage { entry, segments })
}

/// The PT_LOAD segments of the program header table.
fn load_segments(
    image: &[u8],
    phoff: u32,
    phentsize: u16,
    phnum: u16,
) -> Result<Vec<ElfSegment>, BootError> {
    if phnum == 0 {
        return Ok(Vec::new());
    }
    if phentsize < PHDR_SIZE {
        return Err(BootError::ElfBadPhentsize { size: phentsize });
    }
    let out_of_file = BootError::ElfProgramHeadersOutOfFile {
        offset: phoff,
        count: phnum,
    };
    let table_len = u64::from(phentsize) * u64::from(phnum);
    if u64::from(phoff) + table_len > image.len() as u64 {
        return Err(out_of_file);
    }
    let mut segments = Vec::new();
    for index in 0..usize::from(phnum) {
        let base = phoff as usize + index * usize::from(phentsize);
        let field = |off: usize| u32_at(image, base + off).ok_or(out_of_file.clone());
        if field(P_TYPE)? != PT_LOAD {
            continue;
        }
        let seg = ElfSegment {
            offset: field(P_OFFSET)?,
            vaddr: field(P_VADDR)?,
            paddr: field(P_PADDR)?,
            filesz: field(P_FILESZ)?,
            memsz: field(P_MEMSZ)?,
        };
        check_segment(image, index, &seg)?;
        if seg.memsz != 0 {
            segments.push(seg);
        }
    }
    Ok(segments)
}

/// A segment's bytes lie in the file, fit its memory size, and end below 4 GiB.
fn check_segment(image: &[u8], index: usize, s: &ElfSegment) -> Result<(), BootError> {
    if u64::from(s.offset) + u64::from(s.filesz) > image.len() as u64 {
        return Err(BootError::ElfSegmentOutOfFile {
            index,
            offset: s.offset,
            filesz: s.filesz,
        });
    }
    if s.filesz > s.memsz {
        return Err(BootError::ElfSegmentFileszAboveMemsz {
            index,
            filesz: s.filesz,
            memsz: s.memsz,
        });
    }
    if u64::from(s.paddr) + u64::from(s.memsz) > 1 << 32 {
        return Err(BootError::ElfSegmentAbove4G {
            index,
            paddr: s.paddr,
            memsz: s.memsz,
        });
    }
    Ok(())
}

/// `e_entry` moved from the virtual range of the segment holding it to that
/// segment's physical range; unchanged when no segment holds it.
fn physical_entry(entry: u32, segments: &[ElfSegment]) -> u32 {
    segments
        .iter()
        .find(|s| entry >= s.vaddr && u64::from(entry) < u64::from(s.vaddr) + u64::from(s.memsz))
        .map_or(entry, |s| s.paddr.wrapping_add(entry - s.vaddr))
}

/// Test helper: builds an ELF32 i386 executable with one PT_LOAD per
/// `(paddr, vaddr, bytes, memsz)`, the bytes placed from file offset 0x100.
#[cfg(test)]
pub(crate) fn build_elf(entry: u32, segments: &[(u32, u32, Vec<u8>, u32)]) -> Vec<u8> {
    use crate::bytes::{put, put_u16, put_u32};
    let data_start = 0x100usize;
    let total: usize = segments.iter().map(|s| s.2.len()).sum();
    let mut f = vec![0u8; data_start + total];
    put(&mut f, 0, &ELF_MAGIC);
    f[EI_CLASS] = ELFCLASS32;
    f[EI_DATA] = ELFDATA2LSB;
    f[6] = 1; // EV_CURRENT
    put_u16(&mut f, E_TYPE, ET_EXEC);
    put_u16(&mut f, E_MACHINE, EM_386);
    put_u32(&mut f, 20, 1); // e_version
    put_u32(&mut f, E_ENTRY, entry);
    put_u32(&mut f, E_PHOFF, EHDR_SIZE as u32);
    put_u16(&mut f, 40, EHDR_SIZE as u16); // e_ehsize
    put_u16(&mut f, E_PHENTSIZE, PHDR_SIZE);
    put_u16(&mut f, E_PHNUM, segments.len() as u16);
    let mut offset = data_start;
    for (i, (paddr, vaddr, bytes, memsz)) in segments.iter().enumerate() {
        let ph = EHDR_SIZE + i * usize::from(PHDR_SIZE);
        put_u32(&mut f, ph + P_TYPE, PT_LOAD);
        put_u32(&mut f, ph + P_OFFSET, offset as u32);
        put_u32(&mut f, ph + P_VADDR, *vaddr);
        put_u32(&mut f, ph + P_PADDR, *paddr);
        put_u32(&mut f, ph + P_FILESZ, bytes.len() as u32);
        put_u32(&mut f, ph + P_MEMSZ, *memsz);
        put(&mut f, offset, bytes);
        offset += bytes.len();
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::{put_u16, put_u32};

    fn simple() -> Vec<u8> {
        build_elf(0x10_0010, &[(0x10_0000, 0x10_0000, vec![0x90; 0x40], 0x80)])
    }

    #[test]
    fn segments_and_entry_are_read() {
        let img = parse_elf32(&simple()).unwrap();
        assert_eq!(img.entry, 0x10_0010);
        assert_eq!(
            img.segments,
            vec![ElfSegment {
                paddr: 0x10_0000,
                vaddr: 0x10_0000,
                offset: 0x100,
                filesz: 0x40,
                memsz: 0x80
            }]
        );
    }

    #[test]
    fn higher_half_entry_is_translated_to_physical() {
        let f = build_elf(
            0xC010_0020,
            &[(0x10_0000, 0xC010_0000, vec![0; 0x40], 0x40)],
        );
        assert_eq!(parse_elf32(&f).unwrap().entry, 0x10_0020);
        // An entry outside every segment is used as is.
        let f = build_elf(0x20_0000, &[(0x10_0000, 0xC010_0000, vec![0; 0x40], 0x40)]);
        assert_eq!(parse_elf32(&f).unwrap().entry, 0x20_0000);
    }

    #[test]
    fn header_checks() {
        let mut f = simple();
        f[EI_CLASS] = 2;
        assert_eq!(parse_elf32(&f), Err(BootError::ElfNot32Bit { class: 2 }));
        let mut f = simple();
        f[EI_DATA] = 2;
        assert_eq!(
            parse_elf32(&f),
            Err(BootError::ElfNotLittleEndian { data: 2 })
        );
        let mut f = simple();
        put_u16(&mut f, E_TYPE, 1);
        assert_eq!(
            parse_elf32(&f),
            Err(BootError::ElfNotExecutable { e_type: 1 })
        );
        let mut f = simple();
        put_u16(&mut f, E_MACHINE, 62);
        assert_eq!(parse_elf32(&f), Err(BootError::ElfNotI386 { machine: 62 }));
        let mut f = simple();
        put_u16(&mut f, E_PHENTSIZE, 16);
        assert_eq!(
            parse_elf32(&f),
            Err(BootError::ElfBadPhentsize { size: 16 })
        );
        assert_eq!(parse_elf32(b"MZ"), Err(BootError::NotElf));
        assert_eq!(
            parse_elf32(&simple()[..20]),
            Err(BootError::ElfHeaderTruncated { len: 20 })
        );
    }

    #[test]
    fn program_header_table_must_be_in_the_file() {
        let mut f = simple();
        put_u32(&mut f, E_PHOFF, 0xFFFF_FFF0);
        assert!(matches!(
            parse_elf32(&f),
            Err(BootError::ElfProgramHeadersOutOfFile { .. })
        ));
        let mut f = simple();
        put_u16(&mut f, E_PHNUM, 0xFFFF);
        assert!(matches!(
            parse_elf32(&f),
            Err(BootError::ElfProgramHeadersOutOfFile { .. })
        ));
        let mut f = simple();
        put_u16(&mut f, E_PHNUM, 0);
        assert_eq!(parse_elf32(&f), Err(BootError::ElfNoLoadableSegments));
    }

    #[test]
    fn segment_checks() {
        let ph = EHDR_SIZE;
        let mut f = simple();
        put_u32(&mut f, ph + P_FILESZ, 0x41);
        assert!(matches!(
            parse_elf32(&f),
            Err(BootError::ElfSegmentOutOfFile { index: 0, .. })
        ));
        let mut f = simple();
        put_u32(&mut f, ph + P_OFFSET, u32::MAX);
        assert!(matches!(
            parse_elf32(&f),
            Err(BootError::ElfSegmentOutOfFile { .. })
        ));
        let mut f = simple();
        put_u32(&mut f, ph + P_MEMSZ, 0x20);
        assert!(matches!(
            parse_elf32(&f),
            Err(BootError::ElfSegmentFileszAboveMemsz { .. })
        ));
        let mut f = simple();
        put_u32(&mut f, ph + P_PADDR, 0xFFFF_FFF0);
        assert!(matches!(
            parse_elf32(&f),
            Err(BootError::ElfSegmentAbove4G { .. })
        ));
    }
}
