//! Hardware-captured 80286 real-mode vectors (SingleStepTests/80286, see
//! `shared/conformance/README.md`) run against our CPU on a flat bus, by
//! the engine `anyx86 conform` uses (`anyx86_cpu::singlestep`), with the
//! committed exclusions (`src/singlestep/exclusions-80286.txt`).

use anyx86_cpu::singlestep::{self, Exclusions, FlatBus, Runner};
use std::io::Read;
use std::path::{Path, PathBuf};

const DATA_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/80286-real"
);
/// Failures listed per opcode file (`SINGLESTEP_SHOW` overrides).
const SHOW_FAILURES: usize = 3;

fn read_gz(path: &Path) -> Vec<u8> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(f)
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    out
}

fn data_files(dir: &Path) -> Vec<PathBuf> {
    assert!(
        dir.is_dir(),
        "SingleStepTests 80286 vectors not found at {} (see shared/conformance/README.md)",
        dir.display()
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".MOO.gz"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .MOO.gz files in {}", dir.display());
    files
}

#[test]
fn exclusions_parse_and_give_reasons() {
    let ex = Exclusions::parse(singlestep::EXCLUSIONS_80286).expect("committed exclusions");
    assert!(!ex.is_empty());
    assert!(
        Exclusions::parse("F6 12\n").is_err(),
        "a line without a reason"
    );
}

#[test]
fn singlestep_80286_real_mode() {
    let start = std::time::Instant::now();
    let dir = Path::new(DATA_DIR);
    let files = data_files(dir);
    // Debugging aids: SINGLESTEP_SHOW=n failures listed per file,
    // SINGLESTEP_ONLY=F6.6,F7.6 runs only those files, SINGLESTEP_STRICT=1
    // compares undefined flags too (how closely we match the 286 there).
    let show = std::env::var("SINGLESTEP_SHOW")
        .ok()
        .and_then(|v| v.parse().ok());
    let only = std::env::var("SINGLESTEP_ONLY").ok();
    let only: Option<Vec<&str>> = only.as_deref().map(|o| o.split(',').collect());
    let ex = Exclusions::parse(singlestep::EXCLUSIONS_80286).expect("committed exclusions");
    let mut run = Runner::new(FlatBus::new(), ex);
    run.revoked = singlestep::parse_revocations(
        &std::fs::read_to_string(dir.join("revocation_list.txt")).unwrap_or_default(),
    );
    run.show = show.unwrap_or(SHOW_FAILURES);
    run.strict = std::env::var_os("SINGLESTEP_STRICT").is_some();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut failing = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let stem = name.trim_end_matches(".MOO.gz");
        if only.as_ref().is_some_and(|o| !o.contains(&stem)) {
            continue;
        }
        let file = singlestep::parse(&read_gz(path)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let n = run.run_file(stem, &file);
        let note = if n.excluded > 0 {
            format!(" ({} excluded)", n.excluded)
        } else {
            String::new()
        };
        let ran = n.passed + n.failed;
        println!("{stem:<5} {:<8} {}/{ran}{note}", file.mnemonic, n.passed);
        for f in &n.failures {
            println!("    {f}");
        }
        if n.failed > 0 {
            failing.push(format!("{stem}:{}", n.failed));
        }
        passed += n.passed;
        failed += n.failed;
        skipped += n.excluded;
    }
    for (text, hits) in run.exclusions.hits() {
        println!("exclusion applied to {hits:>5}: {text}");
    }
    println!("{skipped} excluded");
    println!("{passed} passed, {failed} failed");
    println!("time: {:.1?}", start.elapsed());
    assert_eq!(failed, 0, "failing opcode files: {}", failing.join(" "));
}
