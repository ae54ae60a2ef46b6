/* The model's passes on several threads: E, F, dE/dw and J_c are bitwise the same with 1, 2 and
 * 3 OpenMP threads (the passes split pairs and atoms into chunks fixed by the shapes, and sum over
 * rows in the serial order), on Cu (one type, 72 atoms: many chunks of pairs per embedding net)
 * and H2O (two types: four embedding nets and two fitting nets of different sizes); also with the
 * residual timestep (resnet_dt) on both nets, whose idt terms are per-row products summed over
 * rows. */
#include <criterion/criterion.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "modelutil.h"
#include "rng.h"
#include "testutil.h"

/* Frames of each system compared, and the thread counts (3 leaves uneven shares of chunks). */
#define N_FRAMES 2
#define N_COUNTS 3
static const int THREAD_COUNTS[N_COUNTS] = {1, 2, 3};

typedef struct {
    double e;
    double *F, *g, *jac; /* (3A), (N), (N) */
} passes;

static void run_passes(const model_t *m, model_ws *ws, const ds_system *sys, size_t frame,
                       const double *c, passes *out) {
    cr_assert_eq(model_set_frame(m, ws, sys, frame), RK_OK, "%s", err_msg());
    out->e = model_forward(m, ws);
    model_backward(m, ws, out->g, out->F);
    model_force_jacobian(m, ws, c, out->jac);
}

static void check_dataset(const char *src, const model_config *cfg) {
    dataset_t ds;
    mu_load(src, "", &ds);
    model_t m;
    mu_model(&ds, cfg, 7, 4, &m);
    const ds_system *sys = &ds.sys[0];
    size_t na = sys->natoms, N = m.layout.n_params;
    model_ws *ws;
    cr_assert_eq(model_ws_create(&m, mu_max_atoms(&ds), &ws), RK_OK);
    /* a dense c exercises every pair's tangent */
    double *c = malloc(3 * na * sizeof *c);
    rng_t r;
    rng_seed(&r, 11);
    for (size_t i = 0; i < 3 * na; i++)
        c[i] = rng_normal(&r);
    passes p[N_COUNTS];
    int saved = omp_get_max_threads();
    for (size_t f = 0; f < N_FRAMES && f < sys->nframes; f++) {
        for (int t = 0; t < N_COUNTS; t++) {
            p[t].F = malloc(3 * na * sizeof(double));
            p[t].g = malloc(N * sizeof(double));
            p[t].jac = malloc(N * sizeof(double));
            omp_set_num_threads(THREAD_COUNTS[t]);
            run_passes(&m, ws, sys, f, c, &p[t]);
        }
        omp_set_num_threads(saved);
        for (int t = 1; t < N_COUNTS; t++) {
            int thr = THREAD_COUNTS[t];
            cr_expect(memcmp(&p[t].e, &p[0].e, sizeof p[0].e) == 0,
                      "%s frame %zu: E with %d threads %.17g, with 1 %.17g", src, f, thr, p[t].e,
                      p[0].e);
            cr_expect(memcmp(p[t].F, p[0].F, 3 * na * sizeof(double)) == 0,
                      "%s frame %zu: F differs with %d threads", src, f, thr);
            cr_expect(memcmp(p[t].g, p[0].g, N * sizeof(double)) == 0,
                      "%s frame %zu: dE/dw differs with %d threads", src, f, thr);
            cr_expect(memcmp(p[t].jac, p[0].jac, N * sizeof(double)) == 0,
                      "%s frame %zu: J_c differs with %d threads", src, f, thr);
        }
        /* the comparison is not of zeros */
        double s = 0;
        for (size_t i = 0; i < N; i++)
            s += p[0].jac[i] * p[0].jac[i];
        cr_expect(s > 0, "%s: J_c is zero", src);
        for (int t = 0; t < N_COUNTS; t++) {
            free(p[t].F);
            free(p[t].g);
            free(p[t].jac);
        }
    }
    free(c);
    model_ws_free(ws);
    model_free(&m);
    dataset_free(&ds);
}

Test(model_threads, cu_bitwise_across_thread_counts) {
    check_dataset("datasets/Cu/0_300_MOVEMENT", NULL);
}

Test(model_threads, h2o_bitwise_across_thread_counts) {
    check_dataset("datasets/H2O/data_0", NULL);
}

/* The paper's model (embedding [25, 25, 25], fitting [50, 50, 50]) with idt on layers 2 and 3 of
 * every net. */
Test(model_threads, h2o_resnet_dt_bitwise_across_thread_counts) {
    model_config c = model_default_config();
    c.resnet_dt = c.fitting_resnet_dt = 1;
    check_dataset("datasets/H2O/data_0", &c);
}
