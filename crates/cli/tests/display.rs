//! The display: test floppies (`test-roms/display`) draw through SeaBIOS's
//! VGA BIOS in text mode, mode 13h, planar mode 12h and a VBE 640x480x32
//! mode, and `churn` rewrites the text screen 120 million times;
//! anyx86's `--screenshot` must match QEMU's `screendump` of the same
//! image pixel for pixel (`expected/X.png`, produced by
//! `test-roms/display/run-qemu.sh`).

use anyx86_machine::screen::decode_png;
use std::path::PathBuf;
use std::process::Command;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test-roms/display")
}

fn screenshot_matches_qemu(name: &str) {
    let tmp = std::env::temp_dir().join(format!("anyx86-display-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let img = tmp.join("fd.img");
    let png = tmp.join("screen.png");
    std::fs::copy(dir().join(format!("{name}.img")), &img).expect("copy the image");
    let out = Command::new(env!("CARGO_BIN_EXE_anyx86"))
        .args([
            "run",
            "--boot",
            "a",
            "-m",
            "32",
            "--no-reboot",
            "--serial",
            "stdio",
        ])
        .args(["--max-instructions", "3000000000", "--fda"])
        .arg(&img)
        .arg("--screenshot")
        .arg(&png)
        .output()
        .expect("run anyx86");
    let serial = String::from_utf8_lossy(&out.stdout);
    assert!(serial.contains("READY"), "{name}: {serial}");
    let got = decode_png(&std::fs::read(&png).expect("screenshot written")).expect("our PNG");
    let want_bytes = std::fs::read(dir().join(format!("expected/{name}.png"))).expect("expected");
    let want = decode_png(&want_bytes).expect("QEMU's PNG");
    assert_eq!((got.0, got.1), (want.0, want.1), "{name}: size");
    let diff = got.2.iter().zip(&want.2).filter(|(a, b)| a != b).count();
    assert_eq!(
        diff, 0,
        "{name}: {diff} pixels differ from QEMU's screendump"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn text_mode_matches_qemu() {
    screenshot_matches_qemu("text");
}

#[test]
fn mode_13h_matches_qemu() {
    screenshot_matches_qemu("mode13");
}

#[test]
fn planar_16_colour_mode_matches_qemu() {
    screenshot_matches_qemu("planar");
}

#[test]
fn vbe_32_bpp_mode_matches_qemu() {
    screenshot_matches_qemu("vbe32");
}

#[test]
fn a_screen_written_on_every_loop_iteration_matches_qemu() {
    screenshot_matches_qemu("churn");
}

/// The debugger's `screendump FILE` writes the screen at any point: after
/// the text-mode floppy stopped, the same picture as QEMU's.
#[test]
fn the_debugger_screendump_command_writes_the_screen() {
    let tmp = std::env::temp_dir().join(format!("anyx86-screendump-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let img = tmp.join("fd.img");
    let png = tmp.join("now.png");
    let cmds = tmp.join("cmds");
    std::fs::copy(dir().join("text.img"), &img).expect("copy the image");
    std::fs::write(
        &cmds,
        format!(
            "screendump {}\nc\nscreendump {}\n",
            tmp.join("none/x.png").display(),
            png.display()
        ),
    )
    .expect("command file");
    let out = Command::new(env!("CARGO_BIN_EXE_anyx86"))
        .args(["debug", "--boot", "a", "-m", "32", "--serial", "null"])
        .args(["--max-instructions", "3000000000", "--fda"])
        .arg(&img)
        .arg("--batch")
        .arg(&cmds)
        .output()
        .expect("run anyx86");
    let text = String::from_utf8_lossy(&out.stdout);
    // A path that cannot be written is an error line, and the session goes
    // on.
    assert!(text.contains("error: "), "{text}");
    assert!(
        text.contains(&format!("screen written to {}", png.display())),
        "{text}"
    );
    let got = decode_png(&std::fs::read(&png).expect("screendump written")).expect("our PNG");
    let want = decode_png(&std::fs::read(dir().join("expected/text.png")).expect("expected"))
        .expect("QEMU's PNG");
    assert_eq!((got.0, got.1), (want.0, want.1), "size");
    assert!(got.2 == want.2, "the screendump differs from QEMU's");
    let _ = std::fs::remove_dir_all(&tmp);
}
