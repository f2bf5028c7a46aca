#!/bin/sh
# Assemble every test-roms/X.asm into test-roms/X.bin (flat 64 KiB BIOS image).
#
#   ./build.sh           (re)build all binaries in place
#   ./build.sh --check   assemble into a temporary directory and fail if any
#                        committed binary differs (or is missing)
#   ./build.sh NAME...   build only the named ROMs (NAME or NAME.asm)
#
# nasm -f bin output is deterministic (no timestamps), so the committed
# binaries must match a fresh build byte for byte.
set -eu
cd "$(dirname "$0")"

check=0
if [ "${1:-}" = "--check" ]; then
    check=1
    shift
fi

if [ $# -gt 0 ]; then
    srcs=""
    for n in "$@"; do srcs="$srcs ${n%.asm}.asm"; done
else
    srcs=$(ls ./*.asm | sed 's|^\./||')
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

status=0
for src in $srcs; do
    name=${src%.asm}
    nasm -f bin -w+all -I inc/ -o "$tmp/$name.bin" "$src"
    size=$(wc -c < "$tmp/$name.bin")
    if [ "$size" -ne 65536 ]; then
        echo "error: $name.bin is $size bytes, expected 65536" >&2
        status=1
        continue
    fi
    if [ $check -eq 1 ]; then
        if ! cmp -s "$tmp/$name.bin" "$name.bin"; then
            echo "MISMATCH: $name.bin differs from a fresh build of $src" >&2
            status=1
        else
            echo "ok: $name.bin"
        fi
    else
        cp "$tmp/$name.bin" "$name.bin"
        echo "built: $name.bin"
    fi
done
exit $status
