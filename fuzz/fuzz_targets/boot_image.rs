//! A kernel image through the Multiboot and Linux loaders.
#![no_main]
use anyx86_boot::fuzzing::boot_image;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    boot_image(data);
});
