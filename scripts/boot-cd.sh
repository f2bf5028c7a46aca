#!/usr/bin/env bash
# Boots the project's test CD (Debian's i386 kernel and a busybox
# initramfs on an ISOLINUX CD; ARCH=amd64 for the amd64 one) through the
# built-in BIOS, as a user boots an ISO: the BIOS, ISOLINUX and the guest
# appear on the serial console in this terminal. Ctrl-A x quits; at the
# ISOLINUX prompt, type `i386-shell` for a shell instead of the workload.
#
#   scripts/boot-cd.sh [extra anyx86 run flags...]
#
# Builds the CD with ../shared/guests/{build,images}.sh (Debian packages,
# into target/guests) and anyx86 in release mode when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ISO=target/guests/images/cd.iso
[ "${ARCH:-i386}" = amd64 ] && ISO=target/guests/images/cd-amd64.iso
if [ ! -f "$ISO" ]; then
    OUT="$PWD/target/guests" ../shared/guests/images.sh
fi
cargo build --release -q -p anyx86-cli
exec target/release/anyx86 run --cdrom "$ISO" -m 256 "$@"
