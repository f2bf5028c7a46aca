//! Showing the guest's screen: in the terminal (`--display terminal`).

pub mod cp437;
pub mod terminal;
