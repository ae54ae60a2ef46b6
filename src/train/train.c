/* train: one training run with the paper's protocol (see train.h). */
#include "train.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blas.h"
#include "clock.h"
#include "csvio.h"
#include "fs.h"
#include "h5io.h"
#include "registry.h"
#include "rlekf_git.h"
#include "rng.h"

/* Paper defaults (SPEC §3). */
#define TRAIN_PREF_E 1.0
#define TRAIN_PREF_F 2.0
#define TRAIN_FORCE_GROUPS 4
#define TRAIN_GROUP_ATOMS 6
#define TRAIN_PROGRESS_S 5.0

const char *train_outcome_str(train_outcome o) {
    switch (o) {
    case TRAIN_DONE:
        return "done";
    case TRAIN_DIVERGED:
        return "diverged";
    case TRAIN_TIME_BUDGET:
        return "time_budget";
    }
    return "?";
}

void train_default_config(train_config *tc) {
    memset(tc, 0, sizeof *tc);
    tc->split = TRAIN_SPLIT_TAIL;
    tc->test_fraction = TRAIN_TEST_FRACTION;
    tc->model = model_default_config();
    tc->init_weight_scale = 1.0;
    tc->opt = optim_find("rlekf");
    if (tc->opt) optim_default_params(tc->opt, &tc->opt_params);
    tc->pref_e = TRAIN_PREF_E;
    tc->pref_f = TRAIN_PREF_F;
    tc->force_groups = TRAIN_FORCE_GROUPS;
    tc->group_atoms = TRAIN_GROUP_ATOMS;
    tc->epochs = 1;
    tc->seed = 1;
    tc->progress_interval_s = TRAIN_PROGRESS_S;
    snprintf(tc->out_dir, sizeof tc->out_dir, "run");
}

/* ------------------------------------------------------------------ config --------------- */

rk_status train_parse_optimizer(const jsonw *obj, const char *ctx, train_config *tc) {
    char type[64] = "";
    rk_status st = jsonw_get_str(obj, ctx, "type", 1, type, sizeof type);
    if (st) return st;
    const optim_type *t = optim_find(type);
    if (!t)
        return err_set(RK_EINPUT, "%s.type: unknown optimizer \"%s\" (valid: %s)", ctx, type,
                       optim_names());
    tc->opt = t;
    optim_default_params(t, &tc->opt_params);
    for (size_t i = 0; i < jsonw_size(obj); i++) {
        const jsonw *mem = jsonw_at(obj, i);
        const char *key = jsonw_key(mem);
        if (strcmp(key, "type") == 0 || strcmp(key, "label") == 0) continue;
        if (jsonw_typeof(mem) == JSONW_STRING)
            st = optim_set_choice(t, &tc->opt_params, ctx, key, jsonw_string(mem));
        else if (jsonw_typeof(mem) == JSONW_NUMBER)
            st = optim_set_param(t, &tc->opt_params, ctx, key, jsonw_number(mem));
        else
            st = err_set(RK_EINPUT, "%s.%s: expected a number or a string", ctx, key);
        if (st) return st;
    }
    return RK_OK;
}

rk_status train_parse_training(const jsonw *obj, const char *ctx, train_config *tc) {
    static const char *const keys[] = {
        "dataset",    "split", "test_fraction", "max_train_frames", "eval_max_frames",   "epochs",
        "eval_every", "seed",  "threads",       "time_budget_s",    "init_weight_scale", "pref_e",
        "pref_f",     NULL};
    static const char *const splits[] = {"tail", "random", NULL};
    rk_status st = jsonw_check_keys(obj, ctx, keys);
    if (st) return st;
    long v;
    int idx = (int)tc->split;
    if ((st = jsonw_get_str(obj, ctx, "dataset", 0, tc->dataset, sizeof tc->dataset))) return st;
    if ((st = jsonw_get_choice(obj, ctx, "split", 0, splits, &idx))) return st;
    tc->split = (train_split)idx;
    if ((st = jsonw_get_num(obj, ctx, "test_fraction", 0, 0.0, 0.9, &tc->test_fraction))) return st;
    v = (long)tc->max_train_frames;
    if ((st = jsonw_get_int(obj, ctx, "max_train_frames", 0, 0, 100000000, &v))) return st;
    tc->max_train_frames = (size_t)v;
    v = (long)tc->eval_max_frames;
    if ((st = jsonw_get_int(obj, ctx, "eval_max_frames", 0, 0, 100000000, &v))) return st;
    tc->eval_max_frames = (size_t)v;
    v = (long)tc->epochs;
    if ((st = jsonw_get_int(obj, ctx, "epochs", 0, 0, 1000000, &v))) return st;
    tc->epochs = (size_t)v;
    v = (long)tc->eval_every;
    if ((st = jsonw_get_int(obj, ctx, "eval_every", 0, 0, 1000000000, &v))) return st;
    tc->eval_every = (size_t)v;
    v = (long)tc->seed;
    if ((st = jsonw_get_int(obj, ctx, "seed", 0, 0, 2147483647, &v))) return st;
    tc->seed = (uint64_t)v;
    v = tc->threads;
    if ((st = jsonw_get_int(obj, ctx, "threads", 0, 0, 1024, &v))) return st;
    tc->threads = (int)v;
    if ((st = jsonw_get_num(obj, ctx, "time_budget_s", 0, 0.0, 1e9, &tc->time_budget_s))) return st;
    if ((st = jsonw_get_num(obj, ctx, "init_weight_scale", 0, 1e-6, 1e6, &tc->init_weight_scale)))
        return st;
    if ((st = jsonw_get_num(obj, ctx, "pref_e", 0, 0.0, 1e6, &tc->pref_e))) return st;
    if ((st = jsonw_get_num(obj, ctx, "pref_f", 0, 0.0, 1e6, &tc->pref_f))) return st;
    return RK_OK;
}

rk_status train_config_load(const char *path, train_config *tc) {
    static const char *const keys[] = {"model", "optimizer", "training", "output", NULL};
    jsonw *j = NULL;
    rk_status st = jsonw_parse_file(path, &j);
    if (st) return st;
    char ctx[TRAIN_PATH_MAX + 32];
    snprintf(ctx, sizeof ctx, "%s: config", path);
    st = jsonw_check_keys(j, ctx, keys);
    if (!st && jsonw_get(j, "model")) {
        snprintf(ctx, sizeof ctx, "%s: model", path);
        st = model_config_from_json(jsonw_get(j, "model"), ctx, &tc->model);
    }
    if (!st && jsonw_get(j, "optimizer")) {
        snprintf(ctx, sizeof ctx, "%s: optimizer", path);
        st = train_parse_optimizer(jsonw_get(j, "optimizer"), ctx, tc);
    }
    if (!st && jsonw_get(j, "training")) {
        snprintf(ctx, sizeof ctx, "%s: training", path);
        st = train_parse_training(jsonw_get(j, "training"), ctx, tc);
    }
    if (!st) {
        snprintf(ctx, sizeof ctx, "%s: config", path);
        st = jsonw_get_str(j, ctx, "output", 0, tc->out_dir, sizeof tc->out_dir);
    }
    if (!st && !tc->dataset[0])
        st = err_set(RK_EINPUT, "%s: training.dataset: missing (required)", path);
    jsonw_free(j);
    return st;
}

/* The resolved configuration as a JSON object (caller frees with jsonw_free). */
static jsonw *config_object(const train_config *tc) {
    jsonw *o = jsonw_new_object();
    char *ms = model_config_to_json(&tc->model);
    jsonw *mj = NULL;
    if (jsonw_parse_text(ms, "model", &mj) == RK_OK) jsonw_add(o, "model", mj);
    free(ms);
    jsonw *op = jsonw_new_object();
    jsonw_add_str(op, "type", tc->opt->name);
    for (size_t i = 0; i < tc->opt->n_params; i++) {
        const optim_param_desc *d = &tc->opt->params[i];
        if (d->type == OPTIM_P_CHOICE)
            jsonw_add_str(op, d->name, d->choices[(int)tc->opt_params.v[i]]);
        else
            jsonw_add_num(op, d->name, tc->opt_params.v[i]);
    }
    jsonw_add(o, "optimizer", op);
    jsonw *tr = jsonw_new_object();
    jsonw_add_str(tr, "dataset", tc->dataset);
    jsonw_add_str(tr, "split", tc->split == TRAIN_SPLIT_TAIL ? "tail" : "random");
    jsonw_add_num(tr, "test_fraction", tc->test_fraction);
    jsonw_add_num(tr, "max_train_frames", (double)tc->max_train_frames);
    jsonw_add_num(tr, "eval_max_frames", (double)tc->eval_max_frames);
    jsonw_add_num(tr, "epochs", (double)tc->epochs);
    jsonw_add_num(tr, "eval_every", (double)tc->eval_every);
    jsonw_add_num(tr, "seed", (double)tc->seed);
    jsonw_add_num(tr, "threads", tc->threads);
    jsonw_add_num(tr, "time_budget_s", tc->time_budget_s);
    jsonw_add_num(tr, "init_weight_scale", tc->init_weight_scale);
    jsonw_add_num(tr, "pref_e", tc->pref_e);
    jsonw_add_num(tr, "pref_f", tc->pref_f);
    jsonw_add(o, "training", tr);
    jsonw_add_str(o, "output", tc->out_dir);
    return o;
}

char *train_config_to_json(const train_config *tc) {
    jsonw *o = config_object(tc);
    char *s = jsonw_print(o);
    jsonw_free(o);
    return s;
}

/* ------------------------------------------------------------------ split ---------------- */

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

rk_status train_split_frames(const dataset_t *ds, train_split mode, double test_fraction,
                             const char *stream_name, uint64_t seed, model_frame_ref **train,
                             size_t *n_train, model_frame_ref **test, size_t *n_test) {
    size_t total = dataset_total_frames(ds);
    *train = rk_malloc(total * sizeof **train);
    *test = rk_malloc(total * sizeof **test);
    size_t *perm = rk_malloc(total * sizeof *perm);
    if (!*train || !*test || !perm) {
        free(*train);
        free(*test);
        free(perm);
        return RK_ENOMEM;
    }
    rng_t r;
    rng_stream(&r, stream_name, seed, RNG_SPLIT);
    size_t ntr = 0, nte = 0;
    for (size_t s = 0; s < ds->nsystems; s++) {
        size_t n = ds->sys[s].nframes, nt = (size_t)floor(test_fraction * (double)n);
        for (size_t f = 0; f < n; f++)
            perm[f] = f;
        if (mode == TRAIN_SPLIT_RANDOM) {
            rng_shuffle(&r, perm, n);
            /* keep each part in frame order */
            qsort(perm, n - nt, sizeof *perm, cmp_size);
            qsort(perm + (n - nt), nt, sizeof *perm, cmp_size);
        }
        for (size_t f = 0; f < n; f++) {
            model_frame_ref ref = {s, perm[f]};
            if (f < n - nt)
                (*train)[ntr++] = ref;
            else
                (*test)[nte++] = ref;
        }
    }
    free(perm);
    *n_train = ntr;
    *n_test = nte;
    return RK_OK;
}

/* Evenly spaced subset of k of the n frames (in place). */
static size_t subset(model_frame_ref *f, size_t n, size_t k) {
    if (k == 0 || k >= n) return n;
    for (size_t i = 0; i < k; i++)
        f[i] = f[(size_t)((double)i * (double)n / (double)k)];
    return k;
}

rk_status train_rmse(const model_t *m, model_ws *ws, const dataset_t *ds,
                     const model_frame_ref *frames, size_t n, double *rmse_e, double *rmse_f) {
    double se = 0.0, sf = 0.0;
    size_t nf = 0;
    size_t maxat = 0;
    for (size_t i = 0; i < n; i++)
        if (ds->sys[frames[i].sys].natoms > maxat) maxat = ds->sys[frames[i].sys].natoms;
    double *F = rk_malloc(3 * (maxat ? maxat : 1) * sizeof *F);
    if (!F) return RK_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const ds_system *sys = &ds->sys[frames[i].sys];
        size_t fr = frames[i].frame, na = sys->natoms;
        rk_status st = model_set_frame(m, ws, sys, fr);
        if (st) {
            free(F);
            return st;
        }
        double E = model_forward(m, ws);
        model_backward(m, ws, NULL, F);
        double de = (E - sys->energy[fr]) / (double)na;
        se += de * de;
        const double *Fl = sys->force + fr * na * 3;
        for (size_t k = 0; k < 3 * na; k++)
            sf += (F[k] - Fl[k]) * (F[k] - Fl[k]);
        nf += 3 * na;
    }
    free(F);
    *rmse_e = n ? sqrt(se / (double)n) : NAN;
    *rmse_f = nf ? sqrt(sf / (double)nf) : NAN;
    if (!isfinite(*rmse_e)) *rmse_e = NAN;
    if (!isfinite(*rmse_f)) *rmse_f = NAN;
    return RK_OK;
}

/* ------------------------------------------------------------------ run ------------------ */

static const char *const CSV_HEADER[] = {"epoch",
                                         "images",
                                         "updates",
                                         "wall_s",
                                         "train_rmse_e_eV_per_atom",
                                         "train_rmse_f_eV_per_A",
                                         "test_rmse_e_eV_per_atom",
                                         "test_rmse_f_eV_per_A",
                                         "lambda",
                                         "lr",
                                         "weight_norm",
                                         "max_weight_change",
                                         "status"};
#define CSV_NCOLS (sizeof CSV_HEADER / sizeof CSV_HEADER[0])

typedef struct {
    const train_config *tc;
    const dataset_t *ds;
    model_t m;
    model_ws *ws;
    void *opt;
    model_frame_ref *train, *test, *ev_train, *ev_test;
    size_t n_train, n_test, n_ev_train, n_ev_test;
    double *h, *F, *c, *wprev; /* (N), (3A), (3A), (N) */
    rng_t order, sample;
    fs_atomic csv; /* metrics.csv, renamed into place when the run ends */
    char model_path[TRAIN_PATH_MAX + 32];
    size_t images, updates;
    double t0, last_progress, max_dw;
    double last_test_e, last_test_f;
    train_result *res;
} run_t;

static int all_finite(const double *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* One optimizer step; tracks the largest weight change; RK_EDIVERGED if w becomes non-finite. */
static rk_status do_update(run_t *r, const optim_signal *sig) {
    size_t N = r->m.layout.n_params;
    if (sig->h && !(isfinite(sig->e) && all_finite(sig->h, N))) return RK_EDIVERGED;
    if (sig->g && !all_finite(sig->g, N)) return RK_EDIVERGED;
    memcpy(r->wprev, r->m.w, N * sizeof *r->wprev);
    rk_status st = r->tc->opt->step(r->opt, r->m.w, sig);
    if (st) return st;
    r->updates++;
    double mx = 0.0;
    for (size_t i = 0; i < N; i++) {
        double d = fabs(r->m.w[i] - r->wprev[i]);
        if (!(d <= mx)) mx = d; /* NaN propagates */
    }
    if (!isfinite(mx)) return RK_EDIVERGED;
    if (mx > r->max_dw) r->max_dw = mx;
    return RK_OK;
}

static rk_status kalman_image(run_t *r, model_frame_ref fr) {
    const train_config *tc = r->tc;
    const ds_system *sys = &r->ds->sys[fr.sys];
    size_t na = sys->natoms, N = r->m.layout.n_params;
    double n = (double)na;
    rk_status st = model_set_frame(&r->m, r->ws, sys, fr.frame);
    if (st) return st;
    /* 1. energy update: r = pE (E - E^)/n, h = pE dE^/dw / n, signs flipped if r < 0 */
    double E = model_forward(&r->m, r->ws);
    if (!isfinite(E)) return RK_EDIVERGED;
    model_backward(&r->m, r->ws, r->h, NULL);
    double e = tc->pref_e * (sys->energy[fr.frame] - E) / n;
    double sgn = e < 0 ? -1.0 : 1.0;
    for (size_t i = 0; i < N; i++)
        r->h[i] *= sgn * tc->pref_e / n;
    optim_signal sig = {sgn * e, r->h, NULL};
    if ((st = do_update(r, &sig))) return st;
    /* 2. force updates: groups of atoms drawn with replacement */
    size_t ng = tc->force_groups, ga = tc->group_atoms;
    size_t atoms[64];
    RK_ASSERT(ng * ga <= 64);
    for (size_t k = 0; k < ng * ga; k++)
        atoms[k] = rng_below(&r->sample, na);
    const double *Fl = sys->force + fr.frame * na * 3;
    double ncomp = (double)(3 * ga);
    for (size_t g = 0; g < ng; g++) {
        model_forward(&r->m, r->ws);
        model_backward(&r->m, r->ws, NULL, r->F);
        memset(r->c, 0, 3 * na * sizeof *r->c);
        double sum_abs = 0.0;
        for (size_t k = 0; k < ga; k++) {
            size_t i = atoms[g * ga + k];
            for (int al = 0; al < 3; al++) {
                double d = tc->pref_f * (Fl[3 * i + al] - r->F[3 * i + al]);
                if (!isfinite(d)) return RK_EDIVERGED;
                double s = d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0;
                sum_abs += fabs(d);
                /* c_j = s_j pF / (n 18): h = J_c = pF sum_j s_j dF^_j/dw / (n 18) */
                r->c[3 * i + al] += s * tc->pref_f / (n * ncomp);
            }
        }
        model_force_jacobian(&r->m, r->ws, r->c, r->h);
        optim_signal fs = {sum_abs / ncomp / n, r->h, NULL};
        if ((st = do_update(r, &fs))) return st;
    }
    return RK_OK;
}

static rk_status adam_image(run_t *r, model_frame_ref fr) {
    const ds_system *sys = &r->ds->sys[fr.sys];
    size_t na = sys->natoms, N = r->m.layout.n_params;
    double n = (double)na;
    rk_status st = model_set_frame(&r->m, r->ws, sys, fr.frame);
    if (st) return st;
    optim_report_t rep;
    r->tc->opt->report(r->opt, &rep);
    double E = model_forward(&r->m, r->ws);
    if (!isfinite(E)) return RK_EDIVERGED;
    model_backward(&r->m, r->ws, r->wprev, r->F); /* wprev borrowed for dE/dw */
    const double *Fl = sys->force + fr.frame * na * 3;
    /* c = 2 pF (F^ - F) / (3n), so J_c = d/dw of the force term of the loss */
    for (size_t k = 0; k < 3 * na; k++)
        r->c[k] = 2.0 * rep.pref_f * (r->F[k] - Fl[k]) / (3.0 * n);
    model_force_jacobian(&r->m, r->ws, r->c, r->h);
    /* dL/dw = 2 pE (E^ - E)/n^2 dE^/dw + J_c */
    double a = 2.0 * rep.pref_e * (E - sys->energy[fr.frame]) / (n * n);
    blas_axpy(N, a, r->wprev, r->h);
    optim_signal sig = {0.0, NULL, r->h};
    return do_update(r, &sig);
}

static void fmt(char *buf, size_t cap, double v) {
    if (isnan(v))
        snprintf(buf, cap, "nan");
    else
        snprintf(buf, cap, "%.10g", v);
}

/* Evaluate, append a metrics row, keep the model file of the last finite evaluation. */
static rk_status evaluate(run_t *r, const char *status) {
    double tre, trf, tee, tef;
    rk_status st = train_rmse(&r->m, r->ws, r->ds, r->ev_train, r->n_ev_train, &tre, &trf);
    if (!st) st = train_rmse(&r->m, r->ws, r->ds, r->ev_test, r->n_ev_test, &tee, &tef);
    if (st) return st;
    optim_report_t rep;
    r->tc->opt->report(r->opt, &rep);
    size_t N = r->m.layout.n_params;
    double wn = blas_nrm2(N, r->m.w);
    double wall = clock_now_s() - r->t0;
    char f[CSV_NCOLS][64];
    fmt(f[0], 64, (double)r->images / (double)r->n_train);
    snprintf(f[1], 64, "%zu", r->images);
    snprintf(f[2], 64, "%zu", r->updates);
    snprintf(f[3], 64, "%.3f", wall);
    fmt(f[4], 64, tre);
    fmt(f[5], 64, trf);
    fmt(f[6], 64, tee);
    fmt(f[7], 64, tef);
    fmt(f[8], 64, rep.lambda);
    fmt(f[9], 64, rep.lr);
    fmt(f[10], 64, wn);
    fmt(f[11], 64, r->max_dw);
    snprintf(f[12], 64, "%s", status);
    const char *fields[CSV_NCOLS];
    for (size_t i = 0; i < CSV_NCOLS; i++)
        fields[i] = f[i];
    csvio_write_row(r->csv.f, fields, CSV_NCOLS);
    fflush(r->csv.f);
    r->max_dw = 0.0;
    train_result *res = r->res;
    res->final_train_e = tre;
    res->final_train_f = trf;
    res->final_test_e = tee;
    res->final_test_f = tef;
    if (isfinite(tee) && (isnan(res->best_test_e) || tee < res->best_test_e))
        res->best_test_e = tee;
    if (isfinite(tef) && (isnan(res->best_test_f) || tef < res->best_test_f))
        res->best_test_f = tef;
    r->last_test_e = tee;
    r->last_test_f = tef;
    if (isfinite(tre) && isfinite(trf) && isfinite(tee) && isfinite(tef) && all_finite(r->m.w, N))
        return model_save(&r->m, r->model_path);
    return RK_OK;
}

static void progress(run_t *r, size_t epoch, size_t pos, int force) {
    const train_config *tc = r->tc;
    if (tc->quiet) return;
    double t = clock_now_s();
    if (!force && t - r->last_progress < tc->progress_interval_s) return;
    r->last_progress = t;
    double el = t - r->t0, rate = el > 0 ? (double)r->images / el : 0.0;
    double left = (double)(tc->epochs * r->n_train - r->images);
    double eta = rate > 0 ? left / rate : 0.0;
    fprintf(stderr,
            "[train %s] epoch %zu/%zu image %zu/%zu  %.2f img/s  ETA %dm%02ds  test RMSE E %.3e "
            "eV/atom F %.3e eV/A\n",
            tc->opt->name, epoch, tc->epochs, pos, r->n_train, rate, (int)(eta / 60), (int)eta % 60,
            r->last_test_e, r->last_test_f);
}

static rk_status run_setup(run_t *r) {
    const train_config *tc = r->tc;
    const dataset_t *ds = r->ds;
    rk_status st = train_split_frames(ds, tc->split, tc->test_fraction, tc->stream_name, tc->seed,
                                      &r->train, &r->n_train, &r->test, &r->n_test);
    if (st) return st;
    r->n_train = subset(r->train, r->n_train, tc->max_train_frames);
    if (r->n_train == 0) return err_set(RK_EINPUT, "%s: no training frames", tc->dataset);
    r->ev_train = rk_malloc(r->n_train * sizeof *r->ev_train);
    r->ev_test = rk_malloc((r->n_test ? r->n_test : 1) * sizeof *r->ev_test);
    if (!r->ev_train || !r->ev_test) return RK_ENOMEM;
    memcpy(r->ev_train, r->train, r->n_train * sizeof *r->train);
    memcpy(r->ev_test, r->test, r->n_test * sizeof *r->test);
    r->n_ev_train = subset(r->ev_train, r->n_train, tc->eval_max_frames);
    r->n_ev_test = subset(r->ev_test, r->n_test, tc->eval_max_frames);

    /* model: sel from the data when not given, statistics and weights from the training set */
    model_config mc = tc->model;
    if (mc.n_sel == 0) {
        size_t total = dataset_total_frames(ds), k = 0;
        model_frame_ref *all = rk_malloc(total * sizeof *all);
        if (!all) return RK_ENOMEM;
        for (size_t s = 0; s < ds->nsystems; s++)
            for (size_t f = 0; f < ds->sys[s].nframes; f++)
                all[k++] = (model_frame_ref){s, f};
        st = model_neighbor_stat(ds, mc.rcut, all, total, mc.sel, NULL);
        free(all);
        if (st) return st;
        mc.n_sel = ds->ntypes;
    } else if (mc.n_sel != ds->ntypes) {
        return err_set(RK_EINPUT, "model.sel: %zu entries, but %s has %zu types", mc.n_sel,
                       tc->dataset, ds->ntypes);
    }
    if ((st = model_create(&r->m, &mc, ds->ntypes, ds->type_map))) return st;
    if ((st = model_compute_stats(&r->m, ds, r->train, r->n_train))) return st;
    rng_t init;
    rng_stream(&init, tc->stream_name, tc->seed, RNG_INIT);
    if ((st = model_init_weights(&r->m, &init, ds, r->train, r->n_train))) return st;
    if (tc->init_weight_scale != 1.0)
        for (size_t t = 0; t < r->m.layout.n_tensors; t++) {
            const layout_tensor *T = &r->m.layout.t[t];
            if (strstr(T->name, ".out.b")) continue;
            blas_scal(T->size, tc->init_weight_scale, r->m.w + T->offset);
        }
    size_t maxat = 0;
    for (size_t s = 0; s < ds->nsystems; s++)
        if (ds->sys[s].natoms > maxat) maxat = ds->sys[s].natoms;
    if ((st = model_ws_create(&r->m, maxat, &r->ws))) return st;
    size_t N = r->m.layout.n_params;
    r->h = rk_malloc(N * sizeof *r->h);
    r->wprev = rk_malloc(N * sizeof *r->wprev);
    r->F = rk_malloc(3 * maxat * sizeof *r->F);
    r->c = rk_malloc(3 * maxat * sizeof *r->c);
    if (!r->h || !r->wprev || !r->F || !r->c) return RK_ENOMEM;
    r->res->n_params = N;
    r->res->state_bytes = tc->opt->state_bytes(&tc->opt_params, &r->m.layout);
    if ((st = optim_create(tc->opt, &tc->opt_params, &r->m.layout, &r->opt))) return st;
    optim_report_t rep;
    tc->opt->report(r->opt, &rep);
    r->res->n_blocks = rep.n_blocks;
    rng_stream(&r->order, tc->stream_name, tc->seed, RNG_ORDER);
    rng_stream(&r->sample, tc->stream_name, tc->seed, RNG_SAMPLE);
    return RK_OK;
}

static void run_free(run_t *r) {
    if (r->opt) r->tc->opt->free(r->opt);
    model_ws_free(r->ws);
    if (r->m.w) model_free(&r->m);
    free(r->train);
    free(r->test);
    free(r->ev_train);
    free(r->ev_test);
    free(r->h);
    free(r->wprev);
    free(r->F);
    free(r->c);
    if (r->csv.f) fs_atomic_abort(&r->csv);
}

void train_add_provenance(jsonw *o) {
#ifdef RLEKF_GIT
    jsonw_add_str(o, "git", RLEKF_GIT);
#endif
#ifdef RLEKF_COMPILER
    jsonw_add_str(o, "compiler", RLEKF_COMPILER);
#endif
    jsonw_add_str(o, "blas", blas_config());
    jsonw_add_num(o, "blas_threads", blas_get_threads());
    jsonw_add_num(o, "omp_threads", omp_get_max_threads());
    jsonw_add_num(o, "cpus", (double)sysconf(_SC_NPROCESSORS_ONLN));
    jsonw_add_num(o, "memory_bytes",
                  (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE));
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    jsonw_add_str(o, "host", host);
}

rk_status train_run(const train_config *tc_in, const dataset_t *ds_in, train_result *res) {
    train_config tcv = *tc_in;
    train_config *tc = &tcv;
    memset(res, 0, sizeof *res);
    res->best_test_e = res->best_test_f = NAN;
    if (!tc->opt) return err_set(RK_EINPUT, "no optimizer selected (valid: %s)", optim_names());
    if (!tc->stream_name[0]) {
        /* default stream name: the dataset file's stem, so paired runs agree */
        const char *b = strrchr(tc->dataset, '/');
        b = b ? b + 1 : tc->dataset;
        size_t bl = strlen(b) < sizeof tc->stream_name - 1 ? strlen(b) : sizeof tc->stream_name - 1;
        memcpy(tc->stream_name, b, bl);
        tc->stream_name[bl] = '\0';
        char *dot = strrchr(tc->stream_name, '.');
        if (dot) *dot = '\0';
    }
    /* OpenMP threads of the Kalman sweep; BLAS stays single-threaded (the CLI's thread policy,
     * src/cli/main.c) */
    if (tc->threads > 0) omp_set_num_threads(tc->threads);
    dataset_t own;
    memset(&own, 0, sizeof own);
    const dataset_t *ds = ds_in;
    rk_status st;
    if (!ds) {
        if ((st = h5io_dataset_read(tc->dataset, &own))) return st;
        ds = &own;
    }
    run_t r;
    memset(&r, 0, sizeof r);
    r.tc = tc;
    r.ds = ds;
    r.res = res;
    r.last_test_e = r.last_test_f = NAN;
    r.t0 = clock_now_s();
    st = fs_mkdirs(tc->out_dir);
    if (!st) st = run_setup(&r);
    if (!st) {
        /* config.json: the resolved configuration plus provenance */
        jsonw *o = config_object(tc), *prov = jsonw_new_object();
        train_add_provenance(prov);
        jsonw_add(o, "provenance", prov);
        char *text = jsonw_print(o);
        jsonw_free(o);
        char p[TRAIN_PATH_MAX + 32];
        snprintf(p, sizeof p, "%s/config.json", tc->out_dir);
        st = fs_write_text_atomic(p, text);
        free(text);
    }
    if (!st) {
        char p[TRAIN_PATH_MAX + 32];
        snprintf(p, sizeof p, "%s/model_init.h5", tc->out_dir);
        st = model_save(&r.m, p);
    }
    if (!st) {
        snprintf(r.model_path, sizeof r.model_path, "%s/model.h5", tc->out_dir);
        char p[TRAIN_PATH_MAX + 32];
        snprintf(p, sizeof p, "%s/metrics.csv", tc->out_dir);
        st = fs_atomic_open(&r.csv, p);
        if (!st) csvio_write_row(r.csv.f, CSV_HEADER, CSV_NCOLS);
    }
    res->n_train = r.n_train;
    res->n_test = r.n_test;
    if (!st) st = evaluate(&r, "ok");
    progress(&r, 0, 0, 1);
    train_outcome outcome = TRAIN_DONE;
    size_t *order = st ? NULL : rk_malloc(r.n_train * sizeof *order);
    if (!st && !order) st = RK_ENOMEM;
    int kalman = tc->opt && tc->opt->kind == OPTIM_KALMAN;
    for (size_t ep = 1; !st && outcome == TRAIN_DONE && ep <= tc->epochs; ep++) {
        for (size_t i = 0; i < r.n_train; i++)
            order[i] = i;
        rng_shuffle(&r.order, order, r.n_train);
        for (size_t i = 0; i < r.n_train && !st; i++) {
            size_t before = r.updates;
            st = kalman ? kalman_image(&r, r.train[order[i]]) : adam_image(&r, r.train[order[i]]);
            if (st == RK_EDIVERGED) {
                outcome = TRAIN_DIVERGED;
                st = RK_OK;
                break;
            }
            if (st) break;
            r.images++;
            if (tc->eval_every && r.updates / tc->eval_every != before / tc->eval_every &&
                !(i + 1 == r.n_train))
                st = evaluate(&r, "ok");
            progress(&r, ep, i + 1, 0);
            if (tc->time_budget_s > 0 && clock_now_s() - r.t0 > tc->time_budget_s) {
                outcome = TRAIN_TIME_BUDGET;
                break;
            }
        }
        if (!st && outcome == TRAIN_DONE) st = evaluate(&r, ep == tc->epochs ? "done" : "ok");
    }
    if (!st && outcome != TRAIN_DONE) {
        st = evaluate(&r, train_outcome_str(outcome));
        if (outcome == TRAIN_DIVERGED && !tc->quiet)
            fprintf(stderr, "[train %s] diverged after %zu updates; last good model kept in %s\n",
                    tc->opt->name, r.updates, r.model_path);
    }
    if (!st && tc->epochs == 0) {
        /* nothing to train: the step-0 evaluation is the final row */
    }
    free(order);
    res->outcome = outcome;
    res->images = r.images;
    res->updates = r.updates;
    res->epochs_done = r.n_train ? (double)r.images / (double)r.n_train : 0.0;
    res->wall_s = clock_now_s() - r.t0;
    if (r.csv.f) {
        if (st)
            fs_atomic_abort(&r.csv);
        else
            st = fs_atomic_commit(&r.csv);
    }
    if (!st) progress(&r, tc->epochs, r.n_train, 1);
    run_free(&r);
    if (ds == &own) dataset_free(&own);
    return st;
}
