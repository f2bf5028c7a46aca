//! The anyx86 PC board: memory map, port map and devices wired from one
//! layout file ([`layout`]), and the run loop that drives the CPU.
#![forbid(unsafe_code)]

pub mod board;
pub mod layout;
mod machine;

pub use board::{Board, Output, Sink, StopReason};
pub use machine::{
    Machine, MachineConfig, MachineError, RunOutcome, EXIT_INSN_LIMIT, EXIT_TRIPLE_FAULT,
};
