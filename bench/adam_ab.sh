#!/usr/bin/env bash
# Adam's training time per image, this build against an older one, measured the same way on both:
# `rlekf train` for one epoch of N1 and of N2 frames of DATA (Adam, seed 1, two test frames
# evaluated), wall seconds of each run; per image = (wall(N2) - wall(N1)) / (N2 - N1). The
# difference cancels start-up, dataset reading and the test evaluation; what remains is the
# training images and their train-set evaluation, the same pass in both builds (the old build
# has no separate training clock). REPS alternating rounds, the median per image is reported.
# Usage: adam_ab.sh OLD_EXE OLD_NAME NEW_EXE DATA THREADS [N1 N2 REPS]
set -euo pipefail
old=$1 oldname=$2 new=$3 data=$4 threads=$5 n1=${6:-40} n2=${7:-120} reps=${8:-3}
tmp=$(mktemp -d /tmp/bench-adam.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
wall() { # EXE FRAMES -> wall seconds of one epoch
    printf '{"model": {"sel": [81]}, "optimizer": {"type": "adam"}, "training": {"dataset": "%s", "epochs": 1, "seed": 1, "max_train_frames": %d, "eval_every": 100000, "eval_max_frames": 2}, "output": "%s/out"}\n' \
        "$data" "$2" "$tmp" > "$tmp/cfg.json"
    rm -rf "$tmp/out"
    local t0 t1
    t0=$(date +%s.%N)
    "$1" train "$tmp/cfg.json" --threads "$threads" --quiet > "$tmp/log" 2>&1 ||
        { echo "adam_ab.sh: $1 failed:" >&2; cat "$tmp/log" >&2; exit 1; }
    t1=$(date +%s.%N)
    echo "$t0 $t1" | awk '{print $2 - $1}'
}
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
: > "$tmp/old.txt"
: > "$tmp/new.txt"
for ((r = 0; r < reps; r++)); do
    for side in old new; do
        exe=$old; [ $side = new ] && exe=$new
        a=$(wall "$exe" "$n1")
        b=$(wall "$exe" "$n2")
        echo "$a $b" | awk -v d=$((n2 - n1)) '{print ($2 - $1) * 1000 / d}' >> "$tmp/$side.txt"
    done
done
mo=$(median < "$tmp/old.txt")
mn=$(median < "$tmp/new.txt")
echo "Adam, rlekf train on $(basename "$data"), $threads threads: ms per training image = (wall of $n2 frames - wall of $n1) / $((n2 - n1)), median of $reps"
echo
echo "| build | ms/image | rounds |"
echo "|---|---:|---|"
echo "| $oldname | $(printf %.1f "$mo") | $(tr '\n' ' ' < "$tmp/old.txt" | xargs printf '%.1f ') |"
echo "| this | $(printf %.1f "$mn") | $(tr '\n' ' ' < "$tmp/new.txt" | xargs printf '%.1f ') |"
echo
echo "$mo $mn" | awk -v o="$oldname" '{printf "speed-up against %s: %.2fx\n", o, $1 / $2}'
