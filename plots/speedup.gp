# speedup.gp: how much faster than Adam each variant reaches 1.2x and 1.5x the baseline RMSE.
# Three stacked panels (epochs, updates, wall time); per dataset and non-Adam variant a group of
# four bars (energy and force at 1.2x, then at 1.5x) of ratio = Adam's value / the variant's
# value, drawn from 1 on a log axis (above the line: the variant is faster). Missing bars carry a
# note: "never" (some seed of the variant never reached the threshold), "Adam never", "at start"
# (reached at the first evaluation, before any update), "no runs".
# Inputs (gnuplot -e): fmt, out, plotdir, rep = report folder, ngroups = number of bar groups,
# lo1 hi1 lo2 hi2 lo3 hi3 = smallest and largest finite ratio of each measure (1 if none).
# bars.dat: 1 xpos, 2 dataset, 3 label, 4 quantity, 5 factor, 6/7/8 ratios, 9 note.
W = (ngroups * 130 + 250 > 1100) ? ngroups * 130 + 250 : 1100
H = 1150
load plotdir . "/common.gp"
bars = rep . "/bars.dat"
groups = rep . "/bars_groups.dat"

# Bar colour: energy blue, force orange; the 1.5x bars in the lighter tone.
barcol(q, fac) = (q eq "energy") ? ((fac < 1.3) ? 0x0072B2 : 0x9CCBEA) \
                                 : ((fac < 1.3) ? 0xD55E00 : 0xF4B183)
note(s) = (s eq "ok") ? "" : (s eq "never") ? "never" : (s eq "adam_never") ? "Adam never" : \
          (s eq "at_start") ? "at start" : (s eq "no_runs") ? "no runs" : s
HALF = 0.42
array MEAS[3] = ["epochs", "updates", "wall time"]
array LO[3] = [lo1, lo2, lo3]
array HI[3] = [hi1, hi2, hi3]

set multiplot title "Speed-up against Adam = Adam's cost / the variant's cost to first reach the threshold\n(mean over seeds; log scale; above 1: the variant is faster than Adam)" font ",13"
set logscale y
set format y "%g"
# 1-2-5 tics over every plausible decade (out-of-range ones are not drawn)
set ytics (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, \
           200, 500, 1000, 2000, 5000, 10000)
set xrange [-1 : ngroups * 5 - 1]
set key off
YT = 0.86; YB = 0.10; GAP = 0.035
PH = (YT - YB - 2 * GAP) / 3.0
do for [m = 1:3] {
    set lmargin at screen 0.08; set rmargin at screen 0.98
    set tmargin at screen YT - (m - 1) * (PH + GAP)
    set bmargin at screen YT - (m - 1) * (PH + GAP) - PH
    lo = (LO[m] < 1 ? LO[m] : 1) / 2.0
    hi = (HI[m] > 1 ? HI[m] : 1) * 3.0  # headroom for the rotated notes above 1
    set yrange [lo : hi]
    set ylabel sprintf("Adam / variant\n(%s)", MEAS[m])
    if (m < 3) { set format x ""; set xtics scale 0 } else { set format x "%g"; set xtics scale 0 }
    c = 5 + m
    if (m < 3) {
        plot bars using 1:(column(c)):($1 - HALF):($1 + HALF):(column(c) < 1 ? column(c) : 1): \
                 (column(c) < 1 ? 1 : column(c)):(barcol(strcol(4), $5)) \
                 with boxxyerror fs solid 1.0 noborder lc rgb variable notitle, \
             bars using 1:(1):(note(strcol(9))) with labels rotate by 90 left offset 0, 0.4 \
                 font ",8" tc rgb "#555555" notitle, \
             bars using 1:(column(c) >= 1 ? column(c) : NaN):(sprintf("%.3g", column(c))) \
                 with labels offset 0, 0.6 font ",8" notitle, \
             bars using 1:(column(c) < 1 ? column(c) : NaN):(sprintf("%.3g", column(c))) \
                 with labels offset 0, -0.6 font ",8" notitle, \
             1 with lines lc rgb "black" lw 1 notitle
    } else {
        plot bars using 1:(column(c)):($1 - HALF):($1 + HALF):(column(c) < 1 ? column(c) : 1): \
                 (column(c) < 1 ? 1 : column(c)):(barcol(strcol(4), $5)) \
                 with boxxyerror fs solid 1.0 noborder lc rgb variable notitle, \
             bars using 1:(1):(note(strcol(9))) with labels rotate by 90 left offset 0, 0.4 \
                 font ",8" tc rgb "#555555" notitle, \
             bars using 1:(column(c) >= 1 ? column(c) : NaN):(sprintf("%.3g", column(c))) \
                 with labels offset 0, 0.6 font ",8" notitle, \
             bars using 1:(column(c) < 1 ? column(c) : NaN):(sprintf("%.3g", column(c))) \
                 with labels offset 0, -0.6 font ",8" notitle, \
             groups using 1:(NaN):xtic(strcol(2) . "\n" . strcol(3)) with points notitle, \
             1 with lines lc rgb "black" lw 1 notitle
    }
}

# Legend strip at the top, the meaning of the notes at the bottom.
unset logscale y
set label 10 "No bar: never = some seed of the variant never reached the threshold; Adam never = some seed of the Adam reference did not;\nat start = reached at the first evaluation, before any update; no runs = every cell of the variant was skipped or failed." at screen 0.5, 0.035 center font ",9" tc rgb "#555555"
set lmargin at screen 0.02; set rmargin at screen 0.98
set tmargin at screen 0.93; set bmargin at screen 0.88
unset border; unset tics; unset xlabel; unset ylabel; unset grid
set xrange [0:1]; set yrange [0:1]
set key at screen 0.5, 0.925 center top horizontal samplen 1.5 width 2 font ",10"
plot NaN with boxes fs solid 1.0 lc rgb "#0072B2" title "energy, 1.2 × baseline", \
     NaN with boxes fs solid 1.0 lc rgb "#D55E00" title "force, 1.2 × baseline", \
     NaN with boxes fs solid 1.0 lc rgb "#9CCBEA" title "energy, 1.5 × baseline", \
     NaN with boxes fs solid 1.0 lc rgb "#F4B183" title "force, 1.5 × baseline"
unset multiplot
