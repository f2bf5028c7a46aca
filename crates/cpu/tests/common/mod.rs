//! Helpers shared by the CPU tests: the flat 16 MiB bus of the vector
//! runner (`anyx86_cpu::singlestep`) and a long-mode setup.

pub mod long64;
pub mod prot32;

pub use anyx86_cpu::singlestep::FlatBus;
