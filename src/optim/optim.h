/* optim: the optimizer interface (GSL-style type structs) and the owning optimizer object.
 *
 * An optimizer sees only the flat weight vector w (N doubles), the parameter layout (named
 * tensors) and, per step, a signal: a Kalman measurement (scalar error e and Jacobian h, SPEC §3)
 * or a loss gradient g. The trainer owns the loop and the training protocol; it asks the type's
 * `kind` which signal to send. Callers hold an optim_t (type, resolved hyper-parameters and the
 * plug-in's state in one object) and never see the state itself. A plug-in is one const
 * optim_type in optimizers/ plus one line in the registry table (optimizers/registry.c); this
 * layer names none of them.
 */
#ifndef RLEKF_OPTIM_H
#define RLEKF_OPTIM_H

#include <stddef.h>

#include "err.h"
#include "layout.h"

typedef enum { OPTIM_KALMAN, OPTIM_GRADIENT } optim_kind;

typedef enum { OPTIM_P_REAL, OPTIM_P_INT, OPTIM_P_CHOICE } optim_ptype;

#define OPTIM_MAX_PARAMS 16

/* One hyper-parameter: name, type, default, inclusive bounds, choices (CHOICE: value = index). */
typedef struct {
    const char *name;
    optim_ptype type;
    double def, lo, hi;
    const char *const *choices; /* NULL-terminated, for OPTIM_P_CHOICE */
    const char *help;
} optim_param_desc;

/* Hyper-parameter values, in the order of the type's table. Bit i of `set` says v[i] was given
 * explicitly (optim_set_param / optim_set_choice) rather than left at the table's default, so a
 * type's resolve hook can tell "unset" from "set to the default value". */
typedef struct {
    double v[OPTIM_MAX_PARAMS];
    unsigned set;
} optim_params;

/* What a type may need to know of the run before it is created (its resolve hook). */
typedef struct {
    size_t total_steps; /* optimizer steps the whole run will take */
} optim_run_info;

/* What one step consumes. Kalman: e and h (length N). Gradient: g (length N) = dLoss/dw. */
typedef struct {
    double e;
    const double *h;
    const double *g;
} optim_signal;

/* State summary for metrics and for the trainer's loss weighting. Unused fields are NAN (reals)
 * or 0 (counts). */
typedef struct {
    double lambda;   /* Kalman forgetting factor after the last update */
    double lr;       /* gradient methods: current learning rate */
    double pref_e;   /* gradient methods: current energy prefactor pE(t) */
    double pref_f;   /* gradient methods: current force prefactor pF(t) */
    size_t n_blocks; /* Kalman: number of covariance blocks */
    size_t updates;  /* steps taken */
    size_t state_bytes;
} optim_report_t;

typedef struct optim_type optim_type;

/* One array of a state, for checkpoints: a pointer into the live state, saved as it is stored
 * and loaded back in place. */
typedef enum { OPTIM_ARRAY_F64, OPTIM_ARRAY_F32 } optim_array_type;

typedef struct {
    const char *name; /* short, no '/' (e.g. "Q", "m") */
    optim_array_type type;
    void *data;
    size_t n;
    /* Distributed over ranks (src/core/par.h): this rank holds entries [offset, offset + n) of
     * one array whose parts, concatenated in rank order, are the single-process array (so a
     * checkpoint gathers it and is the same for any number of ranks). 0: every rank holds the
     * same whole array. */
    int distributed;
    size_t offset;
} optim_array;

#define OPTIM_MAX_ARRAYS 8

/* The plug-in interface. Type-level hooks (state_bytes, init, describe) receive the type itself,
 * so variants sharing one implementation tell themselves apart by `data`; state-level hooks
 * (step, report, free) receive the state init made. */
struct optim_type {
    const char *name;
    const char *summary;
    optim_kind kind;
    const optim_param_desc *params;
    size_t n_params;
    /* The plug-in's own constant data (e.g. the block layout rule of a Kalman variant); NULL if
     * it needs none. */
    const void *data;
    /* Bytes of state this configuration needs, computed before allocating anything. */
    size_t (*state_bytes)(const optim_type *t, const optim_params *p, const layout_t *L);
    rk_status (*init)(const optim_type *t, void **state, const optim_params *p, const layout_t *L);
    /* One update of w in place. */
    rk_status (*step)(void *state, double *w, const optim_signal *sig);
    /* Fill what the state knows; optim_report has set every field to "unused" (NAN / 0) first. */
    void (*report)(const void *state, optim_report_t *r);
    void (*free)(void *state);
    /* Optional: a one-phrase description of the state this configuration would build (e.g. "7
     * blocks, largest 5120") for memory-limit messages; returns 0 when it has none. */
    int (*describe)(const optim_type *t, const optim_params *p, const layout_t *L, char *buf,
                    size_t cap);
    /* Optional: advice appended to a memory-limit refusal (e.g. how to need less). */
    const char *memory_hint;
    /* Optional: settle parameters that depend on the run (e.g. Adam's stop_steps defaults to the
     * run's length), before optim_create; the resolved values are what config.json records. */
    rk_status (*resolve)(const optim_type *t, optim_params *p, const optim_run_info *run);
    /* Optional, all three or none: the full state for checkpoints (resume must continue bit for
     * bit). state_arrays lists at most OPTIM_MAX_ARRAYS arrays of the state (returns their
     * count); get_scalars writes the state's scalars (counters, λ, σ_i, ...) to s when s is not
     * NULL and returns their count; set_scalars restores them after the arrays' contents were
     * loaded, refusing a count or value that does not fit the state (RK_EINPUT). */
    size_t (*state_arrays)(void *state, optim_array *a);
    size_t (*get_scalars)(const void *state, double *s);
    rk_status (*set_scalars)(void *state, const double *s, size_t n);
};

/* An optimizer: its type, its resolved hyper-parameters and the plug-in's state. */
typedef struct optim optim_t;

/* The registry of every type (optim_find, optim_names, ...) is optimizers/registry.h. */

/* Defaults of a type's table. */
void optim_default_params(const optim_type *t, optim_params *p);
/* Set one hyper-parameter by name from a double (CHOICE: by index) with bounds checking;
 * errors name ctx, the key and the value. */
rk_status optim_set_param(const optim_type *t, optim_params *p, const char *ctx, const char *key,
                          double value);
/* Set a CHOICE parameter by its string. */
rk_status optim_set_choice(const optim_type *t, optim_params *p, const char *ctx, const char *key,
                           const char *value);
/* Index of a named parameter in t's table, or -1. */
int optim_param_index(const optim_type *t, const char *key);
/* 1 if parameter i was given explicitly. */
int optim_param_is_set(const optim_params *p, size_t i);
/* The type's resolve hook, if it has one (RK_OK otherwise). */
rk_status optim_resolve(const optim_type *t, optim_params *p, const optim_run_info *run);

/* Memory limit for optimizer state: default 80 % of physical memory; RLEKF_MEM_LIMIT env var
 * (bytes, or with suffix K/M/G) or optim_set_mem_limit() overrides. */
size_t optim_mem_limit(void);
void optim_set_mem_limit(size_t bytes);
/* Bytes of state t would allocate for p on layout L (what optim_create checks). */
size_t optim_state_bytes(const optim_type *t, const optim_params *p, const layout_t *L);
/* A new optimizer, with the memory check first: a state larger than the limit is refused with
 * RK_ENOMEM and a message "NAME: needs 2.63 GiB of optimizer state (the type's describe, or N =
 * 26551), limit 1.00 GiB (where the limit comes from); the type's memory_hint". *out is NULL on
 * any failure. */
rk_status optim_create(const optim_type *t, const optim_params *p, const layout_t *L,
                       optim_t **out);
/* One update of w (length N of the layout) in place. */
rk_status optim_step(optim_t *o, double *w, const optim_signal *sig);
/* State summary; fields the type does not report are NAN (reals) or 0 (counts). */
void optim_report(const optim_t *o, optim_report_t *r);
const optim_type *optim_type_of(const optim_t *o);
const optim_params *optim_params_of(const optim_t *o);
/* NULL is allowed. */
void optim_free(optim_t *o);

/* Checkpoints. A snapshot is the state as named arrays: a[0] is "scalars" (a copy, owned by the
 * snapshot), the others point into the live state. Save: begin, write the arrays. Load: begin,
 * overwrite every array's contents (same lengths), restore. A type without the hooks is refused
 * (RK_EINPUT "NAME: cannot checkpoint its state"). */
typedef struct {
    optim_array a[OPTIM_MAX_ARRAYS + 1];
    size_t n;
} optim_snapshot;

int optim_can_checkpoint(const optim_type *t);
rk_status optim_snapshot_begin(optim_t *o, optim_snapshot *s);
rk_status optim_snapshot_restore(optim_t *o, const optim_snapshot *s);
void optim_snapshot_end(optim_snapshot *s);

/* For plug-ins only (functions of a plug-in that take an optim_t, e.g. a Kalman test accessor,
 * after checking optim_type_of): the state the type's init made. */
void *optim_state(const optim_t *o);

#endif
