/* report_load: reading an experiment's results tree into a report_exp (see report.h).
 *
 * summary.csv gives the cells, grouped into variants (dataset, label) in order of first
 * appearance; every done, diverged or time_budget cell must have its metrics.csv, which is read
 * whole. Columns are found by the names of schema.h, the header the runner and the trainer
 * write with; optional columns (absent in older trees) read as NAN. Every error names the file,
 * the row and the value, and leaves e empty.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvio.h"
#include "jsonw.h"
#include "registry.h"
#include "report_internal.h"
#include "schema.h"

/* Column names of the two inputs. */
#define MCOL(name) (schema_metrics_cols[SCHEMA_METRICS_##name])
#define SCOL(name) (schema_summary_cols[SCHEMA_SUMMARY_##name])

/* provenance.json's record of the runner's -j (runner.c writes it). */
#define PROVENANCE_JOBS "jobs"

static const char *const STATUS_NAMES[REPORT_NSTATUS] = {"done", "diverged", "time_budget",
                                                         "skipped", "failed"};

const char *report_status_str(report_status s) {
    RK_ASSERT(s < REPORT_NSTATUS);
    return STATUS_NAMES[s];
}

/* A numeric cell of an optional column: NAN when the column is absent or the cell empty. */
static rk_status opt_num(const csvio_table *t, const char *path, size_t row, const char *col,
                         double *out) {
    if (csvio_col(t, col) < 0) {
        *out = NAN;
        return RK_OK;
    }
    return csvio_num(t, path, row, col, out);
}

static rk_status need_cols(const csvio_table *t, const char *path, const char *const *cols,
                           size_t n) {
    for (size_t i = 0; i < n; i++)
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
    const char *const req[] = {MCOL(EPOCH), MCOL(UPDATES), MCOL(WALL_S), MCOL(TEST_E),
                               MCOL(TEST_F)};
    csvio_table t;
    rk_status st = csvio_read(path, &t);
    if (st) return st;
    st = need_cols(&t, path, req, sizeof req / sizeof req[0]);
    if (!st && t.nrows == 0) st = err_set(RK_EINPUT, "%s: no evaluation rows", path);
    if (!st) {
        r->rows = rk_calloc(t.nrows, sizeof *r->rows);
        if (!r->rows) st = RK_ENOMEM;
    }
    for (size_t i = 0; !st && i < t.nrows; i++) {
        report_row *w = &r->rows[i];
        if ((st = csvio_num(&t, path, i, MCOL(EPOCH), &w->epoch))) break;
        if ((st = csvio_num(&t, path, i, MCOL(UPDATES), &w->updates))) break;
        if ((st = csvio_num(&t, path, i, MCOL(WALL_S), &w->wall_s))) break;
        if ((st = opt_num(&t, path, i, MCOL(TRAIN_S), &w->clock_s))) break;
        if (isnan(w->clock_s)) {
            w->clock_s = w->wall_s; /* recorded before the training clock existed */
            r->clock_is_wall = 1;
        }
        if ((st = csvio_num(&t, path, i, MCOL(TEST_E), &w->test_e))) break;
        if ((st = csvio_num(&t, path, i, MCOL(TEST_F), &w->test_f))) break;
        if ((st = opt_num(&t, path, i, MCOL(TRAIN_E), &w->train_e))) break;
        if ((st = opt_num(&t, path, i, MCOL(TRAIN_F), &w->train_f))) break;
        if ((st = opt_num(&t, path, i, MCOL(WEIGHT_NORM), &w->weight_norm))) break;
        if ((st = opt_num(&t, path, i, MCOL(MAX_DW), &w->max_dw))) break;
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

/* The first row of a variant: its optimizer's type and the variant-wide columns. */
static rk_status parse_variant(report_variant *v, const csvio_table *t, const char *path,
                               size_t row, const char *optimizer) {
    v->type = optim_find(optimizer);
    if (!v->type)
        return err_set(RK_EINPUT, "%s: row %zu column %s: unknown optimizer '%s' (registered: %s)",
                       path, row + 2, SCOL(OPTIMIZER), optimizer, optim_names());
    strcpy(v->optimizer, optimizer);
    int gc = csvio_col(t, SCOL(GROUP));
    const char *g = gc >= 0 ? csvio_cell(t, row, (size_t)gc) : "";
    if (strlen(g) >= REPORT_NAME_MAX)
        return err_set(RK_EINPUT, "%s: row %zu column %s: too long", path, row + 2, SCOL(GROUP));
    strcpy(v->group, g);
    rk_status st;
    if ((st = opt_num(t, path, row, SCOL(X), &v->x))) return st;
    if ((st = opt_num(t, path, row, SCOL(BLOCK_SIZE), &v->block_size))) return st;
    if ((st = opt_num(t, path, row, SCOL(N_BLOCKS), &v->n_blocks))) return st;
    if ((st = opt_num(t, path, row, SCOL(STATE_BYTES), &v->state_bytes))) return st;
    if ((st = opt_num(t, path, row, SCOL(BATCH_SIZE), &v->batch_size))) return st;
    if (isnan(v->batch_size)) v->batch_size = 1.0; /* recorded before minibatches */
    return opt_num(t, path, row, SCOL(N_PARAMS), &v->n_params);
}

static rk_status parse_summary_row(report_exp *e, const csvio_table *t, const char *path,
                                   size_t row) {
    char dataset[REPORT_NAME_MAX], label[REPORT_NAME_MAX], optimizer[REPORT_NAME_MAX];
    rk_status st;
#define CELL(name) csvio_cell(t, row, (size_t)csvio_col(t, SCOL(name)))
    if ((st = copy_name(dataset, CELL(DATASET), path, row, SCOL(DATASET)))) return st;
    if ((st = copy_name(label, CELL(LABEL), path, row, SCOL(LABEL)))) return st;
    if ((st = copy_name(optimizer, CELL(OPTIMIZER), path, row, SCOL(OPTIMIZER)))) return st;
    const char *seed_s = CELL(SEED), *status_s = CELL(STATUS);
#undef CELL
    char *end;
    errno = 0;
    long seed = strtol(seed_s, &end, 10);
    if (!*seed_s || *end || errno || seed < 0)
        return err_set(RK_EINPUT, "%s: row %zu column %s: not a non-negative integer: '%s'", path,
                       row + 2, SCOL(SEED), seed_s);
    report_status status = REPORT_NSTATUS;
    for (int s = 0; s < REPORT_NSTATUS; s++)
        if (strcmp(status_s, STATUS_NAMES[s]) == 0) status = (report_status)s;
    if (status == REPORT_NSTATUS)
        return err_set(RK_EINPUT,
                       "%s: row %zu column %s: unknown value '%s' (valid: done, diverged, "
                       "time_budget, skipped, failed)",
                       path, row + 2, SCOL(STATUS), status_s);

    report_variant *v = NULL;
    int created;
    if ((st = find_variant(e, dataset, label, &v, &created))) return st;
    if (created) {
        if ((st = parse_variant(v, t, path, row, optimizer))) return st;
    } else if (strcmp(v->optimizer, optimizer) != 0) {
        return err_set(RK_EINPUT,
                       "%s: row %zu column %s: '%s' for %s/%s, but an earlier row says '%s'", path,
                       row + 2, SCOL(OPTIMIZER), optimizer, dataset, label, v->optimizer);
    }
    for (size_t k = 0; k < v->nruns; k++)
        if (v->runs[k].seed == seed)
            return err_set(RK_EINPUT, "%s: row %zu: seed %ld of %s/%s listed twice", path, row + 2,
                           seed, dataset, label);
    report_run *r = NULL;
    if ((st = add_run(v, &r))) return st;
    r->seed = seed;
    r->status = status;
    if ((st = opt_num(t, path, row, SCOL(EPOCHS), &r->epochs))) return st;
    if ((st = opt_num(t, path, row, SCOL(UPDATES), &r->updates))) return st;
    if ((st = opt_num(t, path, row, SCOL(WALL_S), &r->wall_s))) return st;
    if ((st = opt_num(t, path, row, SCOL(TRAIN_S), &r->clock_s))) return st;
    if (isnan(r->clock_s)) r->clock_s = r->wall_s;
    if ((st = opt_num(t, path, row, SCOL(FINAL_TEST_E), &r->final_e))) return st;
    if ((st = opt_num(t, path, row, SCOL(FINAL_TEST_F), &r->final_f))) return st;
    if ((st = opt_num(t, path, row, SCOL(BEST_TEST_E), &r->best_e))) return st;
    if ((st = opt_num(t, path, row, SCOL(BEST_TEST_F), &r->best_f))) return st;
    if ((st = opt_num(t, path, row, SCOL(JOBS), &r->jobs))) return st;
    if ((st = opt_num(t, path, row, SCOL(THREADS), &r->threads))) return st;
    for (int en = 0; en < REPORT_MD_NENS; en++) {
        report_md_run *m = &r->md[en];
        const char *sc = schema_summary_cols[SCHEMA_SUMMARY_MD_COL(en, SCHEMA_MD_STATUS)];
        int ci = csvio_col(t, sc);
        const char *sv = ci >= 0 ? csvio_cell(t, row, (size_t)ci) : "";
        m->status = !strcmp(sv, "stable")     ? 1
                    : !strcmp(sv, "unstable") ? 0
                    : !strcmp(sv, "over_sel") ? 2
                                              : -1;
        if (*sv && m->status < 0)
            return err_set(RK_EINPUT,
                           "%s: row %zu column %s: unknown value '%s' (valid: stable, unstable, "
                           "over_sel)",
                           path, row + 2, sc, sv);
        double *dst[] = {[SCHEMA_MD_STABLE_PS] = &m->stable_ps,
                         [SCHEMA_MD_DRIFT] = &m->drift,
                         [SCHEMA_MD_FLUCT] = &m->fluct,
                         [SCHEMA_MD_RDF] = &m->rdf};
        for (int q = SCHEMA_MD_STABLE_PS; q < SCHEMA_MD_NQ; q++)
            if ((st = opt_num(t, path, row, schema_summary_cols[SCHEMA_SUMMARY_MD_COL(en, q)],
                              dst[q])))
                return st;
    }
    int len = snprintf(r->dir, sizeof r->dir, "%s/%s/%s/seed-%ld", e->dir, dataset, label, seed);
    if (len < 0 || (size_t)len >= sizeof r->dir)
        return err_set(RK_EINPUT, "%s: row %zu: cell path too long", path, row + 2);
    if (status == REPORT_ST_SKIPPED || status == REPORT_ST_FAILED) {
        /* no training happened: whatever the row holds (the runner writes 0) is not a result */
        r->epochs = r->updates = r->wall_s = r->clock_s = NAN;
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
    const char *const req[] = {SCOL(DATASET), SCOL(LABEL), SCOL(OPTIMIZER), SCOL(SEED),
                               SCOL(STATUS)};
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
    st = need_cols(&t, path, req, sizeof req / sizeof req[0]);
    if (!st && t.nrows == 0) st = err_set(RK_EINPUT, "%s: no cells (header only)", path);
    for (size_t row = 0; !st && row < t.nrows; row++)
        st = parse_summary_row(e, &t, path, row);
    csvio_free(&t);
    for (size_t j = 0; !st && j < e->nvars; j++)
        for (size_t k = 0; k < e->vars[j].nruns; k++)
            e->n_wall_clock += e->vars[j].runs[k].clock_is_wall;
    if (!st) {
        snprintf(path, sizeof path, "%s/provenance.json", e->dir);
        if (fs_is_file(path)) st = fs_read_all(path, &e->provenance, NULL);
    }
    if (!st && e->provenance) {
        /* cells recorded before the per-cell jobs column: the run's -j from provenance.json
         * (the last invocation's; the best record there is) */
        jsonw *pj = NULL;
        double jobs = NAN;
        if (jsonw_parse_file(path, &pj) == RK_OK) {
            const jsonw *jv = jsonw_get(pj, PROVENANCE_JOBS);
            if (jv && jsonw_typeof(jv) == JSONW_NUMBER) jobs = jsonw_number(jv);
        }
        jsonw_free(pj);
        err_clear(); /* an unreadable provenance only costs this fallback */
        for (size_t j = 0; j < e->nvars; j++)
            for (size_t k = 0; k < e->vars[j].nruns; k++)
                if (isnan(e->vars[j].runs[k].jobs)) e->vars[j].runs[k].jobs = jobs;
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
