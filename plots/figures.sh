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

# 2. speedup (bars exist only for datasets with an Adam variant). bars.dat holds every slot's
# ratios, the seeds of either side that reached the threshold and its Adam reference; one join for
# the right panels, numbers copied, none computed: per variant, the best test RMSE over the
# baseline (accuracy.csv) of it and of its Adam reference at 1.2x for that quantity (bars.dat).
ngroups=$(rows "$rep/bars_groups.dat" | wc -l)
if [ "$ngroups" -gt 0 ]; then
    # The CSV columns are found by their header names (H[name] = column of the current file).
    hdr='FNR == 1 { delete H; if (FILENAME ~ /\.csv$/) { for (i = 1; i <= NF; i++) H[$i] = i; next } }'
    # close: 1 xcenter 2 dataset 3 label 4 Adam reference for E 5 for F; best test RMSE /
    # baseline mean/min/max: 6-8 variant E, 9-11 reference E, 12-14 variant F, 15-17 reference F
    awk -F, "$hdr"'
        function rel(q,  p) { p = "best_test_rmse_" q "_over_baseline"
            return $H[p "_mean"] " " $H[p "_min"] " " $H[p "_max"] }
        FILENAME ~ /accuracy.csv$/ { k = $1 SUBSEP $2; E[k] = rel("e"); F[k] = rel("f"); next }
        { split($0, c, " ") } c[1] ~ /^#/ { next }
        FILENAME ~ /bars.dat$/ { if (c[5] + 0 == 1.2) R[c[2] SUBSEP c[3] SUBSEP c[4]] = c[14]; next }
        { d = c[2]; v = d SUBSEP c[3]; re = R[v SUBSEP "energy"]; rf = R[v SUBSEP "force"]
          u = "nan nan nan"
          print c[1], d, c[3], re, rf, (v in E) ? E[v] : u, ((d SUBSEP re) in E) ? E[d SUBSEP re] : u,
                (v in F) ? F[v] : u, ((d SUBSEP rf) in F) ? F[d SUBSEP rf] : u }' \
        "$rep/accuracy.csv" "$rep/bars.dat" "$rep/bars_groups.dat" >"$tmp/close.dat"
    # left: dataset, variant and its Adam references one per line; right: dataset and variant
    # (its Adam points are the 1.2x references, said in the title)
    xtl=$(rows "$rep/bars_groups.dat" |
        awk '{ r = $4; gsub("/", "\\n", r)
               printf "%s\"%s\\n%s\\nvs %s\" %s", n++ ? ", " : "", $2, $3, r, $1 }')
    xtr=$(rows "$rep/bars_groups.dat" |
        awk '{ printf "%s\"%s\\n%s\" %s", n++ ? ", " : "", $2, $3, $1 }')
    vars="rep='$rep'; slots='$rep/bars.dat'; close='$tmp/close.dat'; ngroups=$ngroups"
    vars="$vars; xtl='$xtl'; xtr='$xtr'"
    for m in 1 2 3; do
        read -r lo hi n < <(range "$rep/bars.dat" $((m + 5)))
        # range() widened for a log axis; the script wants the raw extremes
        [ "$n" -gt 0 ] && vars="$vars; lo$m=$lo*1.6; hi$m=$hi/1.6" || vars="$vars; lo$m=1; hi$m=1"
        vars="$vars; has$m=$((n > 0))"
    done
    # the right panels always show the lines at 1, 1.2 and 1.5
    ends='END { print "- - - - - 1 1.5 - - - - 1 1.5" }'
    read -r celo cehi _ < <(awk "{print} $ends" "$tmp/close.dat" | range /dev/stdin 6,7,8,9,10,11)
    read -r cflo cfhi _ < <(awk "{print} $ends" "$tmp/close.dat" | range /dev/stdin 12,13,14,15,16,17)
    gp speedup.gp speedup "$vars; celo=$celo; cehi=$cehi; cflo=$cflo; cfhi=$cfhi"
else
    stale speedup "no dataset with both an Adam and another variant"
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

# 4b. batch_size: the datasets and optimizer types that ran at two or more batch sizes (rlekf
# report writes only those rows to batch_size.dat)
if [ -n "$(rows "$rep/batch_size.dat" 2>/dev/null)" ]; then
    series=$(rows "$rep/batch_size.dat" | awk '!seen[$1 " " $3]++ {print $1, $3}')
    sds=$(echo "$series" | awk '{printf "%s ", $1}')
    sos=$(echo "$series" | awk '{printf "%s ", $2}')
    read -r xlo xhi _ < <(range "$rep/batch_size.dat" 4)
    read -r lo1 hi1 n1 < <(range "$rep/batch_size.dat" 21)
    read -r lo2 hi2 n2 < <(range "$rep/batch_size.dat" 10,11,12 1 1000)
    gp batch_size.gp batch_size "rep='$rep'; sds='$sds'; sos='$sos'; xlo=$xlo; xhi=$xhi; \
        lo1=$lo1; hi1=$hi1; has1=$((n1 > 0)); lo2=$lo2; hi2=$hi2; has2=$((n2 > 0))"
else
    stale batch_size "no optimizer at two or more batch sizes"
fi

# 5. stability (variant groups). Page 1, stability: per stress kind (group) other than
# block_size (figure 4) with at least two distinct x, the final test RMSE against x, every
# optimizer of the group on the same axes. Page 2, stability_traces: per group, the per-update
# traces of every variant.
st="$tmp/stability.dat"
# Columns appended to stability.dat: 15 = the group's index (order of first appearance), 16 = the
# series a row belongs to on page 1: its optimizer, or optimizer@dataset when that optimizer has
# the same x twice in the group (the group then repeats over datasets); rows sorted by group,
# series and x so every line runs in x order.
rows "$rep/stability.dat" | awk 'NR == FNR { if ($3 != "nan") { k = $2 SUBSEP $5 SUBSEP $3
        if (k in X) D[$2 SUBSEP $5] = 1; X[k] = 1 }; next }
    !($2 in G) { G[$2] = ++n }
    { print $0, G[$2], (($2 SUBSEP $5) in D) ? $5 "@" $1 : $5 }' - <(rows "$rep/stability.dat") \
    >"$st.unsorted"
sort -s -k15,15n -k16,16 -k3,3g "$st.unsorted" >"$st"
ngall=$(awk 'END { print $15 + 0 }' "$st")
# list COND AWK-EXPR [SEP]: the distinct values of AWK-EXPR over the rows meeting COND, in the
# order of stability.dat, joined by SEP (default a space)
list() {
    awk "$1 { v = $2; if (!(v in S)) { S[v] = 1; printf \"%s%s\", n++ ? \"${3:- }\" : \"\", v } }" \
        "$st.unsorted"
}
if [ "$ngall" -gt 0 ]; then
    p1="" omitted=""
    for gi in $(seq 1 "$ngall"); do
        cond="\$15 == $gi"
        gr=$(list "$cond" '$2')
        xs=$(list "$cond && \$3 != \"nan\"" '$3' ', ')
        nx=$(list "$cond && \$3 != \"nan\"" '$3' | wc -w)
        if [ "$gr" = block_size ]; then
            omitted="$omitted; block_size (see the ablation_block_size figure)"
        elif [ "$nx" -lt 2 ]; then
            omitted="$omitted; $gr (one value of x${xs:+, $xs}: a single point is no curve)"
        else
            p1="$p1 $gi"
        fi
    done
    np=$(echo $p1 | wc -w)
    if [ "$np" -gt 0 ]; then
        vars="rep='$rep'; stab='$st'; np=$np; omitted='${omitted#; }'"
        for a in GG GI GDS XT XLO XHI XLOG ELO EHI FLO FHI DIV SER SOP SDT SHX SHR; do
            vars="$vars; array $a[$np]"
        done
        i=1
        for gi in $p1; do
            cond="\$15 == $gi"
            xc="$cond && \$3 != \"nan\""
            # log x only if every x of the group is positive; else a linear axis with a margin
            read -r xlo xhi nxp < <(range "$st" 3 "$xc")
            xlog=$((nxp == $(awk "$xc" "$st" | wc -l)))
            if [ "$xlog" = 0 ]; then
                read -r xlo xhi < <(awk "$xc { if (n == 0 || \$3 < lo) lo = \$3
                    if (n == 0 || \$3 > hi) hi = \$3; n++ }
                    END { w = 0.08 * (hi - lo); print lo - w, hi + w }" "$st")
            fi
            read -r elo ehi _ < <(range "$st" 6 "$cond" 1000)
            read -r flo fhi _ < <(range "$st" 7 "$cond" 1000)
            # per series: optimizer, dash type (rank of its dataset in the group, 1 if the series
            # spans datasets), has rows with x, has a row without x (a reference line)
            ser=$(list "$cond" '$16')
            sop="" sdt="" shx="" shr=""
            dss=$(list "$cond" '$1')
            for sk in $ser; do
                sop="$sop${sk%%@*} "
                r=1
                case "$sk" in *@*) r=$(echo "$dss" | tr ' ' '\n' | grep -nxF "${sk#*@}" | cut -d: -f1) ;; esac
                sdt="$sdt$r "
                shx="$shx$(awk "$xc && \$16 == \"$sk\" { n++ } END { print (n > 0) ? 1 : 0 }" "$st") "
                shr="$shr$(awk "$cond && \$3 == \"nan\" && \$16 == \"$sk\" { n++ } END { print (n > 0) ? 1 : 0 }" "$st") "
            done
            vars="$vars; GG[$i]='$(list "$cond" '$2')'; GI[$i]=$gi; GDS[$i]='$(list "$cond" '$1' ', ')'"
            vars="$vars; XT[$i]='$(list "$xc" '$3' ', ')'; XLO[$i]=$xlo; XHI[$i]=$xhi; XLOG[$i]=$xlog"
            vars="$vars; ELO[$i]=$elo; EHI[$i]=$ehi; FLO[$i]=$flo; FHI[$i]=$fhi"
            vars="$vars; DIV[$i]=$(awk "$cond && \$9 > 0 { n++ } END { print (n > 0) ? 1 : 0 }" "$st")"
            vars="$vars; SER[$i]='$ser'; SOP[$i]='$sop'; SDT[$i]='$sdt'; SHX[$i]='$shx'; SHR[$i]='$shr'"
            i=$((i + 1))
        done
        gp stability.gp stability "$vars"
    else
        stale stability "no stress group (other than block_size) with two or more values of x"
    fi
    # page 2: every group with a curve; colour = rank of x in the group, dash = optimizer,
    # point type = rank of the dataset in the group where the group repeats a label over datasets
    vars="rep='$rep'; ng=$ngall"
    for a in TG TDS TF TL TO TC TP DLO DHI; do vars="$vars; array $a[$ngall]"; done
    for gi in $(seq 1 "$ngall"); do
        cond="\$15 == $gi"
        sel="$cond && \$14 != \"-\""
        # each EXPR: EXPR for every row of the group with a curve, space-separated; EXPR may
        # use R[x] = rank of x among the group's distinct x, P[dataset] = rank of the dataset,
        # L[label] = how often the label occurs in the group
        each() {
            awk -v xr="$(awk "$cond && \$3 != \"nan\" { print \$3 }" "$st" | sort -g -u)" \
                -v dss="$(list "$cond" '$1')" "BEGIN { n = split(xr, X, \"\n\")
                    for (k = 1; k <= n; k++) R[X[k]] = k
                    n = split(dss, D, \" \"); for (k = 1; k <= n; k++) P[D[k]] = k }
                NR == FNR { if ($sel) L[\$4]++; next }
                $sel { printf \"%s%s\", c++ ? \" \" : \"\", $1 }" "$st.unsorted" "$st.unsorted"
        }
        tf=$(each '$14')
        # a label the group repeats over datasets gets its dataset; no x is colour 0 (black)
        tl=$(each '$4 (L[$4] > 1 ? "(" $1 ")" : "")')
        tc=$(each '(($3 in R) ? R[$3] : 0)')
        read -r dlo dhi _ < <(for f in $tf; do rows "$rep/curves/$f"; done | range /dev/stdin 14)
        vars="$vars; TG[$gi]='$(list "$cond" '$2')'; TDS[$gi]='$(list "$cond" '$1' ', ')'"
        vars="$vars; TF[$gi]='$tf'; TL[$gi]='$tl'; TO[$gi]='$(each '$5')'"
        vars="$vars; TC[$gi]='$tc'; TP[$gi]='$(each '(L[$4] > 1 ? P[$1] : 1)')'; DLO[$gi]=$dlo; DHI[$gi]=$dhi"
    done
    gp stability_traces.gp stability_traces "$vars"
else
    stale stability "no variant group"
    rm -f "$fig/stability_traces.png" "$fig/stability_traces.svg"
fi

# 6. md_<dataset>: NVE energy against time and g(r) against the DFT frames, one line per variant
# (md_cells.tsv: the first seed with MD of each variant; the report writes the tables)
if [ -s "$rep/md_cells.tsv" ] && [ -n "$(rows "$rep/md_cells.tsv")" ]; then
    for ds in $datasets; do
        efiles="" rfiles="" labels="" endt="" ende="" pairs=""
        while IFS=$'\t' read -r d label opt seed ens status stable_ps efile rfile prs; do
            [ "$d" = "$ds" ] && [ "$ens" = nve ] || continue
            efiles="$efiles$efile " rfiles="$rfiles$rfile " labels="$labels$label "
            [ -n "$pairs" ] || pairs=$(echo "$prs" | tr ',' ' ')
            # an unstable run is marked where its table ends (its last row, copied)
            if [ "$status" = unstable ] && [ -n "$(rows "$rep/$efile")" ]; then
                read -r t e < <(rows "$rep/$efile" | tail -1)
            else
                t=NaN e=NaN
            fi
            endt="$endt$t " ende="$ende$e "
        done < <(rows "$rep/md_cells.tsv")
        if [ -z "$efiles" ]; then
            echo "figures.sh: $ds: no NVE run, no md figure"
            continue
        fi
        gp md.gp "md_$ds" "rep='$rep'; ds='$ds'; efiles='$efiles'; rfiles='$rfiles'; \
            labels='$labels'; endt='$endt'; ende='$ende'; pairs='$pairs'"
    done
else
    for f in "$fig"/md_*.png; do
        [ -e "$f" ] || continue
        n=$(basename "$f" .png)
        stale "$n" "no MD in this experiment"
    done
fi
