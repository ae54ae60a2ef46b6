# ablation.gp: the block-size ablation of the Kalman optimizers against N_b (log x): time per
# epoch, covariance memory, final test RMSE of energy and force, for the datasets where rlekf or
# lekf run at two or more N_b (figures.sh picks them). One series per dataset and optimizer:
# rlekf (circles, solid), lekf (squares, dashed) and gekf drawn as the limit point at N_b = N
# (triangle). Values are means over seeds; a skipped gekf still shows its memory, and a
# variant without any finished seed is marked "no finished run" at its N_b. lekf is drawn at
# 1.07 N_b so that it stands beside rlekf instead of hiding under it.
# Inputs (gnuplot -e): fmt, out, plotdir, rep; sds, sos = series datasets and optimizers
# (space-separated, aligned); xlo xhi and per panel k = 1..4: lo<k>, hi<k> (log ranges) and
# has<k> (0 = no finite value: the panel says so).
# ablation.dat: 1 dataset 3 optimizer 4 N_b 7 state MiB 8 s/epoch 9/10 final E/F (eV).
W = 1300; H = 950
load plotdir . "/common.gp"
abl = rep . "/ablation.dat"
ns = words(sds)
# dataset colour: index of the dataset among the distinct ones, in series order
array DSI[ns]
nd = 0
do for [i = 1:ns] {
    DSI[i] = 0
    do for [j = 1:i - 1] { if (word(sds, j) eq word(sds, i)) { DSI[i] = DSI[j] } }
    if (DSI[i] == 0) { nd = nd + 1; DSI[i] = nd }
}
pt(o) = (o eq "rlekf") ? 7 : (o eq "lekf") ? 5 : 9
dt(o) = (o eq "lekf") ? 2 : 1
ps(o) = (o eq "gekf") ? 1.6 : 0.9
# a row of one of the swept datasets (the argument is unused: gnuplot functions need one)
insweep(u) = strstrt(" " . sds . " ", " " . strcol(1) . " ") > 0
sel(i, c) = (strcol(1) eq word(sds, i) && strcol(3) eq word(sos, i)) ? column(c) : NaN
LEKF_SHIFT = 1.07
xpos(o) = (o eq "lekf") ? $4 * LEKF_SHIFT : $4

array COL[4] = [8, 7, 9, 10]
array SCALE[4] = [1, 1, 1000, 1000]
array YL[4] = ["time per epoch (s)", "covariance memory (MiB)", "final test RMSE energy (meV/atom)", "final test RMSE force (meV/Å)"]
array LO[4] = [lo1, lo2, lo3, lo4]
array HI[4] = [hi1, hi2, hi3, hi4]
array HAS[4] = [has1, has2, has3, has4]

set multiplot title "Kalman block size N_b: cost and accuracy (means over seeds; gekf = one block of all N weights)" font ",13"
set logscale xy
set format x "%g"; set format y "%g"
set xrange [xlo : xhi]
AX = "x"; TLO = xlo; THI = xhi
eval LOGTICS
set key off
set xlabel "block size N_b (weights)"
do for [k = 1:4] {
    set lmargin at screen (k % 2 == 1 ? 0.08 : 0.57); set rmargin at screen (k % 2 == 1 ? 0.46 : 0.95)
    set tmargin at screen (k <= 2 ? 0.90 : 0.50); set bmargin at screen (k <= 2 ? 0.58 : 0.18)
    set ylabel YL[k]
    set yrange [LO[k] * SCALE[k] : HI[k] * SCALE[k]]
    AX = "y"; TLO = LO[k] * SCALE[k]; THI = HI[k] * SCALE[k]
    eval LOGTICS
    if (HAS[k]) {
        unset label 1
        plot for [i = 1:ns] abl using (xpos(word(sos, i))):(sel(i, COL[k]) * SCALE[k]) \
                 with linespoints lc rgb col(DSI[i]) pt pt(word(sos, i)) ps ps(word(sos, i)) \
                 dt dt(word(sos, i)) notitle, \
             abl using (k != 2 && $11 == 0 && insweep(0) ? xpos(strcol(3)) : NaN):(TLO * 1.15): \
                 ("no finished run") \
                 with labels rotate by 90 left font ",9" tc rgb "#555555" notitle
    } else {
        set label 1 "no finite values (all cells skipped, failed or diverged)" at graph 0.5, 0.5 center
        plot NaN notitle
    }
}
unset label 1
unset logscale xy
set lmargin at screen 0.02; set rmargin at screen 0.98
set bmargin at screen 0.005; set tmargin at screen 0.09
unset border; unset tics; unset xlabel; unset ylabel; unset grid
set xrange [0:1]; set yrange [0:1]
set key at screen 0.5, 0.085 center top horizontal maxcols 4 reverse Left samplen 2.5 width 2 font ",10"
plot for [i = 1:ns] NaN with linespoints lc rgb col(DSI[i]) pt pt(word(sos, i)) \
        ps ps(word(sos, i)) dt dt(word(sos, i)) title word(sds, i) . " " . word(sos, i)
unset multiplot
