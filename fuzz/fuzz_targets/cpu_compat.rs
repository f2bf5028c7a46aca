//! Instruction bytes plus a CPU state, in compatibility mode (32-bit code under long mode), on a flat RAM bus.
#![no_main]
use anyx86_cpu::fuzzing::{run_cpu, Mode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    run_cpu(Mode::Compat, data);
});
