//! The MOO test file format (SingleStepTests), versions 1.0 and 1.1.
//!
//! MOO is documented in the public repository dbalsom/moo
//! (`doc/moo_format_v1.md`): a file is a sequence of chunks
//! `tag (4 ASCII) · length (u32 LE) · body`; a `TEST` chunk holds a u32
//! index and sub-chunks of the same shape. Unknown chunks are skipped by
//! their length, as the format asks. Two register layouts exist: `REGS`
//! (the 16-bit file of the 8088 to the 80286) and `RG32` (the 386's
//! 32-bit file, with CR0, CR3, DR6 and DR7); `RMSK`/`RM32` give masks of
//! the bits an instruction leaves defined, per file or per test.

/// Number of registers in a MOO `REGS` block.
pub const NREGS: usize = 14;

/// Register names in MOO `REGS` bit order (bit 0 = AX ... bit 13 = FLAGS).
pub const REG_NAMES: [&str; NREGS] = [
    "ax", "bx", "cx", "dx", "cs", "ss", "ds", "es", "sp", "bp", "si", "di", "ip", "flags",
];

/// Number of registers in a MOO `RG32` block.
pub const NREGS32: usize = 20;

/// Register names in MOO `RG32` bit order (bit 0 = CR0 ... bit 19 = DR7).
pub const REG32_NAMES: [&str; NREGS32] = [
    "cr0", "cr3", "eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp", "cs", "ds", "es", "fs",
    "gs", "ss", "eip", "eflags", "dr6", "dr7",
];

/// MOO `REGS` bit numbers.
pub mod r {
    /// AX.
    pub const AX: usize = 0;
    /// BX.
    pub const BX: usize = 1;
    /// CX.
    pub const CX: usize = 2;
    /// DX.
    pub const DX: usize = 3;
    /// CS.
    pub const CS: usize = 4;
    /// SS.
    pub const SS: usize = 5;
    /// DS.
    pub const DS: usize = 6;
    /// ES.
    pub const ES: usize = 7;
    /// SP.
    pub const SP: usize = 8;
    /// BP.
    pub const BP: usize = 9;
    /// SI.
    pub const SI: usize = 10;
    /// DI.
    pub const DI: usize = 11;
    /// IP.
    pub const IP: usize = 12;
    /// FLAGS.
    pub const FLAGS: usize = 13;
}

/// MOO `RG32` bit numbers.
pub mod r32 {
    /// CR0.
    pub const CR0: usize = 0;
    /// CR3.
    pub const CR3: usize = 1;
    /// EAX.
    pub const EAX: usize = 2;
    /// EBX.
    pub const EBX: usize = 3;
    /// ECX.
    pub const ECX: usize = 4;
    /// EDX.
    pub const EDX: usize = 5;
    /// ESI.
    pub const ESI: usize = 6;
    /// EDI.
    pub const EDI: usize = 7;
    /// EBP.
    pub const EBP: usize = 8;
    /// ESP.
    pub const ESP: usize = 9;
    /// CS.
    pub const CS: usize = 10;
    /// DS.
    pub const DS: usize = 11;
    /// ES.
    pub const ES: usize = 12;
    /// FS.
    pub const FS: usize = 13;
    /// GS.
    pub const GS: usize = 14;
    /// SS.
    pub const SS: usize = 15;
    /// EIP.
    pub const EIP: usize = 16;
    /// EFLAGS.
    pub const EFLAGS: usize = 17;
    /// DR6.
    pub const DR6: usize = 18;
    /// DR7.
    pub const DR7: usize = 19;
}

/// A `REGS` block: which registers are present and their values.
#[derive(Debug, Clone, Default)]
pub struct Regs {
    /// Bit n set: register n is present.
    pub mask: u16,
    /// Values by MOO bit number (0 where absent).
    pub v: [u16; NREGS],
}

impl Regs {
    /// The value of register `n`, if present.
    pub fn get(&self, n: usize) -> Option<u16> {
        (self.mask & (1 << n) != 0).then_some(self.v[n])
    }
}

/// A `RG32` block: which registers are present and their values.
#[derive(Debug, Clone, Default)]
pub struct Regs32 {
    /// Bit n set: register n is present.
    pub mask: u32,
    /// Values by MOO bit number (0 where absent).
    pub v: [u32; NREGS32],
}

impl Regs32 {
    /// The value of register `n`, if present.
    pub fn get(&self, n: usize) -> Option<u32> {
        (n < NREGS32 && self.mask & (1 << n) != 0).then(|| self.v[n])
    }
}

/// Which register file a test uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// `REGS`: the 16-bit file of the 8088/8086/80286.
    #[default]
    Regs16,
    /// `RG32`: the 386's 32-bit file.
    Regs32,
}

/// An `INIT` or `FINA` state.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Registers (all of them in `INIT`, only changed ones in `FINA`). For
    /// a 32-bit test, the low halves of `regs32` (so that rules written
    /// for the 16-bit file see the same values).
    pub regs: Regs,
    /// The 32-bit file, when the test has one.
    pub regs32: Option<Regs32>,
    /// `RMSK`: per-register masks of the defined bits (16-bit layout).
    pub rmsk: Option<Regs>,
    /// `RM32`: per-register masks of the defined bits (32-bit layout).
    pub rm32: Option<Regs32>,
    /// Memory bytes: (physical address, value).
    pub ram: Vec<(u32, u8)>,
}

/// An `EXCP` chunk: the test raised an exception or interrupt.
#[derive(Debug, Clone, Copy)]
pub struct Excp {
    /// Vector number.
    pub vector: u8,
    /// Physical address of the FLAGS image pushed by the delivery.
    pub flags_addr: u32,
}

/// One test.
#[derive(Debug, Clone, Default)]
pub struct MooTest {
    /// Index within the (full, published) file.
    pub index: u32,
    /// Disassembly.
    pub name: String,
    /// Instruction bytes, including the terminating HLT.
    pub bytes: Vec<u8>,
    /// Initial state.
    pub init: State,
    /// Final state (changes only).
    pub fina: State,
    /// Exception taken, if any.
    pub excp: Option<Excp>,
    /// SHA-1 identifying the test (see `revocation_list.txt`).
    pub hash: [u8; 20],
}

impl MooTest {
    /// The hash as lower-case hex, as the revocation list spells it.
    pub fn hash_hex(&self) -> String {
        self.hash.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The register layout of this test.
    pub fn layout(&self) -> Layout {
        if self.init.regs32.is_some() {
            Layout::Regs32
        } else {
            Layout::Regs16
        }
    }
}

/// A parsed MOO (or JSON) file.
#[derive(Debug, Clone, Default)]
pub struct MooFile {
    /// The CPU ID of the header (`C286`, `386E`, `8088`...), trimmed.
    pub cpu: String,
    /// The instruction's mnemonic, from `META`.
    pub mnemonic: String,
    /// `RMSK` at the top level: masks for every test of the file.
    pub rmsk: Option<Regs>,
    /// `RM32` at the top level: masks for every test of the file.
    pub rm32: Option<Regs32>,
    /// The tests, in file order.
    pub tests: Vec<MooTest>,
}

/// A reader over one chunk body.
struct Cursor<'a> {
    d: &'a [u8],
    p: usize,
}

impl<'a> Cursor<'a> {
    fn new(d: &'a [u8]) -> Self {
        Self { d, p: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.p.checked_add(n).filter(|&e| e <= self.d.len());
        let end = end.ok_or_else(|| format!("truncated at byte {} (+{n})", self.p))?;
        let s = &self.d[self.p..end];
        self.p = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn done(&self) -> bool {
        self.p >= self.d.len()
    }

    /// The next chunk: (tag, body).
    fn chunk(&mut self) -> Result<([u8; 4], &'a [u8]), String> {
        let t = self.take(4)?;
        let len = self.u32()? as usize;
        Ok(([t[0], t[1], t[2], t[3]], self.take(len)?))
    }
}

/// True when `data` starts like a MOO file.
pub fn is_moo(data: &[u8]) -> bool {
    data.starts_with(b"MOO ")
}

/// Parses a whole (decompressed) MOO file.
pub fn parse(data: &[u8]) -> Result<MooFile, String> {
    let mut c = Cursor::new(data);
    let (tag, hdr) = c.chunk()?;
    if &tag != b"MOO " {
        return Err("not a MOO file".into());
    }
    // Header: version (4 bytes), test count (u32), CPU name.
    let mut h = Cursor::new(hdr);
    h.take(4)?;
    // The count sizes a reservation only: never trust it for more than
    // the file could hold.
    let count = (h.u32()? as usize).min(data.len() / 16);
    let cpu = h.take(4).map(String::from_utf8_lossy).unwrap_or_default();
    let mut file = MooFile {
        cpu: cpu.trim().to_string(),
        tests: Vec::with_capacity(count),
        ..MooFile::default()
    };
    while !c.done() {
        let (tag, body) = c.chunk()?;
        match &tag {
            // META: versions and CPU type (3 bytes), opcode (u32), then
            // the mnemonic, 8 ASCII bytes padded with spaces.
            b"META" => {
                let mut m = Cursor::new(body);
                m.take(7)?;
                let name = String::from_utf8_lossy(m.take(8)?);
                file.mnemonic = name.trim_end().to_string();
            }
            b"RMSK" => file.rmsk = Some(parse_regs(body)?),
            b"RM32" => file.rm32 = Some(parse_regs32(body)?),
            b"TEST" => file.tests.push(parse_test(body)?),
            _ => {}
        }
    }
    Ok(file)
}

fn parse_test(body: &[u8]) -> Result<MooTest, String> {
    let mut c = Cursor::new(body);
    let mut t = MooTest {
        index: c.u32()?,
        ..MooTest::default()
    };
    while !c.done() {
        let (tag, b) = c.chunk()?;
        let mut s = Cursor::new(b);
        match &tag {
            b"NAME" => {
                let n = s.u32()? as usize;
                t.name = String::from_utf8_lossy(s.take(n)?).into_owned();
            }
            b"BYTS" => {
                let n = s.u32()? as usize;
                t.bytes = s.take(n)?.to_vec();
            }
            b"INIT" => t.init = parse_state(b)?,
            b"FINA" => t.fina = parse_state(b)?,
            b"EXCP" => {
                t.excp = Some(Excp {
                    vector: s.u8()?,
                    flags_addr: s.u32()?,
                })
            }
            b"HASH" => t.hash.copy_from_slice(s.take(20)?),
            _ => {}
        }
    }
    Ok(t)
}

fn parse_regs(b: &[u8]) -> Result<Regs, String> {
    let mut s = Cursor::new(b);
    let mut regs = Regs {
        mask: s.u16()?,
        ..Regs::default()
    };
    for n in 0..NREGS {
        if regs.mask & (1 << n) != 0 {
            regs.v[n] = s.u16()?;
        }
    }
    Ok(regs)
}

fn parse_regs32(b: &[u8]) -> Result<Regs32, String> {
    let mut s = Cursor::new(b);
    let mut regs = Regs32 {
        mask: s.u32()?,
        ..Regs32::default()
    };
    for n in 0..NREGS32 {
        if regs.mask & (1 << n) != 0 {
            regs.v[n] = s.u32()?;
        }
    }
    Ok(regs)
}

fn parse_state(body: &[u8]) -> Result<State, String> {
    let mut c = Cursor::new(body);
    let mut st = State::default();
    while !c.done() {
        let (tag, b) = c.chunk()?;
        let mut s = Cursor::new(b);
        match &tag {
            b"REGS" => st.regs = parse_regs(b)?,
            b"RG32" => st.regs32 = Some(parse_regs32(b)?),
            b"RMSK" => st.rmsk = Some(parse_regs(b)?),
            b"RM32" => st.rm32 = Some(parse_regs32(b)?),
            b"RAM " => {
                let n = s.u32()? as usize;
                st.ram.reserve(n.min(b.len() / 5));
                for _ in 0..n {
                    let a = s.u32()?;
                    st.ram.push((a, s.u8()?));
                }
            }
            // QUEU (prefetch queue), EA32 (effective address): not used.
            _ => {}
        }
    }
    derive_regs16(&mut st);
    Ok(st)
}

/// The 16-bit view of a 32-bit register file: RG32 bit number of each
/// REGS register, in REGS order.
const REGS16_FROM_32: [usize; NREGS] = [
    r32::EAX,
    r32::EBX,
    r32::ECX,
    r32::EDX,
    r32::CS,
    r32::SS,
    r32::DS,
    r32::ES,
    r32::ESP,
    r32::EBP,
    r32::ESI,
    r32::EDI,
    r32::EIP,
    r32::EFLAGS,
];

/// Fills `regs` with the low halves of `regs32`, when the state has only
/// the 32-bit file.
pub fn derive_regs16(st: &mut State) {
    let Some(g) = &st.regs32 else { return };
    if st.regs.mask != 0 {
        return;
    }
    for (n, &m) in REGS16_FROM_32.iter().enumerate() {
        if let Some(v) = g.get(m) {
            st.regs.mask |= 1 << n;
            st.regs.v[n] = v as u16;
        }
    }
}

/// Appends a chunk to `out` (used by tests to build MOO files).
pub fn write_chunk(out: &mut Vec<u8>, tag: &[u8; 4], body: &[u8]) {
    out.extend_from_slice(tag);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
}
