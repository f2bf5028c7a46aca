//! Raw bytes from a GDB client into the remote stub.
#![no_main]
use anyx86_debugger::fuzzing::run_gdb;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    run_gdb(data);
});
