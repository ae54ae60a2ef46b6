/* model_init: what the model takes from the training data before the first step (SPEC §2):
 * neighbour statistics (the smallest sel), the environment statistics avg/std, and the seeded
 * initial weights with the output biases from a minimum-norm least-squares energy fit.
 *
 *   avg[t][0] = mean s,  std[t][0] = pop. std of s,  std[t][1..3] = sqrt(mean s^2 / 3)  (pairs of
 *   centre type t; floor 1e-2; no pairs: avg 0, std 1)
 *   e = argmin_e |A e - E|, minimum norm, A[f][a] = number of atoms of type a in frame f
 */
#include <math.h>
#include <string.h>

#include "eigen.h"
#include "model.h"
#include "nlist.h"

/* Standard deviations below this floor are raised to it (SPEC §2 "Statistics"). */
#define MODEL_STD_FLOOR 1e-2
/* Relative eigenvalue cut-off of the minimum-norm least-squares bias fit. */
#define MODEL_PINV_RTOL 1e-10
/* Initial residual timestep idt ~ N(mean, sd^2) per entry, DeePMD-kit's initialiser. */
#define MODEL_IDT_MEAN 0.1
#define MODEL_IDT_SD 0.001

/* ---------------------------------------------------------------- statistics -------------- */

rk_status model_compute_stats(model_t *m, const dataset_t *ds, const model_frame_ref *frames,
                              size_t n) {
    size_t nt = m->ntypes;
    double sum[MODEL_MAX_TYPES] = {0}, sum2[MODEL_MAX_TYPES] = {0};
    size_t cnt[MODEL_MAX_TYPES] = {0};
    nlist_t nl;
    nlist_init(&nl);
    for (size_t f = 0; f < n; f++) {
        const ds_system *sys = &ds->sys[frames[f].sys];
        size_t fr = frames[f].frame, na = sys->natoms;
        rk_status st =
            nlist_build(&nl, na, sys->coord + fr * na * 3, sys->box + fr * 9, m->cfg.rcut);
        if (st) {
            nlist_free(&nl);
            return err_prefix(st, "system %s frame %zu: ", sys->name, fr);
        }
        for (size_t i = 0; i < na; i++) {
            size_t a = (size_t)sys->type[i];
            for (size_t q = nl.start[i]; q < nl.start[i + 1]; q++) {
                const double *d = nl.d + 3 * q;
                double r = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]), s, ds_;
                model_switch(r, m->cfg.rcut_smth, m->cfg.rcut, &s, &ds_);
                sum[a] += s;
                sum2[a] += s * s;
                cnt[a]++;
            }
        }
    }
    nlist_free(&nl);
    for (size_t a = 0; a < nt; a++) {
        if (cnt[a] == 0) {
            for (int k = 0; k < 4; k++) {
                m->avg[a][k] = 0.0;
                m->std[a][k] = 1.0;
            }
            continue;
        }
        double mean = sum[a] / (double)cnt[a], mean2 = sum2[a] / (double)cnt[a];
        double var = mean2 - mean * mean;
        m->avg[a][0] = mean;
        m->avg[a][1] = m->avg[a][2] = m->avg[a][3] = 0.0;
        m->std[a][0] = sqrt(var > 0.0 ? var : 0.0);
        m->std[a][1] = m->std[a][2] = m->std[a][3] = sqrt(mean2 / 3.0);
        for (int k = 0; k < 4; k++)
            if (m->std[a][k] < MODEL_STD_FLOOR) m->std[a][k] = MODEL_STD_FLOOR;
    }
    return RK_OK;
}

rk_status model_neighbor_scan(const dataset_t *ds, double rcut, const model_frame_ref *frames,
                              size_t n, model_nbr_stat *out) {
    size_t nt = ds->ntypes;
    memset(out->max_count, 0, nt * sizeof *out->max_count);
    if (out->max_at) memset(out->max_at, 0, nt * sizeof *out->max_at);
    out->max_total = 0;
    out->min_dist = INFINITY;
    memset(&out->total_at, 0, sizeof out->total_at);
    memset(&out->min_at, 0, sizeof out->min_at);
    nlist_t nl;
    nlist_init(&nl);
    size_t *c = NULL, cap = 0; /* (natoms, ntypes) neighbour counts of one frame */
    rk_status st = RK_OK;
    for (size_t f = 0; f < n && !st; f++) {
        size_t s = frames[f].sys, fr = frames[f].frame;
        const ds_system *sys = &ds->sys[s];
        size_t na = sys->natoms;
        st = nlist_build(&nl, na, sys->coord + fr * na * 3, sys->box + fr * 9, rcut);
        if (st) {
            err_prefix(st, "system %s frame %zu: ", sys->name, fr);
            break;
        }
        if (na * nt > cap) {
            free(c);
            cap = na * nt;
            c = rk_malloc(cap * sizeof *c);
            if (!c) {
                st = RK_ENOMEM;
                break;
            }
        }
        nlist_count_types(&nl, sys->type, nt, c);
        /* first (frame, atom) in scan order that attains each maximum / the minimum */
        for (size_t i = 0; i < na; i++) {
            size_t total = 0;
            for (size_t t = 0; t < nt; t++) {
                size_t k = c[i * nt + t];
                total += k;
                if (k > out->max_count[t]) {
                    out->max_count[t] = k;
                    if (out->max_at) out->max_at[t] = (model_site){s, fr, i, 0};
                }
            }
            if (total > out->max_total) {
                out->max_total = total;
                out->total_at = (model_site){s, fr, i, 0};
            }
            for (size_t q = nl.start[i]; q < nl.start[i + 1]; q++) {
                const double *d = nl.d + 3 * q;
                double r = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
                if (r < out->min_dist) {
                    out->min_dist = r;
                    out->min_at = (model_site){s, fr, i, (size_t)nl.j[q]};
                }
            }
        }
    }
    free(c);
    nlist_free(&nl);
    return st;
}

rk_status model_neighbor_stat(const dataset_t *ds, double rcut, const model_frame_ref *frames,
                              size_t n, size_t *counts, double *min_dist) {
    model_nbr_stat ns = {.max_count = counts};
    rk_status st = model_neighbor_scan(ds, rcut, frames, n, &ns);
    if (!st && min_dist) *min_dist = ns.min_dist;
    return st;
}

rk_status model_resolve_sel(model_config *c, const dataset_t *ds) {
    if (c->n_sel) return RK_OK;
    size_t total = dataset_total_frames(ds), k = 0;
    model_frame_ref *all = rk_malloc((total ? total : 1) * sizeof *all);
    if (!all) return RK_ENOMEM;
    for (size_t s = 0; s < ds->nsystems; s++)
        for (size_t f = 0; f < ds->sys[s].nframes; f++)
            all[k++] = (model_frame_ref){s, f};
    size_t counts[MODEL_MAX_TYPES] = {0};
    rk_status st = model_neighbor_stat(ds, c->rcut, all, total, counts, NULL);
    free(all);
    if (st) return st;
    if (c->sel_auto > 0)
        model_sel_auto(counts, ds->ntypes, c->sel_auto, c->sel);
    else
        memcpy(c->sel, counts, ds->ntypes * sizeof *counts);
    c->n_sel = ds->ntypes;
    return RK_OK;
}

/* Minimum-norm least squares e = argmin |A e - E| over frames, A = type counts:
 * e = V diag(1/ev, kept) V^T A^T E with eigenpairs of A^T A. */
static rk_status fit_energy_bias(const model_t *m, const dataset_t *ds,
                                 const model_frame_ref *frames, size_t n, double *e) {
    size_t nt = m->ntypes;
    double AtA[MODEL_MAX_TYPES * MODEL_MAX_TYPES] = {0}, AtE[MODEL_MAX_TYPES] = {0};
    for (size_t f = 0; f < n; f++) {
        const ds_system *sys = &ds->sys[frames[f].sys];
        double cnt[MODEL_MAX_TYPES] = {0};
        for (size_t i = 0; i < sys->natoms; i++)
            cnt[sys->type[i]] += 1.0;
        double E = sys->energy[frames[f].frame];
        for (size_t a = 0; a < nt; a++) {
            AtE[a] += cnt[a] * E;
            for (size_t b = 0; b < nt; b++)
                AtA[a * nt + b] += cnt[a] * cnt[b];
        }
    }
    double V[MODEL_MAX_TYPES * MODEL_MAX_TYPES], ev[MODEL_MAX_TYPES];
    eigen_sym_jacobi(nt, AtA, V, ev);
    double evmax = 0.0;
    for (size_t a = 0; a < nt; a++)
        if (ev[a] > evmax) evmax = ev[a];
    if (evmax <= 0.0) return err_set(RK_EINPUT, "energy bias fit: no training frames");
    for (size_t a = 0; a < nt; a++)
        e[a] = 0.0;
    for (size_t k = 0; k < nt; k++) {
        if (ev[k] <= MODEL_PINV_RTOL * evmax) continue;
        double proj = 0.0; /* v_k^T A^T E */
        for (size_t a = 0; a < nt; a++)
            proj += V[a * nt + k] * AtE[a];
        for (size_t a = 0; a < nt; a++)
            e[a] += V[a * nt + k] * proj / ev[k];
    }
    return RK_OK;
}

rk_status model_init_weights(model_t *m, rng_t *r, const dataset_t *ds,
                             const model_frame_ref *frames, size_t n) {
    double e[MODEL_MAX_TYPES];
    rk_status st = fit_energy_bias(m, ds, frames, n, e);
    if (st) return st;
    /* tensors in parameter-vector order, one stream: W ~ N(0, 1/(n_in+n_out)), hidden b ~ N(0, 1),
     * residual timestep idt ~ N(0.1, 0.001^2) (after its b), output b of fitting net a = e_a (no
     * draw) */
    for (size_t t = 0; t < m->layout.n_tensors; t++) {
        const layout_tensor *T = &m->layout.t[t];
        double *w = m->w + T->offset;
        if (layout_role_is_timestep(T->tag.role)) {
            for (size_t i = 0; i < T->size; i++)
                w[i] = MODEL_IDT_MEAN + MODEL_IDT_SD * rng_normal(r);
        } else if (!layout_role_is_bias(T->tag.role)) {
            double sd = sqrt(1.0 / (double)(T->rows + T->cols));
            for (size_t i = 0; i < T->size; i++)
                w[i] = sd * rng_normal(r);
        } else if (T->tag.role == LAYOUT_OUT_B) {
            RK_ASSERT(T->size == 1 && T->tag.centre < m->ntypes);
            w[0] = e[T->tag.centre];
        } else {
            for (size_t i = 0; i < T->size; i++)
                w[i] = rng_normal(r);
        }
    }
    return RK_OK;
}
