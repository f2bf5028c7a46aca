//! The anyx86 debugger: breakpoints, watchpoints, stepping, disassembly,
//! side-effect-free views, the GDB remote stub and the execution trace.
//!
//! The CPU offers two hooks ([`anyx86_cpu::debug`]): a checked copy of its
//! run loop that calls [`engine::Debugger::check`] before every
//! instruction, used only while something is armed, and watchpoints that
//! keep the pages they cover out of the TLB's fast path. Every view reads
//! memory through [`anyx86_cpu::CpuBus::peek_phys`], never through a
//! device.
#![forbid(unsafe_code)]

pub mod disasm;
pub mod engine;
pub mod fuzzing;
pub mod gdb;
pub mod info;
pub mod parse;
pub mod regs;
pub mod reverse;
pub mod session;
pub mod trace;
pub mod view;

pub use engine::{BreakAt, Debugger, StopWhy};
pub use gdb::{GdbConfig, GdbError};
pub use session::{Reply, Session};
