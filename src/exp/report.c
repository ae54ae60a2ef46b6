/* report: aggregation of an experiment's results tree (see report.h for the equations).
 *
 * Three phases, so that bad input leaves no output behind: report_load reads and checks every
 * file; the math functions derive baselines, first crossings, ratios and per-row statistics;
 * report_write writes each output file under "<name>.tmp-<pid>" and renames it when complete.
 * Numbers in CSV and .dat files keep the units of the inputs (eV/atom, eV/Å, s); report.md shows
 * RMSEs in meV/atom and meV/Å for readability and says so.
 */
#include "report.h"
#include "fs.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csvio.h"
#include "jsonw.h"
#include "train.h"

const double REPORT_FACTORS[REPORT_NFACTORS] = {1.2, 1.5};

/* eV -> meV for the Markdown tables. */
static const double MEV_PER_EV = 1000.0;
/* Bytes per MiB for the covariance memory column. */
static const double BYTES_PER_MIB = 1048576.0;
/* Bars per variant in bars.dat (energy and force at each factor) plus one empty slot as gap. */
#define BARS_PER_GROUP (REPORT_NQTY * REPORT_NFACTORS)
#define BAR_GROUP_STRIDE (BARS_PER_GROUP + 1)

static const char *const STATUS_NAMES[REPORT_NSTATUS] = {"done", "diverged", "time_budget",
                                                         "skipped", "failed"};
static const char *const QTY_NAMES[REPORT_NQTY] = {"energy", "force"};
static const char *const QTY_UNITS[REPORT_NQTY] = {"eV/atom", "eV/A"};
static const char *const QTY_MD_UNITS[REPORT_NQTY] = {"meV/atom", "meV/Å"};

const char *report_status_str(report_status s) {
    RK_ASSERT(s < REPORT_NSTATUS);
    return STATUS_NAMES[s];
}

/* ------------------------------------------------------------- math ------------------------ */

double report_row_rmse(const report_row *r, report_qty q) {
    RK_ASSERT(q < REPORT_NQTY);
    return q == REPORT_E ? r->test_e : r->test_f;
}

size_t report_first_crossing(const report_row *rows, size_t n, report_qty q, double threshold) {
    for (size_t i = 0; i < n; i++) {
        double v = report_row_rmse(&rows[i], q);
        if (isfinite(v) && v <= threshold) return i;
    }
    return REPORT_NEVER;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

report_stats report_describe(const double *v, size_t n, double *scratch) {
    report_stats s = {0, NAN, NAN, NAN, NAN};
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        scratch[s.n++] = v[i];
        sum += v[i];
    }
    if (s.n == 0) return s;
    qsort(scratch, s.n, sizeof *scratch, cmp_double);
    s.mean = sum / (double)s.n;
    s.min = scratch[0];
    s.max = scratch[s.n - 1];
    /* median: the middle value, or the mean of the two middle values for an even count */
    s.median = s.n % 2 ? scratch[s.n / 2] : 0.5 * (scratch[s.n / 2 - 1] + scratch[s.n / 2]);
    return s;
}

report_crossing report_variant_crossing(const report_variant *v, report_qty q, double threshold) {
    report_crossing c = {0, 0, NAN, NAN, NAN};
    double se = 0.0, su = 0.0, sw = 0.0;
    for (size_t k = 0; k < v->nruns; k++) {
        const report_run *r = &v->runs[k];
        if (!r->rows) continue;
        c.n_runs++;
        size_t i = report_first_crossing(r->rows, r->nrows, q, threshold);
        if (i == REPORT_NEVER) continue;
        c.n_reached++;
        se += r->rows[i].epoch;
        su += r->rows[i].updates;
        sw += r->rows[i].wall_s;
    }
    if (c.n_runs > 0 && c.n_reached == c.n_runs) {
        c.epoch = se / (double)c.n_runs;
        c.updates = su / (double)c.n_runs;
        c.wall_s = sw / (double)c.n_runs;
    }
    return c;
}

double report_ratio(double adam_value, double v_value) {
    if (!isfinite(adam_value) || !isfinite(v_value) || v_value <= 0.0) return NAN;
    return adam_value / v_value;
}

double report_baseline(const report_exp *e, const char *dataset, report_qty q) {
    double best = NAN;
    for (size_t j = 0; j < e->nvars; j++) {
        const report_variant *v = &e->vars[j];
        if (strcmp(v->dataset, dataset) != 0) continue;
        for (size_t k = 0; k < v->nruns; k++)
            for (size_t i = 0; i < v->runs[k].nrows; i++) {
                double x = report_row_rmse(&v->runs[k].rows[i], q);
                if (isfinite(x) && (isnan(best) || x < best)) best = x;
            }
    }
    return best;
}

const report_variant *report_adam_variant(const report_exp *e, const char *dataset) {
    const report_variant *first = NULL;
    for (size_t j = 0; j < e->nvars; j++) {
        const report_variant *v = &e->vars[j];
        if (strcmp(v->dataset, dataset) != 0 || strcmp(v->optimizer, "adam") != 0) continue;
        if (strcmp(v->label, "adam") == 0) return v;
        if (!first) first = v;
    }
    return first;
}

/* ------------------------------------------------------------- loading --------------------- */

/* A numeric cell of an optional column: NAN when the column is absent or the cell empty. */
static rk_status opt_num(const csvio_table *t, const char *path, size_t row, const char *col,
                         double *out) {
    if (csvio_col(t, col) < 0) {
        *out = NAN;
        return RK_OK;
    }
    return csvio_num(t, path, row, col, out);
}

static rk_status need_cols(const csvio_table *t, const char *path, const char *const *cols) {
    for (size_t i = 0; cols[i]; i++)
        if (csvio_col(t, cols[i]) < 0)
            return err_set(RK_EINPUT, "%s: missing column '%s'", path, cols[i]);
    return RK_OK;
}

static rk_status copy_name(char *dst, const char *src, const char *path, size_t row,
                           const char *col) {
    if (!*src) return err_set(RK_EINPUT, "%s: row %zu column %s: empty", path, row + 2, col);
    if (strlen(src) >= REPORT_NAME_MAX)
        return err_set(RK_EINPUT, "%s: row %zu column %s: longer than %d characters: '%.40s...'",
                       path, row + 2, col, REPORT_NAME_MAX - 1, src);
    strcpy(dst, src);
    return RK_OK;
}

static rk_status load_metrics(const char *path, report_run *r) {
    static const char *const req[] = {
        "epoch", "updates", "wall_s", "test_rmse_e_eV_per_atom", "test_rmse_f_eV_per_A", NULL};
    csvio_table t;
    rk_status st = csvio_read(path, &t);
    if (st) return st;
    st = need_cols(&t, path, req);
    if (!st && t.nrows == 0) st = err_set(RK_EINPUT, "%s: no evaluation rows", path);
    if (!st) {
        r->rows = rk_calloc(t.nrows, sizeof *r->rows);
        if (!r->rows) st = RK_ENOMEM;
    }
    for (size_t i = 0; !st && i < t.nrows; i++) {
        report_row *w = &r->rows[i];
        if ((st = csvio_num(&t, path, i, "epoch", &w->epoch))) break;
        if ((st = csvio_num(&t, path, i, "updates", &w->updates))) break;
        if ((st = csvio_num(&t, path, i, "wall_s", &w->wall_s))) break;
        if ((st = csvio_num(&t, path, i, "test_rmse_e_eV_per_atom", &w->test_e))) break;
        if ((st = csvio_num(&t, path, i, "test_rmse_f_eV_per_A", &w->test_f))) break;
        if ((st = opt_num(&t, path, i, "train_rmse_e_eV_per_atom", &w->train_e))) break;
        if ((st = opt_num(&t, path, i, "train_rmse_f_eV_per_A", &w->train_f))) break;
        if ((st = opt_num(&t, path, i, "weight_norm", &w->weight_norm))) break;
        if ((st = opt_num(&t, path, i, "max_weight_change", &w->max_dw))) break;
    }
    if (!st) r->nrows = t.nrows;
    csvio_free(&t);
    return st;
}

/* The variant (dataset, label), appended if new. */
static rk_status find_variant(report_exp *e, const char *dataset, const char *label,
                              report_variant **out, int *created) {
    *created = 0;
    for (size_t j = 0; j < e->nvars; j++)
        if (strcmp(e->vars[j].dataset, dataset) == 0 && strcmp(e->vars[j].label, label) == 0) {
            *out = &e->vars[j];
            return RK_OK;
        }
    if (e->nvars == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 8;
        report_variant *nv = realloc(e->vars, cap * sizeof *nv);
        if (!nv) return err_set(RK_ENOMEM, "out of memory (%zu variants)", cap);
        e->vars = nv;
        e->cap = cap;
    }
    report_variant *v = &e->vars[e->nvars++];
    memset(v, 0, sizeof *v);
    strcpy(v->dataset, dataset);
    strcpy(v->label, label);
    *out = v;
    *created = 1;
    return RK_OK;
}

static rk_status add_run(report_variant *v, report_run **out) {
    if (v->nruns == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 4;
        report_run *nr = realloc(v->runs, cap * sizeof *nr);
        if (!nr) return err_set(RK_ENOMEM, "out of memory (%zu runs)", cap);
        v->runs = nr;
        v->cap = cap;
    }
    *out = &v->runs[v->nruns++];
    memset(*out, 0, sizeof **out);
    return RK_OK;
}

static rk_status parse_summary_row(report_exp *e, const csvio_table *t, const char *path,
                                   size_t row) {
    char dataset[REPORT_NAME_MAX], label[REPORT_NAME_MAX], optimizer[REPORT_NAME_MAX];
    rk_status st;
#define CELL(name) csvio_cell(t, row, (size_t)csvio_col(t, name))
    if ((st = copy_name(dataset, CELL("dataset"), path, row, "dataset"))) return st;
    if ((st = copy_name(label, CELL("label"), path, row, "label"))) return st;
    if ((st = copy_name(optimizer, CELL("optimizer"), path, row, "optimizer"))) return st;
    const char *seed_s = CELL("seed"), *status_s = CELL("status");
#undef CELL
    char *end;
    errno = 0;
    long seed = strtol(seed_s, &end, 10);
    if (!*seed_s || *end || errno || seed < 0)
        return err_set(RK_EINPUT, "%s: row %zu column seed: not a non-negative integer: '%s'", path,
                       row + 2, seed_s);
    report_status status = REPORT_NSTATUS;
    for (int s = 0; s < REPORT_NSTATUS; s++)
        if (strcmp(status_s, STATUS_NAMES[s]) == 0) status = (report_status)s;
    if (status == REPORT_NSTATUS)
        return err_set(RK_EINPUT,
                       "%s: row %zu column status: unknown value '%s' (valid: done, diverged, "
                       "time_budget, skipped, failed)",
                       path, row + 2, status_s);

    report_variant *v = NULL;
    int created;
    if ((st = find_variant(e, dataset, label, &v, &created))) return st;
    if (created) {
        strcpy(v->optimizer, optimizer);
        int gc = csvio_col(t, "group");
        const char *g = gc >= 0 ? csvio_cell(t, row, (size_t)gc) : "";
        if (strlen(g) >= REPORT_NAME_MAX)
            return err_set(RK_EINPUT, "%s: row %zu column group: too long", path, row + 2);
        strcpy(v->group, g);
        if ((st = opt_num(t, path, row, "x", &v->x))) return st;
        if ((st = opt_num(t, path, row, "block_size", &v->block_size))) return st;
        if ((st = opt_num(t, path, row, "n_blocks", &v->n_blocks))) return st;
        if ((st = opt_num(t, path, row, "state_bytes", &v->state_bytes))) return st;
        if ((st = opt_num(t, path, row, "n_params", &v->n_params))) return st;
    } else if (strcmp(v->optimizer, optimizer) != 0) {
        return err_set(RK_EINPUT,
                       "%s: row %zu column optimizer: '%s' for %s/%s, but an earlier row says '%s'",
                       path, row + 2, optimizer, dataset, label, v->optimizer);
    }
    for (size_t k = 0; k < v->nruns; k++)
        if (v->runs[k].seed == seed)
            return err_set(RK_EINPUT, "%s: row %zu: seed %ld of %s/%s listed twice", path, row + 2,
                           seed, dataset, label);
    report_run *r = NULL;
    if ((st = add_run(v, &r))) return st;
    r->seed = seed;
    r->status = status;
    if ((st = opt_num(t, path, row, "epochs", &r->epochs))) return st;
    if ((st = opt_num(t, path, row, "updates", &r->updates))) return st;
    if ((st = opt_num(t, path, row, "wall_s", &r->wall_s))) return st;
    if ((st = opt_num(t, path, row, "final_test_rmse_e_eV_per_atom", &r->final_e))) return st;
    if ((st = opt_num(t, path, row, "final_test_rmse_f_eV_per_A", &r->final_f))) return st;
    if ((st = opt_num(t, path, row, "best_test_rmse_e_eV_per_atom", &r->best_e))) return st;
    if ((st = opt_num(t, path, row, "best_test_rmse_f_eV_per_A", &r->best_f))) return st;
    int len = snprintf(r->dir, sizeof r->dir, "%s/%s/%s/seed-%ld", e->dir, dataset, label, seed);
    if (len < 0 || (size_t)len >= sizeof r->dir)
        return err_set(RK_EINPUT, "%s: row %zu: cell path too long", path, row + 2);
    if (status == REPORT_ST_SKIPPED || status == REPORT_ST_FAILED) {
        /* no training happened: whatever the row holds (the runner writes 0) is not a result */
        r->epochs = r->updates = r->wall_s = NAN;
        r->final_e = r->final_f = r->best_e = r->best_f = NAN;
        return RK_OK;
    }
    char mpath[REPORT_PATH_MAX + 16];
    snprintf(mpath, sizeof mpath, "%s/metrics.csv", r->dir);
    if (!fs_is_file(mpath))
        return err_set(RK_EINPUT, "%s: missing, but %s row %zu lists the cell as '%s'", mpath, path,
                       row + 2, status_s);
    return load_metrics(mpath, r);
}

rk_status report_load(const char *exp_dir, report_exp *e) {
    static const char *const req[] = {"dataset", "label", "optimizer", "seed", "status", NULL};
    memset(e, 0, sizeof *e);
    size_t len = strlen(exp_dir);
    while (len > 1 && exp_dir[len - 1] == '/')
        len--;
    if (len >= sizeof e->dir) return err_set(RK_EINPUT, "%s: path too long", exp_dir);
    memcpy(e->dir, exp_dir, len);
    e->dir[len] = '\0';
    const char *base = strrchr(e->dir, '/');
    base = base ? base + 1 : e->dir;
    size_t blen = strlen(base);
    if (blen >= sizeof e->name) return err_set(RK_EINPUT, "%s: folder name too long", exp_dir);
    memcpy(e->name, base, blen + 1);

    char path[REPORT_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/summary.csv", e->dir);
    if (!fs_is_file(path))
        return err_set(RK_EINPUT, "%s: missing (is %s an experiment folder written by rlekf run?)",
                       path, e->dir);
    csvio_table t;
    rk_status st = csvio_read(path, &t);
    if (st) return st;
    st = need_cols(&t, path, req);
    if (!st && t.nrows == 0) st = err_set(RK_EINPUT, "%s: no cells (header only)", path);
    for (size_t row = 0; !st && row < t.nrows; row++)
        st = parse_summary_row(e, &t, path, row);
    csvio_free(&t);
    if (!st) {
        snprintf(path, sizeof path, "%s/provenance.json", e->dir);
        if (fs_is_file(path)) st = fs_read_all(path, &e->provenance, NULL);
    }
    if (st) report_free(e);
    return st;
}

void report_free(report_exp *e) {
    for (size_t j = 0; j < e->nvars; j++) {
        for (size_t k = 0; k < e->vars[j].nruns; k++)
            free(e->vars[j].runs[k].rows);
        free(e->vars[j].runs);
    }
    free(e->vars);
    free(e->provenance);
    memset(e, 0, sizeof *e);
}

/* ------------------------------------------------------------- output helpers -------------- */

typedef fs_atomic outfile;

static rk_status out_open(outfile *o, const char *dir, const char *name) {
    char path[FS_PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path) return err_set(RK_EINPUT, "%s/%s: path too long", dir, name);
    return fs_atomic_open(o, path);
}

/* Close and rename into place; on any failure the temporary file is removed. */
static rk_status out_close(outfile *o) {
    return fs_atomic_commit(o);
}

/* A name safe as a file name and as one whitespace-separated gnuplot field. */
static void safe_name(char *dst, size_t cap, const char *src) {
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++) {
        char c = src[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-' || c == '+' || c == '=';
        dst[i] = ok ? c : '_';
    }
    dst[i] = '\0';
}

/* Number for CSV/.dat files: "nan" when not finite. */
static const char *num(char *buf, size_t cap, double v) {
    if (isnan(v))
        snprintf(buf, cap, "nan");
    else
        snprintf(buf, cap, "%.6g", v);
    return buf;
}

/* Rotating buffers so several numbers fit in one printf (NBUF_COUNT live at a time;
 * the widest user, an accuracy.csv row, holds 15). */
#define NBUF_COUNT 32
#define NBUF_LEN 96
static char *nbuf(void) {
    static char bufs[NBUF_COUNT][NBUF_LEN];
    static unsigned k;
    return bufs[k++ % NBUF_COUNT];
}
static const char *N(double v) {
    return num(nbuf(), NBUF_LEN, v);
}
/* Three significant digits without exponents for table cells ("–" if not finite). */
static void sig3(char *b, size_t cap, double v) {
    if (!isfinite(v))
        snprintf(b, cap, "–");
    else if (fabs(v) >= 1000.0 || v == 0.0)
        snprintf(b, cap, "%.0f", v);
    else
        snprintf(b, cap, "%.3g", v);
}
/* Value in meV for Markdown. */
static const char *MEV(double v) {
    char *b = nbuf();
    sig3(b, NBUF_LEN, v * MEV_PER_EV);
    return b;
}
static const char *G3(double v) {
    char *b = nbuf();
    sig3(b, NBUF_LEN, v);
    return b;
}

/* Per-variant derived numbers shared by the writers. */
typedef struct {
    size_t n_status[REPORT_NSTATUS];
    report_stats final_e, final_f, best_e, best_f, epochs, updates, wall, s_per_epoch;
    double max_dw; /* max over rows and seeds of max_weight_change */
    int has_curve;
    char curve[2 * REPORT_NAME_MAX + 16]; /* file name inside curves/ */
} var_info;

static void var_derive(const report_variant *v, var_info *vi, double *a, double *scratch) {
    memset(vi, 0, sizeof *vi);
    for (size_t k = 0; k < v->nruns; k++)
        vi->n_status[v->runs[k].status]++;
#define DESCRIBE(field, member)                                                                    \
    do {                                                                                           \
        for (size_t k = 0; k < v->nruns; k++)                                                      \
            a[k] = v->runs[k].member;                                                              \
        vi->field = report_describe(a, v->nruns, scratch);                                         \
    } while (0)
    DESCRIBE(final_e, final_e);
    DESCRIBE(final_f, final_f);
    DESCRIBE(best_e, best_e);
    DESCRIBE(best_f, best_f);
    DESCRIBE(epochs, epochs);
    DESCRIBE(updates, updates);
    DESCRIBE(wall, wall_s);
#undef DESCRIBE
    /* seconds per epoch of each seed: wall_s / epochs (seeds with epochs > 0) */
    for (size_t k = 0; k < v->nruns; k++)
        a[k] = v->runs[k].epochs > 0.0 ? v->runs[k].wall_s / v->runs[k].epochs : NAN;
    vi->s_per_epoch = report_describe(a, v->nruns, scratch);
    vi->max_dw = NAN;
    for (size_t k = 0; k < v->nruns; k++) {
        if (v->runs[k].rows) vi->has_curve = 1;
        for (size_t i = 0; i < v->runs[k].nrows; i++) {
            double d = v->runs[k].rows[i].max_dw;
            if (isfinite(d) && (isnan(vi->max_dw) || d > vi->max_dw)) vi->max_dw = d;
        }
    }
    char ds[REPORT_NAME_MAX], lb[REPORT_NAME_MAX];
    safe_name(ds, sizeof ds, v->dataset);
    safe_name(lb, sizeof lb, v->label);
    snprintf(vi->curve, sizeof vi->curve, "%s__%s.dat", ds, lb);
}

/* Crossing value of a measure: 0 epoch, 1 updates, 2 wall_s. */
#define NMEASURES 3
static double crossing_value(const report_crossing *c, int m) {
    return m == 0 ? c->epoch : m == 1 ? c->updates : c->wall_s;
}

/* Adam/V ratio of measure m, NAN unless both crossed, and both after the first update: a
 * crossing at the initial evaluation (mean updates 0) says nothing about speed. */
static double pair_ratio(const report_crossing *adam, const report_crossing *v, int m) {
    if (!(adam->updates > 0.0) || !(v->updates > 0.0)) return NAN;
    return report_ratio(crossing_value(adam, m), crossing_value(v, m));
}

/* "12.5", "never (1/3 reached)" or "n/a (no runs)". */
static const char *crossing_text(const report_crossing *c, int m, int md) {
    char *b = nbuf();
    double v = crossing_value(c, m);
    if (c->n_runs == 0)
        snprintf(b, NBUF_LEN, "n/a (no runs)");
    else if (isnan(v))
        snprintf(b, NBUF_LEN, "never (%zu/%zu reached)", c->n_reached, c->n_runs);
    else if (md && m == 1)
        snprintf(b, NBUF_LEN, "%.0f", v);
    else if (md)
        sig3(b, NBUF_LEN, v);
    else
        num(b, NBUF_LEN, v);
    return b;
}

static const char *ratio_text(double r, int md) {
    char *b = nbuf();
    if (isnan(r))
        snprintf(b, NBUF_LEN, "n/a");
    else if (md)
        sig3(b, NBUF_LEN, r);
    else
        num(b, NBUF_LEN, r);
    return b;
}

/* Distinct dataset names in order of first appearance; returns the count. */
static size_t dataset_list(const report_exp *e, const char **names) {
    size_t n = 0;
    for (size_t j = 0; j < e->nvars; j++) {
        size_t i = 0;
        while (i < n && strcmp(names[i], e->vars[j].dataset) != 0)
            i++;
        if (i == n) names[n++] = e->vars[j].dataset;
    }
    return n;
}

static int is_kalman_family(const report_variant *v) {
    return strcmp(v->optimizer, "rlekf") == 0 || strcmp(v->optimizer, "lekf") == 0 ||
           strcmp(v->optimizer, "gekf") == 0;
}

/* Everything report_write derives once. */
typedef struct {
    const report_exp *e;
    const char *out_dir;
    size_t nds;
    const char **ds;             /* (nds) dataset names */
    double (*base)[REPORT_NQTY]; /* (nds) baselines */
    var_info *vi;                /* (nvars) */
    /* (nvars, NQTY, NFACTORS) crossings */
    report_crossing *cross;
    size_t max_seeds, max_rows;
} ctx_t;

static size_t ds_index(const ctx_t *c, const char *dataset) {
    for (size_t i = 0; i < c->nds; i++)
        if (strcmp(c->ds[i], dataset) == 0) return i;
    RK_ASSERT(0);
    return 0;
}

static const report_crossing *cross_at(const ctx_t *c, size_t var, int q, int f) {
    return &c->cross[(var * REPORT_NQTY + (size_t)q) * REPORT_NFACTORS + (size_t)f];
}

/* ------------------------------------------------------------- writers --------------------- */

static rk_status write_accuracy(const ctx_t *c) {
    const report_exp *e = c->e;
    outfile o;
    rk_status st = out_open(&o, c->out_dir, "accuracy.csv");
    if (st) return st;
    static const char *const head[] = {"dataset",
                                       "label",
                                       "optimizer",
                                       "n_seeds",
                                       "n_done",
                                       "n_diverged",
                                       "n_time_budget",
                                       "n_skipped",
                                       "n_failed",
                                       "final_test_rmse_e_eV_per_atom_mean",
                                       "final_test_rmse_e_eV_per_atom_min",
                                       "final_test_rmse_e_eV_per_atom_max",
                                       "final_test_rmse_f_eV_per_A_mean",
                                       "final_test_rmse_f_eV_per_A_min",
                                       "final_test_rmse_f_eV_per_A_max",
                                       "best_test_rmse_e_eV_per_atom_mean",
                                       "best_test_rmse_e_eV_per_atom_min",
                                       "best_test_rmse_e_eV_per_atom_max",
                                       "best_test_rmse_f_eV_per_A_mean",
                                       "best_test_rmse_f_eV_per_A_min",
                                       "best_test_rmse_f_eV_per_A_max",
                                       "epochs_mean",
                                       "updates_mean",
                                       "wall_s_mean"};
    enum { NH = sizeof head / sizeof head[0] };
    csvio_write_row(o.f, head, NH);
    for (size_t j = 0; j < e->nvars; j++) {
        const report_variant *v = &e->vars[j];
        const var_info *vi = &c->vi[j];
        char cnt[REPORT_NSTATUS + 1][32];
        snprintf(cnt[0], 32, "%zu", v->nruns);
        for (int s = 0; s < REPORT_NSTATUS; s++)
            snprintf(cnt[s + 1], 32, "%zu", vi->n_status[s]);
        const report_stats *sts[4] = {&vi->final_e, &vi->final_f, &vi->best_e, &vi->best_f};
        const char *row[NH];
        size_t k = 0;
        row[k++] = v->dataset;
        row[k++] = v->label;
        row[k++] = v->optimizer;
        for (int s = 0; s <= REPORT_NSTATUS; s++)
            row[k++] = cnt[s];
        for (int s = 0; s < 4; s++) {
            row[k++] = N(sts[s]->mean);
            row[k++] = N(sts[s]->min);
            row[k++] = N(sts[s]->max);
        }
        row[k++] = N(vi->epochs.mean);
        row[k++] = N(vi->updates.mean);
        row[k++] = N(vi->wall.mean);
        RK_ASSERT(k == NH);
        csvio_write_row(o.f, row, NH);
    }
    return out_close(&o);
}

static rk_status write_speedup(const ctx_t *c) {
    const report_exp *e = c->e;
    outfile o;
    rk_status st = out_open(&o, c->out_dir, "speedup.csv");
    if (st) return st;
    static const char *const head[] = {
        "dataset",  "label",      "optimizer",     "quantity",      "unit",        "factor",
        "baseline", "threshold",  "seeds_reached", "seeds",         "epochs",      "updates",
        "wall_s",   "adam_label", "ratio_epochs",  "ratio_updates", "ratio_wall_s"};
    enum { NH = sizeof head / sizeof head[0] };
    csvio_write_row(o.f, head, NH);
    for (size_t j = 0; j < e->nvars; j++) {
        const report_variant *v = &e->vars[j];
        size_t d = ds_index(c, v->dataset);
        const report_variant *A = report_adam_variant(e, v->dataset);
        size_t ai = A ? (size_t)(A - e->vars) : 0;
        for (int q = 0; q < REPORT_NQTY; q++)
            for (int f = 0; f < REPORT_NFACTORS; f++) {
                const report_crossing *cr = cross_at(c, j, q, f);
                char nr[32], ns[32];
                snprintf(nr, sizeof nr, "%zu", cr->n_reached);
                snprintf(ns, sizeof ns, "%zu", cr->n_runs);
                const char *row[NH];
                size_t k = 0;
                row[k++] = v->dataset;
                row[k++] = v->label;
                row[k++] = v->optimizer;
                row[k++] = QTY_NAMES[q];
                row[k++] = QTY_UNITS[q];
                row[k++] = N(REPORT_FACTORS[f]);
                row[k++] = N(c->base[d][q]);
                row[k++] = N(REPORT_FACTORS[f] * c->base[d][q]);
                row[k++] = nr;
                row[k++] = ns;
                for (int m = 0; m < NMEASURES; m++)
                    row[k++] = crossing_text(cr, m, 0);
                row[k++] = A ? A->label : "";
                for (int m = 0; m < NMEASURES; m++) {
                    double r = NAN;
                    if (A && A != v) r = pair_ratio(cross_at(c, ai, q, f), cr, m);
                    row[k++] = ratio_text(r, 0);
                }
                RK_ASSERT(k == NH);
                csvio_write_row(o.f, row, NH);
            }
    }
    return out_close(&o);
}

/* Statistics of one report_row member (at byte offset off) at row i over the seeds that have a
 * row i; *ns receives how many seeds that is. a and scratch hold at least nruns doubles. */
static report_stats row_stats(const report_variant *v, size_t i, size_t off, double *a,
                              double *scratch, size_t *ns) {
    size_t n = 0;
    for (size_t k = 0; k < v->nruns; k++)
        if (v->runs[k].nrows > i) {
            double x;
            memcpy(&x, (const char *)&v->runs[k].rows[i] + off, sizeof x);
            a[n++] = x;
        }
    *ns = n;
    return report_describe(a, n, scratch);
}

/* Median over the seeds that have row i of |w|(row i) - |w|(row 0): the drift of the weight norm,
 * which the output biases (thousands of eV for some sets) hide in |w| itself. */
static report_stats norm_change_stats(const report_variant *v, size_t i, double *a,
                                      double *scratch) {
    size_t n = 0;
    for (size_t k = 0; k < v->nruns; k++)
        if (v->runs[k].nrows > i)
            a[n++] = v->runs[k].rows[i].weight_norm - v->runs[k].rows[0].weight_norm;
    return report_describe(a, n, scratch);
}

/* Curve numbers keep 10 significant digits: |w| changes in its 7th digit. */
static const char *N10(double v) {
    char *b = nbuf();
    if (isnan(v))
        snprintf(b, NBUF_LEN, "nan");
    else
        snprintf(b, NBUF_LEN, "%.10g", v);
    return b;
}

static rk_status write_curves(const ctx_t *c, const char *curve_dir) {
    const report_exp *e = c->e;
    rk_status st = RK_OK;
    /* per row: the seeds' values of one column, and the scratch of report_describe */
    double *a = rk_malloc((c->max_seeds + 1) * sizeof *a);
    double *scratch = rk_malloc((c->max_seeds + 1) * sizeof *scratch);
    if (!a || !scratch) st = RK_ENOMEM;
    for (size_t j = 0; !st && j < e->nvars; j++) {
        const report_variant *v = &e->vars[j];
        if (!c->vi[j].has_curve) continue;
        outfile o;
        if ((st = out_open(&o, curve_dir, c->vi[j].curve))) break;
        fprintf(o.f, "# %s %s (%s): per evaluation row, statistics over seeds\n", v->dataset,
                v->label, v->optimizer);
        fprintf(o.f, "# row epoch updates wall_s_median test_e_eV_per_atom_median "
                     "test_e_eV_per_atom_min test_e_eV_per_atom_max test_f_eV_per_A_median "
                     "test_f_eV_per_A_min test_f_eV_per_A_max train_e_eV_per_atom_median "
                     "train_f_eV_per_A_median weight_norm_median max_weight_change_median "
                     "n_seeds weight_norm_change_median\n");
        size_t nrows = 0;
        for (size_t k = 0; k < v->nruns; k++)
            if (v->runs[k].nrows > nrows) nrows = v->runs[k].nrows;
        for (size_t i = 0; i < nrows; i++) {
            size_t ns = 0;
#define COL(member) row_stats(v, i, offsetof(report_row, member), a, scratch, &ns)
            report_stats ep = COL(epoch), up = COL(updates), wl = COL(wall_s);
            report_stats te = COL(test_e), tf = COL(test_f), re = COL(train_e), rf = COL(train_f);
            report_stats wn = COL(weight_norm), dw = COL(max_dw);
#undef COL
            report_stats dn = norm_change_stats(v, i, a, scratch);
            fprintf(o.f, "%zu %s %s %s %s %s %s %s %s %s %s %s %s %s %zu %s\n", i, N10(ep.median),
                    N10(up.median), N10(wl.median), N10(te.median), N10(te.min), N10(te.max),
                    N10(tf.median), N10(tf.min), N10(tf.max), N10(re.median), N10(rf.median),
                    N10(wn.median), N10(dw.median), ns, N10(dn.median));
        }
        if ((st = out_close(&o))) break;
    }
    free(a);
    free(scratch);
    return st;
}

/* Tables for plots/: whitespace-separated, one '#' header line, names made safe, nan = missing. */
static rk_status write_baselines(const ctx_t *c) {
    outfile o;
    rk_status st = out_open(&o, c->out_dir, "baselines.dat");
    if (st) return st;
    fprintf(o.f, "# dataset baseline_e_eV_per_atom baseline_f_eV_per_A\n");
    for (size_t d = 0; d < c->nds; d++) {
        char ds[REPORT_NAME_MAX];
        safe_name(ds, sizeof ds, c->ds[d]);
        fprintf(o.f, "%s %s %s\n", ds, N(c->base[d][REPORT_E]), N(c->base[d][REPORT_F]));
    }
    return out_close(&o);
}

static rk_status write_variants(const ctx_t *c) {
    const report_exp *e = c->e;
    outfile o;
    rk_status st = out_open(&o, c->out_dir, "variants.dat");
    if (st) return st;
    fprintf(o.f, "# dataset label optimizer group x n_seeds n_with_metrics curve_file\n");
    for (size_t j = 0; j < e->nvars; j++) {
        const report_variant *v = &e->vars[j];
        char ds[REPORT_NAME_MAX], lb[REPORT_NAME_MAX], op[REPORT_NAME_MAX], gr[REPORT_NAME_MAX];
        safe_name(ds, sizeof ds, v->dataset);
        safe_name(lb, sizeof lb, v->label);
        safe_name(op, sizeof op, v->optimizer);
        safe_name(gr, sizeof gr, v->group);
        size_t nm = 0;
        for (size_t k = 0; k < v->nruns; k++)
            nm += v->runs[k].rows != NULL;
        fprintf(o.f, "%s %s %s %s %s %zu %zu %s\n", ds, lb, op, gr[0] ? gr : "-", N(v->x), v->nruns,
                nm, c->vi[j].has_curve ? c->vi[j].curve : "-");
    }
    return out_close(&o);
}

/* bars.dat: one bar per (dataset, non-Adam variant, quantity, factor) with the Adam/V ratios;
 * bars_groups.dat: the x centre of each variant's group of bars for the tick labels. */
static rk_status write_bars(const ctx_t *c) {
    const report_exp *e = c->e;
    outfile o, g;
    rk_status st = out_open(&o, c->out_dir, "bars.dat");
    if (st) return st;
    if ((st = out_open(&g, c->out_dir, "bars_groups.dat"))) {
        fs_atomic_abort(&o);
        return st;
    }
    fprintf(o.f, "# xpos dataset label quantity factor ratio_epochs ratio_updates ratio_wall_s "
                 "note\n");
    fprintf(g.f, "# xcenter dataset label adam_label\n");
    size_t group = 0;
    for (size_t d = 0; d < c->nds; d++) {
        const report_variant *A = report_adam_variant(e, c->ds[d]);
        if (!A) continue;
        size_t ai = (size_t)(A - e->vars);
        for (size_t j = 0; j < e->nvars; j++) {
            const report_variant *v = &e->vars[j];
            if (strcmp(v->dataset, c->ds[d]) != 0 || strcmp(v->optimizer, "adam") == 0) continue;
            char ds[REPORT_NAME_MAX], lb[REPORT_NAME_MAX], al[REPORT_NAME_MAX];
            safe_name(ds, sizeof ds, v->dataset);
            safe_name(lb, sizeof lb, v->label);
            safe_name(al, sizeof al, A->label);
            double x0 = (double)(group * BAR_GROUP_STRIDE);
            fprintf(g.f, "%s %s %s %s\n", N(x0 + 0.5 * (BARS_PER_GROUP - 1)), ds, lb, al);
            size_t bar = 0;
            for (int f = 0; f < REPORT_NFACTORS; f++)
                for (int q = 0; q < REPORT_NQTY; q++, bar++) {
                    const report_crossing *cv = cross_at(c, j, q, f), *ca = cross_at(c, ai, q, f);
                    const char *note = cv->n_runs == 0              ? "no_runs"
                                       : cv->n_reached < cv->n_runs ? "never"
                                       : ca->n_runs == 0            ? "adam_no_runs"
                                       : ca->n_reached < ca->n_runs ? "adam_never"
                                                                    : "ok";
                    double r[NMEASURES];
                    for (int m = 0; m < NMEASURES; m++)
                        r[m] = pair_ratio(ca, cv, m);
                    if (!strcmp(note, "ok") && isnan(r[0])) note = "at_start";
                    fprintf(o.f, "%s %s %s %s %s %s %s %s %s\n", N(x0 + (double)bar), ds, lb,
                            QTY_NAMES[q], N(REPORT_FACTORS[f]), N(r[0]), N(r[1]), N(r[2]), note);
                }
            group++;
        }
    }
    st = out_close(&o);
    rk_status st2 = out_close(&g);
    return st ? st : st2;
}

/* N_b of a Kalman variant; gekf is the limit N_b = N (its block size is the parameter count). */
static double block_size_of(const report_variant *v) {
    return isnan(v->block_size) && !strcmp(v->optimizer, "gekf") ? v->n_params : v->block_size;
}

/* Rank of an optimizer in the ablation table: the series order of the figure. */
static int kalman_rank(const report_variant *v) {
    return !strcmp(v->optimizer, "rlekf") ? 0 : !strcmp(v->optimizer, "lekf") ? 1 : 2;
}

/* ablation.dat: the block-size sweep, i.e. Kalman variants outside any group other than
 * "block_size" (an init-scale or outlier variant shares an N_b but answers another question),
 * ordered by dataset, optimizer (rlekf, lekf, gekf), then N_b so each series is a line. */
static rk_status write_ablation(const ctx_t *c, size_t *idx) {
    const report_exp *e = c->e;
    size_t n = 0;
    for (size_t d = 0; d < c->nds; d++)
        for (size_t j = 0; j < e->nvars; j++) {
            const report_variant *v = &e->vars[j];
            if (strcmp(v->dataset, c->ds[d]) != 0 || !is_kalman_family(v)) continue;
            if (v->group[0] && strcmp(v->group, "block_size") != 0) continue;
            /* insertion into this dataset's run of rows, by (rank, N_b), nan N_b last */
            size_t p = n++;
            while (p > 0 && !strcmp(e->vars[idx[p - 1]].dataset, v->dataset)) {
                const report_variant *w = &e->vars[idx[p - 1]];
                int rw = kalman_rank(w), rv = kalman_rank(v);
                double bw = block_size_of(w), bv = block_size_of(v);
                int after = rw > rv || (rw == rv && (isnan(bw) ? !isnan(bv) : bw > bv));
                if (!after) break;
                idx[p] = idx[p - 1];
                p--;
            }
            idx[p] = j;
        }
    outfile o;
    rk_status st = out_open(&o, c->out_dir, "ablation.dat");
    if (st) return st;
    fprintf(o.f, "# dataset label optimizer block_size n_blocks n_params state_MiB "
                 "s_per_epoch_mean final_test_e_eV_per_atom_mean final_test_f_eV_per_A_mean "
                 "n_done n_seeds\n");
    for (size_t k = 0; k < n; k++) {
        const report_variant *v = &e->vars[idx[k]];
        const var_info *vi = &c->vi[idx[k]];
        char ds[REPORT_NAME_MAX], lb[REPORT_NAME_MAX];
        safe_name(ds, sizeof ds, v->dataset);
        safe_name(lb, sizeof lb, v->label);
        fprintf(o.f, "%s %s %s %s %s %s %s %s %s %s %zu %zu\n", ds, lb, v->optimizer,
                N(block_size_of(v)), N(v->n_blocks), N(v->n_params),
                N(v->state_bytes / BYTES_PER_MIB), N(vi->s_per_epoch.mean), N(vi->final_e.mean),
                N(vi->final_f.mean), vi->n_status[REPORT_ST_DONE], v->nruns);
    }
    return out_close(&o);
}

/* Variant indices with a group, ordered by dataset, group (first appearance), then x. */
static size_t stability_order(const ctx_t *c, size_t *idx) {
    const report_exp *e = c->e;
    size_t n = 0;
    for (size_t d = 0; d < c->nds; d++)
        for (size_t j = 0; j < e->nvars; j++) {
            const report_variant *v = &e->vars[j];
            if (strcmp(v->dataset, c->ds[d]) != 0 || !v->group[0]) continue;
            /* has this group been emitted for this dataset? then it is already placed */
            int seen = 0;
            for (size_t k = 0; k < n; k++)
                seen |= !strcmp(e->vars[idx[k]].dataset, v->dataset) &&
                        !strcmp(e->vars[idx[k]].group, v->group);
            if (seen) continue;
            size_t start = n;
            for (size_t i = j; i < e->nvars; i++) {
                const report_variant *w = &e->vars[i];
                if (strcmp(w->dataset, v->dataset) || strcmp(w->group, v->group)) continue;
                /* insertion by x (nan last) */
                size_t p = n++;
                while (p > start && (isnan(e->vars[idx[p - 1]].x) ||
                                     (!isnan(w->x) && e->vars[idx[p - 1]].x > w->x))) {
                    idx[p] = idx[p - 1];
                    p--;
                }
                idx[p] = i;
            }
        }
    return n;
}

static rk_status write_stability(const ctx_t *c, const size_t *idx, size_t n) {
    const report_exp *e = c->e;
    outfile o;
    rk_status st = out_open(&o, c->out_dir, "stability.dat");
    if (st) return st;
    fprintf(o.f, "# dataset group x label optimizer final_test_e_eV_per_atom_mean "
                 "final_test_f_eV_per_A_mean n_done n_diverged n_time_budget n_skipped n_failed "
                 "max_weight_change curve_file\n");
    for (size_t k = 0; k < n; k++) {
        const report_variant *v = &e->vars[idx[k]];
        const var_info *vi = &c->vi[idx[k]];
        char ds[REPORT_NAME_MAX], lb[REPORT_NAME_MAX], gr[REPORT_NAME_MAX];
        safe_name(ds, sizeof ds, v->dataset);
        safe_name(lb, sizeof lb, v->label);
        safe_name(gr, sizeof gr, v->group);
        fprintf(o.f, "%s %s %s %s %s %s %s %zu %zu %zu %zu %zu %s %s\n", ds, gr, N(v->x), lb,
                v->optimizer, N(vi->final_e.mean), N(vi->final_f.mean),
                vi->n_status[REPORT_ST_DONE], vi->n_status[REPORT_ST_DIVERGED],
                vi->n_status[REPORT_ST_TIME_BUDGET], vi->n_status[REPORT_ST_SKIPPED],
                vi->n_status[REPORT_ST_FAILED], N(vi->max_dw), vi->has_curve ? vi->curve : "-");
    }
    return out_close(&o);
}

/* The cell chosen for each variant's parity plot: the first done cell, else the first that
 * stopped at its time budget (both leave a finite model.h5). -1 if none. */
static long parity_cell(const report_variant *v) {
    for (size_t k = 0; k < v->nruns; k++)
        if (v->runs[k].status == REPORT_ST_DONE) return (long)k;
    for (size_t k = 0; k < v->nruns; k++)
        if (v->runs[k].status == REPORT_ST_TIME_BUDGET) return (long)k;
    return -1;
}

/* parity_cells.tsv (tab-separated, paths may hold spaces): dataset label optimizer seed
 * model_h5 dataset_h5. model_h5 is relative to the experiment folder, so the table stays valid
 * wherever the folder is read from; dataset_h5 is training.dataset of the cell's config.json as
 * written (relative paths are relative to where `rlekf run` ran, normally the repository). */
static rk_status write_parity_cells(const ctx_t *c) {
    const report_exp *e = c->e;
    outfile o;
    rk_status st = out_open(&o, c->out_dir, "parity_cells.tsv");
    if (st) return st;
    fprintf(o.f, "# dataset\tlabel\toptimizer\tseed\tmodel_h5_in_experiment\tdataset_h5\n");
    for (size_t j = 0; j < e->nvars; j++) {
        const report_variant *v = &e->vars[j];
        long k = parity_cell(v);
        if (k < 0) continue;
        const report_run *r = &v->runs[k];
        char cfg[REPORT_PATH_MAX + 16], h5[REPORT_PATH_MAX], model[REPORT_PATH_MAX + 16];
        snprintf(cfg, sizeof cfg, "%s/config.json", r->dir);
        snprintf(model, sizeof model, "%s/model.h5", r->dir);
        if (!fs_is_file(model)) continue;
        snprintf(h5, sizeof h5, "-");
        jsonw *root = NULL;
        if (fs_is_file(cfg) && jsonw_parse_file(cfg, &root) == RK_OK) {
            const jsonw *d = jsonw_get(jsonw_get(root, "training"), "dataset");
            if (d && jsonw_typeof(d) == JSONW_STRING)
                snprintf(h5, sizeof h5, "%s", jsonw_string(d));
        }
        err_clear(); /* an unreadable config only costs the parity plot, not the report */
        jsonw_free(root);
        char ds[REPORT_NAME_MAX], lb[REPORT_NAME_MAX];
        safe_name(ds, sizeof ds, v->dataset);
        safe_name(lb, sizeof lb, v->label);
        fprintf(o.f, "%s\t%s\t%s\t%ld\t%s/%s/seed-%ld/model.h5\t%s\n", ds, lb, v->optimizer,
                r->seed, v->dataset, v->label, r->seed, h5);
    }
    return out_close(&o);
}

/* "mean [min, max]" in meV, or the mean alone for one value. */
static const char *spread(const report_stats *s) {
    char *b = nbuf();
    if (s->n == 0) {
        snprintf(b, NBUF_LEN, "–");
    } else if (s->n == 1) {
        sig3(b, NBUF_LEN, s->mean * MEV_PER_EV);
    } else {
        char m[24], lo[24], hi[24];
        sig3(m, sizeof m, s->mean * MEV_PER_EV);
        sig3(lo, sizeof lo, s->min * MEV_PER_EV);
        sig3(hi, sizeof hi, s->max * MEV_PER_EV);
        snprintf(b, NBUF_LEN, "%s [%s, %s]", m, lo, hi);
    }
    return b;
}

static const char *status_counts(const var_info *vi) {
    char *b = nbuf();
    snprintf(b, NBUF_LEN, "%zu/%zu/%zu/%zu/%zu", vi->n_status[0], vi->n_status[1], vi->n_status[2],
             vi->n_status[3], vi->n_status[4]);
    return b;
}

static rk_status write_md(const ctx_t *c, const size_t *stab, size_t nstab, char *md_path,
                          size_t cap) {
    const report_exp *e = c->e;
    outfile o;
    rk_status st = out_open(&o, c->out_dir, "report.md");
    if (st) return st;
    FILE *f = o.f;
    fprintf(f, "# Experiment `%s`\n\n", e->name);
    fprintf(f,
            "Results folder: `%s`. Written by `rlekf report`. Test RMSEs in these tables are in "
            "meV/atom (energy per atom) and meV/Å (force components); the CSV files beside "
            "this page hold the same numbers in eV/atom and eV/Å. Status counts are "
            "done/diverged/time_budget/skipped/failed; statistics over seeds use the seeds "
            "with a finite value.\n\n",
            e->dir);

    fprintf(f, "## Provenance\n\n");
    if (e->provenance) {
        size_t len = strlen(e->provenance);
        fprintf(f, "```json\n%s%s```\n\n", e->provenance,
                len && e->provenance[len - 1] == '\n' ? "" : "\n");
    } else {
        fprintf(f, "No provenance.json in the results folder.\n\n");
    }

    fprintf(f, "## Baselines (SPEC §4)\n\nLowest test RMSE reached by any evaluation of any run "
               "on the dataset, and the thresholds used for the speed-up.\n\n");
    fprintf(f, "| Dataset | E baseline (meV/atom) | ×1.2 | ×1.5 | F baseline (meV/Å) | ×1.2 | ×1.5 "
               "|\n|---|---|---|---|---|---|---|\n");
    for (size_t d = 0; d < c->nds; d++) {
        double be = c->base[d][REPORT_E], bf = c->base[d][REPORT_F];
        fprintf(f, "| %s | %s | %s | %s | %s | %s | %s |\n", c->ds[d], MEV(be),
                MEV(REPORT_FACTORS[0] * be), MEV(REPORT_FACTORS[1] * be), MEV(bf),
                MEV(REPORT_FACTORS[0] * bf), MEV(REPORT_FACTORS[1] * bf));
    }

    fprintf(f, "\n## Accuracy\n\nFinal and best test RMSE as mean [min, max] over seeds; epochs, "
               "updates and wall time are means over seeds.\n\n");
    fprintf(f, "| Dataset | Variant | Optimizer | Seeds | Status | Final E (meV/atom) | Final F "
               "(meV/Å) | Best E (meV/atom) | Best F (meV/Å) | Epochs | Updates | Wall (s) |\n");
    fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t j = 0; j < e->nvars; j++) {
        const report_variant *v = &e->vars[j];
        const var_info *vi = &c->vi[j];
        fprintf(f, "| %s | %s | %s | %zu | %s | %s | %s | %s | %s | %s | %s | %s |\n", v->dataset,
                v->label, v->optimizer, v->nruns, status_counts(vi), spread(&vi->final_e),
                spread(&vi->final_f), spread(&vi->best_e), spread(&vi->best_f), G3(vi->epochs.mean),
                isfinite(vi->updates.mean) ? N(vi->updates.mean) : "–", G3(vi->wall.mean));
    }

    fprintf(f, "\n## Speed-up against Adam\n\nFirst evaluation with test RMSE ≤ factor × baseline, "
               "mean over seeds (\"never (k/n reached)\" unless every seed reached it). Ratios are "
               "Adam's value / the variant's value: above 1 means the variant needs fewer "
               "epochs, updates or seconds than Adam; n/a when either side never reached the "
               "threshold or reached it at the initial evaluation (before any update). Wall time "
               "includes the evaluations.\n");
    for (size_t d = 0; d < c->nds; d++) {
        const report_variant *A = report_adam_variant(e, c->ds[d]);
        fprintf(f, "\n### %s\n\n", c->ds[d]);
        if (A)
            fprintf(f, "Adam reference: `%s`.\n\n", A->label);
        else
            fprintf(f, "No Adam variant on this dataset: ratios are n/a.\n\n");
        fprintf(f, "| Variant | Quantity | Threshold | Epochs | Updates | Wall (s) | Adam/V epochs "
                   "| Adam/V updates | Adam/V wall |\n|---|---|---|---|---|---|---|---|---|\n");
        size_t ai = A ? (size_t)(A - e->vars) : 0;
        for (size_t j = 0; j < e->nvars; j++) {
            const report_variant *v = &e->vars[j];
            if (strcmp(v->dataset, c->ds[d]) != 0) continue;
            for (int q = 0; q < REPORT_NQTY; q++)
                for (int fi = 0; fi < REPORT_NFACTORS; fi++) {
                    const report_crossing *cr = cross_at(c, j, q, fi);
                    fprintf(f, "| %s | %s | ×%.1f (%s %s) |", v->label, QTY_NAMES[q],
                            REPORT_FACTORS[fi], MEV(REPORT_FACTORS[fi] * c->base[d][q]),
                            QTY_MD_UNITS[q]);
                    for (int m = 0; m < NMEASURES; m++)
                        fprintf(f, " %s |", crossing_text(cr, m, 1));
                    for (int m = 0; m < NMEASURES; m++) {
                        if (A == v) {
                            fprintf(f, " (reference) |");
                            continue;
                        }
                        double r = A ? pair_ratio(cross_at(c, ai, q, fi), cr, m) : NAN;
                        fprintf(f, " %s |", ratio_text(r, 1));
                    }
                    fprintf(f, "\n");
                }
        }
    }

    int any_abl = 0;
    for (size_t j = 0; j < e->nvars; j++)
        any_abl |= is_kalman_family(&e->vars[j]);
    if (any_abl) {
        fprintf(f, "\n## Kalman variants: block size, memory, time\n\nN_b is the block size "
                   "(gekf: one block of all N weights); state is the optimizer's covariance "
                   "memory; time per epoch is wall_s / epochs, mean over seeds.\n\n");
        fprintf(f, "| Dataset | Variant | Optimizer | N_b | Blocks | State (MiB) | Time/epoch (s) "
                   "| Final E (meV/atom) | Final F (meV/Å) | Status |\n");
        fprintf(f, "|---|---|---|---|---|---|---|---|---|---|\n");
        for (size_t j = 0; j < e->nvars; j++) {
            const report_variant *v = &e->vars[j];
            if (!is_kalman_family(v)) continue;
            const var_info *vi = &c->vi[j];
            double nb = block_size_of(v);
            fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", v->dataset,
                    v->label, v->optimizer, isfinite(nb) ? N(nb) : "–",
                    isfinite(v->n_blocks) ? N(v->n_blocks) : "–",
                    G3(v->state_bytes / BYTES_PER_MIB), G3(vi->s_per_epoch.mean),
                    MEV(vi->final_e.mean), MEV(vi->final_f.mean), status_counts(vi));
        }
    }

    if (nstab) {
        fprintf(f, "\n## Stability groups\n\nFinal test RMSE (mean over seeds), status counts "
                   "and the largest single-weight change in one update over all rows and "
                   "seeds.\n\n");
        fprintf(f, "| Dataset | Group | x | Variant | Optimizer | Final E (meV/atom) | Final F "
                   "(meV/Å) | Status | Max abs weight change |\n");
        fprintf(f, "|---|---|---|---|---|---|---|---|---|\n");
        for (size_t k = 0; k < nstab; k++) {
            const report_variant *v = &e->vars[stab[k]];
            const var_info *vi = &c->vi[stab[k]];
            fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", v->dataset, v->group,
                    G3(v->x), v->label, v->optimizer, MEV(vi->final_e.mean), MEV(vi->final_f.mean),
                    status_counts(vi), G3(vi->max_dw));
        }
    }

    fprintf(f, "\n## Files\n\n"
               "- `accuracy.csv`, `speedup.csv`: the tables above in eV units, one row per "
               "variant (speed-up: per variant, quantity and factor).\n"
               "- `curves/<dataset>__<label>.dat`: per evaluation row, median/min/max over seeds "
               "(gnuplot input).\n"
               "- `baselines.dat`, `variants.dat`, `bars.dat`, `bars_groups.dat`, "
               "`ablation.dat`, `stability.dat`, `parity_cells.tsv`: inputs of plots/*.gp.\n");
    st = out_close(&o);
    if (!st) snprintf(md_path, cap, "%s", o.path);
    return st;
}

rk_status report_write(const report_exp *e, const char *out_dir, char *md_path, size_t cap) {
    ctx_t c;
    memset(&c, 0, sizeof c);
    c.e = e;
    c.out_dir = out_dir;
    char curve_dir[REPORT_PATH_MAX + 16];
    int n = snprintf(curve_dir, sizeof curve_dir, "%s/curves", out_dir);
    if (n < 0 || (size_t)n >= sizeof curve_dir)
        return err_set(RK_EINPUT, "%s: path too long", out_dir);
    rk_status st = fs_mkdirs(curve_dir);
    if (st) return st;

    size_t nv = e->nvars ? e->nvars : 1;
    c.ds = rk_calloc(nv, sizeof *c.ds);
    c.base = rk_calloc(nv, sizeof *c.base);
    c.vi = rk_calloc(nv, sizeof *c.vi);
    c.cross = rk_calloc(nv * REPORT_NQTY * REPORT_NFACTORS, sizeof *c.cross);
    size_t *stab = rk_calloc(nv, sizeof *stab), *a_idx = rk_calloc(nv, sizeof *a_idx);
    for (size_t j = 0; j < e->nvars; j++)
        if (e->vars[j].nruns > c.max_seeds) c.max_seeds = e->vars[j].nruns;
    double *a = rk_calloc(c.max_seeds + 1, sizeof *a);
    double *scratch = rk_calloc(c.max_seeds + 1, sizeof *scratch);
    if (!c.ds || !c.base || !c.vi || !c.cross || !stab || !a_idx || !a || !scratch) st = RK_ENOMEM;
    if (!st) {
        c.nds = dataset_list(e, c.ds);
        for (size_t d = 0; d < c.nds; d++)
            for (int q = 0; q < REPORT_NQTY; q++)
                c.base[d][q] = report_baseline(e, c.ds[d], (report_qty)q);
        for (size_t j = 0; j < e->nvars; j++) {
            var_derive(&e->vars[j], &c.vi[j], a, scratch);
            size_t d = ds_index(&c, e->vars[j].dataset);
            for (int q = 0; q < REPORT_NQTY; q++)
                for (int f = 0; f < REPORT_NFACTORS; f++)
                    c.cross[(j * REPORT_NQTY + (size_t)q) * REPORT_NFACTORS + (size_t)f] =
                        report_variant_crossing(&e->vars[j], (report_qty)q,
                                                REPORT_FACTORS[f] * c.base[d][q]);
        }
    }
    size_t nstab = st ? 0 : stability_order(&c, stab);
    if (!st) st = write_accuracy(&c);
    if (!st) st = write_speedup(&c);
    if (!st) st = write_curves(&c, curve_dir);
    if (!st) st = write_baselines(&c);
    if (!st) st = write_variants(&c);
    if (!st) st = write_bars(&c);
    if (!st) st = write_ablation(&c, a_idx);
    if (!st) st = write_stability(&c, stab, nstab);
    if (!st) st = write_parity_cells(&c);
    if (!st) st = write_md(&c, stab, nstab, md_path, cap);
    free(c.ds);
    free(c.base);
    free(c.vi);
    free(c.cross);
    free(stab);
    free(a_idx);
    free(a);
    free(scratch);
    return st;
}
