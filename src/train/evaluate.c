/* evaluate: the split of SPEC §4 and the RMSEs of a model over frames (see evaluate.h). */
#include "evaluate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "rng.h"

/* Largest recorded frame cap, as the training config accepts it. */
#define EVALUATE_FRAMES_MAX 100000000L

const char *const evaluate_split_mode_names[] = {"tail", "random", NULL};

evaluate_split evaluate_default_split(void) {
    evaluate_split s;
    memset(&s, 0, sizeof s);
    s.mode = EVALUATE_SPLIT_TAIL;
    s.test_fraction = EVALUATE_TEST_FRACTION;
    return s;
}

/* ------------------------------------------------------------------ split ---------------- */

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

rk_status evaluate_split_frames(const dataset_t *ds, evaluate_split_mode mode, double test_fraction,
                                const char *stream_name, uint64_t seed, model_frame_ref **train,
                                size_t *n_train, model_frame_ref **test, size_t *n_test) {
    size_t total = dataset_total_frames(ds);
    *train = rk_malloc(total * sizeof **train);
    *test = rk_malloc(total * sizeof **test);
    size_t *perm = rk_malloc(total * sizeof *perm);
    if (!*train || !*test || !perm) {
        free(*train);
        free(*test);
        free(perm);
        return RK_ENOMEM;
    }
    rng_t r;
    rng_stream(&r, stream_name, seed, RNG_SPLIT);
    size_t ntr = 0, nte = 0;
    for (size_t s = 0; s < ds->nsystems; s++) {
        size_t n = ds->sys[s].nframes, nt = (size_t)floor(test_fraction * (double)n);
        for (size_t f = 0; f < n; f++)
            perm[f] = f;
        if (mode == EVALUATE_SPLIT_RANDOM) {
            rng_shuffle(&r, perm, n);
            /* keep each part in frame order */
            qsort(perm, n - nt, sizeof *perm, cmp_size);
            qsort(perm + (n - nt), nt, sizeof *perm, cmp_size);
        }
        for (size_t f = 0; f < n; f++) {
            model_frame_ref ref = {s, perm[f]};
            if (f < n - nt)
                (*train)[ntr++] = ref;
            else
                (*test)[nte++] = ref;
        }
    }
    free(perm);
    *n_train = ntr;
    *n_test = nte;
    return RK_OK;
}

size_t evaluate_subset(model_frame_ref *frames, size_t n, size_t k) {
    if (k == 0 || k >= n) return n;
    for (size_t i = 0; i < k; i++)
        frames[i] = frames[(size_t)((double)i * (double)n / (double)k)];
    return k;
}

rk_status evaluate_frames(const dataset_t *ds, const evaluate_split *s, model_frame_ref **train,
                          size_t *n_train, model_frame_ref **test, size_t *n_test) {
    rk_status st = evaluate_split_frames(ds, s->mode, s->test_fraction, s->stream_name, s->seed,
                                         train, n_train, test, n_test);
    if (!st) *n_train = evaluate_subset(*train, *n_train, s->max_train_frames);
    return st;
}

/* ------------------------------------------------------------------ RMSE ----------------- */

rk_status evaluate_predict(const model_t *m, model_ws *ws, const dataset_t *ds,
                           const model_frame_ref *frames, size_t n, double *energy, double *force,
                           double *rmse_e, double *rmse_f) {
    double se = 0.0, sf = 0.0;
    size_t nf = 0;
    size_t maxat = 0;
    for (size_t i = 0; i < n; i++)
        if (ds->sys[frames[i].sys].natoms > maxat) maxat = ds->sys[frames[i].sys].natoms;
    double *scratch = force ? NULL : rk_malloc(3 * (maxat ? maxat : 1) * sizeof *scratch);
    if (!force && !scratch) return RK_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const ds_system *sys = &ds->sys[frames[i].sys];
        size_t fr = frames[i].frame, na = sys->natoms;
        rk_status st = model_set_frame(m, ws, sys, fr);
        if (st) {
            free(scratch);
            return st;
        }
        double *F = force ? force + nf : scratch; /* nf = components of the frames before */
        double E = model_forward(m, ws);
        model_backward(m, ws, NULL, F);
        if (energy) energy[i] = E;
        /* squared errors: ((E^ - E)/n)^2 per frame, (F^ - F)^2 per component */
        double de = (E - sys->energy[fr]) / (double)na;
        se += de * de;
        const double *Fl = sys->force + fr * na * 3;
        for (size_t k = 0; k < 3 * na; k++)
            sf += (F[k] - Fl[k]) * (F[k] - Fl[k]);
        nf += 3 * na;
    }
    free(scratch);
    *rmse_e = n ? sqrt(se / (double)n) : NAN;
    *rmse_f = nf ? sqrt(sf / (double)nf) : NAN;
    if (!isfinite(*rmse_e)) *rmse_e = NAN;
    if (!isfinite(*rmse_f)) *rmse_f = NAN;
    return RK_OK;
}

rk_status evaluate_rmse(const model_t *m, model_ws *ws, const dataset_t *ds,
                        const model_frame_ref *frames, size_t n, double *rmse_e, double *rmse_f) {
    return evaluate_predict(m, ws, ds, frames, n, NULL, NULL, rmse_e, rmse_f);
}

/* ------------------------------------------------------------------ record --------------- */

char *evaluate_split_to_json(const evaluate_split *s) {
    jsonw *o = jsonw_new_object();
    RK_ASSERT(s->mode == EVALUATE_SPLIT_TAIL || s->mode == EVALUATE_SPLIT_RANDOM);
    jsonw_add_str(o, "split", evaluate_split_mode_names[s->mode]);
    jsonw_add_num(o, "test_fraction", s->test_fraction);
    jsonw_add_num(o, "seed", (double)s->seed);
    jsonw_add_str(o, "stream_name", s->stream_name);
    jsonw_add_num(o, "max_train_frames", (double)s->max_train_frames);
    char *text = jsonw_print_compact(o);
    jsonw_free(o);
    return text;
}

rk_status evaluate_split_from_json(const char *json, const char *ctx, evaluate_split *s) {
    static const char *const keys[] = {"split",       "test_fraction",    "seed",
                                       "stream_name", "max_train_frames", NULL};
    jsonw *j = NULL;
    rk_status st = jsonw_parse_text(json, ctx, &j);
    if (st) return st;
    evaluate_split r = evaluate_default_split();
    int mode = (int)r.mode;
    long seed = 0, cap = 0;
    st = jsonw_check_keys(j, ctx, keys);
    if (!st) st = jsonw_get_choice(j, ctx, "split", 1, evaluate_split_mode_names, &mode);
    if (!st)
        st = jsonw_get_num(j, ctx, "test_fraction", 1, 0.0, EVALUATE_TEST_FRACTION_MAX,
                           &r.test_fraction);
    if (!st) st = jsonw_get_int(j, ctx, "seed", 1, 0, EVALUATE_SEED_MAX, &seed);
    if (!st) st = jsonw_get_str(j, ctx, "stream_name", 1, r.stream_name, sizeof r.stream_name);
    if (!st) st = jsonw_get_int(j, ctx, "max_train_frames", 0, 0, EVALUATE_FRAMES_MAX, &cap);
    jsonw_free(j);
    if (st) return st;
    r.mode = (evaluate_split_mode)mode;
    r.seed = (uint64_t)seed;
    r.max_train_frames = (size_t)cap;
    *s = r;
    return RK_OK;
}
