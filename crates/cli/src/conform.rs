//! `anyx86 conform PATH…`: conformance suites as a user feature.
//!
//! Each path is recognised by what it holds:
//! - SingleStepTests vector files (`.MOO`, `.MOO.gz`, `.json`, `.json.gz`),
//!   or a directory of them: run on a flat bus by
//!   `anyx86_cpu::singlestep`, one result line per file. The exclusions for
//!   the file's CPU ID apply by default (`--no-default-exclusions` drops
//!   them), then an `exclusions.txt` beside the files, then each
//!   `--exclusions FILE`; `revocation_list.txt` beside the files withdraws
//!   tests.
//! - A test-ROM directory (`test-roms/` style): a directory with an
//!   `expected/` subdirectory. Each `NAME.bin` with `expected/NAME.txt`
//!   and `expected/NAME.status` runs as `anyx86 run --bios NAME.bin` with
//!   the `; anyx86-flags:` of its source; its debug-console output must
//!   match the transcript byte for byte and its exit status the status.
//!   Multiboot kernels in the directory run as below.
//! - Multiboot kernels (a file with a Multiboot v1 header, or a directory
//!   of them) reporting through QEMU's isa-debug-exit (port 0xF4): run as
//!   `anyx86 run --kernel --device pc-testdev` (as kvm-unit-tests start
//!   QEMU); they pass with exit status 1 (the guest wrote 0:
//!   kvm-unit-tests' success), or the status in `expected/NAME.status`
//!   when there is one, and with the transcript in `expected/NAME.txt`
//!   when there is one (debug console and COM1, both captured).
//!
//! The ROMs and kernels run in a child `anyx86` process (this binary), so
//! a guest that hangs is killed at `--timeout` and one that crashes the
//! emulator fails alone.
//!
//! Output: one line per file, ROM or kernel, then
//! `N passed, M failed, K excluded` (a ROM or kernel counts as one test);
//! `--json FILE` and `--junit FILE` write the same results for CI systems.
//! Exit status 0 when nothing failed, 1 when something did, 2 when a path
//! could not be read or recognised.

use anyx86_cpu::singlestep::{self, Exclusions, MooFile, Runner};
use clap::Args;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Flags of `anyx86 conform`.
#[derive(Debug, Args)]
pub struct ConformArgs {
    /// Vector files or directories, test-ROM directories, multiboot kernels.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// More exclusions (the format of the committed 80286 list:
    /// `FILE [INDEX | FIRST-LAST | RULE] [flags=HEX]  # reason`).
    #[arg(long, value_name = "FILE")]
    pub exclusions: Vec<PathBuf>,
    /// Do not apply the committed exclusions for the vectors' CPU.
    #[arg(long)]
    pub no_default_exclusions: bool,
    /// Compare the flags the SDM leaves undefined too.
    #[arg(long)]
    pub strict: bool,
    /// Failing vectors listed per file.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub show: usize,
    /// Seconds a ROM or kernel may run before it is killed (and fails).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
    /// Write the results as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the results as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// The result of one vector file, ROM or kernel.
#[derive(Debug, Default)]
struct Case {
    /// The input path it came from.
    suite: String,
    /// File stem, ROM or kernel name.
    name: String,
    /// `vectors`, `rom` or `kernel`.
    kind: &'static str,
    /// Mnemonic of a vector file; empty otherwise.
    what: String,
    passed: u64,
    failed: u64,
    excluded: u64,
    /// What went wrong, one entry per problem.
    failures: Vec<String>,
    secs: f64,
}

/// What a path holds.
enum Item {
    Vectors(PathBuf),
    Rom(PathBuf),
    Kernel(PathBuf),
}

/// Runs `anyx86 conform`; returns the exit status.
pub fn conform(a: &ConformArgs) -> Result<u8, String> {
    let mut extra = String::new();
    for f in &a.exclusions {
        let text =
            std::fs::read_to_string(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        // Check each file on its own so that errors name it.
        Exclusions::parse(&text).map_err(|e| format!("{}: {e}", f.display()))?;
        extra += &text;
        extra.push('\n');
    }
    let mut plans = Vec::new();
    for p in &a.paths {
        plans.push((p.display().to_string(), classify(p)?));
    }
    let mut cases = Vec::new();
    for (suite, items) in plans {
        let mut vectors = VectorRun::new(a, &extra);
        for item in items {
            let case = match item {
                Item::Vectors(f) => vectors.run(&f)?,
                Item::Rom(f) => run_guest(&f, false, a.timeout),
                Item::Kernel(f) => run_guest(&f, true, a.timeout),
            };
            print_case(&case);
            cases.push(Case {
                suite: suite.clone(),
                ..case
            });
        }
        vectors.print_hits();
    }
    let (p, f, x) = totals(&cases);
    println!("{p} passed, {f} failed, {x} excluded");
    if let Some(path) = &a.json {
        write_out(path, &to_json(&cases))?;
    }
    if let Some(path) = &a.junit {
        write_out(path, &to_junit(&cases))?;
    }
    Ok(u8::from(f > 0))
}

fn write_out(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn totals(cases: &[Case]) -> (u64, u64, u64) {
    cases.iter().fold((0, 0, 0), |(p, f, x), c| {
        (p + c.passed, f + c.failed, x + c.excluded)
    })
}

/// One line per case, with its first failures indented below.
fn print_case(c: &Case) {
    let verdict = if c.failed > 0 { "FAIL" } else { "ok" };
    match c.kind {
        "vectors" => {
            let ran = c.passed + c.failed;
            let note = if c.excluded > 0 {
                format!(" ({} excluded)", c.excluded)
            } else {
                String::new()
            };
            println!(
                "{:<10} {:<8} {:>6}/{ran:<6} {verdict}{note}",
                c.name, c.what, c.passed
            );
        }
        kind => println!("{:<24} {kind:<6} {verdict} ({:.1} s)", c.name, c.secs),
    }
    for f in &c.failures {
        for line in f.lines() {
            println!("    {line}");
        }
    }
}

// ---------------------------------------------------------------------
// Recognising paths.

/// The lower-case file name of `p`.
fn lower_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

fn is_vector_file(p: &Path) -> bool {
    let n = lower_name(p);
    [".moo", ".moo.gz", ".json", ".json.gz"]
        .iter()
        .any(|e| n.ends_with(e))
}

/// Multiboot v1 header: magic 0x1BADB002, flags, checksum (the three
/// sum to zero), 4-byte aligned in the first 8 KiB (Multiboot spec 3.1.1).
fn is_multiboot(p: &Path) -> bool {
    let mut head = Vec::new();
    let ok = std::fs::File::open(p)
        .and_then(|f| f.take(8192).read_to_end(&mut head))
        .is_ok();
    let word = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    ok && (0..head.len().saturating_sub(11)).step_by(4).any(|i| {
        word(i) == 0x1BAD_B002 && word(i).wrapping_add(word(i + 4)).wrapping_add(word(i + 8)) == 0
    })
}

/// The entries of a directory, sorted by name.
fn entries(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    Ok(v)
}

/// What `p` holds, as a list of things to run.
fn classify(p: &Path) -> Result<Vec<Item>, String> {
    if p.is_file() {
        return if is_vector_file(p) {
            Ok(vec![Item::Vectors(p.to_path_buf())])
        } else if is_multiboot(p) {
            Ok(vec![Item::Kernel(p.to_path_buf())])
        } else if lower_name(p).ends_with(".bin") && expectation(p, "status").is_file() {
            Ok(vec![Item::Rom(p.to_path_buf())])
        } else {
            Err(format!(
                "{}: not a test vector file, a multiboot kernel or a test ROM with expected/",
                p.display()
            ))
        };
    }
    if !p.is_dir() {
        return Err(format!("{}: no such file or directory", p.display()));
    }
    let files: Vec<PathBuf> = entries(p)?.into_iter().filter(|f| f.is_file()).collect();
    let mut items = Vec::new();
    for f in files {
        if is_vector_file(&f) {
            items.push(Item::Vectors(f));
        } else if is_multiboot(&f) {
            items.push(Item::Kernel(f));
        } else if lower_name(&f).ends_with(".bin") && expectation(&f, "status").is_file() {
            items.push(Item::Rom(f));
        }
    }
    if items.is_empty() {
        return Err(format!(
            "{}: no test vectors, test ROMs (NAME.bin with expected/NAME.status) or multiboot kernels",
            p.display()
        ));
    }
    Ok(items)
}

/// `expected/STEM.EXT` beside `p`.
fn expectation(p: &Path, ext: &str) -> PathBuf {
    let dir = p.parent().unwrap_or(Path::new("."));
    dir.join("expected").join(format!("{}.{ext}", stem(p)))
}

/// The file name without its extensions (`F6.4.MOO.gz` -> `F6.4`).
fn stem(p: &Path) -> String {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    for ext in [".moo.gz", ".json.gz", ".moo", ".json", ".bin", ".elf"] {
        if lower.ends_with(ext) {
            return name[..name.len() - ext.len()].to_string();
        }
    }
    name
}

// ---------------------------------------------------------------------
// Vector files.

/// The vector runners of one input path, one per CPU ID (each has its own
/// exclusions and address width).
struct VectorRun<'a> {
    args: &'a ConformArgs,
    extra: &'a str,
    runners: HashMap<String, Runner>,
}

impl<'a> VectorRun<'a> {
    fn new(args: &'a ConformArgs, extra: &'a str) -> Self {
        Self {
            args,
            extra,
            runners: HashMap::new(),
        }
    }

    fn run(&mut self, path: &Path) -> Result<Case, String> {
        let start = Instant::now();
        let name = stem(path);
        let mut case = Case {
            name: name.clone(),
            kind: "vectors",
            ..Case::default()
        };
        let file = match read_vectors(path) {
            Ok(f) => f,
            Err(e) => {
                case.failed = 1;
                case.failures.push(format!("cannot read: {e}"));
                return Ok(case);
            }
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let runner = self.runner(&file.cpu, dir)?;
        let r = runner.run_file(&name, &file);
        case.what = file.mnemonic;
        case.passed = r.passed;
        case.failed = r.failed;
        case.excluded = r.excluded;
        case.failures = r.failures;
        case.secs = start.elapsed().as_secs_f64();
        Ok(case)
    }

    /// The runner for CPU ID `cpu`, made on first use with its
    /// exclusions and the revocations of `dir`.
    fn runner(&mut self, cpu: &str, dir: &Path) -> Result<&mut Runner, String> {
        if !self.runners.contains_key(cpu) {
            let mut ex = Exclusions::default();
            if !self.args.no_default_exclusions {
                ex.add(singlestep::default_exclusions(cpu))
                    .map_err(|e| format!("built-in exclusions: {e}"))?;
            }
            let local = dir.join("exclusions.txt");
            if let Ok(text) = std::fs::read_to_string(&local) {
                ex.add(&text)
                    .map_err(|e| format!("{}: {e}", local.display()))?;
            }
            ex.add(self.extra)?;
            let mut r = Runner::new(Runner::bus_for(cpu), ex);
            r.revoked = singlestep::parse_revocations(
                &std::fs::read_to_string(dir.join("revocation_list.txt")).unwrap_or_default(),
            );
            r.show = self.args.show;
            r.strict = self.args.strict;
            self.runners.insert(cpu.to_string(), r);
        }
        self.runners
            .get_mut(cpu)
            .ok_or_else(|| "internal: runner".to_string())
    }

    /// How often each exclusion applied, when any did.
    fn print_hits(&self) {
        let mut cpus: Vec<&String> = self.runners.keys().collect();
        cpus.sort();
        for cpu in cpus {
            for (text, hits) in self.runners[cpu].exclusions.hits() {
                if hits > 0 {
                    println!("  exclusion applied to {hits:>6} ({cpu}): {text}");
                }
            }
        }
    }
}

/// Reads and parses a vector file, gunzipping `.gz`.
fn read_vectors(path: &Path) -> Result<MooFile, String> {
    let raw = std::fs::read(path).map_err(|e| e.to_string())?;
    let data = if lower_name(path).ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| format!("gzip: {e}"))?;
        out
    } else {
        raw
    };
    singlestep::parse_any(&data)
}

// ---------------------------------------------------------------------
// ROMs and kernels.

/// The words after `anyx86-flags:` in the first source file beside `p`
/// with the same stem (`NAME.asm`, `NAME.S`, `NAME.c`...), or in
/// `NAME.flags`.
fn guest_flags(p: &Path) -> Vec<String> {
    let dir = p.parent().unwrap_or(Path::new("."));
    let name = stem(p);
    for ext in ["asm", "S", "s", "c", "flags"] {
        let Ok(src) = std::fs::read_to_string(dir.join(format!("{name}.{ext}"))) else {
            continue;
        };
        if ext == "flags" {
            return src.split_whitespace().map(str::to_owned).collect();
        }
        if let Some(rest) = src
            .lines()
            .find_map(|l| l.split_once("anyx86-flags:").map(|(_, r)| r))
        {
            return rest.split_whitespace().map(str::to_owned).collect();
        }
    }
    Vec::new()
}

/// What a child run produced.
struct Output {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    code: Option<i32>,
    timed_out: bool,
}

/// Runs this binary as `anyx86 run ARGS`, killing it after `timeout`.
fn run_child(args: &[String], timeout: Duration) -> Result<Output, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find anyx86 itself: {e}"))?;
    let mut child = Command::new(exe)
        .arg("run")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start anyx86: {e}"))?;
    let out = child.stdout.take().map(reader);
    let err = child.stderr.take().map(reader);
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if start.elapsed() > timeout => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("waiting for anyx86: {e}")),
        }
    };
    let collect = |r: Option<std::sync::mpsc::Receiver<Vec<u8>>>| {
        r.and_then(|r| r.recv().ok()).unwrap_or_default()
    };
    Ok(Output {
        stdout: collect(out),
        stderr: collect(err),
        code: status.and_then(|s| s.code()),
        timed_out,
    })
}

/// Reads a pipe to its end on a thread (so that neither pipe fills).
fn reader(mut r: impl Read + Send + 'static) -> std::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// The exit status of a kernel that passed: isa-debug-exit turns the
/// value 0 into status (0 << 1) | 1.
const KERNEL_PASS_STATUS: i32 = 1;

/// Runs a test ROM (`kernel` false) or a multiboot kernel and checks it
/// against its expectations.
fn run_guest(p: &Path, kernel: bool, timeout: u64) -> Case {
    let start = Instant::now();
    let mut case = Case {
        name: stem(p),
        kind: if kernel { "kernel" } else { "rom" },
        ..Case::default()
    };
    let problems = check_guest(p, kernel, timeout);
    case.secs = start.elapsed().as_secs_f64();
    if problems.is_empty() {
        case.passed = 1;
    } else {
        case.failed = 1;
        case.failures = problems;
    }
    case
}

/// Runs the guest; returns what did not match.
fn check_guest(p: &Path, kernel: bool, timeout: u64) -> Vec<String> {
    let path = p.display().to_string();
    let mut args: Vec<String> = if kernel {
        // As kvm-unit-tests' runner starts QEMU: the test device on board.
        vec![
            "--kernel".into(),
            path,
            "--serial".into(),
            "stdio".into(),
            "--device".into(),
            "pc-testdev".into(),
        ]
    } else {
        vec!["--bios".into(), path, "-m".into(), "32".into()]
    };
    args.extend(["--debugcon", "stdio", "--no-reboot"].map(String::from));
    if !kernel {
        args.extend(["--serial", "null"].map(String::from));
    }
    args.extend(guest_flags(p));
    let want_txt = std::fs::read(expectation(p, "txt")).ok();
    let want_status = match std::fs::read_to_string(expectation(p, "status")) {
        Ok(s) => match s.trim().parse::<i32>() {
            Ok(v) => v,
            Err(_) => return vec![format!("bad {}", expectation(p, "status").display())],
        },
        Err(_) if kernel => KERNEL_PASS_STATUS,
        Err(e) => return vec![format!("no expected status: {e}")],
    };
    let out = match run_child(&args, Duration::from_secs(timeout)) {
        Ok(o) => o,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    if out.timed_out {
        problems.push(format!("timed out after {timeout} s (killed)"));
    }
    if let Some(want) = want_txt {
        if out.stdout != want {
            problems.push(first_difference(
                &String::from_utf8_lossy(&want),
                &String::from_utf8_lossy(&out.stdout),
            ));
        }
    }
    if out.code != Some(want_status) {
        problems.push(format!(
            "exit status {}, expected {want_status}",
            out.code.map_or("none (killed)".into(), |c| c.to_string())
        ));
    }
    if !problems.is_empty() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(3).collect();
        for l in tail.into_iter().rev() {
            problems.push(format!("stderr: {l}"));
        }
    }
    problems
}

/// The first line where the transcripts differ, with the lines there.
fn first_difference(want: &str, got: &str) -> String {
    let w: Vec<&str> = want.lines().collect();
    let g: Vec<&str> = got.lines().collect();
    let n = w
        .iter()
        .zip(&g)
        .position(|(a, b)| a != b)
        .unwrap_or(w.len().min(g.len()));
    let line = |v: &[&str]| {
        v.get(n)
            .map_or("(end of output)".to_string(), |s| format!("{s:?}"))
    };
    format!(
        "output differs at line {}:\n  want {}\n  got  {}",
        n + 1,
        line(&w),
        line(&g)
    )
}

// ---------------------------------------------------------------------
// Reports.

/// `s` as a JSON string literal.
fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn to_json(cases: &[Case]) -> String {
    let (p, f, x) = totals(cases);
    let mut o = format!(
        "{{\n  \"passed\": {p},\n  \"failed\": {f},\n  \"excluded\": {x},\n  \"results\": ["
    );
    for (i, c) in cases.iter().enumerate() {
        let fails: Vec<String> = c.failures.iter().map(|s| json_str(s)).collect();
        o += &format!(
            "{}\n    {{\"suite\": {}, \"name\": {}, \"kind\": {}, \"mnemonic\": {}, \"passed\": {}, \"failed\": {}, \"excluded\": {}, \"seconds\": {:.3}, \"failures\": [{}]}}",
            if i > 0 { "," } else { "" },
            json_str(&c.suite),
            json_str(&c.name),
            json_str(c.kind),
            json_str(&c.what),
            c.passed,
            c.failed,
            c.excluded,
            c.secs,
            fails.join(", ")
        );
    }
    o + "\n  ]\n}\n"
}

/// `s` escaped for XML text and attributes.
fn xml(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".into(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '"' => "&quot;".into(),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => "?".into(),
            c => c.to_string(),
        })
        .collect()
}

/// JUnit XML: a test suite per input path, a test case per vector file,
/// ROM or kernel (a vector file fails when any of its vectors does; the
/// counts are in its output).
fn to_junit(cases: &[Case]) -> String {
    let failing = cases.iter().filter(|c| c.failed > 0).count();
    let mut o = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"anyx86 conform\" tests=\"{}\" failures=\"{failing}\">\n",
        cases.len()
    );
    let mut suites: Vec<&str> = cases.iter().map(|c| c.suite.as_str()).collect();
    suites.dedup();
    for s in suites {
        let mine: Vec<&Case> = cases.iter().filter(|c| c.suite == s).collect();
        let fails = mine.iter().filter(|c| c.failed > 0).count();
        let time: f64 = mine.iter().map(|c| c.secs).sum();
        o += &format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fails}\" time=\"{time:.3}\">\n",
            xml(s),
            mine.len()
        );
        for c in mine {
            o += &format!(
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">\n",
                xml(s),
                xml(&c.name),
                c.secs
            );
            if c.failed > 0 {
                o += &format!(
                    "      <failure message=\"{} failed\">{}</failure>\n",
                    c.failed,
                    xml(&c.failures.join("\n"))
                );
            }
            o += &format!(
                "      <system-out>{} passed, {} failed, {} excluded</system-out>\n    </testcase>\n",
                c.passed, c.failed, c.excluded
            );
        }
        o += "  </testsuite>\n";
    }
    o + "</testsuites>\n"
}
