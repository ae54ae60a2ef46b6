#!/usr/bin/env bash
# The test command: install what is missing, build (release and ASan+UBSan), run every Criterion
# test suite in both builds. Exit status non-zero if any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
# Where the independent PyTorch implementation is found (../shared/peer/, as test_peer looks for
# it), its packages too (python3-torch, h5py: about 50 s of apt-get on a fresh machine), so that
# test_peer checks our predictions against it instead of skipping.
kinds=(release sanitize)
for up in .. ../.. ../../..; do
    if [ -f "${RLEKF_PEER:-$up/shared/peer/dp_ref.py}" ]; then kinds+=(peer); break; fi
done
scripts/setup.sh "${kinds[@]}"
# Each suite is one process on one thread, so ctest runs as many side by side as there are cores.
# Counted before OMP_NUM_THREADS is set below: GNU nproc obeys that variable, and so counted 1.
jobs=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null || echo 1)
# Tests check correctness, not speed: one thread each keeps them deterministic and uncontended.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for dir in build build-asan; do
    echo "== tests in $dir ($jobs at a time)"
    if ! (cd "$dir" && ctest --output-on-failure --timeout 900 -j "$jobs"); then status=1; fi
done
exit $status
