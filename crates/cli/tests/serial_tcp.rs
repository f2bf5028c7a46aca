//! `--serial tcp:HOST:PORT`: anyx86 connects to a TCP server, sends COM1's
//! output there and feeds what it receives to the guest (the echo ROM).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn com1_talks_to_a_tcp_server() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let rom =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-roms/interactive/serial-echo.bin");
    let mut child = Command::new(env!("CARGO_BIN_EXE_anyx86"))
        .arg("run")
        .arg("--bios")
        .arg(&rom)
        .args(["-m", "1", "--debugcon", "null", "--serial"])
        .arg(format!("tcp:{addr}"))
        .spawn()
        .expect("run anyx86");
    let (mut conn, _) = listener.accept().expect("anyx86 connects");
    conn.set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let mut got = Vec::new();
    let read_until = |conn: &mut std::net::TcpStream, want: &[u8], got: &mut Vec<u8>| {
        let start = Instant::now();
        while !got.windows(want.len()).any(|w| w == want) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "waiting for {want:?}, got {got:?}"
            );
            let mut buf = [0u8; 256];
            if let Ok(n) = conn.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        }
    };
    read_until(&mut conn, b"ECHO READY\r\n", &mut got);
    conn.write_all(b"tcp ok").expect("send");
    read_until(&mut conn, b"TCP OK", &mut got);
    conn.write_all(b"Q").expect("send Q");
    let status = child.wait().expect("wait");
    assert_eq!(
        status.code(),
        Some(1),
        "Q makes the ROM write 0 to the exit port"
    );
}

#[test]
fn a_refused_connection_is_a_clean_error() {
    // Bind and drop: nothing listens on that port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let rom =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-roms/interactive/serial-echo.bin");
    let out = Command::new(env!("CARGO_BIN_EXE_anyx86"))
        .arg("run")
        .arg("--bios")
        .arg(&rom)
        .args(["--serial", &format!("tcp:127.0.0.1:{port}")])
        .output()
        .expect("run anyx86");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect to tcp:"));
}
