//! Side-effect-free views of the machine: the CPU mode, page walks, guest
//! memory by linear or physical address, descriptor tables.
//!
//! Everything here reads through [`CpuBus::peek_phys`]: no device read,
//! no accessed or dirty bit set, no TLB fill.

use anyx86_cpu::arch::{cr0, cr4, efer, fl, Mode};
use anyx86_cpu::{CpuBus, CpuState};
use anyx86_machine::Machine;
use std::fmt;

/// The CPU mode as a debugger user thinks of it (Bochs's `modebp` view).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuMode {
    /// Real-address mode.
    Real,
    /// Protected mode without paging.
    Protected,
    /// Protected mode with paging.
    Paging,
    /// Virtual-8086 mode.
    V86,
    /// Long mode.
    Long,
}

impl CpuMode {
    /// The mode of `s`.
    pub fn of(s: &CpuState) -> Self {
        match s.mode {
            Mode::Real => CpuMode::Real,
            Mode::V86 => CpuMode::V86,
            Mode::Long => CpuMode::Long,
            Mode::Protected if s.paging() => CpuMode::Paging,
            Mode::Protected => CpuMode::Protected,
        }
    }

    /// Parses a mode name as the trace filter and `mode` commands take it.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "real" => CpuMode::Real,
            "protected" | "pm" => CpuMode::Protected,
            "paging" | "paged" => CpuMode::Paging,
            "v86" | "vm86" => CpuMode::V86,
            "long" => CpuMode::Long,
            _ => return None,
        })
    }
}

impl fmt::Display for CpuMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CpuMode::Real => "real",
            CpuMode::Protected => "protected",
            CpuMode::Paging => "protected+paging",
            CpuMode::V86 => "v86",
            CpuMode::Long => "long",
        })
    }
}

/// One line of the CPU's mode for `info mode`.
pub fn mode_line(s: &CpuState) -> String {
    format!(
        "mode {} ({}-bit code, CPL {}, A20 {}) CS:IP {:04x}:{:08x} linear {:08x}",
        CpuMode::of(s),
        s.bitness,
        s.cpl,
        if s.a20_mask == u64::MAX { "on" } else { "off" },
        s.seg[anyx86_cpu::arch::sreg::CS].selector,
        s.rip,
        s.pc_linear()
    )
}

/// One level of a page walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkStep {
    /// Level name (PML4E, PDPTE, PDE, PTE).
    pub level: &'static str,
    /// Physical address of the entry.
    pub addr: u64,
    /// The entry.
    pub entry: u64,
}

/// A side-effect-free page walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk {
    /// The entries read, outermost first.
    pub steps: Vec<WalkStep>,
    /// The physical address, when the walk ends at a present page.
    pub phys: Option<u64>,
}

const P: u64 = 1;
const PS: u64 = 1 << 7;
const ADDR: u64 = 0x000F_FFFF_FFFF_F000;

fn peek_u64<B: CpuBus>(bus: &B, paddr: u64, n: u64) -> u64 {
    (0..n).fold(0, |v, i| {
        v | u64::from(bus.peek_phys(paddr.wrapping_add(i))) << (8 * i)
    })
}

/// Whether `lin` is canonical for 48-bit linear addresses (bits 63:47
/// all equal).
pub fn canonical(lin: u64) -> bool {
    (((lin << 16) as i64) >> 16) as u64 == lin
}

/// Walks the page tables for linear address `lin` without touching them.
/// While IA-32e mode is active a non-canonical address has no
/// translation (the CPU faults on it).
pub fn walk<B: CpuBus>(s: &CpuState, bus: &B, lin: u64) -> Walk {
    let a20 = bus.a20_mask();
    let mut steps = Vec::new();
    if s.cr0 & cr0::PG == 0 {
        let lin = if s.bitness == 64 {
            lin
        } else {
            lin & 0xFFFF_FFFF
        };
        return Walk {
            steps,
            phys: Some(lin & a20),
        };
    }
    let lin = if s.efer & efer::LMA != 0 {
        if !canonical(lin) {
            return Walk { steps, phys: None };
        }
        lin
    } else {
        lin & 0xFFFF_FFFF
    };
    let mut step = |level, addr: u64, size| {
        let addr = addr & a20;
        let entry = peek_u64(bus, addr, size);
        steps.push(WalkStep { level, addr, entry });
        entry
    };
    let phys = if s.cr4 & cr4::PAE == 0 {
        let pde = step("PDE", (s.cr3 & 0xFFFF_F000) | ((lin >> 20) & 0xFFC), 4);
        if pde & P == 0 {
            None
        } else if pde & PS != 0 && s.cr4 & cr4::PSE != 0 {
            Some((pde & 0xFFC0_0000) | (lin & 0x3F_FFFF))
        } else {
            let pte = step("PTE", (pde & 0xFFFF_F000) | ((lin >> 10) & 0xFFC), 4);
            (pte & P != 0).then_some((pte & 0xFFFF_F000) | (lin & 0xFFF))
        }
    } else {
        let long = s.efer & efer::LMA != 0;
        let (mut table, top) = if long {
            (s.cr3 & ADDR, 3)
        } else {
            let e = step("PDPTE", (s.cr3 & 0xFFFF_FFE0) + ((lin >> 30) & 3) * 8, 8);
            (if e & P != 0 { e & ADDR } else { u64::MAX }, 1)
        };
        let names = ["PTE", "PDE", "PDPTE", "PML4E"];
        let mut found = None;
        if table != u64::MAX {
            for level in (0..=top).rev() {
                let shift = 12 + 9 * level as u64;
                let e = step(names[level], table + ((lin >> shift) & 0x1FF) * 8, 8);
                if e & P == 0 {
                    break;
                }
                if level == 0 || (e & PS != 0 && level < 3) {
                    let m = (1u64 << shift) - 1;
                    found = Some((e & ADDR & !m) | (lin & m));
                    break;
                }
                table = e & ADDR;
            }
        }
        found
    };
    Walk {
        steps,
        phys: phys.map(|p| p & a20),
    }
}

/// Translates a linear address without side effects.
pub fn lin_to_phys<B: CpuBus>(s: &CpuState, bus: &B, lin: u64) -> Option<u64> {
    walk(s, bus, lin).phys
}

/// Reads guest memory at linear address `lin` into `buf`; returns the
/// number of bytes read before the first unmapped page.
pub fn read_linear<B: CpuBus>(s: &CpuState, bus: &B, lin: u64, buf: &mut [u8]) -> usize {
    let mut page = None;
    for (i, b) in buf.iter_mut().enumerate() {
        let a = lin.wrapping_add(i as u64);
        let base = match page {
            Some((lp, pp)) if lp == a & !0xFFF => pp,
            _ => match lin_to_phys(s, bus, a & !0xFFF) {
                Some(pp) => {
                    page = Some((a & !0xFFF, pp & !0xFFF));
                    pp & !0xFFF
                }
                None => return i,
            },
        };
        *b = bus.peek_phys(base | (a & 0xFFF));
    }
    buf.len()
}

/// Writes `data` to guest RAM at linear address `lin` (ROM and unmapped
/// bytes are left alone) and drops decoded code, which may be stale.
/// Returns the first linear address that is not mapped, if any.
pub fn write_linear(m: &mut Machine, lin: u64, data: &[u8]) -> Result<(), u64> {
    let mut r = Ok(());
    for (i, b) in data.iter().enumerate() {
        let a = lin.wrapping_add(i as u64);
        match lin_to_phys(&m.cpu.s, &m.board, a) {
            Some(p) => m.debug_write_phys(p, &[*b]),
            None => {
                r = Err(a);
                break;
            }
        }
    }
    m.cpu.flush_code_cache();
    r
}

/// Reads physical memory into `buf`.
pub fn read_phys<B: CpuBus>(bus: &B, paddr: u64, buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = bus.peek_phys(paddr.wrapping_add(i as u64));
    }
}

/// The page walk of `lin` as text (`page ADDR`).
pub fn page_text<B: CpuBus>(s: &CpuState, bus: &B, lin: u64) -> String {
    let w = walk(s, bus, lin);
    let mut out = String::new();
    if s.cr0 & cr0::PG == 0 {
        out += "paging is off: linear = physical\n";
    }
    for st in &w.steps {
        out += &format!(
            "{:<6} at {:#011x}: {:#018x} {}\n",
            st.level,
            st.addr,
            st.entry,
            entry_flags(st.entry)
        );
    }
    match w.phys {
        Some(p) => out += &format!("linear {lin:#x} -> physical {p:#x}"),
        None => out += &format!("linear {lin:#x} is not mapped"),
    }
    out
}

fn entry_flags(e: u64) -> String {
    let bits = [
        (0, "P"),
        (1, "RW"),
        (2, "US"),
        (3, "PWT"),
        (4, "PCD"),
        (5, "A"),
        (6, "D"),
        (7, "PS"),
        (8, "G"),
        (63, "NX"),
    ];
    bits.iter()
        .filter(|(b, _)| e & (1 << b) != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A descriptor-table dump (GDT, LDT or IDT entries).
fn descriptor_text(raw: u64, idt: bool) -> String {
    let access = (raw >> 40) & 0xFF;
    let present = access & 0x80 != 0;
    let dpl = (access >> 5) & 3;
    let system = access & 0x10 == 0;
    let ty = access & 0xF;
    if idt || (system && matches!(ty, 4 | 5 | 6 | 7 | 12 | 14 | 15)) {
        let sel = (raw >> 16) & 0xFFFF;
        let off = (raw & 0xFFFF) | ((raw >> 32) & 0xFFFF_0000);
        let kind = match ty {
            5 => "task gate",
            6 | 14 => "interrupt gate",
            7 | 15 => "trap gate",
            4 | 12 => "call gate",
            _ => "invalid gate",
        };
        return format!(
            "{kind}{} {sel:04x}:{off:08x} DPL {dpl}{}",
            if ty & 8 != 0 { "32" } else { "16" },
            if present { "" } else { " not present" }
        );
    }
    let seg = anyx86_cpu::Segment::from_descriptor(0, raw);
    let kind = if system {
        match ty {
            1 => "TSS16 (available)",
            2 => "LDT",
            3 => "TSS16 (busy)",
            9 => "TSS32 (available)",
            11 => "TSS32 (busy)",
            _ => "reserved system",
        }
    } else if ty & 8 != 0 {
        "code"
    } else {
        "data"
    };
    format!(
        "{kind} base {:08x} limit {:08x} DPL {dpl} {}{}{}",
        seg.base,
        seg.limit,
        if !system && seg.big() {
            "32-bit"
        } else {
            "16-bit"
        },
        if present { "" } else { " not present" },
        if raw & (1 << 53) != 0 { " L" } else { "" }
    )
}

/// Dumps the descriptor table at linear `base` with byte limit `limit`
/// (at most `max` entries).
pub fn table_text<B: CpuBus>(
    s: &CpuState,
    bus: &B,
    base: u64,
    limit: u64,
    idt: bool,
    max: usize,
) -> String {
    let entries = ((limit + 1) / 8) as usize;
    let mut out = format!("base {base:#x} limit {limit:#x} ({entries} entries)\n");
    if s.mode == Mode::Real && idt {
        // The real-mode IVT: 4-byte seg:off vectors.
        for i in 0..((limit + 1) / 4).min(max as u64) {
            let mut b = [0u8; 4];
            read_linear(s, bus, base + i * 4, &mut b);
            let v = u32::from_le_bytes(b);
            out += &format!("{i:3}: {:04x}:{:04x}\n", v >> 16, v & 0xFFFF);
        }
        return out.trim_end().to_string();
    }
    for i in 0..entries.min(max) {
        let mut b = [0u8; 8];
        let n = read_linear(s, bus, base + i as u64 * 8, &mut b);
        if n < 8 {
            out += &format!("{i:3}: unmapped\n");
            break;
        }
        let raw = u64::from_le_bytes(b);
        if raw == 0 {
            continue;
        }
        let label = if idt {
            format!("{i:3}")
        } else {
            format!("{:04x}", i * 8)
        };
        out += &format!("{label}: {raw:016x} {}\n", descriptor_text(raw, idt));
    }
    out.trim_end().to_string()
}

/// The GDT.
pub fn gdt_text<B: CpuBus>(s: &CpuState, bus: &B) -> String {
    format!(
        "GDT {}",
        table_text(s, bus, s.gdtr.base, u64::from(s.gdtr.limit), false, 64)
    )
}

/// The IDT (or the real-mode IVT).
pub fn idt_text<B: CpuBus>(s: &CpuState, bus: &B) -> String {
    format!(
        "IDT {}",
        table_text(s, bus, s.idtr.base, u64::from(s.idtr.limit), true, 64)
    )
}

/// The current TSS.
pub fn tss_text<B: CpuBus>(s: &CpuState, bus: &B) -> String {
    let tr = s.tr;
    let mut out = format!(
        "TR {:04x} base {:08x} limit {:08x} type {}\n",
        tr.selector,
        tr.base,
        tr.limit,
        tr.attr & 0xF
    );
    let big = tr.attr & 8 != 0;
    let mut b = [0u8; 104];
    let n = read_linear(s, bus, tr.base, &mut b);
    let rd = |off: usize, sz: usize| {
        if off + sz > n {
            return None;
        }
        Some(
            b[off..off + sz]
                .iter()
                .rev()
                .fold(0u64, |v, x| (v << 8) | u64::from(*x)),
        )
    };
    let fields: &[(&str, usize, usize)] = if big {
        &[
            ("link", 0, 2),
            ("esp0", 4, 4),
            ("ss0", 8, 2),
            ("esp1", 12, 4),
            ("ss1", 16, 2),
            ("esp2", 20, 4),
            ("ss2", 24, 2),
            ("cr3", 28, 4),
            ("eip", 32, 4),
            ("eflags", 36, 4),
            ("eax", 40, 4),
            ("ecx", 44, 4),
            ("edx", 48, 4),
            ("ebx", 52, 4),
            ("esp", 56, 4),
            ("ebp", 60, 4),
            ("esi", 64, 4),
            ("edi", 68, 4),
            ("es", 72, 2),
            ("cs", 76, 2),
            ("ss", 80, 2),
            ("ds", 84, 2),
            ("fs", 88, 2),
            ("gs", 92, 2),
            ("ldt", 96, 2),
            ("iomap", 102, 2),
        ]
    } else {
        &[
            ("link", 0, 2),
            ("sp0", 2, 2),
            ("ss0", 4, 2),
            ("sp1", 6, 2),
            ("ss1", 8, 2),
            ("sp2", 10, 2),
            ("ss2", 12, 2),
            ("ip", 14, 2),
            ("flags", 16, 2),
            ("ldt", 42, 2),
        ]
    };
    for (i, (name, off, sz)) in fields.iter().enumerate() {
        match rd(*off, *sz) {
            Some(v) => out += &format!("{name:>6}={v:0w$x}", w = sz * 2),
            None => out += &format!("{name:>6}=??"),
        }
        out += if i % 4 == 3 { "\n" } else { "  " };
    }
    out.trim_end().to_string()
}

/// EFLAGS as a list of set flag names.
pub fn flags_text(v: u32) -> String {
    let names = [
        (fl::CF, "CF"),
        (fl::PF, "PF"),
        (fl::AF, "AF"),
        (fl::ZF, "ZF"),
        (fl::SF, "SF"),
        (fl::TF, "TF"),
        (fl::IF, "IF"),
        (fl::DF, "DF"),
        (fl::OF, "OF"),
        (fl::NT, "NT"),
        (fl::RF, "RF"),
        (fl::VM, "VM"),
        (fl::AC, "AC"),
        (fl::VIF, "VIF"),
        (fl::VIP, "VIP"),
        (fl::ID, "ID"),
    ];
    let mut out: Vec<&str> = names
        .iter()
        .filter(|(b, _)| v & b != 0)
        .map(|(_, n)| *n)
        .collect();
    let iopl = format!("IOPL={}", (v >> 12) & 3);
    out.push(&iopl);
    format!("[ {} ]", out.join(" "))
}

/// A hex dump of `data` at address `addr`, 16 bytes a line.
pub fn hexdump(addr: u64, data: &[u8]) -> String {
    let mut out = String::new();
    for (i, chunk) in data.chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let asc: String = chunk
            .iter()
            .map(|&b| {
                if (0x20..0x7F).contains(&b) {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        out += &format!(
            "{:08x}: {:<47}  {asc}\n",
            addr.wrapping_add(i as u64 * 16),
            hex.join(" ")
        );
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyx86_machine::MachineConfig;

    #[test]
    fn canonical_means_bits_63_to_47_equal() {
        assert!(canonical(0x0000_7FFF_FFFF_FFFF));
        assert!(canonical(0xFFFF_8000_0000_0000));
        assert!(!canonical(0x0000_8000_0000_0000));
        assert!(!canonical(0xFFFF_7FFF_FFFF_FFFF));
    }

    fn machine() -> Machine {
        Machine::new(MachineConfig::new(2)).expect("a 2 MiB machine")
    }

    fn poke32(m: &mut Machine, a: u64, v: u32) {
        for (i, b) in v.to_le_bytes().iter().enumerate() {
            m.board.mem.write_u8(a + i as u64, *b);
        }
    }

    #[test]
    fn without_paging_linear_is_physical() {
        let m = machine();
        assert_eq!(lin_to_phys(&m.cpu.s, &m.board, 0x1234), Some(0x1234));
    }

    #[test]
    fn a_two_level_walk_reads_the_tables_and_sets_no_accessed_bit() {
        let mut m = machine();
        // Page directory at 0x10000, one page table at 0x11000 mapping
        // linear 0x0040_3000 to physical 0x0005_6000 (P|RW).
        poke32(&mut m, 0x10000 + 4, 0x11000 | 3);
        poke32(&mut m, 0x11000 + 3 * 4, 0x56000 | 3);
        m.cpu.s.cr3 = 0x10000;
        m.cpu.s.cr0 |= cr0::PG | cr0::PE;
        let w = walk(&m.cpu.s, &m.board, 0x0040_3ABC);
        assert_eq!(w.phys, Some(0x56ABC));
        assert_eq!(w.steps.len(), 2);
        assert_eq!(w.steps[1].entry, 0x56003, "no accessed bit set");
        assert_eq!(walk(&m.cpu.s, &m.board, 0x0080_0000).phys, None);
        let text = page_text(&m.cpu.s, &m.board, 0x0040_3ABC);
        assert!(
            text.contains("linear 0x403abc -> physical 0x56abc"),
            "{text}"
        );
    }

    #[test]
    fn a_4mib_page_maps_with_pse() {
        let mut m = machine();
        poke32(&mut m, 0x10000 + 4, 0x0080_0000 | 0x83);
        m.cpu.s.cr3 = 0x10000;
        m.cpu.s.cr4 |= cr4::PSE;
        m.cpu.s.cr0 |= cr0::PG | cr0::PE;
        assert_eq!(
            lin_to_phys(&m.cpu.s, &m.board, 0x0041_2345),
            Some(0x0081_2345)
        );
    }

    #[test]
    fn a_4_level_walk_maps_the_upper_half_and_refuses_non_canonical() {
        let mut m = machine();
        // PML4 at 0x10000: entries 0 and 256 -> PDPT 0x11000 -> PD
        // 0x12000 with a 2 MiB page at 0.
        poke32(&mut m, 0x10000, 0x11000 | 3);
        poke32(&mut m, 0x10000 + 256 * 8, 0x11000 | 3);
        poke32(&mut m, 0x11000, 0x12000 | 3);
        poke32(&mut m, 0x12000, 0x83);
        m.cpu.s.cr3 = 0x10000;
        m.cpu.s.cr4 |= cr4::PAE;
        m.cpu.s.efer |= efer::LME | efer::LMA;
        m.cpu.s.cr0 |= cr0::PG | cr0::PE;
        let w = walk(&m.cpu.s, &m.board, 0xFFFF_8000_0001_2345);
        assert_eq!(w.phys, Some(0x1_2345));
        assert_eq!(w.steps.len(), 3);
        // 0x0000_8000_0001_2345 has the same PML4 index (bits 47:39) but
        // is not canonical: no translation, no table read.
        let w = walk(&m.cpu.s, &m.board, 0x0000_8000_0001_2345);
        assert_eq!(w.phys, None);
        assert!(w.steps.is_empty());
    }

    #[test]
    fn linear_reads_stop_at_the_first_unmapped_page() {
        let mut m = machine();
        poke32(&mut m, 0x10000, 0x11000 | 3);
        poke32(&mut m, 0x11000, 0x20000 | 3);
        m.cpu.s.cr3 = 0x10000;
        m.cpu.s.cr0 |= cr0::PG | cr0::PE;
        let mut buf = [0u8; 16];
        assert_eq!(read_linear(&m.cpu.s, &m.board, 0xFF8, &mut buf), 8);
    }

    #[test]
    fn hexdump_shows_ascii() {
        assert_eq!(
            hexdump(0x10, b"AB\x00"),
            "00000010: 41 42 00                                         AB."
        );
    }
}
