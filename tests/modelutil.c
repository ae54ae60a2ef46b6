/* modelutil: shared fixtures for model and training tests (see modelutil.h). */
#include "modelutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "h5io.h"
#include "testutil.h"

/* sel = largest neighbour count + this margin, so that perturbed frames still fit. */
#define MU_SEL_MARGIN 4

void mu_load(const char *rel_src, const char *extra_args, dataset_t *ds) {
    static int counter;
    char out[256], args[4096], err[4096];
    snprintf(out, sizeof out, "mu-%d.h5", counter++);
    snprintf(args, sizeof args, "import %s -o %s %s", extra_args ? extra_args : "", tu_tmp(out),
             tu_src(rel_src));
    int rc = tu_rlekf(args, err, sizeof err);
    cr_assert_eq(rc, 0, "rlekf %s failed (%d): %s", args, rc, err);
    memset(ds, 0, sizeof *ds);
    rk_status st = h5io_dataset_read(tu_tmp(out), ds);
    cr_assert_eq(st, RK_OK, "%s", err_msg());
}

size_t mu_max_atoms(const dataset_t *ds) {
    size_t mx = 0;
    for (size_t s = 0; s < ds->nsystems; s++)
        if (ds->sys[s].natoms > mx) mx = ds->sys[s].natoms;
    return mx;
}

void mu_model(const dataset_t *ds, const model_config *cfg, uint64_t seed, size_t nstat,
              model_t *m) {
    model_config c = cfg ? *cfg : model_default_config();
    size_t total = dataset_total_frames(ds);
    model_frame_ref *all = malloc(total * sizeof *all);
    size_t n = 0;
    for (size_t s = 0; s < ds->nsystems; s++)
        for (size_t f = 0; f < ds->sys[s].nframes; f++)
            all[n++] = (model_frame_ref){s, f};
    size_t counts[MODEL_MAX_TYPES];
    double dmin;
    cr_assert_eq(model_neighbor_stat(ds, c.rcut, all, n, counts, &dmin), RK_OK, "%s", err_msg());
    c.n_sel = ds->ntypes;
    for (size_t a = 0; a < ds->ntypes; a++)
        c.sel[a] = counts[a] + MU_SEL_MARGIN;
    cr_assert_eq(model_create(m, &c, ds->ntypes, ds->type_map), RK_OK, "%s", err_msg());
    if (nstat > n) nstat = n;
    cr_assert_eq(model_compute_stats(m, ds, all, nstat), RK_OK, "%s", err_msg());
    rng_t r;
    rng_stream(&r, "test", seed, RNG_INIT);
    cr_assert_eq(model_init_weights(m, &r, ds, all, nstat), RK_OK, "%s", err_msg());
    free(all);
}

const dataset_t *mu_cu(void) {
    static dataset_t cu;
    static int loaded;
    if (!loaded) {
        mu_load("datasets/Cu/0_300_MOVEMENT", "", &cu);
        loaded = 1;
    }
    return &cu;
}

void mu_small_config(model_config *c) {
    *c = model_default_config();
    c->n_sel = 1;
    c->sel[0] = 81; /* Cu at rcut 6 has at most 81 neighbours (neighbor-stat) */
    c->neuron[0] = 8;
    c->neuron[1] = 16;
    c->neuron[2] = 16;
    c->axis_neuron = 4;
    c->n_fitting = 2;
    c->fitting_neuron[0] = 32;
    c->fitting_neuron[1] = 32;
}

/* ---- the recording optimizer (modelutil.h) ---- */

mu_recording mu_rec;
static size_t rec_max;
static const optim_type *rec_inner;

/* The hooks hand the wrapped type itself on, so plug-in data (a Kalman split rule) still applies. */
static size_t rec_state_bytes(const optim_type *t, const optim_params *p, const layout_t *L) {
    (void)t;
    return rec_inner->state_bytes(rec_inner, p, L);
}

static rk_status rec_init(const optim_type *t, void **state, const optim_params *p,
                          const layout_t *L) {
    (void)t;
    mu_rec.N = L->n_params;
    return rec_inner->init(rec_inner, state, p, L);
}

static rk_status rec_step(void *state, double *w, const optim_signal *sig) {
    if (mu_rec.n < rec_max) {
        size_t k = mu_rec.n++, N = mu_rec.N;
        mu_rec.w[k] = malloc(N * sizeof(double));
        mu_rec.sig[k] = malloc(N * sizeof(double));
        memcpy(mu_rec.w[k], w, N * sizeof(double));
        memcpy(mu_rec.sig[k], sig->h ? sig->h : sig->g, N * sizeof(double));
        mu_rec.e[k] = sig->e;
    }
    return rec_inner->step(state, w, sig);
}

static void rec_report(const void *state, optim_report_t *r) {
    rec_inner->report(state, r);
}

static void rec_free(void *state) {
    rec_inner->free(state);
}

optim_type mu_recording_type(const optim_type *inner, size_t max) {
    RK_ASSERT(max <= MU_REC_CAP);
    rec_inner = inner;
    rec_max = max;
    optim_type t = *inner;
    t.name = "recording";
    t.state_bytes = rec_state_bytes;
    t.init = rec_init;
    t.step = rec_step;
    t.report = rec_report;
    t.free = rec_free;
    return t;
}

void mu_rec_clear(void) {
    for (size_t k = 0; k < mu_rec.n; k++) {
        free(mu_rec.w[k]);
        free(mu_rec.sig[k]);
    }
    memset(&mu_rec, 0, sizeof mu_rec);
}
