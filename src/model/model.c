/* model: Deep Potential se_e2_a (SPEC §2): environment, embedding, descriptor, fitting, and the
 * exact derivatives dE/dw, F = -dE/dr and J_c = d(sum c.F)/dw (forward-over-reverse).
 *
 * Frame data layout (in the workspace):
 *   atoms are visited in "sorted" order: by type, then index; sorted position k <-> atom sorted[k].
 *   pairs are ordered by (centre type a, neighbour type b, centre sorted position k), so each
 *   embedding net (a,b) sees one contiguous batch of rows [gstart[a,b], gstart[a,b+1]), and the
 *   pairs of atom k with neighbours of type b are the contiguous block blk_start[k,b] + [0, blk_n).
 * Per pair p: rhat (4) = R^_p, jr (4x3) = dR^_p/dr_ij, x = rhat[0] (embedding input).
 * Per atom k: T (4,M1), D = fitting input (M1*M2), plus their gradients and tangents.
 *
 * The passes live here; the configuration text and the model file are model_io.c, what is
 * computed from training data before the first step (sel, avg/std, initial weights) model_init.c.
 */
#include "model.h"

#include <math.h>
#include <string.h>

#include "blas.h"
#include "nlist.h"

/* ---------------------------------------------------------------- parameters -------------- */

/* Skip connection of hidden layer l (0-based) with widths nin -> nout (SPEC §2): none for
 * layer 1 or without resnet; identity when the widths are equal; in the embedding net only,
 * (h, h) when the output is twice the input (DeePMD-kit's rule for e.g. [25, 50, 100]). */
static mlp_skip layer_skip(const model_config *cfg, size_t l, size_t nin, size_t nout,
                           int embedding) {
    if (!cfg->resnet || l == 0) return MLP_SKIP_NONE;
    if (nout == nin) return MLP_SKIP_IDENTITY;
    if (embedding && nout == 2 * nin) return MLP_SKIP_DOUBLE;
    return MLP_SKIP_NONE;
}

/* Append W, b and (if the layer has a residual timestep) idt of one layer; prefix names the net
 * and layer ("embed[0,1].l2", "fit[0].out"). */
static rk_status add_layer(layout_t *L, const char *prefix, size_t nin, size_t nout, int dt,
                           layout_tag tw, layout_tag tb, layout_tag ti) {
    char name[2 * LAYOUT_NAME_MAX]; /* the layout keeps the first LAYOUT_NAME_MAX - 1 bytes */
    rk_status st;
    snprintf(name, sizeof name, "%s.W", prefix);
    if ((st = layout_add_tagged(L, name, nin, nout, tw))) return st;
    snprintf(name, sizeof name, "%s.b", prefix);
    if ((st = layout_add_tagged(L, name, 1, nout, tb))) return st;
    if (!dt) return RK_OK;
    snprintf(name, sizeof name, "%s.idt", prefix);
    return layout_add_tagged(L, name, 1, nout, ti);
}

rk_status model_create(model_t *m, const model_config *cfg, size_t ntypes,
                       char (*type_map)[DS_SYMBOL_MAX]) {
    memset(m, 0, sizeof *m);
    if (ntypes == 0 || ntypes > MODEL_MAX_TYPES)
        return err_set(RK_EINPUT, "model: %zu atom types (supported: 1 to %d)", ntypes,
                       MODEL_MAX_TYPES);
    if (cfg->n_sel != ntypes)
        return err_set(RK_EINPUT, "model: sel has %zu entries but the data have %zu types",
                       cfg->n_sel, ntypes);
    m->cfg = *cfg;
    m->ntypes = ntypes;
    for (size_t a = 0; a < ntypes; a++) {
        snprintf(m->type_map[a], DS_SYMBOL_MAX, "%s", type_map[a]);
        m->avg[a][0] = m->avg[a][1] = m->avg[a][2] = m->avg[a][3] = 0.0;
        m->std[a][0] = m->std[a][1] = m->std[a][2] = m->std[a][3] = 1.0;
    }
    m->n_c = 0;
    for (size_t a = 0; a < ntypes; a++)
        m->n_c += cfg->sel[a];
    if (m->n_c == 0) return err_set(RK_EINPUT, "model: sel sums to 0 (no neighbours allowed)");
    m->m1 = cfg->neuron[cfg->n_neuron - 1];
    m->m2 = cfg->axis_neuron;

    rk_status st = layout_init(&m->layout, 64);
    if (st) return st;
    char name[LAYOUT_NAME_MAX];
    /* embedding nets (a, b): layer widths 1 -> neuron[0] -> ... */
    mlp_shape *e = &m->embed;
    e->n_layers = cfg->n_neuron;
    e->width[0] = 1;
    for (size_t l = 0; l < cfg->n_neuron; l++) {
        e->width[l + 1] = cfg->neuron[l];
        e->skip[l] = layer_skip(cfg, l, e->width[l], e->width[l + 1], 1);
        e->linear[l] = 0;
        e->dt[l] = cfg->resnet_dt && e->skip[l] != MLP_SKIP_NONE;
    }
    for (size_t a = 0; a < ntypes; a++)
        for (size_t b = 0; b < ntypes; b++) {
            m->embed_base[a * ntypes + b] = m->layout.n_params;
            for (size_t l = 0; l < e->n_layers; l++) {
                if (a == 0 && b == 0) e->w_off[l] = m->layout.n_params;
                layout_tag tw = {LAYOUT_EMBED_W, a, b, l + 1}, tb = {LAYOUT_EMBED_B, a, b, l + 1},
                           ti = {LAYOUT_EMBED_IDT, a, b, l + 1};
                snprintf(name, sizeof name, "embed[%zu,%zu].l%zu", a, b, l + 1);
                if ((st = add_layer(&m->layout, name, e->width[l], e->width[l + 1], e->dt[l], tw,
                                    tb, ti)))
                    return st;
            }
        }
    /* fitting nets a: M1*M2 -> fitting_neuron... -> 1 (linear) */
    mlp_shape *f = &m->fit;
    f->n_layers = cfg->n_fitting + 1;
    f->width[0] = m->m1 * m->m2;
    for (size_t l = 0; l < cfg->n_fitting; l++) {
        f->width[l + 1] = cfg->fitting_neuron[l];
        f->skip[l] = layer_skip(cfg, l, f->width[l], f->width[l + 1], 0);
        f->linear[l] = 0;
        f->dt[l] = cfg->fitting_resnet_dt && f->skip[l] != MLP_SKIP_NONE;
    }
    f->width[f->n_layers] = 1;
    f->skip[f->n_layers - 1] = MLP_SKIP_NONE;
    f->linear[f->n_layers - 1] = 1;
    f->dt[f->n_layers - 1] = 0; /* the output layer never has a timestep */
    for (size_t a = 0; a < ntypes; a++) {
        m->fit_base[a] = m->layout.n_params;
        for (size_t l = 0; l < f->n_layers; l++) {
            if (a == 0) f->w_off[l] = m->layout.n_params;
            int out = l + 1 == f->n_layers;
            layout_tag tw = {out ? LAYOUT_OUT_W : LAYOUT_FIT_W, a, LAYOUT_NO_TYPE, l + 1};
            layout_tag tb = {out ? LAYOUT_OUT_B : LAYOUT_FIT_B, a, LAYOUT_NO_TYPE, l + 1};
            layout_tag ti = {LAYOUT_FIT_IDT, a, LAYOUT_NO_TYPE, l + 1};
            if (out)
                snprintf(name, sizeof name, "fit[%zu].out", a);
            else
                snprintf(name, sizeof name, "fit[%zu].l%zu", a, l + 1);
            if ((st = add_layer(&m->layout, name, f->width[l], f->width[l + 1], f->dt[l], tw, tb,
                                ti)))
                return st;
        }
    }
    m->w = rk_calloc(m->layout.n_params, sizeof *m->w);
    if (!m->w) return RK_ENOMEM;
    return RK_OK;
}

void model_free(model_t *m) {
    layout_free(&m->layout);
    free(m->w);
    memset(m, 0, sizeof *m);
}

/* Shape of net (a,b) / fitting net a: the (0,0) / 0 shape shifted by the net's base offset. */
static mlp_shape embed_shape(const model_t *m, size_t a, size_t b) {
    mlp_shape s = m->embed;
    size_t shift = m->embed_base[a * m->ntypes + b] - m->embed_base[0];
    for (size_t l = 0; l < s.n_layers; l++)
        s.w_off[l] += shift;
    return s;
}

static mlp_shape fit_shape(const model_t *m, size_t a) {
    mlp_shape s = m->fit;
    size_t shift = m->fit_base[a] - m->fit_base[0];
    for (size_t l = 0; l < s.n_layers; l++)
        s.w_off[l] += shift;
    return s;
}

/* ---------------------------------------------------------------- switching --------------- */

void model_switch(double r, double rs, double rc, double *s, double *ds) {
    if (r < rs) {
        *s = 1.0 / r;
        *ds = -1.0 / (r * r);
    } else if (r < rc) {
        double u = (r - rs) / (rc - rs);
        double u2 = u * u, u3 = u2 * u;
        double f = u3 * (-6.0 * u2 + 15.0 * u - 10.0) + 1.0;
        double df = -30.0 * u2 * (u - 1.0) * (u - 1.0) / (rc - rs);
        *s = f / r;
        *ds = df / r - f / (r * r);
    } else {
        *s = 0.0;
        *ds = 0.0;
    }
}

/* ---------------------------------------------------------------- workspace --------------- */

struct model_ws {
    size_t max_atoms, max_pairs;
    nlist_t nl;
    const ds_system *sys;
    size_t frame;
    size_t natoms, npairs;
    size_t *sorted;                                       /* (max_atoms) */
    size_t type_start[MODEL_MAX_TYPES + 1];               /* sorted ranges per type */
    size_t gstart[MODEL_MAX_TYPES * MODEL_MAX_TYPES + 1]; /* pair ranges per (a,b) */
    size_t *blk_start, *blk_n;                            /* (max_atoms, ntypes) */
    size_t *counts;                                       /* (max_atoms, ntypes) */
    int32_t *pi, *pj;                                     /* (max_pairs) centre / neighbour */
    double *rhat, *jr, *x;                                /* (P,4), (P,4,3), (P) */
    double *rhatd, *xd, *grhat, *gx;                      /* tangents and gradients */
    double *gG, *gGd;                                     /* (P, M1) */
    mlp_buf eb;                                           /* embedding activations (P rows) */
    double *escratch;
    double *T, *gT, *Td, *gTd; /* (A, 4, M1) */
    double *D, *Dd, *gD, *gDd; /* (A, M1*M2) */
    mlp_buf fb;                /* fitting activations (A rows) */
    double *fscratch, *ones;
    /* sparse tangent: one chunk of a pair group's rows, gathered (MODEL_SPARSE_CHUNK rows) */
    mlp_buf sb;
    double *sx, *sxd, *sg; /* x, x', g_G' of the gathered rows */
    size_t *sidx;          /* their rows in the group */
    int dense_tangent;
    double energy;
    int have_frame, have_forward, have_backward;
    void *pool; /* one allocation for all arrays */
};

size_t model_ws_natoms(const model_ws *ws) {
    return ws->natoms;
}

void model_tangent_support(const model_t *m, const model_ws *ws, const double *c, size_t *pairs,
                           size_t *centres) {
    size_t np = 0, nc = 0;
    for (size_t k = 0; k < ws->natoms; k++) {
        size_t i = ws->sorted[k];
        int reached = c[3 * i] != 0.0 || c[3 * i + 1] != 0.0 || c[3 * i + 2] != 0.0;
        for (size_t b = 0; b < m->ntypes; b++) {
            size_t s0 = ws->blk_start[k * m->ntypes + b], n = ws->blk_n[k * m->ntypes + b];
            for (size_t p = s0; p < s0 + n; p++) {
                const double *ci = c + 3 * (size_t)ws->pi[p], *cj = c + 3 * (size_t)ws->pj[p];
                int on = ci[0] != 0.0 || ci[1] != 0.0 || ci[2] != 0.0 || cj[0] != 0.0 ||
                         cj[1] != 0.0 || cj[2] != 0.0;
                np += (size_t)on;
                reached |= on;
            }
        }
        nc += (size_t)reached;
    }
    *pairs = np;
    *centres = nc;
}

void model_ws_dense_tangent(model_ws *ws, int dense) {
    ws->dense_tangent = dense;
}

size_t model_ws_npairs(const model_ws *ws) {
    return ws->npairs;
}

typedef struct {
    char *base;
    size_t used;
} arena;

/* Rows of a pair group the sparse tangent gathers at a time: a fixed partition (so the weight
 * sums have one order whatever the thread count), large enough for efficient products. */
#define MODEL_SPARSE_CHUNK 512

static double *take(arena *ar, size_t n) {
    double *p = ar->base ? (double *)(ar->base + ar->used) : NULL;
    ar->used += ((n * sizeof(double) + 63) / 64) * 64;
    return p;
}

static void *take_bytes(arena *ar, size_t bytes) {
    void *p = ar->base ? (void *)(ar->base + ar->used) : NULL;
    ar->used += ((bytes + 63) / 64) * 64;
    return p;
}

static void mlp_buf_take(arena *ar, const mlp_shape *s, size_t rows, mlp_buf *b) {
    for (size_t l = 0; l < s->n_layers; l++) {
        size_t n = rows * s->width[l + 1];
        b->t[l] = take(ar, n);
        b->h[l] = s->skip[l] != MLP_SKIP_NONE ? take(ar, n) : b->t[l];
        b->gz[l] = take(ar, n);
        b->zd[l] = take(ar, n);
        b->hd[l] = take(ar, n);
        b->gzd[l] = take(ar, n);
        b->gh[l] = s->dt[l] ? take(ar, n) : NULL;
        b->ghd[l] = s->dt[l] ? take(ar, n) : NULL;
    }
}

/* Lay out all workspace arrays in an arena (base NULL: just measure). */
static void ws_layout(const model_t *m, model_ws *ws, arena *ar) {
    size_t A = ws->max_atoms, P = ws->max_pairs, nt = m->ntypes, M1 = m->m1, MM = m->m1 * m->m2;
    ws->sorted = take_bytes(ar, A * sizeof(size_t));
    ws->blk_start = take_bytes(ar, A * nt * sizeof(size_t));
    ws->blk_n = take_bytes(ar, A * nt * sizeof(size_t));
    ws->counts = take_bytes(ar, A * nt * sizeof(size_t));
    ws->pi = take_bytes(ar, P * sizeof(int32_t));
    ws->pj = take_bytes(ar, P * sizeof(int32_t));
    ws->rhat = take(ar, P * 4);
    ws->jr = take(ar, P * 12);
    ws->x = take(ar, P);
    ws->rhatd = take(ar, P * 4);
    ws->xd = take(ar, P);
    ws->grhat = take(ar, P * 4);
    ws->gx = take(ar, P);
    ws->gG = take(ar, P * M1);
    ws->gGd = take(ar, P * M1);
    mlp_buf_take(ar, &m->embed, P, &ws->eb);
    ws->escratch = take(ar, 3 * P * mlp_max_width(&m->embed));
    ws->T = take(ar, A * 4 * M1);
    ws->gT = take(ar, A * 4 * M1);
    ws->Td = take(ar, A * 4 * M1);
    ws->gTd = take(ar, A * 4 * M1);
    ws->D = take(ar, A * MM);
    ws->Dd = take(ar, A * MM);
    ws->gD = take(ar, A * MM);
    ws->gDd = take(ar, A * MM);
    mlp_buf_take(ar, &m->fit, A, &ws->fb);
    ws->fscratch = take(ar, 3 * A * mlp_max_width(&m->fit));
    ws->ones = take(ar, A);
    size_t C = MODEL_SPARSE_CHUNK;
    mlp_buf_take(ar, &m->embed, C, &ws->sb);
    ws->sx = take(ar, C);
    ws->sxd = take(ar, C);
    ws->sg = take(ar, C * M1);
    ws->sidx = take_bytes(ar, C * sizeof(size_t));
}

rk_status model_ws_create(const model_t *m, size_t max_atoms, model_ws **out) {
    model_ws *ws = rk_calloc(1, sizeof *ws);
    if (!ws) return RK_ENOMEM;
    ws->max_atoms = max_atoms ? max_atoms : 1;
    ws->max_pairs = ws->max_atoms * m->n_c;
    arena ar = {NULL, 0};
    ws_layout(m, ws, &ar);
    ws->pool = rk_calloc(1, ar.used);
    if (!ws->pool) {
        free(ws);
        return err_prefix(RK_ENOMEM, "model workspace for %zu atoms: ", max_atoms);
    }
    ar.base = ws->pool;
    ar.used = 0;
    ws_layout(m, ws, &ar);
    for (size_t k = 0; k < ws->max_atoms; k++)
        ws->ones[k] = 1.0;
    nlist_init(&ws->nl);
    *out = ws;
    return RK_OK;
}

void model_ws_free(model_ws *ws) {
    if (!ws) return;
    nlist_free(&ws->nl);
    free(ws->pool);
    free(ws);
}

/* ---------------------------------------------------------------- environment ------------- */

rk_status model_set_frame(const model_t *m, model_ws *ws, const ds_system *sys, size_t frame) {
    size_t nt = m->ntypes, na = sys->natoms;
    ws->have_frame = ws->have_forward = ws->have_backward = 0;
    if (na > ws->max_atoms)
        return err_set(RK_EINPUT, "system %s: %zu atoms, workspace sized for %zu", sys->name, na,
                       ws->max_atoms);
    const double *coord = sys->coord + frame * na * 3, *box = sys->box + frame * 9;
    rk_status st = nlist_build(&ws->nl, na, coord, box, m->cfg.rcut);
    if (st) return err_prefix(st, "system %s frame %zu: ", sys->name, frame);
    const nlist_t *nl = &ws->nl;
    for (size_t i = 0; i < na; i++)
        if (sys->type[i] < 0 || (size_t)sys->type[i] >= nt)
            return err_set(RK_EINPUT, "system %s atom %zu: type %d outside the model's %zu types",
                           sys->name, i, (int)sys->type[i], nt);
    /* neighbour counts per (atom, type) and the sel check */
    nlist_count_types(nl, sys->type, nt, ws->counts);
    for (size_t i = 0; i < na; i++)
        for (size_t b = 0; b < nt; b++)
            if (ws->counts[i * nt + b] > m->cfg.sel[b])
                return err_set(RK_EINPUT,
                               "system %s frame %zu atom %zu: %zu neighbours of type %zu (%s) "
                               "within rcut %g, but sel[%zu] = %zu; set sel[%zu] >= %zu",
                               sys->name, frame, i, ws->counts[i * nt + b], b, m->type_map[b],
                               m->cfg.rcut, b, m->cfg.sel[b], b, ws->counts[i * nt + b]);
    /* sorted atom order: by type, then index */
    size_t k = 0;
    for (size_t a = 0; a < nt; a++) {
        ws->type_start[a] = k;
        for (size_t i = 0; i < na; i++)
            if ((size_t)sys->type[i] == a) ws->sorted[k++] = i;
    }
    ws->type_start[nt] = k;
    /* pairs ordered by (a, b, k): each block's place from the counts, then the centres' pairs
     * filled in parallel (each pair computed alone, as in any order) */
    size_t p = 0;
    for (size_t a = 0; a < nt; a++)
        for (size_t b = 0; b < nt; b++) {
            ws->gstart[a * nt + b] = p;
            for (size_t kk = ws->type_start[a]; kk < ws->type_start[a + 1]; kk++) {
                ws->blk_start[kk * nt + b] = p;
                ws->blk_n[kk * nt + b] = ws->counts[ws->sorted[kk] * nt + b];
                p += ws->blk_n[kk * nt + b];
            }
        }
    RK_ASSERT(p <= ws->max_pairs);
#pragma omp parallel for schedule(static)
    for (size_t kk = 0; kk < na; kk++) {
        const size_t i = ws->sorted[kk], a = (size_t)sys->type[i];
        const double *av = m->avg[a], *sd = m->std[a];
        for (size_t b = 0; b < nt; b++) {
            size_t pp = ws->blk_start[kk * nt + b];
            for (size_t q = nl->start[i]; q < nl->start[i + 1]; q++) {
                int32_t j = nl->j[q];
                if ((size_t)sys->type[j] != b) continue;
                const double *d = nl->d + 3 * q;
                double r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2], r = sqrt(r2);
                double sw, ds;
                model_switch(r, m->cfg.rcut_smth, m->cfg.rcut, &sw, &ds);
                double q0 = sw / r, dq = ds / r - sw / r2; /* q = s/r and dq/dr */
                double *rh = ws->rhat + 4 * pp, *J = ws->jr + 12 * pp;
                rh[0] = (sw - av[0]) / sd[0];
                for (int al = 0; al < 3; al++)
                    rh[1 + al] = (q0 * d[al] - av[1 + al]) / sd[1 + al];
                /* dR~0/dd_b = s' d_b / r;  dR~a/dd_b = q delta_ab + d_a dq d_b / r */
                for (int be = 0; be < 3; be++) {
                    J[be] = ds * d[be] / r / sd[0];
                    for (int al = 0; al < 3; al++)
                        J[3 * (1 + al) + be] =
                            ((al == be ? q0 : 0.0) + d[al] * dq * d[be] / r) / sd[1 + al];
                }
                ws->x[pp] = rh[0];
                ws->pi[pp] = (int32_t)i;
                ws->pj[pp] = j;
                pp++;
            }
            RK_ASSERT(pp == ws->blk_start[kk * nt + b] + ws->blk_n[kk * nt + b]);
        }
    }
    ws->gstart[nt * nt] = p;
    ws->npairs = p;
    ws->natoms = na;
    ws->sys = sys;
    ws->frame = frame;
    ws->have_frame = 1;
    return RK_OK;
}

/* ---------------------------------------------------------------- passes ------------------ */

/* The passes are parallel over pairs and atoms (OpenMP loops here and in mlp.c, each row or atom
 * computed by one thread with the same operations whatever the thread count; sums over rows stay
 * serial); the BLAS calls inside them are small and must not start threads of their own, so the
 * BLAS is single-threaded for the duration of a pass and restored after. */
static int blas_solo_begin(void) {
    int n = blas_get_threads();
    if (n != 1) blas_set_threads(1);
    return n;
}

static void blas_solo_end(int n) {
    if (n != 1) blas_set_threads(n);
}

double model_forward(const model_t *m, model_ws *ws) {
    RK_ASSERT(ws->have_frame);
    size_t nt = m->ntypes, M1 = m->m1, M2 = m->m2, MM = M1 * M2;
    double inv_nc = 1.0 / (double)m->n_c;
    size_t Le = m->embed.n_layers;
    int bt = blas_solo_begin();
    /* embedding nets, one batch per (a,b) */
    for (size_t g = 0; g < nt * nt; g++) {
        size_t g0 = ws->gstart[g], n = ws->gstart[g + 1] - g0;
        if (!n) continue;
        mlp_shape s = embed_shape(m, g / nt, g % nt);
        mlp_buf b = mlp_buf_rows(&ws->eb, &s, g0);
        mlp_forward(&s, m->w, n, ws->x + g0, &b);
    }
    const double *G = ws->eb.h[Le - 1];
    /* descriptor per atom */
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < ws->natoms; k++) {
        double *T = ws->T + k * 4 * M1;
        memset(T, 0, 4 * M1 * sizeof *T);
        for (size_t b = 0; b < nt; b++) {
            size_t s0 = ws->blk_start[k * nt + b], n = ws->blk_n[k * nt + b];
            /* T (4,M1) += (1/Nc) R^_blk^T (4,n) G_blk (n,M1) */
            if (n)
                blas_gemm(1, 0, 4, M1, n, inv_nc, ws->rhat + 4 * s0, 4, G + s0 * M1, M1, 1.0, T,
                          M1);
        }
        /* D (M1,M2) = T^T (M1,4) T[:, :M2] (4,M2) */
        blas_gemm(1, 0, M1, M2, 4, 1.0, T, M1, T, M1, 0.0, ws->D + k * MM, M2);
    }
    /* fitting nets, one batch per type */
    double E = 0.0;
    size_t Lf = m->fit.n_layers;
    for (size_t a = 0; a < nt; a++) {
        size_t k0 = ws->type_start[a], n = ws->type_start[a + 1] - k0;
        if (!n) continue;
        mlp_shape s = fit_shape(m, a);
        mlp_buf b = mlp_buf_rows(&ws->fb, &s, k0);
        mlp_forward(&s, m->w, n, ws->D + k0 * MM, &b);
        for (size_t k = 0; k < n; k++)
            E += b.h[Lf - 1][k];
    }
    blas_solo_end(bt);
    ws->energy = E;
    ws->have_forward = 1;
    ws->have_backward = 0;
    return E;
}

void model_backward(const model_t *m, model_ws *ws, double *grad_e, double *force) {
    RK_ASSERT(ws->have_forward);
    size_t nt = m->ntypes, M1 = m->m1, M2 = m->m2, MM = M1 * M2;
    double inv_nc = 1.0 / (double)m->n_c;
    size_t Le = m->embed.n_layers;
    int bt = blas_solo_begin();
    if (grad_e) memset(grad_e, 0, m->layout.n_params * sizeof *grad_e);
    /* fitting nets: dE/dE_i = 1 */
    for (size_t a = 0; a < nt; a++) {
        size_t k0 = ws->type_start[a], n = ws->type_start[a + 1] - k0;
        if (!n) continue;
        mlp_shape s = fit_shape(m, a);
        mlp_buf b = mlp_buf_rows(&ws->fb, &s, k0);
        mlp_backward(&s, m->w, n, ws->D + k0 * MM, ws->ones, &b, grad_e, ws->gD + k0 * MM,
                     ws->fscratch);
    }
    const double *G = ws->eb.h[Le - 1];
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < ws->natoms; k++) {
        const double *T = ws->T + k * 4 * M1, *gD = ws->gD + k * MM;
        double *gT = ws->gT + k * 4 * M1;
        /* g_T (4,M1) = T[:, :M2] (4,M2) g_D^T (M2,M1) */
        blas_gemm(0, 1, 4, M1, M2, 1.0, T, M1, gD, M2, 0.0, gT, M1);
        /* g_T[:, :M2] += T (4,M1) g_D (M1,M2) */
        blas_gemm(0, 0, 4, M2, M1, 1.0, T, M1, gD, M2, 1.0, gT, M1);
        for (size_t b = 0; b < nt; b++) {
            size_t s0 = ws->blk_start[k * nt + b], n = ws->blk_n[k * nt + b];
            if (!n) continue;
            /* g_G_blk (n,M1) = (1/Nc) R^_blk (n,4) g_T (4,M1) */
            blas_gemm(0, 0, n, M1, 4, inv_nc, ws->rhat + 4 * s0, 4, gT, M1, 0.0, ws->gG + s0 * M1,
                      M1);
            /* g_R^_blk (n,4) = (1/Nc) G_blk (n,M1) g_T^T (M1,4) */
            if (force)
                blas_gemm(0, 1, n, 4, M1, inv_nc, G + s0 * M1, M1, gT, M1, 0.0, ws->grhat + 4 * s0,
                          4);
        }
    }
    for (size_t g = 0; g < nt * nt; g++) {
        size_t g0 = ws->gstart[g], n = ws->gstart[g + 1] - g0;
        if (!n) continue;
        mlp_shape s = embed_shape(m, g / nt, g % nt);
        mlp_buf b = mlp_buf_rows(&ws->eb, &s, g0);
        mlp_backward(&s, m->w, n, ws->x + g0, ws->gG + g0 * M1, &b, grad_e,
                     force ? ws->gx + g0 : NULL, ws->escratch);
    }
    if (force) {
        memset(force, 0, ws->natoms * 3 * sizeof *force);
        for (size_t p = 0; p < ws->npairs; p++) {
            double *gr = ws->grhat + 4 * p;
            const double *J = ws->jr + 12 * p;
            gr[0] += ws->gx[p];
            /* dE/dd (3) = J^T (3,4) g_R^ (4);  F_j -= dE/dd, F_i += dE/dd */
            for (int be = 0; be < 3; be++) {
                double gd =
                    J[be] * gr[0] + J[3 + be] * gr[1] + J[6 + be] * gr[2] + J[9 + be] * gr[3];
                force[3 * (size_t)ws->pj[p] + be] -= gd;
                force[3 * (size_t)ws->pi[p] + be] += gd;
            }
        }
    }
    blas_solo_end(bt);
    ws->have_backward = 1;
}

/* The row copies of one gather (dst row a = src row idx[a]) or scatter (dst row idx[a] = src
 * row a): a list of arrays, each (rows, width), copied row by row. Rows are independent copies,
 * so they are split over the threads when there are enough of them (the gathers of a force
 * group's sparse tangent move several MB). */
#define ROWCOPY_MAX (6 * MLP_MAX_LAYERS + 1)
#define ROWCOPY_PAR_MIN 16384 /* doubles per gather, below which one thread copies */
typedef struct {
    const double *src[ROWCOPY_MAX];
    double *dst[ROWCOPY_MAX];
    size_t width[ROWCOPY_MAX];
    size_t n, elems; /* arrays; doubles per row over all of them */
} rowcopy;

static void rowcopy_add(rowcopy *c, const double *src, double *dst, size_t width) {
    RK_ASSERT(c->n < ROWCOPY_MAX);
    c->src[c->n] = src;
    c->dst[c->n] = dst;
    c->width[c->n++] = width;
    c->elems += width;
}

static void rowcopy_run(const rowcopy *c, const size_t *idx, size_t n, int scatter) {
#pragma omp parallel for schedule(static) if (n * c->elems >= ROWCOPY_PAR_MIN)
    for (size_t a = 0; a < n; a++) {
        const size_t from = scatter ? a : idx[a], to = scatter ? idx[a] : a;
        for (size_t k = 0; k < c->n; k++)
            memcpy(c->dst[k] + to * c->width[k], c->src[k] + from * c->width[k],
                   c->width[k] * sizeof(double));
    }
}

/* What a pass over gathered rows reads of the group's buffers: the tangent forward only t; a
 * plain reverse pass t and h (where h is not t itself); the tangent reverse pass also g_z, g_h
 * (dt layers), z' and h'. */
enum { GATHER_T, GATHER_PRIMAL, GATHER_TANGENT_BACKWARD };

/* The arrays of the group's buffers g that `what` needs, into the compact buffers ws->sb. */
static void gather_layers(const mlp_shape *s, const mlp_buf *g, int what, mlp_buf *sb,
                          rowcopy *c) {
    for (size_t l = 0; l < s->n_layers; l++) {
        size_t w = s->width[l + 1];
        rowcopy_add(c, g->t[l], sb->t[l], w);
        if (what != GATHER_T && g->h[l] != g->t[l]) rowcopy_add(c, g->h[l], sb->h[l], w);
        if (what == GATHER_TANGENT_BACKWARD) {
            rowcopy_add(c, g->gz[l], sb->gz[l], w);
            if (s->dt[l]) rowcopy_add(c, g->gh[l], sb->gh[l], w);
            rowcopy_add(c, g->zd[l], sb->zd[l], w);
            rowcopy_add(c, g->hd[l], sb->hd[l], w);
        }
    }
}

/* Embedding tangent forward of group rows [0, n) (buffers g, inputs xd): rows with x' != 0 get
 * z' and h' of every layer; the others only a zero G' (their h' of the last layer), all the
 * descriptor's tangent reads. */
static void embed_tangent_forward_sparse(const model_t *m, model_ws *ws, const mlp_shape *s,
                                         const mlp_buf *g, const double *xd, size_t n) {
    const size_t Le = s->n_layers, M1 = s->width[Le];
    for (size_t c0 = 0; c0 < n; c0 += MODEL_SPARSE_CHUNK) {
        size_t nc = n - c0 < MODEL_SPARSE_CHUNK ? n - c0 : MODEL_SPARSE_CHUNK, na = 0;
        for (size_t r = c0; r < c0 + nc; r++) {
            if (xd[r] != 0.0)
                ws->sidx[na++] = r;
            else
                memset(g->hd[Le - 1] + r * M1, 0, M1 * sizeof(double));
        }
        if (!na) continue;
        for (size_t a = 0; a < na; a++)
            ws->sxd[a] = xd[ws->sidx[a]];
        rowcopy in = {.n = 0}, out = {.n = 0};
        gather_layers(s, g, GATHER_T, &ws->sb, &in);
        rowcopy_run(&in, ws->sidx, na, 0);
        mlp_tangent_forward(s, m->w, na, ws->sxd, &ws->sb);
        for (size_t l = 0; l < Le; l++) {
            rowcopy_add(&out, ws->sb.zd[l], g->zd[l], s->width[l + 1]);
            rowcopy_add(&out, ws->sb.hd[l], g->hd[l], s->width[l + 1]);
        }
        rowcopy_run(&out, ws->sidx, na, 1);
    }
}

/* Every x' of the group non-zero (c on every atom, as in Adam's force-loss gradient): the dense
 * pass over the whole group, in its one order of sums, is the sparse pass with nothing to skip. */
static int all_nonzero(const double *xd, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (xd[k] == 0.0) return 0;
    return 1;
}

static int row_is_zero(const double *r, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (r[k] != 0.0) return 0;
    return 1;
}

/* Embedding tangent backward of group rows [0, n) into jac: rows with x' != 0 the full
 * forward-over-reverse pass; rows with x' = 0 (z' = h' = 0) a reverse pass of g_G' alone, which
 * is what the tangent pass reduces to there; rows with x' = 0 and g_G' = 0 add nothing. */
static void embed_tangent_backward_sparse(const model_t *m, model_ws *ws, const mlp_shape *s,
                                          const mlp_buf *g, const double *x, const double *xd,
                                          const double *gGd, size_t n, double *jac) {
    const size_t M1 = s->width[s->n_layers];
    for (size_t c0 = 0; c0 < n; c0 += MODEL_SPARSE_CHUNK) {
        size_t nc = n - c0 < MODEL_SPARSE_CHUNK ? n - c0 : MODEL_SPARSE_CHUNK;
        for (int pass = 0; pass < 2; pass++) {
            size_t na = 0;
            for (size_t r = c0; r < c0 + nc; r++) {
                int on = xd[r] != 0.0;
                if (pass == 0 ? on : !on && !row_is_zero(gGd + r * M1, M1)) ws->sidx[na++] = r;
            }
            if (!na) continue;
            for (size_t a = 0; a < na; a++) {
                ws->sx[a] = x[ws->sidx[a]];
                ws->sxd[a] = xd[ws->sidx[a]];
            }
            rowcopy in = {.n = 0};
            rowcopy_add(&in, gGd, ws->sg, M1);
            gather_layers(s, g, pass == 0 ? GATHER_TANGENT_BACKWARD : GATHER_PRIMAL, &ws->sb, &in);
            rowcopy_run(&in, ws->sidx, na, 0);
            if (pass == 0) {
                mlp_tangent_backward(s, m->w, na, ws->sx, ws->sxd, ws->sg, &ws->sb, jac, NULL,
                                     ws->escratch);
            } else {
                mlp_backward(s, m->w, na, ws->sx, ws->sg, &ws->sb, jac, NULL, ws->escratch);
            }
        }
    }
}

void model_force_jacobian(const model_t *m, model_ws *ws, const double *c, double *jac) {
    RK_ASSERT(ws->have_backward);
    size_t nt = m->ntypes, M1 = m->m1, M2 = m->m2, MM = M1 * M2;
    double inv_nc = 1.0 / (double)m->n_c;
    size_t Le = m->embed.n_layers;
    int bt = blas_solo_begin();
    memset(jac, 0, m->layout.n_params * sizeof *jac);
    /* input tangent: d' = c_j - c_i,  R^' = J d' */
#pragma omp parallel for schedule(static)
    for (size_t p = 0; p < ws->npairs; p++) {
        const double *ci = c + 3 * (size_t)ws->pi[p], *cj = c + 3 * (size_t)ws->pj[p];
        const double *J = ws->jr + 12 * p;
        double dd[3] = {cj[0] - ci[0], cj[1] - ci[1], cj[2] - ci[2]};
        double *rd = ws->rhatd + 4 * p;
        for (int k = 0; k < 4; k++)
            rd[k] = J[3 * k] * dd[0] + J[3 * k + 1] * dd[1] + J[3 * k + 2] * dd[2];
        ws->xd[p] = rd[0];
    }
    int dense[MODEL_MAX_TYPES * MODEL_MAX_TYPES];
    for (size_t g = 0; g < nt * nt; g++) {
        size_t g0 = ws->gstart[g], n = ws->gstart[g + 1] - g0;
        if (!n) continue;
        mlp_shape s = embed_shape(m, g / nt, g % nt);
        mlp_buf b = mlp_buf_rows(&ws->eb, &s, g0);
        dense[g] = ws->dense_tangent || all_nonzero(ws->xd + g0, n);
        if (dense[g])
            mlp_tangent_forward(&s, m->w, n, ws->xd + g0, &b);
        else
            embed_tangent_forward_sparse(m, ws, &s, &b, ws->xd + g0, n);
    }
    const double *G = ws->eb.h[Le - 1], *Gd = ws->eb.hd[Le - 1];
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < ws->natoms; k++) {
        const double *T = ws->T + k * 4 * M1;
        double *Td = ws->Td + k * 4 * M1;
        memset(Td, 0, 4 * M1 * sizeof *Td);
        for (size_t b = 0; b < nt; b++) {
            size_t s0 = ws->blk_start[k * nt + b], n = ws->blk_n[k * nt + b];
            if (!n) continue;
            /* T' (4,M1) += (1/Nc) (R^'^T G + R^^T G') */
            blas_gemm(1, 0, 4, M1, n, inv_nc, ws->rhatd + 4 * s0, 4, G + s0 * M1, M1, 1.0, Td, M1);
            blas_gemm(1, 0, 4, M1, n, inv_nc, ws->rhat + 4 * s0, 4, Gd + s0 * M1, M1, 1.0, Td, M1);
        }
        /* D' (M1,M2) = T'^T T[:, :M2] + T^T T'[:, :M2] */
        double *Dd = ws->Dd + k * MM;
        blas_gemm(1, 0, M1, M2, 4, 1.0, Td, M1, T, M1, 0.0, Dd, M2);
        blas_gemm(1, 0, M1, M2, 4, 1.0, T, M1, Td, M1, 1.0, Dd, M2);
    }
    for (size_t a = 0; a < nt; a++) {
        size_t k0 = ws->type_start[a], n = ws->type_start[a + 1] - k0;
        if (!n) continue;
        mlp_shape s = fit_shape(m, a);
        mlp_buf b = mlp_buf_rows(&ws->fb, &s, k0);
        mlp_tangent_forward(&s, m->w, n, ws->Dd + k0 * MM, &b);
        /* the output gradient dE/dE_i = 1 is constant: its tangent is zero */
        mlp_tangent_backward(&s, m->w, n, ws->D + k0 * MM, ws->Dd + k0 * MM, NULL, &b, jac,
                             ws->gDd + k0 * MM, ws->fscratch);
    }
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < ws->natoms; k++) {
        const double *T = ws->T + k * 4 * M1, *Td = ws->Td + k * 4 * M1;
        const double *gD = ws->gD + k * MM, *gDd = ws->gDd + k * MM, *gT = ws->gT + k * 4 * M1;
        double *gTd = ws->gTd + k * 4 * M1;
        /* g_T' = T'[:, :M2] g_D^T + T[:, :M2] g_D'^T;  g_T'[:, :M2] += T' g_D + T g_D' */
        blas_gemm(0, 1, 4, M1, M2, 1.0, Td, M1, gD, M2, 0.0, gTd, M1);
        blas_gemm(0, 1, 4, M1, M2, 1.0, T, M1, gDd, M2, 1.0, gTd, M1);
        blas_gemm(0, 0, 4, M2, M1, 1.0, Td, M1, gD, M2, 1.0, gTd, M1);
        blas_gemm(0, 0, 4, M2, M1, 1.0, T, M1, gDd, M2, 1.0, gTd, M1);
        for (size_t b = 0; b < nt; b++) {
            size_t s0 = ws->blk_start[k * nt + b], n = ws->blk_n[k * nt + b];
            if (!n) continue;
            /* g_G' (n,M1) = (1/Nc) (R^' g_T + R^ g_T') */
            blas_gemm(0, 0, n, M1, 4, inv_nc, ws->rhatd + 4 * s0, 4, gT, M1, 0.0, ws->gGd + s0 * M1,
                      M1);
            blas_gemm(0, 0, n, M1, 4, inv_nc, ws->rhat + 4 * s0, 4, gTd, M1, 1.0, ws->gGd + s0 * M1,
                      M1);
        }
    }
    for (size_t g = 0; g < nt * nt; g++) {
        size_t g0 = ws->gstart[g], n = ws->gstart[g + 1] - g0;
        if (!n) continue;
        mlp_shape s = embed_shape(m, g / nt, g % nt);
        mlp_buf b = mlp_buf_rows(&ws->eb, &s, g0);
        if (dense[g])
            mlp_tangent_backward(&s, m->w, n, ws->x + g0, ws->xd + g0, ws->gGd + g0 * M1, &b, jac,
                                 NULL, ws->escratch);
        else
            embed_tangent_backward_sparse(m, ws, &s, &b, ws->x + g0, ws->xd + g0,
                                          ws->gGd + g0 * M1, n, jac);
    }
    /* J_c = d(sum c.F)/dw = -(tangent of dE/dw along dr = c) */
    for (size_t i = 0; i < m->layout.n_params; i++)
        jac[i] = -jac[i];
    blas_solo_end(bt);
}
