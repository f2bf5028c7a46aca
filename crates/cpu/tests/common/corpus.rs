//! The fuzz corpus (`fuzz/corpus/<target>/`, at the top of the workspace)
//! as the stable-toolchain replay tests read it. The `fuzz_corpus` tests of
//! the cpu, debugger, machine and boot crates include this one file with
//! `#[path]`, since one crate's tests cannot see another's.

use std::fmt::Debug;
use std::path::PathBuf;

/// The folder of `target`'s corpus.
fn dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

/// Every file of `target`'s corpus with its bytes, sorted by path; the
/// corpus must not be empty.
pub fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = dir(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} has no seeds", dir.display());
    files
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).expect("read seed");
            (p, b)
        })
        .collect()
}

/// The seed `name` of `target`'s corpus.
pub fn seed(target: &str, name: &str) -> Vec<u8> {
    let p = dir(target).join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Runs `run` twice on every file of `target`'s corpus: the two results
/// must be equal (a harness keeps nothing from one run into the next).
pub fn replays_alike<T: PartialEq + Debug>(target: &str, run: impl Fn(&[u8]) -> T) {
    for (path, data) in corpus(target) {
        let a = run(&data);
        assert_eq!(run(&data), a, "{}", path.display());
    }
}
