//! Running backwards (`--time-travel`) under `gdb -batch`: reverse-stepi
//! lands on the registers seen going forward at the same count,
//! reverse-continue stops at the previous breakpoint hit, and a reverse
//! watchpoint finds the instruction that last wrote an address; and the
//! built-in debugger's `rsi`/`rc`.

use crate::guest;

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
fn gdb_reverse_continue_finds_the_previous_hit_the_last_write_then_the_start() {
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
p/x *(int*)$slot
stepi
p/x *(int*)$slot
delete
echo === END\\n
reverse-continue",
    );
    let _ = emu.kill();
    let _ = emu.wait();
    let (hit2, back) = (section(&out, "HIT2"), section(&out, "BACK"));
    assert_eq!(hit2.len(), 10, "{out}");
    assert_eq!(
        hit2, back,
        "reverse-continue lands on the previous hit:\n{out}"
    );
    assert_ne!(hit2, section(&out, "HIT3"), "{out}");
    // A reverse watchpoint on the stack slot stops before the write that
    // last changed it: one step makes the value.
    let (w, end) = (out.find("=== WRITER"), out.find("=== END"));
    let (w, end) = (w.zip(end)).unwrap_or_else(|| panic!("{out}"));
    let values = printed(&out[w..end]);
    assert_eq!(values.len(), 2, "{out}");
    assert_ne!(
        values[0], values[1],
        "the next instruction writes it:\n{out}"
    );
    assert!(
        out[end..].contains("No more reverse-execution history"),
        "with nothing armed, the start of the history is reported:\n{out}"
    );
}

/// The values GDB printed with `p/x`, in order.
fn printed(out: &str) -> Vec<u64> {
    out.lines()
        .filter_map(|l| l.strip_prefix('$')?.split("= 0x").nth(1))
        .filter_map(|v| u64::from_str_radix(v.trim(), 16).ok())
        .collect()
}

#[test]
fn a_gdb_reverse_watchpoint_finds_the_instruction_that_last_wrote() {
    let rom =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-roms/interactive/gdb-target.bin");
    let (mut emu, port) = start(&rom, "1");
    // gdb-target.asm stores EAX (0x12345678) to 0x2000 after its call,
    // at 0xf014f, having zeroed it at 0xf010f.
    let out = gdb(
        "reverse-watch.gdb",
        port,
        "break *0xf0180
continue
delete
watch *(int*)0x2000
continue
stepi 2
reverse-continue
echo === WRITER\\n
p/x $eip
p/x *(int*)0x2000
stepi
p/x *(int*)0x2000
echo === END\\n",
    );
    let _ = emu.kill();
    let _ = emu.wait();
    let at = out.find("=== WRITER").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        printed(&out[at..]),
        [0xf014f, 0, 0x1234_5678],
        "stopped before the store, which one step makes:\n{out}"
    );
}

#[test]
fn the_built_in_debugger_steps_and_continues_backwards() {
    let rom =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-roms/interactive/gdb-target.bin");
    let cmds = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reverse-batch.cmds");
    std::fs::write(
        &cmds,
        "si 20\nr\nsi 5\nrsi 5\nr\nlb 0xf0180\nc\nc\nrc\nr\nbd 1\nlb 0xf014f\nc\nrni\nr\nw 0x2000 4\nrc\nrc\nq\n",
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
    assert_eq!(regs.len(), 4, "{text}");
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
    // Right after the call returned (0xf014f, instruction 330), one
    // instruction back over the call is the call (0xf014a, 327), not the
    // called function's RET (329).
    let after_rni = text
        .split("(anyx86) rni")
        .nth(1)
        .and_then(|t| t.lines().find(|l| l.starts_with("cs:ip=")))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        after_rni.contains("linear=000f014a icount=327"),
        "{after_rni}\n{text}"
    );
}

/// Reads a child's output into a shared buffer, for waiting on text.
fn collect(out: impl std::io::Read + Send + 'static) -> std::sync::Arc<std::sync::Mutex<String>> {
    let buf = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let b = std::sync::Arc::clone(&buf);
    std::thread::spawn(move || {
        let mut out = out;
        let mut chunk = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut out, &mut chunk) {
            if n == 0 {
                break;
            }
            b.lock()
                .expect("output buffer")
                .push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    });
    buf
}

fn wait_text(buf: &std::sync::Mutex<String>, text: &str, secs: u64) -> String {
    let start = std::time::Instant::now();
    loop {
        let s = buf.lock().expect("output buffer").clone();
        if s.contains(text) {
            return s;
        }
        assert!(
            start.elapsed().as_secs() < secs,
            "timed out waiting for {text:?}:\n{s}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn a_reverse_watchpoint_finds_the_last_write_of_a_linux_kernel_variable() {
    use std::io::Write;
    let (kernel, initrd) = guest::guest("i386");
    let rr = Path::new(env!("CARGO_TARGET_TMPDIR")).join("linux-reverse.rr");
    let machine = |c: &mut Command| {
        c.arg("run")
            .arg("--kernel")
            .arg(&kernel)
            .arg("--initrd")
            .arg(&initrd)
            .args(["--append", "console=ttyS0,115200 panic=-1 work=0 shell=1"])
            .args([
                "-m",
                "256",
                "--clock",
                "virtual",
                "--rtc-base",
                "1700000000",
            ]);
    };
    // A session at the guest's shell asks the kernel where do_timer is
    // (the stock kernel ships no symbols but its functions'), recorded.
    let mut c = Command::new(env!("CARGO_BIN_EXE_anyx86"));
    machine(&mut c);
    let mut rec = c
        .arg("--record")
        .arg(&rr)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("anyx86 runs");
    let out = collect(rec.stdout.take().expect("stdout"));
    let mut input = rec.stdin.take().expect("stdin");
    wait_text(&out, "/ # ", 600);
    input
        .write_all(b"grep -w do_timer /proc/kallsyms; echo K-DONE\n")
        .expect("typing");
    let text = wait_text(&out, "\nK-DONE", 120);
    let do_timer = text
        .lines()
        .find(|l| l.trim_end().ends_with(" do_timer"))
        .and_then(|l| u64::from_str_radix(l.split_whitespace().next()?, 16).ok())
        .unwrap_or_else(|| panic!("no do_timer in:\n{text}"));
    assert!(do_timer >= 0xC000_0000, "a kernel address: {do_timer:#x}");
    // Ended by a signal, not the guest: the replay's end leaves the
    // machine running for GDB (a powered-off guest has exited).
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = Command::new("kill")
        .args(["-INT", &rec.id().to_string()])
        .status();
    assert_eq!(rec.wait().expect("anyx86 ends").code(), Some(130));

    // The replay under GDB, with time travel: to the end, then back to
    // the last write of jiffies_64, the variable do_timer adds the ticks
    // to (its first data operand).
    let mut c = Command::new(env!("CARGO_BIN_EXE_anyx86"));
    machine(&mut c);
    let mut emu = c
        .arg("--replay")
        .arg(&rr)
        .args(["--serial", "null", "--debugcon", "null"])
        .args(["--time-travel", "--gdb", "127.0.0.1:0", "--gdb-wait"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("anyx86 runs");
    let mut lines = BufReader::new(emu.stderr.take().expect("stderr")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let port: u16 = first
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in {first:?}"));
    std::thread::spawn(move || for _ in lines {});
    let out = gdb(
        "linux-reverse-watch.gdb",
        port,
        &format!(
            "continue
python
import re
code = gdb.execute('x/12i {do_timer:#x}', to_string=True)
addr = None
for line in code.splitlines():
    ops = line.split(':', 1)[-1]
    if re.search(r'\\b(call|jmp|ret|nop)', ops):
        continue
    m = re.search(r'0x(c[0-9a-f]{{7}})\\b', ops)
    if m:
        addr = int(m.group(1), 16)
        break
print('=== VAR 0x%x' % addr)
gdb.execute('watch *(unsigned int*)0x%x' % addr)
end
reverse-continue
echo === WRITER\\n
p/x $eip
python print('$v = 0x%x' % int(gdb.parse_and_eval('*(unsigned int*)0x%x' % addr)))
stepi
python print('$v = 0x%x' % int(gdb.parse_and_eval('*(unsigned int*)0x%x' % addr)))
echo === END\\n"
        ),
    );
    let _ = emu.kill();
    let _ = emu.wait();
    let at = out.find("=== WRITER").unwrap_or_else(|| panic!("{out}"));
    let values = printed(&out[at..]);
    assert_eq!(values.len(), 3, "{out}");
    assert!(
        values[0] >= 0xC000_0000,
        "the writer is kernel code:\n{out}"
    );
    // One step later the write has happened: the tick counter went up
    // (by the ticks since the last update: one, or more after idle).
    assert!(
        values[2] > values[1],
        "one step later the counter has counted:\n{out}"
    );
}

#[test]
fn gdb_reverse_steps_cross_back_from_protected_into_real_mode() {
    let rom =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-roms/interactive/gdb-target.bin");
    let (mut emu, port) = start(&rom, "1");
    // 0xf0100 is the fixture's first 32-bit instruction.
    let out = gdb(
        "reverse-modes.gdb",
        port,
        "break *0xF0100
continue
delete
echo === PM\\n
info registers
monitor mode
reverse-stepi 3
echo === RM\\n
info registers
monitor mode
stepi 3
echo === PM-AGAIN\\n
info registers
monitor mode
echo === END\\n",
    );
    let _ = emu.kill();
    let _ = emu.wait();
    let pm = section(&out, "PM");
    assert_eq!(pm.len(), 10, "{out}");
    assert_eq!(pm, section(&out, "PM-AGAIN"), "{out}");
    // GDB prints monitor output on its standard error: in order there.
    let modes: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("mode ")?.split_whitespace().next())
        .collect();
    assert_eq!(
        modes,
        ["protected", "real", "protected"],
        "three steps back is real mode, three forward protected again:\n{out}"
    );
}
