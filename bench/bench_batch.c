/* bench_batch: training time per image of RLEKF (N_b 5120, the paper's model) against the batch
 * size B (SPEC §3 "Minibatch"), measured on the trainer itself (train_run's training clock over
 * one epoch of K frames of the first system), next to the covariance floor of the same run: the
 * five Kalman updates of a batch cost 5 x (one update), paid once per batch, so per image
 * 5 x t_update / B. t_update is the median of UPDATE_REPS optim_step calls with fresh random
 * measurements on the same layout, measured in this process after the B = 1 run (as the kalman
 * bench does).
 * Usage: bench_batch [--images K] [--max-batch B] DATA.h5; prints a Markdown table.
 * The machine may be shared: compare the columns of one run, not absolute times. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blas.h"
#include "clock.h"
#include "config.h"
#include "h5io.h"
#include "model.h"
#include "optim.h"
#include "registry.h"
#include "rng.h"
#include "train.h"

#define DEFAULT_IMAGES 32
#define DEFAULT_MAX_BATCH 32
#define RLEKF_BLOCK 5120
#define KALMAN_UPDATES 5 /* one energy and four force-group updates per batch */
#define WARMUP_UPDATES 2
#define UPDATE_REPS 7
/* A Jacobian of the size of a force update's: entries ~1e-3 (it carries 1/(18 n)). */
#define H_SCALE 1e-3

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds of one rlekf update on the layout of the model in init_path, timed as the
 * kalman bench times it: a fresh random h and e per update (entries of order 1e-3, the size of a
 * force update's), WARMUP_UPDATES untimed first (the first touches P and has no pending rank-1
 * update), then the median of UPDATE_REPS. */
static double update_time(const char *init_path, const optim_params *p) {
    model_t m;
    if (model_load(&m, init_path)) return NAN;
    const optim_type *t = optim_find("rlekf");
    optim_t *o = NULL;
    size_t N = m.layout.n_params;
    double *h = malloc(N * sizeof *h), secs = NAN, times[UPDATE_REPS];
    if (h && !optim_create(t, p, &m.layout, &o)) {
        rng_t r;
        rng_seed(&r, 1);
        int ok = 1;
        for (int k = 0; ok && k < WARMUP_UPDATES + UPDATE_REPS; k++) {
            for (size_t i = 0; i < N; i++)
                h[i] = H_SCALE * rng_normal(&r);
            optim_signal sig = {H_SCALE * rng_normal(&r), h, NULL};
            double t0 = clock_now_s();
            ok = optim_step(o, m.w, &sig) == RK_OK;
            if (k >= WARMUP_UPDATES) times[k - WARMUP_UPDATES] = clock_now_s() - t0;
        }
        if (ok) {
            qsort(times, UPDATE_REPS, sizeof times[0], cmp_double);
            secs = times[UPDATE_REPS / 2];
        }
    }
    optim_free(o);
    free(h);
    model_free(&m);
    return secs;
}

int main(int argc, char **argv) {
    size_t images = DEFAULT_IMAGES, max_batch = DEFAULT_MAX_BATCH;
    const char *data = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--images") && i + 1 < argc)
            images = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--max-batch") && i + 1 < argc)
            max_batch = (size_t)atol(argv[++i]);
        else
            data = argv[i];
    }
    if (!data || !images || !max_batch) {
        fprintf(stderr, "usage: bench_batch [--images K] [--max-batch B] DATA.h5\n");
        return 2;
    }
    blas_set_threads(1); /* as `rlekf train` runs (cli/main.c): OpenMP threads, BLAS serial */
    dataset_t ds;
    if (h5io_dataset_read(data, &ds)) {
        fprintf(stderr, "bench_batch: %s\n", err_msg());
        return 1;
    }
    /* the first system alone, so that every batch is full (batches never span systems) */
    dataset_t one = ds;
    one.nsystems = 1;
    const optim_type *rlekf = optim_find("rlekf");
    double t_update = NAN;
    printf("RLEKF N_b %d, paper model, %s (%zu atoms), one epoch of %zu frames, %d threads\n\n",
           RLEKF_BLOCK, ds.sys[0].name, ds.sys[0].natoms, images, omp_get_max_threads());
    printf("| B | updates | s/image | floor 5 t_update / B | s/image / floor | speed-up vs B=1 "
           "|\n|---|---|---|---|---|---|\n");
    double base = NAN;
    for (size_t B = 1; B <= max_batch; B *= 2) {
        train_config tc;
        config_default(&tc);
        tc.model.n_sel = 1;
        tc.model.sel[0] = 81;
        snprintf(tc.dataset, sizeof tc.dataset, "%s", data);
        tc.opt = rlekf;
        optim_default_params(rlekf, &tc.opt_params);
        optim_set_param(rlekf, &tc.opt_params, "bench", "block_size", RLEKF_BLOCK);
        tc.batch_size = B;
        tc.max_train_frames = images;
        tc.eval_max_frames = 1;
        tc.epochs = 1;
        tc.quiet = 1;
        tc.threads = omp_get_max_threads();
        snprintf(tc.out_dir, sizeof tc.out_dir, "/tmp/bench_batch-%ld-%zu", (long)getpid(), B);
        train_result res;
        if (train_run(&tc, &one, &res)) {
            fprintf(stderr, "bench_batch: B %zu: %s\n", B, err_msg());
            return 1;
        }
        if (isnan(t_update)) {
            char p[TRAIN_PATH_MAX + 32];
            snprintf(p, sizeof p, "%s/model_init.h5", tc.out_dir);
            t_update = update_time(p, &tc.opt_params);
        }
        double per_image = res.train_s / (double)res.images;
        double floor_b = KALMAN_UPDATES * t_update / (double)B;
        if (B == 1) base = per_image;
        printf("| %zu | %zu | %.4f | %.4f | %.2f | %.2f |\n", B, res.updates, per_image, floor_b,
               per_image / floor_b, base / per_image);
        fflush(stdout);
        char cmd[TRAIN_PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tc.out_dir);
        if (system(cmd) != 0) fprintf(stderr, "bench_batch: cannot remove %s\n", tc.out_dir);
    }
    printf("\nt_update (one rlekf update, median of %d) = %.4f s\n", UPDATE_REPS, t_update);
    dataset_free(&ds);
    return 0;
}
