#!/bin/bash
# The display test floppies on QEMU: builds each X.img from X.asm (nasm),
# boots it (`-M pc -vga std`, SeaBIOS and its VGA BIOS as on anyx86), waits
# for READY on COM1, and takes QEMU's `screendump` into expected/X.png
# (with --check: compares instead; fails on any difference).
#
#   ./run-qemu.sh [--check] [NAME...]
#
# crates/cli/tests/display.rs boots the same images on anyx86 with
# `--fda X.img --boot a --screenshot` and compares pixel for pixel.
set -eu
cd "$(dirname "$0")"
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
names=${*:-$(ls ./*.asm | sed 's|^\./||; s|\.asm$||')}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p expected
status=0
for name in $names; do
    nasm -f bin -w+all -o "$tmp/$name.img" "$name.asm"
    if ! cmp -s "$tmp/$name.img" "$name.img"; then
        if [ $check = 1 ]; then echo "MISMATCH: $name.img differs from a fresh build" >&2; status=1; continue; fi
        cp "$tmp/$name.img" "$name.img"
    fi
    rm -f "$tmp/mon" "$tmp/ser"
    mkfifo "$tmp/mon"
    qemu-system-i386 -M pc -m 32 -vga std -display none -monitor stdio \
        -serial "file:$tmp/ser" -device isa-debug-exit,iobase=0xf4,iosize=0x04 -no-reboot \
        -drive "file=$tmp/$name.img,if=floppy,format=raw" -boot a \
        < "$tmp/mon" > "$tmp/monitor.log" 2>&1 &
    qemu=$!
    exec 3> "$tmp/mon"
    for _ in $(seq 1200); do   # up to 120 s: churn runs 1.6 billion instructions
        grep -q READY "$tmp/ser" 2>/dev/null && break
        sleep 0.1
    done
    if ! grep -q READY "$tmp/ser" 2>/dev/null; then
        echo "FAIL: $name never said READY" >&2
        status=1
    fi
    echo "screendump $tmp/$name.png -f png" >&3
    sleep 1
    echo quit >&3
    exec 3>&-
    wait $qemu || true
    if grep -q "FAIL" "$tmp/ser"; then echo "FAIL: $name: $(cat "$tmp/ser")" >&2; status=1; fi
    if [ $check = 1 ]; then
        if cmp -s "$tmp/$name.png" "expected/$name.png"; then echo "ok: $name"; else
            echo "MISMATCH: $name screendump differs from expected/$name.png" >&2; status=1; fi
    else
        cp "$tmp/$name.png" "expected/$name.png"
        echo "$name: $(file -b "expected/$name.png" 2>/dev/null || wc -c < "expected/$name.png")"
    fi
done
exit $status
