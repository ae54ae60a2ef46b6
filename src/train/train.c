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
#include "config.h"
#include "csvio.h"
#include "fs.h"
#include "h5io.h"
#include "registry.h"
#include "rlekf_git.h"
#include "rng.h"
#include "schema.h"

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

/* ------------------------------------------------------------------ run ------------------ */

typedef struct {
    const train_config *tc;
    const dataset_t *ds;
    model_t m;
    model_ws *ws;
    optim_t *opt;
    model_frame_ref *train, *test, *ev_train, *ev_test;
    size_t n_train, n_test, n_ev_train, n_ev_test;
    double *h, *F, *c, *wprev; /* (N), (3A), (3A), (N) */
    rng_t order, sample;
    fs_atomic csv; /* metrics.csv, renamed into place when the run ends */
    char model_path[TRAIN_PATH_MAX + 32];
    char *split_json; /* the split, recorded in every model file (evaluate.h) */
    size_t images, updates;
    double t0, last_progress, max_dw;
    double train_s, eval_s; /* training steps only; evaluations and saves (SPEC §4) */
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
    rk_status st = optim_step(r->opt, r->m.w, sig);
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

static rk_status gradient_image(run_t *r, model_frame_ref fr) {
    const ds_system *sys = &r->ds->sys[fr.sys];
    size_t na = sys->natoms, N = r->m.layout.n_params;
    double n = (double)na;
    rk_status st = model_set_frame(&r->m, r->ws, sys, fr.frame);
    if (st) return st;
    optim_report_t rep;
    optim_report(r->opt, &rep);
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

/* Evaluate, append a metrics row, keep the model file of the last finite evaluation. A run still
 * going ("ok", "done") whose evaluation is not finite has diverged: the row says so and the
 * result is RK_EDIVERGED (so no run ends "done" without a finite model file). */
static rk_status evaluate(run_t *r, const char *status) {
    const double t_eval = clock_now_s();
    double tre, trf, tee, tef;
    rk_status st = evaluate_rmse(&r->m, r->ws, r->ds, r->ev_train, r->n_ev_train, &tre, &trf);
    if (!st) st = evaluate_rmse(&r->m, r->ws, r->ds, r->ev_test, r->n_ev_test, &tee, &tef);
    if (st) return st;
    int running = strcmp(status, "ok") == 0 || strcmp(status, "done") == 0;
    rk_status verdict = RK_OK;
    if (running && !(isfinite(tre) && isfinite(trf) && isfinite(tee) && isfinite(tef))) {
        status = train_outcome_str(TRAIN_DIVERGED);
        verdict = RK_EDIVERGED;
    }
    optim_report_t rep;
    optim_report(r->opt, &rep);
    size_t N = r->m.layout.n_params;
    double wn = blas_nrm2(N, r->m.w);
    const double now = clock_now_s(), wall = now - r->t0;
    r->eval_s += now - t_eval;
    char f[SCHEMA_METRICS_NCOLS][64];
    fmt(f[SCHEMA_METRICS_EPOCH], 64, (double)r->images / (double)r->n_train);
    snprintf(f[SCHEMA_METRICS_IMAGES], 64, "%zu", r->images);
    snprintf(f[SCHEMA_METRICS_UPDATES], 64, "%zu", r->updates);
    snprintf(f[SCHEMA_METRICS_WALL_S], 64, "%.3f", wall);
    snprintf(f[SCHEMA_METRICS_TRAIN_S], 64, "%.3f", r->train_s);
    snprintf(f[SCHEMA_METRICS_EVAL_S], 64, "%.3f", r->eval_s);
    fmt(f[SCHEMA_METRICS_TRAIN_E], 64, tre);
    fmt(f[SCHEMA_METRICS_TRAIN_F], 64, trf);
    fmt(f[SCHEMA_METRICS_TEST_E], 64, tee);
    fmt(f[SCHEMA_METRICS_TEST_F], 64, tef);
    fmt(f[SCHEMA_METRICS_LAMBDA], 64, rep.lambda);
    fmt(f[SCHEMA_METRICS_LR], 64, rep.lr);
    fmt(f[SCHEMA_METRICS_WEIGHT_NORM], 64, wn);
    fmt(f[SCHEMA_METRICS_MAX_DW], 64, r->max_dw);
    snprintf(f[SCHEMA_METRICS_STATUS], 64, "%s", status);
    const char *fields[SCHEMA_METRICS_NCOLS];
    for (size_t i = 0; i < SCHEMA_METRICS_NCOLS; i++)
        fields[i] = f[i];
    csvio_write_row(r->csv.f, fields, SCHEMA_METRICS_NCOLS);
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
        st = model_save_split(&r->m, r->model_path, r->split_json);
    r->eval_s += clock_now_s() - now; /* the save counts to the next row */
    return st ? st : verdict;
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

/* The split settings as the model files record them, so rlekf eval scores the same test set. */
static rk_status record_split(run_t *r) {
    const train_config *tc = r->tc;
    evaluate_split s = evaluate_default_split();
    s.mode = tc->split;
    s.test_fraction = tc->test_fraction;
    s.seed = tc->seed;
    snprintf(s.stream_name, sizeof s.stream_name, "%s", tc->stream_name);
    s.max_train_frames = tc->max_train_frames;
    r->split_json = evaluate_split_to_json(&s);
    return r->split_json ? RK_OK : err_set(RK_ENOMEM, "out of memory recording the split");
}

/* tcm is r->tc, writable: the optimizer's run-dependent parameters are resolved into it. */
static rk_status run_setup(run_t *r, train_config *tcm) {
    const train_config *tc = r->tc;
    const dataset_t *ds = r->ds;
    rk_status st = evaluate_split_frames(ds, tc->split, tc->test_fraction, tc->stream_name,
                                         tc->seed, &r->train, &r->n_train, &r->test, &r->n_test);
    if (st) return st;
    r->n_train = evaluate_subset(r->train, r->n_train, tc->max_train_frames);
    if (r->n_train == 0) return err_set(RK_EINPUT, "%s: no training frames", tc->dataset);
    if (r->n_test == 0) /* every test RMSE would be NaN and no model file ever written */
        return err_set(RK_EINPUT,
                       "%s: the %s split with test_fraction %g leaves no test frames "
                       "(%zu frames; each system gives floor(test_fraction x its frames))",
                       tc->dataset, evaluate_split_mode_names[tc->split], tc->test_fraction,
                       dataset_total_frames(ds));
    r->ev_train = rk_malloc(r->n_train * sizeof *r->ev_train);
    r->ev_test = rk_malloc((r->n_test ? r->n_test : 1) * sizeof *r->ev_test);
    if (!r->ev_train || !r->ev_test) return RK_ENOMEM;
    memcpy(r->ev_train, r->train, r->n_train * sizeof *r->train);
    memcpy(r->ev_test, r->test, r->n_test * sizeof *r->test);
    r->n_ev_train = evaluate_subset(r->ev_train, r->n_train, tc->eval_max_frames);
    r->n_ev_test = evaluate_subset(r->ev_test, r->n_test, tc->eval_max_frames);
    if ((st = record_split(r))) return st;

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
            if (T->tag.role == LAYOUT_OUT_B) continue;
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
    /* run-dependent hyper-parameters (Adam's stop_steps = the run's length), before sizing */
    const size_t per_image = tc->opt->kind == OPTIM_KALMAN ? 1 + tc->force_groups : 1;
    const optim_run_info run = {.total_steps = tc->epochs * r->n_train * per_image};
    if ((st = optim_resolve(tc->opt, &tcm->opt_params, &run))) return st;
    r->res->state_bytes = optim_state_bytes(tc->opt, &tc->opt_params, &r->m.layout);
    if ((st = optim_create(tc->opt, &tc->opt_params, &r->m.layout, &r->opt))) return st;
    optim_report_t rep;
    optim_report(r->opt, &rep);
    r->res->n_blocks = rep.n_blocks;
    rng_stream(&r->order, tc->stream_name, tc->seed, RNG_ORDER);
    rng_stream(&r->sample, tc->stream_name, tc->seed, RNG_SAMPLE);
    return RK_OK;
}

static void run_free(run_t *r) {
    optim_free(r->opt);
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
    free(r->split_json);
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
    if (!st) st = run_setup(&r, tc);
    if (!st) {
        /* config.json: the resolved configuration plus provenance */
        jsonw *o = config_to_object(tc), *prov = jsonw_new_object();
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
        st = model_save_split(&r.m, p, r.split_json);
    }
    if (!st) {
        snprintf(r.model_path, sizeof r.model_path, "%s/model.h5", tc->out_dir);
        char p[TRAIN_PATH_MAX + 32];
        snprintf(p, sizeof p, "%s/metrics.csv", tc->out_dir);
        st = fs_atomic_open(&r.csv, p);
        if (!st) csvio_write_row(r.csv.f, schema_metrics_cols, SCHEMA_METRICS_NCOLS);
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
            model_frame_ref fr = r.train[order[i]];
            const double t_step = clock_now_s();
            st = kalman ? kalman_image(&r, fr) : gradient_image(&r, fr);
            r.train_s += clock_now_s() - t_step;
            if (st == RK_EDIVERGED) {
                outcome = TRAIN_DIVERGED;
                st = RK_OK;
                break;
            }
            if (st) break;
            r.images++;
            const int by_updates =
                tc->eval_every && r.updates / tc->eval_every != before / tc->eval_every;
            const int by_images = tc->eval_every_images && r.images % tc->eval_every_images == 0;
            if ((by_updates || by_images) && !(i + 1 == r.n_train)) st = evaluate(&r, "ok");
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
    if (st == RK_EDIVERGED) { /* an evaluation was not finite; its row says diverged */
        outcome = TRAIN_DIVERGED;
        st = RK_OK;
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
    res->train_s = r.train_s;
    res->eval_s = r.eval_s;
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
