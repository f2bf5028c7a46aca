//! Replays every seed and finding in `fuzz/corpus/debugger_cmd` and
//! `fuzz/corpus/gdb_packets` through the harnesses the cargo-fuzz
//! targets call, on the stable toolchain.

use anyx86_debugger::fuzzing::{packets, run_commands, run_gdb};
#[allow(dead_code)]
#[path = "../../cpu/tests/common/corpus.rs"]
mod corpus;

#[test]
fn debugger_cmd_corpus_replays() {
    corpus::replays_alike("debugger_cmd", run_commands);
}

#[test]
fn gdb_packets_corpus_replays() {
    corpus::replays_alike("gdb_packets", run_gdb);
}

/// GDB's `monitor` must not create files on the host: `screendump` is
/// refused there as `trace` is (before, a remote client could write a
/// PNG to any path the emulator may write).
#[test]
fn monitor_screendump_writes_no_file() {
    let path =
        std::env::temp_dir().join(format!("anyx86-fuzz-screendump-{}.png", std::process::id()));
    let r = run_commands(format!("screendump {}\n", path.display()).as_bytes());
    assert!(!path.exists(), "{} was written: {r:?}", path.display());
    assert!(r[0].contains("not available"), "{r:?}");
}

/// `s N` stops at the instruction limit like `c` does (before, it
/// stepped all N, up to a million, past `--max-instructions`).
#[test]
fn stepping_stops_at_the_instruction_limit() {
    let r = run_commands(b"s 1000000\nr\n");
    assert!(r[0].contains("instruction limit"), "{r:?}");
    let again = run_commands(b"s 1000000\ns\n");
    assert!(again[1].contains("stopped"), "{again:?}");
}

/// A client that asks for the registers, memory and a monitor command
/// gets well-formed answers: an ack and a packet per request.
#[test]
fn the_stub_answers_with_packets() {
    fn pkt(d: &str) -> Vec<u8> {
        let sum = d.bytes().fold(0u8, |a, c| a.wrapping_add(c));
        format!("${d}#{sum:02x}").into_bytes()
    }
    let mut input = Vec::new();
    for p in [
        "qSupported:xmlRegisters=i386",
        "?",
        "g",
        "m7c00,4",
        "qRcmd,72656773",
    ] {
        input.extend(pkt(p));
        input.push(b'+');
    }
    let out = run_gdb(&input);
    let list = packets(&out).expect("well-formed");
    assert!(list.len() >= 5, "{}", String::from_utf8_lossy(&out));
    assert!(
        list.contains(&&b"b83412e8"[..]),
        "the 4 bytes at 0x7c00: {}",
        String::from_utf8_lossy(&out)
    );
}
