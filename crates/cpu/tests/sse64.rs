//! MMX/SSE/SSE2 in 64-bit mode on a flat bus: the host-generated vectors of
//! `tests/sse/vectors64.txt.gz` (REX.W forms, XMM8-XMM15, RIP-relative
//! operands with and without a trailing immediate; see
//! `tests/sse/README.md`) each run one instruction in 64-bit mode and must
//! leave the whole register and data state as the host CPU did. Then
//! FXSAVE/FXSAVE64 in 64-bit mode and the #NM/#UD rules there.

use crate::common::long64::{Exit, CODE, M, PML4};
use anyx86_cpu::arch::{cr0, cr4, reg};
use anyx86_cpu::cpuid::CpuModel;
use anyx86_cpu::RunExit;
use std::collections::BTreeMap;
use std::io::Read;

/// The data block the vectors reach RIP-relatively (`[rel $$+0x200]`) or
/// through RDX.
const DATA: u64 = CODE + 0x200;

/// 64-bit mode on qemu64 with CR4.OSFXSR and OSXMMEXCPT, the FPU after
/// FNINIT.
fn long() -> M {
    let mut m = M::long_with(CpuModel::qemu64());
    m.cpu.s.cr4 |= cr4::OSFXSR | cr4::OSXMMEXCPT;
    m.cpu.s.fpu.init();
    m
}

impl M {
    /// Maps 4 GiB + x to x too (for x below 16 MiB).
    fn map_high(&mut self) {
        self.poke64(PML4 + 0x1000 + 8 * 4, (PML4 + 0x2000) | 3);
    }
}

/// The GPRs the vectors use, in the generator's order, with their indices.
const GPRS: [(&str, usize); 7] = [
    ("rax", reg::AX),
    ("rcx", reg::CX),
    ("rsi", reg::SI),
    ("r8", 8),
    ("r9", 9),
    ("r10", 10),
    ("r11", 11),
];

/// splitmix64, as `gen_vectors64.py` draws the initial state.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn next128(&mut self) -> u128 {
        let lo = self.next();
        u128::from(lo) | u128::from(self.next()) << 64
    }
}

/// Every location a vector may touch, by the generator's names.
fn initial(seed: u64) -> BTreeMap<String, u128> {
    let mut g = SplitMix(seed);
    let mut st = BTreeMap::new();
    for i in 0..16 {
        st.insert(format!("x{i}"), g.next128());
    }
    for i in 0..8 {
        st.insert(format!("m{i}"), u128::from(g.next()));
    }
    for (r, _) in GPRS {
        st.insert(r.to_string(), u128::from(g.next()));
    }
    for i in 0..2 {
        st.insert(format!("d{i}"), g.next128());
    }
    st
}

fn hex(s: &str) -> u128 {
    u128::from_str_radix(s, 16).expect("hex field")
}

fn assignments(s: &str) -> Vec<(String, u128)> {
    if s == "-" {
        return Vec::new();
    }
    s.split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("name=value");
            (k.to_string(), hex(v))
        })
        .collect()
}

fn load(m: &mut M, st: &BTreeMap<String, u128>) {
    let s = &mut m.cpu.s;
    for i in 0..16 {
        s.simd.xmm[i] = st[&format!("x{i}")];
    }
    for i in 0..8u8 {
        s.set_mm(i, st[&format!("m{i}")] as u64);
    }
    for (r, i) in GPRS {
        s.gpr[i] = st[r] as u64;
    }
    s.gpr[reg::DX] = DATA;
    m.poke(DATA, &st["d0"].to_le_bytes());
    m.poke(DATA + 16, &st["d1"].to_le_bytes());
}

fn observe(m: &M) -> BTreeMap<String, u128> {
    let s = &m.cpu.s;
    let mut st = BTreeMap::new();
    for i in 0..16 {
        st.insert(format!("x{i}"), s.simd.xmm[i]);
    }
    for i in 0..8u8 {
        st.insert(format!("m{i}"), u128::from(s.mm(i)));
    }
    for (r, i) in GPRS {
        st.insert(r.to_string(), u128::from(s.gpr[i]));
    }
    st.insert("d0".into(), m.peek128(DATA));
    st.insert("d1".into(), m.peek128(DATA + 16));
    st
}

#[test]
fn host_vectors_64() {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&include_bytes!("sse/vectors64.txt.gz")[..])
        .read_to_end(&mut raw)
        .expect("gzip");
    let text = String::from_utf8(raw).expect("utf-8");
    let mut m = long();
    let (mut n, mut failures) = (0usize, 0usize);
    let mut per_insn: BTreeMap<String, usize> = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 8, "{line}");
        let code: Vec<u8> = (0..f[0].len() / 2)
            .map(|i| u8::from_str_radix(&f[0][2 * i..2 * i + 2], 16).expect("hex byte"))
            .collect();
        let seed = hex(f[1]) as u64;
        let mx = hex(f[2]) as u32;
        let mut st = initial(seed);
        st.extend(assignments(f[3]));
        let mut want = st.clone();
        want.extend(assignments(f[4]));
        let (want_mx, fmask, want_fl) = (hex(f[5]) as u32, hex(f[6]) as u32, hex(f[7]) as u32);
        load(&mut m, &st);
        m.cpu.s.simd.mxcsr = mx;
        let exit = m.run(&code);
        let got = observe(&m);
        let got_fl = m.cpu.s.eflags() & fmask;
        assert_eq!(m.cpu.s.gpr[reg::DX], DATA, "{line}: rdx");
        n += 1;
        if exit != Exit::Done || got != want || m.cpu.s.simd.mxcsr != want_mx || got_fl != want_fl {
            failures += 1;
            let c = per_insn.entry(f[0].to_string()).or_default();
            *c += 1;
            if *c <= 2 {
                let diff: Vec<String> = want
                    .iter()
                    .filter(|(k, v)| got[*k] != **v)
                    .map(|(k, v)| format!("{k}: want {v:x} got {:x} (was {:x})", got[k], st[k]))
                    .collect();
                eprintln!(
                    "{line}\n  {exit:?} mxcsr {:x} flags {got_fl:x}\n  {}",
                    m.cpu.s.simd.mxcsr,
                    diff.join("\n  ")
                );
            }
        }
    }
    for (k, v) in &per_insn {
        eprintln!("{k}: {v} failures");
    }
    assert_eq!(failures, 0, "{failures} of {n} vectors differ");
    assert!(n > 3000, "only {n} vectors");
}

const HIGH: u64 = 1 << 32;

fn le(b: &[u8]) -> u64 {
    let mut r = [0u8; 8];
    r[..b.len()].copy_from_slice(b);
    u64::from_le_bytes(r)
}

/// In 64-bit mode FXSAVE64 (REX.W) stores FIP and FDP as 64-bit offsets,
/// FXSAVE their low 32 bits with FCS and FDS; both store XMM0-XMM15.
#[test]
fn fxsave64_and_fxsave_in_64_bit_mode() {
    let mut m = long();
    m.map_high();
    for i in 0..16u128 {
        m.cpu.s.simd.xmm[i as usize] =
            (0x0101_0101_0101_0101_0101_0101_0101_0101 * (i + 1)) ^ (i << 120);
    }
    m.cpu.s.simd.mxcsr = 0x3FC0;
    m.poke64(0x8000, 1.5f64.to_bits());
    m.cpu.s.gpr[reg::BX] = HIGH + 0x8000;
    m.cpu.s.gpr[reg::DX] = 0x9000;
    m.cpu.s.gpr[reg::SI] = 0x9200;
    // fld qword [rbx]; fxsave64 [rdx]; fxsave [rsi]
    let code = [0xDD, 0x03, 0x48, 0x0F, 0xAE, 0x02, 0x0F, 0xAE, 0x06];
    assert_eq!(m.run_at(HIGH + CODE, &code), Exit::Done);
    for (base, w64) in [(0x9000u64, true), (0x9200, false)] {
        let a = m.peek(base, 512).to_vec();
        let what = if w64 { "fxsave64" } else { "fxsave" };
        assert_eq!(le(&a[0..2]), 0x037F, "{what} FCW");
        assert_eq!(le(&a[6..8]), 0x503, "{what} FOP");
        if w64 {
            assert_eq!(le(&a[8..16]), HIGH + CODE, "{what} FIP");
            assert_eq!(le(&a[16..24]), HIGH + 0x8000, "{what} FDP");
        } else {
            assert_eq!(le(&a[8..12]), CODE, "{what} FIP");
            assert_eq!(le(&a[12..14]), 8, "{what} FCS");
            assert_eq!(le(&a[16..20]), 0x8000, "{what} FDP");
            assert_eq!(le(&a[20..22]), 0x10, "{what} FDS");
        }
        assert_eq!(le(&a[24..28]), 0x3FC0, "{what} MXCSR");
        assert_eq!(le(&a[32..40]), 0xC000_0000_0000_0000, "{what} ST0 mantissa");
        for i in 0..16 {
            let at = 160 + 16 * i;
            let x = u128::from_le_bytes(a[at..at + 16].try_into().expect("16"));
            assert_eq!(x, m.cpu.s.simd.xmm[i], "{what} XMM{i}");
        }
    }
    // FXRSTOR64 takes 64-bit FIP/FDP and XMM8-XMM15 back; FXRSTOR the
    // 32-bit ones with the selectors.
    let mut img = m.peek(0x9000, 512).to_vec();
    img[8..16].copy_from_slice(&0x1234_5678_9ABC_DEF0u64.to_le_bytes());
    img[16..24].copy_from_slice(&0x0FED_CBA9_8765_4321u64.to_le_bytes());
    img[24..28].copy_from_slice(&0x1F80u32.to_le_bytes());
    img[160 + 16 * 13..160 + 16 * 14].copy_from_slice(&[0xAB; 16]);
    m.poke(0x9400, &img);
    m.cpu.s.gpr[reg::DX] = 0x9400;
    // fxrstor64 [rdx]
    assert_eq!(m.run(&[0x48, 0x0F, 0xAE, 0x0A]), Exit::Done);
    assert_eq!(m.cpu.s.fpu.fip, 0x1234_5678_9ABC_DEF0);
    assert_eq!(m.cpu.s.fpu.fdp, 0x0FED_CBA9_8765_4321);
    assert_eq!(m.cpu.s.simd.mxcsr, 0x1F80);
    assert_eq!(m.cpu.s.simd.xmm[13], u128::from_le_bytes([0xAB; 16]));
    let mut img = m.peek(0x9200, 512).to_vec();
    img[8..12].copy_from_slice(&0x89AB_CDEFu32.to_le_bytes());
    img[12..14].copy_from_slice(&0x33u16.to_le_bytes());
    img[160 + 16 * 15..160 + 16 * 16].copy_from_slice(&[0xCD; 16]);
    m.poke(0x9400, &img);
    // fxrstor [rdx]
    assert_eq!(m.run(&[0x0F, 0xAE, 0x0A]), Exit::Done);
    assert_eq!((m.cpu.s.fpu.fip, m.cpu.s.fpu.fcs), (0x89AB_CDEF, 0x33));
    assert_eq!(m.cpu.s.simd.xmm[15], u128::from_le_bytes([0xCD; 16]));
    assert_eq!(m.cpu.s.simd.mxcsr, 0x3FC0);
}

/// CR0.TS gives #NM, CR0.EM and a clear CR4.OSFXSR #UD (MMX needs no
/// OSFXSR), in 64-bit mode as elsewhere; with XMM8-XMM15 and REX.W forms.
#[test]
fn nm_and_ud_rules_in_64_bit_mode() {
    let movaps = [0x45, 0x0F, 0x28, 0xC1]; // movaps xmm8, xmm9
    let movq = [0x66, 0x4C, 0x0F, 0x6E, 0xF8]; // movq xmm15, rax
    let paddb = [0x0F, 0xFC, 0xC1]; // paddb mm0, mm1
    let fxsave64 = [0x48, 0x0F, 0xAE, 0x02]; // fxsave64 [rdx]
    let with = |cr0_set: u64, cr4_clear: u64, code: &[u8]| {
        let mut m = long();
        m.cpu.s.gpr[reg::DX] = 0x9000;
        m.cpu.s.cr0 |= cr0_set;
        m.cpu.s.cr4 &= !cr4_clear;
        m.run(code)
    };
    for code in [&movaps[..], &movq] {
        assert_eq!(with(0, 0, code), Exit::Done);
        assert_eq!(with(cr0::TS, 0, code), Exit::Vector(7));
        assert_eq!(with(cr0::EM, 0, code), Exit::Vector(6));
        assert_eq!(with(0, cr4::OSFXSR, code), Exit::Vector(6));
    }
    assert_eq!(with(0, cr4::OSFXSR, &paddb), Exit::Done);
    assert_eq!(with(cr0::TS, 0, &paddb), Exit::Vector(7));
    assert_eq!(with(cr0::EM, 0, &paddb), Exit::Vector(6));
    assert_eq!(with(cr0::TS, 0, &fxsave64), Exit::Vector(7));
    assert_eq!(with(0, 0, &fxsave64), Exit::Done);
    // Misaligned 16-byte operand: #GP(0), RIP-relative too.
    let mut m = long();
    // movdqa xmm9, [rip+0x1FF] = [0x1208]
    let code = [0x66, 0x44, 0x0F, 0x6F, 0x0D, 0xFF, 0x01, 0, 0];
    assert_eq!(m.run(&code), Exit::Vector(13));
}

/// RIP-relative SSE operands in code above 4 GiB: the address is the full
/// 64-bit RIP plus the displacement. 4 GiB + x maps to 2 MiB + x here, so
/// an address truncated to 32 bits reads other data.
#[test]
fn rip_relative_sse_operands_above_4_gib() {
    let mut m = long();
    let pd2 = PML4 + 0x3000;
    m.poke64(PML4 + 0x1000 + 8 * 4, pd2 | 3);
    for i in 0..4 {
        m.poke64(pd2 + 8 * i, ((i + 1) << 21) | 0x83);
    }
    let far = 2 << 20;
    let want = 0x0F0E_0D0C_0B0A_0908_0706_0504_0302_0100u128;
    m.poke(far + DATA, &want.to_le_bytes());
    m.poke(DATA, &[0xEE; 16]);
    // pshufd xmm9, [rip+0x1F6], 0x1B (the data block: 0x200 from the start)
    let code = [0x66, 0x44, 0x0F, 0x70, 0x0D, 0xF6, 0x01, 0, 0, 0x1B];
    m.poke(far + CODE, &code);
    m.bus.ram[(far + CODE) as usize + code.len()] = 0xF4;
    m.cpu.flush_code_cache();
    m.cpu.s.rip = HIGH + CODE;
    m.cpu.s.halted = false;
    assert!(matches!(m.cpu.run(&mut m.bus, 100), RunExit::Halted));
    assert_eq!(m.cpu.s.rip, HIGH + CODE + code.len() as u64 + 1);
    let dw = |v: u128, i: u32| (v >> (32 * i)) as u32;
    let got = m.cpu.s.simd.xmm[9];
    assert_eq!(
        [dw(got, 0), dw(got, 1), dw(got, 2), dw(got, 3)],
        [dw(want, 3), dw(want, 2), dw(want, 1), dw(want, 0)]
    );
}
