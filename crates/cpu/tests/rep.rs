//! REP string instructions against an element-by-element model, and the
//! exactness rules of their fast path: faults on the right element with
//! RCX/RSI/RDI and memory as after the last completed element, overlap,
//! address-size wrap, code written by REP MOVS.

use crate::common::long64::{Exit, CODE, M, PML4, STUBS};
use anyx86_cpu::arch::{attr, fl, reg, sreg, Segment};
use anyx86_cpu::cpuid::CpuModel;

/// Data of the model tests: [WIN, WIN + WIN_LEN).
const WIN: usize = 0x10_0000;
const WIN_LEN: usize = 0x10_0000;

impl M {
    /// 64-bit mode on qemu64, with 2-4 MiB mapped by 4 KiB pages (PT at
    /// PML4 + 0x3000) so single pages can be unmapped.
    fn long() -> Self {
        let mut m = M::long_with(CpuModel::qemu64());
        m.poke64(PML4 + 0x2000 + 8, (PML4 + 0x3000) | 3);
        for i in 0..512 {
            m.poke64(PML4 + 0x3000 + 8 * i, (0x20_0000 + (i << 12)) | 3);
        }
        m
    }

    /// Real mode at 0000:1000, SS:SP = 0000:8000, every interrupt vector
    /// v pointing at a HLT at 0000:(STUBS + v).
    fn real() -> Self {
        let mut m = Self::new(CpuModel::qemu32());
        m.stack = 0x8000;
        for v in 0..32u64 {
            m.bus.ram[(STUBS + v) as usize] = 0xF4;
            m.poke(4 * v, &((STUBS + v) as u32 & 0xFFFF).to_le_bytes());
        }
        let s = &mut m.cpu.s;
        let data = attr::P | attr::S | attr::RW | attr::ACCESSED;
        let code = data | attr::CODE;
        s.seg = [Segment::real(0, data); 6];
        s.seg[sreg::CS] = Segment::real(0, code);
        s.gpr[reg::SP] = 0x8000;
        s.update_mode();
        assert_eq!(s.bitness, 16);
        m
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Movs,
    Stos,
    Lods,
    Cmps,
    Scas,
}

/// CLD or STD and the string instruction with REP prefix `rep`: F3
/// (REP/REPE) or F2 (REPNE). For 64-bit code.
fn encode(k: Kind, rep: u8, sz: usize, down: bool) -> Vec<u8> {
    let mut c = vec![if down { 0xFD } else { 0xFC }];
    if sz == 2 {
        c.push(0x66);
    }
    c.push(rep);
    if sz == 8 {
        c.push(0x48);
    }
    let base = match k {
        Kind::Movs => 0xA4,
        Kind::Cmps => 0xA6,
        Kind::Stos => 0xAA,
        Kind::Lods => 0xAC,
        Kind::Scas => 0xAE,
    };
    c.push(if sz == 1 { base } else { base + 1 });
    c
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Regs {
    si: u64,
    di: u64,
    cx: u64,
    ax: u64,
    /// Last compared (a, b), for ZF and CF.
    cmp: Option<(u64, u64)>,
}

fn rd(mem: &[u8], a: usize, n: usize) -> u64 {
    let mut b = [0u8; 8];
    b[..n].copy_from_slice(&mem[a..a + n]);
    u64::from_le_bytes(b)
}

/// The element-by-element semantics (flat 64-bit addressing, `mem`
/// indexed by linear address).
fn model(mem: &mut [u8], k: Kind, rep: u8, sz: usize, down: bool, mut r: Regs) -> Regs {
    let m = if sz == 8 {
        u64::MAX
    } else {
        (1u64 << (8 * sz)) - 1
    };
    let step = |x: u64| {
        if down {
            x.wrapping_sub(sz as u64)
        } else {
            x.wrapping_add(sz as u64)
        }
    };
    while r.cx != 0 {
        let (si, di) = (r.si as usize, r.di as usize);
        let mut stop = false;
        match k {
            Kind::Movs => {
                let v = rd(mem, si, sz);
                mem[di..di + sz].copy_from_slice(&v.to_le_bytes()[..sz]);
                r.si = step(r.si);
                r.di = step(r.di);
            }
            Kind::Stos => {
                mem[di..di + sz].copy_from_slice(&r.ax.to_le_bytes()[..sz]);
                r.di = step(r.di);
            }
            Kind::Lods => {
                // A 32-bit write zero-extends in 64-bit mode.
                let keep = if sz == 4 { 0 } else { !m };
                r.ax = (r.ax & keep) | rd(mem, si, sz);
                r.si = step(r.si);
            }
            Kind::Cmps | Kind::Scas => {
                let a = if k == Kind::Cmps {
                    r.si = step(r.si);
                    rd(mem, si, sz)
                } else {
                    r.ax & m
                };
                let b = rd(mem, di, sz);
                r.di = step(r.di);
                r.cmp = Some((a, b));
                stop = (rep == 0xF3 && a != b) || (rep == 0xF2 && a == b);
            }
        }
        r.cx -= 1;
        if stop {
            break;
        }
    }
    r
}

/// A small deterministic generator.
fn fill_random(b: &mut [u8], mut seed: u64) {
    for x in b.iter_mut() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        *x = seed as u8;
    }
}

#[test]
fn rep_string_ops_match_the_element_model() {
    let mut m = M::long();
    let mut cases = 0;
    // (source, destination, count): pages crossed at odd offsets, overlap
    // both ways by less than an element and by more, several slices.
    let layouts: [(usize, usize, u64); 9] = [
        (0x14_0000, 0x18_0000, 100),
        (0x14_0F83, 0x18_07C1, 1500),
        (0x15_0000, 0x15_0001, 700),
        (0x15_0001, 0x15_0000, 700),
        (0x15_0000, 0x15_0003, 900),
        (0x15_0010, 0x15_0008, 300),
        (0x15_0800, 0x15_0800, 40),
        (0x16_0000, 0x17_0000, 5000),
        (0x14_0FFD, 0x18_2FFE, 3),
    ];
    for k in [Kind::Movs, Kind::Stos, Kind::Lods, Kind::Cmps, Kind::Scas] {
        let reps: &[u8] = if matches!(k, Kind::Cmps | Kind::Scas) {
            &[0xF3, 0xF2]
        } else {
            &[0xF3]
        };
        for &rep in reps {
            for sz in [1usize, 2, 4, 8] {
                for down in [false, true] {
                    for (li, &(src, dst, count)) in layouts.iter().enumerate() {
                        let seed = (li as u64 + 1) * 0x9E37_79B9 + sz as u64 * 7 + down as u64;
                        fill_random(&mut m.bus.ram[WIN..WIN + WIN_LEN], seed);
                        let ax = 0x1122_3344_5566_7788u64;
                        // Make the compares run a while and then stop.
                        let at = |i: u64| {
                            let d = i as usize * sz;
                            if down {
                                dst - d
                            } else {
                                dst + d
                            }
                        };
                        let stop_at = count * 2 / 3;
                        if matches!(k, Kind::Cmps | Kind::Scas) {
                            for i in 0..count {
                                let a = at(i);
                                let s_at = if down {
                                    src - i as usize * sz
                                } else {
                                    src + i as usize * sz
                                };
                                let want = if k == Kind::Cmps {
                                    rd(&m.bus.ram, s_at, sz)
                                } else {
                                    ax
                                };
                                // REPE: equal up to stop_at; REPNE: different.
                                let v = if (rep == 0xF3) == (i != stop_at) {
                                    want
                                } else {
                                    !want
                                };
                                m.bus.ram[a..a + sz].copy_from_slice(&v.to_le_bytes()[..sz]);
                            }
                        }
                        let before = Regs {
                            si: src as u64,
                            di: dst as u64,
                            cx: count,
                            ax,
                            cmp: None,
                        };
                        let mut mem = m.bus.ram[..WIN + WIN_LEN].to_vec();
                        let want = model(&mut mem, k, rep, sz, down, before);
                        let s = &mut m.cpu.s;
                        s.gpr[reg::SI] = src as u64;
                        s.gpr[reg::DI] = dst as u64;
                        s.gpr[reg::CX] = count;
                        s.gpr[reg::AX] = ax;
                        let icount = s.icount;
                        let what = format!("{k:?} rep {rep:#x} size {sz} down {down} layout {li}");
                        assert_eq!(m.run(&encode(k, rep, sz, down)), Exit::Done, "{what}");
                        let s = &m.cpu.s;
                        assert_eq!(s.flags & fl::DF != 0, down);
                        let got = Regs {
                            si: s.gpr[reg::SI],
                            di: s.gpr[reg::DI],
                            cx: s.gpr[reg::CX],
                            ax: s.gpr[reg::AX],
                            cmp: want.cmp,
                        };
                        assert_eq!(got, want, "{what}");
                        if let Some((a, b)) = want.cmp {
                            assert_eq!(s.zf(), a == b, "ZF {what}");
                            assert_eq!(s.cf(), a < b, "CF {what}");
                        }
                        // CLD/STD, one instruction per REP slice, HLT.
                        let elems = count - want.cx;
                        let slices = elems.div_ceil(1024).max(1);
                        assert_eq!(s.icount - icount, 1 + slices + 1, "{what}");
                        assert!(
                            mem[WIN..] == m.bus.ram[WIN..WIN + WIN_LEN],
                            "memory: {what}"
                        );
                        cases += 1;
                    }
                }
            }
        }
    }
    assert_eq!(cases, 7 * 4 * 2 * 9);
}

/// The error code and return RIP a 64-bit exception stub sees.
fn fault_frame(m: &M) -> (u64, u64) {
    let sp = m.cpu.s.gpr[reg::SP];
    (m.peek_le(sp, 8), m.peek_le(sp + 8, 8))
}

#[test]
fn a_page_fault_in_the_middle_of_rep_movsd_is_restartable() {
    let mut m = M::long();
    m.poke64(PML4 + 0x3000 + 3 * 8, 0); // 0x203000 not present
    fill_random(&mut m.bus.ram[0x10_0000..0x10_2000], 5);
    fill_random(&mut m.bus.ram[0x20_2000..0x20_4000], 6);
    let before = m.bus.ram.clone();
    let s = &mut m.cpu.s;
    s.gpr[reg::SI] = 0x10_0800;
    s.gpr[reg::DI] = 0x20_2F00;
    s.gpr[reg::CX] = 0x100;
    assert_eq!(m.run(&encode(Kind::Movs, 0xF3, 4, false)), Exit::Vector(14));
    let s = &m.cpu.s;
    assert_eq!(s.cr2, 0x20_3000);
    assert_eq!(s.gpr[reg::CX], 0xC0);
    assert_eq!(s.gpr[reg::SI], 0x10_0900);
    assert_eq!(s.gpr[reg::DI], 0x20_3000);
    // Not present, write, supervisor; the REP MOVSD (after CLD) restarts.
    assert_eq!(fault_frame(&m), (2, CODE + 1));
    assert!(m.bus.ram[0x20_2F00..0x20_3000] == before[0x10_0800..0x10_0900]);
    assert!(m.bus.ram[0x20_2000..0x20_2F00] == before[0x20_2000..0x20_2F00]);
    assert!(m.bus.ram[0x20_3000..0x20_4000] == before[0x20_3000..0x20_4000]);
}

#[test]
fn a_page_fault_on_the_source_of_a_backward_rep_movsb() {
    let mut m = M::long();
    m.poke64(PML4 + 0x3000 + 3 * 8, 0); // 0x203000 not present
    fill_random(&mut m.bus.ram[0x20_3000..0x20_5000], 7);
    fill_random(&mut m.bus.ram[0x17_F000..0x18_1000], 8);
    let before = m.bus.ram.clone();
    let s = &mut m.cpu.s;
    s.gpr[reg::SI] = 0x20_4010;
    s.gpr[reg::DI] = 0x18_0000;
    s.gpr[reg::CX] = 0x20;
    assert_eq!(m.run(&encode(Kind::Movs, 0xF3, 1, true)), Exit::Vector(14));
    let s = &m.cpu.s;
    assert_eq!(s.cr2, 0x20_3FFF);
    assert_eq!(s.gpr[reg::CX], 0x20 - 17);
    assert_eq!(s.gpr[reg::SI], 0x20_3FFF);
    assert_eq!(s.gpr[reg::DI], 0x18_0000 - 17);
    assert_eq!(fault_frame(&m), (0, CODE + 1)); // not present, read
    assert!(m.bus.ram[0x17_FFF0..=0x18_0000] == before[0x20_4000..=0x20_4010]);
    assert!(m.bus.ram[0x17_F000..0x17_FFF0] == before[0x17_F000..0x17_FFF0]);
    assert!(m.bus.ram[0x18_0001..0x18_1000] == before[0x18_0001..0x18_1000]);
}

#[test]
fn rep_movsw_stops_with_gp_at_the_real_mode_segment_limit() {
    let mut m = M::real();
    let data = m.cpu.s.seg[sreg::DS].attr;
    m.cpu.s.seg[sreg::DS] = Segment::real(0x1000, data);
    m.cpu.s.seg[sreg::ES] = Segment::real(0x2000, data);
    fill_random(&mut m.bus.ram[0x1_0000..0x3_0000], 9);
    let before = m.bus.ram.clone();
    let s = &mut m.cpu.s;
    s.gpr[reg::SI] = 0xFFF1;
    s.gpr[reg::DI] = 0;
    s.gpr[reg::CX] = 0x10;
    // cld / rep movsw (16-bit code: no operand-size prefix)
    assert_eq!(m.run(&[0xFC, 0xF3, 0xA5]), Exit::Vector(13));
    let s = &m.cpu.s;
    // Seven words fit below the limit; the eighth (at FFFF) does not.
    assert_eq!(s.gpr[reg::CX], 9);
    assert_eq!(s.gpr[reg::SI], 0xFFFF);
    assert_eq!(s.gpr[reg::DI], 14);
    assert_eq!(m.peek_le(0x7FFA, 2), CODE + 1, "IP of the REP MOVSW");
    assert!(m.bus.ram[0x2_0000..0x2_000E] == before[0x1_FFF1..0x1_FFFF]);
    assert!(m.bus.ram[0x2_000E..0x2_1000] == before[0x2_000E..0x2_1000]);
}

#[test]
fn sixteen_bit_si_and_di_wrap_at_64k() {
    let mut m = M::real();
    let data = m.cpu.s.seg[sreg::DS].attr;
    m.cpu.s.seg[sreg::DS] = Segment::real(0x1000, data);
    m.cpu.s.seg[sreg::ES] = Segment::real(0x2000, data);
    fill_random(&mut m.bus.ram[0x1_0000..0x3_0000], 10);
    let before = m.bus.ram.clone();
    let s = &mut m.cpu.s;
    s.gpr[reg::SI] = 0xABCD_FFF8;
    s.gpr[reg::DI] = 0x100;
    s.gpr[reg::CX] = 0x10;
    assert_eq!(m.run(&encode(Kind::Movs, 0xF3, 1, false)), Exit::Done);
    assert_eq!(m.cpu.s.gpr[reg::SI], 0xABCD_0008);
    assert_eq!(m.cpu.s.gpr[reg::DI], 0x110);
    for i in 0..0x10 {
        let src = 0x1_0000 + ((0xFFF8 + i) & 0xFFFF);
        assert_eq!(m.bus.ram[0x2_0100 + i], before[src], "byte {i}");
    }
    // Backward STOSB through DI = 0.
    let s = &mut m.cpu.s;
    s.gpr[reg::DI] = 4;
    s.gpr[reg::CX] = 0x10;
    s.gpr[reg::AX] = 0x77;
    assert_eq!(m.run(&encode(Kind::Stos, 0xF3, 1, true)), Exit::Done);
    assert_eq!(m.cpu.s.gpr[reg::DI], 0xFFF4);
    assert!(m.bus.ram[0x2_0000..=0x2_0004].iter().all(|&b| b == 0x77));
    assert!(m.bus.ram[0x2_FFF5..0x3_0000].iter().all(|&b| b == 0x77));
    assert_eq!(m.bus.ram[0x2_0005], before[0x2_0005]);
    assert_eq!(m.bus.ram[0x2_FFF4], before[0x2_FFF4]);
}

#[test]
fn code_written_by_rep_movs_runs_after_it_ran_once() {
    let mut m = M::real();
    m.poke(0x4000, &[0xB8, 0x01, 0x00, 0xC3]); // mov ax, 1 / ret
    m.poke(0x4010, &[0xB8, 0x02, 0x00, 0xC3]); // mov ax, 2 / ret
    #[rustfmt::skip]
    let code = [
        0xBE, 0x00, 0x40, 0xBF, 0x00, 0x20, 0xB9, 0x04, 0x00, // si, di, cx
        0xFC, 0xF3, 0xA4, // cld / rep movsb: 0x2000 is plain data yet
        0xE8, 0xF1, 0x0F, // call 0x2000: now it is code
        0x89, 0xC3, // mov bx, ax
        0xBE, 0x10, 0x40, 0xBF, 0x00, 0x20, 0xB9, 0x04, 0x00,
        0xF3, 0xA4, // rep movsb over that code
        0xE8, 0xE1, 0x0F, // call 0x2000
    ];
    assert_eq!(m.run(&code), Exit::Done);
    assert_eq!(m.cpu.s.gpr[reg::BX] & 0xFFFF, 1);
    assert_eq!(m.cpu.s.gpr[reg::AX] & 0xFFFF, 2, "the new code ran");
}

#[test]
fn rep_movs_over_the_rest_of_its_own_trace() {
    let mut m = M::real();
    m.poke(0x4000, &[0xB8, 0x34, 0x12]); // mov ax, 0x1234
    #[rustfmt::skip]
    let code = [
        0xBE, 0x00, 0x40, 0xBF, 0x0C, 0x10, 0xB9, 0x03, 0x00, // si, di = 0x100C, cx
        0xFC, 0xF3, 0xA4, // cld / rep movsb
        0xB8, 0x55, 0x55, // 0x100C: mov ax, 0x5555 (overwritten)
    ];
    assert_eq!(m.run(&code), Exit::Done);
    assert_eq!(m.cpu.s.gpr[reg::AX] & 0xFFFF, 0x1234);
}
