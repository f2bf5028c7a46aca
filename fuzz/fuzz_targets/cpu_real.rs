//! Instruction bytes plus a CPU state, in real mode, on a flat RAM bus.
#![no_main]
use anyx86_cpu::fuzzing::{run_cpu, Mode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    run_cpu(Mode::Real, data);
});
