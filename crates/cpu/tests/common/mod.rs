//! Helpers shared by the CPU tests: the flat 16 MiB bus of the vector
//! runner (`anyx86_cpu::singlestep`), a long-mode setup (`long64`) and
//! its 32-bit protected-mode twin (`prot32`). The integer tests (alu32,
//! alu64, ea, control, data, mmu) write their code as nasm source in a
//! comment (`// bits 64` then `//   insn` lines) followed by the bytes;
//! `asm_fill.py FILE.rs` reassembles the bytes from the source (nasm,
//! warnings as errors), then run `cargo fmt`. `corpus.rs` beside them
//! is not part of this module: the `fuzz_corpus` tests of several crates
//! include it on its own.

pub mod long64;
pub mod prot32;

pub use anyx86_cpu::singlestep::FlatBus;
