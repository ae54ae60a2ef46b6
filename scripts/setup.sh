#!/usr/bin/env bash
# Install the Debian packages rlekf needs (only those missing), then configure and build.
# Usage: scripts/setup.sh [release|sanitize|peer]...   (default: release)
# Build trees: build/ (release), build-asan/ (AddressSanitizer + UBSan). `peer` builds nothing: it
# adds the packages of the PyTorch performance peer (../shared/peer/) that the train benchmark runs.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(gcc make cmake pkg-config git libopenblas-dev libhdf5-dev libcjson-dev libcsv-dev
      libcriterion-dev gnuplot-nox fonts-dejavu-core libopenmpi-dev openmpi-bin liblammps-dev)
for kind in "$@"; do
    [ "$kind" = peer ] && PKGS+=(python3-torch python3-h5py python3-numpy)
done
missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing missing packages: ${missing[*]}" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: need root to apt-get install ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# (GNU nproc obeys OMP_NUM_THREADS, which a caller may have set for its run: count the cores.)
jobs=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null || echo 2)
kinds=("$@")
[ ${#kinds[@]} -eq 0 ] && kinds=(release)
for kind in "${kinds[@]}"; do
    case "$kind" in
    peer) continue ;;
    release) dir=build; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
    sanitize) dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DRLEKF_SANITIZE=ON) ;;
    *) echo "setup: unknown build kind '$kind' (valid: release, sanitize, peer)" >&2; exit 2 ;;
    esac
    cmake -S . -B "$dir" "${flags[@]}" >/dev/null
    cmake --build "$dir" -j "$jobs" 2>&1 | grep -vE '^\[ *[0-9]+%\]' || true
    test -x "$dir/rlekf" || { echo "setup: build in $dir failed" >&2; exit 1; }
done
