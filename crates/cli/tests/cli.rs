//! The command line's integration tests, one test binary: each file beside
//! this one is a module of it (`cargo test -p anyx86-cli --release --test
//! cli media::`). One binary is linked once instead of once per file, and
//! its test threads take the next test of any file: the long guest boots
//! of one file no longer leave a core idle while the next file waits.
//! Tests of different files run side by side, so the names they give
//! scratch files, tmux sessions and servers differ between files.

#[allow(dead_code)]
mod common;
#[allow(dead_code)]
mod guest;
#[allow(dead_code)]
mod tmux;

mod bench_rom;
mod cli_errors;
mod compat32;
mod conform;
mod console_tmux;
mod debug_batch;
mod debug_tui;
mod display;
mod display_tmux;
mod gdb_stub;
mod hostile;
mod linux_boot;
mod linux_shell;
mod lockstep;
mod media;
mod record_replay;
mod reverse;
mod serial_tcp;
mod snapshot;
mod test_roms;
mod window;
