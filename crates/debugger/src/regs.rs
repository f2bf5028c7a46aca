//! The registers GDB sees, in the order of the target description, and
//! how each one reads from and writes to the CPU state.
//!
//! The i386 description has GDB's `org.gnu.gdb.i386.core` feature (the
//! general, segment and flag registers and the x87 registers GDB insists
//! on, from the CPU's x87 state) and `org.anyx86.i386.sys`: segment bases,
//! control, debug and table registers, EFER. The amd64 description (for a
//! CPU with long mode) has the same core feature in its amd64 form (RAX..
//! R15, RIP), `org.gnu.gdb.i386.sse` (XMM0-XMM15, MXCSR),
//! `org.gnu.gdb.i386.segments` (FS and GS bases) and `org.anyx86.amd64.sys`
//! with 64-bit bases, CR8 and KERNEL_GS_BASE. A 32-bit CPU that reports
//! SSE gets the i386 description with `org.gnu.gdb.i386.sse` (XMM0-XMM7,
//! MXCSR) after the core feature, as GDB numbers them. All stay valid in every
//! mode: the instruction pointer is the offset within CS, whatever CS is,
//! and a general register is its full 64-bit value.

use crate::view;
use anyx86_cpu::arch::{fl, Mode};
use anyx86_cpu::simd::mxcsr;
use anyx86_cpu::FlagOp;
use anyx86_cpu::{CpuBus, CpuState, Segment};

/// Where a register lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loc {
    /// General register by encoding number.
    Gpr(usize),
    /// The instruction pointer.
    Ip,
    /// EFLAGS.
    Flags,
    /// A segment selector (ES..GS by encoding number).
    Sel(usize),
    /// A segment base.
    Base(usize),
    /// x87 data register ST(i).
    St(u8),
    /// x87 control register: fctrl, fstat, ftag, fiseg, fioff, foseg,
    /// fooff, fop.
    Fpu(u8),
    /// CR0, CR2, CR3, CR4, CR8 by number.
    Cr(usize),
    /// DR0-DR7 by number.
    Dr(usize),
    /// EFER.
    Efer,
    /// The KERNEL_GS_BASE MSR (what SWAPGS exchanges with GS.base).
    KernelGsBase,
    /// GDTR or IDTR base (true: IDTR).
    TableBase(bool),
    /// GDTR or IDTR limit.
    TableLimit(bool),
    /// XMM register by number.
    Xmm(u8),
    /// MXCSR.
    Mxcsr,
}

/// One register of the target description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegDesc {
    /// GDB's name.
    pub name: &'static str,
    /// Size in bits.
    pub bits: u32,
    /// GDB type.
    pub ty: &'static str,
    /// GDB register group, if not the default.
    pub group: Option<&'static str>,
    /// Where it lives.
    pub loc: Loc,
}

const fn r(name: &'static str, bits: u32, ty: &'static str, loc: Loc) -> RegDesc {
    RegDesc {
        name,
        bits,
        ty,
        group: None,
        loc,
    }
}

/// An x87 control register as GDB's core feature declares it.
const fn f(name: &'static str, k: u8) -> RegDesc {
    RegDesc {
        name,
        bits: 32,
        ty: "int",
        group: Some("float"),
        loc: Loc::Fpu(k),
    }
}

/// Number of registers in the i386 core feature.
pub const CORE_REGS: usize = 32;

/// Number of registers in the amd64 core feature.
pub const CORE_REGS_64: usize = 40;

/// A register of the amd64 core feature.
const fn q(name: &'static str, ty: &'static str, loc: Loc) -> RegDesc {
    r(name, 64, ty, loc)
}

/// A target description: GDB's architecture name and the registers,
/// feature by feature, numbered in order (the `g` packet's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// `<architecture>`.
    pub arch: &'static str,
    /// Every register in GDB's numbering.
    pub regs: &'static [RegDesc],
    /// Feature names with the number of registers each takes, in order.
    pub features: &'static [(&'static str, usize)],
    /// Number of the instruction pointer.
    pub pc: usize,
}

/// The i386 description.
pub const I386_LAYOUT: Layout = Layout {
    arch: "i386",
    regs: I386,
    features: &[
        ("org.gnu.gdb.i386.core", CORE_REGS),
        ("org.anyx86.i386.sys", SYS_REGS),
    ],
    pc: 8,
};

/// The i386 description of a CPU with SSE.
pub const I386_SSE_LAYOUT: Layout = Layout {
    arch: "i386",
    regs: I386_SSE,
    features: &[
        ("org.gnu.gdb.i386.core", CORE_REGS),
        ("org.gnu.gdb.i386.sse", SSE_REGS),
        ("org.anyx86.i386.sys", SYS_REGS),
    ],
    pc: 8,
};

/// The amd64 description.
pub const AMD64_LAYOUT: Layout = Layout {
    arch: "i386:x86-64",
    regs: AMD64,
    features: &[
        ("org.gnu.gdb.i386.core", CORE_REGS_64),
        ("org.gnu.gdb.i386.sse", SSE_REGS_64),
        ("org.gnu.gdb.i386.segments", SEGMENTS_64.len()),
        ("org.anyx86.amd64.sys", SYS_REGS),
    ],
    pc: 16,
};

/// The general registers and instruction pointer of the i386 core
/// feature, in encoding order.
const I386_GPRS: [RegDesc; 9] = [
    r("eax", 32, "int32", Loc::Gpr(0)),
    r("ecx", 32, "int32", Loc::Gpr(1)),
    r("edx", 32, "int32", Loc::Gpr(2)),
    r("ebx", 32, "int32", Loc::Gpr(3)),
    r("esp", 32, "data_ptr", Loc::Gpr(4)),
    r("ebp", 32, "data_ptr", Loc::Gpr(5)),
    r("esi", 32, "int32", Loc::Gpr(6)),
    r("edi", 32, "int32", Loc::Gpr(7)),
    r("eip", 32, "code_ptr", Loc::Ip),
];

/// The general registers and instruction pointer of the amd64 core
/// feature, in GDB's numbering (`amd64_register_names`: RAX, RBX, RCX,
/// RDX, RSI, RDI, RBP, RSP, not the encoding order).
const AMD64_GPRS: [RegDesc; 17] = [
    q("rax", "int64", Loc::Gpr(0)),
    q("rbx", "int64", Loc::Gpr(3)),
    q("rcx", "int64", Loc::Gpr(1)),
    q("rdx", "int64", Loc::Gpr(2)),
    q("rsi", "int64", Loc::Gpr(6)),
    q("rdi", "int64", Loc::Gpr(7)),
    q("rbp", "data_ptr", Loc::Gpr(5)),
    q("rsp", "data_ptr", Loc::Gpr(4)),
    q("r8", "int64", Loc::Gpr(8)),
    q("r9", "int64", Loc::Gpr(9)),
    q("r10", "int64", Loc::Gpr(10)),
    q("r11", "int64", Loc::Gpr(11)),
    q("r12", "int64", Loc::Gpr(12)),
    q("r13", "int64", Loc::Gpr(13)),
    q("r14", "int64", Loc::Gpr(14)),
    q("r15", "int64", Loc::Gpr(15)),
    q("rip", "code_ptr", Loc::Ip),
];

/// The rest of the core feature, the same in both descriptions: EFLAGS,
/// the selectors (32 bits even in amd64) and the x87 registers.
const CORE_REST: [RegDesc; 23] = [
    r("eflags", 32, "i386_eflags", Loc::Flags),
    r("cs", 32, "int32", Loc::Sel(1)),
    r("ss", 32, "int32", Loc::Sel(2)),
    r("ds", 32, "int32", Loc::Sel(3)),
    r("es", 32, "int32", Loc::Sel(0)),
    r("fs", 32, "int32", Loc::Sel(4)),
    r("gs", 32, "int32", Loc::Sel(5)),
    r("st0", 80, "i387_ext", Loc::St(0)),
    r("st1", 80, "i387_ext", Loc::St(1)),
    r("st2", 80, "i387_ext", Loc::St(2)),
    r("st3", 80, "i387_ext", Loc::St(3)),
    r("st4", 80, "i387_ext", Loc::St(4)),
    r("st5", 80, "i387_ext", Loc::St(5)),
    r("st6", 80, "i387_ext", Loc::St(6)),
    r("st7", 80, "i387_ext", Loc::St(7)),
    f("fctrl", 0),
    f("fstat", 1),
    f("ftag", 2),
    f("fiseg", 3),
    f("fioff", 4),
    f("foseg", 5),
    f("fooff", 6),
    f("fop", 7),
];

/// `org.gnu.gdb.i386.segments`: the FS and GS bases (the amd64
/// description's; the i386 one has them in its system feature).
const SEGMENTS_64: [RegDesc; 2] = [
    q("fs_base", "int", Loc::Base(4)),
    q("gs_base", "int", Loc::Base(5)),
];

/// A system register in the i386 description.
const IN_I386: u8 = 1;
/// A system register in the amd64 description.
const IN_AMD64: u8 = 2;
/// A system register in both descriptions.
const IN_BOTH: u8 = IN_I386 | IN_AMD64;

/// The system features of both descriptions, in GDB's numbering, with the
/// descriptions each register is in: the amd64 one has the FS and GS
/// bases in its segments feature instead, and adds KERNEL_GS_BASE and CR8.
/// See [`sys_reg`] for the sizes.
const SYS_TABLE: [(&str, Loc, u8); 23] = [
    ("es_base", Loc::Base(0), IN_BOTH),
    ("cs_base", Loc::Base(1), IN_BOTH),
    ("ss_base", Loc::Base(2), IN_BOTH),
    ("ds_base", Loc::Base(3), IN_BOTH),
    ("fs_base", Loc::Base(4), IN_I386),
    ("gs_base", Loc::Base(5), IN_I386),
    ("k_gs_base", Loc::KernelGsBase, IN_AMD64),
    ("cr0", Loc::Cr(0), IN_BOTH),
    ("cr2", Loc::Cr(2), IN_BOTH),
    ("cr3", Loc::Cr(3), IN_BOTH),
    ("cr4", Loc::Cr(4), IN_BOTH),
    ("cr8", Loc::Cr(8), IN_AMD64),
    ("dr0", Loc::Dr(0), IN_BOTH),
    ("dr1", Loc::Dr(1), IN_BOTH),
    ("dr2", Loc::Dr(2), IN_BOTH),
    ("dr3", Loc::Dr(3), IN_BOTH),
    ("dr6", Loc::Dr(6), IN_BOTH),
    ("dr7", Loc::Dr(7), IN_BOTH),
    ("efer", Loc::Efer, IN_BOTH),
    ("gdtr_base", Loc::TableBase(false), IN_BOTH),
    ("gdtr_limit", Loc::TableLimit(false), IN_BOTH),
    ("idtr_base", Loc::TableBase(true), IN_BOTH),
    ("idtr_limit", Loc::TableLimit(true), IN_BOTH),
];

/// Number of registers in either system feature.
const SYS_REGS: usize = 21;

/// A register of a system feature whose addresses are `word` bits wide:
/// EFER is 64 bits and the table limits 32 in either description.
const fn sys_reg(name: &'static str, loc: Loc, word: u32) -> RegDesc {
    let bits = match loc {
        Loc::Efer => 64,
        Loc::TableLimit(_) => 32,
        _ => word,
    };
    RegDesc {
        name,
        bits,
        ty: if bits == 32 { "uint32" } else { "uint64" },
        group: Some("system"),
        loc,
    }
}

/// The system feature of the description `which` (`IN_I386` or
/// `IN_AMD64`), with `word`-bit addresses.
const fn sys(which: u8, word: u32) -> [RegDesc; SYS_REGS] {
    let mut out = [r("", 0, "", Loc::Ip); SYS_REGS];
    let (mut i, mut n) = (0, 0);
    while i < SYS_TABLE.len() {
        let (name, loc, inside) = SYS_TABLE[i];
        if inside & which != 0 {
            out[n] = sys_reg(name, loc, word);
            n += 1;
        }
        i += 1;
    }
    assert!(n == SYS_REGS);
    out
}

/// The amd64 registers, in GDB's numbering: core, SSE (XMM0-XMM15,
/// MXCSR), segments, system.
pub const AMD64: &[RegDesc] = &concat::<{ CORE_REGS_64 + SSE_REGS_64 + 2 + SYS_REGS }>(&[
    &AMD64_GPRS,
    &CORE_REST,
    &SSE,
    &SEGMENTS_64,
    &sys(IN_AMD64, 64),
]);

/// Number of registers in the amd64 SSE feature.
pub const SSE_REGS_64: usize = 17;

/// Number of registers in the i386 SSE feature.
pub const SSE_REGS: usize = 9;

/// The SSE feature's registers: XMM0-XMM15 then MXCSR (the i386 one takes
/// XMM0-XMM7 and MXCSR, see [`I386_SSE`]).
const SSE: [RegDesc; SSE_REGS_64] = {
    const NAMES: [&str; 16] = [
        "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
    ];
    let mut out = [r("mxcsr", 32, "i386_mxcsr", Loc::Mxcsr); SSE_REGS_64];
    out[16].group = Some("vector");
    let mut i = 0;
    while i < 16 {
        out[i] = r(NAMES[i], 128, "vec128", Loc::Xmm(i as u8));
        i += 1;
    }
    out
};

/// The parts in one array of `N` registers.
const fn concat<const N: usize>(parts: &[&[RegDesc]]) -> [RegDesc; N] {
    let mut out = [r("", 0, "", Loc::Ip); N];
    let (mut p, mut n) = (0, 0);
    while p < parts.len() {
        let mut i = 0;
        while i < parts[p].len() {
            out[n] = parts[p][i];
            n += 1;
            i += 1;
        }
        p += 1;
    }
    assert!(n == N);
    out
}

/// The i386 core feature.
const I386_CORE: [RegDesc; CORE_REGS] = concat(&[&I386_GPRS, &CORE_REST]);

/// The i386 system feature.
const I386_SYS: [RegDesc; SYS_REGS] = sys(IN_I386, 32);

/// The i386 registers, in GDB's numbering: core, system.
pub const I386: &[RegDesc] = &concat::<{ CORE_REGS + SYS_REGS }>(&[&I386_CORE, &I386_SYS]);

/// The i386 registers of a CPU with SSE: core, SSE (XMM0-XMM7, MXCSR),
/// system.
pub const I386_SSE: &[RegDesc] = &concat::<{ CORE_REGS + SSE_REGS + SYS_REGS }>(&[
    &I386_CORE,
    SSE.split_at(8).0,
    SSE.split_at(16).1,
    &I386_SYS,
]);

const EFLAGS_TYPE: &str = r#"<flags id="i386_eflags" size="4">
<field name="CF" start="0" end="0"/><field name="" start="1" end="1"/>
<field name="PF" start="2" end="2"/><field name="AF" start="4" end="4"/>
<field name="ZF" start="6" end="6"/><field name="SF" start="7" end="7"/>
<field name="TF" start="8" end="8"/><field name="IF" start="9" end="9"/>
<field name="DF" start="10" end="10"/><field name="OF" start="11" end="11"/>
<field name="NT" start="14" end="14"/><field name="RF" start="16" end="16"/>
<field name="VM" start="17" end="17"/><field name="AC" start="18" end="18"/>
<field name="VIF" start="19" end="19"/><field name="VIP" start="20" end="20"/>
<field name="ID" start="21" end="21"/></flags>
"#;

/// The types of GDB's `i386/64bit-sse.xml` (and `32bit-sse.xml`).
const SSE_TYPES: &str = r#"<vector id="v8bf16" type="bfloat16" count="8"/>
<vector id="v8h" type="ieee_half" count="8"/>
<vector id="v4f" type="ieee_single" count="4"/>
<vector id="v2d" type="ieee_double" count="2"/>
<vector id="v16i8" type="int8" count="16"/>
<vector id="v8i16" type="int16" count="8"/>
<vector id="v4i32" type="int32" count="4"/>
<vector id="v2i64" type="int64" count="2"/>
<union id="vec128">
<field name="v8_bfloat16" type="v8bf16"/><field name="v8_half" type="v8h"/>
<field name="v4_float" type="v4f"/><field name="v2_double" type="v2d"/>
<field name="v16_int8" type="v16i8"/><field name="v8_int16" type="v8i16"/>
<field name="v4_int32" type="v4i32"/><field name="v2_int64" type="v2i64"/>
<field name="uint128" type="uint128"/></union>
<flags id="i386_mxcsr" size="4">
<field name="IE" start="0" end="0"/><field name="DE" start="1" end="1"/>
<field name="ZE" start="2" end="2"/><field name="OE" start="3" end="3"/>
<field name="UE" start="4" end="4"/><field name="PE" start="5" end="5"/>
<field name="DAZ" start="6" end="6"/><field name="IM" start="7" end="7"/>
<field name="DM" start="8" end="8"/><field name="ZM" start="9" end="9"/>
<field name="OM" start="10" end="10"/><field name="UM" start="11" end="11"/>
<field name="PM" start="12" end="12"/><field name="FZ" start="15" end="15"/></flags>
"#;

fn reg_xml(i: usize, d: &RegDesc) -> String {
    let group = d.group.map_or(String::new(), |g| format!(" group=\"{g}\""));
    format!(
        "<reg name=\"{}\" bitsize=\"{}\" type=\"{}\" regnum=\"{i}\"{group}/>\n",
        d.name, d.bits, d.ty
    )
}

/// The target description of `l` (GDB's `target.xml`).
pub fn target_xml(l: &Layout) -> String {
    let mut x = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target version=\"1.0\">\n<architecture>{}</architecture>\n",
        l.arch
    );
    let mut i = 0;
    for &(name, n) in l.features {
        x += &format!("<feature name=\"{name}\">\n");
        if i == 0 {
            x += EFLAGS_TYPE;
        }
        if name == "org.gnu.gdb.i386.sse" {
            x += SSE_TYPES;
        }
        for d in l.regs.iter().skip(i).take(n) {
            x += &reg_xml(i, d);
            i += 1;
        }
        x += "</feature>\n";
    }
    x += "</target>\n";
    x
}

/// Size of register `d` in bytes.
pub fn size_of(d: &RegDesc) -> usize {
    (d.bits / 8) as usize
}

/// Reads one register as GDB's little-endian bytes.
pub fn read_bytes(s: &CpuState, d: &RegDesc) -> Vec<u8> {
    let n = size_of(d);
    if let Loc::St(i) = d.loc {
        let v = s.fpu.st(i);
        let mut b = v.sig.to_le_bytes().to_vec();
        let se = (v.exp & 0x7FFF) | if v.sign { 0x8000 } else { 0 };
        b.extend_from_slice(&se.to_le_bytes());
        b.truncate(n);
        return b;
    }
    if let Loc::Xmm(i) = d.loc {
        return s.xmm(i).to_le_bytes().to_vec();
    }
    let mut b = read(s, d).to_le_bytes().to_vec();
    b.resize(n, 0);
    b
}

/// Reads one register as a value (an x87 data register: its
/// significand).
pub fn read(s: &CpuState, d: &RegDesc) -> u64 {
    match d.loc {
        Loc::Gpr(i) => s.gpr[i],
        Loc::Ip => s.rip,
        Loc::Flags => u64::from(s.eflags()),
        Loc::Sel(i) => u64::from(s.seg[i].selector),
        Loc::Base(i) => s.seg[i].base,
        Loc::St(i) => s.fpu.st(i).sig,
        Loc::Fpu(k) => fpu_read(s, k),
        Loc::Cr(0) => s.cr0,
        Loc::Cr(2) => s.cr2,
        Loc::Cr(3) => s.cr3,
        Loc::Cr(8) => s.cr8,
        Loc::Cr(_) => s.cr4,
        Loc::Dr(i) => s.dr[i & 7],
        Loc::Efer => s.efer,
        Loc::KernelGsBase => s.msr.kernel_gs_base,
        Loc::TableBase(idt) => table(s, idt).base,
        Loc::TableLimit(idt) => u64::from(table(s, idt).limit),
        Loc::Xmm(i) => s.xmm(i) as u64,
        Loc::Mxcsr => u64::from(s.simd.mxcsr),
    }
}

fn fpu_read(s: &CpuState, k: u8) -> u64 {
    let f = &s.fpu;
    u64::from(match k {
        0 => f.cw,
        1 => f.status(),
        2 => f.tag_word(),
        3 => f.fcs,
        4 => return f.fip,
        5 => f.fds,
        6 => return f.fdp,
        _ => f.fop,
    })
}

fn fpu_write(s: &mut CpuState, k: u8, v: u64) {
    let f = &mut s.fpu;
    match k {
        0 => f.cw = v as u16,
        1 => f.set_status(v as u16),
        2 => f.set_tag_word(v as u16),
        3 => f.fcs = v as u16,
        4 => f.fip = v,
        5 => f.fds = v as u16,
        6 => f.fdp = v,
        _ => f.fop = v as u16 & 0x7FF,
    }
}

/// Writes register `d` from GDB's little-endian bytes.
pub fn write_bytes<B: CpuBus>(s: &mut CpuState, bus: &B, d: &RegDesc, bytes: &[u8]) {
    if let Loc::St(i) = d.loc {
        let r = s.fpu.phys(i);
        let reg = &mut s.fpu.regs[r];
        reg.sig = le(bytes);
        let se = bytes.get(8..10).map_or(0, le) as u16;
        reg.exp = se & 0x7FFF;
        reg.sign = se & 0x8000 != 0;
        return;
    }
    if let Loc::Xmm(i) = d.loc {
        let mut b = [0u8; 16];
        let n = bytes.len().min(16);
        b[..n].copy_from_slice(&bytes[..n]);
        s.set_xmm(i, u128::from_le_bytes(b));
        return;
    }
    write(s, bus, d, le(bytes));
}

fn table(s: &CpuState, idt: bool) -> anyx86_cpu::arch::TableReg {
    if idt {
        s.idtr
    } else {
        s.gdtr
    }
}

/// Writes register `d` in the state (an x87 data register: its
/// significand). Segment selectors load their descriptor (from
/// the GDT or LDT in protected mode, read without side effects).
pub fn write<B: CpuBus>(s: &mut CpuState, bus: &B, d: &RegDesc, v: u64) {
    let mask = if d.bits >= 64 {
        u64::MAX
    } else {
        (1u64 << d.bits) - 1
    };
    let v = v & mask;
    match d.loc {
        Loc::Gpr(i) => s.gpr[i] = v,
        Loc::Ip => s.rip = v & s.ip_mask(),
        Loc::Flags => {
            let old = s.flags;
            s.flags = (v as u32 & fl::SUPPORTED) | fl::RESERVED1;
            s.lazy.op = FlagOp::None;
            if (old ^ s.flags) & fl::VM != 0 {
                s.update_mode();
            }
        }
        Loc::Sel(i) => load_selector(s, bus, i, v as u16),
        Loc::Base(i) => s.seg[i].base = v,
        Loc::St(i) => {
            let r = s.fpu.phys(i);
            s.fpu.regs[r].sig = v;
        }
        Loc::Fpu(k) => fpu_write(s, k, v),
        Loc::Cr(8) => s.cr8 = v & 0xF,
        Loc::Cr(n) => {
            match n {
                0 => s.cr0 = v,
                2 => s.cr2 = v,
                3 => s.cr3 = v,
                _ => s.cr4 = v,
            }
            s.update_mode();
            s.tlb.flush_all();
        }
        Loc::Dr(i) => s.dr[i & 7] = v,
        Loc::KernelGsBase => s.msr.kernel_gs_base = v,
        Loc::Efer => {
            s.efer = v;
            s.update_mode();
            s.tlb.flush_all();
        }
        Loc::TableBase(true) => s.idtr.base = v,
        Loc::TableBase(false) => s.gdtr.base = v,
        Loc::TableLimit(true) => s.idtr.limit = v as u16,
        Loc::TableLimit(false) => s.gdtr.limit = v as u16,
        Loc::Xmm(i) => s.set_xmm(i, u128::from(v)),
        // The reserved bits stay clear (LDMXCSR would #GP).
        Loc::Mxcsr => s.simd.mxcsr = v as u32 & mxcsr::MASK,
    }
}

/// Loads segment register `i` with `sel` as the debugger sees fit: the
/// real-mode rule (base = selector × 16) in real and V86 mode, the
/// descriptor from the GDT or LDT otherwise (only the selector changes
/// when the descriptor cannot be read).
pub fn load_selector<B: CpuBus>(s: &mut CpuState, bus: &B, i: usize, sel: u16) {
    if matches!(s.mode, Mode::Real | Mode::V86) {
        s.seg[i].selector = sel;
        s.seg[i].base = u64::from(sel) << 4;
    } else {
        let (base, limit) = if sel & 4 != 0 {
            (s.ldtr.base, u64::from(s.ldtr.limit))
        } else {
            (s.gdtr.base, u64::from(s.gdtr.limit))
        };
        let off = u64::from(sel & !7);
        let mut b = [0u8; 8];
        if sel & !3 != 0 && off + 7 <= limit && view::read_linear(s, bus, base + off, &mut b) == 8 {
            s.seg[i] = Segment::from_descriptor(sel, u64::from_le_bytes(b));
        } else {
            s.seg[i].selector = sel;
        }
    }
    if i == 1 || i == 2 {
        s.update_mode();
    }
}

/// Serialises every register of `regs` as GDB's `g` packet wants them.
pub fn read_all(s: &CpuState, regs: &[RegDesc]) -> Vec<u8> {
    regs.iter().flat_map(|d| read_bytes(s, d)).collect()
}

/// Applies a `G` packet: every register whose value changed is written.
pub fn write_all<B: CpuBus>(s: &mut CpuState, bus: &B, regs: &[RegDesc], bytes: &[u8]) {
    let mut off = 0;
    for d in regs {
        let n = size_of(d);
        let Some(chunk) = bytes.get(off..off + n) else {
            return;
        };
        off += n;
        if chunk != read_bytes(s, d).as_slice() {
            write_bytes(s, bus, d, chunk);
        }
    }
}

/// A little-endian value of up to 8 bytes (longer inputs: the low 8).
pub fn le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take(8)
        .rev()
        .fold(0u64, |v, b| (v << 8) | u64::from(*b))
}

/// Finds a register by GDB name.
pub fn by_name(regs: &[RegDesc], name: &str) -> Option<RegDesc> {
    regs.iter().find(|d| d.name == name).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyx86_machine::{Machine, MachineConfig};

    #[test]
    fn the_core_feature_has_gdbs_i386_registers_in_order() {
        let names: Vec<&str> = I386.iter().take(CORE_REGS).map(|d| d.name).collect();
        assert_eq!(
            names[..10],
            ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags"]
        );
        assert_eq!(names[16], "st0");
        assert_eq!(names[31], "fop");
        let xml = target_xml(&I386_LAYOUT);
        assert!(xml.contains("<architecture>i386</architecture>"));
        assert!(xml.contains(
            "<reg name=\"cr0\" bitsize=\"32\" type=\"uint32\" regnum=\"38\" group=\"system\"/>"
        ));
    }

    #[test]
    fn the_g_packet_round_trips_and_writes_only_changed_registers() {
        let mut m = Machine::new(MachineConfig::new(1)).expect("machine");
        let mut bytes = read_all(&m.cpu.s, I386);
        assert_eq!(bytes.len(), 16 * 4 + 8 * 10 + 8 * 4 + 20 * 4 + 8);
        // EAX = 0x11223344; CS stays (its base is the reset value).
        bytes[..4].copy_from_slice(&0x1122_3344u32.to_le_bytes());
        write_all(&mut m.cpu.s, &m.board, I386, &bytes);
        assert_eq!(m.cpu.s.gpr[0], 0x1122_3344);
        assert_eq!(m.cpu.s.seg[1].base, 0xFFFF_0000);
        // A short packet is ignored past its end, never a panic.
        write_all(&mut m.cpu.s, &m.board, I386, &bytes[..7]);
    }

    #[test]
    fn the_amd64_description_is_gdbs_amd64_core_then_sse_then_segments_then_sys() {
        let names: Vec<&str> = AMD64.iter().map(|d| d.name).collect();
        assert_eq!(
            names[..8],
            ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp"]
        );
        assert_eq!(names[15..18], ["r15", "rip", "eflags"]);
        assert_eq!(names[24], "st0");
        assert_eq!(names[CORE_REGS_64 - 1], "fop");
        assert_eq!(names[CORE_REGS_64], "xmm0");
        assert_eq!(names[CORE_REGS_64 + 15], "xmm15");
        assert_eq!(names[CORE_REGS_64 + 16], "mxcsr");
        let seg = CORE_REGS_64 + SSE_REGS_64;
        assert_eq!(names[seg..seg + 2], ["fs_base", "gs_base"]);
        assert_eq!(AMD64[AMD64_LAYOUT.pc].loc, Loc::Ip);
        assert_eq!(I386[I386_LAYOUT.pc].loc, Loc::Ip);
        let xml = target_xml(&AMD64_LAYOUT);
        assert!(xml.contains("<architecture>i386:x86-64</architecture>"));
        assert!(xml.contains(
            "<feature name=\"org.gnu.gdb.i386.segments\">\n<reg name=\"fs_base\" bitsize=\"64\" type=\"int\" regnum=\"57\"/>"
        ));
        assert!(xml.contains("<reg name=\"efer\" bitsize=\"64\""));
        assert!(xml.contains("<reg name=\"xmm0\" bitsize=\"128\" type=\"vec128\" regnum=\"40\"/>"));
        assert!(xml.contains(
            "<reg name=\"mxcsr\" bitsize=\"32\" type=\"i386_mxcsr\" regnum=\"56\" group=\"vector\"/>"
        ));
        assert_eq!(xml.matches("<union id=\"vec128\">").count(), 1);
        // Every register is numbered once, in order.
        assert_eq!(xml.matches("<reg ").count(), AMD64.len());
        assert!(xml.contains(&format!("regnum=\"{}\"", AMD64.len() - 1)));
    }

    #[test]
    fn the_amd64_g_packet_holds_full_64_bit_registers() {
        let mut m = Machine::new(MachineConfig::new(1)).expect("machine");
        m.cpu.s.gpr[3] = 0x8877_6655_4433_2211; // RBX: GDB's register 1
        m.cpu.s.gpr[15] = 0xFEDC_BA98_7654_3210;
        m.cpu.s.seg[5].base = 0xFFFF_8000_0000_2000;
        let mut bytes = read_all(&m.cpu.s, AMD64);
        assert_eq!(
            bytes.len(),
            17 * 8 + 7 * 4 + 8 * 10 + 8 * 4 + 16 * 16 + 4 + 21 * 8 + 2 * 4
        );
        assert_eq!(le(&bytes[8..16]), 0x8877_6655_4433_2211);
        assert_eq!(le(&bytes[120..128]), 0xFEDC_BA98_7654_3210);
        assert_eq!(le(&bytes[128..136]), 0xFFF0); // RIP at reset
        let xmm0 = 17 * 8 + 7 * 4 + 8 * 10 + 8 * 4;
        let gs_base = xmm0 + 16 * 16 + 4 + 8;
        assert_eq!(le(&bytes[gs_base..gs_base + 8]), 0xFFFF_8000_0000_2000);
        // RAX = a 64-bit value through a `G` packet.
        bytes[..8].copy_from_slice(&0x0123_4567_89AB_CDEFu64.to_le_bytes());
        write_all(&mut m.cpu.s, &m.board, AMD64, &bytes);
        assert_eq!(m.cpu.s.gpr[0], 0x0123_4567_89AB_CDEF);
        assert_eq!(m.cpu.s.gpr[3], 0x8877_6655_4433_2211);
        let d = by_name(AMD64, "cr8").expect("cr8");
        write(&mut m.cpu.s, &m.board, &d, 0x1F);
        assert_eq!(m.cpu.s.cr8, 0xF);
    }

    #[test]
    fn the_sse_registers_are_in_the_g_packet_and_single_register_access() {
        let mut m = Machine::new(MachineConfig::new(1)).expect("machine");
        let x9 = 0x0011_2233_4455_6677_8899_AABB_CCDD_EEFFu128;
        m.cpu.s.simd.xmm[9] = x9;
        m.cpu.s.simd.mxcsr = 0x9F80;
        let mut bytes = read_all(&m.cpu.s, AMD64);
        let xmm0 = 17 * 8 + 7 * 4 + 8 * 10 + 8 * 4;
        assert_eq!(bytes[xmm0 + 16 * 9..xmm0 + 16 * 10], x9.to_le_bytes());
        assert_eq!(le(&bytes[xmm0 + 256..xmm0 + 260]), 0x9F80);
        bytes[xmm0 + 16..xmm0 + 32].copy_from_slice(&(x9 << 8 | 0x42).to_le_bytes());
        bytes[xmm0 + 256..xmm0 + 260].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        write_all(&mut m.cpu.s, &m.board, AMD64, &bytes);
        assert_eq!(m.cpu.s.simd.xmm[1], x9 << 8 | 0x42);
        assert_eq!(m.cpu.s.simd.xmm[9], x9);
        assert_eq!(m.cpu.s.simd.mxcsr, 0xFFFF, "reserved MXCSR bits stay clear");
        // One register (`p`/`P`).
        let d = by_name(AMD64, "xmm15").expect("xmm15");
        write_bytes(&mut m.cpu.s, &m.board, &d, &x9.to_le_bytes());
        assert_eq!(m.cpu.s.simd.xmm[15], x9);
        assert_eq!(read_bytes(&m.cpu.s, &d), x9.to_le_bytes());
        // The i386 description with SSE: XMM0-XMM7, MXCSR after the core.
        let names: Vec<&str> = I386_SSE.iter().map(|d| d.name).collect();
        assert_eq!(
            names[CORE_REGS..CORE_REGS + SSE_REGS],
            ["xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "mxcsr"]
        );
        assert_eq!(I386_SSE[I386_SSE_LAYOUT.pc].loc, Loc::Ip);
        let xml = target_xml(&I386_SSE_LAYOUT);
        assert!(xml.contains("<feature name=\"org.gnu.gdb.i386.sse\">"));
        assert!(xml.contains("<reg name=\"xmm7\" bitsize=\"128\" type=\"vec128\" regnum=\"39\"/>"));
        assert!(xml.contains("<reg name=\"cr0\" bitsize=\"32\" type=\"uint32\" regnum=\"47\""));
        assert_eq!(xml.matches("<reg ").count(), I386_SSE.len());
        assert!(!target_xml(&I386_LAYOUT).contains("xmm"));
        let b = read_all(&m.cpu.s, I386_SSE);
        assert_eq!(b.len(), read_all(&m.cpu.s, I386).len() + 8 * 16 + 4);
    }

    #[test]
    fn the_system_features_keep_their_registers_sizes_and_types() {
        let sig = |regs: &[RegDesc]| {
            let v: Vec<String> = regs
                .iter()
                .map(|d| format!("{}/{}", d.name, d.ty))
                .collect();
            v.join(" ")
        };
        let common = "cr0/W cr2/W cr3/W cr4/W";
        let debug = "dr0/W dr1/W dr2/W dr3/W dr6/W dr7/W efer/uint64";
        let tables = "gdtr_base/W gdtr_limit/uint32 idtr_base/W idtr_limit/uint32";
        let bases = "es_base/W cs_base/W ss_base/W ds_base/W";
        let i386 = format!("{bases} fs_base/W gs_base/W {common} {debug} {tables}");
        let amd64 =
            format!("fs_base/int gs_base/int {bases} k_gs_base/W {common} cr8/W {debug} {tables}");
        assert_eq!(sig(&I386[CORE_REGS..]), i386.replace("/W", "/uint32"));
        assert_eq!(
            sig(&AMD64[CORE_REGS_64 + SSE_REGS_64..]),
            amd64.replace("/W", "/uint64")
        );
        let sys = I386[CORE_REGS..].iter();
        for d in sys.chain(&AMD64[CORE_REGS_64 + SSE_REGS_64..]) {
            assert_eq!(d.bits, if d.ty == "uint32" { 32 } else { 64 }, "{}", d.name);
        }
        // The core features differ only in their general registers.
        assert_eq!(I386[9..CORE_REGS], AMD64[17..CORE_REGS_64]);
    }

    #[test]
    fn real_mode_selector_writes_set_the_base() {
        let mut m = Machine::new(MachineConfig::new(1)).expect("machine");
        let d = by_name(I386, "ds").expect("ds");
        write(&mut m.cpu.s, &m.board, &d, 0x07C0);
        assert_eq!(m.cpu.s.seg[3].base, 0x7C00);
    }
}
