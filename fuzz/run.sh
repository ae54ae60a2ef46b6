#!/bin/sh
# Run libFuzzer targets for a fixed time each (driven by `make -f Makefile.bench fuzz`).
# Usage: fuzz/run.sh BUILD OUT SECONDS TARGET...   (from the source tree's top)
#   BUILD    a build tree configured with -DRLEKF_FUZZ=ON (holds fuzz_<target> and rlekf)
#   OUT      results: OUT/seeds/<t> (regenerated from the shipped files by fuzz/make_seeds.py),
#            OUT/corpus/<t> (inputs libFuzzer found interesting, kept between runs),
#            OUT/crashes/<t>/ (crash-*, leak-*, timeout-*, oom-* inputs: new findings),
#            OUT/logs/<t>.log, OUT/logs/<t>.triage (fuzz/triage.py on the new findings: rlekf's
#            code or a library's), and a summary table on stdout.
#   SECONDS  fuzzing time per target
# The saved regression inputs tests/data/fuzz/<t>/ are read as seeds too. libFuzzer runs in fork
# mode and keeps going after a finding, so one bad spot (e.g. a crash inside libhdf5) does not end
# a target's run: every distinct finding of the whole time lands in OUT/crashes/<t>/. Environment:
#   FUZZ_TIMEOUT  seconds one input may take before it counts as a hang (default 10)
#   FUZZ_RSS_MB   memory limit of a target process in MiB (default 2048)
#   FUZZ_JOBS     fuzzing processes per target (default 1)
# Exits 1 if any finding is in rlekf's code (a crash, leak, hang or sanitizer report whose first
# frame outside the runtime is rlekf's, or a broken harness contract). Findings inside a library
# (libhdf5 1.10 has known crashes and leaks on corrupt files; fuzz/README.md) are listed, not
# failed.
set -u
[ $# -ge 4 ] || { echo "usage: fuzz/run.sh BUILD OUT SECONDS TARGET..." >&2; exit 2; }
build=$1 out=$2 seconds=$3
shift 3
# Inputs are written to a memory file system when there is one (a directory format writes
# a dozen files per input), in a directory of this run's own: a process that crashes leaves its
# input files behind, and they are removed with it at the end.
base=${TMPDIR:-/tmp}
[ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
TMPDIR=$(mktemp -d "$base/rlekf-fuzz-run.XXXXXX") || exit 1
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
timeout_s=${FUZZ_TIMEOUT:-10}
rss_mb=${FUZZ_RSS_MB:-2048}
jobs=${FUZZ_JOBS:-1}
mkdir -p "$out/seeds" "$out/corpus" "$out/crashes" "$out/logs" || exit 1
# Seeds from the shipped data; the HDF5 ones are written by this build's rlekf (its leak report
# at exit, if any, is not what is being fuzzed here).
ASAN_OPTIONS=detect_leaks=0 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
    python3 fuzz/make_seeds.py "$out/seeds" "$build/rlekf" >/dev/null || exit 1
# Sanitizer reports abort so that libFuzzer saves the input; leaks are checked after each input.
# A huge malloc returns NULL (as it does without ASan) instead of aborting: rlekf's own code then
# answers RK_ENOMEM, which the harness reports as a broken contract. "Huge" is below libFuzzer's
# malloc limit (= the RSS limit), whose report would otherwise fire inside the child in which
# h5io reads an HDF5 file first and record the input as a finding of the fuzzing process.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1:allocator_may_return_null=1:max_allocation_size_mb=$((rss_mb - 1))}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Leaks inside libhdf5 on a corrupt file (fuzz/lsan-libhdf5.supp): the HDF5 targets reread in
# process every file the guard's child survived, including ones libhdf5 refuses half-way.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(pwd)/fuzz/lsan-libhdf5.supp:print_suppressions=0}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
status=0
summary=""
for t in "$@"; do
    exe="$build/fuzz_$t"
    [ -x "$exe" ] || { echo "fuzz/run.sh: no target $exe" >&2; exit 2; }
    mkdir -p "$out/corpus/$t" "$out/crashes/$t"
    dict=""
    [ -f "fuzz/dict/$t.dict" ] && dict="-dict=fuzz/dict/$t.dict"
    regress=""
    [ -d "tests/data/fuzz/$t" ] && regress="tests/data/fuzz/$t"
    marker="$out/logs/$t.start"
    : >"$marker"
    echo "fuzz $t: ${seconds}s ..." >&2
    # shellcheck disable=SC2086
    "$exe" -fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -max_total_time="$seconds" -timeout="$timeout_s" -rss_limit_mb="$rss_mb" $dict \
        -artifact_prefix="$out/crashes/$t/" "$out/corpus/$t" "$out/seeds/$t" $regress \
        >"$out/logs/$t.log" 2>&1
    rc=$?
    # fork mode's status lines: "#<execs>: cov: ... time: <s>s job: ..."
    last=$(grep '^#[0-9]*: cov:' "$out/logs/$t.log" | tail -n 1)
    execs=$(echo "$last" | sed -n 's/^#\([0-9]*\):.*/\1/p')
    secs=$(echo "$last" | sed -n 's/.* time: \([0-9]*\)s.*/\1/p')
    new=$(find "$out/crashes/$t" -type f -newer "$marker" | sort)
    found=$(echo "$new" | grep -c .)
    : >"$out/logs/$t.triage"
    # shellcheck disable=SC2086
    [ "$found" -gt 0 ] && python3 fuzz/triage.py "$exe" $new >"$out/logs/$t.triage"
    ours=$(grep -c '  rlekf  ' "$out/logs/$t.triage")
    libs=$(grep -c '  lib:' "$out/logs/$t.triage")
    alone=$(grep -c '  ok  \|  timeout  ' "$out/logs/$t.triage")
    if [ "$ours" -gt 0 ] || { [ $rc -ne 0 ] && [ "$found" -eq 0 ]; }; then
        status=1
        what="FOUND $ours in rlekf code, $libs in libraries, $alone not reproducible alone"
    elif [ "$found" -gt 0 ]; then
        what="$libs in libraries, $alone not reproducible alone (none in rlekf code)"
    else
        what="nothing found"
    fi
    [ "$found" -gt 0 ] && what="$what; see $out/logs/$t.triage"
    summary="$summary$(printf '%-11s %12s execs %6ss  %s' "$t" "${execs:-?}" "${secs:-?}" "$what")
"
done
printf '%s' "$summary"
exit $status
