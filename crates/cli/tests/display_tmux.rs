//! A person in front of the terminal display (tmux): the screen the VGA
//! shows, drawn in the terminal, and keys typed there reaching the guest's
//! PS/2 keyboard. The shared guests (`../shared/guests`), booted as a user
//! would: from the CD through SeaBIOS and ISOLINUX, and directly with
//! `--kernel`.

use crate::guest;

use crate::tmux::{tmux, wait_for_within, Session};

/// The shared CD in the terminal display: SeaBIOS's and ISOLINUX's screen,
/// then (with `console=tty0` typed at the ISOLINUX prompt, which makes the
/// VGA console the kernel's `/dev/console`) the Linux VGA console and a
/// shell on it. `/proc/version` is the kernel's banner.
#[test]
fn the_cd_shows_isolinux_then_the_linux_vga_console() {
    let cd = guest::media().join("cd.iso");
    let cmd = format!(
        "{} run --cdrom {} --snapshot --display terminal --timeout 900; echo STATUS=$?; sleep 60",
        env!("CARGO_BIN_EXE_anyx86"),
        cd.display()
    );
    let s = Session::start("display-cd", 100, 30, &cmd);
    // ISOLINUX waits 2 s at its prompt: type before it boots the default.
    let screen = wait_for_within(s.name(), "boot:", 300);
    assert!(screen.contains("SeaBIOS (version 1.16.2"), "{screen}");
    assert!(
        screen.contains("GUEST-MEDIA cd: labels i386 amd64 i386-shell"),
        "{screen}"
    );
    s.type_line("i386-shell console=tty0");
    // The kernel's messages, then init's and a shell, all on the VGA.
    wait_for_within(s.name(), "UNAME Linux (none) 6.1.0", 900);
    wait_for_within(s.name(), "\n/ #", 600);
    s.type_line("cat /proc/version");
    let screen = wait_for_within(s.name(), "Linux version 6.1.0", 120);
    assert!(
        screen.contains("(debian-kernel@lists.debian.org)"),
        "{screen}"
    );
    s.type_line("poweroff -f");
    let screen = wait_for_within(s.name(), "STATUS=", 120);
    assert!(screen.contains("STATUS=0"), "{screen}");
}

/// A kernel booted directly with the terminal display: the machine puts
/// the VGA in text mode and tells the kernel (`screen_info`), so
/// `console=tty0` alone gives a shell on the screen; typed keys go through
/// the i8042 and their echo comes back on the VGA.
#[test]
fn typing_into_a_shell_on_the_vga_console_of_a_direct_boot() {
    let (kernel, initrd) = guest::guest("i386");
    // Ctrl-A p writes anyx86-screen-N.png in the current directory.
    let tmp = std::env::temp_dir().join(format!("anyx86-display-tmux-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let cmd = format!(
        "cd {} && {} run --kernel {} --initrd {} --append 'console=tty0 shell=1' -m 256 \
         --display terminal --timeout 900; echo STATUS=$?; sleep 60",
        tmp.display(),
        env!("CARGO_BIN_EXE_anyx86"),
        kernel.display(),
        initrd.display()
    );
    let s = Session::start("display-kernel", 100, 30, &cmd);
    let screen = wait_for_within(s.name(), "\n/ #", 900);
    assert!(screen.contains("CMDLINE console=tty0 shell=1"), "{screen}");
    // Shifted characters, digits and punctuation, longer than the PS/2
    // keyboard's 16-byte queue: the display holds keys until it has room.
    s.type_line("echo typed-$((6*7)) | tr a-z A-Z");
    let screen = wait_for_within(s.name(), "TYPED-42", 120);
    assert!(
        screen.contains("echo typed-$((6*7)) | tr a-z A-Z"),
        "the echo of the typed line: {screen}"
    );
    // The console escape Ctrl-A p: the 720x400 text screen as a PNG.
    tmux(&["send-keys", "-t", s.name(), "C-a"]);
    tmux(&["send-keys", "-t", s.name(), "-l", "p"]);
    let png = tmp.join("anyx86-screen-1.png");
    let start = std::time::Instant::now();
    while !png.exists() && start.elapsed().as_secs() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (w, h, px) =
        anyx86_machine::screen::decode_png(&std::fs::read(&png).expect("Ctrl-A p")).expect("a PNG");
    assert_eq!((w, h), (720, 400));
    // Grey text on black: both colours of the VGA's default attribute 07
    // (DAC 0x2A, 6 bits, shifted to 8 as QEMU's screendump does).
    assert!(
        px.contains(&0xA8A8A8) && px.contains(&0),
        "not a text screen"
    );
    s.type_line("poweroff -f");
    let screen = wait_for_within(s.name(), "STATUS=", 120);
    assert!(screen.contains("STATUS=0"), "{screen}");
    let _ = std::fs::remove_dir_all(&tmp);
}
