# stability.gp: variant groups that probe stability (e.g. init-weight scale, Adam learning rate,
# outliers). One row per (dataset, group): the largest single-weight change per update and the
# change of the weight norm since the start against updates (log y, median over seeds, one line per variant), and the final
# test RMSE of energy (left axis) and force (right axis) against the group's x, with the number
# of diverged seeds written where any diverged.
# Inputs (gnuplot -e): fmt, out, plotdir, rep, ng; arrays indexed by group: GD dataset, GG group,
# GF curve files and GL labels (space-separated), XLO XHI XLOG x range and log flag, ELO EHI and
# FLO FHI final RMSE ranges (meV), DLO DHI weight-change range.
# Curve columns: 3 updates, 14 max weight change, 16 weight norm minus its value before
# training; stability.dat: 1 dataset,
# 2 group, 3 x, 6/7 final E/F (eV), 9 diverged seeds, 8..12 status counts.
W = 1500
H = 110 + 400 * ng
load plotdir . "/common.gp"
stab = rep . "/stability.dat"
ingroup(i) = strcol(1) eq GD[i] && strcol(2) eq GG[i]
nseeds(i) = column(8) + column(9) + column(10) + column(11) + column(12)

set multiplot title "Stability: weight updates and final accuracy per variant group (medians / means over seeds)" font ",13"
TOP = 1.0 - 70.0 / H
ROWH = (TOP - 20.0 / H) / ng
set format x "%g"; set format y "%g"
do for [i = 1:ng] {
    nf = words(GF[i])
    yt = TOP - (i - 1) * ROWH - 30.0 / H
    yb = TOP - i * ROWH + 60.0 / H
    set tmargin at screen yt; set bmargin at screen yb
    set xlabel "updates"
    unset y2tics; unset y2label; set ytics nomirror; set border 3
    set logscale y; unset logscale x
    set autoscale x
    set key at screen 0.995, yt right top Left reverse samplen 2 font ",10" \
        title sprintf("%s: %s", GD[i], GG[i])

    set lmargin at screen 0.06; set rmargin at screen 0.29
    set title sprintf("%s, group %s: largest weight change", GD[i], GG[i]) font ",11"
    set ylabel "max |Δw| in one update"
    set yrange [DLO[i] : DHI[i]]
    AX = "y"; TLO = DLO[i]; THI = DHI[i]
    eval LOGTICS
    plot for [k = 1:nf] rep . "/curves/" . word(GF[i], k) using 3:14 with linespoints \
        lc rgb col(k) pt 7 ps 0.5 title word(GL[i], k)

    set key off
    set lmargin at screen 0.36; set rmargin at screen 0.59
    set title sprintf("%s, group %s: drift of the weight norm", GD[i], GG[i]) font ",11"
    set ylabel "|w| − |w| before training"
    # the change, on a linear axis: the output biases dominate |w| itself, whose changes then
    # sit in its 6th digit
    unset logscale y
    set ytics autofreq
    set autoscale y
    plot for [k = 1:nf] rep . "/curves/" . word(GF[i], k) using 3:16 with linespoints \
        lc rgb col(k) pt 7 ps 0.5 notitle

    set lmargin at screen 0.67; set rmargin at screen 0.82
    set title sprintf("%s, group %s: final test RMSE", GD[i], GG[i]) font ",11"
    set xlabel sprintf("%s (x of the variant)", GG[i])
    set xrange [XLO[i] : XHI[i]]
    if (XLOG[i]) { set logscale x; AX = "x"; TLO = XLO[i]; THI = XHI[i]; eval LOGTICS } \
    else { unset logscale x; set xtics autofreq }
    set logscale y
    set yrange [ELO[i] : EHI[i]]
    AX = "y"; TLO = ELO[i]; THI = EHI[i]
    eval LOGTICS
    set logscale y2
    set y2range [FLO[i] : FHI[i]]
    AX = "y2"; TLO = FLO[i]; THI = FHI[i]
    eval LOGTICS
    set ytics nomirror; set y2tics tc rgb "#666666"; set border 11
    set format y2 "%g"
    # black and grey, not the variant colours of the other panels
    set ylabel "energy (meV/atom): solid, circles"
    set y2label "force (meV/Å): dashed, squares" tc rgb "#666666"
    plot stab using (ingroup(i) ? $3 : NaN):($6 * 1000) with linespoints lc rgb "black" pt 7 \
             ps 0.8 notitle, \
         stab using (ingroup(i) ? $3 : NaN):($7 * 1000) axes x1y2 with linespoints \
             lc rgb "#666666" dt 2 pt 5 ps 0.8 notitle, \
         stab using (ingroup(i) && $9 > 0 ? $3 : NaN):(ELO[i] * 1.25): \
             (sprintf("%d/%d diverged", $9, nseeds(i))) with labels font ",9" tc rgb "#aa0000" \
             notitle
    set xtics autofreq
    unset logscale y2
}
unset multiplot
