//! The CPU's integration tests, one test binary: each file beside this one
//! is a module of it (`cargo test -p anyx86-cpu --test cpu sse::`). One
//! binary links and optimises the interpreter once, instead of once per
//! file; `threading.rs` stays a binary of its own, for the debug-build run
//! CI gives it (`.ci/run`).

#[allow(dead_code)]
mod common;
#[path = "common/corpus.rs"]
mod corpus;

mod alu32;
mod alu64;
mod bus_contract;
mod chaining;
mod control;
mod data;
mod ea;
mod fuzz_corpus;
mod issue18;
mod mmu;
mod rep;
mod singlestep;
mod smc;
mod sse;
mod sse64;
mod v2;
mod x87;
