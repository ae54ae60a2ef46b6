/* MPI runs (SPEC §3 "Parallel runs"): the covariance distributed over R ranks gives the result of
 * the single-process run, bitwise (every sum runs in the single-process order), for RLEKF with
 * whole and split blocks, GEKF (its one block cut into row slices) and float32 P; a GEKF state
 * refused by the memory limit on one rank runs on two; `rlekf plan` matches the allocation on
 * every rank; a job with a killed rank ends, and resumes from its checkpoint. Data-parallel
 * minibatches (the images of a batch split over ranks, alone with Adam and together with a split
 * covariance with RLEKF) and `rlekf run` of a grid on ranks give the one-process results too.
 *
 * The runs spawn `mpirun --allow-run-as-root --oversubscribe -np R build/rlekf ...`. They are
 * skipped in a build without MPI and in the sanitizer build: Open MPI's own allocations are
 * reported as leaks by LeakSanitizer, so the MPI runs are checked in the release build only. The
 * plan-vs-layout test runs in-process in every build. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "csvio.h"
#include "h5io.h"
#include "kalman.h"
#include "model.h"
#include "modelutil.h"
#include "par.h"
#include "registry.h"
#include "testutil.h"

/* The ranks compute exactly the single-process sums (SPEC §3 asks 1e-12 relative): 0. */
#define MPI_TOL 0.0

static const char *MODEL = "\"model\": {\"sel\": [81], \"neuron\": [8, 16, 16], \"axis_neuron\": 4, "
                           "\"fitting_neuron\": [32, 32]}";

static void need_mpi(void) {
    if (!par_built_with_mpi()) cr_skip_test("built without MPI");
    if (TU_SANITIZED) cr_skip_test("MPI runs are checked in the release build (LSan vs libmpi)");
    if (tu_sh("command -v mpirun >/dev/null 2>&1") != 0) cr_skip_test("no mpirun");
}

/* The Cu data set (one system, 100 frames) imported once into the test's folder. */
static const char *cu_h5(void) {
    static char path[1024];
    if (!path[0]) {
        snprintf(path, sizeof path, "%s", tu_tmp("cu.h5"));
        char args[2048];
        snprintf(args, sizeof args, "import -o %s %s", path,
                 tu_src("datasets/Cu/0_300_MOVEMENT"));
        cr_assert_eq(tu_rlekf(args, NULL, 0), 0, "import failed");
    }
    return path;
}

/* A config file named name with the given optimizer section, training frames and further
 * training keys (extra: "" or ", \"key\": value"). */
static const char *config_with(const char *name, const char *optimizer, int frames,
                               const char *extra) {
    char text[2048];
    snprintf(text, sizeof text,
             "{%s,\n \"optimizer\": %s,\n \"training\": {\"dataset\": \"%s\", \"epochs\": 1, "
             "\"seed\": 1, \"max_train_frames\": %d, \"eval_max_frames\": 2, "
             "\"eval_every_images\": 2%s}}\n",
             MODEL, optimizer, cu_h5(), frames, extra);
    const char *p = tu_tmp(name);
    tu_write(p, text);
    return strdup(p); /* tu_tmp's buffers rotate; a test's few configs may leak */
}

static const char *config(const char *name, const char *optimizer, int frames) {
    return config_with(name, optimizer, frames, "");
}

/* `[env] [mpirun -np R] rlekf train cfg --out tmp/out --quiet`; returns the exit status. */
static int train(int ranks, const char *env, const char *cfg, const char *out) {
    char cmd[4096], launch[128] = "";
    if (ranks) snprintf(launch, sizeof launch, "mpirun --allow-run-as-root --oversubscribe -np %d",
                        ranks);
    snprintf(cmd, sizeof cmd,
             "cd %s && %s %s %s train %s --out %s --quiet >/dev/null 2>>%s/mpi-stderr.txt",
             tu_tmpdir(), env ? env : "", launch, RLEKF_EXE, cfg, tu_tmp(out), tu_tmpdir());
    return tu_sh(cmd);
}

static void read_params(const char *out, double **w, size_t *n) {
    char p[2048];
    snprintf(p, sizeof p, "%s/model.h5", tu_tmp(out));
    h5io_model_rec rec;
    cr_assert_eq(h5io_model_read(p, &rec), RK_OK, "%s", err_msg());
    *n = rec.n_params;
    *w = malloc(rec.n_params * sizeof **w);
    memcpy(*w, rec.params, rec.n_params * sizeof **w);
    h5io_model_rec_free(&rec);
}

/* metrics.csv of two runs: the same rows, every column but the clocks equal as text; model.h5's
 * parameters equal to MPI_TOL relative. */
static void same_run(const char *a, const char *b) {
    char pa[2048], pb[2048];
    snprintf(pa, sizeof pa, "%s/metrics.csv", tu_tmp(a));
    snprintf(pb, sizeof pb, "%s/metrics.csv", tu_tmp(b));
    csvio_table ta, tb;
    cr_assert_eq(csvio_read(pa, &ta), RK_OK, "%s", err_msg());
    cr_assert_eq(csvio_read(pb, &tb), RK_OK, "%s", err_msg());
    cr_assert_eq(ta.nrows, tb.nrows, "%s: %zu rows, %s: %zu", a, ta.nrows, b, tb.nrows);
    cr_assert(ta.nrows >= 3);
    for (size_t r = 0; r < ta.nrows; r++)
        for (size_t c = 0; c < ta.ncols; c++) {
            if (tu_is_clock_column(ta.header[c])) continue;
            cr_assert_str_eq(csvio_cell(&ta, r, c), csvio_cell(&tb, r, c), "%s vs %s: row %zu %s",
                             a, b, r, ta.header[c]);
        }
    csvio_free(&ta);
    csvio_free(&tb);
    double *wa, *wb;
    size_t na, nb;
    read_params(a, &wa, &na);
    read_params(b, &wb, &nb);
    cr_assert_eq(na, nb);
    for (size_t i = 0; i < na; i++)
        cr_assert(fabs(wa[i] - wb[i]) <= MPI_TOL * fabs(wa[i]), "%s vs %s: w[%zu] %.17g vs %.17g",
                  a, b, i, wa[i], wb[i]);
    free(wa);
    free(wb);
}

/* Train CFG in one process and on 2 and 3 ranks (outputs TAG-1, TAG-2, TAG-3) and compare. */
static void same_at_ranks(const char *cfg, const char *tag) {
    char out[3][64];
    for (int r = 1; r <= 3; r++) {
        snprintf(out[r - 1], sizeof out[r - 1], "%s-%d", tag, r);
        cr_assert_eq(train(r == 1 ? 0 : r, NULL, cfg, out[r - 1]), 0, "%s on %d rank(s)", tag, r);
    }
    same_run(out[0], out[1]);
    same_run(out[0], out[2]);
}

Test(mpi, rlekf_whole_and_split_blocks_equal_one_process) {
    need_mpi();
    /* N_b 1024: 6 blocks, 16 pieces each; at 2 ranks block 2 and at 3 ranks blocks 1 and 2 are
     * split by rows (rlekf plan); N_b 256: blocks of one piece, all whole */
    const char *split = config("rl1024.json", "{\"type\": \"rlekf\", \"block_size\": 1024}", 4);
    const char *whole = config("rl256.json", "{\"type\": \"rlekf\", \"block_size\": 256}", 4);
    same_at_ranks(split, "rl1024");
    cr_assert_eq(train(0, NULL, whole, "rl256-1"), 0);
    cr_assert_eq(train(3, NULL, whole, "rl256-3"), 0);
    same_run("rl256-1", "rl256-3");
}

Test(mpi, gekf_float32_rows_equal_one_process) {
    need_mpi();
    const char *cfg = config("gekf32.json", "{\"type\": \"gekf\", \"covariance\": \"float32\"}", 3);
    same_at_ranks(cfg, "g32");
}

/* Data-parallel minibatches: batch_size 4 over 9 training frames gives batches of 4, 4 and 1
 * images; at 2 ranks each rank computes 2 images of a full batch, at 3 ranks 1, 1 and 2 (the
 * batch of one is computed by every rank). Every rank's rows are gathered and summed in image
 * order, so the run is bitwise the single-process run with batch_size 4: Adam (no covariance:
 * data parallelism alone) and RLEKF with block_size 1024 (covariance rows split as well: both at
 * once; under MPI the covariance is always distributed). */
Test(mpi, batch_images_split_over_ranks_equal_one_process, .timeout = 300) {
    need_mpi();
    const char *adam =
        config_with("adam-b4.json", "{\"type\": \"adam\"}", 9, ", \"batch_size\": 4");
    const char *rl = config_with("rl-b4.json", "{\"type\": \"rlekf\", \"block_size\": 1024}", 9,
                                 ", \"batch_size\": 4");
    same_at_ranks(adam, "adam-b4");
    same_at_ranks(rl, "rl-b4");
}

/* The exact per-rank state bytes `rlekf plan CFG --ranks R` prints ("#rank r state_bytes B"). */
static void plan_bytes(const char *cfg, int R, size_t *bytes) {
    char cmd[4096], out[1 << 14];
    const char *txt = tu_tmp("plan.txt");
    snprintf(cmd, sizeof cmd, "%s plan %s --ranks %d > %s", RLEKF_EXE, cfg, R, txt);
    cr_assert_eq(tu_sh(cmd), 0);
    tu_read(txt, out, sizeof out);
    for (int r = 0; r < R; r++) {
        char key[64];
        snprintf(key, sizeof key, "#rank %d state_bytes ", r);
        const char *at = strstr(out, key);
        cr_assert(at, "plan output lacks '%s'", key);
        bytes[r] = strtoull(at + strlen(key), NULL, 10);
    }
}

/* config.json's provenance.optimizer_state_bytes_per_rank of a run. */
static void run_bytes(const char *out, int R, size_t *bytes) {
    char p[2048], text[1 << 15];
    snprintf(p, sizeof p, "%s/config.json", tu_tmp(out));
    cr_assert_eq(tu_read(p, text, sizeof text), 0);
    const char *at = strstr(text, "\"optimizer_state_bytes_per_rank\":");
    cr_assert(at, "%s lacks optimizer_state_bytes_per_rank", p);
    at = strchr(at, '[');
    for (int r = 0; r < R; r++) {
        char *end;
        bytes[r] = strtoull(at + 1, &end, 10);
        at = end;
        while (*at == ' ' || *at == '\t' || *at == '\n')
            at++;
        cr_assert(*at == (r + 1 < R ? ',' : ']'), "%s: %d ranks expected", p, R);
    }
}

/* GEKF's single block needs more than the limit on one rank, fits on two (rows split). */
#define MEM_SHARE 0.6

Test(mpi, gekf_over_the_memory_limit_runs_on_two_ranks) {
    need_mpi();
    const char *cfg = config("gekf.json", "{\"type\": \"gekf\"}", 3);
    size_t one[1], two[2], got[2];
    plan_bytes(cfg, 1, one);
    plan_bytes(cfg, 2, two);
    const size_t limit = (size_t)(MEM_SHARE * (double)one[0]);
    char env[128];
    snprintf(env, sizeof env, "RLEKF_MEM_LIMIT=%zu", limit);
    cr_assert_eq(train(0, env, cfg, "gm-1"), 1, "one rank must be refused by the memory limit");
    cr_assert_eq(train(2, env, cfg, "gm-2"), 0, "two ranks must fit");
    cr_assert_eq(train(0, NULL, cfg, "gm-ref"), 0);
    same_run("gm-ref", "gm-2");
    run_bytes("gm-2", 2, got);
    for (int r = 0; r < 2; r++) {
        cr_assert_eq(got[r], two[r], "rank %d: state %zu bytes, plan says %zu", r, got[r], two[r]);
        cr_assert_lt(got[r], limit, "rank %d: %zu bytes over the limit %zu", r, got[r], limit);
        cr_assert_gt(got[r], one[0] / 2 - one[0] / 8, "rank %d holds too little: %zu", r, got[r]);
    }
}

Test(mpi, plan_matches_allocation_on_every_rank) {
    need_mpi();
    const char *cfg = config("plan1024.json", "{\"type\": \"rlekf\", \"block_size\": 1024}", 2);
    size_t want[3], got[3];
    plan_bytes(cfg, 3, want);
    cr_assert_eq(train(3, NULL, cfg, "plan-3"), 0);
    run_bytes("plan-3", 3, got);
    for (int r = 0; r < 3; r++)
        cr_assert_eq(got[r], want[r], "rank %d: allocated %zu, plan %zu", r, got[r], want[r]);
}

/* In-process: the plan's slices tile every block of the SPEC rule's layout exactly once, in
 * order, for any R; one rank holds every block whole; the ranks' stored entries add up to the
 * single-process count; no rank holds more than its share plus one piece (1/16 block). */
Test(mpi, plan_slices_follow_the_spec_blocks) {
    model_t m;
    model_config mc;
    mu_small_config(&mc);
    char tm[MODEL_MAX_TYPES][DS_SYMBOL_MAX] = {"Cu"};
    cr_assert_eq(model_create(&m, &mc, 1, tm), RK_OK);
    const layout_t *L = &m.layout;
    const char *names[] = {"rlekf", "gekf", "lekf"};
    const size_t nbs[] = {1024, 256, 5120};
    for (size_t o = 0; o < 3; o++) {
        const optim_type *t = optim_find(names[o]);
        optim_params p;
        optim_default_params(t, &p);
        if (o != 1) p.v[KALMAN_P_BLOCK_SIZE] = (double)nbs[o];
        const kalman_split mode = (kalman_split)kalman_split_of(t);
        size_t sizes[256];
        const size_t nb = kalman_blocks(L, mode, nbs[o], sizes);
        size_t total = 0;
        for (size_t i = 0; i < nb; i++)
            total += sizes[i] * (sizes[i] + 1) / 2;
        for (int R = 1; R <= 5; R++) {
            size_t next_block = 0, next_row = 0, entries = 0;
            for (int r = 0; r < R; r++) {
                kalman_plan_rank pr;
                kalman_slice sl[256];
                cr_assert_eq(kalman_plan(t, &p, L, R, r, &pr, sl, 256), RK_OK);
                cr_assert_eq(pr.blocks, nb);
                size_t mine = 0;
                for (size_t s = 0; s < pr.slices; s++) {
                    cr_assert_eq(sl[s].block, next_block, "%s R=%d rank %d", names[o], R, r);
                    cr_assert_eq(sl[s].n, sizes[sl[s].block]);
                    cr_assert_eq(sl[s].row0, next_row, "%s R=%d rank %d block %zu", names[o], R,
                                 r, sl[s].block);
                    cr_assert_gt(sl[s].row1, sl[s].row0);
                    if (R == 1) cr_assert(!sl[s].split && sl[s].row0 == 0 && sl[s].row1 == sl[s].n);
                    const size_t n = sl[s].n;
                    mine += (n - sl[s].row0) * (n - sl[s].row0 + 1) / 2 -
                            (n - sl[s].row1) * (n - sl[s].row1 + 1) / 2;
                    next_row = sl[s].row1;
                    if (next_row == n) {
                        next_block++;
                        next_row = 0;
                    }
                }
                cr_assert_eq(mine, pr.entries);
                const size_t piece = total / 16 + 1;
                cr_assert_leq(pr.entries, total / (size_t)R + piece + total / (8 * (size_t)R),
                              "%s R=%d rank %d holds %zu of %zu", names[o], R, r, pr.entries,
                              total);
                entries += pr.entries;
            }
            cr_assert_eq(next_block, nb, "%s R=%d: blocks not all covered", names[o], R);
            cr_assert_eq(entries, total);
        }
    }
    model_free(&m);
}

/* A killed rank ends the job (non-zero exit); --resume on another rank count finishes it, and
 * the result is the single-process one. */
Test(mpi, killed_rank_ends_the_job_and_resume_finishes_it, .timeout = 300) {
    need_mpi();
    const char *cfg = config("kill.json", "{\"type\": \"rlekf\", \"block_size\": 1024}", 12);
    char cmd[8192];
    const char *out = tu_tmp("kill-2");
    /* start on 2 ranks with a checkpoint after every image; once one exists, kill -9 rank 1 */
    snprintf(cmd, sizeof cmd,
             "cd %s && { mpirun --allow-run-as-root --oversubscribe -np 2 %s train %s --out %s "
             "--quiet --checkpoint_every_images 1 >/dev/null 2>kill-stderr.txt & mpi=$!; "
             "for i in $(seq 1200); do [ -f %s.partial/checkpoint.h5 ] && break; sleep 0.05; "
             "done; kill -9 $(pgrep -P $mpi | tail -1); wait $mpi; echo $? > "
             "kill-status.txt; }",
             tu_tmpdir(), RLEKF_EXE, cfg, out, out);
    cr_assert_eq(tu_sh(cmd), 0);
    char status[64];
    char sp[1024];
    snprintf(sp, sizeof sp, "%s/kill-status.txt", tu_tmpdir());
    tu_read(sp, status, sizeof status);
    cr_assert_neq(atoi(status), 0, "the job must fail when a rank is killed");
    snprintf(sp, sizeof sp, "%s/metrics.csv", out);
    FILE *f = fopen(sp, "r");
    cr_assert_null(f, "a killed job must not finish its output folder");
    snprintf(cmd, sizeof cmd,
             "cd %s && mpirun --allow-run-as-root --oversubscribe -np 3 %s train %s --out %s "
             "--quiet --resume >/dev/null 2>>kill-stderr.txt",
             tu_tmpdir(), RLEKF_EXE, cfg, out);
    cr_assert_eq(tu_sh(cmd), 0, "resume on 3 ranks");
    cr_assert_eq(train(0, NULL, cfg, "kill-ref"), 0);
    same_run("kill-ref", "kill-2");
}

/* summary.csv of two grids: the same rows and columns, every value equal as text except the
 * clocks, the machine share (jobs, threads), and what depends on the rank count by design:
 * state_bytes (rank 0's share of the optimizer state) and a skipped cell's reason. */
static void same_summary(const char *a, const char *b) {
    csvio_table ta, tb;
    cr_assert_eq(csvio_read(a, &ta), RK_OK, "%s", err_msg());
    cr_assert_eq(csvio_read(b, &tb), RK_OK, "%s", err_msg());
    cr_assert_eq(ta.ncols, tb.ncols);
    cr_assert_eq(ta.nrows, tb.nrows, "%s: %zu rows, %s: %zu", a, ta.nrows, b, tb.nrows);
    for (size_t c = 0; c < ta.ncols; c++) {
        const char *h = ta.header[c];
        cr_assert_str_eq(h, tb.header[c]);
        if (tu_is_clock_column(h) || !strcmp(h, "jobs") || !strcmp(h, "threads") ||
            !strcmp(h, "state_bytes") || !strcmp(h, "reason"))
            continue;
        for (size_t r = 0; r < ta.nrows; r++)
            cr_assert_str_eq(csvio_cell(&ta, r, c), csvio_cell(&tb, r, c), "%s row %zu %s", b,
                             r + 2, h);
    }
    csvio_free(&ta);
    csvio_free(&tb);
}

/* A grid whose ranks disagree (a collective one rank never calls) hangs: fail it instead; the
 * smoke grid takes seconds. */
#define GRID_TIMEOUT_S 240

/* `rlekf run` under mpirun: the smoke grid (Cu; rlekf-256, adam, gekf refused by its 1 MiB
 * memory limit; seeds 1..3) on 2 ranks gives the one-process grid: the same summary.csv and,
 * cell by cell, the same metrics.csv and parameters; a rerun finds every cell finished. */
Test(mpi, run_manifest_on_ranks_equals_one_process, .timeout = 600) {
    need_mpi();
    char text[8192], cmd[8192];
    cr_assert_eq(tu_read(tu_src("experiments/smoke.json"), text, sizeof text), 0);
    const char *manifest = strdup(tu_tmp("smoke.json"));
    tu_write(manifest, text);
    const char *one = strdup(tu_tmp("grid-1")), *two = strdup(tu_tmp("grid-2"));
    const char *launch[2] = {"", "mpirun --allow-run-as-root --oversubscribe -np 2"};
    const char *res[2] = {one, two};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd,
                 "cd %s && timeout %d %s %s run %s --results %s --quiet >/dev/null "
                 "2>>%s/mpi-stderr.txt",
                 RLEKF_SOURCE_DIR, GRID_TIMEOUT_S, launch[i], RLEKF_EXE, manifest, res[i],
                 tu_tmpdir());
        cr_assert_eq(tu_sh(cmd), 0, "%s", cmd);
    }
    char sa[2048], sb[2048];
    snprintf(sa, sizeof sa, "%s/smoke/summary.csv", one);
    snprintf(sb, sizeof sb, "%s/smoke/summary.csv", two);
    same_summary(sa, sb);
    const char *labels[2] = {"rlekf-256", "adam"};
    for (int l = 0; l < 2; l++)
        for (int s = 1; s <= 3; s++) {
            char ca[2048], cb[2048];
            snprintf(ca, sizeof ca, "grid-1/smoke/Cu/%s/seed-%d", labels[l], s);
            snprintf(cb, sizeof cb, "grid-2/smoke/Cu/%s/seed-%d", labels[l], s);
            same_run(ca, cb);
        }
    /* the gekf cells are skipped on 2 ranks as on one (status compared above) */
    char sk[2048], rj[4096];
    snprintf(sk, sizeof sk, "%s/smoke/Cu/gekf/seed-1/result.json", two);
    cr_assert_eq(tu_read(sk, rj, sizeof rj), 0);
    cr_assert(strstr(rj, "\"skipped\"") && strstr(rj, "of optimizer state"), "%s: %s", sk, rj);
    /* a rerun on 3 ranks has nothing left to do and leaves the summary as it was */
    snprintf(cmd, sizeof cmd,
             "cd %s && timeout %d mpirun --allow-run-as-root --oversubscribe -np 3 %s run %s "
             "--results %s >/dev/null 2>%s/rerun.txt",
             RLEKF_SOURCE_DIR, GRID_TIMEOUT_S, RLEKF_EXE, manifest, two, tu_tmpdir());
    cr_assert_eq(tu_sh(cmd), 0);
    char p[2048], log[8192];
    snprintf(p, sizeof p, "%s/rerun.txt", tu_tmpdir());
    tu_read(p, log, sizeof log);
    cr_assert(strstr(log, "9 already finished, 0 to run") && !strstr(log, "] start "), "%s", log);
    same_summary(sa, sb);
}
