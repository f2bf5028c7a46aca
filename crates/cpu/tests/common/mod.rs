//! Helpers shared by the CPU tests: the flat 16 MiB bus of the vector
//! runner (`anyx86_cpu::singlestep`), a long-mode setup (`long64`) and
//! its 32-bit protected-mode twin (`prot32`). The integer tests (alu32,
//! alu64, ea, control, data, mmu) write their code as nasm source, which
//! `asm::asm64`/`asm32` assemble when the test runs. `corpus.rs` beside them
//! is not part of this module: the `fuzz_corpus` tests of several crates
//! include it on its own.

pub mod asm;
pub mod long64;
pub mod prot32;

pub use anyx86_cpu::singlestep::FlatBus;
