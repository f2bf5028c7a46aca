//! The reference side: `qemu-system-x86_64 -accel tcg` stopped at reset
//! (`-S`) with its gdbstub on a loopback port, and the register layout of
//! its `g` packet read from its own target description.
//!
//! QEMU's default single-step flags (`SSTEP_ENABLE | SSTEP_NOIRQ |
//! SSTEP_NOTIMER`, see `maintenance packet qqemu.sstep`) hold off
//! interrupts and timers while stepping, so no `-icount` is needed: the
//! comparison ends at the first read of a timed device anyway. TCG steps a
//! REP string instruction one iteration per step.

use super::gdbclient::{GdbClient, GdbError};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One register of the `g` packet.
#[derive(Debug, Clone)]
pub struct RegInfo {
    /// GDB's name (`rax`, `eflags`, `xmm3`).
    pub name: String,
    /// Offset in the packet, in bytes.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
}

/// A running QEMU under our control; killed on drop.
pub struct Qemu {
    child: Child,
    /// The gdbstub connection.
    pub gdb: GdbClient,
    /// The registers of the `g` packet, in order.
    pub regs: Vec<RegInfo>,
}

/// How to start QEMU.
pub struct QemuSetup<'a> {
    /// The binary (`qemu-system-x86_64`).
    pub binary: &'a str,
    /// `-bios` image, or `None` with `kernel`.
    pub bios: Option<&'a Path>,
    /// `-kernel` image (multiboot).
    pub kernel: Option<&'a Path>,
    /// `-cpu` model.
    pub cpu: &'a str,
    /// `-machine` type.
    pub machine: &'a str,
    /// RAM in MiB.
    pub ram_mib: u64,
    /// Add `-device pc-testdev`.
    pub testdev: bool,
}

impl Qemu {
    /// Starts QEMU stopped at reset and connects to its stub.
    pub fn start(s: &QemuSetup<'_>) -> Result<Self, String> {
        let port = free_port()?;
        let mut cmd = Command::new(s.binary);
        cmd.args(["-accel", "tcg", "-machine", s.machine, "-cpu", s.cpu])
            .args(["-m", &s.ram_mib.to_string()])
            .args(["-nographic", "-display", "none", "-no-reboot", "-S"])
            .args(["-serial", "null", "-monitor", "none"])
            // Port 0xE9 is the debug console on ours, always (and with
            // pc-testdev, QEMU gives it to the test device without one).
            .args(["-debugcon", "null"])
            .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
            .args(if s.testdev {
                &["-device", "pc-testdev"][..]
            } else {
                &[]
            })
            .args(["-gdb", &format!("tcp:127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(b) = s.bios {
            cmd.arg("-bios").arg(b);
        }
        if let Some(k) = s.kernel {
            cmd.arg("-kernel").arg(k);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", s.binary))?;
        let gdb = match GdbClient::connect(&format!("127.0.0.1:{port}"), Duration::from_secs(10)) {
            Ok(g) => g,
            Err(e) => {
                let _ = child.kill();
                let out = child
                    .wait_with_output()
                    .map(|o| o.stderr)
                    .unwrap_or_default();
                return Err(format!(
                    "{}: {e}: {}",
                    s.binary,
                    String::from_utf8_lossy(&out)
                ));
            }
        };
        let mut q = Self {
            child,
            gdb,
            regs: Vec::new(),
        };
        q.regs = q.layout().map_err(|e| e.to_string())?;
        Ok(q)
    }

    /// Reads the target description (and its includes) and lays out the
    /// registers in the `g` packet's order.
    fn layout(&mut self) -> Result<Vec<RegInfo>, GdbError> {
        let top = self.gdb.features("target.xml")?;
        let mut xml = top.clone();
        for inc in attr_values(&top, "xi:include", "href") {
            xml += &self.gdb.features(&inc)?;
        }
        let xml = strip_comments(&xml);
        let mut regs = Vec::new();
        let mut offset = 0;
        for tag in xml.split("<reg ").skip(1) {
            let name = attr(tag, "name").unwrap_or_default();
            let bits: usize = attr(tag, "bitsize")
                .and_then(|b| b.parse().ok())
                .unwrap_or(0);
            let size = bits / 8;
            regs.push(RegInfo { name, offset, size });
            offset += size;
        }
        Ok(regs)
    }

    /// Exit status of QEMU if it has ended (the guest wrote to
    /// isa-debug-exit, or triple-faulted with `-no-reboot`).
    pub fn exited(&mut self) -> Option<i32> {
        self.child
            .try_wait()
            .ok()
            .flatten()
            .map(|s| s.code().unwrap_or(-1))
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// The XML without its `<!-- -->` comments (QEMU's description keeps
/// registers it does not send, such as `ss_base`, commented out).
fn strip_comments(xml: &str) -> String {
    let mut out = String::new();
    let mut rest = xml;
    while let Some(i) = rest.find("<!--") {
        out += &rest[..i];
        rest = rest[i..].find("-->").map_or("", |j| &rest[i + j + 3..]);
    }
    out + rest
}

/// The value of attribute `name` in the text of one tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(tag[start..start + len].to_string())
}

/// The values of attribute `name` of every `<tag ...>`.
fn attr_values(xml: &str, tag: &str, name: &str) -> Vec<String> {
    xml.split(&format!("<{tag} "))
        .skip(1)
        .filter_map(|t| attr(t, name))
        .collect()
}
