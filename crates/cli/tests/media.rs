//! Booting what users have through the built-in BIOS (SeaBIOS): the
//! shared CD and hard disk images (`../shared/guests/images.sh`) with the
//! i386 and amd64 kernels, our floppy test image (`test-roms/floppy`, with
//! expectations produced on QEMU), and the errors for bad images.
//!
//! Run in release mode: each Linux boot is about 8 billion instructions.

use crate::guest;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn anyx86(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_anyx86"))
        .arg("run")
        .args(args)
        .output()
        .expect("run anyx86")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace('\r', "")
}

/// A scratch directory of this test process.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("anyx86-media-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("test set-up");
    d
}

/// The value after `key ` on the console line that starts with it.
fn field<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    out.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(' ')))
}

/// Boots `args` (a medium) with the BIOS, as a user would, and checks
/// what the guest must print: the kernel's flavour, the workload's result,
/// the medium's data, and ACPI power-off with status 0. Returns the
/// console output.
fn boot_medium(arch: &str, media: &str, args: &[&str]) -> String {
    let dir = guest::media();
    let sha = guest::media_data_sha(&dir);
    let mut all = vec!["--serial", "stdio", "--debugcon", "null", "--no-reboot"];
    all.extend_from_slice(args);
    let out = anyx86(&all);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(stdout.contains("SeaBIOS (version 1.16.2"), "{stdout}");
    assert!(stdout.contains("GUEST-READY"), "{stdout}\n{stderr}");
    let uname = field(&stdout, "UNAME").unwrap_or_default();
    let flavour = if arch == "amd64" { "-amd64 " } else { "-686 " };
    assert!(uname.contains(flavour), "UNAME {uname}");
    assert!(stdout.contains(guest::WORK_RESULT), "{stdout}");
    assert_eq!(
        field(&stdout, "MEDIA-CHECK"),
        Some(format!("{media} {sha}").as_str()),
        "{stdout}"
    );
    assert!(stdout.contains("reboot: Power down"), "{stdout}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    stdout
}

#[test]
fn i386_cd_boots_through_the_bios() {
    let cd = guest::media().join("cd.iso");
    let out = boot_medium(
        "i386",
        "cd",
        &["--cdrom", cd.to_str().expect("test set-up")],
    );
    assert!(out.contains("Booting from DVD/CD"), "{out}");
}

#[test]
fn amd64_cd_boots_through_the_bios() {
    let cd = guest::media().join("cd-amd64.iso");
    boot_medium(
        "amd64",
        "cd",
        &["--cdrom", cd.to_str().expect("test set-up")],
    );
}

/// Two boots of one disk image count 1 then 2 (the guest writes
/// /count.txt on the FAT partition); a third with `--snapshot` counts 3
/// but leaves the file's bytes as they were.
#[test]
fn i386_disk_boots_counts_its_boots_and_snapshot_leaves_it_unchanged() {
    let dir = scratch("disk-i386");
    let img = dir.join("disk.img");
    std::fs::copy(guest::media().join("disk.img"), &img).expect("test set-up");
    let path = img.to_str().expect("test set-up");
    let first = boot_medium("i386", "disk", &["--hda", path]);
    assert_eq!(field(&first, "BOOT-COUNT"), Some("1"), "{first}");
    let second = boot_medium("i386", "disk", &["--hda", path]);
    assert_eq!(field(&second, "BOOT-COUNT"), Some("2"), "{second}");
    let before = std::fs::read(&img).expect("test set-up");
    let third = boot_medium("i386", "disk", &["--hda", path, "--snapshot"]);
    assert_eq!(field(&third, "BOOT-COUNT"), Some("3"), "{third}");
    assert!(
        std::fs::read(&img).expect("test set-up") == before,
        "--snapshot changed the image"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn amd64_disk_boots_through_the_bios() {
    let dir = scratch("disk-amd64");
    let img = dir.join("disk.img");
    std::fs::copy(guest::media().join("disk-amd64.img"), &img).expect("test set-up");
    let out = boot_medium(
        "amd64",
        "disk",
        &["--hda", img.to_str().expect("test set-up")],
    );
    assert_eq!(field(&out, "BOOT-COUNT"), Some("1"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `test-roms/floppy`: the "FD " lines from the first on, and the exit
/// status, as in the expected file QEMU produced.
fn floppy(read_only: bool) {
    let src = guest::workspace().join("test-roms/floppy");
    let dir = scratch(if read_only { "fd-ro" } else { "fd-rw" });
    let img = dir.join("floppy.img");
    std::fs::copy(src.join("floppy.img"), &img).expect("test set-up");
    if read_only {
        let mut p = std::fs::metadata(&img).expect("test set-up").permissions();
        p.set_readonly(true);
        std::fs::set_permissions(&img, p).expect("test set-up");
    }
    let out = anyx86(&[
        "--fda",
        img.to_str().expect("test set-up"),
        "--boot",
        "a",
        "-m",
        "32",
        "--serial",
        "stdio",
        "--debugcon",
        "null",
        "--no-reboot",
        "--max-instructions",
        "2000000000",
    ]);
    let stdout = text(&out.stdout);
    let from = stdout
        .find("FD ")
        .unwrap_or_else(|| panic!("no FD line in:\n{stdout}"));
    let got = format!(
        "{}\n{}\n",
        stdout[from..].trim_end_matches('\n'),
        out.status.code().unwrap_or(-1)
    );
    let want_file = src.join(if read_only {
        "expected/ro.txt"
    } else {
        "expected/rw.txt"
    });
    let want = std::fs::read_to_string(&want_file).expect("test set-up");
    assert_eq!(got, want, "anyx86 vs {}", want_file.display());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn floppy_boots_and_uses_bios_disk_services_as_on_qemu() {
    floppy(false);
}

#[test]
fn write_protected_floppy_refuses_writes_as_on_qemu() {
    floppy(true);
}

#[test]
fn the_bios_without_media_says_so_and_resets() {
    let out = anyx86(&["--serial", "stdio", "--no-reboot", "--clock", "virtual"]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("SeaBIOS (version 1.16.2"), "{stdout}");
    assert!(stdout.contains("No bootable device."), "{stdout}");
    assert!(text(&out.stderr).contains("guest requested a reset"));
}

/// Bad images: one line on stderr naming the problem, exit status 2.
#[test]
fn bad_images_are_refused_with_exit_2() {
    let dir = scratch("bad");
    let empty = dir.join("empty.img");
    std::fs::write(&empty, b"").expect("test set-up");
    let odd = dir.join("odd.img");
    std::fs::write(&odd, vec![0u8; 1000]).expect("test set-up");
    let megabyte = dir.join("1m.img");
    std::fs::write(&megabyte, vec![0u8; 1 << 20]).expect("test set-up");
    let missing = dir.join("missing.img");
    let under_a_file = empty.join("x.img");
    let d = dir.to_str().expect("test set-up").to_string();
    let p = |x: &Path| x.to_str().expect("test set-up").to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--hda".into(), p(&empty)], "is empty"),
        (vec!["--cdrom".into(), p(&odd)], "not a multiple of 512"),
        (vec!["--hda".into(), d.clone()], "not a regular file"),
        (vec!["--fda".into(), d], "not a regular file"),
        (vec!["--hdb".into(), p(&missing)], "cannot open image"),
        (
            vec!["--cdrom".into(), p(&under_a_file)],
            "cannot open image",
        ),
        (vec!["--fda".into(), p(&megabyte)], "matches no format"),
        (vec!["--boot".into(), "x".into()], "bad boot order"),
    ];
    for (args, want) in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = anyx86(&a);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} ran the guest");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts anyx86 on the i386 disk image `img`, waits until SeaBIOS has
/// printed its banner (the image is open), runs `meddle` on the file, and
/// returns the run's output once it ends.
fn meddle_while_running(img: &Path, meddle: impl FnOnce(&Path)) -> Output {
    use std::io::{BufRead, BufReader, Read};
    let mut child = Command::new(env!("CARGO_BIN_EXE_anyx86"))
        .args([
            "run",
            "--serial",
            "stdio",
            "--debugcon",
            "null",
            "--no-reboot",
        ])
        .arg("--hda")
        .arg(img)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run anyx86");
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let mut seen = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = out.read_until(b'\n', &mut line).expect("read stdout");
        seen.extend_from_slice(&line);
        if n == 0 || text(&line).contains("SeaBIOS (version") {
            break;
        }
    }
    meddle(img);
    out.read_to_end(&mut seen).expect("read stdout");
    let mut stderr = Vec::new();
    child
        .stderr
        .take()
        .expect("piped")
        .read_to_end(&mut stderr)
        .expect("read stderr");
    let status = child.wait().expect("wait");
    Output {
        status,
        stdout: seen,
        stderr,
    }
}

/// The image file deleted while the guest boots and writes its boot
/// count: the run ends with status 10 and says so, the file is back under
/// its name with the guest's write in it (the next boot counts 2).
#[test]
fn a_disk_image_deleted_during_the_run_is_saved_with_the_guests_writes() {
    let dir = scratch("deleted");
    let img = dir.join("disk.img");
    std::fs::copy(guest::media().join("disk.img"), &img).expect("test set-up");
    let out = meddle_while_running(&img, |p| std::fs::remove_file(p).expect("delete"));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(field(&stdout, "BOOT-COUNT"), Some("1"), "{stdout}");
    assert!(stdout.contains("reboot: Power down"), "{stdout}");
    assert!(
        stderr.contains("was deleted while the guest wrote to it: its contents were saved to"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(10), "{stderr}");
    let path = img.to_str().expect("test set-up");
    let again = boot_medium("i386", "disk", &["--hda", path]);
    assert_eq!(field(&again, "BOOT-COUNT"), Some("2"), "{again}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The image file cut to one sector while the BIOS boots from it: a read
/// fails, the run ends at once with status 10 and the reason.
#[test]
fn a_disk_image_that_shrinks_during_the_run_ends_it_with_the_reason() {
    let dir = scratch("shrinks");
    let img = dir.join("disk.img");
    std::fs::copy(guest::media().join("disk.img"), &img).expect("test set-up");
    let len = std::fs::metadata(&img).expect("test set-up").len();
    let out = meddle_while_running(&img, |p| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(p)
            .and_then(|f| f.set_len(512))
            .expect("truncate");
    });
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        stderr.contains(&format!(
            "shrank from {len} to 512 bytes while the guest ran"
        )),
        "{stderr}"
    );
    assert!(!stdout.contains("GUEST-READY"), "{stdout}");
    assert_eq!(out.status.code(), Some(10), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
