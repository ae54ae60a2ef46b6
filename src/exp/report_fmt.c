/* report_fmt: the text of the report's numbers and names, and its output files.
 *
 * CSV and .dat numbers are "%.6g" ("%.10g" for curves) and "nan"; Markdown cells carry three
 * significant digits without exponents, "–" when there is no value, RMSEs in meV. Names go into
 * file names and whitespace-separated gnuplot fields only after report_safe_name.
 */
#include <math.h>
#include <stdio.h>

#include "report_internal.h"

const char *const report_qty_names[REPORT_NQTY] = {"energy", "force"};
const char *const report_qty_units[REPORT_NQTY] = {"eV/atom", "eV/A"};
const char *const report_qty_md_units[REPORT_NQTY] = {"meV/atom", "meV/Å"};

char *report_nbuf(void) {
    static char bufs[REPORT_NBUF_COUNT][REPORT_NBUF_LEN];
    static unsigned k;
    return bufs[k++ % REPORT_NBUF_COUNT];
}

/* "%.6g", "nan" when NAN. */
static const char *num6(char *buf, size_t cap, double v) {
    if (isnan(v))
        snprintf(buf, cap, "nan");
    else
        snprintf(buf, cap, "%.6g", v);
    return buf;
}

const char *report_n(double v) {
    return num6(report_nbuf(), REPORT_NBUF_LEN, v);
}

const char *report_n10(double v) {
    char *b = report_nbuf();
    if (isnan(v))
        snprintf(b, REPORT_NBUF_LEN, "nan");
    else
        snprintf(b, REPORT_NBUF_LEN, "%.10g", v);
    return b;
}

void report_sig3(char *b, size_t cap, double v) {
    if (!isfinite(v))
        snprintf(b, cap, "–");
    else if (fabs(v) >= 1000.0 || v == 0.0)
        snprintf(b, cap, "%.0f", v);
    else
        snprintf(b, cap, "%.3g", v);
}

const char *report_mev(double v) {
    char *b = report_nbuf();
    report_sig3(b, REPORT_NBUF_LEN, v * REPORT_MEV_PER_EV);
    return b;
}

const char *report_g3(double v) {
    char *b = report_nbuf();
    report_sig3(b, REPORT_NBUF_LEN, v);
    return b;
}

/* One Markdown value of measure m: updates as an integer, the others to 3 significant digits. */
static void md_measure(char *b, size_t cap, int m, double v) {
    if (m == 1)
        snprintf(b, cap, "%.0f", v);
    else
        report_sig3(b, cap, v);
}

const char *report_crossing_text(const report_crossing *c, int m, int md) {
    char *b = report_nbuf();
    double v = report_crossing_value(c, m);
    if (c->n_runs == 0)
        snprintf(b, REPORT_NBUF_LEN, "n/a (no runs)");
    else if (isnan(v))
        snprintf(b, REPORT_NBUF_LEN, "never (%zu/%zu reached)", c->n_reached, c->n_runs);
    else if (md && c->n_runs > 1 && c->lo[m] < c->hi[m]) {
        /* the mean and the seeds' spread: "3.33 [3, 3.5]" */
        char x[3][28];
        const double y[3] = {v, c->lo[m], c->hi[m]};
        for (int k = 0; k < 3; k++)
            md_measure(x[k], sizeof x[k], m, y[k]);
        snprintf(b, REPORT_NBUF_LEN, "%s [%s, %s]", x[0], x[1], x[2]);
    } else if (md)
        md_measure(b, REPORT_NBUF_LEN, m, v);
    else
        num6(b, REPORT_NBUF_LEN, v);
    return b;
}

const char *report_ratio_text(double r, int md) {
    char *b = report_nbuf();
    if (isnan(r))
        snprintf(b, REPORT_NBUF_LEN, "n/a");
    else if (md)
        report_sig3(b, REPORT_NBUF_LEN, r);
    else
        num6(b, REPORT_NBUF_LEN, r);
    return b;
}

void report_safe_name(char *dst, size_t cap, const char *src) {
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++) {
        char c = src[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-' || c == '+' || c == '=';
        dst[i] = ok ? c : '_';
    }
    dst[i] = '\0';
}

rk_status report_out_open(fs_atomic *o, const char *dir, const char *name) {
    char path[FS_PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return err_set(RK_EINPUT, "%s/%s: path too long", dir, name);
    return fs_atomic_open(o, path);
}
