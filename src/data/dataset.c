/* dataset: allocation, ordering and validation of labelled frames in memory (see dataset.h).
 *
 * Invariants after dataset_validate() succeeds: at least one system and one type; every system has
 * natoms > 0 and nframes > 0, type ids in [0, ntypes), unique names, finite energy, coordinates,
 * forces and cells, and every cell non-singular: |det(box)| = |a · (b × c)| > DS_DET_MIN.
 */
#include "dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A cell volume below 1e-6 Å^3 cannot hold an atom (real cells are > 1 Å^3); the threshold only
 * separates genuinely degenerate cells (a zero or repeated lattice vector) from real ones. */
#define DS_DET_MIN 1e-6
/* Two atoms closer than this (Å, nearest periodic image) are one atom listed twice: no physical
 * structure has them, and the descriptor of such a pair is undefined. */
#define DS_MIN_DISTANCE 1e-2
/* A label or coordinate beyond this magnitude is not a physical value (eV, eV/Å, Å); the squares
 * of larger ones overflow the RMSE sums to Inf/NaN. */
#define DS_VALUE_MAX 1e15

rk_status ds_system_alloc(ds_system *s, const char *name, size_t natoms, size_t nframes) {
    memset(s, 0, sizeof *s);
    size_t len = strlen(name);
    if (len == 0 || len >= DS_NAME_MAX)
        return err_set(RK_EINPUT, "system name '%.40s%s' must have 1 to %d characters", name,
                       len > 40 ? "..." : "", DS_NAME_MAX - 1);
    memcpy(s->name, name, len + 1);
    s->natoms = natoms;
    s->nframes = nframes;
    s->type = rk_calloc(natoms, sizeof *s->type);
    s->coord = rk_calloc(nframes * natoms * 3, sizeof *s->coord);
    s->box = rk_calloc(nframes * 9, sizeof *s->box);
    s->energy = rk_calloc(nframes, sizeof *s->energy);
    s->force = rk_calloc(nframes * natoms * 3, sizeof *s->force);
    if (!s->type || !s->coord || !s->box || !s->energy || !s->force) {
        ds_system_free(s);
        return RK_ENOMEM;
    }
    return RK_OK;
}

void ds_system_free(ds_system *s) {
    free(s->type);
    free(s->coord);
    free(s->box);
    free(s->energy);
    free(s->force);
    memset(s, 0, sizeof *s);
}

void dataset_free(dataset_t *ds) {
    for (size_t i = 0; i < ds->nsystems; i++)
        ds_system_free(&ds->sys[i]);
    free(ds->sys);
    free(ds->type_map);
    memset(ds, 0, sizeof *ds);
}

static int cmp_system_name(const void *a, const void *b) {
    return strcmp(((const ds_system *)a)->name, ((const ds_system *)b)->name);
}

void dataset_sort(dataset_t *ds) {
    if (ds->nsystems > 1) qsort(ds->sys, ds->nsystems, sizeof *ds->sys, cmp_system_name);
}

int dataset_type_of(const dataset_t *ds, const char *symbol) {
    for (size_t t = 0; t < ds->ntypes; t++)
        if (strcmp(ds->type_map[t], symbol) == 0) return (int)t;
    return -1;
}

size_t dataset_total_frames(const dataset_t *ds) {
    size_t n = 0;
    for (size_t i = 0; i < ds->nsystems; i++)
        n += ds->sys[i].nframes;
    return n;
}

static const char *nonfinite_name(double v) {
    return isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf");
}

/* det of the 3x3 row-major cell: a · (b × c). */
static double det3(const double *m) {
    return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
           m[2] * (m[3] * m[7] - m[4] * m[6]);
}

/* Per-atom (nframes, natoms, 3) array: first non-finite entry, reported with frame and atom. */
static rk_status check_atoms(const char *what, const ds_system *s, const double *x,
                             const char *label) {
    size_t n = s->nframes * s->natoms * 3;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) {
            size_t f = i / (s->natoms * 3), a = (i / 3) % s->natoms;
            return err_set(RK_EINPUT, "%s: system %s frame %zu atom %zu: %s is %s", what, s->name,
                           f, a, label, nonfinite_name(x[i]));
        }
    }
    return RK_OK;
}

/* Every value of an array within DS_VALUE_MAX in magnitude; where names the first one beyond. */
static rk_status check_magnitude(const char *what, const ds_system *s, const double *x, size_t n,
                                 size_t per_frame, const char *label) {
    for (size_t i = 0; i < n; i++) {
        if (fabs(x[i]) > DS_VALUE_MAX) {
            if (per_frame == 3 * s->natoms)
                return err_set(RK_EINPUT,
                               "%s: system %s frame %zu atom %zu: %s %g is beyond %g "
                               "in magnitude (not a physical value)",
                               what, s->name, i / per_frame, (i % per_frame) / 3, label, x[i],
                               DS_VALUE_MAX);
            return err_set(RK_EINPUT,
                           "%s: system %s frame %zu: %s %g is beyond %g in magnitude "
                           "(not a physical value)",
                           what, s->name, i / per_frame, label, x[i], DS_VALUE_MAX);
        }
    }
    return RK_OK;
}

/* No two atoms of a frame at the same place (nearest periodic image closer than DS_MIN_DISTANCE).
 * Fractional differences are wrapped to the nearest integer: exact for coincident images in any
 * cell, which is what this check is for. frac holds 3 * natoms doubles of scratch. */
static rk_status check_overlap(const char *what, const ds_system *s, size_t f, double *frac) {
    const double *b = s->box + 9 * f, *x = s->coord + 3 * s->natoms * f;
    double det = det3(b),
           inv[9] = {(b[4] * b[8] - b[5] * b[7]) / det, (b[2] * b[7] - b[1] * b[8]) / det,
                     (b[1] * b[5] - b[2] * b[4]) / det, (b[5] * b[6] - b[3] * b[8]) / det,
                     (b[0] * b[8] - b[2] * b[6]) / det, (b[2] * b[3] - b[0] * b[5]) / det,
                     (b[3] * b[7] - b[4] * b[6]) / det, (b[1] * b[6] - b[0] * b[7]) / det,
                     (b[0] * b[4] - b[1] * b[3]) / det};
    for (size_t a = 0; a < s->natoms; a++)
        for (size_t k = 0; k < 3; k++)
            frac[3 * a + k] =
                x[3 * a] * inv[k] + x[3 * a + 1] * inv[3 + k] + x[3 * a + 2] * inv[6 + k];
    for (size_t i = 1; i < s->natoms; i++) {
        for (size_t j = 0; j < i; j++) {
            double d[3], r2 = 0.0;
            for (size_t k = 0; k < 3; k++) {
                d[k] = frac[3 * i + k] - frac[3 * j + k];
                d[k] -= nearbyint(d[k]);
            }
            for (size_t k = 0; k < 3; k++) {
                double c = d[0] * b[k] + d[1] * b[3 + k] + d[2] * b[6 + k];
                r2 += c * c;
            }
            if (r2 < DS_MIN_DISTANCE * DS_MIN_DISTANCE)
                return err_set(RK_EINPUT,
                               "%s: system %s frame %zu: atoms %zu and %zu are %.3g A "
                               "apart (at the same position; closer than %g A)",
                               what, s->name, f, j, i, sqrt(r2), DS_MIN_DISTANCE);
        }
    }
    return RK_OK;
}

static rk_status check_system(const char *what, const dataset_t *ds, const ds_system *s) {
    if (s->natoms == 0) return err_set(RK_EINPUT, "%s: system %s has 0 atoms", what, s->name);
    if (s->nframes == 0) return err_set(RK_EINPUT, "%s: system %s has 0 frames", what, s->name);
    for (size_t a = 0; a < s->natoms; a++) {
        if (s->type[a] < 0 || (size_t)s->type[a] >= ds->ntypes)
            return err_set(RK_EINPUT, "%s: system %s atom %zu: type id %d outside [0, %zu)", what,
                           s->name, a, (int)s->type[a], ds->ntypes);
    }
    for (size_t f = 0; f < s->nframes; f++) {
        if (!isfinite(s->energy[f]))
            return err_set(RK_EINPUT, "%s: system %s frame %zu: energy is %s", what, s->name, f,
                           nonfinite_name(s->energy[f]));
        const double *box = s->box + 9 * f;
        for (size_t k = 0; k < 9; k++) {
            if (!isfinite(box[k]))
                return err_set(RK_EINPUT, "%s: system %s frame %zu: box[%zu][%zu] is %s", what,
                               s->name, f, k / 3, k % 3, nonfinite_name(box[k]));
        }
        double det = det3(box);
        if (fabs(det) <= DS_DET_MIN)
            return err_set(RK_EINPUT, "%s: system %s frame %zu: singular cell (det = %g)", what,
                           s->name, f, det);
    }
    rk_status st = check_atoms(what, s, s->coord, "coordinate");
    if (!st) st = check_atoms(what, s, s->force, "force");
    size_t n_atoms = 3 * s->natoms * s->nframes;
    if (!st) st = check_magnitude(what, s, s->energy, s->nframes, 1, "energy");
    if (!st) st = check_magnitude(what, s, s->box, 9 * s->nframes, 9, "box entry");
    if (!st) st = check_magnitude(what, s, s->coord, n_atoms, 3 * s->natoms, "coordinate");
    if (!st) st = check_magnitude(what, s, s->force, n_atoms, 3 * s->natoms, "force component");
    if (st) return st;
    double *frac = rk_malloc(3 * s->natoms * sizeof *frac);
    if (!frac) return RK_ENOMEM;
    for (size_t f = 0; f < s->nframes && !st; f++)
        st = check_overlap(what, s, f, frac);
    free(frac);
    return st;
}

rk_status dataset_validate(const dataset_t *ds, const char *what) {
    if (ds->nsystems == 0) return err_set(RK_EINPUT, "%s: no systems", what);
    if (ds->ntypes == 0) return err_set(RK_EINPUT, "%s: empty type map", what);
    for (size_t t = 0; t < ds->ntypes; t++) {
        if (ds->type_map[t][0] == '\0')
            return err_set(RK_EINPUT, "%s: type_map[%zu] is an empty string", what, t);
        for (size_t u = 0; u < t; u++)
            if (strcmp(ds->type_map[t], ds->type_map[u]) == 0)
                return err_set(RK_EINPUT, "%s: type_map lists '%s' twice (types %zu and %zu)", what,
                               ds->type_map[t], u, t);
    }
    for (size_t i = 0; i < ds->nsystems; i++) {
        for (size_t j = 0; j < i; j++)
            if (strcmp(ds->sys[i].name, ds->sys[j].name) == 0)
                return err_set(RK_EINPUT, "%s: duplicate system name '%s'", what, ds->sys[i].name);
        rk_status st = check_system(what, ds, &ds->sys[i]);
        if (st) return st;
    }
    return RK_OK;
}
