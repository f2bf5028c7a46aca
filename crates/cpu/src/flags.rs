//! Lazy arithmetic flags.
//!
//! The common flag-setting operations (ADD, ADC, SUB, SBB, CMP, NEG, INC,
//! DEC, the logic ops) store their operands and result instead of computing
//! six flags each time; a flag is derived only when something reads it
//! (a Jcc, SETcc, PUSHF, ...). This is the design of Bochs's
//! `cpu/lazy_flags.h`. Everything else computes its flags eagerly and stores
//! them with [`FlagOp::None`].

use crate::arch::fl;

/// The operation whose flags are pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlagOp {
    /// No pending operation: the arithmetic bits of `eflags` are current.
    #[default]
    None,
    /// `res = a + b`.
    Add,
    /// `res = a + b + carry_in`.
    Adc,
    /// `res = a - b` (also CMP and NEG with `a = 0`).
    Sub,
    /// `res = a - b - carry_in`.
    Sbb,
    /// AND, OR, XOR, TEST: CF = OF = 0, AF = 0.
    Logic,
    /// `res = a + 1`, CF preserved in `carry_in`.
    Inc,
    /// `res = a - 1`, CF preserved in `carry_in`.
    Dec,
    /// `res = a << b` (SHL/SAL), `b` the masked count, never 0: CF the
    /// last bit shifted out, OF = CF XOR the result's sign, AF = 0.
    Shl,
    /// `res = a >> b` (SHR), `b` as for `Shl`: CF the last bit shifted
    /// out; OF the sign change of the last 1-bit step (the original MSB
    /// for a count of 1, 0 for larger counts), as P6 and Bochs compute it.
    Shr,
    /// `res = a >> b` arithmetic (SAR), `b` as for `Shl`: CF the last bit
    /// shifted out, OF = 0.
    Sar,
    /// IMUL r, r/m (two or three operands, 2, 4 or 8 bytes): `res` the
    /// low half of the product with bit 8 set, `a` 1 when the product
    /// does not fit it. CF = OF = `a`; SF and PF come from the low half
    /// (bit 8 is neither its sign nor in its low byte) and ZF and AF are
    /// 0, as Intel's recent cores leave them (the SDM: undefined); bit 8
    /// is what makes ZF read 0 without a test of its own.
    Imul,
}

/// Operands and result of the last lazily evaluated operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lazy {
    /// Which operation.
    pub op: FlagOp,
    /// Operand width in bytes (1, 2, 4 or 8).
    pub size: u8,
    /// First operand.
    pub a: u64,
    /// Second operand.
    pub b: u64,
    /// Result (not masked: only the low `size` bytes matter).
    pub res: u64,
    /// Carry into ADC/SBB, or the CF that INC/DEC preserve.
    pub carry_in: bool,
}

/// All-ones mask of `size` bytes.
#[inline(always)]
pub fn mask(size: u8) -> u64 {
    u64::MAX >> (64 - 8 * u32::from(size))
}

/// The sign bit of a `size`-byte value.
#[inline(always)]
pub fn sign_bit(size: u8) -> u64 {
    1u64 << (8 * u32::from(size) - 1)
}

/// `flag` when `b`, else 0.
#[inline(always)]
pub fn bit(b: bool, flag: u32) -> u32 {
    if b {
        flag
    } else {
        0
    }
}

/// PF: set when the low byte has an even number of one bits.
#[inline(always)]
pub fn parity(v: u64) -> bool {
    (v as u8).count_ones() % 2 == 0
}

impl Lazy {
    /// CF.
    #[inline]
    pub fn cf(&self) -> bool {
        let m = mask(self.size);
        let (a, b, r) = (self.a & m, self.b & m, self.res & m);
        match self.op {
            FlagOp::Add => r < a,
            FlagOp::Adc => r < a || (self.carry_in && r == a),
            FlagOp::Sub => a < b,
            FlagOp::Sbb => a < b || (self.carry_in && a == b),
            FlagOp::Logic | FlagOp::None => false,
            FlagOp::Inc | FlagOp::Dec => self.carry_in,
            FlagOp::Shl | FlagOp::Shr | FlagOp::Sar => self.shift_cf(),
            FlagOp::Imul => self.a != 0,
        }
    }

    /// CF of a shift: the last bit shifted out of the `size`-byte operand
    /// `a` (0 once a left or logical right shift moved past it).
    fn shift_cf(&self) -> bool {
        let bits = 8 * u64::from(self.size);
        let (a, n) = (self.a & mask(self.size), self.b);
        match self.op {
            FlagOp::Shl => n <= bits && (a >> (bits - n)) & 1 != 0,
            FlagOp::Shr => n <= bits && (a >> (n - 1)) & 1 != 0,
            _ => {
                let sa = ((a << (64 - bits)) as i64) >> (64 - bits);
                (sa >> (n - 1)) & 1 != 0
            }
        }
    }

    /// ZF.
    #[inline]
    pub fn zf(&self) -> bool {
        self.res & mask(self.size) == 0
    }

    /// SF.
    #[inline]
    pub fn sf(&self) -> bool {
        self.res & sign_bit(self.size) != 0
    }

    /// PF.
    #[inline]
    pub fn pf(&self) -> bool {
        parity(self.res)
    }

    /// AF.
    #[inline]
    pub fn af(&self) -> bool {
        match self.op {
            FlagOp::Logic
            | FlagOp::None
            | FlagOp::Shl
            | FlagOp::Shr
            | FlagOp::Sar
            | FlagOp::Imul => false,
            FlagOp::Inc | FlagOp::Dec => (self.a ^ 1 ^ self.res) & 0x10 != 0,
            _ => (self.a ^ self.b ^ self.res) & 0x10 != 0,
        }
    }

    /// OF.
    #[inline]
    pub fn of(&self) -> bool {
        let s = sign_bit(self.size);
        let (a, b, r) = (self.a, self.b, self.res);
        match self.op {
            FlagOp::Add | FlagOp::Adc => (a ^ r) & (b ^ r) & s != 0,
            FlagOp::Sub | FlagOp::Sbb => (a ^ b) & (a ^ r) & s != 0,
            FlagOp::Inc => (a ^ r) & (1 ^ r) & s != 0,
            FlagOp::Dec => (a ^ 1) & (a ^ r) & s != 0,
            FlagOp::Shl => (r & s != 0) != self.shift_cf(),
            FlagOp::Shr => (r & s != 0) != (r & (s >> 1) != 0),
            FlagOp::Imul => a != 0,
            FlagOp::Logic | FlagOp::None | FlagOp::Sar => false,
        }
    }

    /// All six arithmetic flags as EFLAGS bits.
    pub fn bits(&self) -> u32 {
        let mut f = 0;
        if self.cf() {
            f |= fl::CF;
        }
        if self.pf() {
            f |= fl::PF;
        }
        if self.af() {
            f |= fl::AF;
        }
        if self.zf() {
            f |= fl::ZF;
        }
        if self.sf() {
            f |= fl::SF;
        }
        if self.of() {
            f |= fl::OF;
        }
        f
    }
}

/// Eagerly computed flags of `res` for SF, ZF and PF (the "result" flags
/// that shifts, rotates-free logic and many others share).
pub fn szp(res: u64, size: u8) -> u32 {
    let mut f = 0;
    if res & mask(size) == 0 {
        f |= fl::ZF;
    }
    if res & sign_bit(size) != 0 {
        f |= fl::SF;
    }
    if parity(res) {
        f |= fl::PF;
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lazy(op: FlagOp, size: u8, a: u64, b: u64, res: u64, carry_in: bool) -> Lazy {
        Lazy {
            op,
            size,
            a,
            b,
            res,
            carry_in,
        }
    }

    #[test]
    fn add_8bit_carry_overflow_and_aux() {
        // 0x7F + 0x01 = 0x80: signed overflow, AF from bit 3, no carry.
        let l = lazy(FlagOp::Add, 1, 0x7F, 1, 0x80, false);
        assert_eq!(l.bits(), fl::OF | fl::SF | fl::AF);
        // 0xFF + 0x01 = 0x100: carry out, zero, AF, PF (0 has even parity).
        let l = lazy(FlagOp::Add, 1, 0xFF, 1, 0x100, false);
        assert_eq!(l.bits(), fl::CF | fl::ZF | fl::AF | fl::PF);
    }

    #[test]
    fn sub_borrow_and_sbb_with_equal_operands() {
        // 0 - 1 = 0xFFFF: borrow, sign, AF, PF (0xFF even).
        let l = lazy(FlagOp::Sub, 2, 0, 1, 0u64.wrapping_sub(1), false);
        assert_eq!(l.bits(), fl::CF | fl::SF | fl::AF | fl::PF);
        // 5 - 5 - 1 borrows.
        let l = lazy(FlagOp::Sbb, 4, 5, 5, u64::MAX, true);
        assert!(l.cf());
    }

    #[test]
    fn pending_shifts_give_the_flags_of_the_sdm() {
        // SHL AL, 1 of 0x81: CF the bit shifted out, OF = CF XOR SF.
        let l = lazy(FlagOp::Shl, 1, 0x81, 1, 0x02, false);
        assert_eq!(l.bits(), fl::CF | fl::OF);
        // SHL AL, 8: the last bit out is bit 0; the result is 0.
        let l = lazy(FlagOp::Shl, 1, 0x01, 8, 0, false);
        assert_eq!(l.bits(), fl::CF | fl::OF | fl::ZF | fl::PF);
        // SHL AL, 9: everything has gone, CF too.
        let l = lazy(FlagOp::Shl, 1, 0xFF, 9, 0, false);
        assert_eq!(l.bits(), fl::ZF | fl::PF);
        // SHR AX, 1 of 0x8001: OF is the original sign.
        let l = lazy(FlagOp::Shr, 2, 0x8001, 1, 0x4000, false);
        assert_eq!(l.bits(), fl::CF | fl::OF | fl::PF);
        // SHR EAX, 4 of 0x8000_0018: CF bit 3, OF 0 for counts above 1.
        let l = lazy(FlagOp::Shr, 4, 0x8000_0018, 4, 0x0800_0001, false);
        assert_eq!(l.bits(), fl::CF);
        // SAR EAX, 4 of 0x8000_0010: the sign fills, CF bit 3 (0), OF 0.
        let l = lazy(FlagOp::Sar, 4, 0x8000_0010, 4, 0xF800_0001, false);
        assert_eq!(l.bits(), fl::SF);
        // SAR AL, 31: CF is the sign, shifted out last.
        let l = lazy(FlagOp::Sar, 1, 0x80, 31, 0xFF, false);
        assert_eq!(l.bits(), fl::CF | fl::SF | fl::PF);
        // SHR RAX, 63 of the sign bit alone: CF bit 62 (0), result 1.
        let l = lazy(FlagOp::Shr, 8, 1 << 63, 63, 1, false);
        assert_eq!(l.bits(), 0);
    }

    #[test]
    fn inc_keeps_carry_and_overflows_at_the_sign() {
        let l = lazy(FlagOp::Inc, 4, 0x7FFF_FFFF, 0, 0x8000_0000, true);
        assert!(l.cf() && l.of() && l.sf() && l.af());
        let l = lazy(FlagOp::Dec, 2, 0x8000, 0, 0x7FFF, false);
        assert!(!l.cf() && l.of() && !l.sf());
    }
}
