/* bench_train: time per training image with the paper's model and protocol (SPEC §4: one energy
 * update, then four force groups of six atoms, each group recomputing the forces and its J_c;
 * Adam: one E+F+dE/dw+J_c per image), split into model passes, optimizer updates and the rest
 * (signals, sign folds), next to the floor of a Kalman image: 5 x the mean update time measured
 * in the same run. Per dataset, optimizer (rlekf N_b 5120 with covariance float64 and float32,
 * adam) and thread count (1, 2). A second table, when the model's tangent sparsity is asked for
 * (always), gives the share of pairs and centres a force group's c reaches.
 * Usage: bench_train [--images K] DATA.h5 [DATA.h5 ...]; prints Markdown tables.
 * The machine may be shared: compare the ratios within one run, not the absolute times. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "clock.h"
#include "h5io.h"
#include "model.h"
#include "optim.h"
#include "registry.h"
#include "rng.h"

#define DEFAULT_IMAGES 8
#define STAT_FRAMES 16
#define FORCE_GROUPS 4
#define GROUP_ATOMS 6
#define KALMAN_UPDATES (1 + FORCE_GROUPS)
#define RLEKF_BLOCK 5120
#define PREF_E 1.0
#define PREF_F 2.0
#define SEL_MARGIN 2

typedef struct {
    const char *type, *covariance;
} variant;

typedef struct {
    double model, update, total;
    size_t n_updates;
} split;

typedef struct {
    model_t m;
    model_ws *ws;
    const ds_system *sys;
    double *h, *g, *F, *c;
} bench_model;

static int setup(const dataset_t *ds, bench_model *b) {
    b->sys = &ds->sys[0];
    size_t nf = b->sys->nframes < STAT_FRAMES ? b->sys->nframes : STAT_FRAMES;
    model_frame_ref fr[STAT_FRAMES];
    for (size_t f = 0; f < nf; f++)
        fr[f] = (model_frame_ref){0, f};
    model_config c = model_default_config();
    size_t counts[MODEL_MAX_TYPES];
    if (model_neighbor_stat(ds, c.rcut, fr, nf, counts, NULL)) return 1;
    c.n_sel = ds->ntypes;
    for (size_t t = 0; t < ds->ntypes; t++)
        c.sel[t] = counts[t] + SEL_MARGIN;
    rng_t r;
    rng_seed(&r, 1);
    if (model_create(&b->m, &c, ds->ntypes, (char(*)[DS_SYMBOL_MAX])ds->type_map) ||
        model_compute_stats(&b->m, ds, fr, nf) || model_init_weights(&b->m, &r, ds, fr, nf) ||
        model_ws_create(&b->m, b->sys->natoms, &b->ws))
        return 1;
    size_t N = b->m.layout.n_params, na = b->sys->natoms;
    b->h = malloc(N * sizeof *b->h);
    b->g = malloc(N * sizeof *b->g);
    b->F = malloc(3 * na * sizeof *b->F);
    b->c = malloc(3 * na * sizeof *b->c);
    return !(b->h && b->g && b->F && b->c);
}

/* One Kalman image of the protocol (as train.c's kalman_image), timed by part. */
static int kalman_image(bench_model *b, optim_t *o, size_t frame, rng_t *r, split *s) {
    const ds_system *sys = b->sys;
    size_t na = sys->natoms, N = b->m.layout.n_params;
    double n = (double)na, t0 = clock_now_s(), t;
    if (model_set_frame(&b->m, b->ws, sys, frame)) return 1;
    double E = model_forward(&b->m, b->ws);
    model_backward(&b->m, b->ws, b->h, NULL);
    s->model += clock_now_s() - t0;
    double e = PREF_E * (sys->energy[frame] - E) / n, sgn = e < 0 ? -1.0 : 1.0;
    for (size_t i = 0; i < N; i++)
        b->h[i] *= sgn * PREF_E / n;
    optim_signal sig = {sgn * e, b->h, NULL};
    t = clock_now_s();
    if (optim_step(o, b->m.w, &sig)) return 1;
    s->update += clock_now_s() - t;
    s->n_updates++;
    const double *Fl = sys->force + frame * na * 3;
    double ncomp = 3.0 * GROUP_ATOMS;
    for (size_t grp = 0; grp < FORCE_GROUPS; grp++) {
        t = clock_now_s();
        model_forward(&b->m, b->ws);
        model_backward(&b->m, b->ws, NULL, b->F);
        s->model += clock_now_s() - t;
        memset(b->c, 0, 3 * na * sizeof *b->c);
        double sum_abs = 0.0;
        for (size_t k = 0; k < GROUP_ATOMS; k++) {
            size_t i = rng_below(r, na);
            for (int al = 0; al < 3; al++) {
                double d = PREF_F * (Fl[3 * i + al] - b->F[3 * i + al]);
                sum_abs += fabs(d);
                b->c[3 * i + al] += (d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0) * PREF_F / (n * ncomp);
            }
        }
        t = clock_now_s();
        model_force_jacobian(&b->m, b->ws, b->c, b->h);
        s->model += clock_now_s() - t;
        optim_signal fs = {sum_abs / ncomp / n, b->h, NULL};
        t = clock_now_s();
        if (optim_step(o, b->m.w, &fs)) return 1;
        s->update += clock_now_s() - t;
        s->n_updates++;
    }
    s->total += clock_now_s() - t0;
    return 0;
}

/* One Adam image (as train.c's gradient_image), timed by part. */
static int adam_image(bench_model *b, optim_t *o, size_t frame, split *s) {
    const ds_system *sys = b->sys;
    size_t na = sys->natoms, N = b->m.layout.n_params;
    double n = (double)na, t0 = clock_now_s();
    optim_report_t rep;
    optim_report(o, &rep);
    if (model_set_frame(&b->m, b->ws, sys, frame)) return 1;
    double E = model_forward(&b->m, b->ws);
    model_backward(&b->m, b->ws, b->g, b->F);
    const double *Fl = sys->force + frame * na * 3;
    for (size_t k = 0; k < 3 * na; k++)
        b->c[k] = 2.0 * rep.pref_f * (b->F[k] - Fl[k]) / (3.0 * n);
    model_force_jacobian(&b->m, b->ws, b->c, b->h);
    s->model += clock_now_s() - t0;
    blas_axpy(N, 2.0 * rep.pref_e * (E - sys->energy[frame]) / (n * n), b->g, b->h);
    optim_signal sig = {0.0, NULL, b->h};
    double t = clock_now_s();
    if (optim_step(o, b->m.w, &sig)) return 1;
    s->update += clock_now_s() - t;
    s->n_updates++;
    s->total += clock_now_s() - t0;
    return 0;
}

static int run_variant(bench_model *b, const variant *v, size_t images, split *s) {
    const optim_type *t = optim_find(v->type);
    if (!t) return 1;
    optim_params p;
    optim_default_params(t, &p);
    int kalman = strcmp(v->type, "adam") != 0;
    if (kalman && (optim_set_param(t, &p, "bench", "block_size", RLEKF_BLOCK) ||
                   optim_set_choice(t, &p, "bench", "covariance", v->covariance)))
        return 1;
    optim_run_info run = {images + 1};
    optim_t *o;
    if (optim_resolve(t, &p, &run) || optim_create(t, &p, &b->m.layout, &o)) return 1;
    rng_t r;
    rng_seed(&r, 2);
    size_t nf = b->sys->nframes;
    memset(s, 0, sizeof *s);
    split warm;
    memset(&warm, 0, sizeof warm);
    int bad = kalman ? kalman_image(b, o, 0, &r, &warm) : adam_image(b, o, 0, &warm);
    for (size_t k = 1; !bad && k <= images; k++)
        bad = kalman ? kalman_image(b, o, k % nf, &r, s) : adam_image(b, o, k % nf, s);
    optim_free(o);
    return bad;
}

/* Share of pairs with a seeded end and of centres whose descriptor a group's c changes, over
 * groups of GROUP_ATOMS random atoms on the first frames. */
static void sparsity_row(const char *name, bench_model *b) {
    size_t na = b->sys->natoms, frames = b->sys->nframes < STAT_FRAMES ? b->sys->nframes : STAT_FRAMES;
    rng_t r;
    rng_seed(&r, 3);
    double pairs = 0, centres = 0;
    size_t ap, ac;
    for (size_t f = 0; f < frames; f++) {
        if (model_set_frame(&b->m, b->ws, b->sys, f)) return;
        memset(b->c, 0, 3 * na * sizeof *b->c);
        for (size_t k = 0; k < GROUP_ATOMS; k++)
            b->c[3 * rng_below(&r, na)] = 1.0;
        model_tangent_support(&b->m, b->ws, b->c, &ap, &ac);
        pairs += (double)ap / (double)model_ws_npairs(b->ws);
        centres += (double)ac / (double)na;
    }
    printf("| %s | %zu | %zu | %.1f %% | %.1f %% |\n", name, na, model_ws_npairs(b->ws),
           100.0 * pairs / (double)frames, 100.0 * centres / (double)frames);
}

int main(int argc, char **argv) {
    size_t images = DEFAULT_IMAGES;
    int a = 1;
    if (a + 1 < argc && strcmp(argv[a], "--images") == 0) {
        images = (size_t)strtoul(argv[a + 1], NULL, 10);
        a += 2;
    }
    if (a >= argc || images == 0) {
        fprintf(stderr, "usage: bench_train [--images K] DATA.h5 [DATA.h5 ...]\n");
        return 2;
    }
    const variant vars[] = {{"rlekf", "float64"}, {"rlekf", "float32"}, {"adam", "-"}};
    const int threads[] = {1, 2};
    printf("Time per training image, %zu images after one warm-up; model = passes, update = "
           "optimizer steps, floor = %d x mean update (Kalman only), all measured in this run\n\n",
           images, KALMAN_UPDATES);
    printf("| dataset | optimizer | covariance | threads | ms/image | model ms | update ms | rest "
           "ms | floor ms | image / floor |\n");
    printf("|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    int nd = argc - a;
    bench_model *bm = calloc((size_t)nd, sizeof *bm);
    dataset_t *ds = calloc((size_t)nd, sizeof *ds);
    const char **names = calloc((size_t)nd, sizeof *names);
    for (int d = 0; d < nd; d++) {
        names[d] = strrchr(argv[a + d], '/') ? strrchr(argv[a + d], '/') + 1 : argv[a + d];
        if (h5io_dataset_read(argv[a + d], &ds[d]) || setup(&ds[d], &bm[d])) {
            fprintf(stderr, "bench_train: %s: %s\n", argv[a + d], err_msg());
            return 1;
        }
        for (size_t v = 0; v < sizeof vars / sizeof vars[0]; v++)
            for (size_t ti = 0; ti < sizeof threads / sizeof threads[0]; ti++) {
                /* as `rlekf train` runs (cli/main.c): the threads are OpenMP's, BLAS serial */
                omp_set_num_threads(threads[ti]);
                blas_set_threads(1);
                split s;
                if (run_variant(&bm[d], &vars[v], images, &s)) {
                    fprintf(stderr, "bench_train: %s %s: %s\n", names[d], vars[v].type, err_msg());
                    return 1;
                }
                double k = 1e3 / (double)images;
                int kal = strcmp(vars[v].type, "adam") != 0;
                double floor_ms = kal ? KALMAN_UPDATES * 1e3 * s.update / (double)s.n_updates : NAN;
                printf("| %s | %s | %s | %d | %.1f | %.1f | %.1f | %.1f | ", names[d],
                       vars[v].type, vars[v].covariance, threads[ti], s.total * k, s.model * k,
                       s.update * k, (s.total - s.model - s.update) * k);
                if (kal)
                    printf("%.1f | %.2f |\n", floor_ms, s.total * k / floor_ms);
                else
                    printf("- | - |\n");
                fflush(stdout);
            }
    }
    printf("\nSparse tangent: a force group seeds c on %d atoms; pairs with a seeded end carry a "
           "non-zero embedding tangent, centres with a seeded atom or neighbour a changed "
           "descriptor (mean over %d frames)\n\n",
           GROUP_ATOMS, STAT_FRAMES);
    printf("| dataset | atoms | pairs | pairs with a seeded end | centres reached |\n");
    printf("|---|---:|---:|---:|---:|\n");
    for (int d = 0; d < nd; d++)
        sparsity_row(names[d], &bm[d]);
    return 0;
}
