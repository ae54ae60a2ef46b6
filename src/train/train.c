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
#include "par.h"
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
    double *h, *wprev; /* (N), (N) */
    /* minibatch (SPEC §3): B images per update, computed by n_slots threads, slot t with its
     * workspace wsb[t] (wsb[0] = ws) holding frame (slot_sys[t], slot_frame[t]) */
    size_t B, n_slots, max_comp;        /* max_comp = 3 x largest atom count */
    model_ws **wsb;                     /* (n_slots) */
    size_t *slot_sys, *slot_frame;      /* (n_slots) SIZE_MAX: no frame */
    double *hb, *eb;                    /* (B, N) per-image Jacobian or gradient rows, (B) errors */
    double *Fb, *cb, *gEb;              /* (n_slots, max_comp), (n_slots, max_comp), (n_slots, N) */
    rk_status *stb;                     /* (B) per-image status of a pass */
    size_t *border, *bstart, n_batches; /* (n_train) the epoch's batched order, (n_train+1) */
    model_frame_ref *bfr;               /* (B) the frames of the batch being trained */
    rng_t order, sample;
    fs_atomic csv;                 /* metrics.csv, renamed into place when the run ends */
    char dir[TRAIN_PATH_MAX + 32]; /* out_dir.partial: everything is written here first */
    char ckpt_path[TRAIN_PATH_MAX + 64];
    char model_path[TRAIN_PATH_MAX + 64];
    size_t *perm;           /* (n_train) the epoch's shuffled order */
    size_t evals;           /* evaluations so far (the default checkpoint cadence) */
    double ck_end, ck_cost; /* when the last checkpoint was finished, and how long it took */
    char *split_json;       /* the split, recorded in every model file (evaluate.h) */
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

/* ------------------------------------------------------------------ batches -------------- */

rk_status train_batch_order(const model_frame_ref *frames, const size_t *perm, size_t n,
                            size_t nsystems, size_t B, size_t *order, size_t *starts,
                            size_t *n_batches) {
    RK_ASSERT(B >= 1);
    /* pending[s * B + k]: the k-th image of system s's batch being filled, fill[s] of them */
    size_t *pending = rk_malloc((nsystems ? nsystems : 1) * B * sizeof *pending);
    size_t *fill = rk_calloc(nsystems ? nsystems : 1, sizeof *fill);
    if (!pending || !fill) {
        free(pending);
        free(fill);
        return RK_ENOMEM;
    }
    size_t pos = 0, nb = 0;
    for (size_t i = 0; i < n; i++) {
        const size_t s = frames[perm[i]].sys;
        RK_ASSERT(s < nsystems);
        pending[s * B + fill[s]++] = perm[i];
        if (fill[s] == B) { /* a full batch, emitted where its last image falls */
            starts[nb++] = pos;
            memcpy(order + pos, pending + s * B, B * sizeof *order);
            pos += B;
            fill[s] = 0;
        }
    }
    for (size_t s = 0; s < nsystems; s++) /* the short last batches, in system order */
        if (fill[s]) {
            starts[nb++] = pos;
            memcpy(order + pos, pending + s * B, fill[s] * sizeof *order);
            pos += fill[s];
        }
    RK_ASSERT(pos == n);
    starts[nb] = n;
    *n_batches = nb;
    free(pending);
    free(fill);
    return RK_OK;
}

size_t train_batches_per_epoch(const model_frame_ref *frames, size_t n, size_t nsystems, size_t B) {
    size_t total = 0;
    for (size_t s = 0; s < nsystems; s++) {
        size_t ns = 0;
        for (size_t i = 0; i < n; i++)
            ns += frames[i].sys == s;
        total += (ns + B - 1) / B;
    }
    return total;
}

/* ------------------------------------------------------------------ steps ---------------- */

/* The workspace of slot t holding frame fr: the neighbour list is rebuilt only when the slot last
 * held another frame (slots keep their frame between the passes of one batch). */
static rk_status slot_frame(run_t *r, size_t t, model_frame_ref fr) {
    if (r->slot_sys[t] == fr.sys && r->slot_frame[t] == fr.frame) return RK_OK;
    r->slot_sys[t] = SIZE_MAX;
    rk_status st = model_set_frame(&r->m, r->wsb[t], &r->ds->sys[fr.sys], fr.frame);
    if (st) return st;
    r->slot_sys[t] = fr.sys;
    r->slot_frame[t] = fr.frame;
    return RK_OK;
}

/* Energy measurement of image b at the current weights: hb[b] = s_b pE dE^/dw / n and
 * eb[b] = s_b r_b = |r_b|, r_b = pE (E - E^)/n, s_b = sign(r_b). */
static rk_status kalman_energy_one(run_t *r, size_t t, size_t b, model_frame_ref fr) {
    const train_config *tc = r->tc;
    const size_t N = r->m.layout.n_params;
    const ds_system *sys = &r->ds->sys[fr.sys];
    const double n = (double)sys->natoms;
    rk_status st = slot_frame(r, t, fr);
    if (st) return st;
    double E = model_forward(&r->m, r->wsb[t]);
    if (!isfinite(E)) return RK_EDIVERGED;
    double *h = r->hb + b * N;
    model_backward(&r->m, r->wsb[t], h, NULL);
    double e = tc->pref_e * (sys->energy[fr.frame] - E) / n;
    double sgn = e < 0 ? -1.0 : 1.0;
    for (size_t i = 0; i < N; i++)
        h[i] *= sgn * tc->pref_e / n;
    r->eb[b] = sgn * e;
    return RK_OK;
}

/* Force measurement of image b for the atoms of one group, at the current weights:
 * hb[b] = J_c with c_j = s_j pF / (n 18), eb[b] = sum_j |d_j|, d_j = pF (F_j - F^_j). */
static rk_status kalman_force_one(run_t *r, size_t t, size_t b, model_frame_ref fr,
                                  const size_t *atoms) {
    const train_config *tc = r->tc;
    const size_t N = r->m.layout.n_params, ga = tc->group_atoms;
    const ds_system *sys = &r->ds->sys[fr.sys];
    const size_t na = sys->natoms;
    const double n = (double)na, ncomp = (double)(3 * ga);
    rk_status st = slot_frame(r, t, fr);
    if (st) return st;
    double *F = r->Fb + t * r->max_comp, *c = r->cb + t * r->max_comp;
    model_forward(&r->m, r->wsb[t]);
    model_backward(&r->m, r->wsb[t], NULL, F);
    memset(c, 0, 3 * na * sizeof *c);
    const double *Fl = sys->force + fr.frame * na * 3;
    double sum_abs = 0.0;
    for (size_t k = 0; k < ga; k++) {
        size_t i = atoms[k];
        for (int al = 0; al < 3; al++) {
            double d = tc->pref_f * (Fl[3 * i + al] - F[3 * i + al]);
            if (!isfinite(d)) return RK_EDIVERGED;
            double s = d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0;
            sum_abs += fabs(d);
            /* c_j = s_j pF / (n 18): h = J_c = pF sum_j s_j dF^_j/dw / (n 18) */
            c[3 * i + al] += s * tc->pref_f / (n * ncomp);
        }
    }
    model_force_jacobian(&r->m, r->wsb[t], c, r->hb + b * N);
    r->eb[b] = sum_abs;
    return RK_OK;
}

/* Loss gradient of image b (SPEC §3 Adam) at the current weights into hb[b]:
 * dL/dw = 2 pE (E^ - E)/n^2 dE^/dw + J_c, c = 2 pF (F^ - F)/(3n). */
static rk_status gradient_one(run_t *r, size_t t, size_t b, model_frame_ref fr, double pref_e,
                              double pref_f) {
    const size_t N = r->m.layout.n_params;
    const ds_system *sys = &r->ds->sys[fr.sys];
    const size_t na = sys->natoms;
    const double n = (double)na;
    rk_status st = slot_frame(r, t, fr);
    if (st) return st;
    double *F = r->Fb + t * r->max_comp, *c = r->cb + t * r->max_comp;
    double *gE = r->gEb + t * N, *g = r->hb + b * N;
    double E = model_forward(&r->m, r->wsb[t]);
    if (!isfinite(E)) return RK_EDIVERGED;
    model_backward(&r->m, r->wsb[t], gE, F);
    const double *Fl = sys->force + fr.frame * na * 3;
    /* c = 2 pF (F^ - F) / (3n), so J_c = d/dw of the force term of the loss */
    for (size_t k = 0; k < 3 * na; k++)
        c[k] = 2.0 * pref_f * (F[k] - Fl[k]) / (3.0 * n);
    model_force_jacobian(&r->m, r->wsb[t], c, g);
    /* dL/dw = 2 pE (E^ - E)/n^2 dE^/dw + J_c */
    double a = 2.0 * pref_e * (E - sys->energy[fr.frame]) / (n * n);
    blas_axpy(N, a, gE, g);
    return RK_OK;
}

typedef enum { STEP_ENERGY, STEP_FORCE, STEP_GRADIENT } step_kind;

/* Image b of a batch pass, computed with workspace slot t. */
static rk_status pass_one(run_t *r, size_t t, size_t b, step_kind kind, const model_frame_ref *fr,
                          const size_t *atoms, double pref_e, double pref_f) {
    if (kind == STEP_ENERGY) return kalman_energy_one(r, t, b, fr[b]);
    if (kind == STEP_FORCE) return kalman_force_one(r, t, b, fr[b], atoms);
    return gradient_one(r, t, b, fr[b], pref_e, pref_f);
}

/* One pass over the images of a batch, in parallel when B > 1 (the model's own threads stay
 * serial inside: nested parallelism is off). Thread t computes with workspace slot t; with
 * schedule(static, 1) image b falls to thread b mod threads in every pass, so for B <= threads an
 * image keeps its workspace, and its neighbour list, for the whole batch. Each image writes only
 * its own rows (hb[b], eb[b]): the result does not depend on the thread count. The first failing
 * image's status wins.
 * One image is computed outside any parallel construct, so that the model's own loops are
 * top-level regions served by the persistent thread pool. Inside even an inactive (if-false)
 * region they would be nested, and libgomp starts and ends fresh threads for every nested team:
 * about a hundred thread lifetimes per image, whose stack release (madvise) and page faults were
 * most of a training run's system time (#10). */
static rk_status batch_pass(run_t *r, const model_frame_ref *fr, size_t B, step_kind kind,
                            const size_t *atoms, double pref_e, double pref_f) {
    /* data parallelism (SPEC §3 "Parallel runs"): with R >= 2 ranks and B >= 2 images, rank q
     * computes only the contiguous slice [B q / R, B (q+1) / R) of the batch; one all-gather per
     * array then gives every rank all B rows, errors and statuses, in image order, so the sums
     * that follow (reduce_rows, reduce_errors) are the single-process ones, bitwise. With B = 1
     * every rank computes the image itself. */
    const int R = par_size(), me = par_rank();
    const int split = R > 1 && B > 1;
    const size_t lo = split ? B * (size_t)me / (size_t)R : 0;
    const size_t hi = split ? B * (size_t)(me + 1) / (size_t)R : B;
    for (size_t b = 0; b < B; b++)
        r->stb[b] = RK_OK;
    if (hi - lo == 1) {
        r->stb[lo] = pass_one(r, 0, lo, kind, fr, atoms, pref_e, pref_f);
    } else {
#pragma omp parallel for schedule(static, 1) num_threads(r->n_slots)
        for (size_t b = lo; b < hi; b++) {
            const size_t t = (size_t)omp_get_thread_num();
            RK_ASSERT(t < r->n_slots);
            r->stb[b] = pass_one(r, t, b, kind, fr, atoms, pref_e, pref_f);
        }
    }
    if (split) {
        const size_t N = r->m.layout.n_params;
        size_t counts[R], displs[R];
        const size_t each[3] = {N * sizeof *r->hb, sizeof *r->eb, sizeof *r->stb};
        void *arrays[3] = {r->hb, r->eb, r->stb};
        for (int a = 0; a < 3; a++) {
            for (int q = 0; q < R; q++) {
                const size_t qlo = B * (size_t)q / (size_t)R, qhi = B * (size_t)(q + 1) / (size_t)R;
                counts[q] = (qhi - qlo) * each[a];
                displs[q] = qlo * each[a];
            }
            par_allgatherv((char *)arrays[a] + displs[me], arrays[a], counts, displs);
        }
    }
    for (size_t b = 0; b < B; b++)
        if (r->stb[b]) return r->stb[b];
    return RK_OK;
}

/* h = sum_b hb[b], in the order b = 0 .. B-1; for B = 1 the row itself (no arithmetic). */
static const double *reduce_rows(run_t *r, size_t B) {
    if (B == 1) return r->hb;
    const size_t N = r->m.layout.n_params;
    memcpy(r->h, r->hb, N * sizeof *r->h);
    for (size_t b = 1; b < B; b++)
        blas_axpy(N, 1.0, r->hb + b * N, r->h);
    return r->h;
}

/* sum_b eb[b], in order. */
static double reduce_errors(const run_t *r, size_t B) {
    double s = r->eb[0];
    for (size_t b = 1; b < B; b++)
        s += r->eb[b];
    return s;
}

/* The Kalman protocol for one batch of B images of one system (SPEC §3 "Minibatch"):
 *   energy: e = sqrt(B) (1/B) sum_b |r_b|,  h = sum_b s_b pE dE^_b/dw / n;
 *   forces: one draw of 24 atoms (4 groups of 6) for the batch; per group at the current
 *           weights e = sqrt(B) (sum_bj |d_bj| / (B 18)) / n, h = sum_b J_{c_b}.
 * For B = 1 every expression reduces exactly (x/1, sqrt(1) = 1) to the per-image protocol. */
static rk_status kalman_batch(run_t *r, const model_frame_ref *fr, size_t B) {
    const train_config *tc = r->tc;
    const ds_system *sys = &r->ds->sys[fr[0].sys];
    const size_t na = sys->natoms;
    const double n = (double)na, Bd = (double)B, sqB = sqrt(Bd);
    /* 1. energy update */
    rk_status st = batch_pass(r, fr, B, STEP_ENERGY, NULL, 0, 0);
    if (st) return st;
    optim_signal sig = {sqB * (reduce_errors(r, B) / Bd), reduce_rows(r, B), NULL};
    if ((st = do_update(r, &sig))) return st;
    /* 2. force updates: groups of atoms drawn with replacement, shared by the batch */
    size_t ng = tc->force_groups, ga = tc->group_atoms;
    size_t atoms[64];
    RK_ASSERT(ng * ga <= 64);
    for (size_t k = 0; k < ng * ga; k++)
        atoms[k] = rng_below(&r->sample, na);
    double ncomp = (double)(3 * ga);
    for (size_t g = 0; g < ng; g++) {
        if ((st = batch_pass(r, fr, B, STEP_FORCE, atoms + g * ga, 0, 0))) return st;
        optim_signal fs = {sqB * (reduce_errors(r, B) / ncomp / n / Bd), reduce_rows(r, B), NULL};
        if ((st = do_update(r, &fs))) return st;
    }
    return RK_OK;
}

/* A gradient method on one batch: g = (sum_b dL_b/dw) (1/B), one step. */
static rk_status gradient_batch(run_t *r, const model_frame_ref *fr, size_t B) {
    optim_report_t rep;
    optim_report(r->opt, &rep);
    rk_status st = batch_pass(r, fr, B, STEP_GRADIENT, NULL, rep.pref_e, rep.pref_f);
    if (st) return st;
    const double *g = reduce_rows(r, B);
    if (B > 1) blas_scal(r->m.layout.n_params, 1.0 / (double)B, r->h);
    optim_signal sig = {0.0, NULL, (double *)g};
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
    if (r->csv.f) { /* rank 0 only */
        csvio_write_row(r->csv.f, fields, SCHEMA_METRICS_NCOLS);
        fflush(r->csv.f);
    }
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
    r->evals++;
    if (par_is_root() && isfinite(tre) && isfinite(trf) && isfinite(tee) && isfinite(tef) &&
        all_finite(r->m.w, N))
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

/* The run's split settings: what it trains and tests on, and what its model files record so that
 * rlekf eval scores the same test set. */
static evaluate_split split_of(const train_config *tc) {
    evaluate_split s = evaluate_default_split();
    s.mode = tc->split;
    s.test_fraction = tc->test_fraction;
    s.seed = tc->seed;
    snprintf(s.stream_name, sizeof s.stream_name, "%s", tc->stream_name);
    s.max_train_frames = tc->max_train_frames;
    return s;
}

static rk_status record_split(run_t *r) {
    const evaluate_split s = split_of(r->tc);
    r->split_json = evaluate_split_to_json(&s);
    return r->split_json ? RK_OK : err_set(RK_ENOMEM, "out of memory recording the split");
}

/* tcm is r->tc, writable: the optimizer's run-dependent parameters are resolved into it. */
static rk_status run_setup(run_t *r, train_config *tcm) {
    const train_config *tc = r->tc;
    const dataset_t *ds = r->ds;
    const evaluate_split split = split_of(tc);
    rk_status st = evaluate_frames(ds, &split, &r->train, &r->n_train, &r->test, &r->n_test);
    if (st) return st;
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
        if ((st = model_resolve_sel(&mc, ds))) return st;
    } else if (mc.n_sel != ds->ntypes) {
        return err_set(RK_EINPUT, "model.sel: %zu entries, but %s has %zu types", mc.n_sel,
                       tc->dataset, ds->ntypes);
    }
    if ((st = model_create(&r->m, &mc, ds->ntypes, ds->type_map))) return st;
    /* config.json records the sel the model was built with */
    tcm->model.n_sel = mc.n_sel;
    memcpy(tcm->model.sel, mc.sel, sizeof mc.sel);
    if ((st = model_compute_stats(&r->m, ds, r->train, r->n_train))) return st;
    rng_t init;
    rng_stream(&init, tc->stream_name, tc->seed, RNG_INIT);
    if ((st = model_init_weights(&r->m, &init, ds, r->train, r->n_train))) return st;
    if (tc->init_weight_scale != 1.0)
        for (size_t t = 0; t < r->m.layout.n_tensors; t++) {
            const layout_tensor *T = &r->m.layout.t[t];
            if (T->tag.role == LAYOUT_OUT_B || layout_role_is_timestep(T->tag.role)) continue;
            blas_scal(T->size, tc->init_weight_scale, r->m.w + T->offset);
        }
    size_t maxat = 0;
    for (size_t s = 0; s < ds->nsystems; s++)
        if (ds->sys[s].natoms > maxat) maxat = ds->sys[s].natoms;
    if ((st = model_ws_create(&r->m, maxat, &r->ws))) return st;
    size_t N = r->m.layout.n_params;
    r->h = rk_malloc(N * sizeof *r->h);
    r->wprev = rk_malloc(N * sizeof *r->wprev);
    if (!r->h || !r->wprev) return RK_ENOMEM;
    /* minibatch scratch: one workspace per thread that computes images of a batch, one Jacobian
     * or gradient row per image, allocated once (STYLE 5) */
    const size_t B = tc->batch_size ? tc->batch_size : 1;
    const size_t threads = (size_t)omp_get_max_threads();
    r->B = B;
    r->n_slots = B > 1 && threads > 1 ? (B < threads ? B : threads) : 1;
    r->max_comp = 3 * maxat;
    r->wsb = rk_calloc(r->n_slots, sizeof *r->wsb);
    r->slot_sys = rk_malloc(r->n_slots * sizeof *r->slot_sys);
    r->slot_frame = rk_malloc(r->n_slots * sizeof *r->slot_frame);
    r->hb = rk_malloc(B * N * sizeof *r->hb);
    r->eb = rk_malloc(B * sizeof *r->eb);
    r->Fb = rk_malloc(r->n_slots * r->max_comp * sizeof *r->Fb);
    r->cb = rk_malloc(r->n_slots * r->max_comp * sizeof *r->cb);
    r->gEb = tc->opt->kind == OPTIM_KALMAN ? NULL : rk_malloc(r->n_slots * N * sizeof *r->gEb);
    r->stb = rk_malloc(B * sizeof *r->stb);
    r->border = rk_malloc(r->n_train * sizeof *r->border);
    r->bstart = rk_malloc((r->n_train + 1) * sizeof *r->bstart);
    r->bfr = rk_malloc(B * sizeof *r->bfr);
    if (!r->wsb || !r->slot_sys || !r->slot_frame || !r->hb || !r->eb || !r->Fb || !r->cb ||
        (tc->opt->kind != OPTIM_KALMAN && !r->gEb) || !r->stb || !r->border || !r->bstart ||
        !r->bfr)
        return RK_ENOMEM;
    r->wsb[0] = r->ws;
    for (size_t t = 1; t < r->n_slots; t++)
        if ((st = model_ws_create(&r->m, maxat, &r->wsb[t]))) return st;
    r->res->n_params = N;
    /* run-dependent hyper-parameters (Adam's stop_steps = the run's length in steps: batches,
     * times 1 + force_groups for Kalman), before sizing */
    const size_t per_batch = tc->opt->kind == OPTIM_KALMAN ? 1 + tc->force_groups : 1;
    const size_t batches = train_batches_per_epoch(r->train, r->n_train, ds->nsystems, B);
    const optim_run_info run = {.total_steps = tc->epochs * batches * per_batch};
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

/* ------------------------------------------------------------------ checkpoints ---------- */

/* The trainer's scalars in a checkpoint, in this order (the position: epoch ep, pos images of it
 * done, end_done = its epoch-end evaluation done too). */
enum {
    CK_IMAGES, CK_UPDATES, CK_MAX_DW, CK_TRAIN_S, CK_EVAL_S, CK_WALL_S, CK_FINAL_TRAIN_E,
    CK_FINAL_TRAIN_F, CK_FINAL_TEST_E, CK_FINAL_TEST_F, CK_BEST_TEST_E, CK_BEST_TEST_F,
    CK_LAST_TEST_E, CK_LAST_TEST_F, CK_EPOCH, CK_POS, CK_END_DONE, CK_N_TRAIN, CK_N_PARAMS,
    CK_EVALS, CK_ORDER_HAS_SPARE, CK_ORDER_SPARE, CK_SAMPLE_HAS_SPARE, CK_SAMPLE_SPARE, CK_COUNT
};
#define CK_KIND "checkpoint"
#define CK_RNG_WORDS 8 /* order.s[4], sample.s[4] */
/* Trainer arrays before the optimizer's: train, rng, order, w, metrics, optimizer, config. */
#define CK_OWN 7
#define CK_NAME_MAX 32

typedef struct {
    h5io_array a[CK_OWN + OPTIM_MAX_ARRAYS + 1];
    char names[OPTIM_MAX_ARRAYS + 1][CK_NAME_MAX];
    size_t n;
    double sc[CK_COUNT];
    uint64_t rng[CK_RNG_WORDS];
    optim_snapshot snap;
} ckpt_t;

/* The array list of a checkpoint; metrics and the optimizer's name are given for saving, NULL
 * (allocated by the reader) for loading. */
static rk_status ckpt_arrays(run_t *r, ckpt_t *c, char *metrics, size_t metrics_len,
                             const char *opt_name, char *config) {
    rk_status st = optim_snapshot_begin(r->opt, &c->snap);
    if (st) return st;
    size_t N = r->m.layout.n_params;
    c->a[0] = (h5io_array){"train", H5IO_F64, c->sc, CK_COUNT};
    c->a[1] = (h5io_array){"rng", H5IO_U64, c->rng, CK_RNG_WORDS};
    RK_ASSERT(sizeof(size_t) == sizeof(uint64_t));
    c->a[2] = (h5io_array){"order", H5IO_U64, r->perm, r->n_train};
    c->a[3] = (h5io_array){"w", H5IO_F64, r->m.w, N};
    c->a[4] = (h5io_array){"metrics", H5IO_U8, metrics, metrics_len};
    c->a[5] = (h5io_array){"optimizer", H5IO_U8, (void *)opt_name, opt_name ? strlen(opt_name) : 0};
    c->a[6] = (h5io_array){"config", H5IO_U8, config, config ? strlen(config) : 0};
    c->n = CK_OWN;
    for (size_t i = 0; i < c->snap.n; i++) {
        const optim_array *oa = &c->snap.a[i];
        snprintf(c->names[i], CK_NAME_MAX, "opt.%s", oa->name);
        c->a[c->n++] = (h5io_array){c->names[i], oa->type == OPTIM_ARRAY_F32 ? H5IO_F32 : H5IO_F64,
                                    oa->data, oa->n};
    }
    return RK_OK;
}

/* The configuration a checkpoint belongs to: the resolved config without the settings that may
 * change between a run and its resumption (threads, cadence, progress, time budget). */
static char *resume_config_text(const train_config *tc) {
    train_config k = *tc;
    config_clear_run_settings(&k);
    k.time_budget_s = 0;
    k.train_budget_s = 0;
    jsonw *o = config_to_object(&k);
    char *text = o ? jsonw_print(o) : NULL;
    jsonw_free(o);
    return text;
}

/* Several ranks: rank 0 reads and writes the checkpoint file, which holds the single-process
 * state (a checkpoint does not depend on the number of ranks, so a run may resume on another
 * count). Saving (save = 1), every distributed optimizer array (optim_array.distributed, e.g.
 * Kalman's Q) is gathered into a buffer on rank 0 that replaces the array in c (freed by the
 * caller from bufs). Loading (save = 0), rank 0 first gets such buffers to read into; after the
 * read, ckpt_share sends everything to the other ranks. */
static size_t ckpt_esize(h5io_type t) {
    return t == H5IO_F32 ? 4 : 8;
}

/* Byte counts and offsets of every rank's part of distributed array a (all ranks call it). */
static rk_status dist_map(const optim_array *a, size_t es, size_t *counts, size_t *displs,
                          size_t *total) {
    const int R = par_size();
    size_t mine[2] = {a->offset * es, a->n * es};
    size_t *all = rk_malloc(2 * (size_t)R * sizeof *all), *c = rk_malloc((size_t)R * sizeof *c),
           *d = rk_malloc((size_t)R * sizeof *d);
    if (!all || !c || !d) {
        free(all);
        free(c);
        free(d);
        return RK_ENOMEM;
    }
    for (int q = 0; q < R; q++) {
        c[q] = sizeof mine;
        d[q] = (size_t)q * sizeof mine;
    }
    par_allgatherv(mine, all, c, d);
    *total = 0;
    for (int q = 0; q < R; q++) {
        displs[q] = all[2 * q];
        counts[q] = all[2 * q + 1];
        *total += counts[q];
    }
    free(all);
    free(c);
    free(d);
    return RK_OK;
}

static rk_status ckpt_exchange(ckpt_t *c, void **bufs, int save) {
    const int R = par_size();
    if (R == 1) return RK_OK;
    size_t *counts = rk_malloc((size_t)R * sizeof *counts),
           *displs = rk_malloc((size_t)R * sizeof *displs);
    rk_status st = counts && displs ? RK_OK : RK_ENOMEM;
    for (size_t i = 1; !st && i < c->snap.n; i++) {
        const optim_array *oa = &c->snap.a[i];
        if (!oa->distributed) continue;
        h5io_array *ha = &c->a[CK_OWN + i];
        const size_t es = ckpt_esize(ha->type);
        size_t total = 0;
        if ((st = dist_map(oa, es, counts, displs, &total))) break;
        if (par_is_root()) {
            bufs[i] = rk_malloc(total);
            if (!bufs[i]) {
                st = RK_ENOMEM;
                break;
            }
            ha->data = bufs[i];
            ha->n = total / es;
        }
        if (save) par_gatherv(oa->data, oa->n * es, bufs[i], counts, displs);
    }
    free(counts);
    free(displs);
    return st;
}

/* After rank 0 read the checkpoint: its contents to every rank (trainer scalars, streams, order,
 * weights, the optimizer's scalars and arrays; distributed arrays scattered back in parts). */
static rk_status ckpt_share(run_t *r, ckpt_t *c, void **bufs) {
    const int R = par_size();
    if (R == 1) return RK_OK;
    par_bcast(c->sc, sizeof c->sc);
    par_bcast(c->rng, sizeof c->rng);
    par_bcast(r->perm, r->n_train * sizeof *r->perm);
    par_bcast(r->m.w, r->m.layout.n_params * sizeof *r->m.w);
    size_t *counts = rk_malloc((size_t)R * sizeof *counts),
           *displs = rk_malloc((size_t)R * sizeof *displs);
    rk_status st = counts && displs ? RK_OK : RK_ENOMEM;
    for (size_t i = 0; !st && i < c->snap.n; i++) {
        const optim_array *oa = &c->snap.a[i];
        const size_t es = oa->type == OPTIM_ARRAY_F32 ? 4 : 8;
        if (!oa->distributed) {
            par_bcast(oa->data, oa->n * es);
            continue;
        }
        size_t total = 0;
        if ((st = dist_map(oa, es, counts, displs, &total))) break;
        par_scatterv(bufs[i], counts, displs, oa->data, oa->n * es);
    }
    free(counts);
    free(displs);
    return st;
}

/* Write the checkpoint: the state after `pos` images of epoch ep (end_done: and after its
 * epoch-end evaluation). */
static rk_status checkpoint_save(run_t *r, size_t ep, size_t pos, int end_done) {
    const double t = clock_now_s();
    const int root = par_is_root();
    char *metrics = NULL;
    size_t mlen = 0;
    rk_status st = RK_OK;
    if (root) {
        fflush(r->csv.f);
        st = fs_read_all(r->csv.tmp, &metrics, &mlen);
    }
    if (st) return st;
    ckpt_t c;
    memset(&c, 0, sizeof c);
    const train_result *res = r->res;
    double v[CK_COUNT] = {
        [CK_IMAGES] = (double)r->images, [CK_UPDATES] = (double)r->updates,
        [CK_MAX_DW] = r->max_dw, [CK_TRAIN_S] = r->train_s, [CK_EVAL_S] = r->eval_s,
        [CK_WALL_S] = t - r->t0, [CK_FINAL_TRAIN_E] = res->final_train_e,
        [CK_FINAL_TRAIN_F] = res->final_train_f, [CK_FINAL_TEST_E] = res->final_test_e,
        [CK_FINAL_TEST_F] = res->final_test_f, [CK_BEST_TEST_E] = res->best_test_e,
        [CK_BEST_TEST_F] = res->best_test_f, [CK_LAST_TEST_E] = r->last_test_e,
        [CK_LAST_TEST_F] = r->last_test_f, [CK_EPOCH] = (double)ep, [CK_POS] = (double)pos,
        [CK_END_DONE] = end_done, [CK_N_TRAIN] = (double)r->n_train,
        [CK_N_PARAMS] = (double)r->m.layout.n_params, [CK_EVALS] = (double)r->evals,
        [CK_ORDER_HAS_SPARE] = r->order.has_spare, [CK_ORDER_SPARE] = r->order.spare,
        [CK_SAMPLE_HAS_SPARE] = r->sample.has_spare, [CK_SAMPLE_SPARE] = r->sample.spare};
    memcpy(c.sc, v, sizeof v);
    memcpy(c.rng, r->order.s, 4 * sizeof *c.rng);
    memcpy(c.rng + 4, r->sample.s, 4 * sizeof *c.rng);
    char *config = resume_config_text(r->tc);
    st = config ? ckpt_arrays(r, &c, metrics, mlen, r->tc->opt->name, config) : RK_ENOMEM;
    void *gathered[OPTIM_MAX_ARRAYS + 1] = {0};
    if (!st) st = ckpt_exchange(&c, gathered, 1);
    if (!st && root) st = h5io_arrays_write(r->ckpt_path, CK_KIND, c.a, c.n);
    for (size_t i = 0; i <= OPTIM_MAX_ARRAYS; i++)
        free(gathered[i]);
    optim_snapshot_end(&c.snap);
    free(config);
    free(metrics);
    r->ck_end = clock_now_s();
    r->ck_cost = r->ck_end - t;
    r->eval_s += r->ck_cost; /* like a model save */
    return st;
}

/* The default cadence (after every evaluation) skips a checkpoint while the time since the last
 * one is less than this many times what it cost: a large state (GEKF's P of GiBs) is then saved
 * at most ~1/CK_COST_FACTOR of the run's time; small states after every evaluation. Where the
 * checkpoints fall never changes the results. */
#define CK_COST_FACTOR 10.0

static int checkpoint_due(const run_t *r) {
    return clock_now_s() - r->ck_end >= CK_COST_FACTOR * r->ck_cost;
}

/* Load the checkpoint into the set-up run and write the metrics so far; *ep, *pos, *end_done:
 * where to continue. */
static rk_status checkpoint_load(run_t *r, size_t *ep, size_t *pos, int *end_done) {
    ckpt_t c;
    memset(&c, 0, sizeof c);
    const int root = par_is_root();
    void *bufs[OPTIM_MAX_ARRAYS + 1] = {0};
    rk_status st = ckpt_arrays(r, &c, NULL, 0, NULL, NULL);
    if (!st) st = ckpt_exchange(&c, bufs, 0);
    if (!st && root) st = h5io_arrays_read(r->ckpt_path, CK_KIND, c.a, c.n);
    /* rank 0 checks what it read (a failure there ends the job: the others wait below) */
    const double *v = c.sc;
    if (root && !st) {
        char *config = resume_config_text(r->tc);
        if (!config) st = RK_ENOMEM;
        if (!st && strcmp(config, (const char *)c.a[6].data) != 0)
            st = err_set(RK_EINPUT, "%s: the checkpoint was made with another configuration "
                                    "(only threads, checkpoint_every_images and the "
                                    "budgets may change); run without --resume to start afresh",
                         r->ckpt_path);
        free(config);
        const char *name = c.a[5].data ? (const char *)c.a[5].data : "";
        if (!st && strcmp(name, r->tc->opt->name) != 0)
            st = err_set(RK_EINPUT,
                         "%s: checkpoint of optimizer '%s', the configuration trains '%s'",
                         r->ckpt_path, name, r->tc->opt->name);
        if (!st && (v[CK_N_TRAIN] != (double)r->n_train ||
                    v[CK_N_PARAMS] != (double)r->m.layout.n_params))
            st = err_set(RK_EINPUT, "%s: checkpoint of %g training frames and %g parameters, "
                                    "the configuration has %zu and %zu", r->ckpt_path,
                         v[CK_N_TRAIN], v[CK_N_PARAMS], r->n_train, r->m.layout.n_params);
    }
    /* rank 0 checked what it read (a failure there ends the job: the others wait here) */
    if (!st) st = ckpt_share(r, &c, bufs);
    for (size_t i = 0; i <= OPTIM_MAX_ARRAYS; i++)
        free(bufs[i]);
    if (!st) st = optim_snapshot_restore(r->opt, &c.snap);
    for (size_t i = 0; !st && i < r->n_train; i++)
        if (r->perm[i] >= r->n_train)
            st = err_set(RK_EINPUT, "%s: /order[%zu] = %zu out of range", r->ckpt_path, i,
                         r->perm[i]);
    if (!st) {
        train_result *res = r->res;
        r->images = (size_t)v[CK_IMAGES];
        r->updates = (size_t)v[CK_UPDATES];
        r->max_dw = v[CK_MAX_DW];
        r->train_s = v[CK_TRAIN_S];
        r->eval_s = v[CK_EVAL_S];
        r->t0 = clock_now_s() - v[CK_WALL_S];
        res->final_train_e = v[CK_FINAL_TRAIN_E];
        res->final_train_f = v[CK_FINAL_TRAIN_F];
        res->final_test_e = v[CK_FINAL_TEST_E];
        res->final_test_f = v[CK_FINAL_TEST_F];
        res->best_test_e = v[CK_BEST_TEST_E];
        res->best_test_f = v[CK_BEST_TEST_F];
        r->last_test_e = v[CK_LAST_TEST_E];
        r->last_test_f = v[CK_LAST_TEST_F];
        r->evals = (size_t)v[CK_EVALS];
        *ep = (size_t)v[CK_EPOCH];
        *pos = (size_t)v[CK_POS];
        *end_done = v[CK_END_DONE] != 0.0;
        memcpy(r->order.s, c.rng, 4 * sizeof *c.rng);
        memcpy(r->sample.s, c.rng + 4, 4 * sizeof *c.rng);
        r->order.has_spare = v[CK_ORDER_HAS_SPARE] != 0.0;
        r->order.spare = v[CK_ORDER_SPARE];
        r->sample.has_spare = v[CK_SAMPLE_HAS_SPARE] != 0.0;
        r->sample.spare = v[CK_SAMPLE_SPARE];
        if (*pos > r->n_train)
            st = err_set(RK_EINPUT, "%s: position %zu beyond %zu frames", r->ckpt_path, *pos,
                         r->n_train);
    }
    if (!st && root && fwrite(c.a[4].data, 1, c.a[4].n, r->csv.f) != c.a[4].n)
        st = err_set(RK_ERUNTIME, "%s: cannot write", r->csv.tmp);
    optim_snapshot_end(&c.snap);
    free(c.a[4].data);
    free(c.a[5].data);
    free(c.a[6].data);
    return st;
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
    for (size_t t = 1; r->wsb && t < r->n_slots; t++)
        model_ws_free(r->wsb[t]);
    free(r->wsb);
    free(r->slot_sys);
    free(r->slot_frame);
    free(r->hb);
    free(r->eb);
    free(r->Fb);
    free(r->cb);
    free(r->gEb);
    free(r->stb);
    free(r->border);
    free(r->bstart);
    free(r->bfr);
    free(r->split_json);
    free(r->perm);
    if (r->csv.f) fs_atomic_abort(&r->csv);
}

int train_is_finished(const char *out_dir) {
    char p[TRAIN_PATH_MAX + 32];
    snprintf(p, sizeof p, "%s%s", out_dir, TRAIN_PARTIAL);
    if (fs_is_dir(p)) return 0;
    snprintf(p, sizeof p, "%s/metrics.csv", out_dir);
    if (!fs_is_file(p)) return 0;
    snprintf(p, sizeof p, "%s/model.h5", out_dir);
    return fs_is_file(p);
}

/* A dataset kept inside out_dir (a DeePMD-kit input.json's systems, imported to out_dir/data.h5
 * before the run) moves into the finished folder, so replacing out_dir keeps it. */
static rk_status carry_input(const train_config *tc, const char *partial) {
    size_t n = strlen(tc->out_dir);
    if (strncmp(tc->dataset, tc->out_dir, n) != 0 || tc->dataset[n] != '/') return RK_OK;
    if (!fs_is_file(tc->dataset)) return RK_OK;
    char to[TRAIN_PATH_MAX + 64];
    snprintf(to, sizeof to, "%s%s", partial, tc->dataset + n);
    if (strchr(tc->dataset + n + 1, '/')) return RK_OK; /* only files directly in out_dir */
    if (rename(tc->dataset, to) != 0)
        return err_set(RK_ERUNTIME, "%s: cannot move to %s: %s", tc->dataset, to, strerror(errno));
    return RK_OK;
}

/* Remove stale "*.tmp-<pid>" entries of dead processes beside dir. */
static void clean_beside(const char *dir) {
    char parent[TRAIN_PATH_MAX + 16];
    snprintf(parent, sizeof parent, "%s", dir);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/')
        parent[--n] = '\0';
    char *slash = strrchr(parent, '/');
    if (!slash)
        snprintf(parent, sizeof parent, ".");
    else if (slash == parent)
        parent[1] = '\0';
    else
        *slash = '\0';
    fs_clean_stale(parent);
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
    /* several MPI ranks (par.h): all run the same loop on the same data (the optimizer shares its
     * state and work among them, batch_pass the images of a batch); rank 0 alone writes files and prints progress, and makes the
     * decisions that depend on its clock (checkpoint cadence, time budget) for all */
    const int root = par_is_root();
    if (!root) tcv.quiet = 1;
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
    /* the images of a batch run on the threads; the model's own loops stay serial inside them */
    if (tc->batch_size > 1) omp_set_max_active_levels(1);
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
    /* the folder transaction: out_dir.partial, resumed or made fresh */
    snprintf(r.dir, sizeof r.dir, "%s%s", tc->out_dir, TRAIN_PARTIAL);
    snprintf(r.ckpt_path, sizeof r.ckpt_path, "%s/%s", r.dir, TRAIN_CHECKPOINT);
    snprintf(r.model_path, sizeof r.model_path, "%s/model.h5", r.dir);
    if (root) clean_beside(tc->out_dir);
    const int resuming = par_bcast_int(tc->resume && fs_is_file(r.ckpt_path));
    if (!root) {
        st = RK_OK;
    } else if (resuming) {
        fs_clean_stale(r.dir);
        st = RK_OK;
    } else {
        if (tc->resume && !tc->quiet)
            fprintf(stderr, "[train %s] no checkpoint in %s: starting from scratch\n",
                    tc->opt->name, r.dir);
        st = fs_remove_tree(r.dir);
    }
    if (!st && root) st = fs_mkdirs(r.dir);
    if (!st) st = run_setup(&r, tc);
    /* every rank's optimizer state bytes (each checks the memory limit on its own share) */
    const int R = par_size();
    size_t *rank_bytes = st ? NULL : rk_calloc((size_t)R, sizeof *rank_bytes);
    if (!st && !rank_bytes) st = RK_ENOMEM;
    if (!st) {
        size_t counts[R], displs[R];
        for (int q = 0; q < R; q++) {
            counts[q] = sizeof *rank_bytes;
            displs[q] = (size_t)q * sizeof *rank_bytes;
        }
        par_allgatherv(&res->state_bytes, rank_bytes, counts, displs);
    }
    if (!st && !resuming && root) {
        /* config.json: the resolved configuration plus provenance */
        jsonw *o = config_to_object(tc), *prov = jsonw_new_object();
        train_add_provenance(prov);
        jsonw_add_num(prov, "mpi_ranks", R);
        jsonw *rb = jsonw_new_array();
        for (int q = 0; q < R; q++)
            jsonw_append_num(rb, (double)rank_bytes[q]);
        jsonw_add(prov, "optimizer_state_bytes_per_rank", rb);
        jsonw_add(o, "provenance", prov);
        char *text = jsonw_print(o);
        jsonw_free(o);
        char p[TRAIN_PATH_MAX + 64];
        snprintf(p, sizeof p, "%s/config.json", r.dir);
        st = fs_write_text_atomic(p, text);
        free(text);
    }
    if (!st && !resuming && root) {
        char p[TRAIN_PATH_MAX + 64];
        snprintf(p, sizeof p, "%s/model_init.h5", r.dir);
        st = model_save_split(&r.m, p, r.split_json);
    }
    r.perm = st ? NULL : rk_malloc((r.n_train ? r.n_train : 1) * sizeof *r.perm);
    if (!st && !r.perm) st = RK_ENOMEM;
    for (size_t i = 0; !st && i < r.n_train; i++)
        r.perm[i] = i; /* saved by the step-0 checkpoint before the first shuffle */
    if (!st && root) {
        char p[TRAIN_PATH_MAX + 64];
        snprintf(p, sizeof p, "%s/metrics.csv", r.dir);
        st = fs_atomic_open(&r.csv, p);
        if (!st && !resuming) csvio_write_row(r.csv.f, schema_metrics_cols, SCHEMA_METRICS_NCOLS);
    }
    res->n_train = r.n_train;
    res->n_test = r.n_test;
    /* where to start: epoch 1 after the step-0 evaluation, or where the checkpoint was taken */
    size_t start_ep = 1, start_pos = 0;
    int have_order = 0;
    if (!st && resuming) {
        size_t ep = 0, pos = 0;
        int end_done = 0;
        st = checkpoint_load(&r, &ep, &pos, &end_done);
        if (end_done) {
            start_ep = ep + 1;
        } else {
            start_ep = ep;
            start_pos = pos;
            have_order = 1;
        }
    } else if (!st) {
        st = evaluate(&r, "ok"); /* no checkpoint: resuming from here is starting afresh */
    }
    progress(&r, start_ep - 1, 0, 1);
    train_outcome outcome = TRAIN_DONE;
    int kalman = tc->opt && tc->opt->kind == OPTIM_KALMAN;
    const size_t ck_every = tc->checkpoint_every_images;
    for (size_t ep = start_ep; !st && outcome == TRAIN_DONE && ep <= tc->epochs; ep++) {
        size_t *perm = r.perm, i0 = have_order ? start_pos : 0;
        if (!have_order) {
            for (size_t i = 0; i < r.n_train; i++)
                perm[i] = i;
            rng_shuffle(&r.order, perm, r.n_train);
        }
        have_order = 0;
        /* the epoch's batches, rebuilt from the shuffled order (also on resume: the checkpoint
         * keeps perm and a position on a batch boundary) */
        st = train_batch_order(r.train, perm, r.n_train, ds->nsystems, r.B, r.border, r.bstart,
                               &r.n_batches);
        size_t k0 = 0;
        while (!st && k0 < r.n_batches && r.bstart[k0] < i0)
            k0++;
        if (!st && r.bstart[k0] != i0)
            st = err_set(RK_EINPUT, "%s: position %zu of epoch %zu is not on a batch boundary",
                         r.ckpt_path, i0, ep);
        for (size_t k = k0; !st && k < r.n_batches; k++) {
            const size_t b0 = r.bstart[k], nb = r.bstart[k + 1] - b0, pos = b0 + nb;
            const size_t before = r.updates, images0 = r.images, evals0 = r.evals;
            for (size_t b = 0; b < nb; b++)
                r.bfr[b] = r.train[r.border[b0 + b]];
            for (size_t t = 0; t < r.n_slots; t++)
                r.slot_sys[t] = SIZE_MAX; /* an evaluation may have used workspace 0 */
            const double t_step = clock_now_s();
            st = kalman ? kalman_batch(&r, r.bfr, nb) : gradient_batch(&r, r.bfr, nb);
            r.train_s += clock_now_s() - t_step;
            if (st == RK_EDIVERGED) {
                outcome = TRAIN_DIVERGED;
                st = RK_OK;
                break;
            }
            if (st) break;
            r.images += nb;
            /* a cadence of K fires when a batch crosses a multiple of K */
            const int by_updates =
                tc->eval_every && r.updates / tc->eval_every != before / tc->eval_every;
            const int by_images = tc->eval_every_images && r.images / tc->eval_every_images !=
                                                               images0 / tc->eval_every_images;
            if ((by_updates || by_images) && pos != r.n_train) st = evaluate(&r, "ok");
            /* checkpoint every K images, or after every evaluation */
            const int due = ck_every ? r.images / ck_every != images0 / ck_every
                                     : r.evals != evals0 && par_bcast_int(checkpoint_due(&r));
            if (!st && due) st = checkpoint_save(&r, ep, pos, 0);
            progress(&r, ep, pos, 0);
            /* the training clock is the same on every rank (each waits in the collectives) */
            if ((tc->train_budget_s > 0 && par_bcast_int(r.train_s > tc->train_budget_s)) ||
                (tc->time_budget_s > 0 &&
                 par_bcast_int(clock_now_s() - r.t0 > tc->time_budget_s))) {
                outcome = TRAIN_TIME_BUDGET;
                break;
            }
        }
        if (!st && outcome == TRAIN_DONE) {
            st = evaluate(&r, ep == tc->epochs ? "done" : "ok");
            if (!st && ep < tc->epochs && !ck_every && par_bcast_int(checkpoint_due(&r)))
                st = checkpoint_save(&r, ep, r.n_train, 1);
        }
    }
    if (!st && outcome != TRAIN_DONE) {
        st = evaluate(&r, train_outcome_str(outcome));
        if (outcome == TRAIN_DIVERGED && !tc->quiet)
            fprintf(stderr, "[train %s] diverged after %zu updates; last good model kept in %s\n",
                    tc->opt->name, r.updates, tc->out_dir);
    }
    if (st == RK_EDIVERGED) { /* an evaluation was not finite; its row says diverged */
        outcome = TRAIN_DIVERGED;
        st = RK_OK;
    }
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
    /* finished: drop the checkpoint and put the folder in place; an input error found before
     * training leaves nothing worth resuming */
    if (!st && root && unlink(r.ckpt_path) != 0 && errno != ENOENT)
        st = err_set(RK_ERUNTIME, "%s: cannot remove: %s", r.ckpt_path, strerror(errno));
    if (!st && root) st = carry_input(tc, r.dir);
    if (!st && root) st = fs_replace_dir(r.dir, tc->out_dir);
    if (st == RK_EINPUT && !resuming && root) fs_remove_tree(r.dir);
    /* the others return when rank 0's folder is in place (a caller may read it next) */
    if (!st) par_barrier();
    if (!st) progress(&r, tc->epochs, r.n_train, 1);
    run_free(&r);
    free(rank_bytes);
    if (ds == &own) dataset_free(&own);
    return st;
}
