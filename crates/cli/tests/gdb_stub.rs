//! Debian's unmodified `gdb -batch` against the GDB stub, on the
//! `gdb-target` fixture ROM (test-roms/interactive/gdb-target.asm): a
//! real-mode `seg:off` breakpoint through `monitor`, a breakpoint,
//! `info registers`, `stepi`, memory reads and writes, a write watchpoint,
//! detach; and Ctrl-C and kill on a guest that never stops. With
//! `--cpu qemu64`, the amd64 description on the `gdb-long` fixture
//! (test-roms/interactive/gdb-long.asm): real mode at reset, then a
//! breakpoint at an upper-half 64-bit address, RAX/R15, `x/gx` through
//! both aliases, `stepi`, `P` writes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn rom(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../test-roms/interactive/{name}"))
}

/// Starts the emulator with the stub on a free loopback port; returns the
/// child and the port it printed.
fn start(rom_name: &str, extra: &[&str]) -> (Child, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_anyx86"))
        .args(["run", "--bios"])
        .arg(rom(rom_name))
        .args(["-m", "1", "--debugcon", "null", "--serial", "null"])
        .args(["--gdb", "127.0.0.1:0"])
        .args(extra)
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
    // Keep draining stderr so the emulator never blocks on it.
    std::thread::spawn(move || for _ in lines {});
    (child, port)
}

fn wait(child: &mut Child, secs: u64) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            return st.code().unwrap_or(-1);
        }
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            panic!("anyx86 did not finish in {secs} s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn gdb_script(name: &str, port: u16, body: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let text =
        format!("set pagination off\nset confirm off\ntarget remote 127.0.0.1:{port}\n{body}");
    std::fs::write(&p, text).expect("write script");
    p
}

fn gdb(script: &Path) -> Command {
    let mut c = Command::new("timeout");
    c.args(["60", "gdb", "-batch", "-nx", "-x"]).arg(script);
    c
}

#[test]
fn gdb_batch_breaks_steps_reads_writes_watches_and_detaches() {
    let (mut emu, port) = start("gdb-target.bin", &["--gdb-wait"]);
    let script = gdb_script(
        "gdb-scenario.gdb",
        port,
        "monitor break f000:0040
continue
monitor mode
info registers eip cs
break *0xF0140
continue
info registers
stepi
info registers eax eip
x/4xb 0xF0140
set {char}0x2100 = 5
x/1xb 0x2100
hbreak *0xF0180
continue
delete
watch *(int*)0x2000
continue
rwatch *(char*)0x2100
continue
delete
p/x $cr0
p $st0
set $st0 = 1.5
p $st0
p/x $fctrl
p/x $mxcsr
set $xmm7.v4_int32 = {5, 6, 7, -8}
p/x $xmm7.uint128
p $xmm0.v2_int64
monitor page 0x2000
monitor info gdt
detach
",
    );
    let out = gdb(&script).output().expect("gdb runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // The exit device got the byte GDB wrote: status (5 << 1) | 1.
    assert_eq!(wait(&mut emu, 30), 11, "{text}");
    let expect = [
        // Stopped before the first instruction, at the reset vector.
        "0x0000fff0 in ?? ()",
        // The monitor breakpoint at F000:0040 in real mode.
        "breakpoint 1 at f000:0040",
        "Program received signal SIGTRAP",
        "mode real (16-bit code, CPL 0, A20 on) CS:IP f000:00000040 linear 000f0040",
        "eip            0x40",
        "cs             0xf000",
        // A GDB breakpoint in 32-bit protected mode.
        "Breakpoint 1, 0x000f0140 in ?? ()",
        "cs             0x8",
        "cr0            0x60000011",
        // stepi executed exactly `mov eax, 0x12345678`.
        "0x000f0145 in ?? ()",
        "eax            0x12345678",
        "eip            0xf0145",
        "0xf0140:\t0xb8\t0x78\t0x56\t0x34",
        "0x2100:\t0x05",
        "Hardware assisted breakpoint 2 at 0xf0180",
        "Breakpoint 2, 0x000f0180 in ?? ()",
        "Hardware watchpoint 3: *(int*)0x2000",
        "Old value = 0",
        "New value = 305419896",
        // The watchpoint stops right after the storing instruction.
        "0x000f0154 in ?? ()",
        // The read watchpoint stops after `mov al, [0x2100]`.
        "Hardware read watchpoint 4: *(char*)0x2100",
        "Value = 5 '\\005'",
        "0x000f015c in ?? ()",
        "$1 = 0x60000011",
        "$2 = 0",
        // x87 registers come from the FPU state (CW 0040h at reset).
        "$3 = 1.5",
        "$4 = 0x40",
        // The CPU reports SSE: the i386 description has XMM0-XMM7, MXCSR.
        "$5 = 0x1f80",
        "$6 = 0xfffffff8000000070000000600000005",
        "$7 = {0, 0}",
        "paging is off: linear = physical",
        "0008: 00cf9a000000ffff code base 00000000 limit ffffffff DPL 0 32-bit",
        "[Inferior 1 (process 1) detached]",
    ];
    for e in expect {
        assert!(text.contains(e), "missing {e:?} in:\n{text}");
    }
}

#[test]
fn gdb_batch_on_a_long_mode_cpu_sees_amd64_registers_in_every_mode() {
    let (mut emu, port) = start("gdb-long.bin", &["--gdb-wait", "--cpu", "qemu64"]);
    let script = gdb_script(
        "gdb-long.gdb",
        port,
        "show architecture
info registers
x/4xb 0xffff0
break *0xffff8000000f01c0
break *0xf0100
continue
info registers rip cs cr0 efer
delete 2
continue
info registers rip rax rbx r15
x/gx 0x5000
x/gx 0xffff800000005000
stepi
info registers rip rcx
x/2i $pc
info registers
set $r14 = 0x8000000000000001
p/x $r14
set $k_gs_base = 0xffff800000001000
p/x $k_gs_base
p $xmm0
p/x $xmm9.v2_int64
p/x $xmm15.uint128
p/x $mxcsr
p $mxcsr
set $xmm1.v4_int32 = {1, 2, 3, 4}
p $xmm1.v4_int32
monitor mode
set {char}0x5100 = 3
detach
",
    );
    let out = gdb(&script).output().expect("gdb runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // The exit device got the byte GDB wrote plus the first and last
    // dwords of the XMM1 GDB wrote: status ((3 + 1 + 4) << 1) | 1.
    assert_eq!(wait(&mut emu, 30), 17, "{text}");
    let expect = [
        "The target architecture is set to \"auto\" (currently \"i386:x86-64\").",
        // At reset, real mode, in the amd64 layout.
        "0x000000000000fff0 in ?? ()",
        "rip            0xfff0              0xfff0",
        "cs             0xf000              61440",
        "cs_base        0xffff0000          4294901760",
        "cr0            0x60000010          1610612752",
        "efer           0x0                 0",
        // The reset vector's far JMP, read through the real-mode linear map.
        "0xffff0:\t0xea\t0x00\t0x00\t0x00",
        // 32-bit protected mode, flat: RIP is EIP.
        "Breakpoint 2, 0x00000000000f0100 in ?? ()",
        "rip            0xf0100             0xf0100",
        "cs             0x8                 8",
        "cr0            0x60000011          1610612753",
        // A breakpoint at an upper-half address, set while in real mode.
        "Breakpoint 1, 0xffff8000000f01c0 in ?? ()",
        "rip            0xffff8000000f01c0  0xffff8000000f01c0",
        "rax            0x1122334455667788  1234605616436508552",
        "rbx            0x5000              20480",
        "r15            0xfedcba9876543210  -81985529216486896",
        "0x5000:\t0x1122334455667788",
        "0xffff800000005000:\t0x1122334455667788",
        // stepi executed exactly `mov rcx, imm64`; GDB disassembles 64-bit.
        "0xffff8000000f01ca in ?? ()",
        "rcx            0x123456789abcdef   81985529216486895",
        "=> 0xffff8000000f01ca:\tmov    0x5100,%al",
        // `info registers` in 64-bit mode.
        "cs             0x18                24",
        "cr0            0xe0000011          3758096401",
        "cr3            0x1000              4096",
        "cr4            0x220               544",
        "efer           0x500               1280",
        "$1 = 0x8000000000000001",
        "$2 = 0xffff800000001000",
        // The SSE registers the fixture loaded, GDB's vec128 views.
        "v4_float = {1.5, -2, 3.25, 100}",
        "$4 = {0x1122334455667788, 0x99aabbccddeeff00}",
        "$5 = 0x0",
        "$6 = 0x9fa0",
        "$7 = [ PE IM DM ZM OM UM PM FZ ]",
        "$8 = {1, 2, 3, 4}",
        "mode long (64-bit code, CPL 0, A20 on) CS:IP 0018:ffff8000000f01ca linear ffff8000000f01ca",
        "[Inferior 1 (process 1) detached]",
    ];
    for e in expect {
        assert!(text.contains(e), "missing {e:?} in:\n{text}");
    }
}

#[test]
fn ctrl_c_interrupts_a_running_guest_and_kill_ends_it() {
    let (mut emu, port) = start("serial-echo.bin", &[]);
    let script = gdb_script(
        "gdb-interrupt.gdb",
        port,
        "continue\ninfo registers cs\nkill\n",
    );
    let mut g = Command::new("gdb")
        .args(["-batch", "-nx", "-x"])
        .arg(&script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gdb runs");
    std::thread::sleep(Duration::from_millis(1500));
    let pid = g.id().to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let start = Instant::now();
    while g.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = g.kill();
            let _ = emu.kill();
            panic!("gdb did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = g.wait_with_output().expect("gdb output");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(wait(&mut emu, 30), 0, "{text}");
    assert!(
        text.contains("Program received signal SIGINT, Interrupt."),
        "{text}"
    );
    assert!(text.contains("cs             0xf000"), "{text}");
}

#[test]
fn a_non_loopback_address_is_refused_without_allow_remote() {
    let out = Command::new(env!("CARGO_BIN_EXE_anyx86"))
        .args(["run", "--bios"])
        .arg(rom("gdb-target.bin"))
        .args(["-m", "1", "--gdb", "0.0.0.0:0", "--gdb-wait"])
        .output()
        .expect("anyx86 runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to listen on non-loopback"), "{err}");
}
