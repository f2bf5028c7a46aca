#!/bin/sh
# The floppy boot test on QEMU: builds floppy.img from floppy.asm (nasm),
# boots it from drive A writable and write-protected, and writes (or, with
# --check, compares) expected/{rw,ro}.txt: the "FD " lines the image prints
# on COM1 through INT 14h, from the first one on. Exit status 1 is PASS.
#
#   ./run-qemu.sh [--check]
#
# crates/cli/tests/floppy.rs boots the same image on anyx86 with
# `--fda floppy.img --boot a` and compares with these files.
set -eu
cd "$(dirname "$0")"
check=0
[ "${1:-}" = "--check" ] && check=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
nasm -f bin -w+all -o "$tmp/floppy.img" floppy.asm
if ! cmp -s "$tmp/floppy.img" floppy.img; then
    if [ $check = 1 ]; then echo "MISMATCH: floppy.img differs from a fresh build" >&2; exit 1; fi
    cp "$tmp/floppy.img" floppy.img
fi
mkdir -p expected
status=0
for mode in rw ro; do
    cp floppy.img "$tmp/run.img"
    ro=""
    [ $mode = ro ] && ro=",readonly=on"
    set +e
    timeout 30 qemu-system-i386 -M pc -m 32 -display none -monitor none -serial stdio \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 -no-reboot \
        -drive "file=$tmp/run.img,if=floppy,format=raw$ro" -boot a \
        < /dev/null > "$tmp/out.txt" 2> "$tmp/err.txt"
    rc=$?
    set -e
    # From the first "FD " on, with CRs dropped.
    tr -d '\r' < "$tmp/out.txt" | sed -n '/FD /,$p' | sed 's/^.*\(FD \)/\1/' > "$tmp/$mode.txt"
    echo "$rc" >> "$tmp/$mode.txt"
    if [ $check = 1 ]; then
        if cmp -s "$tmp/$mode.txt" "expected/$mode.txt"; then echo "ok: $mode"; else
            echo "MISMATCH: $mode" >&2; diff -u "expected/$mode.txt" "$tmp/$mode.txt" >&2 || true; status=1
        fi
    else
        cp "$tmp/$mode.txt" "expected/$mode.txt"
        echo "$mode: status $rc, $(tail -n 2 "expected/$mode.txt" | head -n 1)"
    fi
done
exit $status
