#!/bin/sh
# Assemble every test-roms/hostile/X.asm into X.bin (flat 64 KiB BIOS image).
#
#   ./build.sh           (re)build all binaries in place
#   ./build.sh --check   assemble into a temporary directory and fail if any
#                        committed binary differs (or is missing)
#
# Same rules as ../build.sh: nasm -f bin output is deterministic, so the
# committed binaries must match a fresh build byte for byte.
set -eu
cd "$(dirname "$0")"

check=0
if [ "${1:-}" = "--check" ]; then
    check=1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

status=0
for src in ./*.asm; do
    name=$(basename "$src" .asm)
    nasm -f bin -w+all -o "$tmp/$name.bin" "$src"
    size=$(wc -c < "$tmp/$name.bin")
    if [ "$size" -ne 65536 ]; then
        echo "error: $name.bin is $size bytes, expected 65536" >&2
        status=1
        continue
    fi
    if [ $check -eq 1 ]; then
        if ! cmp -s "$tmp/$name.bin" "$name.bin"; then
            echo "MISMATCH: hostile/$name.bin differs from a fresh build of $name.asm" >&2
            status=1
        else
            echo "ok: hostile/$name.bin"
        fi
    else
        cp "$tmp/$name.bin" "$name.bin"
        echo "built: hostile/$name.bin"
    fi
done
exit $status
