/* import_pwdata: PWMLFF/MatPL "pwdata" npy directories.
 *
 * A system directory holds image_type.npy (1, na) per-atom atomic numbers, energies.npy (n, 1)
 * in eV, forces.npy (n, 3na) physical forces F in eV/Å, position.npy (n, 3na) FRACTIONAL
 * coordinates and lattice.npy (n, 9) with the cell vectors a, b, c as rows. Cartesian positions
 * are r = frac · cell. atom_type.npy (the list of elements present) is only cross-checked;
 * ei.npy (per-atom energies, synthetic in the shipped set) is ignored. Given a parent folder,
 * every such directory below it is imported; system names are the relative paths with '/'
 * replaced by '.' (e.g. "init_000_50.train").
 */
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "import_internal.h"
#include "npy.h"

static int is_pwdata_dir(const char *dir) {
    char p[IMP_PATH_MAX], q[IMP_PATH_MAX];
    return !imp_join(p, sizeof p, dir, "image_type.npy") && fs_is_file(p) &&
           !imp_join(q, sizeof q, dir, "position.npy") && fs_is_file(q);
}

typedef struct {
    const import_opts *o;
    dataset_t *dst;
} visit_ctx;

typedef struct {
    npy_array image_type, energies, forces, position, lattice;
} pw_arrays;

static void pw_free(pw_arrays *a) {
    npy_free(&a->image_type);
    npy_free(&a->energies);
    npy_free(&a->forces);
    npy_free(&a->position);
    npy_free(&a->lattice);
}

static rk_status read_one(const char *dir, const char *file, npy_array *a, int want_integer,
                          char *path, size_t cap) {
    rk_status st = imp_join(path, cap, dir, file);
    if (st) return st;
    if ((st = npy_read(path, a))) return st;
    if (a->is_integer != want_integer)
        return err_set(RK_EINPUT, "%s: expected %s data", path,
                       want_integer ? "integer" : "floating-point");
    return RK_OK;
}

static rk_status check_rows(const char *path, const npy_array *a, size_t n, size_t per_frame,
                            const char *expect) {
    char shp[96];
    if (a->ndim == 0 || a->shape[0] != n || a->count != n * per_frame)
        return err_set(RK_EINPUT, "%s: shape %s does not match %s (nframes=%zu from energies.npy)",
                       path, npy_shape_str(a, shp, sizeof shp), expect, n);
    return RK_OK;
}

static rk_status import_dir(const char *dir, const char *name, void *vctx) {
    visit_ctx *c = vctx;
    pw_arrays a;
    memset(&a, 0, sizeof a);
    char pt[IMP_PATH_MAX], pe[IMP_PATH_MAX], pf[IMP_PATH_MAX], pp[IMP_PATH_MAX], pl[IMP_PATH_MAX];
    rk_status st = read_one(dir, "image_type.npy", &a.image_type, 1, pt, sizeof pt);
    if (!st) st = read_one(dir, "energies.npy", &a.energies, 0, pe, sizeof pe);
    if (!st) st = read_one(dir, "forces.npy", &a.forces, 0, pf, sizeof pf);
    if (!st) st = read_one(dir, "position.npy", &a.position, 0, pp, sizeof pp);
    if (!st) st = read_one(dir, "lattice.npy", &a.lattice, 0, pl, sizeof pl);
    if (st) {
        pw_free(&a);
        return st;
    }
    /* image_type is (1, na) or (na,): the atomic number of each atom */
    size_t na = a.image_type.count;
    size_t n = a.energies.ndim ? a.energies.shape[0] : 0;
    char expect[64];
    snprintf(expect, sizeof expect, "(nframes, %zu) for %zu atoms", 3 * na, na);
    if (na == 0) st = err_set(RK_EINPUT, "%s: no atoms: the system has 0 atoms", pt);
    if (!st) st = check_rows(pe, &a.energies, n, 1, "(nframes, 1)");
    if (!st) st = check_rows(pf, &a.forces, n, 3 * na, expect);
    if (!st) st = check_rows(pp, &a.position, n, 3 * na, expect);
    if (!st) st = check_rows(pl, &a.lattice, n, 9, "(nframes, 9)");
    int32_t *type = st ? NULL : rk_malloc(na * sizeof *type);
    if (!st && !type) st = RK_ENOMEM;
    for (size_t i = 0; !st && i < na; i++) {
        int64_t z = a.image_type.i64[i];
        const char *sym = (z >= 1 && z <= IMPORT_Z_MAX) ? import_element_symbol((int)z) : NULL;
        char ctx[IMP_PATH_MAX + 32];
        snprintf(ctx, sizeof ctx, "%s: atom %zu", pt, i);
        if (!sym)
            st = err_set(RK_EINPUT, "%s: atomic number %lld is not an element (valid 1..%d)", ctx,
                         (long long)z, IMPORT_Z_MAX);
        else
            st = imp_type_id(c->dst, c->o, sym, ctx, &type[i]);
    }
    ds_system s;
    if (!st) st = ds_system_alloc(&s, name, na, n);
    if (st) {
        free(type);
        pw_free(&a);
        return st;
    }
    memcpy(s.type, type, na * sizeof *type);
    free(type);
    for (size_t f = 0; f < n; f++) {
        const double *cell = a.lattice.f64 + 9 * f;
        memcpy(s.box + 9 * f, cell, 9 * sizeof *cell);
        s.energy[f] = a.energies.f64[f];
        imp_frac_to_cart(cell, a.position.f64 + 3 * na * f, s.coord + 3 * na * f, na);
    }
    memcpy(s.force, a.forces.f64, n * 3 * na * sizeof *s.force);
    pw_free(&a);
    return imp_add_system(c->dst, &s, dir);
}

static rk_status read_pwdata(const char *path, const import_opts *o, dataset_t *dst) {
    visit_ctx c = {o, dst};
    size_t found = 0;
    rk_status st = imp_walk(path, is_pwdata_dir, import_dir, &c, &found);
    if (st) return st;
    if (!found)
        return err_set(RK_EINPUT, "%s: no pwdata directory (image_type.npy + position.npy) found",
                       path);
    return RK_OK;
}

const import_type import_pwdata = {
    .name = "pwdata",
    .help = "PWMLFF npy dir(s) (image_type.npy, position.npy, ...)",
    .source = IMP_SOURCE_DIR,
    .is_system_dir = is_pwdata_dir,
    .read = read_pwdata,
};
