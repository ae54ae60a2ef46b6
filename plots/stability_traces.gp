# stability_traces.gp: page 2 of the stress tests. One row per variant group: the largest
# single-weight change in one update (log y) and the drift of the weight norm since the start
# (|w| − |w| before training, linear: the output biases dominate |w| itself, whose changes sit in
# its 6th digit) against updates, median over seeds. Colour = rank of the variant's x within the
# group (same colour, same perturbation; black = no x), line style = optimizer, point type =
# dataset where the group repeats a variant over datasets.
# Inputs (gnuplot -e): fmt, out, plotdir, rep, ng; per group i: TG name, TDS datasets, TF curve
# files, TL labels, TO optimizers, TC colour ranks, TP point-type ranks (rank of the dataset in
# the group where the group repeats the label over datasets, else 1) (space-separated, aligned), DLO DHI range of the weight change.
# Curve columns: 3 updates, 14 max weight change (median), 16 weight norm minus its value
# before training (median).
W = 1500
H = 85 + 380 * ng
load plotdir . "/common.gp"

optdt(o) = (o eq "rlekf") ? 1 : (o eq "adam") ? 2 : (o eq "lekf") ? 3 : 4
# filled circle, open circle, filled square, open square, filled and open triangle, ...
array DPT[8] = [7, 6, 5, 4, 9, 8, 13, 12]
dspt(r) = DPT[(r - 1) % 8 + 1]
rankcol(r) = (r == 0) ? "#000000" : col(r)

set multiplot title "Stability: per-update traces of every variant group (median over seeds)\ncolour = the variant's x within its group (black: no x); solid = rlekf, dashed = adam, dotted = lekf; point type = dataset where a group repeats a variant" font ",13"
TOP = 1.0 - 75.0 / H
ROWH = (TOP - 10.0 / H) / ng
# a row: heading, panel titles, panels, x label
set format x "%g"; set format y "%g"
set xlabel "updates (optimizer steps)"
do for [i = 1:ng] {
    nf = words(TF[i])
    ys = TOP - (i - 1) * ROWH
    yt = ys - 62.0 / H
    yb = ys - ROWH + 60.0 / H
    set tmargin at screen yt; set bmargin at screen yb
    set label 1 sprintf("group %s   (data: %s)", TG[i], TDS[i]) at screen 0.02, ys - 10.0 / H \
        left font ",12"
    set key at screen 0.995, yt right top Left reverse samplen 3 spacing 1.1 font ",10"
    set autoscale x

    set lmargin at screen 0.06; set rmargin at screen 0.40
    set title "largest change of one weight in one update" font ",11"
    set ylabel "max |Δw|"
    set logscale y
    set yrange [DLO[i] : DHI[i]]
    AX = "y"; TLO = DLO[i]; THI = DHI[i]
    eval LOGTICS
    plot for [k = 1:nf] rep . "/curves/" . word(TF[i], k) using 3:14 with linespoints \
        lc rgb rankcol(int(word(TC[i], k))) dt optdt(word(TO[i], k)) pt dspt(int(word(TP[i], k))) \
        ps 0.5 lw 1.3 title word(TL[i], k)
    unset label 1

    set key off
    set lmargin at screen 0.47; set rmargin at screen 0.81
    set title "drift of the weight norm" font ",11"
    set ylabel "|w| − |w| before training"
    unset logscale y
    set ytics autofreq
    set autoscale y
    plot for [k = 1:nf] rep . "/curves/" . word(TF[i], k) using 3:16 with linespoints \
        lc rgb rankcol(int(word(TC[i], k))) dt optdt(word(TO[i], k)) pt dspt(int(word(TP[i], k))) \
        ps 0.5 lw 1.3 notitle
}
unset multiplot
