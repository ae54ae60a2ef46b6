/* report_math: the quantities of SPEC §4 over a loaded experiment (equations in report.h) and
 * what the writers derive from them once: per-variant statistics, every crossing, the orders of
 * the ablation and stability tables.
 *
 * Optimizers are told apart by their registered type only: its kind (Kalman, gradient), whether
 * it declares a block-size parameter, and its position in the registry table.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "report_internal.h"

const double REPORT_FACTORS[REPORT_NFACTORS] = {1.2, 1.5};

/* ------------------------------------------------------------- kinds ----------------------- */

int report_is_kalman(const report_variant *v) {
    return v->type && v->type->kind == OPTIM_KALMAN;
}

int report_is_gradient(const report_variant *v) {
    return v->type && v->type->kind == OPTIM_GRADIENT;
}

static int declares_block_size(const report_variant *v) {
    return v->type && optim_param_index(v->type, REPORT_BLOCK_SIZE_PARAM) >= 0;
}

double report_block_size_of(const report_variant *v) {
    return isnan(v->block_size) && report_is_kalman(v) && !declares_block_size(v) ? v->n_params
                                                                                  : v->block_size;
}

/* Rank of a Kalman variant in the ablation table, the series order of the figure: types that
 * declare a block size in registry order (rlekf, lekf), then the one-block types (gekf, the
 * N_b = N limit); a type outside the registry after the registered ones of its class. */
static size_t kalman_rank(const report_variant *v) {
    size_t n = optim_count(), i = 0;
    while (i < n && optim_at(i) != v->type)
        i++;
    return (declares_block_size(v) ? 0 : n + 1) + i;
}

/* ------------------------------------------------------------- math without files ---------- */

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
    report_crossing c = {0, 0, NAN, NAN, NAN, {NAN, NAN, NAN}, {NAN, NAN, NAN}};
    double sum[3] = {0.0, 0.0, 0.0}, lo[3] = {INFINITY, INFINITY, INFINITY},
           hi[3] = {-INFINITY, -INFINITY, -INFINITY};
    for (size_t k = 0; k < v->nruns; k++) {
        const report_run *r = &v->runs[k];
        if (!r->rows) continue;
        c.n_runs++;
        size_t i = report_first_crossing(r->rows, r->nrows, q, threshold);
        if (i == REPORT_NEVER) continue;
        c.n_reached++;
        const double x[3] = {r->rows[i].epoch, r->rows[i].updates, r->rows[i].clock_s};
        for (int m = 0; m < 3; m++) {
            sum[m] += x[m];
            lo[m] = fmin(lo[m], x[m]);
            hi[m] = fmax(hi[m], x[m]);
        }
    }
    if (c.n_runs > 0 && c.n_reached == c.n_runs) {
        c.epoch = sum[0] / (double)c.n_runs;
        c.updates = sum[1] / (double)c.n_runs;
        c.clock_s = sum[2] / (double)c.n_runs;
        memcpy(c.lo, lo, sizeof lo);
        memcpy(c.hi, hi, sizeof hi);
    }
    return c;
}

double report_ratio(double ref_value, double v_value) {
    if (!isfinite(ref_value) || !isfinite(v_value) || v_value <= 0.0) return NAN;
    return ref_value / v_value;
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

/* Mean over seeds of the finite best test RMSEs of q (NAN if none). */
static double mean_best(const report_variant *v, report_qty q) {
    double sum = 0.0;
    size_t n = 0;
    for (size_t k = 0; k < v->nruns; k++) {
        double x = q == REPORT_E ? v->runs[k].best_e : v->runs[k].best_f;
        if (!isfinite(x)) continue;
        sum += x;
        n++;
    }
    return n ? sum / (double)n : NAN;
}

const report_variant *report_gradient_reference(const report_exp *e, const char *dataset,
                                                report_qty q, double threshold) {
    const report_variant *first = NULL, *fastest = NULL, *closest = NULL;
    report_crossing fc = {0};
    double cbest = NAN;
    for (size_t j = 0; j < e->nvars; j++) {
        const report_variant *v = &e->vars[j];
        if (strcmp(v->dataset, dataset) != 0 || !report_is_gradient(v)) continue;
        if (!first) first = v;
        report_crossing c = report_variant_crossing(v, q, threshold);
        /* strict comparisons: of equals, the earlier variant stays */
        if (isfinite(c.clock_s) &&
            (!fastest || c.clock_s < fc.clock_s ||
             (c.clock_s == fc.clock_s && c.updates < fc.updates))) {
            fastest = v;
            fc = c;
        }
        double b = mean_best(v, q);
        if (isfinite(b) && (!closest || b < cbest)) {
            closest = v;
            cbest = b;
        }
    }
    return fastest ? fastest : closest ? closest : first;
}

/* ------------------------------------------------------------- crossings of pairs ---------- */

double report_crossing_value(const report_crossing *c, int m) {
    return m == 0 ? c->epoch : m == 1 ? c->updates : c->clock_s;
}

double report_pair_ratio(const report_crossing *ref, const report_crossing *v, int m) {
    if (!(ref->updates > 0.0) || !(v->updates > 0.0)) return NAN;
    return report_ratio(report_crossing_value(ref, m), report_crossing_value(v, m));
}

/* ------------------------------------------------------------- derived once ---------------- */

static void var_derive(const report_variant *v, report_var_info *vi, double *a, double *scratch) {
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
    DESCRIBE(clock, clock_s);
#undef DESCRIBE
    /* training seconds per epoch of each seed: train_s / epochs (seeds with epochs > 0) */
    for (size_t k = 0; k < v->nruns; k++)
        a[k] = v->runs[k].epochs > 0.0 ? v->runs[k].clock_s / v->runs[k].epochs : NAN;
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
    report_safe_name(ds, sizeof ds, v->dataset);
    report_safe_name(lb, sizeof lb, v->label);
    snprintf(vi->curve, sizeof vi->curve, "%s__%s.dat", ds, lb);
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

size_t report_ds_index(const report_ctx *c, const char *dataset) {
    for (size_t i = 0; i < c->nds; i++)
        if (strcmp(c->ds[i], dataset) == 0) return i;
    RK_ASSERT(0);
    return 0;
}

const report_variant *report_ref_at(const report_ctx *c, size_t d, int q, int f) {
    size_t i = c->ref[(d * REPORT_NQTY + (size_t)q) * REPORT_NFACTORS + (size_t)f];
    return i == REPORT_NO_REF ? NULL : &c->e->vars[i];
}

int report_time_shared(const report_ctx *c, size_t a, size_t v) {
    return c->shared[a] || c->shared[v];
}

size_t report_n_shared_time_ratios(const report_ctx *c) {
    const report_exp *e = c->e;
    size_t n = 0;
    for (size_t j = 0; j < e->nvars; j++) {
        size_t d = report_ds_index(c, e->vars[j].dataset);
        for (int q = 0; q < REPORT_NQTY; q++)
            for (int f = 0; f < REPORT_NFACTORS; f++) {
                const report_variant *A = report_ref_at(c, d, q, f);
                if (!A || A == &e->vars[j]) continue;
                size_t ai = (size_t)(A - e->vars);
                double r = report_pair_ratio(report_cross_at(c, ai, q, f),
                                             report_cross_at(c, j, q, f), REPORT_MEASURE_TRAIN_S);
                n += isfinite(r) && report_time_shared(c, ai, j);
            }
    }
    return n;
}

/* Whether a run of v that has metrics ran beside other cells (jobs > 1). */
static int variant_shared(const report_variant *v) {
    for (size_t k = 0; k < v->nruns; k++)
        if (v->runs[k].rows && v->runs[k].jobs > 1) return 1;
    return 0;
}

const report_crossing *report_cross_at(const report_ctx *c, size_t var, int q, int f) {
    return &c->cross[(var * REPORT_NQTY + (size_t)q) * REPORT_NFACTORS + (size_t)f];
}

rk_status report_ctx_init(report_ctx *c, const report_exp *e, const char *out_dir) {
    memset(c, 0, sizeof *c);
    c->e = e;
    c->out_dir = out_dir;
    size_t nv = e->nvars ? e->nvars : 1;
    c->ds = rk_calloc(nv, sizeof *c->ds);
    c->base = rk_calloc(nv, sizeof *c->base);
    c->vi = rk_calloc(nv, sizeof *c->vi);
    c->cross = rk_calloc(nv * REPORT_NQTY * REPORT_NFACTORS, sizeof *c->cross);
    c->ref = rk_calloc(nv * REPORT_NQTY * REPORT_NFACTORS, sizeof *c->ref);
    c->shared = rk_calloc(nv, sizeof *c->shared);
    for (size_t j = 0; j < e->nvars; j++)
        if (e->vars[j].nruns > c->max_seeds) c->max_seeds = e->vars[j].nruns;
    /* per variant: the seeds' values of one quantity, and the scratch of report_describe */
    double *a = rk_calloc(c->max_seeds + 1, sizeof *a);
    double *scratch = rk_calloc(c->max_seeds + 1, sizeof *scratch);
    rk_status st = RK_OK;
    if (!c->ds || !c->base || !c->vi || !c->cross || !c->ref || !c->shared || !a || !scratch)
        st = RK_ENOMEM;
    if (!st) {
        c->nds = dataset_list(e, c->ds);
        for (size_t d = 0; d < c->nds; d++)
            for (int q = 0; q < REPORT_NQTY; q++)
                c->base[d][q] = report_baseline(e, c->ds[d], (report_qty)q);
        for (size_t d = 0; d < c->nds; d++)
            for (int q = 0; q < REPORT_NQTY; q++)
                for (int f = 0; f < REPORT_NFACTORS; f++) {
                    const report_variant *A = report_gradient_reference(
                        e, c->ds[d], (report_qty)q, REPORT_FACTORS[f] * c->base[d][q]);
                    c->ref[(d * REPORT_NQTY + (size_t)q) * REPORT_NFACTORS + (size_t)f] =
                        A ? (size_t)(A - e->vars) : REPORT_NO_REF;
                }
        for (size_t j = 0; j < e->nvars; j++) {
            var_derive(&e->vars[j], &c->vi[j], a, scratch);
            c->shared[j] = variant_shared(&e->vars[j]);
            size_t d = report_ds_index(c, e->vars[j].dataset);
            for (int q = 0; q < REPORT_NQTY; q++)
                for (int f = 0; f < REPORT_NFACTORS; f++)
                    c->cross[(j * REPORT_NQTY + (size_t)q) * REPORT_NFACTORS + (size_t)f] =
                        report_variant_crossing(&e->vars[j], (report_qty)q,
                                                REPORT_FACTORS[f] * c->base[d][q]);
        }
    }
    free(a);
    free(scratch);
    if (st) report_ctx_free(c);
    return st;
}

void report_ctx_free(report_ctx *c) {
    free(c->ds);
    free(c->base);
    free(c->vi);
    free(c->cross);
    free(c->ref);
    free(c->shared);
    memset(c, 0, sizeof *c);
}

/* ------------------------------------------------------------- table orders ---------------- */

/* The block-size sweep, i.e. Kalman variants outside any group other than the block-size group
 * (an init-scale or outlier variant shares an N_b but answers another question), ordered by
 * dataset, optimizer (kalman_rank), then N_b (nan last) so each series is a line. */
size_t report_ablation_order(const report_ctx *c, size_t *idx) {
    const report_exp *e = c->e;
    size_t n = 0;
    for (size_t d = 0; d < c->nds; d++)
        for (size_t j = 0; j < e->nvars; j++) {
            const report_variant *v = &e->vars[j];
            if (strcmp(v->dataset, c->ds[d]) != 0 || !report_is_kalman(v)) continue;
            if (v->group[0] && strcmp(v->group, REPORT_BLOCK_SIZE_PARAM) != 0) continue;
            /* insertion into this dataset's run of rows, by (rank, N_b), nan N_b last */
            size_t p = n++;
            while (p > 0 && !strcmp(e->vars[idx[p - 1]].dataset, v->dataset)) {
                const report_variant *w = &e->vars[idx[p - 1]];
                size_t rw = kalman_rank(w), rv = kalman_rank(v);
                double bw = report_block_size_of(w), bv = report_block_size_of(v);
                int after = rw > rv || (rw == rv && (isnan(bw) ? !isnan(bv) : bw > bv));
                if (!after) break;
                idx[p] = idx[p - 1];
                p--;
            }
            idx[p] = j;
        }
    return n;
}

/* The batch-size sweep: per dataset, the optimizer types (registered type, first appearance)
 * that ran at two or more batch sizes there; their variants outside any group, by batch size
 * (equal sizes in summary.csv order). */
size_t report_batch_order(const report_ctx *c, size_t *idx) {
    const report_exp *e = c->e;
    size_t n = 0;
    for (size_t d = 0; d < c->nds; d++)
        for (size_t j = 0; j < e->nvars; j++) {
            const report_variant *v = &e->vars[j];
            if (strcmp(v->dataset, c->ds[d]) != 0 || v->group[0]) continue;
            /* the first variant of its type on this dataset opens the type's run of rows */
            int first = 1, sizes = 0;
            for (size_t i = 0; i < e->nvars; i++) {
                const report_variant *w = &e->vars[i];
                if (strcmp(w->dataset, v->dataset) || w->type != v->type || w->group[0]) continue;
                if (i < j) first = 0;
                sizes |= w->batch_size != v->batch_size;
            }
            if (!first || !sizes) continue;
            size_t start = n;
            for (size_t i = j; i < e->nvars; i++) {
                const report_variant *w = &e->vars[i];
                if (strcmp(w->dataset, v->dataset) || w->type != v->type || w->group[0]) continue;
                size_t p = n++;
                while (p > start && e->vars[idx[p - 1]].batch_size > w->batch_size) {
                    idx[p] = idx[p - 1];
                    p--;
                }
                idx[p] = i;
            }
        }
    return n;
}

size_t report_stability_order(const report_ctx *c, size_t *idx) {
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
