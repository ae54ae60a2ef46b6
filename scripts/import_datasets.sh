#!/usr/bin/env bash
# Build the rlekf dataset files datasets/<name>.h5 from the raw sets shipped in datasets/.
# Usage: scripts/import_datasets.sh [Cu H2O HfO2 LiGePS Si_mlearn Li_mlearn ...]   (default: all six)
# The rlekf executable is build/rlekf unless the RLEKF environment variable names another one.
# A target newer than every one of its source files is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

RLEKF=${RLEKF:-build/rlekf}
ALL=(Cu H2O HfO2 LiGePS Si_mlearn Li_mlearn)

# Sources (files or directories) of each dataset, relative to datasets/.
sources() {
    case "$1" in
    Cu) echo "Cu/0_300_MOVEMENT Cu/1_500_MOVEMENT" ;;
    H2O) echo "H2O/data_0 H2O/data_1 H2O/data_2 H2O/data_3" ;;
    HfO2) echo "HfO2/pwdata" ;;
    LiGePS) echo "LiGePS/100_1200k_movement" ;;
    Si_mlearn) echo "Si_mlearn/training.json Si_mlearn/test.json" ;;
    Li_mlearn) echo "Li_mlearn/training.json Li_mlearn/test.json" ;;
    *) return 1 ;;
    esac
}

# True if the target is missing or any file under the sources is newer than it.
stale() {
    local target=$1
    shift
    [ -e "$target" ] || return 0
    [ -n "$(find "$@" -type f -newer "$target" -print -quit)" ]
}

names=("$@")
[ ${#names[@]} -eq 0 ] && names=("${ALL[@]}")
for n in "${names[@]}"; do
    if ! src=$(sources "$n"); then
        echo "import_datasets: unknown dataset '$n' (valid: ${ALL[*]})" >&2
        exit 2
    fi
done
if [ ! -x "$RLEKF" ]; then
    echo "import_datasets: $RLEKF is not an executable (build first, or set RLEKF)" >&2
    exit 1
fi

for n in "${names[@]}"; do
    paths=()
    for s in $(sources "$n"); do paths+=("datasets/$s"); done
    out="datasets/$n.h5"
    if stale "$out" "${paths[@]}"; then
        echo "== $out"
        "$RLEKF" import -o "$out" "${paths[@]}"
    else
        echo "== $out is up to date"
    fi
done
