# stability.gp: page 1 of the stress tests. One row per stress kind (variant group with at least
# two values of x): the final test RMSE of energy (left) and force (right) against the group's x,
# one line per series (an optimizer; optimizer@dataset when the group repeats over datasets), so
# RLEKF and Adam share the axes. A variant of the group without x (e.g. RLEKF in the Adam
# learning-rate group: it has no learning rate) is a dashed horizontal reference line; seeds
# that diverged are a red × at the top of the panel with "series: k/n diverged".
# Inputs (gnuplot -e): fmt, out, plotdir, rep; stab = stability.dat sorted by group, series and
# x with two columns appended; np = number of rows; omitted = the groups this page leaves out
# and why (empty if none); per row i: GG group, GI its index in stab, GDS its datasets, XT its x
# values (comma-separated: the x tics), XLO XHI XLOG x range and log flag, ELO EHI FLO FHI the y
# ranges (meV), DIV 1 if any seed of the group diverged, and per series (space-separated,
# aligned) SER name, SOP optimizer, SDT dash type, SHX 1 if it has rows with x, SHR 1 if it has a
# row without x.
# stab columns: 1 dataset, 2 group, 3 x ("nan": none), 4 label, 5 optimizer, 6/7 final test E/F
# (eV, mean over the seeds that finished), 8..12 seeds done/diverged/time_budget/skipped/failed,
# 15 group index, 16 series.
W = 1350
H = 110 + 350 * np + 50
load plotdir . "/common.gp"

optcol(o) = (o eq "rlekf") ? PAL[1] : (o eq "adam") ? PAL[2] : (o eq "gekf") ? PAL[3] : \
            (o eq "lekf") ? PAL[4] : PAL[7]
optpt(o) = (o eq "rlekf") ? 7 : (o eq "adam") ? 5 : (o eq "gekf") ? 9 : (o eq "lekf") ? 13 : 11
# What x means for the groups of the shipped manifests (experiments/README.md); else its name.
kind(g) = (g eq "init_scale") ? "initial-weight scale (× the default initial weights)" : \
          (g eq "adam_lr") ? "Adam learning rate start_lr (× the default)" : \
          (g eq "outliers") ? "fraction of the training frames with corrupted labels" : g
nseeds = '(column(8) + column(9) + column(10) + column(11) + column(12))'
hasx = 'strcol(3) ne "nan"'
# rows of page row i and series k
inser(i, k) = column(15) == GI[i] && strcol(16) eq word(SER[i], k)
# a series' key entry: its name, "(no x: reference)" if it only has the reference line
sertitle(i, k) = word(SER[i], k) . (int(word(SHX[i], k)) ? "" : " (no x: reference)")
# eV -> meV for the axes
MEV = 1000.0

set multiplot title "Stability: final test RMSE against the perturbation, RLEKF and Adam on the same axes (mean over the seeds that finished)\ndashed: a variant of the group without x, as reference; red ×: seeds that diverged (left out of the mean)" font ",13"
TOP = 1.0 - 80.0 / H
ROWH = (TOP - 50.0 / H) / np
array YC[2] = [6, 7]
array QN[2] = ["energy", "force"]
array QU[2] = ["meV/atom", "meV/Å"]
set format x "%g"; set format y "%g"
do for [i = 1:np] {
    ns = words(SER[i])
    ys = TOP - (i - 1) * ROWH
    yt = ys - 40.0 / H
    yb = ys - ROWH + 62.0 / H
    set tmargin at screen yt; set bmargin at screen yb
    set label 1 sprintf("group %s   (data: %s)", GG[i], GDS[i]) at screen 0.02, ys - 12.0 / H \
        left font ",12"
    set xlabel kind(GG[i])
    # the scale before the range: a log axis would reject a linear range with x <= 0
    if (XLOG[i]) { set logscale x } else { unset logscale x }
    set xrange [XLO[i] : XHI[i]]
    eval "set xtics (" . XT[i] . ")"
    XMID = XLOG[i] ? sqrt(XLO[i] * XHI[i]) : 0.5 * (XLO[i] + XHI[i])
    do for [q = 1:2] {
        set lmargin at screen (q == 1 ? 0.07 : 0.47); set rmargin at screen (q == 1 ? 0.38 : 0.78)
        if (q == 1) {
            set key at screen 0.80, yt left top Left reverse samplen 3 spacing 1.2 font ",10" \
                title "series" left
        } else {
            set key off
        }
        lo = (q == 1) ? ELO[i] : FLO[i]
        hi = (q == 1) ? EHI[i] : FHI[i]
        # room on top for the diverged markers: a fifth more of the decades shown
        if (DIV[i]) { hi = hi * (hi / lo) ** 0.2 }
        set logscale y
        set yrange [lo : hi]
        AX = "y"; TLO = lo; THI = hi
        eval LOGTICS
        set ylabel sprintf("final test RMSE, %s (%s)", QN[q], QU[q])
        c = YC[q]
        # the diverged markers stack downwards from the top, one line per series; the text
        # stands on the side of the marker that faces the middle of the axis
        ytop(k) = hi / (hi / lo) ** (0.04 + 0.08 * (k - 1))
        divtxt(k) = sprintf("%s: %d/%d diverged", word(SER[i], k), $9, @nseeds)
        plot for [k = 1:ns] stab using (inser(i, k) && @hasx ? $3 : NaN):(column(c) * MEV) \
                 with linespoints lc rgb optcol(word(SOP[i], k)) pt optpt(word(SOP[i], k)) \
                 dt int(word(SDT[i], k)) ps 1.1 lw 1.8 \
                 title (q == 1 && int(word(SHX[i], k)) ? sertitle(i, k) : ""), \
             for [k = 1:ns] stab using (inser(i, k) && !(@hasx) ? XLO[i] : NaN): \
                 (column(c) * MEV):(XHI[i] - XLO[i]):(0) with vectors nohead \
                 lc rgb optcol(word(SOP[i], k)) dt 2 lw 1.5 \
                 title (q == 1 && !int(word(SHX[i], k)) ? sertitle(i, k) : ""), \
             for [k = 1:ns] stab using (inser(i, k) && !(@hasx) ? XHI[i] : NaN): \
                 (column(c) * MEV):(strcol(4)) with labels right offset -0.5, 0.6 font ",9" \
                 tc rgb optcol(word(SOP[i], k)) notitle, \
             for [k = 1:ns] stab using (inser(i, k) && @hasx && $9 > 0 ? $3 : NaN):(ytop(k)) \
                 with points pt 2 ps 1.6 lw 2 lc rgb "#cc0000" notitle, \
             for [k = 1:ns] stab using (inser(i, k) && @hasx && $9 > 0 && $3 <= XMID ? $3 : NaN): \
                 (ytop(k)):(divtxt(k)) with labels left offset 1.2, 0 font ",9" \
                 tc rgb "#cc0000" notitle, \
             for [k = 1:ns] stab using (inser(i, k) && @hasx && $9 > 0 && $3 > XMID ? $3 : NaN): \
                 (ytop(k)):(divtxt(k)) with labels right offset -1.2, 0 font ",9" \
                 tc rgb "#cc0000" notitle
        unset label 1
    }
}
if (strlen(omitted) > 0) {
    set label 2 "Not shown on this page: " . omitted . "." at screen 0.5, 20.0 / H center \
        font ",10" tc rgb "#555555"
    unset border; unset tics; unset xlabel; unset ylabel; unset grid; unset logscale; set key off
    set xrange [0:1]; set yrange [0:1]
    plot NaN notitle
}
unset multiplot
