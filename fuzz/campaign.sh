#!/usr/bin/env bash
# Runs each fuzz target in turn for SECONDS seconds on one core, with a
# scratch corpus seeded from fuzz/corpus/<target> (the committed seeds are
# not grown; add findings there by hand). Logs go to $OUT/<target>.log;
# libFuzzer's last "#... cov: ... ft: ..." line is the figure to report.
# Two campaigns may run at once (one per core) with different OUT dirs.
#
#   fuzz/campaign.sh SECONDS [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:?seconds per target}; shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(cpu_real cpu_pm16 cpu_pm32 cpu_long cpu_compat boot_image devices disk_image
    debugger_cmd gdb_packets conform_vectors snapshot_file)
OUT=${OUT:-/tmp/anyx86-fuzz}
for t in "${targets[@]}"; do
    # A snapshot seed is a whole (small) machine: 6 KB.
    case $t in snapshot_file) max_len=16384 ;; *) max_len=4096 ;; esac
    mkdir -p "$OUT/corpus/$t" "$OUT/artifacts/$t"
    cp -n fuzz/corpus/"$t"/* "$OUT/corpus/$t/" 2>/dev/null || true
    cargo +nightly fuzz run --fuzz-dir fuzz "$t" "$OUT/corpus/$t" -- \
        -max_total_time="$secs" -max_len=$max_len \
        -artifact_prefix="$OUT/artifacts/$t/" >"$OUT/$t.log" 2>&1 || echo "$t: finding, see $OUT/$t.log"
    grep -E '^#[0-9]+' "$OUT/$t.log" | tail -1 || true
done
