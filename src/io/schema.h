/* schema: the columns of every CSV file rlekf writes, named in this one place.
 *
 * Each file has an enum of column indices, in file order, and a header array of the column names
 * (units are part of the names: _eV_per_atom, _eV_per_A, _s). The writer fills a row by index and
 * writes the header array; the reader looks columns up by the same names, so a renamed or moved
 * column changes both sides at once. results/README.md documents every column's meaning.
 *   metrics.csv   one row per evaluation of a training run   (train.c)
 *   summary.csv   one row per cell of an experiment           (runner.c; read by report)
 *   accuracy.csv  one row per variant                         (report)
 *   speedup.csv   one row per variant, quantity and factor    (report)
 *   thermo.csv    one row per thermo step of an MD run        (md)
 *   rdf.csv       one row per RDF bin and element pair        (md)
 */
#ifndef RLEKF_SCHEMA_H
#define RLEKF_SCHEMA_H

typedef enum {
    SCHEMA_METRICS_EPOCH,       /* epochs: training images seen / training frames */
    SCHEMA_METRICS_IMAGES,      /* count */
    SCHEMA_METRICS_UPDATES,     /* count: optimizer steps */
    SCHEMA_METRICS_WALL_S,      /* s since the start of the run */
    SCHEMA_METRICS_TRAIN_S,     /* s spent in training steps only (model passes and updates) */
    SCHEMA_METRICS_EVAL_S,      /* s spent in evaluations and saves, this row's RMSEs included */
    SCHEMA_METRICS_TRAIN_E,     /* eV/atom: training RMSE of energy per atom */
    SCHEMA_METRICS_TRAIN_F,     /* eV/Å: training RMSE of force components */
    SCHEMA_METRICS_TEST_E,      /* eV/atom */
    SCHEMA_METRICS_TEST_F,      /* eV/Å */
    SCHEMA_METRICS_LAMBDA,      /* 1: Kalman forgetting factor (nan for gradient methods) */
    SCHEMA_METRICS_LR,          /* 1: learning rate (nan for Kalman methods) */
    SCHEMA_METRICS_WEIGHT_NORM, /* 1: |w| */
    SCHEMA_METRICS_MAX_DW,      /* 1: largest |Δw_i| in one update since the previous row */
    SCHEMA_METRICS_STATUS,      /* ok, done, diverged, time_budget */
    SCHEMA_METRICS_NCOLS
} schema_metrics_col;
extern const char *const schema_metrics_cols[SCHEMA_METRICS_NCOLS];

typedef enum {
    SCHEMA_SUMMARY_DATASET,
    SCHEMA_SUMMARY_LABEL,
    SCHEMA_SUMMARY_OPTIMIZER, /* registry name of the optimizer type */
    SCHEMA_SUMMARY_SEED,
    SCHEMA_SUMMARY_STATUS, /* done, diverged, time_budget, skipped, failed */
    SCHEMA_SUMMARY_REASON,
    SCHEMA_SUMMARY_GROUP,       /* "" if none */
    SCHEMA_SUMMARY_X,           /* "" if none */
    SCHEMA_SUMMARY_BLOCK_SIZE,  /* weights: N_b, N for one-block Kalman types, "" otherwise */
    SCHEMA_SUMMARY_N_BLOCKS,    /* count ("" for gradient methods) */
    SCHEMA_SUMMARY_STATE_BYTES, /* bytes */
    SCHEMA_SUMMARY_N_PARAMS,    /* count */
    SCHEMA_SUMMARY_N_TRAIN,     /* frames */
    SCHEMA_SUMMARY_N_TEST,      /* frames */
    SCHEMA_SUMMARY_EPOCHS,
    SCHEMA_SUMMARY_UPDATES,
    SCHEMA_SUMMARY_WALL_S,        /* s */
    SCHEMA_SUMMARY_TRAIN_S,       /* s: training steps only ("" for runs recorded before it) */
    SCHEMA_SUMMARY_EVAL_S,        /* s: evaluations and saves */
    SCHEMA_SUMMARY_FINAL_TEST_E,  /* eV/atom */
    SCHEMA_SUMMARY_FINAL_TEST_F,  /* eV/Å */
    SCHEMA_SUMMARY_BEST_TEST_E,   /* eV/atom */
    SCHEMA_SUMMARY_BEST_TEST_F,   /* eV/Å */
    SCHEMA_SUMMARY_FINAL_TRAIN_E, /* eV/atom */
    SCHEMA_SUMMARY_FINAL_TRAIN_F, /* eV/Å */
    SCHEMA_SUMMARY_JOBS,          /* cells that ran at once when this one ran ("" for older runs) */
    SCHEMA_SUMMARY_THREADS,       /* BLAS/OpenMP threads of this cell ("" for older runs) */
    SCHEMA_SUMMARY_BATCH_SIZE,    /* images per update ("" for older runs: 1) */
    /* MD of the cell's model (manifest "md"), per ensemble; "" when not run. The five columns
     * of an ensemble are consecutive, NVE first: SCHEMA_SUMMARY_MD_COL(e, q). */
    SCHEMA_SUMMARY_MD_NVE_STATUS, /* stable, unstable, over_sel */
    SCHEMA_SUMMARY_MD_NVE_STABLE_PS, /* ps: first violation, or the run's length */
    SCHEMA_SUMMARY_MD_NVE_DRIFT,     /* meV/atom/ps: slope of the total energy */
    SCHEMA_SUMMARY_MD_NVE_FLUCT,     /* meV/atom: std of the total energy */
    SCHEMA_SUMMARY_MD_NVE_RDF,       /* 1: mean |g_md - g_dft| over bins and pairs */
    SCHEMA_SUMMARY_MD_NVT_STATUS,
    SCHEMA_SUMMARY_MD_NVT_STABLE_PS,
    SCHEMA_SUMMARY_MD_NVT_DRIFT, /* "" (not meaningful with a thermostat) */
    SCHEMA_SUMMARY_MD_NVT_FLUCT, /* "" */
    SCHEMA_SUMMARY_MD_NVT_RDF,
    SCHEMA_SUMMARY_NCOLS
} schema_summary_col;
extern const char *const schema_summary_cols[SCHEMA_SUMMARY_NCOLS];
/* The MD quantities of summary.csv, in column order within an ensemble. */
typedef enum {
    SCHEMA_MD_STATUS,
    SCHEMA_MD_STABLE_PS,
    SCHEMA_MD_DRIFT,
    SCHEMA_MD_FLUCT,
    SCHEMA_MD_RDF,
    SCHEMA_MD_NQ
} schema_md_quantity;
/* Column of quantity q of ensemble e (0 nve, 1 nvt). */
#define SCHEMA_SUMMARY_MD_COL(e, q) (SCHEMA_SUMMARY_MD_NVE_STATUS + (e) * SCHEMA_MD_NQ + (q))

/* The statistics columns come in triples mean, min, max (final/best × E/F). */
typedef enum {
    SCHEMA_ACCURACY_DATASET,
    SCHEMA_ACCURACY_LABEL,
    SCHEMA_ACCURACY_OPTIMIZER,
    SCHEMA_ACCURACY_N_SEEDS,
    SCHEMA_ACCURACY_N_DONE, /* then one count per status, in summary.csv's status order */
    SCHEMA_ACCURACY_N_DIVERGED,
    SCHEMA_ACCURACY_N_TIME_BUDGET,
    SCHEMA_ACCURACY_N_SKIPPED,
    SCHEMA_ACCURACY_N_FAILED,
    SCHEMA_ACCURACY_FINAL_E_MEAN, /* eV/atom */
    SCHEMA_ACCURACY_FINAL_E_MIN,
    SCHEMA_ACCURACY_FINAL_E_MAX,
    SCHEMA_ACCURACY_FINAL_F_MEAN, /* eV/Å */
    SCHEMA_ACCURACY_FINAL_F_MIN,
    SCHEMA_ACCURACY_FINAL_F_MAX,
    SCHEMA_ACCURACY_BEST_E_MEAN, /* eV/atom */
    SCHEMA_ACCURACY_BEST_E_MIN,
    SCHEMA_ACCURACY_BEST_E_MAX,
    SCHEMA_ACCURACY_BEST_F_MEAN, /* eV/Å */
    SCHEMA_ACCURACY_BEST_F_MIN,
    SCHEMA_ACCURACY_BEST_F_MAX,
    SCHEMA_ACCURACY_EPOCHS_MEAN,
    SCHEMA_ACCURACY_UPDATES_MEAN,
    SCHEMA_ACCURACY_WALL_S_MEAN, /* s */
    SCHEMA_ACCURACY_TRAIN_S_MEAN, /* s: the training clock (wall_s for results without it) */
    SCHEMA_ACCURACY_BEST_E_REL_MEAN, /* 1: best test RMSE of E / the dataset's E baseline */
    SCHEMA_ACCURACY_BEST_E_REL_MIN,
    SCHEMA_ACCURACY_BEST_E_REL_MAX,
    SCHEMA_ACCURACY_BEST_F_REL_MEAN, /* 1: likewise for F */
    SCHEMA_ACCURACY_BEST_F_REL_MIN,
    SCHEMA_ACCURACY_BEST_F_REL_MAX,
    SCHEMA_ACCURACY_NCOLS
} schema_accuracy_col;
extern const char *const schema_accuracy_cols[SCHEMA_ACCURACY_NCOLS];

/* epochs, updates, train_s: the mean first crossing, or "never (k/n reached)"; the ratios are the
 * reference variant's value over this variant's, or "n/a". The reference is chosen per dataset,
 * quantity and factor: the strongest gradient-kind variant (report_gradient_reference). */
typedef enum {
    SCHEMA_SPEEDUP_DATASET,
    SCHEMA_SPEEDUP_LABEL,
    SCHEMA_SPEEDUP_OPTIMIZER,
    SCHEMA_SPEEDUP_QUANTITY, /* energy, force */
    SCHEMA_SPEEDUP_UNIT,     /* eV/atom, eV/A */
    SCHEMA_SPEEDUP_FACTOR,
    SCHEMA_SPEEDUP_BASELINE,  /* in unit */
    SCHEMA_SPEEDUP_THRESHOLD, /* factor × baseline, in unit */
    SCHEMA_SPEEDUP_SEEDS_REACHED,
    SCHEMA_SPEEDUP_SEEDS,
    SCHEMA_SPEEDUP_EPOCHS,
    SCHEMA_SPEEDUP_UPDATES,
    SCHEMA_SPEEDUP_TRAIN_S,   /* s of the training clock (SPEC §4), not wall time */
    SCHEMA_SPEEDUP_REF_LABEL, /* label of this row's reference variant, "" if none (named
                               * adam_label: the reference was Adam when the column was
                               * introduced); it may differ between the rows of one variant */
    SCHEMA_SPEEDUP_RATIO_EPOCHS,
    SCHEMA_SPEEDUP_RATIO_UPDATES,
    SCHEMA_SPEEDUP_RATIO_TRAIN_S,
    SCHEMA_SPEEDUP_NCOLS
} schema_speedup_col;
extern const char *const schema_speedup_cols[SCHEMA_SPEEDUP_NCOLS];

typedef enum {
    SCHEMA_THERMO_STEP,
    SCHEMA_THERMO_TIME_PS,    /* ps */
    SCHEMA_THERMO_PE,         /* eV: the model's energy */
    SCHEMA_THERMO_KE,         /* eV */
    SCHEMA_THERMO_ETOT,       /* eV */
    SCHEMA_THERMO_TEMP,       /* K */
    SCHEMA_THERMO_MIN_DIST,   /* Å: shortest pair distance over all images */
    SCHEMA_THERMO_NCOLS
} schema_thermo_col;
extern const char *const schema_thermo_cols[SCHEMA_THERMO_NCOLS];

typedef enum {
    SCHEMA_RDF_PAIR, /* "Cu-Cu", "H-O": element pair a-b in type order */
    SCHEMA_RDF_R,    /* Å: bin centre */
    SCHEMA_RDF_G_MD, /* 1: g(r) of the MD run (LAMMPS compute rdf, mean over samples) */
    SCHEMA_RDF_G_REF, /* 1: g(r) of the dataset's DFT frames of the same system */
    SCHEMA_RDF_NCOLS
} schema_rdf_col;
extern const char *const schema_rdf_cols[SCHEMA_RDF_NCOLS];

#endif
