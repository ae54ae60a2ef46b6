/* runner: executes an experiment manifest, resumably.
 *
 * Every cell (dataset, variant, seed) trains in its own forked process (at most `jobs` at once,
 * BLAS/OpenMP threads divided among them) and writes into its cell directory; each file is
 * written under a temporary name and renamed when complete, and result.json is written last, so
 * a cell is finished iff result.json exists. Rerunning skips finished cells and restarts the
 * others from scratch; kill -9 at any moment loses nothing finished. summary.csv is rebuilt from
 * all result.json files after every cell. A cell whose optimizer state exceeds the memory limit
 * is recorded as skipped, a diverged one as diverged.
 */
#ifndef RLEKF_RUNNER_H
#define RLEKF_RUNNER_H

#include "manifest.h"

typedef struct {
    int jobs;                /* parallel cells (>= 1) */
    size_t shard_i, shard_n; /* run cells k with k % shard_n == shard_i - 1 (1-based i) */
    int has_seed;            /* run only the cells of the manifest's seed `seed` */
    long seed;
    int dry_run;
    int quiet; /* no progress lines */
} runner_opts;

rk_status runner_run(const manifest_t *m, const runner_opts *o);
/* Corrupt d's outlier fraction of the training frames of ds in place (see runner.c); the
 * fraction is of the frames trained on: after the tail split and d's max_train_frames. */
rk_status runner_inject_outliers(const man_dataset *d, dataset_t *ds);
/* Rebuild <results>/<name>/summary.csv from the cells' result.json files. */
rk_status runner_write_summary(const manifest_t *m);

#endif
