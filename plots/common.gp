# common.gp: terminal, output and colours shared by every figure script (loaded, not run).
# Inputs (gnuplot -e): fmt = "png" | "svg"; out = output path without extension;
# W, H = canvas size in pixels (set by the calling script before `load`).
# Text is not "enhanced": labels and names such as init_scale print as written.
if (fmt eq "png") {
    set terminal pngcairo size W, H noenhanced font "Sans,11" linewidth 1.5
} else {
    set terminal svg size W, H noenhanced font "Sans,11" linewidth 1.5 background "white"
}
set output out . "." . fmt
set encoding utf8

# Eight well-separated colours readable by colour-blind readers, reused cyclically: six of
# Okabe-Ito, then indigo and wine from Paul Tol's set in place of Okabe-Ito's black (the colour
# of the baseline and reference lines) and yellow (too faint on white).
array PAL[8] = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#332288", \
                "#882255"]
col(i) = PAL[(i - 1) % 8 + 1]
# Past eight series the colours repeat: each further round of eight gets its own dash and point
# type (solid circles, dashed squares, dash-dot triangles, dotted diamonds).
array CDT[4] = [1, 2, 4, 3]
array CPT[4] = [7, 5, 9, 13]
vdt(i) = CDT[int((i - 1) / 8) % 4 + 1]
vpt(i) = CPT[int((i - 1) / 8) % 4 + 1]
# Energy and force colours of bar charts.
CE = "#0072B2"
CF = "#D55E00"

# Log-axis tics: gnuplot labels only whole decades, which leaves a narrow axis (the usual case
# for RMSE curves) unlabelled; below three decades label 1, 2, 5 x 10^k instead.
# usage: AX = "y"; TLO = lo; THI = hi; eval LOGTICS   (TLO, THI > 0)
LOGTICS = 'if (THI / TLO < 1000.0) { _t = ""; _ms = (THI / TLO < 3.0) ? "1 1.2 1.4 1.6 1.8 2 2.5 3 3.5 4 4.5 5 6 7 8 9" : (THI / TLO < 10.0) ? "1 1.5 2 3 4 5 6 7 8 9" : "1 2 5"; do for [_e = floor(log10(TLO)) : ceil(log10(THI))] { do for [_m in _ms] { _t = _t . sprintf("%s%g", strlen(_t) ? ", " : "", real(_m) * 10.0**_e) } }; eval sprintf("set %stics (%s)", AX, _t) } else { eval sprintf("set %stics autofreq", AX) }'

set grid lc rgb "#dddddd" lw 0.5
set tics nomirror
set border 3
