/* md: parameters, masses, the LAMMPS cell convention and radial distribution functions (see
 * md.h). No LAMMPS here. */
#include "md.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlist.h"
#include "num.h"

const char *const md_ensemble_names[MD_NENSEMBLES + 1] = {"nve", "nvt", NULL};

/* Stability defaults. Fu et al. (TMLR 2023) stop a simulation when the structure becomes
 * unphysical; as a cheap per-step proxy we take the shortest pair distance (0.5 Å: no bond in
 * these sets is shorter than 0.9 Å (O-H), and two atoms at 0.5 Å mean a collapse) and a
 * temperature band of 0.1x to 5x the target (a heated or frozen system has left the state the
 * model was trained on). */
const md_key md_keys[] = {
    {"steps", MD_KEY_INT, 1000, 0, 1e8, "time steps to run"},
    {"dt_fs", MD_KEY_REAL, 1.0, 1e-3, 20.0, "time step, fs"},
    {"ensembles", MD_KEY_ENSEMBLES, 1u << MD_NVE, 0, 0,
     "list of ensembles to run: \"nve\" (velocity Verlet), \"nvt\" (Nose-Hoover)"},
    {"temperature_K", MD_KEY_REAL, 300.0, 1.0, 1e5, "initial velocities (and the NVT target), K"},
    {"thermo_every", MD_KEY_INT, 10, 1, 1e8, "steps between thermo rows and RDF samples"},
    {"min_distance_A", MD_KEY_REAL, 0.5, 0.0, 10.0,
     "unstable once two atoms come closer than this, A"},
    {"temp_low", MD_KEY_REAL, 0.1, 0.0, 1.0,
     "unstable once the temperature falls below temp_low x temperature_K"},
    {"temp_high", MD_KEY_REAL, 5.0, 1.0, 1e3,
     "unstable once the temperature rises above temp_high x temperature_K"},
    {"rdf_bins", MD_KEY_INT, 120, 1, 10000, "bins of the radial distribution functions"},
    {"rdf_rmax_A", MD_KEY_REAL, 0.0, 0.0, 50.0,
     "range of the radial distribution functions, A (0: the model's rcut)"},
    {"frame", MD_KEY_FRAME, 0, 0, 0,
     "starting frame \"SYSTEM:K\" of the dataset (default: first system, frame 0)"},
    {"datasets", MD_KEY_NAMES, 0, 0, 0,
     "manifest only: names of the datasets whose cells get MD (default: every dataset)"},
};
const size_t md_n_keys = sizeof md_keys / sizeof md_keys[0];

static void *field(md_params *p, const char *name) {
    if (!strcmp(name, "steps")) return &p->steps;
    if (!strcmp(name, "dt_fs")) return &p->dt_fs;
    if (!strcmp(name, "ensembles")) return &p->ensembles;
    if (!strcmp(name, "temperature_K")) return &p->temperature_K;
    if (!strcmp(name, "thermo_every")) return &p->thermo_every;
    if (!strcmp(name, "min_distance_A")) return &p->min_distance_A;
    if (!strcmp(name, "temp_low")) return &p->temp_low;
    if (!strcmp(name, "temp_high")) return &p->temp_high;
    if (!strcmp(name, "rdf_bins")) return &p->rdf_bins;
    if (!strcmp(name, "rdf_rmax_A")) return &p->rdf_rmax_A;
    if (!strcmp(name, "frame")) return p->frame;
    if (!strcmp(name, "datasets")) return p->datasets;
    return NULL;
}

void md_params_default(md_params *p) {
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < md_n_keys; i++) {
        void *f = field(p, md_keys[i].name);
        RK_ASSERT(f);
        switch (md_keys[i].kind) {
        case MD_KEY_INT:
            *(long *)f = (long)md_keys[i].def;
            break;
        case MD_KEY_REAL:
            *(double *)f = md_keys[i].def;
            break;
        case MD_KEY_ENSEMBLES:
            *(unsigned *)f = (unsigned)md_keys[i].def;
            break;
        case MD_KEY_FRAME:
        case MD_KEY_NAMES:
            break;
        }
    }
}

static const md_key *key_of(const char *name) {
    for (size_t i = 0; i < md_n_keys; i++)
        if (!strcmp(md_keys[i].name, name)) return &md_keys[i];
    return NULL;
}

rk_status md_ensemble_parse(const char *what, const char *text, md_ensemble *e) {
    for (int i = 0; i < MD_NENSEMBLES; i++)
        if (!strcmp(text, md_ensemble_names[i])) {
            *e = (md_ensemble)i;
            return RK_OK;
        }
    return err_set(RK_EINPUT, "%s: unknown ensemble '%s' (valid: nve, nvt)", what, text);
}

static rk_status set_frame(md_params *p, const char *what, const char *text) {
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || strlen(text) >= sizeof p->frame)
        return err_set(RK_EINPUT, "%s: expected SYSTEM:K, got '%s'", what, text);
    size_t k;
    rk_status st = num_parse_size(what, colon + 1, 0, (size_t)1 << 40, &k);
    if (st) return st;
    snprintf(p->frame, sizeof p->frame, "%s", text);
    return RK_OK;
}

rk_status md_params_set(md_params *p, const char *key, const char *what, const char *text) {
    const md_key *k = key_of(key);
    RK_ASSERT(k);
    void *f = field(p, key);
    switch (k->kind) {
    case MD_KEY_INT:
        return num_parse_long(what, text, (long)k->lo, (long)k->hi, (long *)f);
    case MD_KEY_REAL:
        return num_parse_real(what, text, k->lo, k->hi, (double *)f);
    case MD_KEY_ENSEMBLES: {
        md_ensemble e = MD_NVE;
        rk_status st = md_ensemble_parse(what, text, &e);
        if (!st) *(unsigned *)f = 1u << e;
        return st;
    }
    case MD_KEY_FRAME:
        return set_frame(p, what, text);
    case MD_KEY_NAMES:
        return err_set(RK_EINPUT, "%s: a manifest key only", what);
    }
    return RK_OK;
}

rk_status md_params_from_json(const jsonw *obj, const char *ctx, md_params *p) {
    if (jsonw_typeof(obj) != JSONW_OBJECT) return err_set(RK_EINPUT, "%s: expected an object", ctx);
    const char *allowed[32];
    RK_ASSERT(md_n_keys < 32);
    for (size_t i = 0; i < md_n_keys; i++)
        allowed[i] = md_keys[i].name;
    allowed[md_n_keys] = NULL;
    rk_status st = jsonw_check_keys(obj, ctx, allowed);
    if (st) return st;
    for (size_t i = 0; i < md_n_keys && !st; i++) {
        const md_key *k = &md_keys[i];
        void *f = field(p, k->name);
        const jsonw *v = jsonw_get(obj, k->name);
        if (!v) continue;
        switch (k->kind) {
        case MD_KEY_INT:
            st = jsonw_get_int(obj, ctx, k->name, 0, (long)k->lo, (long)k->hi, f);
            break;
        case MD_KEY_REAL:
            st = jsonw_get_num(obj, ctx, k->name, 0, k->lo, k->hi, f);
            break;
        case MD_KEY_FRAME: {
            char buf[MD_FRAME_MAX], what[600];
            st = jsonw_get_str(obj, ctx, k->name, 0, buf, sizeof buf);
            snprintf(what, sizeof what, "%s.%s", ctx, k->name);
            if (!st) st = set_frame(p, what, buf);
            break;
        }
        case MD_KEY_NAMES: {
            char what[600];
            snprintf(what, sizeof what, "%s.%s", ctx, k->name);
            if (jsonw_typeof(v) != JSONW_ARRAY || jsonw_size(v) == 0 ||
                jsonw_size(v) > MD_MAX_DATASETS)
                return err_set(RK_EINPUT, "%s: expected an array of 1 to %d dataset names", what,
                               MD_MAX_DATASETS);
            p->n_datasets = jsonw_size(v);
            for (size_t j = 0; j < p->n_datasets; j++) {
                const jsonw *e = jsonw_at(v, j);
                if (jsonw_typeof(e) != JSONW_STRING || strlen(jsonw_string(e)) >= MD_NAME_MAX)
                    return err_set(RK_EINPUT, "%s[%zu]: expected a dataset name", what, j);
                snprintf(p->datasets[j], MD_NAME_MAX, "%s", jsonw_string(e));
            }
            break;
        }
        case MD_KEY_ENSEMBLES: {
            char what[600];
            snprintf(what, sizeof what, "%s.%s", ctx, k->name);
            if (jsonw_typeof(v) != JSONW_ARRAY || jsonw_size(v) == 0)
                return err_set(RK_EINPUT, "%s: expected a non-empty array of \"nve\", \"nvt\"",
                               what);
            unsigned mask = 0;
            for (size_t j = 0; j < jsonw_size(v) && !st; j++) {
                const jsonw *e = jsonw_at(v, j);
                md_ensemble en = MD_NVE;
                if (jsonw_typeof(e) != JSONW_STRING)
                    return err_set(RK_EINPUT, "%s[%zu]: expected \"nve\" or \"nvt\"", what, j);
                st = md_ensemble_parse(what, jsonw_string(e), &en);
                if (!st) mask |= 1u << en;
            }
            if (!st) p->ensembles = mask;
            break;
        }
        }
    }
    return st;
}

/* ---- masses ---- */

/* Standard atomic weights (IUPAC 2021, conventional values) of the shipped datasets' elements. */
static const struct {
    const char *sym;
    double amu;
} MASSES[] = {
    {"H", 1.008}, {"Li", 6.94},   {"O", 15.999},  {"Si", 28.085}, {"P", 30.974},
    {"S", 32.06}, {"Cu", 63.546}, {"Ge", 72.630}, {"Hf", 178.49},
};

rk_status md_mass(const char *symbol, double *mass) {
    for (size_t i = 0; i < sizeof MASSES / sizeof MASSES[0]; i++)
        if (!strcmp(MASSES[i].sym, symbol)) {
            *mass = MASSES[i].amu;
            return RK_OK;
        }
    return err_set(RK_EINPUT,
                   "element '%s' has no mass in md's table (known: H, Li, O, Si, P, S, Cu, Ge, Hf)",
                   symbol);
}

/* ---- cells ---- */

rk_status md_check_frame(const dataset_t *ds, size_t sys, size_t k) {
    const ds_system *S = &ds->sys[sys];
    for (size_t i = 0; i < S->natoms; i++) {
        double m;
        rk_status st = md_mass(ds->type_map[S->type[i]], &m);
        if (st) return err_prefix(st, "system %s: ", S->name);
    }
    md_cell c;
    rk_status st = md_cell_from_box(S->box + 9 * k, &c);
    if (st) return err_prefix(st, "system %s frame %zu: ", S->name, k);
    return RK_OK;
}

static double dot3(const double *a, const double *b) {
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/* Inverse of a 3x3 matrix (row-major); 0 if singular. */
static int inv3(const double *m, double *out) {
    double det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
                 m[2] * (m[3] * m[7] - m[4] * m[6]);
    if (!(fabs(det) > 1e-12)) return 0;
    out[0] = (m[4] * m[8] - m[5] * m[7]) / det;
    out[1] = (m[2] * m[7] - m[1] * m[8]) / det;
    out[2] = (m[1] * m[5] - m[2] * m[4]) / det;
    out[3] = (m[5] * m[6] - m[3] * m[8]) / det;
    out[4] = (m[0] * m[8] - m[2] * m[6]) / det;
    out[5] = (m[2] * m[3] - m[0] * m[5]) / det;
    out[6] = (m[3] * m[7] - m[4] * m[6]) / det;
    out[7] = (m[1] * m[6] - m[0] * m[7]) / det;
    out[8] = (m[0] * m[4] - m[1] * m[3]) / det;
    return 1;
}

static void mul3(const double *a, const double *b, double *out) {
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            out[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
}

void md_cell_box(const md_cell *c, double *box) {
    const double b[9] = {c->lx, 0, 0, c->xy, c->ly, 0, c->xz, c->yz, c->lz};
    memcpy(box, b, sizeof b);
}

rk_status md_cell_from_box(const double *box, md_cell *c) {
    const double *a = box, *b = box + 3, *cc = box + 6;
    double inv[9];
    if (!inv3(box, inv)) return err_set(RK_EINPUT, "md: singular cell");
    double det = box[0] * (box[4] * box[8] - box[5] * box[7]) -
                 box[1] * (box[3] * box[8] - box[5] * box[6]) +
                 box[2] * (box[3] * box[7] - box[4] * box[6]);
    /* Gram-Schmidt: the lengths and angles of a, b, c in LAMMPS's lower-triangular form */
    c->lx = sqrt(dot3(a, a));
    double ahat[3] = {a[0] / c->lx, a[1] / c->lx, a[2] / c->lx};
    c->xy = dot3(b, ahat);
    double bp[3] = {b[0] - c->xy * ahat[0], b[1] - c->xy * ahat[1], b[2] - c->xy * ahat[2]};
    c->ly = sqrt(dot3(bp, bp));
    double bhat[3] = {bp[0] / c->ly, bp[1] / c->ly, bp[2] / c->ly};
    c->xz = dot3(cc, ahat);
    c->yz = dot3(cc, bhat);
    c->lz = fabs(det) / (c->lx * c->ly);
    /* q = A^{-1} A': frame vectors in fractional coordinates, then in LAMMPS's rows */
    double lam[9];
    md_cell_box(c, lam);
    mul3(inv, lam, c->q);
    /* the same lattice with the tilts LAMMPS accepts (c first: it uses b's tilt) */
    double n = round(c->yz / c->ly);
    c->yz -= n * c->ly;
    c->xz -= n * c->xy;
    c->xz -= round(c->xz / c->lx) * c->lx;
    c->xy -= round(c->xy / c->lx) * c->lx;
    return RK_OK;
}

void md_cell_to_lammps(const md_cell *c, const double *x, double *out, size_t n) {
    double box[9], inv[9];
    md_cell_box(c, box);
    RK_ASSERT(inv3(box, inv));
    for (size_t i = 0; i < n; i++) {
        double y[3], s[3];
        for (int j = 0; j < 3; j++)
            y[j] = x[3 * i] * c->q[j] + x[3 * i + 1] * c->q[3 + j] + x[3 * i + 2] * c->q[6 + j];
        for (int j = 0; j < 3; j++) {
            s[j] = y[0] * inv[j] + y[1] * inv[3 + j] + y[2] * inv[6 + j];
            s[j] -= floor(s[j]);
        }
        for (int j = 0; j < 3; j++)
            out[3 * i + j] = s[0] * box[j] + s[1] * box[3 + j] + s[2] * box[6 + j];
    }
}

void md_cell_from_lammps(const md_cell *c, const double *v, double *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double y[3];
        for (int j = 0; j < 3; j++)
            y[j] = v[3 * i] * c->q[3 * j] + v[3 * i + 1] * c->q[3 * j + 1] +
                   v[3 * i + 2] * c->q[3 * j + 2];
        memcpy(out + 3 * i, y, sizeof y);
    }
}

/* ---- RDF and distances ---- */

void md_pairs_of(const ds_system *sys, size_t ntypes, md_pairs *p) {
    int present[MODEL_MAX_TYPES] = {0};
    for (size_t i = 0; i < sys->natoms; i++)
        if (sys->type[i] >= 0 && (size_t)sys->type[i] < ntypes) present[sys->type[i]] = 1;
    p->npairs = 0;
    for (size_t a = 0; a < ntypes; a++)
        for (size_t b = a; b < ntypes; b++)
            if (present[a] && present[b]) {
                p->a[p->npairs] = (int)a;
                p->b[p->npairs] = (int)b;
                p->npairs++;
            }
}

static double volume(const double *box) {
    return fabs(box[0] * (box[4] * box[8] - box[5] * box[7]) -
                box[1] * (box[3] * box[8] - box[5] * box[6]) +
                box[2] * (box[3] * box[7] - box[4] * box[6]));
}

rk_status md_rdf_add(const ds_system *sys, size_t frame, size_t ntypes, const md_pairs *p,
                     double rmax, size_t nbins, double *acc) {
    const double *x = sys->coord + frame * sys->natoms * 3, *box = sys->box + frame * 9;
    nlist_t nl;
    nlist_init(&nl);
    rk_status st = nlist_build(&nl, sys->natoms, x, box, rmax);
    if (st) {
        nlist_free(&nl);
        return st;
    }
    size_t count[MODEL_MAX_TYPES] = {0};
    for (size_t i = 0; i < sys->natoms; i++)
        count[sys->type[i]]++;
    size_t np = p->npairs;
    double *h = rk_calloc(np * nbins, sizeof(double));
    if (!h) {
        nlist_free(&nl);
        return RK_ENOMEM;
    }
    int index[MODEL_MAX_TYPES][MODEL_MAX_TYPES];
    for (size_t a = 0; a < ntypes; a++)
        for (size_t b = 0; b < ntypes; b++)
            index[a][b] = -1;
    for (size_t k = 0; k < np; k++)
        index[p->a[k]][p->b[k]] = (int)k;
    double dr = rmax / (double)nbins;
    for (size_t i = 0; i < sys->natoms; i++)
        for (size_t q = nl.start[i]; q < nl.start[i + 1]; q++) {
            const double *d = nl.d + 3 * q;
            double r = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
            size_t bin = (size_t)(r / dr);
            /* ordered pairs: centre i of type a, neighbour j of type b (a <= b) */
            int k = index[sys->type[i]][sys->type[nl.j[q]]];
            if (k < 0 || bin >= nbins) continue;
            h[(size_t)k * nbins + bin] += 1.0;
        }
    double vol = volume(box);
    for (size_t k = 0; k < np; k++) {
        double na = (double)count[p->a[k]], nb = (double)count[p->b[k]];
        double pairs = na * (nb - (p->a[k] == p->b[k] ? 1.0 : 0.0));
        for (size_t bin = 0; bin < nbins; bin++) {
            double lo = dr * (double)bin, hi = dr * (double)(bin + 1);
            double shell = 4.0 / 3.0 * M_PI * (hi * hi * hi - lo * lo * lo);
            double norm = pairs * shell / vol;
            if (norm > 0) acc[k * nbins + bin] += h[k * nbins + bin] / norm;
        }
    }
    free(h);
    nlist_free(&nl);
    return RK_OK;
}
