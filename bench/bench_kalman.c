/* bench_kalman: time one Kalman update on the one-type default DP layout (N = 26551) for rlekf
 * with several block sizes and for gekf, with each compute kernel, and compare the memory
 * bandwidth it reaches with a STREAM triad measured in the same run.
 *
 * Effective bandwidth = (bytes of the packed triangles read + written per update) / time:
 * the fused kernel reads and writes every stored entry once (2 × packed bytes); the unfused
 * kernels read it in the mat-vec and read+write it in the rank-1 update (3 ×).
 * STREAM triad: a[i] = b[i] + s·c[i] over three arrays far larger than the caches, counted as 24
 * bytes per iteration, best of several repetitions, same OpenMP threads as the Kalman sweep.
 * Float32 covariance: a second table times the fused kernel with covariance "float32" against
 * "float64" for the same blocks, the two states side by side with alternating updates on the same
 * measurements (so that a change of machine load affects both alike), and gives the ratios of
 * update time and of state bytes.
 * Prints Markdown tables to stdout.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "clock.h"
#include "kalman.h"
#include "layout.h"
#include "optim.h"
#include "registry.h"
#include "rng.h"

/* Triad arrays: 64 Mi doubles each (512 MiB), three of them: far beyond the 32 MiB L3. */
#define TRIAD_N ((size_t)64 << 20)
#define TRIAD_REPS 6
#define TRIAD_BYTES_PER_ITER 24.0
/* Updates before timing (the first touches fresh pages and has no pending rank-1 update), and
 * timed updates per configuration (the median is reported). */
#define WARMUP_UPDATES 2
#define TIMED_UPDATES 7
#define BENCH_SEED 2023

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Best triad bandwidth in GB/s (1e9 bytes/s). */
static double stream_triad(void) {
    double *a = malloc(TRIAD_N * sizeof *a), *b = malloc(TRIAD_N * sizeof *b);
    double *c = malloc(TRIAD_N * sizeof *c);
    if (!a || !b || !c) {
        fprintf(stderr, "bench_kalman: cannot allocate the triad arrays\n");
        exit(1);
    }
    const double s = 3.0;
    /* first touch by the threads that will use each part */
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < TRIAD_N; i++) {
        a[i] = 0.0;
        b[i] = 1.0;
        c[i] = 2.0;
    }
    double best = INFINITY;
    for (int r = 0; r < TRIAD_REPS; r++) {
        double t0 = clock_now_s();
        /* a = b + s·c */
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < TRIAD_N; i++)
            a[i] = b[i] + s * c[i];
        double t = clock_now_s() - t0;
        if (t < best) best = t;
    }
    /* keep the result observable so the loop cannot be dropped */
    if (a[TRIAD_N / 2] != 7.0) fprintf(stderr, "bench_kalman: triad check failed\n");
    free(a);
    free(b);
    free(c);
    return TRIAD_BYTES_PER_ITER * (double)TRIAD_N / best / 1e9;
}

/* The one-type default layout of SPEC §2 (embedding 1→25→25→25, fitting 400→50→50→50→1). */
static void dp_layout(layout_t *L) {
    const size_t emb[] = {1, 25, 25, 25}, fit[] = {400, 50, 50, 50, 1};
    char name[LAYOUT_NAME_MAX];
    layout_init(L, 0);
    for (size_t k = 0; k < 3; k++) {
        snprintf(name, sizeof name, "embed[0,0].layer%zu.W", k + 1);
        layout_add(L, name, emb[k], emb[k + 1]);
        snprintf(name, sizeof name, "embed[0,0].layer%zu.b", k + 1);
        layout_add(L, name, 1, emb[k + 1]);
    }
    for (size_t k = 0; k < 4; k++) {
        snprintf(name, sizeof name, "fit[0].layer%zu.W", k + 1);
        layout_add(L, name, fit[k], fit[k + 1]);
        snprintf(name, sizeof name, "fit[0].layer%zu.b", k + 1);
        layout_add(L, name, 1, fit[k + 1]);
    }
}

typedef struct {
    const char *optimizer;
    size_t block_size; /* 0 for gekf */
} config;

/* Median update time (s) of a float64 and a float32 state of the same configuration, updated
 * alternately on the same measurements. */
static void time_f64_f32(const optim_type *t, const optim_params *p64, const layout_t *L, double *h,
                         double med[2], size_t bytes[2], size_t packed[2], size_t *blocks) {
    const size_t N = L->n_params;
    optim_params p[2] = {*p64, *p64};
    if (optim_set_choice(t, &p[1], "bench", "covariance", "float32") != RK_OK) {
        fprintf(stderr, "bench_kalman: %s\n", err_msg());
        exit(1);
    }
    optim_t *s[2] = {NULL, NULL};
    double *w[2] = {calloc(N, sizeof(double)), calloc(N, sizeof(double))};
    if (!w[0] || !w[1]) exit(1);
    for (int v = 0; v < 2; v++)
        if (optim_create(t, &p[v], L, &s[v]) != RK_OK) {
            fprintf(stderr, "bench_kalman: %s\n", err_msg());
            exit(1);
        }
    rng_t r;
    rng_seed(&r, BENCH_SEED);
    double times[2][TIMED_UPDATES];
    for (size_t u = 0; u < WARMUP_UPDATES + TIMED_UPDATES; u++) {
        for (size_t j = 0; j < N; j++)
            h[j] = rng_normal(&r) / sqrt((double)N);
        optim_signal sig = {.e = rng_normal(&r), .h = h, .g = NULL};
        for (int v = 0; v < 2; v++) {
            double t0 = clock_now_s();
            if (optim_step(s[v], w[v], &sig) != RK_OK) {
                fprintf(stderr, "bench_kalman: %s\n", err_msg());
                exit(1);
            }
            if (u >= WARMUP_UPDATES) times[v][u - WARMUP_UPDATES] = clock_now_s() - t0;
        }
    }
    for (int v = 0; v < 2; v++) {
        qsort(times[v], TIMED_UPDATES, sizeof times[v][0], cmp_double);
        med[v] = times[v][TIMED_UPDATES / 2];
        optim_report_t rep;
        optim_report(s[v], &rep);
        bytes[v] = rep.state_bytes;
        packed[v] = kalman_packed_bytes(s[v]);
        *blocks = rep.n_blocks;
        optim_free(s[v]);
        free(w[v]);
    }
}

static const char *kernel_name(kalman_kernel k) {
    switch (k) {
    case KALMAN_KERNEL_FUSED:
        return "fused (own, OpenMP)";
    case KALMAN_KERNEL_LOOPS:
        return "spr + spmv (own, OpenMP)";
    case KALMAN_KERNEL_BLAS:
        return "dspr + dspmv (OpenBLAS)";
    }
    return "?";
}

/* The float32 table: each configuration with covariance float64 and float32 side by side. */
static void f32_table(const config *cfgs, size_t ncfg, const layout_t *L, double *h) {
    printf("\nFloat32 covariance against float64, fused kernel, same blocks, updates alternating "
           "between the two states:\n\n");
    printf("| optimizer | N_b | blocks | state MiB f64 | state MiB f32 | bytes f32/f64 | packed "
           "f32/f64 | ms/update f64 | ms/update f32 | time f32/f64 |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    fflush(stdout);
    for (size_t c = 0; c < ncfg; c++) {
        const optim_type *t = optim_find(cfgs[c].optimizer);
        optim_params p;
        optim_default_params(t, &p);
        if (cfgs[c].block_size &&
            optim_set_param(t, &p, "bench", "block_size", (double)cfgs[c].block_size) != RK_OK) {
            fprintf(stderr, "bench_kalman: %s\n", err_msg());
            exit(1);
        }
        double med[2];
        size_t bytes[2], packed[2], blocks;
        time_f64_f32(t, &p, L, h, med, bytes, packed, &blocks);
        char nb[32];
        if (cfgs[c].block_size)
            snprintf(nb, sizeof nb, "%zu", cfgs[c].block_size);
        else
            snprintf(nb, sizeof nb, "%zu (all)", L->n_params);
        const double mib = 1024.0 * 1024.0;
        printf("| %s | %s | %zu | %.1f | %.1f | %.3f | %.3f | %.2f | %.2f | %.2f |\n", t->name, nb,
               blocks, (double)bytes[0] / mib, (double)bytes[1] / mib,
               (double)bytes[1] / (double)bytes[0], (double)packed[1] / (double)packed[0],
               1e3 * med[0], 1e3 * med[1], med[1] / med[0]);
        fflush(stdout);
    }
    printf("\nstate: all optimizer memory (packed triangles + O(N) double vectors + bookkeeping); "
           "packed: the triangles alone. ms/update: median of %d updates after %d warm-up "
           "updates.\n",
           TIMED_UPDATES, WARMUP_UPDATES);
}

int main(int argc, char **argv) {
    int all_kernels = argc > 1 && strcmp(argv[1], "--all-kernels") == 0;
    /* --float32-only: just the float32 table (no triad, no kernel table) */
    int f32_only = argc > 1 && strcmp(argv[1], "--float32-only") == 0;
    if (argc > 1 && !all_kernels && !f32_only) {
        fprintf(stderr, "usage: bench_kalman [--all-kernels | --float32-only]\n");
        return 2;
    }
    const int threads = omp_get_max_threads();
    blas_set_threads(threads);

    layout_t L;
    dp_layout(&L);
    const size_t N = L.n_params;
    double *w = calloc(N, sizeof *w), *h = malloc(N * sizeof *h);
    if (!w || !h) return 1;

    const config cfgs[] = {
        {"rlekf", 1024}, {"rlekf", 2048}, {"rlekf", 5120}, {"rlekf", 10240}, {"gekf", 0}};
    const kalman_kernel kernels[] = {KALMAN_KERNEL_FUSED, KALMAN_KERNEL_LOOPS, KALMAN_KERNEL_BLAS};
    const size_t nk = all_kernels ? 3 : 1;
    if (f32_only) {
        printf("%d threads\n", threads);
        f32_table(cfgs, sizeof cfgs / sizeof cfgs[0], &L, h);
        free(w);
        free(h);
        layout_free(&L);
        return 0;
    }
    const double triad = stream_triad();

    printf("Kalman update on the one-type default DP layout (N = %zu), %d threads, %s\n\n", N,
           threads, blas_config());
    printf("STREAM triad (a = b + s*c, 3 x %zu Mi doubles, best of %d): %.1f GB/s\n\n",
           TRIAD_N >> 20, TRIAD_REPS, triad);
    printf("| optimizer | N_b | blocks | state MiB | kernel | ms/update | GB/s | %% of triad |\n");
    printf("|---|---:|---:|---:|---|---:|---:|---:|\n");
    fflush(stdout);
    for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) {
        const optim_type *t = optim_find(cfgs[c].optimizer);
        optim_params p;
        optim_default_params(t, &p);
        if (cfgs[c].block_size &&
            optim_set_param(t, &p, "bench", "block_size", (double)cfgs[c].block_size) != RK_OK) {
            fprintf(stderr, "bench_kalman: %s\n", err_msg());
            return 1;
        }
        for (size_t k = 0; k < nk; k++) {
            optim_t *s = NULL;
            if (optim_create(t, &p, &L, &s) != RK_OK) {
                fprintf(stderr, "bench_kalman: %s\n", err_msg());
                return 1;
            }
            kalman_set_kernel(s, kernels[k]);
            rng_t r;
            rng_seed(&r, BENCH_SEED);
            double times[TIMED_UPDATES];
            for (size_t u = 0; u < WARMUP_UPDATES + TIMED_UPDATES; u++) {
                for (size_t j = 0; j < N; j++)
                    h[j] = rng_normal(&r) / sqrt((double)N);
                optim_signal sig = {.e = rng_normal(&r), .h = h, .g = NULL};
                double t0 = clock_now_s();
                if (optim_step(s, w, &sig) != RK_OK) {
                    fprintf(stderr, "bench_kalman: %s\n", err_msg());
                    return 1;
                }
                if (u >= WARMUP_UPDATES) times[u - WARMUP_UPDATES] = clock_now_s() - t0;
            }
            qsort(times, TIMED_UPDATES, sizeof times[0], cmp_double);
            const double tmed = times[TIMED_UPDATES / 2];
            const double packed = (double)kalman_packed_bytes(s);
            const double passes = kernels[k] == KALMAN_KERNEL_FUSED ? 2.0 : 3.0;
            const double gbs = passes * packed / tmed / 1e9;
            optim_report_t rep;
            optim_report(s, &rep);
            char nb[32];
            if (cfgs[c].block_size)
                snprintf(nb, sizeof nb, "%zu", cfgs[c].block_size);
            else
                snprintf(nb, sizeof nb, "%zu (all)", N);
            printf("| %s | %s | %zu | %.1f | %s | %.2f | %.1f | %.0f %% |\n", t->name, nb,
                   rep.n_blocks, (double)rep.state_bytes / (1024.0 * 1024.0),
                   kernel_name(kernels[k]), 1e3 * tmed, gbs, 100.0 * gbs / triad);
            fflush(stdout);
            optim_free(s);
        }
    }
    printf("\nms/update: median of %d updates after %d warm-up updates. GB/s: bytes of the packed "
           "covariance triangles moved per update (2 x for the fused kernel, which reads and "
           "writes each entry once; 3 x for the unfused ones) / time. %% of triad: that bandwidth "
           "over the STREAM triad's above (24 bytes/iteration, not counting write-allocate "
           "traffic, so a read-mostly sweep can exceed 100 %%).\n",
           TIMED_UPDATES, WARMUP_UPDATES);

    f32_table(cfgs, sizeof cfgs / sizeof cfgs[0], &L, h);
    free(w);
    free(h);
    layout_free(&L);
    return 0;
}
