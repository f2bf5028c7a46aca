//! Instruction bytes plus a CPU state, in 16-bit protected mode, on a flat RAM bus.
#![no_main]
use anyx86_cpu::fuzzing::{run_cpu, Mode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    run_cpu(Mode::Pm16, data);
});
