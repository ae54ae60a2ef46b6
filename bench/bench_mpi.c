/* bench_mpi: time one Kalman update with the covariance distributed over the ranks of an MPI job
 * (run it as `mpirun -np R build/bench_mpi`), on the one-type default DP layout of SPEC §2
 * (N = 26551): rlekf N_b 5120 (7 blocks; at R > 1 some are cut into row slices) and gekf
 * (one block of 26551: 2.6 GiB in all, split over the ranks). Prints one Markdown row per
 * configuration: R, ms per update (median of the repeats), the share of that time rank 0 spent
 * inside collectives (the all-gather of k and the guard's reduction, including waiting for the
 * slowest rank), the bytes rank 0 sent per update, and its state bytes. Rank 0 prints. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kalman.h"
#include "layout.h"
#include "model.h"
#include "optim.h"
#include "par.h"
#include "registry.h"
#include "rng.h"

/* Updates timed per configuration after WARMUP untimed ones (the first has no pending rank-1). */
#define WARMUP 2
#define REPEATS 7

/* The one-type default model of SPEC §2 (sel 81, Cu): its layout is the one training uses. */
static rk_status dp_model(model_t *m) {
    model_config c = model_default_config();
    c.n_sel = 1;
    c.sel[0] = 81;
    char type_map[1][DS_SYMBOL_MAX] = {"Cu"};
    return model_create(m, &c, 1, type_map);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int bench(const char *opt, size_t nb, const layout_t *L) {
    const optim_type *t = optim_find(opt);
    optim_params p;
    optim_default_params(t, &p);
    if (nb) p.v[KALMAN_P_BLOCK_SIZE] = (double)nb;
    optim_t *o;
    if (optim_create(t, &p, L, &o)) {
        if (par_is_root()) fprintf(stderr, "bench_mpi: %s\n", err_msg());
        return 1;
    }
    const size_t N = L->n_params;
    double *w = calloc(N, sizeof *w), *h = calloc(N, sizeof *h);
    rng_t g;
    rng_stream(&g, "bench_mpi", 1, RNG_TEST);
    for (size_t i = 0; i < N; i++)
        h[i] = 1e-2 * rng_normal(&g); /* the same h on every rank: the same stream */
    optim_signal sig = {1e-3, h, NULL};
    double ms[REPEATS], comm[REPEATS], bytes = 0;
    for (int r = 0; r < WARMUP + REPEATS; r++) {
        par_barrier();
        par_stats_reset();
        const double t0 = clock_now_s();
        if (optim_step(o, w, &sig)) return 1;
        const double dt = clock_now_s() - t0;
        par_stats s;
        par_stats_get(&s);
        if (r >= WARMUP) {
            ms[r - WARMUP] = 1e3 * dt;
            comm[r - WARMUP] = dt > 0 ? s.seconds / dt : 0;
            bytes = s.bytes_sent;
        }
    }
    qsort(ms, REPEATS, sizeof *ms, cmp_d);
    qsort(comm, REPEATS, sizeof *comm, cmp_d);
    optim_report_t rep;
    optim_report(o, &rep);
    if (par_is_root())
        printf("| %s%s%.0zu | %d | %.2f | %.0f %% | %.1f KiB | %.1f MiB |\n", opt, nb ? " N_b " : "",
               nb, par_size(), ms[REPEATS / 2], 100.0 * comm[REPEATS / 2], bytes / 1024.0,
               (double)rep.state_bytes / 1048576.0);
    optim_free(o);
    free(w);
    free(h);
    return 0;
}

int main(int argc, char **argv) {
    if (par_init(&argc, &argv)) {
        fprintf(stderr, "bench_mpi: %s\n", err_msg());
        return 1;
    }
    model_t m;
    if (dp_model(&m)) {
        fprintf(stderr, "bench_mpi: %s\n", err_msg());
        par_abort(1);
    }
    const layout_t *L = &m.layout;
    if (par_is_root() && (argc < 2 || strcmp(argv[1], "--no-header") != 0))
        printf("| optimizer | ranks | ms/update (median) | in collectives (rank 0) | sent/update "
               "(rank 0) | state (rank 0) |\n|---|---|---|---|---|---|\n");
    int st = bench("rlekf", 5120, L);
    if (!st) st = bench("gekf", 0, L);
    model_free(&m);
    if (st) par_abort(1);
    par_finalize();
    return 0;
}
