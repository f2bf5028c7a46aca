#!/usr/bin/env bash
# Runs every test, on a fresh Debian machine with only Rust installed:
# installs the Debian packages the tests use (when missing; needs root or
# sudo), builds the shared guests and boot media they boot, then runs
# `cargo test --workspace --release`. Extra arguments go to cargo test.
#
#   scripts/test.sh [cargo test args...]
#
# What the packages are for: nasm (test ROMs, floppy image),
# qemu-system-x86 (the ROMs' reference outputs), gcc-multilib (the shared
# bench ROM), tmux (terminal tests), gdb (the GDB stub test), cpio (the
# guest initramfs), acpica-tools (iasl, the DSDT check), xorriso, mtools,
# dosfstools, fdisk, syslinux, isolinux, syslinux-common (the shared boot
# media: ../shared/guests/images.sh), xvfb, x11-apps, xdotool, libxkbcommon-x11-0,
# libxrandr2 (the window display under a virtual X server, captured with
# xwd, typed into with xdotool; winit loads the two libraries at run time).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

PKGS=(nasm qemu-system-x86 gcc-multilib tmux gdb cpio acpica-tools
      xorriso mtools dosfstools fdisk syslinux isolinux syslinux-common
      xvfb x11-apps xdotool libxkbcommon-x11-0 libxrandr2)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    echo "scripts/test.sh: installing ${missing[*]}"
    # A mirror hiccup on one architecture's index must not stop us: the
    # install fails if anything is really missing.
    $SUDO apt-get update -qq || echo "apt-get update reported errors; continuing"
    $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The guests and their boot media (Debian packages, into target/guests);
# the tests would build them on first use, one at a time.
OUT="$PWD/target/guests" ../shared/guests/build.sh >/dev/null
OUT="$PWD/target/guests" ../shared/guests/images.sh >/dev/null
OUT=target/bench-1 ../shared/bench/build.sh 1 >/dev/null

exec cargo test --workspace --release "$@"
