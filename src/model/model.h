/* model: the Deep Potential se_e2_a model of SPEC §2, with exact derivatives.
 *
 *   R~_ij = (s, s x/r, s y/r, s z/r),  R^_ij[k] = (R~_ij[k] - avg[t_i][k]) / std[t_i][k]
 *   G_ij  = embed_{t_i,t_j}(R^_ij[0])                     (n_pairs, M1)
 *   T_i   = (1/N_c) sum_j R^_ij^T G_ij                    (4, M1)
 *   D_i   = T_i^T T_i[:, :M2]                             (M1, M2), flattened a*M2 + b
 *   E_i   = fit_{t_i}(D_i),  E = sum_i E_i,  F_i = -dE/dr_i
 *   J_c   = d(sum c.F)/dw = -d/deps grad_w E(w, r + eps c)   (forward-over-reverse)
 *
 * Usage per frame: model_set_frame (neighbour list and environment rows, which depend only on
 * the geometry), model_forward (E), model_backward (dE/dw and/or F), model_force_jacobian (J_c,
 * after model_backward at the same weights). All scratch lives in a model_ws sized once from
 * the largest frame.
 *
 * Implemented in three files: model.c (parameters, workspace, environment, the passes),
 * model_init.c (neighbour and environment statistics, initial weights), model_io.c
 * (configuration JSON, model file).
 */
#ifndef RLEKF_MODEL_H
#define RLEKF_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "err.h"
#include "jsonw.h"
#include "layout.h"
#include "mlp.h"
#include "rng.h"

#define MODEL_MAX_TYPES 16
#define MODEL_MAX_HIDDEN 6

typedef struct {
    double rcut, rcut_smth;
    size_t n_sel; /* 0 = not given (must be computed before use) */
    size_t sel[MODEL_MAX_TYPES];
    /* > 0 with n_sel 0: sel is DeePMD-kit's "auto:r" rule, r = sel_auto (model_sel_auto); 0: the
     * data's largest neighbour counts as they are */
    double sel_auto;
    size_t n_neuron;
    size_t neuron[MODEL_MAX_HIDDEN]; /* embedding widths; M1 = neuron[n_neuron-1] */
    size_t axis_neuron;              /* M2 */
    size_t n_fitting;
    size_t fitting_neuron[MODEL_MAX_HIDDEN];
    int resnet;
    /* DeePMD-kit's residual timestep (descriptor.resnet_dt, fitting_net.resnet_dt): every layer
     * of that net with a residual connection becomes h = S h_in + idt ⊙ tanh(h_in W + b), idt a
     * trainable vector after the layer's b. Default false: no idt tensors. */
    int resnet_dt, fitting_resnet_dt;
} model_config;

/* ---- model_io.c: configuration ---- */

/* The paper's model: rcut 6, rcut_smth 0.5, neuron [25,25,25], axis_neuron 16,
 * fitting_neuron [50,50,50], tanh, resnet true, resnet_dt and fitting_resnet_dt false; sel
 * unset. */
model_config model_default_config(void);
/* Parse a model section ("rcut", "rcut_smth", "sel", "neuron", "axis_neuron", "fitting_neuron",
 * "activation" (only "tanh"), "resnet", "resnet_dt", "fitting_resnet_dt", "type": "se_e2_a");
 * keys absent keep *c's values. */
rk_status model_config_from_json(const jsonw *obj, const char *ctx, model_config *c);
/* DeePMD-kit's factor for sel "auto" and the multiple its automatic sel is rounded up to. */
#define MODEL_SEL_AUTO_DEFAULT 1.1
#define MODEL_SEL_QUANTUM 4
/* Parse "auto" or "auto:r" (r in [1, 10]) into *r; nonzero if text is neither. */
int model_parse_sel_auto(const char *text, double *r);
/* DeePMD-kit's "auto:r" rule from the data's largest neighbour counts: floor(count·r) rounded up
 * to a multiple of MODEL_SEL_QUANTUM, per type. */
void model_sel_auto(const size_t *counts, size_t ntypes, double r, size_t *sel);
/* Resolved section as JSON text (caller frees). */
char *model_config_to_json(const model_config *c);

typedef struct {
    model_config cfg;
    size_t ntypes;
    char type_map[MODEL_MAX_TYPES][DS_SYMBOL_MAX];
    size_t n_c;    /* N_c = sum sel */
    size_t m1, m2; /* descriptor dims */
    double avg[MODEL_MAX_TYPES][4], std[MODEL_MAX_TYPES][4];
    layout_t layout;
    double *w;       /* (N) parameters in SPEC §2 order */
    mlp_shape embed; /* shape of embedding net (0,0); others differ by offset only */
    size_t embed_base[MODEL_MAX_TYPES * MODEL_MAX_TYPES]; /* offset of net (a,b) */
    mlp_shape fit;
    size_t fit_base[MODEL_MAX_TYPES];
} model_t;

/* ---- model.c: parameters ---- */

/* Build the layout (every tensor tagged with its role and net) and allocate w (zeroed); stats
 * set to avg 0, std 1. cfg.n_sel must equal ntypes. Embedding layer k > 1 with resnet adds
 * h_in when its widths are equal and (h_in, h_in) when it doubles the width; fitting hidden
 * layers only the former (SPEC §2). With resnet_dt (embedding) / fitting_resnet_dt (fitting),
 * each such residual layer scales its tanh output by its idt tensor (W, b, idt in the vector). */
rk_status model_create(model_t *m, const model_config *cfg, size_t ntypes,
                       char (*type_map)[DS_SYMBOL_MAX]);
void model_free(model_t *m);

/* s(r) and ds/dr (SPEC §2 "Switching"): 1/r below rs, smoothed to 0 at rc, 0 beyond. */
void model_switch(double r, double rs, double rc, double *s, double *ds);

/* ---- model_init.c: from the training data ---- */

/* A frame of a dataset. */
typedef struct {
    size_t sys, frame;
} model_frame_ref;

/* Where a neighbour statistic was found: frame (system index, frame index), centre atom, and
 * for a distance the other atom (its index in the frame). */
typedef struct {
    size_t sys, frame, atom, other;
} model_site;

/* Neighbour statistics of frames at cut-off rcut (SPEC §2 "Neighbours": every image,
 * 0 < r < rcut). Each site is the first (frame in the given order, then centre atom, then pair)
 * where the extreme value was reached. */
typedef struct {
    size_t *max_count;   /* (ntypes) caller-provided: largest number of type-t neighbours of any
                            centre, the smallest sel[t] that fits these frames */
    model_site *max_at;  /* (ntypes) caller-provided, or NULL: where max_count[t] was found */
    size_t max_total;    /* largest number of neighbours (all types) of any centre */
    model_site total_at; /* where */
    double min_dist;     /* shortest r_ij in Å; INFINITY when no pair is within rcut */
    model_site min_at;   /* where (atom = i, other = j) */
} model_nbr_stat;

/* Scan the frames; fills *out (its arrays sized ds->ntypes). A neighbour-list error is
 * prefixed with the system and frame. */
rk_status model_neighbor_scan(const dataset_t *ds, double rcut, const model_frame_ref *frames,
                              size_t n, model_nbr_stat *out);
/* The per-type maxima only (counts: ntypes) and, if non-NULL, the shortest distance. */
rk_status model_neighbor_stat(const dataset_t *ds, double rcut, const model_frame_ref *frames,
                              size_t n, size_t *counts, double *min_dist);
/* With n_sel 0, set sel from the largest neighbour counts over every frame of ds: the counts as
 * they are, or DeePMD-kit's rule when sel_auto > 0; n_sel becomes ds->ntypes. The one place an
 * unset sel is resolved (rlekf's own config and an input.json alike). No-op when sel is set. */
rk_status model_resolve_sel(model_config *c, const dataset_t *ds);
/* Statistics avg/std over the given frames (SPEC §2 "Statistics"). */
rk_status model_compute_stats(model_t *m, const dataset_t *ds, const model_frame_ref *frames,
                              size_t n);
/* Seeded initialisation of all weights (SPEC §2 "Initialisation") and the output biases from the
 * minimum-norm least-squares fit of frame energies on type counts over the given frames. One
 * stream, drawn tensor by tensor in parameter-vector order; a residual timestep idt takes
 * 0.1 + 0.001 N(0, 1) per entry, right after its layer's b. */
rk_status model_init_weights(model_t *m, rng_t *r, const dataset_t *ds,
                             const model_frame_ref *frames, size_t n);

/* ---- model_io.c: files ---- */

/* Write / read the model file of SPEC §5. */
rk_status model_save(const model_t *m, const char *path);
/* model_save, also recording split_json (NULL: nothing) as the root attribute training_split:
 * the train/test split of the run that made the model (written by train, read by eval). */
rk_status model_save_split(const model_t *m, const char *path, const char *split_json);
rk_status model_load(model_t *m, const char *path);
/* Map a dataset's type ids onto the model's type map; error names the missing element. */
rk_status model_check_types(const model_t *m, const dataset_t *ds, const char *what);

/* ---- model.c: workspace and passes ---- */

typedef struct model_ws model_ws;
/* Workspace for frames of up to max_atoms atoms. */
rk_status model_ws_create(const model_t *m, size_t max_atoms, model_ws **ws);
void model_ws_free(model_ws *ws);

/* Build the neighbour list and environment of one frame. More neighbours of a type than sel is
 * RK_EINPUT naming system, frame, atom, type, count and sel. */
rk_status model_set_frame(const model_t *m, model_ws *ws, const ds_system *sys, size_t frame);
/* Energy of the current frame at the current weights. */
double model_forward(const model_t *m, model_ws *ws);
/* After model_forward: grad_e (N, overwritten) = dE/dw if non-NULL; force (natoms,3,
 * overwritten) = -dE/dr if non-NULL. */
void model_backward(const model_t *m, model_ws *ws, double *grad_e, double *force);
/* After model_backward at the same weights: jac (N, overwritten) = d(sum_ia c_ia F_ia)/dw.
 * The embedding nets' tangent is sparse: a pair whose input tangent x' is zero (neither end
 * carries c) has a zero forward tangent, so only the pairs with x' != 0 get the full
 * forward-over-reverse pass; the others need only a reverse pass of g_G' (zero, and skipped,
 * unless their centre's descriptor changes). Equal to the dense pass up to rounding (the
 * weight-gradient sums are split), deterministic for any thread count. */
void model_force_jacobian(const model_t *m, model_ws *ws, const double *c, double *jac);
/* dense != 0: model_force_jacobian runs the embedding tangent over every pair (the reference the
 * sparse pass is checked and timed against); default 0. */
void model_ws_dense_tangent(model_ws *ws, int dense);
/* Support of J_c's tangent for c on the current frame: *pairs = pairs with a non-zero c at either
 * end (their embedding tangent is non-zero), *centres = atoms whose descriptor can change (the
 * atom or one of its neighbours has a non-zero c). */
void model_tangent_support(const model_t *m, const model_ws *ws, const double *c, size_t *pairs,
                           size_t *centres);
size_t model_ws_natoms(const model_ws *ws);
/* Neighbour pairs of the current frame. */
size_t model_ws_npairs(const model_ws *ws);

#endif
