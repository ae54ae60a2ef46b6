/* train: one training run (SPEC §3): data split, model set-up, the Kalman protocol or a gradient
 * method's per-image loss, evaluations, metrics CSV, model files, progress, divergence as result.
 *
 * Kalman protocol per training image (n atoms, prefactors pE, pF; batch_size 1):
 *   energy:  r = pE (E - E^)/n, h = pE dE^/dw / n; flip both if r < 0; update.
 *   forces:  24 atoms drawn with replacement, 4 groups of 6; per group at the current weights
 *            d_j = pF (F_j - F^_j), e = mean|d_j| / n, h = pF sum_j sign(d_j) dF^_j/dw / (18 n)
 *            (a force Jacobian with c_j = sign(d_j) pF / (18 n)); update.
 * Minibatch (batch_size B, SPEC §3): one update per measurement reduced over B images of one
 *   system, energy e = sqrt(B) mean_b |r_b|, h = sum_b h_b; one draw of 24 atoms per batch,
 *   per group e = sqrt(B) mean_bj |d_bj| / n, h = sum_b J_{c_b}; gradient methods step on the
 *   mean gradient. The images of a batch run in parallel, reduced in a fixed order.
 * Gradient methods per image: L = pE(t) ((E^ - E)/n)^2 + pF(t)/(3n) |F^ - F|^2;
 *   dL/dw = 2 pE (E^ - E)/n^2 dE^/dw + J_c with c = 2 pF (F^ - F)/(3n).
 * Randomness: streams (stream_name, seed, purpose): INIT weights, SPLIT, ORDER (per-epoch
 * shuffle), SAMPLE (force atoms), so cells with the same (dataset, seed) are paired.
 * The split and the RMSEs are evaluate.h's; model files record the split (for rlekf eval).
 */
#ifndef RLEKF_TRAIN_H
#define RLEKF_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "err.h"
#include "evaluate.h"
#include "jsonw.h"
#include "model.h"
#include "optim.h"

#define TRAIN_PATH_MAX 1024
/* Suffix of the folder a run writes into before it is finished, and its checkpoint file. */
#define TRAIN_PARTIAL ".partial"
#define TRAIN_CHECKPOINT "checkpoint.h5"

typedef struct {
    /* data */
    char dataset[TRAIN_PATH_MAX];
    evaluate_split_mode split;
    double test_fraction;    /* 0.2: last floor(0.2 n) frames of each system are test frames */
    size_t max_train_frames; /* 0 = all; else an evenly spaced subset of the training frames */
    size_t eval_max_frames;  /* 0 = all; else an evenly spaced subset for each RMSE */
    /* model */
    model_config model;
    double init_weight_scale; /* multiplies every W and hidden b after initialisation (1) */
    /* optimizer */
    const optim_type *opt;
    optim_params opt_params;
    double pref_e, pref_f; /* Kalman prefactors (1, 2) */
    size_t force_groups;   /* 4 */
    size_t group_atoms;    /* 6 */
    /* run */
    size_t epochs;
    size_t batch_size;        /* images per update, all of one system (SPEC §3 "Minibatch") */
    size_t eval_every;        /* also evaluate every K updates (0: per epoch only) */
    size_t eval_every_images; /* also evaluate every K training images (0: per epoch only) */
    uint64_t seed;
    char stream_name[256];          /* seeds the RNG streams; default: dataset file stem */
    int threads;                    /* OpenMP threads of the Kalman sweep; 0 = leave as is */
    double time_budget_s;           /* 0 = none */
    double train_budget_s;          /* 0 = none: the same on the training clock (train_s) */
    size_t checkpoint_every_images; /* a checkpoint every K images (0: at every evaluation) */
    int resume; /* continue from out_dir.partial/checkpoint.h5 when there is one (not a key) */
    /* output */
    char out_dir[TRAIN_PATH_MAX];
    int quiet; /* no progress lines */
    double progress_interval_s;
} train_config;

typedef enum { TRAIN_DONE, TRAIN_DIVERGED, TRAIN_TIME_BUDGET } train_outcome;

typedef struct {
    train_outcome outcome;
    double epochs_done;
    size_t images, updates;
    double wall_s;
    double train_s, eval_s; /* the training clock (SPEC §4) and evaluations plus saves */
    double final_test_e, final_test_f, best_test_e, best_test_f; /* eV/atom, eV/Å */
    double final_train_e, final_train_f;
    size_t n_train, n_test;
    size_t n_params, state_bytes, n_blocks; /* model size and optimizer state */
} train_result;

const char *train_outcome_str(train_outcome o);
/* Defaults, reading and writing of a train_config: config.h. */

/* Run: writes out_dir/{config.json, model_init.h5, model.h5, metrics.csv}. ds may be NULL (read
 * from tc->dataset). A divergence is a result (RK_OK, outcome DIVERGED).
 *
 * The output folder is one transaction: the run writes into out_dir.partial (TRAIN_PARTIAL) and,
 * when finished, puts it in place of out_dir (replacing a previous out_dir atomically). A run that
 * fails leaves out_dir untouched and out_dir.partial behind (removed again after an input error,
 * which leaves nothing to resume). While it runs it keeps out_dir.partial/checkpoint.h5 (weights,
 * the optimizer's full state, RNG streams, the epoch's order and position, counters, clocks,
 * metrics so far), every checkpoint_every_images images or at every evaluation; with tc->resume
 * the run continues from it and ends bitwise as an uninterrupted run would (metrics.csv except
 * the clock columns, model.h5). Without one, --resume starts from scratch. Stale
 * "*.tmp-<pid>" files of dead processes beside out_dir and in the partial folder are removed. */
rk_status train_run(const train_config *tc, const dataset_t *ds, train_result *res);

/* Cut an epoch's shuffled order perm (n indices into frames) into batches of B images of one
 * system (SPEC §3 "Minibatch"): walk perm, add each image to its system's pending batch and emit
 * the batch when it holds B images; after the walk, emit what is left of every system, in system
 * order (each system's last batch of an epoch may be short). order (n) receives the images batch
 * after batch, starts (n + 1) the position of every batch in order, and starts[*n_batches] = n.
 * B = 1 gives perm itself. */
rk_status train_batch_order(const model_frame_ref *frames, const size_t *perm, size_t n,
                            size_t nsystems, size_t B, size_t *order, size_t *starts,
                            size_t *n_batches);
/* Batches per epoch: sum over systems of ceil(training frames of s / B). */
size_t train_batches_per_epoch(const model_frame_ref *frames, size_t n, size_t nsystems, size_t B);

/* 1 if out_dir holds a finished run (metrics.csv and model.h5, put in place by a finished
 * train_run) and there is no out_dir.partial to resume. */
int train_is_finished(const char *out_dir);

/* Add provenance fields to a JSON object: git commit, compiler, BLAS build, BLAS and OpenMP
 * threads, CPUs, memory, host. */
void train_add_provenance(jsonw *o);

#endif
