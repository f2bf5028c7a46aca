//! CPUID: the identity and features the CPU reports.
//!
//! The 32-bit profile is QEMU's `qemu32` model (GenuineIntel, family 6,
//! model 6, stepping 3, brand "QEMU Virtual CPU version 2.5+"), so guests
//! take the paths they take on the reference machines, but only features
//! that are implemented are reported.

/// Leaf 1 EDX feature bits.
pub mod edx1 {
    /// x87 FPU on chip.
    pub const FPU: u32 = 1 << 0;
    /// Page size extension (4 MiB pages).
    pub const PSE: u32 = 1 << 3;
    /// Time stamp counter.
    pub const TSC: u32 = 1 << 4;
    /// RDMSR/WRMSR.
    pub const MSR: u32 = 1 << 5;
    /// Physical address extension.
    pub const PAE: u32 = 1 << 6;
    /// CMPXCHG8B.
    pub const CX8: u32 = 1 << 8;
    /// SYSENTER/SYSEXIT.
    pub const SEP: u32 = 1 << 11;
    /// Global pages.
    pub const PGE: u32 = 1 << 13;
    /// On-chip local APIC (set by the machine that has one).
    pub const APIC: u32 = 1 << 9;
    /// CMOVcc.
    pub const CMOV: u32 = 1 << 15;
    /// Page attribute table (the IA32_PAT MSR, 277h).
    pub const PAT: u32 = 1 << 16;
    /// CLFLUSH.
    pub const CLFSH: u32 = 1 << 19;
    /// MMX.
    pub const MMX: u32 = 1 << 23;
    /// FXSAVE/FXRSTOR.
    pub const FXSR: u32 = 1 << 24;
    /// SSE.
    pub const SSE: u32 = 1 << 25;
    /// SSE2.
    pub const SSE2: u32 = 1 << 26;
}

/// Extended leaf 0x8000_0001 EDX bits.
pub mod edx81 {
    /// SYSCALL/SYSRET.
    pub const SYSCALL: u32 = 1 << 11;
    /// No-execute page protection.
    pub const NX: u32 = 1 << 20;
    /// RDTSCP and IA32_TSC_AUX.
    pub const RDTSCP: u32 = 1 << 27;
    /// Long mode (Intel 64 / AMD64).
    pub const LM: u32 = 1 << 29;
    /// On AMD, the leaf 1 EDX bits that leaf 0x8000_0001 EDX repeats
    /// (QEMU `CPUID_EXT2_AMD_ALIASES`).
    pub const AMD_ALIASES: u32 = 0x0183_F3FF;
}

/// Leaf 1 ECX feature bits.
pub mod ecx1 {
    /// SSE3 (with FISTTP).
    pub const SSE3: u32 = 1 << 0;
    /// The local APIC timer's TSC-deadline mode (with the APIC).
    pub const TSC_DEADLINE: u32 = 1 << 24;
    /// MONITOR/MWAIT (not implemented, never reported).
    pub const MONITOR: u32 = 1 << 3;
    /// SSSE3.
    pub const SSSE3: u32 = 1 << 9;
    /// CMPXCHG16B.
    pub const CX16: u32 = 1 << 13;
    /// SSE4.1.
    pub const SSE41: u32 = 1 << 19;
    /// SSE4.2.
    pub const SSE42: u32 = 1 << 20;
    /// POPCNT.
    pub const POPCNT: u32 = 1 << 23;
}

/// Extended leaf 0x8000_0001 ECX bits.
pub mod ecx81 {
    /// LAHF/SAHF in 64-bit mode.
    pub const LAHF_LM: u32 = 1 << 0;
}

/// A CPU identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuModel {
    /// Vendor string (12 bytes).
    pub vendor: [u8; 12],
    /// Family.
    pub family: u32,
    /// Model.
    pub model: u32,
    /// Stepping.
    pub stepping: u32,
    /// Leaf 1 EDX.
    pub features_edx: u32,
    /// Leaf 1 ECX.
    pub features_ecx: u32,
    /// Leaf 0x8000_0001 EDX.
    pub ext_edx: u32,
    /// Leaf 0x8000_0001 ECX.
    pub ext_ecx: u32,
    /// Brand string (48 bytes, NUL padded).
    pub brand: [u8; 48],
    /// Highest basic leaf.
    pub max_basic: u32,
    /// Highest extended leaf.
    pub max_ext: u32,
    /// Physical address width in bits (MAXPHYADDR).
    pub phys_bits: u32,
    /// Linear address width in bits.
    pub virt_bits: u32,
    /// Leaves answered with fixed values (cache and TLB descriptions),
    /// as the modelled CPU reports them.
    pub fixed: &'static [(u32, [u32; 4])],
}

/// qemu64's cache and TLB leaves (QEMU 7.2 `-cpu qemu64`, TCG).
const QEMU64_FIXED: &[(u32, [u32; 4])] = &[
    (5, [0, 0, 3, 0]),
    (
        0x8000_0005,
        [0x01FF_01FF, 0x01FF_01FF, 0x4002_0140, 0x4002_0140],
    ),
    (0x8000_0006, [0, 0x4200_4200, 0x0200_8140, 0x0080_8140]),
];

impl CpuModel {
    /// QEMU's `qemu32`, with the features this interpreter implements.
    pub fn qemu32() -> Self {
        let mut brand = [0u8; 48];
        let b = b"QEMU Virtual CPU version 2.5+";
        brand[..b.len()].copy_from_slice(b);
        Self {
            vendor: *b"GenuineIntel",
            family: 6,
            model: 6,
            stepping: 3,
            features_edx: edx1::FPU
                | edx1::PSE
                | edx1::TSC
                | edx1::MSR
                | edx1::PAE
                | edx1::CX8
                | edx1::SEP
                | edx1::PGE
                | edx1::CMOV
                | edx1::PAT
                | edx1::MMX
                | edx1::FXSR
                | edx1::SSE
                | edx1::SSE2,
            features_ecx: 0,
            ext_edx: edx81::NX,
            ext_ecx: 0,
            brand,
            max_basic: 4,
            max_ext: 0x8000_0004,
            phys_bits: 36,
            virt_bits: 32,
            fixed: &[],
        }
    }

    /// QEMU's `qemu64` (AuthenticAMD, family 15, model 107, stepping 1),
    /// with the features this interpreter implements. Leaf 1 EDX is
    /// `qemu32`'s list (features join both profiles there); leaf
    /// 0x8000_0001 EDX repeats its AMD aliases as QEMU does, plus long
    /// mode, SYSCALL and NX (qemu64 does not report RDTSCP).
    pub fn qemu64() -> Self {
        let base = Self::qemu32();
        Self {
            vendor: *b"AuthenticAMD",
            family: 15,
            model: 107,
            stepping: 1,
            ext_edx: (base.features_edx & edx81::AMD_ALIASES)
                | edx81::SYSCALL
                | edx81::NX
                | edx81::LM,
            ext_ecx: ecx81::LAHF_LM,
            // Leaf 1 ECX: SSE3 and CMPXCHG16B (as QEMU's qemu64) and the
            // rest of x86-64-v2, which QEMU's qemu64 leaves out (`+ssse3`,
            // `+sse4.1`, `+sse4.2`, `+popcnt` add them). MONITOR (bit 3,
            // reported by QEMU) stays clear: MONITOR/MWAIT raise #UD.
            features_ecx: base.features_ecx
                | ecx1::SSE3
                | ecx1::SSSE3
                | ecx1::CX16
                | ecx1::SSE41
                | ecx1::SSE42
                | ecx1::POPCNT,
            max_basic: 0xD,
            max_ext: 0x8000_000A,
            phys_bits: 40,
            virt_bits: 48,
            fixed: QEMU64_FIXED,
            ..base
        }
    }

    /// A profile by name (`qemu32`, `qemu64`).
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "qemu32" => Some(Self::qemu32()),
            "qemu64" => Some(Self::qemu64()),
            _ => None,
        }
    }

    /// The same model on a machine with a local APIC: CPUID reports the
    /// APIC (leaf 1 EDX, and on AMD its alias in leaf 0x8000_0001) and the
    /// timer's TSC-deadline mode, as QEMU does for `qemu32`/`qemu64` on
    /// `pc`.
    pub fn with_apic(mut self) -> Self {
        self.features_edx |= edx1::APIC;
        self.features_ecx |= ecx1::TSC_DEADLINE;
        if &self.vendor == b"AuthenticAMD" {
            self.ext_edx |= edx1::APIC;
        }
        self
    }

    /// True when the local APIC is reported.
    pub fn has_apic(&self) -> bool {
        self.features_edx & edx1::APIC != 0
    }

    /// True when long mode is reported.
    pub fn has_lm(&self) -> bool {
        self.ext_edx & edx81::LM != 0
    }

    /// The family/model/stepping signature (leaf 1 EAX, and EDX at reset).
    pub fn signature(&self) -> u32 {
        let (fam, ext_fam) = if self.family > 15 {
            (15, self.family - 15)
        } else {
            (self.family, 0)
        };
        (ext_fam << 20)
            | ((self.model >> 4) << 16)
            | (fam << 8)
            | ((self.model & 15) << 4)
            | self.stepping
    }

    fn vendor_regs(&self) -> (u32, u32, u32) {
        let w = |i: usize| {
            u32::from_le_bytes([
                self.vendor[i],
                self.vendor[i + 1],
                self.vendor[i + 2],
                self.vendor[i + 3],
            ])
        };
        (w(0), w(4), w(8))
    }

    /// CPUID for leaf `eax`, subleaf `ecx`: (EAX, EBX, ECX, EDX).
    pub fn query(&self, eax: u32, _ecx: u32) -> (u32, u32, u32, u32) {
        let max_basic = self.max_basic;
        let max_ext = self.max_ext;
        // A leaf above the maximum returns the highest basic leaf (as
        // QEMU does for both vendors).
        let leaf = if (eax > max_basic && eax < 0x8000_0000) || eax > max_ext {
            max_basic
        } else {
            eax
        };
        if let Some((_, r)) = self.fixed.iter().find(|(l, _)| *l == leaf) {
            return (r[0], r[1], r[2], r[3]);
        }
        let (vb, vc, vd) = self.vendor_regs();
        let amd = &self.vendor == b"AuthenticAMD";
        match leaf {
            0 => (max_basic, vb, vd, vc),
            // EBX: CLFLUSH line size 8 (x 8 = 64 bytes).
            1 => (
                self.signature(),
                0x0000_0800,
                self.features_ecx,
                self.features_edx,
            ),
            // Leaf 2 (Intel only): one descriptor byte (0x01 in AL means
            // "call once"), no cache descriptors reported.
            2 if !amd => (0x0000_0001, 0, 0, 0),
            // Leaf 4: no more caches (type 0).
            4 => (0, 0, 0, 0),
            // AMD repeats the vendor and the signature in the extended
            // leaves.
            0x8000_0000 if amd => (max_ext, vb, vd, vc),
            0x8000_0000 => (max_ext, 0, 0, 0),
            0x8000_0001 if amd => (self.signature(), 0, self.ext_ecx, self.ext_edx),
            0x8000_0001 => (0, 0, self.ext_ecx, self.ext_edx),
            0x8000_0002..=0x8000_0004 => {
                let base = ((leaf - 0x8000_0002) * 16) as usize;
                let w = |i: usize| {
                    let o = base + i * 4;
                    u32::from_le_bytes([
                        self.brand[o],
                        self.brand[o + 1],
                        self.brand[o + 2],
                        self.brand[o + 3],
                    ])
                };
                (w(0), w(1), w(2), w(3))
            }
            0x8000_0008 => (self.phys_bits | (self.virt_bits << 8), 0, 0, 0),
            _ => (0, 0, 0, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu32_identity() {
        let m = CpuModel::qemu32();
        assert_eq!(m.signature(), 0x663);
        let (max, b, c, d) = m.query(0, 0);
        assert_eq!(max, 4);
        let mut v = Vec::new();
        for r in [b, d, c] {
            v.extend_from_slice(&r.to_le_bytes());
        }
        assert_eq!(&v, b"GenuineIntel");
        // The x87, MMX, FXSAVE/FXRSTOR, SSE and SSE2 are reported.
        let edx = m.query(1, 0).3;
        let simd = edx1::FPU | edx1::MMX | edx1::FXSR | edx1::SSE | edx1::SSE2;
        assert_eq!(edx & simd, simd);
        // Out-of-range basic leaves return the highest basic leaf.
        assert_eq!(m.query(0x20, 0), m.query(4, 0));
    }

    /// The values `qemu-system-x86_64 -cpu qemu64` (QEMU 7.2, TCG) reports,
    /// minus the features not implemented here.
    #[test]
    fn qemu64_identity() {
        let m = CpuModel::qemu64();
        assert_eq!(m.query(0, 0), (0xD, 0x6874_7541, 0x444D_4163, 0x6974_6E65));
        assert_eq!(m.query(1, 0).0, 0x0006_0FB1);
        let q1 = m.query(0x8000_0001, 0);
        assert_eq!(q1.0, 0x0006_0FB1);
        assert_eq!(q1.2, ecx81::LAHF_LM);
        // QEMU: 0x2193FBFD; the aliases of unimplemented leaf 1 bits are
        // not reported.
        let edx1 = m.query(1, 0).3;
        assert_eq!(q1.3, (edx1 & edx81::AMD_ALIASES) | 0x2010_0800);
        assert_eq!(q1.3 & !0x2193_FBFD, 0, "nothing QEMU does not report");
        assert_eq!(m.query(0x8000_0000, 0).0, 0x8000_000A);
        assert_eq!(m.query(0x8000_0008, 0), (0x3028, 0, 0, 0));
        assert_eq!(
            m.query(0x8000_0002, 0),
            (0x554D_4551, 0x7269_5620, 0x6C61_7574, 0x5550_4320)
        );
        assert_eq!(m.query(0x8000_0005, 0).3, 0x4002_0140);
        assert_eq!(m.query(0x8000_000B, 0), m.query(0xD, 0));
        // x86-64-v2: SSE3, SSSE3, CX16, SSE4.1, SSE4.2, POPCNT; nothing
        // else in leaf 1 ECX (no MONITOR, no hypervisor bit).
        let v2 = 1 | 1 << 9 | 1 << 13 | 1 << 19 | 1 << 20 | 1 << 23;
        assert_eq!(m.query(1, 0).2, v2);
        assert_eq!(CpuModel::qemu32().query(1, 0).2, 0);
    }
}
