/* Grid runner integration: a tiny grid is run once uninterrupted and once killed with SIGKILL
 * mid-way and resumed; the summaries and every metrics.csv must be equal (wall-time columns
 * excepted). Paired cells (same dataset and seed) share initial weights; a cell whose optimizer
 * state exceeds the memory limit is recorded as skipped. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "csvio.h"
#include "evaluate.h"
#include "h5io.h"
#include "modelutil.h"
#include "runner.h"
#include "testutil.h"

/* experiments/smoke.json: 2 variants that run, 1 that is skipped (gekf over a 1 MiB limit: its
 * single block of N = 571 weights needs 1.3 MB), 3 seeds. Its raw source paths are relative to
 * the source tree, so every run here starts in that directory. */
static const char *LABELS[] = {"rlekf-256", "adam", "gekf"};
#define N_LABELS 3
#define N_SEEDS 3
/* Polling interval while waiting for the first finished cell before the kill. */
#define POLL_NS 5000000L

/* The smoke manifest with one key's value replaced (for a cheaper variant), written to tmp. */
static void smoke_manifest(char *path, size_t cap, const char *name, const char *from,
                           const char *to) {
    char text[8192];
    cr_assert_eq(tu_read(tu_src("experiments/smoke.json"), text, sizeof text), 0);
    if (from) {
        char *at = strstr(text, from);
        cr_assert(at && strlen(from) == strlen(to), "smoke.json must contain %s", from);
        memcpy(at, to, strlen(to));
    }
    snprintf(path, cap, "%s", tu_tmp(name));
    tu_write(path, text);
}

static const char *cell_path(const char *results, const char *label, int seed, const char *file) {
    static char buf[8][1024];
    static int k;
    char *b = buf[k++ & 7];
    snprintf(b, 1024, "%s/smoke/Cu/%s/seed-%d/%s", results, label, seed, file);
    return b;
}

static int count_finished(const char *results) {
    int n = 0;
    struct stat sb;
    for (int l = 0; l < N_LABELS; l++)
        for (int s = 1; s <= N_SEEDS; s++)
            if (stat(cell_path(results, LABELS[l], s, "result.json"), &sb) == 0) n++;
    return n;
}

/* How a cell shared the machine (the -j of its run), not a result of it. */
static int is_share_column(const char *name) {
    return !strcmp(name, "jobs") || !strcmp(name, "threads");
}

/* Equal tables, ignoring the clock columns and the machine share. */
static void assert_csv_equal(const char *a, const char *b) {
    csvio_table ta, tb;
    cr_assert_eq(csvio_read(a, &ta), RK_OK, "%s", err_msg());
    cr_assert_eq(csvio_read(b, &tb), RK_OK, "%s", err_msg());
    cr_assert_eq(ta.ncols, tb.ncols, "%s vs %s: columns", a, b);
    cr_assert_eq(ta.nrows, tb.nrows, "%s vs %s: rows %zu vs %zu", a, b, ta.nrows, tb.nrows);
    for (size_t c = 0; c < ta.ncols; c++) {
        cr_assert_str_eq(ta.header[c], tb.header[c]);
        if (tu_is_clock_column(ta.header[c]) || is_share_column(ta.header[c])) continue;
        for (size_t r = 0; r < ta.nrows; r++)
            cr_assert_str_eq(csvio_cell(&ta, r, c), csvio_cell(&tb, r, c), "%s row %zu column %s",
                             b, r + 2, ta.header[c]);
    }
    csvio_free(&ta);
    csvio_free(&tb);
}

Test(runner, kill_and_resume_equals_uninterrupted, .timeout = 600) {
    char mpath[600], resA[600], resB[600], args[2000], err[4096];
    smoke_manifest(mpath, sizeof mpath, "smoke.json", NULL, NULL);
    cr_assert_eq(chdir(RLEKF_SOURCE_DIR), 0);
    snprintf(resA, sizeof resA, "%s", tu_tmp("resA"));
    snprintf(resB, sizeof resB, "%s", tu_tmp("resB"));

    /* uninterrupted, two jobs */
    snprintf(args, sizeof args, "run %s --results %s -j 2 --quiet", mpath, resA);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    cr_assert_eq(count_finished(resA), N_LABELS * N_SEEDS);

    /* interrupted: its own process group, SIGKILL to the group once one cell has finished */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setsid();
        freopen("/dev/null", "w", stderr);
        execl(RLEKF_EXE, "rlekf", "run", mpath, "--results", resB, "--quiet", (char *)NULL);
        _exit(127);
    }
    struct timespec ts = {0, POLL_NS};
    while (count_finished(resB) == 0) {
        int wst;
        cr_assert_eq(waitpid(pid, &wst, WNOHANG), 0, "the run ended before it could be killed");
        nanosleep(&ts, NULL);
    }
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, 0);
    int done_at_kill = count_finished(resB);
    cr_assert_lt(done_at_kill, N_LABELS * N_SEEDS, "the kill must interrupt the grid");

    /* resume */
    snprintf(args, sizeof args, "run %s --results %s --quiet", mpath, resB);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    cr_assert_eq(count_finished(resB), N_LABELS * N_SEEDS);

    char sa[700], sb[700];
    snprintf(sa, sizeof sa, "%s/smoke/summary.csv", resA);
    snprintf(sb, sizeof sb, "%s/smoke/summary.csv", resB);
    assert_csv_equal(sa, sb);
    for (int l = 0; l < 2; l++)
        for (int s = 1; s <= N_SEEDS; s++)
            assert_csv_equal(cell_path(resA, LABELS[l], s, "metrics.csv"),
                             cell_path(resB, LABELS[l], s, "metrics.csv"));

    /* statuses: gekf skipped with the memory it needs; the others done */
    csvio_table t;
    cr_assert_eq(csvio_read(sa, &t), RK_OK);
    int cs = csvio_col(&t, "status"), cl = csvio_col(&t, "label"), cr = csvio_col(&t, "reason");
    cr_assert_eq(t.nrows, N_LABELS * N_SEEDS);
    for (size_t r = 0; r < t.nrows; r++) {
        if (strcmp(csvio_cell(&t, r, (size_t)cl), "gekf") == 0) {
            cr_assert_str_eq(csvio_cell(&t, r, (size_t)cs), "skipped");
            cr_assert(strstr(csvio_cell(&t, r, (size_t)cr), "MiB") ||
                          strstr(csvio_cell(&t, r, (size_t)cr), "GiB"),
                      "reason must say how much memory: %s", csvio_cell(&t, r, (size_t)cr));
        } else {
            cr_assert_str_eq(csvio_cell(&t, r, (size_t)cs), "done");
        }
    }
    csvio_free(&t);

    /* paired cells share initial weights; other seeds differ */
    h5io_model_rec a, b, c;
    cr_assert_eq(h5io_model_read(cell_path(resA, "rlekf-256", 2, "model_init.h5"), &a), RK_OK);
    cr_assert_eq(h5io_model_read(cell_path(resA, "adam", 2, "model_init.h5"), &b), RK_OK);
    cr_assert_eq(h5io_model_read(cell_path(resA, "adam", 3, "model_init.h5"), &c), RK_OK);
    cr_assert_eq(a.n_params, b.n_params);
    cr_assert_eq(memcmp(a.params, b.params, a.n_params * sizeof(double)), 0,
                 "same (dataset, seed) must start from identical weights");
    cr_assert_neq(memcmp(a.params, c.params, a.n_params * sizeof(double)), 0,
                  "different seeds must start from different weights");
    h5io_model_rec_free(&a);
    h5io_model_rec_free(&b);
    h5io_model_rec_free(&c);
}

/* A cheaper smoke grid (one epoch) in tmp/<name>.json, results in tmp/<results>, run from the
 * source tree. */
static void one_epoch_grid(const char *name, const char *results, char *mpath, char *res) {
    smoke_manifest(mpath, 600, name, "\"epochs\": 3", "\"epochs\": 1");
    cr_assert_eq(chdir(RLEKF_SOURCE_DIR), 0);
    snprintf(res, 600, "%s", tu_tmp(results));
}

Test(runner, shards_partition_the_grid) {
    char mpath[600], res[600], args[2000], err[4096];
    one_epoch_grid("shard.json", "resS", mpath, res);
    snprintf(args, sizeof args, "run %s --results %s --shard 2/4 --quiet", mpath, res);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    /* cells k = 1, 5 (k mod 4 == 1) of the 9: seeds-minor order rlekf s1..s3, adam s1..s3, gekf */
    cr_assert_eq(count_finished(res), 2);
    struct stat sb;
    cr_assert_eq(stat(cell_path(res, "rlekf-256", 2, "result.json"), &sb), 0);
    cr_assert_eq(stat(cell_path(res, "adam", 3, "result.json"), &sb), 0);
    snprintf(args, sizeof args, "run %s --results %s --shard 1/4 --quiet", mpath, res);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    cr_assert_eq(count_finished(res), 5); /* + cells 0, 4, 8 */
}

/* --seed K runs the cells of one seed (a long grid seed by seed); a seed the manifest does not
 * have is an input error that names it and the manifest's seeds, before anything is written. */
Test(runner, seed_option_runs_one_seed) {
    char mpath[600], res[600], args[2000], err[4096];
    one_epoch_grid("seed.json", "resSeed", mpath, res);
    snprintf(args, sizeof args, "run %s --results %s --seed 7 --quiet", mpath, res);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 2);
    cr_expect_not_null(strstr(err, "--seed 7:"), "%s", err);
    cr_expect_not_null(strstr(err, "has the seeds [1, 2, 3]"), "%s", err);
    struct stat sb;
    cr_expect_neq(stat(res, &sb), 0, "nothing written for a bad --seed");
    snprintf(args, sizeof args, "run %s --results %s --seed 2 --quiet", mpath, res);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    cr_assert_eq(count_finished(res), 3, "the three cells of seed 2 (gekf's recorded skipped)");
    for (int l = 0; l < N_LABELS; l++)
        cr_expect_eq(stat(cell_path(res, LABELS[l], 2, "result.json"), &sb), 0, "%s", LABELS[l]);
}

/* A finished cell is never rerun, so after the manifest is edited it would pass for a result of
 * the new one: the run refuses, naming the cell, the key and both values, and writes nothing
 * (the results' manifest copy and summary stay those of the run that made them). */
Test(runner, finished_cell_of_another_configuration_is_refused) {
    char mpath[600], edited[600], res[600], args[2000], err[4096], path[700];
    one_epoch_grid("req.json", "resReq", mpath, res);
    smoke_manifest(edited, sizeof edited, "req2.json", "\"epochs\": 3", "\"epochs\": 2");
    snprintf(args, sizeof args, "run %s --results %s --seed 1 --quiet", mpath, res);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    char man[8192], sum[8192], man2[8192], sum2[8192];
    snprintf(path, sizeof path, "%s/smoke/manifest.json", res);
    cr_assert_eq(tu_read(path, man, sizeof man), 0);
    snprintf(path, sizeof path, "%s/smoke/summary.csv", res);
    cr_assert_eq(tu_read(path, sum, sizeof sum), 0);
    snprintf(args, sizeof args, "run %s --results %s --seed 2 --quiet", edited, res);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 2, "%s", err);
    cr_expect_not_null(strstr(err, "seed-1 was trained with training.epochs = 1, but"), "%s", err);
    cr_expect_not_null(strstr(err, "now gives 2"), "%s", err);
    snprintf(path, sizeof path, "%s/smoke/manifest.json", res);
    cr_assert_eq(tu_read(path, man2, sizeof man2), 0);
    snprintf(path, sizeof path, "%s/smoke/summary.csv", res);
    cr_assert_eq(tu_read(path, sum2, sizeof sum2), 0);
    cr_expect_str_eq(man2, man, "the results' manifest copy is untouched");
    cr_expect_str_eq(sum2, sum, "the summary is untouched");
    cr_expect_eq(count_finished(res), 3, "no cell of seed 2 was run");
    /* the manifest that made them still runs: its seed 2 */
    snprintf(args, sizeof args, "run %s --results %s --seed 2 --quiet", mpath, res);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    cr_expect_eq(count_finished(res), 6);
}

/* The text of smoke.json with the replacements (from, to) applied in order, written to tmp. */
static void smoke_edited(char *path, size_t cap, const char *name, const char *const (*edits)[2],
                         size_t n) {
    char text[8192], out[8192];
    cr_assert_eq(tu_read(tu_src("experiments/smoke.json"), text, sizeof text), 0);
    for (size_t i = 0; i < n; i++) {
        char *at = strstr(text, edits[i][0]);
        cr_assert_not_null(at, "smoke.json must contain %s", edits[i][0]);
        *at = '\0';
        snprintf(out, sizeof out, "%s%s%s", text, edits[i][1], at + strlen(edits[i][0]));
        snprintf(text, sizeof text, "%s", out);
    }
    snprintf(path, cap, "%s", tu_tmp(name));
    tu_write(path, text);
}

/* The images column of a cell's metrics.csv, comma-joined. */
static void images_of(const char *metrics, char *buf, size_t cap) {
    csvio_table t;
    cr_assert_eq(csvio_read(metrics, &t), RK_OK, "%s", err_msg());
    int c = csvio_col(&t, "images");
    cr_assert(c >= 0);
    buf[0] = '\0';
    for (size_t r = 0; r < t.nrows; r++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", r ? "," : "",
                 csvio_cell(&t, r, (size_t)c));
    csvio_free(&t);
}

/* "timing": "exclusive" runs one cell at a time with all threads whatever -j says, and every
 * cell records its share; eval_every_images evaluates Kalman and Adam after the same images. */
Test(runner, exclusive_timing_and_evaluation_cadence_in_images, .timeout = 600) {
    const char *const edits[][2] = {{"\"epochs\": 3", "\"epochs\": 1"},
                                    {"\"eval_every\": 10", "\"eval_every_images\": 4"},
                                    {"\"threads\": 1", "\"threads\": 2"},
                                    {"{", "{\"timing\": \"exclusive\", "}};
    char mpath[600], spath[600], res[600], args[2000], err[4096];
    smoke_edited(mpath, sizeof mpath, "exclusive.json", edits, 4);
    smoke_edited(spath, sizeof spath, "shared.json", edits, 3);
    cr_assert_eq(chdir(RLEKF_SOURCE_DIR), 0);
    snprintf(res, sizeof res, "%s", tu_tmp("resX"));
    /* cells 1 (rlekf-256 seed 2), 4 (adam seed 2) and 7 (gekf seed 2, skipped) */
    snprintf(args, sizeof args, "run %s --results %s --shard 2/3 -j 2", mpath, res);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    cr_expect_not_null(strstr(err, "timing \"exclusive\": one cell at a time with all threads "
                                   "(-j 2 ignored)"),
                       "%s", err);
    cr_expect_not_null(strstr(err, "with 1 job(s) x 2 thread(s)"), "%s", err);
    char sum[700], text[8192];
    snprintf(sum, sizeof sum, "%s/smoke/summary.csv", res);
    csvio_table t;
    cr_assert_eq(csvio_read(sum, &t), RK_OK, "%s", err_msg());
    cr_assert_eq(t.nrows, 3);
    for (size_t r = 0; r < t.nrows; r++) {
        cr_expect_str_eq(csvio_cell(&t, r, (size_t)csvio_col(&t, "jobs")), "1");
        cr_expect_str_eq(csvio_cell(&t, r, (size_t)csvio_col(&t, "threads")), "2");
    }
    csvio_free(&t);
    snprintf(sum, sizeof sum, "%s/smoke/provenance.json", res);
    cr_assert_eq(tu_read(sum, text, sizeof text), 0);
    cr_expect_not_null(strstr(text, "\"timing\":\t\"exclusive\""), "%s", text);
    /* 6 training images: the initial evaluation, then after every 4th image and at every
     * epoch's end, counted over the run, for rlekf (5 updates per image, 1 epoch) as for adam
     * (1 update per image, 4 epochs in smoke.json) */
    char ik[256], ia[256];
    images_of(cell_path(res, "rlekf-256", 2, "metrics.csv"), ik, sizeof ik);
    images_of(cell_path(res, "adam", 2, "metrics.csv"), ia, sizeof ia);
    cr_expect_str_eq(ik, "0,4,6");
    cr_expect_str_eq(ia, "0,4,6,8,12,16,18,20,24");
    /* shared (the default) with -j 2: two cells at once, one thread each */
    snprintf(res, sizeof res, "%s", tu_tmp("resY"));
    snprintf(args, sizeof args, "run %s --results %s --shard 2/3 -j 2 --quiet", spath, res);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    cr_expect_null(strstr(err, "ignored"), "%s", err);
    snprintf(sum, sizeof sum, "%s/smoke/summary.csv", res);
    cr_assert_eq(csvio_read(sum, &t), RK_OK, "%s", err_msg());
    cr_assert_eq(t.nrows, 3);
    for (size_t r = 0; r < t.nrows; r++) {
        cr_expect_str_eq(csvio_cell(&t, r, (size_t)csvio_col(&t, "jobs")), "2");
        cr_expect_str_eq(csvio_cell(&t, r, (size_t)csvio_col(&t, "threads")), "1");
    }
    csvio_free(&t);
}

/* Outliers are a fraction of the frames the cells train on: with max_train_frames 40 of the 80
 * tail-split training frames of datasets/Cu/0_300_MOVEMENT and fraction 0.125, exactly 5 frames
 * are corrupted, all of them in the trained subset (drawing from all 80 corrupted 10, of which
 * only some were trained on). */
Test(runner, outlier_fraction_is_of_the_trained_subset) {
    dataset_t ds;
    mu_load("datasets/Cu/0_300_MOVEMENT", "", &ds);
    const dataset_t *ref = mu_cu();
    man_dataset d;
    memset(&d, 0, sizeof d);
    config_layer_init(&d.training);
    snprintf(d.name, sizeof d.name, "Cu");
    d.split = EVALUATE_SPLIT_TAIL;
    d.test_fraction = 0.2;
    d.training.v.max_train_frames = 40;
    d.outlier_fraction = 0.125;
    d.outlier_energy_shift = 1.0;
    d.outlier_force_scale = 2.0;
    cr_assert_eq(runner_inject_outliers(&d, &ds), RK_OK);
    model_frame_ref *tr = NULL, *te = NULL;
    size_t ntr = 0, nte = 0;
    cr_assert_eq(
        evaluate_split_frames(ref, EVALUATE_SPLIT_TAIL, 0.2, "Cu", 0, &tr, &ntr, &te, &nte), RK_OK);
    ntr = evaluate_subset(tr, ntr, 40);
    size_t changed = 0, in_subset = 0;
    for (size_t s = 0; s < ds.nsystems; s++)
        for (size_t f = 0; f < ds.sys[s].nframes; f++) {
            double de = ds.sys[s].energy[f] - ref->sys[s].energy[f];
            if (de == 0.0) continue;
            changed++;
            cr_assert_float_eq(de, 1.0 * (double)ds.sys[s].natoms, 1e-9);
            cr_assert_float_eq(ds.sys[s].force[f * ds.sys[s].natoms * 3],
                               2.0 * ref->sys[s].force[f * ref->sys[s].natoms * 3], 1e-12);
            for (size_t i = 0; i < ntr; i++)
                if (tr[i].sys == s && tr[i].frame == f) in_subset++;
        }
    cr_assert_eq(changed, 5, "corrupted %zu frames, want 5 = 0.125 x 40", changed);
    cr_assert_eq(in_subset, 5, "%zu of the corrupted frames are trained on", in_subset);
    free(tr);
    free(te);
    dataset_free(&ds);
}

/* A cell that failed at runtime (the disk filled after result.json, so metrics.csv or model.h5 is
 * missing) or whose result.json records a failure used to count as finished, and `rlekf run`
 * exited 0 without it. Finished means result.json done/diverged and both files present: anything
 * else is run again. */
Test(runner, a_cell_without_metrics_or_model_or_with_a_failure_is_rerun) {
    char mpath[600], res[600], args[2000], err[4096];
    smoke_manifest(mpath, sizeof mpath, "retry.json", "\"epochs\": 3", "\"epochs\": 1");
    cr_assert_eq(chdir(RLEKF_SOURCE_DIR), 0);
    snprintf(res, sizeof res, "%s", tu_tmp("resR"));
    /* one cell: adam seed 3 (cell k = 5; shard i/n runs k mod n == i - 1) */
    snprintf(args, sizeof args, "run %s --results %s --shard 6/9 --quiet", mpath, res);
    cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
    const char *lost[] = {"metrics.csv", "model.h5", NULL};
    struct stat sb;
    for (int i = 0; i < 3; i++) {
        if (lost[i])
            cr_assert_eq(unlink(cell_path(res, "adam", 3, lost[i])), 0, "%s", lost[i]);
        else /* result.json of a failed cell, both files still there */
            tu_write(cell_path(res, "adam", 3, "result.json"),
                     "{\"result\": {\"status\": \"failed\"}}\n");
        cr_assert_eq(tu_rlekf(args, err, sizeof err), 0, "%s", err);
        cr_expect_eq(stat(cell_path(res, "adam", 3, "metrics.csv"), &sb), 0,
                     "%s lost: the cell was not rerun", lost[i] ? lost[i] : "status failed");
        cr_expect_eq(stat(cell_path(res, "adam", 3, "model.h5"), &sb), 0,
                     "%s lost: the cell was not rerun", lost[i] ? lost[i] : "status failed");
        char text[4096];
        tu_read(cell_path(res, "adam", 3, "result.json"), text, sizeof text);
        cr_expect(strstr(text, "\"done\""), "%s lost: result.json after the rerun: %s",
                  lost[i] ? lost[i] : "status failed", text);
    }
}
