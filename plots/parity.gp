# parity.gp: predicted against DFT values on the test frames, one dataset, one row per variant:
# energy per atom (left) and force components (right), the diagonal y = x, and the RMSE on the
# panel. Data: the PREFIX_energy.dat / PREFIX_force.dat tables of `rlekf eval --parity PREFIX`.
# Inputs (gnuplot -e): fmt, out, plotdir; ds = dataset; prefixes, labels, seeds = per variant
# (space-separated, same order).
# Energy table columns: 3 DFT, 4 predicted (eV/atom); force table: 5 DFT, 6 predicted (eV/Å).
nv = words(prefixes)
W = 1150
H = 90 + 450 * nv
load plotdir . "/common.gp"
# At most this many force components are drawn per panel (the RMSE uses all of them): more
# points do not change what the eye sees, and in SVG every point is an element (20000 points
# make a file of several MB).
MAXPTS = (fmt eq "svg") ? 4000 : 20000

set multiplot title sprintf("%s: predicted against DFT on the test frames", ds) font ",13"
set key off
TOP = 1.0 - 60.0 / H
ROWH = (TOP - 20.0 / H) / nv
do for [i = 1:nv] {
    fe = word(prefixes, i) . "_energy.dat"
    ff = word(prefixes, i) . "_force.dat"
    yt = TOP - (i - 1) * ROWH
    do for [p = 1:2] {
        file = (p == 1) ? fe : ff
        cd = (p == 1) ? 3 : 5
        set xrange [*:*]; set yrange [*:*]  # stats only sees points inside the current ranges
        # energies are drawn relative to the mean DFT energy per atom, in meV/atom: absolute
        # values (thousands of eV/atom for some sets) leave no readable tic labels
        stats file using (column(cd)) nooutput
        ref = (p == 1) ? STATS_mean : 0.0
        sc = (p == 1) ? 1000.0 : 1.0
        stats file using ((column(cd) - ref) * sc):((column(cd + 1) - ref) * sc) nooutput
        lo = (STATS_min_x < STATS_min_y) ? STATS_min_x : STATS_min_y
        hi = (STATS_max_x > STATS_max_y) ? STATS_max_x : STATS_max_y
        pad = (hi > lo) ? 0.05 * (hi - lo) : 0.01 * abs(hi) + 1e-3
        n = STATS_records
        stats file using ((column(cd + 1) - column(cd))**2) nooutput
        rmse = sqrt(STATS_mean)
        # the text box goes into the corner the points leave empty: bottom right when the
        # predictions lie mostly above the diagonal, else top left
        stats file using (column(cd + 1) - column(cd)) nooutput
        above = STATS_mean > 0
        step = (n > MAXPTS) ? ceil(n * 1.0 / MAXPTS) : 1
        set lmargin at screen (p == 1 ? 0.10 : 0.59); set rmargin at screen (p == 1 ? 0.45 : 0.94)
        set tmargin at screen yt - 45.0 / H; set bmargin at screen yt - ROWH + 70.0 / H
        set xrange [lo - pad : hi + pad]; set yrange [lo - pad : hi + pad]
        set title sprintf("%s (seed %s): %s", word(labels, i), word(seeds, i), \
                          p == 1 ? "energy per atom" : "force components") font ",11"
        set xlabel (p == 1) ? "DFT energy per atom − E0 (meV/atom)" : "DFT force (eV/Å)"
        set ylabel (p == 1) ? "predicted energy per atom − E0 (meV/atom)" \
                            : "predicted force (eV/Å)"
        unset label
        set style textbox opaque noborder
        txt = (p == 1) ? sprintf("RMSE %.3g meV/atom\n%d frames\nE0 = %.4f eV/atom (mean DFT)", \
                                 1000 * rmse, n, ref) \
                       : sprintf("RMSE %.3g meV/Å\n%d components%s", 1000 * rmse, n, \
                                 step > 1 ? sprintf(", 1 in %d drawn", step) : "")
        if (above) {
            set label 1 txt at graph 0.96, 0.17 right front font ",10" boxed
        } else {
            set label 1 txt at graph 0.04, 0.93 left front font ",10" boxed
        }
        plot x with lines lc rgb "#888888" dt 2 notitle, \
             file every step using ((column(cd) - ref) * sc):((column(cd + 1) - ref) * sc) \
                 with points pt 7 ps (p == 1 ? 0.6 : 0.3) \
                 lc rgb (p == 1 ? col(i) : "#60" . col(i)[2:]) notitle
    }
}
unset multiplot
