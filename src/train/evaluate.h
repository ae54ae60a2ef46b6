/* evaluate: which frames a model is scored on, and its RMSEs (SPEC §4). The one implementation
 * behind the trainer's metrics and `rlekf eval`, so both score the same frames the same way.
 *
 * Split of each system of n frames: the test part is floor(test_fraction n) frames, either the
 * last ones ("tail", the paper's split) or a seeded random choice ("random": the stream
 * (stream_name, seed, RNG_SPLIT) shuffles the frames, system after system); each part is kept in
 * frame order, systems in dataset order.
 * RMSE of energy per atom: sqrt(mean_frames ((E^ - E)/n)^2); of force: sqrt(mean over all atoms and
 * components (F^ - F)^2).
 *
 * A training run records its split in its model files (root attribute "training_split", JSON,
 * keys as in the training config: split, test_fraction, seed, stream_name, max_train_frames), so
 * `rlekf eval` scores the test frames of that run, not frames it trained on. Numbers go through
 * cJSON, which prints 15 significant digits: exact for every fraction a config writes with up to
 * 15 digits (as the model section in the `config` attribute), seeds exact up to 2^53.
 */
#ifndef RLEKF_EVALUATE_H
#define RLEKF_EVALUATE_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "err.h"
#include "model.h"

/* Default test split (SPEC §4): the last floor(0.2 n) frames of each system of n frames. */
#define EVALUATE_TEST_FRACTION 0.2
/* Largest test fraction a config, a manifest, a split record or eval accepts. */
#define EVALUATE_TEST_FRACTION_MAX 0.9
/* Largest seed a split record holds exactly (a JSON number, a double): 2^53. */
#define EVALUATE_SEED_MAX 9007199254740992L
/* Room for a stream name (the default is the dataset file's stem). */
#define EVALUATE_STREAM_MAX 256

typedef enum { EVALUATE_SPLIT_TAIL, EVALUATE_SPLIT_RANDOM } evaluate_split_mode;

/* Everything that decides a run's train and test frames. */
typedef struct {
    evaluate_split_mode mode;
    double test_fraction;
    uint64_t seed;
    char stream_name[EVALUATE_STREAM_MAX];
    size_t max_train_frames; /* 0 = all; else an evenly spaced subset of the training frames */
} evaluate_split;

/* The split of a model file that records none: tail, EVALUATE_TEST_FRACTION, all frames. */
evaluate_split evaluate_default_split(void);
/* Names of the modes, indexed by evaluate_split_mode, NULL-terminated: "tail", "random". */
extern const char *const evaluate_split_mode_names[];

/* The train/test split of ds (arrays allocated here; the caller frees both). */
rk_status evaluate_split_frames(const dataset_t *ds, evaluate_split_mode mode, double test_fraction,
                                const char *stream_name, uint64_t seed, model_frame_ref **train,
                                size_t *n_train, model_frame_ref **test, size_t *n_test);
/* The frames a run with split s trains and is tested on: evaluate_split_frames, then the
 * training part cut to s->max_train_frames by evaluate_subset (the caller frees both). */
rk_status evaluate_frames(const dataset_t *ds, const evaluate_split *s, model_frame_ref **train,
                          size_t *n_train, model_frame_ref **test, size_t *n_test);
/* Evenly spaced subset of k of the n frames, in place (frame i*n/k for i < k); k = 0 or k >= n
 * keeps all. Returns the new count. */
size_t evaluate_subset(model_frame_ref *frames, size_t n, size_t k);

/* RMSE of energy per atom and force over frames. Non-finite predictions give NAN. */
rk_status evaluate_rmse(const model_t *m, model_ws *ws, const dataset_t *ds,
                        const model_frame_ref *frames, size_t n, double *rmse_e, double *rmse_f);
/* evaluate_rmse, also keeping the predictions (either may be NULL): energy (n) and force, frame
 * after frame, (sum over the frames of natoms, 3). */
rk_status evaluate_predict(const model_t *m, model_ws *ws, const dataset_t *ds,
                           const model_frame_ref *frames, size_t n, double *energy, double *force,
                           double *rmse_e, double *rmse_f);

/* The split as the JSON text recorded in model files (caller frees). */
char *evaluate_split_to_json(const evaluate_split *s);
/* Parse a recorded split; bad or unknown keys are RK_EINPUT prefixed with ctx. */
rk_status evaluate_split_from_json(const char *json, const char *ctx, evaluate_split *s);

#endif
