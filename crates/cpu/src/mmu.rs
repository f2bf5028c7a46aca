//! Paging, the software TLB and guest memory access.
//!
//! Every guest memory access goes segment check → linear address → TLB.
//! The TLB is direct-mapped and split by access kind (read, write, fetch).
//! An entry holds one tag per privilege (supervisor, user), so the
//! permission check is folded into the tag compare: a tag is only valid for
//! the privilege and access kind that may use the page. Entries point at a
//! page of guest RAM by offset; a page that is not RAM (ROM, MMIO) gets a
//! tag with bit 0 set, which the fast path never matches, so those accesses
//! take the slow path through the bus (QEMU `CPUTLBEntry`, Bochs `tlb.h`).
//!
//! Pages that hold decoded code are never given write entries; a write to
//! them takes the slow path, which reports the page for trace
//! invalidation (self-modifying code).

use crate::arch::{cr0, cr4, efer, pf, pte, sreg, Mode};
use crate::bus::CpuBus;
use crate::fault::{vector, Fault, Res};
use crate::state::CpuState;

/// `$e` with `$n` a constant equal to `size` (1, 2, 4 or 8; anything
/// else counts as 8): turns a run-time operand size into the const
/// generic of a sized access.
macro_rules! by_size {
    ($size:expr, $n:ident => $e:expr) => {
        match $size {
            1 => {
                const $n: usize = 1;
                $e
            }
            2 => {
                const $n: usize = 2;
                $e
            }
            4 => {
                const $n: usize = 4;
                $e
            }
            _ => {
                const $n: usize = 8;
                $e
            }
        }
    };
}

/// The physical bytes of an access that crosses a page end.
struct Crossing {
    /// Physical address of the first byte.
    first: u64,
    /// Physical address of the second page.
    second: u64,
    /// Bytes on the first page.
    first_n: u8,
}

impl Crossing {
    /// Physical address of byte `i` of the access.
    fn at(&self, i: u8) -> u64 {
        if i < self.first_n {
            self.first + u64::from(i)
        } else {
            self.second + u64::from(i - self.first_n)
        }
    }
}

/// Number of entries of each TLB (a power of two).
pub const TLB_SIZE: usize = 1024;
// Never equal to a page address, nor to a page address with bit 0 set.
const INVALID_TAG: u64 = 2;
/// Bit 0 of [`TlbEntry::page`]: a global page.
const GLOBAL: u64 = 1;
/// Write-half slots remembered as holding a supervisor entry that only
/// CR0.WP = 0 allowed (a read-only page); past this many, setting WP
/// drops the whole write half.
const WP_SLOTS: usize = 32;

/// Kind of access, as the page-walk permission rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Data read.
    Read,
    /// Data write.
    Write,
    /// Instruction fetch.
    Exec,
}

/// One TLB entry: 32 bytes, so an index is a shift.
#[derive(Debug, Clone, Copy)]
pub struct TlbEntry {
    /// Linear page address per privilege (0 = supervisor, 1 = user), or a
    /// value with bit 0 set when not valid for the fast path. A fast tag is
    /// only ever given to a RAM page below 4 GiB, whose physical address is
    /// also its offset in guest RAM.
    pub tag: [u64; 2],
    /// The physical page address minus the linear one (wrapping): for a
    /// fast tag, `lin + addend` is the access's offset in guest RAM, and it
    /// fits in 32 bits.
    pub addend: u64,
    /// Physical page address, with bit 0 ([`GLOBAL`]) set for a global
    /// page (one that survives CR3 writes).
    pub page: u64,
}

impl TlbEntry {
    /// Physical page address.
    #[inline(always)]
    pub fn phys(&self) -> u64 {
        self.page & !0xFFF
    }

    /// Global page: survives CR3 writes.
    pub fn global(&self) -> bool {
        self.page & GLOBAL != 0
    }
}

const EMPTY: TlbEntry = TlbEntry {
    tag: [INVALID_TAG; 2],
    addend: 0,
    page: 0,
};

/// The software TLB: read, write and fetch halves.
#[derive(Debug, Clone)]
pub struct Tlb {
    /// Current privilege is user (CPL 3): selects the tag.
    pub user: bool,
    // Fixed-size arrays: an index masked to TLB_SIZE - 1 needs no bounds
    // check on the fast path.
    read: Box<[TlbEntry; TLB_SIZE]>,
    write: Box<[TlbEntry; TLB_SIZE]>,
    exec: Box<[TlbEntry; TLB_SIZE]>,
    /// Lookups that missed (for `--stats`).
    pub misses: u64,
    /// The last code page translated: (linear page, physical page, user).
    /// The run loop checks it before the fetch TLB; every flush clears it.
    pub exec_hint: (u64, u64, bool),
    /// Bumped by every flush: trace chaining links made under an older
    /// epoch are not trusted.
    pub epoch: u64,
    /// Write-half indices whose supervisor tag exists because CR0.WP was
    /// 0 (see [`Tlb::write_protect`]); `wp_len` counts them, and exceeds
    /// [`WP_SLOTS`] once some were not recorded.
    wp_slots: [u16; WP_SLOTS],
    wp_len: usize,
}

impl Default for Tlb {
    fn default() -> Self {
        Self::new()
    }
}

impl Tlb {
    /// An empty TLB.
    pub fn new() -> Self {
        Self {
            user: false,
            read: Box::new([EMPTY; TLB_SIZE]),
            write: Box::new([EMPTY; TLB_SIZE]),
            exec: Box::new([EMPTY; TLB_SIZE]),
            misses: 0,
            exec_hint: (INVALID_TAG, 0, false),
            epoch: 0,
            wp_slots: [0; WP_SLOTS],
            wp_len: 0,
        }
    }

    /// Drops every entry.
    pub fn flush_all(&mut self) {
        self.epoch += 1;
        self.exec_hint.0 = INVALID_TAG;
        self.read.fill(EMPTY);
        self.write.fill(EMPTY);
        self.exec.fill(EMPTY);
        self.wp_len = 0;
    }

    /// CR0.WP went from 0 to 1: supervisor writes to read-only pages now
    /// fault (SDM Vol. 3, 4.6.1). The hardware TLB caches the page's R/W
    /// bit and applies WP on each access; this TLB folds WP into the write
    /// tag, so the entries WP = 0 let through must go, and only those (a
    /// guest toggling WP around each patch of read-only memory would
    /// otherwise refill the whole TLB every time). Clearing WP needs
    /// nothing: entries made under WP = 1 allow less, and the pages they
    /// refused miss and are walked again.
    pub fn write_protect(&mut self) {
        if self.wp_len > WP_SLOTS {
            self.write.fill(EMPTY);
        } else {
            for &i in &self.wp_slots[..self.wp_len] {
                self.write[usize::from(i) & (TLB_SIZE - 1)] = EMPTY;
            }
        }
        self.wp_len = 0;
    }

    /// Records that write slot `i` holds a supervisor entry for a
    /// read-only page, allowed by CR0.WP = 0.
    fn note_wp_grant(&mut self, i: usize) {
        if let Some(slot) = self.wp_slots.get_mut(self.wp_len) {
            *slot = i as u16;
        }
        self.wp_len = (self.wp_len + 1).min(WP_SLOTS + 1);
    }

    /// Drops every non-global entry (a CR3 write).
    pub fn flush_non_global(&mut self) {
        self.epoch += 1;
        self.exec_hint.0 = INVALID_TAG;
        for t in [&mut self.read, &mut self.write, &mut self.exec] {
            for e in t.iter_mut().filter(|e| !e.global()) {
                *e = EMPTY;
            }
        }
    }

    /// Drops the write half (a page became code).
    pub fn flush_writes(&mut self) {
        self.write.fill(EMPTY);
        self.wp_len = 0;
    }

    /// Drops the entries for the page holding `lin` (INVLPG).
    pub fn flush_page(&mut self, lin: u64) {
        self.epoch += 1;
        self.exec_hint.0 = INVALID_TAG;
        let i = index(lin);
        for t in [&mut self.read, &mut self.write, &mut self.exec] {
            t[i] = EMPTY;
        }
    }

    /// The entries of the half for accesses of kind `a`, read-only (the
    /// debugger's `info tlb`).
    pub fn entries(&self, a: Access) -> &[TlbEntry] {
        match a {
            Access::Read => &self.read[..],
            Access::Write => &self.write[..],
            Access::Exec => &self.exec[..],
        }
    }

    fn table(&mut self, a: Access) -> &mut [TlbEntry; TLB_SIZE] {
        match a {
            Access::Read => &mut self.read,
            Access::Write => &mut self.write,
            Access::Exec => &mut self.exec,
        }
    }
}

/// What the TLB holds for a page, for code that handles many elements
/// of a page at once (REP string instructions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlbPage {
    /// A fast entry: plain RAM, the page's offset in [`CpuBus::ram`].
    /// Never a watched page, nor a code page for writes (the same
    /// entries `read_lin` / `write_lin` use without the slow path).
    Ram(u64),
    /// Translated and allowed, but every access must take the slow path
    /// (ROM, MMIO, code pages for writes, watched pages).
    Slow,
    /// Not in the TLB for this access kind and privilege.
    Miss,
}

#[inline(always)]
fn index(lin: u64) -> usize {
    (lin >> 12) as usize & (TLB_SIZE - 1)
}

/// Result of a page walk: where the page is and what it allows.
#[derive(Debug, Clone, Copy)]
struct Walk {
    phys: u64,
    user: bool,
    writable: bool,
    exec: bool,
    global: bool,
}

/// Reserved bits of a PAE paging entry: MAXPHYADDR..=62.
fn rsvd_pae(maxphyaddr: u32) -> u64 {
    ((1u64 << 63) - 1) & !((1u64 << maxphyaddr) - 1)
}

/// Reserved bits of a long-mode entry: MAXPHYADDR..=51.
fn rsvd_long(maxphyaddr: u32) -> u64 {
    ((1u64 << 52) - 1) & !((1u64 << maxphyaddr) - 1)
}

#[inline(always)]
fn le_read(bytes: &[u8], n: usize) -> u64 {
    match n {
        1 => u64::from(bytes[0]),
        2 => u64::from(u16::from_le_bytes([bytes[0], bytes[1]])),
        4 => u64::from(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
        _ => {
            let mut b = [0u8; 8];
            b[..n].copy_from_slice(&bytes[..n]);
            u64::from_le_bytes(b)
        }
    }
}

#[inline(always)]
fn le_write(bytes: &mut [u8], n: usize, v: u64) {
    match n {
        1 => bytes[0] = v as u8,
        2 => bytes[..2].copy_from_slice(&(v as u16).to_le_bytes()),
        4 => bytes[..4].copy_from_slice(&(v as u32).to_le_bytes()),
        _ => bytes[..n].copy_from_slice(&v.to_le_bytes()[..n]),
    }
}

/// Reads `size` bytes at offset `o` of guest RAM (a fast-path offset):
/// `None` if out of bounds, which a fast offset never is; `get` keeps a
/// bus that breaks that from reaching past its RAM.
#[inline(always)]
pub(crate) fn ram_rd<B: CpuBus>(bus: &mut B, o: usize, size: u8) -> Option<u64> {
    let n = usize::from(size);
    bus.ram().get(o..o + n).map(|b| le_read(b, n))
}

/// Writes `size` bytes at offset `o` of guest RAM: false (nothing
/// written) if out of bounds, as [`ram_rd`].
#[inline(always)]
pub(crate) fn ram_wr<B: CpuBus>(bus: &mut B, o: usize, size: u8, v: u64) -> bool {
    let n = usize::from(size);
    match bus.ram().get_mut(o..o + n) {
        Some(b) => {
            le_write(b, n, v);
            true
        }
        None => false,
    }
}

impl CpuState {
    // ---- physical access ------------------------------------------------

    /// Reads physical memory (A20 applied by the caller).
    pub fn phys_read<B: CpuBus>(&mut self, bus: &mut B, paddr: u64, n: u8) -> u64 {
        let n_us = n as usize;
        if bus.page_is_ram(paddr) && (paddr & 0xFFF) as usize + n_us <= 0x1000 {
            let off = paddr as usize;
            // `get`: a bus breaking the RAM layout contract (see
            // `CpuBus`) sends the access to `mem_read`, never to a panic.
            if let Some(b) = bus.ram().get(off..off + n_us) {
                return le_read(b, n_us);
            }
        }
        // ROM, MMIO or a hole: a device read may change an interrupt line,
        // which must be seen before the next instruction.
        self.run.break_trace = true;
        bus.mem_read(paddr, n, self.icount)
    }

    /// Writes physical memory, noting writes to code pages.
    pub fn phys_write<B: CpuBus>(&mut self, bus: &mut B, paddr: u64, n: u8, v: u64) {
        let n_us = n as usize;
        self.note_code_store(paddr, u64::from(n));
        if bus.page_is_ram(paddr) && (paddr & 0xFFF) as usize + n_us <= 0x1000 {
            let off = paddr as usize;
            if let Some(b) = bus.ram().get_mut(off..off + n_us) {
                le_write(b, n_us, v);
                return;
            }
        }
        // MMIO, ROM or a hole. The trace goes on unless the write changed
        // what the next instruction must see: the memory map (PAM, A20),
        // a stop request, or an interrupt it can take now. A store to the
        // screen changes none of these, and breaking the trace on each one
        // cost a guest drawing text a third of its speed.
        let before = (self.a20_mask, self.map_gen);
        bus.mem_write(paddr, n, v, self.icount);
        self.refresh_map(bus);
        if (self.a20_mask, self.map_gen) != before
            || !self.smc_pages.is_empty()
            || bus.stop_requested()
            || bus.nmi_pending()
            || (self.flags & crate::arch::fl::IF != 0 && bus.interrupt_pending())
        {
            self.run.break_trace = true;
        }
    }

    /// Records that decoded code came from RAM bytes `paddr..paddr + len`
    /// (within one page).
    pub fn mark_code(&mut self, paddr: u64, len: u64) {
        if self.code.mark(paddr, len) {
            // Write entries may point at this page: they must now take the
            // slow path so stores into it are checked against the code.
            self.tlb.flush_writes();
        }
    }

    /// A store of `n` bytes at `paddr`: drops the decoded code it
    /// overwrites (the traces of its page), and ends the running trace.
    #[inline]
    pub(crate) fn note_code_store(&mut self, paddr: u64, n: u64) {
        let in_page = (0x1000 - (paddr & 0xFFF)).min(n);
        if self.code.store_hits_code(paddr, in_page) {
            self.code_dropped(paddr);
        }
        if in_page < n {
            let next = (paddr & !0xFFF) + 0x1000;
            if self.code.store_hits_code(next, n - in_page) {
                self.code_dropped(next);
            }
        }
    }

    /// The whole page at `paddr` may have been rewritten (device DMA):
    /// drops its decoded code.
    pub(crate) fn note_page_rewritten(&mut self, paddr: u64) {
        if self.code.unmark_page(paddr) {
            self.code_dropped(paddr);
        }
    }

    fn code_dropped(&mut self, paddr: u64) {
        self.smc_pages.push(paddr & !0xFFF);
        self.run.break_trace = true;
    }

    fn is_code_page(&self, paddr: u64) -> bool {
        self.code.is_code_page(paddr)
    }

    // ---- translation ------------------------------------------------------

    /// Translates a linear address for an access at the current privilege.
    #[inline]
    pub fn translate<B: CpuBus>(&mut self, bus: &mut B, lin: u64, a: Access) -> Res<u64> {
        let user = self.tlb.user;
        self.translate_as(bus, lin, a, user)
    }

    /// Translates a linear address as a user (`user`) or supervisor access.
    pub fn translate_as<B: CpuBus>(
        &mut self,
        bus: &mut B,
        lin: u64,
        a: Access,
        user: bool,
    ) -> Res<u64> {
        let page = lin & !0xFFF;
        let e = self.tlb.table(a)[index(lin)];
        let u = user as usize;
        if e.tag[u] == page || e.tag[u] == page | 1 {
            return Ok(e.phys() | (lin & 0xFFF));
        }
        self.tlb.misses += 1;
        let w = if self.paging() {
            self.walk(bus, lin, a, user)?
        } else {
            Walk {
                phys: lin & 0xFFFF_F000,
                user: true,
                writable: true,
                exec: true,
                global: false,
            }
        };
        let phys = w.phys & self.a20_mask;
        let is_ram = bus.page_is_ram(phys);
        // Fast tags only below 4 GiB: the fast path's RAM offset is 32 bits.
        // Nor for a non-canonical address (a page walk reads only bits
        // 47:0, and the debugger and system-structure accesses translate
        // without the segment check): the 64-bit fast path leaves the
        // canonical check to the tag compare (`CpuState::fast_lin`).
        let fast = is_ram
            && phys < 1 << 32
            && canonical(lin)
            && !(a == Access::Write && self.is_code_page(phys))
            && !self.watch.slows(page, a);
        let tag_for = |ok: bool| {
            if !ok {
                INVALID_TAG
            } else if fast {
                page
            } else {
                page | 1
            }
        };
        let wp = self.cr0 & cr0::WP != 0;
        let (sup_ok, user_ok) = match a {
            Access::Read => (true, w.user),
            Access::Write => (w.writable || !wp, w.user && w.writable),
            Access::Exec => (w.exec, w.user && w.exec),
        };
        let entry = TlbEntry {
            tag: [tag_for(sup_ok), tag_for(user_ok)],
            addend: (phys & !0xFFF).wrapping_sub(page),
            page: (phys & !0xFFF) | if w.global { GLOBAL } else { 0 },
        };
        self.tlb.table(a)[index(lin)] = entry;
        if a == Access::Write && !w.writable && sup_ok {
            self.tlb.note_wp_grant(index(lin));
        }
        Ok(phys | (lin & 0xFFF))
    }

    fn page_fault(&mut self, lin: u64, a: Access, user: bool, code: u32) -> Fault {
        let mut e = code;
        if a == Access::Write {
            e |= pf::W;
        }
        if user {
            e |= pf::U;
        }
        if a == Access::Exec && (self.efer & efer::NXE != 0) {
            e |= pf::ID;
        }
        self.cr2 = lin;
        Fault::with_error(vector::PF, e)
    }

    /// Walks the page tables for `lin`, setting accessed and dirty bits.
    fn walk<B: CpuBus>(&mut self, bus: &mut B, lin: u64, a: Access, user: bool) -> Res<Walk> {
        let write = a == Access::Write;
        let nxe = self.efer & efer::NXE != 0;
        let mut entries: [(u64, u64); 4] = [(0, 0); 4];
        let mut depth = 0usize;
        let (phys, leaf_mask);
        if self.cr4 & cr4::PAE == 0 {
            let pde_addr = ((self.cr3 & 0xFFFF_F000) | ((lin >> 20) & 0xFFC)) & self.a20_mask;
            let pde = self.phys_read(bus, pde_addr, 4);
            if pde & pte::P == 0 {
                return Err(self.page_fault(lin, a, user, 0));
            }
            entries[0] = (pde_addr, pde);
            depth = 1;
            if pde & pte::PS != 0 && self.cr4 & cr4::PSE != 0 {
                // Without PSE-36, bits 21:13 of a 4 MiB PDE are reserved.
                if pde & 0x003F_E000 != 0 {
                    return Err(self.page_fault(lin, a, user, pf::P | pf::RSVD));
                }
                leaf_mask = 0x3F_FFFF;
                phys = pde & 0xFFC0_0000;
            } else {
                let pte_addr = ((pde & 0xFFFF_F000) | ((lin >> 10) & 0xFFC)) & self.a20_mask;
                let e = self.phys_read(bus, pte_addr, 4);
                if e & pte::P == 0 {
                    return Err(self.page_fault(lin, a, user, 0));
                }
                entries[1] = (pte_addr, e);
                depth = 2;
                leaf_mask = 0xFFF;
                phys = e & 0xFFFF_F000;
            }
        } else {
            let long = self.efer & efer::LMA != 0;
            let maxphy = self.cpuid_model.phys_bits;
            let (mut table, levels) = if long {
                (self.cr3 & pte::ADDR, 4)
            } else {
                let pdpte_addr = ((self.cr3 & 0xFFFF_FFE0) + ((lin >> 30) & 3) * 8) & self.a20_mask;
                let pdpte = self.phys_read(bus, pdpte_addr, 8);
                if pdpte & pte::P == 0 {
                    return Err(self.page_fault(lin, a, user, 0));
                }
                if pdpte & (0x1E6 | rsvd_pae(maxphy)) != 0 {
                    return Err(self.page_fault(lin, a, user, pf::P | pf::RSVD));
                }
                (pdpte & pte::ADDR, 2)
            };
            let mut found = None;
            for level in (0..levels).rev() {
                let shift = 12 + 9 * level;
                let addr = (table + ((lin >> shift) & 0x1FF) * 8) & self.a20_mask;
                let e = self.phys_read(bus, addr, 8);
                if e & pte::P == 0 {
                    return Err(self.page_fault(lin, a, user, 0));
                }
                // No 1 GiB pages (CPUID does not report them): PS is
                // reserved in a PDPTE, as in a PML4E.
                let large_leaf = level == 1 && e & pte::PS != 0;
                let mut rsvd = if long {
                    rsvd_long(maxphy)
                } else {
                    rsvd_pae(maxphy)
                };
                if large_leaf {
                    // The low bits of a large page's address are reserved
                    // (except PAT at bit 12).
                    rsvd |= ((1u64 << (12 + 9 * level)) - 1) & !0x1FFF;
                }
                if (e & pte::NX != 0 && !nxe) || e & rsvd != 0 {
                    return Err(self.page_fault(lin, a, user, pf::P | pf::RSVD));
                }
                entries[depth] = (addr, e);
                depth += 1;
                let large = level > 0 && e & pte::PS != 0;
                if level == 0 || large {
                    if large && level >= 2 {
                        return Err(self.page_fault(lin, a, user, pf::P | pf::RSVD));
                    }
                    let m = (1u64 << shift) - 1;
                    found = Some((e & pte::ADDR & !m, m));
                    break;
                }
                table = e & pte::ADDR;
            }
            let Some((p, m)) = found else {
                return Err(self.page_fault(lin, a, user, 0));
            };
            phys = p;
            leaf_mask = m;
        }
        let all = &entries[..depth];
        let u = all.iter().all(|(_, e)| e & pte::US != 0);
        let w = all.iter().all(|(_, e)| e & pte::RW != 0);
        let x = !nxe || all.iter().all(|(_, e)| e & pte::NX == 0);
        let leaf = all[depth - 1].1;
        let g = leaf & pte::G != 0 && self.cr4 & cr4::PGE != 0;
        // Permission check (SDM Vol. 3, 4.6).
        let denied = match a {
            Access::Read => user && !u,
            Access::Write => !w && (user || self.cr0 & cr0::WP != 0) || (user && !u),
            Access::Exec => (user && !u) || !x,
        };
        if denied {
            return Err(self.page_fault(lin, a, user, pf::P));
        }
        // Accessed bits on every level, dirty on the leaf for writes.
        let entry_size = if self.cr4 & cr4::PAE != 0 { 8 } else { 4 };
        for (i, &(addr, e)) in all.iter().enumerate() {
            let mut ne = e | pte::A;
            if write && i == depth - 1 {
                ne |= pte::D;
            }
            if ne != e {
                self.phys_write(bus, addr, entry_size, ne);
            }
        }
        let _ = leaf_mask;
        let phys_page = (phys | (lin & leaf_mask)) & !0xFFF;
        Ok(Walk {
            phys: phys_page,
            user: u,
            writable: w && (write || leaf & pte::D != 0),
            exec: x,
            global: g,
        })
    }

    // ---- linear access ------------------------------------------------------

    /// Reads `N` bytes at a linear address.
    #[inline(always)]
    pub fn read_lin<B: CpuBus, const N: usize>(&mut self, bus: &mut B, lin: u64) -> Res<u64> {
        let e = &self.tlb.read[index(lin)];
        // One compare checks the page and that the access does not cross
        // into the next one: a tag only ever sits at its own page's index,
        // so the next page's address never matches the entry at `lin`'s.
        if e.tag[self.tlb.user as usize] == lin.wrapping_add(N as u64 - 1) & !0xFFF {
            // The tag only matches RAM pages below 4 GiB, so `off` is
            // inside RAM and the truncation drops nothing.
            let off = lin.wrapping_add(e.addend) as u32 as usize;
            if let Some(b) = bus.ram().get(off..off + N) {
                return Ok(le_read(b, N));
            }
        }
        self.read_lin_slow(bus, lin, N as u8)
    }

    /// Translates both pages of an access at `lin` that crosses a page
    /// end, before any byte is touched (a fault on the second page
    /// reports that page's first byte).
    fn translate_crossing<B: CpuBus>(&mut self, bus: &mut B, lin: u64, a: Access) -> Res<Crossing> {
        let first = self.translate(bus, lin, a)?;
        let second_lin = self.wrap_lin((lin & !0xFFF) + 0x1000);
        let second = self.translate(bus, second_lin, a)? & !0xFFF;
        let first_n = (0x1000 - (lin & 0xFFF)) as u8;
        Ok(Crossing {
            first,
            second,
            first_n,
        })
    }

    #[inline(never)]
    fn read_lin_slow<B: CpuBus>(&mut self, bus: &mut B, lin: u64, n: u8) -> Res<u64> {
        let lin = self.wrap_lin(lin);
        if (lin & 0xFFF) + u64::from(n) > 0x1000 {
            let span = self.translate_crossing(bus, lin, Access::Read)?;
            let mut v = 0;
            for i in 0..n {
                v |= self.phys_read(bus, span.at(i), 1) << (8 * i);
            }
            self.watch_note(lin, n, false);
            return Ok(v);
        }
        let p = self.translate(bus, lin, Access::Read)?;
        self.watch_note(lin, n, false);
        Ok(self.phys_read(bus, p, n))
    }

    /// Writes `N` bytes at a linear address.
    #[inline(always)]
    pub fn write_lin<B: CpuBus, const N: usize>(
        &mut self,
        bus: &mut B,
        lin: u64,
        v: u64,
    ) -> Res<()> {
        let e = &self.tlb.write[index(lin)];
        // The page and crossing check in one compare, as in `read_lin`.
        if e.tag[self.tlb.user as usize] == lin.wrapping_add(N as u64 - 1) & !0xFFF {
            let off = lin.wrapping_add(e.addend) as u32 as usize;
            if let Some(b) = bus.ram().get_mut(off..off + N) {
                le_write(b, N, v);
                return Ok(());
            }
        }
        self.write_lin_slow(bus, lin, N as u8, v)
    }

    #[inline(never)]
    fn write_lin_slow<B: CpuBus>(&mut self, bus: &mut B, lin: u64, n: u8, v: u64) -> Res<()> {
        let lin = self.wrap_lin(lin);
        if (lin & 0xFFF) + u64::from(n) > 0x1000 {
            let span = self.translate_crossing(bus, lin, Access::Write)?;
            self.watch_note(lin, n, true);
            for i in 0..n {
                self.phys_write(bus, span.at(i), 1, v >> (8 * i));
            }
            return Ok(());
        }
        let p = self.translate(bus, lin, Access::Write)?;
        self.watch_note(lin, n, true);
        self.phys_write(bus, p, n, v);
        Ok(())
    }

    /// The TLB's view of the page holding `lin` for accesses of kind `a`
    /// at the current privilege. Only a TLB lookup: nothing is translated
    /// and nothing can fault.
    #[inline(always)]
    pub fn tlb_page(&self, lin: u64, a: Access) -> TlbPage {
        let e = &self.tlb.entries(a)[index(lin)];
        let tag = e.tag[self.tlb.user as usize];
        let page = lin & !0xFFF;
        if tag == page {
            TlbPage::Ram(e.phys())
        } else if tag == page | 1 {
            TlbPage::Slow
        } else {
            TlbPage::Miss
        }
    }

    /// Checks a linear range is writable without writing (for instructions
    /// that must fault before changing anything).
    pub fn probe_write<B: CpuBus>(&mut self, bus: &mut B, lin: u64, n: u64) -> Res<()> {
        self.translate(bus, self.wrap_lin(lin), Access::Write)?;
        if (lin & 0xFFF) + n > 0x1000 {
            self.translate(bus, self.wrap_lin((lin & !0xFFF) + 0x1000), Access::Write)?;
        }
        Ok(())
    }

    /// Linear addresses wrap at 4 GiB outside long mode.
    #[inline(always)]
    pub fn wrap_lin(&self, lin: u64) -> u64 {
        if self.bitness == 64 {
            lin
        } else {
            lin & 0xFFFF_FFFF
        }
    }

    // ---- segmented access ---------------------------------------------------

    /// Checks an access of `n` bytes at `off` in segment `s` and returns
    /// the linear address (SDM Vol. 3, 5.3 limit checking, 5.4 type checking).
    #[inline(always)]
    pub fn seg_lin(&self, s: usize, off: u64, n: u64, write: bool) -> Res<u64> {
        if self.bitness != 64 {
            self.seg_lin_legacy(s, off, n, write)
        } else {
            self.seg_lin_long(s, off, n, write)
        }
    }

    /// [`CpuState::seg_lin`] for an operand of effective-address shape
    /// `EA` (`exec::ea`). The decoder picks the 32-bit shapes only
    /// outside 64-bit mode and the 64-bit ones only inside it, and a
    /// trace runs only in the mode it was decoded for, so those shapes
    /// need no run-time mode test.
    #[inline(always)]
    pub(crate) fn seg_lin_k<const EA: u8>(
        &self,
        s: usize,
        off: u64,
        n: u64,
        write: bool,
    ) -> Res<u64> {
        use crate::exec::ea;
        match EA {
            ea::B32 | ea::BI32 | ea::D32 | ea::I32 => self.seg_lin_legacy(s, off, n, write),
            ea::B64 | ea::BI64 | ea::RIP64 => self.seg_lin_long(s, off, n, write),
            _ => self.seg_lin(s, off, n, write),
        }
    }

    /// Outside 64-bit mode: a usable expand-up segment of the right type
    /// passes one compare (derived limits, see `Segment::refresh`).
    /// Offsets are at most 32 bits here, so `off + n` cannot wrap.
    #[inline(always)]
    fn seg_lin_legacy(&self, s: usize, off: u64, n: u64, write: bool) -> Res<u64> {
        match self.lin_legacy_fast(s, off, n, write) {
            Some(lin) => Ok(lin),
            None => self.seg_lin_slow(s, off, n, write),
        }
    }

    /// The one compare of [`CpuState::seg_lin_legacy`]: the linear
    /// address, or `None` for the full check.
    #[inline(always)]
    fn lin_legacy_fast(&self, s: usize, off: u64, n: u64, write: bool) -> Option<u64> {
        let sg = &self.seg[s];
        let lim1 = if write { sg.wlim1 } else { sg.rlim1 };
        (off + n <= lim1).then(|| sg.base.wrapping_add(off) & 0xFFFF_FFFF)
    }

    /// 64-bit mode: no limits; ES/CS/SS/DS have base 0, FS/GS their MSR
    /// bases. Only the canonical check of both ends remains (bits 63:47
    /// all equal).
    #[inline(always)]
    fn seg_lin_long(&self, s: usize, off: u64, n: u64, write: bool) -> Res<u64> {
        match self.lin_long_fast(s, off, n) {
            Some(lin) => Ok(lin),
            None => self.seg_lin_slow(s, off, n, write),
        }
    }

    /// The canonical checks of [`CpuState::seg_lin_long`]: the linear
    /// address, or `None` for the full check.
    #[inline(always)]
    fn lin_long_fast(&self, s: usize, off: u64, n: u64) -> Option<u64> {
        let lin = if s >= sreg::FS {
            self.seg[s].base.wrapping_add(off)
        } else {
            off
        };
        let c = |a: u64| (a.wrapping_add(1 << 47) >> 48) == 0;
        (c(lin) && c(lin.wrapping_add(n - 1))).then_some(lin)
    }

    #[inline(never)]
    fn seg_lin_slow(&self, s: usize, off: u64, n: u64, write: bool) -> Res<u64> {
        let sg = &self.seg[s];
        if self.bitness == 64 {
            let lin = if s >= sreg::FS {
                sg.base.wrapping_add(off)
            } else {
                off
            };
            if !canonical(lin) || !canonical(lin.wrapping_add(n - 1)) {
                return Err(if s == sreg::SS {
                    Fault::SS0
                } else {
                    Fault::GP0
                });
            }
            return Ok(lin);
        }
        let end = off.wrapping_add(n - 1);
        let ok = if matches!(self.mode, Mode::Real | Mode::V86) {
            end <= u64::from(sg.limit) && end >= off
        } else {
            let type_ok = if write { sg.writable() } else { sg.readable() };
            type_ok
                && if sg.expand_down() {
                    let upper = if sg.big() { 0xFFFF_FFFFu64 } else { 0xFFFF };
                    off > u64::from(sg.limit) && end <= upper && end >= off
                } else {
                    end <= u64::from(sg.limit) && end >= off
                }
        };
        if !ok {
            return Err(if s == sreg::SS {
                Fault::SS0
            } else {
                Fault::GP0
            });
        }
        Ok(sg.base.wrapping_add(off) & 0xFFFF_FFFF)
    }

    /// Reads `N` bytes at `s:off`.
    #[inline(always)]
    pub fn read_mem<B: CpuBus, const N: usize>(
        &mut self,
        bus: &mut B,
        s: usize,
        off: u64,
    ) -> Res<u64> {
        let lin = self.seg_lin(s, off, N as u64, false)?;
        self.read_lin::<B, N>(bus, lin)
    }

    /// Writes `N` bytes at `s:off`.
    #[inline(always)]
    pub fn write_mem<B: CpuBus, const N: usize>(
        &mut self,
        bus: &mut B,
        s: usize,
        off: u64,
        v: u64,
    ) -> Res<()> {
        let lin = self.seg_lin(s, off, N as u64, true)?;
        self.write_lin::<B, N>(bus, lin, v)
    }

    /// The fast path of an `N`-byte data access at `s:off` for an operand
    /// of address shape `EA`: the segment passes its one compare (in
    /// 64-bit mode there is none: see [`CpuState::fast_lin`]), and the TLB
    /// half for the access holds a fast entry for the page, which the
    /// access does not cross (which in 64-bit mode also makes both ends
    /// canonical). Returns the access's offset in guest RAM, or `None` when
    /// anything needs the slow path; nothing faults and nothing changes
    /// here, so a handler can bail out to its slow form and start over.
    #[inline(always)]
    pub(crate) fn fast_ram_off<const EA: u8, const N: usize, const W: bool>(
        &self,
        s: usize,
        off: u64,
    ) -> Option<usize> {
        let lin = self.fast_lin::<EA, N, W>(s, off)?;
        self.fast_tlb::<N, W>(lin)
    }

    /// The segment half of [`CpuState::fast_ram_off`]: the linear address.
    #[inline(always)]
    pub(crate) fn fast_lin<const EA: u8, const N: usize, const W: bool>(
        &self,
        s: usize,
        off: u64,
    ) -> Option<u64> {
        use crate::exec::ea;
        let n = N as u64;
        // In 64-bit mode there is no check to make here: the TLB's fast
        // tags are canonical pages only (`translate_as`), and `fast_tlb`
        // compares the page of the access's last byte with the tag at its
        // first byte's index, so an access with either end non-canonical
        // misses and its slow path raises the fault.
        match EA {
            ea::B32 | ea::BI32 | ea::D32 | ea::I32 => self.lin_legacy_fast(s, off, n, W),
            ea::B64 | ea::BI64 | ea::RIP64 => {
                // These shapes are flat: FS and GS operands are `GEN`
                // (`exec::ea_kind`).
                debug_assert!(s < sreg::FS, "a 64-bit shape with an FS or GS operand");
                Some(off)
            }
            _ if self.bitness != 64 => self.lin_legacy_fast(s, off, n, W),
            _ if s >= sreg::FS => Some(self.seg[s].base.wrapping_add(off)),
            _ => Some(off),
        }
    }

    /// The TLB half of [`CpuState::fast_ram_off`]: the RAM offset of an
    /// `N`-byte read (`W` false) or write at `lin`.
    #[inline(always)]
    pub(crate) fn fast_tlb<const N: usize, const W: bool>(&self, lin: u64) -> Option<usize> {
        let e = if W {
            &self.tlb.write[index(lin)]
        } else {
            &self.tlb.read[index(lin)]
        };
        // The page and crossing check in one compare, as in `read_lin`.
        if e.tag[self.tlb.user as usize] != lin.wrapping_add(N as u64 - 1) & !0xFFF {
            return None;
        }
        // A fast tag is only given to a RAM page below 4 GiB: the
        // truncation drops nothing.
        Some(lin.wrapping_add(e.addend) as u32 as usize)
    }

    /// The RAM offset of an `N`-byte read-modify-write at `s:off` on the
    /// fast path: the read and the write entries must both be fast (a
    /// watched page may slow only one of them).
    #[inline(always)]
    pub(crate) fn fast_rmw_off<const EA: u8, const N: usize>(
        &self,
        s: usize,
        off: u64,
    ) -> Option<usize> {
        // A writable segment is readable too.
        let lin = self.fast_lin::<EA, N, true>(s, off)?;
        self.fast_tlb::<N, false>(lin)?;
        self.fast_tlb::<N, true>(lin)
    }

    /// A stack push of `size` bytes on the fast path: written and RSP
    /// moved, or false with nothing changed.
    #[inline(always)]
    pub(crate) fn push_fast<B: CpuBus>(&mut self, bus: &mut B, size: u8, v: u64) -> bool {
        let m = self.stack_mask();
        let sp = (self.gpr[crate::arch::reg::SP] & m).wrapping_sub(u64::from(size)) & m;
        if !self.write_fast::<B, { crate::exec::ea::GEN }>(bus, sreg::SS, sp, size, v) {
            return false;
        }
        self.set_sp(sp);
        true
    }

    /// A stack pop of `size` bytes on the fast path: the value, with RSP
    /// moved, or `None` with nothing changed.
    #[inline(always)]
    pub(crate) fn pop_fast<B: CpuBus>(&mut self, bus: &mut B, size: u8) -> Option<u64> {
        let sp = self.sp();
        let v = self.read_fast::<B, { crate::exec::ea::GEN }>(bus, sreg::SS, sp, size)?;
        self.set_sp(sp.wrapping_add(u64::from(size)));
        Some(v)
    }

    /// [`CpuState::fast_ram_off`] for a read of `size` bytes: the value,
    /// or `None` for the slow path.
    #[inline(always)]
    pub(crate) fn read_fast<B: CpuBus, const EA: u8>(
        &self,
        bus: &mut B,
        s: usize,
        off: u64,
        size: u8,
    ) -> Option<u64> {
        let o = self.fast_ram_off_sz::<EA, false>(s, off, size)?;
        ram_rd(bus, o, size)
    }

    /// [`CpuState::fast_ram_off`] for a write of `size` bytes: true when
    /// written, false (nothing written) for the slow path.
    #[inline(always)]
    pub(crate) fn write_fast<B: CpuBus, const EA: u8>(
        &self,
        bus: &mut B,
        s: usize,
        off: u64,
        size: u8,
        v: u64,
    ) -> bool {
        self.fast_ram_off_sz::<EA, true>(s, off, size)
            .is_some_and(|o| ram_wr(bus, o, size, v))
    }

    /// [`CpuState::fast_ram_off`] for `size` bytes (1, 2, 4 or 8).
    #[inline(always)]
    pub(crate) fn fast_ram_off_sz<const EA: u8, const W: bool>(
        &self,
        s: usize,
        off: u64,
        size: u8,
    ) -> Option<usize> {
        by_size!(size, N => self.fast_ram_off::<EA, N, W>(s, off))
    }

    /// [`CpuState::fast_rmw_off`] for `size` bytes.
    #[inline(always)]
    pub(crate) fn fast_rmw_off_sz<const EA: u8>(
        &self,
        s: usize,
        off: u64,
        size: u8,
    ) -> Option<usize> {
        by_size!(size, N => self.fast_rmw_off::<EA, N>(s, off))
    }

    /// Reads `size` bytes at `s:off` for an operand of address shape `EA`
    /// (`exec::ea`; `GEN` is [`CpuState::read_sz`]).
    #[inline(always)]
    pub(crate) fn read_sz_k<B: CpuBus, const EA: u8>(
        &mut self,
        bus: &mut B,
        s: usize,
        off: u64,
        size: u8,
    ) -> Res<u64> {
        let lin = self.seg_lin_k::<EA>(s, off, u64::from(size), false)?;
        self.read_lin_sz(bus, lin, size)
    }

    /// Writes `size` bytes at `s:off` for an operand of address shape `EA`
    /// (`exec::ea`; `GEN` is [`CpuState::write_sz`]).
    #[inline(always)]
    pub(crate) fn write_sz_k<B: CpuBus, const EA: u8>(
        &mut self,
        bus: &mut B,
        s: usize,
        off: u64,
        size: u8,
        v: u64,
    ) -> Res<()> {
        let lin = self.seg_lin_k::<EA>(s, off, u64::from(size), true)?;
        self.write_lin_sz(bus, lin, size, v)
    }

    /// Reads `size` bytes (1, 2, 4, 8) at `s:off`.
    #[inline(always)]
    pub fn read_sz<B: CpuBus>(&mut self, bus: &mut B, s: usize, off: u64, size: u8) -> Res<u64> {
        self.read_sz_k::<B, { crate::exec::ea::GEN }>(bus, s, off, size)
    }

    /// Writes `size` bytes at `s:off`.
    #[inline(always)]
    pub fn write_sz<B: CpuBus>(
        &mut self,
        bus: &mut B,
        s: usize,
        off: u64,
        size: u8,
        v: u64,
    ) -> Res<()> {
        self.write_sz_k::<B, { crate::exec::ea::GEN }>(bus, s, off, size, v)
    }

    /// Linear addresses of system structures (GDT, LDT, IDT, TSS) and of
    /// IA-32e interrupt frames: 64 bits whenever long mode is active, even
    /// while compatibility-mode code runs (SDM Vol. 3, 3.4.5 and 6.14: the
    /// table registers hold 64-bit bases in IA-32e mode); 32 bits outside.
    #[inline]
    pub fn wrap_sys(&self, lin: u64) -> u64 {
        if self.long_mode() {
            lin
        } else {
            lin & 0xFFFF_FFFF
        }
    }

    /// Reads `size` bytes at a linear address with supervisor privilege
    /// (descriptor tables, TSS).
    pub fn read_sys<B: CpuBus>(&mut self, bus: &mut B, lin: u64, size: u8) -> Res<u64> {
        let lin = self.wrap_sys(lin);
        let mut v = 0;
        for i in 0..u64::from(size) {
            let p = self.translate_as(bus, self.wrap_sys(lin + i), Access::Read, false)?;
            v |= self.phys_read(bus, p, 1) << (8 * i);
        }
        Ok(v)
    }

    /// Writes `size` bytes at a linear address with supervisor privilege.
    pub fn write_sys<B: CpuBus>(&mut self, bus: &mut B, lin: u64, size: u8, v: u64) -> Res<()> {
        for i in 0..u64::from(size) {
            let p = self.translate_as(bus, self.wrap_sys(lin + i), Access::Write, false)?;
            self.phys_write(bus, p, 1, v >> (8 * i));
        }
        Ok(())
    }
}

/// True when `a` is a canonical 48-bit address.
#[inline]
pub fn canonical(a: u64) -> bool {
    ((a as i64) << 16 >> 16) as u64 == a
}

impl CpuState {
    /// Reads `size` bytes at a linear address.
    #[inline(always)]
    pub fn read_lin_sz<B: CpuBus>(&mut self, bus: &mut B, lin: u64, size: u8) -> Res<u64> {
        by_size!(size, N => self.read_lin::<B, N>(bus, lin))
    }

    /// Writes `size` bytes at a linear address.
    #[inline(always)]
    pub fn write_lin_sz<B: CpuBus>(&mut self, bus: &mut B, lin: u64, size: u8, v: u64) -> Res<()> {
        by_size!(size, N => self.write_lin::<B, N>(bus, lin, v))
    }
}
