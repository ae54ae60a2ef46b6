# md.gp: molecular dynamics of the trained models of one dataset (manifest "md", rlekf md).
# Top: total energy minus its first value (meV/atom) against time (ps) in NVE, one line per
# variant (its first seed with MD); a run that stopped unstable ends early, marked by a cross.
# Bottom: one panel per element pair (at most four): g(r) of each variant's run and of the
# dataset's DFT frames (black, dashed).
# Inputs (gnuplot -e): fmt, out, plotdir; rep = report folder; ds = dataset name; efiles,
# rfiles = energy and RDF tables (relative to rep, space-separated, one per variant), labels,
# endt, ende = where each variant's unstable run stopped (time, delta E; NaN for a stable run;
# same order); pairs = element pairs (space-separated, the block order
# of the RDF tables). Energy table columns: 1 time_ps, 2 delta E total (meV/atom); RDF blocks:
# 1 r (A), 2 g of the run, 3 g of the DFT frames.
n = words(efiles)
np = words(pairs)
np = (np > 4) ? 4 : np
PT = 70; PE = 330; PR = 300; PG = 100
LH = 40 + 20 * ceil(n / 4.0)
W = 1400; H = PT + PE + PG + PR + PG + LH
load plotdir . "/common.gp"
ef(i) = rep . "/" . word(efiles, i)
rf(i) = rep . "/" . word(rfiles, i)

set multiplot title sprintf("%s: NVE molecular dynamics of the trained models (first seed of each variant)", ds) font ",13"
set key off
YT1 = 1.0 - PT * 1.0 / H; YB1 = YT1 - PE * 1.0 / H
YT2 = YB1 - PG * 1.0 / H; YB2 = YT2 - PR * 1.0 / H

set lmargin at screen 0.07; set rmargin at screen 0.97
set tmargin at screen YT1; set bmargin at screen YB1
set title "total energy drift (a cross: the run stopped unstable there)" font ",11"
set xlabel "time (ps)"
set ylabel "E_total(t) − E_total(0) (meV/atom)"
set format y "%g"
plot for [i = 1:n] ef(i) using 1:2 with lines lc rgb col(i) dt vdt(i) lw 1.3 notitle, \
     for [i = 1:n] '+' using (real(word(endt, i))):(real(word(ende, i))) every ::0::0 \
         with points lc rgb col(i) pt 2 ps 2 lw 2 notitle

PW = 0.90 / np
set xlabel "r (Å)"
set ylabel "g(r)"
do for [k = 1:np] {
    set lmargin at screen 0.07 + (k - 1) * PW
    set rmargin at screen 0.07 + k * PW - 0.05
    set tmargin at screen YT2; set bmargin at screen YB2
    set title word(pairs, k) font ",11"
    if (k == np) {
        set key at screen 0.97, YB2 - PG * 1.0 / H - 10.0 / H right top horizontal maxcols 4 \
            samplen 3 spacing 1.1 font ",10"
    }
    plot for [i = 1:n] rf(i) index (k - 1) using 1:2 with lines lc rgb col(i) dt vdt(i) \
             lw 1.3 title word(labels, i), \
         rf(1) index (k - 1) using 1:3 with lines lc rgb "#000000" dt 2 lw 1.3 \
             title "DFT frames"
    set key off
}
unset multiplot
