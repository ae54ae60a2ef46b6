/* Tests of the float32 covariance option of the Kalman core and of its positive-diagonal guard
 * (SPEC §3 "Covariance precision").
 *
 * The reference for float32 is the float64 core (itself checked against an independent dense
 * filter in test_optim.c): on the same measurements both must agree to a single-precision
 * tolerance, and must not agree exactly (else float32 storage was not used). Memory: the packed
 * triangles take half the bytes. Threads: float32 results are bitwise the same for any thread
 * count. Guard: an update that leaves a diagonal entry of P non-positive or non-finite is a
 * divergence naming optimizer, update, block and entry, both in a direct step and in a training
 * run. Accuracy: short RLEKF runs on Cu and H2O with float32 end within 2 % of the float64 runs'
 * test RMSEs (`make -f Makefile.bench systime` checks the same over a whole Cu epoch and 160 H2O
 * images).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvio.h"
#include "config.h"
#include "kalman.h"
#include "layout.h"
#include "modelutil.h"
#include "optim.h"
#include "registry.h"
#include "rng.h"
#include "testutil.h"
#include "train.h"

/* ---------------------------------------------------------------- helpers */

static void sized_layout(layout_t *L, const size_t *sizes, size_t n) {
    char name[LAYOUT_NAME_MAX];
    cr_assert_eq(layout_init(L, 0), RK_OK);
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "t%zu", i);
        cr_assert_eq(layout_add(L, name, 1, sizes[i]), RK_OK);
    }
}

static void set(const optim_type *t, optim_params *p, const char *key, double v) {
    cr_assert_eq(optim_set_param(t, p, "test", key, v), RK_OK, "%s", err_msg());
}

static void set_cov(const optim_type *t, optim_params *p, const char *cov) {
    cr_assert_eq(optim_set_choice(t, p, "test", "covariance", cov), RK_OK, "%s", err_msg());
}

static optim_t *create(const optim_type *t, const optim_params *p, const layout_t *L) {
    optim_t *s = NULL;
    cr_assert_eq(optim_create(t, p, L, &s), RK_OK, "%s", err_msg());
    return s;
}

/* Seeded Jacobians of order 1/√N (as in the benchmark) and errors of order 1. */
static void run_updates(const optim_type *t, optim_t *s, double *w, size_t N, size_t updates,
                        uint64_t seed) {
    double *h = malloc(N * sizeof *h);
    rng_t r;
    rng_seed(&r, seed);
    for (size_t u = 0; u < updates; u++) {
        for (size_t j = 0; j < N; j++)
            h[j] = rng_normal(&r) / sqrt((double)N);
        optim_signal sig = {.e = rng_normal(&r), .h = h, .g = NULL};
        cr_assert_eq(optim_step(s, w, &sig), RK_OK, "update %zu: %s", u + 1, err_msg());
    }
    free(h);
}

static double max_abs(const double *x, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i]) > m) m = fabs(x[i]);
    return m;
}

static double max_abs_diff(const double *x, const double *y, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i] - y[i]) > m) m = fabs(x[i] - y[i]);
    return m;
}

/* Blocks of 2100 (cut into pieces, swept by the 4-row fused kernel), 842 (pieces, short rows:
 * rank-1 and mat-vec passes on cache-sized chunks) with N_b 2100: every code path of the sweep. */
static const size_t TENSORS[] = {2100, 800, 37, 5};
#define N_TENSORS (sizeof TENSORS / sizeof TENSORS[0])
#define NB 2100
#define N_UPDATES 6
#define SEED 77

/* float32 against float64 after N_UPDATES updates. Each update rounds every stored entry of
 * P/σ once (relative 2^-24 = 6e-8), so after 6 updates P and the weight changes differ by a few
 * 1e-7 relative to their largest magnitude; 1e-5 leaves a margin of ~30 without admitting a
 * wrong formula (which is off by O(1)). They must differ by more than 1e-10 relative: float64
 * arithmetic alone would agree to ~1e-16, so a smaller gap means P was not rounded to float. */
#define F32_REL_TOL 1e-5
#define F32_MIN_REL_DIFF 1e-10

typedef struct {
    double *w;     /* (N) weights after the updates */
    double *P[2];  /* dense P of each block */
    size_t n[2];   /* block sizes */
    size_t bytes;  /* report().state_bytes */
    size_t packed; /* kalman_packed_bytes */
} run_out;

static void run_case(const char *cov, kalman_kernel kernel, int threads, run_out *o) {
    layout_t L;
    sized_layout(&L, TENSORS, N_TENSORS);
    const optim_type *t = optim_find("rlekf");
    optim_params p;
    optim_default_params(t, &p);
    set(t, &p, "block_size", NB);
    set_cov(t, &p, cov);
    omp_set_num_threads(threads);
    optim_t *s = create(t, &p, &L);
    kalman_set_kernel(s, kernel);
    cr_assert_eq(kalman_block_count(s), 2);
    o->w = calloc(L.n_params, sizeof *o->w);
    run_updates(t, s, o->w, L.n_params, N_UPDATES, SEED);
    for (size_t i = 0; i < 2; i++) {
        o->n[i] = kalman_block_dense(s, i, NULL);
        o->P[i] = malloc(o->n[i] * o->n[i] * sizeof(double));
        kalman_block_dense(s, i, o->P[i]);
    }
    optim_report_t rep;
    optim_report(s, &rep);
    o->bytes = rep.state_bytes;
    o->packed = kalman_packed_bytes(s);
    cr_assert_eq(rep.state_bytes, optim_state_bytes(t, &p, &L), "report and state_bytes disagree");
    optim_free(s);
    layout_free(&L);
    omp_set_num_threads(1);
}

static void run_free(run_out *o) {
    free(o->w);
    free(o->P[0]);
    free(o->P[1]);
}

static int runs_equal(const run_out *a, const run_out *b, size_t N) {
    if (memcmp(a->w, b->w, N * sizeof(double)) != 0) return 0;
    for (size_t i = 0; i < 2; i++)
        if (memcmp(a->P[i], b->P[i], a->n[i] * a->n[i] * sizeof(double)) != 0) return 0;
    return 1;
}

static size_t n_total(void) {
    size_t N = 0;
    for (size_t i = 0; i < N_TENSORS; i++)
        N += TENSORS[i];
    return N;
}

/* ---------------------------------------------------------------- precision and memory */

Test(kalman_f32, float32_matches_float64_to_single_precision) {
    const size_t N = n_total();
    const kalman_kernel kernels[] = {KALMAN_KERNEL_FUSED, KALMAN_KERNEL_LOOPS};
    run_out d;
    run_case("float64", KALMAN_KERNEL_FUSED, 1, &d);
    const double wscale = max_abs(d.w, N); /* w starts at 0: the size of the weight change */
    cr_assert_gt(wscale, 0.0);
    for (size_t k = 0; k < 2; k++) {
        run_out f;
        run_case("float32", kernels[k], 1, &f);
        const double dw = max_abs_diff(f.w, d.w, N) / wscale;
        cr_assert_leq(dw, F32_REL_TOL, "kernel %zu: w differs by %g relative", k, dw);
        cr_assert_gt(dw, F32_MIN_REL_DIFF, "kernel %zu: w agrees to %g: float32 not used?", k, dw);
        for (size_t i = 0; i < 2; i++) {
            const size_t nn = d.n[i] * d.n[i];
            const double dp = max_abs_diff(f.P[i], d.P[i], nn) / max_abs(d.P[i], nn);
            cr_assert_leq(dp, F32_REL_TOL, "kernel %zu block %zu: P differs by %g", k, i, dp);
            cr_assert_gt(dp, F32_MIN_REL_DIFF, "kernel %zu block %zu: P agrees to %g", k, i, dp);
        }
        run_free(&f);
    }
    run_free(&d);
}

/* The BLAS kernel would sum in single precision on float storage: a float32 state runs the
 * unfused kernel of its own loops instead, bitwise. */
Test(kalman_f32, blas_kernel_falls_back_to_own_loops) {
    run_out a, b;
    run_case("float32", KALMAN_KERNEL_LOOPS, 1, &a);
    run_case("float32", KALMAN_KERNEL_BLAS, 1, &b);
    cr_assert(runs_equal(&a, &b, n_total()));
    run_free(&a);
    run_free(&b);
}

/* kalman_state_bytes = bookkeeping + 8·(2N + Σ pieces_i·n_i) for the double vectors k, u and the
 * partial mat-vec results + Σ n_i(n_i+1)/2 · entry size. Only the last term depends on the
 * precision: float32 saves exactly half the float64 packed bytes, and the packed bytes are
 * Σ n_i(n_i+1)/2 · 8 resp. · 4. Checked on the one-type default model with rlekf and gekf. */
Test(kalman_f32, state_bytes_halve_the_packed_triangles) {
    layout_t L;
    /* one-type default DP layout (SPEC §2): embedding 1→25→25→25, fitting 400→50→50→50→1 */
    const size_t emb[] = {1, 25, 25, 25}, fit[] = {400, 50, 50, 50, 1};
    cr_assert_eq(layout_init(&L, 0), RK_OK);
    for (size_t k = 0; k < 3; k++) {
        layout_add(&L, k == 0 ? "e1.W" : k == 1 ? "e2.W" : "e3.W", emb[k], emb[k + 1]);
        layout_add(&L, k == 0 ? "e1.b" : k == 1 ? "e2.b" : "e3.b", 1, emb[k + 1]);
    }
    for (size_t k = 0; k < 4; k++) {
        char name[LAYOUT_NAME_MAX];
        snprintf(name, sizeof name, "f%zu.W", k + 1);
        layout_add(&L, name, fit[k], fit[k + 1]);
        snprintf(name, sizeof name, "f%zu.b", k + 1);
        layout_add(&L, name, 1, fit[k + 1]);
    }
    cr_assert_eq(L.n_params, 26551);
    const char *opts[] = {"rlekf", "gekf", "lekf"};
    for (size_t o = 0; o < 3; o++) {
        const optim_type *t = optim_find(opts[o]);
        optim_params p64, p32;
        optim_default_params(t, &p64);
        optim_default_params(t, &p32);
        set_cov(t, &p32, "float32");
        size_t sizes[64];
        const size_t nb =
            kalman_blocks(&L, (kalman_split)kalman_split_of(t), o == 1 ? 0 : 5120, sizes);
        size_t entries = 0;
        for (size_t i = 0; i < nb; i++)
            entries += sizes[i] * (sizes[i] + 1) / 2;
        const size_t b64 = optim_state_bytes(t, &p64, &L), b32 = optim_state_bytes(t, &p32, &L);
        cr_assert_eq(b64 - b32, entries * sizeof(float), "%s: %zu - %zu", opts[o], b64, b32);
        cr_assert_eq(b64 - b32, entries * sizeof(double) / 2);
        if (o == 1) continue; /* gekf's 2.8 GiB are not allocated here */
        optim_t *s64 = create(t, &p64, &L), *s32 = create(t, &p32, &L);
        cr_assert_eq(kalman_packed_bytes(s64), entries * sizeof(double));
        cr_assert_eq(kalman_packed_bytes(s32), entries * sizeof(float));
        optim_report_t r64, r32;
        optim_report(s64, &r64);
        optim_report(s32, &r32);
        cr_assert_eq(r64.state_bytes, b64);
        cr_assert_eq(r32.state_bytes, b32);
        optim_free(s64);
        optim_free(s32);
    }
    layout_free(&L);
}

Test(kalman_f32, covariance_is_a_choice_of_every_kalman_type) {
    const char *opts[] = {"gekf", "rlekf", "lekf"};
    for (size_t o = 0; o < 3; o++) {
        const optim_type *t = optim_find(opts[o]);
        optim_params p;
        optim_default_params(t, &p);
        cr_assert_eq(p.v[KALMAN_P_COVARIANCE], KALMAN_COV_FLOAT64, "%s: default", opts[o]);
        set_cov(t, &p, "float32");
        cr_assert_eq(p.v[KALMAN_P_COVARIANCE], KALMAN_COV_FLOAT32);
        cr_assert_eq(optim_set_choice(t, &p, "optimizers[0]", "covariance", "float16"), RK_EINPUT);
        cr_assert(strstr(err_msg(), "optimizers[0].covariance") &&
                      strstr(err_msg(), "float64, float32") && strstr(err_msg(), "float16"),
                  "%s", err_msg());
    }
    /* gekf has one block: still no block_size */
    cr_assert_eq(optim_param_index(optim_find("gekf"), "block_size"), -1);
    cr_assert_eq(optim_param_index(optim_find("gekf"), "covariance"), KALMAN_P_COVARIANCE);
}

/* ---------------------------------------------------------------- threads */

Test(kalman_f32, float32_results_do_not_depend_on_thread_count) {
    const size_t N = n_total();
    const kalman_kernel kernels[] = {KALMAN_KERNEL_FUSED, KALMAN_KERNEL_LOOPS};
    const int threads[] = {2, 3, 4};
    for (size_t k = 0; k < 2; k++) {
        run_out one;
        run_case("float32", kernels[k], 1, &one);
        for (size_t ti = 0; ti < 3; ti++) {
            run_out o;
            run_case("float32", kernels[k], threads[ti], &o);
            cr_assert(runs_equal(&one, &o, N), "kernel %zu: %d threads differ from 1", k,
                      threads[ti]);
            run_free(&o);
        }
        run_free(&one);
    }
}

/* ---------------------------------------------------------------- the diagonal guard */

/* λ = ν = 1, P0 = I, and one Jacobian entry h_r = 2^30 (the others 0): hᵀPh = 2^60 swamps the
 * noise L·λ = 2 (2^60 + 2 rounds to 2^60), so A = 2^-60 exactly and the new diagonal entry
 * 1 − (A·h_r)·h_r is exactly 0: positivity lost to rounding, for either precision. With
 * h_r = 2^10 the same update is harmless. */
#define GUARD_HUGE 1073741824.0 /* 2^30 */
#define GUARD_MILD 1024.0
#define GUARD_ROW 5

static rk_status guard_step(const char *cov, double hr, double *w, size_t *N) {
    layout_t L;
    const size_t sizes[] = {20, 30};
    sized_layout(&L, sizes, 2);
    const optim_type *t = optim_find("rlekf");
    optim_params p;
    optim_default_params(t, &p);
    set(t, &p, "block_size", 30);
    set(t, &p, "lambda", 1.0);
    set(t, &p, "nu", 1.0);
    set_cov(t, &p, cov);
    optim_t *s = create(t, &p, &L);
    cr_assert_eq(kalman_block_count(s), 2);
    *N = L.n_params;
    double *h = calloc(*N, sizeof *h);
    h[20 + GUARD_ROW] = hr; /* block 1, its row GUARD_ROW */
    optim_signal sig = {.e = 1.0, .h = h, .g = NULL};
    rk_status st = optim_step(s, w, &sig);
    free(h);
    optim_free(s);
    layout_free(&L);
    return st;
}

Test(kalman_f32, guard_catches_a_diagonal_lost_to_rounding) {
    const char *covs[] = {"float64", "float32"};
    for (size_t c = 0; c < 2; c++) {
        double w[50] = {0}, w0[50] = {0};
        size_t N;
        cr_assert_eq(guard_step(covs[c], GUARD_MILD, w, &N), RK_OK, "%s: %s", covs[c], err_msg());
        memset(w, 0, sizeof w);
        cr_assert_eq(guard_step(covs[c], GUARD_HUGE, w, &N), RK_EDIVERGED, "%s", covs[c]);
        cr_assert(strstr(err_msg(), "rlekf: update 1: block 1 (weights 20-49)") &&
                      strstr(err_msg(), "P[5][5] = 0 is not a positive finite number"),
                  "%s: %s", covs[c], err_msg());
        cr_assert(memcmp(w, w0, sizeof w) == 0, "%s: a diverged update must leave w alone",
                  covs[c]);
    }
}

/* A directly corrupted diagonal entry (through the test hook) is caught by the next update,
 * for both precisions and both of our kernels; an untouched state passes the same updates. */
Test(kalman_f32, guard_catches_a_corrupted_block) {
    const char *covs[] = {"float64", "float32"};
    const kalman_kernel kernels[] = {KALMAN_KERNEL_FUSED, KALMAN_KERNEL_LOOPS};
    layout_t L;
    sized_layout(&L, TENSORS, N_TENSORS);
    const optim_type *t = optim_find("rlekf");
    for (size_t c = 0; c < 2; c++)
        for (size_t k = 0; k < 2; k++)
            for (int corrupt = 0; corrupt < 2; corrupt++) {
                optim_params p;
                optim_default_params(t, &p);
                set(t, &p, "block_size", NB);
                set_cov(t, &p, covs[c]);
                optim_t *s = create(t, &p, &L);
                kalman_set_kernel(s, kernels[k]);
                double *w = calloc(L.n_params, sizeof *w);
                run_updates(t, s, w, L.n_params, 2, SEED);
                if (corrupt) kalman_test_scale_entry(s, 1, 700, 700, -1.0);
                double *h = malloc(L.n_params * sizeof *h);
                for (size_t j = 0; j < L.n_params; j++)
                    h[j] = 1.0 / sqrt((double)L.n_params);
                optim_signal sig = {.e = 0.5, .h = h, .g = NULL};
                rk_status st = optim_step(s, w, &sig);
                if (corrupt) {
                    cr_assert_eq(st, RK_EDIVERGED, "%s kernel %zu", covs[c], k);
                    cr_assert(strstr(err_msg(), "rlekf: update 3: block 1 (weights 2100-2941)") &&
                                  strstr(err_msg(), "P[700][700] = -"),
                              "%s", err_msg());
                } else {
                    cr_assert_eq(st, RK_OK, "%s kernel %zu: %s", covs[c], k, err_msg());
                }
                free(h);
                free(w);
                optim_free(s);
            }
    layout_free(&L);
}

/* ---------------------------------------------------------------- training on Cu */


static void cu_config(train_config *tc, const char *cov, const char *out) {
    config_default(tc);
    mu_small_config(&tc->model);
    snprintf(tc->dataset, sizeof tc->dataset, "Cu");
    snprintf(tc->stream_name, sizeof tc->stream_name, "Cu");
    tc->opt = optim_find("rlekf");
    optim_default_params(tc->opt, &tc->opt_params);
    set(tc->opt, &tc->opt_params, "block_size", 1024);
    set_cov(tc->opt, &tc->opt_params, cov);
    tc->eval_max_frames = 10;
    tc->epochs = 1;
    tc->quiet = 1;
    snprintf(tc->out_dir, sizeof tc->out_dir, "%s", tu_tmp(out));
}

static const char *last_status(const char *dir) {
    static char status[32];
    char p[2048];
    snprintf(p, sizeof p, "%s/metrics.csv", dir);
    csvio_table t;
    cr_assert_eq(csvio_read(p, &t), RK_OK, "%s", err_msg());
    int cs = csvio_col(&t, "status");
    cr_assert_geq(cs, 0);
    snprintf(status, sizeof status, "%s", csvio_cell(&t, t.nrows - 1, (size_t)cs));
    csvio_free(&t);
    return status;
}

/* A filter whose forgetting factor stays at 0.5 (λ = 0.5, ν = 1) doubles P at every update from
 * p0 = 1e12. The weight steps A·e·k do not grow with P's scale, so the weights stay finite while
 * P outgrows the float32 range (3.4e38) after about 90 updates: the guard is what ends the run,
 * recorded as 'diverged'. (Float64 P would need about 1000 updates to overflow, too long for this
 * suite; test_train.c's divergence test runs that case.) */
Test(kalman_f32, guard_ends_a_training_run_as_diverged) {
    train_config tc;
    cu_config(&tc, "float32", "overflow");
    set(tc.opt, &tc.opt_params, "lambda", 0.5);
    set(tc.opt, &tc.opt_params, "nu", 1.0);
    set(tc.opt, &tc.opt_params, "p0", 1e12);
    tc.max_train_frames = 4;
    tc.eval_max_frames = 2;
    tc.epochs = 100;
    train_result r;
    err_clear();
    cr_assert_eq(train_run(&tc, mu_cu(), &r), RK_OK, "%s", err_msg());
    cr_assert_eq(r.outcome, TRAIN_DIVERGED, "outcome %s after %zu updates",
                 train_outcome_str(r.outcome), r.updates);
    cr_assert(strstr(err_msg(), "rlekf: update ") && strstr(err_msg(), "covariance diagonal"),
              "not ended by the guard: %s", err_msg());
    cr_log_info("after %zu updates: %s", r.updates, err_msg());
    cr_assert_str_eq(last_status(tc.out_dir), "diverged");
}

/* Accuracy guard (SPEC §3 "Known behaviour": forces learn only once P has grown). With
 * p0 = 1e5 instead of 1, P is large from the start and the test force RMSE of this small model
 * falls from 0.44 to about 0.2 eV/Å within 12 images (60 updates), so a short run already
 * measures force learning; float32 must end within 2 % of float64 (measured: 1e-6 relative), and
 * both must have learned (RMSE at most 60 % of the initial one). */
#define ACC_P0 1e5
#define ACC_IMAGES 12
#define ACC_REL 0.02
#define ACC_LEARNED 0.6
#define ACC_SEL_AUTO 1.1 /* H2O: two types, sel by the auto rule */
/* H2O (192 atoms, two types): this small model does not learn forces in a short run at any p0
 * (p0 1e5: 0.78 -> 0.81 eV/A in 24 images), but its energy does (p0 1e3: 1.2 -> 0.003 eV/atom),
 * which is the learning this case asks for. Larger p0 is no test of storage precision: from 1e7
 * on, Q - beta u u^T cancels to a few digits and float32 and float64 part (p0 1e7, 24 images:
 * force RMSE 0.81 against 0.95), in this build and before it. */
#define ACC_H2O_P0 1e3
#define ACC_H2O_IMAGES 12

/* One accuracy case: rlekf float64 and float32 from the same seed on ds (configured as Cu's, with
 * `name` as dataset and stream; two_types: sel by DeePMD-kit's auto rule). Both test RMSEs of
 * float32 must end within 2 % of float64's; `learned` names the one that must have fallen to
 * ACC_LEARNED of its start in both runs ('f' forces, 'e' energy), so that the run measured
 * learning. */
static void accuracy_case(const char *name, const dataset_t *ds, int two_types, double p0,
                          size_t images, char learned) {
    double e[2], f[2], e0[2], f0[2];
    const char *covs[] = {"float64", "float32"};
    for (size_t c = 0; c < 2; c++) {
        train_config tc;
        char out[64];
        snprintf(out, sizeof out, "acc-%s-%s", name, covs[c]);
        cu_config(&tc, covs[c], out);
        snprintf(tc.dataset, sizeof tc.dataset, "%s", name);
        snprintf(tc.stream_name, sizeof tc.stream_name, "%s", name);
        if (two_types) {
            tc.model.n_sel = 0;
            tc.model.sel_auto = ACC_SEL_AUTO;
        }
        set(tc.opt, &tc.opt_params, "p0", p0);
        tc.max_train_frames = images;
        train_result r;
        cr_assert_eq(train_run(&tc, ds, &r), RK_OK, "%s", err_msg());
        cr_assert_eq(r.outcome, TRAIN_DONE);
        char p[2048];
        snprintf(p, sizeof p, "%s/metrics.csv", tc.out_dir);
        csvio_table t;
        cr_assert_eq(csvio_read(p, &t), RK_OK);
        cr_assert_eq(csvio_num(&t, p, 0, "test_rmse_f_eV_per_A", &f0[c]), RK_OK);
        cr_assert_eq(csvio_num(&t, p, 0, "test_rmse_e_eV_per_atom", &e0[c]), RK_OK);
        csvio_free(&t);
        f[c] = r.final_test_f;
        e[c] = r.final_test_e;
        const double start = learned == 'f' ? f0[c] : e0[c], end = learned == 'f' ? f[c] : e[c];
        cr_assert_leq(end, ACC_LEARNED * start, "%s %s: test RMSE (%c) %.4g -> %.4g: not learning",
                      name, covs[c], learned, start, end);
    }
    cr_assert(f0[0] == f0[1] && e0[0] == e0[1], "%s: same seed, same initial model", name);
    cr_log_info("%s: test force RMSE %.6g -> float64 %.6g, float32 %.6g eV/A; energy %.6g -> "
                "%.6g, %.6g eV/atom",
                name, f0[0], f[0], f[1], e0[0], e[0], e[1]);
    cr_assert_leq(fabs(f[1] - f[0]), ACC_REL * f[0], "%s: force float32 %.6g vs float64 %.6g",
                  name, f[1], f[0]);
    cr_assert_leq(fabs(e[1] - e[0]), ACC_REL * e[0], "%s: energy float32 %.6g vs float64 %.6g",
                  name, e[1], e[0]);
}

Test(kalman_f32, float32_cu_force_rmse_within_2_percent, .timeout = 600) {
    accuracy_case("Cu", mu_cu(), 0, ACC_P0, ACC_IMAGES, 'f');
}

Test(kalman_f32, float32_h2o_rmse_within_2_percent, .timeout = 600) {
    dataset_t ds;
    mu_load("datasets/H2O/data_0", "", &ds);
    accuracy_case("H2O", &ds, 1, ACC_H2O_P0, ACC_H2O_IMAGES, 'e');
    dataset_free(&ds);
}
