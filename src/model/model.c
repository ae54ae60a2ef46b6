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
 */
#include "model.h"

#include <math.h>
#include <string.h>

#include "blas.h"
#include "h5io.h"
#include "nlist.h"

/* Standard deviations below this floor are raised to it (SPEC §2 "Statistics"). */
#define MODEL_STD_FLOOR 1e-2
/* Relative eigenvalue cut-off of the minimum-norm least-squares bias fit. */
#define MODEL_PINV_RTOL 1e-10

/* ---------------------------------------------------------------- configuration ----------- */

model_config model_default_config(void) {
    model_config c;
    memset(&c, 0, sizeof c);
    c.rcut = 6.0;
    c.rcut_smth = 0.5;
    c.n_neuron = 3;
    c.neuron[0] = c.neuron[1] = c.neuron[2] = 25;
    c.axis_neuron = 16;
    c.n_fitting = 3;
    c.fitting_neuron[0] = c.fitting_neuron[1] = c.fitting_neuron[2] = 50;
    c.resnet = 1;
    return c;
}

static rk_status get_sizes(const jsonw *obj, const char *ctx, const char *key, size_t *out,
                           size_t *n, size_t cap, long lo) {
    long tmp[MODEL_MAX_TYPES];
    size_t len = 0;
    if (!jsonw_get(obj, key)) return RK_OK;
    rk_status st = jsonw_get_int_array(obj, ctx, key, 1, lo, 100000, tmp, cap, &len);
    if (st) return st;
    for (size_t i = 0; i < len; i++)
        out[i] = (size_t)tmp[i];
    *n = len;
    return RK_OK;
}

rk_status model_config_from_json(const jsonw *obj, const char *ctx, model_config *c) {
    static const char *const keys[] = {"type",   "rcut",        "rcut_smth",      "sel",
                                       "neuron", "axis_neuron", "fitting_neuron", "activation",
                                       "resnet", NULL};
    static const char *const types[] = {"se_e2_a", NULL};
    static const char *const acts[] = {"tanh", NULL};
    rk_status st = jsonw_check_keys(obj, ctx, keys);
    if (st) return st;
    int idx = 0;
    if ((st = jsonw_get_choice(obj, ctx, "type", 0, types, &idx))) return st;
    if ((st = jsonw_get_choice(obj, ctx, "activation", 0, acts, &idx))) return st;
    if ((st = jsonw_get_num(obj, ctx, "rcut", 0, 1e-3, 100.0, &c->rcut))) return st;
    if ((st = jsonw_get_num(obj, ctx, "rcut_smth", 0, 0.0, 100.0, &c->rcut_smth))) return st;
    if ((st = get_sizes(obj, ctx, "sel", c->sel, &c->n_sel, MODEL_MAX_TYPES, 0))) return st;
    if ((st = get_sizes(obj, ctx, "neuron", c->neuron, &c->n_neuron, MODEL_MAX_HIDDEN, 1)))
        return st;
    if ((st = get_sizes(obj, ctx, "fitting_neuron", c->fitting_neuron, &c->n_fitting,
                        MODEL_MAX_HIDDEN, 1)))
        return st;
    long ax = (long)c->axis_neuron;
    if ((st = jsonw_get_int(obj, ctx, "axis_neuron", 0, 1, 100000, &ax))) return st;
    c->axis_neuron = (size_t)ax;
    if ((st = jsonw_get_bool(obj, ctx, "resnet", 0, &c->resnet))) return st;
    if (c->rcut_smth >= c->rcut)
        return err_set(RK_EINPUT, "%s.rcut_smth: must be below rcut = %g, got %g", ctx, c->rcut,
                       c->rcut_smth);
    if (c->axis_neuron > c->neuron[c->n_neuron - 1])
        return err_set(RK_EINPUT, "%s.axis_neuron: must be at most neuron[-1] = %zu, got %zu", ctx,
                       c->neuron[c->n_neuron - 1], c->axis_neuron);
    return RK_OK;
}

char *model_config_to_json(const model_config *c) {
    jsonw *o = jsonw_new_object();
    jsonw_add_str(o, "type", "se_e2_a");
    jsonw_add_num(o, "rcut", c->rcut);
    jsonw_add_num(o, "rcut_smth", c->rcut_smth);
    jsonw *sel = jsonw_new_array();
    for (size_t i = 0; i < c->n_sel; i++)
        jsonw_append_num(sel, (double)c->sel[i]);
    jsonw_add(o, "sel", sel);
    jsonw *ne = jsonw_new_array();
    for (size_t i = 0; i < c->n_neuron; i++)
        jsonw_append_num(ne, (double)c->neuron[i]);
    jsonw_add(o, "neuron", ne);
    jsonw_add_num(o, "axis_neuron", (double)c->axis_neuron);
    jsonw *fn = jsonw_new_array();
    for (size_t i = 0; i < c->n_fitting; i++)
        jsonw_append_num(fn, (double)c->fitting_neuron[i]);
    jsonw_add(o, "fitting_neuron", fn);
    jsonw_add_str(o, "activation", "tanh");
    jsonw_add_bool(o, "resnet", c->resnet);
    char *s = jsonw_print(o);
    jsonw_free(o);
    return s;
}

/* ---------------------------------------------------------------- parameters -------------- */

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
        e->residual[l] = cfg->resnet && l > 0 && e->width[l] == e->width[l + 1];
        e->linear[l] = 0;
    }
    for (size_t a = 0; a < ntypes; a++)
        for (size_t b = 0; b < ntypes; b++) {
            m->embed_base[a * ntypes + b] = m->layout.n_params;
            for (size_t l = 0; l < e->n_layers; l++) {
                if (a == 0 && b == 0) e->w_off[l] = m->layout.n_params;
                snprintf(name, sizeof name, "embed[%zu,%zu].l%zu.W", a, b, l + 1);
                if ((st = layout_add(&m->layout, name, e->width[l], e->width[l + 1]))) return st;
                snprintf(name, sizeof name, "embed[%zu,%zu].l%zu.b", a, b, l + 1);
                if ((st = layout_add(&m->layout, name, 1, e->width[l + 1]))) return st;
            }
        }
    /* fitting nets a: M1*M2 -> fitting_neuron... -> 1 (linear) */
    mlp_shape *f = &m->fit;
    f->n_layers = cfg->n_fitting + 1;
    f->width[0] = m->m1 * m->m2;
    for (size_t l = 0; l < cfg->n_fitting; l++) {
        f->width[l + 1] = cfg->fitting_neuron[l];
        f->residual[l] = cfg->resnet && l > 0 && f->width[l] == f->width[l + 1];
        f->linear[l] = 0;
    }
    f->width[f->n_layers] = 1;
    f->residual[f->n_layers - 1] = 0;
    f->linear[f->n_layers - 1] = 1;
    for (size_t a = 0; a < ntypes; a++) {
        m->fit_base[a] = m->layout.n_params;
        for (size_t l = 0; l < f->n_layers; l++) {
            if (a == 0) f->w_off[l] = m->layout.n_params;
            int out = l + 1 == f->n_layers;
            if (out)
                snprintf(name, sizeof name, "fit[%zu].out.W", a);
            else
                snprintf(name, sizeof name, "fit[%zu].l%zu.W", a, l + 1);
            if ((st = layout_add(&m->layout, name, f->width[l], f->width[l + 1]))) return st;
            if (out)
                snprintf(name, sizeof name, "fit[%zu].out.b", a);
            else
                snprintf(name, sizeof name, "fit[%zu].l%zu.b", a, l + 1);
            if ((st = layout_add(&m->layout, name, 1, f->width[l + 1]))) return st;
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

/* s(r) and ds/dr (SPEC §2 "Switching"). */
static void switch_fn(double r, double rs, double rc, double *s, double *ds) {
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
    double energy;
    int have_frame, have_forward, have_backward;
    void *pool; /* one allocation for all arrays */
};

size_t model_ws_natoms(const model_ws *ws) {
    return ws->natoms;
}

size_t model_ws_npairs(const model_ws *ws) {
    return ws->npairs;
}

typedef struct {
    char *base;
    size_t used;
} arena;

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
        b->h[l] = s->residual[l] ? take(ar, n) : b->t[l];
        b->gz[l] = take(ar, n);
        b->zd[l] = take(ar, n);
        b->hd[l] = take(ar, n);
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

/* Offset every buffer of b by row0 rows. */
static mlp_buf buf_at(const mlp_buf *b, const mlp_shape *s, size_t row0) {
    mlp_buf o;
    memset(&o, 0, sizeof o);
    for (size_t l = 0; l < s->n_layers; l++) {
        size_t off = row0 * s->width[l + 1];
        o.t[l] = b->t[l] + off;
        o.h[l] = b->h[l] + off;
        o.gz[l] = b->gz[l] + off;
        o.zd[l] = b->zd[l] + off;
        o.hd[l] = b->hd[l] + off;
    }
    return o;
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
    /* pairs ordered by (a, b, k) */
    size_t p = 0;
    for (size_t a = 0; a < nt; a++)
        for (size_t b = 0; b < nt; b++) {
            ws->gstart[a * nt + b] = p;
            for (size_t kk = ws->type_start[a]; kk < ws->type_start[a + 1]; kk++) {
                size_t i = ws->sorted[kk];
                ws->blk_start[kk * nt + b] = p;
                for (size_t q = nl->start[i]; q < nl->start[i + 1]; q++) {
                    int32_t j = nl->j[q];
                    if ((size_t)sys->type[j] != b) continue;
                    const double *d = nl->d + 3 * q;
                    double r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2], r = sqrt(r2);
                    double s, ds;
                    switch_fn(r, m->cfg.rcut_smth, m->cfg.rcut, &s, &ds);
                    const double *av = m->avg[a], *sd = m->std[a];
                    double q0 = s / r, dq = ds / r - s / r2; /* q = s/r and dq/dr */
                    double *rh = ws->rhat + 4 * p, *J = ws->jr + 12 * p;
                    rh[0] = (s - av[0]) / sd[0];
                    for (int al = 0; al < 3; al++)
                        rh[1 + al] = (q0 * d[al] - av[1 + al]) / sd[1 + al];
                    /* dR~0/dd_b = s' d_b / r;  dR~a/dd_b = q delta_ab + d_a dq d_b / r */
                    for (int be = 0; be < 3; be++) {
                        J[be] = ds * d[be] / r / sd[0];
                        for (int al = 0; al < 3; al++)
                            J[3 * (1 + al) + be] =
                                ((al == be ? q0 : 0.0) + d[al] * dq * d[be] / r) / sd[1 + al];
                    }
                    ws->x[p] = rh[0];
                    ws->pi[p] = (int32_t)i;
                    ws->pj[p] = j;
                    p++;
                }
                ws->blk_n[kk * nt + b] = p - ws->blk_start[kk * nt + b];
            }
        }
    ws->gstart[nt * nt] = p;
    RK_ASSERT(p <= ws->max_pairs);
    ws->npairs = p;
    ws->natoms = na;
    ws->sys = sys;
    ws->frame = frame;
    ws->have_frame = 1;
    return RK_OK;
}

/* ---------------------------------------------------------------- passes ------------------ */

double model_forward(const model_t *m, model_ws *ws) {
    RK_ASSERT(ws->have_frame);
    size_t nt = m->ntypes, M1 = m->m1, M2 = m->m2, MM = M1 * M2;
    double inv_nc = 1.0 / (double)m->n_c;
    size_t Le = m->embed.n_layers;
    /* embedding nets, one batch per (a,b) */
    for (size_t g = 0; g < nt * nt; g++) {
        size_t g0 = ws->gstart[g], n = ws->gstart[g + 1] - g0;
        if (!n) continue;
        mlp_shape s = embed_shape(m, g / nt, g % nt);
        mlp_buf b = buf_at(&ws->eb, &s, g0);
        mlp_forward(&s, m->w, n, ws->x + g0, &b);
    }
    const double *G = ws->eb.h[Le - 1];
    /* descriptor per atom */
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
        mlp_buf b = buf_at(&ws->fb, &s, k0);
        mlp_forward(&s, m->w, n, ws->D + k0 * MM, &b);
        for (size_t k = 0; k < n; k++)
            E += b.h[Lf - 1][k];
    }
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
    if (grad_e) memset(grad_e, 0, m->layout.n_params * sizeof *grad_e);
    /* fitting nets: dE/dE_i = 1 */
    for (size_t a = 0; a < nt; a++) {
        size_t k0 = ws->type_start[a], n = ws->type_start[a + 1] - k0;
        if (!n) continue;
        mlp_shape s = fit_shape(m, a);
        mlp_buf b = buf_at(&ws->fb, &s, k0);
        mlp_backward(&s, m->w, n, ws->D + k0 * MM, ws->ones, &b, grad_e, ws->gD + k0 * MM,
                     ws->fscratch);
    }
    const double *G = ws->eb.h[Le - 1];
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
        mlp_buf b = buf_at(&ws->eb, &s, g0);
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
    ws->have_backward = 1;
}

void model_force_jacobian(const model_t *m, model_ws *ws, const double *c, double *jac) {
    RK_ASSERT(ws->have_backward);
    size_t nt = m->ntypes, M1 = m->m1, M2 = m->m2, MM = M1 * M2;
    double inv_nc = 1.0 / (double)m->n_c;
    size_t Le = m->embed.n_layers;
    memset(jac, 0, m->layout.n_params * sizeof *jac);
    /* input tangent: d' = c_j - c_i,  R^' = J d' */
    for (size_t p = 0; p < ws->npairs; p++) {
        const double *ci = c + 3 * (size_t)ws->pi[p], *cj = c + 3 * (size_t)ws->pj[p];
        const double *J = ws->jr + 12 * p;
        double dd[3] = {cj[0] - ci[0], cj[1] - ci[1], cj[2] - ci[2]};
        double *rd = ws->rhatd + 4 * p;
        for (int k = 0; k < 4; k++)
            rd[k] = J[3 * k] * dd[0] + J[3 * k + 1] * dd[1] + J[3 * k + 2] * dd[2];
        ws->xd[p] = rd[0];
    }
    for (size_t g = 0; g < nt * nt; g++) {
        size_t g0 = ws->gstart[g], n = ws->gstart[g + 1] - g0;
        if (!n) continue;
        mlp_shape s = embed_shape(m, g / nt, g % nt);
        mlp_buf b = buf_at(&ws->eb, &s, g0);
        mlp_tangent_forward(&s, m->w, n, ws->xd + g0, &b);
    }
    const double *G = ws->eb.h[Le - 1], *Gd = ws->eb.hd[Le - 1];
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
        mlp_buf b = buf_at(&ws->fb, &s, k0);
        mlp_tangent_forward(&s, m->w, n, ws->Dd + k0 * MM, &b);
        /* the output gradient dE/dE_i = 1 is constant: its tangent is zero */
        mlp_tangent_backward(&s, m->w, n, ws->D + k0 * MM, ws->Dd + k0 * MM, NULL, &b, jac,
                             ws->gDd + k0 * MM, ws->fscratch);
    }
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
        mlp_buf b = buf_at(&ws->eb, &s, g0);
        mlp_tangent_backward(&s, m->w, n, ws->x + g0, ws->xd + g0, ws->gGd + g0 * M1, &b, jac, NULL,
                             ws->escratch);
    }
    /* J_c = d(sum c.F)/dw = -(tangent of dE/dw along dr = c) */
    for (size_t i = 0; i < m->layout.n_params; i++)
        jac[i] = -jac[i];
}

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
                switch_fn(r, m->cfg.rcut_smth, m->cfg.rcut, &s, &ds_);
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

rk_status model_neighbor_stat(const dataset_t *ds, double rcut, const model_frame_ref *frames,
                              size_t n, size_t *counts, double *min_dist) {
    size_t nt = ds->ntypes;
    nlist_t nl;
    nlist_init(&nl);
    memset(counts, 0, nt * sizeof *counts);
    double dmin = INFINITY;
    size_t *c = NULL, cap = 0;
    for (size_t f = 0; f < n; f++) {
        const ds_system *sys = &ds->sys[frames[f].sys];
        size_t fr = frames[f].frame, na = sys->natoms;
        rk_status st = nlist_build(&nl, na, sys->coord + fr * na * 3, sys->box + fr * 9, rcut);
        if (st) {
            free(c);
            nlist_free(&nl);
            return err_prefix(st, "system %s frame %zu: ", sys->name, fr);
        }
        if (na * nt > cap) {
            free(c);
            cap = na * nt;
            c = rk_malloc(cap * sizeof *c);
            if (!c) {
                nlist_free(&nl);
                return RK_ENOMEM;
            }
        }
        nlist_count_types(&nl, sys->type, nt, c);
        for (size_t i = 0; i < na * nt; i++)
            if (c[i] > counts[i % nt]) counts[i % nt] = c[i];
        for (size_t q = 0; q < nl.npairs; q++) {
            const double *d = nl.d + 3 * q;
            double r = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
            if (r < dmin) dmin = r;
        }
    }
    free(c);
    nlist_free(&nl);
    if (min_dist) *min_dist = dmin;
    return RK_OK;
}

/* Symmetric eigen-decomposition of a small n x n matrix by cyclic Jacobi rotations:
 * A = V diag(ev) V^T. A is destroyed. */
static void jacobi_eigen(size_t n, double *A, double *V, double *ev) {
    const int max_sweeps = 100;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            V[i * n + j] = i == j ? 1.0 : 0.0;
    for (int sweep = 0; sweep < max_sweeps; sweep++) {
        double off = 0.0, diag = 0.0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                if (i != j)
                    off += A[i * n + j] * A[i * n + j];
                else
                    diag += A[i * n + j] * A[i * n + j];
            }
        if (off <= 1e-30 * diag || off == 0.0) break;
        for (size_t p = 0; p < n; p++)
            for (size_t q = p + 1; q < n; q++) {
                double apq = A[p * n + q];
                if (apq == 0.0) continue;
                double theta = (A[q * n + q] - A[p * n + p]) / (2.0 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double cs = 1.0 / sqrt(t * t + 1.0), sn = t * cs;
                for (size_t k = 0; k < n; k++) { /* A <- A J */
                    double akp = A[k * n + p], akq = A[k * n + q];
                    A[k * n + p] = cs * akp - sn * akq;
                    A[k * n + q] = sn * akp + cs * akq;
                }
                for (size_t k = 0; k < n; k++) { /* A <- J^T A */
                    double apk = A[p * n + k], aqk = A[q * n + k];
                    A[p * n + k] = cs * apk - sn * aqk;
                    A[q * n + k] = sn * apk + cs * aqk;
                }
                for (size_t k = 0; k < n; k++) { /* V <- V J */
                    double vkp = V[k * n + p], vkq = V[k * n + q];
                    V[k * n + p] = cs * vkp - sn * vkq;
                    V[k * n + q] = sn * vkp + cs * vkq;
                }
            }
    }
    for (size_t i = 0; i < n; i++)
        ev[i] = A[i * n + i];
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
    jacobi_eigen(nt, AtA, V, ev);
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
    /* tensors in parameter-vector order: W ~ N(0, 1/(n_in+n_out)), hidden b ~ N(0, 1),
     * output b = e_a. Names end in ".W" or ".b"; the output bias is "fit[a].out.b". */
    for (size_t t = 0; t < m->layout.n_tensors; t++) {
        const layout_tensor *T = &m->layout.t[t];
        double *w = m->w + T->offset;
        size_t len = strlen(T->name);
        int is_bias = T->name[len - 1] == 'b';
        if (!is_bias) {
            double sd = sqrt(1.0 / (double)(T->rows + T->cols));
            for (size_t i = 0; i < T->size; i++)
                w[i] = sd * rng_normal(r);
        } else if (strstr(T->name, ".out.b")) {
            size_t a = 0;
            sscanf(T->name, "fit[%zu]", &a);
            w[0] = e[a];
        } else {
            for (size_t i = 0; i < T->size; i++)
                w[i] = rng_normal(r);
        }
    }
    return RK_OK;
}

/* ---------------------------------------------------------------- files ------------------- */

rk_status model_check_types(const model_t *m, const dataset_t *ds, const char *what) {
    if (ds->ntypes != m->ntypes)
        return err_set(RK_EINPUT, "%s: dataset has %zu types, model has %zu", what, ds->ntypes,
                       m->ntypes);
    for (size_t a = 0; a < m->ntypes; a++)
        if (strcmp(ds->type_map[a], m->type_map[a]) != 0)
            return err_set(RK_EINPUT,
                           "%s: type %zu is '%s' in the dataset but '%s' in the model (type maps "
                           "must match)",
                           what, a, ds->type_map[a], m->type_map[a]);
    return RK_OK;
}

rk_status model_save(const model_t *m, const char *path) {
    return model_save_split(m, path, NULL);
}

rk_status model_save_split(const model_t *m, const char *path, const char *split_json) {
    h5io_model_rec rec;
    double avg[MODEL_MAX_TYPES * 4], sd[MODEL_MAX_TYPES * 4];
    for (size_t a = 0; a < m->ntypes; a++)
        for (int k = 0; k < 4; k++) {
            avg[a * 4 + k] = m->avg[a][k];
            sd[a * 4 + k] = m->std[a][k];
        }
    rec.config_json = model_config_to_json(&m->cfg);
    rec.ntypes = m->ntypes;
    rec.type_map = (char(*)[DS_SYMBOL_MAX])m->type_map;
    rec.avg = avg;
    rec.std = sd;
    rec.params = m->w;
    rec.n_params = m->layout.n_params;
    rec.split_json = (char *)split_json; /* only read by the writer */
    rk_status st = h5io_model_write(path, &rec, NULL, 0);
    free(rec.config_json);
    return st;
}

rk_status model_load(model_t *m, const char *path) {
    h5io_model_rec rec;
    memset(&rec, 0, sizeof rec);
    rk_status st = h5io_model_read(path, &rec);
    if (st) return st;
    jsonw *j = NULL;
    model_config cfg = model_default_config();
    char ctx[600];
    snprintf(ctx, sizeof ctx, "%s: /config", path);
    st = jsonw_parse_text(rec.config_json, ctx, &j);
    if (!st) st = model_config_from_json(j, ctx, &cfg);
    jsonw_free(j);
    if (!st) st = model_create(m, &cfg, rec.ntypes, rec.type_map);
    if (!st && m->layout.n_params != rec.n_params)
        st = err_set(RK_EINPUT, "%s: /params has %zu entries, the config implies %zu", path,
                     rec.n_params, m->layout.n_params);
    if (!st) {
        memcpy(m->w, rec.params, rec.n_params * sizeof *m->w);
        for (size_t a = 0; a < m->ntypes; a++)
            for (int k = 0; k < 4; k++) {
                m->avg[a][k] = rec.avg[a * 4 + k];
                m->std[a][k] = rec.std[a * 4 + k];
            }
    } else if (m->w) {
        model_free(m);
    }
    h5io_model_rec_free(&rec);
    return st;
}
