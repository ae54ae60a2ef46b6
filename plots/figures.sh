#!/usr/bin/env bash
# figures.sh: draw every figure of an experiment with gnuplot from the tables of `rlekf report`.
#
# usage: plots/figures.sh results/<experiment> [REPORT_DIR]
#   REPORT_DIR defaults to results/<experiment>/report (run `rlekf report` first; the make
#   target `make -f Makefile.bench figures EXP=<experiment>` does both).
# Writes PNG and SVG into results/<experiment>/figures/ (see plots/README.md for the list).
# Environment: RLEKF = the rlekf executable for the parity evaluations (default build/rlekf);
# FIGURES_DIR = where the figures go (default results/<experiment>/figures).
# Fails (exit 1) if gnuplot writes anything to stderr: a warning is a figure that reads badly.
set -euo pipefail

die() { echo "figures.sh: $*" >&2; exit "${2:-1}"; }
[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: plots/figures.sh results/<experiment> [REPORT_DIR]" 2
exp=${1%/}
rep=${2:-$exp/report}
rep=${rep%/}
plotdir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RLEKF=${RLEKF:-build/rlekf}
[ -d "$exp" ] || die "$exp: no such experiment folder" 2
[ -f "$rep/variants.dat" ] || die "$rep/variants.dat: missing (run: $RLEKF report $exp)" 2
command -v gnuplot >/dev/null || die "gnuplot not found (scripts/setup.sh installs gnuplot-nox)"
case "$exp$rep" in *"'"*) die "paths with a single quote are not supported: $exp" 2 ;; esac
fig=${FIGURES_DIR:-$exp/figures}
mkdir -p "$fig"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# gp SCRIPT NAME VARS: render plots/SCRIPT to $fig/NAME.png and .svg; gnuplot gets VARS (gnuplot
# assignments) plus fmt, out and plotdir. Each file is drawn in $tmp and moved when complete.
gp() {
    local script=$1 name=$2 vars=$3 fmt
    for fmt in png svg; do
        if ! gnuplot -e "fmt='$fmt'; out='$tmp/$name'; plotdir='$plotdir'; $vars" \
            "$plotdir/$script" 2>"$tmp/gp.err" || [ -s "$tmp/gp.err" ]; then
            echo "figures.sh: gnuplot $script for $name.$fmt reported:" >&2
            cat "$tmp/gp.err" >&2
            exit 1
        fi
        mv "$tmp/$name.$fmt" "$fig/$name.$fmt"
    done
    echo "$fig/$name.png"
}

# stale NAME WHY: a figure this experiment does not have: say why and remove an old drawing of it.
stale() {
    echo "figures.sh: $2, no $1 figure"
    rm -f "$fig/$1.png" "$fig/$1.svg"
}

# Rows of a whitespace table without comment lines.
rows() { grep -v '^#' "$1" || true; }
# range FILE COLS [AWK-CONDITION] [SCALE]: "lo hi n" over the finite positive values of the
# comma-separated columns (times SCALE) of the rows meeting the condition, widened by a factor
# 1.6 each way for a log axis; "1 10 0" if there are none.
range() {
    rows "$1" | awk -v cols="$2" -v s="${4:-1}" "BEGIN { nc = split(cols, C, \",\") }
        ${3:-1} { for (k = 1; k <= nc; k++) {
            v = \$(C[k]); if (v == \"nan\" || v == \"-nan\" || v == \"inf\" || v + 0 <= 0) continue
            v = v * s; if (n == 0 || v < lo) lo = v; if (n == 0 || v > hi) hi = v; n++ } }
        END { if (n == 0) print 1, 10, 0; else printf \"%.6g %.6g %d\\n\", lo / 1.6, hi * 1.6, n }"
}
num_or_nan() { case "$1" in nan|-nan|"") echo NaN ;; *) echo "$1" ;; esac; }

datasets=$(rows "$rep/variants.dat" | awk '!seen[$1]++ {print $1}')

# 1. convergence_<dataset>
for ds in $datasets; do
    files=$(rows "$rep/variants.dat" | awk -v d="$ds" '$1 == d && $8 != "-" {printf "%s ", $8}')
    labels=$(rows "$rep/variants.dat" | awk -v d="$ds" '$1 == d && $8 != "-" {printf "%s ", $2}')
    read -r be bf < <(rows "$rep/baselines.dat" | awk -v d="$ds" '$1 == d {print $2, $3}')
    if [ -z "$files" ] || [ "$(num_or_nan "$be")" = NaN ] || [ "$(num_or_nan "$bf")" = NaN ]; then
        echo "figures.sh: $ds: no finite test RMSE in any run, no convergence figure"
        continue
    fi
    # y ranges over the min/max columns of every curve and the threshold lines
    read -r elo ehi _ < <(for f in $files; do rows "$rep/curves/$f"; done |
        awk -v b="$be" '{print} END {print 0, 0, 0, 0, b, b * 1.5}' | range /dev/stdin 5,6,7)
    read -r flo fhi _ < <(for f in $files; do rows "$rep/curves/$f"; done |
        awk -v b="$bf" '{print} END {print 0, 0, 0, 0, 0, 0, 0, b, b * 1.5}' | range /dev/stdin 8,9,10)
    gp convergence.gp "convergence_$ds" "rep='$rep'; ds='$ds'; files='$files'; labels='$labels'; \
        be=$be; bf=$bf; elo=$elo; ehi=$ehi; flo=$flo; fhi=$fhi"
done

# 2. speedup (bars exist only for datasets with an Adam variant)
ngroups=$(rows "$rep/bars_groups.dat" | wc -l)
if [ "$ngroups" -gt 0 ]; then
    vars="rep='$rep'; ngroups=$ngroups"
    for m in 1 2 3; do
        read -r lo hi n < <(range "$rep/bars.dat" $((m + 5)))
        # range() widened for a log axis; the script wants the raw extremes
        [ "$n" -gt 0 ] && vars="$vars; lo$m=$lo*1.6; hi$m=$hi/1.6" || vars="$vars; lo$m=1; hi$m=1"
    done
    gp speedup.gp speedup "$vars"
else
    echo "figures.sh: no dataset with both an Adam and another variant, no speedup figure"
fi

# 3. parity_<dataset>: rlekf eval on the test frames of one cell per variant
for ds in $datasets; do
    prefixes="" labels="" seeds=""
    while IFS=$'\t' read -r d label opt seed model data; do
        [ "$d" = "$ds" ] || continue
        model="$exp/$model"
        # a relative dataset path is relative to where `rlekf run` ran: here or the repository
        case "$data" in /*|-) ;; *) [ -f "$data" ] || data="$plotdir/../$data" ;; esac
        if [ "$data" = "-" ] || [ ! -f "$data" ]; then
            echo "figures.sh: $ds/$label: dataset file '$data' (config.json) not found, no parity panel"
            continue
        fi
        p="$tmp/parity_${ds}__$label"
        if ! "$RLEKF" eval --model "$model" --data "$data" --out "$p.h5" --parity "$p" \
            >"$tmp/eval.log" 2>&1; then
            cat "$tmp/eval.log" >&2
            die "rlekf eval failed for $model"
        fi
        prefixes="$prefixes$p " labels="$labels$label " seeds="$seeds$seed "
    done < <(rows "$rep/parity_cells.tsv")
    [ -n "$prefixes" ] || continue
    gp parity.gp "parity_$ds" "ds='$ds'; prefixes='$prefixes'; labels='$labels'; seeds='$seeds'"
done

# 4. ablation_block_size: the datasets where rlekf/lekf run at two or more block sizes (a
# sweep; a single N_b per dataset, as in a comparison study, is no curve)
sweep=$(rows "$rep/ablation.dat" | awk '($3 == "rlekf" || $3 == "lekf") && !seen[$1 " " $4]++ { n[$1]++ }
    END { for (d in n) if (n[d] >= 2) print d }' | sort | tr '\n' ' ')
if [ -n "$sweep" ]; then
    insweep="index(\" $sweep \", \" \" \$1 \" \") > 0"
    series=$(rows "$rep/ablation.dat" | awk "$insweep && !seen[\$1 \" \" \$3]++ {print \$1, \$3}")
    sds=$(echo "$series" | awk '{printf "%s ", $1}')
    sos=$(echo "$series" | awk '{printf "%s ", $2}')
    read -r xlo xhi _ < <(range "$rep/ablation.dat" 4 "$insweep")
    vars="rep='$rep'; sds='$sds'; sos='$sos'; xlo=$xlo; xhi=$xhi"
    k=1
    for c in 8 7 9 10; do
        read -r lo hi n < <(range "$rep/ablation.dat" $c "$insweep")
        vars="$vars; lo$k=$lo; hi$k=$hi; has$k=$((n > 0))"
        k=$((k + 1))
    done
    gp ablation.gp ablation_block_size "$vars"
else
    stale ablation_block_size "no dataset with rlekf or lekf at two or more block sizes"
fi

# 5. stability: variants with a group; one row of panels per (dataset, group)
if [ "$(rows "$rep/stability.dat" | wc -l)" -ge 1 ]; then
    groups=$(rows "$rep/stability.dat" | awk '!seen[$1 " " $2]++ {print $1 ":" $2}')
    ng=$(echo "$groups" | wc -l)
    vars="rep='$rep'; ng=$ng"
    for a in GD GG GF GL XLO XHI XLOG ELO EHI FLO FHI DLO DHI; do vars="$vars; array $a[$ng]"; done
    i=1
    for g in $groups; do
        d=${g%%:*} gr=${g#*:}
        cond="\$1 == \"$d\" && \$2 == \"$gr\""
        gf=$(rows "$rep/stability.dat" | awk "$cond && \$14 != \"-\" {printf \"%s \", \$14}")
        gl=$(rows "$rep/stability.dat" | awk "$cond && \$14 != \"-\" {printf \"%s \", \$4}")
        # log x only if every x of the group is positive; else a linear axis with a margin
        read -r xlo xhi nx < <(range "$rep/stability.dat" 3 "$cond")
        nxall=$(rows "$rep/stability.dat" | awk "$cond" | wc -l)
        xlog=$((nx == nxall))
        if [ "$xlog" = 0 ]; then
            read -r xlo xhi < <(rows "$rep/stability.dat" | awk "$cond && \$3 != \"nan\" {
                if (n == 0 || \$3 < lo) lo = \$3; if (n == 0 || \$3 > hi) hi = \$3; n++ }
                END { if (n == 0) print 0, 1; else { w = (hi > lo) ? 0.1 * (hi - lo) : 1
                      print lo - w, hi + w } }")
        fi
        read -r elo ehi _ < <(range "$rep/stability.dat" 6 "$cond" 1000)
        read -r flo fhi _ < <(range "$rep/stability.dat" 7 "$cond" 1000)
        dlo=1 dhi=10
        if [ -n "$gf" ]; then
            read -r dlo dhi _ < <(for f in $gf; do rows "$rep/curves/$f"; done | range /dev/stdin 14)
        fi
        vars="$vars; GD[$i]='$d'; GG[$i]='$gr'; GF[$i]='$gf'; GL[$i]='$gl'"
        vars="$vars; XLO[$i]=$xlo; XHI[$i]=$xhi; XLOG[$i]=$xlog; ELO[$i]=$elo; EHI[$i]=$ehi"
        vars="$vars; FLO[$i]=$flo; FHI[$i]=$fhi; DLO[$i]=$dlo; DHI[$i]=$dhi"
        i=$((i + 1))
    done
    gp stability.gp stability "$vars"
fi
