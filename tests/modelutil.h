/* modelutil: shared fixtures for model and training tests: real datasets imported once per
 * process from the shipped raw files, and small models built on them. */
#ifndef RLEKF_MODELUTIL_H
#define RLEKF_MODELUTIL_H

#include "dataset.h"
#include "model.h"
#include "optim.h"

/* Import a shipped raw source (path relative to the source tree) into a temporary HDF5 file with
 * the CLI and read it back. Aborts the test on failure. */
void mu_load(const char *rel_src, const char *extra_args, dataset_t *ds);
/* Make a model for ds with the given config (NULL = paper default), sel computed from all frames
 * (+ margin), statistics and weights initialised from the first nstat frames of system 0. */
void mu_model(const dataset_t *ds, const model_config *cfg, uint64_t seed, size_t nstat,
              model_t *m);
/* The shipped Cu set (datasets/Cu/0_300_MOVEMENT), imported once per process. */
const dataset_t *mu_cu(void);
/* A small se_e2_a model for Cu (sel 81, embedding [8, 16, 16], axis 4, fitting [32, 32]: N = 1,433
 * for one type), so training runs stay short under ASan; the code paths are the paper model's. */
void mu_small_config(model_config *c);
/* Largest atom count of ds. */
size_t mu_max_atoms(const dataset_t *ds);

/* A recording optimizer for protocol tests: a type that behaves as `inner` and keeps, for its
 * first `max` (<= MU_REC_CAP) updates, the weights before the step, the signal h (or g) and e, in
 * mu_rec. mu_rec_clear frees them and starts a new recording. */
#define MU_REC_CAP 12
typedef struct {
    size_t n, N;
    double e[MU_REC_CAP];
    double *w[MU_REC_CAP], *sig[MU_REC_CAP]; /* weights before the step; h or g */
} mu_recording;
extern mu_recording mu_rec;
optim_type mu_recording_type(const optim_type *inner, size_t max);
void mu_rec_clear(void);

#endif
