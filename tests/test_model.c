/* Model derivatives and invariances (SPEC §2): F, dE/dw and J_c against central finite
 * differences, on synthetic frames and on real frames of Cu (one type), H2O and LiGePS (several
 * types); invariance of E under translation, rotation, permutation and re-wrapping. */
#include <criterion/criterion.h>
#include <math.h>
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

/* Every tensor carries its role and net, in SPEC §2 order, and its (file) name agrees. */
static void check_roles(const model_t *m) {
    size_t nt = m->ntypes, k = 0, Le = m->cfg.n_neuron, Lf = m->cfg.n_fitting + 1;
    char want[2 * LAYOUT_NAME_MAX]; /* room for any size_t; the names compared fit the layout's */
    for (size_t a = 0; a < nt; a++)
        for (size_t b = 0; b < nt; b++)
            for (size_t l = 1; l <= Le; l++)
                for (int bias = 0; bias < 2; bias++, k++) {
                    const layout_tensor *T = &m->layout.t[k];
                    cr_assert_eq(T->tag.role, bias ? LAYOUT_EMBED_B : LAYOUT_EMBED_W, "%s",
                                 T->name);
                    cr_assert_eq(T->tag.centre, a, "%s", T->name);
                    cr_assert_eq(T->tag.neighbour, b, "%s", T->name);
                    cr_assert_eq(T->tag.layer, l, "%s", T->name);
                    snprintf(want, sizeof want, "embed[%zu,%zu].l%zu.%c", a, b, l,
                             bias ? 'b' : 'W');
                    cr_assert_str_eq(T->name, want);
                    cr_assert_eq(layout_lookup(&m->layout, T->tag.role, a, b, l), k);
                }
    for (size_t a = 0; a < nt; a++)
        for (size_t l = 1; l <= Lf; l++)
            for (int bias = 0; bias < 2; bias++, k++) {
                const layout_tensor *T = &m->layout.t[k];
                int out = l == Lf;
                layout_role r = out ? (bias ? LAYOUT_OUT_B : LAYOUT_OUT_W)
                                    : (bias ? LAYOUT_FIT_B : LAYOUT_FIT_W);
                cr_assert_eq(T->tag.role, r, "%s", T->name);
                cr_assert_eq(T->tag.centre, a, "%s", T->name);
                cr_assert_eq(T->tag.neighbour, LAYOUT_NO_TYPE, "%s", T->name);
                cr_assert_eq(T->tag.layer, l, "%s", T->name);
                cr_assert_eq(layout_role_is_bias(r), bias, "%s", T->name);
                if (out)
                    snprintf(want, sizeof want, "fit[%zu].out.%c", a, bias ? 'b' : 'W');
                else
                    snprintf(want, sizeof want, "fit[%zu].l%zu.%c", a, l, bias ? 'b' : 'W');
                cr_assert_str_eq(T->name, want);
                cr_assert_eq(layout_lookup(&m->layout, r, a, LAYOUT_NO_TYPE, l), k);
            }
    cr_assert_eq(k, m->layout.n_tensors);
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
