# batch_size.gp: the minibatch ablation against the batch size B (log x): left, the training time
# (training steps only, SPEC §4) to first reach 1.2x the dataset's force baseline; right, the final
# test RMSE of force, mean over seeds with a min-max bar. One series per dataset and optimizer
# type: colour = dataset, point type and dash = optimizer (rlekf circles, solid; adam squares,
# dashed; others triangles, dotted). A variant whose seeds did not all reach 1.2x is drawn as a
# cross at the bottom of the left panel, labelled "never".
# Inputs (gnuplot -e): fmt, out, plotdir, rep; sds, sos = series datasets and optimizers
# (space-separated, aligned); xlo, xhi, and per panel k = 1, 2: lo<k>, hi<k> (log ranges) and
# has<k> (0 = no finite value: the panel says so).
# batch_size.dat: 1 dataset 3 optimizer 4 B 10/11/12 final F mean/min/max (eV/Å) 21 train_s to
# 1.2x force baseline (nan: not every seed reached it).
W = 1300; H = 620
load plotdir . "/common.gp"
bat = rep . "/batch_size.dat"
ns = words(sds)
array DSI[ns]
nd = 0
do for [i = 1:ns] {
    DSI[i] = 0
    do for [j = 1:i - 1] { if (word(sds, j) eq word(sds, i)) { DSI[i] = DSI[j] } }
    if (DSI[i] == 0) { nd = nd + 1; DSI[i] = nd }
}
pt(o) = (o eq "rlekf") ? 7 : (o eq "adam") ? 5 : 9
dt(o) = (o eq "rlekf") ? 1 : (o eq "adam") ? 2 : 3
sel(i, c) = (strcol(1) eq word(sds, i) && strcol(3) eq word(sos, i)) ? column(c) : NaN
# a row of series i whose crossing is nan: its B, else NaN
never(i) = (strcol(1) eq word(sds, i) && strcol(3) eq word(sos, i) && strcol(21) eq "nan") ? $4 : NaN

array YL[2] = ["training time to 1.2x force baseline (s)", "final test RMSE force (meV/Å)"]
array LO[2] = [lo1, lo2]
array HI[2] = [hi1, hi2]
array HAS[2] = [has1, has2]

set multiplot title "Batch size B: time to 1.2x the force baseline and final force RMSE (means over seeds)" font ",13"
set logscale xy
set format x "%g"; set format y "%g"
set xrange [xlo : xhi]
set xtics (1, 2, 4, 8, 16, 32, 64, 128)
set key off
set xlabel "batch size B (images per update)"
do for [k = 1:2] {
    set lmargin at screen (k == 1 ? 0.08 : 0.57); set rmargin at screen (k == 1 ? 0.46 : 0.95)
    set tmargin at screen 0.88; set bmargin at screen 0.26
    set ylabel YL[k]
    set yrange [LO[k] : HI[k]]
    AX = "y"; TLO = LO[k]; THI = HI[k]
    eval LOGTICS
    if (HAS[k]) {
        unset label 1
        if (k == 1) {
            plot for [i = 1:ns] bat using 4:(sel(i, 21)) with linespoints lc rgb col(DSI[i]) \
                     pt pt(word(sos, i)) ps 1.0 dt dt(word(sos, i)) notitle, \
                 for [i = 1:ns] bat using (never(i)):(TLO * 1.25) with points lc rgb col(DSI[i]) \
                     pt 2 ps 1.4 notitle, \
                 for [i = 1:ns] bat using (never(i)):(TLO * 1.25):("never") with labels \
                     offset 0, 0.9 font ",8" tc rgb "#555555" notitle
        } else {
            plot for [i = 1:ns] bat using 4:(sel(i, 10) * 1000):(sel(i, 11) * 1000):(sel(i, 12) * 1000) \
                     with yerrorbars lc rgb col(DSI[i]) pt pt(word(sos, i)) ps 1.0 notitle, \
                 for [i = 1:ns] bat using 4:(sel(i, 10) * 1000) with lines lc rgb col(DSI[i]) \
                     dt dt(word(sos, i)) notitle
        }
    } else {
        set label 1 "no finite values (no variant reached it in every seed)" at graph 0.5, 0.5 center
        plot NaN notitle
    }
}
unset label 1
unset logscale xy
set lmargin at screen 0.02; set rmargin at screen 0.98
set bmargin at screen 0.005; set tmargin at screen 0.14
unset border; unset tics; unset xlabel; unset ylabel; unset grid
set xrange [0:1]; set yrange [0:1]
set key at screen 0.5, 0.13 center top horizontal maxcols 4 reverse Left samplen 2.5 width 2 font ",10"
plot for [i = 1:ns] NaN with linespoints lc rgb col(DSI[i]) pt pt(word(sos, i)) \
        dt dt(word(sos, i)) title word(sds, i) . " " . word(sos, i)
unset multiplot
