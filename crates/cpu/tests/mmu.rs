//! Paging (SDM Vol. 3A, chapter 4): page-fault error codes and CR2 (4.7),
//! the access rights of 4.6 (CR0.WP, U/S, EFER.NXE), accessed and dirty
//! bits (4.8), TLB invalidation by INVLPG and a CR3 load (4.10.4), and that
//! a write straddling into a not-present page writes nothing. 4-level
//! paging in 64-bit mode with the low 2 MiB in 4 KiB pages, and 32-bit
//! paging in protected mode.

use crate::common::asm::{asm32, asm64};
use crate::common::long64::{Exit, CODE, GDT, M, PML4, STACK};
use crate::common::prot32::{M32, PD, PRW};
use anyx86_cpu::arch::pf;
use anyx86_cpu::arch::pte::{A, D, NX, P, RW, US};
use anyx86_cpu::arch::{cr0, efer, sreg, Segment};
use anyx86_cpu::cpuid::CpuModel;

/// The page table that maps linear 0-2 MiB in 4 KiB pages.
const PT: u64 = 0x40000;
/// The page the tests fault on or remap.
const PAGE: u64 = 0x9000;
/// Another frame, for remapping PAGE.
const OTHER: u64 = 0xA000;
/// #PF.
const PF: u8 = 14;
/// A 64-bit TSS; RSP0 (the stack a fault from CPL 3 switches to) at +4.
const TSS: u64 = 0x5000;
const RSP0: u64 = 0x6800;
/// DPL-3 64-bit code and data descriptors.
const UCODE64: u64 = 0x00AF_FA00_0000_FFFF;
const UDATA64: u64 = 0x00CF_F200_0000_FFFF;

/// 64-bit mode with the first 2 MiB in 4 KiB pages, all present, writable
/// and user (upper levels too), A and D clear; QEMU64 (which has NX).
fn long() -> M {
    let mut m = M::long_with(CpuModel::qemu64());
    for i in 0..512 {
        m.poke64(PT + 8 * i, (i << 12) | P | RW | US);
    }
    m.poke64(PML4 + 0x2000, PT | P | RW | US);
    m.poke64(PML4 + 0x1000, (PML4 + 0x2000) | P | RW | US);
    m.poke64(PML4, (PML4 + 0x1000) | P | RW | US);
    for a in (OTHER..OTHER + 0x1000).step_by(8) {
        m.poke64(a, 0xBB00 | a);
    }
    for a in (PAGE..PAGE + 0x1000).step_by(8) {
        m.poke64(a, 0xAA00 | a);
    }
    m
}

fn pte(m: &M, lin: u64) -> u64 {
    m.peek64(PT + 8 * (lin >> 12))
}

fn set_pte(m: &mut M, lin: u64, v: u64) {
    m.poke64(PT + 8 * (lin >> 12), v);
}

/// Runs `code`, expects #PF; returns (error code, CR2, faulting RIP) from
/// the 64-bit exception frame (SDM Vol. 3A, 6.14.2).
fn fault(m: &mut M, code: &[u8]) -> (u32, u64, u64) {
    assert_eq!(m.run(code), Exit::Vector(PF));
    let rsp = m.cpu.s.gpr[4];
    let err = m.peek64(rsp);
    assert_eq!(err >> 32, 0, "the error code's upper half");
    (err as u32, m.cpu.s.cr2, m.peek64(rsp + 8))
}

/// A CPL-3 machine (see [`user`]) whose PAGE has entry `pte`.
fn user_with(pte: u64) -> M {
    let mut m = long();
    set_pte(&mut m, PAGE, pte);
    user(&mut m);
    m
}

/// Reads PAGE into `reg` and writes it back, at CPL 3 on a page the
/// user may read but not write: the write must fault (P, U/S, W) with CR2
/// at PAGE. Returns the faulting RIP.
fn read_then_write(m: &mut M, reg: &str) -> u64 {
    let code = asm64(&format!("mov {reg}, [0x9000]\nmov [0x9000], {reg}"));
    let (err, cr2, rip) = fault(m, &code);
    assert_eq!((err, cr2), (pf::P | pf::U | pf::W, PAGE));
    rip
}

/// Moves the CPU to CPL 3 with DPL-3 code and stack segments and a TSS
/// whose RSP0 takes the faults.
fn user(m: &mut M) {
    m.poke64(GDT + 24, UCODE64);
    m.poke64(GDT + 32, UDATA64);
    let tss_desc = 0x67 | (TSS & 0xFF_FFFF) << 16 | 0x8B << 40;
    m.poke64(GDT + 40, tss_desc);
    m.poke64(TSS + 4, RSP0);
    let s = &mut m.cpu.s;
    s.gdtr.limit = 0x3F;
    s.tr = Segment::from_descriptor(0x28, tss_desc);
    s.seg[sreg::SS] = Segment::from_descriptor(0x23, UDATA64);
    s.set_cs(Segment::from_descriptor(0x1B, UCODE64), 3);
    s.update_mode();
    assert_eq!(s.cpl, 3);
}

#[test]
fn not_present_read_and_write() {
    let mut m = long();
    set_pte(&mut m, PAGE, PAGE | RW | US);
    assert_eq!(
        fault(&mut m, &asm64("mov rax, [0x9008]")),
        (0, PAGE + 8, CODE)
    );
    let mut m = long();
    set_pte(&mut m, PAGE, 0);
    assert_eq!(
        fault(
            &mut m,
            &asm64(
                "nop
             mov [0x9010], eax",
            )
        ),
        (pf::W, PAGE + 0x10, CODE + 1)
    );
    assert_eq!(m.peek64(PAGE + 0x10), 0xAA00 | (PAGE + 0x10));
}

#[test]
fn not_present_page_directory_entry() {
    // A not-present entry higher in the walk faults the same way (P = 0).
    let mut m = long();
    m.poke64(PML4 + 0x2000 + 8, 0);
    assert_eq!(
        fault(&mut m, &asm64("mov rax, [0x200000]")),
        (0, 0x20_0000, CODE)
    );
}

#[test]
fn write_to_read_only_page_obeys_cr0_wp_at_cpl0() {
    // Supervisor writes ignore R/W = 0 while CR0.WP = 0 and fault when it
    // is 1 (SDM Vol. 3A, 4.6.1).
    let code: &[u8] = &asm64("mov dword [0x9000], 0x1234");
    let mut m = long();
    set_pte(&mut m, PAGE, PAGE | P | US);
    assert_eq!(m.run(code), Exit::Done);
    assert_eq!(m.peek_le(PAGE, 4), 0x1234);

    let mut m = long();
    set_pte(&mut m, PAGE, PAGE | P | US);
    m.cpu.s.cr0 |= cr0::WP;
    assert_eq!(fault(&mut m, code), (pf::P | pf::W, PAGE, CODE));
    assert_eq!(m.peek_le(PAGE, 4), 0xAA00 | PAGE);
}

#[test]
fn user_access_to_supervisor_page() {
    // At CPL 3 a page with U/S = 0 in any level of the walk is not
    // accessible: #PF with P and U/S set, W for a write.
    let mut m = user_with(PAGE | P | RW);
    assert_eq!(
        fault(&mut m, &asm64("mov rax, [0x9000]")),
        (pf::P | pf::U, PAGE, CODE)
    );
    assert_eq!(m.cpu.s.cpl, 0);
    assert_eq!(m.cpu.s.gpr[4], RSP0 - 48);
    let mut m = user_with(PAGE | P | RW);
    assert_eq!(
        fault(&mut m, &asm64("mov [0x9000], rax")),
        (pf::P | pf::U | pf::W, PAGE, CODE)
    );
}

#[test]
fn user_write_to_read_only_page_faults_without_wp() {
    // CR0.WP only matters for supervisor accesses; a user write to a
    // read-only user page always faults.
    let mut m = user_with(PAGE | P | US);
    assert_eq!(read_then_write(&mut m, "eax"), CODE + 7);
}

#[test]
fn supervisor_reads_user_pages() {
    let mut m = long();
    assert_eq!(m.run(&asm64("mov rax, [0x9000]")), Exit::Done);
    assert_eq!(m.cpu.s.gpr[0], 0xAA00 | PAGE);
}

#[test]
fn nx_fetch_faults_with_id_bit() {
    // With EFER.NXE, NX = 1 forbids instruction fetches: the error code
    // has I/D (SDM Vol. 3A, 4.6.2, 4.7). Data reads are still allowed.
    let code: &[u8] = &asm64(
        "mov rax, [0x9000]
         mov rbx, 0x9000
         jmp rbx",
    );
    let mut m = long();
    m.poke(PAGE, &[0x90]);
    m.cpu.s.efer |= efer::NXE;
    set_pte(&mut m, PAGE, PAGE | P | RW | US | NX);
    assert_eq!(fault(&mut m, code), (pf::P | pf::ID, PAGE, PAGE));
    assert_eq!(m.cpu.s.gpr[0] & 0xFF, 0x90);
}

#[test]
fn xd_bit_without_nxe_is_reserved() {
    // Without EFER.NXE bit 63 of a PTE is reserved: any access through it
    // is a page fault with RSVD and P set (SDM Vol. 3A, 4.5.4).
    let mut m = long();
    set_pte(&mut m, PAGE, PAGE | P | RW | US | NX);
    let (err, cr2, _) = fault(&mut m, &asm64("mov rax, [0x9000]"));
    assert_eq!(err, pf::P | pf::RSVD);
    assert_eq!(cr2, PAGE);
}

#[test]
fn accessed_and_dirty_bits() {
    // A read sets A in the PTE and the entries above it; a write sets D
    // in the PTE (SDM Vol. 3A, 4.8).
    let mut m = long();
    assert_eq!(m.run(&asm64("mov rax, [0x9000]")), Exit::Done);
    assert_eq!(pte(&m, PAGE) & (A | D), A);
    assert_eq!(m.peek64(PML4 + 0x2000) & A, A);
    assert_eq!(pte(&m, OTHER) & (A | D), 0);
    let mut m = long();
    assert_eq!(m.run(&asm64("mov [0xA000], rax")), Exit::Done);
    assert_eq!(pte(&m, OTHER) & (A | D), A | D);
}

#[test]
fn invlpg_makes_a_changed_pte_visible() {
    let mut m = long();
    assert_eq!(PT + 8 * (PAGE >> 12), 0x40048);
    assert_eq!(
        m.run(&asm64(
            "mov rax, [0x9000]
             mov qword [0x40048], 0xA007
             invlpg [0x9000]
             mov rbx, [0x9000]",
        )),
        Exit::Done
    );
    assert_eq!(m.cpu.s.gpr[0], 0xAA00 | PAGE);
    assert_eq!(m.cpu.s.gpr[3], 0xBB00 | OTHER);
}

#[test]
fn cr3_reload_makes_a_changed_pte_visible() {
    let mut m = long();
    let (err, cr2, _) = fault(
        &mut m,
        &asm64(
            "mov rax, [0x9000]
             mov qword [0x40048], 0
             mov rcx, cr3
             mov cr3, rcx
             mov rbx, [0x9000]",
        ),
    );
    assert_eq!((err, cr2), (0, PAGE));
    assert_eq!(m.cpu.s.gpr[0], 0xAA00 | PAGE);
}

#[test]
fn invlpg_after_write_protecting_a_page() {
    // A write goes through, the PTE is made read-only, INVLPG, and the
    // next write faults (CR0.WP = 1).
    let mut m = long();
    m.cpu.s.cr0 |= cr0::WP;
    let (err, cr2, _) = fault(
        &mut m,
        &asm64(
            "mov dword [0x9000], 1
             mov qword [0x40048], 0x9005
             invlpg [0x9000]
             mov dword [0x9000], 2",
        ),
    );
    assert_eq!((err, cr2), (pf::P | pf::W, PAGE));
    assert_eq!(m.peek_le(PAGE, 4), 1);
}

#[test]
fn write_straddling_into_not_present_page_writes_nothing() {
    // An 8-byte write at 0x8FFC touches 0x8FFC-0x9003: the second page is
    // not present, so the write faults with CR2 in that page and no byte
    // of it lands in the first page either.
    let mut m = long();
    set_pte(&mut m, PAGE, 0);
    let before = m.peek(0x8FF8, 8).to_vec();
    let (err, cr2, rip) = fault(
        &mut m,
        &asm64(
            "mov rax, 0x1122334455667788
             mov [0x8FFC], rax",
        ),
    );
    assert_eq!((err, cr2, rip), (pf::W, PAGE, CODE + 10));
    assert_eq!(m.peek(0x8FF8, 8), &before[..]);
}

#[test]
fn push_straddling_into_read_only_page_writes_nothing() {
    // The same for a stack push at CPL 3 whose second half lands in a
    // read-only page; RSP is unchanged by the faulting push. (The
    // exception frame goes to RSP0, away from the bytes checked.)
    let code: &[u8] = &asm64(
        "mov rsp, 0x9004
         mov rax, -1
         push rax",
    );
    let mut m = user_with(PAGE | P | US);
    let before = m.peek(0x8FF8, 16).to_vec();
    let (err, cr2, _) = fault(&mut m, code);
    assert_eq!((err, cr2), (pf::P | pf::W | pf::U, PAGE));
    assert_eq!(m.peek(0x8FF8, 16), &before[..]);
    // The saved RSP in the frame on RSP0 is that before the push.
    let rsp = m.cpu.s.gpr[4];
    assert_eq!(m.peek64(rsp + 32), 0x9004);
}

#[test]
fn fault_leaves_registers_of_the_faulting_instruction() {
    // A faulting POP does not change RSP or its destination.
    let mut m = long();
    set_pte(&mut m, PAGE, 0);
    m.stack = STACK;
    let (err, cr2, _) = fault(
        &mut m,
        &asm64(
            "mov rcx, 7
             mov rsp, 0x9000
             pop rcx",
        ),
    );
    assert_eq!((err, cr2), (0, PAGE));
    assert_eq!(m.cpu.s.gpr[1], 7);
}

// ---- 32-bit paging ----------------------------------------------------------

/// (error code, CR2, EIP) of a #PF in 32-bit mode (no privilege change:
/// error code, EIP, CS, EFLAGS on the stack).
fn fault32(m: &mut M32, code: &[u8]) -> (u32, u64, u32) {
    assert_eq!(m.run(code), Exit::Vector(PF));
    let esp = u64::from(m.r(4));
    (m.peek32(esp), m.cpu.s.cr2, m.peek32(esp + 4))
}

#[test]
fn paging32_not_present_and_read_only() {
    let mut m = M32::paged();
    m.set_pte(PAGE, 0);
    assert_eq!(
        fault32(&mut m, &asm32("mov eax, [0x9004]")),
        (0, PAGE + 4, CODE as u32)
    );
    let code: &[u8] = &asm32("mov byte [0x9001], 1");
    let mut m = M32::paged();
    m.set_pte(PAGE, PAGE as u32 | 1);
    assert_eq!(m.run(code), Exit::Done);
    assert_eq!(m.peek(PAGE + 1, 1), [1]);
    let mut m = M32::paged();
    m.set_pte(PAGE, PAGE as u32 | 1);
    m.cpu.s.cr0 |= cr0::WP;
    assert_eq!(fault32(&mut m, code), (3, PAGE + 1, CODE as u32));
}

#[test]
fn paging32_accessed_dirty_and_4mib_pages() {
    // A 4 MiB page (PDE.PS with CR4.PSE) gets A and D in the PDE itself.
    let mut m = M32::paged();
    assert_eq!(
        m.run(&asm32(
            "mov eax, [0x9000]
             mov dword [0x400010], 0x55
             mov ebx, [0x400010]",
        )),
        Exit::Done
    );
    assert_eq!(m.pte(PAGE) & 0x60, 0x20);
    assert_eq!(m.peek32(PD + 4) & 0x60, 0x60);
    assert_eq!(m.r(3), 0x55);
    assert_eq!(m.peek32(0x40_0010), 0x55);
}

#[test]
fn paging32_invlpg_remaps() {
    let mut m = M32::paged();
    m.poke32(PAGE, 0xAAAA);
    m.poke32(OTHER, 0xBBBB);
    assert_eq!(
        m.run(&asm32(
            "mov eax, [0x9000]
             mov dword [0x21024], 0xA007
             invlpg [0x9000]
             mov ebx, [0x9000]",
        )),
        Exit::Done
    );
    assert_eq!((m.r(0), m.r(3)), (0xAAAA, 0xBBBB));
    assert_eq!(PRW, 7);
}

#[test]
fn paging32_split_write_writes_nothing() {
    let mut m = M32::paged();
    m.set_pte(PAGE, 0);
    let before = m.peek(0x8FFC, 8).to_vec();
    let (err, cr2, _) = fault32(&mut m, &asm32("mov dword [0x8FFE], 0x11223344"));
    assert_eq!((err, cr2), (2, PAGE));
    assert_eq!(m.peek(0x8FFC, 8), &before[..]);
}

#[test]
fn fetch_straddling_into_not_present_page() {
    // An instruction whose last bytes lie in a not-present page faults
    // with CR2 at that page and RIP at the instruction's first byte; the
    // error code's I/D is set only with EFER.NXE (SDM Vol. 3A, 4.7).
    let mut m = long();
    set_pte(&mut m, PAGE, 0);
    // mov eax, 0x11223344 at 0x8FFE: B8 44 | 33 22 11 in the next page.
    m.poke(0x8FFE, &[0xB8, 0x44]);
    let (err, cr2, rip) = fault(
        &mut m,
        &asm64(
            "mov rbx, 0x8FFE
         jmp rbx",
        ),
    );
    assert_eq!((err, cr2, rip), (0, PAGE, 0x8FFE));
    m.cpu.s.efer |= efer::NXE;
    let (err, _, _) = fault(&mut m, &[0xBB, 0xFE, 0x8F, 0x00, 0x00, 0xFF, 0xE3]);
    assert_eq!(err, pf::ID);
}

#[test]
fn user_fetch_from_supervisor_page() {
    let code: &[u8] = &asm64(
        "mov rbx, 0x9000
         jmp rbx",
    );
    let mut m = long();
    set_pte(&mut m, PAGE, PAGE | P | RW);
    m.cpu.s.efer |= efer::NXE;
    user(&mut m);
    assert_eq!(fault(&mut m, code), (pf::P | pf::U | pf::ID, PAGE, PAGE));
}

#[test]
fn read_only_page_directory_entry_blocks_user_writes() {
    // Access rights combine over the whole walk: R/W = 0 in the PDE makes
    // the whole 2 MiB read-only to CPL 3 even if the PTE allows writes
    // (SDM Vol. 3A, 4.6.1).
    let mut m = long();
    m.poke64(PML4 + 0x2000, PT | P | US);
    user(&mut m);
    assert_eq!(read_then_write(&mut m, "rax"), CODE + 8);
    assert_eq!(m.cpu.s.gpr[0], 0xAA00 | PAGE);
}

#[test]
fn dirty_bit_set_when_a_read_was_cached_first() {
    // A read caches the translation; the first write must still walk and
    // set D (SDM Vol. 3A, 4.8: D is set on the first write).
    let mut m = long();
    assert_eq!(
        m.run(&asm64(
            "mov rax, [0x9000]
             mov [0x9008], rax",
        )),
        Exit::Done
    );
    assert_eq!(pte(&m, PAGE) & (A | D), A | D);
}
