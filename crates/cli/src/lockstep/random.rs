//! Random instruction streams (to come).

use super::LockstepArgs;

/// Runs `--random`.
pub fn run(_a: &LockstepArgs) -> Result<u8, String> {
    Err("--random is not implemented yet".into())
}
