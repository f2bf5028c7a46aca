//! Helpers for the hardware-vector tests: a reader for the MOO test file
//! format and a flat 16 MiB bus.
//!
//! MOO is documented in the public repository dbalsom/moo
//! (`doc/moo_format_v1.md`): a file is a sequence of chunks
//! `tag (4 ASCII) · length (u32 LE) · body`; a `TEST` chunk holds a u32
//! index and sub-chunks of the same shape. Unknown chunks are skipped by
//! their length, as the format asks.

use anyx86_cpu::CpuBus;

pub mod long64;

/// Number of registers in a MOO `REGS` block.
pub const NREGS: usize = 14;

/// Register names in MOO `REGS` bit order (bit 0 = AX ... bit 13 = FLAGS).
pub const REG_NAMES: [&str; NREGS] = [
    "ax", "bx", "cx", "dx", "cs", "ss", "ds", "es", "sp", "bp", "si", "di", "ip", "flags",
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

/// An `INIT` or `FINA` state.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Registers (all of them in `INIT`, only changed ones in `FINA`).
    pub regs: Regs,
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

/// A parsed MOO file.
#[derive(Debug, Clone, Default)]
pub struct MooFile {
    /// The instruction's mnemonic, from `META`.
    pub mnemonic: String,
    /// The tests, in file order.
    pub tests: Vec<MooTest>,
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
    let mut file = MooFile {
        tests: Vec::with_capacity(h.u32()? as usize),
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

fn parse_state(body: &[u8]) -> Result<State, String> {
    let mut c = Cursor::new(body);
    let mut st = State::default();
    while !c.done() {
        let (tag, b) = c.chunk()?;
        let mut s = Cursor::new(b);
        match &tag {
            b"REGS" => {
                st.regs.mask = s.u16()?;
                for n in 0..NREGS {
                    if st.regs.mask & (1 << n) != 0 {
                        st.regs.v[n] = s.u16()?;
                    }
                }
            }
            b"RAM " => {
                let n = s.u32()? as usize;
                st.ram.reserve(n);
                for _ in 0..n {
                    let a = s.u32()?;
                    st.ram.push((a, s.u8()?));
                }
            }
            // RG32 (386 tests), QUEU (prefetch queue), RMSK: not used by
            // the 286 real-mode set.
            _ => {}
        }
    }
    Ok(st)
}

/// The 286's physical address space: 24 address lines.
pub const MEM_SIZE: usize = 1 << 24;

/// 16 MiB of RAM and nothing else: I/O reads float high (all-ones), I/O
/// writes go nowhere, no interrupts.
pub struct FlatBus {
    /// The RAM.
    pub ram: Vec<u8>,
    /// Instructions retired, for the TSC.
    pub icount: u64,
}

impl FlatBus {
    /// 16 MiB of zeroes.
    pub fn new() -> Self {
        Self {
            ram: vec![0; MEM_SIZE],
            icount: 0,
        }
    }

    /// A physical address as the 24 address lines see it.
    fn wrap(paddr: u64) -> usize {
        (paddr as usize) & (MEM_SIZE - 1)
    }
}

impl CpuBus for FlatBus {
    fn ram(&mut self) -> &mut [u8] {
        &mut self.ram
    }

    fn ram_ref(&self) -> &[u8] {
        &self.ram
    }

    fn page_is_ram(&self, paddr: u64) -> bool {
        paddr < MEM_SIZE as u64
    }

    // Addresses at or above 16 MiB only arrive here; the 286 drops the
    // upper address lines, so they alias the bottom of RAM.
    fn mem_read(&mut self, paddr: u64, size: u8, _icount: u64) -> u64 {
        (0..u64::from(size)).fold(0, |v, i| {
            v | u64::from(self.ram[Self::wrap(paddr + i)]) << (8 * i)
        })
    }

    fn mem_write(&mut self, paddr: u64, size: u8, value: u64, _icount: u64) {
        for i in 0..u64::from(size) {
            self.ram[Self::wrap(paddr + i)] = (value >> (8 * i)) as u8;
        }
    }

    fn peek_phys(&self, paddr: u64) -> u8 {
        self.ram[Self::wrap(paddr)]
    }

    fn io_in(&mut self, _port: u16, size: u8, _icount: u64) -> u32 {
        (u64::MAX >> (64 - 8 * u32::from(size))) as u32
    }

    fn io_out(&mut self, _port: u16, _size: u8, _value: u32, _icount: u64) {}

    fn a20_mask(&self) -> u64 {
        u64::MAX
    }

    fn interrupt_pending(&self) -> bool {
        false
    }

    fn acknowledge_interrupt(&mut self, _icount: u64) -> u8 {
        0
    }

    fn tsc(&mut self, icount: u64) -> u64 {
        self.icount = icount;
        icount
    }

    fn stop_requested(&self) -> bool {
        false
    }
}
