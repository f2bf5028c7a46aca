//! A snapshot file through --loadvm's loader, then a short run.
#![no_main]
use anyx86_machine::fuzzing::run_snapshot_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    run_snapshot_file(data);
});
