//! Instruction bytes plus a CPU state, in 64-bit mode (paging on, an IST gate), on a flat RAM bus.
#![no_main]
use anyx86_cpu::fuzzing::{run_cpu, Mode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    run_cpu(Mode::Long, data);
});
