//! `--display window` under Xvfb: the display test floppies
//! (`test-roms/display`) are booted with the window display on a virtual
//! X server, the window is captured with `xwd` and must show, pixel for
//! pixel, QEMU's `screendump` of the same image (`expected/X.png`),
//! stretched by `--window-scale`. Then SIGTERM must end the process with
//! status 143, as for any run.
//!
//! The input test types and clicks into the window with `xdotool` (XTEST:
//! real X input events) while a ROM echoes what the i8042 delivers.
//!
//! Needs `Xvfb` (Debian's `xvfb`), `xwd` (`x11-apps`) and `xdotool`, which
//! scripts/test.sh installs; without them the tests say so and pass.

use anyx86_machine::screen::decode_png;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the guest may take to draw and say READY.
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the window may take to show the picture after READY.
const SHOW_TIMEOUT: Duration = Duration::from_secs(20);
/// Xvfb's screen: room for a 640x480 mode at scale 2.
const SCREEN: &str = "1600x1200x24";
/// xwd's file header: 25 big-endian 32-bit fields (X11/XWDFile.h).
const XWD_HEADER_FIELDS: usize = 25;
/// Size of one colormap entry after the header (XWDColor).
const XWD_COLOR_SIZE: usize = 12;
/// `pixmap_format` ZPixmap: whole pixels, row by row.
const Z_PIXMAP: u32 = 2;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test-roms/display")
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("-help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A running Xvfb, killed on drop.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    /// Starts Xvfb on a display number it picks itself (`-displayfd`:
    /// it binds the first free one, so tests starting servers in parallel
    /// cannot race for a number, and writes it to the pipe once it
    /// accepts connections). `slot` only names the test in messages.
    fn start(slot: u32) -> Xvfb {
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                SCREEN,
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Xvfb");
        let out = child.stdout.take().expect("Xvfb's stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(out).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut x = Xvfb {
            child,
            display: String::new(),
        };
        // Under a loaded test run Xvfb has taken more than 10 s to start
        // (it compiles its keymap first); a minute is still bounded.
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.trim().parse::<u32>().is_ok() => {
                x.display = format!(":{}", line.trim());
                x
            }
            Ok(_) => panic!("Xvfb (slot {slot}) exited before it reported a display"),
            Err(_) => panic!("Xvfb (slot {slot}) did not start within 60 s"),
        }
    }

    /// `anyx86 run` with its window on this server and COM1 on a piped
    /// stdout (stdin and stderr null): the caller adds the guest.
    fn anyx86(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_anyx86"));
        c.args(["run", "--serial", "stdio", "--display", "window"])
            .env("DISPLAY", &self.display)
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        c
    }

    /// The PS/2 echo ROM (test-roms/interactive/ps2-echo.asm) in a window
    /// on this server, its stderr going to `stderr`.
    fn ps2_echo(&self, stderr: Stdio) -> Child {
        self.anyx86()
            .arg("--bios")
            .arg(dir().join("../interactive/ps2-echo.bin"))
            .stderr(stderr)
            .spawn()
            .expect("run anyx86")
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A window's picture: width, height, 0x00RRGGBB pixels.
type Picture = (usize, usize, Vec<u32>);

fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
}

/// Decodes an xwd dump of a 24-bit TrueColor window (32 bits a pixel).
fn parse_xwd(b: &[u8]) -> Result<Picture, String> {
    if b.len() < 4 * XWD_HEADER_FIELDS {
        return Err(format!("short xwd file: {} bytes", b.len()));
    }
    let h: Vec<u32> = (0..XWD_HEADER_FIELDS).map(|i| be32(b, i)).collect();
    let (header_size, format, width, height) = (h[0], h[2], h[4], h[5]);
    let (byte_order, bits_per_pixel, bytes_per_line) = (h[7], h[11], h[12]);
    let (red, green, blue, ncolors) = (h[14], h[15], h[16], h[19]);
    if format != Z_PIXMAP || bits_per_pixel != 32 || (red, green, blue) != (0xFF_0000, 0xFF00, 0xFF)
    {
        return Err(format!("unexpected xwd format: {h:?}"));
    }
    let start = header_size as usize + ncolors as usize * XWD_COLOR_SIZE;
    let (w, ht, bpl) = (width as usize, height as usize, bytes_per_line as usize);
    let data = b
        .get(start..start + bpl * ht)
        .ok_or_else(|| format!("xwd file too short for {w}x{ht}"))?;
    let mut px = Vec::with_capacity(w * ht);
    for row in data.chunks_exact(bpl) {
        for p in row[..4 * w].chunks_exact(4) {
            let v = [p[0], p[1], p[2], p[3]];
            // byte_order 0: LSBFirst.
            let v = if byte_order == 0 {
                u32::from_le_bytes(v)
            } else {
                u32::from_be_bytes(v)
            };
            px.push(v & 0xFF_FFFF);
        }
    }
    Ok((w, ht, px))
}

/// The window titled "anyx86", as the X server shows it now.
fn capture(display: &str) -> Result<Picture, String> {
    let out = Command::new("xwd")
        .args(["-name", "anyx86", "-silent"])
        .env("DISPLAY", display)
        .output()
        .map_err(|e| format!("xwd: {e}"))?;
    if !out.status.success() {
        return Err(format!("xwd: {}", String::from_utf8_lossy(&out.stderr)));
    }
    parse_xwd(&out.stdout)
}

/// QEMU's screendump of `name`, each pixel repeated `scale` times each way.
fn expected(name: &str, scale: usize) -> Picture {
    let bytes = std::fs::read(dir().join(format!("expected/{name}.png"))).expect("expected PNG");
    let (w, h, px) = decode_png(&bytes).expect("QEMU's PNG");
    let (w, h) = (w as usize, h as usize);
    let mut out = Vec::with_capacity(w * h * scale * scale);
    for y in 0..h * scale {
        for x in 0..w * scale {
            out.push(px[(y / scale) * w + x / scale]);
        }
    }
    (w * scale, h * scale, out)
}

/// The guest's COM1 (the run's stdout), line by line.
struct Serial(mpsc::Receiver<String>);

impl Serial {
    fn of(child: &mut Child) -> Serial {
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line.trim_end().to_string()).is_err() {
                    break;
                }
            }
        });
        Serial(rx)
    }

    /// Lines up to and including the first that contains `what`.
    fn wait_for(&self, child: &mut Child, what: &str, within: Duration) -> Vec<String> {
        let end = Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.0.recv_timeout(left) {
                Ok(line) => {
                    let done = line.contains(what);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("COM1 never showed {what:?}; it showed {seen:?}");
                }
            }
        }
    }
}

/// Ends the run with SIGTERM and returns its exit code.
fn terminate(child: &mut Child) -> Option<i32> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if let Ok(Some(st)) = child.try_wait() {
            return st.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("anyx86 did not end on SIGTERM");
}

/// False (saying why) when the X tools the tests drive are missing.
fn have_x_tools() -> bool {
    let ok = have("Xvfb") && have("xwd") && have("xdotool");
    if !ok {
        eprintln!("skipped: Xvfb, xwd or xdotool is missing (scripts/test.sh installs them)");
    }
    ok
}

/// Waits until the window shows `want`; the last capture.
fn wait_for_picture(display: &str, want: &Picture) -> Result<Picture, String> {
    let end = Instant::now() + SHOW_TIMEOUT;
    loop {
        let got = capture(display);
        if got.as_ref().is_ok_and(|g| g == want) || Instant::now() > end {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn assert_same(what: &str, got: Result<Picture, String>, want: &Picture) {
    let got = got.unwrap_or_else(|e| panic!("{what}: no window to capture: {e}"));
    assert_eq!((got.0, got.1), (want.0, want.1), "{what}: window size");
    let diff = got.2.iter().zip(&want.2).filter(|(a, b)| a != b).count();
    assert_eq!(
        diff, 0,
        "{what}: {diff} pixels differ from QEMU's screendump"
    );
}

/// Boots display floppy `name` with `--window-scale scale` and compares
/// the window with QEMU's screendump; then, with `resize`, resizes the
/// window to that many times the guest's mode (as a user dragging its
/// border would) and compares again.
fn window_shows_screendump(name: &str, scale: usize, resize: Option<usize>, slot: u32) {
    if !have_x_tools() {
        return;
    }
    let x = Xvfb::start(slot);
    let tmp = std::env::temp_dir().join(format!("anyx86-window-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let img = tmp.join("fd.img");
    std::fs::copy(dir().join(format!("{name}.img")), &img).expect("copy the image");
    let mut child = x
        .anyx86()
        .args(["--boot", "a", "-m", "32", "--no-reboot", "--window-scale"])
        .arg(scale.to_string())
        .arg("--fda")
        .arg(&img)
        .spawn()
        .expect("run anyx86");
    Serial::of(&mut child).wait_for(&mut child, "READY", BOOT_TIMEOUT);
    let want = expected(name, scale);
    let first = wait_for_picture(&x.display, &want);
    let resized = resize.map(|r| {
        let want = expected(name, r);
        let (w, h) = (want.0.to_string(), want.1.to_string());
        xdotool(
            &x.display,
            &[
                "search",
                "--name",
                "^anyx86$",
                "windowsize",
                "--sync",
                &w,
                &h,
            ],
        );
        (wait_for_picture(&x.display, &want), want)
    });
    let code = terminate(&mut child);
    let _ = std::fs::remove_dir_all(&tmp);
    assert_same(name, first, &want);
    if let Some((got, want)) = resized {
        assert_same(&format!("{name} resized"), got, &want);
    }
    assert_eq!(code, Some(128 + 15), "{name}: exit status after SIGTERM");
}

#[test]
fn mode_13h_window_matches_qemu_and_stretches_when_resized() {
    window_shows_screendump("mode13", 1, Some(2), 0);
}

#[test]
fn vbe_32_bpp_window_matches_qemu() {
    window_shows_screendump("vbe32", 1, None, 1);
}

#[test]
fn planar_window_at_scale_2_matches_qemu() {
    window_shows_screendump("planar", 2, None, 2);
}

#[test]
fn text_mode_window_matches_qemu() {
    window_shows_screendump("text", 1, None, 5);
}

#[cfg(all(unix, not(target_os = "macos")))]
#[test]
fn without_a_display_server_the_run_fails_with_one_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_anyx86"))
        .args(["run", "--display", "window"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("WAYLAND_SOCKET")
        .output()
        .expect("run anyx86");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim_end(),
        "anyx86: --display window: no display server (DISPLAY and WAYLAND_DISPLAY are unset)"
    );
}

fn xdotool(display: &str, args: &[&str]) {
    let st = Command::new("xdotool")
        .args(args)
        .env("DISPLAY", display)
        .status()
        .expect("run xdotool");
    assert!(st.success(), "xdotool {args:?} failed");
}

/// The bytes of one device ('K' keyboard, 'M' mouse) among `lines`.
fn bytes_of(lines: &[String], device: char) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.len() == 3 && l.starts_with(device))
        .map(|l| l[1..].to_string())
        .collect()
}

/// Keys typed and the mouse moved and clicked in the window reach the
/// guest's i8042 as a PC keyboard and a PS/2 mouse send them
/// (test-roms/interactive/ps2-echo.asm echoes the bytes on COM1).
#[test]
fn keys_and_mouse_in_the_window_reach_the_ps2_devices() {
    if !have_x_tools() {
        return;
    }
    let x = Xvfb::start(3);
    let mut child = x.ps2_echo(Stdio::null());
    let com1 = Serial::of(&mut child);
    com1.wait_for(&mut child, "PS2 READY", BOOT_TIMEOUT);
    // No window manager gives the window the focus: take it, and put the
    // pointer inside (entering only tells where the pointer is).
    xdotool(
        &x.display,
        &[
            "search",
            "--sync",
            "--name",
            "^anyx86$",
            "windowfocus",
            "--sync",
        ],
    );
    xdotool(&x.display, &["mousemove", "50", "50"]);
    // 'a' then Enter: set 2 from the keyboard, set 1 after the i8042's
    // translation: make 1E, break 9E, make 1C, break 9C.
    xdotool(&x.display, &["type", "a"]);
    xdotool(&x.display, &["key", "Return"]);
    let lines = com1.wait_for(&mut child, "K9C", SHOW_TIMEOUT);
    assert_eq!(bytes_of(&lines, 'K'), ["1E", "9E", "1C", "9C"], "{lines:?}");
    // 10 right and 5 down: one packet, Y up-positive so -5 (FB) with the
    // Y sign bit (0x20) beside the always-1 bit (0x08). Then a left click:
    // a packet with bit 0 set, and one without.
    xdotool(&x.display, &["mousemove_relative", "10", "5"]);
    xdotool(&x.display, &["click", "1"]);
    let mut lines = Vec::new();
    while bytes_of(&lines, 'M').len() < 9 {
        lines.extend(com1.wait_for(&mut child, "M", SHOW_TIMEOUT));
    }
    let want = ["28", "0A", "FB", "09", "00", "00", "08", "00", "00"];
    assert_eq!(bytes_of(&lines, 'M'), want, "{lines:?}");
    assert_eq!(
        terminate(&mut child),
        Some(128 + 15),
        "exit status after SIGTERM"
    );
}

/// Closing the window ends the run as `Ctrl-A x` does: exit status 0.
/// (Without a window manager there is no close button: xdotool destroys
/// the window, which winit reports as a window manager's close does.)
#[test]
fn closing_the_window_ends_the_run() {
    if !have_x_tools() {
        return;
    }
    let x = Xvfb::start(4);
    let mut child = x.ps2_echo(Stdio::piped());
    Serial::of(&mut child).wait_for(&mut child, "PS2 READY", BOOT_TIMEOUT);
    xdotool(
        &x.display,
        &["search", "--sync", "--name", "^anyx86$", "windowclose"],
    );
    let end = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break st;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("the run did not end when its window closed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("the window was closed"), "{err}");
}
