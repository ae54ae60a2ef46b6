/* md_run: one MD run of a model from a dataset frame, its metrics and its files (see md.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "csvio.h"
#include "fs.h"
#include "md.h"
#include "md_engine.h"
#include "nlist.h"
#include "rng.h"
#include "schema.h"

/* The force provider's state: the model on a one-frame system in LAMMPS's frame. */
typedef struct {
    const model_t *m;
    model_ws *ws;
    ds_system frame; /* natoms, type (borrowed), coord/box (owned), 1 frame */
    const md_params *p;
    double dt_ps;
    nlist_t nl;     /* neighbours within rcut of the current step */
    size_t *counts; /* (natoms, ntypes) neighbours per type */
    int unstable;
    int over_sel; /* the stop was more neighbours than the model's sel, not physics */
    long bad_step;
    char reason[256];
    long last_step;
    double last_e, last_dmin;
    double *last_f;
    int have_last;
} provider;

static int all_finite(const double *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

static int provide(void *vctx, long step, const double *x, double *e, double *f) {
    provider *c = vctx;
    size_t n = c->frame.natoms, n3 = 3 * n;
    if (c->have_last && step == c->last_step && !memcmp(x, c->frame.coord, n3 * sizeof *x)) {
        /* LAMMPS sets a run up again at the same step: the same configuration */
        *e = c->last_e;
        memcpy(f, c->last_f, n3 * sizeof *f);
        return 0;
    }
    memcpy(c->frame.coord, x, n3 * sizeof *x);
    c->have_last = 0;
    /* the neighbours within rcut: the shortest distance, and whether the model can take them */
    rk_status st = nlist_build(&c->nl, n, x, c->frame.box, c->m->cfg.rcut);
    if (st) {
        snprintf(c->reason, sizeof c->reason, "%s", err_msg());
        err_clear();
        goto bad;
    }
    double d2 = INFINITY;
    for (size_t q = 0; q < c->nl.npairs; q++) {
        const double *d = c->nl.d + 3 * q;
        double r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
        if (r2 < d2) d2 = r2;
    }
    double dmin = sqrt(d2);
    nlist_count_types(&c->nl, c->frame.type, c->m->ntypes, c->counts);
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < c->m->ntypes; t++)
            if (c->counts[i * c->m->ntypes + t] > c->m->cfg.sel[t]) {
                snprintf(c->reason, sizeof c->reason,
                         "atom %zu has %zu neighbours of type %s within rcut %g, more than the "
                         "model's sel %zu",
                         i, c->counts[i * c->m->ntypes + t], c->m->type_map[t], c->m->cfg.rcut,
                         c->m->cfg.sel[t]);
                c->over_sel = 1;
                goto bad;
            }
    if ((st = model_set_frame(c->m, c->ws, &c->frame, 0))) {
        snprintf(c->reason, sizeof c->reason, "model: %s", err_msg());
        err_clear();
        goto bad;
    }
    double energy = model_forward(c->m, c->ws);
    model_backward(c->m, c->ws, NULL, f);
    if (!isfinite(energy) || !all_finite(f, n3)) {
        snprintf(c->reason, sizeof c->reason, "non-finite energy or force");
        goto bad;
    }
    c->last_step = step;
    c->last_e = energy;
    c->last_dmin = dmin;
    memcpy(c->last_f, f, n3 * sizeof *f);
    c->have_last = 1;
    *e = energy;
    if (dmin < c->p->min_distance_A) {
        snprintf(c->reason, sizeof c->reason, "pair distance %.3f A below %.3f A", dmin,
                 c->p->min_distance_A);
        goto bad;
    }
    return 0;
bad:
    c->unstable = 1;
    c->bad_step = step;
    return 1;
}

rk_status md_find_frame(const dataset_t *ds, const char *frame, size_t *sys, size_t *k) {
    if (!frame || !*frame) {
        *sys = 0;
        *k = 0;
        return RK_OK;
    }
    const char *colon = strrchr(frame, ':');
    RK_ASSERT(colon); /* md_params_set checked the form */
    size_t len = (size_t)(colon - frame);
    long idx = strtol(colon + 1, NULL, 10);
    for (size_t s = 0; s < ds->nsystems; s++)
        if (strlen(ds->sys[s].name) == len && !strncmp(ds->sys[s].name, frame, len)) {
            if ((size_t)idx >= ds->sys[s].nframes)
                return err_set(RK_EINPUT, "frame '%s': system %s has %zu frames", frame,
                               ds->sys[s].name, ds->sys[s].nframes);
            *sys = s;
            *k = (size_t)idx;
            return RK_OK;
        }
    return err_set(RK_EINPUT, "frame '%s': no system '%.*s' in the dataset (first: %s)", frame,
                   (int)len, frame, ds->sys[0].name);
}

void md_result_free(md_result *r) {
    free(r->rows);
    free(r->g_md);
    free(r->g_ref);
    memset(r, 0, sizeof *r);
}

/* Kinetic energy (eV) and temperature (K, 3N - 3 degrees of freedom as LAMMPS's default
 * temperature compute) of velocities v (Å/ps). */
static void kinetic(const double *v, const double *mass_of_atom, size_t n, double boltz,
                    double mvv2e, double *ke, double *temp) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += mass_of_atom[i] *
             (v[3 * i] * v[3 * i] + v[3 * i + 1] * v[3 * i + 1] + v[3 * i + 2] * v[3 * i + 2]);
    *ke = 0.5 * s * mvv2e;
    *temp = 2.0 * *ke / ((3.0 * (double)n - 3.0) * boltz);
}

/* Maxwell–Boltzmann velocities at temp (Å/ps): normal draws of variance kT/m, the centre of
 * mass at rest, scaled to exactly temp. */
static void draw_velocities(rng_t *r, const double *mass, size_t n, double temp, double boltz,
                            double mvv2e, double *v) {
    double p[3] = {0, 0, 0}, mtot = 0;
    for (size_t i = 0; i < n; i++) {
        double sd = sqrt(boltz * temp / (mass[i] * mvv2e));
        for (int d = 0; d < 3; d++) {
            v[3 * i + d] = sd * rng_normal(r);
            p[d] += mass[i] * v[3 * i + d];
        }
        mtot += mass[i];
    }
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < 3; d++)
            v[3 * i + d] -= p[d] / mtot;
    double ke, t;
    kinetic(v, mass, n, boltz, mvv2e, &ke, &t);
    double scale = t > 0 ? sqrt(temp / t) : 0.0;
    for (size_t i = 0; i < 3 * n; i++)
        v[i] *= scale;
}

static void metrics(md_result *r) {
    r->drift = r->fluct = NAN;
    size_t n = r->nrows;
    if (r->ensemble == MD_NVE && n >= 2) {
        double mt = 0, me = 0;
        for (size_t i = 0; i < n; i++) {
            mt += r->rows[i].time_ps;
            me += r->rows[i].etot / (double)r->natoms;
        }
        mt /= (double)n;
        me /= (double)n;
        double sxy = 0, sxx = 0, see = 0;
        for (size_t i = 0; i < n; i++) {
            double dt = r->rows[i].time_ps - mt, de = r->rows[i].etot / (double)r->natoms - me;
            sxy += dt * de;
            sxx += dt * dt;
            see += de * de;
        }
        r->drift = 1e3 * sxy / sxx;
        r->fluct = 1e3 * sqrt(see / (double)n);
    }
    r->rdf_err_all = NAN;
    double sum = 0;
    for (size_t k = 0; k < r->pairs.npairs; k++) {
        r->rdf_err[k] = NAN;
        if (!r->rdf_samples) continue;
        double s = 0;
        for (size_t b = 0; b < r->nbins; b++)
            s += fabs(r->g_md[k * r->nbins + b] - r->g_ref[k * r->nbins + b]);
        r->rdf_err[k] = s / (double)r->nbins;
        sum += r->rdf_err[k];
    }
    if (r->rdf_samples && r->pairs.npairs) r->rdf_err_all = sum / (double)r->pairs.npairs;
}

/* The LAMMPS side of a frame: cell, positions, types compressed to the elements present. */
typedef struct {
    md_cell cell;
    double *x;                   /* (natoms,3) LAMMPS frame */
    int *ltype;                  /* (natoms) 1-based LAMMPS type */
    int lmp_of[MODEL_MAX_TYPES]; /* model type -> 0-based LAMMPS type, -1 if absent */
    size_t nltypes;
    double lmass[MODEL_MAX_TYPES];
    double *amass; /* (natoms) */
    md_pairs lpairs;
} lmp_frame;

static void lmp_frame_free(lmp_frame *f) {
    free(f->x);
    free(f->ltype);
    free(f->amass);
}

static rk_status lmp_frame_make(const dataset_t *ds, const ds_system *sys, size_t k,
                                const md_pairs *pairs, lmp_frame *f) {
    memset(f, 0, sizeof *f);
    size_t n = sys->natoms;
    rk_status st = md_cell_from_box(sys->box + 9 * k, &f->cell);
    if (st) return err_prefix(st, "system %s frame %zu: ", sys->name, k);
    for (size_t t = 0; t < MODEL_MAX_TYPES; t++)
        f->lmp_of[t] = -1;
    for (size_t i = 0; i < n; i++) {
        int t = sys->type[i];
        if (f->lmp_of[t] < 0) {
            if ((st = md_mass(ds->type_map[t], &f->lmass[f->nltypes]))) return st;
            f->lmp_of[t] = (int)f->nltypes++;
        }
    }
    /* LAMMPS numbers the elements present in type order, so the rdf pairs keep their order */
    size_t next = 0;
    for (size_t t = 0; t < ds->ntypes; t++)
        if (f->lmp_of[t] >= 0) {
            double m;
            md_mass(ds->type_map[t], &m);
            f->lmp_of[t] = (int)next;
            f->lmass[next++] = m;
        }
    f->x = rk_calloc(3 * n, sizeof(double));
    f->ltype = rk_calloc(n, sizeof(int));
    f->amass = rk_calloc(n, sizeof(double));
    if (!f->x || !f->ltype || !f->amass) {
        lmp_frame_free(f);
        return RK_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        f->ltype[i] = f->lmp_of[sys->type[i]] + 1;
        f->amass[i] = f->lmass[f->ltype[i] - 1];
    }
    md_cell_to_lammps(&f->cell, sys->coord + 3 * n * k, f->x, n);
    f->lpairs.npairs = pairs->npairs;
    for (size_t p = 0; p < pairs->npairs; p++) {
        f->lpairs.a[p] = f->lmp_of[pairs->a[p]];
        f->lpairs.b[p] = f->lmp_of[pairs->b[p]];
    }
    return RK_OK;
}

static rk_status provider_init(provider *c, const model_t *m, const ds_system *sys,
                               const lmp_frame *lf, const md_params *p) {
    memset(c, 0, sizeof *c);
    c->m = m;
    c->p = p;
    nlist_init(&c->nl);
    c->frame.natoms = sys->natoms;
    c->frame.nframes = 1;
    c->frame.type = sys->type;
    snprintf(c->frame.name, sizeof c->frame.name, "%s", sys->name);
    c->frame.coord = rk_calloc(3 * sys->natoms, sizeof(double));
    c->frame.box = rk_calloc(9, sizeof(double));
    c->last_f = rk_calloc(3 * sys->natoms, sizeof(double));
    c->counts = rk_calloc(sys->natoms * m->ntypes, sizeof(size_t));
    if (!c->frame.coord || !c->frame.box || !c->last_f || !c->counts) return RK_ENOMEM;
    md_cell_box(&lf->cell, c->frame.box);
    return model_ws_create(m, sys->natoms, &c->ws);
}

static void provider_free(provider *c) {
    free(c->frame.coord);
    free(c->frame.box);
    free(c->last_f);
    free(c->counts);
    nlist_free(&c->nl);
    model_ws_free(c->ws);
}

static md_engine_setup engine_setup(const lmp_frame *lf, size_t natoms, const md_params *p,
                                    md_ensemble ens, double rmax, const char *log, provider *c) {
    md_engine_setup s = {
        .cell = lf->cell,
        .natoms = natoms,
        .type = lf->ltype,
        .x = lf->x,
        .ntypes = lf->nltypes,
        .mass = lf->lmass,
        .ensemble = ens,
        .temp_K = p ? p->temperature_K : 0.0,
        .dt_ps = p ? p->dt_fs * 1e-3 : 1e-3,
        .rdf_rmax = rmax,
        .rdf_bins = p ? (size_t)p->rdf_bins : 1,
        .pairs = &lf->lpairs,
        .log = log,
        .fn = provide,
        .ctx = c,
    };
    return s;
}

rk_status md_single_point(const model_t *m, const dataset_t *ds, size_t sys, size_t k,
                          double *energy, double *lmp_pe, double *force, size_t nbins, double *g) {
    const ds_system *S = &ds->sys[sys];
    md_params p;
    md_params_default(&p);
    p.min_distance_A = 0.0;
    if (nbins) p.rdf_bins = (long)nbins;
    md_pairs pairs;
    md_pairs_of(S, ds->ntypes, &pairs);
    lmp_frame lf;
    rk_status st = lmp_frame_make(ds, S, k, &pairs, &lf);
    if (st) return st;
    provider c;
    md_engine *e = NULL;
    double *f = rk_calloc(3 * S->natoms, sizeof(double));
    if (!f) st = RK_ENOMEM;
    if (!st) st = provider_init(&c, m, S, &lf, &p);
    md_engine_setup es = engine_setup(&lf, S->natoms, &p, MD_NVE, m->cfg.rcut, NULL, &c);
    int lost = 0;
    if (!st) st = md_engine_open(&es, &e);
    if (!st) st = md_engine_run(e, 0, &lost);
    if (!st && (c.unstable || lost))
        st = err_set(RK_ERUNTIME, "md: single point failed: %s", c.reason);
    if (!st) st = md_engine_forces(e, f);
    if (!st) {
        *energy = c.last_e;
        *lmp_pe = md_engine_thermo(e, "pe");
        md_cell_from_lammps(&lf.cell, f, force, S->natoms);
        if (g) st = md_engine_rdf(e, g);
    }
    md_engine_close(e);
    provider_free(&c);
    lmp_frame_free(&lf);
    free(f);
    return st;
}

rk_status md_run(const model_t *m, const dataset_t *ds, size_t sys, size_t k, const md_params *p,
                 md_ensemble ens, const char *stream, uint64_t seed, const char *log,
                 md_result *r) {
    memset(r, 0, sizeof *r);
    double t0 = clock_now_s();
    const ds_system *S = &ds->sys[sys];
    size_t n = S->natoms;
    r->ensemble = ens;
    snprintf(r->system, sizeof r->system, "%s", S->name);
    r->frame = k;
    r->natoms = n;
    r->stable = 1;
    md_pairs_of(S, ds->ntypes, &r->pairs);
    for (size_t q = 0; q < r->pairs.npairs; q++)
        snprintf(r->pair_names[q], sizeof r->pair_names[q], "%s-%s", ds->type_map[r->pairs.a[q]],
                 ds->type_map[r->pairs.b[q]]);
    r->nbins = (size_t)p->rdf_bins;
    r->rmax = p->rdf_rmax_A > 0 ? p->rdf_rmax_A : m->cfg.rcut;
    size_t ng = r->pairs.npairs * r->nbins;
    size_t cap = (size_t)(p->steps / p->thermo_every) + 2;
    r->rows = rk_calloc(cap, sizeof *r->rows);
    r->g_md = rk_calloc(ng ? ng : 1, sizeof(double));
    r->g_ref = rk_calloc(ng ? ng : 1, sizeof(double));
    double *g = rk_calloc(ng ? ng : 1, sizeof(double));
    double *v = rk_calloc(3 * n, sizeof(double));
    if (!r->rows || !r->g_md || !r->g_ref || !g || !v) {
        free(g);
        free(v);
        md_result_free(r);
        return RK_ENOMEM;
    }
    /* the reference: every DFT frame of the system */
    rk_status st = RK_OK;
    for (size_t f = 0; f < S->nframes && !st; f++)
        st = md_rdf_add(S, f, ds->ntypes, &r->pairs, r->rmax, r->nbins, r->g_ref);
    for (size_t i = 0; i < ng; i++)
        r->g_ref[i] /= (double)S->nframes;
    lmp_frame lf;
    memset(&lf, 0, sizeof lf);
    provider c;
    memset(&c, 0, sizeof c);
    md_engine *e = NULL;
    if (!st) st = lmp_frame_make(ds, S, k, &r->pairs, &lf);
    if (!st) st = provider_init(&c, m, S, &lf, p);
    md_engine_setup es = engine_setup(&lf, n, p, ens, r->rmax, log, &c);
    if (!st) st = md_engine_open(&es, &e);
    double boltz = 0, mvv2e = 0;
    if (!st) {
        md_engine_units(e, &boltz, &mvv2e);
        rng_t rng;
        rng_stream(&rng, stream, seed, RNG_VELOCITY);
        draw_velocities(&rng, lf.amass, n, p->temperature_K, boltz, mvv2e, v);
        st = md_engine_set_velocities(e, v);
    }
    double dt_ps = p->dt_fs * 1e-3;
    long done = 0;
    int first = 1;
    while (!st) {
        int lost = 0;
        long chunk = first ? 0 : p->thermo_every;
        if (!first && done + chunk > p->steps) chunk = p->steps - done;
        if ((st = md_engine_run(e, chunk, &lost))) break;
        long step = md_engine_step(e);
        if (c.unstable || lost) {
            r->stable = 0;
            r->stable_ps = (double)(c.unstable ? c.bad_step : step) * dt_ps;
            snprintf(r->reason, sizeof r->reason, "%s", c.unstable ? c.reason : "atoms lost");
            r->over_sel = c.unstable && c.over_sel;
            r->steps_done = c.unstable ? c.bad_step : step;
            break;
        }
        RK_ASSERT(c.have_last && c.last_step == step);
        done = step;
        md_row *row = &r->rows[r->nrows++];
        RK_ASSERT(r->nrows <= cap);
        row->step = step;
        row->time_ps = (double)step * dt_ps;
        row->pe = c.last_e;
        row->dmin = c.last_dmin;
        if ((st = md_engine_velocities(e, v))) break;
        kinetic(v, lf.amass, n, boltz, mvv2e, &row->ke, &row->temp);
        row->etot = row->pe + row->ke;
        double lo = p->temp_low * p->temperature_K, hi = p->temp_high * p->temperature_K;
        if (!isfinite(row->etot) || !(row->temp >= lo && row->temp <= hi)) {
            r->stable = 0;
            r->stable_ps = row->time_ps;
            snprintf(r->reason, sizeof r->reason, "temperature %.4g K outside [%.4g, %.4g] K",
                     row->temp, lo, hi);
            r->steps_done = step;
            r->nrows--; /* the rows are the stable part */
            break;
        }
        if (!first) {
            if ((st = md_engine_rdf(e, g))) break;
            for (size_t i = 0; i < ng; i++)
                r->g_md[i] += g[i];
            r->rdf_samples++;
        }
        first = 0;
        r->steps_done = done;
        if (done >= p->steps) break;
    }
    if (!st && r->stable) r->stable_ps = (double)p->steps * dt_ps;
    if (r->rdf_samples)
        for (size_t i = 0; i < ng; i++)
            r->g_md[i] /= (double)r->rdf_samples;
    md_engine_close(e);
    provider_free(&c);
    lmp_frame_free(&lf);
    free(g);
    free(v);
    if (st) {
        md_result_free(r);
        return st;
    }
    metrics(r);
    r->wall_s = clock_now_s() - t0;
    return RK_OK;
}

/* ---- files ---- */

const char *md_status_name(const md_result *r) {
    return r->stable ? "stable" : r->over_sel ? "over_sel" : "unstable";
}

static void fmt_num(char *buf, size_t cap, double x) {
    if (isfinite(x))
        snprintf(buf, cap, "%.17g", x);
    else
        buf[0] = 0;
}

static void json_num(jsonw *o, const char *key, double v) {
    if (isfinite(v))
        jsonw_add_num(o, key, v);
    else
        jsonw_add_num(o, key, NAN); /* cJSON writes null */
}

rk_status md_write(const char *dir, const md_params *p, uint64_t seed, const md_result *r) {
    rk_status st = fs_mkdirs(dir);
    if (st) return st;
    char path[FS_PATH_MAX];
    fs_atomic w;
    snprintf(path, sizeof path, "%s/thermo.csv", dir);
    if ((st = fs_atomic_open(&w, path))) return st;
    csvio_write_row(w.f, schema_thermo_cols, SCHEMA_THERMO_NCOLS);
    for (size_t i = 0; i < r->nrows; i++) {
        const md_row *row = &r->rows[i];
        char f[SCHEMA_THERMO_NCOLS][40];
        const char *cells[SCHEMA_THERMO_NCOLS];
        snprintf(f[SCHEMA_THERMO_STEP], 40, "%ld", row->step);
        fmt_num(f[SCHEMA_THERMO_TIME_PS], 40, row->time_ps);
        fmt_num(f[SCHEMA_THERMO_PE], 40, row->pe);
        fmt_num(f[SCHEMA_THERMO_KE], 40, row->ke);
        fmt_num(f[SCHEMA_THERMO_ETOT], 40, row->etot);
        fmt_num(f[SCHEMA_THERMO_TEMP], 40, row->temp);
        fmt_num(f[SCHEMA_THERMO_MIN_DIST], 40, row->dmin);
        for (int c = 0; c < SCHEMA_THERMO_NCOLS; c++)
            cells[c] = f[c];
        csvio_write_row(w.f, cells, SCHEMA_THERMO_NCOLS);
    }
    if ((st = fs_atomic_commit(&w))) return st;
    snprintf(path, sizeof path, "%s/rdf.csv", dir);
    if ((st = fs_atomic_open(&w, path))) return st;
    csvio_write_row(w.f, schema_rdf_cols, SCHEMA_RDF_NCOLS);
    double dr = r->rmax / (double)r->nbins;
    for (size_t k = 0; k < r->pairs.npairs; k++)
        for (size_t b = 0; b < r->nbins; b++) {
            char f[SCHEMA_RDF_NCOLS][40];
            const char *cells[SCHEMA_RDF_NCOLS];
            snprintf(f[SCHEMA_RDF_PAIR], 40, "%s", r->pair_names[k]);
            fmt_num(f[SCHEMA_RDF_R], 40, dr * ((double)b + 0.5));
            fmt_num(f[SCHEMA_RDF_G_MD], 40, r->rdf_samples ? r->g_md[k * r->nbins + b] : NAN);
            fmt_num(f[SCHEMA_RDF_G_REF], 40, r->g_ref[k * r->nbins + b]);
            for (int c = 0; c < SCHEMA_RDF_NCOLS; c++)
                cells[c] = f[c];
            csvio_write_row(w.f, cells, SCHEMA_RDF_NCOLS);
        }
    if ((st = fs_atomic_commit(&w))) return st;
    jsonw *o = jsonw_new_object();
    jsonw_add_str(o, "status", md_status_name(r));
    jsonw_add_str(o, "reason", r->reason);
    jsonw_add_str(o, "ensemble", md_ensemble_names[r->ensemble]);
    jsonw_add_str(o, "system", r->system);
    jsonw_add_num(o, "frame", (double)r->frame);
    jsonw_add_num(o, "natoms", (double)r->natoms);
    jsonw_add_num(o, "seed", (double)seed);
    jsonw_add_num(o, "steps", (double)p->steps);
    jsonw_add_num(o, "steps_done", (double)r->steps_done);
    jsonw_add_num(o, "dt_fs", p->dt_fs);
    jsonw_add_num(o, "temperature_K", p->temperature_K);
    jsonw_add_num(o, "thermo_every", (double)p->thermo_every);
    jsonw_add_num(o, "min_distance_A", p->min_distance_A);
    jsonw_add_num(o, "temp_low", p->temp_low);
    jsonw_add_num(o, "temp_high", p->temp_high);
    jsonw_add_num(o, "run_ps", (double)p->steps * p->dt_fs * 1e-3);
    jsonw_add_num(o, "stable_ps", r->stable_ps);
    json_num(o, "drift_meV_per_atom_per_ps", r->drift);
    json_num(o, "fluctuation_meV_per_atom", r->fluct);
    json_num(o, "rdf_mae", r->rdf_err_all);
    jsonw *pe = jsonw_new_object();
    for (size_t k = 0; k < r->pairs.npairs; k++)
        json_num(pe, r->pair_names[k], r->rdf_err[k]);
    jsonw_add(o, "rdf_mae_pairs", pe);
    jsonw_add_num(o, "rdf_samples", (double)r->rdf_samples);
    jsonw_add_num(o, "rdf_rmax_A", r->rmax);
    jsonw_add_num(o, "rdf_bins", (double)r->nbins);
    jsonw_add_num(o, "wall_s", r->wall_s);
    char *text = jsonw_print(o);
    jsonw_free(o);
    snprintf(path, sizeof path, "%s/md.json", dir);
    st = fs_write_text_atomic(path, text);
    free(text);
    return st;
}
