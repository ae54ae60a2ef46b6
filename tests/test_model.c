/* Model derivatives and invariances (SPEC §2): F, dE/dw and J_c against central finite
 * differences, on synthetic frames and on real frames of Cu (one type), H2O and LiGePS (several
 * types), also with DeePMD-kit's residual timestep (resnet_dt) on both nets, where the idt entries
 * of dE/dw and J_c are checked on their own; invariance of E under translation, rotation,
 * permutation and re-wrapping; the layout's roles and order, and the seeded draws by role. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "modelutil.h"
#include "rng.h"
#include "testutil.h"

/* Central differences of 4th order with these steps leave truncation error ~h^4 (< 1e-12
 * relative for tanh nets of O(1) curvature) and rounding error ~eps*|f|/h < 1e-9: both far
 * below the required 1e-6. Weights are O(1); positions are O(1) Å. */
#define FD_STEP_W 1e-4
#define FD_STEP_R 1e-4
/* The acceptance threshold of the issue: relative error <= 1e-6. */
#define FD_REL_TOL 1e-6
/* Invariances hold to rounding: E is a sum of ~1e2 O(1) atomic terms. */
#define INVARIANCE_REL_TOL 1e-10
/* Forces are sums of ~1e2 pair terms that largely cancel: rounding relative to the largest
 * force component stays below this. */
#define FORCE_INVARIANCE_TOL 1e-8
/* The energy-bias fit on a 2 x 2 normal matrix is one Jacobi rotation: exact to rounding. */
#define BIAS_FIT_REL_TOL 1e-12
/* Number of weights probed per check (spread over every tensor) and atoms probed for forces. */
#define N_PROBE_W 64
#define N_PROBE_ATOMS 4

typedef struct {
    model_t *m;
    model_ws *ws;
    ds_system *sys;
    size_t frame;
} ctx_t;

static double energy(ctx_t *c) {
    return model_forward(c->m, c->ws);
}

static double cdotF(ctx_t *c, const double *cv, double *F) {
    model_forward(c->m, c->ws);
    model_backward(c->m, c->ws, NULL, F);
    double s = 0;
    for (size_t i = 0; i < 3 * c->sys->natoms; i++)
        s += cv[i] * F[i];
    return s;
}

/* ||a-b|| / ||b|| */
static double rel_err(const double *a, const double *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return sqrt(num) / (sqrt(den) > 0 ? sqrt(den) : 1.0);
}

/* Indices of probed weights: one random entry of every tensor, then random ones. */
static void probe_weights(const model_t *m, rng_t *r, size_t *idx, size_t n) {
    size_t k = 0;
    for (size_t t = 0; t < m->layout.n_tensors && k < n; t++)
        idx[k++] = m->layout.t[t].offset + rng_below(r, m->layout.t[t].size);
    while (k < n)
        idx[k++] = rng_below(r, m->layout.n_params);
}

static double fd4(double fp2, double fp1, double fm1, double fm2, double h) {
    return (-fp2 + 8.0 * fp1 - 8.0 * fm1 + fm2) / (12.0 * h);
}

/* All three derivative checks on one frame. */
static void check_derivatives(model_t *m, ds_system *sys, size_t frame, uint64_t seed) {
    model_ws *ws;
    cr_assert_eq(model_ws_create(m, sys->natoms, &ws), RK_OK);
    ctx_t c = {m, ws, sys, frame};
    size_t N = m->layout.n_params, na = sys->natoms;
    rng_t r;
    rng_stream(&r, "fd", seed, RNG_TEST);
    /* Output biases add a constant ~1e3-1e5 eV to E that would swamp the differences in
     * rounding; they do not change any derivative except their own (dE/db_out = n_a), which we
     * probe separately below. */
    double *saved_bias = calloc(m->ntypes, sizeof(double));
    for (size_t a = 0; a < m->ntypes; a++) {
        size_t t = layout_lookup(&m->layout, LAYOUT_OUT_B, a, LAYOUT_NO_TYPE, 0);
        cr_assert_lt(t, m->layout.n_tensors, "output bias of type %zu", a);
        saved_bias[a] = m->w[m->layout.t[t].offset];
        m->w[m->layout.t[t].offset] = 0.0;
    }
    cr_assert_eq(model_set_frame(m, ws, sys, frame), RK_OK, "%s", err_msg());
    double *F = calloc(3 * na, sizeof *F), *Fs = calloc(3 * na, sizeof *F);
    double *g = calloc(N, sizeof *g);
    energy(&c);
    model_backward(m, ws, g, F);

    /* 1. forces: F = -dE/dr */
    double fa[3 * N_PROBE_ATOMS], fb[3 * N_PROBE_ATOMS];
    double *X = sys->coord + frame * na * 3;
    for (size_t k = 0; k < N_PROBE_ATOMS; k++) {
        size_t i = rng_below(&r, na);
        for (int al = 0; al < 3; al++) {
            double x0 = X[3 * i + al], f[4], st[4] = {2, 1, -1, -2};
            for (int q = 0; q < 4; q++) {
                X[3 * i + al] = x0 + st[q] * FD_STEP_R;
                cr_assert_eq(model_set_frame(m, ws, sys, frame), RK_OK, "%s", err_msg());
                f[q] = energy(&c);
            }
            X[3 * i + al] = x0;
            fa[3 * k + al] = F[3 * i + al];
            fb[3 * k + al] = -fd4(f[0], f[1], f[2], f[3], FD_STEP_R);
        }
    }
    cr_assert_eq(model_set_frame(m, ws, sys, frame), RK_OK);
    double e1 = rel_err(fa, fb, 3 * N_PROBE_ATOMS);
    cr_assert_leq(e1, FD_REL_TOL, "%s frame %zu: force vs FD relative error %.3g", sys->name, frame,
                  e1);

    /* 2. dE/dw and 3. J_c for three random c, on the same probed weights */
    enum { NC = 3 };
    double *cv[NC], *jac[NC];
    for (int q = 0; q < NC; q++) {
        cv[q] = malloc(3 * na * sizeof(double));
        jac[q] = malloc(N * sizeof(double));
        for (size_t i = 0; i < 3 * na; i++)
            cv[q][i] = rng_normal(&r);
        energy(&c);
        model_backward(m, ws, NULL, F);
        model_force_jacobian(m, ws, cv[q], jac[q]);
    }
    size_t idx[N_PROBE_W];
    probe_weights(m, &r, idx, N_PROBE_W);
    double ga[N_PROBE_W], gb[N_PROBE_W], ja[NC][N_PROBE_W], jb[NC][N_PROBE_W];
    for (size_t k = 0; k < N_PROBE_W; k++) {
        size_t p = idx[k];
        double w0 = m->w[p], fe[4], fc[NC][4], st[4] = {2, 1, -1, -2};
        for (int s = 0; s < 4; s++) {
            m->w[p] = w0 + st[s] * FD_STEP_W;
            fe[s] = energy(&c);
            model_backward(m, ws, NULL, Fs);
            for (int q = 0; q < NC; q++) {
                double sum = 0;
                for (size_t i = 0; i < 3 * na; i++)
                    sum += cv[q][i] * Fs[i];
                fc[q][s] = sum;
            }
        }
        m->w[p] = w0;
        ga[k] = g[p];
        gb[k] = fd4(fe[0], fe[1], fe[2], fe[3], FD_STEP_W);
        for (int q = 0; q < NC; q++) {
            ja[q][k] = jac[q][p];
            jb[q][k] = fd4(fc[q][0], fc[q][1], fc[q][2], fc[q][3], FD_STEP_W);
        }
    }
    double e2 = rel_err(ga, gb, N_PROBE_W);
    cr_assert_leq(e2, FD_REL_TOL, "%s frame %zu: dE/dw vs FD relative error %.3g", sys->name, frame,
                  e2);
    for (int q = 0; q < NC; q++) {
        double e3 = rel_err(ja[q], jb[q], N_PROBE_W);
        cr_assert_leq(e3, FD_REL_TOL, "%s frame %zu: J_c[%d] vs FD relative error %.3g", sys->name,
                      frame, q, e3);
    }
    /* the residual timesteps on their own: a few entries among many W could hide in the norm */
    double ia[N_PROBE_W], ib[N_PROBE_W], jia[NC][N_PROBE_W], jib[NC][N_PROBE_W];
    size_t ni = 0;
    for (size_t k = 0; k < N_PROBE_W; k++) {
        if (!layout_role_is_timestep(m->layout.t[layout_find(&m->layout, idx[k])].tag.role))
            continue;
        ia[ni] = ga[k];
        ib[ni] = gb[k];
        for (int q = 0; q < NC; q++) {
            jia[q][ni] = ja[q][k];
            jib[q][ni] = jb[q][k];
        }
        ni++;
    }
    if (m->cfg.resnet_dt || m->cfg.fitting_resnet_dt)
        cr_assert_gt(ni, 0, "%s: no idt entry probed", sys->name);
    if (ni) {
        double ei = rel_err(ia, ib, ni);
        cr_assert_leq(ei, FD_REL_TOL, "%s frame %zu: dE/d idt vs FD relative error %.3g (%zu)",
                      sys->name, frame, ei, ni);
        for (int q = 0; q < NC; q++) {
            double ej = rel_err(jia[q], jib[q], ni);
            cr_assert_leq(ej, FD_REL_TOL, "%s frame %zu: J_c[%d] idt vs FD relative error %.3g",
                          sys->name, frame, q, ej);
        }
    }
    /* J_c along a random direction v over ALL weights: J_c.v = d/deps (c.F)(w + eps v) */
    double *v = malloc(N * sizeof *v), *w0 = malloc(N * sizeof *w0);
    memcpy(w0, m->w, N * sizeof *w0);
    for (size_t i = 0; i < N; i++)
        v[i] = rng_normal(&r);
    double fv[4], st[4] = {2, 1, -1, -2}, hv = FD_STEP_W / sqrt((double)N);
    for (int s = 0; s < 4; s++) {
        for (size_t i = 0; i < N; i++)
            m->w[i] = w0[i] + st[s] * hv * v[i];
        fv[s] = cdotF(&c, cv[0], Fs);
    }
    memcpy(m->w, w0, N * sizeof *w0);
    double dir_fd = fd4(fv[0], fv[1], fv[2], fv[3], hv), dir_an = 0;
    for (size_t i = 0; i < N; i++)
        dir_an += jac[0][i] * v[i];
    cr_assert_leq(fabs(dir_an - dir_fd), FD_REL_TOL * fabs(dir_fd), "%s: J_c.v %.12g vs FD %.12g",
                  sys->name, dir_an, dir_fd);
    /* restore biases and check dE/db_out = number of atoms of that type */
    for (size_t a = 0; a < m->ntypes; a++) {
        size_t t = layout_lookup(&m->layout, LAYOUT_OUT_B, a, LAYOUT_NO_TYPE, 0), cnt = 0;
        m->w[m->layout.t[t].offset] = saved_bias[a];
        for (size_t i = 0; i < na; i++)
            cnt += (size_t)sys->type[i] == a;
        cr_assert_eq(g[m->layout.t[t].offset], (double)cnt);
    }
    for (int q = 0; q < NC; q++) {
        free(cv[q]);
        free(jac[q]);
    }
    free(v);
    free(w0);
    free(saved_bias);
    free(F);
    free(Fs);
    free(g);
    model_ws_free(ws);
}

/* A random 2-type frame in a skewed cell smaller than 2 rcut, atoms at least dmin apart. */
static void synthetic(dataset_t *ds, size_t na, uint64_t seed) {
    memset(ds, 0, sizeof *ds);
    ds->ntypes = 2;
    ds->type_map = calloc(2, DS_SYMBOL_MAX);
    strcpy(ds->type_map[0], "A");
    strcpy(ds->type_map[1], "B");
    ds->nsystems = 1;
    ds->sys = calloc(1, sizeof *ds->sys);
    cr_assert_eq(ds_system_alloc(&ds->sys[0], "synthetic", na, 1), RK_OK);
    ds_system *s = &ds->sys[0];
    double box[9] = {5.0, 0, 0, 0.8, 5.5, 0, -0.6, 0.7, 6.0};
    memcpy(s->box, box, sizeof box);
    rng_t r;
    rng_seed(&r, seed);
    const double dmin = 1.2;
    for (size_t i = 0; i < na; i++) {
        s->type[i] = (int32_t)(i % 2);
        for (int tries = 0;; tries++) {
            cr_assert_lt(tries, 10000);
            double f[3] = {rng_uniform(&r), rng_uniform(&r), rng_uniform(&r)}, x[3];
            for (int a = 0; a < 3; a++)
                x[a] = f[0] * box[a] + f[1] * box[3 + a] + f[2] * box[6 + a];
            int ok = 1;
            for (size_t j = 0; j < i && ok; j++)
                for (int n0 = -1; n0 <= 1 && ok; n0++)
                    for (int n1 = -1; n1 <= 1 && ok; n1++)
                        for (int n2 = -1; n2 <= 1 && ok; n2++) {
                            double d2 = 0;
                            for (int a = 0; a < 3; a++) {
                                double d = s->coord[3 * j + a] + n0 * box[a] + n1 * box[3 + a] +
                                           n2 * box[6 + a] - x[a];
                                d2 += d * d;
                            }
                            if (d2 < dmin * dmin) ok = 0;
                        }
            if (ok) {
                memcpy(s->coord + 3 * i, x, sizeof x);
                break;
            }
        }
    }
    s->energy[0] = -10.0 * (double)na;
}

/* Embedding [4, 8, 8, 16]: layer 2 doubles (+ (h, h)), layer 3 keeps the width (+ h), layer 4
 * doubles again; fitting [16, 32, 32]: doubling without a skip, then + z. */
static model_config doubling_config(void) {
    model_config c = model_default_config();
    c.n_neuron = 4;
    c.neuron[0] = 4;
    c.neuron[1] = 8;
    c.neuron[2] = 8;
    c.neuron[3] = 16;
    c.axis_neuron = 4;
    c.n_fitting = 3;
    c.fitting_neuron[0] = 16;
    c.fitting_neuron[1] = 32;
    c.fitting_neuron[2] = 32;
    return c;
}

/* Embedding [4, 8, 8]: the first skip of the embedding doubles the width. */
static model_config small_config(void) {
    model_config c = model_default_config();
    c.rcut = 4.5;
    c.rcut_smth = 1.0;
    c.n_neuron = 3;
    c.neuron[0] = 4;
    c.neuron[1] = 8;
    c.neuron[2] = 8;
    c.axis_neuron = 3;
    c.n_fitting = 2;
    c.fitting_neuron[0] = 10;
    c.fitting_neuron[1] = 10;
    return c;
}

Test(model_fd, synthetic_two_types_small_cell) {
    dataset_t ds;
    synthetic(&ds, 9, 11);
    model_config c = small_config();
    model_t m;
    mu_model(&ds, &c, 1, 1, &m);
    check_derivatives(&m, &ds.sys[0], 0, 1);
    model_free(&m);
    dataset_free(&ds);
}

Test(model_fd, synthetic_default_model) {
    dataset_t ds;
    synthetic(&ds, 12, 12);
    model_t m;
    mu_model(&ds, NULL, 2, 1, &m);
    check_derivatives(&m, &ds.sys[0], 0, 2);
    model_free(&m);
    dataset_free(&ds);
}

/* ---------------------------------------------------------------- real frames ----------- */

Test(model_fd, cu_real_frames, .timeout = 300) {
    dataset_t ds;
    mu_load("datasets/Cu/0_300_MOVEMENT", "", &ds);
    model_t m;
    mu_model(&ds, NULL, 3, 20, &m);
    check_derivatives(&m, &ds.sys[0], 0, 3);
    check_derivatives(&m, &ds.sys[0], 57, 4);
    model_free(&m);
    dataset_free(&ds);
}

Test(model_fd, h2o_real_frame_two_types, .timeout = 300) {
    dataset_t ds;
    mu_load("datasets/H2O/data_0", "", &ds);
    model_t m;
    mu_model(&ds, NULL, 5, 10, &m);
    check_derivatives(&m, &ds.sys[0], 7, 5);
    model_free(&m);
    dataset_free(&ds);
}

Test(model_fd, ligeps_real_frame_four_types, .timeout = 300) {
    dataset_t ds;
    mu_load("datasets/LiGePS/100_1200k_movement", "", &ds);
    cr_assert_eq(ds.ntypes, 4);
    model_t m;
    mu_model(&ds, NULL, 6, 10, &m);
    check_derivatives(&m, &ds.sys[0], 42, 6);
    model_free(&m);
    dataset_free(&ds);
}

Test(model_fd, cu_doubling_embedding, .timeout = 300) {
    dataset_t ds;
    mu_load("datasets/Cu/0_300_MOVEMENT", "", &ds);
    model_config c = doubling_config();
    model_t m;
    mu_model(&ds, &c, 7, 20, &m);
    cr_assert_eq(m.embed.skip[1], MLP_SKIP_DOUBLE);
    cr_assert_eq(m.embed.skip[2], MLP_SKIP_IDENTITY);
    cr_assert_eq(m.embed.skip[3], MLP_SKIP_DOUBLE);
    check_derivatives(&m, &ds.sys[0], 13, 7);
    model_free(&m);
    dataset_free(&ds);
}

/* ---------------------------------------------------------------- resnet_dt ------------- */

/* Residual timesteps on both nets: embedding `neuron` with fitting [8, 8] (layer 2 of the fitting
 * net adds z, so it has an idt; its output layer never has one). */
static model_config dt_config(const size_t *neuron, size_t n) {
    model_config c = model_default_config();
    c.n_neuron = n;
    for (size_t l = 0; l < n; l++)
        c.neuron[l] = neuron[l];
    c.axis_neuron = 4;
    c.n_fitting = 2;
    c.fitting_neuron[0] = 8;
    c.fitting_neuron[1] = 8;
    c.resnet_dt = 1;
    c.fitting_resnet_dt = 1;
    return c;
}

/* Spread every idt entry over [0.1, 1): the initial 0.1 +- 0.001 is nearly one value, under which
 * a swapped column or an idt applied to the wrong layer could pass. */
static void spread_idt(model_t *m, uint64_t seed) {
    rng_t r;
    rng_seed(&r, seed);
    for (size_t t = 0; t < m->layout.n_tensors; t++)
        if (layout_role_is_timestep(m->layout.t[t].tag.role))
            for (size_t i = 0; i < m->layout.t[t].size; i++)
                m->w[m->layout.t[t].offset + i] = 0.1 + 0.9 * rng_uniform(&r);
}

Test(model_fd, cu_resnet_dt_both_nets, .timeout = 300) {
    dataset_t ds;
    mu_load("datasets/Cu/0_300_MOVEMENT", "", &ds);
    static const size_t ne[] = {4, 8, 8, 16}; /* doubles, keeps, doubles */
    model_config c = dt_config(ne, 4);
    model_t m;
    mu_model(&ds, &c, 31, 20, &m);
    cr_assert(m.embed.dt[1] && m.embed.dt[2] && m.embed.dt[3] && !m.embed.dt[0]);
    cr_assert_eq(m.embed.skip[2], MLP_SKIP_IDENTITY);
    cr_assert(m.fit.dt[1] && !m.fit.dt[0] && !m.fit.dt[2], "fitting: only layer 2");
    spread_idt(&m, 31);
    check_derivatives(&m, &ds.sys[0], 13, 31);
    model_free(&m);
    dataset_free(&ds);
}

Test(model_fd, h2o_resnet_dt_both_nets_two_types, .timeout = 300) {
    dataset_t ds;
    mu_load("datasets/H2O/data_0", "", &ds);
    static const size_t ne[] = {4, 8, 16}; /* doubles twice */
    model_config c = dt_config(ne, 3);
    model_t m;
    mu_model(&ds, &c, 32, 10, &m);
    cr_assert(m.embed.dt[1] && m.embed.dt[2] && m.fit.dt[1]);
    cr_assert_eq(m.embed.skip[1], MLP_SKIP_DOUBLE);
    spread_idt(&m, 32);
    check_derivatives(&m, &ds.sys[0], 3, 32);
    model_free(&m);
    dataset_free(&ds);
}

/* At its initial values (0.1 +- 0.001) as well. */
Test(model_fd, synthetic_resnet_dt_initial_values) {
    dataset_t ds;
    synthetic(&ds, 9, 33);
    model_config c = small_config();
    c.resnet_dt = 1;
    c.fitting_resnet_dt = 1;
    model_t m;
    mu_model(&ds, &c, 33, 1, &m);
    check_derivatives(&m, &ds.sys[0], 0, 33);
    model_free(&m);
    dataset_free(&ds);
}

Test(model_fd, h2o_doubling_embedding_two_types, .timeout = 300) {
    dataset_t ds;
    mu_load("datasets/H2O/data_0", "", &ds);
    model_config c = doubling_config();
    c.n_neuron = 3;
    c.neuron[2] = 16; /* [4, 8, 16]: doubles twice */
    model_t m;
    mu_model(&ds, &c, 8, 10, &m);
    cr_assert_eq(m.embed.skip[1], MLP_SKIP_DOUBLE);
    cr_assert_eq(m.embed.skip[2], MLP_SKIP_DOUBLE);
    check_derivatives(&m, &ds.sys[0], 3, 8);
    model_free(&m);
    dataset_free(&ds);
}

/* ---------------------------------------------------------------- layout ---------------- */

/* One tensor of the expected layout: role, net, layer, shape and name. */
static void check_tensor(const model_t *m, size_t k, layout_role r, size_t a, size_t b, size_t l,
                         size_t rows, size_t cols, const char *want) {
    const layout_tensor *T = &m->layout.t[k];
    cr_assert_eq(T->tag.role, r, "%s", T->name);
    cr_assert_eq(T->tag.centre, a, "%s", T->name);
    cr_assert_eq(T->tag.neighbour, b, "%s", T->name);
    cr_assert_eq(T->tag.layer, l, "%s", T->name);
    cr_assert(T->rows == rows && T->cols == cols, "%s: %zu x %zu", T->name, T->rows, T->cols);
    cr_assert_str_eq(T->name, want);
    cr_assert_eq(layout_lookup(&m->layout, r, a, b, l), k);
    cr_assert_eq(layout_role_is_bias(r),
                 r == LAYOUT_EMBED_B || r == LAYOUT_FIT_B || r == LAYOUT_OUT_B, "%s", T->name);
    cr_assert_eq(layout_role_is_timestep(r), r == LAYOUT_EMBED_IDT || r == LAYOUT_FIT_IDT, "%s",
                 T->name);
}

/* Every tensor carries its role and net, in SPEC §2 order (W, b, then idt where the layer has a
 * residual timestep), and its (file) name agrees; N is the sum of the sizes. */
static void check_roles(const model_t *m) {
    size_t nt = m->ntypes, k = 0, Le = m->cfg.n_neuron, Lf = m->cfg.n_fitting + 1, N = 0;
    char want[2 * LAYOUT_NAME_MAX]; /* room for any size_t; the names compared fit the layout's */
    static const char *const part_name[] = {"W", "b", "idt"};
    for (size_t a = 0; a < nt; a++)
        for (size_t b = 0; b < nt; b++)
            for (size_t l = 1; l <= Le; l++) {
                size_t nin = l > 1 ? m->cfg.neuron[l - 2] : 1, nout = m->cfg.neuron[l - 1];
                int parts = 2 + m->embed.dt[l - 1];
                for (int part = 0; part < parts; part++, k++) {
                    static const layout_role roles[] = {LAYOUT_EMBED_W, LAYOUT_EMBED_B,
                                                        LAYOUT_EMBED_IDT};
                    snprintf(want, sizeof want, "embed[%zu,%zu].l%zu.%s", a, b, l, part_name[part]);
                    check_tensor(m, k, roles[part], a, b, l, part ? 1 : nin, nout, want);
                    N += (part ? 1 : nin) * nout;
                }
            }
    for (size_t a = 0; a < nt; a++)
        for (size_t l = 1; l <= Lf; l++) {
            int out = l == Lf;
            size_t nin = l > 1 ? m->cfg.fitting_neuron[l - 2] : m->m1 * m->m2;
            size_t nout = out ? 1 : m->cfg.fitting_neuron[l - 1];
            int parts = 2 + m->fit.dt[l - 1];
            cr_assert(!out || parts == 2, "the output layer has no idt");
            for (int part = 0; part < parts; part++, k++) {
                layout_role r = part == 2 ? LAYOUT_FIT_IDT
                                : out     ? (part ? LAYOUT_OUT_B : LAYOUT_OUT_W)
                                          : (part ? LAYOUT_FIT_B : LAYOUT_FIT_W);
                if (out)
                    snprintf(want, sizeof want, "fit[%zu].out.%s", a, part_name[part]);
                else
                    snprintf(want, sizeof want, "fit[%zu].l%zu.%s", a, l, part_name[part]);
                check_tensor(m, k, r, a, LAYOUT_NO_TYPE, l, part ? 1 : nin, nout, want);
                N += (part ? 1 : nin) * nout;
            }
        }
    cr_assert_eq(k, m->layout.n_tensors);
    cr_assert_eq(N, m->layout.n_params);
    cr_assert_eq(layout_lookup(&m->layout, LAYOUT_OUT_B, nt, LAYOUT_NO_TYPE, 0),
                 m->layout.n_tensors, "no net for a type the model does not have");
}

Test(model_layout, roles_follow_spec_order) {
    dataset_t ds;
    synthetic(&ds, 9, 13);
    model_config c = doubling_config();
    c.rcut = 4.5;
    c.rcut_smth = 1.0;
    model_t m;
    mu_model(&ds, &c, 1, 1, &m);
    check_roles(&m);
    /* initialisation by role: the output bias of type a is e_a, not a N(0, 1) draw; with one
     * frame of na atoms split evenly-ish the fit gives e_a = E n_a / sum n^2 (min-norm). */
    size_t n0 = 5, n1 = 4; /* synthetic(): types alternate 0, 1, ... over 9 atoms */
    double E = ds.sys[0].energy[0], den = (double)(n0 * n0 + n1 * n1);
    size_t t0 = layout_lookup(&m.layout, LAYOUT_OUT_B, 0, LAYOUT_NO_TYPE, 0);
    size_t t1 = layout_lookup(&m.layout, LAYOUT_OUT_B, 1, LAYOUT_NO_TYPE, 0);
    cr_assert_float_eq(m.w[m.layout.t[t0].offset], E * (double)n0 / den,
                       BIAS_FIT_REL_TOL * fabs(E));
    cr_assert_float_eq(m.w[m.layout.t[t1].offset], E * (double)n1 / den,
                       BIAS_FIT_REL_TOL * fabs(E));
    model_free(&m);
    dataset_free(&ds);
}

/* The paper's sizes with one type: N = 26,551 (SPEC §2). */
#define SPEC_N_DEFAULT_ONE_TYPE 26551
/* Initial idt entries are 0.1 + 0.001 N(0, 1): six standard deviations cover every draw. */
#define IDT_INIT_MEAN 0.1
#define IDT_INIT_BAND 0.006

/* resnet_dt false (the default): no idt tensor anywhere, N as SPEC §2 counts it, so the vector,
 * the seeded draws and every number are those of the model without the extension. */
Test(model_layout, resnet_dt_false_adds_no_tensor) {
    dataset_t ds;
    mu_load("datasets/Cu/0_300_MOVEMENT", "", &ds);
    model_t m;
    mu_model(&ds, NULL, 3, 2, &m);
    cr_assert_eq(m.cfg.resnet_dt, 0);
    cr_assert_eq(m.cfg.fitting_resnet_dt, 0);
    cr_assert_eq(m.layout.n_params, SPEC_N_DEFAULT_ONE_TYPE);
    for (size_t t = 0; t < m.layout.n_tensors; t++)
        cr_assert(!layout_role_is_timestep(m.layout.t[t].tag.role), "%s", m.layout.t[t].name);
    for (size_t l = 0; l < MLP_MAX_LAYERS; l++)
        cr_assert(!m.embed.dt[l] && !m.fit.dt[l]);
    check_roles(&m);
    model_free(&m);
    dataset_free(&ds);
}

/* resnet_dt on a model with no residual connection (resnet false) adds nothing: the same N, the
 * same seeded weights bit for bit, the same energy. */
Test(model_layout, resnet_dt_without_residuals_is_a_no_op) {
    dataset_t ds;
    synthetic(&ds, 9, 41);
    model_config c = doubling_config();
    c.rcut = 4.5;
    c.rcut_smth = 1.0;
    c.resnet = 0;
    model_t plain, dt;
    mu_model(&ds, &c, 41, 1, &plain);
    c.resnet_dt = c.fitting_resnet_dt = 1;
    mu_model(&ds, &c, 41, 1, &dt);
    cr_assert_eq(dt.layout.n_params, plain.layout.n_params);
    cr_assert_eq(memcmp(dt.w, plain.w, plain.layout.n_params * sizeof *plain.w), 0);
    model_ws *w1, *w2;
    cr_assert_eq(model_ws_create(&plain, 9, &w1), RK_OK);
    cr_assert_eq(model_ws_create(&dt, 9, &w2), RK_OK);
    cr_assert_eq(model_set_frame(&plain, w1, &ds.sys[0], 0), RK_OK);
    cr_assert_eq(model_set_frame(&dt, w2, &ds.sys[0], 0), RK_OK);
    double e1 = model_forward(&plain, w1), e2 = model_forward(&dt, w2);
    cr_assert_eq(memcmp(&e1, &e2, sizeof e1), 0, "%.17g vs %.17g", e1, e2);
    model_ws_free(w1);
    model_ws_free(w2);
    model_free(&plain);
    model_free(&dt);
    dataset_free(&ds);
}

/* With resnet_dt on both nets: idt follows b on exactly the layers with a residual connection
 * (embedding [4, 8, 8, 16]: layers 2, 3, 4; fitting [16, 32, 32]: layer 3 only, the doubling
 * layer 2 has no skip in a fitting net, the output layer never has one), and the seeded stream is
 * drawn tensor by tensor in vector order: W ~ N(0, 1/(n_in + n_out)), hidden b ~ N(0, 1),
 * idt ~ 0.1 + 0.001 N(0, 1), output b from the fit (no draw). Replayed here draw by draw. */
Test(model_layout, resnet_dt_roles_order_and_draws) {
    dataset_t ds;
    synthetic(&ds, 9, 13);
    model_config c = doubling_config();
    c.rcut = 4.5;
    c.rcut_smth = 1.0;
    c.resnet_dt = c.fitting_resnet_dt = 1;
    model_t m;
    mu_model(&ds, &c, 1, 1, &m);
    static const int embed_dt[] = {0, 1, 1, 1}, fit_dt[] = {0, 0, 1, 0};
    for (size_t l = 0; l < 4; l++) {
        cr_assert_eq(m.embed.dt[l], embed_dt[l], "embedding layer %zu", l + 1);
        cr_assert_eq(m.fit.dt[l], fit_dt[l], "fitting layer %zu", l + 1);
    }
    check_roles(&m);
    size_t n_idt = 0;
    rng_t r;
    rng_stream(&r, "test", 1, RNG_INIT); /* mu_model's stream */
    for (size_t t = 0; t < m.layout.n_tensors; t++) {
        const layout_tensor *T = &m.layout.t[t];
        const double *w = m.w + T->offset;
        for (size_t i = 0; i < T->size; i++) {
            double want;
            switch (T->tag.role) {
            case LAYOUT_EMBED_IDT:
            case LAYOUT_FIT_IDT:
                want = 0.1 + 0.001 * rng_normal(&r);
                cr_assert_leq(fabs(w[i] - IDT_INIT_MEAN), IDT_INIT_BAND, "%s", T->name);
                n_idt++;
                break;
            case LAYOUT_EMBED_B:
            case LAYOUT_FIT_B:
                want = rng_normal(&r);
                break;
            case LAYOUT_OUT_B:
                want = w[i];
                break;
            default:
                want = sqrt(1.0 / (double)(T->rows + T->cols)) * rng_normal(&r);
            }
            cr_assert_eq(w[i], want, "%s[%zu]: %.17g vs replayed %.17g", T->name, i, w[i], want);
        }
    }
    /* 4 embedding nets x (8 + 8 + 16) + 2 fitting nets x 32 */
    cr_assert_eq(n_idt, 4 * 32 + 2 * 32);
    model_free(&m);
    dataset_free(&ds);
}

/* ---------------------------------------------------------------- resnet_dt ------------- */

/* idt = 1 is the plain residual layer: a resnet_dt model with every idt set to 1 and the W and b
 * of a model without (copied by tensor name) gives the same E, F, dE/dw and J_c on W and b, bit
 * for bit (x 1.0 is exact), and dE/d idt = colsum(g_h . t), which is not zero. */
Test(model_resnet_dt, idt_one_is_the_plain_residual_bit_for_bit, .timeout = 300) {
    dataset_t ds;
    mu_load("datasets/H2O/data_0", "", &ds);
    static const size_t ne[] = {4, 8, 16};
    model_config c = dt_config(ne, 3);
    model_t dt, plain;
    mu_model(&ds, &c, 51, 4, &dt);
    c.resnet_dt = c.fitting_resnet_dt = 0;
    mu_model(&ds, &c, 52, 4, &plain);
    size_t *map = calloc(plain.layout.n_tensors, sizeof *map); /* plain tensor -> dt tensor */
    for (size_t t = 0, u = 0; t < dt.layout.n_tensors; t++) {
        const layout_tensor *T = &dt.layout.t[t];
        if (layout_role_is_timestep(T->tag.role)) {
            for (size_t i = 0; i < T->size; i++)
                dt.w[T->offset + i] = 1.0;
            continue;
        }
        cr_assert_str_eq(T->name, plain.layout.t[u].name);
        memcpy(dt.w + T->offset, plain.w + plain.layout.t[u].offset, T->size * sizeof *dt.w);
        map[u++] = t;
    }
    size_t na = ds.sys[0].natoms, Np = plain.layout.n_params, Nd = dt.layout.n_params;
    model_ws *wp, *wd;
    cr_assert_eq(model_ws_create(&plain, na, &wp), RK_OK);
    cr_assert_eq(model_ws_create(&dt, na, &wd), RK_OK);
    double *Fp = malloc(3 * na * sizeof *Fp), *Fd = malloc(3 * na * sizeof *Fd);
    double *gp = malloc(Np * sizeof *gp), *gd = malloc(Nd * sizeof *gd);
    double *jp = malloc(Np * sizeof *jp), *jd = malloc(Nd * sizeof *jd);
    double *cv = malloc(3 * na * sizeof *cv);
    rng_t r;
    rng_seed(&r, 53);
    for (size_t i = 0; i < 3 * na; i++)
        cv[i] = rng_normal(&r);
    cr_assert_eq(model_set_frame(&plain, wp, &ds.sys[0], 6), RK_OK);
    cr_assert_eq(model_set_frame(&dt, wd, &ds.sys[0], 6), RK_OK);
    double ep = model_forward(&plain, wp), ed = model_forward(&dt, wd);
    cr_assert_eq(memcmp(&ep, &ed, sizeof ep), 0, "E %.17g vs %.17g", ep, ed);
    model_backward(&plain, wp, gp, Fp);
    model_backward(&dt, wd, gd, Fd);
    model_force_jacobian(&plain, wp, cv, jp);
    model_force_jacobian(&dt, wd, cv, jd);
    cr_assert_eq(memcmp(Fp, Fd, 3 * na * sizeof *Fp), 0, "F");
    for (size_t u = 0; u < plain.layout.n_tensors; u++) {
        const layout_tensor *P = &plain.layout.t[u], *D = &dt.layout.t[map[u]];
        cr_assert_eq(memcmp(gp + P->offset, gd + D->offset, P->size * sizeof *gp), 0, "dE/d %s",
                     P->name);
        cr_assert_eq(memcmp(jp + P->offset, jd + D->offset, P->size * sizeof *jp), 0, "J_c %s",
                     P->name);
    }
    double gidt = 0;
    for (size_t t = 0; t < dt.layout.n_tensors; t++)
        if (layout_role_is_timestep(dt.layout.t[t].tag.role))
            for (size_t i = 0; i < dt.layout.t[t].size; i++)
                gidt += fabs(gd[dt.layout.t[t].offset + i]);
    cr_assert_gt(gidt, 0.0, "dE/d idt is not zero");
    free(map);
    free(Fp);
    free(Fd);
    free(gp);
    free(gd);
    free(jp);
    free(jd);
    free(cv);
    model_ws_free(wp);
    model_ws_free(wd);
    model_free(&dt);
    model_free(&plain);
    dataset_free(&ds);
}

/* The model file keeps both keys: saved and loaded back, the same config, N, weights and E. */
Test(model_resnet_dt, model_file_round_trip) {
    dataset_t ds;
    synthetic(&ds, 9, 61);
    model_config c = small_config();
    c.fitting_resnet_dt = 1; /* descriptor false, fitting true: the water example's choice */
    model_t m, back;
    mu_model(&ds, &c, 61, 1, &m);
    const char *path = tu_tmp("resnet-dt-model.h5");
    cr_assert_eq(model_save(&m, path), RK_OK, "%s", err_msg());
    cr_assert_eq(model_load(&back, path), RK_OK, "%s", err_msg());
    cr_assert_eq(back.cfg.resnet_dt, 0);
    cr_assert_eq(back.cfg.fitting_resnet_dt, 1);
    cr_assert_eq(back.layout.n_params, m.layout.n_params);
    cr_assert_eq(memcmp(back.w, m.w, m.layout.n_params * sizeof *m.w), 0);
    /* the file's /config names both keys */
    char *json = model_config_to_json(&back.cfg);
    jsonw *j = NULL;
    int rd = -1, frd = -1;
    cr_assert_eq(jsonw_parse_text(json, "config", &j), RK_OK);
    cr_assert_eq(jsonw_get_bool(j, "config", "resnet_dt", 1, &rd), RK_OK, "%s", json);
    cr_assert_eq(jsonw_get_bool(j, "config", "fitting_resnet_dt", 1, &frd), RK_OK, "%s", json);
    cr_assert(rd == 0 && frd == 1, "%s", json);
    jsonw_free(j);
    free(json);
    model_ws *w1, *w2;
    cr_assert_eq(model_ws_create(&m, 9, &w1), RK_OK);
    cr_assert_eq(model_ws_create(&back, 9, &w2), RK_OK);
    cr_assert_eq(model_set_frame(&m, w1, &ds.sys[0], 0), RK_OK);
    cr_assert_eq(model_set_frame(&back, w2, &ds.sys[0], 0), RK_OK);
    cr_assert_eq(model_forward(&m, w1), model_forward(&back, w2));
    model_ws_free(w1);
    model_ws_free(w2);
    model_free(&m);
    model_free(&back);
    dataset_free(&ds);
}

/* ---------------------------------------------------------------- invariances ----------- */

static double eval_ef(model_t *m, model_ws *ws, ds_system *s, double *F) {
    cr_assert_eq(model_set_frame(m, ws, s, 0), RK_OK, "%s", err_msg());
    double E = model_forward(m, ws);
    model_backward(m, ws, NULL, F);
    return E;
}

/* Random rotation from a normalised random quaternion. */
static void random_rotation(rng_t *r, double R[9]) {
    double q[4], n = 0;
    for (int i = 0; i < 4; i++) {
        q[i] = rng_normal(r);
        n += q[i] * q[i];
    }
    n = sqrt(n);
    double w = q[0] / n, x = q[1] / n, y = q[2] / n, z = q[3] / n;
    double M[9] = {1 - 2 * (y * y + z * z), 2 * (x * y - z * w),     2 * (x * z + y * w),
                   2 * (x * y + z * w),     1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
                   2 * (x * z - y * w),     2 * (y * z + x * w),     1 - 2 * (x * x + y * y)};
    memcpy(R, M, sizeof M);
}

static void rotate(const double R[9], double *v) {
    double a = v[0], b = v[1], c = v[2];
    for (int i = 0; i < 3; i++)
        v[i] = R[3 * i] * a + R[3 * i + 1] * b + R[3 * i + 2] * c;
}

static void check_invariances(const char *src) {
    dataset_t ds;
    mu_load(src, "", &ds);
    model_t m;
    mu_model(&ds, NULL, 9, 5, &m);
    /* one frame as its own system, so it can be transformed in place */
    ds_system *orig = &ds.sys[0];
    size_t na = orig->natoms;
    ds_system s;
    cr_assert_eq(ds_system_alloc(&s, "work", na, 1), RK_OK);
    memcpy(s.type, orig->type, na * sizeof *s.type);
    model_ws *ws;
    cr_assert_eq(model_ws_create(&m, na, &ws), RK_OK);
    double *F0 = malloc(3 * na * sizeof *F0), *F = malloc(3 * na * sizeof *F);
    rng_t r;
    rng_seed(&r, 99);
#define RESET()                                                                                    \
    do {                                                                                           \
        memcpy(s.coord, orig->coord + 3 * na * 3, 3 * na * sizeof(double));                        \
        memcpy(s.box, orig->box + 3 * 9, 9 * sizeof(double));                                      \
    } while (0)
    RESET(); /* frame 3 of the source */
    double E0 = eval_ef(&m, ws, &s, F0);
    double tol = INVARIANCE_REL_TOL * fabs(E0);

    /* translation */
    double t[3] = {rng_normal(&r) * 3, rng_normal(&r) * 3, rng_normal(&r) * 3};
    for (size_t i = 0; i < na; i++)
        for (int a = 0; a < 3; a++)
            s.coord[3 * i + a] += t[a];
    cr_assert_leq(fabs(eval_ef(&m, ws, &s, F) - E0), tol, "%s: translation", src);

    /* rotation of coordinates and cell; forces rotate with the frame */
    RESET();
    double R[9];
    random_rotation(&r, R);
    for (size_t i = 0; i < na; i++)
        rotate(R, s.coord + 3 * i);
    for (int k = 0; k < 3; k++)
        rotate(R, s.box + 3 * k);
    cr_assert_leq(fabs(eval_ef(&m, ws, &s, F) - E0), tol, "%s: rotation", src);
    double fbig = 0, dmax = 0;
    for (size_t i = 0; i < na; i++) {
        double f0[3] = {F0[3 * i], F0[3 * i + 1], F0[3 * i + 2]};
        rotate(R, f0);
        for (int a = 0; a < 3; a++) {
            dmax = fmax(dmax, fabs(F[3 * i + a] - f0[a]));
            fbig = fmax(fbig, fabs(f0[a]));
        }
    }
    cr_assert_leq(dmax, FORCE_INVARIANCE_TOL * fbig, "%s: forces must rotate (%.3g)", src, dmax);

    /* re-wrapping: every atom moved by a random integer lattice vector */
    RESET();
    for (size_t i = 0; i < na; i++) {
        int n[3] = {(int)rng_below(&r, 5) - 2, (int)rng_below(&r, 5) - 2,
                    (int)rng_below(&r, 5) - 2};
        for (int a = 0; a < 3; a++)
            s.coord[3 * i + a] += n[0] * s.box[a] + n[1] * s.box[3 + a] + n[2] * s.box[6 + a];
    }
    cr_assert_leq(fabs(eval_ef(&m, ws, &s, F) - E0), tol, "%s: re-wrapping", src);
    for (size_t k = 0; k < 3 * na; k++)
        cr_assert_leq(fabs(F[k] - F0[k]), FORCE_INVARIANCE_TOL * fbig, "%s: wrapped force", src);

    /* permutation of same-type atoms: swap random pairs of equal type */
    RESET();
    size_t *perm = malloc(na * sizeof *perm);
    for (size_t i = 0; i < na; i++)
        perm[i] = i;
    for (size_t k = 0; k < 4 * na; k++) {
        size_t i = rng_below(&r, na), j = rng_below(&r, na);
        if (s.type[perm[i]] != s.type[perm[j]]) continue;
        size_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    for (size_t i = 0; i < na; i++)
        memcpy(s.coord + 3 * i, orig->coord + 3 * na * 3 + 3 * perm[i], 3 * sizeof(double));
    cr_assert_leq(fabs(eval_ef(&m, ws, &s, F) - E0), tol, "%s: permutation", src);
    for (size_t i = 0; i < na; i++)
        for (int a = 0; a < 3; a++)
            cr_assert_leq(fabs(F[3 * i + a] - F0[3 * perm[i] + a]), FORCE_INVARIANCE_TOL * fbig,
                          "%s: permuted force", src);
#undef RESET
    free(perm);
    free(F0);
    free(F);
    model_ws_free(ws);
    ds_system_free(&s);
    model_free(&m);
    dataset_free(&ds);
}

Test(model_invariance, cu) {
    check_invariances("datasets/Cu/0_300_MOVEMENT");
}

Test(model_invariance, h2o) {
    check_invariances("datasets/H2O/data_0");
}

/* ---------------------------------------------------------------- sparse tangent ------------ */

/* Sparse J_c against the dense pass on one frame: c on `seeded` atoms (all if 0; two seeded atoms
 * with equal c when `twin`, so their pair has x' = 0 though both ends carry c). Equal to rounding
 * (relative 1e-12 of the largest entry); returns the fraction of pairs with a tangent, so a caller
 * can check the pass was sparse. */
static double sparse_vs_dense(const char *src, const model_config *cfg, size_t frame,
                              size_t seeded, int twin) {
    dataset_t ds;
    mu_load(src, "", &ds);
    model_t m;
    mu_model(&ds, cfg, 71, 4, &m);
    size_t na = ds.sys[0].natoms, N = m.layout.n_params;
    model_ws *ws;
    cr_assert_eq(model_ws_create(&m, na, &ws), RK_OK);
    double *cv = calloc(3 * na, sizeof *cv), *js = malloc(N * sizeof *js),
           *jd = malloc(N * sizeof *jd), *F = malloc(3 * na * sizeof *F);
    rng_t r;
    rng_seed(&r, 72);
    size_t n_on = seeded ? seeded : na;
    for (size_t k = 0; k < n_on; k++) {
        size_t i = seeded ? rng_below(&r, na) : k;
        for (int a = 0; a < 3; a++)
            cv[3 * i + a] = rng_normal(&r);
    }
    if (twin) /* atoms 0 and 1: the same c */
        for (int a = 0; a < 3; a++)
            cv[3 + a] = cv[a] = 0.5 + a;
    cr_assert_eq(model_set_frame(&m, ws, &ds.sys[0], frame), RK_OK);
    model_forward(&m, ws);
    model_backward(&m, ws, NULL, F);
    model_force_jacobian(&m, ws, cv, js);
    model_ws_dense_tangent(ws, 1);
    model_force_jacobian(&m, ws, cv, jd);
    double big = 0, diff = 0;
    size_t at = 0;
    for (size_t i = 0; i < N; i++) {
        big = fmax(big, fabs(jd[i]));
        if (fabs(js[i] - jd[i]) > diff) {
            diff = fabs(js[i] - jd[i]);
            at = i;
        }
    }
    cr_assert_gt(big, 0.0);
    cr_assert_leq(diff, 1e-12 * big, "%s: sparse J_c[%zu] %.17g, dense %.17g (max |J| %g)", src, at,
                  js[at], jd[at], big);
    size_t pairs = 0, centres = 0;
    model_tangent_support(&m, ws, cv, &pairs, &centres);
    double frac = (double)pairs / (double)model_ws_npairs(ws);
    free(cv);
    free(js);
    free(jd);
    free(F);
    model_ws_free(ws);
    model_free(&m);
    dataset_free(&ds);
    return frac;
}

Test(model_sparse_tangent, cu_force_group_of_six, .timeout = 300) {
    double frac = sparse_vs_dense("datasets/Cu/0_300_MOVEMENT", NULL, 3, 6, 0);
    cr_assert(frac > 0.0 && frac < 0.5, "a force group's tangent covers %.2f of the pairs", frac);
}

Test(model_sparse_tangent, cu_every_atom_and_twins, .timeout = 300) {
    sparse_vs_dense("datasets/Cu/0_300_MOVEMENT", NULL, 5, 0, 0);
    sparse_vs_dense("datasets/Cu/0_300_MOVEMENT", NULL, 5, 6, 1);
}

Test(model_sparse_tangent, h2o_two_types_resnet_dt, .timeout = 300) {
    static const size_t ne[] = {4, 8, 16};
    model_config c = dt_config(ne, 3);
    sparse_vs_dense("datasets/H2O/data_0", &c, 2, 6, 1);
    sparse_vs_dense("datasets/H2O/data_0", NULL, 2, 6, 0);
}
