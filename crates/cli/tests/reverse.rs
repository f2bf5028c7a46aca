//! Running backwards (`--time-travel`) under `gdb -batch`: reverse-stepi
//! lands on the registers seen going forward at the same count,
//! reverse-continue stops at the previous breakpoint hit, and a reverse
//! watchpoint finds the instruction that last wrote an address; and the
//! built-in debugger's `rsi`/`rc`.

#[allow(dead_code)]
mod guest;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn bench_rom() -> PathBuf {
    let rom = guest::workspace().join("target/bench-1/bench.rom");
    guest::build_shared("bench/build.sh", &["1"], "bench-1", &[&rom]);
    rom
}

/// `anyx86 run --bios ROM --gdb` with time travel, waiting for GDB.
fn start(rom: &Path, mib: &str) -> (Child, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_anyx86"))
        .args(["run", "--bios"])
        .arg(rom)
        .args(["-m", mib, "--debugcon", "null", "--serial", "null"])
        .args(["--clock", "virtual", "--rtc-base", "1700000000"])
        .args(["--time-travel", "--gdb", "127.0.0.1:0", "--gdb-wait"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("anyx86 runs");
    let stderr = child.stderr.take().expect("stderr piped");
    let mut lines = BufReader::new(stderr).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let port = first
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in {first:?}"));
    std::thread::spawn(move || for _ in lines {});
    (child, port)
}

/// Runs `body` in `gdb -batch` against the stub; its standard output.
fn gdb(name: &str, port: u16, body: &str) -> String {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let text = format!(
        "set pagination off\nset confirm off\ntarget remote 127.0.0.1:{port}\n{body}\nkill\n"
    );
    std::fs::write(&p, text).expect("write script");
    let out = Command::new("timeout")
        .args(["300", "gdb", "-batch", "-nx", "-x"])
        .arg(&p)
        .output()
        .expect("gdb runs (apt-get install gdb)");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// The register lines `info registers` printed after `echo === NAME`.
fn section(out: &str, name: &str) -> Vec<String> {
    let marker = format!("=== {name}");
    let start = out
        .find(&marker)
        .unwrap_or_else(|| panic!("no {marker} in:\n{out}"));
    out[start + marker.len()..]
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("==="))
        .filter(|l| {
            let w = l.split_whitespace().next().unwrap_or("");
            matches!(
                w,
                "eax" | "ecx" | "edx" | "ebx" | "esp" | "ebp" | "esi" | "edi" | "eip" | "eflags"
            )
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn gdb_reverse_stepi_lands_on_the_registers_seen_going_forward() {
    let rom = bench_rom();
    let (mut emu, port) = start(&rom, "32");
    let out = gdb(
        "reverse-stepi.gdb",
        port,
        "stepi 4999
echo === A4999\\n
info registers
stepi
echo === A5000\\n
info registers
stepi 5000
echo === A10000\\n
info registers
reverse-stepi 5000
echo === B5000\\n
info registers
reverse-stepi
echo === B4999\\n
info registers
echo === END\\n",
    );
    let _ = emu.kill();
    let (a5000, b5000) = (section(&out, "A5000"), section(&out, "B5000"));
    assert_eq!(a5000.len(), 10, "{out}");
    assert_eq!(a5000, b5000, "{out}");
    assert_eq!(section(&out, "A4999"), section(&out, "B4999"), "{out}");
    assert_ne!(a5000, section(&out, "A10000"), "the guest moved: {out}");
}

#[test]
fn gdb_reverse_continue_finds_the_previous_breakpoint_hit_and_the_last_write() {
    let rom = bench_rom();
    let (mut emu, port) = start(&rom, "32");
    let out = gdb(
        "reverse-continue.gdb",
        port,
        "stepi 20000
break *$pc
continue
echo === HIT2\\n
info registers
continue
echo === HIT3\\n
info registers
reverse-continue
echo === BACK\\n
info registers
delete
set $slot = $esp
watch *(int*)$slot
reverse-continue
echo === WRITER\\n
info registers
p/x *(int*)$slot
stepi
p/x *(int*)$slot
echo === END\\n
reverse-continue",
    );
    let _ = emu.kill();
    let (hit2, back) = (section(&out, "HIT2"), section(&out, "BACK"));
    assert_eq!(hit2.len(), 10, "{out}");
    assert_eq!(
        hit2, back,
        "reverse-continue lands on the previous hit:\n{out}"
    );
    assert_ne!(hit2, section(&out, "HIT3"), "{out}");
    // The watchpoint stops before the write: one step writes the slot.
    let values: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with('$') && l.contains("= 0x"))
        .collect();
    assert_eq!(values.len(), 2, "{out}");
    assert_ne!(
        values[0], values[1],
        "the next instruction writes it:\n{out}"
    );
    assert!(
        out.contains("No more reverse-execution history"),
        "the start of the history is reported:\n{out}"
    );
}

#[test]
fn the_built_in_debugger_steps_and_continues_backwards() {
    let rom =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-roms/interactive/gdb-target.bin");
    let cmds = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reverse-batch.cmds");
    std::fs::write(
        &cmds,
        "si 20\nr\nsi 5\nrsi 5\nr\nlb 0xf0180\nc\nc\nrc\nr\nw 0x2000 4\nrc\nrc\nq\n",
    )
    .expect("write commands");
    let out = Command::new(env!("CARGO_BIN_EXE_anyx86"))
        .args(["debug", "--bios"])
        .arg(&rom)
        .args(["-m", "1", "--debugcon", "null", "--serial", "null"])
        .args(["--clock", "virtual", "--time-travel", "--batch"])
        .arg(&cmds)
        .output()
        .expect("anyx86 runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let regs: Vec<&str> = text.lines().filter(|l| l.starts_with("eax=")).collect();
    assert_eq!(regs.len(), 3, "{text}");
    assert_eq!(regs[0], regs[1], "rsi 5 undoes si 5:\n{text}");
    for want in [
        "the machine stopped: guest exit code 0x0",
        "stopped: breakpoint 1 (linear 0xf0180)",
        // The fixture zeroes 0x2000 at 0xf010f, before the breakpoint.
        "stopped: watchpoint at 0x2000 (4 bytes): write of 0x2000",
        "next:    000f010f",
        "at the start of the history (instruction 0)",
    ] {
        assert!(text.contains(want), "missing {want:?}:\n{text}");
    }
    assert!(
        text.contains("icount=328"),
        "rc from the exit stops at the breakpoint's hit:\n{text}"
    );
}
