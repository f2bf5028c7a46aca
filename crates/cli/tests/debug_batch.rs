//! `anyx86 debug --batch`: the built-in debugger driven by a command file
//! through the same scenario as the GDB test, on the `gdb-target` fixture
//! ROM (test-roms/interactive/gdb-target.asm).

use std::path::Path;
use std::process::Command;

/// `anyx86 MODE --bios gdb-target.bin` on 1 MiB with the debug console
/// and COM1 discarded; the caller adds the rest.
fn gdb_target(mode: &str) -> Command {
    let rom =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-roms/interactive/gdb-target.bin");
    let mut c = Command::new(env!("CARGO_BIN_EXE_anyx86"));
    c.args([mode, "--bios"])
        .arg(rom)
        .args(["-m", "1", "--debugcon", "null", "--serial", "null"]);
    c
}

fn run_batch(name: &str, commands: &str, extra: &[&str]) -> (i32, String) {
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&file, commands).expect("write commands");
    let out = gdb_target("debug")
        .arg("--batch")
        .arg(&file)
        .args(extra)
        .output()
        .expect("anyx86 runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

fn assert_all(text: &str, expect: &[&str]) {
    for e in expect {
        assert!(text.contains(e), "missing {e:?} in:\n{text}");
    }
}

#[test]
fn batch_breaks_steps_reads_writes_watches_and_runs_to_the_end() {
    let (status, text) = run_batch(
        "batch-scenario.txt",
        "# a comment
b f000:0040
c
info regs
mode
lb 0xf0140
c
s
r
x /4 0xf0140
set mem 0x2100 5
xp /1 0x2100
w 0x2000 4
c
bl
bd 3
u
c
q
",
        &[],
    );
    assert_eq!(status, 11, "{text}");
    assert_all(
        &text,
        &[
            "(anyx86) b f000:0040",
            "breakpoint 1 at f000:0040",
            "stopped: breakpoint 1 (f000:0040)",
            "next:    00000040 (000f0040) c7060006341",
            "mode real (16-bit code, CPL 0, A20 on) CS:IP f000:00000040 linear 000f0040",
            "breakpoint 2 at linear 0xf0140",
            "stopped: breakpoint 2 (linear 0xf0140)",
            "eax=12345678",
            "eip=000f0145",
            "000f0140: b8 78 56 34",
            "wrote 1 bytes at linear 0x2100",
            "00002100: 05",
            "watchpoint 3 on 4 bytes at linear 0x2000 (Write)",
            "stopped: watchpoint at 0x2000 (4 bytes): write of 0x2000",
            "next:    000f0154 (000f0154) 83c302",
            "  3  watch  linear 0x2000 len 4 Write",
            "deleted 3",
            "=> 000f0154 (000f0154) 83c302",
            "the machine stopped: guest exit code 0x5",
        ],
    );
}

#[test]
fn batch_step_over_finish_until_and_mode_breakpoints() {
    let (status, text) = run_batch(
        "batch-stepping.txt",
        "modebp
c
bd 1
lb 0xf0145
c
n
s 2
finish
until 0xf015c
info cregs
info gdt
page 0x2000
c
",
        &[],
    );
    assert_eq!(status, 1, "{text}");
    assert_all(
        &text,
        &[
            "breakpoint 1 at mode change",
            "stopped: breakpoint 1: mode change real -> protected",
            // `mov cr0, eax` has retired: the far jump is next.
            "next:    00000055 (000f0055) 66ea00010f000800",
            "stopped: breakpoint 2 (linear 0xf0145)",
            // `n` at `mov ebx, 1` is a plain step; the call is next.
            "next:    000f014a (000f014a) e831000000",
            // `s 2` enters func (inc ebx) and runs it.
            "next:    000f0181 (000f0181) c3",
            // `finish` returns to the caller.
            "next:    000f014f (000f014f) a300200000",
            "next:    000f015c (000f015c) e6f4",
            "cr0=60000011",
            "0008: 00cf9a000000ffff code base 00000000 limit ffffffff DPL 0 32-bit",
            "linear 0x2000 -> physical 0x2000",
            "the machine stopped: guest exit code 0x0",
        ],
    );
}

#[test]
fn batch_trace_writes_one_line_per_retired_instruction() {
    let trace = Path::new(env!("CARGO_TARGET_TMPDIR")).join("batch-trace.txt");
    let (status, text) = run_batch(
        "batch-trace.txt.cmds",
        &format!(
            "trace on {} range=0xf0140-0xf0160\nc\ntrace off\n",
            trace.display()
        ),
        &[],
    );
    assert_eq!(status, 1, "{text}");
    let t = std::fs::read_to_string(&trace).expect("trace file");
    let lines: Vec<&str> = t.lines().collect();
    // pm_bp .. out: 7 instructions in the range (func is outside it).
    assert_eq!(lines.len(), 7, "{t}");
    assert!(
        lines[0].contains("0008:000f0140 000f0140 b878563412"),
        "{t}"
    );
    assert!(lines[0].contains("mov     eax,12345678h"), "{t}");
    assert!(lines[0].ends_with("eax=12345678"), "{t}");
    assert!(lines[6].contains("out     0F4h,al"), "{t}");
}

#[test]
fn run_trace_filters_by_mode_range_and_instruction_count() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let trace = |name: &str, filters: &[&str]| {
        let file = dir.join(name);
        let st = gdb_target("run")
            .arg("--trace")
            .arg(&file)
            .args(filters)
            .status()
            .expect("anyx86 runs");
        assert_eq!(st.code(), Some(1));
        std::fs::read_to_string(&file).expect("trace file")
    };
    let all = trace("trace-all.txt", &[]);
    let first = all.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("         0 f000:0000fff0 fffffff0 ea000000f0"),
        "{all}"
    );
    assert!(
        all.lines()
            .nth(2)
            .unwrap_or_default()
            .ends_with("eflags=00000046"),
        "{all}"
    );
    // Protected mode starts with the far jump after `mov cr0, eax`.
    let pm = trace("trace-pm.txt", &["--trace-mode", "protected"]);
    assert!(
        pm.lines()
            .next()
            .unwrap_or_default()
            .contains("data32 jmp far"),
        "{pm}"
    );
    assert!(pm.lines().all(|l| !l.contains("f000:0000004")), "{pm}");
    assert_eq!(
        pm.lines()
            .last()
            .unwrap_or_default()
            .split_whitespace()
            .nth(4),
        Some("out")
    );
    let later = trace(
        "trace-after.txt",
        &["--trace-after", "300", "--trace-range", "0xf0000-0xf0060"],
    );
    assert!(later.lines().all(|l| {
        let n: u64 = l
            .split_whitespace()
            .next()
            .unwrap_or("0")
            .parse()
            .unwrap_or(0);
        n >= 300
    }));
    assert!(later.lines().count() > 5, "{later}");
    assert!(later.lines().count() < 40, "{later}");
}

/// `savevm FILE` in the debugger saves the machine where it stands: a
/// second session started with `--loadvm FILE` shows the same registers,
/// and the guest then runs to its end as it would have.
#[test]
fn batch_savevm_saves_the_machine_where_it_stopped() {
    let snap = Path::new(env!("CARGO_TARGET_TMPDIR")).join("batch-savevm.snap");
    let _ = std::fs::remove_file(&snap);
    let (status, first) = run_batch(
        "batch-savevm-1.cmds",
        &format!("s 40\nr\nsavevm {}\nq\n", snap.display()),
        &[],
    );
    assert_eq!(status, 0, "{first}");
    assert!(first.contains("machine saved to"), "{first}");
    let regs = |text: &str| {
        text.lines()
            .filter(|l| l.contains("eax=") || l.contains("eip="))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let snap_arg = snap.to_string_lossy().into_owned();
    let (status, second) = run_batch("batch-savevm-2.cmds", "r\nc\n", &["--loadvm", &snap_arg]);
    assert_eq!(status, 1, "the guest's exit after the load:\n{second}");
    let (before, after) = (regs(&first), regs(&second));
    assert!(!before.is_empty(), "{first}");
    assert_eq!(before, after[..before.len()], "{first}\n---\n{second}");
}

/// `--trace-after N` starts at the N-th retired instruction even when
/// the run before it counted REP iterations as work toward a limit: the
/// string-ops ROM runs REP MOVS/STOS/CMPS early; `--trace-after` three
/// short of its total traces its last three instructions, the first
/// numbered N (no earlier, though the run loop stops between traces).
#[test]
fn run_trace_after_counts_retired_instructions() {
    let rom = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-roms/string-ops.bin");
    let run = |extra: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_anyx86"))
            .args(["run", "--bios"])
            .arg(&rom)
            .args([
                "-m",
                "1",
                "--debugcon",
                "null",
                "--serial",
                "null",
                "--stats",
            ])
            .args(extra)
            .output()
            .expect("anyx86 runs")
    };
    let stats = String::from_utf8_lossy(&run(&[]).stderr).into_owned();
    let total: u64 = stats
        .lines()
        .find_map(|l| l.strip_prefix("stats: instructions "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no instruction count in:\n{stats}"));
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join("trace-after-rep.txt");
    let after = (total - 3).to_string();
    let out = run(&[
        "--trace".as_ref(),
        file.as_os_str(),
        "--trace-after".as_ref(),
        after.as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let t = std::fs::read_to_string(&file).expect("trace file");
    assert_eq!(t.lines().count(), 3, "{t}");
    let first = t.lines().next().unwrap_or_default();
    assert_eq!(first.split_whitespace().next(), Some(after.as_str()), "{t}");
    assert!(t.lines().last().unwrap_or_default().contains("out "), "{t}");
}
