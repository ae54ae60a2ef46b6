/* The model against an independent, naive transcription of SPEC §2 (per-pair loops, brute-force
 * images, parameters located by walking the SPEC order, no BLAS): energies, statistics and the
 * energy bias must agree. The transcription includes DeePMD-kit's residual timestep (resnet_dt,
 * an extension outside SPEC §2): y = x_res + idt * tanh(x W + b) on a residual layer, with idt
 * read right after that layer's b. Finite-difference tests check the derivatives are consistent
 * with the model; this checks the model is the SPEC's model (net (a,b) assignment, parameter order,
 * normalisation, descriptor flattening). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "model.h"
#include "modelutil.h"
#include "rng.h"
#include "testutil.h"

/* Both sides sum O(1e4) terms in different orders: rounding stays below this (relative). */
#define REF_REL_TOL 1e-11

typedef struct {
    const double *w;
    size_t p; /* walking offset */
} walker;

static const double *take(walker *k, size_t n) {
    const double *x = k->w + k->p;
    k->p += n;
    return x;
}

/* Widest layer the transcription's stack buffers hold. */
#define REF_MAX_WIDTH 128

/* What a layer adds to act(x W + b) (SPEC §2). */
enum { ADD_NOTHING, ADD_X, ADD_X_X };

/* y = idt * act(x W + b) (idt NULL: 1), plus x (ADD_X, nout = nin) or x concatenated with itself
 * (ADD_X_X, nout = 2 nin: y[o] += x[o] for o < nin, y[o] += x[o - nin] above); x of width nin */
static void layer(const double *x, size_t nin, const double *W, const double *b, const double *idt,
                  size_t nout, int linear, int add, double *y) {
    cr_assert_leq(nout, REF_MAX_WIDTH);
    for (size_t o = 0; o < nout; o++) {
        double z = b[o];
        for (size_t i = 0; i < nin; i++)
            z += x[i] * W[i * nout + o];
        y[o] = linear ? z : tanh(z);
        if (idt) y[o] *= idt[o];
        if (add == ADD_X) {
            cr_assert_eq(nout, nin);
            y[o] += x[o];
        } else if (add == ADD_X_X) {
            cr_assert_eq(nout, 2 * nin);
            y[o] += o < nin ? x[o] : x[o - nin];
        }
    }
}

static double sw(double r, double rs, double rc) {
    if (r < rs) return 1.0 / r;
    if (r >= rc) return 0.0;
    double u = (r - rs) / (rc - rs);
    return (u * u * u * (-6 * u * u + 15 * u - 10) + 1) / r;
}

/* Image range per lattice direction that covers rcut for any atom positions within one cell
 * length of the cell (perpendicular widths), plus one for unwrapped coordinates. */
static void image_range(const double *B, double rcut, int nimg[3]) {
    double vol = fabs(B[0] * (B[4] * B[8] - B[5] * B[7]) - B[1] * (B[3] * B[8] - B[5] * B[6]) +
                      B[2] * (B[3] * B[7] - B[4] * B[6]));
    for (int d = 0; d < 3; d++) {
        const double *u = B + 3 * ((d + 1) % 3), *v = B + 3 * ((d + 2) % 3);
        double cx = u[1] * v[2] - u[2] * v[1], cy = u[2] * v[0] - u[0] * v[2],
               cz = u[0] * v[1] - u[1] * v[0];
        nimg[d] = (int)ceil(rcut / (vol / sqrt(cx * cx + cy * cy + cz * cz))) + 1;
    }
}

/* Naive energy of frame f of system s. */
static double ref_energy(const model_t *m, const ds_system *sys, size_t f) {
    const model_config *c = &m->cfg;
    size_t nt = m->ntypes, na = sys->natoms, L = c->n_neuron, M1 = c->neuron[L - 1],
           M2 = c->axis_neuron;
    size_t nc = 0;
    for (size_t t = 0; t < nt; t++)
        nc += c->sel[t];
    /* what each layer adds (SPEC §2): embedding + h when widths match, + (h, h) when they
     * double; fitting + z only when widths match (no doubling rule); never on layer 1 */
    int eadd[MODEL_MAX_HIDDEN] = {ADD_NOTHING}, fadd[MODEL_MAX_HIDDEN] = {ADD_NOTHING};
    size_t Lf = c->n_fitting;
    for (size_t l = 1; l < L; l++) {
        size_t wi = c->neuron[l - 1], wo = c->neuron[l];
        eadd[l] = !c->resnet     ? ADD_NOTHING
                  : wo == wi     ? ADD_X
                  : wo == 2 * wi ? ADD_X_X
                                 : ADD_NOTHING;
    }
    for (size_t l = 1; l < Lf; l++)
        fadd[l] =
            c->resnet && c->fitting_neuron[l] == c->fitting_neuron[l - 1] ? ADD_X : ADD_NOTHING;
    /* parameter offsets in SPEC order; a residual layer of a resnet_dt net has idt after b */
    walker k = {m->w, 0};
    const double *eW[MODEL_MAX_TYPES][MODEL_MAX_TYPES][MODEL_MAX_HIDDEN],
        *eB[MODEL_MAX_TYPES][MODEL_MAX_TYPES][MODEL_MAX_HIDDEN],
        *eI[MODEL_MAX_TYPES][MODEL_MAX_TYPES][MODEL_MAX_HIDDEN];
    for (size_t a = 0; a < nt; a++)
        for (size_t b = 0; b < nt; b++)
            for (size_t l = 0; l < L; l++) {
                size_t nin = l ? c->neuron[l - 1] : 1;
                eW[a][b][l] = take(&k, nin * c->neuron[l]);
                eB[a][b][l] = take(&k, c->neuron[l]);
                eI[a][b][l] =
                    c->resnet_dt && eadd[l] != ADD_NOTHING ? take(&k, c->neuron[l]) : NULL;
            }
    const double *fW[MODEL_MAX_TYPES][MODEL_MAX_HIDDEN + 1],
        *fB[MODEL_MAX_TYPES][MODEL_MAX_HIDDEN + 1], *fI[MODEL_MAX_TYPES][MODEL_MAX_HIDDEN + 1];
    for (size_t a = 0; a < nt; a++)
        for (size_t l = 0; l <= Lf; l++) {
            size_t nin = l ? c->fitting_neuron[l - 1] : M1 * M2,
                   nout = l < Lf ? c->fitting_neuron[l] : 1;
            fW[a][l] = take(&k, nin * nout);
            fB[a][l] = take(&k, nout);
            fI[a][l] =
                l < Lf && c->fitting_resnet_dt && fadd[l] != ADD_NOTHING ? take(&k, nout) : NULL;
        }
    cr_assert_eq(k.p, m->layout.n_params, "SPEC parameter count");
    const double *X = sys->coord + f * na * 3, *B = sys->box + f * 9;
    int nimg[3];
    image_range(B, c->rcut, nimg);
    double E = 0;
    double *T = calloc(4 * M1, sizeof *T), h[REF_MAX_WIDTH], h2[REF_MAX_WIDTH], D[4096],
           z[REF_MAX_WIDTH], z2[REF_MAX_WIDTH];
    cr_assert_leq(M1 * M2, 4096);
    for (size_t i = 0; i < na; i++) {
        size_t a = (size_t)sys->type[i];
        memset(T, 0, 4 * M1 * sizeof *T);
        for (size_t j = 0; j < na; j++)
            for (int n0 = -nimg[0]; n0 <= nimg[0]; n0++)
                for (int n1 = -nimg[1]; n1 <= nimg[1]; n1++)
                    for (int n2 = -nimg[2]; n2 <= nimg[2]; n2++) {
                        if (i == j && !n0 && !n1 && !n2) continue;
                        double d[3];
                        for (int q = 0; q < 3; q++)
                            d[q] = X[3 * j + q] + n0 * B[q] + n1 * B[3 + q] + n2 * B[6 + q] -
                                   X[3 * i + q];
                        double r = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
                        if (!(r > 0 && r < c->rcut)) continue;
                        double s = sw(r, c->rcut_smth, c->rcut);
                        double Rt[4] = {s, s * d[0] / r, s * d[1] / r, s * d[2] / r}, Rh[4];
                        for (int q = 0; q < 4; q++)
                            Rh[q] = (Rt[q] - m->avg[a][q]) / m->std[a][q];
                        size_t b = (size_t)sys->type[j];
                        double x = Rh[0];
                        layer(&x, 1, eW[a][b][0], eB[a][b][0], eI[a][b][0], c->neuron[0], 0,
                              ADD_NOTHING, h);
                        for (size_t l = 1; l < L; l++) {
                            layer(h, c->neuron[l - 1], eW[a][b][l], eB[a][b][l], eI[a][b][l],
                                  c->neuron[l], 0, eadd[l], h2);
                            memcpy(h, h2, c->neuron[l] * sizeof *h);
                        }
                        for (int q = 0; q < 4; q++)
                            for (size_t g = 0; g < M1; g++)
                                T[q * M1 + g] += Rh[q] * h[g] / (double)nc;
                    }
        for (size_t p = 0; p < M1; p++)
            for (size_t q = 0; q < M2; q++) {
                double v = 0;
                for (int kk = 0; kk < 4; kk++)
                    v += T[kk * M1 + p] * T[kk * M1 + q];
                D[p * M2 + q] = v;
            }
        layer(D, M1 * M2, fW[a][0], fB[a][0], fI[a][0], c->fitting_neuron[0], 0, ADD_NOTHING, z);
        for (size_t l = 1; l < Lf; l++) {
            layer(z, c->fitting_neuron[l - 1], fW[a][l], fB[a][l], fI[a][l], c->fitting_neuron[l],
                  0, fadd[l], z2);
            memcpy(z, z2, c->fitting_neuron[l] * sizeof *z);
        }
        double Ei;
        layer(z, c->fitting_neuron[Lf - 1], fW[a][Lf], fB[a][Lf], NULL, 1, 1, ADD_NOTHING, &Ei);
        E += Ei;
    }
    free(T);
    return E;
}

static void compare(const char *src, size_t frame, const model_config *cfg) {
    dataset_t ds;
    mu_load(src, "", &ds);
    model_t m;
    mu_model(&ds, cfg, 21, 6, &m);
    /* idt entries spread over [0.5, 1.5) (their initial 0.1 +- 0.001 is nearly one value), so a
     * misplaced or mis-indexed idt shows */
    rng_t ri;
    rng_seed(&ri, 22);
    for (size_t t = 0; t < m.layout.n_tensors; t++)
        if (layout_role_is_timestep(m.layout.t[t].tag.role))
            for (size_t i = 0; i < m.layout.t[t].size; i++)
                m.w[m.layout.t[t].offset + i] = 0.5 + rng_uniform(&ri);
    model_ws *ws;
    cr_assert_eq(model_ws_create(&m, mu_max_atoms(&ds), &ws), RK_OK);
    cr_assert_eq(model_set_frame(&m, ws, &ds.sys[0], frame), RK_OK, "%s", err_msg());
    double E = model_forward(&m, ws), Eref = ref_energy(&m, &ds.sys[0], frame);
    cr_assert_leq(fabs(E - Eref), REF_REL_TOL * fabs(Eref), "%s: E %.15g vs reference %.15g", src,
                  E, Eref);

    /* statistics over the first 6 frames of system 0, recomputed naively */
    size_t nt = ds.ntypes;
    double sum[MODEL_MAX_TYPES] = {0}, sum2[MODEL_MAX_TYPES] = {0}, cnt[MODEL_MAX_TYPES] = {0};
    const ds_system *s = &ds.sys[0];
    for (size_t f = 0; f < 6; f++) {
        cr_assert_eq(model_set_frame(&m, ws, s, f), RK_OK);
        /* pairs from a brute-force loop over images (coordinates may be unwrapped) */
        const double *X = s->coord + f * s->natoms * 3, *B = s->box + f * 9;
        int ni[3];
        image_range(B, m.cfg.rcut, ni);
        for (size_t i = 0; i < s->natoms; i++)
            for (size_t j = 0; j < s->natoms; j++)
                for (int n0 = -ni[0]; n0 <= ni[0]; n0++)
                    for (int n1 = -ni[1]; n1 <= ni[1]; n1++)
                        for (int n2 = -ni[2]; n2 <= ni[2]; n2++) {
                            if (i == j && !n0 && !n1 && !n2) continue;
                            double d2 = 0;
                            for (int q = 0; q < 3; q++) {
                                double d = X[3 * j + q] + n0 * B[q] + n1 * B[3 + q] +
                                           n2 * B[6 + q] - X[3 * i + q];
                                d2 += d * d;
                            }
                            double r = sqrt(d2);
                            if (!(r < m.cfg.rcut)) continue;
                            double sv = sw(r, m.cfg.rcut_smth, m.cfg.rcut);
                            size_t a = (size_t)s->type[i];
                            sum[a] += sv;
                            sum2[a] += sv * sv;
                            cnt[a] += 1;
                        }
    }
    for (size_t a = 0; a < nt; a++) {
        double mean = sum[a] / cnt[a], m2 = sum2[a] / cnt[a];
        double sd0 = fmax(sqrt(m2 - mean * mean), 1e-2), sd1 = fmax(sqrt(m2 / 3), 1e-2);
        cr_assert_leq(fabs(m.avg[a][0] - mean), 1e-12 * fabs(mean),
                      "avg[%zu][0] %.15g vs %.15g (n %g)", a, m.avg[a][0], mean, cnt[a]);
        cr_assert_eq(m.avg[a][1], 0.0);
        cr_assert_leq(fabs(m.std[a][0] - sd0), 1e-9 * sd0, "std[%zu][0] %.15g vs %.15g", a,
                      m.std[a][0], sd0);
        cr_assert_leq(fabs(m.std[a][2] - sd1), 1e-12 * sd1, "std[%zu][2]", a);
    }
    model_ws_free(ws);
    model_free(&m);
    dataset_free(&ds);
}

Test(model_reference, cu_default_model, .timeout = 300) {
    compare("datasets/Cu/0_300_MOVEMENT", 4, NULL);
}

/* Embedding [8, 16, 16]: layer 2 doubles (+ (h, h)), layer 3 keeps the width (+ h); fitting
 * [24, 24, 12]: + z, then nothing. */
Test(model_reference, h2o_two_types_uneven_widths, .timeout = 300) {
    model_config c = model_default_config();
    c.n_neuron = 3;
    c.neuron[0] = 8;
    c.neuron[1] = 16;
    c.neuron[2] = 16;
    c.axis_neuron = 4;
    c.n_fitting = 3;
    c.fitting_neuron[0] = 24;
    c.fitting_neuron[1] = 24;
    c.fitting_neuron[2] = 12;
    compare("datasets/H2O/data_0", 2, &c);
}

/* Embedding [4, 8, 8, 16]: doubles, keeps, doubles; fitting [16, 32, 32]: the doubling layer
 * has no skip in a fitting net, the equal one has. */
Test(model_reference, cu_doubling_embedding, .timeout = 300) {
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
    compare("datasets/Cu/0_300_MOVEMENT", 11, &c);
}

/* Embedding [4, 8, 16] (doubles twice), fitting [12, 24, 24], two types. */
Test(model_reference, h2o_doubling_embedding, .timeout = 300) {
    model_config c = model_default_config();
    c.n_neuron = 3;
    c.neuron[0] = 4;
    c.neuron[1] = 8;
    c.neuron[2] = 16;
    c.axis_neuron = 4;
    c.n_fitting = 3;
    c.fitting_neuron[0] = 12;
    c.fitting_neuron[1] = 24;
    c.fitting_neuron[2] = 24;
    compare("datasets/H2O/data_0", 5, &c);
}

/* The same embedding without resnet: no skip anywhere (so a doubling skip applied regardless of
 * resnet would show). */
Test(model_reference, h2o_doubling_without_resnet, .timeout = 300) {
    model_config c = model_default_config();
    c.n_neuron = 3;
    c.neuron[0] = 4;
    c.neuron[1] = 8;
    c.neuron[2] = 16;
    c.axis_neuron = 4;
    c.n_fitting = 2;
    c.fitting_neuron[0] = 12;
    c.fitting_neuron[1] = 12;
    c.resnet = 0;
    compare("datasets/H2O/data_0", 5, &c);
}

/* resnet_dt on both nets, embedding [4, 8, 8, 16] (doubles, keeps, doubles: idt on layers 2-4),
 * fitting [16, 32, 32] (idt on layer 3 only). */
Test(model_reference, cu_resnet_dt_both_nets, .timeout = 300) {
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
    c.resnet_dt = 1;
    c.fitting_resnet_dt = 1;
    compare("datasets/Cu/0_300_MOVEMENT", 11, &c);
}

/* Two types, embedding [4, 8, 16] with resnet_dt, fitting [12, 24, 24] without: the water
 * example's pattern the other way round (descriptor true, fitting false). */
Test(model_reference, h2o_resnet_dt_embedding_only, .timeout = 300) {
    model_config c = model_default_config();
    c.n_neuron = 3;
    c.neuron[0] = 4;
    c.neuron[1] = 8;
    c.neuron[2] = 16;
    c.axis_neuron = 4;
    c.n_fitting = 3;
    c.fitting_neuron[0] = 12;
    c.fitting_neuron[1] = 24;
    c.fitting_neuron[2] = 24;
    c.resnet_dt = 1;
    compare("datasets/H2O/data_0", 5, &c);
}

/* Two types, the water example's choice: fitting [8, 8, 8] with resnet_dt, embedding without. */
Test(model_reference, h2o_resnet_dt_fitting_only, .timeout = 300) {
    model_config c = model_default_config();
    c.n_neuron = 3;
    c.neuron[0] = 4;
    c.neuron[1] = 8;
    c.neuron[2] = 16;
    c.axis_neuron = 4;
    c.n_fitting = 3;
    c.fitting_neuron[0] = 8;
    c.fitting_neuron[1] = 8;
    c.fitting_neuron[2] = 8;
    c.fitting_resnet_dt = 1;
    compare("datasets/H2O/data_0", 5, &c);
}

Test(model_reference, ligeps_four_types, .timeout = 300) {
    compare("datasets/LiGePS/100_1200k_movement", 9, NULL);
}

/* Minimum-norm bias fit: with H2O's fixed composition (64 O, 128 H) the fit is rank one, so
 * e = c (64, 128) with c = mean(E) / (64^2 + 128^2). */
Test(model_reference, h2o_min_norm_bias) {
    dataset_t ds;
    mu_load("datasets/H2O/data_0", "", &ds);
    model_t m;
    mu_model(&ds, NULL, 1, 6, &m);
    double meanE = 0;
    for (size_t f = 0; f < 6; f++)
        meanE += ds.sys[0].energy[f] / 6.0;
    double cc = meanE / (64.0 * 64.0 + 128.0 * 128.0);
    size_t t0 = layout_lookup(&m.layout, LAYOUT_OUT_B, 0, LAYOUT_NO_TYPE, 0);
    size_t t1 = layout_lookup(&m.layout, LAYOUT_OUT_B, 1, LAYOUT_NO_TYPE, 0);
    cr_assert(t0 < m.layout.n_tensors && t1 < m.layout.n_tensors, "output biases by role");
    size_t o0 = m.layout.t[t0].offset, o1 = m.layout.t[t1].offset;
    cr_assert_str_eq(ds.type_map[0], "O");
    cr_assert_leq(fabs(m.w[o0] - 64 * cc), 1e-9 * fabs(64 * cc), "e_O %.12g vs %.12g", m.w[o0],
                  64 * cc);
    cr_assert_leq(fabs(m.w[o1] - 128 * cc), 1e-9 * fabs(128 * cc), "e_H %.12g vs %.12g", m.w[o1],
                  128 * cc);
    model_free(&m);
    dataset_free(&ds);
}
