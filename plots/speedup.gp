# speedup.gp: how much faster than Adam each variant reaches 1.2x and 1.5x the baseline RMSE,
# and, beside it, how close either side got. The Adam reference of each bar is the strongest Adam
# variant for that quantity and threshold (rlekf report), so it may differ between bars.
# Left, three stacked panels (epochs, updates, training time): per dataset and non-Adam variant a
# group of four bars (energy and force at 1.2x, then at 1.5x) of ratio = Adam's value / the
# variant's value (mean over seeds), drawn from 1 on a log axis (above the line: the variant is
# faster). A ratio needs every seed of both sides to reach the threshold: a table above the
# panels gives, per slot, how many seeds of the variant and of Adam did (red: not all); a slot
# without a ratio has a × on the line, labelled "at start" (reached at the first evaluation,
# before any update) or "no runs" when that is the reason.
# Right, two panels (energy, force): per variant the best test RMSE over the dataset's baseline
# of the variant (black circle) and of its Adam reference at 1.2x for that quantity (grey square),
# mean over seeds with a min–max bar, against the baseline (1, solid), 1.2 (dashed) and 1.5
# (dotted): every seed reached a threshold when the top of its bar is below the line.
# Inputs (gnuplot -e): fmt, out, plotdir, rep = report folder, slots, close = the tables
# figures.sh joins (columns below), ngroups = number of bar groups, lo1 hi1 lo2 hi2 lo3 hi3 =
# smallest and largest finite ratio of each measure (1 if none), has1 has2 has3 = 1 if that
# measure has any finite ratio, celo cehi cflo cfhi = ranges
# of the right panels (RMSE / baseline), xtl = the group tics of the bar panels ("dataset\nlabel\nvs
# adam_label\nanother_adam_label" xcenter, ...), xtr = those of the right panels ("dataset\nlabel").
# slots (report/bars.dat): 1 xpos, 2 dataset, 3 label, 4 quantity, 5 factor, 6/7/8 ratios,
# 9 note, 10/11 seeds of the variant that reached the threshold / its seeds, 12/13 the same for
# the Adam reference, 14 its label.
# close: 1 xcenter, 2 dataset, 3 label, 4/5 Adam reference for E/F, best test RMSE / baseline
# mean/min/max: 6-8 variant E, 9-11 reference E, 12-14 variant F, 15-17 reference F.
W = (ngroups * 230 + 420 > 1500) ? ngroups * 230 + 420 : 1500
H = 1200
load plotdir . "/common.gp"

# Bar colour: energy blue, force orange; the 1.5x bars in the lighter tone.
barcol(q, fac) = (q eq "energy") ? ((fac < 1.3) ? 0x0072B2 : 0x9CCBEA) \
                                 : ((fac < 1.3) ? 0xD55E00 : 0xF4B183)
# Why a slot has no bar (the argument is unused: gnuplot functions need one).
why(s) = (strcol(9) eq "at_start") ? "at start" : \
        (strcol(9) eq "no_runs") ? "no runs" : strcol(9)
HALF = 0.42
array MEAS[3] = ["epochs", "updates", "training time"]
array LO[3] = [lo1, lo2, lo3]
array HI[3] = [hi1, hi2, hi3]
array HAS[3] = [has1, has2, has3]

set multiplot title "Left: speed-up against Adam = Adam's cost / the variant's cost to first reach 1.2× or 1.5× the baseline (mean over seeds; above 1: the variant is faster).\nEach bar races the strongest Adam variant for its quantity and threshold (named under the group). A ratio needs every seed of both sides to reach the threshold:\nthe table says how many did (red: not all), × marks a slot without a ratio.\nRight: the best test RMSE / baseline each side reached (mean, min–max over seeds; Adam: the reference of the 1.2× bar) against the baseline and the thresholds." font ",12"
set xrange [-1 : ngroups * 5 - 1]
set key off
YT = 0.80; YB = 0.13; GAP = 0.03
# the table of seeds above the bar panels
STH = 0.095
PH = (YT - STH - GAP - YB - 2 * GAP) / 3.0
XL = 0.10; XR = 0.63

set lmargin at screen XL; set rmargin at screen XR
set tmargin at screen YT; set bmargin at screen YT - STH
set yrange [0 : 3.6]
set ytics scale 0 ("threshold" 2.75, "variant reached" 1.5, "Adam reached" 0.5) \
    font ",9"
unset xtics
set border 0
set grid noxtics noytics
qname(q) = (q eq "energy") ? "E" : "F"
allin(k, n) = (k == n) ? 0x222222 : 0xCC0000
plot slots using 1:(2.75):(sprintf("%s\n×%g", qname(strcol(4)), $5)):(barcol(strcol(4), 1.2)) \
         with labels font ",8" tc rgb variable notitle, \
     slots using 1:(1.5):(sprintf("%d/%d", $10, $11)):(allin($10, $11)) with labels font ",9" \
         tc rgb variable notitle, \
     slots using 1:(0.5):(sprintf("%d/%d", $12, $13)):(allin($12, $13)) with labels font ",9" \
         tc rgb variable notitle
set border 3
set grid xtics ytics

set logscale y
set format y "%g"
set ytics font ",11"
do for [m = 1:3] {
    yt = YT - STH - GAP - (m - 1) * (PH + GAP)
    set tmargin at screen yt; set bmargin at screen yt - PH
    lo = (LO[m] < 1 ? LO[m] : 1) / 2.0
    # headroom for the value labels and the rotated notes above 1
    hi = (HI[m] > 1 ? HI[m] : 1) * 3.0
    set yrange [lo : hi]
    # 1-2-5 tics over every plausible decade (out-of-range ones are not drawn)
    set ytics (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, \
               200, 500, 1000, 2000, 5000, 10000)
    set ylabel sprintf("Adam / variant\n(%s)", MEAS[m])
    # group names under the bottom panel only
    if (m == 3) { eval "set xtics scale 0 (" . xtl . ")" } else { unset xtics }
    c = 5 + m
    if (!HAS[m]) {
        set label 3 "no ratio in this panel: the table above says who reached which threshold" \
            at graph 0.5, 0.2 center font ",10" tc rgb "#555555"
    } else {
        unset label 3
    }
    plot slots using 1:(column(c)):($1 - HALF):($1 + HALF):(column(c) < 1 ? column(c) : 1): \
             (column(c) < 1 ? 1 : column(c)):(barcol(strcol(4), $5)) \
             with boxxyerror fs solid 1.0 noborder lc rgb variable notitle, \
         slots using 1:(column(c) >= 1 ? column(c) : NaN):(sprintf("%.3g", column(c))) \
             with labels offset 0, 0.6 font ",8" notitle, \
         slots using 1:(column(c) < 1 ? column(c) : NaN):(sprintf("%.3g", column(c))) \
             with labels offset 0, -0.6 font ",8" notitle, \
         slots using 1:(strcol(c) eq "nan" ? 1 : NaN) with points pt 2 ps 1.2 lw 2 \
             lc rgb "#555555" notitle, \
         slots using 1:(strcol(c) eq "nan" && strcol(9) ne "never" && strcol(9) ne "adam_never" \
             ? 1 : NaN):(why(0)) with labels rotate by 90 left offset 0, 0.9 font ",8" \
             tc rgb "#444444" notitle, \
         1 with lines lc rgb "black" lw 1 notitle
}
unset label 3

# Right: how close each side got.
CL = 0.70; CR = 0.985
CPH = (YT - YB - GAP) / 2.0
SEG = 2.1
array CLO[2] = [celo, cflo]
array CHI[2] = [cehi, cfhi]
array QN[2] = ["energy", "force"]
do for [q = 1:2] {
    set lmargin at screen CL; set rmargin at screen CR
    set tmargin at screen YT - (q - 1) * (CPH + GAP)
    set bmargin at screen YT - (q - 1) * (CPH + GAP) - CPH
    set yrange [CLO[q] : CHI[q]]
    AX = "y"; TLO = CLO[q]; THI = CHI[q]
    eval LOGTICS
    set ylabel "best test RMSE / baseline, " . QN[q]
    if (q == 2) { eval "set xtics scale 0 (" . xtr . ")" } else { unset xtics }
    v = (q == 1) ? 6 : 12
    # the labels are filtered by their text, not by an undefined y: gnuplot 5.4.4 crashes on a
    # labels plot whose only row is undefined (close has one row per variant)
    plot close using ($1 - SEG):(1.0):(2 * SEG):(0) with vectors nohead lc rgb "black" \
             lw 1 dt 1 notitle, \
         close using ($1 - SEG):(1.2):(2 * SEG):(0) with vectors nohead \
             lc rgb "#444444" lw 1 dt 2 notitle, \
         close using ($1 - SEG):(1.5):(2 * SEG):(0) with vectors nohead \
             lc rgb "#444444" lw 1 dt 3 notitle, \
         close using ($1 - 0.8):(column(v)):(column(v + 1)):(column(v + 2)) \
             with yerrorbars lc rgb "black" pt 7 ps 1.1 lw 1.3 notitle, \
         close using ($1 + 0.8):(column(v + 3)):(column(v + 4)): \
             (column(v + 5)) with yerrorbars lc rgb "#888888" pt 5 ps 1.1 lw 1.3 notitle, \
         close using ($1 - 0.8):(CHI[q] / 1.1):(strcol(v) eq "nan" ? "no finished run" : "") \
             with labels rotate by 90 right font ",8" tc rgb "#444444" notitle, \
         close using ($1 + 0.8):(CHI[q] / 1.1):(strcol(v + 3) eq "nan" ? "no finished run" : "") \
             with labels rotate by 90 right font ",8" tc rgb "#444444" notitle
}

set label 4 "at start: the threshold was reached at the first evaluation, before any update; no runs: every cell of the variant was skipped or failed; no finished run: no seed has a test RMSE." at screen 0.5, 0.02 center font ",9" tc rgb "#555555"

# Legend strip under the title.
unset logscale y
set lmargin at screen 0.02; set rmargin at screen 0.98
set tmargin at screen 0.90; set bmargin at screen 0.86
unset border; unset tics; unset xlabel; unset ylabel; unset grid
set xrange [0:1]; set yrange [0:1]
set key at screen 0.5, 0.90 center top horizontal maxrows 2 samplen 2.5 width 1 font ",10"
plot NaN with boxes fs solid 1.0 lc rgb "#0072B2" title "energy, 1.2 × baseline", \
     NaN with boxes fs solid 1.0 lc rgb "#D55E00" title "force, 1.2 × baseline", \
     NaN with boxes fs solid 1.0 lc rgb "#9CCBEA" title "energy, 1.5 × baseline", \
     NaN with boxes fs solid 1.0 lc rgb "#F4B183" title "force, 1.5 × baseline", \
     NaN with points pt 2 ps 1.2 lw 2 lc rgb "#555555" title "no ratio", \
     NaN with points pt 7 ps 1.1 lc rgb "black" title "variant: best test RMSE", \
     NaN with points pt 5 ps 1.1 lc rgb "#888888" title "Adam: best test RMSE", \
     NaN with lines lc rgb "black" dt 1 title "baseline", \
     NaN with lines lc rgb "#444444" dt 2 title "1.2 × baseline", \
     NaN with lines lc rgb "#444444" dt 3 title "1.5 × baseline"
unset multiplot
