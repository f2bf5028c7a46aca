//! The anyx86 PC board: memory map, port map and devices wired from one
//! layout file ([`layout`]), the virtual clock, and the run loop that
//! drives the CPU.
#![forbid(unsafe_code)]

pub mod acpi;
pub mod board;
mod boot;
pub mod clock;
pub mod disk;
mod firmware;
pub mod fuzzing;
pub mod journal;
pub mod layout;
mod machine;
pub mod pc;
mod platform;
pub mod screen;
pub mod smbios;
pub mod snapshot;
pub mod timetravel;

pub use board::{Board, Output, Sink, StopReason};
pub use boot::{kernel_is_64bit, KernelBoot};
pub use clock::ClockMode;
pub use firmware::{BadBootOrder, BootDevice, BootOrder, SEABIOS};
pub use journal::{JournalError, ReplayLog};
pub use machine::{
    regular_file_len, Drives, HostControl, HostHook, Machine, MachineConfig, MachineError,
    RunOutcome, DEFAULT_IPS, EXIT_INSN_LIMIT, EXIT_MEDIA, EXIT_NO_PROGRESS, EXIT_REPLAY_DIVERGED,
    EXIT_TRIPLE_FAULT,
};
pub use pc::MachineKind;
