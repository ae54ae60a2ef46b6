/* report_internal: what the report's source files share; not an interface for other modules
 * (report.h is). The derived numbers of report_write (report_ctx, built by report_math.c) and the
 * text helpers (report_fmt.c) that the table writers (report_write.c) and the Markdown writer
 * (report_md.c) both use.
 */
#ifndef RLEKF_REPORT_INTERNAL_H
#define RLEKF_REPORT_INTERNAL_H

#include <stddef.h>

#include "fs.h"
#include "report.h"

/* The declared parameter holding a Kalman type's block size N_b; the manifest group of the
 * block-size sweep carries the same name. */
#define REPORT_BLOCK_SIZE_PARAM "block_size"
/* eV -> meV for the Markdown tables. */
#define REPORT_MEV_PER_EV 1000.0
/* Bytes per MiB for the covariance memory column. */
#define REPORT_BYTES_PER_MIB 1048576.0
/* Crossing measures: 0 epoch, 1 updates, 2 train_s (the training clock). */
#define REPORT_NMEASURES 3
#define REPORT_MEASURE_TRAIN_S 2

/* ------------------------------------------------------------- kinds (report_math.c) ------- */

/* Whether the variant's optimizer is a Kalman filter / a gradient method (by its type's kind). */
int report_is_kalman(const report_variant *v);
int report_is_gradient(const report_variant *v);
/* N_b of a Kalman variant: its block_size column; a Kalman type that declares no block size
 * holds all weights in one block, the limit N_b = N (n_params) of the block-size sweep. */
double report_block_size_of(const report_variant *v);

/* ------------------------------------------------------------- derived (report_math.c) ----- */

/* Per-variant derived numbers shared by the writers. */
typedef struct {
    size_t n_status[REPORT_NSTATUS];
    report_stats final_e, final_f, best_e, best_f, epochs, updates, wall, clock, s_per_epoch;
    double max_dw; /* max over rows and seeds of max_weight_change */
    int has_curve;
    char curve[2 * REPORT_NAME_MAX + 16]; /* file name inside curves/ */
} report_var_info;

/* Everything report_write derives once. */
typedef struct {
    const report_exp *e;
    const char *out_dir;
    size_t nds;
    const char **ds;             /* (nds) dataset names in order of first appearance */
    double (*base)[REPORT_NQTY]; /* (nds) baselines */
    report_var_info *vi;         /* (nvars) */
    /* (nvars, NQTY, NFACTORS) crossings */
    report_crossing *cross;
    /* (nds, NQTY, NFACTORS) the reference variant's index (report_gradient_reference), or
     * REPORT_NO_REF */
    size_t *ref;
    int *shared; /* (nvars) a run of the variant with metrics shared the machine (jobs > 1) */
    size_t max_seeds;
} report_ctx;
#define REPORT_NO_REF SIZE_MAX

/* Derive baselines, per-variant numbers and crossings of e; report_ctx_free releases them. */
rk_status report_ctx_init(report_ctx *c, const report_exp *e, const char *out_dir);
void report_ctx_free(report_ctx *c);
size_t report_ds_index(const report_ctx *c, const char *dataset);
const report_crossing *report_cross_at(const report_ctx *c, size_t var, int q, int f);
/* The reference of dataset index d, quantity q, factor index f; NULL if none. */
const report_variant *report_ref_at(const report_ctx *c, size_t d, int q, int f);
/* Whether a time ratio between variants a and v compares cells that shared the machine. */
int report_time_shared(const report_ctx *c, size_t a, size_t v);
/* Finite training-time ratios (speedup.csv rows) whose two sides include a cell that shared the
 * machine; report.md and stderr warn about them. */
size_t report_n_shared_time_ratios(const report_ctx *c);

/* Crossing value of measure m (REPORT_NMEASURES). */
double report_crossing_value(const report_crossing *c, int m);
/* Reference/V ratio of measure m, NAN unless both crossed, and both after the first update: a
 * crossing at the initial evaluation (mean updates 0) says nothing about speed. */
double report_pair_ratio(const report_crossing *ref, const report_crossing *v, int m);

/* Variant indices with a group, ordered by dataset, group (first appearance), then x; returns
 * the count. idx holds nvars. */
size_t report_stability_order(const report_ctx *c, size_t *idx);
/* Variant indices of the block-size sweep (ablation.dat, see report_ablation_order in
 * report_math.c); returns the count. idx holds nvars. */
size_t report_ablation_order(const report_ctx *c, size_t *idx);
/* Variant indices of the batch-size sweep (batch_size.dat and report.md's batch-size tables, see
 * report_batch_order in report_math.c); returns the count. idx holds nvars. */
size_t report_batch_order(const report_ctx *c, size_t *idx);

/* ------------------------------------------------------------- text (report_fmt.c) --------- */

extern const char *const report_qty_names[REPORT_NQTY];    /* "energy", "force" */
extern const char *const report_qty_units[REPORT_NQTY];    /* CSV units */
extern const char *const report_qty_md_units[REPORT_NQTY]; /* Markdown units (meV) */

/* Rotating text buffers, so several numbers fit in one printf (REPORT_NBUF_COUNT live at a time;
 * the widest user, an accuracy.csv row, holds 15). */
#define REPORT_NBUF_COUNT 32
#define REPORT_NBUF_LEN 96
char *report_nbuf(void);
/* Number for CSV/.dat files: "%.6g", "nan" when NAN. */
const char *report_n(double v);
/* Curve numbers keep 10 significant digits: |w| changes in its 7th digit. */
const char *report_n10(double v);
/* Three significant digits without exponents for table cells ("–" if not finite). */
void report_sig3(char *b, size_t cap, double v);
const char *report_g3(double v);
/* A value in eV as meV, three significant digits, for Markdown. */
const char *report_mev(double v);
/* "12.5", "never (1/3 reached)" or "n/a (no runs)"; md: Markdown style (updates as integers). */
const char *report_crossing_text(const report_crossing *c, int m, int md);
/* A ratio, or "n/a". */
const char *report_ratio_text(double r, int md);
/* A name safe as a file name and as one whitespace-separated gnuplot field. */
void report_safe_name(char *dst, size_t cap, const char *src);

/* Open dir/name for an atomic write (fs_atomic_commit renames it into place when complete,
 * fs_atomic_abort drops it). */
rk_status report_out_open(fs_atomic *o, const char *dir, const char *name);

/* ------------------------------------------------------------- Markdown (report_md.c) ------ */

/* report.md; stab (nstab) is report_stability_order's answer, bat (nbat) report_batch_order's.
 * md_path receives its path. */
rk_status report_write_md(const report_ctx *c, const size_t *stab, size_t nstab, const size_t *bat,
                          size_t nbat, char *md_path, size_t cap);

#endif
