//! `info` views: registers and the state of the PC chips, as text.

use crate::view;
use anyx86_cpu::arch::sreg;
use anyx86_cpu::Access;
use anyx86_cpu::{CpuState, Segment};
use anyx86_hw::Snapshot;
use anyx86_machine::Machine;

/// General registers, EIP and EFLAGS.
pub fn regs(s: &CpuState) -> String {
    let g = |i: usize| s.gpr[i] as u32;
    format!(
        "eax={:08x} ebx={:08x} ecx={:08x} edx={:08x}\n\
         esp={:08x} ebp={:08x} esi={:08x} edi={:08x}\n\
         eip={:08x} eflags={:08x} {}\n\
         cs:ip={:04x}:{:08x} linear={:08x} icount={}",
        g(0),
        g(3),
        g(1),
        g(2),
        g(4),
        g(5),
        g(6),
        g(7),
        s.rip as u32,
        s.eflags(),
        view::flags_text(s.eflags()),
        s.seg[sreg::CS].selector,
        s.rip,
        s.pc_linear(),
        s.icount
    )
}

fn seg_line(name: &str, g: &Segment) -> String {
    format!(
        "{name:<4}={:04x} base={:08x} limit={:08x} attr={:04x}{}",
        g.selector,
        g.base,
        g.limit,
        g.attr,
        if g.usable { "" } else { " (unusable)" }
    )
}

/// Segment registers with their hidden parts, LDTR, TR, GDTR, IDTR.
pub fn sregs(s: &CpuState) -> String {
    let names = ["es", "cs", "ss", "ds", "fs", "gs"];
    let mut out: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| seg_line(n, &s.seg[i]))
        .collect();
    out.push(seg_line("ldtr", &s.ldtr));
    out.push(seg_line("tr", &s.tr));
    out.push(format!(
        "gdtr base={:08x} limit={:04x}\nidtr base={:08x} limit={:04x}",
        s.gdtr.base, s.gdtr.limit, s.idtr.base, s.idtr.limit
    ));
    out.join("\n")
}

/// Control and debug registers and EFER.
pub fn cregs(s: &CpuState) -> String {
    format!(
        "cr0={:08x} cr2={:08x} cr3={:08x} cr4={:08x} efer={:016x}\n\
         dr0={:08x} dr1={:08x} dr2={:08x} dr3={:08x} dr6={:08x} dr7={:08x}\n\
         {}",
        s.cr0,
        s.cr2,
        s.cr3,
        s.cr4,
        s.efer,
        s.dr[0],
        s.dr[1],
        s.dr[2],
        s.dr[3],
        s.dr[6],
        s.dr[7],
        view::mode_line(s)
    )
}

/// Most TLB entries `info tlb` lists.
const TLB_SHOWN: usize = 64;

/// The valid software-TLB entries: linear page, physical page, which
/// privileges may use it and whether it takes the fast path.
pub fn tlb(s: &CpuState) -> String {
    let mut out = vec![format!("TLB misses {}", s.tlb.misses)];
    for (name, a) in [
        ("read", Access::Read),
        ("write", Access::Write),
        ("exec", Access::Exec),
    ] {
        let valid: Vec<String> = s
            .tlb
            .entries(a)
            .iter()
            .filter_map(|e| {
                let tag = e.tag.iter().find(|t| **t & 2 == 0)?;
                Some(format!(
                    "  {:08x} -> {:08x} {}{}{}",
                    tag & !0xFFF,
                    e.phys(),
                    if e.tag[0] & 2 == 0 { "S" } else { "-" },
                    if e.tag[1] & 2 == 0 { "U" } else { "-" },
                    if tag & 1 == 0 { " fast" } else { " slow" }
                ))
            })
            .collect();
        out.push(format!("{name}: {} entries", valid.len()));
        out.extend(valid.into_iter().take(TLB_SHOWN));
    }
    out.join("\n")
}

/// What `info WHAT` shows, or `None` for an unknown view.
pub fn info(m: &Machine, what: &str) -> Option<String> {
    let s = &m.cpu.s;
    Some(match what {
        "regs" | "registers" | "r" => regs(s),
        "sregs" => sregs(s),
        "cregs" => cregs(s),
        "gdt" => view::gdt_text(s, &m.board),
        "idt" => view::idt_text(s, &m.board),
        "tss" => view::tss_text(s, &m.board),
        "tlb" => tlb(s),
        "mode" => view::mode_line(s),
        "pic" => format!("{:#x?}", m.board.pic.save()),
        "pit" => format!("{:#x?}", m.board.pit.save()),
        "uart" => format!("{:#x?}", m.board.uarts[0].save()),
        _ => return None,
    })
}

/// The `info` topics.
pub const TOPICS: &str = "regs sregs cregs gdt idt tss tlb mode pic pit uart";
