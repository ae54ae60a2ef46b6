#!/usr/bin/env bash
# System time of whole training runs: one epoch of `rlekf train` on DATA with THREADS threads, for
# rlekf N_b 5120 (covariance float64 and float32) and adam, each timed by bash's `time` (the
# kernel's user and system CPU seconds of the process and its threads, and wall seconds).
# Issue #10 asks for system time under 5 % of wall. Usage: systime.sh RLEKF DATA.h5 THREADS
# Prints a Markdown table; exit status 1 if a run fails.
set -euo pipefail
exe=$1 data=$2 threads=$3
tmp=$(mktemp -d /tmp/bench-systime.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "One epoch of rlekf train on $(basename "$data"), --threads $threads (bash time)"
echo
echo "| optimizer | wall s | user s | sys s | sys / wall | training clock s |"
echo "|---|---:|---:|---:|---:|---:|"
for run in "rlekf float64" "rlekf float32" "adam -"; do
    set -- $run
    opt="\"type\": \"$1\""
    [ "$1" = rlekf ] && opt="$opt, \"block_size\": 5120, \"covariance\": \"$2\""
    printf '{"model": {"sel": "auto"}, "optimizer": {%s}, "training": {"dataset": "%s", "epochs": 1, "seed": 1, "eval_every": 100000}, "output": "%s/out"}\n' \
        "$opt" "$data" "$tmp" > "$tmp/cfg.json"
    rm -rf "$tmp/out"
    TIMEFORMAT="%R %U %S"
    { time "$exe" train "$tmp/cfg.json" --threads "$threads" --quiet > "$tmp/log" 2>&1; } 2> "$tmp/time" ||
        { echo "systime.sh: $run failed:" >&2; cat "$tmp/log" >&2; exit 1; }
    read -r wall user sys < "$tmp/time"
    train=$(tail -1 "$tmp/out/metrics.csv" | cut -d, -f5)
    name=$1; [ "$1" = rlekf ] && name="rlekf $2"
    awk -v n="$name" -v w="$wall" -v u="$user" -v s="$sys" -v t="$train" \
        'BEGIN { printf "| %s | %.1f | %.1f | %.2f | %.1f %% | %.1f |\n", n, w, u, s, 100 * s / w, t }'
done
