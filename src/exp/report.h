/* report: aggregation of an experiment's results tree into tables for people and for gnuplot.
 *
 * Input (results/README.md): <exp>/summary.csv, one row per cell, and for every cell whose status
 * is done, diverged or time_budget its <exp>/<dataset>/<label>/seed-<k>/metrics.csv.
 * Cells are grouped into variants (dataset, label) in order of first appearance in summary.csv.
 *
 * The quantities (SPEC §4), per dataset d and quantity q (test RMSE of energy per atom, of force):
 *   baseline(d, q)   = min over every evaluation row of every run on d of the test RMSE of q
 *   crossing(run, t) = the first row r (in file order) with rmse_q(r) <= t, t = factor * baseline
 *   variant value    = mean over seeds of crossing epoch / updates / train_s, defined only when
 *                      every seed with metrics crossed ("never (k/n reached)" otherwise)
 *   ratio(V)         = value(reference) / value(V), per quantity, factor and measure; the
 *                      reference of (d, q, factor) is the strongest gradient-kind variant on d
 *                      for that quantity and threshold (report_gradient_reference)
 *   curve row i      = median / min / max over the seeds that have a row i (nan values skipped);
 *                      also the median of |w|(row i) - |w|(row 0), the drift of the weight norm
 * Optimizers are told apart by their registered type (optim_find of summary.csv's optimizer
 * column): its kind (Kalman or gradient) and its declared parameters, never by name.
 * Invariant: nothing is written before the whole tree has been read and checked, and every output
 * file is written under a temporary name and renamed when complete.
 *
 * Files: report_load.c (reading the tree), report_math.c (the quantities above and what the
 * writers derive from them), report_fmt.c (number and name text, output files), report_write.c
 * (CSV and .dat tables), report_md.c (report.md); report_internal.h is what they share.
 */
#ifndef RLEKF_REPORT_H
#define RLEKF_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "optim.h"

#define REPORT_PATH_MAX 1024
#define REPORT_NAME_MAX 128
/* report_first_crossing's answer when no row reaches the threshold. */
#define REPORT_NEVER SIZE_MAX

/* Threshold factors on the baseline (SPEC §4 names 1.2; 1.5 shows the earlier approach). */
#define REPORT_NFACTORS 2
extern const double REPORT_FACTORS[REPORT_NFACTORS];

typedef enum { REPORT_E = 0, REPORT_F = 1, REPORT_NQTY } report_qty;

typedef enum {
    REPORT_ST_DONE = 0,
    REPORT_ST_DIVERGED,
    REPORT_ST_TIME_BUDGET,
    REPORT_ST_SKIPPED,
    REPORT_ST_FAILED,
    REPORT_NSTATUS
} report_status;

/* Name of a status as in summary.csv ("done", ...). */
const char *report_status_str(report_status s);

/* One metrics.csv row; NAN where the file says nan or lacks the column. */
typedef struct {
    double epoch, updates, wall_s;
    double clock_s; /* the training clock train_s (SPEC §4); wall_s in files recorded before it */
    double train_e, train_f; /* eV/atom, eV/Å */
    double test_e, test_f;   /* eV/atom, eV/Å */
    double weight_norm, max_dw;
} report_row;

/* MD of a cell's model in one ensemble (summary.csv's md_<ensemble>_* columns). */
#define REPORT_MD_NENS 2 /* nve, nvt */
typedef struct {
    int status;       /* -1 not run, 0 unstable, 1 stable for the whole run, 2 stopped by more
                       * neighbours than the model's sel (over_sel) */
    double stable_ps; /* NAN where empty */
    double drift;     /* meV/atom/ps (NVE) */
    double fluct;     /* meV/atom (NVE) */
    double rdf;       /* mean |g_md - g_dft| */
} report_md_run;

/* One cell (a seed of a variant). rows is NULL for skipped and failed cells. */
typedef struct {
    long seed;
    report_status status;
    /* from summary.csv (NAN if empty) */
    double epochs, updates, wall_s;
    double clock_s; /* train_s; wall_s in files recorded before it */
    double final_e, final_f, best_e, best_f;
    report_row *rows; /* (nrows) */
    size_t nrows;
    int clock_is_wall; /* its metrics.csv has no train_s: clock_s is wall_s */
    double jobs, threads; /* how the cell shared the machine (summary.csv; NAN if not recorded) */
    char dir[REPORT_PATH_MAX]; /* the cell folder */
    report_md_run md[REPORT_MD_NENS];
} report_run;

typedef struct {
    char dataset[REPORT_NAME_MAX], label[REPORT_NAME_MAX], optimizer[REPORT_NAME_MAX];
    const optim_type *type;                             /* the registered type of optimizer */
    char group[REPORT_NAME_MAX];                        /* "" if none */
    double x;                                           /* NAN if none */
    double block_size, n_blocks, state_bytes, n_params; /* NAN if empty */
    double batch_size;                                  /* images per update (1: older trees) */
    report_run *runs;                                   /* (nruns) */
    size_t nruns, cap;
} report_variant;

typedef struct {
    char dir[REPORT_PATH_MAX];  /* the experiment folder as given */
    char name[REPORT_NAME_MAX]; /* its last path component */
    report_variant *vars;       /* (nvars) */
    size_t nvars, cap;
    char *provenance; /* text of provenance.json, or NULL */
    size_t n_wall_clock; /* runs whose files have no train_s: their times include evaluations */
} report_exp;

/* ------------------------------------------------------------- math without files ---------- */

/* Test RMSE of quantity q in a row. */
double report_row_rmse(const report_row *r, report_qty q);

/* Index of the first row whose test RMSE of q is <= threshold, or REPORT_NEVER. */
size_t report_first_crossing(const report_row *rows, size_t n, report_qty q, double threshold);

/* Statistics over the finite values of v (NAN for every field if there are none). */
typedef struct {
    size_t n; /* finite values used */
    double mean, min, max, median;
} report_stats;
/* scratch: n doubles (the values are copied there for the median). */
report_stats report_describe(const double *v, size_t n, double *scratch);

/* Crossing summary of one variant for one quantity and threshold. */
typedef struct {
    size_t n_runs;                 /* seeds with metrics */
    size_t n_reached;              /* of those, seeds that crossed */
    double epoch, updates, clock_s; /* means over seeds if all n_runs > 0 crossed, else NAN */
    /* the seed spread of each measure (report_crossing_value's m: epochs, updates, train_s):
     * smallest and largest first crossing over the seeds, NAN like the means */
    double lo[3], hi[3];
} report_crossing;
report_crossing report_variant_crossing(const report_variant *v, report_qty q, double threshold);

/* Reference value / V value; NAN when either is not finite or V's value is not positive. */
double report_ratio(double ref_value, double v_value);

/* Lowest finite test RMSE of q over every row of every run on dataset (NAN if none). */
double report_baseline(const report_exp *e, const char *dataset, report_qty q);

/* The reference of the speed-up ratios of dataset, quantity q and threshold: the strongest
 * variant whose optimizer is of gradient kind (a fair race against Adam's best configuration):
 *   1. of those that reach the threshold (every seed with metrics crosses it), the one with the
 *      lowest mean crossing time on the training clock (train_s); equal times: fewer mean
 *      updates, then the first in summary.csv order;
 *   2. if none reaches it, the one with the lowest mean over seeds of the best test RMSE of q
 *      (summary.csv); equal: the first in summary.csv order;
 *   3. if no variant has a best RMSE either, the first in summary.csv order.
 * NULL if the dataset has no gradient-kind variant. */
const report_variant *report_gradient_reference(const report_exp *e, const char *dataset,
                                                report_qty q, double threshold);

/* ------------------------------------------------------------- files ----------------------- */

/* Read summary.csv, every metrics.csv it implies, and provenance.json if present. Errors
 * (RK_EINPUT) name the file, row and value: missing summary.csv, malformed CSV, unknown status,
 * an optimizer that is not registered, a done/diverged/time_budget cell without metrics.csv. */
rk_status report_load(const char *exp_dir, report_exp *e);
void report_free(report_exp *e);

/* Write accuracy.csv, speedup.csv, report.md, curves/<dataset>__<label>.dat and the tables for
 * plots/ (baselines.dat, variants.dat, bars.dat, ablation.dat, stability.dat, batch_size.dat,
 * parity_cells.tsv)
 * into out_dir (created if needed). md_path receives the path of report.md. */
rk_status report_write(const report_exp *e, const char *out_dir, char *md_path, size_t cap);

#endif
