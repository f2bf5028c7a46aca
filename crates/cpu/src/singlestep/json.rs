//! The older JSON form of SingleStepTests vectors (8088/8086 v1, 80286
//! v1): a JSON array of tests, each
//! `{"name", "bytes": [..], "initial": {"regs": {"ax": N, ..}, "ram":
//! [[addr, byte], ..]}, "final": {..}, "exception": {"number", "flag_address"},
//! "hash", "idx"}`. Register names are those of the MOO layouts (`ax` ..
//! `flags` for the 16-bit file, `eax` .. `dr7` for the 386's); a test
//! naming a 32-bit register uses the 32-bit layout.
//!
//! The reader is a small recursive-descent JSON parser: depth-limited,
//! never panics on bad input.

use super::moo::{self, Excp, MooFile, MooTest, Regs, Regs32, State, REG32_NAMES, REG_NAMES};

/// Nesting deeper than this is refused (the format nests four levels).
const MAX_DEPTH: usize = 32;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number (integers are exact up to 2^53).
    Num(f64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Value>),
    /// An object, keys in file order.
    Obj(Vec<(String, Value)>),
}

impl Value {
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Obj(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value as an unsigned integer, when it is a non-negative number.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Num(n) if n >= 0.0 && n <= u64::MAX as f64 => Some(n as u64),
            _ => None,
        }
    }

    fn as_arr(&self) -> &[Value] {
        match self {
            Value::Arr(a) => a,
            _ => &[],
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    p: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.p).is_some_and(|c| c.is_ascii_whitespace()) {
            self.p += 1;
        }
    }

    fn err(&self, what: &str) -> String {
        format!("JSON: {what} at byte {}", self.p)
    }

    fn eat(&mut self, lit: &str) -> Result<(), String> {
        if self.s[self.p..].starts_with(lit.as_bytes()) {
            self.p += lit.len();
            Ok(())
        } else {
            Err(self.err(&format!("expected {lit}")))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        self.ws();
        match self.s.get(self.p) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b't') => self.eat("true").map(|_| Value::Bool(true)),
            Some(b'f') => self.eat("false").map(|_| Value::Bool(false)),
            Some(b'n') => self.eat("null").map(|_| Value::Null),
            Some(_) => self.number(),
            None => Err(self.err("unexpected end")),
        }
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.p;
        while self
            .s
            .get(self.p)
            .is_some_and(|c| c.is_ascii_digit() || b"+-.eE".contains(c))
        {
            self.p += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.p]).unwrap_or("");
        text.parse()
            .map(Value::Num)
            .map_err(|_| self.err("bad number"))
    }

    fn string(&mut self) -> Result<String, String> {
        self.p += 1;
        let mut out = Vec::new();
        loop {
            let c = *self.s.get(self.p).ok_or_else(|| self.err("open string"))?;
            self.p += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = *self.s.get(self.p).ok_or_else(|| self.err("open string"))?;
                    self.p += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'b' | b'f' => {}
                        // \uXXXX: kept as '?' (names and hashes are ASCII).
                        b'u' => {
                            self.p = (self.p + 4).min(self.s.len());
                            out.push(b'?');
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(c),
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    fn array(&mut self, depth: usize) -> Result<Value, String> {
        self.p += 1;
        let mut v = Vec::new();
        self.ws();
        if self.s.get(self.p) == Some(&b']') {
            self.p += 1;
            return Ok(Value::Arr(v));
        }
        loop {
            v.push(self.value(depth + 1)?);
            self.ws();
            match self.s.get(self.p) {
                Some(b',') => self.p += 1,
                Some(b']') => {
                    self.p += 1;
                    return Ok(Value::Arr(v));
                }
                _ => return Err(self.err("expected , or ]")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, String> {
        self.p += 1;
        let mut m = Vec::new();
        self.ws();
        if self.s.get(self.p) == Some(&b'}') {
            self.p += 1;
            return Ok(Value::Obj(m));
        }
        loop {
            self.ws();
            if self.s.get(self.p) != Some(&b'"') {
                return Err(self.err("expected a key"));
            }
            let k = self.string()?;
            self.ws();
            self.eat(":")?;
            m.push((k, self.value(depth + 1)?));
            self.ws();
            match self.s.get(self.p) {
                Some(b',') => self.p += 1,
                Some(b'}') => {
                    self.p += 1;
                    return Ok(Value::Obj(m));
                }
                _ => return Err(self.err("expected , or }")),
            }
        }
    }
}

/// Parses one JSON document.
pub fn parse_value(data: &[u8]) -> Result<Value, String> {
    let mut p = Parser { s: data, p: 0 };
    let v = p.value(0)?;
    p.ws();
    if p.p != data.len() {
        return Err(p.err("trailing data"));
    }
    Ok(v)
}

/// True when `data` looks like a JSON array of tests.
pub fn is_json(data: &[u8]) -> bool {
    data.iter()
        .find(|c| !c.is_ascii_whitespace())
        .is_some_and(|&c| c == b'[')
}

/// Parses a JSON vector file into the MOO model.
pub fn parse(data: &[u8]) -> Result<MooFile, String> {
    let v = parse_value(data)?;
    let Value::Arr(tests) = v else {
        return Err("JSON: not an array of tests".into());
    };
    let mut file = MooFile::default();
    for (i, t) in tests.iter().enumerate() {
        let test = parse_test(t, i as u32).map_err(|e| format!("test {i}: {e}"))?;
        if file.mnemonic.is_empty() {
            file.mnemonic = test.name.split_whitespace().next().unwrap_or("").into();
        }
        file.tests.push(test);
    }
    Ok(file)
}

fn parse_test(t: &Value, i: u32) -> Result<MooTest, String> {
    let index = t.get("idx").and_then(Value::as_u64).map_or(i, |n| n as u32);
    let name = match t.get("name") {
        Some(Value::Str(s)) => s.clone(),
        _ => String::new(),
    };
    let bytes = t
        .get("bytes")
        .map(|b| {
            b.as_arr()
                .iter()
                .map(|x| x.as_u64().unwrap_or(0) as u8)
                .collect()
        })
        .unwrap_or_default();
    let (mut init, init32) = parse_state(t.get("initial").ok_or("no initial state")?)?;
    let (mut fina, fina32) = parse_state(t.get("final").ok_or("no final state")?)?;
    // The initial state names every register: it decides the layout.
    if init32.mask & !SEGMENTS32 != 0 {
        for (st, r) in [(&mut init, init32), (&mut fina, fina32)] {
            st.regs = Regs::default();
            st.regs32 = Some(r);
            moo::derive_regs16(st);
        }
    }
    let excp = t.get("exception").map(|e| Excp {
        vector: e.get("number").and_then(Value::as_u64).unwrap_or(0) as u8,
        flags_addr: e.get("flag_address").and_then(Value::as_u64).unwrap_or(0) as u32,
    });
    let mut hash = [0u8; 20];
    if let Some(Value::Str(h)) = t.get("hash") {
        for (n, b) in hash.iter_mut().enumerate() {
            *b = h
                .get(2 * n..2 * n + 2)
                .and_then(|x| u8::from_str_radix(x, 16).ok())
                .unwrap_or(0);
        }
    }
    Ok(MooTest {
        index,
        name,
        bytes,
        init,
        fina,
        excp,
        hash,
    })
}

/// RG32 bits of the segment registers, whose names both layouts share.
const SEGMENTS32: u32 = 0x3F << 10;

/// A state with its 16-bit registers, and the 32-bit registers it names.
fn parse_state(s: &Value) -> Result<(State, Regs32), String> {
    let mut st = State::default();
    let mut r32 = Regs32::default();
    if let Some(Value::Obj(regs)) = s.get("regs") {
        for (k, v) in regs {
            let v = v
                .as_u64()
                .ok_or_else(|| format!("register {k}: not a number"))?;
            if let Some(n) = REG_NAMES.iter().position(|&x| x == k) {
                st.regs.mask |= 1 << n;
                st.regs.v[n] = v as u16;
            }
            if let Some(n) = REG32_NAMES.iter().position(|&x| x == k) {
                r32.mask |= 1 << n;
                r32.v[n] = v as u32;
            }
        }
    }
    if let Some(ram) = s.get("ram") {
        for e in ram.as_arr() {
            let a = e.as_arr();
            let addr = a.first().and_then(Value::as_u64).ok_or("bad RAM entry")?;
            let val = a.get(1).and_then(Value::as_u64).ok_or("bad RAM entry")?;
            st.ram.push((addr as u32, val as u8));
        }
    }
    Ok((st, r32))
}
