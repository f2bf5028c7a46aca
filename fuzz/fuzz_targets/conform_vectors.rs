//! A SingleStepTests vector file (MOO or JSON) through the conform parser and runner.
#![no_main]
use anyx86_cpu::fuzzing::conform_vectors;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = conform_vectors(data);
});
