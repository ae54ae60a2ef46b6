/* The training protocol of SPEC §3, pinned from outside the trainer.
 *
 * A recording optimizer wraps a registered one: at every step it copies the weights it is handed
 * and the signal (Kalman: e and h; gradient: g), then lets the real optimizer update. The test then
 * recomputes each signal independently from the model API at the recorded weights:
 *   Kalman energy update: e = |pE (E - E^)/n|, h = sign · pE dE^/dw / n, for exactly one frame;
 *   Kalman force groups:  the 24 atoms of an image are the next 24 draws of the run's SAMPLE stream,
 *                         cut into 4 groups of 6; per group, at the weights of that update (so forces
 *                         are recomputed after each update), d_j = pF (F_j - F^_j),
 *                         e = mean_j |d_j| / n, h = J_c with c_j = sign(d_j) pF / (n 18);
 *   Adam:                 g = dL/dw of L = pE(t) ((E^ - E)/n)^2 + pF(t)/(3n) |F^ - F|^2, checked
 *                         against central finite differences of L along random directions, with
 *                         pE(t), pF(t) from the schedule formula written out here.
 * A one-line change to any of these (group size, the 1/18, the recompute, the factor 2 of the loss
 * gradient, the sign flip) makes a test below fail.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "modelutil.h"
#include "registry.h"
#include "rng.h"
#include "testutil.h"
#include "config.h"
#include "train.h"

/* SPEC §3 constants, spelled here independently of the trainer. */
#define P_E 1.0
#define P_F 2.0
#define GROUPS 4
#define GROUP_ATOMS 6
#define COMPONENTS (3 * GROUP_ATOMS) /* 18 */

/* The recorded signals and the analytic recomputations share the model's arithmetic but not its
 * order of summation: agreement to this relative size means the same formula. */
#define SIGNAL_RTOL 1e-10
/* Central differences of the loss with step FD_EPS agree with the analytic gradient to this
 * relative size (truncation ~eps², rounding ~1e-16/eps). */
#define FD_EPS 1e-5
#define FD_RTOL 1e-6
#define FD_DIRECTIONS 3

#define REC_MAX 12 /* updates recorded */



static void small_model(model_config *c) {
    *c = model_default_config();
    c->n_sel = 1;
    c->sel[0] = 81;
    c->neuron[0] = 6;
    c->neuron[1] = 12;
    c->neuron[2] = 12;
    c->axis_neuron = 4;
    c->n_fitting = 2;
    c->fitting_neuron[0] = 16;
    c->fitting_neuron[1] = 16;
}

/* A one-epoch run of a few Cu frames with the recorder `rt` wrapping optimizer `opt`. */
static void record_run(const char *opt, const char *out, const optim_type *rt,
                       train_config *tc) {
    mu_rec_clear();
    config_default(tc);
    small_model(&tc->model);
    snprintf(tc->dataset, sizeof tc->dataset, "Cu");
    snprintf(tc->stream_name, sizeof tc->stream_name, "Cu");
    const optim_type *inner = optim_find(opt);
    cr_assert(inner);
    tc->opt = rt;
    optim_default_params(inner, &tc->opt_params);
    tc->max_train_frames = 4;
    tc->eval_max_frames = 2;
    tc->epochs = 1;
    tc->seed = 7;
    tc->quiet = 1;
    snprintf(tc->out_dir, sizeof tc->out_dir, "%s", tu_tmp(out));
}

/* The run's initial model (its statistics and weights), to recompute signals with. */
static void finish_setup(const train_config *tc, model_t *m, model_ws **ws) {
    char p[2048];
    snprintf(p, sizeof p, "%s/model_init.h5", tc->out_dir);
    cr_assert_eq(model_load(m, p), RK_OK, "%s", err_msg());
    cr_assert_eq(model_ws_create(m, mu_max_atoms(mu_cu()), ws), RK_OK);
}

static double rel_diff(const double *a, const double *b, size_t n) {
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs(a[i] - b[i]));
        s = fmax(s, fabs(b[i]));
    }
    return s > 0 ? d / s : d;
}

/* The frame whose energy residual at weights w is e (as the energy update sends it), or -1. */
static long energy_frame(model_t *m, model_ws *ws, const ds_system *sys, const double *w,
                         double e) {
    memcpy(m->w, w, m->layout.n_params * sizeof *w);
    long found = -1;
    for (size_t f = 0; f < sys->nframes; f++) {
        cr_assert_eq(model_set_frame(m, ws, sys, f), RK_OK);
        double E = model_forward(m, ws);
        double r = fabs(P_E * (sys->energy[f] - E) / (double)sys->natoms);
        if (fabs(r - e) <= SIGNAL_RTOL * fmax(fabs(e), 1e-300)) {
            cr_assert_eq(found, -1, "two frames give the recorded energy residual %.17g", e);
            found = (long)f;
        }
    }
    return found;
}

Test(protocol, kalman_signals_match_an_independent_computation) {
    const dataset_t *ds = mu_cu();
    const ds_system *sys = &ds->sys[0];
    cr_assert_eq(ds->nsystems, 1);
    optim_type rt = mu_recording_type(optim_find("rlekf"), REC_MAX);
    train_config tc;
    model_t m;
    model_ws *ws;
    record_run("rlekf", "kalman", &rt, &tc);
    train_result res;
    cr_assert_eq(train_run(&tc, ds, &res), RK_OK, "%s", err_msg());
    /* 1 energy + 4 force updates per image */
    cr_assert_eq(res.updates, 5 * res.images, "updates %zu for %zu images", res.updates,
                 res.images);
    cr_assert_geq(mu_rec.n, 10);
    finish_setup(&tc, &m, &ws);
    size_t N = m.layout.n_params, na = sys->natoms;
    double n = (double)na;
    double *h = malloc(N * sizeof *h), *F = malloc(3 * na * sizeof *F),
           *c = malloc(3 * na * sizeof *c);
    rng_t sample;
    rng_stream(&sample, "Cu", tc.seed, RNG_SAMPLE);
    for (size_t img = 0; img < 2; img++) {
        /* energy update */
        size_t k0 = 5 * img;
        cr_assert_gt(mu_rec.e[k0], 0.0, "energy error is sent as |r| (sign folded into h)");
        long f = energy_frame(&m, ws, sys, mu_rec.w[k0], mu_rec.e[k0]);
        cr_assert_geq(f, 0, "image %zu: no frame has the recorded energy residual", img);
        cr_assert_eq(model_set_frame(&m, ws, sys, (size_t)f), RK_OK);
        double E = model_forward(&m, ws);
        model_backward(&m, ws, h, NULL);
        double sgn = sys->energy[f] - E < 0 ? -1.0 : 1.0;
        for (size_t i = 0; i < N; i++)
            h[i] *= sgn * P_E / n;
        double d = rel_diff(mu_rec.sig[k0], h, N);
        cr_assert_leq(d, SIGNAL_RTOL, "image %zu energy h: rel diff %.3g", img, d);
        /* force groups: the next 24 draws of the SAMPLE stream, 4 groups of 6 */
        size_t atoms[GROUPS * GROUP_ATOMS];
        for (size_t a = 0; a < GROUPS * GROUP_ATOMS; a++)
            atoms[a] = rng_below(&sample, na);
        const double *Fl = sys->force + (size_t)f * na * 3;
        for (size_t g = 0; g < GROUPS; g++) {
            size_t k = k0 + 1 + g;
            /* forces at the weights this update was handed, i.e. after the previous update */
            memcpy(m.w, mu_rec.w[k], N * sizeof *h);
            cr_assert(rel_diff(mu_rec.w[k], mu_rec.w[k - 1], N) > 0, "update %zu did not move w", k - 1);
            model_forward(&m, ws);
            model_backward(&m, ws, NULL, F);
            memset(c, 0, 3 * na * sizeof *c);
            double sum = 0;
            for (size_t j = 0; j < GROUP_ATOMS; j++) {
                size_t i = atoms[g * GROUP_ATOMS + j];
                for (int al = 0; al < 3; al++) {
                    double dj = P_F * (Fl[3 * i + al] - F[3 * i + al]);
                    double s = dj > 0 ? 1.0 : dj < 0 ? -1.0 : 0.0;
                    sum += fabs(dj);
                    c[3 * i + al] += s * P_F / (n * COMPONENTS);
                }
            }
            double e = sum / COMPONENTS / n;
            cr_assert_leq(fabs(mu_rec.e[k] - e), SIGNAL_RTOL * e,
                          "image %zu group %zu: e %.17g, expected %.17g", img, g, mu_rec.e[k], e);
            model_force_jacobian(&m, ws, c, h);
            d = rel_diff(mu_rec.sig[k], h, N);
            cr_assert_leq(d, SIGNAL_RTOL, "image %zu group %zu h: rel diff %.3g", img, g, d);
        }
    }
    free(h);
    free(F);
    free(c);
    model_ws_free(ws);
    model_free(&m);
    mu_rec_clear();
}

/* Adam's schedule (SPEC §3), written out: lr(t) = lr0 γ^⌊t/ds⌋, γ = (stop/lr0)^(ds/ss);
 * p(t) = limit + (start − limit) lr(t)/lr0. */
static void schedule(double t, double lr0, double stop, double ds, double ss, double *pe,
                     double *pf) {
    double lr = lr0 * pow(pow(stop / lr0, ds / ss), floor(t / ds));
    *pe = 1.0 + (0.02 - 1.0) * lr / lr0;
    *pf = 1.0 + (1000.0 - 1.0) * lr / lr0;
}

static double loss(model_t *m, model_ws *ws, const ds_system *sys, size_t f, double pe, double pf,
                   double *F) {
    size_t na = sys->natoms;
    double n = (double)na;
    double E = model_forward(m, ws);
    model_backward(m, ws, NULL, F);
    const double *Fl = sys->force + f * na * 3;
    double sf = 0;
    for (size_t k = 0; k < 3 * na; k++)
        sf += (F[k] - Fl[k]) * (F[k] - Fl[k]);
    double de = (E - sys->energy[f]) / n;
    return pe * de * de + pf / (3.0 * n) * sf;
}

Test(protocol, adam_gradient_is_the_loss_derivative) {
    const dataset_t *ds = mu_cu();
    const ds_system *sys = &ds->sys[0];
    const optim_type *adam = optim_find("adam");
    optim_type rt = mu_recording_type(adam, REC_MAX);
    train_config tc;
    model_t m;
    model_ws *ws;
    record_run("adam", "adam", &rt, &tc);
    /* a short decay so the prefactors change between the recorded steps */
    const double lr0 = 1e-3, stop = 3.51e-8, dsteps = 1, ssteps = 8;
    cr_assert_eq(optim_set_param(adam, &tc.opt_params, "t", "start_lr", lr0), RK_OK);
    cr_assert_eq(optim_set_param(adam, &tc.opt_params, "t", "stop_lr", stop), RK_OK);
    cr_assert_eq(optim_set_param(adam, &tc.opt_params, "t", "decay_steps", dsteps), RK_OK);
    cr_assert_eq(optim_set_param(adam, &tc.opt_params, "t", "stop_steps", ssteps), RK_OK);
    train_result res;
    cr_assert_eq(train_run(&tc, ds, &res), RK_OK, "%s", err_msg());
    cr_assert_eq(res.updates, res.images, "Adam takes one step per image");
    cr_assert_geq(mu_rec.n, 3);
    finish_setup(&tc, &m, &ws);
    size_t N = m.layout.n_params, na = sys->natoms;
    double *F = malloc(3 * na * sizeof *F), *v = malloc(N * sizeof *v),
           *w0 = malloc(N * sizeof *w0);
    rng_t dirs;
    rng_seed(&dirs, 11);
    for (size_t k = 0; k < 3; k++) {
        double pe, pf;
        schedule((double)k, lr0, stop, dsteps, ssteps, &pe, &pf);
        memcpy(w0, mu_rec.w[k], N * sizeof *w0);
        /* the frame of this step: the one whose loss derivative along random directions matches g */
        long match = -1;
        double worst = 0;
        for (size_t f = 0; f < sys->nframes && match < 0; f++) {
            cr_assert_eq(model_set_frame(&m, ws, sys, f), RK_OK);
            int ok = 1;
            double fworst = 0;
            for (int dir = 0; dir < FD_DIRECTIONS && ok; dir++) {
                for (size_t i = 0; i < N; i++)
                    v[i] = rng_normal(&dirs);
                double gv = 0, scale = 0;
                for (size_t i = 0; i < N; i++) {
                    gv += mu_rec.sig[k][i] * v[i];
                    scale += fabs(mu_rec.sig[k][i] * v[i]);
                }
                for (size_t i = 0; i < N; i++)
                    m.w[i] = w0[i] + FD_EPS * v[i];
                double lp = loss(&m, ws, sys, f, pe, pf, F);
                for (size_t i = 0; i < N; i++)
                    m.w[i] = w0[i] - FD_EPS * v[i];
                double lm = loss(&m, ws, sys, f, pe, pf, F);
                double fd = (lp - lm) / (2 * FD_EPS);
                double rel = fabs(fd - gv) / fmax(scale, 1e-300);
                fworst = fmax(fworst, rel);
                ok = rel <= FD_RTOL;
            }
            if (ok) {
                match = (long)f;
                worst = fworst;
            }
        }
        cr_assert_geq(match, 0,
                      "step %zu: the gradient Adam was handed is dL/dw of no frame's loss "
                      "(pE %.6g, pF %.6g)",
                      k, pe, pf);
        cr_assert_leq(worst, FD_RTOL);
    }
    free(F);
    free(v);
    free(w0);
    model_ws_free(ws);
    model_free(&m);
    mu_rec_clear();
}
