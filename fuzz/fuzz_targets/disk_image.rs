//! A disk, CD or floppy image file through open_image and the drives.
#![no_main]
use anyx86_machine::fuzzing::run_disk_image;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    run_disk_image(data);
});
