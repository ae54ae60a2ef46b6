/* Training (SPEC §3): determinism, RLEKF with one block equals GEKF on the real DP model,
 * RLEKF learns forces on Cu, divergence is recorded as a result, config errors exit 2. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "csvio.h"
#include "h5io.h"
#include "modelutil.h"
#include "registry.h"
#include "testutil.h"
#include "train.h"

static void base_config(train_config *tc, const char *opt, const char *out) {
    config_default(tc);
    mu_small_config(&tc->model);
    snprintf(tc->dataset, sizeof tc->dataset, "Cu");
    snprintf(tc->stream_name, sizeof tc->stream_name, "Cu");
    tc->opt = optim_find(opt);
    cr_assert(tc->opt);
    optim_default_params(tc->opt, &tc->opt_params);
    tc->max_train_frames = 8;
    tc->eval_max_frames = 4;
    tc->epochs = 1;
    tc->quiet = 1;
    snprintf(tc->out_dir, sizeof tc->out_dir, "%s", tu_tmp(out));
}

static void read_params(const char *dir, double **w, size_t *n) {
    char p[2048];
    snprintf(p, sizeof p, "%s/model.h5", dir);
    h5io_model_rec rec;
    cr_assert_eq(h5io_model_read(p, &rec), RK_OK, "%s", err_msg());
    *n = rec.n_params;
    *w = malloc(rec.n_params * sizeof **w);
    memcpy(*w, rec.params, rec.n_params * sizeof **w);
    h5io_model_rec_free(&rec);
}

/* RLEKF with N_b >= N has a single block: the same filter as GEKF (to rounding; here the same
 * arithmetic, so the bound of the issue, 1e-12, holds with room). */
#define ONE_BLOCK_TOL 1e-12

Test(train, rlekf_one_block_equals_gekf) {
    train_config a, b;
    base_config(&a, "gekf", "gekf");
    base_config(&b, "rlekf", "rlekf-big");
    b.opt_params.v[optim_param_index(b.opt, "block_size")] = 1e9;
    a.max_train_frames = b.max_train_frames = 4; /* 4 images = 20 updates */
    train_result ra, rb;
    cr_assert_eq(train_run(&a, mu_cu(), &ra), RK_OK, "%s", err_msg());
    cr_assert_eq(train_run(&b, mu_cu(), &rb), RK_OK, "%s", err_msg());
    cr_assert_eq(ra.updates, 20);
    cr_assert_eq(rb.updates, 20);
    double *wa, *wb;
    size_t na, nb;
    read_params(a.out_dir, &wa, &na);
    read_params(b.out_dir, &wb, &nb);
    cr_assert_eq(na, nb);
    double dmax = 0, wmax = 0;
    for (size_t i = 0; i < na; i++) {
        dmax = fmax(dmax, fabs(wa[i] - wb[i]));
        wmax = fmax(wmax, fabs(wa[i]));
    }
    cr_assert_leq(dmax, ONE_BLOCK_TOL * wmax, "max |w_gekf - w_rlekf| = %.3g", dmax);
    /* and the run did change the weights: the comparison is not between two initial states */
    char p[2048];
    snprintf(p, sizeof p, "%s/model_init.h5", a.out_dir);
    h5io_model_rec init;
    cr_assert_eq(h5io_model_read(p, &init), RK_OK);
    double moved = 0;
    for (size_t i = 0; i < na; i++)
        moved = fmax(moved, fabs(init.params[i] - wa[i]));
    cr_assert_gt(moved, 1e-6);
    h5io_model_rec_free(&init);
    free(wa);
    free(wb);
}

static void assert_metrics_equal(const char *da, const char *db) {
    char pa[2048], pb[2048];
    snprintf(pa, sizeof pa, "%s/metrics.csv", da);
    snprintf(pb, sizeof pb, "%s/metrics.csv", db);
    csvio_table ta, tb;
    cr_assert_eq(csvio_read(pa, &ta), RK_OK);
    cr_assert_eq(csvio_read(pb, &tb), RK_OK);
    cr_assert_eq(ta.nrows, tb.nrows);
    cr_assert_gt(ta.nrows, 1);
    for (size_t c = 0; c < ta.ncols; c++) {
        if (tu_is_clock_column(ta.header[c])) continue;
        for (size_t r = 0; r < ta.nrows; r++)
            cr_assert_str_eq(csvio_cell(&ta, r, c), csvio_cell(&tb, r, c), "row %zu %s", r,
                             ta.header[c]);
    }
    csvio_free(&ta);
    csvio_free(&tb);
}

Test(train, same_seed_same_metrics) {
    const char *opts[] = {"rlekf", "adam"};
    for (int k = 0; k < 2; k++) {
        train_config a, b;
        char na[32], nb[32];
        snprintf(na, sizeof na, "det-%s-a", opts[k]);
        snprintf(nb, sizeof nb, "det-%s-b", opts[k]);
        base_config(&a, opts[k], na);
        base_config(&b, opts[k], nb);
        a.opt_params.v[0] = b.opt_params.v[0]; /* identical configs */
        a.eval_every = b.eval_every = 7;
        train_result r;
        cr_assert_eq(train_run(&a, mu_cu(), &r), RK_OK, "%s", err_msg());
        cr_assert_eq(train_run(&b, mu_cu(), &r), RK_OK, "%s", err_msg());
        assert_metrics_equal(a.out_dir, b.out_dir);
    }
}

/* SPEC §3 "known behaviour": force updates barely move the weights until the 1/lambda inflation
 * has grown P; on Cu the force RMSE falls between images ~120 and ~220 here (measured: 0.44 ->
 * 0.06 eV/A after 240 images). Halving the initial RMSE within 240 images is a robust bar that
 * an optimizer that does not learn forces (or learns them with the wrong sign) cannot pass. */
#define LEARN_IMAGES 240
#define LEARN_FORCE_RATIO 0.5

/* The one long run of the suite: 240 RLEKF images of the paper's model took 4-5 of the
 * sanitizer build's 13 minutes (2026-12-07). It is checked in the release build; under the
 * sanitizers the same training code runs in this file's shorter tests. */
Test(train, rlekf_learns_cu_forces, .timeout = 900) {
    if (TU_SANITIZED) cr_skip_test("a 240-image learning run: checked in the release build");
    train_config tc;
    base_config(&tc, "rlekf", "learn");
    tc.opt_params.v[optim_param_index(tc.opt, "block_size")] = 1024;
    tc.max_train_frames = 40;
    tc.eval_max_frames = 10;
    tc.epochs = LEARN_IMAGES / 40;
    train_result r;
    cr_assert_eq(train_run(&tc, mu_cu(), &r), RK_OK, "%s", err_msg());
    cr_assert_eq(r.outcome, TRAIN_DONE);
    char p[2048];
    snprintf(p, sizeof p, "%s/metrics.csv", tc.out_dir);
    csvio_table t;
    cr_assert_eq(csvio_read(p, &t), RK_OK);
    double f0, e0;
    cr_assert_eq(csvio_num(&t, p, 0, "test_rmse_f_eV_per_A", &f0), RK_OK);
    cr_assert_eq(csvio_num(&t, p, 0, "test_rmse_e_eV_per_atom", &e0), RK_OK);
    cr_assert_leq(r.final_test_f, LEARN_FORCE_RATIO * f0, "force RMSE %.4g -> %.4g", f0,
                  r.final_test_f);
    cr_assert_lt(r.final_test_e, e0, "energy RMSE %.4g -> %.4g", e0, r.final_test_e);
    csvio_free(&t);
}

/* A filter whose forgetting factor stays at 0.5 (nu = 1) doubles P every update until it
 * overflows: the run must end as 'diverged', with exit status 0 semantics (RK_OK) and the model
 * of the last finite evaluation kept. */
Test(train, divergence_is_a_result) {
    train_config tc;
    base_config(&tc, "rlekf", "diverge");
    /* P doubles per update (lambda 0.5, nu 1) from p0 1e12, the extremes allowed: it overflows
     * after about 980 updates whatever the model, so the model is the cheapest that still runs
     * every pass: the first neighbour shell only (12 in fcc Cu at 2.55 A) and narrow nets. */
    tc.model.rcut = 3.0;
    tc.model.rcut_smth = 2.0;
    tc.model.sel[0] = 24;
    tc.model.neuron[0] = 4;
    tc.model.neuron[1] = 8;
    tc.model.neuron[2] = 8;
    tc.model.fitting_neuron[0] = 16;
    tc.model.fitting_neuron[1] = 16;
    tc.opt_params.v[optim_param_index(tc.opt, "lambda")] = 0.5;
    tc.opt_params.v[optim_param_index(tc.opt, "nu")] = 1.0;
    tc.opt_params.v[optim_param_index(tc.opt, "p0")] = 1e12;
    tc.max_train_frames = 4;
    tc.eval_max_frames = 2;
    tc.epochs = 400;
    train_result r;
    cr_assert_eq(train_run(&tc, mu_cu(), &r), RK_OK, "%s", err_msg());
    cr_assert_eq(r.outcome, TRAIN_DIVERGED, "outcome %s after %zu updates",
                 train_outcome_str(r.outcome), r.updates);
    char p[2048];
    snprintf(p, sizeof p, "%s/metrics.csv", tc.out_dir);
    csvio_table t;
    cr_assert_eq(csvio_read(p, &t), RK_OK);
    int cs = csvio_col(&t, "status");
    cr_assert_str_eq(csvio_cell(&t, t.nrows - 1, (size_t)cs), "diverged");
    csvio_free(&t);
    snprintf(p, sizeof p, "%s/model.h5", tc.out_dir);
    h5io_model_rec rec;
    cr_assert_eq(h5io_model_read(p, &rec), RK_OK, "the last finite model must be kept: %s",
                 err_msg());
    h5io_model_rec_free(&rec);
}

/* The evaluation itself can be non-finite while every update is finite (here: energy labels of
 * 1e200 in the test frames only, whose squared error overflows). Such a run used to go on and end
 * "done" with NaN test RMSEs and no model file; the evaluation marks it diverged at once. */
#define HUGE_LABEL 1e200
Test(train, non_finite_evaluation_is_a_divergence) {
    train_config tc;
    base_config(&tc, "adam", "eval-nan");
    dataset_t *ds = (dataset_t *)mu_cu(); /* this test's process owns its copy */
    for (size_t s = 0; s < ds->nsystems; s++) {
        ds_system *sys = &ds->sys[s];
        size_t n_test =
            (size_t)(0.2 * (double)sys->nframes); /* within the tail split's test part */
        for (size_t f = sys->nframes - n_test; f < sys->nframes; f++)
            sys->energy[f] = HUGE_LABEL;
    }
    train_result r;
    cr_assert_eq(train_run(&tc, ds, &r), RK_OK, "%s", err_msg());
    cr_expect_eq(r.outcome, TRAIN_DIVERGED, "outcome %s after %zu updates",
                 train_outcome_str(r.outcome), r.updates);
    char p[2048];
    snprintf(p, sizeof p, "%s/metrics.csv", tc.out_dir);
    csvio_table t;
    cr_assert_eq(csvio_read(p, &t), RK_OK);
    int cs = csvio_col(&t, "status");
    cr_expect_str_eq(csvio_cell(&t, t.nrows - 1, (size_t)cs), "diverged");
    csvio_free(&t);
}

Test(train, cli_errors_exit_2) {
    char err[2048];
    tu_write(tu_tmp("bad1.json"), "{\"training\": {\"dataset\": \"x.h5\", \"epoch\": 1}}");
    char args[1024];
    snprintf(args, sizeof args, "train %s", tu_tmp("bad1.json"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 2, "%s", err);
    cr_assert(strstr(err, "training.epoch: unknown key"), "%s", err);
    tu_write(tu_tmp("bad2.json"),
             "{\"optimizer\": {\"type\": \"lbfgs\"}, \"training\": {\"dataset\": \"x.h5\"}}");
    snprintf(args, sizeof args, "train %s", tu_tmp("bad2.json"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 2, "%s", err);
    char want[512];
    snprintf(want, sizeof want, "unknown optimizer \"lbfgs\" (valid: %s)", optim_names());
    cr_assert(strstr(err, want), "%s", err);
    tu_write(tu_tmp("bad3.json"), "{\"training\": {\"dataset\": \"/nonexistent.h5\"}}");
    snprintf(args, sizeof args, "train %s", tu_tmp("bad3.json"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 2, "%s", err);
    cr_assert(strstr(err, "/nonexistent.h5"), "%s", err);
}

/* More neighbours than sel is an input error naming system, frame, atom, type, count and sel;
 * nothing is silently truncated. */
Test(train, sel_too_small_is_an_input_error) {
    char args[2048], err[4096];
    snprintf(args, sizeof args, "import -o %s %s", tu_tmp("cu-sel.h5"),
             tu_src("datasets/Cu/0_300_MOVEMENT"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "{\"model\": {\"sel\": [50]}, \"training\": {\"dataset\": \"%s\", \"epochs\": 0},"
             " \"output\": \"%s\"}",
             tu_tmp("cu-sel.h5"), tu_tmp("sel-run"));
    tu_write(tu_tmp("sel.json"), cfg);
    snprintf(args, sizeof args, "train %s --quiet", tu_tmp("sel.json"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 2, "%s", err);
    cr_assert(strstr(err, "system 0_300_MOVEMENT frame ") &&
                  strstr(err, "neighbours of type 0 (Cu)") && strstr(err, "sel[0] = 50"),
              "%s", err);
}

/* rlekf init then rlekf eval: a model file from a config and a dataset, predictions written,
 * and the printed RMSE equals the test RMSE of the trainer's first evaluation (same model). */
Test(train, init_then_eval) {
    char args[4096], err[4096];
    snprintf(args, sizeof args, "import -o %s %s", tu_tmp("cu-ie.h5"),
             tu_src("datasets/Cu/0_300_MOVEMENT"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    tu_write(tu_tmp("ie.json"),
             "{\"model\": {\"sel\": [81], \"neuron\": [4, 8, 8], \"axis_neuron\": 4, "
             "\"fitting_neuron\": [10, 10]}}");
    snprintf(args, sizeof args, "init --data %s --config %s --seed 4 -o %s", tu_tmp("cu-ie.h5"),
             tu_tmp("ie.json"), tu_tmp("ie-model.h5"));
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s eval --model %s --data %s --out %s > %s 2>&1", RLEKF_EXE,
             tu_tmp("ie-model.h5"), tu_tmp("cu-ie.h5"), tu_tmp("ie-pred.h5"),
             tu_tmp("ie-eval.txt"));
    cr_assert_eq(tu_sh(cmd), 0);
    FILE *f = fopen(tu_tmp("ie-eval.txt"), "r");
    cr_assert(f);
    char line[2048] = "";
    cr_assert(fgets(line, sizeof line, f));
    fclose(f);
    double re = NAN, rf = NAN;
    char *p = strstr(line, "RMSE energy ");
    cr_assert(p, "%s", line);
    cr_assert_eq(sscanf(p, "RMSE energy %lf eV/atom, force %lf", &re, &rf), 2, "%s", line);
    cr_assert(strstr(line, "(test split, 20 frames)"), "%s", line);
    struct stat sb;
    cr_assert_eq(stat(tu_tmp("ie-pred.h5"), &sb), 0);
    /* the same model evaluated by the trainer at step 0 (same data, seed, stream) */
    dataset_t ds;
    memset(&ds, 0, sizeof ds);
    cr_assert_eq(h5io_dataset_read(tu_tmp("cu-ie.h5"), &ds), RK_OK);
    model_t m;
    cr_assert_eq(model_load(&m, tu_tmp("ie-model.h5")), RK_OK, "%s", err_msg());
    model_frame_ref *tr, *te;
    size_t ntr, nte;
    cr_assert_eq(evaluate_split_frames(&ds, EVALUATE_SPLIT_TAIL, 0.2, "", 0, &tr, &ntr, &te, &nte),
                 RK_OK);
    model_ws *ws;
    cr_assert_eq(model_ws_create(&m, 72, &ws), RK_OK);
    double e, fr;
    cr_assert_eq(evaluate_rmse(&m, ws, &ds, te, nte, &e, &fr), RK_OK);
    /* printed with 7 significant digits */
    cr_assert_leq(fabs(e - re), 1e-6 * e);
    cr_assert_leq(fabs(fr - rf), 1e-6 * fr);
    free(tr);
    free(te);
    model_ws_free(ws);
    model_free(&m);
    dataset_free(&ds);
}

/* The seeded random split partitions each system's frames (floor(0.2 n) test frames), keeps each
 * part in frame order, and depends only on (stream name, seed). */
Test(train, random_split_partitions_frames) {
    const dataset_t *ds = mu_cu();
    size_t n = ds->sys[0].nframes;
    model_frame_ref *tr[3], *te[3];
    size_t ntr[3], nte[3];
    uint64_t seeds[3] = {5, 5, 6};
    for (int k = 0; k < 3; k++)
        cr_assert_eq(evaluate_split_frames(ds, EVALUATE_SPLIT_RANDOM, 0.2, "Cu", seeds[k], &tr[k],
                                           &ntr[k], &te[k], &nte[k]),
                     RK_OK);
    cr_assert_eq(nte[0], n / 5);
    cr_assert_eq(ntr[0] + nte[0], n);
    int *seen = calloc(n, sizeof *seen);
    for (size_t i = 0; i < ntr[0]; i++)
        seen[tr[0][i].frame]++;
    for (size_t i = 0; i < nte[0]; i++)
        seen[te[0][i].frame]++;
    for (size_t f = 0; f < n; f++)
        cr_assert_eq(seen[f], 1, "frame %zu", f);
    for (size_t i = 1; i < ntr[0]; i++)
        cr_assert_lt(tr[0][i - 1].frame, tr[0][i].frame);
    for (size_t i = 1; i < nte[0]; i++)
        cr_assert_lt(te[0][i - 1].frame, te[0][i].frame);
    cr_assert_eq(memcmp(te[0], te[1], nte[0] * sizeof *te[0]), 0, "same seed, same split");
    cr_assert_neq(memcmp(te[0], te[2], nte[0] * sizeof *te[0]), 0, "another seed, another split");
    /* not the tail split */
    cr_assert_neq(te[0][0].frame, n - n / 5);
    free(seen);
    for (int k = 0; k < 3; k++) {
        free(tr[k]);
        free(te[k]);
    }
}
