#!/usr/bin/env bash
# cross-check.sh - runs anyx86 built for another host architecture (64-bit
# ARM Linux by default) under user-mode QEMU, with the native tests' checks:
#
#   - every test ROM (test-roms/NAME.bin, one per NAME.asm) with the flags
#     crates/cli/tests/test_roms.rs uses; standard output byte for byte
#     against test-roms/expected/NAME.txt, exit status against NAME.status;
#   - the bench ROMs built with one round (target/bench-1/bench.rom and
#     bench-paging.rom) with the flags and checks of
#     crates/cli/tests/bench_rom.rs: its checksum, RESULT OK, no SELFTEST
#     FAIL, exit status 1;
#   - then, for the record, the bench ROMs' MIPS (`--stats --clock virtual`).
#
# The flags and the checksum are read from those Rust files, so the two
# harnesses cannot drift apart.
#
#   scripts/cross-check.sh [--linux]
#
# --linux also boots the Debian i386 guest (target/guests, built when
# missing) with crates/cli/tests/linux_boot.rs's flags and checks. That is
# about 8 billion guest instructions: minutes under double emulation, so CI
# leaves it out.
#
# Environment:
#   TARGET   Rust target triple (default aarch64-unknown-linux-gnu)
#   ANYX86   the binary to check (default: built here, `cargo build
#            --release -p anyx86-cli --target $TARGET`)
#   RUNNER   command that runs it (default: qemu-aarch64-static for an
#            aarch64 target on another host; empty: run it directly)
#   QEMU_LD_PREFIX  where qemu-user finds the target's dynamic loader and
#            libc (default /usr/aarch64-linux-gnu, Debian's libc6-arm64-cross)
#   TIMEOUT  seconds allowed for one run (default 600)
#
# Exits 1 when any check fails. The bench ROMs need gcc-multilib to build
# (OUT=target/bench-1 ../shared/bench/build.sh 1), which conflicts with
# gcc-aarch64-linux-gnu: build them before installing the cross compiler.
set -euo pipefail
cd "$(dirname "$0")/.."

LINUX=0
for arg in "$@"; do
    case "$arg" in
        --linux) LINUX=1 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "cross-check: unknown argument $arg" >&2; exit 2 ;;
    esac
done

TARGET=${TARGET:-aarch64-unknown-linux-gnu}
TIMEOUT=${TIMEOUT:-600}
HOST_ARCH=$(uname -m)
case "$TARGET" in
    aarch64-*)
        if [ "$HOST_ARCH" = aarch64 ]; then default_runner=; else default_runner=qemu-aarch64-static; fi
        export QEMU_LD_PREFIX=${QEMU_LD_PREFIX:-/usr/aarch64-linux-gnu}
        ;;
    *) default_runner= ;;
esac
read -r -a RUNNER_CMD <<<"${RUNNER-$default_runner}"

if [ -z "${ANYX86:-}" ]; then
    echo "cross-check: building anyx86 for $TARGET"
    cargo build --release -p anyx86-cli --target "$TARGET"
    ANYX86="${CARGO_TARGET_DIR:-target}/$TARGET/release/anyx86"
fi
[ -x "$ANYX86" ] || { echo "cross-check: no executable $ANYX86" >&2; exit 2; }
if [ ${#RUNNER_CMD[@]} -gt 0 ] && ! command -v "${RUNNER_CMD[0]}" >/dev/null; then
    echo "cross-check: ${RUNNER_CMD[0]} not found (Debian: apt-get install qemu-user-static)" >&2
    exit 2
fi
RUN=("${RUNNER_CMD[@]}" "$ANYX86")
echo "cross-check: $TARGET, running: ${RUN[*]}"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "ok      $1"; }
fail() {
    FAILED=$((FAILED + 1))
    echo "FAILED  $1: $2"
    if [ -s "$WORK/err" ]; then
        echo "--- emulator stderr (last lines) ---"
        tail -n 20 "$WORK/err"
    fi
}

# The string literals of the cli tests' shared ROM_ARGS (the options every
# ROM harness passes after `run --bios ROM`).
rom_args() {
    sed -n '/pub const ROM_ARGS/,/];/p' crates/cli/tests/common/mod.rs |
        sed '1d' | grep -o '"[^"]*"' | tr -d '"'
}

# The string literals of the Rust function $2 in $1 up to the first line
# matching $3, with `common::ROM_ARGS` spelled out: the arguments a test
# harness passes to anyx86, in order.
harness_args() {
    sed -n "/fn $2(/,/$3/p" "$1" | while IFS= read -r line; do
        if [[ $line == *common::ROM_ARGS* ]]; then
            rom_args
        else
            grep -o '"[^"]*"' <<<"$line" | tr -d '"' || true
        fi
    done | grep -v '^CARGO_BIN_EXE_'
}

# Reads the flags of harness $1 (file, function, end) into FLAGS: the
# arguments after `run --bios ROM`.
read_flags() {
    local all
    mapfile -t all < <(harness_args "$@")
    if [ "${all[*]:0:2}" != "run --bios" ] || [[ " ${all[*]} " != *" --debugcon stdio "* ]]; then
        echo "cross-check: cannot read the anyx86 flags from $1 (got: ${all[*]});" \
            "update scripts/cross-check.sh" >&2
        exit 2
    fi
    FLAGS=("${all[@]:2}")
}

# Runs anyx86 with the given arguments: stdout to $WORK/out, stderr to
# $WORK/err, exit status in STATUS (124 after TIMEOUT seconds).
run() {
    STATUS=0
    timeout --kill-after=10 "$TIMEOUT" "${RUN[@]}" "$@" \
        </dev/null >"$WORK/out" 2>"$WORK/err" || STATUS=$?
}

# ---- test ROMs -------------------------------------------------------------
read_flags crates/cli/tests/test_roms.rs run_emulator '\.stdin('
echo "cross-check: test ROMs: anyx86 run --bios ROM ${FLAGS[*]}"
for src in test-roms/*.asm; do
    name=$(basename "$src" .asm)
    : >"$WORK/err"
    missing=
    for f in "$name.bin" "expected/$name.txt" "expected/$name.status"; do
        [ -f "test-roms/$f" ] || missing="$missing test-roms/$f"
    done
    if [ -n "$missing" ]; then
        fail "$name" "missing$missing"
        continue
    fi
    # Extra flags a ROM asks for in its source, as test_roms.rs reads them.
    extra=()
    read -r -a extra < <(sed -n 's/^; anyx86-flags://p' "$src" | head -n 1) || true
    run run --bios "test-roms/$name.bin" "${FLAGS[@]}" "${extra[@]}"
    want_status=$(tr -d '[:space:]' <"test-roms/expected/$name.status")
    if [ "$STATUS" = 124 ]; then
        fail "$name" "timed out after $TIMEOUT s"
    elif ! cmp -s "$WORK/out" "test-roms/expected/$name.txt"; then
        fail "$name" "output differs:
$(diff -u "test-roms/expected/$name.txt" "$WORK/out" | head -n 30)"
    elif [ "$STATUS" != "$want_status" ]; then
        fail "$name" "exit status $STATUS, expected $want_status"
    else
        pass "$name"
    fi
done

# ---- bench ROM, one round --------------------------------------------------
read_flags crates/cli/tests/bench_rom.rs run_bench '\.output()'
CHECKSUM=$(grep -o 'CHECKSUM 0x[0-9a-fA-F]*' crates/cli/tests/bench_rom.rs | head -n 1)
[ -n "$CHECKSUM" ] || { echo "cross-check: no CHECKSUM in bench_rom.rs" >&2; exit 2; }
BENCH=target/bench-1
echo "cross-check: bench ROMs: anyx86 run --bios ROM ${FLAGS[*]}; want $CHECKSUM"
for rom in bench.rom bench-paging.rom; do
    : >"$WORK/err"
    if [ ! -f "$BENCH/$rom" ]; then
        fail "$rom" "$BENCH/$rom is missing: build it with OUT=$BENCH ../shared/bench/build.sh 1"
        continue
    fi
    run run --bios "$BENCH/$rom" "${FLAGS[@]}"
    if [ "$STATUS" = 124 ]; then
        fail "$rom" "timed out after $TIMEOUT s"
    elif ! grep -qF "$CHECKSUM" "$WORK/out"; then
        fail "$rom" "wrong checksum (want $CHECKSUM):
$(cat "$WORK/out")"
    elif ! grep -qF 'RESULT OK' "$WORK/out" || grep -qF 'SELFTEST FAIL' "$WORK/out"; then
        fail "$rom" "self-test failed:
$(cat "$WORK/out")"
    elif [ "$STATUS" != 1 ]; then
        fail "$rom" "exit status $STATUS, expected 1 (V = 0 gives 1)"
    else
        pass "$rom"
    fi
done

# For the record: guest MIPS on this runner (virtual clock, as in the
# README's speed figures).
for rom in bench.rom bench-paging.rom; do
    [ -f "$BENCH/$rom" ] || continue
    run run --bios "$BENCH/$rom" "${FLAGS[@]}" --stats --clock virtual
    mips=$(sed -n 's/^stats: MIPS //p' "$WORK/err")
    echo "cross-check: $rom: ${mips:-?} MIPS under ${RUN[*]}"
done

# ---- the Linux guest (--linux) ---------------------------------------------
if [ "$LINUX" = 1 ]; then
    GUEST=target/guests/i386
    if [ ! -f "$GUEST/vmlinuz" ] || [ ! -f "$GUEST/initrd.gz" ]; then
        OUT="$PWD/target/guests" ../shared/guests/build.sh
    fi
    MOD=crates/cli/tests/guest/mod.rs
    APPEND=$(sed -n 's/^pub const APPEND: &str = "\(.*\)";$/\1/p' "$MOD")
    WORK_RESULT=$(grep -o '"WORK-RESULT [0-9a-f]*"' "$MOD" | tr -d '"')
    [ -n "$APPEND" ] && [ -n "$WORK_RESULT" ] ||
        { echo "cross-check: cannot read APPEND / WORK_RESULT from $MOD" >&2; exit 2; }
    echo "cross-check: Linux guest (linux_boot.rs): this takes minutes"
    start=$(date +%s)
    run run --kernel "$GUEST/vmlinuz" --initrd "$GUEST/initrd.gz" --append "$APPEND" \
        -m 256 --serial stdio --no-reboot --clock virtual --stats
    rest=$(cat "$WORK/out")
    problem=
    for want in "Linux version 6.1" GUEST-READY "$WORK_RESULT" GUEST-DONE; do
        if [[ "$rest" == *"$want"* ]]; then
            rest=${rest#*"$want"}
        else
            problem="\"$want\" missing (or out of order) in the console output"
            break
        fi
    done
    if [ "$STATUS" = 124 ]; then
        fail linux-boot "timed out after $TIMEOUT s"
    elif [ -n "$problem" ]; then
        fail linux-boot "$problem"
    elif ! grep -qF 'CPU halted with interrupts disabled' "$WORK/err"; then
        fail linux-boot "no halt with interrupts off at the end"
    elif [ "$STATUS" != 0 ]; then
        fail linux-boot "exit status $STATUS, expected 0"
    else
        pass "linux-boot ($(($(date +%s) - start)) s, $(sed -n 's/^stats: MIPS //p' "$WORK/err") MIPS)"
    fi
fi

echo "cross-check: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
