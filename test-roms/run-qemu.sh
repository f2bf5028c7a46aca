#!/bin/sh
# Produce (or check) the expected output of every test ROM by running it on QEMU.
#
#   ./run-qemu.sh            run each X.bin, write expected/X.txt (everything the
#                            ROM printed on port 0xE9) and expected/X.status (the
#                            QEMU exit status)
#   ./run-qemu.sh --check    run each ROM and compare with expected/; fail on any
#                            difference
#   ./run-qemu.sh [--check] NAME...   only the named ROMs
#
# CPU model: qemu32 (the identity anyx86 emulates) plus +nx, so that the PAE/NX
# checks in paging.asm can set EFER.NXE.  qemu32 already has PSE, PAE, PGE,
# CMOV, CX8, DE and the debug registers.
#
# Per-ROM flags: a line "; qemu-flags: FLAGS" in X.asm appends FLAGS to the
# command line (a later -cpu replaces the default one).  The device ROMs use
# it for an instruction-counted clock and a fixed RTC time, e.g.
#   ; qemu-flags: -cpu qemu32,+nx,-apic -icount shift=0,sleep=off
# (the matching anyx86 flags are on a "; anyx86-flags:" line, read by
# crates/cli/tests/test_roms.rs).
#
# A line "; qemu-binary: NAME" selects another QEMU binary for that ROM (the
# long-mode ROM needs qemu-system-x86_64).
#
# Exit status: a ROM writes V to isa-debug-exit (port 0xF4) and QEMU exits with
# (V<<1)|1, so 1 means PASS.  A triple fault with -no-reboot exits with 0; a
# hang is killed by timeout (status 124).
set -eu
cd "$(dirname "$0")"

QEMU=${QEMU:-qemu-system-i386}
CPU=${QEMU_CPU:-qemu32,+nx}

check=0
if [ "${1:-}" = "--check" ]; then
    check=1
    shift
fi
if [ $# -gt 0 ]; then
    names="$*"
else
    names=$(ls ./*.asm | sed 's|^\./||; s|\.asm$||')
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p expected

status=0
for name in $names; do
    name=${name%.asm}
    name=${name%.bin}
    # Word splitting of $extra is intended: it is a list of flags.
    extra=$(sed -n 's/^; qemu-flags: *//p' "$name.asm")
    qemu=$(sed -n 's/^; qemu-binary: *//p' "$name.asm")
    set +e
    # shellcheck disable=SC2086
    timeout 20 "${qemu:-$QEMU}" -M pc -cpu "$CPU" -m 32 -bios "$name.bin" \
        -display none -monitor none -serial null -debugcon stdio \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 -no-reboot $extra \
        < /dev/null > "$tmp/$name.txt" 2> "$tmp/$name.err"
    rc=$?
    set -e
    echo "$rc" > "$tmp/$name.status"
    if [ $check -eq 1 ]; then
        if cmp -s "$tmp/$name.txt" "expected/$name.txt" &&
           cmp -s "$tmp/$name.status" "expected/$name.status"; then
            echo "ok: $name (status $rc)"
        else
            echo "MISMATCH: $name (status $rc, expected $(cat "expected/$name.status" 2>/dev/null))" >&2
            diff -u "expected/$name.txt" "$tmp/$name.txt" | head -20 >&2 || true
            status=1
        fi
    else
        cp "$tmp/$name.txt" "expected/$name.txt"
        cp "$tmp/$name.status" "expected/$name.status"
        echo "$name: status $rc, $(wc -l < "expected/$name.txt") lines, $(tail -n 1 "expected/$name.txt")"
    fi
    if [ -s "$tmp/$name.err" ]; then
        sed "s/^/  qemu stderr: /" "$tmp/$name.err" >&2
    fi
done
exit $status
