#!/usr/bin/env bash
# Boots the shared Debian i386 guest (stock kernel + busybox initramfs;
# ARCH=amd64 for the amd64 one) to a shell on the serial console in this
# terminal. Ctrl-A x quits,
# Ctrl-A h lists the other console keys; `poweroff -f` ends the run.
#
#   scripts/linux-demo.sh [extra anyx86 run flags...]
#
# Builds the guest with ../shared/guests/build.sh (Debian packages, into
# target/guests) and anyx86 in release mode when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH=${ARCH:-i386}
if [ ! -f "target/guests/$ARCH/vmlinuz" ]; then
    OUT="$PWD/target/guests" ../shared/guests/build.sh
fi
cargo build --release -q -p anyx86-cli
exec target/release/anyx86 run \
    --kernel "target/guests/$ARCH/vmlinuz" --initrd "target/guests/$ARCH/initrd.gz" \
    --append "console=ttyS0,115200 panic=-1 shell=1" \
    -m 256 --serial stdio "$@"
