//! A small client for the GDB remote serial protocol, enough to drive
//! QEMU's gdbstub one instruction at a time: `qSupported`, no-ack mode,
//! `qXfer:features:read` (the target description), `g`/`P` registers,
//! `m`/`M` memory, `s` single-step, `c`/`vCont`, `Z0` breakpoints.
//!
//! Packets are `$DATA#CK` with CK the modulo-256 sum of DATA in two hex
//! digits; `}` escapes `#$}*` in replies (XOR 0x20) and `*` marks
//! run-length encoding (GDB manual, "Overview" of the remote protocol).
//! After `QStartNoAckMode` neither side sends `+`/`-`; together with
//! TCP_NODELAY that takes a step from ~45 ms (Nagle against delayed ACKs)
//! to ~0.15 ms.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Largest reply accepted (a `g` packet of x86-64 is about 1.1 KiB of hex;
/// a hostile or broken stub must not make us grow without bound).
const MAX_REPLY: usize = 1 << 20;
/// Most bytes asked for in one `m` packet (QEMU's PacketSize is 1000
/// hex digits per reply on 7.2).
const MEM_CHUNK: usize = 256;

/// Errors talking to the stub.
#[derive(Debug, thiserror::Error)]
pub enum GdbError {
    /// The connection could not be made or broke.
    #[error("gdb connection: {0}")]
    Io(#[from] std::io::Error),
    /// The stub answered something we cannot parse.
    #[error("gdb protocol: {0}")]
    Protocol(String),
    /// The stub answered with an error code (`Exx`).
    #[error("gdb stub error {0} for {1}")]
    Stub(String, String),
}

/// A connection to a GDB stub.
pub struct GdbClient {
    stream: TcpStream,
    buf: Vec<u8>,
    acks: bool,
}

impl GdbClient {
    /// Connects to `addr`, retrying until `wait` has passed (the stub's
    /// process may still be starting).
    pub fn connect(addr: &str, wait: Duration) -> Result<Self, GdbError> {
        let start = Instant::now();
        let stream = loop {
            match TcpStream::connect(addr) {
                Ok(s) => break s,
                Err(e) if start.elapsed() > wait => return Err(e.into()),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut c = Self {
            stream,
            buf: Vec::new(),
            acks: true,
        };
        c.request("qSupported:xmlRegisters=i386;multiprocess-")?;
        if c.request("QStartNoAckMode")? == "OK" {
            c.acks = false;
        }
        Ok(c)
    }

    /// Sends one packet.
    fn send(&mut self, data: &str) -> Result<(), GdbError> {
        let sum = data.bytes().fold(0u8, |a, b| a.wrapping_add(b));
        let pkt = format!("${data}#{sum:02x}");
        self.stream.write_all(pkt.as_bytes())?;
        Ok(())
    }

    /// Reads bytes into the buffer until it holds a whole packet; returns
    /// its decoded payload.
    fn receive(&mut self) -> Result<String, GdbError> {
        loop {
            if let Some(p) = self.take_packet()? {
                return Ok(p);
            }
            if self.buf.len() > MAX_REPLY {
                return Err(GdbError::Protocol("reply too long".into()));
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(GdbError::Protocol("connection closed".into()));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Takes a complete packet off the front of the buffer, skipping acks.
    fn take_packet(&mut self) -> Result<Option<String>, GdbError> {
        let Some(start) = self.buf.iter().position(|&b| b == b'$') else {
            // Only acks (or noise): drop them.
            self.buf.clear();
            return Ok(None);
        };
        let Some(hash) = self.buf[start..].iter().position(|&b| b == b'#') else {
            return Ok(None);
        };
        let end = start + hash + 3;
        if self.buf.len() < end {
            return Ok(None);
        }
        let body = decode_body(&self.buf[start + 1..start + hash]);
        self.buf.drain(..end);
        if self.acks {
            self.stream.write_all(b"+")?;
        }
        String::from_utf8(body)
            .map(Some)
            .map_err(|_| GdbError::Protocol("reply is not text".into()))
    }

    /// Sends `data` and returns the reply.
    pub fn request(&mut self, data: &str) -> Result<String, GdbError> {
        self.send(data)?;
        self.receive()
    }

    /// Sends `data`; the reply must be `OK`.
    fn request_ok(&mut self, data: &str) -> Result<(), GdbError> {
        match self.request(data)? {
            r if r == "OK" => Ok(()),
            r => Err(GdbError::Stub(r, data.chars().take(40).collect())),
        }
    }

    /// Reads an object with `qXfer:features:read` (the target
    /// description and the files it includes).
    pub fn features(&mut self, annex: &str) -> Result<String, GdbError> {
        let mut out = String::new();
        loop {
            let r = self.request(&format!(
                "qXfer:features:read:{annex}:{:x},{:x}",
                out.len(),
                0x3e0
            ))?;
            let (kind, rest) = r.split_at(r.len().min(1));
            out += rest;
            match kind {
                "l" => return Ok(out),
                "m" if !rest.is_empty() && out.len() < MAX_REPLY => {}
                _ => return Err(GdbError::Stub(r, format!("qXfer {annex}"))),
            }
        }
    }

    /// All registers (`g`), as raw bytes in the target's order.
    pub fn read_registers(&mut self) -> Result<Vec<u8>, GdbError> {
        let r = self.request("g")?;
        from_hex(&r).ok_or_else(|| GdbError::Stub(r.chars().take(8).collect(), "g".into()))
    }

    /// Writes register number `n` (`P`).
    pub fn write_register(&mut self, n: usize, bytes: &[u8]) -> Result<(), GdbError> {
        self.request_ok(&format!("P{n:x}={}", to_hex(bytes)))
    }

    /// Reads `len` bytes of memory at (debugger-view) address `addr`.
    pub fn read_memory(&mut self, addr: u64, len: usize) -> Result<Vec<u8>, GdbError> {
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let n = (len - out.len()).min(MEM_CHUNK);
            let a = addr.wrapping_add(out.len() as u64);
            let r = self.request(&format!("m{a:x},{n:x}"))?;
            let bytes = from_hex(&r).ok_or_else(|| GdbError::Stub(r, format!("m{a:x}")))?;
            if bytes.is_empty() {
                return Err(GdbError::Protocol(format!("empty read at {a:#x}")));
            }
            out.extend_from_slice(&bytes);
        }
        Ok(out)
    }

    /// Writes memory at `addr`.
    pub fn write_memory(&mut self, addr: u64, data: &[u8]) -> Result<(), GdbError> {
        for (i, chunk) in data.chunks(MEM_CHUNK).enumerate() {
            let a = addr.wrapping_add((i * MEM_CHUNK) as u64);
            let cmd = format!("M{a:x},{:x}:{}", chunk.len(), to_hex(chunk));
            self.request_ok(&cmd)?;
        }
        Ok(())
    }

    /// Single-steps one instruction; returns the stop reply (`T05...`).
    pub fn step(&mut self) -> Result<String, GdbError> {
        self.request("s")
    }
}

/// Undoes `}` escapes and `*` run-length encoding.
fn decode_body(raw: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'}' if i + 1 < raw.len() => {
                out.push(raw[i + 1] ^ 0x20);
                i += 2;
            }
            b'*' if i + 1 < raw.len() && !out.is_empty() => {
                // The count is the next byte minus 29 repetitions.
                let n = usize::from(raw[i + 1].saturating_sub(29));
                let last = out[out.len() - 1];
                out.extend(std::iter::repeat(last).take(n));
                i += 2;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Hex digits to bytes; `None` for an error reply or odd input.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || (s.starts_with('E') && s.len() == 3) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Bytes to hex digits.
pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_length_and_escapes_decode() {
        // "0* " is '0' repeated 1 + (' ' - 29) = 4 times.
        assert_eq!(decode_body(b"0* "), b"0000");
        assert_eq!(decode_body(b"a}\x03b"), b"a#b");
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(
            from_hex(&to_hex(&[0, 0xAB, 0x10])),
            Some(vec![0, 0xAB, 0x10])
        );
        assert_eq!(from_hex("E01"), None);
    }
}
