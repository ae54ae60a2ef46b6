/* manifest: experiment manifests (JSON) — datasets x optimizer variants x seeds.
 *
 * Parsed and fully validated before anything runs: unknown keys, bad types and out-of-range values
 * are RK_EINPUT with the JSON path ("exp.json: optimizers[2].block_size: ..."); an unknown
 * optimizer lists the valid names. Keys are documented in experiments/README.md.
 * A cell is (dataset d, variant v, seed s); cells are enumerated dataset-major, then variant,
 * then seed, and every cell's training configuration is resolved here (train_config): the
 * defaults, then the training keys given at the top level, in the dataset and in the variant's
 * "training" object, each read through the one key table of config.h.
 */
#ifndef RLEKF_MANIFEST_H
#define RLEKF_MANIFEST_H

#include <stddef.h>

#include "config.h"
#include "err.h"
#include "import.h"
#include "md.h"
#include "train.h"

#define MAN_NAME_MAX 64
#define MAN_MAX_SOURCES 16

typedef struct {
    char name[MAN_NAME_MAX];
    char h5[TRAIN_PATH_MAX];                       /* an HDF5 dataset file, or */
    char sources[MAN_MAX_SOURCES][TRAIN_PATH_MAX]; /* raw sources imported by the runner */
    size_t n_sources;
    import_format format;
    char type_map[256];    /* "O,H" or "" */
    config_layer training; /* the training keys of a dataset (split, test_fraction, ...) */
    evaluate_split_mode split; /* resolved from `training`, for the runner's outlier injection */
    double test_fraction;  /* likewise */
    /* label outliers injected into training frames (stress tests); fraction 0 = none */
    double outlier_fraction, outlier_energy_shift, outlier_force_scale;
} man_dataset;

typedef struct {
    char label[MAN_NAME_MAX];
    const optim_type *opt;
    optim_params params;
    char group[MAN_NAME_MAX]; /* optional; "" */
    double x;                 /* optional; NAN */
    config_layer training;    /* per-variant training overrides ("training": {...}) */
    /* optional restrictions: run this variant only on these datasets / with these seeds */
    char only_datasets[8][MAN_NAME_MAX];
    size_t n_only_datasets;
    long only_seeds[16];
    size_t n_only_seeds;
} man_variant;

/* How the cells share the machine ("timing"): shared (the default) runs -j cells at once, each
 * with its share of the threads; exclusive runs one cell at a time with all threads, so that the
 * times of its cells compare (the runner ignores -j > 1 for such a manifest, and says so). */
typedef enum { MAN_TIMING_SHARED, MAN_TIMING_EXCLUSIVE, MAN_NTIMING } man_timing;
/* "shared", "exclusive". */
const char *manifest_timing_name(man_timing t);

typedef struct {
    char path[TRAIN_PATH_MAX];
    char name[MAN_NAME_MAX];
    char description[2048]; /* free text; the committed manifests describe their protocol here */
    char results_dir[TRAIN_PATH_MAX];
    man_dataset *datasets;
    size_t n_datasets;
    man_variant *variants;
    size_t n_variants;
    long *seeds;
    size_t n_seeds;
    model_config model;
    config_layer defaults;  /* top-level training keys: the default of every cell */
    int threads;            /* resolved from `defaults`, for the runner's thread split */
    double memory_limit_gb; /* 0 = default */
    man_timing timing;      /* "timing" (MAN_TIMING_SHARED if absent) */
    int has_md;             /* an "md" section: MD of every trained cell's model */
    md_params md;           /* its keys (md_keys), defaults for the keys not given */
} manifest_t;

rk_status manifest_load(const char *path, manifest_t *m);
void manifest_free(manifest_t *m);
size_t manifest_n_cells(const manifest_t *m);
/* Cell k -> (dataset, variant, seed) indices. */
void manifest_cell(const manifest_t *m, size_t k, size_t *d, size_t *v, size_t *s);
/* False for cells excluded by a variant's "datasets" or "seeds" restriction. */
int manifest_cell_applies(const manifest_t *m, size_t k);
/* Resolved training configuration of cell k; dataset_path = the HDF5 file the cell reads. */
void manifest_cell_config(const manifest_t *m, size_t k, const char *dataset_path,
                          train_config *tc);
/* Directory of cell k: <results>/<name>/<dataset>/<label>/seed-<s>. */
void manifest_cell_dir(const manifest_t *m, size_t k, char *buf, size_t cap);

#endif
