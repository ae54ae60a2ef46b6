# convergence.gp: test RMSE of energy and force against epochs and training time, one dataset.
# 2x2 panels; per variant the median over seeds (line) and the min-max band over seeds; the
# dataset's baseline (lowest test RMSE of any run, SPEC §4) and 1.2x / 1.5x of it as black lines.
# Inputs (gnuplot -e): fmt, out, plotdir; rep = report folder; ds = dataset name;
# files = curve file names (in rep/curves), labels = variant labels (same order, space-separated);
# be, bf = baselines in eV/atom and eV/Å; elo, ehi, flo, fhi = y ranges (eV/atom, eV/Å) that
# hold every band and the threshold lines.
# Curve file columns: 2 epoch, 4 train_s median (training clock), 5/6/7 test E median/min/max,
# 8/9/10 test F median/min/max.
n = words(files)
# Pixel layout: title, two rows of panels (each with its x label), then a legend strip that
# grows with the number of entries (the variants and three threshold lines; gnuplot fits three
# or four a line, so room for three).
PT = 78; PP = 314; PG = 88
LH = 40 + 20 * ceil((n + 3) / 3.0)
W = 1400; H = PT + 2 * (PP + PG) + LH
load plotdir . "/common.gp"
f(i) = rep . "/curves/" . word(files, i)

set multiplot title sprintf("%s: test RMSE against training progress (line: median over seeds; band: min–max over seeds)", ds) font ",13"
set logscale y
set format y "%g"
set key off
# x runs from 0 to the last evaluation, so the threshold lines span the whole panel
set xrange [0:*]
set autoscale xfixmax

# Panel geometry in screen coordinates: two columns, two rows, a legend strip at the bottom.
XL1 = 0.07; XR1 = 0.46; XL2 = 0.56; XR2 = 0.95
YT1 = 1.0 - PT * 1.0 / H; YB1 = YT1 - PP * 1.0 / H
YT2 = YB1 - PG * 1.0 / H; YB2 = YT2 - PP * 1.0 / H

# Threshold lines of the baseline b, labelled in the right margin.
thresholds(b) = 0
do for [p = 1:4] {
    xl = (p % 2 == 1) ? XL1 : XL2
    xr = (p % 2 == 1) ? XR1 : XR2
    yb = (p <= 2) ? YB1 : YB2
    yt = (p <= 2) ? YT1 : YT2
    set lmargin at screen xl; set rmargin at screen xr
    set bmargin at screen yb; set tmargin at screen yt
    xc = (p <= 2) ? 2 : 4
    yc = (p % 2 == 1) ? 5 : 8
    b = (p % 2 == 1) ? be : bf
    TLO = (p % 2 == 1) ? elo : flo
    THI = (p % 2 == 1) ? ehi : fhi
    set yrange [TLO : THI]
    AX = "y"
    eval LOGTICS
    set xlabel (p <= 2) ? "epochs" : "training time (s)"
    set ylabel (p % 2 == 1) ? "test RMSE energy (eV/atom)" : "test RMSE force (eV/Å)"
    unset label
    # stacked a little apart: on a log axis 1, 1.2 and 1.5 x b lie close together
    set label 1 "baseline" at graph 1.01, first b left offset 0, -0.5 font ",9" tc rgb "black"
    set label 2 "×1.2" at graph 1.01, first 1.2 * b left offset 0, 0.1 font ",9" tc rgb "#444444"
    set label 3 "×1.5" at graph 1.01, first 1.5 * b left offset 0, 0.7 font ",9" tc rgb "#444444"
    plot for [i = 1:n] f(i) using xc:(column(yc + 1)):(column(yc + 2)) with filledcurves \
             fc rgb col(i) fs transparent solid 0.18 noborder notitle, \
         for [i = 1:n] f(i) using xc:yc with linespoints lc rgb col(i) dt vdt(i) lw 1.5 \
             pt vpt(i) ps 0.45 notitle, \
         b with lines lc rgb "black" lw 1 dt 1 notitle, \
         1.2 * b with lines lc rgb "#444444" lw 1 dt 2 notitle, \
         1.5 * b with lines lc rgb "#444444" lw 1 dt 3 notitle
}

# Legend strip: one entry per variant and the threshold lines, drawn with an empty plot.
unset label
unset logscale y
set lmargin at screen 0.02; set rmargin at screen 0.98
set bmargin at screen 0.005; set tmargin at screen (LH - 8.0) / H
unset border; unset tics; unset xlabel; unset ylabel; unset grid
set xrange [0:1]; set yrange [0:1]
set key at screen 0.5, (LH - 12.0) / H center top horizontal maxcols 4 reverse Left samplen 2.5 width 2 \
    spacing 1.2 font ",10"
plot for [i = 1:n] NaN with linespoints lc rgb col(i) dt vdt(i) lw 1.5 pt vpt(i) ps 0.6 \
         title word(labels, i), \
     NaN with lines lc rgb "black" dt 1 title "baseline (lowest test RMSE of any run)", \
     NaN with lines lc rgb "#444444" dt 2 title "1.2 × baseline", \
     NaN with lines lc rgb "#444444" dt 3 title "1.5 × baseline"
unset multiplot
