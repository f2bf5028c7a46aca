//! Port and MMIO accesses, time and host input against the full `pc` board.
#![no_main]
use anyx86_machine::fuzzing::run_devices;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    run_devices(data);
});
