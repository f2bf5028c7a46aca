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
    /// CMOVcc.
    pub const CMOV: u32 = 1 << 15;
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
    /// No-execute page protection.
    pub const NX: u32 = 1 << 20;
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
    /// Brand string (48 bytes, NUL padded).
    pub brand: [u8; 48],
}

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
                | edx1::MMX
                | edx1::FXSR
                | edx1::SSE
                | edx1::SSE2,
            features_ecx: 0,
            ext_edx: edx81::NX,
            brand,
        }
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
        const MAX_BASIC: u32 = 4;
        const MAX_EXT: u32 = 0x8000_0004;
        // Intel: a leaf above the maximum returns the highest basic leaf.
        let leaf = if (eax > MAX_BASIC && eax < 0x8000_0000) || eax > MAX_EXT {
            MAX_BASIC
        } else {
            eax
        };
        let (vb, vc, vd) = self.vendor_regs();
        match leaf {
            0 => (MAX_BASIC, vb, vd, vc),
            // EBX: CLFLUSH line size 8 (x 8 = 64 bytes).
            1 => (
                self.signature(),
                0x0000_0800,
                self.features_ecx,
                self.features_edx,
            ),
            // Leaf 2: one descriptor byte (0x01 in AL means "call once"),
            // no cache descriptors reported.
            2 => (0x0000_0001, 0, 0, 0),
            // Leaf 4: no more caches (type 0).
            4 => (0, 0, 0, 0),
            0x8000_0000 => (MAX_EXT, 0, 0, 0),
            0x8000_0001 => (0, 0, 0, self.ext_edx),
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
}
