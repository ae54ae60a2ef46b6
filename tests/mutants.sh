#!/usr/bin/env bash
# Mutation check of the training protocol (SPEC §3): each mutant is a one-line change that the test
# suite must catch. The tree is copied (tracked and untracked files, no build dirs) to a scratch
# folder, each mutant applied there, built and tested; a mutant the suite does not kill is an error.
# Usage: tests/mutants.sh [SUITE_REGEX]   (default: every suite; e.g. 'protocol|train' to be quick)
# Run by `make -f Makefile.bench mutants`; takes a few minutes (one build and test run per mutant).
set -euo pipefail
cd "$(dirname "$0")/.."
regex=${1:-.}
scratch=$(mktemp -d /tmp/rlekf-mutants-XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# file | perl substitution (must match exactly once) | what it breaks
MUTANTS=(
  'src/train/train.c|s/(group_atoms = )TRAIN_GROUP_ATOMS;/${1}5;/|force groups of 5 atoms instead of 6'
  'src/train/train.c|s{s \* tc->pref_f / \(n \* ncomp\)}{s * tc->pref_f / n}|the 1/18 dropped from the force Jacobian'
  'src/train/train.c|s/(\n\s*for \(size_t g = 0; g < ng; g\+\+\) \{)(\n\s*model_forward\(&r->m, r->ws\);\n\s*model_backward\(&r->m, r->ws, NULL, r->F\);)/$2$1/|forces computed once per image, not recomputed before each force group'
  'src/train/train.c|s/r->c\[k\] = 2\.0 \* rep\.pref_f/r->c[k] = rep.pref_f/|factor 2 dropped from the force term of the Adam loss gradient'
  'src/train/train.c|s/double a = 2\.0 \* rep\.pref_e/double a = rep.pref_e/|factor 2 dropped from the energy term of the Adam loss gradient'
  'src/train/train.c|s/double sgn = e < 0 \? -1\.0 : 1\.0;/double sgn = 1.0;/|energy residual sign not folded into h'
)

copy_tree() {
    rm -rf "$scratch/src"
    mkdir -p "$scratch/src"
    git ls-files -co --exclude-standard -z | grep -zv '^build' | xargs -0 cp --parents -t "$scratch/src"
}

status=0
for m in "${MUTANTS[@]}"; do
    IFS='|' read -r file subst what <<<"$m"
    copy_tree
    n=$(perl -0ne "\$n = ($subst); print \$n || 0" "$scratch/src/$file")
    if [ "$n" != 1 ]; then
        echo "mutants: pattern for '$what' matches $n times in $file (update tests/mutants.sh)"
        status=1
        continue
    fi
    perl -0pi -e "$subst" "$scratch/src/$file"
    if ! (cmake -S "$scratch/src" -B "$scratch/build" >/dev/null &&
          cmake --build "$scratch/build" -j "$(nproc)" >/dev/null 2>&1); then
        echo "mutants: '$what' does not build (a mutant must compile)"
        status=1
        continue
    fi
    if (cd "$scratch/build" && OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
            ctest -R "$regex" --timeout 900 >"$scratch/ctest.log" 2>&1); then
        echo "mutants: SURVIVED: $what"
        status=1
    else
        echo "mutants: killed: $what ($(grep -c 'Failed\|\*\*\*' "$scratch/ctest.log") failing suite lines)"
    fi
done
exit $status
