//! The x87's special cases, one named behaviour per test. Each was checked
//! against the recorded vectors of a real x87 (tests/vectors).

use anyx86_softfloat::{Ctx, Exceptions, Ordering, Precision, Rounding, F80, SW_C2};

fn f(bits: u128) -> F80 {
    F80::from_bits(bits)
}

const MAX: u128 = 0x7FFE_FFFF_FFFF_FFFF_FFFF;
const LARGEST_DENORMAL: u128 = 0x0000_7FFF_FFFF_FFFF_FFFF;
const PSEUDO_DENORMAL: u128 = 0x0000_8000_0000_0000_0000;
const SMALLEST_NORMAL: u128 = 0x0001_8000_0000_0000_0000;
const TWO: u128 = 0x4000_8000_0000_0000_0000;

#[test]
fn tininess_is_detected_after_rounding() {
    // The largest denormal rounded to 24 bits becomes the smallest normal:
    // inexact, but not tiny after rounding, so no UE.
    let mut c = Ctx {
        pc: Precision::Single,
        ..Ctx::default()
    };
    assert_eq!(
        c.add(f(LARGEST_DENORMAL), F80::ZERO).to_bits(),
        SMALLEST_NORMAL
    );
    assert_eq!(c.flags, Exceptions::DENORMAL | Exceptions::PRECISION);
    assert!(c.c1);
}

#[test]
fn inexact_tiny_result_underflows() {
    let mut c = Ctx::default();
    let third = c.div(F80::ONE, f(0x4000_C000_0000_0000_0000));
    let mut c = Ctx::default();
    let r = c.mul(third, f(SMALLEST_NORMAL));
    assert_eq!(r.exp, 0, "denormal result");
    assert!(c
        .flags
        .contains(Exceptions::UNDERFLOW | Exceptions::PRECISION));
}

#[test]
fn exact_denormal_result_does_not_underflow() {
    let mut c = Ctx::default();
    let half = f(0x3FFE_8000_0000_0000_0000);
    assert_eq!(
        c.mul(f(SMALLEST_NORMAL), half).to_bits(),
        0x0000_4000_0000_0000_0000
    );
    assert!(c.flags.is_empty());
}

#[test]
fn masked_overflow_depends_on_rounding_direction() {
    let mut c = Ctx::default();
    assert_eq!(c.mul(f(MAX), f(TWO)), F80::INFINITY);
    assert_eq!(c.flags, Exceptions::OVERFLOW | Exceptions::PRECISION);
    assert!(c.c1);
    let mut c = Ctx {
        rc: Rounding::Zero,
        ..Ctx::default()
    };
    assert_eq!(c.mul(f(MAX), f(TWO)).to_bits(), MAX);
    assert!(!c.c1);
}

#[test]
fn precision_control_narrows_the_significand_not_the_exponent() {
    let mut c = Ctx {
        pc: Precision::Single,
        rc: Rounding::Zero,
        ..Ctx::default()
    };
    assert_eq!(c.mul(f(MAX), f(TWO)).to_bits(), 0x7FFE_FFFF_FF00_0000_0000);
}

#[test]
fn denormal_divided_by_zero_raises_only_ze() {
    // #Z outranks #D (SDM Vol. 1 §8.7).
    let mut c = Ctx::default();
    assert_eq!(c.div(f(1), F80::ZERO), F80::INFINITY);
    assert_eq!(c.flags, Exceptions::ZERO_DIVIDE);
}

#[test]
fn pseudo_denormal_is_a_denormal_operand_and_comes_back_normal() {
    let mut c = Ctx::default();
    assert_eq!(
        c.add(f(PSEUDO_DENORMAL), F80::ZERO).to_bits(),
        SMALLEST_NORMAL
    );
    assert_eq!(c.flags, Exceptions::DENORMAL);
}

#[test]
fn unsupported_encodings_are_invalid_operands() {
    for bits in [
        0x3FFF_4000_0000_0000_0000u128,
        0x7FFF_0000_0000_0000_0000,
        0x7FFF_4000_0000_0000_0000,
    ] {
        let mut c = Ctx::default();
        assert_eq!(c.add(f(bits), F80::ONE), F80::INDEFINITE);
        assert_eq!(c.flags, Exceptions::INVALID);
    }
}

#[test]
fn larger_nan_significand_wins_and_snan_is_quieted() {
    let mut c = Ctx::default();
    let small_q = f(0x7FFF_C000_0000_0000_0001);
    let big_q = f(0xFFFF_C000_0000_0000_0002);
    assert_eq!(c.add(small_q, big_q), big_q);
    assert!(c.flags.is_empty());
    let snan = f(0x7FFF_8000_0000_0000_0001);
    assert_eq!(c.mul(snan, F80::ONE).to_bits(), 0x7FFF_C000_0000_0000_0001);
    assert_eq!(c.flags, Exceptions::INVALID);
}

#[test]
fn qnan_beats_snan() {
    let mut c = Ctx::default();
    let q = f(0x7FFF_C000_0000_0000_0000);
    let s = f(0x7FFF_BFFF_FFFF_FFFF_FFFF);
    assert_eq!(c.sub(s, q), q);
    assert_eq!(c.flags, Exceptions::INVALID);
}

#[test]
fn fist_of_a_nan_stores_the_integer_indefinite() {
    let mut c = Ctx::default();
    assert_eq!(c.to_int(F80::INDEFINITE, 32, false), i64::from(i32::MIN));
    assert_eq!(c.flags, Exceptions::INVALID);
}

#[test]
fn fst_m32_rounds_to_the_destination_not_precision_control() {
    let mut c = Ctx {
        pc: Precision::Extended,
        ..Ctx::default()
    };
    let third = f(0x3FFD_AAAA_AAAA_AAAA_AAAB);
    assert_eq!(c.to_f32(third), 0x3EAA_AAAB);
    assert_eq!(c.flags, Exceptions::PRECISION);
    assert!(c.c1);
}

#[test]
fn fst_m32_overflow_and_quiet_nan() {
    let mut c = Ctx::default();
    assert_eq!(c.to_f32(f(MAX)), 0x7F80_0000);
    assert_eq!(c.flags, Exceptions::OVERFLOW | Exceptions::PRECISION);
    let mut c = Ctx::default();
    assert_eq!(c.to_f32(f(0x7FFF_8000_0000_0000_0001)), 0x7FC0_0000);
    assert_eq!(c.flags, Exceptions::INVALID);
}

#[test]
fn fld_m64_denormal_raises_de_and_normalises() {
    let mut c = Ctx::default();
    assert_eq!(c.from_f64(1).to_bits(), 0x3BCD_8000_0000_0000_0000);
    assert_eq!(c.flags, Exceptions::DENORMAL);
}

#[test]
fn fucom_raises_ie_only_for_snan() {
    let mut c = Ctx::default();
    let snan = f(0x7FFF_8000_0000_0000_0001);
    assert_eq!(c.compare(snan, F80::ONE, true), Ordering::Unordered);
    assert_eq!(c.flags, Exceptions::INVALID);
}

#[test]
fn fsin_of_two_to_the_63_is_incomplete() {
    let mut c = Ctx::default();
    let x = f(0x403E_8000_0000_0000_0000);
    let r = c.sin(x);
    assert_eq!((r.value, r.condition_codes), (x, SW_C2));
}

#[test]
fn fprem_reduces_a_huge_difference_by_32_plus_d_mod_32_bits() {
    let mut c = Ctx::default();
    // D = 100: one step removes 32 + 4 = 36 exponent bits at most.
    let a = f(0x4063_C000_0000_0000_0001);
    let r = c.prem(a, F80::ONE);
    assert_eq!(r.condition_codes, SW_C2);
    assert!(i32::from(r.value.exp) <= 0x4063 - 36);
}
