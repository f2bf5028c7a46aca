//! Text lines into the built-in debugger's command executor.
#![no_main]
use anyx86_debugger::fuzzing::run_commands;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    run_commands(data);
});
