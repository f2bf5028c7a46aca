//! Comparing the two CPUs: our state is laid out exactly as QEMU's `g`
//! packet (by register name, through the debugger's register table), then
//! compared register by register with the masks QEMU's view forces and
//! the flags the instruction leaves undefined.

use super::qemu::RegInfo;
use anyx86_cpu::arch::fl;
use anyx86_cpu::CpuState;
use anyx86_debugger::regs::{self, RegDesc, AMD64_LAYOUT};
use iced_x86::{Instruction, RflagsBits};

/// Registers never compared, with the reason.
const SKIPPED: &[(&str, &str)] = &[
    // QEMU does not keep the x87 last-instruction and last-operand
    // pointers (it reports zeros), and its `ftag` is built differently.
    ("fiseg", "QEMU does not track the x87 instruction pointer"),
    ("fioff", "QEMU does not track the x87 instruction pointer"),
    ("foseg", "QEMU does not track the x87 operand pointer"),
    ("fooff", "QEMU does not track the x87 operand pointer"),
    ("fop", "QEMU does not track the x87 last opcode"),
    ("ftag", "QEMU reports the abridged tag, inverted"),
    // Our debugger's view of CR8 reads the CPU's copy, which does not
    // follow the local APIC's TPR (anyx86 debugger bug, reported).
    ("cr8", "anyx86's register view does not follow the APIC TPR"),
];

/// Names of the general registers that QEMU truncates to 32 bits (and
/// R8-R15 to zero) outside 64-bit code.
const GPR64: [&str; 17] = [
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15", "rip",
];

/// One register that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    /// Register name.
    pub name: String,
    /// QEMU's value, as hex (most significant byte first).
    pub qemu: String,
    /// Ours.
    pub ours: String,
}

/// The comparison plan for one QEMU register layout.
pub struct Compare {
    regs: Vec<RegInfo>,
    ours: Vec<Option<RegDesc>>,
    /// Also compare the x87 registers.
    pub fpu: bool,
    /// Registers where QEMU is known to differ from the SDM at reset:
    /// not compared until the two first agree (the exclusions file's
    /// `reset NAME` lines).
    pub excused: Vec<String>,
    /// Registers compared only in their low bytes (the exclusions file's
    /// `low NAME BYTES` lines).
    pub low: Vec<(String, usize)>,
    /// Register bits never compared (`mask NAME HEX` lines).
    pub masks: Vec<(String, u64)>,
    /// Registers where two NaNs of a lane count as equal whatever their
    /// payloads (`nan NAME` lines).
    pub nan: Vec<String>,
}

impl Compare {
    /// A plan for QEMU's layout `regs`.
    pub fn new(regs: Vec<RegInfo>) -> Self {
        let ours = regs
            .iter()
            .map(|r| regs::by_name(AMD64_LAYOUT.regs, &r.name))
            .collect();
        Self {
            regs,
            ours,
            fpu: true,
            excused: Vec::new(),
            low: Vec::new(),
            masks: Vec::new(),
            nan: Vec::new(),
        }
    }

    /// The register names of the layout.
    pub fn names(&self) -> Vec<String> {
        self.regs.iter().map(|r| r.name.clone()).collect()
    }

    /// Index of register `name` in the layout.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.regs.iter().position(|r| r.name == name)
    }

    /// The bytes of register `name` in a `g` image.
    pub fn get<'a>(&self, image: &'a [u8], name: &str) -> Option<&'a [u8]> {
        let r = &self.regs[self.index(name)?];
        image.get(r.offset..r.offset + r.size)
    }

    /// A register of a `g` image as a number (its low 8 bytes).
    pub fn value(&self, image: &[u8], name: &str) -> u64 {
        self.get(image, name).map_or(0, regs::le)
    }

    /// QEMU's gdbstub sends the x87 registers by physical number (R0-R7);
    /// GDB's `st0`-`st7` are relative to TOP: rotate them.
    pub fn normalize_qemu(&self, image: &mut [u8]) {
        let top = ((self.value(image, "fstat") >> 11) & 7) as usize;
        let slots: Vec<(usize, usize)> = (0..8)
            .filter_map(|i| {
                self.index(&format!("st{i}"))
                    .map(|k| (self.regs[k].offset, self.regs[k].size))
            })
            .collect();
        if slots.len() != 8 || top == 0 {
            return;
        }
        let phys: Vec<Vec<u8>> = slots
            .iter()
            .map(|(o, n)| image.get(*o..o + n).map(<[u8]>::to_vec).unwrap_or_default())
            .collect();
        for (i, (o, n)) in slots.iter().enumerate() {
            let src = &phys[(top + i) & 7];
            if let Some(dst) = image.get_mut(*o..o + n) {
                if src.len() == dst.len() {
                    dst.copy_from_slice(src);
                }
            }
        }
    }

    /// Our state as a `g` image in QEMU's layout.
    pub fn image(&self, s: &CpuState) -> Vec<u8> {
        let mut out = Vec::new();
        for (r, d) in self.regs.iter().zip(&self.ours) {
            let mut b = d.map(|d| regs::read_bytes(s, &d)).unwrap_or_default();
            b.resize(r.size, 0);
            out.extend_from_slice(&b);
        }
        out
    }

    /// The registers that differ between QEMU's image `q` and ours `o`;
    /// `long64`: the CPU runs 64-bit code (else QEMU shows 32-bit GPRs),
    /// `undefined`: EFLAGS bits not to compare.
    pub fn diff(&mut self, q: &[u8], o: &[u8], long64: bool, undefined: u32) -> Vec<Diff> {
        let mut out = Vec::new();
        for (r, d) in self.regs.iter().zip(&self.ours) {
            if d.is_none() || SKIPPED.iter().any(|(n, _)| *n == r.name) {
                continue;
            }
            if !self.fpu && is_x87(&r.name) {
                continue;
            }
            let (Some(a), Some(b)) = (
                q.get(r.offset..r.offset + r.size),
                o.get(r.offset..r.offset + r.size),
            ) else {
                continue;
            };
            let mut n = if !long64 && GPR64.contains(&r.name.as_str()) {
                4
            } else {
                r.size
            };
            if let Some((_, l)) = self.low.iter().find(|(x, _)| *x == r.name) {
                n = n.min(*l);
            }
            let (mut a, mut b) = (a[..n].to_vec(), b[..n].to_vec());
            if r.name == "eflags" {
                mask_flags(&mut a, &mut b, undefined);
            }
            for (_, m) in self.masks.iter().filter(|(x, _)| *x == r.name) {
                mask_flags(&mut a, &mut b, *m as u32);
            }
            if let Some(i) = self.excused.iter().position(|n| *n == r.name) {
                if a == b {
                    self.excused.swap_remove(i);
                }
                continue;
            }
            if a != b && self.nan.contains(&r.name) && same_but_nan(&a, &b) {
                continue;
            }
            if a != b {
                out.push(Diff {
                    name: r.name.clone(),
                    qemu: hex_be(&a),
                    ours: hex_be(&b),
                });
            }
        }
        out
    }
}

/// Our register descriptions, by name (to write QEMU's values into our
/// state when an instruction's results are excused).
pub fn our_reg(name: &str) -> Option<RegDesc> {
    regs::by_name(AMD64_LAYOUT.regs, name)
}

/// The x87 registers (compared unless `--no-fpu`).
fn is_x87(name: &str) -> bool {
    (name.starts_with("st") && name.len() == 3) || matches!(name, "fctrl" | "fstat")
}

/// True when every 64-bit lane of `a` and `b` is equal, or both are
/// double NaNs, or each 32-bit half is equal or both single NaNs.
fn same_but_nan(a: &[u8], b: &[u8]) -> bool {
    let nan64 = |x: u64| (x >> 52) & 0x7FF == 0x7FF && x & ((1 << 52) - 1) != 0;
    let nan32 = |x: u32| (x >> 23) & 0xFF == 0xFF && x & ((1 << 23) - 1) != 0;
    a.chunks(8).zip(b.chunks(8)).all(|(x, y)| {
        let (p, q) = (regs::le(x), regs::le(y));
        let halves = |v: u64| [v as u32, (v >> 32) as u32];
        let (hp, hq) = (halves(p), halves(q));
        p == q
            || (nan64(p) && nan64(q))
            || hp
                .iter()
                .zip(&hq)
                .all(|(m, n)| m == n || (nan32(*m) && nan32(*n)))
    })
}

/// Clears the `undefined` bits of two little-endian EFLAGS images.
fn mask_flags(a: &mut [u8], b: &mut [u8], undefined: u32) {
    for (i, m) in undefined.to_le_bytes().iter().enumerate() {
        if let (Some(x), Some(y)) = (a.get_mut(i), b.get_mut(i)) {
            *x &= !m;
            *y &= !m;
        }
    }
}

/// Little-endian bytes as one hex number.
pub fn hex_be(b: &[u8]) -> String {
    b.iter().rev().map(|x| format!("{x:02x}")).collect()
}

/// The EFLAGS bits the SDM leaves undefined after `ins` (iced-x86's
/// instruction tables).
pub fn undefined_flags(ins: &Instruction) -> u32 {
    let u = ins.rflags_undefined();
    let map = [
        (RflagsBits::OF, fl::OF),
        (RflagsBits::SF, fl::SF),
        (RflagsBits::ZF, fl::ZF),
        (RflagsBits::AF, fl::AF),
        (RflagsBits::CF, fl::CF),
        (RflagsBits::PF, fl::PF),
    ];
    map.iter()
        .filter(|(b, _)| u & b != 0)
        .fold(0, |acc, (_, f)| acc | f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::{Decoder, DecoderOptions};

    #[test]
    fn mul_leaves_sf_zf_af_pf_undefined() {
        // F7 E3: mul ebx.
        let ins = Decoder::new(32, &[0xF7, 0xE3], DecoderOptions::NONE).decode();
        assert_eq!(undefined_flags(&ins), fl::SF | fl::ZF | fl::AF | fl::PF);
    }

    #[test]
    fn masked_flags_compare_equal() {
        let (mut a, mut b) = (vec![0x46, 0, 0, 0], vec![0x02, 0, 0, 0]);
        mask_flags(&mut a, &mut b, fl::ZF | fl::PF);
        assert_eq!(a, b);
    }
}
