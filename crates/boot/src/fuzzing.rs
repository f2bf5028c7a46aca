//! Fuzzing harness for the image loaders: the function the `boot_image`
//! cargo-fuzz target calls, and that the stable corpus replay test calls
//! with the same bytes.
#![doc(hidden)]

use crate::{load_linux, load_multiboot, parse_setup_header, BootPlan, MemoryLayout};

/// Guest RAM the harness offers the loaders: 64 MiB, as on a small `pc`.
pub const RAM_BYTES: u64 = 64 << 20;
/// Bytes a plan may hold beyond the image itself: boot_params (4 KiB),
/// the GDT, the command line, Multiboot's info structures.
pub const PLAN_OVERHEAD: u64 = 64 << 10;

/// The memory layout of a `pc` with [`RAM_BYTES`] of RAM.
pub fn layout() -> MemoryLayout {
    MemoryLayout {
        ram_bytes: RAM_BYTES,
        low_ram_end: 0x9FC00,
        reserved: vec![(0xF0000, 0x10000), (0xFFFC_0000, 0x4_0000)],
        acpi: vec![],
        acpi_rsdp: None,
    }
}

/// Loads `data` as a kernel the way the machine does (Multiboot first,
/// then Linux) and checks the plan's invariants; panics if one breaks.
/// Returns the plan, or `None` for an image both loaders reject.
pub fn boot_image(data: &[u8]) -> Option<BootPlan> {
    if let Ok(h) = parse_setup_header(data) {
        assert!(h.header_end <= data.len(), "header end past the image");
    }
    let mem = layout();
    let plan = match load_multiboot(data, &[], "console=ttyS0", &mem) {
        Ok(Some(plan)) => plan,
        Ok(None) => load_linux(data, None, "console=ttyS0", &mem).ok()?,
        Err(_) => return None,
    };
    check_plan(&plan, data.len() as u64);
    Some(plan)
}

/// Every load lies in guest RAM without wrapping, and the plan holds no
/// more bytes than the image plus a fixed overhead.
pub fn check_plan(plan: &BootPlan, image_len: u64) {
    let mut bytes = 0u64;
    for load in &plan.loads {
        let end = load.addr.checked_add(load.len());
        assert!(
            end.is_some_and(|e| e <= RAM_BYTES),
            "{:?} at {:#x}+{:#x} is outside RAM",
            load.what,
            load.addr,
            load.len()
        );
        bytes = bytes.saturating_add(load.data.len() as u64);
    }
    assert!(
        bytes <= image_len.saturating_add(PLAN_OVERHEAD),
        "plan holds {bytes} bytes for an image of {image_len}"
    );
}
