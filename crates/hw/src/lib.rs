//! Contracts shared by every part of anyx86.
//!
//! This crate holds no device and no CPU: only the small vocabulary the
//! others use to talk to each other, so that the dependency graph stays
//! one-way (`cli → machine → devices → hw`, and `machine → hw`; `cpu`
//! and `mem` need none of it: the `CpuBus` lives in `anyx86-cpu`).
//!
//! - [`PortDevice`]: a device's register interface, as seen from the I/O bus.
//! - [`IrqLevel`]: interrupt lines are levels; edge detection lives in the
//!   interrupt controller.
//! - [`time`]: virtual time and the event scheduler.
//! - [`Snapshot`]: plain-data device state, saved and restored, and
//!   [`wire`], its byte encoding in snapshot files.
//! - [`DmaMemory`]: guest physical memory as a bus-mastering device sees it.
//! - [`block`]: media (disk, CD, floppy images) as storage controllers see them.
#![forbid(unsafe_code)]

pub mod block;
pub mod time;
pub mod wire;

pub use block::{BlockBackend, BlockError, MemDisk};

pub use time::{Scheduler, VirtualTime, NS_PER_SEC};

/// Width of one I/O or MMIO access, in bytes (1, 2 or 4).
pub type AccessSize = u8;

/// A device on the I/O port bus.
///
/// `offset` is the port number minus the base of the range the device was
/// mapped at. `now` is the virtual time of the exact instruction doing the
/// access, in nanoseconds since power-on: timer chips compute their counters
/// from it lazily instead of being ticked.
///
/// A device must accept any offset and size the guest can produce: an
/// unknown register reads as all-ones and ignores writes, never panics.
pub trait PortDevice {
    /// Reads `size` bytes at `offset`.
    fn read(&mut self, offset: u16, size: AccessSize, now: VirtualTime) -> u32;
    /// Writes the low `size` bytes of `value` at `offset`.
    fn write(&mut self, offset: u16, size: AccessSize, value: u32, now: VirtualTime);
}

/// A device that drives interrupt request lines.
///
/// Lines are levels. Each device recomputes its outputs in one place (its
/// `update_irq`) at the end of every mutating path; the machine reads the
/// levels after each access or event and forwards them to the interrupt
/// controller, ORing lines that two devices share.
pub trait IrqLevel {
    /// The current level of the device's interrupt output.
    fn irq_level(&self) -> bool;
}

/// Guest physical memory as a DMA-capable device sees it.
///
/// Devices that master the bus (fw_cfg's DMA interface, IDE bus-master, the
/// 8237) take `&mut dyn DmaMemory` for the duration of one transfer; the
/// machine implements it over its memory map. A transfer never fails: like
/// the bus, unmapped memory reads as all-ones and swallows writes.
pub trait DmaMemory {
    /// Reads guest physical memory at `addr` into `buf` (unmapped bytes read as 0xFF).
    fn dma_read(&mut self, addr: u64, buf: &mut [u8]);
    /// Writes `data` to guest physical memory at `addr` (ROM/unmapped bytes are dropped).
    fn dma_write(&mut self, addr: u64, data: &[u8]);
}

/// Plain-data state of a device, for snapshots.
///
/// `save` captures everything needed to continue; `restore` validates its
/// input and fires no side effects (the machine re-derives IRQ lines and
/// deadlines afterwards).
pub trait Snapshot {
    /// The state type: all fields public, `Default` is the power-on state.
    type State: Clone + Default + PartialEq + core::fmt::Debug + wire::Wire;
    /// Captures the device state.
    fn save(&self) -> Self::State;
    /// Replaces the device state.
    fn restore(&mut self, state: &Self::State) -> Result<(), SnapshotError>;
    /// Appends the state's encoding to `out`, as `save()` then `put`
    /// would (a device with a large state writes it without the copy).
    fn save_into(&self, out: &mut Vec<u8>) {
        wire::Wire::put(&self.save(), out);
    }
}

/// A snapshot that cannot be restored.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SnapshotError {
    /// A field holds a value the device can never be in.
    #[error("invalid snapshot field {field}: {why}")]
    Invalid {
        /// Name of the field.
        field: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// Saves a device, restores the state into a fresh one and checks both
/// agree, that the state survives its byte encoding, and that
/// `save_into` appends exactly that encoding: the round-trip test every
/// device runs.
pub fn assert_snapshot_roundtrip<D: Snapshot>(device: &D, fresh: &mut D) {
    let state = device.save();
    let decoded = wire::decode::<D::State>(&wire::encode(&state));
    assert_eq!(
        decoded.as_ref(),
        Ok(&state),
        "byte encoding changed the state"
    );
    let mut direct = vec![0xA5];
    device.save_into(&mut direct);
    assert!(
        direct[1..] == wire::encode(&state)[..] && direct[0] == 0xA5,
        "save_into writes other bytes than save"
    );
    fresh.restore(&state).expect("restore of a saved state");
    assert_eq!(fresh.save(), state, "snapshot round-trip changed the state");
}
