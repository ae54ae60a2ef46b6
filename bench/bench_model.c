/* bench_model: time per frame of the model's passes with the paper's default model:
 *   E+F   = neighbour list + environment + forward + backward to positions
 *   dE/dw = neighbour list + environment + forward + backward to weights
 *   J_c   = neighbour list + environment + forward + backward + force Jacobian (from scratch)
 * and the ratio J_c / (E+F), with c on every atom; then the force Jacobian of one force group
 * (c on 6 atoms, SPEC §3) from scratch with the dense embedding tangent and with the sparse one
 * (model_force_jacobian's default), and the ratio of their tangent parts (each minus E+F): what
 * skipping the pairs with x' = 0 saves.
 * Usage: bench_model DATA.h5 [DATA.h5 ...]; prints a Markdown table.
 * Timing: median over repetitions of a sweep over up to 16 frames of the dataset. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "clock.h"
#include "h5io.h"
#include "model.h"
#include "rng.h"

#define BENCH_FRAMES 16
#define BENCH_REPS 7

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum { PASS_EF, PASS_GRAD, PASS_JAC, PASS_JAC6_DENSE, PASS_JAC6_SPARSE, PASS_N };

/* Atoms a force group seeds (SPEC §3). */
#define BENCH_GROUP_ATOMS 6

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_model DATA.h5 [DATA.h5 ...]\n");
        return 2;
    }
    blas_set_threads(1);
    printf("| dataset | atoms | pairs/frame | N params | E+F ms | dE/dw ms | J_c ms | J_c / (E+F) "
           "| group J_c dense ms | group J_c sparse ms | tangent part sparse / dense |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int a = 1; a < argc; a++) {
        dataset_t ds;
        memset(&ds, 0, sizeof ds);
        if (h5io_dataset_read(argv[a], &ds)) {
            fprintf(stderr, "bench_model: %s\n", err_msg());
            return 1;
        }
        ds_system *sys = &ds.sys[0];
        size_t nf = sys->nframes < BENCH_FRAMES ? sys->nframes : BENCH_FRAMES;
        model_frame_ref fr[BENCH_FRAMES];
        for (size_t f = 0; f < nf; f++)
            fr[f] = (model_frame_ref){0, f};
        model_config c = model_default_config();
        size_t counts[MODEL_MAX_TYPES];
        model_neighbor_stat(&ds, c.rcut, fr, nf, counts, NULL);
        c.n_sel = ds.ntypes;
        for (size_t t = 0; t < ds.ntypes; t++)
            c.sel[t] = counts[t] + 2;
        model_t m;
        if (model_create(&m, &c, ds.ntypes, ds.type_map) || model_compute_stats(&m, &ds, fr, nf)) {
            fprintf(stderr, "bench_model: %s\n", err_msg());
            return 1;
        }
        rng_t r;
        rng_seed(&r, 1);
        model_init_weights(&m, &r, &ds, fr, nf);
        model_ws *ws;
        model_ws_create(&m, sys->natoms, &ws);
        size_t N = m.layout.n_params, na = sys->natoms;
        double *g = malloc(N * sizeof *g), *jac = malloc(N * sizeof *jac);
        double *F = malloc(3 * na * sizeof *F), *cv = malloc(3 * na * sizeof *cv);
        double *c6 = calloc(3 * na, sizeof *c6);
        for (size_t i = 0; i < 3 * na; i++)
            cv[i] = rng_normal(&r);
        for (int k = 0; k < BENCH_GROUP_ATOMS; k++) {
            size_t i = rng_below(&r, na);
            for (int d = 0; d < 3; d++)
                c6[3 * i + d] = rng_normal(&r);
        }
        double med[PASS_N];
        size_t pairs = 0;
        for (int pass = 0; pass < PASS_N; pass++) {
            double t[BENCH_REPS];
            model_ws_dense_tangent(ws, pass == PASS_JAC6_DENSE);
            for (int rep = 0; rep < BENCH_REPS; rep++) {
                double t0 = clock_now_s();
                for (size_t f = 0; f < nf; f++) {
                    model_set_frame(&m, ws, sys, f);
                    model_forward(&m, ws);
                    model_backward(&m, ws, pass == PASS_GRAD ? g : NULL,
                                   pass == PASS_GRAD ? NULL : F);
                    if (pass == PASS_JAC) model_force_jacobian(&m, ws, cv, jac);
                    if (pass >= PASS_JAC6_DENSE) model_force_jacobian(&m, ws, c6, jac);
                }
                t[rep] = (clock_now_s() - t0) / (double)nf;
            }
            qsort(t, BENCH_REPS, sizeof t[0], cmp);
            med[pass] = t[BENCH_REPS / 2];
        }
        for (size_t f = 0; f < nf; f++) {
            model_set_frame(&m, ws, sys, f);
            pairs += model_ws_npairs(ws);
        }
        const char *base = strrchr(argv[a], '/');
        printf("| %s | %zu | %zu | %zu | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n",
               base ? base + 1 : argv[a], na, pairs / nf, N, 1e3 * med[PASS_EF],
               1e3 * med[PASS_GRAD], 1e3 * med[PASS_JAC], med[PASS_JAC] / med[PASS_EF],
               1e3 * med[PASS_JAC6_DENSE], 1e3 * med[PASS_JAC6_SPARSE],
               (med[PASS_JAC6_SPARSE] - med[PASS_EF]) / (med[PASS_JAC6_DENSE] - med[PASS_EF]));
        free(g);
        free(jac);
        free(F);
        free(cv);
        free(c6);
        model_ws_free(ws);
        model_free(&m);
        dataset_free(&ds);
    }
    return 0;
}
