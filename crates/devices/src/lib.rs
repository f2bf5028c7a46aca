//! PC devices (being written).
#![forbid(unsafe_code)]
