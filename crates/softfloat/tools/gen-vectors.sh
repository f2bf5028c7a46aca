#!/usr/bin/env bash
# Regenerate crates/softfloat/tests/vectors/*.txt on an x86-64 host with a real
# x87 FPU. See README.md in this folder. Deterministic: a fixed seed, so the
# same CPU gives the same files.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../tests/vectors"
bin="$(mktemp -d)/gen-vectors"
gcc -O1 -Wall -Wextra -o "$bin" "$here/gen-vectors.c"
mkdir -p "$out"
"$bin" "$out"
rm -f "$bin"
wc -l "$out"/*.txt | tail -1
du -sh "$out"
